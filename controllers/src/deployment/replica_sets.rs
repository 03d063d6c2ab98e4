//! The deployment controller's rules about its ReplicaSets, as upstream's deployment util has
//! them: the pod-template hash, which ReplicaSet is the new one (its template equal to the
//! Deployment's but for the hash label), revisions and the annotations a Deployment copies onto
//! its ReplicaSets, and maxSurge / maxUnavailable resolved against the replica count.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;
use serde_json::Value;

/// The label a Deployment adds to its ReplicaSets' selectors, templates and pods.
pub const HASH_LABEL: &str = "pod-template-hash";
pub const REVISION: &str = "deployment.kubernetes.io/revision";
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";

/// Annotations of a Deployment never copied onto its ReplicaSets.
const NOT_COPIED: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
];

/// The pod-template hash: FNV-1a (32 bits) of the template and the collision count, its
/// decimal digits spelled in the safe alphabet as upstream's ComputeHash does. (Upstream hashes Go's
/// printing of the struct, so the values differ; the form and the properties are the same.)
pub fn template_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let mut h: u32 = 0x811c_9dc5;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            h ^= u32::from(*b);
            h = h.wrapping_mul(0x0100_0193);
        }
    };
    feed(&serde_json::to_vec(template).unwrap_or_default());
    if let Some(c) = collision_count {
        feed(&(c as u32).to_le_bytes());
    }
    crate::controller_revision::safe_encode(&h.to_string())
}

/// The template as JSON without the hash label, empty maps dropped.
fn without_hash(t: &PodTemplateSpec) -> Value {
    let mut v = serde_json::to_value(t).unwrap_or(Value::Null);
    if let Some(labels) = v
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        labels.remove(HASH_LABEL);
        if labels.is_empty() {
            if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
                m.remove("labels");
            }
        }
    }
    v
}

/// Whether two templates are equal but for the hash label (upstream's EqualIgnoreHash).
pub fn equal_ignoring_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    without_hash(a) == without_hash(b)
}

pub fn template_of(rs: &ReplicaSet) -> PodTemplateSpec {
    rs.spec
        .as_ref()
        .and_then(|s| s.template.clone())
        .unwrap_or_default()
}

pub fn deployment_template(d: &Deployment) -> PodTemplateSpec {
    d.spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default()
}

/// Oldest first, then by name (upstream's ReplicaSetsByCreationTimestamp).
pub fn by_creation(sets: &mut [ReplicaSet]) {
    sets.sort_by(|a, b| {
        let t = |r: &ReplicaSet| r.metadata.creation_timestamp.as_ref().map(|t| t.0);
        t(a).cmp(&t(b))
            .then_with(|| a.name_any().cmp(&b.name_any()))
    });
}

/// The new ReplicaSet (the oldest whose template matches the Deployment's) and the others.
pub fn split_new_and_old(
    d: &Deployment,
    mut sets: Vec<ReplicaSet>,
) -> (Option<ReplicaSet>, Vec<ReplicaSet>) {
    by_creation(&mut sets);
    let template = deployment_template(d);
    let new = sets
        .iter()
        .position(|rs| equal_ignoring_hash(&template_of(rs), &template));
    let new = new.map(|i| sets.remove(i));
    (new, sets)
}

pub fn replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

pub fn set_replicas(rs: &mut ReplicaSet, n: i32) {
    rs.spec.get_or_insert_with(Default::default).replicas = Some(n);
}

pub fn desired(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

pub fn status_replicas(rs: &ReplicaSet) -> i32 {
    rs.status.as_ref().map_or(0, |s| s.replicas)
}

pub fn available(rs: &ReplicaSet) -> i32 {
    rs.status
        .as_ref()
        .and_then(|s| s.available_replicas)
        .unwrap_or(0)
}

pub fn ready(rs: &ReplicaSet) -> i32 {
    rs.status
        .as_ref()
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0)
}

/// The revision a ReplicaSet carries (0 when none or unreadable).
pub fn revision(rs: &ReplicaSet) -> i64 {
    rs.annotations()
        .get(REVISION)
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

pub fn is_rolling(d: &Deployment) -> bool {
    d.spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.type_.as_deref())
        .is_none_or(|t| t == "RollingUpdate")
}

/// An int-or-percent against `total`, percentages rounded up or down (upstream's
/// GetScaledValueFromIntOrPercent); a malformed percentage counts as 0.
pub fn scaled(v: Option<&IntOrString>, total: i32, round_up: bool) -> i32 {
    match v {
        None => 0,
        Some(IntOrString::Int(i)) => *i,
        Some(IntOrString::String(s)) => {
            let Some(p) = s.strip_suffix('%').and_then(|p| p.parse::<i64>().ok()) else {
                return 0;
            };
            let scaled = p * i64::from(total);
            let v = if round_up {
                (scaled + 99).div_euclid(100)
            } else {
                scaled.div_euclid(100)
            };
            v as i32
        }
    }
}

/// maxSurge and maxUnavailable for the Deployment's replica count; both zero would stall, so
/// unavailable becomes 1 (upstream's ResolveFenceposts). Defaults 25% each.
fn fenceposts(d: &Deployment) -> (i32, i32) {
    let ru = d
        .spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.rolling_update.as_ref());
    let quarter = IntOrString::String("25%".into());
    let surge = ru.map_or(Some(&quarter), |r| r.max_surge.as_ref());
    let unavailable = ru.map_or(Some(&quarter), |r| r.max_unavailable.as_ref());
    let n = desired(d);
    let surge = scaled(surge, n, true);
    let unavailable = scaled(unavailable, n, false);
    if surge == 0 && unavailable == 0 {
        (0, 1)
    } else {
        (surge, unavailable)
    }
}

pub fn max_surge(d: &Deployment) -> i32 {
    if is_rolling(d) {
        fenceposts(d).0
    } else {
        0
    }
}

pub fn max_unavailable(d: &Deployment) -> i32 {
    if !is_rolling(d) || desired(d) == 0 {
        return 0;
    }
    fenceposts(d).1.min(desired(d))
}

fn annotations_mut(rs: &mut ReplicaSet) -> &mut BTreeMap<String, String> {
    rs.metadata.annotations.get_or_insert_with(BTreeMap::new)
}

/// Sets the desired- and max-replicas annotations; whether they changed.
pub fn set_replicas_annotations(rs: &mut ReplicaSet, desired: i32, max: i32) -> bool {
    let a = annotations_mut(rs);
    let mut changed = false;
    for (k, v) in [(DESIRED_REPLICAS, desired), (MAX_REPLICAS, max)] {
        let v = v.to_string();
        if a.get(k) != Some(&v) {
            a.insert(k.into(), v);
            changed = true;
        }
    }
    changed
}

/// Copies the Deployment's annotations (but those never copied) onto the ReplicaSet; whether
/// any changed.
fn copy_annotations(d: &Deployment, rs: &mut ReplicaSet) -> bool {
    let a = annotations_mut(rs);
    let mut changed = false;
    for (k, v) in d.annotations() {
        if NOT_COPIED.contains(&k.as_str()) || a.get(k) == Some(v) {
            continue;
        }
        a.insert(k.clone(), v.clone());
        changed = true;
    }
    changed
}

/// The annotations of the Deployment's new ReplicaSet (upstream's SetNewReplicaSetAnnotations):
/// the Deployment's own, the revision raised to `new_revision` (the old one kept in the
/// revision history), and for a ReplicaSet being made the replica annotations; whether any
/// changed.
pub fn set_new_annotations(
    d: &Deployment,
    rs: &mut ReplicaSet,
    new_revision: i64,
    exists: bool,
) -> bool {
    let mut changed = copy_annotations(d, rs);
    let a = annotations_mut(rs);
    let old = a.get(REVISION).cloned().unwrap_or_default();
    let old_n: i64 = if old.is_empty() {
        0
    } else {
        match old.parse() {
            Ok(n) => n,
            Err(_) => return changed,
        }
    };
    if old_n < new_revision {
        a.insert(REVISION.into(), new_revision.to_string());
        changed = true;
        if !old.is_empty() {
            let history = match a.get(REVISION_HISTORY) {
                Some(h) if !h.is_empty() => format!("{h},{old}"),
                _ => old,
            };
            a.insert(REVISION_HISTORY.into(), history);
        }
    }
    if !exists && set_replicas_annotations(rs, desired(d), desired(d) + max_surge(d)) {
        changed = true;
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(replicas: i32, surge: Value, unavailable: Value) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "d"},
            "spec": {"replicas": replicas, "selector": {}, "template": {},
                "strategy": {"type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}},
        }))
        .unwrap()
    }

    #[test]
    fn surge_rounds_up_and_unavailable_down_and_never_both_zero() {
        let d = deployment(10, json!("25%"), json!("25%"));
        assert_eq!((max_surge(&d), max_unavailable(&d)), (3, 2));
        let d = deployment(3, json!(0), json!(0));
        assert_eq!((max_surge(&d), max_unavailable(&d)), (0, 1));
        let d = deployment(2, json!(1), json!(5));
        assert_eq!(max_unavailable(&d), 2, "capped at the replica count");
        let d = deployment(0, json!(1), json!(1));
        assert_eq!(max_unavailable(&d), 0);
    }

    #[test]
    fn the_hash_depends_on_template_and_collisions_and_is_spelled_safely() {
        let t: PodTemplateSpec =
            serde_json::from_value(json!({"metadata": {"labels": {"app": "a"}}})).unwrap();
        let u: PodTemplateSpec =
            serde_json::from_value(json!({"metadata": {"labels": {"app": "b"}}})).unwrap();
        let h = template_hash(&t, None);
        assert_eq!(h, template_hash(&t, None));
        assert_ne!(h, template_hash(&u, None));
        assert_ne!(h, template_hash(&t, Some(1)));
        assert!(
            h.bytes()
                .all(|b| crate::controller_revision::SAFE.contains(&b)),
            "{h}"
        );
    }

    #[test]
    fn templates_equal_but_for_the_hash_label() {
        let t: PodTemplateSpec =
            serde_json::from_value(json!({"metadata": {"labels": {"app": "a"}}})).unwrap();
        let hashed: PodTemplateSpec =
            serde_json::from_value(json!({"metadata": {"labels": {"app": "a", HASH_LABEL: "x"}}}))
                .unwrap();
        let other: PodTemplateSpec =
            serde_json::from_value(json!({"metadata": {"labels": {"app": "b", HASH_LABEL: "x"}}}))
                .unwrap();
        assert!(equal_ignoring_hash(&t, &hashed));
        assert!(!equal_ignoring_hash(&t, &other));
    }

    #[test]
    fn a_reused_replica_set_keeps_its_old_revisions_in_the_history() {
        let d = deployment(1, json!(1), json!(0));
        let mut rs: ReplicaSet = serde_json::from_value(json!({
            "metadata": {"name": "r", "annotations": {REVISION: "2", REVISION_HISTORY: "1"}},
        }))
        .unwrap();
        assert!(set_new_annotations(&d, &mut rs, 5, true));
        assert_eq!(rs.annotations()[REVISION], "5");
        assert_eq!(rs.annotations()[REVISION_HISTORY], "1,2");
        assert!(!set_new_annotations(&d, &mut rs, 5, true));
    }
}
