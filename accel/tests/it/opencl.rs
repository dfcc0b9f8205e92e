//! OpenCL-specific tests: discovery, device specs, the build cache, buffer reuse, timings, and
//! the curve's corner cases that random signatures never reach (sums that meet the identity,
//! the x1 = c + n branch of B7). The conformance suite runs everything else on the backend.
//!
//! Without an OpenCL device each of these tests prints `SKIPPED <test>: ...` (see
//! [`crate::skip`]) and passes, except under `CI`, where it fails (CI must run the OpenCL
//! paths, never skip them).

#![allow(clippy::unwrap_used, reason = "tests: a failed unwrap is a failed test")]

use std::sync::OnceLock;

use xinlian_accel::backends::cpu::verify_one;
use xinlian_accel::backends::opencl::{self, OpenClBackend};
use xinlian_accel::self_test::annex_a_items;
use xinlian_accel::{AccelError, Backend, MessageBatch, PreparedVerify, Verdict};
use xinlian_kernels::sm2::{AffinePoint, Rejection};
use xinlian_kernels::{merkle, sm3};

use crate::conformance::sub_be;

/// Which device the tests use (`--device SPEC` syntax); default: the first GPU, else the first
/// device.
const DEVICE_ENV: &str = "XINLIAN_OPENCL_DEVICE";

/// The shared OpenCL backend of this test binary, started once (the program build is the
/// slow part). `None` when there is no device: the calling test's skip is printed (a failure
/// under `CI`). A device that is there but does not start fails the test.
pub(crate) fn backend() -> Option<&'static OpenClBackend> {
    static BACKEND: OnceLock<Result<OpenClBackend, AccelError>> = OnceLock::new();
    match BACKEND.get_or_init(|| OpenClBackend::new(std::env::var(DEVICE_ENV).ok().as_deref())) {
        Ok(b) => Some(b),
        Err(e @ (AccelError::NoDevice(_) | AccelError::DeviceNotFound { .. })) => {
            crate::skip::missing_device(&format!("no OpenCL device is usable ({e})"));
            None
        }
        Err(e) => panic!("the OpenCL backend failed to start: {e}"),
    }
}

#[test]
fn self_test_passes_and_info_names_the_device() {
    let Some(b) = backend() else { return };
    b.self_test().unwrap();
    assert_eq!(b.info().name, "opencl");
    assert!(b.info().device.contains(&b.device().name));
}

#[test]
fn device_specs_pick_by_index_and_name_and_refuse_unknown_ones() {
    let Some(b) = backend() else { return };
    let all = opencl::devices().unwrap();
    let by_index = opencl::select(Some(&b.device().index.to_string())).unwrap();
    assert_eq!(by_index, b.device());
    let needle = b.device().name.to_uppercase();
    assert_eq!(opencl::select(Some(&needle)).unwrap().name, b.device().name);
    match opencl::select(Some("no such device anywhere")) {
        Err(AccelError::DeviceNotFound { available, .. }) => assert!(available.contains(&all[0].name)),
        other => panic!("{other:?}"),
    }
    assert!(matches!(opencl::select(Some(&all.len().to_string())), Err(AccelError::DeviceNotFound { .. })));
}

#[test]
fn list_devices_self_tests_every_device() {
    if backend().is_none() {
        return;
    }
    let reports = opencl::list_devices();
    assert!(!reports.is_empty());
    for r in &reports {
        assert!(r.to_string().ends_with(": self-test ok"), "{r}");
        assert!(r.info.compute_units >= 1);
        assert!(r.info.version.starts_with("OpenCL"), "{}", r.info.version);
        assert_eq!(r.self_test, Ok(()), "{}", r.info.label());
    }
}

/// Callers on several threads share one backend (one lock around the queues) and each gets
/// the CPU's answers for its own batch.
#[test]
fn concurrent_callers_get_their_own_answers() {
    let Some(b) = backend() else { return };
    let (valid, tampered) = annex_a_items();
    std::thread::scope(|scope| {
        for k in 0..4usize {
            let items: Vec<PreparedVerify> =
                (0..50 + k * 17).map(|i| if (i + k) % 3 == 0 { tampered.clone() } else { valid.clone() }).collect();
            scope.spawn(move || {
                let want: Vec<Verdict> = items.iter().map(verify_one).collect();
                for _ in 0..3 {
                    assert_eq!(b.verify_batch(&items).unwrap(), want);
                    let msgs: MessageBatch = (0..k * 40).map(|i| &[0x5Au8; 300][..i % 300]).collect();
                    let digests: Vec<_> = msgs.iter().map(sm3::digest).collect();
                    assert_eq!(b.sm3_batch(&msgs).unwrap(), digests);
                }
            });
        }
    });
}

#[test]
fn annex_a_valid_and_tampered() {
    let Some(b) = backend() else { return };
    let (valid, tampered) = annex_a_items();
    let v = b.verify_batch(&[valid, tampered]).unwrap();
    assert_eq!(v, vec![Verdict::Valid, Verdict::Invalid(Rejection::Mismatch)]);
}

#[test]
fn sm3_and_merkle_small_cases() {
    let Some(b) = backend() else { return };
    let mut batch = MessageBatch::new();
    for len in [0usize, 1, 55, 56, 63, 64, 65, 119, 120, 128, 1000] {
        batch.push(&vec![0x61u8; len]);
    }
    let got = b.sm3_batch(&batch).unwrap();
    let want: Vec<_> = batch.iter().map(sm3::digest).collect();
    assert_eq!(got, want);
    let leaves: Vec<_> = (0u8..7).map(|i| merkle::leaf_hash(&[i])).collect();
    assert_eq!(b.merkle_level(&leaves).unwrap(), merkle::parent_level(&leaves));
}

/// s*G + t*P is the identity when P = G and t = n - s: s + t = n, which B5 lets through only
/// when r + s != 0 mod n; B6 must answer Identity, as the CPU does.
#[test]
fn identity_sums_and_doublings_agree_with_the_cpu() {
    let Some(b) = backend() else { return };
    let g = AffinePoint::generator();
    let n = xinlian_kernels::sm2::curve::N_BYTES;
    let mut items = Vec::new();
    for s_low in [1u8, 2, 3, 200] {
        let mut s = [0u8; 32];
        s[31] = s_low;
        // t = (r + s) mod n: choose r = n - 2s, so t = n - s and s*G + t*G = n*G = O.
        let r = sub_be(&sub_be(&n, &s), &s);
        items.push(PreparedVerify { key: g, table: None, e: [7u8; 32], r, s });
        // r = 0 - s + s... : t = s so the sum is 2sG: the key-side and G-side additions meet
        // equal points (doubling inside the addition).
        let mut r2 = [0u8; 32];
        r2[31] = s_low;
        items.push(PreparedVerify { key: g, table: None, e: [9u8; 32], r: r2, s });
    }
    let want: Vec<Verdict> = items.iter().map(verify_one).collect();
    assert!(want.contains(&Verdict::Invalid(Rejection::Identity)), "{want:?}");
    assert_eq!(b.verify_batch(&items).unwrap(), want);
}

#[test]
fn buffers_are_kept_and_timings_are_reported() {
    if backend().is_none() {
        return;
    }
    // A backend of its own: other tests' batches would overwrite `last_timings`.
    let b = &OpenClBackend::new(std::env::var(DEVICE_ENV).ok().as_deref()).unwrap();
    if opencl::cache_dir().is_some_and(|d| d.is_dir()) {
        // The shared backend (started first, or in parallel and finished) filled the cache.
        eprintln!("second start-up: {:?}", b.startup());
    }
    let (valid, _) = annex_a_items();
    let items = vec![valid; 5000];
    let v = b.verify_batch(&items).unwrap();
    assert!(v.iter().all(Verdict::is_valid));
    let t = b.last_timings().unwrap();
    assert!(t.chunks >= 2, "{t:?}");
    assert!(t.kernel > std::time::Duration::ZERO, "{t:?}");
    let held = b.buffer_bytes();
    b.verify_batch(&items[..100]).unwrap();
    assert_eq!(b.buffer_bytes(), held, "a smaller batch reuses the buffers");
}

/// The shared backend as the conformance suite's `backends()` takes it (boxed, owned): a
/// thin handle, so that every conformance test runs on the one backend started above.
pub(crate) fn conformance_backend() -> Option<Box<dyn Backend>> {
    backend().map(|b| Box::new(Shared(b)) as Box<dyn Backend>)
}

struct Shared(&'static OpenClBackend);

impl Backend for Shared {
    fn info(&self) -> &xinlian_accel::BackendInfo {
        self.0.info()
    }
    fn verify_batch(&self, items: &[PreparedVerify]) -> Result<Vec<Verdict>, xinlian_accel::AccelError> {
        self.0.verify_batch(items)
    }
    fn sm3_batch(&self, msgs: &MessageBatch) -> Result<Vec<sm3::Digest>, xinlian_accel::AccelError> {
        self.0.sm3_batch(msgs)
    }
    fn max_message_bytes(&self) -> usize {
        self.0.max_message_bytes()
    }
    fn merkle_level(&self, nodes: &[sm3::Digest]) -> Result<Vec<sm3::Digest>, xinlian_accel::AccelError> {
        self.0.merkle_level(nodes)
    }
    fn self_test(&self) -> Result<(), xinlian_accel::AccelError> {
        self.0.self_test()
    }
}

/// B7's second branch: x1 in [n, p), where (e + x1) mod n = r only through x1 = c + n. A
/// random signature reaches it with probability about 2^-128, so the sum is built: pick R with
/// x(R) >= n, key P = R - 5G, s = 5, r = 1 - s (so t = 1 and s*G + t*P = R), e = r - (x1 - n).
#[test]
fn x1_above_n_takes_the_c_plus_n_branch_like_the_cpu() {
    use sm2::elliptic_curve::group::Group;
    use xinlian_kernels::sm2::curve::N_BYTES;
    use xinlian_kernels::sm2::scalar::Scalar;

    let Some(b) = backend() else { return };
    // The first x >= n with a point on the curve (x = n + k).
    let (r_point, x1) = (0u8..=255)
        .find_map(|k| {
            let mut kk = [0u8; 32];
            kk[31] = k;
            let x = crate::conformance::add_be(&N_BYTES, &kk);
            let mut sec1 = vec![0x02];
            sec1.extend_from_slice(&x);
            AffinePoint::from_sec1(&sec1).ok().map(|_| (sec1, x))
        })
        .expect("a point with x >= n among the first 256 candidates");
    let r_pub = sm2::PublicKey::from_sec1_bytes(&r_point).unwrap();
    let key_point = r_pub.to_projective() - sm2::ProjectivePoint::generator() * sm2::Scalar::from(5u64);
    let key_sec1 = sm2::PublicKey::from_affine(key_point.to_affine()).unwrap().to_sec1_bytes();
    let key = AffinePoint::from_sec1(&key_sec1).unwrap();
    let mut s = [0u8; 32];
    s[31] = 5;
    let s_scalar = Scalar::from_bytes(&s).unwrap();
    let r = Scalar::ONE.sub(&s_scalar);
    let x1_minus_n = Scalar::from_bytes(&sub_be(&x1, &N_BYTES)).unwrap();
    let e = r.sub(&x1_minus_n).to_bytes();
    let valid = PreparedVerify { key, table: None, e, r: r.to_bytes(), s };
    let mut wrong = valid.clone();
    wrong.e[31] ^= 1;
    let items = [valid, wrong];
    let want: Vec<Verdict> = items.iter().map(verify_one).collect();
    assert_eq!(want, vec![Verdict::Valid, Verdict::Invalid(Rejection::Mismatch)]);
    assert_eq!(b.verify_batch(&items).unwrap(), want);
}

/// Process CPU seconds (user + system) from /proc/self/stat; `None` off Linux.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Kernel variants compared by CPU time rather than wall time (the figure a shared machine
/// does not disturb much): `cargo test -p xinlian-accel --test it -- --ignored --nocapture cpu_time`.
#[test]
#[ignore = "a measurement, not a check"]
fn cpu_time_per_verification() {
    let Some(b) = backend() else { return };
    use rand::Rng;
    let (valid, _) = annex_a_items();
    let (mut rng, _) = crate::conformance::rng(77);
    // Distinct r, s (so t): work-items take different digits, as in real batches. All are
    // Mismatch, which costs the full B6.
    let items: Vec<PreparedVerify> = (0..4096)
        .map(|_| {
            let mut item = valid.clone();
            rng.fill(&mut item.r);
            rng.fill(&mut item.s);
            item.r[0] &= 0x7F;
            item.s[0] &= 0x7F;
            item
        })
        .collect();
    b.verify_batch(&items).unwrap();
    let (c0, w0) = (cpu_seconds().unwrap_or(0.0), std::time::Instant::now());
    for _ in 0..4 {
        b.verify_batch(&items).unwrap();
    }
    let cpu = cpu_seconds().unwrap_or(0.0) - c0;
    let wall = w0.elapsed().as_secs_f64();
    eprintln!(
        "opencl verify: {:.1} us CPU per verification, {:.0}/s wall, {}",
        cpu / 16384.0 * 1e6,
        16384.0 / wall,
        b.info().device
    );
}
