//! Why a witness, a value or a piece of bytecode failed verification.

use alloy_primitives::B256;

/// Which trie a witness walks: the state trie (accounts) or one contract's storage trie.
///
/// Carried in [`ProofError`] so that a storage value's error says which of its two witnesses
/// failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TrieKind {
    /// The state trie: `keccak(address)` → RLP account.
    Account,
    /// A contract's storage trie: `keccak(slot)` → RLP value.
    Storage,
}

impl std::fmt::Display for TrieKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TrieKind::Account => "account",
            TrieKind::Storage => "storage",
        })
    }
}

/// Why verification failed. Every variant means the content must not be stored, forwarded or
/// returned, and that the peer that sent it sent invalid data.
///
/// `index` fields count witness nodes from 0 (the root).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The witness has no nodes, but the root it must chain to is not the empty trie's root, so
    /// nothing at all was proven.
    #[error("{trie} witness is empty but the root {root} is not the empty trie's root")]
    EmptyWitness {
        /// Which trie.
        trie: TrieKind,
        /// The root the witness had to chain to.
        root: B256,
    },
    /// A node does not hash to the reference its parent holds (for the first node: to the root
    /// named in the key). Covers a wrong root, a tampered node and a witness for another trie.
    #[error("{trie} witness node {index} hashes to {actual}, but its parent refers to {expected}")]
    NodeHashMismatch {
        /// Which trie.
        trie: TrieKind,
        /// Position of the node in the witness.
        index: usize,
        /// The hash the parent (or the key's root) refers to.
        expected: B256,
        /// `keccak256` of the node as sent.
        actual: B256,
    },
    /// A node (or a node embedded in one) is not a valid RLP trie node: bad RLP, trailing bytes,
    /// a wrong number of items, a bad path prefix, a branch value (which a secure trie never
    /// has), a child reference that is neither a 32-byte hash nor an embedded node, or a path
    /// that does not end exactly at the 64th nibble.
    #[error("{trie} witness node {index} is malformed: {reason}")]
    MalformedNode {
        /// Which trie.
        trie: TrieKind,
        /// Position of the (outer) node in the witness.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The walk ended (at the leaf, or at proof of absence) before the last node: the witness
    /// carries nodes that prove nothing about the key.
    #[error("{trie} witness has {extra} node(s) after the walk ended at node {last_used}")]
    UnexpectedExtraNodes {
        /// Which trie.
        trie: TrieKind,
        /// Position of the node where the walk ended.
        last_used: usize,
        /// How many nodes follow it.
        extra: usize,
    },
    /// The witness ends while the walk still needs the node at a hash reference: it neither
    /// reaches the leaf nor proves the key absent.
    #[error("{trie} witness ends after {nodes} node(s) while the path still refers to {pending}")]
    MissingNodes {
        /// Which trie.
        trie: TrieKind,
        /// How many nodes the witness has.
        nodes: usize,
        /// The hash of the node the walk needs next.
        pending: B256,
    },
    /// A storage witness was sent for an account the account witness proves absent; a missing
    /// account has no storage trie to anchor it to, so the storage witness must be empty.
    #[error("storage witness of {nodes} node(s) for an account proven absent (it must be empty)")]
    StorageWitnessForMissingAccount {
        /// How many nodes the storage witness has.
        nodes: usize,
    },
    /// The account leaf's value is not the RLP list `[nonce, balance, storage_root, code_hash]`.
    #[error("account leaf is not a valid RLP account: {0}")]
    BadAccountRlp(String),
    /// The storage leaf's value is not the RLP encoding of a 256-bit integer.
    #[error("storage leaf is not a valid RLP 256-bit value: {0}")]
    BadStorageRlp(String),
    /// `keccak256` of the bytecode is not the code hash named in the key.
    #[error("bytecode hashes to {actual}, but the key names code hash {expected}")]
    CodeHashMismatch {
        /// The code hash named in the key.
        expected: B256,
        /// `keccak256` of the bytecode as sent.
        actual: B256,
    },
    /// A diff item holds the same node twice.
    #[error("{trie} diff holds node {index} twice")]
    DiffDuplicateNode {
        /// Which trie.
        trie: TrieKind,
        /// Position of the second copy in the item.
        index: usize,
    },
    /// A diff item does not hold the node of the root named in its key (a wrong root, or
    /// nodes of another block).
    #[error("{trie} diff does not hold its root node {root}")]
    DiffRootMissing {
        /// Which trie.
        trie: TrieKind,
        /// The root the item had to start from.
        root: B256,
    },
    /// A node on the way from the root down to the item's prefix is not in the item, so what
    /// lies below it does not chain to the root.
    #[error("{trie} diff lacks the node {missing} at depth {depth}, above its prefix")]
    DiffChainBroken {
        /// Which trie.
        trie: TrieKind,
        /// Depth (nibbles from the root) of the missing node.
        depth: usize,
        /// The hash its parent refers to.
        missing: B256,
    },
    /// A node of a diff item is not reached from the root along the item's prefix: unrelated
    /// to the item, or below a node that was swapped or dropped.
    #[error("{trie} diff node {index} does not chain to the root along the item's prefix")]
    DiffUnrelatedNode {
        /// Which trie.
        trie: TrieKind,
        /// Position of the node in the item.
        index: usize,
    },
    /// A storage-top diff holds a node at or below the storage-top depth.
    #[error("storage top diff holds a node at depth {depth}; tops end above depth {limit}")]
    DiffTooDeep {
        /// Depth of the node.
        depth: usize,
        /// The storage-top depth.
        limit: usize,
    },
    /// The value is of another content type than the key (e.g. bytecode for an account key).
    #[error("content key is of type {key} but the value is of type {value}")]
    KeyValueMismatch {
        /// The key's content type.
        key: &'static str,
        /// The value's content type.
        value: &'static str,
    },
}
