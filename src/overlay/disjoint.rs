//! High-assurance content lookups over disjoint paths (S/Kademlia, seed 002).
//!
//! A plain lookup follows whoever claims to be closest to the content. Sybil nodes with ids
//! ground near a content id can fill every "closest" slot and answer only with each other, so
//! the lookup never reaches an honest holder. With `d` disjoint paths, the starting peers are
//! split into `d` groups and each group runs its own lookup; no node is queried by two paths,
//! and every subnet (/24) belongs to one path only, so sybils from one block of addresses can
//! capture at most one path. Content is verified, so one honest path is enough: the first
//! value that verifies wins.

use super::limits::{enr_ip, subnet_of, Subnet};
use super::service::{node_id_of, PeerAnswer, RunToEnd};
use super::table::NodeId;
use super::{FoundContent, LookupStats, Overlay, OverlayError};
use crate::content::ContentKey;
use crate::net::Enr;
use crate::proof;
use futures::stream::{FuturesUnordered, StreamExt};
use std::collections::{HashMap, HashSet};
use std::time::Instant;

/// How a content lookup runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LookupOptions {
    /// Disjoint paths (1: a plain lookup). 3 to 4 is what S/Kademlia suggests for high
    /// assurance; each path costs about one plain lookup's messages.
    pub disjoint_paths: usize,
}

impl Default for LookupOptions {
    fn default() -> Self {
        LookupOptions { disjoint_paths: 1 }
    }
}

/// One path: its candidates (id -> ENR and the hop it was learned at) and its requests in
/// flight.
#[derive(Default)]
struct Path {
    known: HashMap<NodeId, (Enr, u32)>,
    in_flight: usize,
}

/// Which path owns each node and each subnet.
#[derive(Default)]
struct Claims {
    nodes: HashMap<NodeId, usize>,
    subnets: HashMap<Subnet, usize>,
}

impl Claims {
    /// Claims `id` (and its subnet) for `path`; false if another path owns either.
    fn claim(&mut self, id: NodeId, subnet: Option<Subnet>, path: usize) -> bool {
        if self.nodes.get(&id).is_some_and(|p| *p != path) {
            return false;
        }
        if let Some(s) = subnet {
            if self.subnets.get(&s).is_some_and(|p| *p != path) {
                return false;
            }
            self.subnets.insert(s, path);
        }
        self.nodes.insert(id, path);
        true
    }
}

impl Overlay {
    /// The subnet that ties a peer to one path; `None` when it has no address or is exempt
    /// (loopback, see [`super::PeerLimits::exempt_loopback`]): then only the node itself is.
    fn path_subnet(&self, enr: &Enr) -> Option<Subnet> {
        let ip = enr_ip(enr)?;
        if self.config().limits.exempt_loopback && ip.is_loopback() {
            return None;
        }
        Some(subnet_of(ip))
    }

    /// A content lookup as [`Overlay::find_content`], with `options`: with more than one
    /// disjoint path, a high-assurance lookup that sybils near the content id cannot stop as
    /// long as one path starts at an honest peer.
    pub async fn find_content_with(
        &self,
        key: ContentKey,
        options: LookupOptions,
    ) -> Result<FoundContent, OverlayError> {
        let d = options.disjoint_paths;
        if d <= 1 {
            return self.find_content(key).await;
        }
        if let Some(root) = key.state_root() {
            if !self.with_heads(|h| h.is_trusted_root(root)) {
                return Err(OverlayError::UntrustedRoot(root));
            }
        }
        let mut stats = LookupStats::default();
        if let Ok(Ok(Some(value))) = self.with_store(|s| s.get(&key)) {
            if let Ok(content) = proof::verify(key, value) {
                stats.local = true;
                return Ok(FoundContent { content, stats });
            }
        }
        let k = self.config().k;
        let alpha = self.config().alpha;
        let deadline = Instant::now() + self.config().lookup_timeout;
        let Ok(Ok(_slot)) =
            tokio::time::timeout_at(deadline.into(), self.lookup_slots().acquire_owned()).await
        else {
            return Err(OverlayError::NotFound(key));
        };
        let target = key.content_id();
        let local = self.local_id();

        // Seeds: the closest peers we know, each subnet to one path, new subnets to the path
        // with the fewest seeds.
        let seeds: Vec<(NodeId, Enr)> = self.with_table(|t| {
            t.closest_on_ring(target, k * d)
                .into_iter()
                .map(|e| (e.node_id, e.peer.clone()))
                .collect()
        });
        let mut paths: Vec<Path> = (0..d).map(|_| Path::default()).collect();
        let mut claims = Claims::default();
        for (id, enr) in seeds {
            let subnet = self.path_subnet(&enr);
            let path = subnet
                .and_then(|s| claims.subnets.get(&s).copied())
                .unwrap_or_else(|| {
                    (0..d)
                        .min_by_key(|p| (paths[*p].known.len(), *p))
                        .unwrap_or(0)
                });
            if claims.claim(id, subnet, path) {
                paths[path].known.insert(id, (enr, 1));
            }
        }

        let mut queried: HashSet<NodeId> = HashSet::new();
        let mut in_flight = RunToEnd(FuturesUnordered::new());
        loop {
            for (index, path) in paths.iter_mut().enumerate() {
                let mut closest: Vec<(NodeId, Enr, u32)> = path
                    .known
                    .iter()
                    .map(|(id, (e, hop))| (*id, e.clone(), *hop))
                    .collect();
                closest.sort_by_key(|(id, _, _)| id.ring().distance(target));
                closest.truncate(k);
                for (id, enr, hop) in closest {
                    if path.in_flight >= alpha {
                        break;
                    }
                    if !queried.insert(id) {
                        continue;
                    }
                    path.in_flight += 1;
                    stats.messages += 1;
                    let overlay = self.clone();
                    in_flight.push(async move {
                        (index, id, hop, overlay.find_content_from(&enr, &key).await)
                    });
                }
            }
            if in_flight.is_empty() {
                return Err(OverlayError::NotFound(key));
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            let Ok(Some((index, from, hop, result))) =
                tokio::time::timeout(remaining, in_flight.next()).await
            else {
                return Err(OverlayError::NotFound(key));
            };
            paths[index].in_flight -= 1;
            match result {
                Ok((PeerAnswer::Value(bytes), sent, received)) => {
                    stats.bytes_sent += sent;
                    stats.bytes_received += received;
                    if let Some(content) = self.take_value(&key, &bytes, from, &mut stats) {
                        stats.round_trips = hop;
                        return Ok(FoundContent { content, stats });
                    }
                }
                Ok((PeerAnswer::Closer(enrs), sent, received)) => {
                    stats.bytes_sent += sent;
                    stats.bytes_received += received;
                    for enr in enrs {
                        let id = node_id_of(&enr);
                        if id == local || self.is_banned(id) {
                            continue;
                        }
                        let subnet = self.path_subnet(&enr);
                        if claims.claim(id, subnet, index) {
                            paths[index].known.entry(id).or_insert((enr, hop + 1));
                        }
                    }
                }
                Err(e) => tracing::trace!(peer = ?from, error = %e, "FindContent failed"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::B256;

    #[test]
    fn a_node_or_subnet_belongs_to_one_path() {
        let mut claims = Claims::default();
        let a = NodeId(B256::repeat_byte(1));
        let b = NodeId(B256::repeat_byte(2));
        let net = Some(Subnet::V4([10, 0, 9]));
        assert!(claims.claim(a, net, 0));
        assert!(claims.claim(a, net, 0), "the owner may see it again");
        assert!(!claims.claim(a, None, 1), "another path may not");
        assert!(
            !claims.claim(b, net, 1),
            "nor another node of the same subnet"
        );
        assert!(claims.claim(b, Some(Subnet::V4([10, 0, 8])), 1));
    }
}
