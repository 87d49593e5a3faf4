//! A real client that is not ours talks to our endpoint: Foundry's `cast` reads balances,
//! nonces, storage and code from a `portal-state devnet` on the Holesky genesis (whose deposit
//! contract has real code and storage) and gets the genesis file's values.
//!
//! `cast` comes from the npm package `@foundry-rs/cast-linux-amd64`, installed by
//! `scripts/install-test-deps.sh`, which `scripts/test.sh` runs; its path is read from
//! `PORTAL_STATE_CAST`. Without it this test fails (it never skips).

use crate::support::cli;

use alloy_primitives::{address, hex, B256, U256};
use cli::*;
use portal_state::proof::GenesisAlloc;
use std::process::Command;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_portal-state");

fn cast_binary() -> String {
    let path = std::env::var("PORTAL_STATE_CAST").unwrap_or_else(|_| {
        panic!(
            "PORTAL_STATE_CAST is not set: run `eval \"$(./scripts/install-test-deps.sh)\"; \
             export PORTAL_STATE_CAST` (scripts/test.sh does this) to install Foundry's cast"
        )
    });
    assert!(
        std::path::Path::new(&path).is_file(),
        "PORTAL_STATE_CAST={path} is not a file: run ./scripts/install-test-deps.sh"
    );
    path
}

/// Run `cast` with `args`; its trimmed stdout, or its stderr as the error.
fn cast(cast: &str, args: &[&str]) -> Result<String, String> {
    let output = Command::new(cast).args(args).output().unwrap();
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_string())
    }
}

#[test]
fn cast_reads_balances_nonces_storage_and_code_from_our_endpoint() {
    let cast_bin = cast_binary();
    let (_devnet, addr) = Process::devnet(
        BIN,
        &["--chain", "holesky", "--nodes", "6", "--exit-after", "600"],
        Duration::from_secs(300),
    );
    let url = format!("http://{addr}");
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--rpc-url", &url]);
        cast(&cast_bin, &all).unwrap_or_else(|e| panic!("cast {args:?}: {e}"))
    };
    let alloc = GenesisAlloc::from_json(
        &std::fs::read_to_string(repo_file("data/genesis/holesky.json")).unwrap(),
    )
    .unwrap();

    assert_eq!(run(&["chain-id"]), "17000");
    assert_eq!(run(&["block-number"]), "0");
    assert_eq!(
        run(&["block", "0", "--field", "hash"]),
        "0xb5f7f912443c940f21fd611f12828d75b534364ed9e95ca4e307729a4661bde4"
    );

    // The deposit contract: code and all 31 storage slots, and an unset slot.
    let deposit = address!("4242424242424242424242424242424242424242");
    let genesis = alloc.get(&deposit).unwrap();
    let d = deposit.to_string();
    assert_eq!(run(&["code", &d]), hex::encode_prefixed(&genesis.code));
    assert_eq!(run(&["code", &d, "--block", "0"]).len(), 2 + 2 * 6358);
    assert_eq!(genesis.storage.len(), 31);
    for (slot, value) in &genesis.storage {
        let got = run(&["storage", &d, &slot.to_string()]);
        assert_eq!(got, B256::from(*value).to_string(), "slot {slot}");
    }
    assert_eq!(run(&["storage", &d, "1000"]), B256::ZERO.to_string());
    assert_eq!(run(&["balance", &d]), genesis.balance.to_string());
    // Our endpoint reads text by the rules of `portal_state::input`: a mixed-case address with
    // a wrong EIP-55 checksum is refused, not queried; the same address checksummed is read.
    let rpc = |address: &str| {
        cast(
            &cast_bin,
            &[
                "rpc",
                "eth_getBalance",
                address,
                "latest",
                "--rpc-url",
                &url,
            ],
        )
    };
    assert_eq!(
        rpc("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed").unwrap(),
        "\"0x0\""
    );
    let refused = rpc("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD").unwrap_err();
    assert!(refused.contains("checksum"), "{refused}");
    assert_eq!(run(&["nonce", &d]), genesis.nonce.to_string());

    // Funded accounts: balance and nonce, at latest and at block 0.
    let mut funded: Vec<_> = alloc
        .iter()
        .filter(|(_, a)| a.balance > U256::ZERO)
        .collect();
    funded.sort_by_key(|(a, _)| **a);
    for (address, account) in funded.iter().step_by(funded.len() / 12 + 1) {
        let a = address.to_string();
        assert_eq!(
            run(&["balance", &a]),
            account.balance.to_string(),
            "balance of {a}"
        );
        assert_eq!(
            run(&["balance", &a, "--block", "0"]),
            account.balance.to_string()
        );
        assert_eq!(
            run(&["nonce", &a]),
            account.nonce.to_string(),
            "nonce of {a}"
        );
        assert_eq!(run(&["code", &a]), "0x");
    }

    // eth_call and eth_estimateGas, run by our node over verified network state: the deposit
    // contract's empty-tree root and count, as the issue states them.
    assert_eq!(
        run(&["call", &d, "get_deposit_root()"]),
        "0xd70a234731285c6804c2a4f56711ddb8c82c99740f207854891028af34e27e5e"
    );
    assert_eq!(
        run(&["call", &d, "get_deposit_count()"]),
        format!("0x{:064x}{:064x}{}", 0x20, 8, "0".repeat(64))
    );
    let (eoa, _) = alloc.iter().find(|(_, a)| a.code.is_empty()).unwrap();
    assert_eq!(
        run(&["estimate", &eoa.to_string(), "--value", "1"]),
        "21000"
    );
    // A reverting call: cast shows the revert reason the node decoded.
    let err = cast(
        &cast_bin,
        &[
            "call",
            &d,
            "deposit(bytes,bytes,bytes,bytes32)",
            "0x",
            "0x",
            "0x",
            "0x0000000000000000000000000000000000000000000000000000000000000000",
            "--rpc-url",
            &url,
        ],
    )
    .unwrap_err();
    assert!(err.contains("invalid pubkey length"), "{err}");

    // A block the node does not trust: cast shows our error, not a value.
    let err = cast(
        &cast_bin,
        &["balance", &d, "--block", "7", "--rpc-url", &url],
    )
    .unwrap_err();
    assert!(
        err.contains("-32001") && err.contains("not a trusted block"),
        "{err}"
    );
}
