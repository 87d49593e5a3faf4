//! `portal-state node`: one node of a real deployment.

use crate::{parse_enr, parse_trusted_header, CliResult};
use portal_state::bridge::{ExecutionClient, HeadFeed, HeadFeedConfig};
use portal_state::net::Enr;
use portal_state::network::{Network, NetworkConfig};
use portal_state::proof::BlockHeader;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Run one node of the state network until Ctrl-C (or SIGTERM).
///
/// A storage node keeps the content within its radius (up to --capacity-mib) and serves it; a
/// light node (--capacity-mib 0) stores nothing and only asks. The node keeps its key, its
/// store, the trusted headers and the peers it knew in --data-dir, so a restart is back in the
/// network at once. It prints its ENR: give that to other nodes as --bootnode.
///
/// Nothing is trusted until a header is: pass --trusted-header (the RLP of a block header you
/// trust, e.g. from your own execution client: `cast block latest --raw`).
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct NodeArgs {
    /// Where the node keeps its key, its SQLite store, trusted headers and known peers.
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,
    /// UDP address to listen on (an unspecified IP such as 0.0.0.0 needs --external).
    #[arg(long, value_name = "ADDR:PORT", default_value = "0.0.0.0:9009")]
    listen: SocketAddr,
    /// Address to advertise in the ENR when it differs from --listen (a public address
    /// behind NAT, or a concrete IP when listening on 0.0.0.0).
    #[arg(long, value_name = "ADDR:PORT")]
    external: Option<SocketAddr>,
    /// A node to join through, as an ENR (`enr:-…`). Repeatable.
    #[arg(long = "bootnode", value_name = "ENR", value_parser = parse_enr)]
    bootnodes: Vec<Enr>,
    /// The chain whose state the node serves; peers on other chains are not talked to.
    #[arg(long, default_value_t = 1)]
    chain_id: u64,
    /// Content bytes to keep, in MiB; 0 runs a light node that stores nothing.
    #[arg(long, default_value_t = 256)]
    capacity_mib: u64,
    /// A block header to trust: its RLP as 0x-hex, or a file holding it (hex or raw bytes).
    /// Repeatable. Trusted headers are kept in the store across restarts.
    #[arg(long = "trusted-header", value_name = "RLP|FILE", value_parser = parse_trusted_header)]
    trusted_headers: Vec<BlockHeader>,
    /// Trust the heads of your own execution client at this JSON-RPC URL (geth, reth, anvil …):
    /// its newest header is polled, rebuilt to RLP, hash-checked and trusted, every 2 s.
    #[arg(long, value_name = "URL")]
    el_rpc: Option<String>,
    /// Serve JSON-RPC on 127.0.0.1:PORT (eth_getBalance, eth_getCode, …), answered from
    /// verified data only.
    #[cfg(feature = "rpc")]
    #[arg(long, value_name = "PORT")]
    rpc_port: Option<u16>,
    /// Send eth_sendRawTransaction's transactions through this execution client's JSON-RPC
    /// (http://… or https://…), after checking them against verified state. Repeatable: tried
    /// in turn until one accepts. Without one, sending fails with an error naming this option.
    #[cfg(feature = "rpc")]
    #[arg(long = "tx-relay", value_name = "URL")]
    tx_relays: Vec<String>,
    /// Disjoint paths of every content lookup (S/Kademlia): 1 is a plain lookup; 3 to 4
    /// resist sybils ground near a content id, at about one plain lookup's messages per path.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=16))]
    disjoint_paths: u16,
    /// Stop after this many seconds instead of waiting for Ctrl-C.
    #[arg(long, value_name = "SECONDS")]
    exit_after: Option<u64>,
    #[command(flatten)]
    beacon: crate::beacon::BeaconArgs,
}

/// Run the node (see [`NodeArgs`]).
pub async fn run(args: NodeArgs) -> CliResult {
    if args.listen.ip().is_unspecified() && args.external.is_none() {
        return Err(format!(
            "listening on {} needs --external ADDR:PORT: the address other nodes reach this one at",
            args.listen
        )
        .into());
    }
    #[cfg(feature = "rpc")]
    let relays = portal_state::client::TxRelays::new(&args.tx_relays)
        .map_err(|e| format!("--tx-relay: {e}"))?;
    #[cfg(feature = "rpc")]
    let listener = match args.rpc_port {
        Some(port) => Some(crate::rpc::bind(port).await?),
        None => None,
    };
    let head_source = match &args.el_rpc {
        Some(url) => {
            let el = ExecutionClient::new(url).map_err(|e| format!("--el-rpc {url}: {e}"))?;
            let chain_id = el
                .chain_id()
                .await
                .map_err(|e| format!("cannot reach the execution client at {url}: {e}"))?;
            if chain_id != args.chain_id {
                return Err(format!(
                    "the execution client at {url} is on chain {chain_id}, not --chain-id {}",
                    args.chain_id
                )
                .into());
            }
            Some(el)
        }
        None => None,
    };
    let mut config = NetworkConfig::loopback(&args.data_dir, args.chain_id);
    config.bind = args.listen;
    config.external = args.external;
    config.bootnodes = args.bootnodes.clone();
    config.capacity_bytes = args.capacity_mib.saturating_mul(1024 * 1024);
    config.overlay.disjoint_paths = usize::from(args.disjoint_paths);
    let network = Arc::new(Network::start(config).await.map_err(|e| {
        format!(
            "cannot start the node on {} with data in {}: {e}",
            args.listen,
            args.data_dir.display()
        )
    })?);
    for header in &args.trusted_headers {
        network.add_trusted_header(&header.rlp)?;
        println!("trusting block {} ({})", header.number, header.hash);
    }
    let light_client = args.beacon.follow(&network)?;
    if light_client.is_some() {
        println!("beacon light client: following the chain (heads are trusted as they verify)");
    }
    let status = network.status();
    println!("node id {}", status.node_id);
    println!("ENR {}", status.enr.to_base64());
    println!(
        "{} node on {} (chain id {}), {} peers, {} items stored, newest trusted block {}",
        if args.capacity_mib == 0 {
            "light"
        } else {
            "storage"
        },
        args.listen,
        args.chain_id,
        status.peers,
        status.stored_items,
        status
            .newest_header
            .map_or("none".to_string(), |n| n.to_string())
    );

    let (shutdown_tx, _shutdown_rx) = tokio::sync::watch::channel(false);
    #[cfg(feature = "rpc")]
    if let Some(listener) = listener {
        let addr = listener.local_addr()?;
        let client = portal_state::client::StateClient::new(network.clone());
        let handler = Arc::new(
            crate::rpc::RpcHandler::new(client, args.chain_id)
                .with_relays(relays)
                .with_light_client(light_client.clone()),
        );
        tokio::spawn(crate::rpc::serve(
            listener,
            handler,
            shutdown_tx.subscribe(),
        ));
        println!("JSON-RPC: serving on http://{addr}");
    }

    let head_task = head_source.map(|el| {
        let network = network.clone();
        let shutdown = shutdown_tx.subscribe();
        tokio::spawn(async move {
            HeadFeed::new(el, HeadFeedConfig::default())
                .run(
                    &network,
                    |h| println!("trusting head {} ({})", h.number, h.hash),
                    shutdown,
                )
                .await
        })
    });

    // A status line now and then, so an operator sees the node is alive.
    let status_network = network.clone();
    let mut status_shutdown = shutdown_tx.subscribe();
    let status_task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    let s = status_network.status();
                    tracing::info!(peers = s.peers, items = s.stored_items, bytes = s.stored_bytes, newest = ?s.newest_header, "node status");
                }
                _ = status_shutdown.changed() => return,
            }
        }
    });

    let waited = crate::wait_for_shutdown(args.exit_after).await;
    let _ = shutdown_tx.send(true);
    let _ = status_task.await;
    if let Some(task) = head_task {
        let _ = task.await;
    }
    network.stop().await;
    waited
}
