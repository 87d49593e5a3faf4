//! What a wallet needs besides reads: fee figures from trusted headers ([`Node::fee_data`])
//! and sending a signed transaction ([`Node::send_raw_transaction`]) through the relays set
//! with [`Node::set_tx_relays`], after checking it against verified state.

use super::{BlockInfo, Node, NodeError, NodeFuture};
use crate::client::TxRelays;
use alloy_primitives::{Address, B256};
use std::sync::{Mutex, MutexGuard};
use tokio::task::JoinHandle;

/// A node's sending setup: its chain id and relays.
#[derive(Debug)]
pub(super) struct Sending {
    chain_id: u64,
    relays: Mutex<TxRelays>,
}

impl Sending {
    pub(super) fn new(chain_id: u64) -> Self {
        Sending {
            chain_id,
            relays: Mutex::new(TxRelays::default()),
        }
    }

    fn relays(&self) -> MutexGuard<'_, TxRelays> {
        self.relays.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Fee figures for pricing a transaction, from the newest trusted header
/// ([`crate::client::FeeData`]: what is verified, and what is a fixed suggestion).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeeDataAnswer {
    /// The newest trusted block, the one the figures derive from.
    pub block: BlockInfo,
    /// That block's base fee per gas in wei (`None` before London).
    pub base_fee_per_gas: Option<u128>,
    /// The next block's base fee per gas, by EIP-1559's rule (`None` before London).
    pub next_base_fee_per_gas: Option<u128>,
    /// The suggested tip per gas: a constant (1 gwei), not a figure of the chain.
    pub max_priority_fee_per_gas: u128,
    /// A fee cap: `2 × next base fee + tip`.
    pub max_fee_per_gas: u128,
    /// A legacy gas price: `next base fee + tip`.
    pub gas_price: u128,
    /// The next block's blob base fee (Cancun and later).
    pub next_blob_base_fee: Option<u128>,
}

/// A transaction a relay accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentAnswer {
    /// The block whose verified state of the sender the transaction was checked against.
    pub block: BlockInfo,
    /// The transaction hash, computed from the signed bytes.
    pub hash: B256,
    /// The sender, recovered from the signature.
    pub sender: Address,
    /// The transaction's nonce.
    pub nonce: u64,
    /// The URL of the relay that took it.
    pub relay: String,
}

impl Node {
    /// Send transactions through these execution clients' JSON-RPC endpoints (`http://…`,
    /// `https://…`), tried in turn; replaces the previous list. An empty list turns sending
    /// off. A malformed URL is [`NodeError::InvalidInput`] and leaves the list as it was.
    pub fn set_tx_relays(&self, urls: &[String]) -> Result<(), NodeError> {
        let relays = TxRelays::new(urls).map_err(|e| NodeError::invalid(e.to_string()))?;
        *self.sending.relays() = relays;
        Ok(())
    }

    /// The relays' URLs, in the order they are tried.
    pub fn tx_relays(&self) -> Vec<String> {
        self.sending.relays().urls()
    }

    /// Fee figures from the newest trusted header.
    pub fn fee_data(&self) -> Result<FeeDataAnswer, NodeError> {
        let client = {
            let state = self.state();
            state.as_ref().ok_or(NodeError::NotRunning)?.client.clone()
        };
        let f = client.fee_data()?;
        Ok(FeeDataAnswer {
            block: f.block.into(),
            base_fee_per_gas: f.base_fee_per_gas,
            next_base_fee_per_gas: f.next_base_fee_per_gas,
            max_priority_fee_per_gas: f.max_priority_fee_per_gas,
            max_fee_per_gas: f.max_fee_per_gas,
            gas_price: f.gas_price,
            next_blob_base_fee: f.next_blob_base_fee,
        })
    }

    /// Check a signed transaction (EIP-2718 bytes, as `eth_sendRawTransaction` takes them:
    /// signature, chain id, and the sender's nonce and balance against verified state) and
    /// send it through the relays. Errors: [`NodeError::NoRelay`],
    /// [`NodeError::TransactionRejected`], [`NodeError::RelayFailed`].
    pub fn send_raw_transaction(&self, raw: &[u8]) -> Result<SentAnswer, NodeError> {
        Self::wait(self.spawn_send(raw))
    }

    /// [`Node::send_raw_transaction`], as a future.
    pub fn send_raw_transaction_async(&self, raw: &[u8]) -> NodeFuture<SentAnswer> {
        Self::later(self.spawn_send(raw))
    }

    fn spawn_send(
        &self,
        raw: &[u8],
    ) -> Result<JoinHandle<Result<SentAnswer, NodeError>>, NodeError> {
        let raw = raw.to_vec();
        let relays = self.sending.relays().clone();
        let chain_id = self.sending.chain_id;
        self.spawn(move |client| async move {
            let answer = client.send_raw_transaction(&raw, chain_id, &relays).await?;
            Ok(SentAnswer {
                block: answer.block.into(),
                hash: answer.value.hash,
                sender: answer.value.sender,
                nonce: answer.value.nonce,
                relay: answer.value.relay,
            })
        })
    }
}
