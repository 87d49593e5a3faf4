//! Proofs files: real mainnet proofs at block 19,000,000 (WETH's account, its slot 2 and its
//! code) rewritten as `eth_getProof` results, loaded, verified, pushed into a local network and
//! found back from a light node; and every way of spoiling such a file is refused, naming the
//! item.

use crate::support::nodes;
use crate::support::vectors;

use alloy_primitives::{hex, keccak256, Bytes, B256, U256};
use nodes::*;
use portal_state::bridge::{proofs_file_content, push, AccountProof, BridgeError, StorageProof};
use portal_state::content::{AccountKey, BytecodeKey, ContentKey, StorageKey};
use portal_state::network::Network;
use portal_state::proof::{verify_account, verify_storage, VerifiedValue};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use vectors::{weth_19m, WETH};

const FILE: &str = "tests/data/proofs/weth-19000000.json";

/// The proofs file, derived from the portal-spec-tests vectors.
fn derive_file() -> String {
    let weth = weth_19m();
    let root = weth.header.state_root;
    let account = verify_account(root, WETH, &weth.account_witness)
        .unwrap()
        .expect("WETH exists");
    let slot = U256::from(2);
    let value = verify_storage(
        root,
        WETH,
        slot,
        &weth.account_witness,
        &weth.storage_witness,
    )
    .unwrap();
    let proof = AccountProof {
        address: WETH,
        balance: account.balance,
        nonce: account.nonce,
        code_hash: account.code_hash,
        storage_hash: account.storage_root,
        account_proof: weth.account_witness.clone(),
        storage_proof: vec![StorageProof {
            slot,
            value,
            proof: weth.storage_witness.clone(),
        }],
    };
    let file = json!({
        "header_rlp": format!("0x{}", hex::encode(&weth.header.rlp)),
        "proofs": [proof.to_json()],
        "code": { format!("{:#x}", keccak256(&weth.bytecode)): format!("{:#x}", weth.bytecode) },
    });
    serde_json::to_string_pretty(&file).unwrap() + "\n"
}

fn checked_in_file() -> String {
    let derived = derive_file();
    let path = repo_file(FILE);
    if std::env::var_os("PORTAL_STATE_WRITE_PROOFS").is_some() {
        std::fs::write(&path, &derived).unwrap();
    }
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{FILE}: {e}"));
    assert!(
        text == derived,
        "{FILE} is not what the vectors give; rewrite it with PORTAL_STATE_WRITE_PROOFS=1"
    );
    text
}

#[test]
fn the_file_loads_into_three_verified_items() {
    let (header, items) = proofs_file_content(&checked_in_file()).unwrap();
    assert_eq!(header.number, 19_000_000);
    assert_eq!(items.len(), 3);
    let weth = weth_19m();
    let root = weth.header.state_root;
    assert_eq!(
        items[0].key(),
        &ContentKey::Account(AccountKey {
            address: WETH,
            state_root: root
        })
    );
    assert_eq!(
        items[1].key(),
        &ContentKey::Storage(StorageKey {
            address: WETH,
            slot: U256::from(2),
            state_root: root
        })
    );
    assert_eq!(items[1].proven(), &VerifiedValue::Storage(U256::from(18)));
    assert_eq!(items[2].proven(), &VerifiedValue::Bytecode(weth.bytecode));
}

/// Change `f` of the file and expect an error whose text contains each of `needles`.
fn refused(file: &Value, change: impl FnOnce(&mut Value), needles: &[&str]) {
    let mut copy = file.clone();
    change(&mut copy);
    let err = proofs_file_content(&copy.to_string()).expect_err("refused");
    let text = err.to_string();
    for needle in needles {
        assert!(text.contains(needle), "{text:?} lacks {needle:?}");
    }
}

#[test]
fn spoiled_files_are_refused_naming_the_item() {
    let file: Value = serde_json::from_str(&checked_in_file()).unwrap();
    let weth = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2";
    refused(
        &file,
        |f| f["proofs"][0]["balance"] = json!("0x1"),
        &[weth, "balance"],
    );
    refused(
        &file,
        |f| f["proofs"][0]["nonce"] = json!("0x2"),
        &[weth, "nonce"],
    );
    refused(
        &file,
        |f| f["proofs"][0]["storageHash"] = json!(format!("{:#x}", B256::ZERO)),
        &[weth, "storageHash"],
    );
    refused(
        &file,
        |f| f["proofs"][0]["storageProof"][0]["value"] = json!("0x6"),
        &[weth, "slot 0x2", "value"],
    );
    // A node of the account proof altered.
    refused(
        &file,
        |f| {
            let node = f["proofs"][0]["accountProof"][3]
                .as_str()
                .unwrap()
                .to_string();
            let flipped = format!(
                "{}{}",
                &node[..40],
                if &node[40..41] == "0" { "1" } else { "0" }
            );
            f["proofs"][0]["accountProof"][3] = json!(flipped + &node[41..]);
        },
        &["account", weth, "does not verify"],
    );
    // The storage proof cut short.
    refused(
        &file,
        |f| {
            f["proofs"][0]["storageProof"][0]["proof"]
                .as_array_mut()
                .unwrap()
                .pop();
        },
        &["storage", weth, "slot 0x2"],
    );
    // Another block's header: nothing verifies against its root.
    refused(
        &file,
        |f| {
            let (genesis, _, _) = vectors::genesis_account_block0();
            f["header_rlp"] = json!(format!("0x{}", hex::encode(&genesis.rlp)));
        },
        &["account", weth],
    );
    // Code that is not the account's.
    refused(
        &file,
        |f| {
            let code = Bytes::from_static(&[0x60, 0x00]);
            f["code"] = json!({ format!("{:#x}", keccak256(&code)): format!("{code:#x}") });
        },
        &["belongs to no account"],
    );
    // Code under a hash it does not have.
    refused(
        &file,
        |f| {
            let hash = f["code"]
                .as_object()
                .unwrap()
                .keys()
                .next()
                .unwrap()
                .clone();
            f["code"][hash] = json!("0x6000");
        },
        &["code 0x", "hashes to"],
    );
    refused(
        &file,
        |f| f["proofs"][0]["address"] = json!("0x1234"),
        &["proofs[0].address"],
    );
    refused(&file, |f| f["proofs"] = json!({}), &["proofs", "array"]);
    refused(&file, |f| f["header_rlp"] = json!("0xc0"), &["header"]);
    assert!(matches!(
        proofs_file_content("{not json"),
        Err(BridgeError::Json { .. })
    ));
}

/// Find `key` from `light`, trying again for a few seconds: a receiver stores what it accepted
/// only once the transfer is in, a moment after the bridge's push returns.
async fn find_soon(
    light: &Network,
    key: ContentKey,
) -> Result<portal_state::overlay::FoundContent, portal_state::network::NetworkError> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match light.find_content(key).await {
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            other => return other,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushed_proofs_are_found_from_a_light_node() {
    let (header, items) = proofs_file_content(&checked_in_file()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let nodes = start_network(dir.path(), 6, 10_000_000).await;
    trust_everywhere(&nodes, &header.rlp);
    let mut config = test_config(&dir.path().join("bridge"), 0);
    config.bootnodes = vec![nodes[0].enr()];
    let bridge = Network::start(config).await.unwrap();
    bridge.add_trusted_header(&header.rlp).unwrap();
    let report = push(&bridge, items.clone(), |_| {}).await;
    assert_eq!(report.unplaced, 0, "{report:?}");

    let mut config = test_config(&dir.path().join("light"), 0);
    config.bootnodes = vec![nodes[2].enr()];
    let light = Network::start(config).await.unwrap();
    light.add_trusted_header(&header.rlp).unwrap();
    let root = header.state_root;
    let weth = weth_19m();
    let account = find_soon(
        &light,
        ContentKey::Account(AccountKey {
            address: WETH,
            state_root: root,
        }),
    )
    .await
    .unwrap();
    let VerifiedValue::Account(Some(account)) = account.content.proven().clone() else {
        panic!("WETH's account");
    };
    assert_eq!(account.code_hash, keccak256(&weth.bytecode));
    let slot = find_soon(
        &light,
        ContentKey::Storage(StorageKey {
            address: WETH,
            slot: U256::from(2),
            state_root: root,
        }),
    )
    .await
    .unwrap();
    assert_eq!(
        slot.content.proven(),
        &VerifiedValue::Storage(U256::from(18))
    );
    let code = find_soon(
        &light,
        ContentKey::Bytecode(BytecodeKey {
            address: WETH,
            code_hash: account.code_hash,
        }),
    )
    .await
    .unwrap();
    assert_eq!(
        code.content.proven(),
        &VerifiedValue::Bytecode(weth.bytecode)
    );

    light.stop().await;
    bridge.stop().await;
    for node in nodes {
        node.stop().await;
    }
}
