//! A pod's volumes as the kubelet's volume manager sets them up, in the pod's directory:
//! emptyDir (`medium: Memory` a tmpfs of `sizeLimit` when the agent runs as root, unmounted
//! with the pod: `unmount_all`), hostPath (with its type checks), configMap, secret, downwardAPI and projected
//! (their files written atomically, as the kubelet's AtomicWriter does: a timestamped
//! directory, the `..data` symlink swapped to it by a rename, and one symlink per top-level
//! name through `..data`, so a reader never sees half an update), and persistentVolumeClaim
//! (the bound PV's `local` or `hostPath` directory). Re-running `prepare` refreshes the
//! ConfigMap, Secret and downward API files. The sandbox runtime bind-mounts the results.

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, KeyToPath, PersistentVolume, PersistentVolumeClaim, Pod, Secret,
    ServiceAccount, Volume, VolumeMount,
};
use kube::api::PostParams;
use kube::{Api, Client};

use capstan_controllers::persistentvolume_binder::matching::parse_quantity;
use rustix::mount::{MountFlags, UnmountFlags};

use crate::env::{self, PodPlace};
use crate::runtime::sandbox::init::BindMount;

/// The kubelet's default file mode for projected files.
const DEFAULT_MODE: u32 = 0o644;

/// A file of a volume: its bytes and mode.
type Files = BTreeMap<String, (Vec<u8>, u32)>;

/// Where each volume of a pod is, by name.
pub type VolumePaths = HashMap<String, PathBuf>;

/// A relative path inside a volume, refused when it would leave it.
fn safe_relative(p: &str) -> Result<&str, String> {
    let ok = !p.is_empty()
        && Path::new(p)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
        && !p.starts_with("..");
    if ok {
        Ok(p)
    } else {
        Err(format!("invalid path {p:?} in a volume"))
    }
}

fn mode_of(m: Option<i32>, default: u32) -> u32 {
    m.and_then(|m| u32::try_from(m).ok())
        .map_or(default, |m| m & 0o7777)
}

/// Picks `items` of `data` (or all of it), as configMap and secret volumes do.
fn select(
    data: &BTreeMap<String, Vec<u8>>,
    items: Option<&Vec<KeyToPath>>,
    default_mode: u32,
    what: &str,
    out: &mut Files,
) -> Result<(), String> {
    match items {
        None => {
            for (k, v) in data {
                out.insert(k.clone(), (v.clone(), default_mode));
            }
        }
        Some(items) => {
            for it in items {
                let v = data.get(&it.key).ok_or_else(|| {
                    format!("configmap references non-existent config key: {}", it.key)
                        .replace("configmap", what)
                })?;
                out.insert(
                    safe_relative(&it.path)?.to_string(),
                    (v.clone(), mode_of(it.mode, default_mode)),
                );
            }
        }
    }
    Ok(())
}

/// The data of the object `name` of kind `K` (ConfigMap or Secret) as bytes; `None` when
/// there is none.
async fn data_of<K>(
    client: &Client,
    ns: &str,
    name: &str,
    bytes: impl FnOnce(K) -> BTreeMap<String, Vec<u8>>,
) -> Result<Option<BTreeMap<String, Vec<u8>>>, String>
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    Api::<K>::namespaced(client.clone(), ns)
        .get_opt(name)
        .await
        .map(|found| found.map(bytes))
        .map_err(|e| format!("{} {name:?}: {e}", K::kind(&()).to_lowercase()))
}

async fn config_map(
    client: &Client,
    ns: &str,
    name: &str,
) -> Result<Option<BTreeMap<String, Vec<u8>>>, String> {
    data_of(client, ns, name, |cm: ConfigMap| {
        let text = cm
            .data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.into_bytes()));
        let binary = cm
            .binary_data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.0));
        text.chain(binary).collect()
    })
    .await
}

async fn secret(
    client: &Client,
    ns: &str,
    name: &str,
) -> Result<Option<BTreeMap<String, Vec<u8>>>, String> {
    data_of(client, ns, name, |s: Secret| {
        let data = s
            .data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.0));
        let text = s
            .string_data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.into_bytes()));
        data.chain(text).collect()
    })
    .await
}

/// Adds `items` (or all) of the data of the ConfigMap or Secret `name`, which may be missing
/// only when `optional`.
fn add_source(
    data: Option<BTreeMap<String, Vec<u8>>>,
    kind: &str,
    name: &str,
    items: Option<&Vec<KeyToPath>>,
    optional: Option<bool>,
    mode: u32,
    out: &mut Files,
) -> Result<(), String> {
    match data {
        Some(data) => select(&data, items, mode, kind, out),
        None if optional == Some(true) => Ok(()),
        None => Err(format!("{kind} {name:?} not found")),
    }
}

/// `key="value"` lines, sorted, as the downward API writes labels and annotations.
fn format_map(m: Option<&BTreeMap<String, String>>) -> String {
    m.map(|m| {
        m.iter()
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect::<Vec<_>>()
            .join("\n")
    })
    .unwrap_or_default()
}

fn downward(
    pod: &Pod,
    items: &[k8s_openapi::api::core::v1::DownwardAPIVolumeFile],
    default_mode: u32,
    place: &PodPlace<'_>,
    out: &mut Files,
) -> Result<(), String> {
    for it in items {
        let value = if let Some(f) = &it.field_ref {
            match f.field_path.as_str() {
                "metadata.labels" => format_map(pod.metadata.labels.as_ref()),
                "metadata.annotations" => format_map(pod.metadata.annotations.as_ref()),
                path => env::field_value(pod, path, place).map_err(|e| e.0)?,
            }
        } else if let Some(r) = &it.resource_field_ref {
            let spec = pod.spec.as_ref();
            let container = spec
                .and_then(|s| {
                    s.containers
                        .iter()
                        .find(|c| Some(&c.name) == r.container_name.as_ref())
                })
                .ok_or_else(|| {
                    format!(
                        "container {:?} of resourceFieldRef not found",
                        r.container_name.clone().unwrap_or_default()
                    )
                })?;
            env::resource_value(container, &r.resource, r.divisor.as_ref(), place)
                .map_err(|e| e.0)?
        } else {
            continue;
        };
        out.insert(
            safe_relative(&it.path)?.to_string(),
            (value.into_bytes(), mode_of(it.mode, default_mode)),
        );
    }
    Ok(())
}

/// A token for the pod's service account (TokenRequest bound to the pod); `None` when the
/// API offers none.
async fn token(
    client: &Client,
    pod: &Pod,
    audience: Option<&str>,
    seconds: Option<i64>,
) -> Option<String> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let sa = pod
        .spec
        .as_ref()
        .and_then(|s| s.service_account_name.as_deref())
        .unwrap_or("default");
    let req = TokenRequest {
        spec: TokenRequestSpec {
            audiences: audience.map(|a| vec![a.to_string()]).unwrap_or_default(),
            expiration_seconds: Some(seconds.unwrap_or(3607)),
            bound_object_ref: Some(k8s_openapi::api::authentication::v1::BoundObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Pod".into()),
                name: pod.metadata.name.clone(),
                uid: pod.metadata.uid.clone(),
            }),
        },
        ..TokenRequest::default()
    };
    let api: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
    api.create_token_request(sa, &PostParams::default(), &req)
        .await
        .ok()
        .and_then(|t| t.status.map(|s| s.token))
}

/// The files of a configMap, secret, downwardAPI or projected volume; `None` for other kinds.
async fn files_of(
    client: &Client,
    pod: &Pod,
    v: &Volume,
    place: &PodPlace<'_>,
) -> Result<Option<Files>, String> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let mut out = Files::new();
    if let Some(c) = &v.config_map {
        let mode = mode_of(c.default_mode, DEFAULT_MODE);
        let data = config_map(client, ns, &c.name).await?;
        add_source(
            data,
            "configmap",
            &c.name,
            c.items.as_ref(),
            c.optional,
            mode,
            &mut out,
        )?;
        return Ok(Some(out));
    }
    if let Some(s) = &v.secret {
        let name = s.secret_name.clone().unwrap_or_default();
        let mode = mode_of(s.default_mode, DEFAULT_MODE);
        let data = secret(client, ns, &name).await?;
        add_source(
            data,
            "secret",
            &name,
            s.items.as_ref(),
            s.optional,
            mode,
            &mut out,
        )?;
        return Ok(Some(out));
    }
    if let Some(d) = &v.downward_api {
        let mode = mode_of(d.default_mode, DEFAULT_MODE);
        downward(
            pod,
            d.items.as_deref().unwrap_or_default(),
            mode,
            place,
            &mut out,
        )?;
        return Ok(Some(out));
    }
    if let Some(p) = &v.projected {
        let mode = mode_of(p.default_mode, DEFAULT_MODE);
        for src in p.sources.iter().flatten() {
            if let Some(c) = &src.config_map {
                let data = config_map(client, ns, &c.name).await?;
                add_source(
                    data,
                    "configmap",
                    &c.name,
                    c.items.as_ref(),
                    c.optional,
                    mode,
                    &mut out,
                )?;
            }
            if let Some(s) = &src.secret {
                let data = secret(client, ns, &s.name).await?;
                add_source(
                    data,
                    "secret",
                    &s.name,
                    s.items.as_ref(),
                    s.optional,
                    mode,
                    &mut out,
                )?;
            }
            if let Some(d) = &src.downward_api {
                downward(
                    pod,
                    d.items.as_deref().unwrap_or_default(),
                    mode,
                    place,
                    &mut out,
                )?;
            }
            if let Some(t) = &src.service_account_token {
                // A cluster that issues no tokens leaves the file out rather than the pod
                // unstarted.
                if let Some(tok) =
                    token(client, pod, t.audience.as_deref(), t.expiration_seconds).await
                {
                    out.insert(
                        safe_relative(&t.path)?.to_string(),
                        (tok.into_bytes(), mode),
                    );
                }
            }
        }
        return Ok(Some(out));
    }
    Ok(None)
}

/// Writes `files` into `dir` atomically (the kubelet's AtomicWriter); nothing changes when
/// they are what is there already.
pub fn write_atomic(dir: &Path, files: &Files) -> Result<(), String> {
    let io = |what: &str, p: &Path, e: std::io::Error| format!("{what} {}: {e}", p.display());
    std::fs::create_dir_all(dir).map_err(|e| io("creating", dir, e))?;
    let data = dir.join("..data");
    let current = std::fs::read_link(&data).ok().map(|t| dir.join(t));
    if let Some(cur) = &current {
        let same = files.iter().all(|(p, (bytes, mode))| {
            let f = cur.join(p);
            std::fs::read(&f).is_ok_and(|b| &b == bytes)
                && std::fs::metadata(&f).is_ok_and(|m| m.permissions().mode() & 0o7777 == *mode)
        }) && count_files(cur) == files.len();
        if same {
            return Ok(());
        }
    }
    let stamp = format!(
        "..{}",
        k8s_openapi::jiff::Timestamp::now().strftime("%Y_%m_%d_%H_%M_%S.%f")
    );
    let fresh = dir.join(&stamp);
    std::fs::create_dir_all(&fresh).map_err(|e| io("creating", &fresh, e))?;
    for (p, (bytes, mode)) in files {
        let f = fresh.join(p);
        if let Some(parent) = f.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io("creating", parent, e))?;
        }
        std::fs::write(&f, bytes).map_err(|e| io("writing", &f, e))?;
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(*mode))
            .map_err(|e| io("setting the mode of", &f, e))?;
    }
    let tmp = dir.join("..data_tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(&stamp, &tmp).map_err(|e| io("linking", &tmp, e))?;
    // The rename is the commit: readers see the old files or the new, never a mix.
    std::fs::rename(&tmp, &data).map_err(|e| io("renaming to", &data, e))?;
    let tops: std::collections::BTreeSet<String> = files
        .keys()
        .filter_map(|p| p.split('/').next().map(str::to_string))
        .collect();
    for top in &tops {
        let link = dir.join(top);
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(Path::new("..data").join(top), &link)
                .map_err(|e| io("linking", &link, e))?;
        }
    }
    // Names no longer there, and the previous generation.
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with("..") && !tops.contains(&name) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    if let Some(cur) = current.filter(|c| *c != fresh) {
        let _ = std::fs::remove_dir_all(cur);
    }
    Ok(())
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| {
                    if e.file_type().is_ok_and(|t| t.is_dir()) {
                        count_files(&e.path())
                    } else {
                        1
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Checks (or makes) a hostPath volume's path per its `type`, with the kubelet's messages.
fn host_path(path: &Path, kind: Option<&str>) -> Result<(), String> {
    let meta = std::fs::metadata(path);
    let show = path.display();
    match kind.unwrap_or("") {
        "" => Ok(()),
        "DirectoryOrCreate" => {
            std::fs::create_dir_all(path).map_err(|e| format!("creating {show}: {e}"))?;
            Ok(())
        }
        "FileOrCreate" => {
            if meta.is_err() {
                if let Some(p) = path.parent() {
                    std::fs::create_dir_all(p)
                        .map_err(|e| format!("creating {}: {e}", p.display()))?;
                }
                std::fs::File::create(path).map_err(|e| format!("creating {show}: {e}"))?;
            }
            Ok(())
        }
        "Directory" if meta.as_ref().is_ok_and(|m| m.is_dir()) => Ok(()),
        "Directory" => Err(format!(
            "hostPath type check failed: {show} is not a directory"
        )),
        "File" if meta.as_ref().is_ok_and(|m| m.is_file()) => Ok(()),
        "File" => Err(format!("hostPath type check failed: {show} is not a file")),
        "Socket" | "CharDevice" | "BlockDevice" => {
            use std::os::unix::fs::FileTypeExt;
            let t = meta.as_ref().map(|m| m.file_type()).ok();
            let ok = match kind.unwrap_or("") {
                "Socket" => t.is_some_and(|t| t.is_socket()),
                "CharDevice" => t.is_some_and(|t| t.is_char_device()),
                _ => t.is_some_and(|t| t.is_block_device()),
            };
            if ok {
                Ok(())
            } else {
                Err(format!(
                    "hostPath type check failed: {show} is not a {}",
                    kind.unwrap_or("")
                ))
            }
        }
        other => Err(format!("invalid HostPathType {other:?}")),
    }
}

/// The directory of a claim's bound volume.
async fn claim_path(client: &Client, ns: &str, claim: &str) -> Result<PathBuf, String> {
    let pvc = Api::<PersistentVolumeClaim>::namespaced(client.clone(), ns)
        .get_opt(claim)
        .await
        .map_err(|e| format!("persistentvolumeclaim {claim:?}: {e}"))?
        .ok_or_else(|| format!("persistentvolumeclaim {claim:?} not found"))?;
    let pv_name = pvc
        .spec
        .and_then(|s| s.volume_name)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| format!("PVC {ns}/{claim} has not been bound"))?;
    let pv = Api::<PersistentVolume>::all(client.clone())
        .get(&pv_name)
        .await
        .map_err(|e| format!("persistentvolume {pv_name:?}: {e}"))?;
    let spec = pv.spec.unwrap_or_default();
    let path = spec
        .local
        .map(|l| l.path)
        .or(spec.host_path.map(|h| h.path))
        .ok_or_else(|| format!("persistentvolume {pv_name:?} is neither local nor hostPath"))?;
    std::fs::create_dir_all(&path).map_err(|e| format!("creating {path}: {e}"))?;
    Ok(PathBuf::from(path))
}

/// Sets up (or refreshes) every volume of `pod` under `pod_dir`; the error names the volume,
/// as the kubelet's `FailedMount` event does.
pub async fn prepare(
    client: &Client,
    pod: &Pod,
    pod_dir: &Path,
    place: &PodPlace<'_>,
) -> Result<VolumePaths, String> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let mut paths = VolumePaths::new();
    for v in pod
        .spec
        .as_ref()
        .and_then(|s| s.volumes.as_ref())
        .into_iter()
        .flatten()
    {
        let failed = |e: String| format!("MountVolume.SetUp failed for volume {:?} : {e}", v.name);
        let plugin_dir = |plugin: &str| pod_dir.join("volumes").join(plugin).join(&v.name);
        let path = if let Some(empty) = &v.empty_dir {
            let d = plugin_dir("kubernetes.io~empty-dir");
            std::fs::create_dir_all(&d)
                .map_err(|e| failed(format!("creating {}: {e}", d.display())))?;
            if empty.medium.as_deref() == Some("Memory")
                && rustix::process::geteuid().is_root()
                && !mount_points_under(&d).contains(&d)
            {
                let size = empty
                    .size_limit
                    .as_ref()
                    .and_then(|q| parse_quantity(&q.0))
                    .filter(|b| *b > 0.0)
                    .map(|b| format!(",size={}", b.ceil() as u64))
                    .unwrap_or_default();
                let options = std::ffi::CString::new(format!("mode=0777{size}"))
                    .map_err(|e| failed(e.to_string()))?;
                rustix::mount::mount(
                    "tmpfs",
                    &d,
                    "tmpfs",
                    MountFlags::NOSUID | MountFlags::NODEV,
                    options.as_c_str(),
                )
                .map_err(|e| failed(format!("mounting a tmpfs on {}: {e}", d.display())))?;
            }
            // Writable by any user, as the kubelet makes it.
            let _ = std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777));
            d
        } else if let Some(h) = &v.host_path {
            let p = PathBuf::from(&h.path);
            host_path(&p, h.type_.as_deref()).map_err(failed)?;
            p
        } else if let Some(c) = &v.persistent_volume_claim {
            claim_path(client, ns, &c.claim_name)
                .await
                .map_err(failed)?
        } else {
            let plugin = if v.config_map.is_some() {
                "kubernetes.io~configmap"
            } else if v.secret.is_some() {
                "kubernetes.io~secret"
            } else if v.downward_api.is_some() {
                "kubernetes.io~downward-api"
            } else {
                "kubernetes.io~projected"
            };
            match files_of(client, pod, v, place).await.map_err(failed)? {
                Some(files) => {
                    let d = plugin_dir(plugin);
                    write_atomic(&d, &files).map_err(failed)?;
                    d
                }
                None => continue,
            }
        };
        paths.insert(v.name.clone(), path);
    }
    Ok(paths)
}

/// The mount points of this mount namespace at or under `dir`, deepest first.
pub fn mount_points_under(dir: &Path) -> Vec<PathBuf> {
    let table = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut found: Vec<PathBuf> = table
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape_mount_path(p)))
        .filter(|p| p.starts_with(dir))
        .collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    found.dedup();
    found
}

/// `/proc/self/mountinfo` writes space, tab, newline and backslash as `\NNN` (octal).
fn unescape_mount_path(p: &str) -> String {
    let b = p.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Unmounts what the pod's volumes mounted under `pod_dir` (memory-backed emptyDirs).
pub fn unmount_all(pod_dir: &Path) {
    for p in mount_points_under(pod_dir) {
        if let Err(e) = rustix::mount::unmount(&p, UnmountFlags::DETACH) {
            tracing::warn!(path = %p.display(), error = %e, "unmounting a volume");
        }
    }
}

/// The bind mounts of `container`'s `volumeMounts`.
pub fn mounts(container: &Container, paths: &VolumePaths) -> Result<Vec<BindMount>, String> {
    let mut out = Vec::new();
    for m in container.volume_mounts.iter().flatten() {
        out.push(mount(m, paths)?);
    }
    Ok(out)
}

fn mount(m: &VolumeMount, paths: &VolumePaths) -> Result<BindMount, String> {
    let base = paths
        .get(&m.name)
        .ok_or_else(|| format!("cannot find volume {:?} to mount into container", m.name))?;
    let source = match m.sub_path.as_deref().filter(|s| !s.is_empty()) {
        Some(sub) => {
            let p = base.join(safe_relative(sub)?);
            // The kubelet makes a missing subPath as a directory.
            if !p.exists() {
                std::fs::create_dir_all(&p)
                    .map_err(|e| format!("creating {}: {e}", p.display()))?;
            }
            p
        }
        None => base.clone(),
    };
    Ok(BindMount {
        source,
        target: PathBuf::from(&m.mount_path),
        read_only: m.read_only == Some(true),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_table_paths_unescape() {
        assert_eq!(unescape_mount_path(r"/a\040b/c\134d"), r"/a b/c\d");
        assert_eq!(unescape_mount_path(r"/plain\0"), r"/plain\0");
    }

    fn files(pairs: &[(&str, &str)]) -> Files {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), (v.as_bytes().to_vec(), 0o644)))
            .collect()
    }

    #[test]
    fn atomic_writes_swap_data_and_drop_stale_names() {
        let dir = tempfile::tempdir().unwrap();
        write_atomic(dir.path(), &files(&[("a", "1"), ("b", "2")])).unwrap();
        assert_eq!(std::fs::read_to_string(dir.path().join("a")).unwrap(), "1");
        let first = std::fs::read_link(dir.path().join("..data")).unwrap();
        // Unchanged content keeps the generation.
        write_atomic(dir.path(), &files(&[("a", "1"), ("b", "2")])).unwrap();
        assert_eq!(
            std::fs::read_link(dir.path().join("..data")).unwrap(),
            first
        );
        write_atomic(dir.path(), &files(&[("a", "3")])).unwrap();
        assert_eq!(std::fs::read_to_string(dir.path().join("a")).unwrap(), "3");
        assert!(std::fs::symlink_metadata(dir.path().join("b")).is_err());
        assert_ne!(
            std::fs::read_link(dir.path().join("..data")).unwrap(),
            first
        );
        assert!(!dir.path().join(first).exists());
    }

    #[test]
    fn paths_leaving_the_volume_are_refused() {
        assert!(safe_relative("../etc/passwd").is_err());
        assert!(safe_relative("/etc/passwd").is_err());
        assert!(safe_relative("a/../../b").is_err());
        assert!(safe_relative("..data").is_err());
        assert_eq!(safe_relative("conf/app.yaml").unwrap(), "conf/app.yaml");
    }
}
