//! Shared by the beacon tests: the real mainnet Deneb light-client objects of portal-spec-tests
//! and a beacon REST API server (std `TcpListener`, one thread) serving them as JSON.
#![allow(dead_code)]

use alloy_primitives::{b256, hex, B256};
use portal_state::beacon::json::{bootstrap_to_json, update_to_json};
use portal_state::beacon::portal::{
    bootstrap_from_content, update_from_content, updates_from_content, UpdateKind,
};
use portal_state::beacon::types::{Bootstrap, Update};
use portal_state::beacon::ChainSpec;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

pub const DIR: &str = "tests/data/portal-spec-tests/tests/mainnet/beacon_chain/light_client/deneb";
pub const CHECKPOINT: B256 =
    b256!("33d75f8506929d950a6d9e43508e92e50a072a39978821900e3a2e261f80ddbf");
/// The optimistic update's execution block (see `tests/beacon_light_client.rs`).
pub const OPTIMISTIC_BLOCK: u64 = 21_038_166;
pub const OPTIMISTIC_STATE_ROOT: B256 =
    b256!("02bd3c9797347e73703257cbb08828b8dae5f2b2e3c553115484badc615424dc");
pub const FINALIZED_BLOCK: u64 = 21_038_093;

pub fn value(name: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(format!("{DIR}/{name}")).unwrap();
    let yaml: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    hex::decode(yaml["content_value"].as_str().unwrap()).unwrap()
}

pub struct Objects {
    /// The bootstrap at the checkpoint.
    pub bootstrap: Bootstrap,
    /// Periods 1250 and 1251.
    pub updates: Vec<Update>,
    /// The finality update.
    pub finality: Update,
    /// The optimistic update.
    pub optimistic: Update,
}

pub fn objects() -> Objects {
    let spec = ChainSpec::mainnet();
    Objects {
        bootstrap: bootstrap_from_content(&spec, &value("bootstrap.yaml")).unwrap(),
        updates: updates_from_content(&spec, &value("updates.yaml")).unwrap(),
        finality: update_from_content(&spec, UpdateKind::Finality, &value("finality_update.yaml"))
            .unwrap(),
        optimistic: update_from_content(
            &spec,
            UpdateKind::Optimistic,
            &value("optimistic_update.yaml"),
        )
        .unwrap(),
    }
}

/// A beacon API server on 127.0.0.1 serving `objects` as JSON. Counts requests and bytes sent.
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Requests answered.
    pub requests: Arc<AtomicU64>,
    /// Response bytes sent.
    pub bytes: Arc<AtomicU64>,
    /// While false, every request is answered `503 Service Unavailable` (a beacon node that
    /// is still syncing).
    pub open: Arc<AtomicBool>,
}

pub fn serve(objects: Objects) -> Server {
    let spec = ChainSpec::mainnet();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let bootstrap = bootstrap_to_json(&spec, &objects.bootstrap).to_string();
    let updates: Vec<(u64, Value)> = objects
        .updates
        .iter()
        .map(|u| {
            let period = u.attested_header.beacon.slot / 8192;
            (period, update_to_json(&spec, UpdateKind::Full, u))
        })
        .collect();
    let finality = update_to_json(&spec, UpdateKind::Finality, &objects.finality).to_string();
    let optimistic = update_to_json(&spec, UpdateKind::Optimistic, &objects.optimistic).to_string();
    let open = Arc::new(AtomicBool::new(true));
    let (counted_requests, counted_bytes, is_open) =
        (requests.clone(), bytes.clone(), open.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            // Keep-alive: answer requests on this connection until it closes.
            loop {
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                    break;
                }
                let mut content_length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        content_length = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; content_length];
                let _ = reader.read_exact(&mut body);
                let path = request_line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("")
                    .to_string();
                let (status, text) = if !is_open.load(Ordering::Relaxed) {
                    ("503 Service Unavailable", r#"{"code":503}"#.to_string())
                } else if path == format!("/eth/v1/beacon/light_client/bootstrap/{CHECKPOINT:#x}") {
                    ("200 OK", bootstrap.clone())
                } else if let Some(query) =
                    path.strip_prefix("/eth/v1/beacon/light_client/updates?")
                {
                    let param = |name: &str| -> u64 {
                        query
                            .split('&')
                            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(0)
                    };
                    let (start, count) = (param("start_period"), param("count"));
                    let list: Vec<Value> = updates
                        .iter()
                        .filter(|(p, _)| *p >= start && *p < start.saturating_add(count))
                        .map(|(_, u)| u.clone())
                        .collect();
                    ("200 OK", Value::Array(list).to_string())
                } else if path == "/eth/v1/beacon/light_client/finality_update" {
                    ("200 OK", finality.clone())
                } else if path == "/eth/v1/beacon/light_client/optimistic_update" {
                    ("200 OK", optimistic.clone())
                } else {
                    (
                        "404 Not Found",
                        r#"{"code":404,"message":"not found"}"#.to_string(),
                    )
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{text}",
                    text.len()
                );
                counted_requests.fetch_add(1, Ordering::Relaxed);
                counted_bytes.fetch_add(response.len() as u64, Ordering::Relaxed);
                if stream.write_all(response.as_bytes()).is_err() {
                    break;
                }
            }
        }
    });
    Server {
        url,
        requests,
        bytes,
        open,
    }
}
