//! Content: putting verified items under the radius rule, reading by key and by id range.
//!
//! A trie item (account or slot) is a `content` row holding its key and `form` flag, plus a
//! reference to each node of its witness in the slice (`slice.rs`); its value is assembled from
//! the slice when read. Bytecode is stored whole in its row. Pruning is in `prune.rs`.

use super::meta::write_counts;
use super::prune::prune;
use super::slice::{add_nodes, assemble, node_bytes, trie_item};
use super::{classify, ContentStore, PutOutcome, State, StoreConfig, StoreError};
use crate::content::{ContentId, ContentKey, ContentValue, Witness};
use crate::proof::VerifiedContent;
use alloy_primitives::{keccak256, Address, B256};
use alloy_trie::EMPTY_ROOT_HASH;
use rusqlite::{Connection, OptionalExtension};
use std::path::Path;

/// A write transaction begun and ended through cached statements (rusqlite's `Transaction`
/// parses `BEGIN`/`COMMIT` afresh each time, a measurable part of a single put). Rolls back
/// when dropped uncommitted, so an error part way leaves the file as it was.
pub(super) struct WriteTx<'a> {
    conn: &'a Connection,
    open: bool,
}

impl<'a> WriteTx<'a> {
    /// `BEGIN IMMEDIATE`: take the write lock now rather than on the first write, so a busy
    /// file fails here and not half way through.
    pub(super) fn begin(conn: &'a Connection) -> rusqlite::Result<Self> {
        conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        Ok(Self { conn, open: true })
    }

    pub(super) fn commit(mut self) -> rusqlite::Result<()> {
        self.conn.prepare_cached("COMMIT")?.execute([])?;
        self.open = false;
        Ok(())
    }
}

impl Drop for WriteTx<'_> {
    fn drop(&mut self) {
        if self.open && !self.conn.is_autocommit() {
            // Nothing to report to: the caller is already returning the error that got here.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

impl ContentStore {
    /// Store a verified item, if it lies within the radius, in one transaction; prune farthest
    /// first when that takes the store over capacity.
    ///
    /// When this returns, stored bytes are at most the capacity and the item is durable against
    /// a process crash (module docs, "Durability").
    pub fn put(&mut self, content: &VerifiedContent) -> Result<PutOutcome, StoreError> {
        self.put_batch(std::slice::from_ref(content))
            .map(|outcomes| outcomes[0])
    }

    /// Store many verified items in one transaction (for bridges and bulk loads). Each item
    /// meets the same rules as [`ContentStore::put`] in order — the radius can shrink part way —
    /// and the outcomes are returned in order. All or nothing: on error, nothing is stored.
    pub fn put_batch(&mut self, items: &[VerifiedContent]) -> Result<Vec<PutOutcome>, StoreError> {
        let mut state = self.state;
        let path = &self.path;
        let tx = WriteTx::begin(&self.conn).map_err(|e| classify(path, e))?;
        let mut outcomes = Vec::with_capacity(items.len());
        let mut changed = false;
        for content in items {
            let outcome = match precheck(&self.config, &state, content) {
                Some(early) => early,
                None => {
                    changed = true;
                    put_row(&self.conn, path, &self.config, &mut state, content)?
                }
            };
            outcomes.push(outcome);
        }
        if changed {
            write_counts(&self.conn, path, &state)?;
        }
        tx.commit().map_err(|e| classify(path, e))?;
        self.state = state;
        Ok(outcomes)
    }

    /// The value stored for `key`, decoded (assembled from the slice for a trie item).
    ///
    /// An account or storage key at an anchored root whose range holds the key (`anchor.rs`)
    /// is answered from the anchored slice whether or not an item was put for it: the witness
    /// of the account (present, or proven absent) and, for a slot, the storage witness from
    /// the account's storage root when that root is anchored too (or is the empty root).
    pub fn get(&self, key: &ContentKey) -> Result<Option<ContentValue>, StoreError> {
        match self.get_item(key)? {
            Some(value) => Ok(Some(value)),
            None => self.get_anchored(key),
        }
    }

    /// The value of an item row for `key`.
    fn get_item(&self, key: &ContentKey) -> Result<Option<ContentValue>, StoreError> {
        let err = |e| classify(&self.path, e);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT value, form FROM content WHERE content_id = ?1 AND content_key = ?2",
            )
            .map_err(err)?;
        let row: Option<(Vec<u8>, Option<i64>)> = stmt
            .query_row(
                (key.content_id().as_bytes().as_slice(), key.encode()),
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(err)?;
        row.map(|(value, form)| self.value_of(key, &value, form))
            .transpose()
    }

    /// The value stored for `key` as it travels on the wire (SSZ), for serving it to a peer:
    /// the same bytes as the value that was put.
    pub fn get_encoded(&self, key: &ContentKey) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.get(key)?.map(|value| value.encode()))
    }

    /// Whether a value is stored for `key` (an item row, or an anchored slice that answers it,
    /// as [`Self::get`] does).
    pub fn contains(&self, key: &ContentKey) -> Result<bool, StoreError> {
        let err = |e| classify(&self.path, e);
        let mut stmt = self
            .conn
            .prepare_cached("SELECT 1 FROM content WHERE content_id = ?1 AND content_key = ?2")
            .map_err(err)?;
        if stmt
            .exists((key.content_id().as_bytes().as_slice(), key.encode()))
            .map_err(err)?
        {
            return Ok(true);
        }
        Ok(self.get_anchored(key)?.is_some())
    }

    /// An account or slot answered from anchored slices (see [`Self::get`]).
    fn get_anchored(&self, key: &ContentKey) -> Result<Option<ContentValue>, StoreError> {
        let (state_root, address) = match key {
            ContentKey::Account(k) => (k.state_root, k.address),
            ContentKey::Storage(k) => (k.state_root, k.address),
            // Stored whole, never assembled from a slice.
            ContentKey::Bytecode(_)
            | ContentKey::AccountDiff(_)
            | ContentKey::StorageTopDiff(_) => return Ok(None),
        };
        let Some(account_witness) = self.anchored_witness(state_root, &keccak256(address))? else {
            return Ok(None);
        };
        let ContentKey::Storage(k) = key else {
            return Ok(Some(ContentValue::Account(account_witness)));
        };
        // The account's storage root, from the leaf the witness ends at (if present).
        let account =
            crate::proof::verify_account(state_root, address, &account_witness).map_err(|e| {
                StoreError::CorruptValue {
                    path: self.path.clone(),
                    what: "anchored slice",
                    reason: e.to_string(),
                }
            })?;
        let storage_witness = match account {
            None => Witness::default(),
            Some(account) if account.storage_root == EMPTY_ROOT_HASH => Witness::default(),
            Some(account) => match self
                .anchored_witness(account.storage_root, &keccak256(k.slot.to_be_bytes::<32>()))?
            {
                Some(witness) => witness,
                None => return Ok(None),
            },
        };
        Ok(Some(ContentValue::Storage {
            account_witness,
            storage_witness,
        }))
    }

    /// Up to `limit` stored items (item rows; keys answered from an anchored slice alone are not
    /// listed: walk [`Self::anchored_witness`] for those) whose content ids lie on the ring from
    /// `from` to `to`, both included, in ring order starting at `from`. When `to < from` the range wraps through
    /// `0xff..ff` to `0x00..00`; `from == to` is the single id. Items with the same id (an
    /// account at several roots) come in the order of their encoded keys.
    pub fn get_by_id_range(
        &self,
        from: ContentId,
        to: ContentId,
        limit: usize,
    ) -> Result<Vec<(ContentKey, ContentValue)>, StoreError> {
        let mut out = Vec::new();
        if from <= to {
            self.scan_ids(from, Some(to), limit, &mut out)?;
        } else {
            self.scan_ids(from, None, limit, &mut out)?;
            let rest = limit - out.len();
            self.scan_ids(ContentId::default(), Some(to), rest, &mut out)?;
        }
        Ok(out)
    }

    /// Stored witnesses of the accounts nearest to `id` around the ring, anchored to
    /// `state_root`: up to `per_side` before it and up to `per_side` after it, nearest first.
    /// They include the trie neighbours of an account that is not stored, whose witnesses share
    /// the path that proves it absent.
    ///
    /// Item rows only: at an anchored root whose range holds the id, [`Self::get`] already
    /// answers an absent account with its proof of absence (assembled from the slice), so no
    /// neighbours are needed there.
    pub fn account_neighbours(
        &self,
        id: ContentId,
        state_root: B256,
        per_side: usize,
    ) -> Result<Vec<(ContentKey, ContentValue)>, StoreError> {
        // Account key: selector 0x00, address (20), state root (32). SQLite's substr is 1-based.
        let filter = "substr(content_key, 1, 1) = x'00' AND substr(content_key, 22, 32) = ?3";
        self.neighbours_query(id, per_side, filter, &[state_root.as_slice()])
    }

    /// Stored storage items of the contract at `address` nearest to `id` around the ring,
    /// anchored to `state_root`, as [`Self::account_neighbours`] does for accounts. A contract's
    /// slots sit in the order of their hashed keys, shifted by the hash of its address.
    pub fn storage_neighbours(
        &self,
        id: ContentId,
        address: Address,
        state_root: B256,
        per_side: usize,
    ) -> Result<Vec<(ContentKey, ContentValue)>, StoreError> {
        // Storage key: selector 0x01, address (20), slot (32), state root (32).
        let filter = "substr(content_key, 1, 21) = ?3 AND substr(content_key, 54, 32) = ?4";
        let mut prefix = vec![ContentKey::STORAGE];
        prefix.extend_from_slice(address.as_slice());
        self.neighbours_query(id, per_side, filter, &[&prefix, state_root.as_slice()])
    }

    /// Items matching `filter` nearest to `id` on each side, wrapping around the ring: below
    /// `id` (then down from the top of the ring), and above it (then up from zero).
    fn neighbours_query(
        &self,
        id: ContentId,
        per_side: usize,
        filter: &str,
        args: &[&[u8]],
    ) -> Result<Vec<(ContentKey, ContentValue)>, StoreError> {
        let err = |e| classify(&self.path, e);
        let limit = i64::try_from(per_side).unwrap_or(i64::MAX);
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (cmp, order) in [("<", "DESC"), (">", "ASC")] {
            // First the near side, then the wrap-around from the far end of the ring.
            for wrapped in [false, true] {
                let range = if wrapped {
                    format!("content_id {} ?1", if cmp == "<" { ">" } else { "<" })
                } else {
                    format!("content_id {cmp} ?1")
                };
                let sql = format!(
                    "SELECT content_key, value, form FROM content WHERE {range} AND {filter}
                     ORDER BY content_id {order} LIMIT ?2"
                );
                let mut stmt = self.conn.prepare_cached(&sql).map_err(err)?;
                let id_bytes: &[u8] = id.as_bytes();
                let mut params: Vec<&dyn rusqlite::ToSql> = vec![&id_bytes, &limit];
                for arg in args {
                    params.push(arg);
                }
                let mut rows = stmt.query(params.as_slice()).map_err(err)?;
                let mut taken = 0;
                while let Some(row) = rows.next().map_err(err)? {
                    let key_bytes: Vec<u8> = row.get(0).map_err(err)?;
                    if !seen.insert(key_bytes.clone()) {
                        continue;
                    }
                    out.push(self.item_of_row(row, &key_bytes)?);
                    taken += 1;
                }
                if taken == per_side {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Append items with ids in `[from, to]` (`to = None`: to the end of the ring) in id order.
    fn scan_ids(
        &self,
        from: ContentId,
        to: Option<ContentId>,
        limit: usize,
        out: &mut Vec<(ContentKey, ContentValue)>,
    ) -> Result<(), StoreError> {
        if limit == 0 {
            return Ok(());
        }
        let err = |e| classify(&self.path, e);
        let to = to.unwrap_or(ContentId::from([0xff; 32]));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT content_key, value, form FROM content
                 WHERE content_id >= ?1 AND content_id <= ?2
                 ORDER BY content_id, content_key LIMIT ?3",
            )
            .map_err(err)?;
        let mut rows = stmt
            .query((from.as_bytes().as_slice(), to.as_bytes().as_slice(), limit))
            .map_err(err)?;
        while let Some(row) = rows.next().map_err(err)? {
            let key_bytes: Vec<u8> = row.get(0).map_err(err)?;
            out.push(self.item_of_row(row, &key_bytes)?);
        }
        Ok(())
    }

    /// The key and value of a row read as `(content_key, value, form)`.
    fn item_of_row(
        &self,
        row: &rusqlite::Row<'_>,
        key_bytes: &[u8],
    ) -> Result<(ContentKey, ContentValue), StoreError> {
        let err = |e| classify(&self.path, e);
        let value: Vec<u8> = row.get(1).map_err(err)?;
        let form: Option<i64> = row.get(2).map_err(err)?;
        let key = decode_key(&self.path, key_bytes)?;
        let value = self.value_of(&key, &value, form)?;
        Ok((key, value))
    }

    /// A row's value: assembled from the slice when `form` is set, else decoded from the row.
    fn value_of(
        &self,
        key: &ContentKey,
        value: &[u8],
        form: Option<i64>,
    ) -> Result<ContentValue, StoreError> {
        match form {
            Some(form) => assemble(&self.conn, &self.path, key, form),
            None => decode_value(&self.path, key, value),
        }
    }
}

/// A key read from the file.
pub(super) fn decode_key(path: &Path, bytes: &[u8]) -> Result<ContentKey, StoreError> {
    ContentKey::decode(bytes).map_err(|e| StoreError::CorruptValue {
        path: path.to_path_buf(),
        what: "content key",
        reason: e.to_string(),
    })
}

fn decode_value(path: &Path, key: &ContentKey, bytes: &[u8]) -> Result<ContentValue, StoreError> {
    ContentValue::decode(key, bytes).map_err(|e| StoreError::CorruptValue {
        path: path.to_path_buf(),
        what: "content value",
        reason: e.to_string(),
    })
}

/// The outcomes decided without touching the file: outside the radius (for a diff item: its
/// key range out of the node's arc, [`crate::content::Radius::meets`]).
fn precheck(config: &StoreConfig, state: &State, content: &VerifiedContent) -> Option<PutOutcome> {
    if !state.radius.meets(config.node_id, content.key().id_range()) {
        return Some(PutOutcome::OutsideRadius);
    }
    None
}

/// What a value adds to the row and to the slice: the row's own bytes (key, plus the value
/// for one stored whole), its `form` (None: stored whole), and the witness nodes.
pub(super) struct RowParts<'a> {
    pub(super) row_value: Vec<u8>,
    pub(super) form: Option<i64>,
    pub(super) nodes: Vec<&'a alloy_primitives::Bytes>,
}

/// Split a verified value into what its row keeps and what goes into the slice.
pub(super) fn row_parts(value: &ContentValue) -> RowParts<'_> {
    match trie_item(value) {
        Some(item) => RowParts {
            row_value: Vec::new(),
            form: Some(item.form),
            nodes: item.nodes,
        },
        None => RowParts {
            row_value: value.encode(),
            form: None,
            nodes: Vec::new(),
        },
    }
}

/// Insert one item inside the caller's transaction, updating `state` (the caller's copy).
fn put_row(
    conn: &Connection,
    path: &Path,
    config: &StoreConfig,
    state: &mut State,
    content: &VerifiedContent,
) -> Result<PutOutcome, StoreError> {
    let err = |e| classify(path, e);
    let key = content.key().encode();
    let parts = row_parts(content.value());
    let row_size = (key.len() + parts.row_value.len()) as u64;
    // Alone, with none of its nodes shared: what it would take in an empty store.
    let alone = row_size + parts.nodes.iter().map(|n| node_bytes(n.len())).sum::<u64>();
    if alone > config.capacity_bytes {
        return Ok(PutOutcome::TooLarge { bytes: alone });
    }
    let id = content.content_id();
    // `row_size` is at most the capacity, which is below 2^63 in any real configuration; a
    // wrap here could only under-count, so refuse instead.
    let size_i64 = i64::try_from(row_size).map_err(|_| StoreError::InvalidInput {
        path: path.to_path_buf(),
        reason: format!("item of {row_size} bytes"),
    })?;
    let inserted = conn
        .prepare_cached(
            "INSERT INTO content (content_id, content_key, size, value, form)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (content_id, content_key) DO NOTHING",
        )
        .and_then(|mut stmt| {
            stmt.execute((
                id.as_bytes().as_slice(),
                &key,
                size_i64,
                &parts.row_value,
                parts.form,
            ))
        })
        .map_err(err)?;
    if inserted == 0 {
        return Ok(PutOutcome::AlreadyStored);
    }
    let row = conn.last_insert_rowid();
    let added = add_nodes(conn, path, &parts.nodes)?;
    state.stored_bytes += row_size + added;
    state.len += 1;
    if state.stored_bytes <= config.capacity_bytes {
        return Ok(PutOutcome::Stored { pruned: 0 });
    }
    let (pruned, self_pruned) = prune(conn, path, config, state, Some(row))?;
    if self_pruned {
        Ok(PutOutcome::OutsideRadius)
    } else {
        Ok(PutOutcome::Stored { pruned })
    }
}
