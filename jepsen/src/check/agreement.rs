//! Replica agreement: the replicas' end-of-run dumps must describe one log. Each dump is checked
//! on its own (its events are in revision order, every revision after its compaction up to its
//! final revision changed something, each event follows from the keyspace before it — a put's
//! version and create revision, a delete only of a live key — and base + events replayed equal
//! its range read), then every pair is compared: the same events on every revision both hold, the
//! same base where their compactions can be lined up, and after healing the same final revision
//! and HashKV. When the logs agree (even if a replica lags or a hash differs) the merged [`Truth`]
//! is built from them for the other checkers: the newest compaction's base and the longest log.
//! Revision 1 is the empty store a cluster starts with, so the first change is revision 2.

use std::collections::BTreeMap;

use crate::history::{apply_event, EventKind, KvEvent, KvState, ReplicaDump, Truth, Verdict};

const CHECKER: &str = "replica-agreement";
/// Excerpts stay short enough to read.
const MAX_EXCERPT: usize = 20;
/// Problems kept in full (the rest are only counted).
const KEEP: usize = 8;

/// A short line for an event, for excerpts (shared with the watch checker).
pub fn describe_event(e: &KvEvent) -> String {
    let kind = match e.kind {
        EventKind::Put => "put",
        EventKind::Delete => "delete",
    };
    let mut s = format!(
        "rev={} {} {}={:?} create={} ver={} lease={}",
        e.mod_rev, kind, e.key, e.value, e.create_rev, e.version, e.lease
    );
    if let Some(p) = &e.prev {
        s.push_str(&format!(
            " prev={:?}@{} create={} ver={}",
            p.value, p.mod_rev, p.create_rev, p.version
        ));
    }
    s
}

fn describe_kv(key: &str, kv: Option<&KvState>) -> String {
    match kv {
        Some(kv) => format!(
            "{key}={:?} mod={} create={} ver={} lease={}",
            kv.value, kv.mod_rev, kv.create_rev, kv.version, kv.lease
        ),
        None => format!("{key} absent"),
    }
}

/// Two events are the same change (the `prev` a watch may attach is not part of the change).
pub fn same_event(a: &KvEvent, b: &KvEvent) -> bool {
    a.kind == b.kind
        && a.key == b.key
        && a.value == b.value
        && a.mod_rev == b.mod_rev
        && a.create_rev == b.create_rev
        && a.version == b.version
        && a.lease == b.lease
}

/// The events of revision `rev` in a log sorted by revision.
fn events_at(events: &[KvEvent], rev: i64) -> &[KvEvent] {
    let lo = events.partition_point(|e| e.mod_rev < rev);
    let hi = events.partition_point(|e| e.mod_rev <= rev);
    events.get(lo..hi).unwrap_or(&[])
}

/// What a problem with the event log itself (fatal: no truth) or only with convergence is.
#[derive(Default)]
struct Problems {
    kept: Vec<(String, Vec<String>)>,
    total: usize,
}

impl Problems {
    fn push(&mut self, text: String, excerpt: Vec<String>) {
        self.total += 1;
        if self.kept.len() < KEEP {
            self.kept.push((text, excerpt));
        }
    }
}

/// Why an event does not follow from the keyspace before it, if it doesn't.
fn replay_error(state: &BTreeMap<String, KvState>, e: &KvEvent) -> Option<String> {
    match (e.kind, state.get(&e.key)) {
        (EventKind::Put, None) if e.version != 1 || e.create_rev != e.mod_rev => Some(format!(
            "a put creating {} has version {} and create_rev {} (want 1 and {})",
            e.key, e.version, e.create_rev, e.mod_rev
        )),
        (EventKind::Put, Some(p)) if e.version != p.version + 1 || e.create_rev != p.create_rev => {
            Some(format!(
                "a put of {} has version {} and create_rev {} (want {} and {})",
                e.key,
                e.version,
                e.create_rev,
                p.version + 1,
                p.create_rev
            ))
        }
        (EventKind::Delete, None) => Some(format!("a delete of {}, which is absent", e.key)),
        _ => None,
    }
}

/// One dump on its own: order, range, gaps, event consistency, replay = state.
fn check_dump(d: &ReplicaDump, out: &mut Problems) {
    let node = &d.node;
    if let Some((k, kv)) = d
        .base
        .iter()
        .find(|(_, kv)| kv.mod_rev > d.compact_rev || kv.create_rev > kv.mod_rev || kv.version < 1)
    {
        out.push(
            format!(
                "{node}: base at compact_rev {} holds an impossible entry",
                d.compact_rev
            ),
            vec![format!("{node} base: {}", describe_kv(k, Some(kv)))],
        );
    }
    // Revision 1 is the empty store a cluster starts with: the first change is revision 2.
    let mut expect = d.compact_rev.max(1) + 1;
    // Revisions taken by the server's own writes outside the run's prefix.
    let foreign: std::collections::BTreeSet<i64> = d.foreign_revs.iter().copied().collect();
    let skip_foreign = |mut r: i64| {
        while foreign.contains(&r) {
            r += 1;
        }
        r
    };
    expect = skip_foreign(expect);
    let mut last = d.compact_rev;
    let mut state = d.base.clone();
    for (i, e) in d.events.iter().enumerate() {
        let before = i.checked_sub(1).and_then(|j| d.events.get(j));
        let pair = || {
            before
                .iter()
                .chain(std::iter::once(&e))
                .map(|x| format!("{node}: {}", describe_event(x)))
                .collect::<Vec<_>>()
        };
        if e.mod_rev <= d.compact_rev || e.mod_rev > d.revision {
            out.push(
                format!(
                    "{node}: event at revision {} outside ({}, {}]",
                    e.mod_rev, d.compact_rev, d.revision
                ),
                pair(),
            );
        } else if e.mod_rev < last {
            out.push(
                format!("{node}: revision {} follows revision {last}", e.mod_rev),
                pair(),
            );
        } else if e.mod_rev > expect {
            out.push(
                format!(
                    "{node}: no event at revision{} {}",
                    if e.mod_rev - 1 > expect { "s" } else { "" },
                    rev_range(expect, e.mod_rev - 1)
                ),
                pair(),
            );
        }
        expect = skip_foreign(expect.max(e.mod_rev + 1));
        last = last.max(e.mod_rev);
        if let Some(why) = replay_error(&state, e) {
            out.push(
                format!("{node}: revision {}: {why}", e.mod_rev),
                vec![
                    format!("{node} before: {}", describe_kv(&e.key, state.get(&e.key))),
                    format!("{node}: {}", describe_event(e)),
                ],
            );
        }
        apply_event(&mut state, e);
    }
    if expect <= d.revision {
        out.push(
            format!(
                "{node}: no event at {} up to its revision {}",
                rev_range(expect, d.revision),
                d.revision
            ),
            d.events
                .last()
                .map(|e| vec![format!("{node}: {}", describe_event(e))])
                .unwrap_or_default(),
        );
    }
    let diff = state_diff(&state, &d.state);
    if !diff.is_empty() {
        let mut excerpt = Vec::new();
        for k in diff.iter().take(MAX_EXCERPT / 2) {
            excerpt.push(format!("{node} replay: {}", describe_kv(k, state.get(*k))));
            excerpt.push(format!(
                "{node} range:  {}",
                describe_kv(k, d.state.get(*k))
            ));
        }
        out.push(
            format!(
                "{node}: base + events replayed differ from its range read at revision {} on {} \
                 key(s)",
                d.revision,
                diff.len()
            ),
            excerpt,
        );
    }
}

fn rev_range(lo: i64, hi: i64) -> String {
    if lo == hi {
        lo.to_string()
    } else {
        format!("{lo}..={hi}")
    }
}

/// The keys whose entries differ between two keyspaces.
fn state_diff<'a>(
    a: &'a BTreeMap<String, KvState>,
    b: &'a BTreeMap<String, KvState>,
) -> Vec<&'a String> {
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.retain(|k| a.get(*k) != b.get(*k));
    keys
}

/// A dump's keyspace at `rev` (from its base, so `rev` ≥ its compact_rev).
fn replay_to(d: &ReplicaDump, rev: i64) -> BTreeMap<String, KvState> {
    let mut state = d.base.clone();
    for e in d.events.iter().take_while(|e| e.mod_rev <= rev) {
        apply_event(&mut state, e);
    }
    state
}

/// Two dumps against each other: the events of every revision both hold, and their bases.
fn compare_pair(a: &ReplicaDump, b: &ReplicaDump, out: &mut Problems) {
    let lo = a.compact_rev.max(b.compact_rev) + 1;
    let hi = a.revision.min(b.revision);
    let mut first: Option<i64> = None;
    let mut count = 0usize;
    for rev in lo..=hi {
        let (ea, eb) = (events_at(&a.events, rev), events_at(&b.events, rev));
        if ea.len() != eb.len() || ea.iter().zip(eb).any(|(x, y)| !same_event(x, y)) {
            count += 1;
            first.get_or_insert(rev);
        }
    }
    if let Some(rev) = first {
        let mut excerpt = Vec::new();
        for d in [a, b] {
            let evs = events_at(&d.events, rev);
            if evs.is_empty() {
                excerpt.push(format!("{}: (no event at revision {rev})", d.node));
            }
            for e in evs.iter().take(MAX_EXCERPT / 2) {
                excerpt.push(format!("{}: {}", d.node, describe_event(e)));
            }
        }
        out.push(
            format!(
                "{} and {} disagree at revision {rev}{}",
                a.node,
                b.node,
                if count > 1 {
                    format!(" (and {} later revisions)", count - 1)
                } else {
                    String::new()
                }
            ),
            excerpt,
        );
    }
    // Line the bases up: the replica compacted earlier replays to the other's compaction.
    let (early, late) = if a.compact_rev <= b.compact_rev {
        (a, b)
    } else {
        (b, a)
    };
    if late.compact_rev <= early.revision {
        let replayed = replay_to(early, late.compact_rev);
        let diff = state_diff(&replayed, &late.base);
        if !diff.is_empty() {
            let mut excerpt = Vec::new();
            for k in diff.iter().take(MAX_EXCERPT / 2) {
                excerpt.push(format!(
                    "{}: {}",
                    early.node,
                    describe_kv(k, replayed.get(*k))
                ));
                excerpt.push(format!(
                    "{} base: {}",
                    late.node,
                    describe_kv(k, late.base.get(*k))
                ));
            }
            out.push(
                format!(
                    "{} at revision {} differs from {}'s base at its compact_rev on {} key(s)",
                    early.node,
                    late.compact_rev,
                    late.node,
                    diff.len()
                ),
                excerpt,
            );
        }
    }
}

/// Checks the replicas' dumps against themselves and each other; returns the merged truth when
/// their logs agree (a lagging revision or a differing hash is Invalid but leaves one log).
pub fn check_agreement(dumps: &[ReplicaDump]) -> (Verdict, Option<Truth>) {
    let checked: usize = dumps.iter().map(|d| d.events.len()).sum();
    if dumps.is_empty() {
        return (
            Verdict::unknown(CHECKER, 0, "no replica dumps to compare"),
            None,
        );
    }
    // Fatal: the log itself is broken or ambiguous. Soft: the replicas did not converge.
    let mut fatal = Problems::default();
    let mut soft = Problems::default();
    for d in dumps {
        check_dump(d, &mut fatal);
    }
    for (i, a) in dumps.iter().enumerate() {
        for b in dumps.iter().skip(i + 1) {
            compare_pair(a, b, &mut fatal);
        }
    }
    let revs: Vec<String> = dumps
        .iter()
        .map(|d| format!("{}={}", d.node, d.revision))
        .collect();
    let (min_rev, max_rev) = dumps.iter().fold((i64::MAX, i64::MIN), |(lo, hi), d| {
        (lo.min(d.revision), hi.max(d.revision))
    });
    if min_rev != max_rev {
        soft.push(
            format!(
                "replicas ended at different revisions ({}), which after healing they must not",
                revs.join(", ")
            ),
            Vec::new(),
        );
    }
    let mut by_rev: BTreeMap<i64, Vec<&ReplicaDump>> = BTreeMap::new();
    for d in dumps {
        by_rev.entry(d.revision).or_default().push(d);
    }
    for (rev, group) in &by_rev {
        if group.iter().any(|d| d.hash != group[0].hash) {
            let hashes: Vec<String> = group
                .iter()
                .map(|d| format!("{}={:#010x}", d.node, d.hash))
                .collect();
            soft.push(
                format!("HashKV differs at revision {rev}: {}", hashes.join(", ")),
                hashes.iter().map(|h| format!("hash {h}")).collect(),
            );
        }
    }

    let truth = (fatal.total == 0).then(|| merge(dumps)).flatten();
    if fatal.total == 0 && soft.total == 0 {
        let t = truth
            .as_ref()
            .map(|t| (t.compact_rev, t.events.len()))
            .unwrap_or_default();
        let verdict = Verdict::valid(
            CHECKER,
            checked,
            format!(
                "{} replicas agree on one log: {} events after compact_rev {} up to revision \
                 {max_rev}, identical on every revision each pair holds; every dump is gapless, \
                 each event follows from the one before (version, create_rev, deletes of live \
                 keys), base + events replay to its range read, and HashKV is {:#010x} on all",
                dumps.len(),
                t.1,
                t.0,
                dumps[0].hash
            ),
        );
        return (verdict, truth);
    }
    let kept: Vec<&(String, Vec<String>)> = fatal.kept.iter().chain(&soft.kept).collect();
    let texts: Vec<&str> = kept.iter().take(3).map(|(t, _)| t.as_str()).collect();
    // The first problems' evidence, each line once (pairs share a replica's events).
    let mut excerpt: Vec<String> = Vec::new();
    for (_, lines) in &kept {
        let fresh: Vec<&String> = lines.iter().filter(|l| !excerpt.contains(l)).collect();
        if excerpt.len() + fresh.len() > MAX_EXCERPT && !excerpt.is_empty() {
            break;
        }
        excerpt.extend(fresh.into_iter().take(MAX_EXCERPT).cloned());
    }
    let tail = if truth.is_some() {
        format!(
            "; the logs agree where they overlap, so the truth is the longest (revision {max_rev})"
        )
    } else {
        "; no ground truth can be built from these dumps".to_string()
    };
    let explanation = format!(
        "{} problem(s) across {} replicas ({}): {}{}{tail}",
        fatal.total + soft.total,
        dumps.len(),
        revs.join(", "),
        texts.join("; "),
        if kept.len() > 3 { "; …" } else { "" },
    );
    (
        Verdict::invalid(CHECKER, checked, explanation, excerpt),
        truth,
    )
}

/// The merged truth: the newest compaction's base, and every event after it from the longest log
/// (which holds all of them, the others agreeing on what they share).
fn merge(dumps: &[ReplicaDump]) -> Option<Truth> {
    let compacted = dumps.iter().max_by_key(|d| d.compact_rev)?;
    let longest = dumps.iter().max_by_key(|d| d.revision)?;
    let compact_rev = compacted.compact_rev;
    Some(Truth {
        compact_rev,
        base: compacted.base.clone(),
        events: longest
            .events
            .iter()
            .filter(|e| e.mod_rev > compact_rev)
            .cloned()
            .collect(),
        revision: longest.revision,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Validity;

    /// A tiny store: revision 1 is empty, each step is one revision.
    struct Sim {
        rev: i64,
        state: BTreeMap<String, KvState>,
        events: Vec<KvEvent>,
    }

    impl Sim {
        fn new() -> Sim {
            Sim {
                rev: 1,
                state: BTreeMap::new(),
                events: Vec::new(),
            }
        }

        /// One revision changing several keys: `Some(value)` puts, `None` deletes.
        fn txn(&mut self, ops: &[(&str, Option<&str>)]) {
            self.rev += 1;
            for (key, value) in ops {
                let before = self.state.get(*key);
                let e = KvEvent {
                    kind: if value.is_some() {
                        EventKind::Put
                    } else {
                        EventKind::Delete
                    },
                    key: key.to_string(),
                    value: value.unwrap_or("").to_string(),
                    mod_rev: self.rev,
                    create_rev: match (value, before) {
                        (None, _) => 0,
                        (Some(_), Some(b)) => b.create_rev,
                        (Some(_), None) => self.rev,
                    },
                    version: match (value, before) {
                        (None, _) => 0,
                        (Some(_), b) => b.map_or(0, |b| b.version) + 1,
                    },
                    lease: 0,
                    prev: None,
                };
                apply_event(&mut self.state, &e);
                self.events.push(e);
            }
        }

        fn put(&mut self, key: &str, value: &str) {
            self.txn(&[(key, Some(value))]);
        }

        fn dump(&self, node: &str, compact_rev: i64) -> ReplicaDump {
            let mut base = BTreeMap::new();
            for e in self.events.iter().filter(|e| e.mod_rev <= compact_rev) {
                apply_event(&mut base, e);
            }
            ReplicaDump {
                node: node.to_string(),
                compact_rev,
                foreign_revs: Vec::new(),
                base,
                events: self
                    .events
                    .iter()
                    .filter(|e| e.mod_rev > compact_rev)
                    .cloned()
                    .collect(),
                revision: self.rev,
                state: self.state.clone(),
                hash: 0xfeed,
                raft_term: 2,
                raft_applied_index: 40,
            }
        }
    }

    /// Revisions 2..=8: puts, a two-key txn, a delete and a re-create.
    fn sim() -> Sim {
        let mut s = Sim::new();
        s.put("/r/a", "1"); // 2
        s.put("/r/b", "1"); // 3
        s.put("/r/a", "2"); // 4
        s.txn(&[("/r/a", Some("3")), ("/r/b", Some("2"))]); // 5
        s.txn(&[("/r/b", None)]); // 6
        s.put("/r/b", "3"); // 7
        s.put("/r/a", "4"); // 8
        s
    }

    #[test]
    fn identical_dumps_are_valid_and_make_the_truth() {
        let s = sim();
        let dumps = vec![s.dump("n1", 0), s.dump("n2", 3), s.dump("n3", 0)];
        let (v, truth) = check_agreement(&dumps);
        assert_eq!(v.valid, Validity::Valid, "{v:?}");
        assert_eq!(v.checked, 8 + 6 + 8);
        let truth = truth.expect("truth");
        assert_eq!(truth.compact_rev, 3);
        assert_eq!(truth.revision, 8);
        assert_eq!(truth.events.first().map(|e| e.mod_rev), Some(4));
        assert_eq!(truth.state_at(8), Some(s.state.clone()));
        assert_eq!(truth.events_at(5).len(), 2);
    }

    #[test]
    fn a_replica_missing_a_middle_revision_is_invalid() {
        let s = sim();
        let mut n2 = s.dump("n2", 0);
        n2.events.retain(|e| e.mod_rev != 4);
        // Its range read is what the store says; the history lost revision 4.
        let (v, truth) = check_agreement(&[s.dump("n1", 0), n2, s.dump("n3", 0)]);
        assert_eq!(v.valid, Validity::Invalid);
        assert!(truth.is_none());
        assert!(
            v.explanation.contains("n2: no event at revision 4"),
            "{}",
            v.explanation
        );
        assert!(
            v.excerpt.iter().any(|l| l.contains("rev=4")),
            "{:?}",
            v.excerpt
        );
    }

    #[test]
    fn diverging_values_at_one_revision_are_invalid() {
        let s = sim();
        let mut n3 = s.dump("n3", 0);
        // Revision 4's value is overwritten at 5, so n3 is consistent on its own.
        for e in n3.events.iter_mut().filter(|e| e.mod_rev == 4) {
            e.value = "99".into();
        }
        let (v, truth) = check_agreement(&[s.dump("n1", 0), s.dump("n2", 0), n3]);
        assert_eq!(v.valid, Validity::Invalid);
        assert!(truth.is_none());
        assert!(
            v.explanation.contains("n1 and n3 disagree at revision 4"),
            "{}",
            v.explanation
        );
        assert!(v
            .excerpt
            .iter()
            .any(|l| l.starts_with("n3:") && l.contains("\"99\"")));
        assert!(v
            .excerpt
            .iter()
            .any(|l| l.starts_with("n1:") && l.contains("\"2\"")));
        assert!(v.excerpt.len() <= MAX_EXCERPT);
    }

    #[test]
    fn different_hashes_are_invalid_but_leave_a_truth() {
        let s = sim();
        let mut n2 = s.dump("n2", 0);
        n2.hash = 0xbad;
        let (v, truth) = check_agreement(&[s.dump("n1", 0), n2]);
        assert_eq!(v.valid, Validity::Invalid);
        assert!(
            v.explanation.contains("HashKV differs at revision 8"),
            "{}",
            v.explanation
        );
        assert!(v.explanation.contains("n2=0x00000bad"));
        assert_eq!(truth.map(|t| t.revision), Some(8));
    }

    #[test]
    fn a_lagging_replica_is_invalid_and_the_truth_is_the_longest() {
        let s = sim();
        let mut short = Sim::new();
        for e in s.events.iter().filter(|e| e.mod_rev <= 6) {
            apply_event(&mut short.state, e);
            short.events.push(e.clone());
        }
        short.rev = 6;
        let (v, truth) = check_agreement(&[s.dump("n1", 0), short.dump("n2", 0)]);
        assert_eq!(v.valid, Validity::Invalid);
        assert!(v.explanation.contains("n1=8, n2=6"), "{}", v.explanation);
        assert_eq!(truth.map(|t| (t.revision, t.events.len())), Some((8, 8)));
    }

    #[test]
    fn replay_different_from_state_is_invalid() {
        let s = sim();
        let mut n1 = s.dump("n1", 2);
        if let Some(kv) = n1.state.get_mut("/r/b") {
            kv.value = "stale".into();
        }
        let (v, truth) = check_agreement(&[n1, s.dump("n2", 0)]);
        assert_eq!(v.valid, Validity::Invalid);
        assert!(truth.is_none());
        assert!(
            v.explanation.contains("n1: base + events replayed differ"),
            "{}",
            v.explanation
        );
        assert!(v.excerpt.iter().any(|l| l.contains("\"stale\"")));
    }

    #[test]
    fn an_inconsistent_version_is_invalid() {
        let s = sim();
        let mut dumps = vec![s.dump("n1", 0), s.dump("n2", 0)];
        for d in &mut dumps {
            for e in d.events.iter_mut().filter(|e| e.mod_rev == 7) {
                e.version = 2; // a re-create after a delete starts over at 1
            }
            if let Some(kv) = d.state.get_mut("/r/b") {
                kv.version = 2;
            }
        }
        let (v, truth) = check_agreement(&dumps);
        assert_eq!(v.valid, Validity::Invalid);
        assert!(truth.is_none());
        assert!(
            v.explanation.contains("revision 7: a put creating /r/b"),
            "{}",
            v.explanation
        );
    }
}
