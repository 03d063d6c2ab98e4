//! `Backend`: what a storage engine provides to the `Store` (which adds watches and lease timers
//! on top). Two implementations: `RocksBackend` (the real one) and `MemBackend` (the test oracle).

use bytes::Bytes;
use capstan_proto::store::{
    Command, Event, RangeRequest, RangeResponse, SnapshotHeader, StoredLease, StoredVersion,
};

use crate::apply::{Applied, Revisions};
use crate::error::KvResult;

/// A run of whole revisions of changes, for watch catch-up.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EventPage {
    /// Changes in (revision, sub) order, each with its previous version where one exists.
    pub events: Vec<Event>,
    /// Every change with a revision up to and including this one (and from the requested start) is
    /// in `events`. Equals the current revision when the page reaches the end.
    pub through: i64,
}

/// Receives a consistent image of the whole store (for snapshots and hashes).
pub trait ExportSink {
    /// First: the revisions and applied position of the image.
    fn header(&mut self, header: &SnapshotHeader) -> KvResult<()>;
    /// Then every version still readable, in (key, revision) order.
    fn version(&mut self, key: &[u8], v: &StoredVersion) -> KvResult<()>;
    /// Then every lease, in id order.
    fn lease(&mut self, lease: &StoredLease) -> KvResult<()>;
}

/// One item of an image being imported, in the order `ExportSink` receives them.
pub enum ImportItem {
    Version(Bytes, StoredVersion),
    Lease(StoredLease),
}

/// A storage engine under the `Store`.
pub trait Backend: Send + Sync + 'static {
    /// Applies `cmds` in order as one atomic batch together with the caller's applied position
    /// (kept unchanged when `None`). With `sync`, the batch is durable when this returns. An error
    /// is a storage failure: nothing of the batch is applied, and the backend refuses later writes.
    fn apply_batch(
        &self,
        cmds: &[Command],
        applied: Option<&[u8]>,
        sync: bool,
    ) -> KvResult<Vec<Applied>>;
    /// The committed revisions.
    fn revisions(&self) -> Revisions;
    /// A range read of committed state.
    fn range(&self, req: &RangeRequest) -> KvResult<RangeResponse>;
    /// Changes from revision `from` on, whole revisions, at most about `max_events` of them.
    fn events_since(&self, from: i64, max_events: usize) -> KvResult<EventPage>;
    /// A lease by id.
    fn lease(&self, id: i64) -> KvResult<Option<StoredLease>>;
    /// Every lease, in id order.
    fn leases(&self) -> KvResult<Vec<StoredLease>>;
    /// The keys attached to a lease.
    fn lease_keys(&self, id: i64) -> KvResult<Vec<Bytes>>;
    /// The caller's applied position of the last batch.
    fn applied(&self) -> KvResult<Option<Bytes>>;
    /// Bytes the store occupies (on disk for RocksDB).
    fn db_size(&self) -> i64;
    /// Makes every batch applied so far durable (batches applied with `sync == false` are
    /// otherwise durable only once a later synced write or a flush covers them).
    fn sync(&self) -> KvResult<()>;
    /// Streams a consistent image of the store to `sink`.
    fn export(&self, sink: &mut dyn ExportSink) -> KvResult<()>;
    /// Replaces the whole state by an image (already verified by the caller).
    fn import(
        &self,
        header: &SnapshotHeader,
        items: &mut dyn Iterator<Item = KvResult<ImportItem>>,
    ) -> KvResult<()>;
}

/// Whether a version at or below the compact revision `compact` survives compaction: only the
/// newest version of each key at or below it, and a delete only when it is exactly at it (so a
/// watch from `compact` still sees it).
pub fn survives_compaction(v: &StoredVersion, newest_at_or_below: bool, compact: i64) -> bool {
    v.mod_revision > compact || (newest_at_or_below && (!v.tombstone || v.mod_revision == compact))
}
