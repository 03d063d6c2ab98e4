//! Helpers shared by the model and crash tests.
#![allow(dead_code)]

use bytes::Bytes;
use capstan_store::proto::{SnapshotHeader, StoredLease, StoredVersion};
use capstan_store::{ExportSink, KvResult};

/// Collects an exported image, to compare two stores exactly.
#[derive(Debug, Default, PartialEq)]
pub struct Image {
    pub header: Option<SnapshotHeader>,
    pub versions: Vec<(Bytes, StoredVersion)>,
    pub leases: Vec<StoredLease>,
}

impl ExportSink for Image {
    fn header(&mut self, header: &SnapshotHeader) -> KvResult<()> {
        self.header = Some(header.clone());
        Ok(())
    }
    fn version(&mut self, key: &[u8], v: &StoredVersion) -> KvResult<()> {
        self.versions.push((Bytes::copy_from_slice(key), v.clone()));
        Ok(())
    }
    fn lease(&mut self, lease: &StoredLease) -> KvResult<()> {
        self.leases.push(*lease);
        Ok(())
    }
}

/// splitmix64: a tiny deterministic generator for reproducible command streams.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}
