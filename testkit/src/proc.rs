//! `xinlian run` children: each on a free port with its own data directory, killed on drop.
//! Only the processes a test started are ever signalled, by pid.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A `xinlian run` child on a free port with its own data directory, killed on drop.
pub struct NodeProc {
    /// The process.
    pub child: Child,
    /// Its HTTP API, `http://127.0.0.1:PORT`.
    pub url: String,
    /// Its data directory.
    pub data: PathBuf,
    /// Everything it wrote to stderr so far.
    pub log: std::sync::Arc<std::sync::Mutex<String>>,
}

/// A fresh temporary directory (removed by the test that made it, or left for post-mortems).
pub fn temp_dir(tag: &str) -> PathBuf {
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
    pub fn start(bin: impl AsRef<Path>, data: &Path, config: &str) -> NodeProc {
        NodeProc::start_with_args(bin, data, config, &[])
    }

    /// [`NodeProc::start`] with more arguments for `xinlian` (e.g. `--log-format json`).
    pub fn start_with_args(bin: impl AsRef<Path>, data: &Path, config: &str, extra: &[&str]) -> NodeProc {
        let config_path = data.with_extension("toml");
        std::fs::write(&config_path, config).unwrap();
        let mut args: Vec<std::ffi::OsString> = vec!["--listen".into(), "127.0.0.1:0".into(), "--data".into()];
        args.push(data.as_os_str().to_owned());
        args.extend(extra.iter().map(Into::into));
        NodeProc::spawn(Command::new(bin.as_ref()), &config_path, data, &args)
    }

    /// `xinlian run --config FILE` as the file says (its own data directory and HTTP port,
    /// as `xinlian init --validators` writes them), waiting until its HTTP API answers.
    pub fn start_config(bin: impl AsRef<Path>, config_path: &Path, data: &Path) -> NodeProc {
        NodeProc::spawn(Command::new(bin.as_ref()), config_path, data, &[])
    }

    /// [`NodeProc::start_config`] inside network namespace `netns` (`ip netns exec`, which
    /// execs the node: the child's pid is the node's).
    pub fn start_config_in(netns: &str, bin: impl AsRef<Path>, config_path: &Path, data: &Path) -> NodeProc {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", netns]).arg(bin.as_ref());
        NodeProc::spawn(cmd, config_path, data, &[])
    }

    fn spawn(mut cmd: Command, config_path: &Path, data: &Path, args: &[std::ffi::OsString]) -> NodeProc {
        use std::io::BufRead as _;
        let mut child = cmd
            .arg("run")
            .arg("--config")
            .arg(config_path)
            .args(args)
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
                // The log line, as text or as JSON: the URL ends at a quote or a space.
                if let Some(rest) = line.split("HTTP API on ").nth(1) {
                    let url = rest.split(|c: char| c == '"' || c.is_whitespace()).next().unwrap_or("");
                    let _ = tx.send(url.to_string());
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
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, and whether it exited cleanly.
    pub fn terminate(mut self) -> bool {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        self.child.wait().unwrap().success()
    }

    /// Its stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
