//! The card driver: the host side of the `xinlian_hw_sim::abi` rings.
//!
//! Owns: mapping and identifying a card (magic, ABI major, capabilities, layout), bringing its
//! queues up, DMA windows (the DMA area cut into one window per ring slot, a window owned by
//! one descriptor in flight), submitting descriptors, reaping completions, waiting with
//! timeouts, and recovery: a reset epoch that moved (the card reset itself) is re-initialised;
//! a timeout resets the card and re-initialises it. Every fault comes back as an
//! [`AccelError`], never as data.
//! Never: encodes or decodes item bytes (that is `card/mod.rs`), or retries work (the caller
//! decides where failed work runs).
//!
//! Concurrency: one mutex guards the host-owned indices, the window pool and the map of tags
//! in flight; any caller reaps completions for everyone, so several threads may keep
//! descriptors in flight at once, up to the card's queue depth.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use xinlian_hw_sim::abi::{self, Bar, Completion, Counters, Descriptor};

use crate::backend::AccelError;

/// A descriptor waiting this many times its allowance times out even while the card keeps
/// completing other work.
const HARD_CAP_FACTOR: u32 = 10;

/// How long the driver waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DriverConfig {
    /// A descriptor times out once the card has made no progress (no fetch, no completion)
    /// for this long and this descriptor's own allowance (`timeout + timeout_per_item x items`)
    /// has passed too; and, however busy the card is with other work, once it has waited
    /// ten times its allowance (a dropped completion among a steady stream of others).
    pub timeout: Duration,
    /// Extra allowance per item of a descriptor (slow cards, big batches).
    pub timeout_per_item: Duration,
    /// How long a requested reset may take.
    pub reset_timeout: Duration,
    /// A heartbeat that has not moved for this long means the card is gone (process dead).
    pub heartbeat_timeout: Duration,
}

impl Default for DriverConfig {
    fn default() -> DriverConfig {
        DriverConfig {
            timeout: Duration::from_secs(2),
            timeout_per_item: Duration::from_millis(1),
            reset_timeout: Duration::from_secs(2),
            heartbeat_timeout: Duration::from_secs(2),
        }
    }
}

/// What the card says about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardIdentity {
    /// ABI version (`major << 16 | minor`).
    pub version: u32,
    /// Capability bits.
    pub caps: u32,
    /// Ring depth.
    pub queue_depth: u32,
    /// SM2 engines.
    pub sm2_engines: u32,
    /// SM3 engines.
    pub sm3_engines: u32,
    /// Most items per descriptor.
    pub max_items: u32,
    /// Profile name.
    pub profile: String,
    /// Bytes in each DMA window (one per ring slot).
    pub window_bytes: usize,
}

/// One descriptor in flight.
struct Flight {
    window: usize,
    /// Where its output lies in the BAR, and how long it is.
    out_at: usize,
    out_len: usize,
    /// Its waiter gave up (error elsewhere in its batch): free the window on completion.
    abandoned: bool,
}

/// Host-owned ring state.
struct RingState {
    /// Card epoch these indices belong to.
    epoch: u32,
    sq_tail: u64,
    cq_head: u64,
    next_tag: u64,
    free_windows: Vec<usize>,
    in_flight: HashMap<u64, Flight>,
    /// Completions reaped for a waiter that has not collected them yet, with their output.
    done: HashMap<u64, (Completion, Vec<u8>)>,
    /// Last time the card showed progress (fetched or completed something, or came up).
    last_progress: Instant,
    seen_sq_head: u64,
    last_heartbeat: u64,
    heartbeat_seen_at: Instant,
}

/// A submitted descriptor: wait on it with [`CardDriver::wait`].
#[derive(Debug)]
pub struct Ticket {
    tag: u64,
    items: u32,
    out_len: usize,
    submitted: Instant,
}

/// The driver of one card.
pub struct CardDriver {
    /// Held for the driver's life: no second driver resets this card under it.
    _owner: super::owner::Ownership,
    bar: Bar,
    identity: CardIdentity,
    sq_offset: usize,
    cq_offset: usize,
    dma_offset: usize,
    config: DriverConfig,
    state: Mutex<RingState>,
}

fn lost(why: impl Into<String>) -> AccelError {
    AccelError::DeviceLost(why.into())
}

impl CardDriver {
    /// Map the BAR at `path`, check that it is a card this driver understands, and bring its
    /// queues up. Any card state left by a previous driver is reset.
    pub fn open(path: &Path, config: DriverConfig) -> Result<CardDriver, AccelError> {
        // Before anything touches the BAR: a card someone else drives is left alone.
        let owner = super::owner::Ownership::take(path)?;
        let bar = Bar::open(path).map_err(|e| lost(format!("card at {}: {e}", path.display())))?;
        let magic = bar.read32(abi::REG_MAGIC);
        if magic != abi::MAGIC {
            return Err(lost(format!("{} is not a card BAR (magic {magic:#010x})", path.display())));
        }
        let version = bar.read32(abi::REG_VERSION);
        if version >> 16 != u32::from(abi::ABI_MAJOR) {
            return Err(lost(format!(
                "card ABI version {}.{} is not understood by this driver (speaks {}.x)",
                version >> 16,
                version & 0xFFFF,
                abi::ABI_MAJOR
            )));
        }
        let status = bar.read32(abi::REG_STATUS);
        if status & abi::STATUS_HALTED != 0 || status & abi::STATUS_READY == 0 {
            return Err(lost(format!("card at {} is not running (status {status:#x})", path.display())));
        }
        let caps = bar.read32(abi::REG_CAPS);
        let need = abi::CAP_SM3 | abi::CAP_SM2_VERIFY | abi::CAP_MERKLE;
        if caps & need != need {
            return Err(lost(format!("card lacks capabilities (caps {caps:#x}, need {need:#x})")));
        }
        let queue_depth = bar.read32(abi::REG_QUEUE_DEPTH);
        let as_usize = |r| bar.read32(r) as usize;
        let (sq_offset, cq_offset, dma_offset, dma_size) = (
            as_usize(abi::REG_SQ_OFFSET),
            as_usize(abi::REG_CQ_OFFSET),
            as_usize(abi::REG_DMA_OFFSET),
            as_usize(abi::REG_DMA_SIZE),
        );
        let depth = queue_depth as usize;
        // Ring words are read as aligned atomics: a misaligned offset is refused here, never
        // left to trip the accessor's check later.
        let layout_ok = queue_depth.is_power_of_two()
            && sq_offset.is_multiple_of(abi::DESCRIPTOR_BYTES)
            && cq_offset.is_multiple_of(abi::COMPLETION_BYTES)
            && dma_offset.is_multiple_of(64)
            && sq_offset >= abi::REGS_SIZE
            && sq_offset + depth * abi::DESCRIPTOR_BYTES <= cq_offset
            && cq_offset + depth * abi::COMPLETION_BYTES <= dma_offset
            && dma_offset.checked_add(dma_size).is_some_and(|end| end <= bar.len())
            && dma_size / depth >= 4096;
        if !layout_ok {
            return Err(lost(format!(
                "card layout is inconsistent (depth {queue_depth}, sq {sq_offset:#x}, cq {cq_offset:#x}, \
                 dma {dma_offset:#x}+{dma_size:#x}, BAR {:#x})",
                bar.len()
            )));
        }
        // Windows start on 64-byte boundaries.
        let window_bytes = (dma_size / depth) & !63;
        let identity = CardIdentity {
            version,
            caps,
            queue_depth,
            sm2_engines: bar.read32(abi::REG_SM2_ENGINES),
            sm3_engines: bar.read32(abi::REG_SM3_ENGINES),
            max_items: bar.read32(abi::REG_MAX_ITEMS).max(1),
            profile: bar.profile_name(),
            window_bytes,
        };
        let now = Instant::now();
        let driver = CardDriver {
            _owner: owner,
            identity,
            sq_offset,
            cq_offset,
            dma_offset,
            config,
            state: Mutex::new(RingState {
                epoch: bar.read32(abi::REG_EPOCH),
                sq_tail: 0,
                cq_head: 0,
                next_tag: 1,
                free_windows: Vec::new(),
                in_flight: HashMap::new(),
                done: HashMap::new(),
                last_progress: now,
                seen_sq_head: 0,
                last_heartbeat: bar.read64(abi::REG_HEARTBEAT),
                heartbeat_seen_at: now,
            }),
            bar,
        };
        {
            let mut st = driver.lock();
            driver.reset_locked(&mut st)?;
        }
        Ok(driver)
    }

    /// What the card said about itself.
    pub fn identity(&self) -> &CardIdentity {
        &self.identity
    }

    /// The card's counters.
    pub fn counters(&self) -> Counters {
        self.bar.counters()
    }

    fn lock(&self) -> MutexGuard<'_, RingState> {
        // The state is consistent at every unlock (no panics mid-update), so a poisoned lock
        // still holds usable state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Forget everything in flight and start the rings at 0 for the card's current epoch.
    fn reinit_locked(&self, st: &mut RingState) {
        st.epoch = self.bar.read32(abi::REG_EPOCH);
        st.sq_tail = 0;
        st.cq_head = 0;
        st.in_flight.clear();
        st.done.clear();
        st.free_windows = (0..self.identity.queue_depth as usize).rev().collect();
        st.seen_sq_head = 0;
        st.last_progress = Instant::now();
        self.bar.write64(abi::REG_SQ_TAIL, 0);
        self.bar.write64(abi::REG_CQ_HEAD, 0);
        self.bar.write32(abi::REG_QUEUE_ENABLE, 1);
    }

    /// Ask the card to reset, wait for it, and re-initialise.
    fn reset_locked(&self, st: &mut RingState) -> Result<(), AccelError> {
        let before = self.bar.read32(abi::REG_EPOCH);
        self.bar.write32(abi::REG_RESET, abi::RESET_REQUEST);
        let deadline = Instant::now() + self.config.reset_timeout;
        loop {
            if self.bar.read32(abi::REG_RESET) == 0 && self.bar.read32(abi::REG_EPOCH) != before {
                break;
            }
            if self.bar.read32(abi::REG_STATUS) & abi::STATUS_HALTED != 0 {
                return Err(lost("card has shut down"));
            }
            if Instant::now() > deadline {
                st.in_flight.clear();
                st.done.clear();
                st.free_windows.clear();
                return Err(lost(format!("card did not complete a reset in {:?}", self.config.reset_timeout)));
            }
            thread::sleep(Duration::from_micros(50));
        }
        self.reinit_locked(st);
        Ok(())
    }

    /// Check the card is still the one whose rings we hold; re-initialise after a reset.
    fn check_card_locked(&self, st: &mut RingState) -> Result<(), AccelError> {
        if self.bar.read32(abi::REG_STATUS) & abi::STATUS_HALTED != 0 {
            return Err(lost("card has shut down"));
        }
        if st.free_windows.is_empty() && st.in_flight.is_empty() && st.done.is_empty() {
            // A reset that failed earlier left no windows: try again now.
            self.reset_locked(st)?;
        }
        let epoch = self.bar.read32(abi::REG_EPOCH);
        if epoch != st.epoch {
            let n = st.in_flight.len();
            self.reinit_locked(st);
            return Err(lost(format!("card reset itself (epoch {epoch}); {n} descriptor(s) in flight lost")));
        }
        let beat = self.bar.read64(abi::REG_HEARTBEAT);
        if beat != st.last_heartbeat {
            st.last_heartbeat = beat;
            st.heartbeat_seen_at = Instant::now();
        } else if st.heartbeat_seen_at.elapsed() > self.config.heartbeat_timeout {
            return Err(lost(format!("card heartbeat stopped for {:?}", self.config.heartbeat_timeout)));
        }
        Ok(())
    }

    /// Submit one descriptor with `input` for `item_count` items expecting `out_len` bytes
    /// back. `Ok(None)`: no window free right now (wait on a ticket you hold, then retry).
    pub fn try_submit(
        &self,
        opcode: u16,
        item_count: u32,
        input: &[u8],
        out_len: usize,
    ) -> Result<Option<Ticket>, AccelError> {
        // Work too large for the card is the caller's error, not a fault: the encoder in
        // card/mod.rs cuts batches to fit, so only a bug there could reach these.
        if item_count > self.identity.max_items {
            return Err(AccelError::BatchTooLarge { got: item_count as usize, max: self.identity.max_items as usize });
        }
        let out_offset = input.len().next_multiple_of(64);
        if out_offset + out_len > self.identity.window_bytes {
            return Err(AccelError::MessageTooLarge { bytes: out_offset + out_len, max: self.identity.window_bytes });
        }
        let mut st = self.lock();
        self.check_card_locked(&mut st)?;
        let depth = u64::from(self.identity.queue_depth);
        let sq_head = self.bar.read64(abi::REG_SQ_HEAD);
        if abi::seq_distance(st.sq_tail, sq_head) >= depth {
            return Ok(None);
        }
        if st.free_windows.is_empty() {
            self.reap_locked(&mut st);
        }
        let Some(window) = st.free_windows.pop() else { return Ok(None) };
        let base = window * self.identity.window_bytes;
        self.bar.write_bytes(self.dma_offset + base, input);
        let tag = st.next_tag;
        st.next_tag = st.next_tag.wrapping_add(1);
        let d = Descriptor {
            opcode,
            flags: 0,
            item_count,
            tag,
            in_offset: base as u64,
            in_len: input.len() as u64,
            out_offset: (base + out_offset) as u64,
            out_len: out_len as u64,
            seq: st.sq_tail,
        };
        let slot = usize::try_from(st.sq_tail & (depth - 1)).unwrap_or(0);
        self.bar.write_descriptor(self.sq_offset, slot, &d);
        st.sq_tail = st.sq_tail.wrapping_add(1);
        // The doorbell: its release store publishes the descriptor and the input bytes.
        self.bar.write64(abi::REG_SQ_TAIL, st.sq_tail);
        if st.in_flight.is_empty() {
            st.last_progress = Instant::now();
        }
        let out_at = self.dma_offset + base + out_offset;
        st.in_flight.insert(tag, Flight { window, out_at, out_len, abandoned: false });
        Ok(Some(Ticket { tag, items: item_count, out_len, submitted: Instant::now() }))
    }

    /// Take every posted completion off the ring, copying each one's output while its window
    /// is still owned.
    fn reap_locked(&self, st: &mut RingState) {
        let sq_head = self.bar.read64(abi::REG_SQ_HEAD);
        if sq_head != st.seen_sq_head {
            st.seen_sq_head = sq_head;
            st.last_progress = Instant::now();
        }
        let depth = u64::from(self.identity.queue_depth);
        let tail = self.bar.read64(abi::REG_CQ_TAIL);
        // More than a ring's worth posted cannot be: leave it to the epoch check / timeout.
        if abi::seq_distance(tail, st.cq_head) > depth {
            return;
        }
        while st.cq_head != tail {
            let slot = usize::try_from(st.cq_head & (depth - 1)).unwrap_or(0);
            let c = self.bar.read_completion(self.cq_offset, slot);
            st.cq_head = st.cq_head.wrapping_add(1);
            st.last_progress = Instant::now();
            let Some(flight) = st.in_flight.remove(&c.tag) else {
                // Not ours (stale or garbage tag): nothing waits on it.
                continue;
            };
            if !flight.abandoned {
                let mut out = Vec::new();
                if c.status == abi::CS_OK {
                    // The range is the one this driver put in the descriptor, inside its window.
                    out = vec![0u8; flight.out_len];
                    self.bar.read_bytes(flight.out_at, &mut out);
                }
                st.done.insert(c.tag, (c, out));
            }
            st.free_windows.push(flight.window);
        }
        self.bar.write64(abi::REG_CQ_HEAD, st.cq_head);
    }

    /// Wait for a ticket's completion; its output bytes on success.
    pub fn wait(&self, ticket: Ticket) -> Result<Vec<u8>, AccelError> {
        let allowance = self.config.timeout + self.config.timeout_per_item * ticket.items;
        let mut spins = 0u32;
        loop {
            {
                let mut st = self.lock();
                self.check_card_locked(&mut st)?;
                self.reap_locked(&mut st);
                if let Some((c, out)) = st.done.remove(&ticket.tag) {
                    return self.judge(&ticket, &c, out);
                }
                if !st.in_flight.contains_key(&ticket.tag) {
                    return Err(lost("card was reset while this descriptor was in flight"));
                }
                let quiet = st.last_progress.elapsed();
                let waited = ticket.submitted.elapsed();
                if (quiet > self.config.timeout && waited > allowance) || waited > allowance * HARD_CAP_FACTOR {
                    let millis = u64::try_from(waited.as_millis()).unwrap_or(u64::MAX);
                    // The card may still write this descriptor's window: reset before anyone
                    // reuses it. Other descriptors in flight are lost with the reset.
                    self.reset_locked(&mut st)?;
                    return Err(AccelError::Timeout { millis });
                }
            }
            spins = spins.saturating_add(1);
            if spins < 64 {
                std::hint::spin_loop();
            } else if spins < 256 {
                thread::yield_now();
            } else {
                thread::sleep(Duration::from_micros(50));
            }
        }
    }

    /// Wait until a DMA window is free (all are held by other callers' descriptors, or by
    /// abandoned ones). A card that makes no progress for the timeout is reset: `Timeout`.
    pub fn wait_for_window(&self) -> Result<(), AccelError> {
        let started = Instant::now();
        loop {
            {
                let mut st = self.lock();
                self.check_card_locked(&mut st)?;
                self.reap_locked(&mut st);
                if !st.free_windows.is_empty() {
                    return Ok(());
                }
                if st.last_progress.elapsed() > self.config.timeout {
                    self.reset_locked(&mut st)?;
                    let millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                    return Err(AccelError::Timeout { millis });
                }
            }
            thread::sleep(Duration::from_micros(50));
        }
    }

    /// Give up on a ticket (another part of the batch failed): its window is freed when its
    /// completion arrives or at the next reset.
    pub fn abandon(&self, ticket: Ticket) {
        let mut st = self.lock();
        if let Some(f) = st.in_flight.get_mut(&ticket.tag) {
            f.abandoned = true;
        }
        st.done.remove(&ticket.tag);
    }

    fn judge(&self, ticket: &Ticket, c: &Completion, out: Vec<u8>) -> Result<Vec<u8>, AccelError> {
        judge_completion(ticket.items, ticket.out_len, c, out)
    }
}

/// A completion entry read from the ring, judged against the descriptor it answers (`items`
/// expected, `out_len` output bytes read from its window): the output when the card did all of
/// it, else `Corrupt` naming what the card said. The entry's words are the card's to write, so
/// any value is possible: a status this driver does not know is named, never trusted.
pub fn judge_completion(items: u32, out_len: usize, c: &Completion, out: Vec<u8>) -> Result<Vec<u8>, AccelError> {
    match c.status {
        abi::CS_OK if c.items_done == items && out.len() == out_len => Ok(out),
        abi::CS_OK => {
            Err(AccelError::Corrupt(format!("card completed {} of {} items (tag {})", c.items_done, items, c.tag)))
        }
        abi::CS_BAD_OPCODE | abi::CS_BAD_RANGE | abi::CS_BAD_INPUT | abi::CS_BAD_SEQUENCE => {
            Err(AccelError::Corrupt(format!("card refused a well-formed descriptor (status {})", c.status)))
        }
        other => Err(AccelError::Corrupt(format!("card returned an undefined status {other:#010x}"))),
    }
}
