//! Per-resource rules of create and update that are not validation (kube-apiserver's
//! `PrepareForCreate`/`PrepareForUpdate`): which part of an object a request may write (the
//! main resource cannot change status, `/status` can change nothing else), and the status a new
//! object starts with.

use serde_json::{json, Value};

use super::resources::Resource;

/// The status a new object starts with; client-supplied status is dropped for resources that
/// have a status subresource (nodes keep theirs: the node agent reports it at registration).
/// Counters of a status that its Go type always prints (no `omitempty`) start at zero.
pub fn prepare_create(r: &Resource, obj: &mut Value, now: &str) {
    if r.group.is_empty() && r.plural == "namespaces" {
        require_kubernetes_finalizer(obj);
    }
    if !r.has_subresource("status") || r.plural == "nodes" {
        return;
    }
    let Some(o) = obj.as_object_mut() else {
        return;
    };
    let status = match (r.group, r.plural) {
        ("", "pods") => {
            let qos = super::validation::defaults::qos_class(o.get("spec").unwrap_or(&Value::Null));
            json!({"phase": "Pending", "qosClass": qos})
        }
        ("", "namespaces") => json!({"phase": "Active"}),
        ("", "services") => json!({"loadBalancer": {}}),
        ("", "persistentvolumes") => json!({"phase": "Pending", "lastPhaseTransitionTime": now}),
        ("", "persistentvolumeclaims") => json!({"phase": "Pending"}),
        ("", "replicationcontrollers") | ("apps", "replicasets") => json!({"replicas": 0}),
        ("apps", "statefulsets") => json!({"replicas": 0, "availableReplicas": 0}),
        ("apps", "daemonsets") => json!({
            "currentNumberScheduled": 0,
            "numberMisscheduled": 0,
            "desiredNumberScheduled": 0,
            "numberReady": 0,
        }),
        ("policy", "poddisruptionbudgets") => json!({
            "disruptionsAllowed": 0,
            "currentHealthy": 0,
            "desiredHealthy": 0,
            "expectedPods": 0,
        }),
        _ => json!({}),
    };
    o.insert("status".into(), status);
}

/// Merges what an update may change into the stored object: the main resource keeps the
/// stored status, `/status` keeps everything but the status (and labels/annotations it may
/// not touch either).
/// A new namespace always carries the server's `kubernetes` finalizer (its content is deleted
/// before it goes); afterwards only `finalize` changes `spec.finalizers`.
fn require_kubernetes_finalizer(obj: &mut Value) {
    let Some(o) = obj.as_object_mut() else {
        return;
    };
    let spec = o
        .entry("spec")
        .or_insert_with(|| Value::Object(serde_json::Map::new()));
    let Some(spec) = spec.as_object_mut() else {
        return;
    };
    let list = spec
        .entry("finalizers")
        .or_insert_with(|| Value::Array(Vec::new()));
    if !list.is_array() {
        *list = Value::Array(Vec::new());
    }
    if let Some(a) = list.as_array_mut() {
        if !a.iter().any(|f| f.as_str() == Some("kubernetes")) {
            a.push(json!("kubernetes"));
        }
    }
}

/// A persistent volume's `lastPhaseTransitionTime` is set whenever its phase changes (unless
/// the writer sets it).
pub fn prepare_update(
    r: &Resource,
    subresource: Option<&str>,
    new: &mut Value,
    old: &Value,
    now: &str,
) {
    if r.group.is_empty() && r.plural == "persistentvolumes" && subresource == Some("status") {
        let phase = |v: &Value| v.pointer("/status/phase").cloned();
        let time = |v: &Value| v.pointer("/status/lastPhaseTransitionTime").cloned();
        if phase(new) != phase(old) && time(new) == time(old) {
            if let Some(st) = new.get_mut("status").and_then(Value::as_object_mut) {
                st.insert("lastPhaseTransitionTime".into(), Value::from(now));
            }
        }
    }
    match subresource {
        // Binding is the server's own write of spec.nodeName and the PodScheduled condition.
        Some("binding") => {}
        // `finalize` changes a namespace's spec.finalizers and nothing else.
        Some("finalize") => {
            let finalizers = new.pointer("/spec/finalizers").cloned();
            let rv = new.pointer("/metadata/resourceVersion").cloned();
            let mut merged = old.clone();
            if let Some(o) = merged.as_object_mut() {
                let spec = o
                    .entry("spec")
                    .or_insert_with(|| Value::Object(serde_json::Map::new()));
                if let Some(spec) = spec.as_object_mut() {
                    match finalizers {
                        Some(f) => spec.insert("finalizers".into(), f),
                        None => spec.remove("finalizers"),
                    };
                }
                if let (Some(m), Some(rv)) =
                    (o.get_mut("metadata").and_then(Value::as_object_mut), rv)
                {
                    m.insert("resourceVersion".into(), rv);
                }
            }
            *new = merged;
        }
        Some("status") => {
            let status = new.get("status").cloned();
            let meta = new.get("metadata").cloned();
            let mut merged = old.clone();
            if let Some(o) = merged.as_object_mut() {
                match status {
                    Some(s) => o.insert("status".into(), s),
                    None => o.remove("status"),
                };
                // The status writer may set the resourceVersion precondition.
                if let (Some(m), Some(rv)) = (
                    o.get_mut("metadata").and_then(Value::as_object_mut),
                    meta.as_ref().and_then(|m| m.get("resourceVersion")),
                ) {
                    m.insert("resourceVersion".into(), rv.clone());
                }
            }
            *new = merged;
        }
        _ => {
            if r.has_subresource("status") && r.plural != "namespaces" {
                if let Some(o) = new.as_object_mut() {
                    match old.get("status") {
                        Some(s) => o.insert("status".into(), s.clone()),
                        None => o.remove("status"),
                    };
                }
            }
            if r.group.is_empty() && r.plural == "namespaces" {
                // A namespace's phase is owned by the server, its finalizers by `finalize`.
                if let (Some(o), Some(s)) = (new.as_object_mut(), old.get("status")) {
                    o.insert("status".into(), s.clone());
                }
                let finalizers = old.pointer("/spec/finalizers").cloned();
                if let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) {
                    match finalizers {
                        Some(f) => spec.insert("finalizers".into(), f),
                        None => spec.remove("finalizers"),
                    };
                } else if let (Some(o), Some(f)) = (new.as_object_mut(), finalizers) {
                    o.insert("spec".into(), json!({"finalizers": f}));
                }
            }
        }
    }
}
