//! Helpers shared by the binary's integration tests: a `xinlian card serve` child process, the
//! HTTP API through the binary's own client, and `xinlian run` children (from the testkit).

#![allow(dead_code, reason = "each test binary uses its own subset")]
#![allow(clippy::unwrap_used, reason = "tests: a failed unwrap is a failed test")]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use xinlian_accel::CardBackend;

#[allow(unused_imports, reason = "each test binary uses its own subset")]
pub(crate) use xinlian_testkit::{temp_dir, NodeProc};

/// The binary under test.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_xinlian");

/// The binary under test, as a command.
pub(crate) fn xinlian() -> Command {
    Command::new(BIN)
}

/// A `xinlian card serve` child, stopped with SIGINT on drop.
pub(crate) struct Served {
    pub(crate) child: Child,
    pub(crate) bar: PathBuf,
}

impl Served {
    pub(crate) fn start(tag: &str, extra: &[&str]) -> Served {
        let bar = std::env::temp_dir().join(format!("xinlian-card-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_file(&bar);
        let child = xinlian()
            .args(["card", "serve", "--bar"])
            .arg(&bar)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let served = Served { child, bar };
        served.wait_until_open();
        served
    }

    pub(crate) fn wait_until_open(&self) {
        let t = Instant::now();
        while CardBackend::open(&self.bar).is_err() {
            assert!(t.elapsed() < Duration::from_secs(20), "card did not come up at {}", self.bar.display());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGINT, as Ctrl-C would; the exit status and whether the BAR file is gone.
    pub(crate) fn interrupt(mut self) -> (bool, bool) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
        let status = self.child.wait().unwrap();
        let removed = !self.bar.exists();
        (status.success(), removed)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.bar);
    }
}

/// The tests' view of the HTTP API: status and JSON body, over the binary's own client.
pub(crate) struct Http {
    client: xinlian::client::Client,
}

impl Http {
    pub(crate) fn new(base: &str) -> Http {
        Http { client: xinlian::client::Client::new(base) }
    }

    pub(crate) fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let a = self.client.get(path).unwrap();
        (a.status, a.body)
    }

    pub(crate) fn post(&self, path: &str, body: &str) -> (u16, serde_json::Value) {
        let a = self.client.post_json(path, body).unwrap();
        (a.status, a.body)
    }

    /// `None` when the node is not there (killed under a loader).
    pub(crate) fn try_post(&self, path: &str, body: &str) -> Option<(u16, serde_json::Value)> {
        self.client.post_json(path, body).ok().map(|a| (a.status, a.body))
    }

    /// Poll until the tx is committed; its status body.
    pub(crate) fn wait_committed(&self, id: &str) -> serde_json::Value {
        let t = Instant::now();
        loop {
            let (code, body) = self.get(&format!("/tx/{id}"));
            if code == 200 && body["status"] == "committed" {
                return body;
            }
            assert!(t.elapsed() < Duration::from_secs(30), "tx {id} not committed: {code} {body}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Config for test nodes: CPU only (fast start, no device), short blocks.
pub(crate) const TEST_CONFIG: &str = "[block]\ninterval_ms = 50\n\n[accel]\nbackends = [\"cpu\"]\ncpu_threads = 2\n";
