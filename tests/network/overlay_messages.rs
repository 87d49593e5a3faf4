//! Every wire message type crosses a real socket between two of our nodes, in every form:
//! Ping/Pong (extension types 0, 1, the 65535 error, and the legacy layout), FindNodes/Nodes,
//! FindContent/Content (inline content, uTP connection id, ENRs), Offer/Accept.
//!
//! Then interop with trin (issue #12): the exact bytes trin sends — its Ping with its client
//! info, its FindNodes distances in its order, its state keys (selectors 0x20-0x22) in Offer and
//! FindContent — and a stand-in for trin on a real socket that answers as trin does (its Pong,
//! empty TALKRESPs to our content keys). Every answer of our node and every request it sends is
//! checked against the spec's rules for senders ([`check_outgoing`]).

use crate::support::nodes;

use alloy_primitives::{hex, B256, U256};
use nodes::*;
use portal_state::content::{ContentKey, ContentValue};
use portal_state::net::{Transport, TransportConfig};
use portal_state::network::Network;
use portal_state::overlay::{NodeId, OverlayError, PeerState, CLIENT_INFO};
use portal_state::proof;
use portal_state::wire::{
    check_client_info, check_outgoing, AcceptCode, Content, FindContent, FindNodes, Message, Nodes,
    Offer, Ping, PingExtension, PingPayload, ProtocolVersion,
};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// Messages the node sent that break the spec's rules for senders.
fn violations(node: &Network) -> u64 {
    node.overlay()
        .counters()
        .spec_violations
        .load(Ordering::Relaxed)
}

/// Offered keys the node declined as not verifiable.
fn not_verifiable(node: &Network) -> u64 {
    node.overlay()
        .counters()
        .offered_keys_not_verifiable
        .load(Ordering::Relaxed)
}

/// Send a message as a TALKREQ from a bare transport and decode the answer, which must follow
/// the spec's rules for senders.
async fn raw_request(from: &Transport, to: &Network, message: Message) -> Message {
    let response = raw_exchange(from, to, message.encode(ProtocolVersion::V2)).await;
    Message::decode(&response, ProtocolVersion::V2).unwrap()
}

/// Send `body` as a TALKREQ from a bare transport; the TALKRESP bytes. A non-empty answer must
/// follow the spec's rules for senders.
async fn raw_exchange(from: &Transport, to: &Network, body: Vec<u8>) -> Vec<u8> {
    let response = from.request(&to.enr(), body).await.unwrap();
    if !response.is_empty() {
        if let Err(e) = check_outgoing(&response, ProtocolVersion::V2) {
            panic!("our node sent 0x{}: {e}", hex::encode(&response));
        }
    }
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_type_crosses_a_real_socket() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = start_network(dir.path(), 3, 10_000_000).await;
    trust_everywhere(&nodes, &genesis_header_rlp("mainnet"));
    trust_everywhere(&nodes, &genesis_header_rlp("holesky"));
    trust_everywhere(&nodes, &genesis_header_rlp("sepolia"));
    let (a, b) = (&nodes[1], &nodes[2]);

    // Ping/Pong through the overlay: radius learned both ways.
    let radius = a.overlay().ping(&b.enr()).await.unwrap();
    assert_eq!(radius, b.status().radius);
    assert!(
        b.overlay().with_table(|t| t.get(a.node_id()).is_some()),
        "the pinged side learned the pinger"
    );

    // A bare transport speaks the raw forms.
    let (raw, _requests) = Transport::start(TransportConfig::loopback(B256::random().0, 1))
        .await
        .unwrap();
    for payload_type in [PingExtension::CAPABILITIES, PingExtension::BASIC_RADIUS] {
        let ext = if payload_type == 0 {
            PingExtension::Capabilities {
                client_info: b"test".to_vec().into(),
                data_radius: U256::MAX,
                capabilities: vec![0, 1],
            }
        } else {
            PingExtension::BasicRadius {
                data_radius: U256::MAX,
            }
        };
        let ping = Message::Ping(Ping {
            enr_seq: 1,
            payload: PingPayload::Extension {
                payload_type,
                payload: ext.encode().into(),
            },
        });
        let Message::Pong(pong) = raw_request(&raw, b, ping).await else {
            panic!("not a Pong")
        };
        let PingPayload::Extension {
            payload_type: t,
            payload,
        } = pong.payload
        else {
            panic!("legacy Pong")
        };
        assert_eq!(t, payload_type, "Pong answers in the Ping's type");
        let pong_ext = PingExtension::decode(t, &payload).unwrap();
        assert_eq!(pong_ext.data_radius(), Some(b.status().radius.0));
        if let PingExtension::Capabilities {
            capabilities,
            client_info,
            ..
        } = pong_ext
        {
            assert_eq!(capabilities, vec![0, 1, 65535]);
            assert!(client_info.starts_with(b"portal-state/"));
        }
    }
    // An unknown extension type gets the error payload.
    let ping = Message::Ping(Ping {
        enr_seq: 1,
        payload: PingPayload::Extension {
            payload_type: 9999,
            payload: vec![1, 2].into(),
        },
    });
    let Message::Pong(pong) = raw_request(&raw, b, ping).await else {
        panic!("not a Pong")
    };
    let PingPayload::Extension {
        payload_type,
        payload,
    } = pong.payload
    else {
        panic!()
    };
    assert_eq!(payload_type, PingExtension::ERROR);
    assert!(matches!(
        PingExtension::decode(payload_type, &payload).unwrap(),
        PingExtension::Error { error_code: 0, .. }
    ));
    // The legacy layout is answered in kind.
    let legacy = Message::Ping(Ping {
        enr_seq: 1,
        payload: PingPayload::Legacy(U256::MAX.to_le_bytes::<32>().to_vec().into()),
    });
    let Message::Pong(pong) = raw_request(&raw, b, legacy).await else {
        panic!()
    };
    let PingPayload::Legacy(custom) = pong.payload else {
        panic!("extension Pong to a legacy Ping")
    };
    assert_eq!(U256::from_le_slice(&custom), b.status().radius.0);

    // FindNodes/Nodes: distance 0 is the node itself; others are its table, requester excluded.
    let Message::Nodes(nodes_msg) = raw_request(
        &raw,
        b,
        Message::FindNodes(FindNodes { distances: vec![0] }),
    )
    .await
    else {
        panic!()
    };
    assert_eq!(nodes_msg.enrs.len(), 1);
    let all: Vec<u16> = (1..=256).collect();
    let found = a.overlay().find_nodes(&b.enr(), all).await.unwrap();
    let ids: Vec<NodeId> = found
        .iter()
        .map(|e| NodeId(B256::from(e.node_id().raw())))
        .collect();
    assert!(ids.contains(&nodes[0].node_id()));
    assert!(!ids.contains(&a.node_id()), "the requester is excluded");

    // FindContent/Content, all three arms.
    let mainnet = genesis_witnesses("mainnet");
    // Sepolia's 15-account trie gives witnesses small enough to travel inline.
    let sepolia = genesis_witnesses("sepolia");
    let (small_key, small_value) = sepolia
        .items
        .iter()
        .find(|(_, v)| v.encode().len() < 1000)
        .cloned()
        .unwrap();
    let holesky = genesis_witnesses("holesky");
    let (code_key, code_value) = holesky
        .items
        .iter()
        .find(|(k, _)| matches!(k, ContentKey::Bytecode(_)))
        .cloned()
        .unwrap();
    let small = proof::verify(small_key, small_value.clone()).unwrap();
    let code = proof::verify(code_key, code_value.clone()).unwrap();
    b.overlay().store_verified(&small).unwrap();
    b.overlay().store_verified(&code).unwrap();

    let inline = raw_request(
        &raw,
        b,
        Message::FindContent(FindContent {
            content_key: small_key.encode().into(),
        }),
    )
    .await;
    assert_eq!(
        inline,
        Message::Content(Content::Content(small_value.encode().into()))
    );
    let by_utp = raw_request(
        &raw,
        b,
        Message::FindContent(FindContent {
            content_key: code_key.encode().into(),
        }),
    )
    .await;
    assert!(matches!(by_utp, Message::Content(Content::ConnectionId(_))));
    // ...and through the overlay, which opens the stream and verifies.
    assert_eq!(
        a.overlay()
            .ask_peer(&b.enr(), code_key)
            .await
            .unwrap()
            .value(),
        &code_value
    );
    let absent_key = mainnet.items[100].0;
    let enrs = raw_request(
        &raw,
        b,
        Message::FindContent(FindContent {
            content_key: absent_key.encode().into(),
        }),
    )
    .await;
    let Message::Content(Content::Enrs(list)) = enrs else {
        panic!("expected ENRs")
    };
    assert!(!list.is_empty());
    assert!(matches!(
        a.overlay().ask_peer(&b.enr(), absent_key).await,
        Err(OverlayError::NotFound(_))
    ));

    // Offer/Accept: stored, already stored, and declined (an untrusted root, a key of no known
    // format: "not verifiable", sent as the generic decline every client knows) codes.
    let fresh = proof::verify(mainnet.items[200].0, mainnet.items[200].1.clone()).unwrap();
    let codes = a
        .overlay()
        .offer(&b.enr(), &[fresh.clone(), small.clone()])
        .await
        .unwrap();
    assert_eq!(codes, vec![AcceptCode::Accepted, AcceptCode::AlreadyStored]);
    assert!(
        eventually(std::time::Duration::from_secs(10), || b
            .overlay()
            .with_store(|s| s.contains(fresh.key()).unwrap())
            .unwrap())
        .await,
        "accepted content arrived over uTP and was stored"
    );
    let mut untrusted = small_key;
    if let ContentKey::Account(k) = &mut untrusted {
        k.state_root = B256::repeat_byte(0x11);
    }
    let Message::Accept(accept) = raw_request(
        &raw,
        b,
        Message::Offer(Offer {
            content_keys: vec![untrusted.encode().into(), vec![0xff].into()],
        }),
    )
    .await
    else {
        panic!()
    };
    assert_eq!(
        accept.codes,
        vec![AcceptCode::Declined, AcceptCode::Declined]
    );
    assert_eq!(not_verifiable(b), 2, "the finer reason is counted");
    let _ = ContentValue::decode(&small_key, &small_value.encode()).unwrap();
    for node in &nodes {
        assert_eq!(
            violations(node),
            0,
            "every message we sent follows the spec"
        );
    }

    raw.shutdown().await;
    for node in nodes {
        node.stop().await;
    }
}

// -------------------------------------------------------------------------------------------
// Interop with trin (issue #12).
// -------------------------------------------------------------------------------------------

/// The bytes of the spec's type-0 ping extension vector `section` (trin's client info).
fn type0_vector(section: &str) -> Vec<u8> {
    let path = repo_file("tests/data/portal-network-specs/wire-message-vectors.yaml");
    let yaml: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let case = yaml["ping_extensions"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|c| c["section"].as_str() == Some(section))
        .unwrap();
    hex::decode(case["expected"].as_str().unwrap()).unwrap()
}

const TRIN_PING: &str = "Protocol Message to ssz encoded ping: case 1 with client info";
const TRIN_PONG: &str = "Protocol Message to ssz encoded pong: case 1 with client info";

/// Content keys of trin's state network (account trie node, storage trie node, bytecode:
/// selectors 0x20-0x22), from the portal-spec-tests vectors.
fn trin_state_keys() -> Vec<Vec<u8>> {
    [
        "account_trie_node_key",
        "contract_storage_trie_node_key",
        "contract_bytecode_key",
    ]
    .iter()
    .map(|name| {
        let path = repo_file(&format!(
            "tests/data/portal-spec-tests/tests/mainnet/state/serialization/{name}.yaml"
        ));
        let yaml: serde_yaml::Value =
            serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        hex::decode(yaml["content_key"].as_str().unwrap()).unwrap()
    })
    .collect()
}

/// A stand-in for trin on its own UDP socket: a real discv5 node that answers Ping with trin's
/// Pong (the spec's vector, trin's client info and radius 2^256-2), FindNodes with an empty
/// Nodes, and everything else — FindContent and Offer of our keys, which trin's state network
/// cannot decode — with an empty TALKRESP, as trin does. It keeps every request it receives.
struct TrinPeer {
    transport: Transport,
    received: Arc<Mutex<Vec<Vec<u8>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl TrinPeer {
    async fn start() -> TrinPeer {
        let (transport, mut requests) =
            Transport::start(TransportConfig::loopback(B256::random().0, 1))
                .await
                .unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        let pong = type0_vector(TRIN_PONG);
        let task = tokio::spawn(async move {
            while let Some(request) = requests.recv().await {
                let body = request.body().to_vec();
                log.lock().unwrap().push(body.clone());
                let answer = match body.first() {
                    Some(&Message::PING) => pong.clone(),
                    Some(&Message::FIND_NODES) => Message::Nodes(Nodes {
                        total: 1,
                        enrs: vec![],
                    })
                    .encode(ProtocolVersion::V1),
                    _ => Vec::new(),
                };
                request.respond(answer);
            }
        });
        TrinPeer {
            transport,
            received,
            task,
        }
    }

    fn node_id(&self) -> NodeId {
        NodeId(B256::from(self.transport.local_node_id()))
    }

    /// Every request our node sent it follows the spec's rules for senders; how many there were.
    fn check_received(&self) -> usize {
        let received = self.received.lock().unwrap();
        for body in received.iter() {
            if let Err(e) = check_outgoing(body, ProtocolVersion::V2) {
                panic!("our node sent 0x{}: {e}", hex::encode(body));
            }
        }
        received.len()
    }

    async fn stop(self) {
        self.transport.shutdown().await;
        self.task.abort();
    }
}

/// Defect 1: trin's Ping (type 0, its client info) gets a Pong whose client info trin's strict
/// parser takes (four parts), and our own Pings carry the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trin_ping_gets_a_four_part_client_info() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = start_network(dir.path(), 1, 10_000_000).await;
    let ours = &nodes[0];
    let (raw, _requests) = Transport::start(TransportConfig::loopback(B256::random().0, 1))
        .await
        .unwrap();
    let response = raw_exchange(&raw, ours, type0_vector(TRIN_PING)).await;
    let Ok(Message::Pong(pong)) = Message::decode(&response, ProtocolVersion::V2) else {
        panic!("no Pong to trin's Ping: 0x{}", hex::encode(&response))
    };
    let PingPayload::Extension {
        payload_type: 0,
        payload,
    } = pong.payload
    else {
        panic!("not a type-0 Pong")
    };
    let PingExtension::Capabilities {
        client_info,
        data_radius,
        capabilities,
    } = PingExtension::decode(0, &payload).unwrap()
    else {
        panic!()
    };
    assert_eq!(check_client_info(&client_info), Ok(()));
    assert_eq!(client_info.as_ref(), CLIENT_INFO.as_bytes());
    assert!(client_info.starts_with(b"portal-state/v0.1.0-"));
    assert_eq!(data_radius, ours.status().radius.0);
    assert_eq!(capabilities, vec![0, 1, 65535]);
    // trin's radius came across: it is in our table with it.
    let raw_id = NodeId(B256::from(raw.local_node_id()));
    assert_eq!(
        ours.overlay()
            .with_table(|t| t.get(raw_id).map(|e| e.radius.0)),
        Some(U256::MAX - U256::from(1))
    );

    // Our own first Ping to trin is type 0 with a client info trin parses.
    let trin = TrinPeer::start().await;
    let radius = ours
        .overlay()
        .ping(&trin.transport.local_enr())
        .await
        .unwrap();
    assert_eq!(radius.0, U256::MAX - U256::from(1), "trin's Pong read");
    assert!(trin.check_received() >= 1);
    let first = trin.received.lock().unwrap()[0].clone();
    let Ok(Message::Ping(Ping {
        payload:
            PingPayload::Extension {
                payload_type: 0,
                payload,
            },
        ..
    })) = Message::decode(&first, ProtocolVersion::V2)
    else {
        panic!("our first Ping is not type 0")
    };
    let Ok(PingExtension::Capabilities { client_info, .. }) = PingExtension::decode(0, &payload)
    else {
        panic!()
    };
    assert_eq!(check_client_info(&client_info), Ok(()));
    assert!(client_info.starts_with(b"portal-state/v"));
    assert_eq!(violations(ours), 0);

    trin.stop().await;
    raw.shutdown().await;
    for node in nodes {
        node.stop().await;
    }
}

/// Defect 2: trin's lookups send `[d, d+1, d-1]`; we answer them, as the sorted list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trin_find_nodes_order_is_answered() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = start_network(dir.path(), 4, 10_000_000).await;
    let ours = &nodes[0];
    let (raw, _requests) = Transport::start(TransportConfig::loopback(B256::random().0, 1))
        .await
        .unwrap();
    // The exact bytes of trin's FindNodes for [255, 256, 254].
    let trin_find_nodes = hex::decode("0204000000ff000001fe00").unwrap();
    assert_eq!(
        trin_find_nodes,
        Message::FindNodes(FindNodes {
            distances: vec![255, 256, 254]
        })
        .encode(ProtocolVersion::V1)
    );
    let answer = raw_exchange(&raw, ours, trin_find_nodes).await;
    let Ok(Message::Nodes(nodes_msg)) = Message::decode(&answer, ProtocolVersion::V2) else {
        panic!("no Nodes to trin's FindNodes: 0x{}", hex::encode(&answer))
    };
    let Message::Nodes(sorted) = raw_request(
        &raw,
        ours,
        Message::FindNodes(FindNodes {
            distances: vec![254, 255, 256],
        }),
    )
    .await
    else {
        panic!()
    };
    // The same ENRs in any order (each distance's peers come in the order asked).
    let set = |enrs: &[alloy_primitives::Bytes]| {
        let mut v = enrs.to_vec();
        v.sort();
        v
    };
    assert_eq!(set(&nodes_msg.enrs), set(&sorted.enrs));
    // trin's pattern around a peer we know: that peer is in the answer.
    let (peer, d) = ours.overlay().with_table(|t| {
        let e = t.connected().next().expect("a peer in our table");
        (e.node_id, ours.node_id().log2_distance(e.node_id))
    });
    let distances: Vec<u16> = [d, d + 1, d.saturating_sub(1)]
        .into_iter()
        .filter(|x| (1..=256).contains(x))
        .collect();
    let Message::Nodes(found) =
        raw_request(&raw, ours, Message::FindNodes(FindNodes { distances })).await
    else {
        panic!()
    };
    let ids: Vec<NodeId> = found
        .enrs
        .iter()
        .map(|b| {
            let enr = portal_state::net::enr_from_rlp(b).unwrap();
            NodeId(B256::from(enr.node_id().raw()))
        })
        .collect();
    assert!(ids.contains(&peer));
    // Repeated distances remain invalid: the empty answer of a request that is not valid.
    let repeated = raw_exchange(&raw, ours, hex::decode("020400000005000500").unwrap()).await;
    assert!(repeated.is_empty());
    // Our own lookups still send sorted lists (checked at the receiving end).
    let trin = TrinPeer::start().await;
    ours.overlay()
        .ping(&trin.transport.local_enr())
        .await
        .unwrap();
    ours.overlay().lookup_nodes(NodeId(B256::random())).await;
    let sent = trin.check_received();
    assert!(
        trin.received
            .lock()
            .unwrap()
            .iter()
            .any(|b| b[0] == Message::FIND_NODES),
        "the lookup asked trin ({sent} requests)"
    );
    for node in &nodes {
        assert_eq!(violations(node), 0);
    }

    trin.stop().await;
    raw.shutdown().await;
    for node in nodes {
        node.stop().await;
    }
}

/// Defect 3: an Offer of keys we cannot verify — trin's state keys, a root we do not trust —
/// is declined with code 1, not 6, which trin does not know.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unverifiable_offers_are_declined_with_a_code_trin_knows() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = start_network(dir.path(), 1, 10_000_000).await;
    let ours = &nodes[0];
    trust_everywhere(&nodes, &genesis_header_rlp("mainnet"));
    let (raw, _requests) = Transport::start(TransportConfig::loopback(B256::random().0, 1))
        .await
        .unwrap();
    let mut untrusted = genesis_witnesses("sepolia").items[0].0;
    if let ContentKey::Account(k) = &mut untrusted {
        k.state_root = B256::repeat_byte(0x11);
    }
    let mut keys = trin_state_keys();
    keys.push(untrusted.encode());
    let offer = Message::Offer(Offer {
        content_keys: keys.into_iter().map(Into::into).collect(),
    });
    let answer = raw_exchange(&raw, ours, offer.encode(ProtocolVersion::V1)).await;
    let Ok(Message::Accept(accept)) = Message::decode(&answer, ProtocolVersion::V1) else {
        panic!("no Accept: 0x{}", hex::encode(&answer))
    };
    assert_eq!(accept.codes, vec![AcceptCode::Declined; 4]);
    // On the wire: connection id, offset, then one byte per key, each 1.
    assert_eq!(&answer[answer.len() - 4..], &[1, 1, 1, 1]);
    // The finer reason stays with us.
    assert_eq!(not_verifiable(ours), 4);
    assert_eq!(violations(ours), 0);

    raw.shutdown().await;
    for node in nodes {
        node.stop().await;
    }
}

/// Defect 4: trin answers our content requests (keys it cannot decode) with an empty TALKRESP.
/// That is a refusal from a live peer, not a dead one: it stays connected in our table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_refusing_our_keys_stays_live() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = start_network(dir.path(), 1, 10_000_000).await;
    let ours = &nodes[0];
    trust_everywhere(&nodes, &genesis_header_rlp("sepolia"));
    let trin = TrinPeer::start().await;
    let trin_enr = trin.transport.local_enr();
    ours.overlay().ping(&trin_enr).await.unwrap();
    let (key, value) = genesis_witnesses("sepolia").items[0].clone();
    let item = proof::verify(key, value).unwrap();
    for _ in 0..3 {
        assert!(ours
            .overlay()
            .offer(&trin_enr, std::slice::from_ref(&item))
            .await
            .is_err());
        assert!(ours.overlay().ask_peer(&trin_enr, key).await.is_err());
    }
    let entry = ours
        .overlay()
        .with_table(|t| t.get(trin.node_id()).cloned())
        .expect("trin is still in our table");
    assert_eq!(entry.state, PeerState::Connected, "{entry:?}");
    assert_eq!(entry.failures, 0);
    // Live, but of no use for content: counted as refusing, offered nothing by gossip.
    assert_eq!(entry.refusals, 6);
    assert!(entry.refuses_content());
    assert!(ours
        .overlay()
        .with_table(|t| t.interested(item.content_id()).is_empty()));
    assert_eq!(
        ours.overlay()
            .counters()
            .requests_refused
            .load(Ordering::Relaxed),
        6
    );
    assert_eq!(violations(ours), 0);
    trin.check_received();
    let count = |selector: u8| {
        let received = trin.received.lock().unwrap();
        received
            .iter()
            .filter(|b| b.first() == Some(&selector))
            .count()
    };
    assert_eq!(count(Message::OFFER), 3);
    assert_eq!(count(Message::FIND_CONTENT), 3);

    trin.stop().await;
    for node in nodes {
        node.stop().await;
    }
}

/// Defect 5: a well-formed FindContent whose key we do not know (trin's state keys) is answered
/// in the protocol — Content with an empty ENR list, as nobody we know stores such content —
/// while bytes that are no message at all still get the empty TALKRESP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_content_keys_are_answered_in_the_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = start_network(dir.path(), 3, 10_000_000).await;
    let ours = &nodes[0];
    let (raw, _requests) = Transport::start(TransportConfig::loopback(B256::random().0, 1))
        .await
        .unwrap();
    for key in trin_state_keys() {
        let request = Message::FindContent(FindContent {
            content_key: key.into(),
        });
        let answer = raw_exchange(&raw, ours, request.encode(ProtocolVersion::V1)).await;
        assert_eq!(
            Message::decode(&answer, ProtocolVersion::V1),
            Ok(Message::Content(Content::Enrs(vec![]))),
            "0x{}",
            hex::encode(&answer)
        );
    }
    for not_a_message in [vec![], vec![0x09], vec![0x04, 0x01], vec![0x07, 0, 0]] {
        assert!(raw_exchange(&raw, ours, not_a_message).await.is_empty());
    }
    assert_eq!(violations(ours), 0);

    raw.shutdown().await;
    for node in nodes {
        node.stop().await;
    }
}
