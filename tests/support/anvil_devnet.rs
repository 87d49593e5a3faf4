//! A devnet following a real anvil, for the watch tests (Rust, and through
//! `examples/devnet-for-bindings.rs --follow-anvil` the Kotlin, Python and C ones): storage nodes
//! on loopback and a bridge whose [`Follower`] pushes each anvil block's changes, all on a
//! runtime of their own, apart from the runtime of any `Node` under test. Driven from a plain
//! thread: [`AnvilDevnet::send`] makes anvil mine a transfer and returns once the block's
//! changes are in the network, with its header for the app to trust.

use super::anvil::{Anvil, DEV_ACCOUNTS};
use alloy_primitives::{Address, Bytes, B256, U256};
use portal_state::bridge::{BlockReport, ExecutionClient, Follower, FollowerConfig, StartAt};
use portal_state::network::{Network, NetworkConfig};
use serde_json::json;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// A block the bridge pushed: what an app trusts with `update_head`.
#[derive(Clone, Debug)]
pub struct PushedBlock {
    /// Block number.
    pub number: u64,
    /// Block hash.
    pub hash: B256,
    /// The header's RLP.
    pub header_rlp: Bytes,
}

/// anvil, storage nodes and a bridge following it. Dropped: everything stops.
pub struct AnvilDevnet {
    runtime: tokio::runtime::Runtime,
    nodes: Vec<Arc<Network>>,
    bridge: Arc<Network>,
    client: ExecutionClient,
    reports: mpsc::UnboundedReceiver<BlockReport>,
    stop: watch::Sender<bool>,
    head: PushedBlock,
    anvil: Anvil,
}

fn config(dir: &Path, capacity_bytes: u64) -> NetworkConfig {
    let mut config = NetworkConfig::loopback(dir, 1);
    config.bind = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    config.capacity_bytes = capacity_bytes;
    config.request_timeout = Duration::from_secs(2);
    config
}

impl AnvilDevnet {
    /// Starts anvil, `n` storage nodes under `root` and the bridge; mines block 1 and returns
    /// once it is pushed (the first head).
    pub fn start(root: &Path, n: usize) -> AnvilDevnet {
        let anvil = Anvil::start(&[]);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("anvil-devnet")
            .enable_all()
            .build()
            .unwrap();
        let client = ExecutionClient::new(&anvil.url).unwrap();
        let (nodes, bridge) = runtime.block_on(async {
            let boot = Network::start(config(&root.join("node-0"), 10_000_000))
                .await
                .unwrap();
            let boot_enr = boot.enr();
            let mut nodes = vec![Arc::new(boot)];
            for i in 1..n {
                let mut c = config(&root.join(format!("node-{i}")), 10_000_000);
                c.bootnodes = vec![boot_enr.clone()];
                nodes.push(Arc::new(Network::start(c).await.unwrap()));
            }
            for node in &nodes {
                node.overlay()
                    .bootstrap(std::slice::from_ref(&boot_enr))
                    .await;
            }
            let mut c = config(&root.join("bridge"), 0);
            c.bootnodes = vec![boot_enr];
            (nodes, Arc::new(Network::start(c).await.unwrap()))
        });
        let follower_config = FollowerConfig {
            start: StartAt::Block(1),
            poll_interval: Duration::from_millis(50),
            max_backoff: Duration::from_millis(500),
            ..FollowerConfig::default()
        };
        // Storage nodes and the bridge trust each header before its push: they decline what
        // they cannot verify.
        let trusting: Vec<Arc<Network>> = nodes.iter().cloned().chain([bridge.clone()]).collect();
        let mut follower = Follower::new(client.clone(), follower_config).on_header(move |h| {
            for node in &trusting {
                node.add_trusted_header(&h.rlp).unwrap();
            }
        });
        let (report_tx, reports) = mpsc::unbounded_channel();
        let (stop, stop_rx) = watch::channel(false);
        let follower_bridge = bridge.clone();
        runtime.spawn(async move {
            let on_block = move |report: &BlockReport| {
                let _ = report_tx.send(report.clone());
            };
            follower.run(&follower_bridge, on_block, stop_rx).await;
        });
        let mut devnet = AnvilDevnet {
            runtime,
            nodes,
            bridge,
            client,
            reports,
            stop,
            head: PushedBlock {
                number: 0,
                hash: B256::ZERO,
                header_rlp: Bytes::new(),
            },
            anvil,
        };
        devnet.mine();
        devnet
    }

    /// The storage nodes' ENRs.
    pub fn bootnodes(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.enr().to_base64()).collect()
    }

    /// The newest pushed block.
    pub fn head(&self) -> &PushedBlock {
        &self.head
    }

    /// anvil's JSON-RPC URL.
    pub fn anvil_url(&self) -> &str {
        &self.anvil.url
    }

    /// Waits for the bridge to push block `number` (and any before it).
    fn pushed(&mut self, number: u64) -> PushedBlock {
        loop {
            let report = self.runtime.block_on(async {
                tokio::time::timeout(Duration::from_secs(60), self.reports.recv())
                    .await
                    .expect("the follower pushes a block within 60 s")
                    .expect("the follower runs")
            });
            self.head = PushedBlock {
                number: report.number,
                hash: report.hash,
                header_rlp: report.header_rlp,
            };
            if report.number >= number {
                return self.head.clone();
            }
        }
    }

    fn rpc(&self, method: &str, params: serde_json::Value) -> serde_json::Value {
        self.runtime
            .block_on(self.client.call(method, params))
            .unwrap_or_else(|e| panic!("anvil {method}: {e}"))
    }

    fn block_number(&self) -> u64 {
        let answer = self.rpc("eth_blockNumber", json!([]));
        u64::from_str_radix(answer.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
    }

    /// anvil mines an empty block; returns once it is pushed.
    pub fn mine(&mut self) -> PushedBlock {
        self.rpc("evm_mine", json!([]));
        let number = self.block_number();
        self.pushed(number)
    }

    /// anvil's first dev account sends `wei` to `to` (mined at once: anvil's automine);
    /// returns once that block is pushed.
    pub fn send(&mut self, to: Address, wei: U256) -> PushedBlock {
        let from = DEV_ACCOUNTS[0].0;
        self.rpc(
            "eth_sendTransaction",
            json!([{"from": from, "to": format!("{to:#x}"), "value": format!("{wei:#x}")}]),
        );
        let number = self.block_number();
        self.pushed(number)
    }

    /// anvil's first dev account creates a contract from `init_code` (hex); its address and
    /// the block, once pushed.
    pub fn deploy(&mut self, init_code: &str) -> (Address, PushedBlock) {
        let from: Address = DEV_ACCOUNTS[0].0.parse().unwrap();
        let nonce = self.rpc(
            "eth_getTransactionCount",
            json!([format!("{from:#x}"), "latest"]),
        );
        let nonce = u64::from_str_radix(nonce.as_str().unwrap().trim_start_matches("0x"), 16);
        self.rpc(
            "eth_sendTransaction",
            json!([{"from": format!("{from:#x}"), "data": init_code, "gas": "0x100000"}]),
        );
        let number = self.block_number();
        (from.create(nonce.unwrap()), self.pushed(number))
    }

    /// anvil's first dev account calls `to` with `data` (hex); returns once the block is pushed.
    pub fn call(&mut self, to: Address, data: &str) -> PushedBlock {
        let from = DEV_ACCOUNTS[0].0;
        self.rpc(
            "eth_sendTransaction",
            json!([{"from": from, "to": format!("{to:#x}"), "data": data, "gas": "0x100000"}]),
        );
        let number = self.block_number();
        self.pushed(number)
    }

    /// anvil's own balance of `address` at block `number`.
    pub fn balance(&self, address: Address, number: u64) -> U256 {
        let answer = self.rpc(
            "eth_getBalance",
            json!([format!("{address:#x}"), format!("{number:#x}")]),
        );
        U256::from_str_radix(answer.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
    }
}

impl Drop for AnvilDevnet {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        let nodes = std::mem::take(&mut self.nodes);
        let bridge = self.bridge.clone();
        self.runtime.block_on(async {
            bridge.stop().await;
            for node in nodes {
                node.stop().await;
            }
        });
    }
}
