//! Watches in C: [`portal_state_node_watch`] with a callback function pointer and the caller's
//! `user_data`, [`portal_state_node_unwatch`]. The callback is the C form of
//! [`crate::node::WatchListener`].

use super::convert::{PortalStateAccount, PortalStateNode};
use super::{guard, out, required, text, Failure, PortalStateError};
use crate::client::Answer;
use crate::input::{parse_address, parse_slot};
use crate::node::{WatchEvent, WatchListener, MAX_WATCHED_SLOTS, MAX_WATCHES};
use std::ffi::{c_char, c_void};
use std::sync::Arc;

/// The most watches a node keeps at once (`PORTAL_STATE_ERROR_TOO_MANY_WATCHES` beyond).
pub const PORTAL_STATE_MAX_WATCHES: u32 = 32;

/// The most storage slots one watch may name (`PORTAL_STATE_ERROR_INVALID_INPUT` beyond).
pub const PORTAL_STATE_MAX_WATCHED_SLOTS: u32 = 32;

// Literals above, so that the header has numbers: they must be the core's.
const _: () = assert!(PORTAL_STATE_MAX_WATCHES as usize == MAX_WATCHES);
const _: () = assert!(PORTAL_STATE_MAX_WATCHED_SLOTS as usize == MAX_WATCHED_SLOTS);

/// A watched storage slot's verified value in a `PortalStateWatchEvent`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortalStateWatchedSlot {
    /// The slot, big-endian.
    pub slot: [u8; 32],
    /// Its value at the event's block, big-endian.
    pub value: [u8; 32],
    /// Whether the value differs from the previous event's (false in the baseline).
    pub changed: bool,
}

/// What a watch's callback receives: the watched account's verified state at one block and
/// what changed since the previous event. Valid only during the callback: copy what you keep.
#[repr(C)]
#[derive(Debug)]
pub struct PortalStateWatchEvent {
    /// The watch (`portal_state_node_watch`'s `*out_watch_id`).
    pub watch_id: u64,
    /// The watched account's address.
    pub address: [u8; 20],
    /// The account at the event's block; `account.block` is the block every value here is
    /// true at.
    pub account: PortalStateAccount,
    /// True for the first event of a watch: the state when watching began.
    pub baseline: bool,
    /// Blocks between the previous event's block and this one that were not read (paused, no
    /// answer in the network yet, heads faster than reads): changes undone inside them were not
    /// seen. 0 when every block in between was read.
    pub missed_blocks: u64,
    /// Whether the balance changed since the previous event.
    pub balance_changed: bool,
    /// Whether the nonce changed since the previous event.
    pub nonce_changed: bool,
    /// Whether the code hash changed since the previous event.
    pub code_changed: bool,
    /// `slots_len` watched slots, in the order given to `portal_state_node_watch`.
    pub slots: *const PortalStateWatchedSlot,
    /// How many entries `slots` has.
    pub slots_len: usize,
}

/// A watch's callback: `event` (valid during the call only) and the `user_data` given to
/// `portal_state_node_watch`.
///
/// Called on the node's own `portal-state-watch` thread (never the thread that called
/// `portal_state_node_watch`), one event at a time for all the node's watches: return soon,
/// and make `user_data` safe to use from that thread. It may call the library, also
/// `portal_state_node_unwatch`; it must not call `portal_state_node_stop` or
/// `portal_state_node_free`. Once `portal_state_node_unwatch`, `portal_state_node_stop` or
/// `portal_state_node_free` has returned, the callback is not called again.
pub type PortalStateWatchCallback =
    Option<unsafe extern "C" fn(event: *const PortalStateWatchEvent, user_data: *mut c_void)>;

/// A C callback and its user data as a [`WatchListener`].
struct CallbackListener {
    callback: unsafe extern "C" fn(*const PortalStateWatchEvent, *mut c_void),
    user_data: *mut c_void,
}

// SAFETY: the caller's contract (`PortalStateWatchCallback`): `user_data` may be used from the
// node's watch thread, where alone the callback is called.
unsafe impl Send for CallbackListener {}
// SAFETY: as above; the listener is called from one thread only.
unsafe impl Sync for CallbackListener {}

impl WatchListener for CallbackListener {
    fn on_change(&self, event: WatchEvent) {
        let slots: Vec<PortalStateWatchedSlot> = event
            .slots
            .iter()
            .map(|s| PortalStateWatchedSlot {
                slot: s.slot.to_be_bytes(),
                value: s.value.to_be_bytes(),
                changed: s.changed,
            })
            .collect();
        let account = PortalStateAccount::from(Answer {
            block: event.block,
            value: event.account,
            stats: Default::default(),
        });
        let c_event = PortalStateWatchEvent {
            watch_id: event.watch_id,
            address: event.address.into_array(),
            account,
            baseline: event.baseline,
            missed_blocks: event.missed_blocks,
            balance_changed: event.balance_changed,
            nonce_changed: event.nonce_changed,
            code_changed: event.code_changed,
            slots: if slots.is_empty() {
                std::ptr::null()
            } else {
                slots.as_ptr()
            },
            slots_len: slots.len(),
        };
        // SAFETY: a function pointer the caller gave for this purpose; the event and its
        // slots outlive the call.
        unsafe { (self.callback)(&c_event, self.user_data) }
    }
}

/// Watch the account `address` (NUL-terminated text) and its `slots_len` storage slots
/// (`slots`: NUL-terminated `0x…` texts; null when `slots_len` is 0). `callback` is called with
/// the account's verified state at the newest trusted head first (the baseline), then once per
/// new trusted head at which a watched value changed. On success `*out_watch_id` names the
/// watch for `portal_state_node_unwatch`.
///
/// Errors: `PORTAL_STATE_ERROR_TOO_MANY_WATCHES` (`PORTAL_STATE_MAX_WATCHES` in force),
/// `PORTAL_STATE_ERROR_INVALID_INPUT` (a malformed address or slot, more than
/// `PORTAL_STATE_MAX_WATCHED_SLOTS` slots), `PORTAL_STATE_ERROR_NULL_ARGUMENT` (a null callback).
///
/// Ownership: the strings stay the caller's (read during the call). `user_data` is passed to
/// every call of `callback` untouched and never freed by the library: keep it alive until
/// `portal_state_node_unwatch` (or `portal_state_node_stop`, `portal_state_node_free`) has
/// returned.
#[no_mangle]
pub extern "C" fn portal_state_node_watch(
    node_handle: *const PortalStateNode,
    address: *const c_char,
    slots: *const *const c_char,
    slots_len: usize,
    callback: PortalStateWatchCallback,
    user_data: *mut c_void,
    out_watch_id: *mut u64,
) -> PortalStateError {
    guard(|| {
        let node = &required(node_handle, "node")?.node;
        let address = parse_address(text(address, "address")?)?;
        if slots_len > MAX_WATCHED_SLOTS {
            return Err(Failure::new(
                PortalStateError::InvalidInput,
                format!("{slots_len} slots: a watch names at most {MAX_WATCHED_SLOTS}"),
            ));
        }
        let mut parsed = Vec::with_capacity(slots_len);
        if slots_len > 0 {
            let pointers = required(slots, "slots")?;
            // SAFETY: the contract says `slots` points to `slots_len` pointers.
            let pointers = unsafe { std::slice::from_raw_parts(pointers, slots_len) };
            for (i, slot) in pointers.iter().enumerate() {
                parsed.push(parse_slot(text(*slot, &format!("slots[{i}]"))?)?);
            }
        }
        let callback = callback
            .ok_or_else(|| Failure::new(PortalStateError::NullArgument, "callback is null"))?;
        let out_watch_id = out(out_watch_id, "out_watch_id")?;
        let listener = Arc::new(CallbackListener {
            callback,
            user_data,
        });
        *out_watch_id = node.watch(address, parsed, listener)?;
        Ok(())
    })
}

/// End the watch `watch_id`: once this returns its callback is not called again (called from
/// that callback, only the current call is left to return). `*out_found` says whether such a
/// watch was in force.
#[no_mangle]
pub extern "C" fn portal_state_node_unwatch(
    node_handle: *const PortalStateNode,
    watch_id: u64,
    out_found: *mut bool,
) -> PortalStateError {
    guard(|| {
        let node = &required(node_handle, "node")?.node;
        let out_found = out(out_found, "out_found")?;
        *out_found = node.unwatch(watch_id)?;
        Ok(())
    })
}
