//! Light-client objects as bytes: the Portal beacon network's content items (a 4-byte fork
//! digest, then the SSZ; `specs/portal-network-specs/legacy/beacon-chain/beacon-network.md`)
//! and bare SSZ of a named fork (the beacon REST API's `application/octet-stream` answers).

use super::config::{ChainSpec, Fork};
use super::error::LightClientError;
use super::types::{
    Bootstrap, DenebBootstrap, DenebFinalityUpdate, DenebOptimisticUpdate, DenebUpdate,
    ElectraBootstrap, ElectraFinalityUpdate, ElectraOptimisticUpdate, ElectraUpdate, Update,
};
use alloy_primitives::B256;
use ssz::{Decode, Encode};
use ssz_types::FixedVector;

pub use crate::net::BEACON_PROTOCOL_ID;

/// Which light-client object a content key names (its selector byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentKey {
    /// `0x10`: the bootstrap of the block with this root.
    Bootstrap(B256),
    /// `0x11`: the updates of `count` periods from `start_period`.
    UpdatesByRange {
        /// The first period.
        start_period: u64,
        /// How many periods.
        count: u64,
    },
    /// `0x12`: the newest finality update, finalized at this slot or later.
    FinalityUpdate(u64),
    /// `0x13`: the newest optimistic update, signed at this slot or later.
    OptimisticUpdate(u64),
}

impl ContentKey {
    /// The key's bytes: selector, then the SSZ of its container.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(33);
        match self {
            ContentKey::Bootstrap(root) => {
                out.push(0x10);
                out.extend_from_slice(root.as_slice());
            }
            ContentKey::UpdatesByRange {
                start_period,
                count,
            } => {
                out.push(0x11);
                out.extend_from_slice(&start_period.to_le_bytes());
                out.extend_from_slice(&count.to_le_bytes());
            }
            ContentKey::FinalityUpdate(slot) => {
                out.push(0x12);
                out.extend_from_slice(&slot.to_le_bytes());
            }
            ContentKey::OptimisticUpdate(slot) => {
                out.push(0x13);
                out.extend_from_slice(&slot.to_le_bytes());
            }
        }
        out
    }

    /// A key from its bytes; `None` for another selector (`0x14` historical summaries are
    /// not served here) or a wrong length.
    pub fn from_bytes(bytes: &[u8]) -> Option<ContentKey> {
        let (selector, rest) = bytes.split_first()?;
        let u64_at = |i: usize| -> Option<u64> {
            Some(u64::from_le_bytes(rest.get(i..i + 8)?.try_into().ok()?))
        };
        match (selector, rest.len()) {
            (0x10, 32) => Some(ContentKey::Bootstrap(B256::from_slice(rest))),
            (0x11, 16) => Some(ContentKey::UpdatesByRange {
                start_period: u64_at(0)?,
                count: u64_at(8)?,
            }),
            (0x12, 8) => Some(ContentKey::FinalityUpdate(u64_at(0)?)),
            (0x13, 8) => Some(ContentKey::OptimisticUpdate(u64_at(0)?)),
            _ => None,
        }
    }

    /// The content id: SHA-256 of the key (the beacon network's derivation function).
    pub fn content_id(&self) -> B256 {
        B256::from_slice(&<sha2::Sha256 as sha2::Digest>::digest(self.to_bytes()))
    }
}

/// Which of the three update shapes some bytes are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateKind {
    /// `LightClientUpdate`.
    Full,
    /// `LightClientFinalityUpdate`.
    Finality,
    /// `LightClientOptimisticUpdate`.
    Optimistic,
}

/// The object's format fork must be the fork of its slot.
fn check_fork(spec: &ChainSpec, sent: Fork, slot: u64) -> Result<(), LightClientError> {
    let actual = spec.fork_at_slot(slot);
    if actual == Fork::PreDeneb {
        return Err(LightClientError::UnsupportedFork { slot });
    }
    if actual != sent {
        return Err(LightClientError::WrongFork { sent, actual, slot });
    }
    Ok(())
}

/// A `LightClientBootstrap` in the SSZ of `fork`.
pub fn bootstrap_from_ssz(
    spec: &ChainSpec,
    fork: Fork,
    ssz: &[u8],
) -> Result<Bootstrap, LightClientError> {
    let what = "LightClientBootstrap";
    let bootstrap: Bootstrap = if fork.has_electra_branches() {
        ElectraBootstrap::from_ssz_bytes(ssz)
            .map_err(|e| LightClientError::decode(what, e))?
            .into()
    } else {
        DenebBootstrap::from_ssz_bytes(ssz)
            .map_err(|e| LightClientError::decode(what, e))?
            .into()
    };
    check_fork(spec, fork, bootstrap.header.beacon.slot)?;
    Ok(bootstrap)
}

/// An update of `kind` in the SSZ of `fork`.
pub fn update_from_ssz(
    spec: &ChainSpec,
    fork: Fork,
    kind: UpdateKind,
    ssz: &[u8],
) -> Result<Update, LightClientError> {
    fn decode<T: Decode + Into<Update>>(
        what: &'static str,
        ssz: &[u8],
    ) -> Result<Update, LightClientError> {
        T::from_ssz_bytes(ssz)
            .map(Into::into)
            .map_err(|e| LightClientError::decode(what, e))
    }
    let electra = fork.has_electra_branches();
    let update = match (kind, electra) {
        (UpdateKind::Full, false) => decode::<DenebUpdate>("LightClientUpdate", ssz)?,
        (UpdateKind::Full, true) => decode::<ElectraUpdate>("LightClientUpdate", ssz)?,
        (UpdateKind::Finality, false) => {
            decode::<DenebFinalityUpdate>("LightClientFinalityUpdate", ssz)?
        }
        (UpdateKind::Finality, true) => {
            decode::<ElectraFinalityUpdate>("LightClientFinalityUpdate", ssz)?
        }
        (UpdateKind::Optimistic, false) => {
            decode::<DenebOptimisticUpdate>("LightClientOptimisticUpdate", ssz)?
        }
        (UpdateKind::Optimistic, true) => {
            decode::<ElectraOptimisticUpdate>("LightClientOptimisticUpdate", ssz)?
        }
    };
    check_fork(spec, fork, update.attested_header.beacon.slot)?;
    Ok(update)
}

/// Split a Portal content value into its fork and SSZ.
fn split_digest<'a>(
    spec: &ChainSpec,
    value: &'a [u8],
) -> Result<(Fork, &'a [u8]), LightClientError> {
    let (digest, ssz) = value
        .split_first_chunk::<4>()
        .ok_or(LightClientError::Decode {
            what: "Portal content value",
            reason: format!("{} byte(s): shorter than a fork digest", value.len()),
        })?;
    let fork = spec
        .fork_of_digest(*digest)
        .ok_or(LightClientError::UnknownForkDigest(*digest))?;
    Ok((fork, ssz))
}

/// A Portal `0x10` content value: fork digest ‖ `LightClientBootstrap`.
pub fn bootstrap_from_content(
    spec: &ChainSpec,
    value: &[u8],
) -> Result<Bootstrap, LightClientError> {
    let (fork, ssz) = split_digest(spec, value)?;
    bootstrap_from_ssz(spec, fork, ssz)
}

/// A Portal `0x12` or `0x13` content value (fork digest ‖ SSZ) of `kind`.
pub fn update_from_content(
    spec: &ChainSpec,
    kind: UpdateKind,
    value: &[u8],
) -> Result<Update, LightClientError> {
    let (fork, ssz) = split_digest(spec, value)?;
    update_from_ssz(spec, fork, kind, ssz)
}

/// Most updates in one `0x11` value (`MAX_REQUEST_LIGHT_CLIENT_UPDATES`).
pub const MAX_REQUEST_LIGHT_CLIENT_UPDATES: usize = 128;

/// A Portal `0x11` content value: `List(ForkDigest ‖ LightClientUpdate, 128)`.
pub fn updates_from_content(
    spec: &ChainSpec,
    value: &[u8],
) -> Result<Vec<Update>, LightClientError> {
    let items: Vec<Vec<u8>> =
        ssz::decode_list_of_variable_length_items(value, Some(MAX_REQUEST_LIGHT_CLIENT_UPDATES))
            .map_err(|e| LightClientError::decode("LightClientUpdatesByRange", e))?;
    items
        .iter()
        .map(|item| update_from_content(spec, UpdateKind::Full, item))
        .collect()
}

fn branch<N: ssz_types::typenum::Unsigned>(
    what: &'static str,
    branch: &[B256],
) -> Result<FixedVector<B256, N>, LightClientError> {
    FixedVector::new(branch.to_vec()).map_err(|e| LightClientError::Decode {
        what,
        reason: format!("{} node(s): {e:?}", branch.len()),
    })
}

/// The fork digest of the fork in force at `slot`, and whether it has Electra's branches.
fn digest_at(spec: &ChainSpec, slot: u64) -> Result<([u8; 4], bool), LightClientError> {
    let fork = spec.fork_at_slot(slot);
    let version = spec
        .version_of(fork)
        .ok_or(LightClientError::UnsupportedFork { slot })?;
    Ok((spec.fork_digest(version), fork.has_electra_branches()))
}

/// A bootstrap as a Portal `0x10` content value: the digest of its slot's fork ‖ SSZ.
pub fn bootstrap_to_content(spec: &ChainSpec, b: &Bootstrap) -> Result<Vec<u8>, LightClientError> {
    let (digest, electra) = digest_at(spec, b.header.beacon.slot)?;
    let what = "current_sync_committee_branch";
    let ssz = if electra {
        ElectraBootstrap {
            header: b.header.clone(),
            current_sync_committee: b.current_sync_committee.clone(),
            current_sync_committee_branch: branch(what, &b.current_sync_committee_branch)?,
        }
        .as_ssz_bytes()
    } else {
        DenebBootstrap {
            header: b.header.clone(),
            current_sync_committee: b.current_sync_committee.clone(),
            current_sync_committee_branch: branch(what, &b.current_sync_committee_branch)?,
        }
        .as_ssz_bytes()
    };
    Ok([digest.as_slice(), &ssz].concat())
}

macro_rules! encode_update {
    ($u:expr, $kind:expr, $update:ident, $finality:ident, $optimistic:ident) => {{
        let u = $u;
        match $kind {
            UpdateKind::Full => $update {
                attested_header: u.attested_header.clone(),
                next_sync_committee: u.next_sync_committee.clone(),
                next_sync_committee_branch: branch(
                    "next_sync_committee_branch",
                    &u.next_sync_committee_branch,
                )?,
                finalized_header: u.finalized_header.clone(),
                finality_branch: branch("finality_branch", &u.finality_branch)?,
                sync_aggregate: u.sync_aggregate.clone(),
                signature_slot: u.signature_slot,
            }
            .as_ssz_bytes(),
            UpdateKind::Finality => $finality {
                attested_header: u.attested_header.clone(),
                finalized_header: u.finalized_header.clone(),
                finality_branch: branch("finality_branch", &u.finality_branch)?,
                sync_aggregate: u.sync_aggregate.clone(),
                signature_slot: u.signature_slot,
            }
            .as_ssz_bytes(),
            UpdateKind::Optimistic => $optimistic {
                attested_header: u.attested_header.clone(),
                sync_aggregate: u.sync_aggregate.clone(),
                signature_slot: u.signature_slot,
            }
            .as_ssz_bytes(),
        }
    }};
}

/// An update as a Portal content value of `kind` (`0x12`, `0x13`, or one item of `0x11`):
/// the digest of its attested slot's fork ‖ SSZ.
pub fn update_to_content(
    spec: &ChainSpec,
    kind: UpdateKind,
    u: &Update,
) -> Result<Vec<u8>, LightClientError> {
    let (digest, electra) = digest_at(spec, u.attested_header.beacon.slot)?;
    let ssz = if electra {
        encode_update!(
            u,
            kind,
            ElectraUpdate,
            ElectraFinalityUpdate,
            ElectraOptimisticUpdate
        )
    } else {
        encode_update!(
            u,
            kind,
            DenebUpdate,
            DenebFinalityUpdate,
            DenebOptimisticUpdate
        )
    };
    Ok([digest.as_slice(), &ssz].concat())
}

/// A Portal `0x11` content value from items made by [`update_to_content`] (at most
/// [`MAX_REQUEST_LIGHT_CLIENT_UPDATES`]; more are cut off).
pub fn updates_to_content(items: &[Vec<u8>]) -> Vec<u8> {
    // SSZ of a list of variable-size items: an offset each, then the items.
    items[..items.len().min(MAX_REQUEST_LIGHT_CLIENT_UPDATES)]
        .to_vec()
        .as_ssz_bytes()
}
