//! The state a call runs on, fetched in rounds of concurrent lookups.
//!
//! revm asks its database for one account or slot at a time, and a lookup is a network round
//! trip: fetched on demand, a call touching k items waits for k lookups one after another.
//! Instead a run never waits: an item not yet fetched reads as a placeholder (an absent
//! account, a zero slot) and is noted; after the run every noted item is fetched at once
//! (at most [`MAX_CONCURRENT_FETCHES`] in flight), and the call runs again, until a run reads
//! nothing new. The number of rounds is then the call's dependency depth (how many times a key
//! can only be named after another item's value is known), not its item count.
//!
//! A placeholder never reaches an answer: only a run that read every item from fetched
//! state counts, and every value it read was proven against the
//! pinned block's state root. Up to the first placeholder a run reads, it reads what the
//! sequential execution would read, so that first item is a real need of the call: each round
//! fetches at least one, and the rounds never outnumber the sequential lookups. Items a
//! placeholder led to (wrong keys) are fetched in vain at worst, in the same round.
//!
//! An item no peer holds is kept as *absent* with its error; a complete run that reads one
//! fails with that error (naming the account, slot or code), which is the item the sequential
//! execution would have stopped at, found in about one lookup's time.

use super::{BlockId, ClientError, StateClient};
use crate::content::{BytecodeKey, ContentKey};
use crate::overlay::LookupStats;
use crate::proof::VerifiedValue;
use alloy_primitives::{Address, B256, U256};
use alloy_trie::KECCAK_EMPTY;
use futures::StreamExt;
use revm::database_interface::{DBErrorMarker, DatabaseRef};
use revm::state::{AccountInfo, Bytecode};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use tokio::runtime::Handle;

/// Lookups a call keeps in flight at once: enough for the slots of a wide view call in one
/// round, few enough not to flood the peers of a light node.
pub const MAX_CONCURRENT_FETCHES: usize = 16;

/// One item of state a call reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum StateItem {
    /// An account, with its code.
    Account(Address),
    /// A storage slot of an account.
    Slot(Address, U256),
}

/// How a call's state was fetched: what [`StateClient::call_counted`] reports besides the
/// answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallFetches {
    /// Rounds of concurrent fetches the call waited for, one after another (the first fetches
    /// the called account, the sender and the items of the request's access list). Fetching
    /// an account with code is two lookups in its round (the code is found by the hash the
    /// account gives).
    pub rounds: u32,
    /// Items fetched (accounts with their code, storage slots), those no peer held included.
    pub items: u32,
    /// Items no peer held.
    pub absent: u32,
    /// Times the EVM ran (every round adds one; a gas estimate runs more).
    pub runs: u32,
}

/// A fetched item's verified value.
pub(super) enum Fetched {
    Account(AccountInfo),
    Slot(U256),
}

/// A database read failed; the [`ClientError`] itself is kept in [`CallState`].
#[derive(Debug, thiserror::Error)]
#[error("state read failed: {0}")]
pub(super) struct DbFailure(String);

impl DBErrorMarker for DbFailure {}

/// Lock a mutex even if a panicking thread poisoned it: the maps only ever hold verified items.
pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The items one run read, in the order it read them.
#[derive(Default)]
struct Reads {
    order: Vec<StateItem>,
    seen: HashSet<StateItem>,
}

/// State at one block, fetched from the network in rounds and kept for the whole call (and
/// every run of an estimate).
pub(super) struct CallState {
    client: StateClient,
    handle: Handle,
    /// The block every read is pinned to (by hash: a number could name another block later).
    block: BlockId,
    accounts: Mutex<HashMap<Address, AccountInfo>>,
    code: Mutex<HashMap<B256, Bytecode>>,
    storage: Mutex<HashMap<(Address, U256), U256>>,
    /// Items no peer held, with the error naming each.
    absent: Mutex<HashMap<StateItem, ClientError>>,
    /// Items the call surely reads (the called account, the sender, the request's access
    /// list): fetched in the first round whatever the first run reads.
    seeds: Vec<StateItem>,
    /// What the current run read.
    reads: Mutex<Reads>,
    /// The first error a read met in the current run; the call returns it rather than revm's
    /// wrapper of it.
    failure: Mutex<Option<ClientError>>,
    stats: Mutex<LookupStats>,
    fetches: Mutex<CallFetches>,
    /// Fetch each item when the EVM first reads it, one round per item
    /// ([`StateClient::with_sequential_calls`]).
    sequential: bool,
}

impl CallState {
    /// An empty state pinned to `block` (a hash), on the current runtime, that fetches
    /// `seeds` in its first round.
    pub(super) fn new(client: StateClient, block: BlockId, seeds: Vec<StateItem>) -> Self {
        CallState {
            handle: Handle::current(),
            block,
            accounts: Mutex::default(),
            code: Mutex::default(),
            storage: Mutex::default(),
            absent: Mutex::default(),
            seeds,
            reads: Mutex::default(),
            failure: Mutex::default(),
            stats: Mutex::default(),
            fetches: Mutex::default(),
            sequential: client.sequential_calls,
            client,
        }
    }

    /// The lookups' costs so far, summed.
    pub(super) fn stats(&self) -> LookupStats {
        *lock(&self.stats)
    }

    /// The rounds and items fetched so far.
    pub(super) fn fetches(&self) -> CallFetches {
        *lock(&self.fetches)
    }

    /// Keep an account (and its code), verified.
    pub(super) fn insert_account(&self, address: Address, account: AccountInfo) {
        if let Some(code) = &account.code {
            lock(&self.code).insert(account.code_hash, code.clone());
        }
        lock(&self.accounts).insert(address, account);
    }

    /// Count a round of `items` fetches made outside [`CallState::keep`].
    pub(super) fn record_round(&self, items: u32) {
        let mut fetches = lock(&self.fetches);
        fetches.rounds += 1;
        fetches.items += items;
    }

    /// The account fetched for `address`, if it was.
    pub(super) fn account(&self, address: Address) -> Option<AccountInfo> {
        lock(&self.accounts).get(&address).cloned()
    }

    /// The error of `item` if no peer held it, forgetting that it is absent.
    pub(super) fn take_absent(&self, item: StateItem) -> Option<ClientError> {
        lock(&self.absent).remove(&item)
    }

    /// Keep what a round fetched: values as verified state, misses as absent items, and other
    /// errors (the network stopped) returned.
    pub(super) fn keep(
        &self,
        fetched: Vec<(StateItem, Result<Fetched, ClientError>)>,
    ) -> Result<(), ClientError> {
        let mut fetches = lock(&self.fetches);
        fetches.rounds += 1;
        let mut failure = None;
        for (item, result) in fetched {
            fetches.items += 1;
            match (item, result) {
                (StateItem::Account(address), Ok(Fetched::Account(info))) => {
                    self.insert_account(address, info)
                }
                (StateItem::Slot(address, slot), Ok(Fetched::Slot(value))) => {
                    lock(&self.storage).insert((address, slot), value);
                }
                (_, Ok(_)) => unreachable!("fetch_items answers each item in its kind"),
                (item, Err(e @ ClientError::NotFound { .. })) => {
                    fetches.absent += 1;
                    lock(&self.absent).insert(item, e);
                }
                (_, Err(e)) => failure = failure.or(Some(e)),
            }
        }
        failure.map_or(Ok(()), Err)
    }

    /// Forget the previous run's reads and failure before a run.
    pub(super) fn start_run(&self) {
        *lock(&self.reads) = Reads::default();
        lock(&self.failure).take();
        lock(&self.fetches).runs += 1;
    }

    /// The first error a read met in the last run.
    pub(super) fn take_failure(&self) -> Option<ClientError> {
        lock(&self.failure).take()
    }

    /// The seeds and the items the last run read that are neither fetched nor known absent.
    pub(super) fn unknown_reads(&self) -> Vec<StateItem> {
        let mut unknown = Vec::new();
        let mut listed = HashSet::new();
        let reads = lock(&self.reads);
        for item in self.seeds.iter().chain(reads.order.iter()) {
            if !self.is_fetched(item) && listed.insert(*item) {
                unknown.push(*item);
            }
        }
        unknown
    }

    /// Fetch `items` concurrently and keep them (from the blocking pool, where runs are).
    pub(super) fn fetch_blocking(&self, items: Vec<StateItem>) -> Result<(), ClientError> {
        let mut stats = LookupStats::default();
        let fetched =
            self.handle
                .block_on(fetch_items(&self.client, self.block, items, &mut stats));
        super::add_stats(&mut lock(&self.stats), &stats);
        self.keep(fetched)
    }

    /// Add the costs of lookups made outside a round (the preparation's).
    pub(super) fn add_stats(&self, stats: &LookupStats) {
        super::add_stats(&mut lock(&self.stats), stats);
    }

    /// The error of the first item no peer holds that the last run read. When the run read
    /// nothing unknown, that is where the sequential execution would have stopped.
    pub(super) fn first_absent_read(&self) -> Option<ClientError> {
        let reads = lock(&self.reads);
        let mut absent = lock(&self.absent);
        reads.order.iter().find_map(|item| absent.remove(item))
    }

    /// The accounts and slots the last run read (for an access list).
    pub(super) fn read_items(&self) -> Vec<StateItem> {
        lock(&self.reads).order.clone()
    }

    fn is_fetched(&self, item: &StateItem) -> bool {
        if lock(&self.absent).contains_key(item) {
            return true;
        }
        match *item {
            StateItem::Account(a) => lock(&self.accounts).contains_key(&a),
            StateItem::Slot(a, s) => lock(&self.storage).contains_key(&(a, s)),
        }
    }

    /// Note that the run read `item`; in sequential mode, fetch it now if it is unknown.
    fn note(&self, item: StateItem) -> Result<(), DbFailure> {
        let first = {
            let mut reads = lock(&self.reads);
            let first = reads.seen.insert(item);
            if first {
                reads.order.push(item);
            }
            first
        };
        if self.sequential && first && !self.is_fetched(&item) {
            self.fetch_blocking(vec![item]).map_err(|e| self.fail(e))?;
            // As before rounds: the first item no peer holds ends the run.
            if let Some(missing) = self.take_absent(item) {
                return Err(self.fail(missing));
            }
        }
        Ok(())
    }

    fn fail(&self, error: ClientError) -> DbFailure {
        let text = error.to_string();
        lock(&self.failure).get_or_insert(error);
        DbFailure(text)
    }
}

impl DatabaseRef for CallState {
    type Error = DbFailure;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, DbFailure> {
        self.note(StateItem::Account(address))?;
        if let Some(info) = lock(&self.accounts).get(&address) {
            return Ok(Some(info.clone()));
        }
        // Not fetched yet (or absent): for this run, which is never the call's outcome (see
        // the module docs), the code an earlier call verified for the address, else no
        // account.
        Ok(self
            .client
            .code_cache
            .get(address)
            .filter(|_| !self.sequential)
            .map(|(code_hash, code)| AccountInfo {
                code_hash,
                code: Some(code),
                ..AccountInfo::default()
            }))
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, DbFailure> {
        // Code arrives with its account (`basic_ref`), so revm asks here only for code it was
        // told about; anything else is a bug, reported rather than run as empty code.
        lock(&self.code).get(&code_hash).cloned().ok_or_else(|| {
            self.fail(ClientError::Execution(format!(
                "code {code_hash} asked for before its account"
            )))
        })
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, DbFailure> {
        self.note(StateItem::Slot(address, index))?;
        Ok(lock(&self.storage)
            .get(&(address, index))
            .copied()
            .unwrap_or_default())
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, DbFailure> {
        // Only trusted headers: a hash we cannot vouch for would be a wrong answer.
        self.client
            .header(BlockId::Number(number))
            .map(|h| h.hash)
            .map_err(|e| self.fail(e))
    }
}

/// Fetch `items` at `block`, verified, at most [`MAX_CONCURRENT_FETCHES`] at once; each
/// item's value or error.
pub(super) async fn fetch_items(
    client: &StateClient,
    block: BlockId,
    items: Vec<StateItem>,
    stats: &mut LookupStats,
) -> Vec<(StateItem, Result<Fetched, ClientError>)> {
    let answers: Vec<_> = futures::stream::iter(items)
        .map(|item| async move {
            let mut spent = LookupStats::default();
            let result = match item {
                StateItem::Account(address) => fetch_account(client, address, block, &mut spent)
                    .await
                    .map(|(_, info)| Fetched::Account(info)),
                StateItem::Slot(address, slot) => {
                    client.storage(address, slot, block).await.map(|answer| {
                        spent = answer.stats;
                        Fetched::Slot(answer.value)
                    })
                }
            };
            (item, result, spent)
        })
        .buffer_unordered(MAX_CONCURRENT_FETCHES)
        .collect()
        .await;
    answers
        .into_iter()
        .map(|(item, result, spent)| {
            super::add_stats(stats, &spent);
            (item, result)
        })
        .collect()
}

/// Fetch `address`'s account and code at `block`, verified; the block the account was found
/// at (for `Latest`).
pub(super) async fn fetch_account(
    client: &StateClient,
    address: Address,
    block: BlockId,
    stats: &mut LookupStats,
) -> Result<(super::BlockRef, AccountInfo), ClientError> {
    let answer = client.account(address, block).await?;
    super::add_stats(stats, &answer.stats);
    let a = answer.value;
    let cached = (!client.sequential_calls)
        .then(|| client.code_cache.get(address))
        .flatten()
        .filter(|(hash, _)| *hash == a.code_hash);
    let code = if a.code_hash == KECCAK_EMPTY {
        Bytecode::default()
    } else if let Some((_, code)) = cached {
        // Verified before for this very hash.
        code
    } else {
        // Code is found by the hash the verified account fixed (any block will do).
        let key = ContentKey::Bytecode(BytecodeKey {
            address,
            code_hash: a.code_hash,
        });
        match client.lookup(key, stats).await? {
            Some(VerifiedValue::Bytecode(code)) => {
                let code = Bytecode::new_raw(code);
                client.code_cache.insert(address, a.code_hash, code.clone());
                code
            }
            _ => {
                return Err(ClientError::NotFound {
                    what: format!("code {} of {address}", a.code_hash),
                    tried: vec![answer.block.number],
                })
            }
        }
    };
    let info = AccountInfo {
        balance: a.balance,
        nonce: a.nonce,
        code_hash: a.code_hash,
        code: Some(code),
        ..AccountInfo::default()
    };
    Ok((answer.block, info))
}
