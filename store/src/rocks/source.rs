//! Raw reads of RocksDB column families, committed (`DbSource`) or through the batch being
//! applied (`BatchSource`, which overlays the batch's own writes), and the `Keyspace` built on
//! either of them.

use std::collections::BTreeMap;
use std::ops::Bound;

use bytes::Bytes;
use capstan_proto::store::{StoredLease, StoredVersion};
use prost::Message;
use rocksdb::{ColumnFamily, ReadOptions, Snapshot, DB};

use crate::error::{KvError, KvResult};
use crate::key_range::{KeyRange, RangeEnd};
use crate::keys;
use crate::keyspace::{Keyspace, Visit};

/// Column family indexes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cf {
    Meta = 0,
    Latest = 1,
    History = 2,
    Events = 3,
    Leases = 4,
    LeaseKeys = 5,
}

pub const ALL_CFS: [Cf; 6] = [
    Cf::Meta,
    Cf::Latest,
    Cf::History,
    Cf::Events,
    Cf::Leases,
    Cf::LeaseKeys,
];

/// Handles of the column families, in `keys::COLUMN_FAMILIES` order.
pub struct Cfs<'a>(pub [&'a ColumnFamily; 6]);

impl<'a> Cfs<'a> {
    pub fn of(db: &'a DB) -> KvResult<Cfs<'a>> {
        let mut out = Vec::with_capacity(6);
        for name in keys::COLUMN_FAMILIES {
            out.push(
                db.cf_handle(name)
                    .ok_or_else(|| KvError::Corrupt(format!("missing column family {name}")))?,
            );
        }
        let arr: [&ColumnFamily; 6] = out
            .try_into()
            .map_err(|_| KvError::Corrupt("column families".into()))?;
        Ok(Cfs(arr))
    }

    pub fn get(&self, cf: Cf) -> &'a ColumnFamily {
        self.0[cf as usize]
    }
}

/// Visitor over raw `(key, value)` pairs; return `Ok(false)` to stop.
pub type RawVisit<'a> = &'a mut dyn FnMut(&[u8], &[u8]) -> KvResult<bool>;

/// Raw key-value reads.
pub trait RawSource {
    fn get(&self, cf: Cf, key: &[u8]) -> KvResult<Option<Vec<u8>>>;
    /// Visits `[lower, upper)` in key order until `visit` returns false.
    fn scan(&self, cf: Cf, lower: &[u8], upper: Option<&[u8]>, visit: RawVisit<'_>)
        -> KvResult<()>;
}

/// Committed state, optionally at a RocksDB snapshot.
pub struct DbSource<'a> {
    pub db: &'a DB,
    pub cfs: Cfs<'a>,
    pub snapshot: Option<&'a Snapshot<'a>>,
    /// Point-read options, made once (they are a C allocation).
    get_opts: ReadOptions,
}

impl<'a> DbSource<'a> {
    pub fn new(db: &'a DB, snapshot: Option<&'a Snapshot<'a>>) -> KvResult<Self> {
        let mut get_opts = ReadOptions::default();
        if let Some(s) = snapshot {
            get_opts.set_snapshot(s);
        }
        Ok(DbSource {
            db,
            cfs: Cfs::of(db)?,
            snapshot,
            get_opts,
        })
    }

    fn opts(&self) -> ReadOptions {
        let mut o = ReadOptions::default();
        if let Some(s) = self.snapshot {
            o.set_snapshot(s);
        }
        o
    }

    /// The newest entry at or before `key` in `cf` whose key starts with `prefix`.
    pub fn seek_for_prev(
        &self,
        cf: Cf,
        prefix: &[u8],
        key: &[u8],
    ) -> KvResult<Option<(Vec<u8>, Vec<u8>)>> {
        let mut o = self.opts();
        o.set_iterate_lower_bound(prefix.to_vec());
        let mut it = self.db.raw_iterator_cf_opt(self.cfs.get(cf), o);
        it.seek_for_prev(key);
        if let (Some(k), Some(v)) = (it.key(), it.value()) {
            if k.starts_with(prefix) {
                return Ok(Some((k.to_vec(), v.to_vec())));
            }
        }
        it.status()?;
        Ok(None)
    }
}

impl RawSource for DbSource<'_> {
    fn get(&self, cf: Cf, key: &[u8]) -> KvResult<Option<Vec<u8>>> {
        Ok(self
            .db
            .get_pinned_cf_opt(self.cfs.get(cf), key, &self.get_opts)?
            .map(|p| p.to_vec()))
    }

    fn scan(
        &self,
        cf: Cf,
        lower: &[u8],
        upper: Option<&[u8]>,
        visit: RawVisit<'_>,
    ) -> KvResult<()> {
        let mut o = self.opts();
        if let Some(u) = upper {
            o.set_iterate_upper_bound(u.to_vec());
        }
        let mut it = self.db.raw_iterator_cf_opt(self.cfs.get(cf), o);
        it.seek(lower);
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            if !visit(k, v)? {
                return Ok(());
            }
            it.next();
        }
        it.status()?;
        Ok(())
    }
}

/// The writes of the batch being applied, by column family: `Some(value)` a put, `None` a delete.
pub type Overlay = [BTreeMap<Vec<u8>, Option<Vec<u8>>>; 6];

/// Committed state with a batch's pending writes on top.
pub struct BatchSource<'a> {
    pub base: DbSource<'a>,
    pub overlay: Overlay,
}

impl BatchSource<'_> {
    pub fn put(&mut self, cf: Cf, key: Vec<u8>, value: Vec<u8>) {
        self.overlay[cf as usize].insert(key, Some(value));
    }

    pub fn delete(&mut self, cf: Cf, key: Vec<u8>) {
        self.overlay[cf as usize].insert(key, None);
    }
}

impl RawSource for BatchSource<'_> {
    fn get(&self, cf: Cf, key: &[u8]) -> KvResult<Option<Vec<u8>>> {
        match self.overlay[cf as usize].get(key) {
            Some(v) => Ok(v.clone()),
            None => self.base.get(cf, key),
        }
    }

    fn scan(
        &self,
        cf: Cf,
        lower: &[u8],
        upper: Option<&[u8]>,
        visit: RawVisit<'_>,
    ) -> KvResult<()> {
        let hi = match upper {
            Some(u) => Bound::Excluded(u),
            None => Bound::Unbounded,
        };
        let mut pending = self.overlay[cf as usize]
            .range::<[u8], _>((Bound::Included(lower), hi))
            .peekable();
        let mut stopped = false;
        // Merge: overlay entries win over committed ones with the same key; deletes hide them.
        self.base.scan(cf, lower, upper, &mut |k, v| {
            while let Some((pk, pv)) = pending.peek() {
                if pk.as_slice() > k {
                    break;
                }
                let same = pk.as_slice() == k;
                if let Some(pv) = pv {
                    if !visit(pk, pv)? {
                        stopped = true;
                        return Ok(false);
                    }
                }
                pending.next();
                if same {
                    return Ok(true);
                }
            }
            let go = visit(k, v)?;
            stopped = !go;
            Ok(go)
        })?;
        if stopped {
            return Ok(());
        }
        for (pk, pv) in pending {
            if let Some(pv) = pv {
                if !visit(pk, pv)? {
                    break;
                }
            }
        }
        Ok(())
    }
}

pub fn decode_version(raw: &[u8]) -> KvResult<StoredVersion> {
    Ok(StoredVersion::decode(raw)?)
}

/// The MVCC keyspace over any raw source.
pub struct RocksKeyspace<S: RawSource>(pub S);

impl<S: RawSource> Keyspace for RocksKeyspace<S> {
    fn latest(&self, key: &[u8]) -> KvResult<Option<StoredVersion>> {
        self.0
            .get(Cf::Latest, key)?
            .map(|raw| decode_version(&raw))
            .transpose()
    }

    fn scan_latest(&self, range: &KeyRange, visit: Visit<'_>) -> KvResult<()> {
        if range.end == RangeEnd::Single {
            if let Some(v) = self.latest(&range.start)? {
                visit(range.start.clone(), v);
            }
            return Ok(());
        }
        if range.is_empty() {
            return Ok(());
        }
        let upper = range.upper_bound();
        self.0
            .scan(Cf::Latest, &range.start, upper.as_deref(), &mut |k, v| {
                Ok(visit(Bytes::copy_from_slice(k), decode_version(v)?))
            })
    }

    fn scan_at(&self, range: &KeyRange, rev: i64, visit: Visit<'_>) -> KvResult<()> {
        if range.is_empty() {
            return Ok(());
        }
        let lower = keys::history_lower_bound(&range.start);
        let upper = keys::history_upper_bound(range.upper_bound().as_deref());
        // Versions come per key, oldest first: remember the newest one at or below `rev`.
        let mut group: Option<(Vec<u8>, Option<StoredVersion>)> = None;
        let mut go = true;
        let mut flush = |g: Option<(Vec<u8>, Option<StoredVersion>)>, go: &mut bool| {
            if let Some((k, Some(v))) = g {
                if !v.tombstone && *go {
                    *go = visit(Bytes::from(k), v);
                }
            }
        };
        self.0
            .scan(Cf::History, &lower, upper.as_deref(), &mut |hk, raw| {
                let (key, r) = keys::decode_history_key(hk)?;
                if group.as_ref().is_none_or(|(gk, _)| *gk != key) {
                    flush(group.take(), &mut go);
                    if !go {
                        return Ok(false);
                    }
                    group = Some((key, None));
                }
                if r <= rev {
                    if let Some((_, best)) = group.as_mut() {
                        *best = Some(decode_version(raw)?);
                    }
                }
                Ok(true)
            })?;
        flush(group.take(), &mut go);
        Ok(())
    }

    fn lease(&self, id: i64) -> KvResult<Option<StoredLease>> {
        Ok(self
            .0
            .get(Cf::Leases, &keys::lease_key(id))?
            .map(|raw| StoredLease::decode(raw.as_slice()))
            .transpose()?)
    }

    fn lease_keys(&self, id: i64) -> KvResult<Vec<Bytes>> {
        let mut out = Vec::new();
        let lower = keys::lease_key(id);
        // The largest lease id has no successor: then the scan runs to the end.
        let upper = id.checked_add(1).map(keys::lease_key);
        self.0.scan(
            Cf::LeaseKeys,
            &lower,
            upper.as_ref().map(|u| &u[..]),
            &mut |k, _| {
                out.push(Bytes::copy_from_slice(keys::decode_lease_keys_key(k)?));
                Ok(true)
            },
        )?;
        Ok(out)
    }
}
