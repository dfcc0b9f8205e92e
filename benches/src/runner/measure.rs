//! Timing one cell (a backend, an op, a batch size) or one software baseline.
//!
//! Owns: the timing loop (until an iteration target or a time cap), latency percentiles, and
//! checking every answer against the CPU reference: before timing (on batches that mix valid
//! and tampered signatures) and after every timed call (outside the timed region). A wrong
//! answer or a device error ends the cell as an error, never as a measurement.
//! Never: what to measure (that is `mod.rs`) or how to show it (`report`, `html`).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sm2::dsa::signature::Verifier;
use sm3::Digest as _;
use xinlian_accel::{AccelError, Backend, Dispatcher, MessageBatch, PreparedVerify, Verdict};
use xinlian_kernels::merkle;
use xinlian_kernels::sm3::Digest;

use super::inputs::{prepare_all, window, window_count, Inputs, Signed, ID};
use super::{BackendName, Op};

/// How a backend is driven: directly, or through the dispatcher (`auto`).
pub(super) enum Target {
    One(Arc<dyn Backend>),
    Auto(Box<Dispatcher>),
}

/// A backend under test.
pub(super) struct Bench {
    pub(super) name: BackendName,
    /// What the backend says it is (`BackendInfo::device`).
    pub(super) device: String,
    pub(super) target: Target,
}

impl Target {
    fn verify(&self, items: &[PreparedVerify]) -> Result<Vec<Verdict>, AccelError> {
        match self {
            Target::One(b) => b.verify_batch(items),
            Target::Auto(d) => Ok(d.verify_batch(items)),
        }
    }

    fn sm3(&self, msgs: &MessageBatch) -> Result<Vec<Digest>, AccelError> {
        match self {
            Target::One(b) => b.sm3_batch(msgs),
            Target::Auto(d) => Ok(d.sm3_batch(msgs)),
        }
    }

    /// The root over `leaves`, as a node builds a block's root on one backend: level by level.
    fn merkle_root(&self, leaves: &[Digest]) -> Result<Digest, AccelError> {
        let backend = match self {
            Target::One(b) => b,
            Target::Auto(d) => return Ok(d.merkle_root(leaves)),
        };
        // One leaf is its own root (and no leaf has the root of the empty tree): no hashing.
        if leaves.len() <= 1 {
            return Ok(merkle::root(leaves));
        }
        let mut level = backend.merkle_level(leaves)?;
        let mut want = leaves.len().div_ceil(2);
        loop {
            // A level of the wrong length would loop forever or index out of range.
            if level.len() != want {
                return Err(AccelError::Corrupt(format!(
                    "a Merkle level of {} nodes came back instead of {want}",
                    level.len()
                )));
            }
            if want == 1 {
                return Ok(level[0]);
            }
            want = want.div_ceil(2);
            level = backend.merkle_level(&level)?;
        }
    }

    /// Items each backend behind the dispatcher has answered so far (`auto` only).
    fn item_counts(&self) -> Option<BTreeMap<String, u64>> {
        match self {
            Target::One(_) => None,
            Target::Auto(d) => Some(d.metrics().into_iter().map(|m| (m.backend, m.items)).collect()),
        }
    }
}

/// When a cell (or a baseline) stops: at `target_iters` iterations once a tenth of `cap` has
/// passed, or at `cap`, whichever comes first; never before `min_iters` iterations, so that a
/// batch slower than the cap still gives a median.
#[derive(Clone, Copy, Debug)]
pub(super) struct Budget {
    pub(super) cap: Duration,
    pub(super) target_iters: usize,
    pub(super) min_iters: usize,
}

/// What a timing loop measured: `iterations` samples of `items_per_sample` items each.
#[derive(Clone, Debug)]
pub(super) struct Timing {
    pub(super) iterations: usize,
    pub(super) items_per_sample: usize,
    /// Sum of the samples (time inside the timed regions only).
    pub(super) total: Duration,
    pub(super) p50: Duration,
    pub(super) p99: Duration,
}

impl Timing {
    fn from_samples(mut samples: Vec<Duration>, items_per_sample: usize) -> Timing {
        samples.sort_unstable();
        let total = samples.iter().sum();
        // Nearest rank: the smallest sample with at least p% of the samples at or below it.
        let rank = |p: usize| samples.get((samples.len() * p).div_ceil(100).max(1) - 1).copied().unwrap_or_default();
        Timing { iterations: samples.len(), items_per_sample, total, p50: rank(50), p99: rank(99) }
    }

    pub(super) fn items(&self) -> usize {
        self.iterations * self.items_per_sample
    }

    pub(super) fn items_per_second(&self) -> f64 {
        self.items() as f64 / self.total.as_secs_f64().max(1e-12)
    }
}

/// Call `sample(k)` for k = 0, 1, ... until the budget says stop. Each call times its own work
/// and returns that time, so that checking the answer stays out of the measurement.
fn time_loop(
    budget: Budget,
    items_per_sample: usize,
    mut sample: impl FnMut(usize) -> Result<Duration, String>,
) -> Result<Timing, String> {
    let started = Instant::now();
    let mut samples = Vec::new();
    loop {
        let elapsed = started.elapsed();
        let enough = samples.len() >= budget.target_iters && elapsed >= budget.cap / 10;
        if samples.len() >= budget.min_iters && (enough || elapsed >= budget.cap) {
            break;
        }
        samples.push(sample(samples.len())?);
    }
    Ok(Timing::from_samples(samples, items_per_sample))
}

/// The work of one (op, batch size), shared by every backend: the batches, made ahead.
pub(super) struct Work<'a> {
    pub(super) op: Op,
    pub(super) n: usize,
    inputs: &'a Inputs,
    /// sm3: one message batch per pool window.
    batches: Vec<MessageBatch>,
    /// merkle: the CPU reference root of each pool window.
    roots: Vec<Digest>,
}

impl<'a> Work<'a> {
    pub(super) fn new(op: Op, n: usize, inputs: &'a Inputs) -> Work<'a> {
        let windows = (0..window_count(inputs.pool, n)).map(|k| window(inputs.pool, n, k));
        let (batches, roots) = match op {
            Op::Verify => (Vec::new(), Vec::new()),
            Op::Sm3 => (windows.map(|w| inputs.messages[w].iter().map(Vec::as_slice).collect()).collect(), Vec::new()),
            Op::Merkle => (Vec::new(), windows.map(|w| merkle::root(&inputs.leaves[w])).collect()),
        };
        Work { op, n, inputs, batches, roots }
    }

    /// Bytes one batch carries, where bytes per second mean something: SM3 message bytes, and
    /// the Merkle leaf hashes (32 bytes each) a root consumes.
    pub(super) fn bytes_per_batch(&self) -> Option<usize> {
        match self.op {
            Op::Verify => None,
            Op::Sm3 => Some(self.n * self.inputs.msg_bytes),
            Op::Merkle => Some(self.n * 32),
        }
    }
}

/// A cell's measurement, and for `auto` the share of the items each backend took.
pub(super) struct Measured {
    pub(super) timing: Timing,
    pub(super) shares: Option<BTreeMap<String, f64>>,
}

/// Check the backend on the cell's inputs, then time it. `threads`: host threads for decoding
/// and hashing signatures before a verify batch.
pub(super) fn cell(bench: &Bench, work: &Work<'_>, budget: Budget, threads: usize) -> Result<Measured, String> {
    let target = &bench.target;
    let device_error = |e: AccelError| format!("{} failed: {e}", bench.name.as_str());
    let (n, inputs) = (work.n, work.inputs);
    let sample = |k: usize| -> Result<Duration, String> {
        let w = window(inputs.pool, n, k);
        match work.op {
            Op::Verify => {
                let t0 = Instant::now();
                let prepared = prepare_all(&inputs.signed[w], threads)?;
                let verdicts = target.verify(&prepared).map_err(device_error)?;
                let took = t0.elapsed();
                check_verdicts(&verdicts, n, |_| true)?;
                Ok(took)
            }
            Op::Sm3 => {
                let batch = &work.batches[k % work.batches.len()];
                let t0 = Instant::now();
                let digests = target.sm3(batch).map_err(device_error)?;
                let took = t0.elapsed();
                check_digests(&digests, &inputs.digests[w])?;
                Ok(took)
            }
            Op::Merkle => {
                let leaves = &inputs.leaves[w];
                let t0 = Instant::now();
                let root = target.merkle_root(leaves).map_err(device_error)?;
                let took = t0.elapsed();
                let want = work.roots[k % work.roots.len()];
                if root != want {
                    return Err(format!(
                        "wrong answer: Merkle root of {n} leaves is {} but the CPU reference says {}",
                        hex::encode(root),
                        hex::encode(want)
                    ));
                }
                Ok(took)
            }
        }
    };
    // Before timing: the first batch (which also warms the device up), and for verify the
    // same batch with every other signature tampered, both ways round, so that a backend
    // that accepts (or rejects) everything is caught.
    sample(0)?;
    if work.op == Op::Verify {
        for parity in [0, 1] {
            let mixed: Vec<&Signed> =
                (0..n).map(|i| if i % 2 == parity { &inputs.tampered[i] } else { &inputs.signed[i] }).collect();
            let prepared = prepare_all(&mixed, threads)?;
            let verdicts = target.verify(&prepared).map_err(device_error)?;
            check_verdicts(&verdicts, n, |i| i % 2 != parity)?;
        }
    }
    let before = target.item_counts();
    let timing = time_loop(budget, n, sample)?;
    let shares = match (before, target.item_counts()) {
        (Some(before), Some(after)) => {
            let delta: BTreeMap<String, u64> = after
                .into_iter()
                .map(|(k, v)| (k.clone(), v.saturating_sub(before.get(&k).copied().unwrap_or(0))))
                .collect();
            let total = delta.values().sum::<u64>().max(1) as f64;
            Some(delta.into_iter().map(|(k, v)| (k, v as f64 / total)).collect())
        }
        _ => None,
    };
    Ok(Measured { timing, shares })
}

fn check_verdicts(verdicts: &[Verdict], n: usize, valid: impl Fn(usize) -> bool) -> Result<(), String> {
    if verdicts.len() != n {
        return Err(format!("wrong answer: {} verdicts for {n} signatures", verdicts.len()));
    }
    match verdicts.iter().enumerate().find(|(i, v)| v.is_valid() != valid(*i)) {
        None => Ok(()),
        Some((i, v)) => Err(format!(
            "wrong answer: signature {i} of {n} judged {v}, the CPU reference says {}",
            if valid(i) { "valid" } else { "invalid" }
        )),
    }
}

fn check_digests(got: &[Digest], want: &[Digest]) -> Result<(), String> {
    if got.len() != want.len() {
        return Err(format!("wrong answer: {} digests for {} messages", got.len(), want.len()));
    }
    match got.iter().zip(want).position(|(g, w)| g != w) {
        None => Ok(()),
        Some(i) => Err(format!(
            "wrong answer: SM3 of message {i} is {} but the CPU reference says {}",
            hex::encode(got[i]),
            hex::encode(want[i])
        )),
    }
}

/// A software library measured the way its users call it: one item at a time, one thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Baseline {
    Libsm,
    RustCryptoSm2,
    EfficientSm2,
    RustCryptoSm3,
    LibsmSm3,
}

impl Baseline {
    /// The baselines of an op (none for Merkle roots: no library builds this tree).
    pub(super) fn for_op(op: Op) -> &'static [Baseline] {
        match op {
            Op::Verify => &[Baseline::Libsm, Baseline::RustCryptoSm2, Baseline::EfficientSm2],
            Op::Sm3 => &[Baseline::RustCryptoSm3, Baseline::LibsmSm3],
            Op::Merkle => &[],
        }
    }

    /// Key in the JSON report.
    pub(super) fn id(self) -> &'static str {
        match self {
            Baseline::Libsm => "libsm",
            Baseline::RustCryptoSm2 => "rustcrypto-sm2",
            Baseline::EfficientSm2 => "efficient-sm2",
            Baseline::RustCryptoSm3 => "rustcrypto-sm3",
            Baseline::LibsmSm3 => "libsm-sm3",
        }
    }

    /// Name in the table and the plots.
    pub(super) fn label(self) -> &'static str {
        match self {
            Baseline::Libsm => "libsm",
            Baseline::RustCryptoSm2 => "RustCrypto sm2",
            Baseline::EfficientSm2 => "efficient-sm2",
            Baseline::RustCryptoSm3 => "RustCrypto sm3",
            Baseline::LibsmSm3 => "libsm sm3",
        }
    }

    pub(super) fn op(self) -> Op {
        match self {
            Baseline::Libsm | Baseline::RustCryptoSm2 | Baseline::EfficientSm2 => Op::Verify,
            Baseline::RustCryptoSm3 | Baseline::LibsmSm3 => Op::Sm3,
        }
    }

    /// What each item costs the library, in its own API: the same work the backends do from
    /// the same bytes (for verify: decode the key and signature, Z, e, the curve arithmetic).
    pub(super) fn call(self) -> &'static str {
        match self {
            Baseline::Libsm => "libsm 0.6: SigCtx::load_pubkey, Signature::new, SigCtx::verify(msg) (Z and e inside)",
            Baseline::RustCryptoSm2 => {
                "sm2 0.14: VerifyingKey::from_sec1_bytes(ID), Signature::from_slice, Verifier::verify(msg)"
            }
            Baseline::EfficientSm2 => "efficient-sm2 0.2: PublicKey::new, Signature::new, Signature::verify(msg)",
            Baseline::RustCryptoSm3 => "sm3 0.5: Sm3::digest(msg)",
            Baseline::LibsmSm3 => "libsm 0.6: Sm3Hash::new(msg).get_hash()",
        }
    }
}

/// A baseline's verify entry point: true when the library accepts the signature.
fn verifier(b: Baseline) -> Box<dyn Fn(&Signed) -> bool> {
    match b {
        Baseline::Libsm => {
            let ctx = libsm::sm2::signature::SigCtx::new();
            Box::new(move |s: &Signed| {
                let sig = libsm::sm2::signature::Signature::new(s.r(), s.s());
                ctx.load_pubkey(&s.pubkey).and_then(|pk| ctx.verify(&s.msg, &pk, &sig)).unwrap_or(false)
            })
        }
        Baseline::RustCryptoSm2 => Box::new(|s: &Signed| {
            let Ok(key) = sm2::dsa::VerifyingKey::from_sec1_bytes(ID, &s.pubkey) else { return false };
            let Ok(sig) = sm2::dsa::Signature::from_slice(&s.sig) else { return false };
            key.verify(&s.msg, &sig).is_ok()
        }),
        _ => Box::new(|s: &Signed| {
            let key = efficient_sm2::PublicKey::new(&s.pubkey[1..33], &s.pubkey[33..]);
            efficient_sm2::Signature::new(s.r(), s.s()).and_then(|sig| sig.verify(&key, &s.msg)).is_ok()
        }),
    }
}

/// A baseline's SM3.
fn hasher(b: Baseline) -> fn(&[u8]) -> Digest {
    match b {
        Baseline::LibsmSm3 => |m| libsm::sm3::hash::Sm3Hash::new(m).get_hash(),
        _ => |m| sm3::Sm3::digest(m).into(),
    }
}

/// Time a baseline on the same inputs as the backends, one item at a time on this thread,
/// checking its answers as the cells are checked. The latencies are per item.
pub(super) fn baseline(b: Baseline, inputs: &Inputs, budget: Budget) -> Result<Timing, String> {
    let pool = inputs.pool;
    match b.op() {
        Op::Verify => {
            let verify = verifier(b);
            for i in 0..pool.min(4) {
                if !verify(&inputs.signed[i]) {
                    return Err(format!("{} rejected valid signature {i}", b.label()));
                }
                if verify(&inputs.tampered[i]) {
                    return Err(format!("{} accepted tampered signature {i}", b.label()));
                }
            }
            time_loop(budget, 1, |k| {
                let s = &inputs.signed[k % pool];
                let t0 = Instant::now();
                let ok = black_box(verify(black_box(s)));
                let took = t0.elapsed();
                if ok {
                    Ok(took)
                } else {
                    Err(format!("{} rejected valid signature {}", b.label(), k % pool))
                }
            })
        }
        Op::Sm3 => {
            let hash = hasher(b);
            // Short messages take well under a microsecond: time them in runs long enough
            // for the clock, and divide.
            let chunk = (8192 / inputs.msg_bytes.max(1)).max(1);
            let mut out = vec![[0u8; 32]; chunk];
            let timing = time_loop(budget, chunk, |k| {
                let t0 = Instant::now();
                for (j, slot) in out.iter_mut().enumerate() {
                    *slot = hash(black_box(&inputs.messages[(k * chunk + j) % pool]));
                }
                let took = t0.elapsed();
                for (j, d) in out.iter().enumerate() {
                    let i = (k * chunk + j) % pool;
                    if *d != inputs.digests[i] {
                        return Err(format!("{} gave a wrong digest for message {i}", b.label()));
                    }
                }
                Ok(took)
            })?;
            let per_item = |d: Duration| d / u32::try_from(chunk).unwrap_or(u32::MAX);
            Ok(Timing { p50: per_item(timing.p50), p99: per_item(timing.p99), ..timing })
        }
        Op::Merkle => Err("no baseline library builds this Merkle tree".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).rev().map(Duration::from_micros).collect();
        let t = Timing::from_samples(samples, 4);
        assert_eq!(t.iterations, 100);
        assert_eq!(t.items(), 400);
        assert_eq!(t.p50, Duration::from_micros(50));
        assert_eq!(t.p99, Duration::from_micros(99));
        let one = Timing::from_samples(vec![Duration::from_micros(7)], 1);
        assert_eq!((one.p50, one.p99), (Duration::from_micros(7), Duration::from_micros(7)));
    }

    #[test]
    fn time_loop_stops_at_the_target_and_keeps_the_minimum() {
        let budget = Budget { cap: Duration::ZERO, target_iters: 10, min_iters: 3 };
        let t = time_loop(budget, 1, |_| Ok(Duration::from_micros(1))).unwrap();
        assert_eq!(t.iterations, 3);
        let budget = Budget { cap: Duration::from_secs(60), target_iters: 5, min_iters: 1 };
        let mut calls = 0;
        let err = time_loop(budget, 1, |k| {
            calls += 1;
            if k == 2 {
                Err("wrong".to_string())
            } else {
                Ok(Duration::ZERO)
            }
        });
        assert_eq!(err.unwrap_err(), "wrong");
        assert_eq!(calls, 3);
    }

    #[test]
    fn every_baseline_accepts_valid_and_rejects_tampered() {
        let inputs = Inputs::make(&[Op::Verify, Op::Sm3], 4, 32, 1).unwrap();
        let budget = Budget { cap: Duration::ZERO, target_iters: 1, min_iters: 2 };
        for op in [Op::Verify, Op::Sm3] {
            for &b in Baseline::for_op(op) {
                let t = baseline(b, &inputs, budget).unwrap();
                assert!(t.items() >= 2, "{}", b.label());
            }
        }
    }
}
