//! The list-append workload (Elle's, as Jepsen etcd's `append` runs it): transactions of one to
//! four micro-operations over a few keys, each an append of a unique value or a read of a
//! whole list. A transaction runs as a read Txn of every key it touches (one revision), then,
//! if it appends, a Txn guarded by each key's mod revision from that read that puts the
//! extended lists. A failed guard means nothing applied (`Fail`); reads then equal the state
//! just before the write, so the transaction is atomic at the write's revision.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use capstan_proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use capstan_proto::etcdserverpb::request_op::Request;
use capstan_proto::etcdserverpb::response_op::Response;
use capstan_proto::etcdserverpb::{Compare, PutRequest, RangeRequest, RequestOp, TxnRequest};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::client::{key, text, timed, CallError, Etcd};
use crate::history::{Call, Mop, Outcome};
use crate::recorder::Lane;
use crate::workload::Pace;

/// Key prefix of the append workload.
pub const PREFIX: &str = "/jepsen/a/";

/// Runs one append lane until `pace` says stop.
pub async fn lane(
    mut lane: Lane,
    keys: usize,
    values: Arc<AtomicI64>,
    mut rng: ChaCha8Rng,
    pace: Pace,
) {
    while pace.go().await {
        let n = rng.gen_range(1..=4);
        let mops = (0..n)
            .map(|_| {
                let k = format!("{PREFIX}{}", rng.gen_range(0..keys.max(1)));
                if rng.gen_bool(0.5) {
                    Mop::Append {
                        key: k,
                        value: values.fetch_add(1, Ordering::SeqCst),
                    }
                } else {
                    Mop::Read { key: k, list: None }
                }
            })
            .collect();
        let _ = lane.run(Call::Txn { mops }, exec).await;
    }
}

fn parse_list(v: &[u8]) -> Result<Vec<i64>, CallError> {
    let t = text(v);
    if t.is_empty() {
        return Ok(Vec::new());
    }
    t.split(',')
        .map(|x| {
            x.parse().map_err(|_| CallError {
                outcome: Outcome::Fail,
                message: format!("list holds {t:?}"),
            })
        })
        .collect()
}

fn join(list: &[i64]) -> String {
    list.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

async fn exec(c: Etcd, call: Call) -> Result<(Call, i64), CallError> {
    let Call::Txn { mops } = call else {
        return Ok((call, 0));
    };
    let mut keys: Vec<String> = mops
        .iter()
        .map(|m| match m {
            Mop::Append { key, .. } | Mop::Read { key, .. } => key.clone(),
        })
        .collect();
    keys.sort();
    keys.dedup();
    // Read phase: every key at one revision. Nothing is written, so any error is a `Fail`.
    let read = timed(
        c.kv().txn(TxnRequest {
            compare: vec![],
            success: keys
                .iter()
                .map(|k| RequestOp {
                    request: Some(Request::RequestRange(RangeRequest {
                        key: key(k),
                        ..Default::default()
                    })),
                })
                .collect(),
            failure: vec![],
        }),
    )
    .await
    .map_err(|e| CallError {
        outcome: Outcome::Fail,
        ..e
    })?;
    let read_rev = read.header.map(|h| h.revision).unwrap_or(0);
    let mut lists: BTreeMap<String, (Vec<i64>, i64)> = BTreeMap::new();
    for (k, r) in keys.iter().zip(read.responses.iter()) {
        let (list, mod_rev) = match &r.response {
            Some(Response::ResponseRange(rr)) => match rr.kvs.first() {
                Some(kv) => (parse_list(&kv.value)?, kv.mod_revision),
                None => (Vec::new(), 0),
            },
            _ => (Vec::new(), 0),
        };
        lists.insert(k.clone(), (list, mod_rev));
    }
    // The transaction's reads see its own earlier appends.
    let guards: Vec<(String, i64)> = lists.iter().map(|(k, (_, m))| (k.clone(), *m)).collect();
    let mut appended = BTreeMap::<String, Vec<i64>>::new();
    let mut out = Vec::new();
    for m in mops {
        match m {
            Mop::Read { key: k, .. } => {
                let mut l = lists.get(&k).map(|(l, _)| l.clone()).unwrap_or_default();
                l.extend(appended.get(&k).cloned().unwrap_or_default());
                out.push(Mop::Read {
                    key: k,
                    list: Some(l),
                });
            }
            Mop::Append { key: k, value } => {
                appended.entry(k.clone()).or_default().push(value);
                out.push(Mop::Append { key: k, value });
            }
        }
    }
    if appended.is_empty() {
        return Ok((Call::Txn { mops: out }, read_rev));
    }
    let puts = appended
        .iter()
        .map(|(k, vals)| {
            let mut l = lists.get(k).map(|(l, _)| l.clone()).unwrap_or_default();
            l.extend(vals);
            RequestOp {
                request: Some(Request::RequestPut(PutRequest {
                    key: key(k),
                    value: join(&l).into(),
                    ..Default::default()
                })),
            }
        })
        .collect();
    let w = timed(
        c.kv().txn(TxnRequest {
            compare: guards
                .iter()
                .map(|(k, m)| Compare {
                    result: CompareResult::Equal as i32,
                    target: CompareTarget::Mod as i32,
                    key: key(k),
                    range_end: Default::default(),
                    target_union: Some(TargetUnion::ModRevision(*m)),
                })
                .collect(),
            success: puts,
            failure: vec![],
        }),
    )
    .await?;
    if !w.succeeded {
        return Err(CallError {
            outcome: Outcome::Fail,
            message: "guard failed: a key changed since the read".into(),
        });
    }
    Ok((
        Call::Txn { mops: out },
        w.header.map(|h| h.revision).unwrap_or(0),
    ))
}
