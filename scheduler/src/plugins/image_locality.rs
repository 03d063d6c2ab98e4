//! ImageLocality: nodes that already have the pod's images score higher, by the images' sizes
//! scaled by how widely each is spread over the nodes (so one node holding a rare image does
//! not attract every pod), between 23 MB and 1,000 MB per container.

use crate::framework::{Plugin, PluginState, Points, MAX_NODE_SCORE};
use crate::node_info::{normalized_image, NodeInfo};
use crate::pod_info::PodInfo;
use crate::snapshot::Snapshot;

pub const NAME: &str = "ImageLocality";

const MB: i64 = 1024 * 1024;
const MIN_THRESHOLD: i64 = 23 * MB;
const MAX_CONTAINER_THRESHOLD: i64 = 1000 * MB;

/// The snapshot's image spread, taken in PreScore.
#[derive(Clone)]
struct Spread {
    total_nodes: usize,
    image_nodes: Vec<(String, usize)>,
    containers: i64,
}

pub struct ImageLocality;

impl Plugin for ImageLocality {
    fn name(&self) -> &'static str {
        NAME
    }

    fn points(&self) -> Points {
        Points::SCORE
    }

    fn pre_score(
        &self,
        pod: &PodInfo,
        snapshot: &Snapshot,
        _: &[std::sync::Arc<NodeInfo>],
    ) -> Result<Option<Box<dyn PluginState>>, crate::framework::Status> {
        let Some(spec) = pod.spec() else {
            return Ok(None);
        };
        let containers = spec
            .containers
            .iter()
            .chain(spec.init_containers.iter().flatten());
        let mut image_nodes = Vec::new();
        let mut count = 0;
        for c in containers {
            count += 1;
            if let Some(image) = c.image.as_deref() {
                let name = normalized_image(image);
                let spread = snapshot.image_nodes.get(&name).copied().unwrap_or(0);
                image_nodes.push((name, spread));
            }
        }
        Ok(Some(Box::new(Spread {
            total_nodes: snapshot.nodes.len(),
            image_nodes,
            containers: count,
        })))
    }

    fn score(&self, state: Option<&dyn PluginState>, _: &PodInfo, node: &NodeInfo) -> i64 {
        let Some(s) = crate::framework::state_of::<Spread>(state) else {
            return 0;
        };
        if s.total_nodes == 0 || node.images.is_empty() {
            return 0;
        }
        let sum: i64 = s
            .image_nodes
            .iter()
            .filter_map(|(name, spread)| {
                let size = node.images.get(name)?;
                Some((*size as f64 * (*spread as f64 / s.total_nodes as f64)) as i64)
            })
            .sum();
        let max = MAX_CONTAINER_THRESHOLD * s.containers.max(1);
        let clamped = sum.clamp(MIN_THRESHOLD, max);
        MAX_NODE_SCORE * (clamped - MIN_THRESHOLD) / (max - MIN_THRESHOLD)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testing::{node, pod};
    use serde_json::json;
    use std::sync::Arc;

    #[test]
    fn image_locality_scores_nodes_with_large_spread_images_higher() {
        let with = node(json!({"metadata": {"name": "a"}, "status": {"images": [
            {"names": ["registry/app:v1"], "sizeBytes": 500 * MB}]}}));
        let without = node(json!({"metadata": {"name": "b"}}));
        let snapshot = Snapshot::new(vec![Arc::new(with.clone()), Arc::new(without.clone())]);
        let p = pod(json!({"spec": {"containers": [{"name": "c", "image": "registry/app:v1"}]}}));
        let state = ImageLocality.pre_score(&p, &snapshot, &[]).ok().flatten();
        let a = ImageLocality.score(state.as_deref(), &p, &with);
        let b = ImageLocality.score(state.as_deref(), &p, &without);
        // 500 MB on half the nodes: 250 MB between 23 and 1,000.
        assert_eq!(
            a,
            100 * (250 * MB - MIN_THRESHOLD) / (MAX_CONTAINER_THRESHOLD - MIN_THRESHOLD)
        );
        assert_eq!(b, 0);
        // `nginx` is `nginx:latest`.
        assert_eq!(normalized_image("nginx"), "nginx:latest");
        assert_eq!(normalized_image("reg:5000/nginx"), "reg:5000/nginx:latest");
    }
}
