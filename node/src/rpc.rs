//! The HTTP API (axum): JSON in and out, bytes as hex. README, "HTTP API", lists every route;
//! `GET /openapi.json` describes each from the `#[utoipa::path]` on its handler.
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
use axum::{Json, Router};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use xinlian_chain::json::BlockJson;
use xinlian_chain::tx_body::{decode_tx_body, TxBodyRefusal};
use xinlian_chain::types::canonical_key;
use xinlian_chain::Hash;

use crate::admission::RefusalKind;
use crate::http_errors::{error, ErrorBody, ErrorKind};
use crate::node::{Node, TxStatus};
use crate::rpc_types::{
    AccountAnswer, BatchAnswer, BlockAnswer, Busy, StateAnswer, StatusAnswer, Submitted, TxRequest, TxResult, TxState,
};

/// The routes over a node.
pub fn router(node: Arc<Node>) -> Router {
    let limit = node.config().rpc.max_body_bytes;
    let (routes, _document) = routes().split_for_parts();
    routes
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::map_response(crate::http_errors::json_errors))
        .with_state(node)
}

/// Every route with its documentation: the router and `GET /openapi.json` both come from here,
/// so a route cannot be served undocumented or documented unserved.
pub(crate) fn routes() -> OpenApiRouter<Arc<Node>> {
    OpenApiRouter::with_openapi(crate::openapi::base())
        .routes(routes!(post_tx))
        .routes(routes!(get_tx))
        .routes(routes!(get_block))
        .routes(routes!(get_state))
        .routes(routes!(get_account))
        .routes(routes!(get_status))
        .routes(routes!(get_metrics))
        .routes(routes!(get_openapi))
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "no such route: try POST /tx, GET /tx/{id}, /block/{height|latest}, /state/{key}, /account/{pubkey}, \
         /status, /metrics, /openapi.json",
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

/// `POST /tx`: one transaction object, or an array of them. Any content type is taken: the body
/// is read as JSON whatever the header says.
#[utoipa::path(
    post, path = "/tx", tag = "transactions",
    request_body(content = TxRequest, content_type = "application/json",
        description = "One transaction, or an array of 1 to rpc.max_txs_per_request of them"),
    responses(
        (status = 202, description = "One transaction, admitted: poll GET /tx/{id}", body = Submitted),
        (status = 200, description = "An array: one result per element, in order", body = BatchAnswer),
        (status = 400, description = "Not JSON, an empty array, or one transaction refused: kind malformed, \
            wrong_chain, bad_signature or bad_request", body = ErrorBody),
        (status = 408, description = "The body did not arrive within rpc.body_timeout_ms: kind \
            request_timeout; the connection is closed", body = ErrorBody),
        (status = 409, description = "One transaction refused: kind duplicate or replay", body = ErrorBody),
        (status = 413, description = "Body over rpc.max_body_bytes or more than rpc.max_txs_per_request \
            transactions: kind payload_too_large", body = ErrorBody),
        (status = 503, description = "Retry later: one transaction refused with mempool_full, shutting_down or \
            unavailable, an array whose every element met a full mempool, or too many request bodies in \
            flight (rpc.max_inflight_body_bytes: kind unavailable)",
            body = Busy, headers(("Retry-After" = String, description = "Seconds to wait: 1"))),
    )
)]
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
    let mut answers: Vec<Option<TxResult>> = vec![None; body.items.len()];
    let mut slots = Vec::with_capacity(body.items.len());
    for (i, tx) in body.items.into_iter().enumerate() {
        match tx {
            Ok(tx) => {
                slots.push(i);
                decoded.push(tx);
            }
            Err(reason) => {
                node.metrics().count_refusal(RefusalKind::Malformed);
                answers[i] = Some(TxResult::malformed(reason));
            }
        }
    }
    node.metrics().decode_ns.fetch_add(u64::try_from(t0.elapsed().as_nanos()).unwrap_or(0), AtomicOrdering::Relaxed);
    let results = node.submit(decoded).await;
    for (slot, result) in slots.into_iter().zip(results) {
        answers[slot] = Some(match result {
            Ok(id) => TxResult::Submitted(Submitted { id: hex::encode(id), status: "pending".into() }),
            Err(refusal) => TxResult::refused(&refusal),
        });
    }
    // Admission answers every transaction it is given; a slot left empty would be a bug, and
    // still gets an error naming it rather than a bare null.
    let answers: Vec<TxResult> = answers
        .into_iter()
        .map(|a| {
            a.unwrap_or_else(|| {
                TxResult::Refused(ErrorBody {
                    error: "no answer from admission".into(),
                    kind: ErrorKind::Unavailable,
                    id: None,
                })
            })
        })
        .collect();
    if single {
        return single_answer(answers);
    }
    batch_answer(answers)
}

/// One transaction: 202 when admitted, else its refusal's status.
fn single_answer(answers: Vec<TxResult>) -> Response {
    match answers.into_iter().next() {
        Some(TxResult::Submitted(ok)) => (StatusCode::ACCEPTED, Json(ok)).into_response(),
        Some(TxResult::Refused(e)) => {
            let code = refusal_status(e.kind);
            (code, Json(e)).into_response()
        }
        None => error(StatusCode::SERVICE_UNAVAILABLE, "no answer from admission"),
    }
}

/// The status of one refused transaction: a decoding error is a 400.
fn refusal_status(kind: ErrorKind) -> StatusCode {
    let refusal = RefusalKind::ALL.into_iter().find(|k| ErrorKind::from(*k) == kind);
    refusal.map_or(StatusCode::BAD_REQUEST, status_of)
}

/// An array: 200 with every result, or 503 when every element met a full mempool.
fn batch_answer(results: Vec<TxResult>) -> Response {
    let accepted = results.iter().filter(|r| r.kind().is_none()).count();
    let all_full = accepted == 0 && results.iter().all(|r| r.kind() == Some(ErrorKind::MempoolFull));
    let code = if all_full { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
    let refused = results.len() - accepted;
    (code, Json(BatchAnswer { accepted, refused, results })).into_response()
}

fn parse_id(s: &str) -> Result<Hash, String> {
    let bytes = hex::decode(s.strip_prefix("0x").unwrap_or(s)).map_err(|e| format!("tx id: not hex ({e})"))?;
    bytes.try_into().map_err(|b: Vec<u8>| format!("tx id: {} bytes, a tx id is 32 (64 hex digits)", b.len()))
}

fn internal(e: impl std::fmt::Display) -> Response {
    error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

/// `GET /tx/{id}`.
#[utoipa::path(
    get, path = "/tx/{id}", tag = "transactions",
    params(("id" = String, Path, description = "The tx id: 64 hex digits, either case, optional 0x",
        pattern = "^(0x)?[0-9a-fA-F]{64}$")),
    responses(
        (status = 200, description = "pending, committed (durable) or rejected", body = TxState),
        (status = 400, description = "Not a tx id: kind bad_request", body = ErrorBody),
        (status = 404, description = "Never seen, or long forgotten: kind not_found", body = ErrorBody),
        (status = 500, description = "Storage failed: kind internal", body = ErrorBody),
    )
)]
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
    let state = match status {
        TxStatus::Pending => TxState::Pending { id: idh },
        TxStatus::Committed(loc) => {
            let block_hash = node.store().block(loc.height).ok().flatten().map(|b| hex::encode(b.hash()));
            TxState::Committed { id: idh, height: loc.height, index: loc.index, block_hash, receipt: loc.receipt }
        }
        TxStatus::Rejected(reason) => TxState::Rejected { id: idh, reason },
        TxStatus::Unknown => {
            return error(StatusCode::NOT_FOUND, format!("unknown tx id {idh}: never seen, or long forgotten"))
        }
    };
    Json(state).into_response()
}

/// A height is ASCII digits only: `u64::from_str` alone would also take `+5`.
fn parse_height(which: &str) -> Option<u64> {
    if which.is_empty() || !which.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    which.parse::<u64>().ok()
}

/// `GET /block/{height|latest}`.
#[utoipa::path(
    get, path = "/block/{which}", tag = "blocks",
    params(("which" = String, Path, description = "A height (decimal digits, at most 2^64-1) or latest",
        pattern = "^(latest|[0-9]{1,20})$")),
    responses(
        (status = 200, description = "The block, its tx ids, and its commit certificate", body = BlockAnswer),
        (status = 400, description = "Neither a height nor latest: kind bad_request", body = ErrorBody),
        (status = 404, description = "No block at that height yet: kind not_found", body = ErrorBody),
        (status = 500, description = "Storage failed: kind internal", body = ErrorBody),
    )
)]
async fn get_block(State(node): State<Arc<Node>>, Path(which): Path<String>) -> Response {
    let height = if which == "latest" {
        node.head().height
    } else {
        match parse_height(&which) {
            Some(h) => h,
            None => return error(StatusCode::BAD_REQUEST, format!("block: {which:?} is neither a height nor latest")),
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
            Json(BlockAnswer { block: BlockJson::from_block(&b), certificate: cert.map(|c| c.to_json()) })
                .into_response()
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
#[utoipa::path(
    get, path = "/state/{key}", tag = "state",
    params(
        ("key" = String, Path, description = "The record's key: UTF-8 text, percent-encoded (a key with / ? # % \
            or spaces must be), or hex (either case, optional 0x) with encoding=hex", min_length = 1),
        ("encoding" = Option<String>, Query, description = "utf8 (the default) or hex",
            pattern = "^(utf8|utf-8|hex)$"),
    ),
    responses(
        (status = 200, description = "The record", body = StateAnswer),
        (status = 400, description = "encoding is neither utf8 nor hex, or the key is not hex: kind bad_request",
            body = ErrorBody),
        (status = 404, description = "No record under that key: kind not_found", body = ErrorBody),
        (status = 500, description = "Storage failed: kind internal", body = ErrorBody),
    )
)]
async fn get_state(State(node): State<Arc<Node>>, Path(key): Path<String>, Query(q): Query<StateQuery>) -> Response {
    let key = match q.encoding.as_deref() {
        None | Some("utf8") | Some("utf-8") => key.into_bytes(),
        Some("hex") => match hex::decode(key.strip_prefix("0x").unwrap_or(&key)) {
            Ok(k) => k,
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("key: not hex ({e})")),
        },
        Some(other) => return error(StatusCode::BAD_REQUEST, format!("encoding={other}: use utf8 or hex")),
    };
    let n = Arc::clone(&node);
    let k = key.clone();
    match tokio::task::spawn_blocking(move || n.store().data(&k)).await {
        Ok(Ok(Some(v))) => Json(StateAnswer {
            key: hex::encode(&key),
            value: hex::encode(&v),
            value_utf8: String::from_utf8(v).ok(),
            height: node.head().height,
        })
        .into_response(),
        Ok(Ok(None)) => error(StatusCode::NOT_FOUND, format!("no record under key {}", String::from_utf8_lossy(&key))),
        Ok(Err(e)) => internal(e),
        Err(e) => internal(e),
    }
}

/// `GET /account/{pubkey}`.
#[utoipa::path(
    get, path = "/account/{pubkey}", tag = "state",
    params(("pubkey" = String, Path, description = "SEC1 public key, 65 bytes (04...) or 33 (02/03...), hex, \
        either case, optional 0x", pattern = "^(0x)?(04[0-9a-fA-F]{128}|0[23][0-9a-fA-F]{64})$")),
    responses(
        (status = 200, description = "The account; zero balance and nonce when never touched", body = AccountAnswer),
        (status = 400, description = "Not hex, or not a point on the curve: kind bad_request", body = ErrorBody),
        (status = 500, description = "Storage failed: kind internal", body = ErrorBody),
    )
)]
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
            Json(AccountAnswer { pubkey: hex::encode(key), balance: a.balance, nonce: a.nonce }).into_response()
        }
        Ok(Err(e)) => internal(e),
        Err(e) => internal(e),
    }
}

/// `GET /status`.
#[utoipa::path(
    get, path = "/status", tag = "node",
    responses((status = 200, description = "The head, the mempool, the validators, the accelerators",
        body = StatusAnswer))
)]
async fn get_status(State(node): State<Arc<Node>>) -> Response {
    let head = node.head();
    let (txs, capacity) = node.mempool_len();
    Json(StatusAnswer {
        chain_id: node.chain_id().to_string(),
        height: head.height,
        head_hash: hex::encode(head.hash),
        state_root: hex::encode(head.state_root),
        timestamp_ms: head.timestamp_ms,
        node_key: hex::encode(node.public_key()),
        ordering: node.ordering_name().to_string(),
        validators: node.validators().iter().map(hex::encode).collect(),
        mempool: crate::rpc_types::MempoolAnswer { txs, capacity },
        memory: crate::rpc_types::MemoryAnswer {
            bound_bytes: crate::memory::Budget::of(node.config()).total(),
            resident_bytes: crate::memory::resident_bytes(),
        },
        uptime_s: node.uptime().as_secs(),
        accel: crate::rpc_types::AccelAnswer {
            backends: node.backends().into_iter().map(Into::into).collect(),
            warnings: node.accel().warnings().to_vec(),
        },
        consensus: (node.ordering_name() != "solo").then(|| node.consensus_status().into()),
    })
    .into_response()
}

/// `GET /metrics`: Prometheus text.
#[utoipa::path(
    get, path = "/metrics", tag = "node",
    responses((status = 200, description = "Prometheus text exposition format 0.0.4", body = String,
        content_type = "text/plain"))
)]
async fn get_metrics(State(node): State<Arc<Node>>) -> Response {
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"))],
        node.render_metrics(),
    )
        .into_response()
}

/// `GET /openapi.json`: this API's OpenAPI 3.1 document.
#[utoipa::path(
    get, path = "/openapi.json", tag = "node",
    responses((status = 200, description = "The OpenAPI 3.1 document of every route", body = Object))
)]
async fn get_openapi() -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], crate::openapi::document_json())
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_height_is_decimal_digits_only() {
        assert_eq!(parse_height("0"), Some(0));
        assert_eq!(parse_height("18446744073709551615"), Some(u64::MAX));
        // `u64::from_str` takes a leading `+`; the document's pattern does not, nor do we.
        for bad in ["+5", "", "-1", " 5", "5 ", "0x10", "18446744073709551616"] {
            assert_eq!(parse_height(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_refusal_kind_keeps_its_status_and_a_decoding_error_is_a_400() {
        assert_eq!(refusal_status(ErrorKind::Duplicate), StatusCode::CONFLICT);
        assert_eq!(refusal_status(ErrorKind::MempoolFull), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refusal_status(ErrorKind::Malformed), StatusCode::BAD_REQUEST);
        assert_eq!(refusal_status(ErrorKind::BadRequest), StatusCode::BAD_REQUEST);
    }
}
