//! The writing verbs: create (POST), update (PUT) and patch (PATCH: JSON patch, merge patch,
//! strategic merge patch and apply patch), for objects and their `/status`. Every write goes
//! decode → type check → metadata rules → defaults → admission → validation → one
//! compare-and-swap; `dryRun=All` stops before the last step.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::decode::{typed, FieldValidation};
use super::http::{content_type, decode_body, json_response, parse_json, parse_yaml};
use super::managed_fields::{self, Tracking};
use super::objects::{key, Extra, Freshness, Stored};
use super::resources::Resource;
use super::route::Call;
use super::status::{ApiError, ApiResult};
use super::{admission, meta, services, strategy, validation, KubeApi};

/// How many times a write re-reads and retries after losing a compare-and-swap race.
const MAX_RETRIES: usize = 16;

/// Resources whose PUT creates a missing object (kube-apiserver's AllowCreateOnUpdate).
fn create_on_update(r: &Resource) -> bool {
    matches!(
        (r.group, r.plural),
        ("", "endpoints")
            | ("", "events")
            | ("coordination.k8s.io", "leases")
            | ("events.k8s.io", "events")
    )
}

fn invalid(r: &Resource, obj: &Value, errors: &[validation::FieldError]) -> ApiError {
    let name = meta::str_at(obj, "/metadata/name").unwrap_or("");
    ApiError::invalid(r, name, errors)
}

/// A client's object checked against the URL's kind and decoded through its type (unknown
/// fields handled as `mode` says), in its stored form, with the warnings to send.
fn accept_typed(
    api: &KubeApi,
    r: &Resource,
    mut raw: Value,
    mode: FieldValidation,
) -> ApiResult<(Value, Vec<String>)> {
    meta::check_type(r, &mut raw)?;
    let (mut obj, warnings) = typed(r, &raw, mode)?;
    // The typed form fills a required selector the client left out with `{}`; kube-apiserver's
    // (a nil pointer) is reported as missing, not as empty.
    if r.group == "apps"
        && matches!(
            r.plural,
            "deployments" | "replicasets" | "statefulsets" | "daemonsets"
        )
        && raw.pointer("/spec/selector").is_none_or(Value::is_null)
    {
        if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
            spec.remove("selector");
        }
    }
    drop_empty_maps(r, &mut obj);
    Ok((api.accept(r, obj), warnings))
}

/// Empty maps that Go's `omitempty` leaves out of kube-apiserver's JSON (labels and annotations
/// emptied by a patch, a ConfigMap's or Secret's emptied data) are left out here too.
fn drop_empty_maps(r: &Resource, obj: &mut Value) {
    let empty = |v: Option<&Value>| v.and_then(Value::as_object).is_some_and(|m| m.is_empty());
    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in ["labels", "annotations"] {
            if empty(m.get(k)) {
                m.remove(k);
            }
        }
    }
    if r.group.is_empty() && matches!(r.plural, "configmaps" | "secrets") {
        if let Some(o) = obj.as_object_mut() {
            for k in ["data", "binaryData", "stringData"] {
                if empty(o.get(k)) {
                    o.remove(k);
                }
            }
        }
    }
}

/// POST: a new object.
pub async fn create(api: &KubeApi, call: Call, body: &[u8]) -> ApiResult<Response> {
    let r = call.r();
    let mode = FieldValidation::from_query(&call.query, "CreateOptions")?;
    let dry = call.query.dry_run()?;
    let raw = decode_body(&call.headers, body)?;
    let manager = field_manager(&call, "CreateOptions")?;
    let tracking = Tracking::Update {
        manager: &manager,
        subresource: None,
    };
    let (stored, warnings) = create_object(api, r, call.ns(), raw, mode, dry, &tracking).await?;
    Ok(json_response(
        StatusCode::CREATED,
        &api.present(r, stored),
        &warnings,
    ))
}

/// The field manager a request names (`fieldManager`) or its User-Agent implies.
pub fn field_manager(call: &Call, options_kind: &str) -> ApiResult<String> {
    let ua = call
        .headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    managed_fields::manager_name(call.query.get("fieldManager"), ua, options_kind)
}

/// The name an admission refusal of a new object gives it: the requested name, else its
/// generateName (admission runs before kube-apiserver generates names), else `Unknown`.
fn admission_name(obj: &Value) -> String {
    ["/metadata/name", "/metadata/generateName"]
        .iter()
        .find_map(|p| meta::str_at(obj, p).filter(|n| !n.is_empty()))
        .unwrap_or("Unknown")
        .to_string()
}

/// The create path shared by POST, create-on-update and create-on-apply.
pub async fn create_object(
    api: &KubeApi,
    r: &'static Resource,
    ns: Option<&str>,
    raw: Value,
    mode: FieldValidation,
    dry: bool,
    tracking: &Tracking<'_>,
) -> ApiResult<(Value, Vec<String>)> {
    let (mut obj, warnings) = accept_typed(api, r, raw, mode)?;
    meta::check_namespace(r, ns, &mut obj)?;
    let requested_name = admission_name(&obj);
    meta::prepare_create(r, &mut obj, api.now())?;
    let name = meta::str_at(&obj, "/metadata/name")
        .unwrap_or("")
        .to_string();
    admission::check_create(api, r, ns, &name).await?;
    super::default_storage_class::admit(api, r, &mut obj).await?;
    validation::apply_defaults(r.group, r.plural, &mut obj);
    let now = meta::timestamp(api.now());
    strategy::prepare_create(r, &mut obj, &now);
    managed_fields::track(
        &api.schemas().field_types,
        r,
        tracking,
        None,
        &mut obj,
        &now,
    )?;
    // Admission changes are made after field tracking: they belong to no manager.
    super::priority::admit_create(api, r, &requested_name, &mut obj).await?;
    super::default_tolerations::admit(r, &mut obj);
    let errors = validation::validate_create(r.group, r.plural, &obj);
    if !errors.is_empty() {
        return Err(invalid(r, &obj, &errors));
    }
    super::priority::validate_write(api, r, &name, &obj).await?;
    super::quota::admit_create(api, r, ns, &name, &obj, dry).await?;
    let k = key(r, ns, &name);
    let allocates = r.group.is_empty() && r.plural == "services";
    for _ in 0..MAX_RETRIES {
        // Only a service is tried again (with other addresses), so only it needs its copy.
        let mut attempt = if allocates {
            obj.clone()
        } else {
            std::mem::take(&mut obj)
        };
        let mut extra = Extra::default();
        if allocates {
            let (e, errs) = services::allocate(api.ranges(), &mut attempt, None)?;
            if !errs.is_empty() {
                return Err(invalid(r, &attempt, &errs));
            }
            extra = e;
        }
        if r.storage == "events" {
            extra.lease = api.event_lease().await?;
        }
        if dry {
            return Ok((attempt, warnings));
        }
        let kept = allocates.then(|| attempt.clone());
        match api.store().create(&k, attempt, &extra).await? {
            Some(s) => return Ok((s.object, warnings)),
            None => {
                if extra.claims.is_empty() || api.store().exists(&k).await? {
                    return Err(ApiError::already_exists(r, &name));
                }
                if let Some(attempt) = kept.filter(|_| services::requested_addresses(&obj)) {
                    return Err(invalid(r, &attempt, &[services::taken_error(&attempt)]));
                }
            }
        }
    }
    Err(ApiError::new(
        500,
        "InternalError",
        "Internal error occurred: failed to allocate a service address after several attempts",
    ))
}

/// PUT: replace an object (or its status).
pub async fn update(api: &KubeApi, call: Call, body: &[u8]) -> ApiResult<Response> {
    let r = call.r();
    let mode = FieldValidation::from_query(&call.query, "UpdateOptions")?;
    let dry = call.query.dry_run()?;
    let (obj, warnings) = accept_typed(api, r, decode_body(&call.headers, body)?, mode)?;
    if let Some(ns) = call.ns() {
        if meta::str_at(&obj, "/metadata/namespace").is_some_and(|n| n != ns) {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
    }
    let precondition = meta::body_resource_version(&obj)?;
    let name = call.name()?.to_string();
    let k = key(r, call.ns(), &name);
    let sub = call.target.subresource.clone();
    let manager = field_manager(&call, "UpdateOptions")?;
    let tracking = Tracking::Update {
        manager: &manager,
        subresource: sub.as_deref(),
    };
    if create_on_update(r) && sub.is_none() {
        let exists = api.store().get(&k, Freshness::Latest).await?.is_some();
        if !exists {
            let mut fresh = obj.clone();
            if let Some(m) = fresh.get_mut("metadata").and_then(Value::as_object_mut) {
                m.remove("resourceVersion");
                m.insert("name".into(), Value::String(name.clone()));
            }
            let (created, w) =
                create_object(api, r, call.ns(), fresh, mode, dry, &tracking).await?;
            let mut all = warnings;
            all.extend(w);
            return Ok(json_response(
                StatusCode::CREATED,
                &api.present(r, created),
                &all,
            ));
        }
    }
    let stored = guaranteed_update(
        api,
        r,
        call.ns(),
        &name,
        sub.as_deref(),
        precondition,
        dry,
        &tracking,
        |_cur| Ok(obj.clone()),
    )
    .await?;
    Ok(json_response(
        StatusCode::OK,
        &api.present(r, stored),
        &warnings,
    ))
}

/// Reads, changes and compare-and-swaps an object until the swap wins (or a precondition
/// fails). `mutate` gets the stored object and returns the new one as the client meant it;
/// metadata rules, status rules, defaults, field ownership and validation are applied here.
#[allow(clippy::too_many_arguments)]
pub async fn guaranteed_update(
    api: &KubeApi,
    r: &'static Resource,
    ns: Option<&str>,
    name: &str,
    sub: Option<&str>,
    precondition: Option<i64>,
    dry: bool,
    tracking: &Tracking<'_>,
    mutate: impl Fn(&Value) -> ApiResult<Value>,
) -> ApiResult<Value> {
    let k = key(r, ns, name);
    for _ in 0..MAX_RETRIES {
        let Some(cur) = api.store().get(&k, Freshness::Latest).await? else {
            return Err(ApiError::not_found(r, name));
        };
        if precondition.is_some_and(|p| p != cur.mod_revision) {
            return Err(ApiError::modified(r, name));
        }
        let mut new = mutate(&cur.object)?;
        strategy::prepare_update(r, sub, &mut new, &cur.object, &meta::timestamp(api.now()));
        meta::prepare_update(r, name, &mut new, &cur.object)?;
        validation::apply_defaults(r.group, r.plural, &mut new);
        super::priority::admit_update(r, sub, &mut new, &cur.object);
        super::objects::set_resource_version(&mut new, cur.mod_revision);
        // A service keeps its addresses when an update leaves them out (as `kubectl replace`
        // of a manifest does); new ones are allocated before validation sees the result.
        let mut extra = Extra::default();
        if r.group.is_empty() && r.plural == "services" {
            let (e, errs) = services::allocate(api.ranges(), &mut new, Some(&cur.object))?;
            if !errs.is_empty() {
                return Err(invalid(r, &new, &errs));
            }
            extra = e;
        }
        let now = meta::timestamp(api.now());
        managed_fields::track(
            &api.schemas().field_types,
            r,
            tracking,
            Some(&cur.object),
            &mut new,
            &now,
        )?;
        // A binding is the server's own write of what an update may not change (spec.nodeName),
        // straight to storage as kube-apiserver's BindingREST does: no update validation.
        let errors = if sub == Some("binding") {
            Vec::new()
        } else {
            validation::validate_update(r.group, r.plural, &new, &cur.object)
        };
        if !errors.is_empty() {
            return Err(invalid(r, &new, &errors));
        }
        super::priority::validate_write(api, r, name, &new).await?;
        if r.storage == "events" {
            // An updated event lives another TTL, as kube-apiserver gives it.
            extra.lease = api.event_lease().await?;
        }
        if new == cur.object {
            return Ok(cur.object);
        }
        if dry {
            return Ok(new);
        }
        if finalized(&new) {
            return match super::delete::remove(api, r, &k, &cur, &new).await? {
                Some(_) => Ok(new),
                None => continue,
            };
        }
        match api
            .store()
            .update(&k, cur.mod_revision, new, &extra)
            .await?
        {
            Some(Stored { object, .. }) => return Ok(object),
            None if precondition.is_some() => return Err(ApiError::modified(r, name)),
            None => continue,
        }
    }
    Err(ApiError::modified(r, name))
}

/// An object marked for deletion without a grace period whose last finalizer is gone: it is
/// deleted now (kube-apiserver's ShouldDeleteDuringUpdate; a pod terminating gracefully is
/// not, whatever updates it meanwhile, nor a namespace whose spec.finalizers still hold it).
fn finalized(obj: &Value) -> bool {
    let spec_held = obj
        .pointer("/spec/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|f| !f.is_empty());
    !spec_held
        && obj.pointer("/metadata/deletionTimestamp").is_some()
        && obj
            .pointer("/metadata/deletionGracePeriodSeconds")
            .and_then(Value::as_i64)
            .is_none_or(|g| g == 0)
        && obj
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty)
}

/// PATCH: the four patch types kubectl sends.
pub async fn patch(api: &KubeApi, call: Call, body: &[u8]) -> ApiResult<Response> {
    let r = call.r();
    let mode = FieldValidation::from_query(&call.query, "PatchOptions")?;
    let dry = call.query.dry_run()?;
    let ct = content_type(&call.headers);
    let name = call.name()?.to_string();
    let sub = call.target.subresource.clone();
    let kind = PatchKind::from_content_type(&ct)?;
    let patch_doc: Value = match kind {
        PatchKind::Apply => parse_yaml(body)?,
        _ => parse_json(body)?,
    };
    let force = match call.query.get("force") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "invalid value for force: {other:?} is not a boolean"
            )))
        }
    };
    if force && kind != PatchKind::Apply {
        return Err(ApiError::new(
            422,
            "Invalid",
            "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be specified for non-apply patch",
        ));
    }
    let manager = field_manager(&call, "PatchOptions")?;
    let applied = (kind == PatchKind::Apply).then(|| {
        managed_fields::applied_set(&api.schemas().field_types, r, sub.as_deref(), &patch_doc)
    });
    let tracking = match &applied {
        Some(set) => Tracking::Apply {
            manager: &manager,
            subresource: sub.as_deref(),
            set,
            force,
        },
        None => Tracking::Update {
            manager: &manager,
            subresource: sub.as_deref(),
        },
    };
    if kind == PatchKind::Apply {
        if patch_doc
            .pointer("/metadata/managedFields")
            .is_some_and(|m| !m.is_null())
        {
            return Err(ApiError::bad_request("metadata.managedFields must be nil"));
        }
        if call.query.get("fieldManager").is_none() {
            let e = validation::FieldError {
                kind: validation::ErrorType::Required,
                field: "fieldManager".into(),
                bad_value: None,
                go_value: None,
                detail: "is required for apply patch".into(),
            };
            return Err(ApiError::new(
                422,
                "Invalid",
                format!("PatchOptions.meta.k8s.io \"\" is invalid: {e}"),
            ));
        }
        // An apply configuration names its version (kube-apiserver's structured merge checks it
        // before anything else).
        let version = patch_doc
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        let expected = r.api_version();
        if version != expected {
            return Err(ApiError::bad_request(format!(
                "Incorrect version specified in apply patch. Specified patch version: {version}, expected: {expected}"
            )));
        }
        let k = key(r, call.ns(), &name);
        if sub.is_none() && api.store().get(&k, Freshness::Latest).await?.is_none() {
            let mut fresh = patch_doc.clone();
            if let Some(m) = fresh.get_mut("metadata").and_then(Value::as_object_mut) {
                m.insert("name".into(), Value::String(name.clone()));
            }
            let (created, warnings) =
                create_object(api, r, call.ns(), fresh, mode, dry, &tracking).await?;
            return Ok(json_response(
                StatusCode::CREATED,
                &api.present(r, created),
                &warnings,
            ));
        }
    }
    let precondition = meta::body_resource_version(&patch_doc)?;
    let warnings = std::sync::Mutex::new(Vec::new());
    let stored = guaranteed_update(
        api,
        r,
        call.ns(),
        &name,
        sub.as_deref(),
        precondition,
        dry,
        &tracking,
        |cur| {
            let current = api.present(r, cur.clone());
            let patched = apply_patch(api, r.definition, kind, &current, &patch_doc)?;
            let (mut obj, w) = accept_typed(api, r, patched, mode)?;
            managed_fields::prune(&api.schemas().field_types, r, &tracking, cur, &mut obj);
            if let Ok(mut all) = warnings.lock() {
                *all = w;
            }
            Ok(obj)
        },
    )
    .await?;
    let warnings = warnings.into_inner().unwrap_or_default();
    Ok(json_response(
        StatusCode::OK,
        &api.present(r, stored),
        &warnings,
    ))
}

/// The patch formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    Json,
    Merge,
    Strategic,
    Apply,
}

impl PatchKind {
    pub fn from_content_type(ct: &str) -> ApiResult<PatchKind> {
        match ct {
            "application/json-patch+json" => Ok(PatchKind::Json),
            "application/merge-patch+json" => Ok(PatchKind::Merge),
            "application/strategic-merge-patch+json" => Ok(PatchKind::Strategic),
            "application/apply-patch+yaml" => Ok(PatchKind::Apply),
            other => Err(ApiError::new(
                415,
                "UnsupportedMediaType",
                format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {other:?})"),
            )),
        }
    }
}

/// Applies one patch document to the current object.
pub fn apply_patch(
    api: &KubeApi,
    definition: &str,
    kind: PatchKind,
    current: &Value,
    doc: &Value,
) -> ApiResult<Value> {
    match kind {
        PatchKind::Json => {
            // kube-apiserver answers a failed operation with a generic 422 that does not say
            // which one (NewGenericServerResponse drops the patch library's message); an
            // operation it does not know only fails when applied, so it gets the same answer.
            let failed = || {
                let mut e = ApiError::new(
                    422,
                    "Invalid",
                    "the server rejected our request due to an error in our request",
                );
                e.details = Some(serde_json::json!({}));
                e
            };
            const OPS: &[&str] = &["add", "remove", "replace", "move", "copy", "test"];
            let unknown_op = doc.as_array().is_some_and(|ops| {
                ops.iter().any(|op| {
                    op.get("op")
                        .and_then(Value::as_str)
                        .is_some_and(|o| !OPS.contains(&o))
                })
            });
            if unknown_op {
                return Err(failed());
            }
            let ops: json_patch::Patch = serde_json::from_value(doc.clone())
                .map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}")))?;
            let mut target = current.clone();
            json_patch::patch(&mut target, &ops).map_err(|_| failed())?;
            Ok(target)
        }
        PatchKind::Merge => {
            if !doc.is_object() {
                return Err(ApiError::bad_request("a merge patch must be a JSON object"));
            }
            let mut target = current.clone();
            json_patch::merge(&mut target, doc);
            Ok(target)
        }
        PatchKind::Strategic | PatchKind::Apply => {
            if !doc.is_object() {
                return Err(ApiError::bad_request(
                    "a strategic merge patch must be a JSON object",
                ));
            }
            let merge = if kind == PatchKind::Apply {
                super::strategic_merge::apply_merge
            } else {
                super::strategic_merge::strategic_merge
            };
            merge(&api.schemas().index(), definition, current, doc)
                .map_err(|e| ApiError::bad_request(e.to_string()))
        }
    }
}
