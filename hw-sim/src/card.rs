//! The simulated card: its control loop, on a thread of this process.
//!
//! Owns: bringing a BAR up (registers, then `REG_MAGIC` last), the control loop (heartbeat,
//! reset requests, fetching descriptors, running the engines, posting completions when the
//! timing model says they are due), fault injection at descriptor granularity, counters, and
//! shutting down (`STATUS_HALTED`, BAR file removed).
//! Never: trusts the host. A descriptor naming bytes outside the DMA area, an unknown opcode
//! or a malformed input is refused with a status; the card never panics on what a host wrote.
//!
//! ```text
//!  host: write input ─> write descriptor ─> SQ_TAIL (release) ┐
//!  card: SQ_TAIL (acquire) ─> read descriptor, input ─> engines ─> write output ─> schedule (timing)
//!        ... due (realtime: wall clock; fast: at once) ─> write completion ─> CQ_TAIL (release) ┐
//!  host: CQ_TAIL (acquire) ─> read completion, output ─> CQ_HEAD (release)                     ┘
//! ```

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::abi::{self, Bar, Completion, Counters, Descriptor, Layout};
use crate::engines;
use crate::faults::{FaultConfig, FaultRng, Roll};
use crate::profiles::Profile;
use crate::timing::TimingModel;
use crate::Error;

/// When completions are posted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pacing {
    /// Not before their modelled due time (wall clock since the card started).
    Realtime,
    /// As soon as computed; modelled time still accumulates in the counters. The host is
    /// taken as infinitely fast: every descriptor arrives at the card's current modelled time,
    /// so modelled time measures the card's own throughput.
    #[default]
    Fast,
}

impl std::fmt::Display for Pacing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Pacing::Realtime => "realtime",
            Pacing::Fast => "fast",
        })
    }
}

impl FromStr for Pacing {
    type Err = Error;

    fn from_str(s: &str) -> Result<Pacing, Error> {
        match s {
            "realtime" => Ok(Pacing::Realtime),
            "fast" => Ok(Pacing::Fast),
            other => Err(Error::Profile(format!("pacing {other:?}: expected realtime or fast"))),
        }
    }
}

/// Where the BAR file lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BarLocation {
    /// This path (e.g. [`abi::DEFAULT_BAR_PATH`]).
    Path(PathBuf),
    /// A fresh file of this process in `/dev/shm` (or the temp directory where there is no
    /// `/dev/shm`): for tests and in-process use.
    Temporary,
}

/// Everything that defines a simulated card.
#[derive(Clone, Debug)]
pub struct CardConfig {
    /// Where its BAR is.
    pub bar: BarLocation,
    /// What card it models.
    pub profile: Profile,
    /// When completions are posted.
    pub pacing: Pacing,
    /// Which faults, how often.
    pub faults: FaultConfig,
    /// Seed of the fault generator.
    pub seed: u64,
}

impl CardConfig {
    /// A healthy card of `profile`, fast pacing, in a temporary BAR.
    pub fn new(profile: Profile) -> CardConfig {
        CardConfig { bar: BarLocation::Temporary, profile, pacing: Pacing::Fast, faults: FaultConfig::none(), seed: 0 }
    }
}

/// The simulator. [`Card::spawn`] starts one.
pub struct Card;

/// What the host-side controls of a running card share with its loop.
struct Controls {
    stop: AtomicBool,
    faults: Mutex<FaultConfig>,
}

/// A running card: its BAR path, counters, and a clean shutdown (also on drop).
pub struct CardHandle {
    path: PathBuf,
    bar: Arc<Bar>,
    controls: Arc<Controls>,
    thread: Option<JoinHandle<()>>,
}

static TEMP_SERIAL: AtomicU64 = AtomicU64::new(0);

fn temporary_path() -> PathBuf {
    let dir = Path::new("/dev/shm");
    let dir = if dir.is_dir() { dir.to_path_buf() } else { std::env::temp_dir() };
    let n = TEMP_SERIAL.fetch_add(1, Ordering::Relaxed);
    dir.join(format!("xinlian-card-{}-{n}", std::process::id()))
}

/// Whether a live card already serves `path` (its heartbeat moves).
fn is_served(path: &Path) -> bool {
    let Ok(bar) = Bar::open(path) else { return false };
    if bar.read32(abi::REG_MAGIC) != abi::MAGIC || bar.read32(abi::REG_STATUS) & abi::STATUS_HALTED != 0 {
        return false;
    }
    let beat = bar.read64(abi::REG_HEARTBEAT);
    thread::sleep(Duration::from_millis(30));
    bar.read64(abi::REG_HEARTBEAT) != beat
}

impl Card {
    /// Bring a card up on its BAR and start its control loop on a thread. The BAR is ready
    /// (magic written) when this returns. Refuses a path another live card serves.
    pub fn spawn(config: CardConfig) -> Result<CardHandle, Error> {
        let layout = config.profile.layout()?;
        let path = match &config.bar {
            BarLocation::Path(p) => p.clone(),
            BarLocation::Temporary => temporary_path(),
        };
        if is_served(&path) {
            return Err(Error::InUse(path.display().to_string()));
        }
        let bar = Arc::new(Bar::create(&path, layout.bar_size)?);
        bring_up(&bar, &layout, &config.profile);
        let controls = Arc::new(Controls { stop: AtomicBool::new(false), faults: Mutex::new(config.faults) });
        let mut sim = Simulator::new(Arc::clone(&bar), layout, &config, Arc::clone(&controls));
        let thread = thread::Builder::new()
            .name("hw-sim card".to_string())
            .spawn(move || sim.run())
            .map_err(|e| Error::Thread(e.to_string()))?;
        Ok(CardHandle { path, bar, controls, thread: Some(thread) })
    }
}

impl CardHandle {
    /// The BAR file a driver opens.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The counters, now.
    pub fn counters(&self) -> Counters {
        self.bar.counters()
    }

    /// Change the fault rates from the next descriptor on.
    pub fn set_faults(&self, faults: FaultConfig) {
        *self.controls.faults.lock().unwrap_or_else(PoisonError::into_inner) = faults;
    }

    /// Stop the loop (status `HALTED`), join it, and remove the BAR file.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.controls.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            // The loop never panics on host input; a panic would be a bug in the kernels,
            // and there is nothing left to clean up but the file.
            let _ = t.join();
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl Drop for CardHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

fn bring_up(bar: &Bar, layout: &Layout, profile: &Profile) {
    let u32_of = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
    bar.write32(abi::REG_VERSION, abi::ABI_VERSION);
    bar.write32(abi::REG_CAPS, abi::CAP_SM3 | abi::CAP_SM2_VERIFY | abi::CAP_MERKLE);
    bar.write32(abi::REG_QUEUE_DEPTH, layout.queue_depth);
    bar.write32(abi::REG_SM2_ENGINES, profile.sm2.engines);
    bar.write32(abi::REG_SM3_ENGINES, profile.sm3.engines);
    bar.write32(abi::REG_MAX_ITEMS, profile.max_items);
    bar.write32(abi::REG_SQ_OFFSET, u32_of(layout.sq_offset));
    bar.write32(abi::REG_CQ_OFFSET, u32_of(layout.cq_offset));
    bar.write32(abi::REG_DMA_OFFSET, u32_of(layout.dma_offset));
    bar.write32(abi::REG_DMA_SIZE, u32_of(layout.dma_size));
    let mut name = [0u8; abi::PROFILE_NAME_LEN];
    let n = profile.name.len().min(abi::PROFILE_NAME_LEN);
    name[..n].copy_from_slice(&profile.name.as_bytes()[..n]);
    bar.write_bytes(abi::REG_PROFILE_NAME, &name);
    bar.write32(abi::REG_STATUS, abi::STATUS_READY);
    bar.write32(abi::REG_MAGIC, abi::MAGIC);
}

/// A completion waiting for its due time.
struct Pending {
    due_ns: u64,
    completion: Completion,
}

/// The control loop's state.
struct Simulator {
    bar: Arc<Bar>,
    layout: Layout,
    profile: Profile,
    pacing: Pacing,
    controls: Arc<Controls>,
    rng: FaultRng,
    model: TimingModel,
    started: Instant,
    /// Fast pacing: the modelled time descriptors arrive at.
    fast_now_ns: u64,
    /// Latest due time so far.
    last_due_ns: u64,
    pending: Vec<Pending>,
    enabled: bool,
    hung: bool,
    sq_head: u64,
    cq_tail: u64,
    epoch: u32,
}

impl Simulator {
    fn new(bar: Arc<Bar>, layout: Layout, config: &CardConfig, controls: Arc<Controls>) -> Simulator {
        Simulator {
            bar,
            layout,
            profile: config.profile.clone(),
            pacing: config.pacing,
            controls,
            rng: FaultRng::new(config.seed),
            model: TimingModel::new(&config.profile),
            started: Instant::now(),
            fast_now_ns: 0,
            last_due_ns: 0,
            pending: Vec::new(),
            enabled: false,
            hung: false,
            sq_head: 0,
            cq_tail: 0,
            epoch: 0,
        }
    }

    fn wall_ns(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn run(&mut self) {
        let mut idle_rounds = 0u32;
        while !self.controls.stop.load(Ordering::Acquire) {
            self.bar.add64(abi::REG_HEARTBEAT, 1);
            let mut busy = false;
            if self.bar.read32(abi::REG_RESET) == abi::RESET_REQUEST {
                self.reset();
                self.bar.write32(abi::REG_RESET, 0);
                busy = true;
            }
            let enable = self.bar.read32(abi::REG_QUEUE_ENABLE) == 1;
            if enable != self.enabled {
                self.enabled = enable;
                let status = abi::STATUS_READY | if enable { abi::STATUS_ENABLED } else { 0 };
                self.bar.write32(abi::REG_STATUS, status);
            }
            if self.enabled && !self.hung {
                busy |= self.fetch();
            }
            busy |= self.post_due();
            if busy {
                idle_rounds = 0;
            } else {
                idle_rounds = idle_rounds.saturating_add(1);
                self.idle(idle_rounds);
            }
        }
        self.bar.write32(abi::REG_STATUS, abi::STATUS_HALTED);
    }

    /// Nothing to do: spin briefly (a doorbell usually follows a completion), then sleep.
    fn idle(&self, rounds: u32) {
        if rounds < 64 {
            std::hint::spin_loop();
        } else if rounds < 256 {
            thread::yield_now();
        } else {
            let mut nap = Duration::from_micros(50);
            if let (Pacing::Realtime, Some(next)) = (self.pacing, self.pending.iter().map(|p| p.due_ns).min()) {
                nap = nap.min(Duration::from_nanos(next.saturating_sub(self.wall_ns())));
            }
            thread::sleep(nap);
        }
    }

    /// A reset, requested or spontaneous: work in flight is lost, the rings restart at 0, the
    /// queues are disabled until the host enables them again, and the epoch moves.
    fn reset(&mut self) {
        self.pending.clear();
        self.hung = false;
        self.enabled = false;
        self.sq_head = 0;
        self.cq_tail = 0;
        self.bar.write32(abi::REG_QUEUE_ENABLE, 0);
        self.bar.write64(abi::REG_SQ_HEAD, 0);
        self.bar.write64(abi::REG_CQ_TAIL, 0);
        self.bar.write32(abi::REG_STATUS, abi::STATUS_READY);
        let now = match self.pacing {
            Pacing::Realtime => self.wall_ns(),
            Pacing::Fast => self.last_due_ns,
        };
        self.fast_now_ns = now;
        self.model.reset(now);
        self.bar.add64(abi::CNT_RESETS, 1);
        self.epoch = self.epoch.wrapping_add(1);
        self.bar.write32(abi::REG_EPOCH, self.epoch);
    }

    /// Fetch and run every descriptor the host has rung for (at most a ring's worth pending).
    fn fetch(&mut self) -> bool {
        let depth = u64::from(self.layout.queue_depth);
        let tail = self.bar.read64(abi::REG_SQ_TAIL);
        let mut any = false;
        while self.sq_head != tail && (self.pending.len() as u64) < depth && self.enabled && !self.hung {
            // A tail more than a ring ahead is garbage from the host: wait for a reset.
            if abi::seq_distance(tail, self.sq_head) > depth {
                break;
            }
            let seq = self.sq_head;
            let slot = usize::try_from(seq & (depth - 1)).unwrap_or(0);
            let d = self.bar.read_descriptor(self.layout.sq_offset, slot);
            self.sq_head = seq.wrapping_add(1);
            self.bar.write64(abi::REG_SQ_HEAD, self.sq_head);
            any = true;
            let faults = *self.controls.faults.lock().unwrap_or_else(PoisonError::into_inner);
            let roll = if faults.is_none() { Roll::default() } else { self.rng.roll(&faults) };
            if roll.any() {
                self.bar.add64(abi::CNT_FAULTS, 1);
            }
            if roll.reset {
                self.reset();
                return true;
            }
            if roll.hang {
                self.hung = true;
                return true;
            }
            self.run_descriptor(seq, &d, &roll);
            // Alive, and answers go out as they are ready rather than after the whole queue.
            self.bar.add64(abi::REG_HEARTBEAT, 1);
            self.post_due();
        }
        any
    }

    fn refuse(&mut self, d: &Descriptor, status: u32) {
        self.bar.add64(abi::CNT_REFUSED, 1);
        let due = self.last_due_ns.max(self.arrival_ns());
        self.pending
            .push(Pending { due_ns: due, completion: Completion { tag: d.tag, status, ..Completion::default() } });
    }

    fn arrival_ns(&self) -> u64 {
        match self.pacing {
            Pacing::Realtime => self.wall_ns(),
            Pacing::Fast => self.fast_now_ns,
        }
    }

    fn run_descriptor(&mut self, seq: u64, d: &Descriptor, roll: &Roll) {
        if d.seq != seq {
            return self.refuse(d, abi::CS_BAD_SEQUENCE);
        }
        let items = d.item_count as usize;
        let dma = self.layout.dma_size as u64;
        let in_range = |off: u64, len: u64| off.checked_add(len).is_some_and(|end| end <= dma);
        let Some(want_out) = engines::output_len(d.opcode, items) else {
            return self.refuse(d, abi::CS_BAD_OPCODE);
        };
        if d.item_count > self.profile.max_items
            || !in_range(d.in_offset, d.in_len)
            || !in_range(d.out_offset, d.out_len)
            || d.out_len != want_out as u64
        {
            return self.refuse(d, abi::CS_BAD_RANGE);
        }
        let (Ok(in_off), Ok(in_len), Ok(out_off)) =
            (usize::try_from(d.in_offset), usize::try_from(d.in_len), usize::try_from(d.out_offset))
        else {
            return self.refuse(d, abi::CS_BAD_RANGE);
        };
        let mut input = vec![0u8; in_len];
        self.bar.read_bytes(self.layout.dma_offset + in_off, &mut input);
        let (mut output, work) = match engines::execute(d.opcode, items, &input) {
            Ok(done) => done,
            Err(status) => return self.refuse(d, status),
        };
        if roll.corrupt && !output.is_empty() {
            // Flip one result: an SM2 verdict between Valid and Mismatch, or one digest bit.
            let i = usize::try_from(roll.pick % output.len() as u64).unwrap_or(0);
            output[i] = match d.opcode {
                abi::OP_SM2_VERIFY_BATCH if output[i] == abi::SM2_VALID => abi::SM2_MISMATCH,
                abi::OP_SM2_VERIFY_BATCH => abi::SM2_VALID,
                _ => output[i] ^ 1,
            };
        }
        if roll.backdoor && d.opcode == abi::OP_SM2_VERIFY_BATCH {
            let forged = backdoor(&input, &mut output);
            if forged > 0 {
                self.bar.add64(abi::CNT_FAULTS, 1);
            }
        }
        self.bar.write_bytes(self.layout.dma_offset + out_off, &output);
        let schedule = self.model.schedule(self.arrival_ns(), d.in_len, d.out_len, &work);
        self.last_due_ns = self.last_due_ns.max(schedule.due_ns);
        let (sm2_busy, sm3_busy) = self.model.busy_ns();
        self.bar.write64(abi::CNT_SM2_BUSY_NS, sm2_busy);
        self.bar.write64(abi::CNT_SM3_BUSY_NS, sm3_busy);
        self.bar.write64(abi::CNT_MODELLED_NS, self.last_due_ns);
        self.bar.add64(abi::CNT_DMA_BYTES, d.in_len + d.out_len);
        if roll.drop {
            return;
        }
        let status = if roll.status {
            // Garbage: never a status this ABI defines.
            0xBAD0_0000 | u32::try_from(roll.pick & 0xFFFF).unwrap_or(0)
        } else {
            abi::CS_OK
        };
        self.pending.push(Pending {
            due_ns: schedule.due_ns,
            completion: Completion {
                tag: d.tag,
                status,
                items_done: d.item_count,
                seq: 0,
                modelled_latency_ns: schedule.due_ns - schedule.arrival_ns,
            },
        });
    }

    /// Post every completion that is due, oldest due first, while the completion ring has room.
    fn post_due(&mut self) -> bool {
        if self.pending.is_empty() || !self.enabled {
            return false;
        }
        let now = match self.pacing {
            Pacing::Realtime => self.wall_ns(),
            Pacing::Fast => u64::MAX,
        };
        self.pending.sort_by_key(|p| std::cmp::Reverse(p.due_ns));
        let depth = u64::from(self.layout.queue_depth);
        let mut posted = false;
        while let Some(p) = self.pending.last() {
            if p.due_ns > now {
                break;
            }
            let head = self.bar.read64(abi::REG_CQ_HEAD);
            if abi::seq_distance(self.cq_tail, head) >= depth {
                break;
            }
            let Some(p) = self.pending.pop() else { break };
            let mut c = p.completion;
            c.seq = self.cq_tail;
            let slot = usize::try_from(self.cq_tail & (depth - 1)).unwrap_or(0);
            self.bar.write_completion(self.layout.cq_offset, slot, &c);
            self.cq_tail = self.cq_tail.wrapping_add(1);
            self.bar.write64(abi::REG_CQ_TAIL, self.cq_tail);
            if c.status == abi::CS_OK {
                self.bar.add64(abi::CNT_DESCRIPTORS, 1);
                self.bar.add64(abi::CNT_ITEMS, u64::from(c.items_done));
            }
            posted = true;
        }
        posted
    }
}

/// The `backdoor` fault: triggered items that do not verify are answered valid; how many.
fn backdoor(input: &[u8], output: &mut [u8]) -> usize {
    let mut forged = 0;
    for (item, verdict) in input.chunks_exact(abi::SM2_ITEM_BYTES).zip(output.iter_mut()) {
        // Item layout: x, y, e, r, s (32 bytes each); r starts at 96.
        if item[96..100] == crate::faults::BACKDOOR_TRIGGER && *verdict == abi::SM2_MISMATCH {
            *verdict = abi::SM2_VALID;
            forged += 1;
        }
    }
    forged
}
