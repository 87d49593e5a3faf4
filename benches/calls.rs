//! `eth_call` on a light node (capacity 0) over a loopback network: rounds of lookups, items
//! fetched and latency (p50, p99) per call, fetching in rounds (now) and item by item (as
//! before #17 part 3, `StateClient::with_sequential_calls`).
//!
//! `cargo bench --bench calls`: 16 storing nodes, a bridge pushing two states (the real
//! mainnet proofs of WETH at block 19,000,000, and the state of `tests/support/calls.rs`: WETH's
//! real code with twelve holders and readers of many slots), 200 calls of each kind. Under
//! `cargo test` it runs a small smoke version (6 nodes, 5 calls each).

#[path = "../tests/support/calls.rs"]
#[allow(dead_code)]
mod calls;
mod common;

use alloy_primitives::{Address, Bytes};
use common::{full_run, repo_file, start_network};
use portal_state::bridge::{proofs_file_content, push};
use portal_state::client::{BlockId, CallRequest, StateClient};
use portal_state::network::{Network, NetworkConfig};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn config(dir: &Path, capacity: u64) -> NetworkConfig {
    let mut c = NetworkConfig::loopback(dir, 1);
    c.capacity_bytes = capacity;
    c
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// How a call is made.
#[derive(Clone, Copy)]
enum Mode {
    /// Item by item, as the EVM asks (before).
    Sequential,
    /// In rounds, each call on a new client (no code known).
    RoundsCold,
    /// In rounds, on one client (the code of earlier calls known): a wallet's steady state.
    Rounds,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Sequential => "item by item (before)",
            Mode::RoundsCold => "rounds, code not known",
            Mode::Rounds => "rounds, code known",
        }
    }
}

/// `calls` calls of `request` at `block` in `mode`; prints one line.
async fn measure(
    light: &Arc<Network>,
    name: &str,
    request: &CallRequest,
    block: BlockId,
    mode: Mode,
    calls: usize,
) {
    let shared = StateClient::new(light.clone());
    // One call first: the state is in place (receivers store what they accepted a moment
    // after the push returns), and for `Rounds` the code is known.
    let deadline = Instant::now() + Duration::from_secs(10);
    let first = loop {
        match shared.call_counted(request, block).await {
            Ok((first, _)) => break first,
            Err(e) if Instant::now() < deadline => {
                eprintln!("{name}: {e}; again");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("{name}: {e}"),
        }
    };
    assert!(first.value.success, "{name}: {:?}", first.value);
    let mut times = Vec::with_capacity(calls);
    let (mut rounds, mut items, mut messages) = (0, 0, 0);
    for _ in 0..calls {
        let client = match mode {
            Mode::Sequential => StateClient::new(light.clone()).with_sequential_calls(true),
            Mode::RoundsCold => StateClient::new(light.clone()),
            Mode::Rounds => shared.clone(),
        };
        let started = Instant::now();
        let (answer, fetches) = client.call_counted(request, block).await.unwrap();
        times.push(started.elapsed().as_secs_f64() * 1e3);
        assert_eq!(
            answer.value, first.value,
            "{name}: the same answer every time"
        );
        rounds = fetches.rounds;
        items = fetches.items;
        messages += answer.stats.messages;
    }
    times.sort_by(f64::total_cmp);
    println!(
        "calls/{name}, {}: {rounds} rounds, {items} items, {:.1} messages; p50 {:.2} ms, p99 {:.2} ms ({calls} calls)",
        mode.name(),
        messages as f64 / calls as f64,
        percentile(&times, 0.5),
        percentile(&times, 0.99),
    );
}

async fn run() {
    let (n_nodes, calls) = if full_run() { (16, 200) } else { (6, 5) };
    let dir = tempfile::tempdir().unwrap();
    let mainnet = proofs_file_content(&repo_file("tests/data/proofs/weth-19000000.json")).unwrap();
    let (built_header, built_items) = calls::state();
    let nodes = start_network(dir.path(), n_nodes, 50_000_000, &mainnet.0.rlp, config).await;
    let mut bc = config(&dir.path().join("bridge"), 0);
    bc.bootnodes = vec![nodes[0].enr()];
    let bridge = Network::start(bc).await.unwrap();
    bridge.add_trusted_header(&mainnet.0.rlp).unwrap();
    bridge.add_trusted_header(&built_header).unwrap();
    for node in &nodes {
        node.add_trusted_header(&built_header).unwrap();
    }
    for items in [mainnet.1, built_items] {
        let report = push(&bridge, items, |_| {}).await;
        assert_eq!(report.unplaced, 0, "{report:?}");
    }
    let mut lc = config(&dir.path().join("light"), 0);
    lc.bootnodes = vec![nodes[n_nodes / 2].enr()];
    let light = Arc::new(Network::start(lc).await.unwrap());
    light.add_trusted_header(&mainnet.0.rlp).unwrap();
    light.add_trusted_header(&built_header).unwrap();

    let at_19m = BlockId::Number(19_000_000);
    let at_0 = BlockId::Number(0);
    let call = |to: Address, data: Bytes| CallRequest {
        to: Some(to),
        data,
        ..CallRequest::default()
    };
    let decimals = CallRequest {
        from: Some(calls::WETH),
        ..call(calls::WETH, calls::decimals())
    };
    let balance_of = call(calls::WETH, calls::balance_of(calls::holder(3)));
    let balance_listed = CallRequest {
        access_list: vec![(calls::WETH, vec![calls::balance_slot(calls::holder(3))])],
        ..balance_of.clone()
    };
    let cases: [(&str, CallRequest, BlockId); 5] = [
        ("WETH decimals() (mainnet proofs)", decimals, at_19m),
        ("WETH balanceOf()", balance_of, at_0),
        (
            "WETH balanceOf() with its access list",
            balance_listed,
            at_0,
        ),
        (
            "12 slots of one contract",
            call(calls::SUM_SLOTS, Bytes::new()),
            at_0,
        ),
        (
            "10 WETH balances through STATICCALL",
            call(calls::BALANCES_VIEW, Bytes::new()),
            at_0,
        ),
    ];
    for (name, request, block) in &cases {
        for mode in [Mode::Sequential, Mode::RoundsCold, Mode::Rounds] {
            if matches!(mode, Mode::Sequential) && !request.access_list.is_empty() {
                continue; // before, there was no access list to pass
            }
            measure(&light, name, request, *block, mode, calls).await;
        }
    }

    light.stop().await;
    bridge.stop().await;
    for node in nodes {
        node.stop().await;
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}
