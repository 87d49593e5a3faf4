//! Fault injection on the uTP path (cargo feature `fault-injection`; never in an app's build).
//!
//! Tests and the uTP stress run (`examples/utp-stress.rs`) drop chosen uTP packets between
//! utp-rs and discv5 with a [`UtpFault`], to reproduce a lost packet exactly (the regression
//! tests) or a lossy link at random (the stress run), on real sockets.

use std::sync::Mutex;

/// Which way a uTP packet is going, seen from the node the fault is installed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// From utp-rs towards the peer.
    Outbound,
    /// From the peer towards utp-rs.
    Inbound,
}

/// uTP packet types (BEP 29).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UtpPacketType {
    /// `ST_DATA`: payload.
    Data,
    /// `ST_FIN`: the sender's last packet.
    Fin,
    /// `ST_STATE`: an acknowledgement.
    State,
    /// `ST_RESET`: the connection is gone.
    Reset,
    /// `ST_SYN`: opens a connection.
    Syn,
}

/// The header fields of one uTP packet, as a [`UtpFault`] sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UtpPacket {
    /// The packet's type.
    pub kind: UtpPacketType,
    /// The connection id in its header.
    pub conn_id: u16,
    /// Its sequence number.
    pub seq_nr: u16,
    /// The last sequence number its sender has received.
    pub ack_nr: u16,
    /// The remote node's id.
    pub peer: [u8; 32],
}

impl UtpPacket {
    /// Reads a packet's header; `None` for bytes that are not a uTP packet.
    pub(crate) fn parse(peer: [u8; 32], packet: &[u8]) -> Option<UtpPacket> {
        let header = packet.get(..20)?;
        let kind = match header[0] >> 4 {
            0 => UtpPacketType::Data,
            1 => UtpPacketType::Fin,
            2 => UtpPacketType::State,
            3 => UtpPacketType::Reset,
            4 => UtpPacketType::Syn,
            _ => return None,
        };
        let be = |i: usize| u16::from_be_bytes([header[i], header[i + 1]]);
        Some(UtpPacket {
            kind,
            conn_id: be(2),
            seq_nr: be(16),
            ack_nr: be(18),
            peer,
        })
    }
}

/// Decides which uTP packets are lost. Called for every packet, both ways, before anything else
/// looks at it.
pub trait UtpFault: Send + Sync {
    /// `true` drops the packet.
    fn drop_packet(&self, direction: Direction, packet: &UtpPacket) -> bool;
}

/// Drops each packet with probability `rate`, from a seeded generator (reproducible runs).
pub struct RandomLoss {
    rate: f64,
    state: Mutex<u64>,
}

impl RandomLoss {
    /// Loss of `rate` (0.0–1.0) in each direction, from `seed`.
    pub fn new(rate: f64, seed: u64) -> Self {
        RandomLoss {
            rate,
            state: Mutex::new(seed | 1),
        }
    }
}

impl UtpFault for RandomLoss {
    fn drop_packet(&self, _: Direction, _: &UtpPacket) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        // xorshift64*: enough for loss patterns, no dependency.
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        let x = state.wrapping_mul(0x2545_f491_4f6c_dd1d);
        ((x >> 11) as f64 / (1u64 << 53) as f64) < self.rate
    }
}
