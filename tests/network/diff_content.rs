//! Per-block diff content (issue #14) end to end: a bridge follows a real anvil under load
//! (three transfers to fresh accounts and a storage write per block), publishes each block's
//! diff items, and the nodes whose arc meets an item's key range store it, and only those.
//! Every stored item verifies; forged items offered over real UDP are refused and not stored;
//! a node that stores nothing finds a stored item with FindContent.

use crate::support::anvil::{cast, Anvil, DEV_ACCOUNTS};
use crate::support::hostile::Liar;
use crate::support::nodes::*;

use alloy_primitives::{keccak256, Address, Bytes, B256, U256};
use portal_state::bridge::{BlockReport, ExecutionClient, Follower, FollowerConfig, StartAt};
use portal_state::content::{ContentKey, ContentValue, DiffNodes, Radius};
use portal_state::network::Network;
use portal_state::proof::{self, build_witnesses, GenesisAccount, GenesisAlloc, VerifiedContent};
use portal_state::wire::framing;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// The constructor stores 42 in slot 0 and 7 in slot 1; every call stores its first calldata
/// word in slot 1 (as in `bridge_anvil.rs`).
const CREATION_CODE: &str = "0x602a60005560076001556007601660003960076000f360003560015500";

/// anvil's fourth dev account (unlocked, funded).
const ANVIL_ACCOUNT_3: &str = "0x90F79bf6EB2c4f870365E785982E1f101E93b906";

/// Blocks followed under load.
const BLOCKS: usize = 5;

/// A state of `n` accounts whose items shape a store's radius: put into a store of a fraction
/// of their size, they leave it full with the radius of that fraction of the ring.
fn filler(n: u64) -> Vec<VerifiedContent> {
    let mut alloc = GenesisAlloc::new();
    for i in 0..n {
        let address = Address::from_slice(&keccak256(i.to_be_bytes())[12..]);
        alloc.insert(address, GenesisAccount::with_balance(U256::from(i + 1)));
    }
    build_witnesses(&alloc)
        .items
        .into_iter()
        .map(|(k, v)| proof::verify(k, v).unwrap())
        .collect()
}

/// Bytes the filler takes in a store with room for all of it.
fn filler_bytes(dir: &std::path::Path, items: &[VerifiedContent]) -> u64 {
    let store = portal_state::store::ContentStore::open_in_dir(
        dir,
        portal_state::store::StoreConfig {
            node_id: Default::default(),
            capacity_bytes: u64::MAX / 2,
        },
    )
    .unwrap();
    let mut store = store;
    store.put_batch(items).unwrap();
    store.stored_bytes()
}

fn stored(node: &Network, key: &ContentKey) -> bool {
    node.overlay()
        .with_store(|s| s.contains(key).unwrap_or(false))
        .unwrap_or(false)
}

fn p99(values: &mut [usize]) -> usize {
    values.sort_unstable();
    values[(values.len() * 99).div_ceil(100).saturating_sub(1)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_publishes_diff_items_that_reach_exactly_the_nodes_whose_range_they_touch() {
    init_logs();
    let anvil = Anvil::start(&[]);
    let url = anvil.url.clone();
    let client = ExecutionClient::new(&url).unwrap();
    let dir = tempfile::tempdir().unwrap();

    // Nodes 0-3 keep everything; nodes 4 and 5 are shaped to cover 1/4 and 1/16 of the ring.
    // Big enough that the 5 % of headroom a pruned store keeps takes the diff items of every
    // block without another prune (which would shrink the radius under the test).
    let fill = filler(80_000);
    let total = filler_bytes(&dir.path().join("measure"), &fill);
    let capacities = [
        10_000_000,
        10_000_000,
        10_000_000,
        10_000_000,
        total / 4,
        total / 16,
    ];
    let boot = Network::start(test_config(&dir.path().join("node-0"), capacities[0]))
        .await
        .unwrap();
    let boot_enr = boot.enr();
    let mut nodes = vec![boot];
    for (i, &capacity) in capacities.iter().enumerate().skip(1) {
        let mut config = test_config(&dir.path().join(format!("node-{i}")), capacity);
        config.bootnodes = vec![boot_enr.clone()];
        nodes.push(Network::start(config).await.unwrap());
    }
    // Nearest first: the first put over capacity prunes to 95 % and fixes the radius, and
    // every later (farther) item is refused, so 5 % of the capacity stays free for the diff
    // items and the radius does not move again.
    for node in &nodes[4..] {
        let id = node.node_id().ring();
        let mut fill = fill.clone();
        fill.sort_by_key(|c| id.distance(c.content_id()));
        node.overlay()
            .with_store(|s| s.put_batch(&fill).map(|_| ()))
            .unwrap()
            .unwrap();
    }
    let radii: Vec<Radius> = nodes.iter().map(|n| n.overlay().radius()).collect();
    for (i, r) in radii.iter().enumerate().skip(4) {
        assert!(*r < Radius::MAX, "node {i} is shaped: {r:?}");
    }
    // Everyone learns everyone's radius now.
    for node in &nodes {
        node.overlay()
            .bootstrap(std::slice::from_ref(&boot_enr))
            .await;
        for other in &nodes {
            if other.node_id() != node.node_id() {
                let _ = node.overlay().ping(&other.enr()).await;
            }
        }
    }
    let nodes = Arc::new(nodes);
    let mut config = test_config(&dir.path().join("bridge"), 0);
    config.bootnodes = vec![boot_enr.clone()];
    let bridge = Arc::new(Network::start(config).await.unwrap());
    let mut config = test_config(&dir.path().join("light"), 0);
    config.bootnodes = vec![boot_enr.clone()];
    let light = Arc::new(Network::start(config).await.unwrap());
    light
        .overlay()
        .bootstrap(std::slice::from_ref(&boot_enr))
        .await;

    let (to_nodes, to_light) = (nodes.clone(), light.clone());
    let follower_config = FollowerConfig {
        start: StartAt::Block(1),
        poll_interval: Duration::from_millis(100),
        max_backoff: Duration::from_millis(500),
        ..FollowerConfig::default()
    };
    let mut follower = Follower::new(client.clone(), follower_config).on_header(move |header| {
        for node in to_nodes.iter() {
            node.add_trusted_header(&header.rlp).unwrap();
        }
        to_light.add_trusted_header(&header.rlp).unwrap();
    });
    let (report_tx, mut reports) = mpsc::unbounded_channel::<BlockReport>();
    let (stop, stop_rx) = watch::channel(false);
    let bridge_task = bridge.clone();
    let task = tokio::spawn(async move {
        follower
            .run(&bridge_task, |r| drop(report_tx.send(r.clone())), stop_rx)
            .await;
    });

    // Block 1 creates the contract; then each block has three transfers to fresh accounts
    // and a write of the contract's slot 1.
    // Contract calls from one dev account, transfers from three others (one transaction per
    // sender and block, so no two of them race for a nonce).
    let deployer = DEV_ACCOUNTS[0].0;
    let senders = [DEV_ACCOUNTS[1].0, DEV_ACCOUNTS[2].0, ANVIL_ACCOUNT_3];
    let contract = format!("{:#x}", deployer.parse::<Address>().unwrap().create(0));
    cast(
        &url,
        &[
            "send",
            "--unlocked",
            "--from",
            deployer,
            "--create",
            CREATION_CODE,
        ],
    );
    cast(&url, &["rpc", "evm_setAutomine", "false"]);
    for block in 0..BLOCKS - 1 {
        for sender in senders {
            let to = format!("{:#x}", Address::random());
            cast(
                &url,
                &[
                    "send",
                    "--unlocked",
                    "--async",
                    "--from",
                    sender,
                    &to,
                    "--value",
                    "1gwei",
                ],
            );
        }
        let word = format!("{:#066x}", block + 100);
        cast(
            &url,
            &[
                "send",
                "--unlocked",
                "--async",
                "--from",
                deployer,
                &contract,
                &word,
            ],
        );
        cast(&url, &["rpc", "evm_mine"]);
    }
    let mut blocks = Vec::new();
    while blocks.len() < BLOCKS {
        let r = tokio::time::timeout(Duration::from_secs(60), reports.recv())
            .await
            .expect("a block within 60 s")
            .expect("the follower runs");
        assert!(!r.diff_keys.is_empty(), "block {} has diff items", r.number);
        eprintln!(
            "block {}: {} leaf items, {} diff items; push {:?}",
            r.number,
            r.keys.len(),
            r.diff_keys.len(),
            r.push
        );
        blocks.push(r);
    }
    let _ = stop.send(true);
    task.await.unwrap();
    let loaded = &blocks[1..];
    assert!(
        loaded.iter().all(|r| r.keys.len() >= 7),
        "three senders, three new accounts and the contract per block"
    );
    assert!(loaded.iter().all(|r| r
        .diff_keys
        .iter()
        .any(|k| matches!(k, ContentKey::StorageTopDiff(_)))));

    // Each shaped node ends up with exactly the diff items whose range meets its arc.
    for (i, node) in nodes.iter().enumerate() {
        let id = node.node_id().ring();
        let wanted = |k: &ContentKey| radii[i].meets(id, k.id_range());
        let all: Vec<ContentKey> = blocks.iter().flat_map(|r| r.diff_keys.clone()).collect();
        let arrived = eventually(Duration::from_secs(30), || {
            all.iter().filter(|k| wanted(k)).all(|k| stored(node, k))
        })
        .await;
        let missing: Vec<_> = all
            .iter()
            .filter(|k| wanted(k) && !stored(node, k))
            .collect();
        assert!(
            arrived,
            "node {i}: {} in-range items missing, e.g. {:?}; radius then {:?}, now {:?}; {:?}",
            missing.len(),
            missing.first(),
            radii[i],
            node.overlay().radius(),
            node.status()
        );
        let strays: Vec<_> = all
            .iter()
            .filter(|k| !wanted(k) && stored(node, k))
            .collect();
        assert!(
            strays.is_empty(),
            "node {i} stored {} items out of its range, e.g. {:?}",
            strays.len(),
            strays.first()
        );
        if i >= 4 {
            assert!(
                all.iter().any(|k| !wanted(k)),
                "node {i} is narrow enough to miss some items"
            );
        }
        assert_eq!(
            node.overlay().radius(),
            radii[i],
            "node {i}: no prune moved the radius"
        );
        // What is stored verifies again, byte for byte as served.
        for key in all.iter().filter(|k| stored(node, k)) {
            let value = node
                .overlay()
                .with_store(|s| s.get(key))
                .unwrap()
                .unwrap()
                .unwrap();
            proof::verify(*key, value).unwrap_or_else(|e| panic!("{key:?}: {e}"));
        }
    }

    // The bytes: the whole diff per block, and what the shaped nodes received.
    let whole: Vec<usize> = loaded.iter().map(|r| r.diff_bytes).collect();
    let mut per_node: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 4..nodes.len() {
        for r in loaded {
            let got: usize = r
                .diff_keys
                .iter()
                .filter(|k| stored(&nodes[i], k))
                .map(|k| {
                    let v = nodes[i].overlay().with_store(|s| s.get_encoded(k)).unwrap();
                    v.unwrap().unwrap().len()
                })
                .sum();
            per_node.entry(i).or_default().push(got);
        }
    }
    eprintln!(
        "diff bytes per block, whole: mean {} max {} (items per block: {:?})",
        whole.iter().sum::<usize>() / whole.len(),
        whole.iter().max().unwrap(),
        loaded.iter().map(|r| r.diff_keys.len()).collect::<Vec<_>>()
    );
    for (i, mut got) in per_node {
        let share = radii[i].0 / (U256::MAX / U256::from(10_000));
        eprintln!(
            "node {i} (radius {share}/10000 of the ring each side): mean {} p99 {} bytes per block",
            got.iter().sum::<usize>() / got.len(),
            p99(&mut got)
        );
    }

    // The block's verified new nodes, handed to re-anchoring, start with the state root.
    let last = blocks.last().unwrap();
    let pool = nodes[0]
        .overlay()
        .with_store(|s| s.diff_nodes_for(last.hash))
        .unwrap()
        .unwrap();
    assert!(pool.iter().any(|n| keccak256(n) == last.state_root));
    // Collection: the diff items of blocks outside the kept window go, leaf proofs stay.
    let keep: std::collections::HashSet<B256> = std::iter::once(last.hash).collect();
    let (before, dropped, after) = nodes[0]
        .overlay()
        .with_store(|s| {
            let before = s.len();
            let dropped = s.drop_diffs_except(&keep).unwrap();
            (before, dropped, s.len())
        })
        .unwrap();
    let older: usize = blocks[..BLOCKS - 1].iter().map(|r| r.diff_keys.len()).sum();
    assert_eq!(dropped as usize, older);
    assert_eq!(after, before - dropped, "only diff rows went");
    assert!(stored(&nodes[0], &last.diff_keys[0]));
    assert!(!stored(&nodes[0], &blocks[0].diff_keys[0]));

    // FindContent: the light node, which stores nothing, gets a stored item and verifies it.
    let key = last.diff_keys[0];
    let found = light.find_content(key).await.unwrap();
    assert_eq!(found.content.key(), &key);
    assert!(!found.stats.local);

    // Forged items offered over UDP are refused and not stored.
    let victim = &nodes[1];
    let (key, nodes_of_item) = last
        .diff_keys
        .iter()
        .find_map(|k| {
            let v = victim
                .overlay()
                .with_store(|s| s.get(k))
                .unwrap()
                .unwrap()?;
            match v {
                ContentValue::AccountDiff(n) if n.nodes().len() >= 2 => Some((*k, n.0)),
                _ => None,
            }
        })
        .expect("an account diff of two nodes or more");
    // Offered under another prefix of the same block: a key the victim does not have yet.
    let ContentKey::AccountDiff(mut forged_key) = key else {
        unreachable!()
    };
    let forgeries: Vec<(&str, ContentKey, Vec<Bytes>)> = {
        let mut out = Vec::new();
        let mut other = forged_key;
        other.prefix = other.prefix.child(0).unwrap().child(0).unwrap();
        let mut swapped = nodes_of_item.clone();
        swapped.swap(0, 1);
        swapped[0] = Bytes::from(vec![0xc0; 40]);
        out.push(("a node swapped", ContentKey::AccountDiff(other), swapped));
        let dropped: Vec<Bytes> = nodes_of_item[1..].to_vec();
        other.prefix = other.prefix.child(1).unwrap();
        out.push(("the root dropped", ContentKey::AccountDiff(other), dropped));
        forged_key.state_root = B256::repeat_byte(0x42);
        out.push((
            "a wrong root",
            ContentKey::AccountDiff(forged_key),
            nodes_of_item.clone(),
        ));
        out
    };
    for (what, key, nodes_of_forgery) in forgeries {
        let liar = Liar::start(
            Ipv4Addr::LOCALHOST,
            B256::random().0,
            crate::support::hostile::Lie::Value(Vec::new()),
        )
        .await;
        victim.overlay().ping(&liar.enr()).await.unwrap();
        let bytes = ContentValue::AccountDiff(DiffNodes(nodes_of_forgery)).encode();
        let invalid_before = victim
            .overlay()
            .counters()
            .invalid_items
            .load(std::sync::atomic::Ordering::Relaxed);
        let accept = liar
            .offer(&victim.enr(), &[key], |_| framing::encode_items(&[bytes]))
            .await
            .expect("an Accept");
        if accept.codes[0].is_accepted() {
            assert!(
                eventually(Duration::from_secs(10), || victim
                    .overlay()
                    .counters()
                    .invalid_items
                    .load(std::sync::atomic::Ordering::Relaxed)
                    > invalid_before)
                .await,
                "{what}: checked and refused"
            );
        }
        assert!(!stored(victim, &key), "{what}: not stored");
        liar.stop().await;
    }
    drop(anvil);
}
