//! Counters per backend, and their Prometheus text rendering.
//!
//! Owns: [`BackendMetrics`] (lock-free counters), [`MetricsSnapshot`], and
//! [`render_prometheus`] (text exposition format 0.0.4, one `backend` label).
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
    /// Calls that returned an [`crate::AccelError`].
    pub errors: u64,
    /// Items that this backend did not answer (error or wrong answer) and that were redone
    /// elsewhere.
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
    let _ = writeln!(out, "# HELP xinlian_accel_healthy Whether the backend takes work (1) or is out (0).");
    let _ = writeln!(out, "# TYPE xinlian_accel_healthy gauge");
    for s in snapshots {
        let _ = writeln!(out, "xinlian_accel_healthy{{backend=\"{}\"}} {}", label(&s.backend), u8::from(s.healthy));
    }
    out
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
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 13 * 2);
    }
}
