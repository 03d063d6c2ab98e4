//! The PKI on disk: the cluster CA and the admin client certificate in the PKI dir
//! (`<data-dir>/pki` or `--pki-dir`), made once under a file lock so replicas started together
//! agree, and each replica's own serving certificate.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;
use capstan_raft::pki::{ca_hash, issue, new_ca, CertPair, CertRequest, JoinToken};

/// Creates `dir` (and parents) with mode 0700.
pub fn private_dir(dir: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .with_context(|| format!("making {} private", dir.display()))
}

/// Writes `contents` to `path` with mode 0600 (replacing it atomically).
pub fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("writing {}", tmp.display()))?;
        f.write_all(contents.as_bytes())?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

fn read_pair(dir: &Path, name: &str) -> anyhow::Result<Option<CertPair>> {
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    if !cert.exists() || !key.exists() {
        return Ok(None);
    }
    Ok(Some(CertPair {
        cert: fs::read_to_string(&cert).with_context(|| format!("reading {}", cert.display()))?,
        key: fs::read_to_string(&key).with_context(|| format!("reading {}", key.display()))?,
    }))
}

fn write_pair(dir: &Path, name: &str, pair: &CertPair) -> anyhow::Result<()> {
    write_private(&dir.join(format!("{name}.key")), &pair.key)?;
    write_private(&dir.join(format!("{name}.crt")), &pair.cert)
}

/// The cluster CA, the admin certificate and the join token in `dir`, created if missing.
pub struct Pki {
    pub dir: PathBuf,
    pub ca: CertPair,
    pub token: JoinToken,
}

fn random_hex(bytes: usize) -> anyhow::Result<String> {
    use std::io::Read;
    let mut buf = vec![0u8; bytes];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .context("reading /dev/urandom")?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// Makes `dir` hold a CA and token received when joining a cluster. Refuses if it already holds
/// another cluster's CA.
pub fn install_joined(dir: &Path, ca: &CertPair, token: &JoinToken) -> anyhow::Result<()> {
    private_dir(dir)?;
    if let Some(existing) = read_pair(dir, "ca")? {
        anyhow::ensure!(
            existing.cert == ca.cert,
            "{} already holds another cluster's CA; give the joining replica an empty data dir",
            dir.display()
        );
    } else {
        write_pair(dir, "ca", ca)?;
    }
    write_private(&dir.join("token"), &format!("{token}\n"))
}

/// Loads the PKI in `dir`, creating the CA and admin certificate if they do not exist yet (under
/// an exclusive lock on `dir/lock`, so concurrent first starts make one CA).
pub fn ensure_pki(dir: &Path) -> anyhow::Result<Pki> {
    private_dir(dir)?;
    let lock = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(dir.join("lock"))
        .with_context(|| format!("locking {}", dir.display()))?;
    lock.lock().context("locking the PKI dir")?;
    let ca = match read_pair(dir, "ca")? {
        Some(ca) => ca,
        None => {
            let ca = new_ca()?;
            write_pair(dir, "ca", &ca)?;
            ca
        }
    };
    if read_pair(dir, "admin")?.is_none() {
        let a = issue(
            &ca,
            &CertRequest {
                common_name: "admin",
                organizations: &["system:masters"],
                subject_alt_names: Vec::new(),
                server: false,
                client: true,
            },
        )?;
        write_pair(dir, "admin", &a)?;
    }
    let token_file = dir.join("token");
    let token = match fs::read_to_string(&token_file) {
        Ok(t) => JoinToken::parse(&t)
            .with_context(|| format!("{} is not a capstan join token", token_file.display()))?,
        Err(_) => {
            let t = JoinToken {
                ca_hash: ca_hash(&ca.cert)?,
                secret: random_hex(16)?,
            };
            write_private(&token_file, &format!("{t}\n"))?;
            t
        }
    };
    Ok(Pki {
        dir: dir.to_path_buf(),
        ca,
        token,
    })
}

/// This replica's serving and peer-client certificate in `<data-dir>/tls`, valid for `hosts`.
/// Re-issued when the hosts change.
pub fn node_cert(
    data_dir: &Path,
    ca: &CertPair,
    name: &str,
    hosts: &[String],
) -> anyhow::Result<CertPair> {
    let dir = data_dir.join("tls");
    private_dir(&dir)?;
    let hosts_file = dir.join("hosts");
    let wanted = hosts.join(",");
    if let (Some(pair), Ok(h)) = (read_pair(&dir, "node")?, fs::read_to_string(&hosts_file)) {
        if h == wanted {
            return Ok(pair);
        }
    }
    let pair = issue(
        ca,
        &CertRequest {
            common_name: name,
            organizations: &[capstan_raft::pki::REPLICA_ORGANIZATION],
            subject_alt_names: hosts.to_vec(),
            server: true,
            client: true,
        },
    )?;
    write_pair(&dir, "node", &pair)?;
    write_private(&hosts_file, &wanted)?;
    Ok(pair)
}

/// The certificate this replica's API server presents to node agents (kube-apiserver's
/// `--kubelet-client-certificate`), issued at each start and kept in memory only.
pub fn kubelet_client_cert(ca: &CertPair) -> anyhow::Result<CertPair> {
    Ok(issue(
        ca,
        &CertRequest {
            common_name: "kube-apiserver-kubelet-client",
            organizations: &["system:masters"],
            subject_alt_names: Vec::new(),
            server: false,
            client: true,
        },
    )?)
}
