//! `capstan node`: the node agent's command line (crate `capstan-node`).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use capstan_node::images::{archive, ImageStore, RegistryRule};
use capstan_node::{NodeConfig, RuntimeKind};
use clap::{Args, Subcommand, ValueEnum};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use tokio_util::sync::CancellationToken;

/// `--runtime`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum RuntimeArg {
    /// `sandbox` as root, else `process`.
    Auto,
    /// Pods in their own namespaces with their own IPs, volumes and cgroups (root).
    Sandbox,
    /// Host processes, the pod IP is the node's.
    Process,
    /// Simulated: pods run without processes (scale tests).
    Sim,
}

/// `capstan node …` commands besides running the agent.
#[derive(Subcommand)]
pub enum NodeCmd {
    /// Removes what node agents of this machine left behind after a crash or a kill: their
    /// pods' processes, cgroups, veths, bridges and nftables tables. Run it with no agent
    /// running.
    Cleanup,
    /// The node's image store: import archives, list images.
    Image {
        #[command(subcommand)]
        command: ImageCmd,
    },
}

/// `capstan node image …`.
#[derive(Subcommand)]
pub enum ImageCmd {
    /// Imports the images of `docker save` archives or OCI image layouts (tar files).
    Import {
        /// The archives.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        store: ImageDirArgs,
    },
    /// Lists the stored images: name, image id, size.
    List {
        #[command(flatten)]
        store: ImageDirArgs,
    },
}

/// Which node's image store.
#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct ImageDirArgs {
    /// The store (the agent's `--image-dir`).
    #[arg(long)]
    image_dir: Option<PathBuf>,
    /// The agent's data directory (the store is its `images`).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

impl ImageDirArgs {
    fn open(&self) -> anyhow::Result<ImageStore> {
        let dir = match (&self.image_dir, &self.data_dir) {
            (Some(d), _) => d.clone(),
            (None, Some(d)) => d.join("images"),
            (None, None) => bail!("--image-dir or --data-dir is required"),
        };
        ImageStore::open(&dir).with_context(|| format!("opening {}", dir.display()))
    }
}

fn image_command(cmd: &ImageCmd) -> anyhow::Result<()> {
    match cmd {
        ImageCmd::Import { files, store } => {
            let store = store.open()?;
            for f in files {
                let images = archive::import(&store, f)
                    .with_context(|| format!("importing {}", f.display()))?;
                for i in images {
                    let name = i.tags.first().cloned().unwrap_or_else(|| "<none>".into());
                    println!("imported {name} {}", i.id);
                }
            }
        }
        ImageCmd::List { store } => {
            let store = store.open()?;
            println!("{:<60} {:<20} SIZE", "IMAGE", "IMAGE ID");
            for i in store.list()? {
                let short: String =
                    i.id.trim_start_matches("sha256:")
                        .chars()
                        .take(13)
                        .collect();
                let names = if i.tags.is_empty() {
                    vec!["<none>".to_string()]
                } else {
                    i.tags.clone()
                };
                for n in names {
                    println!("{n:<60} {short:<20} {}", i.size);
                }
            }
        }
    }
    Ok(())
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct NodeArgs {
    #[command(subcommand)]
    pub command: Option<NodeCmd>,
    /// The Node's name; with `--sim K`, nodes NAME-0 … NAME-(K-1).
    #[arg(long, required = true)]
    pub name: Option<String>,
    /// The kubeconfig to reach the API with (e.g. `capstan kubeconfig > admin.kubeconfig`).
    #[arg(long, required = true)]
    pub kubeconfig: Option<PathBuf>,
    /// Where pod logs and the agent's state live [default: <data dir>/node-<name>].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "auto")]
    pub runtime: RuntimeArg,
    /// Simulated nodes in this process (implies `--runtime sim`).
    #[arg(long, default_value_t = 0)]
    pub sim: usize,
    /// The node's InternalIP and the pods' hostIP.
    #[arg(long, default_value = "127.0.0.1")]
    pub node_ip: IpAddr,
    /// The port of the agent's HTTPS endpoint (logs); 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// `capacity.pods`.
    #[arg(long, default_value_t = 110)]
    pub max_pods: u32,
    /// Capacity overrides: `cpu=4,memory=8Gi,example.com/gpu=2`.
    #[arg(long, value_delimiter = ',')]
    pub capacity: Vec<String>,
    /// Labels for the Node: `k=v,k2=v2`.
    #[arg(long, value_delimiter = ',')]
    pub node_labels: Vec<String>,
    /// On SIGTERM, leave the pods' objects as they are instead of stopping them and reporting
    /// them Failed (their processes stop either way).
    #[arg(long)]
    pub leave_pods: bool,
    /// The longest a pod gets to stop when the agent stops.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub shutdown_grace_period: Duration,
    /// How often the Lease is renewed.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub lease_renew_interval: Duration,
    /// The image store (sandbox runtime) [default: <data dir>/images].
    #[arg(long)]
    pub image_dir: Option<PathBuf>,
    /// Where a registry's images are pulled from: REGISTRY=https://HOST[:PORT],
    /// REGISTRY=http://HOST[:PORT] (plain HTTP) or REGISTRY=none (no pulls); REGISTRY `*` is
    /// every registry not named. Repeatable. Without one, a registry is pulled from itself
    /// over HTTPS.
    #[arg(long = "registry")]
    pub registries: Vec<RegistryRule>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, "s"), |i| (&s[..i], &s[i..]));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 30s"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(format!("{s:?} is not a duration like 30s, 500ms or 2m")),
    }
}

fn pairs(flag: &str, items: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    items
        .iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => bail!("--{flag}: {kv:?} is not KEY=VALUE"),
        })
        .collect()
}

impl NodeArgs {
    fn config(&self) -> anyhow::Result<NodeConfig> {
        let runtime = match (self.runtime, self.sim) {
            (_, k) if k > 0 => RuntimeKind::Sim,
            (RuntimeArg::Sim, _) => RuntimeKind::Sim,
            (RuntimeArg::Sandbox, _) if !capstan_node::runtime::sandbox::is_root() => {
                bail!("--runtime sandbox needs root (namespaces, mounts, cgroups); use --runtime process")
            }
            (RuntimeArg::Sandbox, _) => RuntimeKind::Sandbox,
            (RuntimeArg::Auto, _) if capstan_node::runtime::sandbox::is_root() => {
                RuntimeKind::Sandbox
            }
            (RuntimeArg::Auto | RuntimeArg::Process, _) => RuntimeKind::Process,
        };
        let name = self.name.clone().unwrap_or_default();
        let data_dir = match &self.data_dir {
            Some(d) => d.clone(),
            None => crate::server::default_data_dir()?.join(format!("node-{name}")),
        };
        let mut c = NodeConfig::new(name, data_dir);
        c.runtime = runtime;
        c.sim = self.sim;
        c.node_ip = self.node_ip;
        c.max_pods = self.max_pods;
        c.port = self.port;
        c.capacity = pairs("capacity", &self.capacity)?
            .into_iter()
            .map(|(k, v)| (k, Quantity(v)))
            .collect();
        c.labels = pairs("node-labels", &self.node_labels)?;
        c.stop_pods_on_exit = !self.leave_pods;
        c.shutdown_grace_period = self.shutdown_grace_period;
        c.lease_renew_interval = self.lease_renew_interval;
        c.image_dir = self.image_dir.clone();
        c.registries = self.registries.clone();
        Ok(c)
    }
}

pub async fn run(args: NodeArgs) -> anyhow::Result<()> {
    match &args.command {
        Some(NodeCmd::Cleanup) => {
            for line in capstan_node::runtime::sandbox::cleanup_machine().await {
                println!("removed {line}");
            }
            return Ok(());
        }
        Some(NodeCmd::Image { command }) => return image_command(command),
        None => {}
    }
    let config = args.config()?;
    let kubeconfig_path = args.kubeconfig.clone().unwrap_or_default();
    let kubeconfig = kube::config::Kubeconfig::read_from(&kubeconfig_path)
        .with_context(|| format!("reading {}", kubeconfig_path.display()))?;
    let client_config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .with_context(|| format!("using {}", kubeconfig_path.display()))?;
    let mut config = config;
    // The agent's endpoint accepts client certificates of the cluster CA (the API server's).
    config.client_ca = client_config.root_cert.clone().unwrap_or_default();
    let client = kube::Client::try_from(client_config)?;
    let stop = CancellationToken::new();
    let mut agent = tokio::spawn(capstan_node::run(client, config, stop.clone()));
    tokio::select! {
        signal = crate::server::wait_for_signal() => {
            signal?;
            stop.cancel();
            agent.await??;
        }
        // It ended by itself: it could not start (registration refused, bad data dir).
        ended = &mut agent => ended??,
    }
    Ok(())
}
