//! What an object consumes of a ResourceQuota, as upstream's quota evaluators count it: pods
//! (`pods`, `count/pods`, `cpu`/`memory`/`ephemeral-storage` requests and limits, hugepages;
//! terminal pods only as `count/pods`), services (`services`, `services.nodeports`,
//! `services.loadbalancers`), persistent volume claims (`requests.storage`, per storage class),
//! the legacy object counts (`configmaps`, `secrets`, `replicationcontrollers`,
//! `resourcequotas`) and `count/<resource>.<group>` for every kind; the quota scopes of pods
//! (Terminating, NotTerminating, BestEffort, NotBestEffort, PriorityClass); the container
//! constraints (`must specify …`). It reads objects as JSON and uses only `std`, `serde_json`
//! and the [`super::quantity`] module, so the API server's quota admission compiles the same
//! source.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::quantity::Quantity;

/// Usage by resource name, sorted as upstream prints it.
pub type Usage = BTreeMap<String, Quantity>;

/// The compute resources each container must name when a quota limits them (upstream's
/// backward-compatible validation set).
const CONSTRAINED: &[&str] = &[
    "cpu",
    "memory",
    "requests.cpu",
    "requests.memory",
    "limits.cpu",
    "limits.memory",
];

/// The pod evaluator's resources, besides the hugepages and extended ones.
const POD_RESOURCES: &[&str] = &[
    "pods",
    "count/pods",
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
];

/// A quota's scope requirement: a scope name, an operator and values.
#[derive(Debug, Clone)]
pub struct ScopeRequirement {
    pub scope: String,
    pub operator: String,
    pub values: Vec<String>,
}

/// `a + b`, key by key (apimachinery's quota.Add: a key of `a` keeps its format).
pub fn add(a: &Usage, b: &Usage) -> Usage {
    let mut out = a.clone();
    for (k, v) in b {
        let sum = match out.get(k) {
            Some(have) => *have + *v,
            None => *v,
        };
        out.insert(k.clone(), sum);
    }
    out
}

/// `usage` narrowed to `names`.
pub fn mask(usage: &Usage, names: &BTreeSet<String>) -> Usage {
    usage
        .iter()
        .filter(|(k, _)| names.contains(*k))
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

/// `a=1,b=2Gi`, as quota messages list usage.
pub fn pretty(usage: &Usage) -> String {
    usage
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// A resource list (`{"cpu": "100m"}`) read as quantities; malformed entries are skipped.
pub fn resource_list(v: Option<&Value>) -> Usage {
    let mut out = Usage::new();
    if let Some(m) = v.and_then(Value::as_object) {
        for (k, q) in m {
            let parsed = match q {
                Value::String(s) => Quantity::parse(s),
                Value::Number(n) => Quantity::parse(&n.to_string()),
                _ => None,
            };
            if let Some(q) = parsed {
                out.insert(k.clone(), q);
            }
        }
    }
    out
}

/// The quota resource name counting objects of `plural` in `group` (`count/pods`,
/// `count/deployments.apps`).
pub fn count_name(group: &str, plural: &str) -> String {
    if group.is_empty() {
        format!("count/{plural}")
    } else {
        format!("count/{plural}.{group}")
    }
}

/// The pre-`count/` name of a core kind's object count, where it has one.
fn legacy_count_name(group: &str, plural: &str) -> Option<&'static str> {
    if !group.is_empty() {
        return None;
    }
    Some(match plural {
        "configmaps" => "configmaps",
        "secrets" => "secrets",
        "replicationcontrollers" => "replicationcontrollers",
        "resourcequotas" => "resourcequotas",
        "services" => "services",
        "persistentvolumeclaims" => "persistentvolumeclaims",
        "pods" => "pods",
        _ => return None,
    })
}

/// Which of a quota's `names` the evaluator of `plural` in `group` counts.
pub fn matching_resources<'a>(
    group: &str,
    plural: &str,
    names: impl IntoIterator<Item = &'a String>,
) -> BTreeSet<String> {
    let count = count_name(group, plural);
    let legacy = legacy_count_name(group, plural);
    names
        .into_iter()
        .filter(|n| {
            if **n == count || legacy == Some(n.as_str()) {
                return true;
            }
            match (group, plural) {
                ("", "pods") => {
                    POD_RESOURCES.contains(&n.as_str())
                        || n.starts_with("hugepages-")
                        || n.starts_with("requests.hugepages-")
                        || n.starts_with("limits.hugepages-")
                }
                ("", "services") => {
                    matches!(n.as_str(), "services.nodeports" | "services.loadbalancers")
                }
                ("", "persistentvolumeclaims") => {
                    n.as_str() == "requests.storage"
                        || n.ends_with(".storageclass.storage.k8s.io/requests.storage")
                        || n.ends_with(".storageclass.storage.k8s.io/persistentvolumeclaims")
                }
                _ => false,
            }
        })
        .cloned()
        .collect()
}

fn phase(pod: &Value) -> &str {
    pod.pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Whether a pod's compute resources count (upstream's QuotaV1Pod): not terminal, and not
/// stuck terminating past its grace period (`past_grace`, which the caller works out).
pub fn pod_counts(pod: &Value, past_grace: bool) -> bool {
    !matches!(phase(pod), "Succeeded" | "Failed") && !past_grace
}

fn containers<'a>(pod: &'a Value, which: &str) -> impl Iterator<Item = &'a Value> {
    pod.pointer(&format!("/spec/{which}"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// The larger of each entry (apimachinery's maxResourceList).
fn max_into(into: &mut Usage, other: &Usage) {
    for (k, v) in other {
        match into.get(k) {
            Some(have) if have >= v => {}
            _ => {
                into.insert(k.clone(), *v);
            }
        }
    }
}

/// A pod's effective requests or limits (`field`): its containers summed, its init containers'
/// peak (sidecars, restartable init containers, run alongside), and its overhead.
fn pod_resources(pod: &Value, field: &str) -> Usage {
    let of = |c: &Value| resource_list(c.pointer(&format!("/resources/{field}")));
    let mut total = Usage::new();
    for c in containers(pod, "containers") {
        total = add(&total, &of(c));
    }
    let mut sidecars = Usage::new();
    let mut init_peak = Usage::new();
    for c in containers(pod, "initContainers") {
        let own = of(c);
        let during = if c.get("restartPolicy").and_then(Value::as_str) == Some("Always") {
            total = add(&total, &own);
            sidecars = add(&sidecars, &own);
            sidecars.clone()
        } else {
            add(&own, &sidecars)
        };
        max_into(&mut init_peak, &during);
    }
    max_into(&mut total, &init_peak);
    let overhead = resource_list(pod.pointer("/spec/overhead"));
    if !overhead.is_empty() {
        // Overhead counts only for what the pod already names (upstream's PodRequests adds it
        // to every resource; limits only where a limit is set).
        for (k, v) in &overhead {
            if field == "requests" || total.contains_key(k) {
                let sum = total.get(k).map_or(*v, |t| *t + *v);
                total.insert(k.clone(), sum);
            }
        }
    }
    total
}

/// The compute usage one pod (or one container) with these requests and limits makes
/// (upstream's podComputeUsageHelper).
fn compute_usage(requests: &Usage, limits: &Usage) -> Usage {
    let mut out = Usage::new();
    out.insert("pods".into(), Quantity::count(1));
    out.insert("count/pods".into(), Quantity::count(1));
    for r in ["cpu", "memory", "ephemeral-storage"] {
        if let Some(q) = requests.get(r) {
            out.insert(r.into(), *q);
            out.insert(format!("requests.{r}"), *q);
        }
        if let Some(q) = limits.get(r) {
            out.insert(format!("limits.{r}"), *q);
        }
    }
    for (k, q) in requests {
        if k.starts_with("hugepages-") {
            out.insert(k.clone(), *q);
            out.insert(format!("requests.{k}"), *q);
        } else if is_extended(k) {
            out.insert(format!("requests.{k}"), *q);
        }
    }
    out
}

/// An extended resource (`example.com/gpu`): domain-qualified, not `kubernetes.io`'s.
fn is_extended(name: &str) -> bool {
    name.contains('/') && !name.contains("kubernetes.io/") && !name.starts_with("requests.")
}

/// What one pod uses (upstream's PodUsageFunc).
pub fn pod_usage(pod: &Value, past_grace: bool) -> Usage {
    if !pod_counts(pod, past_grace) {
        let mut out = Usage::new();
        out.insert("count/pods".into(), Quantity::count(1));
        return out;
    }
    compute_usage(
        &pod_resources(pod, "requests"),
        &pod_resources(pod, "limits"),
    )
}

/// What one service uses.
pub fn service_usage(svc: &Value) -> Usage {
    let ports = svc
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let ports = Quantity::count(i64::try_from(ports).unwrap_or(i64::MAX));
    let mut out = Usage::new();
    out.insert("count/services".into(), Quantity::count(1));
    out.insert("services".into(), Quantity::count(1));
    out.insert("services.loadbalancers".into(), Quantity::zero());
    out.insert("services.nodeports".into(), Quantity::zero());
    match svc.pointer("/spec/type").and_then(Value::as_str) {
        Some("NodePort") => {
            out.insert("services.nodeports".into(), ports);
        }
        Some("LoadBalancer") => {
            out.insert("services.loadbalancers".into(), Quantity::count(1));
            let allocates = svc
                .pointer("/spec/allocateLoadBalancerNodePorts")
                .and_then(Value::as_bool)
                .unwrap_or(true);
            if allocates {
                out.insert("services.nodeports".into(), ports);
            }
        }
        _ => {}
    }
    out
}

/// What one persistent volume claim uses.
pub fn pvc_usage(pvc: &Value) -> Usage {
    let mut out = Usage::new();
    out.insert("persistentvolumeclaims".into(), Quantity::count(1));
    out.insert("count/persistentvolumeclaims".into(), Quantity::count(1));
    let class = pvc
        .pointer("/spec/storageClassName")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty());
    if let Some(c) = class {
        out.insert(
            format!("{c}.storageclass.storage.k8s.io/persistentvolumeclaims"),
            Quantity::count(1),
        );
    }
    // The larger of what is asked and what is allocated (a claim being expanded).
    let asked = resource_list(pvc.pointer("/spec/resources/requests"));
    let allocated = resource_list(pvc.pointer("/status/allocatedResources"));
    let storage = match (asked.get("storage"), allocated.get("storage")) {
        (Some(a), Some(b)) => Some(if b > a { *b } else { *a }),
        (a, b) => a.or(b).copied(),
    };
    if let Some(q) = storage {
        out.insert("requests.storage".into(), q);
        if let Some(c) = class {
            out.insert(
                format!("{c}.storageclass.storage.k8s.io/requests.storage"),
                q,
            );
        }
    }
    out
}

/// What one object of `plural` in `group` uses.
pub fn usage_of(group: &str, plural: &str, obj: &Value, past_grace: bool) -> Usage {
    match (group, plural) {
        ("", "pods") => pod_usage(obj, past_grace),
        ("", "services") => service_usage(obj),
        ("", "persistentvolumeclaims") => pvc_usage(obj),
        _ => {
            let mut out = Usage::new();
            out.insert(count_name(group, plural), Quantity::count(1));
            if let Some(legacy) = legacy_count_name(group, plural) {
                out.insert(legacy.into(), Quantity::count(1));
            }
            out
        }
    }
}

/// A quota's scope requirements: `spec.scopes` (each must hold) and
/// `spec.scopeSelector.matchExpressions`.
pub fn scopes_of(quota: &Value) -> Vec<ScopeRequirement> {
    let mut out: Vec<ScopeRequirement> = quota
        .pointer("/spec/scopes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|s| ScopeRequirement {
            scope: s.into(),
            operator: "Exists".into(),
            values: Vec::new(),
        })
        .collect();
    let exprs = quota
        .pointer("/spec/scopeSelector/matchExpressions")
        .and_then(Value::as_array);
    for e in exprs.into_iter().flatten() {
        out.push(ScopeRequirement {
            scope: e
                .get("scopeName")
                .and_then(Value::as_str)
                .unwrap_or("")
                .into(),
            operator: e
                .get("operator")
                .and_then(Value::as_str)
                .unwrap_or("")
                .into(),
            values: e
                .get("values")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect(),
        });
    }
    out
}

/// A pod of the BestEffort QoS class: no container asks for or limits cpu or memory.
fn best_effort(pod: &Value) -> bool {
    containers(pod, "containers")
        .chain(containers(pod, "initContainers"))
        .all(|c| {
            ["requests", "limits"].iter().all(|f| {
                let l = resource_list(c.pointer(&format!("/resources/{f}")));
                ["cpu", "memory"]
                    .iter()
                    .all(|r| l.get(*r).is_none_or(Quantity::is_zero))
            })
        })
}

/// Whether a pod has an active deadline (the Terminating scope).
fn terminating(pod: &Value) -> bool {
    pod.pointer("/spec/activeDeadlineSeconds")
        .and_then(Value::as_i64)
        .is_some_and(|d| d >= 0)
}

/// Whether one scope requirement holds for a pod (upstream's podMatchesScopeFunc).
fn pod_matches_scope(req: &ScopeRequirement, pod: &Value) -> bool {
    match req.scope.as_str() {
        "Terminating" => terminating(pod),
        "NotTerminating" => !terminating(pod),
        "BestEffort" => best_effort(pod),
        "NotBestEffort" => !best_effort(pod),
        "PriorityClass" => {
            let class = pod
                .pointer("/spec/priorityClassName")
                .and_then(Value::as_str);
            match (req.operator.as_str(), class) {
                ("Exists", c) => c.is_some_and(|c| !c.is_empty()),
                ("DoesNotExist", c) => c.is_none_or(str::is_empty),
                ("In", Some(c)) => req.values.iter().any(|v| v == c),
                ("NotIn", Some(c)) => !req.values.iter().any(|v| v == c),
                ("NotIn", None) => true,
                _ => false,
            }
        }
        _ => false,
    }
}

/// Whether a quota with `scopes` covers an object of `plural` in `group` (only pods are
/// scoped; a scoped quota covers nothing else).
pub fn scopes_match(scopes: &[ScopeRequirement], group: &str, plural: &str, obj: &Value) -> bool {
    if scopes.is_empty() {
        return true;
    }
    group.is_empty() && plural == "pods" && scopes.iter().all(|s| pod_matches_scope(s, obj))
}

/// The pod evaluator's constraints: with cpu or memory under quota (`required`), each
/// container must name them; the error names what some container leaves out.
pub fn pod_constraints(required: &BTreeSet<String>, pod: &Value) -> Result<(), String> {
    let required: BTreeSet<&str> = required
        .iter()
        .map(String::as_str)
        .filter(|r| CONSTRAINED.contains(r))
        .collect();
    if required.is_empty() {
        return Ok(());
    }
    let mut missing = BTreeSet::new();
    for c in containers(pod, "containers").chain(containers(pod, "initContainers")) {
        let usage = compute_usage(
            &resource_list(c.pointer("/resources/requests")),
            &resource_list(c.pointer("/resources/limits")),
        );
        for r in &required {
            if !usage.contains_key(*r) {
                missing.insert(*r);
            }
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "must specify {}",
        missing.into_iter().collect::<Vec<_>>().join(",")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn s(u: &Usage, k: &str) -> String {
        u.get(k).map(ToString::to_string).unwrap_or_default()
    }

    #[test]
    fn a_pod_uses_its_containers_sum_and_its_init_containers_peak() {
        let pod = json!({"spec": {
            "containers": [
                {"resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "200m"}}},
                {"resources": {"requests": {"cpu": "400m", "memory": "64Mi"}}},
            ],
            "initContainers": [{"resources": {"requests": {"cpu": "1"}}}],
        }});
        let u = pod_usage(&pod, false);
        assert_eq!(s(&u, "pods"), "1");
        assert_eq!(s(&u, "count/pods"), "1");
        assert_eq!(s(&u, "requests.cpu"), "1");
        assert_eq!(s(&u, "cpu"), "1");
        assert_eq!(s(&u, "requests.memory"), "128Mi");
        assert_eq!(s(&u, "limits.cpu"), "200m");
        assert!(!u.contains_key("limits.memory"));
    }

    #[test]
    fn a_finished_pod_counts_only_as_an_object() {
        let pod = json!({"spec": {"containers": [{"resources": {"requests": {"cpu": "1"}}}]}, "status": {"phase": "Succeeded"}});
        let u = pod_usage(&pod, false);
        assert_eq!(u.keys().collect::<Vec<_>>(), ["count/pods"]);
    }

    #[test]
    fn services_count_node_ports_and_load_balancers() {
        let u = service_usage(
            &json!({"spec": {"type": "LoadBalancer", "ports": [{"port": 1}, {"port": 2}]}}),
        );
        assert_eq!(s(&u, "services.loadbalancers"), "1");
        assert_eq!(s(&u, "services.nodeports"), "2");
        let u = service_usage(&json!({"spec": {"type": "ClusterIP", "ports": [{"port": 1}]}}));
        assert_eq!(s(&u, "services.nodeports"), "0");
    }

    #[test]
    fn containers_must_name_what_a_quota_limits() {
        let pod = json!({"spec": {"containers": [{"resources": {"requests": {"cpu": "1"}}}]}});
        let req: BTreeSet<String> = ["limits.cpu", "requests.cpu", "pods", "limits.memory"]
            .map(String::from)
            .into();
        assert_eq!(
            pod_constraints(&req, &pod),
            Err("must specify limits.cpu,limits.memory".into())
        );
    }

    #[test]
    fn scopes_select_pods_only() {
        let quota = json!({"spec": {"scopes": ["BestEffort"]}});
        let scopes = scopes_of(&quota);
        let be = json!({"spec": {"containers": [{}]}});
        let burst = json!({"spec": {"containers": [{"resources": {"requests": {"cpu": "1"}}}]}});
        assert!(scopes_match(&scopes, "", "pods", &be));
        assert!(!scopes_match(&scopes, "", "pods", &burst));
        assert!(!scopes_match(&scopes, "", "configmaps", &json!({})));
    }

    #[test]
    fn matching_names_per_kind() {
        let names: Vec<String> = [
            "pods",
            "count/deployments.apps",
            "configmaps",
            "requests.cpu",
        ]
        .map(String::from)
        .into();
        assert_eq!(
            matching_resources("", "pods", &names),
            ["pods", "requests.cpu"].map(String::from).into()
        );
        assert_eq!(
            matching_resources("apps", "deployments", &names),
            ["count/deployments.apps"].map(String::from).into()
        );
        assert_eq!(
            pretty(&usage_of("", "configmaps", &json!({}), false)),
            "configmaps=1,count/configmaps=1"
        );
    }
}
