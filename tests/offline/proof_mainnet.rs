//! Real mainnet witnesses (portal-spec-tests) repackaged into our content formats verify against
//! the state roots of their real headers.

use crate::support::vectors;

use alloy_primitives::{b256, keccak256, U256};
use portal_state::content::{AccountKey, BytecodeKey, ContentKey, ContentValue, StorageKey};
use portal_state::proof::{
    verify, verify_account, verify_bytecode, verify_storage, BlockHeader, VerifiedValue,
};
use vectors::{genesis_account_block0, genesis_networks, weth_19m, GENESIS_ACCOUNT, WETH};

/// Encode to the wire and decode back, as a value arriving from a peer would be.
fn over_the_wire(key: ContentKey, value: ContentValue) -> (ContentKey, ContentValue) {
    let key = ContentKey::decode(&key.encode()).expect("key round trip");
    let value = ContentValue::decode(&key, &value.encode()).expect("value round trip");
    (key, value)
}

#[test]
fn header_19m_decodes_and_hashes_to_the_vectors_block_hash() {
    let weth = weth_19m();
    assert_eq!(weth.header.number, 19_000_000);
    assert_eq!(weth.header.hash, weth.block_hash);
    assert_eq!(
        weth.header.hash,
        b256!("cf384012b91b081230cdf17a3f7dd370d8e67056058af6b272b3d54aa2714fac")
    );
    assert_eq!(
        weth.header.state_root,
        b256!("1ad7b80af0c28bc1489513346d2706885be90abb07f23ca28e50482adb392d61")
    );
    // Block 19,000,000 was mined on 2024-01-13.
    assert!((1_705_000_000..1_705_300_000).contains(&weth.header.timestamp));
    assert_ne!(weth.header.parent_hash, weth.header.hash);
}

#[test]
fn weth_account_verifies_at_block_19m() {
    let weth = weth_19m();
    assert_eq!(weth.account_witness.nodes().len(), 9);
    let account = verify_account(weth.header.state_root, WETH, &weth.account_witness)
        .expect("valid witness")
        .expect("WETH exists");
    assert_eq!(account.code_hash, keccak256(&weth.bytecode));
    assert!(account.balance > U256::from(10u64).pow(U256::from(18)) * U256::from(100_000));

    let key = ContentKey::Account(AccountKey {
        address: WETH,
        state_root: weth.header.state_root,
    });
    let (key, value) = over_the_wire(key, ContentValue::Account(weth.account_witness.clone()));
    let verified = verify(key, value).expect("verifies");
    assert_eq!(verified.proven(), &VerifiedValue::Account(Some(account)));
    assert_eq!(verified.key(), &key);
}

#[test]
fn weth_slot_2_is_18_at_block_19m() {
    let weth = weth_19m();
    assert_eq!(weth.storage_witness.nodes().len(), 7);
    let value = verify_storage(
        weth.header.state_root,
        WETH,
        U256::from(2),
        &weth.account_witness,
        &weth.storage_witness,
    );
    assert_eq!(value, Ok(U256::from(18)));

    let key = ContentKey::Storage(StorageKey {
        address: WETH,
        slot: U256::from(2),
        state_root: weth.header.state_root,
    });
    let value = ContentValue::Storage {
        account_witness: weth.account_witness.clone(),
        storage_witness: weth.storage_witness.clone(),
    };
    let (key, value) = over_the_wire(key, value);
    let verified = verify(key, value).expect("verifies");
    assert_eq!(verified.proven(), &VerifiedValue::Storage(U256::from(18)));
}

#[test]
fn weth_bytecode_hashes_to_its_accounts_code_hash() {
    let weth = weth_19m();
    assert_eq!(weth.bytecode.len(), 3_124);
    let account = verify_account(weth.header.state_root, WETH, &weth.account_witness)
        .unwrap()
        .unwrap();
    assert_eq!(verify_bytecode(account.code_hash, &weth.bytecode), Ok(()));
    let key = ContentKey::Bytecode(BytecodeKey {
        address: WETH,
        code_hash: account.code_hash,
    });
    let (key, value) = over_the_wire(key, ContentValue::Bytecode(weth.bytecode.clone()));
    let verified = verify(key, value).expect("verifies");
    assert_eq!(
        verified.proven(),
        &VerifiedValue::Bytecode(weth.bytecode.clone())
    );
}

#[test]
fn genesis_account_verifies_at_block_0() {
    let (header, block_hash, witness) = genesis_account_block0();
    assert_eq!(header.number, 0);
    assert_eq!(header.hash, block_hash);
    let mainnet = genesis_networks()
        .into_iter()
        .find(|n| n.name == "mainnet")
        .unwrap();
    // The vector's block-0 header is mainnet's genesis header.
    assert_eq!(header, BlockHeader::decode(&mainnet.header_rlp).unwrap());
    assert_eq!(header.state_root, mainnet.state_root);

    let key = ContentKey::Account(AccountKey {
        address: GENESIS_ACCOUNT,
        state_root: header.state_root,
    });
    let (key, value) = over_the_wire(key, ContentValue::Account(witness));
    let verified = verify(key, value).expect("verifies");
    let VerifiedValue::Account(Some(account)) = verified.proven() else {
        panic!("expected an account, got {:?}", verified.proven());
    };
    assert_eq!(account.balance, U256::from(0x70c1cc73b00c80000u128));
    assert_eq!(account.nonce, 0);
    assert_eq!(account.code_hash, alloy_trie::KECCAK_EMPTY);
    assert_eq!(account.storage_root, alloy_trie::EMPTY_ROOT_HASH);
}

#[test]
fn genesis_witness_contains_an_extension_node() {
    use alloy_trie::nodes::TrieNode;
    let (_, _, witness) = genesis_account_block0();
    let kinds: Vec<_> = witness
        .nodes()
        .iter()
        .map(|n| match alloy_rlp::decode_exact::<TrieNode>(n).unwrap() {
            TrieNode::Branch(_) => 'B',
            TrieNode::Extension(_) => 'E',
            TrieNode::Leaf(_) => 'L',
            TrieNode::EmptyRoot => '0',
        })
        .collect();
    assert!(kinds.contains(&'E'), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&'L'));
}
