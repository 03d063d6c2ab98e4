//! Pods nominated to a node (`status.nominatedNodeName`): a preemptor waiting for its victims to
//! leave. While it waits, other pods of lower or equal priority are filtered as if it already
//! ran there, so they do not take the room it preempted for (upstream's `nominator`).

use std::collections::HashMap;
use std::sync::Arc;

use crate::pod_info::PodInfo;

#[derive(Default)]
pub struct Nominator {
    /// By pod uid: the node and the pod.
    pods: HashMap<String, (String, Arc<PodInfo>)>,
}

impl Nominator {
    pub fn nominate(&mut self, pod: Arc<PodInfo>, node: &str) {
        self.pods.insert(pod.uid.clone(), (node.to_string(), pod));
    }

    pub fn remove(&mut self, uid: &str) {
        self.pods.remove(uid);
    }

    pub fn is_empty(&self) -> bool {
        self.pods.is_empty()
    }

    /// The pods nominated to `node` that `pod` must leave room for: the others of at least its
    /// priority.
    pub fn ahead_of(&self, pod: &PodInfo, node: &str) -> Vec<Arc<PodInfo>> {
        self.pods
            .values()
            .filter(|(n, p)| n == node && p.uid != pod.uid && p.priority >= pod.priority)
            .map(|(_, p)| p.clone())
            .collect()
    }

    /// The pods nominated to `node` with a priority below `priority`.
    pub fn below(&self, priority: i32, node: &str) -> Vec<Arc<PodInfo>> {
        self.pods
            .values()
            .filter(|(n, p)| n == node && p.priority < priority)
            .map(|(_, p)| p.clone())
            .collect()
    }
}
