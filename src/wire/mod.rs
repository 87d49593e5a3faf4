//! The Portal wire protocol: message encoding and decoding, nothing else.
//!
//! Every message is one selector byte followed by an SSZ container
//! (`specs/portal-network-specs/portal-wire-protocol.md`). This module turns TALKREQ/TALKRESP
//! payloads into typed [`Message`]s and back, and enforces the spec's limits while decoding, so
//! the layers above never see an over-long list, an out-of-range distance or a truncated field.
//! It also owns the two other byte formats that arrive from peers outside the content layer:
//! ping extension payloads ([`PingExtension`]) and the LEB128 framing of items sent over uTP
//! ([`framing`]). [`check_outgoing`] holds what we send to the stricter rules for senders, so
//! that every client in the field parses it.
//!
//! ENRs are carried as raw RLP bytes here; parsing them is the transport's job.

mod conformance;
pub mod framing;
mod message;
mod ping;

/// The protocol version is an ENR field, owned by [`crate::net`]; messages are encoded per version.
pub use crate::net::ProtocolVersion;
pub use conformance::{
    check_client_info, check_outgoing, SpecViolation, MAX_SENT_ACCEPT_CODE, MAX_TALK_PAYLOAD_BYTES,
};
pub use message::{
    Accept, AcceptCode, Content, FindContent, FindNodes, Message, Nodes, Offer, Ping, PingPayload,
    Pong, MAX_CONTENT_KEYS_PER_OFFER, MAX_ENRS, MAX_ENR_BYTES, MAX_INLINE_CONTENT_BYTES,
    MAX_KEY_BYTES, MAX_PING_PAYLOAD_BYTES,
};
pub use ping::{PingError, PingExtension, MAX_CLIENT_INFO_BYTES};

/// Why bytes from a peer are not a valid wire message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// No bytes at all: not even a selector.
    #[error("empty message")]
    Empty,
    /// The selector byte names no message of the wire protocol.
    #[error("unknown message selector 0x{0:02x}")]
    UnknownSelector(u8),
    /// The `Content` union selector is not 0, 1 or 2.
    #[error("unknown content union selector 0x{0:02x}")]
    UnknownContentSelector(u8),
    /// The bytes after the selector are not the SSZ container of that message.
    #[error("malformed {message}: {detail}")]
    Malformed {
        /// The message being decoded.
        message: &'static str,
        /// What the SSZ decoder found wrong.
        detail: String,
    },
    /// A list or byte list is longer than the spec allows.
    #[error("{field} has {len} entries, at most {max} allowed")]
    OverLimit {
        /// The field that is too long.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The spec's limit.
        max: usize,
    },
    /// A FindNodes distance is above 256 or repeated.
    #[error("invalid FindNodes distances: {0}")]
    InvalidDistances(String),
    /// A ping extension payload does not decode as its type says.
    #[error("invalid ping extension payload: {0}")]
    InvalidPingPayload(String),
    /// A uTP stream's LEB128-framed items are truncated, over-long or too many.
    #[error("invalid uTP framing: {0}")]
    InvalidFraming(String),
}

impl WireError {
    pub(crate) fn malformed(message: &'static str, e: ssz::DecodeError) -> Self {
        WireError::Malformed {
            message,
            detail: format!("{e:?}"),
        }
    }
}
