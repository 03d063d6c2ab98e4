//! capstan's storage: etcd's MVCC key-value model (revisions, transactions, ranges, watches,
//! leases, compaction, snapshots) on RocksDB, behind the `Kv` trait that the raft layer and the API
//! facades use.
//!
//! - [`Kv`] is the boundary: async, with a small closed set of errors ([`KvError`]).
//! - [`Store`] implements it over a [`Backend`], adding the watch hub and lease deadlines.
//!   [`RocksKv`] is the real store; [`MemKv`] is an in-memory model written for obviousness, the
//!   oracle the tests compare the real one against.
//! - Apply ([`apply_command`]) is deterministic: the same commands in the same order give the same
//!   bytes and the same hash anywhere. It reads no clock and no random source; lease expiry is
//!   decided outside it and arrives as a revoke command.
//! - All byte layouts are in [`keys`]; stored records are protobuf messages from `capstan-proto`.
//!
//! Memory: the keyspace is never loaded into memory. There is no in-memory key index (etcd keeps
//! one, ~100+ bytes per key); the cost per key in memory is zero beyond RocksDB's block cache and
//! memtables, which are capped (64 MiB each by default, see [`RocksConfig`]).
//!
//! The semantics of apply and range are written once (`apply`, `range`) against the `Keyspace`
//! primitives; `MemBackend` implements those primitives with plain ordered maps, so the model tests
//! check RocksDB layout, overlay, history, compaction and snapshots against an obvious
//! implementation, while the conformance suite pins each rule by name.
//!
//! This crate must not depend on raft, gRPC (tonic), HTTP (axum, hyper) or Kubernetes types; CI
//! checks that with `cargo tree`.

mod apply;
mod backend;
mod backup;
mod error;
pub mod failpoint;
mod hash;
mod key_range;
pub mod keys;
mod keyspace;
mod kv;
mod lessor;
mod mem;
mod range;
#[cfg(feature = "rocks")]
mod rocks;
mod snapshot;
mod store;
mod validate;
mod watch;

/// The storage conformance suite (test support, behind the `testing` feature; it lives outside
/// `src/` because it is not part of the store, and it fails tests by panicking).
#[cfg(feature = "testing")]
#[path = "../testing/conformance.rs"]
pub mod testing;

pub use apply::{apply_command, Applied, CommandResponse, Revisions, INITIAL_REVISION};
pub use backend::{Backend, EventPage, ExportSink, ImportItem};
pub use backup::{
    count_snapshot, restore_items, write_backup, BackupFile, RestoreShape, SnapshotCounts,
};
pub use capstan_proto::store as proto;
pub use error::{KvError, KvResult};
#[cfg(feature = "failpoints")]
#[doc(hidden)]
pub use fail as __fail;
pub use hash::HashSink;
pub use key_range::{KeyRange, RangeEnd};
pub use kv::Kv;
pub use lessor::Lessor;
pub use mem::MemBackend;
#[cfg(feature = "rocks")]
pub use rocks::{RocksBackend, RocksConfig};
pub use snapshot::{verify_snapshot, SnapshotInfo, SnapshotReader, SnapshotWriter};
pub use store::{Store, StoreConfig};
pub use validate::{
    validate_command, MAX_LEASE_TTL, MAX_REQUEST_BYTES, MAX_TXN_DEPTH, MAX_TXN_OPS,
};
pub use watch::{ProgressHandle, WatchBatch, WatchEvents, WatchHub, WatchHubConfig, Watcher};

/// The store on RocksDB.
#[cfg(feature = "rocks")]
pub type RocksKv = Store<RocksBackend>;
/// The in-memory model of the store (a test oracle).
pub type MemKv = Store<MemBackend>;

#[cfg(feature = "rocks")]
impl RocksKv {
    /// Opens the RocksDB store in `path` with default settings.
    pub fn open(path: &std::path::Path) -> KvResult<RocksKv> {
        Store::new(RocksBackend::open(path)?, StoreConfig::default())
    }
}

impl MemKv {
    /// A fresh in-memory store with default settings.
    pub fn in_memory() -> KvResult<MemKv> {
        Store::new(MemBackend::new(), StoreConfig::default())
    }
}
