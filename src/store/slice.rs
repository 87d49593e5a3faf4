//! Slices: the trie nodes of the items a store holds, each stored once by its hash and shared
//! between every leaf whose witness passes through it.
//!
//! # Representation
//!
//! * `trie_nodes (hash, refs, rlp)`: one row per distinct RLP trie node, keyed by its keccak
//!   hash, with `refs` = the number of stored items whose witness contains it. Account-trie and
//!   storage-trie nodes share the table (a node is its bytes; which trie it sits in does not
//!   matter to whoever walks it by hash).
//! * A trie item's `content` row keeps only its key (which names the root: the state root) and a
//!   small `form` flag (below). Its witness is not stored: it is *assembled* by walking the
//!   nodes from the key's root along the hashed key, which yields exactly the nodes of the
//!   verified witness that was put, in the same order, byte for byte (a verified witness is the
//!   unique path of hashed nodes from the root, [`crate::proof::verify`]).
//! * The range's two boundary paths are the witnesses of its first and last stored leaves, so
//!   they are kept as long as those leaves are (they hold references like any leaf).
//!
//! A node goes when the last item that references it is pruned and no anchored slice holds it
//! (`anchor_refs`, schema 4: `anchor.rs`). Nodes are addressed by hash and items name their
//! root, so re-anchoring (issue #14: move a range to the next root given the block's new nodes)
//! adds nodes at the new root without touching the old ones.
//!
//! # What is checked on the way out
//!
//! Every node read is hashed and compared with the reference that led to it; a missing node, a
//! node whose bytes do not hash to its key, or one that does not decode is a
//! [`StoreError::CorruptValue`], never a wrong witness.

use super::{classify, StoreError};
use crate::content::{ContentKey, ContentValue, Witness};
use crate::proof::{decode_trie_node, follow_trie_node, TrieStep};
use alloy_primitives::{keccak256, Bytes, B256};
use alloy_trie::{Nibbles, TrieAccount, EMPTY_ROOT_HASH};
use rusqlite::{Connection, OptionalExtension};
use std::path::Path;

/// Bytes one stored trie node counts against the capacity: its 32-byte hash plus its RLP.
pub(super) fn node_bytes(rlp_len: usize) -> u64 {
    32 + rlp_len as u64
}

/// `form` bit: the account witness of an item at the empty state root is the single empty node
/// `0x80` (rather than no node at all; both verify, and the store gives back what it was given).
const FORM_ACCOUNT_EMPTY_NODE: i64 = 1;
/// `form` bit: the storage witness, at the empty storage root, is the single node `0x80`.
const FORM_STORAGE_EMPTY_NODE: i64 = 2;

/// The single RLP node of the empty trie.
const EMPTY_NODE: &[u8] = &[0x80];

/// How a trie item is kept: its `form` flags and the witness nodes it adds to the slice.
pub(super) struct TrieItem<'a> {
    pub(super) form: i64,
    pub(super) nodes: Vec<&'a Bytes>,
}

/// The nodes a verified trie value adds to the slice, or `None` for a value stored whole
/// (bytecode). A witness at the empty root holds no node worth storing: its `0x80` (if any) is
/// a flag.
pub(super) fn trie_item(value: &ContentValue) -> Option<TrieItem<'_>> {
    fn split(witness: &Witness, bit: i64) -> (i64, Vec<&Bytes>) {
        match witness.nodes() {
            [only] if only.as_ref() == EMPTY_NODE => (bit, Vec::new()),
            nodes => (0, nodes.iter().collect()),
        }
    }
    match value {
        ContentValue::Account(witness) => {
            let (form, nodes) = split(witness, FORM_ACCOUNT_EMPTY_NODE);
            Some(TrieItem { form, nodes })
        }
        ContentValue::Storage {
            account_witness,
            storage_witness,
        } => {
            let (account_form, mut nodes) = split(account_witness, FORM_ACCOUNT_EMPTY_NODE);
            let (storage_form, storage_nodes) = split(storage_witness, FORM_STORAGE_EMPTY_NODE);
            nodes.extend(storage_nodes);
            Some(TrieItem {
                form: account_form | storage_form,
                nodes,
            })
        }
        // Stored whole in their rows, like bytecode: a diff item is kept as the bridge cut it
        // (served as is for K blocks to nodes that missed the block).
        ContentValue::Bytecode(_)
        | ContentValue::AccountDiff(_)
        | ContentValue::StorageTopDiff { .. } => None,
    }
}

/// Add one reference to each of `nodes`, inserting those not yet stored. Returns the bytes
/// the new rows count.
pub(super) fn add_nodes(
    conn: &Connection,
    path: &Path,
    nodes: &[&Bytes],
) -> Result<u64, StoreError> {
    let err = |e| classify(path, e);
    let mut bump = conn
        .prepare_cached("UPDATE trie_nodes SET refs = refs + 1 WHERE hash = ?1")
        .map_err(err)?;
    let mut insert = conn
        .prepare_cached("INSERT INTO trie_nodes (hash, refs, rlp) VALUES (?1, 1, ?2)")
        .map_err(err)?;
    let mut added = 0;
    for node in nodes {
        let hash = keccak256(node);
        if bump.execute([hash.as_slice()]).map_err(err)? == 0 {
            insert
                .execute((hash.as_slice(), node.as_ref()))
                .map_err(err)?;
            added += node_bytes(node.len());
        }
    }
    Ok(added)
}

/// Drop one reference from each node of the witness of `key` (read back from the slice),
/// deleting the nodes no item references any more. Returns the bytes freed.
pub(super) fn release_item(
    conn: &Connection,
    path: &Path,
    key: &ContentKey,
    form: i64,
) -> Result<u64, StoreError> {
    let err = |e| classify(path, e);
    let nodes = match assemble(conn, path, key, form)? {
        ContentValue::Account(witness) => witness.0,
        ContentValue::Storage {
            account_witness,
            storage_witness,
        } => {
            let mut nodes = account_witness.0;
            nodes.extend(storage_witness.0);
            nodes
        }
        ContentValue::Bytecode(_)
        | ContentValue::AccountDiff(_)
        | ContentValue::StorageTopDiff { .. } => return Ok(0),
    };
    let mut drop_ref = conn
        .prepare_cached(
            "UPDATE trie_nodes SET refs = refs - 1 WHERE hash = ?1 RETURNING refs, anchor_refs",
        )
        .map_err(err)?;
    let mut delete = conn
        .prepare_cached("DELETE FROM trie_nodes WHERE hash = ?1")
        .map_err(err)?;
    let mut freed = 0;
    for node in nodes.iter().filter(|n| n.as_ref() != EMPTY_NODE) {
        let hash = keccak256(node);
        let refs: Option<(i64, i64)> = drop_ref
            .query_row([hash.as_slice()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(err)?;
        match refs {
            // An anchored slice still holds it (`anchor.rs`): it stays.
            Some((refs, anchor_refs)) if refs <= 0 && anchor_refs <= 0 => {
                delete.execute([hash.as_slice()]).map_err(err)?;
                freed += node_bytes(node.len());
            }
            Some(_) => {}
            None => {
                return Err(corrupt(
                    path,
                    format!("trie node {hash} vanished while pruning"),
                ));
            }
        }
    }
    Ok(freed)
}

/// The value of a trie item, assembled from the slice: the witness from the key's state root
/// along `keccak(address)`, and for a slot the storage witness from the account's storage root
/// along `keccak(slot)`.
pub(super) fn assemble(
    conn: &Connection,
    path: &Path,
    key: &ContentKey,
    form: i64,
) -> Result<ContentValue, StoreError> {
    match key {
        ContentKey::Account(k) => {
            let (witness, _) = walk(
                conn,
                path,
                k.state_root,
                &keccak256(k.address),
                form & FORM_ACCOUNT_EMPTY_NODE != 0,
            )?;
            Ok(ContentValue::Account(witness))
        }
        ContentKey::Storage(k) => {
            let (account_witness, leaf) = walk(
                conn,
                path,
                k.state_root,
                &keccak256(k.address),
                form & FORM_ACCOUNT_EMPTY_NODE != 0,
            )?;
            let storage_witness = match leaf {
                // The account is absent: no storage root, no storage witness.
                None => Witness::default(),
                Some(leaf) => {
                    let account = alloy_rlp::decode_exact::<TrieAccount>(&leaf)
                        .map_err(|e| corrupt(path, format!("account leaf: {e}")))?;
                    walk(
                        conn,
                        path,
                        account.storage_root,
                        &keccak256(k.slot.to_be_bytes::<32>()),
                        form & FORM_STORAGE_EMPTY_NODE != 0,
                    )?
                    .0
                }
            };
            Ok(ContentValue::Storage {
                account_witness,
                storage_witness,
            })
        }
        ContentKey::Bytecode(_) | ContentKey::AccountDiff(_) | ContentKey::StorageTopDiff(_) => {
            Err(corrupt(
                path,
                "a row stored whole is marked as held in trie nodes".into(),
            ))
        }
    }
}

/// Walk the stored nodes from `root` along `hashed_key`: the witness (root first) and the leaf
/// value when the key is present. `empty_node`: at the empty root, give back `[0x80]` instead
/// of no node.
pub(super) fn walk(
    conn: &Connection,
    path: &Path,
    root: B256,
    hashed_key: &B256,
    empty_node: bool,
) -> Result<(Witness, Option<Vec<u8>>), StoreError> {
    let err = |e| classify(path, e);
    if root == EMPTY_ROOT_HASH {
        let nodes = if empty_node {
            vec![Bytes::from_static(EMPTY_NODE)]
        } else {
            Vec::new()
        };
        return Ok((Witness(nodes), None));
    }
    let mut read = conn
        .prepare_cached("SELECT rlp FROM trie_nodes WHERE hash = ?1")
        .map_err(err)?;
    let key_path = Nibbles::unpack_array(&hashed_key.0);
    let mut expected = root;
    let mut depth = 0usize;
    let mut nodes = Vec::new();
    loop {
        let rlp: Vec<u8> = read
            .query_row([expected.as_slice()], |r| r.get(0))
            .optional()
            .map_err(err)?
            .ok_or_else(|| corrupt(path, format!("trie node {expected} is missing")))?;
        let actual = keccak256(&rlp);
        if actual != expected {
            return Err(corrupt(
                path,
                format!("trie node {expected} holds bytes that hash to {actual}"),
            ));
        }
        let node = decode_trie_node(&rlp)
            .map_err(|e| corrupt(path, format!("trie node {expected}: {e}")))?;
        let step = follow_trie_node(node, &key_path, &mut depth)
            .map_err(|e| corrupt(path, format!("trie node {expected}: {e}")))?;
        nodes.push(Bytes::from(rlp));
        match step {
            TrieStep::Descend(next) => expected = next,
            TrieStep::Found(value) => return Ok((Witness(nodes), Some(value))),
            TrieStep::Absent => return Ok((Witness(nodes), None)),
        }
    }
}

fn corrupt(path: &Path, reason: String) -> StoreError {
    StoreError::CorruptValue {
        path: path.to_path_buf(),
        what: "trie node",
        reason,
    }
}
