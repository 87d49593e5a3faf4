//! Our verdicts agree with alloy-trie's `verify_proof` on valid and tampered witnesses.
//!
//! The property, for every witness tried: when we accept with a value, alloy accepts that value;
//! when alloy accepts the original value, we accept with that value, or reject for one of the
//! two documented ways in which we are stricter than alloy:
//!
//! - nodes after a path that diverged are extra nodes to us, ignored by alloy
//!   (`we_are_stricter_after_a_diverging_extension`);
//! - a leaf or extension whose even-length path has a non-zero padding nibble is malformed to
//!   us; alloy reads it as the canonical node (`we_are_stricter_about_path_padding`).

use crate::support::vectors;

use alloy_primitives::{keccak256, Address, B256, U256};
use alloy_trie::nodes::TrieNode;
use alloy_trie::proof::verify_proof;
use alloy_trie::{Nibbles, TrieAccount};
use portal_state::content::Witness;
use portal_state::proof::{
    build_witnesses, verify_account, verify_storage, GenesisAccount, GenesisAlloc, ProofError,
    TrieKind,
};
use vectors::{
    genesis_account_block0, read_text, rehashed_mutation, tampered_witnesses, weth_19m, XorShift,
    WETH,
};

/// alloy's verdict on `witness` proving `value` (RLP leaf value, `None` = absent) for `address`.
fn alloy_accepts_account(
    root: B256,
    address: Address,
    value: Option<&TrieAccount>,
    witness: &Witness,
) -> bool {
    verify_proof(
        root,
        Nibbles::unpack(keccak256(address)),
        value.map(alloy_rlp::encode),
        witness.nodes(),
    )
    .is_ok()
}

/// Check the agreement property for one account witness; `original` is the value the untampered
/// witness proves.
fn check_account(
    root: B256,
    address: Address,
    original: Option<&TrieAccount>,
    witness: &Witness,
    name: &str,
) -> Result<Option<TrieAccount>, ProofError> {
    let ours = verify_account(root, address, witness);
    if let Ok(value) = &ours {
        assert!(
            alloy_accepts_account(root, address, value.as_ref(), witness),
            "{name}: we accept {value:?}, alloy does not"
        );
    }
    if alloy_accepts_account(root, address, original, witness) {
        match &ours {
            Ok(value) => assert_eq!(value.as_ref(), original, "{name}"),
            Err(e) => assert!(
                is_documented_strictness(e),
                "{name}: alloy accepts the original value, we say {e:?}"
            ),
        }
    }
    ours
}

/// The errors by which we reject what alloy accepts (see the module docs).
fn is_documented_strictness(error: &ProofError) -> bool {
    match error {
        ProofError::UnexpectedExtraNodes { .. } => true,
        ProofError::MalformedNode { reason, .. } => reason.contains("non-canonical"),
        _ => false,
    }
}

#[test]
fn weth_account_valid_and_tampered() {
    let weth = weth_19m();
    let root = weth.header.state_root;
    let account = verify_account(root, WETH, &weth.account_witness)
        .unwrap()
        .unwrap();
    assert!(alloy_accepts_account(
        root,
        WETH,
        Some(&account),
        &weth.account_witness
    ));
    let mut rejected = 0;
    for (name, witness) in tampered_witnesses(&weth.account_witness) {
        if check_account(root, WETH, Some(&account), &witness, &name).is_err() {
            rejected += 1;
        }
    }
    assert!(rejected > 7_000, "{rejected}");
}

#[test]
fn weth_account_rehashed_mutations() {
    let weth = weth_19m();
    let account = verify_account(weth.header.state_root, WETH, &weth.account_witness)
        .unwrap()
        .unwrap();
    let (mut ok, mut err) = (0, 0);
    for (index, node) in weth.account_witness.nodes().iter().enumerate() {
        for pos in 0..node.len() {
            let Some((root, witness)) = rehashed_mutation(&weth.account_witness, index, pos, 0x01)
            else {
                continue;
            };
            let name = format!("rehashed node {index} byte {pos}");
            match check_account(root, WETH, Some(&account), &witness, &name) {
                Ok(_) => ok += 1,
                Err(_) => err += 1,
            }
        }
    }
    assert!(ok > 500 && err > 100, "ok {ok}, err {err}");
}

#[test]
fn weth_storage_valid_and_tampered() {
    let weth = weth_19m();
    let root = weth.header.state_root;
    let account = verify_account(root, WETH, &weth.account_witness)
        .unwrap()
        .unwrap();
    let slot_key = Nibbles::unpack(keccak256(U256::from(2).to_be_bytes::<32>()));
    let eighteen = alloy_rlp::encode(U256::from(18));
    let alloy_accepts = |witness: &Witness, value: Option<Vec<u8>>| {
        verify_proof(account.storage_root, slot_key, value, witness.nodes()).is_ok()
    };
    assert!(alloy_accepts(&weth.storage_witness, Some(eighteen.clone())));
    for (name, storage) in tampered_witnesses(&weth.storage_witness) {
        let ours = verify_storage(root, WETH, U256::from(2), &weth.account_witness, &storage);
        if let Ok(value) = ours {
            let value = (!value.is_zero()).then(|| alloy_rlp::encode(value));
            assert!(alloy_accepts(&storage, value), "{name}: {ours:?}");
        }
        if alloy_accepts(&storage, Some(eighteen.clone())) {
            assert_eq!(ours, Ok(U256::from(18)), "{name}");
        }
        assert!(ours.is_err(), "{name}: {ours:?}");
    }
}

#[test]
fn mainnet_genesis_present_and_absent_accounts() {
    let alloc = GenesisAlloc::from_json(&read_text("data/genesis/mainnet.json")).unwrap();
    let built = build_witnesses(&alloc);
    let root = built.state_root;
    for (address, _) in alloc.iter() {
        let witness = built.account_witness(*address);
        let account = verify_account(root, *address, &witness).unwrap();
        assert!(account.is_some());
        assert_eq!(
            check_account(root, *address, account.as_ref(), &witness, "present"),
            Ok(account)
        );
    }
    let mut rng = XorShift(0xfeed);
    for _ in 0..2_000 {
        let address = Address::from_slice(&rng.bytes(20));
        let witness = built.account_witness(address);
        assert_eq!(
            check_account(root, address, None, &witness, "absent"),
            Ok(None)
        );
        assert!(alloy_accepts_account(root, address, None, &witness));
    }
    // The block-0 vector's witness agrees too.
    let (header, _, witness) = genesis_account_block0();
    assert_eq!(header.state_root, root);
    let account = verify_account(root, vectors::GENESIS_ACCOUNT, &witness)
        .unwrap()
        .unwrap();
    assert_eq!(
        witness,
        built.account_witness(vectors::GENESIS_ACCOUNT),
        "our builder emits the same witness as the real vector"
    );
    for (name, tampered) in tampered_witnesses(&witness) {
        let ours = check_account(
            root,
            vectors::GENESIS_ACCOUNT,
            Some(&account),
            &tampered,
            &name,
        );
        assert!(ours.is_err(), "{name}");
    }
}

/// Addresses `(a, b, absent)`: `keccak(a)` and `keccak(b)` share only their first nibble, so a
/// state of `a` and `b` is an extension over a branch; `keccak(absent)` differs in the first
/// nibble but has `keccak(a)`'s second nibble.
fn extension_trio() -> (Address, Address, Address) {
    let nibbles = |address: &Address| {
        let hash = keccak256(address);
        (hash[0] >> 4, hash[0] & 0x0f)
    };
    let candidates: Vec<Address> = (0u64..4096)
        .map(|i| Address::left_padding_from(&i.to_be_bytes()))
        .collect();
    let a = candidates[0];
    let (a1, a2) = nibbles(&a);
    let b = *candidates[1..]
        .iter()
        .find(|c| nibbles(c).0 == a1 && nibbles(c).1 != a2)
        .unwrap();
    let absent = *candidates[1..]
        .iter()
        .find(|c| nibbles(c).0 != a1 && nibbles(c).1 == a2)
        .unwrap();
    (a, b, absent)
}

#[test]
fn we_are_stricter_after_a_diverging_extension() {
    let (a, b, absent) = extension_trio();
    let alloc: GenesisAlloc = [a, b]
        .into_iter()
        .map(|address| (address, GenesisAccount::with_balance(U256::from(1))))
        .collect();
    let built = build_witnesses(&alloc);
    let root = built.state_root;
    let witness_of_a = built.account_witness(a);
    let kinds: Vec<_> = witness_of_a
        .nodes()
        .iter()
        .map(|n| match alloy_rlp::decode_exact::<TrieNode>(n).unwrap() {
            TrieNode::Extension(e) => format!("E{}", e.key.len()),
            TrieNode::Branch(_) => "B".into(),
            TrieNode::Leaf(_) => "L".into(),
            TrieNode::EmptyRoot => "0".into(),
        })
        .collect();
    assert_eq!(kinds, ["E1", "B", "L"]);

    // The extension alone proves `absent` absent, to both.
    let exclusion = built.account_witness(absent);
    assert_eq!(exclusion.nodes().len(), 1);
    assert_eq!(
        check_account(root, absent, None, &exclusion, "exclusion"),
        Ok(None)
    );
    // alloy also accepts `a`'s whole witness as proof that `absent` is absent: its walk goes on
    // below the diverged extension. To us the branch and leaf are extra nodes.
    assert!(alloy_accepts_account(root, absent, None, &witness_of_a));
    assert_eq!(
        verify_account(root, absent, &witness_of_a),
        Err(ProofError::UnexpectedExtraNodes {
            trie: TrieKind::Account,
            last_used: 0,
            extra: 2
        })
    );
}

#[test]
fn we_are_stricter_about_path_padding() {
    let weth = weth_19m();
    let account = verify_account(weth.header.state_root, WETH, &weth.account_witness)
        .unwrap()
        .unwrap();
    // WETH's leaf starts f8 71 9d 20: the path's flag byte 0x20 (even leaf) is at offset 3.
    let leaf = &weth.account_witness.nodes()[8];
    assert_eq!(leaf[3], 0x20);
    let (root, padded) = rehashed_mutation(&weth.account_witness, 8, 3, 0x01).unwrap();
    assert!(alloy_accepts_account(root, WETH, Some(&account), &padded));
    assert!(matches!(
        verify_account(root, WETH, &padded),
        Err(ProofError::MalformedNode { index: 8, ref reason, .. }) if reason.contains("non-canonical")
    ));
}
