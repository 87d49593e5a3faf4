//! uTP over discv5: the `utp-rs` socket adapter, and the per-stream receive budgets.
//!
//! utp-rs drives its streams through an [`AsyncUdpSocket`]; ours sends each uTP packet as a
//! TALKREQ on protocol `"utp"` and receives the TALKREQs that the router forwards. The TALKRESP
//! is meaningless to uTP (the spec says to ignore it), so outbound requests are fired without
//! waiting and inbound ones are answered empty at once.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use async_trait::async_trait;
use discv5::{Enr, NodeContact, TalkRequest};
use enr::NodeId;
use tokio::sync::{mpsc, Notify};
use utp_rs::conn::ConnectionConfig;
use utp_rs::peer::{ConnectionPeer, Peer};
use utp_rs::udp::AsyncUdpSocket;

use super::transport::Shared;
use super::UTP_PROTOCOL_ID;

/// uTP packet size: a 20-byte header plus 1024 bytes of data fits in one discv5 packet
/// (at most 1280 bytes) with room for the discv5 framing. trin uses the same.
const MAX_PACKET_SIZE: u16 = 1024;

/// Longest a stream may go without hearing from the peer; shorter when the whole transfer has a
/// shorter deadline, so that an abandoned stream is reaped soon after its caller gave up.
const MAX_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// The utp-rs connection settings for a transfer whose deadline is `utp_timeout`.
pub(crate) fn connection_config(utp_timeout: Duration) -> ConnectionConfig {
    ConnectionConfig {
        max_packet_size: MAX_PACKET_SIZE,
        max_idle_timeout: utp_timeout.min(MAX_IDLE_TIMEOUT),
        ..ConnectionConfig::default()
    }
}

/// A uTP peer: its ENR, identified by node id.
#[derive(Clone, Debug)]
pub(crate) struct UtpPeer(pub(crate) Enr);

impl ConnectionPeer for UtpPeer {
    type Id = NodeId;

    fn id(&self) -> NodeId {
        self.0.node_id()
    }

    // utp-rs only consolidates peers with equal ids. Keep the newer record; no assert, since a
    // panic here would kill utp-rs' socket task and with it every stream.
    fn consolidate(a: Self, b: Self) -> Self {
        if a.0.seq() >= b.0.seq() {
            a
        } else {
            b
        }
    }
}

/// uTP packet types (BEP 29).
const ST_DATA: u8 = 0;
/// Size of the fixed uTP header.
const HEADER_LEN: usize = 20;

/// The connection id and data length of a uTP DATA packet; `None` for other packets or
/// garbage (which utp-rs then rejects itself).
fn data_packet(packet: &[u8]) -> Option<(u16, usize)> {
    let header = packet.get(..HEADER_LEN)?;
    if header[0] >> 4 != ST_DATA {
        return None;
    }
    let conn_id = u16::from_be_bytes([header[2], header[3]]);
    // Walk the extension chain: each is [next type, length, data...].
    let mut offset = HEADER_LEN;
    let mut next = header[1];
    while next != 0 {
        let ext = packet.get(offset..offset + 2)?;
        next = ext[0];
        offset += 2 + usize::from(ext[1]);
    }
    Some((conn_id, packet.len().saturating_sub(offset)))
}

/// A receive budget: how much DATA a stream we read from may still bring in.
///
/// utp-rs' `read_to_eof` has no size limit and its buffer cannot be watched while it runs, so
/// the limit is enforced where the packets come in. Retransmitted packets count again, which
/// makes this a loose guard against a peer that sends without end; the exact check against the
/// caller's limit happens on the bytes read.
struct Budget {
    remaining: usize,
    /// Once spent, every further DATA packet of the stream is dropped, also after the reader
    /// has given up: the abandoned connection then idles out instead of buffering the rest.
    spent: bool,
    exceeded: Arc<Notify>,
}

/// Receive budgets of open streams, by (peer, the connection id the peer's packets carry).
#[derive(Default)]
pub(crate) struct Budgets(Mutex<HashMap<(NodeId, u16), Budget>>);

impl Budgets {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(NodeId, u16), Budget>> {
        // A poisoned map is still consistent (each operation is a single insert/update/remove).
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a budget of `limit` data bytes for packets from `peer` on `conn_id`; the
    /// returned guard removes it when dropped and tells when it was exceeded.
    pub(crate) fn register(
        self: &Arc<Self>,
        peer: NodeId,
        conn_id: u16,
        limit: usize,
    ) -> BudgetGuard {
        let exceeded = Arc::new(Notify::new());
        self.lock().insert(
            (peer, conn_id),
            Budget {
                remaining: limit,
                spent: false,
                exceeded: exceeded.clone(),
            },
        );
        BudgetGuard {
            budgets: Arc::downgrade(self),
            key: (peer, conn_id),
            exceeded,
        }
    }

    /// Charges a packet to its stream's budget. Returns false if the packet must be dropped
    /// because the budget is spent.
    fn charge(&self, peer: NodeId, packet: &[u8]) -> bool {
        let Some((conn_id, len)) = data_packet(packet) else {
            return true;
        };
        let mut budgets = self.lock();
        let Some(budget) = budgets.get_mut(&(peer, conn_id)) else {
            return true;
        };
        if budget.spent {
            return false;
        }
        match budget.remaining.checked_sub(len) {
            Some(left) => {
                budget.remaining = left;
                true
            }
            None => {
                budget.spent = true;
                // notify_one stores a permit, so the reader sees it even if not yet waiting.
                budget.exceeded.notify_one();
                false
            }
        }
    }
}

/// Keeps a receive budget registered while a stream is read.
pub(crate) struct BudgetGuard {
    budgets: Weak<Budgets>,
    key: (NodeId, u16),
    exceeded: Arc<Notify>,
}

impl BudgetGuard {
    /// Resolves once the peer has sent more than the budget allows.
    pub(crate) async fn exceeded(&self) {
        self.exceeded.notified().await
    }
}

impl Drop for BudgetGuard {
    fn drop(&mut self) {
        let Some(budgets) = self.budgets.upgrade() else {
            return;
        };
        let spent = budgets.lock().get(&self.key).is_some_and(|b| b.spent);
        let (key, ours) = (self.key, self.exceeded.clone());
        // Remove our own registration only, never a later stream's on the same ids.
        let remove = move |budgets: &Budgets| {
            let mut map = budgets.lock();
            if map
                .get(&key)
                .is_some_and(|b| Arc::ptr_eq(&b.exceeded, &ours))
            {
                map.remove(&key);
            }
        };
        match tokio::runtime::Handle::try_current() {
            // Keep dropping the flood until utp-rs has reaped the abandoned connection.
            Ok(runtime) if spent => {
                runtime.spawn(async move {
                    tokio::time::sleep(MAX_IDLE_TIMEOUT + Duration::from_secs(1)).await;
                    remove(&budgets);
                });
            }
            _ => remove(&budgets),
        }
    }
}

/// The socket utp-rs sends and receives through.
///
/// utp-rs' socket task never ends (it holds a sender to itself), so this holds the transport
/// state weakly: a strong reference would keep discv5, and its UDP socket, alive forever.
pub(crate) struct Discv5UtpSocket {
    pub(crate) shared: Weak<Shared>,
    pub(crate) incoming: mpsc::UnboundedReceiver<TalkRequest>,
    pub(crate) budgets: Arc<Budgets>,
}

#[async_trait]
impl AsyncUdpSocket<UtpPeer> for Discv5UtpSocket {
    async fn send_to(&mut self, buf: &[u8], peer: &Peer<UtpPeer>) -> io::Result<usize> {
        let Some(shared) = self.shared.upgrade() else {
            return Err(io::ErrorKind::NotConnected.into());
        };
        // The stream was opened with the peer's ENR; a stream opened by a peer's SYN only
        // carries its id, so look the record up.
        let enr = match peer.peer() {
            Some(p) => p.0.clone(),
            None => shared.known_enr(peer.id()).ok_or_else(|| {
                io::Error::new(io::ErrorKind::NotFound, "no ENR known for uTP peer")
            })?,
        };
        // utp-rs needs send_to to return at once, and talk_req's future is 'static: build it
        // here, run it in the background, ignore its (empty) answer.
        let request = shared.with_discv5(|discv5| {
            let contact = NodeContact::try_from_enr(enr, discv5.ip_mode())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{e:?}")))?;
            Ok::<_, io::Error>(discv5.talk_req(contact, UTP_PROTOCOL_ID.to_vec(), buf.to_vec()))
        });
        let request = request.ok_or(io::ErrorKind::NotConnected)??;
        drop(shared);
        tokio::spawn(async move {
            if let Err(e) = request.await {
                tracing::trace!(%e, "uTP packet not answered");
            }
        });
        Ok(buf.len())
    }

    async fn recv_from(&mut self, buf: &mut [u8]) -> io::Result<(usize, Peer<UtpPeer>)> {
        loop {
            let Some(request) = self.incoming.recv().await else {
                return Err(io::ErrorKind::NotConnected.into());
            };
            let node_id = *request.node_id();
            let body = request.body();
            let accepted = self.budgets.charge(node_id, body);
            let n = body.len().min(buf.len());
            buf[..n].copy_from_slice(&body[..n]);
            if let Err(e) = request.respond(Vec::new()) {
                tracing::trace!(%e, "cannot answer uTP packet");
            }
            if accepted {
                return Ok((n, Peer::new_id(node_id)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(kind: u8, ext: u8, conn_id: u16) -> Vec<u8> {
        let mut h = vec![0u8; HEADER_LEN];
        h[0] = (kind << 4) | 1;
        h[1] = ext;
        h[2..4].copy_from_slice(&conn_id.to_be_bytes());
        h
    }

    #[test]
    fn data_packets_are_measured_past_their_extensions() {
        let mut p = header(ST_DATA, 0, 7);
        p.extend_from_slice(&[1; 100]);
        assert_eq!(data_packet(&p), Some((7, 100)));

        // Selective-ack extension (type 1, 4 bytes), then 10 bytes of data.
        let mut p = header(ST_DATA, 1, 9);
        p.extend_from_slice(&[0, 4, 0xff, 0xff, 0xff, 0xff]);
        p.extend_from_slice(&[2; 10]);
        assert_eq!(data_packet(&p), Some((9, 10)));
    }

    #[test]
    fn other_packets_and_garbage_are_not_charged() {
        assert_eq!(data_packet(&header(2, 0, 7)), None); // STATE
        assert_eq!(data_packet(&header(4, 0, 7)), None); // SYN
        assert_eq!(data_packet(&[0; 5]), None);
        // Extension chain running off the end.
        let mut p = header(ST_DATA, 1, 9);
        p.push(0);
        assert_eq!(data_packet(&p), None);
    }

    #[test]
    fn budget_drops_packets_once_spent_and_is_removed_with_its_guard() {
        let budgets = Arc::new(Budgets::default());
        let peer = NodeId::new(&[1; 32]);
        let mut packet = header(ST_DATA, 0, 5);
        packet.extend_from_slice(&[0; 600]);
        let guard = budgets.register(peer, 5, 1000);
        assert!(budgets.charge(peer, &packet));
        assert!(!budgets.charge(peer, &packet));
        // Another stream (other id) is not affected.
        assert!(budgets.charge(NodeId::new(&[2; 32]), &packet));
        drop(guard);
        assert!(budgets.lock().is_empty());
        assert!(budgets.charge(peer, &packet));
    }
}
