//! `nodes/{name}/proxy/{path}`: the request, its method, body and query, passed on to the
//! node's agent at `/{path}` (`node_agent`), and the agent's answer passed back as it is
//! (status, content type, streamed body), as kube-apiserver proxies to a kubelet.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::response::Response;
use hyper_util::rt::TokioIo;

use super::objects::{key, Freshness};
use super::route::Call;
use super::status::{ApiError, ApiResult};
use super::{node_agent, KubeApi};

/// The request headers the agent needs to read the body.
const PASSED: [&str; 3] = ["content-type", "accept", "content-encoding"];

/// Any method on `nodes/{name}/proxy[/path]`.
pub async fn node_proxy(
    api: &KubeApi,
    call: Call,
    method: &Method,
    body: Body,
) -> ApiResult<Response> {
    let nodes = call.r();
    let name = call.name()?.to_string();
    let Some(node) = api
        .store()
        .get(&key(nodes, None, &name), Freshness::Any)
        .await?
    else {
        return Err(ApiError::not_found(nodes, &name));
    };
    let (ip, port) = node_agent::endpoint(&node.object, &name)?;
    let agent = node_agent::Agent { ip, port };
    let marker = format!("/nodes/{name}/proxy");
    let rest = call
        .path
        .split_once(&marker)
        .map(|(_, r)| r)
        .unwrap_or_default();
    let mut path = if rest.is_empty() {
        "/".to_string()
    } else {
        rest.to_string()
    };
    if !call.raw_query.is_empty() {
        path = format!("{path}?{}", call.raw_query);
    }
    let stream = agent.connect(api).await?;
    let unreachable = |e: String| agent.unreachable(&path, e);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    tokio::spawn(conn);
    let mut req = Request::builder()
        .method(method.clone())
        .uri(&path)
        .header(header::HOST, format!("{ip}:{port}"));
    for h in PASSED {
        for v in call.headers.get_all(h) {
            req = req.header(h, v);
        }
    }
    let req = req.body(body).map_err(|e| unreachable(e.to_string()))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    let mut answer = Response::builder().status(resp.status());
    if let Some(ct) = resp.headers().get(header::CONTENT_TYPE) {
        answer = answer.header(header::CONTENT_TYPE, ct);
    }
    answer.body(Body::new(resp.into_body())).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR.as_u16(),
            "InternalError",
            e.to_string(),
        )
    })
}
