//! The query client: accounts, storage and code at a block, verified, with the block named.
//!
//! A query names a block ([`BlockId`]) or asks for the newest trusted one. State is found by
//! key *and state root*, and a bridge pushes each block's changes only, so the newest root may
//! not have a proof for every key yet (DESIGN.md, "Freshness"). For [`BlockId::Latest`] the
//! client therefore falls back to older trusted roots, newest first, and every answer says
//! which block it is true at ([`Answer::block`]). A query for a named block never falls back.

use crate::content::{BytecodeKey, ContentKey, StorageKey};
use crate::network::{Network, NetworkError};
use crate::overlay::{LookupStats, OverlayError};
use crate::proof::{BlockHeader, VerifiedContent, VerifiedValue};
use alloy_primitives::{Address, Bytes, B256, U256};
use alloy_trie::{TrieAccount, EMPTY_ROOT_HASH, KECCAK_EMPTY};
use std::sync::Arc;

mod access_list;
mod call;
mod call_state;
mod caller;
mod code_cache;
mod fallback;
mod fees;
mod proof;
mod send;
pub use access_list::AccessListAnswer;
pub use call::{decode_revert_reason, CallRequest, CallResult};
pub use call_state::{CallFetches, MAX_CONCURRENT_FETCHES};
pub use code_cache::CODE_CACHE_BYTES;
pub use fees::{FeeData, FeeHistory, MAX_FEE_HISTORY_BLOCKS, SUGGESTED_PRIORITY_FEE};
pub use proof::{AccountProof, StorageProof};
pub use send::{SentTransaction, TxRelays};

/// Which block a query is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BlockId {
    /// The newest trusted block with an answer (falling back to older trusted blocks).
    Latest,
    /// The trusted block with this number.
    Number(u64),
    /// The trusted block with this hash.
    Hash(B256),
}

/// A block an answer is true at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BlockRef {
    /// Block number.
    pub number: u64,
    /// Block hash.
    pub hash: B256,
    /// The state root the answer was verified against.
    pub state_root: B256,
}

impl From<&BlockHeader> for BlockRef {
    fn from(h: &BlockHeader) -> Self {
        BlockRef {
            number: h.number,
            hash: h.hash,
            state_root: h.state_root,
        }
    }
}

/// A verified answer and the block it is true at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer<T> {
    /// The block whose state root the answer was verified against.
    pub block: BlockRef,
    /// The answer.
    pub value: T,
    /// What the lookups behind it cost, summed.
    pub stats: LookupStats,
}

/// An account's state. An account that does not exist reads as all zeros with the empty code
/// and storage roots, as Ethereum reads it; [`AccountState::exists`] tells them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccountState {
    /// Whether the account is in the state trie (a proof of absence gives `false`).
    pub exists: bool,
    /// Transaction count (or contract creation count).
    pub nonce: u64,
    /// Balance in wei.
    pub balance: U256,
    /// Root of the account's storage trie.
    pub storage_root: B256,
    /// Keccak of the account's code.
    pub code_hash: B256,
}

impl From<Option<TrieAccount>> for AccountState {
    fn from(account: Option<TrieAccount>) -> Self {
        match account {
            Some(a) => AccountState {
                exists: true,
                nonce: a.nonce,
                balance: a.balance,
                storage_root: a.storage_root,
                code_hash: a.code_hash,
            },
            None => AccountState {
                exists: false,
                nonce: 0,
                balance: U256::ZERO,
                storage_root: EMPTY_ROOT_HASH,
                code_hash: KECCAK_EMPTY,
            },
        }
    }
}

/// Why a query has no answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No header is trusted yet, so nothing can be verified.
    #[error("no trusted block header yet")]
    NoTrustedHeader,
    /// The named block is not among the trusted headers.
    #[error("block {0:?} is not a trusted block")]
    UnknownBlock(BlockId),
    /// No peer had a verifiable answer at any block tried.
    #[error("no verified answer for {what} at blocks {tried:?}")]
    NotFound {
        /// What was asked.
        what: String,
        /// The block numbers tried, newest first.
        tried: Vec<u64>,
    },
    /// A call or gas estimate reverted (for an estimate: even at the gas cap).
    #[error("execution reverted{}", reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default())]
    Reverted {
        /// The decoded `Error(string)` message, when the data is one.
        reason: Option<String>,
        /// The revert data, as returned by the contract.
        data: Bytes,
    },
    /// The EVM could not run the call: an invalid request (e.g. gas below 21,000), a halt
    /// during a gas estimate, a header it cannot read, or a failure inside the EVM.
    #[error("execution failed: {0}")]
    Execution(String),
    /// The network failed in another way (stopped, store failure).
    #[error(transparent)]
    Network(#[from] NetworkError),
    /// A signed transaction cannot be sent: it does not decode, its signature is bad, it is
    /// for another chain, or the sender's verified nonce or balance does not allow it.
    #[error("transaction rejected: {0}")]
    TransactionRejected(String),
    /// A transaction was to be sent, but no relay is configured.
    #[error("no transaction relay configured (start the node with --tx-relay URL, or set relays in the Node API)")]
    NoRelay,
    /// A relay URL is not usable.
    #[error("transaction relay: {0}")]
    InvalidRelay(String),
    /// Every relay failed to take the transaction; one reason per relay, `URL: reason`.
    #[error("no relay took the transaction: {}", .0.join("; "))]
    RelayFailed(Vec<String>),
}

/// Queries against a running [`Network`].
#[derive(Clone)]
pub struct StateClient {
    network: Arc<Network>,
    fallback_depth: usize,
    sequential_calls: bool,
    /// Code earlier calls fetched, shared by the client's clones.
    code_cache: Arc<code_cache::CodeCache>,
}

impl StateClient {
    /// How many trusted blocks a `Latest` query tries, newest first, by default.
    pub const DEFAULT_FALLBACK_DEPTH: usize = 16;

    /// A client over `network`.
    pub fn new(network: Arc<Network>) -> Self {
        Self {
            network,
            fallback_depth: Self::DEFAULT_FALLBACK_DEPTH,
            sequential_calls: false,
            code_cache: Arc::default(),
        }
    }

    /// Make calls fetch each account and slot when the EVM first reads it, one lookup after
    /// another, and every code by its lookup, instead of in rounds of concurrent lookups that
    /// start from the code earlier calls fetched (the default; see
    /// [`StateClient::call_counted`]). For measuring what the rounds save: the answers are
    /// the same, and as verified.
    pub fn with_sequential_calls(mut self, sequential: bool) -> Self {
        self.sequential_calls = sequential;
        self
    }

    /// Set how many trusted blocks a `Latest` query tries.
    pub fn with_fallback_depth(mut self, depth: usize) -> Self {
        self.fallback_depth = depth.max(1);
        self
    }

    /// The network queried.
    pub fn network(&self) -> &Arc<Network> {
        &self.network
    }

    /// The newest trusted block.
    pub fn newest_block(&self) -> Option<BlockHeader> {
        self.network.overlay().with_heads(|h| h.newest().cloned())
    }

    /// The trusted header of `block` (for `Latest`, the newest).
    pub fn header(&self, block: BlockId) -> Result<BlockHeader, ClientError> {
        self.candidates(block)?
            .into_iter()
            .next()
            .ok_or(ClientError::NoTrustedHeader)
    }

    /// The trusted blocks to try for `block`, newest first.
    fn candidates(&self, block: BlockId) -> Result<Vec<BlockHeader>, ClientError> {
        let depth = self.fallback_depth;
        let found: Vec<BlockHeader> = self.network.overlay().with_heads(|heads| match block {
            BlockId::Latest => heads.newest_first().take(depth).cloned().collect(),
            BlockId::Number(n) => heads.get(n).cloned().into_iter().collect(),
            BlockId::Hash(hash) => heads
                .newest_first()
                .find(|h| h.hash == hash)
                .cloned()
                .into_iter()
                .collect(),
        });
        if !found.is_empty() {
            return Ok(found);
        }
        let empty = self.network.overlay().with_heads(|h| h.is_empty());
        Err(if empty {
            ClientError::NoTrustedHeader
        } else {
            ClientError::UnknownBlock(block)
        })
    }

    /// Look `key` up; `Ok(None)` when no peer has it (try another block).
    async fn lookup(
        &self,
        key: ContentKey,
        stats: &mut LookupStats,
    ) -> Result<Option<VerifiedValue>, ClientError> {
        Ok(self
            .lookup_content(key, stats)
            .await?
            .map(|content| content.proven().clone()))
    }

    /// Look `key` up, keeping the verified witness; `Ok(None)` when no peer has it.
    async fn lookup_content(
        &self,
        key: ContentKey,
        stats: &mut LookupStats,
    ) -> Result<Option<VerifiedContent>, ClientError> {
        match self.network.find_content(key).await {
            Ok(found) => {
                add_stats(stats, &found.stats);
                Ok(Some(found.content))
            }
            Err(NetworkError::Overlay(OverlayError::NotFound(_))) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The account at `address`.
    pub async fn account(
        &self,
        address: Address,
        block: BlockId,
    ) -> Result<Answer<AccountState>, ClientError> {
        let mut stats = LookupStats::default();
        let mut tried = Vec::new();
        let candidates = self.candidates(block)?;
        let probe = |header: BlockHeader| self.account_at(address, header.state_root);
        match self
            .newest_answer(candidates, &mut stats, &mut tried, probe)
            .await?
        {
            Some((header, account)) => Ok(Answer {
                block: (&header).into(),
                value: account.into(),
                stats,
            }),
            None => Err(ClientError::NotFound {
                what: format!("account {address}"),
                tried,
            }),
        }
    }

    /// The value of storage `slot` of the contract at `address` (zero when unset).
    pub async fn storage(
        &self,
        address: Address,
        slot: U256,
        block: BlockId,
    ) -> Result<Answer<U256>, ClientError> {
        let mut stats = LookupStats::default();
        let mut tried = Vec::new();
        let candidates = self.candidates(block)?;
        let probe = |header: BlockHeader| async move {
            let mut spent = LookupStats::default();
            let root = header.state_root;
            let key = ContentKey::Storage(StorageKey {
                address,
                slot,
                state_root: root,
            });
            if let Some(VerifiedValue::Storage(value)) = self.lookup(key, &mut spent).await? {
                return Ok((Some(value), spent));
            }
            // No storage item: an account without storage reads zero at this block.
            let (account, more) = self.account_at(address, root).await?;
            add_stats(&mut spent, &more);
            let empty =
                account.is_some_and(|a| a.is_none_or(|a| a.storage_root == EMPTY_ROOT_HASH));
            Ok((empty.then_some(U256::ZERO), spent))
        };
        match self
            .newest_answer(candidates, &mut stats, &mut tried, probe)
            .await?
        {
            Some((header, value)) => Ok(Answer {
                block: (&header).into(),
                value,
                stats,
            }),
            None => Err(ClientError::NotFound {
                what: format!("slot {slot} of {address}"),
                tried,
            }),
        }
    }

    /// The code of the account at `address` (empty for accounts without code).
    pub async fn code(
        &self,
        address: Address,
        block: BlockId,
    ) -> Result<Answer<Bytes>, ClientError> {
        let account = self.account(address, block).await?;
        let mut stats = account.stats;
        let code_hash = account.value.code_hash;
        if code_hash == KECCAK_EMPTY {
            return Ok(Answer {
                block: account.block,
                value: Bytes::new(),
                stats,
            });
        }
        // Code is found by its hash, which the verified account fixed: any block will do.
        let key = ContentKey::Bytecode(BytecodeKey { address, code_hash });
        match self.lookup(key, &mut stats).await? {
            Some(VerifiedValue::Bytecode(code)) => Ok(Answer {
                block: account.block,
                value: code,
                stats,
            }),
            _ => Err(ClientError::NotFound {
                what: format!("code {code_hash} of {address}"),
                tried: vec![account.block.number],
            }),
        }
    }
}

fn add_stats(total: &mut LookupStats, one: &LookupStats) {
    total.messages += one.messages;
    total.round_trips += one.round_trips;
    total.bytes_sent += one.bytes_sent;
    total.bytes_received += one.bytes_received;
    total.invalid_responses += one.invalid_responses;
    total.local |= one.local;
}
