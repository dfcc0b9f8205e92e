//! Helpers shared by the binary's integration tests: a `xinlian card serve` child process.

#![allow(dead_code, reason = "each test binary uses its own subset")]
#![allow(clippy::unwrap_used, reason = "tests: a failed unwrap is a failed test")]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use xinlian_accel::CardBackend;

/// The binary under test.
pub(crate) fn xinlian() -> Command {
    Command::new(env!("CARGO_BIN_EXE_xinlian"))
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
