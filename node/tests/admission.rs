//! Admission under storage faults (injected into the real RocksDB store's read path): every
//! submitted transaction gets its own answer, and a storage failure is never reported as
//! "shutting down".

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests: a failed unwrap is a failed test")]

use xinlian_chain::{Genesis, Transaction};
use xinlian_node::admission::RefusalKind;
use xinlian_node::config::Config;
use xinlian_node::store::ReadFault;
use xinlian_node::NodeBuilder;
use xinlian_testkit::{key, put, signed, temp_dir};

fn txs(n: u64) -> (xinlian_chain::Signer, Vec<Transaction>) {
    let user = key();
    let txs = (0..n).map(|i| signed(&user, "adm", i, put(&format!("k{i}"), "v"))).collect();
    (user, txs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_faults_give_one_unavailable_answer_per_transaction() {
    let dir = temp_dir("admission");
    let mut config = Config::default();
    config.node.chain_id = "adm".into();
    config.accel = xinlian_accel::AccelConfig::from_toml_str("backends = [\"cpu\"]\ncpu_threads = 1\n").unwrap();
    let signer = key();
    let g = Genesis::single("adm", 1, signer.public_key(), &[]);
    let node = NodeBuilder::new(config).data_dir(&dir).signer(signer).genesis(g).build().unwrap();

    node.store().inject_read_fault(Some(ReadFault::Error));
    let answers = node.submit(txs(3).1).await;
    assert_eq!(answers.len(), 3);
    for a in &answers {
        let r = a.as_ref().expect_err("refused while the store fails");
        assert_eq!(r.kind, RefusalKind::Unavailable, "{r:?}");
        assert!(r.reason.contains("storage") && r.reason.contains("injected"), "{r:?}");
    }

    // A panic in the admission task: still one answer per transaction, never one for all.
    node.store().inject_read_fault(Some(ReadFault::Panic));
    let answers = node.submit(txs(4).1).await;
    assert_eq!(answers.len(), 4);
    for a in &answers {
        let r = a.as_ref().expect_err("refused when the task fails");
        assert_eq!(r.kind, RefusalKind::Unavailable, "{r:?}");
        assert!(r.reason.contains("admission task failed"), "{r:?}");
    }

    node.store().inject_read_fault(None);
    let (_, ok) = txs(2);
    assert!(node.submit(ok).await.iter().all(Result::is_ok));
    let _ = std::fs::remove_dir_all(&dir);
}
