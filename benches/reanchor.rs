//! Re-anchoring a slice to each new root (issue #14; BENCHMARKS.md, "#14 re-anchoring").
//!
//! `cargo bench --bench reanchor` builds a trie of `PORTAL_STATE_REANCHOR_ACCOUNTS` random
//! account keys (default 100,000; account-sized leaves) with alloy-trie's `HashBuilder`, seeds
//! two stores with the slice of a range covering 1/64 and 1/1024 of the key space (random,
//! non-aligned offsets), then runs 50 blocks of ~600 changes (60 % modifies, 20 % inserts,
//! 20 % deletes). Each block's diff is the builder's proofs at the new root of the changed keys
//! (absence proofs for the deleted), cut to the nodes whose paths meet the store's range (what
//! the range routing of #14 part 1 delivers). It prints, per store: the CPU time of
//! `ContentStore::reanchor` per block (this thread's CPU time, `CLOCK_THREAD_CPUTIME_ID`; one
//! core: the store is single-threaded), the diff bytes received and nodes added per block,
//! and the counted bytes and file size after 50 blocks with the anchor window at K = 16.
//! Under `cargo test --all-targets` (no `--bench`) it runs 5,000 accounts and 5 blocks,
//! checking a key of each range at the head.

use alloy_primitives::{keccak256, Bytes, B256, U256};
use alloy_trie::proof::ProofRetainer;
use alloy_trie::{HashBuilder, Nibbles};
use portal_state::content::ContentId;
use portal_state::proof::KeyRange;
use portal_state::store::{ContentStore, Reanchor, StoreConfig};
use std::collections::{BTreeMap, HashMap};

type Trie = BTreeMap<B256, Vec<u8>>;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn key(&mut self) -> B256 {
        keccak256(self.next().to_be_bytes())
    }
    fn account(&mut self) -> Vec<u8> {
        let bytes: Vec<u8> = (0..70).map(|_| self.next() as u8).collect();
        alloy_rlp::encode(Bytes::from(bytes))
    }
}

/// This thread's CPU time in nanoseconds (`CLOCK_THREAD_CPUTIME_ID`: exact, and not counting
/// the time other processes on the shared machine take the core).
fn cpu_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec for the call to write; the clock id is a constant.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(rc, 0, "clock_gettime");
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

/// The root and the retained nodes (path → RLP) for `targets`.
fn oracle(trie: &Trie, targets: &[B256]) -> (B256, HashMap<Nibbles, Bytes>) {
    let paths: Vec<Nibbles> = targets.iter().map(Nibbles::unpack).collect();
    let mut hb = HashBuilder::default().with_proof_retainer(ProofRetainer::new(paths));
    for (key, value) in trie {
        hb.add_leaf(Nibbles::unpack(key), value);
    }
    let root = hb.root();
    (
        root,
        hb.take_proof_nodes().into_inner().into_iter().collect(),
    )
}

/// The hashed nodes (as a witness holds them) whose paths meet `range`.
fn in_range(nodes: &HashMap<Nibbles, Bytes>, range: &KeyRange) -> Vec<Bytes> {
    nodes
        .iter()
        .filter(|(p, n)| (p.is_empty() || n.len() >= 32) && range.meets_prefix(p))
        .map(|(_, n)| n.clone())
        .collect()
}

fn range_of(first: B256, fraction: u64) -> KeyRange {
    let width = U256::MAX / U256::from(fraction);
    let last = U256::from_be_bytes(first.0).wrapping_add(width);
    KeyRange::new(first, B256::from(last.to_be_bytes::<32>()))
}

struct Follower {
    name: &'static str,
    range: KeyRange,
    store: ContentStore,
    cpu_ns: Vec<u64>,
    diff_bytes: Vec<u64>,
    added: Vec<u64>,
}

fn mean_p99(values: &[u64]) -> (f64, u64) {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let mean = sorted.iter().sum::<u64>() as f64 / sorted.len().max(1) as f64;
    let p99 = sorted[(sorted.len() * 99 / 100).min(sorted.len() - 1)];
    (mean, p99)
}

fn main() {
    let bench = std::env::args().any(|arg| arg == "--bench");
    let accounts: usize = if bench {
        std::env::var("PORTAL_STATE_REANCHOR_ACCOUNTS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(100_000)
    } else {
        5_000
    };
    let (blocks, changes) = if bench { (50u64, 600usize) } else { (5, 100) };
    let window = 16;
    let mut rng = Rng(0x14a);
    let mut trie = Trie::new();
    while trie.len() < accounts {
        let key = rng.key();
        trie.insert(key, rng.account());
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let config = StoreConfig {
        node_id: ContentId::from([0x14; 32]),
        capacity_bytes: 1 << 34,
    };
    let mut followers: Vec<Follower> = [("1/64", 64), ("1/1024", 1024)]
        .into_iter()
        .map(|(name, fraction)| {
            let path = dir.path().join(format!("{fraction}.sqlite3"));
            let mut store = ContentStore::open(&path, config).expect("open");
            store.set_anchor_window(window);
            Follower {
                name,
                range: range_of(rng.key(), fraction),
                store,
                cpu_ns: Vec::new(),
                diff_bytes: Vec::new(),
                added: Vec::new(),
            }
        })
        .collect();

    // Seed: the proofs of every key of each range and of its two ends.
    let targets: Vec<B256> = followers
        .iter()
        .flat_map(|f| {
            trie.keys()
                .filter(|k| f.range.contains(k))
                .copied()
                .chain([f.range.first, f.range.last])
        })
        .collect();
    let (mut root, nodes) = oracle(&trie, &targets);
    for f in followers.iter_mut() {
        let seed = in_range(&nodes, &f.range);
        let outcome = f.store.seed_anchor(root, 0, f.range, &seed).expect("seed");
        assert!(matches!(outcome, Reanchor::Done(_)), "{outcome:?}");
        let keys = trie.keys().filter(|k| f.range.contains(k)).count();
        println!(
            "reanchor/{}: seeded with {keys} keys of {accounts}, {} nodes, {} bytes counted",
            f.name,
            f.store.trie_node_count().expect("count"),
            f.store.stored_bytes()
        );
    }

    for block in 1..=blocks {
        let existing: Vec<B256> = trie.keys().copied().collect();
        let mut changed = Vec::with_capacity(changes);
        for i in 0..changes {
            match i % 5 {
                0..=2 => {
                    let key = existing[(rng.next() % existing.len() as u64) as usize];
                    trie.insert(key, rng.account());
                    changed.push(key);
                }
                3 => {
                    let key = rng.key();
                    trie.insert(key, rng.account());
                    changed.push(key);
                }
                _ => {
                    let key = existing[(rng.next() % existing.len() as u64) as usize];
                    trie.remove(&key);
                    changed.push(key);
                }
            }
        }
        let (new_root, nodes) = oracle(&trie, &changed);
        for f in followers.iter_mut() {
            let diff = in_range(&nodes, &f.range);
            f.diff_bytes
                .push(diff.iter().map(|n| n.len() as u64).sum::<u64>());
            let before = cpu_ns();
            let outcome = f
                .store
                .reanchor(root, new_root, block, &diff)
                .expect("reanchor");
            f.cpu_ns.push(cpu_ns() - before);
            let Reanchor::Done(stats) = outcome else {
                panic!("{} block {block}: {outcome:?}", f.name)
            };
            f.added.push(stats.nodes_added);
        }
        root = new_root;
    }
    for f in followers {
        // A key of the range answers at the head, proving what the trie holds.
        let key = trie
            .keys()
            .find(|k| f.range.contains(k))
            .copied()
            .unwrap_or(f.range.first);
        let witness = f
            .store
            .anchored_witness(root, &key)
            .expect("read")
            .expect("answerable at the head");
        alloy_trie::proof::verify_proof(
            root,
            Nibbles::unpack(key),
            trie.get(&key).cloned(),
            witness.nodes(),
        )
        .expect("a valid proof at the head");
        let (cpu_mean, cpu_p99) = mean_p99(&f.cpu_ns);
        let (diff_mean, diff_p99) = mean_p99(&f.diff_bytes);
        let (added_mean, added_p99) = mean_p99(&f.added);
        let (anchors, nodes) = (
            f.store.anchors().expect("anchors").len(),
            f.store.trie_node_count().expect("count"),
        );
        let (counted, path) = (f.store.stored_bytes(), f.store.path().to_path_buf());
        // The file after close: the WAL checkpointed into it.
        f.store.close().expect("close");
        let file = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        println!(
            "reanchor/{}: {blocks} blocks of {changes} changes over {accounts} accounts: \
             cpu per re-anchor mean {:.0} us (p99 {:.0} us); diff received mean {:.0} B \
             (p99 {diff_p99} B); nodes added mean {added_mean:.1} (p99 {added_p99}); \
             after {blocks} blocks at K = {window}: {anchors} anchors, {nodes} nodes, \
             {counted} bytes counted, file {file} B after close",
            f.name,
            cpu_mean / 1e3,
            cpu_p99 as f64 / 1e3,
            diff_mean,
        );
    }
    if !bench {
        println!("reanchor/smoke: every re-anchoring completed, keys answer at the head");
    }
}
