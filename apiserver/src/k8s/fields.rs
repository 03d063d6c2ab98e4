//! Field selectors per resource: which field labels each type supports (as kube-apiserver's
//! `GetAttrs`/field label conversion funcs allow) and how to read them from an object.

use serde_json::Value;

use super::resources::Resource;
use super::selector::FieldSelector;

fn s(obj: &Value, ptr: &str) -> Option<String> {
    match obj.pointer(ptr)? {
        Value::String(x) => Some(x.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The JSON pointer of a supported field label of `r`, if it is supported.
fn pointer(r: &Resource, field: &str) -> Option<&'static str> {
    let common = match field {
        "metadata.name" => Some("/metadata/name"),
        "metadata.namespace" => Some("/metadata/namespace"),
        _ => None,
    };
    if common.is_some() {
        return common;
    }
    match (r.group, r.plural, field) {
        ("", "pods", "spec.nodeName") => Some("/spec/nodeName"),
        ("", "pods", "spec.restartPolicy") => Some("/spec/restartPolicy"),
        ("", "pods", "spec.schedulerName") => Some("/spec/schedulerName"),
        ("", "pods", "spec.serviceAccountName") => Some("/spec/serviceAccountName"),
        ("", "pods", "spec.hostNetwork") => Some("/spec/hostNetwork"),
        ("", "pods", "status.phase") => Some("/status/phase"),
        ("", "pods", "status.podIP") => Some("/status/podIP"),
        ("", "pods", "status.nominatedNodeName") => Some("/status/nominatedNodeName"),
        ("", "events", "involvedObject.kind") => Some("/involvedObject/kind"),
        ("", "events", "involvedObject.namespace") => Some("/involvedObject/namespace"),
        ("", "events", "involvedObject.name") => Some("/involvedObject/name"),
        ("", "events", "involvedObject.uid") => Some("/involvedObject/uid"),
        ("", "events", "involvedObject.apiVersion") => Some("/involvedObject/apiVersion"),
        ("", "events", "involvedObject.resourceVersion") => Some("/involvedObject/resourceVersion"),
        ("", "events", "involvedObject.fieldPath") => Some("/involvedObject/fieldPath"),
        ("", "events", "reason") => Some("/reason"),
        ("", "events", "reportingComponent") => Some("/reportingComponent"),
        ("", "events", "source") => Some("/source/component"),
        ("", "events", "type") => Some("/type"),
        ("events.k8s.io", "events", "regarding.kind") => Some("/involvedObject/kind"),
        ("events.k8s.io", "events", "regarding.namespace") => Some("/involvedObject/namespace"),
        ("events.k8s.io", "events", "regarding.name") => Some("/involvedObject/name"),
        ("events.k8s.io", "events", "regarding.uid") => Some("/involvedObject/uid"),
        ("events.k8s.io", "events", "reason") => Some("/reason"),
        ("events.k8s.io", "events", "type") => Some("/type"),
        ("events.k8s.io", "events", "reportingController") => Some("/reportingComponent"),
        ("", "nodes", "spec.unschedulable") => Some("/spec/unschedulable"),
        ("", "namespaces", "status.phase") => Some("/status/phase"),
        ("", "secrets", "type") => Some("/type"),
        ("apps", "replicasets", "status.replicas") => Some("/status/replicas"),
        ("", "replicationcontrollers", "status.replicas") => Some("/status/replicas"),
        ("batch", "jobs", "status.successful") => Some("/status/successful"),
        _ => None,
    }
}

/// Checks every field label of the selector is supported by `r`; the error is kube-apiserver's.
pub fn check(r: &Resource, sel: &FieldSelector) -> Result<(), String> {
    for req in &sel.reqs {
        if pointer(r, &req.field).is_none() {
            return Err(format!("field label not supported: {}", req.field));
        }
    }
    Ok(())
}

/// Whether the stored object (stored form: core events for both event APIs) matches.
pub fn matches(r: &Resource, sel: &FieldSelector, obj: &Value) -> bool {
    if sel.is_empty() {
        return true;
    }
    sel.matches(|field| {
        let p = pointer(r, field)?;
        let v = s(obj, p);
        // Unset booleans and integers read as their zero value, as Go's fields do.
        match (v, field) {
            (None, "spec.unschedulable" | "spec.hostNetwork") => Some("false".into()),
            (None, "status.replicas" | "status.successful") => Some("0".into()),
            (v, _) => v,
        }
    })
}
