//! A lookup's decisions without I/O: whom to ask next, what an answer teaches, when it is over.
//!
//! The drivers in `lookup.rs` send the requests and feed the answers back; this state machine
//! (in the manner of `sigp/discv5`'s `query_pool::peers::closest`) holds the candidates and
//! decides, so that its rules are tested without sockets (see the tests below). One machine
//! serves node lookups (XOR metric) and content lookups (ring metric), with `paths` disjoint
//! paths (S/Kademlia, seed 002; 1 = a plain lookup):
//!
//! * each path asks the `k` closest candidates it knows that it has not asked, at most
//!   `alpha` at once (plus the hedged requests allowed by [`Query::hedge`]);
//! * a candidate belongs to the path that learned of it first, and so does its subnet (/24,
//!   when the driver gives one): no node is asked by two paths, and sybils from one block of
//!   addresses can capture at most one path. With one path every claim succeeds, and the
//!   lookup is the plain Kademlia one.

use super::limits::Subnet;
use super::table::NodeId;
use crate::content::ContentId;
use alloy_primitives::U256;
use std::collections::HashMap;

/// The distance a lookup closes in on.
#[derive(Clone, Copy, Debug)]
pub(super) enum Metric {
    /// Kademlia's XOR distance to a node id: node lookups.
    Xor(NodeId),
    /// The ring distance to a content id: content lookups.
    Ring(ContentId),
}

impl Metric {
    fn distance(self, id: NodeId) -> U256 {
        match self {
            Metric::Xor(target) => id.xor_distance(target),
            Metric::Ring(target) => id.ring().distance(target),
        }
    }
}

/// Where a candidate stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Progress {
    NotAsked,
    Waiting,
    Answered,
    Failed,
}

#[derive(Debug)]
struct Candidate<P> {
    peer: P,
    distance: U256,
    /// The path that owns it.
    path: usize,
    /// The hop at which it was learned: 1 for a seed from our own table.
    hop: u32,
    progress: Progress,
}

/// A request the driver is to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Ask<P> {
    /// Whom to ask.
    pub(super) id: NodeId,
    /// Its record (the driver's peer type).
    pub(super) peer: P,
    /// The hop at which it was learned: what an answer from it costs in round trips.
    pub(super) hop: u32,
}

/// The state of one lookup (see the module docs).
#[derive(Debug)]
pub(super) struct Query<P> {
    metric: Metric,
    local: NodeId,
    k: usize,
    alpha: usize,
    /// Requests in flight, per path.
    in_flight: Vec<usize>,
    /// Seeds given to each path, to spread new subnets evenly.
    seeds: Vec<usize>,
    candidates: HashMap<NodeId, Candidate<P>>,
    subnets: HashMap<Subnet, usize>,
    /// Extra requests allowed per path because the others were slow.
    hedges: usize,
}

impl<P: Clone> Query<P> {
    /// A lookup towards `metric`'s target from node `local`, over `paths` disjoint paths
    /// (at least 1), each asking the `k` closest it knows, `alpha` at a time.
    pub(super) fn new(metric: Metric, local: NodeId, k: usize, alpha: usize, paths: usize) -> Self {
        let paths = paths.max(1);
        Query {
            metric,
            local,
            k: k.max(1),
            alpha: alpha.max(1),
            in_flight: vec![0; paths],
            seeds: vec![0; paths],
            candidates: HashMap::new(),
            subnets: HashMap::new(),
            hedges: 0,
        }
    }

    /// A starting peer from our own table. Its subnet's path takes it if the subnet has one;
    /// otherwise the path with the fewest seeds. Returns whether it was taken.
    pub(super) fn add_seed(&mut self, id: NodeId, peer: P, subnet: Option<Subnet>) -> bool {
        let path = subnet
            .and_then(|s| self.subnets.get(&s).copied())
            .unwrap_or_else(|| {
                (0..self.seeds.len())
                    .min_by_key(|p| (self.seeds[*p], *p))
                    .unwrap_or(0)
            });
        let taken = self.learn(id, peer, subnet, path, 1);
        if taken {
            self.seeds[path] += 1;
        }
        taken
    }

    /// Takes `id` into `path` unless it is us, or it or its subnet belongs to another path.
    fn learn(
        &mut self,
        id: NodeId,
        peer: P,
        subnet: Option<Subnet>,
        path: usize,
        hop: u32,
    ) -> bool {
        if id == self.local {
            return false;
        }
        if let Some(known) = self.candidates.get(&id) {
            return known.path == path;
        }
        if let Some(s) = subnet {
            if self.subnets.get(&s).is_some_and(|p| *p != path) {
                return false;
            }
            self.subnets.insert(s, path);
        }
        let distance = self.metric.distance(id);
        self.candidates.insert(
            id,
            Candidate {
                peer,
                distance,
                path,
                hop,
                progress: Progress::NotAsked,
            },
        );
        true
    }

    /// The next request to send, if a path has room and a candidate to ask among the `k`
    /// closest it knows. Call until `None`, then wait for an answer.
    pub(super) fn next_ask(&mut self) -> Option<Ask<P>> {
        for path in 0..self.in_flight.len() {
            if self.in_flight[path] >= self.alpha + self.hedges {
                continue;
            }
            let mut closest: Vec<(U256, NodeId)> = self
                .candidates
                .iter()
                .filter(|(_, c)| c.path == path)
                .map(|(id, c)| (c.distance, *id))
                .collect();
            closest.sort();
            closest.truncate(self.k);
            let next = closest
                .into_iter()
                .map(|(_, id)| id)
                .find(|id| self.candidates[id].progress == Progress::NotAsked);
            if let Some(id) = next {
                let candidate = self.candidates.get_mut(&id)?;
                candidate.progress = Progress::Waiting;
                self.in_flight[path] += 1;
                return Some(Ask {
                    id,
                    peer: candidate.peer.clone(),
                    hop: candidate.hop,
                });
            }
        }
        None
    }

    /// Requests in flight, all paths together. 0 after [`Self::next_ask`] returned `None`:
    /// the lookup is over. (The drivers count their own futures.)
    #[cfg(test)]
    fn in_flight(&self) -> usize {
        self.in_flight.iter().sum()
    }

    /// The answers are slow: allow one more request per path, up to `alpha` extra.
    pub(super) fn hedge(&mut self) {
        self.hedges = (self.hedges + 1).min(self.alpha);
    }

    /// Marks the end of a request to `from`; returns its path.
    fn finish(&mut self, from: NodeId, progress: Progress) -> Option<usize> {
        self.hedges = self.hedges.saturating_sub(1);
        let candidate = self.candidates.get_mut(&from)?;
        if candidate.progress != Progress::Waiting {
            return None;
        }
        candidate.progress = progress;
        let path = candidate.path;
        self.in_flight[path] = self.in_flight[path].saturating_sub(1);
        Some(path)
    }

    /// `from` answered with closer peers `(id, record, subnet)`: they join its path, one hop
    /// further, unless another path owns them or their subnet.
    pub(super) fn on_closer(&mut self, from: NodeId, peers: Vec<(NodeId, P, Option<Subnet>)>) {
        let hop = self.candidates.get(&from).map_or(1, |c| c.hop) + 1;
        let Some(path) = self.finish(from, Progress::Answered) else {
            return;
        };
        for (id, peer, subnet) in peers {
            self.learn(id, peer, subnet, path, hop);
        }
    }

    /// `from` failed: no answer, a refusal, or a value that did not verify. It is not asked
    /// again, and a node lookup does not return it.
    pub(super) fn on_failure(&mut self, from: NodeId) {
        self.finish(from, Progress::Failed);
    }

    /// A node lookup's result: the `k` closest candidates that answered or were never asked
    /// (those that failed, or are still waiting, are not known to be live), closest first.
    pub(super) fn closest_live(&self) -> Vec<(NodeId, P)> {
        let mut found: Vec<(U256, NodeId, &P)> = self
            .candidates
            .iter()
            .filter(|(_, c)| matches!(c.progress, Progress::Answered | Progress::NotAsked))
            .map(|(id, c)| (c.distance, *id, &c.peer))
            .collect();
        found.sort_by_key(|(d, id, _)| (*d, *id));
        found.truncate(self.k);
        found
            .into_iter()
            .map(|(_, id, p)| (id, p.clone()))
            .collect()
    }

    /// The path that owns `id`, if it is a candidate.
    #[cfg(test)]
    fn path_of(&self, id: NodeId) -> Option<usize> {
        self.candidates.get(&id).map(|c| c.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::keccak256;
    use std::collections::{HashSet, VecDeque};

    fn id(i: u32) -> NodeId {
        NodeId(keccak256(i.to_be_bytes()))
    }

    /// A simulated network of `n` nodes, each knowing its nearest neighbours on the ring and a
    /// few farther ones at doubling distances (as a Kademlia table does). Asked for a content
    /// id, a node answers with the `k` it knows closest to it, as `closest_on_ring` does.
    struct Ring {
        /// Sorted by position on the ring.
        ids: Vec<NodeId>,
        k: usize,
    }

    impl Ring {
        fn new(n: u32, k: usize) -> Self {
            let mut ids: Vec<NodeId> = (1..=n).map(id).collect();
            ids.sort_by_key(|x| x.ring().0);
            Ring { ids, k }
        }

        fn known_by(&self, of: NodeId) -> Vec<NodeId> {
            let n = self.ids.len();
            let at = self.ids.iter().position(|x| *x == of).unwrap();
            let mut steps: Vec<usize> = (1..=4).collect();
            steps.extend((2..10).map(|j| 1usize << j));
            steps
                .into_iter()
                .flat_map(|s| [(at + s) % n, (at + n - s % n) % n])
                .map(|i| self.ids[i])
                .filter(|x| *x != of)
                .collect()
        }

        fn answer(&self, from: NodeId, target: ContentId) -> Vec<NodeId> {
            let mut known = self.known_by(from);
            known.sort_by_key(|x| x.ring().distance(target));
            known.dedup();
            known.truncate(self.k);
            known
        }

        fn holder(&self, target: ContentId) -> NodeId {
            *self
                .ids
                .iter()
                .min_by_key(|x| x.ring().distance(target))
                .unwrap()
        }
    }

    /// Drives `query` against `ring` until the holder of `target` is asked, answering in
    /// request order; `fails` answer nothing. Returns the nodes asked, in order.
    fn drive(
        query: &mut Query<()>,
        ring: &Ring,
        target: ContentId,
        fails: &HashSet<NodeId>,
    ) -> (Vec<NodeId>, bool) {
        let holder = ring.holder(target);
        let mut asked = Vec::new();
        let mut waiting = VecDeque::new();
        loop {
            while let Some(ask) = query.next_ask() {
                asked.push(ask.id);
                waiting.push_back(ask.id);
            }
            let Some(from) = waiting.pop_front() else {
                return (asked, false);
            };
            if from == holder {
                return (asked, true);
            }
            if fails.contains(&from) {
                query.on_failure(from);
            } else {
                let closer = ring
                    .answer(from, target)
                    .into_iter()
                    .map(|n| (n, (), None))
                    .collect();
                query.on_closer(from, closer);
            }
        }
    }

    #[test]
    fn a_content_lookup_converges_on_the_holder_asking_each_node_once() {
        let ring = Ring::new(300, 8);
        let local = id(1);
        for t in 0u32..20 {
            let target = ContentId(keccak256(format!("target {t}")));
            let mut query = Query::new(Metric::Ring(target), local, 8, 3, 1);
            // We know a few nodes far from the target only: the lookup must walk in.
            for seed in ring.known_by(local) {
                query.add_seed(seed, (), None);
            }
            let (asked, found) = drive(&mut query, &ring, target, &HashSet::new());
            assert!(found, "target {t}: the holder was never asked");
            let unique: HashSet<_> = asked.iter().collect();
            assert_eq!(unique.len(), asked.len(), "a node was asked twice");
            // A walk along the ring would take ~300 / 8; doubling steps take a few hops.
            assert!(
                asked.len() <= 30,
                "target {t}: {} requests for 300 nodes",
                asked.len()
            );
        }
    }

    #[test]
    fn failing_peers_are_not_asked_again_nor_returned_and_the_lookup_goes_on() {
        let ring = Ring::new(200, 8);
        let local = id(1);
        let target = ContentId(keccak256("target"));
        let seeds = ring.known_by(local);
        // Half the seeds, and every node whose id hashes even, are dead.
        let fails: HashSet<NodeId> = ring
            .ids
            .iter()
            .copied()
            .filter(|n| n.0[31] % 2 == 0 && *n != ring.holder(target))
            .chain(seeds.iter().copied().take(4))
            .collect();
        let mut query = Query::new(Metric::Ring(target), local, 8, 3, 1);
        for seed in &seeds {
            query.add_seed(*seed, (), None);
        }
        let (asked, found) = drive(&mut query, &ring, target, &fails);
        assert!(found, "dead peers stopped the lookup");
        assert_eq!(asked.iter().collect::<HashSet<_>>().len(), asked.len());

        // As a node lookup: failed peers are not in the result; one that answered is.
        let mut query = Query::new(Metric::Xor(id(7)), local, 4, 2, 1);
        let (dead, live) = (id(10), id(11));
        query.add_seed(dead, (), None);
        query.add_seed(live, (), None);
        let first = query.next_ask().unwrap().id;
        let second = query.next_ask().unwrap().id;
        assert_eq!(query.next_ask(), None, "no candidate left to ask");
        assert_eq!(query.in_flight(), 2);
        query.on_failure(dead);
        query.on_closer(live, vec![(id(12), (), None), (local, (), None)]);
        assert!([first, second].contains(&dead) && [first, second].contains(&live));
        let ask = query.next_ask().expect("the new peer is asked");
        assert_eq!((ask.id, ask.hop), (id(12), 2));
        query.on_failure(dead); // a late duplicate changes nothing
        assert_eq!(query.in_flight(), 1);
        query.on_closer(id(12), Vec::new());
        assert_eq!(query.next_ask(), None);
        assert_eq!(query.in_flight(), 0, "the lookup is over");
        let result: HashSet<NodeId> = query.closest_live().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            result,
            HashSet::from([live, id(12)]),
            "never ourselves, never the dead"
        );
    }

    #[test]
    fn alpha_bounds_the_requests_in_flight_and_hedging_raises_it_by_at_most_alpha() {
        let target = ContentId(keccak256("t"));
        let mut query = Query::new(Metric::Ring(target), id(0), 16, 3, 1);
        for i in 1..=16 {
            query.add_seed(id(i), (), None);
        }
        let mut asks = Vec::new();
        while let Some(a) = query.next_ask() {
            asks.push(a);
        }
        assert_eq!(asks.len(), 3);
        // The three asked are the three closest seeds.
        let mut by_distance: Vec<NodeId> = (1..=16).map(id).collect();
        by_distance.sort_by_key(|n| n.ring().distance(target));
        let asked: Vec<NodeId> = asks.iter().map(|a| a.id).collect();
        assert_eq!(asked, by_distance[..3].to_vec());
        for _ in 0..10 {
            query.hedge();
        }
        let mut more = 0;
        while query.next_ask().is_some() {
            more += 1;
        }
        assert_eq!(more, 3, "hedging adds at most alpha");
        assert_eq!(query.in_flight(), 6);
    }

    #[test]
    fn disjoint_paths_never_share_a_node_or_a_subnet() {
        let target = ContentId(keccak256("content"));
        let local = id(0);
        let mut query = Query::new(Metric::Ring(target), local, 4, 2, 3);
        let subnet = |i: u32| Some(Subnet::V4([10, 0, (i % 5) as u8]));
        for i in 1..=15 {
            assert!(query.add_seed(id(i), (), subnet(i)));
        }
        // Each subnet lives in one path; seeds are spread over all three.
        let mut path_of_subnet: HashMap<Subnet, usize> = HashMap::new();
        for i in 1..=15 {
            let path = query.path_of(id(i)).unwrap();
            let owner = *path_of_subnet.entry(subnet(i).unwrap()).or_insert(path);
            assert_eq!(owner, path, "subnet of seed {i} in two paths");
        }
        let paths: HashSet<usize> = path_of_subnet.values().copied().collect();
        assert_eq!(paths.len(), 3);

        // Every path asks: 2 at a time each.
        let mut asks = Vec::new();
        while let Some(a) = query.next_ask() {
            asks.push(a);
        }
        assert_eq!(asks.len(), 6);
        let asking_paths: HashSet<usize> =
            asks.iter().map(|a| query.path_of(a.id).unwrap()).collect();
        assert_eq!(asking_paths.len(), 3);

        // A sybil answer from one path naming nodes of another path, a subnet of another path,
        // and a fresh block of addresses: only the fresh nodes join, in the answering path.
        let from = asks[0].id;
        let from_path = query.path_of(from).unwrap();
        let other = (1..=15)
            .map(id)
            .find(|n| query.path_of(*n) != Some(from_path))
            .unwrap();
        let other_subnet = *path_of_subnet
            .iter()
            .find(|(_, p)| **p != from_path)
            .unwrap()
            .0;
        let sybils: Vec<(NodeId, (), Option<Subnet>)> = vec![
            (other, (), Some(Subnet::V4([192, 168, 0]))),
            (id(100), (), Some(other_subnet)),
            (id(101), (), Some(Subnet::V4([172, 16, 0]))),
            (id(102), (), Some(Subnet::V4([172, 16, 0]))),
        ];
        query.on_closer(from, sybils);
        assert_ne!(
            query.path_of(other),
            Some(from_path),
            "stolen from its path"
        );
        assert_eq!(query.path_of(id(100)), None, "a subnet of another path");
        assert_eq!(query.path_of(id(101)), Some(from_path));
        assert_eq!(query.path_of(id(102)), Some(from_path));

        // Run every path to its end: no node is asked twice, by whichever path.
        let mut asked: Vec<NodeId> = asks.iter().map(|a| a.id).collect();
        let mut waiting: VecDeque<NodeId> = asked.iter().copied().collect();
        while let Some(n) = waiting.pop_front() {
            query.on_closer(n, Vec::new());
            while let Some(a) = query.next_ask() {
                asked.push(a.id);
                waiting.push_back(a.id);
            }
        }
        assert_eq!(query.in_flight(), 0);
        assert_eq!(asked.iter().collect::<HashSet<_>>().len(), asked.len());
        assert!(asked.contains(&id(101)) && !asked.contains(&id(100)));
    }

    #[test]
    fn one_path_takes_every_peer_whatever_its_subnet() {
        let target = ContentId(keccak256("plain"));
        let mut query = Query::new(Metric::Ring(target), id(0), 8, 3, 1);
        let net = Some(Subnet::V4([10, 0, 0]));
        assert!(query.add_seed(id(1), (), net));
        assert!(query.add_seed(id(2), (), net));
        let ask = query.next_ask().unwrap();
        query.on_closer(ask.id, vec![(id(3), (), net), (id(4), (), None)]);
        for i in 1..=4 {
            assert_eq!(query.path_of(id(i)), Some(0));
        }
    }
}
