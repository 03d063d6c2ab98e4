//! The in-tree plugins, one per file, under kube-scheduler's names, and the default profile's
//! set with upstream's score weights.

pub mod balanced_allocation;
pub mod image_locality;
pub mod inter_pod_affinity;
pub mod label_selector;
pub mod node_affinity;
pub mod node_name;
pub mod node_ports;
pub mod node_prefer_avoid_pods;
pub mod node_resources_fit;
pub mod node_unschedulable;
pub mod pod_index;
pub mod pod_topology_spread;
pub mod scheduling_gates;
pub mod taint_toleration;
#[cfg(test)]
pub mod testing;
pub mod volume_binding;
pub mod volume_restrictions;
pub mod volume_zone;

use std::sync::Arc;

use crate::framework::{Plugin, Points};

/// A plugin of a profile: the extension points it is enabled at (a subset of those it
/// implements) and its score weight.
#[derive(Clone)]
pub struct Enabled {
    pub plugin: Arc<dyn Plugin>,
    pub weight: i64,
    pub points: Points,
}

impl Enabled {
    /// Enabled at every extension point it implements.
    pub fn everywhere(plugin: Arc<dyn Plugin>, weight: i64) -> Enabled {
        let points = plugin.points();
        Enabled {
            plugin,
            weight,
            points,
        }
    }
}

/// The default score weight of a plugin.
pub fn default_weight(name: &str) -> i64 {
    DEFAULT_PLUGINS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(1, |(_, w)| (*w).max(1))
}

/// The names of every plugin in the default profile, in upstream's order, with their score
/// weights (kube-scheduler 1.33's `getDefaultPlugins`).
pub const DEFAULT_PLUGINS: &[(&str, i64)] = &[
    (scheduling_gates::NAME, 0),
    ("PrioritySort", 0),
    (node_unschedulable::NAME, 0),
    (node_name::NAME, 0),
    (taint_toleration::NAME, 3),
    (node_affinity::NAME, 2),
    (node_ports::NAME, 0),
    (node_resources_fit::NAME, 1),
    (volume_restrictions::NAME, 0),
    ("NodeVolumeLimits", 0),
    (volume_binding::NAME, 0),
    (volume_zone::NAME, 0),
    (pod_topology_spread::NAME, 2),
    (inter_pod_affinity::NAME, 2),
    ("DefaultPreemption", 0),
    (balanced_allocation::NAME, 1),
    (image_locality::NAME, 1),
    ("DefaultBinder", 0),
];
