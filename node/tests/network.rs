//! Several nodes in one process, built with `NodeBuilder` from one genesis, driven by the test
//! as a consensus engine would drive them: propose on one, validate on the others, commit on
//! all. Real parts: RocksDB in temp directories, the accel dispatcher on the CPU backend.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests: a failed unwrap is a failed test")]

use std::path::PathBuf;
use std::sync::Arc;

use xinlian_chain::genesis::{GenesisAccount, GenesisValidator};
use xinlian_chain::{Block, CommitCertificate, Genesis, Signer, Transaction};
use xinlian_node::config::Config;
use xinlian_node::{Node, NodeBuilder, NodeError};
use xinlian_testkit::{blocks::reseal, key, put, signed, temp_dir, txs::forged};

const CHAIN: &str = "net-test";

fn config() -> Config {
    let mut c = Config::default();
    c.node.chain_id = CHAIN.into();
    c.accel = xinlian_accel::AccelConfig::from_toml_str("backends = [\"cpu\"]\ncpu_threads = 1\ncalibrate = false\n")
        .unwrap();
    c
}

fn genesis(validators: &[&Signer], funded: &[&Signer]) -> Genesis {
    Genesis {
        chain_id: CHAIN.into(),
        timestamp_ms: 1_700_000_000_000,
        validators: validators
            .iter()
            .map(|v| GenesisValidator { pubkey: hex::encode(v.public_key()), address: None, power: 1 })
            .collect(),
        accounts: funded
            .iter()
            .map(|a| GenesisAccount { pubkey: hex::encode(a.public_key()), balance: 1_000_000 })
            .collect(),
    }
}

/// A node of a several-validator chain, driven by the test itself: the driver named here
/// (Solo) is never run; without one the builder would start BFT, which needs addresses.
fn build(dir: &PathBuf, signer: Signer, g: &Genesis) -> Arc<Node> {
    NodeBuilder::new(config())
        .data_dir(dir)
        .signer(signer)
        .genesis(g.clone())
        .driver(Box::new(xinlian_consensus::Solo))
        .build()
        .unwrap()
}

fn txs(from: &Signer, first_nonce: u64, n: u64) -> Vec<Transaction> {
    (first_nonce..first_nonce + n).map(|i| signed(from, CHAIN, i, put(&format!("k{i}"), "v"))).collect()
}

async fn admit(node: &Arc<Node>, txs: Vec<Transaction>) {
    for answer in node.submit(txs).await {
        answer.expect("admitted");
    }
}

async fn decide(proposer: &Arc<Node>, others: &[&Arc<Node>], height: u64) -> Block {
    let block = proposer.propose(height, false).await.unwrap().expect("a block to propose");
    for n in others {
        n.validate(block.clone()).await.expect("a valid block");
    }
    let cert = CommitCertificate::solo(height, block.hash());
    proposer.commit(block.clone(), cert.clone()).await.unwrap();
    for n in others {
        n.commit(block.clone(), cert.clone()).await.unwrap();
    }
    block
}

fn same_head(nodes: &[&Arc<Node>]) {
    let h = nodes[0].head();
    for n in &nodes[1..] {
        assert_eq!(n.head(), h, "{n:?} differs from {:?}", nodes[0]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_agree_and_refuse_a_forged_transaction_naming_it() {
    let dir = temp_dir("network");
    let (ka, kb, kc) = (key(), key(), key());
    let user = key();
    let g = genesis(&[&ka, &kb, &kc], &[&user]);
    let (pa, pb, pc) = (*ka.public_key(), *kb.public_key(), *kc.public_key());
    let c_key = Signer::from_pem(&kc.to_pem().unwrap()).unwrap();
    let a = build(&dir.join("a"), ka, &g);
    let b = build(&dir.join("b"), kb, &g);
    let c = build(&dir.join("c"), kc, &g);
    same_head(&[&a, &b, &c]);

    // Height 1: transactions only A has seen; B and C verify every signature through accel.
    admit(&a, txs(&user, 1, 40)).await;
    let b1 = decide(&a, &[&b, &c], 1).await;
    assert_eq!(b1.header.proposer, pa);
    same_head(&[&a, &b, &c]);
    assert_eq!(a.mempool_len().0, 0);

    // Height 2: B proposes what it and C admitted; C skips re-verifying, A verifies.
    let mine = txs(&user, 100, 30);
    admit(&b, mine.clone()).await;
    admit(&c, mine[..10].to_vec()).await;
    let b2 = decide(&b, &[&a, &c], 2).await;
    assert_eq!((b2.header.proposer, b2.txs.len()), (pb, 30));
    same_head(&[&a, &b, &c]);
    assert_eq!(c.mempool_len().0, 0, "C dropped the committed ids it held, by set");
    for n in [&a, &b, &c] {
        assert_eq!(n.store().data(b"k129").unwrap().as_deref(), Some(&b"v"[..]));
    }

    // Height 3: C's block with one forged transaction, re-sealed by C as a malicious proposer
    // would. B admitted the genuine copy: the same id with another signature is still checked.
    let genuine = txs(&user, 200, 5);
    admit(&c, genuine.clone()).await;
    admit(&b, genuine.clone()).await;
    let honest = c.propose(3, false).await.unwrap().unwrap();
    assert_eq!(honest.header.proposer, pc);
    let mut bad = honest.clone();
    let mallory = key();
    bad.txs[2] = forged(&bad.txs[2], &mallory);
    let bad = reseal(bad, &c_key);
    for n in [&a, &b] {
        let reject = n.validate(bad.clone()).await.expect_err("a forged transaction");
        assert_eq!(reject.tx, Some((2, genuine[2].id())), "{reject}");
        assert!(reject.reason.contains("signature"), "{reject}");
        assert!(reject.to_string().contains(&hex::encode(genuine[2].id())), "{reject}");
    }
    // The honest block still passes, and nothing was committed meanwhile.
    a.validate(honest.clone()).await.unwrap();
    same_head(&[&a, &b, &c]);
    assert_eq!(a.head().height, 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_genesis_file_one_block_zero_and_another_file_is_refused() {
    let dir = temp_dir("genesis");
    let (k1, k2) = (key(), key());
    let g = genesis(&[&k1, &k2], &[&k1]);
    let text = g.to_toml().unwrap();
    // Two data directories given the same file (read from disk, as `xinlian run` does).
    let mut zeros = Vec::new();
    for (name, k) in [("one", k1), ("two", k2)] {
        let data = dir.join(name);
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join("genesis.toml"), &text).unwrap();
        let node = NodeBuilder::new(config())
            .data_dir(&data)
            .signer(k)
            .driver(Box::new(xinlian_consensus::Solo))
            .build()
            .unwrap();
        zeros.push(node.store().block(0).unwrap().unwrap().hash());
    }
    assert_eq!(zeros[0], zeros[1]);
    assert_eq!(zeros[0], g.block().unwrap().0.hash());
    // Another file: another block 0, and the old data directory refuses it.
    let mut other = g.clone();
    other.timestamp_ms += 1;
    assert_ne!(other.block().unwrap().0.hash(), zeros[0]);
    let data = dir.join("one");
    std::fs::write(data.join("genesis.toml"), other.to_toml().unwrap()).unwrap();
    let err = NodeBuilder::new(config())
        .data_dir(&data)
        .signer(key())
        .driver(Box::new(xinlian_consensus::Solo))
        .build()
        .unwrap_err();
    assert!(matches!(err, NodeError::WrongChain { .. }), "{err}");
    assert!(err.to_string().contains("genesis"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
