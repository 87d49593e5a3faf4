//! A simulation at mainnet-like numbers (BENCHMARKS.md, "#14 diff content"): not run by CI
//! (`#[ignore]`: a 1,000,000-account trie is rebuilt per block).
//!
//! `cargo test --features uniffi-cli,fault-injection --lib bridge::diff::sim -- --ignored --nocapture`
//! (`PORTAL_STATE_SIM_TILE_DEPTH=3` for another tile depth than [`DEFAULT_TILE_DEPTH`]).

use super::*;
use crate::content::{ContentId, IdRange, Radius};
use alloy_primitives::U256;
use alloy_trie::proof::ProofRetainer;
use alloy_trie::{HashBuilder, Nibbles, TrieAccount, KECCAK_EMPTY};

/// A small deterministic generator (xorshift), so runs are repeatable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn account(nonce: u64, balance: u64) -> Vec<u8> {
    alloy_rlp::encode(TrieAccount {
        nonce,
        balance: U256::from(balance),
        storage_root: EMPTY_ROOT_HASH,
        code_hash: KECCAK_EMPTY,
    })
}

/// The root and the hashed proof nodes of `targets` in the trie of the sorted `leaves`.
fn proofs(leaves: &[(B256, Vec<u8>)], targets: &[B256]) -> (B256, Vec<Bytes>) {
    let mut hb = HashBuilder::default().with_proof_retainer(ProofRetainer::new(
        targets.iter().map(Nibbles::unpack).collect(),
    ));
    for (key, value) in leaves {
        hb.add_leaf(Nibbles::unpack(key), value);
    }
    let root = hb.root();
    let nodes = hb
        .take_proof_nodes()
        .into_nodes_sorted()
        .into_iter()
        .map(|(_, n)| n)
        .filter(|n| n.len() >= 32)
        .collect();
    (root, nodes)
}

fn mean_p99(mut v: Vec<usize>) -> (usize, usize) {
    v.sort_unstable();
    let mean = v.iter().sum::<usize>() / v.len().max(1);
    let p99 = v[(v.len() * 99).div_ceil(100).saturating_sub(1)];
    (mean, p99)
}

#[test]
#[ignore = "minutes: a 1,000,000-account trie per block"]
fn sim_mainnet_like_bytes_per_node() {
    const ACCOUNTS: u64 = 1_000_000;
    const BLOCKS: u64 = 4;
    const MODIFIED: usize = 500;
    const INSERTED: u64 = 100;
    let tile_depth: usize = std::env::var("PORTAL_STATE_SIM_TILE_DEPTH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_TILE_DEPTH);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut leaves: Vec<(B256, Vec<u8>)> = (0..ACCOUNTS)
        .map(|i| (keccak256(i.to_be_bytes()), account(i % 7, i)))
        .collect();
    leaves.sort_unstable_by_key(|a| a.0);
    let widths: [(u64, &str); 3] = [(64, "1/64"), (1024, "1/1024"), (1250, "1/1250")];
    let node_ids: Vec<ContentId> = (0..2000)
        .map(|_| {
            let mut b = [0u8; 32];
            for chunk in b.chunks_mut(8) {
                chunk.copy_from_slice(&rng.next().to_be_bytes());
            }
            ContentId::from(b)
        })
        .collect();
    let mut received: Vec<Vec<usize>> = vec![Vec::new(); widths.len()];
    let mut whole = Vec::new();
    let mut witness_bytes = Vec::new();
    let mut items_per_block = Vec::new();
    for block in 0..BLOCKS {
        let mut targets = Vec::new();
        for _ in 0..MODIFIED {
            let i = (rng.next() % leaves.len() as u64) as usize;
            leaves[i].1 = account(block + 100, rng.next() >> 20);
            targets.push(leaves[i].0);
        }
        for j in 0..INSERTED {
            let key = keccak256((ACCOUNTS + block * INSERTED + j).to_be_bytes());
            let at = leaves.partition_point(|(k, _)| *k < key);
            leaves.insert(at, (key, account(0, 1)));
            targets.push(key);
        }
        let (root, nodes) = proofs(&leaves, &targets);
        let placed = place_nodes(root, nodes);
        let cut = cut_account_nodes(&placed, tile_depth);
        // Offer key (selector, two roots, offset, prefix) plus the SSZ value.
        let sized: Vec<(IdRange, usize)> = cut
            .iter()
            .map(|(prefix, nodes)| {
                let value = 4 + nodes.iter().map(|n| 4 + n.len()).sum::<usize>();
                (prefix.range(), 1 + 68 + prefix.len() + value)
            })
            .collect();
        whole.push(sized.iter().map(|(_, b)| b).sum::<usize>());
        witness_bytes.push(placed.iter().map(|n| n.rlp.len()).sum::<usize>());
        items_per_block.push(sized.len());
        for (w, (parts, _)) in widths.iter().enumerate() {
            // The arc [id - r, id + r] covers 1/parts of the ring.
            let radius = Radius(U256::MAX / U256::from(*parts * 2));
            for id in &node_ids {
                let got = sized
                    .iter()
                    .filter(|(range, _)| radius.meets(*id, *range))
                    .map(|(_, b)| b)
                    .sum();
                received[w].push(got);
            }
        }
    }
    eprintln!(
        "{ACCOUNTS} accounts, {} changed per block ({MODIFIED} modified, {INSERTED} inserted), \
         {BLOCKS} blocks, tile depth {tile_depth}",
        MODIFIED as u64 + INSERTED
    );
    eprintln!(
        "per block: {:?} items; diff items in all {:?} bytes; distinct new nodes {:?} bytes",
        items_per_block, whole, witness_bytes
    );
    for (w, (_, name)) in widths.iter().enumerate() {
        let (mean, p99) = mean_p99(received[w].clone());
        eprintln!("node covering {name}: mean {mean} B/block, p99 {p99} B/block");
    }
}
