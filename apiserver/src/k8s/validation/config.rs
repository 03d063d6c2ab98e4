//! ConfigMap and Secret validation: key names, the 1 MiB total size,
//! required keys of typed Secrets, and the `immutable: true` rules on update.
//! Also Namespace spec finalizers.

use std::collections::BTreeSet;

use serde_json::Value;

use super::access::{at, boolean, key, obj, s, semantic_eq};
use super::field_error::{FieldError, FieldErrors};
use super::names::{invalid_each, is_config_map_key, is_qualified_name};

/// Maximum total size of a ConfigMap's or Secret's data.
pub const MAX_SECRET_SIZE: usize = 1024 * 1024;

fn sorted_keys(v: &Value, field: &str) -> Vec<String> {
    let mut k: Vec<String> = obj(v, field)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

/// Decoded length of a base64 string (what the value occupies once stored).
fn base64_len(v: &Value) -> usize {
    let s = v.as_str().unwrap_or("");
    let trimmed = s.trim_end_matches('=');
    trimmed.len() * 3 / 4
}

/// Validates a ConfigMap's `data` and `binaryData`.
pub fn validate_configmap(cm: &Value) -> FieldErrors {
    let mut errs = Vec::new();
    let mut total = 0usize;
    let data = obj(cm, "data");
    let bin = obj(cm, "binaryData");
    for k in sorted_keys(cm, "data") {
        let p = key("data", &k);
        errs.extend(invalid_each(&p, &k, is_config_map_key(&k)));
        if bin.is_some_and(|b| b.contains_key(&k)) {
            errs.push(FieldError::invalid(
                &p,
                k.as_str(),
                "duplicate of key present in binaryData",
            ));
        }
        total += data
            .and_then(|d| d.get(&k))
            .and_then(Value::as_str)
            .map_or(0, str::len);
    }
    for k in sorted_keys(cm, "binaryData") {
        let p = key("binaryData", &k);
        errs.extend(invalid_each(&p, &k, is_config_map_key(&k)));
        if data.is_some_and(|d| d.contains_key(&k)) {
            errs.push(FieldError::invalid(
                &p,
                k.as_str(),
                "duplicate of key present in data",
            ));
        }
        total += bin.and_then(|b| b.get(&k)).map_or(0, base64_len);
    }
    if total > MAX_SECRET_SIZE {
        errs.push(FieldError::too_long("", MAX_SECRET_SIZE));
    }
    errs
}

/// Validates a Secret: keys of `data` and `stringData`, total size, and the
/// keys required by the well-known secret types.
pub fn validate_secret(secret: &Value) -> FieldErrors {
    let mut errs = Vec::new();
    let mut total = 0usize;
    let mut keys = BTreeSet::new();
    for k in sorted_keys(secret, "data") {
        errs.extend(invalid_each(&key("data", &k), &k, is_config_map_key(&k)));
        total += obj(secret, "data")
            .and_then(|d| d.get(&k))
            .map_or(0, base64_len);
        keys.insert(k);
    }
    for k in sorted_keys(secret, "stringData") {
        if !keys.contains(&k) {
            errs.extend(invalid_each(&key("data", &k), &k, is_config_map_key(&k)));
        }
        total += obj(secret, "stringData")
            .and_then(|d| d.get(&k))
            .and_then(Value::as_str)
            .map_or(0, str::len);
        keys.insert(k);
    }
    if total > MAX_SECRET_SIZE {
        errs.push(FieldError::too_long("data", MAX_SECRET_SIZE));
    }
    let has = |k: &str| keys.contains(k);
    match s(secret, "type") {
        "kubernetes.io/service-account-token" => {
            let annotations = at(at(secret, "metadata"), "annotations");
            if s(annotations, "kubernetes.io/service-account.name").is_empty() {
                errs.push(FieldError::required(
                    "metadata.annotations[kubernetes.io/service-account.name]",
                    "",
                ));
            }
        }
        "kubernetes.io/dockercfg" if !has(".dockercfg") => {
            errs.push(FieldError::required("data[.dockercfg]", ""));
        }
        "kubernetes.io/dockerconfigjson" if !has(".dockerconfigjson") => {
            errs.push(FieldError::required("data[.dockerconfigjson]", ""));
        }
        "kubernetes.io/basic-auth" if !has("username") && !has("password") => {
            errs.push(FieldError::required("data[username]", ""));
            errs.push(FieldError::required("data[password]", ""));
        }
        "kubernetes.io/ssh-auth" if !has("ssh-privatekey") => {
            errs.push(FieldError::required("data[ssh-privatekey]", ""));
        }
        "kubernetes.io/tls" => {
            if !has("tls.crt") {
                errs.push(FieldError::required("data[tls.crt]", ""));
            }
            if !has("tls.key") {
                errs.push(FieldError::required("data[tls.key]", ""));
            }
        }
        _ => {}
    }
    errs
}

/// ConfigMap/Secret update: once `immutable: true`, it stays so and the data may not change.
pub fn validate_immutable_data(new: &Value, old: &Value, fields: &[&str]) -> FieldErrors {
    let mut errs = Vec::new();
    if boolean(old, "immutable") {
        if !boolean(new, "immutable") {
            errs.push(FieldError::forbidden(
                "immutable",
                "field is immutable when `immutable` is set",
            ));
        }
        for f in fields {
            if !semantic_eq(at(new, f), at(old, f)) {
                errs.push(FieldError::forbidden(
                    *f,
                    "field is immutable when `immutable` is set",
                ));
            }
        }
    }
    errs
}

/// Secret update: the type may not change.
pub fn validate_secret_update(new: &Value, old: &Value) -> FieldErrors {
    let mut errs = Vec::new();
    if s(new, "type") != s(old, "type") {
        errs.push(FieldError::invalid(
            "type",
            s(new, "type"),
            "field is immutable",
        ));
    }
    let mut old_merged = old.clone();
    let mut new_merged = new.clone();
    for v in [&mut old_merged, &mut new_merged] {
        if let Some(m) = v.as_object_mut() {
            m.remove("stringData");
        }
    }
    errs.extend(validate_immutable_data(&new_merged, &old_merged, &["data"]));
    errs
}

/// Namespace spec: each finalizer a qualified name, and either "kubernetes" or domain-prefixed.
pub fn validate_namespace(ns: &Value) -> FieldErrors {
    let mut errs = Vec::new();
    for f in super::access::arr(at(ns, "spec"), "finalizers") {
        let f = f.as_str().unwrap_or("");
        let msgs = is_qualified_name(f);
        if !msgs.is_empty() {
            errs.extend(invalid_each("spec.finalizers", f, msgs));
        } else if !f.contains('/') && f != "kubernetes" {
            errs.push(FieldError::invalid(
                "spec.finalizers",
                f,
                "name is neither a standard finalizer name nor is it fully qualified",
            ));
        }
    }
    errs
}
