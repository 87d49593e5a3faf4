//! A wallet's light node for the network tests (`scripts/network-tests.sh`): a [`Node`] that
//! joins a devnet, trusts its head, and runs the commands it reads on stdin, printing one JSON
//! line for each result on stdout. Commands run concurrently (a `changed` can arrive while
//! `query` is running):
//!
//! * `query N C GAP_MS` — N account queries of the holesky genesis accounts, C at a time, each
//!   worker waiting GAP_MS between its queries: one line per query
//!   (`{"cmd":"query","ok":true,"ms":12.3,"issued_ms":…}`), then a summary with the success count
//!   and p50/p99 latency;
//! * `probe` — queries back to back until one is verified: `{"cmd":"probe","ms":…}` is the time
//!   from the command to the first verified answer;
//! * `changed` — [`Node::network_changed`]; `pause`, `resume` — [`Node::pause`],
//!   [`Node::resume`] (with the time resume took); `status` — [`Node::status`].
//!
//! Usage: `light-client DEVNET_JSON_FILE [KEEPALIVE_MS SILENCE_MS GRACE_MS]`, where the file
//! holds the line `devnet-for-bindings` printed. Test tooling, not product API.

use alloy_primitives::Address;
use portal_state::client::BlockId;
use portal_state::node::{Config, LinkConfig, Node};
use std::io::BufRead;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn say(value: serde_json::Value) {
    // One write per line: lines of concurrent commands never interleave.
    println!("{value}");
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 10.0).round() / 10.0
}

struct Light {
    node: Node,
    accounts: Vec<Address>,
    started: Instant,
}

impl Light {
    fn account(&self, i: usize) -> Address {
        self.accounts[i % self.accounts.len()]
    }

    async fn query(&self, i: usize) -> Result<(), String> {
        let answer = self
            .node
            .query_account_async(self.account(i), BlockId::Latest)
            .await
            .map_err(|e| e.to_string())?;
        // Every answer is verified against the trusted root; its block is the head we trust.
        if answer.block.number != 0 {
            return Err(format!("answer at block {}", answer.block.number));
        }
        Ok(())
    }
}

async fn run_queries(light: Arc<Light>, n: usize, concurrency: usize, gap: Duration) {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (light, next) = (light.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = 0;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let issued = light.started.elapsed();
                let began = Instant::now();
                let result = light.query(i).await;
                let ms = millis(began.elapsed());
                say(serde_json::json!({
                    "cmd": "query", "i": i, "ok": result.is_ok(), "ms": ms,
                    "issued_ms": millis(issued), "error": result.as_ref().err(),
                }));
                match result {
                    Ok(()) => latencies.push(ms),
                    Err(_) => failures += 1,
                }
                tokio::time::sleep(gap).await;
            }
            (latencies, failures)
        }));
    }
    let mut latencies = Vec::new();
    let mut failures = 0;
    for worker in workers {
        if let Ok((l, f)) = worker.await {
            latencies.extend(l);
            failures += f;
        }
    }
    latencies.sort_by(f64::total_cmp);
    say(serde_json::json!({
        "cmd": "query_done", "queries": n, "ok": latencies.len(), "failed": failures,
        "p50_ms": percentile(&latencies, 0.50), "p99_ms": percentile(&latencies, 0.99),
        "max_ms": latencies.last(),
    }));
}

async fn probe(light: Arc<Light>) {
    let began = Instant::now();
    let mut i = 0;
    loop {
        let ok = light.query(i).await.is_ok();
        if ok {
            say(serde_json::json!({"cmd": "probe", "ms": millis(began.elapsed()), "tries": i + 1}));
            return;
        }
        i += 1;
        if began.elapsed() > Duration::from_secs(60) {
            say(serde_json::json!({"cmd": "probe", "ms": null, "tries": i}));
            return;
        }
    }
}

fn status(light: &Light) -> serde_json::Value {
    match light.node.status() {
        Ok(s) => serde_json::json!({
            "cmd": "status", "peers": s.peers, "reachable": s.reachable,
            "client_only": s.client_only, "paused": s.paused, "enr": s.enr,
        }),
        Err(e) => serde_json::json!({"cmd": "status", "error": e.to_string()}),
    }
}

async fn command(light: Arc<Light>, line: String) {
    let words: Vec<&str> = line.split_whitespace().collect();
    let number = |i: usize, default: u64| {
        words
            .get(i)
            .and_then(|w| w.parse::<u64>().ok())
            .unwrap_or(default)
    };
    match words.first().copied() {
        Some("query") => {
            let (n, c, gap) = (number(1, 10), number(2, 1), number(3, 0));
            run_queries(light, n as usize, c as usize, Duration::from_millis(gap)).await;
        }
        Some("probe") => probe(light).await,
        Some("changed") => {
            let began = Instant::now();
            let alive = tokio::task::spawn_blocking(move || light.node.network_changed()).await;
            say(serde_json::json!({
                "cmd": "changed", "ms": millis(began.elapsed()),
                "alive": alive.ok().and_then(|r| r.ok()),
            }));
        }
        Some("pause") => {
            let ok = light.node.pause().is_ok();
            say(serde_json::json!({"cmd": "pause", "ok": ok}));
        }
        Some("resume") => {
            let began = Instant::now();
            let answered = tokio::task::spawn_blocking(move || light.node.resume()).await;
            say(serde_json::json!({
                "cmd": "resume", "ms": millis(began.elapsed()),
                "answered": answered.ok().and_then(|r| r.ok()),
            }));
        }
        Some("status") => say(status(&light)),
        other => say(serde_json::json!({"cmd": other, "error": "unknown command"})),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // Logs on stderr (RUST_LOG, default info); stdout is for the JSON lines.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,portal_state=debug".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let devnet_file = args
        .first()
        .expect("usage: light-client DEVNET_JSON_FILE [KEEPALIVE_MS SILENCE_MS GRACE_MS]");
    let devnet: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(devnet_file).expect("devnet file"))
            .expect("devnet JSON");
    let ms = |i: usize| {
        args.get(i)
            .map(|a| Duration::from_millis(a.parse().expect("milliseconds")))
    };
    let mut link = LinkConfig::default();
    if let Some(d) = ms(1) {
        link.keepalive_interval = d;
    }
    if let Some(d) = ms(2) {
        link.silence_window = d;
    }
    if let Some(d) = ms(3) {
        link.reachability_grace = d;
    }

    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let genesis: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo.join("data/genesis/holesky.json")).expect("genesis"),
    )
    .expect("genesis JSON");
    let alloc = genesis.get("alloc").unwrap_or(&genesis);
    let accounts: Vec<Address> = alloc
        .as_object()
        .expect("alloc map")
        .keys()
        .filter_map(|k| k.parse().ok())
        .collect();

    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config {
        data_dir: dir.path().join("light"),
        storage_capacity_bytes: 0,
        bootnodes: devnet["bootnodes"]
            .as_array()
            .expect("bootnodes")
            .iter()
            .filter_map(|b| b.as_str().map(String::from))
            .collect(),
        ..Config::default()
    };
    let node = tokio::task::spawn_blocking(move || Node::start_with_link(config, link))
        .await
        .expect("start task")
        .expect("light node");
    let header = alloy_primitives::hex::decode(devnet["header_rlp"].as_str().expect("header"))
        .expect("header hex");
    node.update_head(&header).expect("trust the head");
    let light = Arc::new(Light {
        node,
        accounts,
        started: Instant::now(),
    });
    let mut ready = status(&light);
    ready["cmd"] = "ready".into();
    say(ready);

    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
    tokio::task::spawn_blocking(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut running = Vec::new();
    while let Some(line) = lines.recv().await {
        if line.trim() == "quit" {
            break;
        }
        running.push(tokio::spawn(command(light.clone(), line)));
    }
    for task in running {
        let _ = task.await;
    }
    let light = Arc::try_unwrap(light)
        .ok()
        .expect("no command left running");
    tokio::task::spawn_blocking(move || light.node.stop())
        .await
        .expect("stop task")
        .expect("stop");
    say(serde_json::json!({"cmd": "stopped"}));
}
