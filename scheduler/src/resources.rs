//! A pod's resource requests and a node's allocatable as the scheduler counts them
//! (upstream's `framework.Resource`): CPU in millicores, memory and ephemeral storage in bytes,
//! and every other resource (extended resources, hugepages) by name in whole units.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, PodSpec, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::quantity;

/// The CPU a container without a CPU request counts as when scores spread pods (upstream's
/// `DefaultMilliCPURequest`).
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// The memory a container without a memory request counts as when scores spread pods
/// (upstream's `DefaultMemoryRequest`, 200 MB).
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// An amount of each resource.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Resources {
    pub milli_cpu: i64,
    pub memory: i64,
    pub ephemeral_storage: i64,
    /// Extended resources and hugepages, by name.
    pub scalar: BTreeMap<String, i64>,
}

impl Resources {
    /// Reads a requests/limits/allocatable map (`pods` is left to the caller).
    pub fn from_map(map: &BTreeMap<String, Quantity>) -> Resources {
        let mut r = Resources::default();
        for (name, q) in map {
            match name.as_str() {
                "cpu" => r.milli_cpu = quantity::milli(q),
                "memory" => r.memory = quantity::value(q),
                "ephemeral-storage" => r.ephemeral_storage = quantity::value(q),
                "pods" => {}
                other if is_scalar(other) => {
                    r.scalar.insert(other.to_string(), quantity::value(q));
                }
                _ => {}
            }
        }
        r
    }

    pub fn add(&mut self, o: &Resources) {
        self.milli_cpu = self.milli_cpu.saturating_add(o.milli_cpu);
        self.memory = self.memory.saturating_add(o.memory);
        self.ephemeral_storage = self.ephemeral_storage.saturating_add(o.ephemeral_storage);
        for (k, v) in &o.scalar {
            let e = self.scalar.entry(k.clone()).or_insert(0);
            *e = e.saturating_add(*v);
        }
    }

    pub fn sub(&mut self, o: &Resources) {
        self.milli_cpu -= o.milli_cpu;
        self.memory -= o.memory;
        self.ephemeral_storage -= o.ephemeral_storage;
        for (k, v) in &o.scalar {
            *self.scalar.entry(k.clone()).or_insert(0) -= v;
        }
    }

    /// Each resource the larger of the two.
    pub fn max_with(&mut self, o: &Resources) {
        self.milli_cpu = self.milli_cpu.max(o.milli_cpu);
        self.memory = self.memory.max(o.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(o.ephemeral_storage);
        for (k, v) in &o.scalar {
            let e = self.scalar.entry(k.clone()).or_insert(0);
            *e = (*e).max(*v);
        }
    }

    /// The amount of one resource by its API name.
    pub fn get(&self, name: &str) -> i64 {
        match name {
            "cpu" => self.milli_cpu,
            "memory" => self.memory,
            "ephemeral-storage" => self.ephemeral_storage,
            other => self.scalar.get(other).copied().unwrap_or(0),
        }
    }

    pub fn is_zero(&self) -> bool {
        self.milli_cpu == 0
            && self.memory == 0
            && self.ephemeral_storage == 0
            && self.scalar.values().all(|v| *v == 0)
    }
}

/// A resource name read once, so per-node arithmetic does not compare strings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResourceKind {
    Cpu,
    Memory,
    EphemeralStorage,
    Scalar(String),
}

impl ResourceKind {
    pub fn of(name: &str) -> ResourceKind {
        match name {
            "cpu" => ResourceKind::Cpu,
            "memory" => ResourceKind::Memory,
            "ephemeral-storage" => ResourceKind::EphemeralStorage,
            other => ResourceKind::Scalar(other.to_string()),
        }
    }
}

impl Resources {
    /// The amount of one resource.
    pub fn of(&self, kind: &ResourceKind) -> i64 {
        match kind {
            ResourceKind::Cpu => self.milli_cpu,
            ResourceKind::Memory => self.memory,
            ResourceKind::EphemeralStorage => self.ephemeral_storage,
            ResourceKind::Scalar(name) => self.scalar.get(name).copied().unwrap_or(0),
        }
    }
}

/// Whether the scheduler counts `name` by name: extended resources (a domain outside
/// `kubernetes.io/`), hugepages and attachable volumes.
pub fn is_scalar(name: &str) -> bool {
    name.starts_with("hugepages-")
        || name.starts_with("attachable-volumes-")
        || (name.contains('/') && !name.starts_with("kubernetes.io/"))
}

/// A container's requests; a resource with a limit but no request counts its limit (what the
/// API's defaulting stores).
fn container_requests(r: Option<&ResourceRequirements>) -> Resources {
    let Some(r) = r else {
        return Resources::default();
    };
    let mut map = r.limits.clone().unwrap_or_default();
    map.extend(r.requests.clone().unwrap_or_default());
    Resources::from_map(&map)
}

/// CPU and memory with upstream's defaults for a container that requests none.
fn non_zero(r: &Resources) -> (i64, i64) {
    let cpu = if r.milli_cpu == 0 {
        DEFAULT_MILLI_CPU_REQUEST
    } else {
        r.milli_cpu
    };
    let mem = if r.memory == 0 {
        DEFAULT_MEMORY_REQUEST
    } else {
        r.memory
    };
    (cpu, mem)
}

fn is_sidecar(c: &Container) -> bool {
    c.restart_policy.as_deref() == Some("Always")
}

/// A pod's requests as upstream's `PodRequests` sums them: the containers, plus restartable
/// init containers (sidecars) which run alongside them; each other init container runs alone
/// with the sidecars started before it, so the pod needs the larger of the two; plus the
/// pod's overhead. Also the non-zero CPU and memory scores count (the same sums with the
/// per-container defaults).
pub fn pod_requests(spec: &PodSpec) -> (Resources, (i64, i64)) {
    let mut reqs = Resources::default();
    let mut nz = (0i64, 0i64);
    for c in &spec.containers {
        let r = container_requests(c.resources.as_ref());
        let n = non_zero(&r);
        nz = (nz.0 + n.0, nz.1 + n.1);
        reqs.add(&r);
    }
    let mut sidecars = Resources::default();
    let mut sidecars_nz = (0i64, 0i64);
    let mut init_max = Resources::default();
    let mut init_nz_max = (0i64, 0i64);
    for c in spec.init_containers.iter().flatten() {
        let r = container_requests(c.resources.as_ref());
        let n = non_zero(&r);
        let (tmp, tmp_nz) = if is_sidecar(c) {
            reqs.add(&r);
            nz = (nz.0 + n.0, nz.1 + n.1);
            sidecars.add(&r);
            sidecars_nz = (sidecars_nz.0 + n.0, sidecars_nz.1 + n.1);
            (sidecars.clone(), sidecars_nz)
        } else {
            let mut t = r.clone();
            t.add(&sidecars);
            (t, (n.0 + sidecars_nz.0, n.1 + sidecars_nz.1))
        };
        init_max.max_with(&tmp);
        init_nz_max = (init_nz_max.0.max(tmp_nz.0), init_nz_max.1.max(tmp_nz.1));
    }
    reqs.max_with(&init_max);
    nz = (nz.0.max(init_nz_max.0), nz.1.max(init_nz_max.1));
    if let Some(overhead) = &spec.overhead {
        let o = Resources::from_map(overhead);
        reqs.add(&o);
        nz = (nz.0 + o.milli_cpu, nz.1 + o.memory);
    }
    (reqs, nz)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(v: serde_json::Value) -> PodSpec {
        serde_json::from_value(v).unwrap_or_default()
    }

    #[test]
    fn pod_requests_count_init_containers_sidecars_and_overhead_as_upstream() {
        let s = spec(json!({
            "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "100m", "memory": "1Gi"}}},
                {"name": "b", "resources": {"limits": {"cpu": "200m"}}},
            ],
            "initContainers": [
                {"name": "i1", "resources": {"requests": {"cpu": "2", "memory": "10Mi"}}},
                {"name": "side", "restartPolicy": "Always", "resources": {"requests": {"cpu": "50m"}}},
                {"name": "i2", "resources": {"requests": {"cpu": "1", "memory": "2Gi"}}},
            ],
            "overhead": {"cpu": "10m", "example.com/gpu": "1"},
        }));
        let (r, nz) = pod_requests(&s);
        // cpu: containers 300m + sidecar 50m = 350m; init max(2000, 1000+50) = 2000; + 10m.
        assert_eq!(r.milli_cpu, 2010);
        // memory: containers 1Gi; init i2 2Gi (+ sidecar 0) wins.
        assert_eq!(r.memory, 2 << 30);
        assert_eq!(r.scalar.get("example.com/gpu"), Some(&1));
        // The sidecar without memory counts 200 MB when scoring; i2 + sidecar = 2Gi + 200MB.
        assert_eq!(nz.1, (2 << 30) + DEFAULT_MEMORY_REQUEST);
        assert_eq!(nz.0, 2010);
    }

    #[test]
    fn a_pod_without_requests_scores_as_upstream_defaults() {
        let (r, nz) = pod_requests(&spec(json!({"containers": [{"name": "a"}, {"name": "b"}]})));
        assert!(r.is_zero());
        assert_eq!(nz, (200, 2 * DEFAULT_MEMORY_REQUEST));
    }
}
