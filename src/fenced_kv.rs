//! The store leader-only work writes through: the replicated store fenced at the term the work
//! started in, counting the writes that fencing refused (`capstan_fenced_writes_refused_total`),
//! so an operator sees a deposed leader's controllers being stopped by the term check.

use std::path::Path;
use std::sync::atomic::AtomicU64;

use async_trait::async_trait;
use capstan_proto::store::{
    CompactionResponse, HashKvResponse, LeaseGrantResponse, LeaseKeepAliveResponse,
    LeaseLeasesResponse, LeaseRevokeResponse, LeaseTimeToLiveResponse, RangeRequest, RangeResponse,
    StatusResponse, TxnRequest, TxnResponse, WatchRequest,
};
use capstan_raft::ReplicatedKv;
use capstan_store::{Kv, KvError, KvResult, SnapshotInfo, Watcher};
use prometheus_client::metrics::counter::Counter;

/// Refused writes of leader-only work.
pub type RefusedWrites = Counter<u64, AtomicU64>;

pub struct FencedKv {
    inner: ReplicatedKv,
    refused: RefusedWrites,
}

impl FencedKv {
    /// `kv` fenced at `term`.
    pub fn new(kv: &ReplicatedKv, term: u64, refused: RefusedWrites) -> FencedKv {
        FencedKv {
            inner: kv.fenced(term),
            refused,
        }
    }

    fn count<T>(&self, r: KvResult<T>) -> KvResult<T> {
        if let Err(KvError::Fenced { expected, actual }) = &r {
            self.refused.inc();
            tracing::debug!(
                expected,
                actual,
                "a leader-only write was refused by fencing"
            );
        }
        r
    }
}

#[async_trait]
impl Kv for FencedKv {
    async fn range(&self, req: RangeRequest) -> KvResult<RangeResponse> {
        self.inner.range(req).await
    }

    async fn txn(&self, req: TxnRequest) -> KvResult<TxnResponse> {
        self.count(self.inner.txn(req).await)
    }

    async fn watch(&self, req: WatchRequest) -> KvResult<Watcher> {
        self.inner.watch(req).await
    }

    async fn compact(&self, revision: i64) -> KvResult<CompactionResponse> {
        self.count(self.inner.compact(revision).await)
    }

    async fn lease_grant(&self, ttl: i64, id: i64) -> KvResult<LeaseGrantResponse> {
        self.count(self.inner.lease_grant(ttl, id).await)
    }

    async fn lease_revoke(&self, id: i64) -> KvResult<LeaseRevokeResponse> {
        self.count(self.inner.lease_revoke(id).await)
    }

    async fn lease_keep_alive(&self, id: i64) -> KvResult<LeaseKeepAliveResponse> {
        self.count(self.inner.lease_keep_alive(id).await)
    }

    async fn lease_time_to_live(&self, id: i64, keys: bool) -> KvResult<LeaseTimeToLiveResponse> {
        self.inner.lease_time_to_live(id, keys).await
    }

    async fn lease_leases(&self) -> KvResult<LeaseLeasesResponse> {
        self.inner.lease_leases().await
    }

    async fn status(&self) -> KvResult<StatusResponse> {
        self.inner.status().await
    }

    async fn hash_kv(&self, revision: i64) -> KvResult<HashKvResponse> {
        self.inner.hash_kv(revision).await
    }

    async fn snapshot(&self, dest: &Path) -> KvResult<SnapshotInfo> {
        self.inner.snapshot(dest).await
    }

    async fn restore(&self, src: &Path) -> KvResult<SnapshotInfo> {
        self.inner.restore(src).await
    }
}
