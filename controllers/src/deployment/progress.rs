//! A Deployment's status as upstream computes it: counts summed over its ReplicaSets, the
//! Available condition (minimum availability: replicas − maxUnavailable), and the Progressing
//! condition (NewReplicaSetCreated, FoundNewReplicaSet, ReplicaSetUpdated,
//! NewReplicaSetAvailable, ProgressDeadlineExceeded, DeploymentPaused, DeploymentResumed).

use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::ResourceExt;

use super::replica_sets::{available, desired, max_unavailable, ready, replicas, status_replicas};

pub const PROGRESSING: &str = "Progressing";
pub const AVAILABLE: &str = "Available";
pub const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
pub const TIMED_OUT: &str = "ProgressDeadlineExceeded";
pub const PAUSED: &str = "DeploymentPaused";
pub const RESUMED: &str = "DeploymentResumed";

pub fn condition(
    kind: &str,
    status: &str,
    reason: &str,
    message: String,
    now: Timestamp,
) -> DeploymentCondition {
    DeploymentCondition {
        type_: kind.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message),
        last_update_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

pub fn get<'a>(status: &'a DeploymentStatus, kind: &str) -> Option<&'a DeploymentCondition> {
    status.conditions.as_ref()?.iter().find(|c| c.type_ == kind)
}

/// Sets a condition (upstream's SetDeploymentCondition): unchanged when status and reason are
/// the same; the transition time kept when only the reason changed; moved to the end.
pub fn set(status: &mut DeploymentStatus, mut cond: DeploymentCondition) {
    if let Some(cur) = get(status, &cond.type_) {
        if cur.status == cond.status && cur.reason == cond.reason {
            return;
        }
        if cur.status == cond.status {
            cond.last_transition_time = cur.last_transition_time.clone();
        }
    }
    let conds = status.conditions.get_or_insert_with(Vec::new);
    conds.retain(|c| c.type_ != cond.type_);
    conds.push(cond);
}

pub fn remove(status: &mut DeploymentStatus, kind: &str) {
    if let Some(c) = status.conditions.as_mut() {
        c.retain(|c| c.type_ != kind);
    }
}

pub fn deadline(d: &Deployment) -> Option<i32> {
    // Unset means none here; the API defaults it to 600 s, and i32::MAX means none upstream.
    d.spec
        .as_ref()?
        .progress_deadline_seconds
        .filter(|s| *s != i32::MAX)
}

/// The status the ReplicaSets add up to (upstream's calculateStatus), conditions carried over
/// and Available set.
pub fn calculate(
    d: &Deployment,
    all: &[&ReplicaSet],
    new: Option<&ReplicaSet>,
    now: Timestamp,
) -> DeploymentStatus {
    let old = d.status.clone().unwrap_or_default();
    let avail: i32 = all.iter().map(|r| available(r)).sum();
    let total: i32 = all.iter().map(|r| replicas(r)).sum();
    let mut status = DeploymentStatus {
        observed_generation: d.metadata.generation,
        replicas: Some(all.iter().map(|r| status_replicas(r)).sum()),
        updated_replicas: Some(new.map_or(0, status_replicas)),
        ready_replicas: Some(all.iter().map(|r| ready(r)).sum()),
        available_replicas: Some(avail),
        unavailable_replicas: Some((total - avail).max(0)),
        collision_count: old.collision_count,
        conditions: old.conditions.clone(),
        terminating_replicas: None,
    };
    if avail >= desired(d) - max_unavailable(d) {
        set(
            &mut status,
            condition(
                AVAILABLE,
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.".into(),
                now,
            ),
        );
    } else {
        set(
            &mut status,
            condition(
                AVAILABLE,
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.".into(),
                now,
            ),
        );
    }
    status
}

fn n(v: Option<i32>) -> i32 {
    v.unwrap_or(0)
}

/// Every replica updated and available, and the status observed (upstream's DeploymentComplete).
pub fn complete(d: &Deployment, s: &DeploymentStatus) -> bool {
    let want = desired(d);
    n(s.updated_replicas) == want
        && n(s.replicas) == want
        && n(s.available_replicas) == want
        && s.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0)
}

/// More replicas updated, ready or available, or fewer old ones, than the last status said.
fn progressing(d: &Deployment, new: &DeploymentStatus) -> bool {
    let old = d.status.clone().unwrap_or_default();
    let old_olds = n(old.replicas) - n(old.updated_replicas);
    let new_olds = n(new.replicas) - n(new.updated_replicas);
    n(new.updated_replicas) > n(old.updated_replicas)
        || n(new.ready_replicas) > n(old.ready_replicas)
        || n(new.available_replicas) > n(old.available_replicas)
        || new_olds < old_olds
}

/// When a rollout that has not progressed since its condition's update time times out.
pub fn times_out_at(d: &Deployment, s: &DeploymentStatus) -> Option<Timestamp> {
    let secs = deadline(d)?;
    let cond = get(s, PROGRESSING)?;
    if cond.reason.as_deref() == Some(NEW_RS_AVAILABLE) {
        return None;
    }
    let from = cond.last_update_time.as_ref()?.0;
    Some(from + SignedDuration::from_secs(i64::from(secs)))
}

fn timed_out(d: &Deployment, s: &DeploymentStatus, now: Timestamp) -> bool {
    match get(s, PROGRESSING) {
        Some(c) if c.reason.as_deref() == Some(TIMED_OUT) => true,
        _ => times_out_at(d, s).is_some_and(|t| now > t),
    }
}

/// The rollout's status (upstream's syncRolloutStatus): the calculated status with the
/// Progressing condition brought up to date.
pub fn rollout_status(
    d: &Deployment,
    all: &[&ReplicaSet],
    new: Option<&ReplicaSet>,
    now: Timestamp,
) -> DeploymentStatus {
    let mut status = calculate(d, all, new, now);
    if deadline(d).is_none() {
        remove(&mut status, PROGRESSING);
        return status;
    }
    let current = d.status.as_ref().and_then(|s| get(s, PROGRESSING)).cloned();
    let done = n(status.replicas) == n(status.updated_replicas)
        && current
            .as_ref()
            .is_some_and(|c| c.reason.as_deref() == Some(NEW_RS_AVAILABLE));
    if done {
        return status;
    }
    let rs_name = new.map(|r| r.name_any());
    if complete(d, &status) {
        let msg = match &rs_name {
            Some(n) => format!("ReplicaSet {n:?} has successfully progressed."),
            None => format!("Deployment {:?} has successfully progressed.", d.name_any()),
        };
        set(
            &mut status,
            condition(PROGRESSING, "True", NEW_RS_AVAILABLE, msg, now),
        );
    } else if progressing(d, &status) {
        let mut cond = condition(
            PROGRESSING,
            "True",
            "ReplicaSetUpdated",
            format!(
                "ReplicaSet {:?} is progressing.",
                rs_name.unwrap_or_default()
            ),
            now,
        );
        if let Some(cur) = &current {
            if cur.status == "True" {
                cond.last_transition_time = cur.last_transition_time.clone();
            }
            remove(&mut status, PROGRESSING);
        }
        set(&mut status, cond);
    } else if timed_out(d, &status, now) {
        set(
            &mut status,
            condition(
                PROGRESSING,
                "False",
                TIMED_OUT,
                format!(
                    "ReplicaSet {:?} has timed out progressing.",
                    rs_name.unwrap_or_default()
                ),
                now,
            ),
        );
    }
    status
}

/// The Progressing condition a pause or resume sets (upstream's checkPausedConditions), if
/// the status needs one.
pub fn paused_condition(d: &Deployment, now: Timestamp) -> Option<DeploymentCondition> {
    let status = d.status.clone().unwrap_or_default();
    let cond = get(&status, PROGRESSING);
    if cond.is_some_and(|c| c.reason.as_deref() == Some(TIMED_OUT)) {
        return None;
    }
    let paused_shown = cond.is_some_and(|c| c.reason.as_deref() == Some(PAUSED));
    let paused = d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
    if paused && !paused_shown {
        Some(condition(
            PROGRESSING,
            "Unknown",
            PAUSED,
            "Deployment is paused".into(),
            now,
        ))
    } else if !paused && paused_shown {
        Some(condition(
            PROGRESSING,
            "Unknown",
            RESUMED,
            "Deployment is resumed".into(),
            now,
        ))
    } else {
        None
    }
}
