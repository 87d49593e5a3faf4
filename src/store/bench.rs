//! The store's benchmark, for now an ignored unit test: run it in release mode with
//!
//! ```text
//! cargo test --release --lib -- --ignored store_bench --nocapture
//! ```
//!
//! TODO(bench): move this to `benches/store.rs` (`harness = false`) once the proof module's
//! builder (`crate::proof::build_witnesses` over a synthetic 100k-account alloc) can hand a
//! bench real `VerifiedContent`; until then only code inside the crate can make the synthetic
//! items below, through the `pub(crate)` constructor.
//!
//! Budgets (DESIGN.md, "Budgets"): at least 20,000 inserts/s and 100,000 reads/s. Values are
//! account witnesses of 500-4,500 bytes, like mainnet's.

use super::tests::{random_item, Rng};
use super::{ContentStore, PutOutcome, StoreConfig};
use crate::content::{ContentId, ContentKey};
use crate::proof::VerifiedContent;
use std::time::{Duration, Instant};

/// Items are generated in chunks of this many, outside the timed sections, to bound memory.
const CHUNK: usize = 10_000;

#[test]
#[ignore = "benchmark: run with --release -- --ignored store_bench --nocapture"]
fn store_bench() {
    // PORTAL_STATE_BENCH_SIZES=10000 runs one size only (for quick comparisons).
    let sizes: Vec<usize> = std::env::var("PORTAL_STATE_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10_000, 100_000]);
    for n in sizes {
        bench_size(n);
    }
}

fn bench_size(n: usize) {
    let label = format!("{}k", n / 1000);
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        node_id: ContentId::from([0x5a; 32]),
        // Room for everything: this measures inserting, not pruning.
        capacity_bytes: 1 << 40,
    };
    let mut rng = Rng::new(n as u64);

    // One transaction per put, as the overlay stores offered content.
    let mut store = ContentStore::open(&dir.path().join("single.sqlite3"), config).unwrap();
    let mut keys: Vec<ContentKey> = Vec::with_capacity(n);
    let mut elapsed = Duration::ZERO;
    for chunk in chunks(&mut rng, n) {
        let start = Instant::now();
        for c in &chunk {
            assert_eq!(store.put(c).unwrap(), PutOutcome::Stored { pruned: 0 });
        }
        elapsed += start.elapsed();
        keys.extend(chunk.iter().map(|c| *c.key()));
    }
    report(&format!("store/insert_{label}"), n, elapsed, "inserts/s");
    let mb = store.stored_bytes() as f64 / 1e6;
    println!("store/insert_{label}: {mb:.0} MB of content stored");

    // Random gets by key, decoded, over the whole store.
    let reads = n.max(100_000);
    let start = Instant::now();
    for _ in 0..reads {
        let key = &keys[rng.range(0, n as u64 - 1) as usize];
        assert!(store.get(key).unwrap().is_some());
    }
    report(
        &format!("store/read_{label}"),
        reads,
        start.elapsed(),
        "reads/s",
    );

    // The same reads without decoding: what serving a peer costs.
    let start = Instant::now();
    for _ in 0..reads {
        let key = &keys[rng.range(0, n as u64 - 1) as usize];
        assert!(store.get_encoded(key).unwrap().is_some());
    }
    report(
        &format!("store/read_raw_{label}"),
        reads,
        start.elapsed(),
        "reads/s",
    );

    // Reads after a reopen (cold page cache inside SQLite; the OS cache stays warm).
    store.close().unwrap();
    let start = Instant::now();
    let store = ContentStore::open(&dir.path().join("single.sqlite3"), config).unwrap();
    let opened = start.elapsed();
    println!(
        "store/open_{label}: {:.1} ms to reopen ({} items)",
        opened.as_secs_f64() * 1e3,
        store.len()
    );
    drop(store);

    // Bridges: one transaction per 1,000 puts.
    let mut store = ContentStore::open(&dir.path().join("batch.sqlite3"), config).unwrap();
    let mut elapsed = Duration::ZERO;
    for chunk in chunks(&mut rng, n) {
        let start = Instant::now();
        for batch in chunk.chunks(1000) {
            store.put_batch(batch).unwrap();
        }
        elapsed += start.elapsed();
    }
    report(
        &format!("store/insert_batch_{label}"),
        n,
        elapsed,
        "inserts/s",
    );
    drop(store);

    // A full store: every put prunes now and then (capacity = a third of what is offered).
    let full_config = StoreConfig {
        capacity_bytes: (n as u64) * 2_600 / 3,
        ..config
    };
    let mut store = ContentStore::open(&dir.path().join("full.sqlite3"), full_config).unwrap();
    let (mut elapsed, mut pruned, mut refused) = (Duration::ZERO, 0u64, 0u64);
    for chunk in chunks(&mut rng, n) {
        let start = Instant::now();
        for c in &chunk {
            match store.put(c).unwrap() {
                PutOutcome::Stored { pruned: p } => pruned += p,
                PutOutcome::OutsideRadius => refused += 1,
                _ => {}
            }
        }
        elapsed += start.elapsed();
    }
    report(&format!("store/insert_full_{label}"), n, elapsed, "puts/s");
    println!("store/insert_full_{label}: {pruned} pruned, {refused} outside the radius");
}

fn chunks(rng: &mut Rng, n: usize) -> impl Iterator<Item = Vec<VerifiedContent>> + '_ {
    (0..n).step_by(CHUNK).map(move |start| {
        (start..(start + CHUNK).min(n))
            .map(|_| random_item(rng, 500, 4_500))
            .collect()
    })
}

fn report(name: &str, count: usize, elapsed: Duration, unit: &str) {
    let rate = count as f64 / elapsed.as_secs_f64();
    println!(
        "{name}: {rate:.0} {unit} ({count} in {:.2} s)",
        elapsed.as_secs_f64()
    );
}
