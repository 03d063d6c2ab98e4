//! Discovery: `/api`, `/apis` (aggregated discovery v2 and v2beta1 when the client asks for
//! it, which clients recognise by the response's Content-Type parameters, else the legacy
//! APIVersions/APIGroupList), and the per group-version APIResourceLists.

use axum::body::Body;
use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use sha2::Digest;

use super::http::json_response;
use super::resources::{self, Resource, RESOURCES};
use super::status::ApiError;

/// The aggregated discovery version the client accepts, if any (v2 preferred).
fn aggregated_version(headers: &HeaderMap) -> Option<&'static str> {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let offers: Vec<Vec<&str>> = accept
        .split(',')
        .map(|o| o.split(';').map(str::trim).collect())
        .collect();
    let wants = |v: &str| {
        offers.iter().any(|p| {
            p.contains(&"g=apidiscovery.k8s.io")
                && p.contains(&"as=APIGroupDiscoveryList")
                && p.iter().any(|x| *x == format!("v={v}"))
        })
    };
    if wants("v2") {
        Some("v2")
    } else if wants("v2beta1") {
        Some("v2beta1")
    } else {
        None
    }
}

/// An aggregated discovery document with kube-apiserver's caching headers: an ETag (the
/// document's hash), answered 304 Not Modified when the client already has it.
fn aggregated_response(version: &str, body: &Value, request: &HeaderMap) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let etag = format!("\"{:X}\"", sha2::Sha512::digest(&bytes));
    let unchanged = request
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes());
    let mut resp = if unchanged {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        Response::new(Body::from(bytes))
    };
    if let Ok(v) = HeaderValue::from_str(&etag) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("public"));
    let ct = format!("application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList");
    if let Ok(v) = HeaderValue::from_str(&ct) {
        resp.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    resp.headers_mut()
        .insert("vary", HeaderValue::from_static("Accept"));
    resp
}

fn discovery_resource(r: &Resource) -> Value {
    let subs: Vec<Value> = r
        .subresources
        .iter()
        .map(|s| {
            json!({
                "subresource": s.name,
                "responseKind": {"group": s.kind.0, "version": s.kind.1, "kind": s.kind.2},
                "verbs": s.verbs,
            })
        })
        .collect();
    let mut v = json!({
        "resource": r.plural,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": r.singular,
        "verbs": r.verbs,
    });
    if !r.short_names.is_empty() {
        v["shortNames"] = json!(r.short_names);
    }
    if !r.categories.is_empty() {
        v["categories"] = json!(r.categories);
    }
    if !subs.is_empty() {
        v["subresources"] = json!(subs);
    }
    v
}

fn group_discovery(group: &str) -> Value {
    let version = resources::version_of(group);
    let resources: Vec<Value> = resources::of_group_version(group, version)
        .map(discovery_resource)
        .collect();
    json!({
        "metadata": {"name": group, "creationTimestamp": null},
        "versions": [{"version": version, "resources": resources, "freshness": "Current"}],
    })
}

fn aggregated_list(version: &str, items: Vec<Value>) -> Value {
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": format!("apidiscovery.k8s.io/{version}"),
        "metadata": {},
        "items": items,
    })
}

/// `GET /api`.
pub async fn core(headers: HeaderMap) -> Response {
    match aggregated_version(&headers) {
        Some(v) => aggregated_response(v, &aggregated_list(v, vec![group_discovery("")]), &headers),
        None => json_response(
            StatusCode::OK,
            &json!({
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}],
            }),
            &[],
        ),
    }
}

fn group_entry(g: &str) -> Value {
    let version = resources::version_of(g);
    let gv = json!({"groupVersion": format!("{g}/{version}"), "version": version});
    json!({"name": g, "versions": [gv.clone()], "preferredVersion": gv})
}

/// `GET /apis/`: the APIGroupList only (kube-aggregator's handler for it offers no aggregated
/// form).
pub async fn groups_legacy() -> Response {
    groups(HeaderMap::new()).await
}

/// `GET /apis`.
pub async fn groups(headers: HeaderMap) -> Response {
    let groups = resources::groups();
    match aggregated_version(&headers) {
        Some(v) => aggregated_response(
            v,
            &aggregated_list(v, groups.iter().map(|g| group_discovery(g)).collect()),
            &headers,
        ),
        None => json_response(
            StatusCode::OK,
            &json!({
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": groups.iter().map(|g| group_entry(g)).collect::<Vec<_>>(),
            }),
            &[],
        ),
    }
}

/// `GET /apis/<group>`.
pub async fn group(Path(g): Path<String>) -> Response {
    if !resources::groups().contains(&g.as_str()) {
        return ApiError::no_route().into_response();
    }
    let mut v = group_entry(&g);
    v["kind"] = json!("APIGroup");
    v["apiVersion"] = json!("v1");
    json_response(StatusCode::OK, &v, &[])
}

fn resource_list(group: &str, version: &str) -> Option<Value> {
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    let mut list = Vec::new();
    for r in RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        let mut v = json!({
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": r.verbs,
        });
        if !r.short_names.is_empty() {
            v["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            v["categories"] = json!(r.categories);
        }
        list.push(v);
        for s in r.subresources {
            let mut sv = json!({
                "name": format!("{}/{}", r.plural, s.name),
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": s.kind.2,
                "verbs": s.verbs,
            });
            if !s.kind.0.is_empty() && s.kind.0 != group {
                sv["group"] = json!(s.kind.0);
                sv["version"] = json!(s.kind.1);
            }
            list.push(sv);
        }
    }
    if list.is_empty() {
        return None;
    }
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": list}),
    )
}

/// `GET /api/<version>`.
pub async fn core_version(Path(version): Path<String>) -> Response {
    match resource_list("", &version) {
        Some(v) => json_response(StatusCode::OK, &v, &[]),
        None => ApiError::no_route().into_response(),
    }
}

/// `GET /apis/<group>/<version>`.
pub async fn group_version(Path((g, version)): Path<(String, String)>) -> Response {
    match resource_list(&g, &version) {
        Some(v) => json_response(StatusCode::OK, &v, &[]),
        None => ApiError::no_route().into_response(),
    }
}
