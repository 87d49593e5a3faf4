//! The link upkeep on real loopback networks (the namespace scenarios — NAT, loss, moves —
//! are in scripts/network-tests.sh): ENR sequence numbers that follow restarts and address
//! changes, recovery after the peers' sessions are lost, pause/resume, keep-alives,
//! reachability, and lookups that retry until the content is there.

use crate::support::nodes;
use crate::support::settled;

use nodes::*;
use portal_state::data_dir::ENR_SEQ_FILE_NAME;
use portal_state::network::Network;
use portal_state::overlay::{LinkConfig, RecoveryReason};
use portal_state::proof::{self, VerifiedContent};
use std::net::SocketAddr;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enr_sequence_goes_up_across_restarts_and_address_changes() {
    tokio::time::timeout(DEADLINE, async {
        let dir = tempfile::tempdir().unwrap();
        let first = Network::start(test_config(dir.path(), 0)).await.unwrap();
        let seq = first.enr().seq();
        first.stop().await;
        let stored: u64 = std::fs::read_to_string(dir.path().join(ENR_SEQ_FILE_NAME))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(stored, seq);

        // A restart goes above the record peers may hold.
        let second = Network::start(test_config(dir.path(), 0)).await.unwrap();
        let restarted = second.enr().seq();
        assert!(restarted > seq, "{restarted} > {seq}");

        // A new address: the ENR says it, with a higher sequence number.
        let port = second.overlay().transport().local_addr().port();
        let moved: SocketAddr = ([127, 0, 0, 2], port).into();
        assert!(second.overlay().transport().set_advertised_addr(moved));
        let enr = second.enr();
        assert_eq!(enr.udp4_socket().map(SocketAddr::V4), Some(moved));
        assert!(enr.seq() > restarted);
        // The same address again changes nothing.
        assert!(!second.overlay().transport().set_advertised_addr(moved));
        second.stop().await;
    })
    .await
    .expect("did not finish");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_pings_cached_peers_and_lookups_still_answer() {
    tokio::time::timeout(DEADLINE, async {
        let dir = tempfile::tempdir().unwrap();
        let nodes = start_network(dir.path(), 5, 50_000_000).await;
        let header = genesis_header_rlp("holesky");
        trust_everywhere(&nodes, &header);
        let items: Vec<VerifiedContent> = genesis_witnesses("holesky")
            .items
            .iter()
            .take(20)
            .map(|(k, v)| proof::verify(*k, v.clone()).unwrap())
            .collect();
        seed(&nodes, &items, 2).await;

        let mut config = test_config(&dir.path().join("light"), 0);
        config.bootnodes = vec![nodes[0].enr()];
        let light = Network::start(config).await.unwrap();
        light.add_trusted_header(&header).unwrap();
        let peers = light.status().peers;
        assert!(peers > 0);

        // Every cached peer is pinged again and answers.
        let alive = light.network_changed().await;
        assert!(alive >= peers, "{alive} of {peers} cached peers answered");
        assert!(light.status().link.recoveries >= 1);

        // All stale (as after a long outage): recovery brings them back.
        light.overlay().with_table(|t| {
            let ids: Vec<_> = t.entries().map(|e| e.node_id).collect();
            for id in ids {
                for _ in 0..5 {
                    t.record_failure(id);
                }
            }
        });
        assert_eq!(light.overlay().with_table(|t| t.connected().count()), 0);
        assert!(light.link().recover(RecoveryReason::AppSaid).await > 0);
        assert!(light.overlay().with_table(|t| t.connected().count()) > 0);

        for item in &items {
            let found = light.find_content(*item.key()).await.unwrap();
            assert_eq!(found.content.key(), item.key());
        }
        light.stop().await;
        for node in nodes {
            node.stop().await;
        }
    })
    .await
    .expect("did not finish");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lookup_retries_until_the_content_arrives() {
    tokio::time::timeout(DEADLINE, async {
        let dir = tempfile::tempdir().unwrap();
        let nodes = start_network(dir.path(), 3, 50_000_000).await;
        let header = genesis_header_rlp("holesky");
        trust_everywhere(&nodes, &header);
        let (key, value) = genesis_witnesses("holesky").items[3].clone();
        let item = proof::verify(key, value).unwrap();

        let mut config = test_config(&dir.path().join("light"), 0);
        config.bootnodes = vec![nodes[0].enr()];
        config.link = LinkConfig {
            query_attempts: 6,
            retry_backoff: Duration::from_millis(300),
            ..LinkConfig::default()
        };
        let light = Network::start(config).await.unwrap();
        light.add_trusted_header(&header).unwrap();

        // Nobody has it yet: a single lookup fails...
        assert!(light.overlay().find_content(*item.key()).await.is_err());
        // ...but a query issued now completes once the content is placed meanwhile.
        let query = light.find_content(*item.key());
        let place = async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            nodes[0].overlay().place(vec![item.clone()], 2).await
        };
        let (found, placed) = tokio::join!(query, place);
        assert_eq!(placed.unplaced, 0, "{placed:?}");
        assert_eq!(found.unwrap().content.key(), item.key());
        light.stop().await;
        for node in nodes {
            node.stop().await;
        }
    })
    .await
    .expect("did not finish");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_stops_keepalives_and_resume_answers_from_cached_peers() {
    tokio::time::timeout(DEADLINE, async {
        let dir = tempfile::tempdir().unwrap();
        let nodes = start_network(dir.path(), 3, 0).await;
        let link = LinkConfig {
            keepalive_interval: Duration::from_millis(200),
            reachability_grace: Duration::from_millis(500),
            ..LinkConfig::default()
        };
        let mut config = test_config(&dir.path().join("light"), 0);
        config.bootnodes = vec![nodes[0].enr()];
        config.link = link.clone();
        let light = Network::start(config).await.unwrap();
        // A second light node on the same timings, never paused: the clock of the "nothing
        // while paused" check below (it counts rounds, not seconds).
        let mut config = test_config(&dir.path().join("control"), 0);
        config.bootnodes = vec![nodes[0].enr()];
        config.link = link;
        let control = Network::start(config).await.unwrap();

        // Idle: keep-alive pings go out.
        assert!(
            eventually(Duration::from_secs(10), || light
                .status()
                .link
                .keepalive_pings
                > 0)
            .await
        );

        light.pause();
        assert!(light.status().link.paused);
        // A keep-alive round under way when paused may finish: until its requests settle.
        let requests = || {
            let activity = light.overlay().transport().activity();
            activity.responses() + activity.failures()
        };
        let sent = settled(
            "the paused node's last round",
            Duration::from_secs(10),
            10,
            &requests,
        )
        .await;
        let pings = light.status().link.keepalive_pings;
        // Five keep-alive rounds of the control node, and none of the paused one.
        let control_pings = control.status().link.keepalive_pings;
        assert!(
            eventually(Duration::from_secs(30), || control
                .status()
                .link
                .keepalive_pings
                >= control_pings + 5)
            .await,
            "the control node goes on pinging"
        );
        assert_eq!(light.status().link.keepalive_pings, pings, "paused");
        assert_eq!(requests(), sent, "no request while paused");

        assert!(light.resume().await, "a cached peer answered");
        assert!(!light.status().link.paused);

        // On loopback the other nodes contact us on their own (lookups, pings): reachable, so
        // not client only.
        assert!(
            eventually(Duration::from_secs(30), || {
                let status = light.status().link;
                status.reachable && !status.client_only
            })
            .await,
            "{:?}",
            light.status().link
        );
        light.stop().await;
        control.stop().await;
        for node in nodes {
            node.stop().await;
        }
    })
    .await
    .expect("did not finish");
}
