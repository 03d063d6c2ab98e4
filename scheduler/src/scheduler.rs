//! The scheduler for one leader term: watches of nodes and pods feed the cache (bound pods) and
//! the queue (pending pods naming one of our profiles); one loop takes the queue's next pod,
//! runs its profile's cycle on a fresh snapshot, assumes the pod onto the chosen node and hands
//! the binding to its own task; a pod no node fits gets its PodScheduled condition and a
//! `FailedScheduling` event and waits in the queue for an event that may help.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use capstan_controllers::events::Recorder;
use capstan_controllers::informers::{Change, Informer, Informers, Object};
use k8s_openapi::api::apps::v1::{ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{
    Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod, ReplicationController, Service,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::runtime::reflector::Store;
use kube::Client;
use tokio_util::sync::CancellationToken;

use crate::binder;
use crate::cache::Cache;
use crate::fit_error::FitError;
use crate::metrics::{AttemptResult, SchedulerMetrics};
use crate::nominator::Nominator;
use crate::pod_condition::{self, SCHEDULER_ERROR, UNSCHEDULABLE};
use crate::pod_info::PodInfo;
use crate::profile::Profile;
use crate::queue::{ClusterEvent, SchedulingQueue};
use crate::snapshot::Snapshot;

/// Bindings under way at once, at most.
const MAX_BINDS_IN_FLIGHT: usize = 64;

/// What the loop, the watch handlers and the binding tasks share.
pub struct Shared {
    pub client: Client,
    pub recorder: crate::event_queue::EventQueue,
    /// The runtime binding tasks and API writes run on (the cycle has its own thread).
    pub runtime: tokio::runtime::Handle,
    /// Permits for bindings under way.
    pub binds_in_flight: Arc<tokio::sync::Semaphore>,
    pub queue: SchedulingQueue,
    pub cache: Mutex<Cache>,
    pub nominator: Mutex<Nominator>,
    pub profiles: HashMap<String, Arc<Profile>>,
    pub pdbs: Option<Store<PodDisruptionBudget>>,
    pub extenders: Vec<Arc<crate::extender::Extender>>,
}

impl Shared {
    pub fn cache(&self) -> MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn nominator(&self) -> MutexGuard<'_, Nominator> {
        self.nominator
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The PodDisruptionBudgets as last seen.
    pub fn pdbs(&self) -> Vec<Arc<PodDisruptionBudget>> {
        self.pdbs.as_ref().map(|s| s.state()).unwrap_or_default()
    }
}

fn is_terminal(p: &Pod) -> bool {
    matches!(
        p.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

fn scheduler_name(p: &Pod) -> &str {
    p.spec
        .as_ref()
        .and_then(|s| s.scheduler_name.as_deref())
        .filter(|n| !n.is_empty())
        .unwrap_or(crate::config::DEFAULT_SCHEDULER_NAME)
}

/// What changed between two versions of a node that may let pods fit.
fn node_events(old: Option<&Node>, new: &Node) -> Vec<ClusterEvent> {
    let Some(old) = old else {
        return vec![ClusterEvent::NodeAdd];
    };
    let mut out = Vec::new();
    if old.metadata.labels != new.metadata.labels {
        out.push(ClusterEvent::NodeLabel);
    }
    let taints = |n: &Node| n.spec.as_ref().map(|s| (s.taints.clone(), s.unschedulable));
    if taints(old) != taints(new) {
        out.push(ClusterEvent::NodeTaint);
    }
    let alloc = |n: &Node| n.status.as_ref().and_then(|s| s.allocatable.clone());
    if alloc(old) != alloc(new) {
        out.push(ClusterEvent::NodeAllocatable);
    }
    out
}

impl Shared {
    fn on_node(&self, change: Change<'_, Node>) {
        match change {
            Change::Applied(n) => {
                let name = n.metadata.name.clone().unwrap_or_default();
                let events = {
                    let mut cache = self.cache();
                    let old = cache.node(&name);
                    let events = node_events(old.as_deref(), n);
                    cache.set_node(n.clone());
                    events
                };
                for e in events {
                    self.queue.move_for(e);
                }
            }
            Change::Deleted(n) => {
                let name = n.metadata.name.as_deref().unwrap_or_default();
                let had = {
                    let mut cache = self.cache();
                    let had = cache.node(name).is_some();
                    cache.remove_node(name);
                    had
                };
                if had {
                    self.queue.move_for(ClusterEvent::NodeDelete);
                }
            }
        }
    }

    fn on_pod(&self, change: Change<'_, Pod>) {
        match change {
            Change::Applied(p) => {
                let assigned = p
                    .spec
                    .as_ref()
                    .and_then(|s| s.node_name.as_deref())
                    .is_some_and(|n| !n.is_empty());
                let uid = p.metadata.uid.clone().unwrap_or_default();
                if assigned {
                    let key = format!(
                        "{}/{}",
                        p.metadata.namespace.as_deref().unwrap_or_default(),
                        p.metadata.name.as_deref().unwrap_or_default()
                    );
                    self.queue.delete(&key);
                    self.nominator().remove(&uid);
                    if is_terminal(p) {
                        let had = self.cache().has_pod(&uid);
                        self.cache().remove_pod(&uid);
                        if had {
                            self.queue.move_for(ClusterEvent::AssignedPodDelete);
                        }
                    } else {
                        let info = PodInfo::new(p.clone());
                        let (new, relabelled) = {
                            let mut cache = self.cache();
                            let new = !cache.has_pod(&uid);
                            let relabelled = !new && cache.labels_changed(&info);
                            cache.set_pod(info);
                            (new, relabelled)
                        };
                        if new {
                            self.queue.move_for(ClusterEvent::AssignedPodAdd);
                        } else if relabelled {
                            self.queue.move_for(ClusterEvent::AssignedPodUpdate);
                        }
                    }
                    return;
                }
                let ours = self.profiles.get(scheduler_name(p));
                let Some(profile) = ours else {
                    return;
                };
                let key = format!(
                    "{}/{}",
                    p.metadata.namespace.as_deref().unwrap_or_default(),
                    p.metadata.name.as_deref().unwrap_or_default()
                );
                if is_terminal(p) || p.metadata.deletion_timestamp.is_some() {
                    self.queue.delete(&key);
                    return;
                }
                // Our own assumed pod, bound but not yet seen bound: not pending any more.
                if self.cache().is_assumed(&uid) {
                    return;
                }
                let info = PodInfo::new(p.clone());
                match crate::profile::nominated_node(&info) {
                    Some(n) => self.nominator().nominate(info.clone(), n),
                    None => self.nominator().remove(&uid),
                }
                let gated = profile.pre_enqueue(&info).is_err();
                self.queue.add(info, gated);
            }
            Change::Deleted(p) => {
                let uid = p.metadata.uid.clone().unwrap_or_default();
                let key = format!(
                    "{}/{}",
                    p.metadata.namespace.as_deref().unwrap_or_default(),
                    p.metadata.name.as_deref().unwrap_or_default()
                );
                self.queue.delete(&key);
                self.nominator().remove(&uid);
                let had = self.cache().has_pod(&uid);
                if had {
                    self.cache().remove_pod(&uid);
                    self.queue.move_for(ClusterEvent::AssignedPodDelete);
                }
            }
        }
    }
}

/// Runs the scheduler through `client` until `ended` is cancelled.
pub async fn run(
    client: Client,
    profiles: Vec<Profile>,
    config: &crate::config::SchedulerConfig,
    ended: CancellationToken,
    binding: tokio::runtime::Handle,
) {
    let informers = Informers::new(client.clone());
    let shared = Arc::new(Shared {
        runtime: binding,
        binds_in_flight: Arc::new(tokio::sync::Semaphore::new(MAX_BINDS_IN_FLIGHT)),
        recorder: crate::event_queue::EventQueue::start(
            Recorder::new(client.clone(), "default-scheduler"),
            ended.clone(),
        ),
        client,
        queue: SchedulingQueue::new(config.initial_backoff, config.max_backoff),
        cache: Mutex::new(Cache::default()),
        nominator: Mutex::new(Nominator::default()),
        pdbs: Some(informers.get::<PodDisruptionBudget>().store().clone()),
        profiles: profiles
            .into_iter()
            .map(|p| (p.scheduler_name.clone(), Arc::new(p)))
            .collect(),
        extenders: config
            .extenders
            .iter()
            .filter_map(|e| match crate::extender::Extender::new(e.clone()) {
                Ok(e) => Some(Arc::new(e)),
                Err(err) => {
                    tracing::error!(error = %err, "extender left out");
                    None
                }
            })
            .collect(),
    });
    let nodes = informers.get::<Node>();
    let pods = informers.get::<Pod>();
    let s = shared.clone();
    nodes.on_change(move |c| s.on_node(c));
    let s = shared.clone();
    pods.on_change(move |c| s.on_pod(c));
    // Plugins take the caches they read (VolumeBinding: claims, volumes, classes); storage
    // changes may let the pods it refused fit.
    for p in shared.profiles.values() {
        p.attach(&informers);
    }
    let claims = informers.get::<PersistentVolumeClaim>();
    let volumes = informers.get::<PersistentVolume>();
    let classes = informers.get::<StorageClass>();
    move_on_storage(&claims, &shared);
    move_on_storage(&volumes, &shared);
    move_on_storage(&classes, &shared);
    // What InterPodAffinity (namespace selectors) and PodTopologySpread (default selectors)
    // read: the same informers their `attach` took.
    let namespaces = informers.get::<Namespace>();
    let services = informers.get::<Service>();
    let controllers = informers.get::<ReplicationController>();
    let replica_sets = informers.get::<ReplicaSet>();
    let stateful_sets = informers.get::<StatefulSet>();
    let watches = informers.start(&ended);
    let synced = async {
        namespaces.synced().await;
        services.synced().await;
        controllers.synced().await;
        replica_sets.synced().await;
        stateful_sets.synced().await;
        nodes.synced().await;
        pods.synced().await;
        claims.synced().await;
        volumes.synced().await;
        classes.synced().await;
    };
    tokio::select! {
        _ = ended.cancelled() => {}
        _ = synced => {
            tracing::info!(profiles = shared.profiles.len(), "scheduler started");
            let flusher = tokio::spawn(flush(shared.clone(), ended.clone()));
            // The cycle is CPU-bound: it runs on a thread of its own (kube-scheduler's
            // scheduleOne goroutine), not queued behind the binding tasks it starts.
            let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
            let s = shared.clone();
            let spawned = std::thread::Builder::new()
                .name("scheduler-cycle".into())
                .spawn(move || {
                    match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(rt) => rt.block_on(schedule_loop(s)),
                        Err(e) => tracing::error!(error = %e, "scheduler cycle runtime"),
                    }
                    let _ = done_tx.send(());
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start the scheduling cycle's thread");
            }
            tokio::select! {
                _ = ended.cancelled() => {}
                _ = done_rx => {}
            }
            shared.queue.close();
            let _ = flusher.await;
        }
    }
    for w in watches {
        let _ = w.await;
    }
    tracing::info!("scheduler stopped");
}

/// Claims, volumes and classes added or changed may let pods VolumeBinding refused fit
/// (upstream registers their Add and Update events).
fn move_on_storage<K: Object>(informer: &Informer<K>, shared: &Arc<Shared>) {
    let s = shared.clone();
    informer.on_change(move |c| {
        if matches!(c, Change::Applied(_)) {
            s.queue.move_for(ClusterEvent::Storage);
        }
    });
}

/// Moves backed-off pods to active every second, and publishes the queue's sizes.
async fn flush(shared: Arc<Shared>, ended: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = ended.cancelled() => return,
            _ = tick.tick() => {
                shared.queue.flush();
                SchedulerMetrics::global().pending(shared.queue.pending());
            }
        }
    }
}

async fn schedule_loop(shared: Arc<Shared>) {
    let mut snapshot = Snapshot::default();
    while let Some(pod) = shared.queue.pop().await {
        schedule_one(&shared, &mut snapshot, pod).await;
        tokio::task::yield_now().await;
    }
}

/// One pod's scheduling cycle; the binding cycle continues in its own task.
pub async fn schedule_one(shared: &Arc<Shared>, snapshot: &mut Snapshot, pod: Arc<PodInfo>) {
    let started = Instant::now();
    let Some(profile) = shared.profiles.get(scheduler_name(&pod.pod)).cloned() else {
        shared.queue.delete(&pod.key);
        return;
    };
    shared.cache().update_snapshot(snapshot);
    let metrics = SchedulerMetrics::global();
    let decided = crate::extender_cycle::decide(shared, &profile, &pod, snapshot).await;
    match decided {
        Ok(placement) => {
            // Reserve: what plugins set aside for the node is seen by the next cycles.
            let reserved = snapshot
                .get(&placement.node)
                .map_or(Ok(()), |n| profile.reserve(&pod, n));
            if let Err(status) = reserved {
                metrics.attempt(
                    &profile.scheduler_name,
                    AttemptResult::Error,
                    started.elapsed(),
                );
                record_failure(shared, &pod, &FitError::error(status), None);
                shared.queue.retry(pod);
                return;
            }
            let mut bound = pod.pod.clone();
            if let Some(spec) = bound.spec.as_mut() {
                spec.node_name = Some(placement.node.clone());
            }
            shared.cache().assume(PodInfo::new(bound), &placement.node);
            shared.nominator().remove(&pod.uid);
            shared.queue.done(&pod.key);
            // At most MAX_BINDS_IN_FLIGHT bindings at once: a burst of decisions must not
            // flood the replica with writes (its raft heartbeats share the same cores).
            let Ok(permit) = shared.binds_in_flight.clone().acquire_owned().await else {
                return;
            };
            let bind = binder::bind(
                shared.clone(),
                pod,
                placement.node,
                started,
                profile.scheduler_name.clone(),
            );
            shared.runtime.spawn(async move {
                bind.await;
                drop(permit);
            });
        }
        Err(fit) => {
            let fit = *fit;
            let unschedulable = fit.error.is_none();
            let result = if unschedulable {
                AttemptResult::Unschedulable
            } else {
                AttemptResult::Error
            };
            metrics.attempt(&profile.scheduler_name, result, started.elapsed());
            let (fit, nominated) =
                crate::preemption::post_filter(shared, &profile, &pod, snapshot, fit).await;
            record_failure(shared, &pod, &fit, nominated);
            if unschedulable {
                shared.queue.unschedulable(pod, fit.unschedulable_plugins());
            } else {
                shared.queue.retry(pod);
            }
        }
    }
}

/// The FailedScheduling event and the PodScheduled condition, written off the loop.
fn record_failure(
    shared: &Arc<Shared>,
    pod: &Arc<PodInfo>,
    fit: &FitError,
    nominated: Option<String>,
) {
    let message = fit.message();
    let reason = if fit.error.is_none() {
        UNSCHEDULABLE
    } else {
        SCHEDULER_ERROR
    };
    let (shared, pod) = (shared.clone(), pod.clone());
    shared.clone().runtime.spawn(async move {
        shared
            .recorder
            .warning(&pod.pod, "FailedScheduling", message.clone())
            .await;
        pod_condition::set_unschedulable(
            &shared.client,
            &pod,
            reason,
            &message,
            nominated.as_deref(),
        )
        .await;
    });
}
