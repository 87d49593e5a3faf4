//! `eth_createAccessList`: run the call as `eth_call` does, list the accounts and slots it
//! touched (EIP-2930), then run it again carrying that list for the gas it would use.
//!
//! What the call touched is what its state database was asked for in the run whose outcome
//! is answered (earlier runs, over state not fetched yet, may have read other items; see
//! [`super::call_state`]). As geth's tracer does, the list leaves out the sender, the called account and the
//! precompiles as bare addresses (they are warm in any transaction), but keeps the slots read
//! from any account, the called contract's included.

use super::call::{failed, Prepared, Run};
use super::call_state::StateItem;
use super::{Answer, BlockId, CallRequest, ClientError, StateClient};
use alloy_primitives::{Address, B256};
use revm::context_interface::transaction::{AccessList, AccessListItem};
use revm::precompile::{PrecompileSpecId, Precompiles};
use revm::primitives::hardfork::SpecId;
use std::collections::{BTreeMap, BTreeSet};

/// What `eth_createAccessList` answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessListAnswer {
    /// The accounts and storage slots the call touches, sorted by address and slot.
    pub access_list: Vec<(Address, Vec<B256>)>,
    /// Gas the call uses when sent with that list (refunds applied).
    pub gas_used: u64,
    /// Why the call failed (reverted or halted), when it did; the list is what it touched
    /// until then.
    pub error: Option<String>,
}

impl Prepared {
    fn access_list(&self, request: &CallRequest) -> Result<AccessListAnswer, ClientError> {
        let gas = self.gas_cap(request);
        let first = match self.run(request, gas)? {
            Run::Done(r) => r,
            Run::Invalid(why) => return Err(ClientError::Execution(why)),
        };
        let list = self.touched(request);
        let items = AccessList(
            list.iter()
                .map(|(address, slots)| AccessListItem {
                    address: *address,
                    storage_keys: slots.clone(),
                })
                .collect(),
        );
        // With the list the call costs what the list saves on cold reads minus what it costs:
        // run it to know. Every read now hits the cache, so this run touches nothing new.
        let result = if items.0.is_empty() {
            first
        } else {
            match self.run_with(request, gas, items)? {
                Run::Done(r) => r,
                Run::Invalid(why) => return Err(ClientError::Execution(why)),
            }
        };
        let error = (!result.success).then(|| failed(result.clone()).to_string());
        Ok(AccessListAnswer {
            access_list: list,
            gas_used: result.gas_used,
            error,
        })
    }

    /// The accounts and slots read so far, without the ones every transaction has warm.
    fn touched(&self, request: &CallRequest) -> Vec<(Address, Vec<B256>)> {
        let spec = self.info.spec;
        let mut warm: BTreeSet<Address> = Precompiles::new(PrecompileSpecId::from_spec_id(spec))
            .addresses()
            .copied()
            .collect();
        warm.insert(request.from.unwrap_or(Address::ZERO));
        warm.extend(request.to);
        // From Shanghai the coinbase is warm too (EIP-3651).
        if spec.is_enabled_in(SpecId::SHANGHAI) {
            warm.insert(self.info.beneficiary());
        }
        let mut list: BTreeMap<Address, BTreeSet<B256>> = BTreeMap::new();
        for item in self.db.read_items() {
            match item {
                StateItem::Account(address) if !warm.contains(&address) => {
                    list.entry(address).or_default();
                }
                StateItem::Account(_) => {}
                StateItem::Slot(address, slot) => {
                    list.entry(address).or_default().insert(B256::from(slot));
                }
            }
        }
        list.into_iter()
            .map(|(address, slots)| (address, slots.into_iter().collect()))
            .collect()
    }
}

impl StateClient {
    /// The access list of `request` at `block` and the gas it uses with it
    /// (`eth_createAccessList`), on the same verified state as [`StateClient::call`].
    pub async fn create_access_list(
        &self,
        request: &CallRequest,
        block: BlockId,
    ) -> Result<Answer<AccessListAnswer>, ClientError> {
        Ok(self
            .execute(request, block, |p, r| p.access_list(r))
            .await?
            .0)
    }
}
