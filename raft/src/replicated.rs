//! `ReplicatedKv`: the whole raft group behind the store's `Kv` trait.
//!
//! - Writes are proposed on the leader; a follower forwards them and answers once its own store
//!   has applied the entry, so a client reads its own writes on any replica. openraft batches
//!   proposals that queue while an append is in flight into one append (one fsync, one round).
//! - Linearizable reads: the leader confirms its leadership with a quorum (openraft's read index),
//!   a follower asks the leader for that index; either then waits for its local apply and reads
//!   its own store. Serializable reads and watches are local.
//! - Leases: the leader holds the deadlines and proposes revokes; keep-alives and TTL queries go
//!   to the leader. A new leader extends every deadline by an election timeout.
//! - Fencing: a `ReplicatedKv::fenced(term)` view stamps its writes with the term; apply refuses
//!   them in any other term.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use capstan_proto::raft as pb;
use capstan_proto::raft::raft_client::RaftClient;
use capstan_proto::store::{
    command, request_op, Command, CompactionRequest, CompactionResponse, HashKvResponse,
    LeaseGrantRequest, LeaseGrantResponse, LeaseKeepAliveResponse, LeaseLeasesResponse,
    LeaseRevokeRequest, LeaseRevokeResponse, LeaseTimeToLiveResponse, RangeRequest, RangeResponse,
    StatusResponse, TxnRequest, TxnResponse, WatchRequest,
};
use capstan_store::{
    validate_command, Backend, CommandResponse, Kv, KvError, KvResult, RocksKv, SnapshotInfo,
    Watcher,
};
use openraft::error::{CheckIsLeaderError, RaftError};
use tokio::sync::watch;
use tonic::transport::Channel;

use crate::batcher::{ProposalBatcher, ProposeError, Proposed, ReadCoalescer};
use crate::codec::{failure_from_pb, log_id_from_pb, result_from_pb, result_to_pb};
use crate::election::ElectionTimer;
use crate::forwarder::ForwardBatcher;
use crate::network::Peers;
use crate::random::random_u64;
use crate::types::{Member, NodeId, Raft};

/// Who leads, as this replica sees it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Leadership {
    pub term: u64,
    pub is_leader: bool,
    pub leader: Option<NodeId>,
}

/// How long a request waits for a leader to be known before failing with "no leader".
const LEADER_WAIT: Duration = Duration::from_secs(3);
/// How long a follower waits to apply an entry the leader has applied.
const APPLY_WAIT: Duration = Duration::from_secs(10);

pub(crate) struct Shared {
    pub proposals: ProposalBatcher,
    pub forwarder: ForwardBatcher,
    pub leader_reads: ReadCoalescer<ReplicatedKv>,
    pub follower_reads: ReadCoalescer<ReplicatedKv>,
    pub id: NodeId,
    pub raft: Raft,
    pub store: Arc<RocksKv>,
    pub applied: watch::Receiver<u64>,
    pub peers: Peers,
    pub leadership: watch::Receiver<Leadership>,
    pub election_timeout: Duration,
    pub min_lease_ttl: i64,
    pub election: Arc<ElectionTimer>,
}

/// The replicated store (see the module doc).
#[derive(Clone)]
pub struct ReplicatedKv {
    shared: Arc<Shared>,
    fence_term: u64,
}

fn no_leader() -> KvError {
    KvError::Unavailable("no leader".into())
}

fn unexpected(what: &str) -> KvError {
    KvError::Storage(format!("apply answered {what} with another response type"))
}

/// Where a request must go.
enum Route {
    Local,
    Leader(NodeId, Member),
}

impl ReplicatedKv {
    pub(crate) fn new(shared: Arc<Shared>) -> ReplicatedKv {
        ReplicatedKv {
            shared,
            fence_term: 0,
        }
    }

    /// A view whose writes apply only in `term` (leader-only work started in that term).
    pub fn fenced(&self, term: u64) -> ReplicatedKv {
        ReplicatedKv {
            shared: self.shared.clone(),
            fence_term: term,
        }
    }

    /// This replica's id.
    pub fn id(&self) -> NodeId {
        self.shared.id
    }

    /// The leadership as this replica sees it, as a watch channel.
    pub fn leadership(&self) -> watch::Receiver<Leadership> {
        self.shared.leadership.clone()
    }

    /// The local store (for serving reads and for tests).
    pub fn local(&self) -> &Arc<RocksKv> {
        &self.shared.store
    }

    /// Clients to the other replicas.
    pub fn peers(&self) -> &Peers {
        &self.shared.peers
    }

    /// The raft handle.
    pub fn raft(&self) -> &Raft {
        &self.shared.raft
    }

    /// This replica's election timer (fed by the peer service).
    pub(crate) fn election(&self) -> &ElectionTimer {
        &self.shared.election
    }

    /// Where to send a leader-only request: here, or the leader. Waits up to `LEADER_WAIT` for a
    /// leader to be known.
    async fn route(&self) -> KvResult<Route> {
        let deadline = Instant::now() + LEADER_WAIT;
        let mut rx = self.shared.leadership.clone();
        loop {
            let l = *rx.borrow_and_update();
            if l.is_leader {
                return Ok(Route::Local);
            }
            if let Some(id) = l.leader {
                let m = self
                    .shared
                    .raft
                    .metrics()
                    .borrow()
                    .membership_config
                    .clone();
                if let Some(node) = m.membership().get_node(&id) {
                    return Ok(Route::Leader(id, node.clone()));
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(no_leader());
            }
            let _ = tokio::time::timeout(left, rx.changed()).await;
        }
    }

    /// Waits until the local store has applied `index`.
    async fn wait_applied(&self, index: u64) -> KvResult<()> {
        let mut rx = self.shared.applied.clone();
        let waited = tokio::time::timeout(APPLY_WAIT, rx.wait_for(|i| *i >= index))
            .await
            .map(|r| r.map(|_| ()));
        match waited {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(KvError::Unavailable("replica is shutting down".into())),
            Err(_) => Err(KvError::Unavailable(
                "request timed out waiting for local apply".into(),
            )),
        }
    }

    /// Proposes on this replica, which must be the leader: the proposal joins the next batched
    /// log entry. Returns the entry's log id and the result of applying the proposal.
    pub(crate) async fn propose_here(&self, proposal: pb::Proposal) -> Proposed {
        self.shared.proposals.propose(proposal).await
    }

    /// Proposes a follower's forwarded batch on this replica, the leader, in order.
    pub(crate) async fn propose_all_here(&self, proposals: Vec<pb::Proposal>) -> Vec<Proposed> {
        self.shared.proposals.propose_all(proposals).await
    }

    async fn propose(&self, cmd: Command) -> KvResult<CommandResponse> {
        validate_command(&cmd)?;
        let proposal = pb::Proposal {
            command: Some(cmd),
            fence_term: self.fence_term,
        };
        let deadline = Instant::now() + LEADER_WAIT;
        loop {
            let leader = match self.route().await? {
                Route::Local => match self.propose_here(proposal.clone()).await {
                    Ok((_, result)) => return result,
                    Err(ProposeError::Failed(e)) => return Err(e),
                    Err(ProposeError::NotLeader(l)) => l,
                },
                Route::Leader(id, node) => Some((id, node)),
            };
            if let Some((_, node)) = leader {
                if let Some(resp) = self.forward(&node, proposal.clone()).await? {
                    return Ok(resp);
                }
                // The replica taken for the leader is not (it has just handed leadership over
                // or lost it) and said so without proposing, or refused the connection (it has
                // stopped): safe to send again once the next leader is known, within the same
                // deadline.
            }
            if Instant::now() >= deadline {
                return Err(no_leader());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A client to `member`'s peer service.
    fn peer(&self, member: &Member) -> KvResult<RaftClient<Channel>> {
        self.shared
            .peers
            .client(&member.peer_url)
            .map_err(|e| KvError::Unavailable(e.to_string()))
    }

    /// Proposes `cmd` and picks its response type out of the result.
    async fn propose_for<T>(
        &self,
        cmd: command::Command,
        what: &str,
        pick: fn(CommandResponse) -> Option<T>,
    ) -> KvResult<T> {
        let resp = self.propose(Command { command: Some(cmd) }).await?;
        pick(resp).ok_or_else(|| unexpected(what))
    }

    /// Sends a proposal to `leader`; `None` when it answers that it is not the leader (and so
    /// proposed nothing).
    async fn forward(
        &self,
        leader: &Member,
        proposal: pb::Proposal,
    ) -> KvResult<Option<CommandResponse>> {
        let resp = self
            .shared
            .forwarder
            .forward(&leader.peer_url, proposal)
            .await?;
        if resp.not_leader {
            return Ok(None);
        }
        if let Some(id) = resp.log_id.as_ref() {
            self.wait_applied(log_id_from_pb(id).index).await?;
        }
        match resp.result {
            Some(r) => result_from_pb(r).map(Some),
            None => Err(KvError::Storage("leader sent no result".into())),
        }
    }

    /// Renews lease `id` on this replica, the leader, once a quorum has confirmed it still is
    /// (etcd's ensureLeadership): a deposed leader that does not know it yet must not promise a
    /// deadline the real leader's clock does not hold.
    pub(crate) async fn keep_alive_as_leader(&self, id: i64) -> KvResult<LeaseKeepAliveResponse> {
        self.read_index_batched().await?;
        self.shared.store.lease_keep_alive(id).await
    }

    /// The linearizable read barrier: after it returns, the local store reflects every write
    /// acknowledged before it was called.
    pub async fn read_barrier(&self) -> KvResult<()> {
        // The deliberately broken build of `capstan jepsen`'s self-test: reads served from the
        // local store without a read index (stale on a partitioned replica).
        #[cfg(feature = "failpoints")]
        capstan_store::__fail::fail_point!("raft.unsafe_stale_reads", |_| Ok(()));
        let index = match self.route().await? {
            Route::Local => self.shared.leader_reads.read_index(self.clone()).await?,
            Route::Leader(..) => self.shared.follower_reads.read_index(self.clone()).await?,
        };
        self.wait_applied(index).await
    }

    /// On the leader: the read index, one quorum confirmation shared by concurrent reads.
    pub(crate) async fn read_index_batched(&self) -> KvResult<u64> {
        self.shared.leader_reads.read_index(self.clone()).await
    }

    /// On a follower: the leader's read index (one call shared by concurrent reads). A leader
    /// that refuses the connection (it has just handed over and stopped) is asked again once the
    /// next one is known, within `LEADER_WAIT`.
    pub(crate) async fn read_index_from_leader(&self) -> KvResult<u64> {
        let deadline = Instant::now() + LEADER_WAIT;
        loop {
            let Route::Leader(_, node) = self.route().await? else {
                return self.read_index_here().await;
            };
            match self
                .peer(&node)?
                .read_index(with_timeout(pb::ReadIndexRequest {}))
                .await
            {
                Ok(r) => return Ok(r.into_inner().read_index),
                Err(s) if never_reached(&s) && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(s) => return Err(status_to_kv(s)),
            }
        }
    }

    /// On the leader: the index a linearizable read must wait for, leadership confirmed by a
    /// quorum.
    pub(crate) async fn read_index_here(&self) -> KvResult<u64> {
        let read = tokio::time::timeout(REQUEST_TIMEOUT, self.shared.raft.get_read_log_id())
            .await
            .map_err(|_| no_leader())?;
        match read {
            Ok((read, _)) => Ok(read.map(|l| l.index).unwrap_or(0)),
            Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(_))) => Err(no_leader()),
            Err(e) => Err(KvError::Unavailable(e.to_string())),
        }
    }

    fn new_lease_id(&self) -> KvResult<i64> {
        for _ in 0..64 {
            let id = (random_u64() >> 1) as i64;
            if id > 0 && self.shared.store.backend().lease(id)?.is_none() {
                return Ok(id);
            }
        }
        Err(KvError::Unavailable("cannot choose a lease id".into()))
    }

    /// Runs on every replica: while leader, revokes expired leases; on becoming leader, extends
    /// every deadline by an election timeout.
    pub(crate) async fn run_lease_expiry(self) {
        let mut rx = self.shared.leadership.clone();
        let mut was_leader = false;
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                r = rx.changed() => if r.is_err() { return },
            }
            let l = *rx.borrow();
            if l.is_leader && !was_leader {
                self.shared
                    .store
                    .lessor()
                    .promote(self.shared.election_timeout);
            }
            was_leader = l.is_leader;
            if !l.is_leader {
                continue;
            }
            for id in self.shared.store.lessor().expired() {
                let cmd = Command {
                    command: Some(command::Command::LeaseRevoke(LeaseRevokeRequest { id })),
                };
                // Fenced to this leader's term: a revoke decided by a leader that has since been
                // deposed must not reach a newer leader, which may have renewed the lease.
                match self.fenced(l.term).propose(cmd).await {
                    Ok(_) | Err(KvError::LeaseNotFound) | Err(KvError::Fenced { .. }) => {}
                    Err(e) => {
                        tracing::warn!(lease = id, error = %e, "cannot revoke expired lease");
                        break;
                    }
                }
            }
        }
    }
}

/// The leader's answer to a forwarded lease call: its response, or the store error it met.
fn answered<T>(response: Option<T>, failure: Option<pb::KvFailure>, what: &str) -> KvResult<T> {
    match (response, failure) {
        (_, Some(f)) => Err(failure_from_pb(&f)),
        (Some(r), None) => Ok(r),
        (None, None) => Err(KvError::Storage(format!("empty {what} response"))),
    }
}

/// A peer's gRPC status as a store error (the leader's store errors travel as `KvFailure`;
/// statuses are transport failures or "not leader").
pub(crate) fn status_to_kv(s: tonic::Status) -> KvError {
    match s.code() {
        // Not the leader any more, or never reached: the request did not run.
        tonic::Code::FailedPrecondition | tonic::Code::Unavailable => no_leader(),
        // Sent, but no answer in time: it may or may not have been applied (as etcd says).
        tonic::Code::DeadlineExceeded => timed_out(),
        _ => KvError::Unavailable(format!("leader: {}", s.message())),
    }
}

/// Whether a call to a peer failed before reaching it: the connection was refused, so the peer
/// ran nothing and the call may be made again (to it or to whoever leads next).
pub(crate) fn never_reached(s: &tonic::Status) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(s);
    while let Some(e) = source {
        if e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
        {
            return true;
        }
        source = e.source();
    }
    false
}

fn timed_out() -> KvError {
    KvError::Unavailable("request timed out".into())
}

/// How long a request waits for its proposal to be committed and applied, or for a peer call.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) fn with_timeout<T>(msg: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.set_timeout(REQUEST_TIMEOUT);
    r
}

#[async_trait]
impl Kv for ReplicatedKv {
    async fn range(&self, req: RangeRequest) -> KvResult<RangeResponse> {
        if !req.serializable {
            self.read_barrier().await?;
        }
        self.shared.store.range(req).await
    }

    async fn txn(&self, req: TxnRequest) -> KvResult<TxnResponse> {
        let read_only = req
            .success
            .iter()
            .chain(&req.failure)
            .all(|op| matches!(op.request, Some(request_op::Request::Range(_))));
        if read_only {
            self.read_barrier().await?;
            return self.shared.store.txn(req).await;
        }
        self.propose_for(command::Command::Txn(req), "txn", |r| match r {
            CommandResponse::Txn(t) => Some(t),
            _ => None,
        })
        .await
    }

    async fn watch(&self, req: WatchRequest) -> KvResult<Watcher> {
        self.shared.store.watch(req).await
    }

    async fn compact(&self, revision: i64) -> KvResult<CompactionResponse> {
        let cmd = command::Command::Compact(CompactionRequest { revision });
        self.propose_for(cmd, "compact", |r| match r {
            CommandResponse::Compact(c) => Some(c),
            _ => None,
        })
        .await
    }

    async fn lease_grant(&self, ttl: i64, id: i64) -> KvResult<LeaseGrantResponse> {
        let id = if id == 0 { self.new_lease_id()? } else { id };
        let ttl = ttl.max(self.shared.min_lease_ttl);
        let cmd = command::Command::LeaseGrant(LeaseGrantRequest { ttl, id });
        self.propose_for(cmd, "lease grant", |r| match r {
            CommandResponse::LeaseGrant(g) => Some(g),
            _ => None,
        })
        .await
    }

    async fn lease_revoke(&self, id: i64) -> KvResult<LeaseRevokeResponse> {
        let cmd = command::Command::LeaseRevoke(LeaseRevokeRequest { id });
        self.propose_for(cmd, "lease revoke", |r| match r {
            CommandResponse::LeaseRevoke(r) => Some(r),
            _ => None,
        })
        .await
    }

    async fn lease_keep_alive(&self, id: i64) -> KvResult<LeaseKeepAliveResponse> {
        match self.route().await? {
            Route::Local => self.keep_alive_as_leader(id).await,
            Route::Leader(_, node) => {
                let r = self
                    .peer(&node)?
                    .lease_keep_alive(with_timeout(pb::LeaseRequest { id, keys: false }))
                    .await
                    .map_err(status_to_kv)?
                    .into_inner();
                answered(r.response, r.failure, "keep-alive")
            }
        }
    }

    async fn lease_time_to_live(&self, id: i64, keys: bool) -> KvResult<LeaseTimeToLiveResponse> {
        match self.route().await? {
            Route::Local => self.shared.store.lease_time_to_live(id, keys).await,
            Route::Leader(_, node) => {
                let r = self
                    .peer(&node)?
                    .lease_time_to_live(with_timeout(pb::LeaseRequest { id, keys }))
                    .await
                    .map_err(status_to_kv)?
                    .into_inner();
                answered(r.response, r.failure, "time-to-live")
            }
        }
    }

    async fn lease_leases(&self) -> KvResult<LeaseLeasesResponse> {
        self.shared.store.lease_leases().await
    }

    async fn status(&self) -> KvResult<StatusResponse> {
        self.shared.store.status().await
    }

    async fn hash_kv(&self, revision: i64) -> KvResult<HashKvResponse> {
        self.shared.store.hash_kv(revision).await
    }

    async fn snapshot(&self, dest: &std::path::Path) -> KvResult<SnapshotInfo> {
        // A backup taken through any replica holds every write acknowledged before it was asked.
        self.read_barrier().await?;
        self.shared.store.snapshot(dest).await
    }

    async fn restore(&self, _src: &std::path::Path) -> KvResult<SnapshotInfo> {
        Err(KvError::Unavailable(
            "a running replicated store cannot be restored in place; use `capstan restore` to build a new cluster".into(),
        ))
    }
}

pub(crate) fn command_result(r: &KvResult<CommandResponse>) -> pb::CommandResult {
    result_to_pb(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A peer whose port nobody listens on refuses the connection: the call never reached it.
    /// A peer that answers with an error was reached.
    #[tokio::test]
    async fn a_refused_connection_is_told_apart_from_an_answer() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let peers = Peers::new(None);
        let mut c = peers
            .client(&format!("http://127.0.0.1:{port}"))
            .expect("client");
        let refused = c
            .read_index(pb::ReadIndexRequest {})
            .await
            .expect_err("nobody listens");
        assert!(never_reached(&refused), "{refused:?}");
        assert!(!never_reached(&tonic::Status::unavailable(
            "etcdserver: no leader"
        )));
    }
}
