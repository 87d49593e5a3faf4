//! Block headers as execution clients show them over JSON-RPC, rebuilt to RLP.
//!
//! `eth_getBlockByNumber` gives a header as JSON fields plus the block hash. A header is only
//! trusted once the RLP rebuilt from those fields hashes to that block hash (a field that was
//! altered, or a fork field we do not know, makes the hashes differ, and the header is
//! refused). The rebuild covers every fork up to Prague: London's base fee, Shanghai's
//! withdrawals root, Cancun's blob gas fields and parent beacon block root, Prague's requests
//! hash. The reverse, RLP to JSON, serves a JSON-RPC server showing trusted headers.

use super::json::{self, field, optional};
use super::BridgeError;
use crate::proof::BlockHeader;
use alloy_primitives::{keccak256, Address, Bloom, Bytes, B256, B64, U256};
use alloy_rlp::{Decodable, Encodable};
use serde_json::{Map, Value};

/// Every field of an execution block header, Frontier to Prague.
///
/// The fork fields are `Option`s and, as in the RLP, each later one requires every earlier
/// one: a header with a withdrawals root has a base fee, and so on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecutionHeader {
    /// `parentHash`.
    pub parent_hash: B256,
    /// `sha3Uncles`.
    pub ommers_hash: B256,
    /// `miner`: the fee recipient.
    pub beneficiary: Address,
    /// `stateRoot`.
    pub state_root: B256,
    /// `transactionsRoot`.
    pub transactions_root: B256,
    /// `receiptsRoot`.
    pub receipts_root: B256,
    /// `logsBloom`.
    pub logs_bloom: Bloom,
    /// `difficulty` (zero after the merge).
    pub difficulty: U256,
    /// `number`.
    pub number: u64,
    /// `gasLimit`.
    pub gas_limit: u64,
    /// `gasUsed`.
    pub gas_used: u64,
    /// `timestamp`.
    pub timestamp: u64,
    /// `extraData`.
    pub extra_data: Bytes,
    /// `mixHash` (`prevRandao` after the merge).
    pub mix_hash: B256,
    /// `nonce` (zero after the merge).
    pub nonce: B64,
    /// `baseFeePerGas`, from London.
    pub base_fee_per_gas: Option<U256>,
    /// `withdrawalsRoot`, from Shanghai.
    pub withdrawals_root: Option<B256>,
    /// `blobGasUsed`, from Cancun.
    pub blob_gas_used: Option<u64>,
    /// `excessBlobGas`, from Cancun.
    pub excess_blob_gas: Option<u64>,
    /// `parentBeaconBlockRoot`, from Cancun.
    pub parent_beacon_block_root: Option<B256>,
    /// `requestsHash`, from Prague.
    pub requests_hash: Option<B256>,
}

/// The fork fields in RLP order, with their JSON names.
const FORK_FIELDS: [&str; 6] = [
    "baseFeePerGas",
    "withdrawalsRoot",
    "blobGasUsed",
    "excessBlobGas",
    "parentBeaconBlockRoot",
    "requestsHash",
];

impl ExecutionHeader {
    /// Read the header fields of an `eth_getBlockByNumber` result (other fields, such as
    /// `transactions` or `totalDifficulty`, are ignored). Does not check the hash: see
    /// [`ExecutionHeader::rebuild`].
    pub fn from_rpc_json(block: &Value) -> Result<Self, BridgeError> {
        let number_hint = optional(block, "number")
            .map(|n| n.to_string())
            .unwrap_or_else(|| "?".into());
        let w = format!("block {number_hint} header");
        let w = w.as_str();
        let f = |name: &str| field(block, w, name);
        let p = |name: &str| format!("{w}.{name}");
        // Post-merge some clients name the mix hash `prevRandao`.
        let mix = optional(block, "mixHash")
            .or_else(|| optional(block, "prevRandao"))
            .ok_or_else(|| BridgeError::json(p("mixHash"), "missing"))?;
        let mut header = ExecutionHeader {
            parent_hash: json::fixed(f("parentHash")?, &p("parentHash"))?,
            ommers_hash: json::fixed(f("sha3Uncles")?, &p("sha3Uncles"))?,
            beneficiary: json::address(f("miner")?, &p("miner"))?,
            state_root: json::fixed(f("stateRoot")?, &p("stateRoot"))?,
            transactions_root: json::fixed(f("transactionsRoot")?, &p("transactionsRoot"))?,
            receipts_root: json::fixed(f("receiptsRoot")?, &p("receiptsRoot"))?,
            logs_bloom: Bloom::from(json::fixed::<256>(f("logsBloom")?, &p("logsBloom"))?),
            difficulty: json::u256(f("difficulty")?, &p("difficulty"))?,
            number: json::u64(f("number")?, &p("number"))?,
            gas_limit: json::u64(f("gasLimit")?, &p("gasLimit"))?,
            gas_used: json::u64(f("gasUsed")?, &p("gasUsed"))?,
            timestamp: json::u64(f("timestamp")?, &p("timestamp"))?,
            extra_data: json::bytes(f("extraData")?, &p("extraData"))?,
            mix_hash: json::fixed(mix, &p("mixHash"))?,
            nonce: json::fixed(f("nonce")?, &p("nonce"))?,
            ..Default::default()
        };
        let present: Vec<bool> = FORK_FIELDS
            .iter()
            .map(|name| optional(block, name).is_some())
            .collect();
        // A later fork field without an earlier one has no RLP form.
        if let Some(gap) = present.windows(2).position(|w| !w[0] && w[1]) {
            return Err(BridgeError::json(
                p(FORK_FIELDS[gap + 1]),
                format!("present without `{}`", FORK_FIELDS[gap]),
            ));
        }
        let o = |name: &str| optional(block, name);
        if let Some(v) = o("baseFeePerGas") {
            header.base_fee_per_gas = Some(json::u256(v, &p("baseFeePerGas"))?);
        }
        if let Some(v) = o("withdrawalsRoot") {
            header.withdrawals_root = Some(json::fixed(v, &p("withdrawalsRoot"))?);
        }
        if let Some(v) = o("blobGasUsed") {
            header.blob_gas_used = Some(json::u64(v, &p("blobGasUsed"))?);
        }
        if let Some(v) = o("excessBlobGas") {
            header.excess_blob_gas = Some(json::u64(v, &p("excessBlobGas"))?);
        }
        if let Some(v) = o("parentBeaconBlockRoot") {
            header.parent_beacon_block_root = Some(json::fixed(v, &p("parentBeaconBlockRoot"))?);
        }
        if let Some(v) = o("requestsHash") {
            header.requests_hash = Some(json::fixed(v, &p("requestsHash"))?);
        }
        Ok(header)
    }

    /// Rebuild the RLP of an `eth_getBlockByNumber` result and check that it hashes to the
    /// result's `hash`. Only then is the header returned, decoded as the network uses it.
    pub fn rebuild(block: &Value) -> Result<BlockHeader, BridgeError> {
        let header = Self::from_rpc_json(block)?;
        let what = format!("block {} header", header.number);
        let expected: B256 = json::fixed(field(block, &what, "hash")?, &format!("{what}.hash"))?;
        let rlp = header.rlp();
        let computed = keccak256(&rlp);
        if computed != expected {
            return Err(BridgeError::HeaderHashMismatch {
                number: header.number,
                expected,
                computed,
            });
        }
        Ok(BlockHeader::decode(&rlp)?)
    }

    /// The fork fields that are present, in RLP order, as encoders.
    fn fork_fields(&self) -> Vec<&dyn Encodable> {
        let all: [Option<&dyn Encodable>; 6] = [
            self.base_fee_per_gas.as_ref().map(|v| v as &dyn Encodable),
            self.withdrawals_root.as_ref().map(|v| v as &dyn Encodable),
            self.blob_gas_used.as_ref().map(|v| v as &dyn Encodable),
            self.excess_blob_gas.as_ref().map(|v| v as &dyn Encodable),
            self.parent_beacon_block_root
                .as_ref()
                .map(|v| v as &dyn Encodable),
            self.requests_hash.as_ref().map(|v| v as &dyn Encodable),
        ];
        // Stop at the first absent one: later ones have no RLP position without it.
        all.into_iter().map_while(|f| f).collect()
    }

    /// The header's RLP.
    pub fn rlp(&self) -> Vec<u8> {
        let mut fields: Vec<&dyn Encodable> = vec![
            &self.parent_hash,
            &self.ommers_hash,
            &self.beneficiary,
            &self.state_root,
            &self.transactions_root,
            &self.receipts_root,
            &self.logs_bloom,
            &self.difficulty,
            &self.number,
            &self.gas_limit,
            &self.gas_used,
            &self.timestamp,
            &self.extra_data,
            &self.mix_hash,
            &self.nonce,
        ];
        fields.extend(self.fork_fields());
        let payload_length = fields.iter().map(|f| f.length()).sum();
        let mut out = Vec::with_capacity(payload_length + 5);
        alloy_rlp::Header {
            list: true,
            payload_length,
        }
        .encode(&mut out);
        for f in fields {
            f.encode(&mut out);
        }
        out
    }

    /// The block hash: keccak of the RLP.
    pub fn hash(&self) -> B256 {
        keccak256(self.rlp())
    }

    /// Decode every field of a header's RLP (Frontier to Prague; a header with fields of a
    /// later fork is refused, since they could not be shown).
    pub fn from_rlp(rlp: &[u8]) -> Result<Self, BridgeError> {
        let bad = |e: alloy_rlp::Error| BridgeError::json("header RLP", e);
        let mut buf = rlp;
        let list = alloy_rlp::Header::decode(&mut buf).map_err(bad)?;
        if !list.list || list.payload_length != buf.len() {
            return Err(BridgeError::json("header RLP", "not exactly one RLP list"));
        }
        fn next<T: Decodable>(buf: &mut &[u8], name: &str) -> Result<T, BridgeError> {
            T::decode(buf).map_err(|e| BridgeError::json(format!("header RLP field {name}"), e))
        }
        let b = &mut buf;
        let mut header = ExecutionHeader {
            parent_hash: next(b, "parentHash")?,
            ommers_hash: next(b, "sha3Uncles")?,
            beneficiary: next(b, "miner")?,
            state_root: next(b, "stateRoot")?,
            transactions_root: next(b, "transactionsRoot")?,
            receipts_root: next(b, "receiptsRoot")?,
            logs_bloom: next(b, "logsBloom")?,
            difficulty: next(b, "difficulty")?,
            number: next(b, "number")?,
            gas_limit: next(b, "gasLimit")?,
            gas_used: next(b, "gasUsed")?,
            timestamp: next(b, "timestamp")?,
            extra_data: next(b, "extraData")?,
            mix_hash: next(b, "mixHash")?,
            nonce: next(b, "nonce")?,
            ..Default::default()
        };
        if !b.is_empty() {
            header.base_fee_per_gas = Some(next(b, "baseFeePerGas")?);
        }
        if !b.is_empty() {
            header.withdrawals_root = Some(next(b, "withdrawalsRoot")?);
        }
        if !b.is_empty() {
            header.blob_gas_used = Some(next(b, "blobGasUsed")?);
        }
        if !b.is_empty() {
            header.excess_blob_gas = Some(next(b, "excessBlobGas")?);
        }
        if !b.is_empty() {
            header.parent_beacon_block_root = Some(next(b, "parentBeaconBlockRoot")?);
        }
        if !b.is_empty() {
            header.requests_hash = Some(next(b, "requestsHash")?);
        }
        if !b.is_empty() {
            return Err(BridgeError::json(
                "header RLP",
                "fields after requestsHash (a fork this build does not know)",
            ));
        }
        Ok(header)
    }

    /// The header as `eth_getBlockByNumber` shows it (header fields and `hash`; no
    /// transactions, no `size` or `totalDifficulty`).
    pub fn to_rpc_json(&self) -> Value {
        let mut m = Map::new();
        let mut put = |name: &str, v: String| {
            m.insert(name.into(), Value::String(v));
        };
        put("hash", format!("{:#x}", self.hash()));
        put("parentHash", format!("{:#x}", self.parent_hash));
        put("sha3Uncles", format!("{:#x}", self.ommers_hash));
        put("miner", format!("{:#x}", self.beneficiary));
        put("stateRoot", format!("{:#x}", self.state_root));
        put("transactionsRoot", format!("{:#x}", self.transactions_root));
        put("receiptsRoot", format!("{:#x}", self.receipts_root));
        put("logsBloom", format!("{:#x}", self.logs_bloom));
        put("difficulty", format!("{:#x}", self.difficulty));
        put("number", format!("{:#x}", self.number));
        put("gasLimit", format!("{:#x}", self.gas_limit));
        put("gasUsed", format!("{:#x}", self.gas_used));
        put("timestamp", format!("{:#x}", self.timestamp));
        put("extraData", format!("{:#x}", self.extra_data));
        put("mixHash", format!("{:#x}", self.mix_hash));
        put("nonce", format!("{:#x}", self.nonce));
        if let Some(v) = self.base_fee_per_gas {
            put("baseFeePerGas", format!("{v:#x}"));
        }
        if let Some(v) = self.withdrawals_root {
            put("withdrawalsRoot", format!("{v:#x}"));
        }
        if let Some(v) = self.blob_gas_used {
            put("blobGasUsed", format!("{v:#x}"));
        }
        if let Some(v) = self.excess_blob_gas {
            put("excessBlobGas", format!("{v:#x}"));
        }
        if let Some(v) = self.parent_beacon_block_root {
            put("parentBeaconBlockRoot", format!("{v:#x}"));
        }
        if let Some(v) = self.requests_hash {
            put("requestsHash", format!("{v:#x}"));
        }
        Value::Object(m)
    }
}
