//! The node's images: a store of OCI images (imported from archives or pulled from
//! registries), the pull policy the kubelet applies before starting a container, and the list
//! a Node's status reports.

pub mod archive;
pub mod credentials;
pub mod layer;
pub mod pull;
pub mod reference;
pub mod store;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ContainerImage;

pub use credentials::Credential;
pub use pull::{Endpoint, Registries, RegistryRule};
pub use reference::ImageRef;
pub use store::{ImageConfig, ImageStore, RunConfig, StoredImage};

/// What went wrong with an image.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{0}")]
    Io(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Pull(String),
}

/// The kubelet reports at most this many images in a Node's status (`nodeStatusMaxImages`).
const NODE_STATUS_MAX_IMAGES: usize = 50;

/// `imagePullPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PullPolicy {
    Always,
    IfNotPresent,
    Never,
}

impl PullPolicy {
    /// The container's policy, or the API's default for its image: `Always` for `:latest`
    /// (or no tag), else `IfNotPresent`.
    pub fn of(policy: Option<&str>, image: &ImageRef) -> PullPolicy {
        match policy {
            Some("Always") => PullPolicy::Always,
            Some("Never") => PullPolicy::Never,
            Some("IfNotPresent") => PullPolicy::IfNotPresent,
            _ if image.is_latest() => PullPolicy::Always,
            _ => PullPolicy::IfNotPresent,
        }
    }
}

/// Why a container's image cannot be had, with the kubelet's waiting reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unavailable {
    /// `InvalidImageName`.
    Invalid(String),
    /// `ErrImageNeverPull`.
    NeverPull(String),
    /// `ErrImagePull`, then `ImagePullBackOff`.
    Pull(String),
}

/// A container's image, ready to run.
#[derive(Clone, Debug)]
pub struct ReadyImage {
    pub image: StoredImage,
    /// How long its pull took, when it was pulled now.
    pub pulled_in: Option<Duration>,
}

/// The node's image store and registries; pulls go one at a time, as the kubelet's
/// `serializeImagePulls` (its default) has them.
pub struct ImageManager {
    store: ImageStore,
    registries: Registries,
    pulls: tokio::sync::Mutex<()>,
}

impl ImageManager {
    pub fn new(store: ImageStore, registries: Registries) -> ImageManager {
        ImageManager {
            store,
            registries,
            pulls: tokio::sync::Mutex::new(()),
        }
    }

    pub fn store(&self) -> &ImageStore {
        &self.store
    }

    /// The image `name` as policy `policy` has it: the stored one, or pulled now.
    pub async fn ensure(
        &self,
        name: &str,
        policy: Option<&str>,
        credentials: &[Credential],
    ) -> Result<ReadyImage, Unavailable> {
        let image = ImageRef::parse(name).map_err(|e| {
            Unavailable::Invalid(format!("Failed to apply default image tag {name:?}: {e}"))
        })?;
        let policy = PullPolicy::of(policy, &image);
        let stored = || {
            self.store
                .find(&image)
                .map_err(|e| Unavailable::Pull(e.to_string()))
        };
        if policy != PullPolicy::Always {
            if let Some(image) = stored()? {
                return Ok(ReadyImage {
                    image,
                    pulled_in: None,
                });
            }
        }
        if policy == PullPolicy::Never {
            return Err(Unavailable::NeverPull(format!(
                "Container image {name:?} is not present with pull policy of Never"
            )));
        }
        let _serial = self.pulls.lock().await;
        let started = Instant::now();
        let pulled = pull::pull(&self.store, &self.registries, &image, credentials)
            .await
            .map_err(|e| Unavailable::Pull(e.to_string()))?;
        Ok(ReadyImage {
            image: pulled,
            pulled_in: Some(started.elapsed()),
        })
    }

    /// The image's unpacked layers (topmost first) and config, unpacking what is not yet.
    pub async fn prepare(
        &self,
        image: &StoredImage,
    ) -> Result<(Vec<PathBuf>, ImageConfig), ImageError> {
        let (store, image) = (self.store.clone(), image.clone());
        tokio::task::spawn_blocking(move || Ok((store.rootfs(&image)?, store.config(&image)?)))
            .await
            .map_err(|e| ImageError::Io(e.to_string()))?
    }

    /// `status.images`: the largest images first, each named by its repo digests then tags.
    pub fn node_images(&self) -> Vec<ContainerImage> {
        let mut images = self.store.list().unwrap_or_default();
        images.sort_by_key(|i| std::cmp::Reverse(i.size));
        images
            .into_iter()
            .take(NODE_STATUS_MAX_IMAGES)
            .map(|i| ContainerImage {
                names: Some(i.repo_digests.iter().chain(&i.tags).cloned().collect()),
                size_bytes: i64::try_from(i.size).ok(),
            })
            .collect()
    }
}

/// How a container runs in its image, as containerd combines the pod's container with the
/// image config: `command` replaces the entrypoint (and drops the image's cmd), `args`
/// replace the cmd; the image's environment comes first and the container's overrides it;
/// the image's working directory and user apply when the container sets none.
pub fn argv(config: &RunConfig, command: &[String], args: &[String]) -> Vec<String> {
    let entrypoint: &[String] = if command.is_empty() {
        config.entrypoint.as_deref().unwrap_or_default()
    } else {
        command
    };
    let cmd: &[String] = if !args.is_empty() {
        args
    } else if command.is_empty() {
        config.cmd.as_deref().unwrap_or_default()
    } else {
        &[]
    };
    entrypoint.iter().chain(cmd).cloned().collect()
}

/// The image's environment under the container's (a container variable wins).
pub fn env(config: &RunConfig, container: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut merged: Vec<(String, String)> = config
        .env
        .iter()
        .flatten()
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| !container.iter().any(|(c, _)| c == k))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    merged.extend(container);
    merged
}

/// The image's `User` as a uid and gid, when numeric (`1000`, `1000:1000`) or `root`; names
/// other than root are looked up in the image's `/etc/passwd` and `/etc/group`.
pub fn user(config: &RunConfig, layers: &[PathBuf]) -> (Option<u32>, Option<u32>) {
    let Some(spec) = config.user.as_deref().filter(|u| !u.is_empty()) else {
        return (None, None);
    };
    let (u, g) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    // The topmost layer holding a file has the image's copy.
    let read = |file: &str| {
        layers
            .iter()
            .find_map(|l| std::fs::read_to_string(l.join(file)).ok())
            .unwrap_or_default()
    };
    let passwd = read("etc/passwd");
    // The user's line, by name or by uid: `name:x:uid:gid:…`.
    let account = passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&u) || f.get(2) == Some(&u));
    let uid = u
        .parse()
        .ok()
        .or_else(|| account.as_ref()?.get(2)?.parse().ok());
    let gid = match g {
        Some(g) => g.parse().ok().or_else(|| {
            read("etc/group")
                .lines()
                .map(|line| line.split(':').collect::<Vec<_>>())
                .find(|f| f.first() == Some(&g))?
                .get(2)?
                .parse()
                .ok()
        }),
        None => uid.and(account.and_then(|f| f.get(3)?.parse().ok())),
    };
    (uid, gid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn command_and_args_combine_with_the_image_as_containerd_combines_them() {
        let config = RunConfig {
            entrypoint: Some(strings(&["/entry"])),
            cmd: Some(strings(&["default"])),
            ..RunConfig::default()
        };
        let none: Vec<String> = Vec::new();
        assert_eq!(argv(&config, &none, &none), strings(&["/entry", "default"]));
        assert_eq!(
            argv(&config, &none, &strings(&["x"])),
            strings(&["/entry", "x"])
        );
        assert_eq!(
            argv(&config, &strings(&["/bin/sh"]), &none),
            strings(&["/bin/sh"])
        );
        assert_eq!(
            argv(&config, &strings(&["/bin/sh"]), &strings(&["-c", "true"])),
            strings(&["/bin/sh", "-c", "true"])
        );
        let merged = env(
            &RunConfig {
                env: Some(strings(&["PATH=/bin", "A=image"])),
                ..RunConfig::default()
            },
            vec![("A".into(), "pod".into())],
        );
        assert_eq!(
            merged,
            vec![("PATH".into(), "/bin".into()), ("A".into(), "pod".into())]
        );
    }

    #[test]
    fn pull_policy_defaults_follow_the_tag() {
        let latest = ImageRef::parse("busybox").ok();
        let pinned = ImageRef::parse("busybox:1.36").ok();
        assert_eq!(
            latest.map(|r| PullPolicy::of(None, &r)),
            Some(PullPolicy::Always)
        );
        assert_eq!(
            pinned.map(|r| PullPolicy::of(None, &r)),
            Some(PullPolicy::IfNotPresent)
        );
    }

    #[test]
    fn users_resolve_numerically_or_through_the_images_passwd() -> std::io::Result<()> {
        let layer = tempfile::tempdir()?;
        std::fs::create_dir_all(layer.path().join("etc"))?;
        std::fs::write(
            layer.path().join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\nweb:x:33:44::/:/bin/false\n",
        )?;
        std::fs::write(layer.path().join("etc/group"), "root:x:0:\nstaff:x:50:\n")?;
        let layers = vec![layer.path().to_path_buf()];
        let of = |u: &str| {
            user(
                &RunConfig {
                    user: Some(u.into()),
                    ..RunConfig::default()
                },
                &layers,
            )
        };
        assert_eq!(of("1000:1000"), (Some(1000), Some(1000)));
        assert_eq!(of("web"), (Some(33), Some(44)));
        assert_eq!(of("web:staff"), (Some(33), Some(50)));
        assert_eq!(of("nobody"), (None, None));
        Ok(())
    }
}
