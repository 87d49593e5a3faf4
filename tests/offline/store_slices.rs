//! The store keeps slices (trie nodes by hash, shared between leaves) of real state: the
//! mainnet genesis (8,893 accounts), holesky's genesis (storage slots and bytecode) and WETH's
//! real mainnet proofs at block 19,000,000. Witnesses served from the slice equal the ones put,
//! shared nodes are stored once, pruning leaves every kept witness whole and no node behind,
//! damaged node rows give an error (never a wrong witness), and a schema-2 file of whole
//! witnesses is migrated into slices.

use crate::support::vectors::{genesis_networks, weth_19m};
use alloy_primitives::{keccak256, Address, Bytes, B256, U256};
use portal_state::content::{
    AccountKey, BytecodeKey, ContentId, ContentKey, ContentValue, StorageKey,
};
use portal_state::proof::{
    build_witnesses, prove_absence, verify, GenesisAlloc, StateWitnesses, VerifiedContent,
};
use portal_state::store::{ContentStore, StoreConfig, StoreError, APPLICATION_ID, SCHEMA_VERSION};
use std::collections::HashSet;
use std::path::Path;

fn genesis(name: &str) -> (GenesisAlloc, StateWitnesses) {
    let network = genesis_networks()
        .into_iter()
        .find(|n| n.name == name)
        .unwrap();
    let alloc = GenesisAlloc::from_json(&network.json).unwrap();
    let built = build_witnesses(&alloc);
    assert_eq!(built.state_root, network.state_root);
    (alloc, built)
}

fn verified(built: &StateWitnesses) -> Vec<VerifiedContent> {
    built
        .items
        .iter()
        .map(|(k, v)| verify(*k, v.clone()).unwrap())
        .collect()
}

fn config(capacity: u64) -> StoreConfig {
    StoreConfig {
        node_id: ContentId::from([0x5a; 32]),
        capacity_bytes: capacity,
    }
}

/// The witness nodes of a value (bytecode has none).
fn nodes_of(value: &ContentValue) -> Vec<&Bytes> {
    match value {
        ContentValue::Account(w) => w.nodes().iter().collect(),
        ContentValue::Storage {
            account_witness,
            storage_witness,
        } => account_witness
            .nodes()
            .iter()
            .chain(storage_witness.nodes())
            .collect(),
        _ => vec![],
    }
}

/// What the store should count for `items`, computed here from the rule in the store's docs:
/// each key (plus the value of bytecode), and each distinct node once, as 32 + its length.
/// (`0x80`, the empty trie's node, is a flag, not a node.)
fn slice_bytes<'a>(items: impl IntoIterator<Item = (&'a ContentKey, &'a ContentValue)>) -> u64 {
    let mut seen = HashSet::new();
    let mut total = 0u64;
    for (key, value) in items {
        total += key.encode().len() as u64;
        if let ContentValue::Bytecode(_) = value {
            total += value.encode().len() as u64;
        }
        for node in nodes_of(value) {
            if node.as_ref() != [0x80] && seen.insert(keccak256(node)) {
                total += 32 + node.len() as u64;
            }
        }
    }
    total
}

fn node_rows(path: &Path) -> i64 {
    scalar(
        &rusqlite::Connection::open(path).unwrap(),
        "SELECT count(*) FROM trie_nodes",
    )
}

/// The one number a query of the file answers (a count, a pragma).
fn scalar(conn: &rusqlite::Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Every mainnet-genesis witness comes back from the slice byte for byte, verifies, and the
/// store holds each shared upper node once: its byte count is exactly the rule's, a small
/// fraction of the whole witnesses it replaced.
#[test]
fn mainnet_genesis_served_from_slices_equals_what_was_put() {
    let (_, built) = genesis("mainnet");
    let items = verified(&built);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite3");
    let mut store = ContentStore::open(&path, config(1 << 30)).unwrap();
    assert!(store
        .put_batch(&items)
        .unwrap()
        .iter()
        .all(|o| o.is_stored()));
    for item in &items {
        let encoded = store.get_encoded(item.key()).unwrap().unwrap();
        assert_eq!(encoded, item.value().encode(), "{:?}", item.key());
        let value = store.get(item.key()).unwrap().unwrap();
        verify(*item.key(), value).unwrap();
    }
    let expected = slice_bytes(items.iter().map(|c| (c.key(), c.value())));
    assert_eq!(store.stored_bytes(), expected);
    let rows: u64 = items
        .iter()
        .map(|c| (c.key().encode().len() + c.value().encode().len()) as u64)
        .sum();
    // Today's rows repeat the upper nodes in every witness; the slice holds them once.
    assert!(
        store.stored_bytes() * 4 < rows,
        "slice {} vs rows {rows}",
        store.stored_bytes()
    );
    // Reopened, the counts and the witnesses are the same.
    store.close().unwrap();
    let store = ContentStore::open(&path, config(1 << 30)).unwrap();
    assert_eq!(store.stored_bytes(), expected);
    let all = store
        .get_by_id_range(
            ContentId::default(),
            ContentId::from([0xff; 32]),
            usize::MAX,
        )
        .unwrap();
    assert_eq!(all.len(), items.len());
    assert_eq!(slice_bytes(all.iter().map(|(k, v)| (k, v))), expected);
}

/// Two accounts whose witnesses share their upper nodes: the second costs its key and only the
/// nodes the first did not bring.
#[test]
fn two_accounts_sharing_upper_nodes_store_them_once() {
    let (_, built) = genesis("mainnet");
    let items = verified(&built);
    // Neighbours in trie order share at least the root and the first branch.
    let (a, b) = (&items[100], &items[101]);
    let shared: Vec<&Bytes> = nodes_of(a.value())
        .into_iter()
        .filter(|n| nodes_of(b.value()).contains(n))
        .collect();
    assert!(shared.len() >= 2, "{} shared nodes", shared.len());
    let dir = tempfile::tempdir().unwrap();
    let mut store = ContentStore::open(&dir.path().join("s.sqlite3"), config(1 << 30)).unwrap();
    store.put(a).unwrap();
    let after_a = store.stored_bytes();
    assert_eq!(after_a, slice_bytes([(a.key(), a.value())]));
    store.put(b).unwrap();
    let b_alone = slice_bytes([(b.key(), b.value())]);
    let shared_bytes: u64 = shared.iter().map(|n| 32 + n.len() as u64).sum();
    assert_eq!(store.stored_bytes() - after_a, b_alone - shared_bytes);
    assert_eq!(store.get(b.key()).unwrap().as_ref(), Some(b.value()));
}

/// A store that holds a third of the genesis prunes farthest first: every kept item's witness
/// is whole and equal to the original, and the nodes left are exactly those of the kept items.
#[test]
fn pruning_keeps_other_leaves_witnesses_whole() {
    let (_, built) = genesis("mainnet");
    let items = verified(&built);
    let all_bytes = slice_bytes(items.iter().map(|c| (c.key(), c.value())));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite3");
    let cfg = config(all_bytes / 3);
    let mut store = ContentStore::open(&path, cfg).unwrap();
    for chunk in items.chunks(500) {
        store.put_batch(chunk).unwrap();
    }
    assert!(store.stored_bytes() <= cfg.capacity_bytes);
    let kept: Vec<&VerifiedContent> = items
        .iter()
        .filter(|c| store.contains(c.key()).unwrap())
        .collect();
    assert!(
        kept.len() > 1000 && kept.len() < items.len() / 2,
        "{}",
        kept.len()
    );
    for c in &kept {
        assert_eq!(store.get(c.key()).unwrap().as_ref(), Some(c.value()));
    }
    // The radius rule: nothing pruned is nearer than something kept.
    let node = cfg.node_id;
    let farthest_kept = kept.iter().map(|c| node.distance(c.content_id())).max();
    assert_eq!(Some(store.radius().0), farthest_kept);
    assert_eq!(
        store.stored_bytes(),
        slice_bytes(kept.iter().map(|c| (c.key(), c.value())))
    );
    let kept_nodes: HashSet<B256> = kept
        .iter()
        .flat_map(|c| nodes_of(c.value()))
        .map(keccak256)
        .collect();
    store.close().unwrap();
    assert_eq!(
        node_rows(&path),
        kept_nodes.len() as i64,
        "no node left behind"
    );
}

/// Slots are held as trie nodes (account path + storage path) and come back as today's
/// storage values: holesky's deposit contract (31 slots, bytecode) and WETH's real slot at
/// block 19,000,000; an absent account's slot and a slot of an account with empty storage too.
#[test]
fn storage_slots_and_bytecode_from_slices() {
    let (_, built) = genesis("holesky");
    let items = verified(&built);
    assert!(items
        .iter()
        .any(|c| matches!(c.key(), ContentKey::Storage(_))));
    let weth = weth_19m();
    let weth_address: Address = "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"
        .parse()
        .unwrap();
    let weth_slot = verify(
        ContentKey::Storage(StorageKey {
            address: weth_address,
            slot: U256::from(2),
            state_root: weth.header.state_root,
        }),
        ContentValue::Storage {
            account_witness: weth.account_witness.clone(),
            storage_witness: weth.storage_witness.clone(),
        },
    )
    .unwrap();
    let weth_account = verify(
        ContentKey::Account(AccountKey {
            address: weth_address,
            state_root: weth.header.state_root,
        }),
        ContentValue::Account(weth.account_witness.clone()),
    )
    .unwrap();
    let weth_code = verify(
        ContentKey::Bytecode(BytecodeKey {
            address: weth_address,
            code_hash: keccak256(&weth.bytecode),
        }),
        ContentValue::Bytecode(weth.bytecode.clone()),
    )
    .unwrap();
    // A slot of an account with no storage (`0x80` storage witness) and of an absent account.
    let eoa = *built
        .items
        .iter()
        .find_map(|(k, _)| match k {
            ContentKey::Account(a)
                if built.storage_root(a.address) == alloy_trie::EMPTY_ROOT_HASH =>
            {
                Some(a)
            }
            _ => None,
        })
        .unwrap();
    let (key, mut value) = built.storage_item(eoa.address, U256::from(9));
    if let ContentValue::Storage {
        storage_witness, ..
    } = &mut value
    {
        *storage_witness = vec![Bytes::from_static(&[0x80])].into();
    }
    let empty_storage_slot = verify(key, value).unwrap();
    let (key, value) = built.storage_item(Address::repeat_byte(0xee), U256::from(1));
    let absent_slot = verify(key, value).unwrap();

    let mut all = items.clone();
    all.extend([
        weth_slot,
        weth_account,
        weth_code,
        empty_storage_slot,
        absent_slot,
    ]);
    let dir = tempfile::tempdir().unwrap();
    let mut store = ContentStore::open(&dir.path().join("s.sqlite3"), config(1 << 30)).unwrap();
    assert!(store.put_batch(&all).unwrap().iter().all(|o| o.is_stored()));
    for c in &all {
        assert_eq!(
            store.get_encoded(c.key()).unwrap(),
            Some(c.value().encode()),
            "{:?}",
            c.key()
        );
    }
    assert_eq!(
        store.stored_bytes(),
        slice_bytes(all.iter().map(|c| (c.key(), c.value())))
    );
}

/// Absence proofs are still assembled from stored neighbours (read back from the slice).
#[test]
fn absence_proofs_from_slice_neighbours() {
    let (_, built) = genesis("mainnet");
    let items = verified(&built);
    let dir = tempfile::tempdir().unwrap();
    let mut store = ContentStore::open(&dir.path().join("s.sqlite3"), config(1 << 30)).unwrap();
    store.put_batch(&items).unwrap();
    let mut proven = 0;
    for i in 0..50u8 {
        let address = Address::repeat_byte(i).create(u64::from(i));
        let key = ContentKey::Account(AccountKey {
            address,
            state_root: built.state_root,
        });
        if store.contains(&key).unwrap() {
            continue;
        }
        let absent = prove_absence(&key, &store).expect("absence assembled from neighbours");
        assert_eq!(absent.value(), &built.account_item(address).1);
        proven += 1;
    }
    assert!(proven >= 45);
}

/// A node row altered or deleted on disk: reading an item through it is a `CorruptValue`
/// error naming the file, never a wrong witness; items that do not pass through it still read.
#[test]
fn damaged_node_rows_are_errors_not_wrong_witnesses() {
    let (_, built) = genesis("mainnet");
    let items = verified(&built);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite3");
    {
        let mut store = ContentStore::open(&path, config(1 << 30)).unwrap();
        store.put_batch(&items).unwrap();
        store.close().unwrap();
    }
    // Alter the leaf of item 10 (one bit of its value) and delete the leaf of item 20.
    let leaf_of = |i: usize| nodes_of(items[i].value()).last().unwrap().to_vec();
    let (altered, deleted) = (leaf_of(10), leaf_of(20));
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        let mut flipped = altered.clone();
        *flipped.last_mut().unwrap() ^= 1;
        let n = conn
            .execute(
                "UPDATE trie_nodes SET rlp = ?2 WHERE hash = ?1",
                (keccak256(&altered).as_slice(), &flipped),
            )
            .unwrap();
        assert_eq!(n, 1);
        let n = conn
            .execute(
                "DELETE FROM trie_nodes WHERE hash = ?1",
                [keccak256(&deleted).as_slice()],
            )
            .unwrap();
        assert_eq!(n, 1);
    }
    let store = ContentStore::open(&path, config(1 << 30)).unwrap();
    for (i, what) in [(10, "hash to"), (20, "missing")] {
        let err = store.get(items[i].key()).unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::CorruptValue {
                    what: "trie node",
                    ..
                }
            ),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(
            text.contains(what) && text.contains(&path.display().to_string()),
            "{text}"
        );
        assert!(store.get_encoded(items[i].key()).is_err());
    }
    assert_eq!(
        store.get(items[11].key()).unwrap().as_ref(),
        Some(items[11].value())
    );
    // A range over the damage fails as a whole rather than leave the item out silently.
    assert!(store
        .get_by_id_range(
            ContentId::default(),
            ContentId::from([0xff; 32]),
            usize::MAX
        )
        .is_err());
}

/// The schema this build's predecessor (version 2) wrote: one whole witness per row.
const V2_SCHEMA: &str = "
    CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
    CREATE TABLE content (
        id INTEGER PRIMARY KEY, content_id BLOB NOT NULL, content_key BLOB NOT NULL,
        size INTEGER NOT NULL, value BLOB NOT NULL);
    CREATE UNIQUE INDEX content_by_id_key ON content (content_id, content_key);
    CREATE TABLE headers (number INTEGER PRIMARY KEY, hash BLOB NOT NULL,
                          header_rlp BLOB NOT NULL);
    CREATE TABLE peers (node_id BLOB PRIMARY KEY, enr TEXT NOT NULL,
                        last_seen INTEGER NOT NULL) WITHOUT ROWID;
    CREATE INDEX peers_by_last_seen ON peers (last_seen);
";

/// A schema-2 file (holesky's genesis as whole-witness rows, a count snapshot, a header, a
/// peer, and one row whose witness was altered on disk) opens migrated: every good row becomes
/// slice nodes and reads back equal, the altered row is dropped (not served), the counts are
/// the slice's, headers and peers stay.
#[test]
fn schema_2_file_is_migrated_into_slices() {
    let (_, built) = genesis("holesky");
    let items = verified(&built);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v2.sqlite3");
    let bad_key = ContentKey::Account(AccountKey {
        address: Address::repeat_byte(0xbd),
        state_root: built.state_root,
    });
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL").unwrap();
        conn.execute_batch(V2_SCHEMA).unwrap();
        conn.pragma_update(None, "application_id", APPLICATION_ID)
            .unwrap();
        conn.pragma_update(None, "user_version", 2).unwrap();
        let insert = |key: &ContentKey, value: Vec<u8>| {
            let k = key.encode();
            conn.execute(
                "INSERT INTO content (content_id, content_key, size, value) VALUES (?1, ?2, ?3, ?4)",
                (key.content_id().as_bytes().as_slice(), &k, (k.len() + value.len()) as i64, &value),
            )
            .unwrap();
        };
        for c in &items {
            insert(c.key(), c.value().encode());
        }
        // Another account's witness under this key: it does not verify.
        insert(&bad_key, items[0].value().encode());
        let total: i64 = items
            .iter()
            .map(|c| (c.key().encode().len() + c.value().encode().len()) as i64)
            .sum();
        for (name, value) in [
            ("node_id", rusqlite::types::Value::Blob(vec![0x5a; 32])),
            ("capacity_bytes", rusqlite::types::Value::Integer(1 << 30)),
            ("full", rusqlite::types::Value::Integer(0)),
            ("count_bytes", rusqlite::types::Value::Integer(total)),
            (
                "count_items",
                rusqlite::types::Value::Integer(items.len() as i64 + 1),
            ),
            (
                "count_upto",
                rusqlite::types::Value::Integer(items.len() as i64 + 1),
            ),
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
        conn.execute(
            "INSERT INTO peers (node_id, enr, last_seen) VALUES (?1, 'enr:-x', 3)",
            [[1u8; 32].as_slice()],
        )
        .unwrap();
    }
    let store = ContentStore::open(&path, config(1 << 30)).unwrap();
    assert_eq!(store.len(), items.len() as u64);
    assert!(!store.contains(&bad_key).unwrap());
    for c in &items {
        assert_eq!(
            store.get_encoded(c.key()).unwrap(),
            Some(c.value().encode())
        );
    }
    let expected = slice_bytes(items.iter().map(|c| (c.key(), c.value())));
    assert_eq!(store.stored_bytes(), expected);
    assert_eq!(store.headers_newest_first(1).unwrap()[0].number, 5);
    assert_eq!(store.peers(10).unwrap()[0].enr, "enr:-x");
    store.close().unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version = scalar(&conn, "PRAGMA user_version");
    assert_eq!(version, SCHEMA_VERSION);
    // Whole values are gone from trie rows; bytecode rows keep theirs.
    let whole = scalar(
        &conn,
        "SELECT count(*) FROM content WHERE form IS NOT NULL AND length(value) > 0",
    );
    assert_eq!(whole, 0);
    drop(conn);
    let store = ContentStore::open(&path, config(1 << 30)).unwrap();
    assert_eq!(store.stored_bytes(), expected);
}
