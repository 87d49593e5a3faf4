//! Contract code fetched by earlier calls, kept by address: what a call knows before it
//! fetches anything.
//!
//! Code is found by its hash, so a verified code stays true for that hash forever; an
//! address's code hash can change (a redeployment after `SELFDESTRUCT`, an EIP-7702
//! delegation), so the cache is only ever used in two ways that cannot give a wrong answer:
//!
//! - once the account is fetched and verified, its code hash is checked against the cached
//!   one; only equal hashes skip the code lookup;
//! - before the account is fetched, a run may execute the cached code to find the slots it
//!   reads ([`super::call_state`]); such a run is never answered, and when the verified hash
//!   differs the fetched code replaces it before the run that is.

use alloy_primitives::{Address, B256};
use revm::state::Bytecode;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// Bytes of code the cache holds at most (about 340 contracts of the 24 KiB limit).
pub const CODE_CACHE_BYTES: usize = 8 << 20;

/// Verified code by address, oldest evicted first past [`CODE_CACHE_BYTES`].
#[derive(Default)]
pub(super) struct CodeCache {
    inner: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    by_address: HashMap<Address, (B256, Bytecode)>,
    /// Insertion order, for eviction.
    order: VecDeque<Address>,
    bytes: usize,
}

impl CodeCache {
    /// The code last verified for `address`, with its hash.
    pub(super) fn get(&self, address: Address) -> Option<(B256, Bytecode)> {
        super::call_state::lock(&self.inner)
            .by_address
            .get(&address)
            .cloned()
    }

    /// Keep `code`, verified to hash to `code_hash`, as `address`'s.
    pub(super) fn insert(&self, address: Address, code_hash: B256, code: Bytecode) {
        let size = code.len();
        if size > CODE_CACHE_BYTES {
            return;
        }
        let mut entries = super::call_state::lock(&self.inner);
        if let Some((_, old)) = entries.by_address.remove(&address) {
            entries.bytes -= old.len();
            entries.order.retain(|a| *a != address);
        }
        while entries.bytes + size > CODE_CACHE_BYTES {
            let Some(oldest) = entries.order.pop_front() else {
                break;
            };
            if let Some((_, old)) = entries.by_address.remove(&oldest) {
                entries.bytes -= old.len();
            }
        }
        entries.bytes += size;
        entries.order.push_back(address);
        entries.by_address.insert(address, (code_hash, code));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{keccak256, Bytes};

    #[test]
    fn keeps_the_newest_code_per_address_within_its_budget() {
        let cache = CodeCache::default();
        let code = |n: usize| Bytecode::new_raw(Bytes::from(vec![0x5b; n]));
        let a = Address::repeat_byte(1);
        cache.insert(a, keccak256([1]), code(10));
        cache.insert(a, keccak256([2]), code(20));
        assert_eq!(cache.get(a).unwrap().0, keccak256([2]));
        // Filling the budget evicts the oldest address first.
        let big = CODE_CACHE_BYTES / 2;
        cache.insert(Address::repeat_byte(2), B256::ZERO, code(big));
        cache.insert(Address::repeat_byte(3), B256::ZERO, code(big));
        assert!(cache.get(a).is_none());
        assert!(cache.get(Address::repeat_byte(2)).is_some());
        assert!(cache.get(Address::repeat_byte(3)).is_some());
        assert!(super::super::call_state::lock(&cache.inner).bytes <= CODE_CACHE_BYTES);
    }
}
