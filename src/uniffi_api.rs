//! The Kotlin / Swift / Python surface (uniffi proc-macros): a thin shell over [`crate::node`]
//! and [`crate::logging`] that only converts types at the edge.
//!
//! Conventions at the edge, the way wallet code holds these values:
//!
//! * addresses: `0x` + 40 hex digits. Any case; a mixed-case address must carry a valid
//!   EIP-55 checksum (a typo in a checksummed address is caught, not queried).
//! * storage slots: `0x` + 1 to 64 hex digits (`"0x0"` is slot 0).
//! * hashes (block hash, state/storage root, code hash, node id): `0x` + 64 lowercase hex digits.
//! * **balance**: a *decimal* string of wei (`"1000000000000000000"`), exact at any size: Kotlin
//!   `BigInteger(balance)`, Python `int(balance)`, Swift a decimal big-integer type.
//! * **storage value**: the 32-byte word as `0x` + 64 hex digits, as `eth_getStorageAt` gives it
//!   (Python `int(value, 16)`, Kotlin `BigInteger(value.substring(2), 16)`).
//! * header RLP and code: bytes (`ByteArray`, `bytes`, `Data`).
//!
//! Every error is one [`NodeError`]; malformed input is [`NodeError::InvalidInput`] with a
//! reason naming the argument. Panics are caught by uniffi and surface as errors (the crate
//! keeps `panic = "unwind"` in every profile).

use crate::input::{parse_address, parse_amount, parse_b256, parse_hash, parse_slot, word};
use crate::logging::{self, LogLevel, LogSink};
use crate::node::{self as core, NodeError};
use std::sync::Arc;

mod wallet;
mod watch;

/// How to run a node. Start from [`default_node_config`].
#[derive(Clone, Debug, uniffi::Record)]
pub struct NodeConfig {
    /// Where the node keeps its key, content, trusted headers and peers (created if missing).
    pub data_dir: String,
    /// Bytes of content stored for the network; 0 stores nothing. Default 64 MiB.
    pub storage_capacity_bytes: u64,
    /// UDP port to listen on; 0 picks a free one.
    pub listen_port: u16,
    /// Nodes to join through, as `enr:…` strings.
    pub bootnodes: Vec<String>,
    /// Chain id (1 = mainnet).
    pub chain_id: u64,
    /// Worker threads of the node's runtime. Default 2.
    pub worker_threads: u32,
}

/// The default configuration (64 MiB store, any port, mainnet, 2 threads, no bootnodes) with
/// `data_dir` set.
#[uniffi::export]
pub fn default_node_config(data_dir: String) -> NodeConfig {
    let d = core::Config::default();
    NodeConfig {
        data_dir,
        storage_capacity_bytes: d.storage_capacity_bytes,
        listen_port: d.listen_port,
        bootnodes: d.bootnodes,
        chain_id: d.chain_id,
        worker_threads: d.worker_threads as u32,
    }
}

/// Which block a query is about.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum BlockId {
    /// The newest trusted block with an answer (older trusted blocks are tried when the
    /// newest has none yet; the answer's `block` says which).
    Latest,
    /// The trusted block with this number.
    Number {
        /// Block number.
        number: u64,
    },
    /// The trusted block with this hash (`0x` + 64 hex digits).
    Hash {
        /// Block hash.
        hash: String,
    },
}

/// The block an answer is true at.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct BlockInfo {
    /// Block number.
    pub number: u64,
    /// Block hash, `0x…`.
    pub hash: String,
    /// The state root the answer was verified against, `0x…`.
    pub state_root: String,
}

/// An account at a block, verified.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct AccountAnswer {
    /// The block the answer is true at.
    pub block: BlockInfo,
    /// Transaction count.
    pub nonce: u64,
    /// Balance in wei, as a decimal string (exact).
    pub balance: String,
    /// Storage root, `0x…`.
    pub storage_root: String,
    /// Code hash, `0x…`.
    pub code_hash: String,
    /// Whether the account exists (its absence is proven too).
    pub exists: bool,
}

/// A storage slot at a block, verified.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct StorageAnswer {
    /// The block the answer is true at.
    pub block: BlockInfo,
    /// The 32-byte word, `0x` + 64 hex digits.
    pub value: String,
}

/// An account's code at a block, verified.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct CodeAnswer {
    /// The block the answer is true at.
    pub block: BlockInfo,
    /// The bytecode (empty for an account without code).
    pub code: Vec<u8>,
}

/// A call (`eth_call` / `eth_estimateGas`): a transaction that is never signed nor sent.
/// Amounts (`gas_price`, `value`) in wei as decimal or `0x`-hex strings.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct CallRequest {
    /// The sender (`0x…`); the zero address when absent.
    pub from: Option<String>,
    /// The called contract (`0x…`); a contract creation with `data` as init code when absent.
    pub to: Option<String>,
    /// Gas limit; the block's gas limit when absent.
    pub gas: Option<u64>,
    /// Gas price in wei; zero (base fee not enforced) when absent.
    pub gas_price: Option<String>,
    /// Wei sent with the call (the sender's balance is not checked).
    pub value: Option<String>,
    /// Calldata.
    pub data: Vec<u8>,
    /// What the `CHAINID` opcode reads; 1 when absent.
    pub chain_id: Option<u64>,
}

/// The outcome of a call. A revert or halt is an outcome (`success == false`), not an error.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct CallAnswer {
    /// The block whose state the call ran against.
    pub block: BlockInfo,
    /// Whether the call returned normally.
    pub success: bool,
    /// Returned bytes on success, revert data on a revert, empty on a halt.
    pub return_data: Vec<u8>,
    /// Gas used, refunds applied.
    pub gas_used: u64,
    /// The decoded `Error(string)` message of a revert.
    pub revert_reason: Option<String>,
    /// Why execution halted, when it did.
    pub halt_reason: Option<String>,
}

/// The outcome of a gas estimate.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct GasAnswer {
    /// The block whose state the estimate ran against.
    pub block: BlockInfo,
    /// The least gas limit with which the call succeeds.
    pub gas: u64,
}

/// A snapshot of a running node.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct NodeStatus {
    /// Node id, `0x…`.
    pub node_id: String,
    /// Our ENR, `enr:…`.
    pub enr: String,
    /// Peers in the routing table.
    pub peers: u64,
    /// Radius, `0x…` (64 hex digits).
    pub radius: String,
    /// Bytes of content stored.
    pub stored_bytes: u64,
    /// The newest trusted block's number.
    pub newest_block: Option<u64>,
    /// Whether some peer has reached us with a request since start.
    pub reachable: bool,
    /// Whether the node serves as a client only (announces radius 0): no peer reaches it.
    pub client_only: bool,
    /// Whether the node is paused (`pause()`).
    pub paused: bool,
    /// The beacon light client's progress, when `start_light_client` was called.
    pub light_client: Option<LightClientStatus>,
}

/// What the beacon light client has reached.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct LightClientStatus {
    /// The checkpoint it grew from, `0x…`.
    pub checkpoint: String,
    /// The finalized beacon slot (none before the bootstrap).
    pub finalized_slot: Option<u64>,
    /// The optimistic beacon slot.
    pub optimistic_slot: Option<u64>,
    /// The finalized header's execution block number.
    pub finalized_block: Option<u64>,
    /// The optimistic header's execution block number: the newest trusted block.
    pub optimistic_block: Option<u64>,
    /// The last error of a round in which no source succeeded.
    pub last_error: Option<String>,
    /// Peers of the Portal beacon network (`0x501A`) that answered its Ping.
    pub beacon_peers: u64,
    /// Objects from those peers that failed verification (their senders are not asked again).
    pub refused_objects: u64,
}

impl From<core::LightClientStatus> for LightClientStatus {
    fn from(s: core::LightClientStatus) -> Self {
        LightClientStatus {
            checkpoint: s.checkpoint.to_string(),
            finalized_slot: s.finalized_slot,
            optimistic_slot: s.optimistic_slot,
            finalized_block: s.finalized_block,
            optimistic_block: s.optimistic_block,
            last_error: s.last_error,
            beacon_peers: s.beacon_peers as u64,
            refused_objects: s.refused_objects,
        }
    }
}

/// A node of the state network. Blocking methods wait for the answer: call them off the UI
/// thread. `…Async` methods are Kotlin `suspend` / Swift `async` / Python `async` functions.
/// After `stop()` every method fails with `NotRunning`.
#[derive(uniffi::Object)]
pub struct Node {
    inner: core::Node,
}

fn parse_call(request: CallRequest) -> Result<core::CallRequest, NodeError> {
    let address = |a: Option<String>| a.as_deref().map(parse_address).transpose();
    let amount = |a: Option<String>, what| a.map(|t| parse_amount(&t, what)).transpose();
    Ok(core::CallRequest {
        from: address(request.from)?,
        to: address(request.to)?,
        gas: request.gas,
        gas_price: amount(request.gas_price, "gas_price")?,
        value: amount(request.value, "value")?,
        data: request.data.into(),
        chain_id: request.chain_id,
        // Not in the bindings yet: the call's items are found by running it.
        access_list: Vec::new(),
    })
}

impl From<core::Answer<core::CallResult>> for CallAnswer {
    fn from(a: core::Answer<core::CallResult>) -> Self {
        CallAnswer {
            block: a.block.into(),
            success: a.value.success,
            return_data: a.value.return_data.to_vec(),
            gas_used: a.value.gas_used,
            revert_reason: a.value.revert_reason,
            halt_reason: a.value.halt_reason,
        }
    }
}

impl From<core::Answer<u64>> for GasAnswer {
    fn from(a: core::Answer<u64>) -> Self {
        GasAnswer {
            block: a.block.into(),
            gas: a.value,
        }
    }
}

fn parse_block(block: BlockId) -> Result<crate::client::BlockId, NodeError> {
    Ok(match block {
        BlockId::Latest => crate::client::BlockId::Latest,
        BlockId::Number { number } => crate::client::BlockId::Number(number),
        BlockId::Hash { hash } => crate::client::BlockId::Hash(parse_hash(&hash)?),
    })
}

impl From<core::BlockRef> for BlockInfo {
    fn from(b: core::BlockRef) -> Self {
        BlockInfo {
            number: b.number,
            hash: b.hash.to_string(),
            state_root: b.state_root.to_string(),
        }
    }
}

impl From<core::Answer<core::AccountState>> for AccountAnswer {
    fn from(a: core::Answer<core::AccountState>) -> Self {
        AccountAnswer {
            block: a.block.into(),
            nonce: a.value.nonce,
            balance: a.value.balance.to_string(),
            storage_root: a.value.storage_root.to_string(),
            code_hash: a.value.code_hash.to_string(),
            exists: a.value.exists,
        }
    }
}

impl From<core::Answer<alloy_primitives::U256>> for StorageAnswer {
    fn from(a: core::Answer<alloy_primitives::U256>) -> Self {
        StorageAnswer {
            block: a.block.into(),
            value: word(a.value),
        }
    }
}

impl From<core::Answer<alloy_primitives::Bytes>> for CodeAnswer {
    fn from(a: core::Answer<alloy_primitives::Bytes>) -> Self {
        CodeAnswer {
            block: a.block.into(),
            code: a.value.to_vec(),
        }
    }
}

#[uniffi::export]
impl Node {
    /// Start a node (blocking until it is up). Also installs log routing: stderr / logcat /
    /// unified log, plus any sink set with `set_log_sink`.
    #[uniffi::constructor]
    pub fn start(config: NodeConfig) -> Result<Arc<Self>, NodeError> {
        logging::init();
        let inner = core::Node::start(core::Config {
            data_dir: config.data_dir.into(),
            storage_capacity_bytes: config.storage_capacity_bytes,
            listen_port: config.listen_port,
            bootnodes: config.bootnodes,
            chain_id: config.chain_id,
            worker_threads: config.worker_threads as usize,
            // Not in the bindings' config: the core defaults (one lookup path).
            ..core::Config::default()
        })?;
        Ok(Arc::new(Node { inner }))
    }

    /// Stop: end every task, release the socket and the database. Idempotent.
    pub fn stop(&self) -> Result<(), NodeError> {
        self.inner.stop()
    }

    /// Trust a block header (RLP bytes); returns the block it names.
    pub fn update_head(&self, header_rlp: Vec<u8>) -> Result<BlockInfo, NodeError> {
        Ok(self.inner.update_head(&header_rlp)?.into())
    }

    /// Start the beacon light client (mainnet): bootstrap at `checkpoint` (a trusted beacon
    /// block root, `0x…`, within about two weeks), or resume from the state saved in the data
    /// directory when it is `null`; then follow the chain from `beacon_api_urls` (beacon REST
    /// APIs, untrusted: everything is verified). Its execution heads become trusted headers,
    /// so `update_head` is not needed. `status().light_client` shows its progress.
    pub fn start_light_client(
        &self,
        checkpoint: Option<String>,
        beacon_api_urls: Vec<String>,
    ) -> Result<(), NodeError> {
        let checkpoint = checkpoint
            .as_deref()
            .map(|c| parse_b256(c, "checkpoint"))
            .transpose()?;
        self.inner.start_light_client(core::LightClientConfig {
            checkpoint,
            beacon_api_urls,
            ..core::LightClientConfig::default()
        })
    }

    /// An account at `block`, verified.
    pub fn query_account(
        &self,
        address: String,
        block: BlockId,
    ) -> Result<AccountAnswer, NodeError> {
        let (address, block) = (parse_address(&address)?, parse_block(block)?);
        Ok(self.inner.query_account(address, block)?.into())
    }

    /// An account at `block`, verified (async).
    pub async fn query_account_async(
        &self,
        address: String,
        block: BlockId,
    ) -> Result<AccountAnswer, NodeError> {
        let (address, block) = (parse_address(&address)?, parse_block(block)?);
        Ok(self.inner.query_account_async(address, block).await?.into())
    }

    /// Storage `slot` of `address` at `block`, verified.
    pub fn query_storage(
        &self,
        address: String,
        slot: String,
        block: BlockId,
    ) -> Result<StorageAnswer, NodeError> {
        let (address, slot) = (parse_address(&address)?, parse_slot(&slot)?);
        let block = parse_block(block)?;
        Ok(self.inner.query_storage(address, slot, block)?.into())
    }

    /// Storage `slot` of `address` at `block`, verified (async).
    pub async fn query_storage_async(
        &self,
        address: String,
        slot: String,
        block: BlockId,
    ) -> Result<StorageAnswer, NodeError> {
        let (address, slot) = (parse_address(&address)?, parse_slot(&slot)?);
        let block = parse_block(block)?;
        Ok(self
            .inner
            .query_storage_async(address, slot, block)
            .await?
            .into())
    }

    /// The code of `address` at `block`, verified.
    pub fn get_code(&self, address: String, block: BlockId) -> Result<CodeAnswer, NodeError> {
        let (address, block) = (parse_address(&address)?, parse_block(block)?);
        Ok(self.inner.get_code(address, block)?.into())
    }

    /// The code of `address` at `block`, verified (async).
    pub async fn get_code_async(
        &self,
        address: String,
        block: BlockId,
    ) -> Result<CodeAnswer, NodeError> {
        let (address, block) = (parse_address(&address)?, parse_block(block)?);
        Ok(self.inner.get_code_async(address, block).await?.into())
    }

    /// Run `request` against the state of `block` (`eth_call`), state fetched and verified.
    pub fn call(&self, request: CallRequest, block: BlockId) -> Result<CallAnswer, NodeError> {
        let (request, block) = (parse_call(request)?, parse_block(block)?);
        Ok(self.inner.call(request, block)?.into())
    }

    /// Run `request` against the state of `block` (`eth_call`), async.
    pub async fn call_async(
        &self,
        request: CallRequest,
        block: BlockId,
    ) -> Result<CallAnswer, NodeError> {
        let (request, block) = (parse_call(request)?, parse_block(block)?);
        Ok(self.inner.call_async(request, block).await?.into())
    }

    /// The least gas with which `request` succeeds at `block` (`eth_estimateGas`).
    pub fn estimate_gas(
        &self,
        request: CallRequest,
        block: BlockId,
    ) -> Result<GasAnswer, NodeError> {
        let (request, block) = (parse_call(request)?, parse_block(block)?);
        Ok(self.inner.estimate_gas(request, block)?.into())
    }

    /// The least gas with which `request` succeeds at `block` (`eth_estimateGas`), async.
    pub async fn estimate_gas_async(
        &self,
        request: CallRequest,
        block: BlockId,
    ) -> Result<GasAnswer, NodeError> {
        let (request, block) = (parse_call(request)?, parse_block(block)?);
        Ok(self.inner.estimate_gas_async(request, block).await?.into())
    }

    /// A snapshot of the node.
    pub fn status(&self) -> Result<NodeStatus, NodeError> {
        let s = self.inner.status()?;
        Ok(NodeStatus {
            node_id: s.node_id.to_string(),
            enr: s.enr,
            peers: s.peers,
            radius: word(s.radius),
            stored_bytes: s.stored_bytes,
            newest_block: s.newest_block,
            reachable: s.reachable,
            client_only: s.client_only,
            paused: s.paused,
            light_client: s.light_client.map(Into::into),
        })
    }

    /// The device's network changed (call it from the connectivity callback): the node
    /// follows its new address, re-pings its cached peers and refills its table; queries in
    /// flight retry and complete. Blocking; returns how many cached peers answered.
    pub fn network_changed(&self) -> Result<u64, NodeError> {
        self.inner.network_changed()
    }

    /// The app goes to the background: no timer, no keep-alive, nothing sent.
    pub fn pause(&self) -> Result<(), NodeError> {
        self.inner.pause()
    }

    /// Back to the foreground: re-pings the cached peers in parallel and returns within about
    /// a second, `true` once one answered.
    pub fn resume(&self) -> Result<bool, NodeError> {
        self.inner.resume()
    }
}

/// Log this library's lines up to `level` (default `Info`; other crates' from `Warn` up).
#[uniffi::export]
pub fn set_log_level(level: LogLevel) {
    logging::set_level(level);
}

/// Receive every log line in `sink` (replacing any sink set before). Called on the node's
/// threads: return quickly and do not call the node from it.
#[uniffi::export]
pub fn set_log_sink(sink: Arc<dyn LogSink>) {
    logging::set_sink(Some(sink));
}

/// Stop sending log lines to the sink set with `set_log_sink`.
#[uniffi::export]
pub fn clear_log_sink() {
    logging::set_sink(None);
}

/// Whether log lines also go to stderr / logcat / the unified log (default on).
#[uniffi::export]
pub fn set_platform_logs(enabled: bool) {
    logging::set_platform_output(enabled);
}
