//! The network transport over real UDP sockets on 127.0.0.1: TALKREQ round trips, ENR fields and
//! version negotiation, uTP transfers both ways, failures, limits and shutdown.
//!
//! Timeouts here only keep a broken build from hanging; nothing asserts how fast anything is.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use enr::CombinedKey;
use portal_state::net::{
    enr_from_base64, negotiate_version, Enr, InboundRequest, NetError, PortalEnrField, Transport,
    TransportConfig, ENR_KEY_P, ENR_KEY_PV, STATE_PROTOCOL_ID,
};
use portal_state::wire::ProtocolVersion;
use tokio::sync::mpsc;

// Needs the packet hook of the `fault-injection` feature, which the test command turns on.
#[cfg(feature = "fault-injection")]
mod lost_packets;

const CHAIN: u64 = 1;
/// Guards every test against hanging.
const TEST_DEADLINE: Duration = Duration::from_secs(90);

fn secret(n: u8) -> [u8; 32] {
    // Any value in 1..order is a valid secp256k1 key; these are far below the order.
    let mut key = [0u8; 32];
    key[31] = n;
    key[0] = 0x11;
    key
}

async fn start(n: u8, chain_id: u64) -> (Transport, mpsc::Receiver<InboundRequest>) {
    start_with(TransportConfig::loopback(secret(n), chain_id)).await
}

async fn start_with(config: TransportConfig) -> (Transport, mpsc::Receiver<InboundRequest>) {
    Transport::start(config).await.expect("transport starts")
}

fn short_utp(n: u8, utp_timeout: Duration) -> TransportConfig {
    TransportConfig {
        utp_timeout,
        ..TransportConfig::loopback(secret(n), CHAIN)
    }
}

async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(TEST_DEADLINE, future)
        .await
        .unwrap_or_else(|_| panic!("{what}: did not finish"))
}

/// Waits until no uTP stream is open on any of `nodes` (abandoned streams are reaped by their
/// idle timeout, so this may take that long).
async fn no_open_streams(nodes: &[&Transport]) {
    within("uTP streams to close", async {
        while nodes.iter().any(|t| t.open_utp_streams() > 0) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

/// An ENR signed by a throwaway key, with the given Portal fields.
fn peer_enr(p: Option<&[u8]>, pv: Option<&[u8]>) -> Enr {
    let key = CombinedKey::secp256k1_from_bytes(&mut secret(200)).unwrap();
    let mut builder = Enr::builder();
    builder.ip4(Ipv4Addr::LOCALHOST).udp4(9);
    if let Some(raw) = p {
        builder.add_value_rlp(ENR_KEY_P, raw.to_vec().into());
    }
    if let Some(versions) = pv {
        builder.add_value(ENR_KEY_PV, &alloy_rlp::Bytes::from(versions.to_vec()));
    }
    builder.build(&key).unwrap()
}

fn p_field(pv_min: u8, pv_max: u8, chain_id: u64) -> Vec<u8> {
    alloy_rlp::encode(PortalEnrField {
        pv_min,
        pv_max,
        chain_id,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn talkreq_round_trip_carries_bytes_and_sender_identity() {
    within("round trip", async {
        let (a, _a_inbound) = start(1, CHAIN).await;
        let (b, mut b_inbound) = start(2, CHAIN).await;
        let a_enr = a.local_enr();
        let a_id = a.local_node_id();

        // B answers "pong:" + body, except for "silent", which it drops unanswered.
        let responder = tokio::spawn(async move {
            let mut seen = Vec::new();
            while let Some(request) = b_inbound.recv().await {
                seen.push((request.node_id(), request.enr()));
                if request.body() == b"silent" {
                    drop(request);
                } else {
                    let mut response = b"pong:".to_vec();
                    response.extend_from_slice(request.body());
                    request.respond(response);
                }
                if seen.len() == 2 {
                    break;
                }
            }
            seen
        });

        // A learns B only from its ENR, as from a bootnode string.
        let b_enr = enr_from_base64(&b.local_enr().to_string()).unwrap();
        let body = vec![0x00, 0x01, 0x02, 0xff];
        let response = a.request(&b_enr, body.clone()).await.unwrap();
        assert_eq!(response, [b"pong:".as_slice(), &body].concat());
        assert_eq!(a.request(&b_enr, b"silent".to_vec()).await.unwrap(), b"");

        let seen = responder.await.unwrap();
        for (node_id, enr) in seen {
            assert_eq!(node_id, a_id);
            let enr = enr.expect("B knows A's ENR from the handshake");
            assert_eq!(enr.node_id().raw(), a_id);
            assert_eq!(enr, a_enr);
        }
        assert_eq!(b.known_enr(&a_id), Some(a_enr));
        assert_eq!(a.known_enr(&b.local_node_id()), Some(b.local_enr()));
        assert_eq!(a.known_enr(&[9; 32]), None);

        a.shutdown().await;
        b.shutdown().await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_enr_announces_versions_chain_and_real_port() {
    within("own ENR", async {
        let (a, _inbound) = start(3, 11_155_111).await;
        let enr = a.local_enr();
        assert_eq!(STATE_PROTOCOL_ID, [0x50, 0x0a]);
        assert_eq!(enr.udp4_socket().map(SocketAddr::V4), Some(a.local_addr()));
        assert_ne!(a.local_addr().port(), 0);
        assert_eq!(enr.node_id().raw(), a.local_node_id());
        assert_eq!(
            PortalEnrField::from_enr(&enr),
            Some(Ok(PortalEnrField {
                pv_min: 0,
                pv_max: 2,
                chain_id: 11_155_111
            }))
        );
        // `p` = rlp([0, 2, 11155111]); `pv` = the byte string 0x000102.
        assert_eq!(
            enr.get_raw_rlp(ENR_KEY_P).unwrap(),
            [0xc6, 0x80, 0x02, 0x83, 0xaa, 0x36, 0xa7]
        );
        assert_eq!(
            enr.get_raw_rlp(ENR_KEY_PV).unwrap(),
            [0x83, 0x00, 0x01, 0x02]
        );
        // Text form round trip, as bootnodes are given.
        let text = enr.to_string();
        assert!(text.starts_with("enr:"));
        assert_eq!(enr_from_base64(&text).unwrap(), enr);
        // A node negotiates v2 with itself.
        assert_eq!(a.peer_version(&enr), Ok(ProtocolVersion::V2));
        a.shutdown().await;
    })
    .await
}

#[test]
fn version_negotiation_from_enr_fields() {
    let v = |p: Option<Vec<u8>>, pv: Option<&[u8]>| {
        negotiate_version(&peer_enr(p.as_deref(), pv), CHAIN)
    };
    // `p`: highest common version.
    assert_eq!(v(Some(p_field(0, 2, CHAIN)), None), Ok(ProtocolVersion::V2));
    assert_eq!(v(Some(p_field(0, 1, CHAIN)), None), Ok(ProtocolVersion::V1));
    assert_eq!(v(Some(p_field(1, 7, CHAIN)), None), Ok(ProtocolVersion::V2));
    assert_eq!(
        v(Some(p_field(3, 4, CHAIN)), None),
        Err(NetError::NoCommonVersion)
    );
    assert_eq!(
        v(Some(p_field(2, 1, CHAIN)), None),
        Err(NetError::NoCommonVersion)
    );
    // `p` naming another chain.
    assert_eq!(
        v(Some(p_field(0, 2, 5)), None),
        Err(NetError::WrongChain { ours: 1, theirs: 5 })
    );
    // `p` wins over `pv`.
    assert_eq!(
        v(Some(p_field(0, 0, CHAIN)), Some(&[0, 1, 2])),
        Ok(ProtocolVersion::V0)
    );
    // Extra trailing items in `p` are tolerated: [0, 2, 1, "future"].
    let extended = [&[0xca, 0x80, 0x02, 0x01, 0x86][..], b"future"].concat();
    assert_eq!(v(Some(extended), None), Ok(ProtocolVersion::V2));
    // Malformed `p` is an error, not a guess.
    assert!(matches!(
        v(Some(vec![0x82, 0x00, 0x02]), None),
        Err(NetError::InvalidEnr(_))
    ));
    // Legacy `pv` only.
    assert_eq!(v(None, Some(&[0, 1])), Ok(ProtocolVersion::V1));
    assert_eq!(v(None, Some(&[0])), Ok(ProtocolVersion::V0));
    assert_eq!(v(None, Some(&[2, 0])), Ok(ProtocolVersion::V2));
    assert_eq!(v(None, Some(&[9])), Err(NetError::NoCommonVersion));
    // Neither field: a v0 node.
    assert_eq!(v(None, None), Ok(ProtocolVersion::V0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_on_another_chain_are_refused_both_ways() {
    within("wrong chain", async {
        let (a, mut a_inbound) = start(4, CHAIN).await;
        let (c, _c_inbound) = start(5, 5).await;

        // Outbound: refused before anything is sent, so C never even hears of A.
        assert_eq!(
            a.request(&c.local_enr(), b"hello".to_vec()).await,
            Err(NetError::WrongChain { ours: 1, theirs: 5 })
        );
        assert_eq!(c.known_enr(&a.local_node_id()), None);
        assert_eq!(a.known_enr(&c.local_node_id()), None);

        // Inbound: C reaches A through an ENR for A without `p` (signed with A's key, which
        // this test knows). A learns C's chain from the handshake and drops the request: C
        // gets the empty answer and A's overlay never sees it.
        let a_key = CombinedKey::secp256k1_from_bytes(&mut secret(4)).unwrap();
        let a_addr = match a.local_addr() {
            SocketAddr::V4(addr) => addr,
            SocketAddr::V6(_) => unreachable!("bound to 127.0.0.1"),
        };
        let a_without_chain = Enr::builder()
            .ip4(*a_addr.ip())
            .udp4(a_addr.port())
            .build(&a_key)
            .unwrap();
        assert_eq!(a_without_chain.node_id().raw(), a.local_node_id());
        assert_eq!(
            c.request(&a_without_chain, b"hello".to_vec()).await,
            Ok(vec![])
        );
        assert!(
            a.known_enr(&c.local_node_id()).is_some(),
            "the request did reach A"
        );
        assert!(
            a_inbound.try_recv().is_err(),
            "A's overlay got a wrong-chain request"
        );

        a.shutdown().await;
        c.shutdown().await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn utp_moves_content_both_ways_and_leaks_nothing() {
    within("uTP transfers", async {
        let (a, _ai) = start(6, CHAIN).await;
        let (b, _bi) = start(7, CHAIN).await;
        let (a_enr, b_enr) = (a.local_enr(), b.local_enr());

        for len in [6_358, 100_000] {
            let data = payload(len);

            // FindContent: B holds the content, puts a connection id in its Content message
            // and accepts; A, the requester, connects and reads.
            let cid = b.new_connection_id(&a_enr);
            let holder = {
                let (b, a_enr, data) = (b.clone(), a_enr.clone(), data.clone());
                tokio::spawn(async move { b.utp_accept_send(a_enr, cid, data).await })
            };
            let got = a
                .utp_connect_receive(b_enr.clone(), cid, len)
                .await
                .unwrap();
            assert_eq!(got.len(), len);
            assert!(got == data, "FindContent payload differs");
            holder.await.unwrap().unwrap();

            // Offer: B accepts and puts a connection id in its Accept; A, the offerer,
            // connects and sends.
            let cid = b.new_connection_id(&a_enr);
            let receiver = {
                let (b, a_enr) = (b.clone(), a_enr.clone());
                tokio::spawn(async move { b.utp_accept_receive(a_enr, cid, len).await })
            };
            a.utp_connect_send(b_enr.clone(), cid, data.clone())
                .await
                .unwrap();
            let got = receiver.await.unwrap().unwrap();
            assert!(got == data, "offered payload differs");
        }

        no_open_streams(&[&a, &b]).await;
        assert_eq!(
            a.utp_streams_available(),
            TransportConfig::DEFAULT_MAX_UTP_STREAMS
        );
        a.shutdown().await;
        b.shutdown().await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn utp_without_a_counterpart_fails_within_the_deadline() {
    within("unanswered uTP", async {
        let deadline = Duration::from_secs(2);
        let (a, _ai) = start_with(short_utp(8, deadline)).await;
        let (b, _bi) = start_with(short_utp(9, deadline)).await;

        // Connect to an id nobody accepts.
        let cid = b.new_connection_id(&a.local_enr());
        let result = a.utp_connect_receive(b.local_enr(), cid, 1000).await;
        assert!(result.is_err(), "connect to an unaccepted id: {result:?}");

        // Accept that nobody connects to.
        let cid = a.new_connection_id(&b.local_enr());
        let result = a.utp_accept_send(b.local_enr(), cid, payload(10)).await;
        assert_eq!(result, Err(NetError::Timeout));

        no_open_streams(&[&a, &b]).await;
        a.shutdown().await;
        b.shutdown().await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_vanishing_mid_stream_is_an_error_and_leaks_nothing() {
    within("vanishing peer", async {
        let deadline = Duration::from_secs(3);
        let (a, _ai) = start_with(short_utp(10, deadline)).await;
        let (b, _bi) = start_with(short_utp(11, deadline)).await;

        // A accepts and B connects, so the stream is established; A then goes away before
        // sending its end of stream.
        let cid = a.new_connection_id(&b.local_enr());
        let a_side = {
            let (a, b_enr) = (a.clone(), b.local_enr());
            tokio::spawn(async move { a.utp_accept_receive(b_enr, cid, 1 << 20).await })
        };
        let b_side = {
            let (b, a_enr) = (b.clone(), a.local_enr());
            tokio::spawn(async move { b.utp_connect_receive(a_enr, cid, 1 << 20).await })
        };
        // Wait until B's stream is really connected (the connection exists on A's side).
        within("stream established", async {
            while a.open_utp_streams() == 0 || b.open_utp_streams() == 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        a.shutdown().await;

        assert_eq!(a_side.await.unwrap(), Err(NetError::Shutdown));
        let result = b_side.await.unwrap();
        assert!(result.is_err(), "read from a vanished peer: {result:?}");
        no_open_streams(&[&a, &b]).await;
        b.shutdown().await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_more_than_max_bytes_is_refused() {
    within("size cap", async {
        let deadline = Duration::from_secs(3);
        let (a, _ai) = start_with(short_utp(12, deadline)).await;
        let (b, _bi) = start_with(short_utp(13, deadline)).await;

        // Slightly too much: the whole stream arrives, then the length check refuses it.
        let cid = b.new_connection_id(&a.local_enr());
        let holder = {
            let (b, a_enr) = (b.clone(), a.local_enr());
            tokio::spawn(async move { b.utp_accept_send(a_enr, cid, payload(10_001)).await })
        };
        let result = a.utp_connect_receive(b.local_enr(), cid, 10_000).await;
        assert_eq!(result, Err(NetError::TooLarge { max: 10_000 }));
        let _ = holder.await.unwrap();

        // Far too much, offered: cut off while it is still coming in.
        let cid = b.new_connection_id(&a.local_enr());
        let receiver = {
            let (b, a_enr) = (b.clone(), a.local_enr());
            tokio::spawn(async move { b.utp_accept_receive(a_enr, cid, 1_000).await })
        };
        let sent = a
            .utp_connect_send(b.local_enr(), cid, payload(500_000))
            .await;
        assert_eq!(
            receiver.await.unwrap(),
            Err(NetError::TooLarge { max: 1_000 })
        );
        assert!(
            sent.is_err(),
            "the cut-off offer cannot have been delivered"
        );

        no_open_streams(&[&a, &b]).await;
        a.shutdown().await;
        b.shutdown().await;
    })
    .await
}

/// A stream given up on must not hold up later ones with the same peer. Connection ids come in
/// adjacent pairs, so a later stream's ids can overlap an abandoned one's; packets on the shared
/// id used to be dropped as the abandoned stream's, and the new stream stalled until the uTP
/// deadline (the light node's 10 s calls in BENCHMARKS.md, issue #5). Here every 6 KB transfer
/// shares an id with a stream abandoned just before; none may time out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_after_an_abandoned_one_are_not_held_up() {
    within("transfers after abandoned streams", async {
        let (a, _ai) = start(19, CHAIN).await;
        let (b, _bi) = start(20, CHAIN).await;
        // The packet trace, printed for a transfer that times out.
        #[cfg(feature = "fault-injection")]
        let log = lost_packets::PacketLog::install(&a, &b);
        let (a_enr, b_enr) = (a.local_enr(), b.local_enr());
        let content = payload(6_358);
        let send = |cid: u16, data: Vec<u8>| {
            let (b, a_enr) = (b.clone(), a_enr.clone());
            tokio::spawn(async move { b.utp_accept_send(a_enr, cid, data).await })
        };

        let (mut delivered, mut timeouts, mut failures) = (0, 0, Vec::new());
        for round in 0..6 {
            // A takes at most 10,000 bytes and gives the stream up: B's 20,000 arrive whole and
            // are refused, B's 500,000 are cut off while still coming in.
            let too_much = if round % 2 == 0 { 20_000 } else { 500_000 };
            let cid = b.new_connection_id(&a_enr);
            let holder = send(cid, payload(too_much));
            let refused = a.utp_connect_receive(b_enr.clone(), cid, 10_000).await;
            assert_eq!(refused, Err(NetError::TooLarge { max: 10_000 }));
            let _ = holder.await.unwrap();

            // The FindContent transfers that follow use the neighbouring ids: A's receive id,
            // then its send id, is one the abandoned stream had.
            for next in [cid.wrapping_add(1), cid.wrapping_sub(1)] {
                let holder = send(next, content.clone());
                match a
                    .utp_connect_receive(b_enr.clone(), next, content.len())
                    .await
                {
                    Ok(got) => {
                        assert!(got == content, "payload differs");
                        delivered += 1;
                    }
                    Err(NetError::Timeout) => timeouts += 1,
                    Err(e) => failures.push(format!("receiver: {e}")),
                }
                match holder.await.unwrap() {
                    Ok(()) => {}
                    Err(NetError::Timeout) => timeouts += 1,
                    Err(e) => failures.push(format!("sender: {e}")),
                }
            }
            if timeouts > 0 {
                #[cfg(feature = "fault-injection")]
                eprintln!(
                    "trace of round {round} (abandoned on {cid}):\n{}",
                    lost_packets::PacketLog::lines(
                        &log,
                        &[
                            cid.wrapping_sub(1),
                            cid,
                            cid.wrapping_add(1),
                            cid.wrapping_add(2)
                        ]
                    )
                );
                break; // the old behaviour: each further one would wait out the deadline too
            }
        }
        assert_eq!(timeouts, 0, "transfers that hit the uTP deadline");
        assert_eq!(failures, Vec::<String>::new());
        assert_eq!(delivered, 12);

        no_open_streams(&[&a, &b]).await;
        a.shutdown().await;
        b.shutdown().await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_beyond_the_cap_are_refused_at_once() {
    within("stream cap", async {
        let config = TransportConfig {
            max_utp_streams: 2,
            ..short_utp(14, Duration::from_secs(30))
        };
        let (a, _ai) = start_with(config).await;
        let (b, _bi) = start(15, CHAIN).await;
        let b_enr = b.local_enr();

        let mut waiting = Vec::new();
        for _ in 0..2 {
            let (a, b_enr) = (a.clone(), b_enr.clone());
            let cid = a.new_connection_id(&b_enr);
            waiting.push(tokio::spawn(async move {
                a.utp_accept_receive(b_enr, cid, 100).await
            }));
        }
        within("both streams to start", async {
            while a.utp_streams_available() > 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        assert_eq!(a.open_utp_streams(), 2);

        let cid = a.new_connection_id(&b_enr);
        assert_eq!(
            a.utp_accept_receive(b_enr.clone(), cid, 100).await,
            Err(NetError::TooManyStreams)
        );
        assert_eq!(
            a.utp_connect_send(b_enr.clone(), 7, vec![1]).await,
            Err(NetError::TooManyStreams)
        );

        // Shutting down ends the waiting ones; after it nothing starts.
        a.shutdown().await;
        for task in waiting {
            assert_eq!(task.await.unwrap(), Err(NetError::Shutdown));
        }
        assert_eq!(
            a.utp_connect_send(b_enr.clone(), 7, vec![1]).await,
            Err(NetError::Shutdown)
        );
        assert_eq!(a.request(&b_enr, vec![1]).await, Err(NetError::Shutdown));
        no_open_streams(&[&a]).await;
        b.shutdown().await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_frees_the_port_and_the_key_keeps_the_node_id() {
    within("restart", async {
        let (a, _ai) = start(16, CHAIN).await;
        let addr = a.local_addr();
        let node_id = a.local_node_id();
        let clone = a.clone();
        a.shutdown().await;
        assert_eq!(
            clone.request(&clone.local_enr(), vec![]).await,
            Err(NetError::Shutdown)
        );

        let rebound = std::net::UdpSocket::bind(addr).expect("port is free after shutdown");
        drop(rebound);

        let config = TransportConfig {
            bind: addr,
            ..TransportConfig::loopback(secret(16), CHAIN)
        };
        let (again, _inbound) = start_with(config).await;
        assert_eq!(again.local_addr(), addr);
        assert_eq!(again.local_node_id(), node_id);
        assert_eq!(again.local_enr().node_id().raw(), node_id);
        again.shutdown().await;
        // Shutting down twice is harmless.
        again.shutdown().await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bind_and_key_errors_are_reported() {
    within("config errors", async {
        // An unspecified IP cannot be advertised.
        let config = TransportConfig {
            bind: "0.0.0.0:0".parse().unwrap(),
            ..TransportConfig::loopback(secret(17), CHAIN)
        };
        assert!(matches!(
            Transport::start(config.clone()).await,
            Err(NetError::Bind { .. })
        ));
        // With an external address it can: the ENR carries that IP and the bound port.
        let config = TransportConfig {
            external: Some("10.1.2.3:0".parse().unwrap()),
            ..config
        };
        let (t, _inbound) = start_with(config).await;
        let udp = t.local_enr().udp4_socket().unwrap();
        assert_eq!(*udp.ip(), Ipv4Addr::new(10, 1, 2, 3));
        assert_eq!(udp.port(), t.local_addr().port());

        // The port is taken while `t` runs.
        let taken = TransportConfig {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, t.local_addr().port())),
            ..TransportConfig::loopback(secret(18), CHAIN)
        };
        assert!(matches!(
            Transport::start(taken).await,
            Err(NetError::Bind { .. })
        ));
        t.shutdown().await;

        // Zero is not a secp256k1 key.
        assert!(matches!(
            Transport::start(TransportConfig::loopback([0; 32], CHAIN)).await,
            Err(NetError::InvalidEnr(_))
        ));
    })
    .await
}
