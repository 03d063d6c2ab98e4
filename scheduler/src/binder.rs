//! The binding cycle: the decision is written as a `pods/binding` (the API sets `spec.nodeName`
//! and PodScheduled=True), asynchronously and many at once, so the next cycle does not wait for
//! the write. A successful bind is reported with a `Scheduled` event; a failed one makes the
//! cache forget the assumed pod and sends the pod back to the queue.

use std::sync::Arc;
use std::time::Instant;

use k8s_openapi::api::core::v1::{Binding, ObjectReference, Pod};
use kube::api::{Api, ObjectMeta, PostParams};

use crate::metrics::{AttemptResult, SchedulerMetrics};
use crate::pod_info::PodInfo;
use crate::scheduler::Shared;

/// Binds `pod` to `node` and records the outcome.
pub async fn bind(
    shared: Arc<Shared>,
    pod: Arc<PodInfo>,
    node: String,
    started: Instant,
    profile: String,
) {
    let api: Api<Pod> = Api::namespaced(shared.client.clone(), &pod.namespace);
    let binding = Binding {
        metadata: ObjectMeta {
            name: Some(pod.name.clone()),
            namespace: Some(pod.namespace.clone()),
            uid: Some(pod.uid.clone()),
            ..ObjectMeta::default()
        },
        target: ObjectReference {
            kind: Some("Node".into()),
            name: Some(node.clone()),
            api_version: Some("v1".into()),
            ..ObjectReference::default()
        },
    };
    let bind_started = Instant::now();
    let result = api
        .create_subresource::<_, serde_json::Value>(
            "binding",
            &pod.name,
            &PostParams::default(),
            &binding,
        )
        .await
        .map(|_| ());
    let metrics = SchedulerMetrics::global();
    metrics.point(&profile, "Bind", result.is_ok(), bind_started.elapsed());
    match result {
        Ok(()) => {
            metrics.attempt(&profile, AttemptResult::Scheduled, started.elapsed());
            shared
                .recorder
                .normal(
                    &pod.pod,
                    "Scheduled",
                    format!("Successfully assigned {} to {node}", pod.key),
                )
                .await;
        }
        Err(e) => {
            shared.cache().forget(&pod.uid);
            metrics.attempt(&profile, AttemptResult::Error, started.elapsed());
            let gone = matches!(&e, kube::Error::Api(s) if s.code == 404);
            if gone {
                return;
            }
            tracing::debug!(pod = %pod.key, %node, error = %e, "binding rejected");
            shared
                .recorder
                .warning(
                    &pod.pod,
                    "FailedScheduling",
                    format!("Binding rejected: {}", api_message(&e)),
                )
                .await;
            shared.queue.retry(pod);
        }
    }
}

/// The API's own message for a refused request.
pub fn api_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => s.message.clone(),
        other => other.to_string(),
    }
}
