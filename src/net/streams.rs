//! uTP content streams on the [`Transport`]: connection ids, the four sides of a transfer
//! (accept or connect, send or receive), the stream cap and receive budgets, the deadline, and
//! abandoning a stream (the gates then answer for it: [`super::gates`]).

use std::future::Future;

use discv5::Enr;
use enr::NodeId;
use tokio::sync::TryAcquireError;
use utp_rs::cid::ConnectionId;
use utp_rs::peer::Peer;
use utp_rs::stream::UtpStream;

use super::gates::{reset_packet, BudgetGuard};
use super::transport::{Transport, BUDGET_SLACK};
use super::utp::{connection_config, UtpPeer};
use super::{NetError, UTP_PROTOCOL_ID};

impl Transport {
    /// A fresh connection id for a uTP stream with `peer` that *we* will accept: it goes into
    /// our Content or Accept message, and then into `utp_accept_send` or `utp_accept_receive`.
    pub fn new_connection_id(&self, peer: &Enr) -> u16 {
        // utp-rs picks a random id not used by an open connection with that peer; an acceptor's
        // id pair is (recv = r, send = r - 1) and the peer is told `send`. Ids of a stream we
        // abandoned lately are skipped: the peer may still send on them.
        let peer_id = peer.node_id();
        let mut cid = self.inner.utp.cid(peer_id, false);
        for _ in 0..16 {
            if !self.inner.gates.any_silenced(peer_id, cid.send, cid.recv) {
                break;
            }
            cid = self.inner.utp.cid(peer_id, false);
        }
        cid.send
    }

    /// The FindContent holder's side: waits for `peer` to open the stream on `cid` (which we
    /// sent it), writes `data`, and closes; returns once the peer has acknowledged everything.
    pub async fn utp_accept_send(
        &self,
        peer: Enr,
        cid: u16,
        data: Vec<u8>,
    ) -> Result<(), NetError> {
        let id = accept_id(&peer, cid);
        self.utp_transfer(async move {
            let mut transfer = self.transfer(&peer, &id);
            let stream = transfer.attach(self.accept(id, peer).await?);
            send_all(stream, &data).await?;
            transfer.finish();
            Ok(())
        })
        .await
    }

    /// The Offer receiver's side: waits for `peer` to open the stream on `cid` (which we sent
    /// it) and reads until the peer closes. More than `max_bytes` fails with
    /// [`NetError::TooLarge`] (a peer that keeps sending is cut off early).
    pub async fn utp_accept_receive(
        &self,
        peer: Enr,
        cid: u16,
        max_bytes: usize,
    ) -> Result<Vec<u8>, NetError> {
        let id = accept_id(&peer, cid);
        self.utp_transfer(async move {
            let budget = self.budget(&id, max_bytes);
            let mut transfer = self.transfer(&peer, &id);
            let stream = transfer.attach(self.accept(id, peer).await?);
            let data = receive_all(stream, &budget, max_bytes).await?;
            transfer.finish_reading();
            Ok(data)
        })
        .await
    }

    /// The FindContent requester's side: opens the stream on the `cid` that `peer` sent us and
    /// reads until the peer closes. More than `max_bytes` fails with [`NetError::TooLarge`].
    pub async fn utp_connect_receive(
        &self,
        peer: Enr,
        cid: u16,
        max_bytes: usize,
    ) -> Result<Vec<u8>, NetError> {
        let id = connect_id(&peer, cid);
        self.utp_transfer(async move {
            let budget = self.budget(&id, max_bytes);
            let mut transfer = self.transfer(&peer, &id);
            let stream = transfer.attach(self.connect(id, peer).await?);
            let data = receive_all(stream, &budget, max_bytes).await?;
            transfer.finish_reading();
            Ok(data)
        })
        .await
    }

    /// The offerer's side: opens the stream on the `cid` that `peer` sent us in its Accept,
    /// writes `data`, and closes; returns once the peer has acknowledged everything.
    pub async fn utp_connect_send(
        &self,
        peer: Enr,
        cid: u16,
        data: Vec<u8>,
    ) -> Result<(), NetError> {
        let id = connect_id(&peer, cid);
        self.utp_transfer(async move {
            let mut transfer = self.transfer(&peer, &id);
            let stream = transfer.attach(self.connect(id, peer).await?);
            send_all(stream, &data).await?;
            transfer.finish();
            Ok(())
        })
        .await
    }

    /// uTP streams open right now: transfers in progress through this transport, or the
    /// connections utp-rs still tracks (a stream given up on lingers until its close handshake
    /// or idle timeout ends), whichever is more. Back to 0 when nothing leaks.
    pub fn open_utp_streams(&self) -> usize {
        let in_transfer = self.inner.max_streams - self.inner.streams.available_permits();
        in_transfer.max(self.inner.utp.num_connections())
    }

    /// How many more uTP transfers may start now before [`NetError::TooManyStreams`]. An
    /// overlay can check it before promising a stream in an Accept.
    pub fn utp_streams_available(&self) -> usize {
        if self.inner.streams.is_closed() {
            return 0;
        }
        self.inner.streams.available_permits()
    }

    /// Runs one uTP transfer under the stream cap, the whole-transfer deadline and the
    /// shutdown signal. Dropping `transfer` on timeout drops its stream, which utp-rs then
    /// closes in the background (bounded by the idle timeout).
    async fn utp_transfer<T>(
        &self,
        transfer: impl Future<Output = Result<T, NetError>>,
    ) -> Result<T, NetError> {
        let mut shutdown = self.running()?;
        let _permit = self.inner.streams.try_acquire().map_err(|e| match e {
            TryAcquireError::NoPermits => NetError::TooManyStreams,
            TryAcquireError::Closed => NetError::Shutdown,
        })?;
        tokio::select! {
            result = tokio::time::timeout(self.inner.utp_timeout, transfer) => {
                result.unwrap_or(Err(NetError::Timeout))
            }
            _ = shutdown.wait_for(|stopped| *stopped) => Err(NetError::Shutdown),
        }
    }

    fn transfer(&self, peer: &Enr, id: &ConnectionId<NodeId>) -> Transfer<'_> {
        self.inner.gates.claim(id.peer_id, id.send, id.recv);
        Transfer {
            transport: self,
            peer: peer.clone(),
            id: *id,
            stream: None,
            finished: false,
        }
    }

    /// A receive budget for the stream's inbound DATA, registered before the stream exists so
    /// that no packet slips past it.
    fn budget(&self, id: &ConnectionId<NodeId>, max_bytes: usize) -> BudgetGuard {
        let limit = max_bytes.saturating_mul(2).saturating_add(BUDGET_SLACK);
        self.inner.gates.budget(id.peer_id, id.recv, limit)
    }

    /// Gives up a connection: silences it (see [`Gates`]) and sends the peer a RESET, so that
    /// it fails at once instead of taking what it got for the whole.
    fn abandon(&self, peer: &Enr, id: &ConnectionId<NodeId>) {
        self.inner.gates.abandon(id.peer_id, id.send, id.recv);
        let packet = reset_packet(id.send);
        if self.inner.gates.lost(id.peer_id, &packet) {
            return;
        }
        let reset = self.inner.shared.with_discv5(|d| {
            self.inner
                .shared
                .contact(d, peer.clone())
                .ok()
                .map(|contact| d.talk_req(contact, UTP_PROTOCOL_ID.to_vec(), packet))
        });
        if let (Some(Some(reset)), Ok(runtime)) = (reset, tokio::runtime::Handle::try_current()) {
            runtime.spawn(async move {
                let _ = reset.await;
            });
        }
    }

    async fn accept(
        &self,
        id: ConnectionId<NodeId>,
        peer: Enr,
    ) -> Result<UtpStream<UtpPeer>, NetError> {
        let config = connection_config(self.inner.utp_timeout);
        // The whole transfer deadline, not less: on a lossy, slow link the peer's SYN may need
        // several resends (1 s, 2 s, ...) to arrive. Streams offered and never opened are
        // bounded by the overlay's per-requester stream caps, and our own lookups open every
        // stream they were offered (`RunToEnd`), so honest peers do not leave slots waiting.
        self.inner
            .utp
            .accept_with_cid(id, Peer::new(UtpPeer(peer)), config)
            .await
            .map_err(utp_error)
    }

    async fn connect(
        &self,
        id: ConnectionId<NodeId>,
        peer: Enr,
    ) -> Result<UtpStream<UtpPeer>, NetError> {
        let config = connection_config(self.inner.utp_timeout);
        self.inner
            .utp
            .connect_with_cid(id, Peer::new(UtpPeer(peer)), config)
            .await
            .map_err(utp_error)
    }
}

/// The id pair of a stream we accept, from the id we sent: the peer sends on our `recv`.
fn accept_id(peer: &Enr, cid: u16) -> ConnectionId<NodeId> {
    ConnectionId {
        send: cid,
        recv: cid.wrapping_add(1),
        peer_id: peer.node_id(),
    }
}

/// The id pair of a stream we open, from the id we received.
fn connect_id(peer: &Enr, cid: u16) -> ConnectionId<NodeId> {
    ConnectionId {
        send: cid.wrapping_add(1),
        recv: cid,
        peer_id: peer.node_id(),
    }
}

/// One uTP transfer in progress. Unless finished, dropping it abandons the connection (see
/// [`Transport::abandon`]) *before* the stream itself is dropped, because dropping a utp-rs
/// stream sends a FIN, and a FIN says "that was everything".
struct Transfer<'a> {
    transport: &'a Transport,
    peer: Enr,
    id: ConnectionId<NodeId>,
    stream: Option<UtpStream<UtpPeer>>,
    finished: bool,
}

impl Transfer<'_> {
    fn attach(&mut self, stream: UtpStream<UtpPeer>) -> &mut UtpStream<UtpPeer> {
        self.stream.insert(stream)
    }

    fn finish(&mut self) {
        self.finished = true;
    }

    /// Done reading the stream to its end: it lingers, to acknowledge a resent FIN (see
    /// [`Gates::linger`]).
    fn finish_reading(&mut self) {
        self.finished = true;
        self.transport
            .inner
            .gates
            .linger(self.id.peer_id, self.id.send, self.id.recv);
    }
}

impl Drop for Transfer<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.transport.abandon(&self.peer, &self.id);
        }
        // `stream` is dropped after this body: its FIN meets a silenced connection.
    }
}

fn utp_error(error: std::io::Error) -> NetError {
    match error.kind() {
        std::io::ErrorKind::TimedOut => NetError::Timeout,
        _ => NetError::Utp(error.to_string()),
    }
}

/// Writes everything, then closes; the close completes when the peer has acknowledged all data,
/// which is the only confirmation of delivery (`write` returns once the data is buffered).
async fn send_all(stream: &mut UtpStream<UtpPeer>, data: &[u8]) -> Result<(), NetError> {
    let mut rest = data;
    while !rest.is_empty() {
        let written = stream.write(rest).await.map_err(utp_error)?;
        if written == 0 {
            return Err(NetError::Utp(
                "stream closed before all data was sent".into(),
            ));
        }
        rest = rest.get(written..).unwrap_or_default();
    }
    stream.close().await.map_err(utp_error)
}

/// Reads to the end of the stream, at most `max_bytes`.
///
/// The stream is not closed from this side: the sender closes it, and answering its FIN is
/// enough. A close from here would wait for an acknowledgement the finished sender never sends.
async fn receive_all(
    stream: &mut UtpStream<UtpPeer>,
    budget: &BudgetGuard,
    max_bytes: usize,
) -> Result<Vec<u8>, NetError> {
    let mut data = Vec::new();
    tokio::select! {
        result = stream.read_to_eof(&mut data) => {
            // On error, `data` holds what arrived before it: not a complete item, dropped.
            result.map_err(utp_error)?;
        }
        () = budget.exceeded() => return Err(NetError::TooLarge { max: max_bytes }),
    }
    if data.len() > max_bytes {
        return Err(NetError::TooLarge { max: max_bytes });
    }
    Ok(data)
}
