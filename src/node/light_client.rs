//! [`Node::start_light_client`]: trusted heads from the node's own beacon light client
//! ([`crate::beacon`]), so an app never has to call [`Node::update_head`].

use super::{join_error, Node, NodeError};
use crate::beacon::follow::{self, LightClientStatus, SharedStatus};
use crate::beacon::network::{BeaconNetwork, PortalSource};
use crate::beacon::rest::RestSource;
use crate::beacon::{ChainSpec, LightClientSource};
use alloy_primitives::B256;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the node's beacon light client runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LightClientConfig {
    /// A beacon block root the user trusts (from a friend's node, a block explorer, the app's
    /// release), within the weak-subjectivity period (about two weeks). `None`: resume from the
    /// state saved in the data directory.
    pub checkpoint: Option<B256>,
    /// Beacon REST API base URLs (`http://host:5052`), tried in order. Untrusted: everything
    /// they send is verified.
    pub beacon_api_urls: Vec<String>,
    /// How often to ask for new updates. Default 12 s: one slot.
    pub poll_interval: Duration,
    /// Deadline of one request. Default 30 s.
    pub request_timeout: Duration,
    /// Take part in the Portal beacon network (`0x501A`): fetch from its peers when the URLs
    /// fail or there are none, serve what was verified, re-publish it. Default on.
    pub portal_network: bool,
}

impl Default for LightClientConfig {
    fn default() -> Self {
        LightClientConfig {
            checkpoint: None,
            beacon_api_urls: Vec::new(),
            poll_interval: Duration::from_secs(12),
            request_timeout: Duration::from_secs(30),
            portal_network: true,
        }
    }
}

fn invalid(e: impl std::fmt::Display) -> NodeError {
    NodeError::InvalidInput {
        reason: e.to_string(),
    }
}

impl Node {
    /// Start the beacon light client (mainnet): bootstrap at `config.checkpoint`, or resume
    /// from the state saved in the data directory; then follow the chain from the sources.
    /// The execution blocks of its finalized and optimistic headers become trusted heads (the
    /// optimistic one is `Latest`). Returns once the resumed heads (if any) are trusted; the
    /// first sync runs in the background ([`Node::status`]'s `light_client` shows progress).
    ///
    /// Fails with [`NodeError::InvalidInput`] for a bad URL, when there is neither a checkpoint
    /// nor a saved state, or when the light client is already running.
    pub fn start_light_client(&self, config: LightClientConfig) -> Result<(), NodeError> {
        let spec = ChainSpec::mainnet();
        let mut sources = config
            .beacon_api_urls
            .iter()
            .map(|url| {
                RestSource::new(spec.clone(), url.trim(), config.request_timeout)
                    .map(|s| Arc::new(s) as Arc<dyn LightClientSource>)
                    .map_err(invalid)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut state = self.state();
        let running = state.as_mut().ok_or(NodeError::NotRunning)?;
        if running.light_client.is_some() {
            return Err(invalid("the light client is already running"));
        }
        let network = running.network.clone();
        let light_client = follow::load(&network, spec, config.checkpoint)
            .map_err(invalid)?
            .ok_or_else(|| invalid("no checkpoint given and no light-client state saved"))?;
        let status: SharedStatus = Arc::new(Mutex::new(LightClientStatus {
            checkpoint: light_client.checkpoint(),
            ..LightClientStatus::default()
        }));
        // Resumed heads are trusted before this returns; the sources are asked in the task.
        follow::publish(&network, &light_client, &status);
        let beacon = config.portal_network.then(|| {
            let _runtime = running.runtime.enter();
            let (network, offered) = BeaconNetwork::start(
                network.overlay().transport().clone(),
                light_client.spec().clone(),
                light_client.checkpoint(),
            );
            // After the URLs: the overlay is asked when they fail, or alone when there are none.
            sources.push(Arc::new(PortalSource::new(network.clone())));
            follow::BeaconPeers { network, offered }
        });
        let task_status = status.clone();
        let interval = config.poll_interval;
        let spawned = running.runtime.spawn(async move {
            follow::run(
                network,
                light_client,
                sources,
                interval,
                task_status,
                beacon,
            )
            .await;
        });
        running.light_client = Some(status);
        drop(state);
        if spawned.is_finished() {
            // Only a panic ends `run`.
            return futures::executor::block_on(spawned).map_err(join_error);
        }
        Ok(())
    }

    /// The light client's progress (`None` when it was not started).
    pub fn light_client_status(&self) -> Result<Option<LightClientStatus>, NodeError> {
        let state = self.state();
        let running = state.as_ref().ok_or(NodeError::NotRunning)?;
        Ok(running
            .light_client
            .as_ref()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).clone()))
    }
}
