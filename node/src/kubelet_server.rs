//! The agent's HTTPS endpoint (the kubelet's port, `daemonEndpoints.kubeletEndpoint`): the API
//! server reaches it for `pods/log`, and for `pods/exec`, `pods/attach` and `pods/portforward`
//! (`crate::streaming`), and `/stats/summary` for `metrics.k8s.io` (`crate::resource_usage`). Clients must present a certificate of the cluster CA (the
//! API server's kubelet-client certificate); the agent serves with a self-signed certificate,
//! as a kubelet without `--tls-cert-file` does.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use bytes::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use k8s_openapi::jiff::Timestamp;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::error::NodeError;
use crate::log_reader::{self, LogOptions};
use crate::pod_index::PodIndex;

/// How often a followed log is read for more.
const FOLLOW_POLL: Duration = Duration::from_millis(100);

/// The node whose pods this endpoint serves; one per process for real nodes.
#[derive(Clone)]
pub struct Served {
    pub pods: Arc<PodIndex>,
    pub runtime: Arc<dyn crate::runtime::Runtime>,
    pub usage: Arc<crate::resource_usage::UsageSampler>,
}

fn text(code: StatusCode, message: String) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message,
    )
        .into_response()
}

async fn container_logs(
    State(served): State<Served>,
    Path((ns, pod, container)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    let opts = match LogOptions::parse(query.as_deref().unwrap_or(""), Timestamp::now()) {
        Ok(o) => o,
        Err(e) => return text(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let Some(logs) = served.pods.get(&ns, &pod) else {
        return text(StatusCode::NOT_FOUND, format!("pod {ns}/{pod} not found"));
    };
    let Some(state) = logs.containers.get(&container).cloned() else {
        return text(
            StatusCode::NOT_FOUND,
            format!("container {container:?} in pod {pod:?} not found"),
        );
    };
    if state.attempt.is_none() {
        let why = state.waiting.unwrap_or_else(|| "ContainerCreating".into());
        return text(
            StatusCode::BAD_REQUEST,
            format!("container {container:?} in pod {pod:?} is waiting to start: {why}"),
        );
    }
    let Some(file) = logs.file(&container, opts.previous) else {
        return text(
            StatusCode::BAD_REQUEST,
            format!("previous terminated container {container:?} in pod {pod:?} not found"),
        );
    };
    let data = match tokio::fs::read(&file).await {
        Ok(d) => d,
        Err(_) if opts.previous => {
            return text(
                StatusCode::BAD_REQUEST,
                format!("previous terminated container {container:?} in pod {pod:?} not found"),
            )
        }
        Err(_) => Vec::new(),
    };
    let (lines, used) = log_reader::parse(&data);
    let mut first = log_reader::render(&log_reader::tail(lines, opts.tail_lines), &opts);
    let mut budget = opts.limit_bytes;
    if let Some(limit) = budget {
        first.truncate(limit);
        budget = Some(limit - first.len());
    }
    let follow = opts.follow && !opts.previous && state.running && budget != Some(0);
    if !follow {
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain")],
            first,
        )
            .into_response();
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    let attempt = state.attempt;
    tokio::spawn(async move {
        if tx.send(Ok(Bytes::from(first))).await.is_err() {
            return;
        }
        let mut offset = used as u64;
        let mut carry: Vec<u8> = Vec::new();
        loop {
            let running = served
                .pods
                .get(&ns, &pod)
                .and_then(|l| l.containers.get(&container).cloned())
                .is_some_and(|c| c.running && c.attempt == attempt);
            let mut more = Vec::new();
            if let Ok(mut f) = tokio::fs::File::open(&file).await {
                if f.seek(std::io::SeekFrom::Start(offset)).await.is_ok() {
                    let _ = f.read_to_end(&mut more).await;
                }
            }
            offset += more.len() as u64;
            carry.extend_from_slice(&more);
            let (lines, used) = log_reader::parse(&carry);
            carry.drain(..used);
            let mut chunk = log_reader::render(&lines, &opts);
            if let Some(left) = budget.as_mut() {
                chunk.truncate(*left);
                *left -= chunk.len();
            }
            if !chunk.is_empty() && tx.send(Ok(Bytes::from(chunk))).await.is_err() {
                return;
            }
            if !running || budget == Some(0) {
                return;
            }
            tokio::select! {
                _ = tx.closed() => return,
                _ = tokio::time::sleep(FOLLOW_POLL) => {}
            }
        }
    });
    let body = Body::from_stream(tokio_stream_from(rx));
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], body).into_response()
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

async fn summary(State(served): State<Served>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_vec(&served.usage.summary()).unwrap_or_default(),
    )
        .into_response()
}

/// The router of the endpoint.
pub fn router(served: Served) -> Router {
    let streaming = crate::streaming::Streaming {
        pods: served.pods.clone(),
        runtime: served.runtime.clone(),
    };
    let streams = Router::new()
        .route(
            "/exec/{namespace}/{pod}/{container}",
            any(crate::streaming::exec),
        )
        .route(
            "/attach/{namespace}/{pod}/{container}",
            any(crate::streaming::attach),
        )
        .route(
            "/portForward/{namespace}/{pod}",
            any(crate::streaming::port_forward),
        )
        .with_state(streaming);
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/containerLogs/{namespace}/{pod}/{container}",
            get(container_logs),
        )
        .route("/stats/summary", get(summary))
        .with_state(served)
        .merge(streams)
}

/// A TLS configuration serving a fresh self-signed certificate for `hosts`, asking clients
/// for a certificate of one of `client_cas` (DER).
pub fn tls_config(
    hosts: Vec<String>,
    client_cas: &[Vec<u8>],
) -> Result<rustls::ServerConfig, NodeError> {
    let bad = |e: String| NodeError::Config(format!("the agent's TLS: {e}"));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for der in client_cas {
        roots
            .add(CertificateDer::from(der.clone()))
            .map_err(|e| bad(e.to_string()))?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| bad(format!("client CA: {e}")))?;
    let signed = rcgen::generate_simple_self_signed(hosts).map_err(|e| bad(e.to_string()))?;
    let cert = signed.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(signed.signing_key.serialize_der()));
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![cert], key)
        .map_err(|e| bad(e.to_string()))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(cfg)
}

/// Serves `router` on `listener` with `tls` until `stop`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: rustls::ServerConfig,
    stop: CancellationToken,
) {
    let acceptor = TlsAcceptor::from(Arc::new(tls));
    loop {
        let (tcp, peer): (tokio::net::TcpStream, SocketAddr) = tokio::select! {
            _ = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(_) => continue,
            },
        };
        let acceptor = acceptor.clone();
        let router = router.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let Ok(stream) = acceptor.accept(tcp).await else {
                tracing::debug!(%peer, "agent TLS handshake failed");
                return;
            };
            let service = hyper::service::service_fn(
                move |req: axum::extract::Request<hyper::body::Incoming>| {
                    router.clone().oneshot(req.map(Body::new))
                },
            );
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                _ = stop.cancelled() => {}
            }
        });
    }
}
