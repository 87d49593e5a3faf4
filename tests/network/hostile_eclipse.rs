//! Eclipse resistance (seed 002, S/Kademlia) on real sockets: sybil nodes with ids ground next
//! to a content id, all from one /24 (127.0.9.0/24), against honest holders each on its own /24
//! (127.0.1.1 .. 127.0.4.1). Loopback addresses are exempt from the subnet rules by default
//! (devnets run on 127.0.0.1), so the victim here turns the exemption off.

use crate::support::hostile;

use hostile::*;
use portal_state::content::ContentKey;
use portal_state::network::Network;
use portal_state::overlay::{
    enr_ip, subnet_of, LookupOptions, NodeId, OverlayConfig, PeerLimits, SubnetCap,
};
use std::net::Ipv4Addr;
use std::sync::atomic::Ordering;
use std::time::Duration;

const SYBILS: usize = 24;

fn honest_ips() -> Vec<Ipv4Addr> {
    (1..=4).map(|i| Ipv4Addr::new(127, 0, i, 1)).collect()
}

/// Sybils next to `key`, each answering FindContent and FindNodes with 6 others of them.
async fn sybils_near(key: ContentKey, honest: &[Network]) -> Vec<Liar> {
    let ids: Vec<NodeId> = honest.iter().map(|n| n.node_id()).collect();
    let mut sybils = Vec::new();
    for _ in 0..SYBILS {
        let secret = key_near(key.content_id(), &ids);
        sybils.push(
            Liar::start(
                Ipv4Addr::new(127, 0, 9, 1),
                secret,
                Lie::Sybil { per_answer: 6 },
            )
            .await,
        );
    }
    let enrs: Vec<Vec<u8>> = sybils.iter().map(|s| alloy_rlp::encode(s.enr())).collect();
    for (i, s) in sybils.iter().enumerate() {
        // Each points at the others, starting after itself.
        let mut others = enrs.clone();
        others.rotate_left(i + 1);
        others.pop();
        s.set_enrs(others);
    }
    sybils
}

async fn victim(
    dir: &std::path::Path,
    limits: PeerLimits,
    disjoint_paths: usize,
    honest: &[Network],
) -> Querier {
    let config = OverlayConfig {
        k: 8,
        limits,
        disjoint_paths,
        ..OverlayConfig::default()
    };
    let q = Querier::start(
        dir,
        Ipv4Addr::new(127, 0, 5, 1),
        config,
        Duration::from_secs(5),
        0,
    )
    .await;
    let enrs: Vec<_> = honest.iter().map(|n| n.enr()).collect();
    q.overlay.bootstrap(&enrs).await;
    for node in honest {
        q.overlay.ping(&node.enr()).await.unwrap();
    }
    q
}

/// Sybils that made it into the victim's table (no subnet cap) own every slot near the content:
/// a plain lookup never reaches an honest holder. A lookup over 3 disjoint paths, where a
/// subnet belongs to one path only, does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sybils_near_the_content_cannot_stop_a_disjoint_lookup() {
    let dir = tempfile::tempdir().unwrap();
    let item = mainnet_item(777);
    let key = *item.key();
    let honest = honest_network(dir.path(), &honest_ips(), std::slice::from_ref(&item)).await;
    let sybils = sybils_near(key, &honest).await;
    let limits = PeerLimits {
        exempt_loopback: false,
        subnet_cap: None,
        ..PeerLimits::default()
    };
    // Configured for 3 disjoint paths (OverlayConfig, as Network, Node and the CLI's
    // --disjoint-paths set it): its plain `find_content` takes them.
    let victim = victim(&dir.path().join("victim"), limits, 3, &honest).await;
    let v = &victim.overlay;
    for s in &sybils[..12] {
        v.ping(&s.enr()).await.unwrap();
    }
    let in_table = sybils
        .iter()
        .filter(|s| v.with_table(|t| t.get(s.id()).is_some()))
        .count();
    assert!(in_table >= 4, "{in_table} sybils in the table");
    let closest = v.with_table(|t| t.closest_on_ring(key.content_id(), 1)[0].node_id);
    assert!(
        sybils.iter().any(|s| s.id() == closest),
        "a sybil is closest"
    );

    // The attack works on a plain lookup...
    let plain = v
        .find_content_with(key, LookupOptions { disjoint_paths: 1 })
        .await;
    assert!(plain.is_err(), "the plain lookup was eclipsed");
    let asked: u64 = sybils
        .iter()
        .map(|s| s.find_content_hits.load(Ordering::Relaxed))
        .sum();
    assert!(asked >= 8, "it went round the sybils ({asked} requests)");
    // ...not on a disjoint one, the victim's configured lookup.
    for _ in 0..3 {
        let found = v
            .find_content(key)
            .await
            .expect("the honest holders are reached");
        assert_eq!(found.content.proven(), item.proven());
    }
    victim.stop().await;
    for s in sybils {
        s.stop().await;
    }
    stop_all(honest).await;
}

/// With the default subnet cap (2 per bucket, 10 per table per /24), the same sybils get at
/// most two slots in any bucket, and a plain lookup reaches the honest holders.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_subnet_cap_keeps_sybils_out_of_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let item = mainnet_item(1777);
    let key = *item.key();
    let honest = honest_network(dir.path(), &honest_ips(), std::slice::from_ref(&item)).await;
    let sybils = sybils_near(key, &honest).await;
    let limits = PeerLimits {
        exempt_loopback: false,
        ..PeerLimits::default()
    };
    let cap = limits.subnet_cap.unwrap();
    assert_eq!(
        cap,
        SubnetCap {
            per_bucket: 2,
            per_table: 10
        }
    );
    let victim = victim(&dir.path().join("victim"), limits, 1, &honest).await;
    let v = &victim.overlay;
    for s in &sybils {
        // Each answers the Ping; the table still refuses most of them.
        v.ping(&s.enr()).await.unwrap();
    }
    let sybil_subnet = subnet_of(enr_ip(&sybils[0].enr()).unwrap());
    let (in_table, per_bucket) = v.with_table(|t| {
        let local = t.local_id();
        let mut buckets = std::collections::HashMap::new();
        let mut n = 0;
        for e in t.entries() {
            if enr_ip(&e.peer).map(subnet_of) == Some(sybil_subnet) {
                n += 1;
                *buckets.entry(local.log2_distance(e.node_id)).or_insert(0) += 1;
            }
        }
        (n, buckets.values().copied().max().unwrap_or(0))
    });
    assert!(in_table <= cap.per_table, "{in_table} sybils in the table");
    assert!(per_bucket <= cap.per_bucket, "{per_bucket} in one bucket");
    assert!(v.limit_counters().subnet_refusals >= (SYBILS - in_table) as u64);
    // Every honest node (each on its own /24) is in.
    for node in &honest {
        assert!(v.with_table(|t| t.get(node.node_id()).is_some()));
    }
    let found = v.find_content(key).await.expect("found past the sybils");
    assert_eq!(found.content.proven(), item.proven());
    victim.stop().await;
    for s in sybils {
        s.stop().await;
    }
    stop_all(honest).await;
}
