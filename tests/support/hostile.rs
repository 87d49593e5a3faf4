//! Hostile peers for the tests: our own transport and wire code, patched to lie.
//!
//! A [`Liar`] is a real node on its own UDP socket (discv5 sessions, TALKREQ, uTP) that answers
//! Ping honestly (so it enters routing tables, with radius MAX) and everything else with the
//! crafted answer of its [`Lie`]. It can also act as a sender: requests and offers of its
//! choosing ([`Liar::offer`], [`Liar::ping`]).
//!
//! Honest nodes are ordinary [`Network`]s holding real mainnet (or holesky) genesis data; the
//! querier under test can be built from parts ([`Querier`]) when a test needs a transport
//! setting `Network` does not expose (a short uTP deadline).
#![allow(dead_code)]

use super::nodes::*;
use alloy_primitives::{B256, U256};
use portal_state::content::{ContentId, ContentKey};
use portal_state::net::{Enr, Transport, TransportConfig};
use portal_state::network::Network;
use portal_state::overlay::{NodeId, Overlay, OverlayConfig};
use portal_state::proof::{self, BlockHeader, StateWitnesses, VerifiedContent};
use portal_state::store::{ContentStore, StoreConfig};
use portal_state::wire::{
    framing, Accept, AcceptCode, Content, Message, Nodes, Offer, Ping, PingExtension, PingPayload,
    Pong, ProtocolVersion,
};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// What a liar answers to FindContent (and FindNodes).
#[derive(Clone)]
pub enum Lie {
    /// These bytes as the content, inline.
    Value(Vec<u8>),
    /// These bytes as the content, over uTP (framed as protocol v1+ wants).
    Streamed(Vec<u8>),
    /// A uTP connection id, and then nothing: the stream is never accepted.
    SilentStream,
    /// These (RLP) ENRs, for FindContent and FindNodes alike, whatever was asked.
    Enrs(Vec<Vec<u8>>),
    /// Each FindContent or FindNodes is answered with the next `per_answer` ENRs of the list
    /// (set later with [`Liar::set_enrs`]), round robin: sybils pointing at each other.
    Sybil { per_answer: usize },
}

/// A lying node.
pub struct Liar {
    pub transport: Transport,
    task: tokio::task::JoinHandle<()>,
    /// FindContent requests it answered.
    pub find_content_hits: Arc<AtomicU64>,
    /// FindNodes requests it answered.
    pub find_nodes_hits: Arc<AtomicU64>,
    sybil_enrs: Arc<Mutex<Vec<Vec<u8>>>>,
}

fn pong() -> Message {
    let ext = PingExtension::BasicRadius {
        data_radius: U256::MAX,
    };
    Message::Pong(Pong {
        enr_seq: 1,
        payload: PingPayload::Extension {
            payload_type: ext.payload_type(),
            payload: ext.encode().into(),
        },
    })
}

impl Liar {
    /// A liar bound to `ip` (any port) with `secret_key`, telling `lie`.
    pub async fn start(ip: Ipv4Addr, secret_key: [u8; 32], lie: Lie) -> Liar {
        let mut config = TransportConfig::loopback(secret_key, 1);
        config.bind = SocketAddr::from((ip, 0));
        let (transport, mut requests) = Transport::start(config).await.unwrap();
        let find_content_hits = Arc::new(AtomicU64::new(0));
        let find_nodes_hits = Arc::new(AtomicU64::new(0));
        let sybil_enrs: Arc<Mutex<Vec<Vec<u8>>>> = Arc::new(Mutex::new(Vec::new()));
        let (fc, fnh, sy) = (
            find_content_hits.clone(),
            find_nodes_hits.clone(),
            sybil_enrs.clone(),
        );
        let t = transport.clone();
        let task = tokio::spawn(async move {
            let mut cursor = 0usize;
            while let Some(request) = requests.recv().await {
                let peer = request.enr();
                let version = peer
                    .as_ref()
                    .and_then(|e| t.peer_version(e).ok())
                    .unwrap_or(ProtocolVersion::V2);
                let mut sybil_answer = |per_answer: usize| -> Vec<alloy_primitives::Bytes> {
                    let enrs = sy.lock().unwrap();
                    let n = enrs.len();
                    let out = (0..per_answer.min(n))
                        .map(|i| enrs[(cursor + i) % n].clone().into())
                        .collect();
                    cursor = cursor.wrapping_add(per_answer);
                    out
                };
                let response = match Message::decode(request.body(), version) {
                    Ok(Message::Ping(_)) => Some(pong()),
                    Ok(Message::FindNodes(_)) => {
                        fnh.fetch_add(1, Ordering::Relaxed);
                        let enrs = match &lie {
                            Lie::Enrs(list) => list.iter().map(|b| b.clone().into()).collect(),
                            Lie::Sybil { per_answer } => sybil_answer(*per_answer),
                            _ => Vec::new(),
                        };
                        Some(Message::Nodes(Nodes { total: 1, enrs }))
                    }
                    Ok(Message::FindContent(_)) => {
                        fc.fetch_add(1, Ordering::Relaxed);
                        Some(Message::Content(match &lie {
                            Lie::Value(bytes) => Content::Content(bytes.clone().into()),
                            Lie::Streamed(bytes) => {
                                let Some(peer) = peer.clone() else {
                                    request.respond(Vec::new());
                                    continue;
                                };
                                let cid = t.new_connection_id(&peer);
                                let payload = framing::encode_items(&[bytes]);
                                let sender = t.clone();
                                tokio::spawn(async move {
                                    let _ = sender.utp_accept_send(peer, cid, payload).await;
                                });
                                Content::ConnectionId(cid)
                            }
                            Lie::SilentStream => Content::ConnectionId(0x4242),
                            Lie::Enrs(list) => {
                                Content::Enrs(list.iter().map(|b| b.clone().into()).collect())
                            }
                            Lie::Sybil { per_answer } => Content::Enrs(sybil_answer(*per_answer)),
                        }))
                    }
                    Ok(Message::Offer(offer)) => Some(Message::Accept(Accept {
                        connection_id: 0,
                        codes: vec![AcceptCode::Declined; offer.content_keys.len()],
                    })),
                    _ => None,
                };
                request.respond(response.map(|m| m.encode(version)).unwrap_or_default());
            }
        });
        Liar {
            transport,
            task,
            find_content_hits,
            find_nodes_hits,
            sybil_enrs,
        }
    }

    /// The ENRs a [`Lie::Sybil`] answers with.
    pub fn set_enrs(&self, enrs: Vec<Vec<u8>>) {
        *self.sybil_enrs.lock().unwrap() = enrs;
    }

    pub fn enr(&self) -> Enr {
        self.transport.local_enr()
    }

    pub fn id(&self) -> NodeId {
        NodeId(B256::from(self.transport.local_node_id()))
    }

    /// Sends a raw Portal message to `peer` and decodes the answer (`None`: an empty or
    /// undecodable answer, i.e. refused).
    pub async fn send(&self, peer: &Enr, message: Message) -> Option<Message> {
        let version = self.transport.peer_version(peer).ok()?;
        let body = self
            .transport
            .request(peer, message.encode(version))
            .await
            .ok()?;
        Message::decode(&body, version).ok()
    }

    /// Pings `peer` (a well-formed Ping with radius MAX); whether it answered with a Pong.
    pub async fn ping(&self, peer: &Enr) -> bool {
        let ext = PingExtension::BasicRadius {
            data_radius: U256::MAX,
        };
        let ping = Message::Ping(Ping {
            enr_seq: 1,
            payload: PingPayload::Extension {
                payload_type: ext.payload_type(),
                payload: ext.encode().into(),
            },
        });
        matches!(self.send(peer, ping).await, Some(Message::Pong(_)))
    }

    /// Offers `keys` to `peer`; for accepted keys, sends `payload(accepted_keys)` over uTP.
    /// Returns the Accept (None if refused outright).
    pub async fn offer(
        &self,
        peer: &Enr,
        keys: &[ContentKey],
        payload: impl FnOnce(&[ContentKey]) -> Vec<u8>,
    ) -> Option<Accept> {
        let offer = Message::Offer(Offer {
            content_keys: keys.iter().map(|k| k.encode().into()).collect(),
        });
        let Some(Message::Accept(accept)) = self.send(peer, offer).await else {
            return None;
        };
        let accepted: Vec<ContentKey> = keys
            .iter()
            .zip(&accept.codes)
            .filter(|(_, c)| c.is_accepted())
            .map(|(k, _)| *k)
            .collect();
        if !accepted.is_empty() {
            let data = payload(&accepted);
            let _ = self
                .transport
                .utp_connect_send(peer.clone(), accept.connection_id, data)
                .await;
        }
        Some(accept)
    }

    pub async fn stop(self) {
        self.task.abort();
        self.transport.shutdown().await;
    }
}

/// The node id of a secp256k1 secret key.
pub fn node_id_of_key(secret: [u8; 32]) -> Option<NodeId> {
    use enr::EnrKey;
    let key = enr::CombinedKey::secp256k1_from_bytes(&mut secret.clone()).ok()?;
    let id = enr::NodeId::from(key.public());
    Some(NodeId(B256::from(id.raw())))
}

/// A secret key whose node id is closer (ring distance) to `target` than every id in `beat`
/// and within 2^248 of it: a sybil ground next to the content.
pub fn key_near(target: ContentId, beat: &[NodeId]) -> [u8; 32] {
    let bound = beat
        .iter()
        .map(|id| id.ring().distance(target))
        .min()
        .unwrap_or(U256::MAX)
        .min(U256::from(1u8) << 248);
    loop {
        let secret = B256::random().0;
        if let Some(id) = node_id_of_key(secret) {
            if id.ring().distance(target) < bound {
                return secret;
            }
        }
    }
}

/// Mainnet's genesis witnesses, built once per test binary.
pub fn mainnet() -> &'static StateWitnesses {
    static CELL: OnceLock<StateWitnesses> = OnceLock::new();
    CELL.get_or_init(|| genesis_witnesses("mainnet"))
}

/// Holesky's genesis witnesses (it has contract code), built once per test binary.
pub fn holesky() -> &'static StateWitnesses {
    static CELL: OnceLock<StateWitnesses> = OnceLock::new();
    CELL.get_or_init(|| genesis_witnesses("holesky"))
}

/// The `index`th mainnet account item, verified.
pub fn mainnet_item(index: usize) -> VerifiedContent {
    let (k, v) = &mainnet().items[index];
    proof::verify(*k, v.clone()).unwrap()
}

/// `n` honest nodes, node `i` bound to `ips[i]`, joined through the first; all trust the
/// mainnet and holesky genesis headers, and each stores `items` (real data, verified).
pub async fn honest_network(
    root: &Path,
    ips: &[Ipv4Addr],
    items: &[VerifiedContent],
) -> Vec<Network> {
    init_logs();
    let mut nodes: Vec<Network> = Vec::new();
    for (i, ip) in ips.iter().enumerate() {
        let mut config = test_config(&root.join(format!("honest-{i}")), 50_000_000);
        config.bind = SocketAddr::from((*ip, 0));
        if let Some(boot) = nodes.first() {
            config.bootnodes = vec![boot.enr()];
        }
        nodes.push(Network::start(config).await.unwrap());
    }
    let boot = nodes[0].enr();
    for node in &nodes {
        node.overlay().bootstrap(std::slice::from_ref(&boot)).await;
        node.add_trusted_header(&genesis_header_rlp("mainnet"))
            .unwrap();
        node.add_trusted_header(&genesis_header_rlp("holesky"))
            .unwrap();
        for item in items {
            node.overlay().store_verified(item).unwrap();
        }
    }
    nodes
}

/// Whether `node` stores `key`.
pub fn stores(node: &Overlay, key: &ContentKey) -> bool {
    node.with_store(|s| s.contains(key).unwrap_or(false))
        .unwrap_or(false)
}

/// A querier built from parts (transport, store, overlay), so that its uTP deadline and
/// overlay settings can be chosen. It stores nothing (capacity 0) unless told otherwise.
pub struct Querier {
    pub overlay: Overlay,
    serve: tokio::task::JoinHandle<()>,
}

impl Querier {
    pub async fn start(
        dir: &Path,
        ip: Ipv4Addr,
        config: OverlayConfig,
        utp_timeout: Duration,
        capacity_bytes: u64,
    ) -> Querier {
        std::fs::create_dir_all(dir).unwrap();
        let mut transport_config = TransportConfig::loopback(B256::random().0, 1);
        transport_config.bind = SocketAddr::from((ip, 0));
        transport_config.utp_timeout = utp_timeout;
        let (transport, requests) = Transport::start(transport_config).await.unwrap();
        let store = ContentStore::open_in_dir(
            dir,
            StoreConfig {
                node_id: ContentId::from(transport.local_node_id()),
                capacity_bytes,
            },
        )
        .unwrap();
        let overlay = Overlay::new(transport, store, config);
        for network in ["mainnet", "holesky"] {
            let header = BlockHeader::decode(&genesis_header_rlp(network)).unwrap();
            overlay.update_heads(|h| h.insert(header));
        }
        let serve = tokio::spawn(overlay.clone().serve(requests));
        Querier { overlay, serve }
    }

    pub async fn stop(self) {
        self.serve.abort();
        let _ = self.overlay.close_store();
        self.overlay.transport().shutdown().await;
    }
}

pub async fn stop_all(nodes: Vec<Network>) {
    for node in nodes {
        node.stop().await;
    }
}
