//! The plugins' arguments as `pluginConfig` gives them (kubescheduler.config.k8s.io/v1
//! `NodeResourcesFitArgs`, `NodeResourcesBalancedAllocationArgs`, `NodeAffinityArgs`), read
//! into the plugins with upstream's defaults and validation messages.

use serde::Deserialize;
use serde_json::Value;

use crate::config::ConfigError;
use crate::plugins::balanced_allocation::BalancedAllocation;
use crate::plugins::node_affinity::NodeAffinity;
use crate::plugins::node_resources_fit::{
    default_resources, NodeResourcesFit, ResourceWeight, ShapePoint, Strategy,
};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ResourceSpec {
    name: String,
    #[serde(default)]
    weight: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UtilizationShapePoint {
    utilization: i64,
    score: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RequestedToCapacityRatioParam {
    #[serde(default)]
    shape: Vec<UtilizationShapePoint>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ScoringStrategy {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    resources: Option<Vec<ResourceSpec>>,
    #[serde(default)]
    requested_to_capacity_ratio: Option<RequestedToCapacityRatioParam>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct FitArgs {
    #[serde(default)]
    ignored_resources: Vec<String>,
    #[serde(default)]
    ignored_resource_groups: Vec<String>,
    #[serde(default)]
    scoring_strategy: Option<ScoringStrategy>,
    #[serde(default, rename = "apiVersion")]
    _api_version: Option<String>,
    #[serde(default, rename = "kind")]
    _kind: Option<String>,
}

fn parse<T: for<'de> Deserialize<'de> + Default>(
    plugin: &str,
    args: Option<&Value>,
) -> Result<T, ConfigError> {
    match args {
        None | Some(Value::Null) => Ok(T::default()),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|e| ConfigError::Invalid(format!("decoding {plugin} args: {e}"))),
    }
}

fn resources(
    list: Option<Vec<ResourceSpec>>,
    field: &str,
) -> Result<Vec<ResourceWeight>, ConfigError> {
    let Some(list) = list else {
        return Ok(default_resources());
    };
    list.into_iter()
        .enumerate()
        .map(|(i, r)| {
            let weight = r.weight.unwrap_or(1);
            if !(1..=100).contains(&weight) {
                return Err(ConfigError::Invalid(format!(
                    "{field}[{i}].weight: Invalid value: {weight}: resource weight of {} should be in the range [1, 100]",
                    r.name
                )));
            }
            Ok(ResourceWeight::new(r.name, weight))
        })
        .collect()
}

pub fn node_resources_fit(args: Option<&Value>) -> Result<NodeResourcesFit, ConfigError> {
    let a: FitArgs = parse("NodeResourcesFit", args)?;
    let mut fit = NodeResourcesFit {
        ignored: a.ignored_resources,
        ignored_groups: a.ignored_resource_groups,
        ..NodeResourcesFit::default()
    };
    if let Some(s) = a.scoring_strategy {
        fit.resources = resources(s.resources, "scoringStrategy.resources")?;
        fit.strategy = match s.kind.as_deref().unwrap_or("LeastAllocated") {
            "LeastAllocated" => Strategy::LeastAllocated,
            "MostAllocated" => Strategy::MostAllocated,
            "RequestedToCapacityRatio" => {
                let shape: Vec<ShapePoint> = s
                    .requested_to_capacity_ratio
                    .map(|r| r.shape)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|p| ShapePoint {
                        utilization: p.utilization,
                        score: p.score,
                    })
                    .collect();
                validate_shape(&shape)?;
                Strategy::RequestedToCapacityRatio(shape)
            }
            other => {
                return Err(ConfigError::Invalid(format!(
                    "scoringStrategy.type: Unsupported value: {other:?}: supported values: \"LeastAllocated\", \"MostAllocated\", \"RequestedToCapacityRatio\""
                )))
            }
        };
    }
    Ok(fit)
}

fn validate_shape(shape: &[ShapePoint]) -> Result<(), ConfigError> {
    if shape.is_empty() {
        return Err(ConfigError::Invalid(
            "scoringStrategy.requestedToCapacityRatio.shape: Required value: at least one point must be specified".into(),
        ));
    }
    for (i, p) in shape.iter().enumerate() {
        if !(0..=100).contains(&p.utilization) {
            return Err(ConfigError::Invalid(format!(
                "scoringStrategy.requestedToCapacityRatio.shape[{i}].utilization: Invalid value: {}: not in valid range [0, 100]",
                p.utilization
            )));
        }
        if !(0..=10).contains(&p.score) {
            return Err(ConfigError::Invalid(format!(
                "scoringStrategy.requestedToCapacityRatio.shape[{i}].score: Invalid value: {}: not in valid range [0, 10]",
                p.score
            )));
        }
        if i > 0 && shape[i - 1].utilization >= p.utilization {
            return Err(ConfigError::Invalid(format!(
                "scoringStrategy.requestedToCapacityRatio.shape[{i}].utilization: Invalid value: {}: utilization values must be sorted in increasing order",
                p.utilization
            )));
        }
    }
    Ok(())
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct BalancedArgs {
    #[serde(default)]
    resources: Option<Vec<ResourceSpec>>,
}

pub fn balanced_allocation(args: Option<&Value>) -> Result<BalancedAllocation, ConfigError> {
    let a: BalancedArgs = parse("NodeResourcesBalancedAllocation", args)?;
    Ok(BalancedAllocation {
        resources: resources(a.resources, "resources")?,
    })
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct AffinityArgs {
    #[serde(default)]
    added_affinity: Option<k8s_openapi::api::core::v1::NodeAffinity>,
}

pub fn node_affinity(args: Option<&Value>) -> Result<NodeAffinity, ConfigError> {
    let a: AffinityArgs = parse("NodeAffinity", args)?;
    let added = a.added_affinity.unwrap_or_default();
    Ok(NodeAffinity {
        added: added.required_during_scheduling_ignored_during_execution,
        added_preferred: added
            .preferred_during_scheduling_ignored_during_execution
            .unwrap_or_default(),
    })
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct InterPodAffinityArgs {
    #[serde(default)]
    hard_pod_affinity_weight: Option<i32>,
    #[serde(default)]
    ignore_preferred_terms_of_existing_pods: bool,
}

/// InterPodAffinityArgs: `hardPodAffinityWeight` (default 1, within [0, 100]) and
/// `ignorePreferredTermsOfExistingPods`.
pub fn inter_pod_affinity(
    args: Option<&Value>,
) -> Result<crate::plugins::inter_pod_affinity::InterPodAffinity, ConfigError> {
    use crate::plugins::inter_pod_affinity::{InterPodAffinity, DEFAULT_HARD_POD_AFFINITY_WEIGHT};
    let a: InterPodAffinityArgs = parse("InterPodAffinity", args)?;
    let weight = a
        .hard_pod_affinity_weight
        .unwrap_or(DEFAULT_HARD_POD_AFFINITY_WEIGHT);
    if !(0..=100).contains(&weight) {
        return Err(ConfigError::Invalid(format!(
            "hardPodAffinityWeight: Invalid value: {weight}: not in valid range [0, 100]"
        )));
    }
    Ok(InterPodAffinity::new(
        weight,
        a.ignore_preferred_terms_of_existing_pods,
    ))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PodTopologySpreadArgs {
    #[serde(default)]
    default_constraints: Vec<k8s_openapi::api::core::v1::TopologySpreadConstraint>,
    #[serde(default)]
    defaulting_type: Option<String>,
}

/// PodTopologySpreadArgs: `defaultingType` System (the default: the system's constraints)
/// or List (`defaultConstraints`), validated as upstream's ValidatePodTopologySpreadArgs.
pub fn pod_topology_spread(
    args: Option<&Value>,
) -> Result<crate::plugins::pod_topology_spread::PodTopologySpread, ConfigError> {
    use crate::plugins::pod_topology_spread::{
        system_default_constraints, PodTopologySpread, DO_NOT_SCHEDULE, SCHEDULE_ANYWAY,
    };
    let a: PodTopologySpreadArgs = parse("PodTopologySpread", args)?;
    let defaulting = a.defaulting_type.unwrap_or_else(|| "System".into());
    let mut errs: Vec<String> = Vec::new();
    match defaulting.as_str() {
        "System" if !a.default_constraints.is_empty() => errs.push(
            "defaultingType: Invalid value: \"System\": when .defaultConstraints are not empty"
                .into(),
        ),
        "System" | "List" => {}
        other => errs.push(format!(
            "defaultingType: Unsupported value: {other:?}: supported values: \"System\", \"List\""
        )),
    }
    for (i, c) in a.default_constraints.iter().enumerate() {
        let path = format!("defaultConstraints[{i}]");
        if c.max_skew <= 0 {
            errs.push(format!(
                "{path}.maxSkew: Invalid value: {}: not in valid range (0, inf)",
                c.max_skew
            ));
        }
        if c.topology_key.is_empty() {
            errs.push(format!(
                "{path}.topologyKey: Required value: can not be empty"
            ));
        }
        match c.when_unsatisfiable.as_str() {
            "" => errs.push(format!(
                "{path}.whenUnsatisfiable: Required value: can not be empty"
            )),
            DO_NOT_SCHEDULE | SCHEDULE_ANYWAY => {}
            other => errs.push(format!(
                "{path}.whenUnsatisfiable: Unsupported value: {other:?}: supported values: \"{DO_NOT_SCHEDULE}\", \"{SCHEDULE_ANYWAY}\""
            )),
        }
        if c.label_selector.is_some() {
            errs.push(format!(
                "{path}.labelSelector: Forbidden: constraint must not define a selector, as they deduced for each pod"
            ));
        }
        let repeated = a.default_constraints[..i].iter().any(|o| {
            o.topology_key == c.topology_key && o.when_unsatisfiable == c.when_unsatisfiable
        });
        if repeated {
            errs.push(format!(
                "{path}: Duplicate value: \"{{{}, {}}}\"",
                c.topology_key, c.when_unsatisfiable
            ));
        }
    }
    match errs.len() {
        0 => {}
        1 => return Err(ConfigError::Invalid(errs.remove(0))),
        _ => return Err(ConfigError::Invalid(format!("[{}]", errs.join(", ")))),
    }
    Ok(if defaulting == "System" {
        PodTopologySpread::new(system_default_constraints(), true)
    } else {
        PodTopologySpread::new(a.default_constraints, false)
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PreemptionArgs {
    #[serde(default = "ten")]
    min_candidate_nodes_percentage: i64,
    #[serde(default = "hundred")]
    min_candidate_nodes_absolute: i64,
    #[serde(default, rename = "apiVersion")]
    _api_version: Option<String>,
    #[serde(default, rename = "kind")]
    _kind: Option<String>,
}

fn ten() -> i64 {
    10
}

fn hundred() -> i64 {
    100
}

impl Default for PreemptionArgs {
    fn default() -> Self {
        PreemptionArgs {
            min_candidate_nodes_percentage: 10,
            min_candidate_nodes_absolute: 100,
            _api_version: None,
            _kind: None,
        }
    }
}

/// DefaultPreemptionArgs: how many candidate nodes preemption looks for (a percentage of the
/// nodes, at least an absolute number), with upstream's validation.
pub fn default_preemption(args: Option<&Value>) -> Result<(usize, usize), ConfigError> {
    let a: PreemptionArgs = parse("DefaultPreemption", args)?;
    let (pct, abs) = (
        a.min_candidate_nodes_percentage,
        a.min_candidate_nodes_absolute,
    );
    if !(0..=100).contains(&pct) {
        return Err(ConfigError::Invalid(format!(
            "minCandidateNodesPercentage: Invalid value: {pct}: not in valid range [0, 100]"
        )));
    }
    if abs < 0 {
        return Err(ConfigError::Invalid(format!(
            "minCandidateNodesAbsolute: Invalid value: {abs}: not in valid range [0, inf)"
        )));
    }
    if pct == 0 && abs == 0 {
        return Err(ConfigError::Invalid(
            "minCandidateNodesPercentage: Invalid value: 0: cannot be zero at the same time as minCandidateNodesAbsolute".into(),
        ));
    }
    Ok((
        usize::try_from(pct).unwrap_or(0),
        usize::try_from(abs).unwrap_or(0),
    ))
}
