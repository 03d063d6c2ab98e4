//! Watch guarantees of the Kubernetes REST API, checked on what each recording informer was
//! delivered (`InformerLog`) against the store's own history of the resource's storage prefix
//! (resourceVersions are store revisions, so the two line up): resourceVersions never go back
//! within a lane, a re-LIST included (kube-watch-ordered); no (name, resourceVersion) twice
//! (kube-watch-unique); a LIST holds exactly the objects the store held at the list's
//! resourceVersion (kube-list-consistent); a WATCH from resourceVersion R delivers exactly the
//! store's events after R, in order, with nothing skipped before an event or a bookmark
//! (kube-watch-gapless); and every informer reached the store's final state (kube-watch-
//! converged). Acknowledged writes must be in the store's history with their value
//! (kube-acked-writes). The etcd watch checker's rules, restated for list-then-watch.

use std::collections::{BTreeMap, HashSet};

use crate::history::{Call, EventKind, KvEvent, Op, Outcome, Verdict};
use crate::workload::informer::{InformerLog, InformerMsg, Snap};

const MAX_EXCERPT: usize = 12;

/// One change of the store as the REST API must report it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TruthEvent {
    /// "ADDED", "MODIFIED" or "DELETED".
    pub kind: &'static str,
    pub obj: Snap,
}

/// The store's events under `prefix` as REST watch events, objects reduced by `snap` (the
/// stored JSON parsed as `K`; a delete carries no object, so only its name and revision).
pub fn truth_events<K: serde::de::DeserializeOwned>(
    events: &[KvEvent],
    prefix: &str,
    snap: fn(&K) -> Snap,
) -> Vec<TruthEvent> {
    events
        .iter()
        .filter_map(|e| {
            let name = e.key.strip_prefix(prefix)?.to_string();
            let (kind, info) = match e.kind {
                EventKind::Delete => ("DELETED", String::new()),
                EventKind::Put => (
                    if e.create_rev == e.mod_rev {
                        "ADDED"
                    } else {
                        "MODIFIED"
                    },
                    serde_json::from_str::<K>(&e.value)
                        .map(|k| snap(&k).info)
                        .unwrap_or_default(),
                ),
            };
            Some(TruthEvent {
                kind,
                obj: Snap {
                    name,
                    rv: e.mod_rev,
                    info,
                },
            })
        })
        .collect()
}

/// The objects (name → snap) after every truth event up to `rv`.
fn state_at(truth: &[TruthEvent], rv: i64) -> BTreeMap<String, Snap> {
    let mut state = BTreeMap::new();
    for e in truth.iter().take_while(|e| e.obj.rv <= rv) {
        apply(&mut state, e.kind, &e.obj);
    }
    state
}

fn apply(state: &mut BTreeMap<String, Snap>, kind: &str, obj: &Snap) {
    if kind == "DELETED" {
        state.remove(&obj.name);
    } else {
        state.insert(obj.name.clone(), obj.clone());
    }
}

fn show(s: &Snap) -> String {
    format!("{}@{} {:?}", s.name, s.rv, s.info)
}

/// Whether a delivered event is the true one (a delete's object is its last state, so only
/// its name and revision are compared; an unparsable stored object only by name and revision).
fn same(truth: &TruthEvent, kind: &str, obj: &Snap) -> bool {
    truth.kind == kind
        && truth.obj.name == obj.name
        && truth.obj.rv == obj.rv
        && (kind == "DELETED" || truth.obj.info.is_empty() || truth.obj.info == obj.info)
}

/// The names of the verdicts, in order.
const NAMES: [&str; 5] = [
    "kube-watch-ordered",
    "kube-watch-unique",
    "kube-list-consistent",
    "kube-watch-gapless",
    "kube-watch-converged",
];
const ORDERED: usize = 0;
const UNIQUE: usize = 1;
const LIST: usize = 2;
const GAPLESS: usize = 3;
const CONVERGED: usize = 4;

/// Checks every informer lane; `truth` holds the store's events of each lane's resource (by
/// resource name), `None` when the store's history could not be read whole.
pub fn check_informers(
    logs: &[InformerLog],
    truth: Option<&BTreeMap<String, Vec<TruthEvent>>>,
) -> Vec<Verdict> {
    let mut problems: [Vec<String>; 5] = Default::default();
    let mut checked = 0;
    let empty = Vec::new();
    for log in logs {
        let t = truth.and_then(|t| t.get(&log.resource)).unwrap_or(&empty);
        let lane = &log.lane;
        let mut pos = 0i64;
        let mut cursor: Option<usize> = None;
        let mut seen: HashSet<(String, i64)> = HashSet::new();
        let mut state: BTreeMap<String, Snap> = BTreeMap::new();
        for (idx, msg) in log.msgs.iter().enumerate() {
            match msg {
                InformerMsg::List {
                    rv, items, node, ..
                } => {
                    checked += items.len();
                    if *rv < pos {
                        problems[ORDERED].push(format!(
                            "{lane} #{idx}: a LIST on {node} answered resourceVersion {rv}, \
                             behind {pos} the lane had already seen"
                        ));
                    }
                    let got: BTreeMap<String, Snap> =
                        items.iter().map(|s| (s.name.clone(), s.clone())).collect();
                    if truth.is_some() {
                        let want = state_at(t, *rv);
                        let differs = want.len() != got.len()
                            || want.iter().any(|(n, w)| {
                                got.get(n).is_none_or(|g| {
                                    g.rv != w.rv || (!w.info.is_empty() && g.info != w.info)
                                })
                            });
                        if differs {
                            problems[LIST].push(format!(
                                "{lane} #{idx}: a LIST on {node} at resourceVersion {rv} held \
                                 [{}] but the store held [{}]",
                                got.values().map(show).collect::<Vec<_>>().join(", "),
                                want.values().map(show).collect::<Vec<_>>().join(", ")
                            ));
                        }
                    }
                    state = got;
                    pos = pos.max(*rv);
                    cursor = None;
                    seen.clear();
                }
                InformerMsg::Watch { from_rv, .. } => {
                    cursor = Some(t.partition_point(|e| e.obj.rv <= *from_rv));
                }
                InformerMsg::Event { kind, obj, .. } => {
                    checked += 1;
                    if obj.rv <= pos {
                        let which = if seen.contains(&(obj.name.clone(), obj.rv)) {
                            UNIQUE
                        } else {
                            ORDERED
                        };
                        problems[which].push(format!(
                            "{lane} #{idx}: {kind} {} after the lane was at resourceVersion \
                             {pos}",
                            show(obj)
                        ));
                    } else if let (Some(c), true) = (cursor, truth.is_some()) {
                        match t.get(c) {
                            Some(want) if same(want, kind, obj) => {}
                            want => problems[GAPLESS].push(format!(
                                "{lane} #{idx}: delivered {kind} {} where the store's next \
                                 event was {}",
                                show(obj),
                                want.map_or("none".into(), |w| format!(
                                    "{} {}",
                                    w.kind,
                                    show(&w.obj)
                                ))
                            )),
                        }
                        cursor = Some(t.partition_point(|e| e.obj.rv <= obj.rv));
                    }
                    seen.insert((obj.name.clone(), obj.rv));
                    pos = pos.max(obj.rv);
                    apply(&mut state, kind, obj);
                }
                InformerMsg::Bookmark { rv, .. } => {
                    if *rv < pos {
                        problems[ORDERED].push(format!(
                            "{lane} #{idx}: a bookmark at {rv} behind {pos} the lane had seen"
                        ));
                    }
                    if let (Some(c), true) = (cursor, truth.is_some()) {
                        if let Some(missed) = t.get(c).filter(|e| e.obj.rv <= *rv) {
                            problems[GAPLESS].push(format!(
                                "{lane} #{idx}: a bookmark at {rv} passed over {} {} that was \
                                 never delivered",
                                missed.kind,
                                show(&missed.obj)
                            ));
                        }
                        cursor = Some(t.partition_point(|e| e.obj.rv <= *rv));
                    }
                    pos = pos.max(*rv);
                }
                InformerMsg::Gone { .. } | InformerMsg::Broken { .. } => cursor = None,
            }
        }
        if truth.is_some() {
            let last = t.last().map_or(0, |e| e.obj.rv);
            let want = state_at(t, i64::MAX);
            let same_state = want.len() == state.len()
                && want
                    .iter()
                    .all(|(n, w)| state.get(n).is_some_and(|s| s.rv == w.rv));
            if pos < last || !same_state {
                problems[CONVERGED].push(format!(
                    "{lane}: ended at resourceVersion {pos} holding [{}]; the store's last \
                     change was at {last} and it holds [{}]",
                    state.values().map(show).collect::<Vec<_>>().join(", "),
                    want.values().map(show).collect::<Vec<_>>().join(", ")
                ));
            }
        }
    }
    let rules = [
        "resourceVersions never go back within an informer, across re-lists and reconnections",
        "no (name, resourceVersion) is delivered twice to an informer",
        "every LIST holds exactly the objects the store held at the list's resourceVersion",
        "every WATCH from resourceVersion R delivers exactly the store's events after R, in \
         order, and no bookmark passes over an undelivered event",
        "every informer ended at the store's last change holding the store's final objects",
    ];
    let mut out = Vec::new();
    for (k, name) in NAMES.iter().enumerate() {
        let needs_truth = k >= LIST;
        let v = if !problems[k].is_empty() {
            let mut excerpt = problems[k].clone();
            excerpt.truncate(MAX_EXCERPT);
            Verdict::invalid(
                name,
                checked,
                format!(
                    "{} violation(s) of: {} (over {} informer lanes)",
                    problems[k].len(),
                    rules[k],
                    logs.len()
                ),
                excerpt,
            )
        } else if needs_truth && truth.is_none() {
            Verdict::unknown(
                name,
                checked,
                "the store's history of the watched resources could not be read whole, so \
                 there is nothing to compare with",
            )
        } else if logs.is_empty() {
            Verdict::unknown(name, 0, "no informer lanes")
        } else {
            Verdict::valid(
                name,
                checked,
                format!("{} ({} informer lanes)", rules[k], logs.len()),
            )
        };
        out.push(v);
    }
    out
}

/// Every acknowledged write (a put or a swap answered with its resourceVersion) is in the
/// store's history at that revision with its value.
pub fn check_acked_writes(ops: &[Op], truth: Option<&[TruthEvent]>) -> Verdict {
    const NAME: &str = "kube-acked-writes";
    let Some(truth) = truth else {
        return Verdict::unknown(NAME, 0, "the store's history could not be read whole");
    };
    let mut checked = 0;
    let mut lost = Vec::new();
    for op in ops.iter().filter(|o| o.outcome == Outcome::Ok && o.rev > 0) {
        let (key, value) = match &op.call {
            Call::Write { key, value }
            | Call::Cas {
                key,
                value,
                succeeded: Some(true),
                ..
            } => (key, value),
            _ => continue,
        };
        checked += 1;
        let found = truth.iter().any(|e| {
            e.kind != "DELETED"
                && e.obj.name == *key
                && e.obj.rv == op.rev
                && (e.obj.info.is_empty() || e.obj.info == value.to_string())
        });
        if !found {
            lost.push(crate::history::describe(op));
        }
    }
    if lost.is_empty() {
        Verdict::valid(
            NAME,
            checked,
            format!(
                "all {checked} acknowledged writes are in the store's history at their \
                 resourceVersion with their value"
            ),
        )
    } else {
        let n = lost.len();
        lost.truncate(MAX_EXCERPT);
        Verdict::invalid(
            NAME,
            checked,
            format!(
                "{n} acknowledged write(s) are not in the store's history at the \
                 resourceVersion the API answered (lost or altered)"
            ),
            lost,
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::history::Validity;

    fn snap(name: &str, rv: i64, info: &str) -> Snap {
        Snap {
            name: name.into(),
            rv,
            info: info.into(),
        }
    }

    fn truth() -> BTreeMap<String, Vec<TruthEvent>> {
        let t = vec![
            TruthEvent {
                kind: "ADDED",
                obj: snap("a", 10, "1"),
            },
            TruthEvent {
                kind: "MODIFIED",
                obj: snap("a", 12, "2"),
            },
            TruthEvent {
                kind: "ADDED",
                obj: snap("b", 15, "3"),
            },
            TruthEvent {
                kind: "DELETED",
                obj: snap("a", 17, ""),
            },
        ];
        BTreeMap::from([("configmaps".to_string(), t)])
    }

    fn log(msgs: Vec<InformerMsg>) -> InformerLog {
        InformerLog {
            lane: "informer-0".into(),
            resource: "configmaps".into(),
            msgs,
        }
    }

    fn list(rv: i64, items: Vec<Snap>) -> InformerMsg {
        InformerMsg::List {
            time_ns: 0,
            node: "n1".into(),
            rv,
            items,
        }
    }

    fn watch(from_rv: i64) -> InformerMsg {
        InformerMsg::Watch {
            time_ns: 0,
            node: "n1".into(),
            from_rv,
        }
    }

    fn ev(kind: &str, obj: Snap) -> InformerMsg {
        InformerMsg::Event {
            time_ns: 0,
            kind: kind.into(),
            obj,
        }
    }

    fn verdict(v: &[Verdict], name: &str) -> Validity {
        v.iter().find(|v| v.checker == name).unwrap().valid
    }

    #[test]
    fn a_faithful_informer_is_valid() {
        let t = truth();
        let l = log(vec![
            list(11, vec![snap("a", 10, "1")]),
            watch(11),
            ev("MODIFIED", snap("a", 12, "2")),
            InformerMsg::Broken {
                time_ns: 0,
                error: "x".into(),
            },
            watch(12),
            ev("ADDED", snap("b", 15, "3")),
            ev("DELETED", snap("a", 17, "2")),
        ]);
        let v = check_informers(&[l], Some(&t));
        assert!(v.iter().all(|v| v.valid == Validity::Valid), "{v:#?}");
    }

    #[test]
    fn a_skipped_event_is_a_gap() {
        let t = truth();
        let l = log(vec![
            list(11, vec![snap("a", 10, "1")]),
            watch(11),
            // The MODIFIED at 12 never came.
            ev("ADDED", snap("b", 15, "3")),
            ev("DELETED", snap("a", 17, "2")),
        ]);
        let v = check_informers(&[l], Some(&t));
        assert_eq!(verdict(&v, "kube-watch-gapless"), Validity::Invalid);
    }

    #[test]
    fn a_stale_list_and_a_repeated_event_are_caught() {
        let t = truth();
        let l = log(vec![
            list(12, vec![snap("a", 10, "1")]),
            watch(12),
            ev("ADDED", snap("b", 15, "3")),
            ev("ADDED", snap("b", 15, "3")),
            ev("DELETED", snap("a", 17, "2")),
        ]);
        let v = check_informers(&[l], Some(&t));
        assert_eq!(verdict(&v, "kube-list-consistent"), Validity::Invalid);
        assert_eq!(verdict(&v, "kube-watch-unique"), Validity::Invalid);
    }

    #[test]
    fn an_informer_that_never_saw_the_last_change_did_not_converge() {
        let t = truth();
        let l = log(vec![
            list(11, vec![snap("a", 10, "1")]),
            watch(11),
            ev("MODIFIED", snap("a", 12, "2")),
            ev("ADDED", snap("b", 15, "3")),
        ]);
        let v = check_informers(&[l], Some(&t));
        assert_eq!(verdict(&v, "kube-watch-converged"), Validity::Invalid);
    }

    #[test]
    fn a_lost_acknowledged_write_is_caught() {
        let t = truth();
        let op = |value: i64, rev: i64| Op {
            index: 0,
            process: 0,
            lane: "w".into(),
            node: "n1".into(),
            call: Call::Write {
                key: "a".into(),
                value,
            },
            outcome: Outcome::Ok,
            invoke_ns: 0,
            complete_ns: 1,
            rev,
            error: None,
        };
        let events = &t["configmaps"];
        assert_eq!(
            check_acked_writes(&[op(2, 12)], Some(events)).valid,
            Validity::Valid
        );
        assert_eq!(
            check_acked_writes(&[op(2, 13)], Some(events)).valid,
            Validity::Invalid
        );
    }
}
