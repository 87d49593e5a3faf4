use super::*;
use alloy_primitives::{Address, U256};

#[test]
fn a_call_objects_access_list_is_read_and_checked() {
    let weth = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2";
    let key = format!("0x{}", "0".repeat(63) + "2");
    let call = json!({"to": weth, "data": "0x313ce567",
        "accessList": [{"address": weth, "storageKeys": [key]}, {"address": weth}]});
    let request = params::parse_call_request(&call, 1).unwrap();
    let address: Address = weth.parse().unwrap();
    assert_eq!(
        request.access_list,
        vec![(address, vec![B256::with_last_byte(2)]), (address, vec![])]
    );
    assert!(params::parse_call_request(&json!({"to": weth}), 1)
        .unwrap()
        .access_list
        .is_empty());
    for bad in [
        json!({"to": weth, "accessList": {}}),
        json!({"to": weth, "accessList": [{"storageKeys": []}]}),
        json!({"to": weth, "accessList": [{"address": weth, "storageKeys": ["0x02"]}]}),
        json!({"to": weth, "accessList": [{"address": "0x12", "storageKeys": []}]}),
    ] {
        let e = params::parse_call_request(&bad, 1).unwrap_err();
        assert_eq!(e.code, INVALID_PARAMS, "{bad}");
    }
}

#[test]
fn block_parameters_follow_the_standard() {
    assert_eq!(parse_block(None).unwrap(), BlockId::Latest);
    for tag in ["latest", "safe", "finalized", "pending"] {
        assert_eq!(parse_block(Some(&json!(tag))).unwrap(), BlockId::Latest);
    }
    assert_eq!(
        parse_block(Some(&json!("earliest"))).unwrap(),
        BlockId::Number(0)
    );
    assert_eq!(
        parse_block(Some(&json!("0x0"))).unwrap(),
        BlockId::Number(0)
    );
    assert_eq!(
        parse_block(Some(&json!("0x1b4"))).unwrap(),
        BlockId::Number(436)
    );
    let hash = B256::repeat_byte(0xab);
    assert_eq!(
        parse_block(Some(&json!({"blockHash": hash.to_string()}))).unwrap(),
        BlockId::Hash(hash)
    );
    assert_eq!(
        parse_block(Some(
            &json!({"blockHash": hash.to_string(), "requireCanonical": true})
        ))
        .unwrap(),
        BlockId::Hash(hash)
    );
    assert_eq!(
        parse_block(Some(&json!({"blockNumber": "0x10"}))).unwrap(),
        BlockId::Number(16)
    );
    // The rules of `portal_state::input`: decimal numbers too, and a plain hash string.
    assert_eq!(
        parse_block(Some(&json!("12"))).unwrap(),
        BlockId::Number(12)
    );
    assert_eq!(
        parse_block(Some(&json!(hash.to_string()))).unwrap(),
        BlockId::Hash(hash)
    );
    for bad in [
        json!("0x"),
        json!("0x01"),
        json!("012"),
        json!("0xg"),
        json!("0x10000000000000000"),
        json!("newest"),
        json!(5),
        json!(null),
        json!({}),
        json!({"blockNumber": "0x1", "blockHash": hash.to_string()}),
        json!({"blockHash": "0x1234"}),
        json!({"blockHash": hash.to_string(), "requireCanonical": "yes"}),
        json!({"blockNumber": "0x1", "requireCanonical": true}),
        json!({"number": "0x1"}),
    ] {
        let e = parse_block(Some(&bad)).unwrap_err();
        assert_eq!(e.code, INVALID_PARAMS, "{bad}");
    }
}

#[test]
fn addresses_and_slots_are_checked() {
    let a = "0x000d836201318ec6899a67540690382780743280";
    assert_eq!(
        parse_address(&json!(a)).unwrap().to_string().to_lowercase(),
        a
    );
    for bad in [
        json!("000d836201318ec6899a67540690382780743280"),
        json!("0x000d836201318ec6899a6754069038278074328"),
        json!("0x000d836201318ec6899a67540690382780743280aa"),
        json!("0x000d836201318ec6899a6754069038278074328g"),
        // Mixed case with a wrong EIP-55 checksum (the JSON-RPC did not check before).
        json!("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"),
        json!(42),
    ] {
        assert_eq!(
            parse_address(&bad).unwrap_err().code,
            INVALID_PARAMS,
            "{bad}"
        );
    }
    assert_eq!(parse_slot(&json!("0x0")).unwrap(), U256::ZERO);
    assert_eq!(
        parse_slot(&json!(format!("0x{}", "0".repeat(63) + "2"))).unwrap(),
        U256::from(2)
    );
    assert!(parse_slot(&json!(format!("0x{}", "1".repeat(65)))).is_err());
    assert!(parse_slot(&json!("0x")).is_err());
    assert!(parse_slot(&json!("2")).is_err());
}

#[test]
fn quantities_are_minimal_hex() {
    assert_eq!(quantity(0), json!("0x0"));
    assert_eq!(quantity(255), json!("0xff"));
    assert_eq!(format!("{:#x}", U256::ZERO), "0x0");
    assert_eq!(format!("{:#x}", U256::from(4096)), "0x1000");
}

#[test]
fn genesis_header_as_json() {
    let header = crate::Chain::Sepolia.genesis_header().unwrap();
    let block = block_json(&header.rlp).unwrap();
    assert_eq!(block["number"], "0x0");
    assert_eq!(block["hash"], header.hash.to_string());
    assert_eq!(block["stateRoot"], header.state_root.to_string());
    assert_eq!(block["baseFeePerGas"], "0x3b9aca00");
    assert_eq!(block["gasLimit"], "0x1c9c380");
    assert_eq!(block["timestamp"], "0x6159af19");
    assert_eq!(block["transactions"], json!([]));
    assert!(block.get("withdrawalsRoot").is_none());
    let mainnet = crate::Chain::Mainnet.genesis_header().unwrap();
    let block = block_json(&mainnet.rlp).unwrap();
    assert!(block.get("baseFeePerGas").is_none());
    assert_eq!(block["nonce"], "0x0000000000000042");
    assert_eq!(block["difficulty"], "0x400000000");
}
