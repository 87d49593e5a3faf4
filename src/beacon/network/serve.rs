//! Answering `0x501A` requests: Ping, FindNodes, FindContent from what we verified, and Offers
//! whose items go to the light client for verification.

use super::{lock, node_id_of, BeaconNetwork, Offered, Received, MAX_VALUE_BYTES};
use crate::beacon::error::LightClientError;
use crate::beacon::portal::{
    bootstrap_from_content, update_from_content, updates_from_content, ContentKey, UpdateKind,
};
use crate::net::{enr_to_rlp, Enr, InboundRequest};
use crate::overlay::{NodeId, MAX_INLINE_CONTENT};
use crate::wire::{
    framing, Accept, AcceptCode, Content, FindContent, FindNodes, Message, Nodes, Offer, Ping,
    PingExtension, PingPayload, Pong, ProtocolVersion,
};
use alloy_primitives::B256;
use std::sync::atomic::Ordering;
use std::time::Instant;
use tokio::sync::mpsc;

/// ENRs in one Nodes answer: a few, so that it fits a packet with room to spare.
const MAX_NODES: usize = 4;

impl BeaconNetwork {
    /// Answer inbound requests until the transport stops.
    pub(super) async fn serve(self, mut requests: mpsc::Receiver<InboundRequest>) {
        while let Some(request) = requests.recv().await {
            let network = self.clone();
            tokio::spawn(async move { network.handle(request).await });
        }
    }

    async fn handle(&self, request: InboundRequest) {
        let requester = NodeId(B256::from(request.node_id()));
        let enr = request.enr();
        let version = enr
            .as_ref()
            .and_then(|e| self.inner.transport.peer_version(e).ok())
            .unwrap_or(ProtocolVersion::V2);
        let message = match Message::decode(request.body(), version) {
            Ok(m) if m.is_request() => m,
            _ => return request.respond(Vec::new()),
        };
        let response = match message {
            Message::Ping(ping) => self.handle_ping(requester, enr, ping).map(Message::Pong),
            Message::FindNodes(m) => Some(Message::Nodes(self.handle_find_nodes(m))),
            Message::FindContent(m) => self
                .handle_find_content(enr, version, m)
                .map(Message::Content),
            Message::Offer(m) => Some(Message::Accept(self.handle_offer(requester, enr, m))),
            _ => None,
        };
        request.respond(response.map(|m| m.encode(version)).unwrap_or_default());
    }

    /// A Ping puts its sender in the table (it speaks `0x501A`) and is answered in kind.
    fn handle_ping(&self, requester: NodeId, enr: Option<Enr>, ping: Ping) -> Option<Pong> {
        let payload_type = match &ping.payload {
            PingPayload::Extension { payload_type, .. } => *payload_type,
            PingPayload::Legacy(_) => PingExtension::BASIC_RADIUS,
        };
        if let (Some(enr), Some(radius)) = (enr, super::radius_of(&ping.payload)) {
            if !self.is_liar(requester) {
                lock(&self.inner.table).insert(requester, enr, radius, Instant::now());
            }
        }
        Some(Pong {
            enr_seq: self.inner.transport.local_enr().seq(),
            payload: self.ping_payload(payload_type),
        })
    }

    fn handle_find_nodes(&self, m: FindNodes) -> Nodes {
        let mut enrs = Vec::new();
        if m.distances.contains(&0) {
            enrs.push(enr_to_rlp(&self.inner.transport.local_enr()).into());
        }
        let table = lock(&self.inner.table);
        enrs.extend(
            table
                .at_distances(&m.distances, MAX_NODES)
                .into_iter()
                .map(|e| enr_to_rlp(&e.peer).into()),
        );
        enrs.truncate(MAX_NODES);
        Nodes { total: 1, enrs }
    }

    /// The value if we verified it; else no ENRs (every node holds all of this content, so
    /// nobody is closer).
    fn handle_find_content(
        &self,
        enr: Option<Enr>,
        version: ProtocolVersion,
        m: FindContent,
    ) -> Option<Content> {
        let Some(key) = ContentKey::from_bytes(&m.content_key) else {
            return Some(Content::Enrs(Vec::new()));
        };
        let Some(value) = lock(&self.inner.served).get(&key) else {
            return Some(Content::Enrs(Vec::new()));
        };
        self.inner.served_count.fetch_add(1, Ordering::Relaxed);
        if value.len() <= MAX_INLINE_CONTENT {
            return Some(Content::Content(value.into()));
        }
        let enr = enr?;
        let cid = self.inner.transport.new_connection_id(&enr);
        // v1 added a length prefix to content sent over uTP.
        let payload = if version >= ProtocolVersion::V1 {
            framing::encode_items(&[&value])
        } else {
            value
        };
        let transport = self.inner.transport.clone();
        tokio::spawn(async move {
            if let Err(e) = transport.utp_accept_send(enr, cid, payload).await {
                tracing::debug!(error = %e, "beacon network: uTP content send failed");
            }
        });
        Some(Content::ConnectionId(cid))
    }

    /// Whether we want what `key` names: our checkpoint's bootstrap when we do not serve it
    /// yet, periods we do not serve, ephemeral updates newer than ours.
    fn wants(&self, key: &ContentKey) -> AcceptCode {
        let served = lock(&self.inner.served);
        let new = match *key {
            ContentKey::Bootstrap(root) => {
                if root != self.inner.checkpoint {
                    return AcceptCode::Declined;
                }
                !served.bootstraps.contains_key(&root)
            }
            ContentKey::UpdatesByRange {
                start_period,
                count,
            } => (start_period..start_period.saturating_add(count.min(128)))
                .any(|p| !served.updates.contains_key(&p)),
            ContentKey::FinalityUpdate(slot) => served
                .finality
                .as_ref()
                .is_none_or(|(have, _)| slot > *have),
            ContentKey::OptimisticUpdate(slot) => served
                .optimistic
                .as_ref()
                .is_none_or(|(have, _)| slot > *have),
        };
        if new {
            AcceptCode::Accepted
        } else {
            AcceptCode::AlreadyStored
        }
    }

    fn handle_offer(&self, requester: NodeId, enr: Option<Enr>, m: Offer) -> Accept {
        let keys: Vec<Option<ContentKey>> = m
            .content_keys
            .iter()
            .map(|k| ContentKey::from_bytes(k))
            .collect();
        let declined = |n: usize| Accept {
            connection_id: 0,
            codes: vec![AcceptCode::Declined; n],
        };
        let Some(enr) = enr.filter(|_| !self.is_liar(requester)) else {
            return declined(keys.len());
        };
        let codes: Vec<AcceptCode> = keys
            .iter()
            .map(|k| k.as_ref().map_or(AcceptCode::Declined, |k| self.wants(k)))
            .collect();
        let accepted: Vec<ContentKey> = keys
            .iter()
            .zip(&codes)
            .filter(|(_, c)| c.is_accepted())
            .filter_map(|(k, _)| *k)
            .collect();
        if accepted.is_empty() {
            return Accept {
                connection_id: 0,
                codes,
            };
        }
        let cid = self.inner.transport.new_connection_id(&enr);
        let network = self.clone();
        tokio::spawn(async move { network.receive_offered(enr, cid, accepted).await });
        Accept {
            connection_id: cid,
            codes,
        }
    }

    /// Read the accepted items from the offerer's stream, decode each as its key says, and
    /// hand them to the light client in order. An item that does not decode, or does not
    /// match its key, makes the offerer a liar.
    async fn receive_offered(&self, enr: Enr, cid: u16, keys: Vec<ContentKey>) {
        let from = node_id_of(&enr);
        let max = MAX_VALUE_BYTES
            .saturating_mul(keys.len())
            .saturating_add(64);
        let data = match self.inner.transport.utp_accept_receive(enr, cid, max).await {
            Ok(data) => data,
            Err(e) => {
                tracing::debug!(error = %e, "beacon network: offered items not received");
                return;
            }
        };
        let items = match framing::decode_items(&data, keys.len(), MAX_VALUE_BYTES) {
            Ok(items) => items,
            Err(e) => {
                let e = LightClientError::decode("offered items", e);
                return self.refuse(from, &e);
            }
        };
        for (key, item) in keys.iter().zip(items) {
            match self.decode(key, &item) {
                Ok(object) => {
                    if self
                        .inner
                        .offered_tx
                        .try_send(Offered { from, object })
                        .is_err()
                    {
                        tracing::debug!("beacon network: light client busy; offered item dropped");
                    }
                }
                Err(e) if e.is_forgery() => return self.refuse(from, &e),
                Err(e) => {
                    tracing::debug!(error = %e, "beacon network: an offered value we cannot use")
                }
            }
        }
    }

    /// `value` decoded as the object `key` names; a value for another key is refused (a
    /// peer that answers "the newest finality update" with an older one, say).
    pub(super) fn decode(
        &self,
        key: &ContentKey,
        value: &[u8],
    ) -> Result<Received, LightClientError> {
        use tree_hash::TreeHash;
        let spec = &self.inner.spec;
        let mismatch = |what: &str| LightClientError::Decode {
            what: "content value",
            reason: format!("not the {what} its key names"),
        };
        Ok(match *key {
            ContentKey::Bootstrap(root) => {
                let b = bootstrap_from_content(spec, value)?;
                if b.header.beacon.tree_hash_root() != root {
                    return Err(mismatch("bootstrap"));
                }
                Received::Bootstrap(b)
            }
            ContentKey::UpdatesByRange {
                start_period,
                count,
            } => {
                let updates = updates_from_content(spec, value)?;
                let periods_ok = updates.len() as u64 <= count
                    && updates.iter().enumerate().all(|(i, u)| {
                        crate::beacon::config::period_of_slot(u.attested_header.beacon.slot)
                            == start_period + i as u64
                    });
                if !periods_ok {
                    return Err(mismatch("updates"));
                }
                Received::Updates(updates)
            }
            ContentKey::FinalityUpdate(slot) => {
                let u = update_from_content(spec, UpdateKind::Finality, value)?;
                if u.finalized_header.beacon.slot < slot {
                    return Err(mismatch("finality update"));
                }
                Received::Finality(u)
            }
            ContentKey::OptimisticUpdate(slot) => {
                let u = update_from_content(spec, UpdateKind::Optimistic, value)?;
                if u.signature_slot < slot {
                    return Err(mismatch("optimistic update"));
                }
                Received::Optimistic(u)
            }
        })
    }
}
