//! The beacon network as a [`LightClientSource`]: FindContent to our `0x501A` peers, inline or
//! over uTP. What a peer sends is decoded here and verified by the light client; a peer whose
//! object fails either is a liar and is not asked again.

use super::{node_id_of, BeaconNetwork, Received, MAX_VALUE_BYTES};
use crate::beacon::error::LightClientError;
use crate::beacon::portal::ContentKey;
use crate::beacon::sync::LightClientSource;
use crate::beacon::types::{Bootstrap, Update};
use crate::overlay::NodeId;
use crate::wire::{framing, Content, FindContent, Message, ProtocolVersion};
use alloy_primitives::B256;
use std::sync::Mutex;

/// Light-client objects from the Portal beacon network's peers.
#[derive(Debug)]
pub struct PortalSource {
    network: BeaconNetwork,
    /// Who sent the last object we returned: blamed if it does not verify.
    last_peer: Mutex<Option<NodeId>>,
}

/// The name this source goes by in logs and status.
const NAME: &str = "portal beacon network";

fn not_found(reason: String) -> LightClientError {
    LightClientError::Source {
        source_name: NAME.into(),
        reason,
    }
}

impl PortalSource {
    /// Ask the peers of `network`.
    pub fn new(network: BeaconNetwork) -> Self {
        PortalSource {
            network,
            last_peer: Mutex::new(None),
        }
    }

    /// The value under `key` from the first peer that has it and sends something that
    /// decodes as what the key names. `Ok(None)`: peers answered, none had it.
    async fn find(&self, key: ContentKey) -> Result<Option<Received>, LightClientError> {
        let peers = self.network.peers();
        if peers.is_empty() {
            return Err(not_found("no peer speaks 0x501A yet".into()));
        }
        let request = Message::FindContent(FindContent {
            content_key: key.to_bytes().into(),
        });
        for peer in peers {
            let id = node_id_of(&peer);
            let value = match self.network.request(&peer, &request).await {
                Some(Message::Content(Content::Content(value))) => value.to_vec(),
                Some(Message::Content(Content::ConnectionId(cid))) => {
                    match self.receive(&peer, cid).await {
                        Some(value) => value,
                        None => continue,
                    }
                }
                _ => continue, // ENRs (it does not have it), no answer, garbage
            };
            match self.network.decode(&key, &value) {
                Ok(object) => {
                    *super::lock(&self.last_peer) = Some(id);
                    return Ok(Some(object));
                }
                Err(e) if e.is_forgery() => self.network.refuse(id, &e),
                Err(e) => tracing::debug!(error = %e, "beacon network: a value we cannot use"),
            }
        }
        Ok(None)
    }

    async fn receive(&self, peer: &crate::net::Enr, cid: u16) -> Option<Vec<u8>> {
        let transport = &self.network.inner.transport;
        let version = transport.peer_version(peer).ok()?;
        let data = transport
            .utp_connect_receive(peer.clone(), cid, MAX_VALUE_BYTES + 5)
            .await
            .map_err(|e| tracing::debug!(error = %e, "beacon network: uTP content not received"))
            .ok()?;
        if version < ProtocolVersion::V1 {
            return Some(data);
        }
        framing::decode_items(&data, 1, MAX_VALUE_BYTES)
            .ok()
            .and_then(|mut items| items.pop())
    }
}

#[async_trait::async_trait]
impl LightClientSource for PortalSource {
    fn name(&self) -> String {
        NAME.into()
    }

    async fn bootstrap(&self, checkpoint: B256) -> Result<Bootstrap, LightClientError> {
        match self.find(ContentKey::Bootstrap(checkpoint)).await? {
            Some(Received::Bootstrap(b)) => Ok(b),
            _ => Err(not_found(format!(
                "no peer has the bootstrap of {checkpoint}"
            ))),
        }
    }

    async fn updates(
        &self,
        start_period: u64,
        count: u64,
    ) -> Result<Vec<Update>, LightClientError> {
        let key = ContentKey::UpdatesByRange {
            start_period,
            count,
        };
        match self.find(key).await? {
            Some(Received::Updates(updates)) => Ok(updates),
            // Nobody has updates from this period on: the store is at the head of what the
            // network knows, which the sync handles as an empty answer.
            _ => Ok(Vec::new()),
        }
    }

    /// The spec's request: one slot newer than the finality update we have.
    async fn finality_update(&self) -> Result<Update, LightClientError> {
        let have = self.network.ephemeral_slots().0;
        let want = have.map_or(0, |s| s + 1);
        match self.find(ContentKey::FinalityUpdate(want)).await? {
            Some(Received::Finality(u)) => Ok(u),
            // Nobody has a newer one: what we have is the newest.
            _ => Err(LightClientError::NotNewer {
                attested_slot: want,
                finalized_slot: have.unwrap_or_default(),
            }),
        }
    }

    async fn optimistic_update(&self) -> Result<Update, LightClientError> {
        let have = self.network.ephemeral_slots().1;
        let want = have.map_or(0, |s| s + 1);
        match self.find(ContentKey::OptimisticUpdate(want)).await? {
            Some(Received::Optimistic(u)) => Ok(u),
            _ => Err(LightClientError::NotNewer {
                attested_slot: want,
                finalized_slot: have.unwrap_or_default(),
            }),
        }
    }

    fn refused(&self, error: &LightClientError) {
        if let Some(peer) = super::lock(&self.last_peer).take() {
            self.network.refuse(peer, error);
        }
    }
}
