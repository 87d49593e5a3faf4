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
//! * The Portal beacon network ([`BeaconNetwork`], when on): what the light client accepted,
//!   from any source, is served to peers and offered to a few; objects peers offer are
//!   verified here, in the same task as everything else, before they count or are served.

use super::config::ChainSpec;
use super::error::LightClientError;
use super::network::{BeaconNetwork, Offered, Received};
use super::store::{ExecutionHead, LightClientStore, Progress};
use super::sync::{LightClient, LightClientSource, Verified};
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
    /// Peers of the Portal beacon network (`0x501A`) that answered our Ping.
    pub beacon_peers: usize,
    /// Objects from those peers that failed verification (their senders are not asked again).
    pub refused_objects: u64,
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

/// The beacon network's counters into the status.
fn note_beacon(beacon: Option<&BeaconNetwork>, status: &SharedStatus) {
    if let Some(beacon) = beacon {
        let stats = beacon.stats();
        let mut s = status.lock().unwrap_or_else(|e| e.into_inner());
        s.beacon_peers = stats.peers;
        s.refused_objects = stats.refused_objects;
    }
}

/// One round: sources in order until one brings the client up to date. Returns whether one
/// succeeded. What the light client accepted is served on `beacon` and offered to its peers.
pub async fn step(
    network: &Network,
    light_client: &mut LightClient,
    sources: &[Arc<dyn LightClientSource>],
    status: &SharedStatus,
    beacon: Option<&BeaconNetwork>,
) -> bool {
    let mut last_error = None;
    for source in sources {
        let now = now_slot(light_client.spec());
        let mut accepted = Vec::new();
        let result = light_client
            .sync_recording(source.as_ref(), now, &mut |v| accepted.push(v))
            .await;
        if let Some(beacon) = beacon {
            beacon.record(accepted, None);
        }
        if let Err(e) = &result {
            if e.is_forgery() {
                source.refused(e);
            }
        }
        note_beacon(beacon, status);
        match result {
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

/// Verify what a peer offered; what the light client accepts is served and offered on (not
/// back to the sender); a forgery makes the sender a liar. Returns what moved.
pub fn apply_offered(
    light_client: &mut LightClient,
    offered: Offered,
    now_slot: u64,
    beacon: &BeaconNetwork,
) -> Progress {
    let mut accepted = Vec::new();
    let mut total = Progress::default();
    let result = match offered.object {
        Received::Bootstrap(b) => {
            // Served only once verified; a store that exists already is kept.
            let verified = match light_client.store() {
                Some(_) => {
                    LightClientStore::bootstrap(light_client.spec(), light_client.checkpoint(), &b)
                        .map(|_| Progress::default())
                }
                None => light_client.bootstrap(&b).map(|()| Progress {
                    finalized: true,
                    optimistic: true,
                    next_committee: false,
                }),
            };
            verified.map(|p| {
                total = p;
                accepted.push(Verified::Bootstrap(b));
            })
        }
        Received::Updates(updates) => updates.into_iter().try_for_each(|u| {
            match light_client.process(&u, now_slot) {
                Ok(p) => {
                    total = total.or(p);
                    accepted.push(Verified::Update(u));
                }
                // An honest peer's update we cannot use (yet): neither kept nor a lie.
                Err(e) if !e.is_forgery() => {}
                Err(e) => return Err(e),
            }
            Ok(())
        }),
        Received::Finality(u) => light_client.process(&u, now_slot).map(|p| {
            total = p;
            accepted.push(Verified::Finality(u));
        }),
        Received::Optimistic(u) => light_client.process(&u, now_slot).map(|p| {
            total = p;
            accepted.push(Verified::Optimistic(u));
        }),
    };
    match result {
        Err(e) if e.is_forgery() => beacon.refuse(offered.from, &e),
        Err(e) => tracing::debug!(error = %e, "beacon network: an offered object is of no use now"),
        Ok(()) => {}
    }
    beacon.record(accepted, Some(offered.from));
    total
}

/// The Portal beacon network of a running light client: its peers and what they offer.
pub struct BeaconPeers {
    /// The network.
    pub network: BeaconNetwork,
    /// Objects its peers offered, to verify.
    pub offered: tokio::sync::mpsc::Receiver<Offered>,
}

/// How often the state network's peers are checked for beacon-network peers.
const DISCOVERY_INTERVAL: Duration = Duration::from_secs(1);

/// Follow the chain: trust the resumed heads at once, then a [`step`] every `interval` (a slot
/// is 12 s), until the task is dropped with the node's runtime. With `beacon`, also serve the
/// Portal beacon network, find its peers among the state network's, and verify their offers.
pub async fn run(
    network: Arc<Network>,
    mut light_client: LightClient,
    sources: Vec<Arc<dyn LightClientSource>>,
    interval: Duration,
    status: SharedStatus,
    beacon: Option<BeaconPeers>,
) {
    publish(&network, &light_client, &status);
    let (beacon, mut offered) = match beacon {
        Some(b) => (Some(b.network), Some(b.offered)),
        None => (None, None),
    };
    if let Some(beacon) = beacon.clone() {
        let (network, status) = (network.clone(), status.clone());
        // Peers come and go between rounds (and pings from them): the status follows.
        tokio::spawn(async move {
            loop {
                let candidates = network
                    .overlay()
                    .with_table(|t| t.connected().map(|e| e.peer.clone()).collect());
                beacon.discover(candidates).await;
                note_beacon(Some(&beacon), &status);
                tokio::time::sleep(DISCOVERY_INTERVAL).await;
            }
        });
    }
    loop {
        step(
            &network,
            &mut light_client,
            &sources,
            &status,
            beacon.as_ref(),
        )
        .await;
        let next_round = tokio::time::sleep(interval);
        tokio::pin!(next_round);
        // Offers are verified as they come, between rounds.
        loop {
            let offer = async {
                match offered.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = &mut next_round => break,
                Some(item) = offer => {
                    let Some(beacon) = &beacon else { continue };
                    let now = now_slot(light_client.spec());
                    if apply_offered(&mut light_client, item, now, beacon).any() {
                        publish(&network, &light_client, &status);
                    }
                    note_beacon(Some(beacon), &status);
                }
            }
        }
    }
}
