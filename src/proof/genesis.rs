//! Genesis allocations: the full state a bridge starts from, read from genesis JSON files.
//!
//! Accepts the formats real genesis files use (the three in `data/genesis/`): address keys with
//! or without `0x`, lower-case or checksummed (checksums are not checked: case carries no
//! meaning in the trie); `balance` and `nonce` as hex (`0x…`) or decimal strings or JSON
//! integers; `code` as hex; `storage` as a map of hex slot → hex value. Either the whole genesis
//! object (the allocation under `alloc`; `config`, `stateRoot` and every other field ignored) or
//! a bare allocation map. Anything unparsable is a [`GenesisError`] naming the account.

use alloy_primitives::{hex, keccak256, Address, Bytes, B256, U256};
use alloy_trie::{TrieAccount, KECCAK_EMPTY};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Why a genesis file could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GenesisError {
    /// The text is not JSON.
    #[error("genesis is not valid JSON: {0}")]
    Json(String),
    /// The JSON (or its `alloc`) is not an object of address → account.
    #[error("genesis allocation is not a JSON object")]
    NotAnObject,
    /// A key of the allocation is not a 20-byte hex address.
    #[error("genesis allocation key {0:?} is not an address")]
    BadAddress(String),
    /// Two keys name the same address (e.g. once with `0x` and once without).
    #[error("genesis allocation lists account {0} twice")]
    DuplicateAddress(Address),
    /// An account's entry is not a JSON object.
    #[error("genesis account {0} is not a JSON object")]
    AccountNotAnObject(Address),
    /// A field of an account does not parse (bad number, bad hex, wrong JSON type).
    #[error("genesis account {address}: field `{field}` = {value} is invalid: {reason}")]
    BadField {
        /// The account.
        address: Address,
        /// The field (`balance`, `nonce`, `code`, `storage`, or `storage[<slot>]`).
        field: String,
        /// The offending JSON, as written.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// One account of a genesis allocation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GenesisAccount {
    /// The account's nonce.
    pub nonce: u64,
    /// The balance in wei.
    pub balance: U256,
    /// The contract code; empty for an externally owned account.
    pub code: Bytes,
    /// Storage slots and their values. Zero values are allowed and mean "not in the trie".
    pub storage: BTreeMap<U256, U256>,
}

impl GenesisAccount {
    /// An account holding only a balance.
    pub fn with_balance(balance: U256) -> Self {
        Self {
            balance,
            ..Self::default()
        }
    }

    /// `keccak256` of the code ([`KECCAK_EMPTY`] for no code).
    pub fn code_hash(&self) -> B256 {
        if self.code.is_empty() {
            KECCAK_EMPTY
        } else {
            keccak256(&self.code)
        }
    }

    /// The account as the state trie stores it, given its storage root.
    pub fn trie_account(&self, storage_root: B256) -> TrieAccount {
        TrieAccount {
            nonce: self.nonce,
            balance: self.balance,
            storage_root,
            code_hash: self.code_hash(),
        }
    }
}

/// A genesis allocation: every account of a state, by address.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GenesisAlloc {
    accounts: BTreeMap<Address, GenesisAccount>,
}

impl GenesisAlloc {
    /// An empty allocation (its state root is the empty trie's root).
    pub fn new() -> Self {
        Self::default()
    }

    /// Read a genesis JSON file, or a bare allocation map.
    pub fn from_json(json: &str) -> Result<Self, GenesisError> {
        let value: Value =
            serde_json::from_str(json).map_err(|e| GenesisError::Json(e.to_string()))?;
        Self::from_value(&value)
    }

    /// [`from_json`](Self::from_json) of a document already parsed (e.g. the `accounts` of an
    /// execution client's state dump, which has the same account form).
    pub fn from_value(value: &Value) -> Result<Self, GenesisError> {
        let top = value.as_object().ok_or(GenesisError::NotAnObject)?;
        let alloc = match top.get("alloc") {
            Some(alloc) => alloc.as_object().ok_or(GenesisError::NotAnObject)?,
            None => top,
        };
        let mut accounts = BTreeMap::new();
        for (key, entry) in alloc {
            let address: Address = key
                .parse()
                .map_err(|_| GenesisError::BadAddress(key.clone()))?;
            let fields = entry
                .as_object()
                .ok_or(GenesisError::AccountNotAnObject(address))?;
            let account = parse_account(address, fields)?;
            if accounts.insert(address, account).is_some() {
                return Err(GenesisError::DuplicateAddress(address));
            }
        }
        Ok(Self { accounts })
    }

    /// Add or replace an account; returns the one it replaced.
    pub fn insert(&mut self, address: Address, account: GenesisAccount) -> Option<GenesisAccount> {
        self.accounts.insert(address, account)
    }

    /// The account at `address`, if allocated.
    pub fn get(&self, address: &Address) -> Option<&GenesisAccount> {
        self.accounts.get(address)
    }

    /// How many accounts are allocated.
    pub fn len(&self) -> usize {
        self.accounts.len()
    }

    /// Whether no account is allocated.
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }

    /// The accounts, in address order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&Address, &GenesisAccount)> {
        self.accounts.iter()
    }
}

impl FromIterator<(Address, GenesisAccount)> for GenesisAlloc {
    fn from_iter<T: IntoIterator<Item = (Address, GenesisAccount)>>(iter: T) -> Self {
        Self {
            accounts: iter.into_iter().collect(),
        }
    }
}

fn parse_account(
    address: Address,
    fields: &Map<String, Value>,
) -> Result<GenesisAccount, GenesisError> {
    let bad = |field: &str, value: &Value, reason: String| GenesisError::BadField {
        address,
        field: field.to_string(),
        value: value.to_string(),
        reason,
    };
    let mut account = GenesisAccount::default();
    if let Some(v) = fields.get("balance") {
        account.balance = parse_quantity(v).map_err(|r| bad("balance", v, r))?;
    }
    if let Some(v) = fields.get("nonce") {
        let nonce = parse_quantity(v).map_err(|r| bad("nonce", v, r))?;
        account.nonce = u64::try_from(nonce).map_err(|_| bad("nonce", v, "over 64 bits".into()))?;
    }
    if let Some(v) = fields.get("code") {
        let text = v
            .as_str()
            .ok_or_else(|| bad("code", v, "not a string".into()))?;
        account.code = hex::decode(text)
            .map_err(|e| bad("code", v, e.to_string()))?
            .into();
    }
    if let Some(v) = fields.get("storage") {
        let slots = v
            .as_object()
            .ok_or_else(|| bad("storage", v, "not an object".into()))?;
        for (slot_text, value) in slots {
            let field = format!("storage[{slot_text}]");
            let slot = parse_hex_word(slot_text).map_err(|r| bad(&field, value, r))?;
            let text = value
                .as_str()
                .ok_or_else(|| bad(&field, value, "not a string".into()))?;
            let word = parse_hex_word(text).map_err(|r| bad(&field, value, r))?;
            // A zero word is no slot at all: the storage trie never holds one (a cleared slot
            // is deleted), and state dumps list cleared slots as zeros.
            if word.is_zero() {
                continue;
            }
            if account.storage.insert(slot, word).is_some() {
                return Err(bad(&field, value, "slot listed twice".into()));
            }
        }
    }
    Ok(account)
}

/// A balance or nonce: `0x`-prefixed hex, decimal string, or non-negative JSON integer.
fn parse_quantity(value: &Value) -> Result<U256, String> {
    match value {
        Value::String(text) => {
            let (digits, radix) = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X"))
            {
                Some(hex_digits) => (hex_digits, 16),
                None => (text.as_str(), 10),
            };
            if digits.is_empty() {
                return Err("no digits".into());
            }
            U256::from_str_radix(digits, radix).map_err(|e| e.to_string())
        }
        Value::Number(number) => number
            .as_u64()
            .map(U256::from)
            .ok_or_else(|| "not a non-negative integer".into()),
        _ => Err("not a string or an integer".into()),
    }
}

/// A storage slot or value: hex (genesis files write 32-byte words), `0x` optional.
fn parse_hex_word(text: &str) -> Result<U256, String> {
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    if digits.is_empty() || digits.len() > 64 {
        return Err(format!("{} hex digits, 1 to 64 expected", digits.len()));
    }
    U256::from_str_radix(digits, 16).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::address;

    #[test]
    fn reads_every_number_format() {
        let json = r#"{"config":{"chainId":1},"stateRoot":"0x00","alloc":{
            "0x00000000000000000000000000000000000000Aa":{"balance":"0x10","nonce":"0x2"},
            "00000000000000000000000000000000000000bb":{"balance":"1000","nonce":"7"},
            "0x00000000000000000000000000000000000000cc":{"balance":12,"nonce":3,
                "code":"0x6000","storage":{"0x01":"0x0a","0000000000000000000000000000000000000000000000000000000000000002":"ff","0x03":"0x00"}}
        }}"#;
        let alloc = GenesisAlloc::from_json(json).unwrap();
        assert_eq!(alloc.len(), 3);
        let a = alloc
            .get(&address!("00000000000000000000000000000000000000aa"))
            .unwrap();
        assert_eq!((a.balance, a.nonce), (U256::from(16), 2));
        let b = alloc
            .get(&address!("00000000000000000000000000000000000000bb"))
            .unwrap();
        assert_eq!((b.balance, b.nonce), (U256::from(1000), 7));
        let c = alloc
            .get(&address!("00000000000000000000000000000000000000cc"))
            .unwrap();
        assert_eq!((c.balance, c.nonce), (U256::from(12), 3));
        assert_eq!(c.code.as_ref(), &[0x60, 0x00]);
        assert_eq!(c.storage.get(&U256::from(1)), Some(&U256::from(10)));
        assert_eq!(c.storage.get(&U256::from(2)), Some(&U256::from(255)));
        // A zero word (a cleared slot in a state dump) is not a slot.
        assert_eq!(c.storage.len(), 2);
        assert_ne!(c.code_hash(), KECCAK_EMPTY);
        assert_eq!(a.code_hash(), KECCAK_EMPTY);
    }

    #[test]
    fn a_bare_allocation_map_is_accepted() {
        let alloc = GenesisAlloc::from_json(
            r#"{"0x00000000000000000000000000000000000000aa":{"balance":"1"}}"#,
        )
        .unwrap();
        assert_eq!(alloc.len(), 1);
    }

    #[test]
    fn errors_name_the_account() {
        let addr = address!("00000000000000000000000000000000000000aa");
        let err = |json: &str| GenesisAlloc::from_json(json).unwrap_err();
        assert!(matches!(err("{"), GenesisError::Json(_)));
        assert_eq!(err("[]"), GenesisError::NotAnObject);
        assert_eq!(
            err(r#"{"alloc":{"0xzz":{}}}"#),
            GenesisError::BadAddress("0xzz".into())
        );
        assert_eq!(
            err(r#"{"alloc":{"0x00000000000000000000000000000000000000aa":1}}"#),
            GenesisError::AccountNotAnObject(addr)
        );
        for (json, bad_field) in [
            (r#"{"balance":"0xzz"}"#, "balance"),
            (r#"{"balance":"12a"}"#, "balance"),
            (r#"{"balance":"0x"}"#, "balance"),
            (r#"{"balance":-1}"#, "balance"),
            (r#"{"balance":true}"#, "balance"),
            (r#"{"nonce":"0x10000000000000000"}"#, "nonce"),
            (r#"{"code":"0x6"}"#, "code"),
            (r#"{"storage":[]}"#, "storage"),
            (r#"{"storage":{"0x01":"0xgg"}}"#, "storage[0x01]"),
        ] {
            let text = format!(r#"{{"0x00000000000000000000000000000000000000aa":{json}}}"#);
            match err(&text) {
                GenesisError::BadField { address, field, .. } => {
                    assert_eq!(address, addr);
                    assert_eq!(field, bad_field, "{json}");
                }
                other => panic!("{json}: {other:?}"),
            }
        }
        let dup = r#"{"0x00000000000000000000000000000000000000aa":{},
                      "00000000000000000000000000000000000000AA":{}}"#;
        assert_eq!(err(dup), GenesisError::DuplicateAddress(addr));
    }
}
