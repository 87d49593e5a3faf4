//! Merkle branches of SSZ trees (spec `is_valid_merkle_branch`) and the generalized indices the
//! light client checks.

use alloy_primitives::B256;
use sha2::{Digest, Sha256};

/// A generalized index: the path to one node of an SSZ Merkle tree (spec `GeneralizedIndex`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GeneralizedIndex(pub u64);

impl GeneralizedIndex {
    /// The branch length that proves it (spec `floorlog2(gindex)`).
    pub fn depth(self) -> usize {
        (63 - self.0.leading_zeros()) as usize
    }

    /// Its position among the nodes at that depth (spec `get_subtree_index`).
    pub fn subtree_index(self) -> u64 {
        self.0 % (1 << self.depth())
    }
}

/// `execution_payload` in `BeaconBlockBody` (Capella on).
pub const EXECUTION_PAYLOAD: GeneralizedIndex = GeneralizedIndex(25);
/// `finalized_checkpoint.root` in `BeaconState` (Altair to Deneb).
pub const FINALIZED_ROOT: GeneralizedIndex = GeneralizedIndex(105);
/// `current_sync_committee` in `BeaconState` (Altair to Deneb).
pub const CURRENT_SYNC_COMMITTEE: GeneralizedIndex = GeneralizedIndex(54);
/// `next_sync_committee` in `BeaconState` (Altair to Deneb).
pub const NEXT_SYNC_COMMITTEE: GeneralizedIndex = GeneralizedIndex(55);
/// `finalized_checkpoint.root` in `BeaconState` (Electra on).
pub const FINALIZED_ROOT_ELECTRA: GeneralizedIndex = GeneralizedIndex(169);
/// `current_sync_committee` in `BeaconState` (Electra on).
pub const CURRENT_SYNC_COMMITTEE_ELECTRA: GeneralizedIndex = GeneralizedIndex(86);
/// `next_sync_committee` in `BeaconState` (Electra on).
pub const NEXT_SYNC_COMMITTEE_ELECTRA: GeneralizedIndex = GeneralizedIndex(87);

/// Whether `branch` proves `leaf` at `gindex` under `root`. A branch of another length than the
/// index's depth is not valid.
pub fn is_valid_branch(leaf: B256, branch: &[B256], gindex: GeneralizedIndex, root: B256) -> bool {
    if branch.len() != gindex.depth() {
        return false;
    }
    let index = gindex.subtree_index();
    let mut value = leaf;
    for (i, sibling) in branch.iter().enumerate() {
        let mut hasher = Sha256::new();
        if (index >> i) & 1 == 1 {
            hasher.update(sibling);
            hasher.update(value);
        } else {
            hasher.update(value);
            hasher.update(sibling);
        }
        value = B256::from_slice(&hasher.finalize());
    }
    value == root
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depths_and_indices_are_the_specs() {
        assert_eq!(
            (EXECUTION_PAYLOAD.depth(), EXECUTION_PAYLOAD.subtree_index()),
            (4, 9)
        );
        assert_eq!(
            (FINALIZED_ROOT.depth(), FINALIZED_ROOT.subtree_index()),
            (6, 41)
        );
        assert_eq!(
            (
                NEXT_SYNC_COMMITTEE.depth(),
                NEXT_SYNC_COMMITTEE.subtree_index()
            ),
            (5, 23)
        );
        assert_eq!(FINALIZED_ROOT_ELECTRA.depth(), 7);
        assert_eq!(CURRENT_SYNC_COMMITTEE_ELECTRA.depth(), 6);
        assert_eq!(NEXT_SYNC_COMMITTEE_ELECTRA.subtree_index(), 23);
    }

    #[test]
    fn a_two_level_branch() {
        let h = |a: B256, b: B256| {
            let mut s = Sha256::new();
            s.update(a);
            s.update(b);
            B256::from_slice(&s.finalize())
        };
        let leaves = [
            B256::repeat_byte(1),
            B256::repeat_byte(2),
            B256::repeat_byte(3),
            B256::repeat_byte(4),
        ];
        let root = h(h(leaves[0], leaves[1]), h(leaves[2], leaves[3]));
        // Leaf 2 of 4: generalized index 4 + 2 = 6.
        let branch = [leaves[3], h(leaves[0], leaves[1])];
        assert!(is_valid_branch(
            leaves[2],
            &branch,
            GeneralizedIndex(6),
            root
        ));
        assert!(!is_valid_branch(
            leaves[3],
            &branch,
            GeneralizedIndex(6),
            root
        ));
        assert!(!is_valid_branch(
            leaves[2],
            &branch,
            GeneralizedIndex(7),
            root
        ));
        assert!(!is_valid_branch(
            leaves[2],
            &branch[..1],
            GeneralizedIndex(6),
            root
        ));
    }
}
