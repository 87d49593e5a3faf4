//! Verifying per-block diff items, and placing a block's new trie nodes at their positions.
//!
//! A diff item is a *set* of trie nodes, not one path, so it is walked as a tree: from the root
//! named in the key, every hashed child whose position is compatible with the item's prefix
//! (on the way to it, or below it) is followed when the item holds it. The item verifies when
//!
//! - it holds the root, and every node decodes strictly (as in [`super::verify`]);
//! - every node is reached by that walk: nothing unrelated, nothing from another root;
//! - no node is missing on the way from the root down to the prefix (a hashed child at a
//!   position shorter than the prefix must be in the item): the chain is whole, so the item
//!   verifies against the state root alone. Below the prefix a child not in the item is an
//!   unchanged subtree, which the receiver already holds;
//! - for a storage top, no node lies at depth [`STORAGE_TOP_DEPTH`] or below;
//! - account leaves decode as accounts, and every leaf path ends at the 64th nibble.
//!
//! A node dropped from *below* the prefix cannot be told from an unchanged subtree here; the
//! re-anchoring walk that uses the item finds it as an unresolved reference (FRESHNESS.md,
//! result 3).

use super::error::{ProofError, TrieKind};
use super::verify::decode_node;
use crate::content::{NibblePrefix, Witness, STORAGE_TOP_DEPTH};
use alloy_primitives::{keccak256, Bytes, B256};
use alloy_trie::nodes::{RlpNode, TrieNode};
use alloy_trie::{Nibbles, TrieAccount, EMPTY_ROOT_HASH};
use std::collections::HashMap;

/// Nibbles in a hashed key.
const KEY_NIBBLES: usize = 64;

/// What a verified account diff proves: the new account leaves it carries (hashed key and
/// account), in position order.
pub type DiffLeaves = Vec<(B256, TrieAccount)>;

/// A node of a diff placed in its trie: its position (nibble path from the root) and bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlacedNode {
    /// The nibble path from the root to the node.
    pub position: Nibbles,
    /// The node's RLP.
    pub rlp: Bytes,
}

/// Whether a node at `position` lies on the way to `prefix` or below it.
pub(crate) fn compatible(position: &Nibbles, prefix: &[u8]) -> bool {
    let n = position.len().min(prefix.len());
    (0..n).all(|i| position.get(i) == Some(prefix[i]))
}

/// A child reference: by hash, or embedded in its parent.
enum Child<'a> {
    Hash(B256),
    Embedded(&'a [u8]),
}

fn child_of(child: &RlpNode) -> Result<Child<'_>, String> {
    let bytes = child.as_slice();
    match bytes {
        [0xa0, hash @ ..] if hash.len() == 32 => Ok(Child::Hash(B256::from_slice(hash))),
        [first, ..] if *first >= 0xc0 && bytes.len() < 32 => Ok(Child::Embedded(bytes)),
        _ => Err(format!(
            "child reference of {} byte(s) is neither a hash nor an embedded node",
            bytes.len()
        )),
    }
}

/// One node's children with their positions, and its leaf (full key, value) if it is one.
/// Embedded children are opened in place.
fn expand(
    node: TrieNode,
    position: &Nibbles,
    hashed: &mut Vec<(Nibbles, B256)>,
    leaves: &mut Vec<(Nibbles, Vec<u8>)>,
) -> Result<(), String> {
    match node {
        TrieNode::EmptyRoot => return Err("empty node below the root".into()),
        TrieNode::Branch(branch) => {
            let mut stack = branch.stack.iter();
            for nibble in 0u8..16 {
                if !branch.state_mask.is_bit_set(nibble) {
                    continue;
                }
                let child = stack.next().ok_or("branch child missing from its stack")?;
                let mut at = *position;
                at.push(nibble);
                if at.len() > KEY_NIBBLES {
                    return Err("branch below the full 64-nibble path".into());
                }
                visit_child(child, at, hashed, leaves)?;
            }
        }
        TrieNode::Extension(extension) => {
            let mut at = *position;
            at.extend(&extension.key);
            if extension.key.is_empty() || at.len() >= KEY_NIBBLES {
                return Err(format!(
                    "extension of {} nibble(s) at depth {}",
                    extension.key.len(),
                    position.len()
                ));
            }
            visit_child(&extension.child, at, hashed, leaves)?;
        }
        TrieNode::Leaf(leaf) => {
            let mut at = *position;
            at.extend(&leaf.key);
            if at.len() != KEY_NIBBLES {
                return Err(format!(
                    "leaf path of {} nibble(s) at depth {} does not end at nibble 64",
                    leaf.key.len(),
                    position.len()
                ));
            }
            leaves.push((at, leaf.value));
        }
    }
    Ok(())
}

fn visit_child(
    child: &RlpNode,
    at: Nibbles,
    hashed: &mut Vec<(Nibbles, B256)>,
    leaves: &mut Vec<(Nibbles, Vec<u8>)>,
) -> Result<(), String> {
    match child_of(child)? {
        Child::Hash(hash) => hashed.push((at, hash)),
        Child::Embedded(encoded) => expand(decode_node(encoded)?, &at, hashed, leaves)?,
    }
    Ok(())
}

/// The result of walking a diff's nodes from a root.
struct Walk {
    /// Each node's position, by index in the input (`None`: not reached).
    positions: Vec<Option<Nibbles>>,
    /// Leaves reached (full key, value), in walk order.
    leaves: Vec<(Nibbles, Vec<u8>)>,
}

/// Walk `nodes` from `root`, following hashed children for which `follow(position)` holds.
/// `required(position)`: a hashed child there must be among the nodes.
fn walk(
    trie: TrieKind,
    root: B256,
    nodes: &[Bytes],
    follow: impl Fn(&Nibbles) -> bool,
    required: impl Fn(&Nibbles) -> bool,
) -> Result<Walk, ProofError> {
    let mut index: HashMap<B256, usize> = HashMap::with_capacity(nodes.len());
    for (i, node) in nodes.iter().enumerate() {
        if index.insert(keccak256(node), i).is_some() {
            return Err(ProofError::DiffDuplicateNode { trie, index: i });
        }
    }
    let Some(&root_index) = index.get(&root) else {
        return Err(ProofError::DiffRootMissing { trie, root });
    };
    let mut positions: Vec<Option<Nibbles>> = vec![None; nodes.len()];
    let mut leaves = Vec::new();
    // Depth first, children in nibble order, so leaves come in key order.
    let mut pending = vec![(root_index, Nibbles::default())];
    while let Some((i, position)) = pending.pop() {
        if positions[i].is_some() {
            // The same bytes at two positions (identical subtrees): one copy serves both.
            continue;
        }
        let malformed = |reason: String| ProofError::MalformedNode {
            trie,
            index: i,
            reason,
        };
        let node = decode_node(&nodes[i]).map_err(malformed)?;
        if matches!(node, TrieNode::EmptyRoot) && position.is_empty() {
            positions[i] = Some(position);
            continue;
        }
        let mut hashed = Vec::new();
        expand(node, &position, &mut hashed, &mut leaves).map_err(malformed)?;
        positions[i] = Some(position);
        for (at, hash) in hashed.into_iter().rev() {
            if !follow(&at) {
                continue;
            }
            match index.get(&hash) {
                Some(&child) => pending.push((child, at)),
                None if required(&at) => {
                    return Err(ProofError::DiffChainBroken {
                        trie,
                        depth: at.len(),
                        missing: hash,
                    })
                }
                None => {}
            }
        }
    }
    if let Some(unreached) = positions.iter().position(Option::is_none) {
        return Err(ProofError::DiffUnrelatedNode {
            trie,
            index: unreached,
        });
    }
    Ok(Walk { positions, leaves })
}

/// Verify an account-trie diff item: `nodes` against `state_root` under `prefix` (module
/// docs). Returns the new account leaves it carries.
pub fn verify_account_diff(
    state_root: B256,
    prefix: &NibblePrefix,
    nodes: &[Bytes],
) -> Result<DiffLeaves, ProofError> {
    let trie = TrieKind::Account;
    if nodes.is_empty() {
        return if state_root == EMPTY_ROOT_HASH {
            Ok(Vec::new())
        } else {
            Err(ProofError::EmptyWitness {
                trie,
                root: state_root,
            })
        };
    }
    let p = prefix.nibbles();
    let walk = walk(
        trie,
        state_root,
        nodes,
        |at| compatible(at, p),
        |at| at.len() < p.len(),
    )?;
    walk.leaves
        .into_iter()
        .filter(|(key, _)| compatible(key, p))
        .map(|(key, value)| {
            let account = alloy_rlp::decode_exact::<TrieAccount>(&value)
                .map_err(|e| ProofError::BadAccountRlp(e.to_string()))?;
            Ok((B256::from_slice(&key.pack()), account))
        })
        .collect()
}

/// Verify a storage-top diff item: the account witness against `state_root` along
/// `address_hash`, then `storage_nodes` as the top of that account's storage trie (module
/// docs). Returns the account (`None`: proven absent, and then `storage_nodes` must be empty).
pub fn verify_storage_top_diff(
    state_root: B256,
    address_hash: B256,
    account_witness: &Witness,
    storage_nodes: &[Bytes],
) -> Result<Option<TrieAccount>, ProofError> {
    let account = super::verify::walk_witness(
        TrieKind::Account,
        state_root,
        &address_hash,
        account_witness.nodes(),
    )?
    .map(|value| {
        alloy_rlp::decode_exact::<TrieAccount>(&value)
            .map_err(|e| ProofError::BadAccountRlp(e.to_string()))
    })
    .transpose()?;
    let storage_root = account.map(|a| a.storage_root).unwrap_or(EMPTY_ROOT_HASH);
    if storage_nodes.is_empty() || storage_root == EMPTY_ROOT_HASH {
        return if storage_nodes.is_empty() {
            Ok(account)
        } else {
            Err(ProofError::StorageWitnessForMissingAccount {
                nodes: storage_nodes.len(),
            })
        };
    }
    let walk = walk(
        TrieKind::Storage,
        storage_root,
        storage_nodes,
        |_| true,
        |_| false,
    )?;
    if let Some(deep) = walk
        .positions
        .iter()
        .flatten()
        .find(|p| p.len() >= STORAGE_TOP_DEPTH)
    {
        return Err(ProofError::DiffTooDeep {
            depth: deep.len(),
            limit: STORAGE_TOP_DEPTH,
        });
    }
    Ok(account)
}

/// Place a block's new nodes in the trie of `root`: deduplicated, each with its position,
/// in position order (root first, then by depth, then by path). Nodes not reachable from the
/// root through the given nodes are dropped (they belong to no path of this root), and so is
/// the empty node `0x80`.
pub fn place_nodes(root: B256, nodes: impl IntoIterator<Item = Bytes>) -> Vec<PlacedNode> {
    let mut unique: Vec<Bytes> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for node in nodes {
        if node.as_ref() != [0x80] && seen.insert(keccak256(&node)) {
            unique.push(node);
        }
    }
    let index: HashMap<B256, usize> = unique
        .iter()
        .enumerate()
        .map(|(i, n)| (keccak256(n), i))
        .collect();
    let mut out = Vec::new();
    let mut placed = vec![false; unique.len()];
    let mut pending = match index.get(&root) {
        Some(&i) => vec![(i, Nibbles::default())],
        None => Vec::new(),
    };
    while let Some((i, position)) = pending.pop() {
        if std::mem::replace(&mut placed[i], true) {
            continue;
        }
        let Ok(node) = decode_node(&unique[i]) else {
            continue;
        };
        let mut hashed = Vec::new();
        let mut leaves = Vec::new();
        if expand(node, &position, &mut hashed, &mut leaves).is_err() {
            continue;
        }
        for (at, hash) in hashed {
            if let Some(&child) = index.get(&hash) {
                pending.push((child, at));
            }
        }
        out.push(PlacedNode {
            position,
            rlp: unique[i].clone(),
        });
    }
    out.sort_by_cached_key(|n| (n.position.len(), n.position.to_vec()));
    out
}
