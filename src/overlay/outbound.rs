//! Outbound: the requests we send one peer — Ping, FindNodes, FindContent (inline or over uTP),
//! Offer — and what each answer tells us about the peer (table bookkeeping, penalties for
//! answers that break the protocol).

use super::config::{MAX_OFFER_KEY_BYTES, MAX_VALUE_BYTES};
use super::service::{decode_enr, lock, node_id_of};
use super::{Overlay, OverlayError};
use crate::content::{ContentKey, Radius};
use crate::net::Enr;
use crate::proof::VerifiedContent;
use crate::wire::{
    check_client_info, framing, AcceptCode, Content, FindContent, FindNodes, Message, Offer, Ping,
    PingExtension, PingPayload, ProtocolVersion, MAX_CONTENT_KEYS_PER_OFFER,
};
use alloy_primitives::U256;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Capabilities we announce in ping extension type 0.
const CAPABILITIES: [u16; 3] = [
    PingExtension::CAPABILITIES,
    PingExtension::BASIC_RADIUS,
    PingExtension::ERROR,
];

/// What a FindContent to one peer gave.
pub(super) enum PeerAnswer {
    Value(Vec<u8>),
    Closer(Vec<Enr>),
}

impl Overlay {
    pub(super) fn our_ping_payload(&self, payload_type: u16) -> PingPayload {
        let data_radius = self.announced_radius().0;
        let ext = match payload_type {
            PingExtension::CAPABILITIES => PingExtension::Capabilities {
                client_info: self.client_info().into(),
                data_radius,
                capabilities: CAPABILITIES.to_vec(),
            },
            _ => PingExtension::BasicRadius { data_radius },
        };
        PingPayload::Extension {
            payload_type: ext.payload_type(),
            payload: ext.encode().into(),
        }
    }

    /// The configured client info if it is in the spec's format, else the empty string.
    pub(super) fn client_info(&self) -> Vec<u8> {
        let info = self.inner.config.client_info.as_bytes();
        match check_client_info(info) {
            Ok(()) => info.to_vec(),
            Err(e) => {
                tracing::debug!(error = %e, "configured client info not sent");
                Vec::new()
            }
        }
    }

    pub(super) async fn request(
        &self,
        peer: &Enr,
        message: Message,
    ) -> Result<(Message, u64, u64), OverlayError> {
        let version = self
            .inner
            .transport
            .peer_version(peer)
            .map_err(OverlayError::Net)?;
        let body = message.encode(version);
        self.check_sent(&body, version);
        let sent = body.len() as u64;
        self.inner
            .counters
            .requests_sent
            .fetch_add(1, Ordering::Relaxed);
        let id = node_id_of(peer);
        let response = match self.inner.transport.request(peer, body).await {
            Ok(r) => r,
            Err(e) => {
                lock(&self.inner.table).record_failure(id);
                return Err(OverlayError::Net(e));
            }
        };
        let received = response.len() as u64;
        if response.is_empty() {
            // An empty TALKRESP is a refusal (a rate limit, a key the peer cannot decode), not
            // a lie and not silence: the peer is live, and counted as refusing.
            lock(&self.inner.table).record_refusal(id, Instant::now());
            self.inner
                .counters
                .requests_refused
                .fetch_add(1, Ordering::Relaxed);
            return Err(OverlayError::BadResponse("empty answer: refused".into()));
        }
        let decoded = Message::decode(&response, version).map_err(|e| {
            self.penalise(id);
            OverlayError::BadResponse(e.to_string())
        })?;
        let content_answer = matches!(decoded, Message::Content(_) | Message::Accept(_));
        lock(&self.inner.table).record_success(id, Instant::now(), content_answer);
        Ok((decoded, sent, received))
    }

    /// Ping `peer`; on a Pong, the peer enters the table with its radius.
    pub async fn ping(&self, peer: &Enr) -> Result<Radius, OverlayError> {
        let id = node_id_of(peer);
        let first = !lock(&self.inner.capable).contains(&id);
        let payload_type = if first {
            PingExtension::CAPABILITIES
        } else {
            PingExtension::BASIC_RADIUS
        };
        let enr_seq = self.inner.transport.local_enr().seq();
        let ping = Message::Ping(Ping {
            enr_seq,
            payload: self.our_ping_payload(payload_type),
        });
        let (response, _, _) = self.request(peer, ping).await?;
        let Message::Pong(pong) = response else {
            return Err(OverlayError::BadResponse(format!(
                "{} to a Ping",
                response.name()
            )));
        };
        let radius = match pong.payload {
            PingPayload::Extension {
                payload_type,
                payload,
            } => {
                let ext = PingExtension::decode(payload_type, &payload)
                    .map_err(|e| OverlayError::BadResponse(e.to_string()))?;
                if payload_type == PingExtension::CAPABILITIES {
                    lock(&self.inner.capable).insert(id);
                }
                ext.data_radius()
                    .ok_or_else(|| OverlayError::BadResponse("Pong without radius".into()))?
            }
            PingPayload::Legacy(custom) if custom.len() == 32 => U256::from_le_slice(&custom),
            PingPayload::Legacy(_) => {
                return Err(OverlayError::BadResponse("bad legacy Pong".into()))
            }
        };
        self.learn_peer(peer.clone(), Radius(radius));
        Ok(Radius(radius))
    }

    /// FindNodes to `peer`; returns valid ENRs at the asked distances from it.
    pub async fn find_nodes(
        &self,
        peer: &Enr,
        distances: Vec<u16>,
    ) -> Result<Vec<Enr>, OverlayError> {
        let (response, _, _) = self
            .request(
                peer,
                Message::FindNodes(FindNodes {
                    distances: distances.clone(),
                }),
            )
            .await?;
        let Message::Nodes(nodes) = response else {
            return Err(OverlayError::BadResponse(format!(
                "{} to FindNodes",
                response.name()
            )));
        };
        let peer_id = node_id_of(peer);
        let mut enrs = Vec::with_capacity(nodes.enrs.len());
        for bytes in &nodes.enrs {
            // An ENR that does not decode, or is not at a distance we asked for, is a lie we
            // can prove: the whole answer is dropped and the peer with it.
            match decode_enr(bytes) {
                Some(e) if distances.contains(&peer_id.log2_distance(node_id_of(&e))) => {
                    enrs.push(e)
                }
                _ => {
                    self.penalise(peer_id);
                    return Err(OverlayError::BadResponse(
                        "Nodes with an invalid ENR or one at a distance not asked for".into(),
                    ));
                }
            }
        }
        enrs.retain(|e| self.inner.transport.peer_version(e).is_ok());
        Ok(enrs)
    }

    pub(super) async fn find_content_from(
        &self,
        peer: &Enr,
        key: &ContentKey,
    ) -> Result<(PeerAnswer, u64, u64), OverlayError> {
        let request = Message::FindContent(FindContent {
            content_key: key.encode().into(),
        });
        let (response, sent, received) = self.request(peer, request).await?;
        let Message::Content(content) = response else {
            return Err(OverlayError::BadResponse(format!(
                "{} to FindContent",
                response.name()
            )));
        };
        match content {
            Content::Content(bytes) => Ok((PeerAnswer::Value(bytes.to_vec()), sent, received)),
            Content::ConnectionId(cid) => {
                let version = self
                    .inner
                    .transport
                    .peer_version(peer)
                    .map_err(OverlayError::Net)?;
                let max = MAX_VALUE_BYTES + 5;
                let data = self
                    .inner
                    .transport
                    .utp_connect_receive(peer.clone(), cid, max)
                    .await
                    .map_err(|e| {
                        // Promised streams that never deliver, again and again: out it goes.
                        if self.inner.guard.stream_failed(node_id_of(peer)) {
                            self.penalise(node_id_of(peer));
                        }
                        OverlayError::Net(e)
                    })?;
                self.inner.guard.stream_delivered(node_id_of(peer));
                let received = received + data.len() as u64;
                let value = if version >= ProtocolVersion::V1 {
                    let mut items = framing::decode_items(&data, 1, MAX_VALUE_BYTES)
                        .map_err(|e| OverlayError::BadResponse(e.to_string()))?;
                    items
                        .pop()
                        .ok_or_else(|| OverlayError::BadResponse("empty uTP payload".into()))?
                } else {
                    data
                };
                Ok((PeerAnswer::Value(value), sent, received))
            }
            Content::Enrs(enrs) => {
                let enrs = enrs
                    .iter()
                    .filter_map(|b| decode_enr(b))
                    .filter(|e| self.inner.transport.peer_version(e).is_ok())
                    .collect();
                Ok((PeerAnswer::Closer(enrs), sent, received))
            }
        }
    }

    /// Ask one peer for `key` and verify its answer; a peer that answers with invalid content
    /// leaves the table. Returns `NotFound` when the peer points elsewhere.
    pub async fn ask_peer(
        &self,
        peer: &Enr,
        key: ContentKey,
    ) -> Result<VerifiedContent, OverlayError> {
        match self.find_content_from(peer, &key).await?.0 {
            PeerAnswer::Value(bytes) => self.validate(&key, &bytes).inspect_err(|_| {
                self.penalise(node_id_of(peer));
            }),
            PeerAnswer::Closer(_) => Err(OverlayError::NotFound(key)),
        }
    }

    /// Offer `items` (verified content) to `peer`, sending what it accepts over uTP. Items
    /// are split into as many Offer messages as the packet size and the 64-key limit require.
    /// Returns one accept code per item, in order.
    pub async fn offer(
        &self,
        peer: &Enr,
        items: &[VerifiedContent],
    ) -> Result<Vec<AcceptCode>, OverlayError> {
        let mut codes = Vec::with_capacity(items.len());
        let mut rest = items;
        while !rest.is_empty() {
            let n = offer_chunk_len(rest);
            codes.extend(self.offer_chunk(peer, &rest[..n]).await?);
            rest = &rest[n..];
        }
        Ok(codes)
    }

    /// One Offer → Accept → uTP exchange.
    pub(super) async fn offer_chunk(
        &self,
        peer: &Enr,
        items: &[VerifiedContent],
    ) -> Result<Vec<AcceptCode>, OverlayError> {
        let keys = items.iter().map(|c| c.key().encode().into()).collect();
        let (response, _, _) = self
            .request(peer, Message::Offer(Offer { content_keys: keys }))
            .await?;
        let Message::Accept(accept) = response else {
            return Err(OverlayError::BadResponse(format!(
                "{} to Offer",
                response.name()
            )));
        };
        if accept.codes.len() != items.len() {
            return Err(OverlayError::BadResponse(
                "Accept with the wrong number of codes".into(),
            ));
        }
        let accepted: Vec<Vec<u8>> = items
            .iter()
            .zip(&accept.codes)
            .filter(|(_, c)| c.is_accepted())
            .map(|(item, _)| item.value().encode())
            .collect();
        if !accepted.is_empty() {
            self.inner
                .counters
                .offers_accepted
                .fetch_add(1, Ordering::Relaxed);
            let payload = framing::encode_items(&accepted);
            self.inner
                .transport
                .utp_connect_send(peer.clone(), accept.connection_id, payload)
                .await
                .map_err(OverlayError::Net)?;
        }
        Ok(accept.codes)
    }
}

/// How many of `items` (at least one) fit one Offer: at most 64 keys, and keys small enough
/// for the TALKREQ to fit a discv5 packet.
fn offer_chunk_len(items: &[VerifiedContent]) -> usize {
    let mut bytes = 0;
    let mut n = 0;
    for item in items.iter().take(MAX_CONTENT_KEYS_PER_OFFER) {
        // Each key costs its bytes plus a 4-byte SSZ offset.
        let cost = item.key().encode().len() + 4;
        if n > 0 && bytes + cost > MAX_OFFER_KEY_BYTES {
            break;
        }
        bytes += cost;
        n += 1;
    }
    n.max(1)
}
