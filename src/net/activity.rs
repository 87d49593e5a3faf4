//! What the transport has heard on its link: answers to our requests, requests nobody asked
//! for, failures, and the address peers observe us at. The link's health is judged from these
//! (see `crate::overlay::link`).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Counters and timestamps of one transport's traffic. Cheap to update from any task.
#[derive(Debug)]
pub struct LinkActivity {
    origin: Instant,
    /// Milliseconds since `origin` of the last answer to one of our requests (0 = never).
    last_response_ms: AtomicU64,
    /// Milliseconds since `origin` of the last request a peer sent us (0 = never).
    last_unsolicited_ms: AtomicU64,
    responses: AtomicU64,
    failures: AtomicU64,
    unsolicited: AtomicU64,
    observed: watch::Sender<Option<SocketAddr>>,
    /// Peers we sent requests to: their requests pass any NAT (it saw us send to them
    /// first), so they prove nothing about reachability.
    contacted: Mutex<HashSet<[u8; 32]>>,
}

/// Peers remembered as contacted; beyond this the set starts over (a few requests then count
/// as unsolicited although they were not: harmless, it only keeps a node a storage peer).
const CONTACTED_CAPACITY: usize = 4096;

impl Default for LinkActivity {
    fn default() -> Self {
        Self {
            origin: Instant::now(),
            last_response_ms: AtomicU64::new(0),
            last_unsolicited_ms: AtomicU64::new(0),
            responses: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            unsolicited: AtomicU64::new(0),
            observed: watch::channel(None).0,
            contacted: Mutex::new(HashSet::new()),
        }
    }
}

impl LinkActivity {
    fn stamp(&self) -> u64 {
        // +1 so that a stamp taken in the first millisecond is not "never".
        self.origin.elapsed().as_millis() as u64 + 1
    }

    fn since(&self, stamp: u64) -> Option<Duration> {
        (stamp != 0).then(|| {
            self.origin
                .elapsed()
                .saturating_sub(Duration::from_millis(stamp - 1))
        })
    }

    /// A peer answered one of our requests.
    pub(crate) fn response(&self) {
        self.responses.fetch_add(1, Ordering::Relaxed);
        self.last_response_ms.store(self.stamp(), Ordering::Relaxed);
    }

    /// One of our requests got no answer.
    pub(crate) fn failure(&self) {
        self.failures.fetch_add(1, Ordering::Relaxed);
    }

    /// We are sending a request to `peer`.
    pub(crate) fn contacting(&self, peer: [u8; 32]) {
        let mut contacted = self.contacted.lock().unwrap_or_else(|e| e.into_inner());
        if contacted.len() >= CONTACTED_CAPACITY {
            contacted.clear();
        }
        contacted.insert(peer);
    }

    /// `peer` sent us a request. From a peer we never contacted, it proves that our address
    /// is reachable from outside.
    pub(crate) fn inbound(&self, peer: [u8; 32]) {
        let known = self
            .contacted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&peer);
        if !known {
            self.unsolicited();
        }
    }

    fn unsolicited(&self) {
        self.unsolicited.fetch_add(1, Ordering::Relaxed);
        self.last_unsolicited_ms
            .store(self.stamp(), Ordering::Relaxed);
    }

    /// discv5's peers agree on a new external address for us.
    pub(crate) fn observed(&self, addr: SocketAddr) {
        self.observed.send_replace(Some(addr));
    }

    /// How long ago a peer last answered us; `None` if none ever did.
    pub fn since_last_response(&self) -> Option<Duration> {
        self.since(self.last_response_ms.load(Ordering::Relaxed))
    }

    /// How long ago a peer last sent us a request; `None` if none ever did.
    pub fn since_last_unsolicited(&self) -> Option<Duration> {
        self.since(self.last_unsolicited_ms.load(Ordering::Relaxed))
    }

    /// Answers received to our requests.
    pub fn responses(&self) -> u64 {
        self.responses.load(Ordering::Relaxed)
    }

    /// Requests of ours that failed (timed out or could not be sent).
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Requests from peers we had never contacted.
    pub fn unsolicited_requests(&self) -> u64 {
        self.unsolicited.load(Ordering::Relaxed)
    }

    /// The external address discv5's peers last agreed on (only when the transport follows
    /// observed addresses, see [`super::TransportConfig::external`]); changes are a sign that
    /// the network under us changed.
    pub fn observed_address(&self) -> watch::Receiver<Option<SocketAddr>> {
        self.observed.subscribe()
    }
}
