//! The text forms in which wallet code holds Ethereum values, parsed strictly into typed values:
//! the shared edge of the Kotlin / Swift / Python API (`uniffi_api`, with the `uniffi` feature)
//! and the C API ([`crate::ffi`]). Malformed text is [`NodeError::InvalidInput`] with
//! a reason naming the argument and what is wrong with it.

use crate::node::NodeError;
use alloy_primitives::{Address, B256, U256};

/// The hex digits of `0x…` text (either case of the prefix), or why it is not that.
fn hex_digits<'a>(text: &'a str, what: &str) -> Result<&'a str, NodeError> {
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .ok_or_else(|| invalid(format!("{what} {text:?}: must start with 0x")))?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid(format!("{what} {text:?}: not hex digits after 0x")));
    }
    Ok(digits)
}

fn invalid(reason: String) -> NodeError {
    NodeError::InvalidInput { reason }
}

/// An address: `0x` + 40 hex digits, any case; a mixed-case address must carry a valid
/// EIP-55 checksum (a typo in a checksummed address is caught, not queried).
pub fn parse_address(text: &str) -> Result<Address, NodeError> {
    let digits = hex_digits(text, "address")?;
    if digits.len() != 40 {
        return Err(invalid(format!(
            "address {text:?}: must be 40 hex digits, is {}",
            digits.len()
        )));
    }
    let mixed = digits.bytes().any(|b| b.is_ascii_uppercase())
        && digits.bytes().any(|b| b.is_ascii_lowercase());
    if mixed {
        return Address::parse_checksummed(format!("0x{digits}"), None)
            .map_err(|_| invalid(format!("address {text:?}: wrong EIP-55 checksum")));
    }
    digits
        .parse::<Address>()
        .map_err(|e| invalid(format!("address {text:?}: {e}")))
}

/// A storage slot: `0x` + 1 to 64 hex digits (`"0x0"` is slot 0).
pub fn parse_slot(text: &str) -> Result<U256, NodeError> {
    let digits = hex_digits(text, "slot")?;
    if digits.len() > 64 {
        return Err(invalid(format!("slot {text:?}: more than 64 hex digits")));
    }
    U256::from_str_radix(digits, 16).map_err(|e| invalid(format!("slot {text:?}: {e}")))
}

/// An amount of wei: a decimal string, or `0x` + hex digits. `what` names the argument in
/// the error.
pub fn parse_amount(text: &str, what: &str) -> Result<U256, NodeError> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(_) => U256::from_str_radix(hex_digits(text, what)?, 16),
        None => U256::from_str_radix(text, 10),
    };
    parsed.map_err(|e| invalid(format!("{what} {text:?}: {e} (decimal or 0x-hex wei)")))
}

/// A block hash: `0x` + 64 hex digits.
pub fn parse_hash(text: &str) -> Result<B256, NodeError> {
    let digits = hex_digits(text, "block hash")?;
    if digits.len() != 64 {
        return Err(invalid(format!(
            "block hash {text:?}: must be 64 hex digits, is {}",
            digits.len()
        )));
    }
    digits
        .parse::<B256>()
        .map_err(|e| invalid(format!("block hash {text:?}: {e}")))
}

/// A 32-byte word as `0x` + 64 lowercase hex digits (`eth_getStorageAt`'s form).
pub fn word(value: U256) -> String {
    format!("0x{value:064x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_validated_with_reasons() {
        let a = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed";
        assert!(parse_address(a).is_ok());
        assert!(parse_address("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed").is_ok());
        let bad_checksum = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD";
        for (text, reason) in [
            ("5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", "0x"),
            ("0x5aaeb6", "40 hex digits"),
            ("0xzzaeb6053f3e94c9b9a09f33669435e7ef1beaed", "not hex"),
            (bad_checksum, "checksum"),
        ] {
            match parse_address(text) {
                Err(NodeError::InvalidInput { reason: r }) => assert!(r.contains(reason), "{r}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        assert_eq!(parse_slot("0x0").unwrap(), U256::ZERO);
        assert_eq!(parse_slot("0x10").unwrap(), U256::from(16));
        assert!(parse_slot(&format!("0x{}", "f".repeat(65))).is_err());
        assert!(parse_hash("0x1234").is_err());
        assert_eq!(parse_amount("1000", "value").unwrap(), U256::from(1000));
        assert_eq!(parse_amount("0x3e8", "value").unwrap(), U256::from(1000));
        assert!(parse_amount("1e3", "value").is_err());
        assert_eq!(word(U256::from(1)), format!("0x{}1", "0".repeat(63)));
    }
}
