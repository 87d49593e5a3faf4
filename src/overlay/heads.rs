//! The block headers a node trusts, and so the state roots it accepts content for.

use crate::proof::BlockHeader;
use alloy_primitives::B256;
use std::collections::BTreeMap;

/// How many recent headers are kept (DESIGN.md, "Heads").
pub const MAX_TRUSTED_HEADERS: usize = 256;

/// Recent trusted headers by number. Content keyed by any of their state roots can be verified;
/// content keyed by any other root is "not verifiable" and is neither accepted nor returned.
///
/// Two headers at one number (a reorg) are both kept: each root names a real state, and a proof
/// against either is still a true statement about that block.
#[derive(Debug, Default, Clone)]
pub struct TrustedHeaders {
    by_number: BTreeMap<(u64, B256), BlockHeader>,
}

impl TrustedHeaders {
    /// Trust `header`. Only the newest [`MAX_TRUSTED_HEADERS`] are kept.
    pub fn insert(&mut self, header: BlockHeader) {
        self.by_number.insert((header.number, header.hash), header);
        while self.by_number.len() > MAX_TRUSTED_HEADERS {
            self.by_number.pop_first();
        }
    }

    /// Whether `root` is the state root of a trusted header.
    pub fn is_trusted_root(&self, root: B256) -> bool {
        self.by_number.values().any(|h| h.state_root == root)
    }

    /// Whether the block `hash` is trusted and its state root is `root`.
    pub fn is_trusted_block(&self, hash: B256, root: B256) -> bool {
        self.by_number
            .iter()
            .any(|((_, h), header)| *h == hash && header.state_root == root)
    }

    /// The newest trusted header.
    pub fn newest(&self) -> Option<&BlockHeader> {
        self.by_number.values().next_back()
    }

    /// A trusted header at `number` (one of them, if a reorg gave two).
    pub fn get(&self, number: u64) -> Option<&BlockHeader> {
        self.by_number
            .range((number, B256::ZERO)..=(number, B256::repeat_byte(0xff)))
            .map(|(_, h)| h)
            .next_back()
    }

    /// Trusted headers, newest first.
    pub fn newest_first(&self) -> impl Iterator<Item = &BlockHeader> {
        self.by_number.values().rev()
    }

    /// How many headers are trusted.
    pub fn len(&self) -> usize {
        self.by_number.len()
    }

    /// Whether no header is trusted yet.
    pub fn is_empty(&self) -> bool {
        self.by_number.is_empty()
    }
}
