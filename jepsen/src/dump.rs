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

/// Events from `from` through `to`, or the compacted revision if `from` is compacted.
async fn history(c: &Etcd, from: i64, to: i64) -> Result<Result<Vec<KvEvent>, i64>, String> {
    let create = WatchRequest {
        request_union: Some(RequestUnion::CreateRequest(WatchCreateRequest {
            key: key(PREFIX),
            range_end: prefix_end(PREFIX),
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
    if to < from {
        return Ok(Ok(events));
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
            if let Some(ev) = event(e) {
                events.push(ev);
            }
        }
        if events.last().is_some_and(|e| e.mod_rev >= to) {
            return Ok(Ok(events));
        }
    }
}

/// Reads replica `node`'s ground truth (the workload must have stopped).
pub async fn dump(node: &str, c: &Etcd) -> Result<ReplicaDump, String> {
    let status = c.status().await.map_err(|e| format!("status: {e}"))?;
    let (now, revision) = state(c, 0).await?;
    let (compact_rev, events) = match history(c, 1, revision).await? {
        Ok(events) => (0, events),
        Err(compact) => match history(c, compact + 1, revision).await? {
            Ok(events) => (compact, events),
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
        revision,
        state: now,
        hash: hash.hash,
        raft_term: status.raft_term,
        raft_applied_index: status.raft_applied_index,
    })
}
