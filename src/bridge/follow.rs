//! Following an execution client: each new block's changed state, proven and pushed.
//!
//! For each block: the header from `eth_getBlockByNumber`, rebuilt to RLP and checked against
//! the block hash; what changed from `debug_traceBlockByNumber` (prestate tracer, diff mode),
//! plus what no transaction trace shows (the fee recipient, withdrawals, the EIP-4788 and
//! EIP-2935 system contracts' slots); `eth_getProof` for each changed account with its changed
//! slots and `eth_getCode` for new code at that block; every item verified against the rebuilt
//! header's state root. Then the header becomes trusted on the bridge's node, the embedding
//! program hears of it ([`Follower::on_header`], so it can trust it on its other nodes: nodes
//! decline content for roots they do not trust), and the items are pushed.
//!
//! The follower must not wedge. An unreachable execution client is retried with exponential
//! backoff; a client whose head went back (restarted with a fresh chain, or reorged to a
//! shorter one) is followed from its new head; a block whose parent is not the block we pushed
//! before it (a reorg) sends the follower back to the last common block, found by walking back
//! at most [`FollowerConfig::max_reorg_depth`] blocks; a follower that fell far behind skips to
//! at most [`FollowerConfig::max_catch_up`] blocks before the head; and a block whose data
//! keeps failing verification is skipped, loudly, after [`FollowerConfig::max_attempts`].
//!
//! Block 0 is not followed: its state is the genesis allocation, which
//! [`super::genesis_content`] builds (anvil's block 0 does not even carry the real root).

use super::diff::block_diff_items;
use super::proofs::{proof_items, AccountProof};
use super::push::{push_with, PushConfig, PushReport};
use super::rpc::{BlockTag, ExecutionClient, StateChanges};
use super::{BridgeError, ExecutionHeader};
use crate::content::ContentKey;
use crate::network::Network;
use crate::proof::{BlockHeader, VerifiedContent};
use alloy_primitives::{address, Address, Bytes, B256, U256};
use alloy_trie::KECCAK_EMPTY;
use futures::stream::{self, StreamExt, TryStreamExt};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// EIP-4788's beacon roots contract: every Cancun block writes two of its slots in a system
/// call that no transaction trace shows.
const BEACON_ROOTS: Address = address!("000F3df6D732807Ef1319fB7B8bB8522d0Beac02");
/// EIP-2935's block hash history contract: every Prague block writes one slot the same way.
const HISTORY_STORAGE: Address = address!("0000F90827F1C53a10cb7A02335B175320002935");
/// Ring buffer length of both system contracts.
const SYSTEM_RING: u64 = 8191;

/// Where a new follower starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartAt {
    /// At the execution client's head when the follower first reaches it.
    Latest,
    /// At this block (at most [`FollowerConfig::max_catch_up`] behind the head).
    Block(u64),
}

/// Tunables of a [`Follower`].
#[derive(Clone, Debug)]
pub struct FollowerConfig {
    /// The first block to push.
    pub start: StartAt,
    /// How often the head is polled while there is no new block.
    pub poll_interval: Duration,
    /// The longest wait between retries while the execution client fails.
    pub max_backoff: Duration,
    /// Most blocks behind the head that are fetched; older ones are skipped.
    pub max_catch_up: u64,
    /// Most blocks walked back to find where a reorg forked from what we pushed.
    pub max_reorg_depth: u64,
    /// Tries of a block whose data fails (a proof that does not verify, a header that does
    /// not hash right) before it is skipped. Failures to reach the client are retried forever.
    pub max_attempts: u32,
    /// JSON-RPC requests in flight at once while fetching a block's proofs.
    pub concurrent_requests: usize,
    /// How each block's items are pushed.
    pub push: PushConfig,
    /// Publish the block's diff items cut at this tile depth ([`super::DEFAULT_TILE_DEPTH`]);
    /// `None`: leaf proofs only.
    pub diff_tile_depth: Option<usize>,
}

impl Default for FollowerConfig {
    fn default() -> Self {
        Self {
            start: StartAt::Latest,
            poll_interval: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            max_catch_up: 256,
            max_reorg_depth: 64,
            max_attempts: 5,
            concurrent_requests: 8,
            push: PushConfig::default(),
            diff_tile_depth: Some(super::DEFAULT_TILE_DEPTH),
        }
    }
}

/// What the follower did with one block.
#[derive(Clone, Debug)]
pub struct BlockReport {
    /// The block number.
    pub number: u64,
    /// The block hash (keccak of `header_rlp`, checked).
    pub hash: B256,
    /// The state root the items are anchored to.
    pub state_root: B256,
    /// The header's RLP, for the embedding program to trust on its nodes.
    pub header_rlp: Bytes,
    /// Items pushed: changed accounts, their changed slots, new code, and the diff items.
    pub items: usize,
    /// Offers of those items that peers accepted.
    pub accepted: usize,
    /// The keys of the leaf items pushed (accounts, slots, code).
    pub keys: Vec<ContentKey>,
    /// The keys of the block's diff items pushed with them (issue #14).
    pub diff_keys: Vec<ContentKey>,
    /// Bytes of those diff items' values, in all.
    pub diff_bytes: usize,
    /// The push in detail.
    pub push: PushReport,
    /// Time from fetching the header to the end of the push.
    pub elapsed: Duration,
}

/// What [`Follower::on_header`] keeps.
type HeaderCallback = Box<dyn FnMut(&BlockHeader) + Send>;

/// Follows an execution client block by block and pushes what each block changed.
pub struct Follower {
    client: ExecutionClient,
    config: FollowerConfig,
    /// In a mutex only so that the follower is `Sync` (its futures then are `Send`) without
    /// asking the callback to be `Sync`.
    on_header: Option<std::sync::Mutex<HeaderCallback>>,
    /// The next block to push; `None` until the start is resolved.
    next: Option<u64>,
    /// Hashes of the blocks pushed lately, to notice reorgs.
    recent: BTreeMap<u64, B256>,
    /// Failed tries of the block `.0` so far.
    attempts: (u64, u32),
}

impl std::fmt::Debug for Follower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follower")
            .field("client", &self.client)
            .field("next", &self.next)
            .finish()
    }
}

impl Follower {
    /// A follower of `client`.
    pub fn new(client: ExecutionClient, config: FollowerConfig) -> Self {
        Self {
            client,
            config,
            on_header: None,
            next: None,
            recent: BTreeMap::new(),
            attempts: (0, 0),
        }
    }

    /// Call `f` with each block's header (checked, and trusted on the bridge's node) before
    /// that block's items are pushed: the embedding program trusts it on its other nodes.
    pub fn on_header(mut self, f: impl FnMut(&BlockHeader) + Send + 'static) -> Self {
        self.on_header = Some(std::sync::Mutex::new(Box::new(f)));
        self
    }

    /// The next block the follower will push, once known.
    pub fn next_block(&self) -> Option<u64> {
        self.next
    }

    /// Follow until `shutdown` turns true (or its sender is dropped), calling `on_block` after
    /// each block is pushed. Errors are logged and retried with backoff; see the module docs.
    pub async fn run(
        &mut self,
        network: &Network,
        mut on_block: impl FnMut(&BlockReport),
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut backoff = self.config.poll_interval;
        loop {
            if *shutdown.borrow() {
                return;
            }
            let step = tokio::select! {
                step = self.step(network, &mut on_block) => step,
                _ = shutdown.changed() => continue,
            };
            let wait = match step {
                Ok(true) => {
                    backoff = self.config.poll_interval;
                    continue;
                }
                Ok(false) => self.config.poll_interval,
                Err(e) => {
                    tracing::warn!(
                        url = self.client.url(),
                        error = %e,
                        retry_in = ?backoff,
                        "bridge follower: block not pushed"
                    );
                    let wait = backoff;
                    backoff = (backoff * 2).min(self.config.max_backoff);
                    wait
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
            }
        }
    }

    /// One step: push the next block if the client has it. `Ok(true)` when something moved
    /// (a block pushed or skipped, a reorg handled), `Ok(false)` when there is no new block.
    pub async fn step(
        &mut self,
        network: &Network,
        on_block: &mut impl FnMut(&BlockReport),
    ) -> Result<bool, BridgeError> {
        let head = self.client.block_number().await?;
        if let Some(&last) = self.recent.keys().next_back() {
            if head < last {
                tracing::warn!(
                    head,
                    last,
                    "bridge follower: the execution client's head is behind the last block \
                     pushed (restarted or reorged); following it from its head"
                );
                self.recent.clear();
                self.next = Some(head);
            }
        }
        let mut next = match (self.next, self.config.start) {
            (Some(n), _) => n,
            (None, StartAt::Latest) => head,
            (None, StartAt::Block(n)) => n,
        };
        if next > head {
            self.next = Some(next);
            return Ok(false);
        }
        if head - next > self.config.max_catch_up {
            let to = head - self.config.max_catch_up;
            tracing::warn!(
                from = next,
                to,
                "bridge follower: too far behind; skipping blocks"
            );
            next = to;
        }
        let (header, block) = match self.client.block(BlockTag::Number(next)).await {
            Ok(b) => b,
            Err(e) => return Err(self.failed(next, e)),
        };
        if next == 0 {
            // Genesis content comes from the genesis file (module docs).
            self.remember(&header);
            self.next = Some(1);
            return Ok(true);
        }
        if let Some(&pushed_parent) = self.recent.get(&(next - 1)) {
            if header.parent_hash != pushed_parent {
                let fork = self.find_fork(next - 1).await?;
                tracing::warn!(
                    block = next,
                    resume_at = fork.map(|f| f + 1).unwrap_or(next),
                    "bridge follower: reorg (the block's parent is not the block pushed before)"
                );
                match fork {
                    Some(f) => {
                        self.recent.retain(|n, _| *n <= f);
                        self.next = Some(f + 1);
                    }
                    None => {
                        self.recent.clear();
                        self.next = Some(next);
                    }
                }
                return Ok(true);
            }
        }
        let report = match self.push_block(network, &header, &block).await {
            Ok(r) => r,
            Err(e) => return Err(self.failed(next, e)),
        };
        self.remember(&header);
        self.next = Some(next + 1);
        on_block(&report);
        Ok(true)
    }

    /// Count a failed try of block `number`; past the limit, skip it (data errors only).
    fn failed(&mut self, number: u64, error: BridgeError) -> BridgeError {
        if error.is_transport() {
            return error;
        }
        if self.attempts.0 != number {
            self.attempts = (number, 0);
        }
        self.attempts.1 += 1;
        if self.attempts.1 >= self.config.max_attempts {
            tracing::error!(
                block = number,
                error = %error,
                "bridge follower: skipping a block whose data keeps failing"
            );
            self.attempts = (0, 0);
            self.next = Some(number + 1);
        } else {
            self.next = Some(number);
        }
        error
    }

    fn remember(&mut self, header: &BlockHeader) {
        self.recent.insert(header.number, header.hash);
        let keep = self.config.max_reorg_depth.max(1) as usize;
        while self.recent.len() > keep {
            self.recent.pop_first();
        }
    }

    /// The newest block at or below `from` whose hash on the client is the one we pushed.
    async fn find_fork(&self, from: u64) -> Result<Option<u64>, BridgeError> {
        let lowest = from.saturating_sub(self.config.max_reorg_depth);
        for n in (lowest..=from).rev() {
            let Some(ours) = self.recent.get(&n) else {
                return Ok(None);
            };
            let (theirs, _) = self.client.block(BlockTag::Number(n)).await?;
            if theirs.hash == *ours {
                return Ok(Some(n));
            }
        }
        Ok(None)
    }

    /// Everything block `header` changed that no transaction trace shows.
    fn untraced_changes(
        changes: &mut StateChanges,
        header: &BlockHeader,
        block: &serde_json::Value,
    ) -> Result<(), BridgeError> {
        let full = ExecutionHeader::from_rlp(&header.rlp)?;
        // Pre-merge block rewards; post-merge the trace shows the fee recipient when it is
        // paid, and an untouched one just gets a fresh proof.
        changes.touch(full.beneficiary);
        if let Some(withdrawals) = block.get("withdrawals").and_then(|w| w.as_array()) {
            for (i, w) in withdrawals.iter().enumerate() {
                let what = format!("block {} withdrawals[{i}]", header.number);
                let a = super::json::field(w, &what, "address")?;
                changes.touch(super::json::address(a, &format!("{what}.address"))?);
            }
        }
        if full.parent_beacon_block_root.is_some() {
            let slot = header.timestamp % SYSTEM_RING;
            let slots = changes.accounts.entry(BEACON_ROOTS).or_default();
            slots.insert(U256::from(slot));
            slots.insert(U256::from(slot + SYSTEM_RING));
        }
        if full.requests_hash.is_some() {
            let slot = (header.number - 1) % SYSTEM_RING;
            changes
                .accounts
                .entry(HISTORY_STORAGE)
                .or_default()
                .insert(U256::from(slot));
        }
        Ok(())
    }

    /// Build, verify and push the items of one block.
    async fn push_block(
        &mut self,
        network: &Network,
        header: &BlockHeader,
        block: &serde_json::Value,
    ) -> Result<BlockReport, BridgeError> {
        let start = Instant::now();
        let number = header.number;
        let mut changes = self.client.state_changes(number).await?;
        Self::untraced_changes(&mut changes, header, block)?;
        // Each fetch owns what it uses (borrowing futures would make this one not `Send`).
        let state_root = header.state_root;
        let fetches: Vec<_> = changes
            .accounts
            .into_iter()
            .map(|(address, slots)| {
                let client = self.client.clone();
                let new_code = changes.new_code.contains(&address);
                async move {
                    let slots: Vec<U256> = slots.into_iter().collect();
                    let mut proof = client.proof(address, &slots, number).await?;
                    let system = [BEACON_ROOTS, HISTORY_STORAGE].contains(&address);
                    if system && proof.code_hash == KECCAK_EMPTY {
                        // The chain does not have this system contract: no slots to prove.
                        proof.storage_proof.clear();
                    }
                    let code = if new_code && proof.code_hash != KECCAK_EMPTY {
                        Some(client.code(address, number).await?)
                    } else {
                        None
                    };
                    let items = proof_items(state_root, &proof, code.as_ref())?;
                    Ok::<_, BridgeError>((items, proof))
                }
            })
            .collect();
        let fetched: Vec<(Vec<VerifiedContent>, AccountProof)> = stream::iter(fetches)
            .buffer_unordered(self.config.concurrent_requests.max(1))
            .try_collect()
            .await?;
        let (items, proofs): (Vec<_>, Vec<_>) = fetched.into_iter().unzip();
        let mut items: Vec<VerifiedContent> = items.into_iter().flatten().collect();
        let keys: Vec<ContentKey> = items.iter().map(|i| *i.key()).collect();
        // The block's new trie nodes, cut by key range (every proof is at the new root; a
        // deleted account's is its absence proof, since the trace lists it in `pre`).
        let diffs = match self.config.diff_tile_depth {
            Some(depth) => block_diff_items(header.hash, state_root, &proofs, depth)?,
            None => Vec::new(),
        };
        let diff_keys: Vec<ContentKey> = diffs.iter().map(|i| *i.key()).collect();
        let diff_bytes = diffs.iter().map(|i| i.value().encode().len()).sum();
        items.extend(diffs);

        network.add_trusted_header(&header.rlp)?;
        if let Some(f) = self.on_header.as_mut() {
            // A callback that panicked before leaves nothing half-done here.
            let f = f.get_mut().unwrap_or_else(|e| e.into_inner());
            f(header);
        }
        let push = push_with(network, items, &self.config.push, |_| {}).await;
        tracing::info!(
            block = number,
            items = push.items,
            accepted = push.accepted,
            unplaced = push.unplaced,
            "bridge follower: block pushed"
        );
        Ok(BlockReport {
            number,
            hash: header.hash,
            state_root: header.state_root,
            header_rlp: header.rlp.clone(),
            items: push.items,
            accepted: push.accepted,
            keys,
            diff_keys,
            diff_bytes,
            push,
            elapsed: start.elapsed(),
        })
    }
}
