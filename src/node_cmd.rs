//! `capstan node`: the node agent's command line (crate `capstan-node`).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use capstan_node::{NodeConfig, RuntimeKind};
use clap::{Args, ValueEnum};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use tokio_util::sync::CancellationToken;

/// `--runtime`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum RuntimeArg {
    /// `process` (the sandbox runtime is not built yet).
    Auto,
    /// Pods in their own namespaces (root); not available yet.
    Sandbox,
    /// Host processes, the pod IP is the node's.
    Process,
    /// Simulated: pods run without processes (scale tests).
    Sim,
}

#[derive(Args)]
pub struct NodeArgs {
    /// The Node's name; with `--sim K`, nodes NAME-0 … NAME-(K-1).
    #[arg(long)]
    pub name: String,
    /// The kubeconfig to reach the API with (e.g. `capstan kubeconfig > admin.kubeconfig`).
    #[arg(long)]
    pub kubeconfig: PathBuf,
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
            (RuntimeArg::Sandbox, _) => {
                bail!("--runtime sandbox is not available in this build yet; use process or sim")
            }
            (RuntimeArg::Auto | RuntimeArg::Process, _) => RuntimeKind::Process,
        };
        let data_dir = match &self.data_dir {
            Some(d) => d.clone(),
            None => crate::server::default_data_dir()?.join(format!("node-{}", self.name)),
        };
        let mut c = NodeConfig::new(self.name.clone(), data_dir);
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
        Ok(c)
    }
}

pub async fn run(args: NodeArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    let kubeconfig = kube::config::Kubeconfig::read_from(&args.kubeconfig)
        .with_context(|| format!("reading {}", args.kubeconfig.display()))?;
    let client_config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .with_context(|| format!("using {}", args.kubeconfig.display()))?;
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
