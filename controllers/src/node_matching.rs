//! How a pod's placement rules read against a node, shared by the DaemonSet controller and the
//! scheduler (upstream's component-helpers `scheduling/corev1`): tolerations against taints, and
//! the nodeSelector with required node affinity against a node's labels and name.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Node, NodeSelectorRequirement, NodeSelectorTerm, PodSpec, Taint, Toleration,
};

/// The node field a matchFields term may name.
pub const NODE_NAME_FIELD: &str = "metadata.name";

/// Upstream's ToleratesTaint: an empty effect or key matches any; `Exists` any value,
/// `Equal` (or no operator) the same value.
pub fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    let effect = t.effect.as_deref().unwrap_or_default();
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = t.key.as_deref().unwrap_or_default();
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match t.operator.as_deref().unwrap_or_default() {
        "" | "Equal" => {
            t.value.as_deref().unwrap_or_default() == taint.value.as_deref().unwrap_or_default()
        }
        "Exists" => true,
        _ => false,
    }
}

/// The pod's nodeSelector and required node affinity against the node (upstream's
/// GetRequiredNodeAffinity(pod).Match(node)).
pub fn fits_affinity(spec: &PodSpec, node: &Node) -> bool {
    let empty = BTreeMap::new();
    let labels = node.metadata.labels.as_ref().unwrap_or(&empty);
    if let Some(selector) = &spec.node_selector {
        if !selector.iter().all(|(k, v)| labels.get(k) == Some(v)) {
            return false;
        }
    }
    let required = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        });
    match required {
        None => true,
        Some(sel) => {
            let name = node.metadata.name.as_deref().unwrap_or_default();
            sel.node_selector_terms
                .iter()
                .any(|t| term_matches(t, labels, name))
        }
    }
}

/// A term matches when it has requirements and all hold; an invalid one matches nothing.
pub fn term_matches(
    term: &NodeSelectorTerm,
    labels: &BTreeMap<String, String>,
    name: &str,
) -> bool {
    let exprs = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if exprs.is_empty() && fields.is_empty() {
        return false;
    }
    exprs
        .iter()
        .all(|r| label_requirement(r, labels) == Some(true))
        && fields
            .iter()
            .all(|r| field_requirement(r, name) == Some(true))
}

/// One matchExpressions requirement against the labels; `None` when it is invalid.
pub fn label_requirement(
    r: &NodeSelectorRequirement,
    labels: &BTreeMap<String, String>,
) -> Option<bool> {
    let values = r.values.as_deref().unwrap_or_default();
    let value = labels.get(&r.key);
    let number = |s: &str| s.parse::<i64>().ok();
    match r.operator.as_str() {
        "In" if !values.is_empty() => Some(value.is_some_and(|v| values.contains(v))),
        "NotIn" if !values.is_empty() => Some(value.is_none_or(|v| !values.contains(v))),
        "Exists" if values.is_empty() => Some(value.is_some()),
        "DoesNotExist" if values.is_empty() => Some(value.is_none()),
        "Gt" | "Lt" if values.len() == 1 => {
            let bound = number(&values[0])?;
            let have = value.and_then(|v| number(v));
            Some(have.is_some_and(|h| {
                if r.operator == "Gt" {
                    h > bound
                } else {
                    h < bound
                }
            }))
        }
        _ => None,
    }
}

/// One matchFields requirement (only `metadata.name`, with In or NotIn) against the node name.
pub fn field_requirement(r: &NodeSelectorRequirement, name: &str) -> Option<bool> {
    if r.key != NODE_NAME_FIELD {
        return None;
    }
    let values = r.values.as_deref().unwrap_or_default();
    match r.operator.as_str() {
        "In" if !values.is_empty() => Some(values.iter().any(|v| v == name)),
        "NotIn" if !values.is_empty() => Some(!values.iter().any(|v| v == name)),
        _ => None,
    }
}
