//! Zone disruption, as the node lifecycle controller judges it before tainting nodes
//! NoExecute: nodes are grouped by their region and zone labels; a zone with no Ready node is
//! fully disrupted, one with more than two nodes not Ready and at least 55 % of them not Ready
//! is partially disrupted. When every zone is fully disrupted the fault is more likely the
//! control plane's view than the nodes, so no node is tainted (and the taints are lifted); a
//! partially disrupted small zone (50 nodes or fewer) is not tainted either.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::Node;

/// `--unhealthy-zone-threshold`.
const UNHEALTHY_ZONE_THRESHOLD: f64 = 0.55;
/// `--large-cluster-size-threshold`: a partially disrupted zone this size or smaller stops
/// evicting altogether (`--secondary-node-eviction-rate` applies only above it).
const LARGE_CLUSTER_THRESHOLD: usize = 50;
/// Nodes labelled with this are left out of the count.
const EXCLUDE_DISRUPTION: &str = "node.kubernetes.io/exclude-disruption";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZoneState {
    Normal,
    PartialDisruption,
    FullDisruption,
}

/// The zone a node is in (upstream's GetZoneKey): region and zone, or "" for neither.
pub fn zone_key(node: &Node) -> String {
    let labels = node.metadata.labels.as_ref();
    let label = |stable: &str, beta: &str| {
        labels
            .and_then(|l| l.get(stable).or_else(|| l.get(beta)))
            .cloned()
            .unwrap_or_default()
    };
    let region = label(
        "topology.kubernetes.io/region",
        "failure-domain.beta.kubernetes.io/region",
    );
    let zone = label(
        "topology.kubernetes.io/zone",
        "failure-domain.beta.kubernetes.io/zone",
    );
    if region.is_empty() && zone.is_empty() {
        return String::new();
    }
    format!("{region}:\x00:{zone}")
}

pub fn excluded(node: &Node) -> bool {
    node.metadata
        .labels
        .as_ref()
        .is_some_and(|l| l.contains_key(EXCLUDE_DISRUPTION))
}

/// A zone's state from its nodes' Ready statuses.
pub fn zone_state(ready: &[bool]) -> ZoneState {
    let up = ready.iter().filter(|r| **r).count();
    let down = ready.len() - up;
    if up == 0 && down > 0 {
        ZoneState::FullDisruption
    } else if down > 2 && down as f64 / ready.len() as f64 >= UNHEALTHY_ZONE_THRESHOLD {
        ZoneState::PartialDisruption
    } else {
        ZoneState::Normal
    }
}

/// Every zone's state, from (zone, ready) per node counted.
pub fn zone_states(nodes: &[(String, bool)]) -> HashMap<String, (ZoneState, usize)> {
    let mut by_zone: HashMap<String, Vec<bool>> = HashMap::new();
    for (zone, ready) in nodes {
        by_zone.entry(zone.clone()).or_default().push(*ready);
    }
    by_zone
        .into_iter()
        .map(|(z, r)| (z, (zone_state(&r), r.len())))
        .collect()
}

/// Whether every zone is fully disrupted (and there is at least one).
pub fn all_fully_disrupted(states: &HashMap<String, (ZoneState, usize)>) -> bool {
    !states.is_empty()
        && states
            .values()
            .all(|(s, _)| *s == ZoneState::FullDisruption)
}

/// Whether nodes of a zone in `state` with `size` nodes may be tainted NoExecute now.
pub fn may_taint(state: ZoneState, size: usize, all_disrupted: bool) -> bool {
    match state {
        ZoneState::Normal => true,
        ZoneState::FullDisruption => !all_disrupted,
        ZoneState::PartialDisruption => size > LARGE_CLUSTER_THRESHOLD,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_are_judged_by_how_many_nodes_are_not_ready() {
        assert_eq!(zone_state(&[false]), ZoneState::FullDisruption);
        assert_eq!(zone_state(&[true, false]), ZoneState::Normal);
        assert_eq!(zone_state(&[true, false, false]), ZoneState::Normal);
        assert_eq!(
            zone_state(&[true, true, false, false, false]),
            ZoneState::PartialDisruption
        );
        assert_eq!(zone_state(&[]), ZoneState::Normal);
    }

    #[test]
    fn nothing_is_tainted_when_every_zone_is_down() {
        let states = zone_states(&[("a".into(), false), ("b".into(), false)]);
        assert!(all_fully_disrupted(&states));
        assert!(!may_taint(ZoneState::FullDisruption, 1, true));
        let states = zone_states(&[("a".into(), false), ("b".into(), true)]);
        assert!(!all_fully_disrupted(&states));
        assert!(may_taint(states["a"].0, 1, false));
        assert!(!may_taint(ZoneState::PartialDisruption, 10, false));
        assert!(may_taint(ZoneState::PartialDisruption, 51, false));
    }
}
