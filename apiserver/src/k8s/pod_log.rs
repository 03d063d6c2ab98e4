//! `pods/log`: the API server checks the request against the pod (its container, its node)
//! as kube-apiserver's LogREST does, then streams the answer of the node agent's
//! `containerLogs` endpoint (`node_agent`) back to the client; the agent's answer other than
//! 200 becomes a Status with its text.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::response::Response;
use hyper_util::rt::TokioIo;
use serde_json::Value;

use super::objects::{key, Freshness};
use super::route::Call;
use super::status::{ApiError, ApiResult};
use super::{node_agent, KubeApi};

/// The query parameters passed on to the agent.
const PASSED: [&str; 7] = [
    "follow",
    "previous",
    "sinceSeconds",
    "sinceTime",
    "timestamps",
    "tailLines",
    "limitBytes",
];

fn names(pod: &Value, list: &str) -> Vec<String> {
    pod.pointer(&format!("/spec/{list}"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("name").and_then(Value::as_str).map(String::from))
        .collect()
}

/// The container a request names, or the pod's only one (upstream's `validateContainer`).
pub(super) fn container(pod: &Value, name: &str, asked: Option<&str>) -> ApiResult<String> {
    let regular = names(pod, "containers");
    let init = names(pod, "initContainers");
    let ephemeral = names(pod, "ephemeralContainers");
    match asked {
        Some(c) => {
            if regular
                .iter()
                .chain(&init)
                .chain(&ephemeral)
                .any(|n| n == c)
            {
                Ok(c.to_string())
            } else {
                Err(ApiError::bad_request(format!(
                    "container {c} is not valid for pod {name}"
                )))
            }
        }
        None if regular.len() == 1 => Ok(regular[0].clone()),
        None => {
            let mut message = format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                regular.join(" ")
            );
            if !init.is_empty() {
                message.push_str(&format!(
                    " or one of the init containers: [{}]",
                    init.join(" ")
                ));
            }
            if !ephemeral.is_empty() {
                message.push_str(&format!(
                    " or one of the ephemeral containers: [{}]",
                    ephemeral.join(" ")
                ));
            }
            Err(ApiError::bad_request(message))
        }
    }
}

/// The pod a `pods/{name}/…` request names: (namespace, name, object), read fresh.
pub(super) async fn requested_pod(
    api: &KubeApi,
    call: &Call,
) -> ApiResult<(String, String, Value)> {
    let pods = call.r();
    let name = call.name()?.to_string();
    let ns = call.ns().unwrap_or("default").to_string();
    let Some(found) = api
        .store()
        .get(&key(pods, Some(&ns), &name), Freshness::Latest)
        .await?
    else {
        return Err(ApiError::not_found(pods, &name));
    };
    Ok((ns, name, found.object))
}

/// GET `pods/{name}/log`.
pub async fn pod_log(api: &KubeApi, call: Call) -> ApiResult<Response> {
    let (ns, name, pod) = requested_pod(api, &call).await?;
    let container = container(&pod, &name, call.query.get("container"))?;
    // The serializer is not Send: it is gone before the first await below.
    let query = {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for p in PASSED {
            if let Some(v) = call.query.get(p) {
                q.append_pair(p, v);
            }
        }
        q.finish()
    };
    let path = format!("/containerLogs/{ns}/{name}/{container}?{query}");
    let agent = node_agent::locate(api, &pod, &name).await?;
    let unreachable = |e: String| agent.unreachable(&path, e);
    let stream = agent.connect(api).await?;
    let (ip, port) = (agent.ip, agent.port);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    tokio::spawn(conn);
    let req = Request::get(&path)
        .header(header::HOST, format!("{ip}:{port}"))
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .map_err(|e| unreachable(e.to_string()))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    if resp.status() != StatusCode::OK {
        return Err(node_agent::refusal(resp).await);
    }
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::new(resp.into_body()))
        .map_err(|e| ApiError::internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_container_is_the_named_one_or_the_only_one() {
        let one = json!({"spec": {"containers": [{"name": "c"}]}});
        assert_eq!(container(&one, "p", None).unwrap(), "c");
        assert_eq!(
            container(&one, "p", Some("x")).unwrap_err().message,
            "container x is not valid for pod p"
        );
        let two = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}],
                                  "initContainers": [{"name": "i"}]}});
        assert_eq!(container(&two, "p", Some("i")).unwrap(), "i");
        assert_eq!(
            container(&two, "p", None).unwrap_err().message,
            "a container name must be specified for pod p, choose one of: [a b] or one of the init containers: [i]"
        );
    }
}
