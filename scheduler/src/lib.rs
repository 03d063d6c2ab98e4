//! capstan's scheduler: kube-scheduler's scheduling framework — the queue, the cache with
//! assumed pods, profiles of plugins at each extension point, preemption — run on the raft
//! leader for one term. Like the controller manager it is a plain Kubernetes API client: the
//! caller hands it a `kube::Client` (in the server, an in-process client as
//! `system:kube-scheduler` over the store fenced at the term, so a deposed leader's bindings
//! change nothing). It must not depend on the store, raft or the API server's internals
//! (`scripts/check-deps.sh` checks); it shares client-go's parts (informers, events) with the
//! controllers crate.

pub mod binder;
pub mod cache;
pub mod config;
pub mod config_file;
pub mod event_queue;
pub mod extender;
pub mod extender_cycle;
pub mod fit_error;
pub mod framework;
pub mod metrics;
pub mod node_info;
pub mod nominator;
pub mod plugin_args;
pub mod plugins;
pub mod pod_condition;
pub mod pod_info;
pub mod preemption;
pub mod profile;
pub mod quantity;
pub mod queue;
pub mod resources;
pub mod scheduler;
pub mod snapshot;

pub use config::{ConfigError, SchedulerConfig};

use kube::Client;
use tokio_util::sync::CancellationToken;

/// Runs the scheduler with `config` through `client` until `ended` is cancelled. The
/// configuration was checked at start (`SchedulerConfig::build`), so an error here is logged.
/// Bindings run on `binding` (by default the caller's runtime): a server that keeps its
/// informers on a runtime of their own binds where its requests are served, so a burst of
/// decoding does not hold bindings up.
pub async fn run(
    client: Client,
    config: SchedulerConfig,
    ended: CancellationToken,
    binding: Option<tokio::runtime::Handle>,
) {
    let binding = binding.unwrap_or_else(tokio::runtime::Handle::current);
    match config.build() {
        Ok(profiles) => scheduler::run(client, profiles, &config, ended, binding).await,
        Err(e) => tracing::error!(error = %e, "scheduler configuration is invalid"),
    }
}
