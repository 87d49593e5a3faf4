//! Malicious peers on real sockets (issue #7): our own node patched to lie
//! (`hostile::Liar`) against honest nodes holding real genesis data.
//!
//! For every lie: the honest answer still comes back, nothing unverified is stored (the stores
//! are checked), nothing is gossiped onward (the honest peers' stores and counters are checked),
//! and the liar leaves the routing table and is banned from it.

use crate::support::hostile;
use crate::support::nodes;
use crate::support::settled;

use alloy_primitives::B256;
use hostile::*;
use nodes::*;
use portal_state::content::{ContentKey, ContentValue};
use portal_state::net::Enr;
use portal_state::overlay::{NodeId, OverlayConfig, PeerLimits, Rate};
use portal_state::proof::{self, VerifiedContent};
use portal_state::wire::{framing, AcceptCode};
use std::net::Ipv4Addr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const LOCAL: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// Three honest nodes hold `item`; a querier knows them and a liar ground closer to the item
/// than any of them, telling `lie`. With α = 1 the querier asks the liar first, so the lie is
/// always heard. Returns what the lookup found (it must be the honest value).
async fn lookup_past_a_liar(item: VerifiedContent, lie: Lie, utp_timeout: Duration) {
    let dir = tempfile::tempdir().unwrap();
    let key = *item.key();
    let honest = honest_network(dir.path(), &[LOCAL; 3], std::slice::from_ref(&item)).await;
    let honest_ids: Vec<NodeId> = honest.iter().map(|n| n.node_id()).collect();
    let liar = Liar::start(LOCAL, key_near(key.content_id(), &honest_ids), lie).await;

    let config = OverlayConfig {
        alpha: 1,
        ..OverlayConfig::default()
    };
    // It caches what it finds (large capacity): the store shows what got in.
    let querier = Querier::start(
        &dir.path().join("q"),
        LOCAL,
        config,
        utp_timeout,
        10_000_000,
    )
    .await;
    let q = &querier.overlay;
    q.bootstrap(&[honest[0].enr()]).await;
    q.ping(&liar.enr()).await.unwrap();
    assert!(
        q.with_table(|t| t.get(liar.id()).is_some()),
        "liar in the table"
    );
    let closest = q.with_table(|t| t.closest_on_ring(key.content_id(), 1)[0].node_id);
    assert_eq!(closest, liar.id(), "the liar is the closest peer");

    let found = q.find_content(key).await.expect("the honest answer");
    assert_eq!(found.content.proven(), item.proven());
    assert!(
        liar.find_content_hits.load(Ordering::Relaxed) >= 1,
        "the liar was asked"
    );
    // What is stored is the verified honest value, byte for byte.
    let stored = q.with_store(|s| s.get_encoded(&key)).unwrap().unwrap();
    assert_eq!(stored, Some(item.value().encode()));

    assert_eq!(found.stats.invalid_responses, 1);
    assert!(q.counters().invalid_items.load(Ordering::Relaxed) >= 1);
    finish(q, &liar, &honest, key).await;
    querier.stop().await;
    liar.stop().await;
    stop_all(honest).await;
}

/// The liar is out of the table, banned (its Ping does not bring it back), and no honest node
/// received anything from the querier.
async fn finish(
    q: &portal_state::overlay::Overlay,
    liar: &Liar,
    honest: &[portal_state::network::Network],
    key: ContentKey,
) {
    assert!(
        q.with_table(|t| t.get(liar.id()).is_none()),
        "the liar left the table"
    );
    assert!(q.is_banned(liar.id()));
    assert!(
        liar.ping(&q.transport().local_enr()).await,
        "its Ping is answered"
    );
    assert!(
        q.with_table(|t| t.get(liar.id()).is_none()),
        "...but it does not re-enter the table"
    );
    for node in honest {
        let c = node.overlay().counters();
        assert_eq!(
            c.items_stored_from_offers.load(Ordering::Relaxed),
            0,
            "nothing gossiped"
        );
        assert_eq!(c.invalid_items.load(Ordering::Relaxed), 0);
        assert!(stores(node.overlay(), &key), "honest copies intact");
    }
}

/// A mainnet genesis account item (witnesses of about 2 KB: they cross uTP).
fn mainnet_small_item(index: usize) -> VerifiedContent {
    mainnet_item(index)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_witness() {
    let item = mainnet_small_item(11);
    let mut bytes = item.value().encode();
    let at = bytes.len() - 5;
    bytes[at] ^= 0x01;
    lookup_past_a_liar(item, Lie::Streamed(bytes), Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_witness() {
    let item = mainnet_small_item(23);
    let bytes = item.value().encode();
    // Cut to fit one packet: the truncated witness comes inline.
    let cut = bytes[..(bytes.len() / 2).min(1000)].to_vec();
    lookup_past_a_liar(item, Lie::Value(cut), Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn witness_for_another_key() {
    let item = mainnet_small_item(37);
    // A valid witness under the same root, for another account.
    let other = mainnet_small_item(4000);
    assert_ne!(other.key(), item.key());
    lookup_past_a_liar(
        item,
        Lie::Streamed(other.value().encode()),
        Duration::from_secs(5),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn witness_for_another_root() {
    let item = mainnet_small_item(51);
    // A valid holesky account witness: another state root entirely.
    let (_, other) = holesky()
        .items
        .iter()
        .find(|(k, _)| matches!(k, ContentKey::Account(_)))
        .unwrap();
    assert!(matches!(other, ContentValue::Account(_)));
    lookup_past_a_liar(item, Lie::Streamed(other.encode()), Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytecode_not_matching_its_hash_over_utp() {
    // Holesky's deposit contract: 6,358 bytes, so both the lie and the truth cross uTP.
    let (key, value) = holesky()
        .items
        .iter()
        .find(|(k, _)| matches!(k, ContentKey::Bytecode(_)))
        .cloned()
        .unwrap();
    let item = proof::verify(key, value.clone()).unwrap();
    let mut code = value.encode();
    code[100] ^= 0xff;
    lookup_past_a_liar(item, Lie::Streamed(code), Duration::from_secs(5)).await;
}

/// Content pointing at a uTP stream that never sends: the lookup moves on after the (short)
/// stream deadline; two such promises in a row and the liar is dropped and banned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_pointing_at_a_stream_that_never_sends() {
    let dir = tempfile::tempdir().unwrap();
    let item = mainnet_small_item(70);
    let key = *item.key();
    let honest = honest_network(dir.path(), &[LOCAL; 3], std::slice::from_ref(&item)).await;
    let ids: Vec<NodeId> = honest.iter().map(|n| n.node_id()).collect();
    let liar = Liar::start(LOCAL, key_near(key.content_id(), &ids), Lie::SilentStream).await;
    let config = OverlayConfig {
        alpha: 1,
        ..OverlayConfig::default()
    };
    // Stores nothing, so both lookups go to the network.
    let querier = Querier::start(
        &dir.path().join("q"),
        LOCAL,
        config,
        Duration::from_millis(800),
        0,
    )
    .await;
    let q = &querier.overlay;
    q.bootstrap(&[honest[0].enr()]).await;
    q.ping(&liar.enr()).await.unwrap();
    for round in 0..2 {
        let found = q.find_content(key).await.expect("the honest answer");
        assert_eq!(found.content.proven(), item.proven());
        assert_eq!(
            liar.find_content_hits.load(Ordering::Relaxed),
            round + 1,
            "the liar was asked first"
        );
    }
    assert_eq!(q.with_store(|s| s.len()).unwrap(), 0);
    // A hedged request to an honest node answers before the liar's stream times out: the
    // lookup returns, and the liar's silence is counted when its stream's deadline passes.
    assert!(
        eventually(Duration::from_secs(15), || q
            .with_table(|t| t.get(liar.id()).is_none()))
        .await,
        "the silent liar leaves the table once its streams time out"
    );
    finish(q, &liar, &honest, key).await;
    // No stream is left open on our side.
    assert!(
        eventually(Duration::from_secs(15), || q.transport().open_utp_streams()
            == 0)
        .await,
        "streams released"
    );
    querier.stop().await;
    liar.stop().await;
    stop_all(honest).await;
}

/// An ENR nobody answers at (a fresh key, a port nothing listens on), at a log-distance from
/// `near` in `distances`.
fn unreachable_enr(near: NodeId, distances: std::ops::RangeInclusive<u16>) -> Vec<u8> {
    loop {
        let mut secret = B256::random().0;
        let id = node_id_of_key(secret).unwrap();
        if !distances.contains(&near.log2_distance(id)) {
            continue;
        }
        let key = enr::CombinedKey::secp256k1_from_bytes(&mut secret).unwrap();
        let enr: Enr = enr::Enr::builder()
            .ip4(Ipv4Addr::new(127, 0, 0, 1))
            .udp4(9) // discard: nobody answers
            .build(&key)
            .unwrap();
        return alloy_rlp::encode(&enr);
    }
}

/// A target at log-distance 256 from `id`: FindNodes for it asks distances 255 and 256.
fn far_target(id: NodeId) -> NodeId {
    let mut bytes = B256::random();
    bytes.0[0] = id.0 .0[0] ^ 0x80;
    NodeId(bytes)
}

/// Nodes answers full of unreachable ENRs at the asked distances: none of them enters the
/// table, and the lookup still finds the honest nodes. Unreachable is not provably a lie (a
/// node may just have left), so this liar may stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_full_of_unreachable_enrs() {
    let dir = tempfile::tempdir().unwrap();
    let honest = honest_network(dir.path(), &[LOCAL; 3], &[]).await;
    let liar_key = B256::random().0;
    let liar_id = node_id_of_key(liar_key).unwrap();
    let junk: Vec<Vec<u8>> = (0..6)
        .map(|_| unreachable_enr(liar_id, 255..=256))
        .collect();
    let liar = Liar::start(LOCAL, liar_key, Lie::Enrs(junk.clone())).await;
    let querier = querier_knowing(dir.path(), &honest, &liar).await;
    let q = &querier.overlay;
    let found = q.lookup_nodes(far_target(liar_id)).await;
    assert!(liar.find_nodes_hits.load(Ordering::Relaxed) >= 1);
    let junk_ids: Vec<NodeId> = junk
        .iter()
        .map(|b| {
            let enr = portal_state::net::enr_from_rlp(b).unwrap();
            NodeId(B256::from(enr.node_id().raw()))
        })
        .collect();
    for id in &junk_ids {
        assert!(
            q.with_table(|t| t.get(*id).is_none()),
            "unreachable peer not in the table"
        );
    }
    for node in &honest {
        assert!(q.with_table(|t| t.get(node.node_id()).is_some()));
    }
    assert!(found.len() >= 3, "the honest nodes are found");
    querier.stop().await;
    liar.stop().await;
    stop_all(honest).await;
}

/// Nodes answers with ENRs at distances not asked for, and undecodable ones: a provable lie.
/// The answer is dropped, the liar leaves the table, the lookup still finds the honest nodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_with_wrong_distance_enrs() {
    let dir = tempfile::tempdir().unwrap();
    let honest = honest_network(dir.path(), &[LOCAL; 3], &[]).await;
    let liar_key = B256::random().0;
    let liar_id = node_id_of_key(liar_key).unwrap();
    let mut junk: Vec<Vec<u8>> = (0..4).map(|_| unreachable_enr(liar_id, 1..=254)).collect();
    junk.push(vec![0xc0, 0x01, 0x02]); // not an ENR at all
    let liar = Liar::start(LOCAL, liar_key, Lie::Enrs(junk)).await;
    let querier = querier_knowing(dir.path(), &honest, &liar).await;
    let q = &querier.overlay;
    let target = far_target(liar_id);
    let found = q.lookup_nodes(target).await;
    assert!(liar.find_nodes_hits.load(Ordering::Relaxed) >= 1);
    let found_ids: Vec<NodeId> = found
        .iter()
        .map(|e| NodeId(B256::from(e.node_id().raw())))
        .collect();
    for node in &honest {
        assert!(found_ids.contains(&node.node_id()), "honest node found");
    }
    assert!(!found_ids.contains(&liar_id), "the liar is not a result");
    assert!(
        q.with_table(|t| t.get(liar_id).is_none()),
        "the liar left the table"
    );
    assert!(q.is_banned(liar_id));
    assert_eq!(q.with_table(|t| t.len()), 3, "only the honest nodes");
    querier.stop().await;
    liar.stop().await;
    stop_all(honest).await;
}

/// Offers of content outside our radius are declined before any transfer; nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offers_outside_the_radius_are_declined() {
    init_logs();
    let dir = tempfile::tempdir().unwrap();
    // Capacity 0: radius zero, interested in nothing.
    let victim = Querier::start(
        &dir.path().join("v"),
        LOCAL,
        OverlayConfig::default(),
        Duration::from_secs(5),
        0,
    )
    .await;
    let v = &victim.overlay;
    let liar = Liar::start(LOCAL, B256::random().0, Lie::Value(Vec::new())).await;
    let keys: Vec<ContentKey> = (100..110).map(|i| *mainnet_item(i).key()).collect();
    let mut sent = false;
    let accept = liar
        .offer(&v.transport().local_enr(), &keys, |_| {
            sent = true;
            Vec::new()
        })
        .await
        .expect("an Accept");
    assert!(!sent, "nothing accepted, nothing sent");
    assert!(
        accept
            .codes
            .iter()
            .all(|c| *c == AcceptCode::NotWithinRadius),
        "{:?}",
        accept.codes
    );
    assert_eq!(v.with_store(|s| s.len()).unwrap(), 0);
    victim.stop().await;
    liar.stop().await;
}

/// Offered content that fails verification: not stored, not gossiped on, liar out and banned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_offered_content_is_neither_stored_nor_gossiped() {
    let dir = tempfile::tempdir().unwrap();
    let honest = honest_network(dir.path(), &[LOCAL; 3], &[]).await;
    let victim = &honest[1];
    let liar = Liar::start(LOCAL, B256::random().0, Lie::Value(Vec::new())).await;
    victim.overlay().ping(&liar.enr()).await.unwrap();
    assert!(victim.overlay().with_table(|t| t.get(liar.id()).is_some()));

    let good = mainnet_small_item(200);
    let bad = mainnet_small_item(300);
    let mut tampered = bad.value().encode();
    let at = tampered.len() - 3;
    tampered[at] ^= 0x10;
    let keys = [*good.key(), *bad.key()];
    let good_bytes = good.value().encode();
    let accept = liar
        .offer(&victim.enr(), &keys, |accepted| {
            assert_eq!(accepted.len(), 2);
            framing::encode_items(&[good_bytes.clone(), tampered.clone()])
        })
        .await
        .expect("an Accept");
    assert!(accept.codes.iter().all(|c| c.is_accepted()));
    let v = victim.overlay();
    assert!(
        eventually(Duration::from_secs(10), || v
            .counters()
            .invalid_items
            .load(Ordering::Relaxed)
            == 1)
        .await,
        "the bad item was checked and refused"
    );
    // The valid item is verified on its own and kept; the invalid one is not.
    assert!(eventually(Duration::from_secs(5), || stores(v, good.key())).await);
    assert!(!stores(v, bad.key()));
    assert!(
        v.with_table(|t| t.get(liar.id()).is_none()),
        "the liar left the table"
    );
    assert!(v.is_banned(liar.id()));
    assert!(liar.ping(&victim.enr()).await);
    assert!(
        v.with_table(|t| t.get(liar.id()).is_none()),
        "and stays out"
    );
    // Once the victim's gossip of what it stored is over (its requests stop): nobody else has
    // the bad item, nobody saw an invalid one.
    settled("the victim's gossip", Duration::from_secs(20), 10, || {
        v.counters().requests_sent.load(Ordering::Relaxed)
    })
    .await;
    for node in &honest {
        assert!(!stores(node.overlay(), bad.key()), "not gossiped");
        if node.node_id() != victim.node_id() {
            assert_eq!(
                node.overlay()
                    .counters()
                    .invalid_items
                    .load(Ordering::Relaxed),
                0
            );
        }
    }
    liar.stop().await;
    stop_all(honest).await;
}

/// Endless offers from one peer: after the burst, every offer is answered "rate limited" at
/// once; the store never exceeds its capacity while it fills; honest queries keep being
/// answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_offers_are_rate_limited_and_storage_stays_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let honest = honest_network(dir.path(), &[LOCAL; 2], &[mainnet_small_item(5)]).await;
    // The victim: small capacity, default offer limit (20/s, bursts of 100).
    let capacity = 8_000;
    let mut config = test_config(&dir.path().join("victim"), capacity);
    config.bootnodes = vec![honest[0].enr()];
    let victim = portal_state::network::Network::start(config).await.unwrap();
    victim
        .add_trusted_header(&genesis_header_rlp("mainnet"))
        .unwrap();
    let limits = PeerLimits::default();
    let flooder = Liar::start(LOCAL, B256::random().0, Lie::Value(Vec::new())).await;
    let start = Instant::now();
    // Refused: answered "rate limited" by the offer limit; dropped: answered empty by the
    // request limit per node id, which the flood may exceed too.
    let (mut considered, mut refused, mut dropped) = (0usize, 0usize, 0usize);
    let total = 250;
    for i in 0..total {
        let item = mainnet_small_item(1000 + i * 7);
        let bytes = item.value().encode();
        let accept = flooder
            .offer(&victim.enr(), &[*item.key()], |_| {
                framing::encode_items(&[bytes])
            })
            .await;
        match accept.map(|a| a.codes[0]) {
            Some(AcceptCode::RateLimited) => refused += 1,
            Some(_) => considered += 1,
            None => dropped += 1,
        }
        let stored = victim.status().stored_bytes;
        assert!(stored <= capacity, "stored {stored} > capacity {capacity}");
    }
    let elapsed = start.elapsed().as_secs_f64();
    let allowed = limits.offers_per_peer.burst + limits.offers_per_peer.per_second * elapsed;
    assert!(
        considered as f64 <= allowed + 1.0,
        "{considered} offers considered in {elapsed:.1}s"
    );
    assert!(
        (refused + dropped) as f64 >= total as f64 - allowed - 1.0,
        "{refused} refused, {dropped} dropped"
    );
    assert!(refused > 0);
    let counters = victim.overlay().limit_counters();
    assert_eq!(counters.offers_refused, refused as u64);
    assert!(counters.requests_refused >= dropped as u64);
    eprintln!("offer flood: {considered} considered, {refused} refused, {dropped} dropped in {elapsed:.1}s");
    assert!(
        victim.status().stored_items > 0,
        "the valid content that fit was taken"
    );
    // The victim still answers an honest peer, and still finds content.
    assert!(honest[1].overlay().ping(&victim.enr()).await.is_ok());
    let item = mainnet_small_item(5);
    let found = victim.find_content(*item.key()).await.unwrap();
    assert_eq!(found.content.proven(), item.proven());
    flooder.stop().await;
    victim.stop().await;
    stop_all(honest).await;
}

/// A flood of requests from one node id is cut off after its burst, answered empty before
/// decoding; another peer is served meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_flood_from_one_node_id_is_cut_off() {
    init_logs();
    let dir = tempfile::tempdir().unwrap();
    let limits = PeerLimits {
        requests_per_peer: Rate::new(10.0, 30.0),
        ..PeerLimits::default()
    };
    let config = OverlayConfig {
        limits: limits.clone(),
        ..OverlayConfig::default()
    };
    let victim = Querier::start(
        &dir.path().join("v"),
        LOCAL,
        config,
        Duration::from_secs(5),
        0,
    )
    .await;
    let target = victim.overlay.transport().local_enr();
    let flooder = Liar::start(LOCAL, B256::random().0, Lie::Value(Vec::new())).await;
    let other = Liar::start(LOCAL, B256::random().0, Lie::Value(Vec::new())).await;
    let start = Instant::now();
    let total = 200;
    let mut answered = 0;
    for _ in 0..total / 20 {
        let pings = (0..20).map(|_| flooder.ping(&target));
        answered += futures::future::join_all(pings)
            .await
            .into_iter()
            .filter(|ok| *ok)
            .count();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let allowed = limits.requests_per_peer.burst + limits.requests_per_peer.per_second * elapsed;
    assert!(
        answered as f64 <= allowed + 1.0,
        "{answered} answered in {elapsed:.1}s"
    );
    assert!(answered >= 1);
    assert!(victim.overlay.limit_counters().requests_refused >= (total - answered) as u64);
    assert!(other.ping(&target).await, "another peer is served");
    flooder.stop().await;
    other.stop().await;
    victim.stop().await;
}

/// Many node ids from one address share its per-IP budget (node ids are free, addresses are
/// not); a peer at another address is unaffected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_node_ids_from_one_address_share_its_budget() {
    init_logs();
    let dir = tempfile::tempdir().unwrap();
    let limits = PeerLimits {
        requests_per_ip: Rate::new(5.0, 20.0),
        exempt_loopback: false,
        ..PeerLimits::default()
    };
    let config = OverlayConfig {
        limits: limits.clone(),
        ..OverlayConfig::default()
    };
    let victim = Querier::start(
        &dir.path().join("v"),
        Ipv4Addr::new(127, 0, 6, 1),
        config,
        Duration::from_secs(5),
        0,
    )
    .await;
    let target = victim.overlay.transport().local_enr();
    let attacker_ip = Ipv4Addr::new(127, 0, 7, 1);
    let mut sybils = Vec::new();
    for _ in 0..8 {
        sybils.push(Liar::start(attacker_ip, B256::random().0, Lie::Value(Vec::new())).await);
    }
    let start = Instant::now();
    let mut answered = 0;
    for _ in 0..5 {
        let pings = sybils.iter().map(|s| s.ping(&target));
        answered += futures::future::join_all(pings)
            .await
            .into_iter()
            .filter(|ok| *ok)
            .count();
    }
    // 40 requests from 8 ids, each well within its own per-id budget of 100.
    let elapsed = start.elapsed().as_secs_f64();
    let allowed = limits.requests_per_ip.burst + limits.requests_per_ip.per_second * elapsed;
    assert!(
        answered as f64 <= allowed + 1.0,
        "{answered} answered in {elapsed:.1}s"
    );
    assert!(answered < 40, "the address ran out of budget");
    let honest = Liar::start(
        Ipv4Addr::new(127, 0, 8, 1),
        B256::random().0,
        Lie::Value(Vec::new()),
    )
    .await;
    assert!(honest.ping(&target).await, "another address is served");
    honest.stop().await;
    for s in sybils {
        s.stop().await;
    }
    victim.stop().await;
}

/// A querier with the default configuration that knows every honest node and the liar.
async fn querier_knowing(
    dir: &std::path::Path,
    honest: &[portal_state::network::Network],
    liar: &Liar,
) -> Querier {
    let querier = Querier::start(
        &dir.join("q"),
        LOCAL,
        OverlayConfig::default(),
        Duration::from_secs(5),
        0,
    )
    .await;
    let q = &querier.overlay;
    q.bootstrap(&[honest[0].enr()]).await;
    for node in honest {
        q.ping(&node.enr()).await.unwrap();
    }
    q.ping(&liar.enr()).await.unwrap();
    querier
}
