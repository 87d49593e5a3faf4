//! The cutting of a block's nodes into diff items, on tries built by alloy's hash builder.

use super::*;
use crate::content::IdRange;
use crate::proof::{verify_account_diff, ProofError};
use alloy_primitives::U256;
use alloy_trie::proof::ProofRetainer;
use alloy_trie::{HashBuilder, Nibbles, TrieAccount, KECCAK_EMPTY};

/// A trie of `n` accounts at hashed keys `keccak(i)`; the root and the proof nodes (hashed
/// ones, as `eth_getProof` gives them) of the keys in `changed`.
fn trie(n: u64, changed: &[u64]) -> (B256, Vec<Bytes>, Vec<B256>) {
    let mut keys: Vec<(B256, u64)> = (0..n)
        .map(|i| (keccak256(U256::from(i).to_be_bytes::<32>()), i))
        .collect();
    keys.sort();
    let targets: Vec<B256> = changed
        .iter()
        .map(|&i| keccak256(U256::from(i).to_be_bytes::<32>()))
        .collect();
    let mut hb = HashBuilder::default().with_proof_retainer(ProofRetainer::new(
        targets.iter().map(Nibbles::unpack).collect(),
    ));
    for (key, i) in &keys {
        let account = TrieAccount {
            nonce: *i,
            balance: U256::from(*i) * U256::from(1_000_000_007u64),
            storage_root: EMPTY_ROOT_HASH,
            code_hash: KECCAK_EMPTY,
        };
        hb.add_leaf(Nibbles::unpack(key), &alloy_rlp::encode(account));
    }
    let root = hb.root();
    let nodes = hb
        .take_proof_nodes()
        .into_nodes_sorted()
        .into_iter()
        .map(|(_, n)| n)
        .filter(|n| n.len() >= 32)
        .collect();
    (root, nodes, targets)
}

fn items(root: B256, nodes: Vec<Bytes>, depth: usize) -> Vec<(NibblePrefix, Vec<Bytes>)> {
    cut_account_nodes(&place_nodes(root, nodes), depth)
}

/// The emitted prefixes' ranges, in order, tile the whole ring once.
fn assert_cover(cut: &[(NibblePrefix, Vec<Bytes>)]) {
    let mut ranges: Vec<IdRange> = cut.iter().map(|(p, _)| p.range()).collect();
    ranges.sort_by_key(|r| r.start);
    assert_eq!(ranges[0].start.to_u256(), U256::ZERO);
    assert_eq!(ranges.last().unwrap().end.to_u256(), U256::MAX);
    for pair in ranges.windows(2) {
        assert_eq!(
            pair[0].end.to_u256() + U256::from(1),
            pair[1].start.to_u256()
        );
    }
}

#[test]
fn every_item_verifies_and_the_items_cover_the_key_space_once() {
    let changed: Vec<u64> = (0..40).map(|i| i * 37).collect();
    let (root, nodes, targets) = trie(3000, &changed);
    let cut = items(root, nodes, DEFAULT_TILE_DEPTH);
    assert_cover(&cut);
    let mut leaves = Vec::new();
    for (prefix, nodes) in &cut {
        assert!(prefix.len() <= DEFAULT_TILE_DEPTH);
        assert_eq!(keccak256(&nodes[0]), root, "root first in {prefix:?}");
        let found = verify_account_diff(root, prefix, nodes).unwrap();
        leaves.extend(found.into_iter().map(|(k, _)| k));
    }
    // Each changed leaf is in exactly one item.
    leaves.sort();
    let mut expected = targets.clone();
    expected.sort();
    assert_eq!(leaves, expected);
}

#[test]
fn nodes_given_twice_are_kept_once() {
    let (root, nodes, _) = trie(500, &[1, 2, 3]);
    let once = items(root, nodes.clone(), 2);
    let mut twice_nodes = nodes.clone();
    twice_nodes.extend(nodes.iter().rev().cloned());
    let twice = items(root, twice_nodes, 2);
    assert_eq!(once, twice);
    for (_, item) in &once {
        let mut hashes: Vec<B256> = item.iter().map(keccak256).collect();
        hashes.sort();
        hashes.dedup();
        assert_eq!(hashes.len(), item.len());
    }
}

#[test]
fn an_item_over_the_node_limit_is_split_by_a_longer_prefix() {
    // Many changed keys: at tile depth 0 the one item would hold every node.
    let changed: Vec<u64> = (0..120).collect();
    let (root, nodes, _) = trie(2000, &changed);
    let placed = place_nodes(root, nodes);
    assert!(placed.len() > MAX_DIFF_NODES);
    let cut = cut_account_nodes(&placed, 0);
    assert!(cut.len() > 1, "split");
    assert_cover(&cut);
    for (prefix, nodes) in &cut {
        assert!(nodes.len() <= MAX_DIFF_NODES, "{prefix:?}: {}", nodes.len());
        verify_account_diff(root, prefix, nodes).unwrap();
    }
}

#[test]
fn a_range_nothing_changed_in_still_gets_the_new_root() {
    let (root, nodes, targets) = trie(3000, &[5]);
    let cut = items(root, nodes, 2);
    let changed_tile = &targets[0][..1];
    let quiet = cut
        .iter()
        .find(|(p, _)| p.nibbles()[0] != changed_tile[0] >> 4)
        .unwrap();
    assert_eq!(quiet.1.len(), 1, "only the root: {quiet:?}");
    assert_eq!(keccak256(&quiet.1[0]), root);
    // The subtrees that did not change are one item each, one nibble long.
    assert!(cut.iter().filter(|(p, _)| p.len() == 1).count() >= 15);
}

#[test]
fn forged_items_are_rejected() {
    let changed: Vec<u64> = (0..20).collect();
    let (root, nodes, _) = trie(3000, &changed);
    let cut = items(root, nodes.clone(), 2);
    let (prefix, item) = cut.iter().max_by_key(|(_, n)| n.len()).unwrap();
    assert!(item.len() >= 3, "{item:?}");
    // A wrong root.
    assert!(matches!(
        verify_account_diff(B256::repeat_byte(1), prefix, item),
        Err(ProofError::DiffRootMissing { .. })
    ));
    // A node dropped from the chain between the root and the prefix.
    let placed = place_nodes(root, item.clone());
    let on_chain = placed
        .iter()
        .position(|n| n.position.len() == 1)
        .expect("a node at depth 1");
    let mut dropped = item.clone();
    dropped.retain(|n| *n != placed[on_chain].rlp);
    assert!(matches!(
        verify_account_diff(root, prefix, &dropped),
        Err(ProofError::DiffChainBroken { depth: 1, .. })
    ));
    // A node swapped for one of another item (or another trie): it chains nowhere here.
    let other = cut
        .iter()
        .flat_map(|(_, n)| n.iter())
        .find(|n| !item.contains(n))
        .unwrap()
        .clone();
    let mut swapped = item.clone();
    let last = swapped.len() - 1;
    swapped[last] = other;
    assert!(verify_account_diff(root, prefix, &swapped).is_err());
    // A node whose bytes were changed.
    let mut tampered = item.clone();
    let mut bytes = tampered[last].to_vec();
    let at = bytes.len() - 1;
    bytes[at] ^= 1;
    tampered[last] = bytes.into();
    assert!(verify_account_diff(root, prefix, &tampered).is_err());
    // The same node twice.
    let mut doubled = item.clone();
    doubled.push(item[0].clone());
    assert!(matches!(
        verify_account_diff(root, prefix, &doubled),
        Err(ProofError::DiffDuplicateNode { .. })
    ));
    // The item under another prefix: its nodes below the prefix are unrelated there.
    let elsewhere = NibblePrefix::new(&[(prefix.nibbles()[0] + 1) % 16, 0]).unwrap();
    assert!(verify_account_diff(root, &elsewhere, item).is_err());
}

/// Root and hashed proof nodes of `targets` in a trie of `(hashed key, value)` leaves.
fn trie_of(mut leaves: Vec<(B256, Vec<u8>)>, targets: &[B256]) -> (B256, Vec<Bytes>) {
    leaves.sort();
    let mut hb = HashBuilder::default().with_proof_retainer(ProofRetainer::new(
        targets.iter().map(Nibbles::unpack).collect(),
    ));
    for (key, value) in &leaves {
        hb.add_leaf(Nibbles::unpack(key), value);
    }
    let root = hb.root();
    let nodes = hb
        .take_proof_nodes()
        .into_nodes_sorted()
        .into_iter()
        .map(|(_, n)| n)
        .filter(|n| n.len() >= 32)
        .collect();
    (root, nodes)
}

#[test]
fn storage_tops_verify_and_forged_ones_do_not() {
    use crate::content::Witness;
    use crate::proof::verify_storage_top_diff;
    // A contract with 3,000 slots, 12 of them written in the block.
    let slot_key = |i: u64| keccak256(U256::from(i).to_be_bytes::<32>());
    let slots: Vec<(B256, Vec<u8>)> = (0..3000u64)
        .map(|i| (slot_key(i), alloy_rlp::encode(U256::from(i + 1_000_000))))
        .collect();
    let written: Vec<B256> = (0..12).map(|i| slot_key(i * 71)).collect();
    let (storage_root, storage_nodes) = trie_of(slots, &written);
    // Its account, among others, in the state trie.
    let address_hash = keccak256([7u8; 20]);
    let contract = TrieAccount {
        nonce: 1,
        balance: U256::ZERO,
        storage_root,
        code_hash: keccak256([1u8]),
    };
    let mut accounts: Vec<(B256, Vec<u8>)> = (0..500u64)
        .map(|i| {
            let a = TrieAccount {
                nonce: i,
                balance: U256::from(i),
                storage_root: EMPTY_ROOT_HASH,
                code_hash: KECCAK_EMPTY,
            };
            (keccak256(i.to_be_bytes()), alloy_rlp::encode(a))
        })
        .collect();
    accounts.push((address_hash, alloy_rlp::encode(contract)));
    let (state_root, account_nodes) = trie_of(accounts, &[address_hash]);
    let witness = Witness(
        place_nodes(state_root, account_nodes)
            .into_iter()
            .map(|n| n.rlp)
            .collect(),
    );

    let placed = place_nodes(storage_root, storage_nodes);
    let top: Vec<Bytes> = placed
        .iter()
        .filter(|n| n.position.len() < STORAGE_TOP_DEPTH)
        .map(|n| n.rlp.clone())
        .collect();
    assert!(
        top.len() > 1 && top.len() <= MAX_STORAGE_TOP_NODES,
        "{}",
        top.len()
    );
    let account = verify_storage_top_diff(state_root, address_hash, &witness, &top).unwrap();
    assert_eq!(account.unwrap().storage_root, storage_root);

    // A node from below the top.
    let deep = placed
        .iter()
        .find(|n| n.position.len() == STORAGE_TOP_DEPTH)
        .expect("a node at the top's depth");
    let mut too_deep = top.clone();
    too_deep.push(deep.rlp.clone());
    assert!(matches!(
        verify_storage_top_diff(state_root, address_hash, &witness, &too_deep),
        Err(ProofError::DiffTooDeep { .. })
    ));
    // A node of another trie.
    let mut unrelated = top.clone();
    unrelated.push(witness.0[0].clone());
    assert!(matches!(
        verify_storage_top_diff(state_root, address_hash, &witness, &unrelated),
        Err(ProofError::DiffUnrelatedNode { .. })
    ));
    // The storage root left out.
    assert!(matches!(
        verify_storage_top_diff(state_root, address_hash, &witness, &top[1..]),
        Err(ProofError::DiffRootMissing { .. })
    ));
    // Another account's path: its storage root is not the nodes' root.
    let other = keccak256(3u64.to_be_bytes());
    assert!(verify_storage_top_diff(state_root, other, &witness, &top).is_err());
    // A wrong state root.
    assert!(verify_storage_top_diff(B256::repeat_byte(9), address_hash, &witness, &top).is_err());
}
