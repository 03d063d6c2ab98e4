//! Conversions between openraft's types and their protobuf form (`capstan.raft.v1`), used for
//! the log on disk, the applied position and the transport. Decoding refuses what cannot be
//! represented (a missing required field) instead of inventing a value.

use std::collections::{BTreeMap, BTreeSet};

use capstan_proto::raft as pb;
use capstan_store::{CommandResponse, KvError, KvResult};
use openraft::{CommittedLeaderId, EntryPayload};

use crate::types::{
    Entry, LogId, Member, Membership, NodeId, SnapshotMeta, StoredMembership, Vote,
};

/// A protobuf record that does not decode into openraft's type.
#[derive(Debug, thiserror::Error)]
#[error("malformed raft record: {0}")]
pub struct DecodeError(pub String);

fn missing(what: &str) -> DecodeError {
    DecodeError(format!("missing {what}"))
}

pub fn log_id_to_pb(id: &LogId) -> pb::LogId {
    pb::LogId {
        term: id.leader_id.term,
        node_id: id.leader_id.node_id,
        index: id.index,
    }
}

pub fn log_id_from_pb(id: &pb::LogId) -> LogId {
    LogId::new(CommittedLeaderId::new(id.term, id.node_id), id.index)
}

pub fn opt_log_id_to_pb(id: Option<&LogId>) -> Option<pb::LogId> {
    id.map(log_id_to_pb)
}

pub fn opt_log_id_from_pb(id: Option<&pb::LogId>) -> Option<LogId> {
    id.map(log_id_from_pb)
}

pub fn vote_to_pb(v: &Vote) -> pb::Vote {
    pb::Vote {
        term: v.leader_id.term,
        node_id: v.leader_id.node_id,
        committed: v.committed,
    }
}

pub fn vote_from_pb(v: &pb::Vote) -> Vote {
    if v.committed {
        Vote::new_committed(v.term, v.node_id)
    } else {
        Vote::new(v.term, v.node_id)
    }
}

pub fn required_vote(v: Option<&pb::Vote>) -> Result<Vote, DecodeError> {
    v.map(vote_from_pb).ok_or_else(|| missing("vote"))
}

pub fn member_to_pb(id: NodeId, m: &Member) -> pb::Member {
    pb::Member {
        id,
        name: m.name.clone(),
        peer_url: m.peer_url.clone(),
        client_url: m.client_url.clone(),
        api_url: m.api_url.clone(),
        auto_promote: m.auto_promote,
    }
}

pub fn member_from_pb(m: &pb::Member) -> (NodeId, Member) {
    (
        m.id,
        Member {
            name: m.name.clone(),
            peer_url: m.peer_url.clone(),
            client_url: m.client_url.clone(),
            api_url: m.api_url.clone(),
            auto_promote: m.auto_promote,
        },
    )
}

pub fn membership_to_pb(m: &Membership) -> pb::Membership {
    pb::Membership {
        configs: m
            .get_joint_config()
            .iter()
            .map(|c| pb::NodeIdSet {
                ids: c.iter().copied().collect(),
            })
            .collect(),
        nodes: m.nodes().map(|(id, n)| member_to_pb(*id, n)).collect(),
    }
}

pub fn membership_from_pb(m: &pb::Membership) -> Membership {
    let configs: Vec<BTreeSet<NodeId>> = m
        .configs
        .iter()
        .map(|c| c.ids.iter().copied().collect())
        .collect();
    let nodes: BTreeMap<NodeId, Member> = m.nodes.iter().map(member_from_pb).collect();
    Membership::new(configs, nodes)
}

pub fn stored_membership_to_pb(m: &StoredMembership) -> pb::StoredMembership {
    pb::StoredMembership {
        log_id: opt_log_id_to_pb(m.log_id().as_ref()),
        membership: Some(membership_to_pb(m.membership())),
    }
}

pub fn stored_membership_from_pb(m: Option<&pb::StoredMembership>) -> StoredMembership {
    match m {
        Some(m) => StoredMembership::new(
            opt_log_id_from_pb(m.log_id.as_ref()),
            m.membership
                .as_ref()
                .map(membership_from_pb)
                .unwrap_or_default(),
        ),
        None => StoredMembership::default(),
    }
}

pub fn entry_to_pb(e: &Entry) -> pb::Entry {
    let payload = match &e.payload {
        EntryPayload::Blank => pb::entry::Payload::Blank(pb::Blank {}),
        EntryPayload::Normal(p) => pb::entry::Payload::Normal(p.clone()),
        EntryPayload::Membership(m) => pb::entry::Payload::Membership(membership_to_pb(m)),
    };
    pb::Entry {
        log_id: Some(log_id_to_pb(&e.log_id)),
        payload: Some(payload),
    }
}

pub fn entry_from_pb(e: pb::Entry) -> Result<Entry, DecodeError> {
    let log_id = e
        .log_id
        .as_ref()
        .map(log_id_from_pb)
        .ok_or_else(|| missing("entry log id"))?;
    let payload = match e.payload {
        Some(pb::entry::Payload::Blank(_)) => EntryPayload::Blank,
        Some(pb::entry::Payload::Normal(p)) => EntryPayload::Normal(p),
        Some(pb::entry::Payload::Membership(m)) => EntryPayload::Membership(membership_from_pb(&m)),
        None => return Err(missing("entry payload")),
    };
    Ok(Entry { log_id, payload })
}

pub fn snapshot_meta_to_pb(m: &SnapshotMeta) -> pb::SnapshotMeta {
    pb::SnapshotMeta {
        last_log_id: opt_log_id_to_pb(m.last_log_id.as_ref()),
        last_membership: Some(stored_membership_to_pb(&m.last_membership)),
        snapshot_id: m.snapshot_id.clone(),
    }
}

pub fn snapshot_meta_from_pb(m: &pb::SnapshotMeta) -> SnapshotMeta {
    SnapshotMeta {
        last_log_id: opt_log_id_from_pb(m.last_log_id.as_ref()),
        last_membership: stored_membership_from_pb(m.last_membership.as_ref()),
        snapshot_id: m.snapshot_id.clone(),
    }
}

/// The name of a `KvError` variant, for `KvFailure.kind`.
pub fn failure_to_pb(e: &KvError) -> pb::KvFailure {
    let (kind, message, compact_revision) = match e {
        KvError::InvalidArgument(m) => ("InvalidArgument", m.clone(), 0),
        KvError::DuplicateKey => ("DuplicateKey", String::new(), 0),
        KvError::EmptyWatchRange => ("EmptyWatchRange", String::new(), 0),
        KvError::TooManyOps => ("TooManyOps", String::new(), 0),
        KvError::RequestTooLarge => ("RequestTooLarge", String::new(), 0),
        KvError::Compacted { compact_revision } => ("Compacted", String::new(), *compact_revision),
        KvError::FutureRevision => ("FutureRevision", String::new(), 0),
        KvError::KeyNotFound => ("KeyNotFound", String::new(), 0),
        KvError::LeaseNotFound => ("LeaseNotFound", String::new(), 0),
        KvError::LeaseExists => ("LeaseExists", String::new(), 0),
        KvError::LeaseTtlTooLarge => ("LeaseTtlTooLarge", String::new(), 0),
        KvError::Fenced { expected, actual } => ("Fenced", format!("{expected}:{actual}"), 0),
        KvError::Unavailable(m) => ("Unavailable", m.clone(), 0),
        KvError::Corrupt(m) => ("Corrupt", m.clone(), 0),
        KvError::Storage(m) => ("Storage", m.clone(), 0),
    };
    pb::KvFailure {
        kind: kind.to_string(),
        message,
        compact_revision,
    }
}

pub fn failure_from_pb(f: &pb::KvFailure) -> KvError {
    match f.kind.as_str() {
        "InvalidArgument" => KvError::InvalidArgument(f.message.clone()),
        "DuplicateKey" => KvError::DuplicateKey,
        "EmptyWatchRange" => KvError::EmptyWatchRange,
        "TooManyOps" => KvError::TooManyOps,
        "RequestTooLarge" => KvError::RequestTooLarge,
        "Compacted" => KvError::Compacted {
            compact_revision: f.compact_revision,
        },
        "FutureRevision" => KvError::FutureRevision,
        "KeyNotFound" => KvError::KeyNotFound,
        "LeaseNotFound" => KvError::LeaseNotFound,
        "LeaseExists" => KvError::LeaseExists,
        "LeaseTtlTooLarge" => KvError::LeaseTtlTooLarge,
        "Fenced" => {
            let mut parts = f.message.splitn(2, ':');
            let expected = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
            let actual = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
            KvError::Fenced { expected, actual }
        }
        "Unavailable" => KvError::Unavailable(f.message.clone()),
        "Corrupt" => KvError::Corrupt(f.message.clone()),
        _ => KvError::Storage(f.message.clone()),
    }
}

pub fn result_to_pb(r: &KvResult<CommandResponse>) -> pb::CommandResult {
    use pb::command_result::Result as R;
    let result = match r {
        Ok(CommandResponse::Txn(t)) => R::Txn(t.clone()),
        Ok(CommandResponse::Compact(c)) => R::Compact(*c),
        Ok(CommandResponse::LeaseGrant(g)) => R::LeaseGrant(*g),
        Ok(CommandResponse::LeaseRevoke(v)) => R::LeaseRevoke(*v),
        Err(e) => R::Failure(failure_to_pb(e)),
    };
    pb::CommandResult {
        result: Some(result),
    }
}

pub fn result_from_pb(r: pb::CommandResult) -> KvResult<CommandResponse> {
    use pb::command_result::Result as R;
    match r.result {
        Some(R::Txn(t)) => Ok(CommandResponse::Txn(t)),
        Some(R::Compact(c)) => Ok(CommandResponse::Compact(c)),
        Some(R::LeaseGrant(g)) => Ok(CommandResponse::LeaseGrant(g)),
        Some(R::LeaseRevoke(v)) => Ok(CommandResponse::LeaseRevoke(v)),
        Some(R::Failure(f)) => Err(failure_from_pb(&f)),
        None => Err(KvError::Storage(
            "empty command result from the leader".into(),
        )),
    }
}
