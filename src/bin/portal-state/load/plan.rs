//! What the load generator sends, block by block: a pure plan over seeded randomness (no I/O),
//! so that a test can check the mix without an execution client.
//!
//! Every block mixes the state changes a node must follow at the head: transfers between funded
//! accounts (some to fresh addresses: account-trie inserts), ERC-20-style storage writes (some
//! to zero: storage-trie deletes and branch collapses), contract creations, calls that make a
//! contract self-destruct (an account-trie delete before Cancun; its balance emptied after) and
//! accounts that send away all they have.

use super::tx::{DESTRUCTIBLE_INIT, SLOTS_INIT};
use alloy_primitives::{Address, Bytes, TxKind, B256, U256};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;

/// One ether in wei.
const ETHER: u128 = 1_000_000_000_000_000_000;
/// Slots a storage write picks from most of the time, so that later writes overwrite and zero
/// earlier ones (the rest go to fresh random slots).
const HOT_SLOTS: u64 = 64;
/// Funded accounts are never emptied below this many, so transfers always have senders.
const MIN_FUNDED: usize = 4;
/// Percent of a block's transactions that empty an account.
const EMPTY_PERCENT: u32 = 3;

/// What a planned transaction does (for the per-block report).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Change {
    /// Funding one of the generator's accounts at setup.
    Fund,
    /// A value transfer between funded accounts.
    Transfer,
    /// A value transfer to an address that did not exist.
    TransferToNew,
    /// A call writing storage slots of a slots contract.
    StorageWrite,
    /// A contract creation.
    Create,
    /// A call that makes a contract self-destruct, sending its balance to the caller.
    SelfDestruct,
    /// An account sending away everything it has (the runner fills in the value).
    Empty,
}

/// One transaction to sign and send.
#[derive(Clone, Debug)]
pub struct PlannedTx {
    /// The sender: an index into [`LoadPlan::keys`].
    pub from: usize,
    /// The sender's nonce.
    pub nonce: u64,
    /// Call or create.
    pub to: TxKind,
    /// Wei sent; for [`Change::Empty`] the runner replaces it with the whole balance less the fee.
    pub value: U256,
    /// Calldata or init code.
    pub input: Bytes,
    /// Gas limit.
    pub gas: u64,
    /// What it does (an emptying transaction is the sender's first and last in its block).
    pub kind: Change,
    /// Slots written and how many of them to zero (storage writes).
    pub slots: Vec<(B256, B256)>,
}

/// The generator's state: its accounts' keys and nonces, the contracts it created, its rng.
pub struct LoadPlan {
    rng: StdRng,
    /// Secret keys of the generator's accounts; index 0 is the funder.
    pub keys: Vec<[u8; 32]>,
    /// Their addresses.
    pub addresses: Vec<Address>,
    /// The next nonce of each.
    pub nonces: Vec<u64>,
    /// Which accounts (indices) still have funds to send from (the funder included).
    funded: Vec<usize>,
    /// Slots contracts created so far.
    pub slot_contracts: Vec<Address>,
    /// Self-destructible contracts not yet destroyed.
    pub destructibles: Vec<Address>,
    /// Every address the generator created or wrote: what a test compares with the client.
    pub touched: Vec<Address>,
    /// The value each written (contract, slot) holds after the load, as planned.
    pub slot_values: BTreeMap<(Address, B256), B256>,
    /// Contracts made to self-destruct.
    pub destroyed: Vec<Address>,
    /// Contracts created in the block being planned: usable from the next block on, when
    /// they surely exist (a block's order need not be the order of sending).
    created_now: Vec<(Address, bool)>,
    /// Accounts that sent in the block being planned: an account is emptied only before it
    /// sends anything else in a block (a client counts every pending transaction's cost).
    sent_now: Vec<usize>,
    /// Whether storage writes may clear slots (see [`LoadPlan::without_clears`]).
    clear_slots: bool,
}

impl LoadPlan {
    /// A plan for `accounts` accounts (plus the funder, whose key is given), from `seed`.
    pub fn new(funder_key: [u8; 32], funder_nonce: u64, accounts: usize, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut keys = vec![funder_key];
        for _ in 0..accounts {
            keys.push(rng.gen());
        }
        let addresses = keys.iter().map(super::tx::address_of).collect();
        let mut nonces = vec![0; keys.len()];
        nonces[0] = funder_nonce;
        Self {
            rng,
            keys,
            addresses,
            nonces,
            funded: vec![0],
            slot_contracts: Vec::new(),
            destructibles: Vec::new(),
            touched: Vec::new(),
            slot_values: BTreeMap::new(),
            destroyed: Vec::new(),
            created_now: Vec::new(),
            sent_now: Vec::new(),
            clear_slots: true,
        }
    }

    fn tx(
        &mut self,
        from: usize,
        to: TxKind,
        value: U256,
        input: Bytes,
        gas: u64,
        kind: Change,
    ) -> PlannedTx {
        let nonce = self.nonces[from];
        self.nonces[from] += 1;
        self.sent_now.push(from);
        if let TxKind::Create = to {
            let created = self.addresses[from].create(nonce);
            self.touched.push(created);
            self.created_now
                .push((created, input.as_ref() == SLOTS_INIT));
        }
        PlannedTx {
            from,
            nonce,
            to,
            value,
            input,
            gas,
            kind,
            slots: Vec::new(),
        }
    }

    /// The setup block: the funder pays each account 100 ether and creates two slots contracts
    /// and four self-destructible ones (each holding a little ether).
    pub fn setup(&mut self) -> Vec<PlannedTx> {
        self.settle();
        let mut txs = Vec::new();
        for i in 1..self.keys.len() {
            let to = self.addresses[i];
            self.touched.push(to);
            txs.push(self.tx(
                0,
                TxKind::Call(to),
                U256::from(100 * ETHER),
                Bytes::new(),
                21_000,
                Change::Fund,
            ));
            self.funded.push(i);
        }
        for _ in 0..2 {
            txs.push(self.tx(
                0,
                TxKind::Create,
                U256::ZERO,
                Bytes::from_static(SLOTS_INIT),
                200_000,
                Change::Create,
            ));
        }
        for _ in 0..4 {
            txs.push(self.tx(
                0,
                TxKind::Create,
                U256::from(ETHER / 100),
                Bytes::from_static(DESTRUCTIBLE_INIT),
                200_000,
                Change::Create,
            ));
        }
        txs
    }

    /// Storage writes never clear a slot. anvil keeps a cleared slot in its storage trie as a
    /// leaf of value zero (its state roots and proofs then disagree with every other client and
    /// it cannot prove the slot), so against anvil the load deletes accounts, not slots.
    pub fn without_clears(mut self) -> Self {
        self.clear_slots = false;
        self
    }

    /// Contracts created in the block just planned become usable.
    fn settle(&mut self) {
        self.sent_now.clear();
        for (created, is_slots) in std::mem::take(&mut self.created_now) {
            if is_slots {
                self.slot_contracts.push(created);
            } else {
                self.destructibles.push(created);
            }
        }
    }

    fn sender(&mut self) -> usize {
        // The funder (index 0) sends only at setup: it may be an account the user needs.
        let candidates: Vec<usize> = self.funded.iter().copied().filter(|&i| i != 0).collect();
        candidates[self.rng.gen_range(0..candidates.len())]
    }

    /// The next block's transactions: `count` of them, mixed.
    pub fn block(&mut self, count: usize) -> Vec<PlannedTx> {
        self.settle();
        let min_funded = MIN_FUNDED.max(self.keys.len() / 2);
        let mut txs = Vec::with_capacity(count);
        for _ in 0..count {
            let roll = self.rng.gen_range(0..100);
            let tx = match roll {
                r if r < EMPTY_PERCENT && self.funded.len() > min_funded => self.empty(),
                0..=46 => self.transfer(),
                47..=71 => self.storage_write(),
                72..=85 => self.create(),
                86..=99 if !self.destructibles.is_empty() => self.self_destruct(),
                _ => self.transfer(),
            };
            txs.push(tx);
        }
        txs
    }

    fn transfer(&mut self) -> PlannedTx {
        let from = self.sender();
        let value = U256::from(self.rng.gen_range(ETHER / 1000..ETHER));
        if self.rng.gen_range(0..100) < 30 {
            let to = Address::from(self.rng.gen::<[u8; 20]>());
            self.touched.push(to);
            return self.tx(
                from,
                TxKind::Call(to),
                value,
                Bytes::new(),
                21_000,
                Change::TransferToNew,
            );
        }
        let to = self.addresses[self.funded[self.rng.gen_range(0..self.funded.len())]];
        self.tx(
            from,
            TxKind::Call(to),
            value,
            Bytes::new(),
            21_000,
            Change::Transfer,
        )
    }

    fn storage_write(&mut self) -> PlannedTx {
        let from = self.sender();
        let contract = self.slot_contracts[self.rng.gen_range(0..self.slot_contracts.len())];
        let pairs = self.rng.gen_range(1..=4);
        let mut slots = Vec::with_capacity(pairs);
        let mut input = Vec::with_capacity(64 * pairs);
        for _ in 0..pairs {
            let slot = if self.rng.gen_range(0..100) < 70 {
                B256::from(U256::from(self.rng.gen_range(0..HOT_SLOTS)))
            } else {
                B256::from(self.rng.gen::<[u8; 32]>())
            };
            // A quarter of the writes clear their slot: storage-trie deletes.
            let value = if self.rng.gen_range(0..4) == 0 && self.clear_slots {
                B256::ZERO
            } else {
                B256::from(U256::from(self.rng.gen::<u64>()) + U256::from(1))
            };
            input.extend_from_slice(slot.as_slice());
            input.extend_from_slice(value.as_slice());
            slots.push((slot, value));
            self.slot_values.insert((contract, slot), value);
        }
        let gas = 30_000 + 30_000 * pairs as u64;
        let mut tx = self.tx(
            from,
            TxKind::Call(contract),
            U256::ZERO,
            input.into(),
            gas,
            Change::StorageWrite,
        );
        tx.slots = slots;
        tx
    }

    fn create(&mut self) -> PlannedTx {
        let from = self.sender();
        if self.rng.gen_range(0..2) == 0 {
            self.tx(
                from,
                TxKind::Create,
                U256::ZERO,
                Bytes::from_static(SLOTS_INIT),
                200_000,
                Change::Create,
            )
        } else {
            let value = U256::from(self.rng.gen_range(ETHER / 1000..ETHER / 10));
            self.tx(
                from,
                TxKind::Create,
                value,
                Bytes::from_static(DESTRUCTIBLE_INIT),
                200_000,
                Change::Create,
            )
        }
    }

    fn self_destruct(&mut self) -> PlannedTx {
        let from = self.sender();
        let at = self.rng.gen_range(0..self.destructibles.len());
        let contract = self.destructibles.swap_remove(at);
        self.destroyed.push(contract);
        self.tx(
            from,
            TxKind::Call(contract),
            U256::ZERO,
            Bytes::new(),
            60_000,
            Change::SelfDestruct,
        )
    }

    fn empty(&mut self) -> PlannedTx {
        let idle: Vec<usize> = (self.funded.iter().copied())
            .filter(|i| *i != 0 && !self.sent_now.contains(i))
            .collect();
        if idle.is_empty() {
            return self.transfer();
        }
        let from = idle[self.rng.gen_range(0..idle.len())];
        self.funded.retain(|&i| i != from);
        let to = self.addresses[self.funded[self.rng.gen_range(0..self.funded.len())]];
        self.tx(
            from,
            TxKind::Call(to),
            U256::ZERO,
            Bytes::new(),
            21_000,
            Change::Empty,
        )
    }

    /// Account `from`'s transaction of `nonce` and those after it were not sent: its next
    /// transaction takes that nonce again.
    pub fn rewind(&mut self, from: usize, nonce: u64) {
        self.nonces[from] = nonce;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn kinds(txs: &[PlannedTx]) -> BTreeMap<Change, usize> {
        let mut m = BTreeMap::new();
        for tx in txs {
            *m.entry(tx.kind).or_default() += 1;
        }
        m
    }

    #[test]
    fn blocks_mix_inserts_deletes_creations_and_destructions() {
        let mut plan = LoadPlan::new([7; 32], 0, 16, 42);
        let setup = plan.setup();
        assert_eq!(kinds(&setup)[&Change::Fund], 16);
        // Created contracts are used from the next block on.
        assert!(plan.slot_contracts.is_empty());
        plan.block(0);
        assert_eq!(plan.slot_contracts.len(), 2);
        assert_eq!(plan.destructibles.len(), 4);
        let mut all = Vec::new();
        for _ in 0..20 {
            all.extend(plan.block(16));
        }
        let k = kinds(&all);
        for kind in [
            Change::Transfer,
            Change::TransferToNew,
            Change::StorageWrite,
            Change::Create,
            Change::SelfDestruct,
            Change::Empty,
        ] {
            assert!(
                k.get(&kind).copied().unwrap_or(0) > 0,
                "{kind:?} never planned: {k:?}"
            );
        }
        let zeroed = all
            .iter()
            .flat_map(|t| &t.slots)
            .filter(|(_, v)| v.is_zero())
            .count();
        assert!(zeroed > 0, "no storage write clears a slot");
        // Nonces are consecutive per sender, from 0 (the funder from its given nonce).
        let mut next = vec![0u64; plan.keys.len()];
        for tx in setup.iter().chain(&all) {
            assert_eq!(tx.nonce, next[tx.from], "sender {} nonce gap", tx.from);
            next[tx.from] += 1;
        }
        // The funder sends only at setup; an emptied account never sends again.
        assert!(all.iter().all(|t| t.from != 0));
        let mut emptied = std::collections::HashSet::new();
        for tx in &all {
            assert!(
                !emptied.contains(&tx.from),
                "emptied account {} sends again",
                tx.from
            );
            if tx.kind == Change::Empty {
                emptied.insert(tx.from);
            }
        }
    }

    #[test]
    fn the_same_seed_plans_the_same_load() {
        let run = |seed| {
            let mut plan = LoadPlan::new([7; 32], 3, 8, seed);
            plan.setup();
            plan.block(32)
                .into_iter()
                .map(|t| (t.from, t.nonce, t.to, t.value, t.input))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
    }
}
