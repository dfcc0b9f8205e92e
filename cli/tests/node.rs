//! The node end to end, as users drive it: `xinlian run`, `xinlian tx`, `xinlian query`, the
//! HTTP API, keys from the OpenSSL command line, bad input, restarts.

#![allow(clippy::unwrap_used, reason = "tests: a failed unwrap is a failed test")]

mod common;
#[path = "node/slow_clients.rs"]
mod slow_clients;
#[path = "node/soak.rs"]
mod soak;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{temp_dir, xinlian, Http, NodeProc, BIN, TEST_CONFIG};
use xinlian_chain::json::TxJson;
use xinlian_chain::{Signer, Transaction};
use xinlian_testkit::{put, signed, tx_json as json};

fn openssl_key(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let st = Command::new("openssl").args(["genpkey", "-algorithm", "SM2", "-out"]).arg(&path).status().unwrap();
    assert!(st.success(), "openssl genpkey -algorithm SM2 failed");
    path
}

/// The 65-byte public key of a PEM private key, as OpenSSL sees it (the SPKI's last 65 bytes).
fn openssl_pubkey(key: &Path) -> [u8; 65] {
    let out = Command::new("openssl").args(["pkey", "-pubout", "-outform", "DER", "-in"]).arg(key).output().unwrap();
    assert!(out.status.success());
    out.stdout[out.stdout.len() - 65..].try_into().unwrap()
}

fn last_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).lines().last().unwrap_or("").trim().to_string()
}

#[test]
fn a_new_user_puts_a_record_with_an_openssl_key_and_reads_it_back() {
    let dir = temp_dir("e2e");
    // As a new user runs it: the default [accel] (every backend found: POCL here, the CPU last).
    let node = NodeProc::start(BIN, &dir.join("data"), "[block]\ninterval_ms = 50\n");
    let http = Http::new(&node.url);
    let key = openssl_key(&dir, "k.pem");
    let out = xinlian()
        .args(["tx", "put", "--key", "doc-1", "--value", "hello 芯链", "--wait", "--rpc", &node.url, "--signer"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success(), "tx put failed: {}", String::from_utf8_lossy(&out.stderr));
    let id = last_line(&out.stdout);
    assert_eq!(id.len(), 64, "the last line is the tx id: {id:?}");

    let (code, state) = http.get("/state/doc-1");
    assert_eq!(code, 200, "{state}");
    assert_eq!(state["value_utf8"], "hello 芯链");
    assert_eq!(state["value"], hex::encode("hello 芯链"));
    let (code, tx) = http.get(&format!("/tx/{id}"));
    assert_eq!((code, tx["status"].as_str()), (200, Some("committed")), "{tx}");
    assert_eq!(tx["receipt"]["ok"], true);
    let height = tx["height"].as_u64().unwrap();
    assert!(height >= 1);
    let (code, block) = http.get(&format!("/block/{height}"));
    assert_eq!(code, 200);
    assert!(block["txs"].as_array().unwrap().iter().any(|t| t["id"] == id.as_str()), "{block}");
    assert_eq!(block["hash"], tx["block_hash"]);
    let (_, latest) = http.get("/block/latest");
    assert!(latest["height"].as_u64().unwrap() >= height);
    let (_, acct) = http.get(&format!("/account/{}", hex::encode(openssl_pubkey(&key))));
    assert_eq!(acct["nonce"], 1, "{acct}");

    // The CLI's queries say the same.
    let q = xinlian().args(["query", "state", "doc-1", "--rpc", &node.url]).output().unwrap();
    assert!(q.status.success());
    assert!(String::from_utf8_lossy(&q.stdout).contains("hello 芯链"));
    let q = xinlian().args(["query", "tx", &id, "--rpc", &node.url]).output().unwrap();
    assert!(String::from_utf8_lossy(&q.stdout).contains("committed"));
    let q = xinlian().args(["query", "state", "no-such-key", "--rpc", &node.url]).output().unwrap();
    assert!(!q.status.success());
    assert!(String::from_utf8_lossy(&q.stderr).contains("404"));
    let (code, status) = http.get("/status");
    assert_eq!(code, 200);
    assert_eq!(status["chain_id"], "xinlian-dev");
    assert!(status["accel"]["backends"].as_array().unwrap().iter().any(|b| b["name"] == "cpu"), "{status}");
    let (code, metrics) = http.get("/metrics");
    assert_eq!(code, 200);
    let metrics = metrics.as_str().unwrap().to_string();
    assert!(metrics.contains("xinlian_txs_committed_total 1"), "{metrics}");
    assert!(metrics.contains("xinlian_stage_seconds_total{stage=\"verify\"}"));
    assert!(metrics.contains("cpu"), "accel's metrics follow the node's");
    // At info the node logged its start and one line for the committed block.
    let log = node.log();
    assert!(log.contains("node started") && log.contains("genesis"), "{log}");
    assert!(log.lines().any(|l| l.contains("committed block") && l.contains(&format!("height={height}"))), "{log}");
    let (_, b) = http.get(&format!("/block/{height}"));
    assert_eq!(b["certificate"]["round"], 0, "{b}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn log_format_json_writes_one_json_object_per_line() {
    let dir = temp_dir("json-log");
    let node = NodeProc::start_with_args(BIN, &dir.join("data"), TEST_CONFIG, &["--log-format", "json"]);
    let http = Http::new(&node.url);
    let user = Signer::generate().unwrap();
    let tx = signed(&user, "xinlian-dev", 7, put("json-log", "v"));
    let (code, answer) = http.post("/tx", &json(&tx));
    assert_eq!(code, 202, "{answer}");
    http.wait_committed(&hex::encode(tx.id()));
    // The block line is written just after the commit that GET /tx saw: give it a moment.
    let t = std::time::Instant::now();
    while !node.log().contains("committed block") && t.elapsed() < std::time::Duration::from_secs(10) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let log = node.log();
    let lines: Vec<serde_json::Value> =
        log.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"))).collect();
    let block = lines.iter().find(|v| v["fields"]["message"] == "committed block").expect("a committed-block line");
    assert_eq!(block["level"], "INFO");
    assert_eq!(block["fields"]["height"], 1, "{block}");
    assert_eq!(block["fields"]["txs"], 1, "{block}");
    assert!(lines.iter().any(|v| v["fields"]["message"] == "node started"), "{log}");
    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_transaction_signed_by_the_openssl_command_line_is_accepted() {
    let dir = temp_dir("openssl-tx");
    let node = NodeProc::start(BIN, &dir.join("data"), TEST_CONFIG);
    let http = Http::new(&node.url);
    let key = openssl_key(&dir, "k.pem");
    // Build the signing bytes as the README describes, sign them with OpenSSL alone.
    let mut tx = Transaction {
        chain_id: "xinlian-dev".into(),
        nonce: 42,
        sender: openssl_pubkey(&key),
        payload: put("from-openssl", "signed by pkeyutl"),
        signature: [0; 64],
    };
    let msg = dir.join("tx.bin");
    std::fs::write(&msg, tx.signing_bytes()).unwrap();
    let out = Command::new("openssl")
        .args(["pkeyutl", "-sign", "-rawin", "-digest", "sm3", "-pkeyopt", "distid:1234567812345678", "-inkey"])
        .arg(&key)
        .arg("-in")
        .arg(&msg)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let body = serde_json::json!({
        "chain_id": "xinlian-dev",
        "nonce": 42,
        "sender": hex::encode(tx.sender),
        "payload": {"type": "put", "key": hex::encode("from-openssl"), "value": hex::encode("signed by pkeyutl")},
        "signature": hex::encode(&out.stdout), // DER, as OpenSSL writes it
    });
    let (code, answer) = http.post("/tx", &body.to_string());
    assert_eq!(code, 202, "{answer}");
    tx.signature = [0; 64];
    assert_eq!(answer["id"], hex::encode(tx.id()), "the id is SM3 of the signing bytes");
    http.wait_committed(answer["id"].as_str().unwrap());
    let (_, state) = http.get("/state/from-openssl");
    assert_eq!(state["value_utf8"], "signed by pkeyutl");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn forged_replayed_wrong_chain_and_malformed_transactions_are_refused_with_a_reason() {
    let dir = temp_dir("refusals");
    let node = NodeProc::start(BIN, &dir.join("data"), TEST_CONFIG);
    let http = Http::new(&node.url);
    let alice = Signer::generate().unwrap();
    let mallory = Signer::generate().unwrap();

    let expect = |body: &str, code: u16, needle: &str| {
        let (got, answer) = http.post("/tx", body);
        assert_eq!(got, code, "{body} -> {answer}");
        let text = answer.to_string();
        assert!(text.contains(needle), "{body} -> {text} (wanted {needle:?})");
        answer
    };
    expect("not json", 400, "body is not JSON");
    expect("42", 400, "transaction object or an array");
    expect("[]", 400, "empty array");
    expect(r#"{"chain_id":"xinlian-dev"}"#, 400, "missing field");
    let good = signed(&alice, "xinlian-dev", 1, put("k", "v"));
    let mut j = TxJson::from_tx(&good);
    j.sender = "zz".into();
    expect(&serde_json::to_string(&j).unwrap(), 400, "sender: not hex");
    let mut j = TxJson::from_tx(&good);
    j.sender.replace_range(10..12, if &j.sender[10..12] == "00" { "01" } else { "00" });
    expect(&serde_json::to_string(&j).unwrap(), 400, "sender");
    let mut j = TxJson::from_tx(&good);
    j.signature = "3003020101".into();
    expect(&serde_json::to_string(&j).unwrap(), 400, "signature");
    let mut j = serde_json::to_value(TxJson::from_tx(&good)).unwrap();
    j["payload"]["type"] = "burn".into();
    expect(&j.to_string(), 400, "burn");

    // Forged: Alice's transaction with Mallory's signature.
    let mut forged = good.clone();
    forged.signature = mallory.sign(&good.signing_bytes());
    let answer = expect(&json(&forged), 400, "signature");
    assert_eq!(answer["kind"], "bad_signature");
    let (_, status) = http.get(&format!("/tx/{}", hex::encode(forged.id())));
    assert_eq!(status["status"], "rejected", "{status}");

    // Wrong chain.
    let other = signed(&alice, "other-chain", 1, put("k", "v"));
    expect(&json(&other), 400, "wrong chain");

    // Accepted once, then a duplicate while pending or a replay once committed.
    let (code, answer) = http.post("/tx", &json(&good));
    assert_eq!(code, 202, "{answer}");
    let (code, again) = http.post("/tx", &json(&good));
    assert_eq!(code, 409, "{again}");
    http.wait_committed(&hex::encode(good.id()));
    let answer = expect(&json(&good), 409, "replay");
    assert_eq!(answer["kind"], "replay");

    // An array: one answer per element, in order.
    let a = signed(&alice, "xinlian-dev", 2, put("a", "1"));
    // (The forged copy above has the good one's id, now committed: forge a fresh one.)
    let mut forged2 = signed(&alice, "xinlian-dev", 3, put("b", "2"));
    forged2.signature = mallory.sign(&forged2.signing_bytes());
    let body = format!("[{},{},{},{{\"nonsense\":1}}]", json(&a), json(&a), json(&forged2));
    let (code, answer) = http.post("/tx", &body);
    assert_eq!(code, 200, "{answer}");
    assert_eq!(answer["accepted"], 1);
    let results = answer["results"].as_array().unwrap();
    assert_eq!(results[0]["status"], "pending");
    assert_eq!(results[1]["kind"], "duplicate");
    assert_eq!(results[2]["kind"], "bad_signature");
    assert_eq!(results[3]["kind"], "malformed");

    // Reads with bad arguments.
    for (path, code) in [
        ("/tx/zz", 400),
        ("/tx/00", 400),
        (&*format!("/tx/{}", "ab".repeat(32)), 404),
        ("/block/abc", 400),
        ("/block/999999", 404),
        ("/state/missing", 404),
        ("/state/zz?encoding=hex", 400),
        ("/state/k?encoding=base64", 400),
        ("/account/zz", 400),
        ("/account/04", 400),
        ("/nope", 404),
    ] {
        let (got, body) = http.get(path);
        assert_eq!(got, code, "{path}: {body}");
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "{path}: {body}");
    }
    let (_, metrics) = http.get("/metrics");
    assert!(metrics.as_str().unwrap().contains("xinlian_txs_refused_total{reason=\"bad_signature\"} 2"), "{metrics}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn transfers_move_balances_and_an_overdraft_fails_with_its_receipt() {
    let dir = temp_dir("transfer");
    let data = dir.join("data");
    let node = NodeProc::start(BIN, &data, TEST_CONFIG);
    let http = Http::new(&node.url);
    let bob = dir.join("bob.pem");
    let out = xinlian().args(["keygen", "--out"]).arg(&bob).output().unwrap();
    assert!(out.status.success());
    let bob_pub = last_line(&out.stdout);
    let out = xinlian()
        .args(["tx", "transfer", "--to", &bob_pub, "--amount", "500", "--wait", "--rpc", &node.url, "--signer"])
        .arg(data.join("node.pem"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (_, acct) = http.get(&format!("/account/{bob_pub}"));
    assert_eq!((acct["balance"].as_u64(), acct["nonce"].as_u64()), (Some(500), Some(0)), "{acct}");

    let (_, status) = http.get("/status");
    let node_key = status["node_key"].as_str().unwrap().to_string();
    let out = xinlian()
        .args(["tx", "transfer", "--to", &node_key, "--amount", "501", "--wait", "--rpc", &node.url, "--signer"])
        .arg(&bob)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("insufficient balance: has 500, needs 501"), "{stderr}");
    let (_, acct) = http.get(&format!("/account/{bob_pub}"));
    assert_eq!((acct["balance"].as_u64(), acct["nonce"].as_u64()), (Some(500), Some(1)), "{acct}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_full_mempool_answers_503_and_never_grows() {
    let dir = temp_dir("full");
    let config =
        "[mempool]\nmax_txs = 4\n[block]\ninterval_ms = 600000\nmax_txs = 1000\n[accel]\nbackends = [\"cpu\"]\n";
    let node = NodeProc::start(BIN, &dir.join("data"), config);
    let http = Http::new(&node.url);
    let alice = Signer::generate().unwrap();
    let txs: Vec<String> = (0..6).map(|n| json(&signed(&alice, "xinlian-dev", n, put("k", "v")))).collect();
    let (code, answer) = http.post("/tx", &format!("[{}]", txs.join(",")));
    assert_eq!(code, 200, "{answer}");
    assert_eq!(answer["accepted"], 4);
    assert_eq!(answer["results"][5]["kind"], "mempool_full");
    let (code, answer) = http.post("/tx", &json(&signed(&alice, "xinlian-dev", 9, put("k", "v"))));
    assert_eq!(code, 503, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("mempool full"), "{answer}");
    let (_, status) = http.get("/status");
    assert_eq!(status["mempool"]["txs"], 4);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_restarted_node_resumes_from_rocksdb() {
    let dir = temp_dir("restart");
    let data = dir.join("data");
    let node = NodeProc::start(BIN, &data, TEST_CONFIG);
    let http = Http::new(&node.url);
    let alice = Signer::generate().unwrap();
    let tx = signed(&alice, "xinlian-dev", 1, put("kept", "across restarts"));
    assert_eq!(http.post("/tx", &json(&tx)).0, 202);
    http.wait_committed(&hex::encode(tx.id()));
    let (_, before) = http.get("/status");
    assert!(node.terminate(), "SIGTERM stops the node cleanly");

    let node = NodeProc::start(BIN, &data, TEST_CONFIG);
    let http = Http::new(&node.url);
    let (_, after) = http.get("/status");
    assert_eq!(after["height"], before["height"]);
    assert_eq!(after["head_hash"], before["head_hash"]);
    assert_eq!(after["node_key"], before["node_key"], "the node key is kept");
    assert_eq!(http.get("/state/kept").1["value_utf8"], "across restarts");
    let tx2 = signed(&alice, "xinlian-dev", 2, put("next", "block"));
    assert_eq!(http.post("/tx", &json(&tx2)).0, 202);
    let st = http.wait_committed(&hex::encode(tx2.id()));
    let (_, block) = http.get(&format!("/block/{}", st["height"]));
    assert_eq!(block["prev_hash"], before["head_hash"]);
    // Another chain id on the same data is refused with a clear error.
    drop(node);
    let out = xinlian()
        .args(["run", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .arg("--config")
        .arg({
            let p = dir.join("other.toml");
            std::fs::write(&p, "[node]\nchain_id = \"other\"\n[accel]\nbackends = [\"cpu\"]\n").unwrap();
            p
        })
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds chain \"xinlian-dev\""));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn keygen_and_init_write_files_that_openssl_and_the_node_read() {
    let dir = temp_dir("init");
    let key = dir.join("k.pem");
    let out = xinlian().args(["keygen", "--out"]).arg(&key).output().unwrap();
    assert!(out.status.success());
    let pubkey = last_line(&out.stdout);
    let text = Command::new("openssl").args(["pkey", "-noout", "-text", "-in"]).arg(&key).output().unwrap();
    assert!(text.status.success(), "openssl pkey reads the key");
    assert_eq!(hex::encode(openssl_pubkey(&key)), pubkey);
    let again = xinlian().args(["keygen", "--out"]).arg(&key).output().unwrap();
    assert!(!again.status.success(), "an existing key is never overwritten");

    let data = dir.join("d");
    let out = xinlian().args(["init", "--data"]).arg(&data).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let config = xinlian_node::config::Config::from_file(&data.join("config.toml")).unwrap();
    assert_eq!(config.node.data_dir, data);
    assert!(data.join("node.pem").exists());
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[block]\ninterval_ms = \"soon\"\n").unwrap();
    let out = xinlian().args(["run", "--config"]).arg(&bad).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("interval_ms"), "{}", String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn xinlian_load_reports_tps_latency_and_where_the_time_goes() {
    let dir = temp_dir("load");
    let node = NodeProc::start(BIN, &dir.join("data"), TEST_CONFIG);
    let out = xinlian()
        .args(["load", "--tps", "400", "--duration", "2", "--senders", "3", "--batch", "20", "--rpc", &node.url])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("committed    800 of 800"), "{stdout}");
    assert!(stdout.contains("latency      submit to commit: p50"), "{stdout}");
    for stage in ["verify (", "execute", "commit (RocksDB", "http ("] {
        assert!(stdout.contains(&format!("  {stage}")), "{stage} missing: {stdout}");
    }
    let (_, status) = Http::new(&node.url).get("/status");
    assert_eq!(status["mempool"]["txs"], 0);
    let bad = xinlian().args(["load", "--batch", "0", "--rpc", &node.url]).output().unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--batch"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 13's acceptance: a node whose key lives in the soft SDF card (made with `xinlian card
/// sdf-keys`, the password in a file) signs blocks that `openssl pkeyutl` verifies against the
/// public key `sdf-keys` printed.
#[test]
fn a_node_whose_key_lives_in_the_soft_card_signs_blocks_openssl_verifies() {
    let dir = temp_dir("card-key");
    let pw = dir.join("pw");
    std::fs::write(&pw, "s3cret pass\n").unwrap();
    let keys = dir.join("keys.toml");
    let out = xinlian()
        .args(["card", "sdf-keys", "--count", "2", "--out"])
        .arg(&keys)
        .arg("--password-file")
        .arg(&pw)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let listed = String::from_utf8_lossy(&out.stdout).to_string();
    let key2 = listed.lines().find_map(|l| l.strip_prefix("2 ")).expect("key 2 listed").trim().to_string();
    let card = dir.join("card");
    std::fs::create_dir_all(&card).unwrap();
    let lib = card.join(xinlian_sdf_sim::LIBRARY_FILE);
    std::fs::copy(xinlian_sdf_sim::built_library().unwrap(), &lib).unwrap();
    std::fs::write(card.join("xinlian-sdf-sim.toml"), format!("keystore = {:?}\n", keys.display().to_string()))
        .unwrap();
    let config = format!(
        "[node]\nkey = {:?}\nkey_password_file = {:?}\n{TEST_CONFIG}",
        format!("sdf:{}#2", lib.display()),
        pw.display().to_string()
    );
    let node = NodeProc::start(BIN, &dir.join("data"), &config);
    let http = Http::new(&node.url);
    assert_eq!(http.get("/status").1["node_key"], key2.as_str());
    let user = Signer::generate().unwrap();
    let tx = signed(&user, "xinlian-dev", 1, put("signed-in-a-card", "yes"));
    assert_eq!(http.post("/tx", &json(&tx)).0, 202);
    let st = http.wait_committed(&hex::encode(tx.id()));
    let (_, b) = http.get(&format!("/block/{}", st["height"]));
    let h = |k: &str| -> Vec<u8> { hex::decode(b[k].as_str().unwrap()).unwrap() };
    let header = xinlian_chain::BlockHeader {
        height: b["height"].as_u64().unwrap(),
        prev_hash: h("prev_hash").try_into().unwrap(),
        tx_root: h("tx_root").try_into().unwrap(),
        state_root: h("state_root").try_into().unwrap(),
        timestamp_ms: b["timestamp_ms"].as_u64().unwrap(),
        proposer: h("proposer").try_into().unwrap(),
        tx_count: u32::try_from(b["tx_count"].as_u64().unwrap()).unwrap(),
    };
    assert_eq!(hex::encode(header.proposer), key2);
    assert_eq!(hex::encode(header.hash()), b["hash"].as_str().unwrap());
    let sig: [u8; 64] = h("signature").try_into().unwrap();
    assert!(xinlian_testkit::openssl::verifies(&dir, &header.proposer, &header.signing_bytes(), &sig));
    // The same check refuses the signature over anything else.
    let mut other = header.signing_bytes();
    other[10] ^= 1;
    assert!(!xinlian_testkit::openssl::verifies(&dir, &header.proposer, &other, &sig));
    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 14, points 1 and 2: with the OpenCL runtime present (the default `[accel]` finds POCL
/// here and in CI), SIGTERM 3 ms after transactions were answered 202 stops the node
/// gracefully: a "stopping" line, exit status 0, and every admitted transaction committed,
/// as a restart shows.
#[test]
fn sigterm_with_opencl_present_commits_everything_admitted_then_exits_zero() {
    let dir = temp_dir("sigterm");
    let data = dir.join("data");
    // Long blocks: the transactions are still waiting for theirs when the signal comes.
    let node = NodeProc::start(BIN, &data, "[block]\ninterval_ms = 5000\n");
    let http = Http::new(&node.url);
    let (_, status) = http.get("/status");
    let opencl = status["accel"]["backends"].as_array().unwrap().iter().any(|b| b["kind"] == "opencl");
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
    assert!(opencl || !ci, "CI is set but the node found no OpenCL device: {status}");
    if !opencl {
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED part of sigterm test: no OpenCL device; the stop is tested without it"
        );
    }
    let user = Signer::generate().unwrap();
    let txs: Vec<Transaction> =
        (0..40).map(|i| signed(&user, "xinlian-dev", 900 + i, put(&format!("t{i}"), "v"))).collect();
    let body = xinlian_testkit::txs::txs_json(&txs);
    let (code, answer) = http.post("/tx", &body);
    assert_eq!((code, answer["accepted"].as_u64()), (200, Some(40)), "{answer}");
    std::thread::sleep(std::time::Duration::from_millis(3));
    let log = node.log.clone();
    assert!(node.terminate(), "exit status 0 after SIGTERM; log:\n{}", log.lock().unwrap());
    let log = log.lock().unwrap().clone();
    assert!(log.contains("stopping"), "{log}");
    let node = NodeProc::start(BIN, &data, "[block]\ninterval_ms = 5000\n[accel]\nbackends = [\"cpu\"]\n");
    let http = Http::new(&node.url);
    for tx in &txs {
        let (code, st) = http.get(&format!("/tx/{}", hex::encode(tx.id())));
        assert_eq!((code, st["status"].as_str()), (200, Some("committed")), "{st}");
    }
    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 14, point 6: a garbage copy of a transaction (same signing bytes, so the same id, with
/// another key's signature) is refused; before the genuine copy arrives the id reads
/// `rejected`, and once the genuine copy is pending or committed no garbage copy changes what
/// `GET /tx/{id}` says.
#[test]
fn garbage_copies_never_change_the_status_of_the_genuine_transaction() {
    let dir = temp_dir("garbage");
    let node = NodeProc::start(BIN, &dir.join("data"), "[block]\ninterval_ms = 400\n[accel]\nbackends = [\"cpu\"]\n");
    let http = Http::new(&node.url);
    let (alice, mallory) = (Signer::generate().unwrap(), Signer::generate().unwrap());
    let genuine = signed(&alice, "xinlian-dev", 77, put("contested", "genuine"));
    let garbage = xinlian_testkit::txs::forged(&genuine, &mallory);
    let id = hex::encode(genuine.id());
    let status = |http: &Http| http.get(&format!("/tx/{id}")).1["status"].as_str().unwrap_or("").to_string();

    // Garbage first: refused, and the id reads rejected for now.
    assert_eq!(http.post("/tx", &json(&garbage)).0, 400);
    assert_eq!(status(&http), "rejected");
    // The genuine copy is admitted; garbage while it is pending is a duplicate and changes nothing.
    assert_eq!(http.post("/tx", &json(&genuine)).0, 202);
    let (code, body) = http.post("/tx", &json(&garbage));
    assert_eq!((code, body["kind"].as_str()), (409, Some("duplicate")), "{body}");
    assert_eq!(status(&http), "pending");
    // Committed: garbage is a replay, and the id still reads committed.
    http.wait_committed(&id);
    let (code, body) = http.post("/tx", &json(&garbage));
    assert_eq!((code, body["kind"].as_str()), (409, Some("replay")), "{body}");
    assert_eq!(status(&http), "committed");
    assert_eq!(http.get("/state/contested").1["value_utf8"], "genuine");
    // `xinlian tx --wait`-style polling through the CLI says the same.
    let q = xinlian().args(["query", "tx", &id, "--rpc", &node.url]).output().unwrap();
    assert!(String::from_utf8_lossy(&q.stdout).contains("committed"));
    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 14, point 3: every error body is JSON with `error` and `kind`, also where the HTTP
/// framework answers by itself: a body over `rpc.max_body_bytes`, a path segment that is not
/// UTF-8, a method a route does not take, an unknown route.
#[test]
fn every_error_body_is_json_with_a_kind() {
    let dir = temp_dir("json-errors");
    let node = NodeProc::start(BIN, &dir.join("data"), "[rpc]\nmax_body_bytes = 2048\n[accel]\nbackends = [\"cpu\"]\n");
    let client = xinlian::client::Client::new(&node.url);
    let big = format!("{{\"pad\": \"{}\"}}", "x".repeat(4096));
    let cases: [(&str, &str, Option<&str>, u16, &str); 9] = [
        ("POST", "/tx", Some(big.as_str()), 413, "payload_too_large"),
        ("GET", "/state/%ff", None, 400, "bad_request"),
        ("GET", "/tx/%ff", None, 400, "bad_request"),
        ("GET", "/block/%ff", None, 400, "bad_request"),
        ("GET", "/account/%ff", None, 400, "bad_request"),
        ("PUT", "/block/0", Some("{}"), 405, "method_not_allowed"),
        ("GET", "/tx", None, 405, "method_not_allowed"),
        ("GET", "/no/such/route", None, 404, "not_found"),
        ("GET", "/state/no-such-key", None, 404, "not_found"),
    ];
    for (method, path, body, status, kind) in cases {
        let a = client.send(method, path, body).unwrap();
        assert_eq!(a.status, status, "{method} {path}: {}", a.body);
        assert!(a.body.is_object(), "{method} {path}: not a JSON object: {}", a.body);
        assert_eq!(a.body["kind"], kind, "{method} {path}: {}", a.body);
        assert!(a.body["error"].as_str().is_some_and(|e| !e.is_empty()), "{method} {path}: {}", a.body);
    }
    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
}
