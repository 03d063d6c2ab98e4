//! `capstan server`: one control-plane replica. Prepares the data dir (0700) and the PKI, binds
//! the listeners (`:0` allowed; the bound addresses go to `endpoints.json`), starts its raft
//! replica (bootstrapping a new cluster on first start), serves the etcd v3 API and the peer
//! service, and on SIGTERM or SIGINT shuts down cleanly, handing leadership over first.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use capstan_apiserver::etcd::{EtcdApi, EtcdIdentity};
use capstan_apiserver::k8s::{serve_tls, KubeApi, KubeConfig, ServiceRanges, ServingTls};
use capstan_controllers::ManagerConfig;
use capstan_proto::raft as pb;
use capstan_raft::pki::{CertPair, JoinToken};
use capstan_raft::{JoinAuth, Member, NodeId, PeerTls, RaftNode, RaftNodeConfig};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Certificate, Identity, ServerTlsConfig};

use crate::cluster_view::RaftClusterView;
use crate::identity::{
    hash64, load_identity, load_restore_marker, member_id, parse_initial_cluster,
    remove_restore_marker, save_identity, ReplicaIdentity,
};
use crate::kubeconfig::admin_kubeconfig;
use crate::leader_terms::{TermCounts, TermWork};
use crate::pki_files::{ensure_pki, install_joined, node_cert, private_dir, write_private};
use crate::scheduled_backup::parse_interval;

#[derive(clap::Args, Debug)]
pub struct ServerArgs {
    /// This replica's name (unique in the cluster; with --initial-cluster, one of its names).
    #[arg(long, default_value = "default")]
    pub name: String,
    /// Where this replica keeps its data [default: $CAPSTAN_DATA_DIR, else
    /// $XDG_DATA_HOME/capstan, else ~/.local/share/capstan].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Kubernetes REST API address (HTTPS, x509 client certificates from the cluster CA).
    #[arg(long, default_value = "127.0.0.1:6443")]
    pub listen_api: String,
    /// The CIDR services' cluster IPs come from (as kube-apiserver's flag of the same name).
    #[arg(long, default_value = "10.96.0.0/12")]
    pub service_cluster_ip_range: String,
    /// The port range NodePort services' ports come from, as MIN-MAX.
    #[arg(long, default_value = "30000-32767")]
    pub service_node_port_range: String,
    /// etcd v3 gRPC API: https://HOST:PORT (TLS, client certificates required) or
    /// http://HOST:PORT (plaintext, as etcd allows; for loopback benchmarks).
    #[arg(long, default_value = "https://127.0.0.1:2379")]
    pub listen_client: String,
    /// Raft transport between replicas (mutual TLS). With --initial-cluster it defaults to this
    /// replica's entry.
    #[arg(long)]
    pub listen_peer: Option<String>,
    /// The peer address other replicas reach this one at, if not the --listen-peer address (for
    /// example when listening on 0.0.0.0). With --initial-cluster, this replica's entry is used.
    #[arg(long)]
    pub advertise_peer: Option<String>,
    /// Static bootstrap of 1, 3 or 5 voters: NAME=HOST:PORT,... (peer addresses).
    #[arg(long)]
    pub initial_cluster: Option<String>,
    /// Share one CA between statically bootstrapped replicas: the CA and admin certificate live
    /// here instead of <data-dir>/pki (made by the first replica to start).
    #[arg(long)]
    pub pki_dir: Option<PathBuf>,
    /// Join a running cluster through any replica's peer address (https://HOST:PEERPORT). Used
    /// on first start only; a replica restarted on its data dir carries on as a member.
    #[arg(long, requires = "token")]
    pub join: Option<String>,
    /// The join token (`<data-dir>/pki/token` of a replica of the cluster).
    #[arg(long, requires = "join")]
    pub token: Option<String>,
    /// Raft log entries between snapshots (as etcd's --snapshot-count); the log keeps 1,000
    /// entries behind each snapshot for followers that lag a little.
    #[arg(long, default_value_t = 10_000)]
    pub snapshot_count: u64,
    /// How often the leader writes a backup into <data-dir>/snapshots (`30m`, `12h`, `1d`, …;
    /// `0` for never). `capstan backup list` shows them.
    #[arg(long, default_value = "12h")]
    pub snapshot_interval: String,
    /// How many scheduled backups to keep (the oldest go first).
    #[arg(long, default_value_t = 5)]
    pub snapshot_retention: usize,
    /// The controllers the leader runs (kube-controller-manager's flag): `*` for all, a name to
    /// turn one on, `-name` to turn one off; comma-separated.
    #[arg(long, default_value = "*", value_delimiter = ',')]
    pub controllers: Vec<String>,
    /// A KubeSchedulerConfiguration file (kubescheduler.config.k8s.io/v1) or a legacy scheduler
    /// Policy file (`kind: Policy`); without one the leader schedules with kube-scheduler's
    /// default profile.
    #[arg(long)]
    pub scheduler_config: Option<PathBuf>,
    /// Run no scheduler on the leader (another scheduler binds the pods).
    #[arg(long)]
    pub disable_scheduler: bool,
    /// How many namespaces the serviceaccount controller syncs at once.
    #[arg(long, default_value_t = 1)]
    pub concurrent_serviceaccount_syncs: usize,
    /// How many ReplicaSets the replicaset controller syncs at once.
    #[arg(long, default_value_t = 5)]
    pub concurrent_replicaset_syncs: usize,
    /// How many Deployments the deployment controller syncs at once.
    #[arg(long, default_value_t = 5)]
    pub concurrent_deployment_syncs: usize,
    /// How many objects the garbage collector looks at at once.
    #[arg(long, default_value_t = 20)]
    pub concurrent_gc_syncs: usize,
    /// How many terminating namespaces the namespace controller empties at once.
    #[arg(long, default_value_t = 10)]
    pub concurrent_namespace_syncs: usize,
    /// How many Jobs the job controller syncs at once.
    #[arg(long, default_value_t = 5)]
    pub concurrent_job_syncs: usize,
    /// How many finished Jobs the ttl-after-finished controller looks at at once.
    #[arg(long, default_value_t = 5)]
    pub concurrent_ttl_after_finished_syncs: usize,
    /// How many CronJobs the cronjob controller syncs at once.
    #[arg(long, default_value_t = 5)]
    pub concurrent_cron_job_syncs: usize,
    /// How many Services the endpoints controller syncs at once.
    #[arg(long, default_value_t = 5)]
    pub concurrent_endpoint_syncs: usize,
    /// How many Services the endpointslice controller syncs at once.
    #[arg(long, default_value_t = 5)]
    pub concurrent_service_endpoint_syncs: usize,
    /// The most endpoints one EndpointSlice holds.
    #[arg(long, default_value_t = 100)]
    pub max_endpoints_per_slice: usize,
    /// How many StatefulSets the statefulset controller syncs at once.
    #[arg(long, default_value_t = 5)]
    pub concurrent_statefulset_syncs: usize,
    /// How many DaemonSets the daemonset controller syncs at once.
    #[arg(long, default_value_t = 2)]
    pub concurrent_daemonset_syncs: usize,
    /// How many ReplicationControllers the replicationcontroller controller syncs at once.
    #[arg(long, default_value_t = 5)]
    pub concurrent_rc_syncs: usize,
    /// How many ResourceQuotas the resourcequota controller syncs at once.
    #[arg(long, default_value_t = 5)]
    pub concurrent_resource_quota_syncs: usize,
    /// How long a node may go without renewing its Lease or status before it is marked
    /// NotReady/Unknown and tainted `node.kubernetes.io/unreachable` (`40s`, `2m`, …).
    #[arg(long, default_value = "40s")]
    pub node_monitor_grace_period: String,
    /// How often the node lifecycle controller checks the nodes.
    #[arg(long, default_value = "5s")]
    pub node_monitor_period: String,
    /// The pod network: each node gets a range of it in `spec.podCIDR`.
    #[arg(long, default_value = "10.244.0.0/16")]
    pub cluster_cidr: String,
    /// The prefix length of each node's pod range.
    #[arg(long, default_value_t = 24)]
    pub node_cidr_mask_size: u8,
    /// How many finished pods are kept before the pod GC deletes the oldest.
    #[arg(long, default_value_t = 12_500)]
    pub terminated_pod_gc_threshold: usize,
    /// How often the horizontal pod autoscaler looks at each HorizontalPodAutoscaler.
    #[arg(long, default_value = "15s")]
    pub horizontal_pod_autoscaler_sync_period: String,
    /// The IP address clients reach this replica's API at, published in the `kubernetes`
    /// service's endpoints (as kube-apiserver's flag). Default: the --listen-api address; when
    /// that listens on every address, the --advertise-peer host if it is an IP, else 127.0.0.1.
    #[arg(long, value_name = "IP")]
    pub advertise_address: Option<std::net::IpAddr>,
    /// Extra names or addresses for the serving certificate (a load balancer's, a DNS name
    /// clients use); repeatable, as k3s's flag of the same name.
    #[arg(long, value_name = "NAME")]
    pub tls_san: Vec<String>,
    /// Log lines as text, or as JSON objects (one per line) for log pipelines.
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Raft heartbeat interval in milliseconds.
    #[arg(long, default_value_t = 50)]
    pub heartbeat_ms: u64,
    /// Longest raft election timeout in milliseconds, which is also the leader's lease: voters
    /// refuse candidates until a lease has passed since they last heard from the leader. A
    /// follower stands for election once the leader has been silent this long plus two to three
    /// heartbeats, so a failover takes a little more than this.
    #[arg(long, default_value_t = 400)]
    pub election_timeout_ms: u64,

    /// Fault injection: reach the peer at URL through ADDR (a loopback proxy that forwards to
    /// it), as `URL=ADDR`; repeatable. `capstan jepsen` uses it to cut and slow single links.
    #[arg(long, hide = true, value_name = "URL=ADDR")]
    pub peer_route: Vec<String>,
}

/// Where the `kubernetes` service sends clients for this replica (see --advertise-address).
fn advertised_api(args: &ServerArgs, bound: SocketAddr) -> SocketAddr {
    let peer_host = args.advertise_peer.as_deref().and_then(|a| {
        let a = a.trim_start_matches("https://");
        a.parse::<SocketAddr>()
            .map(|s| s.ip())
            .ok()
            .or_else(|| a.parse().ok())
    });
    let ip = match (
        args.advertise_address,
        bound.ip().is_unspecified(),
        peer_host,
    ) {
        (Some(ip), _, _) => ip,
        (None, false, _) => bound.ip(),
        (None, true, Some(ip)) => ip,
        (None, true, None) => std::net::IpAddr::from([127, 0, 0, 1]),
    };
    SocketAddr::new(ip, bound.port())
}

/// How the server writes its log (stderr).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

fn service_ranges(args: &ServerArgs) -> anyhow::Result<ServiceRanges> {
    let (network, prefix) = ServiceRanges::parse_cidr(&args.service_cluster_ip_range)
        .map_err(|e| anyhow::anyhow!("--service-cluster-ip-range: {e}"))?;
    let (lo, hi) = args
        .service_node_port_range
        .split_once('-')
        .and_then(|(a, b)| Some((a.trim().parse::<u16>().ok()?, b.trim().parse::<u16>().ok()?)))
        .filter(|(a, b)| a < b)
        .with_context(|| {
            format!(
                "--service-node-port-range {:?} is not MIN-MAX",
                args.service_node_port_range
            )
        })?;
    Ok(ServiceRanges {
        network,
        prefix,
        node_ports: (lo, hi),
    })
}

/// The default data dir of DESIGN.md.
pub fn default_data_dir() -> anyhow::Result<PathBuf> {
    if let Some(d) = std::env::var_os("CAPSTAN_DATA_DIR") {
        return Ok(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_DATA_HOME") {
        return Ok(PathBuf::from(d).join("capstan"));
    }
    match std::env::var_os("HOME") {
        Some(h) => Ok(PathBuf::from(h).join(".local/share/capstan")),
        None => bail!("no data dir: set --data-dir, CAPSTAN_DATA_DIR or HOME"),
    }
}

fn split_url(url: &str, flag: &str) -> anyhow::Result<(bool, String)> {
    if let Some(rest) = url.strip_prefix("https://") {
        Ok((true, rest.to_string()))
    } else if let Some(rest) = url.strip_prefix("http://") {
        Ok((false, rest.to_string()))
    } else {
        bail!("{flag} {url:?}: give https://HOST:PORT or http://HOST:PORT")
    }
}

fn host_of(addr: &str) -> String {
    match addr.rsplit_once(':') {
        Some((h, _)) => h.trim_start_matches('[').trim_end_matches(']').to_string(),
        None => addr.to_string(),
    }
}

pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    #[cfg(feature = "fault-injection")]
    {
        let armed = capstan_store::failpoint::configure_from_env().map_err(anyhow::Error::msg)?;
        if !armed.is_empty() {
            tracing::warn!(?armed, "fault injection: failpoints armed");
        }
    }
    let data_dir = match &args.data_dir {
        Some(d) => d.clone(),
        None => default_data_dir()?,
    };
    private_dir(&data_dir)?;
    let pki_dir = args.pki_dir.clone().unwrap_or_else(|| data_dir.join("pki"));

    // A data dir `capstan restore` made forms its new cluster on first start, with the voters it
    // was restored with.
    let restored = load_restore_marker(&data_dir)?;
    let from_restore = restored.as_ref().and_then(|m| m.initial.clone());
    let initial = match &args.initial_cluster {
        Some(s) => {
            let list = parse_initial_cluster(s)?;
            if from_restore.as_ref().is_some_and(|r| *r != list) {
                bail!(
                    "--initial-cluster differs from the one {} was restored with",
                    data_dir.display()
                );
            }
            Some(list)
        }
        None => from_restore,
    };
    let own_peer = match (&args.listen_peer, &initial) {
        (Some(p), _) => p.trim_start_matches("https://").to_string(),
        (None, Some(members)) => match members.iter().find(|(n, _)| *n == args.name) {
            Some((_, url)) => url.trim_start_matches("https://").to_string(),
            None => bail!(
                "--name {:?} is not one of the --initial-cluster names",
                args.name
            ),
        },
        (None, None) => "127.0.0.1:2380".to_string(),
    };
    let (client_tls, client_addr) = split_url(&args.listen_client, "--listen-client")?;
    let api_addr = args.listen_api.trim_start_matches("https://").to_string();
    let ranges = service_ranges(&args)?;
    let manager = ManagerConfig {
        controllers: args.controllers.clone(),
        serviceaccount_workers: args.concurrent_serviceaccount_syncs,
        replicaset_workers: args.concurrent_replicaset_syncs,
        deployment_workers: args.concurrent_deployment_syncs,
        gc_workers: args.concurrent_gc_syncs,
        namespace_workers: args.concurrent_namespace_syncs,
        job_workers: args.concurrent_job_syncs,
        ttl_workers: args.concurrent_ttl_after_finished_syncs,
        cronjob_workers: args.concurrent_cron_job_syncs,
        endpoint_workers: args.concurrent_endpoint_syncs,
        endpointslice_workers: args.concurrent_service_endpoint_syncs,
        max_endpoints_per_slice: args.max_endpoints_per_slice,
        statefulset_workers: args.concurrent_statefulset_syncs,
        daemonset_workers: args.concurrent_daemonset_syncs,
        replicationcontroller_workers: args.concurrent_rc_syncs,
        resourcequota_workers: args.concurrent_resource_quota_syncs,
        node_monitor_grace_period: parse_interval(&args.node_monitor_grace_period)
            .context("--node-monitor-grace-period")?,
        node_monitor_period: parse_interval(&args.node_monitor_period)
            .context("--node-monitor-period")?,
        cluster_cidr: args.cluster_cidr.clone(),
        node_cidr_mask_size: args.node_cidr_mask_size,
        terminated_pod_gc_threshold: args.terminated_pod_gc_threshold,
        hpa_sync_period: parse_interval(&args.horizontal_pod_autoscaler_sync_period)
            .context("--horizontal-pod-autoscaler-sync-period")?,
    };
    let unknown = manager.unknown();
    if !unknown.is_empty() {
        bail!(
            "--controllers: {:?} is not in the list of known controllers ({})",
            unknown.join(","),
            capstan_controllers::CONTROLLERS.join(", ")
        );
    }
    let scheduler = match &args.scheduler_config {
        None => capstan_scheduler::SchedulerConfig::default(),
        Some(path) => capstan_scheduler::config_file::load(path)
            .with_context(|| format!("--scheduler-config {}", path.display()))?,
    };
    scheduler
        .build()
        .with_context(|| format!("--scheduler-config {:?}", args.scheduler_config))?;
    let backup_every = parse_interval(&args.snapshot_interval).context("--snapshot-interval")?;
    let api_listener = TcpListener::bind(&api_addr)
        .await
        .with_context(|| format!("binding --listen-api {api_addr}"))?;
    let api_bound = api_listener.local_addr()?;
    let api_url = if api_bound.ip().is_unspecified() {
        format!("https://127.0.0.1:{}", api_bound.port())
    } else {
        format!("https://{api_bound}")
    };

    let client_listener = TcpListener::bind(&client_addr)
        .await
        .with_context(|| format!("binding --listen-client {client_addr}"))?;
    let peer_listener = TcpListener::bind(&own_peer)
        .await
        .with_context(|| format!("binding --listen-peer {own_peer}"))?;
    let client_bound = client_listener.local_addr()?;
    let peer_bound = peer_listener.local_addr()?;
    let client_url = format!(
        "{}://{client_bound}",
        if client_tls { "https" } else { "http" }
    );
    let own_entry = initial.as_ref().and_then(|m| {
        m.iter()
            .find(|(n, _)| *n == args.name)
            .map(|(_, u)| u.clone())
    });
    let peer_url = match (&own_entry, &args.advertise_peer) {
        (Some(entry), _) => entry.clone(),
        (None, Some(a)) => format!("https://{}", a.trim_start_matches("https://")),
        (None, None) if peer_bound.ip().is_unspecified() => bail!(
            "--listen-peer {own_peer} listens on every address: give --advertise-peer HOST:PORT, the address other replicas reach this one at"
        ),
        (None, None) => format!("https://{peer_bound}"),
    };

    let member = Member {
        name: args.name.clone(),
        peer_url: peer_url.clone(),
        client_url: client_url.clone(),
        api_url: api_url.clone(),
        auto_promote: false,
    };

    let existing = load_identity(&data_dir)?;
    let joining = existing.is_none() && args.join.is_some();
    let (ident, fresh) = match existing {
        Some(i) => (i, false),
        None => match (&args.join, &args.token) {
            (Some(url), Some(token)) => {
                let token = JoinToken::parse(token)
                    .context("--token is not a capstan join token (capstan1.<hash>.<secret>)")?;
                let joined = crate::join::join(
                    url,
                    &token,
                    pb::JoinRequest {
                        secret: String::new(),
                        name: member.name.clone(),
                        peer_url: member.peer_url.clone(),
                        client_url: member.client_url.clone(),
                        api_url: member.api_url.clone(),
                    },
                )
                .await?
                .response;
                install_joined(
                    &pki_dir,
                    &CertPair {
                        cert: joined.ca_cert_pem.clone(),
                        key: joined.ca_key_pem.clone(),
                    },
                    &token,
                )?;
                tracing::info!(id = %format!("{:x}", joined.id), via = %url, "joined the cluster as a learner");
                (
                    ReplicaIdentity {
                        id: joined.id,
                        cluster_id: joined.cluster_id,
                    },
                    true,
                )
            }
            _ => {
                let id = member_id(&args.name, &peer_url, None);
                let ident = match &initial {
                    Some(members) => {
                        let spec: Vec<String> =
                            members.iter().map(|(n, u)| format!("{n}={u}")).collect();
                        let spec: Vec<&str> = spec.iter().map(String::as_str).collect();
                        ReplicaIdentity {
                            id,
                            cluster_id: hash64(&spec),
                        }
                    }
                    None => ReplicaIdentity {
                        id,
                        cluster_id: hash64(&[
                            &args.name,
                            &peer_url,
                            &format!("{:?}", std::time::SystemTime::now()),
                        ]),
                    },
                };
                (ident, true)
            }
        },
    };
    let pki = ensure_pki(&pki_dir)?;

    let mut hosts = vec!["127.0.0.1".to_string(), "localhost".to_string()];
    let advertised = host_of(peer_url.trim_start_matches("https://"));
    for h in [
        host_of(&client_addr),
        host_of(&own_peer),
        advertised,
        host_of(&api_addr),
    ]
    .into_iter()
    .chain(args.tls_san.iter().cloned())
    {
        if !hosts.contains(&h) && !h.is_empty() && h != "0.0.0.0" && h != "::" {
            hosts.push(h);
        }
    }
    let node_pair = node_cert(&data_dir, &pki.ca, &args.name, &hosts)?;

    let hb = Duration::from_millis(args.heartbeat_ms.max(10));
    let mut cfg = RaftNodeConfig::new(ident.id, member.clone(), data_dir.join("replica"));
    cfg.heartbeat = hb;
    let election = Duration::from_millis(args.election_timeout_ms).max(hb * 4);
    cfg.election_timeout_min = election / 2;
    cfg.election_timeout_max = election;
    cfg.cluster_id = ident.cluster_id;
    cfg.snapshot_after = args.snapshot_count.max(1);
    cfg.keep_after_snapshot = cfg.keep_after_snapshot.min(cfg.snapshot_after);
    cfg.tls = Some(PeerTls {
        ca_cert: pki.ca.cert.clone(),
        identity: node_pair.clone(),
    });
    cfg.join = Some(JoinAuth {
        secret: pki.token.secret.clone(),
        ca_cert: pki.ca.cert.clone(),
        ca_key: pki.ca.key.clone(),
    });
    let node = Arc::new(RaftNode::start(cfg).await?);
    // Fail-stop: if raft stops on a storage error (a failed fsync, a full disk), the process
    // exits rather than lingering as a replica that can no longer write, as etcd does, so a
    // supervisor restarts it on data that holds only what was made durable.
    let watched = node.clone();
    tokio::spawn(async move {
        if let Some(fatal) = watched.fatal_error().await {
            tracing::error!(error = %fatal, "raft stopped on a fatal error: exiting");
            std::process::exit(70);
        }
    });
    for route in &args.peer_route {
        let Some((url, via)) = route.split_once('=') else {
            bail!("--peer-route {route:?} is not URL=ADDR");
        };
        let via = if via.contains("://") {
            via.to_string()
        } else {
            format!("https://{via}")
        };
        node.peers().route_via(url, &via);
    }

    // Shutdown order: the client API stops taking requests, the replica hands leadership over
    // (the peer service still running, so the successor can reach it), then the peer service.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (peer_stop_tx, peer_stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let peer_task = node.serve(peer_listener, stopped(peer_stop_rx))?;

    // A new cluster, bootstrapped here or restored from a backup, starts with its voters (a
    // restored cluster's ids are salted, so they are new).
    let salt = restored.as_ref().map(|m| m.salt.as_str());
    if ((fresh && !joining) || restored.is_some()) && !node.is_initialized().await? {
        let members: BTreeMap<NodeId, Member> = match &initial {
            Some(list) => list
                .iter()
                .map(|(n, u)| {
                    let m = Member {
                        name: n.clone(),
                        peer_url: u.clone(),
                        ..Member::default()
                    };
                    (member_id(n, u, salt), m)
                })
                .collect(),
            None => BTreeMap::from([(ident.id, member.clone())]),
        };
        node.initialize(members).await?;
        if restored.is_some() {
            tracing::info!(cluster = %format!("{:x}", ident.cluster_id), "restored cluster formed");
        }
    }
    if fresh {
        save_identity(&data_dir, &ident)?;
    }
    if restored.is_some() {
        remove_restore_marker(&data_dir)?;
    }

    let etcd_identity = EtcdIdentity {
        cluster_id: ident.cluster_id,
        member_id: ident.id,
        name: args.name.clone(),
        client_urls: vec![client_url.clone()],
        peer_urls: vec![peer_url.clone()],
    };
    let kv: Arc<dyn capstan_store::Kv> = Arc::new(node.kv().clone());
    let api = EtcdApi::new(kv.clone(), etcd_identity)
        .with_cluster(Arc::new(RaftClusterView { node: node.clone() }));
    let tls = if client_tls {
        Some(
            ServerTlsConfig::new()
                .identity(Identity::from_pem(&node_pair.cert, &node_pair.key))
                .client_ca_root(Certificate::from_pem(&pki.ca.cert)),
        )
    } else {
        None
    };
    let client_stop = stopped(stop_rx.clone());
    let client_task = tokio::spawn(async move {
        if let Err(e) = api.serve_with(client_listener, tls, client_stop).await {
            tracing::error!(error = %e, "etcd API server failed");
        }
    });

    let (term_counts, term_counts_rx) = tokio::sync::watch::channel(TermCounts::default());
    let refused_writes = crate::fenced_kv::RefusedWrites::default();
    let kubelet_pair = crate::pki_files::kubelet_client_cert(&pki.ca)?;
    let kubelet_client = capstan_apiserver::k8s::node_agent::kubelet_client_config(
        &kubelet_pair.cert,
        &kubelet_pair.key,
    )
    .map_err(anyhow::Error::msg)?;
    let kube = KubeApi::new(
        kv.clone(),
        KubeConfig {
            ranges,
            advertise: Some(advertised_api(&args, api_bound)),
            telemetry: Arc::new(crate::telemetry::telemetry(
                node.clone(),
                term_counts_rx,
                refused_writes.clone(),
            )),
            health: Some(Arc::new(crate::telemetry::ReplicaHealth::start(
                node.clone(),
            ))),
            kubelet_client: Some(kubelet_client),
        },
    );
    let warm = kube.clone();
    tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        warm.warm_up();
        tracing::info!(
            ms = started.elapsed().as_millis() as u64,
            "OpenAPI schemas built"
        );
    });
    let boot = kube.clone();
    tokio::spawn(async move {
        // The system namespaces and the `kubernetes` service, once the cluster takes writes.
        loop {
            match boot.bootstrap().await {
                Ok(()) => break,
                Err(e) => {
                    tracing::debug!(error = %e.message, "Kubernetes bootstrap objects: retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    });
    let serving = ServingTls {
        ca_cert_pem: pki.ca.cert.clone(),
        cert_pem: node_pair.cert.clone(),
        key_pem: node_pair.key.clone(),
    };
    let api_stop = stopped(stop_rx.clone());
    let router = kube.router();
    let api_task = tokio::spawn(async move {
        if let Err(e) = serve_tls(api_listener, router, &serving, api_stop).await {
            tracing::error!(error = %e, "Kubernetes API server failed");
        }
    });
    // Leader-only work, started per led term and stopped when the term ends.
    let mut leader_work: Vec<TermWork> = Vec::new();
    if !backup_every.is_zero() {
        leader_work.push(crate::scheduled_backup::per_term(
            node.clone(),
            data_dir.clone(),
            ident.cluster_id,
            ident.id,
            backup_every,
            args.snapshot_retention,
        ));
    }
    leader_work.push(crate::controller_manager::per_term(
        kube.clone(),
        node.clone(),
        manager,
        refused_writes.clone(),
    ));
    if !args.disable_scheduler {
        leader_work.push(crate::scheduler::per_term(
            kube.clone(),
            node.clone(),
            scheduler,
            refused_writes.clone(),
        ));
    }
    leader_work.push(crate::apiserver_endpoints::per_term(
        kube.clone(),
        node.clone(),
        refused_writes.clone(),
    ));
    let identity_stop = CancellationToken::new();
    let identity_task = tokio::spawn(crate::apiserver_endpoints::renew_identity(
        kube.clone(),
        ident.id,
        args.name.clone(),
        advertised_api(&args, api_bound),
        identity_stop.clone(),
    ));
    let leader_stop = CancellationToken::new();
    // Leader-only work (the controllers' and the scheduler's informers decoding whole lists,
    // their reconciles, the scheduling cycle) runs on threads of its own, so a burst of it —
    // a new term listing 20,000 pods — cannot hold up this runtime's raft heartbeats and
    // requests: the kernel shares the cores between the two sets of threads.
    let leader_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("leader-work")
        .enable_all()
        .build()?;
    let leader_task = leader_runtime.spawn(crate::leader_terms::run(
        node.kv().leadership(),
        crate::leader_terms::confirm_by_read_index(node.clone()),
        leader_work,
        leader_stop.clone(),
        term_counts,
    ));
    let admin_cert = std::fs::read_to_string(pki.dir.join("admin.crt"))?;
    let admin_key = std::fs::read_to_string(pki.dir.join("admin.key"))?;
    write_private(
        &data_dir.join("admin.kubeconfig"),
        &admin_kubeconfig(&api_url, &pki.ca.cert, &admin_cert, &admin_key),
    )?;

    write_private(
        &data_dir.join("endpoints.json"),
        &format!(
            "{{\"name\":{:?},\"member_id\":\"{:x}\",\"cluster_id\":\"{:x}\",\"api\":{:?},\"client\":{:?},\"peer\":{:?},\"ca\":{:?},\"cert\":{:?},\"key\":{:?},\"kubeconfig\":{:?}}}\n",
            args.name,
            ident.id,
            ident.cluster_id,
            api_url,
            client_url,
            peer_url,
            pki.dir.join("ca.crt").display().to_string(),
            pki.dir.join("admin.crt").display().to_string(),
            pki.dir.join("admin.key").display().to_string(),
            data_dir.join("admin.kubeconfig").display().to_string(),
        ),
    )?;
    tracing::info!(
        name = %args.name,
        member_id = %format!("{:x}", ident.id),
        api = %api_url,
        client = %client_url,
        peer = %peer_url,
        data_dir = %data_dir.display(),
        token = %pki.dir.join("token").display(),
        "capstan server ready"
    );

    wait_for_signal().await?;
    tracing::info!("shutting down");
    // Leader-only work stops (and is waited for) before leadership is handed over; work that
    // does not stop in time is left behind (its writes are fenced by its term anyway).
    leader_stop.cancel();
    identity_stop.cancel();
    let _ = identity_task.await;
    if tokio::time::timeout(LEADER_WORK_STOP, leader_task)
        .await
        .is_err()
    {
        tracing::warn!(
            "leader-only work did not stop within {LEADER_WORK_STOP:?}; shutting down anyway"
        );
    }
    leader_runtime.shutdown_background();
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), client_task).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), api_task).await;
    node.shutdown().await;
    let _ = peer_stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(2), peer_task).await;
    tracing::info!("stopped");
    Ok(())
}

/// How long a shutdown waits for leader-only work to stop before handing leadership over.
const LEADER_WORK_STOP: Duration = Duration::from_secs(10);

pub async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}
