//! `eth_call` and `eth_estimateGas` on real state, through a real loopback network: WETH's
//! `decimals()` at mainnet block 19,000,000 from the real proofs; the holesky deposit contract on
//! a devnet of the holesky genesis, checked against anvil on the same genesis; gas estimates of
//! a transfer and of a reverting call.

use crate::support::anvil::{try_cast, Anvil};
use crate::support::nodes;
use crate::support::vectors;

use alloy_primitives::{address, hex, Address, Bytes, U256};
use nodes::*;
use portal_state::bridge::{genesis_content, proofs_file_content, push};
use portal_state::client::{BlockId, CallRequest, ClientError, StateClient};
use portal_state::network::Network;
use std::sync::Arc;
use std::time::{Duration, Instant};
use vectors::WETH;

const DEPOSIT: Address = address!("4242424242424242424242424242424242424242");
/// An account of the holesky genesis without code.
const EOA: Address = address!("0be949928Ff199c9EBA9E110db210AA5C94EFAd0");

fn calldata(hex_str: &str) -> Bytes {
    Bytes::from(hex::decode(hex_str).unwrap())
}

/// A network of six storing nodes, `items` pushed into it by a bridge node, and a light node
/// (capacity 0) trusting `header_rlp`: every answer it gives came over the wire.
pub(crate) async fn network_with(
    dir: &std::path::Path,
    header_rlp: &[u8],
    items: Vec<portal_state::proof::VerifiedContent>,
) -> (Vec<Network>, Arc<Network>) {
    let mut nodes = start_network(dir, 6, 50_000_000).await;
    trust_everywhere(&nodes, header_rlp);
    let mut config = test_config(&dir.join("bridge"), 0);
    config.bootnodes = vec![nodes[0].enr()];
    let bridge = Network::start(config).await.unwrap();
    bridge.add_trusted_header(header_rlp).unwrap();
    let report = push(&bridge, items, |_| {}).await;
    assert_eq!(report.unplaced, 0, "{report:?}");
    nodes.push(bridge);
    let mut config = test_config(&dir.join("light"), 0);
    config.bootnodes = vec![nodes[2].enr()];
    let light = Arc::new(Network::start(config).await.unwrap());
    light.add_trusted_header(header_rlp).unwrap();
    (nodes, light)
}

/// Retry `f` for a few seconds while the network says NotFound: receivers store what they
/// accepted a moment after the push returns.
pub(crate) async fn soon<T, F: std::future::Future<Output = Result<T, ClientError>>>(
    mut f: impl FnMut() -> F,
) -> Result<T, ClientError> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match f().await {
            Err(ClientError::NotFound { .. }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            other => return other,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weth_decimals_at_block_19m_through_the_network() {
    let text = std::fs::read_to_string(repo_file("tests/data/proofs/weth-19000000.json")).unwrap();
    let (header, items) = proofs_file_content(&text).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (nodes, light) = network_with(dir.path(), &header.rlp, items).await;
    let client = StateClient::new(light.clone());

    // The caller's account is state the call reads too; the vector proves only WETH's, so WETH
    // calls itself (a caller with code is allowed under eth_call semantics).
    let decimals = CallRequest {
        from: Some(WETH),
        to: Some(WETH),
        data: calldata("313ce567"),
        ..CallRequest::default()
    };
    let answer = soon(|| client.call(&decimals, BlockId::Number(19_000_000)))
        .await
        .unwrap();
    assert_eq!(answer.block.number, 19_000_000);
    assert_eq!(answer.block.hash, header.hash);
    assert!(answer.value.success, "{:?}", answer.value);
    assert_eq!(
        U256::from_be_slice(&answer.value.return_data),
        U256::from(18)
    );
    assert_eq!(answer.value.return_data.len(), 32);
    assert!(answer.value.gas_used > 21_000, "{:?}", answer.value);
    assert!(answer.stats.messages > 0, "read over the network");
    assert!(!answer.stats.local);
    // Latest resolves to the only trusted block, and says so.
    let latest = client.call(&decimals, BlockId::Latest).await.unwrap();
    assert_eq!(latest.block.number, 19_000_000);
    assert_eq!(latest.value, answer.value);

    // symbol() reads slot 1, which nobody has: an error naming it, never a wrong answer.
    let symbol = CallRequest {
        data: calldata("95d89b41"),
        ..decimals.clone()
    };
    match client.call(&symbol, BlockId::Number(19_000_000)).await {
        Err(ClientError::NotFound { what, tried }) => {
            assert!(what.contains("slot 1 of"), "{what}");
            assert!(
                what.to_lowercase().contains(&format!("{WETH:#x}")),
                "{what}"
            );
            assert_eq!(tried, vec![19_000_000]);
        }
        other => panic!("symbol() without slot 1: {other:?}"),
    }
    // Without `from` the zero address calls, as geth and anvil take it. Its account is not
    // on this network, but decimals() and totalSupply() never read it: both answer.
    let anonymous = CallRequest {
        from: None,
        ..decimals.clone()
    };
    let anonymous = client
        .call(&anonymous, BlockId::Number(19_000_000))
        .await
        .expect("decimals() does not read its caller");
    assert_eq!(anonymous.value, answer.value);
    let total_supply = CallRequest {
        from: None,
        data: calldata("18160ddd"),
        ..decimals.clone()
    };
    let total = client
        .call(&total_supply, BlockId::Number(19_000_000))
        .await
        .expect("totalSupply() does not read its caller");
    // WETH's totalSupply() is its own balance.
    let weth = client
        .account(WETH, BlockId::Number(19_000_000))
        .await
        .unwrap();
    assert_eq!(
        U256::from_be_slice(&total.value.return_data),
        weth.value.balance
    );
    // A block that is not trusted.
    assert!(matches!(
        client.call(&decimals, BlockId::Number(18_999_999)).await,
        Err(ClientError::UnknownBlock(_))
    ));

    // Latency of a whole call (prefetch, execution, every read over loopback), 100 times.
    let mut times = Vec::with_capacity(100);
    for _ in 0..100 {
        let start = Instant::now();
        let a = client
            .call(&decimals, BlockId::Number(19_000_000))
            .await
            .unwrap();
        times.push(start.elapsed());
        assert_eq!(a.value.return_data, answer.value.return_data);
    }
    times.sort();
    eprintln!(
        "WETH decimals() over loopback, 100 calls: p50 {:?}, p99 {:?}",
        times[49], times[98]
    );

    light.stop().await;
    for node in nodes {
        node.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holesky_deposit_contract_agrees_with_anvil() {
    let genesis_path = repo_file("data/genesis/holesky.json");
    let content = genesis_content(&std::fs::read_to_string(&genesis_path).unwrap()).unwrap();
    let header_rlp = genesis_header_rlp("holesky");
    let dir = tempfile::tempdir().unwrap();
    let (nodes, light) = network_with(dir.path(), &header_rlp, content.items).await;
    let client = StateClient::new(light.clone());
    let anvil = Anvil::start(&["--init", genesis_path.to_str().unwrap()]);

    let root_call = CallRequest {
        to: Some(DEPOSIT),
        data: calldata("c5f2892f"),
        ..CallRequest::default()
    };
    let root = soon(|| client.call(&root_call, BlockId::Latest))
        .await
        .unwrap();
    assert_eq!(root.block.number, 0);
    assert!(root.value.success, "{:?}", root.value);
    assert_eq!(
        format!("{:#x}", root.value.return_data),
        "0xd70a234731285c6804c2a4f56711ddb8c82c99740f207854891028af34e27e5e"
    );
    let count_call = CallRequest {
        data: calldata("621fd130"),
        ..root_call.clone()
    };
    let count = soon(|| client.call(&count_call, BlockId::Number(0)))
        .await
        .unwrap();
    assert!(count.value.success);
    // bytes: offset 0x20, length 8, eight zero bytes (padded to a word).
    let mut expected = vec![0u8; 96];
    expected[31] = 0x20;
    expected[63] = 8;
    assert_eq!(count.value.return_data.to_vec(), expected);

    // anvil on the same genesis gives the same bytes.
    let addr = format!("{DEPOSIT:#x}");
    for (call, ours) in [(&root_call, &root), (&count_call, &count)] {
        let theirs = try_cast(&[
            "call",
            "--rpc-url",
            &anvil.url,
            &addr,
            &format!("{:#x}", call.data),
        ])
        .unwrap();
        assert_eq!(theirs, format!("{:#x}", ours.value.return_data));
    }

    // A plain transfer to an account without code costs exactly 21,000, found by the search.
    let transfer = CallRequest {
        to: Some(EOA),
        value: Some(U256::from(1)),
        ..CallRequest::default()
    };
    let gas = soon(|| client.estimate_gas(&transfer, BlockId::Latest))
        .await
        .unwrap();
    assert_eq!(gas.value, 21_000);
    assert_eq!(gas.block.number, 0);
    // The sender (the zero address, balance 1 wei in holesky's genesis) cannot pay 10 ether:
    // under eth_call semantics the balance is not checked.
    let rich = CallRequest {
        value: Some(U256::from(10u128.pow(19))),
        ..transfer.clone()
    };
    let sent = soon(|| client.call(&rich, BlockId::Latest)).await.unwrap();
    assert!(sent.value.success, "{:?}", sent.value);
    assert_eq!(sent.value.gas_used, 21_000);

    // deposit() with an empty pubkey reverts with Error("DepositContract: invalid pubkey
    // length"): the estimate fails with the revert data, the call reports it.
    let mut bad = hex::decode("22895118").unwrap();
    for word in [0x80u8, 0xa0, 0xc0, 0, 0, 0, 0] {
        let mut w = [0u8; 32];
        w[31] = word;
        bad.extend_from_slice(&w);
    }
    let deposit = CallRequest {
        to: Some(DEPOSIT),
        data: bad.into(),
        ..CallRequest::default()
    };
    match soon(|| client.estimate_gas(&deposit, BlockId::Latest)).await {
        Err(ClientError::Reverted { reason, data }) => {
            assert_eq!(
                reason.as_deref(),
                Some("DepositContract: invalid pubkey length")
            );
            assert_eq!(&data[..4], &[0x08, 0xc3, 0x79, 0xa0]);
        }
        other => panic!("a reverting estimate: {other:?}"),
    }
    let reverted = client.call(&deposit, BlockId::Latest).await.unwrap();
    assert!(!reverted.value.success);
    assert_eq!(
        reverted.value.revert_reason.as_deref(),
        Some("DepositContract: invalid pubkey length")
    );
    // Below intrinsic gas: an error, not a panic nor a result.
    let starved = CallRequest {
        gas: Some(20_000),
        ..transfer.clone()
    };
    assert!(matches!(
        client.call(&starved, BlockId::Latest).await,
        Err(ClientError::Execution(_))
    ));

    drop(anvil);
    light.stop().await;
    for node in nodes {
        node.stop().await;
    }
}

/// A call without `from` runs with the zero address as its caller even where the network holds
/// no proof of that account — unless the call's code reads the caller's state: then it fails
/// naming the account, and nothing unverified is returned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_without_from_needs_the_callers_state_only_when_it_reads_it() {
    // The zero account exists (it holds 5 wei), but its proof is not pushed.
    let json = r#"{"alloc": {
        "0x0000000000000000000000000000000000000000": {"balance": "0x5"},
        "0x00000000000000000000000000000000000000c1": {"code": "0x602a60005260206000f3"},
        "0x00000000000000000000000000000000000000c2": {"code": "0x333160005260206000f3"}
    }}"#;
    // c1: return 42. c2: return BALANCE(CALLER).
    let (c1, c2) = (
        address!("00000000000000000000000000000000000000c1"),
        address!("00000000000000000000000000000000000000c2"),
    );
    let content = genesis_content(json).unwrap();
    let header_rlp = synthetic_header(1, content.state_root);
    let items: Vec<_> = content
        .items
        .into_iter()
        .filter(|item| {
            !matches!(item.key(), portal_state::content::ContentKey::Account(a) if a.address == Address::ZERO)
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let (nodes, light) = network_with(dir.path(), &header_rlp, items).await;
    let client = StateClient::new(light.clone());
    let call = |to: Address, from: Option<Address>| CallRequest {
        from,
        to: Some(to),
        ..CallRequest::default()
    };

    let returns_42 = call(c1, None);
    let answer = soon(|| client.call(&returns_42, BlockId::Latest))
        .await
        .expect("the caller's state is not read");
    assert!(answer.value.success);
    assert_eq!(
        U256::from_be_slice(&answer.value.return_data),
        U256::from(42)
    );

    match client.call(&call(c2, None), BlockId::Latest).await {
        Err(ClientError::NotFound { what, .. }) => {
            assert!(what.contains("reads its caller's state"), "{what}");
        }
        other => panic!("BALANCE(CALLER) without its proof: {other:?}"),
    }
    // A caller named in the request must be proven, whatever the code reads.
    assert!(matches!(
        client
            .call(&call(c1, Some(Address::ZERO)), BlockId::Latest)
            .await,
        Err(ClientError::NotFound { .. })
    ));

    light.stop().await;
    for node in nodes {
        node.stop().await;
    }
}
