//! `--backend auto`: every device this binary can reach, through `xinlian-accel`'s dispatcher.
//!
//! Owns: finding the devices (every OpenCL device, or the one `--device` names; the card at
//! `--card` or the default BAR path when a card is served there), and the per-backend
//! statistics that `--stats` prints. Never: routing or result checking (the dispatcher's).

use std::path::Path;
use std::sync::Arc;

use xinlian_accel::backends::opencl;
use xinlian_accel::{
    AccelError, Backend, BackendInfo, BackendKind, CardBackend, DispatchConfig, Dispatcher, MessageBatch,
    OpenClBackend, PreparedVerify, Verdict,
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

impl AutoBackend {
    /// Every reachable device, plus the CPU. A device that cannot start is left out with a
    /// warning on stderr, never a failure: the CPU can always do the work.
    pub(crate) fn open(common: &CommonArgs) -> AutoBackend {
        let mut backends: Vec<Arc<dyn Backend>> = Vec::new();
        let opencl_devices: Vec<&opencl::DeviceInfo> = match (&common.device, opencl::devices()) {
            (Some(spec), _) => match opencl::select(Some(spec)) {
                Ok(d) => vec![d],
                Err(e) => {
                    eprintln!("warning: --device {spec}: {e}; going on without OpenCL");
                    Vec::new()
                }
            },
            (None, Ok(all)) => all.iter().collect(),
            (None, Err(_)) => Vec::new(),
        };
        for device in opencl_devices {
            match OpenClBackend::on_device(device) {
                Ok(b) => backends.push(Arc::new(b)),
                Err(e) => eprintln!("warning: OpenCL device {} left out: {e}", device.label()),
            }
        }
        let card_path = common.card.clone().unwrap_or_else(|| xinlian_hw_sim::DEFAULT_BAR_PATH.into());
        if common.card.is_some() || Path::new(&card_path).exists() {
            match CardBackend::open(&card_path) {
                Ok(b) => backends.push(Arc::new(b)),
                Err(e) => eprintln!("warning: card at {} left out: {e}", card_path.display()),
            }
        }
        let dispatcher =
            Dispatcher::new(backends, DispatchConfig { cpu_threads: common.threads, ..DispatchConfig::default() });
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
