//! Recent trusted headers and known peers: what a restarted node needs to be back on the network
//! at once (DESIGN.md, "Store"). Both tables are bounded by count, not by the content capacity.

use super::{classify, ContentStore, StoreError};
use alloy_primitives::B256;
use std::path::Path;

/// How many headers the store keeps: the highest block numbers put (DESIGN.md, "Heads").
pub const MAX_HEADERS: usize = 256;

/// How many peers the store keeps: the most recently seen.
pub const MAX_PEERS: usize = 1024;

/// A trusted block header as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredHeader {
    /// The block number.
    pub number: u64,
    /// The block hash (keccak of the RLP), as the caller vouched for it.
    pub hash: B256,
    /// The RLP-encoded header.
    pub header_rlp: Vec<u8>,
}

/// A known peer as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerRecord {
    /// The peer's Discovery v5 node id.
    pub node_id: [u8; 32],
    /// Its ENR in text form (`enr:...`).
    pub enr: String,
    /// When it was last seen alive, in seconds since the Unix epoch.
    pub last_seen_unix: u64,
}

impl ContentStore {
    /// Record a trusted header. A header with the same number replaces the stored one (the
    /// caller trusts the newer chain); only the [`MAX_HEADERS`] highest numbers are kept, so a
    /// header older than all of them is dropped at once.
    pub fn put_header(
        &mut self,
        number: u64,
        hash: B256,
        header_rlp: &[u8],
    ) -> Result<(), StoreError> {
        let path = &self.path;
        let err = |e| classify(path, e);
        let number = i64::try_from(number).map_err(|_| StoreError::InvalidInput {
            path: path.clone(),
            reason: format!("block number {number} is above 2^63 - 1"),
        })?;
        let tx = self.conn.transaction().map_err(err)?;
        tx.prepare_cached(
            "INSERT INTO headers (number, hash, header_rlp) VALUES (?1, ?2, ?3)
             ON CONFLICT (number) DO UPDATE SET hash = excluded.hash,
                                               header_rlp = excluded.header_rlp",
        )
        .and_then(|mut stmt| stmt.execute((number, hash.as_slice(), header_rlp)))
        .map_err(err)?;
        // LIMIT -1 OFFSET n: every row after the n highest.
        tx.prepare_cached(
            "DELETE FROM headers WHERE number IN
               (SELECT number FROM headers ORDER BY number DESC LIMIT -1 OFFSET ?1)",
        )
        .and_then(|mut stmt| stmt.execute([MAX_HEADERS as i64]))
        .map_err(err)?;
        tx.commit().map_err(err)
    }

    /// Up to `limit` stored headers, highest number first.
    pub fn headers_newest_first(&self, limit: usize) -> Result<Vec<StoredHeader>, StoreError> {
        let err = |e| classify(&self.path, e);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT number, hash, header_rlp FROM headers ORDER BY number DESC LIMIT ?1",
            )
            .map_err(err)?;
        let mut rows = stmt.query([clamp_limit(limit)]).map_err(err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(err)? {
            let number: i64 = row.get(0).map_err(err)?;
            let hash: Vec<u8> = row.get(1).map_err(err)?;
            let header_rlp: Vec<u8> = row.get(2).map_err(err)?;
            out.push(StoredHeader {
                number: u64::try_from(number)
                    .map_err(|_| corrupt(&self.path, "header number", "negative"))?,
                hash: B256::try_from(hash.as_slice())
                    .map_err(|_| corrupt(&self.path, "header hash", "not 32 bytes"))?,
                header_rlp,
            });
        }
        Ok(out)
    }

    /// Record a peer (or refresh one already known). When more than [`MAX_PEERS`] are known,
    /// the least recently seen are forgotten.
    pub fn put_peer(
        &mut self,
        node_id: [u8; 32],
        enr: &str,
        last_seen_unix: u64,
    ) -> Result<(), StoreError> {
        let path = &self.path;
        let err = |e| classify(path, e);
        // Seconds since 1970 fit i64 for 292 billion years; clamping keeps "newest" meaning.
        let last_seen = i64::try_from(last_seen_unix).unwrap_or(i64::MAX);
        let tx = self.conn.transaction().map_err(err)?;
        tx.prepare_cached(
            "INSERT INTO peers (node_id, enr, last_seen) VALUES (?1, ?2, ?3)
             ON CONFLICT (node_id) DO UPDATE SET enr = excluded.enr,
                                                last_seen = excluded.last_seen",
        )
        .and_then(|mut stmt| stmt.execute((node_id.as_slice(), enr, last_seen)))
        .map_err(err)?;
        tx.prepare_cached(
            "DELETE FROM peers WHERE node_id IN
               (SELECT node_id FROM peers ORDER BY last_seen DESC, node_id DESC
                LIMIT -1 OFFSET ?1)",
        )
        .and_then(|mut stmt| stmt.execute([MAX_PEERS as i64]))
        .map_err(err)?;
        tx.commit().map_err(err)
    }

    /// Up to `limit` known peers, most recently seen first.
    pub fn peers(&self, limit: usize) -> Result<Vec<PeerRecord>, StoreError> {
        let err = |e| classify(&self.path, e);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT node_id, enr, last_seen FROM peers
                 ORDER BY last_seen DESC, node_id DESC LIMIT ?1",
            )
            .map_err(err)?;
        let mut rows = stmt.query([clamp_limit(limit)]).map_err(err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(err)? {
            let node_id: Vec<u8> = row.get(0).map_err(err)?;
            let enr: String = row.get(1).map_err(err)?;
            let last_seen: i64 = row.get(2).map_err(err)?;
            out.push(PeerRecord {
                node_id: node_id
                    .as_slice()
                    .try_into()
                    .map_err(|_| corrupt(&self.path, "peer node id", "not 32 bytes"))?,
                enr,
                last_seen_unix: u64::try_from(last_seen)
                    .map_err(|_| corrupt(&self.path, "peer last-seen time", "negative"))?,
            });
        }
        Ok(out)
    }

    /// Forget a peer. Returns whether it was known.
    pub fn remove_peer(&mut self, node_id: &[u8; 32]) -> Result<bool, StoreError> {
        let err = |e| classify(&self.path, e);
        let removed = self
            .conn
            .prepare_cached("DELETE FROM peers WHERE node_id = ?1")
            .and_then(|mut stmt| stmt.execute([node_id.as_slice()]))
            .map_err(err)?;
        Ok(removed > 0)
    }
}

fn clamp_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

fn corrupt(path: &Path, what: &'static str, reason: &str) -> StoreError {
    StoreError::CorruptValue {
        path: path.to_path_buf(),
        what,
        reason: reason.to_string(),
    }
}
