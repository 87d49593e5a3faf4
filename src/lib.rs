//! # portal-state
//!
//! A node of the Ethereum execution **state network**: a Kademlia DHT on Discovery v5 speaking
//! the Portal wire protocol, where every account, storage slot and bytecode is served with a
//! Merkle-Patricia proof against a trusted block header.
//!
//! ## The API
//!
//! An app starts a [`Node`] ([`node`]: its own runtime, blocking and async queries, one error
//! [`NodeError`]) and asks it for verified state; the answers are the client's types
//! ([`Answer`], [`BlockRef`], [`AccountState`], [`CallResult`], [`FeeData`]). A program that
//! runs its own tokio runtime uses a [`Network`] and a [`StateClient`] over it directly. The
//! Kotlin / Swift / Python bindings and the C API ([`ffi`]) are shells over [`Node`]; text
//! input at every edge follows [`input`]'s rules.
//!
//! ## The layers
//!
//! The crate is layered; data flows one way, from the socket up to the caller:
//!
//! | layer | owns |
//! |---|---|
//! | [`net`] | Discovery v5 transport: TALKREQ on `0x500A`, ENRs, uTP streams |
//! | [`wire`] | Portal wire protocol v2 messages and ping extensions (SSZ) |
//! | [`beacon`] | a beacon light client (sync protocol, BLS): trusted execution heads from a checkpoint |
//! | [`content`] | content keys, ids, values and the ring distance |
//! | [`proof`] | verifying witnesses against a state root; building them from a full state; header RLP |
//! | [`store`] | the SQLite content store with its capacity and radius; headers; peers |
//! | [`overlay`] | routing table, message handlers, lookups, offer/accept gossip |
//! | [`data_dir`] | the node's own files: key, ENR sequence number, last listen port |
//! | [`network`] | [`Network`]: transport + overlay + store running on tokio |
//! | [`client`] | queries at a block (accounts, storage, code, calls, fees, sending), verified, block named |
//! | [`bridge`] | state into the network: genesis, proofs files, following an execution client; pushing |
//! | [`node`] | [`Node`]: the app-facing API — its own runtime, blocking and async queries, one error |
//! | [`input`] | the text forms of addresses, slots, numbers, amounts, blocks and hashes at every edge |
//! | [`ffi`] | the C API: `extern "C"` functions over an opaque handle to a [`Node`] |
//!
//! Log routing (stderr, logcat, the unified log, an app's own sink) and the uniffi surface are
//! internal: apps reach them through the bindings and the C API; a Rust program installs its
//! own `tracing` subscriber. [`net`], [`wire`], [`overlay`] and [`store`] are public for the
//! integration tests, benches and fuzz targets, which drive each layer on its own over real
//! sockets and SQLite; an app needs none of them.
//!
//! Nothing unverified is stored, forwarded or returned: values reach [`store`] only through
//! [`proof`].

#![deny(missing_docs)]

// Without the `node` feature the crate is its decoders and verifiers only (`content`, `proof`,
// `wire` and `net`'s ENR records): what the fuzz targets build against.
#[cfg(feature = "node")]
pub mod beacon;
#[cfg(feature = "node")]
pub mod bridge;
#[cfg(feature = "node")]
pub mod client;
pub mod content;
#[cfg(feature = "node")]
pub mod data_dir;
#[cfg(feature = "node")]
pub mod ffi;
#[cfg(feature = "node")]
pub mod input;
#[cfg(feature = "node")]
mod logging;
pub mod net;
#[cfg(feature = "node")]
pub mod network;
#[cfg(feature = "node")]
pub mod node;
#[cfg(feature = "node")]
pub mod overlay;
pub mod proof;
#[cfg(feature = "node")]
pub mod store;
pub mod wire;

// The Kotlin / Swift / Python surface: a thin shell over `node` and `logging`.
#[cfg(feature = "uniffi")]
mod uniffi_api;

#[cfg(feature = "node")]
pub use client::{
    AccountState, Answer, BlockId, BlockRef, CallRequest, CallResult, ClientError, FeeData,
    SentTransaction, StateClient,
};
#[cfg(feature = "node")]
pub use network::{Network, NetworkConfig, NetworkError};
#[cfg(feature = "node")]
pub use node::{Config, LightClientConfig, Node, NodeError, NodeFuture, NodeStatus};

#[cfg(feature = "uniffi")]
uniffi::setup_scaffolding!();
