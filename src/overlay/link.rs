//! The node's own link to the network, as a phone sees it: it changes address, sits behind
//! NATs that forget idle mappings, loses packets, and sleeps in the background.
//!
//! [`Link`] owns what keeps the overlay usable on such a link:
//!
//! * **recovery** ([`Link::recover`]): after an address change (the app says so, peers observe
//!   a new address, or no peer has answered for [`LinkConfig::silence_window`] while requests
//!   fail) the ENR is updated to the new address (its sequence number goes up), every cached
//!   peer — routing table, stale ones included, and the peers kept in the store — is pinged in
//!   parallel, and the table is refilled with lookups; the bootnodes are asked only when no
//!   cached peer answers;
//! * **keep-alive**: when idle, a Ping every [`LinkConfig::keepalive_interval`] to a few peers
//!   keeps the NAT's mappings to them open;
//! * **reachability**: a node that no peer it never contacted has sent a request to within
//!   [`LinkConfig::reachability_grace`] is not reachable from outside; it then serves as a
//!   client only (radius 0 announced), until a peer does reach it;
//! * **pause / resume**: paused, no timer runs and nothing is sent; resuming re-pings the cached
//!   peers in parallel and returns once one answers;
//! * **queries that survive it all** ([`Link::find_content`]): a lookup that finds nothing is
//!   tried again with exponential backoff (after a recovery when the link looks down), so a
//!   lossy or moving link costs latency, not failures.
//!
//! It reads the link's state from the transport ([`crate::net::LinkActivity`]) and acts through
//! the [`Overlay`].

use super::service::{node_id_of, Overlay};
use super::table::NodeId;
use super::FoundContent;
use super::OverlayError;
use crate::content::ContentKey;
use crate::net::Enr;
use alloy_primitives::B256;
use futures::stream::{FuturesUnordered, StreamExt};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Tunables of the link upkeep. Every interval is configurable so that tests can run a
/// shortened clock honestly (the same code paths, scaled times).
#[derive(Clone, Debug)]
pub struct LinkConfig {
    /// An idle node pings [`LinkConfig::keepalive_peers`] peers this often, so that NAT
    /// mappings to them stay open. Carrier NATs drop idle UDP mappings after 30 s or more;
    /// the default stays under that.
    pub keepalive_interval: Duration,
    /// Peers each keep-alive round pings, taken in turn. One is enough to keep the NAT's
    /// public port (NATs with endpoint-independent mapping, the common kind, keep one port for
    /// every destination while any mapping lives); more keep more per-peer sessions warm.
    pub keepalive_peers: usize,
    /// No answer from any peer for this long, while requests fail: the link is down, recover.
    pub silence_window: Duration,
    /// No request from a peer we never contacted within this long after start (through a NAT
    /// only answers and requests of peers we contacted pass): not reachable from outside, so
    /// serve as a client only.
    pub reachability_grace: Duration,
    /// Attempts of one content lookup before it fails.
    pub query_attempts: u32,
    /// Pause before the second attempt; doubled for each further one.
    pub retry_backoff: Duration,
    /// How long [`Link::resume`] waits for a first cached peer to answer.
    pub resume_wait: Duration,
}

impl Default for LinkConfig {
    fn default() -> Self {
        Self {
            keepalive_interval: Duration::from_secs(25),
            keepalive_peers: 1,
            silence_window: Duration::from_secs(6),
            reachability_grace: Duration::from_secs(300),
            query_attempts: 4,
            retry_backoff: Duration::from_millis(250),
            resume_wait: Duration::from_secs(1),
        }
    }
}

/// Where the node is now: asked again at each recovery, so that the ENR follows the device to
/// a new address. `None` keeps the ENR's address.
pub type Locate = Arc<dyn Fn() -> Option<SocketAddr> + Send + Sync>;

/// A snapshot of the link's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkStatus {
    /// Paused by the app (background).
    pub paused: bool,
    /// Whether some peer has sent us a request (`false` until one does): a node nobody
    /// reaches serves as a client only once the grace period is over.
    pub reachable: bool,
    /// Whether the node announces radius 0 (client only).
    pub client_only: bool,
    /// Recoveries run so far (address changes, silences, app calls).
    pub recoveries: u64,
    /// Keep-alive pings sent so far.
    pub keepalive_pings: u64,
}

/// Why a recovery runs (logged).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecoveryReason {
    /// The app said the network changed (its connectivity callback).
    AppSaid,
    /// Peers observe us at a new address.
    ObservedAddress,
    /// No peer answered for the silence window while requests failed.
    Silence,
    /// The app brought the node back to the foreground.
    Resume,
}

struct State {
    overlay: Overlay,
    config: LinkConfig,
    bootnodes: Vec<Enr>,
    locate: Mutex<Option<Locate>>,
    /// What `locate` said last: the ENR changes only when that does (it may carry a better,
    /// observed, address meanwhile).
    located: Mutex<Option<SocketAddr>>,
    started: Instant,
    paused: watch::Sender<bool>,
    /// One recovery at a time; callers arriving meanwhile wait for it instead of starting
    /// another one.
    recovery: tokio::sync::Mutex<()>,
    recoveries: AtomicU64,
    /// Cached peers that answered in the last recovery.
    last_alive: AtomicU64,
    keepalive_pings: AtomicU64,
    /// Keep-alive pings go to these peers in turn.
    keepalive_cursor: AtomicU64,
    /// When the last recovery ended: no new one for silence just after.
    last_recovery: Mutex<Option<Instant>>,
    stopped: AtomicBool,
}

/// The link upkeep of one node: recovery, keep-alive, reachability, pause/resume and retried
/// lookups, tuned by [`LinkConfig`]. Cheap to clone.
#[derive(Clone)]
pub struct Link {
    state: Arc<State>,
}

impl Link {
    /// The link upkeep of `overlay`, joining through `bootnodes` when no cached peer answers.
    pub fn new(overlay: Overlay, config: LinkConfig, bootnodes: Vec<Enr>) -> Self {
        Self {
            state: Arc::new(State {
                overlay,
                config,
                bootnodes,
                locate: Mutex::new(None),
                located: Mutex::new(None),
                started: Instant::now(),
                paused: watch::channel(false).0,
                recovery: tokio::sync::Mutex::new(()),
                recoveries: AtomicU64::new(0),
                last_alive: AtomicU64::new(0),
                keepalive_pings: AtomicU64::new(0),
                keepalive_cursor: AtomicU64::new(0),
                last_recovery: Mutex::new(None),
                stopped: AtomicBool::new(false),
            }),
        }
    }

    /// How recoveries find the node's current address (see [`Locate`]); without it the ENR
    /// keeps its address.
    pub fn set_locate(&self, locate: Locate) {
        *self.state.located.lock().unwrap_or_else(|e| e.into_inner()) = locate();
        *self.state.locate.lock().unwrap_or_else(|e| e.into_inner()) = Some(locate);
    }

    /// The settings.
    pub fn config(&self) -> &LinkConfig {
        &self.state.config
    }

    /// A snapshot of the link.
    pub fn status(&self) -> LinkStatus {
        let overlay = &self.state.overlay;
        LinkStatus {
            paused: self.is_paused(),
            reachable: overlay.transport().activity().unsolicited_requests() > 0,
            client_only: overlay.is_client_only(),
            recoveries: self.state.recoveries.load(Ordering::Relaxed),
            keepalive_pings: self.state.keepalive_pings.load(Ordering::Relaxed),
        }
    }

    /// Whether the app paused the node.
    pub fn is_paused(&self) -> bool {
        *self.state.paused.borrow()
    }

    /// Stop every timer and every keep-alive (the app goes to the background). Queries still
    /// run if asked.
    pub fn pause(&self) {
        self.state.paused.send_replace(true);
        tracing::info!("link paused");
    }

    /// Back to the foreground: timers run again, and the cached peers are pinged in parallel;
    /// returns once the first one answers (or after [`LinkConfig::resume_wait`]), the others
    /// answering in the background. Returns whether a peer answered in time. Never starts from
    /// the bootnodes unless no cached peer answers at all.
    pub async fn resume(&self) -> bool {
        self.state.paused.send_replace(false);
        tracing::info!("link resumed");
        let link = self.clone();
        let (first, mut answered) = watch::channel(false);
        let pings = tokio::spawn(async move {
            let _guard = link.state.recovery.lock().await;
            link.state.recoveries.fetch_add(1, Ordering::Relaxed);
            let alive = link.ping_cached(Some(first)).await;
            link.state.last_alive.store(alive as u64, Ordering::Relaxed);
            if alive == 0 {
                link.rejoin(RecoveryReason::Resume).await;
            }
            link.recovered();
        });
        let waited = tokio::time::timeout(
            self.state.config.resume_wait,
            answered.wait_for(|answered| *answered),
        )
        .await;
        drop(pings); // runs on
        matches!(waited, Ok(Ok(_)))
    }

    /// The network under us changed (or may have): follow our address in the ENR, ping every
    /// cached peer again, and refill the table. Returns how many cached peers answered. One
    /// recovery runs at a time; a caller arriving during one waits for it and gets its result.
    pub async fn recover(&self, reason: RecoveryReason) -> usize {
        let Ok(_guard) = self.state.recovery.try_lock() else {
            let _waited = self.state.recovery.lock().await;
            return self.state.last_alive.load(Ordering::Relaxed) as usize;
        };
        self.state.recoveries.fetch_add(1, Ordering::Relaxed);
        let began = Instant::now();
        tracing::info!(?reason, "recovering the link");
        self.follow_address();
        let alive = self.ping_cached(None).await;
        self.state.last_alive.store(alive as u64, Ordering::Relaxed);
        self.rejoin(reason).await;
        self.recovered();
        tracing::info!(
            ?reason,
            alive,
            ms = began.elapsed().as_millis() as u64,
            "link recovered"
        );
        alive
    }

    fn recovered(&self) {
        *self
            .state
            .last_recovery
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    }

    /// Put our current address into the ENR (sequence number bumped) if the device's address
    /// moved since it was last looked at.
    fn follow_address(&self) {
        let locate = self
            .state
            .locate
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let Some(locate) = locate else {
            return;
        };
        let Some(now) = locate() else {
            return;
        };
        let before = self
            .state
            .located
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .replace(now);
        if before == Some(now) {
            return;
        }
        let transport = self.state.overlay.transport();
        let mut addr = now;
        if addr.port() == 0 {
            addr.set_port(transport.local_addr().port());
        }
        if transport.set_advertised_addr(addr) {
            tracing::info!(%addr, seq = transport.local_enr().seq(), "ENR follows our new address");
        }
    }

    /// Ping every cached peer in parallel: the routing table (stale peers too) and the peers
    /// kept in the store. `first` is told when the first one answers. Returns how many did.
    async fn ping_cached(&self, first: Option<watch::Sender<bool>>) -> usize {
        let overlay = &self.state.overlay;
        let mut seen: HashSet<NodeId> = HashSet::new();
        let mut peers: Vec<Enr> = overlay.with_table(|t| {
            t.entries()
                .map(|e| {
                    seen.insert(e.node_id);
                    e.peer.clone()
                })
                .collect()
        });
        let stored = overlay
            .with_store(|s| s.peers(256))
            .ok()
            .and_then(|r| r.ok())
            .unwrap_or_default();
        for peer in stored {
            if let Ok(enr) = crate::net::enr_from_base64(&peer.enr) {
                if seen.insert(node_id_of(&enr)) {
                    peers.push(enr);
                }
            }
        }
        let mut pings: FuturesUnordered<_> = peers.iter().map(|p| overlay.ping(p)).collect();
        let mut alive = 0;
        while let Some(result) = pings.next().await {
            if result.is_ok() {
                alive += 1;
                if let Some(first) = &first {
                    first.send_replace(true);
                }
            }
        }
        alive
    }

    /// Refill the routing table: lookups of our own id and one random id from the peers that
    /// answered, or the bootnodes first when none did.
    async fn rejoin(&self, reason: RecoveryReason) {
        let overlay = &self.state.overlay;
        if overlay.with_table(|t| t.connected().count()) == 0 {
            tracing::info!(
                ?reason,
                "no cached peer answered; joining through the bootnodes"
            );
            overlay.bootstrap(&self.state.bootnodes).await;
            return;
        }
        overlay.lookup_nodes(overlay.local_id()).await;
        overlay.lookup_nodes(NodeId(B256::random())).await;
    }

    /// Find content, verified, trying again with exponential backoff when a lookup finds
    /// nothing or the network fails: up to [`LinkConfig::query_attempts`] attempts. When the
    /// link looks down, the retry waits for a recovery first.
    pub async fn find_content(&self, key: ContentKey) -> Result<FoundContent, OverlayError> {
        let config = &self.state.config;
        let mut backoff = config.retry_backoff;
        let mut attempt = 1;
        loop {
            match self.state.overlay.find_content(key).await {
                Ok(found) => return Ok(found),
                Err(e @ (OverlayError::NotFound(_) | OverlayError::Net(_)))
                    if attempt < config.query_attempts =>
                {
                    tracing::debug!(attempt, error = %e, "lookup failed; trying again");
                }
                Err(e) => return Err(e),
            }
            if self.looks_down() {
                self.recover(RecoveryReason::Silence).await;
            } else {
                tokio::time::sleep(backoff).await;
                backoff = backoff.saturating_mul(2);
            }
            attempt += 1;
        }
    }

    /// No answer from any peer for the silence window, and none since the last recovery.
    fn looks_down(&self) -> bool {
        let activity = self.state.overlay.transport().activity();
        let silent = activity
            .since_last_response()
            .is_none_or(|since| since > self.state.config.silence_window);
        let recent_recovery = self
            .state
            .last_recovery
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|at| at.elapsed() < self.state.config.silence_window);
        silent && !recent_recovery
    }

    /// The upkeep task: keep-alives, silence detection, observed address changes,
    /// reachability. Runs until [`Link::stop`]; idle while paused.
    pub async fn run(self) {
        let config = self.state.config.clone();
        let tick_every = (config.silence_window / 4)
            .min(config.keepalive_interval / 2)
            .max(Duration::from_millis(50));
        let mut tick = tokio::time::interval(tick_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let activity = self.state.overlay.transport().activity();
        let mut observed = activity.observed_address();
        observed.mark_unchanged();
        let mut paused = self.state.paused.subscribe();
        let mut failures_seen = activity.failures();
        let mut last_keepalive = Instant::now();
        while !self.state.stopped.load(Ordering::Relaxed) {
            if *paused.borrow_and_update() {
                // Nothing runs while paused: wait for resume.
                if paused.changed().await.is_err() {
                    return;
                }
                last_keepalive = Instant::now();
                failures_seen = activity.failures();
                continue;
            }
            tokio::select! {
                _ = tick.tick() => {}
                changed = observed.changed() => {
                    if changed.is_ok() && !self.is_paused() {
                        self.recover(RecoveryReason::ObservedAddress).await;
                    }
                    continue;
                }
                _ = paused.changed() => continue,
            }
            // Silence while requests fail: the link is down or moved.
            let failures = activity.failures();
            if failures > failures_seen && self.looks_down() {
                self.recover(RecoveryReason::Silence).await;
            }
            failures_seen = activity.failures();

            // Keep-alive when nothing else went out lately.
            let idle = activity
                .since_last_response()
                .is_none_or(|since| since >= config.keepalive_interval);
            if idle && last_keepalive.elapsed() >= config.keepalive_interval {
                last_keepalive = Instant::now();
                self.keepalive().await;
            }

            // Reachability.
            let reached = activity.unsolicited_requests() > 0;
            let overlay = &self.state.overlay;
            if reached && overlay.is_client_only() {
                tracing::info!("a peer reached us; serving as a storage peer again");
                overlay.set_client_only(false);
            } else if !reached
                && !overlay.is_client_only()
                && self.state.started.elapsed() >= config.reachability_grace
            {
                tracing::info!("no peer has reached us: serving as a client only");
                overlay.set_client_only(true);
            }
        }
    }

    /// Ping a few peers, taking the table's connected peers in turn.
    async fn keepalive(&self) {
        let overlay = &self.state.overlay;
        let peers: Vec<Enr> =
            overlay.with_table(|t| t.connected().map(|e| e.peer.clone()).collect());
        if peers.is_empty() {
            return;
        }
        let n = self.state.config.keepalive_peers.min(peers.len());
        let start = self
            .state
            .keepalive_cursor
            .fetch_add(n as u64, Ordering::Relaxed) as usize;
        let chosen: Vec<&Enr> = (0..n).map(|i| &peers[(start + i) % peers.len()]).collect();
        self.state
            .keepalive_pings
            .fetch_add(n as u64, Ordering::Relaxed);
        let mut pings: FuturesUnordered<_> = chosen.into_iter().map(|p| overlay.ping(p)).collect();
        while pings.next().await.is_some() {}
    }

    /// End [`Link::run`] at its next tick.
    pub fn stop(&self) {
        self.state.stopped.store(true, Ordering::Relaxed);
        // Wake a paused loop so that it sees the flag.
        self.state.paused.send_modify(|_| {});
    }
}
