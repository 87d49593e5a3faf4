//! The Portal beacon network (`0x501A`) between our own nodes, over real UDP sockets on
//! 127.0.0.1 with the real mainnet Deneb light-client objects of portal-spec-tests:
//!
//! * node A follows a beacon REST API (the local test server) and re-publishes what it verified
//!   to its `0x501A` peers; node B, given only the checkpoint and A as bootnode, no URL, gets
//!   everything by A's offers and reaches A's finalized and optimistic slots and trusted block;
//!   node C, with only B as bootnode, gets it by FindContent from B (over uTP and inline);
//! * a peer that offers or serves a forged object is refused: counted, not asked again, its
//!   offers declined, and the store unchanged.

use alloy_primitives::{Bytes, U256};
use portal_state::beacon::portal::{
    bootstrap_to_content, update_to_content, ContentKey, UpdateKind, BEACON_PROTOCOL_ID,
};
use portal_state::beacon::ChainSpec;
use portal_state::net::{enr_from_base64, Enr, InboundRequest, Transport, TransportConfig};
use portal_state::node::{Config, LightClientConfig, LightClientStatus, Node};
use portal_state::wire::{
    framing, AcceptCode, Content, Message, Offer, Ping, PingExtension, PingPayload, Pong,
    ProtocolVersion,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::support::beacon_data;

use beacon_data::*;

fn node_config(dir: &std::path::Path, bootnodes: Vec<String>) -> Config {
    Config {
        data_dir: dir.to_path_buf(),
        storage_capacity_bytes: 0,
        worker_threads: 1,
        bootnodes,
        ..Config::default()
    }
}

fn light_client(urls: Vec<String>, poll: Duration) -> LightClientConfig {
    LightClientConfig {
        checkpoint: Some(CHECKPOINT),
        beacon_api_urls: urls,
        poll_interval: poll,
        request_timeout: Duration::from_secs(5),
        ..LightClientConfig::default()
    }
}

fn light(node: &Node) -> LightClientStatus {
    node.status().unwrap().light_client.unwrap()
}

/// Wait (bounded: 30 s) until `done` holds for `node`'s light client.
fn wait_until(node: &Node, what: &str, done: impl Fn(&LightClientStatus) -> bool) {
    for _ in 0..600 {
        if done(&light(node)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what}: {:?}", light(node));
}

/// The heads as status shows them.
fn heads(s: &LightClientStatus) -> (Option<u64>, Option<u64>, Option<u64>, Option<u64>) {
    (
        s.finalized_slot,
        s.optimistic_slot,
        s.finalized_block,
        s.optimistic_block,
    )
}

#[test]
fn a_rest_follower_republishes_and_nodes_without_a_url_reach_its_heads() {
    let server = serve(objects());
    // The REST node's beacon node is "still syncing" until B has joined.
    server.open.store(false, Ordering::Relaxed);
    let (dir_a, dir_b, dir_c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let a = Node::start(node_config(dir_a.path(), vec![])).unwrap();
    a.start_light_client(light_client(
        vec![server.url.clone()],
        Duration::from_millis(100),
    ))
    .unwrap();
    let a_enr = a.status().unwrap().enr;

    // B: the checkpoint, A as bootnode, no URL; it asks the network once an hour only, so
    // what it gets after its first (failed) round comes from A's offers.
    let b = Node::start(node_config(dir_b.path(), vec![a_enr])).unwrap();
    b.start_light_client(light_client(vec![], Duration::from_secs(3600)))
        .unwrap();
    wait_until(&b, "B finds A on 0x501A", |s| s.beacon_peers == 1);
    wait_until(&a, "A learns B from its Ping", |s| s.beacon_peers == 1);
    wait_until(&b, "B's first round fails: nobody has anything", |s| {
        s.last_error.is_some()
    });
    assert_eq!(b.status().unwrap().newest_block, None);

    server.open.store(true, Ordering::Relaxed);
    let opened = std::time::Instant::now();
    wait_until(&a, "A reaches the vectors' heads over REST", |s| {
        s.optimistic_block == Some(OPTIMISTIC_BLOCK)
    });
    let a_took = opened.elapsed();
    wait_until(&b, "B reaches A's heads from A's offers", |s| {
        s.optimistic_block == Some(OPTIMISTIC_BLOCK)
    });
    // Measured for BENCHMARKS.md, not asserted.
    eprintln!(
        "A from REST: {a_took:?}; B by A's offers: {:?} after the REST server opened",
        opened.elapsed()
    );
    let (status_a, status_b) = (light(&a), light(&b));
    assert_eq!(heads(&status_b), heads(&status_a));
    assert_eq!(
        heads(&status_b),
        (
            Some(10_248_384),
            Some(10_248_457),
            Some(FINALIZED_BLOCK),
            Some(OPTIMISTIC_BLOCK)
        )
    );
    assert_eq!(b.status().unwrap().newest_block, Some(OPTIMISTIC_BLOCK));
    assert_eq!(status_b.refused_objects, 0);

    // C: B as its only bootnode; it fetches by FindContent from B, which serves what it
    // verified from A's offers.
    let b_enr = b.status().unwrap().enr;
    let started = std::time::Instant::now();
    let c = Node::start(node_config(dir_c.path(), vec![b_enr])).unwrap();
    c.start_light_client(light_client(vec![], Duration::from_millis(200)))
        .unwrap();
    wait_until(&c, "C reaches the heads from B", |s| {
        s.optimistic_block == Some(OPTIMISTIC_BLOCK)
    });
    eprintln!(
        "C by FindContent from B: {:?} from its start",
        started.elapsed()
    );
    assert_eq!(heads(&light(&c)), heads(&status_a));
    assert_eq!(c.status().unwrap().newest_block, Some(OPTIMISTIC_BLOCK));
    assert_eq!(light(&c).refused_objects, 0);
    for node in [c, b, a] {
        node.stop().unwrap();
    }
}

/// A peer that speaks `0x501A` through a bare transport: it pings, offers, and serves what
/// the test tells it to.
struct Liar {
    transport: Transport,
    /// FindContent requests it received.
    asked: Arc<AtomicU64>,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

fn capabilities() -> PingPayload {
    let ext = PingExtension::Capabilities {
        client_info: Bytes::from_static(b"liar"),
        data_radius: U256::MAX,
        capabilities: vec![0, 1],
    };
    PingPayload::Extension {
        payload_type: ext.payload_type(),
        payload: ext.encode().into(),
    }
}

impl Liar {
    /// Started; answers Pings, and FindContent with `served` (over uTP) when it is `Some`.
    async fn start(served: Option<Vec<u8>>) -> Liar {
        let (transport, _state_requests) =
            Transport::start(TransportConfig::loopback(rand_key(), 1))
                .await
                .unwrap();
        let mut requests = transport.beacon_requests();
        let asked = Arc::new(AtomicU64::new(0));
        let (t, counter) = (transport.clone(), asked.clone());
        tokio::spawn(async move {
            while let Some(request) = requests.recv().await {
                answer(&t, request, served.as_deref(), &counter);
            }
        });
        Liar { transport, asked }
    }

    async fn ask(&self, peer: &Enr, message: Message) -> Message {
        let version = self.transport.peer_version(peer).unwrap();
        let answer = self
            .transport
            .request_on(BEACON_PROTOCOL_ID, peer, message.encode(version))
            .await
            .unwrap();
        Message::decode(&answer, version).unwrap()
    }

    async fn ping(&self, peer: &Enr) {
        let pong = self
            .ask(
                peer,
                Message::Ping(Ping {
                    enr_seq: 1,
                    payload: capabilities(),
                }),
            )
            .await;
        assert!(matches!(pong, Message::Pong(_)), "{pong:?}");
    }

    /// Offers `value` under `key`; returns the code, and streams the value if accepted.
    async fn offer(&self, peer: &Enr, key: ContentKey, value: Vec<u8>) -> AcceptCode {
        let offer = Message::Offer(Offer {
            content_keys: vec![key.to_bytes().into()],
        });
        let Message::Accept(accept) = self.ask(peer, offer).await else {
            panic!("no Accept")
        };
        if accept.codes[0].is_accepted() {
            self.transport
                .utp_connect_send(
                    peer.clone(),
                    accept.connection_id,
                    framing::encode_items(&[value]),
                )
                .await
                .unwrap();
        }
        accept.codes[0]
    }
}

fn rand_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    key[0] = 1;
    key[1..9].copy_from_slice(&std::process::id().to_le_bytes().repeat(2));
    key[31] = 7;
    key
}

fn answer(t: &Transport, request: InboundRequest, served: Option<&[u8]>, asked: &AtomicU64) {
    let version = ProtocolVersion::V2;
    let response = match Message::decode(request.body(), version) {
        Ok(Message::Ping(_)) => Some(Message::Pong(Pong {
            enr_seq: 1,
            payload: capabilities(),
        })),
        Ok(Message::FindContent(_)) => {
            asked.fetch_add(1, Ordering::Relaxed);
            match (served, request.enr()) {
                (Some(value), Some(enr)) => {
                    let cid = t.new_connection_id(&enr);
                    let (t, payload) = (t.clone(), framing::encode_items(&[value]));
                    tokio::spawn(async move {
                        let _ = t.utp_accept_send(enr, cid, payload).await;
                    });
                    Some(Message::Content(Content::ConnectionId(cid)))
                }
                _ => Some(Message::Content(Content::Enrs(vec![]))),
            }
        }
        _ => None,
    };
    request.respond(response.map(|m| m.encode(version)).unwrap_or_default());
}

/// The checkpoint's bootstrap with one committee key changed: it hashes to the checkpoint,
/// but its committee branch does not verify.
fn forged_bootstrap() -> Vec<u8> {
    let spec = ChainSpec::mainnet();
    let mut bootstrap = objects().bootstrap;
    bootstrap.current_sync_committee.pubkeys[3][5] ^= 1;
    bootstrap_to_content(&spec, &bootstrap).unwrap()
}

#[test]
fn a_forged_offer_is_refused_and_its_sender_not_heard_again() {
    let rt = runtime();
    let liar = rt.block_on(Liar::start(None));
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(node_config(dir.path(), vec![])).unwrap();
    node.start_light_client(light_client(vec![], Duration::from_secs(3600)))
        .unwrap();
    let enr = enr_from_base64(&node.status().unwrap().enr).unwrap();
    rt.block_on(liar.ping(&enr));
    wait_until(&node, "the liar is a peer", |s| s.beacon_peers == 1);

    let code = rt.block_on(liar.offer(&enr, ContentKey::Bootstrap(CHECKPOINT), forged_bootstrap()));
    assert_eq!(code, AcceptCode::Accepted);
    wait_until(&node, "the forgery is refused", |s| s.refused_objects == 1);
    let status = light(&node);
    assert_eq!(heads(&status), (None, None, None, None));
    assert_eq!(status.beacon_peers, 0);
    assert_eq!(node.status().unwrap().newest_block, None);

    // Its next offers are declined, even of a genuine object: it is not heard again.
    let spec = ChainSpec::mainnet();
    let genuine = update_to_content(&spec, UpdateKind::Finality, &objects().finality).unwrap();
    let code = rt.block_on(liar.offer(&enr, ContentKey::FinalityUpdate(10_248_384), genuine));
    assert_eq!(code, AcceptCode::Declined);
    assert_eq!(light(&node).refused_objects, 1);
    node.stop().unwrap();
    rt.block_on(liar.transport.shutdown());
}

#[test]
fn a_peer_serving_a_forgery_is_refused_and_not_asked_again() {
    let rt = runtime();
    let liar = rt.block_on(Liar::start(Some(forged_bootstrap())));
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(node_config(dir.path(), vec![])).unwrap();
    // Asks its peers every 100 ms.
    node.start_light_client(light_client(vec![], Duration::from_millis(100)))
        .unwrap();
    let enr = enr_from_base64(&node.status().unwrap().enr).unwrap();
    rt.block_on(liar.ping(&enr));
    wait_until(&node, "the forgery is fetched and refused", |s| {
        s.refused_objects == 1
    });
    let status = light(&node);
    assert_eq!(heads(&status), (None, None, None, None));
    assert_eq!(status.beacon_peers, 0);
    // Ten more rounds: the liar is asked no more (the one FindContent it answered).
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(liar.asked.load(Ordering::Relaxed), 1);
    assert_eq!(light(&node).refused_objects, 1);
    node.stop().unwrap();
    rt.block_on(liar.transport.shutdown());
}

/// What we serve is byte for byte what the spec's vectors hold: decoding a vector's content
/// value and encoding it again gives the same bytes (for each kind of item).
#[test]
fn served_values_are_the_vectors_bytes() {
    use portal_state::beacon::portal::{updates_from_content, updates_to_content};
    let spec = ChainSpec::mainnet();
    let o = objects();
    assert_eq!(
        bootstrap_to_content(&spec, &o.bootstrap).unwrap(),
        value("bootstrap.yaml")
    );
    assert_eq!(
        update_to_content(&spec, UpdateKind::Finality, &o.finality).unwrap(),
        value("finality_update.yaml")
    );
    assert_eq!(
        update_to_content(&spec, UpdateKind::Optimistic, &o.optimistic).unwrap(),
        value("optimistic_update.yaml")
    );
    let items: Vec<Vec<u8>> = o
        .updates
        .iter()
        .map(|u| update_to_content(&spec, UpdateKind::Full, u).unwrap())
        .collect();
    let range = updates_to_content(&items);
    assert_eq!(range, value("updates.yaml"));
    assert_eq!(updates_from_content(&spec, &range).unwrap(), o.updates);
    // The sizes BENCHMARKS.md gives.
    for name in [
        "bootstrap.yaml",
        "updates.yaml",
        "finality_update.yaml",
        "optimistic_update.yaml",
    ] {
        eprintln!("{name}: {} bytes", value(name).len());
    }
    eprintln!("one update of the range: {} bytes", items[0].len());
    // Keys as the vectors give them.
    let key = ContentKey::Bootstrap(CHECKPOINT);
    assert_eq!(ContentKey::from_bytes(&key.to_bytes()), Some(key));
    assert_eq!(ContentKey::from_bytes(&[0x14; 9]), None);
}
