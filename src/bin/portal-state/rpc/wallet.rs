//! What a wallet calls after reading: fees (`eth_gasPrice`, `eth_maxPriorityFeePerGas`,
//! `eth_feeHistory`, `eth_blobBaseFee`), proofs (`eth_getProof`), access lists
//! (`eth_createAccessList`) and sending (`eth_sendRawTransaction`).
//!
//! Fees come from trusted headers only; the suggested tip is a documented constant
//! ([`SUGGESTED_PRIORITY_FEE`]) and `eth_feeHistory` leaves `reward` out (the tips paid are in
//! the blocks' transactions, which the node does not have).

use super::{
    arity, parse_address, parse_block_number, parse_call_request, parse_data, parse_number,
    parse_slot, quantity, RpcError, RpcHandler, INVALID_PARAMS,
};
use alloy_primitives::{hex, B256};
use portal_state::client::{MAX_FEE_HISTORY_BLOCKS, SUGGESTED_PRIORITY_FEE};
use serde_json::{json, Value};

/// The most slots one `eth_getProof` may ask for (each is a network lookup).
const MAX_PROOF_SLOTS: usize = 1024;

fn quantity_u128(n: u128) -> Value {
    json!(format!("{n:#x}"))
}

impl RpcHandler {
    /// The wallet methods; `None` for a method that is not one of them.
    pub(super) async fn dispatch_wallet(
        &self,
        method: &str,
        params: &[Value],
    ) -> Option<Result<Value, RpcError>> {
        Some(match method {
            "eth_gasPrice" => self.gas_price(params),
            "eth_maxPriorityFeePerGas" => arity(params, 0, 0).map(|()| {
                // A constant suggestion, not a figure of the chain (module docs).
                quantity_u128(SUGGESTED_PRIORITY_FEE)
            }),
            "eth_blobBaseFee" => self.blob_base_fee(params),
            "eth_feeHistory" => self.fee_history(params),
            "eth_getProof" => self.get_proof(params).await,
            "eth_createAccessList" => self.create_access_list(params).await,
            "eth_sendRawTransaction" => self.send_raw_transaction(params).await,
            _ => return None,
        })
    }

    fn gas_price(&self, params: &[Value]) -> Result<Value, RpcError> {
        arity(params, 0, 0)?;
        Ok(quantity_u128(self.client.fee_data()?.gas_price))
    }

    fn blob_base_fee(&self, params: &[Value]) -> Result<Value, RpcError> {
        arity(params, 0, 0)?;
        let fees = self.client.fee_data()?;
        fees.next_blob_base_fee.map(quantity_u128).ok_or_else(|| {
            RpcError::new(
                super::UNKNOWN_BLOCK,
                format!(
                    "the newest trusted block ({}) has no blob gas fields (before Cancun)",
                    fees.block.number
                ),
            )
        })
    }

    fn fee_history(&self, params: &[Value]) -> Result<Value, RpcError> {
        arity(params, 2, 3)?;
        // Clients send the count as a quantity; some as a plain number.
        let count = match &params[0] {
            Value::Number(n) => n
                .as_u64()
                .ok_or_else(|| RpcError::params("blockCount: expected a positive integer"))?,
            other => parse_number(other, "blockCount")?,
        };
        if count == 0 || count > MAX_FEE_HISTORY_BLOCKS {
            return Err(RpcError::params(format!(
                "blockCount: expected 1 to {MAX_FEE_HISTORY_BLOCKS}, got {count}"
            )));
        }
        let newest = parse_block_number(&params[1])?;
        if let Some(percentiles) = params.get(2).filter(|p| !p.is_null()) {
            check_percentiles(percentiles)?;
        }
        let history = self.client.fee_history(count, newest)?;
        // `reward` is left out: the tips paid are in the transactions (module docs).
        Ok(json!({
            "oldestBlock": quantity(history.oldest_block),
            "baseFeePerGas": history.base_fee_per_gas.iter().map(|f| quantity_u128(*f)).collect::<Vec<_>>(),
            "gasUsedRatio": history.gas_used_ratio,
            "baseFeePerBlobGas": history.base_fee_per_blob_gas.iter().map(|f| quantity_u128(*f)).collect::<Vec<_>>(),
            "blobGasUsedRatio": history.blob_gas_used_ratio,
        }))
    }

    async fn get_proof(&self, params: &[Value]) -> Result<Value, RpcError> {
        arity(params, 2, 3)?;
        let address = parse_address(&params[0])?;
        let keys = params[1]
            .as_array()
            .ok_or_else(|| RpcError::params("storage keys: expected an array"))?;
        if keys.len() > MAX_PROOF_SLOTS {
            return Err(RpcError::params(format!(
                "storage keys: {} asked for, at most {MAX_PROOF_SLOTS}",
                keys.len()
            )));
        }
        let slots = keys.iter().map(parse_slot).collect::<Result<Vec<_>, _>>()?;
        let block = self.block_param(params.get(2))?;
        let answer = self.client.proof(address, &slots, block).await?;
        let proof = answer.value;
        let nodes = |nodes: &[alloy_primitives::Bytes]| -> Vec<String> {
            nodes.iter().map(hex::encode_prefixed).collect()
        };
        let storage: Vec<Value> = keys
            .iter()
            .zip(&proof.storage)
            .map(|(key, slot)| {
                json!({
                    // The key as the caller wrote it, as execution clients echo it.
                    "key": key,
                    "value": format!("{:#x}", slot.value),
                    "proof": nodes(&slot.proof),
                })
            })
            .collect();
        Ok(json!({
            "address": proof.address.to_string(),
            "balance": format!("{:#x}", proof.account.balance),
            "nonce": quantity(proof.account.nonce),
            "codeHash": proof.account.code_hash.to_string(),
            "storageHash": proof.account.storage_root.to_string(),
            "accountProof": nodes(&proof.account_proof),
            "storageProof": storage,
        }))
    }

    async fn create_access_list(&self, params: &[Value]) -> Result<Value, RpcError> {
        arity(params, 1, 2)?;
        let request = parse_call_request(&params[0], self.chain_id)?;
        let block = self.block_param(params.get(1))?;
        let answer = self.client.create_access_list(&request, block).await?;
        let list: Vec<Value> = answer
            .value
            .access_list
            .iter()
            .map(|(address, slots)| {
                json!({
                    "address": address.to_string(),
                    "storageKeys": slots.iter().map(B256::to_string).collect::<Vec<_>>(),
                })
            })
            .collect();
        let mut result = json!({
            "accessList": list,
            "gasUsed": quantity(answer.value.gas_used),
        });
        if let Some(error) = answer.value.error {
            result["error"] = json!(error);
        }
        Ok(result)
    }

    async fn send_raw_transaction(&self, params: &[Value]) -> Result<Value, RpcError> {
        arity(params, 1, 1)?;
        let raw = parse_data(&params[0], "transaction")?;
        let answer = self
            .client
            .send_raw_transaction(&raw, self.chain_id, &self.relays)
            .await?;
        Ok(json!(answer.value.hash.to_string()))
    }
}

/// `eth_feeHistory`'s percentiles: numbers from 0 to 100, ascending (checked though unused:
/// a malformed request is an error whatever the answer).
fn check_percentiles(value: &Value) -> Result<(), RpcError> {
    let list = value
        .as_array()
        .ok_or_else(|| RpcError::params("rewardPercentiles: expected an array"))?;
    let mut last = 0.0;
    for p in list {
        let p = p
            .as_f64()
            .filter(|p| (0.0..=100.0).contains(p))
            .ok_or_else(|| {
                RpcError::new(INVALID_PARAMS, "rewardPercentiles: numbers from 0 to 100")
            })?;
        if p < last {
            return Err(RpcError::params("rewardPercentiles: must be ascending"));
        }
        last = p;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::U256;

    #[test]
    fn percentiles_are_checked() {
        assert!(check_percentiles(&json!([])).is_ok());
        assert!(check_percentiles(&json!([10, 50.5, 90])).is_ok());
        for bad in [
            json!([50, 10]),
            json!([101]),
            json!([-1]),
            json!("10"),
            json!(["1"]),
        ] {
            assert_eq!(check_percentiles(&bad).unwrap_err().code, INVALID_PARAMS);
        }
        assert_eq!(quantity_u128(U256::from(10).to::<u128>()), json!("0xa"));
    }
}
