//! Where an HPA's metrics come from: the resource metrics API (`metrics.k8s.io`, pods'
//! CPU/memory, which the API server serves from the node agents) through the replica
//! calculator, and the custom and external metrics APIs, which capstan does not serve: those
//! metrics fail with the error upstream's clients report when the API is missing, and the HPA
//! says so in its conditions and events.

use std::collections::HashMap;
use std::time::Duration;

use k8s_openapi::api::autoscaling::v2::{
    ContainerResourceMetricStatus, MetricSpec, MetricStatus, MetricValueStatus,
    ResourceMetricStatus,
};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::jiff::Timestamp;
use kube::api::{ApiResource, DynamicObject, ListParams};
use kube::{Api, Client, ResourceExt};

use super::replica_calculator;
use crate::persistentvolume_binder::matching::parse_quantity;

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

/// One metric's proposal.
pub struct Proposal {
    pub replicas: i32,
    /// How upstream names it in reasons (`cpu resource utilization (percentage of request)`).
    pub metric: String,
    pub status: MetricStatus,
}

/// What the replica calculator needs of `pod`: its phase, readiness and its request of
/// `resource` (its containers' sum, or the one `container`'s).
fn pod_facts(pod: &Pod, resource: &str, container: Option<&str>) -> replica_calculator::PodFacts {
    let status = pod.status.as_ref();
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
        .map(|c| {
            (
                c.status == "True",
                c.last_transition_time
                    .as_ref()
                    .map_or(Timestamp::UNIX_EPOCH, |t| t.0),
            )
        });
    let mut request: Result<f64, String> = Ok(0.0);
    for c in pod.spec.iter().flat_map(|s| s.containers.iter()) {
        if container.is_some_and(|n| n != c.name) {
            continue;
        }
        let asked = c
            .resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .and_then(|r| r.get(resource))
            .and_then(|q| parse_quantity(&q.0));
        request = match (request, asked) {
            (Ok(sum), Some(r)) => Ok(sum + r),
            (Ok(_), None) => Err(c.name.clone()),
            (e, _) => e,
        };
    }
    replica_calculator::PodFacts {
        name: pod.name_any(),
        phase: status.and_then(|s| s.phase.clone()).unwrap_or_default(),
        deleting: pod.metadata.deletion_timestamp.is_some(),
        start_time: status.and_then(|s| s.start_time.as_ref()).map(|t| t.0),
        ready,
        request,
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

    /// The pods `selector` selects and their samples from the resource metrics API, put
    /// through the replica calculator.
    async fn resource_replicas(
        &self,
        namespace: &str,
        selector: &str,
        resource: &str,
        container: Option<&str>,
        target: replica_calculator::Target,
        current: i32,
    ) -> Result<replica_calculator::Proposal, String> {
        let listed =
            Api::<DynamicObject>::namespaced_with(self.client.clone(), namespace, &pod_metrics())
                .list(&ListParams::default().labels(selector))
                .await
                .map_err(|e| {
                    format!(
                "unable to get metrics for resource {resource}: unable to fetch metrics from \
                 resource metrics API: {}",
                api_error(e, "pods.metrics.k8s.io")
            )
                })?;
        let mut samples = HashMap::new();
        for m in &listed.items {
            let value = |c: &serde_json::Value| {
                c.pointer(&format!("/usage/{resource}"))
                    .and_then(serde_json::Value::as_str)
                    .and_then(parse_quantity)
            };
            let containers = m.data["containers"].as_array().cloned().unwrap_or_default();
            let total: Option<f64> = match container {
                Some(name) => containers
                    .iter()
                    .find(|c| c["name"] == name)
                    .and_then(value),
                None => containers.iter().map(value).sum(),
            };
            let Some(total) = total else { continue };
            let at = m.data["timestamp"]
                .as_str()
                .and_then(|t| t.parse::<Timestamp>().ok())
                .unwrap_or_else(Timestamp::now);
            let window = m.data["window"]
                .as_str()
                .and_then(|w| w.strip_suffix('s'))
                .and_then(|w| w.parse::<f64>().ok())
                .map_or(Duration::from_secs(30), Duration::from_secs_f64);
            samples.insert(
                m.name_any(),
                replica_calculator::Sample {
                    value: total,
                    at,
                    window,
                },
            );
        }
        let unable = |e: String| format!("unable to get metrics for resource {resource}: {e}");
        if samples.is_empty() {
            return Err(unable(
                "no metrics returned from resource metrics API".into(),
            ));
        }
        let pods = Api::<Pod>::namespaced(self.client.clone(), namespace)
            .list(&ListParams::default().labels(selector))
            .await
            .map_err(|e| api_error(e, "pods"))?;
        let facts: Vec<replica_calculator::PodFacts> = pods
            .items
            .iter()
            .map(|p| pod_facts(p, resource, container))
            .collect();
        let cpu = resource == "cpu";
        replica_calculator::replicas(current, target, cpu, &facts, &samples, Timestamp::now())
    }

    /// The replica count `spec` proposes for a target of `current` replicas whose pods
    /// `selector` selects, the metric's name as events and conditions give it, and its status.
    pub async fn propose(
        &self,
        namespace: &str,
        selector: &str,
        spec: &MetricSpec,
        current: i32,
    ) -> Result<Proposal, MetricFailure> {
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
                let container = spec
                    .container_resource
                    .as_ref()
                    .map(|c| c.container.clone());
                let target = match target {
                    Some(t) if t.average_value.is_some() => {
                        replica_calculator::Target::AverageValue(
                            t.average_value
                                .as_ref()
                                .and_then(|q| parse_quantity(&q.0))
                                .unwrap_or(0.0),
                        )
                    }
                    Some(t) => {
                        replica_calculator::Target::Utilization(t.average_utilization.unwrap_or(0))
                    }
                    None => replica_calculator::Target::Utilization(0),
                };
                let computed = self
                    .resource_replicas(
                        namespace,
                        selector,
                        &name,
                        container.as_deref(),
                        target,
                        current,
                    )
                    .await;
                let proposal = computed.map_err(|why| {
                    let cause = format!("failed to get {name} {measure}: {why}");
                    MetricFailure::new(reason, cause, wrap)
                })?;
                let average = if name == "cpu" {
                    format!("{}m", (proposal.average * 1000.0).round() as i64)
                } else {
                    format!("{}", proposal.average.round() as i64)
                };
                let current_value = MetricValueStatus {
                    average_utilization: proposal.utilization,
                    average_value: Some(Quantity(average)),
                    value: None,
                };
                let status = match container {
                    Some(container) => MetricStatus {
                        type_: "ContainerResource".into(),
                        container_resource: Some(ContainerResourceMetricStatus {
                            name: name.clone(),
                            container,
                            current: current_value,
                        }),
                        ..MetricStatus::default()
                    },
                    None => MetricStatus {
                        type_: "Resource".into(),
                        resource: Some(ResourceMetricStatus {
                            name: name.clone(),
                            current: current_value,
                        }),
                        ..MetricStatus::default()
                    },
                };
                let kind = if what == "container" {
                    "container resource"
                } else {
                    "resource"
                };
                let metric = match target {
                    replica_calculator::Target::Utilization(_) => {
                        format!("{name} {kind} utilization (percentage of request)")
                    }
                    replica_calculator::Target::AverageValue(_) => format!("{name} {kind}"),
                };
                Ok(Proposal {
                    replicas: proposal.replicas,
                    metric,
                    status,
                })
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
