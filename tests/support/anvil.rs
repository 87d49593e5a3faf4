//! A real execution client for the tests: anvil (and its companion cast), from the npm packages
//! Foundry publishes, installed by `scripts/install-test-deps.sh` (`PORTAL_STATE_ANVIL`,
//! `PORTAL_STATE_CAST`). Without them the tests fail, never skip.

use super::{tool, wait_for};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// anvil's first dev accounts and their well-known keys (funded with 10,000 ether, unlocked).
pub const DEV_ACCOUNTS: [(&str, &str); 3] = [
    (
        "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
        "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    ),
    (
        "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
        "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    ),
    (
        "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
        "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    ),
];

/// A free TCP port on 127.0.0.1 (free when asked: another process may take it after).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running anvil on 127.0.0.1, killed when dropped.
pub struct Anvil {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its JSON-RPC URL, `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Anvil {
    /// Starts anvil on a free port with `extra` arguments (e.g. `--init genesis.json`) and
    /// returns once it answers JSON-RPC.
    pub fn start(extra: &[&str]) -> Anvil {
        Anvil::start_on(free_port(), extra)
    }

    /// Starts anvil on `port` (a restart on the port a bridge already follows).
    pub fn start_on(port: u16, extra: &[&str]) -> Anvil {
        let child = Command::new(tool("PORTAL_STATE_ANVIL"))
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--silent",
            ])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("anvil starts");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let anvil = Anvil {
            child,
            addr,
            url: format!("http://{addr}"),
        };
        wait_for(
            "anvil to answer eth_blockNumber",
            Duration::from_secs(60),
            || block_number_answer(addr).then_some(()),
        );
        anvil
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Runs `cast SUBCOMMAND --rpc-url URL ARGS…` against it; its trimmed stdout (panics if cast
    /// fails).
    pub fn cast(&self, args: &[&str]) -> String {
        cast(&self.url, args)
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether a JSON-RPC `eth_blockNumber` on `addr` gets a result.
fn block_number_answer(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}"#;
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.contains("\"result\"")
}

/// Runs `cast SUBCOMMAND --rpc-url URL ARGS…` (options before the positional arguments:
/// `send --create` takes all that follows); its trimmed stdout. Panics if cast fails.
pub fn cast(url: &str, args: &[&str]) -> String {
    let mut full = vec![args[0], "--rpc-url", url];
    full.extend_from_slice(&args[1..]);
    try_cast(&full).unwrap_or_else(|e| panic!("cast {args:?}: {e}"))
}

/// Deploys `init_code` from the unlocked account `from` with `cast send --create`; the new
/// contract's address.
pub fn deploy(url: &str, from: &str, init_code: &str) -> String {
    let receipt: serde_json::Value = serde_json::from_str(&cast(
        url,
        &[
            "send",
            "--unlocked",
            "--from",
            from,
            "--json",
            "--create",
            init_code,
        ],
    ))
    .expect("cast prints the receipt as JSON");
    receipt["contractAddress"]
        .as_str()
        .expect("the receipt names the contract")
        .to_string()
}

/// Runs cast with exactly `args`: its trimmed stdout, or its stderr when it fails.
pub fn try_cast(args: &[&str]) -> Result<String, String> {
    let output = Command::new(tool("PORTAL_STATE_CAST"))
        .args(args)
        .output()
        .expect("cast runs");
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).to_string())
    }
}
