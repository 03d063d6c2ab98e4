//! Server-side Table rendering (`meta.k8s.io/v1` `Table`): the column
//! definitions and per-object cells that `kubectl get` prints, for the
//! built-in resources. The columns, their priorities (1 = only shown with
//! `-o wide`) and the cell computations follow kube-apiserver's internal
//! printers (1.33); kube-apiserver always renders the wide cells server-side,
//! so `cells` always returns one cell per column. Built-in resources that have
//! no dedicated printer upstream (roles, limitranges, ...) get the default
//! `Name` / `Created At` table; anything else gets a `Name` / `Age` table like
//! a custom resource without printer columns.
//!
//! Every field is read as optional: objects are user input, and a missing
//! field yields the placeholder upstream would print (`<none>`, `<unknown>`,
//! `<unset>`, ...), never a panic.

mod corev1;
mod other;
mod workloads;

#[cfg(test)]
mod tests;

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

/// One column definition of a Table, as kube-apiserver serialises it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Column {
    /// Human-readable column name (`kubectl` upper-cases it).
    pub name: &'static str,
    /// OpenAPI type of the cells: "string", "integer", "date", "number" or "boolean".
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// OpenAPI format: "name" for the column holding the object name, else "".
    pub format: &'static str,
    /// What the column shows.
    pub description: &'static str,
    /// 0 for the default view, 1 (or more) for columns only shown with `-o wide`.
    pub priority: i32,
}

/// Builds a plain (non-name) column.
const fn col(
    name: &'static str,
    kind: &'static str,
    description: &'static str,
    priority: i32,
) -> Column {
    Column {
        name,
        kind,
        format: "",
        description,
        priority,
    }
}

/// The `Name` column shared by every printer.
const NAME: Column = Column {
    name: "Name",
    kind: "string",
    format: "name",
    description: "Name of the object, unique within its namespace (or cluster).",
    priority: 0,
};
/// The `Age` column shared by most printers.
const AGE: Column = col(
    "Age",
    "string",
    "Time elapsed since the object was created.",
    0,
);
/// The wide `Containers` column of workload printers.
const CONTAINERS: Column = col(
    "Containers",
    "string",
    "Names of each container in the template.",
    1,
);
/// The wide `Images` column of workload printers.
const IMAGES: Column = col(
    "Images",
    "string",
    "Images referenced by each container in the template.",
    1,
);
/// The wide `Selector` column of workload printers.
const SELECTOR: Column = col(
    "Selector",
    "string",
    "Label selector of the pods this object manages.",
    1,
);

/// Which printer renders a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Printer {
    Pod,
    Namespace,
    Node,
    Service,
    Endpoints,
    ConfigMap,
    Secret,
    ServiceAccount,
    CoreEvent,
    NewEvent,
    PersistentVolume,
    PersistentVolumeClaim,
    ResourceQuota,
    ReplicationController,
    PodTemplate,
    Deployment,
    ReplicaSet,
    StatefulSet,
    DaemonSet,
    ControllerRevision,
    Job,
    CronJob,
    Lease,
    EndpointSlice,
    PodDisruptionBudget,
    RoleBinding,
    Ingress,
    IngressClass,
    NetworkPolicy,
    StorageClass,
    PriorityClass,
    RuntimeClass,
    WebhookConfiguration,
    /// kube-apiserver's default table convertor: Name + Created At (RFC 3339).
    CreatedAt,
    /// Anything else: Name + Age, like a custom resource without printer columns.
    Generic,
}

/// Maps (API group, plural resource) to its printer.
fn printer(group: &str, resource: &str) -> Printer {
    use Printer as P;
    let group = if group == "core" { "" } else { group };
    match (group, resource) {
        ("", "pods") => P::Pod,
        ("", "namespaces") => P::Namespace,
        ("", "nodes") => P::Node,
        ("", "services") => P::Service,
        ("", "endpoints") => P::Endpoints,
        ("", "configmaps") => P::ConfigMap,
        ("", "secrets") => P::Secret,
        ("", "serviceaccounts") => P::ServiceAccount,
        ("", "events") => P::CoreEvent,
        ("events.k8s.io", "events") => P::NewEvent,
        ("", "persistentvolumes") => P::PersistentVolume,
        ("", "persistentvolumeclaims") => P::PersistentVolumeClaim,
        ("", "resourcequotas") => P::ResourceQuota,
        ("", "replicationcontrollers") => P::ReplicationController,
        ("", "podtemplates") => P::PodTemplate,
        ("", "limitranges") => P::CreatedAt,
        ("apps", "deployments") => P::Deployment,
        ("apps", "replicasets") => P::ReplicaSet,
        ("apps", "statefulsets") => P::StatefulSet,
        ("apps", "daemonsets") => P::DaemonSet,
        ("apps", "controllerrevisions") => P::ControllerRevision,
        ("batch", "jobs") => P::Job,
        ("batch", "cronjobs") => P::CronJob,
        ("coordination.k8s.io", "leases") => P::Lease,
        ("discovery.k8s.io", "endpointslices") => P::EndpointSlice,
        ("policy", "poddisruptionbudgets") => P::PodDisruptionBudget,
        ("rbac.authorization.k8s.io", "rolebindings" | "clusterrolebindings") => P::RoleBinding,
        ("rbac.authorization.k8s.io", "roles" | "clusterroles") => P::CreatedAt,
        ("networking.k8s.io", "ingresses") => P::Ingress,
        ("networking.k8s.io", "ingressclasses") => P::IngressClass,
        ("networking.k8s.io", "networkpolicies") => P::NetworkPolicy,
        ("storage.k8s.io", "storageclasses") => P::StorageClass,
        ("scheduling.k8s.io", "priorityclasses") => P::PriorityClass,
        ("node.k8s.io", "runtimeclasses") => P::RuntimeClass,
        (
            "admissionregistration.k8s.io",
            "mutatingwebhookconfigurations" | "validatingwebhookconfigurations",
        ) => P::WebhookConfiguration,
        ("apiextensions.k8s.io", "customresourcedefinitions") => P::CreatedAt,
        _ => P::Generic,
    }
}

/// Columns of kube-apiserver's default table convertor.
const CREATED_AT_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Created At",
        "date",
        "Time the object was created (RFC 3339).",
        0,
    ),
];

/// Columns of a resource without a printer (custom-resource style).
const GENERIC_COLUMNS: &[Column] = &[
    NAME,
    col(
        "Age",
        "date",
        "Time elapsed since the object was created.",
        0,
    ),
];

/// The columns for a resource (plural, lowercase, e.g. "pods", "deployments",
/// "events"); `group` is the API group ("" for core, "apps", "batch",
/// "events.k8s.io", ...). Unknown resources get `Name` + `Age`.
pub fn columns(group: &str, resource: &str) -> Vec<Column> {
    use Printer as P;
    let cols: &[Column] = match printer(group, resource) {
        P::Pod => corev1::POD,
        P::Namespace => corev1::NAMESPACE,
        P::Node => corev1::NODE,
        P::Service => corev1::SERVICE,
        P::Endpoints => corev1::ENDPOINTS,
        P::ConfigMap => corev1::CONFIGMAP,
        P::Secret => corev1::SECRET,
        P::ServiceAccount => corev1::SERVICEACCOUNT,
        P::CoreEvent | P::NewEvent => corev1::EVENT,
        P::PersistentVolume => corev1::PV,
        P::PersistentVolumeClaim => corev1::PVC,
        P::ResourceQuota => corev1::RESOURCEQUOTA,
        P::ReplicationController => corev1::REPLICATIONCONTROLLER,
        P::PodTemplate => corev1::PODTEMPLATE,
        P::Deployment => workloads::DEPLOYMENT,
        P::ReplicaSet => workloads::REPLICASET,
        P::StatefulSet => workloads::STATEFULSET,
        P::DaemonSet => workloads::DAEMONSET,
        P::ControllerRevision => workloads::CONTROLLERREVISION,
        P::Job => workloads::JOB,
        P::CronJob => workloads::CRONJOB,
        P::Lease => other::LEASE,
        P::EndpointSlice => other::ENDPOINTSLICE,
        P::PodDisruptionBudget => other::PDB,
        P::RoleBinding => other::ROLEBINDING,
        P::Ingress => other::INGRESS,
        P::IngressClass => other::INGRESSCLASS,
        P::NetworkPolicy => other::NETWORKPOLICY,
        P::StorageClass => other::STORAGECLASS,
        P::PriorityClass => other::PRIORITYCLASS,
        P::RuntimeClass => other::RUNTIMECLASS,
        P::WebhookConfiguration => other::WEBHOOKCONFIGURATION,
        P::CreatedAt => CREATED_AT_COLUMNS,
        P::Generic => GENERIC_COLUMNS,
    };
    cols.to_vec()
}

/// The cells of one row for `obj` (the object as JSON), in the order of
/// `columns(group, resource)`. `now` is the server's clock, used for AGE-style
/// cells.
pub fn cells(group: &str, resource: &str, obj: &Value, now: Timestamp) -> Vec<Value> {
    use Printer as P;
    match printer(group, resource) {
        P::Pod => corev1::pod(obj, now),
        P::Namespace => corev1::namespace(obj, now),
        P::Node => corev1::node(obj, now),
        P::Service => corev1::service(obj, now),
        P::Endpoints => corev1::endpoints(obj, now),
        P::ConfigMap => corev1::configmap(obj, now),
        P::Secret => corev1::secret(obj, now),
        P::ServiceAccount => corev1::serviceaccount(obj, now),
        P::CoreEvent => corev1::event(&corev1::EventView::core(obj), now),
        P::NewEvent => corev1::event(&corev1::EventView::events_v1(obj), now),
        P::PersistentVolume => corev1::pv(obj, now),
        P::PersistentVolumeClaim => corev1::pvc(obj, now),
        P::ResourceQuota => corev1::resourcequota(obj, now),
        P::ReplicationController => corev1::replicationcontroller(obj, now),
        P::PodTemplate => corev1::podtemplate(obj),
        P::Deployment => workloads::deployment(obj, now),
        P::ReplicaSet => workloads::replicaset(obj, now),
        P::StatefulSet => workloads::statefulset(obj, now),
        P::DaemonSet => workloads::daemonset(obj, now),
        P::ControllerRevision => workloads::controllerrevision(obj, now),
        P::Job => workloads::job(obj, now),
        P::CronJob => workloads::cronjob(obj, now),
        P::Lease => other::lease(obj, now),
        P::EndpointSlice => other::endpointslice(obj, now),
        P::PodDisruptionBudget => other::pdb(obj, now),
        P::RoleBinding => other::rolebinding(obj, now),
        P::Ingress => other::ingress(obj, now),
        P::IngressClass => other::ingressclass(obj, now),
        P::NetworkPolicy => other::networkpolicy(obj, now),
        P::StorageClass => other::storageclass(obj, now),
        P::PriorityClass => other::priorityclass(obj, now),
        P::RuntimeClass => other::runtimeclass(obj, now),
        P::WebhookConfiguration => other::webhookconfiguration(obj, now),
        P::CreatedAt => vec![name(obj), Value::from(created_at_rfc3339(obj))],
        P::Generic => vec![name(obj), age(obj, now)],
    }
}

/// Kubernetes' short human duration ("5s", "3m20s", "90m", "5h", "2d3h",
/// "400d", "3y"...), as `k8s.io/apimachinery/pkg/util/duration.HumanDuration`
/// renders it (the format of every AGE cell).
#[cfg(test)]
pub fn human_duration(d: std::time::Duration) -> String {
    human_seconds(i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// `HumanDuration` for a signed duration: a clock skew of up to a second
/// reads "0s", anything further in the future "<invalid>".
fn human_signed(d: SignedDuration) -> String {
    // Truncation toward zero, like Go's int(d.Seconds()).
    let secs = d.as_secs();
    if secs < -1 {
        "<invalid>".to_owned()
    } else if secs < 0 {
        "0s".to_owned()
    } else {
        human_seconds(secs)
    }
}

/// `HumanDuration` for a non-negative number of seconds.
fn human_seconds(secs: i64) -> String {
    if secs < 60 * 2 {
        return format!("{}s", secs.max(0));
    }
    let minutes = secs / 60;
    if minutes < 10 {
        let s = secs % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = secs / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = hours / 24;
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{days}d")
        } else {
            format!("{days}d{h}h")
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{days}d");
    }
    let years = days / 365;
    if hours < 24 * 365 * 8 {
        let dy = days % 365;
        return if dy == 0 {
            format!("{years}y")
        } else {
            format!("{years}y{dy}d")
        };
    }
    format!("{years}y")
}

// ---------------------------------------------------------------------------
// JSON access helpers: every lookup tolerates missing or mistyped fields.
// ---------------------------------------------------------------------------

/// The value at `path`, if every step exists and it is not `null`.
fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut cur = v;
    for key in path {
        cur = cur.get(key)?;
    }
    if cur.is_null() {
        None
    } else {
        Some(cur)
    }
}

/// The object at `path`, if it is one.
fn obj_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    at(v, path).filter(|x| x.is_object())
}

/// The string at `path`, or "" (Go's zero value).
fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    at(v, path).and_then(Value::as_str).unwrap_or("")
}

/// The string at `path`, if present.
fn opt_str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(v, path).and_then(Value::as_str)
}

/// The integer at `path`, if present.
fn opt_int_at(v: &Value, path: &[&str]) -> Option<i64> {
    at(v, path).and_then(|x| {
        x.as_i64()
            .or_else(|| x.as_u64().map(|u| i64::try_from(u).unwrap_or(i64::MAX)))
            // Go truncates floats toward zero when converting; `as` saturates.
            .or_else(|| x.as_f64().map(|f| f as i64))
    })
}

/// The integer at `path`, or 0.
fn int_at(v: &Value, path: &[&str]) -> i64 {
    opt_int_at(v, path).unwrap_or(0)
}

/// The boolean at `path`, if present.
fn opt_bool_at(v: &Value, path: &[&str]) -> Option<bool> {
    at(v, path).and_then(Value::as_bool)
}

/// The boolean at `path`, or false.
fn bool_at(v: &Value, path: &[&str]) -> bool {
    opt_bool_at(v, path).unwrap_or(false)
}

/// The array at `path`, or an empty slice.
fn arr_at<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    at(v, path)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// The number of entries of the map at `path` (0 when absent).
fn map_len(v: &Value, path: &[&str]) -> usize {
    at(v, path)
        .and_then(Value::as_object)
        .map_or(0, serde_json::Map::len)
}

/// A `usize` count as a JSON integer cell.
fn count_cell(n: usize) -> Value {
    Value::from(u64::try_from(n).unwrap_or(u64::MAX))
}

/// A resource.Quantity (or number) at `path` rendered as text; Go's zero
/// Quantity prints "0".
fn quantity_at(v: &Value, path: &[&str]) -> String {
    match at(v, path) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "0".to_owned(),
    }
}

/// An IntOrString at `path` rendered as text, if present.
fn int_or_string_at(v: &Value, path: &[&str]) -> Option<String> {
    match at(v, path)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A metav1.Time (or MicroTime) at `path`; `None` when absent, unparsable or
/// Go's zero time.
fn time_at(v: &Value, path: &[&str]) -> Option<Timestamp> {
    /// 0001-01-01T00:00:00Z, Go's zero `time.Time`.
    const GO_ZERO_SECONDS: i64 = -62_135_596_800;
    let t: Timestamp = opt_str_at(v, path)?.parse().ok()?;
    (t.as_second() != GO_ZERO_SECONDS).then_some(t)
}

/// The later of two optional instants (a missing one never wins).
fn later(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// `translateTimestampSince`: the human age of `t`, "<unknown>" when unset.
fn since(t: Option<Timestamp>, now: Timestamp) -> String {
    match t {
        Some(t) => human_signed(now.duration_since(t)),
        None => "<unknown>".to_owned(),
    }
}

/// The Name cell.
fn name(obj: &Value) -> Value {
    Value::from(str_at(obj, &["metadata", "name"]))
}

/// The Age cell.
fn age(obj: &Value, now: Timestamp) -> Value {
    Value::from(since(time_at(obj, &["metadata", "creationTimestamp"]), now))
}

/// Whether `metadata.deletionTimestamp` is set.
fn deleting(obj: &Value) -> bool {
    at(obj, &["metadata", "deletionTimestamp"]).is_some()
}

/// The default convertor's Created At cell: creationTimestamp in RFC 3339
/// (UTC, seconds), Go's zero time when unset.
fn created_at_rfc3339(obj: &Value) -> String {
    match time_at(obj, &["metadata", "creationTimestamp"]) {
        Some(t) => t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        None => "0001-01-01T00:00:00Z".to_owned(),
    }
}

/// `layoutContainerCells`: comma-joined container names and images of a pod
/// template's spec (`spec` is the pod spec).
fn container_cells(pod_spec: Option<&Value>) -> (Value, Value) {
    let containers = pod_spec.map_or(&[][..], |s| arr_at(s, &["containers"]));
    let names: Vec<&str> = containers.iter().map(|c| str_at(c, &["name"])).collect();
    let images: Vec<&str> = containers.iter().map(|c| str_at(c, &["image"])).collect();
    (Value::from(names.join(",")), Value::from(images.join(",")))
}

/// `labels.FormatLabels`: sorted `k=v` pairs joined by ",", "<none>" when empty.
fn format_labels(map: Option<&Value>) -> String {
    let Some(map) = map.and_then(Value::as_object) else {
        return "<none>".to_owned();
    };
    // serde_json's Map is ordered by key unless `preserve_order` is enabled;
    // sort anyway so the output never depends on that feature.
    let mut pairs: Vec<String> = map
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect();
    pairs.sort();
    if pairs.is_empty() {
        "<none>".to_owned()
    } else {
        pairs.join(",")
    }
}

/// `metav1.LabelSelectorAsSelector(sel).String()`: `Ok("")` for a missing or
/// empty selector, `Err` for an invalid one.
fn label_selector_string(sel: Option<&Value>) -> Result<String, ()> {
    let Some(sel) = sel.filter(|s| s.is_object()) else {
        return Ok(String::new());
    };
    let mut reqs: Vec<(String, String)> = Vec::new();
    if let Some(labels) = at(sel, &["matchLabels"]).and_then(Value::as_object) {
        for (k, v) in labels {
            reqs.push((k.clone(), format!("{k}={}", v.as_str().unwrap_or(""))));
        }
    }
    for expr in arr_at(sel, &["matchExpressions"]) {
        let key = str_at(expr, &["key"]);
        let mut values: Vec<&str> = arr_at(expr, &["values"])
            .iter()
            .filter_map(Value::as_str)
            .collect();
        values.sort_unstable();
        let text = match str_at(expr, &["operator"]) {
            "In" | "NotIn" if values.is_empty() => return Err(()),
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" | "DoesNotExist" if !values.is_empty() => return Err(()),
            "Exists" => key.to_owned(),
            "DoesNotExist" => format!("!{key}"),
            _ => return Err(()),
        };
        reqs.push((key.to_owned(), text));
    }
    reqs.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(reqs
        .into_iter()
        .map(|(_, text)| text)
        .collect::<Vec<_>>()
        .join(","))
}

/// `metav1.FormatLabelSelector`: "<none>" when empty, "<error>" when invalid.
fn format_label_selector(sel: Option<&Value>) -> String {
    match label_selector_string(sel) {
        Ok(s) if s.is_empty() => "<none>".to_owned(),
        Ok(s) => s,
        Err(()) => "<error>".to_owned(),
    }
}

/// A load balancer status's ingress points (IPs, else hostnames), sorted,
/// de-duplicated and comma-joined (the wide, untruncated form).
fn load_balancer_ingress(status: Option<&Value>) -> String {
    let mut out: Vec<&str> = status
        .map_or(&[][..], |s| arr_at(s, &["ingress"]))
        .iter()
        .filter_map(|i| {
            let ip = str_at(i, &["ip"]);
            let host = str_at(i, &["hostname"]);
            if !ip.is_empty() {
                Some(ip)
            } else if !host.is_empty() {
                Some(host)
            } else {
                None
            }
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out.join(",")
}

/// `listWithMoreString`: the first `max` items, "+ N more..." past them,
/// "<unset>" when there are none.
fn list_with_more(list: &[String], count: usize, max: usize) -> String {
    let shown: Vec<&str> = list.iter().take(max).map(String::as_str).collect();
    let ret = shown.join(",");
    if count > max {
        format!("{ret} + {} more...", count - max)
    } else if ret.is_empty() {
        "<unset>".to_owned()
    } else {
        ret
    }
}
