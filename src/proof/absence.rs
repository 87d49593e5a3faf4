//! Proofs of absence assembled from the witnesses of neighbouring keys.
//!
//! A key that is not in a trie is proven absent by the path from the root to the point where
//! the key leaves the trie (an empty branch slot, or a leaf or extension whose path diverges).
//! Every node on that path also lies on the path of the key's neighbours in key order, so a node
//! that stores the witnesses of the leaves on either side of a key can prove the key absent
//! without anyone having stored a proof for it. The ring distance (seed 001) is what makes a
//! node hold those neighbours: they sit next to the key's content id.

use super::dispatch::verify;
use super::error::TrieKind;
use super::verified::VerifiedContent;
use super::verify::{decode_node, follow, verify_account, walk_witness, Step};
use crate::content::{AccountKey, ContentId, ContentKey, ContentValue, Witness};
use alloy_primitives::{keccak256, Address, Bytes, B256};
use alloy_trie::Nibbles;
use alloy_trie::EMPTY_ROOT_HASH;
use std::collections::HashMap;

/// A witness proving `hashed_key` absent from the trie whose root is `root`, built from the
/// nodes of `known` witnesses of the same trie. `None` when those nodes do not reach the point
/// where the key leaves the trie, or when the key is in fact present.
///
/// The result is checked with the verifier before it is returned.
pub fn absence_witness(
    trie: TrieKind,
    root: B256,
    hashed_key: B256,
    known: &[&Witness],
) -> Option<Witness> {
    let by_hash: HashMap<B256, &Bytes> = known
        .iter()
        .flat_map(|w| w.nodes().iter())
        .map(|node| (keccak256(node), node))
        .collect();
    let path = Nibbles::unpack_array(&hashed_key.0);
    let mut expected = root;
    let mut depth = 0usize;
    let mut nodes = Vec::new();
    // A secure trie is at most 64 nibbles deep, so the walk takes at most 65 nodes.
    for _ in 0..=64 {
        let encoded = *by_hash.get(&expected)?;
        nodes.push(encoded.clone());
        let node = decode_node(encoded).ok()?;
        match follow(node, &path, &mut depth).ok()? {
            Step::Descend(next) => expected = next,
            Step::Found(_) => return None,
            Step::Absent => break,
        }
    }
    // Only a witness the verifier accepts as a proof of absence leaves this function.
    match walk_witness(trie, root, &hashed_key, &nodes) {
        Ok(None) => Some(Witness(nodes)),
        _ => None,
    }
}

/// Stored items near a key that is not stored, from which [`prove_absence`] assembles a proof.
///
/// The content store implements it (`crate::store`); proofs only read through it, so this
/// module needs nothing from the store's layer. A failed read is an empty answer: then no
/// proof is assembled, and the key is answered as not held.
pub trait NeighbourItems {
    /// Stored account items nearest to `id` on the ring under `state_root`, up to `per_side`
    /// on each side.
    fn accounts_near(
        &self,
        id: ContentId,
        state_root: B256,
        per_side: usize,
    ) -> Vec<(ContentKey, ContentValue)>;
    /// Stored storage items of the contract at `address` nearest to `id` on the ring under
    /// `state_root`, up to `per_side` on each side.
    fn slots_near(
        &self,
        id: ContentId,
        address: Address,
        state_root: B256,
        per_side: usize,
    ) -> Vec<(ContentKey, ContentValue)>;
    /// The stored value of `key`, if any.
    fn item(&self, key: &ContentKey) -> Option<ContentValue>;
}

/// Stored neighbours asked for on each side of an absent key: the two leaves next to it in key
/// order are enough when they are stored; a second on each side covers a gap in the store.
const NEIGHBOURS_PER_SIDE: usize = 2;

/// A proof that `key` is absent (an account that does not exist, a slot that reads zero),
/// assembled from the witnesses `items` holds for its neighbours. `None` when they do not
/// prove it (or the key is present, or is bytecode, which has no proof of absence).
///
/// The result has passed [`verify`]: only what verifies is ever served.
pub fn prove_absence(key: &ContentKey, items: &impl NeighbourItems) -> Option<VerifiedContent> {
    let value = match key {
        ContentKey::Account(k) => {
            let near = items.accounts_near(key.content_id(), k.state_root, NEIGHBOURS_PER_SIDE);
            let witnesses: Vec<&Witness> = near
                .iter()
                .filter_map(|(nk, v)| match (nk, v) {
                    (ContentKey::Account(a), ContentValue::Account(w))
                        if a.state_root == k.state_root =>
                    {
                        Some(w)
                    }
                    _ => None,
                })
                .collect();
            let w = absence_witness(
                TrieKind::Account,
                k.state_root,
                keccak256(k.address),
                &witnesses,
            )?;
            ContentValue::Account(w)
        }
        ContentKey::Storage(k) => {
            let near = items.slots_near(
                key.content_id(),
                k.address,
                k.state_root,
                NEIGHBOURS_PER_SIDE,
            );
            // The contract's account witness: its own item, or any of its storage items.
            let same_contract = |nk: &ContentKey| matches!(nk, ContentKey::Storage(s) if s.address == k.address && s.state_root == k.state_root);
            let account_key = ContentKey::Account(AccountKey {
                address: k.address,
                state_root: k.state_root,
            });
            let account_witness = match items.item(&account_key) {
                Some(ContentValue::Account(w)) => w,
                _ => near.iter().find_map(|(nk, v)| match v {
                    ContentValue::Storage {
                        account_witness, ..
                    } if same_contract(nk) => Some(account_witness.clone()),
                    _ => None,
                })?,
            };
            let account = verify_account(k.state_root, k.address, &account_witness).ok()?;
            let storage_witness = match account {
                // No contract, or no storage: every slot reads zero with an empty witness.
                None => Witness::default(),
                Some(a) if a.storage_root == EMPTY_ROOT_HASH => Witness::default(),
                Some(a) => {
                    let witnesses: Vec<&Witness> = near
                        .iter()
                        .filter_map(|(nk, v)| match v {
                            ContentValue::Storage {
                                storage_witness, ..
                            } if same_contract(nk) => Some(storage_witness),
                            _ => None,
                        })
                        .collect();
                    absence_witness(
                        TrieKind::Storage,
                        a.storage_root,
                        keccak256(k.slot.to_be_bytes::<32>()),
                        &witnesses,
                    )?
                }
            };
            ContentValue::Storage {
                account_witness,
                storage_witness,
            }
        }
        // Bytecode is there or not; a diff item exists or not: neither has an absence proof.
        ContentKey::Bytecode(_) | ContentKey::AccountDiff(_) | ContentKey::StorageTopDiff(_) => {
            return None
        }
    };
    // Only what verifies is ever sent.
    verify(*key, value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proof::{build_witnesses, verify_account, GenesisAccount, GenesisAlloc};
    use alloy_primitives::{Address, U256};

    #[test]
    fn absence_from_the_neighbours_witnesses() {
        let alloc: GenesisAlloc = (1u8..=200)
            .map(|i| {
                (
                    Address::repeat_byte(i),
                    GenesisAccount::with_balance(U256::from(i)),
                )
            })
            .collect();
        let state = build_witnesses(&alloc);
        let mut tried = 0;
        for probe in 0u8..50 {
            let absent = Address::from([probe; 20]).into_array();
            let mut bytes = absent;
            bytes[0] ^= 0x5a; // an address not in the alloc
            let absent = Address::from(bytes);
            if alloc.get(&absent).is_some() {
                continue;
            }
            let hashed = keccak256(absent);
            // The present keys on either side of `hashed` in key order.
            let mut present: Vec<(B256, Address)> =
                alloc.iter().map(|(a, _)| (keccak256(a), *a)).collect();
            present.sort();
            let at = present.partition_point(|(h, _)| *h < hashed);
            let neighbours: Vec<Witness> = [at.checked_sub(1), Some(at)]
                .into_iter()
                .flatten()
                .filter_map(|i| present.get(i))
                .map(|(_, a)| state.account_witness(*a))
                .collect();
            let refs: Vec<&Witness> = neighbours.iter().collect();
            let witness = absence_witness(TrieKind::Account, state.state_root, hashed, &refs)
                .expect("neighbours prove the absence");
            assert_eq!(verify_account(state.state_root, absent, &witness), Ok(None));
            // One neighbour far away is not enough in general, and never yields a wrong proof.
            let far = state.account_witness(present[(at + 100) % present.len()].1);
            if let Some(w) = absence_witness(TrieKind::Account, state.state_root, hashed, &[&far]) {
                assert_eq!(verify_account(state.state_root, absent, &w), Ok(None));
            }
            tried += 1;
        }
        assert!(tried > 40);
        // A present key is never "proven absent".
        let (a, _) = alloc.iter().next().unwrap();
        let own = state.account_witness(*a);
        assert!(
            absence_witness(TrieKind::Account, state.state_root, keccak256(a), &[&own]).is_none()
        );
    }
}
