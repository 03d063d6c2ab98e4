//! `Store`: a backend plus what makes it a full `Kv` — the watch hub fed by apply, lease deadlines
//! and the thread that revokes expired leases. The raft layer drives `Store::apply` with committed
//! log entries; the local `Kv` implementation drives it directly.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use capstan_proto::store::{
    command, Command, CompactionRequest, CompactionResponse, HashKvResponse, LeaseGrantRequest,
    LeaseGrantResponse, LeaseKeepAliveResponse, LeaseLeasesResponse, LeaseRevokeRequest,
    LeaseRevokeResponse, LeaseTimeToLiveResponse, RangeRequest, RangeResponse, StatusResponse,
    TxnRequest, TxnResponse, WatchRequest,
};
use parking_lot::Mutex;

use crate::apply::{Applied, CommandResponse};
use crate::backend::Backend;
use crate::error::{KvError, KvResult};
use crate::hash::HashSink;
use crate::kv::Kv;
use crate::lessor::Lessor;
use crate::snapshot::{
    snapshot_items, verify_snapshot, SnapshotInfo, SnapshotReader, SnapshotWriter,
};
use crate::validate::validate_command;
use crate::watch::{WatchHub, WatchHubConfig, Watcher};

/// How a `Store` behaves.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// Watch hub tunables.
    pub watch: WatchHubConfig,
    /// Shortest lease TTL in seconds; shorter grants are raised to it (etcd: about 2 s).
    pub min_lease_ttl: i64,
    /// Revoke expired leases from a local thread. The raft layer turns this off and lets the
    /// leader propose revokes.
    pub expire_leases: bool,
    /// How often lease deadlines are checked.
    pub lease_check_interval: Duration,
    /// fsync each write made through the `Kv` methods.
    pub sync_writes: bool,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            watch: WatchHubConfig::default(),
            min_lease_ttl: 2,
            expire_leases: true,
            lease_check_interval: Duration::from_millis(100),
            sync_writes: true,
        }
    }
}

struct Core<B: Backend> {
    backend: Arc<B>,
    hub: Arc<WatchHub>,
    lessor: Lessor,
    /// Serializes apply, so revisions reach the hub in order.
    write: Mutex<()>,
    /// Set by the first storage failure: the store then refuses writes (fail-stop).
    failed: Mutex<Option<KvError>>,
    config: StoreConfig,
}

impl<B: Backend> Core<B> {
    fn apply(
        &self,
        cmds: &[Command],
        applied: Option<&[u8]>,
        sync: bool,
    ) -> KvResult<Vec<Applied>> {
        let _write = self.write.lock();
        if let Some(e) = self.failed.lock().clone() {
            return Err(e);
        }
        let results = match self.backend.apply_batch(cmds, applied, sync) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "apply failed; the store refuses further writes");
                *self.failed.lock() = Some(e.clone());
                return Err(e);
            }
        };
        for (cmd, a) in cmds.iter().zip(&results) {
            if !a.events.is_empty() {
                self.hub.notify(a.revision, a.events.clone());
            }
            match (&cmd.command, &a.response) {
                (Some(command::Command::LeaseGrant(g)), Ok(_)) => self.lessor.granted(g.id, g.ttl),
                (Some(command::Command::LeaseRevoke(r)), Ok(_)) => self.lessor.revoked(r.id),
                (_, Ok(CommandResponse::Compact(_))) => {
                    self.hub.compacted(self.backend.revisions().compact)
                }
                _ => {}
            }
        }
        Ok(results)
    }

    fn apply_one(&self, cmd: Command) -> KvResult<CommandResponse> {
        let mut results = self.apply(std::slice::from_ref(&cmd), None, self.config.sync_writes)?;
        match results.pop() {
            Some(a) => a.response,
            None => Err(KvError::Storage("apply returned no result".into())),
        }
    }

    fn expire_leases(&self) {
        for id in self.lessor.expired() {
            let cmd = Command {
                command: Some(command::Command::LeaseRevoke(LeaseRevokeRequest { id })),
            };
            match self.apply_one(cmd) {
                Ok(_) | Err(KvError::LeaseNotFound) => self.lessor.revoked(id),
                Err(e) => tracing::warn!(lease = id, error = %e, "cannot revoke expired lease"),
            }
        }
    }
}

/// A store: a backend with watches and leases. `Store<RocksBackend>` is `RocksKv`,
/// `Store<MemBackend>` is `MemKv`.
pub struct Store<B: Backend> {
    core: Arc<Core<B>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl<B: Backend> Store<B> {
    /// Wraps a backend: starts the watch syncer and, if configured, the lease expiry thread.
    pub fn new(backend: B, config: StoreConfig) -> KvResult<Store<B>> {
        let backend = Arc::new(backend);
        let revs = backend.revisions();
        let hub = WatchHub::new(revs.current, revs.compact, config.watch.clone());
        let lessor = Lessor::default();
        lessor.reset(backend.leases()?.into_iter().map(|l| (l.id, l.ttl)));
        let core = Arc::new(Core {
            backend,
            hub,
            lessor,
            write: Mutex::new(()),
            failed: Mutex::new(None),
            config: config.clone(),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        let c = core.clone();
        threads.push(
            std::thread::Builder::new()
                .name("watch-syncer".into())
                .spawn(move || c.hub.run_syncer(&*c.backend))?,
        );
        if config.expire_leases {
            let c = core.clone();
            let s = stop.clone();
            threads.push(
                std::thread::Builder::new()
                    .name("lease-expiry".into())
                    .spawn(move || {
                        while !s.load(Ordering::SeqCst) {
                            std::thread::sleep(c.config.lease_check_interval);
                            c.expire_leases();
                        }
                    })?,
            );
        }
        Ok(Store {
            core,
            stop,
            threads,
        })
    }

    /// Applies a batch of commands atomically, with the caller's applied position (raft passes
    /// its last applied log id), fsynced if `sync`. Responses come back in order; each refused
    /// command changed nothing. An `Err` is a storage failure, after which the store refuses
    /// writes.
    pub fn apply(
        &self,
        cmds: &[Command],
        applied: Option<&[u8]>,
        sync: bool,
    ) -> KvResult<Vec<Applied>> {
        self.core.apply(cmds, applied, sync)
    }

    /// Makes everything applied so far durable (see `Backend::sync`).
    pub fn sync(&self) -> KvResult<()> {
        self.core.backend.sync()
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        &self.core.backend
    }

    /// The watch hub.
    pub fn hub(&self) -> &Arc<WatchHub> {
        &self.core.hub
    }

    /// The lease deadlines.
    pub fn lessor(&self) -> &Lessor {
        &self.core.lessor
    }

    async fn apply_blocking(&self, cmd: Command) -> KvResult<CommandResponse> {
        validate_command(&cmd)?;
        let core = self.core.clone();
        tokio::task::spawn_blocking(move || core.apply_one(cmd))
            .await
            .map_err(|e| KvError::Storage(format!("apply task failed: {e}")))?
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Core<B>) -> KvResult<T> + Send + 'static,
    ) -> KvResult<T> {
        let core = self.core.clone();
        tokio::task::spawn_blocking(move || f(&core))
            .await
            .map_err(|e| KvError::Storage(format!("store task failed: {e}")))?
    }

    fn new_lease_id(&self) -> KvResult<i64> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        for _ in 0..64 {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            let mut z = nanos ^ COUNTER.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            let id = ((z ^ (z >> 31)) >> 1) as i64;
            if id > 0 && self.core.backend.lease(id)?.is_none() {
                return Ok(id);
            }
        }
        Err(KvError::Unavailable("cannot choose a lease id".into()))
    }
}

impl<B: Backend> Drop for Store<B> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.core.hub.shutdown();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn unexpected(what: &str) -> KvError {
    KvError::Storage(format!("apply answered {what} with another response type"))
}

#[async_trait]
impl<B: Backend> Kv for Store<B> {
    async fn range(&self, req: RangeRequest) -> KvResult<RangeResponse> {
        self.core.backend.range(&req)
    }

    async fn txn(&self, req: TxnRequest) -> KvResult<TxnResponse> {
        let read_only = req.success.iter().chain(&req.failure).all(|op| {
            matches!(
                op.request,
                Some(capstan_proto::store::request_op::Request::Range(_))
            )
        });
        let cmd = Command {
            command: Some(command::Command::Txn(req)),
        };
        if read_only {
            // Nothing to write: evaluate it like any txn, but without a write batch or fsync.
            return match self
                .blocking(move |c| {
                    let _write = c.write.lock();
                    c.backend
                        .apply_batch(std::slice::from_ref(&cmd), None, false)
                })
                .await?
                .pop()
                .map(|a| a.response)
            {
                Some(Ok(CommandResponse::Txn(t))) => Ok(t),
                Some(Err(e)) => Err(e),
                _ => Err(unexpected("txn")),
            };
        }
        match self.apply_blocking(cmd).await? {
            CommandResponse::Txn(t) => Ok(t),
            _ => Err(unexpected("txn")),
        }
    }

    async fn watch(&self, mut req: WatchRequest) -> KvResult<Watcher> {
        if req.start_revision == 0 {
            // "From now" means after the newest revision readers can already see, even if its
            // events are still on their way from apply to the hub.
            req.start_revision = self.core.backend.revisions().current + 1;
        }
        self.core.hub.watch(&req)
    }

    async fn compact(&self, revision: i64) -> KvResult<CompactionResponse> {
        let cmd = Command {
            command: Some(command::Command::Compact(CompactionRequest { revision })),
        };
        match self.apply_blocking(cmd).await? {
            CommandResponse::Compact(c) => Ok(c),
            _ => Err(unexpected("compact")),
        }
    }

    async fn lease_grant(&self, ttl: i64, id: i64) -> KvResult<LeaseGrantResponse> {
        let id = if id == 0 { self.new_lease_id()? } else { id };
        let ttl = ttl.max(self.core.config.min_lease_ttl);
        let cmd = Command {
            command: Some(command::Command::LeaseGrant(LeaseGrantRequest { ttl, id })),
        };
        match self.apply_blocking(cmd).await? {
            CommandResponse::LeaseGrant(g) => Ok(g),
            _ => Err(unexpected("lease grant")),
        }
    }

    async fn lease_revoke(&self, id: i64) -> KvResult<LeaseRevokeResponse> {
        let cmd = Command {
            command: Some(command::Command::LeaseRevoke(LeaseRevokeRequest { id })),
        };
        match self.apply_blocking(cmd).await? {
            CommandResponse::LeaseRevoke(r) => Ok(r),
            _ => Err(unexpected("lease revoke")),
        }
    }

    async fn lease_keep_alive(&self, id: i64) -> KvResult<LeaseKeepAliveResponse> {
        if self.core.backend.lease(id)?.is_none() {
            return Err(KvError::LeaseNotFound);
        }
        let ttl = self.core.lessor.renew(id).ok_or(KvError::LeaseNotFound)?;
        Ok(LeaseKeepAliveResponse {
            revision: self.core.backend.revisions().current,
            id,
            ttl,
        })
    }

    async fn lease_time_to_live(&self, id: i64, keys: bool) -> KvResult<LeaseTimeToLiveResponse> {
        let revision = self.core.backend.revisions().current;
        let (Some(_), Some((left, granted))) =
            (self.core.backend.lease(id)?, self.core.lessor.remaining(id))
        else {
            return Ok(LeaseTimeToLiveResponse {
                revision,
                id,
                ttl: -1,
                granted_ttl: 0,
                keys: Vec::new(),
            });
        };
        let keys = if keys {
            self.core.backend.lease_keys(id)?
        } else {
            Vec::new()
        };
        Ok(LeaseTimeToLiveResponse {
            revision,
            id,
            ttl: left,
            granted_ttl: granted,
            keys,
        })
    }

    async fn lease_leases(&self) -> KvResult<LeaseLeasesResponse> {
        Ok(LeaseLeasesResponse {
            revision: self.core.backend.revisions().current,
            ids: self
                .core
                .backend
                .leases()?
                .into_iter()
                .map(|l| l.id)
                .collect(),
        })
    }

    async fn status(&self) -> KvResult<StatusResponse> {
        let revs = self.core.backend.revisions();
        Ok(StatusResponse {
            revision: revs.current,
            compact_revision: revs.compact,
            db_size: self.core.backend.db_size(),
        })
    }

    async fn hash_kv(&self, revision: i64) -> KvResult<HashKvResponse> {
        if revision < 0 {
            return Err(KvError::invalid("negative revision"));
        }
        let revs = self.core.backend.revisions();
        if revision > revs.current {
            return Err(KvError::FutureRevision);
        }
        self.blocking(move |c| {
            let mut sink = HashSink::new(if revision == 0 { i64::MAX } else { revision });
            c.backend.export(&mut sink)?;
            let header = sink.header.clone().unwrap_or_default();
            let at = if revision == 0 {
                header.revision
            } else {
                revision
            };
            if at < header.compact_revision {
                return Err(KvError::Compacted {
                    compact_revision: header.compact_revision,
                });
            }
            Ok(HashKvResponse {
                revision: header.revision,
                hash: sink.hash(),
                compact_revision: header.compact_revision,
                hash_revision: at,
            })
        })
        .await
    }

    async fn snapshot(&self, dest: &Path) -> KvResult<SnapshotInfo> {
        let dest = dest.to_path_buf();
        self.blocking(move |c| {
            let mut w = SnapshotWriter::create(&dest)?;
            c.backend.export(&mut w)?;
            w.finish()
        })
        .await
    }

    async fn restore(&self, src: &Path) -> KvResult<SnapshotInfo> {
        let src = src.to_path_buf();
        self.blocking(move |c| {
            let info = verify_snapshot(&src)?;
            let _write = c.write.lock();
            let mut reader = SnapshotReader::open(&src)?;
            let header = reader.header.clone();
            if let Err(e) = c.backend.import(&header, &mut snapshot_items(&mut reader)) {
                *c.failed.lock() = Some(e.clone());
                return Err(e);
            }
            *c.failed.lock() = None;
            let revs = c.backend.revisions();
            c.hub.reset(revs.current, revs.compact);
            c.lessor
                .reset(c.backend.leases()?.into_iter().map(|l| (l.id, l.ttl)));
            Ok(info)
        })
        .await
    }
}
