//! The revision sweep: compares every client operation with the ground-truth log all replicas
//! agreed on (the way etcd's robustness suite uses the WAL), in polynomial time. One pass over
//! `Truth` replays the keyspace, indexes every key's versions by revision and every put value
//! (a register's value, or the values a put appended to a list), and attributes each put to the
//! one Ok/Info operation that wrote that unique value. Each operation is then looked up in that
//! index: Ok writes must sit at exactly their revision (`no-lost-writes`), every truth event must
//! be explained once (`no-phantom-writes`), Fail writes must be invisible
//! (`no-failed-writes-visible`), revisions must respect real time (`realtime-order`: ops sorted
//! by invocation against a running maximum of completed revisions, O(n log n)), and Ok reads must
//! equal the replayed state at their revision (`reads-match-truth`). Anything at or below
//! `compact_rev` is unknowable and counted as unchecked, never as failed.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::history::{describe, Call, EventKind, KvEvent, Mop, Op, Outcome, Truth, Verdict};

/// The most truth events an excerpt lists.
const EXCERPT_EVENTS: usize = 10;

/// key → value → items (the ops that wrote it, or the revisions where truth put it).
type ByValue<'a, T> = HashMap<&'a str, HashMap<i64, Vec<T>>>;

fn add<'a, T>(map: &mut ByValue<'a, T>, key: &'a str, value: i64, item: T) {
    map.entry(key)
        .or_default()
        .entry(value)
        .or_default()
        .push(item);
}

fn get<'m, T>(map: &'m ByValue<'_, T>, key: &str, value: i64) -> &'m [T] {
    map.get(key)
        .and_then(|m| m.get(&value))
        .map_or(&[], Vec::as_slice)
}

/// Runs the five sweep checkers; one verdict each, in a fixed order.
pub fn check_against_truth(ops: &[Op], truth: &Truth) -> Vec<Verdict> {
    let idx = TruthIndex::build(truth, ops);
    let phantom_ok = format!(
        "each of {} truth events after compact_rev {} is one ok/info write of its unique value \
         applied once, or the deletion of a leased key",
        idx.events_checked, truth.compact_rev
    );
    vec![
        lost_writes(ops, truth, &idx),
        verdict(
            "no-phantom-writes",
            idx.events_checked,
            &idx.phantoms,
            phantom_ok,
        ),
        failed_visible(ops, truth, &idx),
        realtime(ops, truth, &idx),
        reads(ops, truth, &idx),
    ]
}

/// One violation: a sentence and its excerpt.
struct Finding {
    what: String,
    lines: Vec<String>,
}

/// Valid with `ok`, or invalid showing the first finding (and how many more there are).
fn verdict(checker: &str, checked: usize, found: &[Finding], ok: String) -> Verdict {
    let Some(first) = found.first() else {
        return Verdict::valid(checker, checked, ok);
    };
    let more = match found.len() {
        1 => String::new(),
        n => format!(" (and {} more like it)", n - 1),
    };
    let what = format!("{}{more}", first.what);
    Verdict::invalid(checker, checked, what, first.lines.clone())
}

fn parse_value(text: &str) -> Option<i64> {
    text.trim().parse().ok()
}

/// A list-append key's value: "" is the empty list.
fn parse_list(text: &str) -> Option<Vec<i64>> {
    if text.trim().is_empty() {
        return Some(Vec::new());
    }
    text.split(',').map(parse_value).collect()
}

/// Where a value was applied: a revision, or 0 for the compacted base.
fn place(rev: i64) -> String {
    match rev {
        0 => "the compacted base".to_string(),
        r => format!("rev {r}"),
    }
}

fn fmt_event(e: &KvEvent) -> String {
    match e.kind {
        EventKind::Put => format!(
            "truth rev {}: put {}={:?} create={} ver={} lease={}",
            e.mod_rev, e.key, e.value, e.create_rev, e.version, e.lease
        ),
        EventKind::Delete => format!("truth rev {}: delete {}", e.mod_rev, e.key),
    }
}

/// The op followed by the truth events of `rev` (capped).
fn excerpt(op: &Op, truth: &Truth, rev: i64) -> Vec<String> {
    let events = truth.events_at(rev);
    let mut lines = vec![describe(op)];
    if events.is_empty() && rev > 0 {
        lines.push(format!("truth rev {rev}: no events"));
    }
    lines.extend(events.iter().take(EXCERPT_EVENTS).map(fmt_event));
    lines
}

/// The (key, value) pairs a write puts: its value, or each value a Txn appends, in order.
fn written(call: &Call) -> Vec<(&str, i64)> {
    match call {
        Call::Write { key, value }
        | Call::Cas { key, value, .. }
        | Call::LeasePut { key, value, .. } => vec![(key.as_str(), *value)],
        Call::Txn { mops } => mops
            .iter()
            .filter_map(|m| match m {
                Mop::Append { key, value } => Some((key.as_str(), *value)),
                Mop::Read { .. } => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The values a write puts on `key` (a Txn's appends to it, in order).
fn written_to(call: &Call, key: &str) -> Vec<i64> {
    let pairs = written(call).into_iter().filter(|(k, _)| *k == key);
    pairs.map(|(_, v)| v).collect()
}

/// A CAS's `succeeded` answer; `None` for other calls.
fn cas_answer(call: &Call) -> Option<Option<bool>> {
    match call {
        Call::Cas { succeeded, .. } => Some(*succeeded),
        _ => None,
    }
}

/// Whether the op may have put its values: Info, or Ok and not a CAS that answered false.
fn may_have_written(op: &Op) -> bool {
    match op.outcome {
        Outcome::Fail => false,
        Outcome::Info => true,
        Outcome::Ok => cas_answer(&op.call) != Some(Some(false)),
    }
}

/// An Ok op that certainly created a revision (and `op.rev` is that revision).
fn certain_put(op: &Op) -> bool {
    op.outcome == Outcome::Ok
        && !written(&op.call).is_empty()
        && cas_answer(&op.call).is_none_or(|s| s == Some(true))
}

/// One key's history: (revision from which it holds, `(value, mod_rev)` or `None` = absent).
type Versions<'t> = Vec<(i64, Option<(&'t str, i64)>)>;

/// Truth, indexed: each key's versions by revision and where each value was put.
#[derive(Default)]
struct TruthIndex<'t> {
    /// key → its versions, ascending.
    versions: HashMap<&'t str, Versions<'t>>,
    /// key → value → revisions where truth put (or appended) it; 0 = in the compacted base.
    applied: ByValue<'t, i64>,
    phantoms: Vec<Finding>,
    events_checked: usize,
}

impl<'t> TruthIndex<'t> {
    fn build(truth: &'t Truth, ops: &[Op]) -> TruthIndex<'t> {
        let mut writers: ByValue<&Op> = HashMap::new();
        let mut lists: HashSet<&str> = HashSet::new();
        for op in ops {
            for (key, value) in written(&op.call) {
                add(&mut writers, key, value, op);
                if matches!(op.call, Call::Txn { .. }) {
                    lists.insert(key);
                }
            }
        }
        let mut idx = TruthIndex::default();
        // key → (value, lease) now
        let mut current: HashMap<&str, (&str, i64)> = HashMap::new();
        for (key, st) in &truth.base {
            current.insert(key, (&st.value, st.lease));
            let version = (truth.compact_rev, Some((st.value.as_str(), st.mod_rev)));
            idx.versions.entry(key).or_default().push(version);
            let values = match lists.contains(key.as_str()) {
                true => parse_list(&st.value).unwrap_or_default(),
                false => parse_value(&st.value).into_iter().collect(),
            };
            for value in values {
                add(&mut idx.applied, key, value, 0);
            }
        }
        for e in truth
            .events
            .iter()
            .filter(|e| e.mod_rev > truth.compact_rev)
        {
            idx.events_checked += 1;
            let key = e.key.as_str();
            let prev = current.get(key).copied();
            if e.kind == EventKind::Delete {
                current.remove(key);
                idx.versions.entry(key).or_default().push((e.mod_rev, None));
                if prev.is_none_or(|(_, lease)| lease == 0) {
                    let why = if prev.is_none() {
                        "did not exist"
                    } else {
                        "had no lease"
                    };
                    idx.phantoms.push(Finding {
                        what: format!(
                            "truth deletes {key} at rev {} although it {why}: only a lease's \
                             revocation or expiry deletes keys",
                            e.mod_rev
                        ),
                        lines: vec![fmt_event(e)],
                    });
                }
                continue;
            }
            current.insert(key, (&e.value, e.lease));
            let version = (e.mod_rev, Some((e.value.as_str(), e.mod_rev)));
            idx.versions.entry(key).or_default().push(version);
            let prev_list = lists.contains(key).then(|| prev.map_or("", |p| p.0));
            idx.attribute_put(e, prev_list, &writers);
        }
        idx
    }

    /// Finds the op whose write explains put `e` (`prev_list`: the list before it, for list
    /// keys) and records the values it applied, reporting phantoms and duplicates.
    fn attribute_put(&mut self, e: &'t KvEvent, prev_list: Option<&str>, writers: &ByValue<&Op>) {
        let key = e.key.as_str();
        let values = match prev_list {
            Some(prev) => match (parse_list(prev), parse_list(&e.value)) {
                (Some(before), Some(after))
                    if after.len() > before.len() && after.starts_with(&before) =>
                {
                    Ok(after[before.len()..].to_vec())
                }
                _ => Err(format!("does not append to the list before it, {prev:?}")),
            },
            None => parse_value(&e.value)
                .map(|v| vec![v])
                .ok_or_else(|| "is not an integer".to_string()),
        };
        let values = match values {
            Ok(values) => values,
            Err(why) => {
                let what = format!("truth put {key}={:?} at rev {} {why}", e.value, e.mod_rev);
                let lines = vec![fmt_event(e)];
                return self.phantoms.push(Finding { what, lines });
            }
        };
        let candidates = get(writers, key, values[0]);
        let mut lines = vec![fmt_event(e)];
        lines.extend(candidates.first().map(|op| describe(op)));
        let explains = |op: &&Op| {
            may_have_written(op) && (prev_list.is_none() || written_to(&op.call, key) == values)
        };
        if !candidates.iter().any(explains) {
            let hint = match candidates.is_empty() {
                true => "",
                false => " (the op below wrote it, but failed or wrote a different list)",
            };
            let what = format!(
                "truth put of {key} at rev {} writes {values:?}, which no ok or info operation \
                 wrote as one write{hint}",
                e.mod_rev
            );
            self.phantoms.push(Finding {
                what,
                lines: lines.clone(),
            });
        }
        let mut duplicate = None;
        for &value in &values {
            if let Some(&first) = get(&self.applied, key, value).first() {
                duplicate.get_or_insert((value, first));
            }
            add(&mut self.applied, key, value, e.mod_rev);
        }
        if let Some((value, first)) = duplicate {
            let what = format!(
                "value {value} of {key} is applied twice: at {} and again at rev {} (a \
                 duplicated apply)",
                place(first),
                e.mod_rev
            );
            self.phantoms.push(Finding { what, lines });
        }
    }

    /// `(value, mod_rev)` of `key` at `rev` (`None` = absent), for `rev >= compact_rev`.
    fn at(&self, key: &str, rev: i64) -> Option<(&'t str, i64)> {
        let list = self.versions.get(key)?;
        let n = list.partition_point(|(r, _)| *r <= rev);
        n.checked_sub(1).and_then(|i| list[i].1)
    }

    /// The first revision where truth holds any value of write `op` (0 = compacted base).
    fn applied_rev(&self, op: &Op) -> Option<i64> {
        let pairs = written(&op.call);
        pairs
            .iter()
            .find_map(|&(key, value)| get(&self.applied, key, value).first().copied())
    }
}

fn lost_writes(ops: &[Op], truth: &Truth, idx: &TruthIndex<'_>) -> Verdict {
    let (mut checked, mut unchecked, mut found) = (0, 0, Vec::new());
    for op in ops.iter().filter(|o| o.outcome == Outcome::Ok) {
        if cas_answer(&op.call) == Some(Some(false)) {
            checked += 1;
            if let Some(rev) = idx.applied_rev(op) {
                let what = format!(
                    "a CAS that answered succeeded=false has its value in truth at {}",
                    place(rev)
                );
                found.push(Finding {
                    what,
                    lines: excerpt(op, truth, rev),
                });
            }
            continue;
        }
        if !certain_put(op) {
            continue;
        }
        checked += 1;
        if op.rev <= truth.compact_rev.max(0) {
            unchecked += 1;
            continue;
        }
        let events = truth.events_at(op.rev);
        let is_txn = matches!(op.call, Call::Txn { .. });
        let keys: BTreeSet<&str> = written(&op.call).into_iter().map(|(k, _)| k).collect();
        let missing = keys.into_iter().find(|&key| {
            let want = written_to(&op.call, key);
            let put = events
                .iter()
                .find(|e| e.kind == EventKind::Put && e.key == key);
            let Some(put) = put else { return true };
            let got = parse_list(&put.value).unwrap_or_default();
            let lease_ok = match &op.call {
                Call::LeasePut { lease, .. } => *lease == 0 || put.lease == *lease,
                _ => true,
            };
            !lease_ok
                || !(if is_txn {
                    got.ends_with(&want)
                } else {
                    got == want
                })
        });
        if let Some(key) = missing {
            let first = idx.applied_rev(op);
            let first = first.map_or("is nowhere in truth".into(), |r| {
                format!("is at {}", place(r))
            });
            let what = format!(
                "an ok {} of {key} committed at rev {}, but truth's rev {} does not hold its put \
                 of {:?} (that value {first})",
                op.call.f(),
                op.rev,
                op.rev,
                written_to(&op.call, key)
            );
            found.push(Finding {
                what,
                lines: excerpt(op, truth, op.rev),
            });
        }
    }
    let ok = format!(
        "{} ok writes are in truth at their revisions ({unchecked} at or below compact_rev \
         unchecked) and no CAS that answered false applied",
        checked - unchecked
    );
    verdict("no-lost-writes", checked, &found, ok)
}

fn failed_visible(ops: &[Op], truth: &Truth, idx: &TruthIndex<'_>) -> Verdict {
    let (mut checked, mut found) = (0, Vec::new());
    for op in ops.iter().filter(|o| o.outcome == Outcome::Fail) {
        if written(&op.call).is_empty() {
            continue;
        }
        checked += 1;
        if let Some(rev) = idx.applied_rev(op) {
            let what = format!(
                "a failed {}'s value is visible in truth at {}",
                op.call.f(),
                place(rev)
            );
            found.push(Finding {
                what,
                lines: excerpt(op, truth, rev),
            });
        }
    }
    let ok = format!("none of {checked} failed writes left a value in truth");
    verdict("no-failed-writes-visible", checked, &found, ok)
}

fn realtime(ops: &[Op], truth: &Truth, idx: &TruthIndex<'_>) -> Verdict {
    // Ok ops whose header revision orders them (keep-alives answer from the lease leader).
    let mut done: Vec<&Op> = ops
        .iter()
        .filter(|o| o.outcome == Outcome::Ok && o.rev > 0 && !o.is_nemesis())
        .filter(|o| !matches!(o.call, Call::KeepAlive { .. } | Call::Admin { .. }))
        .collect();
    done.sort_by_key(|o| o.complete_ns);
    // (op, revision it read or took effect at, whether that revision is new: a put's)
    let mut probes: Vec<(&Op, i64, bool)> =
        done.iter().map(|o| (*o, o.rev, certain_put(o))).collect();
    for op in ops.iter().filter(|o| o.outcome == Outcome::Info) {
        if let Some(rev) = idx.applied_rev(op).filter(|r| *r > truth.compact_rev) {
            probes.push((op, rev, true));
        }
    }
    probes.sort_by_key(|(o, _, _)| o.invoke_ns);
    let (mut next, mut max, mut found) = (0, None::<&Op>, Vec::new());
    for &(b, rev, new) in &probes {
        while let Some(a) = done.get(next).filter(|a| a.complete_ns < b.invoke_ns) {
            if max.is_none_or(|m| a.rev > m.rev) {
                max = Some(a);
            }
            next += 1;
        }
        let Some(a) = max.filter(|a| rev < a.rev || (new && rev == a.rev)) else {
            continue;
        };
        let did = match b.outcome {
            Outcome::Info => "took effect",
            _ => "answered",
        };
        let what = format!(
            "real-time order broken: #{} completed at {:.3}s with rev {}, then #{} was invoked \
             at {:.3}s, yet {did} at rev {rev} (must be {} {})",
            a.index,
            a.complete_ns as f64 / 1e9,
            a.rev,
            b.index,
            b.invoke_ns as f64 / 1e9,
            if new { ">" } else { ">=" },
            a.rev
        );
        let mut lines = vec![describe(a)];
        lines.extend(excerpt(b, truth, rev));
        found.push(Finding { what, lines });
    }
    let ok = format!(
        "{} ops (ok with a revision, and info writes found in truth) are at or above every \
         revision completed before their invocation (puts strictly above)",
        probes.len()
    );
    verdict("realtime-order", probes.len(), &found, ok)
}

fn reads(ops: &[Op], truth: &Truth, idx: &TruthIndex<'_>) -> Verdict {
    let (mut checked, mut unchecked, mut found) = (0, 0, Vec::new());
    for op in ops.iter().filter(|o| o.outcome == Outcome::Ok) {
        // The revision its reads (or its compare) saw: a write txn's reads, and a successful
        // CAS's compare, happen just before its own revision.
        let read_rev = match &op.call {
            Call::Read { .. } => op.rev,
            Call::Cas {
                succeeded: Some(s), ..
            } => op.rev - i64::from(*s),
            Call::Txn { .. } => op.rev - i64::from(certain_put(op)),
            _ => continue,
        };
        checked += 1;
        let wrong = if op.rev > truth.revision {
            Some(format!(
                "read from the future: rev {} is past truth's last revision {}",
                op.rev, truth.revision
            ))
        } else if op.rev <= 0 || read_rev <= truth.compact_rev {
            unchecked += 1;
            None
        } else {
            read_mismatch(&op.call, idx, read_rev)
        };
        if let Some(what) = wrong {
            let what = format!("#{} {}: {what}", op.index, op.call.f());
            found.push(Finding {
                what,
                lines: excerpt(op, truth, read_rev),
            });
        }
    }
    let ok = format!(
        "{} ok reads, txn reads and CAS compares equal truth at their revision ({unchecked} at \
         or below compact_rev, or without a revision, unchecked)",
        checked - unchecked
    );
    verdict("reads-match-truth", checked, &found, ok)
}

/// What an Ok read-like call got wrong at `rev`, if anything.
fn read_mismatch(call: &Call, idx: &TruthIndex<'_>, rev: i64) -> Option<String> {
    match call {
        Call::Read { key, seen } => {
            let want = idx.at(key, rev);
            let same = match (seen, want) {
                (None, None) => true,
                (Some(s), Some((v, m))) => parse_value(v) == Some(s.value) && m == s.mod_rev,
                _ => false,
            };
            let truth_has = want.map_or("absent".to_string(), |(v, m)| format!("{v:?}@{m}"));
            (!same).then(|| format!("{key} at rev {rev} read {seen:?}, truth has {truth_has}"))
        }
        Call::Cas {
            key,
            expect_mod_rev,
            succeeded,
            ..
        } => {
            let actual = idx.at(key, rev).map_or(0, |(_, m)| m);
            ((actual == *expect_mod_rev) != (*succeeded == Some(true))).then(|| {
                format!(
                    "compare of {key} against mod_rev {expect_mod_rev} answered {succeeded:?}, \
                     but at rev {rev} its mod_rev is {actual}"
                )
            })
        }
        Call::Txn { mops } => {
            // Reads see the state before the txn; an Elle-style read after the txn's own
            // append to that key may also include those appends.
            let mut own: HashMap<&str, Vec<i64>> = HashMap::new();
            mops.iter().find_map(|mop| match mop {
                Mop::Append { key, value } => {
                    own.entry(key).or_default().push(*value);
                    None
                }
                Mop::Read { key, list } => {
                    let list = list.as_ref()?;
                    let before = idx
                        .at(key, rev)
                        .map_or(Some(Vec::new()), |(v, _)| parse_list(v));
                    let mut with_own = before.clone().unwrap_or_default();
                    with_own.extend(own.get(key.as_str()).into_iter().flatten());
                    (before.as_ref() != Some(list) && with_own != *list)
                        .then(|| format!("{key} at rev {rev} read {list:?}, truth has {before:?}"))
                }
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Seen, Validity};
    use std::collections::BTreeMap;

    fn op(index: usize, call: Call, outcome: Outcome, t: (f64, f64), rev: i64) -> Op {
        Op {
            index,
            process: index as u64,
            lane: "test".into(),
            node: "n1".into(),
            call,
            outcome,
            invoke_ns: (t.0 * 1e9) as u64,
            complete_ns: (t.1 * 1e9) as u64,
            rev,
            error: None,
        }
    }

    fn put(key: &str, value: &str, rev: i64, lease: i64) -> KvEvent {
        KvEvent {
            kind: EventKind::Put,
            key: key.into(),
            value: value.into(),
            mod_rev: rev,
            create_rev: rev,
            version: 1,
            lease,
            prev: None,
        }
    }

    fn del(key: &str, rev: i64) -> KvEvent {
        KvEvent {
            kind: EventKind::Delete,
            value: String::new(),
            lease: 0,
            ..put(key, "", rev, 0)
        }
    }

    fn write(i: usize, v: i64, outcome: Outcome, t: (f64, f64), rev: i64) -> Op {
        op(
            i,
            Call::Write {
                key: "x".into(),
                value: v,
            },
            outcome,
            t,
            rev,
        )
    }

    fn read(i: usize, seen: Option<(i64, i64)>, t: (f64, f64), rev: i64) -> Op {
        let seen = seen.map(|(value, mod_rev)| Seen { value, mod_rev });
        op(
            i,
            Call::Read {
                key: "x".into(),
                seen,
            },
            Outcome::Ok,
            t,
            rev,
        )
    }

    /// A valid history touching every kind of op, and its truth.
    fn valid() -> (Vec<Op>, Truth) {
        let append = vec![
            Mop::Read {
                key: "a".into(),
                list: Some(vec![]),
            },
            Mop::Append {
                key: "a".into(),
                value: 10,
            },
        ];
        let ops = vec![
            write(0, 1, Outcome::Ok, (0.0, 1.0), 2),
            read(1, Some((1, 2)), (1.5, 2.0), 2),
            op(
                2,
                Call::Cas {
                    key: "x".into(),
                    expect_mod_rev: 2,
                    value: 3,
                    succeeded: Some(true),
                },
                Outcome::Ok,
                (2.0, 3.0),
                3,
            ),
            op(3, Call::Txn { mops: append }, Outcome::Ok, (3.0, 4.0), 4),
            op(
                4,
                Call::Txn {
                    mops: vec![Mop::Read {
                        key: "a".into(),
                        list: Some(vec![10]),
                    }],
                },
                Outcome::Ok,
                (4.5, 5.0),
                4,
            ),
            op(
                5,
                Call::LeasePut {
                    key: "l".into(),
                    lease: 7,
                    ttl: 5,
                    value: 100,
                },
                Outcome::Ok,
                (5.0, 5.5),
                5,
            ),
            op(
                6,
                Call::Revoke {
                    key: "l".into(),
                    lease: 7,
                },
                Outcome::Ok,
                (5.5, 6.0),
                6,
            ),
            write(7, 5, Outcome::Info, (6.0, 7.0), 0), // present: applied at rev 7
            write(8, 6, Outcome::Info, (6.0, 7.0), 0), // absent: never applied
            write(9, 8, Outcome::Fail, (6.0, 6.5), 0),
            op(
                10,
                Call::Cas {
                    key: "x".into(),
                    expect_mod_rev: 2,
                    value: 9,
                    succeeded: Some(false),
                },
                Outcome::Ok,
                (8.0, 8.5),
                7,
            ),
            read(11, Some((5, 7)), (9.0, 9.5), 7),
        ];
        let events = vec![
            put("x", "1", 2, 0),
            put("x", "3", 3, 0),
            put("a", "10", 4, 0),
            put("l", "100", 5, 7),
            del("l", 6),
            put("x", "5", 7, 0),
        ];
        (
            ops,
            Truth {
                compact_rev: 0,
                base: BTreeMap::new(),
                events,
                revision: 7,
            },
        )
    }

    fn verdict(ops: &[Op], truth: &Truth, checker: &str) -> Verdict {
        let all = check_against_truth(ops, truth);
        assert_eq!(all.len(), 5);
        all.into_iter().find(|v| v.checker == checker).unwrap()
    }

    fn assert_only_invalid(ops: &[Op], truth: &Truth, checker: &str) {
        for v in check_against_truth(ops, truth) {
            let expect = if v.checker == checker {
                Validity::Invalid
            } else {
                Validity::Valid
            };
            assert_eq!(v.valid, expect, "{v:#?}");
            if v.valid == Validity::Invalid {
                assert!(!v.excerpt.is_empty() && v.excerpt.len() <= 15, "{v:#?}");
            }
        }
    }

    #[test]
    fn valid_history_passes_every_checker() {
        let (ops, truth) = valid();
        for v in check_against_truth(&ops, &truth) {
            assert_eq!(v.valid, Validity::Valid, "{v:#?}");
            assert!(v.checked > 0, "{v:#?}");
        }
    }

    #[test]
    fn info_writes_present_and_absent_are_both_valid() {
        let (ops, truth) = valid();
        let index = TruthIndex::build(&truth, &ops);
        assert_eq!(index.applied_rev(&ops[7]), Some(7));
        assert_eq!(index.applied_rev(&ops[8]), None);
        assert_eq!(
            verdict(&ops, &truth, "no-phantom-writes").valid,
            Validity::Valid
        );
        assert_eq!(
            verdict(&ops, &truth, "realtime-order").valid,
            Validity::Valid
        );
    }

    #[test]
    fn lost_write_is_invalid() {
        let (mut ops, mut truth) = valid();
        // Rev 3 holds 77 (an info write's value) instead of the ok CAS's 3.
        truth.events[1].value = "77".into();
        ops.push(write(12, 77, Outcome::Info, (0.5, 0.6), 0));
        assert_only_invalid(&ops, &truth, "no-lost-writes");
        let v = verdict(&ops, &truth, "no-lost-writes");
        assert!(
            v.explanation.contains("cas of x") && v.explanation.contains("[3]"),
            "{}",
            v.explanation
        );
    }

    #[test]
    fn failed_cas_applied_is_a_lost_write_violation() {
        let (ops, mut truth) = valid();
        truth.events.push(put("x", "9", 8, 0));
        truth.revision = 8;
        assert_eq!(
            verdict(&ops, &truth, "no-lost-writes").valid,
            Validity::Invalid
        );
    }

    #[test]
    fn phantom_value_is_invalid() {
        let (ops, mut truth) = valid();
        truth.events.push(put("x", "999", 8, 0));
        truth.revision = 8;
        assert_only_invalid(&ops, &truth, "no-phantom-writes");
    }

    #[test]
    fn delete_without_lease_is_phantom() {
        let (ops, mut truth) = valid();
        truth.events.push(del("x", 8));
        truth.revision = 8;
        assert_only_invalid(&ops, &truth, "no-phantom-writes");
    }

    #[test]
    fn duplicated_apply_is_invalid() {
        let (ops, mut truth) = valid();
        truth.events.push(put("x", "1", 8, 0));
        truth.events.push(put("a", "10,10", 9, 0));
        truth.revision = 9;
        assert_only_invalid(&ops, &truth, "no-phantom-writes");
        let v = verdict(&ops, &truth, "no-phantom-writes");
        assert!(
            v.explanation.contains("twice") && v.explanation.contains("1 more"),
            "{}",
            v.explanation
        );
    }

    #[test]
    fn failed_write_visible_is_invalid() {
        let (ops, mut truth) = valid();
        truth.events.push(put("x", "8", 8, 0));
        truth.revision = 8;
        assert_eq!(
            verdict(&ops, &truth, "no-failed-writes-visible").valid,
            Validity::Invalid
        );
        // A failed write explains nothing, so it is a phantom too.
        assert_eq!(
            verdict(&ops, &truth, "no-phantom-writes").valid,
            Validity::Invalid
        );
        assert_eq!(
            verdict(&ops, &truth, "no-lost-writes").valid,
            Validity::Valid
        );
    }

    #[test]
    fn stale_read_is_invalid() {
        let (mut ops, truth) = valid();
        // At rev 3 the register holds 3 (mod_rev 3); the read returns the older 1.
        ops.push(read(12, Some((1, 2)), (3.5, 3.6), 3));
        assert_only_invalid(&ops, &truth, "reads-match-truth");
    }

    #[test]
    fn stale_txn_read_and_future_read_are_invalid() {
        let (mut ops, truth) = valid();
        let mops = vec![Mop::Read {
            key: "a".into(),
            list: Some(vec![]),
        }];
        ops.push(op(12, Call::Txn { mops }, Outcome::Ok, (4.5, 5.0), 4));
        assert_only_invalid(&ops, &truth, "reads-match-truth");
        let (mut ops, truth) = valid();
        ops.push(read(12, Some((5, 7)), (9.6, 9.7), 9));
        assert_only_invalid(&ops, &truth, "reads-match-truth");
    }

    #[test]
    fn realtime_violation_is_invalid() {
        let (mut ops, truth) = valid();
        // Invoked after the CAS (rev 3) completed, yet answers at rev 2 (consistent with truth).
        ops.push(read(12, Some((1, 2)), (3.5, 3.6), 2));
        assert_only_invalid(&ops, &truth, "realtime-order");
    }

    #[test]
    fn info_write_applied_before_invocation_is_invalid() {
        let (mut ops, truth) = valid();
        // The info write of 5 took effect at rev 7, but rev 7 was read before it was invoked.
        ops[7].invoke_ns = 10_000_000_000;
        ops[7].complete_ns = 11_000_000_000;
        assert_only_invalid(&ops, &truth, "realtime-order");
    }

    #[test]
    fn compacted_revisions_are_unchecked() {
        let (ops, mut truth) = valid();
        truth.compact_rev = 3;
        let x = &truth.events[1];
        let base = crate::history::KvState {
            value: x.value.clone(),
            mod_rev: 3,
            create_rev: 2,
            version: 2,
            lease: 0,
        };
        truth.base.insert("x".into(), base);
        truth.events.drain(..2);
        for v in check_against_truth(&ops, &truth) {
            assert_eq!(v.valid, Validity::Valid, "{v:#?}");
        }
        let reads = verdict(&ops, &truth, "reads-match-truth");
        assert!(
            reads.explanation.contains("(3 at or below"),
            "{}",
            reads.explanation
        );
    }
}
