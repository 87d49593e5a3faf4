//! `portal-state node --checkpoint … --beacon-api URL`: the CLI's node follows a beacon REST API
//! (a local server serving the real mainnet Deneb objects) and its JSON-RPC answers from the
//! heads the light client proved: `eth_blockNumber`, and `eth_getBlockByNumber` with the fields
//! the proof covers (`latest` the optimistic head, `safe` and `finalized` the finalized one);
//! `eth_call` at such a head is a clear error.

use crate::support::beacon_data;
use crate::support::cli;

use beacon_data::*;
use cli::*;
use serde_json::json;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_portal-state");

#[test]
fn the_node_command_trusts_the_light_clients_heads_and_serves_them() {
    let server = serve(objects());
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap().to_string();
    let checkpoint = format!("{CHECKPOINT:#x}");
    let mut node = Process::spawn(
        BIN,
        &[
            "node",
            "--data-dir",
            &data_dir,
            "--listen",
            "127.0.0.1:0",
            "--capacity-mib",
            "0",
            "--checkpoint",
            &checkpoint,
            "--beacon-api",
            &server.url,
            "--rpc-port",
            "0",
            "--exit-after",
            "120",
        ],
    );
    let line = node.wait_for_line("JSON-RPC: serving on http://", Duration::from_secs(60));
    let addr = line
        .rsplit("http://")
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mut rpc = Rpc::connect(addr);
    let mut number = json!(null);
    for _ in 0..600 {
        let answer = rpc.call_raw("eth_blockNumber", json!([]));
        if answer["result"] == json!(format!("{OPTIMISTIC_BLOCK:#x}")) {
            number = answer["result"].clone();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(number, json!(format!("{OPTIMISTIC_BLOCK:#x}")));

    let block = rpc.call("eth_getBlockByNumber", json!(["latest", false]));
    assert_eq!(block["number"], json!(format!("{OPTIMISTIC_BLOCK:#x}")));
    assert_eq!(
        block["stateRoot"],
        json!(format!("{OPTIMISTIC_STATE_ROOT:#x}"))
    );
    assert_eq!(
        block["hash"],
        json!("0xc3cfbb1a0e0d2453c0ce36254d9072417ff110439307aca408bb722cfcde45b4")
    );
    // The finalized head is trusted too, by number.
    let finalized = rpc.call(
        "eth_getBlockByNumber",
        json!([format!("{FINALIZED_BLOCK:#x}"), false]),
    );
    assert_eq!(finalized["number"], json!(format!("{FINALIZED_BLOCK:#x}")));
    // `finalized` and `safe` name the light client's finalized block, `latest` its optimistic
    // one (above).
    for tag in ["finalized", "safe"] {
        // The follower names its finalized head a moment after it trusts the header.
        let mut block = json!(null);
        for _ in 0..600 {
            block = rpc.call("eth_getBlockByNumber", json!([tag, false]));
            if !block.is_null() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(
            block["number"],
            json!(format!("{FINALIZED_BLOCK:#x}")),
            "{tag}"
        );
        assert_eq!(block["hash"], finalized["hash"], "{tag}");
    }
    // A state method at `finalized` asks about that block: no peer here holds mainnet
    // state, so it is not found there (never an answer from another block).
    let (code, message) = rpc.call_err(
        "eth_getBalance",
        json!(["0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2", "finalized"]),
    );
    assert_eq!(code, -32002, "{message}");
    assert!(message.contains(&FINALIZED_BLOCK.to_string()), "{message}");

    // A call at the light client's block: its block environment (coinbase, gas limit, base
    // fee, RANDAO) is not proven, so the call is refused before any state is fetched. (At
    // `latest` the called account is looked up first; with no mainnet state on this machine
    // that is "not found", -32002.)
    let (code, message) = rpc.call_err(
        "eth_call",
        json!([
            {"to": "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2", "data": "0x313ce567"},
            format!("{OPTIMISTIC_BLOCK:#x}")
        ]),
    );
    assert_eq!(code, -32003, "{message}");
    assert!(message.contains("beacon light client"), "{message}");
}
