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
            let qos = super::validation::defaults::qos_class(o.get("spec").unwrap_or(&Value::Null));
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
