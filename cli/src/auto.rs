//! `--backend auto`: every device this binary can reach, through `xinlian-accel`'s dispatcher.
//!
//! Owns: turning `--card`, `--device` and `--threads` into an `[accel]` configuration with
//! `backends = "auto"` (finding and starting the devices is `AccelConfig`'s, shared with the
//! node), and the per-backend statistics that `--stats` prints. Never: routing or result
//! checking (the dispatcher's).

use std::sync::Arc;

use xinlian_accel::{
    AccelConfig, AccelError, Backend, BackendInfo, BackendKind, Backends, CpuBackend, DispatchConfig, Dispatcher,
    MessageBatch, PreparedVerify, Verdict,
};
use xinlian_kernels::merkle;
use xinlian_kernels::sm3::Digest;

use super::CommonArgs;

/// The dispatcher seen as one backend: it never fails (a device fault sends the work
/// elsewhere, the CPU last), so every call answers `Ok`.
pub(crate) struct AutoBackend {
    dispatcher: Dispatcher,
    info: BackendInfo,
}

/// The `[accel]` configuration `--backend auto` stands for: every device found (`--device`
/// narrows OpenCL to one, `--card` names the card's BAR), the CPU with `--threads`.
fn config(common: &CommonArgs) -> AccelConfig {
    AccelConfig {
        backends: Backends::Auto,
        cpu_threads: common.threads,
        // `--device ""` meant "the default device" before there was a config: no spec.
        opencl_devices: common.device.iter().filter(|d| !d.trim().is_empty()).cloned().collect(),
        card_bars: common.card.iter().filter(|p| !p.as_os_str().is_empty()).cloned().collect(),
        sdf_libraries: common.sdf_lib.iter().map(xinlian_accel::SdfConfig::new).collect(),
        ..AccelConfig::default()
    }
}

impl AutoBackend {
    /// Every reachable device, plus the CPU. A device that cannot start is left out with a
    /// warning on stderr, never a failure: the CPU can always do the work.
    pub(crate) fn open(common: &CommonArgs) -> AutoBackend {
        let config = config(common);
        let dispatcher = match config.open_dispatcher() {
            Ok((dispatcher, warnings)) => {
                for w in warnings {
                    eprintln!("warning: {w}");
                }
                dispatcher
            }
            // With "auto" only an option out of range gets here (--threads above the config's
            // limit): `auto` never fails to start, so say so and go on with the CPU alone on
            // every core.
            Err(e) => {
                eprintln!("warning: {e}; going on with the CPU alone");
                let cpu: Arc<dyn Backend> = Arc::new(CpuBackend::new(0));
                Dispatcher::new(vec![cpu], DispatchConfig::default())
            }
        };
        let names = dispatcher.backend_names();
        let info = BackendInfo {
            name: "auto".to_string(),
            kind: BackendKind::Cpu,
            device: format!("dispatcher over {}", names.join(", ")),
            max_batch: usize::MAX,
            parallelism: names.len(),
        };
        AutoBackend { dispatcher, info }
    }

    /// Per-backend shares of the items, batches, errors, fallbacks, canary failures and
    /// quarantines, one line each, for `--stats`.
    pub(crate) fn stats(&self) -> String {
        let metrics = self.dispatcher.metrics();
        let total: u64 = metrics.iter().map(|m| m.items).sum::<u64>().max(1);
        let mut out = String::from("backend shares:\n");
        for m in &metrics {
            out.push_str(&format!(
                "  {:<10} {:>5.1}% of items ({} items, {} batches, {:.3} s busy), {} errors, {} items fallen back, \
                 {} canaries ({} failed), {} re-checked ({} disagreed), {} quarantines{}\n",
                m.backend,
                100.0 * m.items as f64 / total as f64,
                m.items,
                m.batches,
                m.busy_ns as f64 / 1e9,
                m.errors,
                m.fallback_items,
                m.canary_items,
                m.canary_failures,
                m.recheck_items,
                m.recheck_failures,
                m.quarantines,
                if m.healthy { "" } else { " (out of service)" }
            ));
        }
        let r = self.dispatcher.verify_routes();
        let rate = |r: Option<f64>| r.map_or_else(|| "not measured".to_string(), |r| format!("{r:.0}/s"));
        out.push_str(&format!(
            "large batches (>= {} items): split {} ({} batches), CPU alone {} ({} batches)\n",
            xinlian_accel::dispatch::router::MEASURED_BATCH,
            rate(r.split_per_s),
            r.split_batches,
            rate(r.cpu_alone_per_s),
            r.cpu_alone_batches
        ));
        out
    }
}

impl Backend for AutoBackend {
    fn info(&self) -> &BackendInfo {
        &self.info
    }

    fn verify_batch(&self, items: &[PreparedVerify]) -> Result<Vec<Verdict>, AccelError> {
        Ok(self.dispatcher.verify_batch(items))
    }

    fn sm3_batch(&self, msgs: &MessageBatch) -> Result<Vec<Digest>, AccelError> {
        Ok(self.dispatcher.sm3_batch(msgs))
    }

    fn merkle_level(&self, nodes: &[Digest]) -> Result<Vec<Digest>, AccelError> {
        // The dispatcher routes whole roots (`Dispatcher::merkle_root`); one level is CPU work.
        Ok(merkle::parent_level(nodes))
    }

    fn self_test(&self) -> Result<(), AccelError> {
        xinlian_accel::self_test::run(self)
    }
}
