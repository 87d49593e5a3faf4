//! The small standard methods client libraries call on connect or while waiting, answered as
//! the standard answers when a node does not have the data: `null`, never an invented number.
//!
//! This node has trusted headers and verified state, not block bodies: a block's transaction
//! and uncle counts are known only when its header says the list is empty (its
//! `transactionsRoot` is the empty trie's root, its `sha3Uncles` the hash of no uncles), and
//! transactions and receipts are never known (`null`, "not found", as for any unknown hash).

use super::{arity, parse_b256, parse_block_number, quantity, RpcError, RpcHandler};
use alloy_primitives::{keccak256, B256};
use alloy_trie::EMPTY_ROOT_HASH;
use portal_state::bridge::ExecutionHeader;
use portal_state::client::BlockId;
use serde_json::{json, Value};

/// `keccak256(rlp([]))`: the `sha3Uncles` of a block without uncles.
const EMPTY_UNCLES_HASH: B256 =
    alloy_primitives::b256!("1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347");

/// What `web3_clientVersion` says: `name/version/os-arch`, as other clients format it.
fn client_version() -> String {
    format!(
        "portal-state/v{}/{}-{}",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

impl RpcHandler {
    /// The standard methods; `None` for a method that is not one of them.
    pub(super) fn dispatch_standard(
        &self,
        method: &str,
        params: &[Value],
    ) -> Option<Result<Value, RpcError>> {
        Some(match method {
            "web3_clientVersion" => arity(params, 0, 0).map(|()| json!(client_version())),
            "web3_sha3" => arity(params, 1, 1).and_then(|()| {
                let data = super::parse_data(&params[0], "data")?;
                Ok(json!(keccak256(data).to_string()))
            }),
            // EIP-695's decimal form of the chain id (for every chain this serves, the network
            // id is the chain id).
            "net_version" => arity(params, 0, 0).map(|()| json!(self.chain_id.to_string())),
            "net_listening" => arity(params, 0, 0).map(|()| json!(true)),
            "net_peerCount" => {
                arity(params, 0, 0).map(|()| quantity(self.client.network().status().peers as u64))
            }
            // The node signs nothing and holds no keys.
            "eth_accounts" => arity(params, 0, 0).map(|()| json!([])),
            "eth_syncing" => arity(params, 0, 0).map(|()| self.syncing()),
            "eth_getBlockTransactionCountByNumber" | "eth_getBlockTransactionCountByHash" => {
                self.count(method, params, |h| h.transactions_root == EMPTY_ROOT_HASH)
            }
            "eth_getUncleCountByBlockNumber" | "eth_getUncleCountByBlockHash" => {
                self.count(method, params, |h| h.ommers_hash == EMPTY_UNCLES_HASH)
            }
            // Never known here (no block bodies): "not found", as for an unknown hash.
            "eth_getTransactionByHash" | "eth_getTransactionReceipt" => arity(params, 1, 1)
                .and_then(|()| {
                    parse_b256(&params[0], "transaction hash")?;
                    Ok(Value::Null)
                }),
            "eth_getTransactionByBlockHashAndIndex"
            | "eth_getTransactionByBlockNumberAndIndex"
            | "eth_getUncleByBlockHashAndIndex"
            | "eth_getUncleByBlockNumberAndIndex" => arity(params, 2, 2).and_then(|()| {
                self.block_of(method, &params[0])?;
                super::parse_number(&params[1], "index")?;
                Ok(Value::Null)
            }),
            "eth_getBlockReceipts" => arity(params, 1, 1).and_then(|()| {
                super::parse_block(params.first())?;
                Ok(Value::Null)
            }),
            _ => return None,
        })
    }

    /// `false` once a header is trusted: the node then answers at its newest trusted block.
    /// Before that it cannot answer anything, which it reports as syncing from block 0 with
    /// no known target (every figure zero).
    fn syncing(&self) -> Value {
        match self.client.newest_block() {
            Some(_) => json!(false),
            None => json!({
                "startingBlock": "0x0",
                "currentBlock": "0x0",
                "highestBlock": "0x0",
            }),
        }
    }

    /// The block a `…ByNumber` or `…ByHash` method names.
    fn block_of(&self, method: &str, param: &Value) -> Result<BlockId, RpcError> {
        if method.contains("ByHash") || method.contains("BlockHash") {
            Ok(BlockId::Hash(parse_b256(param, "block hash")?))
        } else {
            parse_block_number(param)
        }
    }

    /// A count that is known only when the header says it is zero (`empty(header)`); `null`
    /// otherwise and for blocks that are not trusted.
    fn count(
        &self,
        method: &str,
        params: &[Value],
        empty: impl Fn(&ExecutionHeader) -> bool,
    ) -> Result<Value, RpcError> {
        arity(params, 1, 1)?;
        let block = self.block_of(method, &params[0])?;
        let Ok(trusted) = self.client.header(block) else {
            return Ok(Value::Null);
        };
        let header = ExecutionHeader::from_rlp(&trusted.rlp)
            .map_err(|e| RpcError::new(super::INTERNAL_ERROR, format!("trusted header: {e}")))?;
        Ok(if empty(&header) {
            quantity(0)
        } else {
            Value::Null
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_uncles_hash_is_keccak_of_the_empty_list() {
        assert_eq!(keccak256([0xc0]), EMPTY_UNCLES_HASH);
        assert!(client_version().starts_with("portal-state/v"));
    }
}
