//! `--checkpoint` and `--beacon-api` for `node` and `query`: trusted heads from the node's own
//! beacon light client (mainnet), verified from a checkpoint, instead of a trusted header or an
//! execution client.

use crate::CliResult;
use portal_state::beacon::follow::{self, LightClientStatus, SharedStatus};
use portal_state::beacon::network::{BeaconNetwork, PortalSource};
use portal_state::beacon::rest::RestSource;
use portal_state::beacon::{ChainSpec, LightClient, LightClientSource};
use portal_state::network::Network;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The sources, in the order they are tried.
type Sources = Vec<Arc<dyn LightClientSource>>;

/// The light-client flags.
#[derive(clap::Args, Debug, Clone)]
pub struct BeaconArgs {
    /// A beacon block root you trust (0x…, within the weak-subjectivity period: about two
    /// weeks), to bootstrap the beacon light client from. Not needed when --data-dir holds a
    /// light-client state from an earlier run.
    #[arg(long, value_name = "ROOT")]
    checkpoint: Option<alloy_primitives::B256>,
    /// A beacon node's REST API (`http://host:5052`) to fetch light-client updates from.
    /// Untrusted: every object is verified (sync-committee signatures, Merkle branches).
    /// Repeatable: tried in order.
    #[arg(long = "beacon-api", value_name = "URL")]
    beacon_api: Vec<String>,
}

impl BeaconArgs {
    fn wanted(&self) -> bool {
        self.checkpoint.is_some() || !self.beacon_api.is_empty()
    }

    fn prepare(&self, network: &Network) -> Result<Option<(LightClient, Sources)>, String> {
        if !self.wanted() {
            return Ok(None);
        }
        let spec = ChainSpec::mainnet();
        let sources = self
            .beacon_api
            .iter()
            .map(|url| {
                RestSource::new(spec.clone(), url, Duration::from_secs(30))
                    .map(|s| Arc::new(s) as Arc<dyn LightClientSource>)
                    .map_err(|e| format!("--beacon-api {url}: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let light_client = follow::load(network, spec, self.checkpoint)
            .map_err(|e| format!("beacon light client: {e}"))?
            .ok_or("--beacon-api needs --checkpoint ROOT (no light-client state saved yet)")?;
        Ok(Some((light_client, sources)))
    }

    /// Start following the beacon chain in the background (a round every slot).
    pub fn follow(&self, network: &Arc<Network>) -> Result<Option<SharedStatus>, String> {
        let Some((light_client, mut sources)) = self.prepare(network)? else {
            return Ok(None);
        };
        let status: SharedStatus = Arc::new(Mutex::new(LightClientStatus::default()));
        // The node also serves, fetches from and re-publishes to the Portal beacon network.
        let (beacon, offered) = BeaconNetwork::start(
            network.overlay().transport().clone(),
            light_client.spec().clone(),
            light_client.checkpoint(),
        );
        sources.push(Arc::new(PortalSource::new(beacon.clone())));
        tokio::spawn(follow::run(
            network.clone(),
            light_client,
            sources,
            Duration::from_secs(12),
            status.clone(),
            Some(follow::BeaconPeers {
                network: beacon,
                offered,
            }),
        ));
        Ok(Some(status))
    }

    /// Bring the light client to the head once, and trust its heads (for a one-shot query).
    pub async fn sync_once(&self, network: &Network) -> CliResult {
        let Some((mut light_client, sources)) = self.prepare(network)? else {
            return Ok(());
        };
        let status: SharedStatus = Arc::new(Mutex::new(LightClientStatus::default()));
        follow::publish(network, &light_client, &status);
        if !sources.is_empty()
            && !follow::step(network, &mut light_client, &sources, &status, None).await
        {
            let error = status
                .lock()
                .map(|s| s.last_error.clone())
                .unwrap_or_default();
            return Err(format!(
                "beacon light client: no source brought it to the head: {}",
                error.unwrap_or_default()
            )
            .into());
        }
        if let Some((finalized, optimistic)) = light_client.heads() {
            tracing::info!(
                finalized_block = finalized.number,
                optimistic_block = optimistic.number,
                "trusting the beacon light client's heads"
            );
        }
        Ok(())
    }
}
