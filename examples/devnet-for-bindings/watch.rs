//! `devnet-for-bindings --follow-anvil [--watch-latency N]`: the devnet following anvil for
//! the binding tests of `watch`, and the watch latency measurement (module docs of the
//! example).

use crate::anvil_devnet::{AnvilDevnet, PushedBlock};
use alloy_primitives::{Address, U256};
use portal_state::node::{Config, Node, WatchEvent};
use std::io::{BufRead, Write};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

fn block_json(block: &PushedBlock) -> serde_json::Value {
    serde_json::json!({
        "number": block.number,
        "hash": block.hash.to_string(),
        "header_rlp": format!("0x{}", alloy_primitives::hex::encode(&block.header_rlp)),
    })
}

/// Runs the mode `args` (after `--follow-anvil`) names.
pub fn run(args: &[String]) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut devnet = AnvilDevnet::start(dir.path(), 4);
    match args {
        [flag, n] if flag == "--watch-latency" => latency(
            &mut devnet,
            dir.path(),
            n.parse().expect("--watch-latency N"),
        ),
        [] => serve(&mut devnet),
        other => panic!("unknown arguments {other:?}: [--watch-latency N]"),
    }
}

/// The binding tests' devnet: one JSON line, then `send` commands until stdin closes.
fn serve(devnet: &mut AnvilDevnet) {
    let mut first = block_json(devnet.head());
    first["bootnodes"] = serde_json::json!(devnet.bootnodes());
    first["anvil_url"] = serde_json::json!(devnet.anvil_url());
    let mut out = std::io::stdout().lock();
    writeln!(out, "{first}").expect("stdout");
    out.flush().expect("stdout");
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let words: Vec<&str> = line.split_whitespace().collect();
        let answer = match words.as_slice() {
            ["send", to, wei] => {
                let to: Address = to.parse().expect("send: an address");
                let wei: U256 = wei.parse().expect("send: wei, decimal");
                let block = devnet.send(to, wei);
                let mut answer = block_json(&block);
                answer["balance"] = devnet.balance(to, block.number).to_string().into();
                answer
            }
            [] => continue,
            other => panic!("unknown command {other:?}: send 0xADDRESS WEI"),
        };
        writeln!(out, "{answer}").expect("stdout");
        out.flush().expect("stdout");
    }
}

/// The watch latency: from submitting a transfer (anvil mines it at once) to the event.
fn latency(devnet: &mut AnvilDevnet, dir: &std::path::Path, n: usize) {
    let node = Node::start(Config {
        data_dir: dir.join("light"),
        storage_capacity_bytes: 0,
        bootnodes: devnet.bootnodes(),
        ..Config::default()
    })
    .expect("light node");
    let watched: Address = "0x00000000000000000000000000000000000b0b02"
        .parse()
        .unwrap();
    let (events_tx, events) = mpsc::channel::<(Instant, WatchEvent)>();
    let listener = move |event: WatchEvent| {
        let _ = events_tx.send((Instant::now(), event));
    };
    node.update_head(&devnet.head().header_rlp).expect("trust");
    node.watch(watched, Vec::new(), Arc::new(listener))
        .expect("watch");
    // From the transfer's submission (anvil mines it at once), and from `update_head`: the
    // watch's own part, without the bridge's follow and push.
    let mut samples = Vec::with_capacity(n);
    let mut from_head = Vec::with_capacity(n);
    // One more than measured: the first transfer brings the baseline.
    for i in 0..=n {
        let sent = Instant::now();
        let block = devnet.send(watched, U256::from(1000 + i));
        let trusted = Instant::now();
        node.update_head(&block.header_rlp).expect("trust");
        let (heard, event) = loop {
            let (at, event) = events
                .recv_timeout(Duration::from_secs(60))
                .expect("the watch hears the transfer");
            if event.block.number == block.number {
                break (at, event);
            }
        };
        assert_eq!(
            event.account.balance,
            devnet.balance(watched, block.number),
            "the watched balance is anvil's"
        );
        if i > 0 {
            samples.push(heard - sent);
            from_head.push(heard - trusted);
        }
    }
    node.stop().expect("stop");
    report("transfer submitted -> listener", samples);
    report("update_head -> listener", from_head);
}

/// Prints mean, p50, p99 and max of `samples`.
fn report(what: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mean = samples.iter().map(|d| ms(*d)).sum::<f64>() / samples.len() as f64;
    let at = |q: f64| {
        let rank = (samples.len() as f64 * q).ceil() as usize;
        ms(samples[rank.clamp(1, samples.len()) - 1])
    };
    println!(
        "watch latency over {} blocks ({what}): mean {:.1} ms, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        samples.len(),
        mean,
        at(0.5),
        at(0.99),
        ms(*samples.last().unwrap())
    );
}
