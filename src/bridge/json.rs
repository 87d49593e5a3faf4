//! Strict readers of the JSON-RPC value forms (hex data, hex quantities), with errors naming
//! the field's path.

use super::BridgeError;
use alloy_primitives::{hex, Address, Bytes, FixedBytes, U256};
use serde_json::Value;

/// `obj[name]`, an error naming `what.name` when it is missing or null.
pub(crate) fn field<'a>(obj: &'a Value, what: &str, name: &str) -> Result<&'a Value, BridgeError> {
    match obj.get(name) {
        Some(Value::Null) | None => Err(BridgeError::json(format!("{what}.{name}"), "missing")),
        Some(v) => Ok(v),
    }
}

/// `obj[name]` if present and not null.
pub(crate) fn optional<'a>(obj: &'a Value, name: &str) -> Option<&'a Value> {
    obj.get(name).filter(|v| !v.is_null())
}

fn text<'a>(v: &'a Value, what: &str) -> Result<&'a str, BridgeError> {
    v.as_str()
        .ok_or_else(|| BridgeError::json(what, format!("expected a hex string, found {v}")))
}

/// Hex data (`0x…`, an even number of digits).
pub(crate) fn bytes(v: &Value, what: &str) -> Result<Bytes, BridgeError> {
    let s = text(v, what)?;
    let digits = s
        .strip_prefix("0x")
        .ok_or_else(|| BridgeError::json(what, format!("{s:?} does not start with 0x")))?;
    hex::decode(digits)
        .map(Bytes::from)
        .map_err(|e| BridgeError::json(what, format!("{s:?} is not hex data: {e}")))
}

/// Hex data of exactly `N` bytes.
pub(crate) fn fixed<const N: usize>(v: &Value, what: &str) -> Result<FixedBytes<N>, BridgeError> {
    let b = bytes(v, what)?;
    if b.len() != N {
        return Err(BridgeError::json(
            what,
            format!("expected {N} bytes, found {}", b.len()),
        ));
    }
    Ok(FixedBytes::from_slice(&b))
}

/// A 20-byte address (checksum case is not checked: it carries no meaning in the trie).
pub(crate) fn address(v: &Value, what: &str) -> Result<Address, BridgeError> {
    fixed::<20>(v, what).map(Address::from)
}

/// A quantity: `0x`-prefixed hex (leading zeros tolerated), or a non-negative JSON integer.
pub(crate) fn u256(v: &Value, what: &str) -> Result<U256, BridgeError> {
    if let Some(n) = v.as_u64() {
        return Ok(U256::from(n));
    }
    let s = text(v, what)?;
    let digits = s
        .strip_prefix("0x")
        .ok_or_else(|| BridgeError::json(what, format!("{s:?} does not start with 0x")))?;
    if digits.is_empty() {
        return Err(BridgeError::json(what, "\"0x\" is not a quantity"));
    }
    U256::from_str_radix(digits, 16)
        .map_err(|e| BridgeError::json(what, format!("{s:?} is not a hex quantity: {e}")))
}

/// A quantity that fits 64 bits.
pub(crate) fn u64(v: &Value, what: &str) -> Result<u64, BridgeError> {
    let n = u256(v, what)?;
    u64::try_from(n).map_err(|_| BridgeError::json(what, format!("{n} does not fit 64 bits")))
}

/// A JSON array.
pub(crate) fn array<'a>(v: &'a Value, what: &str) -> Result<&'a Vec<Value>, BridgeError> {
    v.as_array()
        .ok_or_else(|| BridgeError::json(what, format!("expected an array, found {v}")))
}

/// Parse a whole document.
pub(crate) fn parse(text: &str, what: &str) -> Result<Value, BridgeError> {
    serde_json::from_str(text).map_err(|e| BridgeError::json(what, format!("not JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quantities_and_data_are_strict() {
        assert_eq!(u64(&json!("0x1a"), "x").unwrap(), 26);
        assert_eq!(u64(&json!("0x01"), "x").unwrap(), 1);
        assert_eq!(u64(&json!(7), "x").unwrap(), 7);
        assert!(u64(&json!("0x"), "x").is_err());
        assert!(u64(&json!("12"), "x").is_err());
        assert!(u64(&json!("0x1ffffffffffffffff"), "x").is_err());
        assert!(u64(&json!(-1), "x").is_err());
        assert!(bytes(&json!("0xabc"), "x").is_err());
        assert_eq!(bytes(&json!("0x"), "x").unwrap().len(), 0);
        let e = address(&json!("0x1234"), "proofs[2].address").unwrap_err();
        assert!(e.to_string().contains("proofs[2].address"), "{e}");
        let e = field(&json!({"a": null}), "doc", "a").unwrap_err();
        assert_eq!(e.to_string(), "doc.a: missing");
    }
}
