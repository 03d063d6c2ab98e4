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
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;

use super::pod_log::{container, requested_pod};
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

/// Copies the agent's WebSocket frames to the client one write (one TLS record) per frame.
/// Clients that poll the socket before each frame (the Python client before its fix for
/// frames buffered inside the TLS layer) wait forever for frames that arrived in the same
/// record as the one before.
async fn websocket_frames<R, W>(from: &mut R, mut to: W)
where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 32 * 1024];
    loop {
        let n = match from.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        let mut at = 0;
        while let Some(len) = frame_len(&buf[at..]) {
            if to.write_all(&buf[at..at + len]).await.is_err() {
                return;
            }
            at += len;
        }
        buf.drain(..at);
        if to.flush().await.is_err() {
            return;
        }
    }
    let _ = to.write_all(&buf).await;
    let _ = to.shutdown().await;
}

/// The length of the whole WebSocket frame at the start of `b`, once all of it is there.
fn frame_len(b: &[u8]) -> Option<usize> {
    let (&second, rest) = b.get(1).zip(b.get(2..))?;
    let mask = if second & 0x80 != 0 { 4 } else { 0 };
    let (header, payload) = match second & 0x7f {
        126 => (
            4,
            u64::from(u16::from_be_bytes(rest.get(..2)?.try_into().ok()?)),
        ),
        127 => (10, u64::from_be_bytes(rest.get(..8)?.try_into().ok()?)),
        n => (2, u64::from(n)),
    };
    let total = usize::try_from(payload).ok()?.checked_add(header + mask)?;
    (b.len() >= total).then_some(total)
}

/// GET or POST `pods/{name}/exec|attach|portforward`.
pub async fn pod_stream(api: &KubeApi, mut call: Call, method: &Method) -> ApiResult<Response> {
    let sub = call.target.subresource.clone().unwrap_or_default();
    let (ns, name, pod) = requested_pod(api, &call).await?;
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
    if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
        return Err(node_agent::refusal(resp).await);
    }
    let mut answer = HttpResponse::builder().status(StatusCode::SWITCHING_PROTOCOLS);
    for h in RETURNED {
        for v in resp.headers().get_all(h) {
            answer = answer.header(h, v);
        }
    }
    let websocket = resp
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
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
        if !websocket {
            // Either side closing ends the session; the error is only who went first.
            let _ = tokio::io::copy_bidirectional(&mut a, &mut c).await;
            return;
        }
        let (mut a_rd, mut a_wr) = tokio::io::split(a);
        let (c_rd, c_wr) = tokio::io::split(c);
        let mut c_rd = c_rd;
        let up = async {
            let _ = tokio::io::copy(&mut c_rd, &mut a_wr).await;
            let _ = a_wr.shutdown().await;
        };
        let down = websocket_frames(&mut a_rd, c_wr);
        tokio::join!(up, down);
    });
    answer
        .body(Body::empty())
        .map_err(|e| ApiError::internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn websocket_frames_are_measured_by_their_headers() {
        assert_eq!(frame_len(&[0x82, 3, 1, 2, 3, 9]), Some(5));
        assert_eq!(frame_len(&[0x82, 3, 1, 2]), None, "a partial frame waits");
        let mut long = vec![0x82, 126, 1, 0];
        long.extend(vec![0u8; 256]);
        assert_eq!(frame_len(&long), Some(260));
        assert_eq!(frame_len(&[0x88, 0x80 | 2, 0, 0, 0, 0, 3, 232]), Some(8));
        assert_eq!(frame_len(&[0x82]), None);
    }
}
