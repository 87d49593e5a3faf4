//! The network transport: Discovery v5 sessions, TALKREQ on the state network's protocol id,
//! and uTP streams carried in TALKREQs.
//!
//! This is the bottom layer of the node. It knows bytes, [`Enr`]s, node ids, protocol versions
//! and uTP streams — nothing about Portal messages, content or proofs. Data flows one way:
//!
//! ```text
//!  UDP socket ─► discv5 (sessions, handshakes, TALKREQ/TALKRESP)
//!                 │
//!                 ├─ TALKREQ "utp"    ─► uTP socket (utp-rs) ─► streams opened by the overlay
//!                 └─ TALKREQ 0x500A   ─► InboundRequest queue ─► wire decode ─► overlay
//! ```
//!
//! # The pieces
//!
//! * **Discovery v5** (the [`discv5`] crate) owns the UDP socket, the encrypted sessions with
//!   peers and the ENRs learned in handshakes. We bind the socket ourselves (so port 0 works and
//!   our ENR carries the real port) and hand it over.
//! * **TALKREQ / TALKRESP** on protocol id [`STATE_PROTOCOL_ID`] (`0x500A`) carry Portal wire
//!   messages. Outbound: [`Transport::request`]. Inbound: the [`InboundRequest`] queue returned
//!   by [`Transport::start`]; each request is answered with [`InboundRequest::respond`] (dropping
//!   it sends an empty TALKRESP).
//! * **uTP** (the `utp-rs` crate) runs over TALKREQs on protocol `"utp"`, for anything that does
//!   not fit one packet. Per the Portal rule, the side that *receives* a connection id in a
//!   Content or Accept message opens the stream: [`Transport::new_connection_id`] makes an id for
//!   the message, then the sender of that id calls `utp_accept_*` and the receiver
//!   `utp_connect_*`. Every stream has a whole-transfer deadline, a size cap when reading, and
//!   counts against a cap on concurrent streams.
//! * **ENR fields**: our ENR announces the supported protocol versions and chain id in `p`
//!   ([`PortalEnrField`]); [`Transport::peer_version`] negotiates with a peer from its ENR, also
//!   understanding the older `pv` field.
//!
//! # Example
//!
//! A node answering requests, and another one asking it and fetching content over uTP:
//!
//! ```no_run
//! use portal_state::net::{enr_from_base64, Transport, TransportConfig};
//!
//! # async fn demo(secret_key: [u8; 32], bootnode: &str) -> Result<(), portal_state::net::NetError> {
//! let (transport, mut inbound) = Transport::start(TransportConfig::loopback(secret_key, 1)).await?;
//!
//! // Answer what peers ask (the overlay decodes `body()` as a Portal message).
//! tokio::spawn(async move {
//!     while let Some(request) = inbound.recv().await {
//!         let answer = request.body().to_vec();
//!         request.respond(answer);
//!     }
//! });
//!
//! // Ask a peer known from its ENR text, then read the content it streams to us.
//! let peer = enr_from_base64(bootnode)?;
//! let version = transport.peer_version(&peer)?; // how to encode messages for it
//! let response = transport.request(&peer, vec![0x04 /* FindContent ... */]).await?;
//! # let _ = (version, response);
//! let connection_id: u16 = 0x1234; // decoded from `response`, a Content message, by the overlay
//! let content = transport
//!     .utp_connect_receive(peer, connection_id, 1 << 20)
//!     .await?;
//! # let _ = content;
//! transport.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Robustness rules
//!
//! * discv5 has one event stream and drops events when its consumer lags, so the router task that
//!   reads it never waits: uTP packets go to an unbounded queue (uTP must not lose them), overlay
//!   requests to a bounded one; when that is full the request is answered empty and logged.
//! * Requests to, and from, peers whose ENR names another chain are refused.
//! * Everything that waits on a peer has a deadline, and [`Transport::shutdown`] ends every
//!   transfer and releases the UDP port before it returns.

// Without the `node` feature only the ENR records and the error type remain (the fuzz targets
// decode ENRs; nothing there opens a socket).
#[cfg(feature = "node")]
mod activity;
#[cfg(feature = "node")]
mod config;
mod error;
#[cfg(feature = "fault-injection")]
pub mod fault;
#[cfg(feature = "node")]
mod gates;
mod record;
#[cfg(feature = "node")]
mod shared;
#[cfg(feature = "node")]
mod streams;
#[cfg(feature = "node")]
mod transport;
#[cfg(feature = "node")]
mod utp;

#[cfg(feature = "node")]
pub use activity::LinkActivity;
#[cfg(feature = "node")]
pub use config::TransportConfig;
/// A node record (EIP-778) with the key types discv5 signs with: the same type as `discv5::Enr`.
pub type Enr = enr::Enr<enr::CombinedKey>;
pub use error::NetError;
pub use record::{
    enr_from_base64, enr_from_rlp, enr_to_rlp, negotiate_version, PortalEnrField, ProtocolVersion,
    ENR_KEY_P, ENR_KEY_PV, SUPPORTED_VERSIONS,
};
#[cfg(feature = "node")]
pub use transport::{InboundRequest, Transport};

/// The TALKREQ protocol id of the execution state network (`0x500A`).
pub const STATE_PROTOCOL_ID: [u8; 2] = [0x50, 0x0A];

/// The TALKREQ protocol id of the Portal beacon chain network (`0x501A`): light-client
/// objects (see [`crate::beacon::network`]). Requests on it go to the queue of
/// [`Transport::beacon_requests`].
pub const BEACON_PROTOCOL_ID: [u8; 2] = [0x50, 0x1A];

/// The TALKREQ protocol id that carries uTP packets (ASCII `"utp"`, `0x757470`).
pub const UTP_PROTOCOL_ID: &[u8] = b"utp";
