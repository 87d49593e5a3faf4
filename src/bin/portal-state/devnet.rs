//! `portal-state devnet`: the main job. A whole state network on 127.0.0.1 — storage nodes, a
//! bridge pushing a genesis state into them, and a light node serving it over JSON-RPC — with
//! verified spot checks printed as it comes up.

use crate::{Chain, CliResult};
use alloy_primitives::{Address, B256, U256};
use portal_state::bridge::{
    self, BlockReport, ExecutionClient, Follower, FollowerConfig, PushProgress, StartAt,
};
use portal_state::client::{BlockId, StateClient};
use portal_state::content::ContentKey;
use portal_state::network::{Network, NetworkConfig};
use portal_state::proof::{BlockHeader, VerifiedContent, VerifiedValue};
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
    #[arg(long, value_name = "FILE", group = "source")]
    genesis: Option<PathBuf>,
    /// Push the state in this proofs file instead: `{"header_rlp": "0x…", "proofs":
    /// [<eth_getProof results>], "code": {"<code hash>": "0x…"}}`, all verified against the
    /// header, which the devnet trusts. Runs as chain --chain.
    #[arg(long, value_name = "FILE", group = "source")]
    proofs: Option<PathBuf>,
    /// Follow this execution client instead (e.g. http://127.0.0.1:8545 of anvil, geth, reth).
    /// First its whole state at its head is loaded (anvil_dumpState), rebuilt into tries and
    /// checked against that block's state root, and pushed; JSON-RPC serves at that block at
    /// once. Then each new block's header is trusted and its changed accounts, slots and code
    /// are proven (eth_getProof) and pushed (needs debug_traceBlockByNumber with the prestate
    /// tracer). A client without a state dump is followed from its next block only, and
    /// JSON-RPC starts once that block is pushed. Runs as the client's chain id. (Its
    /// --rpc-port must differ from the client's port.)
    #[arg(long, value_name = "URL", group = "source")]
    el_rpc: Option<String>,
    /// Content bytes each storage node keeps, in MiB; radii shrink once nodes fill. By default
    /// sized so that each node keeps about 8/N of the state: every item lands on several
    /// nodes, and no node holds it all (64 MiB when following an execution client).
    #[arg(long, value_name = "MIB")]
    capacity_mib: Option<u64>,
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
    let content = bridge::genesis_content(&json).map_err(|e| format!("{what}: {e}"))?;
    let chain_header = chain.genesis_header()?;
    let header = if content.state_root == chain_header.state_root {
        chain_header
    } else if args.genesis.is_some() {
        println!(
            "{what}: state root {} is not {}'s; trusting a synthetic block-0 header with it",
            content.state_root,
            chain.name()
        );
        BlockHeader::decode(&synthetic_genesis_header(content.state_root))?
    } else {
        return Err(format!(
            "built state root {} does not match the {} genesis header's {}",
            content.state_root,
            chain.name(),
            chain_header.state_root
        )
        .into());
    };
    let accounts = expected_accounts(&content.items).len();
    Ok(Source {
        what: format!("{what}: {accounts} accounts"),
        header,
        items: content.items,
    })
}

fn proofs_source(path: &std::path::Path) -> CliResult<Source> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (header, items) =
        bridge::proofs_file_content(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Source {
        what: format!(
            "proofs file {}: {} accounts",
            path.display(),
            expected_accounts(&items).len()
        ),
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

/// A node capacity at which each of `nodes` nodes keeps about 8/`nodes` of the state (all of
/// it with 8 nodes or fewer), so that every item is kept on several nodes.
///
/// Why not "everything everywhere": a node's radius stays at the maximum until it is full, and
/// gossip re-offers each accepted item to every interested peer, so unbounded nodes would each
/// receive every item, which multiplies the push's work by N. Why not much less: a node keeps
/// the items nearest to it on the ring, and the gaps between N random node ids are uneven; at
/// 8/N the largest gap among 16 nodes is covered with a probability of about 0.9995.
fn auto_capacity(items: &[VerifiedContent], nodes: u16) -> u64 {
    let state_bytes: u64 = items
        .iter()
        .map(|i| (i.key().encode().len() + i.value().encode().len()) as u64)
        .sum();
    let share = (8.0 / f64::from(nodes.max(1))).min(1.0);
    // 10% and 1 MiB of slack: the store counts exactly these bytes, but pruning at the edge
    // should not trim the last items of a node's own share.
    (state_bytes as f64 * share * 1.1) as u64 + 1024 * 1024
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

/// The running network: storage nodes, the bridge's node and the light node.
struct Devnet {
    nodes: Vec<Arc<Network>>,
    bridge: Arc<Network>,
    light: Arc<Network>,
}

impl Devnet {
    /// Start `n` storage nodes (the first is the bootnode), a bridge node and a light node, all
    /// on 127.0.0.1 with their data under `root`.
    async fn start(
        root: &std::path::Path,
        n: u16,
        capacity: u64,
        chain_id: u64,
        disjoint_paths: usize,
    ) -> CliResult<Self> {
        let up_at = Instant::now();
        let config = |name: &str, capacity: u64| {
            let mut config = NetworkConfig::loopback(root.join(name), chain_id);
            config.capacity_bytes = capacity;
            config.overlay.disjoint_paths = disjoint_paths;
            config
        };
        let boot = Network::start(config("node-0", capacity)).await?;
        let boot_enr = boot.enr();
        let mut nodes = vec![Arc::new(boot)];
        for i in 1..n {
            let mut c = config(&format!("node-{i}"), capacity);
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
        let peers: usize = nodes.iter().map(|n| n.status().peers).sum();
        println!(
            "{} storage nodes up on 127.0.0.1 in {} ms ({:.1} peers each); bootnode {}",
            nodes.len(),
            up_at.elapsed().as_millis(),
            peers as f64 / nodes.len() as f64,
            boot_enr.to_base64()
        );
        let mut bridge_config = config("bridge", 0);
        bridge_config.bootnodes = vec![boot_enr.clone()];
        let bridge = Arc::new(Network::start(bridge_config).await?);
        // The light node stores nothing and answers from the network.
        let mut light_config = config("light", 0);
        light_config.bootnodes = vec![boot_enr];
        let light = Arc::new(Network::start(light_config).await?);
        Ok(Self {
            nodes,
            bridge,
            light,
        })
    }

    /// Every node: storage nodes, bridge, light node.
    fn all(&self) -> Vec<Arc<Network>> {
        let mut all = self.nodes.clone();
        all.push(self.bridge.clone());
        all.push(self.light.clone());
        all
    }

    /// Trust `header` on every node: nodes decline content whose root they do not trust.
    fn trust(&self, header: &BlockHeader) -> CliResult {
        for node in self.all() {
            node.add_trusted_header(&header.rlp)?;
        }
        Ok(())
    }

    async fn stop(&self) {
        for node in self.all() {
            node.stop().await;
        }
    }
}

/// Trusts `source`'s header on every node and pushes its items through the bridge node.
async fn push_source(devnet: &Devnet, source: &Source) -> CliResult {
    devnet.trust(&source.header)?;
    let mut progress = Progress::new();
    let report = bridge::push(&devnet.bridge, source.items.clone(), |p: PushProgress| {
        progress.update(p.done, p.total, p.accepted)
    })
    .await;
    let stored = settle(&devnet.nodes, Duration::from_secs(30)).await;
    println!(
        "bridge: {} items pushed in {} ms ({:.0} items/s): {} offers accepted, {} already stored, {} unplaced; {} copies stored across {} nodes",
        report.items,
        report.elapsed.as_millis(),
        report.items_per_sec,
        report.accepted,
        report.already_stored,
        report.unplaced,
        stored,
        devnet.nodes.len()
    );
    Ok(())
}

/// An execution client's whole state at its head as a [`Source`]: `Ok(None)` when it cannot
/// be had (no state dump; or anvil at block 0, whose genesis header commits to no state),
/// said on stdout.
async fn whole_state(el: &ExecutionClient) -> CliResult<Option<Source>> {
    let url = el.url();
    let built_at = Instant::now();
    match bridge::state_at_head(el).await {
        Ok(state) => {
            println!(
                "{url}: whole state at block {}: {} accounts, {} content items, state root {} (built and verified in {} ms)",
                state.header.number,
                state.accounts,
                state.content.items.len(),
                state.content.state_root,
                built_at.elapsed().as_millis()
            );
            println!(
                "state root matches block {} ({})",
                state.header.number, state.header.hash
            );
            Ok(Some(Source {
                what: format!("{url} at block {}", state.header.number),
                header: state.header,
                items: state.content.items,
            }))
        }
        Err(e @ bridge::BridgeError::NoStateDump { .. }) => {
            println!(
                "{url}: {e}: the state before its next block is not in the network; only what \
                 changes from then on is"
            );
            Ok(None)
        }
        Err(e @ bridge::BridgeError::GenesisWithoutStateRoot) => {
            println!("{url}: {e}: its whole state is loaded after its first block");
            Ok(None)
        }
        Err(e) => Err(format!("{url}: whole state at its head: {e}").into()),
    }
}

/// Follows `el` from `start` in the background, pushing each block's changes through the
/// devnet's bridge node; `on_block` hears each block once it is pushed.
fn spawn_follower(
    devnet: &Devnet,
    el: ExecutionClient,
    start: StartAt,
    shutdown: tokio::sync::watch::Receiver<bool>,
    mut on_block: impl FnMut(&BlockReport) + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    // Storage nodes and the bridge trust a block before its push (they decline content they
    // cannot verify); the light node only after it, so that "latest" on the JSON-RPC endpoint
    // is a block whose changes are in the network.
    let mut nodes = devnet.nodes.clone();
    nodes.push(devnet.bridge.clone());
    let light = devnet.light.clone();
    let mut follower = Follower::new(
        el,
        FollowerConfig {
            start,
            ..FollowerConfig::default()
        },
    )
    .on_header(move |header| {
        for node in &nodes {
            if let Err(e) = node.add_trusted_header(&header.rlp) {
                tracing::warn!(error = %e, "devnet: could not trust a followed header");
            }
        }
    });
    let bridge_node = devnet.bridge.clone();
    tokio::spawn(async move {
        let on_block = move |report: &BlockReport| {
            if let Err(e) = light.add_trusted_header(&report.header_rlp) {
                tracing::warn!(error = %e, "devnet: the light node could not trust a block");
            }
            println!(
                "bridge: block {} ({}): {} items pushed, {} offers accepted, in {} ms",
                report.number,
                report.hash,
                report.items,
                report.accepted,
                report.elapsed.as_millis()
            );
            on_block(report);
        };
        follower.run(&bridge_node, on_block, shutdown).await;
    })
}

/// Run the devnet (see [`DevnetArgs`]).
pub async fn run(args: DevnetArgs) -> CliResult {
    let started = Instant::now();
    // Take the port first: a busy port fails now, not after the network is built.
    #[cfg(feature = "rpc")]
    let listener = crate::rpc::bind(args.rpc_port).await?;
    #[cfg(feature = "rpc")]
    let relays = portal_state::client::TxRelays::new(&args.tx_relays)
        .map_err(|e| format!("--tx-relay: {e}"))?;

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

    // The state to push, or the execution client to follow.
    let (source, el) = match &args.el_rpc {
        Some(url) => {
            let el = ExecutionClient::new(url).map_err(|e| format!("--el-rpc {url}: {e}"))?;
            let chain_id = el
                .chain_id()
                .await
                .map_err(|e| format!("cannot reach the execution client at {url}: {e}"))?;
            println!("following the execution client at {url} (chain id {chain_id})");
            // Its whole state at its head first, so that every account is served at once.
            let source = whole_state(&el).await?;
            (source, Some((el, chain_id)))
        }
        None => {
            let built_at = Instant::now();
            let source = tokio::task::block_in_place(|| match &args.proofs {
                Some(path) => proofs_source(path),
                None => genesis_source(&args),
            })?;
            println!(
                "{}, {} content items, state root {} (built and verified in {} ms)",
                source.what,
                source.items.len(),
                source.header.state_root,
                built_at.elapsed().as_millis()
            );
            println!(
                "state root matches block {} ({})",
                source.header.number, source.header.hash
            );
            (Some(source), None)
        }
    };
    let chain_id = el.as_ref().map_or(args.chain.chain_id(), |(_, id)| *id);
    let capacity = match (args.capacity_mib, &source) {
        (Some(mib), _) => mib.saturating_mul(1024 * 1024),
        (None, Some(source)) => auto_capacity(&source.items, args.nodes),
        (None, None) => 64 * 1024 * 1024,
    };

    let paths = usize::from(args.disjoint_paths);
    let devnet = Devnet::start(&root, args.nodes, capacity, chain_id, paths).await?;
    let (shutdown_tx, _) = tokio::sync::watch::channel(false);

    // The first push; with an execution client, the follower keeps pushing in the background.
    let (items, follower) = match (source, el) {
        (Some(source), el) => {
            push_source(&devnet, &source).await?;
            // Following an execution client: from the block after the state loaded.
            let follower = el.map(|(el, _)| {
                println!(
                    "bridge: following {} from block {}",
                    el.url(),
                    source.header.number + 1
                );
                spawn_follower(
                    &devnet,
                    el,
                    StartAt::Block(source.header.number + 1),
                    shutdown_tx.subscribe(),
                    |_| {},
                )
            });
            (source.items, follower)
        }
        (None, Some((el, _))) => {
            let el_for_state = el.clone();
            let (first_tx, mut first_rx) = tokio::sync::mpsc::unbounded_channel::<Vec<Address>>();
            let task = spawn_follower(
                &devnet,
                el,
                StartAt::Latest,
                shutdown_tx.subscribe(),
                move |report| {
                    let accounts = report
                        .keys
                        .iter()
                        .filter_map(|k| match k {
                            ContentKey::Account(a) => Some(a.address),
                            _ => None,
                        })
                        .collect();
                    let _ = first_tx.send(accounts);
                },
            );
            println!("bridge: waiting for the execution client's first block after genesis");
            let touched = tokio::select! {
                touched = first_rx.recv() => touched.unwrap_or_default(),
                waited = crate::wait_for_shutdown(args.exit_after) => {
                    let _ = shutdown_tx.send(true);
                    let _ = task.await;
                    devnet.stop().await;
                    return waited;
                }
            };
            // Spot checks need expected values; with an execution client they are its own
            // answers, so they are not checked here but printed (the tests compare them).
            println!(
                "bridge: first block pushed; {} accounts changed in it",
                touched.len()
            );
            // anvil at block 0 could not give a checkable state; now it can.
            if let Some(source) = whole_state(&el_for_state).await? {
                push_source(&devnet, &source).await?;
            }
            (Vec::new(), Some(task))
        }
        (None, None) => unreachable!("a source or an execution client is always chosen"),
    };

    let client = StateClient::new(devnet.light.clone());
    #[cfg(feature = "rpc")]
    {
        let addr = listener.local_addr()?;
        let handler =
            Arc::new(crate::rpc::RpcHandler::new(client.clone(), chain_id).with_relays(relays));
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

    // Spot checks, read through the light node exactly as JSON-RPC reads them.
    let checked = spot_checks(&client, &items, args.spot_checks).await;

    let waited = match checked {
        Ok(()) => {
            println!(
                "devnet up: {} storage nodes, chain id {chain_id}; {}",
                devnet.nodes.len(),
                if args.exit_after.is_some() {
                    "stopping after --exit-after"
                } else {
                    "Ctrl-C to stop"
                }
            );
            crate::wait_for_shutdown(args.exit_after).await
        }
        Err(e) => Err(e),
    };
    let _ = shutdown_tx.send(true);
    if let Some(task) = follower {
        let _ = task.await;
    }
    devnet.stop().await;
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
