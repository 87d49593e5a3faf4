//! Content: putting verified items under the radius rule, pruning farthest first, reading by
//! key and by id range.

use super::open::{set_meta, META_FULL};
use super::{classify, ContentStore, PutOutcome, State, StoreConfig, StoreError};
use crate::content::{ContentId, ContentKey, ContentValue, Radius};
use crate::proof::VerifiedContent;
use alloy_primitives::U256;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use std::path::Path;

/// The level pruning brings stored bytes down to: 95 % of the capacity (as trin does), so that
/// a full store does not prune on every put.
pub(super) fn prune_target(capacity: u64) -> u64 {
    capacity - capacity / 20
}

/// The distance column: the ring distance from the node id, 32 bytes big-endian, so that
/// SQLite's `memcmp` order of BLOBs is the numeric order.
pub(super) fn distance_bytes(node_id: ContentId, id: ContentId) -> [u8; 32] {
    node_id.distance(id).to_be_bytes::<32>()
}

impl ContentStore {
    /// Store a verified item, if it lies within the radius, in one transaction; prune farthest
    /// first when that takes the store over capacity.
    ///
    /// When this returns, stored bytes are at most the capacity and the item is durable against
    /// a process crash (module docs, "Durability").
    pub fn put(&mut self, content: &VerifiedContent) -> Result<PutOutcome, StoreError> {
        let mut state = self.state;
        if let Some(early) = precheck(&self.config, &state, content) {
            return Ok(early);
        }
        let path = &self.path;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| classify(path, e))?;
        let outcome = put_row(&tx, path, &self.config, &mut state, content)?;
        tx.commit().map_err(|e| classify(path, e))?;
        self.state = state;
        Ok(outcome)
    }

    /// Store many verified items in one transaction (for bridges and bulk loads). Each item
    /// meets the same rules as [`ContentStore::put`] in order — the radius can shrink part way —
    /// and the outcomes are returned in order. All or nothing: on error, nothing is stored.
    pub fn put_batch(&mut self, items: &[VerifiedContent]) -> Result<Vec<PutOutcome>, StoreError> {
        let mut state = self.state;
        let path = &self.path;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| classify(path, e))?;
        let mut outcomes = Vec::with_capacity(items.len());
        for content in items {
            let outcome = match precheck(&self.config, &state, content) {
                Some(early) => early,
                None => put_row(&tx, path, &self.config, &mut state, content)?,
            };
            outcomes.push(outcome);
        }
        tx.commit().map_err(|e| classify(path, e))?;
        self.state = state;
        Ok(outcomes)
    }

    /// The value stored for `key`, decoded.
    pub fn get(&self, key: &ContentKey) -> Result<Option<ContentValue>, StoreError> {
        match self.get_encoded(key)? {
            Some(bytes) => decode_value(&self.path, key, &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// The value stored for `key` as it travels on the wire (SSZ), for serving it to a peer
    /// without decoding and re-encoding.
    pub fn get_encoded(&self, key: &ContentKey) -> Result<Option<Vec<u8>>, StoreError> {
        let err = |e| classify(&self.path, e);
        let mut stmt = self
            .conn
            .prepare_cached("SELECT value FROM content WHERE content_id = ?1 AND content_key = ?2")
            .map_err(err)?;
        stmt.query_row(
            (key.content_id().as_bytes().as_slice(), key.encode()),
            |r| r.get(0),
        )
        .optional()
        .map_err(err)
    }

    /// Whether a value is stored for `key`.
    pub fn contains(&self, key: &ContentKey) -> Result<bool, StoreError> {
        let err = |e| classify(&self.path, e);
        let mut stmt = self
            .conn
            .prepare_cached("SELECT 1 FROM content WHERE content_id = ?1 AND content_key = ?2")
            .map_err(err)?;
        stmt.exists((key.content_id().as_bytes().as_slice(), key.encode()))
            .map_err(err)
    }

    /// Up to `limit` stored items whose content ids lie on the ring from `from` to `to`, both
    /// included, in ring order starting at `from`. When `to < from` the range wraps through
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
                "SELECT content_key, value FROM content
                 WHERE content_id >= ?1 AND content_id <= ?2
                 ORDER BY content_id, content_key LIMIT ?3",
            )
            .map_err(err)?;
        let mut rows = stmt
            .query((from.as_bytes().as_slice(), to.as_bytes().as_slice(), limit))
            .map_err(err)?;
        while let Some(row) = rows.next().map_err(err)? {
            let key_bytes: Vec<u8> = row.get(0).map_err(err)?;
            let value_bytes: Vec<u8> = row.get(1).map_err(err)?;
            let key = ContentKey::decode(&key_bytes).map_err(|e| StoreError::CorruptValue {
                path: self.path.clone(),
                what: "content key",
                reason: e.to_string(),
            })?;
            let value = decode_value(&self.path, &key, &value_bytes)?;
            out.push((key, value));
        }
        Ok(())
    }
}

fn decode_value(path: &Path, key: &ContentKey, bytes: &[u8]) -> Result<ContentValue, StoreError> {
    ContentValue::decode(key, bytes).map_err(|e| StoreError::CorruptValue {
        path: path.to_path_buf(),
        what: "content value",
        reason: e.to_string(),
    })
}

/// The outcomes decided without touching the file: outside the radius.
fn precheck(config: &StoreConfig, state: &State, content: &VerifiedContent) -> Option<PutOutcome> {
    if !state.radius.covers(config.node_id, content.content_id()) {
        return Some(PutOutcome::OutsideRadius);
    }
    None
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
    let value = content.value().encode();
    let size = (key.len() + value.len()) as u64;
    if size > config.capacity_bytes {
        return Ok(PutOutcome::TooLarge { bytes: size });
    }
    let id = content.content_id();
    let distance = distance_bytes(config.node_id, id);
    // `size` is at most the capacity, which is below 2^63 in any real configuration; a wrap
    // here could only under-count, so refuse instead.
    let size_i64 = i64::try_from(size).map_err(|_| StoreError::InvalidInput {
        path: path.to_path_buf(),
        reason: format!("item of {size} bytes"),
    })?;
    let inserted = conn
        .prepare_cached(
            "INSERT INTO content (content_id, content_key, distance, size, value)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (content_id, content_key) DO NOTHING",
        )
        .and_then(|mut stmt| {
            stmt.execute((id.as_bytes().as_slice(), &key, distance, size_i64, &value))
        })
        .map_err(err)?;
    if inserted == 0 {
        return Ok(PutOutcome::AlreadyStored);
    }
    let row = conn.last_insert_rowid();
    state.stored_bytes += size;
    state.len += 1;
    if state.stored_bytes <= config.capacity_bytes {
        return Ok(PutOutcome::Stored { pruned: 0 });
    }
    let (pruned, self_pruned) = prune(conn, path, config.capacity_bytes, state, Some(row))?;
    if self_pruned {
        Ok(PutOutcome::OutsideRadius)
    } else {
        Ok(PutOutcome::Stored { pruned })
    }
}

/// Delete the farthest items until stored bytes are at most [`prune_target`], mark the store
/// full and set the radius to the farthest remaining distance. Returns how many items went and
/// whether `new_row` was among them.
///
/// Ties in distance (the same id under several keys) go oldest first, so the item being put is
/// the last of its distance to go: if it goes, the radius ends below it.
pub(super) fn prune(
    conn: &Connection,
    path: &Path,
    capacity: u64,
    state: &mut State,
    new_row: Option<i64>,
) -> Result<(u64, bool), StoreError> {
    let err = |e| classify(path, e);
    let target = prune_target(capacity);
    let mut victims = Vec::new();
    let mut remaining = state.stored_bytes;
    {
        let mut stmt = conn
            .prepare_cached("SELECT id, size FROM content ORDER BY distance DESC, id ASC")
            .map_err(err)?;
        let mut rows = stmt.query([]).map_err(err)?;
        while remaining > target {
            let Some(row) = rows.next().map_err(err)? else {
                break;
            };
            let id: i64 = row.get(0).map_err(err)?;
            let size: i64 = row.get(1).map_err(err)?;
            let size = u64::try_from(size).map_err(|_| StoreError::CorruptValue {
                path: path.to_path_buf(),
                what: "content size",
                reason: format!("negative size {size}"),
            })?;
            victims.push(id);
            remaining = remaining.saturating_sub(size);
        }
    }
    let mut delete = conn
        .prepare_cached("DELETE FROM content WHERE id = ?1")
        .map_err(err)?;
    for id in &victims {
        delete.execute([id]).map_err(err)?;
    }
    let pruned = victims.len() as u64;
    state.stored_bytes = remaining;
    state.len = state.len.saturating_sub(pruned);
    if !state.full {
        set_meta(conn, META_FULL, 1i64).map_err(err)?;
        state.full = true;
    }
    refresh_radius(conn, path, capacity, state)?;
    tracing::debug!(pruned, stored_bytes = remaining, radius = %state.radius.0, "pruned");
    let self_pruned = new_row.is_some_and(|row| victims.contains(&row));
    Ok((pruned, self_pruned))
}

/// Set `state.radius` from the rule: zero capacity → zero; not full → MAX; full → the
/// farthest stored distance (and an emptied store has room again: not full, MAX).
pub(super) fn refresh_radius(
    conn: &Connection,
    path: &Path,
    capacity: u64,
    state: &mut State,
) -> Result<(), StoreError> {
    let err = |e| classify(path, e);
    if capacity == 0 {
        state.radius = Radius::ZERO;
        return Ok(());
    }
    if !state.full {
        state.radius = Radius::MAX;
        return Ok(());
    }
    let farthest: Option<Vec<u8>> = conn
        .prepare_cached("SELECT distance FROM content ORDER BY distance DESC LIMIT 1")
        .and_then(|mut stmt| stmt.query_row([], |r| r.get(0)).optional())
        .map_err(err)?;
    match farthest {
        Some(bytes) if bytes.len() == 32 => {
            state.radius = Radius(U256::from_be_slice(&bytes));
        }
        Some(bytes) => {
            return Err(StoreError::CorruptValue {
                path: path.to_path_buf(),
                what: "content distance",
                reason: format!("{} bytes, expected 32", bytes.len()),
            })
        }
        None => {
            set_meta(conn, META_FULL, 0i64).map_err(err)?;
            state.full = false;
            state.radius = Radius::MAX;
        }
    }
    Ok(())
}
