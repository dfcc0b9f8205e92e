//! The `[accel]` config section and opening what it names.
//!
//! What is checked:
//! - an empty document gives the defaults, which are the dispatcher's, batcher's and key
//!   cache's own defaults;
//! - a document setting every field parses to those values and serializes back to the same
//!   TOML table;
//! - each out-of-range or ill-typed value is an error naming its field; unknown keys and
//!   unknown backend names are refused;
//! - `open` with `backends = ["cpu"]` gives a dispatcher whose verdicts on RustCrypto-signed
//!   signatures (valid and tampered) are the reference's, whose status lists the CPU alone, and
//!   whose key cache keeps no table under a tiny memory bound (and does under a large one);
//! - a listed card that does not open fails `open`; with "auto" it is a warning instead;
//! - `open` with a served card lists it and verifies through it; `open` outside a runtime is
//!   an error, not a panic.

#![allow(clippy::unwrap_used, reason = "tests: a failed unwrap is a failed test")]

use serde::Deserialize;
use xinlian_accel::backends::cpu::verify_one;
use xinlian_accel::{
    prepare, AccelConfig, AccelError, BackendKind, Backends, BatcherConfig, DispatchConfig, KeyCacheConfig,
    PreparedVerify, Verdict,
};
use xinlian_hw_sim::{Card, CardConfig, Profile};

use crate::conformance::{make_case, rng, Case, Keypair, Tamper, TAMPERS};

/// Every field, none at its default.
const FULL: &str = r#"
backends = ["cpu", "opencl", "card"]
cpu_threads = 3
opencl_devices = ["0", "pocl"]
card_bars = ["/dev/shm/card-a", "/dev/shm/card-b"]
max_batch = 2048
cpu_only_below = 100
min_device_share = 128
latency_budget_min_us = 300
latency_budget_max_us = 7000
max_in_flight_batches = 3
max_queued_requests = 512
canaries_per_batch = 6
recheck_invalid = false
recheck_valid_rate = 0.25
backoff_initial_ms = 50
backoff_max_ms = 60000
calibrate = false
key_cache_entries = 5000
key_table_bytes = 1048576
key_table_after = 7
sdf_libraries = [{ path = "/opt/vendor/libsdf.so", invalid_codes = [0x0100000E, 0x01020014], sessions = 4, layout = "32", watchdog_ms = 1500 }]
"#;

fn config_err(doc: &str) -> String {
    match AccelConfig::from_toml_str(doc) {
        Ok(c) => panic!("{doc:?} was accepted: {c:?}"),
        Err(AccelError::Config(msg)) => msg,
        Err(other) => panic!("{doc:?}: not a config error: {other:?}"),
    }
}

#[test]
fn an_empty_document_gives_the_defaults() {
    let c = AccelConfig::from_toml_str("").unwrap();
    assert_eq!(c, AccelConfig::default());
    assert_eq!(c.backends, Backends::Auto);
    assert_eq!(c.dispatch_config(), DispatchConfig::default());
    assert_eq!(c.batcher_config(), BatcherConfig::default());
    assert_eq!(c.key_cache_config(), KeyCacheConfig::default());
    // Comments and blank lines are still an empty section.
    assert_eq!(AccelConfig::from_toml_str("# nothing set\n\n").unwrap(), c);
}

#[test]
fn a_full_document_round_trips() {
    let c = AccelConfig::from_toml_str(FULL).unwrap();
    assert_eq!(c.backends, Backends::Only(vec![BackendKind::Cpu, BackendKind::OpenCl, BackendKind::Card]));
    assert_eq!(c.cpu_threads, 3);
    assert_eq!(c.opencl_devices, ["0", "pocl"]);
    assert_eq!(c.card_bars.len(), 2);
    assert_eq!((c.max_batch, c.cpu_only_below, c.min_device_share), (2048, 100, 128));
    assert_eq!((c.latency_budget_min_us, c.latency_budget_max_us), (300, 7000));
    assert_eq!((c.max_in_flight_batches, c.max_queued_requests, c.canaries_per_batch), (3, 512, 6));
    assert!(!c.recheck_invalid && !c.calibrate);
    assert!((c.recheck_valid_rate - 0.25).abs() < f64::EPSILON);
    assert_eq!((c.backoff_initial_ms, c.backoff_max_ms), (50, 60_000));
    assert_eq!((c.key_cache_entries, c.key_table_bytes, c.key_table_after), (5000, 1 << 20, 7));
    assert_eq!((c.sdf_libraries[0].sessions, c.sdf_libraries[0].invalid_codes[1]), (4, 0x0102_0014));

    // Serialized back, it is the same table as the document, and parses to the same config.
    let written = toml::Table::try_from(&c).unwrap();
    let read: toml::Table = toml::from_str(FULL).unwrap();
    assert_eq!(written, read);
    let again = AccelConfig::deserialize(toml::Value::Table(written)).unwrap();
    assert_eq!(again, c);

    // The values reach the parts they configure.
    let d = c.dispatch_config();
    assert_eq!((d.cpu_threads, d.canaries, d.min_device_share), (3, 6, 128));
    assert_eq!(d.backoff_max, std::time::Duration::from_secs(60));
    let b = c.batcher_config();
    assert_eq!((b.max_batch, b.max_in_flight, b.queue), (2048, 3, 512));
    assert_eq!(b.max_budget, std::time::Duration::from_millis(7));
    assert_eq!(c.key_cache_config(), KeyCacheConfig { max_entries: 5000, max_table_bytes: 1 << 20, table_after: 7 });

    // "auto" and a single name round-trip too.
    let auto = AccelConfig::from_toml_str("backends = \"auto\"").unwrap();
    assert_eq!(toml::Table::try_from(&auto).unwrap()["backends"].as_str(), Some("auto"));
    let one = AccelConfig::from_toml_str("backends = \"cpu\"").unwrap();
    assert_eq!(one.backends, Backends::Only(vec![BackendKind::Cpu]));
}

#[test]
fn each_bad_value_is_an_error_naming_its_field() {
    let cases: &[(&str, &[&str])] = &[
        ("recheck_valid_rate = 1.5", &["recheck_valid_rate", "1.5", "[0, 1]"]),
        ("recheck_valid_rate = -0.1", &["recheck_valid_rate"]),
        ("recheck_valid_rate = nan", &["recheck_valid_rate"]),
        ("latency_budget_min_us = 6000", &["latency_budget_min_us", "latency_budget_max_us"]),
        ("latency_budget_max_us = 100\nlatency_budget_min_us = 200", &["latency_budget_min_us"]),
        ("latency_budget_max_us = 5000000", &["latency_budget_max_us"]),
        ("backends = [\"cpu\", \"gpu\"]", &["backends", "gpu", "opencl"]),
        ("backends = \"everything\"", &["backends", "everything", "auto"]),
        ("backends = []", &["backends"]),
        ("backends = 3", &["backends"]),
        ("cpu_threads = 100000", &["cpu_threads"]),
        ("cpu_threads = -1", &["cpu_threads"]),
        ("max_batch = 0", &["max_batch"]),
        ("max_batch = \"big\"", &["max_batch"]),
        ("max_in_flight_batches = 0", &["max_in_flight_batches"]),
        ("max_queued_requests = 0", &["max_queued_requests"]),
        ("canaries_per_batch = 5000", &["canaries_per_batch"]),
        ("backoff_initial_ms = 0", &["backoff_initial_ms"]),
        ("backoff_initial_ms = 60000", &["backoff_initial_ms", "backoff_max_ms"]),
        ("backoff_max_ms = 99999999", &["backoff_max_ms"]),
        ("key_cache_entries = 0", &["key_cache_entries"]),
        ("card_bars = [\"/dev/shm/a\", \"/dev/shm/a\"]", &["card_bars", "/dev/shm/a"]),
        ("card_bars = [\"\"]", &["card_bars"]),
        ("opencl_devices = [\" \"]", &["opencl_devices"]),
        ("opencl_devices = [\"0\", \"0\"]", &["opencl_devices"]),
        ("recheck_invalid = \"yes\"", &["recheck_invalid"]),
    ];
    for (doc, words) in cases {
        let msg = config_err(doc);
        for w in *words {
            assert!(msg.contains(w), "{doc:?}: the error does not say {w:?}:\n{msg}");
        }
    }
}

#[test]
fn unknown_keys_are_refused() {
    for (doc, key) in [
        ("recheck_rate = 0.5", "recheck_rate"),
        ("max_batch = 64\nmax_bach = 128", "max_bach"),
        ("[card]\npath = \"/dev/shm/x\"", "card"),
    ] {
        let msg = config_err(doc);
        assert!(msg.contains("unknown field") && msg.contains(key), "{doc:?}:\n{msg}");
    }
}

/// `n` cases signed by RustCrypto over `keys` signers: every third tampered (each kind in
/// turn), the rest valid.
fn signed(n: usize, keys: usize, salt: u64) -> Vec<Case> {
    let (mut rng, _) = rng(salt);
    let signers: Vec<Keypair> = (0..keys + 1).map(|_| Keypair::random(&mut rng)).collect();
    (0..n)
        .map(|i| {
            let tamper = if i % 3 == 2 { TAMPERS[(i / 3) % TAMPERS.len()] } else { Tamper::None };
            make_case(&mut rng, &signers[i % keys], &signers[keys], tamper)
        })
        .collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// Open `doc`, verify `cases` through the async dispatcher with the accel's key cache, and
/// check every verdict against the reference. Returns what the accel looks like afterwards.
fn open_and_verify(doc: &str, cases: &[Case]) -> (xinlian_accel::Accel, usize) {
    let config = AccelConfig::from_toml_str(doc).unwrap();
    runtime().block_on(async {
        let accel = config.open().unwrap();
        let mut items: Vec<PreparedVerify> = Vec::new();
        let mut early = 0;
        for case in cases {
            match prepare(&case.request(), Some(accel.key_cache())) {
                Ok(item) => items.push(item),
                Err(v) => {
                    early += 1;
                    assert!(case.check(&v).is_ok(), "{:?}: {v}", case.tamper);
                }
            }
        }
        let want: Vec<Verdict> = items.iter().map(verify_one).collect();
        // Many small requests at once (coalesced by the batcher) and one large one.
        let mut got = Vec::new();
        for part in items.chunks(50) {
            got.extend(accel.dispatcher().verify(part.to_vec()).await);
        }
        assert_eq!(got, want, "verdicts through the batcher");
        assert_eq!(accel.dispatcher().verify(items.clone()).await, want, "verdicts of one large request");
        assert!(want.iter().any(Verdict::is_valid) && want.iter().any(|v| !v.is_valid()), "both kinds tested");
        (accel, items.len() + early)
    })
}

#[test]
fn open_with_the_cpu_alone_verifies_and_bounds_the_key_cache() {
    let cases = signed(300, 4, 301);
    // A bound below one table: hot keys, yet no table kept.
    let doc = "backends = [\"cpu\"]\ncpu_threads = 2\nkey_table_after = 1\nkey_table_bytes = 1000";
    let (accel, n) = open_and_verify(doc, &cases);
    assert_eq!(n, cases.len());
    assert!(accel.warnings().is_empty(), "{:?}", accel.warnings());
    assert_eq!(accel.key_cache().table_bytes(), 0, "a 1000-byte bound keeps no table");
    assert!(!accel.key_cache().is_empty(), "keys and Z values are still cached");
    let status = accel.backends();
    assert_eq!(status.len(), 1, "{status:?}");
    assert_eq!((status[0].name.as_str(), status[0].kind), ("cpu", BackendKind::Cpu));
    assert!(status[0].healthy && !status[0].quarantined && status[0].last_failure.is_none(), "{status:?}");
    assert!(status[0].items >= 2 * 200, "{status:?}");
    assert!(status[0].verify_per_s > 0.0, "{status:?}");
    let json = toml::Table::try_from(&status[0]).unwrap();
    assert_eq!(json["kind"].as_str(), Some("cpu"));
    let text = accel.render_prometheus();
    assert!(text.contains("xinlian_accel_items_total{backend=\"cpu\"}"), "{text}");
    assert!(text.contains("xinlian_accel_key_cache_table_bytes 0\n"), "{text}");

    // The same keys under a bound of 1 MiB: the tables are kept (so the bound above did the
    // work, not a cache that never builds tables).
    let doc = "backends = [\"cpu\"]\ncpu_threads = 2\nkey_table_after = 1\nkey_table_bytes = 1048576";
    let (accel, _) = open_and_verify(doc, &cases);
    let bytes = accel.key_cache().table_bytes();
    assert!(bytes > 0 && bytes <= 1 << 20, "{bytes} bytes of tables");
}

#[test]
fn a_listed_card_that_does_not_open_fails_and_auto_warns() {
    let bar = "/nonexistent-xinlian-test/card-bar";
    let listed =
        AccelConfig::from_toml_str(&format!("backends = [\"cpu\", \"card\"]\ncard_bars = [\"{bar}\"]")).unwrap();
    match listed.open_dispatcher() {
        Err(AccelError::Config(msg)) => assert!(msg.contains(bar) && msg.contains("required"), "{msg}"),
        Err(e) => panic!("not a config error: {e}"),
        Ok(_) => panic!("a listed card that does not exist was not an error"),
    }
    // "auto": the same card, and an OpenCL spec that matches nothing, are warnings only (the
    // spec also keeps this test from starting every OpenCL device there is).
    let auto = AccelConfig::from_toml_str(&format!(
        "card_bars = [\"{bar}\"]\nopencl_devices = [\"no-such-device-anywhere\"]\ncpu_threads = 1\ncalibrate = false"
    ))
    .unwrap();
    let (dispatcher, warnings) = auto.open_dispatcher().unwrap();
    assert_eq!(dispatcher.backend_names(), ["cpu"]);
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings.iter().any(|w| w.contains(bar)), "{warnings:?}");
    assert!(warnings.iter().any(|w| w.contains("no-such-device-anywhere")), "{warnings:?}");
}

#[test]
fn open_with_a_served_card_lists_it_and_verifies_through_it() {
    let card = Card::spawn(CardConfig::new(Profile::built_in("fpga-1m").unwrap())).unwrap();
    let bar = card.path().display().to_string();
    // Calibration off and no CPU-only threshold, so that the card surely takes a share.
    let doc = format!(
        "backends = [\"card\"]\ncard_bars = [\"{bar}\"]\ncpu_threads = 1\ncalibrate = false\n\
         cpu_only_below = 0\nmin_device_share = 1\nrecheck_valid_rate = 1.0"
    );
    let cases = signed(400, 8, 302);
    let (accel, _) = open_and_verify(&doc, &cases);
    let status = accel.backends();
    let kinds: Vec<BackendKind> = status.iter().map(|s| s.kind).collect();
    assert_eq!(kinds, [BackendKind::Card, BackendKind::Cpu], "the CPU is added as last resort: {status:?}");
    assert!(status[0].device.contains(&bar), "{status:?}");
    assert!(status[0].items > 0 && status[0].healthy, "the card carried no work: {status:?}");
}

#[test]
fn open_outside_a_runtime_is_an_error() {
    let config = AccelConfig::from_toml_str("backends = [\"cpu\"]\ncalibrate = false").unwrap();
    match config.open() {
        Err(AccelError::NoRuntime(msg)) => assert!(msg.contains("tokio"), "{msg}"),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("opened outside a runtime"),
    }
}
