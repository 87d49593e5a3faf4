//! Content from a genesis allocation: every account, listed storage slot and bytecode.

use super::BridgeError;
use crate::proof::{self, build_witnesses, GenesisAlloc, VerifiedContent};
use alloy_primitives::B256;

/// The content of a genesis state, every item verified against `state_root`.
#[derive(Clone, Debug)]
pub struct GenesisContent {
    /// The state root computed from the allocation. Nodes accept the items once they trust a
    /// header with this root (the chain's genesis header).
    pub state_root: B256,
    /// Every item: each account (in trie order), followed by its storage slots and its code.
    pub items: Vec<VerifiedContent>,
}

/// Build and verify every item of a genesis JSON file (a whole genesis object, or a bare
/// allocation map; see [`GenesisAlloc::from_json`]).
///
/// The witnesses come from tries we build ourselves, so a failing verification would be a bug
/// here, not bad input; it is still an error, naming the item, rather than content pushed
/// unverified.
pub fn genesis_content(json: &str) -> Result<GenesisContent, BridgeError> {
    content_of(&GenesisAlloc::from_json(json)?)
}

/// Every item of a whole state (a genesis allocation, or an execution client's dump), built
/// and verified against the root built.
pub(crate) fn content_of(alloc: &GenesisAlloc) -> Result<GenesisContent, BridgeError> {
    let built = build_witnesses(alloc);
    let items = built
        .items
        .into_iter()
        .map(|(key, value)| {
            proof::verify(key, value).map_err(|source| BridgeError::InvalidProof {
                item: format!("genesis item {key:?}"),
                source,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(GenesisContent {
        state_root: built.state_root,
        items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proof::VerifiedValue;

    #[test]
    fn a_small_genesis_gives_every_item_verified() {
        let json = r#"{"alloc": {
            "0x00000000000000000000000000000000000000aa": {"balance": "0x10"},
            "00000000000000000000000000000000000000bb": {"balance": "5", "code": "0x6000",
                "storage": {"0x01": "0x07"}}
        }}"#;
        let content = genesis_content(json).unwrap();
        // Two accounts, one slot, one code.
        assert_eq!(content.items.len(), 4);
        assert!(content
            .items
            .iter()
            .any(|i| i.proven() == &VerifiedValue::Storage(alloy_primitives::U256::from(7))));
        assert!(matches!(
            genesis_content("{\"alloc\": {\"0x12\": {}}}"),
            Err(BridgeError::Genesis(_))
        ));
        assert!(genesis_content("not json").is_err());
    }
}
