//! `Snapshot`: the nodes as one scheduling cycle sees them, taken from the cache at the start
//! of the cycle so the cycle reads a consistent picture while watches keep changing the cache
//! (upstream's `cache.Snapshot`). Nodes are listed zone by zone in turn, as upstream's node
//! tree lists them, so scoring a share of the nodes still sees every zone.

use std::collections::HashMap;
use std::sync::Arc;

use crate::node_info::NodeInfo;

#[derive(Clone, Default)]
pub struct Snapshot {
    pub nodes: Vec<Arc<NodeInfo>>,
    pub index: HashMap<String, usize>,
    /// For each image, how many nodes have it (ImageLocality's spread).
    pub image_nodes: HashMap<String, usize>,
    /// Pods on any node with a pod affinity or anti-affinity term (InterPodAffinity skips
    /// its work when there are none); kept up to date as nodes change, not recounted.
    pub pods_with_affinity: usize,
    /// Pods on any node with a required anti-affinity term.
    pub pods_with_required_anti_affinity: usize,
}

/// The zone a node is in for spreading the node list (region and zone labels).
pub fn zone_of(n: &NodeInfo) -> String {
    let labels = n.labels();
    let region = labels
        .get("topology.kubernetes.io/region")
        .map(String::as_str)
        .unwrap_or("");
    let zone = labels
        .get("topology.kubernetes.io/zone")
        .map(String::as_str)
        .unwrap_or("");
    if region.is_empty() && zone.is_empty() {
        String::new()
    } else {
        format!("{region}:\u{0}:{zone}")
    }
}

impl Snapshot {
    /// Builds a snapshot of `nodes` (already in node-tree order).
    pub fn new(nodes: Vec<Arc<NodeInfo>>) -> Snapshot {
        let mut s = Snapshot {
            nodes,
            ..Snapshot::default()
        };
        s.reindex();
        s.recount_images();
        s.recount_affinity();
        s
    }

    pub fn reindex(&mut self) {
        self.index = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.clone(), i))
            .collect();
    }

    pub fn recount_images(&mut self) {
        self.image_nodes.clear();
        for n in &self.nodes {
            for image in n.images.keys() {
                *self.image_nodes.entry(image.clone()).or_insert(0) += 1;
            }
        }
    }

    fn recount_affinity(&mut self) {
        self.pods_with_affinity = self.nodes.iter().map(|n| n.pods_with_affinity).sum();
        self.pods_with_required_anti_affinity = self
            .nodes
            .iter()
            .map(|n| n.pods_with_required_anti_affinity)
            .sum();
    }

    /// Replaces node `i` with its newer copy, moving the affinity counts by the difference.
    pub fn replace(&mut self, i: usize, info: Arc<NodeInfo>) {
        let old = &self.nodes[i];
        self.pods_with_affinity =
            self.pods_with_affinity + info.pods_with_affinity - old.pods_with_affinity;
        self.pods_with_required_anti_affinity = self.pods_with_required_anti_affinity
            + info.pods_with_required_anti_affinity
            - old.pods_with_required_anti_affinity;
        self.nodes[i] = info;
    }

    pub fn get(&self, name: &str) -> Option<&Arc<NodeInfo>> {
        self.index.get(name).map(|&i| &self.nodes[i])
    }
}
