//! `RocksBackend`: the store on RocksDB (layout in `keys`).
//!
//! Durability: each applied batch — every command's writes, the new revisions and the caller's
//! applied position — is one `WriteBatch`, so after a crash the store is exactly at a batch
//! boundary and reports that batch's applied position. The WAL is always on; whether the batch is
//! fsynced is the caller's choice (raft turns it off because its own log is the durable source: a
//! batch lost in a power cut is re-applied from the log).

mod batch;
mod compactor;
mod source;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;

use bytes::Bytes;
use capstan_proto::store::{
    event, Command, Event, KeyValue, RangeRequest, RangeResponse, SnapshotHeader, StoreMeta,
    StoredLease, StoredVersion,
};
use parking_lot::{Condvar, Mutex, RwLock};
use prost::Message;
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamilyDescriptor, DBCompressionType, Options, WriteBatch,
    WriteBufferManager, WriteOptions, DB,
};

use self::compactor::CompactorSignal;
use self::source::{decode_version, BatchSource, Cf, Cfs, DbSource, RawSource, RocksKeyspace};
use crate::apply::{apply_command, Applied, Revisions, INITIAL_REVISION};
use crate::backend::{survives_compaction, Backend, EventPage, ExportSink, ImportItem};
use crate::error::{KvError, KvResult};
use crate::keys;
use crate::keyspace::{to_key_value, Keyspace};

/// Memory and tuning of the RocksDB instance.
#[derive(Clone, Debug)]
pub struct RocksConfig {
    /// Block cache shared by all column families.
    pub block_cache_bytes: usize,
    /// Cap on all memtables together.
    pub write_buffer_bytes: usize,
}

impl Default for RocksConfig {
    fn default() -> Self {
        RocksConfig {
            block_cache_bytes: 64 << 20,
            write_buffer_bytes: 64 << 20,
        }
    }
}

/// The RocksDB backend.
pub struct RocksBackend {
    db: Arc<DB>,
    path: PathBuf,
    revs: Mutex<Revisions>,
    applied: Mutex<Option<Bytes>>,
    /// Serializes batches: each reads the state the previous one committed.
    write: Mutex<()>,
    /// Shared by reads, exclusive for a snapshot import: nobody sees a half-restored store.
    state: RwLock<()>,
    compactor: Arc<CompactorSignal>,
    compactor_thread: Option<JoinHandle<()>>,
}

fn db_options(cfg: &RocksConfig) -> (Options, Vec<ColumnFamilyDescriptor>) {
    let cache = Cache::new_lru_cache(cfg.block_cache_bytes);
    let wbm = WriteBufferManager::new_write_buffer_manager(cfg.write_buffer_bytes, false);
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(&cache);
    table.set_bloom_filter(10.0, false);
    table.set_cache_index_and_filter_blocks(true);
    table.set_pin_l0_filter_and_index_blocks_in_cache(true);
    let mut cf_opts = Options::default();
    cf_opts.set_block_based_table_factory(&table);
    // Freshly flushed data is rewritten soon: compressing it costs CPU for nothing. Deeper levels,
    // the last one included, use LZ4. (zstd on the last level was measured at a tenth of every
    // replica's CPU under create load: while the store is small, every compaction writes the last
    // level, L0 included.)
    let lz4 = DBCompressionType::Lz4;
    cf_opts.set_compression_per_level(&[
        DBCompressionType::None,
        DBCompressionType::None,
        lz4,
        lz4,
        lz4,
        lz4,
        lz4,
    ]);
    cf_opts.set_bottommost_compression_type(lz4);
    cf_opts.set_write_buffer_size(32 << 20);
    // Room for a full memtable to wait for its flush without stalling writers.
    cf_opts.set_max_write_buffer_number(4);
    cf_opts.set_write_buffer_manager(&wbm);
    let mut db = cf_opts.clone();
    // RocksDB's compactions yield the CPU and the disk to the writers (flushes keep their
    // priority, so memtables never back up).
    if let Ok(mut env) = rocksdb::Env::new() {
        env.lower_thread_pool_cpu_priority();
        env.lower_thread_pool_io_priority();
        db.set_env(&env);
    }
    db.create_if_missing(true);
    db.create_missing_column_families(true);
    db.increase_parallelism(2);
    db.set_max_background_jobs(2);
    db.set_keep_log_file_num(3);
    let cfs = keys::COLUMN_FAMILIES
        .iter()
        .map(|name| ColumnFamilyDescriptor::new(*name, cf_opts.clone()))
        .collect();
    (db, cfs)
}

impl RocksBackend {
    /// Opens (or creates) the store in `path`.
    pub fn open(path: &Path) -> KvResult<RocksBackend> {
        Self::open_with(path, &RocksConfig::default())
    }

    /// Opens with explicit tuning.
    pub fn open_with(path: &Path, cfg: &RocksConfig) -> KvResult<RocksBackend> {
        std::fs::create_dir_all(path)?;
        let (opts, cfs) = db_options(cfg);
        let db = Arc::new(DB::open_cf_descriptors(&opts, path, cfs)?);
        {
            let cfs = Cfs::of(&db)?;
            if db
                .get_pinned_cf(cfs.get(Cf::Meta), keys::RESTORING_KEY)?
                .is_some()
            {
                tracing::warn!(path = %path.display(), "a snapshot restore was interrupted; starting empty");
                clear_all(&db)?;
            }
        }
        let meta = read_meta(&DbSource::new(&db, None)?)?;
        if meta.format_version != keys::FORMAT_VERSION {
            return Err(KvError::Corrupt(format!(
                "data format {} is not {}",
                meta.format_version,
                keys::FORMAT_VERSION
            )));
        }
        let compactor = Arc::new(CompactorSignal {
            target: Mutex::new(meta.compact_revision),
            wake: Condvar::new(),
            stop: Default::default(),
            exclusive: Mutex::new(()),
        });
        let thread = {
            let db = db.clone();
            let signal = compactor.clone();
            std::thread::Builder::new()
                .name("mvcc-compactor".into())
                .spawn(move || compactor::run(db, signal))?
        };
        Ok(RocksBackend {
            db,
            path: path.to_path_buf(),
            revs: Mutex::new(Revisions {
                current: meta.revision,
                compact: meta.compact_revision,
            }),
            applied: Mutex::new(meta.has_applied.then(|| meta.applied.clone())),
            write: Mutex::new(()),
            state: RwLock::new(()),
            compactor,
            compactor_thread: Some(thread),
        })
    }

    /// Where the database lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Revision up to which history has been physically compacted.
    pub fn compacted_through(&self) -> KvResult<i64> {
        compactor::progress(&self.db)
    }

    /// RocksDB's own statistics report (`rocksdb.stats`: compaction, stalls, flushes).
    pub fn rocksdb_stats(&self) -> String {
        self.db
            .property_value("rocksdb.stats")
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    /// Versions physically present in the history (counted; for tests and diagnostics).
    pub fn history_len(&self) -> KvResult<u64> {
        let mut n = 0;
        self.committed(None)?
            .scan(Cf::History, &[], None, &mut |_, _| {
                n += 1;
                Ok(true)
            })?;
        Ok(n)
    }

    fn committed<'a>(
        &'a self,
        snapshot: Option<&'a rocksdb::Snapshot<'a>>,
    ) -> KvResult<DbSource<'a>> {
        DbSource::new(&self.db, snapshot)
    }

    fn meta_record(&self, revs: Revisions, applied: &Option<Bytes>) -> StoreMeta {
        StoreMeta {
            format_version: keys::FORMAT_VERSION,
            revision: revs.current,
            compact_revision: revs.compact,
            applied: applied.clone().unwrap_or_default(),
            has_applied: applied.is_some(),
        }
    }
}

fn read_meta(src: &DbSource<'_>) -> KvResult<StoreMeta> {
    Ok(match src.get(Cf::Meta, keys::META_KEY)? {
        Some(raw) => StoreMeta::decode(raw.as_slice())?,
        None => StoreMeta {
            format_version: keys::FORMAT_VERSION,
            revision: INITIAL_REVISION,
            ..Default::default()
        },
    })
}

/// Deletes every record of every column family and leaves a fresh, empty store.
fn clear_all(db: &DB) -> KvResult<()> {
    let cfs = Cfs::of(db)?;
    let mut wb = WriteBatch::default();
    for cf in source::ALL_CFS {
        let h = cfs.get(cf);
        let mut it = db.raw_iterator_cf(h);
        it.seek_to_first();
        let Some(first) = it.key().map(|k| k.to_vec()) else {
            continue;
        };
        it.seek_to_last();
        let Some(last) = it.key().map(|k| k.to_vec()) else {
            continue;
        };
        wb.delete_range_cf(h, &first, &last);
        wb.delete_cf(h, &last);
    }
    let mut wo = WriteOptions::default();
    // The emptied state must be durable before anything is written on top of it.
    wo.set_sync(true);
    db.write_opt(wb, &wo)?;
    Ok(())
}

impl Drop for RocksBackend {
    fn drop(&mut self) {
        self.compactor.stop.store(true, Ordering::SeqCst);
        {
            let _t = self.compactor.target.lock();
            self.compactor.wake.notify_all();
        }
        if let Some(t) = self.compactor_thread.take() {
            let _ = t.join();
        }
    }
}

impl Backend for RocksBackend {
    fn apply_batch(
        &self,
        cmds: &[Command],
        applied: Option<&[u8]>,
        sync: bool,
    ) -> KvResult<Vec<Applied>> {
        let _write = self.write.lock();
        let before = *self.revs.lock();
        let mut revs = before;
        let mut ks = RocksKeyspace(BatchSource {
            base: self.committed(None)?,
            overlay: Default::default(),
        });
        let mut out = Vec::with_capacity(cmds.len());
        for cmd in cmds {
            out.push(apply_command(&mut ks, &mut revs, cmd)?);
        }
        let changed = ks.0.overlay.iter().any(|m| !m.is_empty()) || revs != before;
        if !changed && applied.is_none() {
            return Ok(out);
        }
        let new_applied = match applied {
            Some(pos) => Some(Bytes::copy_from_slice(pos)),
            None => self.applied.lock().clone(),
        };
        let cfs = Cfs::of(&self.db)?;
        let mut wb = WriteBatch::default();
        let overlay = std::mem::take(&mut ks.0.overlay);
        batch::into_write_batch(overlay, &cfs, &mut wb);
        wb.put_cf(
            cfs.get(Cf::Meta),
            keys::META_KEY,
            self.meta_record(revs, &new_applied).encode_to_vec(),
        );
        let mut wo = WriteOptions::default();
        // The whole batch and its applied position land together or not at all (one WriteBatch,
        // WAL on). fsync only if the caller asks: raft's log is its durable source.
        wo.set_sync(sync);
        // A failed write leaves nothing applied; the `Store` then refuses further writes.
        self.db.write_opt(wb, &wo)?;
        *self.revs.lock() = revs;
        *self.applied.lock() = new_applied;
        if revs.compact != before.compact {
            *self.compactor.target.lock() = revs.compact;
            self.compactor.wake.notify_all();
        }
        Ok(out)
    }

    fn revisions(&self) -> Revisions {
        *self.revs.lock()
    }

    fn range(&self, req: &RangeRequest) -> KvResult<RangeResponse> {
        let _state = self.state.read();
        // One RocksDB snapshot for the revisions and the data, so they agree.
        let snap = self.db.snapshot();
        let src = self.committed(Some(&snap))?;
        let meta = read_meta(&src)?;
        crate::range::range(
            &RocksKeyspace(src),
            meta.revision,
            meta.compact_revision,
            req,
        )
    }

    fn events_since(&self, from: i64, max_events: usize) -> KvResult<EventPage> {
        let _state = self.state.read();
        let snap = self.db.snapshot();
        let src = self.committed(Some(&snap))?;
        let meta = read_meta(&src)?;
        if from < meta.compact_revision {
            return Err(KvError::Compacted {
                compact_revision: meta.compact_revision,
            });
        }
        let mut page = EventPage {
            events: Vec::new(),
            through: meta.revision,
        };
        let mut refs: Vec<(i64, Vec<u8>)> = Vec::new();
        let lower = keys::event_key(from, 0);
        let upper = keys::event_key(meta.revision + 1, 0);
        src.scan(Cf::Events, &lower, Some(&upper), &mut |k, key| {
            let (rev, _) = keys::decode_event_key(k)?;
            if refs.len() >= max_events && refs.last().is_some_and(|(r, _)| *r != rev) {
                page.through = rev - 1;
                return Ok(false);
            }
            refs.push((rev, key.to_vec()));
            Ok(true)
        })?;
        for (rev, key) in refs {
            let raw = src
                .get(Cf::History, &keys::history_key(&key, rev))?
                .ok_or_else(|| KvError::Corrupt(format!("event at {rev} without its version")))?;
            let v = decode_version(&raw)?;
            // The previous version is what a read at rev - 1 sees; below the compact revision
            // that read is refused, so there is no prev_kv (as etcd).
            let prev = if rev > meta.compact_revision {
                let prefix = keys::history_prefix(&key);
                src.seek_for_prev(Cf::History, &prefix, &keys::history_key(&key, rev - 1))?
                    .map(|(_, raw)| decode_version(&raw))
                    .transpose()?
                    .filter(|p| !p.tombstone)
            } else {
                None
            };
            let key = Bytes::from(key);
            let kv = if v.tombstone {
                KeyValue {
                    key: key.clone(),
                    mod_revision: rev,
                    ..Default::default()
                }
            } else {
                to_key_value(key.clone(), &v)
            };
            let ty = if v.tombstone {
                event::EventType::Delete
            } else {
                event::EventType::Put
            };
            page.events.push(Event {
                r#type: ty as i32,
                kv: Some(kv),
                prev_kv: prev.map(|p| to_key_value(key, &p)),
            });
        }
        Ok(page)
    }

    fn lease(&self, id: i64) -> KvResult<Option<StoredLease>> {
        let _state = self.state.read();
        RocksKeyspace(self.committed(None)?).lease(id)
    }

    fn leases(&self) -> KvResult<Vec<StoredLease>> {
        let _state = self.state.read();
        let src = self.committed(None)?;
        let mut out = Vec::new();
        src.scan(Cf::Leases, &[], None, &mut |_, v| {
            out.push(StoredLease::decode(v)?);
            Ok(true)
        })?;
        Ok(out)
    }

    fn lease_keys(&self, id: i64) -> KvResult<Vec<Bytes>> {
        let _state = self.state.read();
        RocksKeyspace(self.committed(None)?).lease_keys(id)
    }

    fn applied(&self) -> KvResult<Option<Bytes>> {
        Ok(self.applied.lock().clone())
    }

    fn sync(&self) -> KvResult<()> {
        // Durability: fsyncs the WAL, which holds every batch applied without sync.
        self.db.flush_wal(true)?;
        Ok(())
    }

    fn db_size(&self) -> i64 {
        let Ok(cfs) = Cfs::of(&self.db) else { return 0 };
        let mut total = 0u64;
        for cf in source::ALL_CFS {
            for prop in [
                "rocksdb.live-sst-files-size",
                "rocksdb.cur-size-all-mem-tables",
            ] {
                total += self
                    .db
                    .property_int_value_cf(cfs.get(cf), prop)
                    .ok()
                    .flatten()
                    .unwrap_or(0);
            }
        }
        total as i64
    }

    fn export(&self, sink: &mut dyn ExportSink) -> KvResult<()> {
        let _state = self.state.read();
        let snap = self.db.snapshot();
        let src = self.committed(Some(&snap))?;
        let meta = read_meta(&src)?;
        let compact = meta.compact_revision;
        sink.header(&SnapshotHeader {
            format_version: keys::FORMAT_VERSION,
            revision: meta.revision,
            compact_revision: compact,
            applied: meta.applied.clone(),
            has_applied: meta.has_applied,
        })?;
        // Versions come per key, oldest first; physical compaction may lag, so apply its rule.
        let mut group: Vec<StoredVersion> = Vec::new();
        let mut group_key: Vec<u8> = Vec::new();
        let emit =
            |sink: &mut dyn ExportSink, key: &[u8], group: &[StoredVersion]| -> KvResult<()> {
                let newest = group.iter().rposition(|v| v.mod_revision <= compact);
                for (i, v) in group.iter().enumerate() {
                    if survives_compaction(v, Some(i) == newest, compact) {
                        sink.version(key, v)?;
                    }
                }
                Ok(())
            };
        src.scan(Cf::History, &[], None, &mut |hk, raw| {
            let (key, _) = keys::decode_history_key(hk)?;
            if key != group_key {
                emit(sink, &group_key, &group)?;
                group.clear();
                group_key = key;
            }
            group.push(decode_version(raw)?);
            Ok(true)
        })?;
        emit(sink, &group_key, &group)?;
        src.scan(Cf::Leases, &[], None, &mut |_, v| {
            sink.lease(&StoredLease::decode(v)?)?;
            Ok(true)
        })?;
        Ok(())
    }

    fn import(
        &self,
        header: &SnapshotHeader,
        items: &mut dyn Iterator<Item = KvResult<ImportItem>>,
    ) -> KvResult<()> {
        let _write = self.write.lock();
        let _no_compaction = self.compactor.exclusive.lock();
        let _no_readers = self.state.write();
        let result = self.import_locked(header, items);
        if result.is_err() {
            // Half an image is worse than none: leave an empty store behind.
            clear_all(&self.db)?;
            *self.revs.lock() = Revisions {
                current: INITIAL_REVISION,
                compact: 0,
            };
            *self.applied.lock() = None;
            *self.compactor.target.lock() = 0;
        }
        result
    }
}

impl RocksBackend {
    /// `import` with every lock held.
    fn import_locked(
        &self,
        header: &SnapshotHeader,
        items: &mut dyn Iterator<Item = KvResult<ImportItem>>,
    ) -> KvResult<()> {
        let cfs = Cfs::of(&self.db)?;
        let mut wo = WriteOptions::default();
        // The marker must be durable before the old state is touched: a crash in between must
        // not leave a mix of two states that looks valid.
        wo.set_sync(true);
        self.db
            .put_cf_opt(cfs.get(Cf::Meta), keys::RESTORING_KEY, b"1", &wo)?;
        clear_all(&self.db)?;
        self.db
            .put_cf_opt(cfs.get(Cf::Meta), keys::RESTORING_KEY, b"1", &wo)?;
        let mut wb = WriteBatch::default();
        let mut last: Option<(Bytes, StoredVersion)> = None;
        let flush_latest = |wb: &mut WriteBatch, last: &Option<(Bytes, StoredVersion)>| {
            if let Some((k, v)) = last {
                if !v.tombstone {
                    wb.put_cf(cfs.get(Cf::Latest), k, v.encode_to_vec());
                    if v.lease != 0 {
                        wb.put_cf(cfs.get(Cf::LeaseKeys), keys::lease_keys_key(v.lease, k), []);
                    }
                }
            }
        };
        for item in items {
            match item? {
                ImportItem::Version(k, v) => {
                    if last.as_ref().is_some_and(|(lk, _)| *lk != k) {
                        flush_latest(&mut wb, &last);
                    }
                    wb.put_cf(
                        cfs.get(Cf::History),
                        keys::history_key(&k, v.mod_revision),
                        v.encode_to_vec(),
                    );
                    wb.put_cf(
                        cfs.get(Cf::Events),
                        keys::event_key(v.mod_revision, v.sub),
                        &k,
                    );
                    last = Some((k, v));
                }
                ImportItem::Lease(l) => {
                    wb.put_cf(
                        cfs.get(Cf::Leases),
                        keys::lease_key(l.id),
                        l.encode_to_vec(),
                    );
                }
            }
            if wb.len() >= 10_000 {
                self.db.write(std::mem::take(&mut wb))?;
            }
        }
        flush_latest(&mut wb, &last);
        let revs = Revisions {
            current: header.revision,
            compact: header.compact_revision,
        };
        let applied = header.has_applied.then(|| header.applied.clone());
        wb.put_cf(
            cfs.get(Cf::Meta),
            keys::META_KEY,
            self.meta_record(revs, &applied).encode_to_vec(),
        );
        wb.put_cf(
            cfs.get(Cf::Meta),
            keys::COMPACT_PROGRESS_KEY,
            keys::u64_be(header.compact_revision),
        );
        wb.delete_cf(cfs.get(Cf::Meta), keys::RESTORING_KEY);
        // The restored state is complete only when this lands, durably.
        self.db.write_opt(wb, &wo)?;
        *self.revs.lock() = revs;
        *self.applied.lock() = applied;
        *self.compactor.target.lock() = revs.compact;
        Ok(())
    }
}
