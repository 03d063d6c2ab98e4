//! `StateMachine`: openraft's state machine is capstan's store. Each batch of committed entries is
//! one `Store::apply` call, which writes the commands' effects and the batch's last log id (and the
//! membership) in one RocksDB WriteBatch: after a crash the store resumes from its last durable
//! applied position and the log replays the rest. Raft snapshots are the store's own snapshot
//! files; installing one is a store restore.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use capstan_proto::raft as pb;
use capstan_store::{Backend, Kv, KvError, RocksKv};
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
const CURRENT_SNAPSHOT: &str = "current.snap";
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
    /// Wraps `store`, keeping raft snapshot files in `snapshots`.
    pub fn new(store: Arc<RocksKv>, snapshots: &Path) -> Result<StateMachine, KvError> {
        std::fs::create_dir_all(snapshots)?;
        let applied = store.backend().applied()?;
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
        let mut replies: Vec<Option<ApplyReply>> = Vec::new();
        let mut cmds = Vec::new();
        let mut slots = Vec::new();
        for e in entries {
            self.last_applied = Some(e.log_id);
            match e.payload {
                EntryPayload::Blank => replies.push(Some(ApplyReply {
                    result: Err(KvError::InvalidArgument("blank entry".into())),
                })),
                EntryPayload::Membership(m) => {
                    self.membership = StoredMembership::new(Some(e.log_id), m);
                    replies.push(Some(ApplyReply {
                        result: Err(KvError::InvalidArgument("membership entry".into())),
                    }));
                }
                EntryPayload::Normal(p) => {
                    let term = e.log_id.leader_id.term;
                    // Fencing: decided from the entry's own term, so every replica decides alike.
                    if p.fence_term != 0 && p.fence_term != term {
                        replies.push(Some(ApplyReply {
                            result: Err(KvError::Fenced {
                                expected: p.fence_term,
                                actual: term,
                            }),
                        }));
                        continue;
                    }
                    match p.command {
                        Some(cmd) => {
                            slots.push(replies.len());
                            replies.push(None);
                            cmds.push(cmd);
                        }
                        None => replies.push(Some(ApplyReply {
                            result: Err(KvError::InvalidArgument("empty proposal".into())),
                        })),
                    }
                }
            }
        }
        if replies.is_empty() {
            return Ok(Vec::new());
        }
        let applied = self.applied_bytes();
        let store = self.store.clone();
        // Durability: the commands and the applied position go in one WriteBatch, not fsynced:
        // the raft log (fsynced) is the durable source and replays whatever a crash lost here.
        let results =
            tokio::task::spawn_blocking(move || store.apply(&cmds, Some(&applied), false))
                .await
                .map_err(|e| sm_err(ErrorVerb::Write, e))?
                .map_err(|e| sm_err(ErrorVerb::Write, e))?;
        for (slot, a) in slots.into_iter().zip(results) {
            if let Some(r) = replies.get_mut(slot) {
                *r = Some(ApplyReply { result: a.response });
            }
        }
        self.publish_applied();
        Ok(replies
            .into_iter()
            .map(|r| {
                r.unwrap_or(ApplyReply {
                    result: Err(KvError::Storage("apply returned too few results".into())),
                })
            })
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
        // The store verifies the checksum before it replaces anything; a bad file changes nothing.
        let info = self
            .store
            .restore(&path)
            .await
            .map_err(|e| snap_err(ErrorVerb::Write, e))?;
        let (applied, membership) =
            decode_applied(info.applied.as_deref()).map_err(|e| snap_err(ErrorVerb::Read, e))?;
        if applied != meta.last_log_id {
            tracing::warn!(
                snapshot = ?meta.last_log_id,
                store = ?applied,
                "installed snapshot's applied position differs from its metadata"
            );
        }
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

/// Makes `file` the current snapshot with `meta`. The data is renamed into place before the
/// metadata, so the metadata never names a file that is not complete.
async fn keep_current(dir: &Path, file: &Path, meta: &SnapshotMeta) -> std::io::Result<()> {
    tokio::fs::rename(file, dir.join(CURRENT_SNAPSHOT)).await?;
    let tmp = dir.join("current.meta.tmp");
    tokio::fs::write(&tmp, snapshot_meta_to_pb(meta).encode_to_vec()).await?;
    let f = tokio::fs::File::open(&tmp).await?;
    f.sync_all().await?;
    tokio::fs::rename(&tmp, dir.join(CURRENT_META)).await?;
    Ok(())
}

async fn current_snapshot(dir: &Path) -> std::io::Result<Option<Snapshot<TypeConfig>>> {
    let meta = match tokio::fs::read(dir.join(CURRENT_META)).await {
        Ok(b) => snapshot_meta_from_pb(
            &pb::SnapshotMeta::decode(b.as_slice()).map_err(std::io::Error::other)?,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let file = tokio::fs::File::open(dir.join(CURRENT_SNAPSHOT)).await?;
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
        let store = self.store.clone();
        // Durability: the store's WAL is fsynced before the image is taken. Raft may purge the log
        // up to the snapshot, so everything the snapshot covers must survive a crash in the store
        // itself, not only in the log.
        tokio::task::spawn_blocking(move || store.sync())
            .await
            .map_err(|e| snap_err(ErrorVerb::Write, e))?
            .map_err(|e| snap_err(ErrorVerb::Write, e))?;
        let building = self.dir.join(BUILDING);
        let info = self
            .store
            .snapshot(&building)
            .await
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
        let file = tokio::fs::File::open(self.dir.join(CURRENT_SNAPSHOT))
            .await
            .map_err(|e| snap_err(ErrorVerb::Read, e))?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(file),
        })
    }
}
