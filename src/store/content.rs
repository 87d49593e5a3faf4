//! Content: putting verified items under the radius rule, pruning farthest first, reading by
//! key and by id range.
//!
//! # Farthest first without a distance index
//!
//! The ring distance from the node id is not stored: on a ring of 2^256 points every id `x`
//! satisfies `distance(node, x) + distance(antipode, x) = 2^255`, where the antipode is
//! `node + 2^255`. So the farthest items are the ones *nearest the antipode*, and the one index
//! the store needs anyway (content id order) finds them: the radius is the farther of the
//! antipode's ring successor and predecessor (a couple of indexed lookups), and pruning walks
//! outward from the antipode in both directions at once. A second index ordered by distance
//! would cost every put a write to a random page of it, which is what held single puts to
//! ~14k/s at 100k items.

use super::meta::{set_meta, META_COUNT_BYTES, META_COUNT_ITEMS, META_COUNT_UPTO, META_FULL};
use super::{classify, ContentStore, PutOutcome, State, StoreConfig, StoreError};
use crate::content::{ContentId, ContentKey, ContentValue, Radius};
use crate::proof::VerifiedContent;
use alloy_primitives::{Address, B256, U256};
use rusqlite::{Connection, OptionalExtension};
use std::collections::VecDeque;
use std::path::Path;

/// The level pruning brings stored bytes down to: 95 % of the capacity (as trin does), so that
/// a full store does not prune on every put.
pub(super) fn prune_target(capacity: u64) -> u64 {
    capacity - capacity / 20
}

/// Inserts between two writes of the count snapshot: the most rows `open` has to sum beyond
/// it. Rare enough that its one extra page per write is lost in the puts' own pages.
pub(super) const SNAPSHOT_EVERY: u64 = 1024;

/// Write the count snapshot (`open.rs`, `read_counts`) for the rows present now, inside the
/// caller's transaction.
pub(super) fn write_snapshot(
    conn: &Connection,
    path: &Path,
    state: &mut State,
) -> Result<(), StoreError> {
    let err = |e| classify(path, e);
    let upto: i64 = conn
        .prepare_cached("SELECT coalesce(max(id), 0) FROM content")
        .and_then(|mut stmt| stmt.query_row([], |r| r.get(0)))
        .map_err(err)?;
    // Both fit: they are bounded by the capacity and the row count. Were one not to, -1 makes
    // the next open count every row instead of trusting a wrong figure.
    let bytes = i64::try_from(state.stored_bytes).unwrap_or(-1);
    let items = i64::try_from(state.len).unwrap_or(-1);
    set_meta(conn, META_COUNT_BYTES, bytes).map_err(err)?;
    set_meta(conn, META_COUNT_ITEMS, items).map_err(err)?;
    set_meta(conn, META_COUNT_UPTO, upto).map_err(err)?;
    state.since_snapshot = 0;
    Ok(())
}

/// [`write_snapshot`] in a transaction of its own (at close).
pub(super) fn write_snapshot_now(
    conn: &Connection,
    path: &Path,
    state: &mut State,
) -> Result<(), StoreError> {
    let mut copy = *state;
    let tx = WriteTx::begin(conn).map_err(|e| classify(path, e))?;
    write_snapshot(conn, path, &mut copy)?;
    tx.commit().map_err(|e| classify(path, e))?;
    *state = copy;
    Ok(())
}

/// The point opposite `node` on the ring, `node + 2^255 mod 2^256`: the top bit flipped.
fn antipode(node: ContentId) -> ContentId {
    let mut bytes = *node.as_bytes();
    bytes[0] ^= 0x80;
    ContentId::from(bytes)
}

/// A write transaction begun and ended through cached statements (rusqlite's `Transaction`
/// parses `BEGIN`/`COMMIT` afresh each time, a measurable part of a single put). Rolls back
/// when dropped uncommitted, so an error part way leaves the file as it was.
struct WriteTx<'a> {
    conn: &'a Connection,
    open: bool,
}

impl<'a> WriteTx<'a> {
    /// `BEGIN IMMEDIATE`: take the write lock now rather than on the first write, so a busy
    /// file fails here and not half way through.
    fn begin(conn: &'a Connection) -> rusqlite::Result<Self> {
        conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        Ok(Self { conn, open: true })
    }

    fn commit(mut self) -> rusqlite::Result<()> {
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
        let mut state = self.state;
        if let Some(early) = precheck(&self.config, &state, content) {
            return Ok(early);
        }
        let path = &self.path;
        let tx = WriteTx::begin(&self.conn).map_err(|e| classify(path, e))?;
        let outcome = put_row(&self.conn, path, &self.config, &mut state, content)?;
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
        let tx = WriteTx::begin(&self.conn).map_err(|e| classify(path, e))?;
        let mut outcomes = Vec::with_capacity(items.len());
        for content in items {
            let outcome = match precheck(&self.config, &state, content) {
                Some(early) => early,
                None => put_row(&self.conn, path, &self.config, &mut state, content)?,
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

    /// Stored witnesses of the accounts nearest to `id` around the ring, anchored to
    /// `state_root`: up to `per_side` before it and up to `per_side` after it, nearest first.
    /// They include the trie neighbours of an account that is not stored, whose witnesses share
    /// the path that proves it absent.
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
                    "SELECT content_key, value FROM content WHERE {range} AND {filter}
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
                    let value_bytes: Vec<u8> = row.get(1).map_err(err)?;
                    if !seen.insert(key_bytes.clone()) {
                        continue;
                    }
                    let key =
                        ContentKey::decode(&key_bytes).map_err(|e| StoreError::CorruptValue {
                            path: self.path.clone(),
                            what: "content key",
                            reason: e.to_string(),
                        })?;
                    out.push((key, decode_value(&self.path, &key, &value_bytes)?));
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
    // `size` is at most the capacity, which is below 2^63 in any real configuration; a wrap
    // here could only under-count, so refuse instead.
    let size_i64 = i64::try_from(size).map_err(|_| StoreError::InvalidInput {
        path: path.to_path_buf(),
        reason: format!("item of {size} bytes"),
    })?;
    let inserted = conn
        .prepare_cached(
            "INSERT INTO content (content_id, content_key, size, value)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (content_id, content_key) DO NOTHING",
        )
        .and_then(|mut stmt| stmt.execute((id.as_bytes().as_slice(), &key, size_i64, &value)))
        .map_err(err)?;
    if inserted == 0 {
        return Ok(PutOutcome::AlreadyStored);
    }
    let row = conn.last_insert_rowid();
    state.stored_bytes += size;
    state.len += 1;
    state.since_snapshot += 1;
    if state.stored_bytes <= config.capacity_bytes {
        if state.since_snapshot >= SNAPSHOT_EVERY {
            write_snapshot(conn, path, state)?;
        }
        return Ok(PutOutcome::Stored { pruned: 0 });
    }
    let (pruned, self_pruned) = prune(conn, path, config, state, Some(row))?;
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
/// The walk goes outward from the antipode (module docs) in both directions, taking at each
/// step the side whose next id is farther from the node. Ties in distance (one id under several
/// keys, or two ids mirrored about the antipode) go oldest first (lowest row id), so the item
/// being put is the last of its distance to go: if it goes, the radius ends below it.
pub(super) fn prune(
    conn: &Connection,
    path: &Path,
    config: &StoreConfig,
    state: &mut State,
    new_row: Option<i64>,
) -> Result<(u64, bool), StoreError> {
    let err = |e| classify(path, e);
    let target = prune_target(config.capacity_bytes);
    let node = config.node_id;
    let far = antipode(node);
    let one = U256::from(1u8);
    // The two halves of the ring, each listed from the antipode towards the node: upward over
    // [antipode, node - 1] and downward over [node, antipode - 1]. Together they hold every id
    // once, and along each the distance from the node only falls.
    let mut up = HalfRing::new(
        far,
        ContentId::from_u256(node.to_u256().wrapping_sub(one)),
        Direction::Up,
    );
    let mut down = HalfRing::new(
        node,
        ContentId::from_u256(far.to_u256().wrapping_sub(one)),
        Direction::Down,
    );

    let mut victims = Vec::new();
    let mut remaining = state.stored_bytes;
    let mut group: Vec<WalkRow> = Vec::new();
    while remaining > target {
        let up_next = up.peek_id(conn, path)?;
        let down_next = down.peek_id(conn, path)?;
        let distance = |id: Option<ContentId>| id.map(|id| node.distance(id));
        let (take_up, take_down) = match (distance(up_next), distance(down_next)) {
            (None, None) => break,
            (Some(_), None) => (true, false),
            (None, Some(_)) => (false, true),
            (Some(u), Some(d)) => (u >= d, d >= u),
        };
        group.clear();
        if take_up {
            up.take_id_group(conn, path, &mut group)?;
        }
        if take_down {
            down.take_id_group(conn, path, &mut group)?;
        }
        group.sort_unstable_by_key(|row| row.rowid);
        for row in &group {
            if remaining <= target {
                break;
            }
            victims.push(row.rowid);
            remaining = remaining.saturating_sub(row.size);
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
    // Rows left: the snapshot must not count them any more (`open.rs`, `read_counts`).
    write_snapshot(conn, path, state)?;
    if !state.full {
        set_meta(conn, META_FULL, 1i64).map_err(err)?;
        state.full = true;
    }
    refresh_radius(conn, path, config, state)?;
    tracing::debug!(pruned, stored_bytes = remaining, radius = %state.radius.0, "pruned");
    let self_pruned = new_row.is_some_and(|row| victims.contains(&row));
    Ok((pruned, self_pruned))
}

/// Which way a [`HalfRing`] walks the content-id order.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// Increasing ids.
    Up,
    /// Decreasing ids.
    Down,
}

/// A row met by the pruning walk.
struct WalkRow {
    rowid: i64,
    content_id: ContentId,
    content_key: Vec<u8>,
    size: u64,
}

/// A walk over the stored items of one ring range, in ring order from one end, read from the
/// content-id index a page of rows at a time.
///
/// A ring range that crosses `0xff..ff`/`0x00..00` is two ranges of raw ids ("segments"),
/// walked one after the other. Paging resumes after the last row read by its
/// `(content_id, content_key)`, the index's own order, so no row is met twice or skipped.
struct HalfRing {
    direction: Direction,
    /// Raw-id ranges `(low, high)`, both included, in walking order.
    segments: VecDeque<(ContentId, ContentId)>,
    /// Rows read but not yet taken.
    buffer: VecDeque<WalkRow>,
    /// The last row read in the current segment, where the next page resumes.
    resume: Option<(ContentId, Vec<u8>)>,
}

/// Rows read per query: enough that a prune of thousands of items takes tens of queries, few
/// enough that a prune of one item reads little past it. Unit tests use pages of 3 so that
/// their small stores still page, and groups of one id still span pages.
const WALK_PAGE: i64 = if cfg!(test) { 3 } else { 128 };

impl HalfRing {
    /// The ring range going up from `low` to `high` (both included; `high < low` wraps),
    /// walked upward from `low` or downward from `high`.
    fn new(low: ContentId, high: ContentId, direction: Direction) -> Self {
        let zero = ContentId::default();
        let max = ContentId::from([0xff; 32]);
        let mut segments = VecDeque::new();
        if low <= high {
            segments.push_back((low, high));
        } else {
            // Wraps: [low, max] and [0, high]; upward meets [low, max] first, downward
            // [0, high] first.
            match direction {
                Direction::Up => {
                    segments.push_back((low, max));
                    segments.push_back((zero, high));
                }
                Direction::Down => {
                    segments.push_back((zero, high));
                    segments.push_back((low, max));
                }
            }
        }
        Self {
            direction,
            segments,
            buffer: VecDeque::new(),
            resume: None,
        }
    }

    /// The content id of the next row, reading a page when the buffer is empty.
    fn peek_id(&mut self, conn: &Connection, path: &Path) -> Result<Option<ContentId>, StoreError> {
        while self.buffer.is_empty() {
            if !self.fill(conn, path)? {
                return Ok(None);
            }
        }
        Ok(self.buffer.front().map(|row| row.content_id))
    }

    /// Move every row with the next row's content id into `out` (they may span pages).
    fn take_id_group(
        &mut self,
        conn: &Connection,
        path: &Path,
        out: &mut Vec<WalkRow>,
    ) -> Result<(), StoreError> {
        let Some(id) = self.peek_id(conn, path)? else {
            return Ok(());
        };
        while self.peek_id(conn, path)? == Some(id) {
            if let Some(row) = self.buffer.pop_front() {
                out.push(row);
            }
        }
        Ok(())
    }

    /// Read the next page into the buffer. Returns false when the walk is over.
    fn fill(&mut self, conn: &Connection, path: &Path) -> Result<bool, StoreError> {
        let err = |e| classify(path, e);
        let Some(&(low, high)) = self.segments.front() else {
            return Ok(false);
        };
        let low = low.as_bytes().as_slice();
        let high = high.as_bytes().as_slice();
        let mut stmt = match (self.direction, &self.resume) {
            (Direction::Up, None) => conn.prepare_cached(
                "SELECT id, content_id, content_key, size FROM content
                 WHERE content_id >= ?1 AND content_id <= ?2
                 ORDER BY content_id, content_key LIMIT ?3",
            ),
            (Direction::Down, None) => conn.prepare_cached(
                "SELECT id, content_id, content_key, size FROM content
                 WHERE content_id >= ?1 AND content_id <= ?2
                 ORDER BY content_id DESC, content_key DESC LIMIT ?3",
            ),
            (Direction::Up, Some(_)) => conn.prepare_cached(
                "SELECT id, content_id, content_key, size FROM content
                 WHERE (content_id, content_key) > (?1, ?2) AND content_id <= ?3
                 ORDER BY content_id, content_key LIMIT ?4",
            ),
            (Direction::Down, Some(_)) => conn.prepare_cached(
                "SELECT id, content_id, content_key, size FROM content
                 WHERE (content_id, content_key) < (?1, ?2) AND content_id >= ?3
                 ORDER BY content_id DESC, content_key DESC LIMIT ?4",
            ),
        }
        .map_err(err)?;
        let mut rows = match (self.direction, &self.resume) {
            (_, None) => stmt.query((low, high, WALK_PAGE)),
            // Upward the range still ends at `high`; downward at `low`.
            (Direction::Up, Some((id, key))) => {
                stmt.query((id.as_bytes().as_slice(), key, high, WALK_PAGE))
            }
            (Direction::Down, Some((id, key))) => {
                stmt.query((id.as_bytes().as_slice(), key, low, WALK_PAGE))
            }
        }
        .map_err(err)?;
        let mut read = 0;
        while let Some(row) = rows.next().map_err(err)? {
            let rowid: i64 = row.get(0).map_err(err)?;
            let id: Vec<u8> = row.get(1).map_err(err)?;
            let content_key: Vec<u8> = row.get(2).map_err(err)?;
            let size: i64 = row.get(3).map_err(err)?;
            let content_id = id_from_column(path, &id)?;
            let size = u64::try_from(size).map_err(|_| StoreError::CorruptValue {
                path: path.to_path_buf(),
                what: "content size",
                reason: format!("negative size {size}"),
            })?;
            self.buffer.push_back(WalkRow {
                rowid,
                content_id,
                content_key,
                size,
            });
            read += 1;
        }
        if read < WALK_PAGE {
            // This segment is done; the next one starts afresh.
            self.segments.pop_front();
            self.resume = None;
        } else if let Some(last) = self.buffer.back() {
            self.resume = Some((last.content_id, last.content_key.clone()));
        }
        Ok(true)
    }
}

/// A content id read from the file, refused unless it is 32 bytes.
fn id_from_column(path: &Path, bytes: &[u8]) -> Result<ContentId, StoreError> {
    let id: [u8; 32] = bytes.try_into().map_err(|_| StoreError::CorruptValue {
        path: path.to_path_buf(),
        what: "content id",
        reason: format!("{} bytes, expected 32", bytes.len()),
    })?;
    Ok(ContentId::from(id))
}

/// Set `state.radius` from the rule: zero capacity → zero; not full → MAX; full → the
/// farthest stored distance (and an emptied store has room again: not full, MAX).
///
/// The farthest item is the one nearest the antipode (module docs), so it is the antipode's
/// ring successor or its ring predecessor among stored ids: two index lookups, plus one more
/// for each side that has to wrap around the ends of the id space.
pub(super) fn refresh_radius(
    conn: &Connection,
    path: &Path,
    config: &StoreConfig,
    state: &mut State,
) -> Result<(), StoreError> {
    let err = |e| classify(path, e);
    if config.capacity_bytes == 0 {
        state.radius = Radius::ZERO;
        return Ok(());
    }
    if !state.full {
        state.radius = Radius::MAX;
        return Ok(());
    }
    let far = antipode(config.node_id);
    let far = far.as_bytes().as_slice();
    let lookup = |sql: &str, arg: Option<&[u8]>| -> Result<Option<ContentId>, StoreError> {
        let mut stmt = conn.prepare_cached(sql).map_err(err)?;
        let found: Option<Vec<u8>> = match arg {
            Some(arg) => stmt.query_row([arg], |r| r.get(0)),
            None => stmt.query_row([], |r| r.get(0)),
        }
        .optional()
        .map_err(err)?;
        found.map(|bytes| id_from_column(path, &bytes)).transpose()
    };
    // Successor: the first id at or above the antipode, else (wrapping) the lowest id.
    let successor = match lookup(
        "SELECT content_id FROM content WHERE content_id >= ?1 ORDER BY content_id LIMIT 1",
        Some(far),
    )? {
        Some(id) => Some(id),
        None => lookup(
            "SELECT content_id FROM content ORDER BY content_id LIMIT 1",
            None,
        )?,
    };
    let Some(successor) = successor else {
        // Nothing stored: an emptied store has room again.
        set_meta(conn, META_FULL, 0i64).map_err(err)?;
        state.full = false;
        state.radius = Radius::MAX;
        return Ok(());
    };
    // Predecessor: the last id below the antipode, else (wrapping) the highest id. The store
    // is not empty, so one of the two exists.
    let predecessor = match lookup(
        "SELECT content_id FROM content WHERE content_id < ?1
         ORDER BY content_id DESC LIMIT 1",
        Some(far),
    )? {
        Some(id) => id,
        None => lookup(
            "SELECT content_id FROM content ORDER BY content_id DESC LIMIT 1",
            None,
        )?
        .unwrap_or(successor),
    };
    let node = config.node_id;
    state.radius = Radius(node.distance(successor).max(node.distance(predecessor)));
    Ok(())
}
