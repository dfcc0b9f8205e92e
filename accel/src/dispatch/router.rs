//! The cost model and the split of a batch across backends.
//!
//! Owns: [`CostModel`] (time of a batch of n items = fixed + n x per_item, per backend and
//! per kind of work), its online update from measured batches, and [`split`], which cuts a
//! batch so that every chosen backend finishes at the same time.
//! Never: runs work, or looks at health (the caller passes only backends that take work).

use std::time::Duration;

/// Modelled cost of one backend for one kind of work.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CostModel {
    /// Seconds per call, whatever its size (launch, DMA set-up, round trip).
    pub fixed_s: f64,
    /// Seconds per item.
    pub per_item_s: f64,
}

/// Weight of a new measurement in the running estimate.
const ALPHA: f64 = 0.2;
/// Batches up to this size inform the fixed cost; larger ones the per-item cost.
const SMALL: usize = 32;

impl CostModel {
    /// A model from its two parameters (negative or non-finite values are clamped).
    pub fn new(fixed_s: f64, per_item_s: f64) -> CostModel {
        let clean = |v: f64, min: f64| if v.is_finite() { v.max(min) } else { min };
        CostModel { fixed_s: clean(fixed_s, 0.0), per_item_s: clean(per_item_s, 1e-9) }
    }

    /// Fit from two timed batches of `n_small` and `n_large` items (calibration).
    pub fn fit(n_small: usize, t_small: Duration, n_large: usize, t_large: Duration) -> CostModel {
        let (ns, nl) = (n_small as f64, n_large as f64);
        let (ts, tl) = (t_small.as_secs_f64(), t_large.as_secs_f64());
        if nl <= ns {
            return CostModel::new(0.0, tl / nl.max(1.0));
        }
        let per_item = ((tl - ts) / (nl - ns)).max(tl / nl * 0.05);
        CostModel::new(ts - per_item * ns, per_item)
    }

    /// Modelled seconds for `n` items.
    pub fn predict(&self, n: usize) -> f64 {
        self.fixed_s + self.per_item_s * n as f64
    }

    /// Items per second on a large batch.
    pub fn throughput(&self) -> f64 {
        1.0 / self.per_item_s
    }

    /// Fold in a measured batch of `n` items that took `took`.
    pub fn observe(&mut self, n: usize, took: Duration) {
        if n == 0 {
            return;
        }
        let t = took.as_secs_f64();
        if n <= SMALL {
            let fixed = (t - self.per_item_s * n as f64).max(0.0);
            self.fixed_s += ALPHA * (fixed - self.fixed_s);
        } else {
            let per_item = ((t - self.fixed_s) / n as f64).max(t / n as f64 * 0.05).max(1e-9);
            self.per_item_s += ALPHA * (per_item - self.per_item_s);
        }
    }
}

/// How many of `n` items each backend takes so that all finish together: backend i, taking
/// n_i items, finishes at fixed_i + n_i x per_item_i = T for all i with n_i > 0. Backends for
/// which that leaves less than `min_share` items are dropped (their fixed cost outweighs what
/// they would take). The shares sum to `n`; index `last_resort` (the CPU) is never dropped
/// and takes the rounding remainder.
pub fn split(n: usize, models: &[CostModel], last_resort: usize, min_share: usize) -> Vec<usize> {
    let mut active: Vec<bool> = vec![true; models.len()];
    loop {
        let (mut inv, mut fixed_over) = (0.0, 0.0);
        for (m, _) in models.iter().zip(&active).filter(|(_, a)| **a) {
            inv += 1.0 / m.per_item_s;
            fixed_over += m.fixed_s / m.per_item_s;
        }
        let t = (n as f64 + fixed_over) / inv;
        let raw: Vec<f64> = models
            .iter()
            .zip(&active)
            .map(|(m, a)| if *a { ((t - m.fixed_s) / m.per_item_s).max(0.0) } else { 0.0 })
            .collect();
        // Drop the weakest backend that would get too little, and solve again.
        let weakest = (0..models.len())
            .filter(|&i| active[i] && i != last_resort && raw[i] < min_share as f64)
            .min_by(|&a, &b| raw[a].total_cmp(&raw[b]));
        if let Some(i) = weakest {
            active[i] = false;
            continue;
        }
        let mut shares: Vec<usize> = raw.iter().map(|&r| whole_items(r, n)).collect();
        let mut given: usize = shares.iter().sum();
        // Floors can only under-give; the CPU takes the rest. Over-giving (rounding in a
        // degenerate model) is taken back from the largest share.
        while given > n {
            let big = (0..shares.len()).max_by_key(|&i| shares[i]).unwrap_or(last_resort);
            let cut = (given - n).min(shares[big]);
            shares[big] -= cut;
            given -= cut;
        }
        if let Some(s) = shares.get_mut(last_resort) {
            *s += n - given;
        }
        return shares;
    }
}

/// `r` rounded down to whole items, within [0, n].
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "clamped to [0, n] before the cast")]
fn whole_items(r: f64, n: usize) -> usize {
    if r.is_nan() || r <= 0.0 {
        0
    } else if r >= n as f64 {
        n
    } else {
        r.floor() as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_recovers_the_line_and_observe_moves_toward_measurements() {
        let m = CostModel::fit(16, Duration::from_micros(1_160), 256, Duration::from_micros(3_560));
        assert!((m.per_item_s - 10e-6).abs() < 1e-9, "{m:?}");
        assert!((m.fixed_s - 1e-3).abs() < 1e-6, "{m:?}");
        let mut m2 = m;
        for _ in 0..50 {
            m2.observe(1000, Duration::from_millis(21));
        }
        assert!((m2.per_item_s - 20e-6).abs() < 1e-6, "{m2:?}");
    }

    #[test]
    fn split_finishes_together_and_drops_what_does_not_pay() {
        // CPU 10 us/item, card 2.5 us/item + 1 ms fixed.
        let models = [CostModel::new(0.0, 10e-6), CostModel::new(1e-3, 2.5e-6)];
        let shares = split(10_000, &models, 0, 64);
        assert_eq!(shares.iter().sum::<usize>(), 10_000);
        let t0 = models[0].predict(shares[0]);
        let t1 = models[1].predict(shares[1]);
        assert!((t0 - t1).abs() < 20e-6, "{shares:?} {t0} {t1}");
        // A small batch: the card's fixed cost leaves it nothing worth sending.
        assert_eq!(split(100, &models, 0, 64), vec![100, 0]);
        assert_eq!(split(0, &models, 0, 64), vec![0, 0]);
    }
}
