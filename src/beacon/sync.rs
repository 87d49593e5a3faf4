//! Driving a [`LightClientStore`] from an untrusted source: bootstrap at the checkpoint, then
//! the updates of each period up to the clock's, then the newest finality and optimistic
//! updates. Sources only fetch; every object is verified by the store before it counts.

use super::config::{period_of_slot, ChainSpec};
use super::error::LightClientError;
use super::portal::MAX_REQUEST_LIGHT_CLIENT_UPDATES;
use super::store::{ExecutionHead, LightClientStore, Progress};
use super::types::{Bootstrap, Update};
use crate::store::SavedLightClient;
use alloy_primitives::B256;
use ssz::{Decode, Encode};

/// Where light-client objects come from: a beacon REST API, the Portal beacon network, a file.
/// Nothing a source says is trusted.
#[async_trait::async_trait]
pub trait LightClientSource: Send + Sync {
    /// A name for logs and errors (a URL).
    fn name(&self) -> String;
    /// The bootstrap of the block with root `checkpoint`.
    async fn bootstrap(&self, checkpoint: B256) -> Result<Bootstrap, LightClientError>;
    /// The best update of each period in `[start_period, start_period + count)` the source has.
    async fn updates(&self, start_period: u64, count: u64)
        -> Result<Vec<Update>, LightClientError>;
    /// The newest finality update.
    async fn finality_update(&self) -> Result<Update, LightClientError>;
    /// The newest optimistic update.
    async fn optimistic_update(&self) -> Result<Update, LightClientError>;
    /// Told when the last object it returned failed verification
    /// ([`LightClientError::is_forgery`]), so that a source of many peers can stop asking the
    /// one that sent it. Nothing by default.
    fn refused(&self, _error: &LightClientError) {}
}

/// An object the store accepted: what a node that serves light-client data may serve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verified {
    /// The bootstrap at the checkpoint.
    Bootstrap(Bootstrap),
    /// A `LightClientUpdate` (one period of the range).
    Update(Update),
    /// A finality update.
    Finality(Update),
    /// An optimistic update.
    Optimistic(Update),
}

/// A light client: a checkpoint and, once bootstrapped, its store.
#[derive(Clone, Debug)]
pub struct LightClient {
    spec: ChainSpec,
    checkpoint: B256,
    store: Option<LightClientStore>,
}

/// Whether an update was refused only because the store already has what it brings (a
/// source's newest finality update is often the one already applied).
fn is_stale(e: &LightClientError) -> bool {
    matches!(e, LightClientError::NotNewer { .. })
}

impl LightClient {
    /// A light client that will bootstrap from `checkpoint` (a beacon block root the user
    /// trusts, within the weak-subjectivity period: about two weeks on mainnet).
    pub fn new(spec: ChainSpec, checkpoint: B256) -> Self {
        LightClient {
            spec,
            checkpoint,
            store: None,
        }
    }

    /// A light client resumed from what [`LightClient::saved`] returned. Refused when it was
    /// bootstrapped from another checkpoint than `checkpoint` (the user changed it: start
    /// over) or does not decode.
    pub fn resume(
        spec: ChainSpec,
        checkpoint: B256,
        saved: &SavedLightClient,
    ) -> Result<Self, LightClientError> {
        if saved.checkpoint != checkpoint {
            return Err(LightClientError::CheckpointMismatch {
                expected: checkpoint,
                got: saved.checkpoint,
            });
        }
        let store = LightClientStore::from_ssz_bytes(&saved.state)
            .map_err(|e| LightClientError::decode("saved LightClientStore", e))?;
        Ok(LightClient {
            spec,
            checkpoint,
            store: Some(store),
        })
    }

    /// The state to keep across restarts (`None` before the bootstrap).
    pub fn saved(&self) -> Option<SavedLightClient> {
        self.store.as_ref().map(|s| SavedLightClient {
            checkpoint: self.checkpoint,
            state: s.as_ssz_bytes(),
        })
    }

    /// The chain.
    pub fn spec(&self) -> &ChainSpec {
        &self.spec
    }

    /// The checkpoint.
    pub fn checkpoint(&self) -> B256 {
        self.checkpoint
    }

    /// The store, once bootstrapped.
    pub fn store(&self) -> Option<&LightClientStore> {
        self.store.as_ref()
    }

    /// The finalized and optimistic execution heads, once bootstrapped.
    pub fn heads(&self) -> Option<(ExecutionHead, ExecutionHead)> {
        self.store
            .as_ref()
            .map(|s| (s.finalized_execution(), s.optimistic_execution()))
    }

    /// Bootstrap from `bootstrap` (it must hash to the checkpoint).
    pub fn bootstrap(&mut self, bootstrap: &Bootstrap) -> Result<(), LightClientError> {
        self.store = Some(LightClientStore::bootstrap(
            &self.spec,
            self.checkpoint,
            bootstrap,
        )?);
        Ok(())
    }

    /// Process one update at wall-clock slot `now_slot` (an error leaves the store as it was).
    pub fn process(
        &mut self,
        update: &Update,
        now_slot: u64,
    ) -> Result<Progress, LightClientError> {
        let store = self
            .store
            .as_mut()
            .ok_or(LightClientError::NotBootstrapped)?;
        store.process_update(&self.spec, update, now_slot)
    }

    /// Catch up with `source` at wall-clock slot `now_slot`: bootstrap if needed, the updates
    /// of every period from the finalized one to the clock's, then the newest finality and
    /// optimistic updates. Returns what moved; an object that fails verification is an error
    /// (what was verified before it stays applied).
    pub async fn sync(
        &mut self,
        source: &dyn LightClientSource,
        now_slot: u64,
    ) -> Result<Progress, LightClientError> {
        self.sync_recording(source, now_slot, &mut |_| {}).await
    }

    /// [`LightClient::sync`], handing each object the store accepted to `accepted`.
    pub async fn sync_recording(
        &mut self,
        source: &dyn LightClientSource,
        now_slot: u64,
        accepted: &mut (dyn FnMut(Verified) + Send),
    ) -> Result<Progress, LightClientError> {
        let mut total = Progress::default();
        if self.store.is_none() {
            let bootstrap = source.bootstrap(self.checkpoint).await?;
            self.bootstrap(&bootstrap)?;
            accepted(Verified::Bootstrap(bootstrap));
            total.finalized = true;
            total.optimistic = true;
        }
        let now_period = period_of_slot(now_slot);
        // Each round moves the finalized period by at most one; stop when nothing moves.
        loop {
            let store = self
                .store
                .as_ref()
                .ok_or(LightClientError::NotBootstrapped)?;
            let start = store.finalized_period();
            if start > now_period || (start == now_period && store.is_next_sync_committee_known()) {
                break;
            }
            let count = (now_period - start + 1).min(MAX_REQUEST_LIGHT_CLIENT_UPDATES as u64);
            let updates = source.updates(start, count).await?;
            let before = (
                store.finalized_period(),
                store.is_next_sync_committee_known(),
            );
            for update in updates {
                match self.process(&update, now_slot) {
                    Ok(p) => {
                        total = total.or(p);
                        accepted(Verified::Update(update));
                    }
                    Err(e) if is_stale(&e) => {}
                    Err(e) => return Err(e),
                }
            }
            let store = self
                .store
                .as_ref()
                .ok_or(LightClientError::NotBootstrapped)?;
            if (
                store.finalized_period(),
                store.is_next_sync_committee_known(),
            ) == before
            {
                break;
            }
        }
        // A source may say it has nothing newer than what we have (the Portal beacon network
        // is asked for one slot more): not an error.
        let newest = |result: Result<Update, LightClientError>| match result {
            Ok(update) => Ok(Some(update)),
            Err(e) if is_stale(&e) => Ok(None),
            Err(e) => Err(e),
        };
        let finality = newest(source.finality_update().await)?.map(Verified::Finality);
        let optimistic = newest(source.optimistic_update().await)?.map(Verified::Optimistic);
        for verified in [finality, optimistic].into_iter().flatten() {
            let (Verified::Finality(update) | Verified::Optimistic(update)) = &verified else {
                continue;
            };
            match self.process(update, now_slot) {
                Ok(p) => {
                    total = total.or(p);
                    accepted(verified);
                }
                Err(e) if is_stale(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(total)
    }
}
