//! The sandbox runtime (`--runtime sandbox`, the default as root): a pod gets its own
//! network, IPC and UTS namespaces (held by a pause process, with the pod's hostname), an
//! `eth0` on the node's bridge with an IP of the node's pod CIDR, and a managed `/etc/hosts`.
//! Each container gets its own mount and PID namespaces (its command is PID 1, as in any
//! container runtime), a root that is an overlay over the host's `/` (so its writes stay its
//! own), its volumes bind-mounted, its user and group, and a cgroup with its memory and CPU
//! limits, whose OOM kills are reported as `OOMKilled`. The helper processes are the binary's
//! hidden `capstan sandbox-init` (`init.rs`); the network is `network.rs`, the cgroups
//! `cgroup.rs`.

pub mod cgroup;
pub mod init;
pub mod network;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use k8s_openapi::jiff::Timestamp;
use rustix::process::{kill_process, Pid, Signal};
use tokio::io::AsyncBufReadExt;
use tokio::process::ChildStdin;
use tokio::sync::{broadcast, watch};

use self::cgroup::{Cgroup, Layout};
use self::init::{BindMount, InitSpec};
use self::network::NodeNetwork;
use super::{
    host_exec, Attachment, ContainerStart, ExecCommand, ExecProcess, Exit, PodConnection, Runtime,
    Sandbox, SandboxError, StartError,
};
use crate::cri_log;
use crate::ip_pool::IpPool;
use crate::resource_usage::Usage;

/// How long a container's output may keep flowing after it exited.
const DRAIN: Duration = Duration::from_secs(2);
/// How long a container's namespaces and mounts may take to be set up.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether this process runs as root (the sandbox runtime needs it).
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// A stable short key of a node's name (FNV-1a, 32 bits), in the names of its bridge, veths,
/// nftables table and cgroups.
pub fn node_key(node: &str) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in node.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("{h:08x}")
}

struct PodSandbox {
    pause: tokio::process::Child,
    veth: String,
}

struct Container {
    sandbox: String,
    /// The host PID of the container's first process.
    pid: Pid,
    cgroup: Cgroup,
    working_dir: String,
    uid: Option<u32>,
    gid: Option<u32>,
    done: watch::Receiver<Option<Exit>>,
    output: broadcast::Sender<cri_log::Output>,
    stdin: Option<Arc<tokio::sync::Mutex<Option<ChildStdin>>>>,
    stdin_once: bool,
}

/// One node's sandbox runtime.
pub struct SandboxRuntime {
    key: String,
    /// The binary holding `sandbox-init`.
    helper: PathBuf,
    layout: Layout,
    network: tokio::sync::Mutex<Option<NodeNetwork>>,
    pool: Mutex<Option<IpPool>>,
    pods: Mutex<HashMap<String, PodSandbox>>,
    containers: Mutex<HashMap<String, Container>>,
    ids: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The kubelet's managed `/etc/hosts`.
fn hosts_file(ip: Ipv4Addr, hostname: &str) -> String {
    format!(
        "# Kubernetes-managed hosts file.\n\
         127.0.0.1\tlocalhost\n\
         ::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\n\
         fe00::0\tip6-mcastprefix\n\
         fe00::1\tip6-allnodes\n\
         fe00::2\tip6-allrouters\n\
         {ip}\t{hostname}\n"
    )
}

impl SandboxRuntime {
    /// The runtime of node `node`, whose helper is `helper` (the `capstan` binary).
    pub fn new(node: &str, helper: PathBuf) -> SandboxRuntime {
        SandboxRuntime {
            key: node_key(node),
            helper,
            layout: Layout::detect(),
            network: tokio::sync::Mutex::new(None),
            pool: Mutex::new(None),
            pods: Mutex::new(HashMap::new()),
            containers: Mutex::new(HashMap::new()),
            ids: AtomicU64::new(0),
        }
    }

    fn ip_for(&self, uid: &str, cidr: &str) -> Result<Ipv4Addr, SandboxError> {
        let mut pool = lock(&self.pool);
        if pool.as_ref().map(IpPool::cidr) != Some(cidr) {
            *pool = Some(
                IpPool::new(cidr)
                    .ok_or_else(|| SandboxError::Failed(format!("unusable pod CIDR {cidr}")))?,
            );
        }
        pool.as_mut()
            .and_then(|p| p.allocate(uid))
            .ok_or_else(|| SandboxError::CidrExhausted(cidr.to_string()))
    }

    fn release_ip(&self, uid: &str) {
        if let Some(p) = lock(&self.pool).as_mut() {
            p.release(uid);
        }
    }

    async fn network(&self, cidr: &str) -> Result<(), String> {
        let mut net = self.network.lock().await;
        if net.is_none() {
            *net = Some(NodeNetwork::up(&self.key, cidr).await?);
        }
        Ok(())
    }

    /// The host PID of the pause process of `sandbox`.
    fn pause_pid(&self, sandbox: &str) -> Option<u32> {
        lock(&self.pods).get(sandbox).and_then(|p| p.pause.id())
    }

    fn signal(pid: Pid, sig: Signal) {
        // ESRCH: it has gone already, which is what the signal was for.
        let _ = kill_process(pid, sig);
    }

    async fn start(
        &self,
        sandbox: &Sandbox,
        spec: ContainerStart,
        id: &str,
    ) -> Result<Container, StartError> {
        let failed =
            |what: &str, e: &dyn std::fmt::Display| StartError::Start(format!("{what}: {e}"));
        let pause = self
            .pause_pid(&sandbox.id)
            .ok_or_else(|| StartError::Start("the pod's sandbox is gone".into()))?;
        let dir = sandbox.dir.join(".containers").join(id);
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| failed(&format!("creating {}", dir.display()), &e))?;
        let log = cri_log::open(&spec.log_path)
            .await
            .map_err(StartError::Start)?;
        let cgroup =
            Cgroup::create(self.layout, &self.key, id, spec.limits).map_err(StartError::Start)?;
        let fifo = dir.join("start");
        let _ = std::fs::remove_file(&fifo);
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .map_err(|e| failed("creating the start FIFO", &e))?;
        // Held open for reading and writing, so it never reads as ended before the helper
        // opened it.
        let reports = tokio::net::unix::pipe::OpenOptions::new()
            .read_write(true)
            .open_receiver(&fifo)
            .map_err(|e| failed("opening the start FIFO", &e))?;
        let mut mounts = spec.mounts.clone();
        if !mounts.iter().any(|m| m.target == Path::new("/etc/hosts")) {
            mounts.push(BindMount {
                source: sandbox.dir.join("etc-hosts"),
                target: PathBuf::from("/etc/hosts"),
                read_only: false,
            });
        }
        // In its image, a container resolves names as the host does (the kubelet's
        // `dnsPolicy: Default`); on the host's filesystem it sees the host's file anyway.
        let resolv = Path::new("/etc/resolv.conf");
        if !spec.rootfs.is_empty() && resolv.exists() && !mounts.iter().any(|m| m.target == resolv)
        {
            mounts.push(BindMount {
                source: resolv.to_path_buf(),
                target: resolv.to_path_buf(),
                read_only: true,
            });
        }
        let init = InitSpec {
            lower: if spec.rootfs.is_empty() {
                vec![PathBuf::from("/")]
            } else {
                spec.rootfs.clone()
            },
            upper: dir.join("upper"),
            work: dir.join("work"),
            root: dir.join("rootfs"),
            mounts,
            cgroups: cgroup.procs_files(),
            report: fifo.clone(),
            argv: spec.argv.clone(),
            env: spec.env.clone(),
            working_dir: spec.working_dir.clone(),
            uid: spec.uid,
            gid: spec.gid,
        };
        let spec_path = dir.join("init.json");
        let json = serde_json::to_vec(&init).map_err(|e| failed("encoding the init spec", &e))?;
        tokio::fs::write(&spec_path, json)
            .await
            .map_err(|e| failed(&format!("writing {}", spec_path.display()), &e))?;
        let target = pause.to_string();
        let mut cmd = tokio::process::Command::new("nsenter");
        cmd.args(["--target", &target, "--net", "--ipc", "--uts", "--"])
            .args([
                "unshare",
                "--pid",
                "--mount",
                "--propagation",
                "private",
                "--",
            ])
            .arg(&self.helper)
            .args(["sandbox-init", "container"])
            .arg(&spec_path)
            .env_clear()
            .stdin(if spec.stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(false);
        let mut child = cmd.spawn().map_err(|e| failed("starting nsenter", &e))?;
        let capture = cri_log::Capture::start(&mut child, log);
        let output = capture.live.clone();
        let stdin = child
            .stdin
            .take()
            .map(|s| Arc::new(tokio::sync::Mutex::new(Some(s))));
        let (done_tx, mut done) = watch::channel(None);
        let container_id = format!("sandbox://{id}");
        let exit_cgroup = cgroup.clone();
        tokio::spawn(async move {
            let status = child.wait().await;
            capture.finish(DRAIN).await;
            let (code, signal) = Exit::code_of(status);
            let oom_killed = exit_cgroup.oom_killed();
            exit_cgroup.kill_all();
            let _ = done_tx.send(Some(Exit {
                container_id,
                code,
                signal,
                finished_at: Timestamp::now(),
                oom_killed,
            }));
            for _ in 0..50 {
                if exit_cgroup.pids().is_empty() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            exit_cgroup.remove();
        });
        let mut lines = tokio::io::BufReader::new(reports).lines();
        let mut pid = None;
        let mut ok = false;
        let outcome = tokio::time::timeout(START_TIMEOUT, async {
            // `pid` (from the helper) and `ok` (from the container's first process) may come
            // in either order.
            loop {
                if ok && pid.is_some() {
                    return Ok(());
                }
                // The reports are written before the container can exit: read them first.
                tokio::select! {
                    biased;
                    line = lines.next_line() => match line {
                        Ok(Some(l)) if l == "ok" => ok = true,
                        Ok(Some(l)) => {
                            if let Some(p) = l.strip_prefix("pid ") {
                                pid = p.trim().parse::<i32>().ok().and_then(Pid::from_raw);
                            } else if let Some(e) = l.strip_prefix("error ") {
                                return Err(e.to_string());
                            }
                        }
                        Ok(None) | Err(_) => return Err("the start report ended".to_string()),
                    },
                    exited = done.wait_for(Option::is_some) => {
                        let code = exited.ok().and_then(|e| e.as_ref().map(|e| e.code)).unwrap_or(255);
                        return Err(format!("the container's sandbox setup failed (exit code {code})"));
                    }
                }
            }
        })
        .await
        .unwrap_or_else(|_| Err("timed out setting up the container".into()));
        let _ = std::fs::remove_file(&fifo);
        let started = outcome.and_then(|()| pid.ok_or_else(|| "no PID reported".to_string()));
        let pid = match started {
            Ok(pid) => pid,
            Err(e) => {
                if let Some(pid) = pid {
                    SandboxRuntime::signal(pid, Signal::KILL);
                }
                cgroup.kill_all();
                return Err(StartError::Start(format!(
                    "failed to create containerd task: failed to create shim task: {e}"
                )));
            }
        };
        let exits = spec.exits;
        let mut forward = done.clone();
        tokio::spawn(async move {
            if let Ok(exit) = forward.wait_for(Option::is_some).await {
                if let Some(exit) = exit.clone() {
                    let _ = exits.send(exit);
                }
            }
        });
        Ok(Container {
            sandbox: sandbox.id.clone(),
            pid,
            cgroup,
            working_dir: spec.working_dir.unwrap_or_else(|| "/".into()),
            uid: spec.uid,
            gid: spec.gid,
            done,
            output,
            stdin,
            stdin_once: spec.stdin_once,
        })
    }
}

#[async_trait]
impl Runtime for SandboxRuntime {
    async fn run_sandbox(
        &self,
        uid: &str,
        dir: PathBuf,
        pod_cidr: Option<&str>,
        hostname: &str,
    ) -> Result<Sandbox, SandboxError> {
        let cidr = pod_cidr.ok_or(SandboxError::NoPodCidr)?;
        self.network(cidr).await.map_err(SandboxError::Failed)?;
        let ip = self.ip_for(uid, cidr)?;
        let made = async {
            tokio::fs::create_dir_all(&dir)
                .await
                .map_err(|e| format!("creating {}: {e}", dir.display()))?;
            tokio::fs::write(dir.join("etc-hosts"), hosts_file(ip, hostname))
                .await
                .map_err(|e| format!("writing the pod's hosts file: {e}"))?;
            let pause = tokio::process::Command::new("unshare")
                .args(["--net", "--ipc", "--uts", "--"])
                .arg(&self.helper)
                .args(["sandbox-init", "pause", hostname])
                .env_clear()
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| format!("starting the pause process: {e}"))?;
            let pid = pause.id().ok_or("the pause process exited at once")?;
            // unshare has made the namespaces once the process runs the helper.
            let own = std::fs::read_link("/proc/self/ns/uts").ok();
            for _ in 0..500 {
                let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok();
                let uts = std::fs::read_link(format!("/proc/{pid}/ns/uts")).ok();
                if exe.as_deref() == Some(self.helper.as_path()) && uts != own {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            let veth = format!(
                "{}{}{:04x}",
                network::VETH_PREFIX,
                self.key,
                self.ids.fetch_add(1, Ordering::Relaxed) & 0xffff
            );
            let net = self.network.lock().await;
            let attached = match net.as_ref() {
                Some(n) => n.attach(pid, &veth, ip).await,
                None => Err("the node's network is down".into()),
            };
            if let Err(e) = attached {
                network::detach(&veth).await;
                return Err(e);
            }
            Ok::<_, String>(PodSandbox { pause, veth })
        }
        .await;
        match made {
            Ok(p) => {
                lock(&self.pods).insert(uid.to_string(), p);
                Ok(Sandbox {
                    id: uid.to_string(),
                    ip: IpAddr::V4(ip),
                    dir,
                })
            }
            Err(e) => {
                self.release_ip(uid);
                Err(SandboxError::Failed(e))
            }
        }
    }

    async fn start_container(
        &self,
        sandbox: &Sandbox,
        spec: ContainerStart,
    ) -> Result<String, StartError> {
        if spec.argv.is_empty() && !spec.rootfs.is_empty() {
            return Err(StartError::Start(format!(
                "image {:?} has no entrypoint or cmd and the container no command: no command \
                 specified",
                spec.image
            )));
        }
        if spec.argv.is_empty() {
            return Err(StartError::Image(format!(
                "image {:?} is not in this node's image store and the container has no \
                 command to run on the host",
                spec.image
            )));
        }
        let id = format!(
            "{}{:08x}",
            self.key,
            self.ids.fetch_add(1, Ordering::Relaxed)
        );
        let c = self.start(sandbox, spec, &id).await?;
        lock(&self.containers).insert(id.clone(), c);
        Ok(format!("sandbox://{id}"))
    }

    async fn stop_container(&self, id: &str, grace: Duration) -> Option<Exit> {
        let key = id.strip_prefix("sandbox://").unwrap_or(id).to_string();
        let (pid, cgroup, mut done) = {
            let containers = lock(&self.containers);
            let c = containers.get(&key)?;
            (c.pid, c.cgroup.clone(), c.done.clone())
        };
        if done.borrow().is_none() {
            // The command is PID 1 of its namespace: it gets SIGTERM only if it handles it,
            // as in every container runtime.
            SandboxRuntime::signal(pid, Signal::TERM);
            let exited = tokio::time::timeout(grace, done.wait_for(Option::is_some)).await;
            if exited.is_err() {
                SandboxRuntime::signal(pid, Signal::KILL);
                cgroup.kill_all();
            }
        }
        let exit = done.wait_for(Option::is_some).await.ok()?.clone();
        lock(&self.containers).remove(&key);
        exit
    }

    async fn exec(&self, id: &str, cmd: ExecCommand) -> Result<ExecProcess, String> {
        let key = id.strip_prefix("sandbox://").unwrap_or(id);
        let (pid, dir, uid, gid) = {
            let containers = lock(&self.containers);
            let c = containers
                .get(key)
                .filter(|c| c.done.borrow().is_none())
                .ok_or_else(|| format!("container {id} is not running"))?;
            (c.pid, c.working_dir.clone(), c.uid, c.gid)
        };
        let Some((program, args)) = cmd.argv.split_first() else {
            return Err("no command given".into());
        };
        let root = PathBuf::from(format!("/proc/{}/root", pid.as_raw_nonzero()));
        let inside = host_exec::resolve_under(&root, program, host_exec::path_of(&cmd.env))?;
        let target = pid.as_raw_nonzero().to_string();
        let mut argv: Vec<String> = [
            "nsenter", "--target", &target, "--mount", "--uts", "--ipc", "--net", "--pid", "--root",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        argv.push(format!("--wd={dir}"));
        if let Some(g) = gid.or(uid.map(|_| 0)) {
            argv.push(format!("--setgid={g}"));
        }
        if let Some(u) = uid {
            argv.push(format!("--setuid={u}"));
        }
        argv.push("--".into());
        argv.push(inside.display().to_string());
        argv.extend(args.iter().cloned());
        host_exec::spawn(&ExecCommand {
            argv,
            dir: PathBuf::from("/"),
            ..cmd
        })
    }

    fn attach(&self, id: &str) -> Option<Attachment> {
        let key = id.strip_prefix("sandbox://").unwrap_or(id);
        let containers = lock(&self.containers);
        let c = containers.get(key)?;
        Some(Attachment {
            output: c.output.subscribe(),
            stdin: c.stdin.clone(),
            stdin_once: c.stdin_once,
            exited: c.done.clone(),
        })
    }

    fn usage(&self) -> HashMap<String, Usage> {
        lock(&self.containers)
            .iter()
            .filter(|(_, c)| c.done.borrow().is_none())
            .map(|(k, c)| (format!("sandbox://{k}"), c.cgroup.usage()))
            .collect()
    }

    async fn dial(&self, sandbox: &Sandbox, port: u16) -> std::io::Result<PodConnection> {
        use tokio::io::AsyncReadExt;
        let refused = |m: String| std::io::Error::new(std::io::ErrorKind::ConnectionRefused, m);
        let pause = self
            .pause_pid(&sandbox.id)
            .ok_or_else(|| refused("the pod's sandbox is gone".into()))?;
        // A helper in the pod's network namespace connects to its localhost and relays.
        let mut child = tokio::process::Command::new("nsenter")
            .args(["--target", &pause.to_string(), "--net", "--"])
            .arg(&self.helper)
            .args(["sandbox-init", "dial", &port.to_string()])
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(false)
            .spawn()?;
        let (Some(mut reader), Some(writer), Some(mut errors)) =
            (child.stdout.take(), child.stdin.take(), child.stderr.take())
        else {
            return Err(refused("the relay has no pipes".into()));
        };
        let mut first = [0u8; 1];
        let connected = reader.read(&mut first).await? == 1 && first[0] == init::DIAL_CONNECTED;
        tokio::spawn(async move {
            let _ = child.wait().await;
        });
        if connected {
            Ok(PodConnection {
                reader: Box::new(reader),
                writer: Box::new(writer),
            })
        } else {
            let mut message = String::new();
            let _ = errors.read_to_string(&mut message).await;
            Err(refused(message.trim().to_string()))
        }
    }

    async fn remove_sandbox(&self, sandbox: &Sandbox) {
        let ids: Vec<String> = lock(&self.containers)
            .iter()
            .filter(|(_, c)| c.sandbox == sandbox.id)
            .map(|(id, _)| format!("sandbox://{id}"))
            .collect();
        for id in ids {
            self.stop_container(&id, Duration::ZERO).await;
        }
        let pod = lock(&self.pods).remove(&sandbox.id);
        if let Some(mut p) = pod {
            let _ = p.pause.kill().await;
            network::detach(&p.veth).await;
        }
        self.release_ip(&sandbox.id);
        let _ = tokio::fs::remove_dir_all(sandbox.dir.join(".containers")).await;
    }

    async fn shutdown(&self) {
        let sandboxes: Vec<String> = lock(&self.pods).keys().cloned().collect();
        for id in sandboxes {
            let pod = lock(&self.pods).remove(&id);
            if let Some(mut p) = pod {
                let _ = p.pause.kill().await;
                network::detach(&p.veth).await;
            }
        }
        if let Some(net) = self.network.lock().await.take() {
            net.down().await;
        }
        cgroup::remove_node_groups(self.layout, &self.key, true);
    }
}

/// `capstan node cleanup`: removes what every node agent of this machine left behind (after
/// a crash or a kill): their processes, cgroups, veths, bridges and nftables tables. Returns
/// what was removed, one line each.
pub async fn cleanup_machine() -> Vec<String> {
    let mut removed = Vec::new();
    // The helpers first: a pause process holds a pod's network namespace and its veth.
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
                continue;
            };
            let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            if args.get(1) == Some(&&b"sandbox-init"[..]) {
                if let Some(p) = Pid::from_raw(pid) {
                    SandboxRuntime::signal(p, Signal::KILL);
                    removed.push(format!("process {pid}"));
                }
            }
        }
    }
    let layout = Layout::detect();
    for key in cgroup::node_keys(layout) {
        cgroup::remove_node_groups(layout, &key, true);
        removed.push(format!("cgroup {}", cgroup::node_group(&key)));
    }
    if let Ok(links) = network::run("ip", &["-o", "link", "show"], None).await {
        for line in links.lines() {
            // "7: capstan1a2b3c4d: <…" or "8: cpv…@if2: <…"
            let Some(name) = line
                .split(": ")
                .nth(1)
                .map(|n| n.split('@').next().unwrap_or(n))
            else {
                continue;
            };
            let ours =
                name.starts_with(network::BRIDGE_PREFIX) || name.starts_with(network::VETH_PREFIX);
            if ours
                && network::run("ip", &["link", "del", name], None)
                    .await
                    .is_ok()
            {
                removed.push(format!("link {name}"));
            }
        }
    }
    if let Ok(tables) = network::run("nft", &["list", "tables", "inet"], None).await {
        for line in tables.lines() {
            if let Some(t) = line.strip_prefix("table inet ") {
                if t.starts_with(network::TABLE_PREFIX)
                    && network::run("nft", &["delete", "table", "inet", t], None)
                        .await
                        .is_ok()
                {
                    removed.push(format!("nftables table inet {t}"));
                }
            }
        }
    }
    removed
}
