use super::*;

fn header(kind: u8, ext: u8, conn_id: u16) -> Vec<u8> {
    let mut h = vec![0u8; HEADER_LEN];
    h[0] = (kind << 4) | 1;
    h[1] = ext;
    h[2..4].copy_from_slice(&conn_id.to_be_bytes());
    h
}

fn passes(gates: &Gates, peer: NodeId, packet: &[u8]) -> bool {
    gates.inbound(peer, packet) == Inbound::Pass
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
    assert!(passes(&gates, peer, &data(5, 600)));
    assert!(
        passes(&gates, peer, &header(2, 0, 5)),
        "STATE is not charged"
    );
    assert!(!passes(&gates, peer, &data(5, 600)));
    assert!(!passes(&gates, peer, &data(5, 1)), "spent stays spent");
    // Other streams are not affected.
    assert!(passes(&gates, other, &data(5, 600)));
    assert!(passes(&gates, peer, &data(6, 600)));
    drop(guard);
    assert!(gates.lock().budgets.is_empty());
    assert!(passes(&gates, peer, &data(5, 600)));
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
    assert!(!passes(&gates, peer, &data(10, 10)), "peer's DATA dropped");
    assert!(!passes(&gates, peer, &header(ST_SYN, 0, 11)));
    assert!(gates.outbound(peer, &header(1, 0, 12)));
    assert!(gates.outbound(NodeId::new(&[2; 32]), &header(1, 0, 11)));
    assert!(gates.any_silenced(peer, 11, 10));

    // The next stream overlaps on id 11 (the peer told us 11, we connect on
    // (send 12, recv 11)): its SYN and everything it receives pass, with no claim.
    assert!(!gates.any_silenced(peer, 12, 11));
    assert!(gates.outbound(peer, &header(ST_SYN, 0, 11)));
    assert!(passes(&gates, peer, &data(11, 10)));
    // (send 10, recv 9) sends on 10, which only the old one received on.
    assert!(!gates.any_silenced(peer, 10, 9));
    assert!(gates.outbound(peer, &data(10, 10)));
    assert!(passes(&gates, peer, &data(9, 10)));
}

#[test]
fn a_claim_lifts_the_silence_on_exactly_its_ids() {
    let gates = Gates::default();
    let peer = NodeId::new(&[1; 32]);
    gates.abandon(peer, 11, 10);
    gates.abandon(peer, 21, 20);
    gates.claim(peer, 11, 10);
    assert!(gates.outbound(peer, &header(1, 0, 11)));
    assert!(passes(&gates, peer, &data(10, 10)));
    assert!(
        !gates.outbound(peer, &header(1, 0, 21)),
        "another stream stays silenced"
    );
    assert!(!passes(&gates, peer, &data(20, 10)));
}

#[test]
fn a_stream_read_whole_acknowledges_its_resent_fin() {
    let gates = Gates::default();
    let peer = NodeId::new(&[1; 32]);
    // We read a stream on (send 8, recv 7) to its end; the peer's FIN (seq 300, ack 55)
    // comes again because our STATE for it was lost.
    gates.linger(peer, 8, 7);
    let mut fin = header(ST_FIN, 0, 7);
    fin[16..18].copy_from_slice(&300u16.to_be_bytes());
    fin[18..20].copy_from_slice(&55u16.to_be_bytes());
    assert_eq!(
        gates.inbound(peer, &fin),
        Inbound::AckFin {
            send: 8,
            fin_seq: 300,
            ack: 55
        }
    );
    assert_eq!(
        gates.inbound(peer, &data(7, 10)),
        Inbound::Drop,
        "late DATA"
    );
    assert!(
        passes(&gates, NodeId::new(&[2; 32]), &fin),
        "another peer's"
    );
    assert!(
        passes(&gates, peer, &header(ST_FIN, 0, 9)),
        "another stream's"
    );
    assert!(gates.any_silenced(peer, 8, 7), "its ids are not handed out");

    // The acknowledgement utp-rs' sender takes: a STATE on our send id acking the FIN.
    let ack = fin_ack_packet(8, 300, 55);
    assert_eq!(packet_kind(&ack), Some((2, 8)));
    assert_eq!(&ack[16..20], &[0, 55, 1, 44]);

    // A new stream on the same ids is not answered from here.
    gates.claim(peer, 8, 7);
    assert!(passes(&gates, peer, &fin));
}

#[test]
fn a_stream_read_whole_acknowledges_resent_data_with_its_fin() {
    let gates = Arc::new(Gates::default());
    let peer = NodeId::new(&[1; 32]);
    // Reading on (send 8, recv 7): the FIN (seq 300) passes and is noted in the budget.
    let budget = gates.budget(peer, 7, 10_000);
    let mut fin = header(ST_FIN, 0, 7);
    fin[16..18].copy_from_slice(&300u16.to_be_bytes());
    assert!(passes(&gates, peer, &fin));
    gates.linger(peer, 8, 7);
    drop(budget);
    // DATA 299 again (its acknowledgement was lost, and so was the FIN's): the answer
    // acknowledges everything, up to the FIN.
    let mut late = data(7, 10);
    late[16..18].copy_from_slice(&299u16.to_be_bytes());
    assert_eq!(
        gates.inbound(peer, &late),
        Inbound::AckFin {
            send: 8,
            fin_seq: 300,
            ack: 0
        }
    );
    assert_eq!(
        gates.inbound(peer, &late),
        Inbound::Drop,
        "one answer per burst"
    );
}

#[test]
fn utp_rs_resets_on_the_wrong_id_never_leave() {
    let gates = Gates::default();
    let peer = NodeId::new(&[1; 32]);
    assert!(!gates.outbound(peer, &header(ST_RESET, 0, 5)));
    assert!(gates.outbound(peer, &header(ST_FIN, 0, 5)));
}

#[test]
fn an_abandoned_stream_answers_what_the_peer_still_sends_with_a_reset() {
    let gates = Gates::default();
    let peer = NodeId::new(&[1; 32]);
    gates.abandon(peer, 11, 10);
    assert_eq!(
        gates.inbound(peer, &data(10, 10)),
        Inbound::Reset { send: 11 }
    );
    assert_eq!(
        gates.inbound(peer, &data(10, 10)),
        Inbound::Drop,
        "one per burst"
    );
    assert_eq!(
        gates.inbound(peer, &header(ST_RESET, 0, 10)),
        Inbound::Drop,
        "a RESET is not answered"
    );
}
