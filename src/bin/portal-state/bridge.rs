//! `portal-state bridge`: push state into a running network — a genesis allocation, a proofs
//! file, or every block of an execution client.

use crate::{parse_enr, CliResult};
use portal_state::bridge::{
    self, ExecutionClient, Follower, FollowerConfig, PushProgress, PushReport, StartAt,
};
use portal_state::net::Enr;
use portal_state::network::{Network, NetworkConfig};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Push verified state into a running network, from one of three sources, until done (a file)
/// or until Ctrl-C (an execution client).
///
/// The bridge is a node of its own: it joins through --bootnode, proves every item before it
/// offers it, and places each item on the nodes closest to it. Storage nodes accept content
/// only for state roots they trust, so give them the same headers (their --trusted-header, or
/// their --el-rpc head feed).
///
///   --genesis FILE   a genesis JSON (alloc of accounts, code, storage) at block 0
///   --proofs FILE    {"header_rlp": "0x…", "proofs": [eth_getProof results], "code": {…}}
///   --el-rpc URL     follow an execution client: each new block's changed accounts, slots
///                    and code (debug_traceBlockByNumber prestateTracer diff + eth_getProof)
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct BridgeArgs {
    /// A genesis JSON to push (every account, slot and contract code at block 0).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["proofs", "el_rpc"])]
    genesis: Option<PathBuf>,
    /// A proofs file to push (standard eth_getProof results under one header).
    #[arg(long, value_name = "FILE", conflicts_with = "el_rpc")]
    proofs: Option<PathBuf>,
    /// An execution client's JSON-RPC URL: its whole state at its head is pushed first
    /// (anvil_dumpState, checked against the block's state root), then each block after it.
    #[arg(long, value_name = "URL")]
    el_rpc: Option<String>,
    /// A node to join through, as an ENR (`enr:-…`). Repeatable; at least one.
    #[arg(long = "bootnode", value_name = "ENR", value_parser = parse_enr, required = true)]
    bootnodes: Vec<Enr>,
    /// Where the bridge keeps its key, store and known peers.
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,
    /// UDP address to listen on.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Address to advertise when it differs from --listen.
    #[arg(long, value_name = "ADDR:PORT")]
    external: Option<SocketAddr>,
    /// The chain id the network runs on.
    #[arg(long, default_value_t = 1)]
    chain_id: u64,
    /// Nodes each item is placed on, closest to it first.
    #[arg(long, default_value_t = 3)]
    copies: usize,
    /// Stop after this many seconds (following an execution client) instead of Ctrl-C.
    #[arg(long, value_name = "SECONDS")]
    exit_after: Option<u64>,
}

fn print_report(report: &PushReport) {
    println!(
        "pushed {} items in {} ms ({:.0} items/s): {} offers accepted, {} already stored, {} declined, {} unplaced",
        report.items,
        report.elapsed.as_millis(),
        report.items_per_sec,
        report.accepted,
        report.already_stored,
        report.declined,
        report.unplaced
    );
}

/// Run the bridge (see [`BridgeArgs`]).
pub async fn run(args: BridgeArgs) -> CliResult {
    let mut config = NetworkConfig::loopback(&args.data_dir, args.chain_id);
    config.bind = args.listen;
    config.external = args.external;
    config.bootnodes = args.bootnodes.clone();
    // The bridge holds the state it pushes only in passing.
    config.capacity_bytes = 0;
    let network = Network::start(config).await?;
    println!(
        "bridge node {} joined with {} peers",
        network.status().node_id,
        network.status().peers
    );
    let push_config = bridge::PushConfig {
        peers_per_item: args.copies.max(1),
        ..Default::default()
    };
    let progress = |p: PushProgress| {
        eprintln!(
            "bridge: {}/{} items, {} offers accepted",
            p.done, p.total, p.accepted
        )
    };
    let result: CliResult = async {
        if let Some(path) = &args.genesis {
            let json =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let content = bridge::genesis_content(&json)?;
            println!(
                "genesis state root {} ({} items)",
                content.state_root,
                content.items.len()
            );
            let report = bridge::push_with(&network, content.items, &push_config, progress).await;
            print_report(&report);
        } else if let Some(path) = &args.proofs {
            let json =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let (header, items) = bridge::proofs_file_content(&json)?;
            network.add_trusted_header(&header.rlp)?;
            println!(
                "block {} ({}), state root {}: {} items",
                header.number,
                header.hash,
                header.state_root,
                items.len()
            );
            let report = bridge::push_with(&network, items, &push_config, progress).await;
            print_report(&report);
        } else if let Some(url) = &args.el_rpc {
            let el = ExecutionClient::new(url).map_err(|e| format!("--el-rpc {url}: {e}"))?;
            // The whole state at the client's head first, then every block after it.
            let mut state = bridge::state_at_head(&el).await;
            if let Err(e @ bridge::BridgeError::GenesisWithoutStateRoot) = &state {
                println!("{url}: {e}: waiting for its first block");
                el.wait_for_block(1).await;
                state = bridge::state_at_head(&el).await;
            }
            let start = match state {
                Ok(state) => {
                    network.add_trusted_header(&state.header.rlp)?;
                    println!(
                        "{url}: whole state at block {} ({}): {} accounts, {} items, state root {} (matches the header)",
                        state.header.number,
                        state.header.hash,
                        state.accounts,
                        state.content.items.len(),
                        state.content.state_root
                    );
                    let report =
                        bridge::push_with(&network, state.content.items, &push_config, progress)
                            .await;
                    print_report(&report);
                    StartAt::Block(state.header.number + 1)
                }
                Err(e @ bridge::BridgeError::NoStateDump { .. }) => {
                    println!("{url}: {e}: only what changes from its next block on is pushed");
                    StartAt::Latest
                }
                Err(e) => return Err(format!("{url}: whole state at its head: {e}").into()),
            };
            let mut follower = Follower::new(
                el,
                FollowerConfig {
                    start,
                    push: push_config.clone(),
                    ..FollowerConfig::default()
                },
            );
            let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
            let on_block = |report: &bridge::BlockReport| {
                println!(
                    "block {} ({}): {} items pushed, {} offers accepted, in {} ms",
                    report.number,
                    report.hash,
                    report.items,
                    report.accepted,
                    report.elapsed.as_millis()
                );
            };
            let follow = follower.run(&network, on_block, shutdown_rx);
            tokio::pin!(follow);
            tokio::select! {
                () = &mut follow => {}
                waited = crate::wait_for_shutdown(args.exit_after) => {
                    let _ = shutdown_tx.send(true);
                    follow.await;
                    waited?;
                }
            }
        } else {
            return Err("give what to push: --genesis FILE, --proofs FILE or --el-rpc URL".into());
        }
        Ok(())
    }
    .await;
    network.stop().await;
    result
}
