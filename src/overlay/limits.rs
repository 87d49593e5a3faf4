//! Defences against hostile peers: request and offer rate limits, the per-subnet cap of the
//! routing table, and the list of peers caught lying.
//!
//! Everything here is cheap and bounded: a check is a hash-map lookup, and every map has a cap,
//! so a flood from many node ids (which cost nothing to make) costs us a fixed amount of memory.
//!
//! Addresses come from the sender's ENR. discv5 only establishes a session when the ENR's UDP
//! address is the one the handshake came from, so for a peer that talks to us the ENR's IP is
//! its real source address.

use super::table::{NodeId, RoutingTable};
use crate::net::Enr;
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A rate: `per_second` on average, bursts of up to `burst`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    /// Tokens added each second.
    pub per_second: f64,
    /// Bucket size: how many may arrive at once after a quiet spell.
    pub burst: f64,
}

impl Rate {
    /// `per_second` on average, bursts of `burst`.
    pub const fn new(per_second: f64, burst: f64) -> Self {
        Rate { per_second, burst }
    }
}

/// The routing table's cap on peers from one subnet (IPv4 /24, IPv6 /48): a cheap block of
/// addresses buys an attacker at most a few slots (seed 002, S/Kademlia; the discv5 crate's
/// `ip_limit` uses the same numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubnetCap {
    /// Most peers of one subnet in one k-bucket.
    pub per_bucket: usize,
    /// Most peers of one subnet in the whole table.
    pub per_table: usize,
}

/// The limits an overlay enforces on its peers. Defaults are documented per field.
#[derive(Clone, Debug)]
pub struct PeerLimits {
    /// Inbound TALKREQs per node id. Over it, the request is answered empty before it is even
    /// decoded. Default: 200/s, bursts of 400 (a lookup sends a peer one or two requests; a
    /// wallet resolving an eth_call may run hundreds of lookups in a second).
    pub requests_per_peer: Rate,
    /// Inbound TALKREQs per IP address, all node ids from it together (node ids are free to
    /// make; addresses are not). Default: 1,000/s, bursts of 2,000.
    pub requests_per_ip: Rate,
    /// Inbound Offers per node id. Over it, every key is answered "rate limited" without
    /// looking at the store. Default: 20/s, bursts of 100 (a bridge placing a block's worth of
    /// state sends a peer tens of offers at once).
    pub offers_per_peer: Rate,
    /// Node ids and addresses tracked by each rate limiter; when every tracked sender is
    /// active, requests from new ones are refused until some go quiet. Default: 10,000.
    pub max_tracked_senders: usize,
    /// Content lookups running at once; more wait for a slot (within the lookup deadline).
    /// Default: 64.
    pub max_concurrent_lookups: usize,
    /// Unknown requesters being pinged at once (each is pinged so it can enter the table);
    /// beyond it, newcomers are not pinged, so a flood of new ids costs no outbound traffic.
    /// Default: 64.
    pub max_pending_pings: usize,
    /// Content streams (uTP) we offer one node id at once in answer to FindContent, once
    /// streams run short (see `stream_pressure`). Each holds one of the transport's streams
    /// until the requester reads it or the uTP deadline passes, so requesters that ask and
    /// never connect would otherwise tie them all up. Over it, the request is answered empty.
    /// Default: 2.
    pub max_content_streams_per_peer: usize,
    /// Content streams we offer one IP address at once (all its node ids), once streams run
    /// short. Default: 4.
    pub max_content_streams_per_ip: usize,
    /// The per-peer and per-IP content-stream caps apply when fewer uTP streams than this are
    /// free. Without pressure everyone is served: a wallet running lookups back to back leaves
    /// streams behind (the α − 1 answers it no longer needs) and must not be refused for it.
    /// Default: 32 (half the transport's default of 64).
    pub stream_pressure: usize,
    /// Content streams (uTP) a peer may promise in a row and then not deliver before it is
    /// dropped from the table as a liar. Default: 2. Only a peer that has never delivered a
    /// stream to us counts: on a lossy link an honest peer's stream fails now and then, and
    /// that is not a lie (it counts as a failed request, like any other).
    pub max_failed_streams: u32,
    /// Peers caught lying are kept out of the routing table for this long. Default: 1 hour.
    pub ban_duration: Duration,
    /// Most banned node ids remembered (oldest forgotten first). Default: 10,000.
    pub max_banned: usize,
    /// Routing table cap per subnet; `None` for no cap. Default: 2 per bucket, 10 per table.
    pub subnet_cap: Option<SubnetCap>,
    /// Whether loopback addresses (127.0.0.0/8, ::1) are exempt from the per-IP rate limit and
    /// the subnet cap. Default: true, because local devnets and tests run every node on
    /// 127.0.0.1; a node on the internet never sees loopback peers. Tests of the limits turn it
    /// off and spread their nodes over 127.x.y.z addresses.
    pub exempt_loopback: bool,
}

impl Default for PeerLimits {
    fn default() -> Self {
        PeerLimits {
            requests_per_peer: Rate::new(200.0, 400.0),
            requests_per_ip: Rate::new(1000.0, 2000.0),
            offers_per_peer: Rate::new(20.0, 100.0),
            max_tracked_senders: 10_000,
            max_concurrent_lookups: 64,
            max_pending_pings: 64,
            max_failed_streams: 2,
            max_content_streams_per_peer: 2,
            max_content_streams_per_ip: 4,
            stream_pressure: 32,
            ban_duration: Duration::from_secs(3600),
            max_banned: 10_000,
            subnet_cap: Some(SubnetCap {
                per_bucket: 2,
                per_table: 10,
            }),
            exempt_loopback: true,
        }
    }
}

/// Counters of what the limits refused.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LimitCounters {
    /// Requests dropped by the per-peer or per-IP rate limit.
    pub requests_refused: u64,
    /// Offers answered "rate limited" by the per-peer offer limit.
    pub offers_refused: u64,
    /// Peers kept out of the routing table by the subnet cap.
    pub subnet_refusals: u64,
    /// Peers kept out of the routing table because they were caught lying.
    pub banned_refusals: u64,
    /// Peers banned.
    pub bans: u64,
    /// FindContent requests answered empty because the requester (or its address) already
    /// had its share of content streams.
    pub streams_refused: u64,
    /// Node ids the request limiter tracks now (bounded by `max_tracked_senders`).
    pub tracked_peers: usize,
    /// Addresses the request limiter tracks now (bounded by `max_tracked_senders`).
    pub tracked_ips: usize,
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Token buckets keyed by `K`, at most `cap` of them.
#[derive(Debug)]
pub(crate) struct RateLimiter<K> {
    rate: Rate,
    cap: usize,
    buckets: HashMap<K, Bucket>,
}

impl<K: std::hash::Hash + Eq + Copy> RateLimiter<K> {
    pub(crate) fn new(rate: Rate, cap: usize) -> Self {
        RateLimiter {
            rate,
            cap,
            buckets: HashMap::new(),
        }
    }

    /// Takes one token for `key`; false when it has none left (the request is over the limit).
    pub(crate) fn allow(&mut self, key: K, now: Instant) -> bool {
        let rate = self.rate;
        let refill = |b: &mut Bucket| {
            let elapsed = now.saturating_duration_since(b.updated).as_secs_f64();
            b.tokens = (b.tokens + elapsed * rate.per_second).min(rate.burst);
            b.updated = now;
        };
        if !self.buckets.contains_key(&key) && self.buckets.len() >= self.cap {
            // A full bucket says nothing a fresh one would not: forget those first.
            self.buckets.retain(|_, b| {
                refill(b);
                b.tokens < rate.burst
            });
            if self.buckets.len() >= self.cap {
                return false;
            }
        }
        let bucket = self.buckets.entry(key).or_insert(Bucket {
            tokens: rate.burst,
            updated: now,
        });
        refill(bucket);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Senders tracked right now.
    pub(crate) fn tracked(&self) -> usize {
        self.buckets.len()
    }
}

/// The subnet of an address: its /24 (IPv4) or /48 (IPv6) prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Subnet {
    /// The first three bytes of an IPv4 address.
    V4([u8; 3]),
    /// The first six bytes of an IPv6 address.
    V6([u8; 6]),
}

/// The IP a peer's ENR advertises (IPv4 first).
pub fn enr_ip(enr: &Enr) -> Option<IpAddr> {
    enr.ip4()
        .map(IpAddr::V4)
        .or_else(|| enr.ip6().map(IpAddr::V6))
}

/// The subnet of `ip`.
pub fn subnet_of(ip: IpAddr) -> Subnet {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            Subnet::V4([o[0], o[1], o[2]])
        }
        IpAddr::V6(v6) => {
            let o = v6.octets();
            Subnet::V6([o[0], o[1], o[2], o[3], o[4], o[5]])
        }
    }
}

/// Content streams being sent: per node id, and per address (`None`: unknown address).
type Sending = (HashMap<NodeId, usize>, HashMap<Option<IpAddr>, usize>);

/// The enforcement state of [`PeerLimits`] for one overlay.
#[derive(Debug)]
pub(crate) struct Guard {
    limits: PeerLimits,
    per_peer: Mutex<RateLimiter<NodeId>>,
    /// `None` stands for senders whose address we do not know: they share one bucket.
    per_ip: Mutex<RateLimiter<Option<IpAddr>>>,
    offers: Mutex<RateLimiter<NodeId>>,
    banned: Mutex<(HashMap<NodeId, Instant>, VecDeque<NodeId>)>,
    /// Content streams being sent, per node id and per address.
    sending: Mutex<Sending>,
    /// Streams promised and not delivered in a row, per peer (bounded like the limiters).
    failed_streams: Mutex<HashMap<NodeId, u32>>,
    /// Peers that have delivered at least one content stream (bounded by
    /// `max_tracked_senders`).
    delivered_streams: Mutex<HashSet<NodeId>>,
    counters: Mutex<LimitCounters>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Guard {
    pub(crate) fn new(limits: PeerLimits) -> Self {
        let cap = limits.max_tracked_senders;
        Guard {
            per_peer: Mutex::new(RateLimiter::new(limits.requests_per_peer, cap)),
            per_ip: Mutex::new(RateLimiter::new(limits.requests_per_ip, cap)),
            offers: Mutex::new(RateLimiter::new(limits.offers_per_peer, cap)),
            banned: Mutex::new((HashMap::new(), VecDeque::new())),
            failed_streams: Mutex::new(HashMap::new()),
            delivered_streams: Mutex::new(HashSet::new()),
            sending: Mutex::new((HashMap::new(), HashMap::new())),
            counters: Mutex::new(LimitCounters::default()),
            limits,
        }
    }

    pub(crate) fn limits(&self) -> &PeerLimits {
        &self.limits
    }

    fn exempt(&self, ip: Option<IpAddr>) -> bool {
        self.limits.exempt_loopback && ip.is_some_and(|ip| ip.is_loopback())
    }

    /// Whether an inbound request from `peer` may be served: both its node id and its address
    /// have a token left.
    pub(crate) fn allow_request(&self, peer: NodeId, enr: Option<&Enr>) -> bool {
        let now = Instant::now();
        let ip = enr.and_then(enr_ip);
        let ok = lock(&self.per_peer).allow(peer, now)
            && (self.exempt(ip) || lock(&self.per_ip).allow(ip, now));
        if !ok {
            tracing::trace!(?peer, ?ip, "request over the rate limit");
            lock(&self.counters).requests_refused += 1;
        }
        ok
    }

    /// Whether an Offer from `peer` may be considered.
    pub(crate) fn allow_offer(&self, peer: NodeId) -> bool {
        let ok = lock(&self.offers).allow(peer, Instant::now());
        if !ok {
            tracing::trace!(?peer, "offer over the rate limit");
            lock(&self.counters).offers_refused += 1;
        }
        ok
    }

    /// Keep `peer` out of the table for the ban duration.
    pub(crate) fn ban(&self, peer: NodeId) {
        let mut guard = lock(&self.banned);
        let (until, order) = &mut *guard;
        if until
            .insert(peer, Instant::now() + self.limits.ban_duration)
            .is_none()
        {
            order.push_back(peer);
            while order.len() > self.limits.max_banned {
                if let Some(old) = order.pop_front() {
                    until.remove(&old);
                }
            }
        }
        lock(&self.counters).bans += 1;
    }

    /// Reserves a content stream to `peer`; false when streams are short (fewer than
    /// `stream_pressure` of them `free`) and it or its address has its share already.
    /// Every `true` must be followed by [`Guard::end_send`].
    pub(crate) fn begin_send(&self, peer: NodeId, enr: &Enr, free: usize) -> bool {
        let ip = enr_ip(enr);
        let mut guard = lock(&self.sending);
        let (per_peer, per_ip) = &mut *guard;
        let by_peer = per_peer.get(&peer).copied().unwrap_or(0);
        let by_ip = per_ip.get(&ip).copied().unwrap_or(0);
        let ip_ok = self.exempt(ip) || by_ip < self.limits.max_content_streams_per_ip;
        let pressure = free < self.limits.stream_pressure;
        if pressure && (by_peer >= self.limits.max_content_streams_per_peer || !ip_ok) {
            tracing::trace!(?peer, ?ip, "too many content streams");
            lock(&self.counters).streams_refused += 1;
            return false;
        }
        *per_peer.entry(peer).or_insert(0) += 1;
        *per_ip.entry(ip).or_insert(0) += 1;
        true
    }

    /// A content stream reserved with [`Guard::begin_send`] ended.
    pub(crate) fn end_send(&self, peer: NodeId, enr: &Enr) {
        let ip = enr_ip(enr);
        let mut guard = lock(&self.sending);
        let (per_peer, per_ip) = &mut *guard;
        if let Some(count) = per_peer.get_mut(&peer) {
            *count = count.saturating_sub(1);
        }
        per_peer.retain(|_, c| *c > 0);
        if let Some(count) = per_ip.get_mut(&ip) {
            *count = count.saturating_sub(1);
        }
        per_ip.retain(|_, c| *c > 0);
    }

    /// A content stream `peer` promised failed; true when that makes too many in a row.
    pub(crate) fn stream_failed(&self, peer: NodeId) -> bool {
        if lock(&self.delivered_streams).contains(&peer) {
            return false;
        }
        let mut failed = lock(&self.failed_streams);
        if !failed.contains_key(&peer) && failed.len() >= self.limits.max_tracked_senders {
            failed.clear(); // forgetting costs a liar's count, never an honest peer's place
        }
        let count = failed.entry(peer).or_insert(0);
        *count += 1;
        if *count >= self.limits.max_failed_streams {
            failed.remove(&peer);
            return true;
        }
        false
    }

    /// A content stream from `peer` arrived.
    pub(crate) fn stream_delivered(&self, peer: NodeId) {
        lock(&self.failed_streams).remove(&peer);
        let mut delivered = lock(&self.delivered_streams);
        if delivered.len() >= self.limits.max_tracked_senders {
            delivered.clear(); // forgetting only makes a peer prove itself again
        }
        delivered.insert(peer);
    }

    /// Whether `peer` is banned now.
    pub(crate) fn is_banned(&self, peer: NodeId) -> bool {
        lock(&self.banned)
            .0
            .get(&peer)
            .is_some_and(|until| Instant::now() < *until)
    }

    /// Whether `enr` may enter `table`: not banned, and (if new) its subnet below the cap.
    pub(crate) fn may_enter(&self, table: &RoutingTable<Enr>, id: NodeId, enr: &Enr) -> bool {
        if self.is_banned(id) {
            lock(&self.counters).banned_refusals += 1;
            return false;
        }
        if table.get(id).is_some() {
            return true; // a refresh of a peer already in
        }
        let (Some(cap), Some(ip)) = (self.limits.subnet_cap, enr_ip(enr)) else {
            return true;
        };
        if self.exempt(Some(ip)) {
            return true;
        }
        let subnet = subnet_of(ip);
        let bucket = table.local_id().log2_distance(id);
        let (mut in_table, mut in_bucket) = (0, 0);
        for e in table.entries() {
            if enr_ip(&e.peer).map(subnet_of) == Some(subnet) {
                in_table += 1;
                if table.local_id().log2_distance(e.node_id) == bucket {
                    in_bucket += 1;
                }
            }
        }
        let ok = in_table < cap.per_table && in_bucket < cap.per_bucket;
        if !ok {
            tracing::trace!(?id, ?subnet, "subnet full");
            lock(&self.counters).subnet_refusals += 1;
        }
        ok
    }

    pub(crate) fn counters(&self) -> LimitCounters {
        LimitCounters {
            tracked_peers: lock(&self.per_peer).tracked(),
            tracked_ips: lock(&self.per_ip).tracked(),
            ..*lock(&self.counters)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::B256;

    #[test]
    fn token_bucket_allows_bursts_then_the_rate() {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::new(Rate::new(10.0, 5.0), 100);
        let key = NodeId(B256::repeat_byte(1));
        let allowed = (0..20).filter(|_| limiter.allow(key, t0)).count();
        assert_eq!(allowed, 5, "the burst");
        // 0.5 s later: five more tokens.
        let t1 = t0 + Duration::from_millis(500);
        let allowed = (0..20).filter(|_| limiter.allow(key, t1)).count();
        assert_eq!(allowed, 5);
        // Another sender has its own bucket.
        assert!(limiter.allow(NodeId(B256::repeat_byte(2)), t1));
    }

    #[test]
    fn tracked_senders_are_bounded() {
        let t0 = Instant::now();
        let mut limiter = RateLimiter::new(Rate::new(1.0, 2.0), 10);
        for i in 0..10u8 {
            assert!(limiter.allow(NodeId(B256::repeat_byte(i)), t0));
        }
        // All ten are active (below a full bucket): an eleventh is refused, not tracked.
        assert!(!limiter.allow(NodeId(B256::repeat_byte(99)), t0));
        assert_eq!(limiter.tracked(), 10);
        // Once the others refill, they are forgotten and the newcomer gets in.
        let later = t0 + Duration::from_secs(5);
        assert!(limiter.allow(NodeId(B256::repeat_byte(99)), later));
        assert_eq!(limiter.tracked(), 1);
    }

    #[test]
    fn only_peers_that_never_delivered_a_stream_are_called_liars_for_silence() {
        let guard = Guard::new(PeerLimits::default());
        let silent = NodeId(B256::repeat_byte(1));
        assert!(!guard.stream_failed(silent));
        assert!(guard.stream_failed(silent), "two silent streams in a row");
        // A peer that delivered once loses a stream now and then on a lossy link: no lie.
        let lossy = NodeId(B256::repeat_byte(2));
        guard.stream_delivered(lossy);
        assert!((0..10).all(|_| !guard.stream_failed(lossy)));
    }

    #[test]
    fn subnets() {
        let a: IpAddr = "10.1.2.3".parse().unwrap();
        let b: IpAddr = "10.1.2.200".parse().unwrap();
        let c: IpAddr = "10.1.3.3".parse().unwrap();
        assert_eq!(subnet_of(a), subnet_of(b));
        assert_ne!(subnet_of(a), subnet_of(c));
    }
}
