//! `persistentVolumeClaimRetentionPolicy` as ownerReferences on a pod's claims, which the
//! garbage collector then acts on (upstream's isClaimOwnerUpToDate and
//! updateClaimOwnerRefForSetAndPod): `whenDeleted: Delete` makes the set a controller owner of
//! the claims of the pods it wants, `whenScaled: Delete` makes a scaled-down pod the controller
//! owner of its claims. References to an earlier set or pod of the same name (another uid), or
//! another controller, mean the claim is left alone.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::{Resource, ResourceExt};

use super::identity;
use crate::owners;

/// The policy as (whenScaled is Delete, whenDeleted is Delete); anything else is Retain.
pub fn policy(set: &StatefulSet) -> (bool, bool) {
    let p = set
        .spec
        .as_ref()
        .and_then(|s| s.persistent_volume_claim_retention_policy.as_ref());
    let delete = |v: Option<&String>| v.map(String::as_str) == Some("Delete");
    (
        delete(p.and_then(|p| p.when_scaled.as_ref())),
        delete(p.and_then(|p| p.when_deleted.as_ref())),
    )
}

/// Whether `r` names `obj` by kind and name (whatever its uid).
fn names<K: Resource<DynamicType = ()>>(r: &OwnerReference, obj: &K) -> bool {
    r.api_version == K::api_version(&()) && r.kind == K::kind(&()) && r.name == obj.name_any()
}

fn uid_of<K: Resource>(obj: &K) -> String {
    obj.meta().uid.clone().unwrap_or_default()
}

fn refs(claim: &PersistentVolumeClaim) -> &[OwnerReference] {
    claim
        .metadata
        .owner_references
        .as_deref()
        .unwrap_or_default()
}

/// The claim refers to an object of `obj`'s kind and name with another uid.
fn has_stale_ref<K: Resource<DynamicType = ()>>(claim: &PersistentVolumeClaim, obj: &K) -> bool {
    refs(claim)
        .iter()
        .find(|r| names(r, obj))
        .is_some_and(|r| r.uid != uid_of(obj))
}

/// Whether the claim of a pod not yet made still belongs to an earlier pod of its name (the
/// garbage collector will delete it; the new pod waits).
pub fn is_stale(claim: &PersistentVolumeClaim, pod: &Pod) -> bool {
    has_stale_ref(claim, pod)
}

fn has_ref<K: Resource>(claim: &PersistentVolumeClaim, owner: &K) -> bool {
    let uid = uid_of(owner);
    !uid.is_empty() && refs(claim).iter().any(|r| r.uid == uid)
}

/// With a Delete policy, a controller other than the set or pod holds the claim (or a
/// reference to the set or pod names an earlier one).
fn has_unexpected_controller(claim: &PersistentVolumeClaim, set: &StatefulSet, pod: &Pod) -> bool {
    if policy(set) == (false, false) {
        return false;
    }
    refs(claim).iter().any(|r| {
        if names(r, set) {
            r.uid != uid_of(set)
        } else if names(r, pod) {
            r.uid != uid_of(pod)
        } else {
            r.controller == Some(true)
        }
    })
}

fn has_non_controller_owner(claim: &PersistentVolumeClaim, set: &StatefulSet, pod: &Pod) -> bool {
    let (s, p) = (uid_of(set), uid_of(pod));
    refs(claim)
        .iter()
        .any(|r| (r.uid == s || (!p.is_empty() && r.uid == p)) && r.controller != Some(true))
}

fn scaled_down(set: &StatefulSet, pod: &Pod) -> bool {
    identity::ordinal(pod).is_none_or(|o| !identity::in_range(set, o))
}

/// Whether the claim's references already say what the policy asks.
pub fn up_to_date(claim: &PersistentVolumeClaim, set: &StatefulSet, pod: &Pod) -> bool {
    if has_stale_ref(claim, set) || has_stale_ref(claim, pod) {
        return true;
    }
    if has_unexpected_controller(claim, set, pod) {
        return !(has_ref(claim, set) || has_ref(claim, pod));
    }
    if has_non_controller_owner(claim, set, pod) {
        return false;
    }
    let (on_set, on_pod) = wanted(set, pod);
    has_ref(claim, set) == on_set && has_ref(claim, pod) == on_pod
}

/// Which of (set, pod) the policy wants as the claim's controller.
fn wanted(set: &StatefulSet, pod: &Pod) -> (bool, bool) {
    let (when_scaled, when_deleted) = policy(set);
    let down = scaled_down(set, pod);
    match (when_scaled, when_deleted) {
        (false, false) => (false, false),
        (false, true) => (true, false),
        (true, false) => (false, down),
        (true, true) => (!down, down),
    }
}

/// The claim's ownerReferences as the policy wants them: any to the set or pod dropped, then
/// the wanted ones added as controller references (none when another controller holds it).
pub fn owner_refs(
    claim: &PersistentVolumeClaim,
    set: &StatefulSet,
    pod: &Pod,
) -> Vec<OwnerReference> {
    let unexpected = has_unexpected_controller(claim, set, pod);
    let mut out: Vec<OwnerReference> = refs(claim)
        .iter()
        .filter(|r| !names(r, set) && !names(r, pod))
        .cloned()
        .collect();
    if unexpected {
        return out;
    }
    let (on_set, on_pod) = wanted(set, pod);
    if on_set {
        out.push(owners::controller_ref(set));
    }
    if on_pod && !uid_of(pod).is_empty() {
        out.push(owners::controller_ref(pod));
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn set(scaled: &str, deleted: &str, replicas: i32) -> StatefulSet {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "ns", "uid": "set-uid"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                "template": {}, "persistentVolumeClaimRetentionPolicy":
                    {"whenScaled": scaled, "whenDeleted": deleted}},
        }))
        .unwrap()
    }

    fn pod(ordinal: i32) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": format!("web-{ordinal}"), "uid": format!("pod-{ordinal}")}}))
            .unwrap()
    }

    fn claim(refs: serde_json::Value) -> PersistentVolumeClaim {
        serde_json::from_value(json!({"metadata": {"name": "www-web-1", "ownerReferences": refs}}))
            .unwrap()
    }

    fn uids(refs: &[OwnerReference]) -> Vec<&str> {
        refs.iter().map(|r| r.uid.as_str()).collect()
    }

    #[test]
    fn retain_retain_wants_no_references() {
        let s = set("Retain", "Retain", 3);
        let c = claim(json!([]));
        assert!(up_to_date(&c, &s, &pod(1)));
        assert!(owner_refs(&c, &s, &pod(1)).is_empty());
    }

    #[test]
    fn when_deleted_delete_makes_the_set_the_owner() {
        let s = set("Retain", "Delete", 3);
        let c = claim(json!([]));
        assert!(!up_to_date(&c, &s, &pod(1)));
        let refs = owner_refs(&c, &s, &pod(1));
        assert_eq!(uids(&refs), ["set-uid"]);
        assert_eq!(refs[0].controller, Some(true));
    }

    #[test]
    fn when_scaled_delete_makes_a_scaled_down_pod_the_owner() {
        let s = set("Delete", "Delete", 1);
        let c = claim(
            json!([{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web",
            "uid": "set-uid", "controller": true}]),
        );
        // Ordinal 0 is wanted: the set keeps it; ordinal 1 is scaled down: its pod takes it.
        assert!(up_to_date(&c, &s, &pod(0)));
        assert!(!up_to_date(&c, &s, &pod(1)));
        assert_eq!(uids(&owner_refs(&c, &s, &pod(1))), ["pod-1"]);
    }

    #[test]
    fn a_claim_of_an_earlier_pod_is_stale_and_left_alone() {
        let s = set("Delete", "Retain", 1);
        let c = claim(json!([{"apiVersion": "v1", "kind": "Pod", "name": "web-1",
            "uid": "old", "controller": true}]));
        let fresh: Pod = serde_json::from_value(json!({"metadata": {"name": "web-1"}})).unwrap();
        assert!(is_stale(&c, &fresh));
        assert!(up_to_date(&c, &s, &pod(1)));
    }

    #[test]
    fn another_controller_keeps_the_claim() {
        let s = set("Delete", "Delete", 3);
        let c = claim(
            json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "x",
            "uid": "other", "controller": true}]),
        );
        assert!(up_to_date(&c, &s, &pod(1)));
        assert_eq!(uids(&owner_refs(&c, &s, &pod(1))), ["other"]);
    }
}
