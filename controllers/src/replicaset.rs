//! The replicaset controller (kube-controller-manager's `replicaset`), which also runs the
//! `replicationcontroller` controller as upstream does (one reconcile over either kind, through
//! [`ReplicatedSet`]): keeps as many pods as `spec.replicas`, made from the template with a
//! controller ownerReference; adopts orphan pods its selector matches and releases owned pods it
//! no longer matches; creates in slow-start batches (1, 2, 4, … up to 500 a sync) and deletes
//! the pods the main keys of upstream's ranking put first (unscheduled, pending, not ready,
//! restarted most, newest); reports `status` (replicas, fullyLabeledReplicas, readyReplicas,
//! availableReplicas, observedGeneration) and the SuccessfulCreate / SuccessfulDelete /
//! FailedCreate events. Expectations keep a lagging cache from creating or deleting twice.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec, ReplicationController};
use k8s_openapi::jiff::Timestamp;
use k8s_openapi::NamespaceResourceScope;
use kube::api::{DeleteParams, ObjectMeta, PostParams};
use kube::core::{Selector, SelectorExt};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::events::Recorder;
use crate::expectations::Expectations;
use crate::informers::{Change, Informer, Informers, Object};
use crate::owners::{self, controller_of};
use crate::pod_state::{deletion_rank, is_active, is_available, is_ready};
use crate::workqueue::{key_of, WorkQueue};
use crate::ControllerError;

/// The most pods one sync creates or deletes (upstream's burstReplicas).
const BURST: usize = 500;
/// The first slow-start batch.
const SLOW_START: usize = 1;

/// What the controller reads of a ReplicaSet or a ReplicationController.
pub trait ReplicatedSet: Object + Resource<Scope = NamespaceResourceScope> {
    /// The controller's name (its work queue and logs).
    const CONTROLLER: &'static str;
    /// The component its Events are reported by.
    const COMPONENT: &'static str;
    /// The pods it selects; `None` for a selector that selects nothing or is invalid.
    fn selector(&self) -> Option<Selector>;
    fn replicas(&self) -> i32;
    fn template(&self) -> Option<PodTemplateSpec>;
    fn min_ready_seconds(&self) -> i32;
    /// The reported replicas, fullyLabeledReplicas, readyReplicas, availableReplicas and
    /// observedGeneration.
    fn reported(&self) -> Option<(i32, i32, i32, i32, Option<i64>)>;
}

impl ReplicatedSet for ReplicaSet {
    const CONTROLLER: &'static str = "replicaset";
    const COMPONENT: &'static str = "replicaset-controller";
    fn selector(&self) -> Option<Selector> {
        let sel = self.spec.as_ref()?.selector.clone();
        let selector = Selector::try_from(sel).ok()?;
        // An empty selector selects nothing for a controller (validation refuses one anyway).
        (!selector.selects_all()).then_some(selector)
    }
    fn replicas(&self) -> i32 {
        self.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
    }
    fn template(&self) -> Option<PodTemplateSpec> {
        self.spec.as_ref()?.template.clone()
    }
    fn min_ready_seconds(&self) -> i32 {
        self.spec
            .as_ref()
            .and_then(|s| s.min_ready_seconds)
            .unwrap_or(0)
    }
    fn reported(&self) -> Option<(i32, i32, i32, i32, Option<i64>)> {
        self.status.as_ref().map(|s| {
            (
                s.replicas,
                s.fully_labeled_replicas.unwrap_or(0),
                s.ready_replicas.unwrap_or(0),
                s.available_replicas.unwrap_or(0),
                s.observed_generation,
            )
        })
    }
}

impl ReplicatedSet for ReplicationController {
    const CONTROLLER: &'static str = "replicationcontroller";
    const COMPONENT: &'static str = "replication-controller";
    fn selector(&self) -> Option<Selector> {
        // A ReplicationController's selector is a plain map, defaulted from the template's
        // labels when left out.
        let spec = self.spec.as_ref()?;
        let labels = match &spec.selector {
            Some(s) if !s.is_empty() => s.clone(),
            _ => spec.template.as_ref()?.metadata.as_ref()?.labels.clone()?,
        };
        (!labels.is_empty()).then(|| labels.into_iter().collect())
    }
    fn replicas(&self) -> i32 {
        self.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
    }
    fn template(&self) -> Option<PodTemplateSpec> {
        self.spec.as_ref()?.template.clone()
    }
    fn min_ready_seconds(&self) -> i32 {
        self.spec
            .as_ref()
            .and_then(|s| s.min_ready_seconds)
            .unwrap_or(0)
    }
    fn reported(&self) -> Option<(i32, i32, i32, i32, Option<i64>)> {
        self.status.as_ref().map(|s| {
            (
                s.replicas,
                s.fully_labeled_replicas.unwrap_or(0),
                s.ready_replicas.unwrap_or(0),
                s.available_replicas.unwrap_or(0),
                s.observed_generation,
            )
        })
    }
}

/// Pod uids the handler has seen, and those it has seen terminating.
#[derive(Default)]
struct PodsSeen {
    live: std::collections::HashSet<String>,
    terminating: std::collections::HashSet<String>,
}

struct ReplicaSetController<K: ReplicatedSet> {
    client: Client,
    sets: Arc<Informer<K>>,
    pods: Arc<Informer<Pod>>,
    queue: Arc<WorkQueue<String>>,
    expectations: Arc<Expectations>,
    events: Recorder,
}

/// Registers the controller's handlers; its workers run once the informers have synced.
pub fn register<K: ReplicatedSet>(
    client: Client,
    informers: &Informers,
    workers: usize,
    ended: CancellationToken,
) -> impl std::future::Future<Output = ()> + Send {
    let sets = informers.get::<K>();
    let pods = informers.get::<Pod>();
    let queue: Arc<WorkQueue<String>> = WorkQueue::new(ended);
    let expectations = Arc::new(Expectations::default());
    let q = queue.clone();
    let e = expectations.clone();
    sets.on_change(move |c| match c {
        Change::Applied(rs) => q.add(key_of(&rs.namespace().unwrap_or_default(), &rs.name_any())),
        Change::Deleted(rs) => {
            let k = key_of(&rs.namespace().unwrap_or_default(), &rs.name_any());
            e.forget(&k);
            q.add(k);
        }
    });
    let (q, e, s) = (queue.clone(), expectations.clone(), sets.clone());
    // Which pods have been seen, and which seen terminating: an expected create is met the
    // first time its pod shows up (not on every update of it), an expected delete the first
    // time its pod shows a deletionTimestamp or goes, as upstream's addPod/updatePod/deletePod.
    let seen = std::sync::Mutex::new(PodsSeen::default());
    pods.on_change(move |c| {
        let (pod, deleted) = match c {
            Change::Applied(p) => (p, false),
            Change::Deleted(p) => (p, true),
        };
        let ns = pod.namespace().unwrap_or_default();
        let uid = pod.uid().unwrap_or_default();
        let mut seen = seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let first_sight = !deleted && seen.live.insert(uid.clone());
        let first_terminating = if deleted {
            seen.live.remove(&uid);
            !seen.terminating.remove(&uid)
        } else {
            pod.metadata.deletion_timestamp.is_some() && seen.terminating.insert(uid.clone())
        };
        drop(seen);
        match controller_of::<K>(pod) {
            Some(owner) => {
                // Only the ReplicaSet the reference names (by uid), not a newer one of the name.
                let rs = s.store().get(&ObjectRef::new(&owner.name).within(&ns));
                if rs.as_ref().and_then(|r| r.uid()).as_deref() != Some(owner.uid.as_str()) {
                    return;
                }
                let k = key_of(&ns, &owner.name);
                if first_terminating {
                    e.deleted(&k);
                } else if first_sight && pod.metadata.deletion_timestamp.is_none() {
                    e.created(&k);
                }
                q.add(k);
            }
            // An orphan: every ReplicaSet that might adopt it looks.
            None if !deleted => {
                let labels = pod.labels().clone();
                for rs in s.store().state() {
                    if rs.namespace().as_deref() == Some(ns.as_str())
                        && rs.selector().is_some_and(|sel| sel.matches(&labels))
                    {
                        q.add(key_of(&ns, &rs.name_any()));
                    }
                }
            }
            None => {}
        }
    });
    let ctl = Arc::new(ReplicaSetController {
        events: Recorder::new(client.clone(), K::COMPONENT),
        client,
        sets,
        pods,
        queue,
        expectations,
    });
    async move {
        ctl.sets.synced().await;
        ctl.pods.synced().await;
        let queue = ctl.queue.clone();
        crate::workqueue::run_workers(queue, workers, K::CONTROLLER, move |key| {
            let ctl = ctl.clone();
            async move { ctl.sync(&key).await }
        })
        .await;
    }
}

impl<K: ReplicatedSet> ReplicaSetController<K> {
    async fn sync(&self, key: &str) -> Result<(), ControllerError> {
        let Some((ns, name)) = key.split_once('/') else {
            return Ok(());
        };
        let Some(rs) = self.sets.store().get(&ObjectRef::new(name).within(ns)) else {
            self.expectations.forget(key);
            return Ok(());
        };
        let Some(selector) = rs.selector() else {
            return Ok(());
        };
        let uid = rs.uid().unwrap_or_default();
        // Pods this ReplicaSet owns, and orphans it may adopt.
        let mut owned: Vec<Arc<Pod>> = Vec::new();
        for pod in self.pods.store().state() {
            if pod.namespace().as_deref() != Some(ns) {
                continue;
            }
            let matches = selector.matches(pod.labels());
            let live = rs.meta().deletion_timestamp.is_none();
            let mine = match controller_of::<K>(pod.as_ref()) {
                Some(o) if o.uid == uid && matches => true,
                Some(o) if o.uid == uid && live => {
                    owners::release(&self.client, pod.as_ref(), &uid).await?;
                    false
                }
                None if matches && live && pod.metadata.deletion_timestamp.is_none() => {
                    owners::adopt(&self.client, rs.as_ref(), pod.as_ref()).await?
                }
                _ => false,
            };
            if mine {
                owned.push(pod);
            }
        }
        let active: Vec<Arc<Pod>> = owned.iter().filter(|p| is_active(p)).cloned().collect();
        if self.expectations.satisfied(key) && rs.meta().deletion_timestamp.is_none() {
            self.manage(&rs, key, &active).await?;
        }
        self.update_status(&rs, &owned, &active).await
    }

    /// Creates or deletes pods to reach `spec.replicas`.
    async fn manage(&self, rs: &K, key: &str, active: &[Arc<Pod>]) -> Result<(), ControllerError> {
        let want = rs.replicas().max(0) as usize;
        let ns = rs.namespace().unwrap_or_default();
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        if active.len() < want {
            let diff = (want - active.len()).min(BURST);
            self.expectations.expect(key, diff as i64, 0);
            let mut made = 0;
            let mut batch = SLOW_START.min(diff);
            let mut failure = None;
            while made < diff && failure.is_none() {
                let (post, template) = (PostParams::default(), pod_for(rs));
                let results = futures_util::future::join_all(
                    (0..batch).map(|_| pods.create(&post, &template)),
                )
                .await;
                for r in results {
                    match r {
                        Ok(p) => {
                            self.events
                                .normal(
                                    rs,
                                    "SuccessfulCreate",
                                    format!("Created pod: {}", p.name_any()),
                                )
                                .await;
                        }
                        Err(e) => {
                            // Never to be seen: expected no longer.
                            self.expectations.created(key);
                            self.events
                                .warning(rs, "FailedCreate", format!("Error creating: {e}"))
                                .await;
                            failure = Some(e);
                        }
                    }
                }
                made += batch;
                batch = (batch * 2).min(diff - made);
            }
            // The batches never started are not expected either.
            for _ in made..diff {
                self.expectations.created(key);
            }
            if let Some(e) = failure {
                return Err(e.into());
            }
        } else if active.len() > want {
            let diff = (active.len() - want).min(BURST);
            let mut ranked: Vec<&Arc<Pod>> = active.iter().collect();
            ranked.sort_by_key(|p| deletion_rank(p));
            let victims = &ranked[..diff];
            self.expectations.expect(key, 0, diff as i64);
            let (params, names): (DeleteParams, Vec<String>) = (
                DeleteParams::default(),
                victims.iter().map(|p| p.name_any()).collect(),
            );
            let results =
                futures_util::future::join_all(names.iter().map(|n| pods.delete(n, &params))).await;
            let mut failure = None;
            for (p, r) in victims.iter().zip(results) {
                match r {
                    Ok(_) => {
                        self.events
                            .normal(
                                rs,
                                "SuccessfulDelete",
                                format!("Deleted pod: {}", p.name_any()),
                            )
                            .await;
                    }
                    Err(kube::Error::Api(s)) if s.code == 404 => self.expectations.deleted(key),
                    Err(e) => {
                        self.expectations.deleted(key);
                        self.events
                            .warning(rs, "FailedDelete", format!("Error deleting: {e}"))
                            .await;
                        failure = Some(e);
                    }
                }
            }
            if let Some(e) = failure {
                return Err(e.into());
            }
        }
        Ok(())
    }

    async fn update_status(
        &self,
        rs: &K,
        owned: &[Arc<Pod>],
        active: &[Arc<Pod>],
    ) -> Result<(), ControllerError> {
        let template_labels: BTreeMap<String, String> = rs
            .template()
            .and_then(|t| t.metadata)
            .and_then(|m| m.labels)
            .unwrap_or_default();
        let min_ready = rs.min_ready_seconds();
        let fully_labeled = owned
            .iter()
            .filter(|p| is_active(p))
            .filter(|p| {
                template_labels
                    .iter()
                    .all(|(k, v)| p.labels().get(k) == Some(v))
            })
            .count();
        let ready = active.iter().filter(|p| is_ready(p)).count();
        let now = Timestamp::now();
        let available = active
            .iter()
            .filter(|p| is_available(p, min_ready, now))
            .count();
        // A pod ready but not yet for minReadySeconds becomes available by time alone: look
        // again then (upstream's AddAfter).
        if min_ready > 0 && available < ready {
            self.queue.add_after(
                key_of(&rs.namespace().unwrap_or_default(), &rs.name_any()),
                std::time::Duration::from_secs(min_ready as u64),
            );
        }
        // Counts of zero are left out (null removes them), as upstream's omitempty fields.
        let count = |n: usize| if n == 0 { json!(null) } else { json!(n) };
        let status = json!({
            "replicas": active.len(),
            "fullyLabeledReplicas": count(fully_labeled),
            "readyReplicas": count(ready),
            "availableReplicas": count(available),
            "observedGeneration": rs.meta().generation,
        });
        let same = rs
            .reported()
            .is_some_and(|(replicas, labeled, r, a, generation)| {
                replicas as usize == active.len()
                    && labeled as usize == fully_labeled
                    && r as usize == ready
                    && a as usize == available
                    && generation == rs.meta().generation
            });
        if same {
            return Ok(());
        }
        let api: Api<K> = Api::namespaced(self.client.clone(), &rs.namespace().unwrap_or_default());
        crate::status_patch::merge(&api, &rs.name_any(), json!({"status": status})).await
    }
}

/// A new pod from the template: `<name>-` plus the server's suffix, the template's labels and
/// annotations, the controller reference.
fn pod_for<K: ReplicatedSet>(rs: &K) -> Pod {
    let template = rs.template().unwrap_or_default();
    let meta = template.metadata.unwrap_or_default();
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", rs.name_any())),
            namespace: rs.namespace(),
            labels: meta.labels,
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            owner_references: Some(vec![owners::controller_ref(rs)]),
            ..ObjectMeta::default()
        },
        spec: template.spec,
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(node: Option<&str>, phase: &str, ready: bool, restarts: i32, created: i64) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "creationTimestamp": k8s_openapi::jiff::Timestamp::from_second(created).unwrap().to_string()},
            "spec": {"containers": [{"name": "c"}], "nodeName": node},
            "status": {"phase": phase,
                "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
                "containerStatuses": [{"name": "c", "image": "i", "imageID": "", "ready": ready, "restartCount": restarts}]},
        }))
        .unwrap()
    }

    #[test]
    fn pods_to_delete_rank_as_upstream_ranks_them() {
        let unscheduled = pod(None, "Pending", false, 0, 100);
        let pending = pod(Some("n"), "Pending", false, 0, 100);
        let not_ready = pod(Some("n"), "Running", false, 0, 100);
        let restarted = pod(Some("n"), "Running", true, 5, 100);
        let newer = pod(Some("n"), "Running", true, 0, 200);
        let older = pod(Some("n"), "Running", true, 0, 100);
        let mut all = [
            &older,
            &newer,
            &restarted,
            &not_ready,
            &pending,
            &unscheduled,
        ];
        all.sort_by_key(|p| deletion_rank(p));
        let order: Vec<(u8, u8, u8, i64, i64)> = all.iter().map(|p| deletion_rank(p)).collect();
        let expected: Vec<(u8, u8, u8, i64, i64)> = [
            &unscheduled,
            &pending,
            &not_ready,
            &restarted,
            &newer,
            &older,
        ]
        .iter()
        .map(|p| deletion_rank(p))
        .collect();
        assert_eq!(order, expected);
    }

    #[test]
    fn finished_or_deleted_pods_are_not_active() {
        assert!(is_active(&pod(Some("n"), "Running", true, 0, 1)));
        assert!(!is_active(&pod(Some("n"), "Succeeded", false, 0, 1)));
        assert!(!is_active(&pod(Some("n"), "Failed", false, 0, 1)));
    }
}
