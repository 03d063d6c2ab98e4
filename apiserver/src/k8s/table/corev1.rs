//! Printers for the core (`""` group) resources.

use jiff::Timestamp;
use serde_json::Value;

use super::{
    age, arr_at, at, bool_at, col, container_cells, count_cell, deleting, format_labels, int_at,
    later, load_balancer_ingress, map_len, name, obj_at, opt_bool_at, opt_str_at, quantity_at,
    since, str_at, time_at, Column, AGE, CONTAINERS, IMAGES, NAME, SELECTOR,
};

pub(super) const POD: &[Column] = &[
    NAME,
    col(
        "Ready",
        "string",
        "Ready containers out of all containers of the pod.",
        0,
    ),
    col(
        "Status",
        "string",
        "The aggregate status of the pod's containers.",
        0,
    ),
    col(
        "Restarts",
        "string",
        "Container restarts, and how long ago the last one happened.",
        0,
    ),
    AGE,
    col("IP", "string", "The pod's (first) IP address.", 1),
    col("Node", "string", "The node the pod is bound to.", 1),
    col(
        "Nominated Node",
        "string",
        "The node the scheduler nominated for a preempting pod.",
        1,
    ),
    col(
        "Readiness Gates",
        "string",
        "Readiness gates that are met, out of all gates.",
        1,
    ),
];

pub(super) const NAMESPACE: &[Column] = &[
    NAME,
    col(
        "Status",
        "string",
        "The lifecycle phase of the namespace.",
        0,
    ),
    AGE,
];

pub(super) const NODE: &[Column] = &[
    NAME,
    col(
        "Status",
        "string",
        "Readiness of the node, and whether scheduling is disabled.",
        0,
    ),
    col(
        "Roles",
        "string",
        "Roles of the node, from its node-role labels.",
        0,
    ),
    AGE,
    col(
        "Version",
        "string",
        "Kubelet version reported by the node.",
        0,
    ),
    col(
        "Internal-IP",
        "string",
        "The node's first internal IP address.",
        1,
    ),
    col(
        "External-IP",
        "string",
        "The node's first external IP address.",
        1,
    ),
    col(
        "OS-Image",
        "string",
        "Operating system image reported by the node.",
        1,
    ),
    col(
        "Kernel-Version",
        "string",
        "Kernel version reported by the node.",
        1,
    ),
    col(
        "Container-Runtime",
        "string",
        "Container runtime and version reported by the node.",
        1,
    ),
];

pub(super) const SERVICE: &[Column] = &[
    NAME,
    col("Type", "string", "How the service is exposed.", 0),
    col(
        "Cluster-IP",
        "string",
        "The service's cluster-internal IP address.",
        0,
    ),
    col(
        "External-IP",
        "string",
        "External addresses of the service.",
        0,
    ),
    col("Port(s)", "string", "Ports exposed by the service.", 0),
    AGE,
    col(
        "Selector",
        "string",
        "Labels of the pods the service routes to.",
        1,
    ),
];

pub(super) const ENDPOINTS: &[Column] = &[
    NAME,
    col(
        "Endpoints",
        "string",
        "Addresses and ports of the endpoints.",
        0,
    ),
    AGE,
];

pub(super) const CONFIGMAP: &[Column] = &[
    NAME,
    col("Data", "string", "Number of data entries.", 0),
    AGE,
];

pub(super) const SECRET: &[Column] = &[
    NAME,
    col("Type", "string", "Type of the secret.", 0),
    col("Data", "string", "Number of data entries.", 0),
    AGE,
];

pub(super) const SERVICEACCOUNT: &[Column] = &[
    NAME,
    col(
        "Secrets",
        "string",
        "Number of secrets referenced by the service account.",
        0,
    ),
    AGE,
];

pub(super) const EVENT: &[Column] = &[
    col(
        "Last Seen",
        "string",
        "Time since the event was last observed.",
        0,
    ),
    col("Type", "string", "Type of the event (Normal, Warning).", 0),
    col(
        "Reason",
        "string",
        "Short machine-readable reason of the event.",
        0,
    ),
    col("Object", "string", "The object the event is about.", 0),
    col(
        "Subobject",
        "string",
        "Field path of the part of the object involved.",
        1,
    ),
    col(
        "Source",
        "string",
        "Component (and host) that reported the event.",
        1,
    ),
    col(
        "Message",
        "string",
        "Human-readable description of the event.",
        0,
    ),
    col(
        "First Seen",
        "string",
        "Time since the event was first observed.",
        1,
    ),
    col("Count", "string", "Number of times the event occurred.", 1),
    Column {
        priority: 1,
        ..NAME
    },
];

pub(super) const PV: &[Column] = &[
    NAME,
    col("Capacity", "string", "Storage capacity of the volume.", 0),
    col(
        "Access Modes",
        "string",
        "Ways the volume can be mounted.",
        0,
    ),
    col(
        "Reclaim Policy",
        "string",
        "What happens to the volume when released from its claim.",
        0,
    ),
    col("Status", "string", "Lifecycle phase of the volume.", 0),
    col("Claim", "string", "The claim bound to the volume.", 0),
    col("StorageClass", "string", "Storage class of the volume.", 0),
    col(
        "VolumeAttributesClass",
        "string",
        "Volume attributes class of the volume.",
        0,
    ),
    col(
        "Reason",
        "string",
        "Why the volume is in its current phase.",
        0,
    ),
    AGE,
    col("VolumeMode", "string", "Filesystem or Block.", 1),
];

pub(super) const PVC: &[Column] = &[
    NAME,
    col("Status", "string", "Lifecycle phase of the claim.", 0),
    col("Volume", "string", "The volume bound to the claim.", 0),
    col(
        "Capacity",
        "string",
        "Storage capacity of the bound volume.",
        0,
    ),
    col(
        "Access Modes",
        "string",
        "Access modes of the bound volume.",
        0,
    ),
    col("StorageClass", "string", "Storage class of the claim.", 0),
    col(
        "VolumeAttributesClass",
        "string",
        "Volume attributes class of the claim.",
        0,
    ),
    AGE,
    col("VolumeMode", "string", "Filesystem or Block.", 1),
];

pub(super) const RESOURCEQUOTA: &[Column] = &[
    NAME,
    AGE,
    col(
        "Request",
        "string",
        "Used/hard amounts of the quota's non-limit resources.",
        0,
    ),
    col(
        "Limit",
        "string",
        "Used/hard amounts of the quota's limits.* resources.",
        0,
    ),
];

pub(super) const REPLICATIONCONTROLLER: &[Column] = &[
    NAME,
    col("Desired", "integer", "Number of desired pods.", 0),
    col("Current", "integer", "Number of pods currently running.", 0),
    col("Ready", "integer", "Number of ready pods.", 0),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

pub(super) const PODTEMPLATE: &[Column] = &[
    NAME,
    col(
        "Containers",
        "string",
        "Names of each container in the template.",
        0,
    ),
    col(
        "Images",
        "string",
        "Images referenced by each container in the template.",
        0,
    ),
    col("Pod Labels", "string", "Labels of the pod template.", 0),
];

/// Whether the first condition of `type_` in `conditions` has status True.
fn first_condition_true(conditions: &[Value], type_: &str) -> bool {
    conditions
        .iter()
        .find(|c| str_at(c, &["type"]) == type_)
        .is_some_and(|c| str_at(c, &["status"]) == "True")
}

/// Status reason of a terminated container state: its reason, else the
/// signal, else the exit code.
fn terminated_reason(t: &Value) -> String {
    let reason = str_at(t, &["reason"]);
    if !reason.is_empty() {
        reason.to_owned()
    } else if int_at(t, &["signal"]) != 0 {
        format!("Signal:{}", int_at(t, &["signal"]))
    } else {
        format!("ExitCode:{}", int_at(t, &["exitCode"]))
    }
}

pub(super) fn pod(obj: &Value, now: Timestamp) -> Vec<Value> {
    let phase = str_at(obj, &["status", "phase"]);
    let mut reason = phase.to_owned();
    let status_reason = str_at(obj, &["status", "reason"]);
    if !status_reason.is_empty() {
        reason = status_reason.to_owned();
    }
    let conditions = arr_at(obj, &["status", "conditions"]);
    if conditions.iter().any(|c| {
        str_at(c, &["type"]) == "PodScheduled" && str_at(c, &["reason"]) == "SchedulingGated"
    }) {
        reason = "SchedulingGated".to_owned();
    }

    let init_specs = arr_at(obj, &["spec", "initContainers"]);
    let is_sidecar = |c: &Value| str_at(c, &["restartPolicy"]) == "Always";
    let sidecar_named = |name: &str| {
        init_specs
            .iter()
            .any(|c| str_at(c, &["name"]) == name && is_sidecar(c))
    };
    let total = arr_at(obj, &["spec", "containers"]).len()
        + init_specs.iter().filter(|c| is_sidecar(c)).count();
    let mut ready = 0usize;
    let mut restarts = 0i64;
    let mut sidecar_restarts = 0i64;
    let mut last_restart: Option<Timestamp> = None;
    let mut last_sidecar_restart: Option<Timestamp> = None;

    let mut initializing = false;
    for (i, cs) in arr_at(obj, &["status", "initContainerStatuses"])
        .iter()
        .enumerate()
    {
        let count = int_at(cs, &["restartCount"]);
        let finished = time_at(cs, &["lastState", "terminated", "finishedAt"]);
        restarts += count;
        last_restart = later(last_restart, finished);
        let sidecar = sidecar_named(str_at(cs, &["name"]));
        if sidecar {
            sidecar_restarts += count;
            last_sidecar_restart = later(last_sidecar_restart, finished);
        }
        let terminated = obj_at(cs, &["state", "terminated"]);
        if terminated.is_some_and(|t| int_at(t, &["exitCode"]) == 0) {
            continue;
        }
        if sidecar && opt_bool_at(cs, &["started"]) == Some(true) {
            if bool_at(cs, &["ready"]) {
                ready += 1;
            }
            continue;
        }
        let waiting_reason = str_at(cs, &["state", "waiting", "reason"]);
        reason = if let Some(t) = terminated {
            format!("Init:{}", terminated_reason(t))
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            format!("Init:{waiting_reason}")
        } else {
            format!("Init:{i}/{}", init_specs.len())
        };
        initializing = true;
        break;
    }

    if !initializing || first_condition_true(conditions, "Initialized") {
        restarts = sidecar_restarts;
        last_restart = last_sidecar_restart;
        let mut has_running = false;
        for cs in arr_at(obj, &["status", "containerStatuses"]).iter().rev() {
            restarts += int_at(cs, &["restartCount"]);
            last_restart = later(
                last_restart,
                time_at(cs, &["lastState", "terminated", "finishedAt"]),
            );
            let waiting_reason = str_at(cs, &["state", "waiting", "reason"]);
            if !waiting_reason.is_empty() {
                reason = waiting_reason.to_owned();
            } else if let Some(t) = obj_at(cs, &["state", "terminated"]) {
                reason = terminated_reason(t);
            } else if bool_at(cs, &["ready"]) && obj_at(cs, &["state", "running"]).is_some() {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason = if first_condition_true(conditions, "Ready") {
                "Running"
            } else {
                "NotReady"
            }
            .to_owned();
        }
    }

    if deleting(obj) && status_reason == "NodeLost" {
        reason = "Unknown".to_owned();
    } else if deleting(obj) && phase != "Failed" && phase != "Succeeded" {
        reason = "Terminating".to_owned();
    }

    let restarts_cell = match last_restart {
        Some(t) if restarts != 0 => format!("{restarts} ({} ago)", since(Some(t), now)),
        _ => restarts.to_string(),
    };

    let pod_ip = arr_at(obj, &["status", "podIPs"])
        .first()
        .map(|p| str_at(p, &["ip"]))
        .filter(|ip| !ip.is_empty())
        .or_else(|| opt_str_at(obj, &["status", "podIP"]));
    let gates = arr_at(obj, &["spec", "readinessGates"]);
    let readiness_gates = if gates.is_empty() {
        "<none>".to_owned()
    } else {
        let met = gates
            .iter()
            .filter(|g| first_condition_true(conditions, str_at(g, &["conditionType"])))
            .count();
        format!("{met}/{}", gates.len())
    };
    vec![
        name(obj),
        Value::from(format!("{ready}/{total}")),
        Value::from(reason),
        Value::from(restarts_cell),
        age(obj, now),
        Value::from(or_none(pod_ip.unwrap_or(""))),
        Value::from(or_none(str_at(obj, &["spec", "nodeName"]))),
        Value::from(or_none(str_at(obj, &["status", "nominatedNodeName"]))),
        Value::from(readiness_gates),
    ]
}

/// `s`, or "<none>" when empty.
fn or_none(s: &str) -> String {
    if s.is_empty() {
        "<none>".to_owned()
    } else {
        s.to_owned()
    }
}

/// `s`, or "<unknown>" when empty.
fn or_unknown(s: &str) -> String {
    if s.is_empty() {
        "<unknown>".to_owned()
    } else {
        s.to_owned()
    }
}

pub(super) fn namespace(obj: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name(obj),
        Value::from(str_at(obj, &["status", "phase"])),
        age(obj, now),
    ]
}

/// The first node address of `type_`, or "<none>".
fn node_address(obj: &Value, type_: &str) -> String {
    arr_at(obj, &["status", "addresses"])
        .iter()
        .find(|a| str_at(a, &["type"]) == type_)
        .map_or_else(
            || "<none>".to_owned(),
            |a| str_at(a, &["address"]).to_owned(),
        )
}

pub(super) fn node(obj: &Value, now: Timestamp) -> Vec<Value> {
    // The last Ready condition wins, as upstream indexes conditions by type.
    let ready = arr_at(obj, &["status", "conditions"])
        .iter()
        .rev()
        .find(|c| str_at(c, &["type"]) == "Ready");
    let mut status = vec![match ready {
        Some(c) if str_at(c, &["status"]) == "True" => "Ready",
        Some(_) => "NotReady",
        None => "Unknown",
    }];
    if bool_at(obj, &["spec", "unschedulable"]) {
        status.push("SchedulingDisabled");
    }

    let mut roles: Vec<&str> = Vec::new();
    if let Some(labels) = at(obj, &["metadata", "labels"]).and_then(Value::as_object) {
        for (k, v) in labels {
            if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                if !role.is_empty() {
                    roles.push(role);
                }
            } else if k == "kubernetes.io/role" {
                let v = v.as_str().unwrap_or("");
                if !v.is_empty() {
                    roles.push(v);
                }
            }
        }
    }
    roles.sort_unstable();
    roles.dedup();

    let info = |field: &str| Value::from(or_unknown(str_at(obj, &["status", "nodeInfo", field])));
    vec![
        name(obj),
        Value::from(status.join(",")),
        Value::from(or_none(&roles.join(","))),
        age(obj, now),
        Value::from(str_at(obj, &["status", "nodeInfo", "kubeletVersion"])),
        Value::from(node_address(obj, "InternalIP")),
        Value::from(node_address(obj, "ExternalIP")),
        info("osImage"),
        info("kernelVersion"),
        info("containerRuntimeVersion"),
    ]
}

pub(super) fn service(obj: &Value, now: Timestamp) -> Vec<Value> {
    // An undefaulted object has no type; the API server defaults it to ClusterIP.
    let svc_type = opt_str_at(obj, &["spec", "type"]).unwrap_or("ClusterIP");
    let cluster_ip = arr_at(obj, &["spec", "clusterIPs"])
        .first()
        .and_then(Value::as_str)
        .or_else(|| opt_str_at(obj, &["spec", "clusterIP"]))
        .filter(|ip| !ip.is_empty())
        .unwrap_or("<none>");
    let external_ips: Vec<&str> = arr_at(obj, &["spec", "externalIPs"])
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let external = match svc_type {
        "ClusterIP" | "NodePort" if !external_ips.is_empty() => external_ips.join(","),
        "ClusterIP" | "NodePort" => "<none>".to_owned(),
        "LoadBalancer" => {
            let lb = load_balancer_ingress(at(obj, &["status", "loadBalancer"]));
            if !external_ips.is_empty() {
                let mut all: Vec<&str> = lb.split(',').filter(|s| !s.is_empty()).collect();
                all.extend(external_ips.iter().copied());
                all.join(",")
            } else if !lb.is_empty() {
                lb
            } else {
                "<pending>".to_owned()
            }
        }
        "ExternalName" => str_at(obj, &["spec", "externalName"]).to_owned(),
        _ => "<unknown>".to_owned(),
    };
    let ports: Vec<String> = arr_at(obj, &["spec", "ports"])
        .iter()
        .map(|p| {
            let port = int_at(p, &["port"]);
            let proto = opt_str_at(p, &["protocol"]).unwrap_or("TCP");
            match int_at(p, &["nodePort"]) {
                np if np > 0 => format!("{port}:{np}/{proto}"),
                _ => format!("{port}/{proto}"),
            }
        })
        .collect();
    vec![
        name(obj),
        Value::from(svc_type),
        Value::from(cluster_ip),
        Value::from(external),
        Value::from(or_none(&ports.join(","))),
        age(obj, now),
        Value::from(format_labels(at(obj, &["spec", "selector"]))),
    ]
}

/// `net.JoinHostPort`.
fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

pub(super) fn endpoints(obj: &Value, now: Timestamp) -> Vec<Value> {
    const MAX: usize = 3;
    let subsets = arr_at(obj, &["subsets"]);
    let text = if subsets.is_empty() {
        "<none>".to_owned()
    } else {
        let mut list: Vec<String> = Vec::new();
        let mut count = 0usize;
        for ss in subsets {
            let addresses = arr_at(ss, &["addresses"]);
            let ports = arr_at(ss, &["ports"]);
            if ports.is_empty() {
                // Headless services may have no ports.
                count += addresses.len();
                list.extend(
                    addresses
                        .iter()
                        .take(MAX.saturating_sub(list.len()))
                        .map(|a| str_at(a, &["ip"]).to_owned()),
                );
                continue;
            }
            for port in ports {
                count += addresses.len();
                let p = int_at(port, &["port"]);
                list.extend(
                    addresses
                        .iter()
                        .take(MAX.saturating_sub(list.len()))
                        .map(|a| join_host_port(str_at(a, &["ip"]), p)),
                );
            }
        }
        let ret = list.join(",");
        if count > MAX {
            format!("{ret} + {} more...", count - MAX)
        } else {
            ret
        }
    };
    vec![name(obj), Value::from(text), age(obj, now)]
}

pub(super) fn configmap(obj: &Value, now: Timestamp) -> Vec<Value> {
    let n = map_len(obj, &["data"]) + map_len(obj, &["binaryData"]);
    vec![name(obj), count_cell(n), age(obj, now)]
}

pub(super) fn secret(obj: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name(obj),
        Value::from(str_at(obj, &["type"])),
        count_cell(map_len(obj, &["data"])),
        age(obj, now),
    ]
}

pub(super) fn serviceaccount(obj: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name(obj),
        count_cell(arr_at(obj, &["secrets"]).len()),
        age(obj, now),
    ]
}

/// The fields the event printer reads, from either `core/v1` or
/// `events.k8s.io/v1` Events (kube-apiserver converts both to one internal type).
pub(super) struct EventView<'a> {
    obj: &'a Value,
    first_timestamp: Option<Timestamp>,
    last_timestamp: Option<Timestamp>,
    event_time: Option<Timestamp>,
    count: i64,
    series: Option<&'a Value>,
    involved: Option<&'a Value>,
    source: Option<&'a Value>,
    message: &'a str,
}

impl<'a> EventView<'a> {
    /// A `core/v1` Event.
    pub(super) fn core(obj: &'a Value) -> Self {
        EventView {
            obj,
            first_timestamp: time_at(obj, &["firstTimestamp"]),
            last_timestamp: time_at(obj, &["lastTimestamp"]),
            event_time: time_at(obj, &["eventTime"]),
            count: int_at(obj, &["count"]),
            series: obj_at(obj, &["series"]),
            involved: obj_at(obj, &["involvedObject"]),
            source: obj_at(obj, &["source"]),
            message: str_at(obj, &["message"]),
        }
    }

    /// An `events.k8s.io/v1` Event.
    pub(super) fn events_v1(obj: &'a Value) -> Self {
        EventView {
            obj,
            first_timestamp: time_at(obj, &["deprecatedFirstTimestamp"]),
            last_timestamp: time_at(obj, &["deprecatedLastTimestamp"]),
            event_time: time_at(obj, &["eventTime"]),
            count: int_at(obj, &["deprecatedCount"]),
            series: obj_at(obj, &["series"]),
            involved: obj_at(obj, &["regarding"]),
            source: obj_at(obj, &["deprecatedSource"]),
            message: str_at(obj, &["note"]),
        }
    }
}

pub(super) fn event(ev: &EventView<'_>, now: Timestamp) -> Vec<Value> {
    let obj = ev.obj;
    let first_seen = match ev.first_timestamp {
        Some(t) => since(Some(t), now),
        None => since(ev.event_time, now),
    };
    let mut last_seen = match ev.last_timestamp {
        Some(t) => since(Some(t), now),
        None => first_seen.clone(),
    };
    let mut count = ev.count;
    if let Some(series) = ev.series {
        last_seen = since(time_at(series, &["lastObservedTime"]), now);
        count = int_at(series, &["count"]);
    } else if count == 0 {
        // Singleton events of the new API carry no count.
        count = 1;
    }

    let field = |path: &[&str]| ev.involved.map_or("", |i| str_at(i, path));
    let kind = field(&["kind"]).to_lowercase();
    let involved_name = field(&["name"]);
    let target = if involved_name.is_empty() {
        kind
    } else {
        format!("{kind}/{involved_name}")
    };

    let source_field = |f: &str| ev.source.map_or("", |s| str_at(s, &[f]));
    let component = first_non_empty(
        source_field("component"),
        str_at(obj, &["reportingController"]),
    );
    let host = first_non_empty(source_field("host"), str_at(obj, &["reportingInstance"]));
    let source = if host.is_empty() {
        component.to_owned()
    } else {
        format!("{component}, {host}")
    };

    vec![
        Value::from(last_seen),
        Value::from(str_at(obj, &["type"])),
        Value::from(str_at(obj, &["reason"])),
        Value::from(target),
        Value::from(field(&["fieldPath"])),
        Value::from(source),
        Value::from(ev.message.trim()),
        Value::from(first_seen),
        Value::from(count),
        name(obj),
    ]
}

/// `a`, or `b` when `a` is empty.
fn first_non_empty<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.is_empty() {
        b
    } else {
        a
    }
}

/// `GetAccessModesAsString`: the short names of the modes present, in a fixed order.
fn access_modes(modes: &[Value]) -> String {
    let has = |m: &str| modes.iter().any(|v| v.as_str() == Some(m));
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(long, _)| has(long))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

/// The storage class of a PV or PVC: the legacy beta annotation wins over
/// `spec.storageClassName`.
fn storage_class(obj: &Value) -> &str {
    if let Some(class) = at(obj, &["metadata", "annotations"])
        .and_then(|a| a.get("volume.beta.kubernetes.io/storage-class"))
        .and_then(Value::as_str)
    {
        return class;
    }
    str_at(obj, &["spec", "storageClassName"])
}

/// `s` if present, else "<unset>".
fn or_unset(s: Option<&str>) -> String {
    s.unwrap_or("<unset>").to_owned()
}

pub(super) fn pv(obj: &Value, now: Timestamp) -> Vec<Value> {
    let claim = match obj_at(obj, &["spec", "claimRef"]) {
        Some(c) => format!("{}/{}", str_at(c, &["namespace"]), str_at(c, &["name"])),
        None => String::new(),
    };
    let phase = if deleting(obj) {
        "Terminating"
    } else {
        str_at(obj, &["status", "phase"])
    };
    vec![
        name(obj),
        Value::from(quantity_at(obj, &["spec", "capacity", "storage"])),
        Value::from(access_modes(arr_at(obj, &["spec", "accessModes"]))),
        Value::from(str_at(obj, &["spec", "persistentVolumeReclaimPolicy"])),
        Value::from(phase),
        Value::from(claim),
        Value::from(storage_class(obj)),
        Value::from(or_unset(opt_str_at(
            obj,
            &["spec", "volumeAttributesClassName"],
        ))),
        Value::from(str_at(obj, &["status", "reason"])),
        age(obj, now),
        Value::from(or_unset(opt_str_at(obj, &["spec", "volumeMode"]))),
    ]
}

pub(super) fn pvc(obj: &Value, now: Timestamp) -> Vec<Value> {
    let phase = if deleting(obj) {
        "Terminating"
    } else {
        str_at(obj, &["status", "phase"])
    };
    let volume = str_at(obj, &["spec", "volumeName"]);
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            quantity_at(obj, &["status", "capacity", "storage"]),
            access_modes(arr_at(obj, &["status", "accessModes"])),
        )
    };
    vec![
        name(obj),
        Value::from(phase),
        Value::from(volume),
        Value::from(capacity),
        Value::from(modes),
        Value::from(storage_class(obj)),
        Value::from(or_unset(opt_str_at(
            obj,
            &["spec", "volumeAttributesClassName"],
        ))),
        age(obj, now),
        Value::from(or_unset(opt_str_at(obj, &["spec", "volumeMode"]))),
    ]
}

pub(super) fn resourcequota(obj: &Value, now: Timestamp) -> Vec<Value> {
    let mut resources: Vec<&String> = at(obj, &["status", "hard"])
        .and_then(Value::as_object)
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    resources.sort();
    let mut requests: Vec<String> = Vec::new();
    let mut limits: Vec<String> = Vec::new();
    for r in resources {
        let used = quantity_at(obj, &["status", "used", r]);
        let hard = quantity_at(obj, &["status", "hard", r]);
        let entry = format!("{r}: {used}/{hard}");
        let mut pieces = r.split('.');
        let is_limit = pieces.next() == Some("limits") && pieces.next().is_some();
        if is_limit {
            limits.push(entry);
        } else {
            requests.push(entry);
        }
    }
    vec![
        name(obj),
        age(obj, now),
        Value::from(requests.join(", ")),
        Value::from(limits.join(", ")),
    ]
}

pub(super) fn replicationcontroller(obj: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = container_cells(at(obj, &["spec", "template", "spec"]));
    vec![
        name(obj),
        Value::from(super::opt_int_at(obj, &["spec", "replicas"]).unwrap_or(1)),
        Value::from(int_at(obj, &["status", "replicas"])),
        Value::from(int_at(obj, &["status", "readyReplicas"])),
        age(obj, now),
        names,
        images,
        Value::from(format_labels(at(obj, &["spec", "selector"]))),
    ]
}

pub(super) fn podtemplate(obj: &Value) -> Vec<Value> {
    let (names, images) = container_cells(at(obj, &["template", "spec"]));
    vec![
        name(obj),
        names,
        images,
        Value::from(format_labels(at(obj, &["template", "metadata", "labels"]))),
    ]
}
