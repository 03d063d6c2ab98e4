//! `PodInfo`: a pod with what every scheduling decision reads of it worked out once (its
//! requests, host ports, priority, key), upstream's `framework.PodInfo`.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;

use crate::resources::{pod_requests, Resources};

/// A host port a container asks for: upstream compares IP (empty is `0.0.0.0`), protocol and port.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HostPort {
    pub ip: String,
    pub protocol: String,
    pub port: i32,
}

impl HostPort {
    /// Whether the two claim the same port (`0.0.0.0` conflicts with every address).
    pub fn conflicts(&self, o: &HostPort) -> bool {
        self.port == o.port
            && self.protocol == o.protocol
            && (self.ip == o.ip || self.ip == "0.0.0.0" || o.ip == "0.0.0.0")
    }
}

#[derive(Debug)]
pub struct PodInfo {
    pub pod: Pod,
    /// `namespace/name`.
    pub key: String,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    /// `spec.priority` (0 when unset).
    pub priority: i32,
    pub requests: Resources,
    /// CPU (millicores) and memory with the defaults for containers that request none.
    pub non_zero: (i64, i64),
    pub host_ports: Vec<HostPort>,
    pub labels: BTreeMap<String, String>,
    /// Whether the pod has any pod affinity or anti-affinity term (upstream keeps such pods in
    /// a separate list per node).
    pub has_pod_affinity: bool,
    /// Whether it has a required anti-affinity term (existing pods' anti-affinity filter).
    pub has_required_anti_affinity: bool,
    /// Whether it has a nodeSelector or required node affinity (else NodeAffinity's filter
    /// has nothing to check).
    pub has_node_constraints: bool,
}

impl PodInfo {
    pub fn new(pod: Pod) -> Arc<PodInfo> {
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let labels = pod.metadata.labels.clone().unwrap_or_default();
        let no_spec = k8s_openapi::api::core::v1::PodSpec::default();
        let spec = pod.spec.as_ref().unwrap_or(&no_spec);
        let (requests, non_zero) = pod_requests(spec);
        let mut host_ports = Vec::new();
        let sidecars = spec
            .init_containers
            .iter()
            .flatten()
            .filter(|c| c.restart_policy.as_deref() == Some("Always"));
        for c in spec.containers.iter().chain(sidecars) {
            for p in c.ports.iter().flatten() {
                if p.host_port.is_some_and(|h| h > 0) {
                    host_ports.push(HostPort {
                        ip: p
                            .host_ip
                            .clone()
                            .filter(|i| !i.is_empty())
                            .unwrap_or_else(|| "0.0.0.0".into()),
                        protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                        port: p.host_port.unwrap_or(0),
                    });
                }
            }
        }
        let pod_affinity = spec.affinity.as_ref().and_then(|a| a.pod_affinity.as_ref());
        let anti = spec
            .affinity
            .as_ref()
            .and_then(|a| a.pod_anti_affinity.as_ref());
        let has_required_anti_affinity = anti.is_some_and(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
                .is_some_and(|t| !t.is_empty())
        });
        let has_pod_affinity = pod_affinity.is_some() || anti.is_some();
        let priority = spec.priority.unwrap_or(0);
        let has_node_constraints = spec.node_selector.as_ref().is_some_and(|s| !s.is_empty())
            || spec
                .affinity
                .as_ref()
                .and_then(|a| a.node_affinity.as_ref())
                .is_some_and(|a| {
                    a.required_during_scheduling_ignored_during_execution
                        .is_some()
                });
        Arc::new(PodInfo {
            key: format!("{namespace}/{name}"),
            priority,
            pod,
            namespace,
            name,
            uid,
            requests,
            non_zero,
            host_ports,
            labels,
            has_pod_affinity,
            has_required_anti_affinity,
            has_node_constraints,
        })
    }

    pub fn spec(&self) -> Option<&k8s_openapi::api::core::v1::PodSpec> {
        self.pod.spec.as_ref()
    }

    /// `spec.nodeName`, when bound.
    pub fn node_name(&self) -> Option<&str> {
        self.spec()
            .and_then(|s| s.node_name.as_deref())
            .filter(|n| !n.is_empty())
    }
}
