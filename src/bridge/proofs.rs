//! Content from `eth_getProof` results: one proofs file (an operator seeding data from any
//! archive node), or the proofs the [`super::Follower`] fetches for each block.
//!
//! A proofs file is one JSON object:
//!
//! ```json
//! {
//!   "header_rlp": "0x…",
//!   "proofs": [ <eth_getProof results> ],
//!   "code": { "<code hash>": "0x<bytecode>" }
//! }
//! ```
//!
//! Each `eth_getProof` result (EIP-1186: `address`, `balance`, `nonce`, `codeHash`,
//! `storageHash`, `accountProof`, `storageProof: [{key, value, proof}]`) becomes an account
//! item, one storage item per slot (account witness + storage witness) and, when `code` has the
//! account's code, a bytecode item. Every item is verified against the header's state root, and
//! the values stated beside the proofs must be the ones the proofs prove.

use super::json::{self, field, optional};
use super::BridgeError;
use crate::content::{AccountKey, BytecodeKey, ContentKey, ContentValue, StorageKey, Witness};
use crate::proof::{self, BlockHeader, VerifiedContent, VerifiedValue};
use alloy_primitives::{Address, Bytes, B256, U256};
use alloy_trie::{TrieAccount, EMPTY_ROOT_HASH, KECCAK_EMPTY};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// One slot of an `eth_getProof` result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageProof {
    /// The slot (`key`).
    pub slot: U256,
    /// Its stated value.
    pub value: U256,
    /// The witness from the account's storage root (`proof`).
    pub proof: Witness,
}

/// An `eth_getProof` result (EIP-1186).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountProof {
    /// The account.
    pub address: Address,
    /// Stated balance.
    pub balance: U256,
    /// Stated nonce.
    pub nonce: u64,
    /// Stated code hash.
    pub code_hash: B256,
    /// Stated storage root.
    pub storage_hash: B256,
    /// The witness from the state root (`accountProof`).
    pub account_proof: Witness,
    /// The slots asked for.
    pub storage_proof: Vec<StorageProof>,
}

fn witness(v: &Value, what: &str) -> Result<Witness, BridgeError> {
    json::array(v, what)?
        .iter()
        .enumerate()
        .map(|(i, node)| json::bytes(node, &format!("{what}[{i}]")))
        .collect::<Result<Vec<Bytes>, _>>()
        .map(Witness)
}

fn witness_json(w: &Witness) -> Value {
    Value::Array(
        w.nodes()
            .iter()
            .map(|n| Value::String(format!("{n:#x}")))
            .collect(),
    )
}

impl AccountProof {
    /// Read one `eth_getProof` result; `what` names it in errors (e.g. `proofs[3]`).
    pub fn from_json(v: &Value, what: &str) -> Result<Self, BridgeError> {
        let p = |name: &str| format!("{what}.{name}");
        let f = |name: &str| field(v, what, name);
        let storage = match optional(v, "storageProof") {
            None => Vec::new(),
            Some(list) => json::array(list, &p("storageProof"))?
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let w = format!("{what}.storageProof[{i}]");
                    Ok(StorageProof {
                        slot: json::u256(field(s, &w, "key")?, &format!("{w}.key"))?,
                        value: json::u256(field(s, &w, "value")?, &format!("{w}.value"))?,
                        proof: witness(field(s, &w, "proof")?, &format!("{w}.proof"))?,
                    })
                })
                .collect::<Result<_, BridgeError>>()?,
        };
        Ok(AccountProof {
            address: json::address(f("address")?, &p("address"))?,
            balance: json::u256(f("balance")?, &p("balance"))?,
            nonce: json::u64(f("nonce")?, &p("nonce"))?,
            code_hash: json::fixed(f("codeHash")?, &p("codeHash"))?,
            storage_hash: json::fixed(f("storageHash")?, &p("storageHash"))?,
            account_proof: witness(f("accountProof")?, &p("accountProof"))?,
            storage_proof: storage,
        })
    }

    /// The result as `eth_getProof` writes it (slots as 32-byte hex).
    pub fn to_json(&self) -> Value {
        json!({
            "address": format!("{:#x}", self.address),
            "balance": format!("{:#x}", self.balance),
            "nonce": format!("{:#x}", self.nonce),
            "codeHash": format!("{:#x}", self.code_hash),
            "storageHash": format!("{:#x}", self.storage_hash),
            "accountProof": witness_json(&self.account_proof),
            "storageProof": self.storage_proof.iter().map(|s| json!({
                "key": format!("{:#x}", B256::from(s.slot)),
                "value": format!("{:#x}", s.value),
                "proof": witness_json(&s.proof),
            })).collect::<Vec<_>>(),
        })
    }
}

fn account_item(address: Address) -> String {
    format!("account {address:#x}")
}

fn storage_item(address: Address, slot: U256) -> String {
    format!("storage {address:#x} slot {slot:#x}")
}

/// Verify `(key, value)` after checking it fits the wire format's limits (a peer would refuse
/// it otherwise).
fn verified(
    item: &str,
    key: ContentKey,
    value: ContentValue,
) -> Result<VerifiedContent, BridgeError> {
    ContentValue::decode(&key, &value.encode()).map_err(|e| BridgeError::OverLimit {
        item: item.to_string(),
        reason: e.to_string(),
    })?;
    proof::verify(key, value).map_err(|source| BridgeError::InvalidProof {
        item: item.to_string(),
        source,
    })
}

/// Compare a value stated beside a proof with the one the proof proves.
fn check_stated<T: PartialEq + std::fmt::LowerHex>(
    item: &str,
    field: &'static str,
    stated: T,
    proven: T,
) -> Result<(), BridgeError> {
    if stated == proven {
        Ok(())
    } else {
        Err(BridgeError::StatedValueMismatch {
            item: item.to_string(),
            field,
            stated: format!("{stated:#x}"),
            proven: format!("{proven:#x}"),
        })
    }
}

/// The verified items of one `eth_getProof` result against `state_root`: the account, each
/// slot, and the bytecode when `code` is given.
///
/// Fails, naming the item, when a witness does not verify, when a stated value (balance,
/// nonce, code hash, storage hash, slot value) differs from the proven one, or when `code` does
/// not hash to the proven code hash. An account proven absent must be stated empty.
pub fn proof_items(
    state_root: B256,
    proof: &AccountProof,
    code: Option<&Bytes>,
) -> Result<Vec<VerifiedContent>, BridgeError> {
    let address = proof.address;
    let name = account_item(address);
    let account = verified(
        &name,
        ContentKey::Account(AccountKey {
            address,
            state_root,
        }),
        ContentValue::Account(proof.account_proof.clone()),
    )?;
    let proven = match account.proven() {
        VerifiedValue::Account(a) => *a,
        _ => None,
    };
    // What an absent account reads as. Clients state its code hash and storage root either
    // as the empty values or as zero.
    let stated_absent = proof.balance.is_zero()
        && proof.nonce == 0
        && [KECCAK_EMPTY, B256::ZERO].contains(&proof.code_hash)
        && [EMPTY_ROOT_HASH, B256::ZERO].contains(&proof.storage_hash);
    let trie_account = match proven {
        Some(a) => {
            check_stated(&name, "balance", proof.balance, a.balance)?;
            check_stated(&name, "nonce", proof.nonce, a.nonce)?;
            check_stated(&name, "codeHash", proof.code_hash, a.code_hash)?;
            check_stated(&name, "storageHash", proof.storage_hash, a.storage_root)?;
            a
        }
        None if stated_absent => TrieAccount::default(),
        None => {
            return Err(BridgeError::StatedValueMismatch {
                item: name,
                field: "accountProof",
                stated: "an existing account".into(),
                proven: "no account at this address".into(),
            })
        }
    };
    let mut items = vec![account];
    for slot in &proof.storage_proof {
        let item = storage_item(address, slot.slot);
        let content = verified(
            &item,
            ContentKey::Storage(StorageKey {
                address,
                slot: slot.slot,
                state_root,
            }),
            ContentValue::Storage {
                account_witness: proof.account_proof.clone(),
                storage_witness: slot.proof.clone(),
            },
        )?;
        if let VerifiedValue::Storage(value) = content.proven() {
            check_stated(&item, "value", slot.value, *value)?;
        }
        items.push(content);
    }
    if let Some(code) = code {
        let item = format!("bytecode {address:#x}");
        if proven.is_none() || trie_account.code_hash == KECCAK_EMPTY {
            return Err(BridgeError::StatedValueMismatch {
                item,
                field: "code",
                stated: format!("{} bytes of code", code.len()),
                proven: "an account without code".into(),
            });
        }
        items.push(verified(
            &item,
            ContentKey::Bytecode(BytecodeKey {
                address,
                code_hash: trie_account.code_hash,
            }),
            ContentValue::Bytecode(code.clone()),
        )?);
    }
    Ok(items)
}

/// Read a proofs file (see the module docs): the header, and every item verified against its
/// state root, in file order (each account followed by its slots and its code).
pub fn proofs_file_content(
    json_text: &str,
) -> Result<(BlockHeader, Vec<VerifiedContent>), BridgeError> {
    let doc = json::parse(json_text, "proofs file")?;
    let header_rlp = json::bytes(
        field(&doc, "proofs file", "header_rlp")?,
        "proofs file.header_rlp",
    )?;
    let header = BlockHeader::decode(&header_rlp)?;
    let mut code: BTreeMap<B256, Bytes> = BTreeMap::new();
    if let Some(map) = optional(&doc, "code") {
        let map: &Map<String, Value> = map
            .as_object()
            .ok_or_else(|| BridgeError::json("proofs file.code", "expected an object"))?;
        for (hash, bytes) in map {
            let what = format!("proofs file.code[{hash}]");
            let hash: B256 = json::fixed(&Value::String(hash.clone()), &what)?;
            let bytes = json::bytes(bytes, &what)?;
            proof::verify_bytecode(hash, &bytes).map_err(|source| BridgeError::InvalidProof {
                item: format!("code {hash:#x}"),
                source,
            })?;
            code.insert(hash, bytes);
        }
    }
    let proofs = json::array(field(&doc, "proofs file", "proofs")?, "proofs file.proofs")?;
    let mut items = Vec::new();
    let mut used = BTreeSet::new();
    for (i, p) in proofs.iter().enumerate() {
        let proof = AccountProof::from_json(p, &format!("proofs[{i}]"))?;
        let account_code = code
            .get(&proof.code_hash)
            .filter(|_| proof.code_hash != KECCAK_EMPTY);
        if account_code.is_some() {
            used.insert(proof.code_hash);
        }
        items.extend(proof_items(header.state_root, &proof, account_code)?);
    }
    if let Some(unclaimed) = code.keys().find(|h| !used.contains(*h)) {
        return Err(BridgeError::UnclaimedCode(*unclaimed));
    }
    Ok((header, items))
}
