//! Verifying any content value against its key: the one dispatch from a content type to the
//! check that proves it ([`super::verify`] for leaf proofs and bytecode, [`super::diff`] for
//! per-block diff items).

use super::diff::{verify_account_diff, verify_storage_top_diff};
use super::error::ProofError;
use super::verified::{VerifiedContent, VerifiedValue};
use super::verify::{verify_account, verify_bytecode, verify_storage};
use crate::content::{ContentKey, ContentValue};

/// Verify a content value against the root (or code hash) named in its key.
///
/// The value must be of the key's content type. On success the pair comes back as
/// [`VerifiedContent`], the only form in which the store and the overlay accept content.
/// Whether the key's root is one the node trusts is the caller's question.
pub fn verify(key: ContentKey, value: ContentValue) -> Result<VerifiedContent, ProofError> {
    let proven = match (&key, &value) {
        (ContentKey::Account(k), ContentValue::Account(witness)) => {
            VerifiedValue::Account(verify_account(k.state_root, k.address, witness)?)
        }
        (
            ContentKey::Storage(k),
            ContentValue::Storage {
                account_witness,
                storage_witness,
            },
        ) => VerifiedValue::Storage(verify_storage(
            k.state_root,
            k.address,
            k.slot,
            account_witness,
            storage_witness,
        )?),
        (ContentKey::Bytecode(k), ContentValue::Bytecode(code)) => {
            verify_bytecode(k.code_hash, code)?;
            VerifiedValue::Bytecode(code.clone())
        }
        (ContentKey::AccountDiff(k), ContentValue::AccountDiff(nodes)) => {
            VerifiedValue::AccountDiff(verify_account_diff(k.state_root, &k.prefix, nodes.nodes())?)
        }
        (
            ContentKey::StorageTopDiff(k),
            ContentValue::StorageTopDiff {
                account_witness,
                storage_nodes,
            },
        ) => VerifiedValue::StorageTopDiff(verify_storage_top_diff(
            k.state_root,
            k.address_hash,
            account_witness,
            storage_nodes.nodes(),
        )?),
        (key, value) => {
            return Err(ProofError::KeyValueMismatch {
                key: key_kind(key),
                value: value_kind(value),
            })
        }
    };
    Ok(VerifiedContent::new(key, value, proven))
}

fn key_kind(key: &ContentKey) -> &'static str {
    match key {
        ContentKey::Account(_) => "account",
        ContentKey::Storage(_) => "storage",
        ContentKey::Bytecode(_) => "bytecode",
        ContentKey::AccountDiff(_) => "account diff",
        ContentKey::StorageTopDiff(_) => "storage top diff",
    }
}

fn value_kind(value: &ContentValue) -> &'static str {
    match value {
        ContentValue::Account(_) => "account",
        ContentValue::Storage { .. } => "storage",
        ContentValue::Bytecode(_) => "bytecode",
        ContentValue::AccountDiff(_) => "account diff",
        ContentValue::StorageTopDiff { .. } => "storage top diff",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::Witness;
    use alloy_primitives::{address, Bytes};
    use alloy_trie::KECCAK_EMPTY;

    #[test]
    fn key_and_value_kinds_must_match() {
        let key = ContentKey::Bytecode(crate::content::BytecodeKey {
            address: address!("c02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"),
            code_hash: KECCAK_EMPTY,
        });
        assert_eq!(
            verify(key, ContentValue::Account(Witness::default())),
            Err(ProofError::KeyValueMismatch {
                key: "bytecode",
                value: "account"
            })
        );
        let proven = verify(key, ContentValue::Bytecode(Bytes::new())).unwrap();
        assert_eq!(proven.proven(), &VerifiedValue::Bytecode(Bytes::new()));
    }
}
