//! The text forms of Ethereum values at the API's edges, parsed strictly into typed values by
//! one set of rules: the Kotlin / Swift / Python API (`uniffi_api`), the C API
//! ([`crate::ffi`]), the CLI's JSON-RPC server and its `query` command all call these
//! functions. Malformed text is an [`InputError`] whose reason names the argument and what is
//! wrong with it; at the app API it becomes [`NodeError::InvalidInput`].
//!
//! | value | accepted text |
//! |---|---|
//! | address | `0x` + 40 hex digits. All lowercase or all uppercase digits as they are; mixed case must carry a valid EIP-55 checksum (a typo in a checksummed address is caught, not queried). |
//! | hash (block, transaction, checkpoint) | `0x` + 64 hex digits, any case. |
//! | storage slot (key) | `0x` + 1 to 64 hex digits (`0x0` is slot 0; a 32-byte key as `eth_getStorageAt` gets it works too). **No decimal**: a slot is a key, often a keccak hash, and `10` would read as ten to some and as sixteen to others. |
//! | number (block number, count) | decimal digits, or `0x` + hex digits (a JSON-RPC quantity); no leading zeros (`0` and `0x0` are zero); at most 2^64 − 1. |
//! | amount (wei, gas price) | decimal digits, or `0x` + 1 to 64 hex digits; at most 2^256 − 1. |
//! | block | `latest` (also `safe`, `finalized`, `pending`: the newest trusted block is as final as this node can tell), `earliest` (block 0), a number, or a block hash. |
//! | hex data (calldata, signed transactions) | `0x` + an even number of hex digits (`0x` alone is empty). |
//!
//! The `0x` prefix may be written `0X`. Surrounding whitespace is not trimmed: the caller's
//! text is taken as it is.

use crate::client::BlockId;
use crate::node::NodeError;
use alloy_primitives::{Address, Bytes, B256, U256};

/// Why a text value was refused: the argument, the text and the rule it breaks.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct InputError {
    /// The argument, the text as given and what is wrong with it.
    pub reason: String,
}

impl From<InputError> for NodeError {
    fn from(e: InputError) -> Self {
        NodeError::InvalidInput { reason: e.reason }
    }
}

fn invalid(reason: String) -> InputError {
    InputError { reason }
}

/// The digits after a `0x` prefix, or `None` when there is no prefix.
fn strip_0x(text: &str) -> Option<&str> {
    text.strip_prefix("0x").or_else(|| text.strip_prefix("0X"))
}

/// The hex digits of `0x…` text (at least one), or why it is not that.
fn hex_digits<'a>(text: &'a str, what: &str) -> Result<&'a str, InputError> {
    let digits =
        strip_0x(text).ok_or_else(|| invalid(format!("{what} {text:?}: must start with 0x")))?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid(format!("{what} {text:?}: not hex digits after 0x")));
    }
    Ok(digits)
}

/// An address: `0x` + 40 hex digits, any case; a mixed-case address must carry a valid
/// EIP-55 checksum.
pub fn parse_address(text: &str) -> Result<Address, InputError> {
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

/// A storage slot: `0x` + 1 to 64 hex digits (`"0x0"` is slot 0). Decimal is refused.
pub fn parse_slot(text: &str) -> Result<U256, InputError> {
    let digits = hex_digits(text, "slot")?;
    if digits.len() > 64 {
        return Err(invalid(format!("slot {text:?}: more than 64 hex digits")));
    }
    U256::from_str_radix(digits, 16).map_err(|e| invalid(format!("slot {text:?}: {e}")))
}

/// An amount of wei: decimal digits, or `0x` + 1 to 64 hex digits. `what` names the
/// argument in the error.
pub fn parse_amount(text: &str, what: &str) -> Result<U256, InputError> {
    let parsed = match strip_0x(text) {
        Some(_) => {
            let digits = hex_digits(text, what)?;
            if digits.len() > 64 {
                return Err(invalid(format!("{what} {text:?}: more than 64 hex digits")));
            }
            U256::from_str_radix(digits, 16)
        }
        None if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => {
            U256::from_str_radix(text, 10)
        }
        None => {
            return Err(invalid(format!(
                "{what} {text:?}: not a number (decimal or 0x-hex wei)"
            )))
        }
    };
    parsed.map_err(|e| invalid(format!("{what} {text:?}: {e} (decimal or 0x-hex wei)")))
}

/// A number such as a block number: decimal digits or `0x` + hex digits, without leading
/// zeros, at most 2^64 − 1. `what` names the argument in the error.
pub fn parse_number(text: &str, what: &str) -> Result<u64, InputError> {
    let (digits, radix) = match strip_0x(text) {
        Some(_) => (hex_digits(text, what)?, 16),
        None if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => (text, 10),
        None => {
            return Err(invalid(format!(
                "{what} {text:?}: not a number (decimal or 0x-hex)"
            )))
        }
    };
    if digits.len() > 1 && digits.starts_with('0') {
        return Err(invalid(format!("{what} {text:?}: leading zero digits")));
    }
    u64::from_str_radix(digits, radix)
        .map_err(|_| invalid(format!("{what} {text:?}: larger than 64 bits")))
}

/// A 32-byte hash: `0x` + 64 hex digits. `what` names the argument in the error.
pub fn parse_b256(text: &str, what: &str) -> Result<B256, InputError> {
    let digits = hex_digits(text, what)?;
    if digits.len() != 64 {
        return Err(invalid(format!(
            "{what} {text:?}: must be 64 hex digits, is {}",
            digits.len()
        )));
    }
    digits
        .parse::<B256>()
        .map_err(|e| invalid(format!("{what} {text:?}: {e}")))
}

/// A block hash: `0x` + 64 hex digits.
pub fn parse_hash(text: &str) -> Result<B256, InputError> {
    parse_b256(text, "block hash")
}

/// A block named by a tag or a number (no hash): what `eth_getBlockByNumber` takes.
pub fn parse_block_number(text: &str) -> Result<BlockId, InputError> {
    match text {
        // We know the chain only through trusted headers: the newest trusted one is as "safe",
        // "finalized" and "pending" as this node can tell.
        "latest" | "safe" | "finalized" | "pending" => Ok(BlockId::Latest),
        "earliest" => Ok(BlockId::Number(0)),
        _ => parse_number(text, "block")
            .map(BlockId::Number)
            .map_err(|e| {
                invalid(format!(
                    "{e}; or a tag: latest, earliest, safe, finalized, pending"
                ))
            }),
    }
}

/// A block named by a tag, a number or its hash.
pub fn parse_block(text: &str) -> Result<BlockId, InputError> {
    match strip_0x(text) {
        Some(digits) if digits.len() == 64 => Ok(BlockId::Hash(parse_hash(text)?)),
        _ => parse_block_number(text).map_err(|e| invalid(format!("{e}; or a block hash"))),
    }
}

/// Bytes as hex: `0x` + an even number of hex digits (`"0x"` is empty).
pub fn parse_hex_data(text: &str, what: &str) -> Result<Bytes, InputError> {
    let digits =
        strip_0x(text).ok_or_else(|| invalid(format!("{what} {text:?}: must start with 0x")))?;
    alloy_primitives::hex::decode(digits)
        .map(Bytes::from)
        .map_err(|e| invalid(format!("{what} {text:?}: {e}")))
}

/// A 32-byte word as `0x` + 64 lowercase hex digits (`eth_getStorageAt`'s form).
pub fn word(value: U256) -> String {
    format!("0x{value:064x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused<T: std::fmt::Debug>(parsed: Result<T, InputError>, why: &str) {
        match parsed {
            Err(InputError { reason }) => assert!(reason.contains(why), "{reason} ∌ {why}"),
            Ok(v) => panic!("accepted: {v:?} (expected: {why})"),
        }
    }

    #[test]
    fn addresses_any_single_case_or_a_valid_checksum() {
        let lower = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed";
        let expected: Address = lower.parse().unwrap();
        assert_eq!(parse_address(lower).unwrap(), expected);
        assert_eq!(
            parse_address(&lower.to_uppercase().replace("0X", "0x")).unwrap(),
            expected
        );
        assert_eq!(
            parse_address("0X5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED").unwrap(),
            expected
        );
        assert_eq!(
            parse_address("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed").unwrap(),
            expected
        );
        refused(
            parse_address("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"),
            "checksum",
        );
        refused(
            parse_address("5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"),
            "0x",
        );
        refused(parse_address("0x5aaeb6"), "40 hex digits");
        refused(parse_address(&format!("{lower}00")), "40 hex digits");
        refused(
            parse_address("0xzzaeb6053f3e94c9b9a09f33669435e7ef1beaed"),
            "not hex",
        );
        refused(parse_address(&format!(" {lower}")), "0x");
    }

    #[test]
    fn slots_are_hex_only_up_to_32_bytes() {
        assert_eq!(parse_slot("0x0").unwrap(), U256::ZERO);
        assert_eq!(parse_slot("0x10").unwrap(), U256::from(16));
        assert_eq!(
            parse_slot(&format!("0x{}2", "0".repeat(63))).unwrap(),
            U256::from(2)
        );
        assert_eq!(
            parse_slot(&format!("0x{}", "f".repeat(64))).unwrap(),
            U256::MAX
        );
        refused(parse_slot(&format!("0x{}", "f".repeat(65))), "more than 64");
        refused(parse_slot("10"), "0x");
        refused(parse_slot("0x"), "not hex");
        refused(parse_slot("0xg"), "not hex");
    }

    #[test]
    fn numbers_are_decimal_or_hex_without_leading_zeros() {
        assert_eq!(parse_number("0", "n").unwrap(), 0);
        assert_eq!(parse_number("0x0", "n").unwrap(), 0);
        assert_eq!(parse_number("12", "n").unwrap(), 12);
        assert_eq!(parse_number("0x1b4", "n").unwrap(), 436);
        assert_eq!(parse_number(&u64::MAX.to_string(), "n").unwrap(), u64::MAX);
        refused(parse_number("0x01", "n"), "leading zero");
        refused(parse_number("012", "n"), "leading zero");
        refused(parse_number("0x10000000000000000", "n"), "64 bits");
        refused(parse_number("18446744073709551616", "n"), "64 bits");
        refused(parse_number("-1", "n"), "not a number");
        refused(parse_number("1e3", "n"), "not a number");
        refused(parse_number("", "n"), "not a number");
        refused(parse_number("0x", "n"), "not hex");
    }

    #[test]
    fn amounts_are_decimal_or_hex_wei() {
        assert_eq!(parse_amount("1000", "value").unwrap(), U256::from(1000));
        assert_eq!(parse_amount("0x3e8", "value").unwrap(), U256::from(1000));
        assert_eq!(parse_amount("0x03e8", "value").unwrap(), U256::from(1000));
        assert_eq!(
            parse_amount(&U256::MAX.to_string(), "value").unwrap(),
            U256::MAX
        );
        refused(parse_amount("1e3", "value"), "value");
        refused(parse_amount("-1", "value"), "not a number");
        refused(
            parse_amount(&format!("0x1{}", "0".repeat(64)), "value"),
            "64 hex",
        );
        refused(parse_amount("0x", "gas_price"), "gas_price");
    }

    #[test]
    fn hashes_and_blocks() {
        let hash = B256::repeat_byte(0xab);
        assert_eq!(parse_hash(&hash.to_string()).unwrap(), hash);
        refused(parse_hash("0x1234"), "64 hex digits");
        refused(parse_b256("0x1234", "checkpoint"), "checkpoint");
        for tag in ["latest", "safe", "finalized", "pending"] {
            assert_eq!(parse_block(tag).unwrap(), BlockId::Latest);
        }
        assert_eq!(parse_block("earliest").unwrap(), BlockId::Number(0));
        assert_eq!(parse_block("12").unwrap(), BlockId::Number(12));
        assert_eq!(parse_block("0x10").unwrap(), BlockId::Number(16));
        assert_eq!(parse_block(&hash.to_string()).unwrap(), BlockId::Hash(hash));
        refused(parse_block("soon"), "tag");
        refused(parse_block("0x01"), "leading zero");
        refused(parse_block_number(&hash.to_string()), "64 bits");
        refused(parse_block("Latest"), "tag");
    }

    #[test]
    fn hex_data_is_whole_bytes() {
        assert_eq!(parse_hex_data("0x", "data").unwrap(), Bytes::new());
        assert_eq!(
            parse_hex_data("0xC0ff", "data").unwrap().as_ref(),
            [0xc0, 0xff]
        );
        refused(parse_hex_data("0xabc", "data"), "data");
        refused(parse_hex_data("abcd", "data"), "0x");
        refused(parse_hex_data("0xzz", "data"), "data");
    }

    #[test]
    fn words_are_64_lowercase_digits() {
        assert_eq!(word(U256::from(1)), format!("0x{}1", "0".repeat(63)));
        assert_eq!(word(U256::from(0xAB)), format!("0x{}ab", "0".repeat(62)));
    }

    #[test]
    fn an_input_error_is_invalid_input_at_the_api() {
        let e: NodeError = parse_address("0x12").unwrap_err().into();
        assert!(matches!(e, NodeError::InvalidInput { reason } if reason.contains("address")));
    }
}
