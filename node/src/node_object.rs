//! The Node object as the kubelet registers and reports it: labels, capacity and allocatable
//! (from the machine or `--capacity`), addresses, nodeInfo, the four conditions and the
//! daemon endpoint the API server reaches the agent at.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    DaemonEndpoint, Node, NodeAddress, NodeCondition, NodeDaemonEndpoints, NodeSpec, NodeStatus,
    NodeSystemInfo,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;

use crate::config::NodeConfig;
use crate::machine::Machine;

/// The kubelet version this agent behaves as.
pub const KUBELET_VERSION: &str = "v1.33.0";

/// The Node to register: metadata, an empty spec (the nodeipam controller fills the pod CIDR)
/// and a first status.
pub fn registration(
    cfg: &NodeConfig,
    machine: &Machine,
    name: &str,
    port: u16,
    now: Timestamp,
) -> Node {
    let mut labels = BTreeMap::from([
        ("kubernetes.io/hostname".to_string(), name.to_string()),
        ("kubernetes.io/os".to_string(), "linux".to_string()),
        (
            "kubernetes.io/arch".to_string(),
            machine.architecture.clone(),
        ),
        ("beta.kubernetes.io/os".to_string(), "linux".to_string()),
        (
            "beta.kubernetes.io/arch".to_string(),
            machine.architecture.clone(),
        ),
    ]);
    labels.extend(cfg.labels.clone());
    Node {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(labels),
            annotations: Some(BTreeMap::from([(
                "volumes.kubernetes.io/controller-managed-attach-detach".to_string(),
                "true".to_string(),
            )])),
            ..ObjectMeta::default()
        },
        spec: Some(NodeSpec::default()),
        status: Some(status(cfg, machine, name, port, None, now)),
    }
}

/// The resources the node offers: the machine's, overridden by `--capacity`.
pub fn capacity(cfg: &NodeConfig, machine: &Machine) -> BTreeMap<String, Quantity> {
    let mut c = BTreeMap::from([
        ("cpu".to_string(), Quantity(machine.cpus.to_string())),
        ("memory".to_string(), bytes(machine.memory_bytes)),
        (
            "ephemeral-storage".to_string(),
            bytes(machine.storage_bytes),
        ),
        ("pods".to_string(), Quantity(cfg.max_pods.to_string())),
        ("hugepages-1Gi".to_string(), Quantity("0".into())),
        ("hugepages-2Mi".to_string(), Quantity("0".into())),
    ]);
    c.extend(cfg.capacity.clone());
    c
}

/// Bytes as the kubelet prints them: in Ki when they divide evenly.
fn bytes(n: u64) -> Quantity {
    if n.is_multiple_of(1024) && n > 0 {
        Quantity(format!("{}Ki", n / 1024))
    } else {
        Quantity(n.to_string())
    }
}

/// The status to report now; each condition keeps its `lastTransitionTime` from `prev` while
/// its status is unchanged.
pub fn status(
    cfg: &NodeConfig,
    machine: &Machine,
    name: &str,
    port: u16,
    prev: Option<&NodeStatus>,
    now: Timestamp,
) -> NodeStatus {
    let capacity = capacity(cfg, machine);
    let condition = |kind: &str, status: &str, reason: &str, message: &str| {
        let transition = prev
            .and_then(|p| p.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == kind))
            .filter(|c| c.status == status)
            .and_then(|c| c.last_transition_time.clone())
            .unwrap_or(Time(now));
        NodeCondition {
            type_: kind.to_string(),
            status: status.to_string(),
            reason: Some(reason.to_string()),
            message: Some(message.to_string()),
            last_heartbeat_time: Some(Time(now)),
            last_transition_time: Some(transition),
        }
    };
    NodeStatus {
        allocatable: Some(capacity.clone()),
        capacity: Some(capacity),
        conditions: Some(vec![
            condition(
                "MemoryPressure",
                "False",
                "KubeletHasSufficientMemory",
                "kubelet has sufficient memory available",
            ),
            condition(
                "DiskPressure",
                "False",
                "KubeletHasNoDiskPressure",
                "kubelet has no disk pressure",
            ),
            condition(
                "PIDPressure",
                "False",
                "KubeletHasSufficientPID",
                "kubelet has sufficient PID available",
            ),
            condition(
                "Ready",
                "True",
                "KubeletReady",
                "kubelet is posting ready status",
            ),
        ]),
        addresses: Some(vec![
            NodeAddress {
                type_: "InternalIP".into(),
                address: cfg.node_ip.to_string(),
            },
            NodeAddress {
                type_: "Hostname".into(),
                address: name.to_string(),
            },
        ]),
        daemon_endpoints: Some(NodeDaemonEndpoints {
            kubelet_endpoint: Some(DaemonEndpoint {
                port: i32::from(port),
            }),
        }),
        node_info: Some(NodeSystemInfo {
            machine_id: machine.machine_id.clone(),
            system_uuid: machine.machine_id.clone(),
            boot_id: machine.boot_id.clone(),
            kernel_version: machine.kernel_version.clone(),
            os_image: machine.os_image.clone(),
            container_runtime_version: format!(
                "capstan-{}://{}",
                cfg.runtime.name(),
                env!("CARGO_PKG_VERSION")
            ),
            kubelet_version: KUBELET_VERSION.into(),
            kube_proxy_version: String::new(),
            operating_system: "linux".into(),
            architecture: machine.architecture.clone(),
            swap: None,
        }),
        images: Some(Vec::new()),
        ..NodeStatus::default()
    }
}

/// Whether `a` and `b` differ in more than their heartbeat times (the kubelet writes an
/// unchanged status only every `nodeStatusReportFrequency`).
pub fn changed(a: &NodeStatus, b: &NodeStatus) -> bool {
    let strip = |s: &NodeStatus| {
        let mut s = s.clone();
        for c in s.conditions.iter_mut().flatten() {
            c.last_heartbeat_time = None;
        }
        s
    };
    strip(a) != strip(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine() -> Machine {
        Machine {
            cpus: 2,
            memory_bytes: 4 << 30,
            storage_bytes: 10_000_000_001,
            architecture: "amd64".into(),
            ..Machine::default()
        }
    }

    #[test]
    fn capacity_comes_from_the_machine_unless_overridden() {
        let mut cfg = NodeConfig::new("n", "/tmp");
        let c = capacity(&cfg, &machine());
        assert_eq!(c["cpu"].0, "2");
        assert_eq!(c["memory"].0, "4194304Ki");
        assert_eq!(c["ephemeral-storage"].0, "10000000001");
        assert_eq!(c["pods"].0, "110");
        cfg.capacity.insert("cpu".into(), Quantity("64".into()));
        cfg.max_pods = 500;
        let c = capacity(&cfg, &machine());
        assert_eq!((c["cpu"].0.as_str(), c["pods"].0.as_str()), ("64", "500"));
    }

    #[test]
    fn a_condition_keeps_its_transition_time_until_it_changes() {
        let cfg = NodeConfig::new("n", "/tmp");
        let t0 = Timestamp::from_second(1_000).unwrap();
        let t1 = Timestamp::from_second(2_000).unwrap();
        let first = status(&cfg, &machine(), "n", 10250, None, t0);
        let second = status(&cfg, &machine(), "n", 10250, Some(&first), t1);
        let ready = |s: &NodeStatus| {
            s.conditions
                .iter()
                .flatten()
                .find(|c| c.type_ == "Ready")
                .cloned()
                .unwrap_or_default()
        };
        assert_eq!(ready(&second).last_transition_time, Some(Time(t0)));
        assert_eq!(ready(&second).last_heartbeat_time, Some(Time(t1)));
        assert!(!changed(&first, &second));
        let mut other = second.clone();
        other.images = None;
        assert!(changed(&first, &other));
    }
}
