//! What every pod worker of one node shares: the client, the node's name and resources, its
//! runtime, its event recorder, the pod CIDR the nodeipam controller gave it, and the pods it
//! has admitted.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use capstan_controllers::events::Recorder;
use capstan_controllers::persistentvolume_binder::matching::parse_quantity;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::Client;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::NodeConfig;
use crate::images::ImageManager;
use crate::pod_index::PodIndex;
use crate::runtime::Runtime;

/// One node's shared state.
pub struct NodeContext {
    pub client: Client,
    pub name: String,
    pub config: Arc<NodeConfig>,
    pub runtime: Arc<dyn Runtime>,
    pub recorder: Recorder,
    pub allocatable: BTreeMap<String, Quantity>,
    /// `spec.podCIDR`, once the nodeipam controller has set it.
    pub pod_cidr: watch::Receiver<Option<String>>,
    /// Cancelled when the agent stops.
    pub stopping: CancellationToken,
    /// Each pod's containers as the agent's endpoint serves them (logs, exec, attach, port-forward).
    pub pods: Arc<PodIndex>,
    /// The node's images (the sandbox runtime; the others run on the host's filesystem).
    pub images: Option<Arc<ImageManager>>,
    admitted: Mutex<HashMap<String, (Requests, Vec<HostPort>)>>,
}

/// A host port a pod's container asks for: (protocol, host IP, port).
pub type HostPort = (String, String, i32);

/// The host ports of `pod`'s containers (init containers' too, as upstream counts them).
pub fn host_ports(pod: &Pod) -> Vec<HostPort> {
    let Some(spec) = pod.spec.as_ref() else {
        return Vec::new();
    };
    spec.init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter())
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|p| {
            let port = p.host_port.filter(|h| *h > 0)?;
            Some((
                p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                p.host_ip.clone().unwrap_or_default(),
                port,
            ))
        })
        .collect()
}

/// Whether two host ports collide: the same protocol and port on the same address, or on
/// any address where either listens on all of them (the scheduler's NodePorts rule).
fn collide(a: &HostPort, b: &HostPort) -> bool {
    let any = |ip: &str| ip.is_empty() || ip == "0.0.0.0" || ip == "::";
    a.0 == b.0 && a.2 == b.2 && (a.1 == b.1 || any(&a.1) || any(&b.1))
}

/// What an admitted pod takes of the node.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Requests {
    pub milli_cpu: f64,
    pub memory: f64,
}

impl Requests {
    /// A pod's effective requests as upstream counts them for admission: the larger of the
    /// sum of its containers and its largest init container, plus its overhead.
    pub fn of(pod: &Pod) -> Requests {
        let Some(spec) = pod.spec.as_ref() else {
            return Requests::default();
        };
        let one = |c: &k8s_openapi::api::core::v1::Container| {
            let get = |name: &str| {
                c.resources
                    .as_ref()
                    .and_then(|r| r.requests.as_ref())
                    .and_then(|r| r.get(name))
                    .and_then(|q| parse_quantity(&q.0))
                    .unwrap_or(0.0)
            };
            Requests {
                milli_cpu: get("cpu") * 1000.0,
                memory: get("memory"),
            }
        };
        let mut sum = Requests::default();
        for c in &spec.containers {
            let r = one(c);
            sum.milli_cpu += r.milli_cpu;
            sum.memory += r.memory;
        }
        for c in spec.init_containers.iter().flatten() {
            let r = one(c);
            sum.milli_cpu = sum.milli_cpu.max(r.milli_cpu);
            sum.memory = sum.memory.max(r.memory);
        }
        if let Some(o) = spec.overhead.as_ref() {
            sum.milli_cpu += o
                .get("cpu")
                .and_then(|q| parse_quantity(&q.0))
                .unwrap_or(0.0)
                * 1000.0;
            sum.memory += o
                .get("memory")
                .and_then(|q| parse_quantity(&q.0))
                .unwrap_or(0.0);
        }
        sum
    }
}

impl NodeContext {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        client: Client,
        name: String,
        config: Arc<NodeConfig>,
        runtime: Arc<dyn Runtime>,
        allocatable: BTreeMap<String, Quantity>,
        pod_cidr: watch::Receiver<Option<String>>,
        stopping: CancellationToken,
        pods: Arc<PodIndex>,
    ) -> NodeContext {
        NodeContext {
            recorder: Recorder::new(client.clone(), "kubelet"),
            client,
            name,
            config,
            runtime,
            allocatable,
            pod_cidr,
            stopping,
            pods,
            images: None,
            admitted: Mutex::new(HashMap::new()),
        }
    }

    /// The directory of a pod's sandbox and logs.
    pub fn pod_dir(&self, pod: &Pod) -> PathBuf {
        let m = &pod.metadata;
        self.config.data_dir.join("pods").join(format!(
            "{}_{}_{}",
            m.namespace.as_deref().unwrap_or_default(),
            m.name.as_deref().unwrap_or_default(),
            m.uid.as_deref().unwrap_or_default()
        ))
    }

    /// Admits `pod` if the node has room for it (the kubelet's admission of resources, pod
    /// count and host ports); otherwise the kubelet's rejection reason and message.
    pub fn admit(&self, uid: &str, pod: &Pod) -> Result<(), (String, String)> {
        let mut admitted = self.admitted.lock().unwrap_or_else(PoisonError::into_inner);
        if admitted.contains_key(uid) {
            return Ok(());
        }
        let alloc = |name: &str| {
            self.allocatable
                .get(name)
                .and_then(|q| parse_quantity(&q.0))
                .unwrap_or(0.0)
        };
        let want = Requests::of(pod);
        let used = admitted
            .values()
            .fold(Requests::default(), |a, (r, _)| Requests {
                milli_cpu: a.milli_cpu + r.milli_cpu,
                memory: a.memory + r.memory,
            });
        let reject = |res: &str, requested: f64, used: f64, capacity: f64| {
            (
                format!("OutOf{res}"),
                format!(
                    "Pod was rejected: Node didn't have enough resource: {res}, requested: {requested}, used: {used}, capacity: {capacity}"
                ),
            )
        };
        let pods = alloc("pods");
        if admitted.len() as f64 + 1.0 > pods {
            return Err(reject("pods", 1.0, admitted.len() as f64, pods));
        }
        let cpu = alloc("cpu") * 1000.0;
        if want.milli_cpu > 0.0 && used.milli_cpu + want.milli_cpu > cpu {
            return Err(reject("cpu", want.milli_cpu, used.milli_cpu, cpu));
        }
        let mem = alloc("memory");
        if want.memory > 0.0 && used.memory + want.memory > mem {
            return Err(reject("memory", want.memory, used.memory, mem));
        }
        let ports = host_ports(pod);
        let taken = admitted
            .values()
            .flat_map(|(_, p)| p.iter())
            .any(|t| ports.iter().any(|p| collide(p, t)));
        if taken {
            // The kubelet's general predicates: NodePorts, worded as its predicate error.
            return Err((
                "NodePorts".into(),
                "Pod was rejected: Predicate NodePorts failed".into(),
            ));
        }
        admitted.insert(uid.to_string(), (want, ports));
        Ok(())
    }

    /// Frees what `uid` took (it has terminated or gone).
    pub fn release(&self, uid: &str) {
        self.admitted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(uid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(proto: &str, ip: &str, port: i32) -> HostPort {
        (proto.into(), ip.into(), port)
    }

    #[test]
    fn host_ports_collide_on_protocol_port_and_overlapping_addresses() {
        assert!(collide(&port("TCP", "", 80), &port("TCP", "127.0.0.1", 80)));
        assert!(collide(
            &port("TCP", "127.0.0.1", 80),
            &port("TCP", "127.0.0.1", 80)
        ));
        assert!(!collide(
            &port("TCP", "127.0.0.1", 80),
            &port("TCP", "127.0.0.2", 80)
        ));
        assert!(!collide(&port("UDP", "", 80), &port("TCP", "", 80)));
        assert!(!collide(&port("TCP", "", 80), &port("TCP", "", 81)));
        let pod: Pod = serde_json::from_value(serde_json::json!({"spec": {"containers": [
            {"name": "c", "ports": [{"containerPort": 80, "hostPort": 8080},
                                     {"containerPort": 53, "protocol": "UDP"}]}]}}))
        .unwrap();
        assert_eq!(host_ports(&pod), vec![port("TCP", "", 8080)]);
    }
}
