//! The timing model: when, in modelled time, a descriptor's completion may be posted.
//!
//! Owns: the card's modelled resources and their arithmetic. A descriptor moves through a
//! pipeline of four stages, each a resource that serves one descriptor at a time:
//!
//! ```text
//!  arrival ─> DMA host→card (in_len / bw) ─> engine pool (compute) ─> DMA card→host (out_len / bw) ─> + fixed latency ─> due
//! ```
//!
//! Each engine of a pool (SM2, or SM3 which also runs Merkle) is its own resource: the units
//! of a descriptor (a verification, a message, a Merkle parent) go one by one to the engine
//! that frees first, so descriptors overlap on the engines and a stream keeps every engine
//! busy (a message is a serial chain of compressions: one engine). The two DMA directions are independent (PCIe is full duplex), so
//! a stream of descriptors is limited by the slowest stage; the fixed latency is pipelined
//! (it delays a completion, it does not occupy a resource).
//! Never: real clocks (pacing is `card`'s) or the computation itself (that is `engines`).

use crate::profiles::Profile;

/// The work one descriptor asks for, as the model sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Work {
    /// SM2 verifications.
    Sm2 {
        /// Items.
        items: u64,
    },
    /// SM3 messages, by their 64-byte block counts (padding included).
    Sm3 {
        /// Blocks of each message.
        blocks: Vec<u64>,
    },
    /// Merkle parents computed (each one SM3 of 65 bytes: two blocks).
    Merkle {
        /// Parent nodes hashed (a carried odd node costs nothing).
        parents: u64,
    },
}

/// The modelled schedule of one descriptor, ns of modelled time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// When it arrived.
    pub arrival_ns: u64,
    /// When its engine work started.
    pub compute_start_ns: u64,
    /// When its engine work ended.
    pub compute_end_ns: u64,
    /// When its completion may be posted.
    pub due_ns: u64,
}

/// The card's modelled resources.
#[derive(Clone, Debug)]
pub struct TimingModel {
    profile: Profile,
    h2c_free_ns: u64,
    c2h_free_ns: u64,
    /// When each engine of each pool is next free.
    sm2_free_ns: Vec<u64>,
    sm3_free_ns: Vec<u64>,
    /// Engine time spent, summed over engines.
    sm2_busy_ns: u64,
    sm3_busy_ns: u64,
}

/// Blocks SM3 compresses for a message of `len` bytes (padding: 0x80, zeros, 64-bit length).
pub fn sm3_blocks(len: u64) -> u64 {
    (len + 9).div_ceil(64)
}

impl TimingModel {
    /// A model of an idle card at time 0.
    pub fn new(profile: &Profile) -> TimingModel {
        TimingModel {
            profile: profile.clone(),
            h2c_free_ns: 0,
            c2h_free_ns: 0,
            sm2_free_ns: vec![0; profile.sm2.engines as usize],
            sm3_free_ns: vec![0; profile.sm3.engines as usize],
            sm2_busy_ns: 0,
            sm3_busy_ns: 0,
        }
    }

    fn cycles_to_ns(&self, cycles: u64) -> u64 {
        let ns = u128::from(cycles) * 1_000_000_000 / u128::from(self.profile.clock_hz);
        u64::try_from(ns).unwrap_or(u64::MAX)
    }

    fn dma_ns(&self, bytes: u64) -> u64 {
        let ns = u128::from(bytes) * 1_000_000_000 / u128::from(self.profile.dma_bytes_per_s);
        u64::try_from(ns).unwrap_or(u64::MAX)
    }

    /// Cycles of each unit of `work` one engine runs in series (an SM2 verification, an SM3
    /// message, a Merkle parent).
    fn units(&self, work: &Work) -> Vec<u64> {
        match work {
            Work::Sm2 { items } => vec![self.profile.sm2.cycles_per_verify; usize::try_from(*items).unwrap_or(0)],
            Work::Sm3 { blocks } => {
                blocks.iter().map(|b| b.saturating_mul(self.profile.sm3.cycles_per_block)).collect()
            }
            Work::Merkle { parents } => {
                vec![2 * self.profile.sm3.cycles_per_block; usize::try_from(*parents).unwrap_or(0)]
            }
        }
    }

    /// Schedule one descriptor arriving at `arrival_ns` with `in_bytes` to read and
    /// `out_bytes` to write, and take the resources it uses. Each unit of work goes to the
    /// engine of its pool that frees first, no earlier than the input has arrived.
    pub fn schedule(&mut self, arrival_ns: u64, in_bytes: u64, out_bytes: u64, work: &Work) -> Schedule {
        let h2c_end = arrival_ns.max(self.h2c_free_ns) + self.dma_ns(in_bytes);
        self.h2c_free_ns = h2c_end;
        let units = self.units(work);
        let costs: Vec<u64> = units.iter().map(|&c| self.cycles_to_ns(c)).collect();
        let (engines, busy) = match work {
            Work::Sm2 { .. } => (&mut self.sm2_free_ns, &mut self.sm2_busy_ns),
            Work::Sm3 { .. } | Work::Merkle { .. } => (&mut self.sm3_free_ns, &mut self.sm3_busy_ns),
        };
        let compute_start = engines.iter().copied().min().unwrap_or(0).max(h2c_end);
        let mut compute_end = h2c_end;
        for cost in costs {
            if let Some(engine) = engines.iter_mut().min() {
                let start = (*engine).max(h2c_end);
                *engine = start + cost;
                compute_end = compute_end.max(*engine);
                *busy += cost;
            }
        }
        let c2h_end = compute_end.max(self.c2h_free_ns) + self.dma_ns(out_bytes);
        self.c2h_free_ns = c2h_end;
        Schedule {
            arrival_ns,
            compute_start_ns: compute_start,
            compute_end_ns: compute_end,
            due_ns: c2h_end + self.profile.fixed_latency_ns,
        }
    }

    /// Modelled busy time of the SM2 and SM3 pools so far, ns, summed over their engines.
    pub fn busy_ns(&self) -> (u64, u64) {
        (self.sm2_busy_ns, self.sm3_busy_ns)
    }

    /// Forget queued work (a reset): every resource is free from `now_ns`.
    pub fn reset(&mut self, now_ns: u64) {
        self.h2c_free_ns = now_ns;
        self.c2h_free_ns = now_ns;
        self.sm2_free_ns.fill(now_ns);
        self.sm3_free_ns.fill(now_ns);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipeline_is_limited_by_its_slowest_stage() {
        let p = Profile::built_in("pcie-2019").unwrap();
        let mut m = TimingModel::new(&p);
        let mut last = 0;
        for _ in 0..42 {
            last = m.schedule(0, 160 * 1000, 1000, &Work::Sm2 { items: 1000 }).due_ns;
        }
        // 42,000 verifies at 4,200/s: 10 s of engine time, plus one fixed latency and DMA.
        let rate = 42_000.0 / (last as f64 / 1e9);
        assert!((rate - 4200.0).abs() / 4200.0 < 0.01, "{rate}");
    }

    #[test]
    fn blocks_follow_sm3_padding() {
        assert_eq!(sm3_blocks(0), 1);
        assert_eq!(sm3_blocks(55), 1);
        assert_eq!(sm3_blocks(56), 2);
        assert_eq!(sm3_blocks(64), 2);
        assert_eq!(sm3_blocks(119), 2);
    }
}
