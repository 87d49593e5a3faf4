//! Parameters as the standard writes them: quantities, data, addresses, block tags and
//! EIP-1898 block objects, call objects. Malformed input is an "invalid params" error naming
//! the parameter, never a guess.

use super::RpcError;
use alloy_primitives::{hex, Address, Bytes, B256, U256};
use portal_state::client::{BlockId, CallRequest};
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

/// A `0x`-prefixed hex string's digits.
pub(super) fn hex_digits<'a>(value: &'a Value, what: &str) -> Result<&'a str, RpcError> {
    let text = value.as_str().ok_or_else(|| {
        RpcError::params(format!(
            "{what}: expected a 0x-prefixed hex string, got {value}"
        ))
    })?;
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .ok_or_else(|| RpcError::params(format!("{what}: {text:?} is not 0x-prefixed hex")))?;
    if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(RpcError::params(format!(
            "{what}: {text:?} has non-hex characters"
        )));
    }
    Ok(digits)
}

/// A 20-byte address: `0x` and exactly 40 hex digits.
pub(super) fn parse_address(value: &Value) -> Result<Address, RpcError> {
    let digits = hex_digits(value, "address")?;
    if digits.len() != 40 {
        return Err(RpcError::params(format!(
            "address: expected 20 bytes (40 hex digits), got {} digits",
            digits.len()
        )));
    }
    digits
        .parse()
        .map_err(|e| RpcError::params(format!("address: {e}")))
}

/// A 32-byte hash: `0x` and exactly 64 hex digits.
pub(super) fn parse_b256(value: &Value, what: &str) -> Result<B256, RpcError> {
    let digits = hex_digits(value, what)?;
    if digits.len() != 64 {
        return Err(RpcError::params(format!(
            "{what}: expected 32 bytes (64 hex digits), got {} digits",
            digits.len()
        )));
    }
    digits
        .parse()
        .map_err(|e| RpcError::params(format!("{what}: {e}")))
}

/// A storage slot: a quantity or 32 bytes of data (tools send both), up to 64 hex digits.
pub(super) fn parse_slot(value: &Value) -> Result<U256, RpcError> {
    let digits = hex_digits(value, "storage slot")?;
    if digits.is_empty() || digits.len() > 64 {
        return Err(RpcError::params(format!(
            "storage slot: expected 1 to 64 hex digits, got {}",
            digits.len()
        )));
    }
    U256::from_str_radix(digits, 16).map_err(|e| RpcError::params(format!("storage slot: {e}")))
}

/// A 256-bit quantity (a value or a gas price).
pub(super) fn parse_quantity_u256(value: &Value, what: &str) -> Result<U256, RpcError> {
    let digits = hex_digits(value, what)?;
    if digits.is_empty() || digits.len() > 64 {
        return Err(RpcError::params(format!(
            "{what}: expected 1 to 64 hex digits"
        )));
    }
    U256::from_str_radix(digits, 16).map_err(|e| RpcError::params(format!("{what}: {e}")))
}

/// The transaction object of `eth_call` / `eth_estimateGas`.
pub(super) fn parse_call_request(value: &Value, chain_id: u64) -> Result<CallRequest, RpcError> {
    let object = value
        .as_object()
        .ok_or_else(|| RpcError::params("call: expected a transaction object"))?;
    let field = |name: &str| object.get(name).filter(|v| !v.is_null());
    let data = match field("input").or_else(|| field("data")) {
        Some(v) => {
            let digits = hex_digits(v, "input")?;
            hex::decode(digits)
                .map_err(|e| RpcError::params(format!("input: {e}")))?
                .into()
        }
        None => Bytes::new(),
    };
    Ok(CallRequest {
        from: field("from").map(parse_address).transpose()?,
        to: field("to").map(parse_address).transpose()?,
        gas: field("gas")
            .map(|v| parse_quantity_u256(v, "gas"))
            .transpose()?
            .map(|g| g.saturating_to::<u64>()),
        gas_price: field("gasPrice")
            .or_else(|| field("maxFeePerGas"))
            .map(|v| parse_quantity_u256(v, "gasPrice"))
            .transpose()?,
        value: field("value")
            .map(|v| parse_quantity_u256(v, "value"))
            .transpose()?,
        data,
        chain_id: Some(chain_id),
    })
}

/// A block number quantity: `0x`, no leading zeros, at most 64 bits.
pub(super) fn parse_quantity_u64(value: &Value, what: &str) -> Result<u64, RpcError> {
    let digits = hex_digits(value, what)?;
    if digits.is_empty() {
        return Err(RpcError::params(format!("{what}: empty hex number")));
    }
    if digits.len() > 1 && digits.starts_with('0') {
        return Err(RpcError::params(format!(
            "{what}: hex number with leading zero digits"
        )));
    }
    u64::from_str_radix(digits, 16)
        .map_err(|_| RpcError::params(format!("{what}: hex number larger than 64 bits")))
}

/// The block parameter of `eth_getBlockByNumber`: a tag or a number.
pub(super) fn parse_block_number(value: &Value) -> Result<BlockId, RpcError> {
    match value.as_str() {
        // We know the chain only through trusted headers: the newest trusted one is as "safe",
        // "finalized" and "pending" as this node can tell.
        Some("latest" | "safe" | "finalized" | "pending") => Ok(BlockId::Latest),
        Some("earliest") => Ok(BlockId::Number(0)),
        Some(_) => Ok(BlockId::Number(parse_quantity_u64(value, "block number")?)),
        None => Err(RpcError::params(format!(
            "block: expected a tag (latest, earliest, safe, finalized, pending) or a hex number, got {value}"
        ))),
    }
}

/// A state method's block parameter: a tag, a number, or an EIP-1898 object
/// (`{"blockNumber": …}` or `{"blockHash": …, "requireCanonical": bool}`). Missing means
/// `latest`, as most servers read it.
pub(super) fn parse_block(value: Option<&Value>) -> Result<BlockId, RpcError> {
    match value {
        None => Ok(BlockId::Latest),
        Some(Value::Object(object)) => parse_block_object(object),
        Some(value) => parse_block_number(value),
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
