//! The process runtime (`--runtime process`, the default without root): each container is a
//! host process in its own process group, run with the container's environment and working
//! dir, its output written to its CRI log file. The pod's IP is the node's. When a container's
//! main process exits, the rest of its group is killed, as a PID namespace dies with its first
//! process; stopping sends SIGTERM to the group and SIGKILL once the grace period is over.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::jiff::Timestamp;
use rustix::process::{kill_process_group, Pid, Signal};
use tokio::net::TcpStream;
use tokio::process::ChildStdin;
use tokio::sync::{broadcast, watch};

use crate::resource_usage::Usage;

use super::{
    host_exec, Attachment, ContainerStart, ExecCommand, ExecProcess, Exit, PodConnection, Runtime,
    Sandbox, SandboxError, StartError, DEFAULT_PATH,
};
use crate::cri_log;

/// How long a container's output may keep flowing after its main process exited (a child
/// that left the process group can hold the pipe open).
const DRAIN: Duration = Duration::from_secs(2);

struct Proc {
    sandbox: String,
    pgid: Pid,
    done: watch::Receiver<Option<Exit>>,
    output: broadcast::Sender<crate::cri_log::Output>,
    stdin: Option<Arc<tokio::sync::Mutex<Option<ChildStdin>>>>,
    stdin_once: bool,
}

/// The runtime of one node whose containers are host processes.
pub struct ProcessRuntime {
    node_ip: IpAddr,
    procs: Mutex<HashMap<String, Proc>>,
    ids: AtomicU64,
}

impl ProcessRuntime {
    pub fn new(node_ip: IpAddr) -> ProcessRuntime {
        ProcessRuntime {
            node_ip,
            procs: Mutex::new(HashMap::new()),
            ids: AtomicU64::new(0),
        }
    }

    fn signal(pgid: Pid, sig: Signal) {
        // ESRCH: the group has gone already, which is what the signal was for.
        let _ = kill_process_group(pgid, sig);
    }
}

/// Every process group's CPU time and resident memory, summed over its processes from
/// `/proc/<pid>/stat` (a container's processes are its group).
fn process_groups_usage() -> HashMap<i32, Usage> {
    let tick_ns = 1_000_000_000 / rustix::param::clock_ticks_per_second().max(1);
    let page = rustix::param::page_size() as u64;
    let mut out: HashMap<i32, Usage> = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // Fields after the command (which may hold spaces) start with the state (field 3).
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        let Some(pgrp) = f.get(2).and_then(|v| v.parse::<i32>().ok()) else {
            continue;
        };
        // utime, stime, cutime and cstime are fields 14 to 17 (the last two: children it has
        // waited for, whose time would otherwise be lost), rss field 24 (1-based, counted
        // from the pid).
        let u = out.entry(pgrp).or_default();
        u.cpu_ns += (num(11) + num(12) + num(13) + num(14)) * tick_ns;
        u.memory_bytes += num(21) * page;
    }
    out
}

#[async_trait]
impl Runtime for ProcessRuntime {
    async fn run_sandbox(
        &self,
        uid: &str,
        dir: PathBuf,
        _pod_cidr: Option<&str>,
        _hostname: &str,
    ) -> Result<Sandbox, SandboxError> {
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| SandboxError::Failed(format!("creating {}: {e}", dir.display())))?;
        Ok(Sandbox {
            id: uid.to_string(),
            ip: self.node_ip,
            dir,
        })
    }

    async fn start_container(
        &self,
        sandbox: &Sandbox,
        spec: ContainerStart,
    ) -> Result<String, StartError> {
        let Some((program, args)) = spec.argv.split_first() else {
            return Err(StartError::Image(format!(
                "image {:?} is not in this node's image store and the container has no \
                 command to run on the host",
                spec.image
            )));
        };
        let log = cri_log::open(&spec.log_path)
            .await
            .map_err(StartError::Start)?;
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(args)
            .env_clear()
            .current_dir(
                spec.working_dir
                    .as_deref()
                    .map_or(sandbox.dir.clone(), PathBuf::from),
            )
            .stdin(if spec.stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        if !spec.env.iter().any(|(k, _)| k == "PATH") {
            cmd.env("PATH", DEFAULT_PATH);
        }
        cmd.envs(spec.env.iter().map(|(k, v)| (k, v)));
        let mut child = cmd.spawn().map_err(|e| {
            StartError::Start(format!(
                "failed to start container {:?}: exec: {program:?}: {e}",
                spec.name
            ))
        })?;
        let pgid = child
            .id()
            .and_then(|p| i32::try_from(p).ok())
            .and_then(Pid::from_raw)
            .ok_or_else(|| StartError::Start("the process exited before it started".into()))?;
        let id = format!(
            "process://{}-{}",
            pgid.as_raw_nonzero(),
            self.ids.fetch_add(1, Ordering::Relaxed)
        );
        let capture = cri_log::Capture::start(&mut child, log);
        let output = capture.live.clone();
        let stdin = child
            .stdin
            .take()
            .map(|s| Arc::new(tokio::sync::Mutex::new(Some(s))));
        let (done_tx, done) = watch::channel(None);
        let exits = spec.exits;
        let container_id = id.clone();
        tokio::spawn(async move {
            let status = child.wait().await;
            // The main process is gone: so is the rest of its group.
            ProcessRuntime::signal(pgid, Signal::KILL);
            capture.finish(DRAIN).await;
            let (code, signal) = Exit::code_of(status);
            let exit = Exit {
                container_id,
                code,
                signal,
                finished_at: Timestamp::now(),
                oom_killed: false,
            };
            let _ = done_tx.send(Some(exit.clone()));
            let _ = exits.send(exit);
        });
        self.procs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                id.clone(),
                Proc {
                    sandbox: sandbox.id.clone(),
                    pgid,
                    done,
                    output,
                    stdin,
                    stdin_once: spec.stdin_once,
                },
            );
        Ok(id)
    }

    async fn stop_container(&self, id: &str, grace: Duration) -> Option<Exit> {
        let (pgid, mut done) = {
            let procs = self.procs.lock().unwrap_or_else(PoisonError::into_inner);
            let p = procs.get(id)?;
            (p.pgid, p.done.clone())
        };
        if done.borrow().is_none() {
            ProcessRuntime::signal(pgid, Signal::TERM);
            let exited = tokio::time::timeout(grace, done.wait_for(Option::is_some)).await;
            if exited.is_err() {
                ProcessRuntime::signal(pgid, Signal::KILL);
            }
        }
        let exit = done.wait_for(Option::is_some).await.ok()?.clone();
        self.procs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
        exit
    }

    async fn exec(&self, id: &str, cmd: ExecCommand) -> Result<ExecProcess, String> {
        let running = self
            .procs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .is_some_and(|p| p.done.borrow().is_none());
        if !running {
            return Err(format!("container {id} is not running"));
        }
        host_exec::spawn(&cmd)
    }

    fn attach(&self, id: &str) -> Option<Attachment> {
        let procs = self.procs.lock().unwrap_or_else(PoisonError::into_inner);
        let p = procs.get(id)?;
        Some(Attachment {
            output: p.output.subscribe(),
            stdin: p.stdin.clone(),
            stdin_once: p.stdin_once,
            exited: p.done.clone(),
        })
    }

    fn usage(&self) -> HashMap<String, Usage> {
        let groups: Vec<(String, i32)> = self
            .procs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(_, p)| p.done.borrow().is_none())
            .map(|(id, p)| (id.clone(), p.pgid.as_raw_nonzero().get()))
            .collect();
        let by_group = process_groups_usage();
        groups
            .into_iter()
            .map(|(id, pgid)| (id, by_group.get(&pgid).copied().unwrap_or_default()))
            .collect()
    }

    async fn dial(&self, _sandbox: &Sandbox, port: u16) -> std::io::Result<PodConnection> {
        // The pod shares the node's network: its localhost is the node's.
        TcpStream::connect((std::net::Ipv4Addr::LOCALHOST, port))
            .await
            .map(PodConnection::from)
    }

    async fn remove_sandbox(&self, sandbox: &Sandbox) {
        let ids: Vec<String> = self
            .procs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(_, p)| p.sandbox == sandbox.id)
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            self.stop_container(&id, Duration::ZERO).await;
        }
    }
}
