//! Which trusted block answers a `Latest` query: the newest alone first, then every older
//! candidate at once.
//!
//! State is found by key *and* state root, and a block's push carries only what it changed, so
//! the newest root may not have a key yet. Asking the older roots one after another made a key
//! nobody holds fail only after one full lookup per trusted block (16 by default: ~31 s on
//! loopback, with the link's retries). Asked together, it fails in about two lookups' time. The
//! newest block that answers wins, so the answer is the same as asking in turn.

use super::{add_stats, ClientError, StateClient};
use crate::content::{AccountKey, ContentKey};
use crate::overlay::LookupStats;
use crate::proof::{BlockHeader, VerifiedValue};
use alloy_primitives::Address;
use alloy_trie::TrieAccount;
use std::future::Future;

impl StateClient {
    /// Runs `probe` at the candidate blocks of `block` (newest first) until one answers, as
    /// the module docs say; `tried` gets every block asked. `Ok(None)` when none answers.
    pub(super) async fn newest_answer<T, F, Fut>(
        &self,
        candidates: Vec<BlockHeader>,
        stats: &mut LookupStats,
        tried: &mut Vec<u64>,
        probe: F,
    ) -> Result<Option<(BlockHeader, T)>, ClientError>
    where
        F: Fn(BlockHeader) -> Fut,
        Fut: Future<Output = Result<(Option<T>, LookupStats), ClientError>>,
    {
        let mut candidates = candidates.into_iter();
        let Some(newest) = candidates.next() else {
            return Ok(None);
        };
        tried.push(newest.number);
        let (found, spent) = probe(newest.clone()).await?;
        add_stats(stats, &spent);
        if let Some(value) = found {
            return Ok(Some((newest, value)));
        }
        let older: Vec<BlockHeader> = candidates.collect();
        tried.extend(older.iter().map(|h| h.number));
        let answers = futures::future::join_all(older.iter().cloned().map(&probe)).await;
        // The wave's round trips ran side by side: the longest one is what the caller waited.
        let mut wave = LookupStats::default();
        let mut answer = None;
        for (header, result) in older.into_iter().zip(answers) {
            let (found, spent) = match result {
                Ok(ok) => ok,
                Err(e) if answer.is_none() => return Err(e),
                Err(_) => continue,
            };
            let round_trips = wave.round_trips.max(spent.round_trips);
            add_stats(&mut wave, &spent);
            wave.round_trips = round_trips;
            if answer.is_none() {
                answer = found.map(|value| (header, value));
            }
        }
        add_stats(stats, &wave);
        Ok(answer)
    }

    /// The account at `address` under `root`, if a peer has its proof (`Some(None)`: proven
    /// absent), with what the lookup cost.
    pub(super) async fn account_at(
        &self,
        address: Address,
        root: alloy_primitives::B256,
    ) -> Result<(Option<Option<TrieAccount>>, LookupStats), ClientError> {
        let mut stats = LookupStats::default();
        let key = ContentKey::Account(AccountKey {
            address,
            state_root: root,
        });
        let found = match self.lookup(key, &mut stats).await? {
            Some(VerifiedValue::Account(account)) => Some(account),
            _ => None,
        };
        Ok((found, stats))
    }
}
