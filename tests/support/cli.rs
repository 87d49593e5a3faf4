//! Shared by the CLI tests and the devnet benchmark: the real `portal-state` binary run as a
//! child process, and a small HTTP/1.1 JSON-RPC client (keep-alive, one connection) to talk to
//! it the way wallets and tools do.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub use super::repo_file;

/// The genesis header RLP of `network` as 0x-hex, from `data/genesis/genesis-headers.yaml`.
pub fn genesis_header_hex(network: &str) -> String {
    let text = std::fs::read_to_string(repo_file("data/genesis/genesis-headers.yaml")).unwrap();
    let mut in_entry = false;
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix("- network:") {
            in_entry = name.trim() == network;
        } else if in_entry {
            if let Some(rlp) = line.strip_prefix("header_rlp:") {
                return rlp.trim().trim_matches('\'').to_string();
            }
        }
    }
    panic!("no header for {network}");
}

/// A running `portal-state` process; killed when dropped, so a failing test leaves nothing
/// behind.
pub struct Process {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// Every stdout line seen so far.
    pub seen: Vec<String>,
}

impl Process {
    /// Start the binary at `binary` with `args`; stdout is read line by line, stderr passed
    /// through to the test's output.
    pub fn spawn(binary: &str, args: &[&str]) -> Process {
        let mut child = Command::new(binary)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {binary}: {e}"));
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Process {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Wait for a stdout line containing `needle`; the line. Panics with the output so far when
    /// the process exits or `limit` passes first.
    pub fn wait_for_line(&mut self, needle: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    println!("[portal-state] {line}");
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!(
                        "no line with {needle:?} within {limit:?}; output:\n{}",
                        self.seen.join("\n")
                    )
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().ok();
                    panic!(
                        "process ended ({status:?}) before printing {needle:?}; output:\n{}",
                        self.seen.join("\n")
                    )
                }
            }
        }
    }

    /// Start a devnet (`devnet --rpc-port 0 …extra`) and wait until it serves JSON-RPC; the
    /// process and the endpoint's address.
    pub fn devnet(binary: &str, extra: &[&str], limit: Duration) -> (Process, SocketAddr) {
        let mut args = vec!["devnet", "--rpc-port", "0"];
        args.extend_from_slice(extra);
        let mut process = Process::spawn(binary, &args);
        let line = process.wait_for_line("JSON-RPC: serving on http://", limit);
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        (process, addr)
    }

    /// The bootnode ENR a devnet printed.
    pub fn bootnode(&self) -> String {
        self.seen
            .iter()
            .find_map(|l| l.split("bootnode ").nth(1))
            .map(|enr| enr.trim().to_string())
            .expect("the devnet printed its bootnode")
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Wait for the process to exit, at most `limit`; its exit status.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            // Drain output so the child never blocks on a full pipe.
            while let Ok(line) = self.lines.try_recv() {
                println!("[portal-state] {line}");
                self.seen.push(line);
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A JSON-RPC client over one kept-alive HTTP/1.1 connection.
pub struct Rpc {
    addr: SocketAddr,
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    next_id: u64,
}

impl Rpc {
    /// Connect to `addr`.
    pub fn connect(addr: SocketAddr) -> Rpc {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_nodelay(true).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        Rpc {
            addr,
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
            next_id: 1,
        }
    }

    /// POST `body`; the HTTP status and the body.
    pub fn post_raw(&mut self, body: &[u8]) -> (u16, Vec<u8>) {
        let head = format!(
            "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        );
        self.writer.write_all(head.as_bytes()).unwrap();
        self.writer.write_all(body).unwrap();
        let mut status_line = String::new();
        self.reader.read_line(&mut status_line).unwrap();
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap();
                }
            }
        }
        let mut body = vec![0u8; length];
        self.reader.read_exact(&mut body).unwrap();
        (status, body)
    }

    /// Send a request object (or a batch) and parse the answer.
    pub fn send(&mut self, request: &Value) -> Value {
        let (status, body) = self.post_raw(request.to_string().as_bytes());
        assert!(status == 200 || status >= 400, "HTTP {status}");
        serde_json::from_slice(&body).unwrap_or_else(|e| {
            panic!(
                "answer is not JSON ({e}): {}",
                String::from_utf8_lossy(&body)
            )
        })
    }

    /// Call `method` with `params`; the whole response object.
    pub fn call_raw(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let response =
            self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        assert_eq!(response["jsonrpc"], "2.0");
        assert_eq!(response["id"], id, "response id");
        response
    }

    /// Polls `eth_blockNumber` until it is `head` (a quantity as JSON-RPC gives it), for at
    /// most a minute: the block is trusted once its push is done.
    pub fn wait_for_block(&mut self, head: &Value) {
        super::wait_for(
            &format!("the node to reach block {head}"),
            Duration::from_secs(60),
            || (self.call("eth_blockNumber", json!([])) == *head).then_some(()),
        );
    }

    /// Call `method`; its result, panicking on an error answer.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let response = self.call_raw(method, params.clone());
        assert!(
            response.get("error").is_none(),
            "{method}({params}) failed: {response}"
        );
        response["result"].clone()
    }

    /// Call `method`, expecting an error; its code and message.
    pub fn call_err(&mut self, method: &str, params: Value) -> (i64, String) {
        let response = self.call_raw(method, params.clone());
        let error = response
            .get("error")
            .unwrap_or_else(|| panic!("{method}({params}) did not fail: {response}"));
        (
            error["code"].as_i64().unwrap(),
            error["message"].as_str().unwrap().to_string(),
        )
    }
}
