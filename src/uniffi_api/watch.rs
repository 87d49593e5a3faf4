//! Watches in the bindings: [`Node::watch`] with a [`WatchListener`] implemented in Kotlin,
//! Swift or Python, [`Node::unwatch`]. Values in the forms of the rest of the surface: the
//! balance a decimal string, slots and values `0x` + 64 hex digits.

use super::{AccountAnswer, Node};
use crate::input::{parse_address, parse_slot, word};
use crate::node::{self as core, NodeError};
use std::sync::Arc;

/// A watched storage slot's verified value in a [`WatchEvent`].
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct WatchedSlot {
    /// The slot, `0x` + 64 hex digits.
    pub slot: String,
    /// Its value at the event's block, `0x` + 64 hex digits.
    pub value: String,
    /// Whether the value differs from the previous event's (false in the baseline).
    pub changed: bool,
}

/// What a [`WatchListener`] hears: the watched account's verified state at one block and what
/// changed since the previous event.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct WatchEvent {
    /// The watch (`watch`'s answer).
    pub watch_id: u64,
    /// The watched account, `0x…` (EIP-55).
    pub address: String,
    /// The account at the event's block; `account.block` is the block every value here is
    /// true at.
    pub account: AccountAnswer,
    /// True for the first event of a watch: the state when watching began.
    pub baseline: bool,
    /// Blocks between the previous event's block and this one that were not read (the node
    /// was paused, the network had no answer at them yet, heads came faster than reads):
    /// changes undone inside them were not seen. 0 when every block in between was read.
    pub missed_blocks: u64,
    /// Whether the balance changed since the previous event.
    pub balance_changed: bool,
    /// Whether the nonce changed since the previous event.
    pub nonce_changed: bool,
    /// Whether the code hash changed since the previous event.
    pub code_changed: bool,
    /// Every watched slot, in the order given to `watch`.
    pub slots: Vec<WatchedSlot>,
}

impl From<core::WatchEvent> for WatchEvent {
    fn from(e: core::WatchEvent) -> Self {
        WatchEvent {
            watch_id: e.watch_id,
            address: e.address.to_checksum(None),
            account: core::Answer {
                block: e.block,
                value: e.account,
                stats: Default::default(),
            }
            .into(),
            baseline: e.baseline,
            missed_blocks: e.missed_blocks,
            balance_changed: e.balance_changed,
            nonce_changed: e.nonce_changed,
            code_changed: e.code_changed,
            slots: e
                .slots
                .into_iter()
                .map(|s| WatchedSlot {
                    slot: word(s.slot),
                    value: word(s.value),
                    changed: s.changed,
                })
                .collect(),
        }
    }
}

/// An app's receiver of a watch's events (implemented in Kotlin, Swift or Python). Called on
/// the node's own `portal-state-watch` thread, one event at a time for all the node's
/// watches: return soon (hand the event to the UI thread). It may call the node, `unwatch`
/// included. An exception thrown from it is logged; the node and the watch go on.
#[uniffi::export(with_foreign)]
pub trait WatchListener: Send + Sync {
    /// One verified change of the watched account (or the baseline).
    fn on_change(&self, event: WatchEvent);
}

/// A foreign listener as the core's.
struct Foreign(Arc<dyn WatchListener>);

impl core::WatchListener for Foreign {
    fn on_change(&self, event: core::WatchEvent) {
        self.0.on_change(event.into())
    }
}

#[uniffi::export]
impl Node {
    /// Watch the account `address` (`0x…`) and its storage `slots` (`0x…` each): `listener`
    /// hears its verified state at the newest trusted head first (`baseline`), then once per new
    /// trusted head at which a watched value changed, without polling. Paused, nothing is read
    /// or delivered; after `resume()` the changes since come with `missed_blocks`. Returns the
    /// id for `unwatch`. Errors: `TooManyWatches` (at most 32 at once), `InvalidInput` (a
    /// malformed address or slot, more than 32 slots).
    pub fn watch(
        &self,
        address: String,
        slots: Vec<String>,
        listener: Arc<dyn WatchListener>,
    ) -> Result<u64, NodeError> {
        let address = parse_address(&address)?;
        let slots = slots
            .iter()
            .map(|s| parse_slot(s))
            .collect::<Result<Vec<_>, _>>()?;
        self.inner
            .watch(address, slots, Arc::new(Foreign(listener)))
    }

    /// End a watch: once this returns its listener is not called again (from inside that
    /// listener, only the current call is left to return). `false` when no watch has this id.
    pub fn unwatch(&self, watch_id: u64) -> Result<bool, NodeError> {
        self.inner.unwatch(watch_id)
    }
}
