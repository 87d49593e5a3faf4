//! `portal-state`: run a local state network (`devnet`), a node (`node`), a bridge (`bridge`),
//! or one-shot verified queries (`query`).
//!
//! One file per subcommand; this one holds the command line, what the subcommands share (the
//! embedded genesis states, header and ENR arguments, waiting for Ctrl-C) and the runtime.

mod beacon;
mod bridge;
mod devnet;
mod load;
mod node;
mod query;
#[cfg(feature = "rpc")]
mod rpc;

use alloy_primitives::{hex, keccak256, B256};
use clap::{Parser, Subcommand, ValueEnum};
use portal_state::net::Enr;
use portal_state::proof::BlockHeader;
use std::process::ExitCode;
use std::time::Duration;

/// A node of the Ethereum execution state network: verified accounts, storage and bytecode
/// from peers, with no RPC provider to trust.
///
/// Logs go to stderr; set RUST_LOG (e.g. RUST_LOG=portal_state=debug) for more.
#[derive(Parser)]
#[command(name = "portal-state", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a local state network on 127.0.0.1: storage nodes, a bridge that pushes a genesis
    /// state into them, and a light node that serves it, verified, over JSON-RPC.
    Devnet(devnet::DevnetArgs),
    /// Run one node of a real deployment: a storage node, or a light node with
    /// `--capacity-mib 0`; optionally serving JSON-RPC.
    Node(node::NodeArgs),
    /// Ask the network once for an account, a storage slot or a contract's code, verified
    /// against a trusted header; print the answer and the block it is true at.
    Query(query::QueryArgs),
    /// Push verified state into a running network: a genesis file, a proofs file, or every
    /// block of an execution client.
    Bridge(bridge::BridgeArgs),
    /// Send a mixed transaction load (transfers, storage writes, creations, self-destructs) to
    /// an execution client, block after block: what a devnet follows at its head.
    Load(load::LoadArgs),
}

/// Genesis states embedded in the binary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Chain {
    /// Ethereum mainnet (8,893 accounts).
    Mainnet,
    /// Sepolia (15 accounts).
    Sepolia,
    /// Holesky (317 accounts; the deposit contract with code and 31 storage slots).
    Holesky,
}

/// `data/genesis/genesis-headers.yaml`: each embedded chain's genesis header RLP and hash.
const GENESIS_HEADERS_YAML: &str = include_str!("../../../data/genesis/genesis-headers.yaml");

impl Chain {
    /// Every embedded chain.
    pub const ALL: [Chain; 3] = [Chain::Mainnet, Chain::Sepolia, Chain::Holesky];

    /// The name used in `data/genesis/`.
    pub fn name(self) -> &'static str {
        match self {
            Chain::Mainnet => "mainnet",
            Chain::Sepolia => "sepolia",
            Chain::Holesky => "holesky",
        }
    }

    /// The genesis JSON (reth's format) embedded in the binary.
    pub fn genesis_json(self) -> &'static str {
        match self {
            Chain::Mainnet => include_str!("../../../data/genesis/mainnet.json"),
            Chain::Sepolia => include_str!("../../../data/genesis/sepolia.json"),
            Chain::Holesky => include_str!("../../../data/genesis/holesky.json"),
        }
    }

    /// The genesis header, decoded from the embedded RLP and checked against the genesis hash
    /// recorded beside it. An error here means the embedded data is broken, not the input.
    pub fn genesis_header(self) -> Result<BlockHeader, String> {
        let field = |key: &str| -> Result<&'static str, String> {
            let mut in_entry = false;
            for line in GENESIS_HEADERS_YAML.lines() {
                let line = line.trim();
                if let Some(network) = line.strip_prefix("- network:") {
                    in_entry = network.trim() == self.name();
                } else if in_entry {
                    if let Some(value) = line.strip_prefix(key).and_then(|l| l.strip_prefix(':')) {
                        return Ok(value.trim().trim_matches('\''));
                    }
                }
            }
            Err(format!(
                "embedded genesis headers: no {key} for {}",
                self.name()
            ))
        };
        let rlp = hex::decode(field("header_rlp")?)
            .map_err(|e| format!("embedded {} genesis header: {e}", self.name()))?;
        let hash: B256 = field("genesis_hash")?
            .parse()
            .map_err(|e| format!("embedded {} genesis hash: {e}", self.name()))?;
        if keccak256(&rlp) != hash {
            return Err(format!(
                "embedded {} genesis header does not hash to {hash}",
                self.name()
            ));
        }
        BlockHeader::decode(&rlp)
            .map_err(|e| format!("embedded {} genesis header: {e}", self.name()))
    }

    /// The chain id.
    pub fn chain_id(self) -> u64 {
        match self {
            Chain::Mainnet => 1,
            Chain::Sepolia => 11_155_111,
            Chain::Holesky => 17_000,
        }
    }
}

/// A subcommand's failure: printed as `error: …`, exit code 1.
pub type CliResult<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Parse an ENR given on the command line (`enr:-…` base64 form).
pub fn parse_enr(text: &str) -> Result<Enr, String> {
    portal_state::net::enr_from_base64(text.trim()).map_err(|e| format!("not a valid ENR: {e}"))
}

/// Parse a `--trusted-header` value: the header RLP as hex (`0x…`), or a file holding it as
/// hex text or raw bytes. The header must decode; the caller trusts it.
pub fn parse_trusted_header(text: &str) -> Result<BlockHeader, String> {
    let trimmed = text.trim();
    let rlp = if trimmed.starts_with("0x") || trimmed.starts_with("0X") {
        hex::decode(trimmed).map_err(|e| format!("header RLP is not valid hex: {e}"))?
    } else {
        let bytes = std::fs::read(trimmed)
            .map_err(|e| format!("{trimmed}: {e} (expected 0x-prefixed header RLP or a file)"))?;
        // A file of hex text (what `cast block --raw` prints), or the raw RLP bytes.
        match std::str::from_utf8(&bytes) {
            Ok(s) if s.trim().starts_with("0x") => hex::decode(s.trim())
                .map_err(|e| format!("{trimmed}: header RLP is not valid hex: {e}"))?,
            _ => bytes,
        }
    };
    BlockHeader::decode(&rlp).map_err(|e| format!("not a valid block header: {e}"))
}

/// Wait for Ctrl-C (or SIGTERM), or `exit_after` seconds when given; says which on stdout.
pub async fn wait_for_shutdown(exit_after: Option<u64>) -> CliResult {
    let signal = async {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let mut term = signal(SignalKind::terminate())?;
            tokio::select! {
                r = tokio::signal::ctrl_c() => r,
                _ = term.recv() => Ok(()),
            }
        }
        #[cfg(not(unix))]
        tokio::signal::ctrl_c().await
    };
    match exit_after {
        Some(seconds) => {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(seconds)) => {
                    println!("stopping: --exit-after {seconds} s passed");
                }
                r = signal => { r?; println!("stopping: signal"); }
            }
        }
        None => {
            signal.await?;
            println!("stopping: signal");
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            // utp-rs warns of every stream a peer resets or closes early, which a devnet does
            // thousands of times as duplicate offers are refused: noise, not news.
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,utp_rs=error,discv5=error".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    // Two workers: a node (or a whole devnet) is I/O bound, and the design's phone budget is
    // one CPU.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Devnet(args) => devnet::run(args).await,
            Command::Node(args) => node::run(args).await,
            Command::Query(args) => query::run(args).await,
            Command::Bridge(args) => bridge::run(args).await,
            Command::Load(args) => load::run(args).await,
        }
    });
    // Tasks of stopped nodes may still be winding down; do not wait on them forever.
    runtime.shutdown_timeout(Duration::from_secs(2));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_genesis_headers_decode_and_match_their_hashes() {
        let mainnet = Chain::Mainnet.genesis_header().unwrap();
        assert_eq!(mainnet.number, 0);
        assert_eq!(
            mainnet.hash.to_string(),
            "0xd4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3"
        );
        assert_eq!(
            mainnet.state_root.to_string(),
            "0xd7f8974fb5ac78d9ac099b9ad5018bedc2ce0a72dad1827a1709da30580f0544"
        );
        for chain in Chain::ALL {
            chain.genesis_header().unwrap();
        }
    }

    #[test]
    fn trusted_header_from_hex_or_file() {
        let header = Chain::Holesky.genesis_header().unwrap();
        let hex_text = hex::encode_prefixed(&header.rlp);
        assert_eq!(parse_trusted_header(&hex_text).unwrap(), header);
        let dir = tempfile::tempdir().unwrap();
        let hex_file = dir.path().join("h.hex");
        std::fs::write(&hex_file, format!("{hex_text}\n")).unwrap();
        assert_eq!(
            parse_trusted_header(hex_file.to_str().unwrap()).unwrap(),
            header
        );
        let raw_file = dir.path().join("h.rlp");
        std::fs::write(&raw_file, &header.rlp).unwrap();
        assert_eq!(
            parse_trusted_header(raw_file.to_str().unwrap()).unwrap(),
            header
        );
        assert!(parse_trusted_header("0x1234").is_err());
        assert!(parse_trusted_header("0xzz").is_err());
        assert!(parse_trusted_header("/no/such/file").is_err());
    }

    #[test]
    fn command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
