//! The HTTP API's connections: how many may be open, how long a client may take to send a
//! request, and a graceful close on stop.
//!
//! Why not `axum::serve`: it sets no timer, so an idle connection, one that sends half its
//! headers, or one that sends 1 byte of a 100-byte body stays open for ever, and a few
//! hundred of them used up the node's file descriptors. Here:
//! - hyper's header timer (`rpc.header_timeout_ms`) starts when a connection opens and again
//!   when a response has been written, so it bounds both a slow request head and an idle
//!   keep-alive connection;
//! - [`body_deadline`] reads the whole body within `rpc.body_timeout_ms` (else 408, and the
//!   connection closes), and holds its bytes against `rpc.max_inflight_body_bytes` until the
//!   request is answered, so bodies in flight have a memory bound;
//! - at most `rpc.max_connections` are open; beyond it the accept loop waits for one to
//!   close, which the two timeouts bound. [`raise_open_file_limit`] makes room for them.

use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use crate::http_errors::error;

/// File descriptors kept for RocksDB, the log, devices and the consensus transport beside
/// the HTTP connections.
const RESERVED_FDS: u64 = 1_024;

/// How long a stop waits for open requests to finish before it drops their connections.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// The bounds on the API's connections (`[rpc]` in the config).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// `rpc.header_timeout_ms`.
    pub header_timeout: Duration,
    /// `rpc.body_timeout_ms`.
    pub body_timeout: Duration,
    /// `rpc.max_body_bytes`.
    pub max_body_bytes: usize,
    /// `rpc.max_connections`, after [`raise_open_file_limit`].
    pub max_connections: usize,
    /// `rpc.max_inflight_body_bytes`.
    pub max_inflight_body_bytes: usize,
}

/// What the body middleware shares between requests: the limits, and the room left for
/// bodies in flight, in KiB (a semaphore counts permits in `u32` per acquire).
#[derive(Clone)]
struct Bodies {
    limits: Limits,
    room_kib: Arc<Semaphore>,
}

fn kib(bytes: usize) -> u32 {
    u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX)
}

/// Serve `app` on `listener` within `limits` until `stop` turns true; then stop accepting,
/// let open requests finish (a few seconds at most) and return.
pub async fn serve(listener: TcpListener, app: Router, limits: Limits, mut stop: watch::Receiver<bool>) {
    let bodies = Bodies { limits, room_kib: Arc::new(Semaphore::new(kib(limits.max_inflight_body_bytes) as usize)) };
    let app = app.layer(axum::middleware::from_fn_with_state(bodies, body_deadline));
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (close_tx, close_rx) = watch::channel(false);
    let mut conns = JoinSet::new();
    let mut at_limit_logged = false;
    loop {
        while conns.try_join_next().is_some() {}
        let permit = match Arc::clone(&permits).try_acquire_owned() {
            Ok(p) => {
                at_limit_logged = false;
                p
            }
            Err(_) => {
                if !at_limit_logged {
                    tracing::warn!(
                        max = limits.max_connections,
                        "HTTP connection limit reached (rpc.max_connections): not accepting until one closes"
                    );
                    at_limit_logged = true;
                }
                tokio::select! {
                    p = Arc::clone(&permits).acquire_owned() => match p { Ok(p) => p, Err(_) => break },
                    _ = turned_true(&mut stop) => break,
                }
            }
        };
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors or a connection reset before accept: not fatal;
                    // wait a little so an exhausted table does not spin the loop.
                    tracing::warn!(error = %e, "HTTP accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = turned_true(&mut stop) => break,
        };
        let app = app.clone();
        let close = close_rx.clone();
        conns.spawn(async move {
            let _permit = permit;
            serve_connection(stream, app, limits, close).await;
        });
    }
    let _ = close_tx.send(true);
    if tokio::time::timeout(CLOSE_GRACE, async { while conns.join_next().await.is_some() {} }).await.is_err() {
        tracing::warn!(open = conns.len(), "HTTP connections still busy after the grace time are dropped");
        conns.abort_all();
    }
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    app: Router,
    limits: Limits,
    mut close: watch::Receiver<bool>,
) {
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    let conn = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app));
    let mut conn = pin!(conn);
    tokio::select! {
        // A timeout or a client that went away ends here too; neither is worth a log line.
        _ = conn.as_mut() => {}
        _ = turned_true(&mut close) => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// Wait until the flag is true (or its sender is gone). The guard `wait_for` returns is
/// dropped here, so callers' futures stay `Send`.
async fn turned_true(flag: &mut watch::Receiver<bool>) {
    let _ = flag.wait_for(|v| *v).await;
}

/// Middleware: read the whole request body within `rpc.body_timeout_ms` and at most
/// `rpc.max_body_bytes`, then hand it on; its bytes count against
/// `rpc.max_inflight_body_bytes` until the answer is made. A slow body gets 408 and
/// `Connection: close`.
async fn body_deadline(State(bodies): State<Bodies>, request: Request, next: Next) -> Response {
    let limits = bodies.limits;
    let (parts, body) = request.into_parts();
    // hyper knows the exact length of a body with Content-Length, and 0 for a request
    // without a body (a GET); a chunked body may grow to the limit.
    let holds = body.size_hint().exact().map_or(limits.max_body_bytes as u64, |n| n);
    if holds > limits.max_body_bytes as u64 {
        return too_large(limits);
    }
    let room = match hold_room(&bodies, holds).await {
        Ok(room) => room,
        Err(busy) => return busy,
    };
    let read = tokio::time::timeout(limits.body_timeout, axum::body::to_bytes(body, limits.max_body_bytes)).await;
    let bytes: Bytes = match read {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) if is_length_limit(&e) => return too_large(limits),
        Ok(Err(e)) => return closing(error(StatusCode::BAD_REQUEST, format!("could not read the request body: {e}"))),
        Err(_) => {
            let ms = limits.body_timeout.as_millis();
            let msg = format!("the request body did not arrive within rpc.body_timeout_ms ({ms} ms)");
            return closing(error(StatusCode::REQUEST_TIMEOUT, msg));
        }
    };
    let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    drop(room);
    response
}

/// Room for a body of `bytes` among the bodies in flight, or a 503 when none came within
/// `rpc.body_timeout_ms` (waiting counts against the body's time: a client cannot tell the
/// two apart).
async fn hold_room(bodies: &Bodies, bytes: u64) -> Result<Option<OwnedSemaphorePermit>, Response> {
    if bytes == 0 {
        return Ok(None);
    }
    let want = kib(usize::try_from(bytes).unwrap_or(usize::MAX));
    let acquire = Arc::clone(&bodies.room_kib).acquire_many_owned(want);
    match tokio::time::timeout(bodies.limits.body_timeout, acquire).await {
        Ok(Ok(permit)) => Ok(Some(permit)),
        Ok(Err(_)) | Err(_) => {
            let mut busy = closing(error(
                StatusCode::SERVICE_UNAVAILABLE,
                "too many request bodies in flight (rpc.max_inflight_body_bytes): retry later",
            ));
            busy.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            Err(busy)
        }
    }
}

fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = s.source();
    }
    false
}

fn too_large(limits: Limits) -> Response {
    closing(error(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("request body over rpc.max_body_bytes ({} bytes)", limits.max_body_bytes),
    ))
}

/// The client may still be sending a body nobody will read: close after this answer.
fn closing(mut response: Response) -> Response {
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Raise this process's open-file limit (the soft one, up to the hard one) so that
/// `max_connections` connections fit beside RocksDB's files; when the hard limit is too low,
/// return the number of connections that fit (and say so in the log).
pub fn raise_open_file_limit(max_connections: usize) -> usize {
    let wanted = max_connections as u64 + RESERVED_FDS;
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes one rlimit into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        tracing::warn!("could not read the open-file limit; rpc.max_connections kept as configured");
        return max_connections;
    }
    if lim.rlim_cur < wanted {
        let raised = libc::rlimit { rlim_cur: wanted.min(lim.rlim_max), rlim_max: lim.rlim_max };
        // SAFETY: setrlimit reads one rlimit we own; raising the soft limit up to the hard one
        // needs no privilege.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim.rlim_cur = raised.rlim_cur;
        }
    }
    let fits = usize::try_from(lim.rlim_cur.saturating_sub(RESERVED_FDS)).unwrap_or(usize::MAX).max(16);
    if fits < max_connections {
        tracing::warn!(
            configured = max_connections,
            open_file_limit = lim.rlim_cur,
            using = fits,
            "rpc.max_connections lowered to what the open-file limit allows (raise `ulimit -Hn` to allow more)"
        );
        return fits;
    }
    max_connections
}
