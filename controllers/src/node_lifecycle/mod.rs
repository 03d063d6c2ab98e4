//! The nodelifecycle controller. Every `--node-monitor-period` it checks each Node's signs of
//! life (its `kube-node-lease` Lease and its Ready condition's heartbeat, as seen by this
//! controller's clock) and, past `--node-monitor-grace-period` without one, sets the kubelet's
//! conditions to Unknown. A node whose Ready condition is False or Unknown is tainted
//! `node.kubernetes.io/not-ready` or `node.kubernetes.io/unreachable` NoExecute (the two swap
//! as readiness changes, and go when it is Ready again), its pods are marked not Ready, and the
//! taint manager ([`taint_eviction`]) evicts the pods that do not tolerate the taint. On every
//! node change the NoSchedule taints mirroring its conditions and `spec.unschedulable` are
//! brought in line (TaintNodesByCondition), and the beta os/arch labels follow the stable ones.
//!
//! Simplified from upstream: NoExecute taints are added at once rather than at
//! `--node-eviction-rate` (0.1 nodes/s) per zone; the zone states are kept only to stop
//! tainting when every zone is fully disrupted, or in a partially disrupted zone of at most
//! 50 nodes (where upstream's rate is 0). A node that never posted status gets the same grace
//! period as the others (upstream's `--node-startup-grace-period` is not a flag here).

pub mod health;
pub mod taint_eviction;
pub mod taints;
pub mod zones;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition, Pod, PodCondition};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::events::Recorder;
use crate::informers::{Change, Informer, Informers};
use crate::workqueue::{key_of, run_workers, WorkQueue};
use crate::{ControllerError, ManagerConfig};
use health::Health;
use taints::{NOT_READY, NO_EXECUTE, UNREACHABLE};
use zones::ZoneState;

/// The namespace of the nodes' heartbeat Leases.
const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";
/// Upstream's nodeUpdateWorkerSize and podUpdateWorkerSize.
const NODE_WORKERS: usize = 8;
const POD_WORKERS: usize = 4;
/// Upstream's NodeHealthUpdateRetry, and the pause between tries.
const HEALTH_UPDATE_ATTEMPTS: usize = 5;
const RETRY_SLEEP: Duration = Duration::from_millis(20);
/// The stable labels whose beta twins are kept equal to them.
const BETA_LABELS: [(&str, &str); 2] = [
    ("kubernetes.io/os", "beta.kubernetes.io/os"),
    ("kubernetes.io/arch", "beta.kubernetes.io/arch"),
];

/// What the monitor and the pod worker share: each node's health as last seen.
type HealthMap = Arc<Mutex<HashMap<String, Health>>>;

fn node_name_of(p: &Pod) -> &str {
    p.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .unwrap_or("")
}

pub fn register(
    client: Client,
    informers: &Informers,
    config: &ManagerConfig,
    ended: CancellationToken,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let nodes = informers.get::<Node>();
    let leases = informers.get::<Lease>();
    let pods = informers.get::<Pod>();
    let eviction = taint_eviction::register(client.clone(), informers, ended.clone());
    let health: HealthMap = Arc::default();

    let node_queue: Arc<WorkQueue<String>> = WorkQueue::new(ended.clone());
    let q = node_queue.clone();
    nodes.on_change(move |c| {
        if let Change::Applied(n) = c {
            q.add(n.name_any());
        }
    });
    // Pods newly bound to a node are checked against its health (upstream's podUpdated).
    let pod_queue: Arc<WorkQueue<String>> = WorkQueue::new(ended.clone());
    let (q, bound) = (
        pod_queue.clone(),
        Mutex::new(HashMap::<String, String>::new()),
    );
    pods.on_change(move |c| {
        let mut bound = bound.lock().unwrap_or_else(PoisonError::into_inner);
        match c {
            Change::Applied(p) => {
                let key = key_of(&p.namespace().unwrap_or_default(), &p.name_any());
                let node = node_name_of(p);
                if !node.is_empty() && bound.get(&key).map(String::as_str) != Some(node) {
                    bound.insert(key.clone(), node.to_string());
                    q.add(key);
                }
            }
            Change::Deleted(p) => {
                bound.remove(&key_of(&p.namespace().unwrap_or_default(), &p.name_any()));
            }
        }
    });

    let recorder = Recorder::new(client.clone(), "node-controller");
    let monitor = Monitor {
        client: client.clone(),
        nodes: nodes.clone(),
        leases: leases.clone(),
        pods: pods.clone(),
        recorder: recorder.clone(),
        grace: config.node_monitor_grace_period,
        health: health.clone(),
        known: HashSet::new(),
        retry: HashSet::new(),
        all_disrupted: false,
    };
    let period = config.node_monitor_period.max(Duration::from_millis(10));
    async move {
        tokio::select! {
            _ = ended.cancelled() => return,
            _ = async { nodes.synced().await; leases.synced().await; pods.synced().await } => {}
        }
        let no_schedule = {
            let (client, nodes) = (client.clone(), nodes.clone());
            run_workers(
                node_queue,
                NODE_WORKERS,
                "nodelifecycle",
                move |name: String| {
                    let (client, nodes) = (client.clone(), nodes.clone());
                    async move { sync_node_taints_and_labels(&client, &nodes, &name).await }
                },
            )
        };
        let pod_work = {
            let (client, nodes, pods) = (client.clone(), nodes.clone(), pods.clone());
            run_workers(
                pod_queue,
                POD_WORKERS,
                "nodelifecycle-pods",
                move |key: String| {
                    let (client, nodes, pods, health, recorder) = (
                        client.clone(),
                        nodes.clone(),
                        pods.clone(),
                        health.clone(),
                        recorder.clone(),
                    );
                    async move { sync_pod(&client, &nodes, &pods, &health, &recorder, &key).await }
                },
            )
        };
        tokio::join!(eviction, no_schedule, pod_work, monitor.run(period, ended));
    }
}

/// The NoSchedule condition taints and the beta labels of one node (upstream's
/// doNoScheduleTaintingPass and reconcileNodeLabels).
async fn sync_node_taints_and_labels(
    client: &Client,
    nodes: &Informer<Node>,
    name: &str,
) -> Result<(), ControllerError> {
    let Some(node) = nodes.store().get(&ObjectRef::new(name)) else {
        return Ok(());
    };
    let (add, remove) = taints::no_schedule_diff(&node);
    if !add.is_empty() || !remove.is_empty() {
        taints::swap(client, name, &add, &remove).await?;
    }
    let labels = node.metadata.labels.clone().unwrap_or_default();
    let missing: BTreeMap<&str, &String> = BETA_LABELS
        .iter()
        .filter_map(|(stable, beta)| {
            let v = labels.get(*stable)?;
            (labels.get(*beta) != Some(v)).then_some((*beta, v))
        })
        .collect();
    if !missing.is_empty() {
        let api: Api<Node> = Api::all(client.clone());
        let patch = json!({"metadata": {"labels": missing}});
        match api
            .patch(name, &PatchParams::default(), &Patch::Merge(patch))
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// A pod just bound to a node that is not Ready is marked not Ready too (upstream's
/// processPod).
async fn sync_pod(
    client: &Client,
    nodes: &Informer<Node>,
    pods: &Informer<Pod>,
    health: &HealthMap,
    recorder: &Recorder,
    key: &str,
) -> Result<(), ControllerError> {
    let Some((ns, name)) = key.split_once('/') else {
        return Ok(());
    };
    let Some(pod) = pods.store().get(&ObjectRef::new(name).within(ns)) else {
        return Ok(());
    };
    let node = node_name_of(&pod).to_string();
    let ready = {
        let health = health.lock().unwrap_or_else(PoisonError::into_inner);
        match health.get(&node) {
            None => return Ok(()),
            Some(h) => h.ready.as_ref().map(|r| r.status.clone()),
        }
    };
    if nodes.store().get(&ObjectRef::new(&node)).is_none() {
        return Err(ControllerError::Conflict(format!(
            "node {node} not in the cache"
        )));
    }
    match ready {
        Some(status) if status != "True" => {
            mark_pods_not_ready(client, recorder, &[pod], &node).await
        }
        _ => Ok(()),
    }
}

/// Sets the Ready condition of the node's pods to False, as upstream's MarkPodsNotReady (the
/// reason and message stay; the transition time is now), with a `NodeNotReady` event each.
async fn mark_pods_not_ready(
    client: &Client,
    recorder: &Recorder,
    pods: &[Arc<Pod>],
    node: &str,
) -> Result<(), ControllerError> {
    let mut failed = None;
    for p in pods.iter().filter(|p| node_name_of(p) == node) {
        let before = p
            .status
            .as_ref()
            .and_then(|s| s.conditions.clone())
            .unwrap_or_default();
        let Some(ready) = before.iter().find(|c| c.type_ == "Ready") else {
            continue;
        };
        let not_ready = PodCondition {
            status: "False".into(),
            ..ready.clone()
        };
        let after = crate::podgc::with_condition(p, not_ready);
        if after == before {
            continue;
        }
        let api: Api<Pod> = Api::namespaced(client.clone(), &p.namespace().unwrap_or_default());
        let patch = json!({
            "metadata": {"resourceVersion": p.metadata.resource_version},
            "status": {"conditions": after},
        });
        match api
            .patch_status(&p.name_any(), &PatchParams::default(), &Patch::Merge(patch))
            .await
        {
            Ok(_) => {
                recorder
                    .warning(&**p, "NodeNotReady", "Node is not ready".into())
                    .await
            }
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => {
                tracing::debug!(pod = %p.name_any(), error = %e, "pod not marked not ready");
                failed = Some(e);
            }
        }
    }
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// One node as a monitor pass left it: the node (as written), its Ready condition when the
/// pass began, and after.
struct Checked {
    node: Node,
    observed: NodeCondition,
    current: Option<NodeCondition>,
}

/// The periodic health check (upstream's monitorNodeHealth).
struct Monitor {
    client: Client,
    nodes: Arc<Informer<Node>>,
    leases: Arc<Informer<Lease>>,
    pods: Arc<Informer<Pod>>,
    recorder: Recorder,
    grace: Duration,
    health: HealthMap,
    /// The nodes seen so far.
    known: HashSet<String>,
    /// Nodes whose pods must still be marked not Ready.
    retry: HashSet<String>,
    /// Whether every zone was fully disrupted at the last pass.
    all_disrupted: bool,
}

impl Monitor {
    async fn run(mut self, period: Duration, ended: CancellationToken) {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ended.cancelled() => return,
                _ = tick.tick() => {}
            }
            self.pass().await;
        }
    }

    async fn node_event(&self, node: &Node, reason: &str, message: String) {
        self.recorder.normal(node, reason, message).await;
    }

    async fn pass(&mut self) {
        let nodes = self.nodes.store().state();
        let names: HashSet<String> = nodes.iter().map(|n| n.name_any()).collect();
        let added: Vec<&Arc<Node>> = nodes
            .iter()
            .filter(|n| !self.known.contains(&n.name_any()))
            .collect();
        for n in added {
            let name = n.name_any();
            self.node_event(
                n,
                "RegisteredNode",
                format!("Node {name} event: Registered Node {name} in Controller"),
            )
            .await;
            self.known.insert(name);
            self.mark_reachable(n).await;
        }
        let gone: Vec<String> = self.known.difference(&names).cloned().collect();
        for name in gone {
            let node = Node {
                metadata: kube::api::ObjectMeta {
                    name: Some(name.clone()),
                    ..Default::default()
                },
                ..Node::default()
            };
            self.node_event(
                &node,
                "RemovingNode",
                format!("Node {name} event: Removing Node {name} from Controller"),
            )
            .await;
            self.known.remove(&name);
            self.retry.remove(&name);
            self.health
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&name);
        }

        let mut checked = Vec::new();
        for n in &nodes {
            match self.update_health(n).await {
                Ok(c) => checked.push(c),
                Err(e) => tracing::warn!(node = %n.name_any(), error = %e,
                    "node health not updated; no pods will be evicted"),
            }
        }

        let counted: Vec<(String, bool)> = checked
            .iter()
            .filter(|c| !zones::excluded(&c.node))
            .map(|c| {
                let ready = c.current.as_ref().is_some_and(|r| r.status == "True");
                (zones::zone_key(&c.node), ready)
            })
            .collect();
        let states = zones::zone_states(&counted);
        let all = zones::all_fully_disrupted(&states);
        if all && !self.all_disrupted {
            tracing::info!("every node is not Ready: entering master disruption mode");
            for c in &checked {
                self.mark_reachable(&c.node).await;
            }
        }
        if !all && self.all_disrupted {
            tracing::info!("some nodes are Ready: leaving master disruption mode");
            let now = Timestamp::now();
            for h in self
                .health
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .values_mut()
            {
                h.probe = now;
                h.ready_transition = now;
            }
        }
        self.all_disrupted = all;

        for c in checked {
            let Some(current) = c.current.as_ref() else {
                continue;
            };
            let name = c.node.name_any();
            let (state, size) = states
                .get(&zones::zone_key(&c.node))
                .copied()
                .unwrap_or((ZoneState::Normal, 0));
            let may_taint = zones::may_taint(state, size, all);
            self.taint_by_readiness(&c.node, &c.observed, may_taint)
                .await;

            let became_not_ready = current.status != "True" && c.observed.status == "True";
            if became_not_ready {
                self.node_event(
                    &c.node,
                    "NodeNotReady",
                    format!("Node {name} status is now: NodeNotReady"),
                )
                .await;
            }
            if became_not_ready || (self.retry.contains(&name) && c.observed.status != "True") {
                let pods: Vec<Arc<Pod>> = self
                    .pods
                    .store()
                    .state()
                    .into_iter()
                    .filter(|p| node_name_of(p) == name)
                    .collect();
                if let Err(e) =
                    mark_pods_not_ready(&self.client, &self.recorder, &pods, &name).await
                {
                    tracing::debug!(node = %name, error = %e, "pods not marked not ready; retrying");
                    self.retry.insert(name);
                    continue;
                }
            }
            self.retry.remove(&name);
        }
    }

    /// The node's NoExecute taint as its Ready condition at the start of the pass calls for
    /// (upstream's processTaintBaseEviction): an existing opposite taint is swapped at once; a
    /// new taint only when the zone allows; a Ready node loses both.
    async fn taint_by_readiness(&self, node: &Node, observed: &NodeCondition, may_taint: bool) {
        let not_ready = taints::taint(NOT_READY, NO_EXECUTE);
        let unreachable = taints::taint(UNREACHABLE, NO_EXECUTE);
        let (want, opposite) = match observed.status.as_str() {
            "False" => (not_ready, unreachable),
            "Unknown" => (unreachable, not_ready),
            "True" => {
                self.mark_reachable(node).await;
                return;
            }
            _ => return,
        };
        let (has_want, has_opposite) = (taints::has(node, &want), taints::has(node, &opposite));
        if has_want && !has_opposite {
            return;
        }
        if !has_opposite && !may_taint {
            return;
        }
        if let Err(e) = taints::swap(&self.client, &node.name_any(), &[want], &[opposite]).await {
            tracing::warn!(node = %node.name_any(), error = %e, "NoExecute taint not written");
        }
    }

    /// Removes both NoExecute readiness taints (upstream's markNodeAsReachable).
    async fn mark_reachable(&self, node: &Node) {
        let both = [
            taints::taint(UNREACHABLE, NO_EXECUTE),
            taints::taint(NOT_READY, NO_EXECUTE),
        ];
        if !both.iter().any(|t| taints::has(node, t)) {
            return;
        }
        if let Err(e) = taints::swap(&self.client, &node.name_any(), &[], &both).await {
            tracing::warn!(node = %node.name_any(), error = %e, "NoExecute taints not removed");
        }
    }

    /// Checks one node's health, re-reading it when the status write loses a race.
    async fn update_health(&self, node: &Node) -> Result<Checked, ControllerError> {
        let api: Api<Node> = Api::all(self.client.clone());
        let mut node = node.clone();
        let mut last = None;
        for _ in 0..HEALTH_UPDATE_ATTEMPTS {
            match self.try_update_health(&api, &node).await {
                Ok(c) => return Ok(c),
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(RETRY_SLEEP).await;
            match api.get_opt(&node.name_any()).await? {
                Some(n) => node = n,
                None => {
                    return Err(ControllerError::Conflict(format!(
                        "node {} is gone",
                        node.name_any()
                    )))
                }
            }
        }
        Err(last.unwrap_or_else(|| ControllerError::Conflict("no attempt made".into())))
    }

    /// Upstream's tryUpdateNodeHealth.
    async fn try_update_health(
        &self,
        api: &Api<Node>,
        node: &Node,
    ) -> Result<Checked, ControllerError> {
        let name = node.name_any();
        let lease = self
            .leases
            .store()
            .get(&ObjectRef::new(&name).within(NODE_LEASE_NAMESPACE));
        let now = Timestamp::now();
        let observed = health::observed_ready(node);
        let saved = self
            .health
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&name)
            .cloned();
        let mut seen = health::observe(saved, node, lease.as_deref(), now);
        let mut result = Checked {
            node: node.clone(),
            observed: observed.clone(),
            current: health::condition(node, "Ready").cloned(),
        };
        if health::overdue(&seen, now, self.grace) {
            let conditions = health::unknown_conditions(node, now);
            let ready = conditions.iter().find(|c| c.type_ == "Ready").cloned();
            if ready.as_ref() != Some(&observed) {
                let patch = json!({
                    "metadata": {"resourceVersion": node.metadata.resource_version},
                    "status": {"conditions": conditions},
                });
                let written = api
                    .patch_status(&name, &PatchParams::default(), &Patch::Merge(patch))
                    .await;
                if let Err(e) = written {
                    self.remember(&name, seen);
                    return Err(e.into());
                }
                if let Some(status) = result.node.status.as_mut() {
                    status.conditions = Some(conditions);
                } else {
                    result.node.status = Some(k8s_openapi::api::core::v1::NodeStatus {
                        conditions: Some(conditions),
                        ..Default::default()
                    });
                }
                seen = health::after_marked_unknown(&seen, &result.node, lease.as_deref(), now);
                result.current = ready;
            }
        }
        self.remember(&name, seen);
        Ok(result)
    }

    fn remember(&self, name: &str, seen: Health) {
        self.health
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_string(), seen);
    }
}
