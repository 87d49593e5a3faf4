//! The beacon light client over real HTTP: a local server (std `TcpListener`, one thread)
//! serves the real mainnet Deneb objects of portal-spec-tests in the beacon REST API's JSON; the
//! REST source fetches them and the store verifies them; a `Node` with a checkpoint and that
//! source trusts the resulting execution heads with no `update_head` call, keeps its light-client
//! state in its SQLite file and resumes from it after a restart, with no source at all.

use alloy_primitives::{b256, Address};
use portal_state::beacon::rest::RestSource;
use portal_state::beacon::{ChainSpec, LightClient, LightClientError, LightClientSource};
use portal_state::client::BlockId;
use portal_state::node::{Config, LightClientConfig, Node, NodeError};
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::support::beacon_data;

use beacon_data::*;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// A wall-clock slot after every signature in the vectors.
const NOW_SLOT: u64 = 10_250_000;

#[test]
fn the_rest_source_brings_a_checkpoint_to_the_vectors_heads_over_http() {
    let server = serve(objects());
    let spec = ChainSpec::mainnet();
    let source = RestSource::new(spec.clone(), &server.url, Duration::from_secs(10)).unwrap();
    let mut light_client = LightClient::new(spec, CHECKPOINT);
    let runtime = runtime();
    // Printed for BENCHMARKS.md, never asserted.
    let started = std::time::Instant::now();
    let progress = runtime
        .block_on(light_client.sync(&source, NOW_SLOT))
        .unwrap();
    let took = started.elapsed();
    assert!(progress.finalized && progress.optimistic && progress.next_committee);
    let (finalized, optimistic) = light_client.heads().unwrap();
    assert_eq!(finalized.number, FINALIZED_BLOCK);
    assert_eq!(
        (optimistic.number, optimistic.state_root),
        (OPTIMISTIC_BLOCK, OPTIMISTIC_STATE_ROOT)
    );
    assert_eq!(light_client.store().unwrap().finalized_period(), 1251);
    // Bootstrap, the updates from period 1250 (both periods: the clock is in 1251 and the
    // store now knows committee 1252, so there is nothing more to ask for), finality, optimistic.
    let requests = server.requests.load(Ordering::Relaxed);
    let bytes = server.bytes.load(Ordering::Relaxed);
    println!(
        "RESULT checkpoint to head over REST/JSON: {requests} requests, {bytes} bytes, {:.1} ms",
        took.as_secs_f64() * 1e3
    );
    assert_eq!(requests, 4);
}

#[test]
fn a_source_that_lies_is_an_error_and_moves_nothing() {
    let mut lying = objects();
    // Flip one bit of the first period's signature: everything after the bootstrap is unusable.
    let mut sig = lying.updates[0]
        .sync_aggregate
        .sync_committee_signature
        .to_vec();
    sig[7] ^= 0x04;
    lying.updates[0].sync_aggregate.sync_committee_signature =
        ssz_types::FixedVector::new(sig).unwrap();
    let server = serve(lying);
    let spec = ChainSpec::mainnet();
    let source = RestSource::new(spec.clone(), &server.url, Duration::from_secs(10)).unwrap();
    let mut light_client = LightClient::new(spec, CHECKPOINT);
    let err = runtime()
        .block_on(light_client.sync(&source, NOW_SLOT))
        .unwrap_err();
    assert_eq!(err, LightClientError::BadSignature);
    // The bootstrap verified and stays; nothing past it.
    let (finalized, optimistic) = light_client.heads().unwrap();
    assert_eq!((finalized.slot, optimistic.slot), (10_248_000, 10_248_000));
    assert!(!light_client.store().unwrap().is_next_sync_committee_known());
}

#[test]
fn a_source_without_the_checkpoint_or_a_bad_url_is_a_clear_error() {
    let server = serve(objects());
    let spec = ChainSpec::mainnet();
    let source = RestSource::new(spec.clone(), &server.url, Duration::from_secs(10)).unwrap();
    let other = b256!("00000000000000000000000000000000000000000000000000000000000000aa");
    let mut light_client = LightClient::new(spec.clone(), other);
    let err = runtime()
        .block_on(light_client.sync(&source, NOW_SLOT))
        .unwrap_err();
    assert!(
        matches!(&err, LightClientError::Source { reason, .. } if reason.starts_with("HTTP 404")),
        "{err:?}"
    );
    assert!(light_client.heads().is_none());
    for url in ["ftp://x", "http://", "localhost:5052"] {
        assert!(matches!(
            RestSource::new(spec.clone(), url, Duration::from_secs(1)),
            Err(LightClientError::Source { .. })
        ));
    }
    assert_eq!(source.name(), server.url);
}

fn node_config(dir: &std::path::Path) -> Config {
    Config {
        data_dir: dir.to_path_buf(),
        storage_capacity_bytes: 0,
        worker_threads: 1,
        ..Config::default()
    }
}

/// Wait (bounded) until the node trusts `block`.
fn wait_for_head(node: &Node, block: u64) {
    for _ in 0..600 {
        if node.status().unwrap().newest_block == Some(block) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no head {block}: {:?}", node.status().unwrap().light_client);
}

#[test]
fn a_node_with_a_checkpoint_and_a_source_trusts_heads_and_resumes_after_a_restart() {
    let server = serve(objects());
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(node_config(dir.path())).unwrap();
    let weth: Address = "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"
        .parse()
        .unwrap();
    assert_eq!(
        node.query_account(weth, BlockId::Latest),
        Err(NodeError::NoTrustedHeader)
    );
    assert!(matches!(
        node.start_light_client(LightClientConfig::default()),
        Err(NodeError::InvalidInput { .. })
    ));
    node.start_light_client(LightClientConfig {
        checkpoint: Some(CHECKPOINT),
        beacon_api_urls: vec![server.url.clone()],
        ..LightClientConfig::default()
    })
    .unwrap();
    wait_for_head(&node, OPTIMISTIC_BLOCK);
    let status = node.status().unwrap().light_client.unwrap();
    assert_eq!(status.checkpoint, CHECKPOINT);
    assert_eq!(status.finalized_slot, Some(10_248_384));
    assert_eq!(status.optimistic_slot, Some(10_248_457));
    assert_eq!(status.finalized_block, Some(FINALIZED_BLOCK));
    assert_eq!(status.optimistic_block, Some(OPTIMISTIC_BLOCK));
    assert_eq!(status.last_error, None);
    assert!(matches!(
        node.start_light_client(LightClientConfig::default()),
        Err(NodeError::InvalidInput { .. })
    ));

    // No `update_head` was called, yet a query is now about the light client's block: this
    // node has no peers holding mainnet state at that root, so the answer is "not found at
    // block 21,038,166" (and never an unverified value), where before it was "no trusted
    // header".
    match node.query_account(weth, BlockId::Latest) {
        Err(NodeError::NotFound { what }) => {
            assert!(what.contains(&OPTIMISTIC_BLOCK.to_string()), "{what}")
        }
        other => panic!("{other:?}"),
    }
    node.stop().unwrap();

    // Restarted with no checkpoint and no source: the saved state's heads are trusted at once.
    let node = Node::start(node_config(dir.path())).unwrap();
    assert_eq!(node.status().unwrap().newest_block, None);
    node.start_light_client(LightClientConfig::default())
        .unwrap();
    let status = node.status().unwrap();
    assert_eq!(status.newest_block, Some(OPTIMISTIC_BLOCK));
    let light = status.light_client.unwrap();
    assert_eq!(light.checkpoint, CHECKPOINT);
    assert_eq!(light.finalized_block, Some(FINALIZED_BLOCK));
    node.stop().unwrap();
}

/// The same through the C API: `portal_state_node_start_light_client`, then the heads in
/// `portal_state_node_status`; a malformed checkpoint is `InvalidInput` with a message.
#[test]
fn the_c_api_starts_the_light_client() {
    use portal_state::ffi::*;
    use std::ffi::{CStr, CString};
    let server = serve(objects());
    let dir = tempfile::tempdir().unwrap();
    let data_dir = CString::new(dir.path().to_str().unwrap()).unwrap();
    let mut config = std::mem::MaybeUninit::<PortalStateConfig>::uninit();
    assert_eq!(
        portal_state_config_default(config.as_mut_ptr()),
        PortalStateError::Ok
    );
    // SAFETY: filled by portal_state_config_default just above.
    let mut config = unsafe { config.assume_init() };
    config.data_dir = data_dir.as_ptr();
    config.storage_capacity_bytes = 0;
    let mut node: *mut PortalStateNode = std::ptr::null_mut();
    assert_eq!(
        portal_state_node_start(&config, &mut node),
        PortalStateError::Ok
    );

    let url = CString::new(server.url.clone()).unwrap();
    let urls = [url.as_ptr()];
    let bad = CString::new("0x1234").unwrap();
    assert_eq!(
        portal_state_node_start_light_client(node, bad.as_ptr(), urls.as_ptr(), 1),
        PortalStateError::InvalidInput
    );
    // SAFETY: the library's thread-local message, valid until the next call on this thread.
    let message = unsafe { CStr::from_ptr(portal_state_last_error_message()) };
    assert!(!message.to_bytes().is_empty());

    let checkpoint = CString::new(format!("{CHECKPOINT:#x}")).unwrap();
    assert_eq!(
        portal_state_node_start_light_client(node, checkpoint.as_ptr(), urls.as_ptr(), 1),
        PortalStateError::Ok
    );
    let mut newest = None;
    for _ in 0..600 {
        let mut status = std::mem::MaybeUninit::<PortalStateStatus>::uninit();
        assert_eq!(
            portal_state_node_status(node, status.as_mut_ptr()),
            PortalStateError::Ok
        );
        // SAFETY: filled by portal_state_node_status; freed right after reading.
        let mut status = unsafe { status.assume_init() };
        newest = status.has_newest_block.then_some(status.newest_block);
        portal_state_status_free(&mut status);
        if newest == Some(OPTIMISTIC_BLOCK) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(newest, Some(OPTIMISTIC_BLOCK));
    assert_eq!(portal_state_node_stop(node), PortalStateError::Ok);
    // SAFETY: the handle from portal_state_node_start, freed once.
    unsafe { portal_state_node_free(node) };
}
