//! Multi-buffer SM3: many messages hashed at once, one message per SIMD lane.
//!
//! Owns: the choice of SIMD width (AVX-512: 16 lanes, AVX2: 8 lanes, portable: 1), the
//! lane scheduler that streams messages of any mix of lengths through the lanes, and the
//! vector compression functions. Never: pick a path the CPU lacks (every wide path is
//! behind a run-time feature check), or compute SM3 differently from `scalar.rs`: the
//! padding is `scalar::pad_tail_into`, the constants are `scalar::{IV, T_ROTATED}`, and
//! the tests check every path against the scalar digest.
//!
//! ```text
//!  msgs ──sort by block count, longest first──> queue
//!                                                 │ refill a lane as soon as its message ends
//!   lane 0:  [m7 b0][m7 b1][m7 pad][m3 b0][m3 pad][m9 b0] ...
//!   lane 1:  [m2 b0][m2 pad][m5 b0][m5 b1][m5 b2][m5 pad] ...
//!     ...    one step = one 64-byte block in every lane, SoA state [word][lane]
//!   lane 15: [m0 b0][m0 b1][m0 b2][m0 pad][m4 b0] ...
//!                                                 │ queue empty and few blocks left:
//!                                                 └─> finish those lanes with scalar CF
//! ```
//!
//! Each lane walks its own message: whole 64-byte blocks straight from the caller's
//! bytes, then its one or two padding blocks (GB/T 32905 §5.2), written into the lane
//! when the message entered it. A lane whose message ends writes that digest out and
//! takes the next message in the queue at the very next step (the kernel blends the IV
//! into that lane), so lanes stay busy whatever the length mix. Longest-first order
//! keeps the final drain short; when the queue is empty and the blocks left would leave
//! most lanes idle, the scalar compression function finishes them instead.
//!
//! Message words reach the lanes by load-and-transpose (a byte swap for the big-endian
//! words, then a 16x16 or 8x8 transpose of u32 with unpack/shuffle instructions), not by
//! gathers: copying the 16 blocks to a staging buffer and gathering each W_j with
//! `vpgatherdd` was 17% slower on AMD Zen 4 (1.64 against 1.97 GB/s on 4096 x 128 B,
//! 2.49 against 2.96 GB/s on 4096 x 1 KiB).
//!
//! Path choice: detected once per process with `is_x86_feature_detected!` and cached; the
//! environment variable [`SIMD_PATH_ENV`] (`avx512`, `avx2` or `scalar`, read once) can
//! ask for a narrower path. A request for a path the CPU lacks falls back to the widest
//! path it has below the request; an unknown value is ignored.
//!
//! Throughput on one AMD EPYC Zen 4 core, 4096 messages of 128 B: AVX-512 1.87 GB/s,
//! AVX2 1.07 GB/s, scalar 0.28 GB/s; RustCrypto `sm3` one message at a time 0.25 GB/s.
//! Reproduce with
//! `cargo test --release -p xinlian-kernels --test sm3 -- --ignored --nocapture sm3_throughput`.

#[cfg(target_arch = "x86_64")]
use std::cmp::Reverse;
use std::sync::OnceLock;

use super::scalar;
#[cfg(target_arch = "x86_64")]
use super::scalar::IV;
#[cfg(target_arch = "x86_64")]
use super::BLOCK_SIZE;
use super::{Digest, DIGEST_SIZE};

/// The environment variable that asks for a narrower SIMD path: `avx512`, `avx2` or
/// `scalar`. Read once, on first use; never makes the library use an instruction set
/// the CPU lacks.
pub const SIMD_PATH_ENV: &str = "XINLIAN_SM3_SIMD";

/// A multi-buffer implementation of SM3, from widest to narrowest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SimdPath {
    /// One message at a time with the scalar compression function; works everywhere.
    Scalar,
    /// 8 lanes of 32-bit words in 256-bit AVX2 registers (x86_64 only).
    Avx2,
    /// 16 lanes of 32-bit words in 512-bit AVX-512 registers, with native rotates and
    /// three-input logic (x86_64 with AVX-512 F and BW only).
    Avx512,
}

impl SimdPath {
    /// How many messages this path hashes side by side.
    #[must_use]
    pub const fn lanes(self) -> usize {
        match self {
            Self::Scalar => 1,
            Self::Avx2 => 8,
            Self::Avx512 => 16,
        }
    }

    /// The name used in [`SIMD_PATH_ENV`] and in reports.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Scalar => "scalar",
            Self::Avx2 => "avx2",
            Self::Avx512 => "avx512",
        }
    }

    /// Parses a name as written in [`SIMD_PATH_ENV`] (case and surrounding blanks ignored).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "scalar" => Some(Self::Scalar),
            "avx2" => Some(Self::Avx2),
            "avx512" => Some(Self::Avx512),
            _ => None,
        }
    }

    /// The next narrower path, if any.
    const fn narrower(self) -> Option<Self> {
        match self {
            Self::Avx512 => Some(Self::Avx2),
            Self::Avx2 => Some(Self::Scalar),
            Self::Scalar => None,
        }
    }

    /// Whether this CPU can run the path (cached after the first call).
    fn is_available(self) -> bool {
        let cpu = cpu_features();
        match self {
            Self::Scalar => true,
            Self::Avx2 => cpu.avx2,
            Self::Avx512 => cpu.avx512,
        }
    }

    /// `self` if the CPU has it, else the widest narrower path it has.
    fn or_narrower_available(self) -> Self {
        let mut path = self;
        while !path.is_available() {
            match path.narrower() {
                Some(narrower) => path = narrower,
                None => return Self::Scalar,
            }
        }
        path
    }
}

/// What the CPU offers, detected once.
#[derive(Clone, Copy)]
struct CpuFeatures {
    avx2: bool,
    avx512: bool,
}

fn cpu_features() -> CpuFeatures {
    static FEATURES: OnceLock<CpuFeatures> = OnceLock::new();
    *FEATURES.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            CpuFeatures {
                avx2: is_x86_feature_detected!("avx2"),
                // F for the arithmetic, rotates and ternary logic; BW for the byte shuffle
                // that swaps the big-endian message words.
                avx512: is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            CpuFeatures { avx2: false, avx512: false }
        }
    })
}

/// Every path this CPU can run, narrowest first. Always starts with [`SimdPath::Scalar`].
/// Ignores [`SIMD_PATH_ENV`], so tests can run every path the machine has.
#[must_use]
pub fn available_paths() -> Vec<SimdPath> {
    [SimdPath::Scalar, SimdPath::Avx2, SimdPath::Avx512].into_iter().filter(|path| path.is_available()).collect()
}

/// The path [`digest_batch`] uses: the widest the CPU has, or the narrower one asked for
/// in [`SIMD_PATH_ENV`]. Decided once per process.
#[must_use]
pub fn selected_path() -> SimdPath {
    static SELECTED: OnceLock<SimdPath> = OnceLock::new();
    *SELECTED.get_or_init(|| {
        let requested =
            std::env::var(SIMD_PATH_ENV).ok().and_then(|name| SimdPath::from_name(&name)).unwrap_or(SimdPath::Avx512);
        requested.or_narrower_available()
    })
}

/// How many messages [`digest_batch`] hashes side by side: 16 (AVX-512), 8 (AVX2) or 1.
#[must_use]
pub fn simd_lanes() -> usize {
    selected_path().lanes()
}

/// Hashes every message in `msgs`; `result[i]` is the SM3 digest of `msgs[i]`.
///
/// Messages may have any mix of lengths. Uses [`selected_path`].
#[must_use]
pub fn digest_batch(msgs: &[&[u8]]) -> Vec<Digest> {
    digest_batch_with(msgs, selected_path())
}

/// [`digest_batch`] on a chosen path. A path the CPU lacks is replaced by the widest
/// narrower one it has (never a panic, never an illegal instruction).
#[must_use]
pub fn digest_batch_with(msgs: &[&[u8]], path: SimdPath) -> Vec<Digest> {
    let mut out = vec![[0u8; DIGEST_SIZE]; msgs.len()];
    match path.or_narrower_available() {
        SimdPath::Scalar => {
            for (digest, msg) in out.iter_mut().zip(msgs) {
                *digest = scalar::digest(msg);
            }
        }
        #[cfg(target_arch = "x86_64")]
        SimdPath::Avx512 => {
            hash_in_lanes::<16>(msgs, &mut out, avx512::SCALAR_BLOCKS_PER_STEP, |state, blocks, fresh| {
                // SAFETY: `or_narrower_available` returned Avx512 only because
                // `is_x86_feature_detected!` found avx512f and avx512bw on this CPU, the
                // exact features `avx512::compress` is compiled for.
                unsafe { avx512::compress(state, blocks, fresh) }
            })
        }
        #[cfg(target_arch = "x86_64")]
        SimdPath::Avx2 => hash_in_lanes::<8>(msgs, &mut out, avx2::SCALAR_BLOCKS_PER_STEP, |state, blocks, fresh| {
            // SAFETY: `or_narrower_available` returned Avx2 only because
            // `is_x86_feature_detected!("avx2")` is true on this CPU, the feature
            // `avx2::compress` is compiled for.
            unsafe { avx2::compress(state, blocks, fresh) }
        }),
        // Off x86_64 no wide path is ever available, so this arm is never taken.
        #[cfg(not(target_arch = "x86_64"))]
        SimdPath::Avx2 | SimdPath::Avx512 => {
            for (digest, msg) in out.iter_mut().zip(msgs) {
                *digest = scalar::digest(msg);
            }
        }
    }
    out
}

/// How many 64-byte blocks SM3 processes for a message of `len` bytes, padding included.
#[cfg(target_arch = "x86_64")]
fn padded_blocks(len: usize) -> usize {
    // The 0x80 byte and the 8-byte length fit after the last partial block's bytes
    // only when fewer than 56 of them are left.
    let tail_blocks = if len % BLOCK_SIZE < BLOCK_SIZE - 8 { 1 } else { 2 };
    len / BLOCK_SIZE + tail_blocks
}

/// One SIMD lane: the message it is hashing, where that digest goes, and the blocks
/// the message has left. Updated in place when a new message enters the lane, so the
/// padding is written once, where the vector load will read it.
#[cfg(target_arch = "x86_64")]
struct Lane<'a> {
    /// Whether the lane holds a message; an idle lane computes on [`IDLE_BLOCK`].
    busy: bool,
    /// Index of the message in the batch.
    index: usize,
    /// The whole blocks not yet compressed, borrowed from the caller (length a multiple of 64).
    body: &'a [u8],
    /// The padded last block(s) (GB/T 32905 §5.2).
    tail: [[u8; BLOCK_SIZE]; 2],
    /// How many of `tail` are in use (1 or 2).
    tail_count: usize,
    /// The next tail block to compress once `body` is empty.
    tail_next: usize,
}

#[cfg(target_arch = "x86_64")]
impl<'a> Lane<'a> {
    fn idle() -> Self {
        Self { busy: false, index: 0, body: &[], tail: [[0; BLOCK_SIZE]; 2], tail_count: 0, tail_next: 0 }
    }

    /// Puts message `index` into this lane.
    fn start(&mut self, index: usize, msg: &'a [u8]) {
        let whole = msg.len() - msg.len() % BLOCK_SIZE;
        self.busy = true;
        self.index = index;
        self.body = &msg[..whole];
        self.tail_count = scalar::pad_tail_into(&mut self.tail, &msg[whole..], msg.len() as u64);
        self.tail_next = 0;
    }

    /// The block this lane compresses at the next step.
    fn current(&self) -> &[u8; BLOCK_SIZE] {
        if !self.busy {
            return &IDLE_BLOCK;
        }
        match self.body.first_chunk::<BLOCK_SIZE>() {
            Some(block) => block,
            None => &self.tail[self.tail_next],
        }
    }

    /// Moves past the current block; true when the message is now fully compressed.
    fn advance(&mut self) -> bool {
        if let Some((_, rest)) = self.body.split_first_chunk::<BLOCK_SIZE>() {
            self.body = rest;
            false
        } else {
            self.tail_next += 1;
            self.tail_next >= self.tail_count
        }
    }

    fn remaining_blocks(&self) -> usize {
        if self.busy {
            self.body.len() / BLOCK_SIZE + (self.tail_count - self.tail_next)
        } else {
            0
        }
    }

    /// Compresses everything left with the scalar compression function.
    fn finish_scalar(&self, state: &mut [u32; 8]) {
        scalar::compress(state, self.body);
        for block in &self.tail[self.tail_next..self.tail_count] {
            scalar::compress_block(state, block);
        }
    }
}

/// A block for lanes with no message (only during the final drain): computed and discarded.
#[cfg(target_arch = "x86_64")]
static IDLE_BLOCK: [u8; BLOCK_SIZE] = [0; BLOCK_SIZE];

/// The lane scheduler shared by every vector path.
///
/// `step(state, blocks, fresh)` compresses one block in each of `L` lanes, state laid out
/// as `[word][lane]`; lanes whose bit is set in `fresh` start from the IV instead of
/// `state` (done inside the kernel with a blend, so no scalar store lands in the middle
/// of the vector the kernel loads next). `scalar_blocks_per_step` is what one step costs
/// in scalar compressions (measured): in the drain, once the blocks left are fewer than
/// the steps left times that cost, the scalar path is cheaper and finishes the job.
#[cfg(target_arch = "x86_64")]
fn hash_in_lanes<const L: usize>(
    msgs: &[&[u8]],
    out: &mut [Digest],
    scalar_blocks_per_step: usize,
    mut step: impl FnMut(&mut [[u32; L]; 8], &[&[u8; BLOCK_SIZE]; L], u32),
) {
    // `fresh` has one bit per lane.
    const { assert!(L <= 32) };
    // Longest first (LPT order): the last messages to enter lanes are the short ones,
    // so lanes run out of work at nearly the same time.
    let mut order: Vec<usize> = (0..msgs.len()).collect();
    let longest_first = msgs.windows(2).all(|pair| padded_blocks(pair[0].len()) >= padded_blocks(pair[1].len()));
    if !longest_first {
        order.sort_unstable_by_key(|&i| Reverse(padded_blocks(msgs[i].len())));
    }
    let mut queue = order.into_iter();

    let mut state = [[0u32; L]; 8];
    let mut lanes: [Lane<'_>; L] = std::array::from_fn(|_| Lane::idle());
    let mut fresh = 0u32;
    for (bit, lane) in lanes.iter_mut().enumerate() {
        if let Some(i) = queue.next() {
            lane.start(i, msgs[i]);
            fresh |= 1 << bit;
        }
    }

    loop {
        if queue.len() == 0 {
            let (mut sum, mut max) = (0, 0);
            for lane in &lanes {
                let left = lane.remaining_blocks();
                sum += left;
                max = max.max(left);
            }
            if sum == 0 {
                break;
            }
            if sum <= max * scalar_blocks_per_step {
                for (bit, lane) in lanes.iter().enumerate() {
                    if lane.busy {
                        let mut words = if fresh & (1 << bit) != 0 { IV } else { lane_words(&state, bit) };
                        lane.finish_scalar(&mut words);
                        out[lane.index] = scalar::state_to_digest(&words);
                    }
                }
                break;
            }
        }

        let blocks: [&[u8; BLOCK_SIZE]; L] = std::array::from_fn(|bit| lanes[bit].current());
        step(&mut state, &blocks, fresh);
        fresh = 0;

        for (bit, lane) in lanes.iter_mut().enumerate() {
            if lane.busy && lane.advance() {
                out[lane.index] = scalar::state_to_digest(&lane_words(&state, bit));
                match queue.next() {
                    Some(i) => {
                        lane.start(i, msgs[i]);
                        fresh |= 1 << bit;
                    }
                    None => lane.busy = false,
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn lane_words<const L: usize>(state: &[[u32; L]; 8], lane: usize) -> [u32; 8] {
    let mut words = [0u32; 8];
    for (word, row) in words.iter_mut().zip(state) {
        *word = row[lane];
    }
    words
}

/// One round j of CF (GB/T 32905 §5.3.3) on vectors of lanes; the same steps as `round!`
/// in `scalar.rs`, spelt with the vector helpers `add`, `xor`, `xor3`, `p0`, `p1`,
/// `splat` and the rotate macro `rol!` of the module that expands it:
///
/// ```text
/// (W_{j+4} <- P1(W_{j-12} ^ W_{j-5} ^ (W_{j+1} <<< 15)) ^ (W_{j-9} <<< 7) ^ W_{j-2}, when j+4 >= 16)
/// SS1 <- ((A <<< 12) + (T_j <<< j) + E) <<< 7;  SS2 <- SS1 ^ (A <<< 12)
/// TT1 <- D + (W_j ^ W_{j+4}) + FF_j(A,B,C) + SS2;  TT2 <- H + W_j + GG_j(E,F,G) + SS1
/// B <- B <<< 9;  F <- F <<< 19;  D <- TT1;  H <- P0(TT2)   (then the roles rotate)
/// ```
///
/// The sums take SS1 and SS2 last: they wait on E and A, the other terms do not.
#[cfg(target_arch = "x86_64")]
macro_rules! lanes_round {
    ($w:ident, $j:expr, $ff:ident, $gg:ident,
     $a:ident, $b:ident, $c:ident, $d:ident, $e:ident, $f:ident, $g:ident, $h:ident) => {{
        let j: usize = $j;
        if j + 4 >= 16 {
            let n = j + 4;
            let x = xor3($w[n - 16], $w[n - 9], rol!($w[n - 3], 15));
            $w[n] = xor3(p1(x), rol!($w[n - 13], 7), $w[n - 6]);
        }
        let a12 = rol!($a, 12);
        let ss1 = rol!(add(add(a12, splat(T_ROTATED[j])), $e), 7);
        let ss2 = xor(ss1, a12);
        let tt1 = add(add(add($d, xor($w[j], $w[j + 4])), $ff($a, $b, $c)), ss2);
        let tt2 = add(add(add($h, $w[j]), $gg($e, $f, $g)), ss1);
        $b = rol!($b, 9);
        $f = rol!($f, 19);
        $d = tt1;
        $h = p0(tt2);
    }};
}

/// Four rounds from `j`, after which the register roles are back in place.
#[cfg(target_arch = "x86_64")]
macro_rules! lanes_four_rounds {
    ($w:ident, $j:expr, $ff:ident, $gg:ident, $a:ident, $b:ident, $c:ident, $d:ident,
     $e:ident, $f:ident, $g:ident, $h:ident) => {
        lanes_round!($w, $j, $ff, $gg, $a, $b, $c, $d, $e, $f, $g, $h);
        lanes_round!($w, $j + 1, $ff, $gg, $d, $a, $b, $c, $h, $e, $f, $g);
        lanes_round!($w, $j + 2, $ff, $gg, $c, $d, $a, $b, $g, $h, $e, $f);
        lanes_round!($w, $j + 3, $ff, $gg, $b, $c, $d, $a, $f, $g, $h, $e);
    };
}

/// The 64 rounds of CF over `w` (W_0..W_15 loaded, W_16..W_67 expanded on the way),
/// FF_j/GG_j being XOR3 for j < 16 and majority/choice after.
#[cfg(target_arch = "x86_64")]
macro_rules! lanes_all_rounds {
    ($w:ident, $a:ident, $b:ident, $c:ident, $d:ident, $e:ident, $f:ident, $g:ident, $h:ident) => {
        lanes_four_rounds!($w, 0, xor3, xor3, $a, $b, $c, $d, $e, $f, $g, $h);
        lanes_four_rounds!($w, 4, xor3, xor3, $a, $b, $c, $d, $e, $f, $g, $h);
        lanes_four_rounds!($w, 8, xor3, xor3, $a, $b, $c, $d, $e, $f, $g, $h);
        lanes_four_rounds!($w, 12, xor3, xor3, $a, $b, $c, $d, $e, $f, $g, $h);
        lanes_four_rounds!($w, 16, majority, choice, $a, $b, $c, $d, $e, $f, $g, $h);
        lanes_four_rounds!($w, 20, majority, choice, $a, $b, $c, $d, $e, $f, $g, $h);
        lanes_four_rounds!($w, 24, majority, choice, $a, $b, $c, $d, $e, $f, $g, $h);
        lanes_four_rounds!($w, 28, majority, choice, $a, $b, $c, $d, $e, $f, $g, $h);
        lanes_four_rounds!($w, 32, majority, choice, $a, $b, $c, $d, $e, $f, $g, $h);
        lanes_four_rounds!($w, 36, majority, choice, $a, $b, $c, $d, $e, $f, $g, $h);
        lanes_four_rounds!($w, 40, majority, choice, $a, $b, $c, $d, $e, $f, $g, $h);
        lanes_four_rounds!($w, 44, majority, choice, $a, $b, $c, $d, $e, $f, $g, $h);
        lanes_four_rounds!($w, 48, majority, choice, $a, $b, $c, $d, $e, $f, $g, $h);
        lanes_four_rounds!($w, 52, majority, choice, $a, $b, $c, $d, $e, $f, $g, $h);
        lanes_four_rounds!($w, 56, majority, choice, $a, $b, $c, $d, $e, $f, $g, $h);
        lanes_four_rounds!($w, 60, majority, choice, $a, $b, $c, $d, $e, $f, $g, $h);
    };
}

/// 16 lanes in AVX-512 registers: `vprold` rotates in one instruction and `vpternlogd`
/// does XOR3, majority and choice in one each.
// The AVX-512 intrinsics are stable since Rust 1.89: this module needs that compiler
// whatever the workspace's `rust-version` says (the workspace should say 1.89).
#[clippy::msrv = "1.89"]
#[cfg(target_arch = "x86_64")]
mod avx512 {
    use core::arch::x86_64::{
        __m512i, _mm512_add_epi32, _mm512_broadcast_i32x4, _mm512_loadu_si512, _mm512_mask_blend_epi32,
        _mm512_rol_epi32, _mm512_set1_epi32, _mm512_setzero_si512, _mm512_shuffle_epi8, _mm512_shuffle_i32x4,
        _mm512_storeu_si512, _mm512_ternarylogic_epi32, _mm512_unpackhi_epi32, _mm512_unpackhi_epi64,
        _mm512_unpacklo_epi32, _mm512_unpacklo_epi64, _mm512_xor_si512, _mm_setr_epi8,
    };

    use super::super::scalar::{IV, T_ROTATED};
    use super::BLOCK_SIZE;

    /// One 16-lane step costs about as much as this many scalar block compressions
    /// (2.2 measured on AMD Zen 4: 16 KiB messages, 2.9 GB/s here against 0.41 GB/s
    /// for `scalar::digest`), which sets where the drain goes scalar.
    pub(super) const SCALAR_BLOCKS_PER_STEP: usize = 2;

    macro_rules! rol {
        ($x:expr, $n:literal) => {
            _mm512_rol_epi32::<$n>($x)
        };
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    fn add(a: __m512i, b: __m512i) -> __m512i {
        _mm512_add_epi32(a, b)
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    fn xor(a: __m512i, b: __m512i) -> __m512i {
        _mm512_xor_si512(a, b)
    }

    /// a ^ b ^ c (truth table 0x96).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn xor3(a: __m512i, b: __m512i, c: __m512i) -> __m512i {
        _mm512_ternarylogic_epi32::<0x96>(a, b, c)
    }

    /// FF_j for j >= 16: (a & b) | (a & c) | (b & c) (truth table 0xE8).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn majority(a: __m512i, b: __m512i, c: __m512i) -> __m512i {
        _mm512_ternarylogic_epi32::<0xE8>(a, b, c)
    }

    /// GG_j for j >= 16: (a & b) | (!a & c) (truth table 0xCA).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn choice(a: __m512i, b: __m512i, c: __m512i) -> __m512i {
        _mm512_ternarylogic_epi32::<0xCA>(a, b, c)
    }

    /// P0(X) = X ^ (X <<< 9) ^ (X <<< 17).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn p0(x: __m512i) -> __m512i {
        xor3(x, rol!(x, 9), rol!(x, 17))
    }

    /// P1(X) = X ^ (X <<< 15) ^ (X <<< 23).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn p1(x: __m512i) -> __m512i {
        xor3(x, rol!(x, 15), rol!(x, 23))
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    fn splat(x: u32) -> __m512i {
        _mm512_set1_epi32(i32::from_ne_bytes(x.to_ne_bytes()))
    }

    /// Turns 16 rows (row i = the 16 words of lane i's block) into 16 columns
    /// (column j = word W_j of every lane). Two unpack stages transpose the 4x4 tiles
    /// inside each 128-bit chunk; two 128-bit shuffle stages transpose the 4x4 grid of
    /// chunks. 64 shuffles for 256 words.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn transpose(rows: &[__m512i; 16]) -> [__m512i; 16] {
        let zero = _mm512_setzero_si512();
        // Stage 1: pairs of rows interleaved word by word.
        let mut pairs = [zero; 16];
        for p in 0..8 {
            pairs[2 * p] = _mm512_unpacklo_epi32(rows[2 * p], rows[2 * p + 1]);
            pairs[2 * p + 1] = _mm512_unpackhi_epi32(rows[2 * p], rows[2 * p + 1]);
        }
        // Stage 2: quad[4g + k], chunk q = word 4q + k of rows 4g..4g+3.
        let mut quads = [zero; 16];
        for g in 0..4 {
            let base = 4 * g;
            quads[base] = _mm512_unpacklo_epi64(pairs[base], pairs[base + 2]);
            quads[base + 1] = _mm512_unpackhi_epi64(pairs[base], pairs[base + 2]);
            quads[base + 2] = _mm512_unpacklo_epi64(pairs[base + 1], pairs[base + 3]);
            quads[base + 3] = _mm512_unpackhi_epi64(pairs[base + 1], pairs[base + 3]);
        }
        // Stages 3 and 4: for each k, a 4x4 transpose of 128-bit chunks across
        // quads[k], quads[4 + k], quads[8 + k], quads[12 + k].
        let mut columns = [zero; 16];
        for k in 0..4 {
            let lo01 = _mm512_shuffle_i32x4::<0x44>(quads[k], quads[4 + k]);
            let hi01 = _mm512_shuffle_i32x4::<0xEE>(quads[k], quads[4 + k]);
            let lo23 = _mm512_shuffle_i32x4::<0x44>(quads[8 + k], quads[12 + k]);
            let hi23 = _mm512_shuffle_i32x4::<0xEE>(quads[8 + k], quads[12 + k]);
            columns[k] = _mm512_shuffle_i32x4::<0x88>(lo01, lo23);
            columns[4 + k] = _mm512_shuffle_i32x4::<0xDD>(lo01, lo23);
            columns[8 + k] = _mm512_shuffle_i32x4::<0x88>(hi01, hi23);
            columns[12 + k] = _mm512_shuffle_i32x4::<0xDD>(hi01, hi23);
        }
        columns
    }

    /// CF (GB/T 32905 §5.3.3) on one block in each of 16 lanes; lanes whose bit is set
    /// in `fresh` start from the IV.
    ///
    /// # Safety
    /// The CPU must support AVX-512 F and BW.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) unsafe fn compress(state: &mut [[u32; 16]; 8], blocks: &[&[u8; BLOCK_SIZE]; 16], fresh: u32) {
        // §5.3.2 a: W_0..W_15 are big-endian words: reverse the bytes of each word.
        let byte_swap = _mm512_broadcast_i32x4(_mm_setr_epi8(3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12));
        let zero = _mm512_setzero_si512();
        let mut rows = [zero; 16];
        for (row, block) in rows.iter_mut().zip(blocks) {
            // SAFETY: `block` is a `&[u8; 64]`, so 64 readable bytes; the unaligned load
            // reads exactly those 64 bytes and has no alignment requirement.
            let loaded = unsafe { _mm512_loadu_si512(block.as_ptr().cast()) };
            *row = _mm512_shuffle_epi8(loaded, byte_swap);
        }
        let mut w = [zero; 68];
        w[..16].copy_from_slice(&transpose(&rows));

        let mut v = [zero; 8];
        for ((reg, row), iv) in v.iter_mut().zip(state.iter()).zip(IV) {
            // SAFETY: `row` is a `[u32; 16]`: 64 readable bytes, unaligned load.
            let loaded = unsafe { _mm512_loadu_si512(row.as_ptr().cast()) };
            // Only the low 16 bits name lanes.
            *reg = _mm512_mask_blend_epi32(fresh as u16, loaded, splat(iv));
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = v;

        lanes_all_rounds!(w, a, b, c, d, e, f, g, h);

        // V(i+1) <- ABCDEFGH ^ V(i)
        for ((row, old), new) in state.iter_mut().zip(v).zip([a, b, c, d, e, f, g, h]) {
            // SAFETY: `row` is a `[u32; 16]` borrowed mutably: 64 writable bytes,
            // unaligned store.
            unsafe { _mm512_storeu_si512(row.as_mut_ptr().cast(), xor(old, new)) };
        }
    }
}

/// 8 lanes in AVX2 registers: rotates are two shifts and an OR, logic is two-input.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use core::arch::x86_64::{
        __m256i, _mm256_add_epi32, _mm256_and_si256, _mm256_blendv_epi8, _mm256_cmpeq_epi32, _mm256_loadu_si256,
        _mm256_or_si256, _mm256_permute2x128_si256, _mm256_set1_epi32, _mm256_setr_epi32, _mm256_setr_epi8,
        _mm256_setzero_si256, _mm256_shuffle_epi8, _mm256_slli_epi32, _mm256_srli_epi32, _mm256_storeu_si256,
        _mm256_unpackhi_epi32, _mm256_unpackhi_epi64, _mm256_unpacklo_epi32, _mm256_unpacklo_epi64, _mm256_xor_si256,
    };

    use super::super::scalar::{IV, T_ROTATED};
    use super::BLOCK_SIZE;

    /// One 8-lane step costs about as much as this many scalar block compressions
    /// (2.2 measured on AMD Zen 4: 1.45 GB/s here against 0.41 GB/s for
    /// `scalar::digest`), which sets where the drain goes scalar.
    pub(super) const SCALAR_BLOCKS_PER_STEP: usize = 2;

    macro_rules! rol {
        ($x:expr, $n:literal) => {{
            let x = $x;
            _mm256_or_si256(_mm256_slli_epi32::<$n>(x), _mm256_srli_epi32::<{ 32 - $n }>(x))
        }};
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn add(a: __m256i, b: __m256i) -> __m256i {
        _mm256_add_epi32(a, b)
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn xor(a: __m256i, b: __m256i) -> __m256i {
        _mm256_xor_si256(a, b)
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn xor3(a: __m256i, b: __m256i, c: __m256i) -> __m256i {
        _mm256_xor_si256(_mm256_xor_si256(a, b), c)
    }

    /// FF_j for j >= 16: majority, as (a & b) | ((a | b) & c).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn majority(a: __m256i, b: __m256i, c: __m256i) -> __m256i {
        _mm256_or_si256(_mm256_and_si256(a, b), _mm256_and_si256(_mm256_or_si256(a, b), c))
    }

    /// GG_j for j >= 16: choice, as ((b ^ c) & a) ^ c.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn choice(a: __m256i, b: __m256i, c: __m256i) -> __m256i {
        _mm256_xor_si256(_mm256_and_si256(_mm256_xor_si256(b, c), a), c)
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn p0(x: __m256i) -> __m256i {
        xor3(x, rol!(x, 9), rol!(x, 17))
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn p1(x: __m256i) -> __m256i {
        xor3(x, rol!(x, 15), rol!(x, 23))
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn splat(x: u32) -> __m256i {
        _mm256_set1_epi32(i32::from_ne_bytes(x.to_ne_bytes()))
    }

    /// 8 rows of 8 words into 8 columns: unpack 32-bit, unpack 64-bit, then swap
    /// 128-bit halves. 24 shuffles.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn transpose(rows: &[__m256i; 8]) -> [__m256i; 8] {
        let zero = _mm256_setzero_si256();
        let mut pairs = [zero; 8];
        for p in 0..4 {
            pairs[2 * p] = _mm256_unpacklo_epi32(rows[2 * p], rows[2 * p + 1]);
            pairs[2 * p + 1] = _mm256_unpackhi_epi32(rows[2 * p], rows[2 * p + 1]);
        }
        // quads[4g + k], half h = word 4h + k of rows 4g..4g+3.
        let mut quads = [zero; 8];
        for g in 0..2 {
            let base = 4 * g;
            quads[base] = _mm256_unpacklo_epi64(pairs[base], pairs[base + 2]);
            quads[base + 1] = _mm256_unpackhi_epi64(pairs[base], pairs[base + 2]);
            quads[base + 2] = _mm256_unpacklo_epi64(pairs[base + 1], pairs[base + 3]);
            quads[base + 3] = _mm256_unpackhi_epi64(pairs[base + 1], pairs[base + 3]);
        }
        let mut columns = [zero; 8];
        for k in 0..4 {
            columns[k] = _mm256_permute2x128_si256::<0x20>(quads[k], quads[4 + k]);
            columns[4 + k] = _mm256_permute2x128_si256::<0x31>(quads[k], quads[4 + k]);
        }
        columns
    }

    /// CF (GB/T 32905 §5.3.3) on one block in each of 8 lanes; lanes whose bit is set
    /// in `fresh` start from the IV.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn compress(state: &mut [[u32; 8]; 8], blocks: &[&[u8; BLOCK_SIZE]; 8], fresh: u32) {
        // §5.3.2 a: W_0..W_15 are big-endian words: reverse the bytes of each word.
        let byte_swap = _mm256_setr_epi8(
            3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12, 3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12,
        );
        let zero = _mm256_setzero_si256();
        let mut low_rows = [zero; 8];
        let mut high_rows = [zero; 8];
        for ((low, high), block) in low_rows.iter_mut().zip(high_rows.iter_mut()).zip(blocks) {
            let (first, second) = block.split_at(BLOCK_SIZE / 2);
            // SAFETY: `first` and `second` are the two 32-byte halves of a `[u8; 64]`;
            // each unaligned load reads exactly one half and needs no alignment.
            let (lo, hi) =
                unsafe { (_mm256_loadu_si256(first.as_ptr().cast()), _mm256_loadu_si256(second.as_ptr().cast())) };
            *low = _mm256_shuffle_epi8(lo, byte_swap);
            *high = _mm256_shuffle_epi8(hi, byte_swap);
        }
        let mut w = [zero; 68];
        w[..8].copy_from_slice(&transpose(&low_rows));
        w[8..16].copy_from_slice(&transpose(&high_rows));

        // All ones in the lanes whose bit is set in `fresh`.
        let lane_bits = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
        let fresh_lanes = _mm256_cmpeq_epi32(_mm256_and_si256(splat(fresh), lane_bits), lane_bits);
        let mut v = [zero; 8];
        for ((reg, row), iv) in v.iter_mut().zip(state.iter()).zip(IV) {
            // SAFETY: `row` is a `[u32; 8]`: 32 readable bytes, unaligned load.
            let loaded = unsafe { _mm256_loadu_si256(row.as_ptr().cast()) };
            *reg = _mm256_blendv_epi8(loaded, splat(iv), fresh_lanes);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = v;

        lanes_all_rounds!(w, a, b, c, d, e, f, g, h);

        // V(i+1) <- ABCDEFGH ^ V(i)
        for ((row, old), new) in state.iter_mut().zip(v).zip([a, b, c, d, e, f, g, h]) {
            // SAFETY: `row` is a `[u32; 8]` borrowed mutably: 32 writable bytes,
            // unaligned store.
            unsafe { _mm256_storeu_si256(row.as_mut_ptr().cast(), xor(old, new)) };
        }
    }
}
