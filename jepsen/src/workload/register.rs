//! The register workload (Jepsen etcd's `register`): linearizable gets, blind puts of unique
//! values, and compare-and-set by mod revision (one Txn), on a few keys. Each key takes about
//! `ops_per_key` operations and is then replaced by a fresh one, so the linearizability search
//! per key stays small.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use capstan_proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use capstan_proto::etcdserverpb::request_op::Request;
use capstan_proto::etcdserverpb::{Compare, PutRequest, RangeRequest, RequestOp, TxnRequest};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::client::{key, text, timed, CallError, Etcd};
use crate::history::{Call, Outcome, Seen};
use crate::recorder::Lane;
use crate::workload::Pace;

/// Key prefix of the register workload.
pub const PREFIX: &str = "/jepsen/r/";

/// The register slots shared by all register lanes: slot i's current key is
/// `/jepsen/r/<i>.<generation>`.
pub struct Registers {
    slots: Vec<AtomicU64>,
    ops_per_key: u64,
    values: Arc<AtomicI64>,
}

impl Registers {
    pub fn new(slots: usize, ops_per_key: u64, values: Arc<AtomicI64>) -> Registers {
        Registers {
            slots: (0..slots).map(|_| AtomicU64::new(0)).collect(),
            ops_per_key: ops_per_key.max(1),
            values,
        }
    }

    /// The key for the next operation on a random slot.
    pub fn pick(&self, rng: &mut ChaCha8Rng) -> String {
        let slot = rng.gen_range(0..self.slots.len().max(1));
        let n = self
            .slots
            .get(slot)
            .map(|c| c.fetch_add(1, Ordering::SeqCst))
            .unwrap_or(0);
        format!("{PREFIX}{slot}.{}", n / self.ops_per_key)
    }

    /// A value no write used before.
    pub fn value(&self) -> i64 {
        self.values.fetch_add(1, Ordering::SeqCst)
    }
}

/// Runs one register lane until `pace` says stop.
pub async fn lane(mut lane: Lane, regs: Arc<Registers>, mut rng: ChaCha8Rng, pace: Pace) {
    // The mod revision this lane last saw per key: the CAS expectation.
    let mut last_seen = std::collections::HashMap::<String, i64>::new();
    while pace.go().await {
        let k = regs.pick(&mut rng);
        let roll = rng.gen_range(0..100);
        let call = if roll < 50 {
            Call::Read {
                key: k.clone(),
                seen: None,
            }
        } else if roll < 75 {
            Call::Write {
                key: k.clone(),
                value: regs.value(),
            }
        } else {
            Call::Cas {
                key: k.clone(),
                expect_mod_rev: last_seen.get(&k).copied().unwrap_or(0),
                value: regs.value(),
                succeeded: None,
            }
        };
        if let Ok((Call::Read { seen, .. }, _)) = lane.run(call, exec).await {
            last_seen.insert(k, seen.map(|s| s.mod_rev).unwrap_or(0));
        }
    }
}

async fn exec(c: Etcd, call: Call) -> Result<(Call, i64), CallError> {
    match call {
        Call::Read { key: k, .. } => {
            let r = timed(c.kv().range(RangeRequest {
                key: key(&k),
                ..Default::default()
            }))
            .await
            .map_err(read_error)?;
            let rev = r.header.map(|h| h.revision).unwrap_or(0);
            let seen = match r.kvs.first() {
                Some(kv) => Some(Seen {
                    value: parse(&kv.value)?,
                    mod_rev: kv.mod_revision,
                }),
                None => None,
            };
            Ok((Call::Read { key: k, seen }, rev))
        }
        Call::Write { key: k, value } => {
            let r = timed(c.kv().put(PutRequest {
                key: key(&k),
                value: value.to_string().into(),
                ..Default::default()
            }))
            .await?;
            Ok((
                Call::Write { key: k, value },
                r.header.map(|h| h.revision).unwrap_or(0),
            ))
        }
        Call::Cas {
            key: k,
            expect_mod_rev,
            value,
            ..
        } => {
            let r = timed(c.kv().txn(TxnRequest {
                compare: vec![Compare {
                    result: CompareResult::Equal as i32,
                    target: CompareTarget::Mod as i32,
                    key: key(&k),
                    range_end: Default::default(),
                    target_union: Some(TargetUnion::ModRevision(expect_mod_rev)),
                }],
                success: vec![RequestOp {
                    request: Some(Request::RequestPut(PutRequest {
                        key: key(&k),
                        value: value.to_string().into(),
                        ..Default::default()
                    })),
                }],
                failure: vec![],
            }))
            .await?;
            let rev = r.header.map(|h| h.revision).unwrap_or(0);
            Ok((
                Call::Cas {
                    key: k,
                    expect_mod_rev,
                    value,
                    succeeded: Some(r.succeeded),
                },
                rev,
            ))
        }
        other => Ok((other, 0)),
    }
}

/// A failed read changed nothing: always `Fail` (checkers drop it).
pub fn read_error(e: CallError) -> CallError {
    CallError {
        outcome: Outcome::Fail,
        ..e
    }
}

fn parse(v: &[u8]) -> Result<i64, CallError> {
    text(v).parse().map_err(|_| CallError {
        outcome: Outcome::Fail,
        message: format!("register holds {:?}, not a number", text(v)),
    })
}
