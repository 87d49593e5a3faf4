//! Opening a store: telling our file from a foreign or damaged one before writing anything,
//! creating the schema, and bringing the in-memory figures and the radius in line with the file
//! and the configuration.

use super::meta::{
    get_meta, set_meta, write_counts, META_CAPACITY, META_COUNT_BYTES, META_COUNT_ITEMS,
    META_COUNT_UPTO, META_FULL, META_NODE_ID,
};
use super::{
    classify, migrate, prune, ContentStore, State, StoreConfig, StoreError, APPLICATION_ID,
    SCHEMA_VERSION,
};
use crate::content::Radius;
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use std::io::Read;
use std::path::Path;
use std::time::Duration;

/// The first 16 bytes of every SQLite database file.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// The schema of version [`SCHEMA_VERSION`] (with `migrate::TRIE_NODES_TABLE` and
/// `migrate::MIGRATE_V3_TO_V4`).
///
/// `content` keeps `size` before `value` so that reading a size never reads a value's overflow
/// pages. For a trie item (`form` set) `value` is empty and `size` counts its key only; its
/// witness nodes are in `trie_nodes` (`slice.rs`). Bytecode (`form` NULL) is kept whole. A put
/// appends to the table (row ids only grow) and writes `content_by_id_key`, the one index,
/// which lookups by key and by id range need. Pruning and the radius need no index of their
/// own (`prune.rs`: farthest first is nearest the antipode in content-id order).
const SCHEMA: &str = "
CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
CREATE TABLE content (
    id          INTEGER PRIMARY KEY,
    content_id  BLOB NOT NULL,
    content_key BLOB NOT NULL,
    size        INTEGER NOT NULL,
    value       BLOB NOT NULL,
    form        INTEGER
);
CREATE UNIQUE INDEX content_by_id_key ON content (content_id, content_key);
CREATE TABLE headers (
    number     INTEGER PRIMARY KEY,
    hash       BLOB NOT NULL,
    header_rlp BLOB NOT NULL
);
CREATE TABLE peers (
    node_id   BLOB PRIMARY KEY,
    enr       TEXT NOT NULL,
    last_seen INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX peers_by_last_seen ON peers (last_seen);
";

impl ContentStore {
    /// Open the store at `path`, creating it when the file is missing or empty.
    ///
    /// A file that is not SQLite, a database of another program, or a store of a newer schema
    /// version is refused with an error naming the path and is not modified; a store of
    /// schema version 1 or 2 is migrated in place (its witnesses become slice nodes; a one-off
    /// cost of about a verification per stored item), one of version 3 gains the anchor table. A node id other than the one the store was last
    /// opened with simply measures distances from the new id (none are stored); when the
    /// capacity shrank below what is stored, the store prunes before returning.
    pub fn open(path: &Path, config: StoreConfig) -> Result<Self, StoreError> {
        let path_buf = path.to_path_buf();
        let err = |e: rusqlite::Error| classify(path, e);
        precheck_header(path)?;

        // NO_MUTEX: the connection is owned by one `ContentStore`, never shared between threads.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn =
            Connection::open_with_flags(path, flags).map_err(|source| {
                match classify(path, source) {
                    StoreError::Sqlite { path, source } => StoreError::Open { path, source },
                    other => other,
                }
            })?;
        conn.busy_timeout(Duration::from_millis(250)).map_err(err)?;
        // Before the first read: exclusive mode keeps the file to this connection (one node per
        // store) and, in WAL mode, keeps the WAL index in heap memory instead of a -shm file.
        pragma_query(&conn, "PRAGMA locking_mode = EXCLUSIVE").map_err(err)?;

        // Read-only probes first; nothing is written until the file is known to be ours.
        let application_id: i32 = conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .map_err(err)?;
        let user_version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(err)?;
        let objects: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
            .map_err(err)?;
        // The version to migrate from, if any.
        let (fresh, migrate_from) = if application_id == APPLICATION_ID {
            match user_version {
                SCHEMA_VERSION => (false, None),
                1..=3 => (false, Some(user_version)),
                found => {
                    return Err(StoreError::SchemaVersion {
                        path: path_buf,
                        found,
                        expected: SCHEMA_VERSION,
                    })
                }
            }
        } else if application_id == 0 && user_version == 0 && objects == 0 {
            (true, None)
        } else {
            return Err(StoreError::ForeignDatabase {
                path: path_buf,
                application_id,
            });
        };

        let mode = pragma_query(&conn, "PRAGMA journal_mode = WAL").map_err(err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            // Some file systems cannot hold a WAL; the rollback journal SQLite keeps instead is
            // just as crash-safe, only slower.
            tracing::warn!(path = %path.display(), %mode, "WAL mode unavailable; using {mode}");
        }
        // NORMAL in WAL mode syncs only at checkpoints: a process crash loses nothing committed,
        // a power loss may lose the last transactions (module docs, "Durability").
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        // Truncate the WAL back to 8 MB after checkpoints so it does not keep its peak size.
        conn.query_row("PRAGMA journal_size_limit = 8388608", [], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(err)?;
        // SQLite's page cache: 1/64 of the capacity, between 2 MB (SQLite's default) and 8 MB.
        // Puts touch a random leaf of the content-id index; 8 MB keeps the upper levels of a
        // 100k-item store's index in memory, while a small light-node store stays within its
        // memory budget.
        let cache_kib = (config.capacity_bytes / 64 / 1024).clamp(2048, 8192);
        conn.execute_batch(&format!("PRAGMA cache_size = -{cache_kib}"))
            .map_err(err)?;
        // Every statement on the hot paths is `prepare_cached`; about 25 distinct ones in all.
        conn.set_prepared_statement_cache_capacity(64);

        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Exclusive)
            .map_err(err)?;
        if fresh {
            tx.execute_batch(SCHEMA).map_err(err)?;
            tx.execute_batch(migrate::TRIE_NODES_TABLE).map_err(err)?;
            tx.execute_batch(migrate::MIGRATE_V3_TO_V4).map_err(err)?;
            tx.pragma_update(None, "application_id", APPLICATION_ID)
                .map_err(err)?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)
                .map_err(err)?;
            tracing::info!(path = %path.display(), "created a new store");
        }
        if let Some(from) = migrate_from {
            if from == 1 {
                migrate::v1_to_v2(&tx, path)?;
            }
            if from <= 2 {
                let (converted, dropped) = migrate::v2_to_v3(&tx, path)?;
                tracing::info!(
                    path = %path.display(), from, converted, dropped,
                    "migrated the store to slices (schema version 3)"
                );
            }
            migrate::v3_to_v4(&tx, path)?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)
                .map_err(err)?;
            tracing::info!(
                path = %path.display(), from,
                "migrated the store to schema version {SCHEMA_VERSION} (anchors)"
            );
        }
        let state = reconcile(&tx, path, &config)?;
        tx.commit().map_err(err)?;
        tracing::debug!(path = %path.display(), ?state, "store open");

        Ok(ContentStore {
            conn,
            path: path_buf,
            config,
            state,
            anchor_window: super::ANCHOR_WINDOW,
        })
    }
}

/// Refuse a non-empty file that does not start with SQLite's magic, before SQLite sees it.
///
/// SQLite itself would say "file is not a database" for most such files, but it treats some
/// short files as empty and would then write a new database over them.
fn precheck_header(path: &Path) -> Result<(), StoreError> {
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        // Missing (we create it) or unreadable / a directory (SQLite's open reports it).
        Err(_) => return Ok(()),
    };
    let mut head = [0u8; 100];
    let mut filled = 0;
    while filled < head.len() {
        match file.read(&mut head[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            // A directory or unreadable file: let SQLite's open report it.
            Err(_) => return Ok(()),
        }
    }
    if filled == 0 {
        return Ok(());
    }
    // The header is 100 bytes; a shorter non-empty file cannot be a database.
    if filled < head.len() || &head[..16] != SQLITE_MAGIC {
        return Err(StoreError::NotADatabase {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// Run a pragma that answers with one text row (`journal_mode`, `locking_mode`, ...).
fn pragma_query(conn: &Connection, sql: &str) -> rusqlite::Result<String> {
    conn.query_row(sql, [], |r| r.get::<_, String>(0))
}

/// Bring the file in line with `config` and compute the in-memory state: recompute distances
/// for a new node id, decide whether the store is full under this capacity, prune when over it.
fn reconcile(conn: &Connection, path: &Path, config: &StoreConfig) -> Result<State, StoreError> {
    let err = |e: rusqlite::Error| classify(path, e);
    let stored_node_id: Option<Vec<u8>> = get_meta(conn, META_NODE_ID).map_err(err)?;
    let stored_capacity: Option<i64> = get_meta(conn, META_CAPACITY).map_err(err)?;
    let stored_full: Option<i64> = get_meta(conn, META_FULL).map_err(err)?;

    // Distances are not stored, so a new node id needs nothing but this record (the radius
    // and what pruning takes follow the new id from here on).
    if stored_node_id.as_deref() != Some(config.node_id.as_bytes().as_slice()) {
        if stored_node_id.is_some() {
            tracing::info!(path = %path.display(), "node id changed");
        }
        set_meta(conn, META_NODE_ID, config.node_id.as_bytes().as_slice()).map_err(err)?;
    }

    let (len, stored_bytes) = read_counts(conn, path)?;

    let capacity = config.capacity_bytes;
    let capacity_i64 = i64::try_from(capacity).unwrap_or(i64::MAX);
    let full = if stored_capacity == Some(capacity_i64) {
        stored_full == Some(1)
    } else {
        // Another capacity: full only if the store is beyond the level pruning leaves.
        stored_bytes > prune::prune_target(capacity)
    };
    if stored_capacity != Some(capacity_i64) {
        set_meta(conn, META_CAPACITY, capacity_i64).map_err(err)?;
    }
    if stored_full != Some(i64::from(full)) {
        set_meta(conn, META_FULL, i64::from(full)).map_err(err)?;
    }

    let mut state = State {
        stored_bytes,
        len,
        full,
        radius: Radius::MAX,
    };
    write_counts(conn, path, &state)?;
    prune::refresh_radius(conn, path, config, &mut state)?;
    if state.stored_bytes > capacity {
        let (pruned, _) = prune::prune(conn, path, config, &mut state, None)?;
        tracing::info!(path = %path.display(), pruned, "pruned to the new capacity at open");
    }
    Ok(state)
}

/// The number of items and their bytes, from the counts in `meta`.
///
/// Every write transaction ends by writing the counts `(bytes, items, upto = highest row id)`
/// (`content.rs`, `write_counts`), so they are exact for the file as it is. Counts that are
/// missing, impossible, or name another highest row id (a fresh or migrated file, or one
/// altered by hand) are recomputed from the rows and the slice's nodes, which reads the whole
/// file (about a second per few hundred MB).
fn read_counts(conn: &Connection, path: &Path) -> Result<(u64, u64), StoreError> {
    let err = |e: rusqlite::Error| classify(path, e);
    // Read as any type: a value of the wrong type is a damaged snapshot, which a recount
    // repairs, not a reason to refuse the file.
    let read = |name| -> Result<Option<Value>, StoreError> { get_meta(conn, name).map_err(err) };
    let snapshot = (
        read(META_COUNT_ITEMS)?,
        read(META_COUNT_BYTES)?,
        read(META_COUNT_UPTO)?,
    );
    let highest: i64 = conn
        .query_row("SELECT coalesce(max(id), 0) FROM content", [], |r| r.get(0))
        .map_err(err)?;
    match snapshot {
        (Some(Value::Integer(items)), Some(Value::Integer(bytes)), Some(Value::Integer(upto)))
            if items >= 0 && bytes >= 0 && upto == highest =>
        {
            return Ok((items as u64, bytes as u64));
        }
        (None, None, None) => {}
        _ => tracing::warn!(path = %path.display(), "damaged count snapshot; counting every row"),
    }
    let (items, row_bytes): (i64, i64) = conn
        .query_row(
            "SELECT count(*), coalesce(sum(size), 0) FROM content",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(err)?;
    let node_bytes: i64 = conn
        .query_row(
            "SELECT coalesce(sum(32 + length(rlp)), 0) FROM trie_nodes",
            [],
            |r| r.get(0),
        )
        .map_err(err)?;
    let total = |n: Option<i64>| {
        n.and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| StoreError::CorruptValue {
                path: path.to_path_buf(),
                what: "content size",
                reason: format!("impossible total: {row_bytes} + {node_bytes}"),
            })
    };
    Ok((
        total(Some(items))?,
        total(row_bytes.checked_add(node_bytes))?,
    ))
}
