//! A StatefulSet's pods and claims by identity, as upstream's stateful_set_utils: the pod of
//! ordinal `n` is `<set>-<n>` (ordinals from `spec.ordinals.start`), labelled with its name,
//! index and revision, with `hostname` = its name and `subdomain` = the set's serviceName; its
//! claims are `<template>-<set>-<n>`, mounted as the volumes named after their templates.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, Pod, Volume,
};
use kube::api::ObjectMeta;
use kube::ResourceExt;

use crate::owners;

/// The label naming a stateful pod.
pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
/// The label holding a pod's ordinal.
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";
/// The label naming the ControllerRevision a pod was made from.
pub const REVISION_LABEL: &str = "controller-revision-hash";

/// The parent name and ordinal a pod's name spells (`<parent>-<digits>`), if it spells one
/// that fits 32 bits.
pub fn parent_and_ordinal(pod_name: &str) -> Option<(&str, i32)> {
    let (parent, digits) = pod_name.rsplit_once('-')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((parent, digits.parse().ok()?))
}

/// The pod's ordinal, if its name has one.
pub fn ordinal(pod: &Pod) -> Option<i32> {
    parent_and_ordinal(pod.metadata.name.as_deref()?).map(|(_, o)| o)
}

/// Whether the pod's name makes it one of `set`'s (upstream's isMemberOf).
pub fn is_member(set: &StatefulSet, pod: &Pod) -> bool {
    pod.metadata
        .name
        .as_deref()
        .and_then(parent_and_ordinal)
        .is_some_and(|(parent, _)| parent == set.name_any())
}

pub fn replicas(set: &StatefulSet) -> i32 {
    set.spec
        .as_ref()
        .and_then(|s| s.replicas)
        .unwrap_or(1)
        .max(0)
}

/// The first ordinal (`spec.ordinals.start`, 0 by default).
pub fn start_ordinal(set: &StatefulSet) -> i32 {
    set.spec
        .as_ref()
        .and_then(|s| s.ordinals.as_ref())
        .and_then(|o| o.start)
        .unwrap_or(0)
        .max(0)
}

/// Whether the ordinal is one the set wants now (in `[start, start + replicas)`).
pub fn in_range(set: &StatefulSet, ordinal: i32) -> bool {
    let start = start_ordinal(set);
    ordinal >= start && i64::from(ordinal) < i64::from(start) + i64::from(replicas(set))
}

pub fn pod_name(set: &StatefulSet, ordinal: i32) -> String {
    format!("{}-{ordinal}", set.name_any())
}

pub fn claim_name(set: &StatefulSet, template: &PersistentVolumeClaim, ordinal: i32) -> String {
    format!("{}-{}-{ordinal}", template.name_any(), set.name_any())
}

fn service_name(set: &StatefulSet) -> Option<String> {
    set.spec
        .as_ref()
        .and_then(|s| s.service_name.clone())
        .filter(|s| !s.is_empty())
}

fn claim_templates(set: &StatefulSet) -> &[PersistentVolumeClaim] {
    set.spec
        .as_ref()
        .and_then(|s| s.volume_claim_templates.as_deref())
        .unwrap_or_default()
}

/// The revision a pod was made from (its `controller-revision-hash` label).
pub fn pod_revision(pod: &Pod) -> &str {
    pod.labels()
        .get(REVISION_LABEL)
        .map(String::as_str)
        .unwrap_or_default()
}

/// Whether the pod has its name and name label (upstream's identityMatches).
pub fn identity_matches(set: &StatefulSet, pod: &Pod) -> bool {
    let Some(o) = ordinal(pod) else { return false };
    is_member(set, pod)
        && pod.namespace() == set.namespace()
        && pod.labels().get(POD_NAME_LABEL) == Some(&pod_name(set, o))
}

/// Whether the pod mounts each of its claims under its template's name.
pub fn storage_matches(set: &StatefulSet, pod: &Pod) -> bool {
    let Some(o) = ordinal(pod) else { return false };
    let volumes = pod
        .spec
        .as_ref()
        .and_then(|s| s.volumes.as_deref())
        .unwrap_or_default();
    claim_templates(set).iter().all(|t| {
        volumes.iter().any(|v| {
            v.name == t.name_any()
                && v.persistent_volume_claim
                    .as_ref()
                    .map(|c| c.claim_name.as_str())
                    == Some(claim_name(set, t, o).as_str())
        })
    })
}

/// The pod's claims, one per template, keyed by template name: the template with the claim's
/// name, the set's namespace and the selector's matchLabels added to its labels.
pub fn claims_for(set: &StatefulSet, ordinal: i32) -> Vec<(String, PersistentVolumeClaim)> {
    let match_labels = set
        .spec
        .as_ref()
        .and_then(|s| s.selector.match_labels.clone())
        .unwrap_or_default();
    claim_templates(set)
        .iter()
        .map(|t| {
            let mut labels = t.metadata.labels.clone().unwrap_or_default();
            labels.extend(match_labels.clone());
            let claim = PersistentVolumeClaim {
                metadata: ObjectMeta {
                    name: Some(claim_name(set, t, ordinal)),
                    namespace: set.namespace(),
                    labels: Some(labels),
                    annotations: t.metadata.annotations.clone(),
                    finalizers: t.metadata.finalizers.clone(),
                    ..ObjectMeta::default()
                },
                spec: t.spec.clone(),
                status: None,
            };
            (t.name_any(), claim)
        })
        .collect()
}

/// Sets the pod's name label and index label (upstream's updateIdentity).
fn update_identity(set: &StatefulSet, pod: &mut Pod, ordinal: i32) {
    let labels = pod.metadata.labels.get_or_insert_with(BTreeMap::new);
    labels.insert(POD_NAME_LABEL.into(), pod_name(set, ordinal));
    labels.insert(POD_INDEX_LABEL.into(), ordinal.to_string());
}

/// Points the pod's volumes named after claim templates at its claims, keeping its other
/// volumes (upstream's updateStorage).
fn update_storage(set: &StatefulSet, pod: &mut Pod, ordinal: i32) {
    let claims = claims_for(set, ordinal);
    let spec = pod.spec.get_or_insert_with(Default::default);
    let mut volumes: Vec<Volume> = claims
        .iter()
        .map(|(template, claim)| Volume {
            name: template.clone(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim.name_any(),
                read_only: None,
            }),
            ..Volume::default()
        })
        .collect();
    for v in spec.volumes.take().unwrap_or_default() {
        if !claims.iter().any(|(t, _)| *t == v.name) {
            volumes.push(v);
        }
    }
    spec.volumes = (!volumes.is_empty()).then_some(volumes);
}

/// Brings an existing pod's identity and storage in line with the set (what upstream's
/// UpdateStatefulPod changes); whether anything changed.
pub fn conform(set: &StatefulSet, pod: &mut Pod) -> bool {
    let Some(o) = ordinal(pod) else { return false };
    let mut changed = false;
    if !identity_matches(set, pod) {
        update_identity(set, pod, o);
        changed = true;
    }
    if !storage_matches(set, pod) {
        update_storage(set, pod, o);
        changed = true;
    }
    changed
}

/// A new pod of ordinal `ordinal` from `set`'s template (the set as of the revision it is made
/// at), labelled with `revision`.
pub fn new_pod(set: &StatefulSet, ordinal: i32, revision: &str) -> Pod {
    let template = set
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    let meta = template.metadata.unwrap_or_default();
    let name = pod_name(set, ordinal);
    let mut pod = Pod {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            generate_name: Some(format!("{}-", set.name_any())),
            namespace: set.namespace(),
            labels: meta.labels,
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            owner_references: Some(vec![owners::controller_ref(set)]),
            ..ObjectMeta::default()
        },
        spec: template.spec,
        status: None,
    };
    update_identity(set, &mut pod, ordinal);
    // Set only at creation: both are immutable afterwards.
    let spec = pod.spec.get_or_insert_with(Default::default);
    spec.hostname = Some(name);
    spec.subdomain = service_name(set);
    update_storage(set, &mut pod, ordinal);
    pod.metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert(REVISION_LABEL.into(), revision.into());
    pod
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn set() -> StatefulSet {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "ns", "uid": "u"},
            "spec": {
                "replicas": 3, "serviceName": "nginx", "ordinals": {"start": 2},
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "c", "image": "i"}],
                             "volumes": [{"name": "scratch", "emptyDir": {}}, {"name": "www", "emptyDir": {}}]}},
                "volumeClaimTemplates": [{"metadata": {"name": "www", "labels": {"tier": "db"}},
                    "spec": {"accessModes": ["ReadWriteOnce"]}, "status": {"phase": "Pending"}}],
            },
        }))
        .unwrap()
    }

    #[test]
    fn ordinals_are_read_from_names_that_end_in_digits() {
        assert_eq!(parent_and_ordinal("web-12"), Some(("web", 12)));
        assert_eq!(parent_and_ordinal("my-web-0"), Some(("my-web", 0)));
        assert_eq!(parent_and_ordinal("web-x"), None);
        assert_eq!(parent_and_ordinal("web-"), None);
        assert_eq!(parent_and_ordinal("web-99999999999"), None);
    }

    #[test]
    fn the_range_starts_at_spec_ordinals_start() {
        let s = set();
        assert!(!in_range(&s, 1));
        assert!(in_range(&s, 2) && in_range(&s, 4));
        assert!(!in_range(&s, 5));
    }

    #[test]
    fn a_new_pod_has_its_identity_storage_and_revision() {
        let s = set();
        let p = new_pod(&s, 3, "web-abc");
        assert_eq!(p.name_any(), "web-3");
        assert_eq!(p.labels()[POD_NAME_LABEL], "web-3");
        assert_eq!(p.labels()[POD_INDEX_LABEL], "3");
        assert_eq!(p.labels()[REVISION_LABEL], "web-abc");
        assert_eq!(p.labels()["app"], "web");
        let spec = p.spec.as_ref().unwrap();
        assert_eq!(spec.hostname.as_deref(), Some("web-3"));
        assert_eq!(spec.subdomain.as_deref(), Some("nginx"));
        let vols = spec.volumes.as_ref().unwrap();
        // The template's own "www" volume gives way to the claim; "scratch" stays.
        assert_eq!(vols.len(), 2);
        let www = vols.iter().find(|v| v.name == "www").unwrap();
        assert_eq!(
            www.persistent_volume_claim.as_ref().unwrap().claim_name,
            "www-web-3"
        );
        assert!(identity_matches(&s, &p) && storage_matches(&s, &p));
        assert_eq!(owners::controller_of::<StatefulSet>(&p).unwrap().uid, "u");
    }

    #[test]
    fn claims_carry_the_template_and_selector_labels() {
        let claims = claims_for(&set(), 2);
        assert_eq!(claims.len(), 1);
        let (template, c) = &claims[0];
        assert_eq!(template, "www");
        assert_eq!(c.name_any(), "www-web-2");
        assert_eq!(c.labels()["tier"], "db");
        assert_eq!(c.labels()["app"], "web");
        assert!(c.status.is_none());
    }

    #[test]
    fn a_pod_missing_its_identity_or_claims_is_conformed() {
        let s = set();
        let mut p = new_pod(&s, 2, "r");
        p.metadata.labels.as_mut().unwrap().remove(POD_NAME_LABEL);
        p.spec.as_mut().unwrap().volumes = None;
        assert!(conform(&s, &mut p));
        assert!(identity_matches(&s, &p) && storage_matches(&s, &p));
        assert!(!conform(&s, &mut p));
    }
}
