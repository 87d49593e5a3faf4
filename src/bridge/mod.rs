//! The bridge: where state enters the network (seed 000, "Data Ingress"; seed 001, "Gossip").
//!
//! A bridge has the full state from somewhere outside the network, turns it into verified
//! content items, and pushes them to the nodes whose radius covers them. This module owns every
//! source of state and the push itself:
//!
//! | part | owns |
//! |---|---|
//! | [`genesis_content`] | every item of a genesis allocation |
//! | [`proofs_file_content`] | items from a file of `eth_getProof` results and a header |
//! | [`state_at_head`] | an execution client's whole state at its head (`anvil_dumpState`) |
//! | [`ExecutionHeader`] | block headers as JSON-RPC shows them, rebuilt to RLP and hash-checked |
//! | [`ExecutionClient`] | a small JSON-RPC client of an execution client (HTTP) |
//! | [`Follower`] | following an execution client block by block: changed state, proven and pushed |
//! | [`block_diff_items`] | a block's new trie nodes cut by key range into diff items (issue #14) |
//! | [`HeadFeed`] | following an execution client for trusted heads only |
//! | [`push`](fn@push) | offering items to the closest interested nodes, closest first |
//!
//! Nothing reaches the network unverified: every item passes [`crate::proof::verify`] against
//! the state root of a header whose hash was checked, and every JSON field that is read is
//! parsed strictly; bad input is a [`BridgeError`] naming the item, never a panic.

mod diff;
mod dump;
mod error;
mod follow;
mod genesis;
mod head_feed;
mod header;
mod json;
mod proofs;
mod push;
mod rpc;

pub use diff::{block_diff_items, cut_account_nodes, DEFAULT_TILE_DEPTH};
pub use dump::{state_at_head, StateAtBlock};
pub use error::BridgeError;
pub use follow::{BlockReport, Follower, FollowerConfig, StartAt};
pub use genesis::{genesis_content, GenesisContent};
pub use head_feed::{HeadFeed, HeadFeedConfig};
pub use header::ExecutionHeader;
pub use proofs::{proof_items, proofs_file_content, AccountProof, StorageProof};
pub use push::{push, push_with, PushConfig, PushProgress, PushReport};
pub use rpc::{BlockTag, ExecutionClient, StateChanges};
