//! `Cluster`: real `capstan server` processes on loopback, each with its own data dir under the
//! run directory, wired through `LinkProxy`s: one per directed replica link (i dials j through
//! proxy i→j, given to the server as `--peer-route`) and one per replica for the clients.
//!
//! Processes are started, killed (SIGKILL), paused (SIGSTOP/SIGCONT) and restarted by PID only,
//! never by name. Dropping the `Cluster` kills every child it started, whatever happened, and
//! `teardown.sh` in the run directory does the same for a harness that was itself killed.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::client::Etcd;
use crate::proxy::{LinkMode, LinkProxy};
use crate::JepsenError;

/// How to run the replicas.
#[derive(Clone, Debug)]
pub struct ClusterSpec {
    pub replicas: usize,
    /// Every address of the run is on this loopback host (127.0.0.0/8 only).
    pub host: Ipv4Addr,
    pub run_dir: PathBuf,
    /// The `capstan` binary.
    pub exe: PathBuf,
    pub heartbeat_ms: u64,
    pub election_timeout_ms: u64,
    pub snapshot_count: u64,
    /// libfaketime, when the run skews clocks: each replica then reads its wall clock through
    /// its own offset file (monotonic time stays real).
    pub faketime: Option<PathBuf>,
}

/// One replica process and its addresses.
pub struct Replica {
    pub name: String,
    pub dir: PathBuf,
    pub peer: SocketAddr,
    pub client: SocketAddr,
    child: Option<Child>,
    paused: bool,
    /// Extra environment for the next start (armed failpoints).
    pub env: BTreeMap<String, String>,
    /// Started with `--join` rather than as an initial member.
    pub joined: bool,
    /// Removed from the group: not expected to run or answer.
    pub removed: bool,
}

impl Replica {
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    pub fn clock_file(&self) -> PathBuf {
        self.dir.join("faketime")
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    pub fn is_paused(&self) -> bool {
        self.paused
    }
}

/// The replicas and the proxies between them (see the module doc).
pub struct Cluster {
    pub spec: ClusterSpec,
    pub replicas: Vec<Replica>,
    /// `peer_links[(i, j)]`: replica i dialling replica j.
    pub peer_links: BTreeMap<(usize, usize), LinkProxy>,
    /// `client_links[j]`: every client lane dialling replica j.
    pub client_links: Vec<LinkProxy>,
    pub pki_dir: PathBuf,
}

/// Whether `ip` is loopback (127.0.0.0/8): the only addresses a run may use.
pub fn require_loopback(ip: IpAddr) -> Result<(), JepsenError> {
    if ip.is_loopback() && matches!(ip, IpAddr::V4(_)) {
        Ok(())
    } else {
        Err(JepsenError::Config(format!(
            "{ip} is not a 127.0.0.0/8 address: fault tests only touch loopback"
        )))
    }
}

/// A port for a replica to listen on, below Linux's ephemeral range (32768 and up), so neither
/// a proxy's `:0` listener nor an outgoing connection can take it while the replica is down
/// between a kill and its restart. The probe listener is kept (in `held`) until the cluster is
/// wired, so two replicas never get the same port.
fn free_port(
    host: Ipv4Addr,
    held: &mut Vec<std::net::TcpListener>,
) -> Result<SocketAddr, JepsenError> {
    use rand::Rng;
    for _ in 0..1000 {
        let port = rand::thread_rng().gen_range(20_000..32_000);
        if let Ok(l) = std::net::TcpListener::bind((host, port)) {
            let addr = l.local_addr()?;
            held.push(l);
            return Ok(addr);
        }
    }
    Err(JepsenError::Config(format!(
        "no free port on {host} in 20000..32000"
    )))
}

impl Cluster {
    /// Prepares `spec.replicas` replicas (ports, proxies, directories) and starts them.
    pub async fn start(spec: ClusterSpec) -> Result<Cluster, JepsenError> {
        require_loopback(IpAddr::V4(spec.host))?;
        fs::create_dir_all(&spec.run_dir)?;
        let pki_dir = spec.run_dir.join("pki");
        let mut held = Vec::new();
        let mut replicas = Vec::new();
        for i in 0..spec.replicas {
            replicas.push(Replica {
                name: format!("n{}", i + 1),
                dir: spec.run_dir.join("nodes").join(format!("n{}", i + 1)),
                peer: free_port(spec.host, &mut held)?,
                client: free_port(spec.host, &mut held)?,
                child: None,
                paused: false,
                env: BTreeMap::new(),
                joined: false,
                removed: false,
            });
        }
        let any = SocketAddr::new(IpAddr::V4(spec.host), 0);
        let mut peer_links = BTreeMap::new();
        for (i, from) in replicas.iter().enumerate() {
            for (j, to) in replicas.iter().enumerate() {
                if i != j {
                    let name = format!("{}->{}", from.name, to.name);
                    peer_links.insert((i, j), LinkProxy::start(&name, any, to.peer).await?);
                }
            }
        }
        let mut client_links = Vec::new();
        for r in &replicas {
            let name = format!("client->{}", r.name);
            client_links.push(LinkProxy::start(&name, any, r.client).await?);
        }
        let mut cluster = Cluster {
            spec,
            replicas,
            peer_links,
            client_links,
            pki_dir,
        };
        cluster.write_teardown()?;
        drop(held);
        for i in 0..cluster.replicas.len() {
            cluster.spawn(i)?;
        }
        Ok(cluster)
    }

    pub fn len(&self) -> usize {
        self.replicas.len()
    }

    pub fn is_empty(&self) -> bool {
        self.replicas.is_empty()
    }

    /// Indices of replicas that are members (not removed).
    pub fn members(&self) -> Vec<usize> {
        (0..self.replicas.len())
            .filter(|i| !self.replicas[*i].removed)
            .collect()
    }

    fn initial_cluster(&self) -> String {
        self.replicas
            .iter()
            .filter(|r| !r.joined)
            .map(|r| format!("{}={}", r.name, r.peer))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The arguments of replica `i`'s `capstan server`.
    fn args(&self, i: usize) -> Vec<String> {
        let r = &self.replicas[i];
        let mut a = vec![
            "server".to_string(),
            "--name".into(),
            r.name.clone(),
            "--data-dir".into(),
            r.data_dir().display().to_string(),
            "--listen-client".into(),
            format!("http://{}", r.client),
            "--listen-peer".into(),
            r.peer.to_string(),
            "--listen-api".into(),
            format!("{}:0", self.spec.host),
            "--pki-dir".into(),
            self.pki_dir.display().to_string(),
            "--snapshot-count".into(),
            self.spec.snapshot_count.to_string(),
            "--heartbeat-ms".into(),
            self.spec.heartbeat_ms.to_string(),
            "--election-timeout-ms".into(),
            self.spec.election_timeout_ms.to_string(),
            // No workload makes Nodes: the controllers workload plays the kubelet for pods that
            // are never bound. A scheduler would only rewrite their PodScheduled=False condition
            // whenever a new term retries them (the played kubelet's merge patch drops it), so
            // the store would keep changing after the heal, where the checkers need it at rest.
            // The scheduler's own fencing is tested on real replicas (tests/scheduler.rs).
            "--disable-scheduler".into(),
        ];
        if r.joined {
            let token = fs::read_to_string(self.pki_dir.join("token")).unwrap_or_default();
            let first = self
                .members()
                .into_iter()
                .find(|j| *j != i && !self.replicas[*j].joined)
                .map(|j| self.replicas[j].peer)
                .unwrap_or(self.replicas[0].peer);
            a.extend([
                "--join".into(),
                format!("https://{first}"),
                "--token".into(),
                token.trim().to_string(),
            ]);
        } else {
            a.extend(["--initial-cluster".into(), self.initial_cluster()]);
        }
        for ((from, to), link) in &self.peer_links {
            if *from == i {
                a.extend([
                    "--peer-route".into(),
                    format!("https://{}={}", self.replicas[*to].peer, link.addr),
                ]);
            }
        }
        a
    }

    fn log(&self, i: usize, what: &str) -> Result<File, JepsenError> {
        let p = self.replicas[i].dir.join(what);
        Ok(OpenOptions::new().create(true).append(true).open(p)?)
    }

    /// Starts replica `i` (it must not be running).
    pub fn spawn(&mut self, i: usize) -> Result<(), JepsenError> {
        fs::create_dir_all(&self.replicas[i].dir)?;
        let args = self.args(i);
        let mut stderr = self.log(i, "stderr.log")?;
        let _ = writeln!(
            stderr,
            "=== harness: starting {} with {:?}",
            self.replicas[i].name, self.replicas[i].env
        );
        let mut cmd = Command::new(&self.spec.exe);
        cmd.args(&args)
            .stdin(Stdio::null())
            .stdout(self.log(i, "stdout.log")?)
            .stderr(stderr)
            .env("RUST_LOG", "info,openraft=error")
            .env_remove("CAPSTAN_FAILPOINTS");
        if let Some(lib) = &self.spec.faketime {
            let clock = self.replicas[i].clock_file();
            if !clock.exists() {
                fs::write(&clock, "+0\n")?;
            }
            cmd.env("LD_PRELOAD", lib)
                .env("FAKETIME_TIMESTAMP_FILE", &clock)
                .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
                .env("FAKETIME_CACHE_DURATION", "1");
        }
        for (k, v) in &self.replicas[i].env {
            cmd.env(k, v);
        }
        let child = cmd.spawn()?;
        let r = &mut self.replicas[i];
        r.child = Some(child);
        r.paused = false;
        self.write_teardown()?;
        Ok(())
    }

    /// SIGKILL replica `i` and reap it.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.replicas[i].child.take() {
            if self.replicas[i].paused {
                signal(c.id(), "CONT");
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        self.replicas[i].paused = false;
    }

    /// SIGTERM replica `i` and wait up to `grace` for it, then SIGKILL.
    pub fn terminate(&mut self, i: usize, grace: Duration) {
        if let Some(c) = &self.replicas[i].child {
            signal(c.id(), "CONT");
            signal(c.id(), "TERM");
            let deadline = Instant::now() + grace;
            while Instant::now() < deadline {
                if let Some(c) = self.replicas[i].child.as_mut() {
                    if !matches!(c.try_wait(), Ok(None)) {
                        self.replicas[i].child = None;
                        return;
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        self.kill(i);
    }

    pub fn pause(&mut self, i: usize) {
        if let Some(pid) = self.replicas[i].pid() {
            signal(pid, "STOP");
            self.replicas[i].paused = true;
        }
    }

    pub fn resume(&mut self, i: usize) {
        if let Some(pid) = self.replicas[i].pid() {
            signal(pid, "CONT");
        }
        self.replicas[i].paused = false;
    }

    /// Replicas whose process ended by itself (a crash): reaped, with their exit status.
    pub fn reap_exited(&mut self) -> Vec<(usize, String)> {
        let mut out = Vec::new();
        for (i, r) in self.replicas.iter_mut().enumerate() {
            if let Some(c) = r.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    out.push((i, status.to_string()));
                    r.child = None;
                }
            }
        }
        out
    }

    /// A client to replica `i` through its client link.
    pub fn client(&self, i: usize) -> Result<Etcd, JepsenError> {
        match self.client_links.get(i) {
            Some(link) => Etcd::connect(link.addr),
            // A replica that joined later has no client link: clients reach it directly.
            None => self.direct(i),
        }
    }

    /// A client to replica `i` that bypasses the proxies (for the harness's own checks).
    pub fn direct(&self, i: usize) -> Result<Etcd, JepsenError> {
        Etcd::connect(self.replicas[i].client)
    }

    /// Sets every link (peer and client) back to `Pass`.
    pub fn heal_links(&self) {
        for l in self.peer_links.values().chain(self.client_links.iter()) {
            l.set(LinkMode::Pass);
        }
    }

    /// Cuts or restores the directed link i→j.
    pub fn set_link(&self, i: usize, j: usize, mode: LinkMode) {
        if let Some(l) = self.peer_links.get(&(i, j)) {
            l.set(mode);
        }
    }

    /// Waits until every member answers with one leader and (when `converged`) all report the
    /// same applied revision. Returns the leader's index.
    pub async fn wait_healthy(
        &self,
        within: Duration,
        converged: bool,
    ) -> Result<usize, JepsenError> {
        let deadline = Instant::now() + within;
        let mut last = String::new();
        while Instant::now() < deadline {
            match self.health(converged).await {
                Ok(leader) => return Ok(leader),
                Err(e) => last = e,
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(JepsenError::Unhealthy(last))
    }

    async fn health(&self, converged: bool) -> Result<usize, String> {
        let mut leaders = Vec::new();
        let mut revisions = Vec::new();
        for i in self.members() {
            let r = &self.replicas[i];
            if !r.is_running() {
                return Err(format!("{} is not running", r.name));
            }
            let c = self.direct(i).map_err(|e| e.to_string())?;
            let s = c.status().await.map_err(|e| format!("{}: {e}", r.name))?;
            if s.leader == 0 {
                return Err(format!("{} knows no leader", r.name));
            }
            leaders.push(s.leader);
            revisions.push(s.header.map(|h| h.revision).unwrap_or(0));
        }
        if leaders.windows(2).any(|w| w[0] != w[1]) {
            return Err(format!("replicas disagree on the leader: {leaders:x?}"));
        }
        if converged && revisions.windows(2).any(|w| w[0] != w[1]) {
            return Err(format!("replicas at different revisions: {revisions:?}"));
        }
        self.leader_index(leaders.first().copied().unwrap_or(0))
            .await
            .ok_or_else(|| "leader is not a known replica".to_string())
    }

    /// The index of the replica whose member id is `id`.
    async fn leader_index(&self, id: u64) -> Option<usize> {
        for i in self.members() {
            if let Ok(c) = self.direct(i) {
                if let Ok(s) = c.status().await {
                    if s.header.map(|h| h.member_id) == Some(id) {
                        return Some(i);
                    }
                }
            }
        }
        None
    }

    /// The current leader as the replicas report it, if any answers.
    pub async fn leader(&self) -> Option<usize> {
        for i in self.members() {
            if !self.replicas[i].is_running() || self.replicas[i].is_paused() {
                continue;
            }
            let Ok(c) = self.direct(i) else { continue };
            let Ok(Ok(s)) = tokio::time::timeout(Duration::from_millis(500), c.status()).await
            else {
                continue;
            };
            if s.leader != 0 {
                return self.leader_index(s.leader).await;
            }
        }
        None
    }

    /// A shell script that kills this run's processes by PID, for a harness that died.
    fn write_teardown(&self) -> Result<(), JepsenError> {
        let mut s = String::from("#!/bin/sh\n# Kills the replicas of this run by PID.\n");
        for r in &self.replicas {
            if let Some(pid) = r.pid() {
                s.push_str(&format!(
                    "kill -CONT {pid} 2>/dev/null; kill -9 {pid} 2>/dev/null\n"
                ));
            }
        }
        fs::write(self.spec.run_dir.join("teardown.sh"), s)?;
        Ok(())
    }

    /// Removes the data dir of replica `i` (it must be stopped).
    pub fn wipe(&mut self, i: usize) -> Result<(), JepsenError> {
        let d = self.replicas[i].data_dir();
        if d.exists() {
            fs::remove_dir_all(d)?;
        }
        Ok(())
    }

    /// Adds a replica that will join the running group (not started yet).
    pub fn add_replica(&mut self) -> Result<usize, JepsenError> {
        let n = self.replicas.len() + 1;
        self.replicas.push(Replica {
            name: format!("n{n}"),
            dir: self.spec.run_dir.join("nodes").join(format!("n{n}")),
            peer: free_port(self.spec.host, &mut Vec::new())?,
            client: free_port(self.spec.host, &mut Vec::new())?,
            child: None,
            paused: false,
            env: BTreeMap::new(),
            joined: true,
            removed: false,
        });
        Ok(self.replicas.len() - 1)
    }

    /// The run directory of replica `i`.
    pub fn dir(&self, i: usize) -> &Path {
        &self.replicas[i].dir
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.replicas.len() {
            self.kill(i);
        }
    }
}

/// Sends signal `sig` ("STOP", "CONT", "TERM") to `pid` with the `kill` command: the
/// workspace forbids unsafe code, so no raw `kill(2)`.
fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}
