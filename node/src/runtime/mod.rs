//! The container runtime interface the pod workers drive (the kubelet's CRI, reduced to what
//! the agent needs): a sandbox per pod holding its IP, containers started in it and stopped
//! with a grace period, exits reported on a channel.

pub mod host_exec;
pub mod process;
pub mod sandbox;
pub mod sim;

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::jiff::Timestamp;
use tokio::net::TcpStream;
use tokio::process::ChildStdin;
use tokio::sync::broadcast;
use tokio::sync::mpsc;

pub use host_exec::{ExecCommand, ExecProcess, Terminal};

/// containerd's default `PATH` for a container whose environment has none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A pod's sandbox: what its containers share.
#[derive(Clone, Debug)]
pub struct Sandbox {
    pub id: String,
    pub ip: IpAddr,
    /// The pod's own directory (logs, the process runtime's working dir).
    pub dir: PathBuf,
}

/// A container to start.
#[derive(Debug)]
pub struct ContainerStart {
    pub name: String,
    pub image: String,
    /// Its image's unpacked layers, topmost first, that its root is an overlay of (the sandbox
    /// runtime); empty: it runs on the host's filesystem.
    pub rootfs: Vec<PathBuf>,
    /// What it runs: `command` and `args` with `$(VAR)` references expanded, combined with
    /// the image's entrypoint and cmd.
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub working_dir: Option<String>,
    /// The CRI log file its output goes to.
    pub log_path: PathBuf,
    /// Whether it gets a stdin (`stdin: true`) that clients can attach to, and whether that is
    /// closed once the first attached client leaves (`stdinOnce`).
    pub stdin: bool,
    pub stdin_once: bool,
    /// Its volumes, bind-mounted where the container asked (the sandbox runtime; the process
    /// runtime shares the host's filesystem and mounts nothing).
    pub mounts: Vec<sandbox::init::BindMount>,
    /// Its cgroup limits (the sandbox runtime).
    pub limits: sandbox::cgroup::Limits,
    /// `securityContext.runAsUser` and `runAsGroup` (the sandbox runtime).
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// Where its exit is reported.
    pub exits: mpsc::UnboundedSender<Exit>,
}

/// How a container ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Exit {
    pub container_id: String,
    /// The exit code; 128 + N when killed by signal N, as container runtimes report it.
    pub code: i32,
    pub signal: Option<i32>,
    pub finished_at: Timestamp,
    pub oom_killed: bool,
}

impl Exit {
    /// The code and signal of a process's end, as container runtimes report them: the exit
    /// code, or 128 + N when killed by signal N; 255 when it could not be waited for.
    pub fn code_of(status: std::io::Result<std::process::ExitStatus>) -> (i32, Option<i32>) {
        use std::os::unix::process::ExitStatusExt;
        match status {
            Ok(s) => match (s.code(), s.signal()) {
                (Some(c), _) => (c, None),
                (None, Some(sig)) => (128 + sig, Some(sig)),
                (None, None) => (255, None),
            },
            Err(_) => (255, None),
        }
    }

    /// The container state's `reason`, as containerd reports it.
    pub fn reason(&self) -> &'static str {
        if self.oom_killed {
            "OOMKilled"
        } else if self.code == 0 {
            "Completed"
        } else {
            "Error"
        }
    }
}

/// Why a container did not start.
#[derive(Clone, Debug, thiserror::Error)]
pub enum StartError {
    /// Its image is not available (the kubelet's `ErrImagePull`, then `ImagePullBackOff`).
    #[error("{0}")]
    Image(String),
    /// Its image can never be had as asked: waiting with `reason` (`InvalidImageName`,
    /// `ErrImageNeverPull`), retried with the image back-off.
    #[error("{1}")]
    ImageRefused(&'static str, String),
    /// The runtime could not run it (`StartError`, exit code 128).
    #[error("{0}")]
    Start(String),
}

/// Why a sandbox could not be made.
#[derive(Clone, Debug, thiserror::Error)]
pub enum SandboxError {
    /// The node has no `spec.podCIDR` yet to take the pod's IP from.
    #[error("the node has no pod CIDR yet")]
    NoPodCidr,
    /// Every address of the node's pod CIDR is in use.
    #[error("no free IP address in the pod CIDR {0}")]
    CidrExhausted(String),
    #[error("{0}")]
    Failed(String),
}

/// What `kubectl attach` connects to: the container's output from now on and its stdin.
pub struct Attachment {
    pub output: broadcast::Receiver<crate::cri_log::Output>,
    /// Its stdin while open; taking it out closes it (`stdinOnce`).
    pub stdin: Option<Arc<tokio::sync::Mutex<Option<ChildStdin>>>>,
    pub stdin_once: bool,
    /// Resolves once the container has exited.
    pub exited: tokio::sync::watch::Receiver<Option<Exit>>,
}

/// A connection to a port of a pod (`kubectl port-forward`), as two halves.
pub struct PodConnection {
    pub reader: host_exec::Reader,
    pub writer: host_exec::Writer,
}

impl From<TcpStream> for PodConnection {
    fn from(tcp: TcpStream) -> PodConnection {
        let (reader, writer) = tcp.into_split();
        PodConnection {
            reader: Box::new(reader),
            writer: Box::new(writer),
        }
    }
}

/// A node's container runtime.
#[async_trait]
pub trait Runtime: Send + Sync {
    /// Makes the sandbox of the pod `uid`; the IP comes from `pod_cidr` where the runtime gives
    /// pods their own addresses, and `hostname` is the pod's where it has its own.
    async fn run_sandbox(
        &self,
        uid: &str,
        dir: PathBuf,
        pod_cidr: Option<&str>,
        hostname: &str,
    ) -> Result<Sandbox, SandboxError>;

    /// Starts a container in `sandbox`; returns its id.
    async fn start_container(
        &self,
        sandbox: &Sandbox,
        spec: ContainerStart,
    ) -> Result<String, StartError>;

    /// Stops a container: SIGTERM, then SIGKILL once `grace` has passed. Returns its exit once
    /// it has exited (`None` when it had already gone).
    async fn stop_container(&self, id: &str, grace: Duration) -> Option<Exit>;

    /// Removes the sandbox (its containers stopped first) and frees its IP.
    async fn remove_sandbox(&self, sandbox: &Sandbox);

    /// Runs a command in the running container `id` (`kubectl exec`).
    async fn exec(&self, id: &str, cmd: ExecCommand) -> Result<ExecProcess, String>;

    /// Attaches to the running container `id`.
    fn attach(&self, id: &str) -> Option<Attachment>;

    /// Every running container's usage, by id.
    fn usage(&self) -> std::collections::HashMap<String, crate::resource_usage::Usage>;

    /// Connects to `port` of the pod (`kubectl port-forward`), as a process in its network
    /// namespace would reach `localhost`.
    async fn dial(&self, sandbox: &Sandbox, port: u16) -> std::io::Result<PodConnection>;

    /// Removes what the runtime made for the node itself once the agent stops (its pods'
    /// sandboxes are removed first).
    async fn shutdown(&self) {}
}
