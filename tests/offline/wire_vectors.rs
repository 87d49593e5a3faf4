//! Every wire-message and ping-extension vector of the Portal specs round-trips byte for byte.
//!
//! Vectors: `tests/data/portal-network-specs/wire-message-vectors.yaml` (see its SOURCE.md).

use alloy_primitives::{hex, Bytes, U256};
use base64::Engine;
use portal_state::wire::{
    Accept, AcceptCode, Content, FindContent, FindNodes, Message, Nodes, Offer, Ping,
    PingExtension, PingPayload, Pong, ProtocolVersion, WireError,
};
use serde_yaml::Value;

fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/portal-network-specs/wire-message-vectors.yaml"
    );
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn hex_bytes(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

fn enr_bytes(text: &str) -> Bytes {
    let b64 = text.strip_prefix("enr:").unwrap();
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(b64)
        .unwrap()
        .into()
}

/// `2^256-2` and `(2^256-1)/2` as the vectors write them.
fn radius(expr: &str) -> U256 {
    match expr {
        "2^256-2" => U256::MAX - U256::from(1),
        "(2^256-1)/2" => U256::MAX >> 1,
        other => panic!("unknown radius expression {other}"),
    }
}

/// Encoding `message` gives `expected`, decoding `expected` gives `message`.
fn assert_roundtrip(name: &str, message: &Message, expected: &[u8], version: ProtocolVersion) {
    assert_eq!(
        hex::encode(message.encode(version)),
        hex::encode(expected),
        "{name}: encode"
    );
    assert_eq!(
        &Message::decode(expected, version).unwrap(),
        message,
        "{name}: decode"
    );
}

fn message_from_input(name: &str, input: &Value) -> Message {
    let enrs = |v: &Value| -> Vec<Bytes> {
        v.as_sequence()
            .unwrap()
            .iter()
            .map(|e| enr_bytes(e.as_str().unwrap()))
            .collect()
    };
    match name {
        "find_nodes" => Message::FindNodes(FindNodes {
            distances: input["distances"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(|d| d.as_u64().unwrap() as u16)
                .collect(),
        }),
        "nodes_empty" | "nodes_two_enrs" => Message::Nodes(Nodes {
            total: input["total"].as_u64().unwrap() as u8,
            enrs: enrs(&input["enrs"]),
        }),
        "find_content" => Message::FindContent(FindContent {
            content_key: hex_bytes(&input["content_key"]).into(),
        }),
        "content_connection_id" => {
            let id = hex_bytes(&input["connection_id"]);
            Message::Content(Content::ConnectionId(u16::from_be_bytes([id[0], id[1]])))
        }
        "content_payload" => {
            Message::Content(Content::Content(hex_bytes(&input["content"]).into()))
        }
        "content_enrs" => Message::Content(Content::Enrs(enrs(&input["enrs"]))),
        "offer" => Message::Offer(Offer {
            content_keys: input["content_keys"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(|k| hex_bytes(k).into())
                .collect(),
        }),
        "accept_v1_codes" => {
            let id = hex_bytes(&input["connection_id"]);
            Message::Accept(Accept {
                connection_id: u16::from_be_bytes([id[0], id[1]]),
                codes: input["content_keys"]
                    .as_sequence()
                    .unwrap()
                    .iter()
                    .map(|c| AcceptCode::from_byte(c.as_u64().unwrap() as u8))
                    .collect(),
            })
        }
        other => panic!("no constructor for vector {other}"),
    }
}

#[test]
fn wire_messages_roundtrip() {
    let v = vectors();
    let messages = v["messages"].as_sequence().unwrap();
    assert_eq!(messages.len(), 9, "every message vector is covered");
    for m in messages {
        let name = m["name"].as_str().unwrap();
        let message = message_from_input(name, &m["input"]);
        assert_roundtrip(
            name,
            &message,
            &hex_bytes(&m["expected"]),
            ProtocolVersion::V2,
        );
    }
}

#[test]
fn ping_extensions_roundtrip() {
    let v = vectors();
    let cases = v["ping_extensions"].as_sequence().unwrap();
    assert_eq!(cases.len(), 9);
    for case in cases {
        let input = &case["input"];
        let payload_type = case["payload_type"].as_u64().unwrap() as u16;
        let ext = match payload_type {
            0 => PingExtension::Capabilities {
                client_info: input["client_info"]
                    .as_str()
                    .unwrap()
                    .as_bytes()
                    .to_vec()
                    .into(),
                data_radius: radius(input["data_radius"].as_str().unwrap()),
                capabilities: input["capabilities"]
                    .as_sequence()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_u64().unwrap() as u16)
                    .collect(),
            },
            1 => PingExtension::BasicRadius {
                data_radius: radius(input["data_radius"].as_str().unwrap()),
            },
            2 => PingExtension::HistoryRadius {
                data_radius: radius(input["data_radius"].as_str().unwrap()),
                ephemeral_header_count: input["ephemeral_header_count"].as_u64().unwrap() as u16,
            },
            65535 => PingExtension::Error {
                error_code: input["error_code"].as_u64().unwrap() as u16,
                message: input["message"]
                    .as_str()
                    .unwrap()
                    .as_bytes()
                    .to_vec()
                    .into(),
            },
            other => panic!("unexpected payload type {other}"),
        };
        let payload = PingPayload::Extension {
            payload_type: ext.payload_type(),
            payload: ext.encode().into(),
        };
        let enr_seq = input["enr_seq"].as_u64().unwrap();
        let message = match input["kind"].as_str().unwrap() {
            "ping" => Message::Ping(Ping { enr_seq, payload }),
            "pong" => Message::Pong(Pong { enr_seq, payload }),
            other => panic!("unexpected kind {other}"),
        };
        let expected = hex_bytes(&case["expected"]);
        assert_roundtrip(
            &format!("ping type {payload_type}"),
            &message,
            &expected,
            ProtocolVersion::V2,
        );
        // And the payload decodes back into the same extension.
        let (Message::Ping(Ping {
            payload:
                PingPayload::Extension {
                    payload_type: t,
                    payload,
                },
            ..
        })
        | Message::Pong(Pong {
            payload:
                PingPayload::Extension {
                    payload_type: t,
                    payload,
                },
            ..
        })) = Message::decode(&expected, ProtocolVersion::V2).unwrap()
        else {
            panic!("not an extension ping")
        };
        assert_eq!(PingExtension::decode(t, &payload).unwrap(), ext);
    }
}

#[test]
fn legacy_v0_vectors_roundtrip() {
    let v = vectors();
    let cases = v["legacy_v0"].as_sequence().unwrap();
    assert_eq!(cases.len(), 3);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let input = &case["input"];
        let message = match name {
            "ping_v0_custom_payload" | "pong_v0_custom_payload" => {
                let enr_seq = input["enr_seq"].as_u64().unwrap();
                let r = radius(input["data_radius"].as_str().unwrap());
                let payload = PingPayload::Legacy(r.to_le_bytes::<32>().to_vec().into());
                if name.starts_with("ping") {
                    Message::Ping(Ping { enr_seq, payload })
                } else {
                    Message::Pong(Pong { enr_seq, payload })
                }
            }
            "accept_v0_bitlist" => {
                let id = hex_bytes(&input["connection_id"]);
                Message::Accept(Accept {
                    connection_id: u16::from_be_bytes([id[0], id[1]]),
                    codes: input["content_keys_bits"]
                        .as_sequence()
                        .unwrap()
                        .iter()
                        .map(|b| {
                            if b.as_u64() == Some(1) {
                                AcceptCode::Accepted
                            } else {
                                AcceptCode::Declined
                            }
                        })
                        .collect(),
                })
            }
            other => panic!("unexpected legacy vector {other}"),
        };
        assert_roundtrip(
            name,
            &message,
            &hex_bytes(&case["expected"]),
            ProtocolVersion::V0,
        );
    }
}

/// Every vector cut at every length, or with a byte added, is an error or a different message:
/// never a panic, never mistaken for the full message.
#[test]
fn truncated_and_extended_vectors_are_errors() {
    let v = vectors();
    let mut all: Vec<Vec<u8>> = Vec::new();
    for section in ["messages", "ping_extensions"] {
        for m in v[section].as_sequence().unwrap() {
            all.push(hex_bytes(&m["expected"]));
        }
    }
    for bytes in &all {
        let full = Message::decode(bytes, ProtocolVersion::V2).unwrap();
        for cut in 0..bytes.len() {
            // SSZ lists and byte lists can legally end early; then it is another message.
            if let Ok(m) = Message::decode(&bytes[..cut], ProtocolVersion::V2) {
                assert_ne!(m, full);
            }
        }
        let mut longer = bytes.clone();
        longer.push(0);
        if let Ok(m) = Message::decode(&longer, ProtocolVersion::V2) {
            assert_ne!(m, full);
        }
    }
}

#[test]
fn garbage_and_wrong_selectors_are_typed_errors() {
    assert_eq!(
        Message::decode(&[], ProtocolVersion::V2),
        Err(WireError::Empty)
    );
    assert_eq!(
        Message::decode(&[0x08], ProtocolVersion::V2),
        Err(WireError::UnknownSelector(0x08))
    );
    assert_eq!(
        Message::decode(&[0xff, 1, 2], ProtocolVersion::V2),
        Err(WireError::UnknownSelector(0xff))
    );
    assert_eq!(
        Message::decode(&[0x05, 0x03], ProtocolVersion::V2),
        Err(WireError::UnknownContentSelector(3))
    );
    assert!(matches!(
        Message::decode(&[0x05], ProtocolVersion::V2),
        Err(WireError::Malformed { .. })
    ));
    assert!(matches!(
        Message::decode(&[0x05, 0x00, 0x01], ProtocolVersion::V2),
        Err(WireError::Malformed { .. })
    ));
    // A deterministic stream of pseudo-random inputs under every selector: never a panic.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for len in 0..600 {
        let mut bytes = Vec::with_capacity(len + 1);
        bytes.push((len % 9) as u8);
        for _ in 0..len {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            bytes.push(state as u8);
        }
        for version in [ProtocolVersion::V0, ProtocolVersion::V2] {
            let _ = Message::decode(&bytes, version);
        }
    }
}

#[test]
fn limits_are_enforced_on_decode() {
    let v2 = ProtocolVersion::V2;
    let too_many_enrs = Message::Nodes(Nodes {
        total: 1,
        enrs: vec![Bytes::from_static(&[0xc0]); 33],
    });
    assert!(matches!(
        Message::decode(&too_many_enrs.encode(v2), v2),
        Err(WireError::OverLimit { field: "enrs", .. })
    ));
    let big_enr = Message::Content(Content::Enrs(vec![Bytes::from(vec![0u8; 2049])]));
    assert!(matches!(
        Message::decode(&big_enr.encode(v2), v2),
        Err(WireError::OverLimit { .. })
    ));
    let big_key = Message::FindContent(FindContent {
        content_key: vec![0u8; 2049].into(),
    });
    assert!(matches!(
        Message::decode(&big_key.encode(v2), v2),
        Err(WireError::OverLimit { .. })
    ));
    let big_content = Message::Content(Content::Content(vec![0u8; 2049].into()));
    assert!(matches!(
        Message::decode(&big_content.encode(v2), v2),
        Err(WireError::OverLimit { .. })
    ));
    let many_keys = Message::Offer(Offer {
        content_keys: vec![Bytes::from_static(&[0]); 65],
    });
    assert!(matches!(
        Message::decode(&many_keys.encode(v2), v2),
        Err(WireError::OverLimit { .. })
    ));
    let ok_keys = Message::Offer(Offer {
        content_keys: vec![Bytes::from_static(&[0]); 64],
    });
    assert!(Message::decode(&ok_keys.encode(v2), v2).is_ok());
    let many_codes = Message::Accept(Accept {
        connection_id: 1,
        codes: vec![AcceptCode::Accepted; 65],
    });
    assert!(matches!(
        Message::decode(&many_codes.encode(v2), v2),
        Err(WireError::OverLimit { .. })
    ));
    let big_ping = Message::Ping(Ping {
        enr_seq: 1,
        payload: PingPayload::Extension {
            payload_type: 1,
            payload: vec![0u8; 1101].into(),
        },
    });
    assert!(matches!(
        Message::decode(&big_ping.encode(v2), v2),
        Err(WireError::OverLimit { .. })
    ));
    let bad_distance = Message::FindNodes(FindNodes {
        distances: vec![257],
    });
    assert!(matches!(
        Message::decode(&bad_distance.encode(v2), v2),
        Err(WireError::InvalidDistances(_))
    ));
    let repeated = Message::FindNodes(FindNodes {
        distances: vec![5, 5],
    });
    assert!(matches!(
        Message::decode(&repeated.encode(v2), v2),
        Err(WireError::InvalidDistances(_))
    ));
    let all = Message::FindNodes(FindNodes {
        distances: (0..=256).collect(),
    });
    assert!(Message::decode(&all.encode(v2), v2).is_ok());
    // Capability list over 400 entries in a type-0 payload.
    let caps = PingExtension::Capabilities {
        client_info: Bytes::new(),
        data_radius: U256::MAX,
        capabilities: vec![0; 401],
    };
    assert!(PingExtension::decode(0, &caps.encode()).is_err());
    assert!(PingExtension::decode(7, &[]).is_err());
}
