//! A DaemonSet's history, as upstream's daemonset controller keeps it in ControllerRevisions:
//! each revision's data is the patch `{"spec":{"template":{…,"$patch":"replace"}}}` that puts
//! that template back (what `kubectl rollout undo daemonset` applies), it is named
//! `<daemonset>-<hash>` and labelled with the template's labels and `controller-revision-hash`
//! (the hash of the template and `status.collisionCount`); the revision whose data is the
//! current template is the current one, numbered above all others; a name taken by other data
//! bumps `collisionCount`; old revisions beyond `revisionHistoryLimit` that no pod still
//! carries are deleted, oldest first.

use std::collections::HashSet;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use kube::api::{DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::core::{Selector, SelectorExt};
use kube::{Api, Client, ResourceExt};
use serde_json::{json, Value};

use crate::controller_revision;
use crate::owners;
use crate::ControllerError;

/// The label naming the revision a pod (and the revision itself) was made from.
pub const HASH_LABEL: &str = "controller-revision-hash";

/// The revision data for the DaemonSet's current template.
pub fn patch_of(ds: &DaemonSet) -> Value {
    let mut template = ds
        .spec
        .as_ref()
        .map(|s| serde_json::to_value(&s.template).unwrap_or(Value::Null))
        .unwrap_or(Value::Null);
    if let Some(t) = template.as_object_mut() {
        t.insert("$patch".into(), json!("replace"));
    }
    json!({"spec": {"template": template}})
}

/// The template hash with the collision count (upstream's ComputeHash: the same form, FNV over
/// the template's JSON, safe-encoded).
pub fn template_hash(ds: &DaemonSet, collision_count: Option<i32>) -> String {
    let template = ds
        .spec
        .as_ref()
        .map(|s| serde_json::to_value(&s.template).unwrap_or(Value::Null))
        .unwrap_or(Value::Null);
    controller_revision::hash(Some(&RawExtension(template)), collision_count)
}

/// Whether `rev` holds the DaemonSet's current template.
fn matches(patch: &Value, rev: &ControllerRevision) -> bool {
    rev.data.as_ref().map(|d| &d.0) == Some(patch)
}

/// The current revision and the old ones, after adopting orphans, labelling unlabelled ones,
/// dropping duplicates of the current one and renumbering it above the rest.
pub async fn construct(
    client: &Client,
    ds: &DaemonSet,
    selector: &Selector,
    all: Vec<Arc<ControllerRevision>>,
    pods: &[Arc<Pod>],
) -> Result<(ControllerRevision, Vec<ControllerRevision>), ControllerError> {
    let ns = ds.namespace().unwrap_or_default();
    let api: Api<ControllerRevision> = Api::namespaced(client.clone(), &ns);
    // Owned revisions the selector no longer matches are released, as ClaimControllerRevisions.
    for r in &all {
        if r.namespace().as_deref() == Some(ns.as_str())
            && controller_revision::controlled_by(ds, r)
            && !selector.matches(r.labels())
        {
            owners::release(client, r.as_ref(), &ds.uid().unwrap_or_default()).await?;
        }
    }
    let patch = patch_of(ds);
    let (mut current, mut old) = (Vec::new(), Vec::new());
    for mut r in controller_revision::owned_or_orphaned(ds, selector, all) {
        if !controller_revision::controlled_by(ds, &r) && !owners::adopt(client, ds, &r).await? {
            continue;
        }
        if !r.labels().contains_key(HASH_LABEL) {
            // Named for its hash already: the name is the label, whatever the collisions were.
            let name = r.name_any();
            let p = json!({"metadata": {"labels": {HASH_LABEL: name}}});
            r = api
                .patch(&name, &PatchParams::default(), &Patch::Merge(p))
                .await?;
        }
        if matches(&patch, &r) {
            current.push(r);
        } else {
            old.push(r);
        }
    }
    let next = old.iter().map(|r| r.revision).max().unwrap_or(0) + 1;
    let cur = if current.is_empty() {
        snapshot(client, ds, &patch, next).await?
    } else {
        let keep = dedup(client, ds, current, pods).await?;
        if keep.revision < next {
            controller_revision::renumber(client, &keep, next).await?
        } else {
            keep
        }
    };
    Ok((cur, old))
}

/// Creates the revision of the current template. A name already taken by the same data is
/// that revision; by other data, the collision count goes up (in the DaemonSet's status) and
/// the sync is retried under the new name.
async fn snapshot(
    client: &Client,
    ds: &DaemonSet,
    patch: &Value,
    revision: i64,
) -> Result<ControllerRevision, ControllerError> {
    let ns = ds.namespace().unwrap_or_default();
    let collision_count = ds.status.as_ref().and_then(|s| s.collision_count);
    let hash = template_hash(ds, collision_count);
    let mut labels = ds
        .spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    labels.insert(HASH_LABEL.into(), hash.clone());
    let rev = ControllerRevision {
        metadata: ObjectMeta {
            name: Some(controller_revision::name(&ds.name_any(), &hash)),
            namespace: Some(ns.clone()),
            labels: Some(labels),
            annotations: ds.metadata.annotations.clone(),
            owner_references: Some(vec![owners::controller_ref(ds)]),
            ..ObjectMeta::default()
        },
        data: Some(RawExtension(patch.clone())),
        revision,
    };
    let api: Api<ControllerRevision> = Api::namespaced(client.clone(), &ns);
    match api.create(&PostParams::default(), &rev).await {
        Ok(created) => Ok(created),
        Err(kube::Error::Api(s)) if s.code == 409 => {
            let existing = api.get(&rev.name_any()).await?;
            if matches(patch, &existing) {
                return Ok(existing);
            }
            // Bump the count only if the one hashed with is still the stored one.
            let sets: Api<DaemonSet> = Api::namespaced(client.clone(), &ns);
            let fresh = sets.get(&ds.name_any()).await?;
            let stored = fresh.status.as_ref().and_then(|s| s.collision_count);
            if stored != collision_count {
                return Err(ControllerError::Conflict(format!(
                    "found a stale collision count ({collision_count:?}, expected {stored:?}) of DaemonSet {:?} while processing; will retry until it is updated",
                    ds.name_any()
                )));
            }
            let bumped = stored.unwrap_or(0).saturating_add(1);
            let p = json!({"metadata": {"resourceVersion": fresh.resource_version()},
                "status": {"collisionCount": bumped}});
            sets.patch_status(&ds.name_any(), &PatchParams::default(), &Patch::Merge(p))
                .await?;
            Err(ControllerError::Conflict(format!(
                "hash collision on revision {:?}; collisionCount is now {bumped}",
                rev.name_any()
            )))
        }
        Err(e) => Err(e.into()),
    }
}

/// Keeps the highest-numbered of several revisions holding the current template: the pods
/// labelled with another's hash get the kept one's, the others are deleted.
async fn dedup(
    client: &Client,
    ds: &DaemonSet,
    mut current: Vec<ControllerRevision>,
    pods: &[Arc<Pod>],
) -> Result<ControllerRevision, ControllerError> {
    controller_revision::sort(&mut current);
    let Some(keep) = current.pop() else {
        return Err(ControllerError::Conflict("no current revision".into()));
    };
    let keep_hash = keep.labels().get(HASH_LABEL).cloned().unwrap_or_default();
    let ns = ds.namespace().unwrap_or_default();
    let pod_api: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let rev_api: Api<ControllerRevision> = Api::namespaced(client.clone(), &ns);
    for dup in current {
        let dup_hash = dup.labels().get(HASH_LABEL).cloned().unwrap_or_default();
        for pod in pods
            .iter()
            .filter(|p| p.labels().get(HASH_LABEL) == Some(&dup_hash))
        {
            let p = json!({"metadata": {"labels": {HASH_LABEL: keep_hash}}});
            pod_api
                .patch(&pod.name_any(), &PatchParams::default(), &Patch::Merge(p))
                .await?;
        }
        match rev_api
            .delete(&dup.name_any(), &DeleteParams::default())
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(keep)
}

/// Deletes old revisions beyond `limit`, oldest first, skipping those a pod still carries
/// (upstream's cleanupHistory: skipped ones still count toward the excess).
pub async fn cleanup(
    client: &Client,
    ds: &DaemonSet,
    mut old: Vec<ControllerRevision>,
    pods: &[Arc<Pod>],
    limit: usize,
) -> Result<(), ControllerError> {
    let mut to_kill = old.len().saturating_sub(limit);
    if to_kill == 0 {
        return Ok(());
    }
    let live: HashSet<&String> = pods
        .iter()
        .filter_map(|p| p.labels().get(HASH_LABEL))
        .filter(|h| !h.is_empty())
        .collect();
    controller_revision::sort(&mut old);
    let api: Api<ControllerRevision> =
        Api::namespaced(client.clone(), &ds.namespace().unwrap_or_default());
    for r in old {
        if to_kill == 0 {
            break;
        }
        if r.labels().get(HASH_LABEL).is_some_and(|h| live.contains(h)) {
            continue;
        }
        match api.delete(&r.name_any(), &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
        to_kill -= 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ds(image: &str, collisions: Option<i32>) -> DaemonSet {
        serde_json::from_value(json!({"metadata": {"name": "d", "namespace": "ns"},
            "spec": {"selector": {"matchLabels": {"a": "b"}},
                "template": {"metadata": {"labels": {"a": "b"}},
                    "spec": {"containers": [{"name": "c", "image": image}]}}},
            "status": {"currentNumberScheduled": 0, "desiredNumberScheduled": 0,
                "numberMisscheduled": 0, "numberReady": 0, "collisionCount": collisions}}))
        .unwrap()
    }

    #[test]
    fn the_revision_data_replaces_the_template() {
        let p = patch_of(&ds("v1", None));
        assert_eq!(p["spec"]["template"]["$patch"], "replace");
        assert_eq!(
            p["spec"]["template"]["spec"]["containers"][0]["image"],
            "v1"
        );
        assert_eq!(p.as_object().unwrap().len(), 1);
    }

    #[test]
    fn the_hash_follows_the_template_and_the_collision_count() {
        let h = template_hash(&ds("v1", None), None);
        assert_eq!(h, template_hash(&ds("v1", None), None));
        assert_ne!(h, template_hash(&ds("v2", None), None));
        assert_ne!(h, template_hash(&ds("v1", None), Some(1)));
    }
}
