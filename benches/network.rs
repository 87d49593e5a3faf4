//! Lookups on a loopback network of real nodes: round trips, latency, messages and bytes per
//! verified account query, and the success rate (budgets in DESIGN.md).
//!
//! `cargo bench --bench network`: 64 storage nodes, the mainnet genesis pushed in by a bridge,
//! 1,000 random account lookups from a light node. Under `cargo test` it runs a small smoke
//! version (8 nodes, 50 lookups).

mod common;

use common::{full_run, mainnet_header_rlp, repo_file, start_network};
use portal_state::content::ContentKey;
use portal_state::network::{Network, NetworkConfig};
use portal_state::proof::{self, build_witnesses, BlockHeader, GenesisAlloc, VerifiedContent};
use std::path::Path;
use std::time::{Duration, Instant};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn config(dir: &Path, capacity: u64) -> NetworkConfig {
    let mut c = NetworkConfig::loopback(dir, 1);
    c.capacity_bytes = capacity;
    c
}

/// What holding every message we send to the spec's rules for senders costs
/// (`wire::check_outgoing`, which the overlay runs on each one): per message, over a mix of the
/// answers and requests a node sends most — a type-0 Pong, a Nodes of 3 real ENRs, an Accept of
/// 17 codes, a FindNodes of 3 distances, an inline Content of 1,000 bytes.
fn spec_check_cost(nodes: &[Network], items: &[VerifiedContent]) {
    use portal_state::wire::{
        check_outgoing, Accept, AcceptCode, Content, FindNodes, Message, Nodes, PingExtension,
        PingPayload, Pong, ProtocolVersion,
    };
    let v2 = ProtocolVersion::V2;
    let capabilities = PingExtension::Capabilities {
        client_info: portal_state::overlay::CLIENT_INFO
            .as_bytes()
            .to_vec()
            .into(),
        data_radius: alloy_primitives::U256::MAX,
        capabilities: vec![0, 1, 65535],
    };
    let enrs = nodes
        .iter()
        .take(3)
        .map(|n| portal_state::net::enr_to_rlp(&n.enr()).into())
        .collect();
    let value = items
        .iter()
        .map(|c| c.value().encode())
        .find(|v| v.len() <= 1000)
        .unwrap_or_else(|| vec![0; 1000]);
    let messages: Vec<Vec<u8>> = [
        Message::Pong(Pong {
            enr_seq: 1,
            payload: PingPayload::Extension {
                payload_type: 0,
                payload: capabilities.encode().into(),
            },
        }),
        Message::Nodes(Nodes { total: 1, enrs }),
        Message::Accept(Accept {
            connection_id: 1,
            codes: vec![AcceptCode::Accepted; 17],
        }),
        Message::FindNodes(FindNodes {
            distances: vec![254, 255, 256],
        }),
        Message::Content(Content::Content(value.into())),
    ]
    .iter()
    .map(|m| m.encode(v2))
    .collect();
    let rounds = if full_run() { 200_000 } else { 2_000 };
    let started = Instant::now();
    for _ in 0..rounds {
        for m in &messages {
            std::hint::black_box(check_outgoing(std::hint::black_box(m), v2)).unwrap();
        }
    }
    let per_message = started.elapsed().as_secs_f64() * 1e9 / (rounds * messages.len()) as f64;
    println!(
        "network/spec_check: {per_message:.0} ns per outgoing message checked ({} messages, {} B on average)",
        rounds * messages.len(),
        messages.iter().map(Vec::len).sum::<usize>() / messages.len()
    );
}

async fn run() {
    let (n_nodes, n_items, n_lookups) = if full_run() {
        (64, usize::MAX, 1000)
    } else {
        (8, 200, 50)
    };
    let dir = tempfile::tempdir().unwrap();
    let alloc = GenesisAlloc::from_json(&repo_file("data/genesis/mainnet.json")).unwrap();
    let state = build_witnesses(&alloc);
    let header_rlp = mainnet_header_rlp();
    let header = BlockHeader::decode(&header_rlp).unwrap();
    let items: Vec<VerifiedContent> = state
        .items
        .iter()
        .take(n_items)
        .map(|(k, v)| proof::verify(*k, v.clone()).unwrap())
        .collect();
    let total_bytes: u64 = items
        .iter()
        .map(|c| (c.key().encode().len() + c.value().encode().len()) as u64)
        .sum();
    // Room for about 8 copies of everything across the network: radii shrink, placement matters.
    let capacity = total_bytes * 8 / n_nodes as u64;

    let started = Instant::now();
    let nodes = start_network(dir.path(), n_nodes, capacity, &header_rlp, config).await;
    let boot_enr = nodes[0].enr();
    let avg_peers = nodes.iter().map(|n| n.status().peers).sum::<usize>() as f64 / n_nodes as f64;
    println!(
        "network/setup: {n_nodes} nodes in {:.1} s, {avg_peers:.1} peers each",
        started.elapsed().as_secs_f64()
    );

    spec_check_cost(&nodes, &items);

    let mut bc = config(&dir.path().join("bridge"), 0);
    bc.bootnodes = vec![boot_enr.clone()];
    let bridge = Network::start(bc).await.unwrap();
    bridge.add_trusted_header(&header_rlp).unwrap();
    let started = Instant::now();
    let push_config = portal_state::bridge::PushConfig {
        peers_per_item: 4,
        ..Default::default()
    };
    let report =
        portal_state::bridge::push_with(&bridge, items.clone(), &push_config, |_| {}).await;
    println!(
        "network/bridge_placement: unplaced {}, accepted {}, declined {}, retried {}, lookups {}",
        report.unplaced, report.accepted, report.declined, report.retried, report.lookups
    );
    let mut last = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let stored: u64 = nodes.iter().map(|n| n.status().stored_items).sum();
        if stored == last {
            break;
        }
        last = stored;
    }
    println!(
        "network/bridge_push: {} items ({:.1} MB) in {:.1} s, {last} copies stored ({:.1} per item)",
        items.len(),
        total_bytes as f64 / 1e6,
        started.elapsed().as_secs_f64(),
        last as f64 / items.len() as f64
    );

    let mut lc = config(&dir.path().join("light"), 0);
    lc.bootnodes = vec![boot_enr.clone()];
    let light = Network::start(lc).await.unwrap();
    light.add_trusted_header(&header_rlp).unwrap();

    let mut latencies = Vec::new();
    let mut rounds = Vec::new();
    let mut messages = Vec::new();
    let mut bytes = Vec::new();
    let mut ok = 0;
    let mut failed: Vec<ContentKey> = Vec::new();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..n_lookups {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let key: ContentKey = *items[(seed % items.len() as u64) as usize].key();
        let t = Instant::now();
        if let Ok(found) = light.find_content(key).await {
            latencies.push(t.elapsed().as_secs_f64() * 1e3);
            rounds.push(found.stats.round_trips as f64);
            messages.push(found.stats.messages as f64);
            bytes.push((found.stats.bytes_sent + found.stats.bytes_received) as f64);
            ok += 1;
        } else {
            failed.push(key);
        }
    }
    for v in [&mut latencies, &mut rounds, &mut messages, &mut bytes] {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    println!(
        "network/lookup_success: {ok}/{n_lookups} verified ({:.1}%)",
        100.0 * ok as f64 / n_lookups as f64
    );
    println!(
        "network/lookup_round_trips: p50 {} p99 {} max {}",
        percentile(&rounds, 0.5),
        percentile(&rounds, 0.99),
        rounds.last().copied().unwrap_or(0.0)
    );
    println!(
        "network/lookup_latency_ms: p50 {:.2} p99 {:.2} max {:.2}",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(0.0)
    );
    println!(
        "network/lookup_messages: mean {:.2} p99 {} (budget 2*log2({n_nodes}) = {:.0})",
        mean(&messages),
        percentile(&messages, 0.99),
        2.0 * (n_nodes as f64).log2()
    );
    println!(
        "network/lookup_bytes: mean {:.0} p99 {:.0}",
        mean(&bytes),
        percentile(&bytes, 0.99)
    );
    let unstored = failed
        .iter()
        .filter(|k| {
            !nodes.iter().any(|n| {
                n.overlay()
                    .with_store(|s| s.contains(k).unwrap_or(false))
                    .unwrap_or(false)
            })
        })
        .count();
    println!(
        "network/lookup_failures: {} failed, {unstored} of them stored on no node",
        failed.len()
    );
    let copies: Vec<usize> = items
        .iter()
        .map(|c| {
            nodes
                .iter()
                .filter(|n| {
                    n.overlay()
                        .with_store(|s| s.contains(c.key()).unwrap_or(false))
                        .unwrap_or(false)
                })
                .count()
        })
        .collect();
    let none = copies.iter().filter(|&&c| c == 0).count();
    println!(
        "network/copies_per_item: min {} max {} ({none} items on no node)",
        copies.iter().min().unwrap_or(&0),
        copies.iter().max().unwrap_or(&0)
    );
    let sum = |f: &dyn Fn(&portal_state::overlay::TrafficCounters) -> u64| -> u64 {
        nodes
            .iter()
            .chain([&bridge])
            .map(|n| f(n.overlay().counters()))
            .sum()
    };
    use std::sync::atomic::Ordering::Relaxed;
    println!(
        "network/offers: {} items rate limited, {} offers failed, {} invalid items",
        sum(&|c| c.offers_rate_limited.load(Relaxed)),
        sum(&|c| c.offers_failed.load(Relaxed)),
        sum(&|c| c.invalid_items.load(Relaxed))
    );
    let mut radii: Vec<f64> = nodes
        .iter()
        .map(|n| {
            let r = n.status().radius.0;
            // As a fraction of the largest ring distance, 2^255.
            let top: alloy_primitives::U256 = r >> 192;
            top.to::<u64>() as f64 / (1u64 << 63) as f64
        })
        .collect();
    radii.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let held: Vec<u64> = nodes.iter().map(|n| n.status().stored_items).collect();
    println!(
        "network/radius_fraction: min {:.4} median {:.4} max {:.4}; items per node min {} max {}",
        radii[0],
        radii[radii.len() / 2],
        radii[radii.len() - 1],
        held.iter().min().unwrap(),
        held.iter().max().unwrap()
    );
    let empty: Vec<_> = nodes
        .iter()
        .filter(|n| n.status().stored_items == 0)
        .map(|n| n.node_id())
        .collect();
    let known_by: Vec<usize> = empty
        .iter()
        .map(|id| {
            nodes
                .iter()
                .filter(|n| n.overlay().with_table(|t| t.get(*id).is_some()))
                .count()
        })
        .collect();
    println!(
        "network/empty_nodes: {} hold nothing; known by {:?} tables; bridge knows {} peers",
        empty.len(),
        known_by,
        bridge.status().peers
    );
    println!("network/state_root: {}", header.state_root);

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
