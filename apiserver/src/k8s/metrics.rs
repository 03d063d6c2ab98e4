//! Prometheus `/metrics` for operators: the API's own request metrics under kube-apiserver's
//! names (`apiserver_request_total` by verb, group, version, resource, subresource, scope and
//! code; `apiserver_request_duration_seconds` for every verb but WATCH), together with whatever
//! the server registered in the same registry (raft, disk, store) and refreshes before each
//! scrape.

use std::future::Future;
use std::pin::Pin;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::route::Target;
use super::KubeApi;

/// Brings the server's gauges up to date before a scrape.
pub type Refresh = Box<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// `apiserver_request_total`'s labels: the request's kind and its response code.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    #[prometheus(flatten)]
    kind: RequestKind,
    code: u16,
}

/// kube-apiserver's buckets for `apiserver_request_duration_seconds`.
const DURATION_BUCKETS: [f64; 40] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9,
    1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 15.0, 20.0,
    25.0, 30.0, 40.0, 50.0, 60.0,
];

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

/// The metrics registry of one replica and the API's metrics in it.
pub struct Telemetry {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RequestKind, Histogram, fn() -> Histogram>,
    refresh: Option<Refresh>,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry").finish_non_exhaustive()
    }
}

impl Default for Telemetry {
    fn default() -> Self {
        Telemetry::new(Registry::default(), None)
    }
}

/// How a request is counted (the labels of `apiserver_request_duration_seconds`):
/// kube-apiserver's verb (LIST and WATCH apart from GET, APPLY for server-side apply) and the
/// resource it named.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RequestKind {
    verb: &'static str,
    group: &'static str,
    version: &'static str,
    resource: &'static str,
    subresource: String,
    scope: &'static str,
    component: &'static str,
}

impl RequestKind {
    pub(crate) fn of(method: &str, target: &Target, watch: bool, apply: bool) -> RequestKind {
        let named = target.name.is_some();
        let verb = match (method, named) {
            ("GET", false) if watch => "WATCH",
            ("GET", false) => "LIST",
            ("GET", true) => "GET",
            ("POST", _) => "POST",
            ("PUT", _) => "PUT",
            ("PATCH", _) if apply => "APPLY",
            ("PATCH", _) => "PATCH",
            ("DELETE", _) => "DELETE",
            _ => "UNKNOWN",
        };
        let r = target.resource;
        let scope = if named {
            "resource"
        } else if target.namespace.is_some() {
            "namespace"
        } else {
            "cluster"
        };
        RequestKind {
            verb,
            group: r.group,
            version: r.version,
            resource: r.plural,
            subresource: target.subresource.clone().unwrap_or_default(),
            scope,
            component: "apiserver",
        }
    }
}

impl Telemetry {
    /// The API's metrics registered in `registry`, next to the server's; `refresh` runs before
    /// every scrape.
    pub fn new(mut registry: Registry, refresh: Option<Refresh>) -> Telemetry {
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "apiserver_request",
            "Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, component, and HTTP response code.",
            requests.clone(),
        );
        let durations: Family<RequestKind, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(duration_histogram);
        registry.register(
            "apiserver_request_duration_seconds",
            "Response latency distribution in seconds for each verb, dry run value, group, version, resource, subresource, scope and component.",
            durations.clone(),
        );
        Telemetry {
            registry,
            requests,
            durations,
            refresh,
        }
    }

    /// Counts a request that ended with `code` after `seconds`.
    pub(crate) fn observe(&self, kind: RequestKind, code: u16, seconds: f64) {
        if kind.verb != "WATCH" {
            self.durations.get_or_create(&kind).observe(seconds);
        }
        self.requests
            .get_or_create(&RequestLabels { kind, code })
            .inc();
    }

    /// The registry in the text exposition format.
    pub async fn encode(&self) -> Result<String, std::fmt::Error> {
        if let Some(refresh) = &self.refresh {
            refresh().await;
        }
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// `GET /metrics`.
pub async fn metrics(State(api): State<KubeApi>) -> Response {
    match api.config().telemetry.encode().await {
        Ok(text) => (
            StatusCode::OK,
            [(
                "content-type",
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => super::status::ApiError::internal(e.to_string()).into_response(),
    }
}
