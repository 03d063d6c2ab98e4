//! `capstan restore FILE`: builds the data dir of a replica of a new cluster from a backup (or a
//! snapshot saved with `etcdctl snapshot save`). The file is checked completely before the data
//! dir is touched. The image's revision is bumped and its history compacted (etcdutl's
//! `--bump-revision` and `--mark-compacted`), so clients that watched the old cluster re-list
//! instead of silently missing changes; the cluster and member ids are new, salted with the
//! file's checksum, so every replica restored from one file agrees on them.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use capstan_store::{
    restore_items, verify_snapshot, Backend, BackupFile, RestoreShape, RocksBackend, SnapshotReader,
};

use crate::identity::{
    hash64, member_id, parse_initial_cluster, save_identity, save_restore_marker, ReplicaIdentity,
    RestoreMarker,
};
use crate::pki_files::private_dir;

#[derive(clap::Args, Debug)]
pub struct RestoreArgs {
    /// The backup file (`capstan backup`), or a snapshot saved with `etcdctl snapshot save`.
    file: PathBuf,
    #[command(flatten)]
    target: TargetArgs,
    /// Added to the backup's revision, so no revision of the new cluster repeats one the old
    /// cluster's clients saw with other contents.
    #[arg(long, default_value_t = 1_000_000_000)]
    bump_revision: i64,
    /// Keep the backup's history instead of compacting it at the new revision (watchers and
    /// informers of the old cluster may then resume without noticing the restore).
    #[arg(long)]
    keep_history: bool,
}

/// The replica of a new cluster that `restore` and `migrate` build.
#[derive(clap::Args, Debug)]
pub struct TargetArgs {
    /// The new replica's data dir [default: as `capstan server`].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The replica's name (as `capstan server --name`).
    #[arg(long, default_value = "default")]
    name: String,
    /// The voters of the new cluster, NAME=HOST:PORT,... (restore the same file on each, then
    /// start each with the same flags). Without it, a one-replica cluster.
    #[arg(long)]
    initial_cluster: Option<String>,
    /// Replace what the data dir holds (its PKI and scheduled backups are kept).
    #[arg(long)]
    force: bool,
}

impl TargetArgs {
    /// The target, its data dir defaulted as the server defaults it.
    pub fn resolve(&self) -> anyhow::Result<RestoreTarget> {
        Ok(RestoreTarget {
            data_dir: match &self.data_dir {
                Some(d) => d.clone(),
                None => crate::server::default_data_dir()?,
            },
            name: self.name.clone(),
            initial_cluster: self.initial_cluster.clone(),
            force: self.force,
        })
    }
}

/// What the file turned out to be.
enum Source {
    Backup(BackupFile),
    Snapshot(PathBuf),
}

impl Source {
    fn open(path: &Path) -> anyhow::Result<(Source, String)> {
        match BackupFile::open(path) {
            Ok(b) => {
                b.verify()?;
                let salt = b.manifest.snapshot_sha256.clone();
                Ok((Source::Backup(b), salt))
            }
            Err(backup_err) => match verify_snapshot(path) {
                Ok(info) => Ok((Source::Snapshot(path.to_path_buf()), info.sha256)),
                // Neither: report it as the backup it should have been.
                Err(_) => Err(backup_err.into()),
            },
        }
    }

    fn reader(&self) -> anyhow::Result<SnapshotReader> {
        Ok(match self {
            Source::Backup(b) => b.snapshot()?,
            Source::Snapshot(p) => SnapshotReader::open(p)?,
        })
    }
}

/// What a data dir may hold and still count as empty for a restore.
const KEPT: &[&str] = &["pki", crate::backup_cmd::SCHEDULED_DIR];

/// Where and as what a snapshot is restored.
pub struct RestoreTarget {
    pub data_dir: PathBuf,
    pub name: String,
    /// The voters, NAME=HOST:PORT,... (`None`: one replica).
    pub initial_cluster: Option<String>,
    pub force: bool,
}

/// What a restore built.
pub struct Restored {
    pub revision: i64,
    pub member_id: u64,
    pub cluster_id: u64,
}

pub fn run(args: RestoreArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let target = args.target.resolve()?;
    let shape = RestoreShape {
        bump_revision: args.bump_revision,
        mark_compacted: !args.keep_history,
    };
    let r = restore(&args.file, &target, shape)?;
    println!(
        "restored {} into {}: revision {} (compacted: {}), member {:x} of new cluster {:x}, in {:.1} s; {}",
        args.file.display(),
        target.data_dir.display(),
        r.revision,
        shape.mark_compacted,
        r.member_id,
        r.cluster_id,
        started.elapsed().as_secs_f64(),
        start_hint(&target)
    );
    Ok(())
}

/// How to start the replica a restore built.
pub fn start_hint(target: &RestoreTarget) -> String {
    format!(
        "start it with `capstan server --data-dir {}{}`",
        target.data_dir.display(),
        match &target.initial_cluster {
            Some(s) => format!(" --name {} --initial-cluster {s}", target.name),
            None => String::new(),
        }
    )
}

/// Checks `file` completely, then builds `target`'s data dir from it, shaped as `shape` says.
pub fn restore(
    file: &Path,
    target: &RestoreTarget,
    shape: RestoreShape,
) -> anyhow::Result<Restored> {
    let data_dir = &target.data_dir;
    let initial = match &target.initial_cluster {
        Some(s) => {
            let list = parse_initial_cluster(s)?;
            if !list.iter().any(|(n, _)| *n == target.name) {
                bail!(
                    "--name {:?} is not one of the --initial-cluster names",
                    target.name
                );
            }
            Some(list)
        }
        None => None,
    };
    // Everything is checked before the data dir is touched.
    let (source, salt) =
        Source::open(file).with_context(|| format!("reading {}", file.display()))?;
    let occupied = occupied(data_dir)?;
    if !occupied.is_empty() && !target.force {
        bail!(
            "{} is not empty (it holds {}); restore into a new data dir, or give --force to replace it",
            data_dir.display(),
            occupied.join(", ")
        );
    }
    private_dir(data_dir)?;
    for name in &occupied {
        let p = data_dir.join(name);
        if p.is_dir() {
            std::fs::remove_dir_all(&p)
        } else {
            std::fs::remove_file(&p)
        }
        .with_context(|| format!("removing {}", p.display()))?;
    }

    let mut reader = source.reader()?;
    let (header, mut items) = restore_items(&mut reader, shape)?;
    let store_dir = data_dir.join("replica").join("store");
    let backend = RocksBackend::open(&store_dir)
        .with_context(|| format!("opening {}", store_dir.display()))?;
    backend
        .import(&header, &mut items)
        .with_context(|| format!("importing into {}", store_dir.display()))?;
    drop(items);
    drop(backend);

    let spec: Vec<String> = initial
        .iter()
        .flatten()
        .map(|(n, u)| format!("{n}={u}"))
        .collect();
    let mut cluster_parts: Vec<&str> = vec!["restored", &salt];
    cluster_parts.extend(spec.iter().map(String::as_str));
    let id = match &initial {
        Some(list) => {
            let (_, url) = list
                .iter()
                .find(|(n, _)| *n == target.name)
                .context("--name is not in --initial-cluster")?;
            member_id(&target.name, url, Some(&salt))
        }
        None => member_id(&target.name, "restored", Some(&salt)),
    };
    let ident = ReplicaIdentity {
        id,
        cluster_id: hash64(&cluster_parts),
    };
    save_restore_marker(
        data_dir,
        &RestoreMarker {
            salt: salt.clone(),
            initial,
        },
    )?;
    // Last: a data dir with a member file and no marker would start as an old replica.
    save_identity(data_dir, &ident)?;
    Ok(Restored {
        revision: header.revision,
        member_id: ident.id,
        cluster_id: ident.cluster_id,
    })
}

/// The entries of `dir` a restore would replace.
fn occupied(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut out: Vec<String> = crate::backup_cmd::dir_entries(dir)?
        .iter()
        .filter_map(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !KEPT.contains(&n.as_str()))
        .collect();
    out.sort();
    Ok(out)
}
