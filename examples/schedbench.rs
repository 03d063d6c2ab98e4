//! The scheduler end to end against running replicas (bench/scheduler.sh):
//!   nodes  create --nodes Ready Nodes in 3 zones (4 cpu, 16Gi, 110 pods each)
//!   pods   create --pods pending pods (100m, 128Mi) in --namespace; --shape spread gives each
//!          of 500 apps required hostname anti-affinity and a zone spread (maxSkew 1)
//!   bind   bind every pending pod of --namespace through `pods/binding` with --concurrency
//!          clients, round-robin over the nodes: the raw binding write rate
//!   wait   watch --namespace until --pods pods are bound: pods bound per second from the
//!          first bind to the last (the scheduler must be running)
//! Prints one JSON line per run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use futures_util::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Binding, Namespace, Node, ObjectReference, Pod};
use kube::api::{
    Api, ListParams, ObjectMeta, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::json;

#[derive(Parser)]
struct Args {
    /// Kubeconfigs, one per replica; clients are spread over them.
    #[arg(long, value_delimiter = ',', required = true)]
    kubeconfig: Vec<String>,
    /// nodes | pods | bind | wait
    #[arg(long)]
    scenario: String,
    #[arg(long, default_value_t = 5_000)]
    nodes: usize,
    #[arg(long, default_value_t = 10_000)]
    pods: usize,
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    #[arg(long, default_value = "sched")]
    namespace: String,
    #[arg(long, default_value = "")]
    label: String,
    /// plain | spread (the pods' placement rules)
    #[arg(long, default_value = "plain")]
    shape: String,
}

async fn client(path: &str) -> kube::Client {
    let kc = Kubeconfig::read_from(path).expect("kubeconfig");
    let cfg = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("config");
    kube::Client::try_from(cfg).expect("client")
}

/// Runs `n` jobs over `concurrency` tasks, job `i` on client `i % clients`.
async fn spread<F, Fut>(clients: &[kube::Client], n: usize, concurrency: usize, job: F)
where
    F: Fn(kube::Client, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let job = Arc::new(job);
    let mut tasks = Vec::new();
    for t in 0..concurrency {
        let (next, job) = (next.clone(), job.clone());
        let c = clients[t % clients.len()].clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return;
                }
                job(c.clone(), i).await;
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
}

fn node(i: usize) -> Node {
    let name = format!("bench-node-{i}");
    serde_json::from_value(json!({"metadata": {"name": name, "labels": {
        "kubernetes.io/hostname": name, "topology.kubernetes.io/zone": format!("zone-{}", i % 3)}}}))
    .expect("node")
}

fn pod(i: usize, shape: &str) -> Pod {
    let app = format!("app-{}", i % 500);
    let mut spec = json!({"containers": [{"name": "c", "image": "registry.example.com/team/service:1.2.3",
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]});
    if shape == "spread" {
        spec["affinity"] = json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": "kubernetes.io/hostname"}]}});
        spec["topologySpreadConstraints"] = json!([{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": app}}}]);
    }
    serde_json::from_value(
        json!({"metadata": {"name": format!("pod-{i}"), "labels": {"app": app}},
        "spec": spec}),
    )
    .expect("pod")
}

async fn ensure_namespace(c: &kube::Client, ns: &str) {
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": ns}})).expect("ns");
    let _ = Api::<Namespace>::all(c.clone())
        .create(&PostParams::default(), &ns)
        .await;
}

#[tokio::main]
async fn main() {
    let a = Args::parse();
    let mut clients = Vec::new();
    for k in &a.kubeconfig {
        clients.push(client(k).await);
    }
    let started = Instant::now();
    let result = match a.scenario.as_str() {
        "nodes" => {
            spread(&clients, a.nodes, a.concurrency, |c, i| async move {
                let api: Api<Node> = Api::all(c);
                let n = node(i);
                let name = n.metadata.name.clone().unwrap_or_default();
                let _ = api.create(&PostParams::default(), &n).await;
                let status = json!({"status": {
                    "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"},
                    "allocatable": {"cpu": "4", "memory": "16Gi", "pods": "110"},
                    "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                        "lastHeartbeatTime": k8s_openapi::jiff::Timestamp::now().to_string(),
                        "lastTransitionTime": k8s_openapi::jiff::Timestamp::now().to_string()}]}});
                let _ = api
                    .patch_status(&name, &PatchParams::default(), &Patch::Merge(status))
                    .await;
            })
            .await;
            json!({"nodes": a.nodes, "nodes_per_s": (a.nodes as f64 / started.elapsed().as_secs_f64()).round()})
        }
        "pods" => {
            ensure_namespace(&clients[0], &a.namespace).await;
            let (ns, shape) = (a.namespace.clone(), a.shape.clone());
            spread(&clients, a.pods, a.concurrency, move |c, i| {
                let (ns, shape) = (ns.clone(), shape.clone());
                async move {
                    let api: Api<Pod> = Api::namespaced(c, &ns);
                    if let Err(e) = api.create(&PostParams::default(), &pod(i, &shape)).await {
                        eprintln!("create pod-{i}: {e}");
                    }
                }
            })
            .await;
            json!({"pods": a.pods, "creates_per_s": (a.pods as f64 / started.elapsed().as_secs_f64()).round()})
        }
        "bind" => {
            let api: Api<Pod> = Api::namespaced(clients[0].clone(), &a.namespace);
            let pending: Vec<String> = api
                .list(&ListParams::default())
                .await
                .expect("list")
                .items
                .into_iter()
                .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_none())
                .filter_map(|p| p.metadata.name)
                .collect();
            let nodes = a.nodes;
            let n = pending.len();
            let pending = Arc::new(pending);
            let ns = a.namespace.clone();
            let t0 = Instant::now();
            spread(&clients, n, a.concurrency, move |c, i| {
                let (pending, ns) = (pending.clone(), ns.clone());
                async move {
                    let api: Api<Pod> = Api::namespaced(c, &ns);
                    let binding = Binding {
                        metadata: ObjectMeta {
                            name: Some(pending[i].clone()),
                            ..ObjectMeta::default()
                        },
                        target: ObjectReference {
                            kind: Some("Node".into()),
                            name: Some(format!("bench-node-{}", i % nodes)),
                            ..ObjectReference::default()
                        },
                    };
                    let r: Result<serde_json::Value, _> = api
                        .create_subresource(
                            "binding",
                            &pending[i],
                            &PostParams::default(),
                            &binding,
                        )
                        .await;
                    if let Err(e) = r {
                        eprintln!("bind {}: {e}", pending[i]);
                    }
                }
            })
            .await;
            json!({"binds": n, "binds_per_s": (n as f64 / t0.elapsed().as_secs_f64()).round()})
        }
        "wait" => {
            let api: Api<Pod> = Api::namespaced(clients[0].clone(), &a.namespace);
            let list = api.list(&ListParams::default()).await.expect("list");
            let mut bound: std::collections::HashSet<String> = list
                .items
                .iter()
                .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some())
                .filter_map(|p| p.metadata.name.clone())
                .collect();
            let already = bound.len();
            let rv = list.metadata.resource_version.unwrap_or_default();
            let mut first: Option<Instant> = None;
            let mut last = Instant::now();
            // Binds per half second from the first: a slow start or tail shows here.
            let mut timeline: Vec<u32> = Vec::new();
            let mut stream = api
                .watch(&WatchParams::default().timeout(290), &rv)
                .await
                .expect("watch")
                .boxed();
            while bound.len() < a.pods {
                match stream.try_next().await {
                    Ok(Some(WatchEvent::Modified(p))) | Ok(Some(WatchEvent::Added(p))) => {
                        if p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some()
                            && bound.insert(p.metadata.name.unwrap_or_default())
                        {
                            let now = Instant::now();
                            let since = now.duration_since(*first.get_or_insert(now));
                            let slot = (since.as_millis() / 500) as usize;
                            if timeline.len() <= slot {
                                timeline.resize(slot + 1, 0);
                            }
                            timeline[slot] += 1;
                            last = now;
                        }
                    }
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => break,
                }
            }
            let first = first.unwrap_or(last);
            let span = last.duration_since(first).as_secs_f64().max(1e-9);
            let counted = bound.len() - already;
            json!({"bound": bound.len(), "bound_during_watch": counted,
                   "binds_per_s": ((counted.saturating_sub(1)) as f64 / span).round(),
                   "first_to_last_s": (span * 1000.0).round() / 1000.0,
                   "binds_per_half_second": timeline})
        }
        other => panic!("unknown scenario {other}"),
    };
    println!(
        "{}",
        json!({"scenario": format!("sched-{}", a.scenario), "label": a.label, "result": result})
    );
}
