//! `portal-state load`: a load generator for a devnet's execution client, so that what the
//! network follows at the head has inserts, deletes and branch collapses, not one sender.
//!
//! [`plan`] decides what each block sends (pure, seeded); [`tx`] signs it; this file sends it
//! over JSON-RPC, mines it (`--mine`, anvil's `evm_mine`) or waits for it to be mined, and
//! reports what each block changed.

mod plan;
mod tx;

use crate::CliResult;
use alloy_primitives::{hex, Address, B256, U256};
use plan::{Change, LoadPlan, PlannedTx};
use portal_state::bridge::ExecutionClient;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// anvil's first dev account's well-known key (funded with 10,000 ether on a fresh anvil).
const ANVIL_KEY_0: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

/// Send a mixed transaction load to an execution client, block after block.
///
/// A setup block funds --accounts fresh accounts (100 ether each, from --funder-key) and
/// creates two storage contracts and four self-destructible ones. Then each block sends
/// --txs-per-block transactions, mixed: transfers between the funded accounts (30% of them to
/// fresh addresses), storage writes of 1-4 slots (a quarter of them clearing a slot), contract
/// creations, calls that make a contract self-destruct, and accounts that send away all they
/// have. All signed here (legacy EIP-155 transactions), so any client that funds the key works.
///
/// Example, against a fresh anvil started with --no-mining:
///   portal-state load --el-rpc http://127.0.0.1:8545 --mine --blocks 100
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct LoadArgs {
    /// The execution client's JSON-RPC URL.
    #[arg(long, value_name = "URL")]
    el_rpc: String,
    /// Blocks of load to send after the setup block (0: until Ctrl-C).
    #[arg(long, default_value_t = 20)]
    blocks: u64,
    /// Transactions per block.
    #[arg(long, default_value_t = 16)]
    txs_per_block: usize,
    /// Accounts to fund and send from.
    #[arg(long, default_value_t = 32)]
    accounts: usize,
    /// Seed of the randomness: the same seed sends the same load.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The funding key (hex). Default: anvil's first dev account.
    #[arg(long, value_name = "HEX", default_value = ANVIL_KEY_0)]
    funder_key: String,
    /// Mine each block with `evm_mine` (anvil, hardhat) after sending it, with automine off;
    /// otherwise wait for the client to mine.
    #[arg(long)]
    mine: bool,
    /// Wait this long between blocks.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    interval_ms: u64,
    /// Write what the load touched (accounts, contracts, slots, per-block counts) as JSON here.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
}

pub async fn run(args: LoadArgs) -> CliResult {
    let funder_key: [u8; 32] = hex::decode(args.funder_key.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("--funder-key: expected 32 bytes of hex")?;
    let el = ExecutionClient::new(&args.el_rpc)?;
    let chain_id = el.chain_id().await?;
    let funder = tx::address_of(&funder_key);
    let funder_nonce = nonce_at(&el, funder, "pending").await?;
    let mut plan = LoadPlan::new(funder_key, funder_nonce, args.accounts, args.seed);
    let version = el
        .call("web3_clientVersion", json!([]))
        .await
        .unwrap_or_default();
    if version
        .as_str()
        .is_some_and(|v| v.to_lowercase().contains("anvil"))
    {
        eprintln!("load: {version}: storage writes will not clear slots (anvil keeps cleared slots in its trie)");
        plan = plan.without_clears();
    }
    if args.mine {
        el.call("evm_setAutomine", json!([false]))
            .await
            .map_err(|e| format!("--mine needs an anvil-like client (evm_setAutomine): {e}"))?;
    }
    let mut blocks = Vec::new();
    let setup = plan.setup();
    blocks.push(send_block(&el, &mut plan, chain_id, setup, args.mine).await?);
    let mut n = 0;
    while args.blocks == 0 || n < args.blocks {
        if args.interval_ms > 0 {
            tokio::time::sleep(Duration::from_millis(args.interval_ms)).await;
        }
        let txs = plan.block(args.txs_per_block);
        blocks.push(send_block(&el, &mut plan, chain_id, txs, args.mine).await?);
        n += 1;
    }
    let totals = blocks
        .iter()
        .fold(BTreeMap::<String, u64>::new(), |mut t, b| {
            for (k, v) in &b.counts {
                *t.entry(k.clone()).or_default() += v;
            }
            t
        });
    let report = json!({
        "blocks": blocks.iter().map(|b| json!({"number": b.number, "counts": b.counts, "refused": b.refused})).collect::<Vec<_>>(),
        "totals": totals,
        "accounts": plan.addresses.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        "touched": plan.touched.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        "slot_contracts": plan.slot_contracts.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        "slots": plan.slot_values.iter().map(|((a, s), v)| json!([a.to_string(), s.to_string(), v.to_string()])).collect::<Vec<_>>(),
        "destroyed": plan.destroyed.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
    });
    if let Some(path) = &args.report {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    println!(
        "load: {} blocks sent; totals {}",
        blocks.len(),
        json!(totals)
    );
    Ok(())
}

/// What one block of load did.
struct BlockDone {
    number: u64,
    counts: BTreeMap<String, u64>,
    refused: u64,
}

async fn nonce_at(el: &ExecutionClient, address: Address, tag: &str) -> CliResult<u64> {
    let v = el
        .call("eth_getTransactionCount", json!([address, tag]))
        .await?;
    Ok(quantity(&v).ok_or("eth_getTransactionCount: not a quantity")? as u64)
}

fn quantity(v: &Value) -> Option<u128> {
    u128::from_str_radix(v.as_str()?.strip_prefix("0x")?, 16).ok()
}

async fn send_block(
    el: &ExecutionClient,
    plan: &mut LoadPlan,
    chain_id: u64,
    txs: Vec<PlannedTx>,
    mine: bool,
) -> CliResult<BlockDone> {
    // Twice the base fee plus a 1 gwei tip; not eth_gasPrice, which anvil derives from the
    // tips just paid, so that doubling it each block would grow without end.
    let latest = el
        .call("eth_getBlockByNumber", json!(["latest", false]))
        .await?;
    let gas_price = match latest.get("baseFeePerGas").and_then(quantity) {
        Some(base_fee) => base_fee.saturating_mul(2) + 1_000_000_000,
        None => el
            .call("eth_gasPrice", json!([]))
            .await
            .ok()
            .as_ref()
            .and_then(quantity)
            .unwrap_or(1_000_000_000),
    };
    // The last mined block, named by number: anvil's "latest" balance counts pooled transfers in.
    let mined = format!("0x{:x}", el.block_number().await?);
    let mut counts = BTreeMap::<String, u64>::new();
    let mut refused = 0;
    let mut last_nonce: BTreeMap<usize, u64> = BTreeMap::new();
    // Senders whose transaction was refused, with its nonce: their later ones in this block
    // would wait forever behind the gap, so they are not sent, and the nonce is reused.
    let mut broken: BTreeMap<usize, u64> = BTreeMap::new();
    for planned in txs {
        if broken.contains_key(&planned.from) {
            refused += 1;
            continue;
        }
        let mut value = planned.value;
        if planned.kind == Change::Empty {
            // Everything it has at the last mined block, less the fee (it sent nothing else in
            // this block; what it receives in it stays).
            let v = el
                .call(
                    "eth_getBalance",
                    json!([plan.addresses[planned.from], mined]),
                )
                .await?;
            let balance = U256::from(quantity(&v).ok_or("eth_getBalance: not a quantity")?);
            value = balance.saturating_sub(U256::from(gas_price) * U256::from(planned.gas));
        }
        let raw = tx::sign(
            tx::Unsigned {
                chain_id,
                nonce: planned.nonce,
                gas_price,
                gas: planned.gas,
                to: planned.to,
                value,
                input: planned.input.clone(),
            },
            &plan.keys[planned.from],
        )?;
        match el
            .call(
                "eth_sendRawTransaction",
                json!([hex::encode_prefixed(&raw)]),
            )
            .await
        {
            Ok(_) => {
                *counts.entry(format!("{:?}", planned.kind)).or_default() += 1;
                if planned.kind == Change::StorageWrite {
                    *counts.entry("SlotsWritten".into()).or_default() += planned.slots.len() as u64;
                    let zeroed = planned
                        .slots
                        .iter()
                        .filter(|(_, v)| *v == B256::ZERO)
                        .count();
                    *counts.entry("SlotsCleared".into()).or_default() += zeroed as u64;
                }
                last_nonce.insert(planned.from, planned.nonce);
            }
            Err(e) => {
                eprintln!(
                    "load: transaction {:?} from {} (nonce {}, value {value}, gas price {gas_price}) refused: {e}",
                    planned.kind, plan.addresses[planned.from], planned.nonce
                );
                broken.insert(planned.from, planned.nonce);
                refused += 1;
            }
        }
    }
    for (from, nonce) in broken {
        plan.rewind(from, nonce);
    }
    if mine {
        el.call("evm_mine", json!([])).await?;
    }
    // Mined when every sender's latest nonce passed its last transaction of this block.
    let started = Instant::now();
    for (from, nonce) in &last_nonce {
        loop {
            if nonce_at(el, plan.addresses[*from], "latest").await? > *nonce {
                break;
            }
            if started.elapsed() > Duration::from_secs(120) {
                return Err("load: transactions not mined after 120 s (is the client mining? try --mine on anvil)".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let number = el.block_number().await?;
    let line: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
    eprintln!(
        "load: block {number}: {}{}",
        line.join(", "),
        if refused > 0 {
            format!(", {refused} refused")
        } else {
            String::new()
        }
    );
    Ok(BlockDone {
        number,
        counts,
        refused,
    })
}
