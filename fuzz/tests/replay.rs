//! Replays every committed corpus (`fuzz/corpus/<target>/`) through its target's body: the
//! exact code libFuzzer ran, as an ordinary test, so CI (stable, no cargo-fuzz) keeps every
//! input the fuzzer found interesting, crashes included, passing.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a readable corpus entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{}: no corpus", dir.display());
    let failed: Vec<String> = files
        .iter()
        .filter(|path| {
            let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            catch_unwind(AssertUnwindSafe(|| run(&data))).is_err()
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(failed.is_empty(), "{target}: {} of {} inputs fail: {failed:#?}", failed.len(), files.len());
}

#[test]
fn every_target_has_a_corpus_and_a_replay() {
    let dirs: Vec<String> = std::fs::read_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus"))
        .expect("fuzz/corpus")
        .map(|e| e.expect("an entry").file_name().to_string_lossy().into_owned())
        .collect();
    for target in xinlian_fuzz::TARGETS {
        assert!(dirs.iter().any(|d| d == target), "{target}: no corpus folder");
    }
    assert_eq!(dirs.len(), xinlian_fuzz::TARGETS.len(), "a corpus folder with no target: {dirs:?}");
}

#[test]
fn accel_config() {
    replay("accel_config", xinlian_fuzz::accel_config::run);
}

#[test]
fn block_binary() {
    replay("block_binary", xinlian_fuzz::block_binary::run);
}

#[test]
fn card_completion() {
    replay("card_completion", xinlian_fuzz::card_completion::run);
}

#[test]
fn genesis() {
    replay("genesis", xinlian_fuzz::genesis::run);
}

#[test]
fn key_pem() {
    replay("key_pem", xinlian_fuzz::key_pem::run);
}

#[cfg(feature = "node")]
#[test]
fn node_config() {
    replay("node_config", xinlian_fuzz::node_config::run);
}

#[test]
fn sdf_structs() {
    replay("sdf_structs", xinlian_fuzz::sdf_structs::run);
}

#[test]
fn sec1() {
    replay("sec1", xinlian_fuzz::sec1::run);
}

#[test]
fn signature() {
    replay("signature", xinlian_fuzz::signature::run);
}

#[test]
fn sm2_differential() {
    replay("sm2_differential", xinlian_fuzz::sm2_differential::run);
}

#[test]
fn store_records() {
    replay("store_records", xinlian_fuzz::store_records::run);
}

#[test]
fn tx_binary() {
    replay("tx_binary", xinlian_fuzz::tx_binary::run);
}

#[test]
fn tx_json() {
    replay("tx_json", xinlian_fuzz::tx_json::run);
}

#[test]
fn verify_line() {
    replay("verify_line", xinlian_fuzz::verify_line::run);
}
