//! NodeResourcesBalancedAllocation: nodes where the pod would leave CPU and memory (or the
//! configured resources) used in similar fractions score higher — one minus the standard
//! deviation of the fractions. A pod that requests nothing is not scored by it.

use std::sync::Arc;

use crate::framework::{Plugin, PluginState, Points, Status, MAX_NODE_SCORE};
use crate::node_info::NodeInfo;
use crate::plugins::node_resources_fit::{
    default_resources, requested_and_allocatable, ResourceWeight,
};
use crate::pod_info::PodInfo;
use crate::snapshot::Snapshot;

pub const NAME: &str = "NodeResourcesBalancedAllocation";

pub struct BalancedAllocation {
    pub resources: Vec<ResourceWeight>,
}

impl Default for BalancedAllocation {
    fn default() -> Self {
        BalancedAllocation {
            resources: default_resources(),
        }
    }
}

impl Plugin for BalancedAllocation {
    fn name(&self) -> &'static str {
        NAME
    }

    fn points(&self) -> Points {
        Points::SCORE
    }

    fn pre_score(
        &self,
        pod: &PodInfo,
        _: &Snapshot,
        _: &[Arc<NodeInfo>],
    ) -> Result<Option<Box<dyn PluginState>>, Status> {
        let asks = self.resources.iter().any(|r| pod.requests.of(&r.kind) > 0);
        Ok(asks.then(|| Box::new(()) as _))
    }

    fn score(&self, _: Option<&dyn PluginState>, pod: &PodInfo, node: &NodeInfo) -> i64 {
        let fraction = |r: &ResourceWeight| {
            let (req, alloc) = requested_and_allocatable(pod, node, &r.kind, false);
            (alloc != 0).then(|| (req as f64 / alloc as f64).min(1.0))
        };
        // Without a list per node: the count and sum first, then the deviation.
        let (n, sum) = self
            .resources
            .iter()
            .filter_map(fraction)
            .fold((0usize, 0.0f64), |(n, s), f| (n + 1, s + f));
        let std = match n {
            0 | 1 => 0.0,
            2 => {
                let mut it = self.resources.iter().filter_map(fraction);
                let (a, b) = (it.next().unwrap_or(0.0), it.next().unwrap_or(0.0));
                ((a - b) / 2.0).abs()
            }
            n => {
                let mean = sum / n as f64;
                let var = self
                    .resources
                    .iter()
                    .filter_map(fraction)
                    .map(|f| (f - mean).powi(2))
                    .sum::<f64>()
                    / n as f64;
                var.sqrt()
            }
        };
        ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testing::{node, pod};
    use serde_json::json;

    #[test]
    fn balanced_allocation_prefers_even_cpu_and_memory_use() {
        let n = node(
            json!({"metadata": {"name": "n"}, "status": {"allocatable": {"cpu": "4", "memory": "4Gi", "pods": "10"}}}),
        );
        let even = pod(
            json!({"spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "2", "memory": "2Gi"}}}]}}),
        );
        let skewed = pod(
            json!({"spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "3", "memory": "1Gi"}}}]}}),
        );
        let b = BalancedAllocation::default();
        assert_eq!(b.score(None, &even, &n), 100);
        // Fractions 0.75 and 0.25: deviation 0.25.
        assert_eq!(b.score(None, &skewed, &n), 75);
        let nothing = pod(json!({"spec": {"containers": [{"name": "c"}]}}));
        assert!(matches!(
            b.pre_score(&nothing, &Snapshot::default(), &[]),
            Ok(None)
        ));
    }
}
