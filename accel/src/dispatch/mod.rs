//! The dispatcher: one entry point for verification and hashing over every backend present,
//! with right answers whatever a device does.
//!
//! ```text
//!  verify_batch(items) ──> small (< cpu_only_below)? ──yes──> CPU
//!        │ no
//!        v
//!  router::RouteChooser: large batches timed whole, split and CPU alone; the CPU alone
//!        │ measured faster (devices on the host's own cores)? ──yes──> CPU (the split tried
//!        │ no                                                          again now and then)
//!        v
//!  router::split over the CPU + admitted devices (cost model: fixed + n x per_item, each
//!        │ share sized so all finish together; calibrated at start-up, updated per batch)
//!        v
//!  device share ──> canary::seed (known-valid and tampered items at random positions)
//!        │ ──> Backend::verify_batch ──> AccelError ──────────────┐  health: out, back-off,
//!        │                         └──> canaries wrong ──────────┤  self-test to come back
//!        │                         └──> CPU re-check disagrees ──┤
//!        v                                                        v
//!  verdicts in input order  <─────────────── the share, redone on the remaining backends,
//!                                             the CPU last (it cannot fail)
//! ```
//!
//! Owns: routing, fallback, result checking, per-backend health and metrics; the async API
//! and coalescing of small requests live in [`batcher`].
//! Never: turns a device fault into a verdict, answers an item twice or not at all, decodes
//! input (items arrive prepared), re-admits a backend without a passing self-test, or takes
//! a device out for work too large for it (an error that is not
//! [`AccelError::is_device_fault`]: the work runs elsewhere, the device stays in).
//!
//! Checking device answers. A device may flip a verdict silently (the card simulator's
//! `corrupt` fault flips one result of a descriptor). Three checks, all on by default:
//! - canaries: [`DispatchConfig::canaries`] known items per device batch; any wrong one
//!   discards the batch and quarantines the device;
//! - every `Invalid` verdict from a device is re-checked on the CPU
//!   ([`DispatchConfig::recheck_invalid`]): in normal traffic invalid signatures are rare, so
//!   this costs little, and it means a device fault never rejects a good transaction;
//! - a random sample of `Valid` verdicts ([`DispatchConfig::recheck_valid_rate`]) is re-checked
//!   too. A flip from invalid to valid on a real item is caught only by this sample or by
//!   luck with the canaries: canaries bound how *often* a device may lie, not whether it ever
//!   does. Set the rate to 1.0 for "a device never decides alone" (then the device saves
//!   nothing on verification but still carries SM3).
//!
//! Digests (SM3, Merkle levels) carry canary messages and a CPU spot-check of a few random
//! outputs per batch.

pub mod batcher;
mod canary;
mod health;
pub mod metrics;
pub mod router;

use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tracing::{debug, warn};
use xinlian_kernels::merkle;
use xinlian_kernels::sm3::{self, Digest};

use crate::backend::{AccelError, Backend, BackendKind};
use crate::backends::cpu::{verify_run, CpuBackend};
use crate::verdict::{PreparedVerify, Verdict};
use crate::MessageBatch;

pub use batcher::{AsyncDispatcher, BatcherConfig};
use canary::CanaryPool;
use health::{Admission, Health, OutReason};
use metrics::{add, BackendMetrics};
pub use metrics::{render_prometheus, MetricsSnapshot};
pub use router::{CostModel, Route, RouteChooser};

/// How the dispatcher routes and checks.
#[derive(Clone, Debug, PartialEq)]
pub struct DispatchConfig {
    /// Batches smaller than this stay on the CPU (a device's fixed cost outweighs them).
    pub cpu_only_below: usize,
    /// A device gets no share smaller than this.
    pub min_device_share: usize,
    /// Canary items added to each device batch (about half valid, half tampered).
    pub canaries: usize,
    /// Valid signatures kept in the canary pool (one is replaced per device batch).
    pub canary_pool: usize,
    /// Re-check every `Invalid` verdict from a device on the CPU.
    pub recheck_invalid: bool,
    /// Fraction of `Valid` device verdicts re-checked on the CPU, in [0, 1].
    pub recheck_valid_rate: f64,
    /// Wait before the first re-admission attempt of a failed backend; doubles per failure.
    pub backoff_initial: Duration,
    /// Longest wait between re-admission attempts.
    pub backoff_max: Duration,
    /// Time each backend on a short self-benchmark at start-up (else use default costs).
    pub calibrate: bool,
    /// Seed of canary placement and sampling (`None`: from the OS).
    pub seed: Option<u64>,
    /// Threads of the CPU backend the dispatcher adds when none is given (0: every core).
    pub cpu_threads: usize,
}

impl Default for DispatchConfig {
    fn default() -> DispatchConfig {
        DispatchConfig {
            cpu_only_below: 64,
            min_device_share: 64,
            canaries: 4,
            canary_pool: 32,
            recheck_invalid: true,
            recheck_valid_rate: 0.0,
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_secs(30),
            calibrate: true,
            seed: None,
            cpu_threads: 0,
        }
    }
}

/// Large batches measured both ways ([`Dispatcher::verify_routes`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct RouteRates {
    /// Items per second of large batches split across the CPU and the devices.
    pub split_per_s: Option<f64>,
    /// Items per second of large batches on the CPU alone.
    pub cpu_alone_per_s: Option<f64>,
    /// Large batches split.
    pub split_batches: u64,
    /// Large batches run on the CPU alone while a device was available.
    pub cpu_alone_batches: u64,
}

/// One backend as `GET /status` shows it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct BackendStatus {
    /// Unique name within the dispatcher (`cpu`, `card`, `card2`, `opencl`...).
    pub name: String,
    /// The kind of device (`"cpu"`, `"opencl"`, `"card"` in JSON).
    pub kind: BackendKind,
    /// What the device is.
    pub device: String,
    /// Whether it takes work now.
    pub healthy: bool,
    /// Out for a wrong answer (a canary or a CPU re-check), not merely for an error.
    pub quarantined: bool,
    /// Why it last failed, if it ever did (it may have come back since).
    pub last_failure: Option<String>,
    /// Real items it answered (canaries not counted).
    pub items: u64,
    /// Batches it answered.
    pub batches: u64,
    /// Calls that returned a device fault.
    pub errors: u64,
    /// Its modelled verification rate on large batches (signatures per second), from start-up
    /// calibration and the batches since.
    pub verify_per_s: f64,
}

/// The kinds of work, each with its own cost model (per item: a signature, a message, a node).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Work {
    Verify = 0,
    Sm3 = 1,
    Merkle = 2,
}

/// Why a device's answer was not taken.
enum Failure {
    Error(AccelError),
    Wrong { canary: bool, why: String },
}

/// How a kind of work runs on one device: its answers for a share, or why not.
type DeviceRun<'a, T, R> = dyn Fn(&Slot, &[T]) -> Result<Vec<R>, Failure> + Sync + 'a;
/// A share's outcome: (slot index, the share, its answers or failure).
type ShareResult<'a, T, R> = (usize, &'a [T], Result<Vec<R>, Failure>);

struct Slot {
    backend: Arc<dyn Backend>,
    name: String,
    health: Health,
    costs: [Mutex<CostModel>; 3],
    metrics: BackendMetrics,
    last_failure: Mutex<Option<String>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every value behind these locks is replaced whole; a poisoned one is still consistent.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Default costs before calibration: the CPU from its measured single-core rates in the README
/// (about 40k verifies/s and 1 GiB/s SM3 per thread), devices pessimistically (a 1 ms round
/// trip) so that they earn their share from measurements.
fn default_costs(backend: &dyn Backend) -> [CostModel; 3] {
    let info = backend.info();
    let par = info.parallelism.max(1) as f64;
    match info.kind {
        BackendKind::Cpu => {
            [CostModel::new(20e-6, 25e-6 / par), CostModel::new(5e-6, 1e-6 / par), CostModel::new(5e-6, 0.3e-6 / par)]
        }
        BackendKind::Card | BackendKind::OpenCl | BackendKind::Sdf => {
            [CostModel::new(1e-3, 20e-6), CostModel::new(1e-3, 1e-6), CostModel::new(1e-3, 0.3e-6)]
        }
    }
}

/// Routes SM2 verification, SM3 and Merkle roots across backends; see the module docs.
pub struct Dispatcher {
    slots: Vec<Slot>,
    cpu: usize,
    config: DispatchConfig,
    canaries: Mutex<CanaryPool>,
    rng: Mutex<StdRng>,
    /// Per kind of work: whether splitting large batches pays, as measured.
    routes: [Mutex<RouteChooser>; 3],
}

impl Dispatcher {
    /// A dispatcher over `backends`; a CPU backend is added (last) when none is given, and
    /// the first CPU backend is the last resort. With `config.calibrate`, each backend is
    /// timed on a short self-benchmark now; one that fails it starts out of service.
    pub fn new(backends: Vec<Arc<dyn Backend>>, config: DispatchConfig) -> Dispatcher {
        let mut backends = backends;
        if !backends.iter().any(|b| b.info().kind == BackendKind::Cpu) {
            backends.push(Arc::new(CpuBackend::new(config.cpu_threads)));
        }
        let cpu = backends.iter().position(|b| b.info().kind == BackendKind::Cpu).unwrap_or(0);
        let mut slots: Vec<Slot> = Vec::with_capacity(backends.len());
        for backend in backends {
            let base = backend.info().name.clone();
            let mut name = base.clone();
            let mut n = 1;
            while slots.iter().any(|s| s.name == name) {
                n += 1;
                name = format!("{base}{n}");
            }
            let [v, h, m] = default_costs(backend.as_ref());
            slots.push(Slot {
                backend,
                name,
                health: Health::new(config.backoff_initial, config.backoff_max),
                costs: [Mutex::new(v), Mutex::new(h), Mutex::new(m)],
                metrics: BackendMetrics::default(),
                last_failure: Mutex::new(None),
            });
        }
        let mut rng = match config.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_entropy(),
        };
        let pool = CanaryPool::new(config.canary_pool, &mut rng);
        let dispatcher = Dispatcher {
            slots,
            cpu,
            config,
            canaries: Mutex::new(pool),
            rng: Mutex::new(rng),
            routes: Default::default(),
        };
        if dispatcher.config.calibrate {
            dispatcher.calibrate();
        }
        dispatcher
    }

    /// Time every backend on 16 and 256 valid signatures and set its verification cost
    /// model from the two. A backend that errs is taken out (it comes back through its
    /// self-test like any other).
    pub fn calibrate(&self) {
        let items: Vec<PreparedVerify> = {
            let pool = lock(&self.canaries);
            let mut rng = lock(&self.rng);
            (0..256).map(|_| pool.valid(&mut rng)).collect()
        };
        for slot in &self.slots {
            let time = |n: usize| -> Result<Duration, AccelError> {
                let t0 = Instant::now();
                let v = slot.backend.verify_batch(&items[..n])?;
                let took = t0.elapsed();
                if v.iter().all(Verdict::is_valid) && v.len() == n {
                    Ok(took)
                } else {
                    Err(AccelError::Corrupt(format!("calibration: {} rejected a valid signature", slot.name)))
                }
            };
            // Warm once (first launches pay one-off costs), then measure.
            let result = time(16).and_then(|_| Ok((time(16)?, time(256)?)));
            match result {
                Ok((small, large)) => *lock(&slot.costs[Work::Verify as usize]) = CostModel::fit(16, small, 256, large),
                Err(e) => self.failed(slot, Failure::Error(e), 0),
            }
        }
    }

    /// Names of the backends, in routing order (the CPU's included).
    pub fn backend_names(&self) -> Vec<String> {
        self.slots.iter().map(|s| s.name.clone()).collect()
    }

    /// Whether backend `name` takes work now (`None`: no such backend).
    pub fn is_healthy(&self, name: &str) -> Option<bool> {
        self.slots.iter().find(|s| s.name == name).map(|s| s.health.is_healthy())
    }

    /// Whether backend `name` is out for wrong answers (canaries or a CPU re-check), not
    /// merely for an error.
    pub fn is_quarantined(&self, name: &str) -> bool {
        self.slots.iter().any(|s| s.name == name && s.health.out_reason() == Some(OutReason::WrongAnswer))
    }

    /// Why backend `name` last failed (an error, or what its wrong answer was).
    pub fn last_failure(&self, name: &str) -> Option<String> {
        self.slots.iter().find(|s| s.name == name).and_then(|s| lock(&s.last_failure).clone())
    }

    /// The verification cost model of each backend, by name.
    pub fn verify_costs(&self) -> Vec<(String, CostModel)> {
        self.slots.iter().map(|s| (s.name.clone(), *lock(&s.costs[Work::Verify as usize]))).collect()
    }

    /// Verification of large batches as measured both ways: items per second split across
    /// the backends and on the CPU alone (`None` until measured), and how many large batches
    /// went each way. See [`RouteChooser`].
    pub fn verify_routes(&self) -> RouteRates {
        let c = lock(&self.routes[Work::Verify as usize]);
        let (split_per_s, cpu_alone_per_s) = c.rates();
        let (split_batches, cpu_alone_batches) = c.counts();
        RouteRates { split_per_s, cpu_alone_per_s, split_batches, cpu_alone_batches }
    }

    /// What each backend is and how it stands, in routing order (the CPU's included).
    pub fn backend_status(&self) -> Vec<BackendStatus> {
        self.slots
            .iter()
            .map(|s| {
                let info = s.backend.info();
                let cost = *lock(&s.costs[Work::Verify as usize]);
                let m = s.metrics.snapshot(&s.name, s.health.is_healthy());
                BackendStatus {
                    name: s.name.clone(),
                    kind: info.kind,
                    device: info.device.clone(),
                    healthy: m.healthy,
                    quarantined: s.health.out_reason() == Some(OutReason::WrongAnswer),
                    last_failure: lock(&s.last_failure).clone(),
                    items: m.items,
                    batches: m.batches,
                    errors: m.errors,
                    verify_per_s: cost.throughput(),
                }
            })
            .collect()
    }

    /// Counters of every backend.
    pub fn metrics(&self) -> Vec<MetricsSnapshot> {
        self.slots.iter().map(|s| s.metrics.snapshot(&s.name, s.health.is_healthy())).collect()
    }

    /// The counters as Prometheus text.
    pub fn render_prometheus(&self) -> String {
        let mut out = render_prometheus(&self.metrics());
        let r = self.verify_routes();
        out.push_str(
            "# HELP xinlian_accel_route_verify_per_second Verification rate of large batches as last measured, \
             split across the backends or on the CPU alone.\n\
             # TYPE xinlian_accel_route_verify_per_second gauge\n",
        );
        for (route, rate) in [("split", r.split_per_s), ("cpu_alone", r.cpu_alone_per_s)] {
            if let Some(rate) = rate {
                out.push_str(&format!("xinlian_accel_route_verify_per_second{{route=\"{route}\"}} {rate:.0}\n"));
            }
        }
        out.push_str(
            "# HELP xinlian_accel_route_batches_total Large verification batches measured per route.\n\
             # TYPE xinlian_accel_route_batches_total counter\n",
        );
        for (route, n) in [("split", r.split_batches), ("cpu_alone", r.cpu_alone_batches)] {
            out.push_str(&format!("xinlian_accel_route_batches_total{{route=\"{route}\"}} {n}\n"));
        }
        out
    }

    /// One verdict per item, in order. Never an error: a device that fails or answers wrongly
    /// has its share redone elsewhere, the CPU last.
    pub fn verify_batch(&self, items: &[PreparedVerify]) -> Vec<Verdict> {
        let mut tried = vec![false; self.slots.len()];
        self.route(Work::Verify, items, &mut tried, &|slot, part| self.device_verify(slot, part), &|part| {
            self.cpu_verify(part)
        })
    }

    /// SM3 of every message, in order. Never an error (as [`Dispatcher::verify_batch`]).
    pub fn sm3_batch(&self, msgs: &MessageBatch) -> Vec<Digest> {
        let refs: Vec<&[u8]> = msgs.iter().collect();
        let mut tried = vec![false; self.slots.len()];
        self.route(Work::Sm3, &refs, &mut tried, &|slot, part| self.device_sm3(slot, part), &|part| self.cpu_sm3(part))
    }

    /// The Merkle root ([`xinlian_kernels::merkle::root`]) over leaf hashes. Large levels go to
    /// the cheapest admitted device, with a CPU spot-check of random parents; small levels,
    /// and any level a device fails, on the CPU.
    pub fn merkle_root(&self, leaves: &[Digest]) -> Digest {
        if leaves.is_empty() {
            return sm3::digest(&[]);
        }
        let mut level = leaves.to_vec();
        while level.len() > 1 {
            level = self.merkle_level(&level);
        }
        level[0]
    }

    fn merkle_level(&self, nodes: &[Digest]) -> Vec<Digest> {
        let mut tried = vec![false; self.slots.len()];
        loop {
            let cpu_time = lock(&self.slots[self.cpu].costs[Work::Merkle as usize]).predict(nodes.len());
            let best = self
                .admitted(&mut tried)
                .into_iter()
                .map(|i| (i, lock(&self.slots[i].costs[Work::Merkle as usize]).predict(nodes.len())))
                .filter(|&(_, t)| t < cpu_time && nodes.len() >= self.config.cpu_only_below)
                .min_by(|a, b| a.1.total_cmp(&b.1));
            let Some((i, _)) = best else {
                return self.cpu_merkle(nodes);
            };
            tried[i] = true;
            let slot = &self.slots[i];
            match self.device_merkle(slot, nodes) {
                Ok(level) => return level,
                Err(f) => self.failed(slot, f, nodes.len()),
            }
        }
    }

    /// Indices of devices (not the CPU, not yet tried) that take work now; a device whose
    /// back-off has passed is self-tested here and re-admitted if it passes.
    fn admitted(&self, tried: &mut [bool]) -> Vec<usize> {
        let now = Instant::now();
        let mut out = Vec::new();
        for (i, slot) in self.slots.iter().enumerate() {
            if i == self.cpu || tried[i] {
                continue;
            }
            match slot.health.admit(now) {
                Admission::Yes => out.push(i),
                Admission::No => {}
                Admission::Probe => {
                    let test = slot.backend.self_test();
                    if slot.health.probe_result(test.is_ok(), Instant::now()) {
                        add(&slot.metrics.readmissions, 1);
                        let after = lock(&slot.last_failure).clone().unwrap_or_default();
                        warn!(backend = %slot.name, after = %after, "device back in service: its self-test passed");
                        out.push(i);
                    } else {
                        add(&slot.metrics.self_test_failures, 1);
                        let error = test.err().map(|e| e.to_string()).unwrap_or_default();
                        debug!(backend = %slot.name, %error, "self-test failed: the device stays out");
                    }
                }
            }
        }
        out
    }

    /// Run `items` on the CPU alone or split with the admitted devices, whichever measured
    /// faster ([`RouteChooser`]); time large batches for that choice. Answers in input order,
    /// each exactly once.
    fn route<T: Sync, R: Send>(
        &self,
        work: Work,
        items: &[T],
        tried: &mut Vec<bool>,
        device: &DeviceRun<'_, T, R>,
        cpu: &(dyn Fn(&[T]) -> Vec<R> + Sync),
    ) -> Vec<R> {
        if items.is_empty() {
            return Vec::new();
        }
        let devices = if items.len() < self.config.cpu_only_below { Vec::new() } else { self.admitted(tried) };
        if devices.is_empty() {
            return cpu(items);
        }
        let route = lock(&self.routes[work as usize]).choose(items.len());
        let t0 = Instant::now();
        let out = match route {
            Route::CpuAlone => cpu(items),
            Route::Split => self.split_run(work, items, devices, tried, device, cpu),
        };
        // A batch that met a device failure took the fallback's time too: it says nothing
        // about either route.
        if !tried.iter().any(|&t| t) {
            lock(&self.routes[work as usize]).record(route, items.len(), t0.elapsed());
        }
        out
    }

    /// Split `items` over the CPU and `devices` by cost, run the shares at once, and redo any
    /// failed share on what remains. Answers in input order, each exactly once.
    fn split_run<T: Sync, R: Send>(
        &self,
        work: Work,
        items: &[T],
        devices: Vec<usize>,
        tried: &mut Vec<bool>,
        device: &DeviceRun<'_, T, R>,
        cpu: &(dyn Fn(&[T]) -> Vec<R> + Sync),
    ) -> Vec<R> {
        let order: Vec<usize> = std::iter::once(self.cpu).chain(devices.iter().copied()).collect();
        let models: Vec<CostModel> = order.iter().map(|&i| *lock(&self.slots[i].costs[work as usize])).collect();
        let shares = router::split(items.len(), &models, 0, self.config.min_device_share);
        // Contiguous ranges: the CPU's first, then each device's.
        let mut parts: Vec<(usize, &[T])> = Vec::with_capacity(order.len());
        let mut start = 0;
        for (&slot, &share) in order.iter().zip(&shares) {
            if share > 0 {
                parts.push((slot, &items[start..start + share]));
                start += share;
            }
        }
        let results: Vec<ShareResult<'_, T, R>> = thread::scope(|scope| {
            let handles: Vec<_> = parts
                .iter()
                .filter(|(slot, _)| *slot != self.cpu)
                .map(|&(slot, part)| {
                    scope.spawn(move || {
                        let s = &self.slots[slot];
                        let result = device(s, part).and_then(|out| {
                            if out.len() == part.len() {
                                Ok(out)
                            } else {
                                Err(Failure::Error(AccelError::Corrupt(format!(
                                    "{} answers for {} items",
                                    out.len(),
                                    part.len()
                                ))))
                            }
                        });
                        (slot, part, result)
                    })
                })
                .collect();
            let mut results = Vec::with_capacity(parts.len());
            if let Some(&(slot, part)) = parts.iter().find(|(slot, _)| *slot == self.cpu) {
                results.push((slot, part, Ok(cpu(part))));
            }
            for h in handles {
                match h.join() {
                    Ok(r) => results.push(r),
                    // A device thread panics only on a bug; re-raise rather than lose items.
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            results
        });
        // `results` is in the order of `parts` (the CPU's share is first in both), which is
        // input order.
        let mut out = Vec::with_capacity(items.len());
        for (slot, part, result) in results {
            match result {
                Ok(answers) => out.extend(answers),
                Err(failure) => {
                    let s = &self.slots[slot];
                    self.failed(s, failure, part.len());
                    tried[slot] = true;
                    let left = if part.len() < self.config.cpu_only_below { Vec::new() } else { self.admitted(tried) };
                    if left.is_empty() {
                        out.extend(cpu(part));
                    } else {
                        out.extend(self.split_run(work, part, left, tried, device, cpu));
                    }
                }
            }
        }
        out
    }

    /// Record that `slot` did not answer `items` items (the caller redoes them elsewhere). A
    /// device fault or a wrong answer takes it out of service; work too large for it does not
    /// (the device is healthy; it was asked too much).
    fn failed(&self, slot: &Slot, failure: Failure, items: usize) {
        add(&slot.metrics.fallback_items, items as u64);
        let why = match &failure {
            Failure::Error(e) if !e.is_device_fault() => {
                debug!(backend = %slot.name, items, error = %e, "not a device fault: redone elsewhere, still in service");
                return;
            }
            Failure::Error(e) => e.to_string(),
            Failure::Wrong { why, .. } => why.clone(),
        };
        debug!(backend = %slot.name, items, reason = %why, "device share redone elsewhere");
        *lock(&slot.last_failure) = Some(why.clone());
        let reason = match failure {
            Failure::Error(_) => {
                add(&slot.metrics.errors, 1);
                OutReason::Error
            }
            Failure::Wrong { canary, .. } => {
                if canary {
                    add(&slot.metrics.canary_failures, 1);
                } else {
                    add(&slot.metrics.recheck_failures, 1);
                }
                add(&slot.metrics.quarantines, 1);
                OutReason::WrongAnswer
            }
        };
        if slot.health.fail(reason, Instant::now()) {
            let what = match reason {
                OutReason::Error => "device fault",
                OutReason::WrongAnswer => "wrong answer, quarantined",
            };
            warn!(backend = %slot.name, reason = %why, "{what}: device out of service until its self-test passes");
        }
    }

    fn record(&self, slot: &Slot, work: Work, items: usize, sent: usize, took: Duration) {
        add(&slot.metrics.items, items as u64);
        add(&slot.metrics.batches, 1);
        add(&slot.metrics.busy_ns, u64::try_from(took.as_nanos()).unwrap_or(u64::MAX));
        slot.metrics.observe_call(sent, took.as_secs_f64());
        lock(&slot.costs[work as usize]).observe(sent, took);
    }

    fn cpu_verify(&self, items: &[PreparedVerify]) -> Vec<Verdict> {
        let slot = &self.slots[self.cpu];
        let t0 = Instant::now();
        let out = match slot.backend.verify_batch(items) {
            Ok(v) if v.len() == items.len() => v,
            // The CPU backend does not fail; if a custom one does, the kernels answer directly.
            _ => {
                debug!(backend = %slot.name, items = items.len(), "CPU backend failed; the kernels answer directly");
                verify_run(items)
            }
        };
        self.record(slot, Work::Verify, items.len(), items.len(), t0.elapsed());
        out
    }

    fn device_verify(&self, slot: &Slot, items: &[PreparedVerify]) -> Result<Vec<Verdict>, Failure> {
        let k = self.config.canaries;
        let per_call = slot.backend.info().max_batch.saturating_sub(k).max(1);
        let mut out = Vec::with_capacity(items.len());
        for part in items.chunks(per_call) {
            let seeded = {
                let mut pool = lock(&self.canaries);
                let mut rng = lock(&self.rng);
                pool.refresh_one(&mut rng);
                pool.seed(part, k, &mut rng)
            };
            add(&slot.metrics.canary_items, k as u64);
            let t0 = Instant::now();
            let verdicts = slot.backend.verify_batch(&seeded.batch).map_err(Failure::Error)?;
            let took = t0.elapsed();
            if verdicts.len() != seeded.batch.len() {
                return Err(Failure::Error(AccelError::Corrupt(format!(
                    "{} verdicts for {} items",
                    verdicts.len(),
                    seeded.batch.len()
                ))));
            }
            let verdicts = seeded.check(verdicts).map_err(|why| Failure::Wrong { canary: true, why })?;
            self.recheck(slot, part, &verdicts)?;
            self.record(slot, Work::Verify, part.len(), seeded.batch.len(), took);
            out.extend(verdicts);
        }
        Ok(out)
    }

    /// Re-check device verdicts on the CPU: every `Invalid` (if configured) and a sample of
    /// `Valid` ones.
    fn recheck(&self, slot: &Slot, items: &[PreparedVerify], verdicts: &[Verdict]) -> Result<(), Failure> {
        let rate = self.config.recheck_valid_rate.clamp(0.0, 1.0);
        let picked: Vec<usize> = {
            let mut rng = lock(&self.rng);
            (0..items.len())
                .filter(|&i| {
                    if verdicts[i].is_valid() {
                        rate > 0.0 && rng.gen_bool(rate)
                    } else {
                        self.config.recheck_invalid
                    }
                })
                .collect()
        };
        if picked.is_empty() {
            return Ok(());
        }
        add(&slot.metrics.recheck_items, picked.len() as u64);
        let subset: Vec<PreparedVerify> = picked.iter().map(|&i| items[i].clone()).collect();
        let truth = verify_run(&subset);
        match picked.iter().zip(&truth).find(|(&i, t)| verdicts[i] != **t) {
            None => Ok(()),
            Some((&i, t)) => Err(Failure::Wrong {
                canary: false,
                why: format!("item {i}: device said {}, the CPU {t}", verdicts[i]),
            }),
        }
    }

    fn cpu_sm3(&self, msgs: &[&[u8]]) -> Vec<Digest> {
        let slot = &self.slots[self.cpu];
        let batch: MessageBatch = msgs.iter().copied().collect();
        let t0 = Instant::now();
        let out = match slot.backend.sm3_batch(&batch) {
            Ok(d) if d.len() == msgs.len() => d,
            _ => {
                debug!(backend = %slot.name, messages = msgs.len(), "CPU backend failed; the kernels answer directly");
                sm3::digest_batch(msgs)
            }
        };
        self.record(slot, Work::Sm3, msgs.len(), msgs.len(), t0.elapsed());
        out
    }

    /// SM3 of `msgs` on `slot`'s device, except the messages longer than it takes
    /// ([`Backend::max_message_bytes`]), which are hashed on the CPU: one long message is no
    /// reason to move the whole share, nor to fail the device.
    fn device_sm3(&self, slot: &Slot, msgs: &[&[u8]]) -> Result<Vec<Digest>, Failure> {
        let limit = slot.backend.max_message_bytes();
        if msgs.iter().all(|m| m.len() <= limit) {
            return self.device_sm3_fitting(slot, msgs, limit);
        }
        let (long, fitting): (Vec<&[u8]>, Vec<&[u8]>) = msgs.iter().partition(|m| m.len() > limit);
        debug!(backend = %slot.name, messages = long.len(), limit, "messages longer than the device takes: hashed on the CPU");
        let mut on_device = self.device_sm3_fitting(slot, &fitting, limit)?.into_iter();
        let mut on_cpu = self.cpu_sm3(&long).into_iter();
        // Back in input order: each message's digest comes from where it went.
        msgs.iter()
            .map(|m| if m.len() > limit { on_cpu.next() } else { on_device.next() })
            .collect::<Option<Vec<Digest>>>()
            // Unreachable: both sides answer one digest per message (checked, or the CPU's).
            .ok_or_else(|| Failure::Error(AccelError::Corrupt("fewer digests than messages".to_string())))
    }

    /// SM3 of `msgs`, each at most `limit` bytes, on `slot`'s device, with canaries.
    fn device_sm3_fitting(&self, slot: &Slot, msgs: &[&[u8]], limit: usize) -> Result<Vec<Digest>, Failure> {
        if msgs.is_empty() {
            return Ok(Vec::new());
        }
        let k = self.config.canaries;
        let per_call = slot.backend.info().max_batch.saturating_sub(k).max(1);
        let mut out = Vec::with_capacity(msgs.len());
        for part in msgs.chunks(per_call) {
            // Canary messages: random bytes of a length drawn from the real ones, at random
            // positions; their digests come from the CPU.
            let (canaries, positions, spot) = {
                let mut rng = lock(&self.rng);
                let positions = canary::positions(part.len(), k, &mut rng);
                let canaries: Vec<Vec<u8>> = (0..k)
                    .map(|_| {
                        let len = part[rng.gen_range(0..part.len())].len().min(4096).min(limit);
                        (0..len).map(|_| rng.gen()).collect()
                    })
                    .collect();
                let spot: Vec<usize> = (0..k.min(part.len())).map(|_| rng.gen_range(0..part.len())).collect();
                (canaries, positions, spot)
            };
            let batch: MessageBatch =
                canary::interleave(part.iter().copied(), canaries.iter().map(Vec::as_slice), &positions)
                    .into_iter()
                    .collect();
            add(&slot.metrics.canary_items, k as u64);
            let t0 = Instant::now();
            let digests = slot.backend.sm3_batch(&batch).map_err(Failure::Error)?;
            let took = t0.elapsed();
            if digests.len() != batch.len() {
                return Err(Failure::Error(AccelError::Corrupt(format!(
                    "{} digests for {} messages",
                    digests.len(),
                    batch.len()
                ))));
            }
            let (mine, came_back) = canary::separate(digests, &positions);
            for ((msg, got), pos) in canaries.iter().zip(&came_back).zip(&positions) {
                if sm3::digest(msg) != *got {
                    return Err(Failure::Wrong { canary: true, why: format!("SM3 canary at {pos} differs") });
                }
            }
            add(&slot.metrics.recheck_items, spot.len() as u64);
            if let Some(&i) = spot.iter().find(|&&i| sm3::digest(part[i]) != mine[i]) {
                return Err(Failure::Wrong { canary: false, why: format!("SM3 of message {i} differs") });
            }
            self.record(slot, Work::Sm3, part.len(), batch.len(), took);
            out.extend(mine);
        }
        Ok(out)
    }

    fn cpu_merkle(&self, nodes: &[Digest]) -> Vec<Digest> {
        let slot = &self.slots[self.cpu];
        let t0 = Instant::now();
        let want = nodes.len().div_ceil(2);
        let out = match slot.backend.merkle_level(nodes) {
            Ok(l) if l.len() == want => l,
            _ => {
                debug!(backend = %slot.name, nodes = nodes.len(), "CPU backend failed; the kernels answer directly");
                merkle::parent_level(nodes)
            }
        };
        self.record(slot, Work::Merkle, nodes.len(), nodes.len(), t0.elapsed());
        out
    }

    fn device_merkle(&self, slot: &Slot, nodes: &[Digest]) -> Result<Vec<Digest>, Failure> {
        let t0 = Instant::now();
        let level = slot.backend.merkle_level(nodes).map_err(Failure::Error)?;
        let took = t0.elapsed();
        if level.len() != nodes.len().div_ceil(2) {
            return Err(Failure::Error(AccelError::Corrupt(format!(
                "{} parents for {} nodes",
                level.len(),
                nodes.len()
            ))));
        }
        // Spot-check random parents (and the carried odd node) on the CPU.
        let k = self.config.canaries.max(1);
        let picks: Vec<usize> = {
            let mut rng = lock(&self.rng);
            (0..k).map(|_| rng.gen_range(0..level.len())).collect()
        };
        add(&slot.metrics.recheck_items, picks.len() as u64);
        for p in picks {
            let want = match nodes.get(2 * p + 1) {
                Some(right) => merkle::node_hash(&nodes[2 * p], right),
                None => nodes[2 * p],
            };
            if level[p] != want {
                return Err(Failure::Wrong { canary: false, why: format!("Merkle parent {p} differs") });
            }
        }
        self.record(slot, Work::Merkle, nodes.len(), nodes.len(), took);
        Ok(level)
    }
}
