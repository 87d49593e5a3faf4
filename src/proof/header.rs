//! Execution block headers: from RLP to the fields a state-network node needs.
//!
//! A node learns the chain only through trusted headers (DESIGN.md, "Heads"): RLP in, keccak
//! checked against a trusted hash when one is given, `state_root` out. This decoder reads the
//! fifteen fields every header has (Frontier) and skips, after checking that each is one whole
//! RLP item, any number of fields later forks appended (London's base fee, Shanghai's
//! withdrawals root, Cancun's blob fields, …), so a new fork does not break it.

use alloy_consensus::Header;
use alloy_primitives::{keccak256, Bytes, B256};
use alloy_rlp::Decodable;

/// Why header bytes could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// The bytes do not start with an RLP list header.
    #[error("block header is not an RLP list")]
    NotAList,
    /// Bytes follow the header's RLP list.
    #[error("{0} trailing byte(s) after the block header's RLP list")]
    TrailingBytes(usize),
    /// A field is missing or is not valid RLP of its type.
    #[error("block header field `{field}` is invalid: {reason}")]
    BadField {
        /// The field's name, as in the yellow paper.
        field: &'static str,
        /// What alloy-rlp said about it.
        reason: String,
    },
}

/// The fields of an execution block header that a state-network node uses, with the RLP it was
/// decoded from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockHeader {
    /// `keccak256` of the RLP: the block hash.
    pub hash: B256,
    /// The block number.
    pub number: u64,
    /// The root of the state trie after this block: what account and storage witnesses chain to.
    pub state_root: B256,
    /// The hash of the parent block.
    pub parent_hash: B256,
    /// The block's Unix timestamp in seconds.
    pub timestamp: u64,
    /// The header's RLP, as received. Empty for a head proven by the beacon light client
    /// ([`BlockHeader::proven`]): its execution payload header names the block but is not the
    /// RLP header (its transactions and withdrawals roots are SSZ roots), so what needs the full
    /// header (`eth_call`'s block environment, `eth_getBlockByNumber`) says so for such a head.
    pub rlp: Bytes,
}

impl BlockHeader {
    /// A head known by what a proof gave (the beacon light client's execution payload header):
    /// number, hash, state root, parent hash and timestamp, without the RLP.
    pub fn proven(
        number: u64,
        hash: B256,
        state_root: B256,
        parent_hash: B256,
        timestamp: u64,
    ) -> Self {
        BlockHeader {
            hash,
            number,
            state_root,
            parent_hash,
            timestamp,
            rlp: Bytes::new(),
        }
    }

    /// Whether the RLP is known (false for [`BlockHeader::proven`] heads).
    pub fn has_rlp(&self) -> bool {
        !self.rlp.is_empty()
    }

    /// Decode a header from its RLP (pre- or post-London, any number of trailing fork fields).
    ///
    /// Rejects anything but exactly one RLP list.
    pub fn decode(rlp: &[u8]) -> Result<Self, HeaderError> {
        let fields = read_fields(rlp)?;
        Ok(Self {
            hash: keccak256(rlp),
            number: fields.number,
            state_root: fields.state_root,
            parent_hash: fields.parent_hash,
            timestamp: fields.timestamp,
            rlp: Bytes::copy_from_slice(rlp),
        })
    }

    /// Every field of the header, decoded from its RLP by the same rules as
    /// [`BlockHeader::decode`]: what a call's block environment and the fee figures need
    /// (beneficiary, gas limit, base fee, RANDAO, blob fields). Fork fields up to Prague's
    /// requests hash are read as far as they have their types; later ones are skipped. An
    /// error for a head without RLP ([`BlockHeader::has_rlp`]).
    pub fn fields(&self) -> Result<Header, HeaderError> {
        read_fields(&self.rlp)
    }
}

/// The one reader of header RLP: the fifteen Frontier fields, then the fork fields.
fn read_fields(rlp: &[u8]) -> Result<Header, HeaderError> {
    let mut buf = rlp;
    let list = alloy_rlp::Header::decode(&mut buf).map_err(|e| HeaderError::BadField {
        field: "header",
        reason: e.to_string(),
    })?;
    if !list.list {
        return Err(HeaderError::NotAList);
    }
    let (mut fields, trailing) =
        buf.split_at_checked(list.payload_length)
            .ok_or_else(|| HeaderError::BadField {
                field: "header",
                reason: "list shorter than its length prefix".into(),
            })?;
    if !trailing.is_empty() {
        return Err(HeaderError::TrailingBytes(trailing.len()));
    }

    let f = &mut fields;
    let mut header = Header {
        parent_hash: field(f, "parent_hash")?,
        ommers_hash: field(f, "ommers_hash")?,
        beneficiary: field(f, "beneficiary")?,
        state_root: field(f, "state_root")?,
        transactions_root: field(f, "transactions_root")?,
        receipts_root: field(f, "receipts_root")?,
        logs_bloom: field(f, "logs_bloom")?,
        difficulty: field(f, "difficulty")?,
        number: field(f, "number")?,
        gas_limit: field(f, "gas_limit")?,
        gas_used: field(f, "gas_used")?,
        timestamp: field(f, "timestamp")?,
        extra_data: field(f, "extra_data")?,
        mix_hash: field(f, "mix_hash")?,
        nonce: field(f, "nonce")?,
        ..Header::default()
    };
    // Fork fields, in order: base fee (London), withdrawals root (Shanghai), blob gas used
    // and excess blob gas (Cancun), parent beacon root (Cancun), requests hash (Prague). A
    // field that does not have its type ends the typed reading; it is checked as an item
    // below like any later fork's field, so it does not make the header invalid.
    let mut typed = true;
    header.base_fee_per_gas = fork_field(f, &mut typed);
    header.withdrawals_root = fork_field(f, &mut typed);
    header.blob_gas_used = fork_field(f, &mut typed);
    header.excess_blob_gas = fork_field(f, &mut typed);
    header.parent_beacon_block_root = fork_field(f, &mut typed);
    header.requests_hash = fork_field(f, &mut typed);
    // Fields of later forks: each must be one whole RLP item.
    while !fields.is_empty() {
        let item = alloy_rlp::Header::decode(&mut fields).map_err(|e| HeaderError::BadField {
            field: "fork field",
            reason: e.to_string(),
        })?;
        fields = fields
            .get(item.payload_length..)
            .ok_or_else(|| HeaderError::BadField {
                field: "fork field",
                reason: "item shorter than its length prefix".into(),
            })?;
    }
    Ok(header)
}

/// The next fork field, when there is one and it has type `T` (else `typed` turns false and
/// every later fork field is left to the item check).
fn fork_field<T: Decodable>(buf: &mut &[u8], typed: &mut bool) -> Option<T> {
    if !*typed || buf.is_empty() {
        return None;
    }
    let mut probe = *buf;
    match T::decode(&mut probe) {
        Ok(value) => {
            *buf = probe;
            Some(value)
        }
        Err(_) => {
            *typed = false;
            None
        }
    }
}

fn field<T: Decodable>(buf: &mut &[u8], name: &'static str) -> Result<T, HeaderError> {
    T::decode(buf).map_err(|e| HeaderError::BadField {
        field: name,
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{b256, hex};

    /// Sepolia's genesis header: 16 fields (London at genesis).
    const SEPOLIA_GENESIS: &str = "f9021da00000000000000000000000000000000000000000000000000000000000000000a01dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347940000000000000000000000000000000000000000a05eb6e371a698b8d68f665192350ffcecbbbf322916f4b51bd79bb6887da3f494a056e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421a056e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421b901000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000083020000808401c9c38080846159af19a05365706f6c69612c20417468656e732c204174746963612c2047726565636521a00000000000000000000000000000000000000000000000000000000000000000880000000000000000843b9aca00";

    #[test]
    fn decodes_a_london_header() {
        let rlp = hex::decode(SEPOLIA_GENESIS).unwrap();
        let header = BlockHeader::decode(&rlp).unwrap();
        assert_eq!(
            header.hash,
            b256!("25a5cc106eea7138acab33231d7160d69cb777ee0c2c553fcddf5138993e6dd9")
        );
        assert_eq!(
            header.state_root,
            b256!("5eb6e371a698b8d68f665192350ffcecbbbf322916f4b51bd79bb6887da3f494")
        );
        assert_eq!(header.number, 0);
        assert_eq!(header.timestamp, 0x6159af19);
        assert_eq!(header.parent_hash, B256::ZERO);
    }

    #[test]
    fn fields_are_those_alloy_reads() {
        let rlp = hex::decode(SEPOLIA_GENESIS).unwrap();
        let fields = BlockHeader::decode(&rlp).unwrap().fields().unwrap();
        let alloy: Header = alloy_rlp::decode_exact(&rlp).unwrap();
        assert_eq!(fields, alloy);
        assert_eq!(fields.base_fee_per_gas, Some(1_000_000_000));
        assert_eq!(fields.withdrawals_root, None);
        let proven = BlockHeader::proven(1, B256::ZERO, B256::ZERO, B256::ZERO, 0);
        assert!(proven.fields().is_err());
    }

    #[test]
    fn every_fork_field_up_to_prague_is_read_and_later_ones_are_skipped() {
        let prague = Header {
            number: 22_431_084,
            gas_limit: 36_000_000,
            beneficiary: alloy_primitives::Address::repeat_byte(0x95),
            mix_hash: B256::repeat_byte(0x0a),
            base_fee_per_gas: Some(1_234_567),
            withdrawals_root: Some(B256::repeat_byte(1)),
            blob_gas_used: Some(131_072),
            excess_blob_gas: Some(393_216),
            parent_beacon_block_root: Some(B256::repeat_byte(2)),
            requests_hash: Some(B256::repeat_byte(3)),
            ..Header::default()
        };
        let rlp = alloy_rlp::encode(&prague);
        let header = BlockHeader::decode(&rlp).unwrap();
        assert_eq!(header.fields().unwrap(), prague);
        assert_eq!(header.hash, prague.hash_slow());

        // A later fork's field after the requests hash: skipped, the typed ones kept.
        let mut payload = Vec::new();
        alloy_rlp::Encodable::encode(&prague, &mut payload);
        let list = alloy_rlp::Header::decode(&mut &payload[..]).unwrap();
        let mut fields = payload[payload.len() - list.payload_length..].to_vec();
        alloy_rlp::Encodable::encode(&7u64, &mut fields);
        let mut longer = Vec::new();
        alloy_rlp::Header {
            list: true,
            payload_length: fields.len(),
        }
        .encode(&mut longer);
        longer.extend_from_slice(&fields);
        let header = BlockHeader::decode(&longer).unwrap();
        assert_eq!(header.fields().unwrap(), prague);
    }

    #[test]
    fn rejects_trailing_bytes_and_truncation() {
        let mut rlp = hex::decode(SEPOLIA_GENESIS).unwrap();
        rlp.push(0x00);
        assert_eq!(
            BlockHeader::decode(&rlp),
            Err(HeaderError::TrailingBytes(1))
        );
        rlp.pop();
        for cut in [0, 1, 3, 100, rlp.len() - 1] {
            assert!(BlockHeader::decode(&rlp[..cut]).is_err(), "cut at {cut}");
        }
        assert_eq!(BlockHeader::decode(&[0x80]), Err(HeaderError::NotAList));
        // A list holding only the parent hash: every later field is missing.
        let short = hex!("e1a00000000000000000000000000000000000000000000000000000000000000000");
        assert!(matches!(
            BlockHeader::decode(&short),
            Err(HeaderError::BadField {
                field: "ommers_hash",
                ..
            })
        ));
    }
}
