//! The SDF backend and signer against the soft card, `libxinlian_sdf_sim.so`, loaded by path
//! through the same `dlopen` a vendor's library takes. Each card here is a copy of the built
//! library in a folder of its own with its settings file beside it, so each is a separate card
//! (own device, own faults) in this one process. The library is found or built by
//! `xinlian_sdf_sim::built_library` (CARGO_TARGET_DIR-aware); a library that can be neither is
//! a failure, never a skip.
//!
//! What is checked:
//! - the soft card passes the self-test, reports its DEVICEINFO, and sizes its pool from it
//!   (` x10`: ten sessions) or from `sessions`; the conformance suite runs on it too
//!   (`conformance_backend`);
//! - no message limit: a message longer than the card's `BufferSize` is hashed in pieces;
//! - refusals at open: a stub that answers OK to everything (refused naming the known-bad
//!   signature), the wrong field layout either way (refused with the `layout` hint), a library
//!   that lacks the SDF symbols (each missing one named) or a path with no file (`Config`, not a
//!   device fault); the 32-byte layout, set on both sides, gives the CPU's verdicts;
//! - faults, each a device fault (`AccelError::is_device_fault`): `drop` and `reset` are
//!   `DeviceLost`, a code outside `invalid_codes` too, a code the standard does not define
//!   (`status`) is `Corrupt`, a hang past the watchdog is `Timeout`; each time the backend works
//!   again once the faults stop (sessions closed and reopened after their back-off; a hung
//!   session's worker replaced); `invalid_codes` is per library;
//! - through the dispatcher: a card with errors, hangs and flipped answers never changes a
//!   verdict and carries work; one that flips every answer is quarantined;
//! - the signer: its public key is the key store's, its signatures verify with the CPU backend
//!   and with `openssl pkeyutl`, a wrong password or index is a `Config` error, a corrupted
//!   signature is never returned, and it shares the device with the backend;
//! - `[accel] sdf_libraries`: parsed (hex codes), unknown keys and bad values refused naming the
//!   field, and opened by `AccelConfig::open_devices` (a stub refused, or left out with "auto").

#![allow(clippy::unwrap_used, reason = "tests: a failed unwrap is a failed test")]

use crate::dispatch::{by_name, run_and_compare};
use std::ffi::CString;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use xinlian_accel::backends::cpu::{verify_one, verify_run};
use xinlian_accel::backends::sdf::{SdfConfig, SdfSigner};
use xinlian_accel::{
    AccelConfig, AccelError, Backend, BackendInfo, Digest, DispatchConfig, Dispatcher, MessageBatch, PreparedVerify,
    SdfBackend, Verdict, VerifyRequest,
};
use xinlian_hw_sim::sdf_abi::FieldLayout;
use xinlian_kernels::sm3;
use xinlian_sdf_sim::{create_keystore, KeyInfo, NewKey};

use crate::conformance::{make_case, random_cases, rng, Keypair, Tamper};

/// A card of its own: the built library copied into a fresh folder, settings beside it.
pub(crate) struct SoftCard {
    dir: PathBuf,
    lib: PathBuf,
}

impl SoftCard {
    pub(crate) fn new(settings: &str) -> SoftCard {
        static N: AtomicUsize = AtomicUsize::new(0);
        let built = xinlian_sdf_sim::built_library().unwrap_or_else(|e| panic!("the soft card is needed: {e}"));
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("xinlian-sdf-it-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(xinlian_sdf_sim::CONFIG_FILE_NAME), settings).unwrap();
        let lib = dir.join(xinlian_sdf_sim::LIBRARY_FILE);
        std::fs::copy(&built, &lib).unwrap();
        SoftCard { dir, lib }
    }

    /// Its library, with every default.
    pub(crate) fn config(&self) -> SdfConfig {
        SdfConfig::new(&self.lib)
    }

    /// Its library with a short watchdog (for cards with faults).
    fn quick(&self) -> SdfConfig {
        SdfConfig { watchdog_ms: 300, ..self.config() }
    }

    /// Keys in `keys.toml` (the settings must name it; before the device opens).
    fn keys(&self, keys: &[NewKey<'_>]) -> Vec<KeyInfo> {
        create_keystore(&self.dir.join("keys.toml"), keys).unwrap()
    }

    /// Call one of the card's own exports (not SDF) on the loaded instance.
    fn control<T: Copy>(&self, name: &str) -> T {
        // SAFETY: the same file the backend loaded (the same instance); never unloaded.
        let lib = Box::leak(Box::new(unsafe { libloading::Library::new(&self.lib) }.unwrap()));
        // SAFETY: the caller names the export's C signature as T.
        *unsafe { lib.get::<T>(name.as_bytes()) }.unwrap()
    }

    fn set_faults(&self, spec: &str) {
        let f: unsafe extern "C" fn(*const std::ffi::c_char) -> i32 = self.control("XINLIAN_SDF_SIM_SetFaults");
        let spec = CString::new(spec).unwrap();
        // SAFETY: a NUL-terminated string.
        assert_eq!(unsafe { f(spec.as_ptr()) }, 0);
    }

    /// (work calls, faults fired).
    fn counters(&self) -> (u64, u64) {
        let f: unsafe extern "C" fn(*mut u64, *mut u64) -> i32 = self.control("XINLIAN_SDF_SIM_GetCounters");
        let (mut calls, mut faults) = (0, 0);
        // SAFETY: two u64 to write.
        assert_eq!(unsafe { f(&raw mut calls, &raw mut faults) }, 0);
        (calls, faults)
    }
}

impl Drop for SoftCard {
    fn drop(&mut self) {
        // The loaded library stays mapped; only the folder goes.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The conformance suite's SDF backend: one soft card for the whole process (pcie-2019, fast
/// pacing, no faults), shared like the OpenCL backend.
pub(crate) fn conformance_backend() -> Box<dyn Backend> {
    static SHARED: OnceLock<SdfBackend> = OnceLock::new();
    let backend = SHARED.get_or_init(|| {
        // The card's folder goes when `card` drops here: its device is open (settings read)
        // and stays open, and a static is never dropped to clean up after.
        let card = SoftCard::new("");
        SdfBackend::open(&card.config()).unwrap_or_else(|e| panic!("the soft card did not open: {e}"))
    });
    Box::new(Shared(backend))
}

struct Shared(&'static SdfBackend);

impl Backend for Shared {
    fn info(&self) -> &BackendInfo {
        self.0.info()
    }
    fn verify_batch(&self, items: &[PreparedVerify]) -> Result<Vec<Verdict>, AccelError> {
        self.0.verify_batch(items)
    }
    fn sm3_batch(&self, msgs: &MessageBatch) -> Result<Vec<Digest>, AccelError> {
        self.0.sm3_batch(msgs)
    }
    fn max_message_bytes(&self) -> usize {
        self.0.max_message_bytes()
    }
    fn merkle_level(&self, nodes: &[Digest]) -> Result<Vec<Digest>, AccelError> {
        self.0.merkle_level(nodes)
    }
    fn self_test(&self) -> Result<(), AccelError> {
        self.0.self_test()
    }
}

/// `n` mixed (valid and tampered) prepared items and the CPU's verdicts.
fn items(n: usize, salt: u64) -> (Vec<PreparedVerify>, Vec<Verdict>) {
    let (mut rng, _) = rng(salt);
    let prepared: Vec<PreparedVerify> =
        random_cases(&mut rng, n).iter().filter_map(|c| xinlian_accel::prepare(&c.request(), None).ok()).collect();
    let expected = verify_run(&prepared);
    (prepared, expected)
}

/// `n` valid signatures by 8 signers.
fn valid(n: usize, salt: u64) -> Vec<PreparedVerify> {
    let (mut rng, _) = rng(salt);
    let keys: Vec<Keypair> = (0..8).map(|_| Keypair::random(&mut rng)).collect();
    (0..n)
        .map(|i| {
            let case = make_case(&mut rng, &keys[i % 8], &keys[(i + 1) % 8], Tamper::None);
            xinlian_accel::prepare(&case.request(), None).unwrap()
        })
        .collect()
}

#[test]
fn the_soft_card_passes_its_self_test_and_sizes_its_pool_from_deviceinfo() {
    let card = SoftCard::new("serial = \"IT-0001\"\n");
    let b = SdfBackend::open(&card.config()).unwrap();
    let info = b.device_info();
    assert_eq!((info.name.as_str(), info.serial.as_str()), ("pcie-2019 x10", "IT-0001"));
    assert!(info.issuer.contains("xinlian") && info.buffer_size > 0, "{info:?}");
    assert_eq!((info.engines(), b.sessions()), (Some(10), 10), "DEVICEINFO's x10 sizes the pool");
    assert!(b.info().device.contains("10 sessions") && b.info().name == "sdf", "{}", b.info().device);
    let (prepared, expected) = items(300, 61);
    assert_eq!(b.verify_batch(&prepared).unwrap(), expected);
    drop(b);
    // Reopened (the device is closed and opened again) with an explicit pool size.
    let b = SdfBackend::open(&SdfConfig { sessions: 3, ..card.config() }).unwrap();
    assert_eq!(b.sessions(), 3);
    let msgs: MessageBatch = [b"abc".as_slice(), &[7u8; 200_000], b""].into_iter().collect();
    assert_eq!(b.sm3_batch(&msgs).unwrap(), msgs.iter().map(sm3::digest).collect::<Vec<_>>());
    // No message limit: SM3 streams in pieces of at most BufferSize (and 64 KiB), so a message
    // longer than the card's buffer is hashed in many pieces, never MessageTooLarge.
    assert_eq!(b.max_message_bytes(), usize::MAX);
    let long = vec![0x5a_u8; usize::try_from(b.device_info().buffer_size).unwrap().max(64 << 10) + 1];
    let msgs: MessageBatch = [long.as_slice()].into_iter().collect();
    assert_eq!(b.sm3_batch(&msgs).unwrap(), vec![sm3::digest(&long)]);
}

#[test]
fn a_library_that_says_ok_to_everything_is_refused_naming_the_known_bad_signature() {
    let card = SoftCard::new("stub = true\n");
    let err = SdfBackend::open(&card.config()).err().unwrap();
    assert!(matches!(&err, AccelError::SelfTest(m) if m.contains("known-bad") && m.contains("stub")), "{err}");
}

#[test]
fn the_wrong_field_layout_is_refused_with_the_layout_hint() {
    for (card_layout, driver_layout) in [("32", FieldLayout::Bytes64), ("64", FieldLayout::Bytes32)] {
        let card = SoftCard::new(&format!("layout = \"{card_layout}\"\n"));
        let err = SdfBackend::open(&SdfConfig { layout: driver_layout, ..card.quick() }).err().unwrap();
        assert!(matches!(&err, AccelError::SelfTest(m) if m.contains("layout = \"32\"")), "{card_layout}: {err}");
    }
    let card = SoftCard::new("layout = \"32\"\n");
    let b = SdfBackend::open(&SdfConfig { layout: FieldLayout::Bytes32, ..card.config() }).unwrap();
    let (prepared, expected) = items(200, 62);
    assert_eq!(b.verify_batch(&prepared).unwrap(), expected);
}

#[test]
fn a_library_without_the_sdf_symbols_is_refused_naming_them() {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let libc = maps.lines().filter_map(|l| l.find('/').map(|i| &l[i..])).find(|p| p.contains("libc.so")).unwrap();
    // The operator named the wrong file: a set-up error (`Config`), not a device fault.
    let err = SdfBackend::open(&SdfConfig::new(libc)).err().unwrap();
    assert!(
        matches!(&err, AccelError::Config(m) if m.contains("lacks SDF_OpenDevice") && m.contains("SDF_HashFinal")),
        "{err}"
    );
    assert!(!err.is_device_fault(), "{err}");
    let err = SdfBackend::open(&SdfConfig::new("/no/such/libsdf.so")).err().unwrap();
    assert!(matches!(&err, AccelError::Config(m) if m.contains("/no/such/libsdf.so")), "{err}");
    assert!(!err.is_device_fault(), "{err}");
}

/// A card with one fault kind always on: the first batch meets it; once the faults stop the
/// same backend works again within a few tries (a session reopens after its back-off).
fn fault_kind(settings: &str) -> AccelError {
    let card = SoftCard::new(settings);
    let b = SdfBackend::open_untested(&SdfConfig { sessions: 2, ..card.quick() }).unwrap();
    let (prepared, expected) = items(40, 63);
    let err = b.verify_batch(&prepared).err().unwrap_or_else(|| panic!("{settings}: a faulty answer was taken"));
    assert!(err.is_device_fault(), "{settings}: {err} must take the device out of service");
    std::thread::sleep(Duration::from_millis(120));
    let err2 = b.sm3_batch(&[b"abc".as_slice()].into_iter().collect()).err().unwrap();
    assert_eq!(std::mem::discriminant(&err), std::mem::discriminant(&err2), "{settings}: {err} / {err2}");
    card.set_faults("none");
    let deadline = Instant::now() + Duration::from_secs(10);
    while b.verify_batch(&prepared).ok().as_ref() != Some(&expected) {
        assert!(Instant::now() < deadline, "{settings}: the backend did not recover");
        std::thread::sleep(Duration::from_millis(50));
    }
    b.self_test().unwrap();
    assert!(card.counters().1 > 0, "{settings}: no fault fired");
    err
}

#[test]
fn a_dropped_call_is_device_lost() {
    let err = fault_kind("faults = \"drop=1\"\n");
    assert!(matches!(&err, AccelError::DeviceLost(m) if m.contains("SDR_COMMFAIL")), "{err}");
}

#[test]
fn a_reset_card_is_device_lost() {
    let err = fault_kind("faults = \"reset=1\"\n");
    assert!(
        matches!(&err, AccelError::DeviceLost(m) if m.contains("SDR_HARDFAIL") || m.contains("SDR_OPENSESSION")),
        "{err}"
    );
}

#[test]
fn a_code_the_standard_does_not_define_is_corrupt() {
    let err = fault_kind("faults = \"status=1\"\n");
    assert!(matches!(&err, AccelError::Corrupt(m) if m.contains("does not define")), "{err}");
}

#[test]
fn a_hung_call_is_a_timeout_and_its_session_is_replaced() {
    let err = fault_kind("faults = \"hang=1\"\nhang_ms = 1500\n");
    assert!(matches!(err, AccelError::Timeout { .. }), "{err}");
}

#[test]
fn a_flipped_answer_is_not_detectable_by_the_backend_but_fails_its_self_test() {
    let card = SoftCard::new("faults = \"corrupt=1\"\n");
    let b = SdfBackend::open_untested(&card.config()).unwrap();
    let (prepared, expected) = items(40, 64);
    let got = b.verify_batch(&prepared).unwrap();
    let host_judged = prepared.iter().filter(|p| xinlian_kernels::sm2::check_scalars(&p.r, &p.s).is_err()).count();
    let wrong = got.iter().zip(&expected).filter(|(a, b)| a != b).count();
    assert_eq!(wrong, prepared.len() - host_judged, "every card answer flipped, no host verdict");
    assert!(b.self_test().is_err());
}

#[test]
fn invalid_codes_are_per_library() {
    let card = SoftCard::new("");
    // A vendor whose only "bad signature" code is another one: SDR_VERIFYERR is then a fault.
    let b = SdfBackend::open_untested(&SdfConfig { invalid_codes: vec![0x0102_0014], ..card.quick() }).unwrap();
    let (prepared, _) = items(40, 65);
    let err = b.verify_batch(&prepared).err().unwrap();
    assert!(matches!(&err, AccelError::DeviceLost(m) if m.contains("SDR_VERIFYERR")), "{err}");
    assert!(err.is_device_fault(), "{err}");
    assert!(b.self_test().is_err());
}

fn dispatch_config(seed: u64) -> DispatchConfig {
    DispatchConfig {
        backoff_initial: Duration::from_millis(5),
        backoff_max: Duration::from_millis(50),
        seed: Some(seed),
        cpu_threads: 2,
        calibrate: false,
        ..DispatchConfig::default()
    }
}

#[test]
fn a_faulty_soft_card_never_changes_a_verdict_through_the_dispatcher() {
    // Faults are rolled per call, that is per item (the ring card rolls per descriptor): rates a
    // hundredth of the ring card's test leave most batches clean, so the card carries work.
    let card = SoftCard::new("hang_ms = 600\nseed = 5\n");
    let sdf: Arc<dyn Backend> = Arc::new(SdfBackend::open(&SdfConfig { sessions: 4, ..card.quick() }).unwrap());
    card.set_faults("corrupt=0.0005,drop=0.0003,hang=0.0001,status=0.0001");
    let d = Dispatcher::new(vec![Arc::clone(&sdf)], DispatchConfig { recheck_valid_rate: 1.0, ..dispatch_config(31) });
    let (prepared, _) = items(2_000, 66);
    run_and_compare(&d, &prepared, 200);
    let m = by_name(&d, "sdf");
    assert!(m.items > 0, "the card carried no work: {m:?}");
    // A hundred times the rates, so that faults surely fire: still the CPU's answers.
    let before = card.counters().1;
    card.set_faults("corrupt=0.05,drop=0.03,hang=0.01,status=0.01");
    let d = Dispatcher::new(vec![sdf], DispatchConfig { recheck_valid_rate: 1.0, ..dispatch_config(33) });
    run_and_compare(&d, &prepared[..1_000], 200);
    let m = by_name(&d, "sdf");
    assert!(card.counters().1 > before, "no fault fired: {:?}", card.counters());
    assert!(m.errors + m.quarantines > 0 && m.fallback_items > 0, "{m:?}");
    eprintln!("{m:?} {:?}", card.counters());
}

#[test]
fn a_soft_card_that_flips_every_answer_is_quarantined() {
    let card = SoftCard::new("");
    let sdf: Arc<dyn Backend> = Arc::new(SdfBackend::open(&card.config()).unwrap());
    card.set_faults("corrupt=1");
    let d = Dispatcher::new(vec![sdf], dispatch_config(32));
    let prepared = valid(1_000, 67);
    run_and_compare(&d, &prepared, 500);
    let m = by_name(&d, "sdf");
    assert!(m.quarantines >= 1 && m.canary_failures + m.recheck_failures >= 1, "{m:?}");
    assert_eq!(m.items, 0, "no answer of a lying card was taken: {m:?}");
}

const PASSWORD: &[u8] = b"card-pw-1";

fn signer_card(settings: &str) -> (SoftCard, KeyInfo) {
    let card = SoftCard::new(&format!("keystore = \"keys.toml\"\n{settings}"));
    let made = card.keys(&[NewKey { index: 1, password: PASSWORD, secret: None }]);
    (card, made[0])
}

#[test]
fn the_card_signs_with_its_key_and_openssl_and_the_cpu_verify_it() {
    let (card, made) = signer_card("");
    let signer = SdfSigner::open(&card.lib, 1, PASSWORD).unwrap();
    assert_eq!(signer.public_key(), made.public_key);
    let msg = b"block 42: the node key lives in the card";
    let sig = signer.sign(msg).unwrap();
    let req = VerifyRequest { pubkey: &made.public_key, id: b"1234567812345678", msg, sig: &sig };
    assert_eq!(verify_one(&xinlian_accel::prepare(&req, None).unwrap()), Verdict::Valid);
    assert!(
        xinlian_testkit::openssl::verifies(&card.dir, &made.public_key, msg, &sig),
        "openssl pkeyutl rejects the card's signature"
    );
    assert!(
        !xinlian_testkit::openssl::verifies(&card.dir, &made.public_key, b"block 43", &sig),
        "openssl accepts it for another message"
    );
}

#[test]
fn a_wrong_password_or_index_is_a_config_error() {
    let (card, _) = signer_card("");
    let err = SdfSigner::open(&card.lib, 1, b"wrong").err().unwrap();
    assert!(matches!(&err, AccelError::Config(m) if m.contains("SDR_PRKRERR")), "{err}");
    assert!(!err.is_device_fault(), "{err}");
    let err = SdfSigner::open(&card.lib, 2, PASSWORD).err().unwrap();
    assert!(matches!(&err, AccelError::Config(m) if m.contains("SDR_KEYNOTEXIST")), "{err}");
    assert!(!err.is_device_fault(), "{err}");
}

#[test]
fn a_corrupted_signature_is_never_returned() {
    let (card, _) = signer_card("");
    let signer = SdfSigner::open(&card.lib, 1, PASSWORD).unwrap();
    card.set_faults("corrupt=1");
    let err = signer.sign(b"m").err().unwrap();
    assert!(matches!(&err, AccelError::Corrupt(m) if m.contains("does not verify")), "{err}");
    assert!(err.is_device_fault(), "{err}");
    card.set_faults("none");
    assert!(signer.sign(b"m").is_ok());
}

#[test]
fn the_signer_and_the_backend_share_one_device() {
    // The soft card allows one open device per process, as some vendors' libraries do.
    let (card, made) = signer_card("");
    let backend = SdfBackend::open(&card.config()).unwrap();
    let signer = SdfSigner::open(&card.lib, 1, PASSWORD).unwrap();
    let sig = signer.sign(b"shared").unwrap();
    let req = VerifyRequest { pubkey: &made.public_key, id: b"1234567812345678", msg: b"shared", sig: &sig };
    let item = xinlian_accel::prepare(&req, None).unwrap();
    assert_eq!(backend.verify_batch(&[item]).unwrap(), vec![Verdict::Valid]);
}

#[test]
fn sdf_libraries_parse_and_bad_entries_are_refused_naming_the_field() {
    let c = AccelConfig::from_toml_str(
        "sdf_libraries = [{ path = \"/opt/a.so\", invalid_codes = [0x0100000E, 0x01020014], sessions = 3, layout = \"32\" }]",
    )
    .unwrap();
    let lib = &c.sdf_libraries[0];
    assert_eq!(
        (lib.invalid_codes.as_slice(), lib.sessions, lib.layout),
        (&[0x0100_000E, 0x0102_0014][..], 3, FieldLayout::Bytes32)
    );
    assert_eq!(
        AccelConfig::from_toml_str("sdf_libraries = [{ path = \"/a.so\" }]").unwrap().sdf_libraries[0],
        SdfConfig::new("/a.so")
    );
    for (text, word) in [
        ("sdf_libraries = [{ path = \"/a.so\", turbo = 1 }]", "turbo"),
        ("sdf_libraries = [{ path = \"/a.so\", sessions = 5000 }]", "sdf_libraries[0].sessions"),
        ("sdf_libraries = [{ path = \"/a.so\", invalid_codes = [] }]", "sdf_libraries[0].invalid_codes"),
        ("sdf_libraries = [{ path = \"/a.so\", invalid_codes = [0] }]", "SDR_OK"),
        ("sdf_libraries = [{ path = \"/a.so\", layout = \"48\" }]", "48"),
        ("sdf_libraries = [{ path = \"/a.so\" }, { path = \"/a.so\" }]", "sdf_libraries[1].path"),
        ("backends = [\"cpu\", \"sdf\"]", "sdf_libraries is empty"),
    ] {
        let err = AccelConfig::from_toml_str(text).err().unwrap().to_string();
        assert!(err.contains(word), "{text}: {err}");
    }
}

#[test]
fn accel_config_opens_sdf_libraries_and_refuses_or_leaves_out_a_stub() {
    let good = SoftCard::new("");
    let stub = SoftCard::new("stub = true\n");
    let with = |backends: &str, libs: &[&SoftCard]| {
        let libs: Vec<String> = libs.iter().map(|c| format!("{{ path = \"{}\" }}", c.lib.display())).collect();
        AccelConfig::from_toml_str(&format!("backends = {backends}\nsdf_libraries = [{}]", libs.join(", "))).unwrap()
    };
    let devices = with("[\"cpu\", \"sdf\"]", &[&good]).open_devices().unwrap();
    assert_eq!(devices.backends.iter().map(|b| b.info().name.clone()).collect::<Vec<_>>(), ["sdf"]);
    let err = with("[\"cpu\", \"sdf\"]", &[&stub]).open_devices().err().unwrap().to_string();
    assert!(err.contains("known-bad") && err.contains("required"), "{err}");
    let devices = with("\"auto\"", &[&stub]).open_devices().unwrap();
    assert!(devices.backends.iter().all(|b| b.info().name != "sdf"));
    assert!(devices.warnings.iter().any(|w| w.contains("known-bad")), "{:?}", devices.warnings);
}

/// Throughput through the SDF path with 1, 2, 4 and 8 sessions, and the per-call overhead of
/// the dlopen path against the card ring path on the same engine model (a measurement, not a
/// check; 2 shared cores make the figures rough):
/// `cargo test --release -p xinlian-accel --test it sdf::measure_sdf_sessions_and_overhead -- --ignored --nocapture`
#[test]
#[ignore = "a measurement, not a check: run it by name with --ignored --nocapture"]
fn measure_sdf_sessions_and_overhead() {
    let (prepared, expected) = items(256, 68);
    for pacing in ["realtime", "fast"] {
        let card = SoftCard::new(&format!("profile = \"pcie-2019\"\npacing = \"{pacing}\"\n"));
        for sessions in [1usize, 2, 4, 8] {
            let b = SdfBackend::open(&SdfConfig { sessions, ..card.config() }).unwrap();
            let n = if pacing == "realtime" { 1_600 } else { 4_000 };
            let many: Vec<PreparedVerify> = prepared.iter().cycle().take(n).cloned().collect();
            let want: Vec<Verdict> = expected.iter().cycle().take(n).cloned().collect();
            let t = Instant::now();
            assert_eq!(b.verify_batch(&many).unwrap(), want);
            let rate = n as f64 / t.elapsed().as_secs_f64();
            eprintln!("sdf pcie-2019 {pacing}: {sessions} session(s): {rate:.0} verifications/s");
        }
    }
    // Per call: a 1-message SM3 batch (empty message: the hash costs nothing) through each path.
    let one: MessageBatch = [b"".as_slice()].into_iter().collect();
    let card = SoftCard::new("profile = \"fpga-1m\"\n");
    let sdf = SdfBackend::open(&SdfConfig { sessions: 1, ..card.config() }).unwrap();
    let ring = crate::card::simulated("fpga-1m", xinlian_hw_sim::Pacing::Fast, xinlian_hw_sim::FaultConfig::none(), 0);
    let per_call = |b: &dyn Backend| {
        for _ in 0..200 {
            b.sm3_batch(&one).unwrap();
        }
        let t = Instant::now();
        for _ in 0..5_000 {
            b.sm3_batch(&one).unwrap();
        }
        t.elapsed() / 5_000
    };
    let (sdf_call, ring_call) = (per_call(&sdf), per_call(&ring));
    eprintln!("1-message SM3 batch round trip: sdf (dlopen, 1 session) {sdf_call:?}, card ring {ring_call:?}");
    // The bare FFI: HashInit + HashFinal of an empty message on this thread's own session.
    let device = xinlian_accel::backends::sdf::SdfDevice::open(&card.lib).unwrap();
    let session = xinlian_accel::backends::sdf::ffi::Session::open(&device, FieldLayout::Bytes64).unwrap();
    let t = Instant::now();
    for _ in 0..20_000 {
        std::hint::black_box(session.sm3(b"", 1).unwrap());
    }
    eprintln!("SDF_HashInit + SDF_HashFinal through the function table: {:?} per pair", t.elapsed() / 20_000);
    // Per verification: the SDF path (1 session, fast pacing) against RustCrypto on this thread.
    use sm2::dsa::signature::hazmat::PrehashVerifier as _;
    let many: Vec<PreparedVerify> = prepared.iter().cycle().take(2_000).cloned().collect();
    let t = Instant::now();
    assert_eq!(sdf.verify_batch(&many).unwrap().len(), many.len());
    let through_sdf = t.elapsed() / 2_000;
    let t = Instant::now();
    for item in &many {
        let key = sm2::dsa::VerifyingKey::from_sec1_bytes("1234567812345678", &item.key.to_uncompressed()).unwrap();
        if let Ok(sig) = sm2::dsa::Signature::from_scalars(item.r, item.s) {
            std::hint::black_box(key.verify_prehash(&item.e, &sig).is_ok());
        }
    }
    let direct = t.elapsed() / 2_000;
    eprintln!("one verification: sdf path {through_sdf:?}, RustCrypto on this thread {direct:?}");
}
