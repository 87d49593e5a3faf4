//! Cutting one block's new trie nodes into diff items (issue #14; DESIGN.md, "Freshness").
//!
//! The nodes come from the block's `eth_getProof` answers at the new root: the account proof of
//! every created, modified and deleted account (a deleted one's is its absence proof) and the
//! storage proofs of every written slot. Deduplicated and placed at their trie positions
//! ([`crate::proof::place_nodes`]), the account-trie nodes are cut into a *prefix-free cover*
//! of the key space: starting from the empty prefix, a prefix is split into its 16 children
//! while new nodes lie strictly below it and it is shorter than the tile depth (or its item
//! would exceed [`MAX_DIFF_NODES`]). Each emitted prefix's item holds every new node at a
//! position compatible with it, the root's path included, so every key lies in exactly one
//! item of the block and every node whose range changed, or whose path from the root did,
//! finds its item: even a range nothing in changed gets the new nodes above it (the new root
//! at least), which re-anchoring needs.
//!
//! Storage tries: one storage-top item per contract whose slots the block wrote, with the
//! contract's account proof and its new storage nodes above [`STORAGE_TOP_DEPTH`].

use super::proofs::AccountProof;
use super::BridgeError;
use crate::content::{
    AccountDiffKey, ContentKey, ContentValue, DiffNodes, NibblePrefix, StorageTopDiffKey,
    MAX_DIFF_NODES, MAX_DIFF_PREFIX_NIBBLES, MAX_STORAGE_TOP_NODES, STORAGE_TOP_DEPTH,
};
use crate::proof::{self, place_nodes, position_compatible, PlacedNode, VerifiedContent};
use alloy_primitives::{keccak256, Bytes, B256};
use alloy_trie::EMPTY_ROOT_HASH;

/// Default tile depth of account-trie diff items: 2 nibbles, 256 tiles (FRESHNESS.md's
/// D ≈ 2-3; at 600 changed accounts per block almost every depth-2 tile changes, so finer
/// tiles would mostly repeat the top nodes).
pub const DEFAULT_TILE_DEPTH: usize = 2;

/// Cut placed account-trie nodes into `(prefix, nodes)` items (module docs).
pub fn cut_account_nodes(
    placed: &[PlacedNode],
    tile_depth: usize,
) -> Vec<(NibblePrefix, Vec<Bytes>)> {
    let mut out = Vec::new();
    if !placed.is_empty() {
        cut(placed, NibblePrefix::ROOT, tile_depth, &mut out);
    }
    out
}

fn cut(
    placed: &[PlacedNode],
    prefix: NibblePrefix,
    tile_depth: usize,
    out: &mut Vec<(NibblePrefix, Vec<Bytes>)>,
) {
    let p = prefix.nibbles();
    let inside: Vec<&PlacedNode> = placed
        .iter()
        .filter(|n| position_compatible(&n.position, p))
        .collect();
    let deeper = inside.iter().any(|n| n.position.len() > p.len());
    let too_big = inside.len() > MAX_DIFF_NODES;
    if deeper && (p.len() < tile_depth || too_big) && p.len() < MAX_DIFF_PREFIX_NIBBLES {
        for nibble in 0..16 {
            if let Some(child) = prefix.child(nibble) {
                cut(placed, child, tile_depth, out);
            }
        }
        return;
    }
    out.push((prefix, inside.into_iter().map(|n| n.rlp.clone()).collect()));
}

/// The diff items of one block, each verified against `state_root` as a receiver will verify
/// it: the account-trie items cut at `tile_depth`, then a storage top per written contract.
pub fn block_diff_items(
    block_hash: B256,
    state_root: B256,
    proofs: &[AccountProof],
    tile_depth: usize,
) -> Result<Vec<VerifiedContent>, BridgeError> {
    let account_nodes = proofs
        .iter()
        .flat_map(|p| p.account_proof.nodes().iter().cloned());
    let placed = place_nodes(state_root, account_nodes);
    let mut items = Vec::new();
    for (prefix, nodes) in cut_account_nodes(&placed, tile_depth) {
        let key = ContentKey::AccountDiff(AccountDiffKey {
            block_hash,
            state_root,
            prefix,
        });
        items.push(verified(
            format!("account diff {prefix:?}"),
            key,
            ContentValue::AccountDiff(DiffNodes(nodes)),
        )?);
    }
    for proof in proofs {
        if proof.storage_proof.is_empty() {
            continue;
        }
        let storage_root = proof.storage_hash;
        let top: Vec<Bytes> = if storage_root == EMPTY_ROOT_HASH || storage_root == B256::ZERO {
            Vec::new()
        } else {
            let slot_nodes = proof
                .storage_proof
                .iter()
                .flat_map(|s| s.proof.nodes().iter().cloned());
            place_nodes(storage_root, slot_nodes)
                .into_iter()
                .filter(|n| n.position.len() < STORAGE_TOP_DEPTH)
                // Position order is by depth, so a cut keeps every kept node's parent.
                .take(MAX_STORAGE_TOP_NODES)
                .map(|n| n.rlp)
                .collect()
        };
        let address_hash = keccak256(proof.address);
        let key = ContentKey::StorageTopDiff(StorageTopDiffKey {
            block_hash,
            state_root,
            address_hash,
        });
        items.push(verified(
            format!("storage top diff {:#x}", proof.address),
            key,
            ContentValue::StorageTopDiff {
                account_witness: proof.account_proof.clone(),
                storage_nodes: DiffNodes(top),
            },
        )?);
    }
    Ok(items)
}

/// Check the wire limits and verify, naming the item on failure.
fn verified(
    item: String,
    key: ContentKey,
    value: ContentValue,
) -> Result<VerifiedContent, BridgeError> {
    ContentValue::decode(&key, &value.encode()).map_err(|e| BridgeError::OverLimit {
        item: item.clone(),
        reason: e.to_string(),
    })?;
    proof::verify(key, value).map_err(|source| BridgeError::InvalidProof { item, source })
}

#[cfg(test)]
mod sim;
#[cfg(test)]
mod tests;
