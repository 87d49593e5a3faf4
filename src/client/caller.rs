//! The caller of an `eth_call` without `from`: the zero address, as geth and anvil take it,
//! whose state the network may not hold.
//!
//! The EVM's own bookkeeping loads the caller's account (its nonce goes up, `value` leaves its
//! balance), but with the eth_call settings of [`super::call`] (no nonce, balance or fee checks)
//! none of that changes what the call returns. What the call's code can read of the caller is
//! its state through an opcode naming its address: `BALANCE`, `EXTCODESIZE`, `EXTCODECOPY`,
//! `EXTCODEHASH`, a `SELFDESTRUCT` to it (whose gas depends on whether it exists), or a call into
//! it (its code). So when the network has no proof of the zero account, the call runs with an
//! empty stand-in and [`CallerReads`] watches every step; if the code reads the caller, the
//! answer is dropped and the call fails naming the account, as it did before. A contract
//! creation is never run so: its address comes from the caller's nonce.

use alloy_primitives::{Address, B256};
use revm::interpreter::interpreter_types::Jumps;
use revm::interpreter::{CallInputs, CallOutcome, Interpreter};
use revm::Inspector;

/// Opcodes whose first stack argument is an address whose state they read.
const READS_ADDRESS_ON_TOP: [u8; 5] = [
    0x31, // BALANCE
    0x3b, // EXTCODESIZE
    0x3c, // EXTCODECOPY
    0x3f, // EXTCODEHASH
    0xff, // SELFDESTRUCT (the beneficiary: new-account gas)
];

/// Watches one execution for a read of `account`'s state (see the module docs).
#[derive(Debug)]
pub(super) struct CallerReads {
    account: Option<Address>,
    read: bool,
}

impl CallerReads {
    /// Watches for reads of `account`; `None` watches nothing (the caller's state is proven).
    pub(super) fn of(account: Option<Address>) -> Self {
        Self {
            account,
            read: false,
        }
    }

    /// Whether the execution read the watched account's state.
    pub(super) fn read(&self) -> bool {
        self.read
    }
}

impl<CTX> Inspector<CTX> for CallerReads {
    fn step(&mut self, interp: &mut Interpreter, _context: &mut CTX) {
        let Some(account) = self.account else {
            return;
        };
        if READS_ADDRESS_ON_TOP.contains(&interp.bytecode.opcode()) {
            if let Ok(word) = interp.stack.peek(0) {
                if Address::from_word(B256::from(word)) == account {
                    self.read = true;
                }
            }
        }
    }

    fn call(&mut self, _context: &mut CTX, inputs: &mut CallInputs) -> Option<CallOutcome> {
        if let Some(account) = self.account {
            if inputs.target_address == account || inputs.bytecode_address == account {
                self.read = true;
            }
        }
        None
    }
}
