//! The overlay's Kademlia routing table: k-buckets of peers with their radius.
//!
//! Buckets are by XOR log-distance, as FindNodes asks for them. Within a bucket, peers that have
//! answered for longest are kept (seed 002: long-lived nodes are likeliest to stay), so a full
//! bucket puts a newcomer in a small replacement cache instead of evicting anyone; a peer that
//! fails `max_failures` liveness checks in a row is replaced from that cache, or only flagged
//! when the cache is empty, so a short outage does not empty a bucket.
//!
//! Liveness and usefulness are two signals. A peer is live if it answers, whatever it answers:
//! an empty TALKRESP is a refusal (a rate limit, or a client such as trin that cannot decode our
//! content keys), not a failure to answer. Refusals are counted apart; a peer that keeps
//! refusing ([`MAX_REFUSALS`] in a row without a content answer) stays connected and keeps its
//! place for routing (FindNodes), but content lookups ask it only when no other peer is left
//! and gossip does not offer it anything.

use crate::content::{ContentId, IdRange, Radius};
use alloy_primitives::{B256, U256};
use std::collections::VecDeque;
use std::time::Instant;

/// Refusals in a row (empty answers, no content answer since) after which a peer is of no use
/// for content (see the module documentation).
pub const MAX_REFUSALS: u32 = 3;

/// A node's id: its point on the ring, and the key of Kademlia's XOR metric.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct NodeId(pub B256);

impl NodeId {
    /// The id as a ring point, for the ring distance to content.
    pub fn ring(self) -> ContentId {
        ContentId(self.0)
    }

    /// Kademlia's log-distance: the bit length of `self XOR other` (0 for the same id, 1..=256).
    pub fn log2_distance(self, other: NodeId) -> u16 {
        let xor = U256::from_be_bytes((self.0 ^ other.0).0);
        xor.bit_len() as u16
    }

    /// The XOR distance, for ordering by Kademlia closeness.
    pub fn xor_distance(self, other: NodeId) -> U256 {
        U256::from_be_bytes((self.0 ^ other.0).0)
    }
}

/// How a peer is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerState {
    /// Answered its last request.
    Connected,
    /// Failed its recent liveness checks but had no replacement; kept, not offered to others.
    Stale,
}

/// One peer in the table.
#[derive(Clone, Debug)]
pub struct TableEntry<P> {
    /// The peer's id.
    pub node_id: NodeId,
    /// What the transport needs to reach it (an ENR).
    pub peer: P,
    /// Its radius, from its last Ping or Pong.
    pub radius: Radius,
    /// When it first answered; older peers are preferred.
    pub first_seen: Instant,
    /// When it last answered.
    pub last_seen: Instant,
    /// Liveness checks failed in a row.
    pub failures: u32,
    /// Requests answered with an empty TALKRESP since its last answer to a content request
    /// (FindContent, Offer): refusals, which say nothing about liveness.
    pub refusals: u32,
    /// Connected or stale.
    pub state: PeerState,
}

impl<P> TableEntry<P> {
    /// Whether it keeps refusing our requests ([`MAX_REFUSALS`] in a row): live, but of no use
    /// for content.
    pub fn refuses_content(&self) -> bool {
        self.refusals >= MAX_REFUSALS
    }
}

#[derive(Debug)]
struct Bucket<P> {
    entries: Vec<TableEntry<P>>,
    replacements: VecDeque<TableEntry<P>>,
}

impl<P> Default for Bucket<P> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
            replacements: VecDeque::new(),
        }
    }
}

/// What [`RoutingTable::insert`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InsertOutcome {
    /// A new peer in its bucket.
    Inserted,
    /// A peer already in the table got its record, radius and liveness refreshed.
    Updated,
    /// The bucket is full of live peers: the newcomer waits in the replacement cache.
    Pending,
    /// Our own id, never stored.
    IsSelf,
}

/// The routing table.
#[derive(Debug)]
pub struct RoutingTable<P> {
    local: NodeId,
    k: usize,
    max_replacements: usize,
    max_failures: u32,
    buckets: Vec<Bucket<P>>,
}

impl<P: Clone> RoutingTable<P> {
    /// An empty table around `local`, with `k` peers per bucket.
    pub fn new(local: NodeId, k: usize) -> Self {
        Self {
            local,
            k,
            max_replacements: k,
            max_failures: 2,
            buckets: (0..256).map(|_| Bucket::default()).collect(),
        }
    }

    /// Our own id.
    pub fn local_id(&self) -> NodeId {
        self.local
    }

    fn bucket_index(&self, id: NodeId) -> Option<usize> {
        match self.local.log2_distance(id) {
            0 => None,
            d => Some(d as usize - 1),
        }
    }

    /// Add a peer that answered us (or refresh it): it is live now.
    pub fn insert(
        &mut self,
        node_id: NodeId,
        peer: P,
        radius: Radius,
        now: Instant,
    ) -> InsertOutcome {
        let Some(index) = self.bucket_index(node_id) else {
            return InsertOutcome::IsSelf;
        };
        let k = self.k;
        let max_replacements = self.max_replacements;
        let bucket = &mut self.buckets[index];
        if let Some(e) = bucket.entries.iter_mut().find(|e| e.node_id == node_id) {
            e.peer = peer;
            e.radius = radius;
            e.last_seen = now;
            e.failures = 0;
            e.state = PeerState::Connected;
            return InsertOutcome::Updated;
        }
        let entry = TableEntry {
            node_id,
            peer,
            radius,
            first_seen: now,
            last_seen: now,
            failures: 0,
            refusals: 0,
            state: PeerState::Connected,
        };
        if bucket.entries.len() < k {
            bucket.replacements.retain(|e| e.node_id != node_id);
            bucket.entries.push(entry);
            return InsertOutcome::Inserted;
        }
        // A full bucket: a stale peer makes room; live long-lived peers are never evicted for a
        // newcomer.
        if let Some(pos) = bucket
            .entries
            .iter()
            .position(|e| e.state == PeerState::Stale)
        {
            bucket.entries[pos] = entry;
            bucket.replacements.retain(|e| e.node_id != node_id);
            return InsertOutcome::Inserted;
        }
        bucket.replacements.retain(|e| e.node_id != node_id);
        bucket.replacements.push_back(entry);
        if bucket.replacements.len() > max_replacements {
            bucket.replacements.pop_front();
        }
        InsertOutcome::Pending
    }

    /// Update a known peer's radius (from a Ping or Pong it sent).
    pub fn set_radius(&mut self, node_id: NodeId, radius: Radius) {
        if let Some(e) = self.entry_mut(node_id) {
            e.radius = radius;
        }
    }

    /// The peer answered a request in the protocol: it is live. `content_answer`: the answer
    /// was to a content request (Content, Accept), which also clears its refusals.
    pub fn record_success(&mut self, node_id: NodeId, now: Instant, content_answer: bool) {
        if let Some(e) = self.entry_mut(node_id) {
            e.last_seen = now;
            e.failures = 0;
            e.state = PeerState::Connected;
            if content_answer {
                e.refusals = 0;
            }
        }
    }

    /// The peer answered with an empty TALKRESP: a refusal. It is live (it answered), and one
    /// refusal closer to being of no use for content.
    pub fn record_refusal(&mut self, node_id: NodeId, now: Instant) {
        if let Some(e) = self.entry_mut(node_id) {
            e.last_seen = now;
            e.failures = 0;
            e.state = PeerState::Connected;
            e.refusals = e.refusals.saturating_add(1);
        }
    }

    /// A request to the peer failed: no answer in time. After too many failures
    /// in a row it is replaced from the replacement cache, or flagged stale when the cache is
    /// empty. Returns whether it left the table.
    pub fn record_failure(&mut self, node_id: NodeId) -> bool {
        let max_failures = self.max_failures;
        let Some(index) = self.bucket_index(node_id) else {
            return false;
        };
        let bucket = &mut self.buckets[index];
        let Some(pos) = bucket.entries.iter().position(|e| e.node_id == node_id) else {
            bucket.replacements.retain(|e| e.node_id != node_id);
            return false;
        };
        let e = &mut bucket.entries[pos];
        e.failures += 1;
        if e.failures < max_failures {
            return false;
        }
        match bucket.replacements.pop_back() {
            Some(replacement) => {
                bucket.entries[pos] = replacement;
                true
            }
            None => {
                bucket.entries[pos].state = PeerState::Stale;
                false
            }
        }
    }

    /// Drop a peer outright (it lied, or is on another chain).
    pub fn remove(&mut self, node_id: NodeId) -> bool {
        let Some(index) = self.bucket_index(node_id) else {
            return false;
        };
        let bucket = &mut self.buckets[index];
        bucket.replacements.retain(|e| e.node_id != node_id);
        let before = bucket.entries.len();
        bucket.entries.retain(|e| e.node_id != node_id);
        let removed = bucket.entries.len() != before;
        if removed {
            if let Some(r) = bucket.replacements.pop_back() {
                bucket.entries.push(r);
            }
        }
        removed
    }

    fn entry_mut(&mut self, node_id: NodeId) -> Option<&mut TableEntry<P>> {
        let index = self.bucket_index(node_id)?;
        self.buckets[index]
            .entries
            .iter_mut()
            .find(|e| e.node_id == node_id)
    }

    /// A peer in the table (not the replacement cache).
    pub fn get(&self, node_id: NodeId) -> Option<&TableEntry<P>> {
        let index = self.bucket_index(node_id)?;
        self.buckets[index]
            .entries
            .iter()
            .find(|e| e.node_id == node_id)
    }

    /// Every peer in the table.
    pub fn entries(&self) -> impl Iterator<Item = &TableEntry<P>> {
        self.buckets.iter().flat_map(|b| b.entries.iter())
    }

    /// Connected peers only.
    pub fn connected(&self) -> impl Iterator<Item = &TableEntry<P>> {
        self.entries().filter(|e| e.state == PeerState::Connected)
    }

    /// Number of peers in the table.
    pub fn len(&self) -> usize {
        self.buckets.iter().map(|b| b.entries.len()).sum()
    }

    /// Whether the table has no peers.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Connected peers at the given log-distances from us (FindNodes), at most `limit`.
    pub fn at_distances(&self, distances: &[u16], limit: usize) -> Vec<&TableEntry<P>> {
        distances
            .iter()
            .filter(|&&d| (1..=256).contains(&d))
            .flat_map(|&d| self.buckets[d as usize - 1].entries.iter())
            .filter(|e| e.state == PeerState::Connected)
            .take(limit)
            .collect()
    }

    /// The `n` connected peers closest to `target` by the ring distance, closest first; peers
    /// that refuse content requests only after all others.
    ///
    /// Content lookups use the ring distance because interest does: the peers most likely to
    /// hold an id are the ones whose ids are nearest on the ring.
    pub fn closest_on_ring(&self, target: ContentId, n: usize) -> Vec<&TableEntry<P>> {
        let mut peers: Vec<_> = self.connected().collect();
        peers.sort_by_key(|e| (e.refuses_content(), e.node_id.ring().distance(target)));
        peers.truncate(n);
        peers
    }

    /// The `n` peers closest to `target` by the ring distance, stale ones included.
    ///
    /// On a lossy link live peers go stale after a few lost requests; with too few connected
    /// peers left, a lookup asks these too rather than give up (an answer reconnects them).
    pub fn closest_on_ring_with_stale(&self, target: ContentId, n: usize) -> Vec<&TableEntry<P>> {
        let mut peers: Vec<_> = self.entries().collect();
        peers.sort_by_key(|e| (e.refuses_content(), e.node_id.ring().distance(target)));
        peers.truncate(n);
        peers
    }

    /// The `n` connected peers closest to `target` by XOR, closest first (node lookups).
    pub fn closest_by_xor(&self, target: NodeId, n: usize) -> Vec<&TableEntry<P>> {
        let mut peers: Vec<_> = self.connected().collect();
        peers.sort_by_key(|e| e.node_id.xor_distance(target));
        peers.truncate(n);
        peers
    }

    /// Connected peers whose radius covers `content_id`, closest first; not those that refuse
    /// content requests (offering them anything is wasted).
    pub fn interested(&self, content_id: ContentId) -> Vec<&TableEntry<P>> {
        self.interested_in(IdRange::point(content_id))
    }

    /// Connected peers whose arc meets `range` (routing by range, [`Radius::meets`]), nearest
    /// to the range first; not those that refuse content requests.
    pub fn interested_in(&self, range: IdRange) -> Vec<&TableEntry<P>> {
        let mut peers: Vec<_> = self
            .connected()
            .filter(|e| !e.refuses_content() && e.radius.meets(e.node_id.ring(), range))
            .collect();
        peers.sort_by_key(|e| range.distance_from(e.node_id.ring()));
        peers
    }

    /// Peers not heard from since `before`, least recently seen first: due a liveness Ping.
    pub fn due_for_ping(&self, before: Instant) -> Vec<&TableEntry<P>> {
        let mut peers: Vec<_> = self.entries().filter(|e| e.last_seen < before).collect();
        peers.sort_by_key(|e| e.last_seen);
        peers
    }

    /// Log-distances of buckets that hold fewer than `k` peers (worth refreshing with a lookup).
    pub fn sparse_buckets(&self) -> Vec<u16> {
        (0..256)
            .filter(|&i| self.buckets[i].entries.len() < self.k)
            .map(|i| i as u16 + 1)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(byte0: u8, last: u8) -> NodeId {
        let mut b = [0u8; 32];
        b[0] = byte0;
        b[31] = last;
        NodeId(B256::from(b))
    }

    #[test]
    fn log2_distance() {
        let a = id(0, 0);
        assert_eq!(a.log2_distance(a), 0);
        assert_eq!(a.log2_distance(id(0, 1)), 1);
        assert_eq!(a.log2_distance(id(0, 2)), 2);
        assert_eq!(a.log2_distance(id(0x80, 0)), 256);
    }

    #[test]
    fn full_bucket_keeps_old_peers_and_replaces_on_failure() {
        let now = Instant::now();
        let local = id(0, 0);
        let mut t: RoutingTable<u32> = RoutingTable::new(local, 2);
        // All at log-distance 256.
        assert_eq!(
            t.insert(id(0x80, 1), 1, Radius::MAX, now),
            InsertOutcome::Inserted
        );
        assert_eq!(
            t.insert(id(0x80, 2), 2, Radius::MAX, now),
            InsertOutcome::Inserted
        );
        assert_eq!(
            t.insert(id(0x80, 3), 3, Radius::MAX, now),
            InsertOutcome::Pending
        );
        assert_eq!(t.len(), 2);
        assert!(t.get(id(0x80, 3)).is_none());
        // Refreshing a known peer updates it.
        assert_eq!(
            t.insert(id(0x80, 1), 10, Radius::ZERO, now),
            InsertOutcome::Updated
        );
        assert_eq!(t.get(id(0x80, 1)).unwrap().peer, 10);
        // One failure is tolerated; the second replaces it with the cached newcomer.
        assert!(!t.record_failure(id(0x80, 2)));
        assert!(t.record_failure(id(0x80, 2)));
        assert!(t.get(id(0x80, 2)).is_none());
        assert!(t.get(id(0x80, 3)).is_some());
        // No replacement left: a failing peer is flagged, not dropped.
        assert!(!t.record_failure(id(0x80, 1)));
        assert!(!t.record_failure(id(0x80, 1)));
        assert_eq!(t.get(id(0x80, 1)).unwrap().state, PeerState::Stale);
        assert_eq!(t.connected().count(), 1);
        // A lookup short of connected peers may still ask the stale one.
        let target = id(0x80, 1).ring();
        assert_eq!(t.closest_on_ring(target, 2).len(), 1);
        assert_eq!(t.closest_on_ring_with_stale(target, 2).len(), 2);
        // ...and it is the one a newcomer displaces.
        assert_eq!(
            t.insert(id(0x80, 4), 4, Radius::MAX, now),
            InsertOutcome::Inserted
        );
        assert!(t.get(id(0x80, 1)).is_none());
        assert_eq!(t.insert(local, 0, Radius::MAX, now), InsertOutcome::IsSelf);
    }

    #[test]
    fn refusals_keep_a_peer_live_but_last_for_content() {
        let now = Instant::now();
        let mut t: RoutingTable<u8> = RoutingTable::new(id(0, 0), 16);
        t.insert(id(0, 1), 1, Radius::MAX, now);
        t.insert(id(0, 9), 9, Radius::MAX, now);
        let target = id(0, 1).ring();
        for _ in 0..10 {
            t.record_refusal(id(0, 1), now);
        }
        let refuser = t.get(id(0, 1)).unwrap();
        assert_eq!(refuser.state, PeerState::Connected);
        assert_eq!((refuser.failures, refuser.refusals), (0, 10));
        assert!(refuser.refuses_content());
        // Still routed to (FindNodes), asked for content last, offered nothing.
        assert_eq!(t.at_distances(&[1], 32).len(), 1);
        let order: Vec<u8> = t
            .closest_on_ring(target, 2)
            .iter()
            .map(|e| e.peer)
            .collect();
        assert_eq!(order, vec![9, 1]);
        assert_eq!(t.closest_on_ring(target, 1)[0].peer, 9);
        let interested: Vec<u8> = t.interested(target).iter().map(|e| e.peer).collect();
        assert_eq!(interested, vec![9]);
        // A Pong or a Nodes answer leaves the count; a content answer clears it.
        t.record_success(id(0, 1), now, false);
        assert!(t.get(id(0, 1)).unwrap().refuses_content());
        t.record_success(id(0, 1), now, true);
        assert_eq!(t.get(id(0, 1)).unwrap().refusals, 0);
        assert_eq!(t.closest_on_ring(target, 2)[0].peer, 1);
    }

    #[test]
    fn queries_by_distance_ring_and_interest() {
        let now = Instant::now();
        let mut t: RoutingTable<u8> = RoutingTable::new(id(0, 0), 16);
        for i in 1..=20u8 {
            t.insert(id(0, i), i, Radius(U256::from(2)), now);
        }
        t.insert(id(0x80, 0), 99, Radius::MAX, now);
        let at1 = t.at_distances(&[1], 32);
        assert_eq!(at1.len(), 1);
        assert_eq!(at1[0].peer, 1);
        assert_eq!(t.at_distances(&[256], 32)[0].peer, 99);
        assert!(t.at_distances(&[0, 300], 32).is_empty());
        let target = id(0, 10).ring();
        let closest = t.closest_on_ring(target, 3);
        assert_eq!(closest[0].peer, 10);
        assert_eq!(closest.len(), 3);
        // Radius 2 around 10: peers 8..=12, plus the MAX-radius peer.
        let interested: Vec<u8> = t.interested(target).iter().map(|e| e.peer).collect();
        assert_eq!(interested.len(), 6);
        assert_eq!(interested[0], 10);
        assert!(interested.contains(&99));
        assert!(t.remove(id(0, 10)));
        assert!(!t.remove(id(0, 10)));
    }
}
