//! The etcd API's view of the raft group: members from the replica's membership, changes run on
//! the leader through the peer service.

use std::sync::Arc;

use capstan_apiserver::etcd::{ClusterView, RaftStatus};
use capstan_proto::etcdserverpb::Member as EtcdMember;
use capstan_proto::raft as pb;
use capstan_raft::RaftNode;
use tonic::Status;

pub struct RaftClusterView {
    pub node: Arc<RaftNode>,
}

fn to_etcd(resp: &pb::MemberChangeResponse) -> Vec<EtcdMember> {
    resp.members
        .iter()
        .map(|m| EtcdMember {
            id: m.id,
            name: m.name.clone(),
            peer_ur_ls: vec![m.peer_url.clone()],
            client_ur_ls: if m.client_url.is_empty() {
                Vec::new()
            } else {
                vec![m.client_url.clone()]
            },
            is_learner: !resp.voters.contains(&m.id),
        })
        .collect()
}

impl RaftClusterView {
    async fn call(
        &self,
        action: pb::member_change_request::Action,
        id: u64,
        member: Option<pb::Member>,
    ) -> Result<pb::MemberChangeResponse, Status> {
        self.node
            .member_change(pb::MemberChangeRequest {
                action: action as i32,
                id,
                member,
            })
            .await
    }
}

#[tonic::async_trait]
impl ClusterView for RaftClusterView {
    fn raft_status(&self) -> RaftStatus {
        let m = self.node.raft().metrics().borrow().clone();
        RaftStatus {
            term: m.current_term,
            leader: m.current_leader.unwrap_or(0),
            commit_index: m.last_log_index.unwrap_or(0),
            applied_index: m.last_applied.map(|l| l.index).unwrap_or(0),
            is_learner: !m
                .membership_config
                .membership()
                .voter_ids()
                .any(|v| v == m.id),
        }
    }

    async fn members(&self) -> Result<Vec<EtcdMember>, Status> {
        use pb::member_change_request::Action;
        let resp = self.call(Action::List, 0, None).await?;
        Ok(to_etcd(&resp))
    }

    async fn add(
        &self,
        peer_urls: Vec<String>,
        is_learner: bool,
    ) -> Result<(EtcdMember, Vec<EtcdMember>), Status> {
        use pb::member_change_request::Action;
        let url = peer_urls.first().cloned().unwrap_or_default();
        let member = pb::Member {
            id: 0,
            name: String::new(),
            peer_url: url.clone(),
            client_url: String::new(),
            api_url: String::new(),
            auto_promote: !is_learner,
        };
        let resp = self.call(Action::AddLearner, 0, Some(member)).await?;
        let members = to_etcd(&resp);
        let added = members
            .iter()
            .find(|m| m.peer_ur_ls.first() == Some(&url))
            .cloned()
            .ok_or_else(|| Status::internal("added member missing from the member list"))?;
        Ok((added, members))
    }

    async fn remove(&self, id: u64) -> Result<Vec<EtcdMember>, Status> {
        use pb::member_change_request::Action;
        Ok(to_etcd(&self.call(Action::Remove, id, None).await?))
    }

    async fn move_leader(&self, id: u64) -> Result<(), Status> {
        self.node
            .transfer_leadership(id)
            .await
            .map_err(Status::failed_precondition)
    }

    async fn promote(&self, id: u64) -> Result<Vec<EtcdMember>, Status> {
        use pb::member_change_request::Action;
        Ok(to_etcd(&self.call(Action::Promote, id, None).await?))
    }
}
