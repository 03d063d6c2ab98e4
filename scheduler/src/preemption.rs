//! DefaultPreemption, the PostFilter: when no node fits a pod, find nodes where removing pods
//! of lower priority would let it fit, pick the one that hurts least, and evict those pods so
//! the preemptor can take their place. Upstream's rules:
//! - a pod with `preemptionPolicy: Never`, or whose nominated node still has a terminating pod
//!   of lower priority, does not preempt;
//! - only nodes refused for reasons removing pods can help are tried; on each, every
//!   lower-priority pod is removed, and if the pod then fits, the victims are added back one by
//!   one, most important first (pods whose eviction would violate a PodDisruptionBudget before
//!   the others), keeping each that still leaves room;
//! - the node chosen has, in order: the fewest PDB violations, the lowest highest victim
//!   priority, the lowest sum of victim priorities, the fewest victims, the latest start time
//!   of its most important victims;
//! - the victims get the `DisruptionTarget` condition and are deleted gracefully; lower-priority
//!   pods nominated to that node lose their nomination; the preemptor is nominated to it.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::core::{Selector, SelectorExt};
use serde_json::json;

use crate::fit_error::FitError;
use crate::framework::{Code, Status};
use crate::metrics::SchedulerMetrics;
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;
use crate::profile::{nominated_node, CycleState, Profile};
use crate::scheduler::Shared;
use crate::snapshot::Snapshot;

pub const NAME: &str = "DefaultPreemption";
pub const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
pub const NO_VICTIMS: &str = "No preemption victims found for incoming pod";

/// A node where preemption would make room, and at what cost.
#[derive(Debug)]
pub struct Candidate {
    pub node: String,
    pub victims: Vec<Arc<PodInfo>>,
    pub pdb_violations: usize,
}

/// A budget's remaining disruptions, by namespace and selector.
#[derive(Clone)]
pub struct Budget {
    namespace: String,
    selector: Selector,
    allowed: i32,
    disrupted: Vec<String>,
}

pub fn budgets(pdbs: &[Arc<PodDisruptionBudget>]) -> Vec<Budget> {
    pdbs.iter()
        .filter_map(|p| {
            let sel = p.spec.as_ref()?.selector.clone()?;
            let selector = Selector::try_from(sel).ok()?;
            if selector.selects_all() {
                return None;
            }
            let status = p.status.as_ref();
            Some(Budget {
                namespace: p.metadata.namespace.clone().unwrap_or_default(),
                selector,
                allowed: status.map_or(0, |s| s.disruptions_allowed),
                disrupted: status
                    .and_then(|s| s.disrupted_pods.as_ref())
                    .map(|d| d.keys().cloned().collect())
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// Splits `pods` into those whose eviction would violate a budget and the rest, spending the
/// budgets' allowances as upstream's `filterPodsWithPDBViolation` does.
fn split_by_budget(
    pods: Vec<Arc<PodInfo>>,
    budgets: &[Budget],
) -> (Vec<Arc<PodInfo>>, Vec<Arc<PodInfo>>) {
    let mut allowed: Vec<i32> = budgets.iter().map(|b| b.allowed).collect();
    let (mut violating, mut fine) = (Vec::new(), Vec::new());
    for p in pods {
        let mut violates = false;
        for (i, b) in budgets.iter().enumerate() {
            if b.namespace != p.namespace || !b.selector.matches(&p.labels) {
                continue;
            }
            if b.disrupted.contains(&p.name) {
                continue;
            }
            allowed[i] -= 1;
            if allowed[i] < 0 {
                violates = true;
            }
        }
        if violates {
            violating.push(p);
        } else {
            fine.push(p);
        }
    }
    (violating, fine)
}

fn start_time(p: &PodInfo) -> Option<Timestamp> {
    p.pod.status.as_ref()?.start_time.as_ref().map(|t| t.0)
}

/// Most important first: higher priority, then the one running longer.
fn by_importance(a: &Arc<PodInfo>, b: &Arc<PodInfo>) -> std::cmp::Ordering {
    b.priority
        .cmp(&a.priority)
        .then_with(|| start_time(a).cmp(&start_time(b)))
}

/// The fewest pods to remove from `node` so `pod` fits, or why it cannot.
pub fn select_victims(
    profile: &Profile,
    state: &CycleState,
    pod: &PodInfo,
    node: &NodeInfo,
    budgets: &[Budget],
) -> Result<Candidate, Status> {
    let mut lower: Vec<Arc<PodInfo>> = node
        .pods
        .iter()
        .filter(|p| p.priority < pod.priority)
        .cloned()
        .collect();
    if lower.is_empty() {
        return Err(Status::unresolvable(NAME, NO_VICTIMS));
    }
    let mut info = node.clone();
    let mut st = state.clone();
    for v in &lower {
        info.remove_pod(&v.uid);
        profile.remove_pod(&mut st, pod, v, &info);
    }
    profile.filter_node(&st, pod, &info)?;
    lower.sort_by(by_importance);
    let (violating, fine) = split_by_budget(lower, budgets);
    let mut victims = Vec::new();
    let mut pdb_violations = 0;
    for (p, violates) in violating
        .into_iter()
        .map(|p| (p, true))
        .chain(fine.into_iter().map(|p| (p, false)))
    {
        info.add_pod(p.clone());
        profile.add_pod(&mut st, pod, &p, &info);
        if profile.filter_node(&st, pod, &info).is_err() {
            info.remove_pod(&p.uid);
            profile.remove_pod(&mut st, pod, &p, &info);
            pdb_violations += usize::from(violates);
            victims.push(p);
        }
    }
    Ok(Candidate {
        node: node.name.clone(),
        victims,
        pdb_violations,
    })
}

/// Upstream's `pickOneNodeForPreemption`.
pub fn pick(candidates: &[Candidate]) -> Option<&Candidate> {
    let highest = |c: &Candidate| {
        c.victims
            .iter()
            .map(|v| v.priority)
            .max()
            .unwrap_or(i32::MIN)
    };
    let sum = |c: &Candidate| {
        c.victims
            .iter()
            .map(|v| i64::from(v.priority) + i64::from(i32::MAX) + 1)
            .sum::<i64>()
    };
    // The earliest start among the highest-priority victims: later is better.
    let earliest_top = |c: &Candidate| {
        let top = highest(c);
        c.victims
            .iter()
            .filter(|v| v.priority == top)
            .filter_map(|v| start_time(v))
            .min()
    };
    candidates.iter().min_by(|a, b| {
        a.pdb_violations
            .cmp(&b.pdb_violations)
            .then_with(|| highest(a).cmp(&highest(b)))
            .then_with(|| sum(a).cmp(&sum(b)))
            .then_with(|| a.victims.len().cmp(&b.victims.len()))
            .then_with(|| earliest_top(b).cmp(&earliest_top(a)))
    })
}

/// Why the pod may not preempt at all.
fn not_eligible(pod: &PodInfo, snapshot: &Snapshot) -> Option<&'static str> {
    let policy = pod.spec().and_then(|s| s.preemption_policy.as_deref());
    if policy == Some("Never") {
        return Some("not eligible due to preemptionPolicy=Never");
    }
    let node = nominated_node(pod).and_then(|n| snapshot.get(n))?;
    let terminating = node
        .pods
        .iter()
        .any(|p| p.pod.metadata.deletion_timestamp.is_some() && p.priority < pod.priority);
    terminating.then_some("not eligible due to a terminating pod on the nominated node")
}

/// The candidates over every node preemption might help, and the others' statuses.
pub fn find_candidates(
    profile: &Profile,
    pod: &PodInfo,
    snapshot: &Snapshot,
    fit: &FitError,
    budgets: &[Budget],
) -> (Vec<Candidate>, BTreeMap<String, Status>) {
    let mut statuses = BTreeMap::new();
    let mut candidates = Vec::new();
    let state = match (&fit.pre_filter, profile.pre_filter(pod, snapshot)) {
        (None, Ok(s)) => Some(s),
        _ => None,
    };
    let mut potential = Vec::new();
    for n in &snapshot.nodes {
        let helpful = state.is_some()
            && fit
                .node_statuses
                .get(&n.name)
                .is_some_and(|s| s.code == Code::Unschedulable);
        if helpful {
            potential.push(n);
        } else {
            statuses.insert(n.name.clone(), Status::unresolvable(NAME, NOT_HELPFUL));
        }
    }
    let Some(state) = state else {
        return (candidates, statuses);
    };
    // Upstream's calculateNumCandidates: a share of the potential nodes, at least an absolute
    // number, looked at from a random offset; the search stops once that many are found.
    let (pct, abs) = profile.preemption_candidates;
    let wanted = (potential.len() * pct / 100).max(abs).min(potential.len());
    let offset = if potential.is_empty() {
        0
    } else {
        fastrand::usize(0..potential.len())
    };
    for i in 0..potential.len() {
        if candidates.len() >= wanted {
            break;
        }
        let n = potential[(offset + i) % potential.len()];
        match select_victims(profile, &state, pod, n, budgets) {
            Ok(c) => candidates.push(c),
            Err(s) => {
                statuses.insert(n.name.clone(), s);
            }
        }
    }
    (candidates, statuses)
}

/// PostFilter: the fit error with preemption's message, and the node the pod is nominated to
/// when victims are being evicted for it.
pub async fn post_filter(
    shared: &Arc<Shared>,
    profile: &Profile,
    pod: &Arc<PodInfo>,
    snapshot: &Snapshot,
    mut fit: FitError,
) -> (FitError, Option<String>) {
    if !profile.preemption || fit.error.is_some() {
        return (fit, None);
    }
    if let Some(why) = not_eligible(pod, snapshot) {
        fit.post_filter_msg = Some(format!("preemption: {why}"));
        return (fit, None);
    }
    let budgets = budgets(&shared.pdbs());
    let (mut candidates, statuses) = find_candidates(profile, pod, snapshot, &fit, &budgets);
    if let Err(e) = ask_extenders(shared, pod, &mut candidates).await {
        fit.error = Some(e);
        return (fit, None);
    }
    let Some(chosen) = pick(&candidates) else {
        let why = FitError::filter(snapshot.nodes.len(), statuses, false);
        fit.post_filter_msg = Some(format!("preemption: {}", why.message()));
        return (fit, None);
    };
    SchedulerMetrics::global().preemption(chosen.victims.len());
    let node = chosen.node.clone();
    let lower_nominated = {
        let mut nominator = shared.nominator();
        let lower = nominator.below(pod.priority, &node);
        for p in &lower {
            nominator.remove(&p.uid);
        }
        nominator.nominate(pod.clone(), &node);
        lower
    };
    shared.runtime.spawn(evict(
        shared.clone(),
        pod.clone(),
        node.clone(),
        chosen.victims.clone(),
        lower_nominated,
        profile.scheduler_name.clone(),
    ));
    (fit, Some(node))
}

/// Extenders that take part in preemption narrow the candidates (upstream's
/// `callExtenders`): each keeps the nodes it agrees with, with the victims it names.
async fn ask_extenders(
    shared: &Arc<Shared>,
    pod: &PodInfo,
    candidates: &mut Vec<Candidate>,
) -> Result<(), String> {
    for ext in shared.extenders.iter() {
        if candidates.is_empty() {
            break;
        }
        if !ext.supports_preemption() || !ext.is_interested(pod) {
            continue;
        }
        let asked: BTreeMap<String, (Vec<Arc<PodInfo>>, usize)> = candidates
            .iter()
            .map(|c| (c.node.clone(), (c.victims.clone(), c.pdb_violations)))
            .collect();
        let kept = match ext.process_preemption(&pod.pod, &asked).await {
            Ok(k) => k,
            Err(_) if ext.config.ignorable => continue,
            Err(e) => return Err(e),
        };
        let mut narrowed = Vec::new();
        for (node, (uids, pdb)) in kept {
            let Some((victims, _)) = asked.get(&node) else {
                continue;
            };
            let victims: Vec<Arc<PodInfo>> = victims
                .iter()
                .filter(|v| uids.contains(&v.uid))
                .cloned()
                .collect();
            narrowed.push(Candidate {
                node,
                victims,
                pdb_violations: pdb,
            });
        }
        *candidates = narrowed;
    }
    Ok(())
}

/// Marks each victim with the DisruptionTarget condition, deletes it, and clears the
/// nominations of lower-priority pods on the node.
async fn evict(
    shared: Arc<Shared>,
    preemptor: Arc<PodInfo>,
    node: String,
    victims: Vec<Arc<PodInfo>>,
    lower_nominated: Vec<Arc<PodInfo>>,
    scheduler_name: String,
) {
    for v in victims {
        let api: Api<Pod> = Api::namespaced(shared.client.clone(), &v.namespace);
        let condition = json!({"status": {"conditions": [{
            "type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler",
            "message": format!("{scheduler_name}: preempting to accommodate a higher priority pod"),
            "lastTransitionTime": Timestamp::now().to_string(),
        }]}});
        if let Err(e) = api
            .patch_status(
                &v.name,
                &PatchParams::default(),
                &Patch::Strategic(condition),
            )
            .await
        {
            tracing::debug!(pod = %v.key, error = %e, "could not mark the victim");
        }
        let dp = DeleteParams {
            preconditions: Some(kube::api::Preconditions {
                uid: Some(v.uid.clone()),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match api.delete(&v.name, &dp).await {
            Ok(_) => {
                shared
                    .recorder
                    .normal(
                        &v.pod,
                        "Preempted",
                        format!("Preempted by pod {} on node {node}", preemptor.uid),
                    )
                    .await;
            }
            Err(e) => tracing::debug!(pod = %v.key, error = %e, "could not delete the victim"),
        }
    }
    for p in lower_nominated {
        let api: Api<Pod> = Api::namespaced(shared.client.clone(), &p.namespace);
        let clear = json!({"status": {"nominatedNodeName": null}});
        let _ = api
            .patch_status(&p.name, &PatchParams::default(), &Patch::Merge(clear))
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SchedulerConfig;
    use crate::plugins::testing::{node, pod};
    use serde_json::json;

    fn running(name: &str, priority: i32, cpu: &str, start: &str) -> Arc<PodInfo> {
        pod(
            json!({"metadata": {"name": name, "uid": name, "labels": {"app": name}},
            "spec": {"nodeName": "n", "priority": priority, "containers": [
                {"name": "c", "resources": {"requests": {"cpu": cpu}}}]},
            "status": {"startTime": start}}),
        )
    }

    fn profile() -> Profile {
        SchedulerConfig::default()
            .build()
            .ok()
            .and_then(|mut v| v.pop())
            .unwrap_or_else(|| Profile::new("x".into(), Vec::new()))
    }

    #[test]
    fn default_preemption_picks_the_fewest_lowest_priority_victims() {
        let mut n = node(
            json!({"metadata": {"name": "n"}, "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "10"}}}),
        );
        n.add_pod(running("a", 10, "1", "2026-01-01T00:00:00Z"));
        n.add_pod(running("b", 5, "1", "2026-01-01T00:00:00Z"));
        n.add_pod(running("c", 5, "2", "2026-01-01T00:00:00Z"));
        n.add_pod(running("d", 100, "0", "2026-01-01T00:00:00Z"));
        let high = pod(
            json!({"metadata": {"name": "h", "uid": "h"}, "spec": {"priority": 50, "containers": [
            {"name": "c", "resources": {"requests": {"cpu": "2"}}}]}}),
        );
        let p = profile();
        let snap = Snapshot::new(vec![Arc::new(n.clone())]);
        let state = p.pre_filter(&high, &snap).ok();
        let c = state.and_then(|s| select_victims(&p, &s, &high, &n, &[]).ok());
        let victims: Vec<String> = c
            .map(|c| c.victims.iter().map(|v| v.name.clone()).collect())
            .unwrap_or_default();
        // Reprieve keeps `a` (highest) first, then one of the priority-5 pods: removing `c`
        // (2 cpu) alone makes room.
        assert_eq!(victims, ["c"]);
    }

    #[test]
    fn default_preemption_spares_pods_a_budget_protects_when_it_can() {
        let a = running("a", 1, "1", "2026-01-01T00:00:00Z");
        let b = running("b", 1, "1", "2026-01-01T00:00:00Z");
        let pdb: PodDisruptionBudget = serde_json::from_value(json!({
            "metadata": {"name": "pa", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "a"}}},
            "status": {"disruptionsAllowed": 0, "currentHealthy": 1, "desiredHealthy": 1, "expectedPods": 1, "observedGeneration": 1}}))
            .unwrap_or_default();
        let (violating, fine) = split_by_budget(vec![a, b], &budgets(&[Arc::new(pdb)]));
        assert_eq!(
            violating
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>(),
            ["a"]
        );
        assert_eq!(
            fine.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
            ["b"]
        );
    }

    #[test]
    fn default_preemption_picks_nodes_by_upstreams_criteria() {
        let c = |node: &str, prios: &[i32], pdb: usize| Candidate {
            node: node.into(),
            victims: prios
                .iter()
                .enumerate()
                .map(|(i, p)| running(&format!("{node}{i}"), *p, "1", "2026-01-01T00:00:00Z"))
                .collect(),
            pdb_violations: pdb,
        };
        let name = |cs: &[Candidate]| pick(cs).map(|c| c.node.clone()).unwrap_or_default();
        assert_eq!(
            name(&[c("x", &[1], 1), c("y", &[5, 5], 0)]),
            "y",
            "fewest PDB violations"
        );
        assert_eq!(
            name(&[c("x", &[7], 0), c("y", &[5, 5], 0)]),
            "y",
            "lowest highest priority"
        );
        assert_eq!(
            name(&[c("x", &[5, 5], 0), c("y", &[5, 1], 0)]),
            "y",
            "lowest sum"
        );
        assert_eq!(
            name(&[c("x", &[5, 5, 5], 0), c("y", &[5, 5], 0)]),
            "y",
            "lowest sum, fewest victims"
        );
    }

    #[test]
    fn a_pod_that_never_preempts_says_so() {
        let never = pod(json!({"spec": {"preemptionPolicy": "Never"}}));
        assert_eq!(
            not_eligible(&never, &Snapshot::default()),
            Some("not eligible due to preemptionPolicy=Never")
        );
    }
}
