//! A replica's identity on disk: its member and cluster ids (`<data-dir>/member`), how they are
//! derived, and the marker `capstan restore` leaves for the first start of a restored replica
//! (`<data-dir>/restored`).

use std::net::SocketAddr;
use std::path::Path;

use anyhow::{bail, Context};
use capstan_raft::NodeId;
use sha2::{Digest, Sha256};

use crate::pki_files::write_private;

/// A stable 64-bit id from `parts` (member and cluster ids).
pub fn hash64(parts: &[&str]) -> u64 {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    let d = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    u64::from_be_bytes(b).max(1)
}

/// `NAME=HOST:PORT,...` into (name, peer URL) pairs.
pub fn parse_initial_cluster(s: &str) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((name, addr)) = part.split_once('=') else {
            bail!("--initial-cluster entry {part:?} is not NAME=HOST:PORT");
        };
        let addr = addr
            .trim_start_matches("https://")
            .trim_start_matches("http://");
        addr.parse::<SocketAddr>()
            .with_context(|| format!("--initial-cluster entry {part:?}: bad address"))?;
        out.push((name.to_string(), format!("https://{addr}")));
    }
    let n = out.len();
    if ![1, 3, 5].contains(&n) {
        bail!("--initial-cluster names {n} voters; use 1, 3 or 5");
    }
    Ok(out)
}

/// The identity a replica keeps across restarts.
pub struct ReplicaIdentity {
    pub id: NodeId,
    pub cluster_id: u64,
}

pub fn load_identity(data_dir: &Path) -> anyhow::Result<Option<ReplicaIdentity>> {
    let p = data_dir.join("member");
    let Ok(text) = std::fs::read_to_string(&p) else {
        return Ok(None);
    };
    let mut id = None;
    let mut cluster_id = None;
    for line in text.lines() {
        match line.split_once('=') {
            Some(("id", v)) => id = u64::from_str_radix(v.trim(), 16).ok(),
            Some(("cluster_id", v)) => cluster_id = u64::from_str_radix(v.trim(), 16).ok(),
            _ => {}
        }
    }
    match (id, cluster_id) {
        (Some(id), Some(cluster_id)) => Ok(Some(ReplicaIdentity { id, cluster_id })),
        _ => bail!("{} is damaged", p.display()),
    }
}

pub fn save_identity(data_dir: &Path, ident: &ReplicaIdentity) -> anyhow::Result<()> {
    write_private(
        &data_dir.join("member"),
        &format!("id={:x}\ncluster_id={:x}\n", ident.id, ident.cluster_id),
    )
}

/// Left by `capstan restore` in a data dir until the restored replica first starts and forms its
/// new cluster: the salt that makes its ids new (the backup's checksum, the same on every replica
/// restored from one file) and the voters it restores with (none for one replica).
#[derive(Debug)]
pub struct RestoreMarker {
    pub salt: String,
    pub initial: Option<Vec<(String, String)>>,
}

const RESTORE_MARKER: &str = "restored";

pub fn save_restore_marker(data_dir: &Path, m: &RestoreMarker) -> anyhow::Result<()> {
    let initial = m
        .initial
        .iter()
        .flatten()
        .map(|(n, u)| format!("{n}={}", u.trim_start_matches("https://")))
        .collect::<Vec<_>>()
        .join(",");
    write_private(
        &data_dir.join(RESTORE_MARKER),
        &format!("salt={}\ninitial_cluster={initial}\n", m.salt),
    )
}

pub fn load_restore_marker(data_dir: &Path) -> anyhow::Result<Option<RestoreMarker>> {
    let p = data_dir.join(RESTORE_MARKER);
    let Ok(text) = std::fs::read_to_string(&p) else {
        return Ok(None);
    };
    let mut salt = None;
    let mut initial = None;
    for line in text.lines() {
        match line.split_once('=') {
            Some(("salt", v)) => salt = Some(v.trim().to_string()),
            Some(("initial_cluster", v)) if !v.trim().is_empty() => {
                initial = Some(parse_initial_cluster(v.trim())?)
            }
            _ => {}
        }
    }
    let salt = salt.with_context(|| format!("{} is damaged", p.display()))?;
    Ok(Some(RestoreMarker { salt, initial }))
}

pub fn remove_restore_marker(data_dir: &Path) -> anyhow::Result<()> {
    let p = data_dir.join(RESTORE_MARKER);
    std::fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))
}

/// The member id of voter `name` at `peer_url`: in a restored cluster, salted so it is new.
pub fn member_id(name: &str, peer_url: &str, salt: Option<&str>) -> NodeId {
    match salt {
        Some(s) => hash64(&[name, peer_url, s]),
        None => hash64(&[name, peer_url]),
    }
}
