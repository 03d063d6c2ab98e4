//! Taints and tolerations as the node lifecycle controller and the taint manager read and
//! write them: which taint each node condition calls for, whether a pod's tolerations cover a
//! node's taints and for how long, and the optimistic-concurrency write that swaps a node's
//! taints.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Taint, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use serde_json::json;

use crate::ControllerError;

pub const NOT_READY: &str = "node.kubernetes.io/not-ready";
pub const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
pub const MEMORY_PRESSURE: &str = "node.kubernetes.io/memory-pressure";
pub const DISK_PRESSURE: &str = "node.kubernetes.io/disk-pressure";
pub const PID_PRESSURE: &str = "node.kubernetes.io/pid-pressure";
pub const NETWORK_UNAVAILABLE: &str = "node.kubernetes.io/network-unavailable";
pub const UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";

pub const NO_EXECUTE: &str = "NoExecute";
pub const NO_SCHEDULE: &str = "NoSchedule";

/// How many times a taint write re-reads the node after losing a race.
const WRITE_ATTEMPTS: usize = 5;

pub fn taint(key: &str, effect: &str) -> Taint {
    Taint {
        key: key.into(),
        effect: effect.into(),
        ..Taint::default()
    }
}

/// The taint a node condition in a status calls for (upstream's nodeConditionToTaintKeyStatusMap).
pub fn condition_taint_key(condition: &str, status: &str) -> Option<&'static str> {
    match (condition, status) {
        ("Ready", "False") => Some(NOT_READY),
        ("Ready", "Unknown") => Some(UNREACHABLE),
        ("MemoryPressure", "True") => Some(MEMORY_PRESSURE),
        ("DiskPressure", "True") => Some(DISK_PRESSURE),
        ("NetworkUnavailable", "True") => Some(NETWORK_UNAVAILABLE),
        ("PIDPressure", "True") => Some(PID_PRESSURE),
        _ => None,
    }
}

/// Whether `key` is one of the taints that mirror a node condition.
fn is_condition_taint(key: &str) -> bool {
    matches!(
        key,
        NOT_READY
            | UNREACHABLE
            | MEMORY_PRESSURE
            | DISK_PRESSURE
            | NETWORK_UNAVAILABLE
            | PID_PRESSURE
    )
}

/// Same key and effect (upstream's MatchTaint).
pub fn same(a: &Taint, b: &Taint) -> bool {
    a.key == b.key && a.effect == b.effect
}

pub fn node_taints(node: &Node) -> &[Taint] {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_deref())
        .unwrap_or(&[])
}

pub fn has(node: &Node, t: &Taint) -> bool {
    node_taints(node).iter().any(|n| same(n, t))
}

/// The NoSchedule taints the node's conditions and `spec.unschedulable` call for, and which
/// of those it has to add and remove (upstream's TaintNodesByCondition).
pub fn no_schedule_diff(node: &Node) -> (Vec<Taint>, Vec<Taint>) {
    let mut wanted: Vec<Taint> = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|c| condition_taint_key(&c.type_, &c.status))
        .map(|k| taint(k, NO_SCHEDULE))
        .collect();
    if node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
        wanted.push(taint(UNSCHEDULABLE, NO_SCHEDULE));
    }
    let current: Vec<&Taint> = node_taints(node)
        .iter()
        .filter(|t| {
            t.effect == NO_SCHEDULE && (t.key == UNSCHEDULABLE || is_condition_taint(&t.key))
        })
        .collect();
    let add = wanted
        .iter()
        .filter(|w| !current.iter().any(|c| same(c, w)))
        .cloned()
        .collect();
    let remove = current
        .iter()
        .filter(|c| !wanted.iter().any(|w| same(c, w)))
        .map(|c| (*c).clone())
        .collect();
    (add, remove)
}

/// Whether `tol` tolerates `taint` (upstream's ToleratesTaint).
pub fn tolerates(tol: &Toleration, taint: &Taint) -> bool {
    let effect = tol.effect.as_deref().unwrap_or("");
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = tol.key.as_deref().unwrap_or("");
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match tol.operator.as_deref().unwrap_or("") {
        "" | "Equal" => tol.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
        "Exists" => true,
        _ => false,
    }
}

/// For every taint the first toleration that tolerates it, or `None` when one is not
/// tolerated (upstream's GetMatchingTolerations).
pub fn matching_tolerations<'a>(
    taints: &[Taint],
    tolerations: &'a [Toleration],
) -> Option<Vec<&'a Toleration>> {
    taints
        .iter()
        .map(|t| tolerations.iter().find(|tol| tolerates(tol, t)))
        .collect()
}

/// How long the used tolerations let a pod stay: the least `tolerationSeconds` (zero or less
/// is at once, and so is no toleration at all), or `None` for forever.
pub fn toleration_time(used: &[&Toleration]) -> Option<Duration> {
    if used.is_empty() {
        return Some(Duration::ZERO);
    }
    let least = used.iter().filter_map(|t| t.toleration_seconds).min()?;
    Some(Duration::from_secs(u64::try_from(least).unwrap_or(0)))
}

/// Adds `add` (stamped `timeAdded` now; one of the same key and effect already there stays as
/// it is) and removes `remove` from node `name`'s taints, re-reading the node when a write
/// loses a race. A node that is gone is left alone.
pub async fn swap(
    client: &Client,
    name: &str,
    add: &[Taint],
    remove: &[Taint],
) -> Result<(), ControllerError> {
    let api: Api<Node> = Api::all(client.clone());
    let mut last = None;
    for _ in 0..WRITE_ATTEMPTS {
        let Some(node) = api.get_opt(name).await? else {
            return Ok(());
        };
        let current = node_taints(&node);
        let mut next: Vec<Taint> = current
            .iter()
            .filter(|t| !remove.iter().any(|r| same(r, t)))
            .cloned()
            .collect();
        let now = Time(Timestamp::now());
        for a in add {
            if !next.iter().any(|t| same(t, a)) {
                let mut a = a.clone();
                a.time_added = Some(now.clone());
                next.push(a);
            }
        }
        if next.as_slice() == current {
            return Ok(());
        }
        let taints = if next.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::to_value(&next).unwrap_or_default()
        };
        let patch = json!({
            "metadata": {"resourceVersion": node.metadata.resource_version},
            "spec": {"taints": taints},
        });
        match api
            .patch(name, &PatchParams::default(), &Patch::Merge(patch))
            .await
        {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 => last = Some(s.message),
            Err(e) => return Err(e.into()),
        }
    }
    Err(ControllerError::Conflict(format!(
        "taints of node {name} not written: {}",
        last.unwrap_or_default()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tol(v: serde_json::Value) -> Toleration {
        serde_json::from_value(v).unwrap()
    }

    fn node(v: serde_json::Value) -> Node {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn tolerations_match_as_upstream() {
        let unreachable = taint(UNREACHABLE, NO_EXECUTE);
        assert!(tolerates(&tol(json!({"operator": "Exists"})), &unreachable));
        assert!(tolerates(
            &tol(json!({"key": UNREACHABLE, "operator": "Exists"})),
            &unreachable
        ));
        assert!(!tolerates(
            &tol(json!({"key": UNREACHABLE, "operator": "Exists", "effect": "NoSchedule"})),
            &unreachable
        ));
        // Equal (the default) compares values; the taint has none.
        assert!(tolerates(&tol(json!({"key": UNREACHABLE})), &unreachable));
        assert!(!tolerates(
            &tol(json!({"key": UNREACHABLE, "value": "x"})),
            &unreachable
        ));
        assert!(!tolerates(
            &tol(json!({"key": NOT_READY, "operator": "Exists"})),
            &unreachable
        ));
    }

    #[test]
    fn the_least_toleration_seconds_bound_the_stay() {
        let taints = [taint(UNREACHABLE, NO_EXECUTE), taint("custom", NO_EXECUTE)];
        let tols = [
            tol(json!({"key": UNREACHABLE, "operator": "Exists", "tolerationSeconds": 30})),
            tol(json!({"key": "custom", "operator": "Exists", "tolerationSeconds": 5})),
        ];
        let used = matching_tolerations(&taints, &tols).unwrap();
        assert_eq!(toleration_time(&used), Some(Duration::from_secs(5)));
        // A taint nothing tolerates: not all tolerated.
        assert!(matching_tolerations(&taints, &tols[..1]).is_none());
        // Tolerated without tolerationSeconds: forever.
        let forever = [tol(json!({"operator": "Exists"}))];
        let used = matching_tolerations(&taints, &forever).unwrap();
        assert_eq!(toleration_time(&used), None);
        // Negative seconds: at once.
        let now = [tol(json!({"operator": "Exists", "tolerationSeconds": -3}))];
        let used = matching_tolerations(&taints, &now).unwrap();
        assert_eq!(toleration_time(&used), Some(Duration::ZERO));
    }

    #[test]
    fn conditions_and_cordoning_call_for_no_schedule_taints() {
        let n = node(json!({
            "metadata": {"name": "n"},
            "spec": {"unschedulable": true, "taints": [
                {"key": MEMORY_PRESSURE, "effect": "NoSchedule"},
                {"key": "user", "effect": "NoSchedule"},
                {"key": UNREACHABLE, "effect": "NoExecute"},
            ]},
            "status": {"conditions": [
                {"type": "Ready", "status": "Unknown"},
                {"type": "MemoryPressure", "status": "False"},
                {"type": "DiskPressure", "status": "True"},
            ]},
        }));
        let (add, remove) = no_schedule_diff(&n);
        let keys = |ts: &[Taint]| ts.iter().map(|t| t.key.clone()).collect::<Vec<_>>();
        assert_eq!(keys(&add), [UNREACHABLE, DISK_PRESSURE, UNSCHEDULABLE]);
        assert!(add.iter().all(|t| t.effect == NO_SCHEDULE));
        assert_eq!(keys(&remove), [MEMORY_PRESSURE]);
    }
}
