//! The Deployment rollout guarantees, checked over the pod and Deployment informers' histories
//! ("rollout-surge", "rollout-availability", "rollout-complete"). At every pod event the live
//! pods (not terminating, not finished) are counted against the Deployment specs that could be
//! in effect: every spec at or below the event's resourceVersion seen within `LAG` before it,
//! and the one in effect when that span began — all specs since a fault began while inside a
//! fault window or `LAG` after it, since the controllers may act late on a spec they read
//! before. A new live pod never takes the count above the largest replicas + maxSurge of those;
//! outside fault windows the Ready pods never drop below the smallest replicas − maxUnavailable;
//! and after healing the rollout completed: exactly the last spec's replicas, all of its image,
//! all Ready.

use std::collections::BTreeMap;

use crate::history::{Call, Op, Verdict};
use crate::workload::controllers::{pod_parts, DEPLOYMENT};
use crate::workload::informer::{InformerLog, InformerMsg, Snap};

/// How long the controllers may take to act on a spec change (informer delivery, a sync).
const LAG_NS: u64 = 5_000_000_000;
const MAX_EXCERPT: usize = 12;

/// One Deployment spec, as observed.
#[derive(Clone, Debug, PartialEq)]
struct Spec {
    rv: i64,
    time_ns: u64,
    replicas: i64,
    image: String,
    surge: i64,
    unavailable: i64,
}

/// An intstr against `replicas`: an int, or a percentage rounded up (surge) or down.
fn resolve(v: &str, replicas: i64, round_up: bool) -> i64 {
    match v.strip_suffix('%').map(str::parse::<i64>) {
        Some(Ok(p)) if round_up => (replicas * p + 99) / 100,
        Some(Ok(p)) => replicas * p / 100,
        _ => v.parse().unwrap_or(0),
    }
}

fn spec_of(s: &Snap, time_ns: u64) -> Option<Spec> {
    let mut it = s.info.split('|');
    let replicas: i64 = it.next()?.parse().ok()?;
    let image = it.next()?.to_string();
    let surge = it.next().unwrap_or("25%");
    let unavailable = it.next().unwrap_or("25%");
    Some(Spec {
        rv: s.rv,
        time_ns,
        replicas,
        image,
        surge: resolve(if surge.is_empty() { "25%" } else { surge }, replicas, true),
        unavailable: resolve(
            if unavailable.is_empty() {
                "25%"
            } else {
                unavailable
            },
            replicas,
            false,
        ),
    })
}

/// The Deployment's specs in resourceVersion order, each at the time it was first seen.
fn specs(log: &InformerLog) -> Vec<Spec> {
    let mut by_rv: BTreeMap<i64, Spec> = BTreeMap::new();
    let mut add = |s: &Snap, t: u64| {
        if s.name == DEPLOYMENT {
            if let Some(spec) = spec_of(s, t) {
                by_rv.entry(spec.rv).or_insert(spec);
            }
        }
    };
    for m in &log.msgs {
        match m {
            InformerMsg::List { time_ns, items, .. } => items.iter().for_each(|s| add(s, *time_ns)),
            InformerMsg::Event {
                time_ns, kind, obj, ..
            } if kind != "DELETED" => add(obj, *time_ns),
            _ => {}
        }
    }
    // A spec is only in effect from its first sighting on; with resourceVersion order that
    // makes sighting times non-decreasing.
    let mut out: Vec<Spec> = by_rv.into_values().collect();
    let mut latest = 0;
    for s in &mut out {
        latest = latest.max(s.time_ns);
        s.time_ns = latest;
    }
    out
}

/// The fault windows of a run: (start, stop) of each nemesis, open ones to the end.
pub fn fault_windows(ops: &[Op]) -> Vec<(u64, u64)> {
    let mut open: BTreeMap<&str, u64> = BTreeMap::new();
    let mut out = Vec::new();
    for op in ops {
        if let Call::Nemesis { name, phase, .. } = &op.call {
            match phase.as_str() {
                "start" => {
                    open.entry(name).or_insert(op.invoke_ns);
                }
                "stop" => {
                    if let Some(s) = open.remove(name.as_str()) {
                        out.push((s, op.invoke_ns));
                    }
                }
                _ => {}
            }
        }
    }
    out.extend(open.into_values().map(|s| (s, u64::MAX)));
    out
}

/// The specs that may be in effect at an event at `rv` and `t`.
fn candidates<'a>(specs: &'a [Spec], rv: i64, t: u64, faults: &[(u64, u64)]) -> Vec<&'a Spec> {
    let mut from = t.saturating_sub(LAG_NS);
    for (start, stop) in faults {
        if *start <= t && t <= stop.saturating_add(LAG_NS) {
            from = from.min(start.saturating_sub(LAG_NS));
        }
    }
    let known: Vec<&Spec> = specs.iter().filter(|s| s.rv <= rv).collect();
    let before = known.iter().rposition(|s| s.time_ns < from);
    match before {
        Some(b) => known[b..].to_vec(),
        None => known,
    }
}

fn in_fault(t: u64, faults: &[(u64, u64)]) -> bool {
    faults
        .iter()
        .any(|(start, stop)| *start <= t && t <= stop.saturating_add(LAG_NS))
}

/// Checks the rollout guarantees. `completed` is how long the harness waited after healing
/// for the rollout to complete (`None`: not within its deadline).
pub fn check_rollout(
    pods: &InformerLog,
    deployments: &InformerLog,
    ops: &[Op],
    completed: Option<f64>,
    deadline_s: u64,
) -> Vec<Verdict> {
    let specs = specs(deployments);
    let faults = fault_windows(ops);
    let mut state: BTreeMap<String, Snap> = BTreeMap::new();
    let mut surge_bad = Vec::new();
    let mut avail_bad = Vec::new();
    let mut checked = 0;
    let mut pos = 0i64;
    let live = |s: &BTreeMap<String, Snap>| {
        s.values()
            .filter(|p| {
                let (phase, _, terminating, _) = pod_parts(&p.info);
                !terminating && phase != "Succeeded" && phase != "Failed"
            })
            .count() as i64
    };
    let ready = |s: &BTreeMap<String, Snap>| {
        s.values()
            .filter(|p| {
                let (phase, ready, terminating, _) = pod_parts(&p.info);
                !terminating && ready && phase == "Running"
            })
            .count() as i64
    };
    let first_spec = specs.first().map(|s| s.time_ns);
    for (idx, m) in pods.msgs.iter().enumerate() {
        let before = live(&state);
        let t = match m {
            InformerMsg::List {
                time_ns, rv, items, ..
            } => {
                state = items.iter().map(|s| (s.name.clone(), s.clone())).collect();
                pos = pos.max(*rv);
                *time_ns
            }
            InformerMsg::Event {
                time_ns, kind, obj, ..
            } => {
                if kind == "DELETED" {
                    state.remove(&obj.name);
                } else {
                    state.insert(obj.name.clone(), obj.clone());
                }
                pos = pos.max(obj.rv);
                *time_ns
            }
            _ => continue,
        };
        checked += 1;
        let c = candidates(&specs, pos, t, &faults);
        if c.is_empty() {
            continue;
        }
        let now_live = live(&state);
        let most = c.iter().map(|s| s.replicas + s.surge).max().unwrap_or(0);
        if now_live > before && now_live > most {
            surge_bad.push(format!(
                "pods #{idx} at {:.3}s, resourceVersion {pos}: {now_live} live pods, above \
                 replicas + maxSurge = {most} of every spec that could be in effect ({})",
                t as f64 / 1e9,
                c.iter()
                    .map(|s| format!("rv {} replicas {} surge {}", s.rv, s.replicas, s.surge))
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
        let settled = first_spec.is_some_and(|f| t >= f.saturating_add(LAG_NS));
        if settled && !in_fault(t, &faults) {
            let least = c
                .iter()
                .map(|s| s.replicas - s.unavailable)
                .min()
                .unwrap_or(0);
            let now_ready = ready(&state);
            if now_ready < least {
                avail_bad.push(format!(
                    "pods #{idx} at {:.3}s, resourceVersion {pos}, outside fault windows: \
                     {now_ready} ready pods, below replicas - maxUnavailable = {least} of \
                     every spec that could be in effect",
                    t as f64 / 1e9
                ));
            }
        }
    }
    let verdict = |name: &str, bad: Vec<String>, rule: &str| {
        if bad.is_empty() {
            Verdict::valid(name, checked, rule.to_string())
        } else {
            let n = bad.len();
            let mut excerpt = bad;
            excerpt.truncate(MAX_EXCERPT);
            Verdict::invalid(
                name,
                checked,
                format!("{n} violation(s) of: {rule}"),
                excerpt,
            )
        }
    };
    let mut out = vec![
        verdict(
            "rollout-surge",
            surge_bad,
            "no pod creation took the live pods above replicas + maxSurge of the specs in effect",
        ),
        verdict(
            "rollout-availability",
            avail_bad,
            "outside fault windows, Ready pods never fell below replicas - maxUnavailable of \
             the specs in effect",
        ),
    ];
    let last = specs.last();
    let final_pods: Vec<&Snap> = state.values().filter(|p| !pod_parts(&p.info).2).collect();
    let complete = match (completed, last) {
        (None, _) => Verdict::invalid(
            "rollout-complete",
            final_pods.len(),
            format!("the rollout did not complete within {deadline_s} s after healing"),
            final_pods
                .iter()
                .map(|p| format!("{} {}", p.name, p.info))
                .collect(),
        ),
        (Some(_), None) => Verdict::unknown("rollout-complete", 0, "no Deployment spec was seen"),
        (Some(secs), Some(spec)) => {
            let good = final_pods.len() as i64 == spec.replicas
                && final_pods.iter().all(|p| {
                    let (phase, ready, _, image) = pod_parts(&p.info);
                    phase == "Running" && ready && image == spec.image
                });
            if good {
                Verdict::valid(
                    "rollout-complete",
                    final_pods.len(),
                    format!(
                        "{secs:.1} s after healing the pods were exactly the last spec's {} \
                         replicas of {}, all Ready, as the pod informer saw them",
                        spec.replicas, spec.image
                    ),
                )
            } else {
                Verdict::invalid(
                    "rollout-complete",
                    final_pods.len(),
                    format!(
                        "the pod informer's final pods are not the last spec's {} Ready \
                         replicas of {}",
                        spec.replicas, spec.image
                    ),
                    final_pods
                        .iter()
                        .map(|p| format!("{} {}", p.name, p.info))
                        .collect(),
                )
            }
        }
    };
    out.push(complete);
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::history::Validity;

    const S: u64 = 1_000_000_000;

    fn deployments(specs: &[(i64, u64, i64, &str)]) -> InformerLog {
        InformerLog {
            lane: "deployments".into(),
            resource: "deployments".into(),
            msgs: specs
                .iter()
                .map(|(rv, t, replicas, image)| InformerMsg::Event {
                    time_ns: *t,
                    kind: "MODIFIED".into(),
                    obj: Snap {
                        name: DEPLOYMENT.into(),
                        rv: *rv,
                        info: format!("{replicas}|{image}|2|1"),
                    },
                })
                .collect(),
        }
    }

    fn pod(name: &str, rv: i64, t: u64, ready: bool, image: &str) -> InformerMsg {
        InformerMsg::Event {
            time_ns: t,
            kind: "ADDED".into(),
            obj: Snap {
                name: name.into(),
                rv,
                info: format!(
                    "{}|{ready}|false|{image}",
                    if ready { "Running" } else { "Pending" }
                ),
            },
        }
    }

    fn pods(msgs: Vec<InformerMsg>) -> InformerLog {
        InformerLog {
            lane: "pods".into(),
            resource: "pods".into(),
            msgs,
        }
    }

    fn verdict(v: &[Verdict], name: &str) -> Validity {
        v.iter().find(|v| v.checker == name).unwrap().valid
    }

    #[test]
    fn a_steady_deployment_is_valid() {
        let d = deployments(&[(10, S, 3, "img:1")]);
        let p = pods(vec![
            pod("a", 11, S, true, "img:1"),
            pod("b", 12, S, true, "img:1"),
            pod("c", 13, S, true, "img:1"),
        ]);
        let v = check_rollout(&p, &d, &[], Some(1.0), 60);
        assert!(v.iter().all(|v| v.valid == Validity::Valid), "{v:#?}");
    }

    #[test]
    fn more_pods_than_replicas_plus_surge_is_caught() {
        let d = deployments(&[(10, S, 3, "img:1")]);
        let msgs = (0..6)
            .map(|k| pod(&format!("p{k}"), 11 + k, S, true, "img:1"))
            .collect();
        let v = check_rollout(&pods(msgs), &d, &[], Some(1.0), 60);
        assert_eq!(verdict(&v, "rollout-surge"), Validity::Invalid);
    }

    #[test]
    fn too_few_ready_pods_outside_faults_is_caught_but_not_inside_one() {
        let d = deployments(&[(10, S, 3, "img:1")]);
        let msgs = vec![
            pod("a", 11, 2 * S, true, "img:1"),
            pod("b", 12, 2 * S, true, "img:1"),
            pod("c", 13, 2 * S, true, "img:1"),
            InformerMsg::Event {
                time_ns: 20 * S,
                kind: "DELETED".into(),
                obj: Snap {
                    name: "a".into(),
                    rv: 14,
                    info: String::new(),
                },
            },
            InformerMsg::Event {
                time_ns: 20 * S,
                kind: "DELETED".into(),
                obj: Snap {
                    name: "b".into(),
                    rv: 15,
                    info: String::new(),
                },
            },
        ];
        let v = check_rollout(&pods(msgs.clone()), &d, &[], Some(1.0), 60);
        assert_eq!(verdict(&v, "rollout-availability"), Validity::Invalid);
        let nemesis = |phase: &str, t: u64| Op {
            index: 0,
            process: crate::history::NEMESIS,
            lane: "nemesis".into(),
            node: String::new(),
            call: Call::Nemesis {
                name: "kill".into(),
                phase: phase.into(),
                detail: String::new(),
            },
            outcome: crate::history::Outcome::Ok,
            invoke_ns: t,
            complete_ns: t,
            rev: 0,
            error: None,
        };
        let ops = [nemesis("start", 19 * S), nemesis("stop", 21 * S)];
        let v = check_rollout(&pods(msgs), &d, &ops, Some(1.0), 60);
        assert_eq!(verdict(&v, "rollout-availability"), Validity::Valid);
    }

    #[test]
    fn a_rollout_left_on_the_old_image_is_incomplete() {
        let d = deployments(&[(10, S, 3, "img:1"), (20, 2 * S, 3, "img:2")]);
        let p = pods(vec![
            pod("a", 11, S, true, "img:1"),
            pod("b", 12, S, true, "img:1"),
            pod("c", 13, S, true, "img:1"),
        ]);
        let v = check_rollout(&p, &d, &[], Some(1.0), 60);
        assert_eq!(verdict(&v, "rollout-complete"), Validity::Invalid);
        let v = check_rollout(&p, &d, &[], None, 60);
        assert_eq!(verdict(&v, "rollout-complete"), Validity::Invalid);
    }
}
