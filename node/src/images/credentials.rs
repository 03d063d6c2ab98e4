//! Registry credentials from a pod's `imagePullSecrets`: `kubernetes.io/dockerconfigjson`
//! (`.dockerconfigjson`, `{"auths": {KEY: …}}`) and `kubernetes.io/dockercfg` (`.dockercfg`,
//! `{KEY: …}`) secrets, matched to an image as the kubelet's credential keyring matches them:
//! the key's host (a `*.` glob allowed) is the image's registry and its path, if any, a prefix
//! of the image's repository.

use std::collections::BTreeMap;

use base64::Engine;
use serde::Deserialize;

use super::reference::{ImageRef, DEFAULT_REGISTRY};

/// One registry login.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credential {
    /// The key it was given under (`registry.example:5000`, `https://index.docker.io/v1/`).
    pub key: String,
    pub username: String,
    pub password: String,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

#[derive(Deserialize)]
struct DockerConfigJson {
    #[serde(default)]
    auths: BTreeMap<String, Entry>,
}

fn credential(key: &str, e: Entry) -> Option<Credential> {
    let (username, password) = match (e.username, e.password) {
        (Some(u), Some(p)) if !u.is_empty() => (u, p),
        _ => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(e.auth?.trim())
                .ok()?;
            let text = String::from_utf8(decoded).ok()?;
            let (u, p) = text.split_once(':')?;
            (u.to_string(), p.to_string())
        }
    };
    Some(Credential {
        key: key.to_string(),
        username,
        password,
    })
}

/// The credentials in a pull secret's data (`type` and the secret's `data`, decoded); entries
/// that do not parse are skipped, as the kubelet skips them.
pub fn from_secret(type_: &str, data: &BTreeMap<String, Vec<u8>>) -> Vec<Credential> {
    let entries: BTreeMap<String, Entry> = match type_ {
        "kubernetes.io/dockerconfigjson" => data
            .get(".dockerconfigjson")
            .and_then(|b| serde_json::from_slice::<DockerConfigJson>(b).ok())
            .map(|c| c.auths)
            .unwrap_or_default(),
        "kubernetes.io/dockercfg" => data
            .get(".dockercfg")
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or_default(),
        _ => BTreeMap::new(),
    };
    entries
        .into_iter()
        .filter_map(|(k, e)| credential(&k, e))
        .collect()
}

/// Docker Hub's many names.
fn canonical_host(host: &str) -> &str {
    match host {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => DEFAULT_REGISTRY,
        h => h,
    }
}

fn host_matches(pattern: &str, host: &str) -> bool {
    let (pattern, host) = (canonical_host(pattern), canonical_host(host));
    match pattern.strip_prefix("*.") {
        // A glob stands for one label, as the kubelet's keyring reads it.
        Some(suffix) => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix),
        None => pattern == host,
    }
}

impl Credential {
    /// Whether this credential is for `image`.
    pub fn matches(&self, image: &ImageRef) -> bool {
        let key = self
            .key
            .trim_start_matches("https://")
            .trim_start_matches("http://");
        let (host, path) = key.split_once('/').unwrap_or((key, ""));
        // Docker Hub's legacy key names an API version, not a repository.
        let path = path.trim_end_matches('/');
        let path = if path == "v1" || path == "v2" {
            ""
        } else {
            path
        };
        host_matches(host, &image.registry)
            && (path.is_empty()
                || image.repository == path
                || image.repository.starts_with(&format!("{path}/")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(s: &str) -> ImageRef {
        ImageRef::parse(s).unwrap_or_else(|_| ImageRef {
            registry: String::new(),
            repository: String::new(),
            tag: None,
            digest: None,
        })
    }

    #[test]
    fn dockerconfigjson_and_dockercfg_secrets_give_their_logins() {
        let auth = base64::engine::general_purpose::STANDARD.encode("alice:s3cret");
        let json = format!(
            r#"{{"auths":{{"127.0.0.1:5000":{{"auth":"{auth}"}},"bad":{{"auth":"!!"}}}}}}"#
        );
        let data = BTreeMap::from([(".dockerconfigjson".to_string(), json.into_bytes())]);
        let creds = from_secret("kubernetes.io/dockerconfigjson", &data);
        assert_eq!(
            creds,
            vec![Credential {
                key: "127.0.0.1:5000".into(),
                username: "alice".into(),
                password: "s3cret".into(),
            }]
        );
        let cfg = br#"{"https://index.docker.io/v1/":{"username":"bob","password":"pw"}}"#;
        let data = BTreeMap::from([(".dockercfg".to_string(), cfg.to_vec())]);
        let creds = from_secret("kubernetes.io/dockercfg", &data);
        assert_eq!(creds.len(), 1);
        assert!(creds[0].matches(&image("busybox")));
        assert!(from_secret("Opaque", &data).is_empty());
    }

    #[test]
    fn keys_match_registries_and_repository_prefixes() {
        let c = |key: &str| Credential {
            key: key.into(),
            username: "u".into(),
            password: "p".into(),
        };
        assert!(c("127.0.0.1:5000").matches(&image("127.0.0.1:5000/team/app:1")));
        assert!(!c("127.0.0.1:5000").matches(&image("127.0.0.1:5001/team/app:1")));
        assert!(c("https://reg.example/team").matches(&image("reg.example/team/app")));
        assert!(!c("reg.example/team").matches(&image("reg.example/teams/app")));
        assert!(c("*.example.com").matches(&image("a.example.com/app")));
        assert!(!c("*.example.com").matches(&image("a.b.example.com/app")));
    }
}
