//! Re-anchoring a slice to the next root (issue #14): the walk over the new trie, without I/O.
//!
//! A storage node holds the *slice* of a trie for a range of hashed keys: every trie node whose
//! prefix range (all keys that start with the node's path) meets the range. That is the paths
//! of every key in the range plus the two boundary paths (the walks along the range's first and
//! last key, FRESHNESS.md result 3), so every key of the range, present or absent, has its
//! proof in the slice.
//!
//! Given the slice complete at the old root R (in a [`NodeSource`]), the new root R' and the
//! block's diff nodes (a [`DiffPool`]: the proofs at R' of every created and modified key and
//! the absence proofs of deleted ones), [`walk_new_root`] walks R' over the range and returns
//! the new nodes that make the slice complete at R', or the references it could not resolve.
//!
//! # The walk
//!
//! It descends the new trie from R' into every child whose prefix range meets the range, and
//! keeps beside it a cursor in the old trie at the same path. At each child reference:
//!
//! 1. the old trie has the same reference at the same path: the subtree is unchanged, and
//!    complete at R, so it is not descended (the cost is in proportion to the changed paths,
//!    not to the range);
//! 2. an embedded node (under 32 bytes) is part of its parent: descended as it is;
//! 3. a hash is looked up in the diff, then in the source (a node may already be stored);
//! 4. else FRESHNESS.md's rule 2: when an insert split a leaf or extension above a cold key,
//!    the new trie holds that old node with the consumed nibbles dropped from its path, and no
//!    diff carries it. If the old cursor stands inside a leaf or extension that spans the path,
//!    that node with its path shortened is hashed and compared with the reference;
//! 5. else the reference is *missing*: its hash and nibble path are reported (what the caller
//!    fetches), and the walk goes on with the other children so that all of them are named.
//!
//! Every node taken is reached by its hash from R', so nothing unverified is returned. The old
//! cursor reads a stored node only where the new trie differs, so the reads too are in
//! proportion to the changed paths.

use super::verify::decode_node;
use alloy_primitives::{keccak256, Bytes, B256};
use alloy_trie::nodes::{ExtensionNode, LeafNode, RlpNode, TrieNode};
use alloy_trie::{Nibbles, EMPTY_ROOT_HASH};
use std::collections::{HashMap, HashSet};
use std::convert::Infallible;

/// A range of hashed keys on the ring, both ends included: `first..=last`, and when
/// `first > last` it wraps through `0xff..ff` to `0x00..00`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyRange {
    /// The first key of the range.
    pub first: B256,
    /// The last key of the range (below `first` when the range wraps).
    pub last: B256,
}

impl KeyRange {
    /// The whole key space.
    pub const WHOLE: KeyRange = KeyRange {
        first: B256::ZERO,
        last: B256::repeat_byte(0xff),
    };

    /// The range `first..=last` (wrapping when `first > last`).
    pub fn new(first: B256, last: B256) -> Self {
        Self { first, last }
    }

    /// Whether the range wraps through the top of the key space.
    pub fn wraps(&self) -> bool {
        self.first > self.last
    }

    /// Whether `key` lies in the range.
    pub fn contains(&self, key: &B256) -> bool {
        if self.wraps() {
            *key >= self.first || *key <= self.last
        } else {
            *key >= self.first && *key <= self.last
        }
    }

    /// Whether some key starting with `prefix` lies in the range: whether a trie node at that
    /// path belongs to the range's slice.
    pub fn meets_prefix(&self, prefix: &Nibbles) -> bool {
        let low = padded(prefix, 0x0);
        let high = padded(prefix, 0xf);
        if self.wraps() {
            high >= self.first || low <= self.last
        } else {
            low <= self.last && high >= self.first
        }
    }
}

/// The 32-byte key made of `prefix` followed by `fill` nibbles.
fn padded(prefix: &Nibbles, fill: u8) -> B256 {
    let mut out = [fill << 4 | fill; 32];
    for i in 0..prefix.len().min(64) {
        let nibble = prefix.get_unchecked(i);
        let byte = &mut out[i / 2];
        *byte = if i % 2 == 0 {
            nibble << 4 | (*byte & 0x0f)
        } else {
            (*byte & 0xf0) | nibble
        };
    }
    B256::from(out)
}

/// Where the walk reads stored trie nodes by hash (the store's slice). Implementations do the
/// I/O; the walk itself does none.
pub trait NodeSource {
    /// Why a lookup failed (not "absent": that is `Ok(None)`).
    type Error;
    /// The RLP node stored under `hash`, if any. The walk hashes what it gets again.
    fn node(&self, hash: &B256) -> Result<Option<Bytes>, Self::Error>;
}

/// A source that holds nothing (a first anchor seeded from its nodes alone).
impl NodeSource for () {
    type Error = Infallible;
    fn node(&self, _: &B256) -> Result<Option<Bytes>, Infallible> {
        Ok(None)
    }
}

impl NodeSource for HashMap<B256, Bytes> {
    type Error = Infallible;
    fn node(&self, hash: &B256) -> Result<Option<Bytes>, Infallible> {
        Ok(self.get(hash).cloned())
    }
}

/// The new nodes of a block's diff, keyed by their own keccak (so a lookup by hash is verified).
#[derive(Clone, Debug, Default)]
pub struct DiffPool {
    nodes: HashMap<B256, Bytes>,
}

impl DiffPool {
    /// A pool of RLP trie nodes (duplicates are kept once).
    pub fn new<I: IntoIterator<Item = Bytes>>(nodes: I) -> Self {
        Self {
            nodes: nodes.into_iter().map(|n| (keccak256(&n), n)).collect(),
        }
    }

    /// How many distinct nodes the pool holds.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The node whose keccak is `hash`.
    pub fn get(&self, hash: &B256) -> Option<&Bytes> {
        self.nodes.get(hash)
    }

    /// The first node that does not decode as a trie node, with the reason.
    pub fn first_malformed(&self) -> Option<(B256, String)> {
        self.nodes
            .iter()
            .find_map(|(hash, rlp)| decode_node(rlp).err().map(|e| (*hash, e)))
    }

    /// The pool's nodes that are not reached from `root` by following hash references through
    /// pool nodes (the root itself may come from the pool or from `source`): nodes that do not
    /// hash-chain from the root. A pool node that does not decode is skipped here
    /// ([`Self::first_malformed`] names it).
    pub fn unchained<S: NodeSource>(&self, root: B256, source: &S) -> Result<Vec<B256>, S::Error> {
        let mut reached: HashSet<B256> = HashSet::new();
        let mut stack: Vec<Bytes> = Vec::new();
        match self.nodes.get(&root) {
            Some(rlp) => {
                reached.insert(root);
                stack.push(rlp.clone());
            }
            None => {
                if let Some(rlp) = source.node(&root)? {
                    if keccak256(&rlp) == root {
                        stack.push(rlp);
                    }
                }
            }
        }
        while let Some(rlp) = stack.pop() {
            let Ok(children) = all_hashed_children(&rlp) else {
                continue;
            };
            for hash in children {
                if let Some(child) = self.nodes.get(&hash) {
                    if reached.insert(hash) {
                        stack.push(child.clone());
                    }
                }
            }
        }
        Ok(self
            .nodes
            .keys()
            .filter(|h| !reached.contains(*h))
            .copied()
            .collect())
    }
}

/// A reference the walk could not resolve: the node to fetch.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MissingNode {
    /// The keccak of the node.
    pub hash: B256,
    /// The nibble path at which the new trie references it.
    pub path: Nibbles,
}

/// The nodes that complete the slice at the new root, and how they were found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SliceUpdate {
    /// Every node of the new slice that is not in an unchanged subtree, each once, each reached
    /// by its hash from the new root (parents before children).
    pub nodes: Vec<Bytes>,
    /// How many of `nodes` came from the diff.
    pub from_diff: usize,
    /// How many of `nodes` were already in the source.
    pub from_source: usize,
    /// How many of `nodes` were derived from an old node by rule 2.
    pub derived: usize,
    /// Child references found unchanged (same reference at the same path), not descended.
    pub unchanged_subtrees: usize,
    /// Old-trie nodes read from the source to follow the old cursor.
    pub old_nodes_read: usize,
}

/// What the walk found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WalkOutcome {
    /// Every in-range reference resolved: these nodes complete the slice at the new root.
    Complete(SliceUpdate),
    /// These references could not be resolved (nothing else is reported).
    Missing(Vec<MissingNode>),
}

/// Why the walk could not run to an answer.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum WalkError<E> {
    /// The source failed.
    #[error("node source: {0}")]
    Source(E),
    /// The old root's slice lacks a node the walk needs: it was not complete for the range.
    #[error("the old slice has no node {hash} (path {path:?}): it is not complete for the range")]
    OldSliceIncomplete {
        /// The node's hash.
        hash: B256,
        /// Where the old trie references it.
        path: Nibbles,
    },
    /// A node reached by its hash does not decode as a trie node, or a stored node does not hash
    /// to its key.
    #[error("trie node {hash}: {reason}")]
    Malformed {
        /// The node's hash (the reference that led to it).
        hash: B256,
        /// What is wrong.
        reason: String,
    },
}

/// Walk the new trie from `new_root` over `range`, given the slice complete at `old_root` in
/// `source` (`None`: no old slice, as when seeding a first anchor) and the block's `diff`
/// (module docs).
pub fn walk_new_root<S: NodeSource>(
    old_root: Option<B256>,
    new_root: B256,
    range: &KeyRange,
    diff: &DiffPool,
    source: &S,
) -> Result<WalkOutcome, WalkError<S::Error>> {
    let mut walker = Walker {
        range,
        diff,
        source,
        update: SliceUpdate::default(),
        taken: HashSet::new(),
        missing: Vec::new(),
    };
    if new_root == EMPTY_ROOT_HASH {
        return Ok(WalkOutcome::Complete(walker.update));
    }
    if old_root == Some(new_root) {
        walker.update.unchanged_subtrees = 1;
        return Ok(WalkOutcome::Complete(walker.update));
    }
    let old = match old_root {
        Some(root) if root != EMPTY_ROOT_HASH => Old::At {
            reference: RlpNode::word_rlp(&root),
            pos: 0,
        },
        _ => Old::Nothing,
    };
    let root_path = Nibbles::default();
    if let Some(node) = walker.resolve_new(new_root, &root_path, &Old::Nothing)? {
        walker.visit(node, root_path, old)?;
    }
    Ok(if walker.missing.is_empty() {
        WalkOutcome::Complete(walker.update)
    } else {
        WalkOutcome::Missing(walker.missing)
    })
}

/// The hash references below the node `rlp` at `path` (through embedded nodes) whose prefix
/// ranges meet `range`, with their paths: the children a slice holds under this node.
pub fn hashed_children_in_range(
    rlp: &[u8],
    path: &Nibbles,
    range: &KeyRange,
) -> Result<Vec<(B256, Nibbles)>, String> {
    let mut out = Vec::new();
    let mut stack = vec![(decode_node(rlp)?, *path)];
    while let Some((node, path)) = stack.pop() {
        for (child_path, child) in children(&node, &path) {
            if !range.meets_prefix(&child_path) {
                continue;
            }
            match child.as_hash() {
                Some(hash) => out.push((hash, child_path)),
                None => stack.push((decode_node(&child)?, child_path)),
            }
        }
    }
    Ok(out)
}

/// Every hash reference below the node `rlp`, through embedded nodes, whatever their path.
fn all_hashed_children(rlp: &[u8]) -> Result<Vec<B256>, String> {
    hashed_children_in_range(rlp, &Nibbles::default(), &KeyRange::WHOLE)
        .map(|children| children.into_iter().map(|(hash, _)| hash).collect())
}

/// A node's child references with their paths (a leaf has none).
fn children(node: &TrieNode, path: &Nibbles) -> Vec<(Nibbles, RlpNode)> {
    match node {
        TrieNode::Branch(branch) => {
            let mut out = Vec::with_capacity(branch.stack.len());
            let mut next = branch.stack.iter();
            for nibble in 0..16u8 {
                if branch.state_mask.is_bit_set(nibble) {
                    if let Some(child) = next.next() {
                        let mut child_path = *path;
                        child_path.push(nibble);
                        out.push((child_path, child.clone()));
                    }
                }
            }
            out
        }
        TrieNode::Extension(extension) => {
            vec![(path.join(&extension.key), extension.child.clone())]
        }
        TrieNode::Leaf(_) | TrieNode::EmptyRoot => Vec::new(),
    }
}

/// The old trie at the path the walk stands on.
#[derive(Clone, Debug)]
enum Old {
    /// The old trie has nothing at this path.
    Nothing,
    /// The old trie references a node at exactly this path (`pos` nibbles deep), not yet read.
    At { reference: RlpNode, pos: usize },
    /// The old node at `pos`, read.
    Node { node: TrieNode, pos: usize },
    /// A leaf or extension at `pos`, shallower than this path, whose own path runs through it.
    Spanning { node: TrieNode, pos: usize },
}

struct Walker<'a, S> {
    range: &'a KeyRange,
    diff: &'a DiffPool,
    source: &'a S,
    update: SliceUpdate,
    taken: HashSet<B256>,
    missing: Vec<MissingNode>,
}

impl<S: NodeSource> Walker<'_, S> {
    /// Visit the new node `node` at `path`, whose old counterpart is `old`: every in-range
    /// child that changed is resolved and visited in turn.
    fn visit(
        &mut self,
        node: TrieNode,
        path: Nibbles,
        old: Old,
    ) -> Result<(), WalkError<S::Error>> {
        let children: Vec<_> = children(&node, &path)
            .into_iter()
            .filter(|(child_path, _)| self.range.meets_prefix(child_path))
            .collect();
        if children.is_empty() {
            return Ok(());
        }
        // Read the old node here once, not once per child.
        let old = match old {
            Old::At { reference, pos } if pos == path.len() => Old::Node {
                node: self.resolve_old(&reference, &path)?,
                pos,
            },
            old => old,
        };
        for (child_path, child) in children {
            let old_child = self.descend_old(old.clone(), &child_path)?;
            if let Old::At { reference, .. } = &old_child {
                if *reference == child {
                    self.update.unchanged_subtrees += 1;
                    continue;
                }
            }
            let child_node = match child.as_hash() {
                // Embedded: part of its parent, already verified with it.
                None => decode_node(&child).map_err(|reason| WalkError::Malformed {
                    hash: keccak256(&child),
                    reason,
                })?,
                Some(hash) => match self.resolve_new(hash, &child_path, &old_child)? {
                    Some(node) => node,
                    None => continue,
                },
            };
            self.visit(child_node, child_path, old_child)?;
        }
        Ok(())
    }

    /// The new node `hash` at `path`: from the diff, the source, or derived from `old` (rule 2);
    /// `None` (and recorded as missing) when none has it.
    fn resolve_new(
        &mut self,
        hash: B256,
        path: &Nibbles,
        old: &Old,
    ) -> Result<Option<TrieNode>, WalkError<S::Error>> {
        let (rlp, counter) = if let Some(rlp) = self.diff.get(&hash) {
            (rlp.clone(), Counter::Diff)
        } else if let Some(rlp) = self.source.node(&hash).map_err(WalkError::Source)? {
            if keccak256(&rlp) != hash {
                return Err(WalkError::Malformed {
                    hash,
                    reason: "stored bytes hash to another value".into(),
                });
            }
            (rlp, Counter::Source)
        } else if let Some(rlp) = derive(old, path).filter(|rlp| keccak256(rlp) == hash) {
            (rlp, Counter::Derived)
        } else {
            self.missing.push(MissingNode { hash, path: *path });
            return Ok(None);
        };
        let node = decode_node(&rlp).map_err(|reason| WalkError::Malformed { hash, reason })?;
        if self.taken.insert(hash) {
            match counter {
                Counter::Diff => self.update.from_diff += 1,
                Counter::Source => self.update.from_source += 1,
                Counter::Derived => self.update.derived += 1,
            }
            self.update.nodes.push(rlp);
        }
        Ok(Some(node))
    }

    /// Read an old node by its reference (at `path`).
    fn resolve_old(
        &mut self,
        reference: &RlpNode,
        path: &Nibbles,
    ) -> Result<TrieNode, WalkError<S::Error>> {
        match reference.as_hash() {
            None => decode_node(reference).map_err(|reason| WalkError::Malformed {
                hash: keccak256(reference),
                reason,
            }),
            Some(hash) => {
                let rlp = self
                    .source
                    .node(&hash)
                    .map_err(WalkError::Source)?
                    .ok_or(WalkError::OldSliceIncomplete { hash, path: *path })?;
                self.update.old_nodes_read += 1;
                if keccak256(&rlp) != hash {
                    return Err(WalkError::Malformed {
                        hash,
                        reason: "stored bytes hash to another value".into(),
                    });
                }
                decode_node(&rlp).map_err(|reason| WalkError::Malformed { hash, reason })
            }
        }
    }

    /// Move the old cursor from where it stands down to `to` (a longer path).
    fn descend_old(&mut self, mut old: Old, to: &Nibbles) -> Result<Old, WalkError<S::Error>> {
        loop {
            old = match old {
                Old::Nothing => return Ok(Old::Nothing),
                Old::At { reference, pos } => {
                    if pos == to.len() {
                        return Ok(Old::At { reference, pos });
                    }
                    let node = self.resolve_old(&reference, &to.slice(..pos))?;
                    Old::Node { node, pos }
                }
                Old::Spanning { node, pos } | Old::Node { node, pos } => {
                    if pos >= to.len() {
                        // Cannot happen: a read node is always shallower than the target.
                        return Ok(Old::Nothing);
                    }
                    let rest = to.len() - pos;
                    match node {
                        TrieNode::Branch(branch) => {
                            let nibble = to.get_unchecked(pos);
                            match branch_child(&branch, nibble) {
                                Some(reference) => Old::At {
                                    reference,
                                    pos: pos + 1,
                                },
                                None => Old::Nothing,
                            }
                        }
                        TrieNode::Extension(extension) => {
                            let key = extension.key;
                            if key.len() <= rest {
                                if to.slice(pos..pos + key.len()) == key {
                                    Old::At {
                                        reference: extension.child,
                                        pos: pos + key.len(),
                                    }
                                } else {
                                    Old::Nothing
                                }
                            } else if key.slice(..rest) == to.slice(pos..) {
                                return Ok(Old::Spanning {
                                    node: TrieNode::Extension(extension),
                                    pos,
                                });
                            } else {
                                Old::Nothing
                            }
                        }
                        TrieNode::Leaf(leaf) => {
                            if leaf.key.len() > rest && leaf.key.slice(..rest) == to.slice(pos..) {
                                return Ok(Old::Spanning {
                                    node: TrieNode::Leaf(leaf),
                                    pos,
                                });
                            }
                            Old::Nothing
                        }
                        TrieNode::EmptyRoot => Old::Nothing,
                    }
                }
            };
        }
    }
}

enum Counter {
    Diff,
    Source,
    Derived,
}

/// The child reference of `branch` at `nibble`, if set.
fn branch_child(branch: &alloy_trie::nodes::BranchNode, nibble: u8) -> Option<RlpNode> {
    if !branch.state_mask.is_bit_set(nibble) {
        return None;
    }
    let below = branch.state_mask.get() & ((1u16 << nibble) - 1);
    branch.stack.get(below.count_ones() as usize).cloned()
}

/// Rule 2: the old leaf or extension spanning `path`, with the nibbles up to `path` dropped
/// from its own path (the same value, or the same child).
fn derive(old: &Old, path: &Nibbles) -> Option<Bytes> {
    let Old::Spanning { node, pos } = old else {
        return None;
    };
    let consumed = path.len().checked_sub(*pos)?;
    let node = match node {
        TrieNode::Leaf(leaf) => TrieNode::Leaf(LeafNode::new(
            leaf.key.slice(consumed..),
            leaf.value.clone(),
        )),
        TrieNode::Extension(extension) => TrieNode::Extension(ExtensionNode::new(
            extension.key.slice(consumed..),
            extension.child.clone(),
        )),
        _ => return None,
    };
    Some(Bytes::from(alloy_rlp::encode(&node)))
}

#[cfg(test)]
#[path = "reanchor_tests.rs"]
mod tests;
