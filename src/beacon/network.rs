//! The Portal beacon chain network (protocol id [`BEACON_PROTOCOL_ID`], `0x501A`;
//! `specs/portal-network-specs/legacy/beacon-chain/beacon-network.md`): the light client's
//! objects as content, served to peers and fetched from them, so that a phone can follow the
//! head with no HTTP provider at all.
//!
//! ```text
//!  Transport (TALKREQ 0x501A) ─► serve: Ping/FindNodes/FindContent/Offer ─► answers from `Served`
//!                                          │ Offer items, decoded
//!                                          ▼
//!                        light-client task (follow): verify ─► store ─► `record` ─► offers
//!  PortalSource (FindContent to peers) ─► light-client task: verify ─► ...
//! ```
//!
//! * **Only verified objects are served**: [`BeaconNetwork::record`] takes what the light client
//!   accepted ([`Verified`]); offered and fetched objects go through the light client first.
//! * **Peers** are the nodes of the state network (or any that pings us on `0x501A`) that
//!   answer a `0x501A` Ping, in their own [`RoutingTable`]. A peer that sends an object that
//!   does not verify ([`LightClientError::is_forgery`]) is a liar: counted, dropped from the
//!   table, never asked again and its offers declined.
//! * Every node stores all light-client data (the spec: radius does not apply), so our radius
//!   is the whole ring, and re-publishing is random gossip to a few peers.
//! * Wire messages are [`crate::wire`]'s, uTP and TALKREQ the [`Transport`]'s, exactly as the
//!   state network uses them.

mod serve;
mod source;

pub use source::PortalSource;

use super::config::{period_of_slot, ChainSpec};
use super::error::LightClientError;
use super::portal::{
    bootstrap_to_content, update_to_content, updates_to_content, ContentKey, UpdateKind,
};
use super::sync::Verified;
use super::types::{Bootstrap, Update};
use crate::content::Radius;
pub use crate::net::BEACON_PROTOCOL_ID;
use crate::net::{Enr, Transport};
use crate::overlay::{NodeId, RoutingTable};
use crate::wire::{framing, Message, Offer, Ping, PingExtension, PingPayload};
use alloy_primitives::{B256, U256};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tree_hash::TreeHash;

/// Peers per bucket of the beacon network's table.
const K: usize = 16;
/// How many peers one re-publication is offered to (random gossip).
const GOSSIP_PEERS: usize = 8;
/// Largest value we fetch or accept: 128 Electra updates are about 3.4 MB.
pub const MAX_VALUE_BYTES: usize = 4 * 1024 * 1024;
/// Offered objects waiting for the light client; beyond, offers are declined.
const OFFER_QUEUE: usize = 64;
/// How long a node that did not answer a `0x501A` Ping is left alone.
const RETRY_AFTER: Duration = Duration::from_secs(300);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn node_id_of(enr: &Enr) -> NodeId {
    NodeId(B256::from(enr.node_id().raw()))
}

/// An object a peer offered, decoded but not verified: for the light client.
#[derive(Clone, Debug)]
pub struct Offered {
    /// Who sent it (a liar if it does not verify).
    pub from: NodeId,
    /// The object.
    pub object: Received,
}

/// A decoded, unverified light-client object.
#[derive(Clone, Debug)]
pub enum Received {
    /// A bootstrap (only one for our checkpoint is accepted).
    Bootstrap(Bootstrap),
    /// Updates of consecutive periods.
    Updates(Vec<Update>),
    /// A finality update.
    Finality(Update),
    /// An optimistic update.
    Optimistic(Update),
}

/// The verified objects we serve, as content values (fork digest ‖ SSZ).
#[derive(Debug, Default)]
struct Served {
    bootstraps: HashMap<B256, Vec<u8>>,
    /// One item of a `0x11` value per period.
    updates: BTreeMap<u64, Vec<u8>>,
    /// `(finalized slot, value)` of the newest finality update.
    finality: Option<(u64, Vec<u8>)>,
    /// `(signature slot, value)` of the newest optimistic update.
    optimistic: Option<(u64, Vec<u8>)>,
}

impl Served {
    /// The value under `key`, as the spec says to answer it (newest ephemeral update at or
    /// after the asked slot; the consecutive updates from `start_period`).
    fn get(&self, key: &ContentKey) -> Option<Vec<u8>> {
        match *key {
            ContentKey::Bootstrap(root) => self.bootstraps.get(&root).cloned(),
            ContentKey::UpdatesByRange {
                start_period,
                count,
            } => {
                let items: Vec<Vec<u8>> = (start_period..start_period.saturating_add(count))
                    .map_while(|p| self.updates.get(&p).cloned())
                    .collect();
                (!items.is_empty()).then(|| updates_to_content(&items))
            }
            ContentKey::FinalityUpdate(slot) => self
                .finality
                .as_ref()
                .filter(|(have, _)| *have >= slot)
                .map(|(_, v)| v.clone()),
            ContentKey::OptimisticUpdate(slot) => self
                .optimistic
                .as_ref()
                .filter(|(have, _)| *have >= slot)
                .map(|(_, v)| v.clone()),
        }
    }
}

/// What the beacon network has done, for status and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BeaconNetworkStats {
    /// Peers in the table that answered a `0x501A` Ping.
    pub peers: usize,
    /// Objects from peers (fetched or offered) that failed verification.
    pub refused_objects: u64,
    /// Peers caught sending such objects.
    pub liars: usize,
    /// Content answers we sent (FindContent with a value).
    pub served: u64,
    /// Objects we offered to peers (per peer and object).
    pub offered: u64,
}

struct Inner {
    transport: Transport,
    spec: ChainSpec,
    checkpoint: B256,
    table: Mutex<RoutingTable<Enr>>,
    served: Mutex<Served>,
    liars: Mutex<HashSet<NodeId>>,
    /// Nodes that did not answer a Ping, and when.
    tried: Mutex<HashMap<NodeId, Instant>>,
    offered_tx: mpsc::Sender<Offered>,
    refused_objects: AtomicU64,
    served_count: AtomicU64,
    offered_count: AtomicU64,
}

/// A node's part in the Portal beacon network. Cheap to clone.
#[derive(Clone)]
pub struct BeaconNetwork {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for BeaconNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BeaconNetwork")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl BeaconNetwork {
    /// Serve `0x501A` on `transport` for a light client grown from `checkpoint`. Returns the
    /// network and the queue of offered objects, which the light client must verify (see
    /// [`crate::beacon::follow::run`]). Must be called within a tokio runtime.
    pub fn start(
        transport: Transport,
        spec: ChainSpec,
        checkpoint: B256,
    ) -> (BeaconNetwork, mpsc::Receiver<Offered>) {
        let local = NodeId(B256::from(transport.local_node_id()));
        let (offered_tx, offered_rx) = mpsc::channel(OFFER_QUEUE);
        let requests = transport.beacon_requests();
        let network = BeaconNetwork {
            inner: Arc::new(Inner {
                transport,
                spec,
                checkpoint,
                table: Mutex::new(RoutingTable::new(local, K)),
                served: Mutex::default(),
                liars: Mutex::default(),
                tried: Mutex::default(),
                offered_tx,
                refused_objects: AtomicU64::new(0),
                served_count: AtomicU64::new(0),
                offered_count: AtomicU64::new(0),
            }),
        };
        tokio::spawn(network.clone().serve(requests));
        (network, offered_rx)
    }

    /// Counters and the table's size.
    pub fn stats(&self) -> BeaconNetworkStats {
        BeaconNetworkStats {
            peers: lock(&self.inner.table).connected().count(),
            refused_objects: self.inner.refused_objects.load(Ordering::Relaxed),
            liars: lock(&self.inner.liars).len(),
            served: self.inner.served_count.load(Ordering::Relaxed),
            offered: self.inner.offered_count.load(Ordering::Relaxed),
        }
    }

    /// The peers we would ask, liars left out.
    fn peers(&self) -> Vec<Enr> {
        let liars = lock(&self.inner.liars).clone();
        lock(&self.inner.table)
            .connected()
            .filter(|e| !liars.contains(&e.node_id))
            .map(|e| e.peer.clone())
            .collect()
    }

    fn is_liar(&self, peer: NodeId) -> bool {
        lock(&self.inner.liars).contains(&peer)
    }

    /// `peer` sent an object that failed verification with `error`: it is not asked again.
    pub fn refuse(&self, peer: NodeId, error: &LightClientError) {
        self.inner.refused_objects.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(peer = %peer.0, %error, "beacon network: a peer sent an object that does not verify");
        lock(&self.inner.liars).insert(peer);
        lock(&self.inner.table).remove(peer);
    }

    /// Ping `peer` on `0x501A`; on a Pong it enters the table. Returns whether it answered.
    pub async fn ping(&self, peer: &Enr) -> bool {
        let id = node_id_of(peer);
        if self.is_liar(id) {
            return false;
        }
        // Always type 0 (client info, radius, capabilities): the first Ping must be, and the
        // few Pings we send do not need the shorter type 1.
        let ping = Message::Ping(Ping {
            enr_seq: self.inner.transport.local_enr().seq(),
            payload: self.ping_payload(PingExtension::CAPABILITIES),
        });
        let radius = match self.request(peer, &ping).await {
            Some(Message::Pong(pong)) => radius_of(&pong.payload),
            _ => None,
        };
        match radius {
            Some(radius) => {
                lock(&self.inner.tried).remove(&id);
                lock(&self.inner.table).insert(id, peer.clone(), radius, Instant::now());
                true
            }
            None => {
                lock(&self.inner.tried).insert(id, Instant::now());
                false
            }
        }
    }

    /// Ping the `candidates` (the state network's peers, say) that are not beacon peers yet
    /// and were not tried lately. Returns how many answered.
    pub async fn discover(&self, candidates: Vec<Enr>) -> usize {
        let now = Instant::now();
        let mut answered = 0;
        for enr in candidates {
            let id = node_id_of(&enr);
            let known = lock(&self.inner.table).get(id).is_some();
            let recent = lock(&self.inner.tried)
                .get(&id)
                .is_some_and(|at| now.duration_since(*at) < RETRY_AFTER);
            if known || recent || self.is_liar(id) {
                continue;
            }
            if self.ping(&enr).await {
                answered += 1;
            }
        }
        answered
    }

    /// Sends `message` on `0x501A` and decodes the answer (`None`: no answer, an empty one,
    /// or garbage; a peer that does not answer at all counts a failure in the table).
    async fn request(&self, peer: &Enr, message: &Message) -> Option<Message> {
        let version = self.inner.transport.peer_version(peer).ok()?;
        let response = self
            .inner
            .transport
            .request_on(BEACON_PROTOCOL_ID, peer, message.encode(version))
            .await;
        match response {
            Ok(bytes) if bytes.is_empty() => None,
            Ok(bytes) => Message::decode(&bytes, version).ok(),
            Err(e) => {
                tracing::debug!(error = %e, "beacon network request failed");
                lock(&self.inner.table).record_failure(node_id_of(peer));
                None
            }
        }
    }

    fn ping_payload(&self, payload_type: u16) -> PingPayload {
        let ext = match payload_type {
            PingExtension::CAPABILITIES => PingExtension::Capabilities {
                client_info: crate::overlay::CLIENT_INFO.as_bytes().to_vec().into(),
                data_radius: Radius::MAX.0,
                capabilities: vec![PingExtension::CAPABILITIES, PingExtension::BASIC_RADIUS],
            },
            PingExtension::BASIC_RADIUS => PingExtension::BasicRadius {
                data_radius: Radius::MAX.0,
            },
            _ => PingExtension::error(
                crate::wire::PingError::ExtensionNotSupported,
                "unsupported ping extension",
            ),
        };
        PingPayload::Extension {
            payload_type: ext.payload_type(),
            payload: ext.encode().into(),
        }
    }

    /// The light client accepted `objects`: serve them from now on and offer the new ones to
    /// a few peers (not to `from`, who sent them).
    pub fn record(&self, objects: Vec<Verified>, from: Option<NodeId>) {
        let mut fresh = Vec::new();
        {
            let mut served = lock(&self.inner.served);
            for object in objects {
                match self.content_of(&object) {
                    Ok((key, value, item)) => {
                        if served.get(&key).as_ref() == Some(&value) {
                            continue;
                        }
                        match (&object, key) {
                            (Verified::Bootstrap(_), ContentKey::Bootstrap(root)) => {
                                served.bootstraps.insert(root, value.clone());
                            }
                            (
                                Verified::Update(_),
                                ContentKey::UpdatesByRange { start_period, .. },
                            ) => {
                                served.updates.insert(start_period, item);
                            }
                            (Verified::Finality(_), ContentKey::FinalityUpdate(slot)) => {
                                if served.finality.as_ref().is_some_and(|(s, _)| *s > slot) {
                                    continue;
                                }
                                served.finality = Some((slot, value.clone()));
                            }
                            (Verified::Optimistic(_), ContentKey::OptimisticUpdate(slot)) => {
                                if served.optimistic.as_ref().is_some_and(|(s, _)| *s > slot) {
                                    continue;
                                }
                                served.optimistic = Some((slot, value.clone()));
                            }
                            _ => continue,
                        }
                        fresh.push((key, value));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "beacon network: cannot encode a verified object")
                    }
                }
            }
        }
        if fresh.is_empty() {
            return;
        }
        let network = self.clone();
        tokio::spawn(async move { network.gossip(fresh, from).await });
    }

    /// The key and value an object is served under; for an update also its item of a `0x11`
    /// value.
    fn content_of(
        &self,
        object: &Verified,
    ) -> Result<(ContentKey, Vec<u8>, Vec<u8>), LightClientError> {
        let spec = &self.inner.spec;
        Ok(match object {
            Verified::Bootstrap(b) => {
                let root = b.header.beacon.tree_hash_root();
                let value = bootstrap_to_content(spec, b)?;
                (ContentKey::Bootstrap(root), value, Vec::new())
            }
            Verified::Update(u) => {
                let item = update_to_content(spec, UpdateKind::Full, u)?;
                let key = ContentKey::UpdatesByRange {
                    start_period: period_of_slot(u.attested_header.beacon.slot),
                    count: 1,
                };
                (key, updates_to_content(std::slice::from_ref(&item)), item)
            }
            Verified::Finality(u) => (
                ContentKey::FinalityUpdate(u.finalized_header.beacon.slot),
                update_to_content(spec, UpdateKind::Finality, u)?,
                Vec::new(),
            ),
            Verified::Optimistic(u) => (
                ContentKey::OptimisticUpdate(u.signature_slot),
                update_to_content(spec, UpdateKind::Optimistic, u)?,
                Vec::new(),
            ),
        })
    }

    /// Offer `items` (in order) to up to [`GOSSIP_PEERS`] random peers other than `except`.
    async fn gossip(&self, items: Vec<(ContentKey, Vec<u8>)>, except: Option<NodeId>) {
        let target = B256::random();
        let mut peers: Vec<Enr> = self
            .peers()
            .into_iter()
            .filter(|p| Some(node_id_of(p)) != except)
            .collect();
        // Closest to a random point: a random choice, without another dependency.
        peers.sort_by_key(|p| node_id_of(p).0 ^ target);
        peers.truncate(GOSSIP_PEERS);
        let offers = peers.iter().map(|peer| self.offer(peer, &items));
        futures::future::join_all(offers).await;
    }

    /// Offer `items` to `peer` and stream the ones it accepts. Returns how many it took.
    pub async fn offer(&self, peer: &Enr, items: &[(ContentKey, Vec<u8>)]) -> usize {
        let offer = Message::Offer(Offer {
            content_keys: items.iter().map(|(k, _)| k.to_bytes().into()).collect(),
        });
        let Some(Message::Accept(accept)) = self.request(peer, &offer).await else {
            return 0;
        };
        let accepted: Vec<&Vec<u8>> = items
            .iter()
            .zip(&accept.codes)
            .filter(|(_, code)| code.is_accepted())
            .map(|((_, value), _)| value)
            .collect();
        if accepted.is_empty() {
            return 0;
        }
        let payload = framing::encode_items(&accepted);
        match self
            .inner
            .transport
            .utp_connect_send(peer.clone(), accept.connection_id, payload)
            .await
        {
            Ok(()) => {
                self.inner
                    .offered_count
                    .fetch_add(accepted.len() as u64, Ordering::Relaxed);
                accepted.len()
            }
            Err(e) => {
                tracing::debug!(error = %e, "beacon network: offer transfer failed");
                0
            }
        }
    }

    /// The newest finality and optimistic slots we serve (what we have verified).
    fn ephemeral_slots(&self) -> (Option<u64>, Option<u64>) {
        let served = lock(&self.inner.served);
        (
            served.finality.as_ref().map(|(s, _)| *s),
            served.optimistic.as_ref().map(|(s, _)| *s),
        )
    }
}

/// The radius in a Pong's payload, if it is one of the extensions that carry it.
fn radius_of(payload: &PingPayload) -> Option<Radius> {
    match payload {
        PingPayload::Extension {
            payload_type,
            payload,
        } => PingExtension::decode(*payload_type, payload)
            .ok()?
            .data_radius()
            .map(Radius),
        PingPayload::Legacy(custom) if custom.len() == 32 => {
            Some(Radius(U256::from_le_slice(custom)))
        }
        PingPayload::Legacy(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served() -> Served {
        Served {
            bootstraps: HashMap::from([(B256::repeat_byte(1), vec![0xb0])]),
            updates: BTreeMap::from([(10, vec![0x0a]), (11, vec![0x0b]), (13, vec![0x0d])]),
            finality: Some((100, vec![0xf0])),
            optimistic: Some((200, vec![0x0f])),
        }
    }

    #[test]
    fn ephemeral_updates_are_served_at_or_after_the_asked_slot_only() {
        let s = served();
        assert_eq!(s.get(&ContentKey::FinalityUpdate(0)), Some(vec![0xf0]));
        assert_eq!(s.get(&ContentKey::FinalityUpdate(100)), Some(vec![0xf0]));
        // The spec: one newer than we have is asked for; nothing newer means no content.
        assert_eq!(s.get(&ContentKey::FinalityUpdate(101)), None);
        assert_eq!(s.get(&ContentKey::OptimisticUpdate(200)), Some(vec![0x0f]));
        assert_eq!(s.get(&ContentKey::OptimisticUpdate(201)), None);
        assert_eq!(
            s.get(&ContentKey::Bootstrap(B256::repeat_byte(1))),
            Some(vec![0xb0])
        );
        assert_eq!(s.get(&ContentKey::Bootstrap(B256::repeat_byte(2))), None);
    }

    #[test]
    fn a_range_is_the_consecutive_periods_from_its_start() {
        let s = served();
        let range = |start_period, count| {
            s.get(&ContentKey::UpdatesByRange {
                start_period,
                count,
            })
        };
        // 10 and 11, not 13: the answer stops at the first period we lack.
        assert_eq!(
            range(10, 128),
            Some(updates_to_content(&[vec![0x0a], vec![0x0b]]))
        );
        assert_eq!(range(11, 1), Some(updates_to_content(&[vec![0x0b]])));
        assert_eq!(range(12, 5), None);
        assert_eq!(range(9, 5), None);
        assert_eq!(range(13, u64::MAX), Some(updates_to_content(&[vec![0x0d]])));
    }
}
