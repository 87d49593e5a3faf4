//! Real data checked offline, no sockets: the wire encodings of the Portal spec tests, content
//! keys and values, proofs built and verified from the mainnet, sepolia and holesky genesis
//! states and from real mainnet proofs at block 19,000,000 (and their rejection when altered),
//! the fuzz corpus, the beacon light client on real mainnet Deneb objects, the SQLite store,
//! headers rebuilt from an execution client's JSON, and the C header's freshness.
//!
//! One test program (one link of the library) per area: `cargo test --test offline`; one part
//! with a filter, e.g. `cargo test --test offline proof_mainnet::`.

#[path = "../support/mod.rs"]
mod support;

mod beacon_light_client;
mod bridge_header;
mod ffi_header;
mod fuzz_corpus;
mod proof_alloy_agreement;
mod proof_genesis;
mod proof_mainnet;
mod proof_rejection;
mod store_headers_peers;
mod store_open;
mod store_reanchor;
mod store_slices;
mod wire_vectors;
