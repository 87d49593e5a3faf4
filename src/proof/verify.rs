//! Verifying witnesses against a state root, and bytecode against a code hash.
//!
//! A witness is the list of RLP trie nodes on the path from the root (first) to the leaf named by
//! the key, or to the point that proves the key absent (last). Verification walks it along the
//! nibbles of the hashed key (`keccak(address)` in the state trie, `keccak(slot)` in a storage
//! trie) and accepts only a witness in which:
//!
//! - every node hashes (keccak, once per node) to the reference its parent holds; the first node
//!   to the root named in the key;
//! - every node and every node embedded in a parent (an RLP node shorter than 32 bytes is stored
//!   inline instead of by hash) decodes as a trie node with no trailing bytes;
//! - the walk ends at the last node: at a leaf whose path is the rest of the key (present), or at
//!   an empty branch slot or a leaf / extension whose path diverges from the key (absent);
//! - paths end exactly at the 64th nibble (a secure trie has no branch values and no short keys).
//!
//! Extra nodes after the end, missing nodes, and anything malformed are errors, never panics.
//! Node decoding is alloy-trie's [`TrieNode`]; the walk is ours because it must be stricter than
//! [`alloy_trie::proof::verify_proof`] (which, for instance, accepts nodes after a diverging
//! extension) and must return the leaf value instead of comparing it with an expected one.
//!
//! Storage witnesses for a contract proven absent must be empty (there is no storage root to
//! anchor them to). For an account whose storage root is the empty trie's root, the storage
//! witness is checked against that root like any other: the empty witness, or the single empty
//! node `0x80` (what `eth_getProof` clients send), proves every slot zero.

use super::error::{ProofError, TrieKind};
use crate::content::Witness;
use alloy_primitives::{keccak256, Address, Bytes, B256, U256};
use alloy_trie::nodes::{RlpNode, TrieNode};
use alloy_trie::{Nibbles, TrieAccount, EMPTY_ROOT_HASH};

/// Nibbles in a hashed key: every leaf of a secure trie sits at exactly this depth.
const KEY_NIBBLES: usize = 64;

/// Verify an account witness against `state_root`.
///
/// Returns the account, or `None` when the witness proves that no account lives at `address`.
pub fn verify_account(
    state_root: B256,
    address: Address,
    witness: &Witness,
) -> Result<Option<TrieAccount>, ProofError> {
    let leaf = walk_witness(
        TrieKind::Account,
        state_root,
        &keccak256(address),
        witness.nodes(),
    )?;
    leaf.map(|value| {
        alloy_rlp::decode_exact::<TrieAccount>(&value)
            .map_err(|e| ProofError::BadAccountRlp(e.to_string()))
    })
    .transpose()
}

/// Verify a storage value: the account witness against `state_root`, then the storage witness
/// against that account's storage root along `keccak(slot as 32 big-endian bytes)`.
///
/// Returns the slot's value; zero when the slot, or the whole account, is proven absent (as
/// Ethereum reads it). An account proven absent must come with an empty storage witness.
pub fn verify_storage(
    state_root: B256,
    address: Address,
    slot: U256,
    account_witness: &Witness,
    storage_witness: &Witness,
) -> Result<U256, ProofError> {
    let Some(account) = verify_account(state_root, address, account_witness)? else {
        return if storage_witness.nodes().is_empty() {
            Ok(U256::ZERO)
        } else {
            Err(ProofError::StorageWitnessForMissingAccount {
                nodes: storage_witness.nodes().len(),
            })
        };
    };
    let leaf = walk_witness(
        TrieKind::Storage,
        account.storage_root,
        &keccak256(slot.to_be_bytes::<32>()),
        storage_witness.nodes(),
    )?;
    match leaf {
        None => Ok(U256::ZERO),
        Some(value) => alloy_rlp::decode_exact::<U256>(&value)
            .map_err(|e| ProofError::BadStorageRlp(e.to_string())),
    }
}

/// Verify that `code` hashes to `code_hash`.
pub fn verify_bytecode(code_hash: B256, code: &[u8]) -> Result<(), ProofError> {
    let actual = keccak256(code);
    if actual == code_hash {
        Ok(())
    } else {
        Err(ProofError::CodeHashMismatch {
            expected: code_hash,
            actual,
        })
    }
}

/// Where one witness node sends the walk.
pub(crate) enum Step {
    /// On to the next witness node, which must hash to this.
    Descend(B256),
    /// The leaf of the key, with its value.
    Found(Vec<u8>),
    /// The key is proven absent.
    Absent,
}

/// A branch or extension child: by hash (a separate witness node) or embedded in the parent.
enum ChildRef<'a> {
    Hash(B256),
    Embedded(&'a [u8]),
}

/// Walk `nodes` from `root` along the nibbles of `hashed_key`; the leaf value, or `None` when
/// the key is proven absent.
pub(crate) fn walk_witness(
    trie: TrieKind,
    root: B256,
    hashed_key: &B256,
    nodes: &[Bytes],
) -> Result<Option<Vec<u8>>, ProofError> {
    if nodes.is_empty() {
        return if root == EMPTY_ROOT_HASH {
            Ok(None)
        } else {
            Err(ProofError::EmptyWitness { trie, root })
        };
    }
    let path = Nibbles::unpack_array(&hashed_key.0);
    let mut expected = root;
    let mut depth = 0usize;
    for (index, encoded) in nodes.iter().enumerate() {
        // The one keccak of this node: it is never hashed again.
        let actual = keccak256(encoded);
        if actual != expected {
            return Err(ProofError::NodeHashMismatch {
                trie,
                index,
                expected,
                actual,
            });
        }
        let malformed = |reason: String| ProofError::MalformedNode {
            trie,
            index,
            reason,
        };
        let node = decode_node(encoded).map_err(malformed)?;
        let step = match node {
            // The empty trie's root node: hashing matched, so the root is the empty root.
            TrieNode::EmptyRoot if index == 0 => Step::Absent,
            node => follow(node, &path, &mut depth).map_err(malformed)?,
        };
        match step {
            Step::Descend(hash) => expected = hash,
            Step::Found(value) => {
                ensure_last(trie, index, nodes.len())?;
                return Ok(Some(value));
            }
            Step::Absent => {
                ensure_last(trie, index, nodes.len())?;
                return Ok(None);
            }
        }
    }
    Err(ProofError::MissingNodes {
        trie,
        nodes: nodes.len(),
        pending: expected,
    })
}

fn ensure_last(trie: TrieKind, index: usize, len: usize) -> Result<(), ProofError> {
    let extra = len - index - 1;
    if extra == 0 {
        Ok(())
    } else {
        Err(ProofError::UnexpectedExtraNodes {
            trie,
            last_used: index,
            extra,
        })
    }
}

/// Decode one RLP trie node, rejecting trailing bytes (alloy's decoder leaves them unread) and
/// non-canonical leaf and extension encodings.
///
/// alloy's decoder ignores the padding nibble of an even-length path (`0x21…` reads as `0x20…`),
/// so two byte strings would decode to one node. That forges nothing (the bytes are bound by
/// their hash), but a witness should have exactly one valid form, so a leaf or extension must
/// re-encode to its own bytes. Both are small; branches have no such freedom.
pub(crate) fn decode_node(encoded: &[u8]) -> Result<TrieNode, String> {
    let mut rest = encoded;
    let node = <TrieNode as alloy_rlp::Decodable>::decode(&mut rest).map_err(|e| e.to_string())?;
    if !rest.is_empty() {
        return Err(format!("{} trailing byte(s) after the node", rest.len()));
    }
    if matches!(node, TrieNode::Leaf(_) | TrieNode::Extension(_))
        && alloy_rlp::encode(&node) != encoded
    {
        return Err("non-canonical path encoding".into());
    }
    Ok(node)
}

/// Follow one witness node (and any nodes embedded in it) along `path` from nibble `*depth`.
pub(crate) fn follow(
    mut node: TrieNode,
    path: &Nibbles,
    depth: &mut usize,
) -> Result<Step, String> {
    loop {
        let child = match node {
            TrieNode::EmptyRoot => return Err("empty node below the root".into()),
            TrieNode::Branch(branch) => {
                let nibble = path
                    .get(*depth)
                    .ok_or("branch node below the full 64-nibble path")?;
                if !branch.state_mask.is_bit_set(nibble) {
                    return Ok(Step::Absent);
                }
                // The stack holds only the set children, in nibble order.
                let below = branch.state_mask.get() & ((1u16 << nibble) - 1);
                let child = branch
                    .stack
                    .get(below.count_ones() as usize)
                    .ok_or("branch child missing from its stack")?
                    .clone();
                *depth += 1;
                child
            }
            TrieNode::Extension(extension) => {
                let end = *depth + extension.key.len();
                if extension.key.is_empty() || end >= KEY_NIBBLES {
                    return Err(format!(
                        "extension of {} nibble(s) at depth {}",
                        extension.key.len(),
                        *depth
                    ));
                }
                if path.slice(*depth..end) != extension.key {
                    // Off the key's path the child is not followed, but it must still be a hash
                    // or a node that decodes: a node with a garbage child is no trie node
                    // (alloy-trie's walk decodes it too). Found by fuzz target proof_verify.
                    if let ChildRef::Embedded(encoded) = child_ref(&extension.child)? {
                        decode_node(encoded)?;
                    }
                    return Ok(Step::Absent);
                }
                *depth = end;
                extension.child
            }
            TrieNode::Leaf(leaf) => {
                if *depth + leaf.key.len() != KEY_NIBBLES {
                    return Err(format!(
                        "leaf path of {} nibble(s) at depth {} does not end at nibble 64",
                        leaf.key.len(),
                        *depth
                    ));
                }
                return Ok(if path.slice(*depth..) == leaf.key {
                    Step::Found(leaf.value)
                } else {
                    Step::Absent
                });
            }
        };
        match child_ref(&child)? {
            ChildRef::Hash(hash) => return Ok(Step::Descend(hash)),
            ChildRef::Embedded(encoded) => node = decode_node(encoded)?,
        }
    }
}

/// Classify a child reference: `0xa0` + 32-byte hash, or an embedded RLP list under 32 bytes.
fn child_ref(child: &RlpNode) -> Result<ChildRef<'_>, String> {
    let bytes = child.as_slice();
    match bytes {
        [0xa0, hash @ ..] if hash.len() == 32 => Ok(ChildRef::Hash(B256::from_slice(hash))),
        [first, ..] if *first >= 0xc0 && bytes.len() < 32 => Ok(ChildRef::Embedded(bytes)),
        _ => Err(format!(
            "child reference of {} byte(s) is neither a hash nor an embedded node",
            bytes.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{address, b256, hex};
    use alloy_trie::{HashBuilder, KECCAK_EMPTY};

    /// A small trie built by alloy's hash builder, for walks that need no real data.
    fn two_leaf_trie() -> (B256, Vec<Bytes>, B256) {
        // Keys that share their first nibble, so the root is an extension or branch.
        let k1 = b256!("1100000000000000000000000000000000000000000000000000000000000000");
        let k2 = b256!("1200000000000000000000000000000000000000000000000000000000000000");
        let value = alloy_rlp::encode(U256::from(0xdeadbeefu64));
        let mut hb = HashBuilder::default().with_proof_retainer(
            alloy_trie::proof::ProofRetainer::new(vec![Nibbles::unpack(k1)]),
        );
        hb.add_leaf(Nibbles::unpack(k1), &value);
        hb.add_leaf(Nibbles::unpack(k2), &value);
        let root = hb.root();
        let nodes = hb
            .take_proof_nodes()
            .into_nodes_sorted()
            .into_iter()
            .map(|(_, n)| n)
            .filter(|n| n.len() >= 32)
            .collect();
        (root, nodes, k1)
    }

    #[test]
    fn walks_to_a_leaf_through_an_extension() {
        let (root, nodes, key) = two_leaf_trie();
        let value = walk_witness(TrieKind::Storage, root, &key, &nodes).unwrap();
        assert_eq!(
            value.as_deref(),
            Some(&alloy_rlp::encode(U256::from(0xdeadbeefu64))[..])
        );
        // The root is an extension (shared nibble 1) whose branch child holds both leaves.
        assert!(matches!(
            decode_node(&nodes[0]).unwrap(),
            TrieNode::Extension(_)
        ));
    }

    #[test]
    fn diverging_extension_proves_absence() {
        let (root, nodes, _) = two_leaf_trie();
        let other = b256!("2200000000000000000000000000000000000000000000000000000000000000");
        assert_eq!(
            walk_witness(TrieKind::Storage, root, &other, &nodes[..1]),
            Ok(None)
        );
        // The same exclusion with the branch and leaf appended has nodes that prove nothing.
        let r = walk_witness(TrieKind::Storage, root, &other, &nodes);
        assert!(
            matches!(r, Err(ProofError::UnexpectedExtraNodes { extra: 2, .. })),
            "{r:?} {nodes:?}"
        );
    }

    #[test]
    fn empty_root_and_empty_witness() {
        let key = B256::repeat_byte(7);
        assert_eq!(
            walk_witness(TrieKind::Storage, EMPTY_ROOT_HASH, &key, &[]),
            Ok(None)
        );
        let empty_node = [Bytes::from_static(&[0x80])];
        assert_eq!(
            walk_witness(TrieKind::Storage, EMPTY_ROOT_HASH, &key, &empty_node),
            Ok(None)
        );
        let root = B256::repeat_byte(1);
        assert_eq!(
            walk_witness(TrieKind::Account, root, &key, &[]),
            Err(ProofError::EmptyWitness {
                trie: TrieKind::Account,
                root
            })
        );
    }

    #[test]
    fn trailing_bytes_are_malformed() {
        let node = Bytes::from(hex!("c2808000").to_vec());
        let root = keccak256(&node);
        assert!(matches!(
            walk_witness(TrieKind::Account, root, &B256::ZERO, &[node]),
            Err(ProofError::MalformedNode { index: 0, .. })
        ));
    }

    #[test]
    fn non_canonical_path_padding_is_malformed() {
        let (_, nodes, key) = two_leaf_trie();
        let leaf = nodes.last().unwrap();
        let node: TrieNode = alloy_rlp::decode_exact(leaf).unwrap();
        let TrieNode::Leaf(_) = node else {
            panic!("expected a leaf")
        };
        // The leaf sits at depth 2; its 62-nibble path is even, flag byte 0x20 at offset 2.
        let flag_at = leaf.iter().position(|&b| b == 0x20).unwrap();
        let mut padded = leaf.to_vec();
        padded[flag_at] = 0x21;
        let root = keccak256(&padded);
        let err = walk_witness(TrieKind::Storage, root, &key, &[Bytes::from(padded)]);
        assert!(
            matches!(err, Err(ProofError::MalformedNode { .. })),
            "{err:?}"
        );
    }

    #[test]
    fn bytecode_hash() {
        assert_eq!(verify_bytecode(KECCAK_EMPTY, &[]), Ok(()));
        assert!(matches!(
            verify_bytecode(KECCAK_EMPTY, &[0x00]),
            Err(ProofError::CodeHashMismatch { .. })
        ));
    }

    #[test]
    fn missing_account_needs_empty_storage_witness() {
        let address = address!("00000000000000000000000000000000000000aa");
        let no_nodes = Witness::default();
        assert_eq!(
            verify_storage(
                EMPTY_ROOT_HASH,
                address,
                U256::from(1),
                &no_nodes,
                &no_nodes
            ),
            Ok(U256::ZERO)
        );
        let one_node = Witness(vec![Bytes::from_static(&[0x80])]);
        assert_eq!(
            verify_storage(
                EMPTY_ROOT_HASH,
                address,
                U256::from(1),
                &no_nodes,
                &one_node
            ),
            Err(ProofError::StorageWitnessForMissingAccount { nodes: 1 })
        );
    }
}
