//! The [`Transport`]: discv5 started on our own socket, the event router, TALKREQ requests and
//! uTP transfers.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use discv5::{ConfigBuilder, Discv5, Enr, Event, ListenConfig, RequestError};
use enr::{CombinedKey, NodeId};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinHandle;
use utp_rs::socket::UtpSocket;

use super::gates::Gates;
use super::record::{build_local_enr, enr_chain_id, negotiate_version, ProtocolVersion};
use super::shared::{EnrCache, Shared};
use super::utp::{Discv5UtpSocket, UtpPeer};
use super::{
    LinkActivity, NetError, TransportConfig, BEACON_PROTOCOL_ID, STATE_PROTOCOL_ID, UTP_PROTOCOL_ID,
};

/// Inbound requests waiting for the overlay. Beyond this the overlay is not keeping up, and a
/// request is better answered empty at once than late.
const INBOUND_QUEUE: usize = 256;

/// How long [`Transport::shutdown`] waits for discv5's tasks to let go of the socket.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Extra receive budget over twice the caller's limit, for retransmitted packets (see
/// [`Gates`]).
pub(super) const BUDGET_SLACK: usize = 64 * 1024;

/// What every clone of a [`Transport`] shares (its uTP half is in `streams.rs`).
pub(super) struct Inner {
    pub(super) shared: Arc<Shared>,
    pub(super) utp: UtpSocket<UtpPeer>,
    pub(super) gates: Arc<Gates>,
    pub(super) streams: Semaphore,
    pub(super) max_streams: usize,
    pub(super) chain_id: u64,
    pub(super) request_timeout: Duration,
    pub(super) utp_timeout: Duration,
    pub(super) initial_enr: Enr,
    pub(super) node_id: NodeId,
    pub(super) local_addr: SocketAddr,
    pub(super) shutdown: watch::Sender<bool>,
    pub(super) router: Mutex<Option<JoinHandle<()>>>,
    /// Watched to know when discv5 has released the UDP socket.
    pub(super) socket: Weak<UdpSocket>,
    pub(super) activity: Arc<LinkActivity>,
    /// Where inbound requests on [`BEACON_PROTOCOL_ID`] go; `None` until someone serves that
    /// network (then they are answered empty, as for any protocol we do not speak).
    pub(super) beacon_inbound: BeaconQueue,
}

/// The queue of inbound beacon-network requests, shared with the router.
type BeaconQueue = Arc<Mutex<Option<mpsc::Sender<InboundRequest>>>>;

/// A running node's network transport: discv5 on one UDP socket, TALKREQ on the state
/// network's protocol id, and uTP streams.
///
/// Cheap to clone; all clones drive the same node. [`Transport::shutdown`] stops it for all of
/// them. Dropping the last clone stops it too, but without waiting for the port to be released.
#[derive(Clone)]
pub struct Transport {
    pub(super) inner: Arc<Inner>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("node_id", &self.inner.node_id)
            .field("local_addr", &self.inner.local_addr)
            .field("chain_id", &self.inner.chain_id)
            .finish_non_exhaustive()
    }
}

/// A TALKREQ on the state network's protocol id, received from a peer; answer it with
/// [`InboundRequest::respond`]. Dropping it unanswered sends an empty TALKRESP.
pub struct InboundRequest {
    request: discv5::TalkRequest,
    node_id: [u8; 32],
    enr: Option<Enr>,
}

impl std::fmt::Debug for InboundRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboundRequest")
            .field("node_id", &NodeId::new(&self.node_id))
            .field("body_len", &self.request.body().len())
            .field("enr_known", &self.enr.is_some())
            .finish()
    }
}

impl InboundRequest {
    /// The sender's node id (authenticated by the discv5 session).
    pub fn node_id(&self) -> [u8; 32] {
        self.node_id
    }

    /// The sender's ENR, if we know it (from the handshake or discv5's routing table).
    pub fn enr(&self) -> Option<Enr> {
        self.enr.clone()
    }

    /// The request bytes (a Portal wire message).
    pub fn body(&self) -> &[u8] {
        self.request.body()
    }

    /// Sends `response` as the TALKRESP. A failure (the transport is shutting down) is only
    /// logged: the peer then sees a timeout, as it would for a lost packet.
    pub fn respond(self, response: Vec<u8>) {
        if let Err(e) = self.request.respond(response) {
            tracing::debug!(%e, "cannot send TALKRESP");
        }
    }
}

impl Transport {
    /// Binds the socket, starts discv5 and the router, and returns the transport with the queue
    /// of inbound requests on [`STATE_PROTOCOL_ID`].
    ///
    /// Must be called from within a tokio runtime, which then runs the node's tasks.
    pub async fn start(
        config: TransportConfig,
    ) -> Result<(Transport, mpsc::Receiver<InboundRequest>), NetError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(NetError::Discv5("must run inside a tokio runtime".into()));
        }
        let key = CombinedKey::secp256k1_from_bytes(&mut config.secret_key.clone())
            .map_err(|e| NetError::InvalidEnr(format!("secret key: {e}")))?;

        // Bind ourselves: with port 0 only the bound socket knows the real port, and the ENR
        // must carry it.
        let bind_error = |reason: String| NetError::Bind {
            addr: config.bind,
            reason,
        };
        let socket = UdpSocket::bind(config.bind)
            .await
            .map_err(|e| bind_error(e.to_string()))?;
        let local_addr = socket.local_addr().map_err(|e| bind_error(e.to_string()))?;
        let advertised = match config.external {
            Some(mut external) => {
                if external.is_ipv4() != local_addr.is_ipv4() {
                    return Err(bind_error(format!(
                        "external address {external} is not of the bound address' IP version"
                    )));
                }
                if external.port() == 0 {
                    external.set_port(local_addr.port());
                }
                external
            }
            None if local_addr.ip().is_unspecified() => {
                return Err(bind_error(
                    "bound to an unspecified IP; set an external address to advertise".into(),
                ))
            }
            None => local_addr,
        };
        let local_enr = build_local_enr(&key, advertised, config.chain_id, config.min_enr_seq)?;

        let socket = Arc::new(socket);
        let socket_watch = Arc::downgrade(&socket);
        let listen = if local_addr.is_ipv4() {
            ListenConfig::FromSockets {
                ipv4: Some(socket),
                ipv6: None,
            }
        } else {
            ListenConfig::FromSockets {
                ipv4: None,
                ipv6: Some(socket),
            }
        };
        let mut builder = ConfigBuilder::new(listen);
        builder
            .request_timeout(config.request_timeout)
            // discv5's own liveness pings of its table would keep running while an app has
            // paused the node; the overlay pings its peers itself (and keeps NATs open).
            .ping_interval(Duration::from_secs(3600));
        // Left at their defaults on purpose: the packet filter is off (its rate limiter stalls
        // uTP, where every packet is a TALKREQ) and the table accepts loopback addresses.
        if config.external.is_some() && !config.follow_observed_address {
            // The operator said where we are: don't let peers' observations rewrite it.
            builder.disable_enr_update();
        } else {
            // Few peers on a phone: two agreeing observations are enough to move our ENR.
            builder.enr_peer_update_min(2);
        }
        let mut discv5 = Discv5::new(local_enr.clone(), key, builder.build())
            .map_err(|e| NetError::Discv5(e.to_string()))?;
        discv5
            .start()
            .await
            .map_err(|e| NetError::Discv5(e.to_string()))?;
        // discv5 has a single event stream: this is the one, read by the router alone.
        let events = discv5
            .event_stream()
            .await
            .map_err(|e| NetError::Discv5(e.to_string()))?;

        let shared = Arc::new(Shared {
            discv5: RwLock::new(Some(discv5)),
            enrs: Mutex::new(EnrCache::new()),
            sessions: Mutex::new(HashMap::new()),
        });
        let (utp_tx, utp_rx) = mpsc::unbounded_channel();
        let (inbound_tx, inbound_rx) = mpsc::channel(INBOUND_QUEUE);
        let activity = Arc::new(LinkActivity::default());
        let beacon_inbound: BeaconQueue = Arc::default();
        let router = tokio::spawn(route(
            events,
            Arc::downgrade(&shared),
            utp_tx,
            inbound_tx,
            beacon_inbound.clone(),
            config.chain_id,
            activity.clone(),
        ));
        let gates = Arc::new(Gates::default());
        let (shutdown, _) = watch::channel(false);
        let utp = UtpSocket::with_socket(Discv5UtpSocket {
            shared: Arc::downgrade(&shared),
            incoming: utp_rx,
            gates: gates.clone(),
            outgoing: crate::net::utp::spawn_ordered_sender(shutdown.subscribe()),
        });
        let max_streams = config.max_utp_streams.min(Semaphore::MAX_PERMITS);
        let transport = Transport {
            inner: Arc::new(Inner {
                shared,
                utp,
                gates,
                streams: Semaphore::new(max_streams),
                max_streams,
                chain_id: config.chain_id,
                request_timeout: config.request_timeout,
                utp_timeout: config.utp_timeout,
                node_id: local_enr.node_id(),
                initial_enr: local_enr,
                local_addr,
                shutdown,
                router: Mutex::new(Some(router)),
                socket: socket_watch,
                activity,
                beacon_inbound,
            }),
        };
        tracing::info!(
            node_id = %transport.inner.node_id,
            %local_addr,
            %advertised,
            chain_id = config.chain_id,
            "transport started"
        );
        Ok((transport, inbound_rx))
    }

    /// Our current ENR (its address may be updated by discv5 when no external address was
    /// configured).
    pub fn local_enr(&self) -> Enr {
        self.inner
            .shared
            .with_discv5(|d| d.local_enr())
            .unwrap_or_else(|| self.inner.initial_enr.clone())
    }

    /// What the link has carried: answers, unsolicited requests, failures, the observed
    /// address.
    pub fn activity(&self) -> &LinkActivity {
        &self.inner.activity
    }

    /// Advertise `addr` in our ENR from now on (after the device's address changed). The ENR's
    /// sequence number goes up, so peers that see it replace the record they hold. Returns
    /// whether the ENR changed (false when it already says `addr`, or after shutdown).
    pub fn set_advertised_addr(&self, addr: SocketAddr) -> bool {
        self.inner
            .shared
            .with_discv5(|d| d.update_local_enr_socket(addr, false))
            .unwrap_or(false)
    }

    /// Our node id.
    pub fn local_node_id(&self) -> [u8; 32] {
        self.inner.node_id.raw()
    }

    /// The address the UDP socket is bound to, with the actual port.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr
    }

    /// Sends `body` as a TALKREQ on [`STATE_PROTOCOL_ID`] and returns the TALKRESP bytes (empty
    /// if the peer answered empty, which is how discv5 nodes answer what they don't serve).
    ///
    /// Refuses, without sending anything, a peer whose ENR names another chain. Fails with
    /// [`NetError::Timeout`] after `request_timeout`.
    pub async fn request(&self, peer: &Enr, body: Vec<u8>) -> Result<Vec<u8>, NetError> {
        self.request_on(STATE_PROTOCOL_ID, peer, body).await
    }

    /// [`Transport::request`] on another overlay's protocol id (the beacon network's
    /// [`BEACON_PROTOCOL_ID`]), with the same checks and deadline.
    pub async fn request_on(
        &self,
        protocol: [u8; 2],
        peer: &Enr,
        body: Vec<u8>,
    ) -> Result<Vec<u8>, NetError> {
        let mut shutdown = self.running()?;
        if let Err(e @ NetError::WrongChain { .. }) = self.peer_version(peer) {
            return Err(e);
        }
        self.inner.shared.remember(peer.clone());
        self.inner.activity.contacting(peer.node_id().raw());
        let request = self
            .inner
            .shared
            .with_discv5(|d| {
                let contact = self.inner.shared.contact(d, peer.clone())?;
                Ok(d.talk_req(contact, protocol.to_vec(), body))
            })
            .ok_or(NetError::Shutdown)??;
        tokio::select! {
            result = tokio::time::timeout(self.inner.request_timeout, request) => match result {
                Ok(Ok(response)) => {
                    self.inner.activity.response();
                    Ok(response)
                }
                Ok(Err(e)) => {
                    self.inner.activity.failure();
                    Err(self.request_error(e))
                }
                Err(_) => {
                    self.inner.activity.failure();
                    Err(NetError::Timeout)
                }
            },
            _ = shutdown.wait_for(|stopped| *stopped) => Err(NetError::Shutdown),
        }
    }

    /// The queue of inbound requests on [`BEACON_PROTOCOL_ID`], for the node's beacon network
    /// (a second call replaces the first queue). Until it is called, such requests are
    /// answered empty.
    pub fn beacon_requests(&self) -> mpsc::Receiver<InboundRequest> {
        let (sender, receiver) = mpsc::channel(INBOUND_QUEUE);
        *self
            .inner
            .beacon_inbound
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(sender);
        receiver
    }

    /// The protocol version to speak with `peer`, from its ENR: `p` = `[pv_min, pv_max,
    /// chain_id]` if present, else the older `pv` list, else v0. The highest version both sides
    /// speak wins; we speak v0 to v2. See [`super::negotiate_version`].
    pub fn peer_version(&self, peer: &Enr) -> Result<ProtocolVersion, NetError> {
        negotiate_version(peer, self.inner.chain_id)
    }

    /// The newest ENR we know for this node id: from discv5's routing table or from the
    /// sessions and requests we have seen.
    pub fn known_enr(&self, node_id: &[u8; 32]) -> Option<Enr> {
        self.inner.shared.known_enr(&NodeId::new(node_id))
    }

    /// Loses the uTP packets `fault` picks, both ways (`None`: none). For tests and the uTP
    /// stress run only.
    #[cfg(feature = "fault-injection")]
    pub fn set_utp_fault(&self, fault: Option<Arc<dyn super::fault::UtpFault>>) {
        self.inner.gates.set_fault(fault);
    }

    /// Stops the node for every clone: in-flight requests and transfers end with
    /// [`NetError::Shutdown`], discv5 stops, and the UDP port is free when this returns.
    pub async fn shutdown(&self) {
        self.inner.shutdown.send_replace(true);
        self.inner.streams.close();
        // Let in-flight transfers see the signal and reset their peers while discv5 can still
        // send; they return at once, so the wait is short.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
        while self.inner.streams.available_permits() < self.inner.max_streams
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let discv5 = self
            .inner
            .shared
            .discv5
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let Some(mut discv5) = discv5 else {
            return; // already shut down
        };
        discv5.shutdown();
        drop(discv5);

        // The event stream closes once discv5's service has stopped; the router ends with it.
        let router = self
            .inner
            .router
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(mut router) = router {
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut router)
                .await
                .is_err()
            {
                router.abort();
            }
        }
        // discv5's socket tasks drop their handles on the socket as they wind down; wait for
        // the last one so that the port can be bound again as soon as we return.
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        while self.inner.socket.strong_count() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if self.inner.socket.strong_count() > 0 {
            tracing::warn!("discv5 still holds the UDP socket after shutdown");
        }
        tracing::info!(node_id = %self.inner.node_id, "transport shut down");
    }

    /// Fails if shut down; else a receiver that resolves on shutdown.
    pub(super) fn running(&self) -> Result<watch::Receiver<bool>, NetError> {
        let receiver = self.inner.shutdown.subscribe();
        if *receiver.borrow() {
            return Err(NetError::Shutdown);
        }
        Ok(receiver)
    }

    fn request_error(&self, error: RequestError) -> NetError {
        match error {
            RequestError::Timeout => NetError::Timeout,
            _ if *self.inner.shutdown.borrow() => NetError::Shutdown,
            RequestError::SelfRequest => NetError::Unreachable("that is our own node".into()),
            RequestError::InvalidEnr(reason) => NetError::Unreachable(reason.into()),
            other => NetError::Discv5(other.to_string()),
        }
    }
}

/// Reads discv5's event stream. Never awaits anything that can stall: discv5 drops events for
/// a consumer that lags, TALKREQs included.
async fn route(
    mut events: mpsc::Receiver<Event>,
    shared: Weak<Shared>,
    utp: mpsc::UnboundedSender<discv5::TalkRequest>,
    inbound: mpsc::Sender<InboundRequest>,
    beacon_inbound: BeaconQueue,
    chain_id: u64,
    activity: Arc<LinkActivity>,
) {
    while let Some(event) = events.recv().await {
        match event {
            Event::TalkRequest(request) if request.protocol() == UTP_PROTOCOL_ID => {
                // Unbounded: a dropped uTP packet costs a retransmission round.
                utp.send(request)
                    .unwrap_or_else(|_| tracing::trace!("uTP socket gone; packet dropped"));
            }
            Event::TalkRequest(request)
                if request.protocol() == STATE_PROTOCOL_ID
                    || request.protocol() == BEACON_PROTOCOL_ID =>
            {
                let queue = if request.protocol() == STATE_PROTOCOL_ID {
                    inbound.clone()
                } else {
                    let queue = beacon_inbound.lock().unwrap_or_else(|e| e.into_inner());
                    match queue.as_ref() {
                        Some(queue) => queue.clone(),
                        // Nobody serves the beacon network: dropping answers it empty.
                        None => continue,
                    }
                };
                activity.inbound(request.node_id().raw());
                let Some(shared) = shared.upgrade() else {
                    break;
                };
                let node_id = *request.node_id();
                let enr = shared.known_enr(&node_id);
                drop(shared);
                if let Some(theirs) = enr.as_ref().and_then(enr_chain_id) {
                    if theirs != chain_id {
                        tracing::debug!(%node_id, theirs, "request from a peer on another chain dropped");
                        continue; // dropping the request answers it empty
                    }
                }
                let request = InboundRequest {
                    request,
                    node_id: node_id.raw(),
                    enr,
                };
                match queue.try_send(request) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(request)) => {
                        tracing::warn!(%node_id, "inbound queue full; request answered empty");
                        drop(request);
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => {
                        tracing::debug!("nobody takes inbound requests; answered empty");
                    }
                }
            }
            Event::TalkRequest(request) => {
                tracing::trace!(protocol = ?request.protocol(), "TALKREQ for another protocol");
            }
            Event::SessionEstablished(enr, addr) => {
                tracing::trace!(node_id = %enr.node_id(), %addr, "session established");
                match shared.upgrade() {
                    Some(shared) => {
                        shared.remember_session(enr.node_id(), addr);
                        shared.remember(enr);
                    }
                    None => break,
                }
            }
            // A session with a node whose ENR names another address than the one its packets
            // come from: behind a NAT, or just moved. Reply to where it really is.
            Event::UnverifiableEnr {
                enr,
                socket,
                node_id,
            } => {
                tracing::trace!(%node_id, %socket, "session with a node away from its ENR");
                match shared.upgrade() {
                    Some(shared) => {
                        shared.remember_session(node_id, socket);
                        shared.remember(enr);
                    }
                    None => break,
                }
            }
            Event::SocketUpdated(addr) => {
                tracing::info!(%addr, "peers observe us at a new address");
                activity.observed(addr);
            }
            _ => {}
        }
    }
    tracing::debug!("discv5 event stream closed; router stopped");
}
