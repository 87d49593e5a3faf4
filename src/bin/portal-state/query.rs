//! `portal-state query`: one verified answer from the network, then exit.

use crate::{parse_enr, parse_trusted_header, CliResult};
use alloy_primitives::{hex, Address, B256, U256};
use portal_state::bridge::{ExecutionClient, HeadFeed, HeadFeedConfig};
use portal_state::client::{Answer, BlockId, BlockRef, StateClient};
use portal_state::input;
use portal_state::net::Enr;
use portal_state::network::{Network, NetworkConfig};
use portal_state::overlay::LookupStats;
use portal_state::proof::BlockHeader;
use serde_json::json;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Ask the network once, verify the answer against a trusted header, print it and the block
/// it is true at, and exit.
///
/// Starts a light node (it stores nothing), joins through --bootnode, trusts the
/// --trusted-header(s), asks, and stops. Exit code 0 with a verified answer; 1 when there is
/// none (no peer had a proof, the block is not trusted, …); 2 for bad arguments.
///
/// Example:
///   portal-state query --bootnode enr:-… --trusted-header 0xf90214… \
///       account 0x000d836201318ec6899a67540690382780743280
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct QueryArgs {
    /// A node to join through, as an ENR (`enr:-…`). Repeatable; at least one is needed
    /// unless --data-dir holds peers from an earlier run.
    #[arg(long = "bootnode", value_name = "ENR", value_parser = parse_enr)]
    bootnodes: Vec<Enr>,
    /// A block header to trust: its RLP as 0x-hex, or a file holding it (hex or raw bytes).
    /// Repeatable; the newest is the default block. Not needed when --data-dir holds trusted
    /// headers from an earlier run.
    #[arg(long = "trusted-header", value_name = "RLP|FILE", value_parser = parse_trusted_header)]
    trusted_headers: Vec<BlockHeader>,
    /// Trust the newest header of your own execution client at this JSON-RPC URL (rebuilt
    /// to RLP and hash-checked), in addition to any --trusted-header.
    #[arg(long, value_name = "URL")]
    el_rpc: Option<String>,
    /// The chain the network serves.
    #[arg(long, default_value_t = 1)]
    chain_id: u64,
    /// The block to ask at: a number (decimal or 0x-hex), a block hash, or `latest` (the
    /// newest trusted block, falling back to older trusted blocks when it has no proof yet).
    #[arg(long, global = true, default_value = "latest", value_parser = parse_block)]
    block: BlockId,
    /// Print the answer as one JSON object.
    #[arg(long, global = true)]
    json: bool,
    /// Keep the light node's key, known peers and trusted headers here (a temporary directory
    /// when not given).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// UDP address to listen on (use 0.0.0.0:0 with --external to reach a remote network).
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Address to advertise, when it differs from --listen.
    #[arg(long, value_name = "ADDR:PORT")]
    external: Option<SocketAddr>,
    /// Disjoint paths of every content lookup (S/Kademlia): 1 is a plain lookup; 3 to 4
    /// resist sybils ground near a content id, at about one plain lookup's messages per path.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=16))]
    disjoint_paths: u16,
    #[command(flatten)]
    beacon: crate::beacon::BeaconArgs,
    #[command(subcommand)]
    what: What,
}

#[derive(clap::Subcommand, Debug)]
enum What {
    /// An account: balance, nonce, code hash, storage root (a proven-absent account reads as
    /// zero and says so).
    Account {
        /// The account's address (0x + 40 hex digits; mixed case must be EIP-55).
        #[arg(value_parser = parse_address)]
        address: Address,
    },
    /// One storage slot of a contract (zero when unset, proven).
    Storage {
        /// The contract's address (0x + 40 hex digits; mixed case must be EIP-55).
        #[arg(value_parser = parse_address)]
        address: Address,
        /// The slot: 0x + 1 to 64 hex digits (no decimal: a slot is a key).
        #[arg(value_parser = parse_slot)]
        slot: U256,
    },
    /// A contract's bytecode (empty for an account without code).
    Code {
        /// The contract's address (0x + 40 hex digits; mixed case must be EIP-55).
        #[arg(value_parser = parse_address)]
        address: Address,
    },
}

// Text arguments by the rules of `portal_state::input`, the same as at the app API and the
// JSON-RPC server.
fn parse_block(text: &str) -> Result<BlockId, String> {
    input::parse_block(text).map_err(|e| e.reason)
}

fn parse_address(text: &str) -> Result<Address, String> {
    input::parse_address(text).map_err(|e| e.reason)
}

fn parse_slot(text: &str) -> Result<U256, String> {
    input::parse_slot(text).map_err(|e| e.reason)
}

fn block_line(block: &BlockRef) -> String {
    format!(
        "block {} ({}), state root {}",
        block.number, block.hash, block.state_root
    )
}

fn block_json(block: &BlockRef) -> serde_json::Value {
    json!({
        "number": block.number,
        "hash": block.hash.to_string(),
        "stateRoot": block.state_root.to_string(),
    })
}

fn cost_line(stats: &LookupStats, ms: f64) -> String {
    format!(
        "verified in {ms:.1} ms: {} round trips, {} messages, {} bytes received",
        stats.round_trips, stats.messages, stats.bytes_received
    )
}

fn print_answer<T>(
    args_json: bool,
    answer: &Answer<T>,
    ms: f64,
    fields: serde_json::Value,
    lines: Vec<String>,
) {
    if args_json {
        let mut out = fields;
        out["block"] = block_json(&answer.block);
        out["ms"] = json!(ms);
        out["roundTrips"] = json!(answer.stats.round_trips);
        println!("{out}");
    } else {
        for line in lines {
            println!("{line}");
        }
        println!("at {}", block_line(&answer.block));
        println!("{}", cost_line(&answer.stats, ms));
    }
}

/// Run the query (see [`QueryArgs`]).
pub async fn run(args: QueryArgs) -> CliResult {
    let temp;
    let data_dir = match &args.data_dir {
        Some(dir) => dir.clone(),
        None => {
            temp = tempfile::Builder::new()
                .prefix("portal-state-query-")
                .tempdir()?;
            temp.path().to_path_buf()
        }
    };
    let mut config = NetworkConfig::loopback(&data_dir, args.chain_id);
    config.bind = args.listen;
    config.external = args.external;
    config.bootnodes = args.bootnodes.clone();
    config.capacity_bytes = 0;
    config.overlay.disjoint_paths = usize::from(args.disjoint_paths);
    let network = Arc::new(
        Network::start(config)
            .await
            .map_err(|e| format!("cannot start a light node on {}: {e}", args.listen))?,
    );
    let result = ask(&args, &network).await;
    network.stop().await;
    result
}

async fn ask(args: &QueryArgs, network: &Arc<Network>) -> CliResult {
    for header in &args.trusted_headers {
        network.add_trusted_header(&header.rlp)?;
    }
    if let Some(url) = &args.el_rpc {
        let el = ExecutionClient::new(url).map_err(|e| format!("--el-rpc {url}: {e}"))?;
        let head = HeadFeed::new(el, HeadFeedConfig::default())
            .poll_once(network)
            .await
            .map_err(|e| format!("no head from the execution client at {url}: {e}"))?;
        if let Some(h) = head {
            tracing::info!(number = h.number, hash = %h.hash, "trusting the execution client's head");
        }
    }
    args.beacon.sync_once(network).await?;
    if network.status().peers == 0 {
        return Err("no peers: give a reachable --bootnode".into());
    }
    let client = StateClient::new(network.clone());
    let asked = Instant::now();
    let ms = || asked.elapsed().as_secs_f64() * 1e3;
    match &args.what {
        What::Account { address } => {
            let answer = client.account(*address, args.block).await?;
            let a = &answer.value;
            let fields = json!({
                "address": address.to_string(),
                "exists": a.exists,
                "balance": a.balance.to_string(),
                "nonce": a.nonce,
                "codeHash": a.code_hash.to_string(),
                "storageRoot": a.storage_root.to_string(),
            });
            let mut lines = vec![format!("account {address}")];
            if a.exists {
                lines.push(format!("  balance      {} wei", a.balance));
                lines.push(format!("  nonce        {}", a.nonce));
                lines.push(format!("  code hash    {}", a.code_hash));
                lines.push(format!("  storage root {}", a.storage_root));
            } else {
                lines.push("  absent (proven): balance 0, nonce 0, no code, no storage".into());
            }
            print_answer(args.json, &answer, ms(), fields, lines);
        }
        What::Storage { address, slot } => {
            let answer = client.storage(*address, *slot, args.block).await?;
            let value = B256::from(answer.value);
            let fields = json!({
                "address": address.to_string(),
                "slot": format!("{slot:#x}"),
                "value": value.to_string(),
            });
            let lines = vec![
                format!("storage {address} slot {slot:#x}"),
                format!("  value {value} ({})", answer.value),
            ];
            print_answer(args.json, &answer, ms(), fields, lines);
        }
        What::Code { address } => {
            let answer = client.code(*address, args.block).await?;
            let fields = json!({
                "address": address.to_string(),
                "size": answer.value.len(),
                "code": hex::encode_prefixed(&answer.value),
            });
            let lines = vec![
                format!("code {address}: {} bytes", answer.value.len()),
                format!("  {}", hex::encode_prefixed(&answer.value)),
            ];
            print_answer(args.json, &answer, ms(), fields, lines);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_and_slots_parse() {
        assert_eq!(parse_block("latest").unwrap(), BlockId::Latest);
        assert_eq!(parse_block("12").unwrap(), BlockId::Number(12));
        assert_eq!(parse_block("0x10").unwrap(), BlockId::Number(16));
        let hash = B256::repeat_byte(1);
        assert_eq!(parse_block(&hash.to_string()).unwrap(), BlockId::Hash(hash));
        assert!(parse_block("soon").is_err());
        // A slot is a key: hex only, as at every other edge.
        assert!(parse_slot("2").is_err());
        assert_eq!(parse_slot("0x22").unwrap(), U256::from(34));
        assert!(parse_address("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD").is_err());
        assert!(parse_slot("0xzz").is_err());
        assert!(parse_slot("-1").is_err());
    }
}
