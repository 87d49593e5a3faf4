//! uTP transfers that lose exactly the packets that once stalled them (issue #19), through the
//! `fault-injection` hook on real sockets. The packet traces these come from are in
//! BENCHMARKS.md ("uTP stalls").

use std::sync::{Arc, Mutex};
use std::time::Duration;

use portal_state::net::fault::{Direction, UtpFault, UtpPacket, UtpPacketType};

use super::{payload, short_utp, start_with, within};
use portal_state::net::NetError;

/// Loses the reader's first acknowledgement of the sender's FIN: the last packet of a transfer.
#[derive(Default)]
struct LoseFinAck {
    /// The FIN's sequence number, once it came in.
    fin_seq: Mutex<Option<u16>>,
    lost: Mutex<u32>,
}

impl UtpFault for LoseFinAck {
    fn drop_packet(&self, direction: Direction, packet: &UtpPacket) -> bool {
        match (direction, packet.kind) {
            (Direction::Inbound, UtpPacketType::Fin) => {
                *self.fin_seq.lock().unwrap() = Some(packet.seq_nr);
                false
            }
            (Direction::Outbound, UtpPacketType::State) => {
                let mut lost = self.lost.lock().unwrap();
                let acks_fin = *self.fin_seq.lock().unwrap() == Some(packet.ack_nr);
                if acks_fin && *lost == 0 {
                    *lost += 1;
                    return true;
                }
                false
            }
            _ => false,
        }
    }
}

/// FindContent of `len` bytes between two new nodes (keys `n`, `n + 1`) with `fault` on the
/// requester; the requester must read it all. Returns the holder's result.
async fn find_content_with_fault(
    n: u8,
    deadline: Duration,
    len: usize,
    fault: Arc<dyn UtpFault>,
) -> Result<(), NetError> {
    let (a, _ai) = start_with(short_utp(n, deadline)).await;
    let (b, _bi) = start_with(short_utp(n + 1, deadline)).await;
    a.set_utp_fault(Some(fault));
    let data = payload(len);
    let cid = b.new_connection_id(&a.local_enr());
    let holder = {
        let (b, a_enr, data) = (b.clone(), a.local_enr(), data.clone());
        tokio::spawn(async move { b.utp_accept_send(a_enr, cid, data).await })
    };
    let got = a
        .utp_connect_receive(b.local_enr(), cid, len)
        .await
        .expect("the requester reads it all");
    assert!(got == data);
    let held = holder.await.unwrap();
    a.shutdown().await;
    b.shutdown().await;
    held
}

/// FindContent: the holder sends, the requester reads, and the requester's STATE for the FIN is
/// lost. utp-rs on the requester had already closed and forgotten the stream, answered the
/// holder's resent FIN with a RESET on an id the holder's socket could not match, and the holder
/// waited out its deadline (`Err(Timeout)`, 3 s here, 10 s in a node).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_ack_of_the_fin_does_not_hold_the_sender_to_its_deadline() {
    within("lost FIN ack, FindContent", async {
        let fault = Arc::new(LoseFinAck::default());
        let held = find_content_with_fault(40, Duration::from_secs(3), 6_358, fault.clone()).await;
        assert_eq!(held, Ok(()), "the holder's close");
        assert_eq!(
            *fault.lost.lock().unwrap(),
            1,
            "the ack of the FIN was lost"
        );
    })
    .await
}

/// Loses the one DATA packet of a small transfer on its first way in, then the acknowledgement
/// of everything: the sender then resends that DATA packet, not its FIN, to a reader that has
/// closed.
#[derive(Default)]
struct LoseDataThenFinAck {
    data_lost: Mutex<bool>,
    fin: LoseFinAck,
}

impl UtpFault for LoseDataThenFinAck {
    fn drop_packet(&self, direction: Direction, packet: &UtpPacket) -> bool {
        if (direction, packet.kind) == (Direction::Inbound, UtpPacketType::Data) {
            let mut lost = self.data_lost.lock().unwrap();
            if !*lost {
                *lost = true;
                return true;
            }
        }
        self.fin.drop_packet(direction, packet)
    }
}

/// The second way the holder stalled: its last DATA was lost, the FIN came, the DATA came again
/// and the reader closed, and the STATE that said so was lost. The holder kept resending the
/// DATA packet (utp-rs resends the oldest unacknowledged packet), which a closed reader dropped
/// (or answered with an unroutable RESET), until the deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_ack_after_a_resent_data_packet_does_not_hold_the_sender() {
    within("lost DATA, then lost ack", async {
        let fault = Arc::new(LoseDataThenFinAck::default());
        let held = find_content_with_fault(46, Duration::from_secs(4), 500, fault.clone()).await;
        assert_eq!(held, Ok(()), "the holder's close");
        assert!(*fault.data_lost.lock().unwrap());
        assert_eq!(
            *fault.fin.lost.lock().unwrap(),
            1,
            "the ack of the FIN was lost"
        );
    })
    .await
}

/// Offer: the offerer sends, the acceptor reads, and the acceptor's STATE for the FIN is lost.
/// Before the fix the offerer's resent FIN met utp-rs' RESET and the offer failed although it
/// had been delivered whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_ack_of_the_fin_does_not_fail_a_delivered_offer() {
    within("lost FIN ack, Offer", async {
        let deadline = Duration::from_secs(3);
        let (a, _ai) = start_with(short_utp(42, deadline)).await;
        let (b, _bi) = start_with(short_utp(43, deadline)).await;
        let fault = Arc::new(LoseFinAck::default());
        b.set_utp_fault(Some(fault.clone()));

        let data = payload(20_000);
        let cid = b.new_connection_id(&a.local_enr());
        let receiver = {
            let (b, a_enr) = (b.clone(), a.local_enr());
            tokio::spawn(async move { b.utp_accept_receive(a_enr, cid, 20_000).await })
        };
        let sent = a.utp_connect_send(b.local_enr(), cid, data.clone()).await;
        let got = receiver.await.unwrap().expect("the acceptor reads it all");
        assert!(got == data);
        assert_eq!(sent, Ok(()), "the offerer's close");
        assert_eq!(
            *fault.lost.lock().unwrap(),
            1,
            "the ack of the FIN was lost"
        );

        a.shutdown().await;
        b.shutdown().await;
    })
    .await
}

/// A peer that is gone for good still ends the transfer at its deadline, with a clear error:
/// the requester falls silent, both ways, after 50 packets of data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_whose_reader_is_gone_still_ends_at_its_deadline() {
    #[derive(Default)]
    struct GoneAfterFifty(Mutex<u32>);
    impl UtpFault for GoneAfterFifty {
        fn drop_packet(&self, direction: Direction, packet: &UtpPacket) -> bool {
            let mut seen = self.0.lock().unwrap();
            if direction == Direction::Inbound && packet.kind == UtpPacketType::Data {
                *seen += 1;
            }
            *seen > 50
        }
    }
    within("reader gone", async {
        let deadline = Duration::from_secs(2);
        let (a, _ai) = start_with(short_utp(44, deadline)).await;
        let (b, _bi) = start_with(short_utp(45, deadline)).await;
        a.set_utp_fault(Some(Arc::new(GoneAfterFifty::default())));
        let cid = b.new_connection_id(&a.local_enr());
        let holder = {
            let (b, a_enr) = (b.clone(), a.local_enr());
            tokio::spawn(async move { b.utp_accept_send(a_enr, cid, payload(200_000)).await })
        };
        let read = a.utp_connect_receive(b.local_enr(), cid, 200_000).await;
        assert_eq!(read, Err(NetError::Timeout));
        assert_eq!(holder.await.unwrap(), Err(NetError::Timeout));

        a.shutdown().await;
        b.shutdown().await;
    })
    .await
}

/// A reader that gives up tells the sender with a RESET; when that RESET is lost, the sender
/// used to go on into silence until its deadline. What it still sends is now answered with
/// another RESET, and it fails at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_reset_does_not_leave_the_sender_of_an_abandoned_stream_waiting() {
    #[derive(Default)]
    struct LoseFirstReset(Mutex<u32>);
    impl UtpFault for LoseFirstReset {
        fn drop_packet(&self, direction: Direction, packet: &UtpPacket) -> bool {
            let mut lost = self.0.lock().unwrap();
            let first = *lost == 0;
            if (direction, packet.kind) == (Direction::Outbound, UtpPacketType::Reset) && first {
                *lost += 1;
                return true;
            }
            false
        }
    }
    within("lost RESET", async {
        let deadline = Duration::from_secs(4);
        let (a, _ai) = start_with(short_utp(48, deadline)).await;
        let (b, _bi) = start_with(short_utp(49, deadline)).await;
        let fault = Arc::new(LoseFirstReset::default());
        a.set_utp_fault(Some(fault.clone()));

        let cid = b.new_connection_id(&a.local_enr());
        let holder = {
            let (b, a_enr) = (b.clone(), a.local_enr());
            tokio::spawn(async move { b.utp_accept_send(a_enr, cid, payload(500_000)).await })
        };
        let read = a.utp_connect_receive(b.local_enr(), cid, 10_000).await;
        assert_eq!(read, Err(NetError::TooLarge { max: 10_000 }));
        assert_eq!(*fault.0.lock().unwrap(), 1, "the reader's RESET was lost");
        let sent = holder.await.unwrap();
        assert!(
            matches!(sent, Err(NetError::Utp(_))),
            "the sender hears of it, not its deadline: {sent:?}"
        );

        a.shutdown().await;
        b.shutdown().await;
    })
    .await
}

/// Keeps every uTP packet header a node sees, to print the trace of a transfer that failed.
pub struct PacketLog {
    node: char,
    start: std::time::Instant,
    seen: Arc<Mutex<Vec<String>>>,
}

impl PacketLog {
    /// A log for both `a` and `b`, into one list.
    pub fn install(
        a: &portal_state::net::Transport,
        b: &portal_state::net::Transport,
    ) -> Arc<Mutex<Vec<String>>> {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let start = std::time::Instant::now();
        for (node, t) in [('A', a), ('B', b)] {
            t.set_utp_fault(Some(Arc::new(PacketLog {
                node,
                start,
                seen: seen.clone(),
            })));
        }
        seen
    }

    /// The lines of the packets on connection ids `first..=last`.
    pub fn lines(seen: &Mutex<Vec<String>>, ids: &[u16]) -> String {
        let seen = seen.lock().unwrap();
        let wanted: Vec<String> = ids.iter().map(|id| format!(" conn={id} ")).collect();
        seen.iter()
            .filter(|line| wanted.iter().any(|w| line.contains(w.as_str())))
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl UtpFault for PacketLog {
    fn drop_packet(&self, direction: Direction, p: &UtpPacket) -> bool {
        self.seen.lock().unwrap().push(format!(
            "{:>9.3?} {} {:?} {:?} conn={} seq={} ack={}",
            self.start.elapsed(),
            self.node,
            direction,
            p.kind,
            p.conn_id,
            p.seq_nr,
            p.ack_nr
        ));
        false
    }
}
