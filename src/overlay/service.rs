//! The overlay itself: the state one node's overlay shares between its parts, the accessors the
//! network and tests use, and the one place where bytes from a peer become content
//! ([`Overlay::validate`]).
//!
//! The parts, each in its own file: `inbound.rs` answers each wire message; `outbound.rs` sends
//! requests (ping, FindNodes, FindContent, offers); `lookup.rs` runs node and content lookups
//! (deciding with the I/O-free state machine of `query.rs`), bootstrap and refresh; `gossip.rs`
//! offers new content onward and places a bridge's content; `config.rs` holds the tunables and
//! reports. Requests arrive from [`crate::net`] as bytes, are decoded by [`crate::wire`], and
//! content is checked by [`crate::proof`] against the [`TrustedHeaders`] before it is stored in
//! [`crate::store`], returned to a caller, or offered onward.

use super::config::{OverlayConfig, TrafficCounters};
use super::heads::TrustedHeaders;
use super::limits::{Guard, LimitCounters};
use super::table::{NodeId, RoutingTable};
use super::{LookupStats, OverlayError};
use crate::content::{ContentKey, ContentValue, Radius};
use crate::net::{Enr, NetError, Transport};
use crate::proof::{self, VerifiedContent};
use crate::store::ContentStore;
use crate::wire::{check_outgoing, ProtocolVersion};
use alloy_primitives::B256;
use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;
use tokio::sync::Semaphore;

/// A bounded set remembering recent items, oldest forgotten first.
#[derive(Debug)]
pub(super) struct RecentSet<T> {
    order: VecDeque<T>,
    set: HashSet<T>,
    cap: usize,
}

impl<T: std::hash::Hash + Eq + Clone> RecentSet<T> {
    pub(super) fn new(cap: usize) -> Self {
        Self {
            order: VecDeque::new(),
            set: HashSet::new(),
            cap,
        }
    }

    /// Adds `item`; false if it was already there.
    pub(super) fn insert(&mut self, item: T) -> bool {
        if !self.set.insert(item.clone()) {
            return false;
        }
        self.order.push_back(item);
        if self.order.len() > self.cap {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }
}

pub(super) struct Inner {
    pub(super) transport: Transport,
    pub(super) local_id: NodeId,
    pub(super) config: OverlayConfig,
    pub(super) table: Mutex<RoutingTable<Enr>>,
    /// `None` once the overlay is closed: the file is released even while tasks still hold
    /// clones of the overlay.
    pub(super) store: Mutex<Option<ContentStore>>,
    pub(super) heads: RwLock<TrustedHeaders>,
    /// Peers we have exchanged ping extension type 0 with.
    pub(super) capable: Mutex<HashSet<NodeId>>,
    /// Content keys already offered onward: never gossip the same thing twice.
    pub(super) gossiped: Mutex<RecentSet<ContentKey>>,
    /// Peers being pinged because they contacted us from outside the table.
    pub(super) pinging: Mutex<HashSet<NodeId>>,
    /// Content keys arriving right now, to decline duplicates.
    pub(super) inbound: Mutex<HashSet<ContentKey>>,
    pub(super) transfer_slots: Arc<Semaphore>,
    pub(super) counters: TrafficCounters,
    /// Rate limits, bans and the subnet cap.
    pub(super) guard: Guard,
    /// Content lookups running at once.
    pub(super) lookup_slots: Arc<Semaphore>,
    /// Not reachable from outside (see `super::link`): announce radius 0, so that peers
    /// neither offer us content nor route lookups to us for it.
    pub(super) client_only: AtomicBool,
}

/// The overlay of one node. Cheap to clone; every clone is the same overlay.
#[derive(Clone)]
pub struct Overlay {
    pub(super) inner: Arc<Inner>,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves consistent data (every critical section
    // is a single table or store call), so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The overlay node id of a peer's record.
pub(super) fn node_id_of(enr: &Enr) -> NodeId {
    NodeId(B256::from(enr.node_id().raw()))
}

pub(super) fn encode_enr(enr: &Enr) -> alloy_primitives::Bytes {
    crate::net::enr_to_rlp(enr).into()
}

/// The one ENR decoder for peer bytes (the one `fuzz/` targets), errors as `None`.
pub(super) fn decode_enr(bytes: &[u8]) -> Option<Enr> {
    crate::net::enr_from_rlp(bytes).ok()
}

impl Overlay {
    /// An overlay over `transport`, keeping content in `store`.
    pub fn new(transport: Transport, store: ContentStore, config: OverlayConfig) -> Self {
        let local_id = NodeId(B256::from(transport.local_node_id()));
        let k = config.k;
        let slots = config.max_inbound_transfers;
        let guard = Guard::new(config.limits.clone());
        let lookup_slots = Arc::new(Semaphore::new(config.limits.max_concurrent_lookups.max(1)));
        Self {
            inner: Arc::new(Inner {
                transport,
                local_id,
                config,
                table: Mutex::new(RoutingTable::new(local_id, k)),
                store: Mutex::new(Some(store)),
                heads: RwLock::new(TrustedHeaders::default()),
                capable: Mutex::new(HashSet::new()),
                gossiped: Mutex::new(RecentSet::new(100_000)),
                inbound: Mutex::new(HashSet::new()),
                pinging: Mutex::new(HashSet::new()),
                transfer_slots: Arc::new(Semaphore::new(slots)),
                counters: TrafficCounters::default(),
                guard,
                lookup_slots,
                client_only: AtomicBool::new(false),
            }),
        }
    }

    /// Our node id.
    pub fn local_id(&self) -> NodeId {
        self.inner.local_id
    }

    /// The transport.
    pub fn transport(&self) -> &Transport {
        &self.inner.transport
    }

    /// Our radius, from the store.
    pub fn radius(&self) -> Radius {
        self.with_store(|s| s.radius()).unwrap_or(Radius::ZERO)
    }

    /// Serve as a client only (`true`: announce radius 0 in pings and pongs) or as a storage
    /// peer again. For a node no peer can reach.
    pub fn set_client_only(&self, client_only: bool) {
        self.inner.client_only.store(client_only, Ordering::Relaxed);
    }

    /// Whether the node announces itself as a client only.
    pub fn is_client_only(&self) -> bool {
        self.inner.client_only.load(Ordering::Relaxed)
    }

    /// The radius we announce: ours, or 0 when we serve as a client only.
    pub(super) fn announced_radius(&self) -> Radius {
        if self.is_client_only() {
            Radius::ZERO
        } else {
            self.radius()
        }
    }

    /// Run `f` with the store.
    pub fn with_store<R>(&self, f: impl FnOnce(&mut ContentStore) -> R) -> Result<R, OverlayError> {
        lock(&self.inner.store)
            .as_mut()
            .map(f)
            .ok_or(OverlayError::Closed)
    }

    /// Close the store (checkpointing it), releasing the database file. Later store operations
    /// fail with [`OverlayError::Closed`]; requests are answered as by a node that stores
    /// nothing.
    pub fn close_store(&self) -> Result<(), OverlayError> {
        match lock(&self.inner.store).take() {
            Some(store) => store.close().map_err(OverlayError::Store),
            None => Ok(()),
        }
    }

    /// Run `f` with the routing table.
    pub fn with_table<R>(&self, f: impl FnOnce(&mut RoutingTable<Enr>) -> R) -> R {
        f(&mut lock(&self.inner.table))
    }

    /// Read the trusted headers.
    pub fn with_heads<R>(&self, f: impl FnOnce(&TrustedHeaders) -> R) -> R {
        f(&self.inner.heads.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Change the trusted headers.
    pub fn update_heads<R>(&self, f: impl FnOnce(&mut TrustedHeaders) -> R) -> R {
        f(&mut self.inner.heads.write().unwrap_or_else(|e| e.into_inner()))
    }

    /// Traffic counters.
    pub fn counters(&self) -> &TrafficCounters {
        &self.inner.counters
    }

    /// What the peer limits refused so far.
    pub fn limit_counters(&self) -> LimitCounters {
        self.inner.guard.counters()
    }

    /// Whether `peer` is banned (caught lying) and kept out of the routing table.
    pub fn is_banned(&self, peer: NodeId) -> bool {
        self.inner.guard.is_banned(peer)
    }

    /// The tunables (for the lookup variants in sibling modules).
    pub(super) fn config(&self) -> &OverlayConfig {
        &self.inner.config
    }

    /// The content-lookup slots.
    pub(super) fn lookup_slots(&self) -> Arc<Semaphore> {
        self.inner.lookup_slots.clone()
    }

    /// A value a lookup got from `from`: verified and cached if within our radius, or, when
    /// it does not verify, counted and its sender penalised.
    pub(super) fn take_value(
        &self,
        key: &ContentKey,
        bytes: &[u8],
        from: NodeId,
        stats: &mut LookupStats,
    ) -> Option<VerifiedContent> {
        match self.validate(key, bytes) {
            Ok(content) => {
                let _ = self.store_verified(&content);
                Some(content)
            }
            Err(e) => {
                tracing::debug!(peer = ?from, error = %e, "peer returned invalid content");
                stats.invalid_responses += 1;
                self.count_invalid_item();
                self.penalise(from);
                None
            }
        }
    }

    /// Counts a content item that failed verification.
    pub(super) fn count_invalid_item(&self) {
        self.inner
            .counters
            .invalid_items
            .fetch_add(1, Ordering::Relaxed);
    }

    /// The one trusted-root check: content under a state root is taken, served from a lookup or
    /// looked up only when that root is the state root of a trusted header (keys without a
    /// root, bytecode, are checked by their hash instead).
    pub(super) fn require_trusted_root(&self, key: &ContentKey) -> Result<(), OverlayError> {
        match (key.state_root(), key.block_hash()) {
            // A diff item names its block too: that block must be trusted, with that root.
            (Some(root), Some(block)) if !self.with_heads(|h| h.is_trusted_block(block, root)) => {
                Err(OverlayError::UntrustedRoot(root))
            }
            (Some(root), _) if !self.with_heads(|h| h.is_trusted_root(root)) => {
                Err(OverlayError::UntrustedRoot(root))
            }
            _ => Ok(()),
        }
    }

    // ---------------------------------------------------------------------------------------
    // Validation: the one place where bytes from a peer become content.
    // ---------------------------------------------------------------------------------------

    /// Decode and verify `bytes` as the value of `key`, anchored to a trusted root.
    pub fn validate(
        &self,
        key: &ContentKey,
        bytes: &[u8],
    ) -> Result<VerifiedContent, OverlayError> {
        self.require_trusted_root(key)?;
        let value = ContentValue::decode(key, bytes).map_err(OverlayError::InvalidContent)?;
        proof::verify(*key, value).map_err(OverlayError::InvalidProof)
    }

    /// Store verified content if it is within our radius. Returns whether it is stored now.
    pub fn store_verified(&self, content: &VerifiedContent) -> Result<bool, OverlayError> {
        let outcome = self
            .with_store(|s| s.put(content))?
            .map_err(OverlayError::Store)?;
        Ok(matches!(outcome, crate::store::PutOutcome::Stored { .. }))
    }

    /// Counts (and logs) a message we send that breaks the spec's rules for senders.
    pub(super) fn check_sent(&self, body: &[u8], version: ProtocolVersion) {
        if let Err(e) = check_outgoing(body, version) {
            self.inner
                .counters
                .spec_violations
                .fetch_add(1, Ordering::Relaxed);
            tracing::error!(error = %e, "we sent a message that breaks the wire spec");
        }
    }

    /// Put a live peer with a known radius into the table (if it is on our chain).
    pub(super) fn learn_peer(&self, enr: Enr, radius: Radius) {
        if self.inner.transport.peer_version(&enr).is_err() {
            return;
        }
        let id = node_id_of(&enr);
        let mut table = lock(&self.inner.table);
        if self.inner.guard.may_enter(&table, id, &enr) {
            table.insert(id, enr, radius, Instant::now());
        }
    }

    /// A peer sent invalid data: it leaves the routing table and is banned from it for a while.
    pub(super) fn penalise(&self, peer: NodeId) {
        tracing::debug!(?peer, "peer penalised: out of the table, banned");
        lock(&self.inner.table).remove(peer);
        self.inner.guard.ban(peer);
    }
}

impl From<NetError> for OverlayError {
    fn from(e: NetError) -> Self {
        OverlayError::Net(e)
    }
}
