//! The bridge following a real execution client: anvil (installed by
//! `scripts/install-test-deps.sh`, found through `PORTAL_STATE_ANVIL` and `PORTAL_STATE_CAST`),
//! driven with `cast`: ether transfers, a contract deployed and its storage written and
//! cleared, empty blocks. After each block, what a light node reads through the network at that
//! block's state root equals anvil's own answers for that block. A reorg (`anvil_reorg`) makes
//! the follower go back and push the new blocks. Then anvil is killed and restarted with a
//! fresh chain, and the follower carries on with the new chain.

use crate::support::anvil::{cast, Anvil, DEV_ACCOUNTS};
use crate::support::nodes;

use alloy_primitives::{keccak256, Address, U256};
use nodes::*;
use portal_state::bridge::{BlockReport, ExecutionClient, Follower, FollowerConfig, StartAt};
use portal_state::content::{BytecodeKey, ContentKey};
use portal_state::network::Network;
use portal_state::proof::VerifiedValue;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// anvil's first dev accounts and their well-known keys.
const DEV: [(&str, &str); 3] = DEV_ACCOUNTS;

/// A contract, hand-assembled: its constructor stores 42 in slot 0 and 7 in slot 1 and
/// returns the runtime `PUSH1 0 CALLDATALOAD PUSH1 1 SSTORE STOP` (every call stores its first
/// calldata word in slot 1).
///
/// ```text
/// 602a 6000 55        sstore(0, 42)
/// 6007 6001 55        sstore(1, 7)
/// 6007 6016 6000 39   codecopy(0, 22, 7)
/// 6007 6000 f3        return(0, 7)
/// 6000 35 6001 55 00  runtime
/// ```
const CREATION_CODE: &str = "0x602a60005560076001556007601660003960076000f360003560015500";
const RUNTIME_CODE: &str = "0x60003560015500";

/// Accepts `n` connections on `port`, in place of a dead execution client, closing each one
/// unanswered (panics when none comes for 30 s).
async fn accept_unanswered(port: u16, n: usize) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("anvil's port is free again");
    for _ in 0..n {
        let (stream, _) = tokio::time::timeout(Duration::from_secs(30), listener.accept())
            .await
            .expect("the follower retries")
            .unwrap();
        drop(stream);
    }
}

fn send(url: &str, from: usize, args: &[&str]) {
    let mut all = vec!["send", "--private-key", DEV[from].1];
    all.extend_from_slice(args);
    cast(url, &all);
}

async fn rpc_u256(client: &ExecutionClient, method: &str, params: Value) -> U256 {
    let v = client.call(method, params).await.unwrap();
    let s = v.as_str().unwrap();
    U256::from_str_radix(s.trim_start_matches("0x"), 16).unwrap()
}

/// Every item the follower pushed for `report`, read from the light node, equals anvil's own
/// answer at that block. Returns how many items were checked.
async fn check_block(light: &Network, anvil: &ExecutionClient, report: &BlockReport) -> usize {
    let block = json!(format!("{:#x}", report.number));
    for key in &report.keys {
        let found = find_soon(light, *key)
            .await
            .unwrap_or_else(|e| panic!("block {}: {key:?}: {e}", report.number));
        assert!(!found.stats.local, "the light node stores nothing");
        let addr = format!("{:#x}", key.address().expect("a leaf key"));
        match (key, found.content.proven()) {
            (ContentKey::Account(k), VerifiedValue::Account(account)) => {
                assert_eq!(k.state_root, report.state_root);
                let account = account.unwrap_or_default();
                let balance = rpc_u256(anvil, "eth_getBalance", json!([addr, block])).await;
                let nonce = rpc_u256(anvil, "eth_getTransactionCount", json!([addr, block])).await;
                assert_eq!(account.balance, balance, "balance of {addr} at {block}");
                assert_eq!(
                    U256::from(account.nonce),
                    nonce,
                    "nonce of {addr} at {block}"
                );
                let code = anvil
                    .call("eth_getCode", json!([addr, block]))
                    .await
                    .unwrap();
                let code = alloy_primitives::hex::decode(code.as_str().unwrap()).unwrap();
                if account.code_hash != alloy_trie::KECCAK_EMPTY {
                    assert_eq!(account.code_hash, keccak256(&code), "code of {addr}");
                } else {
                    assert!(code.is_empty(), "{addr} has code but the proof says none");
                }
            }
            (ContentKey::Storage(k), VerifiedValue::Storage(value)) => {
                let slot = format!("{:#x}", k.slot);
                let expected =
                    rpc_u256(anvil, "eth_getStorageAt", json!([addr, slot, block])).await;
                assert_eq!(*value, expected, "{addr} slot {slot} at {block}");
            }
            (ContentKey::Bytecode(_), VerifiedValue::Bytecode(code)) => {
                let expected = anvil
                    .call("eth_getCode", json!([addr, block]))
                    .await
                    .unwrap();
                assert_eq!(format!("{code:#x}"), expected.as_str().unwrap());
            }
            other => panic!("key and value of different kinds: {other:?}"),
        }
    }
    report.keys.len()
}

/// Find `key` from `light`, trying again for a few seconds: a receiver stores what it accepted
/// only once the transfer is in, a moment after the bridge's push returns.
async fn find_soon(
    light: &Network,
    key: ContentKey,
) -> Result<portal_state::overlay::FoundContent, portal_state::network::NetworkError> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match light.find_content(key).await {
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            other => return other,
        }
    }
}

/// The next report, within 30 s.
async fn next_report(reports: &mut mpsc::UnboundedReceiver<BlockReport>) -> BlockReport {
    tokio::time::timeout(Duration::from_secs(30), reports.recv())
        .await
        .expect("the follower reports a block within 30 s")
        .expect("the follower is running")
}

fn has_account(report: &BlockReport, address: &str) -> bool {
    let address: Address = address.parse().unwrap();
    report
        .keys
        .iter()
        .any(|k| matches!(k, ContentKey::Account(a) if a.address == address))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follows_anvil_block_by_block_and_survives_a_restart() {
    let anvil = Anvil::start(&[]);
    let url = anvil.url.clone();
    let client = ExecutionClient::new(&url).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let nodes = Arc::new(start_network(dir.path(), 6, 10_000_000).await);
    let mut config = test_config(&dir.path().join("light"), 0);
    config.bootnodes = vec![nodes[1].enr()];
    let light = Arc::new(Network::start(config).await.unwrap());
    let mut config = test_config(&dir.path().join("bridge"), 0);
    config.bootnodes = vec![nodes[0].enr()];
    let bridge = Arc::new(Network::start(config).await.unwrap());

    // The follower, in a task of its own, as the CLI runs it; its headers are trusted on every
    // node before its items are pushed.
    let follower_config = FollowerConfig {
        start: StartAt::Block(1),
        poll_interval: Duration::from_millis(100),
        max_backoff: Duration::from_millis(500),
        ..FollowerConfig::default()
    };
    let (to_nodes, to_light) = (nodes.clone(), light.clone());
    let mut follower = Follower::new(client.clone(), follower_config).on_header(move |header| {
        for node in to_nodes.iter() {
            node.add_trusted_header(&header.rlp).unwrap();
        }
        to_light.add_trusted_header(&header.rlp).unwrap();
    });
    let (report_tx, mut reports) = mpsc::unbounded_channel();
    let (stop, stop_rx) = watch::channel(false);
    let bridge_task = bridge.clone();
    let task = tokio::spawn(async move {
        follower
            .run(
                &bridge_task,
                |report| {
                    let _ = report_tx.send(report.clone());
                },
                stop_rx,
            )
            .await;
    });

    let dead = "0x000000000000000000000000000000000000dEaD";
    let (dev0, dev1, dev2) = (DEV[0].0, DEV[1].0, DEV[2].0);
    let contract = format!("{:#x}", dev1.parse::<Address>().unwrap().create(0));
    let creation = CREATION_CODE;
    let mut checked = 0;

    // Block 1: an ether transfer.
    send(&url, 0, &[dead, "--value", "1ether"]);
    let r = next_report(&mut reports).await;
    assert_eq!(r.number, 1);
    assert!(
        has_account(&r, dead) && has_account(&r, dev0),
        "{:?}",
        r.keys
    );
    assert!(r.accepted > 0, "{:?}", r.push);
    checked += check_block(&light, &client, &r).await;

    // Block 2: the contract is created: its account, slots 0 and 1, and its code.
    send(&url, 1, &["--create", creation]);
    let r = next_report(&mut reports).await;
    assert_eq!(r.number, 2);
    let c: Address = contract.parse().unwrap();
    let code_key = r
        .keys
        .iter()
        .find(|k| matches!(k, ContentKey::Bytecode(BytecodeKey { address, .. }) if *address == c))
        .copied()
        .expect("the new code was pushed");
    let storage: Vec<U256> = r
        .keys
        .iter()
        .filter_map(|k| match k {
            ContentKey::Storage(s) if s.address == c => Some(s.slot),
            _ => None,
        })
        .collect();
    assert_eq!(storage, vec![U256::ZERO, U256::from(1)]);
    checked += check_block(&light, &client, &r).await;
    let code = find_soon(&light, code_key).await.unwrap();
    assert_eq!(
        code.content.proven(),
        &VerifiedValue::Bytecode(alloy_primitives::hex::decode(RUNTIME_CODE).unwrap().into())
    );

    // Block 3: a call writes slot 1 = 5.
    let word = format!("{:#066x}", 5);
    send(&url, 2, &[&contract, &word]);
    let r = next_report(&mut reports).await;
    assert_eq!(r.number, 3);
    assert!(has_account(&r, &contract) && has_account(&r, dev2));
    checked += check_block(&light, &client, &r).await;

    // Block 4: a call clears slot 1: the slot is proven absent (zero) at block 4.
    send(&url, 2, &[&contract, &format!("{:#066x}", 0)]);
    let r = next_report(&mut reports).await;
    assert_eq!(r.number, 4);
    let cleared = r
        .keys
        .iter()
        .any(|k| matches!(k, ContentKey::Storage(s) if s.address == c && s.slot == U256::from(1)));
    assert!(cleared, "the cleared slot was pushed: {:?}", r.keys);
    checked += check_block(&light, &client, &r).await;

    // Blocks 5 and 6: empty blocks; the follower reports each (no transaction changed
    // anything, only the untraced fee recipient and system slots get fresh proofs).
    cast(&url, &["rpc", "anvil_mine", "0x2"]);
    let mut old_hashes = Vec::new();
    for n in [5, 6] {
        let r = next_report(&mut reports).await;
        assert_eq!(r.number, n);
        checked += check_block(&light, &client, &r).await;
        old_hashes.push(r.hash);
    }

    // A reorg of depth 2 (blocks 5 and 6 replaced, a transfer in the new block 5), then block
    // 7 on top: the follower sees that 7's parent is not the 6 it pushed, walks back to block
    // 4, and pushes the new 5 and 6 before 7.
    let tx = json!([[{"from": dev0, "to": dead, "value": "0x3"}, 0]]).to_string();
    cast(&url, &["rpc", "anvil_reorg", "2", &tx]);
    cast(&url, &["rpc", "anvil_mine", "0x1"]);
    for (i, n) in [5, 6, 7].into_iter().enumerate() {
        let r = next_report(&mut reports).await;
        assert_eq!(r.number, n, "after the reorg");
        if let Some(old) = old_hashes.get(i) {
            assert_ne!(r.hash, *old, "block {n} was replaced");
        }
        if n == 5 {
            assert!(
                has_account(&r, dead),
                "the reorged-in transfer: {:?}",
                r.keys
            );
        }
        checked += check_block(&light, &client, &r).await;
    }
    eprintln!("checked {checked} items against anvil over 9 blocks");
    assert!(checked >= 20);

    // anvil dies: the follower keeps retrying, reporting nothing. Its retries are counted on a
    // listener in anvil's place that closes each connection unanswered.
    let port = anvil.port();
    drop(anvil);
    accept_unanswered(port, 3).await;
    assert!(
        reports.try_recv().is_err(),
        "no block without an execution client"
    );
    assert!(!task.is_finished(), "the follower is still running");

    // A new anvil on the same port, with a fresh chain: the follower notices that the head
    // went back and follows the new chain from its head.
    let anvil = Anvil::start_on(port, &[]);
    send(&anvil.url, 0, &[dev2, "--value", "2ether"]);
    let r = next_report(&mut reports).await;
    assert_eq!(r.number, 1, "the new chain's first block");
    assert!(has_account(&r, dev2));
    check_block(&light, &client, &r).await;

    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the follower stops when told")
        .unwrap();
    drop(anvil);
    for net in [light, bridge] {
        Arc::try_unwrap(net).ok().expect("sole owner").stop().await;
    }
    for node in Arc::try_unwrap(nodes).ok().expect("sole owner") {
        node.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_feed_trusts_anvils_new_heads() {
    use portal_state::bridge::{HeadFeed, HeadFeedConfig};
    let anvil = Anvil::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let node = Network::start(test_config(dir.path(), 0)).await.unwrap();
    let client = ExecutionClient::new(&anvil.url).unwrap();
    let mut feed = HeadFeed::new(client.clone(), HeadFeedConfig::default());
    let first = feed.poll_once(&node).await.unwrap().expect("a first head");
    assert_eq!(first.number, 0);
    assert!(
        feed.poll_once(&node).await.unwrap().is_none(),
        "no new head yet"
    );
    cast(&anvil.url, &["rpc", "anvil_mine", "0x3"]);
    let head = feed.poll_once(&node).await.unwrap().expect("a new head");
    assert_eq!(head.number, 3);
    assert_eq!(node.status().newest_header, Some(3));
    assert!(node
        .overlay()
        .with_heads(|h| h.is_trusted_root(head.state_root)));

    // Run in the background: a mined block becomes trusted; shutdown ends it.
    let (stop, stop_rx) = watch::channel(false);
    let (heads_tx, mut heads) = mpsc::unbounded_channel();
    let node = Arc::new(node);
    let task_node = node.clone();
    let config = HeadFeedConfig {
        poll_interval: Duration::from_millis(100),
        ..HeadFeedConfig::default()
    };
    let mut feed = HeadFeed::new(client, config);
    let task = tokio::spawn(async move {
        feed.run(
            &task_node,
            |h| {
                let _ = heads_tx.send(h.number);
            },
            stop_rx,
        )
        .await
    });
    assert_eq!(heads.recv().await, Some(3));
    cast(&anvil.url, &["rpc", "anvil_mine", "0x1"]);
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(10), heads.recv())
            .await
            .unwrap(),
        Some(4)
    );
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
    Arc::try_unwrap(node).ok().unwrap().stop().await;
}
