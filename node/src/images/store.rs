//! `ImageStore`: a node's images on disk (`--image-dir`, default `DATA_DIR/images`).
//!
//! ```text
//! images.json            the images: id (config digest), tags, repo digests, layer digests
//! blobs/sha256/<hex>     content-addressed blobs: configs and layers as they arrived
//! layers/<hex>           each layer unpacked once, shared by every image and container using it
//! tmp/                   imports and pulls in progress, renamed into place when verified
//! lock                   flock'd by whoever changes images.json (the agent, `node image import`)
//! ```
//!
//! A container's root is an overlay whose lower directories are its image's unpacked layers.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::layer::unpack_layer;
use super::reference::ImageRef;
use super::ImageError;

/// One stored image.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StoredImage {
    /// The image's id: its config blob's digest (`sha256:…`).
    pub id: String,
    /// Its normalised tags (`docker.io/library/busybox:1.36`).
    #[serde(default)]
    pub tags: Vec<String>,
    /// `registry/repository@sha256:…` for the manifests it was pulled by.
    #[serde(default)]
    pub repo_digests: Vec<String>,
    /// Its layers' blob digests, bottom first.
    #[serde(default)]
    pub layers: Vec<String>,
    /// The bytes of its config and layers as stored.
    #[serde(default)]
    pub size: u64,
}

impl StoredImage {
    /// The `imageID` a container status reports for a container that named the image `name`:
    /// its repo digest in that repository, else its first repo digest, else its id.
    pub fn image_id(&self, name: &str) -> String {
        let repository = ImageRef::parse(name).map(|r| format!("{}@", r.name())).ok();
        repository
            .and_then(|prefix| self.repo_digests.iter().find(|d| d.starts_with(&prefix)))
            .or(self.repo_digests.first())
            .cloned()
            .unwrap_or_else(|| self.id.clone())
    }
}

#[derive(Default, Serialize, Deserialize)]
struct Index {
    images: Vec<StoredImage>,
}

/// The part of an image's config a container runs with (OCI image config / Docker's).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ImageConfig {
    #[serde(default)]
    pub config: Option<RunConfig>,
}

/// `config` of an image config.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RunConfig {
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default)]
    pub cmd: Option<Vec<String>>,
    #[serde(default)]
    pub env: Option<Vec<String>>,
    #[serde(default)]
    pub working_dir: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
}

/// A held `lock` file; released when dropped.
pub struct StoreLock {
    _file: File,
}

/// The node's image store (see the module doc).
#[derive(Clone, Debug)]
pub struct ImageStore {
    dir: PathBuf,
}

fn io(what: impl std::fmt::Display, e: std::io::Error) -> ImageError {
    ImageError::Io(format!("{what}: {e}"))
}

/// The hex of a `sha256:` digest, refusing anything else (digests name files).
pub fn digest_hex(digest: &str) -> Result<&str, ImageError> {
    digest
        .strip_prefix("sha256:")
        .filter(|h| h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .ok_or_else(|| ImageError::Invalid(format!("unsupported digest {digest:?}")))
}

/// The `sha256:` digest of a file's bytes, and its length.
pub fn file_digest(path: &Path) -> Result<(String, u64), ImageError> {
    let mut f = File::open(path).map_err(|e| io(path.display(), e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut len = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| io(path.display(), e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        len += n as u64;
    }
    let hex: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((format!("sha256:{hex}"), len))
}

fn fsync_dir(dir: &Path) -> Result<(), ImageError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io(dir.display(), e))
}

impl ImageStore {
    /// Opens (making it if needed) the store at `dir`.
    pub fn open(dir: impl Into<PathBuf>) -> Result<ImageStore, ImageError> {
        let dir = dir.into();
        for sub in ["blobs/sha256", "layers", "tmp"] {
            let d = dir.join(sub);
            std::fs::create_dir_all(&d).map_err(|e| io(d.display(), e))?;
        }
        Ok(ImageStore { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A fresh directory under `tmp/` for an import or a pull in progress.
    pub fn temp_dir(&self, what: &str) -> Result<tempfile::TempDir, ImageError> {
        tempfile::Builder::new()
            .prefix(what)
            .tempdir_in(self.dir.join("tmp"))
            .map_err(|e| io("making a temporary directory", e))
    }

    /// Takes the store's lock (blocks while another process holds it).
    pub fn lock(&self) -> Result<StoreLock, ImageError> {
        let path = self.dir.join("lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| io(path.display(), e))?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| io(path.display(), e.into()))?;
        Ok(StoreLock { _file: file })
    }

    fn index(&self) -> Result<Index, ImageError> {
        let path = self.dir.join("images.json");
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| ImageError::Invalid(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Index::default()),
            Err(e) => Err(io(path.display(), e)),
        }
    }

    fn write_index(&self, index: &Index) -> Result<(), ImageError> {
        let path = self.dir.join("images.json");
        let tmp = self.dir.join("images.json.tmp");
        let bytes = serde_json::to_vec_pretty(index)
            .map_err(|e| ImageError::Invalid(format!("encoding the index: {e}")))?;
        // Durability: the new index is written to a temporary file and fsynced, then renamed
        // over the old one and the directory fsynced, so a crash leaves the old index or the
        // new one, never a torn file. The blobs it names were fsynced before (`add_blob`).
        let mut f = File::create(&tmp).map_err(|e| io(tmp.display(), e))?;
        f.write_all(&bytes)
            .and_then(|()| f.sync_all())
            .map_err(|e| io(tmp.display(), e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io(path.display(), e))?;
        fsync_dir(&self.dir)
    }

    /// Every stored image.
    pub fn list(&self) -> Result<Vec<StoredImage>, ImageError> {
        Ok(self.index()?.images)
    }

    /// The stored image `r` names: by digest (a repo digest or the id) or by tag.
    pub fn find(&self, r: &ImageRef) -> Result<Option<StoredImage>, ImageError> {
        let images = self.index()?.images;
        let found = match &r.digest {
            Some(d) => {
                let by_repo = format!("{}@{d}", r.name());
                images
                    .into_iter()
                    .find(|i| i.repo_digests.contains(&by_repo) || &i.id == d)
            }
            None => {
                let tag = r.to_string();
                images.into_iter().find(|i| i.tags.contains(&tag))
            }
        };
        Ok(found)
    }

    /// Where the blob `digest` lives.
    pub fn blob_path(&self, digest: &str) -> Result<PathBuf, ImageError> {
        Ok(self.dir.join("blobs/sha256").join(digest_hex(digest)?))
    }

    /// Moves the file `src` (on the store's filesystem, under `tmp/`) into the blobs, checking
    /// that its content has digest `expected` when one is given. Returns its digest and size.
    pub fn add_blob(
        &self,
        src: &Path,
        expected: Option<&str>,
    ) -> Result<(String, u64), ImageError> {
        let (digest, len) = file_digest(src)?;
        if let Some(want) = expected {
            if want != digest {
                return Err(ImageError::Invalid(format!(
                    "{} has digest {digest}, not {want}",
                    src.display()
                )));
            }
        }
        let dst = self.blob_path(&digest)?;
        if !dst.exists() {
            // Durability: the blob's bytes reach the disk before its name does, and the name
            // before any index refers to it.
            File::open(src)
                .and_then(|f| f.sync_all())
                .map_err(|e| io(src.display(), e))?;
            if std::fs::rename(src, &dst).is_err() {
                std::fs::copy(src, &dst).map_err(|e| io(dst.display(), e))?;
            }
            if let Some(parent) = dst.parent() {
                fsync_dir(parent)?;
            }
        }
        Ok((digest, len))
    }

    /// Records `image`: its tags move to it from any image holding them; an image with the same
    /// id gains its tags and repo digests.
    pub fn record(&self, image: StoredImage) -> Result<StoredImage, ImageError> {
        let _lock = self.lock()?;
        let mut index = self.index()?;
        for other in index.images.iter_mut().filter(|i| i.id != image.id) {
            other.tags.retain(|t| !image.tags.contains(t));
        }
        let merged = match index.images.iter_mut().find(|i| i.id == image.id) {
            Some(existing) => {
                for t in &image.tags {
                    if !existing.tags.contains(t) {
                        existing.tags.push(t.clone());
                    }
                }
                for d in &image.repo_digests {
                    if !existing.repo_digests.contains(d) {
                        existing.repo_digests.push(d.clone());
                    }
                }
                existing.clone()
            }
            None => {
                index.images.push(image.clone());
                image
            }
        };
        self.write_index(&index)?;
        Ok(merged)
    }

    /// The image's config.
    pub fn config(&self, image: &StoredImage) -> Result<ImageConfig, ImageError> {
        let path = self.blob_path(&image.id)?;
        let bytes = std::fs::read(&path).map_err(|e| io(path.display(), e))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| ImageError::Invalid(format!("the config of {}: {e}", image.id)))
    }

    /// The image's unpacked layers, topmost first (an overlay's `lowerdir` order), unpacking
    /// the ones not unpacked yet.
    pub fn rootfs(&self, image: &StoredImage) -> Result<Vec<PathBuf>, ImageError> {
        let mut dirs = Vec::with_capacity(image.layers.len());
        for digest in &image.layers {
            let hex = digest_hex(digest)?;
            let dir = self.dir.join("layers").join(hex);
            if !dir.exists() {
                let tmp = self.temp_dir("layer-")?;
                let into = tmp.path().join("root");
                unpack_layer(&self.blob_path(digest)?, &into)?;
                // Another container may have unpacked it meanwhile: its copy is as good.
                if std::fs::rename(&into, &dir).is_err() && !dir.exists() {
                    return Err(ImageError::Io(format!("placing layer {digest}")));
                }
            }
            dirs.push(dir);
        }
        if dirs.is_empty() {
            // An image with no layers: an empty root.
            let empty = self.dir.join("layers/empty");
            std::fs::create_dir_all(&empty).map_err(|e| io(empty.display(), e))?;
            dirs.push(empty);
        }
        dirs.reverse();
        Ok(dirs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(id: char, tags: &[&str]) -> StoredImage {
        StoredImage {
            id: format!("sha256:{}", id.to_string().repeat(64)),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            ..StoredImage::default()
        }
    }

    #[test]
    fn a_tag_moves_to_the_image_recorded_last_and_digests_find_images() -> Result<(), ImageError> {
        let dir = tempfile::tempdir().map_err(|e| io("tempdir", e))?;
        let store = ImageStore::open(dir.path())?;
        let busybox = ImageRef::parse("busybox").map_err(|e| ImageError::Invalid(e.to_string()))?;
        store.record(image(
            'a',
            &["docker.io/library/busybox:latest", "x.test/a:1"],
        ))?;
        store.record(image('b', &["docker.io/library/busybox:latest"]))?;
        let found = store.find(&busybox)?.map(|i| i.id);
        assert_eq!(found, Some(format!("sha256:{}", "b".repeat(64))));
        let a = store.list()?.into_iter().find(|i| i.id.ends_with('a'));
        assert_eq!(a.map(|i| i.tags), Some(vec!["x.test/a:1".to_string()]));
        let by_id = ImageRef::parse(&format!("x.test/a@sha256:{}", "a".repeat(64)))
            .map_err(|e| ImageError::Invalid(e.to_string()))?;
        assert!(store.find(&by_id)?.is_some());
        assert!(digest_hex("sha256:../../etc").is_err());
        Ok(())
    }
}
