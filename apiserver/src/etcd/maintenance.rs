//! The Maintenance service: Status, HashKV, Hash, Snapshot (streamed in chunks), Defragment (a
//! no-op: RocksDB reclaims space by itself), Alarm (none are raised), MoveLeader.

use std::io::Read;
use std::pin::Pin;

use capstan_proto::etcdserverpb as e;
use capstan_proto::etcdserverpb::maintenance_server::Maintenance as MaintenanceService;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use super::{to_status, EtcdApi};

/// The etcd API version capstan speaks.
pub const API_VERSION: &str = "3.5.0";
const CHUNK: usize = 32 * 1024;

type SnapshotStream = Pin<Box<dyn Stream<Item = Result<e::SnapshotResponse, Status>> + Send>>;

#[tonic::async_trait]
impl MaintenanceService for EtcdApi {
    async fn alarm(
        &self,
        _req: Request<e::AlarmRequest>,
    ) -> Result<Response<e::AlarmResponse>, Status> {
        Ok(Response::new(e::AlarmResponse {
            header: self.current_header().await?,
            alarms: Vec::new(),
        }))
    }

    async fn status(
        &self,
        _req: Request<e::StatusRequest>,
    ) -> Result<Response<e::StatusResponse>, Status> {
        let s = self.kv.status().await.map_err(|e| to_status(&e))?;
        let raft = self.cluster.raft_status();
        Ok(Response::new(e::StatusResponse {
            header: self.header(s.revision),
            version: API_VERSION.to_string(),
            db_size: s.db_size,
            leader: raft.leader,
            raft_index: raft.commit_index,
            raft_term: raft.term,
            raft_applied_index: raft.applied_index,
            errors: Vec::new(),
            db_size_in_use: s.db_size,
            is_learner: raft.is_learner,
        }))
    }

    async fn defragment(
        &self,
        _req: Request<e::DefragmentRequest>,
    ) -> Result<Response<e::DefragmentResponse>, Status> {
        Ok(Response::new(e::DefragmentResponse {
            header: self.current_header().await?,
        }))
    }

    async fn hash(
        &self,
        _req: Request<e::HashRequest>,
    ) -> Result<Response<e::HashResponse>, Status> {
        let h = self.kv.hash_kv(0).await.map_err(|e| to_status(&e))?;
        Ok(Response::new(e::HashResponse {
            header: self.header(h.revision),
            hash: h.hash,
        }))
    }

    async fn hash_kv(
        &self,
        req: Request<e::HashKvRequest>,
    ) -> Result<Response<e::HashKvResponse>, Status> {
        let h = self
            .kv
            .hash_kv(req.into_inner().revision.max(0))
            .await
            .map_err(|e| to_status(&e))?;
        Ok(Response::new(e::HashKvResponse {
            header: self.header(h.revision),
            hash: h.hash,
            compact_revision: h.compact_revision,
            hash_revision: h.hash_revision,
        }))
    }

    type SnapshotStream = SnapshotStream;

    async fn snapshot(
        &self,
        _req: Request<e::SnapshotRequest>,
    ) -> Result<Response<Self::SnapshotStream>, Status> {
        let dir = tempfile::tempdir().map_err(|e| Status::internal(e.to_string()))?;
        let path = dir.path().join("snapshot");
        let info = self.kv.snapshot(&path).await.map_err(|e| to_status(&e))?;
        let mut header = self.header(info.revision);
        let (tx, rx) = mpsc::channel(4);
        tokio::task::spawn_blocking(move || {
            // The temp dir lives until the whole file is sent.
            let _dir = dir;
            let send = |r| tx.blocking_send(r).is_ok();
            let mut file = match std::fs::File::open(&path) {
                Ok(f) => f,
                Err(e) => {
                    send(Err(Status::internal(e.to_string())));
                    return;
                }
            };
            // etcd's stream ends with a SHA-256 of everything before it, at a 512-byte boundary
            // (clients check `size % 512 == 32`): pad with zeros, then the hash.
            let pad = (512 - info.size % 512) % 512;
            let mut hasher = Sha256::new();
            let mut remaining = info.size + pad + 32;
            loop {
                let mut buf = vec![0u8; CHUNK];
                let n = match file.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) => {
                        send(Err(Status::internal(e.to_string())));
                        return;
                    }
                };
                buf.truncate(n);
                hasher.update(&buf);
                remaining = remaining.saturating_sub(n as u64);
                let resp = e::SnapshotResponse {
                    header: header.take(),
                    remaining_bytes: remaining,
                    blob: buf.into(),
                    version: String::new(),
                };
                if !send(Ok(resp)) {
                    return;
                }
            }
            let mut tail = vec![0u8; pad as usize];
            hasher.update(&tail);
            tail.extend_from_slice(&hasher.finalize());
            send(Ok(e::SnapshotResponse {
                header: header.take(),
                remaining_bytes: 0,
                blob: tail.into(),
                version: String::new(),
            }));
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn move_leader(
        &self,
        req: Request<e::MoveLeaderRequest>,
    ) -> Result<Response<e::MoveLeaderResponse>, Status> {
        self.cluster.move_leader(req.into_inner().target_id).await?;
        Ok(Response::new(e::MoveLeaderResponse {
            header: self.current_header().await?,
        }))
    }
}
