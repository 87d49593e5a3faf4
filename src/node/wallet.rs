//! What a wallet needs besides reads: fee figures from trusted headers ([`Node::fee_data`])
//! and sending a signed transaction ([`Node::send_raw_transaction`]) through the relays set
//! with [`Node::set_tx_relays`], after checking it against verified state.

use super::{Answer, FeeData, Node, NodeError, NodeFuture, SentTransaction};
use crate::client::TxRelays;
use std::sync::{Mutex, MutexGuard};

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

    /// Fee figures from the newest trusted header ([`FeeData`]: what is verified, and what is
    /// a fixed suggestion).
    pub fn fee_data(&self) -> Result<FeeData, NodeError> {
        let client = {
            let state = self.state();
            state.as_ref().ok_or(NodeError::NotRunning)?.client.clone()
        };
        Ok(client.fee_data()?)
    }

    /// Check a signed transaction (EIP-2718 bytes, as `eth_sendRawTransaction` takes them:
    /// signature, chain id, and the sender's nonce and balance against verified state) and
    /// send it through the relays. The answer's block is the one whose verified state of the
    /// sender it was checked against. Errors: [`NodeError::NoRelay`],
    /// [`NodeError::TransactionRejected`], [`NodeError::RelayFailed`].
    pub fn send_raw_transaction(&self, raw: &[u8]) -> Result<Answer<SentTransaction>, NodeError> {
        let (raw, relays, chain_id) = self.sending(raw);
        self.run(move |c| async move { Ok(c.send_raw_transaction(&raw, chain_id, &relays).await?) })
    }

    /// [`Node::send_raw_transaction`], as a future.
    pub fn send_raw_transaction_async(&self, raw: &[u8]) -> NodeFuture<Answer<SentTransaction>> {
        let (raw, relays, chain_id) = self.sending(raw);
        self.run_async(move |c| async move {
            Ok(c.send_raw_transaction(&raw, chain_id, &relays).await?)
        })
    }

    /// What a send task owns: the bytes, the relays as they are now, the chain id.
    fn sending(&self, raw: &[u8]) -> (Vec<u8>, TxRelays, u64) {
        (
            raw.to_vec(),
            self.sending.relays().clone(),
            self.sending.chain_id,
        )
    }
}
