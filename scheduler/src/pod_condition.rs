//! The PodScheduled=False condition the scheduler writes on a pod it could not place (reason
//! `Unschedulable`, or `SchedulerError` for an error), with the nominated node when preemption
//! chose one. Written only when it differs from what the pod already carries, as upstream's
//! `updatePod` does, so retries do not churn the pod.

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use crate::pod_info::PodInfo;

pub const UNSCHEDULABLE: &str = "Unschedulable";
pub const SCHEDULER_ERROR: &str = "SchedulerError";

/// Whether the pod already says this.
fn already(pod: &PodInfo, reason: &str, message: &str, nominated: Option<&str>) -> bool {
    let status = pod.pod.status.as_ref();
    let same_condition = status
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| {
            c.type_ == "PodScheduled"
                && c.status == "False"
                && c.reason.as_deref() == Some(reason)
                && c.message.as_deref() == Some(message)
        });
    let current_nominated = status.and_then(|s| s.nominated_node_name.as_deref());
    same_condition && (nominated.is_none() || nominated == current_nominated)
}

/// Writes PodScheduled=False with `reason` and `message` (and `nominatedNodeName`).
pub async fn set_unschedulable(
    client: &kube::Client,
    pod: &PodInfo,
    reason: &str,
    message: &str,
    nominated: Option<&str>,
) {
    if already(pod, reason, message, nominated) {
        return;
    }
    let api: Api<Pod> = Api::namespaced(client.clone(), &pod.namespace);
    let was_false = pod
        .pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .find(|c| c.type_ == "PodScheduled")
        .filter(|c| c.status == "False")
        .and_then(|c| c.last_transition_time.clone());
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let transition = was_false.map_or(now, |t| t.0.to_string());
    let mut status = json!({"conditions": [{
        "type": "PodScheduled", "status": "False", "reason": reason, "message": message,
        "lastProbeTime": null, "lastTransitionTime": transition,
    }]});
    if let Some(n) = nominated {
        status["nominatedNodeName"] = json!(n);
    }
    let patch = json!({"status": status});
    if let Err(e) = api
        .patch_status(&pod.name, &PatchParams::default(), &Patch::Strategic(patch))
        .await
    {
        tracing::debug!(pod = %pod.key, error = %e, "could not record PodScheduled=False");
    }
}
