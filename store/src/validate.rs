//! Checks a command before it is proposed or applied: everything that can be decided from the
//! request alone (shape, enum values, sizes, duplicate keys). Apply runs the same checks again, so a
//! malformed command that reaches the log still changes nothing.

use std::collections::HashSet;

use bytes::Bytes;
use capstan_proto::store::{
    command, compare, range_request, request_op, watch_request, Command, Compare, RangeRequest,
    RequestOp, TxnRequest, WatchRequest,
};
use prost::Message;

use crate::error::{KvError, KvResult};
use crate::key_range::KeyRange;

/// Largest encoded request accepted (etcd's default `--max-request-bytes`, 1.5 MiB).
pub const MAX_REQUEST_BYTES: usize = 1536 * 1024;
/// Most compares or operations in one txn branch (etcd's default `--max-txn-ops`).
pub const MAX_TXN_OPS: usize = 128;
/// Deepest nesting of txns; deeper ones are refused before anything recurses over them.
pub const MAX_TXN_DEPTH: usize = 32;
/// Longest lease TTL in seconds (etcd's `MaxLeaseTTL`).
pub const MAX_LEASE_TTL: i64 = 9_000_000_000;

/// Validates a command. `Ok` means apply can run it; its outcome may still be an error that
/// depends on state (unknown lease, compacted revision).
pub fn validate_command(cmd: &Command) -> KvResult<()> {
    // First, without recursion: everything below (sizes, shapes) recurses over nested txns.
    if let Some(command::Command::Txn(txn)) = &cmd.command {
        if nested_too_deep(txn) {
            return Err(KvError::invalid("txn nested too deeply"));
        }
    }
    if cmd.encoded_len() > MAX_REQUEST_BYTES {
        return Err(KvError::RequestTooLarge);
    }
    match &cmd.command {
        None => Err(KvError::invalid("empty command")),
        Some(command::Command::Txn(txn)) => validate_txn(txn),
        Some(command::Command::Compact(c)) => {
            if c.revision < 0 {
                return Err(KvError::invalid("negative revision"));
            }
            Ok(())
        }
        Some(command::Command::LeaseGrant(g)) => {
            if g.id <= 0 {
                return Err(KvError::invalid("lease id must be positive"));
            }
            if g.ttl > MAX_LEASE_TTL {
                return Err(KvError::LeaseTtlTooLarge);
            }
            if g.ttl <= 0 {
                return Err(KvError::invalid("lease TTL must be positive"));
            }
            Ok(())
        }
        Some(command::Command::LeaseRevoke(r)) => {
            if r.id <= 0 {
                return Err(KvError::LeaseNotFound);
            }
            Ok(())
        }
    }
}

/// Whether any txn inside `txn` is nested deeper than [`MAX_TXN_DEPTH`] (an explicit stack, so
/// a hostile request cannot exhaust the thread's stack).
fn nested_too_deep(txn: &TxnRequest) -> bool {
    let mut stack = vec![(txn, 0usize)];
    while let Some((t, depth)) = stack.pop() {
        if depth > MAX_TXN_DEPTH {
            return true;
        }
        for op in t.success.iter().chain(&t.failure) {
            if let Some(request_op::Request::Txn(inner)) = &op.request {
                stack.push((inner, depth + 1));
            }
        }
    }
    false
}

/// Validates a top-level txn whose nesting is known to be bounded: shape of every op and
/// compare, and no key touched twice per branch.
fn validate_txn(txn: &TxnRequest) -> KvResult<()> {
    validate_txn_shape(txn)?;
    check_branch(&txn.success)?;
    check_branch(&txn.failure)?;
    Ok(())
}

fn validate_txn_shape(txn: &TxnRequest) -> KvResult<()> {
    if txn.compare.len() > MAX_TXN_OPS
        || txn.success.len() > MAX_TXN_OPS
        || txn.failure.len() > MAX_TXN_OPS
    {
        return Err(KvError::TooManyOps);
    }
    for c in &txn.compare {
        validate_compare(c)?;
    }
    for op in txn.success.iter().chain(&txn.failure) {
        validate_op(op)?;
    }
    Ok(())
}

fn validate_compare(c: &Compare) -> KvResult<()> {
    KeyRange::from_request(&c.key, &c.range_end)?;
    compare::CompareResult::try_from(c.result)
        .map_err(|_| KvError::invalid("unknown compare result"))?;
    compare::CompareTarget::try_from(c.target)
        .map_err(|_| KvError::invalid("unknown compare target"))?;
    Ok(())
}

fn validate_op(op: &RequestOp) -> KvResult<()> {
    match &op.request {
        None => Err(KvError::invalid("empty operation in txn")),
        Some(request_op::Request::Range(r)) => validate_range(r),
        Some(request_op::Request::Put(p)) => {
            if p.key.is_empty() {
                return Err(KvError::invalid("key is not provided"));
            }
            if p.ignore_value && !p.value.is_empty() {
                return Err(KvError::invalid("value is provided"));
            }
            if p.ignore_lease && p.lease != 0 {
                return Err(KvError::invalid("lease is provided"));
            }
            if p.lease < 0 {
                return Err(KvError::LeaseNotFound);
            }
            Ok(())
        }
        Some(request_op::Request::DeleteRange(d)) => {
            KeyRange::from_request(&d.key, &d.range_end).map(|_| ())
        }
        Some(request_op::Request::Txn(t)) => validate_txn_shape(t),
    }
}

/// Validates a range request's shape (revision bounds are checked against the state later).
pub fn validate_range(r: &RangeRequest) -> KvResult<()> {
    KeyRange::from_request(&r.key, &r.range_end)?;
    if r.revision < 0 {
        return Err(KvError::invalid("negative revision"));
    }
    if r.limit < 0 {
        return Err(KvError::invalid("negative limit"));
    }
    range_request::SortOrder::try_from(r.sort_order)
        .map_err(|_| KvError::invalid("unknown sort order"))?;
    range_request::SortTarget::try_from(r.sort_target)
        .map_err(|_| KvError::invalid("unknown sort target"))?;
    Ok(())
}

/// Validates a watch request's shape.
pub fn validate_watch(w: &WatchRequest) -> KvResult<KeyRange> {
    let range = KeyRange::from_request(&w.key, &w.range_end)?;
    if range.is_empty() {
        return Err(KvError::EmptyWatchRange);
    }
    if w.start_revision < 0 {
        return Err(KvError::invalid("negative revision"));
    }
    for f in &w.filters {
        watch_request::FilterType::try_from(*f)
            .map_err(|_| KvError::invalid("unknown watch filter"))?;
    }
    Ok(range)
}

/// The keys one branch of a txn writes: puts and delete ranges, nested txns included. Two puts of
/// one key, or a put inside a deleted range, make the txn ambiguous and are refused (as etcd does;
/// a put in a nested txn's success branch and the same key in its failure branch is fine, since
/// only one of them runs).
fn check_branch(ops: &[RequestOp]) -> KvResult<(HashSet<Bytes>, Vec<KeyRange>)> {
    let mut dels = Vec::new();
    for op in ops {
        if let Some(request_op::Request::DeleteRange(d)) = &op.request {
            dels.push(KeyRange::from_request(&d.key, &d.range_end)?);
        }
    }
    let deleted = |dels: &[KeyRange], k: &Bytes| dels.iter().any(|d| d.contains(k));
    let mut puts: HashSet<Bytes> = HashSet::new();
    // What each nested txn may write (either branch), to compare siblings both ways.
    let mut nested: Vec<(HashSet<Bytes>, Vec<KeyRange>)> = Vec::new();
    for op in ops {
        let Some(request_op::Request::Txn(t)) = &op.request else {
            continue;
        };
        let (puts_then, dels_then) = check_branch(&t.success)?;
        let (puts_else, dels_else) = check_branch(&t.failure)?;
        nested.push((
            puts_then.union(&puts_else).cloned().collect(),
            dels_then.iter().chain(&dels_else).cloned().collect(),
        ));
        for k in &puts_then {
            if puts.contains(k) || deleted(&dels, k) {
                return Err(KvError::DuplicateKey);
            }
        }
        puts.extend(puts_then.iter().cloned());
        for k in puts_else {
            if (puts.contains(&k) && !puts_then.contains(&k)) || deleted(&dels, &k) {
                return Err(KvError::DuplicateKey);
            }
            puts.insert(k);
        }
        dels.extend(dels_then);
        dels.extend(dels_else);
    }
    // A put in one nested txn and a delete of the same key in a later sibling would change the
    // key twice at one revision (etcd tells them apart by sub-revision; we keep one version per
    // key and revision), so it is refused too.
    for (i, (p, _)) in nested.iter().enumerate() {
        for (j, (_, d)) in nested.iter().enumerate() {
            if i != j && p.iter().any(|k| deleted(d, k)) {
                return Err(KvError::DuplicateKey);
            }
        }
    }
    for op in ops {
        let Some(request_op::Request::Put(p)) = &op.request else {
            continue;
        };
        if puts.contains(&p.key) || deleted(&dels, &p.key) {
            return Err(KvError::DuplicateKey);
        }
        puts.insert(p.key.clone());
    }
    Ok((puts, dels))
}
