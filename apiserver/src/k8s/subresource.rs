//! Subresources with their own shapes: `scale` (autoscaling/v1 Scale over a workload's
//! `spec.replicas`) and `binding` (assigning a pod to a node, once).

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::http::{content_type, decode_body, json_response, parse_json};
use super::managed_fields::Tracking;
use super::objects::{key, Freshness};
use super::resources;
use super::route::Call;
use super::selector::LabelSelector;
use super::status::{ApiError, ApiResult};
use super::write::{field_manager, guaranteed_update, PatchKind};
use super::{meta, KubeApi};

const SCALE_DEFINITION: &str = "io.k8s.api.autoscaling.v1.Scale";

/// The Scale view of a workload.
fn scale_of(obj: &Value) -> Value {
    let m = obj.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let selector = obj
        .pointer("/spec/selector")
        .and_then(LabelSelector::from_structured)
        .map(|s| s.to_string())
        .unwrap_or_default();
    let mut meta = json!({});
    for k in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if let Some(v) = m.get(k) {
            meta[k] = v.clone();
        }
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": meta,
        "spec": {"replicas": obj.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1)},
        "status": {
            "replicas": obj.pointer("/status/replicas").and_then(Value::as_i64).unwrap_or(0),
            "selector": selector,
        },
    })
}

/// `GET .../scale`.
pub async fn get_scale(api: &KubeApi, call: Call) -> ApiResult<Response> {
    let r = call.r();
    let name = call.name()?;
    let Some(found) = api
        .store()
        .get(&key(r, call.ns(), name), Freshness::Latest)
        .await?
    else {
        return Err(ApiError::not_found(r, name));
    };
    Ok(json_response(StatusCode::OK, &scale_of(&found.object), &[]))
}

/// `PUT` or `PATCH .../scale`: sets `spec.replicas`.
pub async fn update_scale(
    api: &KubeApi,
    call: Call,
    body: &[u8],
    patch: bool,
) -> ApiResult<Response> {
    let r = call.r();
    let name = call.name()?.to_string();
    let dry = call.query.dry_run()?;
    let (kind, doc) = if patch {
        let kind = PatchKind::from_content_type(&content_type(&call.headers))?;
        let doc = match kind {
            PatchKind::Apply => super::http::parse_yaml(body)?,
            _ => parse_json(body)?,
        };
        (Some(kind), doc)
    } else {
        (None, decode_body(&call.headers, body)?)
    };
    let precondition = match meta::str_at(&doc, "/metadata/resourceVersion") {
        Some(v) if kind.is_none() || kind == Some(PatchKind::Merge) => {
            Some(meta::parse_resource_version(v)?)
        }
        _ => None,
    };
    let options = if patch {
        "PatchOptions"
    } else {
        "UpdateOptions"
    };
    let manager = field_manager(&call, options)?;
    let tracking = Tracking::Update {
        manager: &manager,
        subresource: Some("scale"),
    };
    let stored = guaranteed_update(api, r, call.ns(), &name, None, precondition, dry, &tracking, |cur| {
        let current = scale_of(cur);
        let new_scale = match kind {
            None => doc.clone(),
            Some(PatchKind::Json) => super::write::apply_patch(api, SCALE_DEFINITION, PatchKind::Json, &current, &doc)?,
            Some(_) => {
                let mut t = current.clone();
                json_patch::merge(&mut t, &doc);
                t
            }
        };
        let replicas = match new_scale.pointer("/spec/replicas") {
            None => 0,
            Some(v) => v.as_i64().ok_or_else(|| {
                ApiError::bad_request("Scale.spec.replicas must be an integer")
            })?,
        };
        if replicas < 0 {
            return Err(ApiError::new(
                422,
                "Invalid",
                format!("Scale.autoscaling {name:?} is invalid: spec.replicas: Invalid value: {replicas}: must be greater than or equal to 0"),
            ));
        }
        let mut obj = cur.clone();
        obj["spec"]["replicas"] = json!(replicas);
        Ok(obj)
    })
    .await?;
    Ok(json_response(StatusCode::OK, &scale_of(&stored), &[]))
}

/// `POST .../pods/<name>/binding` or `POST .../bindings`: sets the pod's node.
pub async fn bind(
    api: &KubeApi,
    call: Call,
    pod: Option<&str>,
    body: &[u8],
) -> ApiResult<Response> {
    let binding = decode_body(&call.headers, body)?;
    let pods = resources::find("", "v1", "pods")
        .ok_or_else(|| ApiError::internal("pods are not served"))?;
    let name = match pod {
        Some(p) => p.to_string(),
        None => meta::str_at(&binding, "/metadata/name")
            .ok_or_else(|| ApiError::bad_request("a binding needs metadata.name (the pod)"))?
            .to_string(),
    };
    let node = meta::str_at(&binding, "/target/name")
        .unwrap_or("")
        .to_string();
    if node.is_empty() {
        return Err(ApiError::new(
            422,
            "Invalid",
            format!("Binding {name:?} is invalid: target.name: Required value"),
        ));
    }
    let now = meta::timestamp(api.now());
    let dry = call.query.dry_run()?;
    guaranteed_update(api, pods, call.ns(), &name, Some("binding"), None, dry, &Tracking::Untracked, |cur| {
        if cur.pointer("/metadata/deletionTimestamp").is_some() {
            return Err(ApiError::conflict(pods, &name, "pod is being deleted, cannot be assigned to a host"));
        }
        if let Some(n) = meta::str_at(cur, "/spec/nodeName") {
            return Err(ApiError::conflict(pods, &name, &format!("pod {name} is already assigned to node {n:?}")));
        }
        let mut obj = cur.clone();
        obj["spec"]["nodeName"] = json!(node);
        let conds = obj["status"]["conditions"].as_array().cloned().unwrap_or_default();
        let mut conds: Vec<Value> = conds.into_iter().filter(|c| c["type"] != "PodScheduled").collect();
        conds.push(json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": now}));
        obj["status"]["conditions"] = json!(conds);
        Ok(obj)
    })
    .await?;
    Ok(json_response(
        StatusCode::CREATED,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
        &[],
    ))
}
