//! The devnet following a real execution client: `portal-state devnet --el-rpc` against anvil.
//! After each block (ether transfers, a contract deployed with storage), balances, nonces,
//! code and storage read through our light node's JSON-RPC equal anvil's own answers for the
//! same block.
//!
//! anvil and cast come from the npm packages `@foundry-rs/anvil-linux-amd64` and
//! `@foundry-rs/cast-linux-amd64`, installed by `scripts/install-test-deps.sh`; their paths are
//! read from `PORTAL_STATE_ANVIL` and `PORTAL_STATE_CAST`. Without them this test fails.

use crate::support::anvil::{cast, Anvil};
use crate::support::cli;

use cli::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_portal-state");
/// anvil's first dev account (unlocked).
const FROM: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
/// Init code: store 42 in slot 0, deploy a runtime that returns slot 0.
const INIT_CODE: &str = "0x602a600055600b6011600039600b6000f360005460005260206000f3";
const RUNTIME_CODE: &str = "0x60005460005260206000f3";

/// Call anvil over our own client (one connection per call: anvil is not under test).
fn anvil_call(addr: std::net::SocketAddr, method: &str, params: Value) -> Value {
    Rpc::connect(addr).call(method, params)
}

#[test]
fn devnet_following_anvil_answers_as_anvil_does() {
    let anvil = Anvil::start(&[]);
    let el_addr = anvil.addr;
    let el = anvil.url.clone();
    // A block before the devnet starts: it begins at the head.
    cast(
        &el,
        &[
            "send",
            "--unlocked",
            "--from",
            FROM,
            "0x000000000000000000000000000000000000dEaD",
            "--value",
            "1ether",
        ],
    );

    let (_devnet, addr) = Process::devnet(
        BIN,
        &["--el-rpc", &el, "--nodes", "4", "--exit-after", "600"],
        Duration::from_secs(120),
    );
    let mut rpc = Rpc::connect(addr);
    assert_eq!(rpc.call("eth_chainId", json!([])), "0x7a69");

    let recipients = [
        "0x000000000000000000000000000000000000dEaD",
        "0x1111111111111111111111111111111111111111",
        "0x2222222222222222222222222222222222222222",
    ];
    let mut contract = None;
    for round in 0..4 {
        // One block per transaction (anvil automines): a transfer, and once a deployment.
        let to = recipients[round % recipients.len()];
        cast(
            &el,
            &[
                "send",
                "--unlocked",
                "--from",
                FROM,
                to,
                "--value",
                "1ether",
            ],
        );
        let mut touched = vec![FROM.to_string(), to.to_string()];
        if round == 1 {
            let receipt: Value = serde_json::from_str(&cast(
                &el,
                &[
                    "send",
                    "--unlocked",
                    "--from",
                    FROM,
                    "--json",
                    "--create",
                    INIT_CODE,
                ],
            ))
            .unwrap();
            contract = Some(receipt["contractAddress"].as_str().unwrap().to_string());
        }
        let head = anvil_call(el_addr, "eth_blockNumber", json!([]));
        // Our node trusts the block once the follower has pushed it.
        let deadline = Instant::now() + Duration::from_secs(60);
        while rpc.call("eth_blockNumber", json!([])) != head {
            assert!(
                Instant::now() < deadline,
                "the devnet did not reach block {head}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let ours = rpc.call("eth_getBlockByNumber", json!([head, false]));
        let theirs = anvil_call(el_addr, "eth_getBlockByNumber", json!([head, false]));
        for field in [
            "hash",
            "stateRoot",
            "parentHash",
            "timestamp",
            "baseFeePerGas",
            "gasUsed",
        ] {
            assert_eq!(ours[field], theirs[field], "{field} of block {head}");
        }
        if round == 1 {
            // The deployment was the newest block: its sender and the contract changed in it.
            touched = vec![FROM.to_string()];
        }
        if let Some(c) = &contract {
            if round == 1 {
                touched.push(c.clone());
            }
        }
        for address in &touched {
            for method in ["eth_getBalance", "eth_getTransactionCount", "eth_getCode"] {
                let params = json!([address, head]);
                assert_eq!(
                    rpc.call(method, params.clone()),
                    anvil_call(el_addr, method, params),
                    "{method} of {address} at block {head}"
                );
                // "latest" is the newest trusted block, which changed these accounts.
                assert_eq!(
                    rpc.call(method, json!([address, "latest"])),
                    anvil_call(el_addr, method, json!([address, head])),
                    "{method} of {address} at latest"
                );
            }
        }
        if round == 1 {
            let c = contract.as_ref().unwrap();
            assert_eq!(rpc.call("eth_getCode", json!([c, head])), RUNTIME_CODE);
            let slot = rpc.call("eth_getStorageAt", json!([c, "0x0", head]));
            assert_eq!(
                slot,
                anvil_call(el_addr, "eth_getStorageAt", json!([c, "0x0", head]))
            );
            assert_eq!(slot, format!("0x{:064x}", 42));
        }
    }
    // The contract, unchanged since its block, is still read at "latest" (falling back to the
    // block that has its proof) and through cast.
    let c = contract.unwrap();
    assert_eq!(rpc.call("eth_getCode", json!([c, "latest"])), RUNTIME_CODE);
    assert_eq!(
        cast(&format!("http://{addr}"), &["storage", &c, "0"]),
        format!("0x{:064x}", 42)
    );
}
