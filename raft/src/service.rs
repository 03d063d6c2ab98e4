//! `RaftService`: the gRPC service a replica serves to the others — openraft's three RPCs, and
//! capstan's forward, read-index, lease, membership, leader hand-off and join calls. Every call
//! but `Ca` and `Join` requires a client certificate from the cluster CA (checked by TLS; here we
//! check that one was presented); `Join` is authenticated by the token's secret.

use std::collections::{BTreeMap, BTreeSet};

use capstan_proto::raft as pb;
use capstan_proto::raft::raft_server::Raft as RaftRpc;
use capstan_store::Kv;
use openraft::error::RaftError;
use openraft::raft::{AppendEntriesRequest, InstallSnapshotRequest, VoteRequest};
use openraft::{ChangeMembers, ServerState};
use tonic::{Request, Response, Status};

use crate::batcher::ProposeError;
use crate::codec::{
    entry_from_pb, failure_to_pb, member_from_pb, member_to_pb, opt_log_id_from_pb,
    opt_log_id_to_pb, required_vote, snapshot_meta_from_pb, vote_to_pb,
};
use crate::pki::ReplicaCerts;
use crate::random::random_u64;
use crate::replicated::{command_result, ReplicatedKv};
use crate::types::{Member, NodeId};

/// What a replica hands to a newcomer that presents the right secret.
#[derive(Clone, Debug)]
pub struct JoinAuth {
    pub secret: String,
    pub ca_cert: String,
    pub ca_key: String,
}

/// The peer service of one replica.
pub struct RaftService {
    kv: ReplicatedKv,
    /// Require a client certificate (false only for tests without TLS).
    require_peer_cert: bool,
    /// Replica certificates already seen.
    replica_certs: ReplicaCerts,
    ca_cert: Option<String>,
    join: Option<JoinAuth>,
    cluster_id: u64,
}

impl RaftService {
    pub fn new(
        kv: ReplicatedKv,
        require_peer_cert: bool,
        ca_cert: Option<String>,
        join: Option<JoinAuth>,
        cluster_id: u64,
    ) -> RaftService {
        RaftService {
            kv,
            require_peer_cert,
            replica_certs: ReplicaCerts::default(),
            ca_cert,
            join,
            cluster_id,
        }
    }

    fn authenticate<T>(&self, req: &Request<T>) -> Result<(), Status> {
        if !self.require_peer_cert {
            return Ok(());
        }
        match req.peer_certs() {
            Some(certs)
                if certs
                    .first()
                    .is_some_and(|c| self.replica_certs.accepts(c.as_ref())) =>
            {
                Ok(())
            }
            Some(certs) if !certs.is_empty() => Err(Status::permission_denied(
                "peer calls need a replica certificate (O=capstan:replicas) from the cluster CA",
            )),
            _ => Err(Status::unauthenticated(
                "peer calls need a client certificate from the cluster CA",
            )),
        }
    }

    fn members(&self) -> pb::MemberChangeResponse {
        let m = self.kv.raft().metrics().borrow().clone();
        let membership = m.membership_config.membership();
        pb::MemberChangeResponse {
            members: membership
                .nodes()
                .map(|(id, n)| member_to_pb(*id, n))
                .collect(),
            voters: membership.voter_ids().collect(),
            leader_id: m.current_leader.unwrap_or(0),
            cluster_id: self.cluster_id,
            term: m.current_term,
        }
    }

    fn not_leader() -> Status {
        Status::failed_precondition("not the leader")
    }

    fn fresh_id(&self) -> NodeId {
        let taken = self
            .kv
            .raft()
            .metrics()
            .borrow()
            .membership_config
            .nodes()
            .map(|(id, _)| *id)
            .collect();
        new_member_id(&taken)
    }

    async fn remove_member(&self, id: NodeId) -> Result<(), Status> {
        let is_voter = self
            .kv
            .raft()
            .metrics()
            .borrow()
            .membership_config
            .membership()
            .voter_ids()
            .any(|v| v == id);
        if is_voter {
            self.change(ChangeMembers::RemoveVoters(BTreeSet::from([id])), false)
                .await
        } else {
            self.change(ChangeMembers::RemoveNodes(BTreeSet::from([id])), false)
                .await
        }
    }

    async fn change(
        &self,
        change: ChangeMembers<NodeId, Member>,
        retain: bool,
    ) -> Result<(), Status> {
        use openraft::error::{ChangeMembershipError, ClientWriteError};
        let deadline = tokio::time::Instant::now() + MEMBERSHIP_TIMEOUT;
        loop {
            let changed = tokio::time::timeout_at(
                deadline,
                self.kv.raft().change_membership(change.clone(), retain),
            )
            .await
            .map_err(|_| {
                Status::deadline_exceeded("membership change not committed in time (no quorum?)")
            })?;
            match changed {
                Ok(_) => return Ok(()),
                Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_))) => {
                    return Err(Self::not_leader())
                }
                // Another change (a join, or a learner's promotion to voter) is being committed:
                // this one follows it, as two replicas joined one after the other expect.
                Err(RaftError::APIError(ClientWriteError::ChangeMembershipError(
                    ChangeMembershipError::InProgress(_),
                ))) if tokio::time::Instant::now() + MEMBERSHIP_RETRY < deadline => {
                    tokio::time::sleep(MEMBERSHIP_RETRY).await;
                }
                Err(e) => return Err(Status::failed_precondition(e.to_string())),
            }
        }
    }
}

fn internal(e: impl std::fmt::Display) -> Status {
    Status::internal(e.to_string())
}

fn bad(e: impl std::fmt::Display) -> Status {
    Status::invalid_argument(e.to_string())
}

/// A new member id: random, never 0, never one in use.
fn new_member_id(taken: &BTreeSet<NodeId>) -> NodeId {
    loop {
        let id = random_u64();
        if id != 0 && !taken.contains(&id) {
            return id;
        }
    }
}

#[tonic::async_trait]
impl RaftRpc for RaftService {
    async fn append_entries(
        &self,
        req: Request<pb::AppendEntriesRequest>,
    ) -> Result<Response<pb::AppendEntriesResponse>, Status> {
        self.authenticate(&req)?;
        let r = req.into_inner();
        let entries = r
            .entries
            .into_iter()
            .map(entry_from_pb)
            .collect::<Result<Vec<_>, _>>()
            .map_err(bad)?;
        let rpc = AppendEntriesRequest {
            vote: required_vote(r.vote.as_ref()).map_err(bad)?,
            prev_log_id: opt_log_id_from_pb(r.prev_log_id.as_ref()),
            entries,
            leader_commit: opt_log_id_from_pb(r.leader_commit.as_ref()),
        };
        let resp = self.kv.raft().append_entries(rpc).await.map_err(internal)?;
        use openraft::raft::AppendEntriesResponse as A;
        if !matches!(resp, A::HigherVote(_)) {
            self.kv.election().heard_from_leader();
        }
        use pb::append_entries_response::Result as R;
        let result = match resp {
            A::Success => R::Success(pb::Blank {}),
            A::PartialSuccess(m) => {
                R::PartialSuccess(pb::append_entries_response::PartialSuccess {
                    matching: opt_log_id_to_pb(m.as_ref()),
                })
            }
            A::Conflict => R::Conflict(pb::Blank {}),
            A::HigherVote(v) => R::HigherVote(vote_to_pb(&v)),
        };
        Ok(Response::new(pb::AppendEntriesResponse {
            result: Some(result),
        }))
    }

    async fn request_vote(
        &self,
        req: Request<pb::VoteRequest>,
    ) -> Result<Response<pb::VoteResponse>, Status> {
        self.authenticate(&req)?;
        let r = req.into_inner();
        let rpc = VoteRequest {
            vote: required_vote(r.vote.as_ref()).map_err(bad)?,
            last_log_id: opt_log_id_from_pb(r.last_log_id.as_ref()),
        };
        let (asked_with, candidate_term) = (rpc.last_log_id, rpc.vote.leader_id().term);
        let deciding = self.kv.election().deciding_vote();
        let resp = self.kv.raft().vote(rpc).await.map_err(internal)?;
        if resp.vote_granted {
            self.kv.election().heard_from_leader();
        }
        drop(deciding);
        if !resp.vote_granted && resp.last_log_id > asked_with {
            self.kv.election().refused_shorter_log(candidate_term);
        }
        Ok(Response::new(pb::VoteResponse {
            vote: Some(vote_to_pb(&resp.vote)),
            vote_granted: resp.vote_granted,
            last_log_id: opt_log_id_to_pb(resp.last_log_id.as_ref()),
        }))
    }

    async fn install_snapshot(
        &self,
        req: Request<pb::InstallSnapshotRequest>,
    ) -> Result<Response<pb::InstallSnapshotResponse>, Status> {
        self.authenticate(&req)?;
        let r = req.into_inner();
        let meta = r
            .meta
            .as_ref()
            .map(snapshot_meta_from_pb)
            .ok_or_else(|| bad("snapshot chunk without metadata"))?;
        let sent_by = required_vote(r.vote.as_ref()).map_err(bad)?;
        let rpc = InstallSnapshotRequest {
            vote: sent_by,
            meta,
            offset: r.offset,
            data: r.data.to_vec(),
            done: r.done,
        };
        let resp = self
            .kv
            .raft()
            .install_snapshot(rpc)
            .await
            .map_err(internal)?;
        if resp.vote == sent_by {
            self.kv.election().heard_from_leader();
        }
        Ok(Response::new(pb::InstallSnapshotResponse {
            vote: Some(vote_to_pb(&resp.vote)),
        }))
    }

    async fn forward(
        &self,
        req: Request<pb::ForwardRequest>,
    ) -> Result<Response<pb::ForwardResponse>, Status> {
        self.authenticate(&req)?;
        let proposals = req.into_inner().proposals;
        if !self.kv.leadership().borrow().is_leader {
            return Err(Self::not_leader());
        }
        let results = self
            .kv
            .propose_all_here(proposals)
            .await
            .into_iter()
            .map(|proposed| match proposed {
                Ok((log_id, result)) => pb::Forwarded {
                    log_id: Some(log_id),
                    result: Some(command_result(&result)),
                    not_leader: false,
                },
                Err(ProposeError::NotLeader(_)) => pb::Forwarded {
                    not_leader: true,
                    ..Default::default()
                },
                Err(ProposeError::Failed(e)) => pb::Forwarded {
                    log_id: None,
                    result: Some(command_result(&Err(e))),
                    not_leader: false,
                },
            })
            .collect();
        Ok(Response::new(pb::ForwardResponse { results }))
    }

    async fn read_index(
        &self,
        req: Request<pb::ReadIndexRequest>,
    ) -> Result<Response<pb::ReadIndexResponse>, Status> {
        self.authenticate(&req)?;
        match self.kv.read_index_batched().await {
            Ok(read_index) => Ok(Response::new(pb::ReadIndexResponse { read_index })),
            Err(_) => Err(Self::not_leader()),
        }
    }

    async fn lease_keep_alive(
        &self,
        req: Request<pb::LeaseRequest>,
    ) -> Result<Response<pb::LeaseKeepAliveResponse>, Status> {
        self.authenticate(&req)?;
        if !self.kv.leadership().borrow().is_leader {
            return Err(Self::not_leader());
        }
        let id = req.into_inner().id;
        Ok(Response::new(
            match self.kv.keep_alive_as_leader(id).await {
                Ok(r) => pb::LeaseKeepAliveResponse {
                    response: Some(r),
                    failure: None,
                },
                Err(e) => pb::LeaseKeepAliveResponse {
                    response: None,
                    failure: Some(failure_to_pb(&e)),
                },
            },
        ))
    }

    async fn lease_time_to_live(
        &self,
        req: Request<pb::LeaseRequest>,
    ) -> Result<Response<pb::LeaseTimeToLiveResponse>, Status> {
        self.authenticate(&req)?;
        if !self.kv.leadership().borrow().is_leader {
            return Err(Self::not_leader());
        }
        let r = req.into_inner();
        Ok(Response::new(
            match self.kv.local().lease_time_to_live(r.id, r.keys).await {
                Ok(r) => pb::LeaseTimeToLiveResponse {
                    response: Some(r),
                    failure: None,
                },
                Err(e) => pb::LeaseTimeToLiveResponse {
                    response: None,
                    failure: Some(failure_to_pb(&e)),
                },
            },
        ))
    }

    async fn member_change(
        &self,
        req: Request<pb::MemberChangeRequest>,
    ) -> Result<Response<pb::MemberChangeResponse>, Status> {
        self.authenticate(&req)?;
        let r = req.into_inner();
        use pb::member_change_request::Action;
        let action = Action::try_from(r.action).map_err(|_| bad("unknown member action"))?;
        match action {
            Action::List => {}
            Action::AddLearner => {
                let m = r.member.ok_or_else(|| bad("add needs a member"))?;
                let (mut id, member) = member_from_pb(&m);
                if id == 0 {
                    id = self.fresh_id();
                }
                self.change(
                    ChangeMembers::AddNodes(BTreeMap::from([(id, member)])),
                    true,
                )
                .await?;
            }
            Action::Promote => {
                self.change(ChangeMembers::AddVoterIds(BTreeSet::from([r.id])), true)
                    .await?;
            }
            Action::Remove => self.remove_member(r.id).await?,
        }
        Ok(Response::new(self.members()))
    }

    async fn timeout_now(
        &self,
        req: Request<pb::TimeoutNowRequest>,
    ) -> Result<Response<pb::TimeoutNowResponse>, Status> {
        self.authenticate(&req)?;
        self.kv.raft().trigger().elect().await.map_err(internal)?;
        Ok(Response::new(pb::TimeoutNowResponse {}))
    }

    async fn ca(&self, _req: Request<pb::CaRequest>) -> Result<Response<pb::CaResponse>, Status> {
        Ok(Response::new(pb::CaResponse {
            ca_cert_pem: self.ca_cert.clone().unwrap_or_default(),
        }))
    }

    async fn join(
        &self,
        req: Request<pb::JoinRequest>,
    ) -> Result<Response<pb::JoinResponse>, Status> {
        let Some(auth) = &self.join else {
            return Err(Status::permission_denied("this replica accepts no joins"));
        };
        let r = req.into_inner();
        if r.secret.is_empty() || !constant_time_eq(r.secret.as_bytes(), auth.secret.as_bytes()) {
            return Err(Status::permission_denied("wrong join token"));
        }
        if self.kv.raft().metrics().borrow().state != ServerState::Leader {
            // Anyone can be asked; the leader decides.
            let m = self.kv.raft().metrics().borrow().clone();
            let leader = m
                .current_leader
                .and_then(|l| m.membership_config.membership().get_node(&l).cloned())
                .ok_or_else(|| Status::unavailable("etcdserver: no leader"))?;
            let mut c = self
                .kv
                .peers()
                .client(&leader.peer_url)
                .map_err(|e| Status::unavailable(e.to_string()))?;
            let mut req = Request::new(r);
            req.set_timeout(MEMBERSHIP_TIMEOUT * 2);
            return c.join(req).await;
        }
        let metrics = self.kv.raft().metrics().borrow().clone();
        let membership = metrics.membership_config.membership();
        let existing = metrics
            .membership_config
            .nodes()
            .find(|(_, n)| n.name == r.name || n.peer_url == r.peer_url)
            .map(|(id, n)| (*id, n.clone(), membership.voter_ids().any(|v| v == *id)));
        let (id, auto_promote) = match existing {
            // Announced beforehand with `member add` (a learner that never ran): it takes that
            // place, keeping its id and whether it waits for `member promote`.
            Some((id, pre, false)) if pre.peer_url == r.peer_url && pre.name.is_empty() => {
                self.change(ChangeMembers::RemoveNodes(BTreeSet::from([id])), false)
                    .await?;
                (id, pre.auto_promote)
            }
            // A replica that lost its data dir joins again under its old name: it replaces
            // itself, under a new id — but only if the old one is gone (its peer address does
            // not answer), so a second machine that happens to use the same name cannot evict a
            // running member. At its old address (the same host, rebuilt) the probe would only
            // reach the newcomer itself, which listens there: two processes cannot, so the old
            // one is gone. (`capstan jepsen`'s member-replace found this refusal.)
            Some((old, prev, _)) => {
                if prev.peer_url != r.peer_url && peer_answers(&prev.peer_url).await {
                    return Err(Status::already_exists(format!(
                        "a running member is named {:?} (at {}); choose another --name, or remove it first",
                        prev.name, prev.peer_url
                    )));
                }
                self.remove_member(old).await?;
                (self.fresh_id(), true)
            }
            None => (self.fresh_id(), true),
        };
        let member = Member {
            name: r.name,
            peer_url: r.peer_url,
            client_url: r.client_url,
            api_url: r.api_url,
            auto_promote,
        };
        self.change(
            ChangeMembers::AddNodes(BTreeMap::from([(id, member)])),
            true,
        )
        .await?;
        Ok(Response::new(pb::JoinResponse {
            id,
            cluster_id: self.cluster_id,
            ca_cert_pem: auth.ca_cert.clone(),
            ca_key_pem: auth.ca_key.clone(),
            members: self.members().members,
        }))
    }
}

/// How long a membership change may take to commit.
const MEMBERSHIP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);
/// How long a membership change waits for one in progress before it tries again.
const MEMBERSHIP_RETRY: std::time::Duration = std::time::Duration::from_millis(100);

/// Whether something accepts TCP connections at a peer URL's address (within a second).
async fn peer_answers(url: &str) -> bool {
    let addr = url.trim_start_matches("https://").trim_end_matches('/');
    matches!(
        tokio::time::timeout(
            std::time::Duration::from_secs(1),
            tokio::net::TcpStream::connect(addr)
        )
        .await,
        Ok(Ok(_))
    )
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
