//! Broken witnesses, wrong roots, wrong keys and wrong code are rejected with an error, never a
//! panic and never a wrong answer.

use crate::support::vectors;

use alloy_primitives::{keccak256, Address, Bytes, B256, U256};
use portal_state::content::{
    AccountKey, BytecodeKey, ContentKey, ContentValue, StorageKey, Witness,
};
use portal_state::proof::{
    build_witnesses, verify, verify_account, verify_bytecode, verify_storage, GenesisAlloc,
    ProofError, TrieKind,
};
use vectors::{
    genesis_account_block0, read_text, rehashed_mutation, tampered_witnesses, weth_19m, XorShift,
    GENESIS_ACCOUNT, WETH,
};

#[test]
fn every_tampered_weth_account_witness_is_rejected() {
    let weth = weth_19m();
    let root = weth.header.state_root;
    let cases = tampered_witnesses(&weth.account_witness);
    assert!(cases.len() > 2 * weth.account_witness.byte_len());
    for (name, witness) in &cases {
        let result = verify_account(root, WETH, witness);
        assert!(result.is_err(), "{name}: accepted as {result:?}");
    }
}

#[test]
fn a_flipped_byte_is_caught_at_the_node_it_is_in() {
    let weth = weth_19m();
    let root = weth.header.state_root;
    for (index, node) in weth.account_witness.nodes().iter().enumerate() {
        for pos in 0..node.len() {
            let mut nodes = weth.account_witness.nodes().to_vec();
            let mut bytes = node.to_vec();
            bytes[pos] ^= 0x10;
            nodes[index] = Bytes::from(bytes);
            match verify_account(root, WETH, &Witness(nodes)) {
                Err(ProofError::NodeHashMismatch {
                    trie: TrieKind::Account,
                    index: at,
                    ..
                }) => assert_eq!(at, index, "byte {pos}"),
                other => panic!("node {index} byte {pos}: {other:?}"),
            }
        }
    }
}

#[test]
fn removed_appended_and_missing_nodes_have_their_own_errors() {
    let weth = weth_19m();
    let root = weth.header.state_root;
    let nodes = weth.account_witness.nodes();

    let mut without_leaf = nodes.to_vec();
    without_leaf.pop();
    assert!(matches!(
        verify_account(root, WETH, &Witness(without_leaf)),
        Err(ProofError::MissingNodes { nodes: 8, .. })
    ));

    let mut with_extra = nodes.to_vec();
    with_extra.push(nodes[8].clone());
    assert_eq!(
        verify_account(root, WETH, &Witness(with_extra)),
        Err(ProofError::UnexpectedExtraNodes {
            trie: TrieKind::Account,
            last_used: 8,
            extra: 1
        })
    );

    assert_eq!(
        verify_account(root, WETH, &Witness::default()),
        Err(ProofError::EmptyWitness {
            trie: TrieKind::Account,
            root
        })
    );
}

#[test]
fn wrong_roots_are_rejected_at_the_first_node() {
    let weth = weth_19m();
    let (genesis_header, _, genesis_witness) = genesis_account_block0();
    let mut rng = XorShift(99);
    let mut roots = vec![
        genesis_header.state_root,
        B256::ZERO,
        alloy_trie::EMPTY_ROOT_HASH,
    ];
    roots.extend((0..100).map(|_| B256::from_slice(&rng.bytes(32))));
    for root in roots {
        assert!(matches!(
            verify_account(root, WETH, &weth.account_witness),
            Err(ProofError::NodeHashMismatch { index: 0, .. })
        ));
    }
    // And the block-0 witness against the block-19M root.
    assert!(matches!(
        verify_account(weth.header.state_root, GENESIS_ACCOUNT, &genesis_witness),
        Err(ProofError::NodeHashMismatch { index: 0, .. })
    ));
}

#[test]
fn a_witness_for_another_key_is_rejected() {
    let weth = weth_19m();
    let root = weth.header.state_root;
    let mut rng = XorShift(5);
    let mut others: Vec<Address> = (0..500)
        .map(|_| Address::from_slice(&rng.bytes(20)))
        .collect();
    // WETH with single bits flipped: keccak spreads them over the whole path.
    for bit in 0..160 {
        let mut bytes = WETH.0 .0;
        bytes[bit / 8] ^= 1 << (bit % 8);
        others.push(Address::from(bytes));
    }
    others.push(GENESIS_ACCOUNT);
    for other in others {
        let result = verify_account(root, other, &weth.account_witness);
        assert!(result.is_err(), "{other}: {result:?}");
    }
    // The WETH witness is no proof about the genesis account at block 0 either.
    let (genesis, _, witness) = genesis_account_block0();
    assert!(verify_account(genesis.state_root, WETH, &witness).is_err());
}

#[test]
fn tampered_storage_witnesses_and_wrong_slots_are_rejected() {
    let weth = weth_19m();
    let root = weth.header.state_root;
    let slot = U256::from(2);
    for (name, storage) in tampered_witnesses(&weth.storage_witness) {
        let result = verify_storage(root, WETH, slot, &weth.account_witness, &storage);
        assert!(result.is_err(), "storage {name}: {result:?}");
        if let Err(e) = result {
            // The account witness was fine; the error is about the storage trie.
            assert!(!format!("{e}").starts_with("account"), "{name}: {e}");
        }
    }
    for (name, account) in tampered_witnesses(&weth.account_witness) {
        let result = verify_storage(root, WETH, slot, &account, &weth.storage_witness);
        assert!(result.is_err(), "account {name}: {result:?}");
    }
    for other_slot in (0..64u64).filter(|s| *s != 2).map(U256::from) {
        let result = verify_storage(
            root,
            WETH,
            other_slot,
            &weth.account_witness,
            &weth.storage_witness,
        );
        assert!(result.is_err(), "slot {other_slot}: {result:?}");
    }
    // The account witness in place of the storage witness, and the reverse.
    assert!(verify_storage(
        root,
        WETH,
        slot,
        &weth.account_witness,
        &weth.account_witness
    )
    .is_err());
    assert!(verify_storage(
        root,
        WETH,
        slot,
        &weth.storage_witness,
        &weth.storage_witness
    )
    .is_err());
}

#[test]
fn tampered_bytecode_is_rejected() {
    let weth = weth_19m();
    let code_hash = keccak256(&weth.bytecode);
    for pos in 0..weth.bytecode.len() {
        let mut code = weth.bytecode.to_vec();
        code[pos] ^= 0x01;
        assert!(matches!(
            verify_bytecode(code_hash, &code),
            Err(ProofError::CodeHashMismatch { expected, .. }) if expected == code_hash
        ));
    }
    let mut longer = weth.bytecode.to_vec();
    longer.push(0);
    assert!(verify_bytecode(code_hash, &longer).is_err());
    assert!(verify_bytecode(code_hash, &weth.bytecode[1..]).is_err());
    assert!(verify_bytecode(code_hash, &[]).is_err());
}

#[test]
fn a_value_of_another_type_than_its_key_is_rejected() {
    let weth = weth_19m();
    let root = weth.header.state_root;
    let account_key = ContentKey::Account(AccountKey {
        address: WETH,
        state_root: root,
    });
    let storage_key = ContentKey::Storage(StorageKey {
        address: WETH,
        slot: U256::from(2),
        state_root: root,
    });
    let code_key = ContentKey::Bytecode(BytecodeKey {
        address: WETH,
        code_hash: keccak256(&weth.bytecode),
    });
    let account_value = ContentValue::Account(weth.account_witness.clone());
    let storage_value = ContentValue::Storage {
        account_witness: weth.account_witness.clone(),
        storage_witness: weth.storage_witness.clone(),
    };
    let code_value = ContentValue::Bytecode(weth.bytecode.clone());
    let values = [&account_value, &storage_value, &code_value];
    for (i, key) in [account_key, storage_key, code_key].into_iter().enumerate() {
        for (j, value) in values.iter().enumerate() {
            let result = verify(key, (*value).clone());
            if i == j {
                assert!(result.is_ok(), "{key:?}");
            } else {
                assert!(
                    matches!(result, Err(ProofError::KeyValueMismatch { .. })),
                    "{key:?} with value {j}"
                );
            }
        }
    }
}

#[test]
fn rehashed_mutations_never_panic_and_never_prove_weth_unchanged_wrongly() {
    // Each mutation is re-pointed up to a new root, so the walk must judge the mutated node on
    // its content. The result may be Ok (the mutation made another valid trie), but then the
    // answer differs from the original exactly when the mutated byte was in WETH's leaf.
    let weth = weth_19m();
    let original = verify_account(weth.header.state_root, WETH, &weth.account_witness)
        .unwrap()
        .unwrap();
    let (mut rejected, mut accepted) = (0, 0);
    for (index, node) in weth.account_witness.nodes().iter().enumerate() {
        for pos in 0..node.len() {
            for mask in [0x01, 0x80, 0xff] {
                let Some((root, witness)) =
                    rehashed_mutation(&weth.account_witness, index, pos, mask)
                else {
                    continue;
                };
                match verify_account(root, WETH, &witness) {
                    Err(_) => rejected += 1,
                    Ok(account) if index == 8 => {
                        // Only a change of the leaf can change the answer: another account,
                        // or (a changed path) a leaf of another key, proving WETH absent.
                        assert_ne!(account, Some(original), "leaf byte {pos} ^ {mask:#x}");
                        accepted += 1;
                    }
                    Ok(account) => {
                        // A change above the leaf, off WETH's path (a sibling's hash).
                        assert_eq!(account, Some(original), "node {index} byte {pos}");
                        accepted += 1;
                    }
                }
            }
        }
    }
    assert!(rejected > 1_000, "{rejected}");
    assert!(accepted > 1_000, "{accepted}");
}

#[test]
fn random_bytes_anchored_by_their_own_hash_are_errors_not_panics() {
    let mut rng = XorShift(1234);
    let key_address = WETH;
    let mut outcomes = [0usize; 2];
    for len in (0..600).step_by(3) {
        for _ in 0..20 {
            let mut node = rng.bytes(len);
            // Half of them get a plausible RLP list header so that decoding goes deeper.
            if len > 3 && rng.next_u64().is_multiple_of(2) {
                node[0] = 0xf9;
                node[1] = ((len - 3) >> 8) as u8;
                node[2] = (len - 3) as u8;
            }
            let root = keccak256(&node);
            let witness = Witness(vec![Bytes::from(node)]);
            let result = verify_account(root, key_address, &witness);
            outcomes[result.is_ok() as usize] += 1;
        }
    }
    assert!(outcomes[0] > 0);
}

#[test]
fn absence_is_not_proven_by_a_cut_inclusion_proof() {
    // Cutting an inclusion proof short never turns it into "absent".
    let alloc = GenesisAlloc::from_json(&read_text("data/genesis/mainnet.json")).unwrap();
    let built = build_witnesses(&alloc);
    for (address, _) in alloc.iter().take(500) {
        let witness = built.account_witness(*address);
        for keep in 0..witness.nodes().len() {
            let cut = Witness(witness.nodes()[..keep].to_vec());
            let result = verify_account(built.state_root, *address, &cut);
            assert!(result.is_err(), "{address} cut to {keep}: {result:?}");
        }
    }
}
