//! The load generator (`portal-state load`) against a real anvil: every kind of change it
//! plans lands on the chain — fresh accounts, storage written, contracts created and, before
//! Cancun, deleted by self-destruct (the account-trie deletes and branch collapses; slots are
//! not cleared on anvil, which keeps them in its trie) — so the tests and benchmarks that follow a
//! devnet under this load do see inserts, deletes and branch collapses at the head.

use crate::support::anvil::Anvil;
use crate::support::cli::Rpc;
use serde_json::{json, Value};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_portal-state");

fn load(url: &str, args: &[&str], report: &std::path::Path) -> Value {
    let output = Command::new(BIN)
        .args(["load", "--el-rpc", url, "--report"])
        .arg(report)
        .args(args)
        .output()
        .expect("portal-state load runs");
    assert!(
        output.status.success(),
        "load failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&std::fs::read(report).unwrap()).unwrap()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn load_lands_every_kind_of_change_on_anvil() {
    // Shanghai: SELFDESTRUCT still deletes an account (EIP-6780 came with Cancun).
    let anvil = Anvil::start(&["--no-mining", "--hardfork", "shanghai"]);
    let dir = tempfile::tempdir().unwrap();
    let report = load(
        &anvil.url,
        &[
            "--mine",
            "--blocks",
            "8",
            "--txs-per-block",
            "24",
            "--accounts",
            "16",
            "--seed",
            "5",
        ],
        &dir.path().join("load.json"),
    );
    let mut rpc = Rpc::connect(anvil.addr);
    let blocks = report["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), 9, "setup block + 8");
    // One block per batch, in order, nothing refused.
    for (i, b) in blocks.iter().enumerate() {
        assert_eq!(b["number"], json!(i as u64 + 1));
        assert_eq!(b["refused"], json!(0));
    }
    let totals = &report["totals"];
    for kind in [
        "Transfer",
        "TransferToNew",
        "StorageWrite",
        "Create",
        "SelfDestruct",
    ] {
        assert!(
            totals[kind].as_u64().unwrap_or(0) > 0,
            "no {kind}: {totals}"
        );
    }
    // anvil keeps cleared slots in its trie (a leaf of value zero), so against anvil the load
    // clears none.
    assert_eq!(
        totals
            .get("SlotsCleared")
            .and_then(Value::as_u64)
            .unwrap_or(0),
        0
    );
    // Every written slot holds the last value the plan wrote to it.
    let slots = report["slots"].as_array().unwrap();
    for entry in slots {
        let (contract, slot, value) = (&entry[0], &entry[1], entry[2].as_str().unwrap());
        let got = rpc.call("eth_getStorageAt", json!([contract, slot, "latest"]));
        let got = alloy_primitives::U256::from_str_radix(
            got.as_str().unwrap().trim_start_matches("0x"),
            16,
        )
        .unwrap();
        let want =
            alloy_primitives::U256::from_str_radix(value.trim_start_matches("0x"), 16).unwrap();
        assert_eq!(got, want, "slot {slot} of {contract}");
        assert!(!want.is_zero());
    }
    // Destroyed contracts are gone from the state: no code, no balance, no nonce.
    let destroyed = strings(&report["destroyed"]);
    assert!(!destroyed.is_empty());
    for address in &destroyed {
        assert_eq!(
            rpc.call("eth_getCode", json!([address, "latest"])),
            json!("0x"),
            "{address}"
        );
        assert_eq!(
            rpc.call("eth_getBalance", json!([address, "latest"])),
            json!("0x0")
        );
        assert_eq!(
            rpc.call("eth_getTransactionCount", json!([address, "latest"])),
            json!("0x0")
        );
    }
    // A deletion the state trie saw: the prestate tracer's diff of some block lists a destroyed
    // account in `pre` and not in `post`.
    let deleted_somewhere = blocks.iter().any(|b| {
        let trace = rpc.call(
            "debug_traceBlockByNumber",
            json!([format!("0x{:x}", b["number"].as_u64().unwrap()), {"tracer": "prestateTracer", "tracerConfig": {"diffMode": true}}]),
        );
        trace.as_array().unwrap().iter().any(|tx| {
            let result = &tx["result"];
            destroyed.iter().any(|a| {
                let a = a.to_lowercase();
                result["pre"].get(&a).is_some() && result["post"].get(&a).is_none()
            })
        })
    });
    assert!(
        deleted_somewhere,
        "no block's diff deletes a destroyed account"
    );
    // Fresh recipients exist now (account-trie inserts).
    let touched = strings(&report["touched"]);
    let accounts = strings(&report["accounts"]);
    let fresh: Vec<_> = touched
        .iter()
        .filter(|a| !accounts.contains(a) && !destroyed.contains(a))
        .collect();
    assert!(!fresh.is_empty());
    for address in fresh {
        let code = rpc.call("eth_getCode", json!([address, "latest"]));
        let balance = rpc.call("eth_getBalance", json!([address, "latest"]));
        assert!(
            code != json!("0x") || balance != json!("0x0"),
            "{address} never landed"
        );
    }
}
