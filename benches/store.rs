//! Store benchmarks (plain `std::time::Instant`, no harness) against DESIGN.md's budgets of
//! ≥ 20,000 inserts/s and ≥ 100,000 reads/s, on real verified content: the account witnesses of
//! a synthetic 100,000-account state, built by [`build_witnesses`] and each passed through
//! [`verify`], exactly what a bridge offers and a node stores.
//!
//! `cargo bench --bench store` runs it at 10,000 and 100,000 items (about a minute; set
//! `PORTAL_STATE_BENCH_SIZES=10000` for one size). Under `cargo test --all-targets` (no
//! `--bench` in the arguments) it runs a 1,000-item smoke version that checks what it reads,
//! so the test suite stays fast and the bench cannot rot.
//!
//! Each line reads `store/<what>_<size>: <rate>/s (...)`. The store is configured as a 1 GiB
//! node (room for every item, so inserts do not prune, except in `insert_full`), in a
//! temporary directory on the same disk as the build.

use alloy_primitives::{Address, U256};
use portal_state::content::{ContentId, ContentKey};
use portal_state::proof::{build_witnesses, verify, GenesisAccount, GenesisAlloc, VerifiedContent};
use portal_state::store::{ContentStore, PutOutcome, StoreConfig};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Accounts in the synthetic state: the largest size measured.
const STATE_ACCOUNTS: u64 = 100_000;
/// Items in the smoke run under `cargo test`.
const SMOKE_ITEMS: usize = 1_000;
/// Items per transaction in the batch measurement (what a bridge would use).
const BATCH: usize = 1_000;
/// Random reads per read measurement (at least as many as there are items).
const READS: usize = 100_000;

/// `count` accounts with distinct addresses and balances: a state whose witnesses have the
/// shape of a real one of that size (about 5 nodes, ~2.3 KB).
fn synthetic_alloc(count: u64) -> GenesisAlloc {
    (0..count)
        .map(|i| {
            let mut bytes = [0u8; 20];
            bytes[12..].copy_from_slice(&(i + 1).to_be_bytes());
            (
                Address::from(bytes),
                GenesisAccount::with_balance(U256::from(i + 1)),
            )
        })
        .collect()
}

/// A small deterministic generator (splitmix64), for shuffling and picking keys.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0; the modulo bias is far below what a benchmark can see).
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Every account item of the state, verified, in random order: `build_witnesses` returns them
/// in trie (content-id) order, and inserting in index order would hide the random index writes
/// that real gossip causes.
fn verified_items(accounts: u64) -> Vec<VerifiedContent> {
    let start = Instant::now();
    let built = build_witnesses(&synthetic_alloc(accounts));
    let built_in = start.elapsed();
    let start = Instant::now();
    let mut items: Vec<VerifiedContent> = built
        .items
        .into_iter()
        .map(|(key, value)| verify(key, value).expect("a built witness verifies"))
        .collect();
    let verified_in = start.elapsed();
    let mut rng = Rng(accounts);
    for i in (1..items.len()).rev() {
        items.swap(i, rng.below(i + 1));
    }
    let bytes: usize = items
        .iter()
        .map(|c| c.key().encode().len() + c.value().encode().len())
        .sum();
    println!(
        "store/items: {} verified account items, {:.0} bytes each on average \
         (built in {:.2} s, verified in {:.2} s)",
        items.len(),
        bytes as f64 / items.len() as f64,
        built_in.as_secs_f64(),
        verified_in.as_secs_f64()
    );
    items
}

fn report(name: &str, count: usize, elapsed: Duration) {
    println!(
        "{name}: {:.0}/s ({count} in {:.3} s)",
        count as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
}

/// All measurements at one size: `items` are the first `items.len()` of the shuffled state.
fn bench_size(items: &[VerifiedContent], reads: usize, smoke: bool) {
    let n = items.len();
    let label = if n.is_multiple_of(1000) {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    let config = StoreConfig {
        node_id: ContentId::from([0x5a; 32]),
        capacity_bytes: 1 << 30,
    };

    // One transaction per put: how the overlay stores each offer it accepts.
    let path = dir.path().join("single.sqlite3");
    let mut store = ContentStore::open(&path, config).expect("open");
    let start = Instant::now();
    for c in items {
        let outcome = store.put(c).expect("put");
        assert_eq!(outcome, PutOutcome::Stored { pruned: 0 });
    }
    report(&format!("store/insert_single_{label}"), n, start.elapsed());
    println!(
        "store/insert_single_{label}: {:.0} MB of content, file {:.0} MB",
        store.stored_bytes() as f64 / 1e6,
        std::fs::metadata(&path).map_or(0.0, |m| m.len() as f64 / 1e6)
    );

    // Random reads by key over the whole store, decoded (what `query_account` needs) and
    // raw (what serving a peer needs).
    let mut rng = Rng(n as u64);
    let keys: Vec<ContentKey> = items.iter().map(|c| *c.key()).collect();
    let start = Instant::now();
    for _ in 0..reads {
        let i = rng.below(n);
        let value = store.get(&keys[i]).expect("get");
        if smoke {
            assert_eq!(value.as_ref(), Some(items[i].value()));
        } else {
            black_box(value.expect("stored"));
        }
    }
    report(&format!("store/get_{label}"), reads, start.elapsed());
    let start = Instant::now();
    for _ in 0..reads {
        let i = rng.below(n);
        let bytes = store.get_encoded(&keys[i]).expect("get_encoded");
        if smoke {
            assert_eq!(bytes, Some(items[i].value().encode()));
        } else {
            black_box(bytes.expect("stored"));
        }
    }
    report(
        &format!("store/get_encoded_{label}"),
        reads,
        start.elapsed(),
    );

    // Reopening: what a restarted app pays before it can answer.
    store.close().expect("close");
    let start = Instant::now();
    let store = ContentStore::open(&path, config).expect("reopen");
    println!(
        "store/open_{label}: {:.2} ms ({} items)",
        start.elapsed().as_secs_f64() * 1e3,
        store.len()
    );
    assert_eq!(store.len(), n as u64);
    drop(store);

    // Batches of 1,000 per transaction: how a bridge or a bulk load stores.
    let mut store =
        ContentStore::open(&dir.path().join("batch.sqlite3"), config).expect("open batch");
    let start = Instant::now();
    for batch in items.chunks(BATCH) {
        let outcomes = store.put_batch(batch).expect("put_batch");
        assert!(outcomes.iter().all(PutOutcome::is_stored));
    }
    report(&format!("store/insert_batch_{label}"), n, start.elapsed());
    // Every item, as the store counts them (slices: shared nodes once).
    let all_bytes = store.stored_bytes();
    drop(store);

    // A full store: a third of what is offered fits, so puts prune farthest first as they go
    // and, once the radius has shrunk, refuse what lies beyond it.
    let full_config = StoreConfig {
        capacity_bytes: all_bytes / 3,
        ..config
    };
    let mut store =
        ContentStore::open(&dir.path().join("full.sqlite3"), full_config).expect("open full");
    let (mut pruned, mut refused) = (0u64, 0u64);
    let start = Instant::now();
    for c in items {
        match store.put(c).expect("put") {
            PutOutcome::Stored { pruned: p } => pruned += p,
            PutOutcome::OutsideRadius => refused += 1,
            _ => {}
        }
    }
    let elapsed = start.elapsed();
    report(&format!("store/insert_full_{label}"), n, elapsed);
    println!("store/insert_full_{label}: {pruned} pruned, {refused} outside the radius");
    assert!(store.stored_bytes() <= full_config.capacity_bytes);
    assert!(pruned > 0 && refused > 0);
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without it.
    let bench = std::env::args().any(|arg| arg == "--bench");
    if !bench {
        let items = verified_items(SMOKE_ITEMS as u64);
        bench_size(&items, SMOKE_ITEMS, true);
        println!("store/smoke: every value read back matched");
        return;
    }
    let sizes: Vec<usize> = std::env::var("PORTAL_STATE_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10_000, 100_000]);
    let largest = sizes.iter().copied().max().unwrap_or(0) as u64;
    let items = verified_items(largest.max(STATE_ACCOUNTS));
    for n in sizes {
        let n = n.min(items.len());
        // The first n of the shuffled state: a random sample of it.
        bench_size(&items[..n], READS.max(n), false);
    }
}
