//! Diff items (issue #14): stored whole, like bytecode, and read back by block.
//!
//! An accepted diff item is a row of the `content` table like any other (its value whole, no
//! slice nodes), served by FindContent for as long as it is kept. This file adds what the
//! re-anchoring needs: the pool of a block's verified new nodes ([`ContentStore::diff_nodes_for`]),
//! and the collection of items of blocks no longer trusted ([`ContentStore::drop_diffs_except`]).
//!
//! Both scan the diff rows by their key's selector and block hash (bytes 1 and 2-33 of the
//! key): no index serves that yet, so each is a scan of the table; an index on the key's
//! first 33 bytes is the fix when stores grow large.

use super::content::decode_key;
use super::meta::write_counts;
use super::{classify, ContentStore, StoreError};
use crate::content::{ContentKey, ContentValue};
use alloy_primitives::{keccak256, Bytes, B256};
use std::collections::HashSet;

/// Rows of diff items: selector `0x03` or `0x04`.
const DIFF_ROWS: &str = "substr(content_key, 1, 1) IN (x'03', x'04')";

impl ContentStore {
    /// The keys of the stored diff items of block `block_hash`.
    pub fn diff_keys_for(&self, block_hash: B256) -> Result<Vec<ContentKey>, StoreError> {
        let err = |e| classify(&self.path, e);
        let sql = format!(
            "SELECT content_key FROM content WHERE {DIFF_ROWS} AND substr(content_key, 2, 32) = ?1"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(err)?;
        let mut rows = stmt.query([block_hash.as_slice()]).map_err(err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(err)? {
            let bytes: Vec<u8> = row.get(0).map_err(err)?;
            out.push(decode_key(&self.path, &bytes)?);
        }
        Ok(out)
    }

    /// The verified new trie nodes of block `block_hash` held here: every node of its stored
    /// account-trie diff items and storage tops (their account paths included), each once.
    /// This is the pool the re-anchoring walk resolves references from; every node in it was
    /// verified against the block's state root before it was stored.
    pub fn diff_nodes_for(&self, block_hash: B256) -> Result<Vec<Bytes>, StoreError> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for key in self.diff_keys_for(block_hash)? {
            let nodes = match self.get(&key)? {
                Some(ContentValue::AccountDiff(nodes)) => nodes.0,
                Some(ContentValue::StorageTopDiff {
                    account_witness,
                    storage_nodes,
                }) => {
                    let mut all = account_witness.0;
                    all.extend(storage_nodes.0);
                    all
                }
                _ => continue,
            };
            for node in nodes {
                if seen.insert(keccak256(&node)) {
                    out.push(node);
                }
            }
        }
        Ok(out)
    }

    /// Delete the diff items of every block not in `keep` (the trusted window: diff items are
    /// kept K blocks, DESIGN.md "Freshness"). Returns how many went. Leaf proofs and bytecode
    /// are not touched, and the radius does not change.
    pub fn drop_diffs_except(&mut self, keep: &HashSet<B256>) -> Result<u64, StoreError> {
        let path = self.path.clone();
        let err = |e| classify(&path, e);
        let sql = format!("SELECT id, content_key, size FROM content WHERE {DIFF_ROWS}");
        let doomed: Vec<(i64, i64)> = {
            let mut stmt = self.conn.prepare_cached(&sql).map_err(err)?;
            let mut rows = stmt.query([]).map_err(err)?;
            let mut doomed = Vec::new();
            while let Some(row) = rows.next().map_err(err)? {
                let key: Vec<u8> = row.get(1).map_err(err)?;
                let block = key.get(1..33).map(B256::from_slice);
                if block.is_some_and(|b| !keep.contains(&b)) {
                    doomed.push((row.get(0).map_err(err)?, row.get(2).map_err(err)?));
                }
            }
            doomed
        };
        if doomed.is_empty() {
            return Ok(0);
        }
        let mut state = self.state;
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(err)?;
        let result = (|| {
            let mut delete = self
                .conn
                .prepare_cached("DELETE FROM content WHERE id = ?1")
                .map_err(err)?;
            for (id, size) in &doomed {
                delete.execute([id]).map_err(err)?;
                state.stored_bytes = state.stored_bytes.saturating_sub(*size as u64);
                state.len = state.len.saturating_sub(1);
            }
            write_counts(&self.conn, &path, &state)
        })();
        match result {
            Ok(()) => {
                self.conn.execute_batch("COMMIT").map_err(err)?;
                self.state = state;
                Ok(doomed.len() as u64)
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }
}
