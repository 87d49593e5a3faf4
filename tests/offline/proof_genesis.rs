//! Genesis states built from the real genesis files come out at their published state roots,
//! and every witness the builder emits verifies.

use crate::support::vectors;

use alloy_primitives::{keccak256, Address, B256, U256};
use alloy_trie::nodes::TrieNode;
use portal_state::content::{ContentKey, ContentValue};
use portal_state::proof::{
    build_witnesses, verify, verify_account, BlockHeader, GenesisAccount, GenesisAlloc,
    StateWitnesses, VerifiedValue,
};
use vectors::{genesis_networks, GenesisNetwork};

fn network(name: &str) -> GenesisNetwork {
    genesis_networks()
        .into_iter()
        .find(|n| n.name == name)
        .unwrap_or_else(|| panic!("no {name} in genesis-headers.yaml"))
}

/// Verify every item and check each proven value against the allocation it was built from.
fn verify_all_items(alloc: &GenesisAlloc, built: &StateWitnesses) -> (usize, usize, usize) {
    let (mut accounts, mut slots, mut codes) = (0, 0, 0);
    for (key, value) in &built.items {
        assert_eq!(
            key.state_root().unwrap_or(built.state_root),
            built.state_root
        );
        let expected = alloc
            .get(&key.address().expect("a leaf key"))
            .expect("item for an allocated account");
        let verified =
            verify(*key, value.clone()).unwrap_or_else(|e| panic!("{key:?} does not verify: {e}"));
        match (key, verified.proven()) {
            (ContentKey::Account(_), VerifiedValue::Account(Some(account))) => {
                assert_eq!(account.balance, expected.balance);
                assert_eq!(account.nonce, expected.nonce);
                assert_eq!(account.code_hash, expected.code_hash());
                accounts += 1;
            }
            (ContentKey::Storage(k), VerifiedValue::Storage(v)) => {
                assert_eq!(Some(v), expected.storage.get(&k.slot));
                slots += 1;
            }
            (ContentKey::Bytecode(k), VerifiedValue::Bytecode(code)) => {
                assert_eq!(code, &expected.code);
                assert_eq!(k.code_hash, keccak256(code));
                codes += 1;
            }
            (key, proven) => panic!("{key:?} proved {proven:?}"),
        }
    }
    (accounts, slots, codes)
}

#[test]
fn genesis_headers_decode_to_their_published_hashes() {
    for network in genesis_networks() {
        let header = BlockHeader::decode(&network.header_rlp).expect(&network.name);
        assert_eq!(header.hash, network.genesis_hash, "{}", network.name);
        assert_eq!(header.state_root, network.state_root, "{}", network.name);
        assert_eq!(header.number, 0);
        assert_eq!(header.rlp.as_ref(), &network.header_rlp[..]);
    }
}

#[test]
fn mainnet_genesis_root_and_every_account_witness() {
    let mainnet = network("mainnet");
    let alloc = GenesisAlloc::from_json(&mainnet.json).expect("mainnet.json");
    assert_eq!(alloc.len(), 8_893);
    assert_eq!(alloc.len(), mainnet.accounts);
    let built = build_witnesses(&alloc);
    assert_eq!(built.state_root, mainnet.state_root);
    assert_eq!(
        built.state_root.to_string(),
        "0xd7f8974fb5ac78d9ac099b9ad5018bedc2ce0a72dad1827a1709da30580f0544"
    );
    assert_eq!(verify_all_items(&alloc, &built), (8_893, 0, 0));
}

#[test]
fn sepolia_genesis_root_and_every_account_witness() {
    let sepolia = network("sepolia");
    let alloc = GenesisAlloc::from_json(&sepolia.json).expect("sepolia.json");
    assert_eq!(alloc.len(), sepolia.accounts);
    let built = build_witnesses(&alloc);
    assert_eq!(built.state_root, sepolia.state_root);
    assert_eq!(verify_all_items(&alloc, &built), (sepolia.accounts, 0, 0));
}

#[test]
fn holesky_genesis_root_storage_and_deposit_contract_code() {
    let holesky = network("holesky");
    let alloc = GenesisAlloc::from_json(&holesky.json).expect("holesky.json");
    assert_eq!(alloc.len(), 317);
    let built = build_witnesses(&alloc);
    assert_eq!(built.state_root, holesky.state_root);
    assert_eq!(verify_all_items(&alloc, &built), (317, 31, 1));

    let deposit: Address = "0x4242424242424242424242424242424242424242"
        .parse()
        .unwrap();
    let code = built
        .items
        .iter()
        .find_map(|(key, value)| match (key, value) {
            (ContentKey::Bytecode(k), ContentValue::Bytecode(code)) if k.address == deposit => {
                Some(code.clone())
            }
            _ => None,
        })
        .expect("the deposit contract's bytecode item");
    assert_eq!(code.len(), 6_358);
    // Decimal balances were read as decimal: "1" wei, not 0x1 of something else.
    let one = alloc
        .get(
            &"0x0000000000000000000000000000000000000001"
                .parse()
                .unwrap(),
        )
        .unwrap();
    assert_eq!(one.balance, U256::from(1));
    // The contract's storage trie is not empty, and an unlisted slot is proven zero.
    assert_ne!(built.storage_root(deposit), alloy_trie::EMPTY_ROOT_HASH);
    let (key, value) = built.storage_item(deposit, U256::from(1_000_000));
    assert_eq!(
        verify(key, value).unwrap().proven(),
        &VerifiedValue::Storage(U256::ZERO)
    );
}

/// Addresses from a fixed xorshift sequence: reproducible, spread over the whole key space.
fn pseudo_random_addresses(count: usize, mut seed: u64) -> Vec<Address> {
    (0..count)
        .map(|_| {
            let mut bytes = [0u8; 20];
            for chunk in bytes.chunks_mut(8) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                chunk.copy_from_slice(&seed.to_be_bytes()[..chunk.len()]);
            }
            Address::from(bytes)
        })
        .collect()
}

#[test]
fn absent_addresses_are_proven_absent_in_mainnet_genesis() {
    let alloc = GenesisAlloc::from_json(&network("mainnet").json).unwrap();
    let built = build_witnesses(&alloc);
    let (mut ends_at_empty_slot, mut ends_at_other_leaf, mut ends_at_extension) = (0, 0, 0);
    for address in pseudo_random_addresses(2_000, 0x9e37_79b9_7f4a_7c15) {
        assert!(alloc.get(&address).is_none());
        let witness = built.account_witness(address);
        assert_eq!(
            verify_account(built.state_root, address, &witness),
            Ok(None),
            "{address}"
        );
        let (key, value) = built.account_item(address);
        assert_eq!(
            verify(key, value).unwrap().proven(),
            &VerifiedValue::Account(None)
        );
        match alloy_rlp::decode_exact::<TrieNode>(witness.nodes().last().unwrap()).unwrap() {
            TrieNode::Branch(_) => ends_at_empty_slot += 1,
            TrieNode::Leaf(_) => ends_at_other_leaf += 1,
            TrieNode::Extension(_) => ends_at_extension += 1,
            TrieNode::EmptyRoot => panic!("exclusion ends at the empty node"),
        }
        // A proof of absence does not prove the absence of an account that exists.
        let present = *alloc.iter().next().unwrap().0;
        assert!(verify_account(built.state_root, present, &witness).is_err());
    }
    // Every kind of exclusion proof was exercised (mainnet genesis has a few extensions).
    assert!(ends_at_empty_slot > 50, "{ends_at_empty_slot}");
    assert!(ends_at_other_leaf > 50, "{ends_at_other_leaf}");
    assert!(ends_at_extension > 0, "{ends_at_extension}");
}

#[test]
fn synthetic_state_matches_alloys_state_root() {
    let mut alloc = GenesisAlloc::new();
    for (i, address) in pseudo_random_addresses(3_000, 42).into_iter().enumerate() {
        let mut account = GenesisAccount::with_balance(U256::from(i as u64 + 1));
        account.nonce = i as u64 % 5;
        if i % 100 == 0 {
            account.code = vec![0x60, i as u8, 0x00].into();
            for slot in 0..(i as u64 % 7 + 1) {
                account
                    .storage
                    .insert(U256::from(slot), U256::from(slot * 1_000 + 1));
            }
        }
        alloc.insert(address, account);
    }
    let built = build_witnesses(&alloc);
    let expected_root = alloy_trie::root::state_root_unhashed(alloc.iter().map(|(a, acc)| {
        let storage_root = alloy_trie::root::storage_root_unhashed(
            acc.storage.iter().map(|(slot, v)| (B256::from(*slot), *v)),
        );
        (*a, acc.trie_account(storage_root))
    }));
    assert_eq!(built.state_root, expected_root);
    let (accounts, slots, codes) = verify_all_items(&alloc, &built);
    assert_eq!((accounts, codes), (3_000, 30));
    assert_eq!(
        slots,
        alloc.iter().map(|(_, a)| a.storage.len()).sum::<usize>()
    );
}
