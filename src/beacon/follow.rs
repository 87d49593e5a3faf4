//! The node's light-client task: keep a [`LightClient`] at the head of the beacon chain from
//! untrusted sources and make the execution blocks it proves the node's trusted heads, so that
//! no app has to call `update_head`.
//!
//! * Heads: the finalized and the optimistic header's execution blocks become trusted headers
//!   ([`BlockHeader::proven`]: number, hash, state root; no RLP). The optimistic one is the
//!   newest, so `Latest` queries use it.
//! * Persistence: after every step that moved, the store is saved in the node's SQLite file
//!   ([`crate::store::SavedLightClient`]); a restarted node resumes from it, trusts its heads
//!   again at once, and needs no checkpoint (one given that differs starts over from it).
//! * Sources are tried in order each round until one succeeds; an object that fails
//!   verification is logged and counts as that source failing.

use super::config::ChainSpec;
use super::error::LightClientError;
use super::store::ExecutionHead;
use super::sync::{LightClient, LightClientSource};
use crate::network::Network;
use crate::proof::BlockHeader;
use alloy_primitives::B256;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What the light client has reached, for a node's status.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LightClientStatus {
    /// The checkpoint it grew from.
    pub checkpoint: B256,
    /// The finalized beacon slot (`None` before the bootstrap).
    pub finalized_slot: Option<u64>,
    /// The optimistic beacon slot.
    pub optimistic_slot: Option<u64>,
    /// The finalized header's execution block number.
    pub finalized_block: Option<u64>,
    /// The optimistic header's execution block number: the newest trusted block.
    pub optimistic_block: Option<u64>,
    /// The last error of a round in which no source succeeded (cleared by a success).
    pub last_error: Option<String>,
}

/// The shared view of a running light client's progress.
pub type SharedStatus = Arc<Mutex<LightClientStatus>>;

fn now_slot(spec: &ChainSpec) -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    spec.slot_at_time(now)
}

/// The light client to run: resumed from the node's store when it holds one (for `checkpoint`,
/// or for any checkpoint when none is given), else a new one at `checkpoint`. `None` when there
/// is neither.
pub fn load(
    network: &Network,
    spec: ChainSpec,
    checkpoint: Option<B256>,
) -> Result<Option<LightClient>, LightClientError> {
    let saved = network
        .overlay()
        .with_store(|s| s.light_client())
        .map_err(|e| store_error(&e))?
        .map_err(|e| store_error(&e))?;
    Ok(match (checkpoint, saved) {
        (Some(checkpoint), Some(saved)) if saved.checkpoint == checkpoint => {
            Some(LightClient::resume(spec, checkpoint, &saved)?)
        }
        (Some(checkpoint), saved) => {
            if let Some(saved) = saved {
                tracing::info!(old = %saved.checkpoint, new = %checkpoint,
                    "beacon light client: a new checkpoint; starting over from it");
            }
            Some(LightClient::new(spec, checkpoint))
        }
        (None, Some(saved)) => Some(LightClient::resume(spec, saved.checkpoint, &saved)?),
        (None, None) => None,
    })
}

fn store_error(e: &dyn std::fmt::Display) -> LightClientError {
    LightClientError::Source {
        source_name: "store".into(),
        reason: e.to_string(),
    }
}

fn proven(head: &ExecutionHead) -> BlockHeader {
    BlockHeader::proven(
        head.number,
        head.hash,
        head.state_root,
        head.parent_hash,
        head.timestamp,
    )
}

/// Trust the light client's heads and save its state.
pub fn publish(network: &Network, light_client: &LightClient, status: &SharedStatus) {
    let Some((finalized, optimistic)) = light_client.heads() else {
        return;
    };
    network.overlay().update_heads(|heads| {
        heads.insert(proven(&finalized));
        heads.insert(proven(&optimistic));
    });
    if let Some(saved) = light_client.saved() {
        match network.overlay().with_store(|s| s.put_light_client(&saved)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "beacon light client: could not save"),
            Err(e) => tracing::warn!(error = %e, "beacon light client: could not save"),
        }
    }
    let mut s = status.lock().unwrap_or_else(|e| e.into_inner());
    s.checkpoint = light_client.checkpoint();
    s.finalized_slot = Some(finalized.slot);
    s.optimistic_slot = Some(optimistic.slot);
    s.finalized_block = Some(finalized.number);
    s.optimistic_block = Some(optimistic.number);
}

/// One round: sources in order until one brings the client up to date. Returns whether one
/// succeeded.
pub async fn step(
    network: &Network,
    light_client: &mut LightClient,
    sources: &[Arc<dyn LightClientSource>],
    status: &SharedStatus,
) -> bool {
    let mut last_error = None;
    for source in sources {
        let now = now_slot(light_client.spec());
        match light_client.sync(source.as_ref(), now).await {
            Ok(progress) => {
                if progress.any() {
                    publish(network, light_client, status);
                    if let Some((finalized, optimistic)) = light_client.heads() {
                        tracing::info!(
                            finalized_slot = finalized.slot,
                            finalized_block = finalized.number,
                            optimistic_slot = optimistic.slot,
                            optimistic_block = optimistic.number,
                            source = %source.name(),
                            "beacon light client: new heads"
                        );
                    }
                }
                status.lock().unwrap_or_else(|e| e.into_inner()).last_error = None;
                return true;
            }
            Err(e) => {
                // What verified before the error stays applied: publish it.
                publish(network, light_client, status);
                tracing::warn!(source = %source.name(), error = %e, "beacon light client: source failed");
                last_error = Some(format!("{}: {e}", source.name()));
            }
        }
    }
    status.lock().unwrap_or_else(|e| e.into_inner()).last_error = last_error;
    false
}

/// Follow the chain: trust the resumed heads at once, then a [`step`] every `interval` (a slot
/// is 12 s), until the task is dropped with the node's runtime.
pub async fn run(
    network: Arc<Network>,
    mut light_client: LightClient,
    sources: Vec<Arc<dyn LightClientSource>>,
    interval: Duration,
    status: SharedStatus,
) {
    publish(&network, &light_client, &status);
    loop {
        step(&network, &mut light_client, &sources, &status).await;
        tokio::time::sleep(interval).await;
    }
}
