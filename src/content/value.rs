//! Content values: witnesses (lists of RLP trie nodes, root first) and bytecode.

use super::{ContentError, ContentKey};
use alloy_primitives::Bytes;
use ssz::{Decode, Encode};
use ssz_derive::{Decode, Encode};

/// Most nodes in one witness: `MPTWitness = List(WitnessNode, max_length=32)`.
pub const MAX_WITNESS_NODES: usize = 32;
/// Largest RLP trie node: `WitnessNode = ByteList(1024)`.
pub const MAX_WITNESS_NODE_BYTES: usize = 1024;
/// Largest bytecode: `ByteList(32768)` (DESIGN.md: the seed's 24756 is a typo of EIP-170's
/// 24576, and upstream took 32768 for headroom).
pub const MAX_BYTECODE_BYTES: usize = 32768;
/// Most nodes in an account-trie diff item: `List(WitnessNode, max_length=64)`, so that the
/// largest item (64 × 1024 bytes plus offsets) still fits the overlay's largest value.
pub const MAX_DIFF_NODES: usize = 64;
/// Most storage-trie nodes in a storage-top diff item (`List(WitnessNode, max_length=32)`):
/// with its account witness of up to 32 nodes, the value's bound is a storage proof's.
pub const MAX_STORAGE_TOP_NODES: usize = 32;

/// A Merkle-Patricia witness: the RLP-encoded trie nodes on the path from the root (first) to
/// the leaf or to the point that proves the leaf absent (last).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Witness(pub Vec<Bytes>);

impl Witness {
    /// The nodes, root first.
    pub fn nodes(&self) -> &[Bytes] {
        &self.0
    }

    /// Total bytes of all nodes.
    pub fn byte_len(&self) -> usize {
        self.0.iter().map(|n| n.len()).sum()
    }

    fn check_limits(&self, what: &str) -> Result<(), ContentError> {
        check_node_limits(&self.0, what, MAX_WITNESS_NODES)
    }
}

/// At most `max` nodes, each at most [`MAX_WITNESS_NODE_BYTES`]: the bounds of witnesses and
/// diff items alike.
fn check_node_limits(nodes: &[Bytes], what: &str, max: usize) -> Result<(), ContentError> {
    if nodes.len() > max {
        return Err(ContentError::OverLimit(format!(
            "{what} has {} nodes, at most {max} allowed",
            nodes.len()
        )));
    }
    if let Some(node) = nodes.iter().find(|n| n.len() > MAX_WITNESS_NODE_BYTES) {
        return Err(ContentError::OverLimit(format!(
            "{what} has a node of {} bytes, at most {MAX_WITNESS_NODE_BYTES} allowed",
            node.len()
        )));
    }
    Ok(())
}

impl From<Vec<Bytes>> for Witness {
    fn from(nodes: Vec<Bytes>) -> Self {
        Self(nodes)
    }
}

/// The new trie nodes of a diff item (RLP, each at most [`MAX_WITNESS_NODE_BYTES`]), in the
/// order of their positions in the trie: root first, then by depth and nibble path.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct DiffNodes(pub Vec<Bytes>);

impl DiffNodes {
    /// The nodes.
    pub fn nodes(&self) -> &[Bytes] {
        &self.0
    }

    /// Total bytes of all nodes.
    pub fn byte_len(&self) -> usize {
        self.0.iter().map(|n| n.len()).sum()
    }

    fn check_limits(&self, what: &str, max: usize) -> Result<(), ContentError> {
        check_node_limits(&self.0, what, max)
    }
}

#[derive(Encode, Decode)]
struct AccountValueSsz {
    witness: Vec<Bytes>,
}

#[derive(Encode, Decode)]
struct StorageValueSsz {
    account_witness: Vec<Bytes>,
    storage_witness: Vec<Bytes>,
}

#[derive(Encode, Decode)]
struct StorageTopDiffSsz {
    account_witness: Vec<Bytes>,
    storage_nodes: Vec<Bytes>,
}

/// A state-network content value. Which variant a byte string holds is told by its key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContentValue {
    /// `Container(witness: MPTWitness)`: the account leaf and its path from the state root.
    Account(Witness),
    /// `Container(account_witness, storage_witness)`: the contract's account witness (so the
    /// value verifies against the state root alone) and the slot's witness from the account's
    /// storage root.
    Storage {
        /// Path from the state root to the contract's account leaf.
        account_witness: Witness,
        /// Path from the account's storage root to the slot's leaf.
        storage_witness: Witness,
    },
    /// `ByteList(32768)`: the contract's code.
    Bytecode(Bytes),
    /// `Container(nodes: List(WitnessNode, 64))`: a block's new account-trie nodes at
    /// positions compatible with the key's prefix, the root's included.
    AccountDiff(DiffNodes),
    /// `Container(account_witness: MPTWitness, storage_nodes: List(WitnessNode, 32))`: the
    /// contract's account witness at the block's root (which names the new storage root) and
    /// the new storage-trie nodes above depth [`crate::content::STORAGE_TOP_DEPTH`].
    StorageTopDiff {
        /// Path from the state root to the contract's account leaf.
        account_witness: Witness,
        /// New storage-trie nodes near the storage root, root first.
        storage_nodes: DiffNodes,
    },
}

impl ContentValue {
    /// The SSZ encoding.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            ContentValue::Account(w) => AccountValueSsz {
                witness: w.0.clone(),
            }
            .as_ssz_bytes(),
            ContentValue::Storage {
                account_witness,
                storage_witness,
            } => StorageValueSsz {
                account_witness: account_witness.0.clone(),
                storage_witness: storage_witness.0.clone(),
            }
            .as_ssz_bytes(),
            ContentValue::Bytecode(code) => code.to_vec(),
            ContentValue::AccountDiff(nodes) => AccountValueSsz {
                witness: nodes.0.clone(),
            }
            .as_ssz_bytes(),
            ContentValue::StorageTopDiff {
                account_witness,
                storage_nodes,
            } => StorageTopDiffSsz {
                account_witness: account_witness.0.clone(),
                storage_nodes: storage_nodes.0.clone(),
            }
            .as_ssz_bytes(),
        }
    }

    /// Decode the value that `key` names, enforcing the spec's size limits.
    pub fn decode(key: &ContentKey, bytes: &[u8]) -> Result<Self, ContentError> {
        let malformed = |e: ssz::DecodeError| ContentError::MalformedValue(format!("{e:?}"));
        match key {
            ContentKey::Account(_) => {
                // Cheap bound before allocating: 32 nodes of 1024 bytes plus offsets.
                bound(bytes, 4 + MAX_WITNESS_NODES * (4 + MAX_WITNESS_NODE_BYTES))?;
                let v = AccountValueSsz::from_ssz_bytes(bytes).map_err(malformed)?;
                let w = Witness(v.witness);
                w.check_limits("account witness")?;
                Ok(ContentValue::Account(w))
            }
            ContentKey::Storage(_) => {
                bound(
                    bytes,
                    8 + 2 * MAX_WITNESS_NODES * (4 + MAX_WITNESS_NODE_BYTES),
                )?;
                let v = StorageValueSsz::from_ssz_bytes(bytes).map_err(malformed)?;
                let account_witness = Witness(v.account_witness);
                let storage_witness = Witness(v.storage_witness);
                account_witness.check_limits("account witness")?;
                storage_witness.check_limits("storage witness")?;
                Ok(ContentValue::Storage {
                    account_witness,
                    storage_witness,
                })
            }
            ContentKey::Bytecode(_) => {
                bound(bytes, MAX_BYTECODE_BYTES)?;
                Ok(ContentValue::Bytecode(Bytes::copy_from_slice(bytes)))
            }
            ContentKey::AccountDiff(_) => {
                bound(bytes, 4 + MAX_DIFF_NODES * (4 + MAX_WITNESS_NODE_BYTES))?;
                // Same layout as an account value: one list of nodes.
                let v = AccountValueSsz::from_ssz_bytes(bytes).map_err(malformed)?;
                let nodes = DiffNodes(v.witness);
                nodes.check_limits("account diff", MAX_DIFF_NODES)?;
                Ok(ContentValue::AccountDiff(nodes))
            }
            ContentKey::StorageTopDiff(_) => {
                bound(
                    bytes,
                    8 + (MAX_WITNESS_NODES + MAX_STORAGE_TOP_NODES) * (4 + MAX_WITNESS_NODE_BYTES),
                )?;
                let v = StorageTopDiffSsz::from_ssz_bytes(bytes).map_err(malformed)?;
                let account_witness = Witness(v.account_witness);
                let storage_nodes = DiffNodes(v.storage_nodes);
                account_witness.check_limits("account witness")?;
                storage_nodes.check_limits("storage top diff", MAX_STORAGE_TOP_NODES)?;
                Ok(ContentValue::StorageTopDiff {
                    account_witness,
                    storage_nodes,
                })
            }
        }
    }
}

fn bound(bytes: &[u8], max: usize) -> Result<(), ContentError> {
    if bytes.len() > max {
        Err(ContentError::OverLimit(format!(
            "{} bytes, at most {max} allowed",
            bytes.len()
        )))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::{AccountKey, BytecodeKey, StorageKey};
    use alloy_primitives::{Address, B256, U256};

    fn account_key() -> ContentKey {
        ContentKey::Account(AccountKey {
            address: Address::ZERO,
            state_root: B256::ZERO,
        })
    }

    #[test]
    fn account_value_layout() {
        let v = ContentValue::Account(Witness(vec![
            Bytes::from_static(&[0xaa, 0xbb]),
            Bytes::from_static(&[0xcc]),
        ]));
        let bytes = v.encode();
        // container offset, then list offsets (2 x 4), then the node bytes.
        assert_eq!(
            bytes,
            [4, 0, 0, 0, 8, 0, 0, 0, 10, 0, 0, 0, 0xaa, 0xbb, 0xcc]
        );
        assert_eq!(ContentValue::decode(&account_key(), &bytes).unwrap(), v);
    }

    #[test]
    fn storage_value_roundtrip() {
        let key = ContentKey::Storage(StorageKey {
            address: Address::ZERO,
            slot: U256::from(7),
            state_root: B256::ZERO,
        });
        let v = ContentValue::Storage {
            account_witness: Witness(vec![Bytes::from_static(&[1, 2, 3])]),
            storage_witness: Witness(vec![Bytes::from_static(&[4]), Bytes::from_static(&[5, 6])]),
        };
        assert_eq!(ContentValue::decode(&key, &v.encode()).unwrap(), v);
    }

    #[test]
    fn limits_are_enforced() {
        let too_many = ContentValue::Account(Witness(vec![Bytes::from_static(&[1]); 33]));
        assert!(matches!(
            ContentValue::decode(&account_key(), &too_many.encode()),
            Err(ContentError::OverLimit(_))
        ));
        let too_big = ContentValue::Account(Witness(vec![Bytes::from(vec![0u8; 1025])]));
        assert!(matches!(
            ContentValue::decode(&account_key(), &too_big.encode()),
            Err(ContentError::OverLimit(_))
        ));
        let code_key = ContentKey::Bytecode(BytecodeKey {
            address: Address::ZERO,
            code_hash: B256::ZERO,
        });
        assert!(matches!(
            ContentValue::decode(&code_key, &vec![0u8; MAX_BYTECODE_BYTES + 1]),
            Err(ContentError::OverLimit(_))
        ));
        assert!(ContentValue::decode(&code_key, &vec![0u8; MAX_BYTECODE_BYTES]).is_ok());
    }

    #[test]
    fn garbage_is_a_typed_error() {
        for bytes in [
            &[][..],
            &[1, 2, 3][..],
            &[4, 0, 0, 0, 9, 0, 0, 0][..],
            &[0xff; 40][..],
        ] {
            assert!(
                ContentValue::decode(&account_key(), bytes).is_err(),
                "{bytes:?}"
            );
        }
    }
}
