//! The SDF backend: any crypto card whose vendor library speaks GM/T 0018 (`SDF_*`), loaded by
//! path (the soft card `libxinlian_sdf_sim.so` in CI).
//!
//! ```text
//!  verify_batch(items)
//!     │ host first: B1, B2, B5 (r, s in [1, n-1], r + s != 0 mod n) give their exact Invalid;
//!     │ the key is already a point (prepare decoded it), e = SM3(Z ‖ M) already computed
//!     v
//!  session::SessionPool ── N sessions, one thread each ── SDF_ExternalVerify_ECC per item
//!     │ SDR_OK -> Valid; a code in invalid_codes -> Invalid(Mismatch);
//!     │ any other code, a hang past the watchdog, a panic -> AccelError (never a verdict)
//!     v
//!  verdicts in order
//!
//!  sm3_batch / merkle_level: SDF_HashInit, SDF_HashUpdate (pieces, never empty), SDF_HashFinal
//!  self_test: the Annex A signature valid (else: wrong `layout`?), the same with e changed
//!             invalid (a library that answers OK to it is refused: a stub), then the shared
//!             known answers
//! ```
//!
//! Owns: host-side checks, the structs' encoding per layout, sizing the session pool, the
//! self-test's refusals. Never: raw calls (`ffi`) or threads (`session`).
//!
//! Errors, in the kinds of [`AccelError::is_device_fault`]: a call hung past the watchdog is
//! `Timeout`; a dropped call, a reset card, any other code the standard defines that is not in
//! `invalid_codes`, or every session down is `DeviceLost`; a code the standard does not define
//! and an impossible answer are `Corrupt`; a failed self-test is `SelfTest`. Caller and set-up
//! errors, never device faults: a library path that is not there or not an SDF library, a bad
//! `[accel] sdf_libraries` entry, and (the signer) a wrong key index or password are `Config`.
//!
//! No message limit: SM3 streams through `SDF_HashUpdate` in pieces no larger than the card's
//! `BufferSize`, so a message of any length fits ([`Backend::max_message_bytes`] keeps its
//! unlimited default and nothing here is ever `MessageTooLarge`).
//!
//! What a card's "invalid" cannot say: B6's point at infinity. The host has ruled out every
//! other reason, so a card's invalid is `Invalid(Mismatch)`; a signature whose B6 sum is the
//! identity (it takes a crafted key and signature) is `Identity` on the CPU and `Mismatch` here.
//! Both reject it; the dispatcher re-checks every device `Invalid` on the CPU anyway.

pub mod ffi;
mod session;
pub mod settings;
pub mod signer;

use std::path::Path;

use xinlian_hw_sim::sdf_abi::{self, DeviceInfo};
use xinlian_kernels::merkle;
use xinlian_kernels::sm2::{self, Rejection};
use xinlian_kernels::sm3::Digest;

pub use ffi::{SdfDevice, REQUIRED_SYMBOLS};
use session::{Answer, PoolConfig, SessionPool, Task, VerifyCall};
pub use settings::SdfConfig;
pub use signer::SdfSigner;

use crate::backend::{AccelError, Backend, BackendInfo, BackendKind};
use crate::verdict::{PreparedVerify, Verdict};
use crate::{self_test, MessageBatch};

/// Largest `SDF_HashUpdate`: a card's buffer is finite (DEVICEINFO's `BufferSize` caps it when
/// smaller), and a call per 64 KiB costs nothing next to hashing 64 KiB.
const HASH_PIECE: usize = 64 << 10;
/// Smallest `BufferSize` taken as a real limit (below it the field is likely unset).
const MIN_BUFFER_SIZE: usize = 4 << 10;

/// DEVICEINFO, decoded: what `xinlian devices` prints for an SDF device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SdfDeviceInfo {
    /// Manufacturer.
    pub issuer: String,
    /// Device model.
    pub name: String,
    /// Serial number.
    pub serial: String,
    /// Device (firmware) version.
    pub device_version: u32,
    /// GM/T 0018 version.
    pub standard_version: u32,
    /// Asymmetric algorithm mask and largest modulus in bits.
    pub asym_alg_ability: [u32; 2],
    /// Symmetric algorithm mask.
    pub sym_alg_ability: u32,
    /// Hash algorithm mask.
    pub hash_alg_ability: u32,
    /// The device's buffer for one call, bytes.
    pub buffer_size: u32,
}

impl SdfDeviceInfo {
    fn from_raw(raw: &DeviceInfo) -> SdfDeviceInfo {
        SdfDeviceInfo {
            issuer: sdf_abi::field_text(&raw.issuer_name),
            name: sdf_abi::field_text(&raw.device_name),
            serial: sdf_abi::field_text(&raw.device_serial),
            device_version: raw.device_version,
            standard_version: raw.standard_version,
            asym_alg_ability: raw.asym_alg_ability,
            sym_alg_ability: raw.sym_alg_ability,
            hash_alg_ability: raw.hash_alg_ability,
            buffer_size: raw.buffer_size,
        }
    }

    /// The engine count a ` xN` suffix of the device name states (GM/T 0018 has no field for
    /// it; the soft card writes it). `None` without one.
    pub fn engines(&self) -> Option<usize> {
        let (_, n) = self.name.rsplit_once(" x")?;
        n.parse().ok().filter(|n| (1..=settings::MAX_SESSIONS).contains(n))
    }
}

/// SM2 verification and SM3 on a GM/T 0018 card.
pub struct SdfBackend {
    info: BackendInfo,
    config: SdfConfig,
    device_info: SdfDeviceInfo,
    pool: SessionPool,
}

impl SdfBackend {
    /// Load the library, open its device and sessions, and run the self-test: a library that
    /// fails it (a stub that says "valid" to anything, the wrong `layout`) is refused with why.
    pub fn open(config: &SdfConfig) -> Result<SdfBackend, AccelError> {
        let backend = SdfBackend::open_untested(config)?;
        backend.self_test()?;
        Ok(backend)
    }

    /// As [`SdfBackend::open`] without the self-test (for `xinlian devices`, which prints the
    /// DEVICEINFO of a library and then its self-test's verdict).
    pub fn open_untested(config: &SdfConfig) -> Result<SdfBackend, AccelError> {
        config.validate(0)?;
        let device = SdfDevice::open(&config.path)?;
        let pool_config = PoolConfig {
            layout: config.layout,
            invalid_codes: config.invalid_codes.clone(),
            watchdog: config.watchdog(),
            hash_piece: HASH_PIECE,
            key: None,
        };
        let pool = SessionPool::start(device, pool_config)?;
        let raw = match pool.run_one(Task::DeviceInfo)? {
            Answer::DeviceInfo(raw) => raw,
            _ => return Err(AccelError::Corrupt("SDF: DEVICEINFO asked, something else answered".to_string())),
        };
        let device_info = SdfDeviceInfo::from_raw(&raw);
        let buffer = usize::try_from(device_info.buffer_size).unwrap_or(usize::MAX);
        if buffer >= MIN_BUFFER_SIZE {
            pool.set_hash_piece(HASH_PIECE.min(buffer));
        }
        let sessions = match config.sessions {
            0 => device_info.engines().unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
            n => n,
        };
        pool.grow_to(sessions)?;
        let info = BackendInfo {
            name: "sdf".to_string(),
            kind: BackendKind::Sdf,
            device: format!(
                "SDF {} / {} (serial {}) via {}, {sessions} session{}, {}-byte fields",
                device_info.issuer,
                device_info.name,
                device_info.serial,
                config.path.display(),
                if sessions == 1 { "" } else { "s" },
                config.layout
            ),
            max_batch: usize::MAX,
            parallelism: sessions,
        };
        tracing::info!(backend = "sdf", device = %info.device, "SDF library opened");
        Ok(SdfBackend { info, config: config.clone(), device_info, pool })
    }

    /// What the device says it is.
    pub fn device_info(&self) -> &SdfDeviceInfo {
        &self.device_info
    }

    /// The configuration it was opened with.
    pub fn config(&self) -> &SdfConfig {
        &self.config
    }

    /// Sessions in the pool.
    pub fn sessions(&self) -> usize {
        self.pool.size()
    }

    /// The library file.
    pub fn path(&self) -> &Path {
        &self.config.path
    }

    fn sm3_of(&self, msgs: &MessageBatch) -> Result<Vec<Digest>, AccelError> {
        let digests = self.pool.sm3(msgs)?;
        if digests.len() != msgs.len() {
            return Err(AccelError::Corrupt(format!("SDF: {} digests for {} messages", digests.len(), msgs.len())));
        }
        Ok(digests)
    }

    /// The self-test's two SDF-specific refusals, before the shared known answers.
    fn refuse_liars(&self) -> Result<(), AccelError> {
        let lib = self.config.path.display();
        let (valid, tampered) = self_test::annex_a_items();
        let layout_hint = format!(
            "if the library's header declares 32-byte fields set layout = \"32\", if 64-byte ones \"64\" (now \"{}\")",
            self.config.layout
        );
        match self.verify_batch(std::slice::from_ref(&valid)) {
            Ok(v) if v == [Verdict::Valid] => {}
            Ok(v) => {
                return Err(AccelError::SelfTest(format!(
                    "SDF {lib}: the valid GB/T 32918.5 Annex A signature was judged {:?}; {layout_hint}",
                    v.first()
                )))
            }
            Err(e) => {
                return Err(AccelError::SelfTest(format!(
                    "SDF {lib}: the valid GB/T 32918.5 Annex A signature failed: {e}; {layout_hint}"
                )))
            }
        }
        if self.verify_batch(std::slice::from_ref(&tampered))? == [Verdict::Valid] {
            return Err(AccelError::SelfTest(format!(
                "SDF {lib}: refused: it answered SDR_OK to a known-bad signature (GB/T 32918.5 Annex A with e \
                 changed), as a stub library that says OK to every call does; it cannot be trusted to verify"
            )));
        }
        Ok(())
    }
}

/// Steps B1, B2 and B5 on the host: the exact reason, where the card could only say "invalid".
fn host_rejection(item: &PreparedVerify) -> Option<Rejection> {
    sm2::check_scalars(&item.r, &item.s).err()
}

impl Backend for SdfBackend {
    fn info(&self) -> &BackendInfo {
        &self.info
    }

    fn verify_batch(&self, items: &[PreparedVerify]) -> Result<Vec<Verdict>, AccelError> {
        let layout = self.config.layout;
        let mut verdicts: Vec<Option<Verdict>> =
            items.iter().map(|i| host_rejection(i).map(Verdict::Invalid)).collect();
        let calls: Vec<VerifyCall> = items
            .iter()
            .zip(&verdicts)
            .filter(|(_, v)| v.is_none())
            .map(|(item, _)| VerifyCall {
                key: layout.public_key(&item.key.x_bytes(), &item.key.y_bytes()),
                e: item.e,
                sig: layout.signature(&item.r, &item.s),
            })
            .collect();
        let expected = calls.len();
        let answers = self.pool.verify(calls)?;
        if answers.len() != expected {
            return Err(AccelError::Corrupt(format!("SDF: {} answers for {expected} verifications", answers.len())));
        }
        let mut answers = answers.into_iter();
        for slot in verdicts.iter_mut().filter(|v| v.is_none()) {
            *slot = answers.next().map(|ok| if ok { Verdict::Valid } else { Verdict::Invalid(Rejection::Mismatch) });
        }
        verdicts
            .into_iter()
            .map(|v| v.ok_or_else(|| AccelError::Corrupt("SDF: an item without a verdict".into())))
            .collect()
    }

    fn sm3_batch(&self, msgs: &MessageBatch) -> Result<Vec<Digest>, AccelError> {
        self.sm3_of(msgs)
    }

    fn merkle_level(&self, nodes: &[Digest]) -> Result<Vec<Digest>, AccelError> {
        // Each parent is SM3(0x01 ‖ left ‖ right) (kernels::merkle); an odd last node is carried.
        let pairs: MessageBatch = nodes
            .chunks_exact(2)
            .map(|pair| {
                let mut buf = [0u8; 65];
                buf[0] = merkle::NODE_PREFIX;
                buf[1..33].copy_from_slice(&pair[0]);
                buf[33..].copy_from_slice(&pair[1]);
                buf
            })
            .collect::<Vec<[u8; 65]>>()
            .iter()
            .map(|b| &b[..])
            .collect();
        let mut parents = self.sm3_of(&pairs)?;
        if let [.., last] = nodes {
            if nodes.len() % 2 == 1 {
                parents.push(*last);
            }
        }
        Ok(parents)
    }

    fn self_test(&self) -> Result<(), AccelError> {
        self.refuse_liars()?;
        self_test::run(self)
    }
}
