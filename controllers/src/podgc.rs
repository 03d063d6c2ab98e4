//! The podgc controller: every pass it force-deletes (grace 0, after marking them Failed) the
//! pods nothing else will ever clean up — finished pods beyond `--terminated-pod-gc-threshold`
//! (evicted ones first, then oldest first), pods bound to a node that is gone (after a
//! quarantine and a fresh GET proving the node is really gone, with a `DisruptionTarget`
//! condition), terminating pods on a NotReady node tainted `node.kubernetes.io/out-of-service`,
//! and terminating pods never scheduled.
//!
//! Upstream passes every 20 s and quarantines a missing node for 40 s; here the pass period is
//! four `--node-monitor-period`s and the quarantine one `--node-monitor-grace-period`, which
//! are those same 20 s and 40 s at their defaults.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, Pod, PodCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::DeleteParams;
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::informers::Informers;
use crate::{pod_state, status_patch, ControllerError, ManagerConfig};

const OUT_OF_SERVICE: &str = "node.kubernetes.io/out-of-service";

pub fn register(
    client: Client,
    informers: &Informers,
    config: &ManagerConfig,
    ended: CancellationToken,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let pods = informers.get::<Pod>();
    let nodes = informers.get::<Node>();
    let mut gc = PodGc {
        client,
        threshold: config.terminated_pod_gc_threshold,
        quarantine: config.node_monitor_grace_period,
        missing_since: HashMap::new(),
    };
    let period = config
        .node_monitor_period
        .saturating_mul(4)
        .max(Duration::from_millis(100));
    async move {
        tokio::select! {
            _ = ended.cancelled() => return,
            _ = async { pods.synced().await; nodes.synced().await } => {}
        }
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ended.cancelled() => return,
                _ = tick.tick() => {}
            }
            let pods: Vec<Arc<Pod>> = pods.store().state();
            let nodes: Vec<Arc<Node>> = nodes.store().state();
            gc.pass(&pods, &nodes).await;
        }
    }
}

struct PodGc {
    client: Client,
    threshold: usize,
    quarantine: Duration,
    /// Nodes pods are bound to that the cache lacks, since when (upstream's delaying queue).
    missing_since: HashMap<String, Instant>,
}

fn node_name(p: &Pod) -> &str {
    p.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .unwrap_or("")
}

/// Failed with reason `Evicted` (the kubelet's eviction).
fn is_evicted(p: &Pod) -> bool {
    p.status.as_ref().is_some_and(|s| {
        s.phase.as_deref() == Some("Failed") && s.reason.as_deref() == Some("Evicted")
    })
}

/// Neither Pending, Running nor Unknown (upstream's isPodTerminated).
fn is_terminated(p: &Pod) -> bool {
    !matches!(pod_state::phase(p), Some("Pending" | "Running" | "Unknown"))
}

/// The order finished pods go in: evicted first, then oldest, then by name.
fn gc_order(p: &Pod) -> (bool, Timestamp, String) {
    let created = p
        .metadata
        .creation_timestamp
        .as_ref()
        .map(|t| t.0)
        .unwrap_or_default();
    (!is_evicted(p), created, p.name_any())
}

fn node_ready(n: &Node) -> bool {
    n.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

impl PodGc {
    async fn pass(&mut self, pods: &[Arc<Pod>], nodes: &[Arc<Node>]) {
        if self.threshold > 0 {
            self.gc_terminated(pods).await;
        }
        self.gc_terminating_out_of_service(pods, nodes).await;
        self.gc_orphaned(pods, nodes).await;
        self.gc_unscheduled_terminating(pods).await;
    }

    async fn gc_terminated(&self, pods: &[Arc<Pod>]) {
        let mut finished: Vec<&Arc<Pod>> = pods.iter().filter(|p| is_terminated(p)).collect();
        let excess = finished.len().saturating_sub(self.threshold);
        if excess == 0 {
            return;
        }
        tracing::info!(pods = excess, "podgc: garbage collecting finished pods");
        finished.sort_by_cached_key(|p| gc_order(p));
        for p in finished.into_iter().take(excess) {
            self.mark_failed_and_delete(p, None).await;
        }
    }

    async fn gc_terminating_out_of_service(&self, pods: &[Arc<Pod>], nodes: &[Arc<Node>]) {
        let out_of_service: HashSet<String> = nodes
            .iter()
            .filter(|n| {
                !node_ready(n)
                    && n.spec
                        .as_ref()
                        .and_then(|s| s.taints.as_ref())
                        .is_some_and(|t| t.iter().any(|t| t.key == OUT_OF_SERVICE))
            })
            .map(|n| n.name_any())
            .collect();
        let mut doomed: Vec<&Arc<Pod>> = pods
            .iter()
            .filter(|p| {
                p.metadata.deletion_timestamp.is_some() && out_of_service.contains(node_name(p))
            })
            .collect();
        doomed.sort_by_cached_key(|p| gc_order(p));
        for p in doomed {
            self.mark_failed_and_delete(p, None).await;
        }
    }

    async fn gc_orphaned(&mut self, pods: &[Arc<Pod>], nodes: &[Arc<Node>]) {
        let existing: HashSet<String> = nodes.iter().map(|n| n.name_any()).collect();
        let now = Instant::now();
        for p in pods {
            let n = node_name(p);
            if !n.is_empty() && !existing.contains(n) {
                self.missing_since.entry(n.to_string()).or_insert(now);
            }
        }
        let due: Vec<String> = self
            .missing_since
            .iter()
            .filter(|(_, since)| now.duration_since(**since) >= self.quarantine)
            .map(|(n, _)| n.clone())
            .collect();
        let mut deleted = HashSet::new();
        let api: Api<Node> = Api::all(self.client.clone());
        for name in due {
            self.missing_since.remove(&name);
            if existing.contains(&name) {
                continue;
            }
            match api.get_opt(&name).await {
                Ok(None) => {
                    deleted.insert(name);
                }
                Ok(Some(_)) => {}
                // Checked again on a later pass while pods still name it.
                Err(e) => tracing::debug!(node = %name, error = %e, "podgc: node not checked"),
            }
        }
        for p in pods.iter().filter(|p| deleted.contains(node_name(p))) {
            tracing::info!(pod = %p.name_any(), node = node_name(p), "podgc: deleting orphaned pod");
            let condition = PodCondition {
                type_: "DisruptionTarget".into(),
                status: "True".into(),
                reason: Some("DeletionByPodGC".into()),
                message: Some("PodGC: node no longer exists".into()),
                ..PodCondition::default()
            };
            self.mark_failed_and_delete(p, Some(condition)).await;
        }
    }

    async fn gc_unscheduled_terminating(&self, pods: &[Arc<Pod>]) {
        for p in pods {
            if p.metadata.deletion_timestamp.is_some() && node_name(p).is_empty() {
                self.mark_failed_and_delete(p, None).await;
            }
        }
    }

    /// Marks the pod Failed (with `condition`) unless it finished, then deletes it at once.
    async fn mark_failed_and_delete(&self, pod: &Pod, condition: Option<PodCondition>) {
        if let Err(e) = self.try_mark_failed_and_delete(pod, condition).await {
            tracing::debug!(pod = %pod.name_any(), error = %e, "podgc: pod not deleted");
        }
    }

    async fn try_mark_failed_and_delete(
        &self,
        pod: &Pod,
        condition: Option<PodCondition>,
    ) -> Result<(), ControllerError> {
        let ns = pod.namespace().unwrap_or_default();
        let name = pod.name_any();
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        if !matches!(pod_state::phase(pod), Some("Succeeded" | "Failed")) {
            let mut status = json!({"phase": "Failed"});
            if let Some(c) = condition {
                let conditions = with_condition(pod, c);
                status["conditions"] = serde_json::to_value(conditions).unwrap_or_default();
            }
            status_patch::merge(&api, &name, json!({"status": status})).await?;
        }
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            ..DeleteParams::default()
        };
        match api.delete(&name, &params).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// The pod's conditions with `c` set as upstream's UpdatePodCondition sets one: its transition
/// time is now unless its status is unchanged.
pub fn with_condition(pod: &Pod, mut c: PodCondition) -> Vec<PodCondition> {
    let mut conditions = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    c.last_transition_time = Some(Time(Timestamp::now()));
    match conditions.iter_mut().find(|o| o.type_ == c.type_) {
        Some(old) => {
            if old.status == c.status {
                c.last_transition_time = old.last_transition_time.clone();
            }
            *old = c;
        }
        None => conditions.push(c),
    }
    conditions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, created: i64, phase: &str, reason: Option<&str>) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "creationTimestamp": Timestamp::from_second(created).unwrap().to_string()},
            "status": {"phase": phase, "reason": reason},
        }))
        .unwrap()
    }

    #[test]
    fn finished_pods_go_evicted_first_then_oldest_then_by_name() {
        let mut pods = [
            pod("c", 300, "Succeeded", None),
            pod("b", 100, "Failed", None),
            pod("a", 100, "Succeeded", None),
            pod("z", 900, "Failed", Some("Evicted")),
        ];
        pods.sort_by_cached_key(gc_order);
        let names: Vec<String> = pods.iter().map(|p| p.name_any()).collect();
        assert_eq!(names, ["z", "a", "b", "c"]);
    }

    #[test]
    fn only_succeeded_and_failed_pods_are_terminated() {
        assert!(is_terminated(&pod("a", 1, "Succeeded", None)));
        assert!(is_terminated(&pod("a", 1, "Failed", None)));
        for phase in ["Pending", "Running", "Unknown"] {
            assert!(!is_terminated(&pod("a", 1, phase, None)));
        }
    }
}
