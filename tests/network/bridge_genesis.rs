//! The bridge pushes a whole genesis state (holesky: 317 accounts, the deposit contract's 31
//! slots and its code) into 8 nodes on real loopback sockets, and a light node then finds every
//! item, verified.

use crate::support::nodes;
use crate::support::settled;

use nodes::*;
use portal_state::bridge::{genesis_content, push, PushProgress};
use portal_state::network::Network;
use portal_state::proof::VerifiedValue;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holesky_genesis_is_pushed_and_found_from_a_light_node() {
    let dir = tempfile::tempdir().unwrap();
    let json = std::fs::read_to_string(repo_file("data/genesis/holesky.json")).unwrap();
    let content = genesis_content(&json).unwrap();
    let header_rlp = genesis_header_rlp("holesky");
    let header = portal_state::proof::BlockHeader::decode(&header_rlp).unwrap();
    assert_eq!(
        content.state_root, header.state_root,
        "the root we built is holesky's"
    );
    let count =
        |f: fn(&VerifiedValue) -> bool| content.items.iter().filter(|i| f(i.proven())).count();
    assert_eq!(count(|v| matches!(v, VerifiedValue::Account(_))), 317);
    assert_eq!(count(|v| matches!(v, VerifiedValue::Storage(_))), 31);
    assert_eq!(count(|v| matches!(v, VerifiedValue::Bytecode(_))), 1);

    let nodes = start_network(dir.path(), 8, 50_000_000).await;
    trust_everywhere(&nodes, &header_rlp);
    // The bridge: a node of its own that stores nothing, joined through one storage node.
    let mut config = test_config(&dir.path().join("bridge"), 0);
    config.bootnodes = vec![nodes[0].enr()];
    let bridge = Network::start(config).await.unwrap();
    bridge.add_trusted_header(&header_rlp).unwrap();
    assert!(bridge.status().peers >= 4, "the bridge knows the network");

    let mut progress: Vec<PushProgress> = Vec::new();
    let report = push(&bridge, content.items.clone(), |p| progress.push(p)).await;
    eprintln!("{report:?}");
    assert_eq!(report.items, 349);
    assert!(!progress.is_empty(), "progress was reported");
    let last = progress.last().unwrap();
    assert_eq!((last.done, last.total), (349, 349));
    assert!(
        progress.windows(2).all(|w| w[0].done < w[1].done),
        "progress moves forward"
    );
    assert_eq!(report.unplaced, 0, "every item reached a node: {report:?}");
    assert!(report.accepted >= 349, "{report:?}");
    assert_eq!(last.accepted, report.accepted);

    // Let the storage nodes' own gossip settle before looking.
    settled(
        "the storage nodes' gossip",
        Duration::from_secs(60),
        6,
        || nodes.iter().map(|n| n.status().stored_items).sum::<u64>(),
    )
    .await;

    let mut config = test_config(&dir.path().join("light"), 0);
    config.bootnodes = vec![nodes[3].enr()];
    let light = Network::start(config).await.unwrap();
    light.add_trusted_header(&header_rlp).unwrap();
    for item in &content.items {
        let found = light
            .find_content(*item.key())
            .await
            .unwrap_or_else(|e| panic!("{:?}: {e}", item.key()));
        assert!(!found.stats.local, "the light node stores nothing");
        assert_eq!(found.content.proven(), item.proven(), "{:?}", item.key());
    }

    light.stop().await;
    bridge.stop().await;
    for node in nodes {
        node.stop().await;
    }
}

/// A bridge that knows a single node finds the interested ones by lookups before it offers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bridge_with_a_thin_table_looks_nodes_up() {
    let dir = tempfile::tempdir().unwrap();
    let json = std::fs::read_to_string(repo_file("data/genesis/holesky.json")).unwrap();
    let content = genesis_content(&json).unwrap();
    let header_rlp = genesis_header_rlp("holesky");
    let nodes = start_network(dir.path(), 8, 50_000_000).await;
    trust_everywhere(&nodes, &header_rlp);
    // No bootnodes: the bridge starts alone, then meets one node.
    let bridge = Network::start(test_config(&dir.path().join("bridge"), 0))
        .await
        .unwrap();
    bridge.add_trusted_header(&header_rlp).unwrap();
    bridge.overlay().ping(&nodes[0].enr()).await.unwrap();
    assert_eq!(bridge.status().peers, 1);

    let items: Vec<_> = content.items.into_iter().take(40).collect();
    let report = push(&bridge, items.clone(), |_| {}).await;
    assert!(report.lookups >= 1, "{report:?}");
    // How many depends on the ids (a lookup asks for nodes near the item's id); at least one
    // more than the one it knew.
    let peers = bridge.status().peers;
    assert!(peers >= 2, "lookups found nodes: {peers} peers, {report:?}");
    assert_eq!(report.unplaced, 0, "{report:?}");
    assert_each_stored_somewhere(&nodes, &items).await;
    bridge.stop().await;
    for node in nodes {
        node.stop().await;
    }
}

/// Items whose only offer went to a node that has gone away are offered again to others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_whose_offers_all_failed_are_retried_with_other_peers() {
    use portal_state::bridge::{push_with, PushConfig};
    let dir = tempfile::tempdir().unwrap();
    let json = std::fs::read_to_string(repo_file("data/genesis/holesky.json")).unwrap();
    let content = genesis_content(&json).unwrap();
    let header_rlp = genesis_header_rlp("holesky");
    let mut nodes = start_network(dir.path(), 8, 50_000_000).await;
    trust_everywhere(&nodes, &header_rlp);
    let mut config = test_config(&dir.path().join("bridge"), 0);
    config.bootnodes = vec![nodes[0].enr()];
    let bridge = Network::start(config).await.unwrap();
    bridge.add_trusted_header(&header_rlp).unwrap();
    let known = bridge.status().peers;
    // Three nodes go away; the bridge's table still lists them.
    for _ in 0..3 {
        nodes.pop().unwrap().stop().await;
    }
    assert_eq!(bridge.status().peers, known);

    let config = PushConfig {
        peers_per_item: 1,
        ..PushConfig::default()
    };
    let items: Vec<_> = content.items.into_iter().take(120).collect();
    let report = push_with(&bridge, items.clone(), &config, |_| {}).await;
    eprintln!("{report:?}");
    assert!(report.failed_peers >= 1, "{report:?}");
    assert!(report.retried >= 1, "{report:?}");
    assert_eq!(
        report.unplaced, 0,
        "every item reached a live node: {report:?}"
    );
    assert_each_stored_somewhere(&nodes, &items).await;
    bridge.stop().await;
    for node in nodes {
        node.stop().await;
    }
}

/// Every item ends up in some node's store. Receivers store what they accepted once the
/// transfer is in, so this waits a moment before failing with the missing keys.
async fn assert_each_stored_somewhere(
    nodes: &[Network],
    items: &[portal_state::proof::VerifiedContent],
) {
    let stored = |item: &portal_state::proof::VerifiedContent| {
        nodes.iter().any(|n| {
            n.overlay()
                .with_store(|s| s.contains(item.key()).unwrap())
                .unwrap()
        })
    };
    let all_stored = eventually(Duration::from_secs(10), || items.iter().all(stored)).await;
    let missing: Vec<_> = items
        .iter()
        .filter(|i| !stored(i))
        .map(|i| *i.key())
        .collect();
    assert!(all_stored, "stored nowhere: {missing:?}");
}
