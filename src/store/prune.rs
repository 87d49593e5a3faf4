//! Pruning farthest first and the radius it implies.
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
//!
//! # Pruning a leaf of a slice
//!
//! Pruning takes *items* (leaves) farthest first, as before. An item's row goes, and so does
//! each node of its witness that no kept item references any more (`slice.rs`): the upper
//! nodes shared with nearer leaves stay, so every kept leaf's witness stays whole. The bytes
//! a prune frees are the item's row plus the nodes that went with it.

use super::meta::{set_meta, write_counts, META_FULL};
use super::slice::release_item;
use super::{classify, State, StoreConfig, StoreError};
use crate::content::{ContentId, ContentKey, Radius};
use alloy_primitives::U256;
use rusqlite::{Connection, OptionalExtension};
use std::collections::VecDeque;
use std::path::Path;

/// The level pruning brings stored bytes down to: 95 % of the capacity (as trin does), so that
/// a full store does not prune on every put.
pub(super) fn prune_target(capacity: u64) -> u64 {
    capacity - capacity / 20
}

/// The point opposite `node` on the ring, `node + 2^255 mod 2^256`: the top bit flipped.
fn antipode(node: ContentId) -> ContentId {
    let mut bytes = *node.as_bytes();
    bytes[0] ^= 0x80;
    ContentId::from(bytes)
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

    let mut delete = conn
        .prepare_cached("DELETE FROM content WHERE id = ?1")
        .map_err(err)?;
    let mut pruned = 0u64;
    let mut self_pruned = false;
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
            // Deleted as it goes: what a leaf frees depends on which of its nodes the leaves
            // pruned before it left referenced.
            let freed = match row.form {
                Some(form) => {
                    let key = ContentKey::decode(&row.content_key).map_err(|e| {
                        StoreError::CorruptValue {
                            path: path.to_path_buf(),
                            what: "content key",
                            reason: e.to_string(),
                        }
                    })?;
                    release_item(conn, path, &key, form)?
                }
                None => 0,
            };
            delete.execute([row.rowid]).map_err(err)?;
            remaining = remaining.saturating_sub(row.size + freed);
            pruned += 1;
            self_pruned |= new_row == Some(row.rowid);
        }
    }

    state.stored_bytes = remaining;
    state.len = state.len.saturating_sub(pruned);
    write_counts(conn, path, state)?;
    if !state.full {
        set_meta(conn, META_FULL, 1i64).map_err(err)?;
        state.full = true;
    }
    refresh_radius(conn, path, config, state)?;
    tracing::debug!(pruned, stored_bytes = remaining, radius = %state.radius.0, "pruned");
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
    /// The row's `form`: set for a trie item, whose witness nodes it references.
    form: Option<i64>,
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
                "SELECT id, content_id, content_key, size, form FROM content
                 WHERE content_id >= ?1 AND content_id <= ?2
                 ORDER BY content_id, content_key LIMIT ?3",
            ),
            (Direction::Down, None) => conn.prepare_cached(
                "SELECT id, content_id, content_key, size, form FROM content
                 WHERE content_id >= ?1 AND content_id <= ?2
                 ORDER BY content_id DESC, content_key DESC LIMIT ?3",
            ),
            (Direction::Up, Some(_)) => conn.prepare_cached(
                "SELECT id, content_id, content_key, size, form FROM content
                 WHERE (content_id, content_key) > (?1, ?2) AND content_id <= ?3
                 ORDER BY content_id, content_key LIMIT ?4",
            ),
            (Direction::Down, Some(_)) => conn.prepare_cached(
                "SELECT id, content_id, content_key, size, form FROM content
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
            let form: Option<i64> = row.get(4).map_err(err)?;
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
                form,
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
