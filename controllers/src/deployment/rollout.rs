//! One sync of one Deployment (upstream's sync.go, rolling.go and recreate.go): the new
//! ReplicaSet found or made and its revision kept up to date; RollingUpdate (scale the new one
//! up within maxSurge, the old ones down within maxUnavailable, unhealthy old pods first),
//! Recreate (every old pod gone before the new ones start), proportional scaling of every
//! ReplicaSet when the replica count changes mid-rollout or while paused, the revision history
//! trimmed to revisionHistoryLimit, and the status written back. Every ReplicaSet write is an
//! update at the cached resourceVersion, so a stale cache ends in a conflict and a retry, never
//! in a wrong scale.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, ObjectMeta, Patch, PatchParams, PostParams, Preconditions};
use kube::{Api, ResourceExt};
use serde_json::json;

use super::progress;
use super::replica_sets::*;
use super::DeploymentController;
use crate::owners::{controller_of, controller_ref};
use crate::ControllerError;

/// A Deployment being synced: the cached object, updated as this sync writes it.
pub(super) struct Rollout<'a> {
    pub ctl: &'a DeploymentController,
    pub d: Deployment,
    pub key: String,
}

fn active(sets: &[ReplicaSet]) -> Vec<&ReplicaSet> {
    sets.iter().filter(|r| replicas(r) > 0).collect()
}

fn sum(sets: &[&ReplicaSet], f: fn(&ReplicaSet) -> i32) -> i32 {
    sets.iter().map(|r| f(r)).sum()
}

impl Rollout<'_> {
    fn ns(&self) -> String {
        self.d.namespace().unwrap_or_default()
    }

    fn sets_api(&self) -> Api<ReplicaSet> {
        Api::namespaced(self.ctl.client.clone(), &self.ns())
    }

    fn api(&self) -> Api<Deployment> {
        Api::namespaced(self.ctl.client.clone(), &self.ns())
    }

    /// The new ReplicaSet (made when `create` and there is none) and the old ones, with the
    /// revisions brought up to date (upstream's getAllReplicaSetsAndSyncRevision).
    pub async fn all(
        &mut self,
        sets: Vec<ReplicaSet>,
        create: bool,
    ) -> Result<(Option<ReplicaSet>, Vec<ReplicaSet>), ControllerError> {
        let (new, olds) = split_new_and_old(&self.d, sets);
        let new_revision = olds.iter().map(revision).max().unwrap_or(0) + 1;
        let new = match new {
            Some(rs) => Some(self.sync_new(rs, new_revision).await?),
            None if create => Some(self.create_new(&olds, new_revision).await?),
            None => None,
        };
        Ok((new, olds))
    }

    /// An existing new ReplicaSet: annotations and minReadySeconds from the Deployment, and the
    /// Deployment's revision from it.
    async fn sync_new(
        &mut self,
        mut rs: ReplicaSet,
        new_revision: i64,
    ) -> Result<ReplicaSet, ControllerError> {
        let min_ready = self.d.spec.as_ref().and_then(|s| s.min_ready_seconds);
        let annotated = set_new_annotations(&self.d, &mut rs, new_revision, true);
        let spec = rs.spec.get_or_insert_with(ReplicaSetSpec::default);
        let min_ready_changed = spec.min_ready_seconds != min_ready;
        spec.min_ready_seconds = min_ready;
        if annotated || min_ready_changed {
            rs = self
                .sets_api()
                .replace(&rs.name_any(), &PostParams::default(), &rs)
                .await?;
        }
        self.set_revision(&rs).await?;
        let status = self.d.status.clone().unwrap_or_default();
        if progress::deadline(&self.d).is_some()
            && progress::get(&status, progress::PROGRESSING).is_none()
        {
            let mut status = status;
            progress::set(
                &mut status,
                progress::condition(
                    progress::PROGRESSING,
                    "True",
                    "FoundNewReplicaSet",
                    format!("Found new replica set {:?}", rs.name_any()),
                    Timestamp::now(),
                ),
            );
            self.write_status(status).await?;
        }
        Ok(rs)
    }

    /// The Deployment's revision annotation set to the new ReplicaSet's.
    async fn set_revision(&mut self, rs: &ReplicaSet) -> Result<(), ControllerError> {
        let Some(rev) = rs.annotations().get(REVISION).cloned() else {
            return Ok(());
        };
        if self.d.annotations().get(REVISION) == Some(&rev) {
            return Ok(());
        }
        let patch = json!({"metadata": {"annotations": {REVISION: rev}}});
        let d = self
            .api()
            .patch(
                &self.d.name_any(),
                &PatchParams::default(),
                &Patch::Merge(patch),
            )
            .await?;
        self.d.metadata = d.metadata;
        Ok(())
    }

    /// Makes the new ReplicaSet `<deployment>-<hash>` (upstream's getNewReplicaSet); a name
    /// already taken by a ReplicaSet that is not this template's raises the collision count.
    async fn create_new(
        &mut self,
        olds: &[ReplicaSet],
        new_revision: i64,
    ) -> Result<ReplicaSet, ControllerError> {
        let d = &self.d;
        let collisions = d.status.as_ref().and_then(|s| s.collision_count);
        let mut template = deployment_template(d);
        let hash = template_hash(&template, collisions);
        let labels = template
            .metadata
            .get_or_insert_with(ObjectMeta::default)
            .labels
            .get_or_insert_with(Default::default);
        labels.insert(HASH_LABEL.into(), hash.clone());
        let labels = labels.clone();
        let mut selector: LabelSelector = d
            .spec
            .as_ref()
            .map(|s| s.selector.clone())
            .unwrap_or_default();
        selector
            .match_labels
            .get_or_insert_with(Default::default)
            .insert(HASH_LABEL.into(), hash.clone());
        let mut rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(format!("{}-{hash}", d.name_any())),
                namespace: d.namespace(),
                labels: Some(labels),
                owner_references: Some(vec![controller_ref(d)]),
                ..ObjectMeta::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(0),
                min_ready_seconds: d.spec.as_ref().and_then(|s| s.min_ready_seconds),
                selector,
                template: Some(template),
            }),
            status: None,
        };
        let refs: Vec<&ReplicaSet> = olds.iter().collect();
        let count = self.new_replicas(&refs, &rs);
        set_replicas(&mut rs, count);
        set_new_annotations(d, &mut rs, new_revision, false);
        let created = match self.sets_api().create(&PostParams::default(), &rs).await {
            Ok(c) => c,
            Err(kube::Error::Api(s)) if s.code == 409 => {
                // Ours already (a cache that has not seen it yet) or a hash collision.
                let name = rs.name_any();
                let existing = self.sets_api().get(&name).await?;
                let ours = controller_of::<Deployment>(&existing)
                    .is_some_and(|o| Some(&o.uid) == self.d.metadata.uid.as_ref());
                if ours
                    && equal_ignoring_hash(&template_of(&existing), &deployment_template(&self.d))
                {
                    existing
                } else {
                    let mut status = self.d.status.clone().unwrap_or_default();
                    status.collision_count = Some(status.collision_count.unwrap_or(0) + 1);
                    self.write_status(status).await?;
                    return Err(ControllerError::Conflict(format!(
                        "hash collision: replica set {name} exists with another template"
                    )));
                }
            }
            Err(e) => {
                if let Some(status) = self.new_rs_failed(&e) {
                    self.write_status(status).await?;
                }
                return Err(e.into());
            }
        };
        if count > 0 {
            self.ctl
                .events
                .normal(
                    &self.d,
                    "ScalingReplicaSet",
                    format!(
                        "Scaled up replica set {} from 0 to {count}",
                        created.name_any()
                    ),
                )
                .await;
        }
        self.set_revision(&created).await?;
        if progress::deadline(&self.d).is_some() {
            let mut status = self.d.status.clone().unwrap_or_default();
            progress::set(
                &mut status,
                progress::condition(
                    progress::PROGRESSING,
                    "True",
                    "NewReplicaSetCreated",
                    format!("Created new replica set {:?}", created.name_any()),
                    Timestamp::now(),
                ),
            );
            self.write_status(status).await?;
        }
        Ok(created)
    }

    /// The ReplicaFailure condition of a create the API refused (upstream's FailedRSCreate).
    fn new_rs_failed(&self, e: &kube::Error) -> Option<DeploymentStatus> {
        progress::deadline(&self.d)?;
        let mut status = self.d.status.clone().unwrap_or_default();
        progress::set(
            &mut status,
            progress::condition(
                "ReplicaFailure",
                "True",
                "FailedRSCreate",
                format!("Failed to create new replica set: {e}"),
                Timestamp::now(),
            ),
        );
        Some(status)
    }

    /// How many replicas the new ReplicaSet may have now (upstream's NewRSNewReplicas).
    fn new_replicas(&self, olds: &[&ReplicaSet], new: &ReplicaSet) -> i32 {
        let want = desired(&self.d);
        if !is_rolling(&self.d) {
            return want;
        }
        let current = sum(olds, replicas) + replicas(new);
        let max_total = want + max_surge(&self.d);
        if current >= max_total {
            return replicas(new);
        }
        let up = (max_total - current).min(want - replicas(new));
        replicas(new) + up
    }

    /// Scales one ReplicaSet (and sets its replica annotations); whether its size changed.
    async fn scale(&self, rs: &mut ReplicaSet, to: i32) -> Result<bool, ControllerError> {
        let from = replicas(rs);
        let mut copy = rs.clone();
        let annotated = set_replicas_annotations(
            &mut copy,
            desired(&self.d),
            desired(&self.d) + max_surge(&self.d),
        );
        if from == to && !annotated {
            return Ok(false);
        }
        set_replicas(&mut copy, to);
        *rs = self
            .sets_api()
            .replace(&copy.name_any(), &PostParams::default(), &copy)
            .await?;
        if from != to {
            let way = if to > from { "up" } else { "down" };
            self.ctl
                .events
                .normal(
                    &self.d,
                    "ScalingReplicaSet",
                    format!(
                        "Scaled {way} replica set {} from {from} to {to}",
                        rs.name_any()
                    ),
                )
                .await;
        }
        Ok(from != to)
    }

    /// RollingUpdate (upstream's rolloutRolling).
    pub async fn rolling(&mut self, sets: Vec<ReplicaSet>) -> Result<(), ControllerError> {
        let (new, mut olds) = self.all(sets, true).await?;
        let Some(mut new) = new else {
            return Ok(());
        };
        if self.reconcile_new(&olds, &mut new).await? {
            return self.sync_rollout_status(&olds, Some(&new)).await;
        }
        if self.reconcile_old(&mut olds, &new).await? {
            return self.sync_rollout_status(&olds, Some(&new)).await;
        }
        if progress::complete(&self.d, &self.d.status.clone().unwrap_or_default()) {
            self.cleanup(&olds).await?;
        }
        self.sync_rollout_status(&olds, Some(&new)).await
    }

    async fn reconcile_new(
        &self,
        olds: &[ReplicaSet],
        new: &mut ReplicaSet,
    ) -> Result<bool, ControllerError> {
        let want = desired(&self.d);
        let have = replicas(new);
        if have == want {
            return Ok(false);
        }
        if have > want {
            return self.scale(new, want).await;
        }
        let count = self.new_replicas(&active(olds), new);
        self.scale(new, count).await
    }

    /// Old ReplicaSets scaled down as far as availability allows (upstream's
    /// reconcileOldReplicaSets): unhealthy replicas first, then available ones, oldest first.
    async fn reconcile_old(
        &self,
        olds: &mut [ReplicaSet],
        new: &ReplicaSet,
    ) -> Result<bool, ControllerError> {
        let old_count: i32 = olds.iter().map(replicas).sum();
        if old_count == 0 {
            return Ok(false);
        }
        let all_count = old_count + replicas(new);
        let min_available = desired(&self.d) - max_unavailable(&self.d);
        let new_unavailable = replicas(new) - available(new);
        let max_down = all_count - min_available - new_unavailable;
        if max_down <= 0 {
            return Ok(false);
        }
        by_creation(olds);
        // Unhealthy replicas first: they do not count towards availability.
        let mut cleaned = 0;
        for rs in olds.iter_mut() {
            if cleaned >= max_down {
                break;
            }
            let (have, avail) = (replicas(rs), available(rs));
            if have == 0 || have == avail {
                continue;
            }
            // More available than wanted: its status has not caught up with a scale-down yet
            // (as after a fail-over, when the ReplicaSet controller has not deleted the pods).
            // Acting on it would scale the set back up; upstream refuses and retries, as here.
            if avail > have {
                return Err(ControllerError::Conflict(format!(
                    "when cleaning up unhealthy replicas, got invalid request to scale down {}/{} {} -> {}",
                    self.ns(),
                    rs.name_any(),
                    have,
                    have - (max_down - cleaned).min(have - avail)
                )));
            }
            let down = (max_down - cleaned).min(have - avail);
            self.scale(rs, have - down).await?;
            cleaned += down;
        }
        // Then available ones, as far as minAvailable allows.
        let avail_all: i32 = olds.iter().map(available).sum::<i32>() + available(new);
        let mut scaled = 0;
        if avail_all > min_available {
            let total = avail_all - min_available;
            for rs in olds.iter_mut() {
                if scaled >= total {
                    break;
                }
                let have = replicas(rs);
                if have == 0 {
                    continue;
                }
                let down = have.min(total - scaled);
                self.scale(rs, have - down).await?;
                scaled += down;
            }
        }
        Ok(cleaned + scaled > 0)
    }

    /// Recreate (upstream's rolloutRecreate): the old ReplicaSets to zero, then, once no old pod
    /// runs, the new one to full size.
    pub async fn recreate(
        &mut self,
        sets: Vec<ReplicaSet>,
        pods: &HashMap<String, Vec<Arc<Pod>>>,
    ) -> Result<(), ControllerError> {
        let (new, mut olds) = self.all(sets.clone(), false).await?;
        let mut scaled = false;
        for rs in olds.iter_mut().filter(|r| replicas(r) > 0) {
            scaled |= self.scale(rs, 0).await?;
        }
        if scaled {
            return self.sync_rollout_status(&olds, new.as_ref()).await;
        }
        if old_pods_running(new.as_ref(), &olds, pods) {
            return self.sync_rollout_status(&olds, new.as_ref()).await;
        }
        let (new, olds) = match new {
            Some(n) => (n, olds),
            None => {
                let (n, o) = self.all(sets, true).await?;
                match n {
                    Some(n) => (n, o),
                    None => return Ok(()),
                }
            }
        };
        let mut new = new;
        let want = desired(&self.d);
        self.scale(&mut new, want).await?;
        if progress::complete(&self.d, &self.d.status.clone().unwrap_or_default()) {
            self.cleanup(&olds).await?;
        }
        self.sync_rollout_status(&olds, Some(&new)).await
    }

    /// Scaling without a rollout (a paused Deployment, or a replica count changed): upstream's
    /// sync and scale, proportional over the active ReplicaSets.
    pub async fn sync(&mut self, sets: Vec<ReplicaSet>) -> Result<(), ControllerError> {
        let (mut new, mut olds) = self.all(sets, false).await?;
        self.proportional(new.as_mut(), &mut olds).await?;
        let paused = self.d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
        if paused {
            self.cleanup(&olds).await?;
        }
        self.sync_status(&olds, new.as_ref()).await
    }

    async fn proportional(
        &self,
        new: Option<&mut ReplicaSet>,
        olds: &mut [ReplicaSet],
    ) -> Result<(), ControllerError> {
        let want = desired(&self.d);
        // One active ReplicaSet (or none: the newest) takes the whole count.
        let active_count = olds.iter().filter(|r| replicas(r) > 0).count()
            + usize::from(new.as_ref().is_some_and(|n| replicas(n) > 0));
        if active_count <= 1 {
            let target: Option<&mut ReplicaSet> = if active_count == 1 {
                match new {
                    Some(n) if replicas(n) > 0 => Some(n),
                    _ => olds.iter_mut().find(|r| replicas(r) > 0),
                }
            } else if new.is_some() {
                new
            } else {
                by_creation(olds);
                olds.last_mut()
            };
            if let Some(rs) = target {
                if replicas(rs) != want {
                    self.scale(rs, want).await?;
                }
            }
            return Ok(());
        }
        // The new ReplicaSet saturated: the old ones go.
        if let Some(n) = new.as_ref() {
            let saturated = replicas(n) == want
                && n.annotations().get(DESIRED_REPLICAS) == Some(&want.to_string())
                && available(n) == want;
            if saturated {
                for rs in olds.iter_mut().filter(|r| replicas(r) > 0) {
                    self.scale(rs, 0).await?;
                }
                return Ok(());
            }
        }
        if !is_rolling(&self.d) {
            return Ok(());
        }
        let mut all: Vec<&mut ReplicaSet> = olds.iter_mut().filter(|r| replicas(r) > 0).collect();
        if let Some(n) = new {
            if replicas(n) > 0 {
                all.push(n);
            }
        }
        let current: i32 = all.iter().map(|r| replicas(r)).sum();
        let allowed = if want > 0 {
            want + max_surge(&self.d)
        } else {
            0
        };
        let to_add = allowed - current;
        let created = |r: &ReplicaSet| r.metadata.creation_timestamp.as_ref().map(|t| t.0);
        // Largest first; among equals the newer first when growing, the older when shrinking.
        all.sort_by(|a, b| {
            replicas(b).cmp(&replicas(a)).then_with(|| {
                if to_add > 0 {
                    created(b).cmp(&created(a))
                } else {
                    created(a).cmp(&created(b))
                }
            })
        });
        let mut added = 0;
        let mut sizes: Vec<i32> = Vec::with_capacity(all.len());
        for rs in &all {
            let mut size = replicas(rs);
            if to_add != 0 {
                let p = self.proportion(rs, to_add, added);
                size += p;
                added += p;
            }
            sizes.push(size);
        }
        for (i, rs) in all.into_iter().enumerate() {
            let mut size = sizes[i];
            if i == 0 && to_add != 0 {
                size = (size + to_add - added).max(0);
            }
            self.scale(rs, size).await?;
        }
        Ok(())
    }

    /// This ReplicaSet's share of `to_add` (upstream's GetProportion and
    /// getReplicaSetFraction), bounded by what is left to add.
    fn proportion(&self, rs: &ReplicaSet, to_add: i32, added: i32) -> i32 {
        if replicas(rs) == 0 || to_add == 0 || to_add == added {
            return 0;
        }
        let want = desired(&self.d);
        let fraction = if want == 0 {
            -replicas(rs)
        } else {
            let full = want + max_surge(&self.d);
            let annotated = rs
                .annotations()
                .get(MAX_REPLICAS)
                .and_then(|v| v.parse::<i32>().ok())
                .unwrap_or_else(|| self.d.status.as_ref().and_then(|s| s.replicas).unwrap_or(0));
            if annotated == 0 {
                0
            } else {
                let size = f64::from(replicas(rs)) * f64::from(full) / f64::from(annotated);
                size.round() as i32 - replicas(rs)
            }
        };
        let allowed = to_add - added;
        if to_add > 0 {
            fraction.min(allowed)
        } else {
            fraction.max(allowed)
        }
    }

    /// Old ReplicaSets beyond revisionHistoryLimit (default 10) deleted, lowest revision first,
    /// those still holding pods kept (upstream's cleanupDeployment).
    async fn cleanup(&self, olds: &[ReplicaSet]) -> Result<(), ControllerError> {
        let limit = self
            .d
            .spec
            .as_ref()
            .and_then(|s| s.revision_history_limit)
            .unwrap_or(10)
            .max(0) as usize;
        let mut alive: Vec<&ReplicaSet> = olds
            .iter()
            .filter(|r| r.metadata.deletion_timestamp.is_none())
            .collect();
        if alive.len() <= limit {
            return Ok(());
        }
        let diff = alive.len() - limit;
        alive.sort_by_key(|r| {
            (
                revision(r),
                r.metadata.creation_timestamp.as_ref().map(|t| t.0),
            )
        });
        for rs in alive.into_iter().take(diff) {
            let observed = rs
                .status
                .as_ref()
                .and_then(|s| s.observed_generation)
                .unwrap_or(0);
            if status_replicas(rs) != 0
                || replicas(rs) != 0
                || rs.metadata.generation.unwrap_or(0) > observed
            {
                continue;
            }
            let params = DeleteParams {
                preconditions: Some(Preconditions {
                    uid: rs.uid(),
                    resource_version: None,
                }),
                ..DeleteParams::default()
            };
            match self.sets_api().delete(&rs.name_any(), &params).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// The status of a rollout, Progressing included; a rollout still under way is looked at
    /// again when its deadline passes.
    async fn sync_rollout_status(
        &mut self,
        olds: &[ReplicaSet],
        new: Option<&ReplicaSet>,
    ) -> Result<(), ControllerError> {
        let mut all: Vec<&ReplicaSet> = olds.iter().collect();
        all.extend(new);
        let status = progress::rollout_status(&self.d, &all, new, Timestamp::now());
        self.requeue_at_deadline(&status);
        self.write_status(status).await
    }

    /// The status alone (upstream's syncDeploymentStatus).
    pub async fn sync_status(
        &mut self,
        olds: &[ReplicaSet],
        new: Option<&ReplicaSet>,
    ) -> Result<(), ControllerError> {
        let mut all: Vec<&ReplicaSet> = olds.iter().collect();
        all.extend(new);
        let status = progress::calculate(&self.d, &all, new, Timestamp::now());
        self.write_status(status).await
    }

    fn requeue_at_deadline(&self, status: &DeploymentStatus) {
        if progress::complete(&self.d, status) {
            return;
        }
        if let Some(at) = progress::times_out_at(&self.d, status) {
            let now = Timestamp::now();
            let after = if at > now {
                std::time::Duration::try_from(at.duration_since(now)).unwrap_or_default()
                    + std::time::Duration::from_secs(1)
            } else {
                std::time::Duration::ZERO
            };
            if !after.is_zero() {
                self.ctl.queue.add_after(self.key.clone(), after);
            }
        }
    }

    /// Writes `status` unless it is what the Deployment already has.
    pub async fn write_status(&mut self, status: DeploymentStatus) -> Result<(), ControllerError> {
        let current = self.d.status.clone().unwrap_or_default();
        if omit_zero_counts(&current) == omit_zero_counts(&status) {
            return Ok(());
        }
        // Counts of zero are left out, as upstream's omitempty fields; a merge patch removes
        // them with null.
        let mut body = serde_json::to_value(omit_zero_counts(&status)).unwrap_or_default();
        for k in [
            "replicas",
            "updatedReplicas",
            "readyReplicas",
            "availableReplicas",
            "unavailableReplicas",
        ] {
            if body.get(k).is_none() {
                body[k] = serde_json::Value::Null;
            }
        }
        let patch = json!({ "status": body });
        match self
            .api()
            .patch_status(
                &self.d.name_any(),
                &PatchParams::default(),
                &Patch::Merge(patch),
            )
            .await
        {
            Ok(d) => {
                self.d.status = d.status;
                self.d.metadata.resource_version = d.metadata.resource_version;
                Ok(())
            }
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// Whether any pod of an old ReplicaSet may still run (upstream's oldPodsRunning): pods in
/// Unknown count, finished ones do not.
fn old_pods_running(
    new: Option<&ReplicaSet>,
    olds: &[ReplicaSet],
    pods: &HashMap<String, Vec<Arc<Pod>>>,
) -> bool {
    if olds.iter().map(status_replicas).sum::<i32>() > 0 {
        return true;
    }
    let new_uid = new.and_then(|n| n.uid());
    pods.iter()
        .filter(|(uid, _)| Some(*uid) != new_uid.as_ref())
        .flat_map(|(_, p)| p.iter())
        .any(|p| !crate::pod_state::is_finished(p))
}

/// The status as stored: counts of zero absent.
fn omit_zero_counts(s: &DeploymentStatus) -> DeploymentStatus {
    let z = |v: Option<i32>| v.filter(|n| *n != 0);
    DeploymentStatus {
        replicas: z(s.replicas),
        updated_replicas: z(s.updated_replicas),
        ready_replicas: z(s.ready_replicas),
        available_replicas: z(s.available_replicas),
        unavailable_replicas: z(s.unavailable_replicas),
        ..s.clone()
    }
}
