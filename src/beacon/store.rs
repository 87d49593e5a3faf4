//! `LightClientStore`: the sync protocol's state machine (consensus specs, Altair
//! `light-client/sync-protocol.md` with the Capella, Deneb and Electra changes), without I/O.
//!
//! Every call validates first and changes the store only once the object is fully verified, so
//! an error always leaves the store as it was.
//!
//! Left out on purpose: `best_valid_update` and the force update after `UPDATE_TIMEOUT`
//! (`process_light_client_store_force_update`). A forced update accepts a header without a
//! 2/3-finalized checkpoint; a wallet's light client would rather stall (and say so in its
//! status) than trust one.

use super::bls::verify_sync_aggregate;
use super::config::{period_of_slot, ChainSpec, Fork, SLOTS_PER_EPOCH};
use super::error::LightClientError;
use super::merkle::{self, is_valid_branch, GeneralizedIndex};
use super::types::{Bootstrap, LightClientHeader, SyncCommittee, Update};
use alloy_primitives::B256;
use ssz_derive::{Decode, Encode};
use tree_hash::TreeHash;

/// `MIN_SYNC_COMMITTEE_PARTICIPANTS`.
pub const MIN_SYNC_COMMITTEE_PARTICIPANTS: usize = 1;

/// The execution block a verified light-client header proves: its payload header is proven into
/// the beacon block body by `execution_branch`, and the beacon block is signed by the sync
/// committee (or finalized under a signed one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExecutionHead {
    /// The beacon slot of the block.
    pub slot: u64,
    /// The beacon block root.
    pub beacon_root: B256,
    /// Execution block number.
    pub number: u64,
    /// Execution block hash.
    pub hash: B256,
    /// Execution state root: what state proofs chain to.
    pub state_root: B256,
    /// Execution block timestamp, Unix seconds.
    pub timestamp: u64,
    /// The parent execution block's hash.
    pub parent_hash: B256,
}

impl ExecutionHead {
    /// The execution block of a header that [`validate_header`] accepted.
    pub fn of(header: &LightClientHeader) -> Self {
        ExecutionHead {
            slot: header.beacon.slot,
            beacon_root: header.beacon.tree_hash_root(),
            number: header.execution.block_number,
            hash: header.execution.block_hash,
            state_root: header.execution.state_root,
            timestamp: header.execution.timestamp,
            parent_hash: header.execution.parent_hash,
        }
    }
}

/// What an accepted update changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// The finalized header moved forward.
    pub finalized: bool,
    /// The optimistic header moved forward.
    pub optimistic: bool,
    /// The next period's committee became known.
    pub next_committee: bool,
}

impl Progress {
    /// What either moved.
    pub fn or(self, other: Progress) -> Progress {
        Progress {
            finalized: self.finalized || other.finalized,
            optimistic: self.optimistic || other.optimistic,
            next_committee: self.next_committee || other.next_committee,
        }
    }

    /// Whether anything moved.
    pub fn any(self) -> bool {
        self.finalized || self.optimistic || self.next_committee
    }
}

/// The light client's state: trusted headers and the committees that can sign the next ones.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct LightClientStore {
    finalized_header: LightClientHeader,
    current_sync_committee: SyncCommittee,
    /// All zeros while unknown (spec: `SyncCommittee()`).
    next_sync_committee: SyncCommittee,
    optimistic_header: LightClientHeader,
    previous_max_active_participants: u64,
    current_max_active_participants: u64,
}

/// Spec `is_valid_light_client_header` from Deneb on: the execution payload header is proven
/// into the beacon block body. Headers before Deneb are refused.
pub fn validate_header(
    spec: &ChainSpec,
    header: &LightClientHeader,
) -> Result<(), LightClientError> {
    let slot = header.beacon.slot;
    if spec.fork_at_slot(slot) == Fork::PreDeneb {
        return Err(LightClientError::UnsupportedFork { slot });
    }
    if is_valid_branch(
        header.execution.tree_hash_root(),
        &header.execution_branch,
        merkle::EXECUTION_PAYLOAD,
        header.beacon.body_root,
    ) {
        Ok(())
    } else {
        Err(LightClientError::InvalidBranch {
            which: "execution",
            slot,
        })
    }
}

fn current_committee_gindex(spec: &ChainSpec, slot: u64) -> GeneralizedIndex {
    if spec.fork_at_slot(slot).has_electra_branches() {
        merkle::CURRENT_SYNC_COMMITTEE_ELECTRA
    } else {
        merkle::CURRENT_SYNC_COMMITTEE
    }
}

fn next_committee_gindex(spec: &ChainSpec, slot: u64) -> GeneralizedIndex {
    if spec.fork_at_slot(slot).has_electra_branches() {
        merkle::NEXT_SYNC_COMMITTEE_ELECTRA
    } else {
        merkle::NEXT_SYNC_COMMITTEE
    }
}

fn finalized_root_gindex(spec: &ChainSpec, slot: u64) -> GeneralizedIndex {
    if spec.fork_at_slot(slot).has_electra_branches() {
        merkle::FINALIZED_ROOT_ELECTRA
    } else {
        merkle::FINALIZED_ROOT
    }
}

impl LightClientStore {
    /// Spec `initialize_light_client_store`: trust `bootstrap` if its header hashes to
    /// `checkpoint` (a beacon block root the user trusts) and its committee is proven into it.
    pub fn bootstrap(
        spec: &ChainSpec,
        checkpoint: B256,
        bootstrap: &Bootstrap,
    ) -> Result<Self, LightClientError> {
        let header = &bootstrap.header;
        validate_header(spec, header)?;
        let root = header.beacon.tree_hash_root();
        if root != checkpoint {
            return Err(LightClientError::CheckpointMismatch {
                expected: checkpoint,
                got: root,
            });
        }
        let slot = header.beacon.slot;
        if !is_valid_branch(
            bootstrap.current_sync_committee.tree_hash_root(),
            &bootstrap.current_sync_committee_branch,
            current_committee_gindex(spec, slot),
            header.beacon.state_root,
        ) {
            return Err(LightClientError::InvalidBranch {
                which: "current sync committee",
                slot,
            });
        }
        Ok(LightClientStore {
            finalized_header: header.clone(),
            current_sync_committee: bootstrap.current_sync_committee.clone(),
            next_sync_committee: SyncCommittee::default(),
            optimistic_header: header.clone(),
            previous_max_active_participants: 0,
            current_max_active_participants: 0,
        })
    }

    /// The newest finalized header.
    pub fn finalized_header(&self) -> &LightClientHeader {
        &self.finalized_header
    }

    /// The newest header signed by enough of the committee (spec: the safety threshold), never
    /// older than the finalized one.
    pub fn optimistic_header(&self) -> &LightClientHeader {
        &self.optimistic_header
    }

    /// The execution block of the finalized header.
    pub fn finalized_execution(&self) -> ExecutionHead {
        ExecutionHead::of(&self.finalized_header)
    }

    /// The execution block of the optimistic header.
    pub fn optimistic_execution(&self) -> ExecutionHead {
        ExecutionHead::of(&self.optimistic_header)
    }

    /// The sync-committee period of the finalized header.
    pub fn finalized_period(&self) -> u64 {
        period_of_slot(self.finalized_header.beacon.slot)
    }

    /// Whether the next period's committee is known (spec `is_next_sync_committee_known`).
    pub fn is_next_sync_committee_known(&self) -> bool {
        self.next_sync_committee != SyncCommittee::default()
    }

    /// Spec `get_safety_threshold`.
    fn safety_threshold(&self) -> u64 {
        self.previous_max_active_participants
            .max(self.current_max_active_participants)
            / 2
    }

    /// Spec `validate_light_client_update`, for an update (or a finality or optimistic update
    /// turned into one) signed at most at `current_slot`.
    pub fn validate_update(
        &self,
        spec: &ChainSpec,
        update: &Update,
        current_slot: u64,
    ) -> Result<(), LightClientError> {
        let participants = update.sync_aggregate.participants();
        if participants < MIN_SYNC_COMMITTEE_PARTICIPANTS {
            return Err(LightClientError::TooFewParticipants {
                participants,
                required: MIN_SYNC_COMMITTEE_PARTICIPANTS,
            });
        }
        validate_header(spec, &update.attested_header)?;
        let attested_slot = update.attested_header.beacon.slot;
        let finalized_slot = update.finalized_header.beacon.slot;
        if !(current_slot >= update.signature_slot
            && update.signature_slot > attested_slot
            && attested_slot >= finalized_slot)
        {
            return Err(LightClientError::BadSlots {
                reason: format!(
                    "current {current_slot}, signature {}, attested {attested_slot}, finalized {finalized_slot}",
                    update.signature_slot
                ),
            });
        }
        let store_period = self.finalized_period();
        let signature_period = period_of_slot(update.signature_slot);
        let next_known = self.is_next_sync_committee_known();
        let verifiable = signature_period == store_period
            || (next_known && signature_period == store_period + 1);
        if !verifiable {
            return Err(LightClientError::UnverifiablePeriod {
                signature_period,
                store_period,
                next_committee_known: next_known,
            });
        }

        // Relevance: newer than finalized, or the next committee we lack.
        let attested_period = period_of_slot(attested_slot);
        let brings_next_committee =
            !next_known && update.has_next_sync_committee() && attested_period == store_period;
        if attested_slot <= self.finalized_header.beacon.slot && !brings_next_committee {
            return Err(LightClientError::NotNewer {
                attested_slot,
                finalized_slot: self.finalized_header.beacon.slot,
            });
        }

        let state_root = update.attested_header.beacon.state_root;
        if !update.has_finality() {
            if update.finalized_header != LightClientHeader::default() {
                return Err(LightClientError::Inconsistent {
                    reason: "a finalized header without a finality branch",
                });
            }
        } else {
            // Finalized at genesis is the zero root; never the case for Deneb-era data.
            validate_header(spec, &update.finalized_header)?;
            if !is_valid_branch(
                update.finalized_header.beacon.tree_hash_root(),
                &update.finality_branch,
                finalized_root_gindex(spec, attested_slot),
                state_root,
            ) {
                return Err(LightClientError::InvalidBranch {
                    which: "finality",
                    slot: attested_slot,
                });
            }
        }

        if !update.has_next_sync_committee() {
            if update.next_sync_committee != SyncCommittee::default() {
                return Err(LightClientError::Inconsistent {
                    reason: "a next sync committee without its branch",
                });
            }
        } else {
            if attested_period == store_period
                && next_known
                && update.next_sync_committee != self.next_sync_committee
            {
                return Err(LightClientError::Inconsistent {
                    reason: "a next sync committee other than the one known",
                });
            }
            if !is_valid_branch(
                update.next_sync_committee.tree_hash_root(),
                &update.next_sync_committee_branch,
                next_committee_gindex(spec, attested_slot),
                state_root,
            ) {
                return Err(LightClientError::InvalidBranch {
                    which: "next sync committee",
                    slot: attested_slot,
                });
            }
        }

        let committee = if signature_period == store_period {
            &self.current_sync_committee
        } else {
            &self.next_sync_committee
        };
        let signing_root = spec.sync_committee_signing_root(
            update.attested_header.beacon.tree_hash_root(),
            update.signature_slot,
        );
        verify_sync_aggregate(committee, &update.sync_aggregate, signing_root)
    }

    /// Spec `process_light_client_update` (without `best_valid_update`: see the module docs).
    /// Returns what moved; an error leaves the store unchanged.
    pub fn process_update(
        &mut self,
        spec: &ChainSpec,
        update: &Update,
        current_slot: u64,
    ) -> Result<Progress, LightClientError> {
        self.validate_update(spec, update, current_slot)?;
        let mut progress = Progress::default();
        let participants = update.sync_aggregate.participants() as u64;
        self.current_max_active_participants =
            self.current_max_active_participants.max(participants);

        if participants > self.safety_threshold()
            && update.attested_header.beacon.slot > self.optimistic_header.beacon.slot
        {
            self.optimistic_header = update.attested_header.clone();
            progress.optimistic = true;
        }

        let finalized_period = period_of_slot(update.finalized_header.beacon.slot);
        let finalizes_next_committee = !self.is_next_sync_committee_known()
            && update.has_next_sync_committee()
            && update.has_finality()
            && finalized_period == period_of_slot(update.attested_header.beacon.slot);
        let supermajority = participants * 3 >= super::types::SYNC_COMMITTEE_SIZE as u64 * 2;
        if supermajority
            && (update.finalized_header.beacon.slot > self.finalized_header.beacon.slot
                || finalizes_next_committee)
        {
            self.apply(update, &mut progress);
        }
        Ok(progress)
    }

    /// Spec `apply_light_client_update`.
    fn apply(&mut self, update: &Update, progress: &mut Progress) {
        let store_period = self.finalized_period();
        let finalized_period = period_of_slot(update.finalized_header.beacon.slot);
        if !self.is_next_sync_committee_known() {
            // The spec asserts finalized_period == store_period here; `process_update` only
            // applies such updates (or ones that move the finalized header within the period).
            if finalized_period == store_period {
                self.next_sync_committee = update.next_sync_committee.clone();
                progress.next_committee = update.has_next_sync_committee();
            }
        } else if finalized_period == store_period + 1 {
            self.current_sync_committee = std::mem::replace(
                &mut self.next_sync_committee,
                update.next_sync_committee.clone(),
            );
            progress.next_committee = update.has_next_sync_committee();
            self.previous_max_active_participants = self.current_max_active_participants;
            self.current_max_active_participants = 0;
        }
        if update.finalized_header.beacon.slot > self.finalized_header.beacon.slot {
            self.finalized_header = update.finalized_header.clone();
            progress.finalized = true;
            if self.finalized_header.beacon.slot > self.optimistic_header.beacon.slot {
                self.optimistic_header = self.finalized_header.clone();
                progress.optimistic = true;
            }
        }
    }

    /// The slot the store's next signatures can come from at the latest: the end of the period
    /// after the finalized one, or of the finalized one while the next committee is unknown.
    pub fn last_verifiable_slot(&self) -> u64 {
        let periods = self.finalized_period() + 1 + u64::from(self.is_next_sync_committee_known());
        periods * SLOTS_PER_EPOCH * super::config::EPOCHS_PER_SYNC_COMMITTEE_PERIOD - 1
    }
}
