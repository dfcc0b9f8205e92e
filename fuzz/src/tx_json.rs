//! `POST /tx` bodies (`chain::tx_body::decode_tx_body`): one transaction object or an array.
//!
//! Checked: refusals and per-element errors say what is wrong; a body of one object answers
//! as one; every transaction that decodes goes through its canonical JSON (`TxJson::from_tx`)
//! and its binary encoding and comes back equal.

use xinlian_chain::json::TxJson;
use xinlian_chain::tx_body::decode_tx_body;
use xinlian_chain::types::Transaction;

/// The node's `rpc.max_txs_per_request` is 10,000; a small limit lets the fuzzer reach it.
const MAX_TXS: usize = 8;

/// One input.
pub fn run(data: &[u8]) {
    let body = match decode_tx_body(data, MAX_TXS) {
        Ok(body) => body,
        Err(refusal) => return crate::assert_named("body refusal", &refusal.reason()),
    };
    assert!(!body.items.is_empty() && body.items.len() <= MAX_TXS, "{} elements passed", body.items.len());
    assert!(!body.single || body.items.len() == 1, "a single object gave {} elements", body.items.len());
    for item in &body.items {
        match item {
            Ok(tx) => round_trips(tx),
            Err(why) => crate::assert_named("tx element", why),
        }
    }
}

fn round_trips(tx: &Transaction) {
    let json = serde_json::to_vec(&TxJson::from_tx(tx)).expect("a transaction serialises");
    let again = decode_tx_body(&json, 1).expect("its own JSON is a body");
    match again.items.as_slice() {
        [Ok(back)] => assert_eq!(back, tx, "transaction changes through its JSON"),
        other => panic!("its own JSON does not decode: {other:?}"),
    }
    assert_eq!(Transaction::decode(&tx.encode()).ok().as_ref(), Some(tx), "transaction changes through its bytes");
}
