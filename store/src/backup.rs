//! Backup files: a snapshot file with a manifest, as `capstan backup` writes them.
//!
//! Layout: the magic `CAPBAK01`, a length-delimited `BackupManifest`, the snapshot file's bytes
//! (exactly `snapshot_bytes` of them, as the replica streamed them), then the SHA-256 of every
//! byte before it (32 bytes). A backup is checked completely (outer checksum, manifest against
//! the snapshot, every record and the snapshot's own checksum) before anything is restored from
//! it, so a flipped byte, a truncated file or another kind of file is refused and changes nothing.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use capstan_proto::store::{BackupManifest, SnapshotHeader, StoredVersion};
use prost::Message;
use sha2::{Digest, Sha256};

use crate::backend::ImportItem;
use crate::error::{KvError, KvResult};
use crate::snapshot::{snapshot_items, SnapshotReader};

const MAGIC: &[u8; 8] = b"CAPBAK01";
/// The largest manifest accepted (a manifest is a few hundred bytes).
const MAX_MANIFEST: u64 = 64 << 10;

fn corrupt(msg: &str) -> KvError {
    KvError::Corrupt(format!("backup: {msg}"))
}

/// What a snapshot holds, counted while reading it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SnapshotCounts {
    /// Keys that exist at the snapshot's revision.
    pub keys: u64,
    /// Versions (every change kept since the compact revision).
    pub versions: u64,
    /// Leases.
    pub leases: u64,
}

/// Reads a whole snapshot, checking every record and its checksum; its header and counts.
pub fn count_snapshot(mut reader: SnapshotReader) -> KvResult<(SnapshotHeader, SnapshotCounts)> {
    let header = reader.header.clone();
    let mut counts = SnapshotCounts::default();
    // Versions come in (key, revision) order: a key exists if its last version is not a delete.
    let mut last: Option<(Bytes, bool)> = None;
    for item in snapshot_items(&mut reader) {
        match item? {
            ImportItem::Version(k, v) => {
                counts.versions += 1;
                if let Some((lk, live)) = &last {
                    if *lk != k && *live {
                        counts.keys += 1;
                    }
                }
                last = Some((k, !v.tombstone));
            }
            ImportItem::Lease(_) => counts.leases += 1,
        }
    }
    if last.is_some_and(|(_, live)| live) {
        counts.keys += 1;
    }
    Ok((header, counts))
}

/// Writes a backup file at `dest` from the snapshot file `snapshot` and its `manifest` (whose
/// `snapshot_bytes` must be the snapshot's size): through a temporary file next to `dest`,
/// fsynced and renamed, so `dest` is either absent or complete.
pub fn write_backup(dest: &Path, manifest: &BackupManifest, snapshot: &Path) -> KvResult<u64> {
    let tmp = temp_path(dest);
    let result = write_backup_to(&tmp, manifest, snapshot);
    match result {
        Ok(size) => {
            std::fs::rename(&tmp, dest)?;
            // The rename is durable only once the directory is.
            if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
                File::open(dir)?.sync_all()?;
            }
            Ok(size)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

fn temp_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    dest.with_file_name(name)
}

fn write_backup_to(tmp: &Path, manifest: &BackupManifest, snapshot: &Path) -> KvResult<u64> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(tmp)?);
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut put = |out: &mut BufWriter<File>, bytes: &[u8]| -> KvResult<()> {
        hasher.update(bytes);
        out.write_all(bytes)?;
        size += bytes.len() as u64;
        Ok(())
    };
    put(&mut out, MAGIC)?;
    put(&mut out, &manifest.encode_length_delimited_to_vec())?;
    let mut input = File::open(snapshot)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut copied = 0u64;
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            break;
        }
        put(&mut out, &buf[..n])?;
        copied += n as u64;
    }
    if copied != manifest.snapshot_bytes {
        return Err(KvError::Storage(format!(
            "snapshot is {copied} bytes, the manifest says {}",
            manifest.snapshot_bytes
        )));
    }
    let digest = hasher.finalize();
    out.write_all(&digest)?;
    size += digest.len() as u64;
    let file = out
        .into_inner()
        .map_err(|e| KvError::Storage(e.to_string()))?;
    // A backup is what the on-call restores from: it must be on disk before we say it exists.
    file.sync_all()?;
    Ok(size)
}

/// An opened backup file: its manifest, and where the snapshot starts.
pub struct BackupFile {
    path: PathBuf,
    /// The manifest.
    pub manifest: BackupManifest,
    snapshot_offset: u64,
    /// The file's size in bytes.
    pub size: u64,
}

impl BackupFile {
    /// Opens `path` and reads its manifest (nothing else is checked: see `verify`).
    pub fn open(path: &Path) -> KvResult<Self> {
        let size = std::fs::metadata(path)?.len();
        let mut input = BufReader::new(File::open(path)?);
        let mut magic = [0u8; 8];
        input
            .read_exact(&mut magic)
            .map_err(|_| corrupt("not a capstan backup (too short)"))?;
        if &magic != MAGIC {
            return Err(corrupt("not a capstan backup (bad magic)"));
        }
        let mut len = 0u64;
        let mut prefix = 0u64;
        for shift in (0..64).step_by(7) {
            let mut b = [0u8; 1];
            input
                .read_exact(&mut b)
                .map_err(|_| corrupt("truncated manifest"))?;
            prefix += 1;
            len |= u64::from(b[0] & 0x7f) << shift;
            if b[0] & 0x80 == 0 {
                break;
            }
        }
        if len > MAX_MANIFEST {
            return Err(corrupt("manifest too large"));
        }
        let mut body = vec![0u8; len as usize];
        input
            .read_exact(&mut body)
            .map_err(|_| corrupt("truncated manifest"))?;
        let manifest =
            BackupManifest::decode(body.as_slice()).map_err(|_| corrupt("undecodable manifest"))?;
        let snapshot_offset = MAGIC.len() as u64 + prefix + len;
        if snapshot_offset + manifest.snapshot_bytes + 32 != size {
            return Err(corrupt(&format!(
                "truncated or extended: {size} bytes, the manifest implies {}",
                snapshot_offset + manifest.snapshot_bytes + 32
            )));
        }
        Ok(BackupFile {
            path: path.to_path_buf(),
            manifest,
            snapshot_offset,
            size,
        })
    }

    /// Checks the whole file: the outer checksum, then every record of the snapshot and its own
    /// checksum, and that the manifest tells the truth about it.
    pub fn verify(&self) -> KvResult<SnapshotCounts> {
        let mut input = BufReader::with_capacity(1 << 20, File::open(&self.path)?);
        let mut hasher = Sha256::new();
        let mut left = self.size - 32;
        let mut buf = vec![0u8; 1 << 20];
        while left > 0 {
            let n = input.read(&mut buf[..left.min(1 << 20) as usize])?;
            if n == 0 {
                return Err(corrupt("truncated"));
            }
            hasher.update(&buf[..n]);
            left -= n as u64;
        }
        let mut tail = [0u8; 32];
        input
            .read_exact(&mut tail)
            .map_err(|_| corrupt("truncated"))?;
        if hasher.finalize().as_slice() != tail {
            return Err(corrupt("checksum mismatch"));
        }
        let (header, counts) = count_snapshot(self.snapshot()?)?;
        let m = &self.manifest;
        if header.revision != m.revision
            || header.compact_revision != m.compact_revision
            || counts.keys != m.keys
            || counts.versions != m.versions
            || counts.leases != m.leases
        {
            return Err(corrupt("the manifest does not match the snapshot"));
        }
        Ok(counts)
    }

    /// A reader of the snapshot inside (header read).
    pub fn snapshot(&self) -> KvResult<SnapshotReader> {
        let mut f = File::open(&self.path)?;
        f.seek(SeekFrom::Start(self.snapshot_offset))?;
        SnapshotReader::from_reader(Box::new(f.take(self.manifest.snapshot_bytes)))
    }
}

/// How a restore shapes the image it imports.
#[derive(Clone, Copy, Debug)]
pub struct RestoreShape {
    /// Added to the snapshot's revision (etcdutl's `--bump-revision`).
    pub bump_revision: i64,
    /// Compact at the new revision (etcdutl's `--mark-compacted`): only each key's latest
    /// version is kept, and a watch or read from any older revision is refused as compacted, so
    /// clients re-list instead of missing changes made after the snapshot.
    pub mark_compacted: bool,
}

/// The header and items `capstan restore` imports from a verified snapshot, shaped as `shape`
/// says.
pub fn restore_items(
    reader: &mut SnapshotReader,
    shape: RestoreShape,
) -> KvResult<(
    SnapshotHeader,
    impl Iterator<Item = KvResult<ImportItem>> + '_,
)> {
    if shape.bump_revision < 0 {
        return Err(KvError::invalid("--bump-revision must not be negative"));
    }
    let mut header = reader.header.clone();
    header.revision = header
        .revision
        .checked_add(shape.bump_revision)
        .ok_or_else(|| KvError::invalid("--bump-revision overflows the revision"))?;
    if shape.mark_compacted {
        header.compact_revision = header.revision;
    }
    // A new cluster: nothing of the old raft log applies to it.
    header.applied = Bytes::new();
    header.has_applied = false;
    let items = snapshot_items(reader);
    let items: Box<dyn Iterator<Item = KvResult<ImportItem>> + '_> = if shape.mark_compacted {
        Box::new(LatestOnly {
            items,
            held: None,
            queued: None,
        })
    } else {
        Box::new(items)
    };
    Ok((header, items))
}

/// Keeps each key's last version, and drops keys whose last version is a delete.
struct LatestOnly<I> {
    items: I,
    /// The last version seen of the key being read.
    held: Option<(Bytes, StoredVersion)>,
    /// An item read past the held key, given out next.
    queued: Option<KvResult<ImportItem>>,
}

impl<I: Iterator<Item = KvResult<ImportItem>>> LatestOnly<I> {
    fn release(&mut self) -> Option<KvResult<ImportItem>> {
        self.held
            .take()
            .filter(|(_, v)| !v.tombstone)
            .map(|(k, v)| Ok(ImportItem::Version(k, v)))
    }
}

impl<I: Iterator<Item = KvResult<ImportItem>>> Iterator for LatestOnly<I> {
    type Item = KvResult<ImportItem>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(q) = self.queued.take() {
            return Some(q);
        }
        loop {
            match self.items.next() {
                Some(Ok(ImportItem::Version(k, v))) => {
                    let other_key = self.held.as_ref().is_some_and(|(hk, _)| *hk != k);
                    let released = if other_key { self.release() } else { None };
                    self.held = Some((k, v));
                    if released.is_some() {
                        return released;
                    }
                }
                Some(other) => {
                    // Leases (or an error) follow the versions: the last key goes first.
                    return match self.release() {
                        Some(r) => {
                            self.queued = Some(other);
                            Some(r)
                        }
                        None => Some(other),
                    };
                }
                None => return self.release(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use capstan_proto::store::StoredLease;

    fn version(rev: i64, tombstone: bool) -> StoredVersion {
        StoredVersion {
            create_revision: 1,
            mod_revision: rev,
            version: 1,
            value: Bytes::from(format!("v{rev}")),
            lease: 0,
            sub: 0,
            tombstone,
        }
    }

    #[test]
    fn latest_only_keeps_each_live_keys_last_version_then_the_leases() {
        let items = vec![
            ImportItem::Version(Bytes::from_static(b"a"), version(2, false)),
            ImportItem::Version(Bytes::from_static(b"a"), version(5, false)),
            ImportItem::Version(Bytes::from_static(b"b"), version(3, false)),
            ImportItem::Version(Bytes::from_static(b"b"), version(4, true)),
            ImportItem::Version(Bytes::from_static(b"c"), version(6, false)),
            ImportItem::Lease(StoredLease {
                id: 7,
                ..Default::default()
            }),
        ];
        let kept: Vec<String> = LatestOnly {
            items: items.into_iter().map(Ok),
            held: None,
            queued: None,
        }
        .map(|i| match i {
            Ok(ImportItem::Version(k, v)) => {
                format!("{}@{}", String::from_utf8_lossy(&k), v.mod_revision)
            }
            Ok(ImportItem::Lease(l)) => format!("lease {}", l.id),
            Err(e) => format!("error {e}"),
        })
        .collect();
        assert_eq!(kept, ["a@5", "c@6", "lease 7"]);
    }
}
