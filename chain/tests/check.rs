//! The peer path's block checks, with the kernels' CPU verifier standing where the node puts
//! its accel dispatcher: each rule refuses the block it should, naming the transaction.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests: a failed unwrap is a failed test")]

use std::collections::HashMap;

use xinlian_chain::check::{validate, Context, Known, Parent, SignatureCheck};
use xinlian_chain::executor::execute;
use xinlian_chain::state::StateView;
use xinlian_chain::{builder, Account, Block, BlockHeader, ChainError, Genesis, PublicKey, Signer, Transaction};
use xinlian_kernels::sm2::{self, AffinePoint, DEFAULT_ID};

struct Mem(HashMap<PublicKey, Account>);

impl StateView for Mem {
    fn account(&self, key: &PublicKey) -> Result<Account, ChainError> {
        Ok(self.0.get(key).copied().unwrap_or_default())
    }
}

fn cpu_verify(checks: Vec<SignatureCheck>) -> Vec<Result<(), String>> {
    checks
        .iter()
        .map(|c| {
            let key = AffinePoint::from_sec1(&c.pubkey).map_err(|e| e.to_string())?;
            let e = sm2::message_digest(&sm2::z_value(DEFAULT_ID, &key).map_err(|e| e.to_string())?, &c.msg);
            let (r, s) = c.sig.split_at(32);
            sm2::verify_prehashed_vartime(&key, &e, r.try_into().unwrap(), s.try_into().unwrap())
                .map_err(|e| e.to_string())
        })
        .collect()
}

fn tx(from: &Signer, nonce: u64) -> Transaction {
    let payload = xinlian_chain::Payload::Put { key: format!("k{nonce}").into_bytes(), value: b"v".to_vec() };
    let mut t = Transaction { chain_id: "c".into(), nonce, sender: *from.public_key(), payload, signature: [0; 64] };
    t.signature = from.sign(&t.signing_bytes());
    t
}

struct Fixture {
    proposer: Signer,
    parent: Parent,
    state: Mem,
    validators: Vec<PublicKey>,
}

fn fixture() -> Fixture {
    let proposer = Signer::generate().unwrap();
    let g = Genesis::single("c", 1_000, proposer.public_key(), &[]);
    let (b0, ex) = g.block().unwrap();
    let parent = Parent { height: 0, hash: b0.hash(), state_root: ex.state_root, timestamp_ms: 1_000 };
    let validators = vec![*proposer.public_key()];
    Fixture { proposer, parent, state: Mem(HashMap::new()), validators }
}

fn block(f: &Fixture, txs: Vec<Transaction>, timestamp_ms: u64) -> Block {
    let ex = execute(&f.state, &f.parent.state_root, &txs).unwrap();
    let header = BlockHeader {
        height: 1,
        prev_hash: f.parent.hash,
        tx_root: builder::tx_root(&txs),
        state_root: ex.state_root,
        timestamp_ms,
        proposer: *f.proposer.public_key(),
        tx_count: u32::try_from(txs.len()).unwrap(),
    };
    builder::sign(header, &f.proposer, txs)
}

fn check(f: &Fixture, b: &Block, known: &dyn Fn(&[u8; 32]) -> Known) -> Result<usize, String> {
    let cx = Context { chain_id: "c", parent: f.parent, validators: &f.validators, now_ms: 10_000, max_future_ms: 500 };
    let mut verified = 0;
    let mut verify = |c: Vec<SignatureCheck>| {
        verified += c.len();
        cpu_verify(c)
    };
    validate(b, &cx, known, &mut verify, &f.state).map_err(|r| r.to_string())?;
    Ok(verified)
}

#[test]
fn each_rule_refuses_its_block() {
    let f = fixture();
    let user = Signer::generate().unwrap();
    let txs: Vec<Transaction> = (0..6).map(|i| tx(&user, i)).collect();
    let unknown = |_: &[u8; 32]| Known::Unknown;
    let good = block(&f, txs.clone(), 2_000);
    assert_eq!(check(&f, &good, &unknown), Ok(7), "the proposer's and six transactions' signatures");

    // What this node admitted with the same signature is not verified again.
    let admitted: HashMap<[u8; 32], [u8; 64]> = txs[..4].iter().map(|t| (t.id(), t.signature)).collect();
    let known = |id: &[u8; 32]| admitted.get(id).map_or(Known::Unknown, |s| Known::Admitted(*s));
    assert_eq!(check(&f, &good, &known), Ok(3));

    // A forged transaction (same id, another key's signature), even one admitted here genuinely.
    let mut forged_txs = txs.clone();
    forged_txs[3].signature = Signer::generate().unwrap().sign(&txs[3].signing_bytes());
    let forged = block(&f, forged_txs, 2_000);
    for k in [&unknown as &dyn Fn(&[u8; 32]) -> Known, &known] {
        let e = check(&f, &forged, k).unwrap_err();
        assert!(e.starts_with(&format!("tx 3 ({})", hex::encode(txs[3].id()))) && e.contains("signature"), "{e}");
    }

    let replay = |id: &[u8; 32]| if *id == txs[1].id() { Known::Committed(0) } else { Known::Unknown };
    assert!(check(&f, &good, &replay).unwrap_err().contains("replay"));

    let mut twice = txs.clone();
    twice.push(txs[0].clone());
    assert!(check(&f, &block(&f, twice, 2_000), &unknown).unwrap_err().contains("twice"));

    let mut other_chain = txs.clone();
    other_chain[5].chain_id = "d".into();
    other_chain[5].signature = user.sign(&other_chain[5].signing_bytes());
    assert!(check(&f, &block(&f, other_chain, 2_000), &unknown).unwrap_err().contains("tx 5"));

    assert!(check(&f, &block(&f, txs.clone(), 999), &unknown).unwrap_err().contains("before its parent"));
    assert!(check(&f, &block(&f, txs.clone(), 10_501), &unknown).unwrap_err().contains("ahead"));

    let mut wrong_root = good.clone();
    wrong_root.header.state_root = [7; 32];
    let wrong_root = builder::sign(wrong_root.header, &f.proposer, wrong_root.txs);
    assert!(check(&f, &wrong_root, &unknown).unwrap_err().contains("state root"));

    let mut unsigned = good.clone();
    unsigned.signature[5] ^= 1;
    assert!(check(&f, &unsigned, &unknown).unwrap_err().contains("proposer signature"));

    let outsider = Signer::generate().unwrap();
    let header = BlockHeader { proposer: *outsider.public_key(), ..good.header.clone() };
    let by_outsider = builder::sign(header, &outsider, txs);
    assert!(check(&f, &by_outsider, &unknown).unwrap_err().contains("not a validator"));
}
