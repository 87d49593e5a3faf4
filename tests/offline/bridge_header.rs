//! Rebuilding block headers from their JSON-RPC form: real headers of every fork shape hash to
//! their real block hashes, and any altered field is refused.

use crate::support::vectors;

use alloy_primitives::{b256, hex, B256};
use portal_state::bridge::{BridgeError, ExecutionHeader};
use portal_state::proof::BlockHeader;
use serde_json::{json, Value};
use vectors::{genesis_networks, weth_19m};

/// Block 1 of a fresh anvil 1.7.1 (Prague: every fork field up to `requestsHash`), as its
/// `eth_getBlockByNumber` returned it.
fn anvil_prague_block() -> Value {
    json!({
        "hash": "0x38752329cf765bf2e68d3183bac3cf9a5643b8545d1d2ae6915e7bd273b88c3b",
        "parentHash": "0x853ba9fdc7fb3a96f3c6befe16333247701636bfe6608c1f5cfa8a11978b87c6",
        "sha3Uncles": "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347",
        "miner": "0x0000000000000000000000000000000000000000",
        "stateRoot": "0xbca8101289f0ef0d75158d1fa27557ef49f7d373034adaa644814d3fce9c077a",
        "transactionsRoot": "0x98f68c8350c940344442d3dfb65ef884ef736b396e43ccdb6e6971a98a07c13a",
        "receiptsRoot": "0xf78dfb743fbd92ade140711c8bbc542b5e307f0ab7984eff35d751969fe57efa",
        "logsBloom": format!("0x{}", "0".repeat(512)),
        "difficulty": "0x0",
        "number": "0x1",
        "gasLimit": "0x1c9c380",
        "gasUsed": "0x5208",
        "timestamp": "0x6b016889",
        "extraData": "0x",
        "mixHash": "0x66b5e131a578665b7fe9f2f83078c34b33f2072c386c3bc71b26856ce808988f",
        "nonce": "0x0000000000000000",
        "baseFeePerGas": "0x3b9aca00",
        "withdrawalsRoot": "0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421",
        "blobGasUsed": "0x0",
        "excessBlobGas": "0x0",
        "parentBeaconBlockRoot": "0x0000000000000000000000000000000000000000000000000000000000000000",
        "requestsHash": "0xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "totalDifficulty": "0x0",
        "size": "0x2df",
        "uncles": [],
        "transactions": ["0xbdb99384e199dcf2b0d9a19b053f4b12f8c57c4af102347bcb46468e8be8665c"],
        "withdrawals": []
    })
}

/// The JSON of a real header: decoded from its RLP and shown as `eth_getBlockByNumber` does.
fn json_of(rlp: &[u8]) -> Value {
    let header = ExecutionHeader::from_rlp(rlp).expect("decodes");
    assert_eq!(header.rlp(), rlp, "RLP -> fields -> RLP is exact");
    header.to_rpc_json()
}

fn with(block: &Value, field: &str, value: Value) -> Value {
    let mut copy = block.clone();
    copy[field] = value;
    copy
}

fn without(block: &Value, field: &str) -> Value {
    let mut copy = block.clone();
    copy.as_object_mut().unwrap().remove(field);
    copy
}

#[test]
fn mainnet_block_19m_rebuilds_to_its_hash() {
    let weth = weth_19m();
    let block = json_of(&weth.header.rlp);
    // Shanghai: base fee and withdrawals root, no blob fields.
    assert!(block.get("withdrawalsRoot").is_some());
    assert!(block.get("blobGasUsed").is_none());
    assert_eq!(block["number"], json!("0x121eac0"));
    let header = ExecutionHeader::rebuild(&block).expect("rebuilds");
    assert_eq!(
        header.hash,
        b256!("cf384012b91b081230cdf17a3f7dd370d8e67056058af6b272b3d54aa2714fac")
    );
    assert_eq!(header, weth.header);
}

#[test]
fn genesis_headers_of_every_shape_rebuild() {
    for network in genesis_networks() {
        let block = json_of(&network.header_rlp);
        let header =
            ExecutionHeader::rebuild(&block).unwrap_or_else(|e| panic!("{}: {e}", network.name));
        assert_eq!(header.hash, network.genesis_hash, "{}", network.name);
        assert_eq!(header.state_root, network.state_root, "{}", network.name);
    }
}

#[test]
fn anvil_prague_header_rebuilds_and_round_trips() {
    let block = anvil_prague_block();
    let header = ExecutionHeader::rebuild(&block).expect("rebuilds");
    assert_eq!(header.number, 1);
    let fields = ExecutionHeader::from_rlp(&header.rlp).unwrap();
    assert!(fields.requests_hash.is_some());
    // Shown again, every header field is as anvil wrote it.
    let shown = fields.to_rpc_json();
    for (name, value) in shown.as_object().unwrap() {
        assert_eq!(&block[name], value, "{name}");
    }
}

#[test]
fn any_altered_field_is_refused() {
    let weth = weth_19m();
    let mainnet = json_of(&weth.header.rlp);
    let prague = anvil_prague_block();
    let alterations: Vec<(&str, Value)> = vec![
        ("stateRoot", json!(format!("{:#x}", B256::repeat_byte(1)))),
        ("parentHash", json!(format!("{:#x}", B256::repeat_byte(2)))),
        ("gasUsed", json!("0x5209")),
        ("timestamp", json!("0x1")),
        ("extraData", json!("0x00")),
        ("miner", json!("0x0000000000000000000000000000000000000001")),
        ("baseFeePerGas", json!("0x1")),
        ("nonce", json!("0x0000000000000001")),
    ];
    for block in [&mainnet, &prague] {
        for (field, value) in &alterations {
            let altered = with(block, field, value.clone());
            let err = ExecutionHeader::rebuild(&altered).unwrap_err();
            assert!(
                matches!(err, BridgeError::HeaderHashMismatch { .. }),
                "{field}: {err}"
            );
        }
        // A claimed hash that is not the header's.
        let err =
            ExecutionHeader::rebuild(&with(block, "hash", json!(format!("{:#x}", B256::ZERO))))
                .unwrap_err();
        assert!(
            matches!(err, BridgeError::HeaderHashMismatch { .. }),
            "{err}"
        );
    }
    // Dropping the last fork field changes the RLP: refused.
    let err = ExecutionHeader::rebuild(&without(&prague, "requestsHash")).unwrap_err();
    assert!(
        matches!(err, BridgeError::HeaderHashMismatch { .. }),
        "{err}"
    );
    // A fork field without the one before it has no RLP form.
    let err = ExecutionHeader::rebuild(&without(&prague, "withdrawalsRoot")).unwrap_err();
    assert!(err.to_string().contains("withdrawalsRoot"), "{err}");
    // Missing and malformed fields are named.
    let err = ExecutionHeader::rebuild(&without(&mainnet, "stateRoot")).unwrap_err();
    assert!(err.to_string().contains("stateRoot: missing"), "{err}");
    let err = ExecutionHeader::rebuild(&with(&mainnet, "gasLimit", json!("lots"))).unwrap_err();
    assert!(err.to_string().contains("gasLimit"), "{err}");
    let err = ExecutionHeader::rebuild(&json!([1, 2])).unwrap_err();
    assert!(matches!(err, BridgeError::Json { .. }), "{err}");
}

#[test]
fn rlp_with_unknown_fork_fields_is_refused_by_the_full_decoder() {
    let weth = weth_19m();
    let mut fields = ExecutionHeader::from_rlp(&weth.header.rlp).unwrap();
    fields.blob_gas_used = Some(0);
    fields.excess_blob_gas = Some(0);
    fields.parent_beacon_block_root = Some(B256::ZERO);
    fields.requests_hash = Some(B256::ZERO);
    let mut rlp = fields.rlp();
    // Append one more field and fix the list length.
    let mut payload = rlp.split_off(
        alloy_rlp::Header::decode(&mut &rlp[..])
            .map(|h| rlp.len() - h.payload_length)
            .unwrap(),
    );
    payload.push(0x80);
    let mut extended = Vec::new();
    alloy_rlp::Header {
        list: true,
        payload_length: payload.len(),
    }
    .encode(&mut extended);
    extended.extend(payload);
    assert!(
        BlockHeader::decode(&extended).is_ok(),
        "the network's decoder skips it"
    );
    let err = ExecutionHeader::from_rlp(&extended).unwrap_err();
    assert!(err.to_string().contains("after requestsHash"), "{err}");
    assert!(ExecutionHeader::from_rlp(&hex!("c0")).is_err());
}
