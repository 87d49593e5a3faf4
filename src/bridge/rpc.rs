//! A small JSON-RPC client of an execution client, over HTTP (HTTPS with the `https` feature).
//!
//! It speaks the few methods a bridge needs and turns each answer into checked data: headers
//! rebuilt and hash-checked ([`ExecutionHeader::rebuild`]), state diffs from the prestate
//! tracer, `eth_getProof` results parsed strictly. Requests are blocking `ureq` calls run on
//! tokio's blocking pool: a bridge makes a few dozen calls a block, which does not justify an
//! async HTTP stack (hyper and its dependencies cost far more compile time than ureq).

use super::header::ExecutionHeader;
use super::json::{self, optional};
use super::proofs::AccountProof;
use super::BridgeError;
use crate::proof::BlockHeader;
use alloy_primitives::{Address, Bytes, B256, U256};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Largest JSON-RPC answer read: the trace of a full mainnet block is a few MB.
const MAX_RESPONSE_BYTES: u64 = 256 * 1024 * 1024;

/// Which block to ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockTag {
    /// The client's newest block.
    Latest,
    /// A block by number.
    Number(u64),
}

impl BlockTag {
    fn param(self) -> Value {
        match self {
            BlockTag::Latest => json!("latest"),
            BlockTag::Number(n) => json!(format!("{n:#x}")),
        }
    }
}

/// What one block changed, from `debug_traceBlockByNumber` with the prestate tracer in diff
/// mode: every account created, modified or deleted, with the storage slots written or
/// cleared.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateChanges {
    /// Changed accounts and their changed slots.
    pub accounts: BTreeMap<Address, BTreeSet<U256>>,
    /// Accounts whose code was set in this block (contract creations).
    pub new_code: BTreeSet<Address>,
}

impl StateChanges {
    /// Mark `address` changed (with no slot yet).
    pub fn touch(&mut self, address: Address) {
        self.accounts.entry(address).or_default();
    }

    /// Read the answer of `debug_traceBlockByNumber` with
    /// `{"tracer":"prestateTracer","tracerConfig":{"diffMode":true}}`: one entry per
    /// transaction, `{txHash, result: {pre, post}}` (or `{pre, post}` directly).
    pub fn from_prestate_diff(trace: &Value) -> Result<Self, BridgeError> {
        let mut changes = StateChanges::default();
        let what = "debug_traceBlockByNumber";
        for (i, tx) in json::array(trace, what)?.iter().enumerate() {
            let w = format!("{what}[{i}]");
            if let Some(err) = optional(tx, "error") {
                return Err(BridgeError::json(w, format!("trace failed: {err}")));
            }
            let result = optional(tx, "result").unwrap_or(tx);
            for side in ["pre", "post"] {
                let Some(accounts) = optional(result, side) else {
                    continue;
                };
                let accounts = accounts.as_object().ok_or_else(|| {
                    BridgeError::json(format!("{w}.{side}"), "expected an object")
                })?;
                for (addr, state) in accounts {
                    let aw = format!("{w}.{side}[{addr}]");
                    let address = json::address(&Value::String(addr.clone()), &aw)?;
                    let slots = changes.accounts.entry(address).or_default();
                    if let Some(storage) = optional(state, "storage") {
                        let storage = storage.as_object().ok_or_else(|| {
                            BridgeError::json(format!("{aw}.storage"), "expected an object")
                        })?;
                        for slot in storage.keys() {
                            slots.insert(json::u256(
                                &Value::String(slot.clone()),
                                &format!("{aw}.storage"),
                            )?);
                        }
                    }
                    let has_code = optional(state, "code")
                        .and_then(Value::as_str)
                        .is_some_and(|c| c != "0x" && !c.is_empty());
                    if side == "post" && has_code {
                        changes.new_code.insert(address);
                    }
                }
            }
        }
        Ok(changes)
    }
}

/// A JSON-RPC client of one execution client.
#[derive(Clone)]
pub struct ExecutionClient {
    url: String,
    agent: ureq::Agent,
    next_id: Arc<AtomicU64>,
}

impl std::fmt::Debug for ExecutionClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecutionClient")
            .field("url", &self.url)
            .finish()
    }
}

impl ExecutionClient {
    /// A client of the execution client at `url` (`http://…`, or `https://…` when built with
    /// the `https` feature), with a 30 s deadline per request.
    pub fn new(url: &str) -> Result<Self, BridgeError> {
        Self::with_timeout(url, Duration::from_secs(30))
    }

    /// A client with a deadline of `timeout` per request.
    pub fn with_timeout(url: &str, timeout: Duration) -> Result<Self, BridgeError> {
        let bad = |reason: &str| BridgeError::BadUrl {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let rest = if let Some(rest) = url.strip_prefix("http://") {
            rest
        } else if let Some(rest) = url.strip_prefix("https://") {
            if !cfg!(feature = "https") {
                return Err(bad("https needs the `https` cargo feature"));
            }
            rest
        } else {
            return Err(bad("expected http://HOST:PORT or https://HOST:PORT"));
        };
        let host = rest.split(['/', '?']).next().unwrap_or_default();
        if host.is_empty() {
            return Err(bad("no host"));
        }
        url.parse::<ureq::http::Uri>()
            .map_err(|e| bad(&e.to_string()))?;
        // An HTTP proxy set in the environment must not capture a loopback client.
        let hostname = host.rsplit_once(':').map_or(host, |(h, _)| h);
        let loopback = matches!(hostname, "localhost" | "[::1]") || hostname.starts_with("127.");
        let mut config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false);
        if loopback {
            config = config.proxy(None);
        }
        Ok(Self {
            url: url.to_string(),
            agent: config.build().into(),
            next_id: Arc::new(AtomicU64::new(1)),
        })
    }

    /// The URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Call `method` with `params`; the `result`, or the error the client answered.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, BridgeError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body =
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string();
        let agent = self.agent.clone();
        let url = self.url.clone();
        let http = |reason: String| BridgeError::Http {
            method: method.to_string(),
            reason,
        };
        let text = tokio::task::spawn_blocking(move || -> Result<(u16, String), String> {
            let mut response = agent
                .post(&url)
                .header("Content-Type", "application/json")
                .send(body.as_bytes())
                .map_err(|e| e.to_string())?;
            let status = response.status().as_u16();
            let text = response
                .body_mut()
                .with_config()
                .limit(MAX_RESPONSE_BYTES)
                .read_to_string()
                .map_err(|e| e.to_string())?;
            Ok((status, text))
        })
        .await
        .map_err(|e| http(format!("request task failed: {e}")))?;
        let (status, text) = text.map_err(http)?;
        let answer: Value = serde_json::from_str(&text).map_err(|_| {
            let start: String = text.chars().take(200).collect();
            http(format!("HTTP {status}, not a JSON-RPC answer: {start:?}"))
        })?;
        if let Some(error) = optional(&answer, "error") {
            return Err(BridgeError::Rpc {
                method: method.to_string(),
                code: error.get("code").and_then(Value::as_i64).unwrap_or(0),
                message: error
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("(no message)")
                    .to_string(),
            });
        }
        if status != 200 {
            return Err(http(format!("HTTP {status}")));
        }
        answer
            .get("result")
            .cloned()
            .ok_or_else(|| BridgeError::json(method, "answer has neither result nor error"))
    }

    /// `eth_blockNumber`.
    pub async fn block_number(&self) -> Result<u64, BridgeError> {
        let v = self.call("eth_blockNumber", json!([])).await?;
        json::u64(&v, "eth_blockNumber")
    }

    /// Polls `eth_blockNumber` until the client's head is at least `number` (errors reaching
    /// the client are retried as waiting).
    pub async fn wait_for_block(&self, number: u64) -> u64 {
        loop {
            if let Ok(head) = self.block_number().await {
                if head >= number {
                    return head;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }

    /// `eth_chainId`.
    pub async fn chain_id(&self) -> Result<u64, BridgeError> {
        let v = self.call("eth_chainId", json!([])).await?;
        json::u64(&v, "eth_chainId")
    }

    /// `eth_getBlockByNumber` without transactions: the header rebuilt from its fields and
    /// checked against the block hash, and the block's JSON (for its withdrawals).
    pub async fn block(&self, tag: BlockTag) -> Result<(BlockHeader, Value), BridgeError> {
        let v = self
            .call("eth_getBlockByNumber", json!([tag.param(), false]))
            .await?;
        if v.is_null() {
            return Err(match tag {
                BlockTag::Number(n) => BridgeError::BlockNotFound(n),
                BlockTag::Latest => BridgeError::json("eth_getBlockByNumber", "no latest block"),
            });
        }
        Ok((ExecutionHeader::rebuild(&v)?, v))
    }

    /// What block `number` changed (`debug_traceBlockByNumber`, prestate tracer, diff mode).
    pub async fn state_changes(&self, number: u64) -> Result<StateChanges, BridgeError> {
        let v = self
            .call(
                "debug_traceBlockByNumber",
                json!([
                    BlockTag::Number(number).param(),
                    {"tracer": "prestateTracer", "tracerConfig": {"diffMode": true}}
                ]),
            )
            .await?;
        StateChanges::from_prestate_diff(&v)
    }

    /// `eth_getProof` for `address` and `slots` at block `number` (slots sent as 32-byte hex:
    /// some clients refuse shorter forms).
    pub async fn proof(
        &self,
        address: Address,
        slots: &[U256],
        number: u64,
    ) -> Result<AccountProof, BridgeError> {
        let slots: Vec<String> = slots
            .iter()
            .map(|s| format!("{:#x}", B256::from(*s)))
            .collect();
        let v = self
            .call(
                "eth_getProof",
                json!([
                    format!("{address:#x}"),
                    slots,
                    BlockTag::Number(number).param()
                ]),
            )
            .await?;
        AccountProof::from_json(&v, &format!("eth_getProof({address:#x})"))
    }

    /// `eth_getCode` of `address` at block `number`.
    pub async fn code(&self, address: Address, number: u64) -> Result<Bytes, BridgeError> {
        let v = self
            .call(
                "eth_getCode",
                json!([format!("{address:#x}"), BlockTag::Number(number).param()]),
            )
            .await?;
        json::bytes(&v, &format!("eth_getCode({address:#x})"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::address;

    #[test]
    fn urls_are_checked() {
        assert!(ExecutionClient::new("http://127.0.0.1:8545").is_ok());
        assert!(ExecutionClient::new("http://localhost:8545/rpc").is_ok());
        for bad in ["127.0.0.1:8545", "ftp://x", "http://", ""] {
            assert!(
                matches!(ExecutionClient::new(bad), Err(BridgeError::BadUrl { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn prestate_diff_collects_accounts_slots_and_new_code() {
        let trace = json!([
            {"txHash": "0x01", "result": {
                "pre": {
                    "0x00000000000000000000000000000000000000aa": {"balance": "0x1"},
                    "0x00000000000000000000000000000000000000dd": {"balance": "0x1",
                        "storage": {"0x0000000000000000000000000000000000000000000000000000000000000005": "0x01"}}
                },
                "post": {
                    "0x00000000000000000000000000000000000000aa": {"balance": "0x0"},
                    "0x00000000000000000000000000000000000000cc": {"code": "0x6000",
                        "storage": {"0x0000000000000000000000000000000000000000000000000000000000000001": "0x02"}}
                }
            }},
            {"pre": {}, "post": {"0x00000000000000000000000000000000000000bb": {"nonce": 1}}}
        ]);
        let changes = StateChanges::from_prestate_diff(&trace).unwrap();
        assert_eq!(changes.accounts.len(), 4);
        let cc = address!("00000000000000000000000000000000000000cc");
        let dd = address!("00000000000000000000000000000000000000dd");
        assert_eq!(changes.accounts[&cc], BTreeSet::from([U256::from(1)]));
        // A slot cleared shows only in `pre`; it changed too.
        assert_eq!(changes.accounts[&dd], BTreeSet::from([U256::from(5)]));
        assert_eq!(changes.new_code, BTreeSet::from([cc]));
        assert!(StateChanges::from_prestate_diff(&json!([{"error": "boom"}])).is_err());
        assert!(StateChanges::from_prestate_diff(&json!({"pre": 1})).is_err());
    }
}
