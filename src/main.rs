//! The `capstan` binary: the command line over the crates — `server` (a control-plane
//! replica), `node` (the node agent), `member` (membership), `pki init`, `backup`, `restore`, `migrate`, `snapshot verify`, `jepsen`
//! (fault tests). The other subcommands of
//! DESIGN.md arrive with their issues.

mod apiserver_endpoints;
mod backup_cmd;
mod cluster_view;
mod controller_manager;
mod fenced_kv;
mod identity;
mod join;
mod kubeconfig;
mod leader_terms;
mod member_cmd;
mod migrate_cmd;
mod node_cmd;
mod pki_files;
mod restore_cmd;
mod scheduled_backup;
mod scheduler;
mod server;
mod telemetry;
mod term_client;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

/// mimalloc instead of glibc's malloc: allocation was a fifth of a replica's CPU under create load
/// (glibc's arena consolidation), and glibc kept the freed peak of large list responses resident.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "capstan",
    version,
    about = "A Kubernetes control plane with its own replicated storage"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Runs a control-plane replica.
    Server(Box<server::ServerArgs>),
    /// Cluster membership.
    Member {
        #[command(subcommand)]
        command: member_cmd::MemberCmd,
    },
    /// The cluster PKI.
    Pki {
        #[command(subcommand)]
        command: PkiCmd,
    },
    /// A consistent backup of a running cluster to a file; `verify` checks one offline; `list`
    /// shows the scheduled backups a server keeps.
    Backup(backup_cmd::BackupArgs),
    /// Builds a replica of a new cluster from a backup.
    Restore(restore_cmd::RestoreArgs),
    /// Copies a live etcd v3 keyspace at one revision into a new capstan data dir.
    Migrate(migrate_cmd::MigrateArgs),
    /// Snapshot files of the store.
    Snapshot {
        #[command(subcommand)]
        command: SnapshotCmd,
    },
    /// Prints the admin kubeconfig a server wrote in its data dir.
    Kubeconfig {
        /// The server's data dir [default: as `capstan server`].
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// The node agent: registers a Node and runs the pods bound to it.
    Node(Box<node_cmd::NodeArgs>),
    /// The sandbox runtime's helper processes (started by `capstan node`, not by hand).
    #[command(hide = true)]
    SandboxInit {
        #[command(subcommand)]
        command: SandboxInitCmd,
    },
    /// Fault tests: kills, pauses, partitions, clock and disk faults against real replicas
    /// under load, with the history checked (linearizability, serializability, watches, leases).
    Jepsen(capstan_jepsen::JepsenArgs),
}

#[derive(Subcommand)]
enum SandboxInitCmd {
    /// Holds a pod's namespaces with its hostname.
    Pause { hostname: String },
    /// Sets up a container's root and mounts and runs its first process.
    Container { spec: PathBuf },
    /// The container's first process: joins its cgroup, pivots into its root, executes it.
    Exec { spec: PathBuf },
    /// Relays a port-forward connection to the pod's localhost.
    Dial { port: u16 },
}

#[derive(Subcommand)]
enum PkiCmd {
    /// Makes a cluster CA and the admin certificate in DIR (for `capstan server --pki-dir`).
    Init {
        /// The PKI dir.
        dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum SnapshotCmd {
    /// Checks a snapshot file offline (format, every record, checksum) and prints what it holds.
    Verify {
        /// The snapshot file.
        file: PathBuf,
    },
}

fn main() -> std::process::ExitCode {
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn init_logging(format: server::LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,openraft=warn"));
    let log = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        server::LogFormat::Text => log
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        server::LogFormat::Json => log.json().init(),
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Cmd::Server(args) => {
            init_logging(args.log_format);
            runtime()?.block_on(server::run(*args))?;
        }
        Cmd::Jepsen(args) => {
            let failpoints = cfg!(feature = "fault-injection");
            let code = runtime()?.block_on(capstan_jepsen::run_suite(args, failpoints))?;
            if code != 0 {
                std::process::exit(code);
            }
        }
        Cmd::SandboxInit { command } => {
            use capstan_node::runtime::sandbox::init;
            std::process::exit(match command {
                SandboxInitCmd::Pause { hostname } => init::pause(&hostname),
                SandboxInitCmd::Container { spec } => init::container(&spec),
                SandboxInitCmd::Exec { spec } => init::exec(&spec),
                SandboxInitCmd::Dial { port } => init::dial(port),
            });
        }
        Cmd::Node(args) => {
            init_logging(server::LogFormat::Text);
            runtime()?.block_on(node_cmd::run(*args))?;
        }
        Cmd::Member { command } => runtime()?.block_on(member_cmd::run(command))?,
        Cmd::Backup(args) => runtime()?.block_on(backup_cmd::run(args))?,
        Cmd::Restore(args) => restore_cmd::run(args)?,
        Cmd::Migrate(args) => runtime()?.block_on(migrate_cmd::run(args))?,
        Cmd::Kubeconfig { data_dir } => {
            let dir = match data_dir {
                Some(d) => d,
                None => server::default_data_dir()?,
            };
            print!("{}", kubeconfig::read(&dir)?);
        }
        Cmd::Pki {
            command: PkiCmd::Init { dir },
        } => {
            let pki = pki_files::ensure_pki(&dir)?;
            println!(
                "CA {} and admin certificate {} ready",
                pki.dir.join("ca.crt").display(),
                pki.dir.join("admin.crt").display()
            );
        }
        Cmd::Snapshot {
            command: SnapshotCmd::Verify { file },
        } => {
            let info = capstan_store::verify_snapshot(&file)
                .with_context(|| format!("verifying {}", file.display()))?;
            println!(
                "ok: revision {}, compact revision {}, {} entries, {} bytes, sha256 {}",
                info.revision, info.compact_revision, info.entries, info.size, info.sha256
            );
        }
    }
    Ok(())
}
