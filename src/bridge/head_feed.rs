//! Trusted heads from an operator's execution client, with no content pushed.
//!
//! A storage node (`portal-state node`) accepts content only for state roots it trusts
//! (DESIGN.md, "Heads"). An operator who runs an execution client points the node at it; the
//! feed polls `eth_getBlockByNumber("latest")`, rebuilds the header and checks its hash, and
//! trusts it on the node. The operator's own client is the trust anchor here, exactly as it
//! would be for the operator's wallet.

use super::rpc::{BlockTag, ExecutionClient};
use super::BridgeError;
use crate::network::Network;
use crate::proof::BlockHeader;
use alloy_primitives::B256;
use std::time::Duration;
use tokio::sync::watch;

/// Tunables of a [`HeadFeed`].
#[derive(Clone, Debug)]
pub struct HeadFeedConfig {
    /// How often the head is polled.
    pub poll_interval: Duration,
    /// The longest wait between retries while the execution client fails.
    pub max_backoff: Duration,
}

impl Default for HeadFeedConfig {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(2),
            max_backoff: Duration::from_secs(30),
        }
    }
}

/// Polls an execution client's newest header and trusts it on a node.
#[derive(Debug)]
pub struct HeadFeed {
    client: ExecutionClient,
    config: HeadFeedConfig,
    last: Option<B256>,
}

impl HeadFeed {
    /// A feed from `client`.
    pub fn new(client: ExecutionClient, config: HeadFeedConfig) -> Self {
        Self {
            client,
            config,
            last: None,
        }
    }

    /// Fetch the newest header once; if it is new, check it and trust it on `network`.
    /// Returns the header when it was new.
    pub async fn poll_once(
        &mut self,
        network: &Network,
    ) -> Result<Option<BlockHeader>, BridgeError> {
        let (header, _) = self.client.block(BlockTag::Latest).await?;
        if self.last == Some(header.hash) {
            return Ok(None);
        }
        network.add_trusted_header(&header.rlp)?;
        self.last = Some(header.hash);
        Ok(Some(header))
    }

    /// Poll until `shutdown` turns true (or its sender is dropped), calling `on_head` with each
    /// new trusted header. Failures are logged and retried with exponential backoff.
    pub async fn run(
        &mut self,
        network: &Network,
        mut on_head: impl FnMut(&BlockHeader),
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut backoff = self.config.poll_interval;
        loop {
            if *shutdown.borrow() {
                return;
            }
            let wait = match self.poll_once(network).await {
                Ok(new) => {
                    if let Some(header) = new {
                        tracing::debug!(number = header.number, hash = %header.hash, "head feed: new trusted head");
                        on_head(&header);
                    }
                    backoff = self.config.poll_interval;
                    self.config.poll_interval
                }
                Err(e) => {
                    tracing::warn!(url = self.client.url(), error = %e, retry_in = ?backoff, "head feed: no head");
                    let wait = backoff;
                    backoff = (backoff * 2).min(self.config.max_backoff);
                    wait
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
            }
        }
    }
}
