//! ObjectMeta rules: which name format each resource uses, name and
//! generateName, namespace presence per scope, generation, labels,
//! annotations, ownerReferences and finalizers on create; immutability of
//! name, namespace, uid and creationTimestamp on update.

use serde_json::Value;

use super::access::{arr, at, child, int, s, string_map};
use super::field_error::{FieldError, FieldErrors};
use super::names::{
    invalid_each, is_dns1035_label, is_dns1123_label, is_dns1123_subdomain, is_path_segment_name,
    is_qualified_name, mask_trailing_dash, validate_annotations, validate_labels,
};

/// The format rule for an object's `metadata.name`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameRule {
    /// RFC 1123 subdomain (most resources).
    Dns1123Subdomain,
    /// RFC 1123 label (namespaces, statefulsets).
    Dns1123Label,
    /// RFC 1035 label (services).
    Dns1035Label,
    /// Any path segment (RBAC roles and bindings).
    PathSegment,
}

/// The name rule kube-apiserver applies to a resource.
pub fn name_rule(group: &str, resource: &str) -> NameRule {
    match (group, resource) {
        ("", "namespaces") | ("apps", "statefulsets") => NameRule::Dns1123Label,
        ("", "services") => NameRule::Dns1035Label,
        (
            "rbac.authorization.k8s.io",
            "roles" | "rolebindings" | "clusterroles" | "clusterrolebindings",
        ) => NameRule::PathSegment,
        _ => NameRule::Dns1123Subdomain,
    }
}

/// Checks a name (or, with `prefix`, a generateName) against a rule.
pub fn check_name(rule: NameRule, name: &str, prefix: bool) -> Vec<String> {
    let masked;
    let n = if prefix && rule != NameRule::PathSegment {
        masked = mask_trailing_dash(name);
        masked.as_str()
    } else {
        name
    };
    match rule {
        NameRule::Dns1123Subdomain => is_dns1123_subdomain(n),
        NameRule::Dns1123Label => is_dns1123_label(n),
        NameRule::Dns1035Label => is_dns1035_label(n),
        NameRule::PathSegment => is_path_segment_name(n, prefix),
    }
}

/// Validates `metadata` of a new object: name (per resource rule) and
/// generateName, namespace required (namespaced) or forbidden (cluster
/// scope), generation, labels, annotations, ownerReferences, finalizers.
pub fn validate_object_meta(
    group: &str,
    resource: &str,
    namespaced: bool,
    obj: &Value,
) -> FieldErrors {
    let meta = at(obj, "metadata");
    let path = "metadata";
    let rule = name_rule(group, resource);
    let mut errs = Vec::new();
    let generate_name = s(meta, "generateName");
    if !generate_name.is_empty() {
        errs.extend(invalid_each(
            &child(path, "generateName"),
            generate_name,
            check_name(rule, generate_name, true),
        ));
    }
    let name = s(meta, "name");
    if name.is_empty() {
        errs.push(FieldError::required(
            child(path, "name"),
            "name or generateName is required",
        ));
    } else {
        errs.extend(invalid_each(
            &child(path, "name"),
            name,
            check_name(rule, name, false),
        ));
    }
    errs.extend(validate_meta_common(meta, namespaced, path));
    errs
}

fn validate_meta_common(meta: &Value, namespaced: bool, path: &str) -> FieldErrors {
    let mut errs = Vec::new();
    let ns = s(meta, "namespace");
    if namespaced {
        if ns.is_empty() {
            errs.push(FieldError::required(child(path, "namespace"), ""));
        } else {
            errs.extend(invalid_each(
                &child(path, "namespace"),
                ns,
                is_dns1123_label(ns),
            ));
        }
    } else if !ns.is_empty() {
        errs.push(FieldError::forbidden(
            child(path, "namespace"),
            "not allowed on this type",
        ));
    }
    if let Some(g) = int(meta, "generation") {
        if g < 0 {
            errs.push(FieldError::invalid(
                child(path, "generation"),
                g,
                "must be greater than or equal to 0",
            ));
        }
    }
    errs.extend(validate_labels(
        &string_map(meta, "labels"),
        &child(path, "labels"),
    ));
    errs.extend(validate_annotations(
        &string_map(meta, "annotations"),
        &child(path, "annotations"),
    ));
    errs.extend(validate_owner_references(
        arr(meta, "ownerReferences"),
        &child(path, "ownerReferences"),
    ));
    errs.extend(validate_finalizers(
        arr(meta, "finalizers"),
        &child(path, "finalizers"),
    ));
    errs
}

fn validate_owner_references(refs: &[Value], path: &str) -> FieldErrors {
    let mut errs = Vec::new();
    let mut first_controller: Option<String> = None;
    for r in refs {
        let api_version = s(r, "apiVersion");
        let version = api_version.rsplit('/').next().unwrap_or("");
        if version.is_empty() || api_version.split('/').count() > 2 {
            errs.push(FieldError::invalid(
                child(path, "apiVersion"),
                api_version,
                "version must not be empty",
            ));
        }
        let kind = s(r, "kind");
        if kind.is_empty() {
            errs.push(FieldError::invalid(
                child(path, "kind"),
                kind,
                "must not be empty",
            ));
        }
        let name = s(r, "name");
        if name.is_empty() {
            errs.push(FieldError::invalid(
                child(path, "name"),
                name,
                "must not be empty",
            ));
        }
        if s(r, "uid").is_empty() {
            errs.push(FieldError::invalid(
                child(path, "uid"),
                "",
                "must not be empty",
            ));
        }
        if api_version == "v1" && kind == "Event" {
            errs.push(FieldError::invalid(
                path,
                r.clone(),
                "/v1, Kind=Event is disallowed from being an owner",
            ));
        }
        if r.get("controller").and_then(Value::as_bool) == Some(true) {
            let this = format!("{kind}/{name}");
            match &first_controller {
                Some(first) => errs.push(FieldError::invalid(
                    path,
                    Value::Array(refs.to_vec()),
                    format!("Only one reference can have Controller set to true. Found \"true\" in references for {first} and {this}"),
                )),
                None => first_controller = Some(this),
            }
        }
    }
    errs
}

fn validate_finalizers(finalizers: &[Value], path: &str) -> FieldErrors {
    let mut errs = Vec::new();
    let (mut orphan, mut delete) = (false, false);
    for f in finalizers {
        let f = f.as_str().unwrap_or("");
        errs.extend(invalid_each(path, f, is_qualified_name(f)));
        orphan |= f == "orphan";
        delete |= f == "foregroundDeletion";
    }
    if orphan && delete {
        errs.push(FieldError::invalid(
            path,
            Value::Array(finalizers.to_vec()),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
    errs
}

/// Validates `metadata` on update: name, namespace, uid and
/// creationTimestamp are immutable; labels, annotations, ownerReferences
/// and finalizers must still be well-formed. (Name format is not rechecked.)
pub fn validate_object_meta_update(new: &Value, old: &Value) -> FieldErrors {
    let (nm, om) = (at(new, "metadata"), at(old, "metadata"));
    let path = "metadata";
    let mut errs = Vec::new();
    for f in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
    ] {
        let (n, o) = (s(nm, f), s(om, f));
        if n != o {
            errs.push(FieldError::invalid(child(path, f), n, "field is immutable"));
        }
    }
    if int(nm, "deletionGracePeriodSeconds") != int(om, "deletionGracePeriodSeconds") {
        let v = nm
            .get("deletionGracePeriodSeconds")
            .cloned()
            .unwrap_or(Value::Null);
        errs.push(FieldError::invalid(
            child(path, "deletionGracePeriodSeconds"),
            v,
            "field is immutable",
        ));
    }
    if !s(om, "deletionTimestamp").is_empty() {
        let old_f: Vec<&str> = arr(om, "finalizers")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let mut extra: Vec<&str> = arr(nm, "finalizers")
            .iter()
            .filter_map(Value::as_str)
            .filter(|f| !old_f.contains(f))
            .collect();
        extra.sort();
        extra.dedup();
        if !extra.is_empty() {
            let list: Vec<String> = extra
                .iter()
                .map(|e| super::field_error::go_quote(e))
                .collect();
            errs.push(FieldError::forbidden(
                child(path, "finalizers"),
                format!("no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}", list.join(", ")),
            ));
        }
    }
    errs.extend(validate_labels(
        &string_map(nm, "labels"),
        &child(path, "labels"),
    ));
    errs.extend(validate_annotations(
        &string_map(nm, "annotations"),
        &child(path, "annotations"),
    ));
    errs.extend(validate_owner_references(
        arr(nm, "ownerReferences"),
        &child(path, "ownerReferences"),
    ));
    errs.extend(validate_finalizers(
        arr(nm, "finalizers"),
        &child(path, "finalizers"),
    ));
    errs
}

/// Validates the metadata of an embedded template (labels and annotations
/// only), reporting them at `path.labels` / `path.annotations` as upstream does.
pub fn validate_template_meta(meta: &Value, path: &str) -> FieldErrors {
    let mut errs = validate_labels(&string_map(meta, "labels"), &child(path, "labels"));
    errs.extend(validate_annotations(
        &string_map(meta, "annotations"),
        &child(path, "annotations"),
    ));
    errs
}
