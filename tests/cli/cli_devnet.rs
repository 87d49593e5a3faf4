//! The main job, end to end: the real `portal-state devnet` binary on the embedded mainnet
//! genesis, read back over its JSON-RPC endpoint and checked against the genesis file.

use crate::support::cli;

use alloy_primitives::{Address, U256};
use cli::*;
use portal_state::proof::GenesisAlloc;
use rand::seq::SliceRandom;
use serde_json::{json, Value};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_portal-state");

fn hex_u256(v: &Value) -> U256 {
    let s = v.as_str().unwrap_or_else(|| panic!("not a string: {v}"));
    let digits = s
        .strip_prefix("0x")
        .unwrap_or_else(|| panic!("not 0x-hex: {s}"));
    assert!(
        digits == "0" || !digits.starts_with('0'),
        "quantity with leading zeros: {s}"
    );
    U256::from_str_radix(digits, 16).unwrap()
}

#[test]
fn devnet_serves_the_mainnet_genesis_over_json_rpc() {
    let (mut devnet, addr) = Process::devnet(
        BIN,
        &["--nodes", "8", "--exit-after", "900"],
        Duration::from_secs(600),
    );
    // The state root it built is mainnet's.
    assert!(devnet.seen.iter().any(|l| l.contains(
        "state root 0xd7f8974fb5ac78d9ac099b9ad5018bedc2ce0a72dad1827a1709da30580f0544"
    )));
    let mut rpc = Rpc::connect(addr);

    assert_eq!(rpc.call("eth_chainId", json!([])), "0x1");
    assert_eq!(rpc.call("eth_blockNumber", json!([])), "0x0");
    let block = rpc.call("eth_getBlockByNumber", json!(["0x0", false]));
    assert_eq!(
        block["hash"],
        "0xd4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3"
    );
    assert_eq!(
        block["stateRoot"],
        "0xd7f8974fb5ac78d9ac099b9ad5018bedc2ce0a72dad1827a1709da30580f0544"
    );
    assert_eq!(block["number"], "0x0");
    assert_eq!(block["transactions"], json!([]));
    assert_eq!(
        rpc.call("eth_getBlockByNumber", json!(["latest", false]))["hash"],
        block["hash"]
    );
    assert_eq!(
        rpc.call("eth_getBlockByNumber", json!(["earliest", true]))["hash"],
        block["hash"]
    );
    let by_hash = rpc.call("eth_getBlockByHash", json!([block["hash"], false]));
    assert_eq!(by_hash["stateRoot"], block["stateRoot"]);
    // A block this node does not trust is null, as the standard says.
    assert_eq!(
        rpc.call("eth_getBlockByNumber", json!(["0x1", false])),
        Value::Null
    );

    // 200 random genesis accounts match the genesis file exactly, at "latest" and at block 0
    // named three ways.
    let alloc = GenesisAlloc::from_json(
        &std::fs::read_to_string(repo_file("data/genesis/mainnet.json")).unwrap(),
    )
    .unwrap();
    let accounts: Vec<(Address, U256, u64)> = alloc
        .iter()
        .map(|(a, g)| (*a, g.balance, g.nonce))
        .collect();
    let genesis_hash = block["hash"].clone();
    let blocks = [
        json!("latest"),
        json!("0x0"),
        json!("earliest"),
        json!({"blockNumber": "0x0"}),
        json!({"blockHash": genesis_hash, "requireCanonical": true}),
    ];
    for (i, (address, balance, nonce)) in accounts
        .choose_multiple(&mut rand::thread_rng(), 200)
        .enumerate()
    {
        let address = address.to_string();
        let at = &blocks[i % blocks.len()];
        let got = hex_u256(&rpc.call("eth_getBalance", json!([address, at])));
        assert_eq!(got, *balance, "balance of {address} at {at}");
        let got = hex_u256(&rpc.call("eth_getTransactionCount", json!([address, "latest"])));
        assert_eq!(got, U256::from(*nonce), "nonce of {address}");
        let got = hex_u256(&rpc.call("eth_getTransactionCount", json!([address, "0x0"])));
        assert_eq!(got, U256::from(*nonce), "nonce of {address} at 0x0");
    }

    // An address that is not in the genesis: balance 0, proven by the neighbours' witnesses.
    let mut nobody = Address::repeat_byte(0x77);
    while alloc.get(&nobody).is_some() {
        nobody = Address::random();
    }
    assert_eq!(
        rpc.call("eth_getBalance", json!([nobody.to_string(), "latest"])),
        "0x0"
    );
    assert_eq!(
        rpc.call(
            "eth_getTransactionCount",
            json!([nobody.to_string(), "latest"])
        ),
        "0x0"
    );
    assert_eq!(
        rpc.call("eth_getCode", json!([nobody.to_string(), "latest"])),
        "0x"
    );

    // Storage and code of an account without either.
    let (someone, _, _) = accounts[0];
    assert_eq!(
        rpc.call(
            "eth_getStorageAt",
            json!([someone.to_string(), "0x0", "latest"])
        ),
        format!("0x{}", "0".repeat(64))
    );
    assert_eq!(
        rpc.call("eth_getCode", json!([someone.to_string(), "0x0"])),
        "0x"
    );

    // Bad params are -32602 with a message naming what is wrong.
    let (code, message) = rpc.call_err("eth_getBalance", json!(["0x1234", "latest"]));
    assert_eq!(code, -32602);
    assert!(message.contains("address"), "{message}");
    let (code, message) = rpc.call_err("eth_getBalance", json!([someone.to_string(), "0x01"]));
    assert_eq!(code, -32602);
    assert!(message.contains("leading zero"), "{message}");
    let (code, _) = rpc.call_err("eth_getBalance", json!([someone.to_string(), "yesterday"]));
    assert_eq!(code, -32602);
    let (code, _) = rpc.call_err(
        "eth_getStorageAt",
        json!([someone.to_string(), "slot", "latest"]),
    );
    assert_eq!(code, -32602);
    let (code, _) = rpc.call_err("eth_getBalance", json!([]));
    assert_eq!(code, -32602);
    let (code, _) = rpc.call_err("eth_getCode", json!([someone.to_string(), "latest", 1]));
    assert_eq!(code, -32602);
    // A block it does not trust: a server error naming the block, never a made-up value.
    let (code, message) = rpc.call_err("eth_getBalance", json!([someone.to_string(), "0x10"]));
    assert_eq!(code, -32001);
    assert!(message.contains("16"), "{message}");
    // eth_call and eth_estimateGas are served (a call to an account without code returns
    // nothing; a plain transfer costs 21,000), and need their transaction object.
    for method in ["eth_call", "eth_estimateGas"] {
        assert_eq!(rpc.call_err(method, json!([])).0, -32602, "{method}");
    }
    let transfer = json!({"to": someone.to_string(), "value": "0x1"});
    assert_eq!(
        rpc.call("eth_call", json!([transfer, "latest"])),
        json!("0x")
    );
    assert_eq!(
        rpc.call("eth_estimateGas", json!([transfer])),
        json!("0x5208")
    );
    // The wallet's methods on a pre-London genesis: no base fee, so the gas price is the
    // suggested tip alone and the fee history's base fees are zero; a proof of the account;
    // sending without --tx-relay names the option.
    assert_eq!(rpc.call("eth_gasPrice", json!([])), "0x3b9aca00");
    assert_eq!(
        rpc.call("eth_maxPriorityFeePerGas", json!([])),
        "0x3b9aca00"
    );
    let history = rpc.call("eth_feeHistory", json!(["0x4", "latest", [50]]));
    assert_eq!(history["oldestBlock"], "0x0");
    assert_eq!(history["baseFeePerGas"], json!(["0x0", "0x0"]));
    assert!(history.get("reward").is_none(), "no invented tips");
    let proof = rpc.call("eth_getProof", json!([someone.to_string(), ["0x0"], "0x0"]));
    assert_eq!(
        proof["balance"],
        rpc.call("eth_getBalance", json!([someone.to_string(), "0x0"]))
    );
    assert!(!proof["accountProof"].as_array().unwrap().is_empty());
    assert_eq!(proof["storageProof"][0]["value"], "0x0");
    let (code, message) = rpc.call_err("eth_sendRawTransaction", json!(["0x02"]));
    assert_eq!(code, -32004);
    assert!(message.contains("--tx-relay"), "{message}");
    // The small standard methods: the genesis has no transactions and no uncles (its header
    // says so); transactions and receipts are never known here.
    assert_eq!(rpc.call("eth_syncing", json!([])), json!(false));
    assert_eq!(rpc.call("net_version", json!([])), "1");
    assert_eq!(
        rpc.call("eth_getBlockTransactionCountByNumber", json!(["0x0"])),
        "0x0"
    );
    assert_eq!(
        rpc.call("eth_getUncleCountByBlockHash", json!([genesis_hash])),
        "0x0"
    );
    assert_eq!(
        rpc.call("eth_getBlockTransactionCountByNumber", json!(["0x5"])),
        Value::Null
    );
    let hash = format!("0x{}", "ab".repeat(32));
    assert_eq!(
        rpc.call("eth_getTransactionReceipt", json!([hash])),
        Value::Null
    );
    // Methods not served.
    assert_eq!(rpc.call_err("nonsense", json!([])).0, -32601);

    // Not JSON; not JSON-RPC; a batch with a notification in it.
    let (_, body) = rpc.post_raw(b"{\"jsonrpc\": \"2.0\", ");
    let answer: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer["error"]["code"], -32700);
    assert_eq!(answer["id"], Value::Null);
    let answer = rpc.send(&json!({"jsonrpc": "1.0", "id": 9, "method": "eth_chainId"}));
    assert_eq!(answer["error"]["code"], -32600);
    assert_eq!(rpc.send(&json!([]))["error"]["code"], -32600);
    let answer = rpc.send(&json!([
        {"jsonrpc": "2.0", "id": "a", "method": "eth_chainId"},
        {"jsonrpc": "2.0", "method": "eth_chainId"},
        {"jsonrpc": "2.0", "id": "b", "method": "eth_getBalance", "params": [nobody.to_string(), "latest"]},
        {"jsonrpc": "2.0", "id": "c", "method": "eth_nope"},
        42,
    ]));
    let answers = answer.as_array().unwrap();
    assert_eq!(answers.len(), 4, "{answer}");
    let by_id = |id: &str| answers.iter().find(|a| a["id"] == id).unwrap().clone();
    assert_eq!(by_id("a")["result"], "0x1");
    assert_eq!(by_id("b")["result"], "0x0");
    assert_eq!(by_id("c")["error"]["code"], -32601);
    assert!(answers
        .iter()
        .any(|a| a["error"]["code"] == -32600 && a["id"].is_null()));

    // Still up after all that (the same kept-alive connection), and the spot checks passed.
    assert_eq!(rpc.call("eth_chainId", json!([])), "0x1");
    devnet.wait_for_line("devnet up", Duration::from_secs(120));
    assert!(!devnet.seen.iter().any(|l| l.contains("MISMATCH")));
}

#[test]
fn a_busy_rpc_port_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let output = std::process::Command::new(BIN)
        .args([
            "devnet",
            "--chain",
            "sepolia",
            "--nodes",
            "2",
            "--rpc-port",
            &port,
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("already in use"), "{stderr}");
    assert!(stderr.contains(&port), "{stderr}");
}

#[test]
fn every_subcommand_has_help() {
    for args in [
        vec!["--help"],
        vec!["devnet", "--help"],
        vec!["node", "--help"],
        vec!["bridge", "--help"],
        vec!["query", "--help"],
        vec!["query", "account", "--help"],
        vec!["query", "storage", "--help"],
        vec!["query", "code", "--help"],
    ] {
        let output = std::process::Command::new(BIN)
            .args(&args)
            .output()
            .unwrap();
        assert!(output.status.success(), "{args:?}");
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(help.contains("Usage:"), "{args:?}: {help}");
    }
    let devnet = std::process::Command::new(BIN)
        .args(["devnet", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&devnet.stdout);
    for flag in [
        "--nodes",
        "--chain",
        "--genesis",
        "--proofs",
        "--el-rpc",
        "--rpc-port",
        "--exit-after",
    ] {
        assert!(help.contains(flag), "devnet --help lacks {flag}");
    }
    let node = std::process::Command::new(BIN)
        .args(["node", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&node.stdout);
    for flag in [
        "--data-dir",
        "--listen",
        "--external",
        "--bootnode",
        "--chain-id",
        "--capacity-mib",
        "--trusted-header",
        "--el-rpc",
        "--rpc-port",
    ] {
        assert!(help.contains(flag), "node --help lacks {flag}");
    }
}
