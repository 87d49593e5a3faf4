//! A holesky devnet on loopback for the Kotlin and Python binding tests: a few storage nodes,
//! the holesky genesis state pushed into them by a bridge, exactly as the Rust tests build one.
//!
//! Prints one line of JSON on stdout once the state is placed:
//! `{"min_copies": 3, "bootnodes": ["enr:…", …], "header_rlp": "0x…", "number": 0,
//!   "hash": "0x…", "state_root": "0x…"}` (`min_copies`: the fewest storage nodes any item is
//!   on),
//! `"beacon_api"`: the URL of a beacon REST API on 127.0.0.1 serving the real mainnet Deneb
//! light-client objects of portal-spec-tests (`tests/support/beacon_data.rs`), for the bindings' light
//! client tests (checkpoint `0x33d75f85…80ddbf`);
//! then serves until its stdin reaches EOF (the test closes it, or dies), and stops.
//!
//! The network tests (`scripts/network-tests.sh`) run it in a network namespace: there
//! `PORTAL_DEVNET_IP` is the address the nodes bind (default 127.0.0.1), `PORTAL_DEVNET_NODES`
//! the number of storage nodes (default 6), `PORTAL_DEVNET_COPIES` the nodes each item is
//! placed on (default 3), and the stdin line `kill N` stops the last `N`
//! storage nodes at once (answered with `{"killed": N, "alive": M}`).
//!
//! With `--follow-anvil` it is instead a devnet following a real anvil (`PORTAL_STATE_ANVIL`,
//! as the Rust tests start it: `tests/support/anvil_devnet.rs`), for the binding tests of
//! `watch`: the first line is `{"bootnodes": […], "anvil_url": …, "number": 1, "hash": …,
//! "header_rlp": "0x…"}` (block 1, pushed); then each stdin line `send 0xADDRESS WEI` makes
//! anvil's first dev account send `WEI` to the address, and once that block is in the network
//! is answered with `{"number": N, "hash": …, "header_rlp": "0x…", "balance": "WEI"}` (anvil's
//! own balance of the address at N, decimal), for the test to trust with `update_head`.
//! `--follow-anvil --watch-latency N` measures instead (BENCHMARKS.md, "#14 watch"): a light
//! `Node` watches an account, N transfers to it are mined one after another, and the time
//! from each transfer's submission (anvil mines it at once) to the listener's event is printed
//! as mean, p50 and p99.
//!
//! Test tooling only: nothing here is part of the library's API.

#[path = "../tests/support/beacon_data.rs"]
mod beacon_data;

// The Rust tests' own harness, shared (not every part of it is used here).
#[allow(dead_code)]
#[path = "../tests/support/anvil.rs"]
mod anvil;
#[allow(dead_code)]
#[path = "../tests/support/anvil_devnet.rs"]
mod anvil_devnet;
#[path = "devnet-for-bindings/watch.rs"]
mod watch_devnet;

/// A test tool's path from its variable (`PORTAL_STATE_ANVIL`): what `tests/support` has.
fn tool(variable: &str) -> std::path::PathBuf {
    std::env::var_os(variable)
        .filter(|p| !p.is_empty())
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| panic!("{variable} is not set (scripts/install-test-deps.sh)"))
}

/// Polls `probe` until it returns `Some`, for at most `limit`.
fn wait_for<T>(what: &str, limit: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

use portal_state::bridge::{genesis_content, push_with, PushConfig};
use portal_state::network::{Network, NetworkConfig};
use portal_state::proof::BlockHeader;
use std::io::BufRead;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

const NODES: usize = 6;

fn bind_ip() -> IpAddr {
    std::env::var("PORTAL_DEVNET_IP")
        .ok()
        .map(|ip| ip.parse().expect("PORTAL_DEVNET_IP: an IP address"))
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

fn node_count() -> usize {
    std::env::var("PORTAL_DEVNET_NODES")
        .ok()
        .map(|n| n.parse().expect("PORTAL_DEVNET_NODES: a number"))
        .unwrap_or(NODES)
}

fn holesky_header_rlp(repo: &Path) -> Vec<u8> {
    let text = std::fs::read_to_string(repo.join("data/genesis/genesis-headers.yaml"))
        .expect("data/genesis/genesis-headers.yaml");
    let yaml: serde_yaml::Value = serde_yaml::from_str(&text).expect("headers yaml");
    let entry = yaml["networks"]
        .as_sequence()
        .and_then(|n| n.iter().find(|n| n["network"].as_str() == Some("holesky")))
        .expect("holesky entry");
    alloy_primitives::hex::decode(entry["header_rlp"].as_str().expect("header_rlp"))
        .expect("header hex")
}

fn config(dir: &Path, capacity_bytes: u64) -> NetworkConfig {
    let mut config = NetworkConfig::loopback(dir, 1);
    config.bind = SocketAddr::new(bind_ip(), 0);
    config.capacity_bytes = capacity_bytes;
    config
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--follow-anvil") {
        return watch_devnet::run(&args[1..]);
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(holesky());
}

async fn holesky() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().expect("temp dir");
    let header_rlp = holesky_header_rlp(repo);
    let header = BlockHeader::decode(&header_rlp).expect("holesky header");
    let json = std::fs::read_to_string(repo.join("data/genesis/holesky.json")).expect("genesis");
    let content = genesis_content(&json).expect("holesky genesis content");
    assert_eq!(content.state_root, header.state_root);

    let mut nodes = vec![
        Network::start(config(&dir.path().join("node-0"), 50_000_000))
            .await
            .expect("bootnode"),
    ];
    let boot = nodes[0].enr();
    for i in 1..node_count() {
        let mut c = config(&dir.path().join(format!("node-{i}")), 50_000_000);
        c.bootnodes = vec![boot.clone()];
        nodes.push(Network::start(c).await.expect("node"));
    }
    for node in &nodes {
        node.overlay().bootstrap(std::slice::from_ref(&boot)).await;
        node.add_trusted_header(&header_rlp).expect("trust");
    }
    let mut c = config(&dir.path().join("bridge"), 0);
    c.bootnodes = vec![boot.clone()];
    let bridge = Network::start(c).await.expect("bridge");
    bridge.add_trusted_header(&header_rlp).expect("trust");
    let push_config = PushConfig {
        peers_per_item: std::env::var("PORTAL_DEVNET_COPIES")
            .ok()
            .map(|n| n.parse().expect("PORTAL_DEVNET_COPIES: a number"))
            .unwrap_or(PushConfig::default().peers_per_item),
        ..PushConfig::default()
    };
    let keys: Vec<_> = content.items.iter().map(|item| *item.key()).collect();
    let report = push_with(&bridge, content.items, &push_config, |_| {}).await;
    assert_eq!(report.unplaced, 0, "{report:?}");
    // Let the nodes' own gossip settle, so the state is where lookups will look.
    let mut last = 0;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now: u64 = nodes.iter().map(|n| n.status().stored_items).sum();
        if now == last {
            break;
        }
        last = now;
    }

    // The fewest storage nodes any item is on: what a test that kills nodes can rely on.
    let min_copies = keys
        .iter()
        .map(|key| {
            nodes
                .iter()
                .filter(|n| {
                    n.overlay()
                        .with_store(|s| s.contains(key).unwrap_or(false))
                        .unwrap_or(false)
                })
                .count()
        })
        .min()
        .unwrap_or(0);
    // beacon_data reads its vectors relative to the repository.
    std::env::set_current_dir(repo).expect("cd to the repository");
    let beacon = beacon_data::serve(beacon_data::objects());
    let out = serde_json::json!({
        "beacon_api": beacon.url,
        "min_copies": min_copies,
        "bootnodes": nodes.iter().map(|n| n.enr().to_base64()).collect::<Vec<_>>(),
        "header_rlp": format!("0x{}", alloy_primitives::hex::encode(&header_rlp)),
        "number": header.number,
        "hash": header.hash.to_string(),
        "state_root": header.state_root.to_string(),
    });
    println!("{out}");

    // Serve until stdin closes, obeying `kill N`; reading blocks, so on the blocking pool.
    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
    tokio::task::spawn_blocking(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    while let Some(line) = lines.recv().await {
        if let Some(n) = line.trim().strip_prefix("kill ") {
            let n: usize = n.trim().parse().expect("kill N");
            let doomed: Vec<Network> = (0..n.min(nodes.len() - 1))
                .filter_map(|_| nodes.pop())
                .collect();
            futures::future::join_all(doomed.iter().map(|node| node.stop())).await;
            println!(
                "{}",
                serde_json::json!({"killed": doomed.len(), "alive": nodes.len()})
            );
        }
    }
    bridge.stop().await;
    for node in nodes {
        node.stop().await;
    }
}
