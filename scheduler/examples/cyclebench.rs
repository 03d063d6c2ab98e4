//! The scheduling cycle alone, in process, with the cache warm: decisions per second over
//! 5,000 nodes in 3 zones for 10,000 pods, as kube-scheduler's scheduler_perf shapes them.
//!   cyclebench [--nodes 5000] [--pods 10000] [--scenario plain|spread|preemption]
//! - plain: pods of 100m/128Mi with no placement rules;
//! - spread: pods of 500 apps, each with required anti-affinity on the hostname and a
//!   DoNotSchedule topology spread over zones (maxSkew 1);
//! - preemption: every node already full of low-priority pods; each new high-priority pod
//!   must preempt (the decision includes finding candidates and picking victims; the victims
//!   are then removed from the cache as their deletion would).
//!
//! Prints one JSON line: decisions per second of wall time, and per second of the thread's
//! CPU time (what the cycle itself costs, whatever else runs on the machine).

use std::sync::Arc;
use std::time::Instant;

use capstan_scheduler::cache::Cache;
use capstan_scheduler::config::SchedulerConfig;
use capstan_scheduler::nominator::Nominator;
use capstan_scheduler::pod_info::PodInfo;
use capstan_scheduler::preemption;
use capstan_scheduler::snapshot::Snapshot;
use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::json;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_string())
}

fn node(i: usize) -> Node {
    let name = format!("node-{i}");
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {
            "kubernetes.io/hostname": name,
            "topology.kubernetes.io/zone": format!("zone-{}", i % 3)}},
        "status": {"allocatable": {"cpu": "4", "memory": "16Gi", "pods": "110"}}
    }))
    .unwrap_or_default()
}

fn pod(i: usize, scenario: &str) -> Pod {
    let app = format!("app-{}", i % 500);
    let mut spec = json!({"containers": [{"name": "c", "image": "registry.example/app:v1",
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]});
    match scenario {
        "spread" => {
            spec["affinity"] = json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": "kubernetes.io/hostname"}]}});
            spec["topologySpreadConstraints"] = json!([{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": app}}}]);
        }
        "preemption" => {
            spec["priority"] = json!(1000);
            spec["containers"][0]["resources"]["requests"]["cpu"] = json!("2");
        }
        _ => {}
    }
    serde_json::from_value(json!({
        "metadata": {"name": format!("pod-{i}"), "namespace": "bench", "uid": format!("uid-{i}"),
                     "labels": {"app": app}},
        "spec": spec,
    }))
    .unwrap_or_default()
}

/// Two low-priority 2-cpu pods filling a node.
fn filler(node: usize, k: usize) -> Arc<PodInfo> {
    PodInfo::new(
        serde_json::from_value(json!({
            "metadata": {"name": format!("low-{node}-{k}"), "namespace": "bench", "uid": format!("low-{node}-{k}")},
            "spec": {"nodeName": format!("node-{node}"), "priority": 0, "containers": [{"name": "c",
                "resources": {"requests": {"cpu": "2", "memory": "1Gi"}}}]},
            "status": {"startTime": "2026-01-01T00:00:00Z"}
        }))
        .unwrap_or_default(),
    )
}

/// The time this thread has run on a CPU (`/proc/thread-self/schedstat`, nanoseconds): on a
/// shared machine, time other processes take from the run is not counted against the cycle.
fn cpu_time() -> std::time::Duration {
    let ns = std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|f| f.parse().ok()))
        .unwrap_or(0);
    std::time::Duration::from_nanos(ns)
}

fn main() {
    let nodes: usize = arg("--nodes", "5000").parse().unwrap_or(5000);
    let pods: usize = arg("--pods", "10000").parse().unwrap_or(10000);
    let scenario = arg("--scenario", "plain");
    let profile = match SchedulerConfig::default().build() {
        Ok(mut p) if !p.is_empty() => p.remove(0),
        _ => return eprintln!("the default profile does not build"),
    };
    let mut cache = Cache::default();
    for i in 0..nodes {
        cache.set_node(node(i));
    }
    if scenario == "preemption" {
        for n in 0..nodes {
            for k in 0..2 {
                cache.set_pod(filler(n, k));
            }
        }
    }
    let queue: Vec<Arc<PodInfo>> = (0..pods).map(|i| PodInfo::new(pod(i, &scenario))).collect();
    let mut snapshot = Snapshot::default();
    let nominator = Nominator::default();
    let (mut scheduled, mut unschedulable, mut victims) = (0usize, 0usize, 0usize);
    let started = Instant::now();
    let cpu_started = cpu_time();
    for p in &queue {
        cache.update_snapshot(&mut snapshot);
        match profile.schedule(p, &snapshot, &nominator) {
            Ok(placement) => {
                let mut bound = p.pod.clone();
                if let Some(s) = bound.spec.as_mut() {
                    s.node_name = Some(placement.node.clone());
                }
                cache.assume(PodInfo::new(bound), &placement.node);
                scheduled += 1;
            }
            Err(fit) if scenario == "preemption" => {
                let (candidates, _) =
                    preemption::find_candidates(&profile, p, &snapshot, &fit, &[]);
                match preemption::pick(&candidates) {
                    Some(c) => {
                        victims += c.victims.len();
                        for v in &c.victims {
                            cache.remove_pod(&v.uid);
                        }
                        let mut bound = p.pod.clone();
                        if let Some(s) = bound.spec.as_mut() {
                            s.node_name = Some(c.node.clone());
                        }
                        cache.assume(PodInfo::new(bound), &c.node);
                        scheduled += 1;
                    }
                    None => unschedulable += 1,
                }
            }
            Err(_) => unschedulable += 1,
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let cpu_secs = (cpu_time() - cpu_started).as_secs_f64().max(1e-9);
    println!(
        "{}",
        json!({"scenario": format!("cycle-{scenario}"), "nodes": nodes, "pods": pods,
               "scheduled": scheduled, "unschedulable": unschedulable, "victims": victims,
               "seconds": (secs * 1000.0).round() / 1000.0,
               "decisions_per_s": (pods as f64 / secs).round(),
               "cpu_seconds": (cpu_secs * 1000.0).round() / 1000.0,
               "decisions_per_cpu_s": (pods as f64 / cpu_secs).round()})
    );
}
