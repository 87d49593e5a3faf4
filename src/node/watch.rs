//! [`Node::watch`]: an app hears each verified change of an account it watches (balance,
//! nonce, code, chosen storage slots), with the block it is true at, without polling.
//!
//! How: one task on the node's runtime wakes on every new trusted head (at once for
//! [`Node::update_head`]; within [`HEAD_POLL`] for heads from the light client) and reads every
//! watched key *at that head* through the verified read path of [`Node::query_account`] and
//! [`Node::query_storage`] (asked at the head's hash: never an older root). It compares what it
//! read with what the listener last heard and hands the differences to the listener: one
//! [`WatchEvent`] per watch per block, only when something changed (the first event is the
//! baseline). A key the network cannot answer at a head is tried again at the next head;
//! nothing unverified and no guess is ever delivered. Works the same on a light node with
//! capacity 0: every read is a network lookup.
//!
//! Paused ([`Node::pause`]), the task reads and delivers nothing and runs no timer; on
//! [`Node::resume`] (and after [`Node::network_changed`]) it reads at the newest head at once,
//! and an event whose previous one lies more than a block back says how many blocks it did not
//! read ([`WatchEvent::missed_blocks`]): changes inside those blocks that were undone before
//! the next read (a balance that went up and back down) were not seen.
//!
//! Listeners are called on one thread of the node's own (`portal-state-watch`), one event at
//! a time, each watch's events in block order; a listener that panics (or, through the
//! bindings, throws) is logged and the node and the watch go on.

use super::{AccountState, BlockRef, Node, NodeError};
use crate::client::{BlockId, StateClient};
use crate::network::Network;
use crate::proof::BlockHeader;
use alloy_primitives::{Address, B256, U256};
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;
use tokio::sync::Notify;

/// The most watches one node keeps at once; one more is [`NodeError::TooManyWatches`]. Every
/// watch costs one lookup per watched key per block, so this bounds a node's traffic.
pub const MAX_WATCHES: usize = 32;

/// The most storage slots one watch may name (more is [`NodeError::InvalidInput`]).
pub const MAX_WATCHED_SLOTS: usize = 32;

/// How often the watch task looks for a head it was not told of (from the light client)
/// while not paused. [`Node::update_head`] wakes it at once.
pub const HEAD_POLL: Duration = Duration::from_millis(500);

/// Names one watch, for [`Node::unwatch`].
pub type WatchId = u64;

/// A watched storage slot's verified value in a [`WatchEvent`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchedSlot {
    /// The slot, as it was given to [`Node::watch`].
    pub slot: U256,
    /// Its value at the event's block.
    pub value: U256,
    /// Whether the value differs from the previous event's (false in the baseline).
    pub changed: bool,
}

/// What a watch's listener hears: the watched account's verified state at one block, and what
/// changed since the previous event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchEvent {
    /// The watch ([`Node::watch`]'s answer).
    pub watch_id: WatchId,
    /// The watched account.
    pub address: Address,
    /// The block every value here is true at (verified against its state root).
    pub block: BlockRef,
    /// True for the first event of a watch: the state when watching began, nothing "changed".
    pub baseline: bool,
    /// Blocks between the previous event's block and this one that the watch did not read
    /// (the node was paused, the network had no answer at them yet, or heads came faster than
    /// they were read). 0 when every block in between was read. Changes that were undone
    /// within such blocks were not seen; the values here are exact either way.
    pub missed_blocks: u64,
    /// The account at `block` (nonce, balance, storage root, code hash, existence).
    pub account: AccountState,
    /// Whether the balance changed since the previous event.
    pub balance_changed: bool,
    /// Whether the nonce changed since the previous event.
    pub nonce_changed: bool,
    /// Whether the code hash changed since the previous event (a contract was created there,
    /// or an account emptied).
    pub code_changed: bool,
    /// Every watched slot, in the order given, with its value at `block`.
    pub slots: Vec<WatchedSlot>,
}

/// Receives a watch's events (in Kotlin, Swift, Python and C through the bindings). Called on
/// the node's `portal-state-watch` thread: return soon, since the events of every watch of the
/// node wait behind it. It may call the node, [`Node::unwatch`] included.
pub trait WatchListener: Send + Sync {
    /// One verified change (or the baseline).
    fn on_change(&self, event: WatchEvent);
}

impl<F: Fn(WatchEvent) + Send + Sync> WatchListener for F {
    fn on_change(&self, event: WatchEvent) {
        self(event)
    }
}

/// The values a watch compares block to block.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Values {
    account: AccountState,
    slots: Vec<U256>,
}

struct Entry {
    address: Address,
    slots: Vec<U256>,
    listener: Arc<dyn WatchListener>,
    /// What the listener last heard; `None` before the baseline.
    heard: Option<Values>,
    /// The number of the last block read.
    last_read: Option<u64>,
    /// The head last tried (read or not): the next attempt waits for another head.
    tried: Option<B256>,
    /// Blocks not read since the last event.
    missed: u64,
}

impl Entry {
    /// Take `values` read at `head`; the event to deliver, if something changed.
    fn read(&mut self, id: WatchId, head: &BlockHeader, values: Values) -> Option<WatchEvent> {
        if let Some(last) = self.last_read {
            // A reorg onto a lower or equal number skips nothing.
            self.missed += head.number.saturating_sub(last.saturating_add(1));
        }
        self.last_read = Some(head.number);
        let before = self.heard.as_ref();
        if before == Some(&values) {
            return None;
        }
        let was = before.map(|b| &b.account);
        let now = &values.account;
        let event = WatchEvent {
            watch_id: id,
            address: self.address,
            block: BlockRef::from(head),
            baseline: before.is_none(),
            missed_blocks: if before.is_none() { 0 } else { self.missed },
            account: values.account,
            balance_changed: was.is_some_and(|a| a.balance != now.balance),
            nonce_changed: was.is_some_and(|a| a.nonce != now.nonce),
            code_changed: was.is_some_and(|a| a.code_hash != now.code_hash),
            slots: self
                .slots
                .iter()
                .zip(&values.slots)
                .enumerate()
                .map(|(i, (slot, value))| WatchedSlot {
                    slot: *slot,
                    value: *value,
                    changed: before.is_some_and(|b| b.slots[i] != *value),
                })
                .collect(),
        };
        self.heard = Some(values);
        self.missed = 0;
        Some(event)
    }
}

/// One event on its way to its listener.
struct Delivery {
    listener: Arc<dyn WatchListener>,
    event: WatchEvent,
}

#[derive(Default)]
struct Shared {
    entries: Mutex<BTreeMap<WatchId, Entry>>,
    next_id: AtomicU64,
    /// Wakes the watch task: a new head, a new watch, resume, a network change.
    wake: Notify,
    /// The watch whose listener runs now, so that `unwatch` can wait for it to return.
    delivering: Mutex<Option<WatchId>>,
    returned: Condvar,
    delivery_thread: OnceLock<std::thread::ThreadId>,
}

impl Shared {
    fn entries(&self) -> MutexGuard<'_, BTreeMap<WatchId, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn delivering(&self) -> MutexGuard<'_, Option<WatchId>> {
        self.delivering.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A node's watches and, once the first is made, the task and thread that serve them.
#[derive(Default)]
pub(super) struct Watches {
    shared: Arc<Shared>,
    started: Mutex<bool>,
}

impl Watches {
    /// Wake the watch task: a new head is trusted, or the link came back.
    pub(super) fn wake(&self) {
        self.shared.wake.notify_waiters();
    }

    /// End every watch ([`Node::stop`]): once this returns no listener is called again
    /// (unless it is called from a listener, whose current call is left to return).
    pub(super) fn end_all(&self) {
        let ended = std::mem::take(&mut *self.shared.entries());
        for id in ended.keys() {
            self.wait_for_listener(*id);
        }
    }

    /// Wait while the listener of `id` runs, unless this is the delivery thread itself.
    fn wait_for_listener(&self, id: WatchId) {
        let shared = &self.shared;
        if shared.delivery_thread.get() == Some(&std::thread::current().id()) {
            return;
        }
        let mut delivering = shared.delivering();
        while *delivering == Some(id) {
            delivering = shared
                .returned
                .wait(delivering)
                .unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Read every watched key of one watch at `head`: all or nothing.
async fn read_at(
    client: &StateClient,
    address: Address,
    slots: &[U256],
    head: B256,
) -> Result<Values, crate::client::ClientError> {
    let block = BlockId::Hash(head);
    let (account, slots) = futures::future::join(
        client.account(address, block),
        futures::future::try_join_all(slots.iter().map(|s| client.storage(address, *s, block))),
    )
    .await;
    Ok(Values {
        account: account?.value,
        slots: slots?.into_iter().map(|a| a.value).collect(),
    })
}

/// One round at `head`: read every watch not yet tried there, concurrently, and queue the
/// events.
async fn round(
    shared: &Shared,
    network: &Network,
    client: &StateClient,
    head: &BlockHeader,
    events: &mpsc::Sender<Delivery>,
) {
    let due: Vec<(WatchId, Address, Vec<U256>)> = shared
        .entries()
        .iter_mut()
        .filter(|(_, e)| e.tried != Some(head.hash))
        .map(|(id, e)| {
            e.tried = Some(head.hash);
            (*id, e.address, e.slots.clone())
        })
        .collect();
    if due.is_empty() {
        return;
    }
    let reads = futures::future::join_all(due.iter().map(|(id, address, slots)| async move {
        (*id, read_at(client, *address, slots, head.hash).await)
    }))
    .await;
    let mut entries = shared.entries();
    if network.link().is_paused() {
        // Paused while reading: nothing is delivered; after resume the head is read again.
        for (id, _) in &reads {
            if let Some(entry) = entries.get_mut(id) {
                entry.tried = None;
            }
        }
        return;
    }
    for (id, read) in reads {
        let Some(entry) = entries.get_mut(&id) else {
            continue; // unwatched meanwhile
        };
        match read {
            Ok(values) => {
                if let Some(event) = entry.read(id, head, values) {
                    let listener = entry.listener.clone();
                    let _ = events.send(Delivery { listener, event });
                }
            }
            // Not in the network at this root yet: the next head is tried, no guess is made.
            Err(e) => tracing::debug!(
                watch = id, block = head.number, error = %e,
                "watch: no verified answer at this head; trying the next"
            ),
        }
    }
}

/// The watch task: a round at each new head, until the runtime ends.
async fn run(
    shared: Arc<Shared>,
    network: Arc<Network>,
    client: StateClient,
    events: mpsc::Sender<Delivery>,
) {
    loop {
        // Registered before the round, so that a wake during it is not lost.
        let woken = shared.wake.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        let paused = network.link().is_paused();
        if !paused {
            if let Some(head) = client.newest_block() {
                round(&shared, &network, &client, &head, &events).await;
            }
        }
        if paused || shared.entries().is_empty() {
            // No timer while paused or idle: resume, a head or a watch wakes it.
            woken.await;
        } else {
            tokio::select! {
                _ = woken => {}
                _ = tokio::time::sleep(HEAD_POLL) => {}
            }
        }
    }
}

/// The delivery thread: calls each listener, one event at a time, catching panics. Ends when
/// the watch task does (the node stopped).
fn deliver(shared: Arc<Shared>, events: mpsc::Receiver<Delivery>) {
    let _ = shared.delivery_thread.set(std::thread::current().id());
    for Delivery { listener, event } in events {
        let id = event.watch_id;
        {
            let mut delivering = shared.delivering();
            if !shared.entries().contains_key(&id) {
                continue; // unwatched after the event was queued
            }
            *delivering = Some(id);
        }
        let block = event.block.number;
        if catch_unwind(AssertUnwindSafe(|| listener.on_change(event))).is_err() {
            tracing::warn!(
                watch = id,
                block,
                "a watch listener panicked or threw; the watch goes on"
            );
        }
        *shared.delivering() = None;
        shared.returned.notify_all();
    }
}

impl Node {
    /// Watch `address` (and its storage `slots`): `listener` hears the account's verified
    /// state at the newest trusted head as a baseline, then one [`WatchEvent`] per new head at
    /// which a watched value changed, with the block it is true at (module docs: how, which
    /// thread, pause and resume). Returns the id for [`Node::unwatch`].
    ///
    /// Errors: [`NodeError::TooManyWatches`] with [`MAX_WATCHES`] watches already;
    /// [`NodeError::InvalidInput`] for more than [`MAX_WATCHED_SLOTS`] slots;
    /// [`NodeError::NotRunning`] after [`Node::stop`].
    pub fn watch(
        &self,
        address: Address,
        slots: Vec<U256>,
        listener: Arc<dyn WatchListener>,
    ) -> Result<WatchId, NodeError> {
        if slots.len() > MAX_WATCHED_SLOTS {
            return Err(NodeError::invalid(format!(
                "{} slots: a watch names at most {MAX_WATCHED_SLOTS}",
                slots.len()
            )));
        }
        self.start_watching()?;
        let shared = &self.watches.shared;
        let id = {
            let mut entries = shared.entries();
            if entries.len() >= MAX_WATCHES {
                return Err(NodeError::TooManyWatches {
                    limit: MAX_WATCHES as u64,
                });
            }
            let id = shared.next_id.fetch_add(1, Ordering::Relaxed) + 1;
            entries.insert(
                id,
                Entry {
                    address,
                    slots,
                    listener,
                    heard: None,
                    last_read: None,
                    tried: None,
                    missed: 0,
                },
            );
            id
        };
        self.watches.wake();
        Ok(id)
    }

    /// End a watch: once this returns its listener is not called again (unless called from
    /// that listener itself, when only the current call is left to return). `false` when no
    /// watch has this id (already ended, or never made).
    pub fn unwatch(&self, id: WatchId) -> Result<bool, NodeError> {
        let removed = self.watches.shared.entries().remove(&id).is_some();
        self.watches.wait_for_listener(id);
        Ok(removed)
    }

    /// The watches in force.
    pub fn watch_count(&self) -> usize {
        self.watches.shared.entries().len()
    }

    /// Start the watch task and the delivery thread, once.
    fn start_watching(&self) -> Result<(), NodeError> {
        let mut started = self
            .watches
            .started
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if *started {
            return self.network().map(drop);
        }
        let (events, received) = mpsc::channel();
        let shared = self.watches.shared.clone();
        self.spawn(|r| run(shared, r.network.clone(), r.client.clone(), events))?;
        let shared = self.watches.shared.clone();
        std::thread::Builder::new()
            .name("portal-state-watch".into())
            .spawn(move || deliver(shared, received))
            .map_err(|e| NodeError::Internal {
                reason: format!("could not start the watch thread: {e}"),
            })?;
        *started = true;
        Ok(())
    }
}
