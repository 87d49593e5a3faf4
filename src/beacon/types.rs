//! The light-client containers of the consensus specs, as SSZ (`ethereum_ssz`) with their
//! hash-tree-roots (`tree_hash`).
//!
//! The header is the Deneb `LightClientHeader` (Electra and Fulu did not change it: Electra's
//! execution requests live in the block body, not in the payload header). Bootstraps and updates
//! come in two wire shapes that differ only in their Merkle branch lengths, since Electra's
//! `BeaconState` has more fields: [`DenebBootstrap`] etc. and [`ElectraBootstrap`] etc. Both are
//! turned into one fork-independent form ([`Bootstrap`], [`Update`]) whose branches are checked
//! against the generalized index of the fork of their attested slot.

use alloy_primitives::{Address, B256, U256};
use ssz_derive::{Decode, Encode};
use ssz_types::typenum::{U256 as N256, U32, U4, U48, U5, U512, U6, U7, U96};
use ssz_types::{BitVector, FixedVector, VariableList};
use tree_hash_derive::TreeHash;

/// Validators in a sync committee.
pub const SYNC_COMMITTEE_SIZE: usize = 512;

/// A BLS12-381 public key, compressed (48 bytes).
pub type BlsPublicKey = FixedVector<u8, U48>;
/// A BLS12-381 signature, compressed (96 bytes).
pub type BlsSignature = FixedVector<u8, U96>;

/// `BeaconBlockHeader` (phase 0).
#[derive(Clone, Debug, PartialEq, Eq, Default, Encode, Decode, TreeHash)]
pub struct BeaconBlockHeader {
    /// The slot of the block.
    pub slot: u64,
    /// Index of the validator that proposed it.
    pub proposer_index: u64,
    /// Root of the parent beacon block.
    pub parent_root: B256,
    /// Root of the beacon state after the block.
    pub state_root: B256,
    /// Root of the block body (which holds the execution payload).
    pub body_root: B256,
}

/// `ExecutionPayloadHeader` (Deneb; unchanged by Electra and Fulu).
#[derive(Clone, Debug, PartialEq, Eq, Default, Encode, Decode, TreeHash)]
pub struct ExecutionPayloadHeader {
    /// Hash of the parent execution block.
    pub parent_hash: B256,
    /// The block's beneficiary (coinbase).
    pub fee_recipient: Address,
    /// State root after the block: what state proofs chain to.
    pub state_root: B256,
    /// Receipts trie root.
    pub receipts_root: B256,
    /// Logs bloom filter.
    pub logs_bloom: FixedVector<u8, N256>,
    /// RANDAO mix (the execution header's `mixHash`).
    pub prev_randao: B256,
    /// Execution block number.
    pub block_number: u64,
    /// Gas limit.
    pub gas_limit: u64,
    /// Gas used.
    pub gas_used: u64,
    /// Unix timestamp, seconds.
    pub timestamp: u64,
    /// Extra data (at most 32 bytes).
    pub extra_data: VariableList<u8, U32>,
    /// EIP-1559 base fee per gas.
    pub base_fee_per_gas: U256,
    /// The execution block hash.
    pub block_hash: B256,
    /// Root of the transactions list (an SSZ root, not the execution header's trie root).
    pub transactions_root: B256,
    /// Root of the withdrawals list (SSZ root).
    pub withdrawals_root: B256,
    /// EIP-4844 blob gas used.
    pub blob_gas_used: u64,
    /// EIP-4844 excess blob gas.
    pub excess_blob_gas: u64,
}

/// `LightClientHeader` (Deneb, also Electra and Fulu): a beacon header and the execution
/// payload header proven into its body.
#[derive(Clone, Debug, PartialEq, Eq, Default, Encode, Decode, TreeHash)]
pub struct LightClientHeader {
    /// The beacon block header.
    pub beacon: BeaconBlockHeader,
    /// The execution payload header of that block.
    pub execution: ExecutionPayloadHeader,
    /// Merkle branch of `execution` in `beacon.body_root` (generalized index 25).
    pub execution_branch: FixedVector<B256, U4>,
}

/// `SyncCommittee`: the 512 validators that sign heads for one period.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TreeHash)]
pub struct SyncCommittee {
    /// Their public keys, in committee order (the order of the participation bits).
    pub pubkeys: FixedVector<BlsPublicKey, U512>,
    /// The aggregate of all 512 keys.
    pub aggregate_pubkey: BlsPublicKey,
}

impl Default for SyncCommittee {
    /// The all-zero committee: what an update without a next committee carries.
    fn default() -> Self {
        SyncCommittee {
            pubkeys: FixedVector::from_elem(BlsPublicKey::from_elem(0)),
            aggregate_pubkey: BlsPublicKey::from_elem(0),
        }
    }
}

/// `SyncAggregate`: who of the committee signed, and the aggregate signature.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TreeHash)]
pub struct SyncAggregate {
    /// One bit per committee member: set when it took part.
    pub sync_committee_bits: BitVector<U512>,
    /// The participants' aggregate BLS signature over the attested header's signing root.
    pub sync_committee_signature: BlsSignature,
}

impl SyncAggregate {
    /// How many committee members signed.
    pub fn participants(&self) -> usize {
        self.sync_committee_bits.num_set_bits()
    }
}

macro_rules! wire_containers {
    ($fork:literal, $bootstrap:ident, $update:ident, $finality:ident, $optimistic:ident,
     $current_branch:ty, $next_branch:ty, $finality_branch:ty) => {
        #[doc = concat!("`LightClientBootstrap` as ", $fork, " sends it.")]
        #[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
        pub struct $bootstrap {
            /// The header of the checkpoint block.
            pub header: LightClientHeader,
            /// The sync committee of the header's period.
            pub current_sync_committee: SyncCommittee,
            /// Its Merkle branch in `header.beacon.state_root`.
            pub current_sync_committee_branch: FixedVector<B256, $current_branch>,
        }

        #[doc = concat!("`LightClientUpdate` as ", $fork, " sends it.")]
        #[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
        pub struct $update {
            /// The header the sync committee signed.
            pub attested_header: LightClientHeader,
            /// The next period's committee, in the attested state.
            pub next_sync_committee: SyncCommittee,
            /// Its branch in `attested_header.beacon.state_root` (zeros: none).
            pub next_sync_committee_branch: FixedVector<B256, $next_branch>,
            /// The finalized checkpoint's header, in the attested state.
            pub finalized_header: LightClientHeader,
            /// Its branch in `attested_header.beacon.state_root` (zeros: none).
            pub finality_branch: FixedVector<B256, $finality_branch>,
            /// The committee's signature.
            pub sync_aggregate: SyncAggregate,
            /// The slot of the block that carried the signature.
            pub signature_slot: u64,
        }

        #[doc = concat!("`LightClientFinalityUpdate` as ", $fork, " sends it.")]
        #[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
        pub struct $finality {
            /// The header the sync committee signed.
            pub attested_header: LightClientHeader,
            /// The finalized checkpoint's header, in the attested state.
            pub finalized_header: LightClientHeader,
            /// Its branch in `attested_header.beacon.state_root`.
            pub finality_branch: FixedVector<B256, $finality_branch>,
            /// The committee's signature.
            pub sync_aggregate: SyncAggregate,
            /// The slot of the block that carried the signature.
            pub signature_slot: u64,
        }

        #[doc = concat!("`LightClientOptimisticUpdate` as ", $fork, " sends it.")]
        #[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
        pub struct $optimistic {
            /// The header the sync committee signed.
            pub attested_header: LightClientHeader,
            /// The committee's signature.
            pub sync_aggregate: SyncAggregate,
            /// The slot of the block that carried the signature.
            pub signature_slot: u64,
        }

        impl From<$bootstrap> for Bootstrap {
            fn from(b: $bootstrap) -> Self {
                Bootstrap {
                    header: b.header,
                    current_sync_committee: b.current_sync_committee,
                    current_sync_committee_branch: b.current_sync_committee_branch.to_vec(),
                }
            }
        }

        impl From<$update> for Update {
            fn from(u: $update) -> Self {
                Update {
                    attested_header: u.attested_header,
                    next_sync_committee: u.next_sync_committee,
                    next_sync_committee_branch: u.next_sync_committee_branch.to_vec(),
                    finalized_header: u.finalized_header,
                    finality_branch: u.finality_branch.to_vec(),
                    sync_aggregate: u.sync_aggregate,
                    signature_slot: u.signature_slot,
                }
            }
        }

        impl From<$finality> for Update {
            fn from(u: $finality) -> Self {
                Update {
                    attested_header: u.attested_header,
                    next_sync_committee: SyncCommittee::default(),
                    next_sync_committee_branch: Vec::new(),
                    finalized_header: u.finalized_header,
                    finality_branch: u.finality_branch.to_vec(),
                    sync_aggregate: u.sync_aggregate,
                    signature_slot: u.signature_slot,
                }
            }
        }

        impl From<$optimistic> for Update {
            fn from(u: $optimistic) -> Self {
                Update {
                    attested_header: u.attested_header,
                    next_sync_committee: SyncCommittee::default(),
                    next_sync_committee_branch: Vec::new(),
                    finalized_header: LightClientHeader::default(),
                    finality_branch: Vec::new(),
                    sync_aggregate: u.sync_aggregate,
                    signature_slot: u.signature_slot,
                }
            }
        }
    };
}

wire_containers!(
    "Deneb",
    DenebBootstrap,
    DenebUpdate,
    DenebFinalityUpdate,
    DenebOptimisticUpdate,
    U5,
    U5,
    U6
);
wire_containers!(
    "Electra (and Fulu)",
    ElectraBootstrap,
    ElectraUpdate,
    ElectraFinalityUpdate,
    ElectraOptimisticUpdate,
    U6,
    U6,
    U7
);

/// A `LightClientBootstrap` of any supported fork.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bootstrap {
    /// The header of the checkpoint block.
    pub header: LightClientHeader,
    /// The sync committee of the header's period.
    pub current_sync_committee: SyncCommittee,
    /// Its Merkle branch in `header.beacon.state_root`, as long as the fork's depth.
    pub current_sync_committee_branch: Vec<B256>,
}

/// A `LightClientUpdate` of any supported fork; finality and optimistic updates are updates
/// with the missing parts empty, as the spec turns them into (empty branch = absent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Update {
    /// The header the sync committee signed.
    pub attested_header: LightClientHeader,
    /// The next period's committee (all zeros when absent).
    pub next_sync_committee: SyncCommittee,
    /// Its branch (empty or all zeros when absent).
    pub next_sync_committee_branch: Vec<B256>,
    /// The finalized checkpoint's header (all zeros when absent).
    pub finalized_header: LightClientHeader,
    /// Its branch (empty or all zeros when absent).
    pub finality_branch: Vec<B256>,
    /// The committee's signature.
    pub sync_aggregate: SyncAggregate,
    /// The slot of the block that carried the signature.
    pub signature_slot: u64,
}

impl Update {
    /// Whether the update carries a next sync committee (spec: `is_sync_committee_update`).
    pub fn has_next_sync_committee(&self) -> bool {
        self.next_sync_committee_branch.iter().any(|b| !b.is_zero())
    }

    /// Whether the update carries a finalized header (spec: `is_finality_update`).
    pub fn has_finality(&self) -> bool {
        self.finality_branch.iter().any(|b| !b.is_zero())
    }
}

/// `ForkData`: hashed with the genesis validators root into fork digests and domains.
#[derive(Clone, Debug, PartialEq, Eq, TreeHash)]
pub(crate) struct ForkData {
    pub current_version: FixedVector<u8, U4>,
    pub genesis_validators_root: B256,
}

/// `SigningData`: what a BLS signature signs.
#[derive(Clone, Debug, PartialEq, Eq, TreeHash)]
pub(crate) struct SigningData {
    pub object_root: B256,
    pub domain: B256,
}
