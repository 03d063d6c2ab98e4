//! The agent's streaming endpoints, as the kubelet's port serves them to the API server:
//! `/exec/{namespace}/{pod}/{container}`, `/attach/…` and `/portForward/{namespace}/{pod}`.
//! Each is an HTTP upgrade, to SPDY/3.1 (every kubectl, and the fallback of newer ones) or to
//! WebSocket (`v5`/`v4.channel.k8s.io` for exec and attach, `SPDY/3.1+portforward.k8s.io`
//! and `v4.channel.k8s.io` for port-forward). The API server passes the upgrade through.

pub mod port_forward;
pub mod remote_command;
pub mod spdy;
pub mod transport;
pub mod websocket;

use std::sync::Arc;

use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use hyper::upgrade::OnUpgrade;

use crate::pod_index::PodIndex;
use crate::runtime::{ExecCommand, Runtime};
use transport::Wanted;

/// What the streaming endpoints reach: the node's pods and its runtime.
#[derive(Clone)]
pub struct Streaming {
    pub pods: Arc<PodIndex>,
    pub runtime: Arc<dyn Runtime>,
}

const SPDY: &str = "SPDY/3.1";
const CHANNEL_V4: &str = "v4.channel.k8s.io";
const CHANNEL_V5: &str = "v5.channel.k8s.io";
const PORT_FORWARD: &str = "portforward.k8s.io";
const PORT_FORWARD_TUNNEL: &str = "SPDY/3.1+portforward.k8s.io";

/// Why a request is refused: its status and message.
type Refused = (StatusCode, String);

fn refused(code: StatusCode, message: impl Into<String>) -> Refused {
    (code, message.into())
}

fn text(code: StatusCode, message: impl Into<String>) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message.into(),
    )
        .into_response()
}

/// The values of a header that may be repeated and comma-separated.
fn list(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect()
}

/// The transport a request upgrades to.
enum Upgrade {
    Spdy(&'static str),
    WebSocket { protocol: &'static str, key: String },
}

/// Picks the transport and protocol: ours (for WebSocket, for SPDY) in order of preference,
/// among the client's.
fn negotiate(
    headers: &HeaderMap,
    websocket_ours: &[&'static str],
    spdy_ours: &[&'static str],
) -> Result<Upgrade, Refused> {
    let ours = websocket_ours;
    let upgrade = list(headers, "upgrade");
    let offered = |name: &str| list(headers, name);
    if upgrade.iter().any(|u| u.eq_ignore_ascii_case("websocket")) {
        let key = headers
            .get("sec-websocket-key")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| refused(StatusCode::BAD_REQUEST, "missing Sec-WebSocket-Key"))?;
        let theirs = offered("sec-websocket-protocol");
        let protocol = ours
            .iter()
            .find(|p| theirs.iter().any(|t| t == *p))
            .copied()
            .ok_or_else(|| {
                refused(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "requested protocol(s) are not supported: {theirs:?}; supported protocols are {ours:?}"
                    ),
                )
            })?;
        return Ok(Upgrade::WebSocket {
            protocol,
            key: key.to_string(),
        });
    }
    if upgrade.iter().any(|u| u.eq_ignore_ascii_case(SPDY)) {
        let theirs = offered("x-stream-protocol-version");
        let ours = spdy_ours;
        return ours
            .iter()
            .find(|p| theirs.iter().any(|t| t == *p))
            .map(|p| Upgrade::Spdy(p))
            .ok_or_else(|| {
                refused(
                    StatusCode::FORBIDDEN,
                    format!(
                        "unable to upgrade: unable to negotiate protocol: client supports {theirs:?}, server supports {ours:?}"
                    ),
                )
            });
    }
    Err(refused(StatusCode::BAD_REQUEST, "Upgrade request required"))
}

/// The `101 Switching Protocols` answer for `upgrade`.
fn switching(upgrade: &Upgrade) -> Response {
    let mut r = Response::new(axum::body::Body::empty());
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    match upgrade {
        Upgrade::Spdy(protocol) => {
            h.insert(header::UPGRADE, HeaderValue::from_static(SPDY));
            h.insert(
                "X-Stream-Protocol-Version",
                HeaderValue::from_static(protocol),
            );
        }
        Upgrade::WebSocket { protocol, key } => {
            h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
            if let Ok(v) = HeaderValue::from_str(&websocket::accept_key(key)) {
                h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
            }
            h.insert(
                header::SEC_WEBSOCKET_PROTOCOL,
                HeaderValue::from_static(protocol),
            );
        }
    }
    r
}

/// What `exec` and `attach` both need: the running container and the streams asked for.
struct Joined {
    id: String,
    env: Vec<(String, String)>,
    dir: std::path::PathBuf,
    wanted: Wanted,
}

/// The running container a request names and the streams and transport it asks for.
fn join(
    s: &Streaming,
    ns: &str,
    pod: &str,
    container: &str,
    query: &str,
    headers: &HeaderMap,
) -> Result<(Joined, Upgrade), Refused> {
    let Some(entry) = s.pods.get(ns, pod) else {
        return Err(refused(
            StatusCode::NOT_FOUND,
            format!("pod {ns}/{pod} not found"),
        ));
    };
    let Some(c) = entry.containers.get(container) else {
        return Err(refused(
            StatusCode::NOT_FOUND,
            format!("container {container:?} in pod {pod:?} not found"),
        ));
    };
    let Some(id) = c.running_id.clone() else {
        return Err(refused(
            StatusCode::BAD_REQUEST,
            format!("container {container:?} in pod {pod:?} is not running"),
        ));
    };
    let wanted = Wanted::parse(query);
    if !wanted.stdin && !wanted.stdout && !wanted.stderr {
        return Err(refused(
            StatusCode::BAD_REQUEST,
            "you must specify at least 1 of stdin, stdout, stderr",
        ));
    }
    let upgrade = negotiate(
        headers,
        &[CHANNEL_V5, CHANNEL_V4],
        &[CHANNEL_V4, CHANNEL_V5],
    )?;
    let joined = Joined {
        id,
        env: c.env.clone(),
        dir: c.working_dir.clone().unwrap_or(entry.dir),
        wanted,
    };
    Ok((joined, upgrade))
}

/// Answers with `101` and runs `serve` on the upgraded connection.
fn upgrade_then<F, Fut>(mut req: Request, upgrade: Upgrade, serve: F) -> Response
where
    F: FnOnce(hyper::upgrade::Upgraded, Upgrade) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let Some(on) = req.extensions_mut().remove::<OnUpgrade>() else {
        return text(
            StatusCode::BAD_REQUEST,
            "this connection cannot be upgraded (HTTP/1.1 is required)",
        );
    };
    let response = switching(&upgrade);
    tokio::spawn(async move {
        match on.await {
            Ok(upgraded) => serve(upgraded, upgrade).await,
            Err(e) => tracing::debug!(error = %e, "upgrading a streaming request"),
        }
    });
    response
}

/// Runs a remote-command session over whichever transport the request upgraded to.
async fn remote_command<S, F>(
    upgraded: hyper::upgrade::Upgraded,
    upgrade: Upgrade,
    wanted: Wanted,
    session: S,
) where
    S: FnOnce(remote_command::Streams) -> F,
    F: std::future::Future<Output = remote_command::Outcome>,
{
    match upgrade {
        Upgrade::Spdy(_) => match spdy::serve(hyper_util::rt::TokioIo::new(upgraded)) {
            Ok((writer, incoming)) => transport::over_spdy(writer, incoming, wanted, session).await,
            Err(e) => tracing::debug!(error = %e, "serving spdy"),
        },
        Upgrade::WebSocket { protocol, .. } => {
            let (incoming, outgoing) = websocket::channels(websocket::server(upgraded).await);
            transport::over_websocket(incoming, outgoing, wanted, protocol == CHANNEL_V5, session)
                .await
        }
    }
}

/// `/exec/{namespace}/{pod}/{container}?command=…&stdin=…&stdout=…&stderr=…&tty=…`.
pub async fn exec(
    State(s): State<Streaming>,
    Path((ns, pod, container)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    req: Request,
) -> Response {
    let query = query.unwrap_or_default();
    let (joined, upgrade) = match join(&s, &ns, &pod, &container, &query, req.headers()) {
        Ok(j) => j,
        Err((code, message)) => return text(code, message),
    };
    let argv: Vec<String> = form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k == "command")
        .map(|(_, v)| v.into_owned())
        .collect();
    if argv.is_empty() {
        return text(
            StatusCode::BAD_REQUEST,
            "you must specify at least 1 command",
        );
    }
    let wanted = joined.wanted;
    let cmd = ExecCommand {
        argv,
        env: joined.env,
        dir: joined.dir,
        tty: wanted.tty,
        stdin: wanted.stdin,
        size: None,
    };
    let (runtime, id) = (s.runtime.clone(), joined.id);
    upgrade_then(req, upgrade, move |upgraded, upgrade| async move {
        remote_command(upgraded, upgrade, wanted, |streams| {
            remote_command::exec(runtime, &id, cmd, streams)
        })
        .await
    })
}

/// `/attach/{namespace}/{pod}/{container}?stdin=…&stdout=…&stderr=…&tty=…`.
pub async fn attach(
    State(s): State<Streaming>,
    Path((ns, pod, container)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    req: Request,
) -> Response {
    let query = query.unwrap_or_default();
    let (joined, upgrade) = match join(&s, &ns, &pod, &container, &query, req.headers()) {
        Ok(j) => j,
        Err((code, message)) => return text(code, message),
    };
    let wanted = joined.wanted;
    let (runtime, id) = (s.runtime.clone(), joined.id);
    upgrade_then(req, upgrade, move |upgraded, upgrade| async move {
        remote_command(upgraded, upgrade, wanted, |streams| {
            remote_command::attach(runtime, &id, wanted.tty, streams)
        })
        .await
    })
}

/// `/portForward/{namespace}/{pod}` (SPDY, or WebSocket with `?ports=…`).
pub async fn port_forward(
    State(s): State<Streaming>,
    Path((ns, pod)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    req: Request,
) -> Response {
    let Some(entry) = s.pods.get(&ns, &pod) else {
        return text(StatusCode::NOT_FOUND, format!("pod {ns}/{pod} not found"));
    };
    let Some(sandbox) = entry.sandbox.clone() else {
        return text(
            StatusCode::BAD_REQUEST,
            format!("pod {ns}/{pod} has no sandbox running"),
        );
    };
    let upgrade = match negotiate(
        req.headers(),
        &[PORT_FORWARD_TUNNEL, CHANNEL_V4],
        &[PORT_FORWARD],
    ) {
        Ok(u) => u,
        Err((code, message)) => return text(code, message),
    };
    let ws_ports = match &upgrade {
        Upgrade::WebSocket { protocol, .. } if *protocol != PORT_FORWARD_TUNNEL => {
            match port_forward::ports(query.as_deref().unwrap_or_default()) {
                Ok(p) => Some(p),
                Err(e) => return text(StatusCode::BAD_REQUEST, e),
            }
        }
        _ => None,
    };
    let target = port_forward::Target {
        runtime: s.runtime.clone(),
        uid: sandbox.id.clone(),
        sandbox,
        pod,
    };
    upgrade_then(req, upgrade, move |upgraded, upgrade| async move {
        match (upgrade, ws_ports) {
            (Upgrade::WebSocket { .. }, Some(ports)) => {
                let (incoming, outgoing) = websocket::channels(websocket::server(upgraded).await);
                port_forward::over_websocket(incoming, outgoing, ports, target).await
            }
            (Upgrade::WebSocket { .. }, None) => {
                let tunnel = websocket::byte_stream(websocket::server(upgraded).await);
                if let Ok((writer, incoming)) = spdy::serve(tunnel) {
                    port_forward::over_spdy(writer, incoming, target).await
                }
            }
            (Upgrade::Spdy(_), _) => {
                if let Ok((writer, incoming)) = spdy::serve(hyper_util::rt::TokioIo::new(upgraded))
                {
                    port_forward::over_spdy(writer, incoming, target).await
                }
            }
        }
    })
}
