//! The load generator's transactions: its two contracts' code, and legacy (EIP-155)
//! transactions signed with its own keys, so it works on any execution client that funds the
//! first key, not only on anvil's unlocked accounts.

use alloy_consensus::{SignableTransaction, TxEnvelope, TxLegacy};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{keccak256, Address, Bytes, Signature, TxKind, U256};
use k256::ecdsa::SigningKey;

/// Init code of the *slots* contract: its runtime reads the calldata as (slot, value) pairs of
/// 32-byte words and stores each value in its slot — an ERC-20 balance update reduced to its
/// storage writes. Runtime (25 bytes):
/// `i=0; loop: if !(calldatasize > i) stop; sstore(calldataload(i), calldataload(i+32)); i+=64`.
pub const SLOTS_INIT: &[u8] = &[
    // init: codecopy(0, 12, 25); return(0, 25)
    0x60, 0x19, 0x60, 0x0c, 0x60, 0x00, 0x39, 0x60, 0x19, 0x60, 0x00, 0xf3, // runtime
    0x60, 0x00, // PUSH1 0               [i]
    0x5b, // 0x02 JUMPDEST
    0x80, // DUP1                        [i i]
    0x36, // CALLDATASIZE                [size i i]
    0x11, // GT                          [size>i i]
    0x60, 0x0a, // PUSH1 0x0a
    0x57, // JUMPI                       [i]
    0x00, // STOP
    0x5b, // 0x0a JUMPDEST               [i]
    0x80, // DUP1                        [i i]
    0x60, 0x20, 0x01, // PUSH1 32 ADD    [i+32 i]
    0x35, // CALLDATALOAD                [value i]
    0x81, // DUP2                        [i value i]
    0x35, // CALLDATALOAD                [slot value i]
    0x55, // SSTORE                      [i]
    0x60, 0x40, 0x01, // PUSH1 64 ADD    [i+64]
    0x60, 0x02, 0x56, // PUSH1 2 JUMP
];

/// Init code of the *destructible* contract: any call makes it `SELFDESTRUCT` to the caller
/// (runtime `CALLER SELFDESTRUCT`). Before Cancun that deletes the account from the trie; from
/// Cancun on it only moves the balance out (EIP-6780).
pub const DESTRUCTIBLE_INIT: &[u8] = &[
    0x60, 0x02, 0x60, 0x0c, 0x60, 0x00, 0x39, 0x60, 0x02, 0x60, 0x00, 0xf3, 0x33, 0xff,
];

/// The address of a secret key (keccak of the uncompressed public key, last 20 bytes).
pub fn address_of(secret: &[u8; 32]) -> Address {
    match SigningKey::from_slice(secret) {
        Ok(key) => {
            let point = key.verifying_key().to_encoded_point(false);
            Address::from_slice(&keccak256(&point.as_bytes()[1..])[12..])
        }
        // Not a valid scalar (probability ~2^-128): an address nobody can send from.
        Err(_) => Address::ZERO,
    }
}

/// Everything a legacy transaction needs besides the key.
pub struct Unsigned {
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// The sender's nonce.
    pub nonce: u64,
    /// Wei per gas.
    pub gas_price: u128,
    /// Gas limit.
    pub gas: u64,
    /// Call or create.
    pub to: TxKind,
    /// Wei sent.
    pub value: U256,
    /// Calldata or init code.
    pub input: Bytes,
}

/// Sign `tx` with `secret`; the raw transaction for `eth_sendRawTransaction`.
pub fn sign(tx: Unsigned, secret: &[u8; 32]) -> Result<Vec<u8>, String> {
    let tx = TxLegacy {
        chain_id: Some(tx.chain_id),
        nonce: tx.nonce,
        gas_price: tx.gas_price,
        gas_limit: tx.gas,
        to: tx.to,
        value: tx.value,
        input: tx.input,
    };
    let key = SigningKey::from_slice(secret).map_err(|e| format!("bad secret key: {e}"))?;
    let (sig, recid) = key
        .sign_prehash_recoverable(tx.signature_hash().as_slice())
        .map_err(|e| format!("signing failed: {e}"))?;
    let signature = Signature::from_signature_and_parity(sig, recid.is_y_odd());
    Ok(TxEnvelope::from(tx.into_signed(signature)).encoded_2718())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anvil_dev_key_zero_has_its_well_known_address() {
        let key: [u8; 32] = alloy_primitives::hex::decode(
            "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
        )
        .unwrap()
        .try_into()
        .unwrap();
        assert_eq!(
            address_of(&key).to_string(),
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
        );
    }

    #[test]
    fn init_code_returns_the_runtime_that_follows_it() {
        // The init prefix copies from offset 12 as many bytes as it returns.
        for (init, len) in [(SLOTS_INIT, 25usize), (DESTRUCTIBLE_INIT, 2)] {
            assert_eq!(init[1] as usize, len);
            assert_eq!(init[3], 12);
            assert_eq!(init.len(), 12 + len);
        }
    }

    #[test]
    fn a_signed_transaction_recovers_to_its_sender() {
        use alloy_consensus::transaction::SignerRecoverable;
        use alloy_eips::eip2718::Decodable2718;
        let secret = [9u8; 32];
        let raw = sign(
            Unsigned {
                chain_id: 31337,
                nonce: 4,
                gas_price: 2_000_000_000,
                gas: 21_000,
                to: TxKind::Call(Address::repeat_byte(1)),
                value: U256::from(5),
                input: Bytes::new(),
            },
            &secret,
        )
        .unwrap();
        let tx = TxEnvelope::decode_2718(&mut raw.as_slice()).unwrap();
        assert_eq!(tx.recover_signer().unwrap(), address_of(&secret));
    }
}
