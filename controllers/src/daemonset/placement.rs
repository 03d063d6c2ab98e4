//! Which nodes a DaemonSet's pods belong on, as upstream's `NodeShouldRunDaemonPod` judges it:
//! the template's `nodeName`, `nodeSelector` and required node affinity must match the node,
//! and its tolerations (with the defaults every daemon pod gets) must tolerate the node's
//! NoSchedule and NoExecute taints — a node whose only untolerated taints are NoSchedule keeps
//! the pods it has. Also how a pod is pinned to its node for the scheduler (a required
//! `matchFields metadata.name In [node]` term) and how the node a pod is for is read back.

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{
    Affinity, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod,
    PodSpec, Taint, Toleration,
};

pub use crate::node_matching::NODE_NAME_FIELD;
use crate::node_matching::{fits_affinity, tolerates};

/// The tolerations every daemon pod gets, so node problems neither evict nor keep it off
/// (upstream's AddOrUpdateDaemonPodTolerations); the last only for host-network pods.
const DEFAULT_TOLERATIONS: &[(&str, &str)] = &[
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
];
const NETWORK_UNAVAILABLE: (&str, &str) = ("node.kubernetes.io/network-unavailable", "NoSchedule");

/// Adds the default daemon tolerations to `spec`: one that matches a default by key, operator,
/// value and effect is replaced by it (so it loses any tolerationSeconds), others are kept.
pub fn add_default_tolerations(spec: &mut PodSpec) {
    let host_network = spec.host_network == Some(true);
    let extra = host_network.then_some(NETWORK_UNAVAILABLE);
    for (key, effect) in DEFAULT_TOLERATIONS.iter().copied().chain(extra) {
        add_or_update_toleration(
            spec,
            Toleration {
                key: Some(key.into()),
                operator: Some("Exists".into()),
                effect: Some(effect.into()),
                ..Toleration::default()
            },
        );
    }
}

/// Upstream's AddOrUpdateTolerationInPodSpec.
fn add_or_update_toleration(spec: &mut PodSpec, toleration: Toleration) {
    let list = spec.tolerations.get_or_insert_with(Vec::new);
    let same = |t: &Toleration| {
        t.key == toleration.key
            && t.effect == toleration.effect
            && t.operator == toleration.operator
            && t.value == toleration.value
    };
    match list.iter_mut().find(|t| same(t)) {
        Some(existing) => *existing = toleration,
        None => list.push(toleration),
    }
}

/// Whether the DaemonSet should start a pod on `node`, and whether a pod already there may
/// stay (it may when only NoSchedule taints are untolerated).
pub fn node_should_run(node: &Node, ds: &DaemonSet) -> (bool, bool) {
    let Some(template) = ds.spec.as_ref().map(|s| &s.template) else {
        return (false, false);
    };
    let mut spec = template.spec.clone().unwrap_or_default();
    add_default_tolerations(&mut spec);
    let node_name = node.metadata.name.as_deref().unwrap_or_default();
    if spec
        .node_name
        .as_deref()
        .is_some_and(|n| !n.is_empty() && n != node_name)
    {
        return (false, false);
    }
    if !fits_affinity(&spec, node) {
        return (false, false);
    }
    let taints: &[Taint] = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_deref())
        .unwrap_or_default();
    let tolerations: &[Toleration] = spec.tolerations.as_deref().unwrap_or_default();
    let blocks = |t: &Taint| t.effect == "NoSchedule" || t.effect == "NoExecute";
    if untolerated(taints, tolerations, blocks) {
        let evicts = |t: &Taint| t.effect == "NoExecute";
        return (false, !untolerated(taints, tolerations, evicts));
    }
    (true, true)
}

/// Whether a taint the filter picks is tolerated by none of the tolerations.
fn untolerated(
    taints: &[Taint],
    tolerations: &[Toleration],
    filter: impl Fn(&Taint) -> bool,
) -> bool {
    taints
        .iter()
        .filter(|t| filter(t))
        .any(|taint| !tolerations.iter().any(|t| tolerates(t, taint)))
}

/// The affinity that pins a pod to `node` for the scheduler: the required node selector
/// becomes the single term `matchFields metadata.name In [node]` (the controller checked the
/// rest already); preferred terms and pod (anti-)affinity are kept.
pub fn pin_to_node(affinity: Option<Affinity>, node: &str) -> Affinity {
    let term = NodeSelectorTerm {
        match_fields: Some(vec![NodeSelectorRequirement {
            key: NODE_NAME_FIELD.into(),
            operator: "In".into(),
            values: Some(vec![node.into()]),
        }]),
        match_expressions: None,
    };
    let mut affinity = affinity.unwrap_or_default();
    let node_affinity = affinity
        .node_affinity
        .get_or_insert_with(NodeAffinity::default);
    match node_affinity
        .required_during_scheduling_ignored_during_execution
        .as_mut()
    {
        Some(required) => required.node_selector_terms = vec![term],
        None => {
            node_affinity.required_during_scheduling_ignored_during_execution = Some(NodeSelector {
                node_selector_terms: vec![term],
            })
        }
    }
    affinity
}

/// The node a daemon pod is for: its `spec.nodeName` once bound, else the one node its
/// required `matchFields metadata.name In` term names (upstream's GetTargetNodeName); `None`
/// when neither says (such a pod is ignored).
pub fn target_node(pod: &Pod) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    if let Some(n) = spec.node_name.as_deref().filter(|n| !n.is_empty()) {
        return Some(n.to_string());
    }
    let terms = &spec
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms;
    let req = terms
        .iter()
        .flat_map(|t| t.match_fields.as_deref().unwrap_or_default())
        .find(|r| r.key == NODE_NAME_FIELD && r.operator == "In")?;
    match req.values.as_deref() {
        Some([one]) => Some(one.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::{json, Value};

    fn node(name: &str, labels: Value, taints: Value) -> Node {
        serde_json::from_value(json!({"metadata": {"name": name, "labels": labels},
            "spec": {"taints": taints}}))
        .unwrap()
    }

    fn ds(pod_spec: Value) -> DaemonSet {
        let mut spec = json!({"containers": [{"name": "c", "image": "i"}]});
        if let (Some(s), Some(extra)) = (spec.as_object_mut(), pod_spec.as_object()) {
            s.extend(extra.clone());
        }
        serde_json::from_value(json!({"metadata": {"name": "d"}, "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": spec}}}))
        .unwrap()
    }

    #[test]
    fn node_selector_and_required_affinity_pick_nodes() {
        let n = node("n1", json!({"zone": "a", "cpus": "8"}), json!([]));
        assert_eq!(node_should_run(&n, &ds(json!({}))), (true, true));
        assert_eq!(
            node_should_run(&n, &ds(json!({"nodeSelector": {"zone": "b"}}))),
            (false, false)
        );
        let affinity = |exprs: Value, fields: Value| {
            json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
                {"nodeSelectorTerms": [{"matchExpressions": exprs, "matchFields": fields}]}}}})
        };
        let gt = affinity(
            json!([{"key": "cpus", "operator": "Gt", "values": ["4"]}]),
            json!([]),
        );
        assert!(node_should_run(&n, &ds(gt)).0);
        let lt = affinity(
            json!([{"key": "cpus", "operator": "Lt", "values": ["4"]}]),
            json!([]),
        );
        assert!(!node_should_run(&n, &ds(lt)).0);
        let name = affinity(
            json!([]),
            json!([{"key": "metadata.name", "operator": "In", "values": ["n1"]}]),
        );
        assert!(node_should_run(&n, &ds(name)).0);
        let other = affinity(
            json!([]),
            json!([{"key": "metadata.name", "operator": "NotIn", "values": ["n1"]}]),
        );
        assert!(!node_should_run(&n, &ds(other)).0);
        assert!(!node_should_run(&n, &ds(affinity(json!([]), json!([])))).0);
        assert!(!node_should_run(&n, &ds(json!({"nodeName": "n2"}))).0);
    }

    #[test]
    fn untolerated_taints_keep_new_pods_off_and_no_execute_evicts() {
        let no_schedule = node(
            "n",
            json!({}),
            json!([{"key": "k", "value": "v", "effect": "NoSchedule"}]),
        );
        assert_eq!(node_should_run(&no_schedule, &ds(json!({}))), (false, true));
        let no_execute = node("n", json!({}), json!([{"key": "k", "effect": "NoExecute"}]));
        assert_eq!(node_should_run(&no_execute, &ds(json!({}))), (false, false));
        let prefer = node(
            "n",
            json!({}),
            json!([{"key": "k", "effect": "PreferNoSchedule"}]),
        );
        assert_eq!(node_should_run(&prefer, &ds(json!({}))), (true, true));
        let tolerated =
            ds(json!({"tolerations": [{"key": "k", "operator": "Equal", "value": "v"}]}));
        assert_eq!(node_should_run(&no_schedule, &tolerated), (true, true));
        let all = ds(json!({"tolerations": [{"operator": "Exists"}]}));
        assert_eq!(node_should_run(&no_execute, &all), (true, true));
        // The defaults: a node that is not ready or unschedulable still runs daemon pods.
        let sick = node(
            "n",
            json!({}),
            json!([
            {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"},
            {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]),
        );
        assert_eq!(node_should_run(&sick, &ds(json!({}))), (true, true));
        let no_net = node(
            "n",
            json!({}),
            json!([
            {"key": "node.kubernetes.io/network-unavailable", "effect": "NoSchedule"}]),
        );
        assert!(!node_should_run(&no_net, &ds(json!({}))).0);
        assert!(node_should_run(&no_net, &ds(json!({"hostNetwork": true}))).0);
    }

    #[test]
    fn default_tolerations_replace_matching_ones_and_keep_others() {
        let mut spec: PodSpec = serde_json::from_value(json!({"containers": [], "tolerations": [
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30},
            {"key": "mine", "operator": "Exists"}]}))
        .unwrap();
        add_default_tolerations(&mut spec);
        let t = spec.tolerations.unwrap();
        assert_eq!(t.len(), 7);
        assert_eq!(t[0].toleration_seconds, None);
        assert_eq!(t[1].key.as_deref(), Some("mine"));
    }

    #[test]
    fn a_pod_is_pinned_by_a_match_fields_term_and_read_back() {
        let old: Affinity = serde_json::from_value(json!({"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]},
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 1, "preference": {"matchExpressions": [{"key": "x", "operator": "Exists"}]}}]}}))
        .unwrap();
        let pinned = pin_to_node(Some(old), "n7");
        let v = serde_json::to_value(&pinned).unwrap();
        assert_eq!(
            v["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"],
            json!({"nodeSelectorTerms": [{"matchFields": [
                {"key": "metadata.name", "operator": "In", "values": ["n7"]}]}]})
        );
        assert!(v["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"].is_array());
        let mut pod = Pod {
            spec: Some(PodSpec {
                affinity: Some(pin_to_node(None, "n3")),
                ..PodSpec::default()
            }),
            ..Pod::default()
        };
        assert_eq!(target_node(&pod).as_deref(), Some("n3"));
        if let Some(s) = pod.spec.as_mut() {
            s.node_name = Some("bound".into());
        }
        assert_eq!(target_node(&pod).as_deref(), Some("bound"));
        assert_eq!(target_node(&Pod::default()), None);
    }
}
