//! A beacon chain's constants: genesis, fork schedule, the fork digests and signing domains
//! derived from them. Only mainnet is configured (the state network serves mainnet).

use super::types::{ForkData, SigningData};
use alloy_primitives::{b256, B256};
use ssz_types::FixedVector;
use tree_hash::TreeHash;

/// Slots per epoch (mainnet preset).
pub const SLOTS_PER_EPOCH: u64 = 32;
/// Epochs per sync-committee period (mainnet preset).
pub const EPOCHS_PER_SYNC_COMMITTEE_PERIOD: u64 = 256;
/// Seconds per slot.
pub const SECONDS_PER_SLOT: u64 = 12;
/// `DOMAIN_SYNC_COMMITTEE`.
const DOMAIN_SYNC_COMMITTEE: [u8; 4] = [7, 0, 0, 0];

/// The forks whose light-client data the store accepts (from Deneb on: checkpoints must be
/// within the weak-subjectivity period, months, so older forks never come up).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fork {
    /// Before Deneb: not supported (its headers lack the blob fields).
    PreDeneb,
    /// Deneb (mainnet epoch 269,568).
    Deneb,
    /// Electra (mainnet epoch 364,032): longer state branches.
    Electra,
    /// Fulu (mainnet epoch 411,392): light-client data as Electra's.
    Fulu,
}

impl Fork {
    /// Whether its bootstraps and updates use Electra's branch lengths.
    pub fn has_electra_branches(self) -> bool {
        self >= Fork::Electra
    }

    /// The fork's name as the beacon API's `Eth-Consensus-Version` and `version` fields say it.
    pub fn name(self) -> &'static str {
        match self {
            Fork::PreDeneb => "pre-deneb",
            Fork::Deneb => "deneb",
            Fork::Electra => "electra",
            Fork::Fulu => "fulu",
        }
    }
}

/// A beacon chain: genesis and fork schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainSpec {
    /// The network's name.
    pub name: &'static str,
    /// `genesis_validators_root`: every fork digest and signing domain commits to it.
    pub genesis_validators_root: B256,
    /// Unix time of slot 0.
    pub genesis_time: u64,
    /// `(fork, version, activation epoch)`, oldest first.
    pub forks: [(Fork, [u8; 4], u64); 3],
    /// The version before the first listed fork.
    pub pre_deneb_version: [u8; 4],
}

impl ChainSpec {
    /// Ethereum mainnet.
    pub fn mainnet() -> Self {
        ChainSpec {
            name: "mainnet",
            genesis_validators_root: b256!(
                "4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95"
            ),
            genesis_time: 1_606_824_023,
            forks: [
                (Fork::Deneb, [4, 0, 0, 0], 269_568),
                (Fork::Electra, [5, 0, 0, 0], 364_032),
                (Fork::Fulu, [6, 0, 0, 0], 411_392),
            ],
            // Capella's: signatures at the last Capella slot are checked with it.
            pre_deneb_version: [3, 0, 0, 0],
        }
    }

    /// The fork in force at `epoch`.
    pub fn fork_at_epoch(&self, epoch: u64) -> Fork {
        self.forks
            .iter()
            .rev()
            .find(|(_, _, start)| epoch >= *start)
            .map_or(Fork::PreDeneb, |(fork, _, _)| *fork)
    }

    /// The fork in force at `slot`.
    pub fn fork_at_slot(&self, slot: u64) -> Fork {
        self.fork_at_epoch(slot / SLOTS_PER_EPOCH)
    }

    /// The fork version in force at `epoch`.
    pub fn version_at_epoch(&self, epoch: u64) -> [u8; 4] {
        self.forks
            .iter()
            .rev()
            .find(|(_, _, start)| epoch >= *start)
            .map_or(self.pre_deneb_version, |(_, version, _)| *version)
    }

    /// The version of `fork` (`None` for [`Fork::PreDeneb`]).
    pub fn version_of(&self, fork: Fork) -> Option<[u8; 4]> {
        self.forks
            .iter()
            .find(|(f, _, _)| *f == fork)
            .map(|(_, version, _)| *version)
    }

    /// `compute_fork_digest` as before Fulu: the first 4 bytes of the fork data root. Portal
    /// content values start with it. (Fulu's digests also mix in the blob parameters; the Portal
    /// beacon network has not settled on them, so they are not derived here.)
    pub fn fork_digest(&self, version: [u8; 4]) -> [u8; 4] {
        let root = self.fork_data_root(version);
        [root[0], root[1], root[2], root[3]]
    }

    /// The fork whose (pre-Fulu) digest is `digest`.
    pub fn fork_of_digest(&self, digest: [u8; 4]) -> Option<Fork> {
        self.forks
            .iter()
            .find(|(_, version, _)| self.fork_digest(*version) == digest)
            .map(|(fork, _, _)| *fork)
    }

    fn fork_data_root(&self, version: [u8; 4]) -> B256 {
        ForkData {
            // Four bytes into a vector of four: cannot fail.
            current_version: FixedVector::new(version.to_vec()).unwrap_or_default(),
            genesis_validators_root: self.genesis_validators_root,
        }
        .tree_hash_root()
    }

    /// The signing root a sync committee signs for `header_root` when its signature is included
    /// at `signature_slot` (the fork of the slot before: spec `validate_light_client_update`).
    pub fn sync_committee_signing_root(&self, header_root: B256, signature_slot: u64) -> B256 {
        let fork_version_slot = signature_slot.max(1) - 1;
        let version = self.version_at_epoch(fork_version_slot / SLOTS_PER_EPOCH);
        let fork_data_root = self.fork_data_root(version);
        let mut domain = [0u8; 32];
        domain[..4].copy_from_slice(&DOMAIN_SYNC_COMMITTEE);
        domain[4..].copy_from_slice(&fork_data_root[..28]);
        SigningData {
            object_root: header_root,
            domain: B256::from(domain),
        }
        .tree_hash_root()
    }

    /// The slot the wall clock is at, `unix_seconds` after 1970 (0 before genesis).
    pub fn slot_at_time(&self, unix_seconds: u64) -> u64 {
        unix_seconds.saturating_sub(self.genesis_time) / SECONDS_PER_SLOT
    }
}

/// The sync-committee period of `slot`.
pub fn period_of_slot(slot: u64) -> u64 {
    slot / SLOTS_PER_EPOCH / EPOCHS_PER_SYNC_COMMITTEE_PERIOD
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mainnet_deneb_digest_is_the_one_portal_content_carries() {
        let spec = ChainSpec::mainnet();
        // The prefix of every value in the portal-spec-tests Deneb vectors.
        assert_eq!(spec.fork_digest([4, 0, 0, 0]), [0x6a, 0x95, 0xa1, 0xa9]);
        assert_eq!(
            spec.fork_of_digest([0x6a, 0x95, 0xa1, 0xa9]),
            Some(Fork::Deneb)
        );
    }

    #[test]
    fn fork_schedule_boundaries() {
        let spec = ChainSpec::mainnet();
        assert_eq!(spec.fork_at_epoch(269_567), Fork::PreDeneb);
        assert_eq!(spec.fork_at_epoch(269_568), Fork::Deneb);
        assert_eq!(spec.fork_at_epoch(364_031), Fork::Deneb);
        assert_eq!(spec.fork_at_epoch(364_032), Fork::Electra);
        assert_eq!(spec.fork_at_epoch(411_392), Fork::Fulu);
        assert_eq!(period_of_slot(10_248_000), 1250);
        assert_eq!(period_of_slot(10_248_192), 1251);
    }
}
