//! A beacon chain light client: trusted execution heads without trusting anyone (issue #15).
//!
//! The consensus specs' sync protocol (Altair `light-client/sync-protocol.md`, with the Capella,
//! Deneb and Electra changes): a [`LightClientStore`] starts from a [`types::Bootstrap`] whose
//! beacon header hashes to a checkpoint the user trusts, and follows [`types::Update`]s signed
//! by the sync committee (checked with BLS, `blst`). The execution payload header proven into
//! each accepted beacon header gives an [`ExecutionHead`]: block number, hash and state root.
//!
//! | module | owns |
//! |---|---|
//! | [`types`] | the SSZ containers and their hash-tree-roots |
//! | [`config`] | mainnet's genesis, fork schedule, fork digests and signing domains |
//! | [`merkle`] | Merkle branches and the generalized indices |
//! | [`bls`] | `FastAggregateVerify` of a sync aggregate |
//! | [`store`] | the state machine: bootstrap, updates, finality, optimistic |
//! | [`portal`] | bytes in: Portal beacon content values (fork digest ‖ SSZ) and bare SSZ |
//! | [`json`] | the beacon REST API's JSON forms, both ways |
//! | [`sync`] | [`sync::LightClient`]: catching up with an untrusted [`sync::LightClientSource`] |
//! | [`rest`] | the beacon REST API as a source |
//! | [`network`] | the Portal beacon network (`0x501A`): a source, and a server of what we verified |
//! | [`follow`] | the node's task: sources → verified heads → trusted headers, saved in SQLite |
//!
//! Only [`rest`], [`network`] and [`follow`] do I/O; every object is verified before it changes the store.

pub mod bls;
pub mod config;
pub mod error;
pub mod follow;
pub mod json;
pub mod merkle;
pub mod network;
pub mod portal;
pub mod rest;
pub mod store;
pub mod sync;
pub mod types;

pub use config::{ChainSpec, Fork};
pub use error::LightClientError;
pub use store::{ExecutionHead, LightClientStore, Progress};
pub use sync::{LightClient, LightClientSource};
