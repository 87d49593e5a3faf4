//! Bytes stored per account and per slot: slices (trie nodes by hash, shared between leaves;
//! schema 3) against today's one-whole-witness-per-item rows (schema 2), on real verified
//! content (issue #13 part 1; BENCHMARKS.md, "#13 part 1: slices").
//!
//! `cargo bench --bench slices` measures:
//!
//! * the mainnet genesis (8,893 accounts, embedded in `data/genesis/mainnet.json`);
//! * a synthetic state of `PORTAL_STATE_SLICE_ACCOUNTS` accounts (default 1,000,000);
//! * a synthetic state with storage: 10,000 accounts and 20 contracts of 10,000 slots each.
//!
//! For each: the counted bytes (what the capacity bounds) of whole-witness rows (key + SSZ
//! value, today's rule) and of the slice (keys + each distinct node once, as hash + RLP), for a
//! store that holds the whole state and for one whose capacity holds about 1/16 of it (a node
//! with a radius; it prunes farthest first), and the file sizes on disk after close. The
//! 1/16 store's rows figure is for the same kept items. Under `cargo test --all-targets` (no
//! `--bench`) it runs on the genesis and 2,000 accounts only, checking what it reads back.

use alloy_primitives::{Address, U256};
use portal_state::bridge::genesis_content;
use portal_state::content::{ContentId, ContentKey};
use portal_state::proof::{build_witnesses, verify, GenesisAccount, GenesisAlloc, VerifiedContent};
use portal_state::store::{ContentStore, StoreConfig};
use std::path::{Path, PathBuf};
use std::time::Instant;

fn repo_file(relative: &str) -> String {
    let path: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `accounts` EOAs with distinct addresses and balances, plus `contracts` contracts of
/// `slots` nonzero slots each.
fn synthetic_alloc(accounts: u64, contracts: u64, slots: u64) -> GenesisAlloc {
    let address = |i: u64| {
        let mut bytes = [0u8; 20];
        bytes[12..].copy_from_slice(&(i + 1).to_be_bytes());
        Address::from(bytes)
    };
    let mut alloc: Vec<(Address, GenesisAccount)> = (0..accounts)
        .map(|i| (address(i), GenesisAccount::with_balance(U256::from(i + 1))))
        .collect();
    for c in 0..contracts {
        let mut account = GenesisAccount::with_balance(U256::from(1));
        account.code = vec![0x60, 0x00, 0x60, c as u8].into();
        account.storage = (0..slots)
            .map(|s| (U256::from(s), U256::from(s * 7 + 1)))
            .collect();
        alloc.push((address(accounts + c), account));
    }
    alloc.into_iter().collect()
}

fn items_of(alloc: &GenesisAlloc) -> Vec<VerifiedContent> {
    build_witnesses(alloc)
        .items
        .into_iter()
        .map(|(k, v)| verify(k, v).expect("a built witness verifies"))
        .collect()
}

/// Today's rule: each item counts its key and its whole SSZ value.
fn row_bytes(c: &VerifiedContent) -> u64 {
    (c.key().encode().len() + c.value().encode().len()) as u64
}

fn file_bytes(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Fill a store of `capacity` with `items` in batches; returns the store's counted bytes, the
/// kept items' rows bytes, how many accounts and slots it kept, and the file size after close.
fn fill(
    dir: &Path,
    name: &str,
    items: &[VerifiedContent],
    capacity: u64,
    check: bool,
) -> (u64, u64, u64, u64, u64) {
    let path = dir.join(format!("{name}.sqlite3"));
    let config = StoreConfig {
        node_id: ContentId::from([0x5a; 32]),
        capacity_bytes: capacity,
    };
    let mut store = ContentStore::open(&path, config).expect("open");
    for chunk in items.chunks(2_000) {
        store.put_batch(chunk).expect("put_batch");
    }
    let (mut rows, mut accounts, mut slots) = (0, 0, 0);
    for c in items {
        if store.contains(c.key()).expect("contains") {
            rows += row_bytes(c);
            match c.key() {
                ContentKey::Account(_) => accounts += 1,
                ContentKey::Storage(_) => slots += 1,
                _ => {}
            }
            if check {
                assert_eq!(store.get(c.key()).expect("get").as_ref(), Some(c.value()));
            }
        }
    }
    let stored = store.stored_bytes();
    store.close().expect("close");
    (stored, rows, accounts, slots, file_bytes(&path))
}

/// The schema-2 layout's file for `items` (one row per item, whole SSZ value), for the
/// on-disk comparison: written with the old schema's SQL, in one transaction.
fn rows_file(dir: &Path, name: &str, items: &[VerifiedContent]) -> u64 {
    let path = dir.join(format!("{name}-rows.sqlite3"));
    let mut conn = rusqlite::Connection::open(&path).expect("rows file");
    conn.execute_batch(
        "CREATE TABLE content (id INTEGER PRIMARY KEY, content_id BLOB NOT NULL,
             content_key BLOB NOT NULL, size INTEGER NOT NULL, value BLOB NOT NULL);
         CREATE UNIQUE INDEX content_by_id_key ON content (content_id, content_key);",
    )
    .expect("schema");
    let tx = conn.transaction().expect("tx");
    for c in items {
        let (k, v) = (c.key().encode(), c.value().encode());
        tx.execute(
            "INSERT INTO content (content_id, content_key, size, value) VALUES (?1, ?2, ?3, ?4)",
            (
                c.content_id().as_bytes().as_slice(),
                &k,
                (k.len() + v.len()) as i64,
                &v,
            ),
        )
        .expect("insert");
    }
    tx.commit().expect("commit");
    drop(conn);
    file_bytes(&path)
}

fn per(bytes: u64, n: u64) -> f64 {
    if n == 0 {
        0.0
    } else {
        bytes as f64 / n as f64
    }
}

/// Measure one state and print its lines.
fn measure(name: &str, items: &[VerifiedContent], smoke: bool, on_disk_rows: bool) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let accounts = items
        .iter()
        .filter(|c| matches!(c.key(), ContentKey::Account(_)))
        .count() as u64;
    let slots = items
        .iter()
        .filter(|c| matches!(c.key(), ContentKey::Storage(_)))
        .count() as u64;
    let start = Instant::now();
    let (whole, rows, _, _, file) = fill(dir.path(), name, items, 1 << 40, smoke);
    let fill_s = start.elapsed().as_secs_f64();
    let rows_disk = if on_disk_rows {
        format!(
            ", rows file {:.1} MB",
            rows_file(dir.path(), name, items) as f64 / 1e6
        )
    } else {
        String::new()
    };
    println!(
        "slices/{name}/whole: {accounts} accounts, {slots} slots; rows {:.1} MB, slice {:.1} MB \
         ({:.1}x smaller); per item: rows {:.0} B, slice {:.0} B; slice file {:.1} MB{rows_disk} \
         (filled in {fill_s:.1} s)",
        rows as f64 / 1e6,
        whole as f64 / 1e6,
        per(rows, whole.max(1)),
        per(rows, accounts + slots),
        per(whole, accounts + slots),
        file as f64 / 1e6,
    );
    // A node holding about 1/16 of it (by the slice rule), pruning farthest first.
    let start = Instant::now();
    let (part, part_rows, kept_accounts, kept_slots, part_file) = fill(
        dir.path(),
        &format!("{name}-16th"),
        items,
        whole / 16,
        smoke,
    );
    println!(
        "slices/{name}/sixteenth: kept {kept_accounts} accounts, {kept_slots} slots; rows {:.2} MB, \
         slice {:.2} MB ({:.1}x smaller); per item: rows {:.0} B, slice {:.0} B; slice file \
         {:.2} MB (filled in {:.1} s)",
        part_rows as f64 / 1e6,
        part as f64 / 1e6,
        per(part_rows, part.max(1)),
        per(part_rows, kept_accounts + kept_slots),
        per(part, kept_accounts + kept_slots),
        part_file as f64 / 1e6,
        start.elapsed().as_secs_f64(),
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without it.
    let bench = std::env::args().any(|arg| arg == "--bench");
    let genesis = genesis_content(&repo_file("data/genesis/mainnet.json")).expect("genesis");
    measure("mainnet-genesis", &genesis.items, !bench, true);
    if !bench {
        measure(
            "synthetic-2k",
            &items_of(&synthetic_alloc(2_000, 2, 100)),
            true,
            false,
        );
        println!("slices/smoke: every value read back matched");
        return;
    }
    let accounts: u64 = std::env::var("PORTAL_STATE_SLICE_ACCOUNTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let start = Instant::now();
    let items = items_of(&synthetic_alloc(accounts, 0, 0));
    println!(
        "slices/synthetic: {accounts} accounts built and verified in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    measure(&format!("synthetic-{accounts}"), &items, false, false);
    drop(items);
    let items = items_of(&synthetic_alloc(10_000, 20, 10_000));
    measure("storage-20x10k", &items, false, false);
}
