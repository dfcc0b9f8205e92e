//! What the acceleration layer logs (through `tracing`; the library installs no subscriber):
//! a device's start-up at info, its quarantine and its re-admission at warn with the reason;
//! an SDF session worker replaced after a hang at warn with the reason.
//! A subscriber of this test's own collects the events on this thread (the dispatcher reports
//! failures and re-admissions on the caller's thread).
//!
//! The check runs in a child process of its own. Why: tracing caches per call site whether
//! anyone listens, and a call site that another test's thread registers at the moment this one
//! installs its subscriber can stay silent for it (a race in tracing-core's interest cache; it
//! cost this test its quarantine line once in a full run of the suite).

#![allow(clippy::unwrap_used, reason = "tests: a failed unwrap is a failed test")]

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};
use xinlian_accel::backends::card::DriverConfig;
use xinlian_accel::backends::sdf::SdfConfig;
use xinlian_accel::{AccelError, Backend, CardBackend, DispatchConfig, Dispatcher, SdfBackend};
use xinlian_hw_sim::{Card, CardConfig, FaultConfig, Profile};

/// Every event as (level, "field=value ..." with the message among the fields).
#[derive(Clone, Default)]
struct Collected(Arc<Mutex<Vec<(Level, String)>>>);

impl Collected {
    fn find(&self, level: Level, words: &[&str]) -> Option<String> {
        let events = self.0.lock().unwrap();
        events.iter().find(|(l, text)| *l == level && words.iter().all(|w| text.contains(w))).map(|(_, t)| t.clone())
    }
}

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={value:?} ", field.name());
    }
}

impl Subscriber for Collected {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        self.0.lock().unwrap().push((*event.metadata().level(), fields.0));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// The child's name, as the parent asks for it.
const CHILD: &str = "logs::child_logs_start_up_quarantine_and_readmission";

/// Run the ignored test `child` alone in a child process of this binary; it must pass.
fn run_child(child: &str) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", child, "--ignored", "--test-threads=1"])
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the child failed:\n{text}");
    // A filter that matched nothing would pass too: the child must have run.
    assert!(text.contains("1 passed"), "the child did not run:\n{text}");
}

#[test]
fn start_up_quarantine_and_readmission_are_logged_with_the_reason() {
    run_child(CHILD);
}

/// Run by [`start_up_quarantine_and_readmission_are_logged_with_the_reason`], alone in its
/// process (see the module docs); also correct when run by hand.
#[test]
#[ignore = "run in a child process by start_up_quarantine_and_readmission_are_logged_with_the_reason"]
fn child_logs_start_up_quarantine_and_readmission() {
    let logs = Collected::default();
    tracing::subscriber::with_default(logs.clone(), || {
        let mut config = CardConfig::new(Profile::built_in("fpga-1m").unwrap());
        config.faults = "reset=1".parse().unwrap();
        let card = Card::spawn(config).unwrap();
        let quick = DriverConfig { timeout: Duration::from_millis(400), ..DriverConfig::default() };
        let backend: Arc<dyn Backend> = Arc::new(CardBackend::open_with(card.path(), quick).unwrap());
        let config = DispatchConfig {
            calibrate: false,
            backoff_initial: Duration::from_millis(5),
            backoff_max: Duration::from_millis(50),
            seed: Some(41),
            cpu_threads: 2,
            ..DispatchConfig::default()
        };
        let d = Dispatcher::new(vec![backend], config);
        let items = crate::dispatch::valid(1_000, 62);
        d.verify_batch(&items);
        assert_eq!(d.is_healthy("card"), Some(false), "the resetting card is out");
        card.set_faults(FaultConfig::none());
        let deadline = Instant::now() + Duration::from_secs(20);
        while d.is_healthy("card") != Some(true) {
            assert!(Instant::now() < deadline, "not re-admitted: {:?}", d.last_failure("card"));
            std::thread::sleep(Duration::from_millis(20));
            d.verify_batch(&items);
        }
    });
    assert!(logs.find(Level::INFO, &["backend=\"card\"", "card opened"]).is_some(), "no start-up line");
    let out = logs.find(Level::WARN, &["backend=card", "out of service"]);
    assert!(out.as_deref().is_some_and(|t| t.contains("device lost")), "quarantine line without its reason: {out:?}");
    let back = logs.find(Level::WARN, &["backend=card", "back in service"]);
    assert!(
        back.as_deref().is_some_and(|t| t.contains("device lost")),
        "re-admission line without the cause: {back:?}"
    );
}

/// The SDF child's name, as its parent asks for it.
const SDF_CHILD: &str = "logs::child_logs_sdf_start_up_and_a_hung_session";

#[test]
fn sdf_start_up_and_a_hung_session_are_logged() {
    run_child(SDF_CHILD);
}

/// Run by [`sdf_start_up_and_a_hung_session_are_logged`], alone in its process (see the module
/// docs): the SDF backend's start-up at info, and a session hung past the watchdog at warn
/// (logged on the caller's thread, where the watchdog fires) with the reason.
#[test]
#[ignore = "run in a child process by sdf_start_up_and_a_hung_session_are_logged"]
fn child_logs_sdf_start_up_and_a_hung_session() {
    let logs = Collected::default();
    tracing::subscriber::with_default(logs.clone(), || {
        let card = crate::sdf::SoftCard::new("faults = \"hang=1\"\nhang_ms = 1500\n");
        let config = SdfConfig { sessions: 1, watchdog_ms: 300, ..card.config() };
        let b = SdfBackend::open_untested(&config).unwrap();
        let err = b.sm3_batch(&[b"abc".as_slice()].into_iter().collect()).err().unwrap();
        assert!(matches!(err, AccelError::Timeout { .. }), "{err}");
    });
    assert!(logs.find(Level::INFO, &["backend=\"sdf\"", "SDF library opened"]).is_some(), "no start-up line");
    let hung = logs.find(Level::WARN, &["backend=\"sdf\"", "worker replaced"]);
    assert!(hung.as_deref().is_some_and(|t| t.contains("hung")), "hung session line without its reason: {hung:?}");
}
