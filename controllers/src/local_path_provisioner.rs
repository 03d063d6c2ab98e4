//! The local-path-provisioner: capstan's built-in dynamic provisioner `capstan.io/local-path`
//! (k3s's `rancher.io/local-path`), run as an external provisioner beside the binder. At start
//! it makes sure the StorageClass `local-path` exists (WaitForFirstConsumer, reclaim Delete,
//! the default class unless the user already marked another) — created only when absent, never
//! overwritten. For a claim the binder handed to it (`volume.kubernetes.io/storage-provisioner`)
//! once the scheduler chose a node (`volume.kubernetes.io/selected-node`) it creates the volume
//! `pvc-<claim uid>`: a hostPath `/var/lib/capstan/storage/pvc-<uid>_<namespace>_<name>` of type
//! DirectoryOrCreate with a required node affinity to that node (so the node agent, as a
//! kubelet does, creates the directory when it mounts the volume there), the request as its
//! capacity, pre-bound to the claim, with the class's reclaim policy and mount options; the
//! binder then binds it. A Released volume of its own with the Delete policy is deleted; the
//! directory is the node agent's to remove — this controller never touches a node's disk.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{
    HostPathVolumeSource, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, ObjectReference,
    PersistentVolume, PersistentVolumeClaim, PersistentVolumeSpec, VolumeNodeAffinity,
};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{DeleteParams, ListParams, ObjectMeta, PostParams, Preconditions};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Client, ResourceExt};
use tokio_util::sync::CancellationToken;

use crate::events::Recorder;
use crate::informers::{Change, Informer, Informers};
use crate::persistentvolume_binder::{
    is_default_class, matching::claim_class, ANN_BETA_STORAGE_PROVISIONER, ANN_IS_DEFAULT_CLASS,
    ANN_PROVISIONED_BY, ANN_SELECTED_NODE, ANN_STORAGE_PROVISIONER,
};
use crate::workqueue::{key_of, run_workers, WorkQueue};
use crate::{ControllerError, ManagerConfig};

/// The provisioner's name, as classes name it.
pub const PROVISIONER: &str = "capstan.io/local-path";
/// The class made at start.
pub const CLASS: &str = "local-path";
/// Where on a node the volumes' directories live.
pub const STORAGE_DIR: &str = "/var/lib/capstan/storage";

/// The volume's name for `claim` (the external provisioners' `pvc-<uid>`).
fn volume_name(claim: &PersistentVolumeClaim) -> String {
    format!("pvc-{}", claim.uid().unwrap_or_default())
}

/// The class made at start: the default unless another class already is.
fn default_class(another_is_default: bool) -> StorageClass {
    StorageClass {
        metadata: ObjectMeta {
            name: Some(CLASS.into()),
            annotations: Some(BTreeMap::from([(
                ANN_IS_DEFAULT_CLASS.to_string(),
                (!another_is_default).to_string(),
            )])),
            ..ObjectMeta::default()
        },
        provisioner: PROVISIONER.into(),
        reclaim_policy: Some("Delete".into()),
        volume_binding_mode: Some("WaitForFirstConsumer".into()),
        ..StorageClass::default()
    }
}

/// The volume for `claim` of `class` on `node`.
fn volume_for(claim: &PersistentVolumeClaim, class: &StorageClass, node: &str) -> PersistentVolume {
    let name = volume_name(claim);
    let (ns, claim_name) = (claim.namespace().unwrap_or_default(), claim.name_any());
    let spec = claim.spec.clone().unwrap_or_default();
    let capacity = spec
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .cloned()
        .map(|q| BTreeMap::from([("storage".to_string(), q)]));
    PersistentVolume {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            annotations: Some(BTreeMap::from([(
                ANN_PROVISIONED_BY.to_string(),
                PROVISIONER.to_string(),
            )])),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeSpec {
            access_modes: spec.access_modes.clone(),
            capacity,
            claim_ref: Some(ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("PersistentVolumeClaim".into()),
                namespace: Some(ns.clone()),
                name: Some(claim_name.clone()),
                uid: claim.uid(),
                resource_version: claim.resource_version(),
                ..ObjectReference::default()
            }),
            host_path: Some(HostPathVolumeSource {
                path: format!("{STORAGE_DIR}/{name}_{ns}_{claim_name}"),
                type_: Some("DirectoryOrCreate".into()),
            }),
            mount_options: class.mount_options.clone(),
            node_affinity: Some(VolumeNodeAffinity {
                required: Some(NodeSelector {
                    node_selector_terms: vec![NodeSelectorTerm {
                        match_expressions: Some(vec![NodeSelectorRequirement {
                            key: "kubernetes.io/hostname".into(),
                            operator: "In".into(),
                            values: Some(vec![node.to_string()]),
                        }]),
                        match_fields: None,
                    }],
                }),
            }),
            persistent_volume_reclaim_policy: Some(
                class
                    .reclaim_policy
                    .clone()
                    .unwrap_or_else(|| "Delete".into()),
            ),
            storage_class_name: Some(class.name_any()),
            volume_mode: Some(spec.volume_mode.unwrap_or_else(|| "Filesystem".into())),
            ..PersistentVolumeSpec::default()
        }),
        status: None,
    }
}

/// Whether the binder handed `claim` to this provisioner.
fn is_ours(claim: &PersistentVolumeClaim) -> bool {
    let a = claim.annotations();
    a.get(ANN_STORAGE_PROVISIONER).map(String::as_str) == Some(PROVISIONER)
        || a.get(ANN_BETA_STORAGE_PROVISIONER).map(String::as_str) == Some(PROVISIONER)
}

struct Provisioner {
    client: Client,
    claims: Arc<Informer<PersistentVolumeClaim>>,
    volumes: Arc<Informer<PersistentVolume>>,
    classes: Arc<Informer<StorageClass>>,
    events: Recorder,
}

/// What the queue holds: a claim to provision for, or a volume to reclaim.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
enum Work {
    Claim(String),
    Volume(String),
}

impl std::fmt::Display for Work {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Work::Claim(k) => write!(f, "claim {k}"),
            Work::Volume(k) => write!(f, "volume {k}"),
        }
    }
}

/// Registers the controller's handlers; the returned future ensures the class, then runs its
/// workers until `ended`.
pub fn register(
    client: Client,
    informers: &Informers,
    _config: &ManagerConfig,
    ended: CancellationToken,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let claims = informers.get::<PersistentVolumeClaim>();
    let volumes = informers.get::<PersistentVolume>();
    let classes = informers.get::<StorageClass>();
    let queue: Arc<WorkQueue<Work>> = WorkQueue::new(ended.clone());
    let q = queue.clone();
    claims.on_change(move |c| {
        if let Change::Applied(claim) = c {
            if is_ours(claim) {
                q.add(Work::Claim(key_of(
                    &claim.namespace().unwrap_or_default(),
                    &claim.name_any(),
                )));
            }
        }
    });
    let q = queue.clone();
    volumes.on_change(move |c| {
        if let Change::Applied(v) = c {
            if v.annotations().get(ANN_PROVISIONED_BY).map(String::as_str) == Some(PROVISIONER) {
                q.add(Work::Volume(v.name_any()));
            }
        }
    });
    let p = Arc::new(Provisioner {
        events: Recorder::new(client.clone(), PROVISIONER),
        client,
        claims,
        volumes,
        classes,
    });
    async move {
        // Until the class exists (the API may still be settling), try again now and then.
        let mut delay = std::time::Duration::from_millis(200);
        while let Err(e) = p.ensure_class().await {
            tracing::debug!(error = %e, "local-path class not ensured; retrying");
            tokio::select! {
                _ = ended.cancelled() => return,
                _ = tokio::time::sleep(delay) => {}
            }
            delay = (delay * 2).min(std::time::Duration::from_secs(10));
        }
        p.claims.synced().await;
        p.volumes.synced().await;
        p.classes.synced().await;
        run_workers(queue, 2, "local-path-provisioner", move |w| {
            let p = p.clone();
            async move {
                match w {
                    Work::Claim(k) => p.sync_claim(&k).await,
                    Work::Volume(n) => p.sync_volume(&n).await,
                }
            }
        })
        .await;
    }
}

impl Provisioner {
    /// Creates the `local-path` class if it is absent (a user's edits to it are theirs).
    async fn ensure_class(&self) -> Result<(), ControllerError> {
        let api: Api<StorageClass> = Api::all(self.client.clone());
        if api.get_opt(CLASS).await?.is_some() {
            return Ok(());
        }
        let another = api
            .list(&ListParams::default())
            .await?
            .items
            .iter()
            .any(is_default_class);
        match api
            .create(&PostParams::default(), &default_class(another))
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn sync_claim(&self, key: &str) -> Result<(), ControllerError> {
        let Some((ns, name)) = key.split_once('/') else {
            return Ok(());
        };
        let Some(claim) = self.claims.store().get(&ObjectRef::new(name).within(ns)) else {
            return Ok(());
        };
        let bound = claim
            .spec
            .as_ref()
            .and_then(|s| s.volume_name.as_deref())
            .is_some_and(|v| !v.is_empty());
        if bound || !is_ours(&claim) || claim.metadata.deletion_timestamp.is_some() {
            return Ok(());
        }
        let class_name = claim_class(&claim);
        let Some(class) = self.classes.store().get(&ObjectRef::new(&class_name)) else {
            return Ok(());
        };
        if class.provisioner != PROVISIONER {
            return Ok(());
        }
        let node = claim.annotations().get(ANN_SELECTED_NODE).cloned();
        let delayed = class.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer");
        if delayed && node.is_none() {
            // The scheduler has not chosen a node yet.
            return Ok(());
        }
        let name = volume_name(&claim);
        if self.volumes.store().get(&ObjectRef::new(&name)).is_some() {
            return Ok(());
        }
        let api: Api<PersistentVolume> = Api::all(self.client.clone());
        if api.get_opt(&name).await?.is_some() {
            return Ok(());
        }
        self.events
            .normal(
                claim.as_ref(),
                "Provisioning",
                format!(
                    "External provisioner is provisioning volume for claim \"{ns}/{}\"",
                    claim.name_any()
                ),
            )
            .await;
        let Some(node) = node else {
            // A local volume lives on one node, and only the scheduler can say which.
            self.events
                .warning(
                    claim.as_ref(),
                    "ProvisioningFailed",
                    format!(
                        "failed to provision volume with StorageClass {class_name:?}: \
                         configuration error, no node was specified"
                    ),
                )
                .await;
            return Ok(());
        };
        match api
            .create(&PostParams::default(), &volume_for(&claim, &class, &node))
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 => return Ok(()),
            Err(e) => {
                self.events
                    .warning(
                        claim.as_ref(),
                        "ProvisioningFailed",
                        format!("failed to provision volume with StorageClass {class_name:?}: {e}"),
                    )
                    .await;
                return Err(e.into());
            }
        }
        self.events
            .normal(
                claim.as_ref(),
                "ProvisioningSucceeded",
                format!("Successfully provisioned volume {name}"),
            )
            .await;
        Ok(())
    }

    /// Deletes a Released volume of its own whose policy is Delete.
    async fn sync_volume(&self, name: &str) -> Result<(), ControllerError> {
        let Some(v) = self.volumes.store().get(&ObjectRef::new(name)) else {
            return Ok(());
        };
        let ours = v.annotations().get(ANN_PROVISIONED_BY).map(String::as_str) == Some(PROVISIONER);
        let released = v.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Released");
        let delete = v
            .spec
            .as_ref()
            .and_then(|s| s.persistent_volume_reclaim_policy.as_deref())
            == Some("Delete");
        if !(ours && released && delete) || v.metadata.deletion_timestamp.is_some() {
            return Ok(());
        }
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: v.uid(),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match Api::<PersistentVolume>::all(self.client.clone())
            .delete(name, &params)
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn a_provisioned_volume_is_a_node_pinned_host_path_pre_bound_to_its_claim() {
        let claim: PersistentVolumeClaim = serde_json::from_value(json!({
            "metadata": {"name": "data", "namespace": "web", "uid": "abc", "resourceVersion": "7"},
            "spec": {"accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": "2Gi"}}},
        }))
        .unwrap();
        let class = default_class(false);
        let v = volume_for(&claim, &class, "node-1");
        assert_eq!(v.name_any(), "pvc-abc");
        let spec = v.spec.unwrap();
        assert_eq!(
            spec.host_path.unwrap().path,
            "/var/lib/capstan/storage/pvc-abc_web_data"
        );
        assert_eq!(spec.capacity.unwrap()["storage"].0, "2Gi");
        let r = spec.claim_ref.unwrap();
        assert_eq!(
            (r.name.as_deref(), r.uid.as_deref()),
            (Some("data"), Some("abc"))
        );
        assert_eq!(
            spec.persistent_volume_reclaim_policy.as_deref(),
            Some("Delete")
        );
        let term = &spec
            .node_affinity
            .unwrap()
            .required
            .unwrap()
            .node_selector_terms[0];
        assert_eq!(
            term.match_expressions.as_ref().unwrap()[0].values,
            Some(vec!["node-1".to_string()])
        );
    }

    #[test]
    fn the_class_is_default_only_when_no_other_is() {
        assert!(is_default_class(&default_class(false)));
        assert!(!is_default_class(&default_class(true)));
    }
}
