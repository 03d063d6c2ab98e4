//! What the node and its containers use, as the kubelet's Summary API reports it
//! (`/stats/summary`, `stats/v1alpha1`): CPU as cumulative core-nanoseconds and as a rate in
//! nanocores over the last sample period, memory as the working set. The API server's
//! `metrics.k8s.io` (kubectl top, the HPA) reads it. The node's figures come from
//! `/proc/stat` and `/proc/meminfo`; a container's from the runtime.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::pod_index::PodIndex;
use crate::runtime::Runtime;

/// How often usage is sampled (cAdvisor's housekeeping interval); rates are over this window.
pub const SAMPLE_PERIOD: Duration = Duration::from_secs(10);

/// One container's (or the node's) usage at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Usage {
    /// CPU time used since it started, in nanoseconds.
    pub cpu_ns: u64,
    pub memory_bytes: u64,
}

/// CPU and memory as the Summary API's `cpu` and `memory` objects.
fn stats(now: Timestamp, usage: Usage, rate: Option<u64>) -> (Value, Value) {
    let mut cpu = json!({"time": now.to_string(), "usageCoreNanoSeconds": usage.cpu_ns});
    if let Some(r) = rate {
        cpu["usageNanoCores"] = json!(r);
    }
    let memory = json!({
        "time": now.to_string(),
        "workingSetBytes": usage.memory_bytes,
        "usageBytes": usage.memory_bytes,
    });
    (cpu, memory)
}

/// The CPU rate between two samples, in nanocores.
fn rate(before: Option<&(Instant, Usage)>, now: Instant, usage: Usage) -> Option<u64> {
    let (at, prev) = before?;
    let elapsed = now.duration_since(*at).as_nanos();
    if elapsed == 0 || usage.cpu_ns < prev.cpu_ns {
        return None;
    }
    let used = u128::from(usage.cpu_ns - prev.cpu_ns);
    u64::try_from(used * 1_000_000_000 / elapsed).ok()
}

/// The node's CPU (all cores' non-idle time) and memory in use, from `/proc`.
pub fn node_usage() -> Usage {
    let ticks_ns = 1_000_000_000 / rustix::param::clock_ticks_per_second().max(1);
    let cpu_ns = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("cpu "))?.to_string();
            let f: Vec<u64> = line
                .split_whitespace()
                .skip(1)
                .filter_map(|v| v.parse().ok())
                .collect();
            // user nice system idle iowait irq softirq steal: all but idle and iowait.
            let busy: u64 = f
                .iter()
                .take(8)
                .enumerate()
                .filter(|(i, _)| *i != 3 && *i != 4)
                .map(|(_, v)| *v)
                .sum();
            Some(busy * ticks_ns)
        })
        .unwrap_or(0);
    let memory_bytes = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .map(|s| {
            let kib = |name: &str| {
                s.lines()
                    .find(|l| l.starts_with(name))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            kib("MemTotal:").saturating_sub(kib("MemAvailable:")) * 1024
        })
        .unwrap_or(0);
    Usage {
        cpu_ns,
        memory_bytes,
    }
}

/// The samples the Summary is made of.
#[derive(Default)]
struct Samples {
    node: Option<(Instant, Usage)>,
    node_rate: Option<u64>,
    containers: HashMap<String, (Instant, Usage)>,
    rates: HashMap<String, u64>,
}

/// Samples usage every period and answers `/stats/summary`.
pub struct UsageSampler {
    node_name: String,
    started: Timestamp,
    pods: Arc<PodIndex>,
    runtime: Arc<dyn Runtime>,
    samples: Mutex<Samples>,
}

impl UsageSampler {
    pub fn new(node_name: String, pods: Arc<PodIndex>, runtime: Arc<dyn Runtime>) -> UsageSampler {
        UsageSampler {
            node_name,
            started: Timestamp::now(),
            pods,
            runtime,
            samples: Mutex::new(Samples::default()),
        }
    }

    /// Takes one sample of the node and every running container.
    pub fn sample(&self) {
        let now = Instant::now();
        let node = node_usage();
        let containers = self.runtime.usage();
        let mut s = self.samples.lock().unwrap_or_else(PoisonError::into_inner);
        s.node_rate = rate(s.node.as_ref(), now, node);
        s.node = Some((now, node));
        let rates: HashMap<String, u64> = containers
            .iter()
            .filter_map(|(id, u)| Some((id.clone(), rate(s.containers.get(id), now, *u)?)))
            .collect();
        s.rates = rates;
        s.containers = containers
            .into_iter()
            .map(|(id, u)| (id, (now, u)))
            .collect();
    }

    /// Samples every period until `stop`.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) {
        loop {
            self.sample();
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(SAMPLE_PERIOD) => {}
            }
        }
    }

    /// The Summary (`stats/v1alpha1`): the node, and each pod with its running containers.
    pub fn summary(&self) -> Value {
        let now = Timestamp::now();
        let s = self.samples.lock().unwrap_or_else(PoisonError::into_inner);
        let node = s.node.map(|(_, u)| u).unwrap_or_default();
        let (cpu, memory) = stats(now, node, s.node_rate);
        let mut pods = Vec::new();
        for ((namespace, name), entry) in self.pods.all() {
            let uid = entry
                .sandbox
                .as_ref()
                .map(|b| b.id.clone())
                .unwrap_or_default();
            let mut total = Usage::default();
            let mut total_rate = Some(0u64);
            let mut containers = Vec::new();
            for (cname, c) in &entry.containers {
                let Some(id) = &c.running_id else { continue };
                let Some((_, usage)) = s.containers.get(id) else {
                    continue;
                };
                let r = s.rates.get(id).copied();
                total.cpu_ns += usage.cpu_ns;
                total.memory_bytes += usage.memory_bytes;
                total_rate = total_rate.zip(r).map(|(a, b)| a + b);
                let (cpu, memory) = stats(now, *usage, r);
                containers.push(json!({"name": cname, "cpu": cpu, "memory": memory}));
            }
            if containers.is_empty() {
                continue;
            }
            let (cpu, memory) = stats(now, total, total_rate);
            pods.push(json!({
                "podRef": {"name": name, "namespace": namespace, "uid": uid},
                "containers": containers,
                "cpu": cpu,
                "memory": memory,
            }));
        }
        json!({
            "node": {
                "nodeName": self.node_name,
                "startTime": self.started.to_string(),
                "cpu": cpu,
                "memory": memory,
            },
            "pods": pods,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_nanocores_over_the_window() {
        let t0 = Instant::now();
        let before = (
            t0,
            Usage {
                cpu_ns: 1_000_000_000,
                memory_bytes: 0,
            },
        );
        let later = t0 + Duration::from_secs(10);
        // 5 CPU-seconds in 10 seconds: half a core.
        let now = Usage {
            cpu_ns: 6_000_000_000,
            memory_bytes: 0,
        };
        assert_eq!(rate(Some(&before), later, now), Some(500_000_000));
        assert_eq!(rate(None, later, now), None, "one sample has no rate");
        let restarted = Usage {
            cpu_ns: 10,
            memory_bytes: 0,
        };
        assert_eq!(rate(Some(&before), later, restarted), None);
    }

    #[test]
    fn the_node_uses_some_cpu_and_memory() {
        let u = node_usage();
        assert!(u.cpu_ns > 0 && u.memory_bytes > 0, "{u:?}");
    }
}
