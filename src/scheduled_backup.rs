//! Scheduled backups inside the server: every `--snapshot-interval`, the replica that leads (as
//! leader-only work of its term, see `leader_terms`) writes
//! a backup file (the same format as `capstan backup`) into `<data-dir>/snapshots/` and keeps the
//! newest `--snapshot-retention` of them. One replica takes them, so a cluster does not write
//! three copies of each; `capstan backup list` shows them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use capstan_raft::RaftNode;
use capstan_store::{write_backup, Kv};

use crate::backup_cmd::{manifest_for, rfc3339, scheduled_backups, SCHEDULED_DIR};
use crate::leader_terms::{LeaderTerm, TermWork};

/// `90s`, `30m`, `12h`, `1d` or plain seconds; `0` turns scheduling off.
pub fn parse_interval(s: &str) -> anyhow::Result<Duration> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = num
        .parse()
        .with_context(|| format!("{s:?} is not a duration such as 30m, 12h or 1d"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => anyhow::bail!("{s:?}: the unit must be s, m, h or d"),
    };
    Ok(Duration::from_secs(secs))
}

/// The scheduled backups as leader-only work: while this replica leads a term, one backup every
/// `every` (the first one interval into the term), the newest `keep` kept.
pub fn per_term(
    node: Arc<RaftNode>,
    data_dir: PathBuf,
    cluster_id: u64,
    member_id: u64,
    every: Duration,
    keep: usize,
) -> TermWork {
    let dir = data_dir.join(SCHEDULED_DIR);
    Arc::new(move |term: LeaderTerm| {
        let (node, dir) = (node.clone(), dir.clone());
        Box::pin(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // The first tick fires at once: the first backup comes one interval in.
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = term.ended.cancelled() => return,
                    _ = tick.tick() => {}
                }
                // A backup under way finishes (its file is written whole or not at all), and
                // the term's end waits for it.
                match take(&node, &dir, cluster_id, member_id, keep).await {
                    Ok(path) => {
                        tracing::info!(file = %path.display(), term = term.term, "scheduled backup written")
                    }
                    Err(e) => tracing::warn!(error = %format!("{e:#}"), "scheduled backup failed"),
                }
            }
        })
    })
}

async fn take(
    node: &RaftNode,
    dir: &Path,
    cluster_id: u64,
    member_id: u64,
    keep: usize,
) -> anyhow::Result<PathBuf> {
    crate::pki_files::private_dir(dir)?;
    let stamp = rfc3339(SystemTime::now()).replace([':', '-'], "");
    let snapshot = dir.join(format!(".capstan-{stamp}.snapshot"));
    let info = node.kv().snapshot(&snapshot).await;
    let dir = dir.to_path_buf();
    let written = tokio::task::spawn_blocking(move || -> anyhow::Result<PathBuf> {
        let result = (|| {
            let info = info?;
            let manifest = manifest_for(&snapshot, cluster_id, member_id)?;
            let dest = dir.join(format!("capstan-{stamp}-r{}.backup", info.revision));
            write_backup(&dest, &manifest, &snapshot)?;
            anyhow::Ok(dest)
        })();
        let _ = std::fs::remove_file(&snapshot);
        let dest = result?;
        // File names sort by time: drop the oldest beyond the retention.
        let mut all = scheduled_backups(&dir)?;
        all.sort();
        let excess = all.len().saturating_sub(keep.max(1));
        for old in &all[..excess] {
            std::fs::remove_file(old).with_context(|| format!("removing {}", old.display()))?;
        }
        Ok(dest)
    })
    .await??;
    Ok(written)
}
