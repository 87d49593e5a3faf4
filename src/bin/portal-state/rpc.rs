//! The local JSON-RPC server (feature `rpc`): the standard Ethereum methods a wallet or a tool
//! like `cast` reads state with, answered from verified data only.
//!
//! HTTP/1.1 POST on a loopback port (keep-alive, single and batch requests), served by
//! [`StateClient`] on one node. Every value comes from a proof checked against a trusted
//! header; when there is none the answer is an error, never a guess.
//!
//! Methods: `eth_chainId`, `eth_blockNumber`, `eth_getBlockByNumber`, `eth_getBlockByHash`,
//! `eth_getBalance`, `eth_getTransactionCount`, `eth_getStorageAt`, `eth_getCode`, `eth_call`,
//! `eth_estimateGas` (run by revm over state fetched from the network, every piece verified);
//! the wallet's methods in [`wallet`] (fees, `eth_getProof`, `eth_createAccessList`,
//! `eth_sendRawTransaction`); the small standard ones in [`standard`] (`eth_syncing`,
//! `net_version`, `web3_clientVersion`, block counts, …). Anything else is "method not found".
//!
//! Errors (JSON-RPC 2.0 and EIP-1474 codes):
//!
//! | code | when |
//! |---|---|
//! | -32700 | the body is not JSON |
//! | -32600 | not a JSON-RPC 2.0 request (or an empty or oversized batch) |
//! | -32601 | method not served |
//! | -32602 | bad params: malformed address, slot, block, wrong count |
//! | -32603 | internal error (the node stopped, its store failed) |
//! | -32000 | no trusted block header yet: nothing can be verified |
//! | -32001 | the block named is not a trusted block (EIP-1898's "resource not found") |
//! | -32002 | no peer had a verified answer at the block(s) tried |
//! | 3 | the call reverted: `data` holds the revert data, the message its reason (as geth) |
//! | -32003 | the call could not run (halted during an estimate, invalid request); a transaction rejected (bad signature, chain, nonce, funds) |
//! | -32004 | `eth_sendRawTransaction` without a relay (`--tx-relay`) |
//! | -32002 | also: no relay took the transaction |

use alloy_primitives::{hex, B256};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use portal_state::bridge::ExecutionHeader;
use portal_state::client::{BlockId, ClientError, StateClient, TxRelays};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tokio::net::TcpListener;
use tokio::sync::watch;

mod params;
mod standard;
mod wallet;

use params::*;

/// The largest request body accepted.
const MAX_BODY_BYTES: usize = 5 * 1024 * 1024;
/// The most calls in one batch.
const MAX_BATCH: usize = 1000;

/// JSON-RPC 2.0: the body is not JSON.
pub const PARSE_ERROR: i64 = -32700;
/// JSON-RPC 2.0: not a valid request object.
pub const INVALID_REQUEST: i64 = -32600;
/// JSON-RPC 2.0: the method is not served.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// JSON-RPC 2.0: the params are malformed.
pub const INVALID_PARAMS: i64 = -32602;
/// JSON-RPC 2.0: the server failed.
pub const INTERNAL_ERROR: i64 = -32603;
/// Server error: no header is trusted yet.
pub const NO_TRUSTED_HEADER: i64 = -32000;
/// Server error (EIP-1474 "resource not found"): the block named is not trusted.
pub const UNKNOWN_BLOCK: i64 = -32001;
/// The call reverted (geth's code; `data` holds the revert data).
pub const EXECUTION_REVERTED: i64 = 3;
/// The call could not be run.
pub const EXECUTION_FAILED: i64 = -32003;
/// Server error (EIP-1474 "resource unavailable"): nobody had a verified answer, or no relay
/// took a transaction.
pub const NOT_FOUND_IN_NETWORK: i64 = -32002;
/// EIP-1474 "transaction rejected": a transaction that cannot be sent.
pub const TRANSACTION_REJECTED: i64 = -32003;
/// EIP-1474 "method not supported": sending without a relay.
pub const NO_RELAY: i64 = -32004;

/// A JSON-RPC error object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RpcError {
    /// The code (see the module docs).
    pub code: i64,
    /// What went wrong, for a person.
    pub message: String,
    /// Extra data (the revert data of a reverted call).
    pub data: Option<Value>,
}

impl RpcError {
    fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }

    fn params(message: impl Into<String>) -> Self {
        Self::new(INVALID_PARAMS, message)
    }

    fn to_json(&self) -> Value {
        match &self.data {
            Some(data) => json!({"code": self.code, "message": self.message, "data": data}),
            None => json!({"code": self.code, "message": self.message}),
        }
    }
}

fn describe_block(block: BlockId) -> String {
    match block {
        BlockId::Latest => "latest".into(),
        BlockId::Number(n) => format!("{n} ({n:#x})"),
        BlockId::Hash(h) => format!("{h}"),
    }
}

impl From<ClientError> for RpcError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::NoTrustedHeader => RpcError::new(
                NO_TRUSTED_HEADER,
                "no trusted block header yet: nothing can be verified",
            ),
            ClientError::UnknownBlock(block) => RpcError::new(
                UNKNOWN_BLOCK,
                format!("block {} is not a trusted block", describe_block(block)),
            ),
            ClientError::NotFound { what, tried } => RpcError::new(
                NOT_FOUND_IN_NETWORK,
                format!("no verified answer in the network for {what} at block(s) {tried:?}"),
            ),
            ClientError::Network(e) => RpcError::new(INTERNAL_ERROR, format!("node error: {e}")),
            ClientError::Reverted { reason, data } => RpcError {
                code: EXECUTION_REVERTED,
                message: match reason {
                    Some(reason) => format!("execution reverted: {reason}"),
                    None => "execution reverted".into(),
                },
                data: Some(json!(hex::encode_prefixed(&data))),
            },
            ClientError::Execution(reason) => RpcError::new(EXECUTION_FAILED, reason),
            e @ ClientError::TransactionRejected(_) => {
                RpcError::new(TRANSACTION_REJECTED, e.to_string())
            }
            e @ ClientError::NoRelay => RpcError::new(NO_RELAY, e.to_string()),
            e @ ClientError::RelayFailed(_) => RpcError::new(NOT_FOUND_IN_NETWORK, e.to_string()),
            e @ ClientError::InvalidRelay(_) => RpcError::new(INTERNAL_ERROR, e.to_string()),
        }
    }
}

/// Answers JSON-RPC requests from one node's verified state.
pub struct RpcHandler {
    client: StateClient,
    chain_id: u64,
    relays: TxRelays,
    /// The beacon light client's progress: its finalized block is what `safe` and `finalized`
    /// name. Without one (the devnet trusts its bridge's heads, which carry no finality) the
    /// tags mean `latest`.
    light_client: Option<portal_state::beacon::follow::SharedStatus>,
}

impl RpcHandler {
    /// A handler over `client`, reporting `chain_id`, sending transactions nowhere.
    pub fn new(client: StateClient, chain_id: u64) -> Self {
        Self {
            client,
            chain_id,
            relays: TxRelays::default(),
            light_client: None,
        }
    }

    /// Resolve `safe` and `finalized` to the finalized execution block of `light_client` (when
    /// there is one; `latest` is its optimistic block, the newest trusted one, anyway).
    pub fn with_light_client(
        mut self,
        light_client: Option<portal_state::beacon::follow::SharedStatus>,
    ) -> Self {
        self.light_client = light_client;
        self
    }

    /// A block parameter ([`parse_block`]), with `safe` and `finalized` resolved to the light
    /// client's finalized block. Before it has one, those tags name no trusted block.
    fn block_param(&self, value: Option<&Value>) -> Result<BlockId, RpcError> {
        let tag = value.and_then(Value::as_str);
        if let (Some("safe" | "finalized"), Some(status)) = (tag, &self.light_client) {
            let finalized = status
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .finalized_block;
            return finalized
                .map(BlockId::Number)
                .ok_or(RpcError::from(ClientError::NoTrustedHeader));
        }
        parse_block(value)
    }

    /// Send `eth_sendRawTransaction`'s transactions through `relays`.
    pub fn with_relays(mut self, relays: TxRelays) -> Self {
        self.relays = relays;
        self
    }

    /// Answer one HTTP body: a single call or a batch. `None` when there is nothing to send
    /// back (only notifications).
    pub async fn handle_body(&self, body: &[u8]) -> Option<Value> {
        let request: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                return Some(error_response(
                    Value::Null,
                    &RpcError::new(PARSE_ERROR, format!("parse error: {e}")),
                ))
            }
        };
        match request {
            Value::Array(calls) => {
                if calls.is_empty() {
                    return Some(error_response(
                        Value::Null,
                        &RpcError::new(INVALID_REQUEST, "empty batch"),
                    ));
                }
                if calls.len() > MAX_BATCH {
                    return Some(error_response(
                        Value::Null,
                        &RpcError::new(
                            INVALID_REQUEST,
                            format!("batch of {} calls; at most {MAX_BATCH}", calls.len()),
                        ),
                    ));
                }
                // The calls of a batch run concurrently: each may be a network lookup.
                let answers = futures::future::join_all(calls.iter().map(|c| self.handle_call(c)))
                    .await
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>();
                (!answers.is_empty()).then_some(Value::Array(answers))
            }
            call => self.handle_call(&call).await,
        }
    }

    /// Answer one call object; `None` for a notification (no `id`).
    async fn handle_call(&self, call: &Value) -> Option<Value> {
        let Some(object) = call.as_object() else {
            return Some(error_response(
                Value::Null,
                &RpcError::new(INVALID_REQUEST, "a request must be a JSON object"),
            ));
        };
        let id = match object.get("id") {
            None => None,
            Some(id @ (Value::Null | Value::Number(_) | Value::String(_))) => Some(id.clone()),
            Some(_) => {
                return Some(error_response(
                    Value::Null,
                    &RpcError::new(INVALID_REQUEST, "id must be a string, a number or null"),
                ))
            }
        };
        let reply_id = id.clone().unwrap_or(Value::Null);
        if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
            return Some(error_response(
                reply_id,
                &RpcError::new(INVALID_REQUEST, "jsonrpc must be \"2.0\""),
            ));
        }
        let Some(method) = object.get("method").and_then(Value::as_str) else {
            return Some(error_response(
                reply_id,
                &RpcError::new(INVALID_REQUEST, "method must be a string"),
            ));
        };
        let params: &[Value] = match object.get("params") {
            None | Some(Value::Null) => &[],
            Some(Value::Array(params)) => params,
            Some(_) => {
                return Some(error_response(
                    reply_id,
                    &RpcError::params("params must be an array (positional parameters)"),
                ))
            }
        };
        let started = Instant::now();
        let result = self.dispatch(method, params).await;
        tracing::debug!(
            method,
            id = %reply_id,
            ok = result.is_ok(),
            ms = started.elapsed().as_secs_f64() * 1e3,
            "json-rpc call"
        );
        // Notifications get no reply, not even for errors (JSON-RPC 2.0, section 4.1).
        let id = id?;
        Some(match result {
            Ok(value) => json!({"jsonrpc": "2.0", "id": id, "result": value}),
            Err(e) => error_response(id, &e),
        })
    }

    /// Run one method.
    pub async fn dispatch(&self, method: &str, params: &[Value]) -> Result<Value, RpcError> {
        match method {
            "eth_chainId" => {
                arity(params, 0, 0)?;
                Ok(quantity(self.chain_id))
            }
            "eth_blockNumber" => {
                arity(params, 0, 0)?;
                let newest = self
                    .client
                    .newest_block()
                    .ok_or(RpcError::from(ClientError::NoTrustedHeader))?;
                Ok(quantity(newest.number))
            }
            "eth_getBlockByNumber" | "eth_getBlockByHash" => {
                arity(params, 1, 2)?;
                let block = if method == "eth_getBlockByNumber" {
                    match params[0].as_str() {
                        // No finalized block yet: no such block, `null` as below.
                        Some("safe" | "finalized") => match self.block_param(params.first()) {
                            Ok(block) => block,
                            Err(_) => return Ok(Value::Null),
                        },
                        _ => parse_block_number(&params[0])?,
                    }
                } else {
                    BlockId::Hash(parse_b256(&params[0], "block hash")?)
                };
                // The second param says whether to list full transactions; we list none
                // either way (headers only), but it must still be a boolean.
                if let Some(full) = params.get(1) {
                    if !full.is_boolean() {
                        return Err(RpcError::params(
                            "second parameter (full transactions) must be a boolean",
                        ));
                    }
                }
                // An unknown or untrusted block is `null`, as the standard says.
                match self.client.header(block) {
                    Ok(header) if !header.has_rlp() => Ok(proven_block_json(&header)),
                    Ok(header) => block_json(&header.rlp)
                        .map_err(|e| RpcError::new(INTERNAL_ERROR, format!("trusted header: {e}"))),
                    Err(_) => Ok(Value::Null),
                }
            }
            "eth_getBalance" | "eth_getTransactionCount" => {
                arity(params, 1, 2)?;
                let address = parse_address(&params[0])?;
                let block = self.block_param(params.get(1))?;
                let answer = self.client.account(address, block).await?;
                tracing::debug!(%address, block = answer.block.number, "account verified");
                Ok(if method == "eth_getBalance" {
                    json!(format!("{:#x}", answer.value.balance))
                } else {
                    quantity(answer.value.nonce)
                })
            }
            "eth_getStorageAt" => {
                arity(params, 2, 3)?;
                let address = parse_address(&params[0])?;
                let slot = parse_slot(&params[1])?;
                let block = self.block_param(params.get(2))?;
                let answer = self.client.storage(address, slot, block).await?;
                Ok(json!(B256::from(answer.value).to_string()))
            }
            "eth_getCode" => {
                arity(params, 1, 2)?;
                let address = parse_address(&params[0])?;
                let block = self.block_param(params.get(1))?;
                let answer = self.client.code(address, block).await?;
                Ok(json!(hex::encode_prefixed(&answer.value)))
            }
            "eth_call" | "eth_estimateGas" => {
                arity(params, 1, 2)?;
                let request = parse_call_request(&params[0], self.chain_id)?;
                let block = self.block_param(params.get(1))?;
                if method == "eth_estimateGas" {
                    let answer = self.client.estimate_gas(&request, block).await?;
                    return Ok(quantity(answer.value));
                }
                let answer = self.client.call(&request, block).await?;
                let result = answer.value;
                if result.success {
                    Ok(json!(hex::encode_prefixed(&result.return_data)))
                } else if let Some(halt) = result.halt_reason {
                    Err(RpcError::new(
                        EXECUTION_FAILED,
                        format!("execution halted: {halt}"),
                    ))
                } else {
                    Err(ClientError::Reverted {
                        reason: result.revert_reason,
                        data: result.return_data,
                    }
                    .into())
                }
            }
            _ => {
                if let Some(answer) = self.dispatch_standard(method, params) {
                    return answer;
                }
                if let Some(answer) = self.dispatch_wallet(method, params).await {
                    return answer;
                }
                Err(RpcError::new(
                    METHOD_NOT_FOUND,
                    format!("the method {method} does not exist/is not available"),
                ))
            }
        }
    }
}

fn error_response(id: Value, error: &RpcError) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": error.to_json()})
}

fn quantity(n: u64) -> Value {
    json!(format!("{n:#x}"))
}

/// A trusted header as `eth_getBlockByNumber` shows it: every header field (the bridge's
/// decoder, Frontier to Prague), `uncles` and `transactions` empty (this node has headers
/// only).
pub fn block_json(rlp: &[u8]) -> Result<Value, String> {
    let header = ExecutionHeader::from_rlp(rlp).map_err(|e| e.to_string())?;
    let mut block = header.to_rpc_json();
    block["uncles"] = json!([]);
    block["transactions"] = json!([]);
    Ok(block)
}

/// The block object of a head the beacon light client proved ([`BlockHeader::proven`]): the
/// fields the proof covers (number, hash, parent hash, state root, timestamp); the other header
/// fields are not known to the node and are left out rather than guessed.
///
/// [`BlockHeader::proven`]: portal_state::proof::BlockHeader::proven
pub fn proven_block_json(header: &portal_state::proof::BlockHeader) -> Value {
    json!({
        "number": format!("{:#x}", header.number),
        "hash": format!("{:#x}", header.hash),
        "parentHash": format!("{:#x}", header.parent_hash),
        "stateRoot": format!("{:#x}", header.state_root),
        "timestamp": format!("{:#x}", header.timestamp),
        "uncles": [],
        "transactions": [],
    })
}

/// Bind the server's port on 127.0.0.1 (port 0 picks a free one), with a clear error when it
/// is taken. Binding early lets a command fail before it spends time starting nodes.
pub async fn bind(port: u16) -> Result<TcpListener, String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpListener::bind(addr).await.map_err(|e| match e.kind() {
        std::io::ErrorKind::AddrInUse => format!(
            "JSON-RPC port {port} on 127.0.0.1 is already in use (another node, or geth/anvil?); choose another with --rpc-port"
        ),
        _ => format!("cannot listen on {addr} for JSON-RPC: {e}"),
    })
}

/// Serve JSON-RPC on `listener` until `shutdown` turns true (or its sender is dropped).
pub async fn serve(
    listener: TcpListener,
    handler: Arc<RpcHandler>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(error = %e, "json-rpc: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        let mut conn_shutdown = shutdown.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let handler = handler.clone();
                async move { Ok::<_, std::convert::Infallible>(respond(&handler, request).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                result = conn => {
                    if let Err(e) = result {
                        tracing::debug!(%peer, error = %e, "json-rpc: connection ended");
                    }
                }
                _ = conn_shutdown.changed() => {}
            }
        });
    }
}

async fn respond(
    handler: &RpcHandler,
    request: Request<Incoming>,
) -> Response<Full<hyper::body::Bytes>> {
    if request.method() != Method::POST {
        return plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "JSON-RPC: send a POST with a JSON body\n",
        );
    }
    let body = match Limited::new(request.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(e) => {
            let (status, error) = if e.is::<http_body_util::LengthLimitError>() {
                (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    RpcError::new(
                        INVALID_REQUEST,
                        format!("request body over {MAX_BODY_BYTES} bytes"),
                    ),
                )
            } else {
                (
                    StatusCode::BAD_REQUEST,
                    RpcError::new(PARSE_ERROR, format!("could not read the request body: {e}")),
                )
            };
            return json_response(status, &error_response(Value::Null, &error));
        }
    };
    match handler.handle_body(&body).await {
        Some(answer) => json_response(StatusCode::OK, &answer),
        // Only notifications: nothing to say (JSON-RPC 2.0); an empty 200 keeps HTTP clients
        // that expect a body-less success happy.
        None => plain(StatusCode::OK, ""),
    }
}

fn json_response(status: StatusCode, value: &Value) -> Response<Full<hyper::body::Bytes>> {
    let mut response = Response::new(Full::new(hyper::body::Bytes::from(value.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<hyper::body::Bytes>> {
    let mut response = Response::new(Full::new(hyper::body::Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests;
