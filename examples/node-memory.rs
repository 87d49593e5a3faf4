//! Resident memory of a started light node, idle and under 20 queries/s (DESIGN.md budget:
//! ≤ 30 MB), then the latency of `call` (p50/p99). The devnet runs in a child process (the `devnet-for-bindings` example, path as the
//! first argument) so that only the node counts in this process' VmRSS.
//!
//! `cargo run --release --example node-memory -- target/debug/examples/devnet-for-bindings`

use portal_state::client::BlockId;
use portal_state::node::{Config, Node};
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn vm_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// 101 calls; prints the first (cold) and p50/p99 of the other 100, and any failures.
fn call_latency(what: &str, node: &Node, request: &portal_state::node::CallRequest) {
    let (mut latencies, mut failed) = (Vec::new(), Vec::new());
    for _ in 0..101 {
        let start = Instant::now();
        match node.call(request.clone(), BlockId::Latest) {
            Ok(answer) => assert!(answer.value.success),
            Err(e) => failed.push(e.to_string()),
        }
        latencies.push(start.elapsed());
    }
    let first = latencies.remove(0);
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    // One stalled call in 100 does not show in p99: count the slow ones too.
    let over_1s = latencies
        .iter()
        .filter(|l| **l >= Duration::from_secs(1))
        .count();
    println!(
        "call get_deposit_root(), {what}: first {:.1} ms, then p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, {over_1s} took ≥ 1 s (100 calls, failures included); VmRSS {} KB; {} failed {:?}",
        first.as_secs_f64() * 1e3,
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        latencies.last().map_or(0.0, |l| l.as_secs_f64() * 1e3),
        vm_rss_kb(),
        failed.len(),
        failed.first()
    );
}

fn main() {
    let devnet_bin = std::env::args()
        .nth(1)
        .expect("usage: node-memory <devnet-for-bindings binary>");
    let repo = env!("CARGO_MANIFEST_DIR");
    let mut devnet = Command::new(devnet_bin)
        .current_dir(repo)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("devnet");
    let mut line = String::new();
    std::io::BufReader::new(devnet.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("devnet output");
    let info: serde_json::Value = serde_json::from_str(&line).expect("devnet JSON");
    let bootnodes = info["bootnodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect::<Vec<String>>();
    let node_bootnodes = bootnodes.clone();
    let header_rlp =
        alloy_primitives::hex::decode(info["header_rlp"].as_str().unwrap()).expect("header");

    let before = vm_rss_kb();
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(Config {
        data_dir: dir.path().to_path_buf(),
        bootnodes,
        ..Config::default()
    })
    .expect("node");
    node.update_head(&header_rlp).expect("head");
    std::thread::sleep(Duration::from_secs(5));
    let idle = vm_rss_kb();

    // 20 queries/s for 15 s: accounts of the genesis allocation, round robin.
    let genesis: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{repo}/data/genesis/holesky.json")).unwrap(),
    )
    .unwrap();
    let addresses: Vec<alloy_primitives::Address> = genesis["alloc"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.parse().unwrap())
        .collect();
    let start = Instant::now();
    let (mut ok, mut peak) = (0, idle);
    for i in 0..300 {
        let due = start + Duration::from_millis(50 * i as u64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        if node
            .query_account(addresses[i % addresses.len()], BlockId::Latest)
            .is_ok()
        {
            ok += 1;
        }
        peak = peak.max(vm_rss_kb());
    }
    let loaded = vm_rss_kb();
    println!(
        "VmRSS: before start {} KB, idle {} KB, after 300 queries at 20/s {} KB (peak {} KB); {ok}/300 answered in {:.1} s; stored {} bytes",
        before,
        idle,
        loaded,
        peak,
        start.elapsed().as_secs_f64(),
        node.status().unwrap().stored_bytes
    );

    // `call` latency: get_deposit_root() of the holesky deposit contract, 100 times, on this
    // node (which keeps what falls in its radius, so later calls find some state locally) and
    // on a light node storing nothing (every call fetches and verifies all its state).
    let request = portal_state::node::CallRequest {
        to: Some(
            "0x4242424242424242424242424242424242424242"
                .parse()
                .unwrap(),
        ),
        data: vec![0xc5, 0xf2, 0x89, 0x2f].into(),
        ..Default::default()
    };
    call_latency("default config", &node, &request);
    let light_dir = tempfile::tempdir().unwrap();
    let light = Node::start(Config {
        data_dir: light_dir.path().to_path_buf(),
        bootnodes: node_bootnodes,
        storage_capacity_bytes: 0,
        ..Config::default()
    })
    .expect("light node");
    light.update_head(&header_rlp).expect("head");
    call_latency("light node (stores nothing)", &light, &request);
    light.stop().unwrap();
    node.stop().unwrap();
    drop(devnet.stdin.take());
    let _ = devnet.wait();
}
