//! Benchmarks of the Kubernetes API through real clients (kube-rs over HTTPS), run by
//! `bench/kube.sh`: pod creates per second with 32 concurrent clients, get and list latency
//! (JSON and Table) with many pods stored, and watch fan-out to 100 watchers. Prints one JSON
//! line per scenario.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use futures_util::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::json;

#[derive(Parser)]
struct Args {
    /// Kubeconfigs, one per replica (clients are spread over them).
    #[arg(long, value_delimiter = ',', required = true)]
    kubeconfig: Vec<String>,
    /// creates | fill | read | watch
    #[arg(long)]
    scenario: String,
    /// Pods to create.
    #[arg(long, default_value_t = 10_000)]
    pods: usize,
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// The namespace (created if missing).
    #[arg(long, default_value = "bench")]
    namespace: String,
    /// Samples of each read.
    #[arg(long, default_value_t = 20)]
    samples: usize,
    #[arg(long, default_value_t = 100)]
    watchers: usize,
    /// A label on the run (printed with the results).
    #[arg(long, default_value = "")]
    label: String,
}

async fn client(path: &str) -> kube::Client {
    let kc = Kubeconfig::read_from(path).unwrap();
    let cfg = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .unwrap();
    kube::Client::try_from(cfg).unwrap()
}

/// A pod of about 1 KiB of JSON.
fn pod(name: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": "bench", "tier": "backend", "track": "stable"},
            "annotations": {"bench/padding": "x".repeat(420)}},
        "spec": {"containers": [{"name": "main", "image": "registry.example.com/team/service:1.2.3",
            "command": ["/bin/service", "--port=8080"], "ports": [{"containerPort": 8080, "name": "http"}],
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]}
    }))
    .unwrap()
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn summary(mut lat: Vec<Duration>) -> serde_json::Value {
    lat.sort();
    json!({"n": lat.len(), "p50_ms": percentile(&lat, 0.5), "p99_ms": percentile(&lat, 0.99), "max_ms": percentile(&lat, 1.0)})
}

async fn ensure_namespace(c: &kube::Client, ns: &str) {
    let nss: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(c.clone());
    let _ = nss
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap(),
        )
        .await;
}

async fn creates(clients: &[kube::Client], a: &Args, prefix: &str) -> serde_json::Value {
    let started = Instant::now();
    let lat: Vec<Duration> = futures_util::stream::iter(0..a.pods)
        .map(|i| {
            let api: Api<Pod> = Api::namespaced(clients[i % clients.len()].clone(), &a.namespace);
            let p = pod(&format!("{prefix}-{i}"));
            async move {
                let t = Instant::now();
                api.create(&PostParams::default(), &p).await.unwrap();
                t.elapsed()
            }
        })
        .buffer_unordered(a.concurrency)
        .collect()
        .await;
    let secs = started.elapsed().as_secs_f64();
    json!({"creates_per_s": a.pods as f64 / secs, "latency": summary(lat)})
}

async fn reads(clients: &[kube::Client], a: &Args) -> serde_json::Value {
    let c = &clients[clients.len() - 1];
    let api: Api<Pod> = Api::namespaced(c.clone(), &a.namespace);
    let stored = api
        .list_metadata(&ListParams::default().limit(1))
        .await
        .unwrap();
    let total = stored.metadata.remaining_item_count.unwrap_or(0) + stored.items.len() as i64;
    let mut gets = Vec::new();
    for i in 0..a.samples * 10 {
        let name = format!("fill-{}", (i * 7919) % total.max(1) as usize);
        let t = Instant::now();
        let _ = api.get(&name).await;
        gets.push(t.elapsed());
    }
    let mut lists = Vec::new();
    let mut count = 0;
    for _ in 0..a.samples {
        let t = Instant::now();
        count = api.list(&ListParams::default()).await.unwrap().items.len();
        lists.push(t.elapsed());
    }
    let mut tables = Vec::new();
    let url = format!("/api/v1/namespaces/{}/pods", a.namespace);
    for _ in 0..a.samples {
        let req = http::Request::get(&url)
            .header(
                "accept",
                "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
            )
            .body(Vec::new())
            .unwrap();
        let t = Instant::now();
        let text = c.request_text(req).await.unwrap();
        tables.push(t.elapsed());
        assert!(
            text.starts_with("{\"apiVersion\":\"meta.k8s.io/v1\"")
                || text.contains("\"kind\":\"Table\"")
        );
    }
    let mut pages = Vec::new();
    for _ in 0..a.samples {
        let t = Instant::now();
        let _ = api.list(&ListParams::default().limit(500)).await.unwrap();
        pages.push(t.elapsed());
    }
    json!({"pods": count, "get": summary(gets), "list_json": summary(lists), "list_table": summary(tables), "list_limit_500": summary(pages)})
}

async fn fanout(clients: &[kube::Client], a: &Args) -> serde_json::Value {
    let rv = Api::<Pod>::namespaced(clients[0].clone(), &a.namespace)
        .list_metadata(&ListParams::default().limit(1))
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let created: Arc<parking_lot::Mutex<std::collections::HashMap<String, Instant>>> =
        Arc::default();
    let mut tasks = Vec::new();
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<()>(a.watchers);
    for w in 0..a.watchers {
        let api: Api<Pod> = Api::namespaced(clients[w % clients.len()].clone(), &a.namespace);
        let rv = rv.clone();
        let created = created.clone();
        let want = a.pods;
        let ready = ready_tx.clone();
        tasks.push(tokio::spawn(async move {
            let mut s = api
                .watch(&WatchParams::default().labels("wave=fanout"), &rv)
                .await
                .unwrap()
                .boxed();
            let _ = ready.send(()).await;
            let mut lat = Vec::new();
            while lat.len() < want {
                match s.try_next().await {
                    Ok(Some(WatchEvent::Added(p))) => {
                        let name = p.metadata.name.unwrap_or_default();
                        if let Some(t) = created.lock().get(&name) {
                            lat.push(t.elapsed());
                        }
                    }
                    Ok(Some(_)) => {}
                    _ => break,
                }
            }
            lat
        }));
    }
    for _ in 0..a.watchers {
        ready_rx.recv().await;
    }
    let started = Instant::now();
    futures_util::stream::iter(0..a.pods)
        .map(|i| {
            let api: Api<Pod> = Api::namespaced(clients[i % clients.len()].clone(), &a.namespace);
            let created = created.clone();
            async move {
                let name = format!("fan-{i}");
                let mut p = pod(&name);
                p.metadata
                    .labels
                    .get_or_insert_default()
                    .insert("wave".into(), "fanout".into());
                created.lock().insert(name, Instant::now());
                api.create(&PostParams::default(), &p).await.unwrap();
            }
        })
        .buffer_unordered(8)
        .collect::<Vec<()>>()
        .await;
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let secs = started.elapsed().as_secs_f64();
    json!({"watchers": a.watchers, "events_delivered": all.len(), "events_per_s": all.len() as f64 / secs, "delivery": summary(all)})
}

#[tokio::main]
async fn main() {
    let a = Args::parse();
    let mut clients = Vec::new();
    for k in &a.kubeconfig {
        clients.push(client(k).await);
    }
    ensure_namespace(&clients[0], &a.namespace).await;
    let result = match a.scenario.as_str() {
        "creates" => creates(&clients, &a, &format!("c{}", std::process::id())).await,
        "fill" => creates(&clients, &a, "fill").await,
        "read" => reads(&clients, &a).await,
        "watch" => fanout(&clients, &a).await,
        other => panic!("unknown scenario {other}"),
    };
    println!(
        "{}",
        json!({"scenario": a.scenario, "label": a.label, "replicas": a.kubeconfig.len(), "result": result})
    );
}
