//! The resourcequota controller (kube-controller-manager's `resourcequota`): keeps each
//! ResourceQuota's `status.hard` equal to its `spec.hard` and `status.used` equal to what the
//! namespace's objects use of those resources ([`usage`] counts it, in [`quantity`]'s exact
//! arithmetic). A quota is recalculated when it is created or its `spec.hard` changes, when an
//! object it counts is deleted or a pod finishes (upstream's replenishment: creates are
//! counted by the API server's quota admission as they happen), and on every full resync.
//! The status is written with the quota's resourceVersion, so a recalculation racing an
//! admission's increment is retried rather than overwriting it.

pub mod quantity;
pub mod usage;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolumeClaim, Pod, ReplicationController, ResourceQuota,
    ResourceQuotaStatus, Secret, Service,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as ApiQuantity;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DynamicObject, ListParams, PostParams};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Client, ResourceExt};
use serde::Serialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::informers::{Change, Informer, Informers, Object};
use crate::workqueue::{key_of, run_workers, WorkQueue};
use crate::{ControllerError, ManagerConfig};
use usage::Usage;

/// How often every quota is recalculated from scratch (`--resource-quota-sync-period`).
const RESYNC: Duration = Duration::from_secs(300);

struct QuotaController {
    client: Client,
    quotas: Arc<Informer<ResourceQuota>>,
    pods: Arc<Informer<Pod>>,
    services: Arc<Informer<Service>>,
    configmaps: Arc<Informer<ConfigMap>>,
    secrets: Arc<Informer<Secret>>,
    claims: Arc<Informer<PersistentVolumeClaim>>,
    rcs: Arc<Informer<ReplicationController>>,
}

/// Queues every quota of `ns`.
fn queue_namespace(quotas: &Informer<ResourceQuota>, queue: &WorkQueue<String>, ns: &str) {
    for q in quotas.store().state() {
        if q.namespace().as_deref() == Some(ns) {
            queue.add(key_of(ns, &q.name_any()));
        }
    }
}

/// Whether a quota's status does not yet reflect its spec (new, or `spec.hard` changed).
fn needs_calculation(q: &ResourceQuota) -> bool {
    let spec = canonical(q.spec.as_ref().and_then(|s| s.hard.as_ref()));
    let status = q.status.as_ref();
    let hard = canonical(status.and_then(|s| s.hard.as_ref()));
    let used = status.and_then(|s| s.used.as_ref());
    spec != hard || spec.keys().any(|k| used.is_none_or(|u| !u.contains_key(k)))
}

/// A resource list as quantities.
fn quantities(list: Option<&BTreeMap<String, ApiQuantity>>) -> Usage {
    let mut out = Usage::new();
    for (k, v) in list.into_iter().flatten() {
        if let Some(q) = quantity::Quantity::parse(&v.0) {
            out.insert(k.clone(), q);
        }
    }
    out
}

/// A resource list in canonical form (`1000m` is `1`).
fn canonical(list: Option<&BTreeMap<String, ApiQuantity>>) -> BTreeMap<String, String> {
    written(&quantities(list))
}

fn written(u: &Usage) -> BTreeMap<String, String> {
    u.iter().map(|(k, v)| (k.clone(), v.to_string())).collect()
}

/// Registers the controller's handlers; its workers run once the informers have synced.
pub fn register(
    client: Client,
    informers: &Informers,
    config: &ManagerConfig,
    ended: CancellationToken,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let workers = config.resourcequota_workers;
    let queue: Arc<WorkQueue<String>> = WorkQueue::new(ended.clone());
    let ctl = Arc::new(QuotaController {
        client,
        quotas: informers.get::<ResourceQuota>(),
        pods: informers.get::<Pod>(),
        services: informers.get::<Service>(),
        configmaps: informers.get::<ConfigMap>(),
        secrets: informers.get::<Secret>(),
        claims: informers.get::<PersistentVolumeClaim>(),
        rcs: informers.get::<ReplicationController>(),
    });
    let q = queue.clone();
    ctl.quotas.on_change(move |c| {
        if let Change::Applied(rq) = c {
            if needs_calculation(rq) {
                q.add(key_of(&rq.namespace().unwrap_or_default(), &rq.name_any()));
            }
        }
    });
    let (q, quotas) = (queue.clone(), ctl.quotas.clone());
    ctl.pods.on_change(move |c| {
        let (pod, replenish) = match c {
            Change::Deleted(p) => (p, true),
            // A pod that finished (or is going) stops counting its compute resources.
            Change::Applied(p) => (
                p,
                crate::pod_state::is_finished(p) || p.metadata.deletion_timestamp.is_some(),
            ),
        };
        if replenish {
            queue_namespace(&quotas, &q, &pod.namespace().unwrap_or_default());
        }
    });
    replenish_on_delete(&ctl.services, &ctl.quotas, &queue);
    replenish_on_delete(&ctl.configmaps, &ctl.quotas, &queue);
    replenish_on_delete(&ctl.secrets, &ctl.quotas, &queue);
    replenish_on_delete(&ctl.claims, &ctl.quotas, &queue);
    replenish_on_delete(&ctl.rcs, &ctl.quotas, &queue);
    async move {
        tokio::join!(
            ctl.quotas.synced(),
            ctl.pods.synced(),
            ctl.services.synced(),
            ctl.configmaps.synced(),
            ctl.secrets.synced(),
            ctl.claims.synced(),
            ctl.rcs.synced(),
        );
        let resync = {
            let (ctl, queue, ended) = (ctl.clone(), queue.clone(), ended.clone());
            async move {
                loop {
                    for rq in ctl.quotas.store().state() {
                        queue.add(key_of(&rq.namespace().unwrap_or_default(), &rq.name_any()));
                    }
                    tokio::select! {
                        _ = ended.cancelled() => return,
                        _ = tokio::time::sleep(RESYNC) => {}
                    }
                }
            }
        };
        let work = run_workers(queue, workers, "resourcequota", move |key: String| {
            let ctl = ctl.clone();
            async move { ctl.sync(&key).await }
        });
        tokio::join!(resync, work);
    }
}

/// Queues a namespace's quotas when one of its `K` objects is deleted.
fn replenish_on_delete<K: Object>(
    informer: &Informer<K>,
    quotas: &Arc<Informer<ResourceQuota>>,
    queue: &Arc<WorkQueue<String>>,
) {
    let (q, quotas) = (queue.clone(), quotas.clone());
    informer.on_change(move |c| {
        if let Change::Deleted(o) = c {
            queue_namespace(&quotas, &q, &o.namespace().unwrap_or_default());
        }
    });
}

/// Whether a pod has been terminating for longer than its grace period.
fn past_grace(pod: &Pod, now: Timestamp) -> bool {
    let (Some(at), Some(grace)) = (
        pod.metadata.deletion_timestamp.as_ref(),
        pod.metadata.deletion_grace_period_seconds,
    ) else {
        return false;
    };
    now.duration_since(at.0).as_secs() > grace
}

/// The kinds counted from the caches, as (group, plural).
const CACHED: &[&str] = &[
    "pods",
    "services",
    "configmaps",
    "secrets",
    "persistentvolumeclaims",
    "replicationcontrollers",
    "resourcequotas",
];

/// `count/<plural>.<group>` read back as (group, plural).
fn counted_kind(name: &str) -> Option<(String, String)> {
    let rest = name.strip_prefix("count/")?;
    Some(match rest.split_once('.') {
        Some((plural, group)) => (group.to_string(), plural.to_string()),
        None => (String::new(), rest.to_string()),
    })
}

impl QuotaController {
    /// The JSON of every cached `K` in `ns`.
    fn objects_in<K: Object + Serialize>(informer: &Informer<K>, ns: &str) -> Vec<Value> {
        informer
            .store()
            .state()
            .iter()
            .filter(|o| o.namespace().as_deref() == Some(ns))
            .filter_map(|o| serde_json::to_value(o.as_ref()).ok())
            .collect()
    }

    /// The namespace's objects of a cached kind, with whether each is a pod past its grace.
    fn cached(&self, plural: &str, ns: &str, now: Timestamp) -> Vec<(Value, bool)> {
        let plain = |v: Vec<Value>| v.into_iter().map(|o| (o, false)).collect();
        match plural {
            "pods" => self
                .pods
                .store()
                .state()
                .iter()
                .filter(|p| p.namespace().as_deref() == Some(ns))
                .filter_map(|p| {
                    let late = past_grace(p, now);
                    serde_json::to_value(p.as_ref()).ok().map(|v| (v, late))
                })
                .collect(),
            "services" => plain(Self::objects_in(&self.services, ns)),
            "configmaps" => plain(Self::objects_in(&self.configmaps, ns)),
            "secrets" => plain(Self::objects_in(&self.secrets, ns)),
            "persistentvolumeclaims" => plain(Self::objects_in(&self.claims, ns)),
            "replicationcontrollers" => plain(Self::objects_in(&self.rcs, ns)),
            "resourcequotas" => plain(Self::objects_in(&self.quotas, ns)),
            _ => Vec::new(),
        }
    }

    /// The namespace's objects of a kind no cache holds, listed through discovery.
    async fn listed(
        &self,
        group: &str,
        plural: &str,
        ns: &str,
    ) -> Result<Vec<Value>, ControllerError> {
        let found = crate::api_resources::discover(&self.client)
            .await?
            .into_iter()
            .find(|(ar, caps)| {
                ar.group == group
                    && ar.plural == plural
                    && matches!(caps.scope, kube::discovery::Scope::Namespaced)
            });
        let Some((ar, _)) = found else {
            return Err(ControllerError::Conflict(format!(
                "no namespaced resource {plural} in group {group:?} is served"
            )));
        };
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), ns, &ar);
        let list = api.list(&ListParams::default()).await?;
        Ok(list
            .items
            .iter()
            .filter_map(|o| serde_json::to_value(o).ok())
            .collect())
    }

    async fn sync(&self, key: &str) -> Result<(), ControllerError> {
        let Some((ns, name)) = key.split_once('/') else {
            return Ok(());
        };
        let Some(rq) = self.quotas.store().get(&ObjectRef::new(name).within(ns)) else {
            return Ok(());
        };
        let hard = quantities(rq.spec.as_ref().and_then(|s| s.hard.as_ref()));
        let names: BTreeSet<String> = hard.keys().cloned().collect();
        let quota_json = serde_json::to_value(rq.as_ref()).unwrap_or(Value::Null);
        let scopes = usage::scopes_of(&quota_json);
        let now = Timestamp::now();
        // Every kind whose evaluator counts one of the quota's resources.
        let mut kinds: BTreeSet<(String, String)> = CACHED
            .iter()
            .map(|p| (String::new(), (*p).to_string()))
            .collect();
        kinds.extend(names.iter().filter_map(|n| counted_kind(n)));
        let mut observed = Usage::new();
        let mut matched = BTreeSet::new();
        for (group, plural) in &kinds {
            let covered = usage::matching_resources(group, plural, &names);
            if covered.is_empty() {
                continue;
            }
            let objects = if group.is_empty() && CACHED.contains(&plural.as_str()) {
                self.cached(plural, ns, now)
            } else {
                match self.listed(group, plural, ns).await {
                    Ok(objs) => objs.into_iter().map(|o| (o, false)).collect(),
                    Err(e) => {
                        // Upstream leaves a resource it cannot count at its last value.
                        tracing::debug!(quota = %key, kind = %plural, error = %e, "cannot count");
                        continue;
                    }
                }
            };
            let mut stats: Usage = covered
                .iter()
                .map(|n| (n.clone(), quantity::Quantity::zero()))
                .collect();
            for (obj, late) in &objects {
                if usage::scopes_match(&scopes, group, plural, obj) {
                    stats = usage::add(&stats, &usage::usage_of(group, plural, obj, *late));
                }
            }
            observed = usage::add(&observed, &stats);
            matched.extend(covered);
        }
        let mut used = quantities(rq.status.as_ref().and_then(|s| s.used.as_ref()));
        used.extend(usage::mask(&observed, &matched));
        let used = usage::mask(&used, &names);
        let status = rq.status.as_ref();
        let unchanged = canonical(status.and_then(|s| s.hard.as_ref())) == written(&hard)
            && status
                .and_then(|s| s.used.as_ref())
                .map(|u| canonical(Some(u)))
                == Some(written(&used));
        if unchanged {
            return Ok(());
        }
        let as_list = |u: &Usage| -> BTreeMap<String, ApiQuantity> {
            u.iter()
                .map(|(k, v)| (k.clone(), ApiQuantity(v.to_string())))
                .collect()
        };
        let mut updated = rq.as_ref().clone();
        updated.status = Some(ResourceQuotaStatus {
            hard: Some(as_list(&hard)),
            used: Some(as_list(&used)),
        });
        let api: Api<ResourceQuota> = Api::namespaced(self.client.clone(), ns);
        match api
            .replace_status(name, &PostParams::default(), &updated)
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
