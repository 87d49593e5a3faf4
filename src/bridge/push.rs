//! Pushing verified content to the nodes that should store it (seed 000, "Data Ingress").
//!
//! Items are sorted by content id, clockwise from our own id: the first ones are the closest
//! to us, and neighbours on the ring (which the same nodes store) come together, so one Offer
//! to a peer carries many of its items. Batch by batch, each item goes to the
//! [`PushConfig::peers_per_item`] closest peers of the routing table whose radius covers it;
//! where the table knows too few, a node lookup toward the item's id finds more (it pings the
//! nodes it finds, which puts them and their radius in the table). The peers that accept it
//! re-offer it to their own interested peers (the overlay's gossip), so the bridge need not
//! reach every replica itself. An item whose every offer failed (timeout, refused, rate
//! limited) is offered once more to other peers.

use crate::network::Network;
use crate::overlay::NodeId;
use crate::proof::VerifiedContent;
use crate::wire::AcceptCode;
use alloy_primitives::B256;
use futures::stream::{self, StreamExt};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// Tunables of [`push_with`].
#[derive(Clone, Debug)]
pub struct PushConfig {
    /// Interested peers each item is offered to, closest first.
    pub peers_per_item: usize,
    /// Items per batch; progress is reported after each batch.
    pub batch_items: usize,
    /// Peers offered to at once.
    pub max_concurrent_peers: usize,
    /// Node lookups a batch may run to find interested peers the table lacks. Lookups stop
    /// for the rest of the push once three in a row found no new peer (the network is small).
    pub max_lookups_per_batch: usize,
    /// Also keep the items that fall within our own radius in our store.
    pub store_locally: bool,
}

impl Default for PushConfig {
    fn default() -> Self {
        Self {
            peers_per_item: 3,
            batch_items: 512,
            max_concurrent_peers: 16,
            max_lookups_per_batch: 2,
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
    /// Offers that peers declined (not interested, cannot verify, …).
    pub declined: usize,
    /// Offers answered "already stored" or "arriving from someone else": the item is there.
    pub already_stored: usize,
    /// Items that no peer took or had: no interested peer was found, or every one declined or
    /// failed.
    pub unplaced: usize,
    /// Items offered a second time because every first offer failed.
    pub retried: usize,
    /// Peers whose offer failed at least once (timeout, transfer failure, rate limit).
    pub failed_peers: usize,
    /// Node lookups run to find interested peers.
    pub lookups: usize,
    /// Wall time of the push.
    pub elapsed: Duration,
    /// Items per second over the whole push.
    pub items_per_sec: f64,
}

/// One peer's answer to an offer.
type OfferResult = Result<Vec<AcceptCode>, crate::overlay::OverlayError>;

/// How one item fared.
#[derive(Clone, Default)]
struct ItemState {
    tried: HashSet<NodeId>,
    accepted: usize,
    placed: usize,
    declined: usize,
    failed: usize,
}

/// Offer `items` to the closest interested nodes with the default [`PushConfig`], reporting
/// progress after each batch. See the module docs for the order and the retry.
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
    let mut failed_peers: HashSet<NodeId> = HashSet::new();
    let mut fruitless_lookups = 0usize;
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
        let mut states = vec![ItemState::default(); batch.len()];
        let want = config.peers_per_item.max(1);

        // Find peers for items the table cannot place.
        let mut lookups = 0;
        for item in batch {
            if lookups >= config.max_lookups_per_batch || fruitless_lookups >= 3 {
                break;
            }
            let known = overlay.with_table(|t| t.interested(item.content_id()).len());
            if known >= want {
                continue;
            }
            let before = overlay.with_table(|t| t.len());
            overlay
                .lookup_nodes(NodeId(B256::from(*item.content_id().as_bytes())))
                .await;
            lookups += 1;
            report.lookups += 1;
            let after = overlay.with_table(|t| t.len());
            fruitless_lookups = if after > before {
                0
            } else {
                fruitless_lookups + 1
            };
        }

        let all: Vec<usize> = (0..batch.len()).collect();
        let first = offer_round(
            network,
            batch,
            &all,
            &mut states,
            &Peers::default(),
            want,
            config,
        )
        .await;
        let mut failed_now = first.failed.clone();

        // Retry items whose every offer failed, once, with peers not tried yet: the peers that
        // answered in this batch first (they are alive), never those that failed in it. Later
        // batches try failed peers again (a rate limit or a timeout passes).
        let retry: Vec<usize> = states
            .iter()
            .enumerate()
            .filter(|(_, s)| s.failed > 0 && s.failed == s.tried.len())
            .map(|(i, _)| i)
            .collect();
        if !retry.is_empty() {
            report.retried += retry.len();
            tracing::debug!(
                items = retry.len(),
                "bridge: retrying items whose offers all failed"
            );
            let again =
                offer_round(network, batch, &retry, &mut states, &first, want, config).await;
            failed_now.extend(again.failed);
        }
        failed_peers.extend(failed_now);

        for s in &states {
            report.accepted += s.accepted;
            report.already_stored += s.placed;
            report.declined += s.declined;
            if s.accepted == 0 && s.placed == 0 {
                report.unplaced += 1;
            }
        }
        done += batch.len();
        progress(PushProgress {
            done,
            total,
            accepted: report.accepted,
        });
    }
    report.failed_peers = failed_peers.len();
    report.elapsed = start.elapsed();
    report.items_per_sec = total as f64 / report.elapsed.as_secs_f64().max(1e-9);
    report
}

/// Peers sorted by how an offer round went with them.
#[derive(Clone, Debug, Default)]
struct Peers {
    /// Peers whose offer failed (timeout, transfer failure, rate limit).
    failed: HashSet<NodeId>,
    /// Peers that answered.
    answered: HashSet<NodeId>,
}

/// Offer the items `which` of `batch` to up to `want` interested peers each, closest first,
/// that they were not offered to before, all peers concurrently. After an earlier round
/// (`before`), its failed peers are skipped and the peers that answered come first.
async fn offer_round(
    network: &Network,
    batch: &[VerifiedContent],
    which: &[usize],
    states: &mut [ItemState],
    before: &Peers,
    want: usize,
    config: &PushConfig,
) -> Peers {
    let overlay = network.overlay();
    let mut per_peer: HashMap<NodeId, (crate::net::Enr, Vec<usize>)> = HashMap::new();
    for &i in which {
        let id = batch[i].content_id();
        let state = &mut states[i];
        let mut peers: Vec<(NodeId, crate::net::Enr)> = overlay.with_table(|t| {
            t.interested(id)
                .into_iter()
                .filter(|e| {
                    !state.tried.contains(&e.node_id) && !before.failed.contains(&e.node_id)
                })
                .map(|e| (e.node_id, e.peer.clone()))
                .collect()
        });
        // A stable sort keeps the closest-first order within each group.
        peers.sort_by_key(|(id, _)| !before.answered.contains(id));
        peers.truncate(want);
        for (peer, enr) in peers {
            state.tried.insert(peer);
            per_peer
                .entry(peer)
                .or_insert_with(|| (enr, Vec::new()))
                .1
                .push(i);
        }
    }
    // Each offer owns what it uses: futures borrowing through a closure would make the
    // push future not `Send` (a limitation of higher-ranked lifetimes in async).
    let offers: Vec<_> = per_peer
        .into_iter()
        .map(|(peer, (enr, indices))| {
            let items: Vec<VerifiedContent> = indices.iter().map(|&i| batch[i].clone()).collect();
            let overlay = overlay.clone();
            async move {
                let result = overlay.offer(&enr, &items).await;
                (peer, indices, result)
            }
        })
        .collect();
    let results: Vec<(NodeId, Vec<usize>, OfferResult)> = stream::iter(offers)
        .buffer_unordered(config.max_concurrent_peers.max(1))
        .collect()
        .await;
    let mut round = Peers::default();
    for (peer, indices, result) in results {
        match result {
            Ok(codes) => {
                let mut rate_limited = false;
                for (&i, code) in indices.iter().zip(codes) {
                    let s = &mut states[i];
                    match code {
                        AcceptCode::Accepted => s.accepted += 1,
                        AcceptCode::AlreadyStored | AcceptCode::InboundTransferInProgress => {
                            s.placed += 1
                        }
                        // Busy, not uninterested: worth another peer.
                        AcceptCode::RateLimited => {
                            s.failed += 1;
                            rate_limited = true;
                        }
                        _ => s.declined += 1,
                    }
                }
                if rate_limited {
                    round.failed.insert(peer);
                } else {
                    round.answered.insert(peer);
                }
            }
            Err(e) => {
                tracing::debug!(?peer, error = %e, "bridge: offer failed");
                for &i in &indices {
                    states[i].failed += 1;
                }
                round.failed.insert(peer);
            }
        }
    }
    round
}
