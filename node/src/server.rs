//! `xinlian run`: open the node, serve the HTTP API, produce blocks, stop cleanly on
//! Ctrl-C or SIGTERM (the block in progress is committed first; pending transactions that
//! are not yet in a block are dropped, and clients resubmit them: only "committed" is durable).

use std::sync::Arc;

use crate::config::Config;
use crate::error::NodeError;
use crate::node::Node;

/// Run a node until a signal or a fatal error.
pub async fn run(config: Config) -> Result<(), NodeError> {
    let addr = config.listen_addr()?;
    let node = Node::open(config)?;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::AddrInUse { " (is another node running?)" } else { "" };
        NodeError::Config(format!("rpc.listen = {addr}: {e}{hint}"))
    })?;
    let local = listener.local_addr().map_err(|source| NodeError::Io { path: addr.to_string(), source })?;
    let head = node.head();
    let backends: Vec<String> = node.backends().iter().map(|b| b.name.clone()).collect();
    eprintln!(
        "xinlian: chain {} at height {} ({}), data in {}, node key {}",
        node.config().node.chain_id,
        head.height,
        hex::encode(&head.hash[..8]),
        node.config().node.data_dir.display(),
        hex::encode(node.public_key()),
    );
    eprintln!("xinlian: accel backends: {}", backends.join(", "));
    eprintln!("xinlian: HTTP API on http://{local}");

    let mut producer = tokio::spawn(Arc::clone(&node).produce_blocks());
    let app = crate::rpc::router(Arc::clone(&node));
    let stop_node = Arc::clone(&node);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop_rx.await;
            })
            .await
    });
    let outcome = tokio::select! {
        _ = shutdown_signal() => {
            eprintln!("xinlian: stopping (the block in progress is committed first)");
            stop_node.stop();
            producer_result(&mut producer).await
        }
        r = producer_result(&mut producer) => {
            stop_node.stop();
            r
        }
    };
    let _ = stop_tx.send(());
    let _ = server.await;
    outcome
}

async fn producer_result(producer: &mut tokio::task::JoinHandle<Result<(), NodeError>>) -> Result<(), NodeError> {
    match producer.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e),
        Err(e) => Err(NodeError::Storage(format!("block producer failed: {e}"))),
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
