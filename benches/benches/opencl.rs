//! The OpenCL backend against the cpu backend, same work, same run: SM2 verification and SM3
//! throughput for batch sizes 1 .. 65,536, with the upload / kernel / download split of the
//! OpenCL device printed after each size, and cold / warm start-up.
//!
//! `cargo bench -p xinlian-benches --bench opencl`                  (sizes 1, 256, 4,096)
//! `XINLIAN_BENCH_FULL=1 cargo bench -p xinlian-benches --bench opencl`   (1, 16, 256, 1,024,
//! 4,096, 16,384, 65,536; minutes on a CPU OpenCL device)
//! `--device SPEC` is `XINLIAN_OPENCL_DEVICE` here (index or name substring; default: first GPU,
//! else first device).
//!
//! Groups: `opencl_verify` (elements: signatures, cold keys), `opencl_sm3` (bytes: 128-byte
//! messages, transaction-sized). Each has `opencl/N` and `cpu/N` (cpu backend on every core).
//! Without an OpenCL device the bench says so and measures nothing.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_main, BenchmarkId, Criterion, Throughput};
use sm2::dsa::signature::Signer;
use xinlian_accel::backends::opencl::{OpenClBackend, Timings};
use xinlian_accel::{Backend, CpuBackend, MessageBatch, PreparedVerify};
use xinlian_kernels::sm2::{self as xsm2, AffinePoint};

const ID: &str = "1234567812345678";
const POOL: usize = 256;
const SHORT_SIZES: [usize; 3] = [1, 256, 4096];
const FULL_SIZES: [usize; 7] = [1, 16, 256, 1024, 4096, 16384, 65536];
const SM3_MSG_LEN: usize = 128;

fn sizes() -> &'static [usize] {
    if std::env::var_os("XINLIAN_BENCH_FULL").is_some_and(|v| v != "0") {
        &FULL_SIZES
    } else {
        &SHORT_SIZES
    }
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
}

fn to_u64(n: usize) -> u64 {
    u64::try_from(n).expect("sizes fit u64")
}

/// POOL signed items (RustCrypto signs), every key distinct, prepared as a backend takes them.
fn pool() -> Vec<PreparedVerify> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    (0..POOL)
        .map(|i| {
            let sk: [u8; 32] = loop {
                let mut b = [0u8; 32];
                rng.fill(&mut b);
                b[0] &= 0x7F;
                if b != [0; 32] {
                    break b;
                }
            };
            let signing = sm2::dsa::SigningKey::from_slice(ID, &sk).expect("key below n");
            let msg = format!("transaction {i}").into_bytes();
            let sig: sm2::dsa::Signature = signing.sign(&msg);
            let key = AffinePoint::from_sec1(&signing.verifying_key().to_sec1_bytes()).expect("valid key");
            let z = xsm2::z_value(xsm2::DEFAULT_ID, &key).expect("id fits");
            let e = xsm2::message_digest(&z, &msg);
            PreparedVerify { key, table: None, e, r: sig.r_bytes().into(), s: sig.s_bytes().into() }
        })
        .collect()
}

fn split(t: Option<Timings>) -> String {
    match t {
        Some(t) => format!(
            "upload {:.3} ms, kernel {:.3} ms, download {:.3} ms, wall {:.3} ms, {} chunk(s)",
            t.upload.as_secs_f64() * 1e3,
            t.kernel.as_secs_f64() * 1e3,
            t.download.as_secs_f64() * 1e3,
            t.wall.as_secs_f64() * 1e3,
            t.chunks
        ),
        None => "no timings".to_string(),
    }
}

/// Start twice on an empty cache folder: the first start compiles, the second loads the binary.
fn startup(spec: Option<&str>) -> Option<OpenClBackend> {
    let dir = std::env::temp_dir().join(format!("xinlian-bench-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // Single-threaded here: nothing else reads the environment yet.
    std::env::set_var(xinlian_accel::backends::opencl::CACHE_DIR_ENV, &dir);
    let cold = match OpenClBackend::new(spec) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("opencl bench: no OpenCL backend ({e}); nothing measured");
            return None;
        }
    };
    let warm = OpenClBackend::new(spec).expect("a second start on the same device");
    eprintln!("opencl device: {}", warm.info().device);
    eprintln!("start-up, empty cache: {:?}", cold.startup());
    eprintln!("start-up, warm cache:  {:?}", warm.startup());
    let _ = std::fs::remove_dir_all(&dir);
    Some(warm)
}

fn verify(c: &mut Criterion, opencl: &OpenClBackend, cpu: &CpuBackend) {
    let pool = pool();
    let mut group = c.benchmark_group("opencl_verify");
    for &n in sizes() {
        let items: Vec<PreparedVerify> = pool.iter().cycle().take(n).cloned().collect();
        let want = cpu.verify_batch(&items).expect("cpu");
        assert!(want.iter().all(|v| v.is_valid()));
        assert_eq!(opencl.verify_batch(&items).expect("opencl"), want, "opencl verdicts differ at {n}");
        group.throughput(Throughput::Elements(to_u64(n)));
        group.bench_with_input(BenchmarkId::new("opencl", n), &items, |b, items| {
            b.iter(|| opencl.verify_batch(black_box(items)).expect("opencl"))
        });
        eprintln!("opencl_verify/{n}: {}", split(opencl.last_timings()));
        group.bench_with_input(BenchmarkId::new("cpu", n), &items, |b, items| {
            b.iter(|| cpu.verify_batch(black_box(items)).expect("cpu"))
        });
    }
    group.finish();
}

fn sm3(c: &mut Criterion, opencl: &OpenClBackend, cpu: &CpuBackend) {
    let mut group = c.benchmark_group("opencl_sm3");
    for &n in sizes() {
        let mut batch = MessageBatch::new();
        for i in 0..n {
            let msg: Vec<u8> =
                (0..SM3_MSG_LEN).map(|k| (i.wrapping_mul(31) ^ k.wrapping_mul(7)).to_le_bytes()[0]).collect();
            batch.push(&msg);
        }
        assert_eq!(opencl.sm3_batch(&batch).expect("opencl"), cpu.sm3_batch(&batch).expect("cpu"));
        group.throughput(Throughput::Bytes(to_u64(batch.total_bytes())));
        group.bench_with_input(BenchmarkId::new("opencl", n), &batch, |b, batch| {
            b.iter(|| opencl.sm3_batch(black_box(batch)).expect("opencl"))
        });
        eprintln!("opencl_sm3/{n}: {}", split(opencl.last_timings()));
        group.bench_with_input(BenchmarkId::new("cpu", n), &batch, |b, batch| {
            b.iter(|| cpu.sm3_batch(black_box(batch)).expect("cpu"))
        });
    }
    group.finish();
}

fn benches() {
    let spec = std::env::var("XINLIAN_OPENCL_DEVICE").ok();
    let Some(opencl) = startup(spec.as_deref()) else { return };
    let cpu = CpuBackend::new(0);
    let mut c = config().configure_from_args();
    verify(&mut c, &opencl, &cpu);
    sm3(&mut c, &opencl, &cpu);
}

criterion_main!(benches);
