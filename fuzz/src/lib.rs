//! What each fuzz target checks on one input.
//!
//! Every decoder that sees bytes from a peer gets arbitrary bytes. A target fails (panics) when
//! the code under test panics, and also when a property that must hold for every input does
//! not, so the fuzzer finds logic bugs and not only crashes:
//!
//! - decoders are canonical: what decodes re-encodes to the very bytes received, and decodes
//!   again to the same value (two byte strings never mean one message);
//! - decoders keep the limits they promise (item counts and sizes);
//! - the proof verifier, fed any node list against a real mainnet state root, accepts only
//!   witnesses that prove the true value; against a root the fuzzer controls, it proves present
//!   only what alloy-trie's verifier proves too, and never accepts a witness with a node
//!   appended.
//!
//! The main crate's `tests/offline/fuzz_corpus.rs` includes this file and runs every checked-in corpus
//! and regression input through these same functions on stable Rust.

use alloy_primitives::{address, b256, keccak256, Address, Bytes, B256, U256};
use alloy_trie::{Nibbles, TrieAccount};
use portal_state::content::{
    AccountKey, BytecodeKey, ContentKey, ContentValue, StorageKey, Witness,
};
use portal_state::net::{enr_from_rlp, enr_to_rlp, negotiate_version, PortalEnrField};
use portal_state::proof::{
    verify, verify_account, verify_storage, BlockHeader, ProofError, VerifiedValue,
};
use portal_state::wire::{
    framing, Message, PingExtension, PingPayload, ProtocolVersion, MAX_CONTENT_KEYS_PER_OFFER,
    MAX_ENRS, MAX_ENR_BYTES,
};

/// What a target runs on one input: returns when the input is handled correctly, panics when
/// it is not.
pub type Check = fn(&[u8]);

/// The target names, as directories of `fuzz/corpus/` and `fuzz/regressions/`, with their
/// checks.
pub const TARGETS: [(&str, Check); 8] = [
    ("wire_message", wire_message),
    ("ping_extension", ping_extension),
    ("content_key", content_key),
    ("content_value", content_value),
    ("proof_verify", proof_verify),
    ("enr", enr),
    ("utp_framing", utp_framing),
    ("block_header", block_header),
];

/// Mainnet's chain id: what the overlay negotiates versions for.
const MAINNET: u64 = 1;

/// The wire version a target input asks for, from its first byte.
fn version_of(byte: u8) -> ProtocolVersion {
    ProtocolVersion(byte % 3)
}

/// Input: one byte choosing the peer's protocol version (0, 1 or 2), then a TALKREQ/TALKRESP
/// payload. Legacy layouts (pre-extension Ping/Pong, v0 Accept bitlists) are reached through
/// the version byte and the payload itself.
pub fn wire_message(data: &[u8]) {
    let Some((&v, bytes)) = data.split_first() else {
        return;
    };
    let version = version_of(v);
    let Ok(message) = Message::decode(bytes, version) else {
        return;
    };
    let encoded = message.encode(version);
    assert_eq!(
        encoded, bytes,
        "{message:?} decoded from bytes it does not re-encode to"
    );
    assert_eq!(Message::decode(&encoded, version).as_ref(), Ok(&message));
    match &message {
        Message::Nodes(nodes) => {
            assert!(nodes.enrs.len() <= MAX_ENRS);
            for bytes in &nodes.enrs {
                assert!(bytes.len() <= MAX_ENR_BYTES);
                // The ENRs of a Nodes answer go through the ENR decoder the overlay uses.
                enr(bytes);
            }
        }
        Message::Content(portal_state::wire::Content::Enrs(enrs)) => {
            assert!(enrs.len() <= MAX_ENRS);
            enrs.iter().for_each(|bytes| enr(bytes));
        }
        Message::Offer(offer) => {
            assert!(offer.content_keys.len() <= MAX_CONTENT_KEYS_PER_OFFER);
            offer.content_keys.iter().for_each(|key| content_key(key));
        }
        Message::FindContent(find) => content_key(&find.content_key),
        Message::Accept(accept) => assert!(accept.codes.len() <= MAX_CONTENT_KEYS_PER_OFFER),
        Message::Ping(ping) => ping_payload(&ping.payload),
        Message::Pong(pong) => ping_payload(&pong.payload),
        Message::FindNodes(find) => {
            assert!(find.distances.iter().all(|&d| d <= 256));
        }
        Message::Content(_) => {}
    }
}

fn ping_payload(payload: &PingPayload) {
    if let PingPayload::Extension {
        payload_type,
        payload,
    } = payload
    {
        let mut input = payload_type.to_le_bytes().to_vec();
        input.extend_from_slice(payload);
        ping_extension(&input);
    }
}

/// Input: the payload type (2 bytes, little-endian), then the extension payload.
pub fn ping_extension(data: &[u8]) {
    let Some((kind, payload)) = data.split_first_chunk::<2>() else {
        return;
    };
    let payload_type = u16::from_le_bytes(*kind);
    let Ok(extension) = PingExtension::decode(payload_type, payload) else {
        return;
    };
    assert_eq!(extension.payload_type(), payload_type);
    let encoded = extension.encode();
    assert_eq!(encoded, payload, "{extension:?} does not re-encode");
    assert_eq!(
        PingExtension::decode(payload_type, &encoded).as_ref(),
        Ok(&extension)
    );
    // Carried in a Ping, it survives the message layer unchanged.
    let ping = Message::Ping(portal_state::wire::Ping {
        enr_seq: 1,
        payload: PingPayload::Extension {
            payload_type,
            payload: encoded.into(),
        },
    });
    assert_eq!(
        Message::decode(&ping.encode(ProtocolVersion::V2), ProtocolVersion::V2).as_ref(),
        Ok(&ping)
    );
}

/// Input: an encoded content key.
pub fn content_key(data: &[u8]) {
    let Ok(key) = ContentKey::decode(data) else {
        return;
    };
    assert_eq!(key.encode(), data, "{key:?} does not re-encode");
    assert_eq!(key.selector(), data[0]);
    // Every key has a content id; computing it never fails.
    let _ = key.content_id();
}

/// A key of each content type, chosen by one input byte; only the type matters to decoding.
fn key_of_kind(byte: u8) -> ContentKey {
    match byte % 3 {
        0 => ContentKey::Account(AccountKey {
            address: WETH,
            state_root: STATE_ROOT_19M,
        }),
        1 => ContentKey::Storage(StorageKey {
            address: WETH,
            slot: U256::from(2),
            state_root: STATE_ROOT_19M,
        }),
        _ => ContentKey::Bytecode(BytecodeKey {
            address: WETH,
            code_hash: WETH_CODE_HASH,
        }),
    }
}

/// Input: one byte choosing the content type (account, storage, bytecode), then the value.
pub fn content_value(data: &[u8]) {
    let Some((&kind, bytes)) = data.split_first() else {
        return;
    };
    let key = key_of_kind(kind);
    let Ok(value) = ContentValue::decode(&key, bytes) else {
        return;
    };
    let encoded = value.encode();
    assert_eq!(encoded, bytes, "{value:?} does not re-encode");
    assert_eq!(ContentValue::decode(&key, &encoded).as_ref(), Ok(&value));
}

/// WETH, whose account, slot 2 and code at mainnet block 19,000,000 are the real data the
/// verifier is checked against (`tests/data/portal-spec-tests`).
pub const WETH: Address = address!("c02aaa39b223fe8d0a0e5c4f27ead9083c756cc2");
/// The state root of mainnet block 19,000,000.
pub const STATE_ROOT_19M: B256 =
    b256!("1ad7b80af0c28bc1489513346d2706885be90abb07f23ca28e50482adb392d61");
/// WETH's code hash.
pub const WETH_CODE_HASH: B256 =
    b256!("d0a06b12ac47863b5c7be4185c2deaad1c61557033f56c7d4ea74429cbb25e23");
/// WETH's storage root at block 19,000,000.
const WETH_STORAGE_ROOT_19M: B256 =
    b256!("46d5eb15d44b160805e80d05e2a47d434053e6c4b3ef9d1111773039e9586661");

/// WETH's account at block 19,000,000: the only value an accepted account witness may prove.
fn weth_account_19m() -> TrieAccount {
    TrieAccount {
        nonce: 1,
        balance: U256::from(3_272_363_543_482_522_011_582_395u128),
        storage_root: WETH_STORAGE_ROOT_19M,
        code_hash: WETH_CODE_HASH,
    }
}

/// Input: one byte choosing the check, then an SSZ content value (as it arrives from a peer).
///
/// - `0`, `1`, `2`: the value for WETH's account, slot 2 or code against the real block
///   19,000,000 root (or code hash). Accepted means it proves the true value: anything else
///   would be a forgery.
/// - otherwise: an account witness for WETH against the root its first node hashes to, so the
///   fuzzer controls every node the walk decodes. An account we prove present, alloy-trie must
///   prove too, and the same witness with one more node must be rejected.
pub fn proof_verify(data: &[u8]) {
    let Some((&mode, bytes)) = data.split_first() else {
        return;
    };
    if mode < 3 {
        let key = key_of_kind(mode);
        let Ok(value) = ContentValue::decode(&key, bytes) else {
            return;
        };
        let Ok(verified) = verify(key, value) else {
            return;
        };
        match verified.proven() {
            VerifiedValue::Account(account) => {
                assert_eq!(
                    account.as_ref(),
                    Some(&weth_account_19m()),
                    "forged account"
                )
            }
            VerifiedValue::Storage(slot) => assert_eq!(*slot, U256::from(18), "forged slot"),
            VerifiedValue::Bytecode(code) => assert_eq!(keccak256(code), WETH_CODE_HASH),
            // Only the three leaf kinds are decoded here (`key_of_kind`).
            other => panic!("a leaf key proved {other:?}"),
        }
        return;
    }
    let key = key_of_kind(0);
    let Ok(ContentValue::Account(witness)) = ContentValue::decode(&key, bytes) else {
        return;
    };
    let Some(first) = witness.nodes().first() else {
        return;
    };
    let root = keccak256(first);
    let Ok(account) = verify_account(root, WETH, &witness) else {
        return;
    };
    // A proof of presence walks every node to the leaf, as alloy's verifier does. (Proofs of
    // absence are left out: alloy cannot take a root node under 32 bytes, which no real trie
    // has, and it checks off-path nodes to another depth than we do.)
    if let Some(account) = &account {
        assert!(
            alloy_trie::proof::verify_proof(
                root,
                Nibbles::unpack(keccak256(WETH)),
                Some(alloy_rlp::encode(account)),
                witness.nodes()
            )
            .is_ok(),
            "we accept {account:?}, alloy-trie does not"
        );
    }
    let mut longer = witness.nodes().to_vec();
    longer.push(Bytes::from_static(&[0x80]));
    assert!(matches!(
        verify_account(root, WETH, &Witness(longer)),
        Err(ProofError::UnexpectedExtraNodes { .. })
    ));
    // A proven account has a storage root; an empty storage witness proves nothing unless it
    // is the empty trie's.
    if let Some(account) = account {
        let r = verify_storage(root, WETH, U256::ZERO, &witness, &Witness::default());
        assert_eq!(
            r.is_ok(),
            account.storage_root == alloy_trie::EMPTY_ROOT_HASH,
            "{r:?}"
        );
    }
}

/// Input: an RLP-encoded ENR, as carried in Nodes and Content answers.
pub fn enr(data: &[u8]) {
    let Ok(record) = enr_from_rlp(data) else {
        return;
    };
    assert_eq!(enr_to_rlp(&record), data, "{record} does not re-encode");
    assert_eq!(enr_from_rlp(&enr_to_rlp(&record)).as_ref(), Ok(&record));
    // What the overlay asks of a decoded ENR: its id, its version and chain, its address.
    let _ = record.node_id();
    let _ = negotiate_version(&record, MAINNET);
    let _ = PortalEnrField::from_enr(&record);
    let _ = record.udp4_socket();
    let _ = record.udp6_socket();
}

/// Input: one byte for the most items (0..=64), two for the largest item (little-endian), then
/// a uTP payload of LEB128-framed items.
pub fn utp_framing(data: &[u8]) {
    if let Ok((value, used)) = framing::read_varint(data) {
        let mut out = Vec::new();
        framing::write_varint(value, &mut out);
        assert_eq!(out, data[..used], "varint {value} is not minimally encoded");
    }
    let Some(([max_items, lo, hi], payload)) = data.split_first_chunk::<3>() else {
        return;
    };
    let max_items = usize::from(*max_items) % (MAX_CONTENT_KEYS_PER_OFFER + 1);
    let max_item_bytes = usize::from(u16::from_le_bytes([*lo, *hi]));
    let Ok(items) = framing::decode_items(payload, max_items, max_item_bytes) else {
        return;
    };
    assert!(items.len() <= max_items);
    assert!(items.iter().all(|item| item.len() <= max_item_bytes));
    assert_eq!(
        framing::encode_items(&items),
        payload,
        "framing not canonical"
    );
}

/// Input: a block header's RLP.
pub fn block_header(data: &[u8]) {
    let Ok(header) = BlockHeader::decode(data) else {
        return;
    };
    assert_eq!(header.rlp, *data);
    assert_eq!(header.hash, keccak256(data));
    assert_eq!(BlockHeader::decode(&header.rlp).as_ref(), Ok(&header));
    // Exactly one RLP list: no prefix of it is a header.
    assert!(BlockHeader::decode(&data[..data.len() - 1]).is_err());
}
