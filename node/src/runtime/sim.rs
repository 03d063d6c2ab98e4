//! The simulated runtime (`--runtime sim`), as kwok fakes a node: a sandbox is an IP from the
//! node's pod CIDR and a container is running from the moment it is started until it is
//! stopped. No process, file or namespace is made, so one agent can host thousands of nodes.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::jiff::Timestamp;
use tokio::sync::mpsc;

use super::{
    Attachment, ContainerStart, ExecCommand, ExecProcess, Exit, PodConnection, Runtime, Sandbox,
    SandboxError, StartError,
};
use crate::ip_pool::IpPool;

/// One simulated node's runtime.
#[derive(Default)]
pub struct SimRuntime {
    pool: Mutex<Option<IpPool>>,
    /// Each running container's sandbox and exit channel.
    running: Mutex<HashMap<String, (String, mpsc::UnboundedSender<Exit>)>>,
    ids: AtomicU64,
}

impl SimRuntime {
    pub fn new() -> SimRuntime {
        SimRuntime::default()
    }
}

#[async_trait]
impl Runtime for SimRuntime {
    async fn run_sandbox(
        &self,
        uid: &str,
        dir: PathBuf,
        pod_cidr: Option<&str>,
        _hostname: &str,
    ) -> Result<Sandbox, SandboxError> {
        let cidr = pod_cidr.ok_or(SandboxError::NoPodCidr)?;
        let mut pool = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
        if pool.as_ref().map(IpPool::cidr) != Some(cidr) {
            *pool = Some(
                IpPool::new(cidr)
                    .ok_or_else(|| SandboxError::Failed(format!("unusable pod CIDR {cidr}")))?,
            );
        }
        let ip = pool
            .as_mut()
            .and_then(|p| p.allocate(uid))
            .ok_or_else(|| SandboxError::CidrExhausted(cidr.to_string()))?;
        Ok(Sandbox {
            id: uid.to_string(),
            ip: ip.into(),
            dir,
        })
    }

    async fn start_container(
        &self,
        sandbox: &Sandbox,
        spec: ContainerStart,
    ) -> Result<String, StartError> {
        let id = format!(
            "sim://{}-{}",
            spec.name,
            self.ids.fetch_add(1, Ordering::Relaxed)
        );
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.clone(), (sandbox.id.clone(), spec.exits));
        Ok(id)
    }

    async fn stop_container(&self, id: &str, _grace: Duration) -> Option<Exit> {
        let (_, exits) = self
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id)?;
        let exit = Exit {
            container_id: id.to_string(),
            code: 0,
            signal: None,
            finished_at: Timestamp::now(),
            oom_killed: false,
        };
        let _ = exits.send(exit.clone());
        Some(exit)
    }

    async fn remove_sandbox(&self, sandbox: &Sandbox) {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, (s, _)| *s != sandbox.id);
        if let Some(p) = self
            .pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_mut()
        {
            p.release(&sandbox.id);
        }
    }

    async fn exec(&self, _id: &str, _cmd: ExecCommand) -> Result<ExecProcess, String> {
        Err("a simulated node runs no processes to exec in".into())
    }

    fn attach(&self, _id: &str) -> Option<Attachment> {
        None
    }

    fn usage(&self) -> HashMap<String, crate::resource_usage::Usage> {
        HashMap::new()
    }

    async fn dial(&self, _sandbox: &Sandbox, port: u16) -> std::io::Result<PodConnection> {
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            format!("a simulated pod listens on no port ({port})"),
        ))
    }
}
