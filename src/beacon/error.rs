//! The one error type of the beacon light client.

use super::config::Fork;
use alloy_primitives::B256;

/// Why a light-client object was refused. When any of these is returned, the
/// [`LightClientStore`](super::LightClientStore) is exactly as it was before the call.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LightClientError {
    /// The bytes are not the SSZ (or JSON) of the object they should be.
    #[error("{what} does not decode: {reason}")]
    Decode {
        /// The object expected.
        what: &'static str,
        /// What the decoder said.
        reason: String,
    },
    /// A Portal content value starts with a fork digest of no fork we know.
    #[error("unknown fork digest 0x{}", alloy_primitives::hex::encode(.0))]
    UnknownForkDigest([u8; 4]),
    /// A header is from a fork before Deneb, which this client does not verify (a checkpoint
    /// must be recent: within the weak-subjectivity period).
    #[error("slot {slot} is before Deneb: not supported")]
    UnsupportedFork {
        /// The header's slot.
        slot: u64,
    },
    /// The object was sent in the format of one fork but its slot is in another.
    #[error("object in {sent:?} format at slot {slot}, which is in {actual:?}")]
    WrongFork {
        /// The fork whose format (fork digest, branch lengths) the object came in.
        sent: Fork,
        /// The fork of its slot.
        actual: Fork,
        /// The slot.
        slot: u64,
    },
    /// The bootstrap's header is not the configured checkpoint.
    #[error("bootstrap header root {got} is not the checkpoint {expected}")]
    CheckpointMismatch {
        /// The trusted checkpoint block root.
        expected: B256,
        /// The root of the bootstrap's beacon header.
        got: B256,
    },
    /// A Merkle branch does not prove what it should.
    #[error("invalid {which} branch at slot {slot}")]
    InvalidBranch {
        /// Which one: `execution`, `current sync committee`, `next sync committee`,
        /// `finality`.
        which: &'static str,
        /// The slot of the header whose root it should chain to.
        slot: u64,
    },
    /// Fewer committee members signed than the spec requires (`MIN_SYNC_COMMITTEE_PARTICIPANTS`).
    #[error("{participants} sync committee participant(s), at least {required} required")]
    TooFewParticipants {
        /// How many signed.
        participants: usize,
        /// How many must.
        required: usize,
    },
    /// The slots are out of order: the spec wants current ≥ signature > attested ≥ finalized.
    #[error("slots out of order: {reason}")]
    BadSlots {
        /// Which inequality fails.
        reason: String,
    },
    /// The update is signed in a period whose sync committee the store does not know (it would
    /// skip a period, or needs the next committee first).
    #[error("signature period {signature_period} cannot be verified from period {store_period}{}",
        if *.next_committee_known { " (next committee known)" } else { "" })]
    UnverifiablePeriod {
        /// The period of the update's signature slot.
        signature_period: u64,
        /// The period of the store's finalized header.
        store_period: u64,
        /// Whether the store knows the next period's committee.
        next_committee_known: bool,
    },
    /// The update brings nothing new: not newer than the store's finalized header and no next
    /// committee the store lacks.
    #[error(
        "update attested at slot {attested_slot} is not newer than finalized slot {finalized_slot}"
    )]
    NotNewer {
        /// The update's attested slot.
        attested_slot: u64,
        /// The store's finalized slot.
        finalized_slot: u64,
    },
    /// A part that must be empty is not (a finalized header without a finality branch, a next
    /// committee without its branch), or the next committee differs from the one known.
    #[error("inconsistent update: {reason}")]
    Inconsistent {
        /// What is inconsistent.
        reason: &'static str,
    },
    /// A committee public key is not a valid BLS12-381 G1 point.
    #[error("sync committee public key {index} is invalid")]
    InvalidPublicKey {
        /// Its position in the committee.
        index: usize,
    },
    /// An update came before any bootstrap.
    #[error("the light client has not been bootstrapped yet")]
    NotBootstrapped,
    /// A source failed to answer (HTTP error, timeout, not found): nothing was verified.
    #[error("source {source_name}: {reason}")]
    Source {
        /// The source (its URL).
        source_name: String,
        /// What went wrong.
        reason: String,
    },
    /// The aggregate signature does not verify (or is not a valid G2 point).
    #[error("sync committee signature does not verify")]
    BadSignature,
}

impl LightClientError {
    /// Whether the object itself is wrong (undecodable, mis-forked, a bad branch or signature,
    /// too few signers, inconsistent): whoever sent it sent a forgery or garbage. Not so for
    /// errors that depend on what the store knows (an update it cannot verify yet, one not
    /// newer than its heads), on what this build knows (a fork digest it cannot derive, such
    /// as Fulu's; a fork before Deneb) or on the source's availability.
    pub fn is_forgery(&self) -> bool {
        !matches!(
            self,
            LightClientError::UnverifiablePeriod { .. }
                | LightClientError::NotNewer { .. }
                | LightClientError::NotBootstrapped
                | LightClientError::Source { .. }
                | LightClientError::UnknownForkDigest(_)
                | LightClientError::UnsupportedFork { .. }
        )
    }

    pub(crate) fn decode(what: &'static str, e: impl std::fmt::Debug) -> Self {
        LightClientError::Decode {
            what,
            reason: format!("{e:?}"),
        }
    }
}
