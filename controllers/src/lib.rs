//! capstan's controller manager: the reconcile loops of kube-controller-manager, run on the raft
//! leader for one term. It is a plain Kubernetes API client — a `kube::Client` handed in by the
//! caller (in the server, an in-process client over the REST router built on the term's fenced
//! store, so a deposed leader's writes change nothing) — with shared informers (one watch per
//! resource type), client-go's rate-limited work queues, and one controller per module. It must
//! not depend on the store, raft or the API server's internals (`scripts/check-deps.sh` checks).

pub mod api_resources;
pub mod controller_revision;
pub mod cronjob;
pub mod daemonset;
pub mod deployment;
pub mod disruption;
pub mod endpoints;
pub mod endpointslice;
pub mod events;
pub mod expectations;
pub mod garbage_collector;
pub mod horizontal_pod_autoscaler;
pub mod informers;
pub mod job;
pub mod local_path_provisioner;
pub mod namespace;
pub mod node_ipam;
pub mod node_lifecycle;
pub mod node_matching;
pub mod owners;
pub mod persistentvolume_binder;
pub mod pod_state;
pub mod podgc;
pub mod replicaset;
pub mod resourcequota;
pub mod service_pods;
pub mod serviceaccount;
pub mod statefulset;
pub mod status_patch;
pub mod ttl_after_finished;
pub mod workqueue;
pub mod workqueue_metrics;

use std::time::Duration;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::ReplicationController;
use kube::Client;
use thiserror::Error;
use tokio_util::sync::CancellationToken;

/// What a reconcile can fail with (it is retried with back-off).
#[derive(Debug, Error)]
pub enum ControllerError {
    /// The API answered with an error, or could not be reached.
    #[error("API request failed: {0}")]
    Api(#[from] kube::Error),
    /// What the controller meant to write conflicts with what exists (retried).
    #[error("conflict: {0}")]
    Conflict(String),
}

/// Which controllers run and how many keys each processes at once (kube-controller-manager's
/// `--controllers` and `--concurrent-<name>-syncs`).
#[derive(Clone, Debug)]
pub struct ManagerConfig {
    /// `--controllers`: `*` (every controller on by default), names, and `-name` to turn one off.
    pub controllers: Vec<String>,
    /// `--concurrent-serviceaccount-token-syncs`' sibling for the serviceaccount controller.
    pub serviceaccount_workers: usize,
    /// `--concurrent-replicaset-syncs`.
    pub replicaset_workers: usize,
    /// `--concurrent-deployment-syncs`.
    pub deployment_workers: usize,
    /// `--concurrent-gc-syncs`.
    pub gc_workers: usize,
    /// `--concurrent-namespace-syncs`.
    pub namespace_workers: usize,
    /// `--concurrent-job-syncs`.
    pub job_workers: usize,
    /// `--concurrent-ttl-after-finished-syncs`.
    pub ttl_workers: usize,
    /// `--concurrent-cron-job-syncs`.
    pub cronjob_workers: usize,
    /// `--concurrent-endpoint-syncs`.
    pub endpoint_workers: usize,
    /// `--concurrent-service-endpoint-syncs` (the endpointslice controller).
    pub endpointslice_workers: usize,
    /// `--max-endpoints-per-slice`.
    pub max_endpoints_per_slice: usize,
    /// `--concurrent-statefulset-syncs`.
    pub statefulset_workers: usize,
    /// `--concurrent-daemonset-syncs`.
    pub daemonset_workers: usize,
    /// `--concurrent-rc-syncs` (the replicationcontroller controller).
    pub replicationcontroller_workers: usize,
    /// `--concurrent-resource-quota-syncs`.
    pub resourcequota_workers: usize,
    /// `--node-monitor-grace-period`: a node whose Lease and status are this old is Unknown.
    pub node_monitor_grace_period: Duration,
    /// `--node-monitor-period`: how often the node lifecycle controller looks at the nodes.
    pub node_monitor_period: Duration,
    /// `--cluster-cidr`: the pod network the node IPAM controller hands node ranges out of.
    pub cluster_cidr: String,
    /// `--node-cidr-mask-size`: the prefix length of each node's `spec.podCIDR`.
    pub node_cidr_mask_size: u8,
    /// `--terminated-pod-gc-threshold`: finished pods kept before the oldest are deleted.
    pub terminated_pod_gc_threshold: usize,
    /// `--horizontal-pod-autoscaler-sync-period`.
    pub hpa_sync_period: Duration,
}

impl Default for ManagerConfig {
    fn default() -> Self {
        ManagerConfig {
            controllers: vec!["*".into()],
            serviceaccount_workers: 1,
            replicaset_workers: 5,
            deployment_workers: 5,
            gc_workers: 20,
            namespace_workers: 10,
            job_workers: 5,
            ttl_workers: 5,
            cronjob_workers: 5,
            endpoint_workers: 5,
            endpointslice_workers: 5,
            max_endpoints_per_slice: 100,
            statefulset_workers: 5,
            daemonset_workers: 2,
            replicationcontroller_workers: 5,
            resourcequota_workers: 5,
            node_monitor_grace_period: Duration::from_secs(40),
            node_monitor_period: Duration::from_secs(5),
            cluster_cidr: "10.244.0.0/16".into(),
            node_cidr_mask_size: 24,
            terminated_pod_gc_threshold: 12_500,
            hpa_sync_period: Duration::from_secs(15),
        }
    }
}

/// How long a controller may take to stop once its term has ended.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Every controller this manager knows, by kube-controller-manager's name.
pub const CONTROLLERS: &[&str] = &[
    "cronjob",
    "daemonset",
    "deployment",
    "disruption",
    "endpoint",
    "endpointslice",
    "garbagecollector",
    "horizontalpodautoscaling",
    "job",
    "local-path-provisioner",
    "namespace",
    "nodeipam",
    "nodelifecycle",
    "persistentvolume-binder",
    "podgc",
    "replicaset",
    "replicationcontroller",
    "resourcequota",
    "serviceaccount",
    "statefulset",
    "ttl-after-finished",
];

/// kube-controller-manager's canonical names (`--controllers` takes either form).
const CANONICAL: &[(&str, &str)] = &[
    ("cronjob", "cronjob-controller"),
    ("daemonset", "daemonset-controller"),
    ("deployment", "deployment-controller"),
    ("disruption", "disruption-controller"),
    ("endpoint", "endpoints-controller"),
    ("endpointslice", "endpointslice-controller"),
    ("garbagecollector", "garbage-collector-controller"),
    (
        "horizontalpodautoscaling",
        "horizontal-pod-autoscaler-controller",
    ),
    ("job", "job-controller"),
    ("namespace", "namespace-controller"),
    ("nodeipam", "node-ipam-controller"),
    ("nodelifecycle", "node-lifecycle-controller"),
    (
        "persistentvolume-binder",
        "persistentvolume-binder-controller",
    ),
    ("podgc", "pod-garbage-collector-controller"),
    ("replicaset", "replicaset-controller"),
    ("replicationcontroller", "replicationcontroller-controller"),
    ("resourcequota", "resourcequota-controller"),
    ("serviceaccount", "serviceaccount-controller"),
    ("statefulset", "statefulset-controller"),
    ("ttl-after-finished", "ttl-after-finished-controller"),
];

/// The controller a `--controllers` entry names, in [`CONTROLLERS`]' form.
fn named(entry: &str) -> Option<&'static str> {
    CONTROLLERS
        .iter()
        .copied()
        .find(|c| *c == entry)
        .or_else(|| {
            CANONICAL
                .iter()
                .find(|(_, canonical)| *canonical == entry)
                .map(|(name, _)| *name)
        })
}

impl ManagerConfig {
    /// Whether `name` runs, as kube-controller-manager reads `--controllers`: an explicit
    /// `-name` turns it off, an explicit `name` or `*` on (either name form).
    pub fn enabled(&self, name: &str) -> bool {
        let names = |c: &String, off: bool| {
            let entry = if off {
                c.strip_prefix('-')
            } else {
                Some(c.as_str())
            };
            entry.and_then(named) == Some(name)
        };
        if self.controllers.iter().any(|c| names(c, true)) {
            return false;
        }
        self.controllers
            .iter()
            .any(|c| c == "*" || (!c.starts_with('-') && names(c, false)))
    }

    /// The names in `--controllers` that name no controller (an error at start).
    pub fn unknown(&self) -> Vec<String> {
        self.controllers
            .iter()
            .map(|c| c.trim_start_matches('-'))
            .filter(|c| *c != "*" && named(c).is_none())
            .map(String::from)
            .collect()
    }
}

/// Runs the enabled controllers through `client` until `ended` is cancelled, then returns once
/// every informer and worker has stopped.
pub async fn run(client: Client, config: ManagerConfig, ended: CancellationToken) {
    let informers = informers::Informers::new(client.clone());
    let mut controllers = Vec::new();
    if config.enabled("serviceaccount") {
        controllers.push(tokio::spawn(serviceaccount::register(
            client.clone(),
            &informers,
            config.serviceaccount_workers,
            ended.clone(),
        )));
    }
    if config.enabled("replicaset") {
        controllers.push(tokio::spawn(replicaset::register::<ReplicaSet>(
            client.clone(),
            &informers,
            config.replicaset_workers,
            ended.clone(),
        )));
    }
    if config.enabled("deployment") {
        controllers.push(tokio::spawn(deployment::register(
            client.clone(),
            &informers,
            config.deployment_workers,
            ended.clone(),
        )));
    }
    if config.enabled("namespace") {
        controllers.push(tokio::spawn(namespace::register(
            client.clone(),
            &informers,
            config.namespace_workers,
            ended.clone(),
        )));
    }
    if config.enabled("job") {
        controllers.push(tokio::spawn(job::register(
            client.clone(),
            &informers,
            config.job_workers,
            ended.clone(),
        )));
    }
    if config.enabled("cronjob") {
        controllers.push(tokio::spawn(cronjob::register(
            client.clone(),
            &informers,
            config.cronjob_workers,
            ended.clone(),
        )));
    }
    if config.enabled("ttl-after-finished") {
        controllers.push(tokio::spawn(ttl_after_finished::register(
            client.clone(),
            &informers,
            config.ttl_workers,
            ended.clone(),
        )));
    }
    if config.enabled("daemonset") {
        controllers.push(tokio::spawn(daemonset::register(
            client.clone(),
            &informers,
            &config,
            ended.clone(),
        )));
    }
    if config.enabled("disruption") {
        controllers.push(tokio::spawn(disruption::register(
            client.clone(),
            &informers,
            &config,
            ended.clone(),
        )));
    }
    if config.enabled("endpoint") {
        controllers.push(tokio::spawn(endpoints::register(
            client.clone(),
            &informers,
            &config,
            ended.clone(),
        )));
    }
    if config.enabled("endpointslice") {
        controllers.push(tokio::spawn(endpointslice::register(
            client.clone(),
            &informers,
            &config,
            ended.clone(),
        )));
    }
    if config.enabled("horizontalpodautoscaling") {
        controllers.push(tokio::spawn(horizontal_pod_autoscaler::register(
            client.clone(),
            &informers,
            &config,
            ended.clone(),
        )));
    }
    if config.enabled("local-path-provisioner") {
        controllers.push(tokio::spawn(local_path_provisioner::register(
            client.clone(),
            &informers,
            &config,
            ended.clone(),
        )));
    }
    if config.enabled("nodeipam") {
        controllers.push(tokio::spawn(node_ipam::register(
            client.clone(),
            &informers,
            &config,
            ended.clone(),
        )));
    }
    if config.enabled("nodelifecycle") {
        controllers.push(tokio::spawn(node_lifecycle::register(
            client.clone(),
            &informers,
            &config,
            ended.clone(),
        )));
    }
    if config.enabled("persistentvolume-binder") {
        controllers.push(tokio::spawn(persistentvolume_binder::register(
            client.clone(),
            &informers,
            &config,
            ended.clone(),
        )));
    }
    if config.enabled("podgc") {
        controllers.push(tokio::spawn(podgc::register(
            client.clone(),
            &informers,
            &config,
            ended.clone(),
        )));
    }
    if config.enabled("replicationcontroller") {
        controllers.push(tokio::spawn(replicaset::register::<ReplicationController>(
            client.clone(),
            &informers,
            config.replicationcontroller_workers,
            ended.clone(),
        )));
    }
    if config.enabled("resourcequota") {
        controllers.push(tokio::spawn(resourcequota::register(
            client.clone(),
            &informers,
            &config,
            ended.clone(),
        )));
    }
    if config.enabled("statefulset") {
        controllers.push(tokio::spawn(statefulset::register(
            client.clone(),
            &informers,
            &config,
            ended.clone(),
        )));
    }
    if config.enabled("garbagecollector") {
        controllers.push(tokio::spawn(garbage_collector::run(
            client.clone(),
            config.gc_workers,
            ended.clone(),
        )));
    }
    let watches = informers.start(&ended);
    tracing::info!(
        controllers = controllers.len(),
        "controller manager started"
    );
    ended.cancelled().await;
    // Every controller returns soon after the term ends; one that does not (a bug) is
    // aborted after a grace period rather than holding up the next term's manager. Whatever
    // it still writes is fenced by the ended term.
    let deadline = tokio::time::Instant::now() + STOP_GRACE;
    for mut t in controllers.into_iter().chain(watches) {
        if tokio::time::timeout_at(deadline, &mut t).await.is_err() {
            tracing::error!("a controller did not stop with its term; aborted");
            t.abort();
        }
    }
    tracing::info!("controller manager stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controllers_flag_reads_as_kube_controller_manager_reads_it() {
        let cfg = |v: &[&str]| ManagerConfig {
            controllers: v.iter().map(|s| s.to_string()).collect(),
            ..ManagerConfig::default()
        };
        assert!(cfg(&["*"]).enabled("serviceaccount"));
        assert!(!cfg(&["*", "-serviceaccount"]).enabled("serviceaccount"));
        assert!(cfg(&["serviceaccount"]).enabled("serviceaccount"));
        assert!(!cfg(&[]).enabled("serviceaccount"));
        assert_eq!(cfg(&["*", "-bogus", "nope"]).unknown(), ["bogus", "nope"]);
        // kube-controller-manager's canonical names work as well.
        assert!(!cfg(&["*", "-garbage-collector-controller"]).enabled("garbagecollector"));
        assert!(cfg(&["endpoints-controller"]).enabled("endpoint"));
        assert!(cfg(&["endpoints-controller"]).unknown().is_empty());
    }
}
