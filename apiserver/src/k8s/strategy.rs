//! Per-resource rules of create and update that are not validation (kube-apiserver's
//! `PrepareForCreate`/`PrepareForUpdate`): which part of an object a request may write (the
//! main resource cannot change status, `/status` can change nothing else), and the status a new
//! object starts with.

use serde_json::{json, Value};

use super::resources::Resource;

/// The status a new object starts with; client-supplied status is dropped for resources that
/// have a status subresource (nodes keep theirs: the node agent reports it at registration).
pub fn prepare_create(r: &Resource, obj: &mut Value) {
    if !r.has_subresource("status") || r.plural == "nodes" {
        return;
    }
    let Some(o) = obj.as_object_mut() else {
        return;
    };
    let status = match (r.group, r.plural) {
        ("", "pods") => {
            let qos = pod_qos_class(o.get("spec"));
            json!({"phase": "Pending", "qosClass": qos})
        }
        ("", "namespaces") => json!({"phase": "Active"}),
        ("", "services") => json!({"loadBalancer": {}}),
        ("", "persistentvolumes") | ("", "persistentvolumeclaims") => json!({"phase": "Pending"}),
        _ => json!({}),
    };
    o.insert("status".into(), status);
}

/// Merges what an update may change into the stored object: the main resource keeps the
/// stored status, `/status` keeps everything but the status (and labels/annotations it may
/// not touch either).
pub fn prepare_update(r: &Resource, subresource: Option<&str>, new: &mut Value, old: &Value) {
    match subresource {
        // Binding is the server's own write of spec.nodeName and the PodScheduled condition.
        Some("binding") => {}
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
            if r.plural == "namespaces" {
                // A namespace's phase is owned by the server.
                if let (Some(o), Some(s)) = (new.as_object_mut(), old.get("status")) {
                    o.insert("status".into(), s.clone());
                }
            }
        }
    }
}

/// A pod's QoS class from its containers' requests and limits.
fn pod_qos_class(spec: Option<&Value>) -> &'static str {
    let containers: Vec<&Value> = ["containers", "initContainers"]
        .iter()
        .filter_map(|k| spec.and_then(|s| s.get(*k)).and_then(Value::as_array))
        .flatten()
        .collect();
    let mut any = false;
    let mut guaranteed = true;
    for c in &containers {
        let req = c.pointer("/resources/requests").and_then(Value::as_object);
        let lim = c.pointer("/resources/limits").and_then(Value::as_object);
        for res in ["cpu", "memory"] {
            let rq = req.and_then(|m| m.get(res));
            let lm = lim.and_then(|m| m.get(res));
            if rq.is_some() || lm.is_some() {
                any = true;
            }
            match (rq, lm) {
                (_, None) => guaranteed = false,
                (Some(a), Some(b)) if a != b => guaranteed = false,
                _ => {}
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qos_class_follows_requests_and_limits() {
        assert_eq!(
            pod_qos_class(Some(&json!({"containers": [{"name": "a"}]}))),
            "BestEffort"
        );
        let g = json!({"containers": [{"resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}}]});
        assert_eq!(pod_qos_class(Some(&g)), "Guaranteed");
        let b = json!({"containers": [{"resources": {"requests": {"cpu": "1"}}}]});
        assert_eq!(pod_qos_class(Some(&b)), "Burstable");
    }
}
