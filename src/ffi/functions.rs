//! The `extern "C"` functions: each parses its arguments, calls [`crate::node::Node`] and
//! converts the answer, behind [`super::guard`].

use super::convert::*;
use super::{bytes, guard, out, required, text, Failure, PortalStateError};
use crate::input::{parse_address, parse_slot};
use crate::node::Node;
use std::ffi::c_char;

/// The node behind a handle argument.
fn node<'a>(handle: *const PortalStateNode) -> Result<&'a Node, Failure> {
    Ok(&required(handle, "node")?.node)
}

/// Fill `*out_config` with the defaults: 64 MiB of storage, any port, mainnet, 2 worker
/// threads, no bootnodes, and a null `data_dir` (which the caller must set).
///
/// Ownership: `out_config` is the caller's.
#[no_mangle]
pub extern "C" fn portal_state_config_default(
    out_config: *mut PortalStateConfig,
) -> PortalStateError {
    guard(|| {
        *out(out_config, "out_config")? = PortalStateConfig::default();
        Ok(())
    })
}

/// Start a node: build its runtime, bind the socket, open the store in `data_dir`, join
/// through the bootnodes. Blocks until the node is up; on success `*out_node` is the handle.
///
/// Ownership: `config` and what it points to stay the caller's (read during the call only).
/// The handle is the caller's: release it with `portal_state_node_free` exactly once.
#[no_mangle]
pub extern "C" fn portal_state_node_start(
    config: *const PortalStateConfig,
    out_node: *mut *mut PortalStateNode,
) -> PortalStateError {
    guard(|| {
        let config = required(config, "config")?.to_core()?;
        let out_node = out(out_node, "out_node")?;
        crate::logging::init();
        let node = Node::start(config)?;
        *out_node = Box::into_raw(Box::new(PortalStateNode { node }));
        Ok(())
    })
}

/// Stop the node: end its tasks, release the socket and database. Idempotent; afterwards every
/// query on the handle fails with `PORTAL_STATE_ERROR_NOT_RUNNING`. The handle stays valid
/// until `portal_state_node_free`.
#[no_mangle]
pub extern "C" fn portal_state_node_stop(node_handle: *const PortalStateNode) -> PortalStateError {
    guard(|| Ok(node(node_handle)?.stop()?))
}

/// Stop the node if running and release the handle. Null is allowed (nothing happens).
///
/// Ownership: takes the handle back; it must not be used afterwards, nor concurrently with
/// this call.
///
/// # Safety
///
/// `node_handle` is null or a handle from `portal_state_node_start` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn portal_state_node_free(node_handle: *mut PortalStateNode) {
    let _ = guard(|| {
        if !node_handle.is_null() {
            // SAFETY: made by `portal_state_node_start`'s `Box::into_raw`, released once
            // (contract). Dropping the node stops it.
            drop(unsafe { Box::from_raw(node_handle) });
        }
        Ok(())
    });
}

/// Trust a block header, given as its RLP (`header_rlp_len` bytes): state at its root becomes
/// verifiable. On success `*out_block` names the block.
///
/// Ownership: the RLP stays the caller's; `out_block` is the caller's.
#[no_mangle]
pub extern "C" fn portal_state_node_update_head(
    node_handle: *const PortalStateNode,
    header_rlp: *const u8,
    header_rlp_len: usize,
    out_block: *mut PortalStateBlockInfo,
) -> PortalStateError {
    guard(|| {
        let node = node(node_handle)?;
        let rlp = bytes(header_rlp, header_rlp_len, "header_rlp")?;
        let out_block = out(out_block, "out_block")?;
        *out_block = node.update_head(rlp)?.into();
        Ok(())
    })
}

/// Start the beacon light client (mainnet): bootstrap at `checkpoint` (a trusted beacon block
/// root, `0x` + 64 hex digits), or, when it is null, resume from the state saved in the data
/// directory; then follow the chain from the `beacon_api_urls_len` beacon REST API URLs in
/// `beacon_api_urls` (untrusted: everything is verified). Its execution heads become trusted
/// headers, so `portal_state_node_update_head` is not needed.
///
/// Ownership: arguments stay the caller's (copied before return).
#[no_mangle]
pub extern "C" fn portal_state_node_start_light_client(
    node_handle: *const PortalStateNode,
    checkpoint: *const c_char,
    beacon_api_urls: *const *const c_char,
    beacon_api_urls_len: usize,
) -> PortalStateError {
    guard(|| {
        let node = node(node_handle)?;
        let checkpoint = if checkpoint.is_null() {
            None
        } else {
            Some(crate::input::parse_b256(
                text(checkpoint, "checkpoint")?,
                "checkpoint",
            )?)
        };
        let mut urls = Vec::with_capacity(beacon_api_urls_len.min(64));
        if beacon_api_urls_len > 0 {
            let list = required(beacon_api_urls, "beacon_api_urls")?;
            // SAFETY: the contract says `beacon_api_urls` points to that many pointers.
            let list = unsafe { std::slice::from_raw_parts(list, beacon_api_urls_len) };
            for (i, url) in list.iter().enumerate() {
                urls.push(text(*url, &format!("beacon_api_urls[{i}]"))?.to_string());
            }
        }
        node.start_light_client(crate::node::LightClientConfig {
            checkpoint,
            beacon_api_urls: urls,
            ..crate::node::LightClientConfig::default()
        })?;
        Ok(())
    })
}

/// An account's nonce, balance, storage root and code hash at `block` (null: latest),
/// verified. `address` is `0x` + 40 hex digits (an EIP-55 checksum is checked when mixed-case).
///
/// Ownership: arguments stay the caller's; `*out_account` holds no pointers.
#[no_mangle]
pub extern "C" fn portal_state_node_query_account(
    node_handle: *const PortalStateNode,
    address: *const c_char,
    block: *const PortalStateBlock,
    out_account: *mut PortalStateAccount,
) -> PortalStateError {
    guard(|| {
        let node = node(node_handle)?;
        let address = parse_address(text(address, "address")?)?;
        let block = block_id(block)?;
        let out_account = out(out_account, "out_account")?;
        *out_account = node.query_account(address, block)?.into();
        Ok(())
    })
}

/// The value of storage `slot` (`0x` + 1 to 64 hex digits) of `address` at `block` (null:
/// latest), verified.
///
/// Ownership: arguments stay the caller's; `*out_storage` holds no pointers.
#[no_mangle]
pub extern "C" fn portal_state_node_query_storage(
    node_handle: *const PortalStateNode,
    address: *const c_char,
    slot: *const c_char,
    block: *const PortalStateBlock,
    out_storage: *mut PortalStateStorage,
) -> PortalStateError {
    guard(|| {
        let node = node(node_handle)?;
        let address = parse_address(text(address, "address")?)?;
        let slot = parse_slot(text(slot, "slot")?)?;
        let block = block_id(block)?;
        let out_storage = out(out_storage, "out_storage")?;
        *out_storage = node.query_storage(address, slot, block)?.into();
        Ok(())
    })
}

/// The code of `address` at `block` (null: latest), verified.
///
/// Ownership: arguments stay the caller's. On success `out_code->code` is allocated by the
/// library: release it with `portal_state_code_free`.
#[no_mangle]
pub extern "C" fn portal_state_node_get_code(
    node_handle: *const PortalStateNode,
    address: *const c_char,
    block: *const PortalStateBlock,
    out_code: *mut PortalStateCode,
) -> PortalStateError {
    guard(|| {
        let node = node(node_handle)?;
        let address = parse_address(text(address, "address")?)?;
        let block = block_id(block)?;
        let out_code = out(out_code, "out_code")?;
        *out_code = node.get_code(address, block)?.into();
        Ok(())
    })
}

/// Execute `request` against the state of `block` (null: latest) without a transaction
/// (`eth_call`); the state it touches is fetched from the network and verified. A revert is
/// an answer (`success` false), not an error.
///
/// Ownership: arguments stay the caller's. On success `*out_answer` holds library
/// allocations: release them with `portal_state_call_answer_free`.
#[no_mangle]
pub extern "C" fn portal_state_node_call(
    node_handle: *const PortalStateNode,
    request: *const PortalStateCallRequest,
    block: *const PortalStateBlock,
    out_answer: *mut PortalStateCallAnswer,
) -> PortalStateError {
    guard(|| {
        let node = node(node_handle)?;
        let request = required(request, "request")?.to_core()?;
        let block = block_id(block)?;
        let out_answer = out(out_answer, "out_answer")?;
        *out_answer = node.call(request, block)?.into();
        Ok(())
    })
}

/// The least gas limit with which `request` succeeds at `block` (null: latest)
/// (`eth_estimateGas`). A call that reverts even at the cap is `PORTAL_STATE_ERROR_REVERTED`.
///
/// Ownership: arguments stay the caller's; `*out_gas` holds no pointers.
#[no_mangle]
pub extern "C" fn portal_state_node_estimate_gas(
    node_handle: *const PortalStateNode,
    request: *const PortalStateCallRequest,
    block: *const PortalStateBlock,
    out_gas: *mut PortalStateGas,
) -> PortalStateError {
    guard(|| {
        let node = node(node_handle)?;
        let request = required(request, "request")?.to_core()?;
        let block = block_id(block)?;
        let out_gas = out(out_gas, "out_gas")?;
        *out_gas = node.estimate_gas(request, block)?.into();
        Ok(())
    })
}

/// A snapshot of the node: id, ENR, peers, radius, bytes stored, newest trusted block.
///
/// Ownership: on success `out_status->enr` is allocated by the library: release it with
/// `portal_state_status_free`.
#[no_mangle]
pub extern "C" fn portal_state_node_status(
    node_handle: *const PortalStateNode,
    out_status: *mut PortalStateStatus,
) -> PortalStateError {
    guard(|| {
        let node = node(node_handle)?;
        let out_status = out(out_status, "out_status")?;
        *out_status = node.status()?.into();
        Ok(())
    })
}

/// Release bytes the library allocated, and set `*bytes` to empty (null, 0). Null, or bytes
/// already released or empty, are allowed.
///
/// Ownership: only for a `PortalStateBytes` the library filled in.
#[no_mangle]
pub extern "C" fn portal_state_bytes_free(bytes: *mut PortalStateBytes) {
    let _ = guard(|| {
        if let Ok(bytes) = out(bytes, "bytes") {
            // SAFETY: filled by the library and not released since, or emptied (contract).
            unsafe { bytes.release() };
        }
        Ok(())
    });
}

/// Release the code in a `PortalStateCode` filled by `portal_state_node_get_code`
/// (leaving it empty). Null is allowed; releasing twice is harmless.
#[no_mangle]
pub extern "C" fn portal_state_code_free(code: *mut PortalStateCode) {
    let _ = guard(|| {
        if let Ok(code) = out(code, "code") {
            // SAFETY: filled by the library (contract); `release` leaves it empty.
            unsafe { code.code.release() };
        }
        Ok(())
    });
}

/// Release what a `PortalStateCallAnswer` filled by `portal_state_node_call` holds (return
/// data and reasons), leaving them empty and null. Null is allowed; releasing twice is
/// harmless.
#[no_mangle]
pub extern "C" fn portal_state_call_answer_free(answer: *mut PortalStateCallAnswer) {
    let _ = guard(|| {
        if let Ok(answer) = out(answer, "answer") {
            // SAFETY: filled by the library (contract); each release leaves null behind.
            unsafe {
                answer.return_data.release();
                release_string(&mut answer.revert_reason);
                release_string(&mut answer.halt_reason);
            }
        }
        Ok(())
    });
}

/// Release the ENR string of a `PortalStateStatus` filled by `portal_state_node_status`
/// (leaving it null). Null is allowed; releasing twice is harmless.
#[no_mangle]
pub extern "C" fn portal_state_status_free(status: *mut PortalStateStatus) {
    let _ = guard(|| {
        if let Ok(status) = out(status, "status") {
            // SAFETY: filled by the library (contract); leaves null behind.
            unsafe { release_string(&mut status.enr) };
        }
        Ok(())
    });
}
