//! Writes of a batch being applied: recorded in the overlay (so later commands of the same batch
//! read them) and turned into one RocksDB `WriteBatch` at the end.

use bytes::Bytes;
use capstan_proto::store::{StoredLease, StoredVersion};
use prost::Message;
use rocksdb::WriteBatch;

use super::source::{BatchSource, Cf, Cfs, ALL_CFS};
use crate::error::KvResult;
use crate::keys;
use crate::keyspace::KeyspaceWrite;

use super::source::RocksKeyspace;

impl KeyspaceWrite for RocksKeyspace<BatchSource<'_>> {
    fn write_version(&mut self, key: &Bytes, v: &StoredVersion, prev_lease: i64) -> KvResult<()> {
        let raw = v.encode_to_vec();
        let src = &mut self.0;
        if v.tombstone {
            src.delete(Cf::Latest, key.to_vec());
        } else {
            src.put(Cf::Latest, key.to_vec(), raw.clone());
        }
        src.put(Cf::History, keys::history_key(key, v.mod_revision), raw);
        src.put(
            Cf::Events,
            keys::event_key(v.mod_revision, v.sub).to_vec(),
            key.to_vec(),
        );
        let new_lease = if v.tombstone { 0 } else { v.lease };
        if prev_lease != new_lease {
            if prev_lease != 0 {
                src.delete(Cf::LeaseKeys, keys::lease_keys_key(prev_lease, key));
            }
            if new_lease != 0 {
                src.put(
                    Cf::LeaseKeys,
                    keys::lease_keys_key(new_lease, key),
                    Vec::new(),
                );
            }
        }
        Ok(())
    }

    fn put_lease(&mut self, lease: &StoredLease) -> KvResult<()> {
        self.0.put(
            Cf::Leases,
            keys::lease_key(lease.id).to_vec(),
            lease.encode_to_vec(),
        );
        Ok(())
    }

    fn delete_lease(&mut self, id: i64) -> KvResult<()> {
        self.0.delete(Cf::Leases, keys::lease_key(id).to_vec());
        Ok(())
    }
}

/// Moves an overlay into a `WriteBatch`.
pub fn into_write_batch(overlay: super::source::Overlay, cfs: &Cfs<'_>, wb: &mut WriteBatch) {
    for (cf, writes) in ALL_CFS.iter().zip(overlay) {
        let handle = cfs.get(*cf);
        for (k, v) in writes {
            match v {
                Some(v) => wb.put_cf(handle, k, v),
                None => wb.delete_cf(handle, k),
            }
        }
    }
}
