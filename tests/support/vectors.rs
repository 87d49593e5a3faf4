//! The real-data vectors the proof tests and benchmark use, loaded from the repository's copies
//! (`data/genesis/`, `tests/data/portal-spec-tests/`), never from outside the repository.
//!
//! Shared by several test crates and the benchmark, each of which uses only some of it.
#![allow(dead_code)]

use alloy_primitives::{address, Address, Bytes, B256};
use portal_state::content::Witness;
use portal_state::proof::BlockHeader;
use serde_yaml::Value;
use ssz::Decode;

/// The WETH contract, whose account, slot 2 and code the block-19,000,000 vectors prove.
pub const WETH: Address = address!("c02aaa39b223fe8d0a0e5c4f27ead9083c756cc2");
/// A mainnet genesis account whose block-0 proof (with an extension node) is in the vectors.
pub const GENESIS_ACCOUNT: Address = address!("1584a2c066b7a455dbd6ae2807a7334e83c35fa5");

pub use super::repo_file;

/// A file's text; panics naming the file when it is missing (a broken checkout).
pub fn read_text(relative: &str) -> String {
    let path = repo_file(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn read_yaml(relative: &str) -> Value {
    serde_yaml::from_str(&read_text(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

fn state_vector(relative: &str) -> Value {
    read_yaml(&format!(
        "tests/data/portal-spec-tests/tests/mainnet/state/{relative}"
    ))
}

/// `0x…` hex text of a YAML value, as bytes.
pub fn hex_of(value: &Value) -> Vec<u8> {
    let text = value.as_str().expect("a hex string");
    alloy_primitives::hex::decode(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn b256_of(value: &Value) -> B256 {
    B256::from_slice(&hex_of(value))
}

fn witness_of(value: &Value) -> Witness {
    Witness(
        value
            .as_sequence()
            .expect("a list of nodes")
            .iter()
            .map(|node| Bytes::from(hex_of(node)))
            .collect(),
    )
}

/// One genesis network of `data/genesis/`: its allocation JSON and its known header.
pub struct GenesisNetwork {
    /// `mainnet`, `sepolia` or `holesky`.
    pub name: String,
    /// The genesis JSON text.
    pub json: String,
    /// The published state root.
    pub state_root: B256,
    /// The published genesis block hash.
    pub genesis_hash: B256,
    /// The genesis header's RLP.
    pub header_rlp: Vec<u8>,
    /// How many accounts the allocation holds.
    pub accounts: usize,
}

/// The three genesis networks, with what `genesis-headers.yaml` says about each.
pub fn genesis_networks() -> Vec<GenesisNetwork> {
    let headers = read_yaml("data/genesis/genesis-headers.yaml");
    headers["networks"]
        .as_sequence()
        .expect("networks")
        .iter()
        .map(|network| {
            let name = network["network"].as_str().expect("name").to_string();
            GenesisNetwork {
                json: read_text(&format!("data/genesis/{name}.json")),
                state_root: b256_of(&network["state_root"]),
                genesis_hash: b256_of(&network["genesis_hash"]),
                header_rlp: hex_of(&network["header_rlp"]),
                accounts: network["alloc_accounts"].as_u64().expect("count") as usize,
                name,
            }
        })
        .collect()
}

/// The WETH vectors at mainnet block 19,000,000.
pub struct Weth19m {
    /// The block-19,000,000 header.
    pub header: BlockHeader,
    /// The block hash the offers name.
    pub block_hash: B256,
    /// WETH's account witness (9 nodes).
    pub account_witness: Witness,
    /// The witness of WETH's slot 2 (`decimals`) from its storage root (7 nodes).
    pub storage_witness: Witness,
    /// WETH's code.
    pub bytecode: Bytes,
}

/// Load the WETH vectors; checks that all three files agree on the account witness and block.
pub fn weth_19m() -> Weth19m {
    let account = state_vector("serialization/account_trie_node_with_proof.yaml");
    let storage = state_vector("serialization/contract_storage_trie_node_with_proof.yaml");
    let bytecode = state_vector("serialization/contract_bytecode_with_proof.yaml");
    let validation = state_vector("validation/account_trie_node.yaml");
    let header = BlockHeader::decode(&hex_of(&validation[0]["block_header"])).expect("header");
    let account_witness = witness_of(&account["proof"]);
    assert_eq!(witness_of(&storage["account_proof"]), account_witness);
    assert_eq!(witness_of(&bytecode["account_proof"]), account_witness);
    let block_hash = b256_of(&account["block_hash"]);
    assert_eq!(b256_of(&storage["block_hash"]), block_hash);
    assert_eq!(b256_of(&bytecode["block_hash"]), block_hash);
    Weth19m {
        header,
        block_hash,
        account_witness,
        storage_witness: witness_of(&storage["storage_proof"]),
        bytecode: Bytes::from(hex_of(&bytecode["bytecode"])),
    }
}

/// The legacy offer of an account trie node: `Container(proof: List[ByteList], block_hash)`.
#[derive(ssz_derive::Decode)]
struct AccountTrieNodeOffer {
    proof: Vec<Bytes>,
    block_hash: B256,
}

/// The block-0 vector of [`GENESIS_ACCOUNT`]: header, the block hash its offer names, and its
/// account witness (root to leaf), taken out of the legacy SSZ offer.
pub fn genesis_account_block0() -> (BlockHeader, B256, Witness) {
    let cases = state_vector("validation/account_trie_node.yaml");
    // Case 3 is the genesis account's leaf (case 4 its parent branch).
    let case = &cases[3];
    let header = BlockHeader::decode(&hex_of(&case["block_header"])).expect("header");
    let offer = AccountTrieNodeOffer::from_ssz_bytes(&hex_of(&case["content_value_offer"]))
        .expect("legacy account offer");
    (header, offer.block_hash, Witness(offer.proof))
}

/// A reproducible pseudo-random sequence (xorshift64), so sampled tests fail the same way twice.
pub struct XorShift(pub u64);

impl XorShift {
    /// The next 64 bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// `len` bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
}

/// Every way of breaking a witness that the tests try, with a name for failure messages:
/// each byte of each node flipped (all bits, and the lowest bit), each node removed, each node
/// truncated, nodes appended, reordered, and the empty witness.
pub fn tampered_witnesses(witness: &Witness) -> Vec<(String, Witness)> {
    let nodes = witness.nodes();
    let with = |f: &dyn Fn(&mut Vec<Bytes>)| {
        let mut copy = nodes.to_vec();
        f(&mut copy);
        Witness(copy)
    };
    let mut out = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        for pos in 0..node.len() {
            for mask in [0xff, 0x01] {
                let mut bytes = node.to_vec();
                bytes[pos] ^= mask;
                out.push((
                    format!("node {i} byte {pos} ^ {mask:#x}"),
                    with(&|n| n[i] = Bytes::from(bytes.clone())),
                ));
            }
        }
        out.push((format!("node {i} removed"), with(&|n| drop(n.remove(i)))));
        for keep in [0, 1, node.len() / 2, node.len() - 1] {
            out.push((
                format!("node {i} truncated to {keep} bytes"),
                with(&|n| n[i] = node.slice(..keep)),
            ));
        }
        out.push((
            format!("node {i} with a trailing byte"),
            with(&|n| {
                let mut bytes = node.to_vec();
                bytes.push(0x80);
                n[i] = Bytes::from(bytes);
            }),
        ));
    }
    let last = nodes.last().cloned().unwrap_or_default();
    let first = nodes.first().cloned().unwrap_or_default();
    out.push(("last node repeated".into(), with(&|n| n.push(last.clone()))));
    out.push((
        "root node appended".into(),
        with(&|n| n.push(first.clone())),
    ));
    out.push((
        "empty node appended".into(),
        with(&|n| n.push(Bytes::from_static(&[0x80]))),
    ));
    out.push((
        "garbage appended".into(),
        with(&|n| n.push(Bytes::from(XorShift(7).bytes(100)))),
    ));
    if nodes.len() > 1 {
        out.push(("first two nodes swapped".into(), with(&|n| n.swap(0, 1))));
        out.push(("nodes reversed".into(), with(&|n| n.reverse())));
    }
    out.push(("empty witness".into(), Witness::default()));
    out
}

/// Mutate byte `pos` of node `index` and then re-point every ancestor at the new node (each
/// parent's 32-byte reference replaced by the child's new hash): a witness that chains to a new
/// root, so the walk gets past hashing and has to judge the mutated node itself.
///
/// Returns `None` when the mutation broke the chain in a way that cannot be re-pointed (the
/// mutated byte was inside the reference to the next node).
pub fn rehashed_mutation(
    witness: &Witness,
    index: usize,
    pos: usize,
    mask: u8,
) -> Option<(B256, Witness)> {
    let mut nodes = witness.nodes().to_vec();
    let mut bytes = nodes[index].to_vec();
    bytes[pos] ^= mask;
    nodes[index] = Bytes::from(bytes);
    for parent in (0..index).rev() {
        let old = alloy_primitives::keccak256(&witness.nodes()[parent + 1]);
        let new = alloy_primitives::keccak256(&nodes[parent + 1]);
        let mut bytes = nodes[parent].to_vec();
        let at = bytes.windows(32).position(|w| w == old.as_slice())?;
        bytes[at..at + 32].copy_from_slice(new.as_slice());
        nodes[parent] = Bytes::from(bytes);
    }
    Some((alloy_primitives::keccak256(&nodes[0]), Witness(nodes)))
}
