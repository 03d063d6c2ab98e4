//! The Kubernetes REST API over `Kv`: what kubectl, client-go, kube-rs and the Python client
//! talk to. Layers, outside in: HTTPS and client-certificate authentication ([`serve`]),
//! routing and content negotiation ([`route`], [`http`]), discovery and OpenAPI, the verbs
//! ([`read`], [`watch`], [`write`], [`delete`], [`subresource`]), per-resource rules
//! ([`meta`], [`strategy`], [`validation`], [`admission`], [`services`]) and storage
//! ([`objects`], the storage.Interface role over `Kv`).

mod admission;
mod bootstrap;
mod decode;
mod default_storage_class;
mod default_tolerations;
mod delete;
mod discovery;
mod events;
mod eviction;
mod field_set;
mod field_types;
mod fields;
mod health;
mod http;
mod list_options;
mod managed_fields;
mod meta;
mod metrics;
pub mod metrics_api;
pub mod node_agent;
mod node_proxy;
mod objects;
mod openapi;
mod patch_meta;
pub mod pod_log;
pub mod pod_stream;
mod priority;
mod protobuf;
mod quota;
mod read;
mod resources;
mod route;
mod secrets;
mod selector;
mod serve;
mod services;
mod status;
mod stored_json;
mod strategic_merge;
mod strategy;
mod subresource;
mod table;
mod tables;
mod validation;
mod version;
mod watch;
mod write;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use axum::Router;
use capstan_store::Kv;
use serde_json::Value;

pub use health::{Check, Health};
pub use metrics::{Refresh, Telemetry};
pub use resources::{Resource, RESOURCES};
pub use serve::{serve_tls, user_of, ServeError, ServingTls, User};
pub use services::ServiceRanges;
pub use status::ApiError;
pub use version::GIT_VERSION;

use objects::ObjectStore;
use openapi::Schemas;
use status::ApiResult;

/// How long stored events live (kube-apiserver's `--event-ttl` default).
const EVENT_TTL: Duration = Duration::from_secs(3600);
/// Events granted within this window share one lease.
const EVENT_LEASE_WINDOW: Duration = Duration::from_secs(60);

/// The facade's settings.
#[derive(Clone, Default)]
pub struct KubeConfig {
    /// Service CIDR and node port range.
    pub ranges: ServiceRanges,
    /// The address clients reach this replica's API at (the `kubernetes` service's endpoint).
    pub advertise: Option<std::net::SocketAddr>,
    /// The replica's metrics registry, served on `/metrics`.
    pub telemetry: Arc<Telemetry>,
    /// The replica's health checks, served on `/healthz`, `/livez` and `/readyz`.
    pub health: Option<Arc<dyn Health>>,
    /// How `pods/log` reaches node agents (the kubelet-client certificate), if it can.
    pub kubelet_client: Option<Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for KubeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeConfig")
            .field("ranges", &self.ranges)
            .field("advertise", &self.advertise)
            .finish_non_exhaustive()
    }
}

struct Inner {
    store: ObjectStore,
    config: KubeConfig,
    /// Built once per process and shared by every view ([`KubeApi::with_kv`]).
    schemas: Arc<OnceLock<Schemas>>,
    event_lease: tokio::sync::Mutex<Option<(i64, Instant)>>,
    /// The system namespaces and the `kubernetes` service exist (bootstrap has succeeded).
    bootstrapped: std::sync::atomic::AtomicBool,
}

/// The Kubernetes API of one replica.
#[derive(Clone)]
pub struct KubeApi {
    inner: Arc<Inner>,
}

impl KubeApi {
    pub fn new(kv: Arc<dyn Kv>, config: KubeConfig) -> KubeApi {
        KubeApi {
            inner: Arc::new(Inner {
                store: ObjectStore::new(kv),
                config,
                schemas: Arc::new(OnceLock::new()),
                event_lease: tokio::sync::Mutex::new(None),
                bootstrapped: std::sync::atomic::AtomicBool::new(false),
            }),
        }
    }

    /// The same API (settings, OpenAPI schemas) over another store: leader-only work gets one
    /// over its term's fenced store, so each of its writes applies only in that term.
    pub fn with_kv(&self, kv: Arc<dyn Kv>) -> KubeApi {
        KubeApi {
            inner: Arc::new(Inner {
                store: ObjectStore::new(kv),
                config: self.inner.config.clone(),
                schemas: self.inner.schemas.clone(),
                event_lease: tokio::sync::Mutex::new(None),
                bootstrapped: std::sync::atomic::AtomicBool::new(self.bootstrapped()),
            }),
        }
    }

    /// The HTTP routes, behind authentication (requests carry the [`User`] extension when
    /// their client certificate was verified).
    pub fn router(&self) -> Router {
        let open = Router::new()
            .route("/healthz", get(health::healthz))
            .route("/healthz/{*check}", get(health::healthz_one))
            .route("/livez", get(health::livez))
            .route("/livez/{*check}", get(health::livez_one))
            .route("/readyz", get(health::readyz))
            .route("/readyz/{*check}", get(health::readyz_one));
        // Discovery and `/version` answer with and without a trailing slash, as kube-apiserver's
        // do (the Python client asks for `/version/`, `/api/v1/` and `/apis/`); health, metrics
        // and OpenAPI answer only without one, as there.
        let open = with_slash(open, "/version", get(version::version));
        let mut api = Router::new()
            .route("/apis", get(discovery::groups))
            .route("/apis/", get(discovery::groups_legacy));
        for (path, handler) in [
            ("/api", get(discovery::core)),
            ("/api/{version}", get(discovery::core_version)),
            ("/apis/{group}", get(discovery::group)),
            ("/apis/{group}/{version}", get(discovery::group_version)),
        ] {
            api = with_slash(api, path, handler);
        }
        let api = api
            .route("/metrics", get(metrics::metrics))
            .route("/openapi/v2", get(openapi::v2))
            .route("/swagger-2.0.0.pb-v1", get(openapi::v2))
            .route("/openapi/v3", get(openapi::v3_index))
            .route("/openapi/v3/{*path}", get(openapi::v3_document))
            .fallback(route::dispatch)
            .layer(axum::middleware::from_fn(require_user));
        open.merge(api).with_state(self.clone())
    }

    /// The routes with every request made as `user`: an in-process client's (leader-only work
    /// reaches the API this way, as a tower service, with no TLS or socket in between).
    /// Requests without a User-Agent get `agent` (field managers are named after it, as
    /// kube-controller-manager's writes are).
    pub fn router_as(&self, user: User, agent: &'static str) -> Router {
        self.router()
            .layer(axum::middleware::map_request(
                move |mut req: Request| async move {
                    req.headers_mut()
                        .entry(axum::http::header::USER_AGENT)
                        .or_insert(axum::http::HeaderValue::from_static(agent));
                    req
                },
            ))
            .layer(axum::Extension(user))
    }

    pub(crate) fn store(&self) -> &ObjectStore {
        &self.inner.store
    }

    pub(crate) fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }

    pub(crate) fn ranges(&self) -> &ServiceRanges {
        &self.inner.config.ranges
    }

    pub(crate) fn config(&self) -> &KubeConfig {
        &self.inner.config
    }

    /// The OpenAPI schemas (generated on first use).
    pub(crate) fn schemas(&self) -> &Schemas {
        self.inner.schemas.get_or_init(Schemas::build)
    }

    /// Builds the OpenAPI schemas now rather than on the first request that needs them.
    pub fn warm_up(&self) {
        let _ = self.schemas();
    }

    /// The lease new events are bound to (one per minute, shared).
    pub(crate) async fn event_lease(&self) -> ApiResult<i64> {
        let mut cur = self.inner.event_lease.lock().await;
        if let Some((id, at)) = *cur {
            if at.elapsed() < EVENT_LEASE_WINDOW {
                return Ok(id);
            }
        }
        let ttl = (EVENT_TTL + EVENT_LEASE_WINDOW).as_secs() as i64;
        let id = self.store().grant_lease(ttl).await?;
        *cur = Some((id, Instant::now()));
        Ok(id)
    }

    /// A stored object in the form `r` serves it.
    pub(crate) fn present(&self, r: &Resource, obj: Value) -> Value {
        if r.group == "events.k8s.io" {
            events::from_core(obj)
        } else {
            obj
        }
    }

    /// An object of `r` in its stored form.
    pub(crate) fn accept(&self, r: &Resource, mut obj: Value) -> Value {
        if r.group == "events.k8s.io" {
            events::to_core(obj)
        } else {
            if r.group.is_empty() && r.plural == "secrets" {
                secrets::merge_string_data(&mut obj);
            }
            obj
        }
    }

    /// This replica's current revision (0 if unknown).
    pub(crate) async fn local_revision(&self) -> i64 {
        self.store().revisions().await.map(|(r, _)| r).unwrap_or(0)
    }

    /// Creates what every cluster has: the system namespaces, the system PriorityClasses and
    /// the `kubernetes` service, and resumes the deletion of namespaces left terminating.
    /// Idempotent; retried by the caller until the store takes writes.
    pub async fn bootstrap(&self) -> Result<(), ApiError> {
        bootstrap::run(self).await?;
        self.inner
            .bootstrapped
            .store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }

    /// Whether [`KubeApi::bootstrap`] has succeeded on this replica.
    pub(crate) fn bootstrapped(&self) -> bool {
        self.inner
            .bootstrapped
            .load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// `path` and `path/`, both to `handler`.
fn with_slash(
    router: Router<KubeApi>,
    path: &str,
    handler: MethodRouter<KubeApi>,
) -> Router<KubeApi> {
    router
        .route(path, handler.clone())
        .route(&format!("{path}/"), handler)
}

fn is_open(path: &str) -> bool {
    ["/healthz", "/livez", "/readyz", "/version"]
        .iter()
        .any(|p| path == *p || path.starts_with(&format!("{p}/")))
}

async fn require_user(req: Request, next: Next) -> Response {
    if req.extensions().get::<User>().is_none() && !is_open(req.uri().path()) {
        return ApiError::unauthorized().into_response();
    }
    let method = req.method().clone();
    let uri = req.uri().clone();
    let started = Instant::now();
    let resp = next.run(req).await;
    tracing::debug!(%method, %uri, status = resp.status().as_u16(), elapsed_us = started.elapsed().as_micros() as u64, "request");
    resp
}
