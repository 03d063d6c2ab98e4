//! The collector's two work items (upstream's attemptToDeleteItem and attemptToOrphan): what
//! to do with one object, decided from the API's current copy of it and of its owners.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{DeleteParams, Patch, PatchParams, Preconditions, PropagationPolicy};
use kube::core::DynamicObject;
use kube::ResourceExt;
use serde_json::json;

use super::graph::{Identity, FOREGROUND, ORPHAN};
use super::Collector;
use crate::ControllerError;

fn has(obj: &DynamicObject, finalizer: &str) -> bool {
    obj.finalizers().iter().any(|f| f == finalizer)
}

/// The object `id` names as the API has it now; `None` when it is gone or is another object
/// of the same name.
async fn live(gc: &Collector, id: &Identity) -> Result<Option<DynamicObject>, ControllerError> {
    let Some(api) = gc.kinds.api_for(&gc.client, id) else {
        // A kind the API does not serve: nothing of it exists.
        return Ok(None);
    };
    match api.get_opt(&id.name).await? {
        Some(o) if o.uid().as_deref() == Some(id.uid.as_str()) => Ok(Some(o)),
        _ => Ok(None),
    }
}

/// How an owner reference stands (upstream's classifyReferences).
enum Owner {
    /// Exists and is not waiting for its dependents.
    Solid,
    /// Gone (or another object now has its name).
    Dangling,
    /// Being deleted in the foreground.
    Waiting,
}

async fn classify(
    gc: &Collector,
    dependent: &Identity,
    r: &OwnerReference,
) -> Result<Owner, ControllerError> {
    let namespaced = gc
        .kinds
        .resolve(&r.api_version, &r.kind)
        .is_none_or(|(_, n)| *n);
    let id = Identity {
        api_version: r.api_version.clone(),
        kind: r.kind.clone(),
        namespace: if namespaced {
            dependent.namespace.clone()
        } else {
            None
        },
        name: r.name.clone(),
        uid: r.uid.clone(),
    };
    // Always the API's word: a cache that has not yet seen a new owner must not doom its
    // dependents.
    Ok(match live(gc, &id).await? {
        None => Owner::Dangling,
        Some(o) if o.metadata.deletion_timestamp.is_some() && has(&o, FOREGROUND) => Owner::Waiting,
        Some(_) => Owner::Solid,
    })
}

pub(crate) async fn attempt_to_delete(gc: &Collector, uid: &str) -> Result<(), ControllerError> {
    let (id, is_virtual, has_dependents) = {
        let g = gc.graph();
        let Some(n) = g.get(uid) else {
            return Ok(());
        };
        (n.identity.clone(), n.is_virtual, !n.dependents.is_empty())
    };
    let Some(latest) = live(gc, &id).await? else {
        // Gone: its dependents are looked at in turn.
        gc.forget(uid);
        return Ok(());
    };
    if is_virtual {
        // It exists; its watch will report it.
        return Ok(());
    }
    let deleting = latest.metadata.deletion_timestamp.is_some();
    if deleting && has(&latest, FOREGROUND) {
        return deleting_dependents(gc, &id, &latest).await;
    }
    if deleting {
        return Ok(());
    }
    let owners = latest.owner_references().to_vec();
    if owners.is_empty() {
        return Ok(());
    }
    let (mut solid, mut dangling, mut waiting) = (Vec::new(), Vec::new(), Vec::new());
    for r in &owners {
        match classify(gc, &id, r).await? {
            Owner::Solid => solid.push(r),
            Owner::Dangling => dangling.push(r),
            Owner::Waiting => waiting.push(r),
        }
    }
    let api = gc.kinds.api_for(&gc.client, &id);
    let Some(api) = api else {
        return Ok(());
    };
    if !solid.is_empty() {
        // A live owner keeps it; references to the others go.
        let gone: Vec<serde_json::Value> = dangling
            .iter()
            .chain(waiting.iter())
            .map(|r| json!({"$patch": "delete", "uid": r.uid}))
            .collect();
        if !gone.is_empty() {
            let patch = json!({"metadata": {"ownerReferences": gone, "uid": id.uid}});
            patch_ignoring_gone(
                api.patch(&id.name, &PatchParams::default(), &Patch::Strategic(patch))
                    .await,
            )?;
        }
        return Ok(());
    }
    let policy = if !waiting.is_empty() && has_dependents {
        // Its owner waits for it, and it has dependents of its own: it goes in the foreground
        // too, its references to the waiting owners made non-blocking first when a dependent is
        // itself waiting (upstream's guard against a cycle of waits).
        let cycle = {
            let g = gc.graph();
            g.dependents(uid)
                .iter()
                .any(|(d, _)| g.get(&d.uid).is_some_and(|n| n.deleting_dependents))
        };
        if cycle {
            let unblock: Vec<serde_json::Value> = waiting
                .iter()
                .map(|r| json!({"uid": r.uid, "apiVersion": r.api_version, "kind": r.kind, "name": r.name, "blockOwnerDeletion": false}))
                .collect();
            let patch = json!({"metadata": {"ownerReferences": unblock, "uid": id.uid}});
            patch_ignoring_gone(
                api.patch(&id.name, &PatchParams::default(), &Patch::Strategic(patch))
                    .await,
            )?;
        }
        PropagationPolicy::Foreground
    } else if has(&latest, ORPHAN) {
        PropagationPolicy::Orphan
    } else if has(&latest, FOREGROUND) {
        PropagationPolicy::Foreground
    } else {
        PropagationPolicy::Background
    };
    let params = DeleteParams {
        propagation_policy: Some(policy.clone()),
        // Only this object, and only as it was judged: a change in between (new owners) is a
        // conflict and a second look.
        preconditions: Some(Preconditions {
            uid: Some(id.uid.clone()),
            resource_version: latest.resource_version(),
        }),
        ..DeleteParams::default()
    };
    tracing::debug!(kind = %id.kind, name = %id.name, ?policy, "garbage collector: deleting");
    match api.delete(&id.name, &params).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// An owner being deleted in the foreground: once no dependent blocks it, its
/// `foregroundDeletion` finalizer goes; until then, its blocking dependents are deleted.
async fn deleting_dependents(
    gc: &Collector,
    id: &Identity,
    latest: &DynamicObject,
) -> Result<(), ControllerError> {
    let blocking: Vec<Identity> = gc
        .graph()
        .dependents(&id.uid)
        .into_iter()
        .filter(|(_, r)| r.block_owner_deletion == Some(true))
        .map(|(d, _)| d)
        .collect();
    if blocking.is_empty() {
        return remove_finalizer(gc, id, latest, FOREGROUND).await;
    }
    for d in blocking {
        gc.deletes.add(d.uid);
    }
    Ok(())
}

/// Strips the owner's reference from every dependent, then its `orphan` finalizer.
pub(crate) async fn attempt_to_orphan(gc: &Collector, uid: &str) -> Result<(), ControllerError> {
    let Some(id) = gc.graph().get(uid).map(|n| n.identity.clone()) else {
        return Ok(());
    };
    let dependents = gc.graph().dependents(uid);
    for (d, _) in dependents {
        let Some(api) = gc.kinds.api_for(&gc.client, &d) else {
            continue;
        };
        let patch = json!({"metadata": {
            "ownerReferences": [{"$patch": "delete", "uid": uid}],
            "uid": d.uid,
        }});
        patch_ignoring_gone(
            api.patch(&d.name, &PatchParams::default(), &Patch::Strategic(patch))
                .await,
        )?;
    }
    let Some(latest) = live(gc, &id).await? else {
        return Ok(());
    };
    remove_finalizer(gc, &id, &latest, ORPHAN).await
}

async fn remove_finalizer(
    gc: &Collector,
    id: &Identity,
    latest: &DynamicObject,
    finalizer: &str,
) -> Result<(), ControllerError> {
    if !has(latest, finalizer) {
        return Ok(());
    }
    let Some(api) = gc.kinds.api_for(&gc.client, id) else {
        return Ok(());
    };
    let patch = json!({"metadata": {
        "$deleteFromPrimitiveList/finalizers": [finalizer],
        "uid": id.uid,
    }});
    patch_ignoring_gone(
        api.patch(&id.name, &PatchParams::default(), &Patch::Strategic(patch))
            .await,
    )
}

/// A patch of an object that has gone (or been replaced) in the meantime did its job.
fn patch_ignoring_gone(r: Result<DynamicObject, kube::Error>) -> Result<(), ControllerError> {
    match r {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(()),
        Err(e) => Err(e.into()),
    }
}
