//! What the benches share: the full/smoke switch and the repository's real data.
#![allow(dead_code)]

use portal_state::network::{Network, NetworkConfig};
use std::path::Path;

/// `cargo bench` passes `--bench`; under `cargo test --all-targets` a bench runs once, briefly,
/// as a smoke test that it still works.
pub fn full_run() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// A text file of the repository.
pub fn repo_file(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The mainnet genesis header's RLP, from `data/genesis/genesis-headers.yaml`.
pub fn mainnet_header_rlp() -> Vec<u8> {
    let yaml: serde_yaml::Value =
        serde_yaml::from_str(&repo_file("data/genesis/genesis-headers.yaml")).unwrap();
    let entry = &yaml["networks"][0];
    assert_eq!(entry["network"].as_str(), Some("mainnet"));
    alloy_primitives::hex::decode(entry["header_rlp"].as_str().unwrap()).unwrap()
}

/// Starts `n` nodes made by `config(dir, capacity)` under `root`, all bootstrapped from the
/// first and trusting `header_rlp`.
pub async fn start_network(
    root: &Path,
    n: usize,
    capacity: u64,
    header_rlp: &[u8],
    config: impl Fn(&Path, u64) -> NetworkConfig,
) -> Vec<Network> {
    let boot = Network::start(config(&root.join("n0"), capacity))
        .await
        .unwrap();
    let boot_enr = boot.enr();
    let mut nodes = vec![boot];
    for i in 1..n {
        let mut c = config(&root.join(format!("n{i}")), capacity);
        c.bootnodes = vec![boot_enr.clone()];
        nodes.push(Network::start(c).await.unwrap());
    }
    for node in &nodes {
        node.overlay()
            .bootstrap(std::slice::from_ref(&boot_enr))
            .await;
        node.add_trusted_header(header_rlp).unwrap();
    }
    nodes
}
