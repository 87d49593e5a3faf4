//! Fees and sending in the C API: `portal_state_node_fee_data`,
//! `portal_state_node_set_tx_relays`, `portal_state_node_send_raw_transaction`.

use super::convert::{PortalStateBlockInfo, PortalStateNode};
use super::{bytes, guard, out, required, text, PortalStateError};
use crate::node as core;
use std::ffi::c_char;

/// Fee figures for pricing a transaction, from the newest trusted header, in wei per gas.
/// Holds no pointers: nothing to free. Figures above 2^64 - 1 wei per gas (18 ether) read as
/// 2^64 - 1. The tip is a fixed suggestion (1 gwei), not a figure of the chain.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortalStateFeeData {
    /// The newest trusted block, the one the figures derive from.
    pub block: PortalStateBlockInfo,
    /// Whether the block has a base fee (London and later); the base fee fields are 0 if not.
    pub has_base_fee: bool,
    /// That block's base fee.
    pub base_fee_per_gas: u64,
    /// The next block's base fee, by EIP-1559's rule.
    pub next_base_fee_per_gas: u64,
    /// The suggested tip.
    pub max_priority_fee_per_gas: u64,
    /// A fee cap: 2 × next base fee + tip.
    pub max_fee_per_gas: u64,
    /// A legacy gas price: next base fee + tip.
    pub gas_price: u64,
    /// Whether the block has blob gas fields (Cancun and later).
    pub has_blob_fee: bool,
    /// The next block's blob base fee (0 when `has_blob_fee` is false).
    pub next_blob_base_fee: u64,
}

fn saturate(n: u128) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

impl From<core::FeeData> for PortalStateFeeData {
    fn from(f: core::FeeData) -> Self {
        PortalStateFeeData {
            block: f.block.into(),
            has_base_fee: f.base_fee_per_gas.is_some(),
            base_fee_per_gas: saturate(f.base_fee_per_gas.unwrap_or(0)),
            next_base_fee_per_gas: saturate(f.next_base_fee_per_gas.unwrap_or(0)),
            max_priority_fee_per_gas: saturate(f.max_priority_fee_per_gas),
            max_fee_per_gas: saturate(f.max_fee_per_gas),
            gas_price: saturate(f.gas_price),
            has_blob_fee: f.next_blob_base_fee.is_some(),
            next_blob_base_fee: saturate(f.next_blob_base_fee.unwrap_or(0)),
        }
    }
}

/// A transaction a relay took. Holds no pointers: nothing to free.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortalStateSentTransaction {
    /// The block whose verified state of the sender it was checked against.
    pub block: PortalStateBlockInfo,
    /// The transaction hash, computed from the signed bytes.
    pub hash: [u8; 32],
    /// The sender, recovered from the signature.
    pub sender: [u8; 20],
    /// The transaction's nonce.
    pub nonce: u64,
}

impl From<core::Answer<core::SentTransaction>> for PortalStateSentTransaction {
    fn from(sent: core::Answer<core::SentTransaction>) -> Self {
        PortalStateSentTransaction {
            block: sent.block.into(),
            hash: sent.value.hash.0,
            sender: sent.value.sender.0 .0,
            nonce: sent.value.nonce,
        }
    }
}

/// Fee figures from the newest trusted header (`PORTAL_STATE_ERROR_NO_TRUSTED_HEADER` before
/// any).
///
/// Ownership: `*out_fees` is the caller's and holds no pointers.
#[no_mangle]
pub extern "C" fn portal_state_node_fee_data(
    node_handle: *const PortalStateNode,
    out_fees: *mut PortalStateFeeData,
) -> PortalStateError {
    guard(|| {
        let node = &required(node_handle, "node")?.node;
        let out_fees = out(out_fees, "out_fees")?;
        *out_fees = node.fee_data()?.into();
        Ok(())
    })
}

/// Send transactions through these `urls_len` execution clients' JSON-RPC URLs
/// (NUL-terminated `http://…` or `https://…`), tried in turn; replaces the list (0: sending
/// off). A malformed URL is `PORTAL_STATE_ERROR_INVALID_INPUT` and leaves the list as it was.
///
/// Ownership: the strings stay the caller's (copied during the call).
#[no_mangle]
pub extern "C" fn portal_state_node_set_tx_relays(
    node_handle: *const PortalStateNode,
    urls: *const *const c_char,
    urls_len: usize,
) -> PortalStateError {
    guard(|| {
        let node = &required(node_handle, "node")?.node;
        let mut list = Vec::with_capacity(urls_len.min(64));
        if urls_len > 0 {
            let pointers = required(urls, "urls")?;
            // SAFETY: the contract says `urls` points to `urls_len` pointers.
            let pointers = unsafe { std::slice::from_raw_parts(pointers, urls_len) };
            for (i, url) in pointers.iter().enumerate() {
                list.push(text(*url, &format!("urls[{i}]"))?.to_string());
            }
        }
        Ok(node.set_tx_relays(&list)?)
    })
}

/// Check a signed transaction (`raw_len` bytes of EIP-2718 encoding, as
/// `eth_sendRawTransaction` takes them) against verified state (signature, chain id, the
/// sender's nonce and balance) and send it through the relays. Errors:
/// `PORTAL_STATE_ERROR_NO_RELAY`, `PORTAL_STATE_ERROR_TRANSACTION_REJECTED`,
/// `PORTAL_STATE_ERROR_RELAY_FAILED`.
///
/// Ownership: the bytes stay the caller's; `*out_sent` holds no pointers.
#[no_mangle]
pub extern "C" fn portal_state_node_send_raw_transaction(
    node_handle: *const PortalStateNode,
    raw: *const u8,
    raw_len: usize,
    out_sent: *mut PortalStateSentTransaction,
) -> PortalStateError {
    guard(|| {
        let node = &required(node_handle, "node")?.node;
        let raw = bytes(raw, raw_len, "raw")?;
        let out_sent = out(out_sent, "out_sent")?;
        *out_sent = node.send_raw_transaction(raw)?.into();
        Ok(())
    })
}
