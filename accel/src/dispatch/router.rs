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

/// How a large batch is run: split across the CPU and the admitted devices, or on the CPU alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// Shares by [`split`] over the CPU and every admitted device.
    Split,
    /// The whole batch on the CPU.
    CpuAlone,
}

/// Batches of at least this many items are timed whole to compare [`Route`]s: below it, fixed
/// costs would dominate the comparison.
pub const MEASURED_BATCH: usize = 512;
/// The slower route is tried again after at most this many large batches...
const EXPLORE_EVERY: u64 = 16;
/// ...and no more often than keeps the time it wastes under this fraction of the total.
const EXPLORE_BUDGET: f64 = 0.02;
/// Weight of a new measurement in the faster route's running estimate...
const ROUTE_ALPHA: f64 = 0.25;
/// ...and in the slower one's, measured only when tried.
const EXPLORE_ALPHA: f64 = 0.5;

/// Whether splitting pays, measured on whole batches rather than predicted.
///
/// Why: [`split`] assumes each backend computes on silicon of its own, so that a device's share
/// takes nothing from the CPU's. A device that shares the host's cores (POCL's CPU device, a
/// card simulated on the host) breaks that assumption: its share slows the CPU's, the cores are
/// oversubscribed, and the split batch can take longer than the CPU alone would (measured on 2
/// cores with POCL's CPU device beside the CPU backend: 36-54k verifies/s split against 100k/s
/// for the CPU alone; see the README's `[accel]` section). The per-backend cost models cannot
/// see this, so the dispatcher times whole large batches both ways and routes by the faster,
/// trying the slower one again now and then (at most once per `EXPLORE_EVERY` large batches,
/// and rarely enough that the tries cost under 2% of the time) so that a change either way is
/// noticed.
/// Until both are measured, it splits (the cost models' answer), then runs one large batch on
/// the CPU alone to have both figures.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RouteChooser {
    /// Seconds per item of split large batches (running estimate), if any was measured.
    split_s: Option<f64>,
    /// Seconds per item of large batches on the CPU alone.
    cpu_s: Option<f64>,
    /// Large batches routed since the slower route was last tried.
    since_explore: u64,
    /// Large batches measured per route: (split, CPU alone).
    counts: (u64, u64),
}

impl RouteChooser {
    /// The route for a batch of `n` items: large ones ([`MEASURED_BATCH`]) may be used to try
    /// the slower route; smaller ones always take the faster known one.
    pub fn choose(&mut self, n: usize) -> Route {
        let (Some(split), Some(cpu)) = (self.split_s, self.cpu_s) else {
            return match (self.split_s, n >= MEASURED_BATCH) {
                (Some(_), true) => Route::CpuAlone,
                _ => Route::Split,
            };
        };
        let (best, other, ratio) = if split <= cpu {
            (Route::Split, Route::CpuAlone, cpu / split)
        } else {
            (Route::CpuAlone, Route::Split, split / cpu)
        };
        if n < MEASURED_BATCH {
            return best;
        }
        self.since_explore += 1;
        // Trying a route `ratio` times slower on one batch in k wastes (ratio - 1) / k of the
        // time: k is chosen to keep that under the budget.
        let every = ((ratio - 1.0) / EXPLORE_BUDGET).ceil().max(EXPLORE_EVERY as f64);
        if self.since_explore as f64 >= every {
            self.since_explore = 0;
            other
        } else {
            best
        }
    }

    /// A large batch of `n` items went by `route` and took `took` (all of it, every share
    /// answered without a device failure).
    pub fn record(&mut self, route: Route, n: usize, took: Duration) {
        if n < MEASURED_BATCH {
            return;
        }
        let per_item = took.as_secs_f64() / n as f64;
        // The slower route's estimate is as old as its last try: a new try outweighs it, so
        // that one try can show that things changed. The faster route is measured on most
        // batches: its estimate moves slowly, so one noisy batch does not flip the choice.
        let best = match (self.split_s, self.cpu_s) {
            (Some(split), Some(cpu)) => Some(if split <= cpu { Route::Split } else { Route::CpuAlone }),
            _ => None,
        };
        let alpha = if best == Some(route) { ROUTE_ALPHA } else { EXPLORE_ALPHA };
        let (estimate, count) = match route {
            Route::Split => (&mut self.split_s, &mut self.counts.0),
            Route::CpuAlone => (&mut self.cpu_s, &mut self.counts.1),
        };
        *count += 1;
        *estimate = Some(match *estimate {
            Some(old) => old + alpha * (per_item - old),
            None => per_item,
        });
    }

    /// Measured items per second of large batches: (split, CPU alone).
    pub fn rates(&self) -> (Option<f64>, Option<f64>) {
        (self.split_s.map(|s| 1.0 / s.max(1e-12)), self.cpu_s.map(|s| 1.0 / s.max(1e-12)))
    }

    /// Large batches measured: (split, CPU alone).
    pub fn counts(&self) -> (u64, u64) {
        self.counts
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

    /// Feed `chooser` `batches` large batches whose time per item on each route is given, and
    /// count how many went each way.
    fn drive(chooser: &mut RouteChooser, batches: usize, split_us: f64, cpu_us: f64) -> (usize, usize) {
        let (mut split, mut cpu) = (0, 0);
        for _ in 0..batches {
            let route = chooser.choose(4096);
            let us = match route {
                Route::Split => {
                    split += 1;
                    split_us
                }
                Route::CpuAlone => {
                    cpu += 1;
                    cpu_us
                }
            };
            chooser.record(route, 4096, Duration::from_secs_f64(us * 4096.0 * 1e-6));
        }
        (split, cpu)
    }

    #[test]
    fn the_chooser_keeps_the_faster_route_and_tries_the_other_now_and_then() {
        let mut c = RouteChooser::default();
        // Nothing measured: split (the cost models' answer), then the CPU alone once.
        assert_eq!(c.choose(4096), Route::Split);
        assert_eq!(c.choose(100), Route::Split);
        c.record(Route::Split, 4096, Duration::from_secs_f64(18.0e-6 * 4096.0));
        assert_eq!(c.choose(100), Route::Split, "small batches are not used to explore");
        assert_eq!(c.choose(4096), Route::CpuAlone);
        c.record(Route::CpuAlone, 4096, Duration::from_millis(60));
        // The CPU alone is faster (a device on the host's own cores): it gets the batches,
        // small ones too, and the split is tried once in 16 (it is only 1.33x slower).
        assert_eq!(c.choose(100), Route::CpuAlone);
        let (split, cpu) = drive(&mut c, 160, 18.0, 14.6);
        assert_eq!((split, cpu), (10, 150), "one try of the slower route per 16 large batches");
        // Then the device gets silicon of its own and the split becomes twice as fast: the
        // next try of the split (within 16 batches) shows it, and from there the split carries
        // the batches, the CPU alone tried about once in 50 (the tries' cost kept near 2%).
        let (split, cpu) = drive(&mut c, 16, 7.3, 14.6);
        assert_eq!((split, cpu), (1, 15));
        assert_eq!(c.choose(100), Route::Split);
        let (split, cpu) = drive(&mut c, 200, 7.3, 14.6);
        assert!(split >= 194 && (2..=6).contains(&cpu), "{split} split, {cpu} CPU alone");
        let (s, k) = c.rates();
        assert!(s.unwrap() > k.unwrap(), "{:?}", c.rates());
        // Batches below the measured size change nothing.
        let before = c.clone();
        c.record(Route::CpuAlone, 100, Duration::from_nanos(1));
        assert_eq!(c, before);
    }

    #[test]
    fn trying_a_much_slower_route_is_rare() {
        // A real accelerator, ten times the CPU: the CPU alone is tried about once in 450
        // large batches, so the tries cost about 2% of the time rather than 56%.
        let mut c = RouteChooser::default();
        let (split, cpu) = drive(&mut c, 2000, 2.0, 20.0);
        assert!((3..=7).contains(&cpu) && split == 2000 - cpu, "{split} split, {cpu} CPU alone");
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
