//! The eight Portal wire messages and their SSZ layouts.

use super::WireError;
use crate::net::ProtocolVersion;
use alloy_primitives::Bytes;
use ssz::{Decode, Encode};
use ssz_derive::{Decode, Encode};

/// Largest Ping/Pong payload (`ByteList[1100]`).
pub const MAX_PING_PAYLOAD_BYTES: usize = 1100;
/// Largest legacy (pre-extension) Ping/Pong `custom_payload` (`ByteList[2048]`).
const MAX_LEGACY_PING_PAYLOAD_BYTES: usize = 2048;
/// Largest encoded content key (`ByteList[2048]`).
pub const MAX_KEY_BYTES: usize = 2048;
/// Largest RLP-encoded ENR (`ByteList[2048]`).
pub const MAX_ENR_BYTES: usize = 2048;
/// Most ENRs in Nodes or Content (`List[..., 32]`).
pub const MAX_ENRS: usize = 32;
/// Largest content sent inline in a Content message (`ByteList[2048]`); anything bigger goes
/// over uTP.
pub const MAX_INLINE_CONTENT_BYTES: usize = 2048;
/// Most keys in one Offer (`List[..., 64]`), and so most codes in one Accept.
pub const MAX_CONTENT_KEYS_PER_OFFER: usize = 64;
/// Most distances in one FindNodes (`List[uint16, 256]`).
const MAX_DISTANCES: usize = 256;

/// The payload of a Ping or Pong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PingPayload {
    /// `payload_type: uint16, payload: ByteList[1100]`: a ping extension (see
    /// [`super::PingExtension`]).
    Extension {
        /// The extension type.
        payload_type: u16,
        /// Its SSZ payload.
        payload: Bytes,
    },
    /// `custom_payload: ByteList[2048]`, the layout from before ping extensions, still sent by
    /// old peers; for the state network it is `SSZ(Container(data_radius: uint256))`.
    Legacy(Bytes),
}

/// `0x00` Ping: liveness check carrying the sender's ENR sequence and a payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ping {
    /// The sender's ENR sequence number.
    pub enr_seq: u64,
    /// What the sender tells about itself.
    pub payload: PingPayload,
}

/// `0x01` Pong: the answer to a Ping, same layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pong {
    /// The responder's ENR sequence number.
    pub enr_seq: u64,
    /// What the responder tells about itself.
    pub payload: PingPayload,
}

/// `0x02` FindNodes: ask for ENRs at these log-distances (0 = the responder itself).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct FindNodes {
    /// Distinct log-distances in `0..=256`; any order is accepted, increasing order is sent.
    pub distances: Vec<u16>,
}

/// `0x03` Nodes: the answer to FindNodes.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Nodes {
    /// Number of Nodes messages in this answer; always 1 in practice.
    pub total: u8,
    /// RLP-encoded ENRs.
    pub enrs: Vec<Bytes>,
}

/// `0x04` FindContent: ask for the content under this encoded key.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct FindContent {
    /// The encoded content key.
    pub content_key: Bytes,
}

/// `0x05` Content: the answer to FindContent, one of three forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// Union selector 0: the content is too big for a packet; open a uTP stream with this
    /// connection id to receive it.
    ConnectionId(u16),
    /// Union selector 1: the content itself.
    Content(Bytes),
    /// Union selector 2: the responder does not have it; these peers are closer.
    Enrs(Vec<Bytes>),
}

/// `0x06` Offer: the sender has content for these keys.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Offer {
    /// Encoded content keys, at most 64.
    pub content_keys: Vec<Bytes>,
}

/// What a node answers for each key of an Offer (v1+).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AcceptCode {
    /// 0: send it.
    Accepted,
    /// 1: generic decline.
    Declined,
    /// 2: already stored.
    AlreadyStored,
    /// 3: outside the node's radius.
    NotWithinRadius,
    /// 4: the node cannot take more transfers now.
    RateLimited,
    /// 5: this content id is already arriving from someone else.
    InboundTransferInProgress,
    /// 6: the node cannot verify the key (e.g. an untrusted state root). In the current spec,
    /// but newer than the clients in the field (trin v0.3 reads it as unspecified), so we only
    /// receive it: [`AcceptCode::on_wire`] says [`AcceptCode::Declined`] instead.
    NotVerifiable,
    /// 7..=255: unspecified; treated as a decline.
    Unspecified(u8),
}

impl AcceptCode {
    /// The wire byte.
    pub fn to_byte(self) -> u8 {
        match self {
            AcceptCode::Accepted => 0,
            AcceptCode::Declined => 1,
            AcceptCode::AlreadyStored => 2,
            AcceptCode::NotWithinRadius => 3,
            AcceptCode::RateLimited => 4,
            AcceptCode::InboundTransferInProgress => 5,
            AcceptCode::NotVerifiable => 6,
            AcceptCode::Unspecified(b) => b,
        }
    }

    /// From the wire byte; every byte is valid.
    pub fn from_byte(b: u8) -> Self {
        match b {
            0 => AcceptCode::Accepted,
            1 => AcceptCode::Declined,
            2 => AcceptCode::AlreadyStored,
            3 => AcceptCode::NotWithinRadius,
            4 => AcceptCode::RateLimited,
            5 => AcceptCode::InboundTransferInProgress,
            6 => AcceptCode::NotVerifiable,
            other => AcceptCode::Unspecified(other),
        }
    }

    /// The code we send for this decision: codes every v1 client knows (0-5) as they are; a
    /// finer reason they do not know (6, or 7-255) as the generic decline. The finer reason
    /// stays in our logs and counters.
    pub fn on_wire(self) -> AcceptCode {
        match self {
            AcceptCode::NotVerifiable | AcceptCode::Unspecified(_) => AcceptCode::Declined,
            known => known,
        }
    }

    /// Whether the offerer should send this item.
    pub fn is_accepted(self) -> bool {
        self == AcceptCode::Accepted
    }
}

/// `0x07` Accept: the answer to Offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accept {
    /// The uTP connection id the offerer opens to send the accepted items.
    pub connection_id: u16,
    /// One code per offered key, in order. On a v0 link only
    /// [`AcceptCode::Accepted`]/[`AcceptCode::Declined`] can be expressed.
    pub codes: Vec<AcceptCode>,
}

/// A Portal wire message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// `0x00`
    Ping(Ping),
    /// `0x01`
    Pong(Pong),
    /// `0x02`
    FindNodes(FindNodes),
    /// `0x03`
    Nodes(Nodes),
    /// `0x04`
    FindContent(FindContent),
    /// `0x05`
    Content(Content),
    /// `0x06`
    Offer(Offer),
    /// `0x07`
    Accept(Accept),
}

#[derive(Encode, Decode)]
struct PingSsz {
    enr_seq: u64,
    payload_type: u16,
    payload: Bytes,
}

#[derive(Encode, Decode)]
struct LegacyPingSsz {
    enr_seq: u64,
    custom_payload: Bytes,
}

#[derive(Encode, Decode)]
struct AcceptSsz {
    connection_id: [u8; 2],
    content_keys: Bytes,
}

fn check_len(field: &'static str, len: usize, max: usize) -> Result<(), WireError> {
    if len > max {
        Err(WireError::OverLimit { field, len, max })
    } else {
        Ok(())
    }
}

fn check_items(
    field: &'static str,
    items: &[Bytes],
    max: usize,
    max_each: usize,
) -> Result<(), WireError> {
    check_len(field, items.len(), max)?;
    for item in items {
        check_len(field, item.len(), max_each)?;
    }
    Ok(())
}

fn encode_ping_payload(enr_seq: u64, payload: &PingPayload, out: &mut Vec<u8>) {
    match payload {
        PingPayload::Extension {
            payload_type,
            payload,
        } => PingSsz {
            enr_seq,
            payload_type: *payload_type,
            payload: payload.clone(),
        }
        .ssz_append(out),
        PingPayload::Legacy(custom_payload) => LegacyPingSsz {
            enr_seq,
            custom_payload: custom_payload.clone(),
        }
        .ssz_append(out),
    }
}

/// Decodes either Ping layout. They differ in their fixed part (`u64 + u16 + offset` = 14 bytes
/// vs `u64 + offset` = 12), and the first offset of an SSZ container must equal the fixed part's
/// size, so the offset tells which layout a peer sent.
fn decode_ping_payload(
    message: &'static str,
    body: &[u8],
) -> Result<(u64, PingPayload), WireError> {
    let legacy = body.get(8..12) == Some(&12u32.to_le_bytes()[..]);
    if legacy {
        let v =
            LegacyPingSsz::from_ssz_bytes(body).map_err(|e| WireError::malformed(message, e))?;
        check_len(
            "custom_payload",
            v.custom_payload.len(),
            MAX_LEGACY_PING_PAYLOAD_BYTES,
        )?;
        Ok((v.enr_seq, PingPayload::Legacy(v.custom_payload)))
    } else {
        let v = PingSsz::from_ssz_bytes(body).map_err(|e| WireError::malformed(message, e))?;
        check_len("payload", v.payload.len(), MAX_PING_PAYLOAD_BYTES)?;
        Ok((
            v.enr_seq,
            PingPayload::Extension {
                payload_type: v.payload_type,
                payload: v.payload,
            },
        ))
    }
}

/// The spec's rules a receiver can rely on: each distance in `0..=256`, none repeated. The spec
/// also calls the list "sorted", but clients in the field do not sort (trin's lookups send
/// `[d, d+1, d-1]`), so any order is answered; we send sorted lists ourselves
/// ([`super::check_outgoing`] holds us to it).
fn check_distances(distances: &[u16]) -> Result<(), WireError> {
    check_len("distances", distances.len(), MAX_DISTANCES + 1)?;
    let mut seen = [false; MAX_DISTANCES + 1];
    for &d in distances {
        let Some(slot) = seen.get_mut(usize::from(d)) else {
            return Err(WireError::InvalidDistances(format!(
                "distance {d} is above 256"
            )));
        };
        if std::mem::replace(slot, true) {
            return Err(WireError::InvalidDistances(format!(
                "distance {d} is repeated"
            )));
        }
    }
    Ok(())
}

/// SSZ `Bitlist[64]`: bits little-endian in each byte, then a delimiter bit.
fn encode_bitlist(bits: &[bool]) -> Vec<u8> {
    let mut out = vec![0u8; bits.len() / 8 + 1];
    for (i, &bit) in bits.iter().enumerate() {
        if bit {
            out[i / 8] |= 1 << (i % 8);
        }
    }
    out[bits.len() / 8] |= 1 << (bits.len() % 8);
    out
}

fn decode_bitlist(bytes: &[u8], max: usize) -> Result<Vec<bool>, WireError> {
    let bad = |detail: &str| WireError::Malformed {
        message: "Accept",
        detail: detail.into(),
    };
    let (&last, _) = bytes.split_last().ok_or_else(|| bad("empty bitlist"))?;
    if last == 0 {
        return Err(bad("bitlist without delimiter bit"));
    }
    let len = (bytes.len() - 1) * 8 + (7 - last.leading_zeros() as usize);
    check_len("content_keys", len, max)?;
    Ok((0..len)
        .map(|i| bytes[i / 8] & (1 << (i % 8)) != 0)
        .collect())
}

impl Message {
    /// Selector of Ping.
    pub const PING: u8 = 0x00;
    /// Selector of Pong.
    pub const PONG: u8 = 0x01;
    /// Selector of FindNodes.
    pub const FIND_NODES: u8 = 0x02;
    /// Selector of Nodes.
    pub const NODES: u8 = 0x03;
    /// Selector of FindContent.
    pub const FIND_CONTENT: u8 = 0x04;
    /// Selector of Content.
    pub const CONTENT: u8 = 0x05;
    /// Selector of Offer.
    pub const OFFER: u8 = 0x06;
    /// Selector of Accept.
    pub const ACCEPT: u8 = 0x07;

    /// The message's name, for logs and errors.
    pub fn name(&self) -> &'static str {
        match self {
            Message::Ping(_) => "Ping",
            Message::Pong(_) => "Pong",
            Message::FindNodes(_) => "FindNodes",
            Message::Nodes(_) => "Nodes",
            Message::FindContent(_) => "FindContent",
            Message::Content(_) => "Content",
            Message::Offer(_) => "Offer",
            Message::Accept(_) => "Accept",
        }
    }

    /// Whether this is a request (sent in TALKREQ) rather than a response.
    pub fn is_request(&self) -> bool {
        matches!(
            self,
            Message::Ping(_) | Message::FindNodes(_) | Message::FindContent(_) | Message::Offer(_)
        )
    }

    /// Encode for a peer speaking `version`.
    pub fn encode(&self, version: ProtocolVersion) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Message::Ping(p) => {
                out.push(Self::PING);
                encode_ping_payload(p.enr_seq, &p.payload, &mut out);
            }
            Message::Pong(p) => {
                out.push(Self::PONG);
                encode_ping_payload(p.enr_seq, &p.payload, &mut out);
            }
            Message::FindNodes(m) => {
                out.push(Self::FIND_NODES);
                m.ssz_append(&mut out);
            }
            Message::Nodes(m) => {
                out.push(Self::NODES);
                m.ssz_append(&mut out);
            }
            Message::FindContent(m) => {
                out.push(Self::FIND_CONTENT);
                m.ssz_append(&mut out);
            }
            Message::Content(c) => {
                out.push(Self::CONTENT);
                match c {
                    Content::ConnectionId(id) => {
                        out.push(0);
                        out.extend_from_slice(&id.to_be_bytes());
                    }
                    Content::Content(bytes) => {
                        out.push(1);
                        out.extend_from_slice(bytes);
                    }
                    Content::Enrs(enrs) => {
                        out.push(2);
                        enrs.ssz_append(&mut out);
                    }
                }
            }
            Message::Offer(m) => {
                out.push(Self::OFFER);
                m.ssz_append(&mut out);
            }
            Message::Accept(a) => {
                out.push(Self::ACCEPT);
                let content_keys = if version.has_accept_codes() {
                    a.codes.iter().map(|c| c.to_byte()).collect::<Vec<_>>()
                } else {
                    let bits: Vec<bool> = a.codes.iter().map(|c| c.is_accepted()).collect();
                    encode_bitlist(&bits)
                };
                AcceptSsz {
                    connection_id: a.connection_id.to_be_bytes(),
                    content_keys: content_keys.into(),
                }
                .ssz_append(&mut out);
            }
        }
        out
    }

    /// Decode a message from a peer speaking `version`, enforcing every limit of the spec.
    pub fn decode(bytes: &[u8], version: ProtocolVersion) -> Result<Self, WireError> {
        let (&selector, body) = bytes.split_first().ok_or(WireError::Empty)?;
        let message = match selector {
            Self::PING => {
                let (enr_seq, payload) = decode_ping_payload("Ping", body)?;
                Message::Ping(Ping { enr_seq, payload })
            }
            Self::PONG => {
                let (enr_seq, payload) = decode_ping_payload("Pong", body)?;
                Message::Pong(Pong { enr_seq, payload })
            }
            Self::FIND_NODES => {
                let m = FindNodes::from_ssz_bytes(body)
                    .map_err(|e| WireError::malformed("FindNodes", e))?;
                check_distances(&m.distances)?;
                Message::FindNodes(m)
            }
            Self::NODES => {
                let m =
                    Nodes::from_ssz_bytes(body).map_err(|e| WireError::malformed("Nodes", e))?;
                check_items("enrs", &m.enrs, MAX_ENRS, MAX_ENR_BYTES)?;
                Message::Nodes(m)
            }
            Self::FIND_CONTENT => {
                let m = FindContent::from_ssz_bytes(body)
                    .map_err(|e| WireError::malformed("FindContent", e))?;
                check_len("content_key", m.content_key.len(), MAX_KEY_BYTES)?;
                Message::FindContent(m)
            }
            Self::CONTENT => {
                let (&union, rest) = body.split_first().ok_or_else(|| WireError::Malformed {
                    message: "Content",
                    detail: "missing union selector".into(),
                })?;
                let content = match union {
                    0 => {
                        let id: [u8; 2] = rest.try_into().map_err(|_| WireError::Malformed {
                            message: "Content",
                            detail: format!("connection id of {} bytes, expected 2", rest.len()),
                        })?;
                        Content::ConnectionId(u16::from_be_bytes(id))
                    }
                    1 => {
                        check_len("content", rest.len(), MAX_INLINE_CONTENT_BYTES)?;
                        Content::Content(Bytes::copy_from_slice(rest))
                    }
                    2 => {
                        let enrs = Vec::<Bytes>::from_ssz_bytes(rest)
                            .map_err(|e| WireError::malformed("Content", e))?;
                        check_items("enrs", &enrs, MAX_ENRS, MAX_ENR_BYTES)?;
                        Content::Enrs(enrs)
                    }
                    other => return Err(WireError::UnknownContentSelector(other)),
                };
                Message::Content(content)
            }
            Self::OFFER => {
                let m =
                    Offer::from_ssz_bytes(body).map_err(|e| WireError::malformed("Offer", e))?;
                check_items(
                    "content_keys",
                    &m.content_keys,
                    MAX_CONTENT_KEYS_PER_OFFER,
                    MAX_KEY_BYTES,
                )?;
                Message::Offer(m)
            }
            Self::ACCEPT => {
                let m = AcceptSsz::from_ssz_bytes(body)
                    .map_err(|e| WireError::malformed("Accept", e))?;
                let codes = if version.has_accept_codes() {
                    check_len(
                        "content_keys",
                        m.content_keys.len(),
                        MAX_CONTENT_KEYS_PER_OFFER,
                    )?;
                    m.content_keys
                        .iter()
                        .map(|&b| AcceptCode::from_byte(b))
                        .collect()
                } else {
                    decode_bitlist(&m.content_keys, MAX_CONTENT_KEYS_PER_OFFER)?
                        .into_iter()
                        .map(|bit| {
                            if bit {
                                AcceptCode::Accepted
                            } else {
                                AcceptCode::Declined
                            }
                        })
                        .collect()
                };
                Message::Accept(Accept {
                    connection_id: u16::from_be_bytes(m.connection_id),
                    codes,
                })
            }
            other => return Err(WireError::UnknownSelector(other)),
        };
        Ok(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitlist_roundtrip() {
        for n in 0..=64 {
            let bits: Vec<bool> = (0..n).map(|i| i % 3 == 0).collect();
            assert_eq!(decode_bitlist(&encode_bitlist(&bits), 64).unwrap(), bits);
        }
        assert!(decode_bitlist(&[0x00], 64).is_err());
        assert!(decode_bitlist(&[], 64).is_err());
        assert!(matches!(
            decode_bitlist(&[0xff; 9], 64),
            Err(WireError::OverLimit { .. })
        ));
    }

    #[test]
    fn distances_rules() {
        assert!(check_distances(&[256, 255]).is_ok());
        assert!(check_distances(&[0, 1, 256]).is_ok());
        assert!(check_distances(&[]).is_ok());
        assert!(check_distances(&[257]).is_err());
        assert!(check_distances(&[3, 3]).is_err());
        assert!(check_distances(&[1, 3, 1]).is_err());
        // trin's order, [d, d+1, d-1].
        assert!(check_distances(&[255, 256, 254]).is_ok());
        assert!(check_distances(&[1, 3, 2]).is_ok());
    }
}
