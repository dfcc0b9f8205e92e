//! Memory has a stated bound (issue 14, point 5): repeated loads on one node, and its
//! resident set stays under the bound it states in `/status`, and stops growing.

use std::time::{Duration, Instant};

use super::common::{temp_dir, Http, NodeProc, BIN};
use xinlian_chain::Transaction;
use xinlian_testkit::txs::txs_json;
use xinlian_testkit::{put, signed};

/// The node's resident set, as the kernel counts it.
fn resident_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read the node's /proc status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status");
    kib * 1024
}

/// One round: `n` transactions with 4 KiB values, posted in arrays of 100, all committed.
fn round(http: &Http, round: u64, n: u64) {
    let keys: Vec<_> = (0..8).map(|_| xinlian_testkit::key()).collect();
    let value = "v".repeat(4096);
    let txs: Vec<Transaction> = (0..n)
        .map(|i| {
            signed(
                &keys[(i % 8) as usize],
                "xinlian-dev",
                round * 1_000_000 + i,
                put(&format!("soak-{round}-{i}"), &value),
            )
        })
        .collect();
    for chunk in txs.chunks(100) {
        let (code, body) = http.post("/tx", &txs_json(chunk));
        assert_eq!(code, 200, "{body}");
        assert_eq!(body["accepted"], chunk.len(), "{body}");
    }
    let last = txs.last().expect("a round has transactions");
    http.wait_committed(&hex::encode(last.id()));
    let t = Instant::now();
    while http.get("/status").1["mempool"]["txs"] != 0 {
        assert!(t.elapsed() < Duration::from_secs(60), "round {round} not all committed");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn repeated_loads_keep_the_resident_set_under_the_stated_bound() {
    let dir = temp_dir("soak");
    // Small bounds, so that a short run writes several times what RocksDB may hold in memory.
    let config =
        "[rpc]\nmax_inflight_body_bytes = 8388608\n\n[mempool]\nmax_bytes = 16777216\nremember_rejected = 1000\n\n\
                  [block]\ninterval_ms = 50\nmax_bytes = 2097152\n\n[storage]\nwrite_buffer_bytes = 4194304\n\
                  block_cache_bytes = 4194304\n\n[accel]\nbackends = [\"cpu\"]\nkey_cache_entries = 1000\n\
                  key_table_bytes = 1048576\n";
    let node = NodeProc::start(BIN, &dir.join("data"), config);
    let http = Http::new(&node.url);
    let (_, status) = http.get("/status");
    let bound = status["memory"]["bound_bytes"].as_u64().expect("/status states the memory bound");
    let mut seen = Vec::new();
    for r in 0..5 {
        round(&http, r, 1_000);
        seen.push(resident_bytes(node.child.id()));
    }
    let mib = |b: u64| b >> 20;
    println!(
        "soak: resident MiB after each round {:?}, bound {} MiB",
        seen.iter().map(|b| mib(*b)).collect::<Vec<_>>(),
        mib(bound)
    );
    for (r, rss) in seen.iter().enumerate() {
        assert!(*rss <= bound, "round {r}: resident {} MiB over the stated bound {} MiB", mib(*rss), mib(bound));
    }
    // Each round writes about 4 MiB of records, over the 4 MiB of memtables allowed: once
    // RocksDB flushes, later rounds must not keep adding to the resident set.
    let (second, last) = (seen[1], seen[seen.len() - 1]);
    assert!(
        last <= second + (16 << 20),
        "resident set still growing: {} MiB after round 2, {} MiB after round {}",
        mib(second),
        mib(last),
        seen.len()
    );
    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
}
