//! NodeAffinity: the pod's `nodeSelector` and required node affinity must match the node (and
//! the profile's `addedAffinity`, when configured); its preferred terms add their weights to
//! the nodes they match. A required affinity whose every term pins `metadata.name` narrows the
//! nodes filtered to those names in PreFilter, as DaemonSet pods are pinned.

use std::collections::BTreeSet;

use capstan_controllers::node_matching::{fits_affinity, term_matches, NODE_NAME_FIELD};
use k8s_openapi::api::core::v1::{NodeSelector, PodSpec};

use crate::framework::{default_normalize, Plugin, PluginState, Points, PreFiltered, Status};
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;
use crate::snapshot::Snapshot;

pub const NAME: &str = "NodeAffinity";
pub const REASON: &str = "node(s) didn't match Pod's node affinity/selector";
pub const ENFORCED_REASON: &str = "node(s) didn't match scheduler-enforced node affinity";

#[derive(Default)]
pub struct NodeAffinity {
    /// NodeAffinityArgs' `addedAffinity.requiredDuringSchedulingIgnoredDuringExecution`.
    pub added: Option<NodeSelector>,
    /// Its preferred terms (weight, term).
    pub added_preferred: Vec<k8s_openapi::api::core::v1::PreferredSchedulingTerm>,
}

/// The node names every required term pins with `metadata.name In`, when all of them do.
fn pinned_names(spec: &PodSpec) -> Option<BTreeSet<String>> {
    let terms = &spec
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms;
    let mut names = BTreeSet::new();
    for t in terms {
        let pin = t
            .match_fields
            .iter()
            .flatten()
            .find(|f| f.key == NODE_NAME_FIELD && f.operator == "In")?;
        names.extend(pin.values.iter().flatten().cloned());
    }
    (!terms.is_empty()).then_some(names)
}

impl Plugin for NodeAffinity {
    fn name(&self) -> &'static str {
        NAME
    }

    fn points(&self) -> Points {
        Points::FILTER.with_pre_filter().with_score()
    }

    fn pre_filter(&self, pod: &PodInfo, _: &Snapshot) -> Result<PreFiltered, Status> {
        let Some(names) = pod.spec().and_then(pinned_names) else {
            // No nodeSelector, no required affinity, no enforced affinity: nothing to filter.
            if self.added.is_none() && !pod.has_node_constraints {
                return Ok(PreFiltered::skip());
            }
            return Ok(PreFiltered::default());
        };
        if names.is_empty() {
            return Err(Status::unresolvable(NAME, REASON));
        }
        Ok(PreFiltered {
            nodes: Some(names),
            ..PreFiltered::default()
        })
    }

    fn filter(
        &self,
        _: Option<&dyn PluginState>,
        pod: &PodInfo,
        node: &NodeInfo,
    ) -> Result<(), Status> {
        if let Some(added) = &self.added {
            if !added
                .node_selector_terms
                .iter()
                .any(|t| term_matches(t, node.labels(), &node.name))
            {
                return Err(Status::unresolvable(NAME, ENFORCED_REASON));
            }
        }
        if !pod.has_node_constraints {
            return Ok(());
        }
        let fits = pod.spec().is_none_or(|s| fits_affinity(s, &node.node));
        if fits {
            Ok(())
        } else {
            Err(Status::unresolvable(NAME, REASON))
        }
    }

    fn pre_score(
        &self,
        pod: &PodInfo,
        _: &Snapshot,
        _: &[std::sync::Arc<NodeInfo>],
    ) -> Result<Option<Box<dyn PluginState>>, Status> {
        let preferred = pod
            .spec()
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|a| {
                a.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            })
            .is_some_and(|p| !p.is_empty());
        Ok((preferred || !self.added_preferred.is_empty()).then(|| Box::new(()) as _))
    }

    fn score(&self, _: Option<&dyn PluginState>, pod: &PodInfo, node: &NodeInfo) -> i64 {
        let preferred = pod
            .spec()
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|a| {
                a.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            });
        preferred
            .into_iter()
            .flatten()
            .chain(self.added_preferred.iter())
            .filter(|p| p.weight != 0 && term_matches(&p.preference, node.labels(), &node.name))
            .map(|p| i64::from(p.weight))
            .sum()
    }

    fn normalize(&self, _: Option<&dyn PluginState>, scores: &mut [i64]) {
        default_normalize(scores, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testing::{node, pod};
    use serde_json::json;

    #[test]
    fn node_affinity_filters_on_node_selector_and_required_terms() {
        let ssd = node(json!({"metadata": {"name": "a", "labels": {"disk": "ssd", "zone": "z1"}}}));
        let hdd = node(json!({"metadata": {"name": "b", "labels": {"disk": "hdd"}}}));
        let by_selector = pod(json!({"spec": {"nodeSelector": {"disk": "ssd"}}}));
        assert!(NodeAffinity::default()
            .filter(None, &by_selector, &ssd)
            .is_ok());
        let err = NodeAffinity::default()
            .filter(None, &by_selector, &hdd)
            .err();
        assert_eq!(err.map(|e| e.message()), Some(REASON.to_string()));
        let by_terms = pod(
            json!({"spec": {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["z1", "z2"]}]}]}}}}}),
        );
        assert!(NodeAffinity::default()
            .filter(None, &by_terms, &ssd)
            .is_ok());
        assert!(NodeAffinity::default()
            .filter(None, &by_terms, &hdd)
            .is_err());
    }

    #[test]
    fn node_affinity_pre_filter_narrows_to_pinned_names() {
        let pinned = pod(
            json!({"spec": {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n7"]}]}]}}}}}),
        );
        let out = NodeAffinity::default()
            .pre_filter(&pinned, &Snapshot::default())
            .ok();
        let names = out.and_then(|o| o.nodes).unwrap_or_default();
        assert_eq!(names.into_iter().collect::<Vec<_>>(), ["n7"]);
    }

    #[test]
    fn node_affinity_scores_preferred_weights_normalized() {
        let p = pod(
            json!({"spec": {"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 20, "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}},
            {"weight": 60, "preference": {"matchExpressions": [{"key": "zone", "operator": "Exists"}]}}]}}}}),
        );
        let a = node(json!({"metadata": {"name": "a", "labels": {"disk": "ssd", "zone": "z1"}}}));
        let b = node(json!({"metadata": {"name": "b", "labels": {"disk": "ssd"}}}));
        let c = node(json!({"metadata": {"name": "c"}}));
        let plugin = NodeAffinity::default();
        let mut scores: Vec<i64> = [&a, &b, &c]
            .iter()
            .map(|n| plugin.score(None, &p, n))
            .collect();
        assert_eq!(scores, [80, 20, 0]);
        plugin.normalize(None, &mut scores);
        assert_eq!(scores, [100, 25, 0]);
    }

    #[test]
    fn node_affinity_added_affinity_is_enforced_with_its_own_message() {
        let plugin = NodeAffinity {
            added: serde_json::from_value(json!({"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["batch"]}]}]}))
            .ok(),
            added_preferred: Vec::new(),
        };
        let other = node(json!({"metadata": {"name": "a", "labels": {"pool": "web"}}}));
        let err = plugin.filter(None, &pod(json!({})), &other).err();
        assert_eq!(err.map(|e| e.message()), Some(ENFORCED_REASON.to_string()));
    }
}
