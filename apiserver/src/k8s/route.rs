//! Resource URLs: `/api/v1/...` and `/apis/<group>/<version>/...`, namespaced or not, with an
//! optional name and subresource, parsed into a [`Target`] and dispatched by method to the verbs.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};

use super::http::Query;
use super::metrics::RequestKind;
use super::resources::{self, Resource};
use super::status::{ApiError, ApiResult};
use super::KubeApi;

/// What a resource URL names.
#[derive(Debug, Clone)]
pub struct Target {
    pub resource: &'static Resource,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
    /// Reached through the deprecated `/watch/` prefix (`/api/v1/watch/namespaces/x/pods`),
    /// which kube-apiserver still serves: a watch of the collection or of the named object.
    pub watch_prefix: bool,
}

/// Parses a resource path; `None` when it names no served resource.
pub fn parse(path: &str) -> Option<Target> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return None,
    };
    if rest.iter().any(|s| s.is_empty()) {
        return None;
    }
    let (watch_prefix, rest) = match rest {
        ["watch", tail @ ..] => (true, tail),
        _ => (false, rest),
    };
    let (namespace, rest): (Option<&str>, &[&str]) = match rest {
        ["namespaces", ns, res, tail @ ..]
            if !(group.is_empty() && matches!(*res, "status" | "finalize")) =>
        {
            (Some(*ns), {
                // re-slice: [res, tail...]
                let start = rest.len() - tail.len() - 1;
                &rest[start..]
            })
        }
        _ => (None, rest),
    };
    let (plural, name, sub) = match rest {
        [p] => (*p, None, None),
        [p, n] => (*p, Some(*n), None),
        [p, n, s] if !watch_prefix => (*p, Some(*n), Some(*s)),
        // `nodes/{name}/proxy/{path…}`: the rest is the path on the node's agent.
        [p, n, "proxy", ..] if !watch_prefix => (*p, Some(*n), Some("proxy")),
        _ => return None,
    };
    let resource = resources::find(group, version, plural)?;
    if namespace.is_some() && !resource.namespaced {
        return None;
    }
    if let Some(s) = sub {
        if !resource.has_subresource(s) {
            return None;
        }
    }
    Some(Target {
        resource,
        namespace: namespace.map(String::from),
        name: name.map(String::from),
        subresource: sub.map(String::from),
        watch_prefix,
    })
}

/// One request to a resource URL.
pub struct Call {
    pub target: Target,
    pub query: Query,
    pub headers: HeaderMap,
    /// The raw path and query string, for requests passed on as they came (exec,
    /// port-forward, node proxy).
    pub path: String,
    pub raw_query: String,
    /// The connection's upgrade, for a request that asks for one (exec, attach, port-forward).
    pub upgrade: Option<hyper::upgrade::OnUpgrade>,
}

impl Call {
    pub fn r(&self) -> &'static Resource {
        self.target.resource
    }

    pub fn ns(&self) -> Option<&str> {
        self.target.namespace.as_deref()
    }

    pub fn name(&self) -> ApiResult<&str> {
        self.target.name.as_deref().ok_or_else(ApiError::no_route)
    }
}

/// Every request under `/api` and `/apis` that is not discovery.
pub async fn dispatch(State(api): State<KubeApi>, req: axum::extract::Request) -> Response {
    let (mut parts, body) = req.into_parts();
    let upgrade = parts.extensions.remove::<hyper::upgrade::OnUpgrade>();
    let (method, uri, headers) = (parts.method, parts.uri, parts.headers);
    let Some(mut target) = parse(uri.path()) else {
        return ApiError::no_route().into_response();
    };
    let started = std::time::Instant::now();
    let mut query = Query::parse(uri.query());
    if target.watch_prefix {
        if method != Method::GET {
            return ApiError::method_not_allowed(method.as_str()).into_response();
        }
        query.0.insert("watch".into(), "true".into());
        // The watch of one object is the collection's, narrowed to its name.
        if let Some(name) = target.name.take() {
            let by_name = format!("metadata.name={name}");
            let selector = match query.0.get("fieldSelector").filter(|f| !f.is_empty()) {
                Some(f) => format!("{f},{by_name}"),
                None => by_name,
            };
            query.0.insert("fieldSelector".into(), selector);
        }
    }
    let apply = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/apply-patch"));
    let kind = RequestKind::of(method.as_str(), &target, query.flag("watch"), apply);
    let call = Call {
        target,
        query,
        headers,
        path: uri.path().to_string(),
        raw_query: uri.query().unwrap_or_default().to_string(),
        upgrade,
    };
    let response = match route(&api, call, &method, body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    api.config().telemetry.observe(
        kind,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

async fn route(api: &KubeApi, call: Call, method: &Method, body: Body) -> ApiResult<Response> {
    if call.r().group == "metrics.k8s.io" {
        return super::metrics_api::serve(api, call, method).await;
    }
    let named = call.target.name.is_some();
    let sub = call.target.subresource.clone();
    match (method.as_str(), named, sub.as_deref()) {
        ("GET", false, None) if call.query.flag("watch") => super::watch::watch(api, call).await,
        ("GET", false, None) => super::read::list(api, call).await,
        ("POST", false, None) => {
            let body = super::http::read_body(body).await?;
            if call.r().plural == "bindings" {
                return super::subresource::bind(api, call, None, &body).await;
            }
            super::write::create(api, call, &body).await
        }
        ("DELETE", false, None) => {
            let body = super::http::read_body(body).await?;
            super::delete::delete_collection(api, call, &body).await
        }
        ("GET", true, None) => super::read::get(api, call).await,
        ("PUT", true, None) => {
            let body = super::http::read_body(body).await?;
            super::write::update(api, call, &body).await
        }
        ("PATCH", true, None) => {
            let body = super::http::read_body(body).await?;
            super::write::patch(api, call, &body).await
        }
        ("DELETE", true, None) => {
            let body = super::http::read_body(body).await?;
            super::delete::delete(api, call, &body).await
        }
        ("PUT", true, Some("finalize")) => {
            let body = super::http::read_body(body).await?;
            super::write::update(api, call, &body).await
        }
        ("GET", true, Some("status")) => super::read::get(api, call).await,
        ("PUT", true, Some("status")) => {
            let body = super::http::read_body(body).await?;
            super::write::update(api, call, &body).await
        }
        ("PATCH", true, Some("status")) => {
            let body = super::http::read_body(body).await?;
            super::write::patch(api, call, &body).await
        }
        ("GET", true, Some("scale")) => super::subresource::get_scale(api, call).await,
        ("PUT", true, Some("scale")) => {
            let body = super::http::read_body(body).await?;
            super::subresource::update_scale(api, call, &body, false).await
        }
        ("PATCH", true, Some("scale")) => {
            let body = super::http::read_body(body).await?;
            super::subresource::update_scale(api, call, &body, true).await
        }
        ("GET", true, Some("log")) => super::pod_log::pod_log(api, call).await,
        (_, true, Some("proxy")) => super::node_proxy::node_proxy(api, call, method, body).await,
        ("GET" | "POST", true, Some("exec" | "attach" | "portforward")) => {
            super::pod_stream::pod_stream(api, call, method).await
        }
        ("POST", true, Some("eviction")) => {
            let body = super::http::read_body(body).await?;
            super::eviction::evict(api, call, &body).await
        }
        ("POST", true, Some("binding")) => {
            let body = super::http::read_body(body).await?;
            let name = call.name()?.to_string();
            super::subresource::bind(api, call, Some(&name), &body).await
        }
        (m, _, _) => Err(ApiError::method_not_allowed(m)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_resources_namespaces_names_and_subresources() {
        let t = parse("/api/v1/namespaces/default/pods/web/status").unwrap();
        assert_eq!(t.resource.plural, "pods");
        assert_eq!(t.namespace.as_deref(), Some("default"));
        assert_eq!(t.name.as_deref(), Some("web"));
        assert_eq!(t.subresource.as_deref(), Some("status"));
        let t = parse("/api/v1/namespaces/kube-system").unwrap();
        assert_eq!(t.resource.plural, "namespaces");
        assert_eq!(t.name.as_deref(), Some("kube-system"));
        let t = parse("/api/v1/namespaces/x/status").unwrap();
        assert_eq!(t.resource.plural, "namespaces");
        assert_eq!(t.subresource.as_deref(), Some("status"));
        let t = parse("/apis/apps/v1/deployments").unwrap();
        assert!(t.namespace.is_none() && t.name.is_none());
        assert!(parse("/apis/apps/v1/namespaces/d/deployments/x/scale").is_some());
        assert!(parse("/api/v1/namespaces/d/nodes").is_none());
        assert!(parse("/api/v1/namespaces/d/pods/x/bogus").is_none());
        assert!(parse("/apis/apps/v2/deployments").is_none());
        let t = parse("/api/v1/watch/namespaces/d/pods/x").unwrap();
        assert!(t.watch_prefix);
        assert_eq!(
            (t.namespace.as_deref(), t.name.as_deref()),
            (Some("d"), Some("x"))
        );
        assert!(parse("/api/v1/watch/namespaces/d/pods/x/status").is_none());
        assert!(!parse("/api/v1/namespaces/watch").unwrap().watch_prefix);
    }
}
