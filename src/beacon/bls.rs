//! BLS12-381 `FastAggregateVerify` with `blst` (the consensus specs' ciphersuite: min-pk,
//! proof-of-possession, hash to G2).

use super::error::LightClientError;
use super::types::{SyncAggregate, SyncCommittee};
use alloy_primitives::B256;
use blst::min_pk::{PublicKey, Signature};
use blst::BLST_ERROR;

/// The consensus specs' domain separation tag.
const DST: &[u8] = b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";

/// Check that the committee members whose bits are set in `aggregate` signed `signing_root`.
/// Every participant's key is decompressed and checked to be in G1 and not the identity; the
/// signature is checked to be in G2.
pub fn verify_sync_aggregate(
    committee: &SyncCommittee,
    aggregate: &SyncAggregate,
    signing_root: B256,
) -> Result<(), LightClientError> {
    let mut keys = Vec::with_capacity(aggregate.participants());
    for (index, pubkey) in committee.pubkeys.iter().enumerate() {
        if aggregate.sync_committee_bits.get(index).unwrap_or(false) {
            let key = PublicKey::key_validate(pubkey)
                .map_err(|_| LightClientError::InvalidPublicKey { index })?;
            keys.push(key);
        }
    }
    let signature = Signature::from_bytes(&aggregate.sync_committee_signature)
        .map_err(|_| LightClientError::BadSignature)?;
    let refs: Vec<&PublicKey> = keys.iter().collect();
    match signature.fast_aggregate_verify(true, signing_root.as_slice(), DST, &refs) {
        BLST_ERROR::BLST_SUCCESS => Ok(()),
        _ => Err(LightClientError::BadSignature),
    }
}
