//! `eth_getProof` from the verified witnesses: the account's path from the state root, and
//! each slot's path from the account's storage root, exactly as the network's content items
//! carry them and as they passed verification. A tool that checks proofs itself can check
//! these against the block's `stateRoot`.

use super::{AccountState, Answer, BlockId, ClientError, StateClient};
use crate::content::{AccountKey, ContentKey, ContentValue, StorageKey};
use crate::overlay::LookupStats;
use crate::proof::VerifiedValue;
use alloy_primitives::{Address, Bytes, U256};
use alloy_trie::EMPTY_ROOT_HASH;

/// One slot's value and its proof (`eth_getProof`'s `storageProof` entries).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageProof {
    /// The slot.
    pub slot: U256,
    /// Its value (zero for a slot never written).
    pub value: U256,
    /// The trie nodes from the account's storage root to the slot's leaf (or to the point
    /// that proves it absent), root first; empty for an account whose storage is empty.
    pub proof: Vec<Bytes>,
}

/// An account and some of its slots, with the witnesses that prove them (`eth_getProof`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountProof {
    /// The account.
    pub address: Address,
    /// Its state (all zeros with the empty roots when the proof proves it absent).
    pub account: AccountState,
    /// The trie nodes from the state root to the account's leaf (or to the point that proves
    /// it absent), root first.
    pub account_proof: Vec<Bytes>,
    /// The slots asked for, in the order asked.
    pub storage: Vec<StorageProof>,
}

impl StateClient {
    /// The account at `address` and the slots `slots`, with their proofs, all at one block:
    /// for [`BlockId::Latest`] the newest trusted block that has the account's proof (as
    /// [`StateClient::account`] finds it); every slot at that same block, without falling
    /// back further (a proof must name one state root).
    pub async fn proof(
        &self,
        address: Address,
        slots: &[U256],
        block: BlockId,
    ) -> Result<Answer<AccountProof>, ClientError> {
        let mut stats = LookupStats::default();
        let mut tried = Vec::new();
        for header in self.candidates(block)? {
            tried.push(header.number);
            let root = header.state_root;
            let key = ContentKey::Account(AccountKey {
                address,
                state_root: root,
            });
            let Some(content) = self.lookup_content(key, &mut stats).await? else {
                continue;
            };
            let (VerifiedValue::Account(account), ContentValue::Account(witness)) =
                (content.proven(), content.value())
            else {
                continue;
            };
            let account: AccountState = (*account).into();
            let mut storage = Vec::with_capacity(slots.len());
            for &slot in slots {
                storage.push(
                    self.slot_proof(address, &account, slot, root, header.number, &mut stats)
                        .await?,
                );
            }
            return Ok(Answer {
                block: (&header).into(),
                value: AccountProof {
                    address,
                    account,
                    account_proof: witness.nodes().to_vec(),
                    storage,
                },
                stats,
            });
        }
        Err(ClientError::NotFound {
            what: format!("account {address}"),
            tried,
        })
    }

    /// One slot's proof at the state root `root` of block `number`.
    async fn slot_proof(
        &self,
        address: Address,
        account: &AccountState,
        slot: U256,
        root: alloy_primitives::B256,
        number: u64,
        stats: &mut LookupStats,
    ) -> Result<StorageProof, ClientError> {
        // Empty storage (or no account): every slot is zero, and the empty trie needs no
        // nodes to show it.
        if account.storage_root == EMPTY_ROOT_HASH {
            return Ok(StorageProof {
                slot,
                value: U256::ZERO,
                proof: Vec::new(),
            });
        }
        let key = ContentKey::Storage(StorageKey {
            address,
            slot,
            state_root: root,
        });
        match self.lookup_content(key, stats).await? {
            Some(content) => match (content.proven(), content.value()) {
                (
                    VerifiedValue::Storage(value),
                    ContentValue::Storage {
                        storage_witness, ..
                    },
                ) => Ok(StorageProof {
                    slot,
                    value: *value,
                    proof: storage_witness.nodes().to_vec(),
                }),
                _ => Err(ClientError::Execution(format!(
                    "slot {slot} of {address}: the network returned another kind of item"
                ))),
            },
            None => Err(ClientError::NotFound {
                what: format!("slot {slot} of {address}"),
                tried: vec![number],
            }),
        }
    }
}
