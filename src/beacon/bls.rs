//! BLS12-381 `FastAggregateVerify` with `blst` (the consensus specs' ciphersuite: min-pk,
//! proof-of-possession, hash to G2).
//!
//! Decompressing and subgroup-checking 512 public keys costs far more than the pairing, and a
//! committee signs for a whole period (about 27 hours), so the decompressed keys of the last two
//! committees are kept (current and next). Only committees from the light client's own store,
//! which were proven by a Merkle branch before they were stored, ever reach this cache.

use super::error::LightClientError;
use super::types::{SyncAggregate, SyncCommittee};
use alloy_primitives::B256;
use blst::min_pk::{PublicKey, Signature};
use blst::BLST_ERROR;
use std::sync::{Arc, Mutex};

/// The consensus specs' domain separation tag.
const DST: &[u8] = b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";

/// Committees whose keys were decompressed, newest last.
type KeyCache = Vec<(SyncCommittee, Arc<Vec<PublicKey>>)>;

static DECOMPRESSED: Mutex<KeyCache> = Mutex::new(Vec::new());

/// Every key of `committee`, decompressed and checked to be in G1 and not the identity.
fn committee_keys(committee: &SyncCommittee) -> Result<Arc<Vec<PublicKey>>, LightClientError> {
    let cached = |cache: &KeyCache| {
        cache
            .iter()
            .find(|(c, _)| c == committee)
            .map(|(_, keys)| keys.clone())
    };
    if let Some(keys) = cached(&DECOMPRESSED.lock().unwrap_or_else(|e| e.into_inner())) {
        return Ok(keys);
    }
    let keys = committee
        .pubkeys
        .iter()
        .enumerate()
        .map(|(index, pubkey)| {
            PublicKey::key_validate(pubkey)
                .map_err(|_| LightClientError::InvalidPublicKey { index })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let keys = Arc::new(keys);
    let mut cache = DECOMPRESSED.lock().unwrap_or_else(|e| e.into_inner());
    if cached(&cache).is_none() {
        cache.push((committee.clone(), keys.clone()));
        if cache.len() > 2 {
            cache.remove(0);
        }
    }
    Ok(keys)
}

/// Check that the committee members whose bits are set in `aggregate` signed `signing_root`.
/// Every participant's key is checked to be in G1 and not the identity; the signature is
/// checked to be in G2.
pub fn verify_sync_aggregate(
    committee: &SyncCommittee,
    aggregate: &SyncAggregate,
    signing_root: B256,
) -> Result<(), LightClientError> {
    let keys = committee_keys(committee)?;
    let participants: Vec<&PublicKey> = keys
        .iter()
        .enumerate()
        .filter(|(index, _)| aggregate.sync_committee_bits.get(*index).unwrap_or(false))
        .map(|(_, key)| key)
        .collect();
    let signature = Signature::from_bytes(&aggregate.sync_committee_signature)
        .map_err(|_| LightClientError::BadSignature)?;
    match signature.fast_aggregate_verify(true, signing_root.as_slice(), DST, &participants) {
        BLST_ERROR::BLST_SUCCESS => Ok(()),
        _ => Err(LightClientError::BadSignature),
    }
}
