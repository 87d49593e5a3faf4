//! The overlay on real UDP sockets on 127.0.0.1: 16 nodes, each with its own SQLite file.

use crate::support::nodes;
use crate::support::settled;

use alloy_primitives::{B256, U256};
use nodes::*;
use portal_state::content::{ContentKey, ContentValue};
use portal_state::net::{Transport, TransportConfig};
use portal_state::network::Network;
use portal_state::overlay::NodeId;
use portal_state::proof::{self, VerifiedContent, VerifiedValue};
use portal_state::wire::{Content, Message, PingExtension, PingPayload, Pong, ProtocolVersion};
use std::time::Duration;

async fn stop_all(nodes: Vec<Network>) {
    for node in nodes {
        node.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_nodes_fill_tables_and_node_lookup_finds_the_closest() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = start_network(dir.path(), 16, 10_000_000).await;
    let ids: Vec<NodeId> = nodes.iter().map(|n| n.node_id()).collect();
    for node in &nodes {
        let peers = node.status().peers;
        assert!(
            peers >= 12,
            "node {:?} knows only {peers} of 15 peers",
            node.node_id()
        );
    }
    // From every node, a lookup of a random id finds the true closest other node first.
    for (i, node) in nodes.iter().enumerate() {
        let target = NodeId(B256::random());
        let found = node.overlay().lookup_nodes(target).await;
        let expected = ids
            .iter()
            .filter(|id| **id != ids[i])
            .min_by_key(|id| id.xor_distance(target))
            .unwrap();
        let first = NodeId(B256::from(found[0].node_id().raw()));
        assert_eq!(first, *expected, "lookup from node {i}");
    }
    stop_all(nodes).await;
}

/// Content offered into one node spreads to interested nodes; 500 mainnet genesis accounts are
/// then found and verified from a node that stores nothing; the 6,358-byte holesky deposit
/// contract code crosses uTP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offered_content_spreads_and_is_found_from_a_light_node() {
    let dir = tempfile::tempdir().unwrap();
    let mainnet = genesis_witnesses("mainnet");
    let holesky = genesis_witnesses("holesky");
    // 500 accounts spread over the whole id space.
    let step = mainnet.items.len() / 500;
    let accounts: Vec<VerifiedContent> = mainnet
        .items
        .iter()
        .step_by(step)
        .take(500)
        .map(|(k, v)| proof::verify(*k, v.clone()).unwrap())
        .collect();
    let total: u64 = accounts
        .iter()
        .map(|c| (c.key().encode().len() + c.value().encode().len()) as u64)
        .sum();
    // Each node can hold about a third of the data, so radii shrink and placement matters.
    let capacity = total / 3;
    let mut nodes = start_network(dir.path(), 16, capacity).await;
    trust_everywhere(&nodes, &genesis_header_rlp("mainnet"));
    trust_everywhere(&nodes, &genesis_header_rlp("holesky"));

    let t0 = std::time::Instant::now();
    // Seed everything into node 0, which gossips it onward.
    let seeded = nodes[0].offer_content(accounts.clone()).await.unwrap();
    assert!(seeded > 0, "peers accepted the seeded content");
    // Gossip settles when the stored totals stop changing.
    settled("gossip", Duration::from_secs(60), 6, || {
        nodes.iter().map(|n| n.status().stored_items).sum::<u64>()
    })
    .await;
    eprintln!("gossip settled after {:?}", t0.elapsed());
    let holders: usize = nodes.iter().filter(|n| n.status().stored_items > 0).count();
    assert!(holders >= 12, "content spread to {holders} of 16 nodes");
    for node in &nodes {
        let s = node.status();
        assert!(s.stored_bytes <= capacity, "capacity respected");
    }
    // Every account is stored somewhere other than node 0's initial copy.
    for item in &accounts {
        let copies = nodes
            .iter()
            .filter(|n| {
                n.overlay()
                    .with_store(|s| s.contains(item.key()).unwrap())
                    .unwrap()
            })
            .count();
        assert!(copies >= 1, "{:?} is stored somewhere", item.key());
    }

    // A light node (no capacity) joins and finds every account, verified.
    let mut config = test_config(&dir.path().join("light"), 0);
    config.bootnodes = vec![nodes[0].enr(), nodes[5].enr(), nodes[10].enr()];
    let light = Network::start(config).await.unwrap();
    light
        .add_trusted_header(&genesis_header_rlp("mainnet"))
        .unwrap();
    light
        .add_trusted_header(&genesis_header_rlp("holesky"))
        .unwrap();
    let mut found = 0;
    let t1 = std::time::Instant::now();
    for item in &accounts {
        let result = light
            .find_content(*item.key())
            .await
            .unwrap_or_else(|e| panic!("{:?}: {e}", item.key()));
        assert!(!result.stats.local);
        assert_eq!(result.content.proven(), item.proven());
        found += 1;
    }
    assert_eq!(found, 500);
    eprintln!("500 lookups took {:?}", t1.elapsed());
    assert_eq!(
        light.status().stored_items,
        0,
        "a light node stores nothing"
    );

    // The holesky deposit contract: 6,358 bytes, larger than one packet.
    let (code_key, code_value) = holesky
        .items
        .iter()
        .find(|(k, _)| matches!(k, ContentKey::Bytecode(_)))
        .cloned()
        .unwrap();
    let ContentValue::Bytecode(code) = &code_value else {
        unreachable!()
    };
    assert_eq!(code.len(), 6358);
    let code_item = proof::verify(code_key, code_value.clone()).unwrap();
    nodes[3].offer_content(vec![code_item]).await.unwrap();
    let result = light.find_content(code_key).await.unwrap();
    assert_eq!(
        result.content.proven(),
        &VerifiedValue::Bytecode(code.clone())
    );
    assert!(result.stats.bytes_received > 6358, "the code came over uTP");

    light.stop().await;
    nodes.truncate(16);
    stop_all(nodes).await;
}

/// A real node on its own socket that answers every FindContent with a tampered witness.
async fn start_liar(tampered: Vec<u8>) -> (Transport, tokio::task::JoinHandle<()>) {
    let (transport, mut requests) =
        Transport::start(TransportConfig::loopback(B256::random().0, 1))
            .await
            .unwrap();
    let task = tokio::spawn(async move {
        while let Some(request) = requests.recv().await {
            let response = match Message::decode(request.body(), ProtocolVersion::V2) {
                Ok(Message::Ping(_)) => {
                    let ext = PingExtension::BasicRadius {
                        data_radius: U256::MAX,
                    };
                    Message::Pong(Pong {
                        enr_seq: 1,
                        payload: PingPayload::Extension {
                            payload_type: 1,
                            payload: ext.encode().into(),
                        },
                    })
                }
                Ok(Message::FindContent(_)) => {
                    Message::Content(Content::Content(tampered.clone().into()))
                }
                _ => {
                    request.respond(Vec::new());
                    continue;
                }
            };
            request.respond(response.encode(ProtocolVersion::V2));
        }
    });
    (transport, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_peer_neither_fails_the_lookup_nor_gets_its_data_through() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = start_network(dir.path(), 4, 10_000_000).await;
    trust_everywhere(&nodes, &genesis_header_rlp("sepolia"));
    // A small (sepolia) genesis account witness that fits inline, so the liar can answer in one
    // packet.
    let sepolia = genesis_witnesses("sepolia");
    let (key, value) = sepolia
        .items
        .iter()
        .find(|(_, v)| v.encode().len() < 1000)
        .cloned()
        .expect("a small witness");
    let honest = proof::verify(key, value.clone()).unwrap();
    nodes[1].offer_content(vec![honest.clone()]).await.unwrap();

    let mut bytes = value.encode();
    let last = bytes.len() - 5;
    bytes[last] ^= 0x01;
    assert!(proof::verify(key, ContentValue::decode(&key, &bytes).unwrap()).is_err());
    let (liar, liar_task) = start_liar(bytes).await;

    let mut config = test_config(&dir.path().join("light"), 0);
    config.bootnodes = vec![nodes[0].enr()];
    let light = Network::start(config).await.unwrap();
    light
        .add_trusted_header(&genesis_header_rlp("sepolia"))
        .unwrap();
    // The liar is in the light node's table, as close as anyone.
    light.overlay().ping(&liar.local_enr()).await.unwrap();
    let liar_id = NodeId(B256::from(liar.local_node_id()));
    assert!(light.overlay().with_table(|t| t.get(liar_id).is_some()));

    let found = light.find_content(key).await.unwrap();
    assert_eq!(found.content.proven(), honest.proven());
    assert_eq!(light.status().stored_items, 0);
    // If the liar was asked, it was caught and dropped.
    if found.stats.invalid_responses > 0 {
        assert!(
            light.overlay().with_table(|t| t.get(liar_id).is_none()),
            "the liar left the table"
        );
    }
    // Ask the liar directly: its answer is refused.
    let direct = light.overlay().ask_peer(&liar.local_enr(), key).await;
    assert!(direct.is_err());

    liar_task.abort();
    liar.shutdown().await;
    light.stop().await;
    stop_all(nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_node_frees_its_port_and_file_and_rejoins_on_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mainnet = genesis_witnesses("mainnet");
    let mut nodes = start_network(dir.path(), 4, 10_000_000).await;
    trust_everywhere(&nodes, &genesis_header_rlp("mainnet"));
    let item = proof::verify(mainnet.items[7].0, mainnet.items[7].1.clone()).unwrap();

    let node = nodes.pop().unwrap();
    node.offer_content(vec![item.clone()]).await.unwrap();
    let id = node.node_id();
    let addr = node.overlay().transport().local_addr();
    node.stop().await;

    // The port is free...
    let socket = std::net::UdpSocket::bind(addr).expect("port freed");
    drop(socket);
    // ...and so is the database: it opens, with the content in it.
    let node_dir = dir.path().join("node-3");
    {
        let store = portal_state::store::ContentStore::open_in_dir(
            &node_dir,
            portal_state::store::StoreConfig {
                node_id: id.ring(),
                capacity_bytes: 10_000_000,
            },
        )
        .unwrap();
        assert!(store.contains(item.key()).unwrap());
    }

    // Restart on the same data dir and address, without bootnodes: same id, back in the
    // network through the peers it saved, trusted header restored.
    let mut config = test_config(&node_dir, 10_000_000);
    config.bind = addr;
    let node = Network::start(config).await.unwrap();
    assert_eq!(node.node_id(), id);
    assert!(node.status().peers >= 1, "rejoined through saved peers");
    assert_eq!(node.status().newest_header, Some(0));
    // Others can reach it again.
    let radius = nodes[0].overlay().ping(&node.enr()).await.unwrap();
    assert_eq!(radius, node.status().radius);
    node.stop().await;
    stop_all(nodes).await;
}

/// Nobody stores a proof for an address that does not exist or a slot that is zero, yet a
/// lookup gets one: the nodes holding the key's neighbours assemble it from their witnesses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absence_is_proven_from_the_neighbours_witnesses() {
    use portal_state::content::{AccountKey, StorageKey};
    let dir = tempfile::tempdir().unwrap();
    let nodes = start_network(dir.path(), 6, 10_000_000).await;
    trust_everywhere(&nodes, &genesis_header_rlp("holesky"));
    let holesky = genesis_witnesses("holesky");
    let items: Vec<VerifiedContent> = holesky
        .items
        .iter()
        .map(|(k, v)| proof::verify(*k, v.clone()).unwrap())
        .collect();
    seed(&nodes, &items, 3).await;
    let mut config = test_config(&dir.path().join("light"), 0);
    config.bootnodes = vec![nodes[0].enr()];
    let light = Network::start(config).await.unwrap();
    light
        .add_trusted_header(&genesis_header_rlp("holesky"))
        .unwrap();
    let root = holesky.state_root;

    for i in 0..20u8 {
        let address = alloy_primitives::Address::repeat_byte(0xa0 ^ i);
        let key = ContentKey::Account(AccountKey {
            address,
            state_root: root,
        });
        let found = light.find_content(key).await.unwrap();
        assert_eq!(
            found.content.proven(),
            &VerifiedValue::Account(None),
            "{address}"
        );
    }
    let deposit = alloy_primitives::address!("4242424242424242424242424242424242424242");
    for slot in [U256::from(100), U256::from(12345), U256::MAX] {
        let key = ContentKey::Storage(StorageKey {
            address: deposit,
            slot,
            state_root: root,
        });
        let found = light.find_content(key).await.unwrap();
        assert_eq!(
            found.content.proven(),
            &VerifiedValue::Storage(U256::ZERO),
            "slot {slot}"
        );
    }
    // A present slot still reads its real value.
    let (present_key, _) = holesky
        .items
        .iter()
        .find(|(k, _)| matches!(k, ContentKey::Storage(_)))
        .unwrap();
    let found = light.find_content(*present_key).await.unwrap();
    assert!(matches!(found.content.proven(), VerifiedValue::Storage(v) if !v.is_zero()));
    light.stop().await;
    stop_all(nodes).await;
}
