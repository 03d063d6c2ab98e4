//! Lease fencing: leases live on the raft leader and their revocation is fenced by its term, so
//! no replica (least of all a deposed leader with a stale clock) may expire a lease before its
//! deadline, a revoked lease must stay dead, and an abandoned lease must eventually go. For each
//! lease key incarnation (one `LeasePut`, Ok or Info, found in truth by its unique value) the
//! checker takes the next truth event on that key. If it is a delete, the deletion happened no
//! later than the earliest moment anyone saw it: the first watch message delivering that delete,
//! or the completion of the first Ok operation whose header revision is at or past it. A lease
//! is renewed no earlier than a keep-alive's invocation, so the deadline `invoke + ttl` of the
//! LeasePut and of every Ok keep-alive (ttl > 0) invoked before that moment is a lower bound on
//! a legitimate expiry: a delete seen earlier, with no Revoke invoked before it, is premature;
//! an Ok keep-alive (ttl > 0) invoked after the delete was seen renewed a dead lease. If the key
//! still holds that put at the end, the lease's latest possible deadline (completion + ttl of
//! the LeasePut and of every keep-alive) must not lie more than 10 s before the history's end.

use std::collections::HashMap;

use crate::history::{
    describe, Call, EventKind, KvEvent, Op, Outcome, Truth, Verdict, WatchLog, WatchMsg,
};

const CHECKER: &str = "lease-fencing";

/// How long past its latest deadline an abandoned lease may still hold its key.
const EXPIRY_GRACE_NS: u64 = 10_000_000_000;

fn secs(ns: u64) -> String {
    format!("{:.3}s", ns as f64 / 1e9)
}

fn ttl_ns(ttl: i64) -> u64 {
    u64::try_from(ttl)
        .unwrap_or(0)
        .saturating_mul(1_000_000_000)
}

fn fmt_event(e: &KvEvent) -> String {
    match e.kind {
        EventKind::Put => {
            format!(
                "truth rev {}: put {}={:?} lease={}",
                e.mod_rev, e.key, e.value, e.lease
            )
        }
        EventKind::Delete => format!("truth rev {}: delete {}", e.mod_rev, e.key),
    }
}

/// The earliest evidence that a revision was reached: (time, who saw it).
struct Sighting {
    time_ns: u64,
    by: String,
}

/// Upper bounds on when a revision existed, from Ok operations' header revisions.
struct RevBound<'o> {
    /// (rev, op) ascending by rev; `min_after[i]` is the earliest completion among `[i..]`.
    by_rev: Vec<(i64, &'o Op)>,
    min_after: Vec<&'o Op>,
}

impl<'o> RevBound<'o> {
    fn new(ops: &'o [Op]) -> RevBound<'o> {
        let mut by_rev: Vec<(i64, &Op)> = ops
            .iter()
            .filter(|o| o.outcome == Outcome::Ok && o.rev > 0 && !o.is_nemesis())
            .filter(|o| !matches!(o.call, Call::KeepAlive { .. } | Call::Admin { .. }))
            .map(|o| (o.rev, o))
            .collect();
        by_rev.sort_by_key(|(rev, _)| *rev);
        let mut min_after: Vec<&Op> = Vec::with_capacity(by_rev.len());
        for (_, op) in by_rev.iter().rev() {
            let best = match min_after.last() {
                Some(m) if m.complete_ns <= op.complete_ns => *m,
                _ => *op,
            };
            min_after.push(best);
        }
        min_after.reverse();
        RevBound { by_rev, min_after }
    }

    /// The first completion of an op that saw revision `rev` or later.
    fn first_at_or_after(&self, rev: i64) -> Option<Sighting> {
        let i = self.by_rev.partition_point(|(r, _)| *r < rev);
        self.min_after.get(i).map(|op| Sighting {
            time_ns: op.complete_ns,
            by: format!("op #{} (rev {}) completing", op.index, op.rev),
        })
    }
}

/// key → delete revision → first watch delivery of that delete.
fn watched_deletes(watches: &[WatchLog]) -> HashMap<&str, HashMap<i64, Sighting>> {
    let mut seen: HashMap<&str, HashMap<i64, Sighting>> = HashMap::new();
    for log in watches {
        for msg in &log.msgs {
            let WatchMsg::Events {
                time_ns, events, ..
            } = msg
            else {
                continue;
            };
            for e in events.iter().filter(|e| e.kind == EventKind::Delete) {
                let slot = seen.entry(&e.key).or_default();
                if slot.get(&e.mod_rev).is_none_or(|s| *time_ns < s.time_ns) {
                    let by = format!("watch {} delivering it", log.lane);
                    slot.insert(
                        e.mod_rev,
                        Sighting {
                            time_ns: *time_ns,
                            by,
                        },
                    );
                }
            }
        }
    }
    seen
}

/// One violation: a sentence and its excerpt.
struct Finding {
    what: String,
    lines: Vec<String>,
}

/// Checks lease expiry, revocation and renewal against truth and the watch logs.
pub fn check_leases(ops: &[Op], watches: &[WatchLog], truth: &Truth) -> Verdict {
    let watched = watched_deletes(watches);
    let bound = RevBound::new(ops);
    let end_ns = ops.iter().map(|o| o.complete_ns).max().unwrap_or(0);
    let mut events_of: HashMap<&str, Vec<&KvEvent>> = HashMap::new();
    for e in truth
        .events
        .iter()
        .filter(|e| e.mod_rev > truth.compact_rev)
    {
        events_of.entry(&e.key).or_default().push(e);
    }
    let mut keep_alives: HashMap<i64, Vec<&Op>> = HashMap::new();
    let mut revokes: HashMap<i64, Vec<&Op>> = HashMap::new();
    for op in ops {
        match &op.call {
            Call::KeepAlive { lease, .. } => keep_alives.entry(*lease).or_default().push(op),
            Call::Revoke { lease, .. } if op.outcome != Outcome::Fail => {
                revokes.entry(*lease).or_default().push(op)
            }
            _ => {}
        }
    }
    let (mut checked, mut deletions, mut unobserved, mut unlocated) = (0, 0, 0, 0);
    let mut found: Vec<Finding> = Vec::new();
    let puts = ops.iter().filter(|o| o.outcome != Outcome::Fail);
    for lp in puts {
        let Call::LeasePut {
            key,
            lease,
            ttl,
            value,
        } = &lp.call
        else {
            continue;
        };
        checked += 1;
        let events = events_of
            .get(key.as_str())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let is_ours = |e: &&KvEvent| {
            e.kind == EventKind::Put && e.value.trim().parse::<i64>().ok() == Some(*value)
        };
        // Where this incarnation starts: its put in truth, or the compacted base.
        let (lease_id, put_line, rest) = match events.iter().position(is_ours) {
            Some(i) => (events[i].lease, fmt_event(events[i]), &events[i + 1..]),
            None => match truth.base.get(key.as_str()) {
                Some(st) if st.value.trim().parse::<i64>().ok() == Some(*value) => (
                    st.lease,
                    format!("truth base: {key}={:?} lease={}", st.value, st.lease),
                    events,
                ),
                _ => {
                    unlocated += 1;
                    continue;
                }
            },
        };
        let lease_id = if lease_id != 0 { lease_id } else { *lease };
        if lease_id == 0 {
            unlocated += 1; // put without a lease: nothing to fence
            continue;
        }
        let kas = keep_alives.get(&lease_id).map(Vec::as_slice).unwrap_or(&[]);
        let revs = revokes.get(&lease_id).map(Vec::as_slice).unwrap_or(&[]);
        let renewals = || {
            kas.iter().filter_map(|k| match &k.call {
                Call::KeepAlive { ttl: Some(t), .. } if k.outcome == Outcome::Ok && *t > 0 => {
                    Some((*k, *t))
                }
                _ => None,
            })
        };
        match rest.first() {
            Some(del) if del.kind == EventKind::Delete => {
                deletions += 1;
                let by_watch = watched.get(key.as_str()).and_then(|m| m.get(&del.mod_rev));
                let by_op = bound.first_at_or_after(del.mod_rev);
                let seen = match (by_watch, by_op) {
                    (Some(w), Some(o)) if o.time_ns < w.time_ns => o,
                    (Some(w), _) => Sighting {
                        time_ns: w.time_ns,
                        by: w.by.clone(),
                    },
                    (None, Some(o)) => o,
                    (None, None) => {
                        unobserved += 1;
                        continue;
                    }
                };
                let t = seen.time_ns;
                let observed = format!(
                    "delete of {key} (rev {}) seen at {} by {}",
                    del.mod_rev,
                    secs(t),
                    seen.by
                );
                // (a) premature expiry: no revoke could have caused it, yet before the deadline.
                if !revs.iter().any(|r| r.invoke_ns <= t) {
                    let own = (lp.invoke_ns.saturating_add(ttl_ns(*ttl)), lp);
                    let deadline = renewals()
                        .filter(|(k, _)| k.invoke_ns < t)
                        .map(|(k, ttl)| (k.invoke_ns.saturating_add(ttl_ns(ttl)), k))
                        .fold(own, |best, d| if d.0 > best.0 { d } else { best });
                    if t < deadline.0 {
                        let mut lines = vec![describe(lp), put_line.clone(), fmt_event(del)];
                        if deadline.1.index != lp.index {
                            lines.push(describe(deadline.1));
                        }
                        lines.push(observed.clone());
                        lines.push(format!(
                            "deadline {} (invoke {} + ttl)",
                            secs(deadline.0),
                            secs(deadline.1.invoke_ns)
                        ));
                        found.push(Finding {
                            what: format!(
                                "lease {lease_id} of {key} expired early: its {observed}, {} \
                                 before its deadline {} (op #{} invoked at {} + ttl), and no \
                                 revoke was invoked before then",
                                secs(deadline.0 - t),
                                secs(deadline.0),
                                deadline.1.index,
                                secs(deadline.1.invoke_ns)
                            ),
                            lines,
                        });
                    }
                }
                // (b) a keep-alive renewed the lease after its key was seen deleted.
                if let Some((k, kttl)) = renewals().find(|(k, _)| k.invoke_ns > t) {
                    found.push(Finding {
                        what: format!(
                            "lease {lease_id} of {key} was renewed after it died: its \
                             {observed}, yet keep-alive #{} invoked at {} answered ttl {kttl}",
                            k.index,
                            secs(k.invoke_ns)
                        ),
                        lines: vec![
                            describe(lp),
                            put_line,
                            fmt_event(del),
                            observed,
                            describe(k),
                        ],
                    });
                }
            }
            Some(_) => {} // overwritten by a later put: this lease no longer holds the key
            None if lp.outcome == Outcome::Ok => {
                // (c) the key still holds this put at truth.revision: the lease must have expired
                // unless its latest possible deadline is recent.
                let max_ttl = renewals().map(|(_, t)| t).fold(*ttl, i64::max);
                let mut latest = (lp.complete_ns.saturating_add(ttl_ns(*ttl)), lp);
                for k in kas {
                    let kttl = match (&k.call, k.outcome) {
                        (Call::KeepAlive { ttl: Some(t), .. }, Outcome::Ok) if *t > 0 => *t,
                        (_, Outcome::Info) => max_ttl,
                        _ => continue,
                    };
                    let d = k.complete_ns.saturating_add(ttl_ns(kttl));
                    if d > latest.0 {
                        latest = (d, k);
                    }
                }
                if latest.0.saturating_add(EXPIRY_GRACE_NS) < end_ns {
                    let revoked = match revs.len() {
                        0 => String::new(),
                        n => format!(" ({n} ok/info revokes did not remove it either)"),
                    };
                    let mut lines = vec![describe(lp), put_line];
                    if latest.1.index != lp.index {
                        lines.push(describe(latest.1));
                    }
                    lines.push(format!(
                        "latest deadline {}, history ends {}, truth revision {}: {key} still present",
                        secs(latest.0),
                        secs(end_ns),
                        truth.revision
                    ));
                    found.push(Finding {
                        what: format!(
                            "lease {lease_id} of {key} never expired: its latest deadline was {} \
                             (op #{}), {} before the history's end at {}, yet {key} still holds \
                             it at truth revision {}{revoked}",
                            secs(latest.0),
                            latest.1.index,
                            secs(end_ns - latest.0),
                            secs(end_ns),
                            truth.revision
                        ),
                        lines,
                    });
                }
            }
            None => {}
        }
    }
    match found.first() {
        None => Verdict::valid(
            CHECKER,
            checked,
            format!(
                "{checked} lease puts: {deletions} deletions checked against their deadlines \
                 ({unobserved} never observed, so unchecked), {unlocated} puts not in truth; \
                 no premature expiry, no renewal of a dead lease, no lease outliving its \
                 deadline by more than {}",
                secs(EXPIRY_GRACE_NS)
            ),
        ),
        Some(first) => {
            let more = match found.len() {
                1 => String::new(),
                n => format!(" ({} more lease violations)", n - 1),
            };
            Verdict::invalid(
                CHECKER,
                checked,
                format!("{}{more}", first.what),
                first.lines.clone(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Validity;

    const S: f64 = 1e9;

    fn op(index: usize, call: Call, outcome: Outcome, t: (f64, f64), rev: i64) -> Op {
        Op {
            index,
            process: index as u64,
            lane: "lease-0".into(),
            node: "n1".into(),
            call,
            outcome,
            invoke_ns: (t.0 * S) as u64,
            complete_ns: (t.1 * S) as u64,
            rev,
            error: None,
        }
    }

    fn event(kind: EventKind, value: &str, rev: i64, lease: i64) -> KvEvent {
        KvEvent {
            kind,
            key: "l".into(),
            value: value.into(),
            mod_rev: rev,
            create_rev: rev,
            version: 1,
            lease,
            prev: None,
        }
    }

    fn lease_put(t: (f64, f64)) -> Op {
        let call = Call::LeasePut {
            key: "l".into(),
            lease: 7,
            ttl: 2,
            value: 100,
        };
        op(0, call, Outcome::Ok, t, 2)
    }

    fn keep_alive(index: usize, t: (f64, f64), ttl: i64) -> Op {
        let call = Call::KeepAlive {
            key: "l".into(),
            lease: 7,
            ttl: Some(ttl),
        };
        op(index, call, Outcome::Ok, t, 0)
    }

    /// A lease put at 1 s (ttl 2 s), kept alive at 2 s (ttl 2 s: deadline 4 s), deleted at
    /// rev 3, that delete delivered by a watch at `seen_s`.
    fn expiring(seen_s: f64) -> (Vec<Op>, Vec<WatchLog>, Truth) {
        let ops = vec![lease_put((1.0, 1.1)), keep_alive(1, (2.0, 2.1), 2)];
        let del = event(EventKind::Delete, "", 3, 0);
        let watch = WatchLog {
            lane: "watch-0".into(),
            prefix: String::new(),
            msgs: vec![WatchMsg::Events {
                time_ns: (seen_s * S) as u64,
                header_rev: 3,
                events: vec![del.clone()],
            }],
        };
        let truth = Truth {
            compact_rev: 0,
            base: Default::default(),
            events: vec![event(EventKind::Put, "100", 2, 7), del],
            revision: 3,
        };
        (ops, vec![watch], truth)
    }

    #[test]
    fn expiry_after_deadline_is_valid() {
        let (ops, watches, truth) = expiring(4.5);
        let v = check_leases(&ops, &watches, &truth);
        assert_eq!(v.valid, Validity::Valid, "{v:#?}");
        assert_eq!(v.checked, 1);
    }

    #[test]
    fn premature_expiry_is_invalid() {
        let (ops, watches, truth) = expiring(3.5);
        let v = check_leases(&ops, &watches, &truth);
        assert_eq!(v.valid, Validity::Invalid, "{v:#?}");
        assert!(v.explanation.contains("expired early"), "{}", v.explanation);
        assert!(v.explanation.contains("3.500s") && v.explanation.contains("4.000s"));
    }

    #[test]
    fn premature_expiry_bounded_by_an_ops_revision_is_invalid() {
        let (mut ops, _, truth) = expiring(9.0);
        // No watch saw it, but a read answering rev 3 completed at 3.2 s.
        let read = Call::Read {
            key: "other".into(),
            seen: None,
        };
        ops.push(op(2, read, Outcome::Ok, (3.0, 3.2), 3));
        let v = check_leases(&ops, &[], &truth);
        assert_eq!(v.valid, Validity::Invalid, "{v:#?}");
        assert!(v.explanation.contains("op #2"), "{}", v.explanation);
    }

    #[test]
    fn keep_alive_after_observed_deletion_is_invalid() {
        let (mut ops, watches, truth) = expiring(4.5);
        ops.push(keep_alive(2, (5.0, 5.1), 2));
        let v = check_leases(&ops, &watches, &truth);
        assert_eq!(v.valid, Validity::Invalid, "{v:#?}");
        assert!(
            v.explanation.contains("renewed after it died"),
            "{}",
            v.explanation
        );
    }

    #[test]
    fn never_expiring_lease_is_invalid() {
        let (mut ops, _, mut truth) = expiring(0.0);
        truth.events.pop();
        truth.revision = 2;
        let read = Call::Read {
            key: "other".into(),
            seen: None,
        };
        ops.push(op(2, read, Outcome::Ok, (29.0, 30.0), 2));
        let v = check_leases(&ops, &[], &truth);
        assert_eq!(v.valid, Validity::Invalid, "{v:#?}");
        assert!(v.explanation.contains("never expired"), "{}", v.explanation);
        // Within the grace period it is fine.
        ops[2].complete_ns = (12.0 * S) as u64;
        assert_eq!(check_leases(&ops, &[], &truth).valid, Validity::Valid);
    }

    #[test]
    fn explicit_revoke_before_deadline_is_valid() {
        let (mut ops, watches, truth) = expiring(2.6);
        ops.push(op(
            2,
            Call::Revoke {
                key: "l".into(),
                lease: 7,
            },
            Outcome::Ok,
            (2.5, 2.6),
            3,
        ));
        let v = check_leases(&ops, &watches, &truth);
        assert_eq!(v.valid, Validity::Valid, "{v:#?}");
    }
}
