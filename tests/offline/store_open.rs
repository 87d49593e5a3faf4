//! Opening a store from files that are not ours: random bytes, a truncated store, a foreign
//! SQLite database, a newer schema, a file another process holds. Each must give an error that
//! names the path, never a panic, and must leave a foreign file as it was.

use portal_state::content::{ContentId, Radius};
use portal_state::store::{
    ContentStore, StoreConfig, StoreError, APPLICATION_ID, DEFAULT_FILE_NAME, SCHEMA_VERSION,
};
use std::path::{Path, PathBuf};

fn config() -> StoreConfig {
    StoreConfig {
        node_id: ContentId::from([7; 32]),
        capacity_bytes: 1 << 20,
    }
}

/// Deterministic pseudo-random bytes (splitmix64).
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut s = seed;
    (0..len)
        .map(|_| {
            s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (z ^ (z >> 31)) as u8
        })
        .collect()
}

fn names_path(err: &StoreError, path: &Path) -> bool {
    err.to_string().contains(&path.display().to_string())
}

/// Files next to `path` that SQLite would create (`-wal`, `-shm`, `-journal`).
fn side_files(path: &Path) -> Vec<PathBuf> {
    ["-wal", "-shm", "-journal"]
        .iter()
        .map(|s| PathBuf::from(format!("{}{s}", path.display())))
        .filter(|p| p.exists())
        .collect()
}

#[test]
fn random_bytes_are_not_a_database_and_stay_untouched() {
    let dir = tempfile::tempdir().unwrap();
    for (i, len) in [1usize, 15, 99, 100, 512, 4096, 100_000]
        .into_iter()
        .enumerate()
    {
        let path = dir.path().join(format!("random-{len}.sqlite3"));
        let bytes = noise(i as u64, len);
        std::fs::write(&path, &bytes).unwrap();
        let err = ContentStore::open(&path, config()).unwrap_err();
        assert!(
            matches!(err, StoreError::NotADatabase { .. }),
            "{len} bytes: {err:?}"
        );
        assert!(names_path(&err, &path), "{err}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            bytes,
            "{len}-byte file changed"
        );
        assert!(side_files(&path).is_empty());
    }
}

/// SQLite's magic followed by garbage: past our header check, SQLite itself refuses it.
#[test]
fn sqlite_magic_with_a_garbage_header() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("magic.sqlite3");
    let mut bytes = b"SQLite format 3\0".to_vec();
    bytes.extend(noise(9, 8192));
    std::fs::write(&path, &bytes).unwrap();
    let err = ContentStore::open(&path, config()).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotADatabase { .. } | StoreError::Corrupt { .. }
        ),
        "{err:?}"
    );
    assert!(names_path(&err, &path), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
}

/// A real store cut short: the error (at open or at the first read that meets the missing
/// pages) names the file.
#[test]
fn truncated_store_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite3");
    {
        let mut store = ContentStore::open(&path, config()).unwrap();
        for n in 0..256u64 {
            store
                .put_header(n, [n as u8; 32].into(), &noise(n, 2000))
                .unwrap();
        }
        for n in 0..1000u32 {
            let mut id = [0u8; 32];
            id[..4].copy_from_slice(&n.to_be_bytes());
            store
                .put_peer(id, &format!("enr:-{n:0>200}"), n.into())
                .unwrap();
        }
        store.close().unwrap();
    }
    assert!(
        side_files(&path).is_empty(),
        "close should checkpoint the WAL"
    );
    let full = std::fs::read(&path).unwrap();
    assert!(full.len() > 400_000);
    for keep in [full.len() / 3, full.len() / 2, 4096 + 100] {
        std::fs::write(&path, &full[..keep]).unwrap();
        let err = match ContentStore::open(&path, config()) {
            Err(e) => e,
            Ok(store) => store
                .headers_newest_first(usize::MAX)
                .and_then(|_| store.peers(usize::MAX))
                .and_then(|_| store.check_integrity())
                .expect_err("truncation went unnoticed"),
        };
        assert!(names_path(&err, &path), "{err}");
        assert!(
            matches!(
                err,
                StoreError::Corrupt { .. }
                    | StoreError::CorruptValue { .. }
                    | StoreError::NotADatabase { .. }
            ),
            "kept {keep}: {err:?}"
        );
    }
}

/// A valid SQLite database of another program: refused, byte for byte unchanged, no side files.
#[test]
fn foreign_database_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.db");
    let with_id = dir.path().join("with-id.db");
    let empty_other_id = dir.path().join("empty-other-id.db");
    {
        let c = rusqlite::Connection::open(&plain).unwrap();
        c.execute_batch("CREATE TABLE notes (t TEXT); INSERT INTO notes VALUES ('hello');")
            .unwrap();
        let c = rusqlite::Connection::open(&with_id).unwrap();
        c.execute_batch(
            "PRAGMA application_id = 1234; CREATE TABLE content (x); PRAGMA user_version = 1;",
        )
        .unwrap();
        // No tables at all, but stamped by someone else: still not ours to take.
        let c = rusqlite::Connection::open(&empty_other_id).unwrap();
        c.execute_batch("PRAGMA application_id = 42;").unwrap();
    }
    for (path, id) in [(&plain, 0), (&with_id, 1234), (&empty_other_id, 42)] {
        let before = std::fs::read(path).unwrap();
        let err = ContentStore::open(path, config()).unwrap_err();
        match &err {
            StoreError::ForeignDatabase { application_id, .. } => assert_eq!(*application_id, id),
            other => panic!("{}: {other:?}", path.display()),
        }
        assert!(names_path(&err, path), "{err}");
        assert_eq!(std::fs::read(path).unwrap(), before);
        assert!(side_files(path).is_empty(), "{:?}", side_files(path));
    }
    // The foreign data is still readable by its owner.
    let c = rusqlite::Connection::open(&plain).unwrap();
    let t: String = c
        .query_row("SELECT t FROM notes", [], |r| r.get(0))
        .unwrap();
    assert_eq!(t, "hello");
}

#[test]
fn newer_schema_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite3");
    ContentStore::open(&path, config())
        .unwrap()
        .close()
        .unwrap();
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        let id: i32 = c
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .unwrap();
        assert_eq!(id, APPLICATION_ID);
        c.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
    }
    let err = ContentStore::open(&path, config()).unwrap_err();
    match &err {
        StoreError::SchemaVersion {
            found, expected, ..
        } => {
            assert_eq!((*found, *expected), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
        }
        other => panic!("{other:?}"),
    }
    assert!(names_path(&err, &path), "{err}");
}

/// A store already open (here in the same process; a second node process gets the same) is
/// refused rather than shared.
#[test]
fn second_open_is_locked_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite3");
    let mut first = ContentStore::open(&path, config()).unwrap();
    let err = ContentStore::open(&path, config()).unwrap_err();
    assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
    assert!(names_path(&err, &path), "{err}");
    // The first one is unaffected, and once it is closed the store opens again.
    first.put_peer([1; 32], "enr:-x", 1).unwrap();
    drop(first);
    let again = ContentStore::open(&path, config()).unwrap();
    assert_eq!(again.peers(10).unwrap().len(), 1);
}

#[test]
fn unopenable_paths_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    // A directory where the file should be.
    let err = ContentStore::open(dir.path(), config()).unwrap_err();
    assert!(names_path(&err, dir.path()), "{err}");
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    // A missing parent directory.
    let missing = dir.path().join("no/such/dir/store.sqlite3");
    let err = ContentStore::open(&missing, config()).unwrap_err();
    assert!(names_path(&err, &missing), "{err}");
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    // A data directory that cannot be created because a file is in the way.
    let blocker = dir.path().join("blocker");
    std::fs::write(&blocker, b"x").unwrap();
    let err = ContentStore::open_in_dir(&blocker.join("data"), config()).unwrap_err();
    assert!(matches!(err, StoreError::CreateDir { .. }), "{err:?}");
}

/// A missing file, an empty file, and a missing data directory all become a new store.
#[test]
fn new_and_empty_files_become_stores() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.sqlite3");
    std::fs::write(&empty, b"").unwrap();
    let store = ContentStore::open(&empty, config()).unwrap();
    assert_eq!(store.radius(), Radius::MAX);
    assert_eq!((store.len(), store.stored_bytes()), (0, 0));
    assert_eq!(store.capacity_bytes(), 1 << 20);
    store.close().unwrap();
    // Reopening our own, still empty, store works.
    ContentStore::open(&empty, config()).unwrap();

    let data = dir.path().join("a/b");
    let store = ContentStore::open_in_dir(&data, config()).unwrap();
    assert_eq!(store.path(), data.join(DEFAULT_FILE_NAME));
}
