//! The overlay's tunables and what it reports: [`OverlayConfig`], [`LookupOptions`], the cost of
//! a lookup ([`LookupStats`], [`FoundContent`]), of a placement ([`PlacementReport`]), and the
//! traffic counters of the whole overlay ([`TrafficCounters`]); with the size limits every part
//! of the overlay shares.

use super::limits::PeerLimits;
use crate::proof::VerifiedContent;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

/// Largest content sent inline in a Content message; larger values go over uTP. A TALKRESP
/// must fit one discv5 packet (1280 bytes) with its headers; trin uses about the same cut.
pub const MAX_INLINE_CONTENT: usize = 1100;
/// Most ENR bytes put in one Nodes or Content(enrs) answer, for the same packet limit.
pub(super) const MAX_ENR_PAYLOAD: usize = 1000;
/// Most content-key bytes in one Offer, for the same packet limit (about 17 account keys).
pub(super) const MAX_OFFER_KEY_BYTES: usize = 1000;
/// Largest content value accepted from a peer: a storage value with two full witnesses.
pub(super) const MAX_VALUE_BYTES: usize = 2 * 32 * (4 + 1024) + 8;
/// Our client info for ping extension type 0, in the spec's four parts, made by `build.rs`:
/// `portal-state/v<version>-<short commit or "unknown">/<os>-<arch>/rustc<version>`.
pub const CLIENT_INFO: &str = env!("PORTAL_STATE_CLIENT_INFO");

/// Tunables of the overlay.
#[derive(Clone, Debug)]
pub struct OverlayConfig {
    /// Peers per k-bucket, and the size of a lookup's result set.
    pub k: usize,
    /// Requests a lookup keeps in flight.
    pub alpha: usize,
    /// Deadline of a whole lookup.
    pub lookup_timeout: Duration,
    /// Peers each new piece of content is offered onward to: the closest interested peers
    /// that are closer to it than we are.
    pub gossip_fanout: usize,
    /// Concurrent inbound offer transfers; more are answered "rate limited".
    pub max_inbound_transfers: usize,
    /// Client info sent in ping extension type 0. Default: [`CLIENT_INFO`]. It must be the
    /// spec's `name/version-commit/os-arch/language-version` (see
    /// [`crate::wire::check_client_info`]: clients such as trin drop the whole payload
    /// otherwise); anything else is sent as the empty string, the spec's privacy option.
    pub client_info: String,
    /// Rate limits, caps and the routing table's subnet cap (see [`PeerLimits`]).
    pub limits: PeerLimits,
    /// A content lookup waiting this long with no answer asks one more peer (a hedged
    /// request), up to `alpha` extra: on a lossy link a lost packet then costs this delay, not
    /// a whole request timeout. About the median answer time of a mobile link.
    pub hedge_delay: Duration,
    /// Disjoint paths of every content lookup ([`super::Overlay::find_content`]); 1 (the
    /// default) is a plain lookup. With `d` paths, sybils ground near a content id cannot stop a
    /// lookup as long as one path starts at an honest peer (S/Kademlia suggests 3 to 4); each
    /// path costs about one plain lookup's messages. 0 is taken as 1.
    pub disjoint_paths: usize,
}

impl Default for OverlayConfig {
    fn default() -> Self {
        Self {
            k: 16,
            alpha: 3,
            lookup_timeout: Duration::from_secs(20),
            gossip_fanout: 4,
            max_inbound_transfers: 32,
            client_info: CLIENT_INFO.to_string(),
            limits: PeerLimits::default(),
            hedge_delay: Duration::from_millis(400),
            disjoint_paths: 1,
        }
    }
}

/// How one content lookup runs, overriding [`OverlayConfig::disjoint_paths`]
/// ([`super::Overlay::find_content_with`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LookupOptions {
    /// Disjoint paths (1: a plain lookup). 3 to 4 is what S/Kademlia suggests for high
    /// assurance; each path costs about one plain lookup's messages.
    pub disjoint_paths: usize,
}

impl Default for LookupOptions {
    fn default() -> Self {
        LookupOptions { disjoint_paths: 1 }
    }
}

/// Counters of what a lookup cost, for benchmarks and logs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LookupStats {
    /// Overlay requests sent (FindContent or FindNodes).
    pub messages: u32,
    /// Sequential rounds: the hop at which the answer came (1 = a peer from our own table).
    pub round_trips: u32,
    /// Bytes sent in requests.
    pub bytes_sent: u64,
    /// Bytes received in answers, uTP payloads included.
    pub bytes_received: u64,
    /// Peers that answered with content that failed verification.
    pub invalid_responses: u32,
    /// Whether the content was in our own store.
    pub local: bool,
}

/// What placing content on the nodes closest to it did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlacementReport {
    /// Items to place.
    pub items: usize,
    /// Item offers made (one item to one peer), retries included.
    pub offered: usize,
    /// Item offers accepted.
    pub accepted: usize,
    /// Item offers answered "already stored": the item is there.
    pub already_stored: usize,
    /// Item offers declined for good (outside the radius, not verifiable, ...).
    pub declined: usize,
    /// Of those, declined as outside the peer's radius.
    pub outside_radius: usize,
    /// Item offers declined because the peer was busy (asked again later).
    pub busy: usize,
    /// Item offers lost to failed exchanges (no answer, failed uTP transfer).
    pub failed: usize,
    /// Distinct peers with at least one failed exchange.
    pub failed_peers: usize,
    /// Item offers made after the first round: to a busy peer again, or to the next closest
    /// peer after a refusal or a failure.
    pub retried: usize,
    /// Node lookups run to find the nodes closest to the items.
    pub lookups: usize,
    /// Items no peer took.
    pub unplaced: usize,
}

/// Content found by a lookup, verified.
#[derive(Clone, Debug)]
pub struct FoundContent {
    /// The verified content.
    pub content: VerifiedContent,
    /// What finding it cost.
    pub stats: LookupStats,
}

/// Traffic counters of the whole overlay.
#[derive(Debug, Default)]
pub struct TrafficCounters {
    /// Requests we sent.
    pub requests_sent: AtomicU64,
    /// Requests we answered.
    pub requests_received: AtomicU64,
    /// Offers we sent that the peer accepted at least in part.
    pub offers_accepted: AtomicU64,
    /// Content items we stored from offers.
    pub items_stored_from_offers: AtomicU64,
    /// Content items received that failed verification.
    pub invalid_items: AtomicU64,
    /// Items of our offers a peer declined as rate limited (codes 4 and 5).
    pub offers_rate_limited: AtomicU64,
    /// Offers that failed outright (no answer, or the uTP transfer failed).
    pub offers_failed: AtomicU64,
    /// Keys of inbound offers we declined as not verifiable: a key we cannot decode (another
    /// network's format, such as trin's 0x20-0x22) or one under a state root we do not trust.
    /// Sent as the generic decline, code 1 (see [`crate::wire::AcceptCode::on_wire`]).
    pub offered_keys_not_verifiable: AtomicU64,
    /// Requests answered with an empty TALKRESP (refusals).
    pub requests_refused: AtomicU64,
    /// Messages we sent that break the spec's rules for senders
    /// ([`crate::wire::check_outgoing`]): a bug of ours, logged as an error; tests assert 0.
    pub spec_violations: AtomicU64,
}
