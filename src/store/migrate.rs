//! Migrations of older schema versions, run inside `open`'s exclusive transaction (all or
//! nothing: a failed migration leaves the file as it was).

use super::content::{decode_key, row_parts};
use super::meta::{META_COUNT_BYTES, META_COUNT_ITEMS, META_COUNT_UPTO};
use super::slice::add_nodes;
use super::{classify, StoreError};
use crate::content::ContentValue;
use crate::proof::verify;
use rusqlite::Connection;
use std::path::Path;

/// Version 1 to 2: version 1 kept each item's distance from the node id in a column with an
/// index of its own, so every put also wrote a random page of that index. Drop both (SQLite
/// rewrites the table to drop a column: a one-off cost in proportion to the file). Items,
/// headers, peers and meta are kept as they are.
const MIGRATE_V1_TO_V2: &str = "
DROP INDEX IF EXISTS content_by_distance;
ALTER TABLE content DROP COLUMN distance;
";

/// Version 2 to 3, the schema part: the slice's node table and the rows' `form` flag.
pub(super) const TRIE_NODES_TABLE: &str = "
CREATE TABLE trie_nodes (
    hash BLOB PRIMARY KEY,
    refs INTEGER NOT NULL,
    rlp  BLOB NOT NULL
) WITHOUT ROWID;
";

/// Version 3 to 4: anchors (`anchor.rs`). Every row is kept as it is; no node is anchored yet.
pub(super) const MIGRATE_V3_TO_V4: &str = "
ALTER TABLE trie_nodes ADD COLUMN anchor_refs INTEGER NOT NULL DEFAULT 0;
CREATE TABLE anchors (
    root         BLOB PRIMARY KEY,
    block_number INTEGER NOT NULL,
    range_first  BLOB NOT NULL,
    range_last   BLOB NOT NULL,
    seq          INTEGER NOT NULL
) WITHOUT ROWID;
";

/// Version 3 to 4.
pub(super) fn v3_to_v4(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    conn.execute_batch(MIGRATE_V3_TO_V4)
        .map_err(|e| classify(path, e))
}

/// Rows converted per read in [`v2_to_v3`]: bounds the memory a migration holds at once.
const MIGRATE_PAGE: i64 = 256;

/// Version 1 to 2 (then [`v2_to_v3`] follows).
pub(super) fn v1_to_v2(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    conn.execute_batch(MIGRATE_V1_TO_V2)
        .map_err(|e| classify(path, e))
}

/// Version 2 to 3: every account and storage row's whole witness becomes references to slice
/// nodes (the row keeps its key only); bytecode rows stay whole. Each witness is verified
/// again against its key before its nodes enter the slice, since from now on the slice, not the
/// row, is what is served: a row that no longer verifies (altered on disk) is dropped and
/// counted in the log, never served. The counts are recomputed at open afterwards.
///
/// Returns `(converted, dropped)`.
pub(super) fn v2_to_v3(conn: &Connection, path: &Path) -> Result<(u64, u64), StoreError> {
    let err = |e| classify(path, e);
    conn.execute_batch(TRIE_NODES_TABLE).map_err(err)?;
    conn.execute_batch("ALTER TABLE content ADD COLUMN form INTEGER")
        .map_err(err)?;
    let (mut converted, mut dropped) = (0u64, 0u64);
    let mut after = 0i64;
    loop {
        let rows: Vec<(i64, Vec<u8>, Vec<u8>)> = conn
            .prepare(
                "SELECT id, content_key, value FROM content
                 WHERE id > ?1 AND substr(content_key, 1, 1) IN (x'00', x'01')
                 ORDER BY id LIMIT ?2",
            )
            .and_then(|mut stmt| {
                stmt.query_map((after, MIGRATE_PAGE), |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?
                .collect()
            })
            .map_err(err)?;
        let Some(last) = rows.last() else { break };
        after = last.0;
        for (id, key_bytes, value_bytes) in rows {
            let verified = decode_key(path, &key_bytes).ok().and_then(|key| {
                let value = ContentValue::decode(&key, &value_bytes).ok()?;
                verify(key, value).ok()
            });
            let Some(content) = verified else {
                tracing::warn!(path = %path.display(), id, "dropping a stored item that no longer verifies");
                conn.execute("DELETE FROM content WHERE id = ?1", [id])
                    .map_err(err)?;
                dropped += 1;
                continue;
            };
            let parts = row_parts(content.value());
            add_nodes(conn, path, &parts.nodes)?;
            conn.execute(
                "UPDATE content SET value = x'', form = ?2, size = ?3 WHERE id = ?1",
                (id, parts.form, key_bytes.len() as i64),
            )
            .map_err(err)?;
            converted += 1;
        }
    }
    // The old counts measured whole witnesses: make the open count afresh.
    for name in [META_COUNT_BYTES, META_COUNT_ITEMS, META_COUNT_UPTO] {
        conn.execute("DELETE FROM meta WHERE name = ?1", [name])
            .map_err(err)?;
    }
    Ok((converted, dropped))
}
