//! What one `capstan node` process is asked to be: its node's name, where it keeps its state,
//! which runtime runs its pods and what it offers the scheduler.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// How the agent runs containers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuntimeKind {
    /// Host processes, one process group per container; the pod's IP is the node's.
    Process,
    /// Pods in their own namespaces, with an IP of the node's pod CIDR (root).
    Sandbox,
    /// No processes: containers are running as soon as they are started, until stopped.
    Sim,
}

impl RuntimeKind {
    /// The name `--runtime` takes and `nodeInfo.containerRuntimeVersion` reports.
    pub fn name(self) -> &'static str {
        match self {
            RuntimeKind::Process => "process",
            RuntimeKind::Sandbox => "sandbox",
            RuntimeKind::Sim => "sim",
        }
    }
}

/// The agent's configuration (the kubelet's flags and config file, the parts that apply).
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// The Node's name; with `sim > 0`, the prefix of `name-0 … name-(sim-1)`.
    pub name: String,
    /// Where pods' logs and the agent's state live.
    pub data_dir: PathBuf,
    pub runtime: RuntimeKind,
    /// Simulated nodes in this process (`--sim K`); 0 runs one node named `name`.
    pub sim: usize,
    /// `status.addresses` InternalIP, the pods' `hostIP`, and (process runtime) their `podIP`.
    pub node_ip: IpAddr,
    /// The port of the agent's HTTPS endpoint (0: any free port, reported in the Node's
    /// `daemonEndpoints`).
    pub port: u16,
    /// The CA certificates (DER) whose client certificates the endpoint accepts: the
    /// cluster CA, from the kubeconfig.
    pub client_ca: Vec<Vec<u8>>,
    /// `capacity.pods` (the kubelet's `--max-pods`, default 110).
    pub max_pods: u32,
    /// Capacity overrides (`--capacity cpu=4,memory=8Gi`); the rest comes from the machine.
    pub capacity: BTreeMap<String, Quantity>,
    /// Labels added to the Node at registration (`--node-labels`).
    pub labels: BTreeMap<String, String>,
    /// How often the Lease is renewed (the kubelet renews every 10 s, a quarter of 40 s).
    pub lease_renew_interval: Duration,
    /// The Lease's `leaseDurationSeconds` (the kubelet's `nodeLeaseDurationSeconds`, 40).
    pub lease_duration_seconds: i32,
    /// How often node status is computed (`nodeStatusUpdateFrequency`, 10 s); it is written
    /// when it changed or `status_report_interval` passed.
    pub status_update_interval: Duration,
    /// `nodeStatusReportFrequency` (5 minutes).
    pub status_report_interval: Duration,
    /// On stop, stop the pods gracefully and report them Failed (the kubelet's graceful node
    /// shutdown); `false` leaves their objects as they are.
    pub stop_pods_on_exit: bool,
    /// The longest a pod gets to stop when the agent stops (`shutdownGracePeriod`).
    pub shutdown_grace_period: Duration,
    /// The binary whose hidden `sandbox-init` command the sandbox runtime runs (default: this
    /// process's own executable, the `capstan` binary).
    pub helper: Option<PathBuf>,
    /// The image store (`--image-dir`; default `data_dir/images`).
    pub image_dir: Option<PathBuf>,
    /// Where each registry is pulled from (`--registry REGISTRY=ENDPOINT`).
    pub registries: Vec<crate::images::RegistryRule>,
}

impl NodeConfig {
    /// A configuration with the kubelet's defaults.
    pub fn new(name: impl Into<String>, data_dir: impl Into<PathBuf>) -> NodeConfig {
        NodeConfig {
            name: name.into(),
            data_dir: data_dir.into(),
            runtime: RuntimeKind::Process,
            sim: 0,
            node_ip: IpAddr::from([127, 0, 0, 1]),
            port: 0,
            client_ca: Vec::new(),
            max_pods: 110,
            capacity: BTreeMap::new(),
            labels: BTreeMap::new(),
            lease_renew_interval: Duration::from_secs(10),
            lease_duration_seconds: 40,
            status_update_interval: Duration::from_secs(10),
            status_report_interval: Duration::from_secs(300),
            stop_pods_on_exit: true,
            shutdown_grace_period: Duration::from_secs(30),
            helper: None,
            image_dir: None,
            registries: Vec::new(),
        }
    }

    /// Where the node's images are stored.
    pub fn image_dir(&self) -> PathBuf {
        self.image_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("images"))
    }

    /// The names of the nodes this process runs.
    pub fn node_names(&self) -> Vec<String> {
        if self.sim == 0 {
            vec![self.name.clone()]
        } else {
            (0..self.sim)
                .map(|i| format!("{}-{i}", self.name))
                .collect()
        }
    }
}
