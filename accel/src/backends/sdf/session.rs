//! The session pool: N worker threads, each the only user of its own SDF session, a watchdog
//! on every answer, and a failed session closed and reopened after a back-off.
//!
//! ```text
//!  verify / sm3 / run_one (any caller thread)
//!     │ split into one run per live worker
//!     v
//!  worker 0 ─ Session ─ SDF_* ─┐   answer by channel ──> in order to the caller
//!  worker 1 ─ Session ─ SDF_* ─┤   watchdog: a worker that finishes no call for `watchdog` while
//!  ...                         │   the caller waits is hung: AccelError::Timeout, and the worker is
//!  worker N ─ Session ─ SDF_* ─┘   retired (it exits when its call returns) and replaced
//!                                  a device code: the session is closed, reopened at the next
//!                                  job after 50 ms, 100 ms, ... up to 5 s of back-off
//! ```
//!
//! The watchdog times calls, not batches: a batch of 10,000 on a slow but working card is never
//! a timeout, a call stuck for `watchdog` always is, whatever the batch size.
//!
//! Owns: threads, the watchdog, back-off, and which device codes mean "does not
//! verify" (`invalid_codes`; any other non-OK code fails the run). Never: verdicts' reasons or
//! host-side checks (that is `mod.rs`). Why threads that own sessions: GM/T 0018 keeps a hash in
//! progress and key access rights in the session, and calls block with no timeout of their own
//! (network HSM libraries wait up to 60 s), so a caller must be able to stop waiting without
//! the session being used by anyone else meanwhile.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::thread;
use std::time::{Duration, Instant};

use tracing::{debug, warn};
use xinlian_hw_sim::sdf_abi::{DeviceInfo, EccRefPublicKey, EccSignature, FieldLayout, SDR_OK};
use zeroize::Zeroizing;

use super::ffi::{CallError, SdfDevice, Session};
use crate::backend::AccelError;
use crate::MessageBatch;

/// First wait before a failed session is reopened; doubled per failure in a row.
const BACKOFF_INITIAL: Duration = Duration::from_millis(50);
/// Longest such wait.
const BACKOFF_MAX: Duration = Duration::from_secs(5);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every value behind these locks is replaced whole; a poisoned one is still consistent.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A signing key whose access right every session of the pool takes when it opens.
pub(crate) struct KeyAccess {
    /// The key's index in the card.
    pub(crate) index: u32,
    /// Its access password (cleared from memory on drop).
    pub(crate) password: Zeroizing<Vec<u8>>,
}

/// How the pool runs.
pub(crate) struct PoolConfig {
    /// The struct layout the library reads.
    pub(crate) layout: FieldLayout,
    /// Codes of `SDF_ExternalVerify_ECC` that mean "does not verify".
    pub(crate) invalid_codes: Vec<u32>,
    /// A worker that finishes no call for this long while a caller waits on it is hung.
    pub(crate) watchdog: Duration,
    /// Largest `SDF_HashUpdate` at first ([`SessionPool::set_hash_piece`] lowers it).
    pub(crate) hash_piece: usize,
    /// A key to take the access right of in every session.
    pub(crate) key: Option<KeyAccess>,
}

/// One verification, in the standard's structs.
pub(crate) struct VerifyCall {
    pub(crate) key: EccRefPublicKey,
    pub(crate) e: [u8; 32],
    pub(crate) sig: EccSignature,
}

/// Work for one worker.
pub(crate) enum Task {
    /// `SDF_ExternalVerify_ECC` per item.
    Verify(Vec<VerifyCall>),
    /// SM3 per message (packed bytes and end offsets).
    Sm3 { data: Vec<u8>, ends: Vec<usize> },
    /// `SDF_InternalSign_ECC` over e with the pool's key.
    Sign([u8; 32]),
    /// `SDF_ExportSignPublicKey_ECC` of the pool's key.
    PublicKey,
    /// `SDF_GetDeviceInfo`.
    DeviceInfo,
}

/// A worker's answer.
pub(crate) enum Answer {
    /// Per item: verifies or not.
    Verify(Vec<bool>),
    /// Per message.
    Sm3(Vec<[u8; 32]>),
    /// (r, s).
    Signature([u8; 32], [u8; 32]),
    /// (x, y).
    PublicKey([u8; 32], [u8; 32]),
    /// As the library reported it.
    DeviceInfo(DeviceInfo),
}

/// Why a worker could not answer.
enum Failure {
    Call(CallError),
    Panicked(String),
}

struct Job {
    task: Task,
    reply: SyncSender<Result<Answer, Failure>>,
}

#[derive(Default)]
struct WorkerState {
    retired: AtomicBool,
    /// When the worker last finished a call (or took a job), ns since the pool started.
    progress_ns: AtomicU64,
    /// While set and in the future, the session is down and the worker gets no work.
    down_until: Mutex<Option<Instant>>,
    last_failure: Mutex<String>,
}

#[derive(Clone)]
struct Worker {
    jobs: Sender<Job>,
    state: Arc<WorkerState>,
}

struct Shared {
    device: Arc<SdfDevice>,
    config: PoolConfig,
    hash_piece: AtomicUsize,
    started: Instant,
}

impl Shared {
    fn now_ns(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// The pool.
pub(crate) struct SessionPool {
    shared: Arc<Shared>,
    workers: RwLock<Vec<Worker>>,
    spawned: AtomicUsize,
}

impl SessionPool {
    /// A pool of one worker (grow it with [`SessionPool::grow_to`]).
    pub(crate) fn start(device: Arc<SdfDevice>, config: PoolConfig) -> Result<SessionPool, AccelError> {
        let pool = SessionPool {
            shared: Arc::new(Shared {
                hash_piece: AtomicUsize::new(config.hash_piece),
                device,
                config,
                started: Instant::now(),
            }),
            workers: RwLock::new(Vec::new()),
            spawned: AtomicUsize::new(0),
        };
        pool.grow_to(1)?;
        Ok(pool)
    }

    /// Add workers until there are `n`.
    pub(crate) fn grow_to(&self, n: usize) -> Result<(), AccelError> {
        let mut workers = self.workers.write().unwrap_or_else(|p| p.into_inner());
        while workers.len() < n {
            workers.push(self.spawn()?);
        }
        Ok(())
    }

    /// Hash in `SDF_HashUpdate` pieces of at most `bytes` (at least 1).
    pub(crate) fn set_hash_piece(&self, bytes: usize) {
        self.shared.hash_piece.store(bytes.max(1), Ordering::Relaxed);
    }

    /// Workers (sessions) in the pool.
    pub(crate) fn size(&self) -> usize {
        self.workers.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    fn path(&self) -> &std::path::Path {
        self.shared.device.library().path()
    }

    fn spawn(&self) -> Result<Worker, AccelError> {
        let (jobs, rx) = mpsc::channel();
        let state = Arc::new(WorkerState::default());
        let (shared, st) = (Arc::clone(&self.shared), Arc::clone(&state));
        let n = self.spawned.fetch_add(1, Ordering::Relaxed);
        thread::Builder::new().name(format!("sdf-session-{n}")).spawn(move || worker_loop(&shared, &st, &rx)).map_err(
            |e| AccelError::DeviceLost(format!("SDF {}: cannot start a session thread: {e}", self.path().display())),
        )?;
        Ok(Worker { jobs, state })
    }

    /// Workers that take work now (not retired, session not backing off), by slot.
    fn live(&self) -> Result<Vec<(usize, Worker)>, AccelError> {
        let workers = self.workers.read().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let live: Vec<(usize, Worker)> = workers
            .iter()
            .enumerate()
            .filter(|(_, w)| {
                !w.state.retired.load(Ordering::Acquire) && lock(&w.state.down_until).is_none_or(|t| now >= t)
            })
            .map(|(i, w)| (i, w.clone()))
            .collect();
        if live.is_empty() {
            let last = workers.iter().map(|w| lock(&w.state.last_failure).clone()).find(|f| !f.is_empty());
            return Err(AccelError::DeviceLost(format!(
                "SDF {}: every session is down and backing off (last failure: {})",
                self.path().display(),
                last.unwrap_or_else(|| "none recorded".to_string())
            )));
        }
        Ok(live)
    }

    /// Retire the worker in `slot` (if it is still `worker`) and put a fresh one in its place;
    /// `why` goes to the log.
    fn retire(&self, slot: usize, worker: &Worker, why: &str) {
        worker.state.retired.store(true, Ordering::Release);
        let mut workers = self.workers.write().unwrap_or_else(|p| p.into_inner());
        if workers.get(slot).is_some_and(|w| Arc::ptr_eq(&w.state, &worker.state)) {
            // Without a fresh thread the slot keeps the retired worker, which `live` skips.
            match self.spawn() {
                Ok(fresh) => {
                    workers[slot] = fresh;
                    warn!(backend = "sdf", library = %self.path().display(), slot, reason = why, "SDF session worker replaced");
                }
                Err(e) => warn!(
                    backend = "sdf",
                    library = %self.path().display(),
                    slot,
                    reason = why,
                    error = %e,
                    "SDF session worker retired; no fresh one started"
                ),
            }
        }
    }

    /// Send each task to its worker, then collect the answers in order.
    fn run(&self, live: Vec<(usize, Worker)>, tasks: Vec<Task>) -> Result<Vec<Answer>, AccelError> {
        let mut waits = Vec::with_capacity(tasks.len());
        for ((slot, worker), task) in live.into_iter().zip(tasks) {
            let (reply, answer) = mpsc::sync_channel(1);
            let sent = self.shared.now_ns();
            if worker.jobs.send(Job { task, reply }).is_err() {
                // Its thread is gone: put a fresh worker in its place for the next batch.
                self.retire(slot, &worker, "its thread had ended");
                return Err(self.gone());
            }
            waits.push((slot, worker, answer, sent));
        }
        let mut answers = Vec::with_capacity(waits.len());
        for (slot, worker, answer, sent) in waits {
            answers.push(self.wait(slot, &worker, &answer, sent)?);
        }
        Ok(answers)
    }

    /// One answer, for as long as its worker keeps finishing calls (the watchdog).
    fn wait(
        &self,
        slot: usize,
        worker: &Worker,
        answer: &Receiver<Result<Answer, Failure>>,
        sent_ns: u64,
    ) -> Result<Answer, AccelError> {
        let watchdog = self.shared.config.watchdog;
        let poll = (watchdog / 4).clamp(Duration::from_millis(1), Duration::from_millis(100));
        loop {
            match answer.recv_timeout(poll) {
                Ok(Ok(a)) => return Ok(a),
                Ok(Err(Failure::Call(e))) => return Err(e.into_accel(self.path())),
                Ok(Err(Failure::Panicked(why))) => {
                    return Err(AccelError::DeviceLost(format!(
                        "SDF {}: a session worker panicked: {why}",
                        self.path().display()
                    )))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.retire(slot, worker, "its thread ended without an answer");
                    return Err(self.gone());
                }
                Err(RecvTimeoutError::Timeout) => {
                    let now = self.shared.now_ns();
                    let last = worker.state.progress_ns.load(Ordering::Acquire).max(sent_ns);
                    if Duration::from_nanos(now.saturating_sub(last)) >= watchdog {
                        self.retire(slot, worker, "hung: no call finished within the watchdog");
                        let waited = Duration::from_nanos(now.saturating_sub(sent_ns));
                        return Err(AccelError::Timeout {
                            millis: u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
                        });
                    }
                }
            }
        }
    }

    fn gone(&self) -> AccelError {
        AccelError::DeviceLost(format!(
            "SDF {}: a session worker is gone (retired after a hang, or its thread ended)",
            self.path().display()
        ))
    }

    /// One verification per call, spread over the live sessions: whether each verifies.
    pub(crate) fn verify(&self, calls: Vec<VerifyCall>) -> Result<Vec<bool>, AccelError> {
        if calls.is_empty() {
            return Ok(Vec::new());
        }
        let live = self.live()?;
        let per = calls.len().div_ceil(live.len());
        let mut parts = Vec::with_capacity(live.len());
        let mut rest = calls.into_iter();
        loop {
            let part: Vec<VerifyCall> = rest.by_ref().take(per).collect();
            if part.is_empty() {
                break;
            }
            parts.push(Task::Verify(part));
        }
        let mut out = Vec::new();
        for answer in self.run(live, parts)? {
            match answer {
                Answer::Verify(v) => out.extend(v),
                _ => return Err(self.wrong_answer()),
            }
        }
        Ok(out)
    }

    /// SM3 of each message, spread over the live sessions in runs of about equal bytes.
    pub(crate) fn sm3(&self, msgs: &MessageBatch) -> Result<Vec<[u8; 32]>, AccelError> {
        if msgs.is_empty() {
            return Ok(Vec::new());
        }
        let live = self.live()?;
        let share = msgs.total_bytes().div_ceil(live.len()).max(1);
        let mut parts = Vec::with_capacity(live.len());
        let (mut data, mut ends) = (Vec::new(), Vec::new());
        for m in msgs.iter() {
            data.extend_from_slice(m);
            ends.push(data.len());
            if data.len() >= share && parts.len() + 1 < live.len() {
                parts.push(Task::Sm3 { data: std::mem::take(&mut data), ends: std::mem::take(&mut ends) });
            }
        }
        if !ends.is_empty() {
            parts.push(Task::Sm3 { data, ends });
        }
        let mut out = Vec::with_capacity(msgs.len());
        for answer in self.run(live, parts)? {
            match answer {
                Answer::Sm3(d) => out.extend(d),
                _ => return Err(self.wrong_answer()),
            }
        }
        Ok(out)
    }

    /// One task on one live session.
    pub(crate) fn run_one(&self, task: Task) -> Result<Answer, AccelError> {
        let live: Vec<(usize, Worker)> = self.live()?.into_iter().take(1).collect();
        self.run(live, vec![task])?.pop().ok_or_else(|| self.wrong_answer())
    }

    fn wrong_answer(&self) -> AccelError {
        AccelError::Corrupt(format!("SDF {}: a session worker answered another task", self.path().display()))
    }
}

/// A worker's session and its failure streak.
struct Slot {
    session: Option<Session>,
    failures: u32,
}

fn worker_loop(shared: &Shared, state: &WorkerState, jobs: &Receiver<Job>) {
    let mut slot = Slot { session: None, failures: 0 };
    while let Ok(job) = jobs.recv() {
        // A retired worker answers nothing more: the callers of its queued jobs see the
        // channel close (DeviceLost) rather than wait for their deadlines.
        if state.retired.load(Ordering::Acquire) {
            break;
        }
        state.progress_ns.store(shared.now_ns(), Ordering::Release);
        let result = slot.serve(shared, state, &job.task);
        // The caller may have stopped waiting (a deadline passed): nothing to do then.
        let _ = job.reply.send(result);
    }
}

fn panic_text(p: &(dyn Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
}

impl Slot {
    fn serve(&mut self, shared: &Shared, state: &WorkerState, task: &Task) -> Result<Answer, Failure> {
        if self.session.is_none() {
            self.open(shared, state)?;
        }
        let session = self.session.as_ref().ok_or_else(|| Failure::Panicked("no session after opening".into()))?;
        // After each call: progress for the watchdog, and whether to go on (a retired worker
        // makes no more calls to a card that just hung).
        let tick = || {
            state.progress_ns.store(shared.now_ns(), Ordering::Release);
            !state.retired.load(Ordering::Acquire)
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| execute(session, shared, task, &tick)));
        let failure = match outcome {
            Ok(Ok(answer)) => {
                self.failures = 0;
                return Ok(answer);
            }
            Ok(Err(e)) => Failure::Call(e),
            Err(p) => Failure::Panicked(panic_text(p.as_ref())),
        };
        self.fail(shared, state, &failure);
        Err(failure)
    }

    /// Open a session and take the pool's key access right in it.
    fn open(&mut self, shared: &Shared, state: &WorkerState) -> Result<(), Failure> {
        let opened = Session::open(&shared.device, shared.config.layout).and_then(|s| {
            if let Some(key) = &shared.config.key {
                s.get_access_right(key.index, &key.password)?;
            }
            Ok(s)
        });
        match opened {
            Ok(s) => {
                self.session = Some(s);
                *lock(&state.down_until) = None;
                Ok(())
            }
            Err(e) => {
                let failure = Failure::Call(e);
                self.fail(shared, state, &failure);
                Err(failure)
            }
        }
    }

    /// Close the session (a device code leaves it in an unknown state) and back off.
    fn fail(&mut self, shared: &Shared, state: &WorkerState, failure: &Failure) {
        self.session = None;
        self.failures = self.failures.saturating_add(1);
        let backoff = BACKOFF_INITIAL.saturating_mul(1 << self.failures.min(16).saturating_sub(1)).min(BACKOFF_MAX);
        *lock(&state.down_until) = Some(Instant::now() + backoff);
        let why = match failure {
            Failure::Call(e) => e.to_string(),
            Failure::Panicked(why) => format!("panic: {why}"),
        };
        debug!(
            backend = "sdf",
            library = %shared.device.library().path().display(),
            failures = self.failures,
            backoff_ms = u64::try_from(backoff.as_millis()).unwrap_or(u64::MAX),
            reason = %why,
            "SDF session closed; reopened after its back-off"
        );
        *lock(&state.last_failure) = why;
    }
}

/// Run a task's SDF calls on this thread's session; `tick` after each finished call (false:
/// stop, the worker was retired).
fn execute(session: &Session, shared: &Shared, task: &Task, tick: &dyn Fn() -> bool) -> Result<Answer, CallError> {
    let config = &shared.config;
    let retired = || CallError::answer("(session worker)", "a stop: the worker was retired after a hang".into());
    let key_index =
        || config.key.as_ref().map(|k| k.index).ok_or_else(|| CallError::answer("(signer)", "no key".into()));
    match task {
        Task::Verify(calls) => calls
            .iter()
            .map(|c| {
                let code = session.external_verify(&c.key, &c.e, &c.sig);
                if !tick() {
                    return Err(retired());
                }
                match code {
                    SDR_OK => Ok(true),
                    code if config.invalid_codes.contains(&code) => Ok(false),
                    code => Err(CallError::returned("SDF_ExternalVerify_ECC", code)),
                }
            })
            .collect::<Result<Vec<bool>, CallError>>()
            .map(Answer::Verify),
        Task::Sm3 { data, ends } => {
            let mut start = 0;
            let mut digests = Vec::with_capacity(ends.len());
            for &end in ends {
                digests.push(session.sm3(&data[start..end], shared.hash_piece.load(Ordering::Relaxed))?);
                if !tick() {
                    return Err(retired());
                }
                start = end;
            }
            Ok(Answer::Sm3(digests))
        }
        Task::Sign(e) => session.internal_sign(key_index()?, e).map(|(r, s)| Answer::Signature(r, s)),
        Task::PublicKey => session.export_sign_public_key(key_index()?).map(|(x, y)| Answer::PublicKey(x, y)),
        Task::DeviceInfo => session.device_info().map(Answer::DeviceInfo),
    }
}
