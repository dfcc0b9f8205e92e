//! Every HTTP error body is JSON: `{"error": "...", "kind": "..."}`, whoever made the error.
//!
//! Owns: the fixed set of error kinds of the API beside the refusal kinds of admission
//! (`malformed`, `wrong_chain`, `bad_signature`, `duplicate`, `replay`, `mempool_full`,
//! `shutting_down`, `unavailable`): `bad_request`, `not_found`, `method_not_allowed`,
//! `payload_too_large`, `request_timeout`, `internal`. The framework answers some requests itself (a body over
//! `rpc.max_body_bytes`, a path segment that is not UTF-8, a method a route does not take) with
//! plain text or an empty body; [`json_errors`] rewrites those, keeping status and headers.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::admission::RefusalKind;

/// Every `kind` an error body of the API can carry (the OpenAPI document lists them from here).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Not a transaction (bad JSON, field, key, signature encoding).
    Malformed,
    /// Signed for another chain.
    WrongChain,
    /// The signature does not verify.
    BadSignature,
    /// The same tx id is already pending.
    Duplicate,
    /// The same tx id is already committed.
    Replay,
    /// The mempool is full: retry later (503, `Retry-After`).
    MempoolFull,
    /// The node is stopping (503).
    ShuttingDown,
    /// The node could not answer now: retry later (503).
    Unavailable,
    /// A request the API does not take: a bad path parameter, query or body shape (400).
    BadRequest,
    /// No such route, record, block or transaction (404).
    NotFound,
    /// The route does not take this method (405).
    MethodNotAllowed,
    /// The body is over `rpc.max_body_bytes`, or too many transactions (413).
    PayloadTooLarge,
    /// The body did not arrive within `rpc.body_timeout_ms` (408); the connection is closed.
    RequestTimeout,
    /// The node failed inside (500): a bug or a storage error, never the client's fault.
    Internal,
}

impl From<RefusalKind> for ErrorKind {
    fn from(kind: RefusalKind) -> ErrorKind {
        match kind {
            RefusalKind::Malformed => ErrorKind::Malformed,
            RefusalKind::WrongChain => ErrorKind::WrongChain,
            RefusalKind::BadSignature => ErrorKind::BadSignature,
            RefusalKind::Duplicate => ErrorKind::Duplicate,
            RefusalKind::Replay => ErrorKind::Replay,
            RefusalKind::MempoolFull => ErrorKind::MempoolFull,
            RefusalKind::ShuttingDown => ErrorKind::ShuttingDown,
            RefusalKind::Unavailable => ErrorKind::Unavailable,
        }
    }
}

/// An error body: `{"error": "...", "kind": "..."}`, and the tx id when a refused transaction
/// decoded far enough to have one (a malformed one never has).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What is wrong, for people.
    pub error: String,
    /// The class of error, for programs.
    pub kind: ErrorKind,
    /// The refused transaction's id (64 hex digits), only on refusals by admission.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub id: Option<String>,
}

/// The kind for an error status that no refusal named.
pub fn kind_of(status: StatusCode) -> ErrorKind {
    match status {
        StatusCode::NOT_FOUND => ErrorKind::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ErrorKind::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorKind::PayloadTooLarge,
        StatusCode::REQUEST_TIMEOUT => ErrorKind::RequestTimeout,
        StatusCode::SERVICE_UNAVAILABLE => ErrorKind::Unavailable,
        s if s.is_server_error() => ErrorKind::Internal,
        _ => ErrorKind::BadRequest,
    }
}

/// An error response: the message, and the kind its status stands for.
pub fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(ErrorBody { error: msg.into(), kind: kind_of(status), id: None })).into_response()
}

/// Middleware: an error response that is not JSON becomes JSON (its text, or the status's
/// reason when it had none, as `error`).
pub async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // The framework's own error texts are a line or two; a longer body is cut, not buffered.
    let text = axum::body::to_bytes(body, 4096).await.map(|b| String::from_utf8_lossy(&b).trim().to_string());
    let mut message = text.unwrap_or_default();
    if message.is_empty() {
        message = status.canonical_reason().unwrap_or("error").to_lowercase();
    }
    if status == StatusCode::METHOD_NOT_ALLOWED {
        if let Some(allow) = parts.headers.get(header::ALLOW).and_then(|v| v.to_str().ok()) {
            message = format!("{message}: this route takes {allow}");
        }
    }
    let body = serde_json::to_string(&ErrorBody { error: message, kind: kind_of(status), id: None })
        .unwrap_or_else(|_| String::from(r#"{"error":"error","kind":"internal"}"#));
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}
