//! Every wire message type crosses a real socket between two of our nodes, in every form:
//! Ping/Pong (extension types 0, 1, the 65535 error, and the legacy layout), FindNodes/Nodes,
//! FindContent/Content (inline content, uTP connection id, ENRs), Offer/Accept.

mod common;

use alloy_primitives::{B256, U256};
use common::*;
use portal_state::content::{ContentKey, ContentValue};
use portal_state::net::{Transport, TransportConfig};
use portal_state::network::Network;
use portal_state::overlay::{NodeId, OverlayError};
use portal_state::proof;
use portal_state::wire::{
    AcceptCode, Content, FindContent, FindNodes, Message, Offer, Ping, PingExtension, PingPayload,
    ProtocolVersion,
};

/// Send raw bytes as a TALKREQ from a bare transport and decode the answer.
async fn raw_request(from: &Transport, to: &Network, message: Message) -> Message {
    let body = message.encode(ProtocolVersion::V2);
    let response = from.request(&to.enr(), body).await.unwrap();
    Message::decode(&response, ProtocolVersion::V2).unwrap()
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

    // Offer/Accept: stored, already stored, and not verifiable (an untrusted root) codes.
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
        vec![AcceptCode::NotVerifiable, AcceptCode::NotVerifiable]
    );
    let _ = ContentValue::decode(&small_key, &small_value.encode()).unwrap();

    raw.shutdown().await;
    for node in nodes {
        node.stop().await;
    }
}
