//! `StateMachine`: openraft's state machine is capstan's store. Each batch of committed entries is
//! one `Store::apply` call, which writes the commands' effects and the batch's last log id (and the
//! membership) in one RocksDB WriteBatch: after a crash the store resumes from its last durable
//! applied position and the log replays the rest. Raft snapshots are the store's own snapshot
//! files; installing one is a store restore.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use capstan_proto::raft as pb;
use capstan_store::{Backend, CommandResponse, Kv, KvError, KvResult, RocksKv};
use openraft::storage::RaftStateMachine;
use openraft::{
    EntryPayload, ErrorSubject, ErrorVerb, OptionalSend, RaftSnapshotBuilder, Snapshot,
};
use prost::Message;
use tokio::sync::watch;

use crate::codec::{
    log_id_to_pb, opt_log_id_from_pb, snapshot_meta_from_pb, snapshot_meta_to_pb,
    stored_membership_from_pb, stored_membership_to_pb,
};
use crate::types::{
    ApplyReply, Entry, LogId, SnapshotMeta, StorageError, StoredMembership, TypeConfig,
};

const APPLIED_FORMAT: u32 = 1;
/// Batches up to this many commands are applied on the calling task.
const INLINE_APPLY: usize = 16;
const CURRENT_META: &str = "current.meta";
const RECEIVING: &str = "receiving.snap";
const BUILDING: &str = "building.snap";

fn sm_err(verb: ErrorVerb, e: impl ToString) -> StorageError {
    StorageError::from_io_error(
        ErrorSubject::StateMachine,
        verb,
        std::io::Error::other(e.to_string()),
    )
}

fn snap_err(verb: ErrorVerb, e: impl ToString) -> StorageError {
    StorageError::from_io_error(
        ErrorSubject::Snapshot(None),
        verb,
        std::io::Error::other(e.to_string()),
    )
}

/// Decodes the store's applied position.
pub fn decode_applied(bytes: Option<&[u8]>) -> Result<(Option<LogId>, StoredMembership), KvError> {
    let Some(bytes) = bytes else {
        return Ok((None, StoredMembership::default()));
    };
    let st = pb::AppliedState::decode(bytes)?;
    Ok((
        opt_log_id_from_pb(st.last_applied.as_ref()),
        stored_membership_from_pb(st.membership.as_ref()),
    ))
}

/// The replicated state machine over a local `RocksKv`.
pub struct StateMachine {
    store: Arc<RocksKv>,
    snapshots: PathBuf,
    last_applied: Option<LogId>,
    membership: StoredMembership,
    /// The last applied log index, for readers waiting to see an entry applied locally.
    applied_tx: watch::Sender<u64>,
    /// Serializes snapshot file moves between building and installing.
    files: Arc<tokio::sync::Mutex<()>>,
}

impl StateMachine {
    /// Wraps `store`, keeping raft snapshot files in `snapshots`. A store left empty by a crash
    /// during a snapshot install (the store's restore is all-or-nothing) is restored from the
    /// current snapshot, so the replica resumes from it instead of from a log that was purged.
    pub async fn open(store: Arc<RocksKv>, snapshots: &Path) -> Result<StateMachine, KvError> {
        std::fs::create_dir_all(snapshots)?;
        let mut applied = store.backend().applied()?;
        if applied.is_none() {
            if let Some((meta, file)) = current_files(snapshots).await? {
                tracing::warn!(snapshot = %meta.snapshot_id, "store is empty: restoring the current raft snapshot");
                store.restore(&file).await?;
                applied = store.backend().applied()?;
            }
        }
        let (last_applied, membership) = decode_applied(applied.as_deref())?;
        let (applied_tx, _) = watch::channel(last_applied.map(|l| l.index).unwrap_or(0));
        Ok(StateMachine {
            store,
            snapshots: snapshots.to_path_buf(),
            last_applied,
            membership,
            applied_tx,
            files: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    /// A receiver of the last applied index.
    pub fn applied_index(&self) -> watch::Receiver<u64> {
        self.applied_tx.subscribe()
    }

    fn applied_bytes(&self) -> Vec<u8> {
        pb::AppliedState {
            format_version: APPLIED_FORMAT,
            last_applied: self.last_applied.as_ref().map(log_id_to_pb),
            membership: Some(stored_membership_to_pb(&self.membership)),
        }
        .encode_to_vec()
    }

    fn publish_applied(&self) {
        let idx = self.last_applied.map(|l| l.index).unwrap_or(0);
        self.applied_tx.send_replace(idx);
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        Ok((self.last_applied, self.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<ApplyReply>, StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        capstan_store::crash_point!("raft.apply");
        // One store batch for all entries; `slots[i]` = (entry, proposal) the i-th command
        // answers.
        let mut replies: Vec<Vec<KvResult<CommandResponse>>> = Vec::new();
        let mut cmds = Vec::new();
        let mut slots = Vec::new();
        for e in entries {
            self.last_applied = Some(e.log_id);
            let entry = replies.len();
            let mut results = Vec::new();
            match e.payload {
                EntryPayload::Blank => {}
                EntryPayload::Membership(m) => {
                    self.membership = StoredMembership::new(Some(e.log_id), m);
                }
                EntryPayload::Normal(batch) => {
                    let term = e.log_id.leader_id.term;
                    for p in batch.proposals {
                        // Fencing: decided from the entry's own term, so every replica decides
                        // alike.
                        if p.fence_term != 0 && p.fence_term != term {
                            results.push(Err(KvError::Fenced {
                                expected: p.fence_term,
                                actual: term,
                            }));
                            continue;
                        }
                        match p.command {
                            Some(cmd) => {
                                slots.push((entry, results.len()));
                                results.push(Err(KvError::Storage("not applied".into())));
                                cmds.push(cmd);
                            }
                            None => {
                                results.push(Err(KvError::InvalidArgument("empty proposal".into())))
                            }
                        }
                    }
                }
            }
            replies.push(results);
        }
        if replies.is_empty() {
            return Ok(Vec::new());
        }
        let applied = self.applied_bytes();
        let store = self.store.clone();
        // Durability: the commands and the applied position go in one WriteBatch, not fsynced:
        // the raft log (fsynced) is the durable source and replays whatever a crash lost here.
        // Small batches (tens of microseconds of RocksDB memtable work, no fsync) run in place: a
        // hand-off to the blocking pool costs more than it saves. Large ones leave the runtime.
        let results = if cmds.len() <= INLINE_APPLY {
            store.apply(&cmds, Some(&applied), false)
        } else {
            tokio::task::spawn_blocking(move || store.apply(&cmds, Some(&applied), false))
                .await
                .map_err(|e| sm_err(ErrorVerb::Write, e))?
        }
        .map_err(|e| sm_err(ErrorVerb::Write, e))?;
        for ((entry, i), a) in slots.into_iter().zip(results) {
            if let Some(r) = replies.get_mut(entry).and_then(|r| r.get_mut(i)) {
                *r = a.response;
            }
        }
        self.publish_applied();
        Ok(replies
            .into_iter()
            .map(|results| ApplyReply { results })
            .collect())
    }

    async fn get_snapshot_builder(&mut self) -> SnapshotBuilder {
        SnapshotBuilder {
            store: self.store.clone(),
            dir: self.snapshots.clone(),
            files: self.files.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<tokio::fs::File>, StorageError> {
        let f = tokio::fs::File::create(self.snapshots.join(RECEIVING))
            .await
            .map_err(|e| snap_err(ErrorVerb::Write, e))?;
        Ok(Box::new(f))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<tokio::fs::File>,
    ) -> Result<(), StorageError> {
        let _files = self.files.lock().await;
        let path = self.snapshots.join(RECEIVING);
        received_file(*snapshot, &path)
            .await
            .map_err(|e| snap_err(ErrorVerb::Write, e))?;
        // The image must be the state at exactly the metadata's log position: otherwise raft
        // would re-apply (or skip) entries on top of it. Checked before anything is replaced.
        capstan_store::crash_point!("raft.snapshot.install");
        let check = path.clone();
        let info = tokio::task::spawn_blocking(move || capstan_store::verify_snapshot(&check))
            .await
            .map_err(|e| snap_err(ErrorVerb::Read, e))?
            .map_err(|e| snap_err(ErrorVerb::Read, e))?;
        let (applied, membership) =
            decode_applied(info.applied.as_deref()).map_err(|e| snap_err(ErrorVerb::Read, e))?;
        if applied != meta.last_log_id {
            return Err(snap_err(
                ErrorVerb::Read,
                format!(
                    "snapshot {} holds the state at {applied:?}, its metadata says {:?}",
                    meta.snapshot_id, meta.last_log_id
                ),
            ));
        }
        // The store verifies the checksum again and replaces everything or nothing.
        self.store
            .restore(&path)
            .await
            .map_err(|e| snap_err(ErrorVerb::Write, e))?;
        self.last_applied = meta.last_log_id;
        self.membership = if membership.log_id().is_some() {
            membership
        } else {
            meta.last_membership.clone()
        };
        keep_current(&self.snapshots, &path, meta)
            .await
            .map_err(|e| snap_err(ErrorVerb::Write, e))?;
        self.publish_applied();
        tracing::info!(snapshot = %meta.snapshot_id, last = ?meta.last_log_id, "installed a raft snapshot from the leader");
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let _files = self.files.lock().await;
        current_snapshot(&self.snapshots)
            .await
            .map_err(|e| snap_err(ErrorVerb::Read, e))
    }
}

/// Makes sure the received snapshot is complete on disk at `path`. Normally `file` is the file
/// `begin_receiving_snapshot` created there; any other handle is copied from its start.
async fn received_file(mut file: tokio::fs::File, path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    use tokio::io::AsyncSeekExt;
    file.sync_all().await?;
    let ours = tokio::fs::metadata(path).await.ok();
    let theirs = file.metadata().await?;
    if ours.is_some_and(|m| m.dev() == theirs.dev() && m.ino() == theirs.ino()) {
        return Ok(());
    }
    file.seek(std::io::SeekFrom::Start(0)).await?;
    let mut out = tokio::fs::File::create(path).await?;
    tokio::io::copy(&mut file, &mut out).await?;
    out.sync_all().await
}

fn data_file(dir: &Path, meta: &SnapshotMeta) -> PathBuf {
    dir.join(format!("{}.snap", meta.snapshot_id))
}

fn position(meta: &SnapshotMeta) -> Option<(u64, u64)> {
    meta.last_log_id.map(|l| (l.index, l.leader_id.term))
}

async fn sync_dir(dir: &Path) -> std::io::Result<()> {
    tokio::fs::File::open(dir).await?.sync_all().await
}

/// Makes `file` the current snapshot with `meta`, unless the current one is already as new (a
/// build that started before an install finished must not replace the installed snapshot).
/// Each snapshot's data has its own file, named by its id; `current.meta` names the current one
/// and is replaced last, atomically, so a crash at any point leaves a matching pair.
async fn keep_current(dir: &Path, file: &Path, meta: &SnapshotMeta) -> std::io::Result<()> {
    let previous = read_meta(dir).await?;
    if let Some(prev) = &previous {
        if position(prev) >= position(meta) && prev.snapshot_id != meta.snapshot_id {
            tokio::fs::remove_file(file).await?;
            return Ok(());
        }
    }
    let data = data_file(dir, meta);
    tokio::fs::rename(file, &data).await?;
    let tmp = dir.join("current.meta.tmp");
    tokio::fs::write(&tmp, snapshot_meta_to_pb(meta).encode_to_vec()).await?;
    tokio::fs::File::open(&tmp).await?.sync_all().await?;
    tokio::fs::rename(&tmp, dir.join(CURRENT_META)).await?;
    // Durability: the renames are made durable before the old data file goes away.
    sync_dir(dir).await?;
    if let Some(prev) = previous {
        let old = data_file(dir, &prev);
        if old != data {
            let _ = tokio::fs::remove_file(old).await;
        }
    }
    Ok(())
}

async fn read_meta(dir: &Path) -> std::io::Result<Option<SnapshotMeta>> {
    match tokio::fs::read(dir.join(CURRENT_META)).await {
        Ok(b) => Ok(Some(snapshot_meta_from_pb(
            &pb::SnapshotMeta::decode(b.as_slice()).map_err(std::io::Error::other)?,
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The current snapshot's metadata and data file, if there is one.
async fn current_files(dir: &Path) -> std::io::Result<Option<(SnapshotMeta, PathBuf)>> {
    Ok(read_meta(dir).await?.map(|m| {
        let f = data_file(dir, &m);
        (m, f)
    }))
}

async fn current_snapshot(dir: &Path) -> std::io::Result<Option<Snapshot<TypeConfig>>> {
    let Some((meta, path)) = current_files(dir).await? else {
        return Ok(None);
    };
    let file = tokio::fs::File::open(path).await?;
    Ok(Some(Snapshot {
        meta,
        snapshot: Box::new(file),
    }))
}

/// Builds a raft snapshot from the store.
pub struct SnapshotBuilder {
    store: Arc<RocksKv>,
    dir: PathBuf,
    files: Arc<tokio::sync::Mutex<()>>,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        capstan_store::crash_point!("raft.snapshot.build");
        let building = self.dir.join(BUILDING);
        let info = self
            .store
            .snapshot(&building)
            .await
            .map_err(|e| snap_err(ErrorVerb::Write, e))?;
        let store = self.store.clone();
        // Durability: the store's WAL is fsynced after the image is taken, so everything the
        // image covers is durable in the store itself, not only in the log: raft may purge the log
        // up to the snapshot.
        tokio::task::spawn_blocking(move || store.sync())
            .await
            .map_err(|e| snap_err(ErrorVerb::Write, e))?
            .map_err(|e| snap_err(ErrorVerb::Write, e))?;
        let (last_log_id, last_membership) =
            decode_applied(info.applied.as_deref()).map_err(|e| snap_err(ErrorVerb::Read, e))?;
        let meta = SnapshotMeta {
            last_log_id,
            last_membership,
            snapshot_id: format!(
                "{}-{}-{}",
                last_log_id.map(|l| l.leader_id.term).unwrap_or(0),
                last_log_id.map(|l| l.index).unwrap_or(0),
                info.revision
            ),
        };
        let _files = self.files.lock().await;
        keep_current(&self.dir, &building, &meta)
            .await
            .map_err(|e| snap_err(ErrorVerb::Write, e))?;
        current_snapshot(&self.dir)
            .await
            .map_err(|e| snap_err(ErrorVerb::Read, e))?
            .ok_or_else(|| snap_err(ErrorVerb::Read, "snapshot vanished"))
    }
}
