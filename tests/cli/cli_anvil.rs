//! The devnet following a real execution client: `portal-state devnet --el-rpc` against anvil.
//! After each block (ether transfers, a contract deployed with storage), balances, nonces,
//! code and storage read through our light node's JSON-RPC equal anvil's own answers for the
//! same block.
//!
//! anvil and cast come from the npm packages `@foundry-rs/anvil-linux-amd64` and
//! `@foundry-rs/cast-linux-amd64`, installed by `scripts/install-test-deps.sh`; their paths are
//! read from `PORTAL_STATE_ANVIL` and `PORTAL_STATE_CAST`. Without them this test fails.

use crate::support::anvil::{cast, deploy, Anvil};
use crate::support::cli;

use cli::*;
use serde_json::{json, Value};
use std::time::Duration;

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
            contract = Some(deploy(&el, FROM, INIT_CODE));
        }
        let head = anvil_call(el_addr, "eth_blockNumber", json!([]));
        // Our node trusts the block once the follower has pushed it.
        rpc.wait_for_block(&head);
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

/// Every account anvil has, with the balance and nonce, and the contract's code and slot, equal
/// anvil's through our JSON-RPC at `block` (a tag or a number).
fn assert_same_state(
    ours: &mut Rpc,
    anvil: std::net::SocketAddr,
    accounts: &[String],
    contract: &str,
    block: &str,
) {
    for account in accounts {
        for method in ["eth_getBalance", "eth_getTransactionCount", "eth_getCode"] {
            let params = json!([account, block]);
            assert_eq!(
                ours.call(method, params.clone()),
                anvil_call(anvil, method, params),
                "{method} {account} at {block}"
            );
        }
    }
    let slot = json!([contract, "0x0", block]);
    assert_eq!(
        ours.call("eth_getStorageAt", slot.clone()),
        anvil_call(anvil, "eth_getStorageAt", slot),
        "slot 0 of {contract} at {block}"
    );
    let code = json!([contract, block]);
    assert_eq!(
        ours.call("eth_getCode", code.clone()),
        anvil_call(anvil, "eth_getCode", code)
    );
}

/// The state that was there before the devnet started is in the network: an idle anvil (no
/// block mined after the devnet starts) is served at its head at once — every funded dev
/// account, the contract deployed before, its storage — and still after the next block.
#[test]
fn devnet_serves_anvils_whole_state_at_its_head_at_once() {
    let anvil = Anvil::start(&[]);
    let el = anvil.url.clone();
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
    let contract = deploy(&el, FROM, INIT_CODE);
    let head = anvil_call(anvil.addr, "eth_blockNumber", json!([]));
    let mut accounts: Vec<String> = anvil_call(anvil.addr, "eth_accounts", json!([]))
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    assert_eq!(accounts.len(), 10, "anvil's funded dev accounts");
    accounts.push("0x000000000000000000000000000000000000dEaD".into());
    accounts.push(contract.clone());

    let (_devnet, addr) = Process::devnet(
        BIN,
        &["--el-rpc", &el, "--nodes", "4", "--exit-after", "600"],
        Duration::from_secs(120),
    );
    let mut ours = Rpc::connect(addr);
    // Served at anvil's head with no block mined since.
    assert_eq!(ours.call("eth_blockNumber", json!([])), head);
    assert_same_state(&mut ours, anvil.addr, &accounts, &contract, "latest");
    assert_same_state(
        &mut ours,
        anvil.addr,
        &accounts,
        &contract,
        head.as_str().unwrap(),
    );

    // One more block: what it changed and what it did not, at `latest`.
    cast(
        &el,
        &[
            "send",
            "--unlocked",
            "--from",
            FROM,
            &accounts[3],
            "--value",
            "2ether",
        ],
    );
    let next = anvil_call(anvil.addr, "eth_blockNumber", json!([]));
    ours.wait_for_block(&next);
    // The balances (accounts the block did not touch are answered at the block of the
    // whole-state load, and say so).
    for account in &accounts {
        let params = json!([account, "latest"]);
        assert_eq!(
            ours.call("eth_getBalance", params.clone()),
            anvil_call(anvil.addr, "eth_getBalance", params),
            "balance of {account} after the next block"
        );
    }
}
