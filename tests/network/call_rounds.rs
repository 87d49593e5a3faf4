//! How many rounds of lookups an `eth_call` waits for, on a real loopback network (six storing
//! nodes, a bridge, a light node of capacity 0): the call's dependency depth, not its item
//! count. The state is WETH's real mainnet code with twelve holders' balances and three
//! readers in raw bytecode (`support::calls`); WETH's `decimals()` runs on the real mainnet
//! proofs of block 19,000,000 too. Each figure is compared with the same call fetching one
//! item at a time (`with_sequential_calls`), which must give the same answer.

use crate::call_contracts::{network_with, soon};
use crate::support::calls::*;
use alloy_primitives::{Bytes, U256};
use portal_state::bridge::proofs_file_content;
use portal_state::client::{BlockId, CallFetches, CallRequest, ClientError, StateClient};
use portal_state::network::Network;
use std::sync::Arc;

const AT: BlockId = BlockId::Number(0);

fn request(to: alloy_primitives::Address, data: Bytes) -> CallRequest {
    CallRequest {
        to: Some(to),
        data,
        ..CallRequest::default()
    }
}

/// The call's answer as a number, and its fetch counts; the same call fetching item by item
/// gives the same answer, and its counts are returned too.
async fn counted(
    light: &Arc<Network>,
    client: &StateClient,
    call: &CallRequest,
) -> (U256, CallFetches, CallFetches) {
    let (answer, fetches) = soon(|| client.call_counted(call, AT)).await.unwrap();
    assert!(answer.value.success, "{:?}", answer.value);
    assert_eq!(answer.block.number, 0);
    let sequential = StateClient::new(light.clone()).with_sequential_calls(true);
    let (before, before_fetches) = sequential.call_counted(call, AT).await.unwrap();
    assert_eq!(
        before.value, answer.value,
        "the same answer fetched item by item"
    );
    (
        U256::from_be_slice(&answer.value.return_data),
        fetches,
        before_fetches,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_waits_for_its_dependency_depth_not_its_item_count() {
    let (header_rlp, items) = state();
    let dir = tempfile::tempdir().unwrap();
    let (nodes, light) = network_with(dir.path(), &header_rlp, items).await;
    // Wait until the state is in place (receivers store a moment after the push), on a
    // client of its own: the counted ones start knowing nothing.
    let client = StateClient::new(light.clone());
    for to in [SUM_SLOTS, BALANCES_VIEW, SLOT_CHAIN] {
        let call = request(to, Bytes::new());
        soon(|| client.call(&call, AT)).await.unwrap();
    }

    // balanceOf(): WETH's account and code, the caller (the zero address, proven absent), one
    // slot whose key only the code names. A new client knows no code: two rounds (account,
    // then slot), three items.
    let balance_call = request(WETH, balance_of(holder(3)));
    let fresh = StateClient::new(light.clone());
    let (value, fetches, before) = counted(&light, &fresh, &balance_call).await;
    assert_eq!(value, balance(3));
    assert_eq!((fetches.rounds, fetches.items, fetches.absent), (2, 3, 0));
    assert_eq!(before.rounds, 2);
    // Once WETH's code is known (verified by an earlier call), a first run over it names the
    // slot: account and slot in one round.
    let other = request(WETH, balance_of(holder(4)));
    let (value, fetches, before) = counted(&light, &fresh, &other).await;
    assert_eq!(value, balance(4));
    assert_eq!((fetches.rounds, fetches.items), (1, 3), "{fetches:?}");
    assert_eq!(before.rounds, 2);
    // The app's access list names the slot: one round for a new client too, and the call
    // runs as a type-1 transaction with it (warm slot: less gas).
    let listed = CallRequest {
        access_list: vec![(WETH, vec![balance_slot(holder(3))])],
        ..balance_call.clone()
    };
    let with_list = StateClient::new(light.clone());
    let (answer, fetches) = with_list.call_counted(&listed, AT).await.unwrap();
    assert_eq!(U256::from_be_slice(&answer.value.return_data), balance(3));
    assert_eq!((fetches.rounds, fetches.items), (1, 3), "{fetches:?}");
    let plain = fresh.call(&balance_call, AT).await.unwrap();
    assert_ne!(
        answer.value.gas_used, plain.value.gas_used,
        "the list is applied"
    );
    // Items of the list the call never reads are fetched in vain, never an error, even
    // when no peer holds them.
    let padded = CallRequest {
        access_list: vec![
            (
                WETH,
                vec![balance_slot(holder(3)), balance_slot(holder(99))],
            ),
            (holder(77), vec![]),
        ],
        ..balance_call.clone()
    };
    let (answer, fetches) = StateClient::new(light.clone())
        .call_counted(&padded, AT)
        .await
        .unwrap();
    assert_eq!(U256::from_be_slice(&answer.value.return_data), balance(3));
    assert_eq!((fetches.rounds, fetches.items), (1, 5), "{fetches:?}");
    eprintln!("an access list with items nobody reads: {fetches:?}");

    // 12 independent slots: two rounds (the contract, then every slot at once) where item
    // by item takes 13.
    let fresh = StateClient::new(light.clone());
    let sum = request(SUM_SLOTS, Bytes::new());
    let (value, fetches, before) = counted(&light, &fresh, &sum).await;
    assert_eq!(value, slot_sum());
    assert_eq!((fetches.rounds, fetches.items), (2, 14), "{fetches:?}");
    assert_eq!(before.rounds, 13, "{before:?}");
    let (_, fetches, _) = counted(&light, &fresh, &sum).await;
    assert_eq!(fetches.rounds, 1, "code known: {fetches:?}");

    // 10 WETH balances through STATICCALLs: the view, then WETH, then the 10 slots.
    let fresh = StateClient::new(light.clone());
    let view = request(BALANCES_VIEW, Bytes::new());
    let (value, fetches, before) = counted(&light, &fresh, &view).await;
    assert_eq!(value, viewed_balances());
    assert_eq!((fetches.rounds, fetches.items), (3, 13), "{fetches:?}");
    assert_eq!(before.rounds, 12, "{before:?}");
    let (_, fetches, _) = counted(&light, &fresh, &view).await;
    assert_eq!(
        (fetches.rounds, fetches.items),
        (1, 13),
        "code known: {fetches:?}"
    );

    // A chain of 4 slots, each key the previous value: its depth is its length, and the
    // rounds follow it (no fewer can be right).
    let fresh = StateClient::new(light.clone());
    let chain = request(SLOT_CHAIN, Bytes::new());
    let (value, fetches, before) = counted(&light, &fresh, &chain).await;
    assert_eq!(value, chain_answer());
    assert_eq!((fetches.rounds, fetches.items), (5, 6), "{fetches:?}");
    assert_eq!(before.rounds, 5);

    // Slots no peer holds: the error names the first the call reads (slot 5), as the
    // sequential run does, after two rounds rather than one per slot read.
    let fresh = StateClient::new(light.clone());
    let gaps = request(SUM_WITH_GAPS, Bytes::new());
    let first_gap = U256::from(GAPS[0]);
    let expect_gap = |result: Result<_, ClientError>| match result {
        Err(ClientError::NotFound { what, tried }) => {
            assert!(what.starts_with(&format!("slot {first_gap} of")), "{what}");
            assert!(
                what.to_lowercase().contains(&format!("{SUM_WITH_GAPS:#x}")),
                "{what}"
            );
            assert_eq!(tried, vec![0]);
        }
        other => panic!("a call reading slots nobody holds: {other:?}"),
    };
    expect_gap(fresh.call(&gaps, AT).await.map(|_| ()));
    let sequential = StateClient::new(light.clone()).with_sequential_calls(true);
    expect_gap(sequential.call(&gaps, AT).await.map(|_| ()));

    light.stop().await;
    for node in nodes {
        node.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weth_decimals_on_mainnet_proofs_takes_two_rounds_then_one() {
    let text = std::fs::read_to_string(crate::support::repo_file(
        "tests/data/proofs/weth-19000000.json",
    ))
    .unwrap();
    let (header, items) = proofs_file_content(&text).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (nodes, light) = network_with(dir.path(), &header.rlp, items).await;
    let client = StateClient::new(light.clone());
    let at = BlockId::Number(19_000_000);
    let decimals = CallRequest {
        from: Some(WETH),
        to: Some(WETH),
        data: decimals(),
        ..CallRequest::default()
    };
    let (answer, fetches) = soon(|| client.call_counted(&decimals, at)).await.unwrap();
    assert_eq!(
        U256::from_be_slice(&answer.value.return_data),
        U256::from(18)
    );
    assert_eq!((fetches.rounds, fetches.items), (2, 2), "{fetches:?}");
    let (again, fetches) = client.call_counted(&decimals, at).await.unwrap();
    assert_eq!(again.value, answer.value);
    assert_eq!((fetches.rounds, fetches.items), (1, 2), "{fetches:?}");
    // symbol() reads slot 1, which nobody has: the same error as item by item.
    let symbol = CallRequest {
        data: vec![0x95, 0xd8, 0x9b, 0x41].into(),
        ..decimals.clone()
    };
    match client.call(&symbol, at).await {
        Err(ClientError::NotFound { what, .. }) => assert!(what.contains("slot 1 of"), "{what}"),
        other => panic!("symbol() without slot 1: {other:?}"),
    }
    light.stop().await;
    for node in nodes {
        node.stop().await;
    }
}
