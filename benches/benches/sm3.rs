//! SM3: xinlian against RustCrypto `sm3`, same inputs, same run, so every ratio comes from one
//! process.
//!
//! `cargo bench -p xinlian-benches --bench sm3`
//!
//! Groups:
//! - `sm3_single`: one message of 64 B, 256 B, 1 KiB and 16 KiB; xinlian's scalar
//!   `sm3::digest` against RustCrypto's `Sm3::digest` (bytes per second).
//! - `sm3_batch`: 4,096 messages of 128 B (transaction-sized); xinlian's `digest_batch_with`
//!   on every SIMD path this CPU has (`scalar`, `avx2`, `avx512`), against RustCrypto one
//!   message at a time.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_main, BenchmarkId, Criterion, Throughput};
use sm3::{Digest as _, Sm3};
use xinlian_kernels::sm3 as xsm3;

const SINGLE_SIZES: [usize; 4] = [64, 256, 1024, 16 * 1024];
const BATCH_MSGS: usize = 4096;
const BATCH_MSG_LEN: usize = 128;

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
}

/// Deterministic filler bytes (xorshift), so both sides hash the same data every run.
fn filler(len: usize, mut state: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}

fn to_u64(n: usize) -> u64 {
    u64::try_from(n).expect("sizes fit u64")
}

fn sm3_single(c: &mut Criterion) {
    let mut group = c.benchmark_group("sm3_single");
    for size in SINGLE_SIZES {
        let msg = filler(size, 0x5EED ^ to_u64(size));
        // Both sides give the same digest, or the comparison means nothing.
        assert_eq!(xsm3::digest(&msg)[..], Sm3::digest(&msg)[..], "{size} bytes");
        group.throughput(Throughput::Bytes(to_u64(size)));
        group.bench_with_input(BenchmarkId::new("xinlian", size), &msg, |b, m| b.iter(|| xsm3::digest(black_box(m))));
        group.bench_with_input(BenchmarkId::new("rustcrypto", size), &msg, |b, m| b.iter(|| Sm3::digest(black_box(m))));
    }
    group.finish();
}

fn sm3_batch(c: &mut Criterion) {
    let data = filler(BATCH_MSGS * BATCH_MSG_LEN, 0xB47C);
    let msgs: Vec<&[u8]> = data.chunks_exact(BATCH_MSG_LEN).collect();
    let want: Vec<xsm3::Digest> = msgs.iter().map(|m| xsm3::digest(m)).collect();
    let mut group = c.benchmark_group("sm3_batch");
    group.throughput(Throughput::Bytes(to_u64(data.len())));
    let label = format!("{BATCH_MSGS}x{BATCH_MSG_LEN}B");
    for path in xsm3::available_paths() {
        assert_eq!(xsm3::digest_batch_with(&msgs, path), want, "path {}", path.name());
        group.bench_with_input(BenchmarkId::new(format!("xinlian_{}", path.name()), &label), &msgs, |b, m| {
            b.iter(|| xsm3::digest_batch_with(black_box(m), path))
        });
    }
    group.bench_with_input(BenchmarkId::new("rustcrypto_one_by_one", &label), &msgs, |b, m| {
        b.iter(|| black_box(m).iter().map(|msg| Sm3::digest(msg).into()).collect::<Vec<[u8; 32]>>())
    });
    group.finish();
}

/// Both groups under the shared settings (what `criterion_group!` would write, without its
/// undocumented `pub fn`).
fn benches() {
    let mut c = config().configure_from_args();
    sm3_single(&mut c);
    sm3_batch(&mut c);
}

criterion_main!(benches);
