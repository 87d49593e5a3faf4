//! Bridge throughput: the mainnet genesis state (8,893 accounts) pushed by `bridge::push` into
//! a loopback network of real nodes, each with its own socket and SQLite file.
//!
//! `cargo bench --bench bridge`: 16 storage nodes, every item. Under `cargo test` it runs a
//! small smoke version (8 nodes, 300 items). Prints items/s of the push itself, then how many
//! copies the nodes hold once their own gossip settles, and the share of a sample of items a
//! light node then finds, verified. With `PORTAL_STATE_BENCH_NO_GOSSIP=1` the storage nodes do
//! not re-offer what they receive, which measures the bridge's own offers alone.

mod common;

use common::{full_run, mainnet_header_rlp, repo_file, start_network};
use portal_state::bridge::{genesis_content, push};
use portal_state::network::{Network, NetworkConfig};
use portal_state::proof::BlockHeader;
use std::path::Path;
use std::time::{Duration, Instant};

fn config(dir: &Path, capacity: u64) -> NetworkConfig {
    let mut c = NetworkConfig::loopback(dir, 1);
    c.capacity_bytes = capacity;
    // The nodes' own re-offering multiplies the work of a push by the copies it makes; this
    // measures the bridge alone.
    if std::env::var_os("PORTAL_STATE_BENCH_NO_GOSSIP").is_some() {
        c.overlay.gossip_fanout = 0;
    }
    c
}

async fn run() {
    let (n_nodes, n_items, n_lookups) = if full_run() {
        (16, usize::MAX, 300)
    } else {
        (8, 300, 30)
    };
    let dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let mut content = genesis_content(&repo_file("data/genesis/mainnet.json")).unwrap();
    content.items.truncate(n_items);
    let items = content.items;
    println!(
        "bridge/genesis_content: {} items built and verified in {:.2} s",
        items.len(),
        t.elapsed().as_secs_f64()
    );
    let header_rlp = mainnet_header_rlp();
    let header = BlockHeader::decode(&header_rlp).unwrap();
    assert_eq!(header.state_root, content.state_root);
    let total_bytes: u64 = items
        .iter()
        .map(|c| (c.key().encode().len() + c.value().encode().len()) as u64)
        .sum();
    // Room for about 8 copies of everything across the network, as in the network bench.
    let capacity = total_bytes * 8 / n_nodes as u64;

    let nodes = start_network(dir.path(), n_nodes, capacity, &header_rlp, config).await;
    let boot_enr = nodes[0].enr();
    let mut bc = config(&dir.path().join("bridge"), 0);
    bc.bootnodes = vec![boot_enr.clone()];
    let bridge = Network::start(bc).await.unwrap();
    bridge.add_trusted_header(&header_rlp).unwrap();

    let mut batches = 0;
    let report = push(&bridge, items.clone(), |_| batches += 1).await;
    println!(
        "bridge/push: {} items ({:.1} MB) into {n_nodes} nodes in {:.2} s = {:.0} items/s; \
         {} offers accepted, {} already there, {} declined, {} unplaced, {} retried, \
         {} failed peers, {} lookups, {batches} progress reports",
        report.items,
        total_bytes as f64 / 1e6,
        report.elapsed.as_secs_f64(),
        report.items_per_sec,
        report.accepted,
        report.already_stored,
        report.declined,
        report.unplaced,
        report.retried,
        report.failed_peers,
        report.lookups,
    );
    let settle = Instant::now();
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
        "bridge/settled: {last} copies stored ({:.1} per item), gossip settled {:.1} s after the push",
        last as f64 / items.len() as f64,
        settle.elapsed().as_secs_f64()
    );

    let mut lc = config(&dir.path().join("light"), 0);
    lc.bootnodes = vec![boot_enr];
    let light = Network::start(lc).await.unwrap();
    light.add_trusted_header(&header_rlp).unwrap();
    let step = (items.len() / n_lookups).max(1);
    let mut found = 0;
    let mut tried = 0;
    for item in items.iter().step_by(step).take(n_lookups) {
        tried += 1;
        if let Ok(f) = light.find_content(*item.key()).await {
            if f.content.proven() == item.proven() {
                found += 1;
            }
        }
    }
    println!("bridge/found_after_push: {found}/{tried} sampled items found and verified");
    assert_eq!(found, tried, "every pushed item is findable");

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
