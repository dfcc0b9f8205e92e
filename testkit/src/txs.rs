//! Signed transactions and their JSON.

use xinlian_chain::json::TxJson;
use xinlian_chain::{Payload, PublicKey, Signer, Transaction};

/// A `Put` payload from text.
pub fn put(key: &str, value: &str) -> Payload {
    Payload::Put { key: key.as_bytes().to_vec(), value: value.as_bytes().to_vec() }
}

/// A `Transfer` payload.
pub fn transfer(to: &PublicKey, amount: u64) -> Payload {
    Payload::Transfer { to: *to, amount }
}

/// A transaction signed by `signer` (RustCrypto SM2, default ID).
pub fn signed(signer: &Signer, chain: &str, nonce: u64, payload: Payload) -> Transaction {
    let mut tx =
        Transaction { chain_id: chain.into(), nonce, sender: *signer.public_key(), payload, signature: [0; 64] };
    tx.signature = signer.sign(&tx.signing_bytes());
    tx
}

/// The same transaction with another signer's signature over its bytes: same id, forged.
pub fn forged(tx: &Transaction, mallory: &Signer) -> Transaction {
    let mut f = tx.clone();
    f.signature = mallory.sign(&tx.signing_bytes());
    f
}

/// The JSON body `POST /tx` takes.
pub fn tx_json(tx: &Transaction) -> String {
    serde_json::to_string(&TxJson::from_tx(tx)).unwrap()
}

/// An array body of several transactions.
pub fn txs_json(txs: &[Transaction]) -> String {
    serde_json::to_string(&txs.iter().map(TxJson::from_tx).collect::<Vec<_>>()).unwrap()
}
