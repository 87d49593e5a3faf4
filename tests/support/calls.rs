//! A state for counting a call's fetch rounds (`tests/network/call_rounds.rs`, `benches/calls.rs`):
//! WETH's real mainnet code (from `tests/data/proofs/weth-19000000.json`) at WETH's address
//! with its `decimals` and the balances of twelve holders, and three reader contracts written
//! here in raw bytecode:
//!
//! - [`SUM_SLOTS`] returns the sum of its own slots 0 to 11 (12 independent slots);
//!   [`SUM_WITH_GAPS`] is the same contract with two of its slots never pushed;
//! - [`SLOT_CHAIN`] reads slot 0, then the slot named by that value, and so on 4 times (a
//!   chain of 4 dependent slots: each key is known only once the previous value is);
//! - [`BALANCES_VIEW`] returns the sum of WETH's `balanceOf` of holders 0 to 9, each by a
//!   `STATICCALL` into WETH (a view over 10 slots of another contract).
//!
//! The items are built into a state trie and verified like any genesis state
//! (`bridge::genesis_content`); the header trusting its root is a pre-London one with that
//! root (the call's environment reads only its number, gas limit and timestamp).

use alloy_primitives::{address, keccak256, Address, Bytes, B256, U256};
use portal_state::content::ContentKey;
use portal_state::proof::VerifiedContent;

/// WETH on mainnet.
pub const WETH: Address = address!("c02aaa39b223fe8d0a0e5c4f27ead9083c756cc2");
/// The reader of 12 independent slots of its own.
pub const SUM_SLOTS: Address = address!("00000000000000000000000000000000c0de0001");
/// [`SUM_SLOTS`]'s code and storage, but slots 5 and 8 are left out of the items pushed
/// ([`state`]): no peer holds them.
pub const SUM_WITH_GAPS: Address = address!("00000000000000000000000000000000c0de0004");
/// The slots [`SUM_WITH_GAPS`] lacks.
pub const GAPS: [u64; 2] = [5, 8];
/// The reader of a chain of 4 dependent slots.
pub const SLOT_CHAIN: Address = address!("00000000000000000000000000000000c0de0002");
/// The view over the WETH balances of holders 0 to 9.
pub const BALANCES_VIEW: Address = address!("00000000000000000000000000000000c0de0003");
/// How many holders have a WETH balance.
pub const HOLDERS: u64 = 12;
/// How many holders [`BALANCES_VIEW`] sums.
pub const VIEWED_HOLDERS: u64 = 10;
/// The slots [`SLOT_CHAIN`] follows.
pub const CHAIN: [u64; 4] = [0, 7, 3, 9];

/// Holder `i`'s address.
pub fn holder(i: u64) -> Address {
    let mut bytes = [0u8; 20];
    bytes[0] = 0xee;
    bytes[12..].copy_from_slice(&i.to_be_bytes());
    Address::from(bytes)
}

/// Holder `i`'s WETH balance: `i + 1` ether.
pub fn balance(i: u64) -> U256 {
    U256::from(i + 1) * U256::from(10u64).pow(U256::from(18))
}

/// The slot of `holder`'s balance in WETH (`mapping(address => uint) balanceOf` at slot 3).
pub fn balance_slot(holder: Address) -> B256 {
    let mut preimage = [0u8; 64];
    preimage[12..32].copy_from_slice(holder.as_slice());
    preimage[63] = 3;
    keccak256(preimage)
}

/// Calldata of WETH's `balanceOf(holder)`.
pub fn balance_of(holder: Address) -> Bytes {
    let mut data = vec![0x70, 0xa0, 0x82, 0x31];
    data.extend_from_slice(B256::left_padding_from(holder.as_slice()).as_slice());
    data.into()
}

/// Calldata of `decimals()`.
pub fn decimals() -> Bytes {
    vec![0x31, 0x3c, 0xe5, 0x67].into()
}

/// The value [`SUM_SLOTS`] returns: slot `i` holds `i + 1`.
pub fn slot_sum() -> U256 {
    U256::from((1..=12u64).sum::<u64>())
}

/// The value [`BALANCES_VIEW`] returns.
pub fn viewed_balances() -> U256 {
    (0..VIEWED_HOLDERS).map(balance).sum()
}

/// WETH's mainnet code, from the proofs file of block 19,000,000.
fn weth_code() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/proofs/weth-19000000.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let code = json["code"].as_object().unwrap();
    assert_eq!(code.len(), 1, "one code in the proofs file");
    code.values().next().unwrap().as_str().unwrap().to_string()
}

/// `PUSH1 v`.
fn push1(v: u8) -> [u8; 2] {
    [0x60, v]
}

/// Code returning the word on top of the stack.
const RETURN_TOP: [u8; 8] = [0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0xf3];

fn sum_slots_code() -> Vec<u8> {
    let mut code = push1(0).to_vec(); // the sum
    for slot in 0..12u8 {
        code.extend(push1(slot));
        code.extend([0x54, 0x01]); // SLOAD ADD
    }
    code.extend(RETURN_TOP);
    code
}

fn slot_chain_code() -> Vec<u8> {
    let mut code = push1(CHAIN[0] as u8).to_vec();
    code.extend([0x54; CHAIN.len()]); // SLOAD four times: each value is the next key
    code.extend(RETURN_TOP);
    code
}

fn balances_view_code() -> Vec<u8> {
    let mut code = push1(0).to_vec(); // the sum
    for i in 0..VIEWED_HOLDERS {
        // memory[0..4] = balanceOf's selector, memory[4..36] = the holder
        code.extend([
            0x63, 0x70, 0xa0, 0x82, 0x31, 0x60, 0xe0, 0x1b, 0x60, 0x00, 0x52,
        ]);
        code.push(0x73); // PUSH20
        code.extend_from_slice(holder(i).as_slice());
        code.extend([0x60, 0x04, 0x52]);
        // STATICCALL(gas, WETH, 0, 36, 0x40, 32), the flag dropped
        code.extend([0x60, 0x20, 0x60, 0x40, 0x60, 0x24, 0x60, 0x00, 0x73]);
        code.extend_from_slice(WETH.as_slice());
        code.extend([0x5a, 0xfa, 0x50]);
        // sum += memory[0x40..0x60]
        code.extend([0x60, 0x40, 0x51, 0x01]);
    }
    code.extend(RETURN_TOP);
    code
}

fn word(v: U256) -> String {
    format!("{:#066x}", v)
}

/// The genesis allocation of this state, as JSON.
pub fn genesis_json() -> String {
    let mut weth_storage = serde_json::Map::new();
    weth_storage.insert(word(U256::from(2)), word(U256::from(18)).into());
    for i in 0..HOLDERS {
        weth_storage.insert(
            format!("{:#x}", balance_slot(holder(i))),
            word(balance(i)).into(),
        );
    }
    let mut sum_storage = serde_json::Map::new();
    for slot in 0..12u64 {
        sum_storage.insert(word(U256::from(slot)), word(U256::from(slot + 1)).into());
    }
    let mut chain_storage = serde_json::Map::new();
    for pair in CHAIN.windows(2) {
        chain_storage.insert(word(U256::from(pair[0])), word(U256::from(pair[1])).into());
    }
    // The last slot of the chain holds the answer.
    chain_storage.insert(word(U256::from(CHAIN[3])), word(U256::from(42)).into());
    let hex = |code: Vec<u8>| format!("0x{}", alloy_primitives::hex::encode(code));
    let total: U256 = (0..HOLDERS).map(balance).sum();
    serde_json::json!({ "alloc": {
        format!("{WETH:#x}"): {"balance": word(total), "code": weth_code(), "storage": weth_storage},
        format!("{SUM_SLOTS:#x}"): {"balance": "0x0", "code": hex(sum_slots_code()), "storage": sum_storage.clone()},
        format!("{SUM_WITH_GAPS:#x}"): {"balance": "0x0", "code": hex(sum_slots_code()), "storage": sum_storage},
        format!("{SLOT_CHAIN:#x}"): {"balance": "0x0", "code": hex(slot_chain_code()), "storage": chain_storage},
        format!("{BALANCES_VIEW:#x}"): {"balance": "0x0", "code": hex(balances_view_code())},
    }})
    .to_string()
}

/// The header trusting this state (block 0) and every item of it, verified, but the slots
/// [`GAPS`] of [`SUM_WITH_GAPS`].
pub fn state() -> (Vec<u8>, Vec<VerifiedContent>) {
    let mut content = portal_state::bridge::genesis_content(&genesis_json()).unwrap();
    let before = content.items.len();
    content.items.retain(|item| {
        !matches!(item.key(), ContentKey::Storage(k)
            if k.address == SUM_WITH_GAPS && GAPS.iter().any(|g| k.slot == U256::from(*g)))
    });
    assert_eq!(content.items.len(), before - GAPS.len());
    let header = alloy_consensus::Header {
        state_root: content.state_root,
        gas_limit: 30_000_000,
        timestamp: 1_700_000_000,
        ..Default::default()
    };
    (alloy_rlp::encode(&header), content.items)
}

/// What the chain of slots returns.
pub fn chain_answer() -> U256 {
    U256::from(42)
}
