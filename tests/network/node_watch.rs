//! [`Node::watch`] against a devnet following a real anvil: a light node (capacity 0) watches a
//! fresh account; each transfer anvil mines to it is heard with the verified new balance at
//! the block that made it (anvil's own balance there); a listener that panics keeps being
//! called and harms nothing; paused, nothing is delivered, and after resume the change arrives
//! with the missed block counted; it goes on after `network_changed()`; after `unwatch` nothing
//! more; the watch limit; after stop.
//! And a contract's watched storage slot: its value at creation, then each write.

use crate::support::anvil_devnet::{AnvilDevnet, PushedBlock};

use alloy_primitives::{address, keccak256, Address, U256};
use portal_state::node::{Config, Node, NodeError, WatchEvent, HEAD_POLL, MAX_WATCHES};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

const WATCHED: Address = address!("00000000000000000000000000000000000b0b01");

/// The next event, within 60 s (only a broken build waits that long).
fn next(events: &mpsc::Receiver<WatchEvent>) -> WatchEvent {
    events
        .recv_timeout(Duration::from_secs(60))
        .expect("the watch hears the block")
}

/// Events until the one at `block`; the ones before it must be a baseline of the account
/// before any transfer (empty), if the network could prove that.
fn event_at(events: &mpsc::Receiver<WatchEvent>, block: &PushedBlock) -> WatchEvent {
    loop {
        let event = next(events);
        if event.block.number == block.number {
            assert_eq!(event.block.hash, block.hash);
            return event;
        }
        assert!(
            event.baseline && event.block.number < block.number,
            "{event:?}"
        );
        assert_eq!(event.account.balance, U256::ZERO);
    }
}

/// No event for a few of the watch task's polls (waiting, not timing: nothing may come at all).
fn assert_quiet(events: &mpsc::Receiver<WatchEvent>, when: &str) {
    if let Ok(event) = events.recv_timeout(HEAD_POLL * 3) {
        panic!("{when}: an event came: {event:?}");
    }
}

#[test]
fn a_light_node_hears_each_verified_change_of_a_watched_account() {
    let dir = tempfile::tempdir().unwrap();
    let mut devnet = AnvilDevnet::start(dir.path(), 4);
    let node = Node::start(Config {
        data_dir: dir.path().join("light"),
        storage_capacity_bytes: 0,
        bootnodes: devnet.bootnodes(),
        ..Config::default()
    })
    .unwrap();
    node.update_head(&devnet.head().header_rlp).unwrap();

    let (events_tx, events) = mpsc::channel();
    let id = node
        .watch(
            WATCHED,
            Vec::new(),
            Arc::new(move |event: WatchEvent| {
                let _ = events_tx.send(event);
            }),
        )
        .unwrap();
    // A listener that panics on every call: the node and the other watch go on.
    let panics = Arc::new(AtomicUsize::new(0));
    let counted = panics.clone();
    let panicking = node
        .watch(
            WATCHED,
            Vec::new(),
            Arc::new(move |_: WatchEvent| {
                counted.fetch_add(1, Ordering::SeqCst);
                panic!("a listener that throws");
            }),
        )
        .unwrap();
    assert_ne!(id, panicking);

    // The first transfer: the account's first state, at its block, as anvil has it.
    let first = devnet.send(WATCHED, U256::from(1_000_000u64));
    node.update_head(&first.header_rlp).unwrap();
    let event = event_at(&events, &first);
    assert_eq!(event.watch_id, id);
    assert_eq!(event.address, WATCHED);
    assert_eq!(event.account.balance, devnet.balance(WATCHED, first.number));
    assert_eq!(event.account.balance, U256::from(1_000_000u64));
    assert!(event.account.exists);

    // The second: a change, at the next block, nothing missed.
    let second = devnet.send(WATCHED, U256::from(2_000_000u64));
    node.update_head(&second.header_rlp).unwrap();
    let event = event_at(&events, &second);
    assert!(!event.baseline && event.balance_changed);
    assert!(!event.nonce_changed && !event.code_changed);
    assert_eq!(event.missed_blocks, 0);
    assert_eq!(
        event.account.balance,
        devnet.balance(WATCHED, second.number)
    );
    assert_eq!(event.account.balance, U256::from(3_000_000u64));
    assert!(
        panics.load(Ordering::SeqCst) >= 2,
        "the panicking listener is still called"
    );
    node.unwatch(panicking).unwrap();
    assert!(node
        .query_account(WATCHED, portal_state::client::BlockId::Latest)
        .is_ok());

    // Paused through two blocks: nothing; resumed: the newest state, one block missed.
    node.pause().unwrap();
    let third = devnet.send(WATCHED, U256::from(4_000u64));
    node.update_head(&third.header_rlp).unwrap();
    let fourth = devnet.send(WATCHED, U256::from(5_000u64));
    node.update_head(&fourth.header_rlp).unwrap();
    assert_quiet(&events, "paused");
    node.resume().unwrap();
    let event = event_at(&events, &fourth);
    assert!(event.balance_changed && !event.baseline);
    assert_eq!(
        event.missed_blocks, 1,
        "block {} was not read",
        third.number
    );
    assert_eq!(
        event.account.balance,
        devnet.balance(WATCHED, fourth.number)
    );
    assert_eq!(event.account.balance, U256::from(3_009_000u64));

    // After the app's network_changed(): the watch goes on, nothing missed.
    assert!(node.network_changed().unwrap() >= 1);
    let moved = devnet.send(WATCHED, U256::from(1_000u64));
    node.update_head(&moved.header_rlp).unwrap();
    let event = event_at(&events, &moved);
    assert!(event.balance_changed && event.missed_blocks == 0);
    assert_eq!(event.account.balance, devnet.balance(WATCHED, moved.number));

    // Unwatched: nothing more, though the account changes.
    assert!(node.unwatch(id).unwrap());
    assert!(!node.unwatch(id).unwrap(), "a second unwatch finds nothing");
    let fifth = devnet.send(WATCHED, U256::from(6_000u64));
    node.update_head(&fifth.header_rlp).unwrap();
    assert_quiet(&events, "unwatched");
    assert_eq!(node.watch_count(), 0);

    // The limit, then the error after stop.
    let ids: Vec<_> = (0..MAX_WATCHES)
        .map(|i| {
            let address = Address::with_last_byte(i as u8 + 1);
            node.watch(address, Vec::new(), Arc::new(|_: WatchEvent| {}))
                .unwrap()
        })
        .collect();
    let refused = node.watch(WATCHED, Vec::new(), Arc::new(|_: WatchEvent| {}));
    assert_eq!(
        refused,
        Err(NodeError::TooManyWatches {
            limit: MAX_WATCHES as u64
        })
    );
    let too_many_slots = vec![U256::ZERO; portal_state::node::MAX_WATCHED_SLOTS + 1];
    assert!(matches!(
        node.watch(WATCHED, too_many_slots, Arc::new(|_: WatchEvent| {})),
        Err(NodeError::InvalidInput { .. })
    ));
    assert!(node.unwatch(ids[0]).unwrap());
    node.stop().unwrap();
    assert_eq!(
        node.watch(WATCHED, Vec::new(), Arc::new(|_: WatchEvent| {})),
        Err(NodeError::NotRunning)
    );
}

/// Hand-assembled (as in `bridge_anvil.rs`): the constructor stores 42 in slot 0 and 7 in slot
/// 1 and returns the runtime `PUSH1 0 CALLDATALOAD PUSH1 1 SSTORE STOP` (each call stores its
/// first calldata word in slot 1).
const CREATION_CODE: &str = "0x602a60005560076001556007601660003960076000f360003560015500";
const RUNTIME_CODE: [u8; 7] = [0x60, 0x00, 0x35, 0x60, 0x01, 0x55, 0x00];

#[test]
fn a_watched_storage_slot_is_heard_at_each_write() {
    let dir = tempfile::tempdir().unwrap();
    let mut devnet = AnvilDevnet::start(dir.path(), 4);
    let node = Node::start(Config {
        data_dir: dir.path().join("light"),
        storage_capacity_bytes: 0,
        bootnodes: devnet.bootnodes(),
        ..Config::default()
    })
    .unwrap();
    let (contract, created) = devnet.deploy(CREATION_CODE);
    node.update_head(&created.header_rlp).unwrap();
    let (events_tx, events) = mpsc::channel();
    let slot = U256::from(1);
    node.watch(
        contract,
        vec![slot],
        Arc::new(move |event: WatchEvent| {
            let _ = events_tx.send(event);
        }),
    )
    .unwrap();

    // The baseline: the code and the constructor's value, at the creating block.
    let event = event_at(&events, &created);
    assert!(event.baseline);
    assert_eq!(event.account.code_hash, keccak256(RUNTIME_CODE));
    assert_eq!(event.slots.len(), 1);
    assert_eq!(
        (event.slots[0].slot, event.slots[0].value),
        (slot, U256::from(7))
    );
    assert!(!event.slots[0].changed);

    // Two writes, each heard at its block with the value written.
    for word in [0x99u64, 0x1234] {
        let data = format!("{:#066x}", word);
        let written = devnet.call(contract, &data);
        node.update_head(&written.header_rlp).unwrap();
        let event = event_at(&events, &written);
        assert!(!event.baseline && event.slots[0].changed);
        assert_eq!(event.slots[0].value, U256::from(word));
        assert!(!event.balance_changed && !event.nonce_changed && !event.code_changed);
        assert_eq!(event.missed_blocks, 0);
    }
    node.stop().unwrap();
}
