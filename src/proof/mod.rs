//! Merkle-Patricia proofs: verifying witnesses against a state root, and building them from a
//! full state.
//!
//! This module owns everything that decides whether content is *true*:
//!
//! | part | owns |
//! |---|---|
//! | [`verify`](fn@verify) and friends | walking a witness from a state root to a leaf or to proof of absence; bytecode hashes |
//! | [`BlockHeader`] | decoding header RLP to the `state_root` that witnesses chain to |
//! | [`GenesisAlloc`] | reading genesis JSON into a full state |
//! | [`build_witnesses`] | building the tries of a full state and a witness for every item |
//! | [`prove_absence`] | proofs of absence assembled from stored neighbours ([`NeighbourItems`]) |
//! | [`verify_account_diff`], [`verify_storage_top_diff`], [`place_nodes`] | per-block diff items: a set of new nodes walked as a tree from the root along a prefix |
//! | [`walk_new_root`] | re-anchoring a slice to the next root: the new nodes of a range, or what is missing (no I/O) |
//!
//! [`VerifiedContent`] can only be made here, by a verification that succeeded, so a layer that
//! takes one (the store, the overlay's gossip) cannot be handed unverified data by mistake.

mod absence;
mod build;
mod diff;
mod dispatch;
mod error;
mod genesis;
mod header;
mod reanchor;
mod verified;
mod verify;

pub use absence::{absence_witness, prove_absence, NeighbourItems};
pub use build::{build_witnesses, StateWitnesses};
// The bridge cuts diff items with it.
#[cfg(feature = "node")]
pub(crate) use diff::compatible as position_compatible;
pub use diff::{place_nodes, verify_account_diff, verify_storage_top_diff, DiffLeaves, PlacedNode};
pub use dispatch::verify;
pub use error::{ProofError, TrieKind};
pub use genesis::{GenesisAccount, GenesisAlloc, GenesisError};
pub use header::{BlockHeader, HeaderError};
pub use reanchor::{
    hashed_children_in_range, walk_new_root, DiffPool, KeyRange, MissingNode, NodeSource,
    SliceUpdate, WalkError, WalkOutcome,
};
pub use verified::{VerifiedContent, VerifiedValue};
// The store walks its slices with these (it re-hashes every node it reads).
#[cfg(feature = "node")]
pub(crate) use verify::{
    decode_node as decode_trie_node, follow as follow_trie_node, Step as TrieStep,
};
pub use verify::{verify_account, verify_bytecode, verify_storage};
