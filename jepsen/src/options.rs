//! `capstan jepsen`'s command line.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use clap::builder::{PossibleValue, PossibleValuesParser};

use crate::nemesis::FAULTS;
use crate::workload::WORKLOADS;

fn workload_values() -> PossibleValuesParser {
    PossibleValuesParser::new(
        WORKLOADS
            .iter()
            .map(|(name, _, help)| PossibleValue::new(*name).help(*help)),
    )
}

fn fault_values() -> PossibleValuesParser {
    let mut values = vec![PossibleValue::new("all").help("every fault below (not `none`)")];
    values.extend(
        FAULTS
            .iter()
            .map(|(name, _, help)| PossibleValue::new(*name).help(*help)),
    );
    PossibleValuesParser::new(values)
}

/// Fault tests against real `capstan server` processes: start a cluster on loopback, run
/// register, list-append, lease and watch clients while one fault class is injected again and
/// again, heal, read every replica's store back, check the history, and write a report.
///
/// Each run gets a directory under --out with history.jsonl, watch-*.jsonl, every replica's
/// logs and ground-truth dump, results.json and index.html; --out/index.html lists all runs.
/// Exit status: 0 if every checker said valid, 1 if any said invalid, 2 if any was unknown.
#[derive(clap::Args, Debug, Clone)]
pub struct JepsenArgs {
    /// Faults to run, comma-separated (one fault class per run).
    #[arg(long, value_delimiter = ',', default_value = "partition-leader", value_parser = fault_values())]
    pub nemesis: Vec<String>,

    /// Workloads to run, comma-separated (each fault runs once per workload): the etcd API
    /// workloads, or one of the Kubernetes REST workloads.
    #[arg(long, value_delimiter = ',', default_value = "etcd", value_parser = workload_values())]
    pub workload: Vec<String>,

    /// Cluster sizes to run each fault on (1, 3 or 5), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "3")]
    pub replicas: Vec<usize>,

    /// Runs per fault and cluster size.
    #[arg(long, default_value_t = 1)]
    pub runs: u32,

    /// Seconds of the fault window of each run (a 3 s warm-up comes before it, a 4 s recovery
    /// with the clients still running after it, then the final convergence and checks).
    #[arg(long, default_value_t = 15)]
    pub time: u64,

    /// Seed of the first run's fault schedule and client choices; run k uses SEED+k. A run's
    /// report names its seed: `--nemesis F --replicas N --seed S` replays its schedule (the
    /// system's own timing is not replayed). Random when not given.
    #[arg(long)]
    pub seed: Option<u64>,

    /// Directory for the run directories and the index page.
    #[arg(long, default_value = "target/jepsen")]
    pub out: PathBuf,

    /// Loopback address for replicas, proxies and clients (must be in 127.0.0.0/8).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: Ipv4Addr,

    /// Pause of each client lane between two operations, in milliseconds (sets the load).
    #[arg(long, default_value_t = 10)]
    pub gap_ms: u64,

    /// Operations on one register key before the workload moves to a fresh key (keeps the
    /// linearizability search per key small, as Jepsen's ops-per-key does).
    #[arg(long, default_value_t = 150)]
    pub ops_per_key: u64,

    /// Register keys in use at a time.
    #[arg(long, default_value_t = 4)]
    pub registers: usize,

    /// Keys of the list-append workload.
    #[arg(long, default_value_t = 4)]
    pub append_keys: usize,

    /// The replicas' --snapshot-count (low, so snapshots and log purges happen in every run).
    #[arg(long, default_value_t = 100)]
    pub snapshot_count: u64,

    /// The replicas' --election-timeout-ms.
    #[arg(long, default_value_t = 400)]
    pub election_timeout_ms: u64,

    /// The replicas' --heartbeat-ms.
    #[arg(long, default_value_t = 50)]
    pub heartbeat_ms: u64,

    /// Time budget of each search checker (linearizability, serializability) per run, in
    /// seconds; past it the verdict is unknown, never valid.
    #[arg(long, default_value_t = 30)]
    pub check_budget: u64,

    /// Keep the replicas' data dirs of valid runs too (invalid and unknown runs keep them).
    #[arg(long)]
    pub keep_data: bool,

    /// Self-test of the checkers: arm the server's deliberately broken read path (linearizable
    /// reads served from the local store without a read index). Needs a build with the
    /// `fault-injection` feature; the checkers must then find stale reads.
    #[arg(long)]
    pub unsafe_stale_reads: bool,

    /// The capstan binary whose servers are tested (default: this executable).
    #[arg(long)]
    pub capstan: Option<PathBuf>,

    /// Re-run the checkers on a saved run directory (its history, watches and dumps) and
    /// rewrite its results and page, instead of running anything.
    #[arg(long, value_name = "RUN_DIR")]
    pub replay: Option<PathBuf>,

    /// Print the Markdown table of every run under --out (for README) and exit.
    #[arg(long)]
    pub summary: bool,
}
