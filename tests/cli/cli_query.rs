//! `portal-state query`: one-shot verified answers from a devnet started by the test, and a
//! non-zero exit code when there is no answer or the input is bad.

use crate::support::cli;

use cli::*;
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_portal-state");
const DEPOSIT: &str = "0x4242424242424242424242424242424242424242";

#[test]
fn query_prints_verified_answers_and_fails_without_one() {
    let (mut devnet, _) = Process::devnet(
        BIN,
        &["--chain", "holesky", "--nodes", "4", "--exit-after", "600"],
        Duration::from_secs(300),
    );
    let bootnode = devnet.bootnode();
    let header = genesis_header_hex("holesky");
    let query = |args: &[&str]| {
        let mut all = vec![
            "query",
            "--bootnode",
            &bootnode,
            "--trusted-header",
            &header,
            "--chain-id",
            "17000",
        ];
        all.extend_from_slice(args);
        Command::new(BIN).args(&all).output().unwrap()
    };
    let stdout = |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).to_string();

    // An account, as text: balance and the block it is true at.
    let out = query(&["account", "0x0000006916a87b82333f4245046623b23794c65c"]);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert!(
        text.contains("balance      100000000000000000000000000 wei"),
        "{text}"
    );
    assert!(
        text.contains(
            "at block 0 (0xb5f7f912443c940f21fd611f12828d75b534364ed9e95ca4e307729a4661bde4)"
        ),
        "{text}"
    );

    // Storage and code, as JSON.
    let out = query(&["storage", DEPOSIT, "0x22", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let answer: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(
        answer["value"],
        "0xf5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a92759fb4b"
    );
    assert_eq!(answer["block"]["number"], 0);
    let out = query(&["code", DEPOSIT, "--json", "--block", "0"]);
    assert!(out.status.success(), "{out:?}");
    let answer: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(answer["size"], 6358);

    // Proven absent.
    let out = query(&["account", "0x7777777777777777777777777777777777777777"]);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout(&out).contains("absent (proven)"));

    // Bad input: exit code 2 (usage), a message naming the problem.
    let out = query(&["account", "0x1234"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("0x1234"));
    // The rules of `portal_state::input`, as at the app API and the JSON-RPC server: a
    // mixed-case address with a wrong EIP-55 checksum, and a decimal slot, are refused.
    let out = query(&["account", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("checksum"));
    let out = query(&["storage", DEPOSIT, "34"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("0x"));
    // No verified answer (a block that is not trusted): exit code 1.
    let out = query(&["account", DEPOSIT, "--block", "5"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a trusted block"));
    // No trusted header at all: exit code 1.
    let out = Command::new(BIN)
        .args([
            "query",
            "--bootnode",
            &bootnode,
            "--chain-id",
            "17000",
            "account",
            DEPOSIT,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no trusted block header"));

    // The devnet stops cleanly on SIGTERM, exit code 0.
    let killed = Command::new("kill")
        .args(["-TERM", &devnet.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = devnet
        .wait_exit(Duration::from_secs(30))
        .expect("devnet stops on SIGTERM");
    assert!(status.success(), "{status:?}");
}
