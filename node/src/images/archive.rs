//! `capstan node image import FILE.tar`: images from an archive, as `docker save` (a
//! docker-archive: `manifest.json` naming each image's config, tags and layer files) or an OCI
//! image layout (`oci-layout`, `index.json` and `blobs/`) writes them.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use super::reference::ImageRef;
use super::store::{ImageStore, StoredImage};
use super::ImageError;

/// An entry of a docker-archive's `manifest.json`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// An OCI descriptor.
#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Descriptor {
    pub media_type: Option<String>,
    pub digest: String,
    #[serde(default)]
    pub annotations: Option<std::collections::BTreeMap<String, String>>,
    #[serde(default)]
    pub platform: Option<Platform>,
}

#[derive(Clone, Deserialize)]
pub(crate) struct Platform {
    pub architecture: String,
    pub os: String,
}

/// An OCI index (`index.json`, or a multi-platform image's index blob).
#[derive(Deserialize)]
pub(crate) struct OciIndex {
    pub manifests: Vec<Descriptor>,
}

/// An OCI (or Docker v2) image manifest.
#[derive(Deserialize)]
pub(crate) struct OciManifest {
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, ImageError> {
    let bytes =
        std::fs::read(path).map_err(|e| ImageError::Io(format!("{}: {e}", path.display())))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ImageError::Invalid(format!("{}: {e}", path.display())))
}

fn normalised(tags: impl IntoIterator<Item = String>) -> Result<Vec<String>, ImageError> {
    tags.into_iter()
        .map(|t| {
            ImageRef::parse(&t)
                .map(|r| r.to_string())
                .map_err(|e| ImageError::Invalid(e.to_string()))
        })
        .collect()
}

/// The machine's platform as OCI names it.
pub(crate) fn this_platform() -> (&'static str, &'static str) {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    ("linux", arch)
}

/// Imports every image in the archive at `file`; returns them as recorded.
pub fn import(store: &ImageStore, file: &Path) -> Result<Vec<StoredImage>, ImageError> {
    let tmp = store.temp_dir("import-")?;
    let f = std::fs::File::open(file)
        .map_err(|e| ImageError::Io(format!("{}: {e}", file.display())))?;
    let mut archive = tar::Archive::new(std::io::BufReader::new(f));
    archive.unpack(tmp.path()).map_err(|e| {
        ImageError::Invalid(format!("{} is not a tar archive: {e}", file.display()))
    })?;
    let dir = tmp.path();
    let images = if dir.join("manifest.json").exists() {
        import_docker(store, dir)?
    } else if dir.join("index.json").exists() {
        import_oci(store, dir)?
    } else {
        return Err(ImageError::Invalid(format!(
            "{} holds neither a docker-archive (manifest.json) nor an OCI image layout (index.json)",
            file.display()
        )));
    };
    images.into_iter().map(|i| store.record(i)).collect()
}

/// Moves an archive's files into the store once each (images of one archive share layers).
struct Blobs<'a> {
    store: &'a ImageStore,
    added: HashMap<PathBuf, (String, u64)>,
}

impl Blobs<'_> {
    fn add(&mut self, path: PathBuf, expected: Option<&str>) -> Result<(String, u64), ImageError> {
        if let Some(done) = self.added.get(&path) {
            return Ok(done.clone());
        }
        let done = self.store.add_blob(&path, expected)?;
        self.added.insert(path, done.clone());
        Ok(done)
    }
}

/// The file `rel` names inside the unpacked archive, refused if it would leave it.
fn member(dir: &Path, rel: &str) -> Result<PathBuf, ImageError> {
    let rel = Path::new(rel);
    if rel
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(ImageError::Invalid(format!(
            "archive member {} leaves the archive",
            rel.display()
        )));
    }
    Ok(dir.join(rel))
}

fn import_docker(store: &ImageStore, dir: &Path) -> Result<Vec<StoredImage>, ImageError> {
    let entries: Vec<DockerEntry> = read_json(&dir.join("manifest.json"))?;
    let mut blobs = Blobs {
        store,
        added: HashMap::new(),
    };
    entries
        .into_iter()
        .map(|e| {
            let (id, mut size) = blobs.add(member(dir, &e.config)?, None)?;
            let mut layers = Vec::new();
            for l in &e.layers {
                let (digest, len) = blobs.add(member(dir, l)?, None)?;
                size += len;
                layers.push(digest);
            }
            Ok(StoredImage {
                id,
                tags: normalised(e.repo_tags.unwrap_or_default())?,
                repo_digests: Vec::new(),
                layers,
                size,
            })
        })
        .collect()
}

/// The name an OCI layout gives an image: containerd's annotation, else the ref name when it
/// is a whole reference (a bare tag names no repository).
fn oci_name(d: &Descriptor) -> Option<String> {
    let a = d.annotations.as_ref()?;
    a.get("io.containerd.image.name").cloned().or_else(|| {
        a.get("org.opencontainers.image.ref.name")
            .filter(|n| n.contains('/') || n.contains(':'))
            .cloned()
    })
}

/// A manifest of `d` for this machine, following an image index to its platform's entry.
pub(crate) fn platform_manifest(
    read: &dyn Fn(&str) -> Result<Vec<u8>, ImageError>,
    d: &Descriptor,
) -> Result<(String, OciManifest), ImageError> {
    let bytes = read(&d.digest)?;
    let is_index = d
        .media_type
        .as_deref()
        .is_some_and(|m| m.contains("index") || m.contains("manifest.list"))
        || serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .is_some_and(|v| v.get("manifests").is_some());
    if !is_index {
        let m = serde_json::from_slice(&bytes)
            .map_err(|e| ImageError::Invalid(format!("manifest {}: {e}", d.digest)))?;
        return Ok((d.digest.clone(), m));
    }
    let index: OciIndex = serde_json::from_slice(&bytes)
        .map_err(|e| ImageError::Invalid(format!("index {}: {e}", d.digest)))?;
    let (os, arch) = this_platform();
    let entry = index
        .manifests
        .iter()
        .find(|m| {
            m.platform
                .as_ref()
                .is_some_and(|p| p.os == os && p.architecture == arch)
        })
        .ok_or_else(|| {
            ImageError::Invalid(format!("no {os}/{arch} image in index {}", d.digest))
        })?;
    platform_manifest(read, entry)
}

fn import_oci(store: &ImageStore, dir: &Path) -> Result<Vec<StoredImage>, ImageError> {
    let index: OciIndex = read_json(&dir.join("index.json"))?;
    let blob = |digest: &str| -> Result<PathBuf, ImageError> {
        Ok(dir
            .join("blobs/sha256")
            .join(super::store::digest_hex(digest)?))
    };
    let read = |digest: &str| -> Result<Vec<u8>, ImageError> {
        let p = blob(digest)?;
        std::fs::read(&p).map_err(|e| ImageError::Io(format!("{}: {e}", p.display())))
    };
    let mut blobs = Blobs {
        store,
        added: HashMap::new(),
    };
    let mut images = Vec::new();
    for d in &index.manifests {
        let (manifest_digest, manifest) = platform_manifest(&read, d)?;
        let config = &manifest.config.digest;
        let (id, mut size) = blobs.add(blob(config)?, Some(config))?;
        let mut layers = Vec::new();
        for l in &manifest.layers {
            let (digest, len) = blobs.add(blob(&l.digest)?, Some(&l.digest))?;
            size += len;
            layers.push(digest);
        }
        let tags = normalised(oci_name(d))?;
        let repo_digests = tags
            .iter()
            .filter_map(|t| ImageRef::parse(t).ok())
            .map(|r| format!("{}@{manifest_digest}", r.name()))
            .collect();
        images.push(StoredImage {
            id,
            tags,
            repo_digests,
            layers,
            size,
        });
    }
    Ok(images)
}
