//! `capstan backup FILE | verify FILE | list`: a consistent snapshot of a running cluster, streamed
//! from any replica's etcd Maintenance API (authenticated with the admin certificate) into a
//! checksummed backup file with a manifest; offline verification; the server's scheduled backups.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use capstan_proto::etcdserverpb::maintenance_client::MaintenanceClient;
use capstan_proto::etcdserverpb::SnapshotRequest;
use capstan_proto::store::BackupManifest;
use capstan_store::{count_snapshot, write_backup, BackupFile, SnapshotReader};
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};

use crate::member_cmd::{channel, Connection};

#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BackupArgs {
    #[command(subcommand)]
    command: Option<BackupCmd>,
    /// Where to write the backup (refused if it exists).
    file: Option<PathBuf>,
    #[command(flatten)]
    conn: Connection,
}

#[derive(clap::Subcommand, Debug)]
enum BackupCmd {
    /// Checks a backup file offline: checksum, manifest, every record.
    Verify {
        /// The backup file.
        file: PathBuf,
    },
    /// Lists the scheduled backups a server keeps in <data-dir>/snapshots.
    List {
        /// The server's data dir [default: as `capstan server`].
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

pub async fn run(args: BackupArgs) -> anyhow::Result<()> {
    match args.command {
        Some(BackupCmd::Verify { file }) => verify(&file),
        Some(BackupCmd::List { data_dir }) => {
            let dir = match data_dir {
                Some(d) => d,
                None => crate::server::default_data_dir()?,
            };
            list(&dir.join(SCHEDULED_DIR))
        }
        None => {
            let file = args
                .file
                .context("give the file to write the backup to (capstan backup FILE)")?;
            save(&args.conn, &file).await
        }
    }
}

/// Where a server keeps its scheduled backups, under its data dir.
pub const SCHEDULED_DIR: &str = "snapshots";

fn verify(file: &Path) -> anyhow::Result<()> {
    let backup = BackupFile::open(file).with_context(|| format!("reading {}", file.display()))?;
    backup
        .verify()
        .with_context(|| format!("verifying {}", file.display()))?;
    println!("ok: {}", describe(&backup.manifest, backup.size));
    Ok(())
}

fn list(dir: &Path) -> anyhow::Result<()> {
    let mut found = scheduled_backups(dir)?;
    found.sort();
    for path in found {
        match BackupFile::open(&path) {
            Ok(b) => println!("{}: {}", path.display(), describe(&b.manifest, b.size)),
            Err(e) => println!("{}: unreadable: {e}", path.display()),
        }
    }
    Ok(())
}

/// The paths in `dir` (none if it does not exist).
pub fn dir_entries(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    entries
        .map(|e| Ok(e?.path()))
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("reading {}", dir.display()))
}

/// The backup files in `dir` (none if it does not exist).
pub fn scheduled_backups(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut all = dir_entries(dir)?;
    all.retain(|p| p.extension().is_some_and(|e| e == "backup"));
    Ok(all)
}

/// One line about a backup.
pub fn describe(m: &BackupManifest, size: u64) -> String {
    let created = UNIX_EPOCH + Duration::from_millis(m.created_unix_ms.max(0) as u64);
    format!(
        "cluster {:x}, revision {}, {} keys, {} versions, {} leases, {} bytes, taken {} from member {:x} by capstan {}",
        m.cluster_id,
        m.revision,
        m.keys,
        m.versions,
        m.leases,
        size,
        rfc3339(created),
        m.member_id,
        m.capstan_version
    )
}

/// `t` as an RFC 3339 UTC timestamp (seconds).
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Builds the manifest of a snapshot file taken from `cluster_id`/`member_id`, checking every
/// record of it on the way.
pub fn manifest_for(
    snapshot: &Path,
    cluster_id: u64,
    member_id: u64,
) -> anyhow::Result<BackupManifest> {
    let size = std::fs::metadata(snapshot)?.len();
    let mut hasher = Sha256::new();
    std::io::copy(&mut std::fs::File::open(snapshot)?, &mut hasher)?;
    let (header, counts) = count_snapshot(SnapshotReader::open(snapshot)?)
        .context("the streamed snapshot does not verify")?;
    Ok(BackupManifest {
        cluster_id,
        member_id,
        revision: header.revision,
        compact_revision: header.compact_revision,
        keys: counts.keys,
        versions: counts.versions,
        leases: counts.leases,
        snapshot_bytes: size,
        snapshot_sha256: hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        capstan_version: env!("CARGO_PKG_VERSION").to_string(),
        created_unix_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as i64,
    })
}

async fn save(conn: &Connection, file: &Path) -> anyhow::Result<()> {
    if file.exists() {
        anyhow::bail!("{} exists; choose another file", file.display());
    }
    let started = Instant::now();
    let mut client =
        MaintenanceClient::new(channel(conn).await?).max_decoding_message_size(64 << 20);
    let mut stream = client
        .snapshot(SnapshotRequest {})
        .await
        .context("asking the replica for a snapshot")?
        .into_inner();
    let mut stream_path = file.as_os_str().to_os_string();
    stream_path.push(".stream");
    let stream_path = PathBuf::from(stream_path);
    let result = async {
        let mut out = std::io::BufWriter::new(
            std::fs::File::create(&stream_path)
                .with_context(|| format!("creating {}", stream_path.display()))?,
        );
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {bytes}/{total_bytes} {bytes_per_sec}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let mut ids = None;
        while let Some(msg) = stream.message().await.context("receiving the snapshot")? {
            if let Some(h) = &msg.header {
                ids.get_or_insert((h.cluster_id, h.member_id));
                bar.set_length(bar.position() + msg.blob.len() as u64 + msg.remaining_bytes);
            }
            out.write_all(&msg.blob)?;
            bar.inc(msg.blob.len() as u64);
        }
        bar.finish_and_clear();
        out.into_inner()
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", stream_path.display()))?
            .sync_all()?;
        let (cluster_id, member_id) = ids.context("the replica sent no snapshot header")?;
        let manifest = manifest_for(&stream_path, cluster_id, member_id)?;
        let size = write_backup(file, &manifest, &stream_path)
            .with_context(|| format!("writing {}", file.display()))?;
        anyhow::Ok((manifest, size))
    }
    .await;
    let _ = std::fs::remove_file(&stream_path);
    let (manifest, size) = result?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "backup {}: revision {}, {} keys, {} bytes in {:.1} s ({:.1} MiB/s), snapshot sha256 {}",
        file.display(),
        manifest.revision,
        manifest.keys,
        size,
        secs,
        size as f64 / (1 << 20) as f64 / secs.max(1e-9),
        manifest.snapshot_sha256
    );
    Ok(())
}
