//! The HTTP API (axum): JSON in and out, bytes as hex. README, "HTTP API", lists every route.
//!
//! Owns: routes, status codes, turning bodies into transactions with errors that name the
//! field. Never: admission rules or storage (the node's).

use std::sync::atomic::Ordering as AtomicOrdering;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use xinlian_chain::json::BlockJson;
use xinlian_chain::tx_body::{decode_tx_body, TxBodyRefusal};
use xinlian_chain::types::canonical_key;
use xinlian_chain::Hash;

use crate::admission::RefusalKind;
use crate::http_errors::error;
use crate::node::{Node, TxStatus};

/// The routes over a node.
pub fn router(node: Arc<Node>) -> Router {
    let limit = node.config().rpc.max_body_bytes;
    Router::new()
        .route("/tx", post(post_tx))
        .route("/tx/{id}", get(get_tx))
        .route("/block/{which}", get(get_block))
        .route("/state/{key}", get(get_state))
        .route("/account/{pubkey}", get(get_account))
        .route("/status", get(get_status))
        .route("/metrics", get(get_metrics))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::map_response(crate::http_errors::json_errors))
        .with_state(node)
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "no such route: try POST /tx, GET /tx/{id}, /block/{height|latest}, /state/{key}, /account/{pubkey}, \
         /status, /metrics",
    )
}

fn status_of(kind: RefusalKind) -> StatusCode {
    match kind {
        RefusalKind::Malformed | RefusalKind::WrongChain | RefusalKind::BadSignature => StatusCode::BAD_REQUEST,
        RefusalKind::Duplicate | RefusalKind::Replay => StatusCode::CONFLICT,
        RefusalKind::MempoolFull | RefusalKind::ShuttingDown | RefusalKind::Unavailable => {
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
}

fn with_retry_after(mut r: Response) -> Response {
    if r.status() == StatusCode::SERVICE_UNAVAILABLE {
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    r
}

/// `POST /tx`: one transaction object, or an array of them.
async fn post_tx(State(node): State<Arc<Node>>, body: Bytes) -> Response {
    let t0 = Instant::now();
    let r = post_tx_inner(&node, &body).await;
    node.metrics().http_ns.fetch_add(u64::try_from(t0.elapsed().as_nanos()).unwrap_or(0), AtomicOrdering::Relaxed);
    with_retry_after(r)
}

async fn post_tx_inner(node: &Arc<Node>, body: &[u8]) -> Response {
    let t0 = Instant::now();
    let max = node.config().rpc.max_txs_per_request;
    let body = match decode_tx_body(body, max) {
        Ok(body) => body,
        Err(refusal) => {
            let code = match refusal {
                TxBodyRefusal::TooMany { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                TxBodyRefusal::NotJson(_) | TxBodyRefusal::NotTxOrArray | TxBodyRefusal::Empty => {
                    StatusCode::BAD_REQUEST
                }
            };
            if matches!(refusal, TxBodyRefusal::NotJson(_) | TxBodyRefusal::NotTxOrArray) {
                node.metrics().count_refusal(RefusalKind::Malformed);
            }
            return error(code, refusal.reason());
        }
    };
    let single = body.single;
    // The elements that decode go to admission together (one batch).
    let mut decoded = Vec::with_capacity(body.items.len());
    let mut answers: Vec<Option<Value>> = vec![None; body.items.len()];
    let mut slots = Vec::with_capacity(body.items.len());
    for (i, tx) in body.items.into_iter().enumerate() {
        match tx {
            Ok(tx) => {
                slots.push(i);
                decoded.push(tx);
            }
            Err(reason) => {
                node.metrics().count_refusal(RefusalKind::Malformed);
                answers[i] = Some(json!({ "error": reason, "kind": RefusalKind::Malformed }));
            }
        }
    }
    node.metrics().decode_ns.fetch_add(u64::try_from(t0.elapsed().as_nanos()).unwrap_or(0), AtomicOrdering::Relaxed);
    let results = node.submit(decoded).await;
    // A refusal's kind decides a single transaction's status code; a decoding error is a 400.
    let mut single_code = StatusCode::BAD_REQUEST;
    for (slot, result) in slots.into_iter().zip(results) {
        answers[slot] = Some(match result {
            Ok(id) => json!({ "id": hex::encode(id), "status": "pending" }),
            Err(refusal) => {
                single_code = status_of(refusal.kind);
                serde_json::to_value(&refusal)
                    .unwrap_or_else(|_| json!({ "error": refusal.reason, "kind": refusal.kind }))
            }
        });
    }
    // Admission answers every transaction it is given; a slot left empty would be a bug, and
    // still gets an error naming it rather than a bare null.
    let answers: Vec<Value> = answers
        .into_iter()
        .map(|a| a.unwrap_or_else(|| json!({ "error": "no answer from admission", "kind": RefusalKind::Unavailable })))
        .collect();
    let accepted = answers.iter().filter(|a| a.get("status").is_some()).count();
    if single {
        let answer = answers.into_iter().next().unwrap_or(Value::Null);
        if answer.get("kind") == Some(&json!(RefusalKind::Unavailable)) {
            single_code = StatusCode::SERVICE_UNAVAILABLE;
        }
        let code = if accepted == 1 { StatusCode::ACCEPTED } else { single_code };
        return (code, Json(answer)).into_response();
    }
    let all_full =
        accepted == 0 && answers.iter().all(|a| a.get("kind").and_then(Value::as_str) == Some("mempool_full"));
    let code = if all_full { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
    let refused = answers.len() - accepted;
    (code, Json(json!({ "accepted": accepted, "refused": refused, "results": answers }))).into_response()
}

fn parse_id(s: &str) -> Result<Hash, String> {
    let bytes = hex::decode(s.strip_prefix("0x").unwrap_or(s)).map_err(|e| format!("tx id: not hex ({e})"))?;
    bytes.try_into().map_err(|b: Vec<u8>| format!("tx id: {} bytes, a tx id is 32 (64 hex digits)", b.len()))
}

fn internal(e: impl std::fmt::Display) -> Response {
    error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

/// `GET /tx/{id}`.
async fn get_tx(State(node): State<Arc<Node>>, Path(id): Path<String>) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let n = Arc::clone(&node);
    let status = match tokio::task::spawn_blocking(move || n.tx_status(&id)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return internal(e),
        Err(e) => return internal(e),
    };
    let idh = hex::encode(id);
    match status {
        TxStatus::Pending => Json(json!({ "id": idh, "status": "pending" })).into_response(),
        TxStatus::Committed(loc) => {
            let block_hash = node.store().block(loc.height).ok().flatten().map(|b| hex::encode(b.hash()));
            Json(json!({
                "id": idh, "status": "committed", "height": loc.height, "index": loc.index,
                "block_hash": block_hash, "receipt": loc.receipt,
            }))
            .into_response()
        }
        TxStatus::Rejected(reason) => {
            Json(json!({ "id": idh, "status": "rejected", "reason": reason })).into_response()
        }
        TxStatus::Unknown => {
            error(StatusCode::NOT_FOUND, format!("unknown tx id {idh}: never seen, or long forgotten"))
        }
    }
}

/// `GET /block/{height|latest}`.
async fn get_block(State(node): State<Arc<Node>>, Path(which): Path<String>) -> Response {
    let height = if which == "latest" {
        node.head().height
    } else {
        match which.parse::<u64>() {
            Ok(h) => h,
            Err(_) => {
                return error(StatusCode::BAD_REQUEST, format!("block: {which:?} is neither a height nor latest"))
            }
        }
    };
    let n = Arc::clone(&node);
    let found = tokio::task::spawn_blocking(move || -> Result<_, crate::NodeError> {
        Ok(match n.store().block(height)? {
            Some(b) => Some((b, n.store().certificate(height)?)),
            None => None,
        })
    })
    .await;
    match found {
        Ok(Ok(Some((b, cert)))) => {
            let mut body = serde_json::to_value(BlockJson::from_block(&b)).unwrap_or(Value::Null);
            if let Value::Object(fields) = &mut body {
                fields.insert("certificate".into(), json!(cert.map(|c| c.to_json())));
            }
            Json(body).into_response()
        }
        Ok(Ok(None)) => {
            error(StatusCode::NOT_FOUND, format!("no block at height {height} (the latest is {})", node.head().height))
        }
        Ok(Err(e)) => internal(e),
        Err(e) => internal(e),
    }
}

#[derive(Debug, Deserialize)]
struct StateQuery {
    encoding: Option<String>,
}

/// `GET /state/{key}`: the key as UTF-8 text, or hex with `?encoding=hex`.
async fn get_state(State(node): State<Arc<Node>>, Path(key): Path<String>, Query(q): Query<StateQuery>) -> Response {
    let key = match q.encoding.as_deref() {
        None | Some("utf8") | Some("utf-8") => key.into_bytes(),
        Some("hex") => match hex::decode(&key) {
            Ok(k) => k,
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("key: not hex ({e})")),
        },
        Some(other) => return error(StatusCode::BAD_REQUEST, format!("encoding={other}: use utf8 or hex")),
    };
    let n = Arc::clone(&node);
    let k = key.clone();
    match tokio::task::spawn_blocking(move || n.store().data(&k)).await {
        Ok(Ok(Some(v))) => Json(json!({
            "key": hex::encode(&key),
            "value": hex::encode(&v),
            "value_utf8": String::from_utf8(v).ok(),
            "height": node.head().height,
        }))
        .into_response(),
        Ok(Ok(None)) => error(StatusCode::NOT_FOUND, format!("no record under key {}", String::from_utf8_lossy(&key))),
        Ok(Err(e)) => internal(e),
        Err(e) => internal(e),
    }
}

/// `GET /account/{pubkey}`.
async fn get_account(State(node): State<Arc<Node>>, Path(pubkey): Path<String>) -> Response {
    let key = match hex::decode(pubkey.strip_prefix("0x").unwrap_or(&pubkey))
        .map_err(|e| format!("pubkey: not hex ({e})"))
        .and_then(|b| canonical_key(&b, "pubkey").map_err(|e| e.to_string()))
    {
        Ok(k) => k,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let n = Arc::clone(&node);
    match tokio::task::spawn_blocking(move || n.store().account(&key)).await {
        Ok(Ok(a)) => {
            Json(json!({ "pubkey": hex::encode(key), "balance": a.balance, "nonce": a.nonce })).into_response()
        }
        Ok(Err(e)) => internal(e),
        Err(e) => internal(e),
    }
}

/// `GET /status`.
async fn get_status(State(node): State<Arc<Node>>) -> Response {
    let head = node.head();
    let (txs, capacity) = node.mempool_len();
    Json(json!({
        "chain_id": node.chain_id(),
        "height": head.height,
        "head_hash": hex::encode(head.hash),
        "state_root": hex::encode(head.state_root),
        "timestamp_ms": head.timestamp_ms,
        "node_key": hex::encode(node.public_key()),
        "ordering": node.ordering_name(),
        "validators": node.validators().iter().map(hex::encode).collect::<Vec<_>>(),
        "mempool": { "txs": txs, "capacity": capacity },
        "uptime_s": node.uptime().as_secs(),
        "accel": { "backends": node.backends(), "warnings": node.accel().warnings() },
    }))
    .into_response()
}

/// `GET /metrics`: Prometheus text.
async fn get_metrics(State(node): State<Arc<Node>>) -> Response {
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"))],
        node.render_metrics(),
    )
        .into_response()
}
