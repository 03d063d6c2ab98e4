//! Apply: the deterministic state transition of the store. A command and the state before it
//! decide the state after it and the response; nothing here reads a clock, a random source or the
//! iteration order of a hash map.

use bytes::Bytes;
use capstan_proto::store::{
    command, compare, event, request_op, response_op, Command, CompactionResponse, Compare,
    DeleteRangeRequest, DeleteRangeResponse, Event, KeyValue, LeaseGrantResponse,
    LeaseRevokeResponse, PutRequest, PutResponse, RequestOp, ResponseOp, StoredLease,
    StoredVersion, TxnRequest, TxnResponse,
};

use crate::error::{KvError, KvResult};
use crate::key_range::KeyRange;
use crate::keyspace::{to_key_value, KeyspaceWrite};
use crate::range::range;
use crate::validate::validate_command;

/// The revision of an empty store (as etcd: the first write is at revision 2).
pub const INITIAL_REVISION: i64 = 1;

/// The revisions every command reads and may advance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Revisions {
    /// The current revision.
    pub current: i64,
    /// Reads below this revision are refused as compacted.
    pub compact: i64,
}

/// What applying one command produced.
#[derive(Clone, Debug, PartialEq)]
pub struct Applied {
    /// The store revision after the command.
    pub revision: i64,
    /// The response, or why the command was refused (then it changed nothing).
    pub response: KvResult<CommandResponse>,
    /// The changes the command made, in order, all at `revision`. Empty if nothing changed.
    pub events: Vec<Event>,
}

/// The response to a successfully applied command.
#[derive(Clone, Debug, PartialEq)]
pub enum CommandResponse {
    Txn(TxnResponse),
    Compact(CompactionResponse),
    LeaseGrant(LeaseGrantResponse),
    LeaseRevoke(LeaseRevokeResponse),
}

/// Applies `cmd` to `ks`. The outer error is a storage failure (the whole batch must be
/// abandoned); a refused command is an `Applied` whose `response` is the error.
pub fn apply_command<K: KeyspaceWrite + ?Sized>(
    ks: &mut K,
    revs: &mut Revisions,
    cmd: &Command,
) -> KvResult<Applied> {
    let mut events = Vec::new();
    let response = validate_command(cmd).and_then(|()| match &cmd.command {
        Some(command::Command::Txn(txn)) => {
            apply_txn(ks, revs, txn, &mut events).map(CommandResponse::Txn)
        }
        Some(command::Command::Compact(c)) => {
            if c.revision > revs.current {
                return Err(KvError::FutureRevision);
            }
            if c.revision <= revs.compact {
                return Err(KvError::Compacted {
                    compact_revision: revs.compact,
                });
            }
            revs.compact = c.revision;
            Ok(CommandResponse::Compact(CompactionResponse {
                revision: revs.current,
            }))
        }
        Some(command::Command::LeaseGrant(g)) => {
            if ks.lease(g.id)?.is_some() {
                return Err(KvError::LeaseExists);
            }
            ks.put_lease(&StoredLease {
                id: g.id,
                ttl: g.ttl,
            })?;
            Ok(CommandResponse::LeaseGrant(LeaseGrantResponse {
                revision: revs.current,
                id: g.id,
                ttl: g.ttl,
            }))
        }
        Some(command::Command::LeaseRevoke(r)) => {
            if ks.lease(r.id)?.is_none() {
                return Err(KvError::LeaseNotFound);
            }
            let mut ctx = WriteCtx::new(revs.current);
            for key in ks.lease_keys(r.id)? {
                if let Some(prev) = ks.latest(&key)? {
                    ctx.delete(ks, key, prev)?;
                }
            }
            ks.delete_lease(r.id)?;
            revs.current = ctx.revision_after();
            events = ctx.events;
            Ok(CommandResponse::LeaseRevoke(LeaseRevokeResponse {
                revision: revs.current,
            }))
        }
        None => Err(KvError::invalid("empty command")),
    });
    match response {
        Err(e @ (KvError::Storage(_) | KvError::Corrupt(_))) => Err(e),
        response => {
            if response.is_err() {
                events.clear();
            }
            Ok(Applied {
                revision: revs.current,
                response,
                events,
            })
        }
    }
}

/// The changes of one command: all at `begin + 1`, numbered by `sub`.
struct WriteCtx {
    begin: i64,
    events: Vec<Event>,
}

impl WriteCtx {
    fn new(begin: i64) -> Self {
        WriteCtx {
            begin,
            events: Vec::new(),
        }
    }

    fn write_rev(&self) -> i64 {
        self.begin + 1
    }

    /// The revision reads inside the command see: the new one once something changed.
    fn revision_after(&self) -> i64 {
        if self.events.is_empty() {
            self.begin
        } else {
            self.begin + 1
        }
    }

    fn put<K: KeyspaceWrite + ?Sized>(
        &mut self,
        ks: &mut K,
        p: &PutRequest,
    ) -> KvResult<PutResponse> {
        let prev = ks.latest(&p.key)?;
        let (value, lease) = match &prev {
            Some(prev) => (
                if p.ignore_value {
                    prev.value.clone()
                } else {
                    p.value.clone()
                },
                if p.ignore_lease { prev.lease } else { p.lease },
            ),
            None => (p.value.clone(), p.lease),
        };
        let v = StoredVersion {
            create_revision: prev
                .as_ref()
                .map_or(self.write_rev(), |p| p.create_revision),
            mod_revision: self.write_rev(),
            version: prev.as_ref().map_or(1, |p| p.version + 1),
            value,
            lease,
            sub: self.events.len() as i64,
            tombstone: false,
        };
        ks.write_version(&p.key, &v, prev.as_ref().map_or(0, |p| p.lease))?;
        let prev_kv = prev.map(|pv| to_key_value(p.key.clone(), &pv));
        self.events.push(Event {
            r#type: event::EventType::Put as i32,
            kv: Some(to_key_value(p.key.clone(), &v)),
            prev_kv: prev_kv.clone(),
        });
        Ok(PutResponse {
            revision: self.write_rev(),
            prev_kv: if p.prev_kv { prev_kv } else { None },
        })
    }

    fn delete<K: KeyspaceWrite + ?Sized>(
        &mut self,
        ks: &mut K,
        key: Bytes,
        prev: StoredVersion,
    ) -> KvResult<KeyValue> {
        let tomb = StoredVersion {
            mod_revision: self.write_rev(),
            sub: self.events.len() as i64,
            tombstone: true,
            ..Default::default()
        };
        ks.write_version(&key, &tomb, prev.lease)?;
        let prev_kv = to_key_value(key.clone(), &prev);
        self.events.push(Event {
            r#type: event::EventType::Delete as i32,
            kv: Some(KeyValue {
                key,
                mod_revision: self.write_rev(),
                ..Default::default()
            }),
            prev_kv: Some(prev_kv.clone()),
        });
        Ok(prev_kv)
    }

    fn delete_range<K: KeyspaceWrite + ?Sized>(
        &mut self,
        ks: &mut K,
        d: &DeleteRangeRequest,
    ) -> KvResult<DeleteRangeResponse> {
        let keys = KeyRange::from_request(&d.key, &d.range_end)?;
        let mut victims = Vec::new();
        ks.scan_latest(&keys, &mut |k, v| {
            victims.push((k, v));
            true
        })?;
        let deleted = victims.len() as i64;
        let mut prev_kvs = Vec::new();
        for (k, v) in victims {
            let prev = self.delete(ks, k, v)?;
            if d.prev_kv {
                prev_kvs.push(prev);
            }
        }
        Ok(DeleteRangeResponse {
            revision: self.write_rev(),
            deleted,
            prev_kvs,
        })
    }
}

/// Which branch each txn (and each nested txn on the chosen path) takes. All compares are
/// evaluated against the state before the txn's first write, as etcd does.
struct Path {
    succeeded: bool,
    nested: Vec<Path>,
}

fn apply_txn<K: KeyspaceWrite + ?Sized>(
    ks: &mut K,
    revs: &mut Revisions,
    txn: &TxnRequest,
    events: &mut Vec<Event>,
) -> KvResult<TxnResponse> {
    let path = decide(ks, txn)?;
    precheck(ks, revs, branch(txn, path.succeeded), &path)?;
    let mut ctx = WriteCtx::new(revs.current);
    let responses = exec(ks, revs, branch(txn, path.succeeded), &path, &mut ctx)?;
    revs.current = ctx.revision_after();
    *events = std::mem::take(&mut ctx.events);
    let mut resp = TxnResponse {
        revision: revs.current,
        succeeded: path.succeeded,
        responses,
    };
    stamp_revision(&mut resp.responses, revs.current);
    Ok(resp)
}

fn branch(txn: &TxnRequest, succeeded: bool) -> &[RequestOp] {
    if succeeded {
        &txn.success
    } else {
        &txn.failure
    }
}

fn decide<K: KeyspaceWrite + ?Sized>(ks: &K, txn: &TxnRequest) -> KvResult<Path> {
    let mut succeeded = true;
    for c in &txn.compare {
        if !compare_holds(ks, c)? {
            succeeded = false;
            break;
        }
    }
    let mut nested = Vec::new();
    for op in branch(txn, succeeded) {
        if let Some(request_op::Request::Txn(t)) = &op.request {
            nested.push(decide(ks, t)?);
        }
    }
    Ok(Path { succeeded, nested })
}

/// A compare over a range holds when it holds for every key in it; with no key, it is made
/// against a zero version (so "version = 0" means "absent"), except that a value compare fails.
fn compare_holds<K: KeyspaceWrite + ?Sized>(ks: &K, c: &Compare) -> KvResult<bool> {
    let keys = KeyRange::from_request(&c.key, &c.range_end)?;
    let mut any = false;
    let mut all = true;
    ks.scan_latest(&keys, &mut |_, v| {
        any = true;
        if !compare_one(c, &v) {
            all = false;
        }
        all
    })?;
    if !any {
        if c.target == compare::CompareTarget::Value as i32 {
            return Ok(false);
        }
        return Ok(compare_one(c, &StoredVersion::default()));
    }
    Ok(all)
}

fn compare_one(c: &Compare, v: &StoredVersion) -> bool {
    use compare::TargetUnion as T;
    use std::cmp::Ordering;
    let ord = match (compare::CompareTarget::try_from(c.target), &c.target_union) {
        (Ok(compare::CompareTarget::Value), Some(T::Value(x))) => v.value.as_ref().cmp(x.as_ref()),
        // No value given: compared with the empty value (as etcd).
        (Ok(compare::CompareTarget::Value), _) => v.value.as_ref().cmp(&[][..]),
        (Ok(compare::CompareTarget::Version), u) => v.version.cmp(&int_of(u, |t| match t {
            T::Version(x) => Some(*x),
            _ => None,
        })),
        (Ok(compare::CompareTarget::Create), u) => v.create_revision.cmp(&int_of(u, |t| match t {
            T::CreateRevision(x) => Some(*x),
            _ => None,
        })),
        (Ok(compare::CompareTarget::Mod), u) => v.mod_revision.cmp(&int_of(u, |t| match t {
            T::ModRevision(x) => Some(*x),
            _ => None,
        })),
        (Ok(compare::CompareTarget::Lease), u) => v.lease.cmp(&int_of(u, |t| match t {
            T::Lease(x) => Some(*x),
            _ => None,
        })),
        (Err(_), _) => return false,
    };
    match compare::CompareResult::try_from(c.result) {
        Ok(compare::CompareResult::Equal) => ord == Ordering::Equal,
        Ok(compare::CompareResult::Greater) => ord == Ordering::Greater,
        Ok(compare::CompareResult::Less) => ord == Ordering::Less,
        Ok(compare::CompareResult::NotEqual) => ord != Ordering::Equal,
        Err(_) => false,
    }
}

fn int_of(
    u: &Option<compare::TargetUnion>,
    pick: impl Fn(&compare::TargetUnion) -> Option<i64>,
) -> i64 {
    u.as_ref().and_then(pick).unwrap_or(0)
}

/// Checks, before anything is written, what would make the chosen path fail halfway: puts naming
/// a missing lease, `ignore_value`/`ignore_lease` on a missing key, ranges at a revision out of
/// reach.
fn precheck<K: KeyspaceWrite + ?Sized>(
    ks: &K,
    revs: &Revisions,
    ops: &[RequestOp],
    path: &Path,
) -> KvResult<()> {
    let mut nested = path.nested.iter();
    for op in ops {
        match &op.request {
            Some(request_op::Request::Put(p)) => {
                if (p.ignore_value || p.ignore_lease) && ks.latest(&p.key)?.is_none() {
                    return Err(KvError::KeyNotFound);
                }
                if !p.ignore_lease && p.lease != 0 && ks.lease(p.lease)?.is_none() {
                    return Err(KvError::LeaseNotFound);
                }
            }
            Some(request_op::Request::Range(r)) => {
                if r.revision > revs.current {
                    return Err(KvError::FutureRevision);
                }
                if r.revision != 0 && r.revision < revs.compact {
                    return Err(KvError::Compacted {
                        compact_revision: revs.compact,
                    });
                }
            }
            Some(request_op::Request::Txn(t)) => {
                let Some(sub) = nested.next() else {
                    return Err(KvError::Storage("txn path out of step".into()));
                };
                precheck(ks, revs, branch(t, sub.succeeded), sub)?;
            }
            Some(request_op::Request::DeleteRange(_)) | None => {}
        }
    }
    Ok(())
}

fn exec<K: KeyspaceWrite + ?Sized>(
    ks: &mut K,
    revs: &Revisions,
    ops: &[RequestOp],
    path: &Path,
    ctx: &mut WriteCtx,
) -> KvResult<Vec<ResponseOp>> {
    let mut nested = path.nested.iter();
    let mut out = Vec::with_capacity(ops.len());
    for op in ops {
        let resp = match &op.request {
            Some(request_op::Request::Range(r)) => {
                response_op::Response::Range(range(ks, ctx.revision_after(), revs.compact, r)?)
            }
            Some(request_op::Request::Put(p)) => response_op::Response::Put(ctx.put(ks, p)?),
            Some(request_op::Request::DeleteRange(d)) => {
                response_op::Response::DeleteRange(ctx.delete_range(ks, d)?)
            }
            Some(request_op::Request::Txn(t)) => {
                let Some(sub) = nested.next() else {
                    return Err(KvError::Storage("txn path out of step".into()));
                };
                let responses = exec(ks, revs, branch(t, sub.succeeded), sub, ctx)?;
                response_op::Response::Txn(TxnResponse {
                    revision: 0,
                    succeeded: sub.succeeded,
                    responses,
                })
            }
            None => return Err(KvError::invalid("empty operation in txn")),
        };
        out.push(ResponseOp {
            response: Some(resp),
        });
    }
    Ok(out)
}

/// Writes and nested txns report the txn's final revision.
fn stamp_revision(responses: &mut [ResponseOp], rev: i64) {
    for r in responses {
        match &mut r.response {
            Some(response_op::Response::Put(p)) => p.revision = rev,
            Some(response_op::Response::DeleteRange(d)) => d.revision = rev,
            Some(response_op::Response::Txn(t)) => {
                t.revision = rev;
                stamp_revision(&mut t.responses, rev);
            }
            Some(response_op::Response::Range(_)) | None => {}
        }
    }
}
