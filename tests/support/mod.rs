//! The test harness every test program shares: files of the repository, local networks of real
//! nodes, the CLI and its JSON-RPC, a real execution client (anvil, cast), hostile peers, the
//! beacon REST server of real mainnet objects, the proof vectors, and waiting on counters
//! instead of sleeping.
//!
//! Each program (`tests/offline`, `tests/network`, `tests/cli`) declares this module once; its
//! parts are used by some programs and not others.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub mod anvil;
pub mod anvil_devnet;
pub mod beacon_data;
pub mod calls;
pub mod cli;
pub mod hostile;
pub mod nodes;
pub mod vectors;

/// A file of the repository.
pub fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// The path a test dependency's variable names (set by `scripts/install-test-deps.sh`, which
/// `scripts/test.sh` evals). The tests fail, never skip, without it.
pub fn tool(variable: &str) -> PathBuf {
    match std::env::var_os(variable) {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => panic!(
            "{variable} is not set: run the tests with ./scripts/test.sh, or \
             eval \"$(./scripts/install-test-deps.sh)\" and export {variable}"
        ),
    }
}

/// Polls `probe` until it returns `Some`, for at most `limit`; panics with `what` after that.
/// The limit only keeps a broken build from hanging: nothing asserts how fast anything is.
pub fn wait_for<T>(what: &str, limit: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Waits until `counts` returns the same value `quiet` polls in a row (the system has settled:
/// nothing is in flight any more), for at most `limit`, and returns that value.
pub async fn settled<T: PartialEq + Clone>(
    what: &str,
    limit: Duration,
    quiet: usize,
    mut counts: impl FnMut() -> T,
) -> T {
    let deadline = tokio::time::Instant::now() + limit;
    let mut last = counts();
    let mut same = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = counts();
        if now == last {
            same += 1;
            if same >= quiet {
                return now;
            }
        } else {
            same = 0;
            last = now;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what} to settle"
        );
    }
}
