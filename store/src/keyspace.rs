//! `Keyspace`: the storage primitives that apply and range are written against. Each backend
//! implements them over its committed state (for reads) and over a batch being applied (reads see
//! the batch's own earlier writes), so the semantics in `apply` and `range` exist once.

use bytes::Bytes;
use capstan_proto::store::{KeyValue, StoredLease, StoredVersion};

use crate::error::KvResult;
use crate::key_range::KeyRange;

/// Visitor over `(key, version)` pairs in key order; return `false` to stop.
pub type Visit<'a> = &'a mut dyn FnMut(Bytes, StoredVersion) -> bool;

/// Reads of the MVCC keyspace.
pub trait Keyspace {
    /// The current live version of `key`, or `None` if it does not exist.
    fn latest(&self, key: &[u8]) -> KvResult<Option<StoredVersion>>;
    /// The current live versions of the keys in `range`, in key order.
    fn scan_latest(&self, range: &KeyRange, visit: Visit<'_>) -> KvResult<()>;
    /// For each key in `range`, in key order, its newest version at or below `rev`, unless that
    /// version is a delete. `rev` is at or above the compact revision.
    fn scan_at(&self, range: &KeyRange, rev: i64, visit: Visit<'_>) -> KvResult<()>;
    /// A lease by id.
    fn lease(&self, id: i64) -> KvResult<Option<StoredLease>>;
    /// The keys attached to a lease, in key order.
    fn lease_keys(&self, id: i64) -> KvResult<Vec<Bytes>>;
}

/// Writes into the batch being applied.
pub trait KeyspaceWrite: Keyspace {
    /// Records a new version of `key` (a put, or a delete when `v.tombstone`): it becomes the
    /// latest version, enters the history and the revision-ordered event index, and the key moves
    /// from lease `prev_lease` (0: none) to `v.lease`.
    fn write_version(&mut self, key: &Bytes, v: &StoredVersion, prev_lease: i64) -> KvResult<()>;
    /// Creates or replaces a lease record.
    fn put_lease(&mut self, lease: &StoredLease) -> KvResult<()>;
    /// Removes a lease record (its keys are deleted separately, by `write_version`).
    fn delete_lease(&mut self, id: i64) -> KvResult<()>;
}

/// The client-facing form of a stored version.
pub fn to_key_value(key: Bytes, v: &StoredVersion) -> KeyValue {
    KeyValue {
        key,
        create_revision: v.create_revision,
        mod_revision: v.mod_revision,
        version: v.version,
        value: v.value.clone(),
        lease: v.lease,
    }
}
