//! The C API: `extern "C"` functions over an opaque [`PortalStateNode`] handle, a thin shell
//! over [`crate::node::Node`] that only converts types at the edge. Its header,
//! `include/portal_state.h`, is generated from this module by cbindgen
//! (`scripts/gen-header.sh`; a test fails when the checked-in header is stale).
//!
//! Conventions, the same in every function:
//!
//! * Every function returns a [`PortalStateError`] (`PORTAL_STATE_ERROR_OK` on success) and
//!   writes its results through out-parameters, which are written only on success. When it
//!   fails, [`portal_state_last_error_message`] says why, on the thread that called it.
//! * No panic crosses the boundary: every function runs behind a guard (`catch_unwind`); a
//!   panic there becomes `PORTAL_STATE_ERROR_PANIC`, a panic inside a query's task on the
//!   node's runtime becomes `PORTAL_STATE_ERROR_INTERNAL`. The crate never builds with
//!   `panic = "abort"`.
//! * A null pointer where a value is required is `PORTAL_STATE_ERROR_NULL_ARGUMENT`; text that is
//!   not UTF-8 is `PORTAL_STATE_ERROR_INVALID_UTF8`; malformed hex, addresses or header RLP are
//!   `PORTAL_STATE_ERROR_INVALID_INPUT`. Never undefined behaviour, for any input that respects
//!   the documented pointer contracts (valid for the given length, NUL-terminated strings).
//! * Text in (addresses, slots, block hashes, amounts, ENRs) is NUL-terminated UTF-8 in the
//!   forms of [`crate::input`]; 32-byte values out (hashes, roots, words, balances) are
//!   big-endian byte arrays inside the output structs, which the caller owns.
//! * Memory: the library never frees what the caller passes in, nor keeps it after the call.
//!   What it allocates for the caller (code bytes, call return data, strings inside output
//!   structs) the caller gives back with the matching `portal_state_*_free` function, never
//!   with `free(3)`.
//! * A handle may be used from several threads at once; [`portal_state_node_free`] must not
//!   run concurrently with any other use of the same handle.

mod convert;
mod functions;
mod wallet;
mod watch;

pub use convert::*;
pub use functions::*;
pub use wallet::*;
pub use watch::*;

use crate::node::NodeError;
use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// What a C API function returns: success, or why it failed (then
/// `portal_state_last_error_message` has the details).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortalStateError {
    /// Success: the out-parameters hold the answer.
    Ok = 0,
    /// A required pointer argument was null.
    NullArgument = 1,
    /// A text argument was not valid UTF-8.
    InvalidUtf8 = 2,
    /// An argument is malformed: an address, slot, hash, amount, ENR, header RLP or config
    /// value (the message names which and why).
    InvalidInput = 3,
    /// The node was stopped; start a new one.
    NotRunning = 4,
    /// The named block is not among the trusted headers (trust it with `update_head` first).
    UnknownBlock = 5,
    /// No header is trusted yet: call `portal_state_node_update_head` first.
    NoTrustedHeader = 6,
    /// No peer had a verifiable answer.
    NotFound = 7,
    /// The network failed: the socket could not be bound, a lookup or request failed.
    Network = 8,
    /// The data directory, key file or content database failed.
    Storage = 9,
    /// A gas estimate reverted even at the gas cap (a call's revert is an answer, not this).
    Reverted = 10,
    /// The EVM could not run the call (an invalid request, a halt during a gas estimate).
    Execution = 11,
    /// A bug inside the node, e.g. a query's task panicked on the node's runtime.
    Internal = 12,
    /// A panic in the C API function itself was caught at the boundary. A bug.
    Panic = 13,
    /// A signed transaction was not sent: it does not decode, its signature is bad, it is for
    /// another chain, or the sender's verified nonce or balance does not allow it.
    TransactionRejected = 14,
    /// No relay is set: call `portal_state_node_set_tx_relays` first.
    NoRelay = 15,
    /// Every relay failed to take the transaction (the message has each one's reason).
    RelayFailed = 16,
    /// The node keeps the most watches it may (`PORTAL_STATE_MAX_WATCHES`): unwatch one first.
    TooManyWatches = 17,
}

/// A failure on its way to the caller: the code returned and the message kept for
/// `portal_state_last_error_message`.
#[derive(Debug)]
struct Failure {
    code: PortalStateError,
    message: String,
}

impl Failure {
    fn new(code: PortalStateError, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }
}

impl From<NodeError> for Failure {
    fn from(e: NodeError) -> Self {
        let code = match &e {
            NodeError::NotRunning => PortalStateError::NotRunning,
            NodeError::InvalidInput { .. } => PortalStateError::InvalidInput,
            NodeError::UnknownBlock { .. } => PortalStateError::UnknownBlock,
            NodeError::NoTrustedHeader => PortalStateError::NoTrustedHeader,
            NodeError::NotFound { .. } => PortalStateError::NotFound,
            NodeError::Network { .. } => PortalStateError::Network,
            NodeError::Storage { .. } => PortalStateError::Storage,
            NodeError::Reverted { .. } => PortalStateError::Reverted,
            NodeError::Execution { .. } => PortalStateError::Execution,
            NodeError::Internal { .. } => PortalStateError::Internal,
            NodeError::TransactionRejected { .. } => PortalStateError::TransactionRejected,
            NodeError::NoRelay => PortalStateError::NoRelay,
            NodeError::RelayFailed { .. } => PortalStateError::RelayFailed,
            NodeError::TooManyWatches { .. } => PortalStateError::TooManyWatches,
        };
        Failure::new(code, e.to_string())
    }
}

impl From<crate::input::InputError> for Failure {
    fn from(e: crate::input::InputError) -> Self {
        NodeError::from(e).into()
    }
}

thread_local! {
    // Per thread, so concurrent callers on one handle each see their own failure.
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
}

/// Text for C: a NUL inside would end it early, so it is replaced.
fn c_string(text: &str) -> CString {
    CString::new(text.replace('\0', "\u{fffd}")).unwrap_or_default()
}

fn remember(message: &str) {
    LAST_ERROR.with(|last| *last.borrow_mut() = Some(c_string(message)));
}

/// The panic guard every function runs behind: the failure (or a caught panic) becomes the
/// returned code and the thread's last error message.
fn guard(body: impl FnOnce() -> Result<(), Failure>) -> PortalStateError {
    let failure = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return PortalStateError::Ok,
        Ok(Err(failure)) => failure,
        Err(panic) => {
            let text = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Failure::new(PortalStateError::Panic, format!("panic caught: {text}"))
        }
    };
    remember(&failure.message);
    failure.code
}

/// A required pointer argument, or `NullArgument` naming it.
fn required<'a, T>(pointer: *const T, what: &str) -> Result<&'a T, Failure> {
    // SAFETY: the caller passes null or a pointer valid for reads of a `T` for the call
    // (each function's contract); null is checked here.
    unsafe { pointer.as_ref() }
        .ok_or_else(|| Failure::new(PortalStateError::NullArgument, format!("{what} is null")))
}

/// A required out-parameter, or `NullArgument` naming it.
fn out<'a, T>(pointer: *mut T, what: &str) -> Result<&'a mut T, Failure> {
    // SAFETY: as `required`, for writes.
    unsafe { pointer.as_mut() }
        .ok_or_else(|| Failure::new(PortalStateError::NullArgument, format!("{what} is null")))
}

/// A required NUL-terminated UTF-8 string argument.
fn text<'a>(pointer: *const c_char, what: &str) -> Result<&'a str, Failure> {
    if pointer.is_null() {
        return Err(Failure::new(
            PortalStateError::NullArgument,
            format!("{what} is null"),
        ));
    }
    // SAFETY: non-null, and the contract says NUL-terminated and valid for the call.
    let bytes = unsafe { CStr::from_ptr(pointer) };
    bytes.to_str().map_err(|e| {
        Failure::new(
            PortalStateError::InvalidUtf8,
            format!("{what} is not UTF-8: {e}"),
        )
    })
}

/// An optional string argument: null is `None`.
fn optional_text<'a>(pointer: *const c_char, what: &str) -> Result<Option<&'a str>, Failure> {
    if pointer.is_null() {
        Ok(None)
    } else {
        text(pointer, what).map(Some)
    }
}

/// A byte buffer argument: `len` bytes at `data` (null allowed when `len` is 0).
fn bytes<'a>(data: *const u8, len: usize, what: &str) -> Result<&'a [u8], Failure> {
    if len == 0 {
        return Ok(&[]);
    }
    if data.is_null() {
        return Err(Failure::new(
            PortalStateError::NullArgument,
            format!("{what} is null but its length is {len}"),
        ));
    }
    // SAFETY: non-null, and the contract says valid for reads of `len` bytes for the call.
    Ok(unsafe { std::slice::from_raw_parts(data, len) })
}

/// Why the last failing C API call on this thread failed, as NUL-terminated UTF-8; null when
/// none has failed on this thread.
///
/// Ownership: the string belongs to the library. It stays valid until the next failing call on
/// this thread; copy it to keep it. Do not free it.
#[no_mangle]
pub extern "C" fn portal_state_last_error_message() -> *const c_char {
    catch_unwind(|| {
        LAST_ERROR.with(|last| {
            last.borrow()
                .as_ref()
                .map_or(std::ptr::null(), |m| m.as_ptr())
        })
    })
    .unwrap_or(std::ptr::null())
}

/// The name of an error code (`"NOT_RUNNING"`, …), or `"UNKNOWN"` for a value that is not a
/// code.
///
/// Ownership: a static string; do not free it.
#[no_mangle]
pub extern "C" fn portal_state_error_name(code: i32) -> *const c_char {
    // Taken as an integer: any value C passes is defined behaviour.
    let name: &'static CStr = match code {
        0 => c"OK",
        1 => c"NULL_ARGUMENT",
        2 => c"INVALID_UTF8",
        3 => c"INVALID_INPUT",
        4 => c"NOT_RUNNING",
        5 => c"UNKNOWN_BLOCK",
        6 => c"NO_TRUSTED_HEADER",
        7 => c"NOT_FOUND",
        8 => c"NETWORK",
        9 => c"STORAGE",
        10 => c"REVERTED",
        11 => c"EXECUTION",
        12 => c"INTERNAL",
        13 => c"PANIC",
        14 => c"TRANSACTION_REJECTED",
        15 => c"NO_RELAY",
        16 => c"RELAY_FAILED",
        17 => c"TOO_MANY_WATCHES",
        _ => c"UNKNOWN",
    };
    name.as_ptr()
}

/// The library's version (`"0.1.0"`), NUL-terminated.
///
/// Ownership: a static string; do not free it.
#[no_mangle]
pub extern "C" fn portal_state_version() -> *const c_char {
    const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    VERSION.as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last_message() -> String {
        let p = portal_state_last_error_message();
        assert!(!p.is_null());
        // SAFETY: the library's own NUL-terminated string, valid until the next failure.
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }

    #[test]
    fn a_panic_becomes_a_code_and_a_message() {
        let code = guard(|| panic!("boom {}", 7));
        assert_eq!(code, PortalStateError::Panic);
        assert_eq!(last_message(), "panic caught: boom 7");
        assert_eq!(guard(|| Ok(())), PortalStateError::Ok);
        // A success keeps the last failure's message readable.
        assert_eq!(last_message(), "panic caught: boom 7");
    }

    #[test]
    fn node_errors_map_to_their_codes() {
        let code = guard(|| Err(NodeError::NotRunning.into()));
        assert_eq!(code, PortalStateError::NotRunning);
        assert_eq!(last_message(), "the node is not running");
        let code = guard(|| Err(crate::input::parse_address("0x12").unwrap_err().into()));
        assert_eq!(code, PortalStateError::InvalidInput);
        assert!(last_message().contains("40 hex digits"));
    }

    #[test]
    fn bad_pointers_and_text_are_errors() {
        let code = guard(|| text(std::ptr::null(), "address").map(drop));
        assert_eq!(code, PortalStateError::NullArgument);
        assert_eq!(last_message(), "address is null");
        let not_utf8 = [0x30u8, 0x78, 0xff, 0];
        let code = guard(|| text(not_utf8.as_ptr().cast(), "address").map(drop));
        assert_eq!(code, PortalStateError::InvalidUtf8);
        assert_eq!(bytes(std::ptr::null(), 0, "data").unwrap(), &[] as &[u8]);
        assert!(bytes(std::ptr::null(), 3, "data").is_err());
        // SAFETY: static strings.
        let name = unsafe { CStr::from_ptr(portal_state_error_name(4)) };
        assert_eq!(name.to_str().unwrap(), "NOT_RUNNING");
        let name = unsafe { CStr::from_ptr(portal_state_error_name(-1)) };
        assert_eq!(name.to_str().unwrap(), "UNKNOWN");
    }
}
