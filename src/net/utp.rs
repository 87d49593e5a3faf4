//! uTP over discv5: the `utp-rs` socket adapter, and the per-stream receive budgets.
//!
//! utp-rs drives its streams through an [`AsyncUdpSocket`]; ours sends each uTP packet as a
//! TALKREQ on protocol `"utp"` and receives the TALKREQs that the router forwards. The TALKRESP
//! is meaningless to uTP (the spec says to ignore it), so outbound requests are fired without
//! waiting and inbound ones are answered empty at once.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use discv5::{Enr, TalkRequest};
use enr::NodeId;
use tokio::sync::{mpsc, Notify};
use utp_rs::conn::ConnectionConfig;
use utp_rs::packet::{PacketBuilder, PacketType};
use utp_rs::peer::{ConnectionPeer, Peer};
use utp_rs::udp::AsyncUdpSocket;

use super::transport::Shared;
use super::UTP_PROTOCOL_ID;

/// uTP packet size: a 20-byte header plus 1024 bytes of data fits in one discv5 packet
/// (at most 1280 bytes) with room for the discv5 framing. trin uses the same.
const MAX_PACKET_SIZE: u16 = 1024;

/// Longest a stream may go without hearing from the peer; shorter when the whole transfer has a
/// shorter deadline, so that an abandoned stream is reaped soon after its caller gave up.
const MAX_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

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

/// uTP packet types (BEP 29).
const ST_DATA: u8 = 0;
const ST_SYN: u8 = 4;
/// Size of the fixed uTP header.
const HEADER_LEN: usize = 20;

/// How long an abandoned connection's packets are dropped: past the idle timeout, by when
/// utp-rs has reaped the connection on both sides.
const SILENCE_FOR: Duration = Duration::from_secs(MAX_IDLE_TIMEOUT.as_secs() + 1);

/// The packet type and connection id of a uTP packet; `None` for garbage (which utp-rs then
/// rejects itself).
fn packet_kind(packet: &[u8]) -> Option<(u8, u16)> {
    let header = packet.get(..HEADER_LEN)?;
    Some((header[0] >> 4, u16::from_be_bytes([header[2], header[3]])))
}

/// The data length of a uTP DATA packet, past its extensions.
fn data_len(packet: &[u8]) -> Option<usize> {
    let header = packet.get(..HEADER_LEN)?;
    // Walk the extension chain: each is [next type, length, data...].
    let mut offset = HEADER_LEN;
    let mut next = header[1];
    while next != 0 {
        let ext = packet.get(offset..offset + 2)?;
        next = ext[0];
        offset += 2 + usize::from(ext[1]);
    }
    Some(packet.len().saturating_sub(offset))
}

/// A RESET for the connection the peer knows by `conn_id` (its receive id, our send id).
pub(crate) fn reset_packet(conn_id: u16) -> Vec<u8> {
    PacketBuilder::new(
        PacketType::Reset,
        conn_id,
        utp_rs::time::now_micros(),
        0,
        // Receivers do not check a RESET's sequence number; any value will do.
        std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), conn_id)
            as u16,
    )
    .build()
    .encode()
}

/// A receive budget: how much DATA a stream we read from may still bring in.
///
/// utp-rs' `read_to_eof` has no size limit and its buffer cannot be watched while it runs, so
/// the limit is enforced where the packets come in. Retransmitted packets count again, which
/// makes this a loose guard against a peer that sends without end; the exact check against the
/// caller's limit happens on the bytes read.
struct Budget {
    remaining: usize,
    /// Once spent, every further DATA packet of the stream is dropped.
    spent: bool,
    exceeded: Arc<Notify>,
}

/// Which id of a connection (`send`, `recv`) a packet carries, by its direction and kind: a
/// SYN carries the initiator's receive id, every other packet the sender's send id.
///
/// Silencing by this, not by the bare id, keeps an abandoned connection's packets apart from
/// a later connection whose id pair overlaps it: pairs are adjacent (`r`, `r ± 1`), so the old
/// (send 5, recv 4) and the new (send 6, recv 5) share id 5, but the old one's DATA and STATE
/// carry 5 outbound while the new one only sends 5 in its SYN, and receives on 5.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Wire {
    /// An outbound SYN: our receive id.
    SynOut(u16),
    /// Any other outbound packet: our send id.
    Out(u16),
    /// An inbound SYN: the peer's receive id, which is our send id.
    SynIn(u16),
    /// Any other inbound packet: our receive id.
    In(u16),
}

impl Wire {
    /// Every way packets of the connection (`send`, `recv`) show on the wire.
    fn of(send: u16, recv: u16) -> [Wire; 4] {
        [
            Wire::SynOut(recv),
            Wire::Out(send),
            Wire::SynIn(send),
            Wire::In(recv),
        ]
    }

    fn outbound(kind: u8, conn_id: u16) -> Wire {
        if kind == ST_SYN {
            Wire::SynOut(conn_id)
        } else {
            Wire::Out(conn_id)
        }
    }

    fn inbound(kind: u8, conn_id: u16) -> Wire {
        if kind == ST_SYN {
            Wire::SynIn(conn_id)
        } else {
            Wire::In(conn_id)
        }
    }
}

#[derive(Default)]
struct GateState {
    /// Receive budgets, by (peer, the connection id the peer's DATA packets carry).
    budgets: HashMap<(NodeId, u16), Budget>,
    /// Abandoned connections, by (peer, how their packets show), until when their packets are
    /// dropped.
    silenced: HashMap<(NodeId, Wire), Instant>,
    /// RESETs to hand to utp-rs as if the peer had sent them: (peer, our receive id) of each
    /// abandoned connection, so that utp-rs closes it at once.
    local_resets: VecDeque<(NodeId, u16)>,
}

impl GateState {
    fn is_silenced(&mut self, key: &(NodeId, Wire)) -> bool {
        match self.silenced.get(key) {
            Some(until) if *until > Instant::now() => true,
            Some(_) => {
                self.silenced.remove(key);
                false
            }
            None => false,
        }
    }
}

/// What may pass between utp-rs and discv5, per connection: receive budgets of the streams we
/// read, and connections we abandoned.
///
/// An abandoned connection is silenced both ways. utp-rs can only close a dropped stream
/// gracefully, with a FIN, and a FIN tells the peer that everything was sent: a sender that
/// gave up halfway would pass truncated data off as complete. Silencing swallows that FIN (the
/// caller sends a RESET instead), and drops whatever the peer still sends for it.
///
/// utp-rs itself is handed a RESET for the connection as if the peer had sent it, so that it
/// drops the connection at once. Left alone, the connection would retransmit its swallowed FIN
/// until its idle timeout, holding its 1 MiB receive buffer all that time.
///
/// Ids come in adjacent pairs (`r`, `r ± 1`), so a later stream with the same peer can share an
/// id with an abandoned one. Silencing the bare ids dropped the new stream's packets on the
/// shared id, and it stalled until its deadline (1–2 % of a light node's calls took the 10 s
/// uTP timeout this way). Silencing goes by [`Wire`] instead, and a new stream
/// [claims](Gates::claim) its own ids in case they coincide exactly.
#[derive(Default)]
pub(crate) struct Gates {
    state: Mutex<GateState>,
    /// Wakes [`Discv5UtpSocket::recv_from`] for a queued local RESET.
    local_reset: Notify,
}

impl Gates {
    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        // Still consistent if poisoned: every operation is a single insert, update or remove.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a budget of `limit` data bytes for packets from `peer` on `conn_id`; the
    /// returned guard removes it when dropped and tells when it was exceeded.
    pub(crate) fn budget(
        self: &Arc<Self>,
        peer: NodeId,
        conn_id: u16,
        limit: usize,
    ) -> BudgetGuard {
        let exceeded = Arc::new(Notify::new());
        self.lock().budgets.insert(
            (peer, conn_id),
            Budget {
                remaining: limit,
                spent: false,
                exceeded: exceeded.clone(),
            },
        );
        BudgetGuard {
            gates: Arc::downgrade(self),
            key: (peer, conn_id),
            exceeded,
        }
    }

    /// Gives up the connection with `peer` on ids `send` and `recv`: drops every packet to and
    /// from `peer` on these ids for a while (until a new stream claims them), and has utp-rs
    /// close the connection now.
    pub(crate) fn abandon(&self, peer: NodeId, send: u16, recv: u16) {
        let now = Instant::now();
        let mut state = self.lock();
        state.silenced.retain(|_, until| *until > now);
        for wire in Wire::of(send, recv) {
            state.silenced.insert((peer, wire), now + SILENCE_FOR);
        }
        state.local_resets.push_back((peer, recv));
        drop(state);
        // notify_one stores a permit if the socket task is not waiting right now.
        self.local_reset.notify_one();
    }

    /// A new stream with `peer` on ids `send` and `recv`: an abandoned stream's silence on
    /// exactly these no longer applies (the peer reuses ids once its side of the old stream is
    /// gone).
    pub(crate) fn claim(&self, peer: NodeId, send: u16, recv: u16) {
        let mut state = self.lock();
        for wire in Wire::of(send, recv) {
            state.silenced.remove(&(peer, wire));
        }
    }

    /// Whether the connection (`send`, `recv`) with `peer` would share silenced ids with an
    /// abandoned one: ids we hand out should not, or the peer's late packets for the old
    /// stream would reach the new one.
    pub(crate) fn any_silenced(&self, peer: NodeId, send: u16, recv: u16) -> bool {
        let mut state = self.lock();
        Wire::of(send, recv)
            .iter()
            .any(|wire| state.is_silenced(&(peer, *wire)))
    }

    fn next_local_reset(&self) -> Option<(NodeId, u16)> {
        self.lock().local_resets.pop_front()
    }

    /// Whether an outbound packet to `peer` may go out.
    fn outbound(&self, peer: NodeId, packet: &[u8]) -> bool {
        match packet_kind(packet) {
            Some((kind, conn_id)) => !self
                .lock()
                .is_silenced(&(peer, Wire::outbound(kind, conn_id))),
            None => true,
        }
    }

    /// Whether an inbound packet from `peer` may reach utp-rs; charges DATA to its budget.
    fn inbound(&self, peer: NodeId, packet: &[u8]) -> bool {
        let Some((kind, conn_id)) = packet_kind(packet) else {
            return true;
        };
        let mut state = self.lock();
        if state.is_silenced(&(peer, Wire::inbound(kind, conn_id))) {
            return false;
        }
        if kind != ST_DATA {
            return true;
        }
        let Some(budget) = state.budgets.get_mut(&(peer, conn_id)) else {
            return true;
        };
        if budget.spent {
            return false;
        }
        match data_len(packet).and_then(|len| budget.remaining.checked_sub(len)) {
            Some(left) => {
                budget.remaining = left;
                true
            }
            None => {
                budget.spent = true;
                // notify_one stores a permit, so the reader sees it even if not yet waiting.
                budget.exceeded.notify_one();
                false
            }
        }
    }
}

/// Keeps a receive budget registered while a stream is read.
pub(crate) struct BudgetGuard {
    gates: Weak<Gates>,
    key: (NodeId, u16),
    exceeded: Arc<Notify>,
}

impl BudgetGuard {
    /// Resolves once the peer has sent more than the budget allows.
    pub(crate) async fn exceeded(&self) {
        self.exceeded.notified().await
    }
}

impl Drop for BudgetGuard {
    fn drop(&mut self) {
        let Some(gates) = self.gates.upgrade() else {
            return;
        };
        let mut state = gates.lock();
        // Remove our own registration only, never a later stream's on the same ids.
        if state
            .budgets
            .get(&self.key)
            .is_some_and(|b| Arc::ptr_eq(&b.exceeded, &self.exceeded))
        {
            state.budgets.remove(&self.key);
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

#[async_trait]
impl AsyncUdpSocket<UtpPeer> for Discv5UtpSocket {
    async fn send_to(&mut self, buf: &[u8], peer: &Peer<UtpPeer>) -> io::Result<usize> {
        let Some(shared) = self.shared.upgrade() else {
            return Err(io::ErrorKind::NotConnected.into());
        };
        if !self.gates.outbound(*peer.id(), buf) {
            return Ok(buf.len()); // an abandoned connection: swallowed, see `Gates`
        }
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
            .map_err(|_| io::Error::from(io::ErrorKind::NotConnected))?;
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
            let accepted = self.gates.inbound(node_id, body);
            let n = body.len().min(buf.len());
            buf[..n].copy_from_slice(&body[..n]);
            if let Err(e) = request.respond(Vec::new()) {
                tracing::trace!(%e, "cannot answer uTP packet");
            }
            if accepted {
                return Ok((n, Peer::new_id(node_id)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(kind: u8, ext: u8, conn_id: u16) -> Vec<u8> {
        let mut h = vec![0u8; HEADER_LEN];
        h[0] = (kind << 4) | 1;
        h[1] = ext;
        h[2..4].copy_from_slice(&conn_id.to_be_bytes());
        h
    }

    fn data(conn_id: u16, len: usize) -> Vec<u8> {
        let mut p = header(ST_DATA, 0, conn_id);
        p.resize(HEADER_LEN + len, 0xab);
        p
    }

    #[test]
    fn packets_are_measured_past_their_extensions() {
        assert_eq!(packet_kind(&data(7, 100)), Some((ST_DATA, 7)));
        assert_eq!(data_len(&data(7, 100)), Some(100));

        // Selective-ack extension (type 1, 4 bytes), then 10 bytes of data.
        let mut p = header(ST_DATA, 1, 9);
        p.extend_from_slice(&[0, 4, 0xff, 0xff, 0xff, 0xff]);
        p.extend_from_slice(&[2; 10]);
        assert_eq!(data_len(&p), Some(10));

        assert_eq!(packet_kind(&[0; 5]), None);
        // Extension chain running off the end.
        let mut p = header(ST_DATA, 1, 9);
        p.push(0);
        assert_eq!(data_len(&p), None);
    }

    #[test]
    fn reset_packet_is_a_reset_for_the_given_id() {
        assert_eq!(packet_kind(&reset_packet(0x1234)), Some((3, 0x1234)));
    }

    #[test]
    fn budget_drops_data_once_spent_and_is_removed_with_its_guard() {
        let gates = Arc::new(Gates::default());
        let peer = NodeId::new(&[1; 32]);
        let other = NodeId::new(&[2; 32]);
        let guard = gates.budget(peer, 5, 1000);
        assert!(gates.inbound(peer, &data(5, 600)));
        assert!(
            gates.inbound(peer, &header(2, 0, 5)),
            "STATE is not charged"
        );
        assert!(!gates.inbound(peer, &data(5, 600)));
        assert!(!gates.inbound(peer, &data(5, 1)), "spent stays spent");
        // Other streams are not affected.
        assert!(gates.inbound(other, &data(5, 600)));
        assert!(gates.inbound(peer, &data(6, 600)));
        drop(guard);
        assert!(gates.lock().budgets.is_empty());
        assert!(gates.inbound(peer, &data(5, 600)));
    }

    #[test]
    fn silenced_connections_pass_nothing_either_way() {
        let gates = Gates::default();
        let peer = NodeId::new(&[1; 32]);
        // We connected on (send 11, recv 10) and gave up.
        gates.abandon(peer, 11, 10);
        assert_eq!(
            gates.next_local_reset(),
            Some((peer, 10)),
            "utp-rs is told to close"
        );
        assert_eq!(gates.next_local_reset(), None);
        assert!(!gates.outbound(peer, &header(1, 0, 11)), "FIN swallowed");
        assert!(
            !gates.outbound(peer, &header(ST_SYN, 0, 10)),
            "SYN retry swallowed"
        );
        assert!(!gates.inbound(peer, &data(10, 10)), "peer's DATA dropped");
        assert!(!gates.inbound(peer, &header(ST_SYN, 0, 11)));
        assert!(gates.outbound(peer, &header(1, 0, 12)));
        assert!(gates.outbound(NodeId::new(&[2; 32]), &header(1, 0, 11)));
        assert!(gates.any_silenced(peer, 11, 10));

        // The next stream overlaps on id 11 (the peer told us 11, we connect on
        // (send 12, recv 11)): its SYN and everything it receives pass, with no claim.
        assert!(!gates.any_silenced(peer, 12, 11));
        assert!(gates.outbound(peer, &header(ST_SYN, 0, 11)));
        assert!(gates.inbound(peer, &data(11, 10)));
        // (send 10, recv 9) sends on 10, which only the old one received on.
        assert!(!gates.any_silenced(peer, 10, 9));
        assert!(gates.outbound(peer, &data(10, 10)));
        assert!(gates.inbound(peer, &data(9, 10)));
    }

    #[test]
    fn a_claim_lifts_the_silence_on_exactly_its_ids() {
        let gates = Gates::default();
        let peer = NodeId::new(&[1; 32]);
        gates.abandon(peer, 11, 10);
        gates.abandon(peer, 21, 20);
        gates.claim(peer, 11, 10);
        assert!(gates.outbound(peer, &header(1, 0, 11)));
        assert!(gates.inbound(peer, &data(10, 10)));
        assert!(
            !gates.outbound(peer, &header(1, 0, 21)),
            "another stream stays silenced"
        );
        assert!(!gates.inbound(peer, &data(20, 10)));
    }
}
