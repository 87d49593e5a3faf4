//! Anchors (schema 4, issue #14): roots at which the store holds the complete slice of a key
//! range, moved to each new trusted root by re-anchoring and collected after [`ANCHOR_WINDOW`]
//! roots.
//!
//! # Representation
//!
//! * `anchors (root, block_number, range_first, range_last, seq)`: one row per anchored root.
//!   Every anchor of a store is complete for the same range (the store's slice range): a seed
//!   with another range is refused while anchors are held.
//! * `trie_nodes.anchor_refs`: how many references the anchored tries hold on a node: one per
//!   anchor whose root it is, plus one per stored parent node (through embedded nodes) whose
//!   path is in the range. It is counted apart from `refs` (the items whose witness passes
//!   through the node), and a node goes only when both are zero. This is the reference count
//!   of a persistent trie: a new root takes a reference on its root node, and a node that gets
//!   its first reference takes one on each of its in-range children. So an anchor costs only
//!   its new nodes (the unchanged subtrees it shares with older anchors gain one reference on
//!   their top node), and dropping the oldest anchor frees exactly the nodes no kept anchor
//!   reaches (a node whose last reference goes releases its children in turn), whatever the
//!   order of anchors (forks, re-anchoring from an older root) — a mark-and-sweep of the kept
//!   anchors' slices would read K slices per block instead.
//!
//! # Re-anchoring
//!
//! [`ContentStore::reanchor`] runs the walk of [`crate::proof::walk_new_root`] over the range
//! from the new root, with the parent anchor's slice as the old trie and the diff nodes as the
//! pool, all inside one write transaction: the new nodes (each reached by its hash from the new
//! root), the references and the anchor row are written together, or nothing is (a
//! [`Reanchor::Missing`] answer writes nothing either).

use super::content::WriteTx;
use super::meta::write_counts;
use super::slice::{node_bytes, walk};
use super::{classify, prune, ContentStore, StoreError};
use crate::content::Witness;
use crate::proof::{
    hashed_children_in_range, walk_new_root, DiffPool, KeyRange, MissingNode, NodeSource,
    WalkError, WalkOutcome,
};
use alloy_primitives::{keccak256, Bytes, B256};
use alloy_trie::{Nibbles, EMPTY_ROOT_HASH};
use rusqlite::{Connection, OptionalExtension};
use std::path::Path;

/// How many anchored roots a store keeps by default: the newest 256 (the header window).
pub const ANCHOR_WINDOW: usize = 256;

/// A root at which the store holds the complete slice of a range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Anchor {
    /// The trie root (a state root, or a storage root).
    pub root: B256,
    /// The block whose root it is.
    pub block_number: u64,
    /// The hashed keys every key of which has its proof at this root in the store.
    pub range: KeyRange,
}

/// What a re-anchoring (or a seed) did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reanchor {
    /// The root is anchored: every key of the range is answerable at it.
    Done(ReanchorStats),
    /// These references could not be resolved from the diff, the store or rule 2: fetch them
    /// (by hash; the path says which part of the range they serve) and call again. Nothing was
    /// stored.
    Missing(Vec<MissingNode>),
}

/// The figures of a re-anchoring that succeeded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReanchorStats {
    /// Trie node rows the store did not have before.
    pub nodes_added: u64,
    /// The bytes those rows count against the capacity.
    pub bytes_added: u64,
    /// Nodes of the new slice taken from the diff.
    pub from_diff: u64,
    /// Nodes of the new slice derived from an old node (FRESHNESS.md rule 2).
    pub derived: u64,
    /// Unchanged subtrees shared with the parent anchor, not descended.
    pub unchanged_subtrees: u64,
    /// Anchors dropped because they fell out of the window.
    pub anchors_dropped: u64,
    /// Trie nodes deleted with them (no kept anchor and no item reached them).
    pub nodes_collected: u64,
    /// The bytes those nodes counted.
    pub bytes_collected: u64,
    /// Items pruned afterwards to bring the store back within its capacity.
    pub items_pruned: u64,
}

/// An `anchors` row as read: root, block number, range first and last.
type AnchorRow = (Vec<u8>, i64, Vec<u8>, Vec<u8>);

/// The store's slice, read by hash, as the walk's node source.
struct SliceSource<'a> {
    conn: &'a Connection,
    path: &'a Path,
}

impl NodeSource for SliceSource<'_> {
    type Error = StoreError;
    fn node(&self, hash: &B256) -> Result<Option<Bytes>, StoreError> {
        read_node(self.conn, self.path, hash).map(|rlp| rlp.map(Bytes::from))
    }
}

fn read_node(conn: &Connection, path: &Path, hash: &B256) -> Result<Option<Vec<u8>>, StoreError> {
    conn.prepare_cached("SELECT rlp FROM trie_nodes WHERE hash = ?1")
        .and_then(|mut stmt| stmt.query_row([hash.as_slice()], |r| r.get(0)).optional())
        .map_err(|e| classify(path, e))
}

impl ContentStore {
    /// Keep the newest `roots` anchors (at least one); older ones are collected at the next
    /// re-anchoring. [`ANCHOR_WINDOW`] unless set (tests and benchmarks set fewer).
    pub fn set_anchor_window(&mut self, roots: usize) {
        self.anchor_window = roots.max(1);
    }

    /// The anchored roots, newest block first.
    pub fn anchors(&self) -> Result<Vec<Anchor>, StoreError> {
        let err = |e| classify(&self.path, e);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT root, block_number, range_first, range_last FROM anchors
                 ORDER BY block_number DESC, seq DESC",
            )
            .map_err(err)?;
        let rows: Vec<AnchorRow> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .and_then(|rows| rows.collect())
            .map_err(err)?;
        rows.into_iter()
            .map(|(root, number, first, last)| {
                Ok(Anchor {
                    root: self.hash_column(&root)?,
                    block_number: u64::try_from(number).map_err(|_| self.bad_anchor("block"))?,
                    range: KeyRange::new(self.hash_column(&first)?, self.hash_column(&last)?),
                })
            })
            .collect()
    }

    /// The anchor at `root`, if the store holds one.
    pub fn anchor(&self, root: B256) -> Result<Option<Anchor>, StoreError> {
        Ok(self.anchors()?.into_iter().find(|a| a.root == root))
    }

    /// The witness of `hashed_key` at the anchored `root`, assembled from the slice (present or
    /// absent: the nodes down to the leaf, or down to where the key's path ends); `None` when
    /// `root` is not anchored or its range does not hold the key.
    pub fn anchored_witness(
        &self,
        root: B256,
        hashed_key: &B256,
    ) -> Result<Option<Witness>, StoreError> {
        match self.anchor_range(root)? {
            Some(range) if range.contains(hashed_key) => Ok(Some(
                walk(&self.conn, &self.path, root, hashed_key, false)?.0,
            )),
            _ => Ok(None),
        }
    }

    /// Anchor `root` for the first time: `nodes` (the proofs at `root` of the range's keys and
    /// of its two ends, in any order; nodes already stored, such as the witnesses of items put
    /// at `root`, need not be given again) must complete the slice of `range`. The nodes that do
    /// are stored and the anchor is written in one transaction; [`Reanchor::Missing`] names
    /// what is lacking, and stores nothing.
    ///
    /// Every anchor of a store covers one range: while anchors are held, a seed with another
    /// range is refused ([`StoreError::AnchorRange`]).
    pub fn seed_anchor(
        &mut self,
        root: B256,
        block_number: u64,
        range: KeyRange,
        nodes: &[Bytes],
    ) -> Result<Reanchor, StoreError> {
        if let Some(held) = self.anchors()?.first() {
            if held.range != range {
                return Err(StoreError::AnchorRange {
                    path: self.path.clone(),
                    held: Box::new(held.range),
                    asked: Box::new(range),
                });
            }
        }
        self.anchor_walk(None, root, block_number, range, nodes)
    }

    /// Move the slice from the anchored `parent_root` to `new_root` (the state root of block
    /// `block_number`, whose parent's is `parent_root`), given the block's diff nodes: the
    /// proofs at `new_root` of every created and modified key and the absence proofs of the
    /// deleted ones, for the anchor's range (nodes outside it are allowed and ignored).
    ///
    /// Every diff node must decode and hash-chain from `new_root`
    /// ([`StoreError::DiffRejected`] otherwise, nothing stored); an unresolved reference is
    /// [`Reanchor::Missing`] (nothing stored). On [`Reanchor::Done`] every key of the range is
    /// answerable at `new_root` ([`ContentStore::get`], [`ContentStore::anchored_witness`]),
    /// and anchors beyond the window are collected in the same transaction.
    pub fn reanchor(
        &mut self,
        parent_root: B256,
        new_root: B256,
        block_number: u64,
        diff_nodes: &[Bytes],
    ) -> Result<Reanchor, StoreError> {
        let range = self
            .anchor_range(parent_root)?
            .ok_or_else(|| StoreError::NotAnchored {
                path: self.path.clone(),
                root: parent_root,
            })?;
        self.anchor_walk(Some(parent_root), new_root, block_number, range, diff_nodes)
    }

    /// Trie node rows in the store (slice nodes of items and of anchors).
    pub fn trie_node_count(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT count(*) FROM trie_nodes", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as u64)
            .map_err(|e| self.err(e))
    }

    /// The range of the anchor at `root`, if any.
    pub(super) fn anchor_range(&self, root: B256) -> Result<Option<KeyRange>, StoreError> {
        let err = |e| classify(&self.path, e);
        let row: Option<(Vec<u8>, Vec<u8>)> = self
            .conn
            .prepare_cached("SELECT range_first, range_last FROM anchors WHERE root = ?1")
            .and_then(|mut stmt| {
                stmt.query_row([root.as_slice()], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(err)?;
        row.map(|(first, last)| {
            Ok(KeyRange::new(
                self.hash_column(&first)?,
                self.hash_column(&last)?,
            ))
        })
        .transpose()
    }

    /// The walk, then the nodes, references, anchor row and collection in one transaction.
    fn anchor_walk(
        &mut self,
        old_root: Option<B256>,
        new_root: B256,
        block_number: u64,
        range: KeyRange,
        nodes: &[Bytes],
    ) -> Result<Reanchor, StoreError> {
        let path = &self.path;
        let rejected = |reason: String| StoreError::DiffRejected {
            path: path.clone(),
            reason,
        };
        let block = i64::try_from(block_number).map_err(|_| StoreError::InvalidInput {
            path: path.clone(),
            reason: format!("block number {block_number}"),
        })?;
        let pool = DiffPool::new(nodes.iter().cloned());
        if let Some((hash, reason)) = pool.first_malformed() {
            return Err(rejected(format!("node {hash} is no trie node: {reason}")));
        }
        let mut state = self.state;
        let conn = &self.conn;
        let tx = WriteTx::begin(conn).map_err(|e| classify(path, e))?;
        let source = SliceSource { conn, path };
        let update = match walk_new_root(old_root, new_root, &range, &pool, &source) {
            Ok(WalkOutcome::Complete(update)) => update,
            Ok(WalkOutcome::Missing(missing)) => return Ok(Reanchor::Missing(missing)),
            Err(WalkError::Source(e)) => return Err(e),
            Err(e @ WalkError::OldSliceIncomplete { .. }) => {
                return Err(StoreError::CorruptValue {
                    path: path.clone(),
                    what: "anchored slice",
                    reason: e.to_string(),
                })
            }
            Err(e @ WalkError::Malformed { .. }) => return Err(rejected(e.to_string())),
        };
        let unchained = pool.unchained(new_root, &source)?;
        if let Some(first) = unchained.first() {
            return Err(rejected(format!(
                "{} node(s) do not hash-chain from root {new_root}, e.g. {first}",
                unchained.len()
            )));
        }
        let mut stats = ReanchorStats {
            from_diff: update.from_diff as u64,
            derived: update.derived as u64,
            unchanged_subtrees: update.unchanged_subtrees as u64,
            ..ReanchorStats::default()
        };
        {
            let mut insert = conn
                .prepare_cached(
                    "INSERT INTO trie_nodes (hash, refs, rlp, anchor_refs) VALUES (?1, 0, ?2, 0)
                     ON CONFLICT (hash) DO NOTHING",
                )
                .map_err(|e| classify(path, e))?;
            for node in &update.nodes {
                let hash = keccak256(node);
                if insert
                    .execute((hash.as_slice(), node.as_ref()))
                    .map_err(|e| classify(path, e))?
                    > 0
                {
                    stats.nodes_added += 1;
                    stats.bytes_added += node_bytes(node.len());
                }
            }
        }
        let held: Option<i64> = conn
            .prepare_cached("SELECT block_number FROM anchors WHERE root = ?1")
            .and_then(|mut s| s.query_row([new_root.as_slice()], |r| r.get(0)).optional())
            .map_err(|e| classify(path, e))?;
        match held {
            // Anchored already (a block that changed nothing, or a repeat): keep it in the
            // window as the newer block's.
            Some(number) => {
                conn.prepare_cached("UPDATE anchors SET block_number = ?2 WHERE root = ?1")
                    .and_then(|mut s| s.execute((new_root.as_slice(), number.max(block))))
                    .map_err(|e| classify(path, e))?;
            }
            None => {
                add_reference(conn, path, new_root, &range)?;
                conn.prepare_cached(
                    "INSERT INTO anchors (root, block_number, range_first, range_last, seq)
                     VALUES (?1, ?2, ?3, ?4, (SELECT coalesce(max(seq), 0) + 1 FROM anchors))",
                )
                .and_then(|mut s| {
                    s.execute((
                        new_root.as_slice(),
                        block,
                        range.first.as_slice(),
                        range.last.as_slice(),
                    ))
                })
                .map_err(|e| classify(path, e))?;
            }
        }
        collect(conn, path, self.anchor_window, &mut stats)?;
        state.stored_bytes = state.stored_bytes + stats.bytes_added - stats.bytes_collected;
        if state.stored_bytes > self.config.capacity_bytes {
            let (pruned, _) = prune::prune(conn, path, &self.config, &mut state, None)?;
            stats.items_pruned = pruned;
        }
        write_counts(conn, path, &state)?;
        tx.commit().map_err(|e| classify(path, e))?;
        self.state = state;
        Ok(Reanchor::Done(stats))
    }

    fn hash_column(&self, bytes: &[u8]) -> Result<B256, StoreError> {
        B256::try_from(bytes).map_err(|_| self.bad_anchor("hash"))
    }

    fn bad_anchor(&self, what: &str) -> StoreError {
        StoreError::CorruptValue {
            path: self.path.clone(),
            what: "anchor",
            reason: format!("a {what} column of the wrong shape"),
        }
    }
}

/// Take one reference on the node `root` (an anchor's root); a node that gets its first
/// reference takes one on each of its in-range children in turn (module docs).
fn add_reference(
    conn: &Connection,
    path: &Path,
    root: B256,
    range: &KeyRange,
) -> Result<(), StoreError> {
    if root == EMPTY_ROOT_HASH {
        return Ok(());
    }
    let err = |e| classify(path, e);
    let mut bump = conn
        .prepare_cached(
            "UPDATE trie_nodes SET anchor_refs = anchor_refs + 1 WHERE hash = ?1
             RETURNING anchor_refs, rlp",
        )
        .map_err(err)?;
    let mut stack = vec![(root, Nibbles::default())];
    while let Some((hash, at)) = stack.pop() {
        let row: Option<(i64, Vec<u8>)> = bump
            .query_row([hash.as_slice()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(err)?;
        let (refs, rlp) =
            row.ok_or_else(|| corrupt(path, format!("anchored node {hash} is missing")))?;
        if refs == 1 {
            let children = hashed_children_in_range(&rlp, &at, range)
                .map_err(|e| corrupt(path, format!("trie node {hash}: {e}")))?;
            stack.extend(children);
        }
    }
    Ok(())
}

/// Drop one reference from the node `root`; a node whose last reference goes drops one from
/// each of its in-range children, and is deleted unless an item still references it.
fn drop_reference(
    conn: &Connection,
    path: &Path,
    root: B256,
    range: &KeyRange,
    stats: &mut ReanchorStats,
) -> Result<(), StoreError> {
    if root == EMPTY_ROOT_HASH {
        return Ok(());
    }
    let err = |e| classify(path, e);
    let mut drop = conn
        .prepare_cached(
            "UPDATE trie_nodes SET anchor_refs = anchor_refs - 1 WHERE hash = ?1
             RETURNING anchor_refs, refs, rlp",
        )
        .map_err(err)?;
    let mut delete = conn
        .prepare_cached("DELETE FROM trie_nodes WHERE hash = ?1")
        .map_err(err)?;
    let mut stack = vec![(root, Nibbles::default())];
    while let Some((hash, at)) = stack.pop() {
        let row: Option<(i64, i64, Vec<u8>)> = drop
            .query_row([hash.as_slice()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()
            .map_err(err)?;
        let (anchor_refs, item_refs, rlp) =
            row.ok_or_else(|| corrupt(path, format!("anchored node {hash} is missing")))?;
        if anchor_refs > 0 {
            continue;
        }
        let children = hashed_children_in_range(&rlp, &at, range)
            .map_err(|e| corrupt(path, format!("trie node {hash}: {e}")))?;
        stack.extend(children);
        if item_refs <= 0 {
            delete.execute([hash.as_slice()]).map_err(err)?;
            stats.nodes_collected += 1;
            stats.bytes_collected += node_bytes(rlp.len());
        }
    }
    Ok(())
}

/// Drop the anchors beyond the newest `window` and the nodes only they reached.
fn collect(
    conn: &Connection,
    path: &Path,
    window: usize,
    stats: &mut ReanchorStats,
) -> Result<(), StoreError> {
    let err = |e| classify(path, e);
    let old: Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> = conn
        .prepare_cached(
            "SELECT root, range_first, range_last FROM anchors
             ORDER BY block_number DESC, seq DESC LIMIT -1 OFFSET ?1",
        )
        .and_then(|mut s| {
            s.query_map([window as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect()
        })
        .map_err(err)?;
    let hash = |bytes: &[u8]| {
        B256::try_from(bytes).map_err(|_| corrupt(path, "an anchor hash of the wrong shape".into()))
    };
    for (root, first, last) in old {
        let range = KeyRange::new(hash(&first)?, hash(&last)?);
        drop_reference(conn, path, hash(&root)?, &range, stats)?;
        conn.prepare_cached("DELETE FROM anchors WHERE root = ?1")
            .and_then(|mut s| s.execute([root.as_slice()]))
            .map_err(err)?;
        stats.anchors_dropped += 1;
    }
    Ok(())
}

fn corrupt(path: &Path, reason: String) -> StoreError {
    StoreError::CorruptValue {
        path: path.to_path_buf(),
        what: "trie node",
        reason,
    }
}
