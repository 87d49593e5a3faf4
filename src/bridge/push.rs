//! Pushing verified content to the nodes that should store it (seed 000, "Data Ingress").
//!
//! Items are sorted by content id, clockwise from our own id, so neighbours on the ring (which
//! the same nodes store) travel together and one Offer to a peer carries many of its items.
//! Batch by batch, [`crate::overlay::Overlay::place`] puts each item on the
//! [`PushConfig::peers_per_item`] nodes closest to it that take it: it finds those nodes with
//! node lookups (a bridge needs nodes all around the ring, more than its routing table keeps),
//! asks busy peers again after a pause, and moves on to the next closest peer after a refusal
//! or a failure. The peers that accept an item offer it onward to interested peers closer to
//! it (the overlay's gossip), so the bridge need not reach every replica itself.

use crate::network::Network;
use crate::overlay::PlacementReport;
use crate::proof::VerifiedContent;
use std::time::{Duration, Instant};

/// Tunables of [`push_with`].
#[derive(Clone, Debug)]
pub struct PushConfig {
    /// Nodes each item is placed on, closest first.
    pub peers_per_item: usize,
    /// Items per batch; progress is reported after each batch.
    pub batch_items: usize,
    /// Also keep the items that fall within our own radius in our store.
    pub store_locally: bool,
}

impl Default for PushConfig {
    fn default() -> Self {
        Self {
            peers_per_item: 3,
            batch_items: 512,
            store_locally: true,
        }
    }
}

/// Where a push is, reported after each batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PushProgress {
    /// Items offered so far.
    pub done: usize,
    /// Items in the push.
    pub total: usize,
    /// Offers of items accepted so far (an item accepted by three peers counts three).
    pub accepted: usize,
}

/// What a push did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PushReport {
    /// Items in the push.
    pub items: usize,
    /// Offers of items that peers accepted (and were sent over uTP).
    pub accepted: usize,
    /// Offers that peers declined for good (not interested, cannot verify, …).
    pub declined: usize,
    /// Offers answered "already stored": the item is there.
    pub already_stored: usize,
    /// Items that no peer took or had.
    pub unplaced: usize,
    /// Item offers made again: to a busy peer, or to the next closest peer.
    pub retried: usize,
    /// Peers with at least one failed exchange (timeout, transfer failure).
    pub failed_peers: usize,
    /// Node lookups run to find the nodes closest to the items.
    pub lookups: usize,
    /// Wall time of the push.
    pub elapsed: Duration,
    /// Items per second over the whole push.
    pub items_per_sec: f64,
}

impl PushReport {
    fn add(&mut self, batch: &PlacementReport) {
        self.accepted += batch.accepted;
        self.declined += batch.declined;
        self.already_stored += batch.already_stored;
        self.unplaced += batch.unplaced;
        self.retried += batch.retried;
        self.failed_peers += batch.failed_peers;
        self.lookups += batch.lookups;
    }
}

/// Push `items` with the default [`PushConfig`], reporting progress after each batch.
///
/// The items' state roots must be trusted by the receiving nodes (they decline content they
/// cannot verify); the bridge's embedding program hands them the header first.
pub async fn push(
    network: &Network,
    items: Vec<VerifiedContent>,
    progress: impl FnMut(PushProgress),
) -> PushReport {
    push_with(network, items, &PushConfig::default(), progress).await
}

/// [`push`] with explicit tunables.
pub async fn push_with(
    network: &Network,
    mut items: Vec<VerifiedContent>,
    config: &PushConfig,
    mut progress: impl FnMut(PushProgress),
) -> PushReport {
    let start = Instant::now();
    let overlay = network.overlay();
    let local = overlay.local_id().ring().to_u256();
    items.sort_by_cached_key(|item| item.content_id().to_u256().wrapping_sub(local));

    let total = items.len();
    let mut report = PushReport {
        items: total,
        ..Default::default()
    };
    let mut done = 0;
    for batch in items.chunks(config.batch_items.max(1)) {
        if config.store_locally {
            let stored = overlay
                .with_store(|s| s.put_batch(batch).map_err(|e| e.to_string()))
                .map_err(|e| e.to_string());
            if let Err(e) | Ok(Err(e)) = stored {
                tracing::warn!(error = %e, "bridge: could not keep pushed items in our own store");
            }
        }
        let placed = overlay
            .place(batch.to_vec(), config.peers_per_item.max(1))
            .await;
        report.add(&placed);
        done += batch.len();
        progress(PushProgress {
            done,
            total,
            accepted: report.accepted,
        });
    }
    report.elapsed = start.elapsed();
    report.items_per_sec = total as f64 / report.elapsed.as_secs_f64().max(1e-9);
    report
}
