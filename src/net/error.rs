//! The transport's error type.

use std::net::SocketAddr;

/// What can go wrong in the transport.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetError {
    /// The UDP socket could not be set up at this address (in use, not local, or an unspecified
    /// IP with no external address to advertise).
    #[error("cannot bind {addr}: {reason}")]
    Bind {
        /// The address we tried to use.
        addr: SocketAddr,
        /// Why it failed.
        reason: String,
    },
    /// Discovery v5 failed to start or refused a request for a reason other than a timeout.
    #[error("discv5: {0}")]
    Discv5(String),
    /// The peer did not answer in time (a TALKREQ past `request_timeout`, or a uTP transfer
    /// past `utp_timeout`).
    #[error("timed out")]
    Timeout,
    /// The peer cannot be contacted: its ENR has no usable address, or it is ourselves.
    #[error("peer unreachable: {0}")]
    Unreachable(String),
    /// The peer's ENR says it serves another chain; nothing was sent.
    #[error("peer is on chain {theirs}, we are on chain {ours}")]
    WrongChain {
        /// Our chain id.
        ours: u64,
        /// The chain id in the peer's ENR.
        theirs: u64,
    },
    /// The peer announces no protocol version we speak.
    #[error("no protocol version in common with the peer")]
    NoCommonVersion,
    /// A uTP stream failed (reset, refused, or broken mid-transfer).
    #[error("uTP: {0}")]
    Utp(String),
    /// The peer sent more than the caller allowed; the transfer was abandoned.
    #[error("peer sent more than {max} bytes")]
    TooLarge {
        /// The limit that was passed.
        max: usize,
    },
    /// `max_utp_streams` streams are already open; try later.
    #[error("too many uTP streams open")]
    TooManyStreams,
    /// The transport was shut down.
    #[error("transport shut down")]
    Shutdown,
    /// An ENR could not be parsed or lacks what we need; for our own ENR, it could not be built
    /// (for instance, the secret key is not a valid secp256k1 key).
    #[error("invalid ENR: {0}")]
    InvalidEnr(String),
}
