//! Real `capstan server` processes for tests: each in its own data dir under a temp dir, on
//! 127.0.0.1 ports chosen by the kernel (`:0`, read back from endpoints.json), killed on drop.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod etcd;
pub mod etcdctl;
pub mod kubelet;
pub mod node_agent;
pub mod python;
pub mod test_image;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use etcd_client::{Certificate, Client, ConnectOptions, Identity, TlsOptions};

pub const BIN: &str = env!("CARGO_BIN_EXE_capstan");

pub struct Server {
    pub name: String,
    pub data_dir: PathBuf,
    pub client_url: String,
    pub peer_url: String,
    /// The Kubernetes API (https://127.0.0.1:PORT).
    pub api_url: String,
    pub member_id: u64,
    args: Vec<String>,
    child: Option<Child>,
}

fn field(text: &str, f: &str) -> Option<String> {
    let key = format!("\"{f}\":\"");
    let start = text.find(&key)? + key.len();
    let end = text[start..].find('"')?;
    Some(text[start..start + end].to_string())
}

impl Server {
    /// Starts a replica named `name` in `root/name` with `extra` flags.
    pub fn start(root: &Path, name: &str, extra: &[String]) -> Server {
        Self::start_on(root, name, "https://127.0.0.1:0", "127.0.0.1:0", extra)
    }

    /// Starts a replica with the given client URL and peer address.
    pub fn start_on(root: &Path, name: &str, client: &str, peer: &str, extra: &[String]) -> Server {
        let mut s = Server {
            name: name.to_string(),
            data_dir: root.join(name),
            client_url: String::new(),
            peer_url: String::new(),
            api_url: String::new(),
            member_id: 0,
            args: extra.to_vec(),
            child: None,
        };
        s.spawn(client, peer);
        s
    }

    /// Starts the first replica of a new cluster.
    pub fn first(root: &Path, name: &str) -> Server {
        Self::start(root, name, &[])
    }

    /// Starts a replica that joins the cluster `via` belongs to.
    pub fn joining(root: &Path, name: &str, via: &Server) -> Server {
        Self::start(
            root,
            name,
            &[
                "--join".into(),
                via.peer_url.clone(),
                "--token".into(),
                via.token(),
            ],
        )
    }

    /// Where its CA and admin certificate are (`--pki-dir`, else `<data-dir>/pki`).
    pub fn pki_dir(&self) -> PathBuf {
        match self.args.iter().position(|a| a == "--pki-dir") {
            Some(i) => PathBuf::from(&self.args[i + 1]),
            None => self.data_dir.join("pki"),
        }
    }

    pub fn token(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("pki/token"))
            .unwrap()
            .trim()
            .to_string()
    }

    fn spawn(&mut self, client: &str, peer: &str) {
        let endpoints = self.data_dir.join("endpoints.json");
        let _ = std::fs::remove_file(&endpoints);
        std::fs::create_dir_all(&self.data_dir).unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.data_dir.with_extension("log"))
            .unwrap();
        let child = Command::new(BIN)
            .arg("server")
            .args(["--name", &self.name])
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(["--listen-client", client, "--listen-peer", peer])
            .args(["--heartbeat-ms", "50"])
            .args(if self.args.iter().any(|a| a == "--listen-api") {
                vec![]
            } else {
                vec!["--listen-api", "127.0.0.1:0"]
            })
            .args(&self.args)
            .env(
                "RUST_LOG",
                std::env::var("CAPSTAN_TEST_LOG").unwrap_or_else(|_| "info,openraft=error".into()),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(text) = std::fs::read_to_string(&endpoints) {
                if let (Some(c), Some(p), Some(id)) = (
                    field(&text, "client"),
                    field(&text, "peer"),
                    field(&text, "member_id"),
                ) {
                    self.client_url = c;
                    self.peer_url = p;
                    self.api_url = field(&text, "api").unwrap_or_default();
                    self.member_id = u64::from_str_radix(&id, 16).unwrap();
                    return;
                }
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "{} exited during start ({status}): {}",
                    self.name,
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{} did not start: {}",
                self.name,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The admin kubeconfig the server wrote.
    pub fn kubeconfig(&self) -> PathBuf {
        self.data_dir.join("admin.kubeconfig")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.with_extension("log")).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// SIGSTOP: the replica is frozen (its peers see it go silent) until `resume`.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// SIGCONT after `pause`.
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, sig: &str) {
        let pid = self.pid().to_string();
        assert!(Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap()
            .success());
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// kill -9.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM; waits for the process to exit and returns whether it exited 0. How long a stop
    /// takes is a figure of `bench/sigterm.sh`, not a test's concern: the deadline here only
    /// turns a replica that never exits into a failure instead of a hung test.
    pub fn terminate(&mut self) -> bool {
        let Some(mut c) = self.child.take() else {
            return false;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = c.try_wait().unwrap() {
                return status.success();
            }
            if Instant::now() >= deadline {
                let _ = c.kill();
                let _ = c.wait();
                panic!("{} never exited after SIGTERM: {}", self.name, self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts it again on its data dir and its previous ports.
    pub fn restart(&mut self) {
        assert!(self.child.is_none());
        let client = self.client_url.clone();
        let peer = self.peer_url.trim_start_matches("https://").to_string();
        // A restarted replica is already a member; it must not try to join again.
        self.args.retain(|a| {
            a != "--join"
                && a != "--token"
                && !a.starts_with("https://")
                && !a.starts_with("capstan1.")
        });
        self.spawn(&client, &peer);
    }

    /// A kube-rs client of this replica's Kubernetes API, as the admin (its admin.kubeconfig).
    pub async fn kube(&self) -> kube::Client {
        let kc = kube::config::Kubeconfig::read_from(self.kubeconfig()).unwrap();
        let cfg =
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .unwrap();
        kube::Client::try_from(cfg).unwrap()
    }

    /// An etcd-client connected to this replica with the admin certificate.
    pub async fn client(&self) -> Client {
        self.client_with_pki(&self.pki_dir()).await
    }

    /// An etcd-client using the admin certificate in `pki`.
    pub async fn client_with_pki(&self, pki: &Path) -> Client {
        let read = |f: &str| std::fs::read_to_string(pki.join(f)).unwrap();
        let tls = TlsOptions::new()
            .ca_certificate(Certificate::from_pem(read("ca.crt")))
            .identity(Identity::from_pem(read("admin.crt"), read("admin.key")));
        let opts = ConnectOptions::new()
            .with_tls(tls)
            .with_connect_timeout(Duration::from_secs(2))
            .with_timeout(Duration::from_secs(10));
        let mut last = None;
        for _ in 0..50 {
            match Client::connect([self.client_url.as_str()], Some(opts.clone())).await {
                Ok(c) => return c,
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("cannot connect to {}: {last:?}", self.client_url);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Free peer ports for `n` replicas named `<prefix>0`, `<prefix>1`, …, and the
/// `--initial-cluster` value naming them.
pub fn initial_cluster(prefix: &str, n: usize) -> (Vec<u16>, String) {
    let ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
    let spec = ports
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{prefix}{i}=127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(",");
    (ports, spec)
}

/// `n` replicas bootstrapped together (`--initial-cluster`) with one CA in `root/pki`, named
/// `<prefix>0`, `<prefix>1`, …, once they agree on `n` voters.
pub async fn start_static(root: &Path, prefix: &str, n: usize) -> Vec<Server> {
    let (ports, spec) = initial_cluster(prefix, n);
    let pki = root.join("pki");
    let servers: Vec<Server> = ports
        .iter()
        .enumerate()
        .map(|(i, p)| {
            Server::start_on(
                root,
                &format!("{prefix}{i}"),
                "https://127.0.0.1:0",
                &format!("127.0.0.1:{p}"),
                &[
                    "--initial-cluster".into(),
                    spec.clone(),
                    "--pki-dir".into(),
                    pki.display().to_string(),
                ],
            )
        })
        .collect();
    let refs: Vec<&Server> = servers.iter().collect();
    wait_cluster(&refs, n, Duration::from_secs(30)).await;
    servers
}

/// A free port on 127.0.0.1 (for addresses a cluster must know before its replicas start, as
/// `--initial-cluster` needs). Chosen below the kernel's ephemeral range (32768 and up), where
/// `:0` listeners and outgoing connections of concurrently running tests take their ports, so a
/// port handed out here is not taken by one of them before the replica binds it.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let seed = std::process::id().wrapping_mul(2_654_435_761);
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = 20_000 + (seed.wrapping_add(n.wrapping_mul(7_919)) % 12_000) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Waits until `servers` all report the same leader and `voters` voters.
pub async fn wait_cluster(servers: &[&Server], voters: usize, within: Duration) -> u64 {
    let deadline = Instant::now() + within;
    loop {
        let mut leaders = Vec::new();
        let mut ok = true;
        for s in servers {
            let mut c = s.client_with_pki(&s.pki_dir()).await;
            match (c.status().await, c.member_list().await) {
                (Ok(st), Ok(ml)) => {
                    let v = ml.members().iter().filter(|m| !m.is_learner()).count();
                    if st.leader() == 0 || v != voters {
                        ok = false;
                    }
                    leaders.push(st.leader());
                }
                _ => ok = false,
            }
        }
        if ok && leaders.windows(2).all(|w| w[0] == w[1]) {
            return leaders[0];
        }
        assert!(
            Instant::now() < deadline,
            "cluster of {voters} voters not ready within {within:?} (leaders {leaders:?})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `GET path` on the Kubernetes API of `s` as the admin (curl): the status code and the body.
pub fn api_get(s: &Server, path: &str) -> (u16, String) {
    let pki = s.pki_dir();
    let out = std::process::Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}", "--cacert"])
        .arg(pki.join("ca.crt"))
        .arg("--cert")
        .arg(pki.join("admin.crt"))
        .arg("--key")
        .arg(pki.join("admin.key"))
        .arg(format!("{}{path}", s.api_url))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.parse().unwrap_or(0), body.to_string())
}

/// Waits until the Kubernetes API of `s` answers `/readyz` with 200: a leader is known, the log
/// is applied and the system namespaces exist.
pub async fn wait_api_ready(s: &Server, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        if api_get(s, "/readyz").0 == 200 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{}: Kubernetes API not ready within {within:?}",
            s.name
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until every server is at the same revision with the same HashKV; returns it.
pub async fn wait_converged(servers: &[&Server], within: Duration) -> (i64, u32) {
    let deadline = Instant::now() + within;
    loop {
        let mut seen = Vec::new();
        for s in servers {
            let mut c = s.client().await;
            if let Ok(h) = c.hash_kv(0).await {
                seen.push((h.header().map(|h| h.revision()).unwrap_or(0), h.hash()));
            }
        }
        if seen.len() == servers.len() && seen.windows(2).all(|w| w[0] == w[1]) {
            return seen[0];
        }
        assert!(
            Instant::now() < deadline,
            "replicas did not converge within {within:?}: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Keys under `prefix` on `server`, read from its local state (serializable).
pub async fn local_keys(server: &Server, prefix: &str) -> std::collections::BTreeSet<String> {
    let mut c = server.client().await;
    let r = c
        .get(
            prefix,
            Some(
                etcd_client::GetOptions::new()
                    .with_prefix()
                    .with_keys_only()
                    .with_serializable(),
            ),
        )
        .await
        .unwrap();
    r.kvs()
        .iter()
        .map(|kv| String::from_utf8_lossy(kv.key()).to_string())
        .collect()
}

/// The events recorded about object `name` in `default`.
pub async fn events_of(
    client: &kube::Client,
    name: &str,
) -> Vec<k8s_openapi::api::core::v1::Event> {
    kube::Api::<k8s_openapi::api::core::v1::Event>::namespaced(client.clone(), "default")
        .list(&kube::api::ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.involved_object.name.as_deref() == Some(name))
        .collect()
}

/// `capstan_fenced_writes_refused_total` of a replica: writes of leader-only work refused
/// because their term had ended.
pub fn refused_writes(s: &Server) -> f64 {
    let (code, text) = api_get(s, "/metrics");
    assert_eq!(code, 200, "{text}");
    text.lines()
        .find(|l| l.starts_with("capstan_fenced_writes_refused_total "))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no capstan_fenced_writes_refused_total: {text}"))
}
