//! `Kv`: the storage interface of capstan — etcd's KV model. The raft layer implements it over
//! replicated commands; the API facades (Kubernetes REST, etcd gRPC) use nothing else.

use std::path::Path;

use async_trait::async_trait;
use capstan_proto::store::{
    request_op, response_op, CompactionResponse, DeleteRangeRequest, DeleteRangeResponse,
    HashKvResponse, LeaseGrantResponse, LeaseKeepAliveResponse, LeaseLeasesResponse,
    LeaseRevokeResponse, LeaseTimeToLiveResponse, PutRequest, PutResponse, RangeRequest,
    RangeResponse, RequestOp, StatusResponse, TxnRequest, TxnResponse, WatchRequest,
};

use crate::error::{KvError, KvResult};
use crate::snapshot::SnapshotInfo;
use crate::watch::Watcher;

/// etcd's key-value model: revisions, ranges, transactions, watches, leases, compaction and
/// snapshots. Every method is safe to call concurrently.
#[async_trait]
pub trait Kv: Send + Sync + 'static {
    /// Reads keys at the current or an older revision.
    async fn range(&self, req: RangeRequest) -> KvResult<RangeResponse>;

    /// Runs a transaction: if every compare holds, the success ops, else the failure ops; all of
    /// its changes at one new revision (none if nothing changed).
    async fn txn(&self, req: TxnRequest) -> KvResult<TxnResponse>;

    /// Starts a watch. A start revision below the compaction point gives a watcher whose only
    /// response is the cancellation carrying the compact revision.
    async fn watch(&self, req: WatchRequest) -> KvResult<Watcher>;

    /// Drops history below `revision`.
    async fn compact(&self, revision: i64) -> KvResult<CompactionResponse>;

    /// Grants a lease of `ttl` seconds; `id` 0 lets the store choose it.
    async fn lease_grant(&self, ttl: i64, id: i64) -> KvResult<LeaseGrantResponse>;

    /// Revokes a lease, deleting its keys at one revision.
    async fn lease_revoke(&self, id: i64) -> KvResult<LeaseRevokeResponse>;

    /// Renews a lease to its full TTL.
    async fn lease_keep_alive(&self, id: i64) -> KvResult<LeaseKeepAliveResponse>;

    /// A lease's remaining TTL (and its keys when `keys`).
    async fn lease_time_to_live(&self, id: i64, keys: bool) -> KvResult<LeaseTimeToLiveResponse>;

    /// Every lease.
    async fn lease_leases(&self) -> KvResult<LeaseLeasesResponse>;

    /// Revision, compact revision and size.
    async fn status(&self) -> KvResult<StatusResponse>;

    /// The hash of the keyspace's history up to `revision` (0: current).
    async fn hash_kv(&self, revision: i64) -> KvResult<HashKvResponse>;

    /// Writes a consistent snapshot of the store to `dest`.
    async fn snapshot(&self, dest: &Path) -> KvResult<SnapshotInfo>;

    /// Replaces the store's state with a verified snapshot file.
    async fn restore(&self, src: &Path) -> KvResult<SnapshotInfo>;

    /// Puts one key (a txn with one put).
    async fn put(&self, req: PutRequest) -> KvResult<PutResponse> {
        let resp = self
            .txn(TxnRequest {
                success: vec![RequestOp {
                    request: Some(request_op::Request::Put(req)),
                }],
                ..Default::default()
            })
            .await?;
        match resp.responses.into_iter().next().and_then(|r| r.response) {
            Some(response_op::Response::Put(p)) => Ok(p),
            _ => Err(KvError::Storage(
                "put answered without a put response".into(),
            )),
        }
    }

    /// Deletes a key or range (a txn with one delete).
    async fn delete_range(&self, req: DeleteRangeRequest) -> KvResult<DeleteRangeResponse> {
        let resp = self
            .txn(TxnRequest {
                success: vec![RequestOp {
                    request: Some(request_op::Request::DeleteRange(req)),
                }],
                ..Default::default()
            })
            .await?;
        match resp.responses.into_iter().next().and_then(|r| r.response) {
            Some(response_op::Response::DeleteRange(d)) => Ok(d),
            _ => Err(KvError::Storage(
                "delete answered without a delete response".into(),
            )),
        }
    }
}
