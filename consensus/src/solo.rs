//! Solo: one node, the only validator. Every block it proposes is decided at once.

use std::sync::Arc;

use xinlian_chain::CommitCertificate;

use crate::app::{App, BoxFuture, Driver};
use crate::error::ConsensusError;

/// The one-validator driver: wait for work, propose, commit; repeat until the app stops.
/// A stop lets the block in progress finish (propose and commit run to the end).
#[derive(Debug, Default)]
pub struct Solo;

impl Driver for Solo {
    fn name(&self) -> &'static str {
        "solo"
    }

    fn run(self: Box<Self>, app: Arc<dyn App>) -> BoxFuture<'static, Result<(), ConsensusError>> {
        Box::pin(async move {
            while app.wait_for_work().await {
                let height = app.height() + 1;
                let block = match app.propose(height, false).await {
                    Ok(Some(block)) => block,
                    Ok(None) => continue,
                    Err(source) => return Err(ConsensusError::Propose { height, source }),
                };
                let certificate = CommitCertificate::solo(height, block.hash());
                app.commit(block, certificate).await.map_err(|source| ConsensusError::Commit { height, source })?;
            }
            Ok(())
        })
    }
}
