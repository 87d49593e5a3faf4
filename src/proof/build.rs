//! Building witnesses from a full state: what a bridge gossips into the network.
//!
//! The secure state trie (`keccak(address)` → RLP account) and one storage trie per contract
//! (`keccak(slot)` → RLP value) are built with alloy-trie's [`HashBuilder`], whose
//! [`ProofRetainer`] keeps every node (all keys are targets). Witnesses are then read out per
//! key by looking up the nodes at each prefix of the key's path, which costs 65 hash-map lookups
//! per key instead of a scan of all nodes ([`alloy_trie::proof::ProofNodes::matching_nodes_sorted`]
//! scans, which is quadratic over a whole state).
//!
//! Because every node is kept, the built state also answers for keys that are *not* in it: the
//! path of an absent key runs through existing nodes and ends at an empty branch slot or a
//! diverging leaf or extension, which is an exclusion proof.

use super::genesis::GenesisAlloc;
use crate::content::{AccountKey, BytecodeKey, ContentKey, ContentValue, StorageKey, Witness};
use alloy_primitives::map::HashMap;
use alloy_primitives::{keccak256, Address, Bytes, B256, U256};
use alloy_trie::proof::ProofRetainer;
use alloy_trie::{HashBuilder, Nibbles, EMPTY_ROOT_HASH};

/// The built tries of a state and the content items a bridge offers for it.
#[derive(Clone, Debug)]
pub struct StateWitnesses {
    /// The state root.
    pub state_root: B256,
    /// Every item of the state, each verifiable on its own: an account item per account, a
    /// storage item per listed slot (zero-valued slots get an exclusion proof), a bytecode item
    /// per contract. Accounts come in trie order (by `keccak(address)`); each account's storage
    /// and bytecode items follow it.
    pub items: Vec<(ContentKey, ContentValue)>,
    account_trie: BuiltTrie,
    storage_tries: HashMap<Address, BuiltTrie>,
}

impl StateWitnesses {
    /// The account witness for `address`: an inclusion proof if the account exists, else an
    /// exclusion proof.
    pub fn account_witness(&self, address: Address) -> Witness {
        self.account_trie.witness(&keccak256(address))
    }

    /// The storage witness for `slot` of the contract at `address`, against the contract's
    /// storage root. Empty when the account has no storage (the empty root needs no nodes) or
    /// does not exist.
    pub fn storage_witness(&self, address: Address, slot: U256) -> Witness {
        self.storage_tries
            .get(&address)
            .map(|trie| trie.witness(&keccak256(slot.to_be_bytes::<32>())))
            .unwrap_or_default()
    }

    /// The storage root of the account at `address` ([`EMPTY_ROOT_HASH`] when it has no
    /// storage or does not exist).
    pub fn storage_root(&self, address: Address) -> B256 {
        self.storage_tries
            .get(&address)
            .map_or(EMPTY_ROOT_HASH, |trie| trie.root)
    }

    /// The content key and value of the account at `address` (present or absent).
    pub fn account_item(&self, address: Address) -> (ContentKey, ContentValue) {
        (
            ContentKey::Account(AccountKey {
                address,
                state_root: self.state_root,
            }),
            ContentValue::Account(self.account_witness(address)),
        )
    }

    /// The content key and value of `slot` of the contract at `address` (present or absent).
    pub fn storage_item(&self, address: Address, slot: U256) -> (ContentKey, ContentValue) {
        (
            ContentKey::Storage(StorageKey {
                address,
                slot,
                state_root: self.state_root,
            }),
            ContentValue::Storage {
                account_witness: self.account_witness(address),
                storage_witness: self.storage_witness(address, slot),
            },
        )
    }
}

/// One built trie: its root and every node by its path from the root.
#[derive(Clone, Debug)]
struct BuiltTrie {
    root: B256,
    nodes: HashMap<Nibbles, Bytes>,
}

impl BuiltTrie {
    /// Build a trie from `(hashed key, value)` leaves, which must be sorted by key.
    fn from_sorted_leaves<'a>(leaves: impl Iterator<Item = (&'a B256, &'a [u8])> + Clone) -> Self {
        let targets = leaves
            .clone()
            .map(|(key, _)| Nibbles::unpack(key))
            .collect();
        let mut builder = HashBuilder::default().with_proof_retainer(ProofRetainer::new(targets));
        for (key, value) in leaves {
            builder.add_leaf(Nibbles::unpack(key), value);
        }
        let root = builder.root();
        let nodes = builder.take_proof_nodes().into_inner();
        Self { root, nodes }
    }

    /// The witness for `hashed_key`, root first.
    fn witness(&self, hashed_key: &B256) -> Witness {
        // The empty trie needs no nodes (its root node `0x80` would prove nothing more).
        if self.root == EMPTY_ROOT_HASH {
            return Witness::default();
        }
        let path = Nibbles::unpack_array(&hashed_key.0);
        let mut nodes = Vec::new();
        for depth in 0..=path.len() {
            if let Some(node) = self.nodes.get(&path.slice(..depth)) {
                // A node under 32 bytes is embedded in its parent, not referenced by hash, so it
                // is not a witness node of its own; the root is always referenced by hash.
                if depth == 0 || node.len() >= 32 {
                    nodes.push(node.clone());
                }
            }
        }
        Witness(nodes)
    }
}

/// Build the state trie of `alloc` (and the storage trie of each contract with storage) and
/// every content item of the state.
pub fn build_witnesses(alloc: &GenesisAlloc) -> StateWitnesses {
    let mut storage_tries = HashMap::default();
    let mut account_leaves: Vec<(B256, Address, Vec<u8>)> = Vec::with_capacity(alloc.len());
    for (&address, account) in alloc.iter() {
        let mut slots: Vec<(B256, Vec<u8>)> = account
            .storage
            .iter()
            .filter(|(_, value)| !value.is_zero())
            .map(|(slot, value)| {
                (
                    keccak256(slot.to_be_bytes::<32>()),
                    alloy_rlp::encode(value),
                )
            })
            .collect();
        let storage_root = if slots.is_empty() {
            EMPTY_ROOT_HASH
        } else {
            slots.sort_unstable_by_key(|(key, _)| *key);
            let trie = BuiltTrie::from_sorted_leaves(slots.iter().map(|(k, v)| (k, v.as_slice())));
            let root = trie.root;
            storage_tries.insert(address, trie);
            root
        };
        let leaf = alloy_rlp::encode(account.trie_account(storage_root));
        account_leaves.push((keccak256(address), address, leaf));
    }
    account_leaves.sort_unstable_by_key(|(key, _, _)| *key);
    let account_trie = BuiltTrie::from_sorted_leaves(
        account_leaves
            .iter()
            .map(|(key, _, leaf)| (key, leaf.as_slice())),
    );

    let mut built = StateWitnesses {
        state_root: account_trie.root,
        items: Vec::new(),
        account_trie,
        storage_tries,
    };
    let storage_items: usize = alloc.iter().map(|(_, a)| a.storage.len()).sum();
    let mut items = Vec::with_capacity(alloc.len() + storage_items);
    for (_, address, _) in &account_leaves {
        let Some(account) = alloc.get(address) else {
            continue;
        };
        items.push(built.account_item(*address));
        for slot in account.storage.keys() {
            items.push(built.storage_item(*address, *slot));
        }
        if !account.code.is_empty() {
            items.push((
                ContentKey::Bytecode(BytecodeKey {
                    address: *address,
                    code_hash: account.code_hash(),
                }),
                ContentValue::Bytecode(account.code.clone()),
            ));
        }
    }
    built.items = items;
    built
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proof::dispatch::verify;
    use crate::proof::genesis::GenesisAccount;
    use crate::proof::verify::verify_account;
    use alloy_primitives::address;

    #[test]
    fn empty_alloc_has_the_empty_root() {
        let built = build_witnesses(&GenesisAlloc::new());
        assert_eq!(built.state_root, EMPTY_ROOT_HASH);
        assert!(built.items.is_empty());
        let absent = address!("00000000000000000000000000000000000000aa");
        assert!(built.account_witness(absent).nodes().is_empty());
        assert_eq!(
            verify_account(built.state_root, absent, &built.account_witness(absent)),
            Ok(None)
        );
    }

    #[test]
    fn single_account_root_is_its_leaf() {
        let address = address!("00000000000000000000000000000000000000aa");
        let alloc: GenesisAlloc = [(address, GenesisAccount::with_balance(U256::from(5)))]
            .into_iter()
            .collect();
        let built = build_witnesses(&alloc);
        assert_eq!(
            built.state_root,
            alloy_trie::root::state_root_unhashed([(
                address,
                alloc.get(&address).unwrap().trie_account(EMPTY_ROOT_HASH)
            )])
        );
        assert_eq!(built.items.len(), 1);
        assert_eq!(built.account_witness(address).nodes().len(), 1);
        let (key, value) = built.items[0].clone();
        assert!(verify(key, value).is_ok());
    }

    #[test]
    fn zero_storage_is_left_out_of_the_trie_but_still_proven() {
        let address = address!("00000000000000000000000000000000000000cc");
        let mut account = GenesisAccount::with_balance(U256::from(1));
        account.code = Bytes::from_static(&[0x60, 0x00]);
        account.storage.insert(U256::from(1), U256::from(7));
        account.storage.insert(U256::from(2), U256::ZERO);
        let alloc: GenesisAlloc = [(address, account)].into_iter().collect();
        let built = build_witnesses(&alloc);
        // Account, two storage items, bytecode.
        assert_eq!(built.items.len(), 4);
        assert_eq!(
            built.storage_root(address),
            alloy_trie::root::storage_root_unhashed([(B256::from(U256::from(1)), U256::from(7))])
        );
        let values: Vec<_> = built
            .items
            .iter()
            .cloned()
            .map(|(k, v)| verify(k, v).unwrap().proven().clone())
            .collect();
        use crate::proof::VerifiedValue;
        assert_eq!(values[1], VerifiedValue::Storage(U256::from(7)));
        assert_eq!(values[2], VerifiedValue::Storage(U256::ZERO));
    }
}
