//! The fuzz corpora and regression inputs, replayed on stable Rust.
//!
//! Every file under `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/` goes through the
//! very checks the fuzz target runs (`fuzz/src/lib.rs`, included here): no panic, and every
//! property of that target holds. So a crash the fuzzer once found stays fixed in a plain
//! `cargo test`, without nightly or libFuzzer.
//!
//! The seed corpus is made from the repository's real vectors by
//! `PORTAL_STATE_WRITE_FUZZ_SEEDS=1 cargo test --test fuzz_corpus write_seed_corpus`.

use crate::support::vectors;

#[allow(dead_code)]
#[path = "../../fuzz/src/lib.rs"]
mod fuzz_checks;

use alloy_primitives::{hex, Bytes, U256};
use base64::Engine;
use fuzz_checks::TARGETS;
use portal_state::content::{AccountKey, BytecodeKey, ContentKey, ContentValue, StorageKey};
use portal_state::proof::{verify, BlockHeader, VerifiedValue};
use portal_state::wire::framing;
use serde_yaml::Value;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

fn fuzz_dir(kind: &str, target: &str) -> PathBuf {
    vectors::repo_file(&format!("fuzz/{kind}/{target}"))
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs one target's check on every file of `dir`; returns how many files ran and the failures.
fn replay(target: &str, check: fuzz_checks::Check, dir: &Path) -> (usize, Vec<String>) {
    let mut failures = Vec::new();
    let files = files_in(dir);
    for file in &files {
        let data = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| check(&data))) {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.push(format!("{target}: {}: {message}", file.display()));
        }
    }
    (files.len(), failures)
}

#[test]
fn every_corpus_and_regression_input_passes_its_target() {
    let mut failures = Vec::new();
    for (target, check) in TARGETS {
        let (seeds, mut failed) = replay(target, check, &fuzz_dir("corpus", target));
        assert!(seeds > 0, "fuzz/corpus/{target} has no seed inputs");
        failures.append(&mut failed);
        let (_, mut failed) = replay(target, check, &fuzz_dir("regressions", target));
        failures.append(&mut failed);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_target_has_a_corpus_and_no_stray_directories() {
    let names: Vec<&str> = TARGETS.iter().map(|(name, _)| *name).collect();
    for kind in ["corpus", "regressions"] {
        let root = vectors::repo_file(&format!("fuzz/{kind}"));
        for entry in std::fs::read_dir(&root).unwrap_or_else(|e| panic!("{kind}: {e}")) {
            let entry = entry.unwrap();
            if !entry.path().is_dir() {
                continue;
            }
            let name = entry.file_name().into_string().unwrap();
            assert!(
                names.contains(&name.as_str()),
                "fuzz/{kind}/{name} is no fuzz target: its inputs would never be replayed"
            );
        }
    }
}

/// The proof seeds are the real witnesses: the checks' "only the true value" oracle is tested
/// against data that does verify, not only against garbage.
#[test]
fn the_proof_seeds_verify_to_the_real_values() {
    let dir = fuzz_dir("corpus", "proof_verify");
    let mut proven = [false; 3];
    for file in files_in(&dir) {
        let data = std::fs::read(&file).unwrap();
        let Some((&mode, bytes)) = data.split_first() else {
            continue;
        };
        if mode >= 3 {
            continue;
        }
        let key = weth_keys()[usize::from(mode)];
        let value = ContentValue::decode(&key, bytes).unwrap();
        match verify(key, value).unwrap().proven() {
            VerifiedValue::Account(Some(account)) => {
                assert_eq!(account.code_hash, fuzz_checks::WETH_CODE_HASH)
            }
            VerifiedValue::Storage(value) => assert_eq!(*value, U256::from(18)),
            VerifiedValue::Bytecode(code) => assert_eq!(code.len(), 3124),
            other => panic!("{}: {other:?}", file.display()),
        }
        proven[usize::from(mode)] = true;
    }
    assert_eq!(
        proven, [true; 3],
        "a real account, storage and bytecode seed"
    );
}

/// Found by the `utp_framing` target (`fuzz/regressions/utp_framing/non-minimal-leb128-c200`):
/// `read_varint` took non-minimal LEB128 (`0xc2 0x00` for 66, `0x80 0x00` for 0), so two
/// different byte strings framed the same uTP item.
#[test]
fn regression_non_minimal_leb128_length_is_rejected() {
    let input =
        std::fs::read(fuzz_dir("regressions", "utp_framing").join("non-minimal-leb128-c200"))
            .unwrap();
    assert_eq!(input, [0xc2, 0x00, 0x6c]);
    assert!(framing::read_varint(&input).is_err());
    assert!(framing::read_varint(&[0x80, 0x00]).is_err());
    // An item of 1 byte whose length is framed with a redundant zero group.
    assert!(framing::decode_items(&[0x81, 0x00, 0xaa], 1, 10).is_err());
    assert_eq!(
        framing::decode_items(&[0x01, 0xaa], 1, 10).unwrap(),
        [vec![0xaa]]
    );
    assert_eq!(framing::read_varint(&[0x00]).unwrap(), (0, 1));
    assert_eq!(framing::read_varint(&[0xc2, 0x01]).unwrap(), (0xc2, 2));
}

/// Found by the `proof_verify` target (`fuzz/regressions/proof_verify/`), whose alloy-trie
/// comparison flagged it: a one-node witness `c2 10 16`, an extension whose path diverges from
/// the key and whose child `0x16` is neither a hash nor a node, was accepted as a proof of
/// absence. It is no trie node (alloy-trie's walk fails decoding that child); now it is a
/// malformed node for us too.
#[test]
fn regression_diverging_extension_with_garbage_child_is_malformed() {
    let input = std::fs::read(
        fuzz_dir("regressions", "proof_verify").join("diverging-extension-garbage-child"),
    )
    .unwrap();
    let key = weth_keys()[0];
    let Ok(ContentValue::Account(witness)) = ContentValue::decode(&key, &input[1..]) else {
        panic!("the regression input is an account value");
    };
    assert_eq!(witness.nodes(), [Bytes::from_static(&[0xc2, 0x10, 0x16])]);
    let root = alloy_primitives::keccak256(&witness.nodes()[0]);
    let result = portal_state::proof::verify_account(root, fuzz_checks::WETH, &witness);
    assert!(
        matches!(
            result,
            Err(portal_state::proof::ProofError::MalformedNode { index: 0, .. })
        ),
        "{result:?}"
    );
    // The same extension with a hash child still proves absence: only the garbage was refused.
    let mut node = vec![0xe2, 0x10, 0xa0];
    node.extend_from_slice(&[0x11; 32]);
    let node = Bytes::from(node);
    let root = alloy_primitives::keccak256(&node);
    let witness = portal_state::content::Witness(vec![node]);
    assert_eq!(
        portal_state::proof::verify_account(root, fuzz_checks::WETH, &witness),
        Ok(None)
    );
}

fn weth_keys() -> [ContentKey; 3] {
    [
        ContentKey::Account(AccountKey {
            address: fuzz_checks::WETH,
            state_root: fuzz_checks::STATE_ROOT_19M,
        }),
        ContentKey::Storage(StorageKey {
            address: fuzz_checks::WETH,
            slot: U256::from(2),
            state_root: fuzz_checks::STATE_ROOT_19M,
        }),
        ContentKey::Bytecode(BytecodeKey {
            address: fuzz_checks::WETH,
            code_hash: fuzz_checks::WETH_CODE_HASH,
        }),
    ]
}

fn with_prefix(prefix: &[u8], bytes: &[u8]) -> Vec<u8> {
    let mut out = prefix.to_vec();
    out.extend_from_slice(bytes);
    out
}

fn yaml(relative: &str) -> Value {
    serde_yaml::from_str(&vectors::read_text(relative)).unwrap()
}

/// The seed inputs, by target, from the repository's real vectors.
fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut seeds = Vec::new();
    let mut add = |target: &'static str, name: &str, data: Vec<u8>| {
        seeds.push((target, name.to_string(), data))
    };

    // Wire messages and ping payloads: the spec's vectors (v2 unless legacy).
    let wire = yaml("tests/data/portal-network-specs/wire-message-vectors.yaml");
    for m in wire["messages"].as_sequence().unwrap() {
        let name = m["name"].as_str().unwrap();
        add(
            "wire_message",
            name,
            with_prefix(&[2], &vectors::hex_of(&m["expected"])),
        );
    }
    for m in wire["legacy_v0"].as_sequence().unwrap() {
        let name = m["name"].as_str().unwrap();
        add(
            "wire_message",
            name,
            with_prefix(&[0], &vectors::hex_of(&m["expected"])),
        );
    }
    for (i, m) in wire["ping_extensions"]
        .as_sequence()
        .unwrap()
        .iter()
        .enumerate()
    {
        let bytes = vectors::hex_of(&m["expected"]);
        let kind = m["payload_type"].as_u64().unwrap();
        // Pings and pongs come in pairs with one payload: one of each pair is enough.
        if i % 2 == 1 && kind != 65535 {
            continue;
        }
        add(
            "wire_message",
            &format!("ping_ext_{kind}_{i}"),
            with_prefix(&[2], &bytes),
        );
        // Ping/Pong: selector, enr_seq (8), payload_type (2), offset (4), then the payload.
        add(
            "ping_extension",
            &format!("type_{kind}_{i}"),
            with_prefix(&bytes[9..11], &bytes[15..]),
        );
    }

    // ENRs: those of the Nodes vector.
    for (i, text) in wire["messages"][2]["input"]["enrs"]
        .as_sequence()
        .unwrap()
        .iter()
        .enumerate()
    {
        let b64 = text.as_str().unwrap().strip_prefix("enr:").unwrap();
        let rlp = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(b64)
            .unwrap();
        add("enr", &format!("spec_nodes_{i}"), rlp);
    }

    // And a record like ours: address, the Portal field `p` and the older `pv`.
    let mut secret = [7u8; 32];
    let key = enr::CombinedKey::secp256k1_from_bytes(&mut secret).unwrap();
    let record: portal_state::net::Enr = enr::Enr::builder()
        .ip4(std::net::Ipv4Addr::LOCALHOST)
        .udp4(9009)
        .add_value(
            portal_state::net::ENR_KEY_P,
            &portal_state::net::PortalEnrField {
                pv_min: 0,
                pv_max: 2,
                chain_id: 1,
            },
        )
        .add_value("pv", &alloy_primitives::Bytes::from_static(&[0, 1, 2]))
        .build(&key)
        .unwrap();
    add(
        "enr",
        "portal_fields",
        portal_state::net::enr_to_rlp(&record),
    );

    // Content keys and values: WETH at mainnet block 19,000,000.
    let weth = vectors::weth_19m();
    let values = [
        ContentValue::Account(weth.account_witness.clone()),
        ContentValue::Storage {
            account_witness: weth.account_witness.clone(),
            storage_witness: weth.storage_witness.clone(),
        },
        ContentValue::Bytecode(weth.bytecode.clone()),
    ];
    let names = ["weth_account", "weth_slot2", "weth_code"];
    for (i, (key, value)) in weth_keys().iter().zip(&values).enumerate() {
        add("content_key", names[i], key.encode());
        add(
            "content_value",
            names[i],
            with_prefix(&[i as u8], &value.encode()),
        );
        add(
            "proof_verify",
            names[i],
            with_prefix(&[i as u8], &value.encode()),
        );
    }
    // The fuzzer-controlled root: the real witness (WETH present) and a block-0 witness of
    // another account (its path diverges from WETH's).
    add(
        "proof_verify",
        "derived_root_weth",
        with_prefix(&[3], &values[0].encode()),
    );
    let (_, _, genesis_witness) = vectors::genesis_account_block0();
    add(
        "proof_verify",
        "derived_root_genesis_account",
        with_prefix(&[3], &ContentValue::Account(genesis_witness).encode()),
    );

    // uTP framing: one value (a FindContent answer), and an offer's three items.
    add(
        "utp_framing",
        "one_account_value",
        with_prefix(
            &[1, 0xff, 0xff],
            &framing::encode_items(&[values[0].encode()]),
        ),
    );
    let items: Vec<Vec<u8>> = values.iter().map(|v| v.encode()).collect();
    add(
        "utp_framing",
        "three_offered_values",
        with_prefix(&[64, 0x00, 0x80], &framing::encode_items(&items)),
    );
    add(
        "utp_framing",
        "small_items",
        with_prefix(
            &[64, 0x00, 0x01],
            &framing::encode_items(&[Bytes::from_static(b"a"), Bytes::new()]),
        ),
    );

    // Block headers: block 19,000,000 and the three genesis headers.
    add("block_header", "mainnet_19000000", weth.header.rlp.to_vec());
    for network in vectors::genesis_networks() {
        BlockHeader::decode(&network.header_rlp).expect("a genesis header");
        add(
            "block_header",
            &format!("{}_genesis", network.name),
            network.header_rlp,
        );
    }
    seeds
}

/// Rewrites `fuzz/corpus/` from the vectors when asked to; otherwise checks that every seed is
/// there, unchanged (the fuzzer's own finds may sit beside them).
#[test]
fn write_seed_corpus() {
    let write = std::env::var_os("PORTAL_STATE_WRITE_FUZZ_SEEDS").is_some();
    for (target, name, data) in seeds() {
        let path = fuzz_dir("corpus", target).join(format!("seed-{name}"));
        if write {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &data).unwrap();
        } else {
            let stored = std::fs::read(&path).unwrap_or_default();
            if name == "portal_fields" {
                // A new signature each time it is made (random signing nonce): the stored one must
                // be a valid record with the same fields.
                let stored = portal_state::net::enr_from_rlp(&stored).unwrap();
                let made = portal_state::net::enr_from_rlp(&data).unwrap();
                assert_eq!(stored.public_key(), made.public_key());
                assert_eq!(
                    portal_state::net::PortalEnrField::from_enr(&stored),
                    portal_state::net::PortalEnrField::from_enr(&made)
                );
                continue;
            }
            assert_eq!(
                hex::encode(stored),
                hex::encode(&data),
                "{} is not the seed the vectors give; rewrite with PORTAL_STATE_WRITE_FUZZ_SEEDS=1",
                path.display()
            );
        }
    }
}
