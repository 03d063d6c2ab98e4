//! `portForward` as the kubelet serves it. Over SPDY (plain, or tunnelled in WebSocket by
//! kubectl 1.31+) the client opens two streams per connection it forwards, `error` and
//! `data`, paired by their `requestID` header and naming the `port`. Over WebSocket channels
//! (`v4.channel.k8s.io`, the official clients) the request's `ports` give channel 2i (data)
//! and 2i+1 (error) to the i-th port, each starting with the port as two little-endian bytes.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::spdy::{SpdyStream, SpdyWriter};
use crate::runtime::{PodConnection, Runtime, Sandbox};

/// Where forwarded connections go.
#[derive(Clone)]
pub struct Target {
    pub runtime: Arc<dyn Runtime>,
    pub sandbox: Sandbox,
    pub pod: String,
    pub uid: String,
}

impl Target {
    async fn dial(&self, port: u16) -> Result<PodConnection, String> {
        self.runtime
            .dial(&self.sandbox, port)
            .await
            .map_err(|e| {
                format!(
                    "error forwarding port {port} to pod {}, uid {}: failed to connect to localhost:{port} inside namespace: {e}",
                    self.pod, self.uid
                )
            })
    }
}

/// Copies between `tcp` and a client stream (`from_client`, `to_client`) until both
/// directions end; the client's end of sending half-closes the connection.
async fn splice<W, F>(pod: PodConnection, mut from_client: mpsc::Receiver<Bytes>, to_client: W)
where
    W: Fn(Option<Bytes>) -> F,
    F: std::future::Future<Output = bool>,
{
    let PodConnection {
        reader: mut rd,
        writer: mut wr,
    } = pod;
    let upstream = tokio::spawn(async move {
        while let Some(b) = from_client.recv().await {
            if wr.write_all(&b).await.is_err() {
                return;
            }
        }
        let _ = wr.shutdown().await;
    });
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        match rd.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if !to_client(Some(Bytes::copy_from_slice(&buf[..n]))).await {
                    break;
                }
            }
        }
    }
    to_client(None).await;
    // The connection is over once the pod's side has ended: what the client still sends has
    // nowhere to go.
    upstream.abort();
}

/// Serves SPDY port-forward streams until the client goes away.
pub async fn over_spdy(
    writer: Arc<SpdyWriter>,
    mut incoming: mpsc::Receiver<SpdyStream>,
    target: Target,
) {
    let mut pending: HashMap<String, (Option<SpdyStream>, Option<SpdyStream>)> = HashMap::new();
    while let Some(s) = incoming.recv().await {
        let request = s.header("requestid").unwrap_or_default().to_string();
        let kind = s.header("streamtype").unwrap_or_default().to_string();
        let slot = pending.entry(request.clone()).or_default();
        match kind.as_str() {
            "error" => slot.0 = Some(s),
            "data" => slot.1 = Some(s),
            _ => {
                let _ = s.finish().await;
                continue;
            }
        }
        if matches!(pending.get(&request), Some((Some(_), Some(_)))) {
            if let Some((Some(error), Some(data))) = pending.remove(&request) {
                tokio::spawn(forward_pair(error, data, target.clone()));
            }
        }
    }
    writer.close().await;
}

async fn forward_pair(error: SpdyStream, data: SpdyStream, target: Target) {
    let port = data
        .header("port")
        .and_then(|p| p.parse::<u16>().ok())
        .filter(|p| *p != 0);
    let Some(port) = port else {
        let _ = error
            .write(b"invalid port: the port header must be a number from 1 to 65535")
            .await;
        let _ = error.finish().await;
        let _ = data.finish().await;
        return;
    };
    match target.dial(port).await {
        Ok(tcp) => {
            let SpdyStream {
                id,
                data: rx,
                writer,
                ..
            } = data;
            splice(tcp, rx, |b| {
                let writer = writer.clone();
                async move {
                    match b {
                        Some(b) => writer.data(id, &b, false).await.is_ok(),
                        None => writer.data(id, &[], true).await.is_ok(),
                    }
                }
            })
            .await;
        }
        Err(message) => {
            let _ = error.write(message.as_bytes()).await;
            let _ = data.finish().await;
        }
    }
    let _ = error.finish().await;
}

/// The ports of a WebSocket port-forward request (`ports=80,8080`, or repeated).
pub fn ports(query: &str) -> Result<Vec<u16>, String> {
    let mut out = Vec::new();
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        if k == "ports" {
            for p in v.split(',').filter(|p| !p.is_empty()) {
                let port = p
                    .trim()
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| format!("unable to parse {p:?} as a port: must be 1-65535"))?;
                out.push(port);
            }
        }
    }
    if out.is_empty() {
        return Err("query parameter \"port\" is required".into());
    }
    Ok(out)
}

/// Serves a WebSocket port-forward of `ports`: one connection per port.
pub async fn over_websocket(
    mut incoming: mpsc::Receiver<(u8, Bytes)>,
    outgoing: mpsc::Sender<(u8, Bytes)>,
    ports: Vec<u16>,
    target: Target,
) {
    let mut to_pod = Vec::new();
    let mut tasks = Vec::new();
    for (i, port) in ports.iter().copied().enumerate() {
        let (data_ch, error_ch) = ((2 * i) as u8, (2 * i + 1) as u8);
        let prefix = Bytes::copy_from_slice(&port.to_le_bytes());
        let _ = outgoing.send((data_ch, prefix.clone())).await;
        let _ = outgoing.send((error_ch, prefix)).await;
        let (tx, rx) = mpsc::channel::<Bytes>(64);
        to_pod.push(tx);
        let (out, target) = (outgoing.clone(), target.clone());
        tasks.push(tokio::spawn(async move {
            match target.dial(port).await {
                Ok(tcp) => {
                    splice(tcp, rx, |b| {
                        let out = out.clone();
                        async move {
                            match b {
                                Some(b) => out.send((data_ch, b)).await.is_ok(),
                                None => true,
                            }
                        }
                    })
                    .await
                }
                Err(message) => {
                    let _ = out.send((error_ch, Bytes::from(message))).await;
                }
            }
        }));
    }
    let reader = tokio::spawn(async move {
        while let Some((channel, data)) = incoming.recv().await {
            let i = usize::from(channel);
            if i % 2 == 0 {
                if let Some(tx) = to_pod.get(i / 2) {
                    let _ = tx.send(data).await;
                }
            }
        }
    });
    for t in tasks {
        let _ = t.await;
    }
    reader.abort();
    drop(outgoing);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn websocket_ports_come_from_the_query() {
        assert_eq!(ports("ports=80,8080").unwrap(), vec![80, 8080]);
        assert_eq!(ports("ports=80&ports=81").unwrap(), vec![80, 81]);
        assert!(ports("ports=0").is_err());
        assert!(ports("").is_err());
    }
}
