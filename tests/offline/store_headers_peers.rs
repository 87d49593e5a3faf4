//! The header window and the peer table: bounded, ordered newest first, and kept across a
//! restart.

use alloy_primitives::B256;
use portal_state::content::ContentId;
use portal_state::store::{ContentStore, StoreConfig, StoreError, MAX_HEADERS, MAX_PEERS};

fn config() -> StoreConfig {
    StoreConfig {
        node_id: ContentId::from([3; 32]),
        capacity_bytes: 1 << 20,
    }
}

fn hash(n: u64) -> B256 {
    let mut h = [0u8; 32];
    h[..8].copy_from_slice(&n.to_be_bytes());
    h[31] = 0xaa;
    B256::from(h)
}

fn rlp(n: u64) -> Vec<u8> {
    format!("header {n}").into_bytes()
}

#[test]
fn headers_keep_the_highest_256() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite3");
    let mut store = ContentStore::open(&path, config()).unwrap();
    assert!(store.headers_newest_first(10).unwrap().is_empty());
    // Out of order, with a gap, and more than the window.
    let mut numbers: Vec<u64> = (1000..1400).filter(|n| n % 37 != 0).collect();
    numbers.reverse();
    numbers.rotate_left(123);
    for &n in &numbers {
        store.put_header(n, hash(n), &rlp(n)).unwrap();
    }
    let mut expected: Vec<u64> = numbers.clone();
    expected.sort_unstable_by(|a, b| b.cmp(a));
    expected.truncate(MAX_HEADERS);

    let all = store.headers_newest_first(usize::MAX).unwrap();
    assert_eq!(all.len(), MAX_HEADERS);
    assert_eq!(all.iter().map(|h| h.number).collect::<Vec<_>>(), expected);
    for h in &all {
        assert_eq!(h.hash, hash(h.number));
        assert_eq!(h.header_rlp, rlp(h.number));
    }
    assert_eq!(store.headers_newest_first(3).unwrap(), all[..3].to_vec());

    // A header older than the whole window is dropped at once; a newer one pushes out the oldest.
    store.put_header(5, hash(5), &rlp(5)).unwrap();
    assert_eq!(store.headers_newest_first(usize::MAX).unwrap(), all);
    store.put_header(5000, hash(5000), &rlp(5000)).unwrap();
    let after = store.headers_newest_first(usize::MAX).unwrap();
    assert_eq!(after.len(), MAX_HEADERS);
    assert_eq!(after[0].number, 5000);
    assert_eq!(after.last().unwrap().number, expected[MAX_HEADERS - 2]);

    // Same number again (a reorg the caller trusts): replaced, not duplicated.
    store
        .put_header(5000, B256::repeat_byte(9), b"other")
        .unwrap();
    let top = &store.headers_newest_first(1).unwrap()[0];
    assert_eq!(
        (top.hash, top.header_rlp.as_slice()),
        (B256::repeat_byte(9), &b"other"[..])
    );
    assert_eq!(
        store.headers_newest_first(usize::MAX).unwrap().len(),
        MAX_HEADERS
    );

    // Survives a reopen.
    let before = store.headers_newest_first(usize::MAX).unwrap();
    store.close().unwrap();
    let store = ContentStore::open(&path, config()).unwrap();
    assert_eq!(store.headers_newest_first(usize::MAX).unwrap(), before);
}

#[test]
fn header_numbers_sqlite_cannot_hold_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite3");
    let mut store = ContentStore::open(&path, config()).unwrap();
    let err = store.put_header(u64::MAX, hash(1), b"x").unwrap_err();
    assert!(matches!(err, StoreError::InvalidInput { .. }), "{err:?}");
    assert!(err.to_string().contains(&path.display().to_string()));
    store.put_header(i64::MAX as u64, hash(1), b"x").unwrap();
    assert_eq!(
        store.headers_newest_first(1).unwrap()[0].number,
        i64::MAX as u64
    );
}

fn node(n: u32) -> [u8; 32] {
    let mut id = [0u8; 32];
    id[28..].copy_from_slice(&n.to_be_bytes());
    id
}

#[test]
fn peers_are_bounded_newest_first_and_removable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite3");
    let mut store = ContentStore::open(&path, config()).unwrap();
    let total = MAX_PEERS as u32 + 300;
    // last_seen in a scrambled order so that insertion order is not the answer.
    let seen = |n: u32| u64::from((n * 7919) % total) + 1_700_000_000;
    for n in 0..total {
        store
            .put_peer(node(n), &format!("enr:-peer{n}"), seen(n))
            .unwrap();
    }
    let all = store.peers(usize::MAX).unwrap();
    assert_eq!(all.len(), MAX_PEERS);
    assert!(all
        .windows(2)
        .all(|w| w[0].last_seen_unix >= w[1].last_seen_unix));
    // The ones kept are exactly the most recently seen.
    let oldest_kept = all.last().unwrap().last_seen_unix;
    let dropped = (0..total).filter(|&n| seen(n) < oldest_kept).count();
    assert_eq!(dropped, total as usize - MAX_PEERS);
    for p in &all {
        let n = u32::from_be_bytes(p.node_id[28..].try_into().unwrap());
        assert_eq!(p.enr, format!("enr:-peer{n}"));
        assert_eq!(p.last_seen_unix, seen(n));
    }

    // Refreshing a known peer updates it in place and moves it to the front.
    let some = all[500].node_id;
    store
        .put_peer(some, "enr:-refreshed", 1_900_000_000)
        .unwrap();
    let top = &store.peers(1).unwrap()[0];
    assert_eq!((top.node_id, top.enr.as_str()), (some, "enr:-refreshed"));
    assert_eq!(store.peers(usize::MAX).unwrap().len(), MAX_PEERS);

    assert!(store.remove_peer(&some).unwrap());
    assert!(!store.remove_peer(&some).unwrap());
    assert_eq!(store.peers(usize::MAX).unwrap().len(), MAX_PEERS - 1);
    assert!(store
        .peers(usize::MAX)
        .unwrap()
        .iter()
        .all(|p| p.node_id != some));

    // Survives a reopen, and a huge last_seen does not break ordering.
    store.put_peer(node(1), "enr:-future", u64::MAX).unwrap();
    let before = store.peers(usize::MAX).unwrap();
    assert_eq!(before[0].enr, "enr:-future");
    drop(store);
    let store = ContentStore::open(&path, config()).unwrap();
    assert_eq!(store.peers(usize::MAX).unwrap(), before);
    assert_eq!(store.peers(0).unwrap(), vec![]);
}
