//! `eth_call` and `eth_estimateGas` on verified state: `revm` over a database that fetches
//! accounts, code and storage from the network on demand.
//!
//! Every read is pinned to one trusted block (its state root), so an execution sees one
//! consistent state even when newer blocks become trusted meanwhile. [`BlockId::Latest`] is
//! resolved first to the newest block that has the called account (the same fall back as
//! [`StateClient::account`]); the answer names that block.
//!
//! The state is fetched in rounds of concurrent lookups ([`super::call_state`]): a run reads
//! what is fetched, notes what is not, the noted items are fetched at once, and the call runs
//! again until a run reads nothing new; only that run's outcome is answered. The items of an
//! access list the request carries are fetched in the first round, with the called account.
//!
//! The EVM is synchronous and the network is not. The EVM therefore runs on tokio's blocking
//! pool (`spawn_blocking`), which waits on the runtime's handle for each round: sound on any
//! runtime flavour (unlike `block_in_place`, which panics on a current-thread runtime), and a
//! panic in the EVM comes back as a `JoinError`, which becomes an error here instead of
//! unwinding into an FFI caller.

use super::call_state::{fetch_account, fetch_items, lock, CallFetches, CallState, StateItem};
use super::caller::CallerReads;
use super::{Answer, BlockId, BlockRef, ClientError, StateClient};
use crate::overlay::LookupStats;
use crate::proof::BlockHeader;
use alloy_primitives::{Address, Bytes, TxKind, B256, U256};
use revm::context::result::{EVMError, ExecutionResult, Output};
use revm::context::{BlockEnv, CfgEnv, Context, TxEnv};
use revm::context_interface::transaction::{AccessList, AccessListItem};
use revm::database_interface::WrapDatabaseRef;
use revm::handler::{MainBuilder, MainContext};
use revm::primitives::eip4844::{
    BLOB_BASE_FEE_UPDATE_FRACTION_CANCUN, BLOB_BASE_FEE_UPDATE_FRACTION_PRAGUE,
};
use revm::primitives::hardfork::SpecId;
use revm::state::AccountInfo;
use revm::InspectEvm;
use std::sync::Mutex;

/// Gas a call may use when it names none (geth's default `--rpc.gascap`).
const RPC_GAS_CAP: u64 = 50_000_000;
/// What `eth_call` and `eth_estimateGas` take: a transaction that is never signed nor sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallRequest {
    /// The sender; the zero address when absent.
    pub from: Option<Address>,
    /// The called account; a contract creation (with `data` as init code) when absent.
    pub to: Option<Address>,
    /// The gas limit; the block's gas limit when absent.
    pub gas: Option<u64>,
    /// The gas price in wei. When absent the price is zero and the base fee is not enforced,
    /// as execution clients do for `eth_call`.
    pub gas_price: Option<U256>,
    /// Wei sent with the call. The sender's balance is not checked (`eth_call` semantics):
    /// during the call it reads as at least this much.
    pub value: Option<U256>,
    /// Calldata (or init code for a creation).
    pub data: Bytes,
    /// What the `CHAINID` opcode reads; 1 (mainnet) when absent. The network does not know
    /// the chain's EVM id, and nothing is signed, so only contracts that read it care.
    pub chain_id: Option<u64>,
    /// An EIP-2930 access list: the accounts and slots the call will read, as
    /// `eth_createAccessList` gives them. Its items are fetched at once, before the first
    /// run, and the call runs as a type-1 transaction carrying it (its gas is that of the
    /// transaction with the list, as execution clients run it). Items the call does not read
    /// are fetched in vain but never make it fail; empty: a legacy call.
    pub access_list: Vec<(Address, Vec<B256>)>,
}

/// The outcome of a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallResult {
    /// Whether the call returned normally (neither reverted nor halted).
    pub success: bool,
    /// The returned bytes on success, the revert data on a revert, empty on a halt.
    pub return_data: Bytes,
    /// Gas used by the transaction, refunds applied (what a receipt would say).
    pub gas_used: u64,
    /// The message of a revert with `Error(string)` data, decoded.
    pub revert_reason: Option<String>,
    /// Why execution halted (out of gas, invalid opcode, …), when it did.
    pub halt_reason: Option<String>,
}

/// The `Error(string)` selector: `keccak256("Error(string)")[..4]`.
const ERROR_SELECTOR: [u8; 4] = [0x08, 0xc3, 0x79, 0xa0];

/// The lowest gas any transaction needs.
const MIN_GAS: u64 = 21_000;

/// Decode `Error(string)` revert data; `None` for anything else (custom errors, panics, empty).
pub fn decode_revert_reason(data: &[u8]) -> Option<String> {
    let body = data.strip_prefix(&ERROR_SELECTOR)?;
    // ABI: a word with the offset of the string, then at that offset its length and bytes.
    let word = |at: usize| -> Option<usize> {
        let w = body.get(at..at.checked_add(32)?)?;
        // Offsets and lengths beyond usize are malformed: the high bytes must be zero.
        if w[..24].iter().any(|b| *b != 0) {
            return None;
        }
        usize::try_from(u64::from_be_bytes(w[24..].try_into().ok()?)).ok()
    };
    let offset = word(0)?;
    let len = word(offset)?;
    let start = offset.checked_add(32)?;
    let bytes = body.get(start..start.checked_add(len)?)?;
    Some(String::from_utf8_lossy(bytes).into_owned())
}

/// The block environment and fork of a trusted header, from its fields
/// ([`BlockHeader::fields`]).
pub(super) struct BlockContext {
    env: BlockEnv,
    pub(super) spec: SpecId,
}

impl BlockContext {
    /// The block's fee recipient.
    pub(super) fn beneficiary(&self) -> Address {
        self.env.beneficiary
    }

    fn from_header(header: &BlockHeader) -> Result<Self, ClientError> {
        if !header.has_rlp() {
            // A beacon light client head: number, hash and state root are proven, but not the
            // coinbase, gas limit, base fee and RANDAO a call's block environment needs.
            return Err(ClientError::Execution(format!(
                "block {} is trusted through the beacon light client, which does not give the \
                 full header a call needs; name an older block given with its header",
                header.number
            )));
        }
        let fields = header
            .fields()
            .map_err(|e| ClientError::Execution(format!("trusted header: {e}")))?;
        let (difficulty, base_fee) = (fields.difficulty, fields.base_fee_per_gas);
        // The fork, from the fields the header has: the protocol rules the block was built
        // under, as far as a header shows them (later forks without header fields, such as
        // Osaka, run as Prague).
        let spec = if fields.requests_hash.is_some() {
            SpecId::PRAGUE
        } else if fields.parent_beacon_block_root.is_some() {
            SpecId::CANCUN
        } else if fields.withdrawals_root.is_some() {
            SpecId::SHANGHAI
        } else if base_fee.is_some() && difficulty.is_zero() {
            SpecId::MERGE
        } else if base_fee.is_some() {
            SpecId::LONDON
        } else {
            SpecId::BERLIN
        };
        let mut env = BlockEnv {
            number: U256::from(fields.number),
            beneficiary: fields.beneficiary,
            timestamp: U256::from(fields.timestamp),
            gas_limit: fields.gas_limit,
            basefee: base_fee.unwrap_or(0),
            difficulty,
            // After the merge the mix hash field carries RANDAO.
            prevrandao: spec.is_enabled_in(SpecId::MERGE).then_some(fields.mix_hash),
            ..BlockEnv::default()
        };
        env.blob_excess_gas_and_price = None;
        if let Some(excess) = fields.excess_blob_gas {
            let fraction = if spec.is_enabled_in(SpecId::PRAGUE) {
                BLOB_BASE_FEE_UPDATE_FRACTION_PRAGUE
            } else {
                BLOB_BASE_FEE_UPDATE_FRACTION_CANCUN
            };
            env.set_blob_excess_gas_and_price(excess, fraction);
        }
        Ok(BlockContext { env, spec })
    }
}

/// One execution's outcome, or why it could not run.
pub(super) enum Run {
    Done(CallResult),
    /// The transaction is invalid at this gas (e.g. below intrinsic gas): a failed try for an
    /// estimate, an error for a call.
    Invalid(String),
}

/// A call ready to run: pinned block, environment and state cache.
pub(super) struct Prepared {
    pub(super) db: CallState,
    block: BlockRef,
    pub(super) info: BlockContext,
    /// The caller runs as an empty stand-in: no proof of it was found (see
    /// [`super::caller`]); what was not found, and at which blocks, for the error returned
    /// if the call reads its state.
    unproven_caller: Mutex<Option<(String, Vec<u64>)>>,
}

impl Prepared {
    /// Run `request` with gas limit `gas`, carrying the request's access list (on the
    /// blocking pool: fetch rounds block).
    pub(super) fn run(&self, request: &CallRequest, gas: u64) -> Result<Run, ClientError> {
        let items = request
            .access_list
            .iter()
            .map(|(address, slots)| AccessListItem {
                address: *address,
                storage_keys: slots.clone(),
            })
            .collect();
        self.run_with(request, gas, AccessList(items))
    }

    /// [`Prepared::run`] as an EIP-2930 transaction carrying `access_list` (legacy when it is
    /// empty): runs and fetch rounds until a run reads only fetched state, whose outcome it
    /// is (see [`super::call_state`]).
    pub(super) fn run_with(
        &self,
        request: &CallRequest,
        gas: u64,
        access_list: AccessList,
    ) -> Result<Run, ClientError> {
        loop {
            self.settle(request)?;
            self.db.start_run();
            let outcome = self.run_once(request, gas, access_list.clone());
            let unknown = self.db.unknown_reads();
            if unknown.is_empty() {
                // Every read was of fetched state: the outcome is the call's, unless it read
                // an item no peer holds.
                return match self.db.first_absent_read() {
                    Some(missing) => Err(missing),
                    None => outcome,
                };
            }
            // What a run over placeholders did is never answered, its errors included.
            self.db.fetch_blocking(unknown)?;
        }
    }

    /// Before a run: the called account must exist on the network, and the sender stands
    /// in when it does not (see below); the sender's balance covers `value`.
    fn settle(&self, request: &CallRequest) -> Result<(), ClientError> {
        if let Some(missing) = request
            .to
            .and_then(|to| self.db.take_absent(StateItem::Account(to)))
        {
            return Err(missing);
        }
        let from = request.from.unwrap_or(Address::ZERO);
        // Without `from`, the zero address calls; when the network holds no proof of it, an
        // empty stand-in does, watched (super::caller). Not for a creation: its address comes
        // from the caller's nonce.
        match self.db.take_absent(StateItem::Account(from)) {
            None => {}
            Some(ClientError::NotFound { what, tried })
                if request.from.is_none() && request.to.is_some() =>
            {
                *lock(&self.unproven_caller) = Some((what, tried));
                self.db.insert_account(from, AccountInfo::default());
            }
            Some(e) => return Err(e),
        }
        // eth_call semantics: the sender can send `value` whatever its balance. revm tops the
        // balance up only when it charges fees, which we turn off (see `run`), so do it here
        // (again after each round: it changes nothing the second time); the sender's BALANCE
        // then reads at least `value` during the call.
        if let Some(mut sender) = self.db.account(from) {
            let value = request.value.unwrap_or_default();
            if sender.balance < value {
                sender.balance = value;
                self.db.insert_account(from, sender);
            }
        }
        Ok(())
    }

    /// One run over the state fetched so far.
    fn run_once(
        &self,
        request: &CallRequest,
        gas: u64,
        access_list: AccessList,
    ) -> Result<Run, ClientError> {
        let gas_price = match request.gas_price {
            Some(p) => u128::try_from(p)
                .map_err(|_| ClientError::Execution(format!("gas price {p} too large")))?,
            None => 0,
        };
        let chain_id = request.chain_id.unwrap_or(1);
        let typed = !access_list.0.is_empty();
        let tx = TxEnv {
            tx_type: if typed { 1 } else { 0 },
            caller: request.from.unwrap_or(Address::ZERO),
            gas_limit: gas,
            gas_price,
            kind: request.to.map_or(TxKind::Create, TxKind::Call),
            value: request.value.unwrap_or_default(),
            data: request.data.clone(),
            // A legacy call has no chain id to check (it is never signed); a typed one names
            // the chain it runs on.
            chain_id: typed.then_some(chain_id),
            access_list,
            ..TxEnv::default()
        };
        let mut cfg = CfgEnv::new_with_spec(self.info.spec);
        cfg.chain_id = chain_id;
        // eth_call semantics: any sender, any nonce, any balance, a sender with code.
        cfg.disable_nonce_check = true;
        cfg.disable_block_gas_limit = true;
        cfg.disable_balance_check = true;
        cfg.disable_eip3607 = true;
        // Nothing is paid: the coinbase's account is then never read, so a call needs only
        // the state it touches.
        cfg.disable_fee_charge = true;
        cfg.disable_base_fee = request.gas_price.is_none();
        let caller = tx.caller;
        let unproven_caller = lock(&self.unproven_caller).clone();
        let watch = CallerReads::of(unproven_caller.as_ref().map(|_| caller));
        let mut evm = Context::mainnet()
            .with_db(WrapDatabaseRef(&self.db))
            .with_block(self.info.env.clone())
            .with_cfg(cfg)
            .build_mainnet_with_inspector(watch);
        let outcome = evm.inspect_tx(tx);
        if let Some(e) = self.db.take_failure() {
            return Err(e);
        }
        if evm.inspector.read() {
            if let Some((what, tried)) = &unproven_caller {
                return Err(ClientError::NotFound {
                    what: format!("{what} (the call reads its caller's state)"),
                    tried: tried.clone(),
                });
            }
        }
        let result = match outcome {
            Ok(r) => r.result,
            Err(EVMError::Transaction(e)) => return Ok(Run::Invalid(e.to_string())),
            Err(e) => return Err(ClientError::Execution(e.to_string())),
        };
        Ok(Run::Done(match result {
            ExecutionResult::Success { gas, output, .. } => CallResult {
                success: true,
                return_data: match output {
                    Output::Call(data) => data,
                    // A creation returns the deployed code, as execution clients' eth_call does.
                    Output::Create(data, _) => data,
                },
                gas_used: gas.tx_gas_used(),
                revert_reason: None,
                halt_reason: None,
            },
            ExecutionResult::Revert { gas, output, .. } => CallResult {
                success: false,
                revert_reason: decode_revert_reason(&output),
                return_data: output,
                gas_used: gas.tx_gas_used(),
                halt_reason: None,
            },
            ExecutionResult::Halt { reason, gas, .. } => CallResult {
                success: false,
                return_data: Bytes::new(),
                gas_used: gas.tx_gas_used(),
                revert_reason: None,
                halt_reason: Some(format!("{reason:?}")),
            },
        }))
    }

    /// The gas a call may use when the request names none: the block's gas limit, but at
    /// least geth's RPC gas cap, since a call is not bound by the block it reads (the mainnet
    /// genesis block allowed 5,000 gas, not enough for a transfer).
    pub(super) fn gas_cap(&self, request: &CallRequest) -> u64 {
        request
            .gas
            .unwrap_or(self.info.env.gas_limit.max(RPC_GAS_CAP))
    }

    fn call(&self, request: &CallRequest) -> Result<CallResult, ClientError> {
        match self.run(request, self.gas_cap(request))? {
            Run::Done(r) => Ok(r),
            Run::Invalid(why) => Err(ClientError::Execution(why)),
        }
    }

    /// The least gas at which `request` succeeds: a run at the cap, then a binary search below
    /// it. Every run after the first reads only cached state.
    fn estimate(&self, request: &CallRequest) -> Result<u64, ClientError> {
        let cap = self.gas_cap(request);
        let first = match self.run(request, cap)? {
            Run::Done(r) => r,
            Run::Invalid(why) => return Err(ClientError::Execution(why)),
        };
        if !first.success {
            return Err(failed(first));
        }
        let succeeds = |gas: u64| -> Result<bool, ClientError> {
            Ok(matches!(self.run(request, gas)?, Run::Done(r) if r.success))
        };
        // Gas used is a lower bound: below it the call cannot succeed (refunds lower what is
        // used, never what is needed while running).
        let mut lo = first.gas_used.max(MIN_GAS) - 1;
        let mut hi = cap;
        // Most calls need a little more than they use (the 63/64 rule keeps back gas from
        // inner calls; refunds are paid at the end): try that first to narrow the search.
        let optimistic = (first.gas_used + 2_300).saturating_mul(64) / 63;
        if optimistic < hi {
            if succeeds(optimistic)? {
                hi = optimistic;
            } else {
                lo = optimistic;
            }
        }
        while lo + 1 < hi {
            let mid = lo + (hi - lo) / 2;
            if succeeds(mid)? {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Ok(hi)
    }
}

/// The error for a call that did not succeed at the gas cap.
pub(super) fn failed(r: CallResult) -> ClientError {
    match r.halt_reason {
        Some(halt) => ClientError::Execution(format!("execution halted: {halt}")),
        None => ClientError::Reverted {
            reason: r.revert_reason,
            data: r.return_data,
        },
    }
}

impl StateClient {
    /// Resolve `block`, pin it, and name what the call surely needs (the called account and
    /// its code, the sender's account, the items of the request's access list): the first
    /// round fetches them (after a first run over what is known, which may add to it).
    async fn prepare(
        &self,
        request: &CallRequest,
        block: BlockId,
    ) -> Result<Prepared, ClientError> {
        let from = request.from.unwrap_or(Address::ZERO);
        let mut stats = LookupStats::default();
        let (header, to_account) = match (request.to, block) {
            // Latest: the newest block that has the called account, as `account` finds it.
            (Some(to), BlockId::Latest) => {
                let (block, info) = fetch_account(self, to, block, &mut stats).await?;
                (self.header(BlockId::Hash(block.hash))?, Some((to, info)))
            }
            _ => (self.header(block)?, None),
        };
        let pinned = BlockId::Hash(header.hash);
        // Before any state is fetched: a head without the full header cannot run a call.
        let info = BlockContext::from_header(&header)?;
        // The first round: the called account (unless Latest found it), the sender, the
        // access list.
        let mut seeds = Vec::new();
        let mut seed = |item| {
            if !seeds.contains(&item) {
                seeds.push(item);
            }
        };
        seed(StateItem::Account(from));
        if let Some(to) = request.to {
            seed(StateItem::Account(to));
        }
        for (address, slots) in &request.access_list {
            seed(StateItem::Account(*address));
            for slot in slots {
                seed(StateItem::Slot(*address, U256::from_be_bytes(slot.0)));
            }
        }
        let db = CallState::new(self.clone(), pinned, seeds);
        db.add_stats(&stats);
        if let Some((to, info)) = to_account {
            db.record_round(1);
            db.insert_account(to, info);
        }
        let prepared = Prepared {
            db,
            block: (&header).into(),
            info,
            unproven_caller: Mutex::default(),
        };
        if self.sequential_calls {
            // As before rounds: the seeds at once, then each item when the EVM reads it.
            let mut stats = LookupStats::default();
            let unknown = prepared.db.unknown_reads();
            let fetched = fetch_items(self, pinned, unknown, &mut stats).await;
            prepared.db.add_stats(&stats);
            prepared.db.keep(fetched)?;
        }
        Ok(prepared)
    }

    /// Run `f` on the blocking pool, where the database may wait for the network; a panic in
    /// it becomes an error.
    pub(super) async fn execute<T: Send + 'static>(
        &self,
        request: &CallRequest,
        block: BlockId,
        f: impl FnOnce(&Prepared, &CallRequest) -> Result<T, ClientError> + Send + 'static,
    ) -> Result<(Answer<T>, CallFetches), ClientError> {
        let prepared = self.prepare(request, block).await?;
        let request = request.clone();
        let (prepared, value) = tokio::task::spawn_blocking(move || {
            let value = f(&prepared, &request);
            (prepared, value)
        })
        .await
        .map_err(|e| {
            ClientError::Execution(if e.is_panic() {
                format!("the EVM panicked: {}", panic_text(e.into_panic()))
            } else {
                "the EVM task was cancelled".to_string()
            })
        })?;
        let answer = Answer {
            block: prepared.block,
            value: value?,
            stats: prepared.db.stats(),
        };
        Ok((answer, prepared.db.fetches()))
    }

    /// Execute `request` against the state of `block` without a transaction (`eth_call`).
    ///
    /// A revert or halt is a result (`success == false`), not an error; errors are state the
    /// network could not give ([`ClientError::NotFound`] naming the account, slot or code), an
    /// invalid request, or a failure of the EVM itself.
    pub async fn call(
        &self,
        request: &CallRequest,
        block: BlockId,
    ) -> Result<Answer<CallResult>, ClientError> {
        Ok(self.call_counted(request, block).await?.0)
    }

    /// [`StateClient::call`], and how its state was fetched: the rounds of concurrent lookups
    /// it waited for and the items fetched.
    pub async fn call_counted(
        &self,
        request: &CallRequest,
        block: BlockId,
    ) -> Result<(Answer<CallResult>, CallFetches), ClientError> {
        self.execute(request, block, |p, r| p.call(r)).await
    }

    /// The least gas limit with which `request` succeeds at `block` (`eth_estimateGas`),
    /// searched between 21,000 and the request's gas (or the block gas limit).
    ///
    /// A call that reverts at the cap gives [`ClientError::Reverted`] with the revert data.
    pub async fn estimate_gas(
        &self,
        request: &CallRequest,
        block: BlockId,
    ) -> Result<Answer<u64>, ClientError> {
        Ok(self.execute(request, block, |p, r| p.estimate(r)).await?.0)
    }
}

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::hex;

    #[test]
    fn error_string_is_decoded_and_garbage_is_not() {
        // Error("Not enough Ether provided.")
        let data = hex::decode(
            "08c379a0\
             0000000000000000000000000000000000000000000000000000000000000020\
             000000000000000000000000000000000000000000000000000000000000001a\
             4e6f7420656e6f7567682045746865722070726f76696465642e000000000000",
        )
        .unwrap();
        assert_eq!(
            decode_revert_reason(&data).as_deref(),
            Some("Not enough Ether provided.")
        );
        assert_eq!(decode_revert_reason(&data[..40]), None);
        assert_eq!(decode_revert_reason(&[]), None);
        let mut huge = data.clone();
        huge[4] = 0xff; // an offset beyond any buffer
        assert_eq!(decode_revert_reason(&huge), None);
    }
}
