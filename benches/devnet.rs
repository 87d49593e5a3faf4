//! The main job, measured from outside: the real `portal-state devnet` binary, spawned as a
//! process and talked to over HTTP the way a wallet or `cast` would.
//!
//! `cargo bench --bench devnet` (the release binary): 16 storage nodes on the embedded mainnet
//! genesis; prints the time from spawning `devnet` to its JSON-RPC endpoint answering, the
//! bridge's push throughput as the devnet reports it, and `eth_getBalance` latency over 2,000
//! sequential requests on one kept-alive connection (random genesis accounts, each a verified
//! lookup through the light node), then throughput with 4 connections at once. Under
//! `cargo test` it runs a smoke version (4 nodes, Sepolia, 50 requests) with the test build.

#[path = "../tests/support/mod.rs"]
mod support;

use portal_state::proof::GenesisAlloc;
use rand::seq::SliceRandom;
use serde_json::json;
use std::time::{Duration, Instant};
use support::cli::{Process, Rpc};
use support::repo_file;

const BIN: &str = env!("CARGO_BIN_EXE_portal-state");

fn full_run() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

/// The number after `prefix` in `line` (e.g. "in 80305 ms" with prefix "in ").
fn number_after(line: &str, prefix: &str, suffix: &str) -> Option<f64> {
    let rest = line.split(prefix).nth(1)?;
    rest.split(suffix).next()?.trim().parse().ok()
}

fn main() {
    let (chain, nodes, requests) = if full_run() {
        ("mainnet", "16", 2000)
    } else {
        ("sepolia", "4", 50)
    };
    let spawned = Instant::now();
    let (devnet, addr) = Process::devnet(
        BIN,
        &["--chain", chain, "--nodes", nodes, "--exit-after", "3600"],
        Duration::from_secs(900),
    );
    let serving = spawned.elapsed();
    let mut rpc = Rpc::connect(addr);
    assert_eq!(rpc.call("eth_blockNumber", json!([])), "0x0");
    println!(
        "devnet/start_to_serving_ms: {} ({chain}, {nodes} storage nodes)",
        serving.as_millis()
    );
    let push = devnet
        .seen
        .iter()
        .find(|l| l.starts_with("bridge: ") && l.contains("items/s"))
        .cloned()
        .expect("the devnet reports its push");
    let items = number_after(&push, "bridge: ", " items").unwrap_or(0.0);
    let push_ms = number_after(&push, "pushed in ", " ms").unwrap_or(0.0);
    println!(
        "devnet/bridge_items_per_s: {:.0} ({items} items in {push_ms} ms)",
        items / (push_ms / 1e3).max(1e-9)
    );

    let alloc = GenesisAlloc::from_json(
        &std::fs::read_to_string(repo_file(&format!("data/genesis/{chain}.json"))).unwrap(),
    )
    .unwrap();
    let accounts: Vec<String> = alloc.iter().map(|(a, _)| a.to_string()).collect();
    let mut rng = rand::thread_rng();
    let mut latencies = Vec::with_capacity(requests);
    let started = Instant::now();
    for _ in 0..requests {
        let address = accounts.choose(&mut rng).unwrap();
        let asked = Instant::now();
        let balance = rpc.call("eth_getBalance", json!([address, "latest"]));
        latencies.push(asked.elapsed());
        assert!(balance.as_str().is_some_and(|b| b.starts_with("0x")));
    }
    let total = started.elapsed();
    latencies.sort();
    println!(
        "devnet/rpc_get_balance_ms: p50 {:.2} p99 {:.2} max {:.2} over {requests} sequential requests ({:.0} req/s, one connection)",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
        requests as f64 / total.as_secs_f64()
    );

    let per_thread = requests / 4;
    let started = Instant::now();
    let mut latencies: Vec<Duration> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let accounts = &accounts;
                s.spawn(move || {
                    let mut rpc = Rpc::connect(addr);
                    let mut rng = rand::thread_rng();
                    let mut latencies = Vec::with_capacity(per_thread);
                    for _ in 0..per_thread {
                        let address = accounts.choose(&mut rng).unwrap();
                        let asked = Instant::now();
                        rpc.call("eth_getBalance", json!([address, "latest"]));
                        latencies.push(asked.elapsed());
                    }
                    latencies
                })
            })
            .collect();
        threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect()
    });
    let total = started.elapsed();
    latencies.sort();
    println!(
        "devnet/rpc_get_balance_concurrent: {:.0} req/s, p50 {:.2} ms p99 {:.2} ms max {:.2} ms ({} requests on 4 connections)",
        latencies.len() as f64 / total.as_secs_f64(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
        latencies.len()
    );
}
