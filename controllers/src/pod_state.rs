//! What the workload controllers read from a pod's status: whether it is active (neither
//! finished nor being deleted), ready, and available (ready for `minReadySeconds`).

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;

/// Not finished and not being deleted (upstream's FilterActivePods).
pub fn is_active(p: &Pod) -> bool {
    !is_finished(p) && p.metadata.deletion_timestamp.is_none()
}

/// Succeeded or Failed.
pub fn is_finished(p: &Pod) -> bool {
    matches!(phase(p), Some("Succeeded" | "Failed"))
}

pub fn phase(p: &Pod) -> Option<&str> {
    p.status.as_ref().and_then(|s| s.phase.as_deref())
}

/// Since when the pod has been Ready, if it is.
pub fn ready_since(p: &Pod) -> Option<Timestamp> {
    p.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready" && c.status == "True")
        .map(|c| {
            c.last_transition_time
                .as_ref()
                .map(|t| t.0)
                .unwrap_or_default()
        })
}

pub fn is_ready(p: &Pod) -> bool {
    ready_since(p).is_some()
}

/// Ready for at least `min_ready` seconds at `now`.
pub fn is_available(p: &Pod, min_ready: i32, now: Timestamp) -> bool {
    match ready_since(p) {
        None => false,
        Some(_) if min_ready <= 0 => true,
        Some(t) => now.duration_since(t).as_secs() >= i64::from(min_ready),
    }
}

/// Sorts the pods to delete first to the front, by the main keys of upstream's ActivePods
/// ranking: unscheduled before scheduled, pending before unknown before running, not ready
/// before ready, more restarts before fewer, newer before older. (Upstream also weighs the
/// pod-deletion-cost annotation, pods sharing a node and time since ready; not yet here.)
pub fn deletion_rank(p: &Pod) -> (u8, u8, u8, i64, i64) {
    let scheduled = p
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .is_some_and(|n| !n.is_empty());
    let phase = match p.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Pending") | None => 0,
        Some("Unknown") => 1,
        _ => 2,
    };
    let restarts: i64 = p
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map(|cs| cs.iter().map(|c| i64::from(c.restart_count)).sum())
        .unwrap_or(0);
    let created = p
        .metadata
        .creation_timestamp
        .as_ref()
        .map(|t| t.0.as_second())
        .unwrap_or(0);
    (
        u8::from(scheduled),
        phase,
        u8::from(is_ready(p)),
        -restarts,
        -created,
    )
}
