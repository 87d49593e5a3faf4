//! Content keys: a selector byte followed by the SSZ container of that content type.

use super::diff::{AccountDiffKey, IdRange, StorageTopDiffKey};
use super::{ContentError, ContentId};
use alloy_primitives::{keccak256, Address, B256, U256};
use sha2::{Digest, Sha256};
use ssz::{Decode, Encode};
use ssz_derive::{Decode, Encode};

/// Key of an account leaf proof: the account at `address` in the state whose root is
/// `state_root` (selector `0x00`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Encode, Decode)]
pub struct AccountKey {
    /// The account's address.
    pub address: Address,
    /// The state root the witness is anchored to.
    pub state_root: B256,
}

/// Key of a storage leaf proof: slot `slot` of the contract at `address` in the state whose
/// root is `state_root` (selector `0x01`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Encode, Decode)]
pub struct StorageKey {
    /// The contract's address.
    pub address: Address,
    /// The storage slot, as the 256-bit integer `eth_getStorageAt` takes.
    pub slot: U256,
    /// The state root the (account and storage) witnesses are anchored to.
    pub state_root: B256,
}

/// Key of a contract's bytecode (selector `0x02`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Encode, Decode)]
pub struct BytecodeKey {
    /// The contract's address.
    pub address: Address,
    /// `keccak256` of the bytecode, as the account's `code_hash` says.
    pub code_hash: B256,
}

/// A state-network content key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContentKey {
    /// `0x00`: an account and its witness.
    Account(AccountKey),
    /// `0x01`: a storage slot and its account and storage witnesses.
    Storage(StorageKey),
    /// `0x02`: a contract's bytecode.
    Bytecode(BytecodeKey),
    /// `0x03`: one block's new account-trie nodes under a path prefix.
    AccountDiff(AccountDiffKey),
    /// `0x04`: one block's new top storage-trie nodes of a contract, with its account path.
    StorageTopDiff(StorageTopDiffKey),
}

impl ContentKey {
    /// Selector byte of [`ContentKey::Account`].
    pub const ACCOUNT: u8 = 0x00;
    /// Selector byte of [`ContentKey::Storage`].
    pub const STORAGE: u8 = 0x01;
    /// Selector byte of [`ContentKey::Bytecode`].
    pub const BYTECODE: u8 = 0x02;
    /// Selector byte of [`ContentKey::AccountDiff`].
    pub const ACCOUNT_DIFF: u8 = 0x03;
    /// Selector byte of [`ContentKey::StorageTopDiff`].
    pub const STORAGE_TOP_DIFF: u8 = 0x04;

    /// The selector byte of this key's content type.
    pub fn selector(&self) -> u8 {
        match self {
            ContentKey::Account(_) => Self::ACCOUNT,
            ContentKey::Storage(_) => Self::STORAGE,
            ContentKey::Bytecode(_) => Self::BYTECODE,
            ContentKey::AccountDiff(_) => Self::ACCOUNT_DIFF,
            ContentKey::StorageTopDiff(_) => Self::STORAGE_TOP_DIFF,
        }
    }

    /// The address this key is about; `None` for diff items (a storage-top diff names only the
    /// address's hash).
    pub fn address(&self) -> Option<Address> {
        match self {
            ContentKey::Account(k) => Some(k.address),
            ContentKey::Storage(k) => Some(k.address),
            ContentKey::Bytecode(k) => Some(k.address),
            ContentKey::AccountDiff(_) | ContentKey::StorageTopDiff(_) => None,
        }
    }

    /// The block a diff item belongs to; `None` for leaf proofs and bytecode.
    pub fn block_hash(&self) -> Option<B256> {
        match self {
            ContentKey::AccountDiff(k) => Some(k.block_hash),
            ContentKey::StorageTopDiff(k) => Some(k.block_hash),
            _ => None,
        }
    }

    /// Whether this is a per-block diff item (selectors `0x03`, `0x04`).
    pub fn is_diff(&self) -> bool {
        self.block_hash().is_some()
    }

    /// The state root the content is anchored to; bytecode is anchored to its hash instead.
    pub fn state_root(&self) -> Option<B256> {
        match self {
            ContentKey::Account(k) => Some(k.state_root),
            ContentKey::Storage(k) => Some(k.state_root),
            ContentKey::Bytecode(_) => None,
            ContentKey::AccountDiff(k) => Some(k.state_root),
            ContentKey::StorageTopDiff(k) => Some(k.state_root),
        }
    }

    /// The wire encoding: selector byte, then the SSZ container.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![self.selector()];
        match self {
            ContentKey::Account(k) => k.ssz_append(&mut out),
            ContentKey::Storage(k) => k.ssz_append(&mut out),
            ContentKey::Bytecode(k) => k.ssz_append(&mut out),
            ContentKey::AccountDiff(k) => k.ssz_append(&mut out),
            ContentKey::StorageTopDiff(k) => k.ssz_append(&mut out),
        }
        out
    }

    /// Decode a key from its wire encoding.
    pub fn decode(bytes: &[u8]) -> Result<Self, ContentError> {
        let (&selector, body) = bytes.split_first().ok_or(ContentError::EmptyKey)?;
        let malformed = |e: ssz::DecodeError| ContentError::MalformedKey(format!("{e:?}"));
        match selector {
            Self::ACCOUNT => AccountKey::from_ssz_bytes(body)
                .map(ContentKey::Account)
                .map_err(malformed),
            Self::STORAGE => StorageKey::from_ssz_bytes(body)
                .map(ContentKey::Storage)
                .map_err(malformed),
            Self::BYTECODE => BytecodeKey::from_ssz_bytes(body)
                .map(ContentKey::Bytecode)
                .map_err(malformed),
            Self::ACCOUNT_DIFF => AccountDiffKey::from_ssz_bytes(body).map(ContentKey::AccountDiff),
            Self::STORAGE_TOP_DIFF => StorageTopDiffKey::from_ssz_bytes(body)
                .map(ContentKey::StorageTopDiff)
                .map_err(malformed),
            other => Err(ContentError::UnknownSelector(other)),
        }
    }

    /// Where this content lives on the ring (DESIGN.md, "Content").
    pub fn content_id(&self) -> ContentId {
        match self {
            ContentKey::Account(k) => ContentId(keccak256(k.address)),
            ContentKey::Storage(k) => {
                let account = U256::from_be_bytes(keccak256(k.address).0);
                let slot = U256::from_be_bytes(keccak256(k.slot.to_be_bytes::<32>()).0);
                ContentId::from_u256(account.wrapping_add(slot))
            }
            ContentKey::Bytecode(k) => {
                let mut hasher = Sha256::new();
                hasher.update(k.address);
                hasher.update(k.code_hash);
                ContentId(B256::from_slice(&hasher.finalize()))
            }
            ContentKey::AccountDiff(k) => k.prefix.range().start,
            ContentKey::StorageTopDiff(k) => ContentId(k.address_hash),
        }
    }

    /// The ids the content is *about*: a node is interested in it when its arc meets this
    /// range ([`super::Radius::meets`]). One point (the content id) for leaf proofs, bytecode
    /// and storage tops; the prefix's key range for an account-trie diff.
    pub fn id_range(&self) -> IdRange {
        match self {
            ContentKey::AccountDiff(k) => k.prefix.range(),
            _ => IdRange::point(self.content_id()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{address, b256, hex};

    const WETH: Address = address!("c02aaa39b223fe8d0a0e5c4f27ead9083c756cc2");
    const ROOT_19M: B256 =
        b256!("1ad7b80af0c28bc1489513346d2706885be90abb07f23ca28e50482adb392d61");

    #[test]
    fn account_key_layout_and_id() {
        let key = ContentKey::Account(AccountKey {
            address: WETH,
            state_root: ROOT_19M,
        });
        let bytes = key.encode();
        assert_eq!(bytes.len(), 1 + 20 + 32);
        assert_eq!(bytes[0], 0x00);
        assert_eq!(&bytes[1..21], WETH.as_slice());
        assert_eq!(&bytes[21..], ROOT_19M.as_slice());
        assert_eq!(ContentKey::decode(&bytes).unwrap(), key);
        assert_eq!(key.content_id().0, keccak256(WETH));
    }

    #[test]
    fn storage_key_layout_and_id() {
        let key = ContentKey::Storage(StorageKey {
            address: WETH,
            slot: U256::from(2),
            state_root: ROOT_19M,
        });
        let bytes = key.encode();
        assert_eq!(bytes.len(), 1 + 20 + 32 + 32);
        // uint256 is little-endian in SSZ.
        assert_eq!(bytes[21], 2);
        assert!(bytes[22..53].iter().all(|&b| b == 0));
        assert_eq!(ContentKey::decode(&bytes).unwrap(), key);
        // keccak(WETH) + keccak(slot 2), wrapping.
        let expected = U256::from_be_bytes(keccak256(WETH).0).wrapping_add(U256::from_be_bytes(
            keccak256(U256::from(2).to_be_bytes::<32>()).0,
        ));
        assert_eq!(key.content_id().to_u256(), expected);
    }

    #[test]
    fn bytecode_key_id_is_sha256_of_address_and_hash() {
        let code_hash = b256!("d0a06b12ac47863b5c7be4185c2deaad1c61557033f56c7d4ea74429cbb25e23");
        let key = ContentKey::Bytecode(BytecodeKey {
            address: WETH,
            code_hash,
        });
        let bytes = key.encode();
        assert_eq!(bytes[0], 0x02);
        assert_eq!(ContentKey::decode(&bytes).unwrap(), key);
        let mut pre = WETH.to_vec();
        pre.extend_from_slice(code_hash.as_slice());
        assert_eq!(key.content_id().0.as_slice(), &Sha256::digest(&pre)[..]);
    }

    #[test]
    fn diff_key_layouts_ids_and_ranges() {
        use crate::content::NibblePrefix;
        let block_hash = B256::repeat_byte(0xbb);
        let prefix = NibblePrefix::new(&[0xc, 0x0, 0x2]).unwrap();
        let key = ContentKey::AccountDiff(AccountDiffKey {
            block_hash,
            state_root: ROOT_19M,
            prefix,
        });
        let bytes = key.encode();
        // selector, two roots, the list's offset (68), three nibbles.
        assert_eq!(bytes.len(), 1 + 32 + 32 + 4 + 3);
        assert_eq!(bytes[0], 0x03);
        assert_eq!(&bytes[65..69], &[68, 0, 0, 0]);
        assert_eq!(&bytes[69..], &[0xc, 0x0, 0x2]);
        assert_eq!(ContentKey::decode(&bytes).unwrap(), key);
        assert_eq!(&key.content_id().as_bytes()[..2], &[0xc0, 0x20]);
        assert_eq!(key.id_range(), prefix.range());
        assert_eq!(key.block_hash(), Some(block_hash));
        assert_eq!(key.state_root(), Some(ROOT_19M));
        let mut bad = bytes.clone();
        bad[69] = 0x10;
        assert!(matches!(
            ContentKey::decode(&bad),
            Err(ContentError::MalformedKey(_))
        ));

        let top = ContentKey::StorageTopDiff(StorageTopDiffKey {
            block_hash,
            state_root: ROOT_19M,
            address_hash: keccak256(WETH),
        });
        let bytes = top.encode();
        assert_eq!(bytes.len(), 1 + 3 * 32);
        assert_eq!(bytes[0], 0x04);
        assert_eq!(ContentKey::decode(&bytes).unwrap(), top);
        assert_eq!(top.content_id().0, keccak256(WETH));
        assert_eq!(top.id_range(), IdRange::point(top.content_id()));
        assert_eq!(top.address(), None);
    }

    #[test]
    fn bad_keys_are_typed_errors() {
        assert_eq!(ContentKey::decode(&[]), Err(ContentError::EmptyKey));
        assert_eq!(
            ContentKey::decode(&[0x20, 1, 2]),
            Err(ContentError::UnknownSelector(0x20))
        );
        assert!(matches!(
            ContentKey::decode(&[0x00, 1, 2]),
            Err(ContentError::MalformedKey(_))
        ));
        let mut long = ContentKey::Account(AccountKey {
            address: WETH,
            state_root: ROOT_19M,
        })
        .encode();
        long.push(0);
        assert!(matches!(
            ContentKey::decode(&long),
            Err(ContentError::MalformedKey(_))
        ));
        // A storage key cut short by one byte.
        let short = hex!("01c02aaa39b223fe8d0a0e5c4f27ead9083c756cc2");
        assert!(matches!(
            ContentKey::decode(&short),
            Err(ContentError::MalformedKey(_))
        ));
    }
}
