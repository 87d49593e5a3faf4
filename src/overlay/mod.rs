//! The overlay: the state network's Kademlia layer on top of the transport.
//!
//! It owns the routing table of overlay peers with their radius ([`RoutingTable`]), the block
//! headers whose state roots it accepts content for ([`TrustedHeaders`]), the handlers that
//! answer each wire message, the node and content lookups, and offer/accept gossip
//! ([`Overlay`]), and the defences against hostile peers: rate limits, bans, the subnet cap
//! ([`PeerLimits`]) and disjoint-path lookups ([`OverlayConfig::disjoint_paths`]). It decodes messages with
//! [`crate::wire`], checks every value with [`crate::proof`] and keeps content in
//! [`crate::store`]; it reaches the network only through [`crate::net`]. [`Link`] keeps it
//! usable on a phone's link: recovery after address changes, keep-alives, reachability,
//! pause/resume, and retried lookups.
//!
//! | file | owns |
//! |---|---|
//! | `config.rs` | [`OverlayConfig`], [`LookupOptions`] and the reports: [`LookupStats`], [`FoundContent`], [`PlacementReport`], [`TrafficCounters`] |
//! | `service.rs` | [`Overlay`]: shared state, accessors, the trusted-root check and validation of peer bytes |
//! | `inbound.rs` | answering Ping, FindNodes, FindContent (proofs of absence included) and Offer; taking offered content |
//! | `outbound.rs` | requests to one peer: ping, find_nodes, find_content_from, ask_peer, offer |
//! | `query.rs` | a lookup's decisions without I/O: whom to ask next, disjoint paths (unit-tested without sockets) |
//! | `lookup.rs` | the lookup drivers: node and content lookups, bootstrap, refresh |
//! | `gossip.rs` | offering new content onward, placing a bridge's content |
//! | `table.rs`, `heads.rs`, `limits.rs`, `link.rs` | the routing table, trusted headers, peer limits, the phone's link |

mod config;
mod gossip;
mod heads;
mod inbound;
mod limits;
mod link;
mod lookup;
mod outbound;
mod query;
mod service;
mod table;

pub use config::{
    FoundContent, LookupOptions, LookupStats, OverlayConfig, PlacementReport, TrafficCounters,
    CLIENT_INFO, MAX_INLINE_CONTENT,
};
pub use heads::{TrustedHeaders, MAX_TRUSTED_HEADERS};
pub use limits::{enr_ip, subnet_of, LimitCounters, PeerLimits, Rate, Subnet, SubnetCap};
pub use link::{Link, LinkConfig, LinkStatus, Locate, RecoveryReason};
pub use service::Overlay;
pub use table::{InsertOutcome, NodeId, PeerState, RoutingTable, TableEntry, MAX_REFUSALS};

use crate::content::{ContentError, ContentKey};
use crate::net::NetError;
use crate::proof::ProofError;
use crate::store::StoreError;
use alloy_primitives::B256;

/// Why an overlay operation failed.
#[derive(Debug, thiserror::Error)]
pub enum OverlayError {
    /// The key names a state root that is not the root of any trusted header, so no answer
    /// could be verified.
    #[error("state root {0} is not the root of a trusted header")]
    UntrustedRoot(B256),
    /// A peer's value does not decode as the key's content type.
    #[error("invalid content: {0}")]
    InvalidContent(ContentError),
    /// A peer's value does not verify against the key's root or hash.
    #[error("invalid proof: {0}")]
    InvalidProof(ProofError),
    /// The lookup ran out of peers (or time) without a valid answer.
    #[error("content not found: {0:?}")]
    NotFound(ContentKey),
    /// The transport failed (timeout, unreachable peer, wrong chain, uTP failure).
    #[error("network: {0}")]
    Net(NetError),
    /// The local store failed.
    #[error("store: {0}")]
    Store(StoreError),
    /// The node was stopped; its store is closed.
    #[error("the node is stopped")]
    Closed,
    /// A peer answered with something that is not a valid answer to our request.
    #[error("bad response: {0}")]
    BadResponse(String),
}
