//! `portal-state devnet`: the main job. A whole state network on 127.0.0.1 — storage nodes, a
//! bridge pushing a genesis state into them, and a light node serving it over JSON-RPC — with
//! verified spot checks printed as it comes up.

use crate::{Chain, CliResult};
use alloy_primitives::{Address, B256, U256};
use portal_state::client::{BlockId, StateClient};
use portal_state::content::ContentKey;
use portal_state::network::{Network, NetworkConfig};
use portal_state::proof::{
    self, build_witnesses, BlockHeader, GenesisAlloc, VerifiedContent, VerifiedValue,
};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Run a local state network on 127.0.0.1.
///
/// Starts `--nodes` storage nodes, builds every account, storage and bytecode item of a
/// genesis state (the embedded mainnet genesis by default) with its Merkle-Patricia witness,
/// checks the state root it built against the genesis header, pushes the items into the
/// network, and starts a light node that serves JSON-RPC on 127.0.0.1:8545 once the push is
/// done. Prints verified spot checks with their latency, then runs until Ctrl-C or
/// `--exit-after`.
///
/// Example: `portal-state devnet` then
/// `cast balance 0x000d836201318ec6899a67540690382780743280 --rpc-url http://127.0.0.1:8545`.
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct DevnetArgs {
    /// Storage nodes to run (each is a real node: its own UDP socket and SQLite store).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1024))]
    nodes: u16,
    /// Which embedded genesis state to push (and which chain id to run as).
    #[arg(long, value_enum, default_value_t = Chain::Mainnet)]
    chain: Chain,
    /// Push this genesis JSON file instead of the embedded one (a geth/reth genesis, or a bare
    /// allocation map). Its genesis header is the `--chain` one when the state roots match;
    /// otherwise the devnet trusts a synthetic block-0 header carrying the built root.
    #[arg(long, value_name = "FILE")]
    genesis: Option<PathBuf>,
    /// Content bytes each storage node keeps, in MiB; radii shrink once nodes fill.
    #[arg(long, default_value_t = 64)]
    capacity_mib: u64,
    /// Random accounts the light node reads back as spot checks.
    #[arg(long, default_value_t = 10)]
    spot_checks: usize,
    /// Where nodes keep their data (a temporary directory, removed at exit, when not given).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// The light node's JSON-RPC port on 127.0.0.1 (0 picks a free port; the address is
    /// printed).
    #[cfg(feature = "rpc")]
    #[arg(long, default_value_t = 8545)]
    rpc_port: u16,
    /// Stop after this many seconds instead of waiting for Ctrl-C.
    #[arg(long, value_name = "SECONDS")]
    exit_after: Option<u64>,
}

/// What the bridge pushes: a header and every item of the state under its root.
struct Source {
    what: String,
    header: BlockHeader,
    items: Vec<VerifiedContent>,
}

/// The accounts among `items` that exist, with what the spot checks expect of them.
fn expected_accounts(items: &[VerifiedContent]) -> Vec<(Address, U256, u64)> {
    items
        .iter()
        .filter_map(|item| match (item.key(), item.proven()) {
            (ContentKey::Account(key), VerifiedValue::Account(Some(account))) => {
                Some((key.address, account.balance, account.nonce))
            }
            _ => None,
        })
        .collect()
}

fn genesis_source(args: &DevnetArgs) -> CliResult<Source> {
    let chain = args.chain;
    let (what, json) = match &args.genesis {
        Some(path) => (
            format!("genesis {}", path.display()),
            std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?,
        ),
        None => (
            format!("embedded {} genesis", chain.name()),
            chain.genesis_json().to_owned(),
        ),
    };
    let alloc = GenesisAlloc::from_json(&json).map_err(|e| format!("{what}: {e}"))?;
    let built = build_witnesses(&alloc);
    let chain_header = chain.genesis_header()?;
    let header = if built.state_root == chain_header.state_root {
        chain_header
    } else if args.genesis.is_some() {
        println!(
            "{what}: state root {} is not {}'s; trusting a synthetic block-0 header with it",
            built.state_root,
            chain.name()
        );
        BlockHeader::decode(&synthetic_genesis_header(built.state_root))?
    } else {
        return Err(format!(
            "built state root {} does not match the {} genesis header's {}",
            built.state_root,
            chain.name(),
            chain_header.state_root
        )
        .into());
    };
    let items = built
        .items
        .into_iter()
        .map(|(key, value)| proof::verify(key, value))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{what}: a built witness does not verify: {e}"))?;
    Ok(Source {
        what: format!("{what}: {} accounts", alloc.len()),
        header,
        items,
    })
}

/// A block-0 header RLP whose only meaningful field is `state_root`: the trust anchor of a
/// devnet running a genesis file of no known chain.
fn synthetic_genesis_header(state_root: B256) -> Vec<u8> {
    use alloy_rlp::Encodable;
    let mut fields = Vec::new();
    B256::ZERO.encode(&mut fields); // parent hash
    alloy_trie::EMPTY_ROOT_HASH.encode(&mut fields); // ommers hash (any 32 bytes will do)
    Address::ZERO.encode(&mut fields); // beneficiary
    state_root.encode(&mut fields);
    alloy_trie::EMPTY_ROOT_HASH.encode(&mut fields); // transactions root
    alloy_trie::EMPTY_ROOT_HASH.encode(&mut fields); // receipts root
    alloy_primitives::Bloom::ZERO.encode(&mut fields);
    U256::ZERO.encode(&mut fields); // difficulty
    0u64.encode(&mut fields); // number
    30_000_000u64.encode(&mut fields); // gas limit
    0u64.encode(&mut fields); // gas used
    0u64.encode(&mut fields); // timestamp
    alloy_primitives::Bytes::new().encode(&mut fields); // extra data
    B256::ZERO.encode(&mut fields); // mix hash
    alloy_primitives::B64::ZERO.encode(&mut fields); // nonce
    let mut out = Vec::new();
    alloy_rlp::Header {
        list: true,
        payload_length: fields.len(),
    }
    .encode(&mut out);
    out.extend_from_slice(&fields);
    out
}

/// Shows push progress on stderr: one updating line on a terminal, a line per quarter when
/// piped (so logs stay readable).
struct Progress {
    tty: bool,
    last_quarter: usize,
}

impl Progress {
    fn new() -> Self {
        Self {
            tty: std::io::stderr().is_terminal(),
            last_quarter: 0,
        }
    }

    fn update(&mut self, done: usize, total: usize, accepted: usize) {
        if self.tty {
            eprint!("\rbridge: pushed {done}/{total} items, {accepted} offers accepted");
            if done == total {
                eprintln!();
            }
        } else {
            let quarter = (done * 4).checked_div(total).unwrap_or(4);
            if quarter > self.last_quarter {
                self.last_quarter = quarter;
                eprintln!("bridge: pushed {done}/{total} items, {accepted} offers accepted");
            }
        }
    }
}

/// What a push did: offers accepted, and the wall time.
struct Pushed {
    accepted: usize,
    elapsed: Duration,
}

/// Offer every item to the interested nodes closest to it, in batches, reporting progress.
async fn push(bridge: &Network, items: &[VerifiedContent], progress: &mut Progress) -> Pushed {
    const BATCH: usize = 512;
    const COPIES: usize = 4;
    let started = Instant::now();
    let mut accepted = 0;
    let mut done = 0;
    progress.update(0, items.len(), 0);
    for chunk in items.chunks(BATCH) {
        accepted += bridge
            .overlay()
            .offer_to_closest(chunk.to_vec(), COPIES)
            .await;
        done += chunk.len();
        progress.update(done, items.len(), accepted);
    }
    Pushed {
        accepted,
        elapsed: started.elapsed(),
    }
}

/// Wait until the stored item count stops growing (gossip settling), up to `limit`.
async fn settle(nodes: &[Arc<Network>], limit: Duration) -> u64 {
    let deadline = Instant::now() + limit;
    let mut last = u64::MAX;
    loop {
        let stored: u64 = nodes.iter().map(|n| n.status().stored_items).sum();
        if stored == last || Instant::now() >= deadline {
            return stored;
        }
        last = stored;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Run the devnet (see [`DevnetArgs`]).
pub async fn run(args: DevnetArgs) -> CliResult {
    let started = Instant::now();
    // Take the port first: a busy port fails now, not after the network is built.
    #[cfg(feature = "rpc")]
    let listener = crate::rpc::bind(args.rpc_port).await?;

    let temp;
    let root = match &args.data_dir {
        Some(dir) => dir.clone(),
        None => {
            temp = tempfile::Builder::new()
                .prefix("portal-state-devnet-")
                .tempdir()?;
            temp.path().to_path_buf()
        }
    };
    let chain_id = args.chain.chain_id();

    // 1. The state and its witnesses; the root must be the genesis header's.
    let built_at = Instant::now();
    let source = tokio::task::block_in_place(|| genesis_source(&args))?;
    let header = source.header.clone();
    println!(
        "{}, {} content items, state root {} (built and verified in {} ms)",
        source.what,
        source.items.len(),
        header.state_root,
        built_at.elapsed().as_millis()
    );
    println!(
        "state root matches block {} ({}) of chain id {chain_id}",
        header.number, header.hash
    );

    // 2. Storage nodes: the first is the bootnode; all join through it.
    let up_at = Instant::now();
    let config = |name: String, capacity: u64| {
        let mut config = NetworkConfig::loopback(root.join(name), chain_id);
        config.capacity_bytes = capacity;
        config
    };
    let capacity = args.capacity_mib.saturating_mul(1024 * 1024);
    let boot = Network::start(config("node-0".into(), capacity)).await?;
    let boot_enr = boot.enr();
    let mut nodes = vec![Arc::new(boot)];
    for i in 1..args.nodes {
        let mut c = config(format!("node-{i}"), capacity);
        c.bootnodes = vec![boot_enr.clone()];
        nodes.push(Arc::new(Network::start(c).await?));
    }
    // A second round of joining, so the early nodes learn of the later ones.
    futures::future::join_all(
        nodes
            .iter()
            .map(|n| n.overlay().bootstrap(std::slice::from_ref(&boot_enr))),
    )
    .await;
    for node in &nodes {
        node.add_trusted_header(&header.rlp)?;
    }
    let peers: usize = nodes.iter().map(|n| n.status().peers).sum();
    println!(
        "{} storage nodes up on 127.0.0.1 in {} ms ({:.1} peers each); bootnode {}",
        nodes.len(),
        up_at.elapsed().as_millis(),
        peers as f64 / nodes.len() as f64,
        boot_enr.to_base64()
    );

    // 3. The bridge pushes every item to the interested nodes closest to it.
    let mut bridge_config = config("bridge".into(), 0);
    bridge_config.bootnodes = vec![boot_enr.clone()];
    let bridge = Network::start(bridge_config).await?;
    bridge.add_trusted_header(&header.rlp)?;
    let pushed = push(&bridge, &source.items, &mut Progress::new()).await;
    let stored = settle(&nodes, Duration::from_secs(30)).await;
    println!(
        "bridge: {} items pushed in {} ms ({:.0} items/s), {} offers accepted; {} copies stored across {} nodes",
        source.items.len(),
        pushed.elapsed.as_millis(),
        source.items.len() as f64 / pushed.elapsed.as_secs_f64().max(1e-9),
        pushed.accepted,
        stored,
        nodes.len()
    );

    // 4. The light node: stores nothing, trusts the header, answers from the network.
    let mut light_config = config("light".into(), 0);
    light_config.bootnodes = vec![boot_enr.clone()];
    let light = Arc::new(Network::start(light_config).await?);
    light.add_trusted_header(&header.rlp)?;
    let client = StateClient::new(light.clone());

    let (shutdown_tx, _shutdown_rx) = tokio::sync::watch::channel(false);
    #[cfg(feature = "rpc")]
    {
        let addr = listener.local_addr()?;
        let handler = Arc::new(crate::rpc::RpcHandler::new(client.clone(), chain_id));
        tokio::spawn(crate::rpc::serve(
            listener,
            handler,
            shutdown_tx.subscribe(),
        ));
        println!(
            "JSON-RPC: serving on http://{addr} (ready {} ms after start)",
            started.elapsed().as_millis()
        );
    }
    #[cfg(not(feature = "rpc"))]
    println!(
        "ready {} ms after start (built without the rpc feature: no JSON-RPC)",
        started.elapsed().as_millis()
    );

    // 5. Spot checks, read through the light node exactly as JSON-RPC reads them.
    spot_checks(&client, &source.items, args.spot_checks).await?;

    println!(
        "devnet up: {} storage nodes, chain id {chain_id}, block {}; {}",
        nodes.len(),
        header.number,
        if args.exit_after.is_some() {
            "stopping after --exit-after"
        } else {
            "Ctrl-C to stop"
        }
    );
    let waited = crate::wait_for_shutdown(args.exit_after).await;

    let _ = shutdown_tx.send(true);
    light.stop().await;
    bridge.stop().await;
    for node in &nodes {
        node.stop().await;
    }
    waited
}

/// Read `count` random accounts back through `client` and check them against `items`; then an
/// address that is not in the state, which must read as proven absent.
async fn spot_checks(client: &StateClient, items: &[VerifiedContent], count: usize) -> CliResult {
    let expected = expected_accounts(items);
    let picks = rand::seq::index::sample(
        &mut rand::thread_rng(),
        expected.len(),
        count.min(expected.len()),
    );
    for i in picks {
        let (address, balance, nonce) = expected[i];
        let asked = Instant::now();
        let answer = client
            .account(address, BlockId::Latest)
            .await
            .map_err(|e| format!("spot check {address}: no verified answer: {e}"))?;
        let ok = answer.value.balance == balance && answer.value.nonce == nonce;
        println!(
            "spot check {address}: balance {} wei, nonce {} at block {} — {:.1} ms, {} round trips, {} messages [{}]",
            answer.value.balance,
            answer.value.nonce,
            answer.block.number,
            asked.elapsed().as_secs_f64() * 1e3,
            answer.stats.round_trips,
            answer.stats.messages,
            if ok { "ok" } else { "MISMATCH" }
        );
        if !ok {
            return Err(format!(
                "spot check {address}: the network says balance {} nonce {}, the state says {balance} {nonce}",
                answer.value.balance, answer.value.nonce
            )
            .into());
        }
    }
    let nobody = Address::random();
    let asked = Instant::now();
    match client.account(nobody, BlockId::Latest).await {
        Ok(answer) if !answer.value.exists => println!(
            "spot check {nobody}: proven absent at block {} (balance 0) — {:.1} ms, {} round trips",
            answer.block.number,
            asked.elapsed().as_secs_f64() * 1e3,
            answer.stats.round_trips
        ),
        Ok(_) => return Err(format!("spot check {nobody}: a random address exists?").into()),
        Err(e) => println!("spot check {nobody}: no proof of absence found ({e})"),
    }
    Ok(())
}
