//! The persistentvolume-binder controller (kube-controller-manager's `persistentvolume-binder`,
//! upstream's PersistentVolumeController): binds each pending PersistentVolumeClaim to the
//! PersistentVolume [`matching`] picks, both ways (the volume's `claimRef` with the claim's uid
//! and resourceVersion, the claim's `volumeName`, the `pv.kubernetes.io/bind-completed` and
//! `bound-by-controller` annotations), then the phases (volume Bound; claim Bound with the
//! volume's access modes and capacity). Pre-bound volumes and claims are honoured; a claim of a
//! WaitForFirstConsumer class waits for the scheduler's `volume.kubernetes.io/selected-node`;
//! a claim of a class with a provisioner is annotated for that (external) provisioner, as
//! upstream does for every provisioner that is not in-tree — capstan has no in-tree volume
//! plugins; a class-less claim gets the default class once one exists. A volume whose claim is
//! gone is Released and reclaimed: Retain keeps it; Delete leaves a dynamically provisioned
//! volume to its provisioner and fails any other (no plugin can delete it); Recycle fails.
//! Claims and volumes are synced on change and every 15 s (`--pvclaimbinder-sync-period`), by
//! one worker each as upstream.

pub mod matching;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::events::Recorder;
use crate::informers::{Change, Informer, Informers};
use crate::workqueue::{key_of, run_workers, WorkQueue};
use crate::{ControllerError, ManagerConfig};

use matching::{best_match, claim_class, is_bound_to, unsatisfied_by, volume_mode_mismatch};

/// Set on a claim once the controller has bound it.
pub const ANN_BIND_COMPLETED: &str = "pv.kubernetes.io/bind-completed";
/// Set on whichever side the controller (not the user) bound.
pub const ANN_BOUND_BY_CONTROLLER: &str = "pv.kubernetes.io/bound-by-controller";
/// The node the scheduler chose for a WaitForFirstConsumer claim.
pub const ANN_SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
/// The provisioner a claim waits for.
pub const ANN_STORAGE_PROVISIONER: &str = "volume.kubernetes.io/storage-provisioner";
/// Its beta spelling, still written beside it.
pub const ANN_BETA_STORAGE_PROVISIONER: &str = "volume.beta.kubernetes.io/storage-provisioner";
/// The provisioner that made a volume.
pub const ANN_PROVISIONED_BY: &str = "pv.kubernetes.io/provisioned-by";
/// Marks the default StorageClass.
pub const ANN_IS_DEFAULT_CLASS: &str = "storageclass.kubernetes.io/is-default-class";
/// Its beta spelling.
pub const ANN_BETA_IS_DEFAULT_CLASS: &str = "storageclass.beta.kubernetes.io/is-default-class";

/// `--pvclaimbinder-sync-period`.
const RESYNC: Duration = Duration::from_secs(15);

const COMPONENT: &str = "persistentvolume-controller";

/// Whether `class` is marked default.
pub fn is_default_class(class: &StorageClass) -> bool {
    let a = class.annotations();
    a.get(ANN_IS_DEFAULT_CLASS).map(String::as_str) == Some("true")
        || a.get(ANN_BETA_IS_DEFAULT_CLASS).map(String::as_str) == Some("true")
}

/// The default class: the newest marked one, then the first by name (as 1.33's
/// GetDefaultClass).
pub fn default_class(classes: &[Arc<StorageClass>]) -> Option<Arc<StorageClass>> {
    classes
        .iter()
        .filter(|c| is_default_class(c))
        .min_by(|a, b| {
            let created = |c: &StorageClass| c.metadata.creation_timestamp.clone().map(|t| t.0);
            created(b)
                .cmp(&created(a))
                .then_with(|| a.name_any().cmp(&b.name_any()))
        })
        .cloned()
}

fn has_annotation(obj: &impl ResourceExt, key: &str) -> bool {
    obj.annotations().contains_key(key)
}

fn volume_name_of(claim: &PersistentVolumeClaim) -> Option<String> {
    claim
        .spec
        .as_ref()
        .and_then(|s| s.volume_name.clone())
        .filter(|n| !n.is_empty())
}

type Resources = Option<
    std::collections::BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
>;

/// The `storage` of a capacity, as a number (so `1Gi` and `1073741824` are one size).
fn storage_of(resources: &Resources) -> Option<f64> {
    resources
        .as_ref()
        .and_then(|c| c.get("storage"))
        .and_then(|q| matching::parse_quantity(&q.0))
}

fn phase_of(volume: &PersistentVolume) -> &str {
    volume
        .status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

fn claim_key(claim: &PersistentVolumeClaim) -> String {
    key_of(&claim.namespace().unwrap_or_default(), &claim.name_any())
}

struct Binder {
    client: Client,
    volumes: Arc<Informer<PersistentVolume>>,
    claims: Arc<Informer<PersistentVolumeClaim>>,
    classes: Arc<Informer<StorageClass>>,
    pods: Arc<Informer<Pod>>,
    claim_queue: Arc<WorkQueue<String>>,
    events: Recorder,
}

/// Registers the controller's handlers; the returned future runs its workers until `ended`.
pub fn register(
    client: Client,
    informers: &Informers,
    _config: &ManagerConfig,
    ended: CancellationToken,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let volumes = informers.get::<PersistentVolume>();
    let claims = informers.get::<PersistentVolumeClaim>();
    let classes = informers.get::<StorageClass>();
    let pods = informers.get::<Pod>();
    let claim_queue: Arc<WorkQueue<String>> = WorkQueue::new(ended.clone());
    let volume_queue: Arc<WorkQueue<String>> = WorkQueue::new(ended.clone());
    let unbound_claims = {
        let claims = claims.clone();
        move || -> Vec<String> {
            claims
                .store()
                .state()
                .iter()
                .filter(|c| !has_annotation(c.as_ref(), ANN_BIND_COMPLETED))
                .map(|c| claim_key(c))
                .collect()
        }
    };
    let (cq, vq, unbound) = (
        claim_queue.clone(),
        volume_queue.clone(),
        unbound_claims.clone(),
    );
    volumes.on_change(move |c| {
        let (Change::Applied(v) | Change::Deleted(v)) = c;
        vq.add(v.name_any());
        if let Some(r) = v.spec.as_ref().and_then(|s| s.claim_ref.as_ref()) {
            cq.add(key_of(
                r.namespace.as_deref().unwrap_or_default(),
                r.name.as_deref().unwrap_or_default(),
            ));
        } else if matches!(c, Change::Applied(_)) {
            // A volume free to take: the waiting claims look now rather than at the resync.
            for k in unbound() {
                cq.add(k);
            }
        }
    });
    let (cq, vq) = (claim_queue.clone(), volume_queue.clone());
    claims.on_change(move |c| match c {
        Change::Applied(claim) => cq.add(claim_key(claim)),
        Change::Deleted(claim) => {
            if let Some(v) = volume_name_of(claim) {
                vq.add(v);
            }
        }
    });
    let cq = claim_queue.clone();
    classes.on_change(move |_| {
        for k in unbound_claims() {
            cq.add(k);
        }
    });
    let binder = Arc::new(Binder {
        events: Recorder::new(client.clone(), COMPONENT),
        client,
        volumes,
        claims,
        classes,
        pods,
        claim_queue,
    });
    async move {
        binder.volumes.synced().await;
        binder.claims.synced().await;
        binder.classes.synced().await;
        binder.pods.synced().await;
        let resync = {
            let (b, vq, ended) = (binder.clone(), volume_queue.clone(), ended.clone());
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = ended.cancelled() => return,
                        _ = tokio::time::sleep(RESYNC) => {}
                    }
                    for c in b.claims.store().state() {
                        b.claim_queue.add(claim_key(&c));
                    }
                    for v in b.volumes.store().state() {
                        vq.add(v.name_any());
                    }
                }
            })
        };
        let (b1, b2) = (binder.clone(), binder.clone());
        let claims = run_workers(
            binder.claim_queue.clone(),
            1,
            "persistentvolume-binder",
            move |k| {
                let b = b1.clone();
                async move { b.sync_claim(&k).await }
            },
        );
        let volumes = run_workers(volume_queue, 1, "persistentvolume-binder", move |k| {
            let b = b2.clone();
            async move { b.sync_volume(&k).await }
        });
        futures_util::future::join(claims, volumes).await;
        let _ = resync.await;
    }
}

impl Binder {
    fn claims_api(&self, ns: &str) -> Api<PersistentVolumeClaim> {
        Api::namespaced(self.client.clone(), ns)
    }

    fn volumes_api(&self) -> Api<PersistentVolume> {
        Api::all(self.client.clone())
    }

    fn class(&self, name: &str) -> Option<Arc<StorageClass>> {
        self.classes.store().get(&ObjectRef::new(name))
    }

    async fn sync_claim(&self, key: &str) -> Result<(), ControllerError> {
        let Some((ns, name)) = key.split_once('/') else {
            return Ok(());
        };
        let Some(claim) = self.claims.store().get(&ObjectRef::new(name).within(ns)) else {
            return Ok(());
        };
        if has_annotation(claim.as_ref(), ANN_BIND_COMPLETED) {
            self.sync_bound_claim(&claim).await
        } else {
            self.sync_unbound_claim(&claim).await
        }
    }

    /// Upstream's IsDelayBindingMode: the claim's class binds WaitForFirstConsumer.
    fn delays_binding(&self, claim: &PersistentVolumeClaim) -> bool {
        let class = claim_class(claim);
        !class.is_empty()
            && self
                .class(&class)
                .is_some_and(|c| c.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer"))
    }

    async fn sync_unbound_claim(
        &self,
        claim: &PersistentVolumeClaim,
    ) -> Result<(), ControllerError> {
        let Some(wanted) = volume_name_of(claim) else {
            let delay = self.delays_binding(claim);
            let volumes = self.volumes.store().state();
            let found = match best_match(claim, &volumes, delay) {
                Ok(found) => found,
                Err(e) => {
                    // The claim's selector cannot change without an update, which syncs again.
                    tracing::debug!(claim = %claim_key(claim), error = %e, "claim not matched");
                    return Ok(());
                }
            };
            if let Some(volume) = found {
                return self.bind(&volume, claim).await;
            }
            if self.assign_default_class(claim).await? {
                return Ok(());
            }
            if delay && !has_annotation(claim, ANN_SELECTED_NODE) {
                self.wait_for_first_consumer(claim).await;
            } else if !claim_class(claim).is_empty() {
                return self.provision(claim).await;
            } else {
                self.events
                    .normal(
                        claim,
                        "FailedBinding",
                        "no persistent volumes available for this claim and no storage class is set"
                            .into(),
                    )
                    .await;
            }
            self.update_claim_status(claim, "Pending", None).await?;
            return Ok(());
        };
        let Some(volume) = self.volumes.store().get(&ObjectRef::new(&wanted)) else {
            // The volume asked for does not exist (yet).
            self.update_claim_status(claim, "Pending", None).await?;
            return Ok(());
        };
        let claimed = volume
            .spec
            .as_ref()
            .and_then(|s| s.claim_ref.as_ref())
            .is_some();
        if !claimed {
            if let Some(why) = unsatisfied_by(claim, &volume) {
                self.events
                    .warning(
                        claim,
                        "VolumeMismatch",
                        format!("Cannot bind to requested volume {wanted:?}: {why}"),
                    )
                    .await;
                self.update_claim_status(claim, "Pending", None).await?;
                return Ok(());
            }
            return self.bind(&volume, claim).await;
        }
        if is_bound_to(&volume, claim) {
            return self.bind(&volume, claim).await;
        }
        if !has_annotation(claim, ANN_BOUND_BY_CONTROLLER) {
            // The user asked for a volume another claim holds: wait for it.
            self.update_claim_status(claim, "Pending", None).await?;
            return Ok(());
        }
        Err(ControllerError::Conflict(format!(
            "invalid binding of claim {:?} to volume {wanted:?}: volume already claimed",
            claim_key(claim)
        )))
    }

    /// The WaitForFirstConsumer / WaitForPodScheduled event of a delayed claim.
    async fn wait_for_first_consumer(&self, claim: &PersistentVolumeClaim) {
        let ns = claim.namespace();
        let name = claim.name_any();
        let mut waiting: Vec<String> = self
            .pods
            .store()
            .state()
            .iter()
            .filter(|p| p.namespace() == ns)
            .filter(|p| {
                let spec = p.spec.as_ref();
                spec.and_then(|s| s.node_name.as_deref())
                    .unwrap_or("")
                    .is_empty()
                    && spec.and_then(|s| s.volumes.as_ref()).is_some_and(|vs| {
                        vs.iter().any(|v| {
                            v.persistent_volume_claim
                                .as_ref()
                                .is_some_and(|c| c.claim_name == name)
                        })
                    })
            })
            .map(|p| p.name_any())
            .collect();
        waiting.sort();
        let (reason, message) = match waiting.as_slice() {
            [] => (
                "WaitForFirstConsumer",
                "waiting for first consumer to be created before binding".to_string(),
            ),
            [one] => (
                "WaitForPodScheduled",
                format!("waiting for pod {one} to be scheduled"),
            ),
            many => (
                "WaitForPodScheduled",
                format!("waiting for pods {} to be scheduled", many.join(",")),
            ),
        };
        self.events.normal(claim, reason, message).await;
    }

    /// Gives a class-less claim the default class (1.33's retroactive default); whether it did.
    async fn assign_default_class(
        &self,
        claim: &PersistentVolumeClaim,
    ) -> Result<bool, ControllerError> {
        let named = claim
            .spec
            .as_ref()
            .is_some_and(|s| s.storage_class_name.is_some());
        if named || has_annotation(claim, matching::ANN_BETA_CLASS) {
            return Ok(false);
        }
        let Some(class) = default_class(&self.classes.store().state()) else {
            return Ok(false);
        };
        let patch = json!({
            "metadata": {"resourceVersion": claim.resource_version()},
            "spec": {"storageClassName": class.name_any()},
        });
        self.claims_api(&claim.namespace().unwrap_or_default())
            .patch(
                &claim.name_any(),
                &PatchParams::default(),
                &Patch::Merge(patch),
            )
            .await?;
        Ok(true)
    }

    /// Hands a claim of a class to the class's provisioner (always an external one here).
    async fn provision(&self, claim: &PersistentVolumeClaim) -> Result<(), ControllerError> {
        let class_name = claim_class(claim);
        let Some(class) = self.class(&class_name) else {
            self.events
                .warning(
                    claim,
                    "ProvisioningFailed",
                    format!("storageclass.storage.k8s.io {class_name:?} not found"),
                )
                .await;
            return Ok(());
        };
        let provisioner = class.provisioner.clone();
        if provisioner.starts_with("kubernetes.io/") {
            // An in-tree plugin's name, and capstan has none.
            self.events
                .warning(
                    claim,
                    "ProvisioningFailed",
                    format!("no volume plugin matched name: {provisioner}"),
                )
                .await;
            return Ok(());
        }
        let a = claim.annotations();
        if a.get(ANN_STORAGE_PROVISIONER) != Some(&provisioner)
            || a.get(ANN_BETA_STORAGE_PROVISIONER) != Some(&provisioner)
        {
            let patch = json!({"metadata": {
                "resourceVersion": claim.resource_version(),
                "annotations": {
                    ANN_STORAGE_PROVISIONER: provisioner,
                    ANN_BETA_STORAGE_PROVISIONER: provisioner,
                },
            }});
            self.claims_api(&claim.namespace().unwrap_or_default())
                .patch(
                    &claim.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(patch),
                )
                .await?;
        }
        self.events
            .normal(
                claim,
                "ExternalProvisioning",
                format!(
                    "Waiting for a volume to be created either by the external provisioner \
                     '{provisioner}' or manually by the system administrator. If volume creation \
                     is delayed, please verify that the provisioner is running and correctly \
                     registered."
                ),
            )
            .await;
        Ok(())
    }

    async fn sync_bound_claim(&self, claim: &PersistentVolumeClaim) -> Result<(), ControllerError> {
        let Some(wanted) = volume_name_of(claim) else {
            return self
                .lose_claim(
                    claim,
                    "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!",
                )
                .await;
        };
        let Some(volume) = self.volumes.store().get(&ObjectRef::new(&wanted)) else {
            return self
                .lose_claim(
                    claim,
                    "Bound claim has lost its PersistentVolume. Data on the volume is lost!",
                )
                .await;
        };
        let bound_uid = volume
            .spec
            .as_ref()
            .and_then(|s| s.claim_ref.as_ref())
            .map(|r| r.uid.clone().unwrap_or_default());
        match bound_uid {
            None => self.bind(&volume, claim).await,
            Some(uid) if Some(uid.as_str()) == claim.uid().as_deref() => {
                self.bind(&volume, claim).await
            }
            Some(_) => {
                if self.update_claim_status(claim, "Lost", None).await? {
                    self.events
                        .warning(
                            claim,
                            "ClaimMisbound",
                            "Two claims are bound to the same volume, this one is bound incorrectly"
                                .into(),
                        )
                        .await;
                }
                Ok(())
            }
        }
    }

    async fn lose_claim(
        &self,
        claim: &PersistentVolumeClaim,
        why: &str,
    ) -> Result<(), ControllerError> {
        if self.update_claim_status(claim, "Lost", None).await? {
            self.events.warning(claim, "ClaimLost", why.into()).await;
        }
        Ok(())
    }

    /// Binds both ways, then sets both phases (each step a no-op when already done).
    async fn bind(
        &self,
        volume: &PersistentVolume,
        claim: &PersistentVolumeClaim,
    ) -> Result<(), ControllerError> {
        let volume = self.bind_volume_to_claim(volume, claim).await?;
        let volume = self.update_volume_phase(&volume, "Bound", None).await?;
        let claim = self.bind_claim_to_volume(claim, &volume).await?;
        self.update_claim_status(&claim, "Bound", Some(&volume))
            .await?;
        Ok(())
    }

    async fn bind_volume_to_claim(
        &self,
        volume: &PersistentVolume,
        claim: &PersistentVolumeClaim,
    ) -> Result<PersistentVolume, ControllerError> {
        let (v, dirty) = matching::volume_bound_to_claim(volume, claim);
        if !dirty {
            return Ok(v);
        }
        Ok(self
            .volumes_api()
            .replace(&v.name_any(), &PostParams::default(), &v)
            .await?)
    }

    async fn bind_claim_to_volume(
        &self,
        claim: &PersistentVolumeClaim,
        volume: &PersistentVolume,
    ) -> Result<PersistentVolumeClaim, ControllerError> {
        let by_controller = volume_name_of(claim).as_deref() != Some(volume.name_any().as_str());
        let mut c = claim.clone();
        let mut dirty = false;
        if by_controller {
            c.spec.get_or_insert_with(Default::default).volume_name = Some(volume.name_any());
            dirty = true;
            if !has_annotation(&c, ANN_BOUND_BY_CONTROLLER) {
                c.annotations_mut()
                    .insert(ANN_BOUND_BY_CONTROLLER.into(), "yes".into());
            }
        }
        if !has_annotation(&c, ANN_BIND_COMPLETED) {
            c.annotations_mut()
                .insert(ANN_BIND_COMPLETED.into(), "yes".into());
            dirty = true;
        }
        if !dirty {
            return Ok(c);
        }
        Ok(self
            .claims_api(&c.namespace().unwrap_or_default())
            .replace(&c.name_any(), &PostParams::default(), &c)
            .await?)
    }

    /// Sets the claim's phase (and, bound, the volume's modes and capacity); whether it changed
    /// anything.
    async fn update_claim_status(
        &self,
        claim: &PersistentVolumeClaim,
        phase: &str,
        volume: Option<&PersistentVolume>,
    ) -> Result<bool, ControllerError> {
        let status = claim.status.clone().unwrap_or_default();
        let mut patch = serde_json::Map::new();
        if status.phase.as_deref() != Some(phase) {
            patch.insert("phase".into(), json!(phase));
        }
        match volume.and_then(|v| v.spec.as_ref()) {
            Some(vs) => {
                if status.access_modes != vs.access_modes {
                    patch.insert("accessModes".into(), json!(vs.access_modes));
                }
                if storage_of(&status.capacity) != storage_of(&vs.capacity)
                    || status.capacity.is_none()
                {
                    patch.insert("capacity".into(), json!(vs.capacity));
                }
            }
            None => {
                if status.access_modes.is_some() {
                    patch.insert("accessModes".into(), serde_json::Value::Null);
                }
                if status.capacity.is_some() {
                    patch.insert("capacity".into(), serde_json::Value::Null);
                }
            }
        }
        if patch.is_empty() {
            return Ok(false);
        }
        let api = self.claims_api(&claim.namespace().unwrap_or_default());
        crate::status_patch::merge(&api, &claim.name_any(), json!({"status": patch})).await?;
        Ok(true)
    }

    /// Sets the volume's phase and message (the transition time when the phase changes),
    /// guarded by the resourceVersion it was decided on.
    async fn update_volume_phase(
        &self,
        volume: &PersistentVolume,
        phase: &str,
        message: Option<&str>,
    ) -> Result<PersistentVolume, ControllerError> {
        let status = volume.status.clone().unwrap_or_default();
        if status.phase.as_deref() == Some(phase) && status.message.as_deref() == message {
            return Ok(volume.clone());
        }
        let mut st = json!({"phase": phase, "message": message});
        if status.phase.as_deref() != Some(phase) {
            st["lastPhaseTransitionTime"] = json!(Time(Timestamp::now()));
        }
        let patch = json!({
            "metadata": {"resourceVersion": volume.resource_version()},
            "status": st,
        });
        match self
            .volumes_api()
            .patch_status(
                &volume.name_any(),
                &PatchParams::default(),
                &Patch::Merge(patch),
            )
            .await
        {
            Ok(v) => Ok(v),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(volume.clone()),
            Err(e) => Err(e.into()),
        }
    }

    /// [`Binder::update_volume_phase`] with an event, both only when the phase changes.
    async fn fail_volume(
        &self,
        volume: &PersistentVolume,
        reason: &str,
        message: String,
    ) -> Result<(), ControllerError> {
        if phase_of(volume) == "Failed" {
            return Ok(());
        }
        let v = self
            .update_volume_phase(volume, "Failed", Some(&message))
            .await?;
        self.events.warning(&v, reason, message).await;
        Ok(())
    }

    async fn sync_volume(&self, name: &str) -> Result<(), ControllerError> {
        let Some(volume) = self.volumes.store().get(&ObjectRef::new(name)) else {
            return Ok(());
        };
        let Some(cref) = volume.spec.as_ref().and_then(|s| s.claim_ref.clone()) else {
            self.update_volume_phase(&volume, "Available", None).await?;
            return Ok(());
        };
        let ref_uid = cref.uid.clone().unwrap_or_default();
        if ref_uid.is_empty() {
            // Pre-bound by the user to a claim not bound yet: the claim's sync binds it.
            self.update_volume_phase(&volume, "Available", None).await?;
            return Ok(());
        }
        let (ns, claim_name) = (
            cref.namespace.clone().unwrap_or_default(),
            cref.name.clone().unwrap_or_default(),
        );
        let mut claim = self
            .claims
            .store()
            .get(&ObjectRef::new(&claim_name).within(&ns))
            .map(|c| (*c).clone());
        let phase = phase_of(&volume).to_string();
        if claim.is_none() && phase != "Released" && phase != "Failed" {
            // The cache may lag behind a claim just made: ask the API before releasing.
            claim = self.claims_api(&ns).get_opt(&claim_name).await?;
        }
        let claim = claim.filter(|c| c.uid().as_deref() == Some(ref_uid.as_str()));
        let Some(claim) = claim else {
            let volume = if phase != "Released" && phase != "Failed" {
                self.update_volume_phase(&volume, "Released", None).await?
            } else {
                (*volume).clone()
            };
            return self.reclaim(&volume).await;
        };
        match volume_name_of(&claim) {
            None => {
                if volume_mode_mismatch(&claim, &volume) {
                    self.events
                        .warning(
                            volume.as_ref(),
                            "VolumeMismatch",
                            format!(
                                "Cannot bind PersistentVolume to requested PersistentVolumeClaim \
                                 {claim_name:?} due to incompatible volumeMode."
                            ),
                        )
                        .await;
                    self.events
                        .warning(
                            &claim,
                            "VolumeMismatch",
                            format!(
                                "Cannot bind PersistentVolume {name:?} to requested \
                                 PersistentVolumeClaim due to incompatible volumeMode."
                            ),
                        )
                        .await;
                    return Ok(());
                }
                // The claim's sync finishes the binding (a provisioned volume waits for it).
                self.claim_queue.add(claim_key(&claim));
                Ok(())
            }
            Some(v) if v == name => {
                self.update_volume_phase(&volume, "Bound", None).await?;
                Ok(())
            }
            Some(_) => {
                let provisioned = has_annotation(volume.as_ref(), ANN_PROVISIONED_BY);
                let policy = volume
                    .spec
                    .as_ref()
                    .and_then(|s| s.persistent_volume_reclaim_policy.as_deref());
                if provisioned && policy == Some("Delete") {
                    // Made for this claim, which went elsewhere: not needed.
                    let volume = if phase != "Released" && phase != "Failed" {
                        self.update_volume_phase(&volume, "Released", None).await?
                    } else {
                        (*volume).clone()
                    };
                    return self.reclaim(&volume).await;
                }
                self.unbind_volume(&volume).await
            }
        }
    }

    /// Frees a volume the controller bound (or, bound by the user, forgets the claim's uid and
    /// stays pre-bound to its name).
    async fn unbind_volume(&self, volume: &PersistentVolume) -> Result<(), ControllerError> {
        let mut v = volume.clone();
        if has_annotation(&v, ANN_BOUND_BY_CONTROLLER) {
            if let Some(s) = v.spec.as_mut() {
                s.claim_ref = None;
            }
            v.annotations_mut().remove(ANN_BOUND_BY_CONTROLLER);
        } else if let Some(r) = v.spec.as_mut().and_then(|s| s.claim_ref.as_mut()) {
            r.uid = None;
        }
        let v = self
            .volumes_api()
            .replace(&v.name_any(), &PostParams::default(), &v)
            .await?;
        self.update_volume_phase(&v, "Available", None).await?;
        Ok(())
    }

    /// What a released volume's reclaim policy asks for.
    async fn reclaim(&self, volume: &PersistentVolume) -> Result<(), ControllerError> {
        let policy = volume
            .spec
            .as_ref()
            .and_then(|s| s.persistent_volume_reclaim_policy.as_deref())
            .unwrap_or("Retain");
        match policy {
            "Retain" => Ok(()),
            "Recycle" => {
                self.fail_volume(
                    volume,
                    "VolumeFailedRecycle",
                    "No recycler plugin found for the volume!".into(),
                )
                .await
            }
            "Delete" => {
                let by = volume
                    .annotations()
                    .get(ANN_PROVISIONED_BY)
                    .cloned()
                    .unwrap_or_default();
                if !by.is_empty() && !by.starts_with("kubernetes.io/") {
                    // An external provisioner's volume: it deletes it.
                    return Ok(());
                }
                let why = if by.is_empty() {
                    "no deletable volume plugin matched".to_string()
                } else {
                    format!("no volume plugin matched name: {by}")
                };
                let name = volume.name_any();
                self.fail_volume(
                    volume,
                    "VolumeFailedDelete",
                    format!("error getting deleter volume plugin for volume {name:?}: {why}"),
                )
                .await
            }
            _ => {
                self.fail_volume(
                    volume,
                    "VolumeUnknownReclaimPolicy",
                    "Volume has unrecognized PersistentVolumeReclaimPolicy".into(),
                )
                .await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn class(name: &str, created: &str, default: bool) -> Arc<StorageClass> {
        let mut a = serde_json::Map::new();
        if default {
            a.insert(ANN_IS_DEFAULT_CLASS.into(), json!("true"));
        }
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": name, "creationTimestamp": created, "annotations": a},
                "provisioner": "p",
            }))
            .unwrap(),
        )
    }

    #[test]
    fn the_newest_default_class_is_the_default() {
        let classes = [
            class("a", "2024-01-01T00:00:00Z", true),
            class("c", "2024-05-01T00:00:00Z", true),
            class("b", "2024-05-01T00:00:00Z", true),
            class("z", "2025-01-01T00:00:00Z", false),
        ];
        assert_eq!(default_class(&classes).unwrap().name_any(), "b");
        assert!(default_class(&classes[3..]).is_none());
    }
}
