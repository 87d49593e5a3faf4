//! Fees and sending in the bindings: [`Node::fee_data`], [`Node::set_tx_relays`],
//! [`Node::send_raw_transaction`]. Amounts are decimal strings of wei, as balances are.

use super::{BlockInfo, Node};
use crate::node::{self as core, NodeError};

/// Fee figures for pricing a transaction, from the newest trusted header. Wei per gas, as
/// decimal strings. The tip is a fixed suggestion (1 gwei), not a figure of the chain: the tips
/// paid are in blocks' transactions, which the node does not have.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct FeeData {
    /// The newest trusted block, the one the figures derive from.
    pub block: BlockInfo,
    /// That block's base fee (absent before London).
    pub base_fee_per_gas: Option<String>,
    /// The next block's base fee, by EIP-1559's rule (absent before London).
    pub next_base_fee_per_gas: Option<String>,
    /// The suggested tip.
    pub max_priority_fee_per_gas: String,
    /// A fee cap: 2 × next base fee + tip.
    pub max_fee_per_gas: String,
    /// A legacy gas price: next base fee + tip.
    pub gas_price: String,
    /// The next block's blob base fee (Cancun and later).
    pub next_blob_base_fee: Option<String>,
}

impl From<core::FeeData> for FeeData {
    fn from(f: core::FeeData) -> Self {
        let text = |n: u128| n.to_string();
        FeeData {
            block: f.block.into(),
            base_fee_per_gas: f.base_fee_per_gas.map(text),
            next_base_fee_per_gas: f.next_base_fee_per_gas.map(text),
            max_priority_fee_per_gas: text(f.max_priority_fee_per_gas),
            max_fee_per_gas: text(f.max_fee_per_gas),
            gas_price: text(f.gas_price),
            next_blob_base_fee: f.next_blob_base_fee.map(text),
        }
    }
}

/// A transaction a relay took.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct SentTransaction {
    /// The block whose verified state of the sender it was checked against.
    pub block: BlockInfo,
    /// The transaction hash (computed from the bytes), `0x…`.
    pub hash: String,
    /// The sender, recovered from the signature, `0x…` (EIP-55).
    pub sender: String,
    /// The transaction's nonce.
    pub nonce: u64,
    /// The relay that took it.
    pub relay: String,
}

impl From<core::Answer<core::SentTransaction>> for SentTransaction {
    fn from(a: core::Answer<core::SentTransaction>) -> Self {
        SentTransaction {
            block: a.block.into(),
            hash: a.value.hash.to_string(),
            sender: a.value.sender.to_checksum(None),
            nonce: a.value.nonce,
            relay: a.value.relay,
        }
    }
}

#[uniffi::export]
impl Node {
    /// Fee figures from the newest trusted header.
    pub fn fee_data(&self) -> Result<FeeData, NodeError> {
        Ok(self.inner.fee_data()?.into())
    }

    /// Send transactions through these execution clients' JSON-RPC URLs (`http://…`,
    /// `https://…`), tried in turn; replaces the list (empty: sending off).
    pub fn set_tx_relays(&self, urls: Vec<String>) -> Result<(), NodeError> {
        self.inner.set_tx_relays(&urls)
    }

    /// Check a signed transaction (EIP-2718 bytes) against verified state (signature, chain
    /// id, the sender's nonce and balance) and send it through the relays; its hash.
    pub fn send_raw_transaction(&self, raw: Vec<u8>) -> Result<SentTransaction, NodeError> {
        Ok(self.inner.send_raw_transaction(&raw)?.into())
    }

    /// [`Node::send_raw_transaction`], async.
    pub async fn send_raw_transaction_async(
        &self,
        raw: Vec<u8>,
    ) -> Result<SentTransaction, NodeError> {
        Ok(self.inner.send_raw_transaction_async(&raw).await?.into())
    }
}
