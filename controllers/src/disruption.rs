//! The disruption controller (kube-controller-manager's `disruption`): for each
//! PodDisruptionBudget, the pods its selector matches in its namespace (policy/v1: an empty
//! selector matches them all), how many are expected (the scale of their controllers —
//! Deployment, ReplicaSet, StatefulSet, ReplicationController — when `minAvailable` is a
//! percentage or `maxUnavailable` is set, else the pods counted), how many must be healthy and
//! how many are (ready, neither terminating nor just evicted); it reports `status`
//! (currentHealthy, desiredHealthy, expectedPods, disruptionsAllowed, observedGeneration,
//! disruptedPods and the `DisruptionAllowed` condition: SufficientPods, InsufficientPods, or
//! SyncFailed when the expected count cannot be worked out). Pods the eviction subresource
//! recorded in `disruptedPods` stop counting as healthy until they go, or for two minutes
//! (upstream's DeletionTimeout; a pod not deleted by then gets a `NotDeleted` event). The
//! status is written with the budget's resourceVersion, as the eviction subresource's
//! decrement is, so neither overwrites the other. It also clears a `DisruptionTarget` pod
//! condition left on a pod that was not deleted after two minutes.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, OwnerReference, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams, PostParams};
use kube::core::{Selector, SelectorExt};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::events::Recorder;
use crate::informers::{Change, Informer, Informers};
use crate::owners::controller_of;
use crate::pod_state::{is_finished, is_ready};
use crate::workqueue::{key_of, run_workers, WorkQueue};
use crate::{ControllerError, ManagerConfig};

/// How long an evicted pod may take to go before it counts again (upstream's DeletionTimeout);
/// also how long a `DisruptionTarget` condition may stay on a pod that is not being deleted.
const DELETION_TIMEOUT: i64 = 120;
/// How often every budget is looked at again (the budget informer's resync upstream).
const RESYNC: Duration = Duration::from_secs(30);
/// The workers per queue (upstream runs one).
const WORKERS: usize = 1;

const CONDITION: &str = "DisruptionAllowed";
const SUFFICIENT: &str = "SufficientPods";
const INSUFFICIENT: &str = "InsufficientPods";
const SYNC_FAILED: &str = "SyncFailed";

struct DisruptionController {
    client: Client,
    budgets: Arc<Informer<PodDisruptionBudget>>,
    pods: Arc<Informer<Pod>>,
    replica_sets: Arc<Informer<ReplicaSet>>,
    deployments: Arc<Informer<Deployment>>,
    stateful_sets: Arc<Informer<StatefulSet>>,
    rcs: Arc<Informer<ReplicationController>>,
    queue: Arc<WorkQueue<String>>,
    events: Recorder,
}

/// A budget's selector as the policy/v1 lister reads it: none matches nothing, an empty one
/// every pod; a malformed one nothing.
fn selector_of(pdb: &PodDisruptionBudget) -> Option<Selector> {
    let sel = pdb.spec.as_ref()?.selector.clone()?;
    Selector::try_from(sel).ok()
}

/// Queues every budget of the pod's namespace whose selector matches it.
fn queue_budgets_of(budgets: &Informer<PodDisruptionBudget>, queue: &WorkQueue<String>, pod: &Pod) {
    let ns = pod.namespace().unwrap_or_default();
    let labels = pod.labels().clone();
    for pdb in budgets.store().state() {
        if pdb.namespace().as_deref() == Some(ns.as_str())
            && selector_of(&pdb).is_some_and(|s| s.matches(&labels))
        {
            queue.add(key_of(&ns, &pdb.name_any()));
        }
    }
}

/// How long until a pod's `DisruptionTarget` condition is stale, if it has one that can be
/// (upstream leaves the kubelet's, and those of terminating or finished pods, alone).
fn stale_condition_in(pod: &Pod, now: Timestamp) -> Option<Duration> {
    if pod.metadata.deletion_timestamp.is_some() || is_finished(pod) {
        return None;
    }
    let cond = pod
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "DisruptionTarget")?;
    if cond.status != "True" || cond.reason.as_deref() == Some("TerminationByKubelet") {
        return None;
    }
    let since = cond.last_transition_time.as_ref().map(|t| t.0)?;
    let left = DELETION_TIMEOUT - now.duration_since(since).as_secs();
    Some(Duration::from_secs(u64::try_from(left).unwrap_or(0)))
}

/// Registers the controller's handlers; its workers run once the informers have synced.
pub fn register(
    client: Client,
    informers: &Informers,
    _config: &ManagerConfig,
    ended: CancellationToken,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let queue: Arc<WorkQueue<String>> = WorkQueue::new(ended.clone());
    let stale: Arc<WorkQueue<String>> = WorkQueue::new(ended.clone());
    let ctl = Arc::new(DisruptionController {
        events: Recorder::new(client.clone(), "controllermanager"),
        client,
        budgets: informers.get::<PodDisruptionBudget>(),
        pods: informers.get::<Pod>(),
        replica_sets: informers.get::<ReplicaSet>(),
        deployments: informers.get::<Deployment>(),
        stateful_sets: informers.get::<StatefulSet>(),
        rcs: informers.get::<ReplicationController>(),
        queue: queue.clone(),
    });
    let q = queue.clone();
    ctl.budgets.on_change(move |c| {
        let (Change::Applied(pdb) | Change::Deleted(pdb)) = c;
        q.add(key_of(
            &pdb.namespace().unwrap_or_default(),
            &pdb.name_any(),
        ));
    });
    let (q, s, budgets) = (queue.clone(), stale.clone(), ctl.budgets.clone());
    ctl.pods.on_change(move |c| {
        let pod = match c {
            Change::Applied(p) => {
                if let Some(wait) = stale_condition_in(p, Timestamp::now()) {
                    let key = key_of(&p.namespace().unwrap_or_default(), &p.name_any());
                    s.add_after(key, wait);
                }
                p
            }
            Change::Deleted(p) => p,
        };
        queue_budgets_of(&budgets, &q, pod);
    });
    // A controller's scale is what a percentage budget counts against.
    queue_namespace_on_change(&ctl.replica_sets, &ctl.budgets, &queue);
    queue_namespace_on_change(&ctl.deployments, &ctl.budgets, &queue);
    queue_namespace_on_change(&ctl.stateful_sets, &ctl.budgets, &queue);
    queue_namespace_on_change(&ctl.rcs, &ctl.budgets, &queue);
    async move {
        tokio::join!(
            ctl.budgets.synced(),
            ctl.pods.synced(),
            ctl.replica_sets.synced(),
            ctl.deployments.synced(),
            ctl.stateful_sets.synced(),
            ctl.rcs.synced(),
        );
        let resync = {
            let (ctl, ended) = (ctl.clone(), ended.clone());
            async move {
                loop {
                    tokio::select! {
                        _ = ended.cancelled() => return,
                        _ = tokio::time::sleep(RESYNC) => {}
                    }
                    for pdb in ctl.budgets.store().state() {
                        ctl.queue.add(key_of(
                            &pdb.namespace().unwrap_or_default(),
                            &pdb.name_any(),
                        ));
                    }
                }
            }
        };
        let budgets = {
            let ctl = ctl.clone();
            run_workers(queue, WORKERS, "disruption", move |key: String| {
                let ctl = ctl.clone();
                async move { ctl.sync(&key).await }
            })
        };
        let stale_conditions = {
            let ctl = ctl.clone();
            let again = stale.clone();
            run_workers(
                stale,
                WORKERS,
                "disruption-stale-pods",
                move |key: String| {
                    let (ctl, again) = (ctl.clone(), again.clone());
                    async move { ctl.clear_stale_condition(&key, &again).await }
                },
            )
        };
        tokio::join!(resync, budgets, stale_conditions);
    }
}

/// Queues a namespace's budgets whenever one of its `K` workloads changes.
fn queue_namespace_on_change<K: crate::informers::Object>(
    informer: &Informer<K>,
    budgets: &Arc<Informer<PodDisruptionBudget>>,
    queue: &Arc<WorkQueue<String>>,
) {
    let (q, budgets) = (queue.clone(), budgets.clone());
    informer.on_change(move |c| {
        let (Change::Applied(o) | Change::Deleted(o)) = c;
        let ns = o.namespace().unwrap_or_default();
        for pdb in budgets.store().state() {
            if pdb.namespace().as_deref() == Some(ns.as_str()) {
                q.add(key_of(&ns, &pdb.name_any()));
            }
        }
    });
}

/// `value` of `total` (an integer, or a percentage rounded up), as intstr's
/// GetScaledValueFromIntOrPercent with roundUp.
fn scaled(value: &IntOrString, total: i32) -> Result<i32, String> {
    match value {
        IntOrString::Int(i) => Ok(*i),
        IntOrString::String(s) => {
            let pct: i64 = s
                .strip_suffix('%')
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| format!("invalid value for IntOrString: invalid value {s:?}"))?;
            let v = (pct * i64::from(total) + 99).div_euclid(100);
            Ok(i32::try_from(v).unwrap_or(i32::MAX))
        }
    }
}

/// Sets the `DisruptionAllowed` condition as upstream's SetStatusCondition does: the
/// transition time moves only when the status changes.
fn set_condition(
    conditions: &mut Vec<Condition>,
    status: &str,
    reason: &str,
    message: String,
    generation: Option<i64>,
    now: Timestamp,
) {
    match conditions.iter_mut().find(|c| c.type_ == CONDITION) {
        Some(c) => {
            if c.status != status {
                c.status = status.into();
                c.last_transition_time = Time(now);
            }
            c.reason = reason.into();
            c.message = message;
            c.observed_generation = generation;
        }
        None => conditions.push(Condition {
            type_: CONDITION.into(),
            status: status.into(),
            reason: reason.into(),
            message,
            observed_generation: generation,
            last_transition_time: Time(now),
        }),
    }
}

/// Whether the budget's condition already says what its disruptionsAllowed does.
fn condition_up_to_date(pdb: &PodDisruptionBudget) -> bool {
    let Some(status) = pdb.status.as_ref() else {
        return false;
    };
    let Some(c) = status
        .conditions
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find(|c| c.type_ == CONDITION)
    else {
        return false;
    };
    if status.observed_generation != pdb.metadata.generation {
        return false;
    }
    if status.disruptions_allowed > 0 {
        c.status == "True" && c.reason == SUFFICIENT
    } else {
        c.status == "False" && c.reason == INSUFFICIENT
    }
}

impl DisruptionController {
    fn pods_of(&self, pdb: &PodDisruptionBudget) -> Vec<Arc<Pod>> {
        let ns = pdb.namespace().unwrap_or_default();
        let Some(sel) = selector_of(pdb) else {
            return Vec::new();
        };
        self.pods
            .store()
            .state()
            .into_iter()
            .filter(|p| p.namespace().as_deref() == Some(ns.as_str()) && sel.matches(p.labels()))
            .collect()
    }

    /// The controller `owner` names and its scale, when it is one the controller knows and it
    /// still exists with that uid. A ReplicaSet of a Deployment counts as the Deployment.
    fn controller_scale(&self, owner: &OwnerReference, ns: &str) -> Option<(String, i32)> {
        let group = owner.api_version.split_once('/').map_or("", |(g, _)| g);
        let at = ObjectRef::new(&owner.name).within(ns);
        match (group, owner.kind.as_str()) {
            ("apps", "ReplicaSet") => {
                let rs = self
                    .replica_sets
                    .store()
                    .get(&ObjectRef::new(&owner.name).within(ns))
                    .filter(|rs| rs.uid().as_deref() == Some(owner.uid.as_str()))?;
                if let Some(dep_ref) = controller_of::<Deployment>(rs.as_ref()) {
                    let dep = self
                        .deployments
                        .store()
                        .get(&ObjectRef::new(&dep_ref.name).within(ns))
                        .filter(|d| d.uid().as_deref() == Some(dep_ref.uid.as_str()))?;
                    let replicas = dep.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
                    return Some((dep_ref.uid.clone(), replicas));
                }
                let replicas = rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
                Some((owner.uid.clone(), replicas))
            }
            ("apps", "StatefulSet") => {
                let ss = self
                    .stateful_sets
                    .store()
                    .get(&at)
                    .filter(|s| s.uid().as_deref() == Some(owner.uid.as_str()))?;
                Some((
                    owner.uid.clone(),
                    ss.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                ))
            }
            ("", "ReplicationController") => {
                let rc = self
                    .rcs
                    .store()
                    .get(&ObjectRef::<ReplicationController>::new(&owner.name).within(ns))
                    .filter(|r| r.uid().as_deref() == Some(owner.uid.as_str()))?;
                Some((
                    owner.uid.clone(),
                    rc.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                ))
            }
            _ => None,
        }
    }

    /// The pods' controllers' scales summed, and the pods no controller owns.
    fn expected_scale(&self, pods: &[Arc<Pod>]) -> Result<(i32, Vec<String>), String> {
        let mut scales: HashMap<String, i32> = HashMap::new();
        let mut unmanaged = Vec::new();
        for pod in pods {
            let Some(owner) = pod
                .owner_references()
                .iter()
                .find(|o| o.controller == Some(true))
            else {
                unmanaged.push(pod.name_any());
                continue;
            };
            if scales.contains_key(&owner.uid) {
                continue;
            }
            let ns = pod.namespace().unwrap_or_default();
            match self.controller_scale(owner, &ns) {
                Some((uid, scale)) => {
                    scales.insert(uid, scale);
                }
                None => return Err(format!("found no controllers for pod {:?}", pod.name_any())),
            }
        }
        Ok((scales.values().sum(), unmanaged))
    }

    /// (expectedPods, desiredHealthy, unmanaged pods).
    fn expected_count(
        &self,
        pdb: &PodDisruptionBudget,
        pods: &[Arc<Pod>],
    ) -> Result<(i32, i32, Vec<String>), String> {
        let spec = pdb.spec.as_ref();
        if let Some(max) = spec.and_then(|s| s.max_unavailable.as_ref()) {
            let (expected, unmanaged) = self.expected_scale(pods)?;
            let max = scaled(max, expected)?;
            return Ok((expected, (expected - max).max(0), unmanaged));
        }
        match spec.and_then(|s| s.min_available.as_ref()) {
            Some(IntOrString::Int(min)) => Ok((
                i32::try_from(pods.len()).unwrap_or(i32::MAX),
                *min,
                Vec::new(),
            )),
            Some(min) => {
                let (expected, unmanaged) = self.expected_scale(pods)?;
                Ok((expected, scaled(min, expected)?, unmanaged))
            }
            None => Ok((0, 0, Vec::new())),
        }
    }

    async fn sync(&self, key: &str) -> Result<(), ControllerError> {
        let Some((ns, name)) = key.split_once('/') else {
            return Ok(());
        };
        let Some(pdb) = self.budgets.store().get(&ObjectRef::new(name).within(ns)) else {
            return Ok(());
        };
        match self.try_sync(&pdb).await {
            Ok(()) => Ok(()),
            Err(SyncError::Api(e)) => Err(e),
            Err(SyncError::Failed(why)) => {
                // Upstream's failSafe: no disruptions while the budget cannot be worked out.
                let mut failed = pdb.as_ref().clone();
                let mut status = failed.status.clone().unwrap_or_default();
                status.disruptions_allowed = 0;
                let mut conditions = status.conditions.take().unwrap_or_default();
                let generation = status.observed_generation;
                set_condition(
                    &mut conditions,
                    "False",
                    SYNC_FAILED,
                    why,
                    generation,
                    Timestamp::now(),
                );
                status.conditions = Some(conditions);
                failed.status = Some(status);
                self.write(&failed).await
            }
        }
    }

    async fn try_sync(&self, pdb: &PodDisruptionBudget) -> Result<(), SyncError> {
        let pods = self.pods_of(pdb);
        if pods.is_empty() {
            self.events
                .normal(pdb, "NoPods", "No matching pods found".into())
                .await;
        }
        let (expected, desired, unmanaged) = match self.expected_count(pdb, &pods) {
            Ok(v) => v,
            Err(why) => {
                self.events
                    .warning(
                        pdb,
                        "CalculateExpectedPodCountFailed",
                        format!("Failed to calculate the number of expected pods: {why}"),
                    )
                    .await;
                return Err(SyncError::Failed(why));
            }
        };
        if !unmanaged.is_empty() {
            let selector = pdb
                .spec
                .as_ref()
                .and_then(|s| s.selector.as_ref())
                .and_then(|s| Selector::try_from(s.clone()).ok())
                .map(|s| s.to_string())
                .unwrap_or_default();
            self.events.warning(pdb, "UnmanagedPods", format!("Pods selected by this PodDisruptionBudget (selector: {selector}) were found to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, which may result in undefined behavior. To account for these pods please set \".spec.minAvailable\" field of the PDB to an integer value.")).await;
        }
        let now = Timestamp::now();
        let (disrupted, recheck) = self.disrupted_pods(pdb, &pods, now).await;
        let healthy = pods
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .filter(|p| !disrupted.contains_key(&p.name_any()))
            .filter(|p| is_ready(p))
            .count();
        let healthy = i32::try_from(healthy).unwrap_or(i32::MAX);
        // A budget matching no pods yet stays safe until its first pods are counted.
        let allowed = if expected <= 0 {
            0
        } else {
            (healthy - desired).max(0)
        };
        let current = pdb.status.clone().unwrap_or_default();
        let same = current.current_healthy == healthy
            && current.desired_healthy == desired
            && current.expected_pods == expected
            && current.disruptions_allowed == allowed
            && current.disrupted_pods.clone().unwrap_or_default() == disrupted
            && current.observed_generation == pdb.metadata.generation
            && condition_up_to_date(pdb);
        if !same {
            let mut conditions = current.conditions.clone().unwrap_or_default();
            let (status, reason) = if allowed > 0 {
                ("True", SUFFICIENT)
            } else {
                ("False", INSUFFICIENT)
            };
            set_condition(
                &mut conditions,
                status,
                reason,
                String::new(),
                pdb.metadata.generation,
                now,
            );
            let mut updated = pdb.clone();
            updated.status = Some(PodDisruptionBudgetStatus {
                current_healthy: healthy,
                desired_healthy: desired,
                expected_pods: expected,
                disruptions_allowed: allowed,
                disrupted_pods: (!disrupted.is_empty()).then_some(disrupted),
                observed_generation: pdb.metadata.generation,
                conditions: Some(conditions),
            });
            self.write(&updated).await.map_err(SyncError::Api)?;
        }
        if let Some(wait) = recheck {
            self.queue.add_after(
                key_of(&pdb.namespace().unwrap_or_default(), &pdb.name_any()),
                wait,
            );
        }
        Ok(())
    }

    /// The budget's `disruptedPods` still pending (the pod exists, is not terminating, and its
    /// two minutes are not up), and when the first of them runs out.
    async fn disrupted_pods(
        &self,
        pdb: &PodDisruptionBudget,
        pods: &[Arc<Pod>],
        now: Timestamp,
    ) -> (BTreeMap<String, Time>, Option<Duration>) {
        let mut kept = BTreeMap::new();
        let mut recheck: Option<i64> = None;
        let Some(recorded) = pdb.status.as_ref().and_then(|s| s.disrupted_pods.as_ref()) else {
            return (kept, None);
        };
        for pod in pods {
            if pod.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let Some(at) = recorded.get(&pod.name_any()) else {
                continue;
            };
            let left = at.0.as_second() + DELETION_TIMEOUT - now.as_second();
            if left < 0 {
                let message = format!(
                    "Pod was expected by PDB {}/{} to be deleted but it wasn't",
                    pdb.namespace().unwrap_or_default(),
                    pdb.name_any()
                );
                self.events
                    .warning(pod.as_ref(), "NotDeleted", message)
                    .await;
            } else {
                recheck = Some(recheck.map_or(left, |r| r.min(left)));
                kept.insert(pod.name_any(), at.clone());
            }
        }
        let wait = recheck.map(|s| Duration::from_secs(u64::try_from(s).unwrap_or(0) + 1));
        (kept, wait)
    }

    /// Writes the budget's status with its resourceVersion: a conflict (an eviction decremented
    /// it meanwhile) is retried from the fresh cache.
    async fn write(&self, pdb: &PodDisruptionBudget) -> Result<(), ControllerError> {
        let api: Api<PodDisruptionBudget> =
            Api::namespaced(self.client.clone(), &pdb.namespace().unwrap_or_default());
        match api
            .replace_status(&pdb.name_any(), &PostParams::default(), pdb)
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Turns a stale `DisruptionTarget` condition False (the pod was not deleted after all).
    async fn clear_stale_condition(
        &self,
        key: &str,
        again: &Arc<WorkQueue<String>>,
    ) -> Result<(), ControllerError> {
        let Some((ns, name)) = key.split_once('/') else {
            return Ok(());
        };
        let Some(pod) = self.pods.store().get(&ObjectRef::new(name).within(ns)) else {
            return Ok(());
        };
        let now = Timestamp::now();
        let Some(wait) = stale_condition_in(&pod, now) else {
            return Ok(());
        };
        if !wait.is_zero() {
            again.add_after(key.to_string(), wait);
            return Ok(());
        }
        let api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let patch = json!({
            "metadata": {"resourceVersion": pod.resource_version()},
            "status": {"conditions": [{
                "type": "DisruptionTarget",
                "status": "False",
                "lastTransitionTime": Time(now),
            }]},
        });
        match api
            .patch_status(name, &PatchParams::default(), &Patch::Strategic(patch))
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// Why a budget's sync stopped.
enum SyncError {
    /// A request failed (retried).
    Api(ControllerError),
    /// The budget cannot be worked out (reported as SyncFailed).
    Failed(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_round_up() {
        assert_eq!(scaled(&IntOrString::String("50%".into()), 3), Ok(2));
        assert_eq!(scaled(&IntOrString::String("100%".into()), 3), Ok(3));
        assert_eq!(scaled(&IntOrString::String("0%".into()), 3), Ok(0));
        assert_eq!(scaled(&IntOrString::Int(2), 7), Ok(2));
        assert!(scaled(&IntOrString::String("half".into()), 3).is_err());
    }

    #[test]
    fn the_condition_moves_its_time_only_on_a_change_of_status() {
        let t0 = Timestamp::from_second(1_000).unwrap_or_default();
        let t1 = Timestamp::from_second(2_000).unwrap_or_default();
        let mut c = Vec::new();
        set_condition(&mut c, "True", SUFFICIENT, String::new(), Some(1), t0);
        set_condition(&mut c, "True", SUFFICIENT, String::new(), Some(2), t1);
        assert_eq!(c[0].last_transition_time, Time(t0));
        assert_eq!(c[0].observed_generation, Some(2));
        set_condition(&mut c, "False", INSUFFICIENT, String::new(), Some(2), t1);
        assert_eq!(c[0].last_transition_time, Time(t1));
        assert_eq!(c.len(), 1);
    }
}
