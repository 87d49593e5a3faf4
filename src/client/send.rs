//! `eth_sendRawTransaction`: check a signed transaction against verified state, then hand it
//! to the relays the operator configured.
//!
//! The node cannot gossip transactions (the state network carries state, not a mempool), so
//! a transaction leaves through a relay: an execution client's JSON-RPC endpoint, tried in
//! turn until one takes it. Before that, the transaction is decoded (legacy, EIP-2930,
//! EIP-1559, EIP-4844 in its network form with blobs, EIP-7702), its signature recovered, its
//! chain id compared with the node's, and its nonce and cost compared with the sender's
//! account, verified against a trusted header exactly as `eth_getBalance` reads it. The hash
//! returned is computed here, from the bytes, not taken from a relay.

use super::{Answer, BlockId, ClientError, StateClient};
use crate::bridge::{BridgeError, ExecutionClient};
use alloy_consensus::transaction::SignerRecoverable;
use alloy_consensus::{Transaction, TxEnvelope};
use alloy_eips::eip2718::Decodable2718;
use alloy_eips::eip4844::DATA_GAS_PER_BLOB;
use alloy_primitives::{hex, Address, B256, U256};
use serde_json::json;

/// The relays a node sends transactions through, in the order they are tried.
#[derive(Clone, Debug, Default)]
pub struct TxRelays {
    relays: Vec<ExecutionClient>,
}

impl TxRelays {
    /// Relays at `urls` (`http://…`, or `https://…` with the `https` feature); an empty list
    /// is allowed (sending then fails with [`ClientError::NoRelay`]).
    pub fn new<S: AsRef<str>>(urls: &[S]) -> Result<Self, ClientError> {
        let relays = urls
            .iter()
            .map(|url| {
                ExecutionClient::new(url.as_ref())
                    .map_err(|e| ClientError::InvalidRelay(e.to_string()))
            })
            .collect::<Result<_, _>>()?;
        Ok(TxRelays { relays })
    }

    /// The relays' URLs, in order.
    pub fn urls(&self) -> Vec<String> {
        self.relays.iter().map(|r| r.url().to_string()).collect()
    }

    /// Whether there is no relay.
    pub fn is_empty(&self) -> bool {
        self.relays.is_empty()
    }
}

/// A transaction a relay accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentTransaction {
    /// The transaction hash, computed from the signed bytes.
    pub hash: B256,
    /// The sender, recovered from the signature.
    pub sender: Address,
    /// The transaction's nonce.
    pub nonce: u64,
    /// The URL of the relay that accepted it.
    pub relay: String,
}

/// A decoded, signature-checked transaction.
struct Checked {
    hash: B256,
    sender: Address,
    nonce: u64,
    /// The most it can cost: gas limit × fee cap + value (+ blob gas × blob fee cap).
    max_cost: U256,
}

/// Decode `raw` (EIP-2718 bytes as `eth_sendRawTransaction` takes them), recover its sender and
/// check that it is for `chain_id`.
fn check(raw: &[u8], chain_id: u64) -> Result<Checked, ClientError> {
    let rejected = |why: String| ClientError::TransactionRejected(why);
    let mut buf = raw;
    // Blob transactions with their sidecar (the network form eth_sendRawTransaction takes,
    // either sidecar version) or without.
    let tx = TxEnvelope::decode_2718(&mut buf)
        .map_err(|e| rejected(format!("cannot decode the transaction: {e}")))?;
    if !buf.is_empty() {
        return Err(rejected(format!(
            "{} bytes after the end of the transaction",
            buf.len()
        )));
    }
    match tx.chain_id() {
        Some(id) if id == chain_id => {}
        Some(id) => {
            return Err(rejected(format!(
                "the transaction is for chain id {id}; this node serves chain id {chain_id}"
            )))
        }
        // Without EIP-155 a signed transaction is valid on every chain; geth refuses these over
        // RPC too.
        None => {
            return Err(rejected(
                "the transaction has no chain id (not replay-protected, pre-EIP-155)".into(),
            ))
        }
    }
    let sender = tx
        .recover_signer()
        .map_err(|e| rejected(format!("invalid signature: {e}")))?;
    let blob_gas = tx
        .blob_versioned_hashes()
        .map_or(0, |h| h.len() as u64 * DATA_GAS_PER_BLOB);
    // Saturating: a value near 2^256 must read as "more than anyone has", not wrap around.
    let max_cost = (U256::from(tx.gas_limit()) * U256::from(tx.max_fee_per_gas()))
        .saturating_add(tx.value())
        .saturating_add(U256::from(blob_gas) * U256::from(tx.max_fee_per_blob_gas().unwrap_or(0)));
    Ok(Checked {
        hash: *tx.hash(),
        sender,
        nonce: tx.nonce(),
        max_cost,
    })
}

impl StateClient {
    /// Check the signed transaction `raw` and send it through `relays` (tried in turn until one
    /// accepts it). The answer names the block whose verified state of the sender the nonce
    /// and balance were checked against (the newest trusted block with the sender's proof).
    ///
    /// Errors: [`ClientError::NoRelay`] without relays; [`ClientError::TransactionRejected`]
    /// for a transaction that does not decode, has a bad signature, is for another chain, has
    /// a nonce below the sender's or costs more than the sender has;
    /// [`ClientError::RelayFailed`] when no relay took it.
    pub async fn send_raw_transaction(
        &self,
        raw: &[u8],
        chain_id: u64,
        relays: &TxRelays,
    ) -> Result<Answer<SentTransaction>, ClientError> {
        if relays.is_empty() {
            return Err(ClientError::NoRelay);
        }
        let tx = check(raw, chain_id)?;
        let account = self.account(tx.sender, BlockId::Latest).await?;
        let state = account.value;
        if tx.nonce < state.nonce {
            return Err(ClientError::TransactionRejected(format!(
                "nonce too low: the transaction's nonce is {}, {}'s is {} at block {}",
                tx.nonce, tx.sender, state.nonce, account.block.number
            )));
        }
        if state.balance < tx.max_cost {
            return Err(ClientError::TransactionRejected(format!(
                "insufficient funds for gas * price + value: {} has {} wei at block {}, the \
                 transaction may cost {} wei",
                tx.sender, state.balance, account.block.number, tx.max_cost
            )));
        }
        let params = json!([hex::encode_prefixed(raw)]);
        let mut failures = Vec::new();
        for relay in &relays.relays {
            match relay.call("eth_sendRawTransaction", params.clone()).await {
                Ok(answer) => {
                    if answer.as_str() != Some(tx.hash.to_string().as_str()) {
                        // Ours is computed from the bytes; a relay that says otherwise is
                        // wrong, but it did take the transaction.
                        tracing::warn!(relay = relay.url(), %answer, hash = %tx.hash,
                            "the relay answered another transaction hash");
                    }
                    tracing::info!(hash = %tx.hash, sender = %tx.sender, relay = relay.url(),
                        "transaction relayed");
                    return Ok(Answer {
                        block: account.block,
                        value: SentTransaction {
                            hash: tx.hash,
                            sender: tx.sender,
                            nonce: tx.nonce,
                            relay: relay.url().to_string(),
                        },
                        stats: account.stats,
                    });
                }
                Err(e) => {
                    tracing::debug!(relay = relay.url(), error = %e, "relay failed");
                    let reason = match &e {
                        BridgeError::Rpc { code, message, .. } => {
                            format!("rejected it ({code}: {message})")
                        }
                        other => other.to_string(),
                    };
                    failures.push(format!("{}: {reason}", relay.url()));
                }
            }
        }
        Err(ClientError::RelayFailed(failures))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A mainnet EIP-1559 transfer (anvil's first dev key, chain id 31337 would differ): built
    // in the tests below from a known key instead of a vector, so the sender is known.
    const KEY: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

    fn signed(chain_id: u64) -> Vec<u8> {
        use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
        use alloy_eips::eip2718::Encodable2718;
        let tx = TxEip1559 {
            chain_id,
            nonce: 7,
            gas_limit: 21_000,
            max_fee_per_gas: 2_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            to: alloy_primitives::TxKind::Call(Address::repeat_byte(0x11)),
            value: U256::from(5),
            ..Default::default()
        };
        let key = k256::ecdsa::SigningKey::from_slice(&hex::decode(KEY).unwrap()).unwrap();
        let (sig, recid) = key
            .sign_prehash_recoverable(tx.signature_hash().as_slice())
            .unwrap();
        let signature =
            alloy_primitives::Signature::from_signature_and_parity(sig, recid.is_y_odd());
        TxEnvelope::from(tx.into_signed(signature)).encoded_2718()
    }

    #[test]
    fn a_signed_transaction_is_decoded_and_its_sender_recovered() {
        let raw = signed(31337);
        let checked = check(&raw, 31337).unwrap();
        assert_eq!(
            checked.sender,
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
                .parse::<Address>()
                .unwrap()
        );
        assert_eq!(checked.nonce, 7);
        assert_eq!(checked.hash, alloy_primitives::keccak256(&raw));
        assert_eq!(checked.max_cost, U256::from(21_000u64 * 2_000_000_000 + 5));
    }

    #[test]
    fn wrong_chain_garbage_and_trailing_bytes_are_rejected() {
        let raw = signed(1);
        let e = check(&raw, 31337).err().unwrap();
        assert!(e.to_string().contains("chain id 1"), "{e}");
        for bad in [
            &b""[..],
            &b"\x02"[..],
            &b"\xf8\x01"[..],
            &raw[..raw.len() - 1],
        ] {
            assert!(matches!(
                check(bad, 1),
                Err(ClientError::TransactionRejected(_))
            ));
        }
        let mut long = raw.clone();
        long.push(0);
        assert!(check(&long, 1).is_err());
        // A flipped bit in the signature's s value recovers another sender, or none.
        let mut flipped = raw.clone();
        let at = flipped.len() - 2;
        flipped[at] ^= 1;
        if let Ok(c) = check(&flipped, 1) {
            assert_ne!(c.sender, check(&raw, 1).unwrap().sender);
        }
    }
}
