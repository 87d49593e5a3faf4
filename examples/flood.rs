//! Memory and service of one node under a request flood from many node ids (issue #7).
//!
//! The target node runs in a child process (this program, re-run with `target`), so that its
//! VmRSS / VmHWM is its own: default configuration, 2,000 mainnet genesis accounts stored, the
//! mainnet genesis header trusted. This process runs the attackers and one honest client:
//!
//! * a pool of `SENDERS` sender nodes (real discv5 nodes, each its own UDP socket and node id,
//!   real sessions with the target) on 10 addresses (127.0.20.1 .. 127.0.29.1, ten /24s);
//!   every 5 s a fifth of them is replaced by fresh identities (new keys, new handshakes), so
//!   the target sees ever new node ids. The target treats loopback as the internet
//!   (`exempt_loopback = false`), all other limits at their defaults;
//! * together they send `RATE` requests/s (default 1,000): FindContent for random accounts
//!   (absent: the target tries to assemble absence proofs from its store), FindContent for
//!   stored accounts, FindNodes, Ping and Offers of random keys that are accepted and then never
//!   sent (each holds a transfer slot until the uTP deadline);
//! * an honest light client, joined through the target, looks up 2 stored accounts per second.
//!
//! `cargo run --example flood -- [seconds] [rate]` (defaults: 60 s, 1000/s). Prints one JSON
//! line with the results.

use alloy_primitives::{Address, B256, U256};
use portal_state::content::{AccountKey, ContentKey};
use portal_state::net::{enr_from_base64, Enr, Transport, TransportConfig};
use portal_state::network::{Network, NetworkConfig};
use portal_state::proof::{build_witnesses, GenesisAlloc};
use portal_state::wire::{
    FindContent, FindNodes, Message, Offer, Ping, PingExtension, PingPayload,
};
use std::io::{BufRead, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SENDERS: usize = 100;
const STORED: usize = 2000;

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn repo(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn mainnet_header() -> Vec<u8> {
    let yaml = repo("data/genesis/genesis-headers.yaml");
    // The first entry is mainnet; pick its header_rlp line without a YAML parser.
    let line = yaml
        .lines()
        .find(|l| l.trim_start().starts_with("header_rlp:"))
        .unwrap();
    let hex = line
        .split(':')
        .nth(1)
        .unwrap()
        .trim()
        .trim_matches(|c| c == '"' || c == '\'');
    alloy_primitives::hex::decode(hex).unwrap()
}

/// The node under attack: prints its ENR, then its memory every second until stdin closes.
async fn target() {
    let witnesses =
        build_witnesses(&GenesisAlloc::from_json(&repo("data/genesis/mainnet.json")).unwrap());
    let dir = tempfile::tempdir().unwrap();
    // Default limits, with loopback treated as the internet: the senders come from 10
    // addresses (127.0.20.1 .. 127.0.29.1), the honest client from 127.0.0.1.
    let mut config = NetworkConfig::loopback(dir.path(), 1);
    config.overlay.limits.exempt_loopback = false;
    let node = Network::start(config).await.unwrap();
    let header = node.add_trusted_header(&mainnet_header()).unwrap();
    assert_eq!(header.state_root, witnesses.state_root);
    let step = witnesses.items.len() / STORED;
    let items: Vec<_> = witnesses
        .items
        .iter()
        .step_by(step)
        .take(STORED)
        .map(|(k, v)| portal_state::proof::verify(*k, v.clone()).unwrap())
        .collect();
    node.overlay()
        .with_store(|s| s.put_batch(&items))
        .unwrap()
        .unwrap();
    let keys: Vec<String> = items
        .iter()
        .map(|i| alloy_primitives::hex::encode(i.key().encode()))
        .collect();
    drop(items);
    drop(witnesses);
    let mut out = std::io::stdout();
    writeln!(
        out,
        "{}",
        serde_json::json!({"enr": node.enr().to_base64(), "keys": keys, "rss_kb": status_kb("VmRSS:")})
    )
    .unwrap();
    let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
        let _ = tx.send(());
    });
    loop {
        tokio::select! {
            _ = &mut rx => break,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        let c = node.overlay().limit_counters();
        let t = node.overlay().counters();
        writeln!(
            out,
            "{}",
            serde_json::json!({
                "rss_kb": status_kb("VmRSS:"),
                "hwm_kb": status_kb("VmHWM:"),
                "received": t.requests_received.load(Ordering::Relaxed),
                "refused": c.requests_refused,
                "offers_refused": c.offers_refused,
                "streams_refused": c.streams_refused,
                "tracked_ips": c.tracked_ips,
                "tracked_peers": c.tracked_peers,
                "table": node.status().peers,
                "utp_streams": node.overlay().transport().open_utp_streams(),
            })
        )
        .unwrap();
    }
    node.stop().await;
}

struct Tally {
    sent: AtomicU64,
    answered: AtomicU64,
    empty: AtomicU64,
    failed: AtomicU64,
}

fn ping() -> Message {
    let ext = PingExtension::BasicRadius {
        data_radius: U256::MAX,
    };
    Message::Ping(Ping {
        enr_seq: 1,
        payload: PingPayload::Extension {
            payload_type: ext.payload_type(),
            payload: ext.encode().into(),
        },
    })
}

/// Sender addresses: 10 /24s.
const SENDER_IPS: u8 = 10;

async fn sender(index: usize) -> Transport {
    let mut config = TransportConfig::loopback(B256::random().0, 1);
    let ip = std::net::Ipv4Addr::new(127, 0, 20 + (index % SENDER_IPS as usize) as u8, 1);
    config.bind = std::net::SocketAddr::from((ip, 0));
    Transport::start(config).await.unwrap().0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("target") {
        return target().await;
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .try_init();
    let seconds: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(60);
    let rate: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(1000);

    let mut child = Command::new(std::env::current_exe().unwrap())
        .arg("target")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    let target_enr: Enr = enr_from_base64(first["enr"].as_str().unwrap()).unwrap();
    let stored: Vec<ContentKey> = first["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            ContentKey::decode(&alloy_primitives::hex::decode(k.as_str().unwrap()).unwrap())
                .unwrap()
        })
        .collect();
    let rss_loaded = first["rss_kb"].as_u64().unwrap();
    let samples = Arc::new(std::sync::Mutex::new(Vec::<serde_json::Value>::new()));
    let reader = {
        let samples = samples.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str(&line) {
                    samples.lock().unwrap().push(v);
                }
            }
        })
    };
    let root = stored[0].state_root().unwrap();

    // The honest client.
    let dir = tempfile::tempdir().unwrap();
    let mut config = NetworkConfig::loopback(dir.path(), 1);
    config.capacity_bytes = 0;
    config.bootnodes = vec![target_enr.clone()];
    let client = Network::start(config).await.unwrap();
    client.add_trusted_header(&mainnet_header()).unwrap();

    let mut pool: Vec<Transport> = Vec::new();
    for i in 0..SENDERS {
        pool.push(sender(i).await);
    }
    let tally = Arc::new(Tally {
        sent: AtomicU64::new(0),
        answered: AtomicU64::new(0),
        empty: AtomicU64::new(0),
        failed: AtomicU64::new(0),
    });
    let start = Instant::now();
    let (mut ok, mut asked, mut identities) = (0u64, 0u64, SENDERS as u64);
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let per_tick = (rate / 100).max(1);
    let mut n: u64 = 0;
    let mut next_query = start;
    let mut next_rotation = start + Duration::from_secs(1);
    let mut queries = futures::stream::FuturesUnordered::new();
    use futures::StreamExt;
    while start.elapsed() < Duration::from_secs(seconds) {
        tokio::select! {
            _ = tick.tick() => {}
            Some(found) = queries.next() => {
                match found {
                    Ok(Ok(_)) => ok += 1,
                    Ok(Err(e)) => eprintln!("honest query failed: {e}"),
                    Err(_) => eprintln!("honest query timed out"),
                }
                continue;
            }
        }
        for _ in 0..per_tick {
            n += 1;
            let from = pool[(n as usize * 7919) % pool.len()].clone();
            let message = match n % 10 {
                0..=3 => Message::FindContent(FindContent {
                    content_key: ContentKey::Account(AccountKey {
                        address: Address::random(),
                        state_root: root,
                    })
                    .encode()
                    .into(),
                }),
                4..=5 => Message::FindContent(FindContent {
                    content_key: stored[n as usize % stored.len()].encode().into(),
                }),
                6 => Message::FindNodes(FindNodes {
                    distances: vec![256, 255, 254],
                }),
                7..=8 => ping(),
                _ => Message::Offer(Offer {
                    content_keys: vec![ContentKey::Account(AccountKey {
                        address: Address::random(),
                        state_root: root,
                    })
                    .encode()
                    .into()],
                }),
            };
            let peer = target_enr.clone();
            let tally = tally.clone();
            tally.sent.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(async move {
                let Ok(version) = from.peer_version(&peer) else {
                    return;
                };
                match from.request(&peer, message.encode(version)).await {
                    Ok(body) if body.is_empty() => tally.empty.fetch_add(1, Ordering::Relaxed),
                    Ok(_) => tally.answered.fetch_add(1, Ordering::Relaxed),
                    Err(_) => tally.failed.fetch_add(1, Ordering::Relaxed),
                };
            });
        }
        let now = Instant::now();
        if now >= next_query {
            next_query += Duration::from_millis(500);
            asked += 1;
            let key = stored[(asked as usize * 131) % stored.len()];
            let c = client.overlay().clone();
            queries.push(tokio::time::timeout(Duration::from_secs(10), async move {
                c.find_content(key).await
            }));
        }
        if now >= next_rotation {
            // A fifth of the pool is renewed every 5 s, a twenty-fifth each second.
            next_rotation += Duration::from_secs(1);
            for i in 0..SENDERS / 25 {
                let index = (identities as usize + i) % SENDERS;
                let old = std::mem::replace(&mut pool[index], sender(index).await);
                tokio::spawn(async move { old.shutdown().await });
            }
            identities += (SENDERS / 25) as u64;
        }
    }
    while let Some(found) = queries.next().await {
        match found {
            Ok(Ok(_)) => ok += 1,
            Ok(Err(e)) => eprintln!("honest query failed: {e}"),
            Err(_) => eprintln!("honest query timed out"),
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    drop(child.stdin.take());
    let _ = child.wait();
    let _ = reader.join();
    let samples = std::mem::take(&mut *samples.lock().unwrap());
    let peak = samples
        .iter()
        .filter_map(|s| s["hwm_kb"].as_u64())
        .max()
        .unwrap_or(0);
    let last = samples.last().cloned().unwrap_or_default();
    let sent = tally.sent.load(Ordering::Relaxed);
    println!(
        "{}",
        serde_json::json!({
            "seconds": elapsed,
            "requests_sent": sent,
            "requests_per_second": sent as f64 / elapsed,
            "answered": tally.answered.load(Ordering::Relaxed),
            "answered_empty": tally.empty.load(Ordering::Relaxed),
            "failed": tally.failed.load(Ordering::Relaxed),
            "sender_identities": identities,
            "target_rss_loaded_kb": rss_loaded,
            "target_peak_rss_kb": peak,
            "target_last": last,
            "honest_queries": asked,
            "honest_ok": ok,
        })
    );
    client.stop().await;
    for t in pool {
        t.shutdown().await;
    }
}
