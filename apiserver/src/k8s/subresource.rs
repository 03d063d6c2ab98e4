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
    // A ReplicationController's selector is a plain label map; the apps/v1 workloads' a
    // LabelSelector. Either way the Scale carries it in its string form.
    let selector = match obj.pointer("/spec/selector") {
        Some(Value::Object(m))
            if obj.get("kind").and_then(Value::as_str) == Some("ReplicationController") =>
        {
            LabelSelector::from_structured(&json!({"matchLabels": m}))
        }
        Some(sel) => LabelSelector::from_structured(sel),
        None => None,
    }
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

/// `POST .../pods/<name>/binding` or `POST .../bindings`: assigns the pod to a node, once, as
/// kube-apiserver's BindingREST does: spec.nodeName, the binding's annotations and the
/// PodScheduled condition in one write, straight to storage (no pod update validation, no
/// managed fields).
pub async fn bind(
    api: &KubeApi,
    call: Call,
    pod: Option<&str>,
    body: &[u8],
) -> ApiResult<Response> {
    let binding = decode_body(&call.headers, body)?;
    let pods = resources::find("", "v1", "pods")
        .ok_or_else(|| ApiError::internal("pods are not served"))?;
    let body_name = meta::str_at(&binding, "/metadata/name").unwrap_or("");
    let name = match pod {
        Some(p) if p != body_name => {
            return Err(ApiError::bad_request(
                "name in URL does not match name in Binding object",
            ))
        }
        Some(p) => p.to_string(),
        None if body_name.is_empty() => {
            return Err(ApiError::bad_request("name is required"));
        }
        None => body_name.to_string(),
    };
    if let (Some(url_ns), Some(body_ns)) =
        (call.ns(), meta::str_at(&binding, "/metadata/namespace"))
    {
        if !body_ns.is_empty() && body_ns != url_ns {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
    }
    // ValidatePodBinding's errors reach the client as a plain error (500, no reason).
    let kind = meta::str_at(&binding, "/target/kind").unwrap_or("");
    let node = meta::str_at(&binding, "/target/name")
        .unwrap_or("")
        .to_string();
    let mut problems = Vec::new();
    if !kind.is_empty() && kind != "Node" {
        problems.push(format!(
            "target.kind: Unsupported value: {kind:?}: supported values: \"Node\", \"<empty>\""
        ));
    }
    if node.is_empty() {
        problems.push("target.name: Required value".to_string());
    }
    match problems.len() {
        0 => {}
        1 => return Err(ApiError::unclassified(problems.remove(0))),
        _ => return Err(ApiError::unclassified(format!("[{}]", problems.join(", ")))),
    }
    // The legacy collection path wipes a request's system fields (its uid) before the create;
    // the subresource keeps them. A given uid or resourceVersion is a precondition on the pod.
    let uid = match pod {
        Some(_) => meta::str_at(&binding, "/metadata/uid").filter(|u| !u.is_empty()),
        None => None,
    };
    let rv = meta::str_at(&binding, "/metadata/resourceVersion").filter(|v| !v.is_empty());
    let annotations = binding
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let now = meta::timestamp(api.now());
    let dry = call.query.dry_run()?;
    let pod_key = key(pods, call.ns(), &name);
    let binding_conflict = |why: String| ApiError::conflict_on(pods, Some("binding"), &name, &why);
    let precondition_failed = |what: &str, wanted: &str, found: &str| {
        ApiError::conflict(
            pods,
            &name,
            &format!(
                "StorageError: invalid object, Code: 4, Key: {pod_key}, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: {what} in precondition: {wanted}, {what} in object meta: {found}"
            ),
        )
    };
    guaranteed_update(api, pods, call.ns(), &name, Some("binding"), None, dry, &Tracking::Untracked, |cur| {
        if let Some(want) = uid {
            let have = meta::str_at(cur, "/metadata/uid").unwrap_or("");
            if want != have {
                return Err(precondition_failed("UID", want, have));
            }
        }
        if let Some(want) = rv {
            let have = meta::str_at(cur, "/metadata/resourceVersion").unwrap_or("");
            if want != have {
                return Err(precondition_failed("ResourceVersion", want, have));
            }
        }
        if cur.pointer("/metadata/deletionTimestamp").is_some() {
            return Err(binding_conflict(format!("pod {name} is being deleted, cannot be assigned to a host")));
        }
        if let Some(n) = meta::str_at(cur, "/spec/nodeName").filter(|n| !n.is_empty()) {
            return Err(binding_conflict(format!("pod {name} is already assigned to node {n:?}")));
        }
        if cur.pointer("/spec/schedulingGates").and_then(Value::as_array).is_some_and(|g| !g.is_empty()) {
            return Err(binding_conflict(format!("pod {name} has non-empty .spec.schedulingGates")));
        }
        let mut obj = cur.clone();
        obj["spec"]["nodeName"] = json!(node);
        if !annotations.is_empty() {
            let mut merged = obj.pointer("/metadata/annotations").and_then(Value::as_object).cloned().unwrap_or_default();
            merged.extend(annotations.clone());
            obj["metadata"]["annotations"] = Value::Object(merged);
        }
        // UpdatePodCondition: the whole entry is replaced; its transition time moves only when
        // the status changes.
        let conds = obj["status"]["conditions"].as_array().cloned().unwrap_or_default();
        let since = conds
            .iter()
            .find(|c| c["type"] == "PodScheduled" && c["status"] == "True")
            .and_then(|c| c.get("lastTransitionTime").cloned())
            .unwrap_or_else(|| json!(now));
        let scheduled = json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": since});
        let mut conds = conds;
        match conds.iter_mut().find(|c| c["type"] == "PodScheduled") {
            Some(c) => *c = scheduled,
            None => conds.push(scheduled),
        }
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
