//! The daemonset controller (kube-controller-manager's `daemonset`): one pod of a DaemonSet's
//! template on every node it fits (see `placement`), placed through the scheduler — each pod
//! carries a required node affinity naming its node, not a `nodeName` — with the default daemon
//! tolerations, the `controller-revision-hash` label and, when the DaemonSet has a template
//! generation, the `pod-template-generation` label. Pods on nodes they no longer fit, extra pods
//! on a node (the oldest stays), finished pods (failed ones with back-off) and unscheduled pods
//! for nodes that are gone are deleted; creations go in slow-start batches of at most 250 a
//! sync, guarded by expectations. Updates roll out node by node (`rolling_update`) or wait for
//! pods to be deleted (OnDelete); the template's history is kept in ControllerRevisions
//! (`history`). Reports `status` (desired/current/misscheduled/ready/updated/available/
//! unavailable counts, observedGeneration, collisionCount) and upstream's events
//! (SuccessfulCreate, SuccessfulDelete, FailedCreate, FailedDelete, FailedDaemonPod,
//! SucceededDaemonPod, SelectingAll).

mod backoff;
mod history;
mod placement;
mod rolling_update;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::{Node, Pod, PodTemplateSpec};
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, ObjectMeta, PostParams};
use kube::core::{Selector, SelectorExt};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::events::Recorder;
use crate::expectations::Expectations;
use crate::informers::{Change, Informer, Informers};
use crate::owners::{self, controller_of};
use crate::pod_state::{is_available, is_ready, phase};
use crate::workqueue::{key_of, WorkQueue};
use crate::{ControllerError, ManagerConfig};

use backoff::FailedPodsBackoff;
use placement::{node_should_run, target_node};
use rolling_update::{allows_surge, is_updated, template_generation, NodePods, GENERATION_LABEL};

/// The most pods one sync creates or deletes (upstream's BurstReplicas for DaemonSets).
const BURST: usize = 250;
/// The first slow-start batch.
const SLOW_START: usize = 1;

fn key_of_set(ds: &DaemonSet) -> String {
    key_of(&ds.namespace().unwrap_or_default(), &ds.name_any())
}

/// The DaemonSet's selector; `None` when it is invalid.
fn selector_of(ds: &DaemonSet) -> Option<Selector> {
    Selector::try_from(ds.spec.as_ref()?.selector.clone()).ok()
}

/// Pod uids the handler has seen, and those it has seen terminating.
#[derive(Default)]
struct PodsSeen {
    live: HashSet<String>,
    terminating: HashSet<String>,
}

struct DaemonSetController {
    client: Client,
    sets: Arc<Informer<DaemonSet>>,
    pods: Arc<Informer<Pod>>,
    nodes: Arc<Informer<Node>>,
    revisions: Arc<Informer<ControllerRevision>>,
    queue: Arc<WorkQueue<String>>,
    expectations: Arc<Expectations>,
    failed_backoff: FailedPodsBackoff,
    events: Recorder,
}

/// Registers the controller's handlers; its workers run once the informers have synced.
pub fn register(
    client: Client,
    informers: &Informers,
    config: &ManagerConfig,
    ended: CancellationToken,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let sets = informers.get::<DaemonSet>();
    let pods = informers.get::<Pod>();
    let nodes = informers.get::<Node>();
    let revisions = informers.get::<ControllerRevision>();
    let queue: Arc<WorkQueue<String>> = WorkQueue::new(ended);
    let expectations = Arc::new(Expectations::default());

    let (q, e) = (queue.clone(), expectations.clone());
    sets.on_change(move |c| match c {
        Change::Applied(ds) => q.add(key_of_set(ds)),
        Change::Deleted(ds) => {
            let k = key_of_set(ds);
            e.forget(&k);
            q.add(k);
        }
    });

    let (q, s) = (queue.clone(), sets.clone());
    revisions.on_change(move |c| {
        let (rev, deleted) = match c {
            Change::Applied(r) => (r, false),
            Change::Deleted(r) => (r, true),
        };
        match controller_of::<DaemonSet>(rev) {
            Some(owner) => {
                if let Some(ds) = owned_by(&s, &rev.namespace().unwrap_or_default(), owner) {
                    q.add(key_of_set(&ds));
                }
            }
            None if !deleted => enqueue_selecting(&s, &q, rev.namespace(), rev.labels()),
            None => {}
        }
    });

    let (q, e, s) = (queue.clone(), expectations.clone(), sets.clone());
    // An expected create is met the first time its pod shows up, an expected delete the first
    // time its pod shows a deletionTimestamp or goes, as upstream's addPod/updatePod/deletePod.
    let seen = Mutex::new(PodsSeen::default());
    pods.on_change(move |c| {
        let (pod, deleted) = match c {
            Change::Applied(p) => (p, false),
            Change::Deleted(p) => (p, true),
        };
        let ns = pod.namespace().unwrap_or_default();
        let uid = pod.uid().unwrap_or_default();
        let mut seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
        let first_sight = !deleted && seen.live.insert(uid.clone());
        let first_terminating = if deleted {
            seen.live.remove(&uid);
            !seen.terminating.remove(&uid)
        } else {
            pod.metadata.deletion_timestamp.is_some() && seen.terminating.insert(uid.clone())
        };
        drop(seen);
        match controller_of::<DaemonSet>(pod) {
            Some(owner) => {
                let Some(ds) = owned_by(&s, &ns, owner) else {
                    return;
                };
                let k = key_of_set(&ds);
                if first_terminating {
                    e.deleted(&k);
                } else if first_sight && pod.metadata.deletion_timestamp.is_none() {
                    e.created(&k);
                }
                q.add(k);
            }
            None if !deleted => enqueue_selecting(&s, &q, pod.namespace(), pod.labels()),
            None => {}
        }
    });

    let (q, s) = (queue.clone(), sets.clone());
    // The last version of each node seen, to tell what an update changed.
    let known: Mutex<HashMap<String, Node>> = Mutex::new(HashMap::new());
    nodes.on_change(move |c| {
        let mut known = known.lock().unwrap_or_else(PoisonError::into_inner);
        match c {
            Change::Applied(node) => {
                let before = known.insert(node.name_any(), node.clone());
                drop(known);
                for ds in s.store().state() {
                    let now = node_should_run(node, &ds);
                    let wake = match &before {
                        None => now.0,
                        Some(old) if ignorable_update(old, node) => false,
                        Some(old) => node_should_run(old, &ds) != now,
                    };
                    if wake {
                        q.add(key_of_set(&ds));
                    }
                }
            }
            // Its unscheduled pods go; every set looks.
            Change::Deleted(node) => {
                known.remove(&node.name_any());
                drop(known);
                for ds in s.store().state() {
                    q.add(key_of_set(&ds));
                }
            }
        }
    });

    let ctl = Arc::new(DaemonSetController {
        events: Recorder::new(client.clone(), "daemonset-controller"),
        client,
        sets,
        pods,
        nodes,
        revisions,
        queue,
        expectations,
        failed_backoff: FailedPodsBackoff::default(),
    });
    let workers = config.daemonset_workers;
    async move {
        ctl.pods.synced().await;
        ctl.nodes.synced().await;
        ctl.revisions.synced().await;
        ctl.sets.synced().await;
        let queue = ctl.queue.clone();
        crate::workqueue::run_workers(queue, workers, "daemonset", move |key| {
            let ctl = ctl.clone();
            async move { ctl.sync(&key).await }
        })
        .await;
    }
}

/// The DaemonSet an ownerReference names, if the cache has that very one (by uid).
fn owned_by(
    sets: &Informer<DaemonSet>,
    ns: &str,
    owner: &k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference,
) -> Option<Arc<DaemonSet>> {
    let ds = sets.store().get(&ObjectRef::new(&owner.name).within(ns))?;
    (ds.uid().as_deref() == Some(owner.uid.as_str())).then_some(ds)
}

/// Queues every DaemonSet of `ns` whose selector matches `labels` (for an orphan to adopt).
fn enqueue_selecting(
    sets: &Informer<DaemonSet>,
    queue: &WorkQueue<String>,
    ns: Option<String>,
    labels: &std::collections::BTreeMap<String, String>,
) {
    for ds in sets.store().state() {
        if ds.namespace() == ns
            && selector_of(&ds).is_some_and(|sel| !sel.selects_all() && sel.matches(labels))
        {
            queue.add(key_of_set(&ds));
        }
    }
}

/// Whether a node update changed nothing the controller looks at: the same conditions are
/// true and nothing but the conditions (and resourceVersion) differs (upstream's
/// shouldIgnoreNodeUpdate).
fn ignorable_update(old: &Node, cur: &Node) -> bool {
    let true_conditions = |n: &Node| -> HashSet<String> {
        n.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .map(|cs| {
                cs.iter()
                    .filter(|c| c.status == "True")
                    .map(|c| c.type_.clone())
                    .collect()
            })
            .unwrap_or_default()
    };
    if true_conditions(old) != true_conditions(cur) {
        return false;
    }
    let strip = |n: &Node| {
        let mut n = n.clone();
        n.metadata.resource_version = None;
        n.metadata.managed_fields = None;
        if let Some(s) = n.status.as_mut() {
            s.conditions = None;
        }
        n
    };
    strip(old) == strip(cur)
}

/// Scheduled pods first, then oldest first, then by name (upstream's
/// podByCreationTimestampAndPhase).
fn oldest_first(pods: &mut [Arc<Pod>]) {
    let scheduled = |p: &Pod| {
        p.spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .is_some_and(|n| !n.is_empty())
    };
    pods.sort_by(|a, b| {
        scheduled(b)
            .cmp(&scheduled(a))
            .then_with(|| {
                let t = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
                t(a).cmp(&t(b))
            })
            .then_with(|| a.name_any().cmp(&b.name_any()))
    });
}

/// The message of a failed request, as a Go client prints its error.
fn message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => s.message.clone(),
        other => other.to_string(),
    }
}

/// The counts the status reports.
#[derive(Debug, Default, PartialEq)]
struct Counts {
    desired: usize,
    current: usize,
    misscheduled: usize,
    ready: usize,
    updated: usize,
    available: usize,
}

impl DaemonSetController {
    async fn sync(&self, key: &str) -> Result<(), ControllerError> {
        let Some((ns, name)) = key.split_once('/') else {
            return Ok(());
        };
        let Some(ds) = self.sets.store().get(&ObjectRef::new(name).within(ns)) else {
            self.expectations.forget(key);
            return Ok(());
        };
        let Some(selector) = selector_of(&ds) else {
            return Ok(());
        };
        if selector.selects_all() {
            self.events
                .warning(
                    ds.as_ref(),
                    "SelectingAll",
                    "This daemon set is selecting all pods. A non-empty selector is required."
                        .into(),
                )
                .await;
            return Ok(());
        }
        // The history may be gone or orphaned while the set is deleted: its status cannot be
        // told, so nothing is written.
        if ds.metadata.deletion_timestamp.is_some() {
            return Ok(());
        }
        let nodes = self.nodes.store().state();
        let claimed = self.claim_pods(&ds, &selector).await?;
        let (cur, old) = history::construct(
            &self.client,
            &ds,
            &selector,
            self.revisions.store().state(),
            &claimed,
        )
        .await?;
        let hash = cur
            .labels()
            .get(history::HASH_LABEL)
            .cloned()
            .unwrap_or_default();
        if !self.expectations.satisfied(key) {
            // Not processed at this generation: observedGeneration stays.
            return self
                .update_status(&ds, &nodes, &claimed, &hash, false)
                .await;
        }
        let result = self
            .update(&ds, key, &selector, &nodes, &claimed, &hash, old)
            .await;
        // The status is written from the cache as it stands now, as upstream does.
        let owned = self.owned(&ds, &selector);
        let status = self.update_status(&ds, &nodes, &owned, &hash, true).await;
        result.and(status)
    }

    /// The pods the DaemonSet owns, after adopting orphans its selector matches and releasing
    /// owned pods it no longer matches (upstream's ClaimPods).
    async fn claim_pods(
        &self,
        ds: &DaemonSet,
        selector: &Selector,
    ) -> Result<Vec<Arc<Pod>>, ControllerError> {
        let ns = ds.namespace();
        let uid = ds.uid().unwrap_or_default();
        let mut owned = Vec::new();
        for pod in self.pods.store().state() {
            if pod.namespace() != ns {
                continue;
            }
            let matches = selector.matches(pod.labels());
            let mine = match controller_of::<DaemonSet>(pod.as_ref()) {
                Some(o) if o.uid == uid && matches => true,
                Some(o) if o.uid == uid => {
                    owners::release(&self.client, pod.as_ref(), &uid).await?;
                    false
                }
                None if matches && pod.metadata.deletion_timestamp.is_none() => {
                    owners::adopt(&self.client, ds, pod.as_ref()).await?
                }
                _ => false,
            };
            if mine {
                owned.push(pod);
            }
        }
        Ok(owned)
    }

    /// The pods of the DaemonSet in the cache as it is now (those `claim_pods` found, and any
    /// it adopted since, once their change arrived).
    fn owned(&self, ds: &DaemonSet, selector: &Selector) -> Vec<Arc<Pod>> {
        let (ns, uid) = (ds.namespace(), ds.uid().unwrap_or_default());
        self.pods
            .store()
            .state()
            .into_iter()
            .filter(|p| p.namespace() == ns && selector.matches(p.labels()))
            .filter(|p| controller_of::<DaemonSet>(p.as_ref()).is_some_and(|o| o.uid == uid))
            .collect()
    }

    /// The claimed pods by the node they are for; finished pods being deleted are left out
    /// unless `with_finished_deleted`.
    fn by_node(pods: &[Arc<Pod>], with_finished_deleted: bool) -> NodePods {
        let mut map = NodePods::new();
        for p in pods {
            let finished = matches!(phase(p), Some("Succeeded" | "Failed"));
            if !with_finished_deleted && finished && p.metadata.deletion_timestamp.is_some() {
                continue;
            }
            if let Some(node) = target_node(p) {
                map.entry(node).or_default().push(p.clone());
            }
        }
        map
    }

    /// Manage, then the rollout step, then the history's trim. The step reads the pods
    /// afresh: what manage deleted may have arrived (a pod deleted twice would be expected
    /// twice but seen going once).
    #[allow(clippy::too_many_arguments)]
    async fn update(
        &self,
        ds: &DaemonSet,
        key: &str,
        selector: &Selector,
        nodes: &[Arc<Node>],
        claimed: &[Arc<Pod>],
        hash: &str,
        old: Vec<ControllerRevision>,
    ) -> Result<(), ControllerError> {
        let node_pods = Self::by_node(claimed, false);
        self.manage(ds, key, nodes, &node_pods, hash).await?;
        let rolling = ds
            .spec
            .as_ref()
            .and_then(|s| s.update_strategy.as_ref())
            .and_then(|s| s.type_.as_deref())
            .unwrap_or("RollingUpdate")
            == "RollingUpdate";
        if rolling && self.expectations.satisfied(key) {
            let fresh = Self::by_node(&self.owned(ds, selector), false);
            let (delete, create) = rolling_update::step(ds, nodes, &fresh, hash, Timestamp::now());
            self.sync_nodes(ds, key, delete, create, hash).await?;
        }
        let limit = ds
            .spec
            .as_ref()
            .and_then(|s| s.revision_history_limit)
            .unwrap_or(10)
            .max(0) as usize;
        let owned = self.owned(ds, selector);
        history::cleanup(&self.client, ds, old, &owned, limit).await
    }

    /// Creates the pods nodes lack and deletes those that should not be (upstream's manage).
    async fn manage(
        &self,
        ds: &DaemonSet,
        key: &str,
        nodes: &[Arc<Node>],
        node_pods: &NodePods,
        hash: &str,
    ) -> Result<(), ControllerError> {
        let (mut create, mut delete) = (Vec::new(), Vec::new());
        for node in nodes {
            self.pods_for_node(ds, node, node_pods, hash, &mut create, &mut delete)
                .await;
        }
        // Unscheduled pods for nodes that are gone can never run (nor does the pod GC see
        // them): they go. Bound ones are the pod GC's.
        let existing: HashSet<String> = nodes.iter().map(|n| n.name_any()).collect();
        for (node, pods) in node_pods {
            if existing.contains(node) {
                continue;
            }
            for p in pods {
                let bound = p
                    .spec
                    .as_ref()
                    .and_then(|s| s.node_name.as_deref())
                    .is_some_and(|n| !n.is_empty());
                if !bound {
                    delete.push(p.name_any());
                }
            }
        }
        self.sync_nodes(ds, key, delete, create, hash).await
    }

    /// What one node needs (upstream's podsShouldBeOnNode).
    async fn pods_for_node(
        &self,
        ds: &DaemonSet,
        node: &Node,
        node_pods: &NodePods,
        hash: &str,
        create: &mut Vec<String>,
        delete: &mut Vec<String>,
    ) {
        let name = node.name_any();
        let (should_run, should_continue) = node_should_run(node, ds);
        let pods = node_pods.get(&name);
        match pods {
            None if should_run => create.push(name),
            Some(pods) if should_continue => {
                let mut running = Vec::new();
                for p in pods
                    .iter()
                    .filter(|p| p.metadata.deletion_timestamp.is_none())
                {
                    match phase(p) {
                        Some("Failed") => {
                            if self.failed_pod_may_go(ds, &name).await {
                                let msg = format!(
                                    "Found failed daemon pod {}/{} on node {name}, will try to kill it",
                                    p.namespace().unwrap_or_default(),
                                    p.name_any()
                                );
                                self.events.warning(ds, "FailedDaemonPod", msg).await;
                                delete.push(p.name_any());
                            }
                        }
                        Some("Succeeded") => {
                            let msg = format!(
                                "Found succeeded daemon pod {}/{} on node {name}, will try to delete it",
                                p.namespace().unwrap_or_default(),
                                p.name_any()
                            );
                            self.events.normal(ds, "SucceededDaemonPod", msg).await;
                            delete.push(p.name_any());
                        }
                        _ => running.push(p.clone()),
                    }
                }
                oldest_first(&mut running);
                if !allows_surge(ds) {
                    // One pod a node: all but the oldest go.
                    delete.extend(running.iter().skip(1).map(|p| p.name_any()));
                    return;
                }
                if running.len() <= 1 {
                    if running.is_empty() && should_run {
                        create.push(name);
                    }
                    return;
                }
                // Surging: the oldest new and the oldest old pod may both stay while the new
                // one is not yet available and the old one still ready.
                let (mut oldest_new, mut oldest_old) = (None, None);
                for p in &running {
                    let slot =
                        if p.labels().get(history::HASH_LABEL).map(String::as_str) == Some(hash) {
                            &mut oldest_new
                        } else {
                            &mut oldest_old
                        };
                    if slot.is_none() {
                        *slot = Some(p.clone());
                    } else {
                        delete.push(p.name_any());
                    }
                }
                if let (Some(new), Some(old)) = (oldest_new, oldest_old) {
                    let min_ready = ds
                        .spec
                        .as_ref()
                        .and_then(|s| s.min_ready_seconds)
                        .unwrap_or(0);
                    if !is_ready(&old) || is_available(&new, min_ready, Timestamp::now()) {
                        delete.push(old.name_any());
                    }
                }
            }
            Some(pods) if !should_continue => {
                delete.extend(
                    pods.iter()
                        .filter(|p| p.metadata.deletion_timestamp.is_none())
                        .map(|p| p.name_any()),
                );
            }
            _ => {}
        }
    }

    /// Whether a failed pod on `node` may be deleted now; if it is backing off, the set is
    /// looked at again when the back-off ends.
    async fn failed_pod_may_go(&self, ds: &DaemonSet, node: &str) -> bool {
        let observed = ds
            .status
            .as_ref()
            .and_then(|s| s.observed_generation)
            .unwrap_or(0);
        let key = backoff::key(&ds.uid().unwrap_or_default(), observed, node);
        let now = Instant::now();
        if let Some(delay) = self.failed_backoff.waiting(&key, now) {
            self.queue.add_after(key_of_set(ds), delay);
            return false;
        }
        self.failed_backoff.next(&key, now);
        true
    }

    /// Deletes `delete` and creates a pod for each node of `create` (at most [`BURST`] of
    /// each, creations in slow-start batches), expecting to see each (upstream's syncNodes).
    async fn sync_nodes(
        &self,
        ds: &DaemonSet,
        key: &str,
        delete: Vec<String>,
        create: Vec<String>,
        hash: &str,
    ) -> Result<(), ControllerError> {
        let create_diff = create.len().min(BURST);
        let delete_diff = delete.len().min(BURST);
        self.expectations
            .expect(key, create_diff as i64, delete_diff as i64);
        let ns = ds.namespace().unwrap_or_default();
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let template = pod_template(ds, template_generation(ds), hash);
        let mut failure: Option<kube::Error> = None;
        let (mut pos, mut batch) = (0, SLOW_START.min(create_diff));
        while pos < create_diff {
            let made: Vec<Pod> = create[pos..pos + batch]
                .iter()
                .map(|node| pod_for(ds, &template, node))
                .collect();
            let post = PostParams::default();
            let results =
                futures_util::future::join_all(made.iter().map(|p| pods.create(&post, p))).await;
            let mut failed = false;
            for r in results {
                match r {
                    Ok(p) => {
                        self.events
                            .normal(
                                ds,
                                "SuccessfulCreate",
                                format!("Created pod: {}", p.name_any()),
                            )
                            .await;
                    }
                    Err(e) => {
                        self.events
                            .warning(
                                ds,
                                "FailedCreate",
                                format!("Error creating: {}", message(&e)),
                            )
                            .await;
                        // A namespace being torn down refuses every create: nothing to retry.
                        if namespace_terminating(&e) {
                            continue;
                        }
                        self.expectations.created(key);
                        failed = true;
                        failure = Some(e);
                    }
                }
            }
            pos += batch;
            batch = (batch * 2).min(create_diff - pos);
            if failed {
                // The creations never tried are not expected either; the next sync retries.
                for _ in pos..create_diff {
                    self.expectations.created(key);
                }
                break;
            }
        }
        let params = DeleteParams::default();
        let results = futures_util::future::join_all(
            delete[..delete_diff]
                .iter()
                .map(|n| pods.delete(n, &params)),
        )
        .await;
        for (name, r) in delete.iter().zip(results) {
            match r {
                Ok(_) => {
                    self.events
                        .normal(ds, "SuccessfulDelete", format!("Deleted pod: {name}"))
                        .await;
                }
                Err(kube::Error::Api(s)) if s.code == 404 => self.expectations.deleted(key),
                Err(e) => {
                    self.expectations.deleted(key);
                    self.events
                        .warning(
                            ds,
                            "FailedDelete",
                            format!("Error deleting: {}", message(&e)),
                        )
                        .await;
                    failure = Some(e);
                }
            }
        }
        match failure {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }

    /// Counts the status reports from the pods claimed and the nodes.
    fn counts(
        ds: &DaemonSet,
        nodes: &[Arc<Node>],
        node_pods: &NodePods,
        hash: &str,
        now: Timestamp,
    ) -> Counts {
        let min_ready = ds
            .spec
            .as_ref()
            .and_then(|s| s.min_ready_seconds)
            .unwrap_or(0);
        let generation = template_generation(ds);
        let mut c = Counts::default();
        for node in nodes {
            let (should_run, _) = node_should_run(node, ds);
            let mut pods = node_pods.get(&node.name_any()).cloned().unwrap_or_default();
            if !should_run {
                c.misscheduled += usize::from(!pods.is_empty());
                continue;
            }
            c.desired += 1;
            oldest_first(&mut pods);
            let Some(pod) = pods.first() else {
                continue;
            };
            c.current += 1;
            if is_ready(pod) {
                c.ready += 1;
                if is_available(pod, min_ready, now) {
                    c.available += 1;
                }
            }
            if is_updated(pod, hash, generation) {
                c.updated += 1;
            }
        }
        c
    }

    async fn update_status(
        &self,
        ds: &DaemonSet,
        nodes: &[Arc<Node>],
        claimed: &[Arc<Pod>],
        hash: &str,
        observe_generation: bool,
    ) -> Result<(), ControllerError> {
        let node_pods = Self::by_node(claimed, false);
        let c = Self::counts(ds, nodes, &node_pods, hash, Timestamp::now());
        let unavailable = c.desired.saturating_sub(c.available);
        let min_ready = ds
            .spec
            .as_ref()
            .and_then(|s| s.min_ready_seconds)
            .unwrap_or(0);
        // A pod ready but not yet for minReadySeconds becomes available by time alone.
        if min_ready > 0 && c.ready != c.available {
            self.queue
                .add_after(key_of_set(ds), Duration::from_secs(min_ready as u64));
        }
        let status = ds.status.clone().unwrap_or_default();
        let stored = Counts {
            desired: status.desired_number_scheduled.max(0) as usize,
            current: status.current_number_scheduled.max(0) as usize,
            misscheduled: status.number_misscheduled.max(0) as usize,
            ready: status.number_ready.max(0) as usize,
            updated: status.updated_number_scheduled.unwrap_or(0).max(0) as usize,
            available: status.number_available.unwrap_or(0).max(0) as usize,
        };
        let generation = ds.metadata.generation.unwrap_or(0);
        if stored == c
            && status.number_unavailable.unwrap_or(0).max(0) as usize == unavailable
            && status.observed_generation.unwrap_or(0) >= generation
        {
            return Ok(());
        }
        // Counts of zero are left out (null removes them), as upstream's omitempty fields.
        let count = |n: usize| if n == 0 { json!(null) } else { json!(n) };
        let mut patch = json!({
            "desiredNumberScheduled": c.desired,
            "currentNumberScheduled": c.current,
            "numberMisscheduled": c.misscheduled,
            "numberReady": c.ready,
            "updatedNumberScheduled": count(c.updated),
            "numberAvailable": count(c.available),
            "numberUnavailable": count(unavailable),
        });
        if observe_generation {
            patch["observedGeneration"] = json!(ds.metadata.generation);
        }
        let api: Api<DaemonSet> =
            Api::namespaced(self.client.clone(), &ds.namespace().unwrap_or_default());
        crate::status_patch::merge(&api, &ds.name_any(), json!({"status": patch})).await
    }
}

/// Whether a create failed because its namespace is being deleted.
fn namespace_terminating(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 403 && s.message.contains("because it is being terminated"))
}

/// The template pods are made from: the DaemonSet's with the default daemon tolerations, its
/// template generation and revision hash as labels (upstream's CreatePodTemplate).
fn pod_template(ds: &DaemonSet, generation: Option<i64>, hash: &str) -> PodTemplateSpec {
    let mut template = ds
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    let spec = template.spec.get_or_insert_with(Default::default);
    placement::add_default_tolerations(spec);
    let labels = template
        .metadata
        .get_or_insert_with(Default::default)
        .labels
        .get_or_insert_with(Default::default);
    if let Some(g) = generation {
        labels.insert(GENERATION_LABEL.into(), g.to_string());
    }
    if !hash.is_empty() {
        labels.insert(history::HASH_LABEL.into(), hash.into());
    }
    template
}

/// A pod for `node`: `<name>-` plus the server's suffix, the template's labels, annotations
/// and finalizers, the controller reference, and the affinity pinning it to the node.
fn pod_for(ds: &DaemonSet, template: &PodTemplateSpec, node: &str) -> Pod {
    let meta = template.metadata.clone().unwrap_or_default();
    let mut spec = template.spec.clone().unwrap_or_default();
    spec.affinity = Some(placement::pin_to_node(spec.affinity.take(), node));
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", ds.name_any())),
            namespace: ds.namespace(),
            labels: meta.labels,
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            owner_references: Some(vec![owners::controller_ref(ds)]),
            ..ObjectMeta::default()
        },
        spec: Some(spec),
        status: None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::Value;

    fn ds() -> DaemonSet {
        serde_json::from_value(
            json!({"metadata": {"name": "d", "namespace": "ns", "uid": "u",
            "annotations": {rolling_update::GENERATION_ANNOTATION: "3"}},
            "spec": {"selector": {"matchLabels": {"a": "b"}},
                "template": {"metadata": {"labels": {"a": "b"}},
                    "spec": {"containers": [{"name": "c", "image": "i"}],
                             "nodeSelector": {"role": "worker"}}}}}),
        )
        .unwrap()
    }

    fn node(name: &str, role: &str) -> Arc<Node> {
        Arc::new(
            serde_json::from_value(json!({"metadata": {"name": name, "labels": {"role": role}}}))
                .unwrap(),
        )
    }

    fn pod(name: &str, node: Option<&str>, target: &str, labels: Value, ready: bool) -> Arc<Pod> {
        let mut p: Pod = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": labels, "creationTimestamp": "2020-01-01T00:00:00Z"},
            "spec": {"containers": [], "nodeName": node},
            "status": {"conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" },
                "lastTransitionTime": "2020-01-01T00:00:00Z"}]}}))
        .unwrap();
        if let Some(s) = p.spec.as_mut() {
            s.affinity = Some(placement::pin_to_node(None, target));
        }
        Arc::new(p)
    }

    #[test]
    fn pods_carry_the_labels_tolerations_and_the_affinity_for_their_node() {
        let t = pod_template(&ds(), template_generation(&ds()), "h1");
        let p = pod_for(&ds(), &t, "n1");
        let labels = p.metadata.labels.clone().unwrap();
        assert_eq!(labels["controller-revision-hash"], "h1");
        assert_eq!(labels["pod-template-generation"], "3");
        assert_eq!(labels["a"], "b");
        assert_eq!(p.metadata.generate_name.as_deref(), Some("d-"));
        let spec = p.spec.unwrap();
        assert_eq!(spec.node_name, None);
        assert_eq!(spec.tolerations.unwrap().len(), 6);
        let v = serde_json::to_value(spec.affinity).unwrap();
        assert_eq!(
            v["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
                ["nodeSelectorTerms"][0]["matchFields"][0]["values"],
            json!(["n1"])
        );
    }

    #[test]
    fn status_counts_follow_the_oldest_pod_of_each_node() {
        let nodes = vec![
            node("w1", "worker"),
            node("w2", "worker"),
            node("w3", "worker"),
            node("m", "master"),
        ];
        let current = json!({"a": "b", "controller-revision-hash": "h"});
        let mut node_pods = NodePods::new();
        node_pods.insert(
            "w1".into(),
            vec![pod("p1", Some("w1"), "w1", current.clone(), true)],
        );
        // Unbound: found by its affinity.
        node_pods.insert(
            "w2".into(),
            vec![pod("p2", None, "w2", json!({"a": "b"}), false)],
        );
        node_pods.insert("m".into(), vec![pod("p3", Some("m"), "m", current, true)]);
        let c = DaemonSetController::counts(&ds(), &nodes, &node_pods, "h", Timestamp::now());
        assert_eq!(
            c,
            Counts {
                desired: 3,
                current: 2,
                misscheduled: 1,
                ready: 1,
                updated: 1,
                available: 1
            }
        );
        let by = DaemonSetController::by_node(
            &[
                pod("x", None, "w2", json!({}), false),
                pod("y", Some("w1"), "w2", json!({}), false),
            ],
            false,
        );
        assert_eq!(by["w2"].len(), 1);
        assert_eq!(by["w1"].len(), 1);
    }

    #[test]
    fn node_updates_of_conditions_alone_are_ignored() {
        let n = |ready: &str, rv: &str, label: &str| -> Node {
            serde_json::from_value(json!({"metadata": {"name": "n", "resourceVersion": rv, "labels": {"x": label}},
                "status": {"conditions": [{"type": "Ready", "status": ready, "lastHeartbeatTime": format!("2020-01-01T00:00:0{rv}Z")}]}}))
            .unwrap()
        };
        assert!(ignorable_update(&n("True", "1", "a"), &n("True", "2", "a")));
        assert!(!ignorable_update(
            &n("True", "1", "a"),
            &n("False", "2", "a")
        ));
        assert!(!ignorable_update(
            &n("True", "1", "a"),
            &n("True", "2", "b")
        ));
    }
}
