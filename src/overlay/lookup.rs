//! Lookups, the drivers: node lookups (XOR metric, FindNodes) and content lookups (ring metric,
//! FindContent, optionally over disjoint paths), and joining and upkeep made of them
//! (bootstrap, refresh).
//!
//! The drivers do the I/O: they send the requests the state machine of `query.rs` chooses, α at
//! a time, and feed the answers back to it. A content lookup ends at the first value that
//! verifies against a trusted root; invalid values cost their sender its place in the table, and
//! the lookup goes on.
//!
//! With more than one disjoint path ([`super::OverlayConfig::disjoint_paths`], [`LookupOptions`]) a
//! content lookup is a high-assurance one (S/Kademlia, seed 002): a plain lookup follows
//! whoever claims to be closest to the content, and sybil nodes with ids ground near a content
//! id can fill every "closest" slot and answer only with each other. With `d` paths, the
//! starting peers are split into `d` groups that never share a node or a subnet (/24), so
//! sybils from one block of addresses capture at most one path; content is verified, so one
//! honest path is enough.

use super::limits::{enr_ip, subnet_of, Subnet};
use super::outbound::PeerAnswer;
use super::query::{Metric, Query};
use super::service::node_id_of;
use super::table::NodeId;
use super::{FoundContent, LookupOptions, LookupStats, Overlay, OverlayError};
use crate::content::ContentKey;
use crate::net::Enr;
use crate::proof;
use alloy_primitives::B256;
use futures::stream::{FuturesUnordered, StreamExt};
use std::future::Future;
use std::time::{Duration, Instant};

/// The requests of a lookup that returned before they did (a hedged request answered first)
/// run to their end in the background: what they find out about their peer still counts — a
/// peer that promised a stream and never sent it is caught even when someone else was faster.
struct RunToEnd<F: Future + Send + 'static>(FuturesUnordered<F>)
where
    F::Output: Send;

impl<F: Future + Send + 'static> Drop for RunToEnd<F>
where
    F::Output: Send,
{
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let mut rest = std::mem::take(&mut self.0);
            runtime.spawn(async move { while rest.next().await.is_some() {} });
        }
    }
}

impl<F: Future + Send + 'static> std::ops::Deref for RunToEnd<F>
where
    F::Output: Send,
{
    type Target = FuturesUnordered<F>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<F: Future + Send + 'static> std::ops::DerefMut for RunToEnd<F>
where
    F::Output: Send,
{
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Overlay {
    /// Iterative node lookup: the `k` closest live nodes to `target` we can find (XOR metric).
    pub async fn lookup_nodes(&self, target: NodeId) -> Vec<Enr> {
        let config = self.config();
        let mut query = Query::new(
            Metric::Xor(target),
            self.local_id(),
            config.k,
            config.alpha,
            1,
        );
        self.with_table(|t| {
            for e in t.closest_by_xor(target, config.k) {
                query.add_seed(e.node_id, e.peer.clone(), None);
            }
        });
        let mut in_flight = FuturesUnordered::new();
        let deadline = Instant::now() + config.lookup_timeout;
        loop {
            while let Some(ask) = query.next_ask() {
                // FindNodes asks by log2 distance from the peer: the target's, and one each side.
                let d = ask.id.log2_distance(target);
                let mut distances: Vec<u16> = [d.saturating_sub(1), d, d + 1]
                    .into_iter()
                    .filter(|d| (1..=256).contains(d))
                    .collect();
                distances.dedup();
                let overlay = self.clone();
                in_flight
                    .push(async move { (ask.id, overlay.find_nodes(&ask.peer, distances).await) });
            }
            if in_flight.is_empty() || Instant::now() > deadline {
                break;
            }
            let Some((from, result)) = in_flight.next().await else {
                break;
            };
            match result {
                Ok(enrs) => {
                    let closer = enrs
                        .into_iter()
                        .map(|e| (node_id_of(&e), e, None))
                        .collect();
                    query.on_closer(from, closer);
                }
                Err(_) => query.on_failure(from),
            }
        }
        let found = query.closest_live();
        // Nodes not yet in the table get a ping: it tells us their radius, and a Pong puts them
        // in the table.
        let newcomers: Vec<&Enr> = found
            .iter()
            .filter(|(id, _)| self.with_table(|t| t.get(*id).is_none()))
            .map(|(_, e)| e)
            .collect();
        let mut pings: FuturesUnordered<_> =
            newcomers.into_iter().map(|enr| self.ping(enr)).collect();
        while pings.next().await.is_some() {}
        drop(pings);
        found.into_iter().map(|(_, e)| e).collect()
    }

    /// Recursive content lookup: ask peers ever closer to the content id (ring distance), α at
    /// a time, until one returns a value that verifies against a trusted root. Invalid values
    /// cost the sender its place in the table; the lookup goes on. Runs over
    /// [`super::OverlayConfig::disjoint_paths`] disjoint paths (1 by default: a plain lookup).
    pub async fn find_content(&self, key: ContentKey) -> Result<FoundContent, OverlayError> {
        let options = LookupOptions {
            disjoint_paths: self.config().disjoint_paths,
        };
        self.find_content_with(key, options).await
    }

    /// A content lookup as [`Overlay::find_content`], with `options`: with more than one
    /// disjoint path, a high-assurance lookup that sybils near the content id cannot stop as
    /// long as one path starts at an honest peer.
    pub async fn find_content_with(
        &self,
        key: ContentKey,
        options: LookupOptions,
    ) -> Result<FoundContent, OverlayError> {
        self.require_trusted_root(&key)?;
        let mut stats = LookupStats::default();
        if let Ok(Ok(Some(value))) = self.with_store(|s| s.get(&key)) {
            if let Ok(content) = proof::verify(key, value) {
                stats.local = true;
                return Ok(FoundContent { content, stats });
            }
        }
        let config = self.config();
        let deadline = Instant::now() + config.lookup_timeout;
        // Bounded concurrency: a caller flooding us with lookups waits for a slot.
        let Ok(Ok(_slot)) =
            tokio::time::timeout_at(deadline.into(), self.lookup_slots().acquire_owned()).await
        else {
            return Err(OverlayError::NotFound(key));
        };
        let target = key.content_id();
        let paths = options.disjoint_paths.max(1);
        let (k, alpha) = (config.k, config.alpha);
        let mut query = Query::new(Metric::Ring(target), self.local_id(), k, alpha, paths);
        // Seeds: the closest peers we know, `k` per path; stale ones too when too few are live.
        self.with_table(|t| {
            let mut peers = t.closest_on_ring(target, k * paths);
            if peers.len() < alpha {
                peers = t.closest_on_ring_with_stale(target, k * paths);
            }
            for e in peers {
                query.add_seed(e.node_id, e.peer.clone(), self.path_subnet(&e.peer, paths));
            }
        });
        let mut in_flight = RunToEnd(FuturesUnordered::new());
        loop {
            while let Some(ask) = query.next_ask() {
                stats.messages += 1;
                let overlay = self.clone();
                in_flight.push(async move {
                    let answer = overlay.find_content_from(&ask.peer, &key).await;
                    (ask.id, ask.hop, answer)
                });
            }
            if in_flight.is_empty() {
                return Err(OverlayError::NotFound(key));
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            let wait = remaining.min(config.hedge_delay);
            let (from, hop, result) = match tokio::time::timeout(wait, in_flight.next()).await {
                Ok(Some(answer)) => answer,
                // Slow answers: ask one more peer alongside.
                Err(_) if wait < remaining => {
                    query.hedge();
                    continue;
                }
                _ => return Err(OverlayError::NotFound(key)),
            };
            match result {
                Ok((PeerAnswer::Value(bytes), sent, received)) => {
                    stats.bytes_sent += sent;
                    stats.bytes_received += received;
                    if let Some(content) = self.take_value(&key, &bytes, from, &mut stats) {
                        stats.round_trips = hop;
                        return Ok(FoundContent { content, stats });
                    }
                    query.on_failure(from);
                }
                Ok((PeerAnswer::Closer(enrs), sent, received)) => {
                    stats.bytes_sent += sent;
                    stats.bytes_received += received;
                    let closer = enrs
                        .into_iter()
                        .map(|e| (node_id_of(&e), e))
                        // A peer caught lying is not asked again in this lookup either.
                        .filter(|(id, _)| !self.is_banned(*id))
                        .map(|(id, e)| {
                            let subnet = self.path_subnet(&e, paths);
                            (id, e, subnet)
                        })
                        .collect();
                    query.on_closer(from, closer);
                }
                Err(e) => {
                    tracing::trace!(peer = ?from, error = %e, "FindContent failed");
                    query.on_failure(from);
                }
            }
        }
    }

    /// The subnet that ties a peer to one of `paths` disjoint paths; `None` with one path, or
    /// when it has no address or is exempt (loopback, see
    /// [`super::PeerLimits::exempt_loopback`]): then only the node itself is tied.
    fn path_subnet(&self, enr: &Enr, paths: usize) -> Option<Subnet> {
        if paths <= 1 {
            return None;
        }
        let ip = enr_ip(enr)?;
        if self.config().limits.exempt_loopback && ip.is_loopback() {
            return None;
        }
        Some(subnet_of(ip))
    }

    // ---------------------------------------------------------------------------------------
    // Joining and upkeep.
    // ---------------------------------------------------------------------------------------

    /// Join through `bootnodes`: ping each, then look up our own id and a few random ids to
    /// fill the table.
    pub async fn bootstrap(&self, bootnodes: &[Enr]) {
        for enr in bootnodes {
            if let Err(e) = self.ping(enr).await {
                tracing::debug!(error = %e, "bootnode did not answer");
            }
        }
        self.lookup_nodes(self.local_id()).await;
        for _ in 0..3 {
            self.lookup_nodes(NodeId(B256::random())).await;
        }
    }

    /// One round of upkeep: ping peers not heard from within `interval` (liveness, and their
    /// current radius).
    pub async fn refresh(&self, interval: Duration) {
        let Some(before) = Instant::now().checked_sub(interval) else {
            return;
        };
        let due: Vec<Enr> = self.with_table(|t| {
            t.due_for_ping(before)
                .into_iter()
                .map(|e| e.peer.clone())
                .collect()
        });
        let mut pings: FuturesUnordered<_> = due.iter().map(|enr| self.ping(enr)).collect();
        while pings.next().await.is_some() {}
    }
}
