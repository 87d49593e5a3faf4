//! The app-facing [`Node`] against a real devnet: six storage nodes on loopback holding the
//! holesky genesis state (pushed by a bridge), a `Node` joined through their ENRs, queries
//! checked against the genesis file, typed errors, stop, and a restart on the same data dir.

use crate::support::nodes;

use alloy_primitives::{address, Address, B256, U256};
use nodes::*;
use portal_state::bridge::{genesis_content, push};
use portal_state::client::BlockId;
use portal_state::network::Network;
use portal_state::node::{CallRequest, Config, Node, NodeError};
use std::str::FromStr;

const DEPOSIT: Address = address!("4242424242424242424242424242424242424242");

struct Devnet {
    runtime: tokio::runtime::Runtime,
    nodes: Vec<Network>,
    header_rlp: Vec<u8>,
    genesis: serde_json::Value,
}

impl Devnet {
    /// The devnet runs on a runtime of its own, apart from the `Node`'s and the test thread,
    /// as a remote network would.
    fn start(root: &std::path::Path) -> Devnet {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let json = std::fs::read_to_string(repo_file("data/genesis/holesky.json")).unwrap();
        let header_rlp = genesis_header_rlp("holesky");
        let nodes = runtime.block_on(async {
            let content = genesis_content(&json).unwrap();
            let nodes = start_network(root, 6, 50_000_000).await;
            trust_everywhere(&nodes, &header_rlp);
            let mut config = test_config(&root.join("bridge"), 0);
            config.bootnodes = vec![nodes[0].enr()];
            let bridge = Network::start(config).await.unwrap();
            bridge.add_trusted_header(&header_rlp).unwrap();
            let report = push(&bridge, content.items, |_| {}).await;
            assert_eq!(report.unplaced, 0, "{report:?}");
            bridge.stop().await;
            nodes
        });
        Devnet {
            runtime,
            nodes,
            header_rlp,
            genesis: serde_json::from_str(&json).unwrap(),
        }
    }

    fn bootnodes(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.enr().to_base64()).collect()
    }

    /// An account's balance as the genesis file states it (hex or decimal).
    fn balance(&self, address: &str) -> U256 {
        let text = self.genesis["alloc"][address]["balance"].as_str().unwrap();
        U256::from_str(text).unwrap()
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        let nodes = std::mem::take(&mut self.nodes);
        self.runtime.block_on(async {
            for node in nodes {
                node.stop().await;
            }
        });
    }
}

fn config(dir: &std::path::Path, bootnodes: Vec<String>) -> Config {
    Config {
        data_dir: dir.to_path_buf(),
        // A light node: it stores nothing, so every answer comes over the network.
        storage_capacity_bytes: 0,
        bootnodes,
        ..Config::default()
    }
}

#[test]
fn a_node_answers_verified_state_from_the_devnet_then_stops_and_restarts() {
    init_logs();
    let dir = tempfile::tempdir().unwrap();
    let devnet = Devnet::start(&dir.path().join("devnet"));
    let data_dir = dir.path().join("light");
    let node = Node::start(config(&data_dir, devnet.bootnodes())).unwrap();

    assert_eq!(
        node.query_account(DEPOSIT, BlockId::Latest),
        Err(NodeError::NoTrustedHeader),
        "nothing is verifiable before a head"
    );
    let head = node.update_head(&devnet.header_rlp).unwrap();
    assert_eq!(head.number, 0);
    let status = node.status().unwrap();
    assert_eq!(status.newest_block, Some(0));
    assert!(status.peers >= 1, "{status:?}");
    assert!(status.enr.starts_with("enr:"));
    let first_enr = status.enr;

    // A funded account: balance from the genesis file, named block.
    let whale = "0xD3994e4d3202dD23c8497d7F75bF1647d1DA1bb1";
    let answer = node
        .query_account(whale.parse().unwrap(), BlockId::Latest)
        .unwrap();
    assert!(answer.value.exists);
    assert_eq!(answer.value.balance, devnet.balance(whale));
    assert_eq!(answer.block, head);
    assert_eq!(answer.value.nonce, 0);

    // The deposit contract: a storage slot and the code, by number and by hash, async too.
    let slot = U256::from(0x22);
    let expected = B256::from_str(
        devnet.genesis["alloc"]["0x4242424242424242424242424242424242424242"]["storage"]
            ["0x0000000000000000000000000000000000000000000000000000000000000022"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let storage = node
        .query_storage(DEPOSIT, slot, BlockId::Number(0))
        .unwrap();
    assert_eq!(storage.value, U256::from_be_bytes(expected.0));
    let code = futures::executor::block_on(node.get_code_async(DEPOSIT, BlockId::Hash(head.hash)))
        .unwrap();
    let code_hex = devnet.genesis["alloc"]["0x4242424242424242424242424242424242424242"]["code"]
        .as_str()
        .unwrap();
    assert_eq!(
        code.value.as_ref(),
        alloy_primitives::hex::decode(code_hex).unwrap()
    );
    let account =
        futures::executor::block_on(node.query_account_async(DEPOSIT, BlockId::Latest)).unwrap();
    assert_eq!(
        account.value.code_hash,
        alloy_primitives::keccak256(&code.value)
    );

    // A contract call through the network: the deposit contract's root of an empty deposit
    // tree (checked against anvil on the same genesis in tests/call_contracts.rs).
    let request = |selector: &str| CallRequest {
        to: Some(DEPOSIT),
        data: alloy_primitives::hex::decode(selector).unwrap().into(),
        ..CallRequest::default()
    };
    let root = node.call(request("c5f2892f"), BlockId::Latest).unwrap();
    assert!(root.value.success, "{root:?}");
    assert_eq!(
        B256::from_slice(&root.value.return_data),
        B256::from_str("0xd70a234731285c6804c2a4f56711ddb8c82c99740f207854891028af34e27e5e")
            .unwrap()
    );
    assert_eq!(root.block, head);
    let gas =
        futures::executor::block_on(node.estimate_gas_async(request("c5f2892f"), BlockId::Latest))
            .unwrap();
    assert!(gas.value > 21_000 && gas.value <= 30_000_000, "{gas:?}");

    // An absent account is an answer (proven absence), not an error.
    let nobody = node
        .query_account(Address::repeat_byte(0x77), BlockId::Latest)
        .unwrap();
    assert!(!nobody.value.exists);
    assert_eq!(nobody.value.balance, U256::ZERO);

    // Typed errors.
    assert_eq!(
        node.query_account(DEPOSIT, BlockId::Number(5)),
        Err(NodeError::UnknownBlock { block: "5".into() })
    );
    assert!(matches!(
        node.update_head(&[0xc0, 0x01]),
        Err(NodeError::InvalidInput { .. })
    ));

    // Stop: every call says NotRunning, stopping again is fine.
    node.stop().unwrap();
    node.stop().unwrap();
    assert_eq!(node.status(), Err(NodeError::NotRunning));
    assert_eq!(
        node.query_account(DEPOSIT, BlockId::Latest),
        Err(NodeError::NotRunning)
    );
    assert_eq!(
        futures::executor::block_on(node.get_code_async(DEPOSIT, BlockId::Latest)),
        Err(NodeError::NotRunning)
    );
    assert_eq!(
        node.update_head(&devnet.header_rlp),
        Err(NodeError::NotRunning)
    );
    drop(node);

    // Restart on the same data dir: same id, the trusted head is remembered, answers again.
    let again = Node::start(config(&data_dir, devnet.bootnodes())).unwrap();
    let status = again.status().unwrap();
    let enr = |text: &str| portal_state::net::enr_from_base64(text).unwrap();
    let (before, after) = (enr(&first_enr), enr(&status.enr));
    assert_eq!(
        (before.node_id(), before.udp4_socket()),
        (after.node_id(), after.udp4_socket()),
        "same key, same port: peers still know us"
    );
    assert_eq!(
        status.newest_block,
        Some(0),
        "the head survived the restart"
    );
    let answer = again.query_account(DEPOSIT, BlockId::Latest).unwrap();
    assert_eq!(
        answer.value.code_hash,
        alloy_primitives::keccak256(&code.value)
    );
    again.stop().unwrap();
}

#[test]
fn bad_config_is_invalid_input_and_start_works_inside_another_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let mut bad = config(dir.path(), vec!["enr:not-an-enr".into()]);
    assert!(matches!(
        Node::start(bad.clone()),
        Err(NodeError::InvalidInput { reason }) if reason.contains("bootnode 0")
    ));
    bad.bootnodes.clear();
    bad.worker_threads = 0;
    assert!(matches!(
        Node::start(bad),
        Err(NodeError::InvalidInput { .. })
    ));

    // Called from a tokio worker (an app that is itself async): no nested-runtime panic, and
    // dropping the node there is fine too.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let path = dir.path().to_path_buf();
    rt.block_on(async move {
        let node = Node::start(config(&path, Vec::new())).unwrap();
        assert_eq!(node.status().unwrap().peers, 0);
        assert_eq!(
            node.query_account_async(DEPOSIT, BlockId::Latest).await,
            Err(NodeError::NoTrustedHeader)
        );
        drop(node);
    });
}
