//! A StatefulSet's status as upstream computes it: which pods count as created, ready,
//! available, current and updated; a finished rolling update making the update revision the
//! current one; and the status written only when it changed.

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};

use super::identity::pod_revision;
use crate::pod_state;

/// Made by the API server (it has a phase); a pod only built by the controller has none.
pub fn is_created(p: &Pod) -> bool {
    pod_state::phase(p).is_some_and(|ph| !ph.is_empty())
}

pub fn is_terminating(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_some()
}

pub fn is_running_and_ready(p: &Pod) -> bool {
    pod_state::phase(p) == Some("Running") && pod_state::is_ready(p)
}

/// Ready for `min_ready` seconds.
pub fn is_available(p: &Pod, min_ready: i32, now: Timestamp) -> bool {
    pod_state::is_available(p, min_ready, now)
}

/// Not Running, Ready, available and staying (upstream's isUnavailable).
pub fn is_unavailable(p: &Pod, min_ready: i32, now: Timestamp) -> bool {
    !is_running_and_ready(p) || is_terminating(p) || !is_available(p, min_ready, now)
}

pub fn min_ready_seconds(set: &StatefulSet) -> i32 {
    set.spec
        .as_ref()
        .and_then(|s| s.min_ready_seconds)
        .unwrap_or(0)
}

/// Counts `pods` into `status`'s replica fields (upstream's updateStatus).
pub fn count<'a>(
    status: &mut StatefulSetStatus,
    pods: impl IntoIterator<Item = &'a Pod>,
    min_ready: i32,
    current_revision: &str,
    update_revision: &str,
    now: Timestamp,
) {
    let (mut replicas, mut ready, mut available, mut current, mut updated) = (0, 0, 0, 0, 0);
    for p in pods {
        if is_created(p) {
            replicas += 1;
        }
        if is_running_and_ready(p) {
            ready += 1;
            if is_available(p, min_ready, now) {
                available += 1;
            }
        }
        if is_created(p) && !is_terminating(p) {
            let rev = pod_revision(p);
            if rev == current_revision {
                current += 1;
            }
            if rev == update_revision {
                updated += 1;
            }
        }
    }
    status.replicas = replicas;
    status.ready_replicas = Some(ready);
    status.available_replicas = Some(available);
    status.current_replicas = Some(current);
    status.updated_replicas = Some(updated);
}

fn is_rolling(set: &StatefulSet) -> bool {
    set.spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|u| u.type_.as_deref())
        .is_none_or(|t| t == "RollingUpdate")
}

/// Once every pod is updated and ready, the update revision becomes the current one
/// (upstream's completeRollingUpdate).
pub fn complete_rolling_update(set: &StatefulSet, status: &mut StatefulSetStatus) {
    let n = |v: Option<i32>| v.unwrap_or(0);
    if is_rolling(set)
        && n(status.updated_replicas) == status.replicas
        && n(status.ready_replicas) == status.replicas
    {
        status.current_replicas = status.updated_replicas;
        status.current_revision = status.update_revision.clone();
    }
}

/// Whether `status` says something the set's status does not (upstream's inconsistentStatus,
/// plus the collision count).
pub fn differs(set: &StatefulSet, status: &StatefulSetStatus) -> bool {
    let Some(old) = set.status.as_ref() else {
        return true;
    };
    let n = |v: Option<i32>| v.unwrap_or(0);
    status.observed_generation.unwrap_or(0) > old.observed_generation.unwrap_or(0)
        || status.replicas != old.replicas
        || n(status.current_replicas) != n(old.current_replicas)
        || n(status.ready_replicas) != n(old.ready_replicas)
        || n(status.updated_replicas) != n(old.updated_replicas)
        || n(status.available_replicas) != n(old.available_replicas)
        || status.current_revision.as_deref().unwrap_or_default()
            != old.current_revision.as_deref().unwrap_or_default()
        || status.update_revision.as_deref().unwrap_or_default()
            != old.update_revision.as_deref().unwrap_or_default()
        || status.collision_count.unwrap_or(0) != old.collision_count.unwrap_or(0)
}

/// The merge patch writing `status`: counts of zero left out as upstream's omitempty fields
/// (null removes them), `replicas` and `availableReplicas` always written.
pub fn patch(status: &StatefulSetStatus) -> Value {
    let count = |v: Option<i32>| match v.unwrap_or(0) {
        0 => Value::Null,
        n => json!(n),
    };
    let text = |v: &Option<String>| match v.as_deref() {
        None | Some("") => Value::Null,
        Some(s) => json!(s),
    };
    json!({"status": {
        "observedGeneration": status.observed_generation,
        "replicas": status.replicas,
        "readyReplicas": count(status.ready_replicas),
        "currentReplicas": count(status.current_replicas),
        "updatedReplicas": count(status.updated_replicas),
        "availableReplicas": status.available_replicas.unwrap_or(0),
        "currentRevision": text(&status.current_revision),
        "updateRevision": text(&status.update_revision),
        "collisionCount": status.collision_count,
    }})
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn pod(phase: Option<&str>, ready: bool, rev: &str, terminating: bool) -> Pod {
        let mut meta = json!({"name": "web-0", "labels": {"controller-revision-hash": rev}});
        if terminating {
            meta["deletionTimestamp"] = json!("2020-01-01T00:00:00Z");
        }
        serde_json::from_value(json!({"metadata": meta, "status": {"phase": phase,
            "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" },
                "lastTransitionTime": "2020-01-01T00:00:00Z"}]}}))
        .unwrap()
    }

    #[test]
    fn pods_count_as_upstream_counts_them() {
        let pods = [
            pod(Some("Running"), true, "a", false),
            pod(Some("Running"), true, "b", false),
            pod(Some("Pending"), false, "b", false),
            pod(Some("Running"), true, "a", true),
            pod(None, false, "b", false),
        ];
        let mut s = StatefulSetStatus::default();
        count(&mut s, pods.iter(), 0, "a", "b", Timestamp::now());
        assert_eq!(s.replicas, 4);
        assert_eq!(s.ready_replicas, Some(3));
        assert_eq!(s.available_replicas, Some(3));
        assert_eq!(s.current_replicas, Some(1));
        assert_eq!(s.updated_replicas, Some(2));
    }

    #[test]
    fn a_finished_rolling_update_makes_the_update_revision_current() {
        let set: StatefulSet = serde_json::from_value(json!({"metadata": {"name": "web"},
            "spec": {"selector": {}, "template": {}}}))
        .unwrap();
        let mut s = StatefulSetStatus {
            replicas: 2,
            ready_replicas: Some(2),
            updated_replicas: Some(2),
            current_replicas: Some(0),
            current_revision: Some("a".into()),
            update_revision: Some("b".into()),
            ..StatefulSetStatus::default()
        };
        complete_rolling_update(&set, &mut s);
        assert_eq!(s.current_revision.as_deref(), Some("b"));
        assert_eq!(s.current_replicas, Some(2));
        assert!(differs(&set, &s));
    }

    #[test]
    fn zero_counts_are_left_out_of_the_patch() {
        let s = StatefulSetStatus {
            replicas: 0,
            observed_generation: Some(1),
            collision_count: Some(0),
            ..StatefulSetStatus::default()
        };
        let p = patch(&s);
        assert_eq!(p["status"]["replicas"], 0);
        assert_eq!(p["status"]["availableReplicas"], 0);
        assert!(p["status"]["readyReplicas"].is_null());
        assert_eq!(p["status"]["collisionCount"], 0);
    }
}
