//! Where an HPA's metrics come from: the resource metrics API (`metrics.k8s.io`, pods'
//! CPU/memory), the custom and external metrics APIs. capstan serves none of them yet, so every
//! metric fails with the error upstream's clients report when the API is missing, and the HPA
//! says so in its conditions and events. A metrics source that answers slots in here: its
//! readings become a replica proposal per metric.

use k8s_openapi::api::autoscaling::v2::MetricSpec;
use kube::api::{ApiResource, DynamicObject, ListParams};
use kube::{Api, Client};

/// A metric's failure, as upstream words it: the ScalingActive reason, the cause (its event,
/// and the condition's message) and the error the computation returns.
pub struct MetricFailure {
    pub reason: &'static str,
    pub cause: String,
    pub error: String,
}

impl MetricFailure {
    fn new(reason: &'static str, cause: String, wrap: impl FnOnce(&str) -> String) -> Self {
        MetricFailure {
            reason,
            error: wrap(&cause),
            cause,
        }
    }
}

/// Reads the metrics the HPAs ask for.
#[derive(Clone)]
pub struct MetricsClient {
    client: Client,
}

/// The pods' resource metrics (`metrics.k8s.io/v1beta1` PodMetrics).
fn pod_metrics() -> ApiResource {
    ApiResource {
        group: "metrics.k8s.io".into(),
        version: "v1beta1".into(),
        api_version: "metrics.k8s.io/v1beta1".into(),
        kind: "PodMetrics".into(),
        plural: "pods".into(),
    }
}

/// client-go's message for an error answer (its generic one for a 404 without a Status).
fn api_error(e: kube::Error, what: &str) -> String {
    match e {
        kube::Error::Api(s) if s.code == 404 => {
            format!("the server could not find the requested resource (get {what})")
        }
        kube::Error::Api(s) => s.message,
        e => e.to_string(),
    }
}

impl MetricsClient {
    pub fn new(client: Client) -> MetricsClient {
        MetricsClient { client }
    }

    /// The replica count `spec` proposes for a target of `current` replicas whose pods
    /// `selector` selects.
    pub async fn propose(
        &self,
        namespace: &str,
        selector: &str,
        spec: &MetricSpec,
        _current: i32,
    ) -> Result<i32, MetricFailure> {
        let custom = "unable to fetch metrics from custom metrics API: no custom metrics API \
                      (custom.metrics.k8s.io) registered";
        match spec.type_.as_str() {
            "Resource" | "ContainerResource" => {
                let (name, target, reason, what) = match (&spec.resource, &spec.container_resource)
                {
                    (Some(r), _) => (
                        r.name.clone(),
                        Some(&r.target),
                        "FailedGetResourceMetric",
                        "resource",
                    ),
                    (_, Some(c)) => (
                        c.name.clone(),
                        Some(&c.target),
                        "FailedGetContainerResourceMetric",
                        "container",
                    ),
                    _ => (String::new(), None, "FailedGetResourceMetric", "resource"),
                };
                let wrap = |c: &str| format!("failed to get {name} {what} metric value: {c}");
                // A raw value is "usage"; a share of the requests "utilization".
                let measure = match target {
                    Some(t) if t.average_value.is_some() => "usage",
                    Some(t) if t.average_utilization.is_some() => "utilization",
                    _ => {
                        let cause = "invalid resource metric source: neither an average \
                                     utilization target nor an average value (usage) target was \
                                     set";
                        return Err(MetricFailure::new(reason, cause.into(), wrap));
                    }
                };
                let listed = Api::<DynamicObject>::namespaced_with(
                    self.client.clone(),
                    namespace,
                    &pod_metrics(),
                )
                .list(&ListParams::default().labels(selector))
                .await;
                let why = match listed {
                    Err(e) => format!(
                        "unable to fetch metrics from resource metrics API: {}",
                        api_error(e, "pods.metrics.k8s.io")
                    ),
                    // Readings arrive, but turning them into replicas waits for upstream's
                    // replica calculator (the pods' requests, readiness and missing pods).
                    Ok(_) => "resource metrics are served but capstan cannot use them yet".into(),
                };
                let cause = format!(
                    "failed to get {name} {measure}: unable to get metrics for resource \
                     {name}: {why}"
                );
                Err(MetricFailure::new(reason, cause, wrap))
            }
            "Pods" => {
                let name = spec.pods.as_ref().map(|p| p.metric.name.clone());
                let cause = format!(
                    "unable to get metric {}: {custom}",
                    name.unwrap_or_default()
                );
                Err(MetricFailure::new("FailedGetPodsMetric", cause, |c| {
                    format!("failed to get pods metric value: {c}")
                }))
            }
            "Object" => {
                let name = spec.object.as_ref().map(|o| o.metric.name.clone());
                let cause = format!(
                    "unable to get metric {}: {custom}",
                    name.unwrap_or_default()
                );
                Err(MetricFailure::new("FailedGetObjectMetric", cause, |c| {
                    format!("failed to get object metric value: {c}")
                }))
            }
            "External" => {
                let name = spec.external.as_ref().map(|e| e.metric.name.clone());
                let cause = format!(
                    "unable to get external metric {namespace}/{}: unable to fetch metrics from \
                     external metrics API: no external metrics API (external.metrics.k8s.io) \
                     registered",
                    name.unwrap_or_default()
                );
                Err(MetricFailure::new("FailedGetExternalMetric", cause, |c| {
                    format!("failed to get external metric value: {c}")
                }))
            }
            other => Err(MetricFailure::new(
                "InvalidMetricSourceType",
                format!("unknown metric source type {other:?}"),
                str::to_string,
            )),
        }
    }
}
