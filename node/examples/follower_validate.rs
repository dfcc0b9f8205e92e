//! How long a follower takes to check a block of transactions it has never seen, per accel
//! backend: the accelerator's headline use in a network (issue 12, point 9).
//!
//! A proposer node (CPU) admits `--txs` transactions, each from a fresh key (cold: no key table,
//! no cached Z), and proposes a block; the follower, opened with `--backends`, runs `validate`
//! on it (every signature batch-verified through its accel, re-execution to the state root) and
//! the time is printed; both then commit it, and the next round uses new keys.
//!
//! ```sh
//! cargo run --release -p xinlian-node --example follower_validate -- --backends cpu
//! cargo run --release -p xinlian-node --example follower_validate -- --backends opencl
//! xinlian card serve --bar /dev/shm/xl-card --profile fpga-1m --pacing fast &
//! cargo run --release -p xinlian-node --example follower_validate -- --backends card --card /dev/shm/xl-card
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a measuring tool: a failure stops it")]

use std::sync::Arc;
use std::time::Instant;

use xinlian_chain::genesis::{GenesisAccount, GenesisValidator};
use xinlian_chain::{CommitCertificate, Genesis, Signer};
use xinlian_node::config::Config;
use xinlian_node::{Node, NodeBuilder};
use xinlian_testkit::{key, put, signed, temp_dir};

const CHAIN: &str = "follower-bench";

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned().unwrap_or_else(|| default.to_string())
}

fn node(dir: &std::path::Path, signer: Signer, g: &Genesis, accel: &str, max_txs: usize) -> Arc<Node> {
    let mut c = Config::default();
    c.node.chain_id = CHAIN.into();
    c.block.max_txs = max_txs;
    c.mempool.max_txs = max_txs.max(c.mempool.max_txs);
    c.accel = xinlian_accel::AccelConfig::from_toml_str(accel).unwrap();
    NodeBuilder::new(c)
        .data_dir(dir)
        .signer(signer)
        .genesis(g.clone())
        .driver(Box::new(xinlian_consensus::Solo))
        .build()
        .unwrap()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let backends = arg("--backends", "cpu");
    let card = arg("--card", "");
    let txs: usize = arg("--txs", "5000").parse().unwrap();
    let rounds: u64 = arg("--rounds", "3").parse().unwrap();
    let list: Vec<String> = backends.split(',').map(|b| format!("{:?}", b.trim())).collect();
    let mut follower_accel = format!("backends = [{}]\n", list.join(", "));
    if !card.is_empty() {
        follower_accel.push_str(&format!("card_bars = [{card:?}]\n"));
    }
    let dir = temp_dir("follower");
    let (kp, kf) = (key(), key());
    let g = Genesis {
        chain_id: CHAIN.into(),
        timestamp_ms: 1_700_000_000_000,
        validators: [&kp, &kf]
            .iter()
            .map(|v| GenesisValidator { pubkey: hex::encode(v.public_key()), address: None, power: 1 })
            .collect(),
        accounts: vec![GenesisAccount { pubkey: hex::encode(kp.public_key()), balance: 1 }],
    };
    let proposer = node(&dir.join("p"), kp, &g, "backends = [\"cpu\"]\n", txs);
    let follower = node(&dir.join("f"), kf, &g, &follower_accel, txs);
    let shares = |n: &Node| n.backends().iter().map(|b| b.name.clone()).collect::<Vec<_>>().join(", ");
    println!("follower backends: {}; {txs} transactions a block, each from a fresh key", shares(&follower));
    for round in 1..=rounds {
        let batch: Vec<_> = (0..txs)
            .map(|i| signed(&key(), CHAIN, round, put(&format!("r{round}-{i}"), "value-of-one-hundred-bytes-or-so")))
            .collect();
        for answer in proposer.submit(batch).await {
            answer.expect("admitted by the proposer");
        }
        let height = proposer.head().height + 1;
        let block = proposer.propose(height, false).await.unwrap().expect("a block");
        assert_eq!(block.txs.len(), txs, "the whole batch in one block");
        let t0 = Instant::now();
        follower.validate(block.clone()).await.expect("the follower accepts the block");
        let took = t0.elapsed();
        println!(
            "round {round}: validate {:.1} ms ({:.0} tx/s)",
            took.as_secs_f64() * 1e3,
            txs as f64 / took.as_secs_f64()
        );
        let cert = CommitCertificate::solo(height, block.hash());
        proposer.commit(block.clone(), cert.clone()).await.unwrap();
        follower.commit(block, cert).await.unwrap();
    }
    let _ = std::fs::remove_dir_all(&dir);
}
