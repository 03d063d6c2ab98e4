//! What the scheduler runs: its profiles (a scheduler name each, with the plugins enabled at
//! each extension point, their score weights and arguments) and the global settings. The
//! default is kube-scheduler 1.33's single `default-scheduler` profile; `config_file` reads
//! a KubeSchedulerConfiguration or a legacy Policy into this.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use thiserror::Error;

use crate::framework::{Plugin, Points};
use crate::plugins::{self, default_weight, Enabled, DEFAULT_PLUGINS};
use crate::profile::Profile;

/// The scheduler name of the default profile.
pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{0}")]
    Invalid(String),
}

/// The extension points a configuration may name, and which the plugin trait covers.
pub const EXTENSION_POINTS: &[&str] = &[
    "preEnqueue",
    "queueSort",
    "preFilter",
    "filter",
    "postFilter",
    "preScore",
    "score",
    "reserve",
    "permit",
    "preBind",
    "bind",
    "postBind",
];

/// One profile as configured.
#[derive(Clone, Debug, PartialEq)]
pub struct ProfileConfig {
    pub scheduler_name: String,
    /// The multiPoint set: plugins enabled at every point they implement, in order, with an
    /// explicit weight when one was given.
    pub plugins: Vec<(String, Option<i64>)>,
    /// Per extension point: plugins turned off there (`*`: every multiPoint plugin).
    pub disabled: BTreeMap<String, BTreeSet<String>>,
    /// Per extension point: plugins turned on only there, with a weight for `score`.
    pub enabled: BTreeMap<String, Vec<(String, Option<i64>)>>,
    pub args: BTreeMap<String, serde_json::Value>,
    pub percentage_of_nodes_to_score: Option<u32>,
    /// The legacy Policy's `alwaysCheckAllPredicates`.
    pub check_all_filters: bool,
}

impl Default for ProfileConfig {
    fn default() -> Self {
        ProfileConfig {
            scheduler_name: DEFAULT_SCHEDULER_NAME.into(),
            plugins: DEFAULT_PLUGINS
                .iter()
                .map(|(n, _)| (n.to_string(), None))
                .collect(),
            disabled: BTreeMap::new(),
            enabled: BTreeMap::new(),
            args: BTreeMap::new(),
            percentage_of_nodes_to_score: None,
            check_all_filters: false,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct SchedulerConfig {
    pub profiles: Vec<ProfileConfig>,
    /// The global `percentageOfNodesToScore` (0 or unset: adaptive).
    pub percentage_of_nodes_to_score: Option<u32>,
    pub extenders: Vec<crate::extender::ExtenderConfig>,
    /// `podInitialBackoffSeconds` and `podMaxBackoffSeconds`.
    pub initial_backoff: std::time::Duration,
    pub max_backoff: std::time::Duration,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            profiles: vec![ProfileConfig::default()],
            percentage_of_nodes_to_score: None,
            extenders: Vec::new(),
            initial_backoff: crate::queue::INITIAL_BACKOFF,
            max_backoff: crate::queue::MAX_BACKOFF,
        }
    }
}

/// Every plugin name the scheduler knows (the default set plus those off by default).
pub fn is_registered(name: &str) -> bool {
    DEFAULT_PLUGINS.iter().any(|(n, _)| *n == name) || OFF_BY_DEFAULT.contains(&name)
}

/// In-tree plugins upstream registers but does not enable by default.
const OFF_BY_DEFAULT: &[&str] = &["NodePreferAvoidPods"];

/// Builds one plugin from its name and arguments; `Ok(None)` for one that has nothing to run
/// at the points the framework trait covers (the queue sort is the queue's own order, the
/// binder the scheduler's bind step, preemption its PostFilter).
fn build_plugin(
    name: &str,
    args: Option<&serde_json::Value>,
) -> Result<Option<Arc<dyn Plugin>>, ConfigError> {
    use plugins::*;
    let p: Arc<dyn Plugin> = match name {
        scheduling_gates::NAME => Arc::new(scheduling_gates::SchedulingGates),
        node_unschedulable::NAME => Arc::new(node_unschedulable::NodeUnschedulable),
        node_name::NAME => Arc::new(node_name::NodeName),
        taint_toleration::NAME => Arc::new(taint_toleration::TaintToleration),
        node_affinity::NAME => Arc::new(crate::plugin_args::node_affinity(args)?),
        node_ports::NAME => Arc::new(node_ports::NodePorts),
        node_resources_fit::NAME => Arc::new(crate::plugin_args::node_resources_fit(args)?),
        balanced_allocation::NAME => Arc::new(crate::plugin_args::balanced_allocation(args)?),
        image_locality::NAME => Arc::new(image_locality::ImageLocality),
        inter_pod_affinity::NAME => Arc::new(crate::plugin_args::inter_pod_affinity(args)?),
        pod_topology_spread::NAME => Arc::new(crate::plugin_args::pod_topology_spread(args)?),
        volume_binding::NAME => Arc::new(volume_binding::VolumeBinding::from_args(args)?),
        node_prefer_avoid_pods::NAME => Arc::new(node_prefer_avoid_pods::NodePreferAvoidPods),
        volume_restrictions::NAME => Arc::new(volume_restrictions::VolumeRestrictions::default()),
        volume_zone::NAME => Arc::new(volume_zone::VolumeZone::default()),
        n if is_registered(n) => return Ok(None),
        other => {
            return Err(ConfigError::Invalid(format!(
                "plugin {other:?} is not registered"
            )))
        }
    };
    Ok(Some(p))
}

/// The framework points a configuration point name turns on.
fn points_of(point: &str) -> Points {
    let mut p = Points::default();
    match point {
        "preEnqueue" => p.pre_enqueue = true,
        "preFilter" => p.pre_filter = true,
        "filter" => p.filter = true,
        "preScore" => p.pre_score = true,
        "reserve" => p.reserve = true,
        "preBind" => p.pre_bind = true,
        "score" => {
            p.score = true;
            p.pre_score = true;
        }
        _ => {}
    }
    p
}

fn union(a: Points, b: Points) -> Points {
    Points {
        pre_enqueue: a.pre_enqueue || b.pre_enqueue,
        pre_filter: a.pre_filter || b.pre_filter,
        filter: a.filter || b.filter,
        pre_score: a.pre_score || b.pre_score,
        score: a.score || b.score,
        reserve: a.reserve || b.reserve,
        pre_bind: a.pre_bind || b.pre_bind,
    }
}

impl ProfileConfig {
    fn disabled_at(&self, point: &str, name: &str) -> bool {
        self.disabled
            .get(point)
            .is_some_and(|d| d.contains("*") || d.contains(name))
    }

    /// Whether `name` runs at the configuration point `point`.
    pub fn runs_at(&self, point: &str, name: &str) -> bool {
        let explicit = self
            .enabled
            .get(point)
            .is_some_and(|e| e.iter().any(|(n, _)| n == name));
        explicit || (self.plugins.iter().any(|(n, _)| n == name) && !self.disabled_at(point, name))
    }

    fn build(&self, global_pct: Option<u32>) -> Result<Profile, ConfigError> {
        for point in self.enabled.keys().chain(self.disabled.keys()) {
            if !EXTENSION_POINTS.contains(&point.as_str()) {
                return Err(ConfigError::Invalid(format!(
                    "profiles[{}].plugins: unknown extension point {point:?}",
                    self.scheduler_name
                )));
            }
        }
        for name in self.disabled.values().flatten() {
            if name != "*" && !is_registered(name) {
                return Err(ConfigError::Invalid(format!(
                    "plugin {name:?} is not registered"
                )));
            }
        }
        for name in self.args.keys() {
            if !is_registered(name) {
                return Err(ConfigError::Invalid(format!(
                    "plugin {name:?} is not registered"
                )));
            }
        }
        let mut names: Vec<&str> = self.plugins.iter().map(|(n, _)| n.as_str()).collect();
        for (n, _) in self.enabled.values().flatten() {
            if !names.contains(&n.as_str()) {
                names.push(n);
            }
        }
        let mut enabled = Vec::new();
        for name in names {
            let Some(plugin) = build_plugin(name, self.args.get(name))? else {
                continue;
            };
            let mut points = Points::default();
            for point in EXTENSION_POINTS {
                if self.runs_at(point, name) {
                    points = union(points, points_of(point));
                }
            }
            let weight = self
                .enabled
                .get("score")
                .and_then(|e| e.iter().find(|(n, _)| n == name))
                .and_then(|(_, w)| *w)
                .or_else(|| {
                    self.plugins
                        .iter()
                        .find(|(n, _)| n == name)
                        .and_then(|(_, w)| *w)
                })
                .unwrap_or_else(|| default_weight(name));
            enabled.push(Enabled {
                plugin,
                weight,
                points,
            });
        }
        let mut profile = Profile::new(self.scheduler_name.clone(), enabled);
        profile.percentage_of_nodes_to_score = self.percentage_of_nodes_to_score.or(global_pct);
        profile.preemption = self.runs_at("postFilter", "DefaultPreemption");
        profile.preemption_candidates =
            crate::plugin_args::default_preemption(self.args.get("DefaultPreemption"))?;
        profile.check_all_filters = self.check_all_filters;
        Ok(profile)
    }
}

impl SchedulerConfig {
    /// The profiles ready to run, or what is wrong with the configuration.
    pub fn build(&self) -> Result<Vec<Profile>, ConfigError> {
        let mut out: Vec<Profile> = Vec::new();
        if self.profiles.is_empty() {
            return Err(ConfigError::Invalid(
                "profiles: Required value: at least one profile is required".into(),
            ));
        }
        for e in &self.extenders {
            crate::extender::Extender::new(e.clone())?;
        }
        // Resources extenders manage with `ignoredByScheduler` are not NodeResourcesFit's.
        let ignored: Vec<serde_json::Value> = self
            .extenders
            .iter()
            .flat_map(|e| e.managed_resources.iter())
            .filter(|m| m.ignored_by_scheduler)
            .map(|m| serde_json::Value::String(m.name.clone()))
            .collect();
        for (i, pc) in self.profiles.iter().enumerate() {
            let mut pc = pc.clone();
            if !ignored.is_empty() {
                let args = pc
                    .args
                    .entry("NodeResourcesFit".into())
                    .or_insert_with(|| serde_json::json!({}));
                if args.is_null() {
                    *args = serde_json::json!({});
                }
                if let Some(obj) = args.as_object_mut() {
                    let list = obj
                        .entry("ignoredResources")
                        .or_insert_with(|| serde_json::json!([]));
                    if let Some(l) = list.as_array_mut() {
                        l.extend(ignored.iter().cloned());
                    }
                }
            }
            let pc = &pc;
            if pc.scheduler_name.is_empty() {
                return Err(ConfigError::Invalid(format!(
                    "profiles[{i}].schedulerName: Required value"
                )));
            }
            if out.iter().any(|p| p.scheduler_name == pc.scheduler_name) {
                return Err(ConfigError::Invalid(format!(
                    "profiles[{i}].schedulerName: Duplicate value: {:?}",
                    pc.scheduler_name
                )));
            }
            if let Some(p) = pc.percentage_of_nodes_to_score.filter(|p| *p > 100) {
                return Err(ConfigError::Invalid(format!(
                    "profiles[{i}].percentageOfNodesToScore: Invalid value: {p}: not in valid range [0-100]"
                )));
            }
            out.push(pc.build(self.percentage_of_nodes_to_score)?);
        }
        if let Some(p) = self.percentage_of_nodes_to_score.filter(|p| *p > 100) {
            return Err(ConfigError::Invalid(format!(
                "percentageOfNodesToScore: Invalid value: {p}: not in valid range [0-100]"
            )));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_profile_has_upstreams_score_weights() {
        let profiles = SchedulerConfig::default().build().unwrap_or_default();
        let p = &profiles[0];
        assert_eq!(p.scheduler_name, "default-scheduler");
        let weights: Vec<(&str, i64)> = p
            .score
            .iter()
            .map(|e| (e.plugin.name(), e.weight))
            .collect();
        assert_eq!(
            weights,
            [
                ("TaintToleration", 3),
                ("NodeAffinity", 2),
                ("NodeResourcesFit", 1),
                ("PodTopologySpread", 2),
                ("InterPodAffinity", 2),
                ("NodeResourcesBalancedAllocation", 1),
                ("ImageLocality", 1)
            ]
        );
        assert!(p.preemption);
    }

    #[test]
    fn per_point_disabling_leaves_the_plugins_other_points() {
        let mut pc = ProfileConfig::default();
        pc.disabled
            .insert("score".into(), BTreeSet::from(["*".to_string()]));
        pc.enabled
            .insert("score".into(), vec![("NodeResourcesFit".into(), Some(5))]);
        let p = SchedulerConfig {
            profiles: vec![pc],
            ..SchedulerConfig::default()
        }
        .build()
        .unwrap_or_default();
        let weights: Vec<(&str, i64)> = p[0]
            .score
            .iter()
            .map(|e| (e.plugin.name(), e.weight))
            .collect();
        assert_eq!(weights, [("NodeResourcesFit", 5)]);
        // TaintToleration still filters.
        assert!(p[0].filter.iter().any(|f| f.name() == "TaintToleration"));
    }
}
