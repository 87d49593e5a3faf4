//! The overlay service: answers each wire message, runs lookups, and gossips offered content.
//!
//! Requests arrive from [`crate::net`] as bytes, are decoded by [`crate::wire`], and content is
//! checked by [`crate::proof`] against the [`TrustedHeaders`] before it is stored in
//! [`crate::store`], returned to a caller, or offered onward.

use super::heads::TrustedHeaders;
use super::limits::{Guard, LimitCounters, PeerLimits};
use super::table::{NodeId, RoutingTable};
use super::OverlayError;
use crate::content::{AccountKey, ContentId, ContentKey, ContentValue, Radius, Witness};
use crate::net::{Enr, InboundRequest, NetError, Transport};
use crate::proof::{self, TrieKind, VerifiedContent};
use crate::store::ContentStore;
use crate::wire::{
    check_client_info, check_outgoing, framing, Accept, AcceptCode, Content, FindContent,
    FindNodes, Message, Nodes, Offer, Ping, PingError, PingExtension, PingPayload, Pong,
    ProtocolVersion, MAX_CONTENT_KEYS_PER_OFFER,
};
use alloy_primitives::{keccak256, B256, U256};
use alloy_trie::EMPTY_ROOT_HASH;
use futures::stream::{FuturesUnordered, StreamExt};
use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Largest content sent inline in a Content message; larger values go over uTP. A TALKRESP
/// must fit one discv5 packet (1280 bytes) with its headers; trin uses about the same cut.
pub const MAX_INLINE_CONTENT: usize = 1100;
/// Most ENR bytes put in one Nodes or Content(enrs) answer, for the same packet limit.
const MAX_ENR_PAYLOAD: usize = 1000;
/// Most content-key bytes in one Offer, for the same packet limit (about 17 account keys).
const MAX_OFFER_KEY_BYTES: usize = 1000;
/// Largest content value accepted from a peer: a storage value with two full witnesses.
const MAX_VALUE_BYTES: usize = 2 * 32 * (4 + 1024) + 8;
/// Our client info for ping extension type 0, in the spec's four parts, made by `build.rs`:
/// `portal-state/v<version>-<short commit or "unknown">/<os>-<arch>/rustc<version>`.
pub const CLIENT_INFO: &str = env!("PORTAL_STATE_CLIENT_INFO");
/// Capabilities we announce in ping extension type 0.
const CAPABILITIES: [u16; 3] = [
    PingExtension::CAPABILITIES,
    PingExtension::BASIC_RADIUS,
    PingExtension::ERROR,
];

/// Tunables of the overlay.
#[derive(Clone, Debug)]
pub struct OverlayConfig {
    /// Peers per k-bucket, and the size of a lookup's result set.
    pub k: usize,
    /// Requests a lookup keeps in flight.
    pub alpha: usize,
    /// Deadline of a whole lookup.
    pub lookup_timeout: Duration,
    /// Peers each new piece of content is offered onward to: the closest interested peers
    /// that are closer to it than we are.
    pub gossip_fanout: usize,
    /// Concurrent inbound offer transfers; more are answered "rate limited".
    pub max_inbound_transfers: usize,
    /// Client info sent in ping extension type 0. Default: [`CLIENT_INFO`]. It must be the
    /// spec's `name/version-commit/os-arch/language-version` (see
    /// [`crate::wire::check_client_info`]: clients such as trin drop the whole payload
    /// otherwise); anything else is sent as the empty string, the spec's privacy option.
    pub client_info: String,
    /// Rate limits, caps and the routing table's subnet cap (see [`PeerLimits`]).
    pub limits: PeerLimits,
    /// A content lookup waiting this long with no answer asks one more peer (a hedged
    /// request), up to `alpha` extra: on a lossy link a lost packet then costs this delay, not
    /// a whole request timeout. About the median answer time of a mobile link.
    pub hedge_delay: Duration,
}

impl Default for OverlayConfig {
    fn default() -> Self {
        Self {
            k: 16,
            alpha: 3,
            lookup_timeout: Duration::from_secs(20),
            gossip_fanout: 4,
            max_inbound_transfers: 32,
            client_info: CLIENT_INFO.to_string(),
            limits: PeerLimits::default(),
            hedge_delay: Duration::from_millis(400),
        }
    }
}

/// Counters of what a lookup cost, for benchmarks and logs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LookupStats {
    /// Overlay requests sent (FindContent or FindNodes).
    pub messages: u32,
    /// Sequential rounds: the hop at which the answer came (1 = a peer from our own table).
    pub round_trips: u32,
    /// Bytes sent in requests.
    pub bytes_sent: u64,
    /// Bytes received in answers, uTP payloads included.
    pub bytes_received: u64,
    /// Peers that answered with content that failed verification.
    pub invalid_responses: u32,
    /// Whether the content was in our own store.
    pub local: bool,
}

/// What placing content on the nodes closest to it did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlacementReport {
    /// Items to place.
    pub items: usize,
    /// Item offers made (one item to one peer), retries included.
    pub offered: usize,
    /// Item offers accepted.
    pub accepted: usize,
    /// Item offers answered "already stored": the item is there.
    pub already_stored: usize,
    /// Item offers declined for good (outside the radius, not verifiable, ...).
    pub declined: usize,
    /// Of those, declined as outside the peer's radius.
    pub outside_radius: usize,
    /// Item offers declined because the peer was busy (asked again later).
    pub busy: usize,
    /// Item offers lost to failed exchanges (no answer, failed uTP transfer).
    pub failed: usize,
    /// Distinct peers with at least one failed exchange.
    pub failed_peers: usize,
    /// Item offers made after the first round: to a busy peer again, or to the next closest
    /// peer after a refusal or a failure.
    pub retried: usize,
    /// Node lookups run to find the nodes closest to the items.
    pub lookups: usize,
    /// Items no peer took.
    pub unplaced: usize,
}

/// Content found by a lookup, verified.
#[derive(Clone, Debug)]
pub struct FoundContent {
    /// The verified content.
    pub content: VerifiedContent,
    /// What finding it cost.
    pub stats: LookupStats,
}

/// A bounded set remembering recent items, oldest forgotten first.
#[derive(Debug)]
struct RecentSet<T> {
    order: VecDeque<T>,
    set: HashSet<T>,
    cap: usize,
}

impl<T: std::hash::Hash + Eq + Clone> RecentSet<T> {
    fn new(cap: usize) -> Self {
        Self {
            order: VecDeque::new(),
            set: HashSet::new(),
            cap,
        }
    }

    /// Adds `item`; false if it was already there.
    fn insert(&mut self, item: T) -> bool {
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

/// Traffic counters of the whole overlay.
#[derive(Debug, Default)]
pub struct TrafficCounters {
    /// Requests we sent.
    pub requests_sent: AtomicU64,
    /// Requests we answered.
    pub requests_received: AtomicU64,
    /// Offers we sent that the peer accepted at least in part.
    pub offers_accepted: AtomicU64,
    /// Content items we stored from offers.
    pub items_stored_from_offers: AtomicU64,
    /// Content items received that failed verification.
    pub invalid_items: AtomicU64,
    /// Items of our offers a peer declined as rate limited (codes 4 and 5).
    pub offers_rate_limited: AtomicU64,
    /// Offers that failed outright (no answer, or the uTP transfer failed).
    pub offers_failed: AtomicU64,
    /// Keys of inbound offers we declined as not verifiable: a key we cannot decode (another
    /// network's format, such as trin's 0x20-0x22) or one under a state root we do not trust.
    /// Sent as the generic decline, code 1 (see [`AcceptCode::on_wire`]).
    pub offered_keys_not_verifiable: AtomicU64,
    /// Requests answered with an empty TALKRESP (refusals).
    pub requests_refused: AtomicU64,
    /// Messages we sent that break the spec's rules for senders
    /// ([`crate::wire::check_outgoing`]): a bug of ours, logged as an error; tests assert 0.
    pub spec_violations: AtomicU64,
}

struct Inner {
    transport: Transport,
    local_id: NodeId,
    config: OverlayConfig,
    table: Mutex<RoutingTable<Enr>>,
    /// `None` once the overlay is closed: the file is released even while tasks still hold
    /// clones of the overlay.
    store: Mutex<Option<ContentStore>>,
    heads: RwLock<TrustedHeaders>,
    /// Peers we have exchanged ping extension type 0 with.
    capable: Mutex<HashSet<NodeId>>,
    /// Content keys already offered onward: never gossip the same thing twice.
    gossiped: Mutex<RecentSet<ContentKey>>,
    /// Peers being pinged because they contacted us from outside the table.
    pinging: Mutex<HashSet<NodeId>>,
    /// Content ids arriving right now, to decline duplicates.
    inbound: Mutex<HashSet<ContentId>>,
    transfer_slots: Arc<Semaphore>,
    counters: TrafficCounters,
    /// Rate limits, bans and the subnet cap.
    pub(super) guard: Guard,
    /// Content lookups running at once.
    pub(super) lookup_slots: Arc<Semaphore>,
    /// Not reachable from outside (see `super::link`): announce radius 0, so that peers
    /// neither offer us content nor route lookups to us for it.
    client_only: AtomicBool,
}

/// The overlay of one node. Cheap to clone; every clone is the same overlay.
#[derive(Clone)]
pub struct Overlay {
    inner: Arc<Inner>,
}

/// What a FindContent to one peer gave.
pub(super) enum PeerAnswer {
    Value(Vec<u8>),
    Closer(Vec<Enr>),
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves consistent data (every critical section
    // is a single table or store call), so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The overlay node id of a peer's record.
pub(super) fn node_id_of(enr: &Enr) -> NodeId {
    NodeId(B256::from(enr.node_id().raw()))
}

fn encode_enr(enr: &Enr) -> alloy_primitives::Bytes {
    crate::net::enr_to_rlp(enr).into()
}

/// The one ENR decoder for peer bytes (the one `fuzz/` targets), errors as `None`.
fn decode_enr(bytes: &[u8]) -> Option<Enr> {
    crate::net::enr_from_rlp(bytes).ok()
}

/// The requests of a lookup that returned before they did (a hedged request answered first)
/// run to their end in the background: what they find out about their peer still counts — a
/// peer that promised a stream and never sent it is caught even when someone else was faster.
pub(super) struct RunToEnd<F: Future + Send + 'static>(pub(super) FuturesUnordered<F>)
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
    fn announced_radius(&self) -> Radius {
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

    // ---------------------------------------------------------------------------------------
    // Validation: the one place where bytes from a peer become content.
    // ---------------------------------------------------------------------------------------

    /// Decode and verify `bytes` as the value of `key`, anchored to a trusted root.
    pub fn validate(
        &self,
        key: &ContentKey,
        bytes: &[u8],
    ) -> Result<VerifiedContent, OverlayError> {
        if let Some(root) = key.state_root() {
            if !self.with_heads(|h| h.is_trusted_root(root)) {
                return Err(OverlayError::UntrustedRoot(root));
            }
        }
        let value = ContentValue::decode(key, bytes).map_err(OverlayError::InvalidContent)?;
        proof::verify(*key, value).map_err(OverlayError::InvalidProof)
    }

    /// Whether we would take `key` if offered, as an accept code (the finer reason: see
    /// [`AcceptCode::on_wire`] for what is sent).
    fn accept_code(&self, key_bytes: &[u8]) -> (AcceptCode, Option<ContentKey>) {
        let Ok(key) = ContentKey::decode(key_bytes) else {
            tracing::debug!("offered key of unknown format: not verifiable");
            return (AcceptCode::NotVerifiable, None);
        };
        if let Some(root) = key.state_root() {
            if !self.with_heads(|h| h.is_trusted_root(root)) {
                tracing::debug!(%root, "offered key under an untrusted root: not verifiable");
                return (AcceptCode::NotVerifiable, None);
            }
        }
        let id = key.content_id();
        let (stored, radius) = {
            let store = lock(&self.inner.store);
            match store.as_ref() {
                Some(store) => (store.contains(&key).unwrap_or(false), store.radius()),
                None => return (AcceptCode::Declined, None),
            }
        };
        if stored {
            return (AcceptCode::AlreadyStored, None);
        }
        if !radius.covers(self.inner.local_id.ring(), id) {
            return (AcceptCode::NotWithinRadius, None);
        }
        if !lock(&self.inner.inbound).insert(id) {
            return (AcceptCode::InboundTransferInProgress, None);
        }
        (AcceptCode::Accepted, Some(key))
    }

    /// Store verified content if it is within our radius. Returns whether it is stored now.
    pub fn store_verified(&self, content: &VerifiedContent) -> Result<bool, OverlayError> {
        let outcome = self
            .with_store(|s| s.put(content))?
            .map_err(OverlayError::Store)?;
        Ok(matches!(outcome, crate::store::PutOutcome::Stored { .. }))
    }

    // ---------------------------------------------------------------------------------------
    // Inbound: one handler per message type.
    // ---------------------------------------------------------------------------------------

    /// Answer requests from `requests` until the channel closes (the transport stopped).
    pub async fn serve(self, mut requests: tokio::sync::mpsc::Receiver<InboundRequest>) {
        while let Some(request) = requests.recv().await {
            let overlay = self.clone();
            tokio::spawn(async move { overlay.handle(request).await });
        }
    }

    async fn handle(&self, request: InboundRequest) {
        self.inner
            .counters
            .requests_received
            .fetch_add(1, Ordering::Relaxed);
        let enr = request.enr();
        let requester = NodeId(B256::from(request.node_id()));
        // Over the limit: answered empty before any decoding, the cheapest refusal there is.
        if !self.inner.guard.allow_request(requester, enr.as_ref()) {
            return request.respond(Vec::new());
        }
        let version = enr
            .as_ref()
            .and_then(|e| self.inner.transport.peer_version(e).ok())
            .unwrap_or(ProtocolVersion::V2);
        let message = match Message::decode(request.body(), version) {
            Ok(m) if m.is_request() => m,
            Ok(other) => {
                tracing::debug!(kind = other.name(), "response sent as a request; ignored");
                return request.respond(Vec::new());
            }
            Err(e) => {
                tracing::debug!(error = %e, "undecodable request");
                return request.respond(Vec::new());
            }
        };
        // Kademlia learns from every contact: a peer that asks us something and is not in
        // our table gets a ping, which tells us its radius and puts it in the table.
        if let Some(enr) = &enr {
            if !matches!(message, Message::Ping(_))
                && self.with_table(|t| t.get(requester).is_none())
                && !self.inner.guard.is_banned(requester)
                && self.start_ping(requester)
            {
                let overlay = self.clone();
                let enr = enr.clone();
                tokio::spawn(async move {
                    let _ = overlay.ping(&enr).await;
                    lock(&overlay.inner.pinging).remove(&requester);
                });
            }
        }
        let response = match message {
            Message::Ping(ping) => Some(Message::Pong(self.handle_ping(
                requester,
                enr.as_ref(),
                ping,
            ))),
            Message::FindNodes(m) => Some(Message::Nodes(self.handle_find_nodes(requester, m))),
            Message::FindContent(m) => self
                .handle_find_content(requester, enr, version, m)
                .map(Message::Content),
            Message::Offer(m) => Some(Message::Accept(self.handle_offer(requester, enr, m))),
            _ => None,
        };
        let body = response.map(|m| m.encode(version)).unwrap_or_default();
        if !body.is_empty() {
            self.check_sent(&body, version);
        }
        request.respond(body);
    }

    /// Counts (and logs) a message we send that breaks the spec's rules for senders.
    fn check_sent(&self, body: &[u8], version: ProtocolVersion) {
        if let Err(e) = check_outgoing(body, version) {
            self.inner
                .counters
                .spec_violations
                .fetch_add(1, Ordering::Relaxed);
            tracing::error!(error = %e, "we sent a message that breaks the wire spec");
        }
    }

    /// Marks `peer` as being pinged, unless it already is or too many pings are pending.
    fn start_ping(&self, peer: NodeId) -> bool {
        let mut pinging = lock(&self.inner.pinging);
        pinging.len() < self.inner.guard.limits().max_pending_pings && pinging.insert(peer)
    }

    fn our_ping_payload(&self, payload_type: u16) -> PingPayload {
        let data_radius = self.announced_radius().0;
        let ext = match payload_type {
            PingExtension::CAPABILITIES => PingExtension::Capabilities {
                client_info: self.client_info().into(),
                data_radius,
                capabilities: CAPABILITIES.to_vec(),
            },
            _ => PingExtension::BasicRadius { data_radius },
        };
        PingPayload::Extension {
            payload_type: ext.payload_type(),
            payload: ext.encode().into(),
        }
    }

    /// The configured client info if it is in the spec's format, else the empty string.
    fn client_info(&self) -> Vec<u8> {
        let info = self.inner.config.client_info.as_bytes();
        match check_client_info(info) {
            Ok(()) => info.to_vec(),
            Err(e) => {
                tracing::debug!(error = %e, "configured client info not sent");
                Vec::new()
            }
        }
    }

    fn handle_ping(&self, requester: NodeId, enr: Option<&Enr>, ping: Ping) -> Pong {
        let enr_seq = self.inner.transport.local_enr().seq();
        let (radius, payload) = match &ping.payload {
            PingPayload::Legacy(custom) => {
                let radius = (custom.len() == 32).then(|| U256::from_le_slice(custom));
                let ours = PingPayload::Legacy(
                    self.announced_radius()
                        .0
                        .to_le_bytes::<32>()
                        .to_vec()
                        .into(),
                );
                (radius, ours)
            }
            PingPayload::Extension {
                payload_type,
                payload,
            } => match PingExtension::decode(*payload_type, payload) {
                Ok(
                    ext @ (PingExtension::Capabilities { .. } | PingExtension::BasicRadius { .. }),
                ) => {
                    if *payload_type == PingExtension::CAPABILITIES {
                        lock(&self.inner.capable).insert(requester);
                    }
                    (ext.data_radius(), self.our_ping_payload(*payload_type))
                }
                Ok(_) | Err(_) => {
                    let code = if matches!(
                        *payload_type,
                        PingExtension::CAPABILITIES | PingExtension::BASIC_RADIUS
                    ) {
                        PingError::FailedToDecodePayload
                    } else {
                        PingError::ExtensionNotSupported
                    };
                    let ext = PingExtension::error(code, "unsupported ping payload");
                    (
                        None,
                        PingPayload::Extension {
                            payload_type: ext.payload_type(),
                            payload: ext.encode().into(),
                        },
                    )
                }
            },
        };
        if let (Some(enr), Some(radius)) = (enr, radius) {
            self.learn_peer(enr.clone(), Radius(radius));
        }
        Pong { enr_seq, payload }
    }

    /// Put a live peer with a known radius into the table (if it is on our chain).
    fn learn_peer(&self, enr: Enr, radius: Radius) {
        if self.inner.transport.peer_version(&enr).is_err() {
            return;
        }
        let id = node_id_of(&enr);
        let mut table = lock(&self.inner.table);
        if self.inner.guard.may_enter(&table, id, &enr) {
            table.insert(id, enr, radius, Instant::now());
        }
    }

    /// ENRs up to the packet budget.
    fn fit_enrs<'a>(enrs: impl Iterator<Item = &'a Enr>) -> Vec<alloy_primitives::Bytes> {
        let mut used = 0;
        let mut out = Vec::new();
        for enr in enrs {
            let bytes = encode_enr(enr);
            if used + bytes.len() + 4 > MAX_ENR_PAYLOAD {
                break;
            }
            used += bytes.len() + 4;
            out.push(bytes);
        }
        out
    }

    fn handle_find_nodes(&self, requester: NodeId, m: FindNodes) -> Nodes {
        let own = self.inner.transport.local_enr();
        let table = lock(&self.inner.table);
        let found = table.at_distances(&m.distances, 32);
        let mut candidates: Vec<&Enr> = Vec::new();
        if m.distances.contains(&0) {
            candidates.push(&own);
        }
        candidates.extend(
            found
                .iter()
                .filter(|e| e.node_id != requester)
                .map(|e| &e.peer),
        );
        Nodes {
            total: 1,
            enrs: Self::fit_enrs(candidates.into_iter()),
        }
    }

    fn handle_find_content(
        &self,
        requester: NodeId,
        enr: Option<Enr>,
        version: ProtocolVersion,
        m: FindContent,
    ) -> Option<Content> {
        let Ok(key) = ContentKey::decode(&m.content_key) else {
            // A well-formed request for a key we cannot decode (another network's format, such
            // as trin's 0x20-0x22): answered in the protocol. No peer we know stores such
            // content, so the spec's answer is an empty ENR list; an empty TALKRESP would read
            // as a broken peer.
            tracing::debug!(peer = ?requester, "FindContent for a key of unknown format");
            return Some(Content::Enrs(Vec::new()));
        };
        let stored = self
            .with_store(|s| s.get_encoded(&key))
            .ok()
            .and_then(Result::ok)
            .flatten();
        match stored.or_else(|| self.prove_absence(&key)) {
            Some(value) if value.len() <= MAX_INLINE_CONTENT => {
                Some(Content::Content(value.into()))
            }
            Some(value) => {
                let enr = enr?;
                let free = self.inner.transport.utp_streams_available();
                if !self.inner.guard.begin_send(requester, &enr, free) {
                    return None;
                }
                let cid = self.inner.transport.new_connection_id(&enr);
                // v1 added a length prefix to content sent over uTP.
                let payload = if version >= ProtocolVersion::V1 {
                    framing::encode_items(&[&value])
                } else {
                    value
                };
                let overlay = self.clone();
                tokio::spawn(async move {
                    let transport = &overlay.inner.transport;
                    if let Err(e) = transport.utp_accept_send(enr.clone(), cid, payload).await {
                        tracing::debug!(error = %e, "uTP content send failed");
                    }
                    overlay.inner.guard.end_send(requester, &enr);
                });
                Some(Content::ConnectionId(cid))
            }
            None => {
                let target = key.content_id();
                let table = lock(&self.inner.table);
                let closest = table.closest_on_ring(target, self.inner.config.k);
                let enrs = Self::fit_enrs(
                    closest
                        .iter()
                        .filter(|e| e.node_id != requester)
                        .map(|e| &e.peer),
                );
                Some(Content::Enrs(enrs))
            }
        }
    }

    /// A proof that `key` is absent (an account that does not exist, a slot that is zero),
    /// assembled from the witnesses we store for its neighbours; verified before it is used.
    fn prove_absence(&self, key: &ContentKey) -> Option<Vec<u8>> {
        const PER_SIDE: usize = 2;
        let guard = lock(&self.inner.store);
        let store = guard.as_ref()?;
        let value = match key {
            ContentKey::Account(k) => {
                let near = store
                    .account_neighbours(key.content_id(), k.state_root, PER_SIDE)
                    .ok()?;
                let witnesses: Vec<&Witness> = near
                    .iter()
                    .filter_map(|(nk, v)| match (nk, v) {
                        (ContentKey::Account(a), ContentValue::Account(w))
                            if a.state_root == k.state_root =>
                        {
                            Some(w)
                        }
                        _ => None,
                    })
                    .collect();
                let w = proof::absence_witness(
                    TrieKind::Account,
                    k.state_root,
                    keccak256(k.address),
                    &witnesses,
                )?;
                ContentValue::Account(w)
            }
            ContentKey::Storage(k) => {
                let near = store
                    .storage_neighbours(key.content_id(), k.address, k.state_root, PER_SIDE)
                    .ok()?;
                // The contract's account witness: its own item, or any of its storage items.
                let same_contract = |nk: &ContentKey| matches!(nk, ContentKey::Storage(s) if s.address == k.address && s.state_root == k.state_root);
                let account_key = ContentKey::Account(AccountKey {
                    address: k.address,
                    state_root: k.state_root,
                });
                let account_witness = match store.get(&account_key).ok().flatten() {
                    Some(ContentValue::Account(w)) => w,
                    _ => near.iter().find_map(|(nk, v)| match v {
                        ContentValue::Storage {
                            account_witness, ..
                        } if same_contract(nk) => Some(account_witness.clone()),
                        _ => None,
                    })?,
                };
                let account =
                    proof::verify_account(k.state_root, k.address, &account_witness).ok()?;
                let storage_witness = match account {
                    // No contract, or no storage: every slot reads zero with an empty witness.
                    None => Witness::default(),
                    Some(a) if a.storage_root == EMPTY_ROOT_HASH => Witness::default(),
                    Some(a) => {
                        let witnesses: Vec<&Witness> = near
                            .iter()
                            .filter_map(|(nk, v)| match v {
                                ContentValue::Storage {
                                    storage_witness, ..
                                } if same_contract(nk) => Some(storage_witness),
                                _ => None,
                            })
                            .collect();
                        proof::absence_witness(
                            TrieKind::Storage,
                            a.storage_root,
                            keccak256(k.slot.to_be_bytes::<32>()),
                            &witnesses,
                        )?
                    }
                };
                ContentValue::Storage {
                    account_witness,
                    storage_witness,
                }
            }
            ContentKey::Bytecode(_) => return None,
        };
        // Only what verifies is ever sent.
        proof::verify(*key, value.clone()).ok()?;
        Some(value.encode())
    }

    fn handle_offer(&self, requester: NodeId, enr: Option<Enr>, offer: Offer) -> Accept {
        let Some(enr) = enr else {
            // Without the ENR we cannot take a uTP stream from this peer.
            return Accept {
                connection_id: 0,
                codes: vec![AcceptCode::Declined; offer.content_keys.len()],
            };
        };
        if !self.inner.guard.allow_offer(requester) {
            return Accept {
                connection_id: 0,
                codes: vec![AcceptCode::RateLimited; offer.content_keys.len()],
            };
        }
        let mut codes = Vec::with_capacity(offer.content_keys.len());
        let mut accepted = Vec::new();
        for key in &offer.content_keys {
            let (code, key) = self.accept_code(key);
            if code == AcceptCode::NotVerifiable {
                self.inner
                    .counters
                    .offered_keys_not_verifiable
                    .fetch_add(1, Ordering::Relaxed);
            }
            codes.push(code.on_wire());
            accepted.extend(key);
        }
        if accepted.is_empty() {
            return Accept {
                connection_id: 0,
                codes,
            };
        }
        let Ok(permit) = self.inner.transfer_slots.clone().try_acquire_owned() else {
            self.release_inbound(&accepted);
            for c in codes.iter_mut().filter(|c| c.is_accepted()) {
                *c = AcceptCode::RateLimited;
            }
            return Accept {
                connection_id: 0,
                codes,
            };
        };
        let cid = self.inner.transport.new_connection_id(&enr);
        let overlay = self.clone();
        tokio::spawn(async move {
            overlay
                .receive_offered(requester, enr, cid, &accepted)
                .await;
            overlay.release_inbound(&accepted);
            drop(permit);
        });
        Accept {
            connection_id: cid,
            codes,
        }
    }

    fn release_inbound(&self, keys: &[ContentKey]) {
        let mut inbound = lock(&self.inner.inbound);
        for key in keys {
            inbound.remove(&key.content_id());
        }
    }

    async fn receive_offered(&self, sender: NodeId, enr: Enr, cid: u16, keys: &[ContentKey]) {
        let max = keys.len() * (MAX_VALUE_BYTES + 5);
        let payload = match self.inner.transport.utp_accept_receive(enr, cid, max).await {
            Ok(p) => p,
            Err(e) => {
                tracing::debug!(error = %e, "offered content never arrived");
                return;
            }
        };
        let items = match framing::decode_items(&payload, keys.len(), MAX_VALUE_BYTES) {
            Ok(items) if items.len() == keys.len() => items,
            _ => {
                tracing::debug!(peer = ?sender, "offer payload does not match the accepted keys");
                self.penalise(sender);
                return;
            }
        };
        // Verify everything first, then store what verified in one transaction.
        let mut valid = Vec::with_capacity(keys.len());
        let mut lied = false;
        for (key, bytes) in keys.iter().zip(items) {
            match self.validate(key, &bytes) {
                Ok(content) => valid.push(content),
                Err(e) => {
                    tracing::debug!(peer = ?sender, error = %e, "invalid offered content");
                    self.inner
                        .counters
                        .invalid_items
                        .fetch_add(1, Ordering::Relaxed);
                    lied = true;
                }
            }
        }
        if lied {
            self.penalise(sender);
        }
        let outcomes = match self.with_store(|s| s.put_batch(&valid)) {
            Ok(Ok(outcomes)) => outcomes,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "storing offered content failed");
                return;
            }
            Err(_) => return, // stopped
        };
        let fresh: Vec<VerifiedContent> = valid
            .into_iter()
            .zip(outcomes)
            .filter(|(_, o)| matches!(o, crate::store::PutOutcome::Stored { .. }))
            .map(|(c, _)| c)
            .collect();
        self.inner
            .counters
            .items_stored_from_offers
            .fetch_add(fresh.len() as u64, Ordering::Relaxed);
        if !fresh.is_empty() {
            self.gossip(fresh, Some(sender)).await;
        }
    }

    /// A peer sent invalid data: it leaves the routing table and is banned from it for a while.
    pub(super) fn penalise(&self, peer: NodeId) {
        tracing::debug!(?peer, "peer penalised: out of the table, banned");
        lock(&self.inner.table).remove(peer);
        self.inner.guard.ban(peer);
    }

    // ---------------------------------------------------------------------------------------
    // Outbound requests.
    // ---------------------------------------------------------------------------------------

    async fn request(
        &self,
        peer: &Enr,
        message: Message,
    ) -> Result<(Message, u64, u64), OverlayError> {
        let version = self
            .inner
            .transport
            .peer_version(peer)
            .map_err(OverlayError::Net)?;
        let body = message.encode(version);
        self.check_sent(&body, version);
        let sent = body.len() as u64;
        self.inner
            .counters
            .requests_sent
            .fetch_add(1, Ordering::Relaxed);
        let id = node_id_of(peer);
        let response = match self.inner.transport.request(peer, body).await {
            Ok(r) => r,
            Err(e) => {
                lock(&self.inner.table).record_failure(id);
                return Err(OverlayError::Net(e));
            }
        };
        let received = response.len() as u64;
        if response.is_empty() {
            // An empty TALKRESP is a refusal (a rate limit, a key the peer cannot decode), not
            // a lie and not silence: the peer is live, and counted as refusing.
            lock(&self.inner.table).record_refusal(id, Instant::now());
            self.inner
                .counters
                .requests_refused
                .fetch_add(1, Ordering::Relaxed);
            return Err(OverlayError::BadResponse("empty answer: refused".into()));
        }
        let decoded = Message::decode(&response, version).map_err(|e| {
            self.penalise(id);
            OverlayError::BadResponse(e.to_string())
        })?;
        let content_answer = matches!(decoded, Message::Content(_) | Message::Accept(_));
        lock(&self.inner.table).record_success(id, Instant::now(), content_answer);
        Ok((decoded, sent, received))
    }

    /// Ping `peer`; on a Pong, the peer enters the table with its radius.
    pub async fn ping(&self, peer: &Enr) -> Result<Radius, OverlayError> {
        let id = node_id_of(peer);
        let first = !lock(&self.inner.capable).contains(&id);
        let payload_type = if first {
            PingExtension::CAPABILITIES
        } else {
            PingExtension::BASIC_RADIUS
        };
        let enr_seq = self.inner.transport.local_enr().seq();
        let ping = Message::Ping(Ping {
            enr_seq,
            payload: self.our_ping_payload(payload_type),
        });
        let (response, _, _) = self.request(peer, ping).await?;
        let Message::Pong(pong) = response else {
            return Err(OverlayError::BadResponse(format!(
                "{} to a Ping",
                response.name()
            )));
        };
        let radius = match pong.payload {
            PingPayload::Extension {
                payload_type,
                payload,
            } => {
                let ext = PingExtension::decode(payload_type, &payload)
                    .map_err(|e| OverlayError::BadResponse(e.to_string()))?;
                if payload_type == PingExtension::CAPABILITIES {
                    lock(&self.inner.capable).insert(id);
                }
                ext.data_radius()
                    .ok_or_else(|| OverlayError::BadResponse("Pong without radius".into()))?
            }
            PingPayload::Legacy(custom) if custom.len() == 32 => U256::from_le_slice(&custom),
            PingPayload::Legacy(_) => {
                return Err(OverlayError::BadResponse("bad legacy Pong".into()))
            }
        };
        self.learn_peer(peer.clone(), Radius(radius));
        Ok(Radius(radius))
    }

    /// FindNodes to `peer`; returns valid ENRs at the asked distances from it.
    pub async fn find_nodes(
        &self,
        peer: &Enr,
        distances: Vec<u16>,
    ) -> Result<Vec<Enr>, OverlayError> {
        let (response, _, _) = self
            .request(
                peer,
                Message::FindNodes(FindNodes {
                    distances: distances.clone(),
                }),
            )
            .await?;
        let Message::Nodes(nodes) = response else {
            return Err(OverlayError::BadResponse(format!(
                "{} to FindNodes",
                response.name()
            )));
        };
        let peer_id = node_id_of(peer);
        let mut enrs = Vec::with_capacity(nodes.enrs.len());
        for bytes in &nodes.enrs {
            // An ENR that does not decode, or is not at a distance we asked for, is a lie we
            // can prove: the whole answer is dropped and the peer with it.
            match decode_enr(bytes) {
                Some(e) if distances.contains(&peer_id.log2_distance(node_id_of(&e))) => {
                    enrs.push(e)
                }
                _ => {
                    self.penalise(peer_id);
                    return Err(OverlayError::BadResponse(
                        "Nodes with an invalid ENR or one at a distance not asked for".into(),
                    ));
                }
            }
        }
        enrs.retain(|e| self.inner.transport.peer_version(e).is_ok());
        Ok(enrs)
    }

    pub(super) async fn find_content_from(
        &self,
        peer: &Enr,
        key: &ContentKey,
    ) -> Result<(PeerAnswer, u64, u64), OverlayError> {
        let request = Message::FindContent(FindContent {
            content_key: key.encode().into(),
        });
        let (response, sent, received) = self.request(peer, request).await?;
        let Message::Content(content) = response else {
            return Err(OverlayError::BadResponse(format!(
                "{} to FindContent",
                response.name()
            )));
        };
        match content {
            Content::Content(bytes) => Ok((PeerAnswer::Value(bytes.to_vec()), sent, received)),
            Content::ConnectionId(cid) => {
                let version = self
                    .inner
                    .transport
                    .peer_version(peer)
                    .map_err(OverlayError::Net)?;
                let max = MAX_VALUE_BYTES + 5;
                let data = self
                    .inner
                    .transport
                    .utp_connect_receive(peer.clone(), cid, max)
                    .await
                    .map_err(|e| {
                        // Promised streams that never deliver, again and again: out it goes.
                        if self.inner.guard.stream_failed(node_id_of(peer)) {
                            self.penalise(node_id_of(peer));
                        }
                        OverlayError::Net(e)
                    })?;
                self.inner.guard.stream_delivered(node_id_of(peer));
                let received = received + data.len() as u64;
                let value = if version >= ProtocolVersion::V1 {
                    let mut items = framing::decode_items(&data, 1, MAX_VALUE_BYTES)
                        .map_err(|e| OverlayError::BadResponse(e.to_string()))?;
                    items
                        .pop()
                        .ok_or_else(|| OverlayError::BadResponse("empty uTP payload".into()))?
                } else {
                    data
                };
                Ok((PeerAnswer::Value(value), sent, received))
            }
            Content::Enrs(enrs) => {
                let enrs = enrs
                    .iter()
                    .filter_map(|b| decode_enr(b))
                    .filter(|e| self.inner.transport.peer_version(e).is_ok())
                    .collect();
                Ok((PeerAnswer::Closer(enrs), sent, received))
            }
        }
    }

    /// Ask one peer for `key` and verify its answer; a peer that answers with invalid content
    /// leaves the table. Returns `NotFound` when the peer points elsewhere.
    pub async fn ask_peer(
        &self,
        peer: &Enr,
        key: ContentKey,
    ) -> Result<VerifiedContent, OverlayError> {
        match self.find_content_from(peer, &key).await?.0 {
            PeerAnswer::Value(bytes) => self.validate(&key, &bytes).inspect_err(|_| {
                self.penalise(node_id_of(peer));
            }),
            PeerAnswer::Closer(_) => Err(OverlayError::NotFound(key)),
        }
    }

    /// Offer `items` (verified content) to `peer`, sending what it accepts over uTP. Items
    /// are split into as many Offer messages as the packet size and the 64-key limit require.
    /// Returns one accept code per item, in order.
    pub async fn offer(
        &self,
        peer: &Enr,
        items: &[VerifiedContent],
    ) -> Result<Vec<AcceptCode>, OverlayError> {
        let mut codes = Vec::with_capacity(items.len());
        let mut rest = items;
        while !rest.is_empty() {
            let n = offer_chunk_len(rest);
            codes.extend(self.offer_chunk(peer, &rest[..n]).await?);
            rest = &rest[n..];
        }
        Ok(codes)
    }

    /// One Offer → Accept → uTP exchange.
    async fn offer_chunk(
        &self,
        peer: &Enr,
        items: &[VerifiedContent],
    ) -> Result<Vec<AcceptCode>, OverlayError> {
        let keys = items.iter().map(|c| c.key().encode().into()).collect();
        let (response, _, _) = self
            .request(peer, Message::Offer(Offer { content_keys: keys }))
            .await?;
        let Message::Accept(accept) = response else {
            return Err(OverlayError::BadResponse(format!(
                "{} to Offer",
                response.name()
            )));
        };
        if accept.codes.len() != items.len() {
            return Err(OverlayError::BadResponse(
                "Accept with the wrong number of codes".into(),
            ));
        }
        let accepted: Vec<Vec<u8>> = items
            .iter()
            .zip(&accept.codes)
            .filter(|(_, c)| c.is_accepted())
            .map(|(item, _)| item.value().encode())
            .collect();
        if !accepted.is_empty() {
            self.inner
                .counters
                .offers_accepted
                .fetch_add(1, Ordering::Relaxed);
            let payload = framing::encode_items(&accepted);
            self.inner
                .transport
                .utp_connect_send(peer.clone(), accept.connection_id, payload)
                .await
                .map_err(OverlayError::Net)?;
        }
        Ok(accept.codes)
    }

    // ---------------------------------------------------------------------------------------
    // Lookups.
    // ---------------------------------------------------------------------------------------

    /// Iterative node lookup: the `k` closest live nodes to `target` we can find (XOR metric).
    pub async fn lookup_nodes(&self, target: NodeId) -> Vec<Enr> {
        let k = self.inner.config.k;
        let alpha = self.inner.config.alpha;
        let mut known: HashMap<NodeId, Enr> = self.with_table(|t| {
            t.closest_by_xor(target, k)
                .into_iter()
                .map(|e| (e.node_id, e.peer.clone()))
                .collect()
        });
        let mut queried: HashSet<NodeId> = HashSet::new();
        let mut responded: HashSet<NodeId> = HashSet::new();
        let mut in_flight = FuturesUnordered::new();
        let deadline = Instant::now() + self.inner.config.lookup_timeout;
        loop {
            // The k closest known; query the unqueried ones among them, α at a time.
            let mut closest: Vec<(NodeId, Enr)> =
                known.iter().map(|(id, e)| (*id, e.clone())).collect();
            closest.sort_by_key(|(id, _)| id.xor_distance(target));
            closest.truncate(k);
            let next: Vec<(NodeId, Enr)> = closest
                .into_iter()
                .filter(|(id, _)| !queried.contains(id))
                .collect();
            for (id, enr) in next.iter() {
                if in_flight.len() >= alpha {
                    break;
                }
                queried.insert(*id);
                let d = id.log2_distance(target);
                let mut distances: Vec<u16> = [d.saturating_sub(1), d, d + 1]
                    .into_iter()
                    .filter(|d| (1..=256).contains(d))
                    .collect();
                distances.dedup();
                let overlay = self.clone();
                let enr = enr.clone();
                let id = *id;
                in_flight.push(async move { (id, overlay.find_nodes(&enr, distances).await) });
            }
            if in_flight.is_empty() || Instant::now() > deadline {
                break;
            }
            let Some((from, result)) = in_flight.next().await else {
                break;
            };
            if let Ok(enrs) = result {
                responded.insert(from);
                for enr in enrs {
                    let id = node_id_of(&enr);
                    if id != self.inner.local_id {
                        known.entry(id).or_insert(enr);
                    }
                }
            }
        }
        let mut found: Vec<(NodeId, Enr)> = known
            .into_iter()
            .filter(|(id, _)| responded.contains(id) || !queried.contains(id))
            .collect();
        found.sort_by_key(|(id, _)| id.xor_distance(target));
        found.truncate(k);
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
    /// cost the sender its place in the table; the lookup goes on.
    pub async fn find_content(&self, key: ContentKey) -> Result<FoundContent, OverlayError> {
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
        let deadline = Instant::now() + self.inner.config.lookup_timeout;
        // Bounded concurrency: a caller flooding us with lookups waits for a slot.
        let Ok(Ok(_slot)) = tokio::time::timeout_at(
            deadline.into(),
            self.inner.lookup_slots.clone().acquire_owned(),
        )
        .await
        else {
            return Err(OverlayError::NotFound(key));
        };
        let target = key.content_id();
        let k = self.inner.config.k;
        let alpha = self.inner.config.alpha;
        // Candidates: id -> (enr, hop at which we learned of it).
        let mut known: HashMap<NodeId, (Enr, u32)> = self.with_table(|t| {
            let mut peers = t.closest_on_ring(target, k);
            if peers.len() < alpha {
                peers = t.closest_on_ring_with_stale(target, k);
            }
            peers
                .into_iter()
                .map(|e| (e.node_id, (e.peer.clone(), 1)))
                .collect()
        });
        let mut queried: HashSet<NodeId> = HashSet::new();
        let mut in_flight = RunToEnd(FuturesUnordered::new());
        // Extra requests in flight because the others were slow (hedging).
        let mut hedges = 0;
        loop {
            let mut closest: Vec<(NodeId, Enr, u32)> = known
                .iter()
                .map(|(id, (e, hop))| (*id, e.clone(), *hop))
                .collect();
            closest.sort_by_key(|(id, _, _)| id.ring().distance(target));
            closest.truncate(k);
            let next: Vec<(NodeId, Enr, u32)> = closest
                .into_iter()
                .filter(|(id, _, _)| !queried.contains(id))
                .collect();
            for (id, enr, hop) in next {
                if in_flight.len() >= alpha + hedges {
                    break;
                }
                queried.insert(id);
                stats.messages += 1;
                let overlay = self.clone();
                in_flight
                    .push(async move { (id, hop, overlay.find_content_from(&enr, &key).await) });
            }
            if in_flight.is_empty() {
                return Err(OverlayError::NotFound(key));
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            let wait = remaining.min(self.inner.config.hedge_delay);
            let (from, hop, result) = match tokio::time::timeout(wait, in_flight.next()).await {
                Ok(Some(answer)) => {
                    hedges = hedges.saturating_sub(1);
                    answer
                }
                // Slow answers: ask one more peer alongside.
                Err(_) if wait < remaining => {
                    hedges = (hedges + 1).min(alpha);
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
                }
                Ok((PeerAnswer::Closer(enrs), sent, received)) => {
                    stats.bytes_sent += sent;
                    stats.bytes_received += received;
                    for enr in enrs {
                        let id = node_id_of(&enr);
                        if id != self.inner.local_id {
                            known.entry(id).or_insert((enr, hop + 1));
                        }
                    }
                }
                Err(e) => tracing::trace!(peer = ?from, error = %e, "FindContent failed"),
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // Gossip.
    // ---------------------------------------------------------------------------------------

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
            let id = item.content_id();
            let ours = local.distance(id);
            let targets: Vec<(NodeId, Enr)> = self.with_table(|t| {
                t.interested(id)
                    .into_iter()
                    .filter(|e| Some(e.node_id) != from && e.node_id.ring().distance(id) < ours)
                    .take(fanout)
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

    /// Place `items` on the `copies` nodes closest to each that take them: how a bridge
    /// injects content. Each item is offered to the closest peers in our table; a peer that
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
                let missing = copies.saturating_sub(placed[index].len());
                if missing == 0 {
                    continue;
                }
                let id = item.content_id();
                let mut candidates: Vec<(NodeId, &Enr)> = pool
                    .iter()
                    .filter(|(n, _)| !placed[index].contains(n) && !refused[index].contains(n))
                    .map(|(n, e)| (*n, e))
                    .collect();
                candidates.sort_by_key(|(n, _)| n.ring().distance(id));
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
    async fn offer_all(&self, per_peer: HashMap<NodeId, (Enr, Vec<VerifiedContent>)>) -> usize {
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
    async fn offer_each(
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
        self.lookup_nodes(self.inner.local_id).await;
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

/// How many of `items` (at least one) fit one Offer: at most 64 keys, and keys small enough
/// for the TALKREQ to fit a discv5 packet.
fn offer_chunk_len(items: &[VerifiedContent]) -> usize {
    let mut bytes = 0;
    let mut n = 0;
    for item in items.iter().take(MAX_CONTENT_KEYS_PER_OFFER) {
        // Each key costs its bytes plus a 4-byte SSZ offset.
        let cost = item.key().encode().len() + 4;
        if n > 0 && bytes + cost > MAX_OFFER_KEY_BYTES {
            break;
        }
        bytes += cost;
        n += 1;
    }
    n.max(1)
}

impl From<NetError> for OverlayError {
    fn from(e: NetError) -> Self {
        OverlayError::Net(e)
    }
}
