//! Fees from trusted headers: what `eth_gasPrice`, `eth_maxPriorityFeePerGas` and
//! `eth_feeHistory` answer, computed from figures the node can verify.
//!
//! A trusted header fixes its block's `baseFeePerGas`, `gasUsed`, `gasLimit`, `blobGasUsed` and
//! `excessBlobGas`; EIP-1559's rule (and EIP-4844's for blobs) then fixes the *next* block's base
//! fees. Those are the verified figures. What the header does not fix is what senders tipped:
//! priority-fee percentiles need the block's transactions, which this node does not have. The
//! suggested tip is therefore a constant ([`SUGGESTED_PRIORITY_FEE`]), said to be one, and
//! `eth_feeHistory`'s `reward` is left out rather than invented.

use super::{BlockId, BlockRef, ClientError, StateClient};
use crate::proof::BlockHeader;
use alloy_consensus::Header;
use alloy_eips::eip1559::BaseFeeParams;
use alloy_eips::eip7840::BlobParams;
use alloy_primitives::B256;
use std::collections::HashMap;

/// The priority fee (tip) suggested per gas: 1 gwei. Not a figure of the chain: a fixed
/// suggestion (anvil's and many wallets' default), since the tips paid in recent blocks are
/// in their transactions, which trusted headers do not carry.
pub const SUGGESTED_PRIORITY_FEE: u128 = 1_000_000_000;

/// The most blocks one fee history covers (geth's limit for a request is 1024).
pub const MAX_FEE_HISTORY_BLOCKS: u64 = 1024;

/// What a wallet needs to price a transaction, from the newest trusted header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeeData {
    /// The newest trusted block, the one the figures derive from.
    pub block: BlockRef,
    /// That block's base fee per gas (`None` before London).
    pub base_fee_per_gas: Option<u128>,
    /// The next block's base fee per gas, by EIP-1559's rule from that block's gas used, gas
    /// limit and base fee (`None` before London).
    pub next_base_fee_per_gas: Option<u128>,
    /// The suggested tip: [`SUGGESTED_PRIORITY_FEE`], a constant.
    pub max_priority_fee_per_gas: u128,
    /// A fee cap that survives the base fee rising in several full blocks:
    /// `2 × next base fee + tip` (what ethers and viem build).
    pub max_fee_per_gas: u128,
    /// A legacy gas price: `next base fee + tip` (geth's `eth_gasPrice` adds its suggested tip
    /// to the base fee too); the tip alone before London.
    pub gas_price: u128,
    /// The next block's blob base fee (EIP-4844), for headers with blob fields.
    pub next_blob_base_fee: Option<u128>,
}

/// Base fees and fullness of a range of trusted blocks (`eth_feeHistory`).
#[derive(Clone, Debug, PartialEq)]
pub struct FeeHistory {
    /// The number of the first block of the range.
    pub oldest_block: u64,
    /// Each block's base fee, then the next block's: one more entry than blocks (zero before
    /// London, as execution clients report it).
    pub base_fee_per_gas: Vec<u128>,
    /// Each block's `gasUsed / gasLimit`.
    pub gas_used_ratio: Vec<f64>,
    /// Each block's blob base fee, then the next block's (zero before Cancun).
    pub base_fee_per_blob_gas: Vec<u128>,
    /// Each block's `blobGasUsed / max blob gas` (zero before Cancun).
    pub blob_gas_used_ratio: Vec<f64>,
}

/// A trusted header's fee fields.
struct FeeFields {
    number: u64,
    header: Header,
}

impl FeeFields {
    fn decode(trusted: &BlockHeader) -> Result<Self, ClientError> {
        let header = trusted.fields().map_err(|e| {
            ClientError::Execution(format!("trusted header {}: {e}", trusted.number))
        })?;
        Ok(FeeFields {
            number: trusted.number,
            header,
        })
    }

    /// The blob parameters of the header's fork, as far as a header shows it: Prague's from
    /// the header with a requests hash on, Cancun's before (later forks' blob-parameter
    /// changes are not visible in a header).
    fn blob_params(&self) -> BlobParams {
        if self.header.requests_hash.is_some() {
            BlobParams::prague()
        } else {
            BlobParams::cancun()
        }
    }

    fn base_fee(&self) -> Option<u128> {
        self.header.base_fee_per_gas.map(u128::from)
    }

    fn next_base_fee(&self) -> Option<u128> {
        self.header
            .next_block_base_fee(BaseFeeParams::ethereum())
            .map(u128::from)
    }

    fn blob_fee(&self) -> Option<u128> {
        self.header.blob_fee(self.blob_params())
    }

    fn next_blob_fee(&self) -> Option<u128> {
        self.header.next_block_blob_fee(self.blob_params())
    }

    fn gas_used_ratio(&self) -> f64 {
        if self.header.gas_limit == 0 {
            return 0.0;
        }
        self.header.gas_used as f64 / self.header.gas_limit as f64
    }

    fn blob_gas_used_ratio(&self) -> f64 {
        let max = self.blob_params().max_blob_gas_per_block();
        match self.header.blob_gas_used {
            Some(used) if max > 0 => used as f64 / max as f64,
            _ => 0.0,
        }
    }
}

impl StateClient {
    /// Fee figures from the newest trusted header (see the module docs for what is verified).
    pub fn fee_data(&self) -> Result<FeeData, ClientError> {
        let newest = self.newest_block().ok_or(ClientError::NoTrustedHeader)?;
        let fields = FeeFields::decode(&newest)?;
        let next = fields.next_base_fee();
        let tip = SUGGESTED_PRIORITY_FEE;
        Ok(FeeData {
            block: (&newest).into(),
            base_fee_per_gas: fields.base_fee(),
            next_base_fee_per_gas: next,
            max_priority_fee_per_gas: tip,
            max_fee_per_gas: next.unwrap_or(0).saturating_mul(2).saturating_add(tip),
            gas_price: next.unwrap_or(0).saturating_add(tip),
            next_blob_base_fee: fields.next_blob_fee(),
        })
    }

    /// The fee history of up to `block_count` trusted blocks ending at `newest`: the blocks
    /// that chain to it by parent hash among the trusted headers, so the range ends early
    /// (its oldest block is later) where the node trusts no older block.
    pub fn fee_history(
        &self,
        block_count: u64,
        newest: BlockId,
    ) -> Result<FeeHistory, ClientError> {
        let newest = self.header(newest)?;
        let count = block_count.min(MAX_FEE_HISTORY_BLOCKS) as usize;
        let by_hash: HashMap<B256, BlockHeader> = self
            .network
            .overlay()
            .with_heads(|heads| heads.newest_first().map(|h| (h.hash, h.clone())).collect());
        // Newest first, following parent hashes: one chain, even if a reorg left two
        // headers at some height.
        let mut chain = Vec::with_capacity(count);
        let mut next = Some(newest);
        while let Some(header) = next.take() {
            if chain.len() == count {
                break;
            }
            next = by_hash.get(&header.parent_hash).cloned();
            chain.push(FeeFields::decode(&header)?);
        }
        chain.reverse();
        let mut history = FeeHistory {
            oldest_block: chain.first().map_or(0, |f| f.number),
            base_fee_per_gas: Vec::with_capacity(chain.len() + 1),
            gas_used_ratio: Vec::with_capacity(chain.len()),
            base_fee_per_blob_gas: Vec::with_capacity(chain.len() + 1),
            blob_gas_used_ratio: Vec::with_capacity(chain.len()),
        };
        for fields in &chain {
            history
                .base_fee_per_gas
                .push(fields.base_fee().unwrap_or(0));
            history.gas_used_ratio.push(fields.gas_used_ratio());
            history
                .base_fee_per_blob_gas
                .push(fields.blob_fee().unwrap_or(0));
            history
                .blob_gas_used_ratio
                .push(fields.blob_gas_used_ratio());
        }
        if let Some(last) = chain.last() {
            history
                .base_fee_per_gas
                .push(last.next_base_fee().unwrap_or(0));
            history
                .base_fee_per_blob_gas
                .push(last.next_blob_fee().unwrap_or(0));
        }
        Ok(history)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A London-and-later header with the given fee fields.
    fn header(gas_used: u64, gas_limit: u64, base_fee: u64) -> FeeFields {
        FeeFields {
            number: 1,
            header: Header {
                gas_used,
                gas_limit,
                base_fee_per_gas: Some(base_fee),
                ..Header::default()
            },
        }
    }

    #[test]
    fn next_base_fee_follows_eip_1559() {
        // At the target (half full) the base fee stays; a full block raises it by 1/8, an
        // empty one lowers it by 1/8.
        assert_eq!(
            header(15_000_000, 30_000_000, 1_000_000_000).next_base_fee(),
            Some(1_000_000_000)
        );
        assert_eq!(
            header(30_000_000, 30_000_000, 1_000_000_000).next_base_fee(),
            Some(1_125_000_000)
        );
        assert_eq!(
            header(0, 30_000_000, 1_000_000_000).next_base_fee(),
            Some(875_000_000)
        );
        assert_eq!(header(0, 30_000_000, 8).gas_used_ratio(), 0.0);
        assert_eq!(header(30_000_000, 30_000_000, 8).gas_used_ratio(), 1.0);
    }
}
