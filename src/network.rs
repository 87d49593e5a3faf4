//! [`Network`]: a running state-network node — transport, overlay, store — on a tokio runtime.
//!
//! `Network::start` binds the socket, opens the store in the data directory, restores the
//! trusted headers and known peers it kept there, joins through the bootnodes and starts the
//! tasks that answer requests and keep the routing table alive. `stop` ends them all and frees
//! the port and the database file.

use crate::content::{ContentKey, Radius};
use crate::data_dir::{DataDir, DataDirError};
use crate::net::{Enr, NetError, Transport, TransportConfig};
use crate::overlay::{
    FoundContent, Link, LinkConfig, LinkStatus, Locate, NodeId, Overlay, OverlayConfig,
    OverlayError, RecoveryReason,
};
use crate::proof::{BlockHeader, HeaderError, VerifiedContent};
use crate::store::{ContentStore, StoreConfig, StoreError};
use alloy_primitives::B256;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How to run a node.
#[derive(Clone, Debug)]
pub struct NetworkConfig {
    /// Where the store and the node key live.
    pub data_dir: PathBuf,
    /// The UDP address to bind (port 0 picks one).
    pub bind: SocketAddr,
    /// The address to advertise, when it differs from `bind` (a public address behind NAT).
    pub external: Option<SocketAddr>,
    /// Nodes to join through.
    pub bootnodes: Vec<Enr>,
    /// The chain whose state we serve; peers on other chains are not talked to.
    pub chain_id: u64,
    /// Bytes of content to keep. The radius shrinks once the store is full.
    pub capacity_bytes: u64,
    /// How often peers not heard from are pinged.
    pub ping_interval: Duration,
    /// Per-request timeout.
    pub request_timeout: Duration,
    /// Overlay tunables.
    pub overlay: OverlayConfig,
    /// Link upkeep: keep-alive, recovery, reachability, query retries.
    pub link: LinkConfig,
    /// Let peers' observations of our address replace `external` in the ENR (see
    /// [`TransportConfig::follow_observed_address`]); a change is then a sign the network
    /// changed, and starts a recovery.
    pub follow_observed_address: bool,
}

impl NetworkConfig {
    /// A node on 127.0.0.1 with a free port, for local networks and tests.
    pub fn loopback(data_dir: impl Into<PathBuf>, chain_id: u64) -> Self {
        Self {
            data_dir: data_dir.into(),
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            external: None,
            bootnodes: Vec::new(),
            chain_id,
            capacity_bytes: 100 * 1024 * 1024,
            ping_interval: Duration::from_secs(30),
            request_timeout: Duration::from_secs(2),
            overlay: OverlayConfig::default(),
            link: LinkConfig::default(),
            follow_observed_address: false,
        }
    }
}

/// Why the network could not start or answer.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// The data directory or the key file failed.
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    /// The store could not be opened or used.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The transport could not start.
    #[error(transparent)]
    Net(#[from] NetError),
    /// A header handed to us does not decode.
    #[error("invalid header: {0}")]
    Header(#[from] HeaderError),
    /// A lookup or an offer failed.
    #[error(transparent)]
    Overlay(#[from] OverlayError),
}

/// A snapshot of a node's state.
#[derive(Clone, Debug)]
pub struct NetworkStatus {
    /// Our node id.
    pub node_id: B256,
    /// Our ENR, as peers see it.
    pub enr: Enr,
    /// Peers in the routing table.
    pub peers: usize,
    /// Our radius.
    pub radius: Radius,
    /// Bytes of content stored.
    pub stored_bytes: u64,
    /// Content items stored.
    pub stored_items: u64,
    /// The newest trusted header's number.
    pub newest_header: Option<u64>,
    /// The link: paused, reachable, client only, recoveries.
    pub link: LinkStatus,
}

/// A running node of the state network.
pub struct Network {
    overlay: Overlay,
    link: Link,
    data_dir: DataDir,
    shutdown: watch::Sender<bool>,
    tasks: std::sync::Mutex<Vec<JoinHandle<()>>>,
}

impl Network {
    /// Start a node. Must be called within a tokio runtime; the node's tasks run on it.
    pub async fn start(config: NetworkConfig) -> Result<Network, NetworkError> {
        let data_dir = DataDir::open(&config.data_dir)?;
        let secret_key = data_dir.load_or_create_key()?;
        let mut transport_config = TransportConfig::loopback(secret_key, config.chain_id);
        transport_config.bind = config.bind;
        transport_config.external = config.external;
        transport_config.request_timeout = config.request_timeout;
        transport_config.follow_observed_address = config.follow_observed_address;
        transport_config.min_enr_seq = data_dir.next_enr_seq();
        let (transport, requests) = Transport::start(transport_config).await?;
        data_dir.save_enr_seq(transport.local_enr().seq());
        let node_id = crate::content::ContentId::from(transport.local_node_id());
        let store = match ContentStore::open_in_dir(
            data_dir.path(),
            StoreConfig {
                node_id,
                capacity_bytes: config.capacity_bytes,
            },
        ) {
            Ok(store) => store,
            Err(e) => {
                transport.shutdown().await;
                return Err(e.into());
            }
        };
        let overlay = Overlay::new(transport, store, config.overlay.clone());

        // What the last run knew: trusted headers and peers.
        let (headers, peers) = overlay.with_store(|s| {
            (
                s.headers_newest_first(crate::overlay::MAX_TRUSTED_HEADERS),
                s.peers(256),
            )
        })?;
        overlay.update_heads(|heads| {
            for stored in headers.into_iter().flatten() {
                if let Ok(header) = BlockHeader::decode(&stored.header_rlp) {
                    heads.insert(header);
                }
            }
        });
        let mut contacts: Vec<Enr> = peers
            .into_iter()
            .flatten()
            .filter_map(|p| crate::net::enr_from_base64(&p.enr).ok())
            .collect();
        contacts.extend(config.bootnodes.iter().cloned());

        let link = Link::new(
            overlay.clone(),
            config.link.clone(),
            config.bootnodes.clone(),
        );
        let (shutdown, _) = watch::channel(false);
        let tasks = vec![
            tokio::spawn(overlay.clone().serve(requests)),
            tokio::spawn(upkeep(
                overlay.clone(),
                link.clone(),
                data_dir.clone(),
                config.ping_interval,
                shutdown.subscribe(),
            )),
            tokio::spawn(link.clone().run()),
        ];
        overlay.bootstrap(&contacts).await;
        Ok(Network {
            overlay,
            link,
            data_dir,
            shutdown,
            tasks: std::sync::Mutex::new(tasks),
        })
    }

    /// The overlay, for lookups and offers beyond the conveniences here.
    pub fn overlay(&self) -> &Overlay {
        &self.overlay
    }

    /// Our ENR.
    pub fn enr(&self) -> Enr {
        self.overlay.transport().local_enr()
    }

    /// Our node id.
    pub fn node_id(&self) -> NodeId {
        self.overlay.local_id()
    }

    /// Trust a block header (RLP): content anchored to its state root becomes verifiable. It
    /// is kept in the store, so it is trusted again after a restart.
    pub fn add_trusted_header(&self, header_rlp: &[u8]) -> Result<BlockHeader, NetworkError> {
        let header = BlockHeader::decode(header_rlp)?;
        self.overlay
            .with_store(|s| s.put_header(header.number, header.hash, header_rlp))??;
        self.overlay.update_heads(|h| h.insert(header.clone()));
        Ok(header)
    }

    /// Find content in the network (or our store), verified against a trusted header. A
    /// lookup that finds nothing is tried again with backoff ([`Link::find_content`]).
    pub async fn find_content(&self, key: ContentKey) -> Result<FoundContent, NetworkError> {
        Ok(self.link.find_content(key).await?)
    }

    /// The link upkeep: recovery, keep-alive, pause and resume.
    pub fn link(&self) -> &Link {
        &self.link
    }

    /// How recoveries find our current address (see [`Locate`]).
    pub fn set_locate(&self, locate: Locate) {
        self.link.set_locate(locate);
    }

    /// The network under us changed (an app's connectivity callback): follow the new address
    /// in the ENR, ping the cached peers again and refill the table. Returns how many cached
    /// peers answered.
    pub async fn network_changed(&self) -> usize {
        let alive = self.link.recover(RecoveryReason::AppSaid).await;
        self.data_dir.save_enr_seq(self.enr().seq());
        alive
    }

    /// Background: stop every timer and keep-alive. See [`Link::pause`].
    pub fn pause(&self) {
        self.link.pause();
    }

    /// Foreground again: returns once a cached peer answered (within about a second), or
    /// false if none did in that time. See [`Link::resume`].
    pub async fn resume(&self) -> bool {
        self.link.resume().await
    }

    /// Store verified content within our radius and offer it to interested peers. Returns how
    /// many offers of items peers accepted.
    pub async fn offer_content(&self, items: Vec<VerifiedContent>) -> Result<usize, NetworkError> {
        self.overlay.with_store(|s| s.put_batch(&items))??;
        Ok(self.overlay.gossip(items, None).await)
    }

    /// A snapshot of the node's state.
    pub fn status(&self) -> NetworkStatus {
        let (radius, stored_bytes, stored_items) = self
            .overlay
            .with_store(|s| (s.radius(), s.stored_bytes(), s.len()))
            .unwrap_or((Radius::ZERO, 0, 0));
        NetworkStatus {
            node_id: self.overlay.local_id().0,
            enr: self.enr(),
            peers: self.overlay.with_table(|t| t.len()),
            radius,
            stored_bytes,
            stored_items,
            newest_header: self.overlay.with_heads(|h| h.newest().map(|h| h.number)),
            link: self.link.status(),
        }
    }

    /// Stop every task, remember the peers for the next start, and free the port and the
    /// database file. Calling it again does nothing.
    pub async fn stop(&self) {
        if self.shutdown.send_replace(true) {
            return;
        }
        save_peers(&self.overlay);
        self.link.stop();
        let tasks: Vec<JoinHandle<()>> =
            std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        for task in &tasks {
            task.abort();
        }
        for task in tasks {
            let _ = task.await;
        }
        self.overlay.transport().shutdown().await;
        if let Err(e) = self.overlay.close_store() {
            tracing::warn!(error = %e, "closing the store failed");
        }
    }

    /// Whether [`Network::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        *self.shutdown.borrow()
    }
}

fn save_peers(overlay: &Overlay) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let peers: Vec<(B256, String)> = overlay.with_table(|t| {
        t.connected()
            .map(|e| (e.node_id.0, e.peer.to_base64()))
            .collect()
    });
    let _ = overlay.with_store(|s| {
        for (id, enr) in peers {
            if let Err(e) = s.put_peer(id.0, &enr, now) {
                tracing::debug!(error = %e, "could not save a peer");
            }
        }
    });
}

async fn upkeep(
    overlay: Overlay,
    link: Link,
    data_dir: DataDir,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(interval);
    tick.tick().await;
    // Saved at start; written again only when a recovery moved it on.
    let mut saved_seq = overlay.transport().local_enr().seq();
    loop {
        tokio::select! {
            _ = tick.tick() => {
                // Paused: no timer does anything (the app is in the background).
                if link.is_paused() {
                    continue;
                }
                overlay.refresh(interval).await;
                save_peers(&overlay);
                let seq = overlay.transport().local_enr().seq();
                if seq != saved_seq {
                    data_dir.save_enr_seq(seq);
                    saved_seq = seq;
                }
            }
            _ = shutdown.changed() => return,
        }
    }
}
