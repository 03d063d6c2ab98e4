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
