//! Beacon light-client benchmarks (plain `std::time::Instant`, no harness) on the real mainnet
//! Deneb objects of portal-spec-tests: CPU per update verification (BLS aggregate verify of
//! ~500 signers plus the Merkle branches), bootstrap, decoding, and the bytes each object costs.
//!
//! Run with `cargo bench --bench beacon`. Under `cargo test --all-targets` it runs once, briefly.

use alloy_primitives::{b256, hex, B256};
use portal_state::beacon::json::{bootstrap_to_json, update_to_json};
use portal_state::beacon::portal::{
    bootstrap_from_content, update_from_content, updates_from_content, UpdateKind,
};
use portal_state::beacon::{ChainSpec, LightClientStore};
use std::hint::black_box;
use std::time::{Duration, Instant};

const DIR: &str = "tests/data/portal-spec-tests/tests/mainnet/beacon_chain/light_client/deneb";
const CHECKPOINT: B256 = b256!("33d75f8506929d950a6d9e43508e92e50a072a39978821900e3a2e261f80ddbf");
const NOW_SLOT: u64 = 10_250_000;

fn full_run() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn value(name: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(format!("{DIR}/{name}")).unwrap();
    let yaml: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    hex::decode(yaml["content_value"].as_str().unwrap()).unwrap()
}

/// Mean time of `op` over a window (at least 3 runs).
fn mean(mut op: impl FnMut()) -> Duration {
    let window = if full_run() {
        Duration::from_secs(3)
    } else {
        Duration::from_millis(1)
    };
    op(); // warm-up
    let start = Instant::now();
    let mut runs = 0u32;
    while runs < 3 || start.elapsed() < window {
        op();
        runs += 1;
    }
    start.elapsed() / runs
}

fn main() {
    let spec = ChainSpec::mainnet();
    let bootstrap_bytes = value("bootstrap.yaml");
    let updates_bytes = value("updates.yaml");
    let finality_bytes = value("finality_update.yaml");
    let optimistic_bytes = value("optimistic_update.yaml");
    let bootstrap = bootstrap_from_content(&spec, &bootstrap_bytes).unwrap();
    let updates = updates_from_content(&spec, &updates_bytes).unwrap();
    let finality = update_from_content(&spec, UpdateKind::Finality, &finality_bytes).unwrap();
    let optimistic = update_from_content(&spec, UpdateKind::Optimistic, &optimistic_bytes).unwrap();
    let fresh = LightClientStore::bootstrap(&spec, CHECKPOINT, &bootstrap).unwrap();
    let mut synced = fresh.clone();
    for u in &updates {
        synced.process_update(&spec, u, NOW_SLOT).unwrap();
    }

    println!("bytes (Portal content values: fork digest + SSZ):");
    println!("  bootstrap           {:>7} B", bootstrap_bytes.len());
    println!(
        "  updates (2 periods) {:>7} B ({} B per period)",
        updates_bytes.len(),
        updates_bytes.len() / 2
    );
    println!("  finality update     {:>7} B", finality_bytes.len());
    println!("  optimistic update   {:>7} B", optimistic_bytes.len());

    let json = |v: serde_json::Value| v.to_string().len();
    let finality_json = json(update_to_json(&spec, UpdateKind::Finality, &finality));
    let optimistic_json = json(update_to_json(&spec, UpdateKind::Optimistic, &optimistic));
    println!("bytes (beacon REST API JSON bodies):");
    println!(
        "  bootstrap           {:>7} B",
        json(bootstrap_to_json(&spec, &bootstrap))
    );
    println!(
        "  one period's update {:>7} B",
        json(update_to_json(&spec, UpdateKind::Full, &updates[0]))
    );
    println!("  finality update     {finality_json:>7} B");
    println!("  optimistic update   {optimistic_json:>7} B");
    // At the head, a round every slot asks for the newest finality and optimistic updates
    // (bodies only; HTTP headers add ~100 B each), and one period update per 27.3 hours.
    let per_hour = 300 * (finality_json + optimistic_json);
    println!(
        "  at the head, one round per slot: {:.1} MB/hour",
        per_hour as f64 / 1e6
    );
    println!(
        "light-client state as saved (SSZ): {} B",
        ssz::Encode::as_ssz_bytes(&synced).len()
    );

    let t = mean(|| {
        black_box(bootstrap_from_content(&spec, black_box(&bootstrap_bytes)).unwrap());
    });
    println!(
        "decode bootstrap (SSZ)            {:>9.3} ms",
        t.as_secs_f64() * 1e3
    );
    let t = mean(|| {
        black_box(LightClientStore::bootstrap(&spec, CHECKPOINT, black_box(&bootstrap)).unwrap());
    });
    println!(
        "verify bootstrap (hash + branch)  {:>9.3} ms",
        t.as_secs_f64() * 1e3
    );
    let participants = updates[0].sync_aggregate.participants();
    let t = mean(|| {
        fresh
            .validate_update(&spec, black_box(&updates[0]), NOW_SLOT)
            .unwrap();
    });
    println!(
        "verify period update ({participants} signers)  {:>9.3} ms",
        t.as_secs_f64() * 1e3
    );
    let t = mean(|| {
        synced
            .validate_update(&spec, black_box(&finality), NOW_SLOT)
            .unwrap();
    });
    println!(
        "verify finality update ({} signers) {:>8.3} ms",
        finality.sync_aggregate.participants(),
        t.as_secs_f64() * 1e3
    );
    let t = mean(|| {
        synced
            .validate_update(&spec, black_box(&optimistic), NOW_SLOT)
            .unwrap();
    });
    println!(
        "verify optimistic update ({} signers) {:>6.3} ms",
        optimistic.sync_aggregate.participants(),
        t.as_secs_f64() * 1e3
    );
}
