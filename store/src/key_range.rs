//! `KeyRange`: the set of keys a request names, with etcd's rules for `range_end`.

use bytes::Bytes;

use crate::error::{KvError, KvResult};

/// The keys a request (range, delete-range, compare, watch) applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRange {
    /// First key (inclusive).
    pub start: Bytes,
    /// Where the range stops.
    pub end: RangeEnd,
}

/// How a [`KeyRange`] ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RangeEnd {
    /// Only `start` itself (an empty `range_end`).
    Single,
    /// Up to this key, exclusive.
    Before(Bytes),
    /// Every key from `start` on (`range_end` = `"\0"`).
    Unbounded,
}

impl KeyRange {
    /// Reads etcd's `(key, range_end)` pair. An empty key is refused ("key is not provided"); a
    /// `range_end` at or before `key` (other than `"\0"`) names no key at all, which etcd answers
    /// as an empty range (reads, deletes and compares), and refuses only for a watch.
    pub fn from_request(key: &Bytes, range_end: &Bytes) -> KvResult<KeyRange> {
        if key.is_empty() {
            return Err(KvError::invalid("key is not provided"));
        }
        let end = if range_end.is_empty() {
            RangeEnd::Single
        } else if range_end.as_ref() == b"\0" {
            RangeEnd::Unbounded
        } else {
            RangeEnd::Before(range_end.clone())
        };
        Ok(KeyRange {
            start: key.clone(),
            end,
        })
    }

    /// A single key.
    pub fn single(key: impl Into<Bytes>) -> KeyRange {
        KeyRange {
            start: key.into(),
            end: RangeEnd::Single,
        }
    }

    /// Whether `key` is in the range.
    pub fn contains(&self, key: &[u8]) -> bool {
        match &self.end {
            RangeEnd::Single => key == self.start.as_ref(),
            RangeEnd::Before(end) => key >= self.start.as_ref() && key < end.as_ref(),
            RangeEnd::Unbounded => key >= self.start.as_ref(),
        }
    }

    /// Whether any key could be in the range.
    pub fn is_empty(&self) -> bool {
        matches!(&self.end, RangeEnd::Before(end) if end <= &self.start)
    }

    /// The exclusive upper bound of the range as a key, `None` when unbounded.
    pub fn upper_bound(&self) -> Option<Vec<u8>> {
        match &self.end {
            RangeEnd::Single => {
                let mut k = self.start.to_vec();
                k.push(0);
                Some(k)
            }
            RangeEnd::Before(end) => Some(end.to_vec()),
            RangeEnd::Unbounded => None,
        }
    }

    /// Whether two ranges share a key.
    pub fn intersects(&self, other: &KeyRange) -> bool {
        if self.is_empty() || other.is_empty() {
            return false;
        }
        let below = |a: &KeyRange, b: &KeyRange| match a.upper_bound() {
            Some(end) => end.as_slice() <= b.start.as_ref(),
            None => false,
        };
        !below(self, other) && !below(other, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(k: &'static [u8], e: &'static [u8]) -> KvResult<KeyRange> {
        KeyRange::from_request(&Bytes::from_static(k), &Bytes::from_static(e))
    }

    #[test]
    fn empty_range_end_means_the_single_key() {
        let kr = r(b"a", b"").unwrap();
        assert!(kr.contains(b"a"));
        assert!(!kr.contains(b"a\0"));
    }

    #[test]
    fn nul_range_end_means_every_key_from_key_on() {
        let kr = r(b"b", b"\0").unwrap();
        assert!(!kr.contains(b"a"));
        assert!(kr.contains(b"b") && kr.contains(b"\xff\xff"));
    }

    #[test]
    fn range_end_at_or_before_key_names_no_key_and_empty_key_is_refused() {
        let inverted = r(b"b", b"a").unwrap();
        assert!(inverted.is_empty());
        assert!(!inverted.contains(b"a") && !inverted.contains(b"b") && !inverted.contains(b"ab"));
        assert!(!inverted.intersects(&r(b"a", b"\0").unwrap()));
        assert!(matches!(r(b"", b""), Err(KvError::InvalidArgument(_))));
        assert!(r(b"b", b"b").unwrap().is_empty());
    }

    #[test]
    fn ranges_intersect_when_they_share_a_key() {
        assert!(r(b"a", b"c").unwrap().intersects(&r(b"b", b"").unwrap()));
        assert!(!r(b"a", b"b").unwrap().intersects(&r(b"b", b"").unwrap()));
        assert!(r(b"a", b"\0").unwrap().intersects(&r(b"z", b"").unwrap()));
    }
}
