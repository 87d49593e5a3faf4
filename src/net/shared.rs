//! State the transport shares with the uTP socket adapter and the event router: discv5 itself,
//! the ENRs seen, and the address of each peer's latest session. The three hold it so that
//! none of them needs the others.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Mutex, RwLock};

use discv5::{Discv5, Enr, NodeContact};
use enr::NodeId;

use super::NetError;

/// ENRs remembered from sessions: twice discv5's default session cache (1000), as trin does.
const ENR_CACHE_CAPACITY: usize = 2000;

/// ENRs we have seen, newest record per node, oldest node evicted first.
pub(crate) struct EnrCache {
    enrs: HashMap<NodeId, Enr>,
    order: VecDeque<NodeId>,
}

impl EnrCache {
    pub(crate) fn new() -> Self {
        EnrCache {
            enrs: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    fn insert(&mut self, enr: Enr) {
        let id = enr.node_id();
        match self.enrs.get_mut(&id) {
            Some(known) => {
                if enr.seq() > known.seq() {
                    *known = enr;
                }
            }
            None => {
                self.enrs.insert(id, enr);
                self.order.push_back(id);
                if self.order.len() > ENR_CACHE_CAPACITY {
                    if let Some(old) = self.order.pop_front() {
                        self.enrs.remove(&old);
                    }
                }
            }
        }
    }
}

/// State shared with the uTP socket adapter and the router (both hold it weakly).
pub(crate) struct Shared {
    /// `None` once shut down: taking discv5 out and dropping it is what stops its tasks.
    pub(crate) discv5: RwLock<Option<Discv5>>,
    pub(crate) enrs: Mutex<EnrCache>,
    /// The address each peer's latest session runs on. For a peer behind a NAT, or one that
    /// just moved, it is where its packets really come from, which its ENR may not say.
    pub(crate) sessions: Mutex<HashMap<NodeId, SocketAddr>>,
}

/// Session addresses remembered; beyond this the map starts over (the ENR's address is
/// then used until the next session).
const SESSION_ADDR_CAPACITY: usize = 4096;

impl Shared {
    /// Runs `f` on discv5 if it is still running. Never held across an await.
    pub(crate) fn with_discv5<T>(&self, f: impl FnOnce(&Discv5) -> T) -> Option<T> {
        let guard = self.discv5.read().unwrap_or_else(|e| e.into_inner());
        guard.as_ref().map(f)
    }

    fn enrs(&self) -> std::sync::MutexGuard<'_, EnrCache> {
        self.enrs.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn remember(&self, enr: Enr) {
        self.enrs().insert(enr);
    }

    pub(crate) fn remember_session(&self, id: NodeId, addr: SocketAddr) {
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        if sessions.len() >= SESSION_ADDR_CAPACITY {
            sessions.clear();
        }
        sessions.insert(id, addr);
    }

    /// How to reach `enr`'s node: at its latest session's address when there is one (the
    /// address its packets come from: right behind NATs and after moves), else at its ENR's.
    pub(crate) fn contact(&self, discv5: &Discv5, enr: Enr) -> Result<NodeContact, NetError> {
        let session = self
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&enr.node_id())
            .copied();
        match session {
            Some(addr) => Ok(NodeContact::new(enr.public_key(), addr, Some(enr))),
            None => NodeContact::try_from_enr(enr, discv5.ip_mode())
                .map_err(|e| NetError::Unreachable(format!("{e:?}"))),
        }
    }

    /// The newest ENR we know for `id`: discv5's routing table only holds some peers (full
    /// buckets), so sessions seen are remembered too.
    pub(crate) fn known_enr(&self, id: &NodeId) -> Option<Enr> {
        let table = self.with_discv5(|d| d.find_enr(id)).flatten();
        let cached = self.enrs().enrs.get(id).cloned();
        match (table, cached) {
            (Some(a), Some(b)) => Some(if a.seq() >= b.seq() { a } else { b }),
            (a, b) => a.or(b),
        }
    }
}
