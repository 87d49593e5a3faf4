//! Shared helpers of the network tests: real genesis data and local networks of real nodes.
#![allow(dead_code)]

use alloy_primitives::{hex, Address, Bytes, B256, U256};
use alloy_rlp::Encodable;
use portal_state::network::{Network, NetworkConfig};
use portal_state::proof::{build_witnesses, GenesisAlloc, StateWitnesses};
use std::path::Path;
use std::time::Duration;

pub use super::repo_file;

/// The genesis header RLP of `network` ("mainnet", "sepolia", "holesky").
pub fn genesis_header_rlp(network: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(repo_file("data/genesis/genesis-headers.yaml")).unwrap();
    let yaml: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let entry = yaml["networks"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|n| n["network"].as_str() == Some(network))
        .unwrap();
    hex::decode(entry["header_rlp"].as_str().unwrap()).unwrap()
}

/// Every witness of `network`'s genesis state.
pub fn genesis_witnesses(network: &str) -> StateWitnesses {
    let text = std::fs::read_to_string(repo_file(&format!("data/genesis/{network}.json"))).unwrap();
    build_witnesses(&GenesisAlloc::from_json(&text).unwrap())
}

/// Logs to the test output when `RUST_LOG` is set (e.g. `RUST_LOG=portal_state=debug`).
pub fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// A node config on 127.0.0.1 with test-friendly timings.
pub fn test_config(dir: &Path, capacity_bytes: u64) -> NetworkConfig {
    let mut config = NetworkConfig::loopback(dir, 1);
    config.capacity_bytes = capacity_bytes;
    config.request_timeout = Duration::from_secs(2);
    config
}

/// `n` nodes on loopback: the first is the bootnode, the others join through it. Each has its
/// own socket and SQLite file under `root`. After all have joined, every node bootstraps once
/// more, so the early joiners learn of the later ones.
pub async fn start_network(root: &Path, n: usize, capacity_bytes: u64) -> Vec<Network> {
    init_logs();
    let mut nodes = Vec::with_capacity(n);
    let boot = Network::start(test_config(&root.join("node-0"), capacity_bytes))
        .await
        .unwrap();
    let boot_enr = boot.enr();
    nodes.push(boot);
    for i in 1..n {
        let mut config = test_config(&root.join(format!("node-{i}")), capacity_bytes);
        config.bootnodes = vec![boot_enr.clone()];
        nodes.push(Network::start(config).await.unwrap());
    }
    for node in &nodes {
        node.overlay()
            .bootstrap(std::slice::from_ref(&boot_enr))
            .await;
    }
    nodes
}

/// Trust `header_rlp` on every node.
pub fn trust_everywhere(nodes: &[Network], header_rlp: &[u8]) {
    for node in nodes {
        node.add_trusted_header(header_rlp).unwrap();
    }
}

/// Wait until `f` is true, polling; false if `limit` passed first.
pub async fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    f()
}

/// Place `items` on the nodes closest to each (as a bridge does, from `nodes[0]`) and wait
/// until every item is stored on at least `copies` nodes.
pub async fn seed(
    nodes: &[Network],
    items: &[portal_state::proof::VerifiedContent],
    copies: usize,
) {
    let report = nodes[0].overlay().place(items.to_vec(), copies).await;
    assert_eq!(report.unplaced, 0, "{report:?}");
    let placed = eventually(Duration::from_secs(20), || {
        items.iter().all(|item| {
            nodes
                .iter()
                .filter(|n| {
                    n.overlay()
                        .with_store(|s| s.contains(item.key()).unwrap_or(false))
                        .unwrap_or(false)
                })
                .count()
                >= copies
        })
    })
    .await;
    assert!(placed, "every item stored on {copies} nodes");
}

/// A header RLP with the given number and state root (other fields zero): a block the network
/// holds no state for.
pub fn synthetic_header(number: u64, state_root: B256) -> Vec<u8> {
    let mut fields = Vec::new();
    B256::ZERO.encode(&mut fields); // parent hash
    B256::ZERO.encode(&mut fields); // ommers hash
    Address::ZERO.encode(&mut fields); // beneficiary
    state_root.encode(&mut fields);
    B256::ZERO.encode(&mut fields); // transactions root
    B256::ZERO.encode(&mut fields); // receipts root
    Bytes::from(vec![0u8; 256]).encode(&mut fields); // logs bloom
    U256::ZERO.encode(&mut fields); // difficulty
    number.encode(&mut fields);
    30_000_000u64.encode(&mut fields); // gas limit
    0u64.encode(&mut fields); // gas used
    1_700_000_000u64.encode(&mut fields); // timestamp
    Bytes::new().encode(&mut fields); // extra data
    B256::ZERO.encode(&mut fields); // mix hash
    alloy_primitives::B64::ZERO.encode(&mut fields); // nonce
    let mut out = Vec::new();
    alloy_rlp::Header {
        list: true,
        payload_length: fields.len(),
    }
    .encode(&mut out);
    out.extend_from_slice(&fields);
    out
}
