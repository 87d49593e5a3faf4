//! Parameters as the standard writes them: quantities, data, addresses, block tags and
//! EIP-1898 block objects, call objects. Each text value is read by the rules of
//! [`portal_state::input`], the same as at the app API and the CLI (they also take decimal
//! numbers and amounts, and check EIP-55 checksums). Malformed input is an "invalid params"
//! error naming the parameter, never a guess.

use super::RpcError;
use alloy_primitives::{Address, Bytes, B256, U256};
use portal_state::client::{BlockId, CallRequest};
use portal_state::input::{self, InputError};
use serde_json::{Map, Value};

pub(super) fn arity(params: &[Value], min: usize, max: usize) -> Result<(), RpcError> {
    if params.len() < min {
        return Err(RpcError::params(format!(
            "missing value for required argument {}",
            params.len()
        )));
    }
    if params.len() > max {
        return Err(RpcError::params(format!(
            "too many arguments, want at most {max}"
        )));
    }
    Ok(())
}

/// The text of a string parameter: every value this server reads is one.
fn text<'a>(value: &'a Value, what: &str) -> Result<&'a str, RpcError> {
    value
        .as_str()
        .ok_or_else(|| RpcError::params(format!("{what}: expected a string, got {value}")))
}

/// The rules of [`portal_state::input`], the same as at the app API and the CLI.
fn by_rule<T>(
    value: &Value,
    what: &str,
    rule: impl FnOnce(&str) -> Result<T, InputError>,
) -> Result<T, RpcError> {
    rule(text(value, what)?).map_err(|e| RpcError::params(e.reason))
}

/// Bytes: `0x` and an even number of hex digits.
pub(super) fn parse_data(value: &Value, what: &str) -> Result<Bytes, RpcError> {
    by_rule(value, what, |t| input::parse_hex_data(t, what))
}

/// A 20-byte address: `0x` and 40 hex digits; mixed case must be a valid EIP-55 checksum.
pub(super) fn parse_address(value: &Value) -> Result<Address, RpcError> {
    by_rule(value, "address", input::parse_address)
}

/// A 32-byte hash: `0x` and exactly 64 hex digits.
pub(super) fn parse_b256(value: &Value, what: &str) -> Result<B256, RpcError> {
    by_rule(value, what, |t| input::parse_b256(t, what))
}

/// A storage slot: a quantity or 32 bytes of data (tools send both), up to 64 hex digits.
pub(super) fn parse_slot(value: &Value) -> Result<U256, RpcError> {
    by_rule(value, "storage slot", input::parse_slot)
}

/// A 256-bit amount (a value or a gas price).
pub(super) fn parse_amount(value: &Value, what: &str) -> Result<U256, RpcError> {
    by_rule(value, what, |t| input::parse_amount(t, what))
}

/// The transaction object of `eth_call` / `eth_estimateGas`.
pub(super) fn parse_call_request(value: &Value, chain_id: u64) -> Result<CallRequest, RpcError> {
    let object = value
        .as_object()
        .ok_or_else(|| RpcError::params("call: expected a transaction object"))?;
    let field = |name: &str| object.get(name).filter(|v| !v.is_null());
    let data = match field("input").or_else(|| field("data")) {
        Some(v) => parse_data(v, "input")?,
        None => Bytes::new(),
    };
    Ok(CallRequest {
        from: field("from").map(parse_address).transpose()?,
        to: field("to").map(parse_address).transpose()?,
        gas: field("gas")
            .map(|v| parse_amount(v, "gas"))
            .transpose()?
            .map(|g| g.saturating_to::<u64>()),
        gas_price: field("gasPrice")
            .or_else(|| field("maxFeePerGas"))
            .map(|v| parse_amount(v, "gasPrice"))
            .transpose()?,
        value: field("value")
            .map(|v| parse_amount(v, "value"))
            .transpose()?,
        data,
        chain_id: Some(chain_id),
        access_list: field("accessList")
            .map(parse_access_list)
            .transpose()?
            .unwrap_or_default(),
    })
}

/// An EIP-2930 access list: `[{"address": …, "storageKeys": [32-byte hex, …]}, …]`.
fn parse_access_list(value: &Value) -> Result<Vec<(Address, Vec<B256>)>, RpcError> {
    let entries = value
        .as_array()
        .ok_or_else(|| RpcError::params("accessList: expected an array"))?;
    entries
        .iter()
        .map(|entry| {
            let address = entry
                .get("address")
                .ok_or_else(|| RpcError::params("accessList entry: expected an address"))?;
            let keys = match entry.get("storageKeys").filter(|v| !v.is_null()) {
                None => Vec::new(),
                Some(keys) => keys
                    .as_array()
                    .ok_or_else(|| RpcError::params("accessList storageKeys: expected an array"))?
                    .iter()
                    .map(|k| parse_b256(k, "storage key"))
                    .collect::<Result<_, _>>()?,
            };
            Ok((parse_address(address)?, keys))
        })
        .collect()
}

/// A number (a count, an index): decimal or `0x`-hex, no leading zeros, at most 64 bits.
pub(super) fn parse_number(value: &Value, what: &str) -> Result<u64, RpcError> {
    by_rule(value, what, |t| input::parse_number(t, what))
}

/// The block parameter of `eth_getBlockByNumber`: a tag or a number.
pub(super) fn parse_block_number(value: &Value) -> Result<BlockId, RpcError> {
    by_rule(value, "block", input::parse_block_number)
}

/// A state method's block parameter: a tag, a number, or an EIP-1898 object
/// (`{"blockNumber": …}` or `{"blockHash": …, "requireCanonical": bool}`). Missing means
/// `latest`, as most servers read it.
pub(super) fn parse_block(value: Option<&Value>) -> Result<BlockId, RpcError> {
    match value {
        None => Ok(BlockId::Latest),
        Some(Value::Object(object)) => parse_block_object(object),
        Some(value) => by_rule(value, "block", input::parse_block),
    }
}

fn parse_block_object(object: &Map<String, Value>) -> Result<BlockId, RpcError> {
    for key in object.keys() {
        if !matches!(
            key.as_str(),
            "blockNumber" | "blockHash" | "requireCanonical"
        ) {
            return Err(RpcError::params(format!(
                "block: unknown field {key:?} (EIP-1898: blockNumber, or blockHash and requireCanonical)"
            )));
        }
    }
    match (object.get("blockNumber"), object.get("blockHash")) {
        (Some(number), None) => {
            if object.contains_key("requireCanonical") {
                return Err(RpcError::params(
                    "block: requireCanonical goes with blockHash only",
                ));
            }
            parse_block_number(number)
        }
        (None, Some(hash)) => {
            // Every trusted header is canonical as far as this node can tell (it follows the
            // head its operator's source gives it), so requireCanonical changes nothing; it
            // must still be a boolean.
            if let Some(flag) = object.get("requireCanonical") {
                if !flag.is_boolean() {
                    return Err(RpcError::params(
                        "block: requireCanonical must be a boolean",
                    ));
                }
            }
            Ok(BlockId::Hash(parse_b256(hash, "blockHash")?))
        }
        (Some(_), Some(_)) => Err(RpcError::params(
            "block: give blockNumber or blockHash, not both",
        )),
        (None, None) => Err(RpcError::params(
            "block: an EIP-1898 object needs blockNumber or blockHash",
        )),
    }
}
