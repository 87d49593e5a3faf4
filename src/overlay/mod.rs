//! The overlay: the state network's Kademlia layer on top of the transport.
//!
//! It owns the routing table of overlay peers (with their radius), the handlers that answer
//! each wire message, the lookups, and offer/accept gossip. It decodes messages with
//! [`crate::wire`], checks values with [`crate::proof`] and keeps content in [`crate::store`].

mod table;

pub use table::{InsertOutcome, NodeId, PeerState, RoutingTable, TableEntry};
