//! Reading `--scheduler-config`: a KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1,
//! YAML or JSON, decoded strictly as kube-scheduler does: an unknown field is an error) or the
//! legacy `kind: Policy` file operators still carry, whose predicates and priorities are mapped
//! onto the plugins that replaced them (upstream's legacy registry). Anything unknown is refused
//! at start with its name.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;

use crate::config::{is_registered, ConfigError, ProfileConfig, SchedulerConfig, EXTENSION_POINTS};
use crate::extender::{ExtenderConfig, ExtenderTls, ManagedResource};

const GROUP_VERSION: &str = "kubescheduler.config.k8s.io/v1";

fn invalid(msg: impl Into<String>) -> ConfigError {
    ConfigError::Invalid(msg.into())
}

/// Reads and checks the file at `path`.
pub fn load(path: &Path) -> Result<SchedulerConfig, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| invalid(format!("reading {}: {e}", path.display())))?;
    parse(&text)
}

/// Parses a configuration file's text.
pub fn parse(text: &str) -> Result<SchedulerConfig, ConfigError> {
    let v: Value = serde_norway::from_str(text).map_err(|e| invalid(format!("decoding: {e}")))?;
    let kind = v.get("kind").and_then(Value::as_str).unwrap_or("");
    let api_version = v.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let config = match (kind, api_version) {
        ("KubeSchedulerConfiguration", GROUP_VERSION) => configuration(v)?,
        ("Policy", "v1" | "") => policy(v)?,
        ("", _) => return Err(invalid("Object 'Kind' is missing")),
        (k, a) => {
            return Err(invalid(format!(
                "no kind {k:?} is registered for version {a:?}"
            )))
        }
    };
    config.build()?;
    Ok(config)
}

fn strict<T: for<'de> Deserialize<'de>>(v: Value) -> Result<T, ConfigError> {
    serde_json::from_value(v).map_err(|e| invalid(format!("strict decoding error: {e}")))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Configuration {
    #[allow(dead_code)]
    api_version: String,
    #[allow(dead_code)]
    kind: String,
    #[serde(default)]
    parallelism: Option<i32>,
    #[serde(default)]
    leader_election: Option<Value>,
    #[serde(default)]
    client_connection: Option<Value>,
    #[serde(default)]
    enable_profiling: Option<bool>,
    #[serde(default)]
    enable_contention_profiling: Option<bool>,
    #[serde(default)]
    percentage_of_nodes_to_score: Option<i64>,
    #[serde(default)]
    pod_initial_backoff_seconds: Option<i64>,
    #[serde(default)]
    pod_max_backoff_seconds: Option<i64>,
    #[serde(default)]
    delay_cache_until_active: Option<bool>,
    #[serde(default)]
    profiles: Option<Vec<ProfileFile>>,
    #[serde(default)]
    extenders: Option<Vec<ExtenderFile>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ProfileFile {
    #[serde(default)]
    scheduler_name: Option<String>,
    #[serde(default)]
    percentage_of_nodes_to_score: Option<i64>,
    #[serde(default)]
    plugins: Option<BTreeMap<String, PluginSet>>,
    #[serde(default)]
    plugin_config: Option<Vec<PluginConfigFile>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PluginSet {
    #[serde(default)]
    enabled: Option<Vec<PluginRef>>,
    #[serde(default)]
    disabled: Option<Vec<PluginRef>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PluginRef {
    name: String,
    #[serde(default)]
    weight: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PluginConfigFile {
    name: String,
    #[serde(default)]
    args: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TlsFile {
    #[serde(default)]
    insecure: bool,
    #[serde(default)]
    server_name: String,
    #[serde(default)]
    cert_file: String,
    #[serde(default)]
    key_file: String,
    #[serde(default)]
    ca_file: String,
    #[serde(default)]
    cert_data: Option<String>,
    #[serde(default)]
    key_data: Option<String>,
    #[serde(default)]
    ca_data: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ExtenderFile {
    url_prefix: String,
    #[serde(default)]
    filter_verb: String,
    #[serde(default)]
    preempt_verb: String,
    #[serde(default)]
    prioritize_verb: String,
    #[serde(default)]
    weight: i64,
    #[serde(default)]
    bind_verb: String,
    #[serde(default, rename = "enableHTTPS", alias = "enableHttps")]
    enable_https: bool,
    #[serde(default)]
    tls_config: Option<TlsFile>,
    /// A duration string (`30s`) in the configuration, nanoseconds in a legacy Policy.
    #[serde(default)]
    http_timeout: Option<Value>,
    #[serde(default)]
    node_cache_capable: bool,
    #[serde(default)]
    managed_resources: Vec<ManagedResource>,
    #[serde(default)]
    ignorable: bool,
}

/// `30s`, `1m30s`, `500ms` (Go's time.ParseDuration for what configurations use).
fn go_duration(s: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut rest = s.trim();
    if rest == "0" {
        return Some(total);
    }
    while !rest.is_empty() {
        let end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let (num, tail) = rest.split_at(end);
        let n: f64 = num.parse().ok()?;
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_end);
        let secs = match unit {
            "ns" => n / 1e9,
            "us" | "µs" => n / 1e6,
            "ms" => n / 1e3,
            "s" => n,
            "m" => n * 60.0,
            "h" => n * 3600.0,
            _ => return None,
        };
        total += Duration::from_secs_f64(secs);
        rest = tail;
    }
    Some(total)
}

fn file_or_data(
    file: &str,
    data: Option<String>,
    what: &str,
) -> Result<Option<Vec<u8>>, ConfigError> {
    if let Some(d) = data.filter(|d| !d.is_empty()) {
        return base64::engine::general_purpose::STANDARD
            .decode(d.as_bytes())
            .map(Some)
            .map_err(|e| invalid(format!("tlsConfig.{what}Data: {e}")));
    }
    if file.is_empty() {
        return Ok(None);
    }
    std::fs::read(file)
        .map(Some)
        .map_err(|e| invalid(format!("tlsConfig.{what}File {file}: {e}")))
}

fn extender(i: usize, e: ExtenderFile) -> Result<ExtenderConfig, ConfigError> {
    let http_timeout = match e.http_timeout {
        None | Some(Value::Null) => Duration::from_secs(30),
        Some(Value::String(s)) => go_duration(&s).ok_or_else(|| {
            invalid(format!(
                "extenders[{i}].httpTimeout: invalid duration {s:?}"
            ))
        })?,
        Some(Value::Number(n)) => Duration::from_nanos(n.as_u64().unwrap_or(0)),
        Some(other) => {
            return Err(invalid(format!(
                "extenders[{i}].httpTimeout: invalid duration {other}"
            )))
        }
    };
    let tls = match e.tls_config {
        None => None,
        Some(t) => Some(ExtenderTls {
            insecure: t.insecure,
            server_name: t.server_name,
            ca_pem: file_or_data(&t.ca_file, t.ca_data, "ca")?,
            cert_pem: file_or_data(&t.cert_file, t.cert_data, "cert")?,
            key_pem: file_or_data(&t.key_file, t.key_data, "key")?,
        }),
    };
    if !e.prioritize_verb.is_empty() && e.weight <= 0 {
        return Err(invalid(format!(
            "extenders[{i}].weight: Invalid value: {}: must have a positive weight applied to it",
            e.weight
        )));
    }
    Ok(ExtenderConfig {
        url_prefix: e.url_prefix,
        filter_verb: e.filter_verb,
        prioritize_verb: e.prioritize_verb,
        preempt_verb: e.preempt_verb,
        bind_verb: e.bind_verb,
        weight: e.weight,
        enable_https: e.enable_https,
        tls,
        http_timeout: if http_timeout.is_zero() {
            Duration::from_secs(30)
        } else {
            http_timeout
        },
        node_cache_capable: e.node_cache_capable,
        managed_resources: e.managed_resources,
        ignorable: e.ignorable,
    })
}

fn extenders(list: Vec<ExtenderFile>) -> Result<Vec<ExtenderConfig>, ConfigError> {
    let out: Vec<ExtenderConfig> = list
        .into_iter()
        .enumerate()
        .map(|(i, e)| extender(i, e))
        .collect::<Result<_, _>>()?;
    let binders = out.iter().filter(|e| !e.bind_verb.is_empty()).count();
    if binders > 1 {
        return Err(invalid(format!(
            "extenders: Invalid value: {binders}: only one extender can implement bind, found {binders}"
        )));
    }
    Ok(out)
}

fn percentage(v: Option<i64>, field: &str) -> Result<Option<u32>, ConfigError> {
    match v {
        None => Ok(None),
        Some(p) if (0..=100).contains(&p) => Ok(u32::try_from(p).ok()),
        Some(p) => Err(invalid(format!(
            "{field}: Invalid value: {p}: not in valid range [0-100]"
        ))),
    }
}

fn configuration(v: Value) -> Result<SchedulerConfig, ConfigError> {
    let c: Configuration = strict(v)?;
    let _ = (
        c.parallelism,
        c.leader_election,
        c.client_connection,
        c.enable_profiling,
        c.enable_contention_profiling,
        c.delay_cache_until_active,
    );
    let mut config = SchedulerConfig {
        percentage_of_nodes_to_score: percentage(
            c.percentage_of_nodes_to_score,
            "percentageOfNodesToScore",
        )?,
        ..SchedulerConfig::default()
    };
    let initial = c.pod_initial_backoff_seconds.unwrap_or(1);
    let max = c.pod_max_backoff_seconds.unwrap_or(10);
    if initial <= 0 {
        return Err(invalid(format!(
            "podInitialBackoffSeconds: Invalid value: {initial}: must be greater than 0"
        )));
    }
    if max < initial {
        return Err(invalid(format!(
            "podMaxBackoffSeconds: Invalid value: {max}: must be greater than or equal to PodInitialBackoffSeconds"
        )));
    }
    config.initial_backoff = Duration::from_secs(initial.unsigned_abs());
    config.max_backoff = Duration::from_secs(max.unsigned_abs());
    if let Some(profiles) = c.profiles.filter(|p| !p.is_empty()) {
        config.profiles = profiles
            .into_iter()
            .enumerate()
            .map(|(i, p)| profile(i, p))
            .collect::<Result<_, _>>()?;
    }
    config.extenders = extenders(c.extenders.unwrap_or_default())?;
    Ok(config)
}

fn check_name(name: &str, field: &str) -> Result<(), ConfigError> {
    if name == "*" || is_registered(name) {
        Ok(())
    } else {
        Err(invalid(format!(
            "{field}: plugin {name:?} is not registered"
        )))
    }
}

fn profile(i: usize, p: ProfileFile) -> Result<ProfileConfig, ConfigError> {
    let mut pc = ProfileConfig {
        scheduler_name: p
            .scheduler_name
            .unwrap_or_else(|| crate::config::DEFAULT_SCHEDULER_NAME.into()),
        percentage_of_nodes_to_score: percentage(
            p.percentage_of_nodes_to_score,
            &format!("profiles[{i}].percentageOfNodesToScore"),
        )?,
        ..ProfileConfig::default()
    };
    for (point, set) in p.plugins.unwrap_or_default() {
        let field = format!("profiles[{i}].plugins.{point}");
        for r in set
            .enabled
            .iter()
            .flatten()
            .chain(set.disabled.iter().flatten())
        {
            check_name(&r.name, &field)?;
        }
        let disabled: BTreeSet<String> = set
            .disabled
            .unwrap_or_default()
            .into_iter()
            .map(|r| r.name)
            .collect();
        let enabled: Vec<(String, Option<i64>)> = set
            .enabled
            .unwrap_or_default()
            .into_iter()
            .map(|r| (r.name, r.weight.filter(|w| *w != 0)))
            .collect();
        if point == "multiPoint" {
            if disabled.contains("*") {
                pc.plugins.clear();
            } else {
                pc.plugins.retain(|(n, _)| !disabled.contains(n));
            }
            for (name, weight) in enabled {
                match pc.plugins.iter_mut().find(|(n, _)| *n == name) {
                    Some(existing) => existing.1 = weight.or(existing.1),
                    None => pc.plugins.push((name, weight)),
                }
            }
        } else if EXTENSION_POINTS.contains(&point.as_str()) {
            if !disabled.is_empty() {
                pc.disabled.insert(point.clone(), disabled);
            }
            if !enabled.is_empty() {
                pc.enabled.insert(point, enabled);
            }
        } else {
            return Err(invalid(format!(
                "strict decoding error: unknown field \"profiles[{i}].plugins.{point}\""
            )));
        }
    }
    for c in p.plugin_config.unwrap_or_default() {
        check_name(&c.name, &format!("profiles[{i}].pluginConfig"))?;
        if pc.args.contains_key(&c.name) {
            return Err(invalid(format!(
                "profiles[{i}].pluginConfig[{:?}]: Duplicate value: {:?}",
                c.name, c.name
            )));
        }
        pc.args.insert(c.name, c.args.unwrap_or(Value::Null));
    }
    Ok(pc)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PolicyFile {
    #[allow(dead_code)]
    kind: String,
    #[serde(default)]
    #[allow(dead_code)]
    api_version: Option<String>,
    #[serde(default)]
    predicates: Option<Vec<PolicyEntry>>,
    #[serde(default)]
    priorities: Option<Vec<PolicyEntry>>,
    #[serde(default)]
    extenders: Option<Vec<ExtenderFile>>,
    #[serde(default)]
    hard_pod_affinity_symmetric_weight: Option<i64>,
    #[serde(default)]
    always_check_all_predicates: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PolicyEntry {
    name: String,
    #[serde(default)]
    weight: Option<i64>,
    #[serde(default)]
    argument: Option<Value>,
}

/// The plugins (and whether each has a PreFilter) a legacy predicate became.
fn predicate_plugins(name: &str) -> Option<&'static [&'static str]> {
    Some(match name {
        "PodFitsResources" => &["NodeResourcesFit"],
        "PodFitsHostPorts" | "PodFitsPorts" => &["NodePorts"],
        "HostName" => &["NodeName"],
        "MatchNodeSelector" => &["NodeAffinity"],
        "GeneralPredicates" => &["NodeResourcesFit", "NodeName", "NodePorts", "NodeAffinity"],
        "PodToleratesNodeTaints" => &["TaintToleration"],
        "CheckNodeUnschedulable" => &["NodeUnschedulable"],
        "NoDiskConflict" => &["VolumeRestrictions"],
        "NoVolumeZoneConflict" => &["VolumeZone"],
        "MaxEBSVolumeCount"
        | "MaxGCEPDVolumeCount"
        | "MaxAzureDiskVolumeCount"
        | "MaxCSIVolumeCountPred"
        | "MaxCinderVolumeCount" => &["NodeVolumeLimits"],
        "MatchInterPodAffinity" => &["InterPodAffinity"],
        "CheckVolumeBinding" => &["VolumeBinding"],
        "EvenPodsSpread" => &["PodTopologySpread"],
        _ => return None,
    })
}

/// The plugin (and its score arguments) a legacy priority became.
fn priority_plugin(name: &str) -> Option<&'static str> {
    Some(match name {
        "LeastRequestedPriority" | "MostRequestedPriority" | "RequestedToCapacityRatioPriority" => {
            "NodeResourcesFit"
        }
        "BalancedResourceAllocation" => "NodeResourcesBalancedAllocation",
        "SelectorSpreadPriority" | "EvenPodsSpreadPriority" => "PodTopologySpread",
        "InterPodAffinityPriority" => "InterPodAffinity",
        "NodeAffinityPriority" => "NodeAffinity",
        "TaintTolerationPriority" => "TaintToleration",
        "ImageLocalityPriority" => "ImageLocality",
        "NodePreferAvoidPodsPriority" => "NodePreferAvoidPods",
        _ => return None,
    })
}

fn policy(v: Value) -> Result<SchedulerConfig, ConfigError> {
    let p: PolicyFile = strict(v)?;
    let mut pc = ProfileConfig {
        check_all_filters: p.always_check_all_predicates,
        ..ProfileConfig::default()
    };
    if let Some(preds) = p.predicates {
        let mut names: Vec<(String, Option<i64>)> = Vec::new();
        for pred in preds {
            let plugins = predicate_plugins(&pred.name).ok_or_else(|| {
                invalid(format!(
                    "invalid predicate name {:?} specified - no corresponding function found",
                    pred.name
                ))
            })?;
            for pl in plugins {
                if !names.iter().any(|(n, _)| n == pl) {
                    names.push((pl.to_string(), None));
                }
            }
        }
        for point in ["preFilter", "filter"] {
            pc.disabled
                .insert(point.into(), BTreeSet::from(["*".to_string()]));
            pc.enabled.insert(point.into(), names.clone());
        }
    }
    if let Some(prios) = p.priorities {
        let mut weights: Vec<(String, Option<i64>)> = Vec::new();
        for prio in prios {
            let plugin = priority_plugin(&prio.name).ok_or_else(|| {
                invalid(format!(
                    "invalid priority name {:?} specified - no corresponding function found",
                    prio.name
                ))
            })?;
            let w = prio.weight.unwrap_or(1);
            if w <= 0 {
                return Err(invalid(format!(
                    "priority {:?} should have a positive weight applied to it or it has overflown",
                    prio.name
                )));
            }
            match weights.iter_mut().find(|(n, _)| n == plugin) {
                Some(e) => e.1 = Some(e.1.unwrap_or(0) + w),
                None => weights.push((plugin.to_string(), Some(w))),
            }
            if let Some(args) = legacy_fit_args(&prio.name, prio.argument.as_ref()) {
                pc.args.insert("NodeResourcesFit".into(), args);
            }
            if !is_registered(plugin) {
                pc.plugins.push((plugin.to_string(), None));
            }
        }
        for point in ["preScore", "score"] {
            pc.disabled
                .insert(point.into(), BTreeSet::from(["*".to_string()]));
            pc.enabled.insert(point.into(), weights.clone());
        }
        if weights.iter().any(|(n, _)| n == "NodePreferAvoidPods") {
            pc.plugins.push(("NodePreferAvoidPods".into(), None));
        }
    }
    if let Some(w) = p.hard_pod_affinity_symmetric_weight {
        if !(0..=100).contains(&w) {
            return Err(invalid(format!(
                "hardPodAffinitySymmetricWeight: Invalid value: {w}: not in valid range [0-100]"
            )));
        }
        pc.args.insert(
            "InterPodAffinity".into(),
            serde_json::json!({"hardPodAffinityWeight": w}),
        );
    }
    Ok(SchedulerConfig {
        profiles: vec![pc],
        extenders: extenders(p.extenders.unwrap_or_default())?,
        ..SchedulerConfig::default()
    })
}

/// NodeResourcesFit arguments for the resource priorities that chose a strategy.
fn legacy_fit_args(name: &str, argument: Option<&Value>) -> Option<Value> {
    match name {
        "MostRequestedPriority" => {
            Some(serde_json::json!({"scoringStrategy": {"type": "MostAllocated"}}))
        }
        "RequestedToCapacityRatioPriority" => {
            let a = argument?.get("requestedToCapacityRatioArguments")?;
            let shape = a.get("shape").cloned().unwrap_or(Value::Null);
            let mut strategy = serde_json::json!({"type": "RequestedToCapacityRatio",
                "requestedToCapacityRatio": {"shape": shape}});
            if let Some(r) = a.get("resources") {
                strategy["resources"] = r.clone();
            }
            Some(serde_json::json!({"scoringStrategy": strategy}))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kube_scheduler_configuration_sets_profiles_weights_and_args() {
        let c = parse(
            r#"
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
percentageOfNodesToScore: 30
podMaxBackoffSeconds: 20
profiles:
- schedulerName: default-scheduler
  plugins:
    score:
      disabled: [{name: NodeResourcesBalancedAllocation}]
      enabled: [{name: NodeResourcesFit, weight: 5}]
  pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: MostAllocated
        resources: [{name: cpu, weight: 3}, {name: memory, weight: 1}]
- schedulerName: no-scores
  plugins:
    multiPoint:
      disabled: [{name: ImageLocality}]
    score:
      disabled: [{name: "*"}]
extenders:
- urlPrefix: http://127.0.0.1:8888/
  filterVerb: filter
  prioritizeVerb: prioritize
  weight: 2
  httpTimeout: 1m30s
"#,
        )
        .unwrap_or_default();
        assert_eq!(c.percentage_of_nodes_to_score, Some(30));
        assert_eq!(c.max_backoff, Duration::from_secs(20));
        assert_eq!(c.extenders[0].http_timeout, Duration::from_secs(90));
        let profiles = c.build().unwrap_or_default();
        let weights = |i: usize| -> Vec<(String, i64)> {
            profiles[i]
                .score
                .iter()
                .map(|e| (e.plugin.name().to_string(), e.weight))
                .collect()
        };
        assert!(weights(0).contains(&("NodeResourcesFit".to_string(), 5)));
        assert!(!weights(0)
            .iter()
            .any(|(n, _)| n == "NodeResourcesBalancedAllocation"));
        assert!(weights(1).is_empty());
        assert!(!profiles[1].filter.is_empty());
    }

    #[test]
    fn unknown_plugins_fields_and_kinds_are_refused_by_name() {
        let bad_plugin = "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles:\n- plugins:\n    filter:\n      enabled: [{name: NoSuchPlugin}]\n";
        let e = parse(bad_plugin)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("\"NoSuchPlugin\" is not registered"), "{e}");
        let bad_field = "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nbogusField: 1\n";
        let e = parse(bad_field)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("unknown field `bogusField`"), "{e}");
        let old =
            "apiVersion: kubescheduler.config.k8s.io/v1beta3\nkind: KubeSchedulerConfiguration\n";
        let e = parse(old).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("no kind \"KubeSchedulerConfiguration\" is registered for version \"kubescheduler.config.k8s.io/v1beta3\""), "{e}");
        let pred = r#"{"kind": "Policy", "apiVersion": "v1", "predicates": [{"name": "PodFitsResources"}, {"name": "CheckServiceAffinity"}]}"#;
        let e = parse(pred).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            e.contains("invalid predicate name \"CheckServiceAffinity\""),
            "{e}"
        );
    }

    #[test]
    fn a_legacy_policy_maps_predicates_and_priorities_onto_plugins() {
        let c = parse(
            r#"{"kind": "Policy", "apiVersion": "v1",
                "predicates": [{"name": "PodFitsResources"}, {"name": "MatchNodeSelector"}, {"name": "PodToleratesNodeTaints"}],
                "priorities": [{"name": "MostRequestedPriority", "weight": 2}, {"name": "ImageLocalityPriority", "weight": 1}],
                "alwaysCheckAllPredicates": true,
                "extenders": [{"urlPrefix": "http://127.0.0.1:1/", "filterVerb": "filter", "enableHttps": false, "httpTimeout": 5000000000}]}"#,
        )
        .unwrap_or_default();
        let profiles = c.build().unwrap_or_default();
        let p = &profiles[0];
        let filters: Vec<&str> = p.filter.iter().map(|f| f.name()).collect();
        assert_eq!(
            filters,
            ["TaintToleration", "NodeAffinity", "NodeResourcesFit"]
        );
        let scores: Vec<(&str, i64)> = p
            .score
            .iter()
            .map(|e| (e.plugin.name(), e.weight))
            .collect();
        assert_eq!(scores, [("NodeResourcesFit", 2), ("ImageLocality", 1)]);
        assert!(p.check_all_filters);
        assert_eq!(c.extenders[0].http_timeout, Duration::from_secs(5));
    }

    #[test]
    fn the_example_files_in_docs_load() {
        let config = parse(include_str!("../../docs/scheduler-config.yaml"));
        assert!(config.is_ok(), "{config:?}");
        let profiles = config.unwrap_or_default().build().unwrap_or_default();
        assert_eq!(profiles.len(), 2);
        assert!(profiles[0].preemption && !profiles[1].preemption);
        let policy = parse(include_str!("../../docs/scheduler-policy.json"));
        assert!(policy.is_ok(), "{policy:?}");
    }
}
