//! `portal-state bridge`: the binary joins a running network and pushes a genesis file into it.
use crate::support::nodes;

use nodes::*;
use portal_state::bridge::genesis_content;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bridge_subcommand_pushes_a_genesis_into_a_running_network() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = start_network(dir.path(), 4, 50_000_000).await;
    trust_everywhere(&nodes, &genesis_header_rlp("holesky"));
    let genesis = repo_file("data/genesis/holesky.json");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_portal-state"));
    command
        .args(["bridge", "--genesis"])
        .arg(&genesis)
        .args(["--bootnode", &nodes[0].enr().to_base64(), "--data-dir"])
        .arg(dir.path().join("bridge"));
    // The nodes run on this runtime: wait for the child on a blocking thread.
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let content = genesis_content(&std::fs::read_to_string(&genesis).unwrap()).unwrap();
    assert!(
        stdout.contains(&format!("pushed {} items", content.items.len())),
        "{stdout}"
    );
    assert!(stdout.contains(", 0 unplaced"), "{stdout}");
    // Every item is on some node.
    let stored = eventually(std::time::Duration::from_secs(10), || {
        content.items.iter().all(|item| {
            nodes.iter().any(|n| {
                n.overlay()
                    .with_store(|s| s.contains(item.key()).unwrap_or(false))
                    .unwrap_or(false)
            })
        })
    })
    .await;
    assert!(stored, "every pushed item is stored on a node");
    // No bootnode: a clear usage error, no panic.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_portal-state"))
        .args(["bridge", "--genesis"])
        .arg(&genesis)
        .args(["--data-dir"])
        .arg(dir.path().join("bridge2"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    for node in nodes {
        node.stop().await;
    }
}
