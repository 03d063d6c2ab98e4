//! The binding cycle: the PreBind plugins' work first (VolumeBinding binds the pod's claims),
//! then the decision is written as a `pods/binding` (the API sets `spec.nodeName`
//! and PodScheduled=True), asynchronously and many at once, so the next cycle does not wait for
//! the write. A successful bind is reported with a `Scheduled` event; a failed one makes the
//! cache forget the assumed pod and sends the pod back to the queue.

use std::sync::Arc;
use std::time::Instant;

use k8s_openapi::api::core::v1::{Binding, ObjectReference, Pod};
use kube::api::{Api, ObjectMeta, PostParams};

use crate::metrics::{AttemptResult, SchedulerMetrics};
use crate::pod_condition::{self, SCHEDULER_ERROR};
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
    if !pre_bind(&shared, &pod, &node, started, &profile).await {
        return;
    }
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
    let binder = shared
        .extenders
        .iter()
        .find(|e| e.is_binder() && e.is_interested(&pod))
        .cloned();
    let result = if let Some(ext) = binder {
        // A binding extender binds instead of the API's binding subresource.
        ext.bind(&pod, &node)
            .await
            .map_err(|e| kube::Error::Service(e.into()))
    } else {
        api.create_subresource::<_, serde_json::Value>(
            "binding",
            &pod.name,
            &PostParams::default(),
            &binding,
        )
        .await
        .map(|_| ())
    };
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
            if let Some(p) = shared.profiles.get(&profile) {
                p.unreserve(&pod, &node);
            }
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

/// PreBind: each plugin's work before the binding, in order (recorded as the "PreBind"
/// extension point when there was any). A failure unreserves, forgets the assumed pod and sends
/// it back to the queue with upstream's message (unless it was deleted meanwhile); `false` then.
async fn pre_bind(
    shared: &Arc<Shared>,
    pod: &Arc<PodInfo>,
    node: &str,
    started: Instant,
    profile: &str,
) -> bool {
    let Some(p) = shared.profiles.get(profile) else {
        return true;
    };
    let hooks = p.pre_bind(&shared.client, pod, node);
    if hooks.is_empty() {
        return true;
    }
    let metrics = SchedulerMetrics::global();
    let began = Instant::now();
    let mut failed = None;
    for (name, hook) in hooks {
        if let Err(s) = hook.await {
            failed = Some(format!("running PreBind plugin {name:?}: {}", s.message()));
            break;
        }
    }
    metrics.point(profile, "PreBind", failed.is_none(), began.elapsed());
    let Some(message) = failed else {
        return true;
    };
    p.unreserve(pod, node);
    shared.cache().forget(&pod.uid);
    metrics.attempt(profile, AttemptResult::Error, started.elapsed());
    tracing::debug!(pod = %pod.key, %node, error = %message, "PreBind failed");
    let api: Api<Pod> = Api::namespaced(shared.client.clone(), &pod.namespace);
    let gone = match api.get_opt(&pod.name).await {
        Ok(None) => true,
        Ok(Some(now)) => now.metadata.uid.as_deref() != Some(pod.uid.as_str()),
        Err(_) => false,
    };
    if !gone {
        shared
            .recorder
            .warning(&pod.pod, "FailedScheduling", message.clone())
            .await;
        pod_condition::set_unschedulable(&shared.client, pod, SCHEDULER_ERROR, &message, None)
            .await;
        shared.queue.retry(pod.clone());
    }
    false
}

/// The API's own message for a refused request.
pub fn api_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => s.message.clone(),
        other => other.to_string(),
    }
}
