//! The scheduler's cache (upstream's `internal/cache`): every node with the pods bound to it
//! and the pods this scheduler has *assumed* onto a node — decided but whose binding the API
//! has not acknowledged yet — so the next decision already counts them. An assumed pod becomes
//! an ordinary one when the watch shows it bound, and is forgotten when its binding fails.
//! Cycles read it through a [`Snapshot`] refreshed from the nodes that changed since the last.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::Node;

use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;
use crate::snapshot::{zone_of, Snapshot};

struct PodState {
    node: String,
    assumed: bool,
}

#[derive(Default)]
pub struct Cache {
    nodes: HashMap<String, Arc<NodeInfo>>,
    pods: HashMap<String, PodState>,
    /// Nodes whose NodeInfo changed since the last snapshot.
    dirty: HashSet<String>,
    /// Whether nodes were added or removed (or their labels and images changed) since then.
    relisted: bool,
}

impl Cache {
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The node object as last seen.
    pub fn node(&self, name: &str) -> Option<Arc<Node>> {
        self.nodes.get(name).map(|n| n.node.clone())
    }

    fn node_mut(&mut self, name: &str) -> Option<&mut NodeInfo> {
        self.dirty.insert(name.to_string());
        self.nodes.get_mut(name).map(Arc::make_mut)
    }

    /// A node was added or changed.
    pub fn set_node(&mut self, node: Node) {
        let name = node.metadata.name.clone().unwrap_or_default();
        match self.node_mut(&name) {
            Some(info) => info.set_node(node),
            None => {
                self.nodes.insert(name, Arc::new(NodeInfo::new(node)));
            }
        }
        self.relisted = true;
    }

    pub fn remove_node(&mut self, name: &str) {
        if self.nodes.remove(name).is_some() {
            self.relisted = true;
        }
        self.pods.retain(|_, p| p.node != name);
    }

    /// A pod bound to a node was seen (or changed). An assumed copy is replaced by it.
    pub fn set_pod(&mut self, pod: Arc<PodInfo>) {
        let Some(node) = pod.node_name().map(String::from) else {
            return;
        };
        self.remove_pod(&pod.uid);
        if let Some(info) = self.node_mut(&node) {
            info.add_pod(pod.clone());
            self.pods.insert(
                pod.uid.clone(),
                PodState {
                    node,
                    assumed: false,
                },
            );
        }
    }

    /// A pod is gone (deleted, or finished), or an assumed pod's binding failed.
    pub fn remove_pod(&mut self, uid: &str) {
        if let Some(state) = self.pods.remove(uid) {
            if let Some(info) = self.node_mut(&state.node) {
                info.remove_pod(uid);
            }
        }
    }

    /// Counts `pod` on `node` before the API knows (the binding is under way).
    pub fn assume(&mut self, pod: Arc<PodInfo>, node: &str) {
        self.remove_pod(&pod.uid);
        if let Some(info) = self.node_mut(node) {
            info.add_pod(pod.clone());
            self.pods.insert(
                pod.uid.clone(),
                PodState {
                    node: node.to_string(),
                    assumed: true,
                },
            );
        }
    }

    /// The binding of an assumed pod failed: it no longer counts anywhere.
    pub fn forget(&mut self, uid: &str) {
        if self.pods.get(uid).is_some_and(|p| p.assumed) {
            self.remove_pod(uid);
        }
    }

    pub fn is_assumed(&self, uid: &str) -> bool {
        self.pods.get(uid).is_some_and(|p| p.assumed)
    }

    /// Whether the copy counted for `pod` (bound or assumed) has other labels than `pod`.
    pub fn labels_changed(&self, pod: &PodInfo) -> bool {
        self.pods
            .get(&pod.uid)
            .and_then(|s| self.nodes.get(&s.node))
            .and_then(|n| n.pods.iter().find(|p| p.uid == pod.uid))
            .is_some_and(|old| old.labels != pod.labels)
    }

    /// Whether the pod counts on some node (bound or assumed).
    pub fn has_pod(&self, uid: &str) -> bool {
        self.pods.contains_key(uid)
    }

    /// Brings `snapshot` up to date: only the changed nodes are copied, unless nodes came or went.
    pub fn update_snapshot(&mut self, snapshot: &mut Snapshot) {
        if self.relisted {
            self.relisted = false;
            self.dirty.clear();
            *snapshot = Snapshot::new(self.node_tree_order());
            return;
        }
        if self.dirty.is_empty() {
            return;
        }
        for name in self.dirty.drain() {
            let (Some(&i), Some(info)) = (snapshot.index.get(&name), self.nodes.get(&name)) else {
                continue;
            };
            snapshot.replace(i, info.clone());
        }
    }

    /// The nodes zone by zone in turn (each zone's nodes by name).
    fn node_tree_order(&self) -> Vec<Arc<NodeInfo>> {
        let mut zones: BTreeMap<String, Vec<Arc<NodeInfo>>> = BTreeMap::new();
        for n in self.nodes.values() {
            zones.entry(zone_of(n)).or_default().push(n.clone());
        }
        let mut lists: Vec<std::vec::IntoIter<Arc<NodeInfo>>> = zones
            .into_values()
            .map(|mut v| {
                v.sort_by(|a, b| a.name.cmp(&b.name));
                v.into_iter()
            })
            .collect();
        let mut out = Vec::with_capacity(self.nodes.len());
        loop {
            let before = out.len();
            for l in lists.iter_mut() {
                if let Some(n) = l.next() {
                    out.push(n);
                }
            }
            if out.len() == before {
                return out;
            }
        }
    }
}
