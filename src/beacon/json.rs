//! Light-client objects in the beacon REST API's JSON (`{"version": "deneb", "data": {…}}`;
//! integers as decimal strings, bytes as `0x` hex, bitvectors as the hex of their SSZ).
//!
//! Decoding is strict: every field must be there with its exact length, and the `version` must
//! be the fork of the object's slot. Encoding is here too so that tests (and tools) can serve
//! real objects in the same format.

use super::config::{ChainSpec, Fork};
use super::error::LightClientError;
use super::portal::UpdateKind;
use super::types::{
    BeaconBlockHeader, BlsPublicKey, Bootstrap, ExecutionPayloadHeader, LightClientHeader,
    SyncAggregate, SyncCommittee, Update,
};
use alloy_primitives::{hex, Address, B256, U256};
use serde_json::{json, Map, Value};
use ssz::{Decode, Encode};
use ssz_types::{BitVector, FixedVector, VariableList};

type Result<T> = std::result::Result<T, LightClientError>;

fn bad(what: &'static str, reason: impl Into<String>) -> LightClientError {
    LightClientError::Decode {
        what,
        reason: reason.into(),
    }
}

fn field<'a>(v: &'a Value, name: &'static str) -> Result<&'a Value> {
    v.get(name).ok_or_else(|| bad(name, "missing"))
}

fn text<'a>(v: &'a Value, name: &'static str) -> Result<&'a str> {
    field(v, name)?
        .as_str()
        .ok_or_else(|| bad(name, "not a string"))
}

fn uint(v: &Value, name: &'static str) -> Result<u64> {
    text(v, name)?
        .parse()
        .map_err(|e| bad(name, format!("not a decimal u64: {e}")))
}

fn bytes_of(s: &str, name: &'static str) -> Result<Vec<u8>> {
    let digits = s
        .strip_prefix("0x")
        .ok_or_else(|| bad(name, "no 0x prefix"))?;
    hex::decode(digits).map_err(|e| bad(name, format!("not hex: {e}")))
}

fn bytes(v: &Value, name: &'static str) -> Result<Vec<u8>> {
    bytes_of(text(v, name)?, name)
}

fn fixed<const N: usize>(v: &Value, name: &'static str) -> Result<[u8; N]> {
    bytes(v, name)?
        .try_into()
        .map_err(|b: Vec<u8>| bad(name, format!("{} bytes, want {N}", b.len())))
}

fn root(v: &Value, name: &'static str) -> Result<B256> {
    fixed::<32>(v, name).map(B256::from)
}

fn branch(v: &Value, name: &'static str) -> Result<Vec<B256>> {
    field(v, name)?
        .as_array()
        .ok_or_else(|| bad(name, "not an array"))?
        .iter()
        .map(|item| {
            let s = item
                .as_str()
                .ok_or_else(|| bad(name, "item not a string"))?;
            let b = bytes_of(s, name)?;
            B256::try_from(b.as_slice()).map_err(|_| bad(name, "item not 32 bytes"))
        })
        .collect()
}

fn beacon_header(v: &Value) -> Result<BeaconBlockHeader> {
    Ok(BeaconBlockHeader {
        slot: uint(v, "slot")?,
        proposer_index: uint(v, "proposer_index")?,
        parent_root: root(v, "parent_root")?,
        state_root: root(v, "state_root")?,
        body_root: root(v, "body_root")?,
    })
}

fn execution_header(v: &Value) -> Result<ExecutionPayloadHeader> {
    let base_fee = text(v, "base_fee_per_gas")?;
    Ok(ExecutionPayloadHeader {
        parent_hash: root(v, "parent_hash")?,
        fee_recipient: Address::from(fixed::<20>(v, "fee_recipient")?),
        state_root: root(v, "state_root")?,
        receipts_root: root(v, "receipts_root")?,
        logs_bloom: FixedVector::new(bytes(v, "logs_bloom")?)
            .map_err(|e| bad("logs_bloom", format!("{e:?}")))?,
        prev_randao: root(v, "prev_randao")?,
        block_number: uint(v, "block_number")?,
        gas_limit: uint(v, "gas_limit")?,
        gas_used: uint(v, "gas_used")?,
        timestamp: uint(v, "timestamp")?,
        extra_data: VariableList::new(bytes(v, "extra_data")?)
            .map_err(|e| bad("extra_data", format!("{e:?}")))?,
        base_fee_per_gas: U256::from_str_radix(base_fee, 10)
            .map_err(|e| bad("base_fee_per_gas", e.to_string()))?,
        block_hash: root(v, "block_hash")?,
        transactions_root: root(v, "transactions_root")?,
        withdrawals_root: root(v, "withdrawals_root")?,
        blob_gas_used: uint(v, "blob_gas_used")?,
        excess_blob_gas: uint(v, "excess_blob_gas")?,
    })
}

fn header(v: &Value) -> Result<LightClientHeader> {
    let execution_branch = branch(v, "execution_branch")?;
    Ok(LightClientHeader {
        beacon: beacon_header(field(v, "beacon")?)?,
        execution: execution_header(field(v, "execution")?)?,
        execution_branch: FixedVector::new(execution_branch)
            .map_err(|e| bad("execution_branch", format!("{e:?}")))?,
    })
}

fn pubkey_of(s: &str) -> Result<BlsPublicKey> {
    let b = bytes_of(s, "pubkey")?;
    FixedVector::new(b).map_err(|e| bad("pubkey", format!("{e:?}")))
}

fn committee(v: &Value) -> Result<SyncCommittee> {
    let keys = field(v, "pubkeys")?
        .as_array()
        .ok_or_else(|| bad("pubkeys", "not an array"))?
        .iter()
        .map(|k| {
            pubkey_of(
                k.as_str()
                    .ok_or_else(|| bad("pubkeys", "item not a string"))?,
            )
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(SyncCommittee {
        pubkeys: FixedVector::new(keys).map_err(|e| bad("pubkeys", format!("{e:?}")))?,
        aggregate_pubkey: pubkey_of(text(v, "aggregate_pubkey")?)?,
    })
}

fn aggregate(v: &Value) -> Result<SyncAggregate> {
    let bits = bytes(v, "sync_committee_bits")?;
    Ok(SyncAggregate {
        sync_committee_bits: BitVector::from_ssz_bytes(&bits)
            .map_err(|e| bad("sync_committee_bits", format!("{e:?}")))?,
        sync_committee_signature: FixedVector::new(bytes(v, "sync_committee_signature")?)
            .map_err(|e| bad("sync_committee_signature", format!("{e:?}")))?,
    })
}

/// The fork an envelope's `version` names, which must be the fork of `slot`.
fn fork_of_envelope(spec: &ChainSpec, envelope: &Value, slot: u64) -> Result<Fork> {
    let version = text(envelope, "version")?;
    let actual = spec.fork_at_slot(slot);
    if actual == Fork::PreDeneb {
        return Err(LightClientError::UnsupportedFork { slot });
    }
    let sent = [Fork::Deneb, Fork::Electra, Fork::Fulu]
        .into_iter()
        .find(|f| f.name().eq_ignore_ascii_case(version))
        .ok_or_else(|| bad("version", format!("unknown fork `{version}`")))?;
    if sent != actual {
        return Err(LightClientError::WrongFork { sent, actual, slot });
    }
    Ok(sent)
}

/// A bootstrap from its JSON envelope.
pub fn bootstrap_from_json(spec: &ChainSpec, envelope: &Value) -> Result<Bootstrap> {
    let data = field(envelope, "data")?;
    let header = header(field(data, "header")?)?;
    fork_of_envelope(spec, envelope, header.beacon.slot)?;
    Ok(Bootstrap {
        header,
        current_sync_committee: committee(field(data, "current_sync_committee")?)?,
        current_sync_committee_branch: branch(data, "current_sync_committee_branch")?,
    })
}

/// An update of `kind` from its JSON envelope.
pub fn update_from_json(spec: &ChainSpec, kind: UpdateKind, envelope: &Value) -> Result<Update> {
    let data = field(envelope, "data")?;
    let attested_header = header(field(data, "attested_header")?)?;
    fork_of_envelope(spec, envelope, attested_header.beacon.slot)?;
    let (next_sync_committee, next_sync_committee_branch) = match kind {
        UpdateKind::Full => (
            committee(field(data, "next_sync_committee")?)?,
            branch(data, "next_sync_committee_branch")?,
        ),
        _ => (SyncCommittee::default(), Vec::new()),
    };
    let (finalized_header, finality_branch) = match kind {
        UpdateKind::Optimistic => (LightClientHeader::default(), Vec::new()),
        _ => (
            header(field(data, "finalized_header")?)?,
            branch(data, "finality_branch")?,
        ),
    };
    Ok(Update {
        attested_header,
        next_sync_committee,
        next_sync_committee_branch,
        finalized_header,
        finality_branch,
        sync_aggregate: aggregate(field(data, "sync_aggregate")?)?,
        signature_slot: uint(data, "signature_slot")?,
    })
}

/// The updates of a `/eth/v1/beacon/light_client/updates` answer: a JSON array of envelopes
/// (some servers wrap it as `{"updates": […]}` or `{"data": […]}`; both are accepted).
pub fn updates_from_json(spec: &ChainSpec, answer: &Value) -> Result<Vec<Update>> {
    let list = answer
        .as_array()
        .or_else(|| answer.get("updates").and_then(Value::as_array))
        .or_else(|| answer.get("data").and_then(Value::as_array))
        .ok_or_else(|| bad("light client updates", "not an array"))?;
    list.iter()
        .map(|envelope| update_from_json(spec, UpdateKind::Full, envelope))
        .collect()
}

fn hex0x(b: &[u8]) -> Value {
    Value::String(hex::encode_prefixed(b))
}

fn branch_json(b: &[B256]) -> Value {
    Value::Array(b.iter().map(|r| hex0x(r.as_slice())).collect())
}

fn header_json(h: &LightClientHeader) -> Value {
    let (b, e) = (&h.beacon, &h.execution);
    json!({
        "beacon": {
            "slot": b.slot.to_string(),
            "proposer_index": b.proposer_index.to_string(),
            "parent_root": hex0x(b.parent_root.as_slice()),
            "state_root": hex0x(b.state_root.as_slice()),
            "body_root": hex0x(b.body_root.as_slice()),
        },
        "execution": {
            "parent_hash": hex0x(e.parent_hash.as_slice()),
            "fee_recipient": hex0x(e.fee_recipient.as_slice()),
            "state_root": hex0x(e.state_root.as_slice()),
            "receipts_root": hex0x(e.receipts_root.as_slice()),
            "logs_bloom": hex0x(&e.logs_bloom),
            "prev_randao": hex0x(e.prev_randao.as_slice()),
            "block_number": e.block_number.to_string(),
            "gas_limit": e.gas_limit.to_string(),
            "gas_used": e.gas_used.to_string(),
            "timestamp": e.timestamp.to_string(),
            "extra_data": hex0x(&e.extra_data),
            "base_fee_per_gas": e.base_fee_per_gas.to_string(),
            "block_hash": hex0x(e.block_hash.as_slice()),
            "transactions_root": hex0x(e.transactions_root.as_slice()),
            "withdrawals_root": hex0x(e.withdrawals_root.as_slice()),
            "blob_gas_used": e.blob_gas_used.to_string(),
            "excess_blob_gas": e.excess_blob_gas.to_string(),
        },
        "execution_branch": branch_json(&h.execution_branch),
    })
}

fn committee_json(c: &SyncCommittee) -> Value {
    json!({
        "pubkeys": c.pubkeys.iter().map(|k| hex0x(k)).collect::<Vec<_>>(),
        "aggregate_pubkey": hex0x(&c.aggregate_pubkey),
    })
}

/// A bootstrap as the beacon API's JSON envelope.
pub fn bootstrap_to_json(spec: &ChainSpec, b: &Bootstrap) -> Value {
    json!({
        "version": spec.fork_at_slot(b.header.beacon.slot).name(),
        "data": {
            "header": header_json(&b.header),
            "current_sync_committee": committee_json(&b.current_sync_committee),
            "current_sync_committee_branch": branch_json(&b.current_sync_committee_branch),
        }
    })
}

/// An update of `kind` as the beacon API's JSON envelope.
pub fn update_to_json(spec: &ChainSpec, kind: UpdateKind, u: &Update) -> Value {
    let mut data = Map::new();
    data.insert("attested_header".into(), header_json(&u.attested_header));
    if kind == UpdateKind::Full {
        data.insert(
            "next_sync_committee".into(),
            committee_json(&u.next_sync_committee),
        );
        data.insert(
            "next_sync_committee_branch".into(),
            branch_json(&u.next_sync_committee_branch),
        );
    }
    if kind != UpdateKind::Optimistic {
        data.insert("finalized_header".into(), header_json(&u.finalized_header));
        data.insert("finality_branch".into(), branch_json(&u.finality_branch));
    }
    data.insert(
        "sync_aggregate".into(),
        json!({
            "sync_committee_bits": hex0x(&u.sync_aggregate.sync_committee_bits.as_ssz_bytes()),
            "sync_committee_signature": hex0x(&u.sync_aggregate.sync_committee_signature),
        }),
    );
    data.insert("signature_slot".into(), u.signature_slot.to_string().into());
    json!({
        "version": spec.fork_at_slot(u.attested_header.beacon.slot).name(),
        "data": data,
    })
}
