//! The keyspace hash (etcd's HashKV): CRC-32C over every version a read at or below a revision can
//! see, in (key, revision) order. Equal on every replica that applied the same commands, whatever
//! the physical compaction progress, because it is computed from the logical image.

use capstan_proto::store::{SnapshotHeader, StoredLease, StoredVersion};

use crate::backend::ExportSink;
use crate::error::KvResult;

/// Accumulates the hash of an exported image up to `revision`.
pub struct HashSink {
    revision: i64,
    crc: u32,
    /// The image's header, once seen.
    pub header: Option<SnapshotHeader>,
}

impl HashSink {
    /// Hashes versions with `mod_revision <= revision`.
    pub fn new(revision: i64) -> Self {
        HashSink {
            revision,
            crc: 0,
            header: None,
        }
    }

    /// The hash so far.
    pub fn hash(&self) -> u32 {
        self.crc
    }

    fn feed(&mut self, bytes: &[u8]) {
        self.crc = crc32c::crc32c_append(self.crc, bytes);
    }
}

impl ExportSink for HashSink {
    fn header(&mut self, header: &SnapshotHeader) -> KvResult<()> {
        self.header = Some(header.clone());
        Ok(())
    }

    fn version(&mut self, key: &[u8], v: &StoredVersion) -> KvResult<()> {
        if v.mod_revision > self.revision {
            return Ok(());
        }
        self.feed(&(key.len() as u64).to_be_bytes());
        self.feed(key);
        for n in [
            v.create_revision,
            v.mod_revision,
            v.version,
            v.lease,
            v.sub,
            v.tombstone as i64,
        ] {
            self.feed(&n.to_be_bytes());
        }
        self.feed(&(v.value.len() as u64).to_be_bytes());
        self.feed(&v.value);
        Ok(())
    }

    fn lease(&mut self, _lease: &StoredLease) -> KvResult<()> {
        Ok(())
    }
}
