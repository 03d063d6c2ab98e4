//! The openraft type configuration: what the log carries (`ProposalBatch`), what apply answers
//! (`ApplyReply`), how a replica is described (`Member`), and the snapshot data (a file).

use std::fmt;

use capstan_proto::raft as pb;
use capstan_store::{CommandResponse, KvResult};

/// A replica's id in the raft group.
pub type NodeId = u64;

/// A replica as the cluster knows it: its name and where to reach it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    /// `https://HOST:PORT` of its raft transport.
    pub peer_url: String,
    /// Its etcd v3 API (`https://…` or `http://…`).
    pub client_url: String,
    /// Its Kubernetes API.
    pub api_url: String,
    /// A learner the leader promotes to voter once it has caught up (replicas that join with a
    /// token).
    pub auto_promote: bool,
}

impl fmt::Display for Member {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.peer_url)
    }
}

/// What applying one log entry produced: one result per proposal of its batch, in order (empty
/// for blank and membership entries).
#[derive(Clone, Debug, PartialEq)]
pub struct ApplyReply {
    pub results: Vec<KvResult<CommandResponse>>,
}

openraft::declare_raft_types!(
    /// capstan's raft types.
    pub TypeConfig:
        D = pb::ProposalBatch,
        R = ApplyReply,
        NodeId = NodeId,
        Node = Member,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = tokio::fs::File,
        AsyncRuntime = openraft::TokioRuntime,
);

pub type Raft = openraft::Raft<TypeConfig>;
pub type LogId = openraft::LogId<NodeId>;
pub type Vote = openraft::Vote<NodeId>;
pub type Entry = openraft::Entry<TypeConfig>;
pub type Membership = openraft::Membership<NodeId, Member>;
pub type StoredMembership = openraft::StoredMembership<NodeId, Member>;
pub type SnapshotMeta = openraft::SnapshotMeta<NodeId, Member>;
pub type StorageError = openraft::StorageError<NodeId>;
