//! uTP over discv5: the `utp-rs` socket adapter.
//!
//! utp-rs drives its streams through an [`AsyncUdpSocket`]; ours sends each uTP packet as a
//! TALKREQ on protocol `"utp"` and receives the TALKREQs that the router forwards. The TALKRESP
//! is meaningless to uTP (the spec says to ignore it), so outbound requests are fired without
//! waiting and inbound ones are answered empty at once.

use std::io;
use std::sync::{Arc, Weak};
use std::time::Duration;

use async_trait::async_trait;
use discv5::{Enr, TalkRequest};
use enr::NodeId;
use tokio::sync::mpsc;
use utp_rs::conn::ConnectionConfig;
use utp_rs::peer::{ConnectionPeer, Peer};
use utp_rs::udp::AsyncUdpSocket;

use super::config::MAX_IDLE_TIMEOUT;
use super::gates::{fin_ack_packet, reset_packet, Gates, Inbound};
use super::shared::Shared;
use super::UTP_PROTOCOL_ID;

/// uTP packet size: a 20-byte header plus 1024 bytes of data fits in one discv5 packet
/// (at most 1280 bytes) with room for the discv5 framing. trin uses the same.
const MAX_PACKET_SIZE: u16 = 1024;

/// The utp-rs connection settings for a transfer whose deadline is `utp_timeout`.
pub(crate) fn connection_config(utp_timeout: Duration) -> ConnectionConfig {
    ConnectionConfig {
        max_packet_size: MAX_PACKET_SIZE,
        max_idle_timeout: utp_timeout.min(MAX_IDLE_TIMEOUT),
        ..ConnectionConfig::default()
    }
}

/// A uTP peer: its ENR, identified by node id.
#[derive(Clone, Debug)]
pub(crate) struct UtpPeer(pub(crate) Enr);

impl ConnectionPeer for UtpPeer {
    type Id = NodeId;

    fn id(&self) -> NodeId {
        self.0.node_id()
    }

    // utp-rs only consolidates peers with equal ids. Keep the newer record; no assert, since a
    // panic here would kill utp-rs' socket task and with it every stream.
    fn consolidate(a: Self, b: Self) -> Self {
        if a.0.seq() >= b.0.seq() {
            a
        } else {
            b
        }
    }
}

/// The socket utp-rs sends and receives through.
///
/// utp-rs' socket task never ends (it holds a sender to itself), so this holds the transport
/// state weakly: a strong reference would keep discv5, and its UDP socket, alive forever.
pub(crate) struct Discv5UtpSocket {
    pub(crate) shared: Weak<Shared>,
    pub(crate) incoming: mpsc::UnboundedReceiver<TalkRequest>,
    pub(crate) gates: Arc<Gates>,
    /// Packets leave through [`spawn_ordered_sender`], in the order utp-rs sent them.
    pub(crate) outgoing: mpsc::UnboundedSender<PacketSend>,
}

/// One uTP packet on its way out as a TALKREQ (its answer is ignored).
pub(crate) type PacketSend = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Start the task that sends uTP packets in order.
///
/// discv5 queues a TALKREQ only when its future is first polled. Spawning one task per packet
/// lets packets overtake each other: an acceptor's first DATA can reach the initiator before
/// the STATE that completes the handshake, is dropped, and is resent only after utp-rs's 1 s
/// initial timeout — every small transfer then took a full second. This task polls each
/// packet's future once as it arrives, so packets enter discv5's queue in order, and drives the
/// rest of their lives concurrently.
pub(crate) fn spawn_ordered_sender(
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> mpsc::UnboundedSender<PacketSend> {
    use futures::stream::{FuturesUnordered, StreamExt};
    let (tx, mut rx) = mpsc::unbounded_channel::<PacketSend>();
    tokio::spawn(async move {
        let mut running = FuturesUnordered::new();
        loop {
            tokio::select! {
                biased;
                next = rx.recv() => match next {
                    Some(mut send) => {
                        if futures::poll!(&mut send).is_pending() {
                            running.push(send);
                        }
                    }
                    None => break,
                },
                Some(()) = running.next(), if !running.is_empty() => {}
                // (the guard `wait_for` returns is not Send: drop it inside)
                () = async { let _ = shutdown.wait_for(|stopped| *stopped).await; } => break,
            }
        }
    });
    tx
}

impl Discv5UtpSocket {
    /// Sends a packet of our own (not utp-rs'), answering one from `peer`.
    fn reply(&self, peer: NodeId, packet: &[u8]) {
        if self.gates.lost(peer, packet) {
            return;
        }
        if let Err(e) = self.transmit(packet, &Peer::new_id(peer)) {
            tracing::trace!(%e, "cannot answer a uTP packet");
        }
    }

    /// Sends one uTP packet to `peer` as a TALKREQ, in order with the packets before it.
    fn transmit(&self, buf: &[u8], peer: &Peer<UtpPeer>) -> io::Result<()> {
        let Some(shared) = self.shared.upgrade() else {
            return Err(io::ErrorKind::NotConnected.into());
        };
        // The stream was opened with the peer's ENR; a stream opened by a peer's SYN only
        // carries its id, so look the record up.
        let enr = match peer.peer() {
            Some(p) => p.0.clone(),
            None => shared.known_enr(peer.id()).ok_or_else(|| {
                io::Error::new(io::ErrorKind::NotFound, "no ENR known for uTP peer")
            })?,
        };
        // utp-rs needs send_to to return at once, and talk_req's future is 'static: build it
        // here, run it in the background, ignore its (empty) answer.
        let request = shared.with_discv5(|discv5| {
            let contact = shared
                .contact(discv5, enr)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
            Ok::<_, io::Error>(discv5.talk_req(contact, UTP_PROTOCOL_ID.to_vec(), buf.to_vec()))
        });
        let request = request.ok_or(io::ErrorKind::NotConnected)??;
        drop(shared);
        let send: PacketSend = Box::pin(async move {
            if let Err(e) = request.await {
                tracing::trace!(%e, "uTP packet not answered");
            }
        });
        self.outgoing
            .send(send)
            .map_err(|_| io::Error::from(io::ErrorKind::NotConnected))
    }
}

#[async_trait]
impl AsyncUdpSocket<UtpPeer> for Discv5UtpSocket {
    async fn send_to(&mut self, buf: &[u8], peer: &Peer<UtpPeer>) -> io::Result<usize> {
        // An abandoned connection's packets are swallowed, see `Gates`.
        if self.gates.outbound(*peer.id(), buf) {
            self.transmit(buf, peer)?;
        }
        Ok(buf.len())
    }

    // utp-rs drops this future whenever another of its events comes first: every await here
    // must be cancel-safe (mpsc::recv and Notify are; a local RESET is only dequeued once it is
    // returned).
    async fn recv_from(&mut self, buf: &mut [u8]) -> io::Result<(usize, Peer<UtpPeer>)> {
        loop {
            if let Some((peer, recv_id)) = self.gates.next_local_reset() {
                let reset = reset_packet(recv_id);
                let n = reset.len().min(buf.len());
                buf[..n].copy_from_slice(&reset[..n]);
                return Ok((n, Peer::new_id(peer)));
            }
            let request = tokio::select! {
                request = self.incoming.recv() => request,
                () = self.gates.local_reset.notified() => continue,
            };
            let Some(request) = request else {
                return Err(io::ErrorKind::NotConnected.into());
            };
            let node_id = *request.node_id();
            let body = request.body();
            let verdict = self.gates.inbound(node_id, body);
            let n = body.len().min(buf.len());
            buf[..n].copy_from_slice(&body[..n]);
            if let Err(e) = request.respond(Vec::new()) {
                tracing::trace!(%e, "cannot answer uTP packet");
            }
            match verdict {
                Inbound::Pass => return Ok((n, Peer::new_id(node_id))),
                Inbound::Drop => {}
                Inbound::AckFin { send, fin_seq, ack } => {
                    tracing::debug!(%node_id, send, fin_seq, "resent FIN of a stream read whole: acknowledged again");
                    self.reply(node_id, &fin_ack_packet(send, fin_seq, ack));
                }
                Inbound::Reset { send } => {
                    tracing::debug!(%node_id, send, "packet of an abandoned stream: RESET again");
                    self.reply(node_id, &reset_packet(send));
                }
            }
        }
    }
}
