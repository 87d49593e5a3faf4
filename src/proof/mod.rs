//! Merkle-Patricia proofs: verifying witnesses against a state root, and building them from a
//! full state.
//!
//! [`VerifiedContent`] can only be made here, by a verification that succeeded, so a layer that
//! takes one (the store, the overlay's gossip) cannot be handed unverified data by mistake.

mod verified;

pub use verified::{VerifiedContent, VerifiedValue};
