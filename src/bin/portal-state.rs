//! `portal-state`: run a local state network (`devnet`), a node, or one-shot queries.

use alloy_primitives::{hex, Address, B256};
use clap::{Parser, Subcommand, ValueEnum};
use portal_state::content::{AccountKey, ContentKey};
use portal_state::network::{Network, NetworkConfig};
use portal_state::proof::{self, build_witnesses, GenesisAlloc, VerifiedContent, VerifiedValue};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A node of the Ethereum execution state network: verified accounts, storage and bytecode
/// from peers, with no RPC provider to trust.
#[derive(Parser)]
#[command(name = "portal-state", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a local state network on 127.0.0.1: storage nodes, a bridge that pushes a genesis
    /// state into them, and a light node that reads it back, verified.
    Devnet(DevnetArgs),
}

/// Genesis states embedded in the binary.
#[derive(Clone, Copy, ValueEnum)]
enum Chain {
    /// Ethereum mainnet (8,893 accounts).
    Mainnet,
    /// Sepolia (15 accounts).
    Sepolia,
    /// Holesky (317 accounts, the deposit contract with code and storage).
    Holesky,
}

impl Chain {
    fn genesis_json(self) -> &'static str {
        match self {
            Chain::Mainnet => include_str!("../../data/genesis/mainnet.json"),
            Chain::Sepolia => include_str!("../../data/genesis/sepolia.json"),
            Chain::Holesky => include_str!("../../data/genesis/holesky.json"),
        }
    }

    /// Genesis header RLP, from `data/genesis/genesis-headers.yaml`.
    fn genesis_header_rlp(self) -> Vec<u8> {
        let hex_text = match self {
            Chain::Mainnet => "f90214a00000000000000000000000000000000000000000000000000000000000000000a01dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347940000000000000000000000000000000000000000a0d7f8974fb5ac78d9ac099b9ad5018bedc2ce0a72dad1827a1709da30580f0544a056e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421a056e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421b9010000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000850400000000808213888080a011bbe8db4e347b4e8c937c1c8370e4b5ed33adb3db69cbdb7a38e1e50b1b82faa00000000000000000000000000000000000000000000000000000000000000000880000000000000042",
            Chain::Sepolia => "f9021da00000000000000000000000000000000000000000000000000000000000000000a01dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347940000000000000000000000000000000000000000a05eb6e371a698b8d68f665192350ffcecbbbf322916f4b51bd79bb6887da3f494a056e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421a056e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421b901000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000083020000808401c9c38080846159af19a05365706f6c69612c20417468656e732c204174746963612c2047726565636521a00000000000000000000000000000000000000000000000000000000000000000880000000000000000843b9aca00",
            Chain::Holesky => "f901faa00000000000000000000000000000000000000000000000000000000000000000a01dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347940000000000000000000000000000000000000000a069d8c9d72f6fa4ad42d4702b433707212f90db395eb54dc20bc85de253788783a056e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421a056e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421b9010000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000018084017d784080846515699480a00000000000000000000000000000000000000000000000000000000000000000880000000000001234843b9aca00",
        };
        hex::decode(hex_text).expect("embedded header hex")
    }

    fn chain_id(self) -> u64 {
        match self {
            Chain::Mainnet => 1,
            Chain::Sepolia => 11_155_111,
            Chain::Holesky => 17_000,
        }
    }
}

#[derive(clap::Args)]
struct DevnetArgs {
    /// Storage nodes to run.
    #[arg(long, default_value_t = 16)]
    nodes: usize,
    /// Which embedded genesis state to serve.
    #[arg(long, value_enum, default_value_t = Chain::Mainnet)]
    chain: Chain,
    /// Content bytes each storage node keeps (MiB); radii shrink once nodes fill.
    #[arg(long, default_value_t = 16)]
    capacity_mib: u64,
    /// Random accounts the light node reads back as spot checks.
    #[arg(long, default_value_t = 10)]
    spot_checks: usize,
    /// Where nodes keep their data (a temporary directory when not given).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Stop after this many seconds instead of waiting for Ctrl-C.
    #[arg(long)]
    exit_after: Option<u64>,
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = runtime.block_on(async {
        match cli.command {
            Command::Devnet(args) => devnet(args).await,
        }
    });
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

type CliResult = Result<(), Box<dyn std::error::Error>>;

async fn devnet(args: DevnetArgs) -> CliResult {
    if args.nodes == 0 {
        return Err("--nodes must be at least 1".into());
    }
    let temp;
    let root = match &args.data_dir {
        Some(dir) => dir.clone(),
        None => {
            temp = tempfile::tempdir()?;
            temp.path().to_path_buf()
        }
    };
    let chain = args.chain;

    // 1. The genesis state and its witnesses.
    let started = Instant::now();
    let alloc = GenesisAlloc::from_json(chain.genesis_json())?;
    let state = build_witnesses(&alloc);
    let header_rlp = chain.genesis_header_rlp();
    let header = proof::BlockHeader::decode(&header_rlp)?;
    println!(
        "genesis: {} accounts, {} content items, state root {} (built in {} ms)",
        alloc.len(),
        state.items.len(),
        state.state_root,
        started.elapsed().as_millis()
    );
    if state.state_root != header.state_root {
        return Err(format!(
            "built state root {} does not match the genesis header's {}",
            state.state_root, header.state_root
        )
        .into());
    }
    println!(
        "state root matches genesis block {} ({})",
        header.number, header.hash
    );
    let items: Vec<VerifiedContent> = state
        .items
        .iter()
        .map(|(k, v)| proof::verify(*k, v.clone()))
        .collect::<Result<_, _>>()?;

    // 2. Storage nodes.
    let node_config = |dir: PathBuf, capacity: u64| {
        let mut config = NetworkConfig::loopback(dir, chain.chain_id());
        config.capacity_bytes = capacity;
        config
    };
    let started = Instant::now();
    let capacity = args.capacity_mib * 1024 * 1024;
    let boot = Network::start(node_config(root.join("node-0"), capacity)).await?;
    let boot_enr = boot.enr();
    let mut nodes = vec![boot];
    for i in 1..args.nodes {
        let mut config = node_config(root.join(format!("node-{i}")), capacity);
        config.bootnodes = vec![boot_enr.clone()];
        nodes.push(Network::start(config).await?);
    }
    for node in &nodes {
        node.overlay()
            .bootstrap(std::slice::from_ref(&boot_enr))
            .await;
        node.add_trusted_header(&header_rlp)?;
    }
    let peers: usize = nodes.iter().map(|n| n.status().peers).sum();
    println!(
        "{} storage nodes up on 127.0.0.1 in {} ms ({:.1} peers each); bootnode {}",
        nodes.len(),
        started.elapsed().as_millis(),
        peers as f64 / nodes.len() as f64,
        boot_enr.to_base64()
    );

    // 3. The bridge pushes every item to the interested nodes closest to it.
    let mut bridge_config = node_config(root.join("bridge"), 0);
    bridge_config.bootnodes = vec![boot_enr.clone()];
    let bridge = Network::start(bridge_config).await?;
    bridge.add_trusted_header(&header_rlp)?;
    let started = Instant::now();
    let mut accepted = 0;
    let batch = 512;
    for (i, chunk) in items.chunks(batch).enumerate() {
        accepted += bridge.overlay().place(chunk.to_vec(), 4).await.accepted;
        let done = (i * batch + chunk.len()).min(items.len());
        eprint!(
            "\rbridge: pushed {done}/{} items, {accepted} accepted",
            items.len()
        );
    }
    eprintln!();
    // Let gossip settle.
    let mut last = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let stored: u64 = nodes.iter().map(|n| n.status().stored_items).sum();
        if stored == last {
            break;
        }
        last = stored;
    }
    println!(
        "bridge: {} items pushed in {} ms; {} copies stored across the network",
        items.len(),
        started.elapsed().as_millis(),
        last
    );

    // 4. A light node reads random accounts back, verified.
    let mut light_config = node_config(root.join("light"), 0);
    light_config.bootnodes = vec![boot_enr.clone()];
    let light = Network::start(light_config).await?;
    light.add_trusted_header(&header_rlp)?;
    let accounts: Vec<Address> = alloc.iter().map(|(a, _)| *a).collect();
    for i in 0..args.spot_checks.min(accounts.len()) {
        let address = accounts[(i * 7919 + 13) % accounts.len()];
        let key = ContentKey::Account(AccountKey {
            address,
            state_root: header.state_root,
        });
        let started = Instant::now();
        let found = light.find_content(key).await?;
        let elapsed = started.elapsed();
        let VerifiedValue::Account(account) = found.content.proven() else {
            return Err("account lookup returned another content type".into());
        };
        let balance = account.map(|a| a.balance).unwrap_or_default();
        let expected = alloc.get(&address).map(|a| a.balance).unwrap_or_default();
        let verdict = if balance == expected {
            "ok"
        } else {
            "MISMATCH"
        };
        println!(
            "spot check {address}: balance {balance} wei, verified at block {} in {:.1} ms, {} round trips, {} messages [{verdict}]",
            header.number,
            elapsed.as_secs_f64() * 1e3,
            found.stats.round_trips,
            found.stats.messages
        );
        if balance != expected {
            return Err(format!("spot check of {address} does not match the genesis file").into());
        }
    }
    // An address that is not in the genesis: a verified absence.
    let absent = Address::from(B256::random().0[..20].try_into().unwrap_or([0u8; 20]));
    let key = ContentKey::Account(AccountKey {
        address: absent,
        state_root: header.state_root,
    });
    if let Ok(found) = light.find_content(key).await {
        println!(
            "spot check {absent}: {:?} (proven absent)",
            found.content.proven()
        );
    } else {
        println!("spot check {absent}: no exclusion proof stored for it (the bridge pushes only existing accounts)");
    }

    match args.exit_after {
        Some(seconds) => {
            println!("devnet up; stopping after {seconds} s");
            tokio::time::sleep(Duration::from_secs(seconds)).await;
        }
        None => {
            println!("devnet up; Ctrl-C to stop");
            tokio::signal::ctrl_c().await?;
        }
    }
    light.stop().await;
    bridge.stop().await;
    for node in nodes {
        node.stop().await;
    }
    Ok(())
}
