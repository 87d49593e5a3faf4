//! Per-block diff content (issue #14): the new trie nodes of one block, cut by key range.
//!
//! Two key types, both naming the block (hash and state root, so a reorg's sibling is another
//! item and the trusted-root check applies as for leaf proofs):
//!
//! - [`AccountDiffKey`] `(block_hash, state_root, prefix)`: the block's new account-trie nodes
//!   at positions *compatible* with the nibble path `prefix` (on the way from the root down to
//!   it, or below it). It covers the key range `prefix‖0…0 ..= prefix‖f…f`; its content id is
//!   the start of that range, so a node whose arc meets the range takes it ("routing by range",
//!   [`IdRange`]).
//! - [`StorageTopDiffKey`] `(block_hash, state_root, address_hash)`: one contract's account
//!   path at the new root and the new nodes of its storage trie above depth
//!   [`STORAGE_TOP_DEPTH`]; content id `address_hash`, the range a single point: it goes to the
//!   nodes holding that account.
//!
//! Why a prefix and not an arbitrary key range: a prefix is exactly one subtree of the trie, so
//! the item is the union of the proofs of its keys and verifies with one walk from the root
//! that follows only positions compatible with the prefix; a range with arbitrary ends would
//! need two boundary proofs. The bridge cuts a block into prefix-free items (every key lies in
//! exactly one item of a block), splitting by a longer prefix where an item would be too big.

use super::{ContentError, ContentId};
use alloy_primitives::{B256, U256};
use ssz::{Decode, Encode};
use ssz_derive::{Decode, Encode};

/// Longest prefix of an account-diff key, in nibbles (`List[uint8, 16]`). The bridge cuts at
/// 2-3 nibbles and goes deeper only to split an item over the size limit.
pub const MAX_DIFF_PREFIX_NIBBLES: usize = 16;

/// Storage-trie positions a storage-top diff may carry: depths 0 (the storage root) to
/// `STORAGE_TOP_DEPTH - 1` (FRESHNESS.md's L ≈ 3). Nodes below belong to the storage-bottom
/// items of the slots' holders (not built yet; DESIGN.md).
pub const STORAGE_TOP_DEPTH: usize = 3;

/// A nibble path from the root of a trie: up to [`MAX_DIFF_PREFIX_NIBBLES`] nibbles, each 0-15.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct NibblePrefix {
    len: u8,
    nibbles: [u8; MAX_DIFF_PREFIX_NIBBLES],
}

impl NibblePrefix {
    /// The empty prefix: the whole trie.
    pub const ROOT: NibblePrefix = NibblePrefix {
        len: 0,
        nibbles: [0; MAX_DIFF_PREFIX_NIBBLES],
    };

    /// A prefix from nibbles; an error when one is above 15 or there are too many.
    pub fn new(nibbles: &[u8]) -> Result<Self, ContentError> {
        if nibbles.len() > MAX_DIFF_PREFIX_NIBBLES {
            return Err(ContentError::MalformedKey(format!(
                "diff prefix of {} nibbles, at most {MAX_DIFF_PREFIX_NIBBLES}",
                nibbles.len()
            )));
        }
        if let Some(bad) = nibbles.iter().find(|&&n| n > 0x0f) {
            return Err(ContentError::MalformedKey(format!(
                "diff prefix byte {bad:#x} is not a nibble"
            )));
        }
        let mut out = Self::ROOT;
        out.len = nibbles.len() as u8;
        out.nibbles[..nibbles.len()].copy_from_slice(nibbles);
        Ok(out)
    }

    /// The nibbles.
    pub fn nibbles(&self) -> &[u8] {
        &self.nibbles[..self.len as usize]
    }

    /// How many nibbles.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether this is the empty prefix (the whole trie).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// This prefix with one more nibble, or `None` when it is at the longest already.
    pub fn child(&self, nibble: u8) -> Option<Self> {
        if self.len() >= MAX_DIFF_PREFIX_NIBBLES || nibble > 0x0f {
            return None;
        }
        let mut out = *self;
        out.nibbles[self.len()] = nibble;
        out.len += 1;
        Some(out)
    }

    /// The key range this prefix covers: every 256-bit key that starts with it.
    pub fn range(&self) -> IdRange {
        let mut start = U256::ZERO;
        for (i, &n) in self.nibbles().iter().enumerate() {
            start |= U256::from(n) << (252 - 4 * i);
        }
        let free_bits = 256 - 4 * self.len();
        let span = if free_bits == 256 {
            U256::MAX
        } else {
            (U256::from(1u8) << free_bits) - U256::from(1u8)
        };
        IdRange {
            start: ContentId::from_u256(start),
            end: ContentId::from_u256(start | span),
        }
    }
}

impl std::fmt::Debug for NibblePrefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("0x")?;
        for n in self.nibbles() {
            write!(f, "{n:x}")?;
        }
        if self.is_empty() {
            f.write_str("(root)")?;
        }
        Ok(())
    }
}

/// A contiguous stretch of the ring, `start` to `end` clockwise, both included (`end < start`
/// wraps through `0xff…ff`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IdRange {
    /// First id of the range.
    pub start: ContentId,
    /// Last id of the range.
    pub end: ContentId,
}

impl IdRange {
    /// The range of one id.
    pub fn point(id: ContentId) -> Self {
        Self { start: id, end: id }
    }

    /// Whether `id` lies in the range.
    pub fn contains(&self, id: ContentId) -> bool {
        let start = self.start.to_u256();
        id.to_u256().wrapping_sub(start) <= self.end.to_u256().wrapping_sub(start)
    }

    /// The ring distance from `id` to the nearest id of the range (zero inside it).
    pub fn distance_from(&self, id: ContentId) -> U256 {
        if self.contains(id) {
            U256::ZERO
        } else {
            id.distance(self.start).min(id.distance(self.end))
        }
    }
}

/// Key of an account-trie diff item (selector `0x03`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AccountDiffKey {
    /// The block whose changes these are.
    pub block_hash: B256,
    /// That block's state root: every node of the item chains from it.
    pub state_root: B256,
    /// The subtree the item covers.
    pub prefix: NibblePrefix,
}

/// Key of a storage-top diff item (selector `0x04`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Encode, Decode)]
pub struct StorageTopDiffKey {
    /// The block whose changes these are.
    pub block_hash: B256,
    /// That block's state root, which the account path chains from.
    pub state_root: B256,
    /// `keccak(address)` of the contract whose storage the block wrote.
    pub address_hash: B256,
}

#[derive(Encode, Decode)]
struct AccountDiffKeySsz {
    block_hash: B256,
    state_root: B256,
    prefix: Vec<u8>,
}

impl AccountDiffKey {
    pub(super) fn ssz_append(&self, out: &mut Vec<u8>) {
        AccountDiffKeySsz {
            block_hash: self.block_hash,
            state_root: self.state_root,
            prefix: self.prefix.nibbles().to_vec(),
        }
        .ssz_append(out)
    }

    pub(super) fn from_ssz_bytes(body: &[u8]) -> Result<Self, ContentError> {
        let k = AccountDiffKeySsz::from_ssz_bytes(body)
            .map_err(|e| ContentError::MalformedKey(format!("{e:?}")))?;
        Ok(Self {
            block_hash: k.block_hash,
            state_root: k.state_root,
            prefix: NibblePrefix::new(&k.prefix)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(hex: &str) -> ContentId {
        ContentId::from_u256(U256::from_str_radix(hex, 16).unwrap())
    }

    #[test]
    fn prefix_ranges() {
        let all = NibblePrefix::ROOT.range();
        assert_eq!(all.start, ContentId::default());
        assert_eq!(all.end, ContentId::from([0xff; 32]));
        let p = NibblePrefix::new(&[0xa, 0x3]).unwrap();
        let r = p.range();
        assert_eq!(r.start.as_bytes()[0], 0xa3);
        assert!(r.start.as_bytes()[1..].iter().all(|&b| b == 0));
        assert_eq!(r.end.as_bytes()[0], 0xa3);
        assert!(r.end.as_bytes()[1..].iter().all(|&b| b == 0xff));
        let odd = NibblePrefix::new(&[0x7]).unwrap().range();
        assert_eq!(odd.start.as_bytes()[0], 0x70);
        assert_eq!(odd.end.as_bytes()[0], 0x7f);
        assert!(NibblePrefix::new(&[16]).is_err());
        assert!(NibblePrefix::new(&[0; 17]).is_err());
        assert_eq!(
            NibblePrefix::new(&[0; 16]).unwrap().child(1),
            None,
            "no prefix longer than the limit"
        );
    }

    #[test]
    fn range_contains_and_distance_wrap() {
        let r = IdRange {
            start: id("10"),
            end: id("20"),
        };
        assert!(r.contains(id("10")) && r.contains(id("20")) && r.contains(id("15")));
        assert!(!r.contains(id("21")) && !r.contains(id("f")));
        assert_eq!(r.distance_from(id("15")), U256::ZERO);
        assert_eq!(r.distance_from(id("25")), U256::from(5));
        assert_eq!(r.distance_from(id("8")), U256::from(8));
        // A range through the top of the ring.
        let top = ContentId::from_u256(U256::MAX - U256::from(4));
        let wrapping = IdRange {
            start: top,
            end: id("4"),
        };
        assert!(wrapping.contains(ContentId::from([0xff; 32])));
        assert!(wrapping.contains(id("0")) && wrapping.contains(id("4")));
        assert!(!wrapping.contains(id("5")));
        assert_eq!(wrapping.distance_from(id("9")), U256::from(5));
        assert_eq!(IdRange::point(id("9")).distance_from(id("9")), U256::ZERO);
    }
}
