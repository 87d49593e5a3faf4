//! The node's persistent store: verified content within a byte capacity and the radius that
//! capacity implies; recent trusted headers; known peers.
//!
//! This module owns everything the node keeps on disk, in one SQLite database file
//! ([`DEFAULT_FILE_NAME`] in the data directory, or a path the caller gives): the content table,
//! the radius rule, pruning, the header window and the peer table. It knows the *meaning* of what
//! it stores only through [`crate::content`] and [`crate::proof`]: content comes in as
//! [`VerifiedContent`](crate::proof::VerifiedContent), so nothing unverified is ever stored.
//!
//! # The interface is in domain terms
//!
//! Callers say "put this verified witness", "the value for this key", "what lies in this id
//! range". Underneath, the store keeps *slices* (`slice.rs`): the trie nodes of the items it
//! holds, each stored once by hash and shared between the leaves whose witnesses pass through
//! it; a witness is assembled from them when asked for, byte for byte the one that was put.
//! Nothing in the public API names rows, nodes, tables or SQL.
//!
//! *Anchors* (`anchor.rs`, issue #14) are roots at which the store holds the complete slice of
//! a key range: [`ContentStore::reanchor`] moves it to each new root from the block's diff
//! nodes, and any key of the range is then answered at that root.
//!
//! # Capacity and radius
//!
//! * **What is counted.** The capacity bounds the bytes the store keeps for content: for each
//!   item its encoded key (selector byte + SSZ), plus the SSZ value for bytecode (kept whole);
//!   plus, once per distinct trie node however many items share it, its 32-byte hash and its
//!   RLP bytes. Not counted: SQLite's own overhead (page headers, the content-id column and its
//!   index, the node table's b-tree: on the order of a hundred bytes per item and per node,
//!   plus free space within pages; BENCHMARKS.md, "#13 part 1: slices", has the file sizes),
//!   the WAL file (bounded by the auto-checkpoint at ~4 MB and truncated to 8 MB after
//!   checkpoints), headers and peers (bounded by count: 256 headers, 1,024 peers).
//! * **Never exceeded.** After any [`ContentStore::put`] or [`ContentStore::put_batch`] returns,
//!   and after [`ContentStore::open`] returns, stored bytes are at most the capacity — unless
//!   anchored slices (`anchor.rs`) alone exceed it: their nodes count like any node, pruning
//!   takes items only, and the anchors' range is the caller's to narrow.
//! * **Radius.** While the store has never had to prune, the radius is [`Radius::MAX`]: it takes
//!   everything. The first put that takes it over capacity makes it *full*: it prunes the
//!   farthest items (by ring distance from the node id; an item takes with it the trie nodes no
//!   kept item references) until stored bytes are at most 95 % of the capacity (as trin does,
//!   so that pruning is not paid on every put), and from then on the
//!   radius is the distance of the farthest stored item. A put farther than the radius is
//!   refused ([`PutOutcome::OutsideRadius`]), so the radius only ever shrinks while the node id
//!   and capacity stay the same. Reopening with a larger capacity that leaves room again resets
//!   the radius to [`Radius::MAX`]; with a smaller capacity the store prunes at open.
//!
//! # Durability
//!
//! The database runs in WAL mode with `synchronous = NORMAL`; every put (or batch) is one
//! transaction. A process crash (`kill -9`, an app killed by the OS) loses nothing that a put
//! had returned for; a power loss or OS crash may lose the last transactions before the latest
//! checkpoint, but never corrupts the file. The byte count is written in the same transaction
//! as the rows and nodes it counts, so it is always consistent with what survived.
//!
//! The file is opened in SQLite's exclusive locking mode: one process owns it at a time (another
//! gets [`StoreError::Locked`]), which also keeps SQLite from needing a shared-memory file.

mod anchor;
mod beacon;
mod content;
mod diffs;
mod meta;
mod migrate;
mod neighbours;
mod open;
mod peers_headers;
mod prune;
mod slice;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_reopen;

pub use anchor::{Anchor, Reanchor, ReanchorStats, ANCHOR_WINDOW};
pub use beacon::SavedLightClient;
pub use peers_headers::{PeerRecord, StoredHeader, MAX_HEADERS, MAX_PEERS};

use crate::content::{ContentId, Radius};
use rusqlite::Connection;
use std::path::{Path, PathBuf};

/// The database's file name inside a node's data directory.
pub const DEFAULT_FILE_NAME: &str = "portal-state.sqlite3";

/// The value of `PRAGMA application_id` that marks a file as ours (ASCII "PSt1").
///
/// A file with another application id is refused as [`StoreError::ForeignDatabase`].
pub const APPLICATION_ID: i32 = 0x5053_7431;

/// The schema version this build reads and writes (`PRAGMA user_version`).
///
/// Version 4 adds anchors: roots at which the store holds a complete slice of a key range,
/// and a count of the anchored references on each trie node (`anchor.rs`). Version 3 keeps trie items as slices (shared trie nodes by hash) instead of one whole
/// witness per row; version 2 dropped version 1's per-item distance column and its index.
/// Files of versions 1 and 2 are migrated when opened (their witnesses become slice nodes). A
/// file of any other version is refused as [`StoreError::SchemaVersion`]. A version-3 file
/// gains the anchor table at open (every row kept).
pub const SCHEMA_VERSION: i64 = 4;

/// How a store is sized and whose distances it measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreConfig {
    /// The node's id: distances (and so the radius and pruning order) are measured from it.
    pub node_id: ContentId,
    /// Most bytes of content to keep, counted as described in the [module docs](self).
    /// Zero means a node that stores no content (radius [`Radius::ZERO`]).
    pub capacity_bytes: u64,
}

/// What a put did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutOutcome {
    /// The content was stored; making room for it pruned `pruned` farther items (0 when the
    /// store was under capacity).
    Stored {
        /// How many items were pruned to bring the store back within capacity.
        pruned: u64,
    },
    /// The same key was already stored; nothing changed.
    AlreadyStored,
    /// Not stored: the content lies farther than the radius, either before the put or once the
    /// store pruned farthest-first to make room (then the content itself was the farthest).
    OutsideRadius,
    /// Not stored: the item alone (its key, and its witness nodes counted as if none were
    /// shared; bytecode: key + value) is larger than the whole capacity.
    TooLarge {
        /// The item's size as counted against the capacity.
        bytes: u64,
    },
}

impl PutOutcome {
    /// Whether the content is in the store after the put (newly or already).
    pub fn is_stored(&self) -> bool {
        matches!(self, PutOutcome::Stored { .. } | PutOutcome::AlreadyStored)
    }
}

/// Why a store operation failed. Every variant names the database file.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file (or its directory) could not be opened or created: a missing directory, no
    /// permission, a path that is a directory.
    #[error("cannot open store {}: {source}", path.display())]
    Open {
        /// The database file.
        path: PathBuf,
        /// SQLite's reason.
        source: rusqlite::Error,
    },
    /// The data directory could not be created.
    #[error("cannot create data directory {}: {source}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The file exists but is not an SQLite database at all (random bytes, another format, or a
    /// damaged header). It is left untouched.
    #[error("{} is not a database (not an SQLite file, or its header is damaged)", path.display())]
    NotADatabase {
        /// The file.
        path: PathBuf,
    },
    /// The file is a valid SQLite database that belongs to another program (another
    /// `application_id`, or tables of its own). It is left untouched.
    #[error(
        "{} is an SQLite database of another program (application_id {application_id:#010x}), \
         not a portal-state store; refusing to touch it",
        path.display()
    )]
    ForeignDatabase {
        /// The file.
        path: PathBuf,
        /// The `application_id` found in the file (0 when unset).
        application_id: i32,
    },
    /// The file is a portal-state store of a schema version this build cannot read (written by
    /// a newer release, or an old one with no migration).
    #[error(
        "store {} has schema version {found}, this build reads version {expected}",
        path.display()
    )]
    SchemaVersion {
        /// The file.
        path: PathBuf,
        /// The version in the file.
        found: i64,
        /// The version this build reads.
        expected: i64,
    },
    /// Another connection (usually another process running a node) holds the store.
    #[error("store {} is already open elsewhere (another node process or store handle)", path.display())]
    Locked {
        /// The file.
        path: PathBuf,
    },
    /// SQLite found the file damaged ("database disk image is malformed") while reading it.
    /// Delete the file (and its `-wal`) to start afresh; the network will refill it.
    #[error("store {} is corrupt: {source}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// SQLite's report.
        source: rusqlite::Error,
    },
    /// A stored row no longer decodes (a key, value, hash or ENR of the wrong shape): the file
    /// was altered outside this program, or written by a buggy build.
    #[error("store {} holds a damaged {what}: {reason}", path.display())]
    CorruptValue {
        /// The file.
        path: PathBuf,
        /// Which kind of row (e.g. "content value", "header hash").
        what: &'static str,
        /// Why it does not decode.
        reason: String,
    },
    /// An argument the store cannot represent (e.g. a block number above 2^63 - 1).
    #[error("invalid input for store {}: {reason}", path.display())]
    InvalidInput {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// A re-anchoring from a root the store holds no anchor for.
    #[error("store {} holds no anchored slice at root {root}", path.display())]
    NotAnchored {
        /// The file.
        path: PathBuf,
        /// The root asked for.
        root: alloy_primitives::B256,
    },
    /// Diff (or seed) nodes refused, nothing stored: a node does not decode as a trie node, or
    /// does not hash-chain from the new root (its bytes match no reference: altered, or not of
    /// this trie).
    #[error("store {}: diff refused: {reason}", path.display())]
    DiffRejected {
        /// The file.
        path: PathBuf,
        /// Which node and why.
        reason: String,
    },
    /// A seed for another range than the one the held anchors are complete for.
    #[error(
        "store {} anchors the range {held:?}; a seed for {asked:?} needs the anchors dropped first",
        path.display()
    )]
    AnchorRange {
        /// The file.
        path: PathBuf,
        /// The range of the held anchors (boxed: keeps every `StoreError` small).
        held: Box<crate::proof::KeyRange>,
        /// The range asked for.
        asked: Box<crate::proof::KeyRange>,
    },
    /// Any other SQLite failure (disk full, I/O error).
    #[error("store {}: {source}", path.display())]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
}

/// The node's store. See the [module docs](self) for the rules it keeps.
///
/// Reads take `&self`, writes `&mut self`; the type is `Send` but not `Sync`, so a node shares
/// it behind a mutex.
pub struct ContentStore {
    conn: Connection,
    path: PathBuf,
    config: StoreConfig,
    state: State,
    /// How many anchored roots to keep (`anchor.rs`).
    anchor_window: usize,
}

/// The figures kept in memory, seeded from the rows at open. A write works on a copy and
/// stores it back only after its transaction committed, so a failed write leaves them matching
/// the file.
#[derive(Clone, Copy, Debug)]
struct State {
    /// Sum of `size` over content rows.
    stored_bytes: u64,
    /// Number of content rows.
    len: u64,
    /// Whether the store has pruned since it last had room (persisted in `meta`); decides
    /// between [`Radius::MAX`] and the farthest distance.
    full: bool,
    /// The current radius, kept in step with `full` and the farthest row.
    radius: Radius,
}

impl std::fmt::Debug for ContentStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContentStore")
            .field("path", &self.path)
            .field("config", &self.config)
            .field("state", &self.state)
            .finish()
    }
}

impl ContentStore {
    /// Open the store in `data_dir` (creating the directory and [`DEFAULT_FILE_NAME`] in it
    /// when missing).
    pub fn open_in_dir(data_dir: &Path, config: StoreConfig) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::CreateDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
        Self::open(&data_dir.join(DEFAULT_FILE_NAME), config)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The configuration the store was opened with.
    pub fn config(&self) -> StoreConfig {
        self.config
    }

    /// The node's radius: [`Radius::MAX`] until the store first fills, then the distance of the
    /// farthest stored item.
    pub fn radius(&self) -> Radius {
        self.state.radius
    }

    /// Bytes of content stored, counted as described in the [module docs](self).
    pub fn stored_bytes(&self) -> u64 {
        self.state.stored_bytes
    }

    /// The capacity in bytes.
    pub fn capacity_bytes(&self) -> u64 {
        self.config.capacity_bytes
    }

    /// How many content items are stored.
    pub fn len(&self) -> u64 {
        self.state.len
    }

    /// Whether no content is stored.
    pub fn is_empty(&self) -> bool {
        self.state.len == 0
    }

    /// Run SQLite's `quick_check` over the whole file. It reads every page, so it takes time in
    /// proportion to the file (about a second per few hundred MB); [`ContentStore::open`] does
    /// not run it, and damage elsewhere is reported by the operation that meets it.
    pub fn check_integrity(&self) -> Result<(), StoreError> {
        let mut stmt = self
            .conn
            .prepare("PRAGMA quick_check")
            .map_err(|e| self.err(e))?;
        let rows: Vec<String> = stmt
            .query_map([], |row| row.get::<_, String>(0))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))?;
        if rows.len() == 1 && rows[0] == "ok" {
            Ok(())
        } else {
            Err(StoreError::CorruptValue {
                path: self.path.clone(),
                what: "database page",
                reason: rows.join("; "),
            })
        }
    }

    /// Close the database, checkpointing the WAL into the main file. Dropping the store does the
    /// same but cannot report a failure.
    pub fn close(self) -> Result<(), StoreError> {
        let path = self.path;
        self.conn
            .close()
            .map_err(|(_, source)| classify(&path, source))
    }

    /// Map a SQLite error to the variant that says what happened.
    fn err(&self, source: rusqlite::Error) -> StoreError {
        classify(&self.path, source)
    }
}

/// Turn a rusqlite error into a [`StoreError`] naming `path`, picking out corruption and locks.
fn classify(path: &Path, source: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode;
    let path = path.to_path_buf();
    match source.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => StoreError::NotADatabase { path },
        Some(ErrorCode::DatabaseCorrupt) => StoreError::Corrupt { path, source },
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => {
            StoreError::Locked { path }
        }
        Some(ErrorCode::CannotOpen) => StoreError::Open { path, source },
        _ => match source {
            // A column of the wrong type or shape: the row was not written by us.
            rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::InvalidColumnType(..)
            | rusqlite::Error::IntegralValueOutOfRange(..)
            | rusqlite::Error::Utf8Error(..) => StoreError::CorruptValue {
                path,
                what: "row",
                reason: source.to_string(),
            },
            source => StoreError::Sqlite { path, source },
        },
    }
}
