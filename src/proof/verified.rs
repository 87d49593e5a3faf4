//! Content that passed verification.

use crate::content::{ContentId, ContentKey, ContentValue};
use alloy_primitives::{Bytes, B256, U256};
use alloy_trie::TrieAccount;

/// What a verified value proves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VerifiedValue {
    /// The account at the key's address and root; `None` when the witness proves it absent.
    Account(Option<TrieAccount>),
    /// The slot's value at the key's root (zero when absent, as Ethereum reads it).
    Storage(U256),
    /// Bytecode whose keccak is the key's code hash.
    Bytecode(Bytes),
    /// An account-trie diff whose nodes chain from the key's root along its prefix: the new
    /// account leaves it carries (hashed address, account), in key order.
    AccountDiff(Vec<(B256, TrieAccount)>),
    /// A storage-top diff: the contract's account at the key's root (`None`: proven absent),
    /// whose storage root the storage nodes chain from.
    StorageTopDiff(Option<TrieAccount>),
}

/// A content key and value whose witness chained to the key's state root (or whose bytecode
/// hashed to the key's code hash). Only [`crate::proof`] constructs it.
///
/// Verification checks the value against the root *named in the key*; whether that root is one
/// the node trusts is the caller's question (it compares with its trusted headers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedContent {
    key: ContentKey,
    value: ContentValue,
    proven: VerifiedValue,
}

impl VerifiedContent {
    /// Only verification code may call this.
    pub(crate) fn new(key: ContentKey, value: ContentValue, proven: VerifiedValue) -> Self {
        Self { key, value, proven }
    }

    /// The key.
    pub fn key(&self) -> &ContentKey {
        &self.key
    }

    /// The value as it travels on the wire.
    pub fn value(&self) -> &ContentValue {
        &self.value
    }

    /// What the value proves.
    pub fn proven(&self) -> &VerifiedValue {
        &self.proven
    }

    /// The key's content id.
    pub fn content_id(&self) -> ContentId {
        self.key.content_id()
    }
}
