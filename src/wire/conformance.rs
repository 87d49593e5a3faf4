//! The rules every message we *send* must follow, stricter than what we accept.
//!
//! A receiver takes what the spec lets a peer rely on (distances in any order, accept codes
//! 7-255 read as declines, any client info); a sender must write what every client in the field
//! parses. trin, for one, drops a whole type-0 ping payload whose client info is not its four
//! parts, and reads accept code 6 as "unspecified". [`check_outgoing`] checks the bytes of one
//! outgoing message against these rules; the overlay runs it on everything it sends (counting
//! violations), and the tests assert that nothing it sent broke one.

use super::message::{Message, PingPayload};
use super::ping::{PingExtension, MAX_CLIENT_INFO_BYTES};
use super::WireError;
use crate::net::ProtocolVersion;

/// Largest TALKREQ/TALKRESP payload that fits one discv5 packet (1280 bytes, which discv5
/// refuses to exceed) on an established session: 1280 minus the masking IV (16), the static
/// header (23), the message authdata (32), the message type (1), the RLP of
/// `[request_id (8 bytes), protocol (2 bytes), payload]` around the payload (3 + 9 + 3 + 3) and
/// the AES-GCM tag (16).
pub const MAX_TALK_PAYLOAD_BYTES: usize = 1174;

/// Most distances in one FindNodes we send (`List[uint16, limit=256]`).
const MAX_SENT_DISTANCES: usize = 256;

/// Highest accept code of the wire protocol that every v1 client knows (0-5). The current spec
/// also lists 6 ("not verifiable"), added after trin v0.3 and fluffy shipped; they read it as
/// "unspecified". We say 1 (declined) instead.
pub const MAX_SENT_ACCEPT_CODE: u8 = 5;

/// How an outgoing message breaks the spec's rules for senders.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecViolation {
    /// The bytes are not a valid message at all (our own decoder, with every limit of the spec,
    /// refuses them): an over-long list, a repeated or out-of-range distance, a bad payload.
    #[error("not a valid message: {0}")]
    Invalid(WireError),
    /// The message does not fit one discv5 packet.
    #[error("{len} bytes, more than the {max} that fit one discv5 packet")]
    TooLarge {
        /// The message's size.
        len: usize,
        /// [`MAX_TALK_PAYLOAD_BYTES`].
        max: usize,
    },
    /// A type-0 ping payload's client info is neither empty nor the spec's four parts.
    #[error("client info {0:?} is not name/version-commit/os-arch/language-version")]
    ClientInfo(String),
    /// An accept code outside 0-5 (see [`MAX_SENT_ACCEPT_CODE`]).
    #[error("accept code {0} is not one every client knows (0-5)")]
    AcceptCode(u8),
    /// FindNodes distances not in increasing order (the spec's "sorted list").
    #[error("FindNodes distances {0:?} are not in increasing order")]
    DistancesOrder(Vec<u16>),
    /// More than 256 distances in one FindNodes.
    #[error("{0} distances in one FindNodes, at most 256")]
    TooManyDistances(usize),
    /// A Nodes message whose `total` is not 1 (the spec fixes it to one response message).
    #[error("Nodes total {0}, the spec fixes it to 1")]
    NodesTotal(u8),
    /// A ping extension type we do not speak, or an error payload in a Ping (only a Pong may
    /// carry one).
    #[error("ping payload type {0} is not one we may send here")]
    PingPayloadType(u16),
}

/// Whether `client_info` is what the spec's type-0 payload asks for: empty (the privacy option)
/// or `name/version-commit/os-arch/language-version`, e.g.
/// `trin/v0.1.1-b61fdc5c/linux-x86_64/rustc1.81.0`. As strict as trin's parser: four non-empty
/// parts split by `/`, exactly one `-` in the second and the third part with text on both
/// sides, at most 200 bytes of UTF-8.
pub fn check_client_info(client_info: &[u8]) -> Result<(), SpecViolation> {
    let bad = || SpecViolation::ClientInfo(String::from_utf8_lossy(client_info).into_owned());
    if client_info.is_empty() {
        return Ok(());
    }
    if client_info.len() > MAX_CLIENT_INFO_BYTES {
        return Err(bad());
    }
    let text = std::str::from_utf8(client_info).map_err(|_| bad())?;
    let parts: Vec<&str> = text.split('/').collect();
    let two_halves = |part: &str| {
        let halves: Vec<&str> = part.split('-').collect();
        halves.len() == 2 && halves.iter().all(|h| !h.is_empty())
    };
    let well_formed = parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && !p.contains(char::is_whitespace))
        && two_halves(parts[1])
        && two_halves(parts[2]);
    if well_formed {
        Ok(())
    } else {
        Err(bad())
    }
}

fn check_ping_payload(payload: &PingPayload, in_pong: bool) -> Result<(), SpecViolation> {
    let PingPayload::Extension {
        payload_type,
        payload,
    } = payload
    else {
        // The legacy layout: its decoder already checked its one field's length.
        return Ok(());
    };
    let ext = PingExtension::decode(*payload_type, payload).map_err(SpecViolation::Invalid)?;
    match ext {
        PingExtension::Capabilities { client_info, .. } => check_client_info(&client_info),
        PingExtension::BasicRadius { .. } => Ok(()),
        PingExtension::Error { .. } if in_pong => Ok(()),
        // History radius is the history network's; an error only answers a Ping.
        PingExtension::HistoryRadius { .. } | PingExtension::Error { .. } => {
            Err(SpecViolation::PingPayloadType(*payload_type))
        }
    }
}

/// Check the bytes of one message we are about to send to a peer speaking `version` against
/// the rules for senders (see the module documentation). An empty TALKRESP (a refusal) is not
/// a message and is not checked.
pub fn check_outgoing(bytes: &[u8], version: ProtocolVersion) -> Result<(), SpecViolation> {
    if bytes.len() > MAX_TALK_PAYLOAD_BYTES {
        return Err(SpecViolation::TooLarge {
            len: bytes.len(),
            max: MAX_TALK_PAYLOAD_BYTES,
        });
    }
    let message = Message::decode(bytes, version).map_err(SpecViolation::Invalid)?;
    match &message {
        Message::Ping(p) => check_ping_payload(&p.payload, false),
        Message::Pong(p) => check_ping_payload(&p.payload, true),
        Message::FindNodes(m) => {
            if m.distances.len() > MAX_SENT_DISTANCES {
                return Err(SpecViolation::TooManyDistances(m.distances.len()));
            }
            if m.distances.windows(2).any(|w| w[0] >= w[1]) {
                return Err(SpecViolation::DistancesOrder(m.distances.clone()));
            }
            Ok(())
        }
        Message::Nodes(m) if m.total != 1 => Err(SpecViolation::NodesTotal(m.total)),
        Message::Accept(a) if version.has_accept_codes() => {
            match a
                .codes
                .iter()
                .map(|c| c.to_byte())
                .find(|&b| b > MAX_SENT_ACCEPT_CODE)
            {
                Some(code) => Err(SpecViolation::AcceptCode(code)),
                None => Ok(()),
            }
        }
        // Lengths of ENR lists, content and keys were checked by the decoder.
        Message::Nodes(_)
        | Message::Accept(_)
        | Message::FindContent(_)
        | Message::Offer(_)
        | Message::Content(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Accept, AcceptCode, Content, FindNodes, Nodes, Ping, Pong};
    use alloy_primitives::U256;

    const V1: ProtocolVersion = ProtocolVersion::V1;

    fn check(message: Message) -> Result<(), SpecViolation> {
        check_outgoing(&message.encode(V1), V1)
    }

    fn ping_with(ext: PingExtension) -> Message {
        Message::Ping(Ping {
            enr_seq: 1,
            payload: PingPayload::Extension {
                payload_type: ext.payload_type(),
                payload: ext.encode().into(),
            },
        })
    }

    #[test]
    fn each_rule_for_senders_is_enforced() {
        let find_nodes = |distances: Vec<u16>| Message::FindNodes(FindNodes { distances });
        assert_eq!(check(find_nodes(vec![254, 255, 256])), Ok(()));
        assert_eq!(
            check(find_nodes(vec![255, 256, 254])),
            Err(SpecViolation::DistancesOrder(vec![255, 256, 254]))
        );
        // 0..=256 decodes (a receiver takes it) but is over the list's limit of 256.
        assert_eq!(
            check(find_nodes((0..=256).collect())),
            Err(SpecViolation::TooManyDistances(257))
        );
        assert!(matches!(
            check(find_nodes(vec![3, 3])),
            Err(SpecViolation::Invalid(WireError::InvalidDistances(_)))
        ));
        let accept = |codes: Vec<AcceptCode>| {
            Message::Accept(Accept {
                connection_id: 7,
                codes,
            })
        };
        assert_eq!(
            check(accept(vec![AcceptCode::Accepted, AcceptCode::Declined])),
            Ok(())
        );
        assert_eq!(
            check(accept(vec![AcceptCode::NotVerifiable])),
            Err(SpecViolation::AcceptCode(6))
        );
        assert_eq!(
            check(accept(vec![AcceptCode::Unspecified(9)])),
            Err(SpecViolation::AcceptCode(9))
        );
        assert_eq!(
            check(accept(vec![AcceptCode::NotVerifiable.on_wire()])),
            Ok(())
        );
        // A v0 bitlist has no codes to check.
        let v0 = ProtocolVersion::V0;
        assert_eq!(
            check_outgoing(&accept(vec![AcceptCode::NotVerifiable]).encode(v0), v0),
            Ok(())
        );
        assert_eq!(
            check(Message::Nodes(Nodes {
                total: 2,
                enrs: vec![]
            })),
            Err(SpecViolation::NodesTotal(2))
        );
        let big = Message::Content(Content::Content(vec![0; MAX_TALK_PAYLOAD_BYTES].into()));
        assert!(matches!(check(big), Err(SpecViolation::TooLarge { .. })));
        let fits = MAX_TALK_PAYLOAD_BYTES - 2;
        assert_eq!(
            check(Message::Content(Content::Content(vec![0; fits].into()))),
            Ok(())
        );
        assert!(matches!(
            check_outgoing(&[0x09], V1),
            Err(SpecViolation::Invalid(WireError::UnknownSelector(9)))
        ));
    }

    #[test]
    fn ping_payloads_we_may_send() {
        let capabilities = |info: &str| PingExtension::Capabilities {
            client_info: info.as_bytes().to_vec().into(),
            data_radius: U256::MAX,
            capabilities: vec![0, 1, 65535],
        };
        assert_eq!(
            check(ping_with(capabilities(
                "trin/v0.1.1-b61fdc5c/linux-x86_64/rustc1.81.0"
            ))),
            Ok(())
        );
        assert_eq!(check(ping_with(capabilities(""))), Ok(()));
        assert!(matches!(
            check(ping_with(capabilities("portal-state/0.1.0"))),
            Err(SpecViolation::ClientInfo(_))
        ));
        let history = PingExtension::HistoryRadius {
            data_radius: U256::MAX,
            ephemeral_header_count: 1,
        };
        assert_eq!(
            check(ping_with(history)),
            Err(SpecViolation::PingPayloadType(2))
        );
        let error = PingExtension::error(crate::wire::PingError::DataNotFound, "none");
        assert_eq!(
            check(ping_with(error.clone())),
            Err(SpecViolation::PingPayloadType(65535))
        );
        let pong = Message::Pong(Pong {
            enr_seq: 1,
            payload: PingPayload::Extension {
                payload_type: error.payload_type(),
                payload: error.encode().into(),
            },
        });
        assert_eq!(check(pong), Ok(()), "an error payload answers a Ping");
        let legacy = Message::Ping(Ping {
            enr_seq: 1,
            payload: PingPayload::Legacy(U256::MAX.to_le_bytes::<32>().to_vec().into()),
        });
        assert_eq!(check(legacy), Ok(()));
    }

    #[test]
    fn client_info_rules() {
        for good in [
            "",
            "trin/v0.1.1-b61fdc5c/linux-x86_64/rustc1.81.0",
            "trin/0.1.1-2b00d730/linux-x86_64/rustc1.81.0",
            "portal-state/v0.1.0-unknown/android-aarch64/rustc1.91.0",
        ] {
            assert_eq!(check_client_info(good.as_bytes()), Ok(()), "{good}");
        }
        for bad in [
            "portal-state/0.1.0",
            "portal-state/0.1.0/linux-x86_64/rustc1.95",
            "a/b-c/linux-x86-64/rustc",
            "a/b-c/linux-x86_64/rustc/extra",
            "a//linux-x86_64/rustc",
            "a/-c/linux-x86_64/rustc",
            "a b/v1-c/linux-x86_64/rustc",
        ] {
            assert!(check_client_info(bad.as_bytes()).is_err(), "{bad}");
        }
        assert!(check_client_info(&[0xff, b'/', b'a']).is_err());
        let long = format!("a/v1-c/linux-x86_64/{}", "r".repeat(200));
        assert!(check_client_info(long.as_bytes()).is_err());
    }
}
