//! Re-anchoring slices to each new root (issue #14), checked against alloy-trie's
//! `HashBuilder` + `ProofRetainer` (an independent trie implementation) as the oracle.
//!
//! A trie of clustered hashed keys (clusters share 5-20 nibbles, to force extensions) goes
//! through blocks of modifies, inserts that split leaves and extensions, and deletes that
//! collapse branches. Stores covering 1/64 and 1/1024 of the key space at non-aligned offsets
//! (one range wrapping the ring) are seeded from the oracle's proofs and re-anchored each
//! block from the proofs of the changed keys (absence proofs for deleted ones) that touch
//! their range. After each block every key of each range, the two ends and absent keys are
//! assembled from the store at the new root and compared with the oracle byte for byte; the
//! node table holds exactly the union of the kept anchors' slices (collection after K roots);
//! an omitted diff node is named as missing and a corrupt one refused, with nothing stored.

use alloy_primitives::{keccak256, Bytes, B256, U256};
use alloy_trie::proof::ProofRetainer;
use alloy_trie::{HashBuilder, Nibbles};
use portal_state::content::{AccountKey, ContentId, ContentKey, ContentValue};
use portal_state::proof::{build_witnesses, verify, GenesisAlloc, KeyRange};
use portal_state::store::{ContentStore, Reanchor, StoreConfig, StoreError, SCHEMA_VERSION};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::Path;

type Trie = BTreeMap<B256, Vec<u8>>;

/// splitmix64: a seeded generator, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn key(&mut self) -> B256 {
        keccak256(self.next().to_be_bytes())
    }
}

/// `base` with the nibbles from `shared` on replaced by random ones.
fn sharing(rng: &mut Rng, base: &B256, shared: usize) -> B256 {
    let mut nibbles = Nibbles::unpack(base).to_vec();
    let fresh = Nibbles::unpack(rng.key()).to_vec();
    nibbles[shared..].copy_from_slice(&fresh[shared..]);
    // Make sure it leaves the base at `shared` (else it is the base's own path).
    if shared < 64 && nibbles[shared] == Nibbles::unpack(base).to_vec()[shared] {
        nibbles[shared] ^= 1;
    }
    B256::from_slice(&Nibbles::from_nibbles(&nibbles).pack())
}

/// How leaf values are made: account-sized (never embedded) or 1-32 bytes (small leaves deep
/// in clusters are embedded in their parents).
#[derive(Clone, Copy)]
enum Values {
    AccountSized,
    Small,
}

fn value(rng: &mut Rng, values: Values) -> Vec<u8> {
    let len = match values {
        Values::AccountSized => 70 + rng.below(10),
        Values::Small => 1 + rng.below(32),
    };
    let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
    alloy_rlp::encode(Bytes::from(bytes))
}

/// The oracle: the root of `trie` and every retained node for `targets` (path → RLP).
fn oracle(trie: &Trie, targets: &[B256]) -> (B256, HashMap<Nibbles, Bytes>) {
    let paths: Vec<Nibbles> = targets.iter().map(Nibbles::unpack).collect();
    let mut hb = HashBuilder::default().with_proof_retainer(ProofRetainer::new(paths));
    for (key, value) in trie {
        hb.add_leaf(Nibbles::unpack(key), value);
    }
    let root = hb.root();
    let nodes = hb.take_proof_nodes().into_inner();
    (root, nodes.into_iter().collect())
}

/// The proof of `key` among the oracle's nodes: hashed nodes on its path, root first (what
/// `eth_getProof` gives).
fn proof_of(nodes: &HashMap<Nibbles, Bytes>, key: &B256) -> Vec<Bytes> {
    let path = Nibbles::unpack(key);
    let mut on_path: Vec<(&Nibbles, &Bytes)> = nodes
        .iter()
        .filter(|(p, n)| path.starts_with(p) && (p.is_empty() || n.len() >= 32))
        .collect();
    on_path.sort_by_key(|(p, _)| p.len());
    on_path.into_iter().map(|(_, n)| n.clone()).collect()
}

fn add(a: B256, b: U256) -> B256 {
    B256::from(U256::from_be_bytes(a.0).wrapping_add(b).to_be_bytes::<32>())
}

/// A range of `1/fraction` of the key space starting at `first`.
fn range_of(first: B256, fraction: u64) -> KeyRange {
    let width = U256::MAX / U256::from(fraction);
    KeyRange::new(first, add(first, width))
}

/// One store following one range, and what the oracle says its kept anchors' slices are.
struct Follower {
    name: &'static str,
    range: KeyRange,
    store: ContentStore,
    /// Node hashes of each kept anchor's slice, newest last.
    slices: VecDeque<HashSet<B256>>,
    /// Nodes added per block.
    added: Vec<u64>,
    /// Nodes derived by rule 2, over all blocks.
    derived: u64,
    /// Unchanged subtrees skipped, over all blocks.
    skipped: u64,
}

const WINDOW: usize = 4;

fn config() -> StoreConfig {
    StoreConfig {
        node_id: ContentId::from([0x11; 32]),
        capacity_bytes: 1 << 30,
    }
}

fn open(path: &Path) -> ContentStore {
    let mut store = ContentStore::open(path, config()).unwrap();
    store.set_anchor_window(WINDOW);
    store
}

/// The keys a follower checks at a root: every key of the range, the range's two ends, and a
/// few absent keys inside it (plus the block's deleted keys that were in it).
fn probes(trie: &Trie, range: &KeyRange, rng: &mut Rng, extra: &[B256]) -> Vec<B256> {
    let mut keys: Vec<B256> = trie.keys().filter(|k| range.contains(k)).copied().collect();
    keys.extend([range.first, range.last]);
    for _ in 0..4 {
        let offset = U256::from(rng.next()) << 180;
        keys.push(add(range.first, offset));
    }
    keys.extend(extra.iter().filter(|k| range.contains(k)));
    keys.sort();
    keys.dedup();
    keys
}

/// The slice of a range at the oracle's root: every node on the proofs of its probes.
fn slice_hashes(nodes: &HashMap<Nibbles, Bytes>, probes: &[B256]) -> HashSet<B256> {
    probes
        .iter()
        .flat_map(|k| proof_of(nodes, k))
        .map(|n| keccak256(&n))
        .collect()
}

/// Compare every probe assembled from the store at `root` with the oracle's proof, and the
/// node table with the union of the kept slices.
fn check(f: &Follower, root: B256, trie: &Trie, nodes: &HashMap<Nibbles, Bytes>, probes: &[B256]) {
    for key in probes {
        let expected = proof_of(nodes, key);
        let got = f.store.anchored_witness(root, key).unwrap();
        let got = got.unwrap_or_else(|| panic!("{}: {key} not answerable at {root}", f.name));
        assert_eq!(
            got.nodes(),
            &expected[..],
            "{}: key {key} at {root}",
            f.name
        );
        // An independent check of what the proof says.
        let expected_value = trie.get(key).cloned();
        alloy_trie::proof::verify_proof(root, Nibbles::unpack(key), expected_value, got.nodes())
            .unwrap_or_else(|e| panic!("{}: {key}: {e}", f.name));
    }
    let union: HashSet<B256> = f.slices.iter().flatten().copied().collect();
    assert_eq!(
        f.store.trie_node_count().unwrap(),
        union.len() as u64,
        "{}: the node table holds exactly the kept anchors' slices",
        f.name
    );
    assert_eq!(
        f.store.anchors().unwrap().len(),
        f.slices.len(),
        "{}",
        f.name
    );
}

/// Stored figures that must not move when a re-anchoring is refused.
fn figures(store: &ContentStore) -> (u64, u64, usize) {
    (
        store.stored_bytes(),
        store.trie_node_count().unwrap(),
        store.anchors().unwrap().len(),
    )
}

fn run(values: Values, keys: usize, blocks: u64, changes: usize, seed: u64) {
    let mut rng = Rng(seed);
    let mut trie = Trie::new();
    // A third of the keys in clusters of 2-40 that share 5-20 nibbles.
    while trie.len() < keys / 3 {
        let base = rng.key();
        let shared = 5 + rng.below(16);
        for _ in 0..2 + rng.below(39) {
            let extra = rng.below(4);
            let k = sharing(&mut rng, &base, shared + extra);
            trie.insert(k, value(&mut rng, values));
        }
    }
    while trie.len() < keys {
        let k = rng.key();
        trie.insert(k, value(&mut rng, values));
    }

    let dir = tempfile::tempdir().unwrap();
    let mut ranges = vec![
        ("1/64", range_of(rng.key(), 64)),
        ("1/1024", range_of(rng.key(), 1024)),
        // Starts a third of its width below the top of the ring: wraps.
        (
            "1/64 wrapping",
            range_of(
                B256::from((U256::MAX - U256::MAX / U256::from(192)).to_be_bytes::<32>()),
                64,
            ),
        ),
    ];
    assert!(ranges[2].1.wraps());
    let mut followers: Vec<Follower> = ranges
        .drain(..)
        .map(|(name, range)| Follower {
            name,
            range,
            store: open(
                &dir.path()
                    .join(format!("{}.sqlite3", name.replace('/', "_"))),
            ),
            slices: VecDeque::new(),
            added: Vec::new(),
            derived: 0,
            skipped: 0,
        })
        .collect();

    // Block 0: seed each store from the oracle's proofs of its range.
    let all_probes: Vec<Vec<B256>> = followers
        .iter()
        .map(|f| probes(&trie, &f.range, &mut rng, &[]))
        .collect();
    let targets: Vec<B256> = all_probes.iter().flatten().copied().collect();
    let (mut root, nodes) = oracle(&trie, &targets);
    for (f, probes) in followers.iter_mut().zip(&all_probes) {
        let seed_nodes: Vec<Bytes> = probes.iter().flat_map(|k| proof_of(&nodes, k)).collect();
        let outcome = f.store.seed_anchor(root, 0, f.range, &seed_nodes).unwrap();
        assert!(
            matches!(outcome, Reanchor::Done(_)),
            "{}: {outcome:?}",
            f.name
        );
        f.slices.push_back(slice_hashes(&nodes, probes));
        check(f, root, &trie, &nodes, probes);
    }

    let mut embedded = 0;
    for block in 1..=blocks {
        // The block's changes: modifies, inserts (fresh, and splitting an existing leaf or a
        // cluster's extension), deletes.
        let existing: Vec<B256> = trie.keys().copied().collect();
        let mut touched = HashSet::new();
        let mut deleted = Vec::new();
        let mut new_trie = trie.clone();
        while touched.len() < changes {
            let pick = existing[rng.below(existing.len())];
            let key = match rng.below(10) {
                0..=3 => pick,
                4..=5 => rng.key(),
                6..=7 => {
                    let shared = 1 + rng.below(12);
                    sharing(&mut rng, &pick, shared)
                }
                _ => {
                    if touched.insert(pick) {
                        new_trie.remove(&pick);
                        deleted.push(pick);
                    }
                    continue;
                }
            };
            if touched.insert(key) {
                new_trie.insert(key, value(&mut rng, values));
            }
        }
        let changed: Vec<B256> = touched.iter().copied().collect();
        let all_probes: Vec<Vec<B256>> = followers
            .iter()
            .map(|f| probes(&new_trie, &f.range, &mut rng, &deleted))
            .collect();
        let mut targets = changed.clone();
        targets.extend(all_probes.iter().flatten());
        let (new_root, nodes) = oracle(&new_trie, &targets);
        // The diff: proofs at the new root of every changed key (absence for the deleted).
        let diff: HashMap<Nibbles, Bytes> = changed
            .iter()
            .flat_map(|k| {
                let path = Nibbles::unpack(k);
                nodes
                    .iter()
                    .filter(move |(p, n)| path.starts_with(p) && (p.is_empty() || n.len() >= 32))
                    .map(|(p, n)| (*p, n.clone()))
            })
            .collect();

        for (f, probes) in followers.iter_mut().zip(&all_probes) {
            // What reaches this node: the diff nodes whose paths meet its range.
            let mine: Vec<(Nibbles, Bytes)> = diff
                .iter()
                .filter(|(p, _)| f.range.meets_prefix(p))
                .map(|(p, n)| (*p, n.clone()))
                .collect();
            let bytes: Vec<Bytes> = mine.iter().map(|(_, n)| n.clone()).collect();

            if block == 3 && mine.len() > 1 {
                // Omit one in-range node: named as missing, nothing stored.
                let (_, omitted) = &mine[rng.below(mine.len())];
                let before = figures(&f.store);
                let without: Vec<Bytes> = bytes.iter().filter(|n| *n != omitted).cloned().collect();
                let outcome = f.store.reanchor(root, new_root, block, &without).unwrap();
                let Reanchor::Missing(missing) = outcome else {
                    panic!("{}: omitted node not reported: {outcome:?}", f.name)
                };
                assert!(
                    missing.iter().any(|m| m.hash == keccak256(omitted)),
                    "{}: {missing:?}",
                    f.name
                );
                assert_eq!(figures(&f.store), before, "{}", f.name);
                assert!(f.store.anchor(new_root).unwrap().is_none());

                // A corrupt copy of a node (bytes matching no reference) is refused.
                let mut corrupt = omitted.to_vec();
                let at = corrupt.len() - 2;
                corrupt[at] ^= 0x01;
                let mut with_corrupt = bytes.clone();
                with_corrupt.push(Bytes::from(corrupt));
                let refused = f.store.reanchor(root, new_root, block, &with_corrupt);
                assert!(
                    matches!(refused, Err(StoreError::DiffRejected { .. })),
                    "{}: {refused:?}",
                    f.name
                );
                assert_eq!(figures(&f.store), before, "{}", f.name);
            }

            let outcome = f.store.reanchor(root, new_root, block, &bytes).unwrap();
            let Reanchor::Done(stats) = outcome else {
                panic!("{} block {block}: {outcome:?}", f.name)
            };
            f.added.push(stats.nodes_added);
            f.derived += stats.derived;
            f.skipped += stats.unchanged_subtrees;
            f.slices.push_back(slice_hashes(&nodes, probes));
            while f.slices.len() > WINDOW {
                f.slices.pop_front();
            }
            check(f, new_root, &new_trie, &nodes, probes);
            // Keys answered at the new root are the ones that are answerable, not more.
            let outside = add(f.range.last, U256::from(1));
            assert!(f
                .store
                .anchored_witness(new_root, &outside)
                .unwrap()
                .is_none());
        }

        if block == blocks / 2 {
            // Across a reopen of the files.
            for (f, probes) in followers.iter_mut().zip(&all_probes) {
                let path = f.store.path().to_path_buf();
                // `close` takes the store by value: a scratch store stands in meanwhile.
                let scratch = dir
                    .path()
                    .join(format!("scratch-{}", f.name.replace('/', "_")));
                std::mem::replace(&mut f.store, open(&scratch))
                    .close()
                    .unwrap();
                drop(std::mem::replace(&mut f.store, open(&path)));
                check(f, new_root, &new_trie, &nodes, probes);
            }
        }
        embedded += nodes
            .iter()
            .filter(|(p, n)| !p.is_empty() && n.len() < 32)
            .count();
        trie = new_trie;
        root = new_root;
    }
    if let Values::Small = values {
        assert!(embedded > 0, "the small values make embedded nodes");
    }
    // Rule 2 was needed (inserts split leaves above cold keys) and unchanged subtrees skipped.
    assert!(followers[0].derived > 0 && followers[2].derived > 0);
    assert!(followers.iter().all(|f| f.skipped > 0));
    for f in &followers {
        let anchors = f.store.anchors().unwrap();
        assert_eq!(anchors.len(), WINDOW);
        assert_eq!(anchors[0].root, root);
        assert_eq!(anchors[0].block_number, blocks);
        eprintln!(
            "{}: nodes added per block {:?}, {} derived, {} nodes stored",
            f.name,
            f.added,
            f.derived,
            f.store.trie_node_count().unwrap()
        );
    }
}

#[test]
fn twenty_blocks_of_changes_reanchor_every_range_exactly() {
    run(Values::AccountSized, 6_000, 20, 300, 0x5eed_0001);
}

#[test]
fn small_values_embedded_in_their_parents_reanchor_too() {
    run(Values::Small, 4_000, 8, 200, 0x5eed_0002);
}

/// The mainnet genesis put as items at its root (as ingress does) is a complete slice of the
/// whole key space: seeded as the first anchor with no extra node. After a block that changes
/// a few accounts, every account — untouched ones too, which have no item at the new root — is
/// answered by `get` at the new root with the witness the builder makes there; the store then
/// survives a downgrade to schema 3 and the migration back to 4 with every row kept.
#[test]
fn mainnet_genesis_items_seed_an_anchor_and_every_account_is_answered_at_the_next_root() {
    let json = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("data/genesis/mainnet.json"),
    )
    .unwrap();
    let alloc = GenesisAlloc::from_json(&json).unwrap();
    let built = build_witnesses(&alloc);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite3");
    let mut store = ContentStore::open(&path, config()).unwrap();
    let items: Vec<_> = built
        .items
        .iter()
        .filter(|(k, _)| matches!(k, ContentKey::Account(_)))
        .map(|(k, v)| verify(*k, v.clone()).unwrap())
        .collect();
    store.put_batch(&items).unwrap();
    let bytes_before = store.stored_bytes();
    let outcome = store
        .seed_anchor(built.state_root, 0, KeyRange::WHOLE, &[])
        .unwrap();
    let Reanchor::Done(stats) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(stats.nodes_added, 0, "the items' nodes are the slice");
    assert_eq!(store.stored_bytes(), bytes_before);

    // Block 1: five accounts get a new balance.
    let changed: Vec<_> = alloc.iter().map(|(a, _)| *a).step_by(1_777).collect();
    let next: GenesisAlloc = alloc
        .iter()
        .map(|(address, account)| {
            let mut account = account.clone();
            if changed.contains(address) {
                account.balance += U256::from(1);
            }
            (*address, account)
        })
        .collect();
    let next_built = build_witnesses(&next);
    let diff: Vec<Bytes> = next_built
        .items
        .iter()
        .filter(|(k, _)| k.address().is_some_and(|a| changed.contains(&a)))
        .flat_map(|(_, v)| match v {
            ContentValue::Account(w) => w.nodes().to_vec(),
            _ => Vec::new(),
        })
        .collect();
    let outcome = store
        .reanchor(built.state_root, next_built.state_root, 1, &diff)
        .unwrap();
    assert!(matches!(outcome, Reanchor::Done(_)), "{outcome:?}");
    let check_all = |store: &ContentStore| {
        for (key, value) in &next_built.items {
            if let ContentKey::Account(k) = key {
                assert_eq!(
                    store.get(key).unwrap().as_ref(),
                    Some(value),
                    "{}",
                    k.address
                );
                assert!(verify(*key, value.clone()).is_ok());
            }
        }
        // An address that is not in the state gets its proof of absence.
        let absent = ContentKey::Account(AccountKey {
            address: alloy_primitives::Address::repeat_byte(0x42),
            state_root: next_built.state_root,
        });
        let value = store
            .get(&absent)
            .unwrap()
            .expect("answered from the anchor");
        assert!(
            verify(absent, value).unwrap().proven()
                == &portal_state::proof::VerifiedValue::Account(None)
        );
    };
    check_all(&store);
    store.close().unwrap();

    // Downgrade to schema 3 by hand (the anchors table and column gone), then reopen.
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "DROP TABLE anchors; ALTER TABLE trie_nodes DROP COLUMN anchor_refs;
             PRAGMA user_version = 3;",
        )
        .unwrap();
    }
    let store = ContentStore::open(&path, config()).unwrap();
    assert!(store.anchors().unwrap().is_empty());
    for item in &items {
        assert_eq!(store.get(item.key()).unwrap().as_ref(), Some(item.value()));
    }
    store.close().unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    drop(conn);
    // The migrated file anchors again (the items' nodes are still there).
    let mut store = ContentStore::open(&path, config()).unwrap();
    let outcome = store
        .seed_anchor(built.state_root, 0, KeyRange::WHOLE, &[])
        .unwrap();
    assert!(matches!(outcome, Reanchor::Done(_)), "{outcome:?}");
    let outcome = store
        .reanchor(built.state_root, next_built.state_root, 1, &diff)
        .unwrap();
    assert!(matches!(outcome, Reanchor::Done(_)), "{outcome:?}");
    check_all(&store);
    // A seed for another range while anchors are held is refused.
    let other = KeyRange::new(B256::ZERO, B256::repeat_byte(0x7f));
    assert!(matches!(
        store.seed_anchor(built.state_root, 0, other, &[]),
        Err(StoreError::AnchorRange { .. })
    ));
    // And re-anchoring from a root that is not anchored is an error, not a guess.
    assert!(matches!(
        store.reanchor(B256::repeat_byte(9), next_built.state_root, 2, &diff),
        Err(StoreError::NotAnchored { .. })
    ));
}
