//! The walk on small tries built by alloy-trie's `HashBuilder` (an independent implementation):
//! after the walk, the old slice plus the new nodes give every in-range key's proof at the new
//! root, byte for byte as the builder's `ProofRetainer` gives it.

use super::*;
use crate::proof::verify::{follow, Step};
use alloy_trie::proof::ProofRetainer;
use alloy_trie::HashBuilder;
use std::collections::BTreeMap;

type Trie = BTreeMap<B256, Vec<u8>>;

/// The root of `trie` and, for each of `targets`, its proof (hashed nodes only, root first).
fn proofs(trie: &Trie, targets: &[B256]) -> (B256, Vec<Vec<Bytes>>) {
    let paths: Vec<Nibbles> = targets.iter().map(|k| Nibbles::unpack(k)).collect();
    let mut hb = HashBuilder::default().with_proof_retainer(ProofRetainer::new(paths.clone()));
    for (key, value) in trie {
        hb.add_leaf(Nibbles::unpack(key), value);
    }
    let root = hb.root();
    let nodes = hb.take_proof_nodes();
    let out = paths
        .iter()
        .map(|path| {
            nodes
                .matching_nodes_sorted(path)
                .into_iter()
                .filter(|(p, n)| p.is_empty() || n.len() >= 32)
                .map(|(_, n)| n)
                .collect()
        })
        .collect();
    (root, out)
}

/// The nodes of `trie`'s slice for `range`: every in-range key's proof and the two boundaries.
fn slice(trie: &Trie, range: &KeyRange) -> (B256, HashMap<B256, Bytes>) {
    let mut targets: Vec<B256> = trie.keys().filter(|k| range.contains(k)).copied().collect();
    targets.push(range.first);
    targets.push(range.last);
    let (root, proofs) = proofs(trie, &targets);
    let nodes = proofs
        .into_iter()
        .flatten()
        .map(|n| (keccak256(&n), n))
        .collect();
    (root, nodes)
}

/// The witness of `key` read from `nodes` from `root`.
fn witness(nodes: &HashMap<B256, Bytes>, root: B256, key: &B256) -> Vec<Bytes> {
    let path = Nibbles::unpack(key);
    let (mut expected, mut depth, mut out) = (root, 0, Vec::new());
    loop {
        let rlp = nodes
            .get(&expected)
            .unwrap_or_else(|| panic!("no node {expected}"))
            .clone();
        let step = follow(decode_node(&rlp).unwrap(), &path, &mut depth).unwrap();
        out.push(rlp);
        match step {
            Step::Descend(next) => expected = next,
            Step::Found(_) | Step::Absent => return out,
        }
    }
}

/// A key made of `prefix` (hex nibbles) then the bytes of `seed`'s hash.
fn key(prefix: &str, seed: u64) -> B256 {
    let tail = keccak256(seed.to_be_bytes());
    let mut nibbles: Vec<u8> = prefix
        .chars()
        .map(|c| c.to_digit(16).unwrap() as u8)
        .collect();
    nibbles.extend(Nibbles::unpack(tail).to_vec());
    nibbles.truncate(64);
    B256::from_slice(&Nibbles::from_nibbles(&nibbles).pack())
}

/// Walk from `old` to `new` over `range` with the diff made of the proofs of `changed` at the
/// new root, and check every in-range key (and the two boundaries) against the builder.
fn check_block(old: &Trie, new: &Trie, changed: &[B256], range: KeyRange) -> SliceUpdate {
    let (old_root, mut store) = slice(old, &range);
    let (new_root, diff) = proofs(new, changed);
    let pool = DiffPool::new(diff.into_iter().flatten());
    assert!(pool.unchained(new_root, &store).unwrap().is_empty());
    let outcome = walk_new_root(Some(old_root), new_root, &range, &pool, &store).unwrap();
    let WalkOutcome::Complete(update) = outcome else {
        panic!("missing: {outcome:?}")
    };
    for node in &update.nodes {
        store.insert(keccak256(node), node.clone());
    }
    let mut targets: Vec<B256> = new.keys().filter(|k| range.contains(k)).copied().collect();
    targets.extend(changed.iter().filter(|k| range.contains(k)));
    targets.extend([range.first, range.last]);
    let (_, expected) = proofs(new, &targets);
    for (target, expected) in targets.iter().zip(expected) {
        assert_eq!(witness(&store, new_root, target), expected, "key {target}");
    }
    update
}

fn value(len: usize, seed: u64) -> Vec<u8> {
    let mut v = keccak256(seed.to_le_bytes()).to_vec();
    v.resize(len, 0x42);
    alloy_rlp::encode(Bytes::from(v))
}

#[test]
fn an_insert_that_splits_a_leaf_uses_rule_2() {
    let mut old = Trie::new();
    for i in 0..40 {
        old.insert(key("", i), value(40, i));
    }
    // A key sharing 6 nibbles with an existing leaf: the leaf moves down, shortened.
    let cold = *old.keys().nth(7).unwrap();
    let mut shared = Nibbles::unpack(cold).to_vec();
    shared[6] ^= 1;
    let hot = B256::from_slice(&Nibbles::from_nibbles(&shared).pack());
    let mut new = old.clone();
    new.insert(hot, value(40, 99));
    let update = check_block(&old, &new, &[hot], KeyRange::WHOLE);
    assert_eq!(update.derived, 1, "{update:?}");
    // Only the changed path was descended: the root down to the new leaf's branch.
    assert!(update.old_nodes_read <= 3, "{update:?}");
}

#[test]
fn an_insert_that_splits_an_extension_and_deletes_that_collapse() {
    let mut old = Trie::new();
    for i in 0..20 {
        old.insert(key("abcdef01", i), value(40, i));
        old.insert(key("", i + 100), value(40, i));
    }
    let mut new = old.clone();
    // Splits the extension above the cluster at its 4th nibble.
    let split = key("abcd0", 7);
    new.insert(split, value(40, 7));
    // Deletes all but one of a branch's children elsewhere: the branch collapses.
    let deleted: Vec<B256> = old.keys().filter(|k| k.0[0] >> 4 == 3).copied().collect();
    for k in deleted.iter().skip(1) {
        new.remove(k);
    }
    let mut changed = vec![split];
    changed.extend(deleted.iter().skip(1));
    for range in [
        KeyRange::WHOLE,
        KeyRange::new(key("abcd", 1), key("abcdef02", 0)),
        KeyRange::new(key("f8", 0), key("3c", 0)),
    ] {
        check_block(&old, &new, &changed, range);
    }
}

#[test]
fn embedded_nodes_are_walked_inside_their_parents() {
    let mut old = Trie::new();
    // Keys sharing 24 nibbles with 1-byte values: their leaves are under 32 bytes, embedded.
    for i in 0..12 {
        old.insert(key("0123456789abcdef01234567", i), value(1, i));
        old.insert(key("", i), value(3, i));
    }
    let mut new = old.clone();
    let changed: Vec<B256> = old.keys().take(3).copied().collect();
    for k in &changed {
        new.insert(*k, value(2, 500));
    }
    let added = key("0123456789abcdef0123456", 1000);
    new.insert(added, value(1, 7));
    let mut all = changed.clone();
    all.push(added);
    check_block(&old, &new, &all, KeyRange::WHOLE);
}

#[test]
fn an_unchanged_subtree_is_not_descended() {
    let mut old = Trie::new();
    for i in 0..2_000 {
        old.insert(key("", i), value(70, i));
    }
    let mut new = old.clone();
    let hot = *old.keys().nth(1234).unwrap();
    new.insert(hot, value(70, 1));
    let update = check_block(&old, &new, &[hot], KeyRange::WHOLE);
    // The changed path is 3 or 4 nodes: only those are new, and only those were read.
    assert!(update.nodes.len() <= 4, "{update:?}");
    assert!(update.old_nodes_read <= 4, "{update:?}");
    assert!(update.unchanged_subtrees >= 30, "{update:?}");
}

#[test]
fn a_missing_node_is_named_with_its_path() {
    let mut old = Trie::new();
    for i in 0..300 {
        old.insert(key("", i), value(40, i));
    }
    let mut new = old.clone();
    let hot = *old.keys().nth(77).unwrap();
    new.insert(hot, value(40, 1));
    let (old_root, store) = slice(&old, &KeyRange::WHOLE);
    let (new_root, diff) = proofs(&new, &[hot]);
    let omitted = diff[0][1].clone();
    let pool = DiffPool::new(diff[0].iter().filter(|n| **n != omitted).cloned());
    let outcome = walk_new_root(Some(old_root), new_root, &KeyRange::WHOLE, &pool, &store);
    let expected = MissingNode {
        hash: keccak256(&omitted),
        path: Nibbles::unpack(hot).slice(..1),
    };
    assert_eq!(outcome, Ok(WalkOutcome::Missing(vec![expected])));
    // Out of the range, the same omission is not needed.
    let mut far_key = hot;
    far_key.0[0] ^= 0x80;
    let far = KeyRange::new(far_key, far_key);
    let outcome = walk_new_root(Some(old_root), new_root, &far, &pool, &store).unwrap();
    assert!(matches!(outcome, WalkOutcome::Complete(_)), "{outcome:?}");
}

#[test]
fn unchained_diff_nodes_are_named() {
    let mut trie = Trie::new();
    for i in 0..50 {
        trie.insert(key("", i), value(40, i));
    }
    let (root, diff) = proofs(&trie, &[*trie.keys().next().unwrap()]);
    let mut nodes = diff[0].clone();
    let mut corrupt = nodes[1].to_vec();
    let at = corrupt.len() - 3;
    corrupt[at] ^= 1;
    nodes[1] = Bytes::from(corrupt.clone());
    let pool = DiffPool::new(nodes);
    let mut unchained = pool.unchained(root, &()).unwrap();
    unchained.sort();
    assert!(unchained.contains(&keccak256(&corrupt)), "{unchained:?}");
}

#[test]
fn ranges_meet_prefixes_and_wrap() {
    let range = KeyRange::new(key("f0", 1), key("10", 1));
    assert!(range.wraps());
    assert!(range.meets_prefix(&Nibbles::from_nibbles([0xf])));
    assert!(range.meets_prefix(&Nibbles::from_nibbles([0x0])));
    assert!(range.meets_prefix(&Nibbles::from_nibbles([0x1, 0x0])));
    assert!(!range.meets_prefix(&Nibbles::from_nibbles([0x1, 0x1])));
    assert!(!range.meets_prefix(&Nibbles::from_nibbles([0x8])));
    assert!(range.meets_prefix(&Nibbles::default()));
    assert!(range.contains(&B256::ZERO) && range.contains(&B256::repeat_byte(0xff)));
    assert!(!range.contains(&B256::repeat_byte(0x80)));
    let inner = KeyRange::new(key("45", 0), key("46", 0));
    assert!(inner.meets_prefix(&Nibbles::from_nibbles([0x4, 0x5, 0xf])));
    assert!(!inner.meets_prefix(&Nibbles::from_nibbles([0x4, 0x4])));
}

#[test]
fn a_contracts_storage_trie_reanchors_from_its_storage_root() {
    use alloy_primitives::U256;
    // One contract's storage: slots 0..600 (hashed keys keccak(slot)), RLP values.
    let slot_key = |slot: u64| keccak256(U256::from(slot).to_be_bytes::<32>());
    let slot_value = |v: u64| alloy_rlp::encode(U256::from(v));
    let old: Trie = (0..600)
        .map(|s| (slot_key(s), slot_value(s * 3 + 1)))
        .collect();
    let mut new = old.clone();
    let mut changed = Vec::new();
    for s in (0..600).step_by(7) {
        new.insert(slot_key(s), slot_value(s + 1_000_000));
        changed.push(slot_key(s));
    }
    for s in (3..600).step_by(31) {
        new.remove(&slot_key(s));
        changed.push(slot_key(s));
    }
    for s in 600..640 {
        new.insert(slot_key(s), slot_value(1));
        changed.push(slot_key(s));
    }
    // A 1/16 range at a non-aligned offset, and one wrapping the top of the key space.
    let first = slot_key(12_345);
    let last = B256::from(
        (U256::from_be_bytes(first.0).wrapping_add(U256::MAX / U256::from(16u8)))
            .to_be_bytes::<32>(),
    );
    check_block(&old, &new, &changed, KeyRange::new(first, last));
    check_block(
        &old,
        &new,
        &changed,
        KeyRange::new(B256::repeat_byte(0xfa), B256::repeat_byte(0x07)),
    );
}
