//! The ground truth of a run: each replica's own store read back after healing, straight to the
//! replica (no proxy), with serializable (local) reads only. The history comes from a watch
//! from the compacted revision + 1 — served from the store's history on disk, not from the live
//! notification path the watch workload exercises — and the state at the compacted revision
//! from a range read at that revision.

use std::collections::BTreeMap;
use std::time::Duration;

use capstan_proto::etcdserverpb::watch_request::RequestUnion;
use capstan_proto::etcdserverpb::{HashKvRequest, RangeRequest, WatchCreateRequest, WatchRequest};
use tokio_stream::StreamExt;

use crate::client::{key, prefix_end, text, timed, Etcd};
use crate::history::{KvEvent, KvState, ReplicaDump};
use crate::workload::watch::{event, PREFIX};

/// The keyspace under the run's prefix at `revision` (0 = newest), read locally.
async fn state(c: &Etcd, revision: i64) -> Result<(BTreeMap<String, KvState>, i64), String> {
    let r = timed(c.kv().range(RangeRequest {
        key: key(PREFIX),
        range_end: prefix_end(PREFIX),
        revision,
        serializable: true,
        ..Default::default()
    }))
    .await
    .map_err(|e| format!("range at {revision}: {e}"))?;
    let map = r
        .kvs
        .iter()
        .map(|kv| {
            (
                text(&kv.key),
                KvState {
                    value: text(&kv.value),
                    mod_rev: kv.mod_revision,
                    create_rev: kv.create_revision,
                    version: kv.version,
                    lease: kv.lease,
                },
            )
        })
        .collect();
    Ok((map, r.header.map(|h| h.revision).unwrap_or(0)))
}

/// The events under the run's prefix and the revisions of changes outside it.
type History = (Vec<KvEvent>, Vec<i64>);

/// Events under `prefix` from `from` through `to` (and the revisions of changes outside it), or
/// the compacted revision if `from` is compacted.
pub async fn history(
    c: &Etcd,
    prefix: &str,
    from: i64,
    to: i64,
) -> Result<Result<History, i64>, String> {
    // The whole keyspace, so every revision is accounted for: the server writes keys of its
    // own (the Kubernetes API's bootstrap objects under /registry/).
    let create = WatchRequest {
        request_union: Some(RequestUnion::CreateRequest(WatchCreateRequest {
            key: vec![0].into(),
            range_end: vec![0].into(),
            start_revision: from,
            ..Default::default()
        })),
    };
    let req = tokio_stream::once(create).chain(tokio_stream::pending());
    let mut stream = c
        .watch()
        .watch(req)
        .await
        .map_err(|e| format!("watch: {e}"))?
        .into_inner();
    let mut events = Vec::new();
    let mut foreign: Vec<i64> = Vec::new();
    let mut last_rev = 0;
    if to < from {
        return Ok(Ok((events, foreign)));
    }
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), stream.message())
            .await
            .map_err(|_| format!("history stalled after {} events", events.len()))?
            .map_err(|e| format!("watch: {e}"))?
            .ok_or("watch ended")?;
        if msg.canceled {
            if msg.compact_revision > 0 {
                return Ok(Err(msg.compact_revision));
            }
            return Err(format!("watch cancelled: {}", msg.cancel_reason));
        }
        for e in &msg.events {
            let rev = e.kv.as_ref().map(|kv| kv.mod_revision).unwrap_or(0);
            last_rev = last_rev.max(rev);
            let ours =
                e.kv.as_ref()
                    .is_some_and(|kv| kv.key.starts_with(prefix.as_bytes()));
            if !ours {
                if foreign.last() != Some(&rev) {
                    foreign.push(rev);
                }
                continue;
            }
            if let Some(ev) = event(e) {
                events.push(ev);
            }
        }
        if last_rev >= to {
            // A revision with changes both inside and outside the prefix is not foreign.
            foreign.retain(|r| !events.iter().any(|e| e.mod_rev == *r));
            return Ok(Ok((events, foreign)));
        }
    }
}

/// Reads replica `node`'s ground truth (the workload must have stopped).
pub async fn dump(node: &str, c: &Etcd) -> Result<ReplicaDump, String> {
    let status = c.status().await.map_err(|e| format!("status: {e}"))?;
    let (now, revision) = state(c, 0).await?;
    let (compact_rev, (events, foreign_revs)) = match history(c, PREFIX, 1, revision).await? {
        Ok(h) => (0, h),
        Err(compact) => match history(c, PREFIX, compact + 1, revision).await? {
            Ok(h) => (compact, h),
            Err(again) => return Err(format!("compacted to {again} while dumping")),
        },
    };
    let base = if compact_rev > 0 {
        state(c, compact_rev).await?.0
    } else {
        BTreeMap::new()
    };
    let hash = timed(c.maintenance().hash_kv(HashKvRequest { revision }))
        .await
        .map_err(|e| format!("hashkv: {e}"))?;
    Ok(ReplicaDump {
        node: node.to_string(),
        compact_rev,
        base,
        events: events
            .into_iter()
            .filter(|e| e.mod_rev <= revision)
            .collect(),
        foreign_revs: foreign_revs
            .into_iter()
            .filter(|r| *r <= revision)
            .collect(),
        revision,
        state: now,
        hash: hash.hash,
        raft_term: status.raft_term,
        raft_applied_index: status.raft_applied_index,
    })
}
