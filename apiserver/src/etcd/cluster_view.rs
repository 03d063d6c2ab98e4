//! `ClusterView`: what the etcd API needs to know about the cluster beyond the store — its
//! members, the raft term and leader, and membership changes. The binary implements it over the
//! raft group; a lone store is `SingleMember`.

use capstan_proto::etcdserverpb::Member;
use tonic::Status;

/// Raft positions reported by Maintenance.Status.
#[derive(Clone, Copy, Debug, Default)]
pub struct RaftStatus {
    pub term: u64,
    pub leader: u64,
    pub commit_index: u64,
    pub applied_index: u64,
    pub is_learner: bool,
}

/// The cluster as the etcd API shows it.
#[tonic::async_trait]
pub trait ClusterView: Send + Sync + 'static {
    /// Term, leader and indexes as this replica sees them.
    fn raft_status(&self) -> RaftStatus;
    /// Every member, voters and learners.
    async fn members(&self) -> Result<Vec<Member>, Status>;
    /// Adds a member reachable at `peer_urls`; returns it and the new member list.
    async fn add(
        &self,
        peer_urls: Vec<String>,
        is_learner: bool,
    ) -> Result<(Member, Vec<Member>), Status>;
    /// Removes a member; returns the new member list.
    async fn remove(&self, id: u64) -> Result<Vec<Member>, Status>;
    /// Promotes a learner to voter; returns the new member list.
    async fn promote(&self, id: u64) -> Result<Vec<Member>, Status>;
    /// Moves leadership to member `id` (this replica must lead).
    async fn move_leader(&self, id: u64) -> Result<(), Status>;
}

/// A store that is not replicated: one member, membership fixed.
pub struct SingleMember {
    pub member: Member,
}

fn fixed() -> Status {
    Status::failed_precondition("etcdserver: membership changes need a replicated capstan server")
}

#[tonic::async_trait]
impl ClusterView for SingleMember {
    fn raft_status(&self) -> RaftStatus {
        RaftStatus {
            leader: self.member.id,
            ..RaftStatus::default()
        }
    }

    async fn members(&self) -> Result<Vec<Member>, Status> {
        Ok(vec![self.member.clone()])
    }

    async fn add(&self, _: Vec<String>, _: bool) -> Result<(Member, Vec<Member>), Status> {
        Err(fixed())
    }

    async fn remove(&self, _: u64) -> Result<Vec<Member>, Status> {
        Err(fixed())
    }

    async fn promote(&self, _: u64) -> Result<Vec<Member>, Status> {
        Err(fixed())
    }

    async fn move_leader(&self, id: u64) -> Result<(), Status> {
        if id == self.member.id {
            Ok(())
        } else {
            Err(Status::failed_precondition(
                "etcdserver: bad leader transferee",
            ))
        }
    }
}
