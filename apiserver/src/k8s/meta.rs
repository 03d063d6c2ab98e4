//! Object metadata rules shared by every resource (k8s.io/apiserver's BeforeCreate and
//! BeforeUpdate): kind and apiVersion checks, namespace defaulting, name and generateName, uid,
//! creationTimestamp, generation, and what an update may not change.

use rand::Rng;
use serde_json::{json, Map, Value};

use super::resources::Resource;
use super::status::{ApiError, ApiResult};

/// The clock of metadata timestamps, in RFC 3339 with seconds (as Kubernetes stores them).
pub fn timestamp(now: jiff::Timestamp) -> String {
    now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A random v4 UUID.
pub fn new_uid() -> String {
    let mut b: [u8; 16] = rand::thread_rng().gen();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// generateName's suffix: five characters from Kubernetes' alphabet (no vowels, no look-alikes).
pub fn name_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::thread_rng();
    (0..5)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Resources whose `metadata.generation` tracks spec changes.
pub fn has_generation(r: &Resource) -> bool {
    matches!(
        (r.group, r.plural),
        (
            "apps",
            "deployments" | "replicasets" | "statefulsets" | "daemonsets"
        ) | ("batch", "jobs" | "cronjobs")
            | ("policy", "poddisruptionbudgets")
            | ("", "pods" | "replicationcontrollers")
            // Generation 1 from create on; a PriorityClass has no spec, so it stays 1.
            | ("scheduling.k8s.io", "priorityclasses")
    )
}

/// The object's metadata map, created if missing.
pub fn meta_mut(obj: &mut Value) -> ApiResult<&mut Map<String, Value>> {
    let o = obj
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("the object provided is not a JSON object"))?;
    let m = o.entry("metadata").or_insert_with(|| json!({}));
    if m.is_null() {
        *m = json!({});
    }
    m.as_object_mut().ok_or_else(|| {
        ApiError::bad_request("metadata: the object provided has a non-object metadata field")
    })
}

pub fn str_at<'a>(obj: &'a Value, ptr: &str) -> Option<&'a str> {
    obj.pointer(ptr)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Checks (and fills in when missing) `apiVersion` and `kind` against the URL's resource.
pub fn check_type(r: &Resource, obj: &mut Value) -> ApiResult<()> {
    let want_av = r.api_version();
    let o = obj
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("the object provided is not a JSON object"))?;
    let av = o
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let kind = o
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if !kind.is_empty() && kind != r.kind {
        let version = av.rsplit('/').next().unwrap_or("");
        return Err(ApiError::bad_request(format!(
            "{kind} in version {version:?} cannot be handled as a {}: the kind in the body does not match the URL's resource {}",
            r.kind,
            r.qualified()
        )));
    }
    if !av.is_empty() && av != want_av {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({av}) does not match the expected API version ({want_av})"
        )));
    }
    o.insert("apiVersion".into(), json!(want_av));
    o.insert("kind".into(), json!(r.kind));
    Ok(())
}

/// The namespace rules of create and update: the body's namespace defaults to the URL's and
/// must match it; cluster-scoped objects carry none.
pub fn check_namespace(r: &Resource, url_ns: Option<&str>, obj: &mut Value) -> ApiResult<()> {
    let meta = meta_mut(obj)?;
    if !r.namespaced {
        meta.remove("namespace");
        return Ok(());
    }
    let Some(url_ns) = url_ns else {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    };
    match meta.get("namespace").and_then(Value::as_str) {
        None | Some("") => {
            meta.insert("namespace".into(), json!(url_ns));
            Ok(())
        }
        Some(ns) if ns == url_ns => Ok(()),
        Some(_) => Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        )),
    }
}

/// BeforeCreate: name from generateName, fresh uid and creationTimestamp, generation 1, no
/// deletion fields, no resourceVersion.
pub fn prepare_create(r: &Resource, obj: &mut Value, now: jiff::Timestamp) -> ApiResult<()> {
    let gen = has_generation(r);
    let meta = meta_mut(obj)?;
    if meta
        .get("resourceVersion")
        .and_then(Value::as_str)
        .is_some_and(|v| !v.is_empty())
    {
        return Err(ApiError::internal(
            "resourceVersion should not be set on objects to be created",
        ));
    }
    meta.remove("resourceVersion");
    let name = meta.get("name").and_then(Value::as_str).unwrap_or("");
    if name.is_empty() {
        if let Some(g) = meta
            .get("generateName")
            .and_then(Value::as_str)
            .filter(|g| !g.is_empty())
        {
            let n = format!("{g}{}", name_suffix());
            meta.insert("name".into(), json!(n));
        }
    }
    meta.insert("uid".into(), json!(new_uid()));
    meta.insert("creationTimestamp".into(), json!(timestamp(now)));
    meta.remove("deletionTimestamp");
    meta.remove("deletionGracePeriodSeconds");
    meta.remove("selfLink");
    if gen {
        meta.insert("generation".into(), json!(1));
    } else {
        meta.remove("generation");
    }
    Ok(())
}

/// BeforeUpdate: the name must match the URL; uid, creationTimestamp, deletion fields and the
/// namespace come from the stored object; generation moves on with the spec.
pub fn prepare_update(r: &Resource, name: &str, new: &mut Value, old: &Value) -> ApiResult<()> {
    let body_name = str_at(new, "/metadata/name").map(String::from);
    match body_name {
        Some(n) if n != name => {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )))
        }
        _ => {}
    }
    let spec_changed = new.get("spec") != old.get("spec");
    let gen = has_generation(r);
    let old_meta = old.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let meta = meta_mut(new)?;
    meta.insert("name".into(), json!(name));
    for k in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "namespace",
    ] {
        match old_meta.get(k) {
            Some(v) => meta.insert(k.into(), v.clone()),
            None => meta.remove(k),
        };
    }
    meta.remove("selfLink");
    if gen {
        let g = old_meta
            .get("generation")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        meta.insert(
            "generation".into(),
            json!(if spec_changed { g + 1 } else { g }),
        );
    } else {
        meta.remove("generation");
    }
    Ok(())
}

/// The resourceVersion precondition a body carries, if any.
pub fn body_resource_version(obj: &Value) -> ApiResult<Option<i64>> {
    str_at(obj, "/metadata/resourceVersion")
        .map(parse_resource_version)
        .transpose()
}

/// A resourceVersion given by a client (in a body, a query or a precondition).
pub fn parse_resource_version(v: &str) -> ApiResult<i64> {
    v.parse::<i64>()
        .map_err(|_| ApiError::bad_request(format!("invalid resource version: {v:?}")))
}
