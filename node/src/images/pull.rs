//! Pulling an image from an OCI distribution registry (oci-client) into the store, and where
//! each registry is pulled from: `--registry REGISTRY=ENDPOINT` (containerd's `hosts.toml`
//! mirrors, reduced to one endpoint each). ENDPOINT is `https://HOST[:PORT]`,
//! `http://HOST[:PORT]` (a plain-HTTP registry, such as one on loopback) or `none` (no pulls
//! from it); REGISTRY `*` stands for every registry not named. Without a rule a registry is
//! pulled from itself over HTTPS.

use std::str::FromStr;
use std::time::Duration;

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use tokio::io::AsyncWriteExt;

use super::credentials::Credential;
use super::reference::ImageRef;
use super::store::{ImageStore, StoredImage};
use super::ImageError;

/// Where one registry's images come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `HOST[:PORT]`, over HTTPS or (`plain_http`) HTTP.
    Host { host: String, plain_http: bool },
    /// No pulls.
    Disabled,
}

/// One `--registry` rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryRule {
    /// A registry as image names spell it (`docker.io`, `127.0.0.1:5000`), or `*`.
    pub registry: String,
    pub endpoint: Endpoint,
}

impl FromStr for RegistryRule {
    type Err = String;

    fn from_str(s: &str) -> Result<RegistryRule, String> {
        let (registry, endpoint) = s
            .split_once('=')
            .ok_or_else(|| format!("{s:?}: expected REGISTRY=ENDPOINT"))?;
        let endpoint = if endpoint == "none" {
            Endpoint::Disabled
        } else {
            let (plain_http, host) = if let Some(h) = endpoint.strip_prefix("http://") {
                (true, h)
            } else if let Some(h) = endpoint.strip_prefix("https://") {
                (false, h)
            } else {
                return Err(format!(
                    "{s:?}: the endpoint is https://HOST[:PORT], http://HOST[:PORT] or none"
                ));
            };
            let host = host.trim_end_matches('/');
            if host.is_empty() || host.contains('/') {
                return Err(format!("{s:?}: the endpoint names a host, not a path"));
            }
            Endpoint::Host {
                host: host.to_string(),
                plain_http,
            }
        };
        if registry.is_empty() {
            return Err(format!("{s:?}: no registry named"));
        }
        Ok(RegistryRule {
            registry: registry.to_string(),
            endpoint,
        })
    }
}

/// The node's `--registry` rules.
#[derive(Clone, Debug, Default)]
pub struct Registries {
    pub rules: Vec<RegistryRule>,
}

impl Registries {
    /// Where `registry` is pulled from.
    pub fn endpoint(&self, registry: &str) -> Endpoint {
        let rule = self
            .rules
            .iter()
            .find(|r| r.registry == registry)
            .or_else(|| self.rules.iter().find(|r| r.registry == "*"));
        match rule {
            Some(r) => r.endpoint.clone(),
            None => Endpoint::Host {
                host: registry.to_string(),
                plain_http: false,
            },
        }
    }
}

fn failed(e: impl std::fmt::Display) -> ImageError {
    ImageError::Pull(e.to_string())
}

/// Pulls `image` into `store` with the first of `credentials` that matches it (anonymously if
/// none does); returns the image as recorded.
pub async fn pull(
    store: &ImageStore,
    registries: &Registries,
    image: &ImageRef,
    credentials: &[Credential],
) -> Result<StoredImage, ImageError> {
    let (host, plain_http) = match registries.endpoint(&image.registry) {
        Endpoint::Disabled => {
            return Err(ImageError::Pull(format!(
                "pulls from {} are disabled on this node (--registry)",
                image.registry
            )))
        }
        Endpoint::Host { host, plain_http } => (host, plain_http),
    };
    let reference = match (&image.digest, &image.tag) {
        (Some(d), _) => Reference::with_digest(host.clone(), image.repository.clone(), d.clone()),
        (None, Some(t)) => Reference::with_tag(host.clone(), image.repository.clone(), t.clone()),
        (None, None) => {
            Reference::with_tag(host.clone(), image.repository.clone(), "latest".into())
        }
    };
    // reqwest takes the process's rustls provider: ring, as everywhere in capstan.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = Client::new(ClientConfig {
        protocol: if plain_http {
            ClientProtocol::HttpsExcept(vec![host.clone()])
        } else {
            ClientProtocol::Https
        },
        connect_timeout: Some(Duration::from_secs(10)),
        read_timeout: Some(Duration::from_secs(60)),
        // The default platform resolver picks this machine's os and architecture.
        ..ClientConfig::default()
    });
    let auth = credentials
        .iter()
        .find(|c| c.matches(image))
        .map(|c| RegistryAuth::Basic(c.username.clone(), c.password.clone()))
        .unwrap_or(RegistryAuth::Anonymous);
    let (manifest, manifest_digest) = client
        .pull_image_manifest(&reference, &auth)
        .await
        .map_err(failed)?;
    let tmp = store.temp_dir("pull-")?;
    let fetch = async |digest: &str| -> Result<(String, u64), ImageError> {
        let path = tmp.path().join(super::store::digest_hex(digest)?);
        let mut file = tokio::fs::File::create(&path)
            .await
            .map_err(|e| ImageError::Io(format!("{}: {e}", path.display())))?;
        client
            .pull_blob(&reference, digest, &mut file)
            .await
            .map_err(failed)?;
        file.flush()
            .await
            .map_err(|e| ImageError::Io(format!("{}: {e}", path.display())))?;
        let store = store.clone();
        let digest = digest.to_string();
        tokio::task::spawn_blocking(move || store.add_blob(&path, Some(&digest)))
            .await
            .map_err(failed)?
    };
    let (id, mut size) = fetch(&manifest.config.digest).await?;
    let mut layers = Vec::with_capacity(manifest.layers.len());
    for l in &manifest.layers {
        let (digest, len) = fetch(&l.digest).await?;
        size += len;
        layers.push(digest);
    }
    let tags = match &image.tag {
        Some(t) => vec![format!("{}:{t}", image.name())],
        None => Vec::new(),
    };
    let record = StoredImage {
        id,
        tags,
        repo_digests: vec![format!("{}@{manifest_digest}", image.name())],
        layers,
        size,
    };
    let store = store.clone();
    tokio::task::spawn_blocking(move || store.record(record))
        .await
        .map_err(failed)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_rules_parse_and_pick_the_endpoint() {
        let rules: Result<Vec<RegistryRule>, String> = [
            "docker.io=http://127.0.0.1:5000",
            "*=none",
            "quay.io=https://mirror.example",
        ]
        .iter()
        .map(|s| s.parse())
        .collect();
        let registries = Registries {
            rules: rules.unwrap_or_default(),
        };
        assert_eq!(
            registries.endpoint("docker.io"),
            Endpoint::Host {
                host: "127.0.0.1:5000".into(),
                plain_http: true
            }
        );
        assert_eq!(registries.endpoint("ghcr.io"), Endpoint::Disabled);
        assert_eq!(
            Registries::default().endpoint("ghcr.io"),
            Endpoint::Host {
                host: "ghcr.io".into(),
                plain_http: false
            }
        );
        for bad in ["docker.io", "docker.io=ftp://x", "=none", "a=http://h/path"] {
            assert!(bad.parse::<RegistryRule>().is_err(), "{bad}");
        }
    }
}
