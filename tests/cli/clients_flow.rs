//! A wallet's whole flow through two standard client libraries, web3.py and viem, against the
//! devnet following anvil: connect, read, estimate, fees, access list, `eth_getProof` (checked
//! in the scripts against the block's state root), then a transfer built and signed in the
//! script, sent through our node (which checks it against verified state and relays it to
//! anvil), mined, and its new balances read back through our node.
//!
//! The scripts are `tests/clients/web3py_flow.py` and `tests/clients/viem_flow.cjs`; web3.py
//! and viem are installed, pinned, into `.test-deps/` by `scripts/install-test-deps.sh`, whose
//! `PORTAL_STATE_PYTHONPATH` and `PORTAL_STATE_NODE_PATH` say where (with `PORTAL_STATE_ANVIL`
//! and `PORTAL_STATE_CAST`). Without them this test fails, never skips.
//!
//! Before each script a contract is deployed (slot 0 = 42), so the newest block has changed
//! both the sender and the contract: the devnet following anvil proves only what a block
//! changed, so those are the accounts it can answer for at `latest` (a known limitation).

use crate::support::anvil::{self, cast, Anvil};
use crate::support::cli;
use crate::support::tool;

use cli::*;
use serde_json::json;
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_portal-state");
/// anvil's first dev account and its well-known key.
const SENDER: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
const SENDER_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
/// Init code: store 42 in slot 0, deploy a runtime that returns slot 0.
const INIT_CODE: &str = "0x602a600055600b6011600039600b6000f360005460005260206000f3";

/// Deploy the contract from the sender; its address once our node trusts the block.
fn deploy_and_wait(el: &str, el_addr: std::net::SocketAddr, rpc: &mut Rpc) -> String {
    let contract = anvil::deploy(el, SENDER, INIT_CODE);
    let head = Rpc::connect(el_addr).call("eth_blockNumber", json!([]));
    rpc.wait_for_block(&head);
    contract
}

/// Run a flow script; panics with its output unless it exits 0 and says so.
fn run_flow(mut command: Command, name: &str, ok_line: &str) {
    let started = Instant::now();
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {name}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success() && stdout.contains(ok_line),
        "{name} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    println!(
        "RESULT {name} flow passed in {} ms",
        started.elapsed().as_millis()
    );
}

#[test]
fn web3py_and_viem_run_a_wallets_flow_through_our_node() {
    let python_path = tool("PORTAL_STATE_PYTHONPATH");
    let node_path = tool("PORTAL_STATE_NODE_PATH");
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
            SENDER,
            "0x000000000000000000000000000000000000dEaD",
            "--value",
            "1ether",
        ],
    );
    let (_devnet, addr) = Process::devnet(
        BIN,
        &[
            "--el-rpc",
            &el,
            "--tx-relay",
            &el,
            "--nodes",
            "4",
            "--exit-after",
            "600",
        ],
        Duration::from_secs(120),
    );
    let rpc_url = format!("http://{addr}");
    let mut rpc = Rpc::connect(addr);

    let setup = |command: &mut Command, contract: &str| {
        command
            .env("PORTAL_STATE_RPC", &rpc_url)
            .env("PORTAL_STATE_EL_RPC", &el)
            .env("PORTAL_STATE_CONTRACT", contract)
            .env("PORTAL_STATE_KEY", SENDER_KEY);
    };

    let contract = deploy_and_wait(&el, el_addr, &mut rpc);
    let mut python = Command::new("python3");
    python
        .arg(repo_file("tests/clients/web3py_flow.py"))
        .env("PYTHONPATH", &python_path);
    setup(&mut python, &contract);
    run_flow(python, "web3.py", "web3.py flow: ok");

    let contract = deploy_and_wait(&el, el_addr, &mut rpc);
    let mut node = Command::new("node");
    node.arg(repo_file("tests/clients/viem_flow.cjs"))
        .env("NODE_PATH", &node_path);
    setup(&mut node, &contract);
    run_flow(node, "viem", "viem flow: ok");
}
