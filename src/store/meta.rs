//! The `meta` table: its keys and the one reader and writer of its rows.
//!
//! Opening (`open.rs`: node id, capacity, the counts), content upkeep (`content.rs`,
//! `prune.rs`: the full flag, the counts) and migrations read and write it; keeping the keys here
//! lets each depend on this file instead of on each other.

use super::{classify, State, StoreError};
use rusqlite::{Connection, OptionalExtension};
use std::path::Path;

/// Keys of the `meta` table.
pub(super) const META_NODE_ID: &str = "node_id";
pub(super) const META_CAPACITY: &str = "capacity_bytes";
pub(super) const META_FULL: &str = "full";
/// The counts (see `open.rs`, `read_counts`), written by every write transaction: stored bytes,
/// items, and the highest row id they include.
pub(super) const META_COUNT_BYTES: &str = "count_bytes";
pub(super) const META_COUNT_ITEMS: &str = "count_items";
pub(super) const META_COUNT_UPTO: &str = "count_upto";

/// The value of `name` in the `meta` table, if set.
pub(super) fn get_meta<T: rusqlite::types::FromSql>(
    conn: &Connection,
    name: &str,
) -> rusqlite::Result<Option<T>> {
    conn.query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| {
        r.get(0)
    })
    .optional()
}

/// Set `name` in the `meta` table to `value`, inside the caller's transaction if any.
pub(super) fn set_meta<T: rusqlite::ToSql>(
    conn: &Connection,
    name: &str,
    value: T,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO meta (name, value) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
    )?
    .execute((name, value))?;
    Ok(())
}

/// Write the counts (`open.rs`, `read_counts`) of what is stored now, inside the caller's
/// transaction: every write transaction ends with it, so the file's counts are always exact.
pub(super) fn write_counts(
    conn: &Connection,
    path: &Path,
    state: &State,
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
    Ok(())
}
