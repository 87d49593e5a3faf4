//! The beacon light client on real mainnet objects (portal-spec-tests, Deneb): bootstrap at a
//! checkpoint, the updates of periods 1250 and 1251, a finality and an optimistic update; then
//! every kind of bad object refused with a typed error and the store unchanged.

use alloy_primitives::{b256, hex, B256};
use portal_state::beacon::portal::{
    bootstrap_from_content, update_from_content, updates_from_content, ContentKey, UpdateKind,
};
use portal_state::beacon::types::{Bootstrap, ElectraBootstrap, Update};
use portal_state::beacon::{ChainSpec, Fork, LightClientError, LightClientStore, Progress};
use ssz::Encode;
use ssz_types::FixedVector;
use std::path::Path;

const DIR: &str = "tests/data/portal-spec-tests/tests/mainnet/beacon_chain/light_client/deneb";

/// The bootstrap's block root: the content key of `bootstrap.yaml`, our checkpoint.
const CHECKPOINT: B256 = b256!("33d75f8506929d950a6d9e43508e92e50a072a39978821900e3a2e261f80ddbf");

/// A wall-clock slot after every signature in the vectors (the spec refuses future ones).
const NOW_SLOT: u64 = 10_250_000;

struct Item {
    key: Vec<u8>,
    value: Vec<u8>,
}

fn item(name: &str) -> Item {
    let text = std::fs::read_to_string(Path::new(DIR).join(name)).unwrap();
    let yaml: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let field = |f: &str| hex::decode(yaml[f].as_str().unwrap()).unwrap();
    Item {
        key: field("content_key"),
        value: field("content_value"),
    }
}

struct Vectors {
    bootstrap: Bootstrap,
    updates: Vec<Update>,
    finality: Update,
    optimistic: Update,
}

fn vectors() -> Vectors {
    let spec = ChainSpec::mainnet();
    let updates = item("updates.yaml");
    assert_eq!(
        updates.key,
        ContentKey::UpdatesByRange {
            start_period: 1250,
            count: 2
        }
        .to_bytes()
    );
    Vectors {
        bootstrap: bootstrap_from_content(&spec, &item("bootstrap.yaml").value).unwrap(),
        updates: updates_from_content(&spec, &updates.value).unwrap(),
        finality: update_from_content(
            &spec,
            UpdateKind::Finality,
            &item("finality_update.yaml").value,
        )
        .unwrap(),
        optimistic: update_from_content(
            &spec,
            UpdateKind::Optimistic,
            &item("optimistic_update.yaml").value,
        )
        .unwrap(),
    }
}

fn bootstrapped(v: &Vectors) -> LightClientStore {
    LightClientStore::bootstrap(&ChainSpec::mainnet(), CHECKPOINT, &v.bootstrap).unwrap()
}

#[test]
fn content_keys_are_the_vectors() {
    assert_eq!(
        item("bootstrap.yaml").key,
        ContentKey::Bootstrap(CHECKPOINT).to_bytes()
    );
    assert_eq!(
        item("finality_update.yaml").key,
        ContentKey::FinalityUpdate(10_248_384).to_bytes()
    );
    assert_eq!(
        item("optimistic_update.yaml").key,
        ContentKey::OptimisticUpdate(10_248_458).to_bytes()
    );
}

/// The execution block a header proves, as the test states it: number, hash, state root.
fn block(head: portal_state::beacon::ExecutionHead) -> (u64, B256, B256) {
    (head.number, head.hash, head.state_root)
}

#[test]
fn bootstrap_then_updates_then_finality_and_optimistic() {
    let spec = ChainSpec::mainnet();
    let v = vectors();
    let mut store = bootstrapped(&v);
    // Every head below comes out of `LightClientStore` only after its execution payload header
    // hashed, through `execution_branch`, to the body root of a beacon header that the sync
    // committee signed (or that a signed header finalized). `wrong_branches_are_refused` shows
    // that a changed block hash or state root fails that check.
    assert_eq!(store.finalized_header().beacon.slot, 10_248_000);
    assert_eq!(
        block(store.finalized_execution()),
        (
            21_037_711,
            b256!("77892a824c4687b6a9cd13ce1c977071ba9ce0fc3fb00bc06e48c3f2ccb82c4e"),
            b256!("56cf52a757ace16a0c32b63d6719fbe8d9171e1b4603888f3b21831ba539ca33")
        )
    );
    assert_eq!(store.finalized_period(), 1250);
    assert!(!store.is_next_sync_committee_known());

    // Period 1250's update: signed by committee 1250, brings committee 1251; its finalized
    // header is not newer than the checkpoint, so only the committee moves.
    let progress = store
        .process_update(&spec, &v.updates[0], NOW_SLOT)
        .unwrap();
    assert_eq!(
        progress,
        Progress {
            finalized: false,
            optimistic: false,
            next_committee: true
        }
    );
    assert!(store.is_next_sync_committee_known());
    assert_eq!(store.finalized_header().beacon.slot, 10_248_000);

    // Period 1251's update: signed by committee 1251 (learned just above), finalizes the first
    // slot of period 1251, so the committees rotate and committee 1252 is learned.
    let progress = store
        .process_update(&spec, &v.updates[1], NOW_SLOT)
        .unwrap();
    assert_eq!(
        progress,
        Progress {
            finalized: true,
            optimistic: true,
            next_committee: true
        }
    );
    assert_eq!(store.finalized_period(), 1251);
    assert_eq!(store.finalized_header().beacon.slot, 10_248_192);
    assert_eq!(
        block(store.finalized_execution()),
        (
            21_037_902,
            b256!("d65d67702ac98562fab3acfc519244bf7ee3e9e1d8bc7026ce613a67aca6e9f2"),
            b256!("d6bff70d43700cd6a7b309ce88e47c439d6b5fd0fc5b123185321a3b5b596567")
        )
    );
    assert_eq!(store.optimistic_header().beacon.slot, 10_248_263);
    assert_eq!(store.optimistic_execution().number, 21_037_972);

    // The finality update: finalized slot 10,248,384 (its content key), signed in period 1251.
    let progress = store.process_update(&spec, &v.finality, NOW_SLOT).unwrap();
    assert!(progress.finalized && !progress.next_committee);
    assert_eq!(store.finalized_header().beacon.slot, 10_248_384);
    assert_eq!(
        block(store.finalized_execution()),
        (
            21_038_093,
            b256!("4385bc35a5f2e2760f51c40626a63fe274c14bf9cccc5de739aff3e15432a293"),
            b256!("2421481ec437969ed4e6fee3e4dcbc25a3435313a2c0967255856db5fda3b2bf")
        )
    );

    // The optimistic update: signature slot 10,248,458 (its content key), attesting 10,248,457.
    let progress = store
        .process_update(&spec, &v.optimistic, NOW_SLOT)
        .unwrap();
    assert_eq!(
        progress,
        Progress {
            finalized: false,
            optimistic: true,
            next_committee: false
        }
    );
    assert_eq!(store.optimistic_header().beacon.slot, 10_248_457);
    assert_eq!(
        block(store.optimistic_execution()),
        (
            21_038_166,
            b256!("c3cfbb1a0e0d2453c0ce36254d9072417ff110439307aca408bb722cfcde45b4"),
            b256!("02bd3c9797347e73703257cbb08828b8dae5f2b2e3c553115484badc615424dc")
        )
    );
    assert_eq!(store.finalized_header().beacon.slot, 10_248_384);

    // Fed again: the period update is refused as not newer; the finality and optimistic
    // updates still attest a header newer than the finalized one, so they verify, but nothing
    // moves.
    let before = store.clone();
    assert!(matches!(
        store.process_update(&spec, &v.updates[1], NOW_SLOT),
        Err(LightClientError::NotNewer { .. })
    ));
    for update in [&v.finality, &v.optimistic] {
        assert_eq!(
            store.process_update(&spec, update, NOW_SLOT),
            Ok(Progress::default())
        );
    }
    assert_eq!(store, before);
}

/// Run `f` on a copy of the store and check it fails with `expected`, leaving it unchanged.
fn refused(
    store: &LightClientStore,
    update: &Update,
    matches: impl Fn(&LightClientError) -> bool,
) -> LightClientError {
    let mut copy = store.clone();
    let err = copy
        .process_update(&ChainSpec::mainnet(), update, NOW_SLOT)
        .unwrap_err();
    assert!(matches(&err), "unexpected error: {err:?}");
    assert_eq!(&copy, store, "the store changed after {err:?}");
    err
}

#[test]
fn a_flipped_signature_bit_is_refused() {
    let v = vectors();
    let store = bootstrapped(&v);
    for byte in [0usize, 20, 95] {
        let mut bad = v.updates[0].clone();
        let mut sig = bad.sync_aggregate.sync_committee_signature.to_vec();
        sig[byte] ^= 0x01;
        bad.sync_aggregate.sync_committee_signature = FixedVector::new(sig).unwrap();
        refused(&store, &bad, |e| {
            matches!(e, LightClientError::BadSignature)
        });
    }
}

#[test]
fn a_changed_participant_set_is_refused() {
    let v = vectors();
    let store = bootstrapped(&v);
    // One signer more or less than signed: the aggregate no longer matches.
    let mut bad = v.updates[0].clone();
    let bits = &mut bad.sync_aggregate.sync_committee_bits;
    let first = (0..512).find(|i| bits.get(*i).unwrap()).unwrap();
    bits.set(first, false).unwrap();
    refused(&store, &bad, |e| {
        matches!(e, LightClientError::BadSignature)
    });
}

#[test]
fn too_few_participants_are_refused() {
    let v = vectors();
    let store = bootstrapped(&v);
    let mut bad = v.updates[0].clone();
    for i in 0..512 {
        bad.sync_aggregate
            .sync_committee_bits
            .set(i, false)
            .unwrap();
    }
    refused(&store, &bad, |e| {
        matches!(
            e,
            LightClientError::TooFewParticipants {
                participants: 0,
                required: 1
            }
        )
    });
}

#[test]
fn wrong_branches_are_refused() {
    let v = vectors();
    let store = bootstrapped(&v);
    let flip = |branch: &mut Vec<B256>, i: usize| branch[i].0[0] ^= 0x80;

    let mut bad = v.updates[0].clone();
    flip(&mut bad.next_sync_committee_branch, 2);
    refused(&store, &bad, |e| {
        matches!(
            e,
            LightClientError::InvalidBranch {
                which: "next sync committee",
                ..
            }
        )
    });

    let mut bad = v.updates[0].clone();
    flip(&mut bad.finality_branch, 5);
    refused(&store, &bad, |e| {
        matches!(
            e,
            LightClientError::InvalidBranch {
                which: "finality",
                ..
            }
        )
    });

    // The execution payload header is what the branch proves: change its block hash (or state
    // root) and the header no longer verifies.
    let mut bad = v.updates[0].clone();
    bad.attested_header.execution.block_hash.0[31] ^= 1;
    refused(&store, &bad, |e| {
        matches!(
            e,
            LightClientError::InvalidBranch {
                which: "execution",
                ..
            }
        )
    });
    let mut bad = v.updates[0].clone();
    bad.attested_header.execution.state_root.0[0] ^= 1;
    refused(&store, &bad, |e| {
        matches!(
            e,
            LightClientError::InvalidBranch {
                which: "execution",
                ..
            }
        )
    });

    let spec = ChainSpec::mainnet();
    let mut bad = v.bootstrap.clone();
    flip(&mut bad.current_sync_committee_branch, 0);
    assert!(matches!(
        LightClientStore::bootstrap(&spec, CHECKPOINT, &bad),
        Err(LightClientError::InvalidBranch {
            which: "current sync committee",
            ..
        })
    ));
}

#[test]
fn an_update_for_a_period_the_store_cannot_verify_is_refused() {
    let v = vectors();
    let store = bootstrapped(&v);
    // Period 1251's update is signed by committee 1251, which only period 1250's update brings.
    let err = refused(&store, &v.updates[1], |e| {
        matches!(e, LightClientError::UnverifiablePeriod { .. })
    });
    assert_eq!(
        err,
        LightClientError::UnverifiablePeriod {
            signature_period: 1251,
            store_period: 1250,
            next_committee_known: false
        }
    );
}

#[test]
fn a_future_signature_is_refused() {
    let v = vectors();
    let store = bootstrapped(&v);
    let mut copy = store.clone();
    let err = copy
        .process_update(
            &ChainSpec::mainnet(),
            &v.updates[0],
            v.updates[0].signature_slot - 1,
        )
        .unwrap_err();
    assert!(matches!(err, LightClientError::BadSlots { .. }));
    assert_eq!(copy, store);
}

#[test]
fn a_bootstrap_that_is_not_the_checkpoint_is_refused() {
    let v = vectors();
    let other = b256!("0000000000000000000000000000000000000000000000000000000000000001");
    assert_eq!(
        LightClientStore::bootstrap(&ChainSpec::mainnet(), other, &v.bootstrap),
        Err(LightClientError::CheckpointMismatch {
            expected: other,
            got: CHECKPOINT
        })
    );
}

#[test]
fn objects_of_the_wrong_fork_are_refused() {
    let spec = ChainSpec::mainnet();
    let v = vectors();
    // The same Deneb bootstrap in Electra's format (branch normalized to depth 6, as the
    // Electra fork logic does) under Electra's digest: it decodes, but its slot is Deneb's.
    let mut branch = vec![B256::ZERO];
    branch.extend_from_slice(&v.bootstrap.current_sync_committee_branch);
    let electra = ElectraBootstrap {
        header: v.bootstrap.header.clone(),
        current_sync_committee: v.bootstrap.current_sync_committee.clone(),
        current_sync_committee_branch: FixedVector::new(branch).unwrap(),
    };
    let mut value = spec
        .fork_digest(spec.version_of(Fork::Electra).unwrap())
        .to_vec();
    value.extend_from_slice(&electra.as_ssz_bytes());
    assert_eq!(
        bootstrap_from_content(&spec, &value),
        Err(LightClientError::WrongFork {
            sent: Fork::Electra,
            actual: Fork::Deneb,
            slot: 10_248_000
        })
    );
    // Deneb bytes under Electra's digest do not even decode.
    let mut value = item("bootstrap.yaml").value;
    value[..4].copy_from_slice(&spec.fork_digest([5, 0, 0, 0]));
    assert!(matches!(
        bootstrap_from_content(&spec, &value),
        Err(LightClientError::Decode { .. })
    ));
    // A digest of no known fork (Capella's).
    value[..4].copy_from_slice(&spec.fork_digest([3, 0, 0, 0]));
    assert!(matches!(
        bootstrap_from_content(&spec, &value),
        Err(LightClientError::UnknownForkDigest(_))
    ));
    // A header from before Deneb.
    let mut bad = v.updates[0].clone();
    bad.attested_header.beacon.slot = 269_568 * 32 - 1;
    let store = bootstrapped(&v);
    refused(&store, &bad, |e| {
        matches!(e, LightClientError::UnsupportedFork { .. })
    });
}
