//! The C structs of the API and their conversion to and from the core types.

use super::{bytes, c_string, optional_text, required, text, Failure, PortalStateError};
use crate::client::BlockId;
use crate::input::{parse_address, parse_amount, parse_hash};
use crate::node::{self as core, AccountState, Answer, BlockRef, CallResult};
use alloy_primitives::{Bytes, U256};
use std::ffi::c_char;
use std::path::PathBuf;

/// A running node. Opaque: made by `portal_state_node_start`, released by
/// `portal_state_node_free`.
pub struct PortalStateNode {
    pub(super) node: core::Node,
}

/// How to run a node. Fill it with `portal_state_config_default`, then set `data_dir`
/// and what else differs.
///
/// Ownership: every pointer is the caller's, read only during `portal_state_node_start`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PortalStateConfig {
    /// Where the node keeps its key, content, trusted headers and peers (created if missing):
    /// NUL-terminated UTF-8 path. Required.
    pub data_dir: *const c_char,
    /// Bytes of content stored for the network; 0 stores nothing (a light client). Default
    /// 64 MiB.
    pub storage_capacity_bytes: u64,
    /// UDP port to listen on; 0 picks a free one.
    pub listen_port: u16,
    /// `bootnodes_len` nodes to join through, as NUL-terminated `enr:…` strings. May be null
    /// when `bootnodes_len` is 0.
    pub bootnodes: *const *const c_char,
    /// How many strings `bootnodes` points to.
    pub bootnodes_len: usize,
    /// Chain id (1 = mainnet).
    pub chain_id: u64,
    /// Worker threads of the node's runtime. Default 2.
    pub worker_threads: u32,
}

impl Default for PortalStateConfig {
    fn default() -> Self {
        let d = core::Config::default();
        PortalStateConfig {
            data_dir: std::ptr::null(),
            storage_capacity_bytes: d.storage_capacity_bytes,
            listen_port: d.listen_port,
            bootnodes: std::ptr::null(),
            bootnodes_len: 0,
            chain_id: d.chain_id,
            worker_threads: d.worker_threads as u32,
        }
    }
}

impl PortalStateConfig {
    pub(super) fn to_core(self) -> Result<core::Config, Failure> {
        let data_dir = PathBuf::from(text(self.data_dir, "config.data_dir")?);
        let mut bootnodes = Vec::with_capacity(self.bootnodes_len.min(1024));
        if self.bootnodes_len > 0 {
            let list = required(self.bootnodes, "config.bootnodes")?;
            // SAFETY: the contract says `bootnodes` points to `bootnodes_len` pointers.
            let list = unsafe { std::slice::from_raw_parts(list, self.bootnodes_len) };
            for (i, enr) in list.iter().enumerate() {
                bootnodes.push(text(*enr, &format!("config.bootnodes[{i}]"))?.to_string());
            }
        }
        Ok(core::Config {
            data_dir,
            storage_capacity_bytes: self.storage_capacity_bytes,
            listen_port: self.listen_port,
            bootnodes,
            chain_id: self.chain_id,
            worker_threads: self.worker_threads as usize,
            // Not in the bindings' config: the core defaults (one lookup path).
            ..core::Config::default()
        })
    }
}

/// `PortalStateBlock::kind`: the newest trusted block with an answer.
pub const PORTAL_STATE_BLOCK_LATEST: u32 = 0;
/// `PortalStateBlock::kind`: the trusted block numbered `number`.
pub const PORTAL_STATE_BLOCK_NUMBER: u32 = 1;
/// `PortalStateBlock::kind`: the trusted block whose hash is `hash`.
pub const PORTAL_STATE_BLOCK_HASH: u32 = 2;

/// Which block a query is about. A null `const PortalStateBlock *` means latest.
///
/// Ownership: the caller's, read only during the call.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PortalStateBlock {
    /// `PORTAL_STATE_BLOCK_LATEST`, `PORTAL_STATE_BLOCK_NUMBER` or `PORTAL_STATE_BLOCK_HASH`.
    pub kind: u32,
    /// The block number, for `PORTAL_STATE_BLOCK_NUMBER`.
    pub number: u64,
    /// The block hash as `0x` + 64 hex digits (NUL-terminated), for `PORTAL_STATE_BLOCK_HASH`.
    pub hash: *const c_char,
}

/// The block a query names: null is latest.
pub(super) fn block_id(block: *const PortalStateBlock) -> Result<BlockId, Failure> {
    if block.is_null() {
        return Ok(BlockId::Latest);
    }
    let block = required(block, "block")?;
    match block.kind {
        PORTAL_STATE_BLOCK_LATEST => Ok(BlockId::Latest),
        PORTAL_STATE_BLOCK_NUMBER => Ok(BlockId::Number(block.number)),
        PORTAL_STATE_BLOCK_HASH => Ok(BlockId::Hash(parse_hash(text(block.hash, "block.hash")?)?)),
        other => Err(Failure::new(
            PortalStateError::InvalidInput,
            format!("block.kind {other} is not a PORTAL_STATE_BLOCK_* value"),
        )),
    }
}

/// The block an answer is true at.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortalStateBlockInfo {
    /// Block number.
    pub number: u64,
    /// Block hash.
    pub hash: [u8; 32],
    /// The state root the answer was verified against.
    pub state_root: [u8; 32],
}

impl From<BlockRef> for PortalStateBlockInfo {
    fn from(b: BlockRef) -> Self {
        PortalStateBlockInfo {
            number: b.number,
            hash: b.hash.0,
            state_root: b.state_root.0,
        }
    }
}

/// An account at a block, verified. Holds no pointers: nothing to free.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortalStateAccount {
    /// The block the answer is true at.
    pub block: PortalStateBlockInfo,
    /// Transaction count.
    pub nonce: u64,
    /// Balance in wei, big-endian.
    pub balance: [u8; 32],
    /// Balance in wei as a NUL-terminated decimal string (exact; at most 78 digits).
    pub balance_decimal: [c_char; 80],
    /// Root of the account's storage trie.
    pub storage_root: [u8; 32],
    /// Keccak of the account's code.
    pub code_hash: [u8; 32],
    /// Whether the account exists (its absence is proven too: then nonce and balance are zero
    /// and the roots are those of an empty account).
    pub exists: bool,
}

impl From<Answer<AccountState>> for PortalStateAccount {
    fn from(
        Answer {
            block, value: a, ..
        }: Answer<AccountState>,
    ) -> Self {
        let mut balance_decimal = [0 as c_char; 80];
        // At most 78 digits: the last bytes stay NUL.
        for (slot, digit) in balance_decimal
            .iter_mut()
            .zip(a.balance.to_string().bytes())
        {
            *slot = digit as c_char;
        }
        PortalStateAccount {
            block: block.into(),
            nonce: a.nonce,
            balance: a.balance.to_be_bytes(),
            balance_decimal,
            storage_root: a.storage_root.0,
            code_hash: a.code_hash.0,
            exists: a.exists,
        }
    }
}

/// Bytes the library allocated for the caller (code, return data).
///
/// Ownership: the caller's once returned; release with `portal_state_bytes_free`
/// (or the free function of the struct holding it), never with `free(3)`. `data` is null when
/// `len` is 0.
#[repr(C)]
#[derive(Debug)]
pub struct PortalStateBytes {
    /// The bytes, or null when empty.
    pub data: *mut u8,
    /// How many bytes.
    pub len: usize,
}

impl PortalStateBytes {
    /// Hand `bytes` to C.
    pub(super) fn new(bytes: &[u8]) -> Self {
        if bytes.is_empty() {
            return PortalStateBytes::empty();
        }
        let boxed: Box<[u8]> = bytes.into();
        let len = boxed.len();
        PortalStateBytes {
            data: Box::into_raw(boxed).cast(),
            len,
        }
    }

    pub(super) fn empty() -> Self {
        PortalStateBytes {
            data: std::ptr::null_mut(),
            len: 0,
        }
    }

    /// Take back what `PortalStateBytes::new` gave, leaving `self` empty.
    ///
    /// # Safety
    /// `self` is empty or was made by `new` and not released since.
    pub(super) unsafe fn release(&mut self) {
        if !self.data.is_null() {
            let slice = std::ptr::slice_from_raw_parts_mut(self.data, self.len);
            // SAFETY: made by `Box::into_raw` of a boxed slice of this length (contract).
            drop(unsafe { Box::from_raw(slice) });
        }
        *self = PortalStateBytes::empty();
    }
}

/// Hand an optional string to C: null for none. Released with `release_string`.
pub(super) fn string_out(text: Option<&str>) -> *mut c_char {
    text.map_or(std::ptr::null_mut(), |t| c_string(t).into_raw())
}

/// Take back a string made by `string_out`, leaving null.
///
/// # Safety
/// `*pointer` is null or came from `string_out` and was not released since.
pub(super) unsafe fn release_string(pointer: &mut *mut c_char) {
    if !pointer.is_null() {
        // SAFETY: made by `CString::into_raw` (contract).
        drop(unsafe { std::ffi::CString::from_raw(*pointer) });
    }
    *pointer = std::ptr::null_mut();
}

/// A call (`eth_call` / `eth_estimateGas`): a transaction that is never signed nor sent.
///
/// Ownership: the caller's, read only during the call.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PortalStateCallRequest {
    /// The sender, `0x…` (NUL-terminated); null for the zero address.
    pub from: *const c_char,
    /// The called contract, `0x…`; null for a contract creation with `data` as init code.
    pub to: *const c_char,
    /// Gas limit; 0 for the block's gas limit.
    pub gas: u64,
    /// Gas price in wei, decimal or `0x`-hex; null for zero.
    pub gas_price: *const c_char,
    /// Wei sent with the call, decimal or `0x`-hex; null for none.
    pub value: *const c_char,
    /// Calldata: `data_len` bytes (null when `data_len` is 0).
    pub data: *const u8,
    /// Length of `data`.
    pub data_len: usize,
    /// What the `CHAINID` opcode reads; 0 for 1 (mainnet).
    pub chain_id: u64,
}

impl PortalStateCallRequest {
    pub(super) fn to_core(self) -> Result<core::CallRequest, Failure> {
        let address = |p, what| {
            optional_text(p, what)?
                .map(parse_address)
                .transpose()
                .map_err(Failure::from)
        };
        let amount = |p, what: &str| {
            optional_text(p, what)?
                .map(|t| parse_amount(t, what))
                .transpose()
                .map_err(Failure::from)
        };
        Ok(core::CallRequest {
            from: address(self.from, "request.from")?,
            to: address(self.to, "request.to")?,
            gas: (self.gas != 0).then_some(self.gas),
            gas_price: amount(self.gas_price, "request.gas_price")?,
            value: amount(self.value, "request.value")?,
            data: bytes(self.data, self.data_len, "request.data")?
                .to_vec()
                .into(),
            chain_id: (self.chain_id != 0).then_some(self.chain_id),
            // Not in the C API yet: the call's items are found by running it.
            access_list: Vec::new(),
        })
    }
}

/// The outcome of a call. A revert or halt is an outcome (`success` false), not an error.
///
/// Ownership: the caller's; release what it holds with
/// `portal_state_call_answer_free`.
#[repr(C)]
#[derive(Debug)]
pub struct PortalStateCallAnswer {
    /// The block whose state the call ran against.
    pub block: PortalStateBlockInfo,
    /// Whether the call returned normally.
    pub success: bool,
    /// Returned bytes on success, revert data on a revert, empty on a halt.
    pub return_data: PortalStateBytes,
    /// Gas used, refunds applied.
    pub gas_used: u64,
    /// The decoded `Error(string)` message of a revert (NUL-terminated UTF-8), or null.
    pub revert_reason: *mut c_char,
    /// Why execution halted, or null.
    pub halt_reason: *mut c_char,
}

impl From<Answer<CallResult>> for PortalStateCallAnswer {
    fn from(
        Answer {
            block, value: a, ..
        }: Answer<CallResult>,
    ) -> Self {
        PortalStateCallAnswer {
            block: block.into(),
            success: a.success,
            return_data: PortalStateBytes::new(&a.return_data),
            gas_used: a.gas_used,
            revert_reason: string_out(a.revert_reason.as_deref()),
            halt_reason: string_out(a.halt_reason.as_deref()),
        }
    }
}

/// A snapshot of a running node.
///
/// Ownership: the caller's; release `enr` with `portal_state_status_free`.
#[repr(C)]
#[derive(Debug)]
pub struct PortalStateStatus {
    /// Our node id.
    pub node_id: [u8; 32],
    /// Our ENR (`enr:…`, NUL-terminated).
    pub enr: *mut c_char,
    /// Peers in the routing table.
    pub peers: u64,
    /// Our radius, big-endian.
    pub radius: [u8; 32],
    /// Bytes of content stored.
    pub stored_bytes: u64,
    /// Whether a header is trusted (then `newest_block` is its number).
    pub has_newest_block: bool,
    /// The newest trusted block's number (0 when `has_newest_block` is false).
    pub newest_block: u64,
    /// Whether the beacon light client runs (`portal_state_node_start_light_client`).
    pub light_client_running: bool,
    /// Whether it has verified heads (then the four fields below are set; else 0).
    pub has_light_client_heads: bool,
    /// The light client's finalized beacon slot.
    pub finalized_slot: u64,
    /// Its optimistic beacon slot.
    pub optimistic_slot: u64,
    /// The execution block number of its finalized header (what `safe`/`finalized` name).
    pub finalized_block: u64,
    /// The execution block number of its optimistic header: the newest trusted block.
    pub optimistic_block: u64,
    /// Peers of the Portal beacon network (`0x501A`) that answered its Ping.
    pub beacon_peers: u64,
}

impl From<core::NodeStatus> for PortalStateStatus {
    fn from(s: core::NodeStatus) -> Self {
        let light = s.light_client.clone();
        PortalStateStatus {
            node_id: s.node_id.0,
            enr: string_out(Some(&s.enr)),
            peers: s.peers,
            radius: s.radius.to_be_bytes(),
            stored_bytes: s.stored_bytes,
            has_newest_block: s.newest_block.is_some(),
            newest_block: s.newest_block.unwrap_or(0),
            light_client_running: s.light_client.is_some(),
            has_light_client_heads: light.as_ref().is_some_and(|l| l.finalized_slot.is_some()),
            finalized_slot: light.as_ref().and_then(|l| l.finalized_slot).unwrap_or(0),
            optimistic_slot: light.as_ref().and_then(|l| l.optimistic_slot).unwrap_or(0),
            finalized_block: light.as_ref().and_then(|l| l.finalized_block).unwrap_or(0),
            optimistic_block: light.as_ref().and_then(|l| l.optimistic_block).unwrap_or(0),
            beacon_peers: light.as_ref().map_or(0, |l| l.beacon_peers as u64),
        }
    }
}

/// A storage slot at a block, verified. Holds no pointers: nothing to free.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortalStateStorage {
    /// The block the answer is true at.
    pub block: PortalStateBlockInfo,
    /// The slot's 32-byte word, big-endian (zero for a slot never written).
    pub value: [u8; 32],
}

/// An account's code at a block, verified.
///
/// Ownership: the caller's; release `code` with `portal_state_code_free`.
#[repr(C)]
#[derive(Debug)]
pub struct PortalStateCode {
    /// The block the answer is true at.
    pub block: PortalStateBlockInfo,
    /// The bytecode (empty for an account without code).
    pub code: PortalStateBytes,
}

/// The outcome of a gas estimate. Holds no pointers: nothing to free.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortalStateGas {
    /// The block whose state the estimate ran against.
    pub block: PortalStateBlockInfo,
    /// The least gas limit with which the call succeeds.
    pub gas: u64,
}

impl From<Answer<U256>> for PortalStateStorage {
    fn from(answer: Answer<U256>) -> Self {
        PortalStateStorage {
            block: answer.block.into(),
            value: answer.value.to_be_bytes(),
        }
    }
}

impl From<Answer<Bytes>> for PortalStateCode {
    fn from(answer: Answer<Bytes>) -> Self {
        PortalStateCode {
            block: answer.block.into(),
            code: PortalStateBytes::new(&answer.value),
        }
    }
}

impl From<Answer<u64>> for PortalStateGas {
    fn from(answer: Answer<u64>) -> Self {
        PortalStateGas {
            block: answer.block.into(),
            gas: answer.value,
        }
    }
}
