//! What may pass between utp-rs and discv5, per connection: receive budgets of the streams we
//! read, connections we abandoned or read to the end, and (feature `fault-injection`) packets
//! lost on purpose. [`super::utp`]'s socket adapter asks [`Gates`] about every packet.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use enr::NodeId;
use tokio::sync::Notify;
use utp_rs::packet::{PacketBuilder, PacketType};

use super::config::MAX_IDLE_TIMEOUT;

/// uTP packet types (BEP 29).
const ST_DATA: u8 = 0;
const ST_FIN: u8 = 1;
const ST_RESET: u8 = 3;
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

/// A STATE on our send id `conn_id` acknowledging the peer's FIN `fin_seq`; `seq_nr` is the
/// number the peer last acknowledged from us (a STATE does not take a number of its own).
pub(crate) fn fin_ack_packet(conn_id: u16, fin_seq: u16, seq_nr: u16) -> Vec<u8> {
    PacketBuilder::new(
        PacketType::State,
        conn_id,
        utp_rs::time::now_micros(),
        // The stream is over: any window will do.
        u32::from(u16::MAX),
        seq_nr,
    )
    .ack_num(fin_seq)
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
    /// The sequence number of the peer's FIN, once it came.
    fin_seq: Option<u16>,
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
    /// Connections that ended, by (peer, our receive id): what to answer the packets the peer
    /// still sends on them.
    ended: HashMap<(NodeId, u16), Ended>,
}

/// How a connection we no longer run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    /// Read to its end, up to the peer's FIN `fin_seq`: what the peer resends is acknowledged
    /// here (see [`Gates::linger`]).
    ReadWhole { fin_seq: Option<u16> },
    /// Given up: what the peer still sends is answered with a RESET (see [`Gates::abandon`]).
    Abandoned,
}

/// A connection that ended, as long as the peer may still send on it.
struct Ended {
    /// Our send id on it.
    send: u16,
    ending: Ending,
    until: Instant,
    /// When a packet of ours last answered the peer on it.
    last_reply: Option<Instant>,
}

/// At most one answer per this long to an ended connection's packets: a sender's window of
/// packets in flight gets one, its retransmissions (1 s apart and more) one each.
const REPLY_EVERY: Duration = Duration::from_millis(200);

impl GateState {
    /// Forgets silences and ended connections whose time is up.
    fn expire(&mut self, now: Instant) {
        self.silenced.retain(|_, until| *until > now);
        self.ended.retain(|_, ended| ended.until > now);
    }

    /// The ended connection with `peer` that receives on `recv`, while it counts.
    fn ended(&mut self, peer: NodeId, recv: u16, now: Instant) -> Option<&mut Ended> {
        if self
            .ended
            .get(&(peer, recv))
            .is_some_and(|e| e.until <= now)
        {
            self.ended.remove(&(peer, recv));
        }
        self.ended.get_mut(&(peer, recv))
    }

    fn end(&mut self, peer: NodeId, send: u16, recv: u16, ending: Ending, now: Instant) {
        self.expire(now);
        let ended = Ended {
            send,
            ending,
            until: now + SILENCE_FOR,
            last_reply: None,
        };
        self.ended.insert((peer, recv), ended);
    }

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

/// What becomes of an inbound uTP packet.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Inbound {
    /// Handed to utp-rs.
    Pass,
    /// Dropped.
    Drop,
    /// A packet resent on a stream we read to the end: the peer did not hear that we have it
    /// all, so a STATE on our send id `send` acknowledges its FIN `fin_seq` (see
    /// [`Gates::linger`]); `ack` is our number as the peer last saw it.
    AckFin { send: u16, fin_seq: u16, ack: u16 },
    /// A packet of a connection we abandoned, whose sender has not heard our RESET (it can be
    /// lost too): answered with another on our send id `send`.
    Reset { send: u16 },
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
///
/// A stream read to the end [lingers](Gates::linger): its last acknowledgement can be lost.
#[derive(Default)]
pub(crate) struct Gates {
    state: Mutex<GateState>,
    /// Wakes [`Discv5UtpSocket::recv_from`] for a queued local RESET.
    pub(crate) local_reset: Notify,
    /// Packets that tests and the stress run lose on purpose.
    #[cfg(feature = "fault-injection")]
    fault: Mutex<Option<Arc<dyn super::fault::UtpFault>>>,
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
                fin_seq: None,
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
    ///
    /// Its RESET to the peer can be lost, and a sender that never hears it would go on until
    /// its deadline: what the peer still sends on the connection is answered with another
    /// RESET (the stress run of issue #19 found 13 such senders in 2,000 transfers at 1 % loss).
    pub(crate) fn abandon(&self, peer: NodeId, send: u16, recv: u16) {
        let now = Instant::now();
        let mut state = self.lock();
        state.end(peer, send, recv, Ending::Abandoned, now);
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
        state.ended.remove(&(peer, recv));
    }

    /// The stream with `peer` on ids `send` and `recv` has been read to the end: for a while,
    /// what the peer sends again on it is answered here with an acknowledgement of its FIN.
    ///
    /// utp-rs closes a stream it reads as soon as it has acknowledged the FIN, and forgets it.
    /// When that last STATE is lost, the sender resends its FIN (or a DATA packet whose first
    /// acknowledgement was lost too) to a connection that no longer exists; utp-rs answers
    /// with a RESET on the id the packet carried, which the sender's socket cannot match to an
    /// accepted connection, so the sender waited out its whole deadline before `close` failed
    /// (issue #19). This is TCP's TIME-WAIT, kept outside utp-rs: every byte and the FIN did
    /// arrive, so acknowledging the FIN again is true. Call it while the stream's receive
    /// budget is still registered: that is where the FIN's number was noted.
    pub(crate) fn linger(&self, peer: NodeId, send: u16, recv: u16) {
        let mut state = self.lock();
        let fin_seq = state.budgets.get(&(peer, recv)).and_then(|b| b.fin_seq);
        state.end(
            peer,
            send,
            recv,
            Ending::ReadWhole { fin_seq },
            Instant::now(),
        );
    }

    /// Whether the connection (`send`, `recv`) with `peer` would share silenced ids with an
    /// abandoned one: ids we hand out should not, or the peer's late packets for the old
    /// stream would reach the new one.
    pub(crate) fn any_silenced(&self, peer: NodeId, send: u16, recv: u16) -> bool {
        let mut state = self.lock();
        Wire::of(send, recv)
            .iter()
            .any(|wire| state.is_silenced(&(peer, *wire)))
            || state.ended(peer, recv, Instant::now()).is_some()
    }

    pub(crate) fn next_local_reset(&self) -> Option<(NodeId, u16)> {
        self.lock().local_resets.pop_front()
    }

    /// Installs (or with `None` removes) a fault that loses chosen packets.
    #[cfg(feature = "fault-injection")]
    pub(crate) fn set_fault(&self, fault: Option<Arc<dyn super::fault::UtpFault>>) {
        *self.fault.lock().unwrap_or_else(|e| e.into_inner()) = fault;
    }

    /// Whether the installed fault loses this packet.
    #[cfg(feature = "fault-injection")]
    fn faulted(&self, direction: super::fault::Direction, peer: NodeId, packet: &[u8]) -> bool {
        let fault = self.fault.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match (fault, super::fault::UtpPacket::parse(peer.raw(), packet)) {
            (Some(fault), Some(info)) => fault.drop_packet(direction, &info),
            _ => false,
        }
    }

    /// Whether an outbound packet is lost on purpose (never, without `fault-injection`).
    pub(crate) fn lost(&self, peer: NodeId, packet: &[u8]) -> bool {
        #[cfg(feature = "fault-injection")]
        return self.faulted(super::fault::Direction::Outbound, peer, packet);
        #[cfg(not(feature = "fault-injection"))]
        {
            let _ = (peer, packet);
            false
        }
    }

    /// Whether an outbound packet of utp-rs' to `peer` may go out.
    pub(crate) fn outbound(&self, peer: NodeId, packet: &[u8]) -> bool {
        if self.lost(peer, packet) {
            return false;
        }
        match packet_kind(packet) {
            // utp-rs sends a RESET only to answer a packet of a connection it does not know, on
            // the id that packet carried: the peer's *send* id. BEP 29 says the peer's receive
            // id, and the peer's socket matches the two differently: an accepted connection
            // never gets it, and a newer connection of the peer's that receives on that id is
            // killed by it (the stall left after the first fix, issue #19: the late STATEs of
            // a just-abandoned stream drew RESETs that reset the next stream on the
            // neighbouring ids). Connections that ended here are answered by `inbound` with
            // the right id; a packet of one we never knew goes unanswered and its sender's
            // deadline ends it.
            Some((ST_RESET, _)) => false,
            Some((kind, conn_id)) => !self
                .lock()
                .is_silenced(&(peer, Wire::outbound(kind, conn_id))),
            None => true,
        }
    }

    /// What becomes of an inbound packet from `peer`; charges DATA to its budget.
    pub(crate) fn inbound(&self, peer: NodeId, packet: &[u8]) -> Inbound {
        #[cfg(feature = "fault-injection")]
        if self.faulted(super::fault::Direction::Inbound, peer, packet) {
            return Inbound::Drop;
        }
        let Some((kind, conn_id)) = packet_kind(packet) else {
            return Inbound::Pass;
        };
        let mut state = self.lock();
        let now = Instant::now();
        if kind != ST_SYN && kind != ST_RESET {
            if let Some(ended) = state.ended(peer, conn_id, now) {
                if ended
                    .last_reply
                    .is_some_and(|at| now.duration_since(at) < REPLY_EVERY)
                {
                    return Inbound::Drop;
                }
                // seq_nr and ack_nr: bytes 16..20 of the header (packet_kind checked 20).
                let seq_nr = u16::from_be_bytes([packet[16], packet[17]]);
                let ack = u16::from_be_bytes([packet[18], packet[19]]);
                let reply = match (ended.ending, kind) {
                    (Ending::ReadWhole { .. }, ST_FIN) => Inbound::AckFin {
                        send: ended.send,
                        fin_seq: seq_nr,
                        ack,
                    },
                    (
                        Ending::ReadWhole {
                            fin_seq: Some(fin_seq),
                        },
                        ST_DATA,
                    ) => Inbound::AckFin {
                        send: ended.send,
                        fin_seq,
                        ack,
                    },
                    (Ending::ReadWhole { .. }, _) => return Inbound::Drop,
                    (Ending::Abandoned, _) => Inbound::Reset { send: ended.send },
                };
                ended.last_reply = Some(now);
                return reply;
            }
        }
        if state.is_silenced(&(peer, Wire::inbound(kind, conn_id))) {
            return Inbound::Drop;
        }
        if kind != ST_DATA && kind != ST_FIN {
            return Inbound::Pass;
        }
        let Some(budget) = state.budgets.get_mut(&(peer, conn_id)) else {
            return Inbound::Pass;
        };
        if kind == ST_FIN {
            budget.fin_seq = Some(u16::from_be_bytes([packet[16], packet[17]]));
            return Inbound::Pass;
        }
        if budget.spent {
            return Inbound::Drop;
        }
        match data_len(packet).and_then(|len| budget.remaining.checked_sub(len)) {
            Some(left) => {
                budget.remaining = left;
                Inbound::Pass
            }
            None => {
                budget.spent = true;
                // notify_one stores a permit, so the reader sees it even if not yet waiting.
                budget.exceeded.notify_one();
                Inbound::Drop
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

#[cfg(test)]
mod tests;
