//! The body of `POST /tx`: one transaction object, or an array of them.
//!
//! Owns: turning the request's bytes into transactions, each element decoded on its own so one
//! bad element does not refuse its neighbours. Never: admission, status codes or metrics (the
//! node's RPC maps a [`TxBodyRefusal`] to its answer). Kept here, apart from the node, so the
//! fuzz targets (`fuzz/`) exercise exactly this code without linking RocksDB.

use serde_json::Value;

use crate::json::TxJson;
use crate::types::Transaction;

/// A body that decoded as a whole; its elements may still be bad one by one.
#[derive(Debug)]
pub struct TxBody {
    /// The body was one object, not an array: the answer is one object too.
    pub single: bool,
    /// Per element, in order: the transaction, or why the element is not one.
    pub items: Vec<Result<Transaction, String>>,
}

/// Why a body is refused as a whole (no element is looked at).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxBodyRefusal {
    /// Not JSON at all: serde_json's reason.
    NotJson(String),
    /// JSON, but neither an object nor an array.
    NotTxOrArray,
    /// `[]`.
    Empty,
    /// More elements than the node takes in one request.
    TooMany {
        /// Elements in the body.
        count: usize,
        /// `rpc.max_txs_per_request`.
        max: usize,
    },
}

impl TxBodyRefusal {
    /// The reason, as the HTTP answer's `error` says it.
    pub fn reason(&self) -> String {
        match self {
            TxBodyRefusal::NotJson(e) => format!("body is not JSON: {e}"),
            TxBodyRefusal::NotTxOrArray => "body must be a transaction object or an array of them".to_string(),
            TxBodyRefusal::Empty => "empty array: no transactions".to_string(),
            TxBodyRefusal::TooMany { count, max } => {
                format!("{count} transactions in one request; at most {max} (rpc.max_txs_per_request)")
            }
        }
    }
}

/// Decode a `POST /tx` body of at most `max` transactions. Each element's error names the
/// field that is wrong (`not a transaction: ...` when it is not the JSON shape at all).
pub fn decode_tx_body(body: &[u8], max: usize) -> Result<TxBody, TxBodyRefusal> {
    let value: Value = serde_json::from_slice(body).map_err(|e| TxBodyRefusal::NotJson(e.to_string()))?;
    let (elements, single) = match value {
        Value::Array(elements) => (elements, false),
        v @ Value::Object(_) => (vec![v], true),
        _ => return Err(TxBodyRefusal::NotTxOrArray),
    };
    if elements.is_empty() {
        return Err(TxBodyRefusal::Empty);
    }
    if elements.len() > max {
        return Err(TxBodyRefusal::TooMany { count: elements.len(), max });
    }
    let items = elements.into_iter().map(decode_element).collect();
    Ok(TxBody { single, items })
}

fn decode_element(element: Value) -> Result<Transaction, String> {
    serde_json::from_value::<TxJson>(element)
        .map_err(|e| format!("not a transaction: {e}"))
        .and_then(|j| j.to_tx().map_err(|e| e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_body_refusals_name_what_is_wrong() {
        assert!(matches!(decode_tx_body(b"{", 10), Err(TxBodyRefusal::NotJson(_))));
        assert_eq!(decode_tx_body(b"7", 10).err(), Some(TxBodyRefusal::NotTxOrArray));
        assert_eq!(decode_tx_body(b"[]", 10).err(), Some(TxBodyRefusal::Empty));
        let too_many = decode_tx_body(b"[{},{},{}]", 2).expect_err("three elements, at most two");
        assert!(too_many.reason().contains("3 transactions in one request; at most 2"), "{}", too_many.reason());
    }

    #[test]
    fn a_bad_element_does_not_refuse_its_neighbours() {
        let body = decode_tx_body(br#"[{"nonce": 1}, 5]"#, 10).expect("an array of two");
        assert!(!body.single);
        assert_eq!(body.items.len(), 2);
        for item in &body.items {
            let why = item.as_ref().expect_err("neither is a transaction");
            assert!(why.starts_with("not a transaction: "), "{why}");
        }
        assert!(decode_tx_body(b"{}", 10).expect("one object").single);
    }
}
