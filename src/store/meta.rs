//! The `meta` table: its keys and the one reader and writer of its rows.
//!
//! Both opening (`open.rs`: node id, capacity, the count snapshot) and content upkeep
//! (`content.rs`: the full flag, the count snapshot) read and write it; keeping the keys here
//! lets each depend on this file instead of on each other.

use rusqlite::{Connection, OptionalExtension};

/// Keys of the `meta` table.
pub(super) const META_NODE_ID: &str = "node_id";
pub(super) const META_CAPACITY: &str = "capacity_bytes";
pub(super) const META_FULL: &str = "full";
/// The count snapshot (see `open.rs`, `read_counts`): stored bytes, items, and the highest row id
/// they include.
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
