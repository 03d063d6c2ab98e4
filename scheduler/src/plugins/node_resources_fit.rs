//! NodeResourcesFit: the pod's requests (CPU, memory, ephemeral storage, extended resources)
//! must fit in what the node has left, and the node must have room for one more pod; nodes
//! score by the profile's strategy — LeastAllocated (default: emptier is better),
//! MostAllocated (fuller is better) or RequestedToCapacityRatio (a shape of utilisation) —
//! over the configured resources and weights. Scores count CPU and memory with upstream's
//! defaults for containers that request none, so pods without requests still spread.

use crate::framework::{Plugin, PluginState, Points, Status, MAX_NODE_SCORE};
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;
use crate::resources::{ResourceKind, Resources};

pub const NAME: &str = "NodeResourcesFit";

/// A resource a score looks at, with its weight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceWeight {
    pub name: String,
    pub kind: ResourceKind,
    pub weight: i64,
}

impl ResourceWeight {
    pub fn new(name: String, weight: i64) -> ResourceWeight {
        ResourceWeight {
            kind: ResourceKind::of(&name),
            name,
            weight,
        }
    }
}

/// One point of RequestedToCapacityRatio's shape: utilisation (0..=100) to score (0..=10).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShapePoint {
    pub utilization: i64,
    pub score: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Strategy {
    LeastAllocated,
    MostAllocated,
    RequestedToCapacityRatio(Vec<ShapePoint>),
}

/// NodeResourcesFitArgs.
#[derive(Clone, Debug)]
pub struct NodeResourcesFit {
    pub strategy: Strategy,
    pub resources: Vec<ResourceWeight>,
    /// `ignoredResources` and `ignoredResourceGroups` (prefixes before `/`).
    pub ignored: Vec<String>,
    pub ignored_groups: Vec<String>,
}

impl Default for NodeResourcesFit {
    fn default() -> Self {
        NodeResourcesFit {
            strategy: Strategy::LeastAllocated,
            resources: default_resources(),
            ignored: Vec::new(),
            ignored_groups: Vec::new(),
        }
    }
}

/// CPU and memory, weight 1 each.
pub fn default_resources() -> Vec<ResourceWeight> {
    ["cpu", "memory"]
        .into_iter()
        .map(|n| ResourceWeight::new(n.into(), 1))
        .collect()
}

/// What the pod would have the node's `name` at (requested, allocatable); scores use the
/// non-zero CPU and memory counts.
pub fn requested_and_allocatable(
    pod: &PodInfo,
    node: &NodeInfo,
    kind: &ResourceKind,
    non_zero: bool,
) -> (i64, i64) {
    let alloc = node.allocatable.of(kind);
    let req = match (kind, non_zero) {
        (ResourceKind::Cpu, true) => node.non_zero_requested.0 + pod.non_zero.0,
        (ResourceKind::Memory, true) => node.non_zero_requested.1 + pod.non_zero.1,
        _ => node.requested.of(kind) + pod.requests.of(kind),
    };
    (req, alloc)
}

impl NodeResourcesFit {
    fn ignored(&self, name: &str) -> bool {
        self.ignored.iter().any(|i| i == name)
            || name
                .split_once('/')
                .is_some_and(|(g, _)| self.ignored_groups.iter().any(|i| i == g))
    }

    /// Every shortfall of the pod on the node, as upstream words them.
    pub fn insufficient(&self, pod: &PodInfo, node: &NodeInfo) -> Vec<String> {
        let mut reasons = Vec::new();
        if node.pods.len() as i64 + 1 > node.allowed_pods {
            reasons.push("Too many pods".to_string());
        }
        let want: &Resources = &pod.requests;
        if want.is_zero() {
            return reasons;
        }
        let free = |have: i64, used: i64| have - used;
        if want.milli_cpu > 0
            && want.milli_cpu > free(node.allocatable.milli_cpu, node.requested.milli_cpu)
        {
            reasons.push("Insufficient cpu".into());
        }
        if want.memory > 0 && want.memory > free(node.allocatable.memory, node.requested.memory) {
            reasons.push("Insufficient memory".into());
        }
        if want.ephemeral_storage > 0
            && want.ephemeral_storage
                > free(
                    node.allocatable.ephemeral_storage,
                    node.requested.ephemeral_storage,
                )
        {
            reasons.push("Insufficient ephemeral-storage".into());
        }
        for (name, amount) in &want.scalar {
            if *amount == 0 || self.ignored(name) {
                continue;
            }
            let have = node.allocatable.scalar.get(name).copied().unwrap_or(0);
            let used = node.requested.scalar.get(name).copied().unwrap_or(0);
            if *amount > have - used {
                reasons.push(format!("Insufficient {name}"));
            }
        }
        reasons
    }
}

fn least_allocated(req: i64, alloc: i64) -> i64 {
    if alloc == 0 || req > alloc {
        return 0;
    }
    (alloc - req) * MAX_NODE_SCORE / alloc
}

fn most_allocated(req: i64, alloc: i64) -> i64 {
    if alloc == 0 {
        return 0;
    }
    req.min(alloc) * MAX_NODE_SCORE / alloc
}

/// The shape's score at `utilization`, linear between points (scores scaled to 0..=100).
fn shape_score(shape: &[ShapePoint], utilization: i64) -> i64 {
    let scaled = |p: &ShapePoint| p.score * (MAX_NODE_SCORE / 10);
    let Some(first) = shape.first() else {
        return 0;
    };
    if utilization <= first.utilization {
        return scaled(first);
    }
    for w in shape.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        if utilization <= b.utilization {
            let (sa, sb) = (scaled(a), scaled(b));
            return sa
                + (sb - sa) * (utilization - a.utilization) / (b.utilization - a.utilization);
        }
    }
    shape.last().map_or(0, scaled)
}

impl Plugin for NodeResourcesFit {
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
        let reasons = self.insufficient(pod, node);
        if reasons.is_empty() {
            return Ok(());
        }
        Err(Status {
            code: crate::framework::Code::Unschedulable,
            plugin: NAME,
            reasons,
        })
    }

    fn score(&self, _: Option<&dyn PluginState>, pod: &PodInfo, node: &NodeInfo) -> i64 {
        let (mut total, mut weights) = (0i64, 0i64);
        for r in &self.resources {
            let (req, alloc) = requested_and_allocatable(pod, node, &r.kind, true);
            if alloc == 0 {
                continue;
            }
            let s = match &self.strategy {
                Strategy::LeastAllocated => least_allocated(req, alloc),
                Strategy::MostAllocated => most_allocated(req, alloc),
                Strategy::RequestedToCapacityRatio(shape) => {
                    shape_score(shape, (req.min(alloc) * 100) / alloc)
                }
            };
            total += s * r.weight;
            weights += r.weight;
        }
        if weights == 0 {
            0
        } else {
            total / weights
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testing::{node, pod};
    use serde_json::json;

    fn sized(cpu: &str, mem: &str, pods: &str) -> NodeInfo {
        node(
            json!({"metadata": {"name": "n"}, "status": {"allocatable": {
            "cpu": cpu, "memory": mem, "pods": pods, "example.com/gpu": "1"}}}),
        )
    }

    fn asking(cpu: &str, mem: &str) -> std::sync::Arc<PodInfo> {
        pod(
            json!({"metadata": {"uid": format!("{cpu}{mem}")}, "spec": {"containers": [
            {"name": "c", "resources": {"requests": {"cpu": cpu, "memory": mem}}}]}}),
        )
    }

    #[test]
    fn node_resources_fit_reports_every_shortfall_as_upstream() {
        let mut n = sized("2", "4Gi", "2");
        n.add_pod(asking("1500m", "1Gi"));
        let fit = NodeResourcesFit::default();
        assert!(fit.filter(None, &asking("500m", "3Gi"), &n).is_ok());
        let err = fit.filter(None, &asking("600m", "4Gi"), &n).err();
        assert_eq!(
            err.map(|e| e.reasons),
            Some(vec![
                "Insufficient cpu".to_string(),
                "Insufficient memory".to_string()
            ])
        );
        n.add_pod(asking("1m", "1"));
        let err = fit.filter(None, &pod(json!({})), &n).err();
        assert_eq!(err.map(|e| e.message()), Some("Too many pods".to_string()));
    }

    #[test]
    fn node_resources_fit_counts_extended_resources_unless_ignored() {
        let n = sized("2", "4Gi", "10");
        let gpus = pod(
            json!({"spec": {"containers": [{"name": "c", "resources": {"requests": {"example.com/gpu": "2"}}}]}}),
        );
        let fit = NodeResourcesFit::default();
        let err = fit.filter(None, &gpus, &n).err();
        assert_eq!(
            err.map(|e| e.message()),
            Some("Insufficient example.com/gpu".to_string())
        );
        let ignoring = NodeResourcesFit {
            ignored_groups: vec!["example.com".into()],
            ..NodeResourcesFit::default()
        };
        assert!(ignoring.filter(None, &gpus, &n).is_ok());
    }

    #[test]
    fn node_resources_fit_least_and_most_allocated_scores() {
        // 4 cpu, 8Gi; the pod asks 1 cpu and 2Gi: 75% free of each.
        let n = sized("4", "8Gi", "10");
        let p = asking("1", "2Gi");
        assert_eq!(NodeResourcesFit::default().score(None, &p, &n), 75);
        let most = NodeResourcesFit {
            strategy: Strategy::MostAllocated,
            ..NodeResourcesFit::default()
        };
        assert_eq!(most.score(None, &p, &n), 25);
        // A pod without requests counts 100m and 200 MB.
        let empty = pod(json!({"spec": {"containers": [{"name": "c"}]}}));
        let cpu = (4000 - 100) * 100 / 4000;
        let mem = ((8i64 << 30) - 200 * 1024 * 1024) * 100 / (8i64 << 30);
        assert_eq!(
            NodeResourcesFit::default().score(None, &empty, &n),
            (cpu + mem) / 2
        );
    }

    #[test]
    fn node_resources_fit_requested_to_capacity_ratio_follows_the_shape() {
        let n = sized("4", "8Gi", "10");
        let rtcr = NodeResourcesFit {
            strategy: Strategy::RequestedToCapacityRatio(vec![
                ShapePoint {
                    utilization: 0,
                    score: 0,
                },
                ShapePoint {
                    utilization: 100,
                    score: 10,
                },
            ]),
            ..NodeResourcesFit::default()
        };
        // 50% of each: halfway along the shape.
        assert_eq!(rtcr.score(None, &asking("2", "4Gi"), &n), 50);
    }
}
