//! Counters per backend, and their Prometheus text rendering.
//!
//! Owns: `BackendMetrics` (lock-free counters and two histograms: the time of each backend
//! call and the items in it), [`MetricsSnapshot`], and [`render_prometheus`] (text exposition
//! format 0.0.4, one `backend` label). Items per second is `rate(xinlian_accel_items_total)`.
//! Never: decisions (routing and health read the cost model and health, not these).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// Live counters of one backend.
#[derive(Debug, Default)]
pub(crate) struct BackendMetrics {
    pub(crate) items: AtomicU64,
    pub(crate) batches: AtomicU64,
    pub(crate) busy_ns: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) fallback_items: AtomicU64,
    pub(crate) canary_items: AtomicU64,
    pub(crate) canary_failures: AtomicU64,
    pub(crate) recheck_items: AtomicU64,
    pub(crate) recheck_failures: AtomicU64,
    pub(crate) quarantines: AtomicU64,
    pub(crate) readmissions: AtomicU64,
    pub(crate) self_test_failures: AtomicU64,
    /// Calls by duration, one count per bucket of [`LATENCY_BUCKETS_S`] (last: above all).
    pub(crate) latency: [AtomicU64; LATENCY_BUCKETS_S.len() + 1],
    /// Calls by items sent (canaries included), per bucket of [`BATCH_BUCKETS`].
    pub(crate) batch_sizes: [AtomicU64; BATCH_BUCKETS.len() + 1],
}

/// Upper bounds of the call-latency histogram, seconds: 100 us (a CPU batch of a few items)
/// to 5 s (a card's timeout).
pub const LATENCY_BUCKETS_S: [f64; 10] = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0];
/// Upper bounds of the batch-size histogram, items.
pub const BATCH_BUCKETS: [u64; 7] = [1, 8, 64, 512, 4096, 32768, 262_144];

impl BackendMetrics {
    /// One backend call of `items` items (canaries included) that took `seconds`.
    pub(crate) fn observe_call(&self, items: usize, seconds: f64) {
        let at = LATENCY_BUCKETS_S.iter().position(|&b| seconds <= b).unwrap_or(LATENCY_BUCKETS_S.len());
        add(&self.latency[at], 1);
        let at = BATCH_BUCKETS.iter().position(|&b| items as u64 <= b).unwrap_or(BATCH_BUCKETS.len());
        add(&self.batch_sizes[at], 1);
    }
}

/// Add `n` to a counter.
pub(crate) fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// One backend's counters at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// Backend name (`cpu`, `card`, `opencl`...), unique within a dispatcher.
    pub backend: String,
    /// Whether the backend takes work now.
    pub healthy: bool,
    /// Real items answered by this backend (canaries not counted).
    pub items: u64,
    /// Batches answered (signature, hash and Merkle work alike).
    pub batches: u64,
    /// Time spent in the backend's calls, nanoseconds.
    pub busy_ns: u64,
    /// Calls that returned a device fault ([`crate::AccelError::is_device_fault`]).
    pub errors: u64,
    /// Items that this backend did not answer (a device fault, a wrong answer, or work too
    /// large for it) and that were redone elsewhere.
    pub fallback_items: u64,
    /// Canary items sent along with real work (their cost: device time spent on them).
    pub canary_items: u64,
    /// Batches whose canaries came back wrong.
    pub canary_failures: u64,
    /// Device answers re-checked on the CPU.
    pub recheck_items: u64,
    /// Batches where a CPU re-check disagreed with the device.
    pub recheck_failures: u64,
    /// Times the backend was quarantined for a wrong answer.
    pub quarantines: u64,
    /// Times it was re-admitted after a passing self-test.
    pub readmissions: u64,
    /// Self-tests that failed while it was out.
    pub self_test_failures: u64,
    /// Calls per latency bucket ([`LATENCY_BUCKETS_S`], then one for slower calls).
    pub latency: Vec<u64>,
    /// Calls per batch-size bucket ([`BATCH_BUCKETS`], then one for larger batches).
    pub batch_sizes: Vec<u64>,
}

impl BackendMetrics {
    pub(crate) fn snapshot(&self, backend: &str, healthy: bool) -> MetricsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        MetricsSnapshot {
            backend: backend.to_string(),
            healthy,
            items: get(&self.items),
            batches: get(&self.batches),
            busy_ns: get(&self.busy_ns),
            errors: get(&self.errors),
            fallback_items: get(&self.fallback_items),
            canary_items: get(&self.canary_items),
            canary_failures: get(&self.canary_failures),
            recheck_items: get(&self.recheck_items),
            recheck_failures: get(&self.recheck_failures),
            quarantines: get(&self.quarantines),
            readmissions: get(&self.readmissions),
            self_test_failures: get(&self.self_test_failures),
            latency: self.latency.iter().map(get).collect(),
            batch_sizes: self.batch_sizes.iter().map(get).collect(),
        }
    }
}

/// Escape a label value (backslash, double quote, newline).
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The Prometheus text exposition of `snapshots`, metric names prefixed `xinlian_accel_`.
pub fn render_prometheus(snapshots: &[MetricsSnapshot]) -> String {
    type Field = fn(&MetricsSnapshot) -> u64;
    let counters: [(&str, &str, Field); 12] = [
        ("items_total", "Real items answered by the backend.", |s| s.items),
        ("batches_total", "Batches answered by the backend.", |s| s.batches),
        ("errors_total", "Backend calls that returned a device error.", |s| s.errors),
        ("fallback_items_total", "Items the backend did not answer, redone elsewhere.", |s| s.fallback_items),
        ("canary_items_total", "Canary items sent with real work.", |s| s.canary_items),
        ("canary_failures_total", "Batches whose canaries came back wrong.", |s| s.canary_failures),
        ("recheck_items_total", "Device verdicts re-checked on the CPU.", |s| s.recheck_items),
        ("recheck_failures_total", "Batches where the CPU re-check disagreed.", |s| s.recheck_failures),
        ("quarantines_total", "Times the backend was quarantined for wrong answers.", |s| s.quarantines),
        ("readmissions_total", "Re-admissions after a passing self-test.", |s| s.readmissions),
        ("self_test_failures_total", "Failed self-tests while out.", |s| s.self_test_failures),
        ("busy_nanoseconds_total", "Time spent in backend calls.", |s| s.busy_ns),
    ];
    let mut out = String::new();
    for (name, help, field) in counters {
        let _ = writeln!(out, "# HELP xinlian_accel_{name} {help}");
        let _ = writeln!(out, "# TYPE xinlian_accel_{name} counter");
        for s in snapshots {
            let _ = writeln!(out, "xinlian_accel_{name}{{backend=\"{}\"}} {}", label(&s.backend), field(s));
        }
    }
    histogram(
        &mut out,
        "call_seconds",
        "Duration of backend calls.",
        &LATENCY_BUCKETS_S.map(|b| b.to_string()),
        snapshots,
        |s| &s.latency,
    );
    histogram(
        &mut out,
        "batch_items",
        "Items per backend call, canaries included.",
        &BATCH_BUCKETS.map(|b| b.to_string()),
        snapshots,
        |s| &s.batch_sizes,
    );
    let _ = writeln!(out, "# HELP xinlian_accel_healthy Whether the backend takes work (1) or is out (0).");
    let _ = writeln!(out, "# TYPE xinlian_accel_healthy gauge");
    for s in snapshots {
        let _ = writeln!(out, "xinlian_accel_healthy{{backend=\"{}\"}} {}", label(&s.backend), u8::from(s.healthy));
    }
    out
}

/// A histogram in exposition form: cumulative `_bucket{le=...}` lines and `_count` (no `_sum`:
/// the busy-time counter already gives the total).
fn histogram(
    out: &mut String,
    name: &str,
    help: &str,
    bounds: &[String],
    snapshots: &[MetricsSnapshot],
    counts: fn(&MetricsSnapshot) -> &Vec<u64>,
) {
    let _ = writeln!(out, "# HELP xinlian_accel_{name} {help}");
    let _ = writeln!(out, "# TYPE xinlian_accel_{name} histogram");
    for s in snapshots {
        let backend = label(&s.backend);
        let mut cumulative = 0;
        for (i, bound) in bounds.iter().map(String::as_str).chain(std::iter::once("+Inf")).enumerate() {
            cumulative += counts(s).get(i).copied().unwrap_or(0);
            let _ = writeln!(out, "xinlian_accel_{name}_bucket{{backend=\"{backend}\",le=\"{bound}\"}} {cumulative}");
        }
        let _ = writeln!(out, "xinlian_accel_{name}_count{{backend=\"{backend}\"}} {cumulative}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_one_line_per_backend_and_metric() {
        let a = MetricsSnapshot { backend: "cpu".into(), healthy: true, items: 5, ..Default::default() };
        let b = MetricsSnapshot { backend: "ca\"rd".into(), canary_failures: 2, ..Default::default() };
        let text = render_prometheus(&[a, b]);
        assert!(text.contains("xinlian_accel_items_total{backend=\"cpu\"} 5\n"));
        assert!(text.contains("xinlian_accel_canary_failures_total{backend=\"ca\\\"rd\"} 2\n"));
        assert!(text.contains("xinlian_accel_healthy{backend=\"ca\\\"rd\"} 0\n"));
        let histogram_lines = (LATENCY_BUCKETS_S.len() + 2) + (BATCH_BUCKETS.len() + 2);
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), (13 + histogram_lines) * 2);
    }

    #[test]
    fn histograms_count_calls_in_their_buckets_cumulatively() {
        let m = BackendMetrics::default();
        m.observe_call(1, 0.00005); // first buckets
        m.observe_call(100, 0.02); // 512 items, 50 ms
        m.observe_call(1_000_000, 9.0); // above every bound
        let s = m.snapshot("card", true);
        assert_eq!(s.latency.iter().sum::<u64>(), 3);
        assert_eq!((s.latency[0], s.latency[5], s.latency[10]), (1, 1, 1));
        assert_eq!((s.batch_sizes[0], s.batch_sizes[3], s.batch_sizes[7]), (1, 1, 1));
        let text = render_prometheus(&[s]);
        assert!(text.contains("xinlian_accel_call_seconds_bucket{backend=\"card\",le=\"0.0001\"} 1\n"), "{text}");
        assert!(text.contains("xinlian_accel_call_seconds_bucket{backend=\"card\",le=\"0.05\"} 2\n"), "{text}");
        assert!(text.contains("xinlian_accel_call_seconds_bucket{backend=\"card\",le=\"+Inf\"} 3\n"), "{text}");
        assert!(text.contains("xinlian_accel_batch_items_count{backend=\"card\"} 3\n"), "{text}");
    }
}
