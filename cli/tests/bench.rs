//! `xinlian bench` end to end: the real binary on the cpu backend, its report files, and its
//! answers to bad arguments. Correctness only: no test here depends on how fast anything is.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests: a failed unwrap is a failed test")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn xinlian() -> Command {
    Command::new(env!("CARGO_BIN_EXE_xinlian"))
}

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("xinlian-bench-test-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run_bench(out: &Path, extra: &[&str]) -> Output {
    xinlian()
        .args(["bench", "--quick", "--backends", "cpu", "--ops", "verify,sm3,merkle", "--sizes", "1,64"])
        // Keep the run a few seconds even in an unoptimised build.
        .args(["--seconds-per-cell", "0.05", "--threads", "2", "--out"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn quick_cpu_run_writes_a_complete_report() {
    let dir = TempDir::new("quick");
    let out = run_bench(&dir.0, &[]);
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}", out.status);

    // The table on stdout: one section per op, the baselines named.
    for needle in [
        "verify:",
        "sm3:",
        "merkle:",
        "vs cpu",
        "vs libsm",
        "vs RustCrypto sm2",
        "vs efficient-sm2",
        "vs RustCrypto sm3",
    ] {
        assert!(stdout.contains(needle), "stdout lacks {needle:?}:\n{stdout}");
    }
    // stderr is not a terminal here: plain progress lines, one per step.
    assert!(stderr.contains("bench [1/"), "no plain progress lines:\n{stderr}");

    let json: Value = serde_json::from_str(&std::fs::read_to_string(dir.0.join("report.json")).unwrap()).unwrap();
    let cells = json["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 3 * 2, "one record per (op, size) for the one backend: {cells:#?}");
    for op in ["verify", "sm3", "merkle"] {
        for size in [1, 64] {
            let found: Vec<&Value> =
                cells.iter().filter(|c| c["op"] == op && c["batch_size"] == size && c["backend"] == "cpu").collect();
            assert_eq!(found.len(), 1, "{op} x{size}");
            let c = found[0];
            assert_eq!(c["status"], "ok", "{c:#}");
            assert!(c["ops_per_s"].as_f64().unwrap() > 0.0, "{c:#}");
            assert!(c["iterations"].as_u64().unwrap() >= 3, "{c:#}");
            assert!(c["p50_us"].as_f64().unwrap() > 0.0 || op == "merkle", "{c:#}");
            assert!(c["p99_us"].as_f64().unwrap() >= c["p50_us"].as_f64().unwrap(), "{c:#}");
            assert!((c["ratio_to_cpu"].as_f64().unwrap() - 1.0).abs() < 1e-9, "{c:#}");
            assert!(!c["device"].as_str().unwrap().is_empty());
            match op {
                "verify" => {
                    assert!(c["bytes_per_s"].is_null());
                    for b in ["libsm", "rustcrypto-sm2", "efficient-sm2"] {
                        assert!(c["ratio_to_baselines"][b].as_f64().unwrap() > 0.0, "{b}: {c:#}");
                    }
                }
                "sm3" => {
                    assert!(c["bytes_per_s"].as_f64().unwrap() > 0.0);
                    for b in ["rustcrypto-sm3", "libsm-sm3"] {
                        assert!(c["ratio_to_baselines"][b].as_f64().unwrap() > 0.0, "{b}: {c:#}");
                    }
                }
                _ => assert!(c["bytes_per_s"].as_f64().unwrap() > 0.0),
            }
        }
    }
    let baselines = json["baselines"].as_array().unwrap();
    assert_eq!(baselines.len(), 5, "{baselines:#?}");
    for b in baselines {
        assert_eq!(b["status"], "ok", "{b:#}");
        assert!(b["ops_per_s"].as_f64().unwrap() > 0.0, "{b:#}");
        assert!(b["mode"].as_str().unwrap().contains("one item at a time"));
    }
    let machine = &json["machine"];
    assert!(!machine["cpu_model"].as_str().unwrap().is_empty());
    assert!(machine["cores"].as_u64().unwrap() >= 1);
    assert!(!machine["os"].as_str().unwrap().is_empty());
    assert_eq!(machine["xinlian_version"], env!("CARGO_PKG_VERSION"));
    let stamp = machine["timestamp"].as_str().unwrap();
    assert!(stamp.len() == 20 && stamp.ends_with('Z') && stamp.as_bytes()[10] == b'T', "{stamp}");
    let devices = machine["devices"].as_array().unwrap();
    assert!(devices.iter().any(|d| d["kind"] == "cpu" && d["used"] == true), "{devices:#?}");
    assert_eq!(json["settings"]["sizes"], serde_json::json!([1, 64]));

    let html = std::fs::read_to_string(dir.0.join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(html.matches("<svg").count(), 3, "one plot per op");
    assert_eq!(html.matches("<table>").count(), 3, "one table per op");
    assert!(html.contains("<th>vs cpu</th>"));
    // Self-contained: no script, nothing fetched.
    assert!(!html.contains("<script"));
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"));
}

#[test]
fn a_backend_that_is_not_there_is_skipped_not_fatal() {
    let dir = TempDir::new("skip");
    let missing = dir.0.join("no-such-card");
    let out = xinlian()
        .args(["bench", "--quick", "--backends", "cpu,card", "--ops", "sm3", "--sizes", "4"])
        .args(["--seconds-per-cell", "0.02", "--card"])
        .arg(&missing)
        .arg("--out")
        .arg(&dir.0)
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("warning: card skipped"), "{stderr}");
    let json: Value = serde_json::from_str(&std::fs::read_to_string(dir.0.join("report.json")).unwrap()).unwrap();
    let cells = json["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 2, "{cells:#?}");
    let card = cells.iter().find(|c| c["backend"] == "card").unwrap();
    assert_eq!(card["status"], "skipped");
    assert!(card["error"].as_str().unwrap().contains("no-such-card"), "{card:#}");
    assert!(json["skipped"].as_array().unwrap().iter().any(|s| s["backend"] == "card" && s["asked"] == true));

    // Nothing available at all is an error.
    let out = xinlian()
        .args(["bench", "--quick", "--backends", "card", "--card"])
        .arg(&missing)
        .arg("--out")
        .arg(&dir.0)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("none of the backends asked for is available"), "{}", text(&out.stderr));
}

#[test]
fn bad_arguments_exit_nonzero_naming_the_value() {
    let dir = TempDir::new("bad");
    for (args, bad) in [
        (&["--ops", "nope"][..], "nope"),
        (&["--ops", "verify,nope"][..], "nope"),
        (&["--sizes", "0"][..], "0"),
        (&["--sizes", "abc"][..], "abc"),
        (&["--sizes", "1,,2"][..], "\"\""),
        (&["--backends", "gpu"][..], "gpu"),
        (&["--seconds-per-cell", "0"][..], "0 seconds"),
        (&["--msg-bytes", "0"][..], "0"),
    ] {
        let out = xinlian().arg("bench").args(args).arg("--out").arg(&dir.0).output().unwrap();
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(bad), "{args:?}: message does not name {bad:?}:\n{stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    // Nothing was measured, so nothing was written.
    assert!(!dir.0.join("report.json").exists());
}

/// The SDF path is measured like any backend: its cells checked against the CPU reference and
/// written with status ok, the library among the devices.
#[test]
fn an_sdf_library_is_measured_beside_the_cpu() {
    let dir = TempDir::new("sdf");
    let lib = xinlian_sdf_sim::built_library().unwrap();
    let out = xinlian()
        .args(["bench", "--quick", "--backends", "cpu,sdf", "--ops", "verify,sm3", "--sizes", "1,16"])
        .args(["--seconds-per-cell", "0.02", "--threads", "2", "--sdf-lib"])
        .arg(&lib)
        .arg("--out")
        .arg(&dir.0)
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let json: Value = serde_json::from_str(&std::fs::read_to_string(dir.0.join("report.json")).unwrap()).unwrap();
    let sdf: Vec<&Value> = json["cells"].as_array().unwrap().iter().filter(|c| c["backend"] == "sdf").collect();
    assert_eq!(sdf.len(), 4, "verify and sm3 at two sizes: {sdf:#?}");
    assert!(sdf.iter().all(|c| c["status"] == "ok" && c["ops_per_s"].as_f64().unwrap() > 0.0), "{sdf:#?}");
    assert!(json["machine"].to_string().contains("sdf") || json.to_string().contains("\"kind\":\"sdf\""));
}
