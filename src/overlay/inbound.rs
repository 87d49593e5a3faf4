//! Inbound: answering each wire message a peer sends us, and taking offered content.
//!
//! Every request passes the peer limits before it is decoded; a peer we do not know gets a ping
//! (Kademlia learns from every contact); offered content is verified ([`Overlay::validate`])
//! before it is stored and gossiped onward. A key we are asked for and do not hold may still be
//! answered with a proof of its absence ([`crate::proof::prove_absence`]).

use super::config::{MAX_ENR_PAYLOAD, MAX_INLINE_CONTENT, MAX_VALUE_BYTES};
use super::service::{encode_enr, lock};
use super::table::NodeId;
use super::Overlay;
use crate::content::{ContentKey, Radius};
use crate::net::{Enr, InboundRequest};
use crate::proof::{self, VerifiedContent};
use crate::wire::{
    framing, Accept, AcceptCode, Content, FindContent, FindNodes, Message, Nodes, Offer, Ping,
    PingError, PingExtension, PingPayload, Pong, ProtocolVersion,
};
use alloy_primitives::{B256, U256};
use std::sync::atomic::Ordering;

impl Overlay {
    /// Answer requests from `requests` until the channel closes (the transport stopped).
    pub async fn serve(self, mut requests: tokio::sync::mpsc::Receiver<InboundRequest>) {
        while let Some(request) = requests.recv().await {
            let overlay = self.clone();
            tokio::spawn(async move { overlay.handle(request).await });
        }
    }

    pub(super) async fn handle(&self, request: InboundRequest) {
        self.inner
            .counters
            .requests_received
            .fetch_add(1, Ordering::Relaxed);
        let enr = request.enr();
        let requester = NodeId(B256::from(request.node_id()));
        // Over the limit: answered empty before any decoding, the cheapest refusal there is.
        if !self.inner.guard.allow_request(requester, enr.as_ref()) {
            return request.respond(Vec::new());
        }
        let version = enr
            .as_ref()
            .and_then(|e| self.inner.transport.peer_version(e).ok())
            .unwrap_or(ProtocolVersion::V2);
        let message = match Message::decode(request.body(), version) {
            Ok(m) if m.is_request() => m,
            Ok(other) => {
                tracing::debug!(kind = other.name(), "response sent as a request; ignored");
                return request.respond(Vec::new());
            }
            Err(e) => {
                tracing::debug!(error = %e, "undecodable request");
                return request.respond(Vec::new());
            }
        };
        // Kademlia learns from every contact: a peer that asks us something and is not in
        // our table gets a ping, which tells us its radius and puts it in the table.
        if let Some(enr) = &enr {
            if !matches!(message, Message::Ping(_))
                && self.with_table(|t| t.get(requester).is_none())
                && !self.inner.guard.is_banned(requester)
                && self.start_ping(requester)
            {
                let overlay = self.clone();
                let enr = enr.clone();
                tokio::spawn(async move {
                    let _ = overlay.ping(&enr).await;
                    lock(&overlay.inner.pinging).remove(&requester);
                });
            }
        }
        let response = match message {
            Message::Ping(ping) => Some(Message::Pong(self.handle_ping(
                requester,
                enr.as_ref(),
                ping,
            ))),
            Message::FindNodes(m) => Some(Message::Nodes(self.handle_find_nodes(requester, m))),
            Message::FindContent(m) => self
                .handle_find_content(requester, enr, version, m)
                .map(Message::Content),
            Message::Offer(m) => Some(Message::Accept(self.handle_offer(requester, enr, m))),
            _ => None,
        };
        let body = response.map(|m| m.encode(version)).unwrap_or_default();
        if !body.is_empty() {
            self.check_sent(&body, version);
        }
        request.respond(body);
    }

    /// Marks `peer` as being pinged, unless it already is or too many pings are pending.
    pub(super) fn start_ping(&self, peer: NodeId) -> bool {
        let mut pinging = lock(&self.inner.pinging);
        pinging.len() < self.inner.guard.limits().max_pending_pings && pinging.insert(peer)
    }

    pub(super) fn handle_ping(&self, requester: NodeId, enr: Option<&Enr>, ping: Ping) -> Pong {
        let enr_seq = self.inner.transport.local_enr().seq();
        let (radius, payload) = match &ping.payload {
            PingPayload::Legacy(custom) => {
                let radius = (custom.len() == 32).then(|| U256::from_le_slice(custom));
                let ours = PingPayload::Legacy(
                    self.announced_radius()
                        .0
                        .to_le_bytes::<32>()
                        .to_vec()
                        .into(),
                );
                (radius, ours)
            }
            PingPayload::Extension {
                payload_type,
                payload,
            } => match PingExtension::decode(*payload_type, payload) {
                Ok(
                    ext @ (PingExtension::Capabilities { .. } | PingExtension::BasicRadius { .. }),
                ) => {
                    if *payload_type == PingExtension::CAPABILITIES {
                        lock(&self.inner.capable).insert(requester);
                    }
                    (ext.data_radius(), self.our_ping_payload(*payload_type))
                }
                Ok(_) | Err(_) => {
                    let code = if matches!(
                        *payload_type,
                        PingExtension::CAPABILITIES | PingExtension::BASIC_RADIUS
                    ) {
                        PingError::FailedToDecodePayload
                    } else {
                        PingError::ExtensionNotSupported
                    };
                    let ext = PingExtension::error(code, "unsupported ping payload");
                    (
                        None,
                        PingPayload::Extension {
                            payload_type: ext.payload_type(),
                            payload: ext.encode().into(),
                        },
                    )
                }
            },
        };
        if let (Some(enr), Some(radius)) = (enr, radius) {
            self.learn_peer(enr.clone(), Radius(radius));
        }
        Pong { enr_seq, payload }
    }

    /// ENRs up to the packet budget.
    pub(super) fn fit_enrs<'a>(
        enrs: impl Iterator<Item = &'a Enr>,
    ) -> Vec<alloy_primitives::Bytes> {
        let mut used = 0;
        let mut out = Vec::new();
        for enr in enrs {
            let bytes = encode_enr(enr);
            if used + bytes.len() + 4 > MAX_ENR_PAYLOAD {
                break;
            }
            used += bytes.len() + 4;
            out.push(bytes);
        }
        out
    }

    pub(super) fn handle_find_nodes(&self, requester: NodeId, m: FindNodes) -> Nodes {
        let own = self.inner.transport.local_enr();
        let table = lock(&self.inner.table);
        let found = table.at_distances(&m.distances, 32);
        let mut candidates: Vec<&Enr> = Vec::new();
        if m.distances.contains(&0) {
            candidates.push(&own);
        }
        candidates.extend(
            found
                .iter()
                .filter(|e| e.node_id != requester)
                .map(|e| &e.peer),
        );
        Nodes {
            total: 1,
            enrs: Self::fit_enrs(candidates.into_iter()),
        }
    }

    pub(super) fn handle_find_content(
        &self,
        requester: NodeId,
        enr: Option<Enr>,
        version: ProtocolVersion,
        m: FindContent,
    ) -> Option<Content> {
        let Ok(key) = ContentKey::decode(&m.content_key) else {
            // A well-formed request for a key we cannot decode (another network's format, such
            // as trin's 0x20-0x22): answered in the protocol. No peer we know stores such
            // content, so the spec's answer is an empty ENR list; an empty TALKRESP would read
            // as a broken peer.
            tracing::debug!(peer = ?requester, "FindContent for a key of unknown format");
            return Some(Content::Enrs(Vec::new()));
        };
        let stored = self
            .with_store(|s| s.get_encoded(&key))
            .ok()
            .and_then(Result::ok)
            .flatten();
        let stored = stored.or_else(|| {
            let guard = lock(&self.inner.store);
            let proven = proof::prove_absence(&key, guard.as_ref()?)?;
            Some(proven.value().encode())
        });
        match stored {
            Some(value) if value.len() <= MAX_INLINE_CONTENT => {
                Some(Content::Content(value.into()))
            }
            Some(value) => {
                let enr = enr?;
                let free = self.inner.transport.utp_streams_available();
                if !self.inner.guard.begin_send(requester, &enr, free) {
                    return None;
                }
                let cid = self.inner.transport.new_connection_id(&enr);
                // v1 added a length prefix to content sent over uTP.
                let payload = if version >= ProtocolVersion::V1 {
                    framing::encode_items(&[&value])
                } else {
                    value
                };
                let overlay = self.clone();
                tokio::spawn(async move {
                    let transport = &overlay.inner.transport;
                    if let Err(e) = transport.utp_accept_send(enr.clone(), cid, payload).await {
                        tracing::debug!(error = %e, "uTP content send failed");
                    }
                    overlay.inner.guard.end_send(requester, &enr);
                });
                Some(Content::ConnectionId(cid))
            }
            None => {
                let target = key.content_id();
                let table = lock(&self.inner.table);
                let closest = table.closest_on_ring(target, self.inner.config.k);
                let enrs = Self::fit_enrs(
                    closest
                        .iter()
                        .filter(|e| e.node_id != requester)
                        .map(|e| &e.peer),
                );
                Some(Content::Enrs(enrs))
            }
        }
    }

    /// Whether we would take `key` if offered, as an accept code (the finer reason: see
    /// [`AcceptCode::on_wire`] for what is sent).
    pub(super) fn accept_code(&self, key_bytes: &[u8]) -> (AcceptCode, Option<ContentKey>) {
        let Ok(key) = ContentKey::decode(key_bytes) else {
            tracing::debug!("offered key of unknown format: not verifiable");
            return (AcceptCode::NotVerifiable, None);
        };
        if let Err(e) = self.require_trusted_root(&key) {
            tracing::debug!(error = %e, "offered key: not verifiable");
            return (AcceptCode::NotVerifiable, None);
        }
        let (stored, radius) = {
            let store = lock(&self.inner.store);
            match store.as_ref() {
                Some(store) => (store.contains(&key).unwrap_or(false), store.radius()),
                None => return (AcceptCode::Declined, None),
            }
        };
        if stored {
            return (AcceptCode::AlreadyStored, None);
        }
        // Routing by range: a diff item is for every node whose arc meets its key range.
        if !radius.meets(self.inner.local_id.ring(), key.id_range()) {
            return (AcceptCode::NotWithinRadius, None);
        }
        // By key, not id: a storage-top diff shares its id with the account's leaf proof.
        if !lock(&self.inner.inbound).insert(key) {
            return (AcceptCode::InboundTransferInProgress, None);
        }
        (AcceptCode::Accepted, Some(key))
    }

    pub(super) fn handle_offer(&self, requester: NodeId, enr: Option<Enr>, offer: Offer) -> Accept {
        let Some(enr) = enr else {
            // Without the ENR we cannot take a uTP stream from this peer.
            return Accept {
                connection_id: 0,
                codes: vec![AcceptCode::Declined; offer.content_keys.len()],
            };
        };
        if !self.inner.guard.allow_offer(requester) {
            return Accept {
                connection_id: 0,
                codes: vec![AcceptCode::RateLimited; offer.content_keys.len()],
            };
        }
        let mut codes = Vec::with_capacity(offer.content_keys.len());
        let mut accepted = Vec::new();
        for key in &offer.content_keys {
            let (code, key) = self.accept_code(key);
            if code == AcceptCode::NotVerifiable {
                self.inner
                    .counters
                    .offered_keys_not_verifiable
                    .fetch_add(1, Ordering::Relaxed);
            }
            codes.push(code.on_wire());
            accepted.extend(key);
        }
        if accepted.is_empty() {
            return Accept {
                connection_id: 0,
                codes,
            };
        }
        let Ok(permit) = self.inner.transfer_slots.clone().try_acquire_owned() else {
            self.release_inbound(&accepted);
            for c in codes.iter_mut().filter(|c| c.is_accepted()) {
                *c = AcceptCode::RateLimited;
            }
            return Accept {
                connection_id: 0,
                codes,
            };
        };
        let cid = self.inner.transport.new_connection_id(&enr);
        let overlay = self.clone();
        tokio::spawn(async move {
            overlay
                .receive_offered(requester, enr, cid, &accepted)
                .await;
            overlay.release_inbound(&accepted);
            drop(permit);
        });
        Accept {
            connection_id: cid,
            codes,
        }
    }

    pub(super) fn release_inbound(&self, keys: &[ContentKey]) {
        let mut inbound = lock(&self.inner.inbound);
        for key in keys {
            inbound.remove(key);
        }
    }

    pub(super) async fn receive_offered(
        &self,
        sender: NodeId,
        enr: Enr,
        cid: u16,
        keys: &[ContentKey],
    ) {
        let max = keys.len() * (MAX_VALUE_BYTES + 5);
        let payload = match self.inner.transport.utp_accept_receive(enr, cid, max).await {
            Ok(p) => p,
            Err(e) => {
                tracing::debug!(error = %e, "offered content never arrived");
                return;
            }
        };
        let items = match framing::decode_items(&payload, keys.len(), MAX_VALUE_BYTES) {
            Ok(items) if items.len() == keys.len() => items,
            _ => {
                tracing::debug!(peer = ?sender, "offer payload does not match the accepted keys");
                self.penalise(sender);
                return;
            }
        };
        // Verify everything first, then store what verified in one transaction.
        let mut valid = Vec::with_capacity(keys.len());
        let mut lied = false;
        for (key, bytes) in keys.iter().zip(items) {
            match self.validate(key, &bytes) {
                Ok(content) => valid.push(content),
                Err(e) => {
                    tracing::debug!(peer = ?sender, error = %e, "invalid offered content");
                    self.inner
                        .counters
                        .invalid_items
                        .fetch_add(1, Ordering::Relaxed);
                    lied = true;
                }
            }
        }
        if lied {
            self.penalise(sender);
        }
        let outcomes = match self.with_store(|s| s.put_batch(&valid)) {
            Ok(Ok(outcomes)) => outcomes,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "storing offered content failed");
                return;
            }
            Err(_) => return, // stopped
        };
        let fresh: Vec<VerifiedContent> = valid
            .into_iter()
            .zip(outcomes)
            .filter(|(_, o)| matches!(o, crate::store::PutOutcome::Stored { .. }))
            .map(|(c, _)| c)
            .collect();
        self.inner
            .counters
            .items_stored_from_offers
            .fetch_add(fresh.len() as u64, Ordering::Relaxed);
        if !fresh.is_empty() {
            self.gossip(fresh, Some(sender)).await;
        }
    }
}
