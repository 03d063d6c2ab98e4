//! `MemBackend`: the in-memory model of the store, written to be obviously right rather than fast.
//! It is the oracle the RocksDB backend is checked against; nothing in production uses it.
//! Every key keeps its versions in a plain list; leases' keys are found by looking at every key.

use std::collections::BTreeMap;

use bytes::Bytes;
use capstan_proto::store::{
    event, Command, Event, RangeRequest, RangeResponse, SnapshotHeader, StoredLease, StoredVersion,
};
use parking_lot::Mutex;

use crate::apply::{apply_command, Applied, Revisions, INITIAL_REVISION};
use crate::backend::{survives_compaction, Backend, EventPage, ExportSink, ImportItem};
use crate::error::{KvError, KvResult};
use crate::key_range::{KeyRange, RangeEnd};
use crate::keys::FORMAT_VERSION;
use crate::keyspace::{to_key_value, Keyspace, KeyspaceWrite, Visit};

#[derive(Clone, Debug)]
struct MemState {
    /// Every key's versions, oldest first, deletes included.
    versions: BTreeMap<Bytes, Vec<StoredVersion>>,
    leases: BTreeMap<i64, StoredLease>,
    revs: Revisions,
    applied: Option<Bytes>,
}

/// The in-memory backend.
pub struct MemBackend {
    state: Mutex<MemState>,
}

impl Default for MemBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl MemBackend {
    /// An empty store at revision 1.
    pub fn new() -> Self {
        MemBackend {
            state: Mutex::new(MemState {
                versions: BTreeMap::new(),
                leases: BTreeMap::new(),
                revs: Revisions {
                    current: INITIAL_REVISION,
                    compact: 0,
                },
                applied: None,
            }),
        }
    }
}

impl MemState {
    fn keys_in<'a>(
        &'a self,
        range: &'a KeyRange,
    ) -> impl Iterator<Item = (&'a Bytes, &'a Vec<StoredVersion>)> + 'a {
        self.versions
            .range(range.start.clone()..)
            .take_while(move |(k, _)| match &range.end {
                RangeEnd::Single => k.as_ref() == range.start.as_ref(),
                RangeEnd::Before(end) => k.as_ref() < end.as_ref(),
                RangeEnd::Unbounded => true,
            })
    }

    fn compact(&mut self) {
        let compact = self.revs.compact;
        for versions in self.versions.values_mut() {
            let newest = versions.iter().rposition(|v| v.mod_revision <= compact);
            let mut i = 0;
            versions.retain(|v| {
                let keep = survives_compaction(v, Some(i) == newest, compact);
                i += 1;
                keep
            });
        }
        self.versions.retain(|_, v| !v.is_empty());
    }
}

impl Keyspace for MemState {
    fn latest(&self, key: &[u8]) -> KvResult<Option<StoredVersion>> {
        Ok(self
            .versions
            .get(key)
            .and_then(|vs| vs.last())
            .filter(|v| !v.tombstone)
            .cloned())
    }

    fn scan_latest(&self, range: &KeyRange, visit: Visit<'_>) -> KvResult<()> {
        self.scan_at(range, i64::MAX, visit)
    }

    fn scan_at(&self, range: &KeyRange, rev: i64, visit: Visit<'_>) -> KvResult<()> {
        for (k, vs) in self.keys_in(range) {
            if let Some(v) = vs.iter().rev().find(|v| v.mod_revision <= rev) {
                if !v.tombstone && !visit(k.clone(), v.clone()) {
                    break;
                }
            }
        }
        Ok(())
    }

    fn lease(&self, id: i64) -> KvResult<Option<StoredLease>> {
        Ok(self.leases.get(&id).cloned())
    }

    fn lease_keys(&self, id: i64) -> KvResult<Vec<Bytes>> {
        let mut keys = Vec::new();
        for (k, vs) in &self.versions {
            if vs.last().is_some_and(|v| !v.tombstone && v.lease == id) {
                keys.push(k.clone());
            }
        }
        Ok(keys)
    }
}

impl KeyspaceWrite for MemState {
    fn write_version(&mut self, key: &Bytes, v: &StoredVersion, _prev_lease: i64) -> KvResult<()> {
        self.versions
            .entry(key.clone())
            .or_default()
            .push(v.clone());
        Ok(())
    }

    fn put_lease(&mut self, lease: &StoredLease) -> KvResult<()> {
        self.leases.insert(lease.id, *lease);
        Ok(())
    }

    fn delete_lease(&mut self, id: i64) -> KvResult<()> {
        self.leases.remove(&id);
        Ok(())
    }
}

impl Backend for MemBackend {
    fn apply_batch(
        &self,
        cmds: &[Command],
        applied: Option<&[u8]>,
        _sync: bool,
    ) -> KvResult<Vec<Applied>> {
        let mut st = self.state.lock();
        let mut out = Vec::with_capacity(cmds.len());
        for cmd in cmds {
            let mut revs = st.revs;
            let a = apply_command(&mut *st, &mut revs, cmd)?;
            let compacted = revs.compact != st.revs.compact;
            st.revs = revs;
            if compacted {
                st.compact();
            }
            out.push(a);
        }
        if let Some(pos) = applied {
            st.applied = Some(Bytes::copy_from_slice(pos));
        }
        Ok(out)
    }

    fn revisions(&self) -> Revisions {
        self.state.lock().revs
    }

    fn range(&self, req: &RangeRequest) -> KvResult<RangeResponse> {
        let st = self.state.lock();
        crate::range::range(&*st, st.revs.current, st.revs.compact, req)
    }

    fn events_since(&self, from: i64, max_events: usize) -> KvResult<EventPage> {
        let st = self.state.lock();
        if from < st.revs.compact {
            return Err(KvError::Compacted {
                compact_revision: st.revs.compact,
            });
        }
        let mut all: Vec<(i64, i64, Event)> = Vec::new();
        for (k, vs) in &st.versions {
            for (i, v) in vs.iter().enumerate() {
                if v.mod_revision < from {
                    continue;
                }
                let prev = vs[..i]
                    .last()
                    .filter(|p| !p.tombstone && v.mod_revision > st.revs.compact)
                    .map(|p| to_key_value(k.clone(), p));
                let (ty, kv) = if v.tombstone {
                    (
                        event::EventType::Delete,
                        capstan_proto::store::KeyValue {
                            key: k.clone(),
                            mod_revision: v.mod_revision,
                            ..Default::default()
                        },
                    )
                } else {
                    (event::EventType::Put, to_key_value(k.clone(), v))
                };
                all.push((
                    v.mod_revision,
                    v.sub,
                    Event {
                        r#type: ty as i32,
                        kv: Some(kv),
                        prev_kv: prev,
                    },
                ));
            }
        }
        all.sort_by_key(|(rev, sub, _)| (*rev, *sub));
        let mut page = EventPage {
            events: Vec::new(),
            through: st.revs.current,
        };
        for (rev, _, ev) in all {
            if page.events.len() >= max_events
                && page
                    .events
                    .last()
                    .and_then(|e| e.kv.as_ref())
                    .is_some_and(|kv| kv.mod_revision != rev)
            {
                page.through = rev - 1;
                break;
            }
            page.events.push(ev);
        }
        Ok(page)
    }

    fn lease(&self, id: i64) -> KvResult<Option<StoredLease>> {
        self.state.lock().lease(id)
    }

    fn leases(&self) -> KvResult<Vec<StoredLease>> {
        Ok(self.state.lock().leases.values().cloned().collect())
    }

    fn lease_keys(&self, id: i64) -> KvResult<Vec<Bytes>> {
        self.state.lock().lease_keys(id)
    }

    fn applied(&self) -> KvResult<Option<Bytes>> {
        Ok(self.state.lock().applied.clone())
    }

    fn sync(&self) -> KvResult<()> {
        Ok(())
    }

    fn db_size(&self) -> i64 {
        let st = self.state.lock();
        st.versions
            .iter()
            .map(|(k, vs)| {
                vs.iter()
                    .map(|v| k.len() + v.value.len() + 48)
                    .sum::<usize>()
            })
            .sum::<usize>() as i64
    }

    fn export(&self, sink: &mut dyn ExportSink) -> KvResult<()> {
        let st = self.state.lock().clone();
        sink.header(&SnapshotHeader {
            format_version: FORMAT_VERSION,
            revision: st.revs.current,
            compact_revision: st.revs.compact,
            applied: st.applied.clone().unwrap_or_default(),
            has_applied: st.applied.is_some(),
        })?;
        for (k, vs) in &st.versions {
            for v in vs {
                sink.version(k, v)?;
            }
        }
        for l in st.leases.values() {
            sink.lease(l)?;
        }
        Ok(())
    }

    fn import(
        &self,
        header: &SnapshotHeader,
        items: &mut dyn Iterator<Item = KvResult<ImportItem>>,
    ) -> KvResult<()> {
        let mut fresh = MemState {
            versions: BTreeMap::new(),
            leases: BTreeMap::new(),
            revs: Revisions {
                current: header.revision,
                compact: header.compact_revision,
            },
            applied: header.has_applied.then(|| header.applied.clone()),
        };
        for item in items {
            match item? {
                ImportItem::Version(k, v) => fresh.versions.entry(k).or_default().push(v),
                ImportItem::Lease(l) => {
                    fresh.leases.insert(l.id, l);
                }
            }
        }
        *self.state.lock() = fresh;
        Ok(())
    }
}
