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
use serde_json::json;

/// The kind for an error status that no refusal named.
pub fn kind_of(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::REQUEST_TIMEOUT => "request_timeout",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    }
}

/// An error response: the message, and the kind its status stands for.
pub fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(json!({ "error": msg.into(), "kind": kind_of(status) }))).into_response()
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
    let body = json!({ "error": message, "kind": kind_of(status) }).to_string();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}
