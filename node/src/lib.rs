//! capstan's node agent (`capstan node`): like the kubelet, a plain Kubernetes API client
//! that registers a Node, keeps its Lease and NodeStatus fresh, and runs the pods bound to it
//! through a runtime — host processes (`process`) or none at all (`sim`, many simulated nodes
//! in one process). It must not depend on the store, raft or the API server's internals
//! (`scripts/check-deps.sh` checks); it shares client-go's event recorder with the
//! controllers crate.

pub mod agent;
pub mod backoff;
pub mod config;
pub mod container_record;
pub mod cri_log;
pub mod env;
pub mod error;
pub mod images;
pub mod ip_pool;
pub mod kubelet_server;
pub mod lease;
pub mod log_reader;
pub mod machine;
pub mod node_context;
pub mod node_object;
pub mod node_status;
pub mod object_watch;
pub mod pod_index;
pub mod pod_status;
pub mod pod_worker;
pub mod probe;
pub mod registration;
pub mod resource_usage;
pub mod runtime;
pub mod streaming;
pub mod termination_message;
pub mod volumes;

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::runtime::watcher;
use kube::{Api, Client};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use config::{NodeConfig, RuntimeKind};
pub use error::NodeError;

use agent::Agent;
use machine::Machine;
use node_context::NodeContext;
use object_watch::Change;
use runtime::process::ProcessRuntime;
use runtime::sandbox::SandboxRuntime;
use runtime::sim::SimRuntime;
use runtime::Runtime;

/// How many nodes register at once (`--sim`).
const REGISTER_CONCURRENCY: usize = 32;

/// Whether `name` is a valid Node name (a DNS subdomain).
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// Runs the agent's nodes through `client` until `stop` is cancelled, then stops their pods
/// (or leaves them, per `config.stop_pods_on_exit`) and returns.
pub async fn run(
    client: Client,
    config: NodeConfig,
    stop: CancellationToken,
) -> Result<(), NodeError> {
    let names = config.node_names();
    if let Some(bad) = names.iter().find(|n| !valid_name(n)) {
        return Err(NodeError::Config(format!(
            "{bad:?} is not a valid node name (a DNS subdomain: lowercase letters, digits, '-' and '.')"
        )));
    }
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| NodeError::io(format!("creating {}", config.data_dir.display()), e))?;
    let machine = Arc::new(Machine::detect(&config.data_dir));
    let config = Arc::new(config);
    let nodes: Api<Node> = Api::all(client.clone());
    let stopping = CancellationToken::new();
    let heartbeats = CancellationToken::new();

    // The agent's endpoint first: the Node reports its port.
    let pods = Arc::new(pod_index::PodIndex::default());
    // A real node's one runtime, which its endpoint also reaches (exec, attach, port-forward).
    let images = match config.runtime {
        RuntimeKind::Sandbox => {
            let store = images::ImageStore::open(config.image_dir())
                .map_err(|e| NodeError::Config(format!("the image store: {e}")))?;
            let registries = images::Registries {
                rules: config.registries.clone(),
            };
            Some(Arc::new(images::ImageManager::new(store, registries)))
        }
        RuntimeKind::Process | RuntimeKind::Sim => None,
    };
    let host_runtime: Option<Arc<dyn Runtime>> = match config.runtime {
        RuntimeKind::Process => Some(Arc::new(ProcessRuntime::new(config.node_ip))),
        RuntimeKind::Sandbox => {
            let helper = match &config.helper {
                Some(h) => h.clone(),
                None => std::env::current_exe()
                    .map_err(|e| NodeError::io("locating the agent's own binary", e))?,
            };
            Some(Arc::new(SandboxRuntime::new(&config.name, helper)))
        }
        RuntimeKind::Sim => None,
    };
    let mut port = 0;
    let mut endpoint = None;
    if let Some(runtime) = &host_runtime {
        if config.client_ca.is_empty() {
            tracing::warn!("the kubeconfig names no CA: the agent's endpoint (logs) is not served");
        } else {
            let listener = tokio::net::TcpListener::bind((config.node_ip, config.port))
                .await
                .map_err(|e| {
                    NodeError::io(
                        format!("listening on {}:{}", config.node_ip, config.port),
                        e,
                    )
                })?;
            port = listener
                .local_addr()
                .map_err(|e| NodeError::io("reading the endpoint's address", e))?
                .port();
            let tls = kubelet_server::tls_config(
                vec![config.node_ip.to_string(), config.name.clone()],
                &config.client_ca,
            )?;
            let usage = Arc::new(resource_usage::UsageSampler::new(
                config.name.clone(),
                pods.clone(),
                runtime.clone(),
            ));
            tokio::spawn(usage.clone().run(heartbeats.clone()));
            let router = kubelet_server::router(kubelet_server::Served {
                pods: pods.clone(),
                runtime: runtime.clone(),
                usage,
            });
            endpoint = Some(tokio::spawn(kubelet_server::serve(
                listener,
                router,
                tls,
                heartbeats.clone(),
            )));
        }
    }

    // Registration, then each node's heartbeats.
    let registered: Vec<Result<Node, NodeError>> = futures_util::stream::iter(names)
        .map(|name| {
            let node = node_object::registration(&config, &machine, &name, port, Timestamp::now());
            let nodes = nodes.clone();
            async move { registration::register(&nodes, &node).await }
        })
        .buffer_unordered(REGISTER_CONCURRENCY)
        .collect()
        .await;
    let mut agents: HashMap<String, Arc<Agent>> = HashMap::new();
    let mut background = Vec::new();
    for node in registered {
        let node = node?;
        let name = node.metadata.name.clone().unwrap_or_default();
        let runtime: Arc<dyn Runtime> = match &host_runtime {
            Some(r) => r.clone(),
            None => Arc::new(SimRuntime::new()),
        };
        let cidr = node.spec.as_ref().and_then(|s| s.pod_cidr.clone());
        let (cidr_tx, cidr_rx) = watch::channel(cidr);
        let mut ctx = NodeContext::new(
            client.clone(),
            name.clone(),
            config.clone(),
            runtime,
            node_object::capacity(&config, &machine),
            cidr_rx,
            stopping.clone(),
            pods.clone(),
        );
        ctx.images = images.clone();
        let ctx = Arc::new(ctx);
        agents.insert(name.clone(), Arc::new(Agent::new(ctx, cidr_tx)));
        background.push(tokio::spawn(lease::run(
            client.clone(),
            node,
            config.lease_renew_interval,
            config.lease_duration_seconds,
            heartbeats.clone(),
        )));
        background.push(tokio::spawn(node_status::run(
            nodes.clone(),
            config.clone(),
            machine.clone(),
            images.clone(),
            name,
            port,
            heartbeats.clone(),
        )));
    }
    let agents = Arc::new(agents);
    tracing::info!(
        nodes = agents.len(),
        runtime = config.runtime.name(),
        "node agent registered"
    );

    // The pod CIDRs the nodeipam controller gives the nodes.
    let single = (config.sim == 0).then(|| config.name.clone());
    let node_watch = {
        let mut wc = watcher::Config::default();
        if let Some(n) = &single {
            wc = wc.fields(&format!("metadata.name={n}"));
        }
        let agents = agents.clone();
        tokio::spawn(object_watch::run(
            nodes.clone(),
            wc,
            heartbeats.clone(),
            move |c| {
                if let Change::Applied(node) = c {
                    let name = node.metadata.name.clone().unwrap_or_default();
                    if let Some(a) = agents.get(&name) {
                        let cidr = node.spec.and_then(|s| s.pod_cidr);
                        a.pod_cidr.send_if_modified(|cur| {
                            let changed = *cur != cidr;
                            *cur = cidr.clone();
                            changed
                        });
                    }
                }
            },
        ))
    };
    // The pods bound to the nodes.
    let pods_stop = CancellationToken::new();
    let pod_watch = {
        let mut wc = watcher::Config::default();
        if let Some(n) = &single {
            wc = wc.fields(&format!("spec.nodeName={n}"));
        }
        let agents = agents.clone();
        let uid_node: std::sync::Mutex<HashMap<String, String>> = Default::default();
        tokio::spawn(object_watch::run(
            Api::<Pod>::all(client.clone()),
            wc,
            pods_stop.clone(),
            move |c| {
                let mut by_uid = uid_node
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                match c {
                    Change::Applied(mut pod) => {
                        // Field ownership is not the agent's concern and about half a pod.
                        pod.metadata.managed_fields = None;
                        let node = pod.spec.as_ref().and_then(|s| s.node_name.clone());
                        let Some(agent) = node.as_ref().and_then(|n| agents.get(n)) else {
                            return;
                        };
                        let uid = pod.metadata.uid.clone().unwrap_or_default();
                        by_uid.insert(uid, node.unwrap_or_default());
                        agent.dispatch(Change::Applied(pod));
                    }
                    Change::Deleted { uid, name } => {
                        if let Some(agent) = by_uid.remove(&uid).and_then(|n| agents.get(&n)) {
                            agent.dispatch(Change::Deleted { uid, name });
                        }
                    }
                }
            },
        ))
    };

    stop.cancelled().await;
    tracing::info!("node agent stopping");
    pods_stop.cancel();
    let _ = pod_watch.await;
    stopping.cancel();
    futures_util::future::join_all(agents.values().map(|a| a.drain())).await;
    heartbeats.cancel();
    let _ = node_watch.await;
    futures_util::future::join_all(background).await;
    if let Some(e) = endpoint {
        let _ = e.await;
    }
    if let Some(runtime) = &host_runtime {
        runtime.shutdown().await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::valid_name;

    #[test]
    fn node_names_are_dns_subdomains() {
        assert!(valid_name("worker-1"));
        assert!(valid_name("a.b.c"));
        assert!(!valid_name(""));
        assert!(!valid_name("Worker"));
        assert!(!valid_name("-a"));
        assert!(!valid_name("a..b"));
    }
}
