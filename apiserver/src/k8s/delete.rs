//! DELETE of one object and of a collection: DeleteOptions preconditions (uid,
//! resourceVersion), propagationPolicy / orphanDependents, gracePeriodSeconds, dryRun;
//! finalizers keep an object (with its deletionTimestamp set) until they are gone; a bound pod
//! is deleted gracefully. Foreground and Orphan propagation are the `foregroundDeletion` and
//! `orphan` finalizers, added here and honoured by the garbage collector (a controller), as
//! kube-apiserver does; Background deletes the owner now and leaves its dependents to it.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::http::{json_response, parse_json, Query};
use super::objects::{key, prefix, prefix_end, Extra, Freshness, Stored};
use super::resources::Resource;
use super::route::Call;
use super::selector::{FieldSelector, LabelSelector};
use super::status::{ApiError, ApiResult};
use super::{admission, fields, meta, priority, services, KubeApi};

/// DeleteOptions as a request gives them (body and query parameters).
#[derive(Debug, Default, Clone)]
pub struct DeleteOptions {
    pub uid: Option<String>,
    pub resource_version: Option<i64>,
    pub grace_period: Option<i64>,
    pub dry_run: bool,
    /// `propagationPolicy`: Orphan, Background or Foreground.
    pub propagation: Option<String>,
    /// The deprecated `orphanDependents`.
    pub orphan_dependents: Option<bool>,
}

/// The finalizers of the garbage collector's two propagation modes.
const ORPHAN: &str = "orphan";
const FOREGROUND: &str = "foregroundDeletion";

impl DeleteOptions {
    pub fn parse(body: &[u8], q: &Query) -> ApiResult<DeleteOptions> {
        let v: Value = if body.iter().all(u8::is_ascii_whitespace) {
            json!({})
        } else {
            parse_json(body)?
        };
        if !v.is_object() {
            return Err(ApiError::bad_request(
                "the DeleteOptions body must be a JSON object",
            ));
        }
        if let Some(k) = v.get("kind").and_then(Value::as_str) {
            if k != "DeleteOptions" {
                return Err(ApiError::bad_request(format!(
                    "the body is a {k}, not DeleteOptions"
                )));
            }
        }
        let rv = match v
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
        {
            Some(s) if !s.is_empty() => Some(meta::parse_resource_version(s)?),
            _ => None,
        };
        let dry_run = match v.get("dryRun").and_then(Value::as_array) {
            Some(a) => a.iter().any(|x| x.as_str() == Some("All")) || q.dry_run()?,
            None => q.dry_run()?,
        };
        let propagation = v
            .get("propagationPolicy")
            .and_then(Value::as_str)
            .map(String::from)
            .or_else(|| q.get("propagationPolicy").map(String::from));
        let orphan_dependents = match v.get("orphanDependents").and_then(Value::as_bool) {
            Some(b) => Some(b),
            None => match q.get("orphanDependents") {
                Some(s) => Some(s.parse::<bool>().map_err(|_| {
                    ApiError::bad_request(format!(
                        "invalid value for orphanDependents: {s:?} is not a boolean"
                    ))
                })?),
                None => None,
            },
        };
        if let (Some(_), Some(p)) = (orphan_dependents, &propagation) {
            return Err(ApiError::new(
                422,
                "Invalid",
                format!("DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Invalid value: {p:?}: orphanDependents and deletionPropagation cannot be both set"),
            ));
        }
        if let Some(p) = &propagation {
            if !matches!(p.as_str(), "Orphan" | "Background" | "Foreground") {
                return Err(ApiError::new(
                    422,
                    "Invalid",
                    format!("DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: {p:?}: supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""),
                ));
            }
        }
        let grace_period = match v.get("gracePeriodSeconds").and_then(Value::as_i64) {
            Some(g) => Some(g),
            None => q.i64("gracePeriodSeconds")?,
        };
        Ok(DeleteOptions {
            uid: v
                .pointer("/preconditions/uid")
                .and_then(Value::as_str)
                .map(String::from),
            resource_version: rv,
            grace_period,
            dry_run,
            propagation,
            orphan_dependents,
        })
    }

    /// The finalizers `obj` should carry once deleted with these options (kube-apiserver's
    /// deletionFinalizersForGarbageCollection): the explicit choice, else the one its
    /// finalizers already make, else the resource's default (Jobs orphan their pods).
    fn finalizers_for(&self, r: &Resource, obj: &Value) -> Vec<String> {
        let current: Vec<String> = obj
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        let has = |f: &str| current.iter().any(|c| c == f);
        let orphan = match (self.orphan_dependents, self.propagation.as_deref()) {
            (Some(o), _) => o,
            (None, Some(p)) => p == "Orphan",
            (None, None) if has(ORPHAN) => true,
            (None, None) if has(FOREGROUND) => false,
            (None, None) => r.orphans_by_default(),
        };
        let foreground = self.orphan_dependents.is_none()
            && (self.propagation.as_deref() == Some("Foreground")
                || (self.propagation.is_none()
                    || self.propagation.as_deref() == Some("Background"))
                    && has(FOREGROUND));
        let mut out: Vec<String> = current
            .into_iter()
            .filter(|f| f != ORPHAN && f != FOREGROUND)
            .collect();
        if orphan {
            out.push(ORPHAN.into());
        }
        if foreground {
            out.push(FOREGROUND.into());
        }
        out
    }
}

/// What deleting one object did.
enum Outcome {
    /// Gone; the object as it was.
    Deleted(Value),
    /// Kept until its finalizers or its grace period are done; the object as it is now.
    Pending(Value),
}

/// Deletes a stored object at `cur`'s revision, releasing what it held; `None` when it
/// changed in between.
pub async fn remove(
    api: &KubeApi,
    r: &Resource,
    k: &str,
    cur: &Stored,
    last: &Value,
) -> ApiResult<Option<i64>> {
    let mut extra = Extra::default();
    if r.group.is_empty() && r.plural == "services" {
        extra.releases = services::held(last);
    }
    api.store().delete(k, cur.mod_revision, &extra).await
}

async fn delete_one(
    api: &KubeApi,
    r: &'static Resource,
    ns: Option<&str>,
    name: &str,
    opts: &DeleteOptions,
) -> ApiResult<Outcome> {
    admission::check_delete(r, name)?;
    let k = key(r, ns, name);
    for _ in 0..16 {
        let Some(cur) = api.store().get(&k, Freshness::Latest).await? else {
            return Err(ApiError::not_found(r, name));
        };
        let uid = meta::str_at(&cur.object, "/metadata/uid")
            .unwrap_or("")
            .to_string();
        if let Some(want) = &opts.uid {
            if *want != uid {
                return Err(ApiError::conflict(
                    r,
                    name,
                    &format!("Precondition failed: UID in precondition: {want}, UID in object meta: {uid}"),
                ));
            }
        }
        if let Some(want) = opts.resource_version {
            if want != cur.mod_revision {
                return Err(ApiError::conflict(
                    r,
                    name,
                    &format!(
                        "Precondition failed: ResourceVersion in precondition: {want}, ResourceVersion in meta: {}",
                        cur.mod_revision
                    ),
                ));
            }
        }
        let current: Vec<Value> = cur
            .object
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let wanted: Vec<Value> = opts
            .finalizers_for(r, &cur.object)
            .into_iter()
            .map(Value::from)
            .collect();
        let finalizers_changed = wanted != current;
        let finalizers = !wanted.is_empty();
        let is_namespace = r.group.is_empty() && r.plural == "namespaces";
        let terminating = cur.object.pointer("/metadata/deletionTimestamp").is_some();
        // A namespace is emptied by the namespace controller before it can go (its
        // `kubernetes` finalizer in spec.finalizers); a second delete meanwhile is refused as
        // kube-apiserver refuses it.
        let emptying = cur
            .object
            .pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty());
        if is_namespace && terminating && emptying {
            return Err(ApiError::conflict(
                r,
                name,
                "The system is ensuring all content is removed from this namespace.  Upon completion, this namespace will automatically be purged by the system.",
            ));
        }
        let namespace_delete = is_namespace && !terminating;
        let graceful = r.group.is_empty()
            && r.plural == "pods"
            && meta::str_at(&cur.object, "/spec/nodeName").is_some()
            && opts.grace_period != Some(0)
            && cur
                .object
                .pointer("/status/phase")
                .and_then(Value::as_str)
                .is_none_or(|p| p != "Succeeded" && p != "Failed");
        if finalizers || namespace_delete || graceful {
            let marked = if terminating {
                // A second delete may only shorten a pod's grace period (kube-apiserver's
                // BeforeDelete): the deadline moves back by the difference.
                match graceful
                    .then(|| shortened(&cur.object, opts.grace_period))
                    .flatten()
                {
                    Some(marked) => marked,
                    // Deleted again with another propagation: its finalizers change.
                    None if finalizers_changed => cur.object.clone(),
                    None => return Ok(Outcome::Pending(api.present(r, cur.object))),
                }
            } else {
                let mut marked = cur.object.clone();
                let grace = if graceful {
                    opts.grace_period
                        .or_else(|| {
                            cur.object
                                .pointer("/spec/terminationGracePeriodSeconds")
                                .and_then(Value::as_i64)
                        })
                        .unwrap_or(30)
                        .max(1)
                } else {
                    0
                };
                let when = api.now() + jiff::SignedDuration::from_secs(grace);
                if let Some(m) = marked.get_mut("metadata").and_then(Value::as_object_mut) {
                    m.insert("deletionTimestamp".into(), json!(meta::timestamp(when)));
                    m.insert("deletionGracePeriodSeconds".into(), json!(grace));
                }
                if namespace_delete {
                    marked["status"] = json!({"phase": "Terminating"});
                }
                marked
            };
            let mut marked = marked;
            if finalizers_changed {
                if let Some(m) = marked.get_mut("metadata").and_then(Value::as_object_mut) {
                    m.insert("finalizers".into(), Value::Array(wanted.clone()));
                }
            }
            if opts.dry_run {
                return Ok(Outcome::Pending(api.present(r, marked)));
            }
            match api
                .store()
                .update(&k, cur.mod_revision, marked, &Extra::default())
                .await?
            {
                Some(s) => return Ok(Outcome::Pending(api.present(r, s.object))),
                None => continue,
            }
        }
        if opts.dry_run {
            return Ok(Outcome::Deleted(api.present(r, cur.object)));
        }
        if remove(api, r, &k, &cur, &cur.object).await?.is_some() {
            return Ok(Outcome::Deleted(api.present(r, cur.object)));
        }
    }
    Err(ApiError::modified(r, name))
}

/// `obj` (being deleted gracefully) with its deadline moved to `grace` seconds after the
/// deletion began, when that is shorter than the grace period it has; `None` otherwise.
fn shortened(obj: &Value, grace: Option<i64>) -> Option<Value> {
    let grace = grace?.max(1);
    let old = obj
        .pointer("/metadata/deletionGracePeriodSeconds")
        .and_then(Value::as_i64)?;
    if grace >= old {
        return None;
    }
    let at: jiff::Timestamp = meta::str_at(obj, "/metadata/deletionTimestamp")?
        .parse()
        .ok()?;
    let when = at - jiff::SignedDuration::from_secs(old - grace);
    let mut out = obj.clone();
    let m = out.get_mut("metadata").and_then(Value::as_object_mut)?;
    m.insert("deletionTimestamp".into(), json!(meta::timestamp(when)));
    m.insert("deletionGracePeriodSeconds".into(), json!(grace));
    Some(out)
}

/// The answer to a finished delete: the object as last stored for the resources whose
/// registry returns it, a Success Status naming it for the rest.
fn deleted_answer(r: &Resource, obj: Value) -> Value {
    if r.returns_deleted_object() {
        return obj;
    }
    let mut details = json!({
        "name": meta::str_at(&obj, "/metadata/name").unwrap_or(""),
        "kind": r.plural,
        "uid": meta::str_at(&obj, "/metadata/uid").unwrap_or(""),
    });
    if !r.group.is_empty() {
        details["group"] = json!(r.group);
    }
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details})
}

/// DELETE of one object.
pub async fn delete(api: &KubeApi, call: Call, body: &[u8]) -> ApiResult<Response> {
    let opts = DeleteOptions::parse(body, &call.query)?;
    let name = call.name()?.to_string();
    let r = call.r();
    // Only here: a collection delete bypasses the PriorityClass registry's refusal upstream too.
    priority::check_delete(r, &name)?;
    match delete_one(api, r, call.ns(), &name, &opts).await? {
        Outcome::Deleted(obj) => Ok(json_response(StatusCode::OK, &deleted_answer(r, obj), &[])),
        Outcome::Pending(obj) => Ok(json_response(StatusCode::OK, &obj, &[])),
    }
}

/// DELETE of a collection: every object matching the selectors.
pub async fn delete_collection(api: &KubeApi, call: Call, body: &[u8]) -> ApiResult<Response> {
    let r = call.r();
    if !r.verbs.contains(&"deletecollection") {
        return Err(ApiError::method_not_allowed("DELETE"));
    }
    let opts = DeleteOptions::parse(body, &call.query)?;
    let labels = LabelSelector::parse(call.query.get("labelSelector").unwrap_or(""))
        .map_err(ApiError::bad_request)?;
    let fsel = FieldSelector::parse(call.query.get("fieldSelector").unwrap_or(""))
        .map_err(ApiError::bad_request)?;
    fields::check(r, &fsel).map_err(ApiError::bad_request)?;
    let p = prefix(r, call.ns());
    let end = prefix_end(p.as_bytes());
    let page = api
        .store()
        .page(p.as_bytes(), &end, 0, Freshness::Latest)
        .await?;
    let mut items = Vec::new();
    for kv in &page.kvs {
        let obj = super::objects::decode(kv)?;
        if !labels.matches_object(&obj) || !fields::matches(r, &fsel, &obj) {
            continue;
        }
        let name = meta::str_at(&obj, "/metadata/name")
            .unwrap_or("")
            .to_string();
        let ns = meta::str_at(&obj, "/metadata/namespace").map(String::from);
        match delete_one(api, r, ns.as_deref(), &name, &opts).await {
            Ok(Outcome::Deleted(o)) | Ok(Outcome::Pending(o)) => items.push(o),
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    let list = json!({
        "kind": format!("{}List", r.kind),
        "apiVersion": r.api_version(),
        "metadata": {"resourceVersion": page.revision.to_string()},
        "items": items,
    });
    Ok(json_response(StatusCode::OK, &list, &[]))
}
