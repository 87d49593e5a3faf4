//! Proof benchmarks (plain `std::time::Instant`, no harness): verification throughput on one
//! core against DESIGN.md's budget of ≥ 50,000 account proofs/s, and the time and peak memory of
//! building every witness of a state.
//!
//! Run with `cargo bench --bench proof`. Peak memory is the process's `VmHWM` (Linux), read
//! before and after each build; the builds run first, while the high-water mark is still low.

#[path = "../tests/support/mod.rs"]
mod support;

use alloy_primitives::{Address, U256};
use portal_state::content::ContentValue;
use portal_state::proof::{
    build_witnesses, verify_account, verify_storage, GenesisAccount, GenesisAlloc,
};
use std::hint::black_box;
use std::time::{Duration, Instant};
use support::vectors::{read_text, weth_19m, WETH};

/// How long each throughput measurement runs.
/// `cargo bench` passes `--bench`; under `cargo test --all-targets` the bench runs once, briefly,
/// as a smoke test that it still works.
fn full_run() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn measure_window() -> Duration {
    if full_run() {
        Duration::from_secs(2)
    } else {
        Duration::from_millis(20)
    }
}

/// Peak resident memory of this process so far, in KiB (`VmHWM`); `None` off Linux.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or("n/a".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
}

/// Run `op` repeatedly for [`measure_window()`]; operations per second.
fn per_second(mut op: impl FnMut(usize)) -> f64 {
    for i in 0..1_000 {
        op(i); // warm-up
    }
    let start = Instant::now();
    let mut done = 0usize;
    while start.elapsed() < measure_window() {
        for _ in 0..256 {
            op(done);
            done += 1;
        }
    }
    done as f64 / start.elapsed().as_secs_f64()
}

fn synthetic_alloc(accounts: u64) -> GenesisAlloc {
    (0..accounts)
        .map(|i| {
            let mut bytes = [0u8; 20];
            bytes[12..].copy_from_slice(&(i + 1).to_be_bytes());
            (
                Address::from(bytes),
                GenesisAccount::with_balance(U256::from(i + 1)),
            )
        })
        .collect()
}

fn main() {
    // Builds first, while the peak RSS is still the process's baseline.
    let mainnet_json = read_text("data/genesis/mainnet.json");
    let before = peak_rss_kib();
    let start = Instant::now();
    let alloc = GenesisAlloc::from_json(&mainnet_json).expect("mainnet.json");
    let parsed = start.elapsed();
    let mainnet = build_witnesses(&alloc);
    let elapsed = start.elapsed();
    let after = peak_rss_kib();
    println!(
        "proof/build_mainnet_genesis: {} accounts, {} items in {:.1} ms (parse {:.1} ms); peak RSS {} before, {} after",
        alloc.len(),
        mainnet.items.len(),
        elapsed.as_secs_f64() * 1e3,
        parsed.as_secs_f64() * 1e3,
        mib(before),
        mib(after)
    );

    let synthetic = synthetic_alloc(if full_run() { 100_000 } else { 1_000 });
    let before = peak_rss_kib();
    let start = Instant::now();
    let built = build_witnesses(&synthetic);
    let elapsed = start.elapsed();
    let after = peak_rss_kib();
    println!(
        "proof/build_synthetic: {} accounts, {} items in {:.1} ms ({:.0} accounts/s); peak RSS {} before, {} after",
        synthetic.len(),
        built.items.len(),
        elapsed.as_secs_f64() * 1e3,
        synthetic.len() as f64 / elapsed.as_secs_f64(),
        mib(before),
        mib(after)
    );
    drop(built);
    drop(synthetic);

    let weth = weth_19m();
    let root = weth.header.state_root;
    let rate = per_second(|_| {
        let account = verify_account(black_box(root), black_box(WETH), &weth.account_witness);
        black_box(account.expect("valid"));
    });
    println!(
        "proof/verify_account_weth_19m: {rate:.0} verifications/s ({} nodes, {} bytes)",
        weth.account_witness.nodes().len(),
        weth.account_witness.byte_len()
    );

    let rate = per_second(|_| {
        for node in weth.account_witness.nodes() {
            black_box(alloy_primitives::keccak256(black_box(node)));
        }
    });
    println!("proof/keccak_only_weth_19m_witness: {rate:.0} witnesses hashed/s");

    let rate = per_second(|_| {
        let value = verify_storage(
            black_box(root),
            WETH,
            U256::from(2),
            &weth.account_witness,
            &weth.storage_witness,
        );
        black_box(value.expect("valid"));
    });
    println!(
        "proof/verify_storage_weth_19m: {rate:.0} verifications/s (9 + {} nodes)",
        weth.storage_witness.nodes().len()
    );

    let witnesses: Vec<_> = mainnet
        .items
        .iter()
        .filter_map(|(key, value)| match value {
            ContentValue::Account(witness) => Some((key.address()?, witness)),
            _ => None,
        })
        .collect();
    let mean_nodes = witnesses
        .iter()
        .map(|(_, w)| w.nodes().len())
        .sum::<usize>() as f64
        / witnesses.len() as f64;
    let state_root = mainnet.state_root;
    let rate = per_second(|i| {
        let (address, witness) = witnesses[i % witnesses.len()];
        black_box(verify_account(state_root, address, witness).expect("valid"));
    });
    println!(
        "proof/verify_account_mainnet_genesis: {rate:.0} verifications/s ({} witnesses, {mean_nodes:.1} nodes on average)",
        witnesses.len()
    );
}
