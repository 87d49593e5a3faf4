//! Unit tests of the content side of the store, over real witnesses of generated tries (each
//! verified by [`crate::proof::verify`] before it is put); the open, header and peer tests that
//! need no content are in `tests/store_*.rs` (reopen, damage and crash tests: `tests_reopen.rs`),
//! the slice tests over mainnet data in `tests/offline/store_slices.rs`.

use super::*;
use crate::content::{AccountKey, ContentKey, ContentValue, Witness};
use crate::proof::VerifiedContent;
use alloy_primitives::{keccak256, Address, Bytes, B256, U256};
use alloy_trie::nodes::{BranchNode, LeafNode, RlpNode};
use alloy_trie::{Nibbles, TrieAccount, TrieMask};
use std::collections::BTreeMap;

/// A small deterministic generator (splitmix64): reproducible tests without a dependency.
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(super) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub(super) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    pub(super) fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }

    pub(super) fn bytes32(&mut self) -> [u8; 32] {
        let mut out = [0u8; 32];
        self.fill(&mut out);
        out
    }
}

/// A real account witness of about `total` bytes for `address`: a leaf under a chain of
/// branch nodes along `keccak(address)`, each branch padded with random sibling hashes (a
/// trie of which only this path is known). The root is whatever the nodes hash to. The sizes
/// depend on `total` only (not on the address or the random bytes), so equal totals give
/// equal sizes.
pub(super) fn witness_for(rng: &mut Rng, address: Address, total: usize) -> (B256, Witness) {
    let path = Nibbles::unpack(keccak256(address));
    // A 9-byte balance with a nonzero top byte and a one-byte nonce: a fixed-size leaf.
    let mut balance = [0u8; 9];
    rng.fill(&mut balance);
    balance[0] |= 1;
    let account = TrieAccount {
        nonce: 7,
        balance: U256::from_be_slice(&balance),
        storage_root: alloy_trie::EMPTY_ROOT_HASH,
        code_hash: alloy_trie::KECCAK_EMPTY,
    };
    // Branches of 3 + 33 x (1 + siblings) bytes, at most 16 children.
    let leaf_guess = 110;
    let rest = total.saturating_sub(leaf_guess);
    let levels = rest.div_ceil(531).min(40);
    let siblings = rest.checked_div(levels).map_or(0, |per_level| {
        (per_level / 33).saturating_sub(1).clamp(1, 15)
    });
    let leaf = LeafNode::new(path.slice(levels..), alloy_rlp::encode(account));
    let mut below = alloy_rlp::encode(&leaf);
    let mut nodes = vec![below.clone()];
    for depth in (0..levels).rev() {
        let on_path = path.get(depth).unwrap();
        let mut mask = TrieMask::default();
        mask.set_bit(on_path);
        let others: Vec<u8> = (0..16u8).filter(|n| *n != on_path).collect();
        let start = rng.range(0, 14) as usize;
        for i in 0..siblings {
            mask.set_bit(others[(start + i) % others.len()]);
        }
        let stack: Vec<RlpNode> = (0..16u8)
            .filter(|n| mask.is_bit_set(*n))
            .map(|n| {
                if n == on_path {
                    RlpNode::word_rlp(&keccak256(&below))
                } else {
                    RlpNode::word_rlp(&B256::from(rng.bytes32()))
                }
            })
            .collect();
        below = alloy_rlp::encode(BranchNode::new(stack, mask));
        nodes.push(below.clone());
    }
    nodes.reverse();
    let root = keccak256(&nodes[0]);
    (root, Witness(nodes.into_iter().map(Bytes::from).collect()))
}

/// A verified account item: a random address (so a random content id) with a witness of about
/// `witness_bytes` bytes of nodes. (`_root` is ignored: the root is what the nodes hash to.)
pub(super) fn account_at(rng: &mut Rng, _root: B256, witness_bytes: usize) -> VerifiedContent {
    let mut address = [0u8; 20];
    rng.fill(&mut address);
    account_of(rng, Address::from(address), witness_bytes)
}

fn account_of(rng: &mut Rng, address: Address, bytes: usize) -> VerifiedContent {
    let (state_root, witness) = witness_for(rng, address, bytes);
    let key = ContentKey::Account(AccountKey {
        address,
        state_root,
    });
    crate::proof::verify(key, ContentValue::Account(witness)).expect("generated witness verifies")
}

/// An item whose size lies in `lo..=hi` witness bytes, at a random root.
pub(super) fn random_item(rng: &mut Rng, lo: u64, hi: u64) -> VerifiedContent {
    let root = B256::from(rng.bytes32());
    let bytes = rng.range(lo, hi) as usize;
    account_at(rng, root, bytes)
}

/// The bytes an item counts against the capacity when none of its nodes is shared (the
/// module docs' rule, computed here independently of the store's code): its key, plus 32 + the
/// length of each witness node. Generated items share no node (random siblings).
pub(super) fn size_of(c: &VerifiedContent) -> u64 {
    item_bytes(c.key(), c.value())
}

/// [`size_of`] for a key and value read back.
pub(super) fn item_bytes(key: &ContentKey, value: &ContentValue) -> u64 {
    let nodes: u64 = match value {
        ContentValue::Account(w) => w.nodes().iter().map(|n| 32 + n.len() as u64).sum(),
        other => panic!("unexpected value {other:?}"),
    };
    key.encode().len() as u64 + nodes
}

pub(super) fn config(node: [u8; 32], capacity: u64) -> StoreConfig {
    StoreConfig {
        node_id: ContentId::from(node),
        capacity_bytes: capacity,
    }
}

/// Every item in the store, by a full-ring scan.
pub(super) fn all_items(store: &ContentStore) -> Vec<(ContentKey, ContentValue)> {
    store
        .get_by_id_range(
            ContentId::default(),
            ContentId::from([0xff; 32]),
            usize::MAX,
        )
        .unwrap()
}

#[test]
fn put_get_contains_and_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(1);
    let mut store = ContentStore::open_in_dir(dir.path(), config(rng.bytes32(), 1 << 20)).unwrap();
    assert!(store.path().ends_with(DEFAULT_FILE_NAME));
    assert_eq!(store.radius(), Radius::MAX);
    assert!(store.is_empty());

    let a = random_item(&mut rng, 500, 4500);
    let b = random_item(&mut rng, 500, 4500);
    assert!(!store.contains(a.key()).unwrap());
    assert_eq!(store.get(a.key()).unwrap(), None);
    assert_eq!(store.put(&a).unwrap(), PutOutcome::Stored { pruned: 0 });
    assert_eq!(store.put(&a).unwrap(), PutOutcome::AlreadyStored);
    assert!(PutOutcome::AlreadyStored.is_stored());
    assert_eq!(store.len(), 1);
    assert_eq!(store.stored_bytes(), size_of(&a));
    assert!(store.contains(a.key()).unwrap());
    assert!(!store.contains(b.key()).unwrap());
    assert_eq!(store.get(a.key()).unwrap().as_ref(), Some(a.value()));
    assert_eq!(
        store.get_encoded(a.key()).unwrap(),
        Some(a.value().encode())
    );
    assert_eq!(store.put(&b).unwrap(), PutOutcome::Stored { pruned: 0 });
    assert_eq!(store.len(), 2);
    assert_eq!(store.stored_bytes(), size_of(&a) + size_of(&b));
}

/// An account at two state roots has one content id and two keys: both are kept apart.
#[test]
fn same_id_different_roots_are_distinct_items() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(2);
    let mut store = ContentStore::open_in_dir(dir.path(), config(rng.bytes32(), 1 << 20)).unwrap();
    let address = Address::repeat_byte(0x42);
    let old = account_of(&mut rng, address, 900);
    let new = account_of(&mut rng, address, 1100);
    assert_eq!(old.content_id(), new.content_id());
    assert_ne!(old.value(), new.value());
    assert!(store.put(&old).unwrap().is_stored());
    assert_eq!(store.put(&new).unwrap(), PutOutcome::Stored { pruned: 0 });
    assert_eq!(store.get(old.key()).unwrap().as_ref(), Some(old.value()));
    assert_eq!(store.get(new.key()).unwrap().as_ref(), Some(new.value()));
    let id = old.content_id();
    let both = store.get_by_id_range(id, id, 10).unwrap();
    assert_eq!(both.len(), 2);
    assert_eq!(store.len(), 2);
}

/// The store's rule, written out again here from the docs, over a plain map.
struct Model {
    node: ContentId,
    capacity: u64,
    full: bool,
    seq: u64,
    /// key -> (distance, insertion sequence, size)
    items: BTreeMap<Vec<u8>, (U256, u64, u64)>,
}

impl Model {
    fn stored(&self) -> u64 {
        self.items.values().map(|v| v.2).sum()
    }

    fn radius(&self) -> U256 {
        if !self.full {
            return U256::MAX;
        }
        self.items.values().map(|v| v.0).max().unwrap_or(U256::MAX)
    }

    /// Returns the outcome and the pruned items' distances.
    fn put(&mut self, c: &VerifiedContent) -> (PutOutcome, Vec<U256>) {
        let distance = self.node.distance(c.content_id());
        if distance > self.radius() {
            return (PutOutcome::OutsideRadius, vec![]);
        }
        let size = size_of(c);
        if size > self.capacity {
            return (PutOutcome::TooLarge { bytes: size }, vec![]);
        }
        let key = c.key().encode();
        if self.items.contains_key(&key) {
            return (PutOutcome::AlreadyStored, vec![]);
        }
        self.seq += 1;
        self.items.insert(key.clone(), (distance, self.seq, size));
        if self.stored() <= self.capacity {
            return (PutOutcome::Stored { pruned: 0 }, vec![]);
        }
        // Farthest first; among equal distances, oldest first.
        let mut order: Vec<_> = self
            .items
            .iter()
            .map(|(k, v)| (v.0, std::cmp::Reverse(v.1), k.clone()))
            .collect();
        order.sort();
        let target = self.capacity - self.capacity / 20;
        let mut pruned = vec![];
        while self.stored() > target {
            let Some((d, _, k)) = order.pop() else { break };
            self.items.remove(&k);
            pruned.push(d);
        }
        self.full = !self.items.is_empty();
        if self.items.contains_key(&key) {
            let n = pruned.len() as u64;
            (PutOutcome::Stored { pruned: n }, pruned)
        } else {
            (PutOutcome::OutsideRadius, pruned)
        }
    }
}

/// Many random puts (new items, repeats, sizes from tiny to over a tenth of the capacity)
/// against a small capacity: after every put the capacity holds, the outcome is what the rule
/// says, the radius never grows, pruned items are farther than every item left, and the store's
/// contents are exactly the model's.
#[test]
fn capacity_never_exceeded_and_radius_follows_the_rule() {
    for seed in [3u64, 4, 5] {
        check_against_model(seed, None);
    }
}

/// The same check from node ids at the edges of the id space, where the antipode or the node
/// sits at `0x00..00` or `0xff..ff` and the walk outward from the antipode wraps around the ends
/// of the index on one side or the other.
#[test]
fn model_holds_for_node_ids_at_the_ends_of_the_id_space() {
    let edge = |first: u8, rest: u8| {
        let mut id = [rest; 32];
        id[0] = first;
        ContentId::from(id)
    };
    let nodes = [
        edge(0x00, 0x00),
        edge(0xff, 0xff),
        edge(0x80, 0x00),
        edge(0x7f, 0xff),
        edge(0x80, 0x01),
    ];
    for (i, node) in nodes.into_iter().enumerate() {
        check_against_model(20 + i as u64, Some(node));
    }
}

/// 1,500 random puts against [`Model`] (see the test above); `node` None: a random node id.
fn check_against_model(seed: u64, node: Option<ContentId>) {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(seed);
    let random_node = ContentId::from(rng.bytes32());
    let node = node.unwrap_or(random_node);
    let capacity = 60_000 + rng.range(0, 40_000);
    let mut store = ContentStore::open(
        &dir.path().join("s.sqlite3"),
        StoreConfig {
            node_id: node,
            capacity_bytes: capacity,
        },
    )
    .unwrap();
    let mut model = Model {
        node,
        capacity,
        full: false,
        seq: 0,
        items: BTreeMap::new(),
    };
    let mut history: Vec<VerifiedContent> = vec![];
    let mut last_radius = store.radius();
    let (mut pruned_total, mut outside) = (0u64, 0u64);
    for step in 0..1500 {
        let c = match rng.range(0, 9) {
            // A repeat of an earlier item (stored, pruned or refused).
            0 if !history.is_empty() => {
                history[rng.range(0, history.len() as u64 - 1) as usize].clone()
            }
            // Now and then a big one (up to ~15 % of the capacity).
            1 => random_item(&mut rng, 5_000, 14_000),
            _ => random_item(&mut rng, 50, 4_500),
        };
        history.push(c.clone());
        let (expected, pruned) = model.put(&c);
        let got = store.put(&c).unwrap();
        assert_eq!(got, expected, "seed {seed} step {step}");
        assert!(
            store.stored_bytes() <= capacity,
            "seed {seed} step {step}: {} > {capacity}",
            store.stored_bytes()
        );
        assert_eq!(store.stored_bytes(), model.stored(), "step {step}");
        assert_eq!(store.len(), model.items.len() as u64);
        assert_eq!(store.radius().0, model.radius(), "step {step}");
        assert!(store.radius() <= last_radius, "radius grew at step {step}");
        last_radius = store.radius();
        if let Some(nearest_pruned) = pruned.iter().min() {
            let farthest_left = model.items.values().map(|v| v.0).max();
            assert!(farthest_left.is_none_or(|f| f <= *nearest_pruned));
            pruned_total += pruned.len() as u64;
        }
        if got == PutOutcome::OutsideRadius {
            outside += 1;
            assert!(!store.contains(c.key()).unwrap());
        }
        if step % 250 == 249 {
            // Full scan: the bytes really there add up, and are exactly the model's keys.
            let items = all_items(&store);
            let sum: u64 = items.iter().map(|(k, v)| item_bytes(k, v)).sum();
            assert_eq!(sum, store.stored_bytes());
            let keys: Vec<Vec<u8>> = {
                let mut keys: Vec<_> = items.iter().map(|(k, _)| k.encode()).collect();
                keys.sort();
                keys
            };
            assert_eq!(keys, model.items.keys().cloned().collect::<Vec<_>>());
        }
    }
    // The run must have exercised the interesting paths.
    assert!(pruned_total > 50, "seed {seed}: only {pruned_total} pruned");
    assert!(outside > 50, "seed {seed}: only {outside} refused");
    assert!(store.radius() < Radius::MAX);
}

/// Fill a store past capacity one item at a time: the radius is MAX until the first prune, then
/// exactly the farthest remaining distance, and it shrinks as more arrives.
#[test]
fn radius_shrinks_as_it_fills() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(6);
    let node = ContentId::from(rng.bytes32());
    let mut store = ContentStore::open(
        &dir.path().join("s.sqlite3"),
        config(*node.as_bytes(), 50_000),
    )
    .unwrap();
    let mut radii = vec![];
    let mut first_prune = None;
    for i in 0..400 {
        let c = random_item(&mut rng, 400, 1200);
        let outcome = store.put(&c).unwrap();
        if matches!(outcome, PutOutcome::Stored { pruned } if pruned > 0) && first_prune.is_none() {
            first_prune = Some(i);
        }
        if first_prune.is_none() {
            assert_eq!(store.radius(), Radius::MAX);
        } else {
            let farthest = all_items(&store)
                .iter()
                .map(|(k, _)| node.distance(k.content_id()))
                .max()
                .unwrap();
            assert_eq!(store.radius().0, farthest);
            radii.push(store.radius());
        }
    }
    assert!(first_prune.is_some());
    assert!(radii.windows(2).all(|w| w[1] <= w[0]));
    assert!(radii.last() < radii.first(), "radius never shrank");
    // The first prune took stored bytes to at most 95 % of capacity (50,000 -> 47,500).
    assert!(store.stored_bytes() <= 50_000);
}

/// Equal distances (one account at many roots) prune oldest first, and the item being put goes
/// last among its distance.
#[test]
fn ties_prune_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(7);
    let address = Address::repeat_byte(7);
    let node = ContentId::from([0u8; 32]);
    let mut store = ContentStore::open(
        &dir.path().join("s.sqlite3"),
        config(*node.as_bytes(), 10_000),
    )
    .unwrap();
    let roots: Vec<VerifiedContent> = (0..12u8)
        .map(|_| account_of(&mut rng, address, 1000))
        .collect();
    for c in &roots {
        assert!(store.put(c).unwrap().is_stored());
    }
    // ~1,120 bytes each (key, nodes and their hashes): 10,000 bytes hold 8; the 9th and
    // later puts prune to 9,500, which leaves the 8 newest.
    let kept: Vec<bool> = roots
        .iter()
        .map(|c| store.contains(c.key()).unwrap())
        .collect();
    let first_kept = kept.iter().position(|&k| k).unwrap();
    assert!(kept[first_kept..].iter().all(|&k| k), "{kept:?}");
    assert!(first_kept >= 3, "{kept:?}");
    assert!(store.contains(roots[11].key()).unwrap());
}

#[test]
fn too_large_and_zero_capacity() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(8);
    let mut store =
        ContentStore::open(&dir.path().join("a.sqlite3"), config(rng.bytes32(), 2_000)).unwrap();
    let small = random_item(&mut rng, 500, 500);
    let big = random_item(&mut rng, 3_000, 3_000);
    assert!(store.put(&small).unwrap().is_stored());
    assert_eq!(
        store.put(&big).unwrap(),
        PutOutcome::TooLarge {
            bytes: size_of(&big)
        }
    );
    // Refusing the big item pruned nothing.
    assert!(store.contains(small.key()).unwrap());
    assert_eq!(store.radius(), Radius::MAX);

    let mut none =
        ContentStore::open(&dir.path().join("b.sqlite3"), config(rng.bytes32(), 0)).unwrap();
    assert_eq!(none.radius(), Radius::ZERO);
    assert_eq!(none.put(&small).unwrap(), PutOutcome::OutsideRadius);
    assert!(none.is_empty());
}

/// A batch is the same as the puts one by one, in one transaction.
#[test]
fn put_batch_matches_sequential_puts() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(9);
    let node = rng.bytes32();
    let items: Vec<_> = (0..300).map(|_| random_item(&mut rng, 100, 3000)).collect();
    let mut one = ContentStore::open(&dir.path().join("1.sqlite3"), config(node, 150_000)).unwrap();
    let mut batch =
        ContentStore::open(&dir.path().join("2.sqlite3"), config(node, 150_000)).unwrap();
    let singles: Vec<_> = items.iter().map(|c| one.put(c).unwrap()).collect();
    let mut batched = batch.put_batch(&items[..150]).unwrap();
    batched.extend(batch.put_batch(&items[150..]).unwrap());
    assert_eq!(singles, batched);
    assert!(singles
        .iter()
        .any(|o| matches!(o, PutOutcome::Stored { pruned } if *pruned > 0)));
    assert_eq!(one.stored_bytes(), batch.stored_bytes());
    assert_eq!(one.radius(), batch.radius());
    assert_eq!(all_items(&one), all_items(&batch));
}

#[test]
fn id_range_in_ring_order_with_wrap_and_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(10);
    let mut store = ContentStore::open(
        &dir.path().join("s.sqlite3"),
        config(rng.bytes32(), 10 << 20),
    )
    .unwrap();
    let mut ids = vec![];
    for _ in 0..200 {
        let c = random_item(&mut rng, 50, 300);
        store.put(&c).unwrap();
        ids.push(c.content_id());
    }
    ids.sort();
    let ids_of = |v: &[(ContentKey, ContentValue)]| -> Vec<ContentId> {
        v.iter().map(|(k, _)| k.content_id()).collect()
    };
    // Plain range between two stored ids, both ends included.
    let got = store.get_by_id_range(ids[20], ids[60], 1000).unwrap();
    assert_eq!(ids_of(&got), ids[20..=60].to_vec());
    // Limit.
    let got = store.get_by_id_range(ids[20], ids[60], 7).unwrap();
    assert_eq!(ids_of(&got), ids[20..27].to_vec());
    // Wrapping range: from the 190th id through 0xff..ff and 0x00..00 to the 10th.
    let got = store.get_by_id_range(ids[190], ids[10], 1000).unwrap();
    let mut expected = ids[190..].to_vec();
    expected.extend_from_slice(&ids[..=10]);
    assert_eq!(ids_of(&got), expected);
    // Wrapping with a limit that ends before the wrap, and one that ends after it.
    let got = store.get_by_id_range(ids[190], ids[10], 5).unwrap();
    assert_eq!(ids_of(&got), ids[190..195].to_vec());
    let got = store.get_by_id_range(ids[190], ids[10], 13).unwrap();
    assert_eq!(ids_of(&got), expected[..13].to_vec());
    // Values come back intact.
    for (k, v) in store.get_by_id_range(ids[0], ids[5], 100).unwrap() {
        assert_eq!(store.get(&k).unwrap(), Some(v));
    }
    assert!(store.get_by_id_range(ids[0], ids[5], 0).unwrap().is_empty());
}

/// Two ids mirrored about the antipode are equally far from the node: of the two, pruning takes
/// the older first, whichever side of the antipode it is on.
#[test]
fn mirrored_ties_prune_oldest_first() {
    let mut rng = Rng::new(14);
    // Equal sizes (account keys are all 53 bytes; witnesses of one size): pruning counts items.
    let mut items: Vec<VerifiedContent> = (0..200)
        .map(|_| account_at(&mut rng, B256::repeat_byte(1), 1000))
        .collect();
    items.sort_by_key(|c| c.content_id());
    // Two neighbours in id order whose midpoint is a whole id: with the antipode there, they
    // are the two farthest items of all, at exactly the same distance.
    let i = (0..items.len() - 1)
        .find(|&i| {
            let (x, y) = (items[i].content_id(), items[i + 1].content_id());
            !(x.to_u256() ^ y.to_u256()).bit(0)
        })
        .unwrap();
    let (low, high) = (items[i].clone(), items[i + 1].clone());
    let (x, y) = (low.content_id().to_u256(), high.content_id().to_u256());
    let antipode = x + ((y - x) >> 1);
    let node = ContentId::from_u256(antipode ^ (U256::from(1u8) << 255));
    assert_eq!(
        node.distance(low.content_id()),
        node.distance(high.content_id())
    );
    let others: Vec<_> = items
        .iter()
        .filter(|c| c.content_id() != low.content_id() && c.content_id() != high.content_id())
        .take(9)
        .cloned()
        .collect();
    let size = size_of(&low);
    assert!(others.iter().all(|c| size_of(c) == size));

    // 10 items fit in 10.8 items' room; the 11th prunes down to 95 % of it: exactly one goes.
    for (older, newer) in [(&low, &high), (&high, &low)] {
        let dir = tempfile::tempdir().unwrap();
        let mut store = ContentStore::open(
            &dir.path().join("s.sqlite3"),
            config(*node.as_bytes(), size * 108 / 10),
        )
        .unwrap();
        assert!(store.put(older).unwrap().is_stored());
        assert!(store.put(newer).unwrap().is_stored());
        for c in &others[..8] {
            assert_eq!(store.put(c).unwrap(), PutOutcome::Stored { pruned: 0 });
        }
        assert_eq!(
            store.put(&others[8]).unwrap(),
            PutOutcome::Stored { pruned: 1 }
        );
        assert!(!store.contains(older.key()).unwrap());
        assert!(store.contains(newer.key()).unwrap());
        assert_eq!(store.radius().0, node.distance(newer.content_id()));
    }
}
