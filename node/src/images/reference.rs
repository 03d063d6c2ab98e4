//! `ImageRef`: an image reference as a pod names it (`busybox`, `registry.example:5000/team/app:1`,
//! `app@sha256:…`), normalised as Docker and containerd normalise it: a name without a registry
//! is on `docker.io`, a one-component name there is under `library/`, and no tag and no digest
//! means `:latest`.

use std::fmt;

/// The registry of names that give none.
pub const DEFAULT_REGISTRY: &str = "docker.io";

/// A parsed, normalised image reference.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ImageRef {
    /// `docker.io`, `registry.example:5000`, `127.0.0.1:5000`, `localhost`.
    pub registry: String,
    /// `library/busybox`, `team/app`.
    pub repository: String,
    pub tag: Option<String>,
    /// `sha256:<64 hex>`.
    pub digest: Option<String>,
}

/// Why a reference does not parse (the kubelet's `InvalidImageName`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("couldn't parse image name {name:?}: invalid reference format")]
pub struct InvalidReference {
    pub name: String,
}

fn valid_component(c: &str) -> bool {
    // Lowercase alphanumerics separated by one `.`, one or two `_`, or any number of `-`.
    !c.is_empty()
        && c.bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-'))
        && c.as_bytes()[0].is_ascii_alphanumeric()
        && c.as_bytes()[c.len() - 1].is_ascii_alphanumeric()
}

fn valid_tag(t: &str) -> bool {
    (1..=128).contains(&t.len())
        && (t.as_bytes()[0].is_ascii_alphanumeric() || t.as_bytes()[0] == b'_')
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn valid_digest(d: &str) -> bool {
    d.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

fn valid_registry(r: &str) -> bool {
    let (host, port) = match r.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (r, None),
    };
    !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'))
        && port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

impl ImageRef {
    /// Parses and normalises `name`.
    pub fn parse(name: &str) -> Result<ImageRef, InvalidReference> {
        let invalid = || InvalidReference {
            name: name.to_string(),
        };
        let (rest, digest) = match name.split_once('@') {
            Some((r, d)) if valid_digest(d) => (r, Some(d.to_string())),
            Some(_) => return Err(invalid()),
            None => (name, None),
        };
        // A tag follows the last `:` after the last `/` (an earlier `:` is a registry's port).
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (path, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let at = last_slash + i;
                let tag = &rest[at + 1..];
                if !valid_tag(tag) {
                    return Err(invalid());
                }
                (&rest[..at], Some(tag.to_string()))
            }
            None => (rest, None),
        };
        let (registry, repository) = match path.split_once('/') {
            Some((first, remainder))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), remainder.to_string())
            }
            _ => (DEFAULT_REGISTRY.to_string(), path.to_string()),
        };
        if !valid_registry(&registry) || !repository.split('/').all(valid_component) {
            return Err(invalid());
        }
        let repository = if registry == DEFAULT_REGISTRY && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        let tag = match (&tag, &digest) {
            (None, None) => Some("latest".to_string()),
            _ => tag,
        };
        Ok(ImageRef {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// `registry/repository`, the name an image's repo digests hang off.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// Whether the pod asked for `:latest` (explicitly or by giving no tag and no digest): its
    /// default `imagePullPolicy` is then `Always`, else `IfNotPresent`.
    pub fn is_latest(&self) -> bool {
        self.digest.is_none() && self.tag.as_deref() == Some("latest")
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        ImageRef::parse(s)
            .map(|r| r.to_string())
            .unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn names_normalise_as_docker_and_containerd_normalise_them() {
        assert_eq!(norm("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(norm("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(norm("team/app"), "docker.io/team/app:latest");
        assert_eq!(
            norm("registry.example:5000/team/app:v1"),
            "registry.example:5000/team/app:v1"
        );
        assert_eq!(norm("127.0.0.1:5000/app"), "127.0.0.1:5000/app:latest");
        assert_eq!(norm("localhost/app:1"), "localhost/app:1");
        let digest = format!("sha256:{}", "ab".repeat(32));
        assert_eq!(
            norm(&format!("app@{digest}")),
            format!("docker.io/library/app@{digest}")
        );
        assert_eq!(
            norm(&format!("app:1@{digest}")),
            format!("docker.io/library/app:1@{digest}")
        );
        assert!(ImageRef::parse("busybox").is_ok_and(|r| r.is_latest()));
        assert!(ImageRef::parse("busybox:1").is_ok_and(|r| !r.is_latest()));
    }

    #[test]
    fn malformed_names_are_refused_with_the_kubelets_words() {
        for bad in [
            "",
            "Busybox",
            "app:",
            "app@sha256:12",
            "a//b",
            "app:bad tag",
            "-app",
            "host:port/app",
        ] {
            assert_eq!(
                ImageRef::parse(bad),
                Err(InvalidReference { name: bad.into() }),
                "{bad:?}"
            );
        }
    }
}
