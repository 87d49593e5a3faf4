//! Unit tests of the store across reopens, damage and crashes: what survives a close, a
//! reopen with another capacity or node id, an overwritten page, `kill -9` mid-write, an
//! unclean close, and a version-1 file's migration. Helpers are in `tests.rs`.

use super::tests::{all_items, config, item_bytes, random_item, size_of, Rng};
use super::*;
use crate::content::ContentKey;
use crate::proof::VerifiedContent;
use alloy_primitives::B256;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

/// Values, stored bytes, the radius (after pruning), headers and peers all survive a reopen.
#[test]
fn everything_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite3");
    let mut rng = Rng::new(11);
    let cfg = config(rng.bytes32(), 80_000);
    let items: Vec<_> = (0..120).map(|_| random_item(&mut rng, 300, 2000)).collect();
    let (bytes, len, radius, contents) = {
        let mut store = ContentStore::open(&path, cfg).unwrap();
        for c in &items {
            store.put(c).unwrap();
        }
        store.put_header(7, B256::repeat_byte(7), b"rlp7").unwrap();
        store.put_peer([1; 32], "enr:-abc", 99).unwrap();
        assert!(store.radius() < Radius::MAX);
        let snapshot = (
            store.stored_bytes(),
            store.len(),
            store.radius(),
            all_items(&store),
        );
        store.close().unwrap();
        snapshot
    };
    let store = ContentStore::open(&path, cfg).unwrap();
    assert_eq!(store.stored_bytes(), bytes);
    assert_eq!(store.len(), len);
    assert_eq!(store.radius(), radius);
    assert_eq!(all_items(&store), contents);
    for c in &items {
        if let Some(v) = store.get(c.key()).unwrap() {
            assert_eq!(&v, c.value());
        }
    }
    assert_eq!(
        store.headers_newest_first(10).unwrap()[0].header_rlp,
        b"rlp7"
    );
    assert_eq!(store.peers(10).unwrap()[0].enr, "enr:-abc");
}

/// Reopening with a larger capacity gives room again (radius MAX); with a smaller one the store
/// prunes at open; with another node id the distances, and so what is pruned, follow the new id.
#[test]
fn reopen_with_other_capacity_or_node_id() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite3");
    let mut rng = Rng::new(12);
    let node_a = rng.bytes32();
    let items: Vec<_> = (0..100).map(|_| random_item(&mut rng, 300, 1500)).collect();
    {
        let mut store = ContentStore::open(&path, config(node_a, 60_000)).unwrap();
        for c in &items {
            store.put(c).unwrap();
        }
        assert!(store.radius() < Radius::MAX);
    }
    let before = {
        let store = ContentStore::open(&path, config(node_a, 1_000_000)).unwrap();
        assert_eq!(store.radius(), Radius::MAX);
        store.stored_bytes()
    };
    let held: Vec<ContentKey> = {
        let store = ContentStore::open(&path, config(node_a, 20_000)).unwrap();
        assert!(store.stored_bytes() <= 20_000 && store.stored_bytes() < before);
        assert!(store.radius() < Radius::MAX);
        all_items(&store).into_iter().map(|(k, _)| k).collect()
    };
    // A new node id and a smaller capacity: the items kept are the ones nearest the new id.
    let node_b = ContentId::from(rng.bytes32());
    let store = ContentStore::open(&path, config(*node_b.as_bytes(), 10_000)).unwrap();
    assert!(store.stored_bytes() <= 10_000);
    let kept: Vec<ContentKey> = all_items(&store).into_iter().map(|(k, _)| k).collect();
    assert!(!kept.is_empty() && kept.len() < held.len());
    let farthest_kept = kept
        .iter()
        .map(|k| node_b.distance(k.content_id()))
        .max()
        .unwrap();
    assert_eq!(store.radius().0, farthest_kept);
    for key in held.iter().filter(|k| !kept.contains(k)) {
        assert!(node_b.distance(key.content_id()) >= farthest_kept);
    }
}

/// A page in the middle of a store with content overwritten by random bytes: opening or
/// reading reports corruption naming the file (never a panic), and `check_integrity` finds it.
#[test]
fn overwritten_page_is_reported_with_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite3");
    let mut rng = Rng::new(13);
    let cfg = config(rng.bytes32(), 10 << 20);
    let items: Vec<_> = (0..300).map(|_| random_item(&mut rng, 500, 4500)).collect();
    {
        let mut store = ContentStore::open(&path, cfg).unwrap();
        store.put_batch(&items).unwrap();
        store.close().unwrap();
    }
    let mut bytes = std::fs::read(&path).unwrap();
    let pages = bytes.len() / 4096;
    assert!(pages > 50);
    for page in [pages / 3, pages / 2] {
        rng.fill(&mut bytes[page * 4096..(page + 1) * 4096]);
    }
    std::fs::write(&path, &bytes).unwrap();

    let named = |e: &StoreError| e.to_string().contains(&path.display().to_string());
    let err = match ContentStore::open(&path, cfg) {
        Err(e) => e,
        Ok(store) => {
            let integrity = store.check_integrity().unwrap_err();
            assert!(named(&integrity), "{integrity}");
            // Reading everything meets the damage too.
            let mut first = None;
            for c in &items {
                match store.get(c.key()) {
                    Err(e) => {
                        first = Some(e);
                        break;
                    }
                    Ok(Some(v)) => assert_eq!(&v, c.value()),
                    Ok(None) => {}
                }
            }
            first
                .or_else(|| {
                    store
                        .get_by_id_range(
                            ContentId::default(),
                            ContentId::from([0xff; 32]),
                            usize::MAX,
                        )
                        .err()
                })
                .expect("damage went unnoticed")
        }
    };
    assert!(named(&err), "{err}");
    assert!(
        matches!(
            err,
            StoreError::Corrupt { .. }
                | StoreError::CorruptValue { .. }
                | StoreError::NotADatabase { .. }
        ),
        "{err:?}"
    );
}

/// The environment variable that turns the SIGKILL test into its own child writer.
const KILL_CHILD_ENV: &str = "PORTAL_STATE_STORE_KILL_CHILD";

/// Items the child writes: reproducible from `(round, i)` so the parent can check values.
fn kill_item(round: u64, i: u64) -> VerifiedContent {
    let mut rng = Rng::new(round << 32 | i);
    random_item(&mut rng, 500, 4500)
}

/// The child: write items one by one, printing each index only after `put` returned, until
/// killed (or a safety limit).
fn kill_child(path: &str) {
    let round: u64 = std::env::var("PORTAL_STATE_STORE_KILL_ROUND")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0);
    let mut store =
        ContentStore::open(std::path::Path::new(path), config([0x11; 32], 1 << 30)).unwrap();
    let mut out = std::io::stdout().lock();
    for i in 0..200_000 {
        let item = kill_item(round, i);
        assert!(store.put(&item).unwrap().is_stored());
        if i % 7 == 0 {
            store
                .put_header(i, B256::repeat_byte(1), &[0xc0; 500])
                .unwrap();
        }
        // Written straight to fd 1 (not through the test harness's capture), then flushed.
        writeln!(out, "STORED {i}").unwrap();
        out.flush().unwrap();
    }
}

/// `kill -9` mid-write: every item whose put returned is there after reopening, the byte
/// count matches the rows, and the store keeps working.
#[test]
fn sigkill_mid_write_loses_nothing_returned() {
    if let Ok(path) = std::env::var(KILL_CHILD_ENV) {
        kill_child(&path);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite3");
    let exe = std::env::current_exe().unwrap();
    let mut printed: Vec<(u64, u64)> = vec![];
    for round in 0..3u64 {
        let kill_after = 300 + 150 * round;
        let mut child = Command::new(&exe)
            .args([
                "store::tests_reopen::sigkill_mid_write_loses_nothing_returned",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(KILL_CHILD_ENV, &path)
            .env("PORTAL_STATE_STORE_KILL_ROUND", round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut seen = 0;
        let mut line = String::new();
        while seen < kill_after {
            line.clear();
            if stdout.read_line(&mut line).unwrap() == 0 {
                break;
            }
            // Anywhere in the line: the child's test harness may print its own "test ... "
            // prefix, without a newline, just before the first of ours.
            if let Some((_, i)) = line.trim_end().rsplit_once("STORED ") {
                printed.push((round, i.parse().unwrap()));
                seen += 1;
            }
        }
        // SIGKILL on Unix: no destructors, no checkpoint, mid-transaction.
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert!(!status.success(), "child ended by itself: {status:?}");
        assert_eq!(seen, kill_after, "child stopped early");
        // The child ran on while we read: the lines it wrote before the kill landed, still in
        // the pipe, are puts that returned too. Each line is one write of under PIPE_BUF
        // bytes, so whole; a line without its newline is not counted.
        loop {
            line.clear();
            if stdout.read_line(&mut line).unwrap() == 0 {
                break;
            }
            if let Some((_, i)) = line
                .strip_suffix('\n')
                .and_then(|l| l.rsplit_once("STORED "))
            {
                printed.push((round, i.parse().unwrap()));
            }
        }

        let store = ContentStore::open(&path, config([0x11; 32], 1 << 30)).unwrap();
        for &(r, i) in &printed {
            let item = kill_item(r, i);
            assert_eq!(
                store.get(item.key()).unwrap().as_ref(),
                Some(item.value()),
                "round {r} item {i} lost"
            );
        }
        let rows = all_items(&store);
        let sum: u64 = rows.iter().map(|(k, v)| item_bytes(k, v)).sum();
        assert_eq!(sum, store.stored_bytes());
        assert_eq!(rows.len() as u64, store.len());
        // At most the one put in flight in each round when the kill landed got in without
        // being printed.
        assert!(
            rows.len() <= printed.len() + round as usize + 1,
            "{} rows, {} printed, round {round}",
            rows.len(),
            printed.len()
        );
        assert!(store.check_integrity().is_ok());
    }
}

/// The byte count survives closes that never happened (a dropped store, a killed process):
/// with no snapshot written since, with several snapshots, after pruning, and when the
/// snapshot in the file is damaged (then every row is counted).
#[test]
fn counts_survive_unclean_closes_and_a_damaged_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite3");
    let mut rng = Rng::new(15);
    let node = rng.bytes32();
    let check = |cfg: StoreConfig| {
        let store = ContentStore::open(&path, cfg).unwrap();
        let items = all_items(&store);
        let sum: u64 = items.iter().map(|(k, v)| item_bytes(k, v)).sum();
        assert_eq!(store.stored_bytes(), sum);
        assert_eq!(store.len(), items.len() as u64);
        (store.stored_bytes(), store.radius())
    };
    // Dropped (the connection closes, but `close` writes no snapshot) at counts below, at
    // and past the snapshot interval.
    let roomy = config(node, 1 << 30);
    for n in [10u64, 1014, 1, 2000] {
        let mut store = ContentStore::open(&path, roomy).unwrap();
        for _ in 0..n {
            store.put(&random_item(&mut rng, 50, 200)).unwrap();
        }
        drop(store);
        check(roomy);
    }
    // Pruning (at open, to a smaller capacity, then by puts), dropped again.
    let tight = config(node, 200_000);
    let mut store = ContentStore::open(&path, tight).unwrap();
    for _ in 0..700 {
        store.put(&random_item(&mut rng, 50, 400)).unwrap();
    }
    let expected = (store.stored_bytes(), store.radius());
    drop(store);
    assert_eq!(check(tight), expected);
    // A damaged snapshot: counted afresh from the rows.
    for (name, value) in [
        ("count_bytes", rusqlite::types::Value::Integer(-5)),
        ("count_upto", rusqlite::types::Value::Integer(i64::MIN)),
        ("count_items", rusqlite::types::Value::Blob(vec![1, 2, 3])),
        ("count_bytes", rusqlite::types::Value::Text("many".into())),
    ] {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute("UPDATE meta SET value = ?2 WHERE name = ?1", (name, value))
            .unwrap();
        drop(conn);
        assert_eq!(check(tight), expected);
    }
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("DELETE FROM meta WHERE name = 'count_items'", [])
        .unwrap();
    drop(conn);
    assert_eq!(check(tight), expected);
}

/// A schema-version-1 file (with its per-item distance column and index) is migrated at open:
/// the column and index go, and items, counts, radius, headers and peers stay.
#[test]
fn version_1_store_is_migrated() {
    const V1_SCHEMA: &str = "
        CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
        CREATE TABLE content (
            id INTEGER PRIMARY KEY, content_id BLOB NOT NULL, content_key BLOB NOT NULL,
            distance BLOB NOT NULL, size INTEGER NOT NULL, value BLOB NOT NULL);
        CREATE UNIQUE INDEX content_by_id_key ON content (content_id, content_key);
        CREATE INDEX content_by_distance ON content (distance, size);
        CREATE TABLE headers (number INTEGER PRIMARY KEY, hash BLOB NOT NULL,
                              header_rlp BLOB NOT NULL);
        CREATE TABLE peers (node_id BLOB PRIMARY KEY, enr TEXT NOT NULL,
                            last_seen INTEGER NOT NULL) WITHOUT ROWID;
        CREATE INDEX peers_by_last_seen ON peers (last_seen);
    ";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.sqlite3");
    let mut rng = Rng::new(16);
    let node = ContentId::from(rng.bytes32());
    let items: Vec<_> = (0..50).map(|_| random_item(&mut rng, 300, 2000)).collect();
    let capacity = 1u64 << 20;
    {
        // Written as version 1 did: a full store (it had pruned), radius = farthest item.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL").unwrap();
        conn.execute_batch(V1_SCHEMA).unwrap();
        conn.pragma_update(None, "application_id", APPLICATION_ID)
            .unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        for c in &items {
            let (key, value) = (c.key().encode(), c.value().encode());
            let distance = node.distance(c.content_id()).to_be_bytes::<32>();
            conn.execute(
                "INSERT INTO content (content_id, content_key, distance, size, value)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                (
                    c.content_id().as_bytes().as_slice(),
                    &key,
                    distance.as_slice(),
                    (key.len() + value.len()) as i64,
                    &value,
                ),
            )
            .unwrap();
        }
        for (name, value) in [
            (
                "node_id",
                rusqlite::types::Value::Blob(node.as_bytes().to_vec()),
            ),
            (
                "capacity_bytes",
                rusqlite::types::Value::Integer(capacity as i64),
            ),
            ("full", rusqlite::types::Value::Integer(1)),
        ] {
            conn.execute(
                "INSERT INTO meta (name, value) VALUES (?1, ?2)",
                (name, value),
            )
            .unwrap();
        }
        conn.execute(
            "INSERT INTO headers (number, hash, header_rlp) VALUES (5, ?1, x'c0')",
            [B256::repeat_byte(5).as_slice()],
        )
        .unwrap();
    }
    let cfg = StoreConfig {
        node_id: node,
        capacity_bytes: capacity,
    };
    let store = ContentStore::open(&path, cfg).unwrap();
    assert_eq!(store.len(), items.len() as u64);
    assert_eq!(store.stored_bytes(), items.iter().map(size_of).sum::<u64>());
    let farthest = items.iter().map(|c| node.distance(c.content_id())).max();
    assert_eq!(Some(store.radius().0), farthest);
    for c in &items {
        assert_eq!(store.get(c.key()).unwrap().as_ref(), Some(c.value()));
    }
    assert_eq!(store.headers_newest_first(1).unwrap()[0].number, 5);
    assert!(store.check_integrity().is_ok());
    store.close().unwrap();

    let conn = rusqlite::Connection::open(&path).unwrap();
    let version = scalar(&conn, "PRAGMA user_version");
    assert_eq!(version, SCHEMA_VERSION);
    let leftovers = scalar(
        &conn,
        "SELECT count(*) FROM sqlite_schema WHERE name = 'content_by_distance'",
    );
    assert_eq!(leftovers, 0);
    let indexes: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE tbl_name = 'content' AND type = 'index'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(indexes, ["content_by_id_key"]);
    let distance_column = scalar(
        &conn,
        "SELECT count(*) FROM pragma_table_info('content') WHERE name = 'distance'",
    );
    assert_eq!(distance_column, 0);
}

/// The one number a query of the file answers (a count, a pragma).
fn scalar(conn: &rusqlite::Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}
