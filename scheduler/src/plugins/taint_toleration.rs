//! TaintToleration: a node's NoSchedule and NoExecute taints keep off pods that do not tolerate
//! them; its PreferNoSchedule taints make it score lower for each one the pod does not tolerate.

use capstan_controllers::node_matching::tolerates;
use k8s_openapi::api::core::v1::Toleration;

use crate::framework::{default_normalize, Plugin, PluginState, Points, Status};
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;

pub const NAME: &str = "TaintToleration";

pub struct TaintToleration;

fn tolerations(pod: &PodInfo) -> &[Toleration] {
    pod.spec()
        .and_then(|s| s.tolerations.as_deref())
        .unwrap_or_default()
}

impl Plugin for TaintToleration {
    fn name(&self) -> &'static str {
        NAME
    }

    fn points(&self) -> Points {
        Points::FILTER.with_score()
    }

    fn filter(
        &self,
        _: Option<&dyn PluginState>,
        pod: &PodInfo,
        node: &NodeInfo,
    ) -> Result<(), Status> {
        let ts = tolerations(pod);
        let untolerated = node.taints().iter().find(|taint| {
            (taint.effect == "NoSchedule" || taint.effect == "NoExecute")
                && !ts.iter().any(|t| tolerates(t, taint))
        });
        match untolerated {
            None => Ok(()),
            Some(t) => Err(Status::unresolvable(
                NAME,
                format!(
                    "node(s) had untolerated taint {{{}: {}}}",
                    t.key,
                    t.value.as_deref().unwrap_or("")
                ),
            )),
        }
    }

    fn score(&self, _: Option<&dyn PluginState>, pod: &PodInfo, node: &NodeInfo) -> i64 {
        if node.taints.is_empty() {
            return 0;
        }
        // Only tolerations that apply to PreferNoSchedule count (an empty effect does).
        let applies = |t: &&Toleration| {
            matches!(
                t.effect.as_deref(),
                None | Some("") | Some("PreferNoSchedule")
            )
        };
        node.taints()
            .iter()
            .filter(|taint| taint.effect == "PreferNoSchedule")
            .filter(|taint| {
                !tolerations(pod)
                    .iter()
                    .filter(applies)
                    .any(|t| tolerates(t, taint))
            })
            .count() as i64
    }

    fn normalize(&self, _: Option<&dyn PluginState>, scores: &mut [i64]) {
        default_normalize(scores, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testing::{node, pod};
    use serde_json::json;

    #[test]
    fn taint_toleration_refuses_untolerated_no_schedule_taints_with_upstreams_message() {
        let n = node(json!({"metadata": {"name": "n"}, "spec": {"taints": [
            {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]}}));
        let err = TaintToleration.filter(None, &pod(json!({})), &n).err();
        assert_eq!(
            err.map(|e| e.message()),
            Some("node(s) had untolerated taint {dedicated: gpu}".to_string())
        );
        let tolerant = pod(json!({"spec": {"tolerations": [
            {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]}}));
        assert!(TaintToleration.filter(None, &tolerant, &n).is_ok());
        let wrong_value = pod(json!({"spec": {"tolerations": [
            {"key": "dedicated", "operator": "Equal", "value": "cpu"}]}}));
        assert!(TaintToleration.filter(None, &wrong_value, &n).is_err());
    }

    #[test]
    fn taint_toleration_scores_fewer_prefer_no_schedule_taints_higher() {
        let n0 = node(json!({"metadata": {"name": "a"}}));
        let n2 = node(json!({"metadata": {"name": "b"}, "spec": {"taints": [
            {"key": "x", "effect": "PreferNoSchedule"}, {"key": "y", "effect": "PreferNoSchedule"}]}}));
        let n1 = node(json!({"metadata": {"name": "c"}, "spec": {"taints": [
            {"key": "x", "effect": "PreferNoSchedule"}]}}));
        let p = pod(json!({}));
        let mut scores: Vec<i64> = [&n0, &n2, &n1]
            .iter()
            .map(|n| TaintToleration.score(None, &p, n))
            .collect();
        assert_eq!(scores, [0, 2, 1]);
        TaintToleration.normalize(None, &mut scores);
        assert_eq!(scores, [100, 0, 50]);
        let tolerant = pod(json!({"spec": {"tolerations": [{"key": "x", "operator": "Exists"}]}}));
        assert_eq!(TaintToleration.score(None, &tolerant, &n2), 1);
    }
}
