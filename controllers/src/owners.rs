//! Controller ownerReferences: finding an object's controller, the reference a controller puts
//! on what it makes, and adopting or releasing an object (a strategic merge of its
//! ownerReferences guarded by its uid, as upstream's ControllerRefManager patches them).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::ControllerError;

/// The object's controller ownerReference, if it names an object of `K`'s kind.
pub fn controller_of<K: Resource<DynamicType = ()>>(
    obj: &impl Resource,
) -> Option<&OwnerReference> {
    let group = K::group(&());
    obj.meta()
        .owner_references
        .as_deref()?
        .iter()
        .find(|o| o.controller == Some(true))
        .filter(|o| {
            o.kind == K::kind(&()) && o.api_version.split_once('/').map_or("", |(g, _)| g) == group
        })
}

/// The controller reference `owner` puts on what it makes (blocking the owner's foreground
/// deletion, as upstream's controllers set it).
pub fn controller_ref<K: Resource<DynamicType = ()>>(owner: &K) -> OwnerReference {
    OwnerReference {
        api_version: K::api_version(&()).into_owned(),
        kind: K::kind(&()).into_owned(),
        name: owner.name_any(),
        uid: owner.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Makes `obj` (an orphan) `owner`'s; whether it took (it may be gone, changed or taken).
///
/// The owner is read afresh first (upstream's RecheckDeletionTimestamp): a cache that has not
/// yet seen the owner's deletion must not take back what an orphaning deletion just released,
/// or the released object would be collected with its owner.
pub async fn adopt<O, K>(client: &Client, owner: &O, obj: &K) -> Result<bool, ControllerError>
where
    O: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    let owners: Api<O> = Api::namespaced(client.clone(), &owner.namespace().unwrap_or_default());
    match owners.get_opt(&owner.name_any()).await? {
        Some(fresh) if fresh.uid() == owner.uid() && fresh.meta().deletion_timestamp.is_none() => {}
        // Gone, replaced, or being deleted: it adopts nothing.
        _ => return Ok(false),
    }
    patch_owners(client, obj, json!([controller_ref(owner)])).await
}

/// Drops the reference to `owner_uid` from `obj`, which its owner's selector no longer matches.
pub async fn release<K>(client: &Client, obj: &K, owner_uid: &str) -> Result<(), ControllerError>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    patch_owners(client, obj, json!([{"$patch": "delete", "uid": owner_uid}]))
        .await
        .map(|_| ())
}

/// A strategic merge of `owners` into the object's ownerReferences, guarded by its uid (an
/// object deleted and made again under the name is not touched); whether it applied.
async fn patch_owners<K>(
    client: &Client,
    obj: &K,
    owners: serde_json::Value,
) -> Result<bool, ControllerError>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    let patch = json!({"metadata": {"ownerReferences": owners, "uid": obj.uid()}});
    let api: Api<K> = Api::namespaced(client.clone(), &obj.namespace().unwrap_or_default());
    match api
        .patch(
            &obj.name_any(),
            &PatchParams::default(),
            &Patch::Strategic(patch),
        )
        .await
    {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 || s.code == 422 => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
    use k8s_openapi::api::core::v1::Pod;

    #[test]
    fn the_controller_is_the_reference_marked_controller_of_the_kind_asked() {
        let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "p", "ownerReferences": [
            {"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "uid": "1"},
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "r", "uid": "2", "controller": true},
        ]}}))
        .unwrap();
        assert_eq!(
            controller_of::<ReplicaSet>(&pod).map(|o| o.uid.as_str()),
            Some("2")
        );
        assert!(controller_of::<Deployment>(&pod).is_none());
    }
}
