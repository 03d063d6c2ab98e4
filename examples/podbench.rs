//! Pod start latency end to end (bench/node.sh): creates --pods pods in --namespace with
//! --concurrency clients (each running --command; the scheduler places them) and watches them:
//! for each pod, the time from just before its create request to the watch event showing it
//! Running. Kubernetes' pod startup SLO is measured the same way (p99 <= 5 s without image
//! pulls). Prints one JSON line.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::watcher;
use serde_json::json;

#[derive(Parser)]
struct Args {
    #[arg(long)]
    kubeconfig: String,
    #[arg(long, default_value_t = 100)]
    pods: usize,
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    #[arg(long, default_value = "podbench")]
    namespace: String,
    #[arg(long, default_value = "")]
    label: String,
    #[arg(long, default_value = "sleep 3600")]
    command: String,
    /// The pods' image (with the sandbox runtime: run in it when the node has it, else the
    /// command runs on the host's filesystem).
    #[arg(long, default_value = "busybox")]
    image: String,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let kc = Kubeconfig::read_from(&args.kubeconfig).expect("kubeconfig");
    let cfg = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("config");
    let client = kube::Client::try_from(cfg).expect("client");
    let nss: Api<Namespace> = Api::all(client.clone());
    let _ = nss
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": args.namespace}})).unwrap(),
        )
        .await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &args.namespace);
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<Duration>();
    // The watch starts before the first create, so no Running event is missed.
    let watch = {
        let sent = sent.clone();
        let pods = pods.clone();
        tokio::spawn(async move {
            let mut seen = std::collections::HashSet::new();
            let stream = watcher::watcher(pods, watcher::Config::default());
            futures_util::pin_mut!(stream);
            while let Some(ev) = stream.next().await {
                let Ok(watcher::Event::Apply(p) | watcher::Event::InitApply(p)) = ev else {
                    continue;
                };
                let running = p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
                let name = p.metadata.name.clone().unwrap_or_default();
                if running && seen.insert(name.clone()) {
                    let at = sent.lock().unwrap().get(&name).copied();
                    if let Some(at) = at {
                        let _ = done_tx.send(at.elapsed());
                    }
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut creators = Vec::new();
    for _ in 0..args.concurrency {
        let (pods, sent, next) = (pods.clone(), sent.clone(), next.clone());
        let (n, command, image) = (args.pods, args.command.clone(), args.image.clone());
        creators.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    return;
                }
                let name = format!("p-{i}");
                let pod: Pod = serde_json::from_value(json!({
                    "metadata": {"name": name},
                    "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
                        "name": "c", "image": image, "command": ["sh", "-c", command],
                        "resources": {"requests": {"cpu": "1m", "memory": "1Mi"}}}]}}))
                .unwrap();
                sent.lock().unwrap().insert(name, Instant::now());
                pods.create(&PostParams::default(), &pod)
                    .await
                    .expect("create");
            }
        }));
    }
    for c in creators {
        c.await.unwrap();
    }
    let created_s = started.elapsed().as_secs_f64();
    let mut lat = Vec::with_capacity(args.pods);
    while lat.len() < args.pods {
        match tokio::time::timeout(Duration::from_secs(300), done_rx.recv()).await {
            Ok(Some(d)) => lat.push(d),
            _ => panic!("only {} of {} pods Running", lat.len(), args.pods),
        }
    }
    let total_s = started.elapsed().as_secs_f64();
    watch.abort();
    lat.sort();
    let ms = |q: f64| {
        let i = ((lat.len() as f64 * q).ceil() as usize).clamp(1, lat.len()) - 1;
        (lat[i].as_secs_f64() * 1e4).round() / 10.0
    };
    println!(
        "{}",
        json!({"scenario": "pod-start", "label": args.label, "pods": args.pods,
               "concurrency": args.concurrency,
               "result": {"p50_ms": ms(0.5), "p90_ms": ms(0.9), "p99_ms": ms(0.99),
                          "max_ms": ms(1.0), "created_s": (created_s * 100.0).round() / 100.0,
                          "all_running_s": (total_s * 100.0).round() / 100.0}})
    );
    // Not a graceful runtime shutdown: the watch's connection may hold it up.
    std::process::exit(0);
}
