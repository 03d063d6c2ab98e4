//! The RollingUpdate strategy, as upstream's daemonset `rollingUpdate` decides a step: which
//! out-of-date pods to delete and on which nodes to start new ones. Without surge, old pods are
//! deleted (the manage loop then creates their replacements) while fewer than `maxUnavailable`
//! nodes are unavailable, old pods that are not available anyway going first; with `maxSurge`,
//! a new pod starts beside an old one on up to `maxSurge` nodes at once (at once where the old
//! one is unavailable) and the old one goes when the new one is available.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::history::HASH_LABEL;
use super::placement::node_should_run;
use crate::pod_state::is_available;

/// The daemon pods of a DaemonSet by the node they are for.
pub type NodePods = BTreeMap<String, Vec<Arc<Pod>>>;

/// The label holding the template generation a pod was made from.
pub const GENERATION_LABEL: &str = "pod-template-generation";
/// The DaemonSet annotation holding its template generation (apps/v1's home for the field).
pub const GENERATION_ANNOTATION: &str = "deprecated.daemonset.template.generation";

/// The DaemonSet's template generation, if the annotation holds a number.
pub fn template_generation(ds: &DaemonSet) -> Option<i64> {
    ds.annotations().get(GENERATION_ANNOTATION)?.parse().ok()
}

/// Whether the pod was made from the current template: its revision hash, or (for pods of old
/// controllers) its template generation, is the current one.
pub fn is_updated(pod: &Pod, hash: &str, generation: Option<i64>) -> bool {
    let labels = pod.labels();
    let by_generation =
        generation.is_some_and(|g| labels.get(GENERATION_LABEL) == Some(&g.to_string()));
    let by_hash = !hash.is_empty() && labels.get(HASH_LABEL).map(String::as_str) == Some(hash);
    by_hash || by_generation
}

fn rolling(ds: &DaemonSet) -> Option<&k8s_openapi::api::apps::v1::RollingUpdateDaemonSet> {
    let strategy = ds.spec.as_ref()?.update_strategy.as_ref()?;
    if strategy.type_.as_deref().unwrap_or("RollingUpdate") != "RollingUpdate" {
        return None;
    }
    strategy.rolling_update.as_ref()
}

/// An int or a percentage of `total`, rounded up (upstream's GetScaledValueFromIntOrPercent);
/// a malformed percentage counts as 0.
fn scaled(v: Option<&IntOrString>, total: usize) -> usize {
    match v {
        None => 0,
        Some(IntOrString::Int(i)) => (*i).max(0) as usize,
        Some(IntOrString::String(s)) => s
            .strip_suffix('%')
            .and_then(|p| p.parse::<usize>().ok())
            .map(|p| (p * total).div_ceil(100))
            .unwrap_or(0),
    }
}

/// `maxSurge` resolved against `total` nodes (0 unless rolling with a surge).
pub fn surge_count(ds: &DaemonSet, total: usize) -> usize {
    rolling(ds).map_or(0, |r| scaled(r.max_surge.as_ref(), total))
}

/// `maxUnavailable` resolved against `total` nodes.
pub fn unavailable_count(ds: &DaemonSet, total: usize) -> usize {
    rolling(ds).map_or(0, |r| scaled(r.max_unavailable.as_ref(), total))
}

/// Whether more than one pod may run on a node (during a surge).
pub fn allows_surge(ds: &DaemonSet) -> bool {
    surge_count(ds, 1) > 0
}

/// Among the live pods of a node, the one new and the one old pod; `None` when there are more
/// of either (the manage loop prunes those first).
fn updated_and_old<'a>(
    pods: &'a [Arc<Pod>],
    hash: &str,
    generation: Option<i64>,
) -> Option<(Option<&'a Pod>, Option<&'a Pod>)> {
    let (mut new, mut old) = (None, None);
    for p in pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
    {
        let slot = if is_updated(p, hash, generation) {
            &mut new
        } else {
            &mut old
        };
        if slot.is_some() {
            return None;
        }
        *slot = Some(p.as_ref());
    }
    Some((new, old))
}

/// One step of the rollout: the pods to delete and the nodes to start a pod on.
pub fn step(
    ds: &DaemonSet,
    nodes: &[Arc<Node>],
    node_pods: &NodePods,
    hash: &str,
    now: Timestamp,
) -> (Vec<String>, Vec<String>) {
    let min_ready = ds
        .spec
        .as_ref()
        .and_then(|s| s.min_ready_seconds)
        .unwrap_or(0);
    let generation = template_generation(ds);
    let available = |p: &Pod| is_available(p, min_ready, now);
    // Nodes that should run a pod but have none count too.
    let mut node_pods = node_pods.clone();
    let mut desired = 0;
    for n in nodes {
        if node_should_run(n, ds).0 {
            desired += 1;
            node_pods.entry(n.name_any()).or_default();
        }
    }
    let mut max_unavailable = unavailable_count(ds, desired);
    let max_surge = surge_count(ds, desired);
    // An impossible configuration (both 0) rolls one at a time.
    if desired > 0 && max_unavailable == 0 && max_surge == 0 {
        max_unavailable = 1;
    }
    let should_run = |name: &str| {
        nodes
            .iter()
            .find(|n| n.name_any() == name)
            .map(|n| node_should_run(n, ds).0)
    };

    if max_surge == 0 {
        let mut unavailable = 0;
        let (mut replacements, mut candidates) = (Vec::new(), Vec::new());
        for pods in node_pods.values() {
            match updated_and_old(pods, hash, generation) {
                None | Some((None, None)) | Some((Some(_), Some(_))) => unavailable += 1,
                Some((Some(new), None)) => {
                    if !available(new) {
                        unavailable += 1;
                    }
                }
                Some((None, Some(old))) => {
                    if !available(old) {
                        replacements.push(old.name_any());
                        unavailable += 1;
                    } else if unavailable < max_unavailable {
                        candidates.push(old.name_any());
                    }
                }
            }
        }
        let room = max_unavailable
            .saturating_sub(unavailable)
            .min(candidates.len());
        replacements.extend(candidates.into_iter().take(room));
        return (replacements, Vec::new());
    }

    let mut delete = Vec::new();
    let mut should_not_run = Vec::new();
    let (mut candidates, mut allowed) = (Vec::new(), Vec::new());
    let (mut surging, mut available_count) = (0usize, 0usize);
    for (node, pods) in &node_pods {
        let Some((new, old)) = updated_and_old(pods, hash, generation) else {
            surging += 1;
            continue;
        };
        if let Some(p) = old.or(new) {
            if available(p) {
                available_count += 1;
            }
        }
        match (new, old) {
            (_, None) => {}
            (None, Some(old)) => {
                // A pod for a node gone from the cache: nothing to surge onto.
                let Some(runs) = should_run(node) else {
                    continue;
                };
                if !available(old) {
                    if runs {
                        allowed.push(node.clone());
                    } else {
                        delete.push(old.name_any());
                    }
                } else if !runs {
                    should_not_run.push(old.name_any());
                } else if surging < max_surge {
                    candidates.push(node.clone());
                }
            }
            (Some(new), Some(old)) => {
                if available(new) {
                    delete.push(old.name_any());
                } else {
                    surging += 1;
                }
            }
        }
    }
    // Pods on nodes that no longer fit go only once their replacements elsewhere are up.
    let deletable = available_count
        .saturating_sub(desired)
        .min(should_not_run.len());
    delete.extend(should_not_run.into_iter().take(deletable));
    let room = max_surge.saturating_sub(surging).min(candidates.len());
    allowed.extend(candidates.into_iter().take(room));
    (delete, allowed)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::{json, Value};

    fn ds(strategy: Value) -> DaemonSet {
        serde_json::from_value(json!({"metadata": {"name": "d"}, "spec": {
            "selector": {"matchLabels": {"a": "b"}}, "updateStrategy": strategy,
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": []}}}}))
        .unwrap()
    }

    fn node(name: &str) -> Arc<Node> {
        Arc::new(serde_json::from_value(json!({"metadata": {"name": name}})).unwrap())
    }

    fn pod(name: &str, hash: &str, ready: bool) -> Arc<Pod> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": name, "labels": {HASH_LABEL: hash}},
                "status": {"conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" },
                    "lastTransitionTime": "2020-01-01T00:00:00Z"}]}}))
            .unwrap(),
        )
    }

    fn rolling(surge: i32, unavailable: Value) -> Value {
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}})
    }

    #[test]
    fn without_surge_old_pods_go_within_max_unavailable() {
        let nodes: Vec<_> = ["a", "b", "c", "d"].map(node).to_vec();
        let mut pods = NodePods::new();
        for n in ["a", "b", "c", "d"] {
            pods.insert(n.into(), vec![pod(&format!("p-{n}"), "old", true)]);
        }
        let (del, new) = step(
            &ds(rolling(0, json!(2))),
            &nodes,
            &pods,
            "new",
            Timestamp::now(),
        );
        assert_eq!(del, ["p-a", "p-b"]);
        assert!(new.is_empty());
        // A new pod not yet available uses up one of the two.
        pods.insert("a".into(), vec![pod("q-a", "new", false)]);
        let (del, _) = step(
            &ds(rolling(0, json!(2))),
            &nodes,
            &pods,
            "new",
            Timestamp::now(),
        );
        assert_eq!(del, ["p-b"]);
        // An unavailable old pod is replaced whatever the budget.
        pods.insert("d".into(), vec![pod("p-d", "old", false)]);
        let (del, _) = step(
            &ds(rolling(0, json!(1))),
            &nodes,
            &pods,
            "new",
            Timestamp::now(),
        );
        assert_eq!(del, ["p-d"]);
        // A node that should run a pod but has none counts as unavailable.
        let (del, _) = step(
            &ds(rolling(0, json!("25%"))),
            &[nodes.clone(), vec![node("e")]].concat(),
            &NodePods::from([("b".to_string(), vec![pod("p-b", "old", true)])]),
            "new",
            Timestamp::now(),
        );
        // 25% of 5 rounds up to 2; a, c, d and e have no pod: 4 unavailable already.
        assert!(del.is_empty());
    }

    #[test]
    fn with_surge_new_pods_start_beside_old_ones_which_go_once_replaced() {
        let nodes: Vec<_> = ["a", "b", "c"].map(node).to_vec();
        let mut pods = NodePods::new();
        for n in ["a", "b", "c"] {
            pods.insert(n.into(), vec![pod(&format!("p-{n}"), "old", true)]);
        }
        let d = ds(rolling(1, json!(0)));
        let (del, new) = step(&d, &nodes, &pods, "new", Timestamp::now());
        assert!(del.is_empty());
        assert_eq!(new, ["a"]);
        pods.get_mut("a").unwrap().push(pod("q-a", "new", false));
        let (del, new) = step(&d, &nodes, &pods, "new", Timestamp::now());
        assert!(del.is_empty() && new.is_empty());
        pods.insert(
            "a".into(),
            vec![pod("p-a", "old", true), pod("q-a", "new", true)],
        );
        let (del, new) = step(&d, &nodes, &pods, "new", Timestamp::now());
        assert_eq!(del, ["p-a"]);
        assert_eq!(new, ["b"]);
    }

    #[test]
    fn percentages_round_up_and_on_delete_resolves_to_nothing() {
        assert_eq!(unavailable_count(&ds(rolling(0, json!("10%"))), 11), 2);
        assert_eq!(surge_count(&ds(rolling(0, json!(1))), 11), 0);
        assert!(!allows_surge(&ds(json!({"type": "OnDelete"}))));
        assert!(allows_surge(&ds(rolling(1, json!(0)))));
    }
}
