//! The `[accel]` section of the node's config file, and opening what it names.
//!
//! Owns: [`AccelConfig`] (every knob of the acceleration layer an operator may turn: which
//! backends, their devices, batch limits, the batcher's latency budget, the result checks, the
//! key cache), its validation, and [`AccelConfig::open`], the one place where backends are
//! found and started, for the node and for `xinlian verify --backend auto` alike.
//! Never: routing, checking or caching themselves (the dispatcher's and the cache's).
//!
//! ```toml
//! [accel]
//! backends = "auto"              # or a list: ["cpu", "opencl", "card"]
//! cpu_threads = 0                # 0: every core
//! opencl_devices = []            # specs as `xinlian devices` lists them; []: every device
//! card_bars = []                 # []: /dev/shm/xinlian-card-0 when a card is served there
//! sdf_libraries = []             # GM/T 0018 libraries: [{ path = "/opt/vendor/libsdf.so" }, ...]
//!                                # (keys: backends/sdf/settings.rs)
//! max_batch = 4096
//! cpu_only_below = 64
//! min_device_share = 64
//! latency_budget_min_us = 200
//! latency_budget_max_us = 5000
//! max_in_flight_batches = 2
//! max_queued_requests = 1024
//! canaries_per_batch = 4
//! recheck_invalid = true
//! recheck_valid_rate = 0.0
//! backoff_initial_ms = 100
//! backoff_max_ms = 30000
//! calibrate = true
//! key_cache_entries = 100000
//! key_table_bytes = 67108864
//! key_table_after = 4
//! ```
//!
//! Which devices, and what happens when one does not start:
//! - `backends = "auto"`: every OpenCL device (or those `opencl_devices` names), every card
//!   (those in `card_bars`, else the default BAR path if that file exists) and every library in
//!   `sdf_libraries` (none by default: a vendor's library is never guessed). A device that cannot
//!   start (an SDF library that fails its self-test included) is left out with a warning
//!   ([`Accel::warnings`]); the node runs on what is left.
//! - `backends = [..]`: exactly the kinds listed, and each listed device kind is *required*:
//!   a named card or OpenCL device that does not start fails [`AccelConfig::open`] with
//!   [`AccelError::Config`]. Why: an operator who writes `["cpu", "card"]` has said there is a
//!   card; a wrong BAR path should stop the node at start-up, not leave it quietly on the CPU.
//!   `"auto"` is the way to say "the card if it is there".
//! - The CPU is always present, listed or not: it is the last resort that every failed device
//!   batch falls back to. A device that starts and later fails is never fatal either way: the
//!   dispatcher takes it out and re-admits it after a passing self-test.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::backend::{AccelError, Backend, BackendKind};
use crate::backends::card::{CardBackend, DEFAULT_BAR_PATH};
use crate::backends::opencl::{self, DeviceInfo, OpenClBackend};
use crate::backends::sdf::{SdfBackend, SdfConfig};
use crate::cache::{KeyCache, KeyCacheConfig};
/// What [`Accel::backends`] lists (defined with the dispatcher, which knows it).
pub use crate::dispatch::BackendStatus;
use crate::dispatch::{AsyncDispatcher, BatcherConfig, DispatchConfig, Dispatcher};

/// Backend names as the config and `--backend` spell them.
const KIND_NAMES: &[&str] = &["cpu", "opencl", "card", "sdf"];

impl Serialize for BackendKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for BackendKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<BackendKind, D::Error> {
        struct Kind;
        impl Visitor<'_> for Kind {
            type Value = BackendKind;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a backend name: \"cpu\", \"opencl\", \"card\" or \"sdf\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<BackendKind, E> {
                kind_by_name(v).ok_or_else(|| E::unknown_variant(v, KIND_NAMES))
            }
        }
        d.deserialize_str(Kind)
    }
}

fn kind_by_name(name: &str) -> Option<BackendKind> {
    match name {
        "cpu" => Some(BackendKind::Cpu),
        "opencl" => Some(BackendKind::OpenCl),
        "card" => Some(BackendKind::Card),
        "sdf" => Some(BackendKind::Sdf),
        _ => None,
    }
}

/// Which backends the dispatcher runs on (the CPU always, as last resort).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Backends {
    /// Every device found; one that cannot start is left out with a warning.
    #[default]
    Auto,
    /// Exactly these kinds (the CPU added if missing); a listed device that cannot start is an
    /// error.
    Only(Vec<BackendKind>),
}

impl Backends {
    /// Whether devices of `kind` are wanted.
    pub fn wants(&self, kind: BackendKind) -> bool {
        match self {
            Backends::Auto => true,
            Backends::Only(kinds) => kinds.contains(&kind),
        }
    }

    /// Whether a device of the kinds wanted that fails to start fails the whole open.
    pub fn required(&self) -> bool {
        matches!(self, Backends::Only(_))
    }
}

impl Serialize for Backends {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Backends::Auto => s.serialize_str("auto"),
            Backends::Only(kinds) => kinds.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Backends {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Backends, D::Error> {
        struct Sel;
        impl<'de> Visitor<'de> for Sel {
            type Value = Backends;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"auto\" or a list of backend names such as [\"cpu\", \"opencl\", \"card\"]")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Backends, E> {
                // One name alone is taken as a list of one: `backends = "cpu"` reads naturally.
                match (v, kind_by_name(v)) {
                    ("auto", _) => Ok(Backends::Auto),
                    (_, Some(kind)) => Ok(Backends::Only(vec![kind])),
                    (_, None) => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Backends, A::Error> {
                let mut kinds = Vec::new();
                while let Some(kind) = seq.next_element::<BackendKind>()? {
                    if !kinds.contains(&kind) {
                        kinds.push(kind);
                    }
                }
                Ok(Backends::Only(kinds))
            }
        }
        d.deserialize_any(Sel)
    }
}

/// The `[accel]` section: see the module docs for the TOML, and each field for its meaning.
/// Every field has a default ([`AccelConfig::default`], the same values as
/// [`DispatchConfig::default`], [`BatcherConfig::default`] and [`KeyCacheConfig::default`]), so
/// an empty section is a working "auto" configuration. Unknown keys are refused, so that a typo
/// is reported rather than silently ignored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccelConfig {
    /// `"auto"` (every device found) or a list of `"cpu"`, `"opencl"`, `"card"`, `"sdf"`; the CPU is
    /// always present as last resort. Listed devices are required (see the module docs).
    pub backends: Backends,
    /// Threads of the CPU backend (0: every core).
    pub cpu_threads: usize,
    /// OpenCL devices, each an index from `xinlian devices` or a case-insensitive substring of
    /// "platform / name" ([`opencl::select`]); empty: every device.
    pub opencl_devices: Vec<String>,
    /// BAR files of cards; empty: [`DEFAULT_BAR_PATH`] if that file exists (with `"auto"`), or
    /// must exist (with `"card"` listed).
    pub card_bars: Vec<PathBuf>,
    /// GM/T 0018 (SDF) libraries, each a card of the `sdf` backend ([`SdfConfig`]: path,
    /// invalid_codes, sessions, layout, watchdog); empty: no SDF device (with `"sdf"` listed in
    /// `backends`, an error).
    pub sdf_libraries: Vec<SdfConfig>,
    /// A coalesced batch of the async batcher closes at this many signatures; larger requests
    /// go straight to the dispatcher.
    pub max_batch: usize,
    /// Batches smaller than this stay on the CPU (a device's fixed cost outweighs them).
    pub cpu_only_below: usize,
    /// A device gets no share smaller than this.
    pub min_device_share: usize,
    /// Shortest wait of the batcher for more requests after the first of a batch, microseconds.
    pub latency_budget_min_us: u64,
    /// Longest such wait, microseconds (the latency the batcher may add under load).
    pub latency_budget_max_us: u64,
    /// Coalesced batches served at once.
    pub max_in_flight_batches: usize,
    /// Requests queued before callers wait to enqueue.
    pub max_queued_requests: usize,
    /// Canary items (known answers) added to each device batch; 0 turns canaries off.
    pub canaries_per_batch: usize,
    /// Re-check every `Invalid` verdict of a device on the CPU.
    pub recheck_invalid: bool,
    /// Fraction of `Valid` device verdicts re-checked on the CPU, in [0, 1] (1: a device never
    /// decides alone).
    pub recheck_valid_rate: f64,
    /// Wait before the first re-admission attempt of a failed device, milliseconds (doubles per
    /// failure).
    pub backoff_initial_ms: u64,
    /// Longest wait between re-admission attempts, milliseconds.
    pub backoff_max_ms: u64,
    /// Time each backend on a short self-benchmark at start-up (else start from default costs).
    pub calibrate: bool,
    /// Most (public key, ID) entries in the key cache (decoded key and Z value each).
    pub key_cache_entries: usize,
    /// Most bytes of per-key tables kept (each 5-13 KiB); below one table's size none is kept.
    pub key_table_bytes: usize,
    /// Build a key's table on its n-th sighting (0: never).
    pub key_table_after: u32,
}

impl Default for AccelConfig {
    fn default() -> AccelConfig {
        // One source of truth for defaults: the structs the values end up in.
        let d = DispatchConfig::default();
        let b = BatcherConfig::default();
        let k = KeyCacheConfig::default();
        AccelConfig {
            backends: Backends::Auto,
            cpu_threads: d.cpu_threads,
            opencl_devices: Vec::new(),
            card_bars: Vec::new(),
            sdf_libraries: Vec::new(),
            max_batch: b.max_batch,
            cpu_only_below: d.cpu_only_below,
            min_device_share: d.min_device_share,
            latency_budget_min_us: micros(b.min_budget),
            latency_budget_max_us: micros(b.max_budget),
            max_in_flight_batches: b.max_in_flight,
            max_queued_requests: b.queue,
            canaries_per_batch: d.canaries,
            recheck_invalid: d.recheck_invalid,
            recheck_valid_rate: d.recheck_valid_rate,
            backoff_initial_ms: millis(d.backoff_initial),
            backoff_max_ms: millis(d.backoff_max),
            calibrate: d.calibrate,
            key_cache_entries: k.max_entries,
            key_table_bytes: k.max_table_bytes,
            key_table_after: k.table_after,
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Upper bounds that catch a slipped digit; each well above any sane setting. They also keep
/// the values inside what tokio's channel and semaphore accept (which panic beyond usize::MAX/8).
const MAX_THREADS: usize = 4096;
const MAX_BATCH: usize = 1 << 20;
const MAX_BUDGET_US: u64 = 1_000_000;
const MAX_IN_FLIGHT: usize = 1024;
const MAX_QUEUE: usize = 1 << 20;
const MAX_CANARIES: usize = 1024;
const MAX_BACKOFF_MS: u64 = 3_600_000;

fn bad(msg: String) -> AccelError {
    AccelError::Config(msg)
}

impl AccelConfig {
    /// Parse a TOML document holding only the section's fields (no `[accel]` header), and
    /// validate it. The node parses its whole file and takes the section from there; this is
    /// for tests and tools.
    pub fn from_toml_str(text: &str) -> Result<AccelConfig, AccelError> {
        let config: AccelConfig = toml::from_str(text).map_err(|e| bad(format!("[accel] section: {e}")))?;
        config.validate()?;
        Ok(config)
    }

    /// Check every value; the error names the field, its value and what it may be.
    pub fn validate(&self) -> Result<(), AccelError> {
        if let Backends::Only(kinds) = &self.backends {
            if kinds.is_empty() {
                return Err(bad(
                    "backends = []: name at least one backend (\"cpu\" for the CPU alone), or \"auto\"".to_string()
                ));
            }
        }
        if self.cpu_threads > MAX_THREADS {
            return Err(bad(format!("cpu_threads = {}: at most {MAX_THREADS} (0: every core)", self.cpu_threads)));
        }
        let mut seen = HashSet::new();
        for spec in &self.opencl_devices {
            if spec.trim().is_empty() {
                return Err(bad("opencl_devices: an empty device spec (give an index or a name)".to_string()));
            }
            if !seen.insert(spec.trim()) {
                return Err(bad(format!("opencl_devices: {spec:?} listed twice")));
            }
        }
        let mut seen = HashSet::new();
        for bar in &self.card_bars {
            if bar.as_os_str().is_empty() {
                return Err(bad("card_bars: an empty path".to_string()));
            }
            if !seen.insert(bar) {
                // Opening a card resets it: two drivers on one card would undo each other.
                return Err(bad(format!("card_bars: {} listed twice (one driver per card)", bar.display())));
            }
        }
        self.validate_sdf()?;
        if !(1..=MAX_BATCH).contains(&self.max_batch) {
            return Err(bad(format!("max_batch = {}: must be in 1..={MAX_BATCH}", self.max_batch)));
        }
        if self.latency_budget_max_us > MAX_BUDGET_US {
            return Err(bad(format!(
                "latency_budget_max_us = {}: at most {MAX_BUDGET_US} (1 s)",
                self.latency_budget_max_us
            )));
        }
        if self.latency_budget_min_us > self.latency_budget_max_us {
            return Err(bad(format!(
                "latency_budget_min_us = {} is above latency_budget_max_us = {}",
                self.latency_budget_min_us, self.latency_budget_max_us
            )));
        }
        if !(1..=MAX_IN_FLIGHT).contains(&self.max_in_flight_batches) {
            return Err(bad(format!(
                "max_in_flight_batches = {}: must be in 1..={MAX_IN_FLIGHT}",
                self.max_in_flight_batches
            )));
        }
        if !(1..=MAX_QUEUE).contains(&self.max_queued_requests) {
            return Err(bad(format!("max_queued_requests = {}: must be in 1..={MAX_QUEUE}", self.max_queued_requests)));
        }
        if self.canaries_per_batch > MAX_CANARIES {
            return Err(bad(format!("canaries_per_batch = {}: at most {MAX_CANARIES}", self.canaries_per_batch)));
        }
        if !(0.0..=1.0).contains(&self.recheck_valid_rate) {
            // NaN lands here too: `contains` is false for it.
            return Err(bad(format!("recheck_valid_rate = {}: must be in [0, 1]", self.recheck_valid_rate)));
        }
        if self.backoff_initial_ms == 0 {
            return Err(bad(
                "backoff_initial_ms = 0: must be at least 1 (0 would self-test a failed device on every batch)"
                    .to_string(),
            ));
        }
        if self.backoff_max_ms > MAX_BACKOFF_MS {
            return Err(bad(format!("backoff_max_ms = {}: at most {MAX_BACKOFF_MS} (1 h)", self.backoff_max_ms)));
        }
        if self.backoff_initial_ms > self.backoff_max_ms {
            return Err(bad(format!(
                "backoff_initial_ms = {} is above backoff_max_ms = {}",
                self.backoff_initial_ms, self.backoff_max_ms
            )));
        }
        if self.key_cache_entries == 0 {
            return Err(bad("key_cache_entries = 0: must be at least 1".to_string()));
        }
        Ok(())
    }

    fn validate_sdf(&self) -> Result<(), AccelError> {
        if self.backends.required() && self.backends.wants(BackendKind::Sdf) && self.sdf_libraries.is_empty() {
            return Err(
                bad("backends lists \"sdf\" but sdf_libraries is empty: name the vendor's library".to_string()),
            );
        }
        let mut seen = HashSet::new();
        for (i, lib) in self.sdf_libraries.iter().enumerate() {
            lib.validate(i)?;
            if !seen.insert(&lib.path) {
                return Err(bad(format!("sdf_libraries[{i}].path: {} listed twice", lib.path.display())));
            }
        }
        Ok(())
    }

    /// The dispatcher's part.
    pub fn dispatch_config(&self) -> DispatchConfig {
        DispatchConfig {
            cpu_only_below: self.cpu_only_below,
            min_device_share: self.min_device_share,
            canaries: self.canaries_per_batch,
            recheck_invalid: self.recheck_invalid,
            recheck_valid_rate: self.recheck_valid_rate,
            backoff_initial: Duration::from_millis(self.backoff_initial_ms),
            backoff_max: Duration::from_millis(self.backoff_max_ms),
            calibrate: self.calibrate,
            cpu_threads: self.cpu_threads,
            ..DispatchConfig::default()
        }
    }

    /// The async batcher's part.
    pub fn batcher_config(&self) -> BatcherConfig {
        BatcherConfig {
            max_batch: self.max_batch,
            min_budget: Duration::from_micros(self.latency_budget_min_us),
            max_budget: Duration::from_micros(self.latency_budget_max_us),
            max_in_flight: self.max_in_flight_batches,
            queue: self.max_queued_requests,
        }
    }

    /// The key cache's part.
    pub fn key_cache_config(&self) -> KeyCacheConfig {
        KeyCacheConfig {
            max_entries: self.key_cache_entries,
            max_table_bytes: self.key_table_bytes,
            table_after: self.key_table_after,
        }
    }

    /// Find and start the devices the config names (not the CPU: the dispatcher adds it), with
    /// a warning for each device left out. Fails only on an invalid config or, with an
    /// explicit `backends` list, on a listed device that does not start.
    pub fn open_devices(&self) -> Result<Devices, AccelError> {
        self.validate()?;
        let required = self.backends.required();
        let mut warnings = Vec::new();
        // A device that does not start: an error when required, else a warning.
        let mut left_out = |what: String| -> Result<(), AccelError> {
            if required {
                Err(bad(format!(
                    "{what} (backends lists it, so it is required; backends = \"auto\" starts without it)"
                )))
            } else {
                warnings.push(format!("{what}; left out"));
                Ok(())
            }
        };
        let mut backends: Vec<Arc<dyn Backend>> = Vec::new();
        if self.backends.wants(BackendKind::OpenCl) {
            let mut devices: Vec<&'static DeviceInfo> = Vec::new();
            if self.opencl_devices.is_empty() {
                match opencl::devices() {
                    Ok(all) if !all.is_empty() => devices.extend(all.iter()),
                    // With "auto", a machine without OpenCL is normal: nothing to warn about.
                    Ok(_) if required => left_out("OpenCL: the platforms list no device".to_string())?,
                    Err(e) if required => left_out(format!("OpenCL: {e}"))?,
                    Ok(_) | Err(_) => {}
                }
            } else {
                for spec in &self.opencl_devices {
                    match opencl::select(Some(spec)) {
                        // Two specs may name one device: start it once.
                        Ok(d) if devices.iter().any(|x| x.index == d.index) => {}
                        Ok(d) => devices.push(d),
                        Err(e) => left_out(format!("OpenCL device {spec:?}: {e}"))?,
                    }
                }
            }
            for device in devices {
                match OpenClBackend::on_device(device) {
                    Ok(b) => backends.push(Arc::new(b)),
                    Err(e) => left_out(format!("OpenCL device {} did not start: {e}", device.label()))?,
                }
            }
        }
        if self.backends.wants(BackendKind::Card) {
            let bars: Vec<PathBuf> = if self.card_bars.is_empty() {
                let default = PathBuf::from(DEFAULT_BAR_PATH);
                // With "auto", no file there means no card served: nothing to warn about.
                if required || Path::new(&default).exists() {
                    vec![default]
                } else {
                    Vec::new()
                }
            } else {
                self.card_bars.clone()
            };
            for bar in bars {
                match CardBackend::open(&bar) {
                    Ok(b) => backends.push(Arc::new(b)),
                    Err(e) => left_out(format!("card at {} did not open: {e}", bar.display()))?,
                }
            }
        }
        if self.backends.wants(BackendKind::Sdf) {
            for lib in &self.sdf_libraries {
                match SdfBackend::open(lib) {
                    Ok(b) => backends.push(Arc::new(b)),
                    Err(e) => left_out(format!("SDF library {} did not start: {e}", lib.path.display()))?,
                }
            }
        }
        Ok(Devices { backends, warnings })
    }

    /// The synchronous dispatcher over the devices of [`AccelConfig::open_devices`] and the CPU,
    /// calibrated (when `calibrate`), with the warnings. Needs no async runtime: this is what
    /// `xinlian verify --backend auto` runs on.
    pub fn open_dispatcher(&self) -> Result<(Dispatcher, Vec<String>), AccelError> {
        let Devices { backends, warnings } = self.open_devices()?;
        Ok((Dispatcher::new(backends, self.dispatch_config()), warnings))
    }

    /// Everything the node needs: the devices started, the dispatcher (calibrated) behind the
    /// async batcher, and the key cache with the configured bounds.
    ///
    /// Call it inside a tokio runtime (multi-threaded or current-thread): it spawns the
    /// batcher task there; outside one it returns [`AccelError::NoRuntime`]. It blocks while
    /// devices start and calibrate (milliseconds for the CPU and a card, seconds for an OpenCL
    /// program built the first time), so call it at start-up or from `spawn_blocking`.
    pub fn open(&self) -> Result<Accel, AccelError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(AccelError::NoRuntime(
                "AccelConfig::open starts the batcher task and must be called inside a tokio runtime".to_string(),
            ));
        }
        let (dispatcher, warnings) = self.open_dispatcher()?;
        let dispatcher = AsyncDispatcher::new(Arc::new(dispatcher), self.batcher_config());
        let key_cache = Arc::new(KeyCache::new(self.key_cache_config()));
        Ok(Accel { dispatcher, key_cache, warnings, config: self.clone() })
    }
}

/// The devices [`AccelConfig::open_devices`] started.
pub struct Devices {
    /// Started devices, OpenCL first, then cards, then SDF libraries (the CPU is not among them).
    pub backends: Vec<Arc<dyn Backend>>,
    /// One line per device left out.
    pub warnings: Vec<String>,
}

/// The acceleration layer, opened: what the node holds.
pub struct Accel {
    dispatcher: AsyncDispatcher,
    key_cache: Arc<KeyCache>,
    warnings: Vec<String>,
    config: AccelConfig,
}

impl Accel {
    /// The async API (`verify`, `sm3`, `merkle_root`); `.dispatcher()` on it gives the
    /// synchronous one underneath.
    pub fn dispatcher(&self) -> &AsyncDispatcher {
        &self.dispatcher
    }

    /// The key cache for [`crate::prepare`], bounded as configured.
    pub fn key_cache(&self) -> &Arc<KeyCache> {
        &self.key_cache
    }

    /// One line per device that was left out at start-up (with `backends = "auto"`).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The configuration it was opened with.
    pub fn config(&self) -> &AccelConfig {
        &self.config
    }

    /// Every backend (the CPU's included), in routing order, for `GET /status`.
    pub fn backends(&self) -> Vec<BackendStatus> {
        self.dispatcher.dispatcher().backend_status()
    }

    /// The dispatcher's counters, the key cache's size and the batcher's current latency
    /// budget, as Prometheus text.
    pub fn render_prometheus(&self) -> String {
        let mut out = self.dispatcher.dispatcher().render_prometheus();
        let gauges: [(&str, &str, f64); 3] = [
            ("key_cache_entries", "Entries (public key, ID) in the key cache.", self.key_cache.len() as f64),
            ("key_cache_table_bytes", "Bytes of per-key tables in the key cache.", self.key_cache.table_bytes() as f64),
            (
                "batcher_budget_seconds",
                "Current wait of the async batcher for more requests.",
                self.dispatcher.latency_budget().as_secs_f64(),
            ),
        ];
        for (name, help, value) in gauges {
            out.push_str(&format!(
                "# HELP xinlian_accel_{name} {help}\n# TYPE xinlian_accel_{name} gauge\nxinlian_accel_{name} {value}\n"
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_component_defaults() {
        let c = AccelConfig::default();
        assert_eq!(c.dispatch_config(), DispatchConfig::default());
        assert_eq!(c.batcher_config(), BatcherConfig::default());
        assert_eq!(c.key_cache_config(), KeyCacheConfig::default());
        assert_eq!(c.backends, Backends::Auto);
        assert!(c.validate().is_ok());
    }
}
