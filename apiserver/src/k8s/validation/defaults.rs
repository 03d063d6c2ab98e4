//! The defaults kube-apiserver 1.33 fills in, as `kubectl get -o yaml` shows
//! them: the v1/apps/batch scheme defaulters, plus the few values the
//! registry strategies and default admission plugins add on create (pod
//! service account, pod status, namespace finalizers and phase, a Job's
//! generated selector, a Service's IP families). A pod's priority is the
//! Priority admission's (`k8s::priority`): it reads the PriorityClasses.

use serde_json::{json, Value};

use super::access::{
    arr, arr_mut, as_int, at, default, default_nonzero, default_str, ensure_obj, int, present, s,
};
use super::quantity;

/// Applies the defaults of `group`/`resource` to `obj` in place. Unknown resources are left alone.
pub fn apply_defaults(group: &str, resource: &str, obj: &mut Value) {
    if !obj.is_object() {
        return;
    }
    match (group, resource) {
        ("", "pods") => pod(obj),
        ("", "podtemplates") => template_in(obj, "template"),
        ("", "replicationcontrollers") => replication_controller(obj),
        ("", "services") => service(obj),
        ("", "namespaces") => namespace(obj),
        ("", "secrets") => default_str(obj, "type", "Opaque"),
        ("", "persistentvolumeclaims") => {
            if let Some(spec) = ensure_obj(obj, "spec") {
                default_str(spec, "volumeMode", "Filesystem");
            }
            if let Some(st) = ensure_obj(obj, "status") {
                default_str(st, "phase", "Pending");
            }
        }
        ("", "persistentvolumes") => {
            if let Some(spec) = ensure_obj(obj, "spec") {
                default_str(spec, "persistentVolumeReclaimPolicy", "Retain");
                default_str(spec, "volumeMode", "Filesystem");
            }
            if let Some(st) = ensure_obj(obj, "status") {
                default_str(st, "phase", "Pending");
            }
        }
        ("", "endpoints") => {
            for subset in arr_mut(obj, "subsets") {
                for p in arr_mut(subset, "ports") {
                    default_str(p, "protocol", "TCP");
                }
            }
        }
        ("", "limitranges") => {
            if let Some(spec) = ensure_obj(obj, "spec") {
                for item in arr_mut(spec, "limits") {
                    limit_range_item(item);
                }
            }
        }
        ("discovery.k8s.io", "endpointslices") => {
            for p in arr_mut(obj, "ports") {
                default_str(p, "protocol", "TCP");
                default(p, "name", json!(""));
            }
        }
        ("scheduling.k8s.io", "priorityclasses") => {
            default(obj, "preemptionPolicy", json!("PreemptLowerPriority"));
        }
        ("storage.k8s.io", "storageclasses") => {
            default_str(obj, "reclaimPolicy", "Delete");
            default_str(obj, "volumeBindingMode", "Immediate");
        }
        ("autoscaling", "horizontalpodautoscalers") => {
            if let Some(spec) = ensure_obj(obj, "spec") {
                default(spec, "minReplicas", json!(1));
                // No metrics means the CPU at 80% of the pods' requests.
                if arr(spec, "metrics").is_empty() {
                    if let Some(m) = spec.as_object_mut() {
                        let cpu = json!({"name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 80}});
                        m.insert(
                            "metrics".into(),
                            json!([{"type": "Resource", "resource": cpu}]),
                        );
                    }
                }
            }
        }
        ("apps", "deployments") => deployment(obj),
        ("apps", "replicasets") => {
            if let Some(spec) = ensure_obj(obj, "spec") {
                default(spec, "replicas", json!(1));
                template_in(spec, "template");
            }
        }
        ("apps", "statefulsets") => statefulset(obj),
        ("apps", "daemonsets") => daemonset(obj),
        ("batch", "jobs") => job(obj),
        ("batch", "cronjobs") => cronjob(obj),
        _ => {}
    }
}

/// A container limit's defaults: the default limit falls back to the max, the default request
/// to the default limit, then to the min (empty lists stay unset).
fn limit_range_item(item: &mut Value) {
    if s(item, "type") != "Container" {
        return;
    }
    let Some(m) = item.as_object_mut() else {
        return;
    };
    let list = |m: &serde_json::Map<String, Value>, k: &str| {
        m.get(k)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let mut limit = list(m, "default");
    let mut request = list(m, "defaultRequest");
    for (k, v) in list(m, "max") {
        limit.entry(k).or_insert(v);
    }
    for (k, v) in limit.iter().chain(list(m, "min").iter()) {
        request.entry(k.clone()).or_insert_with(|| v.clone());
    }
    for (k, l) in [("default", limit), ("defaultRequest", request)] {
        if !l.is_empty() {
            m.insert(k.into(), Value::Object(l));
        }
    }
}

/// Defaults of a pod template's spec at `holder[field]`.
fn template_in(holder: &mut Value, field: &str) {
    if let Some(t) = ensure_obj(holder, field) {
        if let Some(spec) = ensure_obj(t, "spec") {
            pod_spec(spec);
        }
    }
}

/// Defaults applied to every PodSpec (pods and templates).
pub fn pod_spec(spec: &mut Value) {
    default_str(spec, "dnsPolicy", "ClusterFirst");
    default_str(spec, "restartPolicy", "Always");
    default(spec, "securityContext", json!({}));
    default(spec, "terminationGracePeriodSeconds", json!(30));
    default_str(spec, "schedulerName", "default-scheduler");
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        for c in arr_mut(spec, list) {
            container(c);
        }
    }
    for v in arr_mut(spec, "volumes") {
        volume(v);
    }
}

fn image_defaults_to_always(image: &str) -> bool {
    if image.contains('@') {
        return false;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.rfind(':') {
        Some(i) => &last[i + 1..] == "latest",
        None => true,
    }
}

fn container(c: &mut Value) {
    if !c.is_object() {
        return;
    }
    let policy = if image_defaults_to_always(s(c, "image")) {
        "Always"
    } else {
        "IfNotPresent"
    };
    default_str(c, "imagePullPolicy", policy);
    default_str(c, "terminationMessagePath", "/dev/termination-log");
    default_str(c, "terminationMessagePolicy", "File");
    default(c, "resources", json!({}));
    for p in arr_mut(c, "ports") {
        default_str(p, "protocol", "TCP");
    }
    for e in arr_mut(c, "env") {
        if let Some(from) = e.get_mut("valueFrom") {
            if let Some(fr) = from.get_mut("fieldRef").filter(|v| v.is_object()) {
                default_str(fr, "apiVersion", "v1");
            }
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = c.get_mut(probe).filter(|v| v.is_object()) {
            default_nonzero(p, "timeoutSeconds", 1);
            default_nonzero(p, "periodSeconds", 10);
            default_nonzero(p, "successThreshold", 1);
            default_nonzero(p, "failureThreshold", 3);
            handler(p);
        }
    }
    if let Some(lc) = c.get_mut("lifecycle").filter(|v| v.is_object()) {
        for hook in ["postStart", "preStop"] {
            if let Some(h) = lc.get_mut(hook).filter(|v| v.is_object()) {
                handler(h);
            }
        }
    }
}

fn handler(h: &mut Value) {
    if let Some(g) = h.get_mut("httpGet").filter(|v| v.is_object()) {
        default_str(g, "path", "/");
        default_str(g, "scheme", "HTTP");
    }
}

fn volume(v: &mut Value) {
    if !v.is_object() {
        return;
    }
    if !super::pod::VOLUME_SOURCES.iter().any(|src| present(v, src)) {
        default(v, "emptyDir", json!({}));
        return;
    }
    for src in ["secret", "configMap", "downwardAPI", "projected"] {
        if let Some(x) = v.get_mut(src).filter(|x| x.is_object()) {
            default(x, "defaultMode", json!(420));
        }
    }
    if let Some(hp) = v.get_mut("hostPath").filter(|x| x.is_object()) {
        default(hp, "type", json!(""));
    }
    if let Some(d) = v.get_mut("downwardAPI").filter(|x| x.is_object()) {
        for item in arr_mut(d, "items") {
            if let Some(fr) = item.get_mut("fieldRef").filter(|x| x.is_object()) {
                default_str(fr, "apiVersion", "v1");
            }
        }
    }
    if let Some(p) = v.get_mut("projected").filter(|x| x.is_object()) {
        for src in arr_mut(p, "sources") {
            if let Some(t) = src.get_mut("serviceAccountToken").filter(|x| x.is_object()) {
                default(t, "expirationSeconds", json!(3600));
            }
            if let Some(d) = src.get_mut("downwardAPI").filter(|x| x.is_object()) {
                for item in arr_mut(d, "items") {
                    if let Some(fr) = item.get_mut("fieldRef").filter(|x| x.is_object()) {
                        default_str(fr, "apiVersion", "v1");
                    }
                }
            }
        }
    }
    if let Some(img) = v.get_mut("image").filter(|x| x.is_object()) {
        let policy = if image_defaults_to_always(s(img, "reference")) {
            "Always"
        } else {
            "IfNotPresent"
        };
        default_str(img, "pullPolicy", policy);
    }
}

fn pod(obj: &mut Value) {
    let Some(spec) = ensure_obj(obj, "spec") else {
        return;
    };
    pod_spec(spec);
    // Requests default to limits (Pods only, not templates).
    for list in ["containers", "initContainers"] {
        for c in arr_mut(spec, list) {
            let limits = at(at(c, "resources"), "limits").clone();
            let Some(lm) = limits.as_object().filter(|m| !m.is_empty()) else {
                continue;
            };
            if let Some(res) = ensure_obj(c, "resources") {
                if let Some(req) = ensure_obj(res, "requests").and_then(Value::as_object_mut) {
                    for (k, q) in lm {
                        req.entry(k.clone()).or_insert_with(|| q.clone());
                    }
                }
            }
        }
    }
    default(spec, "enableServiceLinks", json!(true));
    if super::access::boolean(spec, "hostNetwork") {
        for list in ["containers", "initContainers"] {
            for c in arr_mut(spec, list) {
                for p in arr_mut(c, "ports") {
                    if let Some(cp) = int(p, "containerPort") {
                        default_nonzero(p, "hostPort", cp);
                    }
                }
            }
        }
    }
    // Registry strategy: a negative grace period becomes 1.
    if int(spec, "terminationGracePeriodSeconds").is_some_and(|g| g < 0) {
        if let Some(m) = spec.as_object_mut() {
            m.insert("terminationGracePeriodSeconds".to_string(), json!(1));
        }
    }
    // ServiceAccount admission.
    let sa = match s(spec, "serviceAccountName") {
        "" => match s(spec, "serviceAccount") {
            "" => "default".to_string(),
            other => other.to_string(),
        },
        other => other.to_string(),
    };
    default_str(spec, "serviceAccountName", &sa);
    default_str(spec, "serviceAccount", &sa);
    let qos = qos_class(at(obj, "spec"));
    if let Some(status) = ensure_obj(obj, "status") {
        default_str(status, "phase", "Pending");
        default_str(status, "qosClass", qos);
    }
}

/// The pod's QoS class from its containers' cpu/memory requests and limits.
/// A pod's QoS class from its containers' requests and limits.
pub(crate) fn qos_class(spec: &Value) -> &'static str {
    let containers: Vec<&Value> = arr(spec, "containers")
        .iter()
        .chain(arr(spec, "initContainers"))
        .collect();
    let mut any = false;
    let mut guaranteed = true;
    for c in containers {
        let res = at(c, "resources");
        let get = |kind: &str, r: &str| at(at(res, kind), r).clone();
        for r in ["cpu", "memory"] {
            let (req, lim) = (get("requests", r), get("limits", r));
            let nonzero = |q: &Value| quantity::value(q).is_some_and(|x| x != 0.0);
            if nonzero(&req) || nonzero(&lim) {
                any = true;
            }
            match (quantity::value(&req), quantity::value(&lim)) {
                (Some(a), Some(b)) if a == b && b != 0.0 => {}
                (None, Some(b)) if b != 0.0 => {}
                _ => guaranteed = false,
            }
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

fn replication_controller(obj: &mut Value) {
    let labels = at(at(at(at(obj, "spec"), "template"), "metadata"), "labels").clone();
    if let Some(spec) = ensure_obj(obj, "spec") {
        default(spec, "replicas", json!(1));
        if labels.as_object().is_some_and(|m| !m.is_empty())
            && super::access::obj(spec, "selector").is_none_or(|m| m.is_empty())
        {
            if let Some(m) = spec.as_object_mut() {
                m.insert("selector".to_string(), labels.clone());
            }
        }
        template_in(spec, "template");
    }
    copy_labels_if_empty(obj, &labels);
}

fn copy_labels_if_empty(obj: &mut Value, labels: &Value) {
    if labels.as_object().is_none_or(|m| m.is_empty()) {
        return;
    }
    if let Some(meta) = ensure_obj(obj, "metadata") {
        if super::access::obj(meta, "labels").is_none_or(|m| m.is_empty()) {
            if let Some(m) = meta.as_object_mut() {
                m.insert("labels".to_string(), labels.clone());
            }
        }
    }
}

fn deployment(obj: &mut Value) {
    let Some(spec) = ensure_obj(obj, "spec") else {
        return;
    };
    default(spec, "replicas", json!(1));
    if let Some(strategy) = ensure_obj(spec, "strategy") {
        default_str(strategy, "type", "RollingUpdate");
        if s(strategy, "type") == "RollingUpdate" {
            if let Some(ru) = ensure_obj(strategy, "rollingUpdate") {
                default(ru, "maxUnavailable", json!("25%"));
                default(ru, "maxSurge", json!("25%"));
            }
        }
    }
    default(spec, "revisionHistoryLimit", json!(10));
    default(spec, "progressDeadlineSeconds", json!(600));
    template_in(spec, "template");
}

fn statefulset(obj: &mut Value) {
    let Some(spec) = ensure_obj(obj, "spec") else {
        return;
    };
    default_str(spec, "podManagementPolicy", "OrderedReady");
    if let Some(us) = ensure_obj(spec, "updateStrategy") {
        default_str(us, "type", "RollingUpdate");
        if s(us, "type") == "RollingUpdate" {
            if let Some(ru) = ensure_obj(us, "rollingUpdate") {
                default(ru, "partition", json!(0));
            }
        }
    }
    default(spec, "replicas", json!(1));
    default(spec, "revisionHistoryLimit", json!(10));
    if let Some(p) = ensure_obj(spec, "persistentVolumeClaimRetentionPolicy") {
        default_str(p, "whenDeleted", "Retain");
        default_str(p, "whenScaled", "Retain");
    }
    for pvc in arr_mut(spec, "volumeClaimTemplates") {
        default_str(pvc, "apiVersion", "v1");
        default_str(pvc, "kind", "PersistentVolumeClaim");
        if let Some(ps) = ensure_obj(pvc, "spec") {
            default_str(ps, "volumeMode", "Filesystem");
        }
        if let Some(st) = ensure_obj(pvc, "status") {
            default_str(st, "phase", "Pending");
        }
    }
    template_in(spec, "template");
}

fn daemonset(obj: &mut Value) {
    let Some(spec) = ensure_obj(obj, "spec") else {
        return;
    };
    if let Some(us) = ensure_obj(spec, "updateStrategy") {
        default_str(us, "type", "RollingUpdate");
        if s(us, "type") == "RollingUpdate" {
            if let Some(ru) = ensure_obj(us, "rollingUpdate") {
                default(ru, "maxUnavailable", json!(1));
                default(ru, "maxSurge", json!(0));
            }
        }
    }
    default(spec, "revisionHistoryLimit", json!(10));
    template_in(spec, "template");
}

fn job(obj: &mut Value) {
    let meta = at(obj, "metadata");
    let uid = s(meta, "uid").to_string();
    let name = s(meta, "name").to_string();
    let Some(spec) = ensure_obj(obj, "spec") else {
        return;
    };
    template_in(spec, "template");
    if !present(spec, "completions") && !present(spec, "parallelism") {
        default(spec, "completions", json!(1));
    }
    default(spec, "parallelism", json!(1));
    let backoff = if present(spec, "backoffLimitPerIndex") {
        i64::from(i32::MAX)
    } else {
        6
    };
    default(spec, "backoffLimit", json!(backoff));
    default_str(spec, "completionMode", "NonIndexed");
    default(spec, "suspend", json!(false));
    let replacement = if present(spec, "podFailurePolicy") {
        "Failed"
    } else {
        "TerminatingOrFailed"
    };
    default_str(spec, "podReplacementPolicy", replacement);
    default(spec, "manualSelector", json!(false));
    let manual = spec
        .get("manualSelector")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if !manual && !uid.is_empty() {
        if let Some(labels) = ensure_obj(spec, "template")
            .and_then(|t| ensure_obj(t, "metadata"))
            .and_then(|m| ensure_obj(m, "labels"))
        {
            for (k, v) in [
                ("batch.kubernetes.io/controller-uid", &uid),
                ("batch.kubernetes.io/job-name", &name),
                ("controller-uid", &uid),
                ("job-name", &name),
            ] {
                default(labels, k, json!(v));
            }
        }
        if let Some(ml) =
            ensure_obj(spec, "selector").and_then(|sel| ensure_obj(sel, "matchLabels"))
        {
            default(ml, "batch.kubernetes.io/controller-uid", json!(uid));
        }
    }
    let labels = at(at(at(at(obj, "spec"), "template"), "metadata"), "labels").clone();
    copy_labels_if_empty(obj, &labels);
}

fn cronjob(obj: &mut Value) {
    let Some(spec) = ensure_obj(obj, "spec") else {
        return;
    };
    default_str(spec, "concurrencyPolicy", "Allow");
    default(spec, "suspend", json!(false));
    default(spec, "successfulJobsHistoryLimit", json!(3));
    default(spec, "failedJobsHistoryLimit", json!(1));
    if let Some(jt) = ensure_obj(spec, "jobTemplate") {
        if let Some(js) = ensure_obj(jt, "spec") {
            template_in(js, "template");
        }
    }
}

fn service(obj: &mut Value) {
    let Some(spec) = ensure_obj(obj, "spec") else {
        return;
    };
    default_str(spec, "sessionAffinity", "None");
    if s(spec, "sessionAffinity") == "None" {
        if let Some(m) = spec.as_object_mut() {
            m.remove("sessionAffinityConfig");
        }
    } else if s(spec, "sessionAffinity") == "ClientIP" {
        if let Some(ip) =
            ensure_obj(spec, "sessionAffinityConfig").and_then(|c| ensure_obj(c, "clientIP"))
        {
            default(ip, "timeoutSeconds", json!(10800));
        }
    }
    default_str(spec, "type", "ClusterIP");
    for p in arr_mut(spec, "ports") {
        default_str(p, "protocol", "TCP");
        let port = at(p, "port").clone();
        let unset = match p.get("targetPort") {
            None | Some(Value::Null) => true,
            Some(Value::String(t)) => t.is_empty(),
            Some(other) => as_int(other) == Some(0),
        };
        if unset && !port.is_null() {
            if let Some(m) = p.as_object_mut() {
                m.insert("targetPort".to_string(), port);
            }
        }
    }
    let ty = s(spec, "type").to_string();
    let external = matches!(ty.as_str(), "NodePort" | "LoadBalancer")
        || (ty == "ClusterIP" && !arr(spec, "externalIPs").is_empty());
    if external {
        default_str(spec, "externalTrafficPolicy", "Cluster");
    }
    if ty != "ExternalName" {
        default(spec, "internalTrafficPolicy", json!("Cluster"));
        let ip = s(spec, "clusterIP").to_string();
        if !ip.is_empty() && arr(spec, "clusterIPs").is_empty() {
            if let Some(m) = spec.as_object_mut() {
                m.insert("clusterIPs".to_string(), json!([ip]));
            }
        }
        let family = if ip.contains(':') { "IPv6" } else { "IPv4" };
        default(spec, "ipFamilies", json!([family]));
        // A headless service without a selector gets addresses of every family the cluster
        // has (kube-apiserver's special case).
        let headless_selectorless = ip == "None"
            && at(spec, "selector")
                .as_object()
                .is_none_or(serde_json::Map::is_empty);
        let policy = if headless_selectorless {
            "RequireDualStack"
        } else {
            "SingleStack"
        };
        default(spec, "ipFamilyPolicy", json!(policy));
    }
    if ty == "LoadBalancer" {
        default(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
    if let Some(status) = ensure_obj(obj, "status") {
        default(status, "loadBalancer", json!({}));
    }
}

fn namespace(obj: &mut Value) {
    let name = s(at(obj, "metadata"), "name").to_string();
    if !name.is_empty() {
        if let Some(labels) = ensure_obj(obj, "metadata").and_then(|m| ensure_obj(m, "labels")) {
            if let Some(m) = labels.as_object_mut() {
                m.insert("kubernetes.io/metadata.name".to_string(), json!(name));
            }
        }
    }
    if let Some(status) = ensure_obj(obj, "status") {
        default_str(status, "phase", "Active");
    }
}
