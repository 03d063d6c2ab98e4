//! `pods/exec`, `pods/attach` and `pods/portforward`: the API server checks the request
//! against the pod (its container, its phase) and passes the upgrade through to the node's
//! agent (`node_agent`), as kube-apiserver's upgrade-aware proxy does: the request's upgrade
//! headers go to the agent's `/exec`, `/attach` or `/portForward`, the agent's `101` comes back
//! with its headers, and from then on the two connections are joined byte for byte, so every
//! protocol the agent speaks (SPDY/3.1, WebSocket channels, SPDY tunnelled in WebSocket)
//! reaches the client unchanged. An answer other than `101` becomes a Status, which also makes
//! a newer kubectl fall back from WebSocket to SPDY when the agent refuses the former.

use axum::body::Body;
use axum::http::{header, Method, Request, Response as HttpResponse, StatusCode};
use axum::response::Response;
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;

use super::objects::{key, Freshness};
use super::pod_log::container;
use super::route::Call;
use super::status::{ApiError, ApiResult};
use super::{meta, node_agent, KubeApi};

/// The request headers that carry the upgrade and its protocol negotiation.
const PASSED: [&str; 7] = [
    "connection",
    "upgrade",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "x-stream-protocol-version",
];

/// The agent's answer headers the client needs to finish its side of the upgrade.
const RETURNED: [&str; 5] = [
    "connection",
    "upgrade",
    "sec-websocket-accept",
    "sec-websocket-protocol",
    "x-stream-protocol-version",
];

/// GET or POST `pods/{name}/exec|attach|portforward`.
pub async fn pod_stream(api: &KubeApi, mut call: Call, method: &Method) -> ApiResult<Response> {
    let pods = call.r();
    let sub = call.target.subresource.clone().unwrap_or_default();
    let name = call.name()?.to_string();
    let ns = call.ns().unwrap_or("default").to_string();
    let Some(found) = api
        .store()
        .get(&key(pods, Some(&ns), &name), Freshness::Latest)
        .await?
    else {
        return Err(ApiError::not_found(pods, &name));
    };
    let pod = found.object;
    let path = match sub.as_str() {
        "portforward" => format!("/portForward/{ns}/{name}"),
        verb => {
            let c = container(&pod, &name, call.query.get("container"))?;
            let phase = meta::str_at(&pod, "/status/phase").unwrap_or_default();
            if phase == "Succeeded" || phase == "Failed" {
                let what = if verb == "exec" {
                    "exec into"
                } else {
                    "attach to"
                };
                return Err(ApiError::bad_request(format!(
                    "cannot {what} a container in a completed pod; current phase is {phase}"
                )));
            }
            format!("/{verb}/{ns}/{name}/{c}")
        }
    };
    let path = if call.raw_query.is_empty() {
        path
    } else {
        format!("{path}?{}", call.raw_query)
    };
    let Some(client_side) = call.upgrade.take() else {
        return Err(ApiError::bad_request("Upgrade request required"));
    };
    let agent = node_agent::locate(api, &pod, &name).await?;
    let stream = agent.connect(api).await?;
    let unreachable = |e: String| agent.unreachable(&path, e);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    tokio::spawn(conn.with_upgrades());
    let mut req = Request::builder()
        .method(method.clone())
        .uri(&path)
        .header(header::HOST, format!("{}:{}", agent.ip, agent.port));
    for h in PASSED {
        for v in call.headers.get_all(h) {
            req = req.header(h, v);
        }
    }
    let req = req
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .map_err(|e| unreachable(e.to_string()))?;
    let mut resp = sender
        .send_request(req)
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    let status = resp.status();
    if status != StatusCode::SWITCHING_PROTOCOLS {
        let body = resp
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let message = String::from_utf8_lossy(&body).trim().to_string();
        return Err(match status.as_u16() {
            400 => ApiError::bad_request(message),
            403 => ApiError::new(403, "Forbidden", message),
            404 => ApiError::new(404, "NotFound", message),
            code => ApiError::new(code, "InternalError", message),
        });
    }
    let mut answer = HttpResponse::builder().status(StatusCode::SWITCHING_PROTOCOLS);
    for h in RETURNED {
        for v in resp.headers().get_all(h) {
            answer = answer.header(h, v);
        }
    }
    let agent_side = hyper::upgrade::on(&mut resp);
    tokio::spawn(async move {
        let (agent_io, client_io) = match tokio::join!(agent_side, client_side) {
            (Ok(a), Ok(c)) => (a, c),
            (Err(e), _) | (_, Err(e)) => {
                tracing::debug!(error = %e, "joining a streaming upgrade");
                return;
            }
        };
        let (mut a, mut c) = (TokioIo::new(agent_io), TokioIo::new(client_io));
        // Either side closing ends the session; the error is only who went first.
        let _ = tokio::io::copy_bidirectional(&mut a, &mut c).await;
    });
    answer
        .body(Body::empty())
        .map_err(|e| ApiError::internal(e.to_string()))
}
