//! State-network content: keys, ids, values and the ring distance.
//!
//! This module owns the *shapes* of the data the network carries, exactly as seed 001 and
//! DESIGN.md ("Content") define them:
//!
//! | selector | key | content id | value |
//! |---|---|---|---|
//! | `0x00` | [`AccountKey`] `(address, state_root)` | `keccak(address)` | [`ContentValue::Account`] |
//! | `0x01` | [`StorageKey`] `(address, slot, state_root)` | `keccak(address) + keccak(slot) mod 2^256` | [`ContentValue::Storage`] |
//! | `0x02` | [`BytecodeKey`] `(address, code_hash)` | `sha256(address ‖ code_hash)` | [`ContentValue::Bytecode`] |
//! | `0x03` | [`AccountDiffKey`] `(block_hash, state_root, prefix)` | start of the prefix's key range | [`ContentValue::AccountDiff`] |
//! | `0x04` | [`StorageTopDiffKey`] `(block_hash, state_root, address_hash)` | `address_hash` | [`ContentValue::StorageTopDiff`] |
//!
//! Diff items are *about* a range of ids ([`ContentKey::id_range`]); a node is interested in
//! one when its arc meets that range ([`Radius::meets`]), see `diff.rs`.
//!
//! It knows nothing about whether a value is *true*: checking a witness against a state root is
//! the job of [`crate::proof`]. Decoding here only enforces the SSZ layout and the size limits.

mod diff;
mod distance;
mod key;
mod value;

pub use diff::{
    AccountDiffKey, IdRange, NibblePrefix, StorageTopDiffKey, MAX_DIFF_PREFIX_NIBBLES,
    STORAGE_TOP_DEPTH,
};
pub use distance::{ring_distance, ContentId, Radius};
pub use key::{AccountKey, BytecodeKey, ContentKey, StorageKey};
pub use value::{
    ContentValue, DiffNodes, Witness, MAX_BYTECODE_BYTES, MAX_DIFF_NODES, MAX_STORAGE_TOP_NODES,
    MAX_WITNESS_NODES, MAX_WITNESS_NODE_BYTES,
};

/// Why a content key or value could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContentError {
    /// The key was empty, so it has no selector byte.
    #[error("empty content key")]
    EmptyKey,
    /// The first byte of the key names no content type of the state network.
    #[error("unknown content key selector 0x{0:02x}")]
    UnknownSelector(u8),
    /// The bytes after the selector are not the SSZ encoding of that key type.
    #[error("malformed content key: {0}")]
    MalformedKey(String),
    /// The value bytes are not the SSZ encoding the key's type calls for.
    #[error("malformed content value: {0}")]
    MalformedValue(String),
    /// A witness or bytecode exceeds a limit of the spec (node count, node size, code size).
    #[error("content value over limit: {0}")]
    OverLimit(String),
}
