//! The `capstan` binary: the command line over the crates. Today it can inspect snapshot files;
//! `capstan server` and the other subcommands of DESIGN.md arrive with their issues.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

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
    /// Snapshot files of the store.
    Snapshot {
        #[command(subcommand)]
        command: SnapshotCmd,
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

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
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
