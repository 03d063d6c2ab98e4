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
    admitted: Mutex<HashMap<String, Requests>>,
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

    /// Admits `pod` if the node has room for it (the kubelet's admission of resources and
    /// pod count); otherwise the kubelet's rejection reason and message.
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
            .fold(Requests::default(), |a, r| Requests {
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
        admitted.insert(uid.to_string(), want);
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
