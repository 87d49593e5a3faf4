//! Content ids, the ring distance of seed 001, and a node's radius of interest.

use alloy_primitives::{B256, U256};
use std::fmt;

/// Where a piece of content lives in the DHT: a 256-bit point on the ring.
///
/// Node ids are points on the same ring, so [`ContentId::distance`] works between any two.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ContentId(pub B256);

impl ContentId {
    /// The id as a big-endian 256-bit integer.
    pub fn to_u256(self) -> U256 {
        U256::from_be_bytes(self.0 .0)
    }

    /// The id of a big-endian 256-bit integer.
    pub fn from_u256(value: U256) -> Self {
        Self(B256::from(value.to_be_bytes::<32>()))
    }

    /// The ring distance from this id to `other` (see [`ring_distance`]).
    pub fn distance(self, other: ContentId) -> U256 {
        ring_distance(self.to_u256(), other.to_u256())
    }

    /// The 32 raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0 .0
    }
}

impl From<[u8; 32]> for ContentId {
    fn from(bytes: [u8; 32]) -> Self {
        Self(B256::from(bytes))
    }
}

impl fmt::Debug for ContentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentId({})", self.0)
    }
}

impl fmt::Display for ContentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The seed's ring distance: the shorter way around a ring of 2^256 points.
///
/// Unlike XOR, adjacent ids are close, so trie neighbours (adjacent `keccak(address)`) land on
/// neighbouring nodes; a node's radius then covers a contiguous slice of the trie.
pub fn ring_distance(a: U256, b: U256) -> U256 {
    let diff = if a > b { a - b } else { b - a };
    // `MODULO - diff` in 256-bit arithmetic is the wrapping negation.
    if diff > U256::from(1u8) << 255 {
        diff.wrapping_neg()
    } else {
        diff
    }
}

/// How far from its own id a node stores content: it is interested in an id when the ring
/// distance is at most its radius.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Radius(pub U256);

impl Radius {
    /// Interested in everything: a node whose store is not yet full.
    pub const MAX: Radius = Radius(U256::MAX);
    /// Interested in nothing: a client that stores no content.
    pub const ZERO: Radius = Radius(U256::ZERO);

    /// Whether a node with id `node_id` and this radius should store `content_id`.
    pub fn covers(self, node_id: ContentId, content_id: ContentId) -> bool {
        node_id.distance(content_id) <= self.0
    }

    /// Whether a node with id `node_id` and this radius is interested in content about
    /// `range`: its arc `[id - radius, id + radius]` meets the range. For a one-id range this
    /// is [`Radius::covers`].
    pub fn meets(self, node_id: ContentId, range: super::IdRange) -> bool {
        range.distance_from(node_id) <= self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(a: U256, b: U256) -> U256 {
        ring_distance(a, b)
    }

    /// The doctest examples of seed 001's `distance` function, one for one.
    #[test]
    fn seed_doctest_examples() {
        let u = U256::from;
        let max = U256::MAX; // 2**256 - 1
        let mid = U256::from(1u8) << 255;
        assert_eq!(d(u(10), u(10)), u(0));
        assert_eq!(d(u(5), max), u(6));
        assert_eq!(d(max, u(6)), u(7));
        assert_eq!(d(u(5), u(1)), u(4));
        assert_eq!(d(u(1), u(5)), u(4));
        assert_eq!(d(u(0), mid), mid);
        assert_eq!(d(u(0), mid + u(1)), mid - u(1));
    }

    #[test]
    fn distance_is_symmetric_and_bounded() {
        let mid = U256::from(1u8) << 255;
        let samples = [
            U256::ZERO,
            U256::from(1),
            mid - U256::from(1),
            mid,
            mid + U256::from(1),
            U256::MAX,
            U256::from_be_bytes([0xab; 32]),
        ];
        for &a in &samples {
            for &b in &samples {
                assert_eq!(d(a, b), d(b, a));
                assert!(d(a, b) <= mid);
            }
        }
    }

    #[test]
    fn radius_covers() {
        let node = ContentId::from_u256(U256::from(100));
        let near = ContentId::from_u256(U256::from(110));
        let far = ContentId::from_u256(U256::from(1000));
        let r = Radius(U256::from(10));
        assert!(r.covers(node, near));
        assert!(!r.covers(node, far));
        assert!(Radius::MAX.covers(node, far));
        assert!(!Radius::ZERO.covers(node, near));
        assert!(Radius::ZERO.covers(node, node));
    }

    #[test]
    fn radius_meets_ranges_including_a_wrapping_arc() {
        use crate::content::IdRange;
        let at = |v: u64| ContentId::from_u256(U256::from(v));
        let r = Radius(U256::from(10));
        let range = IdRange {
            start: at(200),
            end: at(300),
        };
        // Inside, touching either end, and just out of reach on both sides.
        assert!(r.meets(at(250), range));
        assert!(r.meets(at(190), range) && r.meets(at(310), range));
        assert!(!r.meets(at(189), range) && !r.meets(at(311), range));
        // A node near the top of the ring: its arc wraps through zero and meets [0, 5].
        let top = ContentId::from_u256(U256::MAX - U256::from(3));
        let low = IdRange {
            start: at(0),
            end: at(5),
        };
        assert!(r.meets(top, low));
        assert!(!Radius(U256::from(3)).meets(top, low));
        // A node at 0 whose arc reaches back over the top meets a range ending at MAX.
        let high = IdRange {
            start: ContentId::from_u256(U256::MAX - U256::from(100)),
            end: ContentId::from_u256(U256::MAX - U256::from(9)),
        };
        assert!(r.meets(at(0), high));
        assert!(!r.meets(at(1), high));
        // The one-id range is `covers`.
        assert_eq!(
            r.meets(at(5), IdRange::point(at(15))),
            r.covers(at(5), at(15))
        );
    }
}
