//! The beacon light client's state (`crate::beacon::LightClientStore`, as SSZ) and the checkpoint
//! it grew from, kept in `meta` so that a restarted node resumes without a new checkpoint. The
//! store only keeps the bytes: the light client verified them before, and decodes them again.

use super::{classify, ContentStore, StoreError};
use alloy_primitives::B256;
use rusqlite::OptionalExtension;

const CHECKPOINT: &str = "beacon_checkpoint";
const STATE: &str = "beacon_light_client";

/// A saved light-client state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SavedLightClient {
    /// The checkpoint (beacon block root) the state was bootstrapped from.
    pub checkpoint: B256,
    /// The state's SSZ.
    pub state: Vec<u8>,
}

impl ContentStore {
    /// Save the light client's state (replacing the one saved), in one transaction.
    pub fn put_light_client(&mut self, saved: &SavedLightClient) -> Result<(), StoreError> {
        let path = &self.path;
        let err = |e| classify(path, e);
        let tx = self.conn.transaction().map_err(err)?;
        for (name, value) in [
            (CHECKPOINT, saved.checkpoint.as_slice()),
            (STATE, saved.state.as_slice()),
        ] {
            tx.prepare_cached(
                "INSERT INTO meta (name, value) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            )
            .and_then(|mut stmt| stmt.execute((name, value)))
            .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    /// The saved light-client state, if any.
    pub fn light_client(&self) -> Result<Option<SavedLightClient>, StoreError> {
        let err = |e| classify(&self.path, e);
        let get = |name: &str| -> Result<Option<Vec<u8>>, StoreError> {
            self.conn
                .prepare_cached("SELECT value FROM meta WHERE name = ?1")
                .and_then(|mut stmt| stmt.query_row([name], |r| r.get(0)).optional())
                .map_err(err)
        };
        let (Some(checkpoint), Some(state)) = (get(CHECKPOINT)?, get(STATE)?) else {
            return Ok(None);
        };
        let checkpoint =
            B256::try_from(checkpoint.as_slice()).map_err(|_| StoreError::CorruptValue {
                path: self.path.clone(),
                what: "beacon checkpoint",
                reason: "not 32 bytes".into(),
            })?;
        Ok(Some(SavedLightClient { checkpoint, state }))
    }
}
