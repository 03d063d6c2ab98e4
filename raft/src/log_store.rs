//! `RaftLogStore`: openraft's log and vote on RocksDB (its own instance, apart from the state
//! machine's, so log fsyncs never wait behind state machine compactions).
//!
//! Layout: column family `logs` maps a big-endian u64 index to a protobuf `Entry`; `meta` holds
//! `vote`, `last_purged` and `committed`.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::Arc;

use capstan_proto::raft as pb;
use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{ErrorSubject, ErrorVerb, LogState, OptionalSend, RaftLogId, RaftLogReader};
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prost::Message;
use rocksdb::{ColumnFamilyDescriptor, Direction, IteratorMode, Options, WriteBatch, DB};

use crate::codec::{
    entry_from_pb, entry_to_pb, log_id_from_pb, log_id_to_pb, vote_from_pb, vote_to_pb,
};
use crate::log_tail::LogTail;
use crate::types::{Entry, LogId, StorageError, TypeConfig, Vote};

const CF_LOGS: &str = "logs";
const CF_META: &str = "meta";
const KEY_VOTE: &[u8] = b"vote";
const KEY_LAST_PURGED: &[u8] = b"last_purged";
const KEY_COMMITTED: &[u8] = b"committed";
/// How often the committed id is written at most.
const COMMITTED_WRITE_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

fn io_err(subject: ErrorSubject<u64>, verb: ErrorVerb, e: impl ToString) -> StorageError {
    StorageError::from_io_error(subject, verb, std::io::Error::other(e.to_string()))
}

fn read_err(e: impl ToString) -> StorageError {
    io_err(ErrorSubject::Logs, ErrorVerb::Read, e)
}

fn write_err(e: impl ToString) -> StorageError {
    io_err(ErrorSubject::Logs, ErrorVerb::Write, e)
}

/// The raft log and vote, on RocksDB. Cloning shares the database.
#[derive(Clone)]
pub struct RaftLogStore {
    db: Arc<DB>,
    /// Appends waiting for the fsync that makes them durable (see `Flusher`).
    flusher: std::sync::mpsc::Sender<LogFlushed<TypeConfig>>,
    /// How long each fsync of the log took (etcd's `etcd_disk_wal_fsync_duration_seconds`).
    fsync_seconds: Histogram,
    /// The last committed index raft reported (for metrics).
    committed: Arc<std::sync::atomic::AtomicU64>,
    /// When the committed id was last written (see `save_committed`).
    committed_written: Arc<std::sync::Mutex<Option<std::time::Instant>>>,
    /// The newest entries, answered without RocksDB (see `LogTail`).
    tail: Arc<std::sync::Mutex<LogTail>>,
}

/// The thread that makes appended entries durable. An append writes its entries to RocksDB
/// (visible to readers at once, so replication to followers starts without waiting for the local
/// disk) and hands its completion callback here; this thread fsyncs the WAL once for every
/// callback waiting, then reports them durable. Appends are written in order to one WAL, so one
/// fsync covers all appends written before it.
fn run_flusher(
    db: Arc<DB>,
    rx: std::sync::mpsc::Receiver<LogFlushed<TypeConfig>>,
    fsync_seconds: Histogram,
) {
    while let Ok(first) = rx.recv() {
        let mut waiting = vec![first];
        while let Ok(more) = rx.try_recv() {
            waiting.push(more);
        }
        // Durability: raft counts an entry as stored (for its own vote in a commit, or in a
        // follower's answer) only after this fsync reports success.
        let started = std::time::Instant::now();
        let res = db.flush_wal(true);
        fsync_seconds.observe(started.elapsed().as_secs_f64());
        for cb in waiting {
            cb.log_io_completed(match &res {
                Ok(()) => Ok(()),
                Err(e) => Err(std::io::Error::other(e.to_string())),
            });
        }
    }
}

impl RaftLogStore {
    /// Opens (creating if needed) the log in `dir`.
    pub fn open(dir: &Path) -> Result<RaftLogStore, crate::RaftError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_max_background_jobs(1);
        // The WAL is buffered in memory and written by the explicit flushes below (the flusher
        // thread's, and `write_synced`'s), not by a write() per append: every write that must
        // be durable is followed by one of them before it is reported done.
        opts.set_manual_wal_flush(true);
        // Entries live until the next snapshot purges them: compressing them when a memtable is
        // flushed costs CPU for nothing.
        let mut cf_opts = Options::default();
        cf_opts.set_compression_type(rocksdb::DBCompressionType::None);
        let cfs = [CF_LOGS, CF_META].map(|n| ColumnFamilyDescriptor::new(n, cf_opts.clone()));
        let db = Arc::new(DB::open_cf_descriptors(&opts, dir, cfs)?);
        let (flusher, rx) = std::sync::mpsc::channel();
        let d = db.clone();
        // etcd's buckets for this histogram: 1 ms to about 8 s, doubling.
        let fsync_seconds = Histogram::new(exponential_buckets(0.001, 2.0, 14));
        let observed = fsync_seconds.clone();
        std::thread::Builder::new()
            .name("raft-log-fsync".into())
            .spawn(move || run_flusher(d, rx, observed))?;
        Ok(RaftLogStore {
            db,
            flusher,
            fsync_seconds,
            committed: Arc::default(),
            committed_written: Arc::default(),
            tail: Arc::default(),
        })
    }

    /// The last committed index raft reported to this log (shared with clones).
    pub fn committed(&self) -> Arc<std::sync::atomic::AtomicU64> {
        self.committed.clone()
    }

    /// The durations of this log's fsyncs.
    pub fn fsync_seconds(&self) -> Histogram {
        self.fsync_seconds.clone()
    }

    fn lock_tail(&self) -> Result<std::sync::MutexGuard<'_, LogTail>, StorageError> {
        self.tail
            .lock()
            .map_err(|_| read_err("the log tail lock is poisoned"))
    }

    fn cf(&self, name: &str) -> Result<&rocksdb::ColumnFamily, StorageError> {
        self.db
            .cf_handle(name)
            .ok_or_else(|| read_err(format!("column family {name} missing")))
    }

    fn get_meta<M: Message + Default>(&self, key: &[u8]) -> Result<Option<M>, StorageError> {
        let cf = self.cf(CF_META)?;
        match self.db.get_cf(cf, key).map_err(read_err)? {
            Some(v) => Ok(Some(M::decode(v.as_slice()).map_err(read_err)?)),
            None => Ok(None),
        }
    }

    /// `write_synced` on the blocking pool, so an fsync never stalls a runtime worker.
    async fn write_synced_async(&self, batch: WriteBatch) -> Result<(), StorageError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.write_synced(batch))
            .await
            .map_err(write_err)?
    }

    /// Writes `batch` and fsyncs the WAL before returning.
    fn write_synced(&self, batch: WriteBatch) -> Result<(), StorageError> {
        // Durability: raft may acknowledge (vote, truncate, purge) only what is on disk, so the
        // batch is written and then the WAL buffer is written out and fsynced (with the manual
        // WAL flush the log is opened with, a synced write alone would not write the buffer).
        self.db.write(batch).map_err(write_err)?;
        self.db.flush_wal(true).map_err(write_err)
    }

    fn last_log_id(&self) -> Result<Option<LogId>, StorageError> {
        let cf = self.cf(CF_LOGS)?;
        let mut it = self.db.iterator_cf(cf, IteratorMode::End);
        match it.next() {
            Some(Ok((_, v))) => {
                let e = pb::Entry::decode(v.as_ref()).map_err(read_err)?;
                Ok(e.log_id.as_ref().map(log_id_from_pb))
            }
            Some(Err(e)) => Err(read_err(e)),
            None => Ok(None),
        }
    }

    fn entries(&self, start: u64, end: Option<u64>) -> Result<Vec<Entry>, StorageError> {
        let cf = self.cf(CF_LOGS)?;
        let mut out = Vec::new();
        let from = start.to_be_bytes();
        let mut ro = rocksdb::ReadOptions::default();
        if let Some(e) = end {
            // Bounded, so the iterator stops at the range instead of looking at the keys past it.
            ro.set_iterate_upper_bound(e.to_be_bytes());
        }
        for item in self
            .db
            .iterator_cf_opt(cf, ro, IteratorMode::From(&from, Direction::Forward))
        {
            let (k, v) = item.map_err(read_err)?;
            let idx = index_of(&k)?;
            if end.is_some_and(|e| idx >= e) {
                break;
            }
            let e = pb::Entry::decode(v.as_ref()).map_err(read_err)?;
            out.push(entry_from_pb(e).map_err(read_err)?);
        }
        Ok(out)
    }
}

fn index_of(k: &[u8]) -> Result<u64, StorageError> {
    let b: [u8; 8] = k
        .try_into()
        .map_err(|_| read_err("log key is not 8 bytes"))?;
    Ok(u64::from_be_bytes(b))
}

impl RaftLogReader<TypeConfig> for RaftLogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let start = match range.start_bound() {
            Bound::Included(s) => *s,
            Bound::Excluded(s) => s.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(e) => Some(e.saturating_add(1)),
            Bound::Excluded(e) => Some(*e),
            Bound::Unbounded => None,
        };
        if let Some(hit) = self.lock_tail()?.get(start, end) {
            return Ok(hit);
        }
        // Older entries (a follower catching up): a RocksDB read, done in place.
        self.entries(start, end)
    }
}

impl RaftLogStorage<TypeConfig> for RaftLogStore {
    type LogReader = RaftLogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let last_purged = self
            .get_meta::<pb::LogId>(KEY_LAST_PURGED)?
            .map(|l| log_id_from_pb(&l));
        let last = self.last_log_id()?.or(last_purged);
        Ok(LogState {
            last_purged_log_id: last_purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        let mut b = WriteBatch::default();
        b.put_cf(
            self.cf(CF_META)?,
            KEY_VOTE,
            vote_to_pb(vote).encode_to_vec(),
        );
        self.write_synced_async(b)
            .await
            .map_err(|e| io_err(ErrorSubject::Vote, ErrorVerb::Write, e))
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        Ok(self
            .get_meta::<pb::Vote>(KEY_VOTE)?
            .map(|v| vote_from_pb(&v)))
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        // Not fsynced, and written at most every COMMITTED_WRITE_INTERVAL: the committed id is a
        // hint that lets a restarted replica apply sooner (openraft treats it as optional); raft
        // re-learns the rest from the leader. Written on every commit it cost a RocksDB write per
        // entry on each replica.
        let cf = self.cf(CF_META)?;
        if let Some(c) = &committed {
            self.committed
                .store(c.index, std::sync::atomic::Ordering::Relaxed);
            let now = std::time::Instant::now();
            let mut last = self
                .committed_written
                .lock()
                .map_err(|_| write_err("the committed-id lock is poisoned"))?;
            if last.is_some_and(|t| now.duration_since(t) < COMMITTED_WRITE_INTERVAL) {
                return Ok(());
            }
            *last = Some(now);
        }
        match committed {
            Some(c) => self
                .db
                .put_cf(cf, KEY_COMMITTED, log_id_to_pb(&c).encode_to_vec()),
            None => self.db.delete_cf(cf, KEY_COMMITTED),
        }
        .map_err(write_err)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        Ok(self
            .get_meta::<pb::LogId>(KEY_COMMITTED)?
            .map(|l| log_id_from_pb(&l)))
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        capstan_store::crash_point!("raft.append");
        let mut b = WriteBatch::default();
        let mut added = Vec::new();
        {
            let cf = self.cf(CF_LOGS)?;
            for e in entries {
                let bytes = entry_to_pb(&e).encode_to_vec();
                b.put_cf(cf, e.get_log_id().index.to_be_bytes(), &bytes);
                added.push((e, bytes.len()));
            }
        }
        {
            // The tail changes with RocksDB under its lock, so a reader sees both or neither.
            // Not synced here: the flusher thread fsyncs and only then reports the entries stored.
            let mut tail = self.lock_tail()?;
            self.db.write(b).map_err(write_err)?;
            for (e, size) in added {
                tail.push(e, size);
            }
        }
        self.flusher
            .send(callback)
            .map_err(|_| write_err("the log fsync thread has stopped"))
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        // The tail first: it must never hold an entry RocksDB no longer has.
        self.lock_tail()?.truncate(log_id.index);
        let mut b = WriteBatch::default();
        b.delete_range_cf(
            self.cf(CF_LOGS)?,
            log_id.index.to_be_bytes(),
            u64::MAX.to_be_bytes(),
        );
        b.delete_cf(self.cf(CF_LOGS)?, u64::MAX.to_be_bytes());
        self.write_synced_async(b).await
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.lock_tail()?.purge(log_id.index);
        let mut b = WriteBatch::default();
        // The purge point is written with the deletion, so a restart never sees a log whose
        // first entries are gone without knowing where it now starts.
        b.put_cf(
            self.cf(CF_META)?,
            KEY_LAST_PURGED,
            log_id_to_pb(&log_id).encode_to_vec(),
        );
        b.delete_range_cf(
            self.cf(CF_LOGS)?,
            0u64.to_be_bytes(),
            log_id.index.saturating_add(1).to_be_bytes(),
        );
        self.write_synced_async(b).await
    }
}
