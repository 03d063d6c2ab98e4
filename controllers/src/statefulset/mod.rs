//! The statefulset controller (kube-controller-manager's `statefulset`): keeps a StatefulSet's
//! pods `<set>-<ordinal>` for each ordinal it wants, each with its claims
//! `<template>-<set>-<ordinal>` made first and mounted; OrderedReady sets create one pod at a
//! time once its predecessors are Running, Ready and available and remove from the highest
//! ordinal down, Parallel sets act on all at once; failed pods are deleted and made again under
//! their name. Template changes are recorded as ControllerRevisions (current and update
//! revision, history trimmed to `revisionHistoryLimit`) and rolled out from the highest ordinal
//! down to the partition (RollingUpdate) or left to deletions (OnDelete). Claims' ownerReferences
//! follow `persistentVolumeClaimRetentionPolicy`. Orphan pods and revisions the selector matches
//! are adopted and pods it no longer matches released; `status` and the pod and claim events are
//! upstream's.
//!
//! As upstream, no expectations are kept: pods have fixed names, so a create the cache has not
//! yet seen fails with AlreadyExists and the key is retried.

mod control;
mod identity;
mod retention;
mod revisions;
mod status;

use std::sync::Arc;

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::core::{Selector, SelectorExt};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Client, ResourceExt};
use tokio_util::sync::CancellationToken;

use crate::controller_revision;
use crate::events::Recorder;
use crate::informers::{Change, Informer, Informers};
use crate::owners::{self, controller_of};
use crate::workqueue::{key_of, WorkQueue};
use crate::{ControllerError, ManagerConfig};

pub(crate) fn selector_of(set: &StatefulSet) -> Option<Selector> {
    let sel = set.spec.as_ref()?.selector.clone();
    let selector = Selector::try_from(sel).ok()?;
    // An empty selector selects nothing for a controller (validation refuses one anyway).
    (!selector.selects_all()).then_some(selector)
}

struct StatefulSetController {
    client: Client,
    sets: Arc<Informer<StatefulSet>>,
    pods: Arc<Informer<Pod>>,
    revisions: Arc<Informer<ControllerRevision>>,
    claims: Arc<Informer<PersistentVolumeClaim>>,
    queue: Arc<WorkQueue<String>>,
    events: Recorder,
}

/// Registers the controller's handlers; its workers run once the informers have synced.
pub fn register(
    client: Client,
    informers: &Informers,
    config: &ManagerConfig,
    ended: CancellationToken,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let workers = config.statefulset_workers;
    let sets = informers.get::<StatefulSet>();
    let pods = informers.get::<Pod>();
    let revisions = informers.get::<ControllerRevision>();
    let claims = informers.get::<PersistentVolumeClaim>();
    let queue: Arc<WorkQueue<String>> = WorkQueue::new(ended);
    let q = queue.clone();
    sets.on_change(move |c| {
        let (Change::Applied(s) | Change::Deleted(s)) = c;
        q.add(key_of(&s.namespace().unwrap_or_default(), &s.name_any()));
    });
    let (q, s) = (queue.clone(), sets.clone());
    pods.on_change(move |c| {
        let (pod, deleted) = match c {
            Change::Applied(p) => (p, false),
            Change::Deleted(p) => (p, true),
        };
        let ns = pod.namespace().unwrap_or_default();
        match controller_of::<StatefulSet>(pod) {
            Some(owner) => {
                // Only the set the reference names (by uid), not a newer one of the name.
                let set = s.store().get(&ObjectRef::new(&owner.name).within(&ns));
                if set.as_ref().and_then(|r| r.uid()).as_deref() == Some(owner.uid.as_str()) {
                    q.add(key_of(&ns, &owner.name));
                }
            }
            // An orphan: every set that might adopt it looks.
            None if !deleted => {
                for set in s.store().state() {
                    if set.namespace().as_deref() == Some(ns.as_str())
                        && selector_of(&set).is_some_and(|sel| sel.matches(pod.labels()))
                    {
                        q.add(key_of(&ns, &set.name_any()));
                    }
                }
            }
            None => {}
        }
    });
    let ctl = Arc::new(StatefulSetController {
        events: Recorder::new(client.clone(), "statefulset-controller"),
        client,
        sets,
        pods,
        revisions,
        claims,
        queue,
    });
    async move {
        ctl.sets.synced().await;
        ctl.pods.synced().await;
        ctl.revisions.synced().await;
        ctl.claims.synced().await;
        let queue = ctl.queue.clone();
        crate::workqueue::run_workers(queue, workers, "statefulset", move |key| {
            let ctl = ctl.clone();
            async move { ctl.sync(&key).await }
        })
        .await;
    }
}

/// Whether the controller may still adopt for `set`: a fresh read finds the same set, not
/// being deleted (upstream's canAdopt, asked once a sync).
struct AdoptCheck<'a> {
    client: &'a Client,
    set: &'a StatefulSet,
    answer: Option<bool>,
}

impl AdoptCheck<'_> {
    async fn allowed(&mut self) -> Result<bool, ControllerError> {
        if let Some(a) = self.answer {
            return Ok(a);
        }
        let api: Api<StatefulSet> = Api::namespaced(
            self.client.clone(),
            &self.set.namespace().unwrap_or_default(),
        );
        let fresh = api.get_opt(&self.set.name_any()).await?;
        let ok = fresh
            .is_some_and(|f| f.uid() == self.set.uid() && f.metadata.deletion_timestamp.is_none());
        self.answer = Some(ok);
        Ok(ok)
    }
}

impl StatefulSetController {
    async fn sync(&self, key: &str) -> Result<(), ControllerError> {
        let Some((ns, name)) = key.split_once('/') else {
            return Ok(());
        };
        let Some(set) = self.sets.store().get(&ObjectRef::new(name).within(ns)) else {
            return Ok(());
        };
        let Some(selector) = selector_of(&set) else {
            return Ok(());
        };
        let mut check = AdoptCheck {
            client: &self.client,
            set: &set,
            answer: None,
        };
        self.adopt_orphan_revisions(&set, &selector, &mut check)
            .await?;
        let pods = self.claim_pods(&set, &selector, &mut check).await?;
        let available = self.update(&set, &selector, pods).await?;
        // A pod ready but not yet for minReadySeconds becomes available by time alone: look
        // again then.
        let min_ready = set
            .spec
            .as_ref()
            .and_then(|s| s.min_ready_seconds)
            .unwrap_or(0);
        if min_ready > 0 && available != identity::replicas(&set) {
            self.queue.add_after(
                key.to_string(),
                std::time::Duration::from_secs(min_ready as u64),
            );
        }
        Ok(())
    }

    /// Adopts the revisions the selector matches that no controller owns.
    async fn adopt_orphan_revisions(
        &self,
        set: &StatefulSet,
        selector: &Selector,
        check: &mut AdoptCheck<'_>,
    ) -> Result<(), ControllerError> {
        let listed =
            controller_revision::owned_or_orphaned(set, selector, self.revisions.store().state());
        for r in listed
            .iter()
            .filter(|r| !controller_revision::controlled_by(set, r))
        {
            if !check.allowed().await? {
                return Err(ControllerError::Conflict(format!(
                    "can't adopt ControllerRevisions: StatefulSet {} is gone or being deleted",
                    set.name_any()
                )));
            }
            owners::adopt(&self.client, set, r).await?;
        }
        Ok(())
    }

    /// The set's pods: those it controls whose labels and name still fit (others it releases),
    /// and orphans that fit, which it adopts (upstream's ClaimPods with isMemberOf).
    async fn claim_pods(
        &self,
        set: &StatefulSet,
        selector: &Selector,
        check: &mut AdoptCheck<'_>,
    ) -> Result<Vec<Pod>, ControllerError> {
        let ns = set.namespace();
        let uid = set.uid().unwrap_or_default();
        let live = set.metadata.deletion_timestamp.is_none();
        let mut mine = Vec::new();
        for pod in self.pods.store().state() {
            if pod.namespace() != ns {
                continue;
            }
            let fits = selector.matches(pod.labels()) && identity::is_member(set, &pod);
            match controller_of::<StatefulSet>(pod.as_ref()) {
                Some(o) if o.uid == uid => {
                    if fits {
                        mine.push(pod.as_ref().clone());
                    } else if live {
                        owners::release(&self.client, pod.as_ref(), &uid).await?;
                    }
                }
                Some(_) => {}
                None => {
                    let controlled = pod
                        .metadata
                        .owner_references
                        .as_deref()
                        .unwrap_or_default()
                        .iter()
                        .any(|o| o.controller == Some(true));
                    if fits
                        && live
                        && !controlled
                        && pod.metadata.deletion_timestamp.is_none()
                        && check.allowed().await?
                        && owners::adopt(&self.client, set, pod.as_ref()).await?
                    {
                        mine.push(pod.as_ref().clone());
                    }
                }
            }
        }
        Ok(mine)
    }
}
