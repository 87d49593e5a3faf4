//! What proofs of absence read from the store: stored items next to a key that is not stored
//! ([`crate::proof::NeighbourItems`], used by [`crate::proof::prove_absence`]).

use super::ContentStore;
use crate::content::{ContentId, ContentKey, ContentValue};
use crate::proof::NeighbourItems;
use alloy_primitives::{Address, B256};

/// Read errors become empty answers: a proof that cannot be assembled is no proof, and the
/// key is then answered as not held (the caller looks elsewhere).
impl NeighbourItems for ContentStore {
    fn accounts_near(
        &self,
        id: ContentId,
        state_root: B256,
        per_side: usize,
    ) -> Vec<(ContentKey, ContentValue)> {
        self.account_neighbours(id, state_root, per_side)
            .unwrap_or_default()
    }

    fn slots_near(
        &self,
        id: ContentId,
        address: Address,
        state_root: B256,
        per_side: usize,
    ) -> Vec<(ContentKey, ContentValue)> {
        self.storage_neighbours(id, address, state_root, per_side)
            .unwrap_or_default()
    }

    fn item(&self, key: &ContentKey) -> Option<ContentValue> {
        self.get(key).ok().flatten()
    }
}
