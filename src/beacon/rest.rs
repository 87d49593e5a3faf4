//! The standard beacon REST API as a light-client source (`/eth/v1/beacon/light_client/…`, JSON),
//! at one URL. Blocking `ureq` requests on tokio's blocking pool, as the bridge's execution
//! client does (no hyper stack in the library). What it fetches is verified by the store.

use super::config::ChainSpec;
use super::error::LightClientError;
use super::json::{bootstrap_from_json, update_from_json, updates_from_json};
use super::portal::UpdateKind;
use super::sync::LightClientSource;
use super::types::{Bootstrap, Update};
use alloy_primitives::B256;
use serde_json::Value;
use std::time::Duration;

/// The most bytes read from one answer: 128 updates of ~27 kB in JSON hex is ~8 MB.
const MAX_ANSWER_BYTES: u64 = 16 * 1024 * 1024;

/// A beacon node's REST API.
#[derive(Clone)]
pub struct RestSource {
    base: String,
    spec: ChainSpec,
    agent: ureq::Agent,
}

impl std::fmt::Debug for RestSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestSource")
            .field("base", &self.base)
            .finish()
    }
}

impl RestSource {
    /// A source at `url` (`http://host:port[/prefix]`, or `https://` with the `https` feature),
    /// with a deadline of `timeout` per request.
    pub fn new(spec: ChainSpec, url: &str, timeout: Duration) -> Result<Self, LightClientError> {
        let bad = |reason: &str| LightClientError::Source {
            source_name: url.to_string(),
            reason: reason.to_string(),
        };
        let rest = match (url.strip_prefix("http://"), url.strip_prefix("https://")) {
            (Some(rest), _) => rest,
            (_, Some(_)) if !cfg!(feature = "https") => {
                return Err(bad("https needs the `https` cargo feature"))
            }
            (_, Some(rest)) => rest,
            _ => return Err(bad("expected http://HOST[:PORT] or https://HOST[:PORT]")),
        };
        let host = rest.split(['/', '?']).next().unwrap_or_default();
        if host.is_empty() {
            return Err(bad("no host"));
        }
        url.parse::<ureq::http::Uri>()
            .map_err(|e| bad(&e.to_string()))?;
        let hostname = host.rsplit_once(':').map_or(host, |(h, _)| h);
        let loopback = matches!(hostname, "localhost" | "[::1]") || hostname.starts_with("127.");
        let mut config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false);
        if loopback {
            // A proxy set in the environment must not capture a loopback server.
            config = config.proxy(None);
        }
        Ok(RestSource {
            base: url.trim_end_matches('/').to_string(),
            spec,
            agent: config.build().into(),
        })
    }

    async fn get(&self, path: String) -> Result<Value, LightClientError> {
        let url = format!("{}{path}", self.base);
        let agent = self.agent.clone();
        let source = |reason: String| LightClientError::Source {
            source_name: url.clone(),
            reason,
        };
        let target = url.clone();
        let answer = tokio::task::spawn_blocking(move || -> Result<(u16, String), String> {
            let mut response = agent
                .get(&target)
                .header("Accept", "application/json")
                .call()
                .map_err(|e| e.to_string())?;
            let status = response.status().as_u16();
            let text = response
                .body_mut()
                .with_config()
                .limit(MAX_ANSWER_BYTES)
                .read_to_string()
                .map_err(|e| e.to_string())?;
            Ok((status, text))
        })
        .await
        .map_err(|e| source(format!("request task failed: {e}")))?;
        let (status, text) = answer.map_err(source)?;
        if status != 200 {
            let excerpt: String = text.chars().take(200).collect();
            return Err(source(format!("HTTP {status}: {excerpt}")));
        }
        serde_json::from_str(&text).map_err(|e| source(format!("not JSON: {e}")))
    }
}

#[async_trait::async_trait]
impl LightClientSource for RestSource {
    fn name(&self) -> String {
        self.base.clone()
    }

    async fn bootstrap(&self, checkpoint: B256) -> Result<Bootstrap, LightClientError> {
        let answer = self
            .get(format!(
                "/eth/v1/beacon/light_client/bootstrap/{checkpoint:#x}"
            ))
            .await?;
        bootstrap_from_json(&self.spec, &answer)
    }

    async fn updates(
        &self,
        start_period: u64,
        count: u64,
    ) -> Result<Vec<Update>, LightClientError> {
        let answer = self
            .get(format!(
                "/eth/v1/beacon/light_client/updates?start_period={start_period}&count={count}"
            ))
            .await?;
        updates_from_json(&self.spec, &answer)
    }

    async fn finality_update(&self) -> Result<Update, LightClientError> {
        let answer = self
            .get("/eth/v1/beacon/light_client/finality_update".into())
            .await?;
        update_from_json(&self.spec, UpdateKind::Finality, &answer)
    }

    async fn optimistic_update(&self) -> Result<Update, LightClientError> {
        let answer = self
            .get("/eth/v1/beacon/light_client/optimistic_update".into())
            .await?;
        update_from_json(&self.spec, UpdateKind::Optimistic, &answer)
    }
}
