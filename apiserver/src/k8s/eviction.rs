//! `POST .../pods/<name>/eviction` (policy/v1 or policy/v1beta1 Eviction): a pod delete that
//! respects PodDisruptionBudgets, as kube-apiserver's EvictionREST. A pod that is finished,
//! pending or already terminating is deleted without looking at budgets; otherwise the one
//! budget matching it (more than one is a 500) must allow a disruption: its
//! `status.disruptionsAllowed` is decremented and the pod recorded in `status.disruptedPods`
//! with a compare-and-swap that re-checks the fresh budget, or the eviction is refused with
//! 429 TooManyRequests. An unready pod needs no budget when the budget is healthy anyway (or
//! its `unhealthyPodEvictionPolicy` is AlwaysAllow). The pod gets the `DisruptionTarget`
//! condition, then goes through the ordinary DELETE (finalizers, grace period, the
//! Eviction's deleteOptions).

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::http::{decode_body, json_response, Query};
use super::managed_fields::Tracking;
use super::objects::{key, prefix, prefix_end, Freshness};
use super::resources::{self, Resource};
use super::route::{Call, Target};
use super::selector::LabelSelector;
use super::status::{ApiError, ApiResult};
use super::write::guaranteed_update;
use super::{meta, KubeApi};

/// The most pods a budget may list as disrupted before evictions are refused.
const MAX_DISRUPTED_PODS: usize = 2000;
/// The field manager budget status writes are recorded under (kube-apiserver's loopback).
const MANAGER: &str = "kube-apiserver";
const VIOLATES: &str = "Cannot evict pod as it would violate the pod's disruption budget.";

fn served(group: &str, version: &str, plural: &str) -> ApiResult<&'static Resource> {
    resources::find(group, version, plural)
        .ok_or_else(|| ApiError::internal(format!("{plural} are not served")))
}

/// 429 with the budget's cause, as upstream's NewTooManyRequests.
fn too_many_requests(cause: String, retry_after: u64) -> ApiError {
    let mut e = ApiError::new(429, "TooManyRequests", VIOLATES)
        .with_details(json!({"causes": [{"reason": "DisruptionBudget", "message": cause}]}));
    if retry_after > 0 {
        e.retry_after = Some(retry_after);
    }
    e
}

/// The budget has not yet been looked at since its spec changed (or the pod's delete lost a
/// race with it).
fn still_processing(pdb: &str) -> ApiError {
    too_many_requests(
        format!("The disruption budget {pdb} is still being processed by the server."),
        10,
    )
}

fn success() -> Response {
    json_response(
        StatusCode::CREATED,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
        &[],
    )
}

fn phase(pod: &Value) -> &str {
    meta::str_at(pod, "/status/phase").unwrap_or("")
}

fn terminating(pod: &Value) -> bool {
    pod.pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
}

fn ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

fn int_at(v: &Value, ptr: &str) -> i64 {
    v.pointer(ptr).and_then(Value::as_i64).unwrap_or(0)
}

/// The Eviction's deleteOptions with the request's dryRun folded in (upstream's
/// propagateDryRun).
fn delete_options(eviction: &Value, query: &Query) -> ApiResult<Value> {
    let mut opts = eviction
        .get("deleteOptions")
        .filter(|o| o.is_object())
        .cloned()
        .unwrap_or_else(|| json!({}));
    let from_query: Vec<Value> = query
        .get("dryRun")
        .map(|d| vec![json!(d)])
        .unwrap_or_default();
    let in_body: Vec<Value> = opts
        .get("dryRun")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if in_body.is_empty() {
        if !from_query.is_empty() {
            opts["dryRun"] = json!(from_query);
        }
    } else if !from_query.is_empty() && from_query != in_body {
        return Err(ApiError::unclassified(format!(
            "Non-matching dry-run options in request and content: {} and {}",
            go_list(&from_query),
            go_list(&in_body)
        )));
    }
    Ok(opts)
}

/// `[All]`, as Go prints a string slice.
fn go_list(v: &[Value]) -> String {
    let items: Vec<&str> = v.iter().filter_map(Value::as_str).collect();
    format!("[{}]", items.join(" "))
}

fn dry_run(opts: &Value) -> bool {
    opts.get("dryRun")
        .and_then(Value::as_array)
        .is_some_and(|d| !d.is_empty())
}

fn rv_precondition(opts: &Value) -> Option<String> {
    meta::str_at(opts, "/preconditions/resourceVersion").map(String::from)
}

fn with_rv_precondition(opts: &Value, rv: &str) -> Value {
    let mut out = opts.clone();
    if !out.get("preconditions").is_some_and(Value::is_object) {
        out["preconditions"] = json!({});
    }
    out["preconditions"]["resourceVersion"] = json!(rv);
    out
}

/// The budgets of the pod's namespace whose (non-empty) selector matches it.
async fn budgets_of(api: &KubeApi, ns: Option<&str>, pod: &Value) -> ApiResult<Vec<Value>> {
    let pdbs = served("policy", "v1", "poddisruptionbudgets")?;
    let from = prefix(pdbs, ns);
    let end = prefix_end(from.as_bytes());
    let page = api
        .store()
        .page(from.as_bytes(), &end, 0, Freshness::Latest)
        .await?;
    let mut out = Vec::new();
    for kv in &page.kvs {
        let pdb = super::objects::decode(kv)?;
        let selector = pdb
            .pointer("/spec/selector")
            .filter(|s| !s.is_null())
            .and_then(LabelSelector::from_structured);
        // A budget with no or an empty selector matches nothing here (upstream's rule).
        if selector.is_some_and(|s| !s.is_empty() && s.matches_object(pod)) {
            out.push(pdb);
        }
    }
    Ok(out)
}

/// The budget with one more disruption spent on `pod`, or the refusal (upstream's
/// checkAndDecrement).
fn decrement(pdb: &Value, pod: &str, dry: bool, now: &str) -> ApiResult<Value> {
    let name = meta::str_at(pdb, "/metadata/name").unwrap_or("");
    let pdbs = served("policy", "v1", "poddisruptionbudgets")?;
    if int_at(pdb, "/status/observedGeneration") < int_at(pdb, "/metadata/generation") {
        return Err(still_processing(name));
    }
    let allowed = int_at(pdb, "/status/disruptionsAllowed");
    let forbidden = |why: &str| {
        ApiError::new(
            403,
            "Forbidden",
            format!(
                "{} {name:?} is forbidden: {why}",
                "poddisruptionbudget.policy"
            ),
        )
        .with_details(json!({"name": name, "group": pdbs.group, "kind": "poddisruptionbudget"}))
    };
    if allowed < 0 {
        return Err(forbidden("pdb disruptions allowed is negative"));
    }
    let disrupted = pdb
        .pointer("/status/disruptedPods")
        .and_then(Value::as_object)
        .map_or(0, |m| m.len());
    if disrupted > MAX_DISRUPTED_PODS {
        return Err(forbidden(
            "DisruptedPods map too big - too many evictions not confirmed by PDB controller",
        ));
    }
    if allowed == 0 {
        return Err(too_many_requests(
            format!(
                "The disruption budget {name} needs {} healthy pods and has {} currently",
                int_at(pdb, "/status/desiredHealthy"),
                int_at(pdb, "/status/currentHealthy")
            ),
            0,
        ));
    }
    let mut out = pdb.clone();
    out["status"]["disruptionsAllowed"] = json!(allowed - 1);
    if allowed - 1 == 0 {
        // The condition says so at once (upstream's UpdateDisruptionAllowedCondition).
        let generation = out.pointer("/status/observedGeneration").cloned();
        let mut conditions = out
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let fresh = json!({
            "type": "DisruptionAllowed",
            "status": "False",
            "reason": "InsufficientPods",
            "message": "",
            "lastTransitionTime": now,
            "observedGeneration": generation,
        });
        match conditions
            .iter_mut()
            .find(|c| c["type"] == "DisruptionAllowed")
        {
            Some(c) => {
                if c["status"] != "False" {
                    c["status"] = json!("False");
                    c["lastTransitionTime"] = json!(now);
                }
                c["reason"] = json!("InsufficientPods");
                c["message"] = json!("");
                c["observedGeneration"] = fresh["observedGeneration"].clone();
            }
            None => conditions.push(fresh),
        }
        out["status"]["conditions"] = json!(conditions);
    }
    if !dry {
        if !out["status"]["disruptedPods"].is_object() {
            out["status"]["disruptedPods"] = json!({});
        }
        out["status"]["disruptedPods"][pod] = json!(now);
    }
    Ok(out)
}

/// `POST .../pods/<name>/eviction`.
pub async fn evict(api: &KubeApi, call: Call, body: &[u8]) -> ApiResult<Response> {
    let pods = call.r();
    let name = call.name()?.to_string();
    let eviction = decode_body(&call.headers, body)?;
    if let Some(kind) = meta::str_at(&eviction, "/kind").filter(|k| !k.is_empty()) {
        let version = meta::str_at(&eviction, "/apiVersion").unwrap_or("");
        if kind != "Eviction" || !matches!(version, "policy/v1" | "policy/v1beta1" | "") {
            return Err(ApiError::bad_request(format!(
                "not a Eviction object: {version}, Kind={kind}"
            )));
        }
    }
    if meta::str_at(&eviction, "/metadata/name").unwrap_or("") != name {
        return Err(ApiError::bad_request(
            "name in URL does not match name in Eviction object",
        ));
    }
    let opts = delete_options(&eviction, &call.query)?;
    let dry = dry_run(&opts);
    let ns = call.ns().map(String::from);
    let Some(found) = api
        .store()
        .get(&key(pods, ns.as_deref(), &name), Freshness::Latest)
        .await?
    else {
        return Err(ApiError::not_found(pods, &name));
    };
    let pod = found.object;
    // A pod that is finished, not yet running or already going has disrupted nothing more.
    if matches!(phase(&pod), "Succeeded" | "Failed" | "Pending") || terminating(&pod) {
        let mut del = opts.clone();
        // A pending pod is deleted only as it was read: it may not start meanwhile.
        if phase(&pod) == "Pending" && !terminating(&pod) && rv_precondition(&opts).is_none() {
            del = with_rv_precondition(&opts, &found.mod_revision.to_string());
        }
        delete_pod(api, &call, pods, &name, &del).await?;
        return Ok(success());
    }
    let budgets = budgets_of(api, ns.as_deref(), &pod).await?;
    if budgets.len() > 1 {
        return Err(ApiError::unclassified(
            "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
        ));
    }
    let mut guarded_by_version = None;
    if let Some(pdb) = budgets.first() {
        let pdb_name = meta::str_at(pdb, "/metadata/name")
            .unwrap_or("")
            .to_string();
        let always_allow =
            meta::str_at(pdb, "/spec/unhealthyPodEvictionPolicy") == Some("AlwaysAllow");
        let desired = int_at(pdb, "/status/desiredHealthy");
        let healthy_anyway = int_at(pdb, "/status/currentHealthy") >= desired && desired > 0;
        if !ready(&pod) && (always_allow || healthy_anyway) {
            // An unready pod counts for nothing: it may go, if it is still the pod read.
            guarded_by_version = Some(pdb_name);
        } else {
            let pdbs = served("policy", "v1", "poddisruptionbudgets")?;
            let now = meta::timestamp(api.now());
            let tracking = Tracking::Update {
                manager: MANAGER,
                subresource: Some("status"),
            };
            guaranteed_update(
                api,
                pdbs,
                ns.as_deref(),
                &pdb_name,
                Some("status"),
                None,
                dry,
                &tracking,
                |cur| decrement(cur, &name, dry, &now),
            )
            .await?;
        }
    }
    let del = match &guarded_by_version {
        Some(_) if rv_precondition(&opts).is_none() => {
            with_rv_precondition(&opts, &found.mod_revision.to_string())
        }
        _ => opts.clone(),
    };
    match delete_pod(api, &call, pods, &name, &del).await {
        Ok(()) => Ok(success()),
        Err(e) if e.code == 409 && rv_precondition(&opts).is_none() => match guarded_by_version {
            Some(pdb) => Err(still_processing(&pdb)),
            None => Err(e),
        },
        Err(e) => Err(e),
    }
}

/// Marks the pod a `DisruptionTarget` (unless a dry run), then deletes it through the
/// ordinary DELETE with `opts` (upstream's addConditionAndDeletePod).
async fn delete_pod(
    api: &KubeApi,
    call: &Call,
    pods: &'static Resource,
    name: &str,
    opts: &Value,
) -> ApiResult<()> {
    let mut opts = opts.clone();
    if !dry_run(&opts) {
        let want_uid = meta::str_at(&opts, "/preconditions/uid").map(String::from);
        let want_rv = rv_precondition(&opts);
        let now = meta::timestamp(api.now());
        let marked = guaranteed_update(
            api,
            pods,
            call.ns(),
            name,
            Some("status"),
            None,
            false,
            &Tracking::Untracked,
            |cur| {
                let uid = meta::str_at(cur, "/metadata/uid").unwrap_or("");
                let rv = meta::str_at(cur, "/metadata/resourceVersion").unwrap_or("");
                if want_uid.as_deref().is_some_and(|w| !w.is_empty() && w != uid) {
                    return Err(ApiError::conflict(pods, name, &format!("the UID in the precondition ({}) does not match the UID in record ({uid}). The object might have been deleted and then recreated", want_uid.as_deref().unwrap_or(""))));
                }
                if want_rv.as_deref().is_some_and(|w| !w.is_empty() && w != rv) {
                    return Err(ApiError::conflict(pods, name, &format!("the ResourceVersion in the precondition ({}) does not match the ResourceVersion in record ({rv}). The object might have been modified", want_rv.as_deref().unwrap_or(""))));
                }
                Ok(with_disruption_target(cur, &now))
            },
        )
        .await?;
        // The condition is this eviction's own change: a version precondition moves past it.
        if want_rv.is_some() {
            if let Some(rv) = meta::str_at(&marked, "/metadata/resourceVersion") {
                opts = with_rv_precondition(&opts, rv);
            }
        }
    }
    let target = Target {
        resource: pods,
        namespace: call.ns().map(String::from),
        name: Some(name.to_string()),
        subresource: None,
        watch_prefix: false,
    };
    let delete = Call {
        target,
        query: Query::parse(None),
        headers: call.headers.clone(),
        path: String::new(),
        raw_query: String::new(),
        upgrade: None,
    };
    let body = serde_json::to_vec(&opts).map_err(|e| ApiError::internal(e.to_string()))?;
    super::delete::delete(api, delete, &body).await.map(|_| ())
}

/// The pod with `DisruptionTarget=True` (reason EvictionByEvictionAPI), its transition time
/// kept when it already was.
fn with_disruption_target(pod: &Value, now: &str) -> Value {
    let mut out = pod.clone();
    let mut conditions = out
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let since = conditions
        .iter()
        .find(|c| c["type"] == "DisruptionTarget" && c["status"] == "True")
        .and_then(|c| c.get("lastTransitionTime").cloned())
        .unwrap_or_else(|| json!(now));
    let cond = json!({
        "type": "DisruptionTarget",
        "status": "True",
        "lastProbeTime": null,
        "lastTransitionTime": since,
        "reason": "EvictionByEvictionAPI",
        "message": "Eviction API: evicting",
    });
    match conditions
        .iter_mut()
        .find(|c| c["type"] == "DisruptionTarget")
    {
        Some(c) => *c = cond,
        None => conditions.push(cond),
    }
    if !out["status"].is_object() {
        out["status"] = json!({});
    }
    out["status"]["conditions"] = json!(conditions);
    out
}
