//! The card ABI: the datasheet in code (`hw-sim/ABI.md` is the prose twin).
//!
//! Owns: the BAR layout (register offsets, ring and DMA placement), the descriptor and
//! completion encodings, opcodes, status codes and result codes, and [`Bar`], the one
//! accessor of a mapped BAR that both sides (the simulator and any driver) use.
//! Never: behaviour. Nothing here decides when or how a card computes or how a driver
//! waits; it only says where the bytes are and what they mean.
//!
//! ```text
//!  BAR (one file, mapped shared by the card and by the driver)
//!  0x0000  registers (4 KiB)   magic, version, capabilities, status, reset, indices, counters
//!  sq_off  submission ring      queue_depth x 64-byte descriptors   (host writes, card reads)
//!  cq_off  completion ring      queue_depth x 32-byte completions   (card writes, host reads)
//!  dma_off DMA data area        inputs and outputs named by descriptors (offsets into this area)
//! ```
//!
//! Every register and every ring word is a naturally aligned little-endian u32 or u64, read and
//! written only as an atomic (see [`Bar`] for why that is sound over a shared mapping). The DMA
//! area is plain bytes whose ownership passes between host and card by the ring protocol.

use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use memmap2::{MmapOptions, MmapRaw};

use crate::Error;

/// The default BAR path for card 0 (`xinlian card serve` without `--bar`).
pub const DEFAULT_BAR_PATH: &str = "/dev/shm/xinlian-card-0";

/// `REG_MAGIC` of a card: the bytes `XLCD` in BAR order (little-endian u32).
pub const MAGIC: u32 = u32::from_le_bytes(*b"XLCD");
/// Major ABI version: a driver refuses a card whose major differs from the one it speaks.
pub const ABI_MAJOR: u16 = 1;
/// Minor ABI version: additions that a driver of the same major may ignore.
pub const ABI_MINOR: u16 = 0;
/// `REG_VERSION` as this crate writes it: `major << 16 | minor`.
pub const ABI_VERSION: u32 = ((ABI_MAJOR as u32) << 16) | ABI_MINOR as u32;

/// Size of the register block; the submission ring starts at or after it.
pub const REGS_SIZE: usize = 4096;
/// Rings and the DMA area start on this alignment.
pub const PAGE: usize = 4096;

// --- Registers (offsets into the BAR). R: card writes, host reads. W: host writes. ---

/// u32 R: [`MAGIC`]. Written last at bring-up (release), so a driver that reads it (acquire)
/// sees every other identification register.
pub const REG_MAGIC: usize = 0x000;
/// u32 R: ABI version, `major << 16 | minor`.
pub const REG_VERSION: usize = 0x004;
/// u32 R: capability bits (`CAP_*`).
pub const REG_CAPS: usize = 0x008;
/// u32 R: ring depth in entries (a power of two, same for both rings).
pub const REG_QUEUE_DEPTH: usize = 0x00C;
/// u32 R: SM2 verify engines.
pub const REG_SM2_ENGINES: usize = 0x010;
/// u32 R: SM3 engines (also run MERKLE_LEVEL).
pub const REG_SM3_ENGINES: usize = 0x014;
/// u32 R: most items one descriptor may carry.
pub const REG_MAX_ITEMS: usize = 0x018;
/// u32 R: BAR offset of the submission ring.
pub const REG_SQ_OFFSET: usize = 0x020;
/// u32 R: BAR offset of the completion ring.
pub const REG_CQ_OFFSET: usize = 0x024;
/// u32 R: BAR offset of the DMA area.
pub const REG_DMA_OFFSET: usize = 0x028;
/// u32 R: size of the DMA area in bytes.
pub const REG_DMA_SIZE: usize = 0x02C;
/// u32 R: status bits (`STATUS_*`).
pub const REG_STATUS: usize = 0x030;
/// u32 W: write 1 to enable the queues (after bring-up and after every reset); the card
/// clears it on reset and fetches nothing while it is 0.
pub const REG_QUEUE_ENABLE: usize = 0x034;
/// u32 W/R: write [`RESET_REQUEST`] to reset the card; the card clears it to 0 once reset.
pub const REG_RESET: usize = 0x038;
/// u32 R: reset epoch, incremented by every reset (requested or spontaneous). A driver that
/// sees it change knows all work in flight was lost.
pub const REG_EPOCH: usize = 0x03C;
/// u64 W: submission tail (doorbell): sequence number of the next descriptor the host will
/// write. Stored with release after the descriptor and its DMA input.
pub const REG_SQ_TAIL: usize = 0x040;
/// u64 R: submission head: descriptors the card has fetched. Stored with release.
pub const REG_SQ_HEAD: usize = 0x048;
/// u64 R: completion tail: completions the card has posted. Stored with release after the
/// completion entry and its DMA output.
pub const REG_CQ_TAIL: usize = 0x050;
/// u64 W: completion head: completions the host has consumed. Stored with release.
pub const REG_CQ_HEAD: usize = 0x058;
/// u64 R: heartbeat, incremented by the card's control loop while it runs.
pub const REG_HEARTBEAT: usize = 0x060;

/// u64 R: descriptors completed (counters: monotonic, never cleared by a reset).
pub const CNT_DESCRIPTORS: usize = 0x080;
/// u64 R: items completed.
pub const CNT_ITEMS: usize = 0x088;
/// u64 R: bytes moved over DMA (in and out).
pub const CNT_DMA_BYTES: usize = 0x090;
/// u64 R: modelled time, ns: when the last completion was due in the card's timing model.
pub const CNT_MODELLED_NS: usize = 0x098;
/// u64 R: modelled SM2 engine busy time, ns, summed over the engines.
pub const CNT_SM2_BUSY_NS: usize = 0x0A0;
/// u64 R: modelled SM3 engine busy time, ns, summed over the engines.
pub const CNT_SM3_BUSY_NS: usize = 0x0A8;
/// u64 R: resets (requested and spontaneous).
pub const CNT_RESETS: usize = 0x0B0;
/// u64 R: faults injected.
pub const CNT_FAULTS: usize = 0x0B8;
/// u64 R: descriptors refused (bad opcode, range or input).
pub const CNT_REFUSED: usize = 0x0C0;
/// 32 bytes R: profile name, ASCII, NUL-padded.
pub const REG_PROFILE_NAME: usize = 0x100;
/// Length of [`REG_PROFILE_NAME`].
pub const PROFILE_NAME_LEN: usize = 32;

/// Capability: SM3_BATCH.
pub const CAP_SM3: u32 = 1 << 0;
/// Capability: SM2_VERIFY_BATCH.
pub const CAP_SM2_VERIFY: u32 = 1 << 1;
/// Capability: MERKLE_LEVEL.
pub const CAP_MERKLE: u32 = 1 << 2;

/// Status: the card's control loop is running.
pub const STATUS_READY: u32 = 1 << 0;
/// Status: queues enabled (mirror of `REG_QUEUE_ENABLE` as the card sees it).
pub const STATUS_ENABLED: u32 = 1 << 1;
/// Status: the card has shut down; nothing will be completed any more.
pub const STATUS_HALTED: u32 = 1 << 2;

/// The value to write to [`REG_RESET`].
pub const RESET_REQUEST: u32 = 0x5E5E_7001;

/// Opcode: SM3 of `item_count` messages.
pub const OP_SM3_BATCH: u16 = 1;
/// Opcode: SM2 verification of `item_count` prepared items.
pub const OP_SM2_VERIFY_BATCH: u16 = 2;
/// Opcode: one Merkle level over `item_count` nodes.
pub const OP_MERKLE_LEVEL: u16 = 3;

/// Completion status: done, outputs written.
pub const CS_OK: u32 = 0;
/// Completion status: unknown opcode.
pub const CS_BAD_OPCODE: u32 = 1;
/// Completion status: an input or output range lies outside the DMA area, or lengths disagree
/// with the item count.
pub const CS_BAD_RANGE: u32 = 2;
/// Completion status: the input is not what the opcode takes (offsets out of order).
pub const CS_BAD_INPUT: u32 = 3;
/// Completion status: the descriptor's sequence number is not the slot's.
pub const CS_BAD_SEQUENCE: u32 = 4;

/// Bytes of one SM2 item in the DMA area: key x, key y, e, r, s (32 bytes each, big-endian).
pub const SM2_ITEM_BYTES: usize = 160;
/// SM2 result byte: the signature verifies.
pub const SM2_VALID: u8 = 0;
/// SM2 result byte: B1, r out of range.
pub const SM2_R_OUT_OF_RANGE: u8 = 1;
/// SM2 result byte: B2, s out of range.
pub const SM2_S_OUT_OF_RANGE: u8 = 2;
/// SM2 result byte: B5, t = 0.
pub const SM2_T_IS_ZERO: u8 = 3;
/// SM2 result byte: B6, sum is the point at infinity.
pub const SM2_IDENTITY: u8 = 4;
/// SM2 result byte: B7, R != r.
pub const SM2_MISMATCH: u8 = 5;
/// SM2 result byte: the key is not a point on the curve (a host that prepares its items never
/// sees it).
pub const SM2_BAD_KEY: u8 = 0xFF;
/// Bytes of one digest (SM3 output, Merkle node).
pub const DIGEST_BYTES: usize = 32;

/// Size of a descriptor in the submission ring.
pub const DESCRIPTOR_BYTES: usize = 64;
/// Size of a completion in the completion ring.
pub const COMPLETION_BYTES: usize = 32;

/// One submission: what to compute, on which bytes of the DMA area, into which.
///
/// Encoding (8 u64 words): w0 = `opcode | flags << 16 | item_count << 32`, w1 = tag,
/// w2 = in_offset, w3 = in_len, w4 = out_offset, w5 = out_len, w6 = seq, w7 = 0.
/// Offsets are relative to the DMA area.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Descriptor {
    /// `OP_*`.
    pub opcode: u16,
    /// Reserved, 0.
    pub flags: u16,
    /// Items (messages, signatures, nodes).
    pub item_count: u32,
    /// Chosen by the host, echoed in the completion.
    pub tag: u64,
    /// Input start in the DMA area.
    pub in_offset: u64,
    /// Input length in bytes.
    pub in_len: u64,
    /// Output start in the DMA area.
    pub out_offset: u64,
    /// Output length in bytes.
    pub out_len: u64,
    /// Submission sequence number of this descriptor (its slot is `seq & (depth - 1)`).
    pub seq: u64,
}

impl Descriptor {
    /// The eight words as they lie in the ring.
    pub fn to_words(&self) -> [u64; 8] {
        [
            u64::from(self.opcode) | u64::from(self.flags) << 16 | u64::from(self.item_count) << 32,
            self.tag,
            self.in_offset,
            self.in_len,
            self.out_offset,
            self.out_len,
            self.seq,
            0,
        ]
    }

    /// Decode the eight words.
    pub fn from_words(w: &[u64; 8]) -> Descriptor {
        Descriptor {
            opcode: low16(w[0]),
            flags: low16(w[0] >> 16),
            item_count: low32(w[0] >> 32),
            tag: w[1],
            in_offset: w[2],
            in_len: w[3],
            out_offset: w[4],
            out_len: w[5],
            seq: w[6],
        }
    }
}

/// One completion: the descriptor it answers (by tag), how it went.
///
/// Encoding (4 u64 words): w0 = tag, w1 = `status | items_done << 32`, w2 = seq (completion
/// sequence number), w3 = modelled latency of the descriptor in ns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Completion {
    /// The descriptor's tag.
    pub tag: u64,
    /// `CS_*`.
    pub status: u32,
    /// Items computed (equals the descriptor's item_count when status is `CS_OK`).
    pub items_done: u32,
    /// Completion sequence number (its slot is `seq & (depth - 1)`).
    pub seq: u64,
    /// Modelled time from arrival to completion, ns.
    pub modelled_latency_ns: u64,
}

impl Completion {
    /// The four words as they lie in the ring.
    pub fn to_words(&self) -> [u64; 4] {
        [self.tag, u64::from(self.status) | u64::from(self.items_done) << 32, self.seq, self.modelled_latency_ns]
    }

    /// Decode the four words.
    pub fn from_words(w: &[u64; 4]) -> Completion {
        Completion {
            tag: w[0],
            status: low32(w[1]),
            items_done: low32(w[1] >> 32),
            seq: w[2],
            modelled_latency_ns: w[3],
        }
    }
}

fn low16(v: u64) -> u16 {
    (v & 0xFFFF) as u16
}

fn low32(v: u64) -> u32 {
    (v & 0xFFFF_FFFF) as u32
}

/// Entries between two wrap-safe sequence numbers (`later - earlier`, modulo 2^64).
pub fn seq_distance(later: u64, earlier: u64) -> u64 {
    later.wrapping_sub(earlier)
}

/// Where the rings and the DMA area lie for a given depth and DMA size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Ring depth (power of two).
    pub queue_depth: u32,
    /// Submission ring offset.
    pub sq_offset: usize,
    /// Completion ring offset.
    pub cq_offset: usize,
    /// DMA area offset.
    pub dma_offset: usize,
    /// DMA area size.
    pub dma_size: usize,
    /// Whole BAR size.
    pub bar_size: usize,
}

impl Layout {
    /// The layout for `queue_depth` entries (a power of two, 1..=4096) and `dma_size` bytes
    /// (a multiple of 4 KiB, at most 2 GiB).
    pub fn new(queue_depth: u32, dma_size: usize) -> Result<Layout, Error> {
        if !queue_depth.is_power_of_two() || queue_depth > 4096 {
            return Err(Error::Profile(format!("queue_depth {queue_depth} is not a power of two in 1..=4096")));
        }
        if dma_size == 0 || !dma_size.is_multiple_of(PAGE) || dma_size > (1 << 31) {
            return Err(Error::Profile(format!("dma_bytes {dma_size} is not a non-zero multiple of 4096 up to 2 GiB")));
        }
        let depth = queue_depth as usize;
        let sq_offset = REGS_SIZE;
        let cq_offset = (sq_offset + depth * DESCRIPTOR_BYTES).next_multiple_of(PAGE);
        let dma_offset = (cq_offset + depth * COMPLETION_BYTES).next_multiple_of(PAGE);
        Ok(Layout { queue_depth, sq_offset, cq_offset, dma_offset, dma_size, bar_size: dma_offset + dma_size })
    }
}

/// A mapped BAR: a shared, writable mapping of the BAR file, accessed only through raw
/// pointers (never a Rust reference to the bytes, which another process may change at any
/// time).
///
/// Why the atomics over the mapping are sound:
/// - alignment: the mapping starts on a page boundary and every register and ring word sits
///   at an offset that is a multiple of its size (checked by [`Bar::u32_at`] / [`Bar::u64_at`]),
///   so each `&AtomicU32` / `&AtomicU64` we form is aligned, as those types require;
/// - lifetime: the references borrow `self`, and the mapping lives as long as the `Bar`;
/// - no other aliasing: in this process nothing reads or writes those words except through
///   the same atomic types (the DMA area, which is accessed by plain copies, never overlaps a
///   register or ring word). The other process, mapping the same file `MAP_SHARED`, obeys the
///   same rule by this ABI; atomic loads and stores on shared memory are then single
///   instructions the hardware keeps coherent, and release/acquire pairs on the indices order
///   the ring entries and DMA bytes written before them.
///
/// The DMA area is copied with `ptr::copy_nonoverlapping` over raw pointers; who may touch
/// which bytes when is decided by the ring protocol (input: host until the doorbell; output:
/// card until its completion is published). A peer that breaks the protocol can only make the
/// copied bytes wrong (a driver checks what it reads), never make this process touch memory
/// outside the mapping: every access is bounds-checked against the BAR size.
pub struct Bar {
    map: MmapRaw,
}

impl Bar {
    /// Create (or truncate) the BAR file at `path` with `size` bytes, zeroed, and map it.
    pub fn create(path: &Path, size: usize) -> Result<Bar, Error> {
        let io = |e: std::io::Error| Error::Bar { path: path.display().to_string(), source: e };
        let file = File::options().read(true).write(true).create(true).truncate(true).open(path).map_err(io)?;
        file.set_len(size as u64).map_err(io)?;
        let map = MmapOptions::new().len(size).map_raw(&file).map_err(io)?;
        Ok(Bar { map })
    }

    /// Map an existing BAR file (a driver's view).
    pub fn open(path: &Path) -> Result<Bar, Error> {
        let io = |e: std::io::Error| Error::Bar { path: path.display().to_string(), source: e };
        let file = File::options().read(true).write(true).open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        if len < REGS_SIZE as u64 {
            return Err(Error::NotACard(format!("{} is {len} bytes, smaller than the register block", path.display())));
        }
        let map = MmapOptions::new().map_raw(&file).map_err(io)?;
        Ok(Bar { map })
    }

    /// Bytes mapped.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether nothing is mapped (never, for a BAR).
    pub fn is_empty(&self) -> bool {
        self.map.len() == 0
    }

    /// The u32 at `offset`, as an atomic. Panics on a misaligned or out-of-range offset: those
    /// come from this module's constants or from a layout already checked, so a panic is a bug.
    pub fn u32_at(&self, offset: usize) -> &AtomicU32 {
        assert!(offset.is_multiple_of(4) && offset + 4 <= self.map.len(), "BAR u32 offset {offset:#x} invalid");
        // SAFETY: in bounds and 4-aligned (asserted; the mapping is page-aligned); the mapping
        // outlives the returned borrow of `self`; these bytes are only ever accessed as an
        // AtomicU32 by both processes (see the type's docs).
        unsafe { &*self.map.as_mut_ptr().add(offset).cast::<AtomicU32>() }
    }

    /// The u64 at `offset`, as an atomic (see [`Bar::u32_at`]).
    pub fn u64_at(&self, offset: usize) -> &AtomicU64 {
        assert!(offset.is_multiple_of(8) && offset + 8 <= self.map.len(), "BAR u64 offset {offset:#x} invalid");
        // SAFETY: in bounds and 8-aligned (asserted; the mapping is page-aligned); the mapping
        // outlives the returned borrow of `self`; these bytes are only ever accessed as an
        // AtomicU64 by both processes (see the type's docs).
        unsafe { &*self.map.as_mut_ptr().add(offset).cast::<AtomicU64>() }
    }

    /// Read a register.
    pub fn read32(&self, offset: usize) -> u32 {
        self.u32_at(offset).load(Ordering::Acquire)
    }

    /// Write a register.
    pub fn write32(&self, offset: usize, value: u32) {
        self.u32_at(offset).store(value, Ordering::Release);
    }

    /// Read a 64-bit register.
    pub fn read64(&self, offset: usize) -> u64 {
        self.u64_at(offset).load(Ordering::Acquire)
    }

    /// Write a 64-bit register.
    pub fn write64(&self, offset: usize, value: u64) {
        self.u64_at(offset).store(value, Ordering::Release);
    }

    /// Add to a 64-bit counter.
    pub fn add64(&self, offset: usize, value: u64) {
        self.u64_at(offset).fetch_add(value, Ordering::AcqRel);
    }

    /// Copy bytes out of the BAR. `false` (and nothing copied) when the range is outside it.
    pub fn read_bytes(&self, offset: usize, out: &mut [u8]) -> bool {
        if offset.checked_add(out.len()).is_none_or(|end| end > self.map.len()) {
            return false;
        }
        // SAFETY: source range checked to lie inside the mapping; `out` is a distinct local
        // buffer, so the ranges do not overlap; raw copy, no reference to shared bytes formed.
        unsafe { std::ptr::copy_nonoverlapping(self.map.as_ptr().add(offset), out.as_mut_ptr(), out.len()) };
        true
    }

    /// Copy bytes into the BAR. `false` (and nothing copied) when the range is outside it.
    pub fn write_bytes(&self, offset: usize, data: &[u8]) -> bool {
        if offset.checked_add(data.len()).is_none_or(|end| end > self.map.len()) {
            return false;
        }
        // SAFETY: destination range checked to lie inside the mapping (writable, shared);
        // `data` is not part of the mapping, so the ranges do not overlap.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.map.as_mut_ptr().add(offset), data.len()) };
        true
    }

    /// Write a descriptor into submission slot `slot` of a ring at `sq_offset` (relaxed word
    /// stores: the doorbell's release store publishes them).
    pub fn write_descriptor(&self, sq_offset: usize, slot: usize, d: &Descriptor) {
        let base = sq_offset + slot * DESCRIPTOR_BYTES;
        for (i, w) in d.to_words().iter().enumerate() {
            self.u64_at(base + 8 * i).store(*w, Ordering::Relaxed);
        }
    }

    /// Read a descriptor from submission slot `slot` (after an acquire load of the tail).
    pub fn read_descriptor(&self, sq_offset: usize, slot: usize) -> Descriptor {
        let base = sq_offset + slot * DESCRIPTOR_BYTES;
        let mut w = [0u64; 8];
        for (i, word) in w.iter_mut().enumerate() {
            *word = self.u64_at(base + 8 * i).load(Ordering::Relaxed);
        }
        Descriptor::from_words(&w)
    }

    /// Write a completion into completion slot `slot` (published by the tail's release store).
    pub fn write_completion(&self, cq_offset: usize, slot: usize, c: &Completion) {
        let base = cq_offset + slot * COMPLETION_BYTES;
        for (i, w) in c.to_words().iter().enumerate() {
            self.u64_at(base + 8 * i).store(*w, Ordering::Relaxed);
        }
    }

    /// Read a completion from completion slot `slot` (after an acquire load of the tail).
    pub fn read_completion(&self, cq_offset: usize, slot: usize) -> Completion {
        let base = cq_offset + slot * COMPLETION_BYTES;
        let mut w = [0u64; 4];
        for (i, word) in w.iter_mut().enumerate() {
            *word = self.u64_at(base + 8 * i).load(Ordering::Relaxed);
        }
        Completion::from_words(&w)
    }

    /// The profile name register, as text.
    pub fn profile_name(&self) -> String {
        let mut raw = [0u8; PROFILE_NAME_LEN];
        self.read_bytes(REG_PROFILE_NAME, &mut raw);
        let end = raw.iter().position(|&b| b == 0).unwrap_or(PROFILE_NAME_LEN);
        String::from_utf8_lossy(&raw[..end]).into_owned()
    }

    /// Every counter, read now.
    pub fn counters(&self) -> Counters {
        Counters {
            descriptors: self.read64(CNT_DESCRIPTORS),
            items: self.read64(CNT_ITEMS),
            dma_bytes: self.read64(CNT_DMA_BYTES),
            modelled_ns: self.read64(CNT_MODELLED_NS),
            sm2_busy_ns: self.read64(CNT_SM2_BUSY_NS),
            sm3_busy_ns: self.read64(CNT_SM3_BUSY_NS),
            resets: self.read64(CNT_RESETS),
            faults: self.read64(CNT_FAULTS),
            refused: self.read64(CNT_REFUSED),
        }
    }
}

/// The counter registers, read at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Descriptors completed.
    pub descriptors: u64,
    /// Items completed.
    pub items: u64,
    /// DMA bytes moved.
    pub dma_bytes: u64,
    /// Modelled time of the last completion, ns.
    pub modelled_ns: u64,
    /// Modelled SM2 engine-pool busy time, ns.
    pub sm2_busy_ns: u64,
    /// Modelled SM3 engine-pool busy time, ns.
    pub sm3_busy_ns: u64,
    /// Resets.
    pub resets: u64,
    /// Faults injected.
    pub faults: u64,
    /// Descriptors refused.
    pub refused: u64,
}
