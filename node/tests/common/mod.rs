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

/// A `xinlian run` child on a free port with its own data directory, killed on drop.
pub(crate) struct NodeProc {
    pub(crate) child: Child,
    pub(crate) url: String,
    pub(crate) data: PathBuf,
    pub(crate) log: std::sync::Arc<std::sync::Mutex<String>>,
}

/// A fresh temporary directory (removed by the test that made it, or left for post-mortems).
pub(crate) fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xinlian-{tag}-{}-{}", std::process::id(), rand_suffix()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    // RandomState is seeded per process and per instance: distinct names for parallel tests.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos());
    h.finish() & 0xffff_ffff
}

impl NodeProc {
    /// Start a node on `data` with `config` (TOML text written next to it) and wait until
    /// its HTTP API answers.
    pub(crate) fn start(data: &std::path::Path, config: &str) -> NodeProc {
        use std::io::BufRead as _;
        let config_path = data.with_extension("toml");
        std::fs::write(&config_path, config).unwrap();
        let mut child = xinlian()
            .args(["run", "--listen", "127.0.0.1:0", "--config"])
            .arg(&config_path)
            .arg("--data")
            .arg(data)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let log2 = std::sync::Arc::clone(&log);
        // Keep draining stderr so the node never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.split("HTTP API on ").nth(1) {
                    let _ = tx.send(url.trim().to_string());
                }
                log2.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                panic!("the node did not start; its stderr:\n{}", log.lock().unwrap());
            }
        };
        NodeProc { child, url, data: data.to_path_buf(), log }
    }

    /// SIGKILL: no chance to flush or finish anything.
    pub(crate) fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, and whether it exited cleanly.
    pub(crate) fn terminate(mut self) -> bool {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        self.child.wait().unwrap().success()
    }

    pub(crate) fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A tiny HTTP client for the tests: status and JSON body.
pub(crate) struct Http {
    agent: ureq::Agent,
    base: String,
}

impl Http {
    pub(crate) fn new(base: &str) -> Http {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Http { agent, base: base.to_string() }
    }

    fn answer(r: ureq::http::Response<ureq::Body>) -> (u16, serde_json::Value) {
        let mut r = r;
        let status = r.status().as_u16();
        let text = r.body_mut().read_to_string().unwrap();
        (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
    }

    pub(crate) fn get(&self, path: &str) -> (u16, serde_json::Value) {
        Http::answer(self.agent.get(format!("{}{path}", self.base)).call().unwrap())
    }

    pub(crate) fn post(&self, path: &str, body: &str) -> (u16, serde_json::Value) {
        Http::answer(
            self.agent
                .post(format!("{}{path}", self.base))
                .header("content-type", "application/json")
                .send(body)
                .unwrap(),
        )
    }

    /// `None` when the node is not there (killed under a loader).
    pub(crate) fn try_post(&self, path: &str, body: &str) -> Option<(u16, serde_json::Value)> {
        let r = self.agent.post(format!("{}{path}", self.base)).header("content-type", "application/json").send(body);
        let mut r = r.ok()?;
        let status = r.status().as_u16();
        let text = r.body_mut().read_to_string().ok()?;
        Some((status, serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))))
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
