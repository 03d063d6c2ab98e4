//! The deployment controller (kube-controller-manager's `deployment`): a Deployment owns
//! ReplicaSets, one per pod template (named `<deployment>-<pod-template-hash>`), and moves its
//! pods from the old ones to the new one by its strategy — RollingUpdate within maxSurge and
//! maxUnavailable, or Recreate — keeping revisions (`kubectl rollout history/undo`), pausing
//! (`kubectl rollout pause/resume`), and reporting status with the Available and Progressing
//! conditions (progressDeadlineSeconds) and ScalingReplicaSet events. The pods themselves are
//! the replicaset controller's.

mod progress;
mod replica_sets;
mod rollout;

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::core::{Selector, SelectorExt};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Client, ResourceExt};
use tokio_util::sync::CancellationToken;

use crate::events::Recorder;
use crate::informers::{Change, Informer, Informers};
use crate::owners::{self, controller_of};
use crate::workqueue::{key_of, WorkQueue};
use crate::ControllerError;
use replica_sets::{desired, replicas, DESIRED_REPLICAS};
use rollout::Rollout;

/// The Deployment's selector; `None` when it selects everything or cannot be read.
fn selector_of(d: &Deployment) -> Option<Selector> {
    let sel = d.spec.as_ref()?.selector.clone();
    let s = Selector::try_from(sel).ok()?;
    (!s.selects_all()).then_some(s)
}

pub(crate) struct DeploymentController {
    client: Client,
    deployments: Arc<Informer<Deployment>>,
    sets: Arc<Informer<ReplicaSet>>,
    pods: Arc<Informer<Pod>>,
    queue: Arc<WorkQueue<String>>,
    events: Recorder,
}

/// The Deployment owning `obj` by a controller reference, if cached (checked by uid).
fn owning_deployment(
    deployments: &Informer<Deployment>,
    ns: &str,
    obj: &impl kube::Resource,
) -> Option<String> {
    let owner = controller_of::<Deployment>(obj)?;
    let d = deployments
        .store()
        .get(&ObjectRef::new(&owner.name).within(ns))?;
    (d.uid().as_deref() == Some(owner.uid.as_str())).then(|| key_of(ns, &owner.name))
}

/// Registers the controller's handlers; its workers run once the informers have synced.
pub fn register(
    client: Client,
    informers: &Informers,
    workers: usize,
    ended: CancellationToken,
) -> impl std::future::Future<Output = ()> + Send {
    let deployments = informers.get::<Deployment>();
    let sets = informers.get::<ReplicaSet>();
    let pods = informers.get::<Pod>();
    let queue: Arc<WorkQueue<String>> = WorkQueue::new(ended);
    let q = queue.clone();
    deployments.on_change(move |c| {
        let (Change::Applied(d) | Change::Deleted(d)) = c;
        q.add(key_of(&d.namespace().unwrap_or_default(), &d.name_any()));
    });
    let (q, ds) = (queue.clone(), deployments.clone());
    sets.on_change(move |c| {
        let (Change::Applied(rs) | Change::Deleted(rs)) = c;
        let ns = rs.namespace().unwrap_or_default();
        if let Some(k) = owning_deployment(&ds, &ns, rs) {
            q.add(k);
        } else if controller_of::<Deployment>(rs).is_none() && matches!(c, Change::Applied(_)) {
            // An orphan: every Deployment that might adopt it looks.
            for d in ds.store().state() {
                if d.namespace().as_deref() == Some(ns.as_str())
                    && selector_of(&d).is_some_and(|s| s.matches(rs.labels()))
                {
                    q.add(key_of(&ns, &d.name_any()));
                }
            }
        }
    });
    // A Recreate rollout waits for the old pods to go: their deletions wake it.
    let (q, ds, rss) = (queue.clone(), deployments.clone(), sets.clone());
    pods.on_change(move |c| {
        let Change::Deleted(pod) = c else {
            return;
        };
        let ns = pod.namespace().unwrap_or_default();
        let Some(owner) = controller_of::<ReplicaSet>(pod) else {
            return;
        };
        if let Some(rs) = rss.store().get(&ObjectRef::new(&owner.name).within(&ns)) {
            if let Some(k) = owning_deployment(&ds, &ns, rs.as_ref()) {
                q.add(k);
            }
        }
    });
    let ctl = Arc::new(DeploymentController {
        events: Recorder::new(client.clone(), "deployment-controller"),
        client,
        deployments,
        sets,
        pods,
        queue,
    });
    async move {
        ctl.deployments.synced().await;
        ctl.sets.synced().await;
        ctl.pods.synced().await;
        let queue = ctl.queue.clone();
        crate::workqueue::run_workers(queue, workers, "deployment", move |key| {
            let ctl = ctl.clone();
            async move { ctl.sync(&key).await }
        })
        .await;
    }
}

impl DeploymentController {
    async fn sync(&self, key: &str) -> Result<(), ControllerError> {
        let Some((ns, name)) = key.split_once('/') else {
            return Ok(());
        };
        let Some(d) = self
            .deployments
            .store()
            .get(&ObjectRef::new(name).within(ns))
        else {
            return Ok(());
        };
        let d = (*d).clone();
        let Some(selector) = selector_of(&d) else {
            self.events
                .warning(
                    &d,
                    "SelectingAll",
                    "This deployment is selecting all pods. A non-empty selector is required."
                        .into(),
                )
                .await;
            return Ok(());
        };
        let sets = self.claim(&d, &selector).await?;
        let mut run = Rollout {
            ctl: self,
            d,
            key: key.to_string(),
        };
        if run.d.metadata.deletion_timestamp.is_some() {
            let (new, olds) = replica_sets::split_new_and_old(&run.d, sets);
            return run.sync_status(&olds, new.as_ref()).await;
        }
        if let Some(cond) = progress::paused_condition(&run.d, k8s_openapi::jiff::Timestamp::now())
        {
            let mut status = run.d.status.clone().unwrap_or_default();
            progress::set(&mut status, cond);
            run.write_status(status).await?;
        }
        let paused = run.d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
        let want = desired(&run.d).to_string();
        let scaling = sets.iter().any(|rs| {
            replicas(rs) > 0
                && rs
                    .annotations()
                    .get(DESIRED_REPLICAS)
                    .is_some_and(|v| *v != want)
        });
        if paused || scaling {
            return run.sync(sets).await;
        }
        if replica_sets::is_rolling(&run.d) {
            run.rolling(sets).await
        } else {
            let pods = self.pods_by_set(&run.d, &sets);
            run.recreate(sets, &pods).await
        }
    }

    /// The ReplicaSets this Deployment controls, adopting orphans its selector matches and
    /// releasing its own that it no longer matches (upstream's ClaimReplicaSets).
    async fn claim(
        &self,
        d: &Deployment,
        selector: &Selector,
    ) -> Result<Vec<ReplicaSet>, ControllerError> {
        let ns = d.namespace().unwrap_or_default();
        let uid = d.uid().unwrap_or_default();
        let live = d.metadata.deletion_timestamp.is_none();
        let mut mine = Vec::new();
        for rs in self.sets.store().state() {
            if rs.namespace().as_deref() != Some(ns.as_str()) {
                continue;
            }
            let matches = selector.matches(rs.labels());
            match controller_of::<Deployment>(rs.as_ref()) {
                Some(o) if o.uid == uid && matches => mine.push((*rs).clone()),
                Some(o) if o.uid == uid && live => {
                    owners::release(&self.client, rs.as_ref(), &uid).await?
                }
                None if matches
                    && live
                    && rs.metadata.deletion_timestamp.is_none()
                    && owners::adopt(&self.client, d, rs.as_ref()).await? =>
                {
                    let api: Api<ReplicaSet> = Api::namespaced(self.client.clone(), &ns);
                    if let Ok(fresh) = api.get(&rs.name_any()).await {
                        mine.push(fresh);
                    }
                }
                _ => {}
            }
        }
        Ok(mine)
    }

    /// The Deployment's pods by the uid of the ReplicaSet controlling them.
    fn pods_by_set(&self, d: &Deployment, sets: &[ReplicaSet]) -> HashMap<String, Vec<Arc<Pod>>> {
        let ns = d.namespace().unwrap_or_default();
        let uids: Vec<String> = sets.iter().filter_map(|r| r.uid()).collect();
        let mut map: HashMap<String, Vec<Arc<Pod>>> = HashMap::new();
        for p in self.pods.store().state() {
            if p.namespace().as_deref() != Some(ns.as_str()) {
                continue;
            }
            if let Some(o) = controller_of::<ReplicaSet>(p.as_ref()) {
                if uids.contains(&o.uid) {
                    map.entry(o.uid.clone()).or_default().push(p);
                }
            }
        }
        map
    }
}
