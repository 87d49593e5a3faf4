//! Gossip and placement: offering newly stored content onward to the interested peers closer to
//! it than we are ([`Overlay::gossip`]), and placing a bridge's content on the nodes closest to
//! it ([`Overlay::place`]), with the concurrent offer rounds both use.

use super::service::{lock, node_id_of};
use super::table::NodeId;
use super::{Overlay, PlacementReport};
use crate::content::ContentId;
use crate::net::Enr;
use crate::proof::VerifiedContent;
use crate::wire::AcceptCode;
use alloy_primitives::U256;
use futures::stream::{FuturesUnordered, StreamExt};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::time::Duration;

impl Overlay {
    /// Offer newly stored content onward: to at most `gossip_fanout` interested peers that are
    /// closer to the content than we are, closest first; never back to `from`, and never the
    /// same key twice from this node.
    ///
    /// Moving content only inward bounds the copies an item makes: without it, every node is
    /// interested in everything while its store has room (radius MAX), and one offer floods
    /// the whole network before radii shrink and the surplus is pruned again.
    pub async fn gossip(&self, items: Vec<VerifiedContent>, from: Option<NodeId>) -> usize {
        let fanout = self.inner.config.gossip_fanout;
        let local = self.inner.local_id.ring();
        let mut per_peer: HashMap<NodeId, (Enr, Vec<VerifiedContent>)> = HashMap::new();
        for item in items {
            if !lock(&self.inner.gossiped).insert(*item.key()) {
                continue;
            }
            // A leaf proof moves inward only, to a few peers. A diff item goes to *every*
            // interested peer: each node whose arc meets its range needs it to re-anchor, and
            // "nearer than us" would stop it at the nodes nearest the range. Accept-by-key
            // ends the spread where the item is already stored (the values travel once per
            // node; the offers, small, once per pair of interested neighbours).
            let range = item.key().id_range();
            let ours = range.distance_from(local);
            let diff = item.key().is_diff();
            let targets: Vec<(NodeId, Enr)> = self.with_table(|t| {
                t.interested_in(range)
                    .into_iter()
                    .filter(|e| {
                        Some(e.node_id) != from
                            && (diff || range.distance_from(e.node_id.ring()) < ours)
                    })
                    .take(if diff { usize::MAX } else { fanout })
                    .map(|e| (e.node_id, e.peer.clone()))
                    .collect()
            });
            for (peer, enr) in targets {
                per_peer
                    .entry(peer)
                    .or_insert_with(|| (enr, Vec::new()))
                    .1
                    .push(item.clone());
            }
        }
        self.offer_all(per_peer).await
    }

    /// Place `items` on the `copies` nodes closest to each that take them (a diff item on
    /// every node that takes it: routing by range): how a bridge injects content. Each item is offered to the closest peers in our table; a peer that
    /// declines because it is busy is asked again after a pause, and one that declines for
    /// good (outside its radius) is replaced by the next closest.
    pub async fn place(&self, items: Vec<VerifiedContent>, copies: usize) -> PlacementReport {
        const ROUNDS: u32 = 6;
        // Our table may not hold the nodes closest to these ids (a Kademlia table keeps few
        // nodes far from its own id), so find them: one node lookup per stretch of the ring the
        // items span. The candidates are what the lookups found plus our table.
        let mut ids: Vec<ContentId> = items.iter().map(|c| c.content_id()).collect();
        ids.sort();
        ids.dedup_by(|a, b| a.distance(*b) < (U256::from(1u8) << 250));
        let mut pool: HashMap<NodeId, Enr> =
            self.with_table(|t| t.connected().map(|e| (e.node_id, e.peer.clone())).collect());
        let lookup_count = ids.len();
        let mut lookups: FuturesUnordered<_> = ids
            .iter()
            .map(|id| self.lookup_nodes(NodeId(id.0)))
            .collect();
        while let Some(found) = lookups.next().await {
            for enr in found {
                pool.insert(node_id_of(&enr), enr);
            }
        }
        drop(lookups);
        let mut report = PlacementReport {
            items: items.len(),
            lookups: lookup_count,
            ..Default::default()
        };
        let mut failed_peers: HashSet<NodeId> = HashSet::new();
        // Per item: peers that have it (accepted or already stored), and peers that refused.
        let mut placed: Vec<HashSet<NodeId>> = vec![HashSet::new(); items.len()];
        let mut refused: Vec<HashSet<NodeId>> = vec![HashSet::new(); items.len()];
        for round in 0..ROUNDS {
            let mut per_peer: HashMap<NodeId, (Enr, Vec<usize>)> = HashMap::new();
            for (index, item) in items.iter().enumerate() {
                // A diff item is offered to every candidate (those out of range refuse it):
                // all the nodes whose range it touches need it, not the `copies` nearest.
                let wanted = if item.key().is_diff() {
                    pool.len()
                } else {
                    copies
                };
                let missing = wanted.saturating_sub(placed[index].len());
                if missing == 0 {
                    continue;
                }
                // Nearest to the item's range (for a leaf proof: to its id).
                let range = item.key().id_range();
                let mut candidates: Vec<(NodeId, &Enr)> = pool
                    .iter()
                    .filter(|(n, _)| !placed[index].contains(n) && !refused[index].contains(n))
                    .map(|(n, e)| (*n, e))
                    .collect();
                candidates.sort_by_key(|(n, _)| {
                    (
                        range.distance_from(n.ring()),
                        n.ring().distance(range.start),
                    )
                });
                candidates.truncate(missing);
                for (peer, enr) in candidates {
                    per_peer
                        .entry(peer)
                        .or_insert_with(|| (enr.clone(), Vec::new()))
                        .1
                        .push(index);
                }
            }
            if per_peer.is_empty() {
                break;
            }
            let mut busy = false;
            for (peer, result) in self.offer_each(per_peer, &items).await {
                match result {
                    Ok(codes) => {
                        for (index, code) in codes {
                            report.offered += 1;
                            if round > 0 {
                                report.retried += 1;
                            }
                            match code {
                                AcceptCode::Accepted => {
                                    report.accepted += 1;
                                    placed[index].insert(peer);
                                }
                                AcceptCode::AlreadyStored => {
                                    report.already_stored += 1;
                                    placed[index].insert(peer);
                                }
                                AcceptCode::RateLimited | AcceptCode::InboundTransferInProgress => {
                                    report.busy += 1;
                                    busy = true;
                                }
                                other => {
                                    report.declined += 1;
                                    if other == AcceptCode::NotWithinRadius {
                                        report.outside_radius += 1;
                                    }
                                    refused[index].insert(peer);
                                }
                            }
                        }
                    }
                    Err(indices) => {
                        report.offered += indices.len();
                        report.failed += indices.len();
                        if round > 0 {
                            report.retried += indices.len();
                        }
                        failed_peers.insert(peer);
                        busy = true;
                        for index in indices {
                            refused[index].insert(peer);
                        }
                    }
                }
            }
            if busy {
                tokio::time::sleep(Duration::from_millis(50 << round)).await;
            }
        }
        report.unplaced = placed.iter().filter(|p| p.is_empty()).count();
        report.failed_peers = failed_peers.len();
        report
    }

    /// Run the offers of `per_peer` concurrently (one peer's items in sequence); how many
    /// items were accepted in all. A peer too busy to take an item is asked once more after a
    /// pause.
    pub(super) async fn offer_all(
        &self,
        per_peer: HashMap<NodeId, (Enr, Vec<VerifiedContent>)>,
    ) -> usize {
        let mut accepted = 0;
        let mut pending = per_peer;
        for attempt in 0..2 {
            let mut retry: HashMap<NodeId, (Enr, Vec<VerifiedContent>)> = HashMap::new();
            let mut offers: FuturesUnordered<_> = pending
                .into_iter()
                .map(|(id, (enr, items))| async move {
                    let result = self.offer(&enr, &items).await;
                    (id, enr, items, result)
                })
                .collect();
            while let Some((id, enr, items, result)) = offers.next().await {
                match result {
                    Ok(codes) => {
                        accepted += codes.iter().filter(|c| c.is_accepted()).count();
                        let busy: Vec<VerifiedContent> = items
                            .into_iter()
                            .zip(&codes)
                            .filter(|(_, c)| matches!(c, AcceptCode::RateLimited))
                            .map(|(item, _)| item)
                            .collect();
                        self.inner
                            .counters
                            .offers_rate_limited
                            .fetch_add(busy.len() as u64, Ordering::Relaxed);
                        if !busy.is_empty() {
                            retry.insert(id, (enr, busy));
                        }
                    }
                    Err(e) => {
                        self.inner
                            .counters
                            .offers_failed
                            .fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(error = %e, "offer failed");
                    }
                }
            }
            if retry.is_empty() || attempt == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            pending = retry;
        }
        accepted
    }

    /// Offer the items at the given indices of `items` to each peer, concurrently; per peer,
    /// the code of each item, or the indices it did not take when the exchange failed.
    pub(super) async fn offer_each(
        &self,
        per_peer: HashMap<NodeId, (Enr, Vec<usize>)>,
        items: &[VerifiedContent],
    ) -> Vec<(NodeId, Result<Vec<(usize, AcceptCode)>, Vec<usize>>)> {
        let mut offers: FuturesUnordered<_> = per_peer
            .into_iter()
            .map(|(id, (enr, indices))| async move {
                let chosen: Vec<VerifiedContent> =
                    indices.iter().map(|&i| items[i].clone()).collect();
                match self.offer(&enr, &chosen).await {
                    Ok(codes) => (id, Ok(indices.into_iter().zip(codes).collect())),
                    Err(e) => {
                        self.inner
                            .counters
                            .offers_failed
                            .fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(error = %e, "offer failed");
                        (id, Err(indices))
                    }
                }
            })
            .collect();
        let mut out = Vec::new();
        while let Some(result) = offers.next().await {
            out.push(result);
        }
        out
    }
}
