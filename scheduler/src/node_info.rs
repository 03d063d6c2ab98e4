//! `NodeInfo`: a node with the pods the scheduler counts on it (bound and assumed) and their
//! sums — requested resources, host ports in use, pods with affinity terms — kept up to date as
//! pods come and go, upstream's `framework.NodeInfo`.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Taint};

use crate::pod_info::{HostPort, PodInfo};
use crate::quantity;
use crate::resources::Resources;

/// The fields every filter and score reads come first, in declaration order (`repr(C)`), so
/// they sit together in memory for a cycle that reads them on hundreds of nodes.
#[derive(Clone, Debug)]
#[repr(C)]
pub struct NodeInfo {
    /// `spec.unschedulable` and `spec.taints`, kept here because every filter reads them
    /// (one pointer less to chase per node per cycle).
    pub unschedulable: bool,
    /// The `pods` allocatable.
    pub allowed_pods: i64,
    /// CPU and memory requested with the per-container defaults (what scores use).
    pub non_zero_requested: (i64, i64),
    pub requested: Resources,
    pub allocatable: Resources,
    pub taints: Vec<Taint>,
    pub pods: Vec<Arc<PodInfo>>,
    pub used_ports: Vec<HostPort>,
    /// Images on the node (every name of each) with their sizes; shared, so the copy made
    /// when a pod is added does not copy them.
    pub images: Arc<BTreeMap<String, i64>>,
    pub node: Arc<Node>,
    pub name: String,
    /// Pods here with any pod (anti-)affinity term.
    pub pods_with_affinity: usize,
    /// Pods here with a required anti-affinity term.
    pub pods_with_required_anti_affinity: usize,
}

const EMPTY_LABELS: &BTreeMap<String, String> = &BTreeMap::new();

impl NodeInfo {
    pub fn new(node: Node) -> NodeInfo {
        let name = node.metadata.name.clone().unwrap_or_default();
        let status = node.status.as_ref();
        let alloc = status
            .and_then(|s| s.allocatable.as_ref().or(s.capacity.as_ref()))
            .cloned()
            .unwrap_or_default();
        let allowed_pods = alloc.get("pods").map_or(0, quantity::value);
        let mut images = BTreeMap::new();
        for image in status.and_then(|s| s.images.as_ref()).into_iter().flatten() {
            let size = image.size_bytes.unwrap_or(0);
            for n in image.names.iter().flatten() {
                images.insert(normalized_image(n), size);
            }
        }
        let spec = node.spec.as_ref();
        NodeInfo {
            unschedulable: spec.and_then(|s| s.unschedulable) == Some(true),
            taints: spec.and_then(|s| s.taints.clone()).unwrap_or_default(),
            allocatable: Resources::from_map(&alloc),
            allowed_pods,
            name,
            node: Arc::new(node),
            requested: Resources::default(),
            non_zero_requested: (0, 0),
            pods: Vec::new(),
            used_ports: Vec::new(),
            pods_with_affinity: 0,
            pods_with_required_anti_affinity: 0,
            images: Arc::new(images),
        }
    }

    /// The node object changed: its pods stay.
    pub fn set_node(&mut self, node: Node) {
        let pods = std::mem::take(&mut self.pods);
        *self = NodeInfo::new(node);
        for p in pods {
            self.add_pod(p);
        }
    }

    pub fn labels(&self) -> &BTreeMap<String, String> {
        self.node.metadata.labels.as_ref().unwrap_or(EMPTY_LABELS)
    }

    pub fn taints(&self) -> &[Taint] {
        &self.taints
    }

    pub fn add_pod(&mut self, p: Arc<PodInfo>) {
        self.requested.add(&p.requests);
        self.non_zero_requested.0 += p.non_zero.0;
        self.non_zero_requested.1 += p.non_zero.1;
        self.used_ports.extend(p.host_ports.iter().cloned());
        self.pods_with_affinity += usize::from(p.has_pod_affinity);
        self.pods_with_required_anti_affinity += usize::from(p.has_required_anti_affinity);
        self.pods.push(p);
    }

    /// Removes the pod with `uid` (false when it is not here).
    pub fn remove_pod(&mut self, uid: &str) -> bool {
        let Some(i) = self.pods.iter().position(|p| p.uid == uid) else {
            return false;
        };
        let p = self.pods.swap_remove(i);
        self.requested.sub(&p.requests);
        self.non_zero_requested.0 -= p.non_zero.0;
        self.non_zero_requested.1 -= p.non_zero.1;
        for port in &p.host_ports {
            if let Some(j) = self.used_ports.iter().position(|u| u == port) {
                self.used_ports.swap_remove(j);
            }
        }
        self.pods_with_affinity -= usize::from(p.has_pod_affinity);
        self.pods_with_required_anti_affinity -= usize::from(p.has_required_anti_affinity);
        true
    }
}

/// An image name as the node reports it and a pod names it: `nginx` is `nginx:latest`; a name
/// with a tag or digest stays as it is.
pub fn normalized_image(name: &str) -> String {
    let last = name.rsplit('/').next().unwrap_or(name);
    if last.contains(':') || last.contains('@') {
        name.to_string()
    } else {
        format!("{name}:latest")
    }
}
