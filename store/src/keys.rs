//! Every byte layout the store writes to RocksDB lives here, and nowhere else.
//!
//! Column families:
//! - `latest`: user key → `StoredVersion` of the key's current (live) version. Deleted keys are
//!   absent. Current-revision reads and all apply-time lookups use only this family.
//! - `history`: `enc(user key) ‖ rev` → `StoredVersion` (tombstones included), every version
//!   not yet removed by compaction. Reads at older revisions and watch catch-up use it.
//! - `events`: `rev ‖ sub` → user key: the revision-ordered index of changes, for watch catch-up
//!   and for finding what a compaction may remove.
//! - `leases`: `lease id` → `StoredLease`.
//! - `lease_keys`: `lease id ‖ user key` → empty: the keys attached to each lease.
//! - `default`: the `StoreMeta` record and the compaction progress.
//!
//! Revisions, subs and lease ids are non-negative and written as 8-byte big-endian integers, so
//! their byte order is their numeric order. User keys inside `history` are escaped so that any
//! suffix after them keeps user-key order: each `0x00` becomes `0x00 0xFF`, and the key ends with
//! `0x00 0x00` (memcomparable encoding, as TiKV does).

use crate::error::{KvError, KvResult};

/// Layout version of everything below; bump on any change.
pub const FORMAT_VERSION: u32 = 1;

pub const CF_LATEST: &str = "latest";
pub const CF_HISTORY: &str = "history";
pub const CF_EVENTS: &str = "events";
pub const CF_LEASES: &str = "leases";
pub const CF_LEASE_KEYS: &str = "lease_keys";
pub const CF_META: &str = "default";

/// Column families in the order the store opens them.
pub const COLUMN_FAMILIES: [&str; 6] = [
    CF_META,
    CF_LATEST,
    CF_HISTORY,
    CF_EVENTS,
    CF_LEASES,
    CF_LEASE_KEYS,
];

/// Key of the `StoreMeta` record in `CF_META`.
pub const META_KEY: &[u8] = b"meta";
/// Key of the physical compaction progress (8-byte revision) in `CF_META`.
pub const COMPACT_PROGRESS_KEY: &[u8] = b"compacted_through";
/// Present while a snapshot is being restored; a store that finds it on open starts empty.
pub const RESTORING_KEY: &[u8] = b"restoring";

/// Encodes a non-negative integer (revision, sub, lease id) so that byte order is numeric order.
pub fn u64_be(n: i64) -> [u8; 8] {
    (n.max(0) as u64).to_be_bytes()
}

/// Decodes 8 big-endian bytes written by [`u64_be`].
pub fn decode_u64_be(b: &[u8]) -> KvResult<i64> {
    let arr: [u8; 8] = b
        .try_into()
        .map_err(|_| KvError::Corrupt(format!("expected 8 bytes, got {}", b.len())))?;
    Ok(u64::from_be_bytes(arr) as i64)
}

/// Appends the order-preserving escape of `key` to `out`.
pub fn escape_key_into(key: &[u8], out: &mut Vec<u8>) {
    out.reserve(key.len() + 2);
    for &b in key {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0, 0]);
}

/// The `history` prefix shared by every version of `key`.
pub fn history_prefix(key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 10);
    escape_key_into(key, &mut out);
    out
}

/// The `history` key of `key` at `rev`.
pub fn history_key(key: &[u8], rev: i64) -> Vec<u8> {
    let mut out = history_prefix(key);
    out.extend_from_slice(&u64_be(rev));
    out
}

/// Splits a `history` key into the user key and the revision.
pub fn decode_history_key(raw: &[u8]) -> KvResult<(Vec<u8>, i64)> {
    let bad = || KvError::Corrupt("malformed history key".into());
    if raw.len() < 10 {
        return Err(bad());
    }
    let (esc, rev) = raw.split_at(raw.len() - 8);
    let mut key = Vec::with_capacity(esc.len());
    let mut i = 0;
    loop {
        match (esc.get(i), esc.get(i + 1)) {
            (Some(0), Some(0)) if i + 2 == esc.len() => break,
            (Some(0), Some(0xFF)) => {
                key.push(0);
                i += 2;
            }
            (Some(0), _) | (None, _) => return Err(bad()),
            (Some(&b), _) => {
                key.push(b);
                i += 1;
            }
        }
    }
    Ok((key, decode_u64_be(rev)?))
}

/// The lower `history` bound of every version of every key >= `key`.
pub fn history_lower_bound(key: &[u8]) -> Vec<u8> {
    history_prefix(key)
}

/// The upper (exclusive) `history` bound of every version of every key < `end`; `None` when the
/// range is unbounded.
pub fn history_upper_bound(end: Option<&[u8]>) -> Option<Vec<u8>> {
    end.map(history_prefix)
}

/// The `events` key of the `sub`-th change of revision `rev`.
pub fn event_key(rev: i64, sub: i64) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&u64_be(rev));
    out[8..].copy_from_slice(&u64_be(sub));
    out
}

/// Splits an `events` key into (rev, sub).
pub fn decode_event_key(raw: &[u8]) -> KvResult<(i64, i64)> {
    if raw.len() != 16 {
        return Err(KvError::Corrupt("malformed event key".into()));
    }
    Ok((decode_u64_be(&raw[..8])?, decode_u64_be(&raw[8..])?))
}

/// The `leases` key of a lease.
pub fn lease_key(id: i64) -> [u8; 8] {
    u64_be(id)
}

/// The `lease_keys` key attaching `key` to lease `id`.
pub fn lease_keys_key(id: i64, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + key.len());
    out.extend_from_slice(&u64_be(id));
    out.extend_from_slice(key);
    out
}

/// The user key part of a `lease_keys` key.
pub fn decode_lease_keys_key(raw: &[u8]) -> KvResult<&[u8]> {
    raw.get(8..)
        .ok_or_else(|| KvError::Corrupt("malformed lease_keys key".into()))
}

/// The smallest key greater than every key that starts with `prefix` (`None`: no such key, the
/// prefix is all 0xFF). This is how etcd clients form a prefix's range end.
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_keys_sort_by_user_key_then_revision() {
        let keys: Vec<&[u8]> = vec![
            b"",
            b"\x00",
            b"\x00\x00",
            b"\x00\x01",
            b"a",
            b"a\x00",
            b"a\x00b",
            b"a\x01",
            b"ab",
            b"b",
        ];
        let mut encoded = Vec::new();
        for k in &keys {
            for rev in [1i64, 2, 300, 1 << 40] {
                encoded.push((history_key(k, rev), k.to_vec(), rev));
            }
        }
        let mut sorted = encoded.clone();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        let mut expected = encoded.clone();
        expected.sort_by_key(|a| (a.1.clone(), a.2));
        assert_eq!(sorted, expected);
        for (raw, k, rev) in &encoded {
            assert_eq!(decode_history_key(raw).unwrap(), (k.clone(), *rev));
        }
    }

    #[test]
    fn history_bounds_enclose_exactly_the_keys_of_a_range() {
        let lo = history_lower_bound(b"b");
        let hi = history_upper_bound(Some(b"c")).unwrap();
        for (k, inside) in [
            (&b"a"[..], false),
            (b"b", true),
            (b"b\x00", true),
            (b"bz\xff", true),
            (b"c", false),
            (b"c\x00", false),
        ] {
            let hk = history_key(k, 7);
            assert_eq!(hk >= lo && hk < hi, inside, "key {k:?}");
        }
    }

    #[test]
    fn event_keys_sort_by_revision_then_sub() {
        assert!(event_key(2, 9) < event_key(3, 0));
        assert!(event_key(3, 0) < event_key(3, 1));
        assert_eq!(decode_event_key(&event_key(300, 4)).unwrap(), (300, 4));
    }

    #[test]
    fn prefix_end_is_the_next_key_after_the_prefix() {
        assert_eq!(prefix_end(b"abc"), Some(b"abd".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), None);
    }

    #[test]
    fn malformed_history_keys_are_refused() {
        assert!(decode_history_key(b"short").is_err());
        let mut bad = b"a\x00\x05".to_vec();
        bad.extend_from_slice(&u64_be(1));
        assert!(decode_history_key(&bad).is_err());
    }
}
