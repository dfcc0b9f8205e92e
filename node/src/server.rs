//! `xinlian run`: open the node, serve the HTTP API, run consensus, stop cleanly on Ctrl-C or
//! SIGTERM: new transactions are refused, everything admitted is committed (within
//! `block.drain_on_stop_ms`), open requests finish, then the process exits 0.

use std::sync::Arc;
use std::time::Duration;

use crate::builder::NodeBuilder;
use crate::config::Config;
use crate::error::NodeError;
use crate::listener::{self, Limits};

/// Run a node until a signal or a fatal error.
pub async fn run(config: Config) -> Result<(), NodeError> {
    let addr = config.listen_addr()?;
    let limits = Limits {
        header_timeout: Duration::from_millis(config.rpc.header_timeout_ms),
        body_timeout: Duration::from_millis(config.rpc.body_timeout_ms),
        max_body_bytes: config.rpc.max_body_bytes,
        max_connections: listener::raise_open_file_limit(config.rpc.max_connections),
        max_inflight_body_bytes: config.rpc.max_inflight_body_bytes,
    };
    let node = NodeBuilder::new(config).build()?;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::AddrInUse { " (is another node running?)" } else { "" };
        NodeError::config("rpc.listen", format!("{addr}: {e}{hint}"))
    })?;
    let local = listener.local_addr().map_err(|source| NodeError::Io { path: addr.to_string(), source })?;
    let head = node.head();
    let genesis_hash = node.store().block(0)?.map(|b| hex::encode(&b.hash()[..8])).unwrap_or_default();
    for b in node.backends() {
        tracing::info!(backend = %b.name, device = %b.device, "accel backend");
    }
    tracing::info!(
        chain = %node.chain_id(),
        genesis = %genesis_hash,
        height = head.height,
        head = %hex::encode(&head.hash[..8]),
        data = %node.config().node.data_dir.display(),
        node_key = %hex::encode(node.public_key()),
        validators = node.validators().len(),
        consensus = node.ordering_name(),
        "node started"
    );
    tracing::info!(
        max_connections = limits.max_connections,
        header_timeout_ms = config_ms(limits.header_timeout),
        body_timeout_ms = config_ms(limits.body_timeout),
        "HTTP API on http://{local}"
    );

    let budget = crate::memory::Budget::of(node.config());
    tracing::info!(
        bound_mib = budget.total() >> 20,
        resident_mib = crate::memory::resident_bytes().unwrap_or(0) >> 20,
        "memory bound (README, \"Memory\"): {}",
        budget.parts.iter().map(|(what, n)| format!("{what} {} MiB", n >> 20)).collect::<Vec<_>>().join(", ")
    );
    let trimmer = tokio::spawn(crate::memory::trim_when_idle(Arc::clone(&node)));
    let consensus_node = Arc::clone(&node);
    let mut producer = tokio::spawn(async move { consensus_node.run_consensus().await });
    let app = crate::rpc::router(Arc::clone(&node));
    let stop_node = Arc::clone(&node);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(listener::serve(listener, app, limits, stop_rx));
    own_shutdown_signals();
    let outcome = tokio::select! {
        _ = shutdown_signal() => {
            tracing::info!(
                pending = node.mempool_len().0,
                "stopping: new transactions are refused, every admitted one is committed first"
            );
            stop_node.stop();
            producer_result(&mut producer).await
        }
        r = producer_result(&mut producer) => {
            stop_node.stop();
            r
        }
    };
    trimmer.abort();
    let _ = stop_tx.send(true);
    let _ = server.await;
    outcome
}

fn config_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

async fn producer_result(producer: &mut tokio::task::JoinHandle<Result<(), NodeError>>) -> Result<(), NodeError> {
    match producer.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e),
        Err(e) => Err(NodeError::task("consensus", e)),
    }
}

/// Put SIGINT and SIGTERM back to their default actions, just before tokio takes them.
///
/// Why: the OpenCL runtime (POCL's LLVM) installs its own handlers for INT and TERM when the
/// devices start, and tokio's signal handling (signal-hook) calls the handler it found before
/// its own: LLVM's, which ends the process at once. A node with POCL then died on SIGTERM with
/// nothing committed of what it had admitted. With the defaults restored after every device
/// has started, tokio's handler is the only one, and the stop is graceful.
fn own_shutdown_signals() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: `signal` with SIG_DFL installs no function of ours; it only replaces what a
        // library installed before tokio registers its handler for the same signal (next).
        let previous = unsafe { libc::signal(sig, libc::SIG_DFL) };
        if previous == libc::SIG_ERR {
            tracing::warn!(signal = sig, "could not reset the signal's action; a stop may not be graceful");
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
