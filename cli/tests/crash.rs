//! SIGKILL during sustained load: after a restart, every transaction and block the node had
//! reported committed is still there, with the same block hash chain.

#![allow(clippy::unwrap_used, reason = "tests: a failed unwrap is a failed test")]

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{temp_dir, Http, NodeProc, BIN};
use xinlian_chain::json::TxJson;
use xinlian_chain::{Payload, Signer, Transaction};
use xinlian_testkit::signed;

const CONFIG: &str = "[block]\ninterval_ms = 20\nmax_txs = 200\n[accel]\nbackends = [\"cpu\"]\ncpu_threads = 1\n";

/// What the node acknowledged: committed blocks (height -> hash, tx ids) as `GET /block`
/// showed them, and committed transactions as `GET /tx/{id}` showed them.
#[derive(Default)]
struct Seen {
    blocks: BTreeMap<u64, (String, Vec<String>)>,
    txs: BTreeMap<String, u64>,
}

fn load(url: String, stop: Arc<AtomicBool>, seed: u64, accepted: Arc<Mutex<Vec<String>>>) {
    let http = Http::new(&url);
    let signer = Signer::generate().unwrap();
    let mut nonce = seed << 32;
    while !stop.load(Ordering::Relaxed) {
        let batch: Vec<Transaction> = (0..25)
            .map(|_| {
                nonce += 1;
                let payload = Payload::Put { key: format!("k{seed}-{nonce}").into_bytes(), value: vec![7; 100] };
                signed(&signer, "xinlian-dev", nonce, payload)
            })
            .collect();
        let body = serde_json::to_string(&batch.iter().map(TxJson::from_tx).collect::<Vec<_>>()).unwrap();
        // The node may be killed under us: a failed request ends this loader.
        let Some(answer) = http.try_post("/tx", &body) else { return };
        if answer.0 == 200 {
            let mut acc = accepted.lock().unwrap();
            for r in answer.1["results"].as_array().unwrap() {
                if let Some(id) = r["id"].as_str().filter(|_| r["status"] == "pending") {
                    acc.push(id.to_string());
                }
            }
        }
    }
}

/// Record what the node reports committed, until `deadline`.
fn observe(http: &Http, seen: &mut Seen, accepted: &Mutex<Vec<String>>, deadline: Instant) {
    let mut next_height = seen.blocks.keys().last().map_or(0, |h| h + 1);
    let mut checked = 0usize;
    while Instant::now() < deadline {
        let (code, block) = http.get(&format!("/block/{next_height}"));
        if code == 200 {
            let ids = block["txs"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_string()).collect();
            seen.blocks.insert(next_height, (block["hash"].as_str().unwrap().to_string(), ids));
            next_height += 1;
            continue;
        }
        // Between blocks: ask about a few accepted transactions one by one, as clients do.
        let ids: Vec<String> = accepted.lock().unwrap().iter().skip(checked).take(20).cloned().collect();
        checked += ids.len();
        for id in ids {
            let (code, st) = http.get(&format!("/tx/{id}"));
            if code == 200 && st["status"] == "committed" {
                seen.txs.insert(id, st["height"].as_u64().unwrap());
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn sigkill_under_load_loses_nothing_that_was_acknowledged_as_committed() {
    let dir = temp_dir("crash");
    let data = dir.join("data");
    let mut seen = Seen::default();
    for round in 0..2u64 {
        let node = NodeProc::start(BIN, &data, CONFIG);
        let http = Http::new(&node.url);
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(Mutex::new(Vec::new()));
        let loaders: Vec<_> = (0..2)
            .map(|i| {
                let (url, stop, acc) = (node.url.clone(), Arc::clone(&stop), Arc::clone(&accepted));
                std::thread::spawn(move || load(url, stop, round * 2 + i + 1, acc))
            })
            .collect();
        observe(&http, &mut seen, &accepted, Instant::now() + Duration::from_secs(4));
        // Kill while the loaders are still sending and blocks are being written.
        node.kill();
        stop.store(true, Ordering::Relaxed);
        for l in loaders {
            let _ = l.join();
        }
        assert!(seen.blocks.len() as u64 > 3 + round * 3, "round {round}: too few blocks seen ({})", seen.blocks.len());
    }
    assert!(!seen.txs.is_empty(), "some transactions were seen committed");

    // Restart and check every acknowledged fact.
    let node = NodeProc::start(BIN, &data, CONFIG);
    let http = Http::new(&node.url);
    for (height, (hash, ids)) in &seen.blocks {
        let (code, block) = http.get(&format!("/block/{height}"));
        assert_eq!(code, 200, "block {height} lost");
        assert_eq!(block["hash"].as_str().unwrap(), hash, "block {height} changed");
        let now: Vec<&str> = block["txs"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap()).collect();
        assert_eq!(now, ids.iter().map(String::as_str).collect::<Vec<_>>(), "block {height}'s txs changed");
    }
    for (id, height) in &seen.txs {
        let (code, st) = http.get(&format!("/tx/{id}"));
        assert_eq!((code, st["status"].as_str()), (200, Some("committed")), "tx {id} lost: {st}");
        assert_eq!(st["height"].as_u64(), Some(*height));
    }
    // The whole chain links up, genesis to head.
    let head = http.get("/status").1["height"].as_u64().unwrap();
    assert!(head >= *seen.blocks.keys().last().unwrap());
    let mut prev = String::new();
    for h in 0..=head {
        let (code, block) = http.get(&format!("/block/{h}"));
        assert_eq!(code, 200);
        if h > 0 {
            assert_eq!(block["prev_hash"].as_str().unwrap(), prev, "block {h} does not link to {}", h - 1);
        }
        prev = block["hash"].as_str().unwrap().to_string();
    }
    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
}
