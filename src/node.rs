//! [`Node`]: the API an app touches — start a node, give it trusted heads, ask it for verified
//! state, stop it.
//!
//! A `Node` owns everything it runs: a multi-thread tokio runtime it builds itself (a small,
//! configurable number of workers: phones), the [`Network`] spawned in it, and the
//! [`StateClient`] over it. Every query runs as a task on that runtime, so
//!
//! * the blocking forms ([`Node::query_account`], …) can be called from any thread, including
//!   threads of another async runtime (they wait on the task's `JoinHandle`, never nest a
//!   runtime's `block_on`);
//! * the async forms ([`Node::query_account_async`], …) return a `'static` future that only
//!   awaits a tokio `JoinHandle`, which any executor can poll (Kotlin coroutines and Swift async
//!   through uniffi, another tokio runtime, `futures::executor`);
//! * a panic inside a query ends that task only, and comes back as [`NodeError::Internal`].
//!
//! After [`Node::stop`] every call returns [`NodeError::NotRunning`]; a new `Node` can then be
//! started on the same data directory (it keeps its key, trusted headers and peers there).
//!
//! [`Node::call`] and [`Node::estimate_gas`] run revm over state fetched from the network on
//! demand, every piece verified ([`crate::client::StateClient::call`]).
//!
//! [`Node::watch`] pushes verified changes of watched accounts to a listener at each new
//! trusted head (module `watch`: the task, the listener thread, pause and `missed_blocks`).

pub use crate::beacon::follow::LightClientStatus;
// The answers are the client's own types: one set from the core to the edges.
pub use crate::client::{
    AccountState, Answer, BlockId, BlockRef, CallRequest, CallResult, FeeData, SentTransaction,
};
use crate::client::{ClientError, StateClient};
use crate::data_dir::DataDir;
use crate::network::{Network, NetworkConfig, NetworkError};
pub use crate::overlay::LinkConfig;
pub use light_client::LightClientConfig;

mod light_client;
use alloy_primitives::{Address, Bytes, B256, U256};
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::runtime::Runtime;
use tokio::task::{JoinError, JoinHandle};

mod wallet;
mod watch;
pub use watch::{
    WatchEvent, WatchId, WatchListener, WatchedSlot, HEAD_POLL, MAX_WATCHED_SLOTS, MAX_WATCHES,
};

/// How to run a [`Node`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Where the node keeps its key, its content store, trusted headers and known peers. On a
    /// phone: a directory in the app's private files. Created if missing.
    pub data_dir: PathBuf,
    /// Bytes of content the node stores for the network (its share of the DHT). 0 makes a pure
    /// client that stores nothing. Default 64 MiB: a phone's budget.
    pub storage_capacity_bytes: u64,
    /// UDP port to listen on; 0 picks a free one.
    pub listen_port: u16,
    /// Nodes to join through, as `enr:…` strings.
    pub bootnodes: Vec<String>,
    /// The chain whose state we serve (1 = mainnet); peers on other chains are not talked to.
    pub chain_id: u64,
    /// Worker threads of the node's own tokio runtime. Default 2.
    pub worker_threads: usize,
    /// Disjoint paths of every content lookup
    /// ([`crate::overlay::OverlayConfig::disjoint_paths`]): 1, the default, is a plain lookup;
    /// 3 to 4 resist sybils ground near a content id, at about one lookup's messages per path.
    pub disjoint_paths: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("portal-state-data"),
            storage_capacity_bytes: 64 * 1024 * 1024,
            listen_port: 0,
            bootnodes: Vec::new(),
            chain_id: 1,
            worker_threads: 2,
            disjoint_paths: 1,
        }
    }
}

/// A snapshot of a running node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeStatus {
    /// Our node id.
    pub node_id: B256,
    /// Our ENR (`enr:…`), as peers see it.
    pub enr: String,
    /// Peers in the routing table.
    pub peers: u64,
    /// Our radius: content whose id is within this distance of our id is ours to store.
    pub radius: U256,
    /// Bytes of content stored.
    pub stored_bytes: u64,
    /// The newest trusted block's number, if any header is trusted.
    pub newest_block: Option<u64>,
    /// Whether some peer has reached us with a request since start. A node no peer reaches
    /// serves as a client only after a grace period ([`crate::overlay::LinkConfig`]).
    pub reachable: bool,
    /// Whether the node announces itself as a client only (radius 0): not a storage peer.
    pub client_only: bool,
    /// Whether the node is paused ([`Node::pause`]).
    pub paused: bool,
    /// The beacon light client's progress, when it runs ([`Node::start_light_client`]).
    pub light_client: Option<LightClientStatus>,
}

/// Why a [`Node`] call failed. The one error type of the API, in Rust and in every binding.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Error))]
#[cfg_attr(feature = "uniffi", uniffi::export(Display))]
pub enum NodeError {
    /// The node was stopped (or dropped); start a new one.
    #[error("the node is not running")]
    NotRunning,
    /// An argument is malformed: an address, slot, hash, ENR, header RLP or config value.
    #[error("invalid input: {reason}")]
    InvalidInput {
        /// What is wrong with which argument.
        reason: String,
    },
    /// The named block is not among the trusted headers (give it with `update_head` first).
    #[error("block {block} is not a trusted block")]
    UnknownBlock {
        /// The block as asked for (a number or a 0x hash).
        block: String,
    },
    /// No header is trusted yet, so nothing can be verified: call `update_head` first.
    #[error("no trusted block header yet")]
    NoTrustedHeader,
    /// No peer had a verifiable answer (at any block tried, for `Latest`).
    #[error("not found: {what}")]
    NotFound {
        /// What was asked, and at which blocks.
        what: String,
    },
    /// The network failed: the socket could not be bound, a lookup or request failed.
    #[error("network error: {reason}")]
    Network {
        /// The underlying error.
        reason: String,
    },
    /// The data directory, key file or content database failed.
    #[error("storage error: {reason}")]
    Storage {
        /// The underlying error.
        reason: String,
    },
    /// A gas estimate reverted even at the gas cap (a [`Node::call`] revert is an answer).
    #[error("execution reverted: {reason}")]
    Reverted {
        /// The decoded `Error(string)` message, or empty when the data is not one.
        reason: String,
        /// The revert data, as the contract returned it.
        data: Vec<u8>,
    },
    /// The EVM could not run the call: an invalid request (e.g. gas below 21,000), a halt
    /// during a gas estimate, or a failure inside the EVM.
    #[error("execution failed: {reason}")]
    Execution {
        /// What went wrong.
        reason: String,
    },
    /// A bug: a task panicked or the runtime could not be built. Worth a report.
    #[error("internal error: {reason}")]
    Internal {
        /// What happened.
        reason: String,
    },
    /// A signed transaction was not sent: it does not decode, its signature is bad, it is for
    /// another chain, or the sender's verified nonce or balance does not allow it.
    #[error("transaction rejected: {reason}")]
    TransactionRejected {
        /// Why.
        reason: String,
    },
    /// A transaction was to be sent but no relay is set (`set_tx_relays`).
    #[error("no transaction relay set: call set_tx_relays first")]
    NoRelay,
    /// Every relay failed to take the transaction.
    #[error("no relay took the transaction: {reason}")]
    RelayFailed {
        /// Each relay's reason, `URL: reason`, separated by `; `.
        reason: String,
    },
    /// A new watch was refused: the node already keeps the most it may ([`MAX_WATCHES`]);
    /// `unwatch` one first.
    #[error("too many watches: at most {limit} at once")]
    TooManyWatches {
        /// The most watches a node keeps at once.
        limit: u64,
    },
}

impl NodeError {
    fn invalid(reason: impl Into<String>) -> Self {
        NodeError::InvalidInput {
            reason: reason.into(),
        }
    }
}

impl From<NetworkError> for NodeError {
    fn from(e: NetworkError) -> Self {
        match e {
            NetworkError::DataDir(_) | NetworkError::Store(_) => NodeError::Storage {
                reason: e.to_string(),
            },
            NetworkError::Header(h) => NodeError::invalid(format!("header RLP: {h}")),
            NetworkError::Net(_) | NetworkError::Overlay(_) => NodeError::Network {
                reason: e.to_string(),
            },
        }
    }
}

/// How a block is named in errors: the way a caller wrote it.
fn describe_block(block: &BlockId) -> String {
    match block {
        BlockId::Latest => "latest".into(),
        BlockId::Number(n) => n.to_string(),
        BlockId::Hash(h) => h.to_string(),
    }
}

impl From<ClientError> for NodeError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::NoTrustedHeader => NodeError::NoTrustedHeader,
            ClientError::UnknownBlock(b) => NodeError::UnknownBlock {
                block: describe_block(&b),
            },
            ClientError::NotFound { what, tried } => NodeError::NotFound {
                what: format!("{what} (blocks tried: {tried:?})"),
            },
            ClientError::Reverted { reason, data } => NodeError::Reverted {
                reason: reason.unwrap_or_default(),
                data: data.to_vec(),
            },
            ClientError::Execution(reason) => NodeError::Execution { reason },
            ClientError::Network(n) => n.into(),
            ClientError::TransactionRejected(reason) => NodeError::TransactionRejected { reason },
            ClientError::NoRelay => NodeError::NoRelay,
            ClientError::InvalidRelay(reason) => NodeError::InvalidInput { reason },
            ClientError::RelayFailed(reasons) => NodeError::RelayFailed {
                reason: reasons.join("; "),
            },
        }
    }
}

fn join_error(e: JoinError) -> NodeError {
    if e.is_cancelled() {
        // The runtime was shut down under the task: `stop` ran meanwhile.
        return NodeError::NotRunning;
    }
    let panic = e.into_panic();
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    NodeError::Internal {
        reason: format!("a task panicked: {message}"),
    }
}

/// Wait for a task of the node's runtime, from any thread: it waits on the task's
/// `JoinHandle`, never nests a runtime's `block_on`.
fn wait_for<T>(task: JoinHandle<T>) -> Result<T, NodeError> {
    futures::executor::block_on(task).map_err(join_error)
}

/// The task of [`Node::call`], with the test builds' way to panic inside it.
async fn call_task(
    client: StateClient,
    request: CallRequest,
    block: BlockId,
) -> Result<Answer<CallResult>, NodeError> {
    #[cfg(feature = "fault-injection")]
    if request.data.as_ref() == PANIC_IN_CALL {
        panic!("fault injection: a panic inside a call's task");
    }
    Ok(client.call(&request, block).await?)
}

/// Calldata that makes [`Node::call`] panic inside its task on the node's runtime, so tests of
/// every binding can see that panic come back as [`NodeError::Internal`] rather than abort or
/// hang. Only with the `fault-injection` feature, which test builds turn on and app builds
/// never do.
#[cfg(feature = "fault-injection")]
pub const PANIC_IN_CALL: &[u8] = b"portal-state:panic-in-call";

/// The future of an async query: `'static`, `Send`, pollable by any executor.
pub type NodeFuture<T> = Pin<Box<dyn Future<Output = Result<T, NodeError>> + Send + 'static>>;

struct Running {
    runtime: Runtime,
    network: Arc<Network>,
    client: StateClient,
    /// The beacon light client's progress, once started.
    light_client: Option<crate::beacon::follow::SharedStatus>,
}

/// A running state-network node with its own runtime. See the [module docs](self).
pub struct Node {
    // `None` once stopped. Held only to clone handles out, never across a wait.
    state: Mutex<Option<Running>>,
    /// Chain id and transaction relays ([`Node::send_raw_transaction`]).
    sending: wallet::Sending,
    /// The app's watched accounts ([`Node::watch`]).
    watches: watch::Watches,
}

/// Shut a runtime down without blocking inside an async context (dropping a runtime there
/// panics): in one, the workers are left to finish in the background.
fn dispose(runtime: Runtime) {
    if tokio::runtime::Handle::try_current().is_ok() {
        runtime.shutdown_background();
    } else {
        runtime.shutdown_timeout(Duration::from_secs(5));
    }
}

/// The local IP address that routes to the first bootnode: what the node advertises in its
/// ENR while listening on every interface. Found by "connecting" a UDP socket, which sends
/// nothing. Loopback when there is no bootnode (a node alone is only useful locally).
fn route_ip(bootnodes: &[crate::net::Enr]) -> IpAddr {
    let target = bootnodes.iter().find_map(|enr| enr.udp4_socket());
    target
        .and_then(|target| {
            let socket = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
            socket.connect(target).ok()?;
            Some(socket.local_addr().ok()?.ip())
        })
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

fn start_network(
    runtime: &Runtime,
    config: &Config,
    link: &LinkConfig,
    bootnodes: &[crate::net::Enr],
    port: u16,
) -> Result<Network, NodeError> {
    let mut network_config = NetworkConfig::loopback(&config.data_dir, config.chain_id);
    // Every interface, advertising the one that routes to the network; a first guess that the
    // addresses peers observe (behind a NAT) and later route changes replace.
    network_config.bind = SocketAddr::from((Ipv4Addr::UNSPECIFIED, port));
    network_config.external = Some(SocketAddr::new(route_ip(bootnodes), 0));
    network_config.follow_observed_address = true;
    network_config.bootnodes = bootnodes.to_vec();
    network_config.capacity_bytes = config.storage_capacity_bytes;
    network_config.link = link.clone();
    network_config.overlay.disjoint_paths = config.disjoint_paths;
    // Spawned rather than `block_on`: `start` may be called from inside another runtime.
    let network = wait_for(runtime.spawn(Network::start(network_config)))??;
    // After an address change, the interface that routes to the network may be another one.
    let targets = bootnodes.to_vec();
    network.set_locate(Arc::new(move || {
        Some(SocketAddr::new(route_ip(&targets), 0))
    }));
    Ok(network)
}

impl Node {
    /// Start a node: build its runtime, bind the socket, open the store in `data_dir`, restore
    /// its trusted headers and peers, and join through the bootnodes. Blocks until the node is
    /// up.
    pub fn start(config: Config) -> Result<Node, NodeError> {
        Self::start_with_link(config, LinkConfig::default())
    }

    /// [`Node::start`] with other link tunables: keep-alive interval, silence window,
    /// retries. Tests use it to run the same code on a shortened clock.
    pub fn start_with_link(config: Config, link: LinkConfig) -> Result<Node, NodeError> {
        if config.worker_threads == 0 {
            return Err(NodeError::invalid("worker_threads must be at least 1"));
        }
        if config.data_dir.as_os_str().is_empty() {
            return Err(NodeError::invalid("data_dir is empty"));
        }
        let bootnodes = config
            .bootnodes
            .iter()
            .enumerate()
            .map(|(i, text)| {
                crate::net::enr_from_base64(text.trim())
                    .map_err(|e| NodeError::invalid(format!("bootnode {i}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.worker_threads)
            .thread_name("portal-state")
            .enable_all()
            .build()
            .map_err(|e| NodeError::Internal {
                reason: format!("could not build the runtime: {e}"),
            })?;
        let data_dir = DataDir::open(&config.data_dir).map_err(|e| NodeError::Storage {
            reason: e.to_string(),
        })?;
        // With "any port", the port of the last run first: peers that hold our record keep
        // reaching us at the address in it. (Each start raises our ENR's sequence number, so a
        // record with a new port would replace theirs too, but only once they hear from us
        // and ask for it.) Any free port if it is taken.
        let remembered = (config.listen_port == 0)
            .then(|| data_dir.last_port())
            .flatten();
        let mut started = Err(NodeError::NotRunning);
        for port in remembered.into_iter().chain([config.listen_port]) {
            started = start_network(&runtime, &config, &link, &bootnodes, port);
            if started.is_ok() {
                break;
            }
        }
        let network = match started {
            Ok(network) => Arc::new(network),
            Err(e) => {
                dispose(runtime);
                return Err(e);
            }
        };
        if let Some(port) = network.enr().udp4() {
            data_dir.save_port(port);
        }
        tracing::info!(enr = %network.enr().to_base64(), "node started");
        let client = StateClient::new(network.clone());
        Ok(Node {
            state: Mutex::new(Some(Running {
                runtime,
                network,
                client,
                light_client: None,
            })),
            sending: wallet::Sending::new(config.chain_id),
            watches: watch::Watches::default(),
        })
    }

    fn state(&self) -> MutexGuard<'_, Option<Running>> {
        // A panic while the lock was held cannot leave `Option<Running>` half-updated.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn network(&self) -> Result<Arc<Network>, NodeError> {
        self.state()
            .as_ref()
            .map(|r| r.network.clone())
            .ok_or(NodeError::NotRunning)
    }

    /// Spawn `task`, made from what the node runs, on the node's runtime. The lock is released
    /// before anyone waits on the task.
    fn spawn<T, F>(&self, task: impl FnOnce(&Running) -> F) -> Result<JoinHandle<T>, NodeError>
    where
        T: Send + 'static,
        F: Future<Output = T> + Send + 'static,
    {
        let state = self.state();
        let running = state.as_ref().ok_or(NodeError::NotRunning)?;
        Ok(running.runtime.spawn(task(running)))
    }

    /// Run `query` over the client as a task on the node's runtime and wait for it: the
    /// blocking form of every query.
    fn run<T, F>(&self, query: impl FnOnce(StateClient) -> F) -> Result<T, NodeError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, NodeError>> + Send + 'static,
    {
        wait_for(self.spawn(|r| query(r.client.clone()))?)?
    }

    /// [`Node::run`] as a future: the async form of every query.
    fn run_async<T, F>(&self, query: impl FnOnce(StateClient) -> F) -> NodeFuture<T>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, NodeError>> + Send + 'static,
    {
        let spawned = self.spawn(|r| query(r.client.clone()));
        Box::pin(async move { spawned?.await.map_err(join_error)? })
    }

    /// Stop the node: end every watch and task, save the known peers, release the socket and
    /// the database, shut the runtime down. Calling it again does nothing; every other call then
    /// returns [`NodeError::NotRunning`].
    pub fn stop(&self) -> Result<(), NodeError> {
        // Listeners first: none is called once `stop` returns.
        self.watches.end_all();
        let Some(running) = self.state().take() else {
            return Ok(());
        };
        let network = running.network.clone();
        let stopped = wait_for(running.runtime.spawn(async move { network.stop().await }));
        dispose(running.runtime);
        tracing::info!("node stopped");
        stopped
    }

    /// Trust a block header (its RLP, as an execution client or a light client gives it):
    /// state at its root becomes verifiable, and `Latest` queries use it once it is the
    /// newest. It is kept in the data directory across restarts.
    ///
    /// The caller vouches for the header: the node checks that it decodes and hashes it, not
    /// that it is canonical.
    pub fn update_head(&self, header_rlp: &[u8]) -> Result<BlockRef, NodeError> {
        let header = self.network()?.add_trusted_header(header_rlp)?;
        // Watches read at the new head now, not at the next poll.
        self.watches.wake();
        Ok(BlockRef::from(&header))
    }

    /// An account's nonce, balance, storage root and code hash at `block`, verified; a missing
    /// account reads as zeros with the empty roots, and that absence is proven too.
    pub fn query_account(
        &self,
        address: Address,
        block: BlockId,
    ) -> Result<Answer<AccountState>, NodeError> {
        self.run(move |c| async move { Ok(c.account(address, block).await?) })
    }

    /// [`Node::query_account`], as a future.
    pub fn query_account_async(
        &self,
        address: Address,
        block: BlockId,
    ) -> NodeFuture<Answer<AccountState>> {
        self.run_async(move |c| async move { Ok(c.account(address, block).await?) })
    }

    /// The value of storage `slot` of `address` at `block`, verified (0 for a slot never
    /// written).
    pub fn query_storage(
        &self,
        address: Address,
        slot: U256,
        block: BlockId,
    ) -> Result<Answer<U256>, NodeError> {
        self.run(move |c| async move { Ok(c.storage(address, slot, block).await?) })
    }

    /// [`Node::query_storage`], as a future.
    pub fn query_storage_async(
        &self,
        address: Address,
        slot: U256,
        block: BlockId,
    ) -> NodeFuture<Answer<U256>> {
        self.run_async(move |c| async move { Ok(c.storage(address, slot, block).await?) })
    }

    /// The code of `address` at `block`, verified (empty for an account without code).
    pub fn get_code(&self, address: Address, block: BlockId) -> Result<Answer<Bytes>, NodeError> {
        self.run(move |c| async move { Ok(c.code(address, block).await?) })
    }

    /// [`Node::get_code`], as a future.
    pub fn get_code_async(&self, address: Address, block: BlockId) -> NodeFuture<Answer<Bytes>> {
        self.run_async(move |c| async move { Ok(c.code(address, block).await?) })
    }

    /// Execute `request` against the state of `block` without a transaction (`eth_call`):
    /// the state it touches is fetched from the network and verified. A revert or halt is an
    /// outcome ([`CallResult::success`] false), not an error.
    pub fn call(
        &self,
        request: CallRequest,
        block: BlockId,
    ) -> Result<Answer<CallResult>, NodeError> {
        self.run(move |c| call_task(c, request, block))
    }

    /// [`Node::call`], as a future.
    pub fn call_async(
        &self,
        request: CallRequest,
        block: BlockId,
    ) -> NodeFuture<Answer<CallResult>> {
        self.run_async(move |c| call_task(c, request, block))
    }

    /// The least gas limit with which `request` succeeds at `block` (`eth_estimateGas`).
    pub fn estimate_gas(
        &self,
        request: CallRequest,
        block: BlockId,
    ) -> Result<Answer<u64>, NodeError> {
        self.run(move |c| async move { Ok(c.estimate_gas(&request, block).await?) })
    }

    /// [`Node::estimate_gas`], as a future.
    pub fn estimate_gas_async(
        &self,
        request: CallRequest,
        block: BlockId,
    ) -> NodeFuture<Answer<u64>> {
        self.run_async(move |c| async move { Ok(c.estimate_gas(&request, block).await?) })
    }

    /// A snapshot of the node: id, ENR, peers, radius, bytes stored, newest trusted block.
    pub fn status(&self) -> Result<NodeStatus, NodeError> {
        let status = self.network()?.status();
        Ok(NodeStatus {
            node_id: status.node_id,
            enr: status.enr.to_base64(),
            peers: status.peers as u64,
            radius: status.radius.0,
            stored_bytes: status.stored_bytes,
            newest_block: status.newest_header,
            reachable: status.link.reachable,
            client_only: status.link.client_only,
            paused: status.link.paused,
            light_client: self.light_client_status()?,
        })
    }

    /// Tell the node the device's network changed (call it from the app's connectivity
    /// callback: Wi-Fi to cellular, new carrier NAT, VPN). It updates its ENR to the new
    /// address, pings its cached peers again and refills its routing table; queries in flight
    /// retry and complete. Blocks until the recovery is done; returns how many cached peers
    /// answered. The node also notices by itself (silence, a new observed address), later.
    pub fn network_changed(&self) -> Result<u64, NodeError> {
        let task = self.spawn(|r| {
            let network = r.network.clone();
            async move { network.network_changed().await as u64 }
        });
        let alive = wait_for(task?);
        // Reads that failed while the address moved are tried again at once.
        self.watches.wake();
        alive
    }

    /// The app goes to the background: stop every timer and keep-alive, send nothing. Queries
    /// still work if asked. Cheap and idempotent.
    pub fn pause(&self) -> Result<(), NodeError> {
        self.network()?.pause();
        Ok(())
    }

    /// The app is in the foreground again: timers restart and the cached peers are pinged in
    /// parallel (no bootstrap from zero). Returns within about a second: `true` once a cached
    /// peer answered, `false` if none did in that time (the node keeps trying, and joins
    /// through the bootnodes if no cached peer answers at all).
    pub fn resume(&self) -> Result<bool, NodeError> {
        let task = self.spawn(|r| {
            let network = r.network.clone();
            async move { network.resume().await }
        });
        let answered = wait_for(task?);
        // Watches catch up at the newest head (module `watch`: `missed_blocks`).
        self.watches.wake();
        answered
    }

    /// Whether the node is running (started and not stopped).
    pub fn is_running(&self) -> bool {
        self.state().is_some()
    }
}

impl Drop for Node {
    /// A dropped node stops: its socket and database are released.
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("running", &self.is_running())
            .finish()
    }
}
