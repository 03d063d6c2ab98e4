//! capstan's controller manager: the reconcile loops of kube-controller-manager, run on the raft
//! leader for one term. It is a plain Kubernetes API client — a `kube::Client` handed in by the
//! caller (in the server, an in-process client over the REST router built on the term's fenced
//! store, so a deposed leader's writes change nothing) — with shared informers (one watch per
//! resource type), client-go's rate-limited work queues, and one controller per module. It must
//! not depend on the store, raft or the API server's internals (`scripts/check-deps.sh` checks).

pub mod api_resources;
pub mod controller_revision;
pub mod cronjob;
pub mod deployment;
pub mod events;
pub mod expectations;
pub mod garbage_collector;
pub mod informers;
pub mod job;
pub mod namespace;
pub mod owners;
pub mod pod_state;
pub mod replicaset;
pub mod serviceaccount;
pub mod status_patch;
pub mod ttl_after_finished;
pub mod workqueue;

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
        }
    }
}

/// Every controller this manager knows, by kube-controller-manager's name.
pub const CONTROLLERS: &[&str] = &[
    "cronjob",
    "deployment",
    "garbage-collector",
    "job",
    "namespace",
    "replicaset",
    "serviceaccount",
    "ttl-after-finished",
];

impl ManagerConfig {
    /// Whether `name` runs, as kube-controller-manager reads `--controllers`: an explicit
    /// `-name` turns it off, an explicit `name` or `*` on.
    pub fn enabled(&self, name: &str) -> bool {
        let off = format!("-{name}");
        if self.controllers.contains(&off) {
            return false;
        }
        self.controllers.iter().any(|c| c == name || c == "*")
    }

    /// The names in `--controllers` that name no controller (an error at start).
    pub fn unknown(&self) -> Vec<String> {
        self.controllers
            .iter()
            .map(|c| c.trim_start_matches('-'))
            .filter(|c| *c != "*" && !CONTROLLERS.contains(c))
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
        controllers.push(tokio::spawn(replicaset::register(
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
    if config.enabled("garbage-collector") {
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
    for t in controllers.into_iter().chain(watches) {
        let _ = t.await;
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
    }
}
