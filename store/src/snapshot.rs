//! Snapshot files: a consistent image of the whole store, portable between backends and machines.
//!
//! Layout: the magic `CAPSNAP1`, then records, each a one-byte tag and a length-delimited protobuf
//! message: `H` + `SnapshotHeader`, any number of `E` + `SnapshotEntry` (versions in (key,
//! revision) order, then leases in id order), and last `T` + `SnapshotTrailer`, whose SHA-256
//! covers every byte before the `T`. Nothing may follow the trailer. A file is verified completely
//! before anything is imported from it, so a corrupt or truncated file changes nothing.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use bytes::{Bytes, BytesMut};
use capstan_proto::store::{
    snapshot_entry, SnapshotEntry, SnapshotHeader, SnapshotTrailer, StoredLease, StoredVersion,
    VersionEntry,
};
use prost::Message;
use sha2::{Digest, Sha256};

use crate::backend::{ExportSink, ImportItem};
use crate::error::{KvError, KvResult};
use crate::keys::FORMAT_VERSION;

const MAGIC: &[u8; 8] = b"CAPSNAP1";
const TAG_HEADER: u8 = b'H';
const TAG_ENTRY: u8 = b'E';
const TAG_TRAILER: u8 = b'T';
/// Largest record accepted when reading (a version is at most one request).
const MAX_RECORD: usize = 4 << 20;

/// What a snapshot file holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// The store revision of the image.
    pub revision: i64,
    /// Its compact revision.
    pub compact_revision: i64,
    /// SHA-256 of the file's content before the trailer, hex.
    pub sha256: String,
    /// File size in bytes.
    pub size: u64,
    /// Versions and leases in the file.
    pub entries: u64,
    /// The applied position recorded in the image.
    pub applied: Option<Bytes>,
}

/// Writes an exported image to a file.
pub struct SnapshotWriter {
    out: BufWriter<File>,
    hasher: Sha256,
    size: u64,
    entries: u64,
    header: Option<SnapshotHeader>,
    buf: Vec<u8>,
}

impl SnapshotWriter {
    /// Creates (truncates) `path`.
    pub fn create(path: &Path) -> KvResult<Self> {
        let mut w = SnapshotWriter {
            out: BufWriter::with_capacity(1 << 20, File::create(path)?),
            hasher: Sha256::new(),
            size: 0,
            entries: 0,
            header: None,
            buf: Vec::new(),
        };
        w.raw(MAGIC)?;
        Ok(w)
    }

    fn raw(&mut self, bytes: &[u8]) -> KvResult<()> {
        self.hasher.update(bytes);
        self.out.write_all(bytes)?;
        self.size += bytes.len() as u64;
        Ok(())
    }

    fn record(&mut self, tag: u8, msg: &impl Message) -> KvResult<()> {
        self.buf.clear();
        self.buf.push(tag);
        msg.encode_length_delimited(&mut self.buf)
            .map_err(|e| KvError::Storage(e.to_string()))?;
        let buf = std::mem::take(&mut self.buf);
        let r = self.raw(&buf);
        self.buf = buf;
        r
    }

    /// Writes the trailer, flushes and fsyncs the file.
    pub fn finish(mut self) -> KvResult<SnapshotInfo> {
        let header = self
            .header
            .clone()
            .ok_or_else(|| KvError::Storage("snapshot without header".into()))?;
        let digest = self.hasher.clone().finalize();
        let trailer = SnapshotTrailer {
            entries: self.entries,
            sha256: Bytes::copy_from_slice(&digest),
        };
        let mut buf = vec![TAG_TRAILER];
        trailer
            .encode_length_delimited(&mut buf)
            .map_err(|e| KvError::Storage(e.to_string()))?;
        self.out.write_all(&buf)?;
        self.size += buf.len() as u64;
        let file = self
            .out
            .into_inner()
            .map_err(|e| KvError::Storage(e.to_string()))?;
        // A snapshot is a backup or a raft snapshot: it must be on disk before anyone relies on it.
        file.sync_all()?;
        Ok(SnapshotInfo {
            revision: header.revision,
            compact_revision: header.compact_revision,
            sha256: hex(&digest),
            size: self.size,
            entries: self.entries,
            applied: header.has_applied.then(|| header.applied.clone()),
        })
    }
}

impl ExportSink for SnapshotWriter {
    fn header(&mut self, header: &SnapshotHeader) -> KvResult<()> {
        self.header = Some(header.clone());
        self.record(TAG_HEADER, header)
    }

    fn version(&mut self, key: &[u8], v: &StoredVersion) -> KvResult<()> {
        self.entries += 1;
        let e = SnapshotEntry {
            entry: Some(snapshot_entry::Entry::Version(VersionEntry {
                key: Bytes::copy_from_slice(key),
                version: Some(v.clone()),
            })),
        };
        self.record(TAG_ENTRY, &e)
    }

    fn lease(&mut self, lease: &StoredLease) -> KvResult<()> {
        self.entries += 1;
        let e = SnapshotEntry {
            entry: Some(snapshot_entry::Entry::Lease(*lease)),
        };
        self.record(TAG_ENTRY, &e)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn corrupt(msg: &str) -> KvError {
    KvError::Corrupt(format!("snapshot: {msg}"))
}

/// Reads a snapshot file record by record.
pub struct SnapshotReader {
    input: BufReader<Box<dyn Read + Send>>,
    hasher: Sha256,
    /// Over every byte read, trailer included: for the optional etcd-style tail.
    whole: Sha256,
    /// The header.
    pub header: SnapshotHeader,
    entries: u64,
    trailer: Option<SnapshotTrailer>,
}

impl SnapshotReader {
    /// Opens `path` and reads its header.
    pub fn open(path: &Path) -> KvResult<Self> {
        Self::from_reader(Box::new(File::open(path)?))
    }

    /// Reads a snapshot from `input` (which must end where the snapshot ends), starting with its
    /// header.
    pub fn from_reader(input: Box<dyn Read + Send>) -> KvResult<Self> {
        let mut r = SnapshotReader {
            input: BufReader::with_capacity(1 << 20, input),
            hasher: Sha256::new(),
            whole: Sha256::new(),
            header: SnapshotHeader::default(),
            entries: 0,
            trailer: None,
        };
        let mut magic = [0u8; 8];
        r.input
            .read_exact(&mut magic)
            .map_err(|_| corrupt("not a capstan snapshot (too short)"))?;
        if &magic != MAGIC {
            return Err(corrupt("not a capstan snapshot (bad magic)"));
        }
        r.hasher.update(magic);
        r.whole.update(magic);
        let (tag, body) = r
            .read_record()?
            .ok_or_else(|| corrupt("truncated before the header"))?;
        if tag != TAG_HEADER {
            return Err(corrupt("missing header"));
        }
        r.header = SnapshotHeader::decode(body).map_err(|_| corrupt("undecodable header"))?;
        if r.header.format_version != FORMAT_VERSION {
            return Err(corrupt(&format!(
                "unsupported format version {}",
                r.header.format_version
            )));
        }
        Ok(r)
    }

    fn read_record(&mut self) -> KvResult<Option<(u8, BytesMut)>> {
        let mut tag = [0u8; 1];
        if self.input.read(&mut tag)? == 0 {
            return Ok(None);
        }
        let mut len: u64 = 0;
        let mut prefix = vec![tag[0]];
        for shift in (0..64).step_by(7) {
            let mut b = [0u8; 1];
            self.input
                .read_exact(&mut b)
                .map_err(|_| corrupt("truncated record"))?;
            prefix.push(b[0]);
            len |= u64::from(b[0] & 0x7f) << shift;
            if b[0] & 0x80 == 0 {
                break;
            }
        }
        if len as usize > MAX_RECORD {
            return Err(corrupt("record too large"));
        }
        let mut body = BytesMut::zeroed(len as usize);
        self.input
            .read_exact(&mut body)
            .map_err(|_| corrupt("truncated record"))?;
        if tag[0] != TAG_TRAILER {
            self.hasher.update(&prefix);
            self.hasher.update(&body);
        }
        self.whole.update(&prefix);
        self.whole.update(&body);
        Ok(Some((tag[0], body)))
    }

    /// The next entry; `None` after the trailer, which is checked (checksum, count, end of file).
    pub fn next_item(&mut self) -> KvResult<Option<ImportItem>> {
        if self.trailer.is_some() {
            return Ok(None);
        }
        let (tag, body) = self
            .read_record()?
            .ok_or_else(|| corrupt("truncated: no trailer"))?;
        match tag {
            TAG_ENTRY => {
                self.entries += 1;
                let e = SnapshotEntry::decode(body).map_err(|_| corrupt("undecodable entry"))?;
                match e.entry {
                    Some(snapshot_entry::Entry::Version(v)) => {
                        let ver = v
                            .version
                            .ok_or_else(|| corrupt("version entry without version"))?;
                        Ok(Some(ImportItem::Version(v.key, ver)))
                    }
                    Some(snapshot_entry::Entry::Lease(l)) => Ok(Some(ImportItem::Lease(l))),
                    None => Err(corrupt("empty entry")),
                }
            }
            TAG_TRAILER => {
                let t =
                    SnapshotTrailer::decode(body).map_err(|_| corrupt("undecodable trailer"))?;
                let digest = self.hasher.clone().finalize();
                if t.sha256.as_ref() != digest.as_slice() {
                    return Err(corrupt("checksum mismatch"));
                }
                if t.entries != self.entries {
                    return Err(corrupt("entry count mismatch"));
                }
                // Nothing may follow the trailer, except the tail etcd's snapshot stream adds (and
                // etcdctl saves): zeros up to a 512-byte boundary, then the SHA-256 of all before.
                let mut rest = Vec::new();
                self.input.read_to_end(&mut rest)?;
                if !rest.is_empty() {
                    let split = rest
                        .len()
                        .checked_sub(32)
                        .ok_or_else(|| corrupt("data after the trailer"))?;
                    let (zeros, hash) = rest.split_at(split);
                    let mut whole = self.whole.clone();
                    whole.update(zeros);
                    if zeros.iter().any(|b| *b != 0) || whole.finalize().as_slice() != hash {
                        return Err(corrupt("data after the trailer"));
                    }
                }
                self.trailer = Some(t);
                Ok(None)
            }
            _ => Err(corrupt("unknown record tag")),
        }
    }
}

/// Reads a whole snapshot file and checks it: magic, format, every record, entry count, checksum.
pub fn verify_snapshot(path: &Path) -> KvResult<SnapshotInfo> {
    let size = std::fs::metadata(path)?.len();
    let mut r = SnapshotReader::open(path)?;
    while r.next_item()?.is_some() {}
    let digest = r
        .trailer
        .as_ref()
        .map(|t| hex(&t.sha256))
        .unwrap_or_default();
    Ok(SnapshotInfo {
        revision: r.header.revision,
        compact_revision: r.header.compact_revision,
        sha256: digest,
        size,
        entries: r.entries,
        applied: r.header.has_applied.then(|| r.header.applied.clone()),
    })
}

/// The items of a verified snapshot file, in order.
pub fn snapshot_items(
    reader: &mut SnapshotReader,
) -> impl Iterator<Item = KvResult<ImportItem>> + '_ {
    std::iter::from_fn(move || reader.next_item().transpose())
}
