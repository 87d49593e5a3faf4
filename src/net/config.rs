//! How a [`super::Transport`] is set up.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

/// Longest a uTP stream may go without hearing from the peer; shorter when the whole transfer
/// has a shorter deadline, so that an abandoned stream is reaped soon after its caller gave up.
pub(crate) const MAX_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings for [`super::Transport::start`].
#[derive(Clone)]
pub struct TransportConfig {
    /// The UDP address to bind, e.g. `127.0.0.1:0` (port 0 picks a free port; the ENR then
    /// carries the port actually bound).
    pub bind: SocketAddr,
    /// The address advertised in our ENR. `None` advertises the bound address, which must then
    /// be a specific IP (binding `0.0.0.0` with no external address is an error: peers could not
    /// reach "0.0.0.0"). A port of 0 here means "the bound port". When set, discv5 is told not to
    /// rewrite the ENR's address from what peers observe.
    pub external: Option<SocketAddr>,
    /// The node's secp256k1 secret key. The caller persists it, so a restarted node keeps its
    /// node id (and with it its place in the DHT).
    pub secret_key: [u8; 32],
    /// The chain this node serves, announced in the ENR field `p`; peers on other chains are
    /// refused.
    pub chain_id: u64,
    /// Deadline for one TALKREQ round trip (including a handshake if there is no session yet).
    pub request_timeout: Duration,
    /// Deadline for one whole uTP transfer: connecting or accepting, moving the data, closing.
    pub utp_timeout: Duration,
    /// Most uTP streams open at once, inbound and outbound together. Beyond it, uTP calls fail
    /// at once with [`super::NetError::TooManyStreams`] instead of queueing.
    pub max_utp_streams: usize,
    /// With an `external` address set: treat it as a first guess only, and let discv5 replace
    /// it with the address its peers observe (reported through
    /// [`super::LinkActivity::observed_address`]). A phone behind a NAT wants this; a server
    /// with a known public address does not.
    pub follow_observed_address: bool,
    /// The lowest sequence number our ENR starts at. A node whose address changed since its
    /// last run must start above the record peers hold, or they keep the old one.
    pub min_enr_seq: u64,
}

impl TransportConfig {
    /// Default TALKREQ deadline: trin's per-peer timeout in lookups.
    pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
    /// Default whole-transfer deadline for a uTP stream.
    pub const DEFAULT_UTP_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default cap on concurrent uTP streams.
    pub const DEFAULT_MAX_UTP_STREAMS: usize = 64;

    /// A node on `127.0.0.1` with a port picked by the OS and default timeouts and limits: what
    /// tests and local devnets use.
    pub fn loopback(secret_key: [u8; 32], chain_id: u64) -> Self {
        TransportConfig {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            external: None,
            secret_key,
            chain_id,
            request_timeout: Self::DEFAULT_REQUEST_TIMEOUT,
            utp_timeout: Self::DEFAULT_UTP_TIMEOUT,
            max_utp_streams: Self::DEFAULT_MAX_UTP_STREAMS,
            follow_observed_address: false,
            min_enr_seq: 1,
        }
    }
}

// Hand-written so that the secret key never ends up in a log line.
impl std::fmt::Debug for TransportConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransportConfig")
            .field("bind", &self.bind)
            .field("external", &self.external)
            .field("secret_key", &"<redacted>")
            .field("chain_id", &self.chain_id)
            .field("request_timeout", &self.request_timeout)
            .field("utp_timeout", &self.utp_timeout)
            .field("max_utp_streams", &self.max_utp_streams)
            .field("follow_observed_address", &self.follow_observed_address)
            .field("min_enr_seq", &self.min_enr_seq)
            .finish()
    }
}
