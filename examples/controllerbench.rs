//! Benchmarks of the controller manager through real clients, run by `bench/controllers.sh`:
//! - `scale`: a Deployment scaled 0 → N; pods created per second by the controllers (from the
//!   scale request to the N-th pod seen on a watch) and the time to the first pod.
//! - `failover`: rounds of "scale up, kill -9 the leader while its controllers create pods,
//!   restart it"; per round, the time from the kill to the first pod the new leader's
//!   controllers create. A pod counts as the new leader's only when its resourceVersion is
//!   above that of a write acknowledged after the kill (a scale-up sent to the new leader as
//!   soon as one reports itself), so a dead leader's creates that were still in flight are
//!   never counted. Also reported: kill → that write acknowledged.
//!
//! Prints one JSON line per scenario.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use clap::Parser;
use futures_util::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::json;

#[derive(Parser)]
struct Args {
    /// Kubeconfigs, one per replica, in the order of --names.
    #[arg(long, value_delimiter = ',', required = true)]
    kubeconfig: Vec<String>,
    /// The replicas' names as the pids file lists them (failover).
    #[arg(long, value_delimiter = ',')]
    names: Vec<String>,
    /// "pid name" lines of the running replicas (failover restarts the killed one and rewrites
    /// its line).
    #[arg(long)]
    pids: Option<String>,
    /// scale | failover
    #[arg(long)]
    scenario: String,
    /// Pods to scale to (scale), or to add per round (failover).
    #[arg(long, default_value_t = 10_000)]
    pods: usize,
    /// Kills (failover).
    #[arg(long, default_value_t = 20)]
    rounds: usize,
    #[arg(long, default_value = "controllers")]
    namespace: String,
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

/// A Deployment whose pods are of about 1 KiB, as `kubebench`'s raw creates.
fn deployment(name: &str) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name, "tier": "backend", "track": "stable"},
                    "annotations": {"bench/padding": "x".repeat(420)}},
                "spec": {"containers": [{"name": "main", "image": "registry.example.com/team/service:1.2.3",
                    "command": ["/bin/service", "--port=8080"], "ports": [{"containerPort": 8080, "name": "http"}],
                    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]}}}
    }))
    .unwrap()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn rv_of(p: &Pod) -> u64 {
    p.metadata
        .resource_version
        .as_deref()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The current resourceVersion of the namespace's pods (to watch from).
async fn pods_rv(api: &Api<Pod>) -> String {
    api.list_metadata(&ListParams::default().limit(1))
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap()
}

async fn set_replicas(api: &Api<Deployment>, name: &str, n: usize) -> Deployment {
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": n}})),
    )
    .await
    .unwrap()
}

async fn scale(clients: &[kube::Client], a: &Args) -> serde_json::Value {
    let c = &clients[0];
    let deployments: Api<Deployment> = Api::namespaced(c.clone(), &a.namespace);
    deployments
        .create(&PostParams::default(), &deployment("scale"))
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(c.clone(), &a.namespace);
    let mut watch = pods
        .watch(
            &WatchParams::default().labels("app=scale"),
            &pods_rv(&pods).await,
        )
        .await
        .unwrap()
        .boxed();
    let started = Instant::now();
    set_replicas(&deployments, "scale", a.pods).await;
    let (mut seen, mut first) = (0, None);
    while seen < a.pods {
        match watch.try_next().await.unwrap() {
            Some(WatchEvent::Added(_)) => {
                seen += 1;
                first.get_or_insert_with(|| started.elapsed());
            }
            Some(_) => {}
            None => panic!("the watch ended after {seen} pods"),
        }
    }
    let secs = started.elapsed().as_secs_f64();
    json!({"pods": a.pods, "pods_per_s": a.pods as f64 / secs, "first_pod_ms": first.map(ms)})
}

/// Which replica leads now (its index), as its `/metrics` says.
/// The client of the replica that reports itself leader now, if one does.
async fn leader_among<'a>(clients: &[&'a kube::Client]) -> Option<&'a kube::Client> {
    for c in clients {
        let req = http::Request::get("/metrics").body(Vec::new()).unwrap();
        if let Ok(text) = c.request_text(req).await {
            if text.lines().any(|l| l == "etcd_server_is_leader 1") {
                return Some(c);
            }
        }
    }
    None
}

async fn leader(clients: &[kube::Client]) -> usize {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        for (i, c) in clients.iter().enumerate() {
            let req = http::Request::get("/metrics").body(Vec::new()).unwrap();
            if let Ok(text) = c.request_text(req).await {
                if text.lines().any(|l| l == "etcd_server_is_leader 1") {
                    return i;
                }
            }
        }
        assert!(Instant::now() < deadline, "no leader");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A replica process as started: its pid and what restarts it.
struct Replica {
    pid: u32,
    argv: Vec<String>,
    cwd: std::path::PathBuf,
}

fn replica(pids: &str, name: &str) -> Replica {
    let text = std::fs::read_to_string(pids).unwrap();
    let pid: u32 = text
        .lines()
        .find_map(|l| {
            let (pid, n) = l.split_once(' ')?;
            (n == name).then(|| pid.parse().ok())?
        })
        .unwrap_or_else(|| panic!("{name} is not in {pids}"));
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let argv = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap();
    Replica { pid, argv, cwd }
}

/// Starts `r` again (its log appended to `<pids dir>/<name>.log`) and records its new pid.
/// The replica outlives the benchmark, as the ones `capstan-cluster.sh` starts do; that script's
/// `stop` ends it by the pid recorded here.
#[allow(clippy::zombie_processes)]
fn restart(r: &Replica, pids: &str, name: &str) {
    use std::os::unix::process::CommandExt;
    let dir = std::path::Path::new(pids).parent().unwrap();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("{name}.log")))
        .unwrap();
    let child = std::process::Command::new(&r.argv[0])
        .args(&r.argv[1..])
        .current_dir(&r.cwd)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .process_group(0)
        .spawn()
        .unwrap();
    let text = std::fs::read_to_string(pids).unwrap();
    let lines: Vec<String> = text
        .lines()
        .map(|l| match l.split_once(' ') {
            Some((_, n)) if n == name => format!("{} {name}", child.id()),
            _ => l.to_string(),
        })
        .collect();
    std::fs::write(pids, lines.join("\n") + "\n").unwrap();
}

/// The time of day, UTC, as the replicas' logs print it (HH:MM:SS.mmm), to find a round there.
fn utc_clock() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let s = t.as_secs() % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        s / 3600,
        s / 60 % 60,
        s % 60,
        t.subsec_millis()
    )
}

async fn ready(c: &kube::Client) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let req = http::Request::get("/readyz").body(Vec::new()).unwrap();
        if c.request_text(req).await.is_ok() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the restarted replica never got ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn failover(clients: &[kube::Client], a: &Args) -> serde_json::Value {
    let pids = a.pids.as_deref().expect("--pids");
    assert_eq!(a.names.len(), clients.len(), "--names and --kubeconfig");
    let lead = leader(clients).await;
    let c = &clients[(lead + 1) % clients.len()];
    Api::<Deployment>::namespaced(c.clone(), &a.namespace)
        .create(&PostParams::default(), &deployment("failover"))
        .await
        .unwrap();
    let mut replicas = 0;
    let mut samples = Vec::new();
    // Kill → the scale-up write acknowledged by the new leader (the election, as a client
    // sees it).
    let mut writes = Vec::new();
    for round in 0..a.rounds {
        let lead = leader(clients).await;
        let via = &clients[(lead + 1) % clients.len()];
        let deployments: Api<Deployment> = Api::namespaced(via.clone(), &a.namespace);
        let pods: Api<Pod> = Api::namespaced(via.clone(), &a.namespace);
        let victim = replica(pids, &a.names[lead]);
        let mut watch = pods
            .watch(
                &WatchParams::default().labels("app=failover"),
                &pods_rv(&pods).await,
            )
            .await
            .unwrap()
            .boxed();
        replicas += a.pods;
        set_replicas(&deployments, "failover", replicas).await;
        // The leader's controllers are creating pods: kill it at the first one.
        loop {
            if let Some(WatchEvent::Added(_)) = watch.try_next().await.unwrap() {
                break;
            }
        }
        let killed = Instant::now();
        let killed_at = utc_clock();
        let status = std::process::Command::new("kill")
            .args(["-9", &victim.pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        // A write acknowledged after the kill: every pod above its revision is the new
        // leader's. (It also scales up again, so the new leader has pods to create even if the
        // old one had finished.) It is sent to the new leader as soon as one reports itself, so
        // that it commits right after the election: sent through a follower it would wait for
        // the follower to learn of the election and the commit (about 200 ms more), and the
        // new leader's first pods, made before it, would not count.
        replicas += a.pods;
        let survivors: Vec<&kube::Client> = clients
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != lead)
            .map(|(_, c)| c)
            .collect();
        // What each attempt met, shown when the round is slow.
        let mut attempts = Vec::new();
        let marker = loop {
            let Some(new_leader) = leader_among(&survivors).await else {
                attempts.push(format!("{:.0} ms: no leader", ms(killed.elapsed())));
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            };
            let deployments: Api<Deployment> = Api::namespaced(new_leader.clone(), &a.namespace);
            let sent = killed.elapsed();
            match deployments
                .patch(
                    "failover",
                    &PatchParams::default(),
                    &Patch::Merge(json!({"spec": {"replicas": replicas}})),
                )
                .await
            {
                Ok(d) => break d,
                Err(e) => {
                    attempts.push(format!(
                        "{:.0}-{:.0} ms: {e}",
                        ms(sent),
                        ms(killed.elapsed())
                    ));
                    tokio::time::sleep(Duration::from_millis(5)).await
                }
            }
        };
        if killed.elapsed() > Duration::from_millis(900) {
            attempts.dedup();
            eprintln!("round {round}: slow; attempts: {attempts:?}");
        }
        let written = killed.elapsed();
        let marker_rv: u64 = marker
            .metadata
            .resource_version
            .as_deref()
            .and_then(|v| v.parse().ok())
            .unwrap();
        let first = loop {
            match watch.try_next().await {
                Ok(Some(WatchEvent::Added(p))) if rv_of(&p) > marker_rv => break killed.elapsed(),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => panic!("round {round}: the watch ended"),
            }
        };
        samples.push(first);
        writes.push(written);
        eprintln!(
            "round {round}: killed {} at {killed_at}; first write acknowledged {:.0} ms, first pod of the new leader {:.0} ms after the kill",
            a.names[lead],
            ms(written),
            ms(first)
        );
        restart(&victim, pids, &a.names[lead]);
        ready(&clients[lead]).await;
        // Settle before the next round: every pod made.
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let d = deployments.get_status("failover").await.unwrap();
            if d.status.and_then(|s| s.replicas).unwrap_or(0) as usize == replicas {
                break;
            }
            assert!(Instant::now() < deadline, "round {round} never settled");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let mut sorted = samples.clone();
    sorted.sort();
    json!({
        "rounds": samples.len(),
        "kill_to_first_pod_p50_ms": ms(sorted[sorted.len() / 2]),
        "kill_to_first_pod_max_ms": ms(*sorted.last().unwrap()),
        "samples_ms": samples.into_iter().map(ms).collect::<Vec<_>>(),
        "kill_to_write_ms": writes.into_iter().map(ms).collect::<Vec<_>>(),
    })
}

#[tokio::main]
async fn main() {
    let a = Args::parse();
    let mut clients = Vec::new();
    for k in &a.kubeconfig {
        clients.push(client(k).await);
    }
    let _ = Api::<k8s_openapi::api::core::v1::Namespace>::all(clients[0].clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": a.namespace}})).unwrap(),
        )
        .await;
    let result = match a.scenario.as_str() {
        "scale" => scale(&clients, &a).await,
        "failover" => failover(&clients, &a).await,
        other => panic!("unknown scenario {other}"),
    };
    println!(
        "{}",
        json!({"scenario": a.scenario, "label": a.label, "replicas": a.kubeconfig.len(), "result": result})
    );
}
