//! NodePreferAvoidPods (off by default; a legacy Policy's `NodePreferAvoidPodsPriority`): a node
//! whose `scheduler.alpha.kubernetes.io/preferAvoidPods` annotation names the pod's controlling
//! ReplicationController or ReplicaSet scores 0, every other node 100.

use serde::Deserialize;

use crate::framework::{Plugin, PluginState, Points, MAX_NODE_SCORE};
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;

pub const NAME: &str = "NodePreferAvoidPods";
const ANNOTATION: &str = "scheduler.alpha.kubernetes.io/preferAvoidPods";

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct AvoidPods {
    #[serde(default)]
    prefer_avoid_pods: Vec<PreferAvoidPodsEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PreferAvoidPodsEntry {
    pod_signature: PodSignature,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PodSignature {
    #[serde(default)]
    pod_controller: Option<Controller>,
}

#[derive(Deserialize)]
struct Controller {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    uid: String,
}

pub struct NodePreferAvoidPods;

impl Plugin for NodePreferAvoidPods {
    fn name(&self) -> &'static str {
        NAME
    }

    fn points(&self) -> Points {
        Points::SCORE
    }

    fn score(&self, _: Option<&dyn PluginState>, pod: &PodInfo, node: &NodeInfo) -> i64 {
        let controller = pod
            .pod
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.controller == Some(true));
        let Some(owner) =
            controller.filter(|o| o.kind == "ReplicationController" || o.kind == "ReplicaSet")
        else {
            return MAX_NODE_SCORE;
        };
        let avoid: AvoidPods = node
            .node
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(ANNOTATION))
            .and_then(|v| serde_json::from_str(v).ok())
            .unwrap_or_default();
        let named = avoid.prefer_avoid_pods.iter().any(|e| {
            e.pod_signature
                .pod_controller
                .as_ref()
                .is_some_and(|c| c.kind == owner.kind && c.uid == owner.uid)
        });
        if named {
            0
        } else {
            MAX_NODE_SCORE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testing::{node, pod};
    use serde_json::json;

    #[test]
    fn node_prefer_avoid_pods_scores_zero_where_the_controller_is_avoided() {
        let owned = pod(json!({"metadata": {"ownerReferences": [
            {"apiVersion": "v1", "kind": "ReplicationController", "name": "rc", "uid": "u1", "controller": true}]}}));
        let avoid = json!({"preferAvoidPods": [{"podSignature": {"podController":
            {"apiVersion": "v1", "kind": "ReplicationController", "name": "rc", "uid": "u1", "controller": true}}}]});
        let avoiding = node(
            json!({"metadata": {"name": "a", "annotations": {ANNOTATION: avoid.to_string()}}}),
        );
        let other = node(json!({"metadata": {"name": "b"}}));
        assert_eq!(NodePreferAvoidPods.score(None, &owned, &avoiding), 0);
        assert_eq!(NodePreferAvoidPods.score(None, &owned, &other), 100);
        assert_eq!(
            NodePreferAvoidPods.score(None, &pod(json!({})), &avoiding),
            100
        );
    }
}
