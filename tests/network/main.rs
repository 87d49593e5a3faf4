//! Real nodes on real UDP sockets on 127.0.0.1 with real SQLite files: the transport (discv5,
//! TALKREQ, uTP, lost packets), the overlay's messages and lookups, networks of 16 and more
//! nodes, hostile peers and eclipse attempts, the client's queries and `eth_call`, the `Node`
//! API, the bridge (genesis, proofs files, a real anvil), the beacon REST source.
//!
//! One test program (one link of the library) per area: `cargo test --test network`; one part
//! with a filter, e.g. `cargo test --test network overlay_network::`.

#[path = "../support/mod.rs"]
mod support;

mod beacon_network;
mod beacon_rest;
mod bridge_anvil;
mod bridge_genesis;
mod bridge_proofs_file;
mod call_contracts;
mod call_rounds;
mod client_queries;
mod diff_content;
mod hostile_eclipse;
mod hostile_peers;
mod net_transport;
mod node_api;
mod node_watch;
mod overlay_link;
mod overlay_messages;
mod overlay_network;
