//! # portal-state
//!
//! A node of the Ethereum execution **state network**: a Kademlia DHT on Discovery v5 speaking
//! the Portal wire protocol, where every account, storage slot and bytecode is served with a
//! Merkle-Patricia proof against a trusted block header.
//!
//! The crate is layered; data flows one way, from the socket up to the caller:
//!
//! | layer | owns |
//! |---|---|
//! | [`net`] | Discovery v5 transport: TALKREQ on `0x500A`, ENRs, uTP streams |
//! | [`wire`] | Portal wire protocol v2 messages and ping extensions (SSZ) |
//! | [`beacon`] | a beacon light client (sync protocol, BLS): trusted execution heads from a checkpoint |
//! | [`content`] | content keys, ids, values and the ring distance |
//! | [`proof`] | verifying witnesses against a state root; building them from a full state |
//! | [`store`] | the SQLite content store with its capacity and radius; headers; peers |
//! | [`overlay`] | routing table, message handlers, lookups, offer/accept gossip |
//! | [`network`] | [`network::Network`]: transport + overlay + store running on tokio |
//! | [`client`] | queries at a block (accounts, storage, code), verified, block named |
//! | [`bridge`] | state into the network: genesis, proofs files, following an execution client; pushing |
//! | [`node`] | [`node::Node`]: the app-facing API — its own runtime, blocking and async queries, one error |
//! | [`input`] | the text forms of addresses, slots, amounts and hashes at the API's edge |
//! | [`ffi`] | the C API: `extern "C"` functions over an opaque handle to a [`node::Node`] |
//! | [`logging`] | logs to stderr, logcat or the unified log, and to an app's own sink |
//!
//! Nothing unverified is stored, forwarded or returned: values reach [`store`] only through
//! [`proof`].

#![deny(missing_docs)]

pub mod beacon;
pub mod bridge;
pub mod client;
pub mod content;
pub mod ffi;
pub mod input;
pub mod logging;
pub mod net;
pub mod network;
pub mod node;
pub mod overlay;
pub mod proof;
pub mod store;
pub mod wire;

// The Kotlin / Swift / Python surface: a thin shell over `node` and `logging`.
#[cfg(feature = "uniffi")]
pub mod uniffi_api;

#[cfg(feature = "uniffi")]
uniffi::setup_scaffolding!();
