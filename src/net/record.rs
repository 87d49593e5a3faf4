//! ENR fields of the Portal network, version negotiation, and ENR text and RLP forms.

#[cfg(feature = "node")]
use std::net::SocketAddr;

use super::Enr;
use alloy_rlp::{Buf, BufMut, Decodable, Encodable, Header};
#[cfg(feature = "node")]
use enr::CombinedKey;

use super::NetError;

/// A version of the wire protocol, as announced in the ENR (`p` or the older `pv`).
///
/// It lives here, with the ENR fields that carry it, so that the transport can negotiate it
/// without importing the wire layer above it; [`crate::wire`] re-exports it.
///
/// What changes with the version: v0 answers an Offer with a bitlist, v1 with accept codes and
/// LEB128-prefixed uTP items; v2 adds the chain id to the ENR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProtocolVersion(pub u8);

impl ProtocolVersion {
    /// The initial version.
    pub const V0: ProtocolVersion = ProtocolVersion(0);
    /// Accept codes; size-prefixed uTP content.
    pub const V1: ProtocolVersion = ProtocolVersion(1);
    /// Chain id in the ENR. The current version.
    pub const V2: ProtocolVersion = ProtocolVersion(2);

    /// Whether Accept carries codes (v1+) rather than a bitlist (v0).
    pub fn has_accept_codes(self) -> bool {
        self >= Self::V1
    }
}

/// ENR key of the Portal field `p` = `rlp([pv_min, pv_max, chain_id])`.
pub const ENR_KEY_P: &str = "p";
/// ENR key of the older field `pv`: an RLP byte string whose bytes are the supported versions.
pub const ENR_KEY_PV: &str = "pv";

/// The wire protocol versions this node speaks: `MIN..=MAX`.
pub const SUPPORTED_VERSIONS: (ProtocolVersion, ProtocolVersion) =
    (ProtocolVersion::V0, ProtocolVersion::V2);

/// The ENR field `p`: the range of wire protocol versions a node speaks and the chain it serves,
/// encoded as the RLP list `[pv_min, pv_max, chain_id]`.
///
/// Decoding ignores items after the third, because later versions may append fields. Read it
/// with [`PortalEnrField::from_enr`]; write it into a record with
/// `builder.add_value(ENR_KEY_P, &field)` (it is [`Encodable`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortalEnrField {
    /// Lowest protocol version the node speaks.
    pub pv_min: u8,
    /// Highest protocol version the node speaks.
    pub pv_max: u8,
    /// The chain the node serves (1 = mainnet).
    pub chain_id: u64,
}

impl PortalEnrField {
    /// Reads `p` from an ENR: `None` if absent, `Some(Err)` if present but malformed.
    pub fn from_enr(enr: &Enr) -> Option<Result<Self, NetError>> {
        enr.get_decodable::<Self>(ENR_KEY_P)
            .map(|r| r.map_err(|e| NetError::InvalidEnr(format!("field `p`: {e}"))))
    }

    fn payload_length(&self) -> usize {
        self.pv_min.length() + self.pv_max.length() + self.chain_id.length()
    }
}

impl Encodable for PortalEnrField {
    fn encode(&self, out: &mut dyn BufMut) {
        Header {
            list: true,
            payload_length: self.payload_length(),
        }
        .encode(out);
        self.pv_min.encode(out);
        self.pv_max.encode(out);
        self.chain_id.encode(out);
    }

    fn length(&self) -> usize {
        let payload_length = self.payload_length();
        alloy_rlp::length_of_length(payload_length) + payload_length
    }
}

impl Decodable for PortalEnrField {
    fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        let header = Header::decode(buf)?;
        if !header.list {
            return Err(alloy_rlp::Error::UnexpectedString);
        }
        let Some(mut payload) = buf.get(..header.payload_length) else {
            return Err(alloy_rlp::Error::InputTooShort);
        };
        let field = Self {
            pv_min: u8::decode(&mut payload)?,
            pv_max: u8::decode(&mut payload)?,
            chain_id: u64::decode(&mut payload)?,
        };
        // Trailing items are future extensions: skip them unread.
        buf.advance(header.payload_length);
        Ok(field)
    }
}

/// Reads the older field `pv`: `None` if absent, else the version bytes it lists.
fn legacy_versions(enr: &Enr) -> Option<Result<Vec<u8>, NetError>> {
    enr.get_decodable::<alloy_rlp::Bytes>(ENR_KEY_PV).map(|r| {
        r.map(|bytes| bytes.to_vec())
            .map_err(|e| NetError::InvalidEnr(format!("field `pv`: {e}")))
    })
}

/// The protocol version to speak with `peer`, judged from its ENR, for a node on `chain_id`.
///
/// `p` wins when present: it must name our chain ([`NetError::WrongChain`] otherwise) and its
/// version range must overlap ours. Without `p`, the older `pv` list is used. Without either,
/// the peer predates both fields and speaks v0. The highest common version wins;
/// [`NetError::NoCommonVersion`] when there is none, [`NetError::InvalidEnr`] when a field is
/// malformed.
pub fn negotiate_version(peer: &Enr, chain_id: u64) -> Result<ProtocolVersion, NetError> {
    let (ours_min, ours_max) = (SUPPORTED_VERSIONS.0 .0, SUPPORTED_VERSIONS.1 .0);
    if let Some(field) = PortalEnrField::from_enr(peer) {
        let field = field?;
        if field.chain_id != chain_id {
            return Err(NetError::WrongChain {
                ours: chain_id,
                theirs: field.chain_id,
            });
        }
        let low = field.pv_min.max(ours_min);
        let high = field.pv_max.min(ours_max);
        return if low <= high {
            Ok(ProtocolVersion(high))
        } else {
            Err(NetError::NoCommonVersion)
        };
    }
    match legacy_versions(peer) {
        Some(versions) => versions?
            .into_iter()
            .filter(|v| (ours_min..=ours_max).contains(v))
            .max()
            .map(ProtocolVersion)
            .ok_or(NetError::NoCommonVersion),
        None => Ok(ProtocolVersion::V0),
    }
}

/// The chain a peer's ENR names in `p`, if it has a well-formed one.
#[cfg(feature = "node")]
pub(crate) fn enr_chain_id(enr: &Enr) -> Option<u64> {
    match PortalEnrField::from_enr(enr) {
        Some(Ok(field)) => Some(field.chain_id),
        _ => None,
    }
}

/// Parses the text form of an ENR (`enr:` followed by URL-safe base64, as bootnodes are
/// written; the prefix is optional). The signature is checked. The inverse is `Display` /
/// `to_string()` on [`Enr`].
pub fn enr_from_base64(text: &str) -> Result<Enr, NetError> {
    text.trim().parse::<Enr>().map_err(NetError::InvalidEnr)
}

/// Parses an ENR from its RLP encoding (as carried in Portal `Nodes` and `Content` messages).
/// The signature is checked and trailing bytes are refused.
pub fn enr_from_rlp(bytes: &[u8]) -> Result<Enr, NetError> {
    let mut rest = bytes;
    let enr = Enr::decode(&mut rest).map_err(|e| NetError::InvalidEnr(e.to_string()))?;
    if !rest.is_empty() {
        return Err(NetError::InvalidEnr(format!(
            "{} bytes after the record",
            rest.len()
        )));
    }
    Ok(enr)
}

/// The RLP encoding of an ENR (as carried in Portal `Nodes` and `Content` messages).
pub fn enr_to_rlp(enr: &Enr) -> Vec<u8> {
    alloy_rlp::encode(enr)
}

/// Builds our own ENR: address, the `p` field, and the older `pv` field for peers that only
/// read that one, with sequence number `seq` (at least 1).
#[cfg(feature = "node")]
pub(crate) fn build_local_enr(
    key: &CombinedKey,
    addr: SocketAddr,
    chain_id: u64,
    seq: u64,
) -> Result<Enr, NetError> {
    let (min, max) = (SUPPORTED_VERSIONS.0 .0, SUPPORTED_VERSIONS.1 .0);
    let mut builder = Enr::builder();
    builder.seq(seq.max(1));
    match addr {
        SocketAddr::V4(a) => builder.ip4(*a.ip()).udp4(a.port()),
        SocketAddr::V6(a) => builder.ip6(*a.ip()).udp6(a.port()),
    };
    builder
        .add_value(
            ENR_KEY_P,
            &PortalEnrField {
                pv_min: min,
                pv_max: max,
                chain_id,
            },
        )
        // A byte string, not `Vec<u8>`: alloy-rlp would encode a Vec<u8> as a list of integers.
        .add_value(
            ENR_KEY_PV,
            &alloy_rlp::Bytes::from((min..=max).collect::<Vec<u8>>()),
        )
        .build(key)
        .map_err(|e| NetError::InvalidEnr(format!("building our ENR: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> alloy_rlp::Result<PortalEnrField> {
        PortalEnrField::decode(&mut &bytes[..])
    }

    #[test]
    fn p_field_encoding_matches_the_spec_layout() {
        let field = PortalEnrField {
            pv_min: 0,
            pv_max: 2,
            chain_id: 1,
        };
        // 0 encodes as the empty string 0x80.
        assert_eq!(alloy_rlp::encode(field), [0xc3, 0x80, 0x02, 0x01]);
        assert_eq!(alloy_rlp::encode(field).len(), field.length());
        assert_eq!(decode(&[0xc3, 0x80, 0x02, 0x01]), Ok(field));
    }

    #[test]
    fn p_field_ignores_appended_items_and_keeps_the_rest_of_the_buffer() {
        // [1, 2, 11155111, "xy"] followed by one more byte.
        let mut bytes = vec![0xc9, 0x01, 0x02, 0x83, 0xaa, 0x36, 0xa7, 0x82, b'x', b'y'];
        bytes.push(0x42);
        let mut buf = &bytes[..];
        let field = PortalEnrField::decode(&mut buf).unwrap();
        assert_eq!(
            field,
            PortalEnrField {
                pv_min: 1,
                pv_max: 2,
                chain_id: 11_155_111
            }
        );
        assert_eq!(buf, &[0x42]);
    }

    #[test]
    fn p_field_rejects_malformed_input() {
        assert!(decode(&[]).is_err());
        assert!(decode(&[0x83, 0x00, 0x02, 0x01]).is_err()); // a string, not a list
        assert!(decode(&[0xc3, 0x80, 0x02]).is_err()); // list longer than the input
        assert!(decode(&[0xc2, 0x80, 0x02]).is_err()); // chain id missing
        assert!(decode(&[0xc3, 0x82, 0x01, 0x00, 0x01]).is_err()); // version above u8
    }

    #[test]
    fn text_and_rlp_forms_reject_garbage() {
        assert!(matches!(
            enr_from_base64("enr:"),
            Err(NetError::InvalidEnr(_))
        ));
        assert!(matches!(
            enr_from_base64("enr:-IS4QHCY!!"),
            Err(NetError::InvalidEnr(_))
        ));
        assert!(matches!(enr_from_rlp(&[]), Err(NetError::InvalidEnr(_))));
        assert!(matches!(
            enr_from_rlp(&[0xc1, 0x80]),
            Err(NetError::InvalidEnr(_))
        ));
    }

    #[test]
    fn text_and_rlp_forms_round_trip_and_check_the_signature() {
        let key = CombinedKey::secp256k1_from_bytes(&mut [7u8; 32]).unwrap();
        let enr = build_local_enr(&key, "127.0.0.1:9000".parse().unwrap(), 1, 1).unwrap();
        let text = enr.to_string();
        assert!(text.starts_with("enr:"));
        assert_eq!(enr_from_base64(&text).unwrap(), enr);
        let rlp = enr_to_rlp(&enr);
        assert_eq!(enr_from_rlp(&rlp).unwrap(), enr);

        let mut trailing = rlp.clone();
        trailing.push(0);
        assert!(enr_from_rlp(&trailing).is_err());

        // Flip a byte of the signature: the record must be refused.
        let mut tampered = rlp;
        tampered[5] ^= 1;
        assert!(enr_from_rlp(&tampered).is_err());
    }
}
