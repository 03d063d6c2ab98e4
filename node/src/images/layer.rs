//! Unpacking one image layer (a tar, plain or gzip-compressed) into a directory an overlay can
//! stack: the layer's whiteouts become overlayfs whiteouts (`.wh.NAME` a 0/0 character device
//! named NAME, `.wh..wh..opq` the `trusted.overlay.opaque` attribute on its directory), as
//! containerd's overlay snapshotter makes them.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{FileType, Mode};

use super::ImageError;

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";

fn bad(what: impl std::fmt::Display) -> ImageError {
    ImageError::Invalid(format!("layer: {what}"))
}

/// A path inside the layer, refused if it would leave it.
fn inside(root: &Path, path: &Path) -> Result<PathBuf, ImageError> {
    let mut out = root.to_path_buf();
    for c in path.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err(bad(format!("entry {} leaves the layer", path.display())))
            }
        }
    }
    Ok(out)
}

fn decompressed(blob: &Path) -> Result<Box<dyn Read>, ImageError> {
    let mut f = BufReader::new(
        File::open(blob).map_err(|e| ImageError::Io(format!("{}: {e}", blob.display())))?,
    );
    let mut magic = [0u8; 4];
    let n = std::io::Read::read(&mut f, &mut magic)
        .map_err(|e| ImageError::Io(format!("{}: {e}", blob.display())))?;
    let head = std::io::Cursor::new(magic[..n].to_vec());
    let whole = head.chain(f);
    match magic {
        [0x1f, 0x8b, ..] => Ok(Box::new(flate2::read::GzDecoder::new(whole))),
        [0x28, 0xb5, 0x2f, 0xfd] => Err(bad(
            "zstd-compressed layers are not supported (gzip and uncompressed are)",
        )),
        _ => Ok(Box::new(whole)),
    }
}

/// Unpacks the layer blob `blob` into `into` (made here; it must not exist).
pub fn unpack_layer(blob: &Path, into: &Path) -> Result<(), ImageError> {
    std::fs::create_dir_all(into)
        .map_err(|e| ImageError::Io(format!("{}: {e}", into.display())))?;
    let mut archive = tar::Archive::new(decompressed(blob)?);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.set_unpack_xattrs(true);
    archive.set_overwrite(true);
    let entries = archive.entries().map_err(bad)?;
    for entry in entries {
        let mut entry = entry.map_err(bad)?;
        let path = entry.path().map_err(bad)?.into_owned();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let parent = inside(into, path.parent().unwrap_or(Path::new("")))?;
        if name == OPAQUE {
            std::fs::create_dir_all(&parent).map_err(bad)?;
            rustix::fs::setxattr(
                &parent,
                "trusted.overlay.opaque",
                b"y",
                rustix::fs::XattrFlags::empty(),
            )
            .map_err(|e| bad(format!("marking {} opaque: {e}", parent.display())))?;
            continue;
        }
        if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
            std::fs::create_dir_all(&parent).map_err(bad)?;
            let at = inside(&parent, Path::new(hidden))?;
            let _ = std::fs::remove_file(&at);
            rustix::fs::mknodat(
                rustix::fs::CWD,
                &at,
                FileType::CharacterDevice,
                Mode::empty(),
                rustix::fs::makedev(0, 0),
            )
            .map_err(|e| bad(format!("whiteout {}: {e}", at.display())))?;
            continue;
        }
        let kind = entry.header().entry_type();
        if kind.is_character_special() || kind.is_block_special() || kind.is_fifo() {
            // The tar crate would make these regular files.
            let at = inside(into, &path)?;
            std::fs::create_dir_all(&parent).map_err(bad)?;
            let header = entry.header();
            let mode = Mode::from_raw_mode(header.mode().map_err(bad)? & 0o7777);
            let dev = rustix::fs::makedev(
                header.device_major().ok().flatten().unwrap_or(0),
                header.device_minor().ok().flatten().unwrap_or(0),
            );
            let file_type = if kind.is_fifo() {
                FileType::Fifo
            } else if kind.is_block_special() {
                FileType::BlockDevice
            } else {
                FileType::CharacterDevice
            };
            let _ = std::fs::remove_file(&at);
            rustix::fs::mknodat(rustix::fs::CWD, &at, file_type, mode, dev)
                .map_err(|e| bad(format!("{}: {e}", at.display())))?;
            continue;
        }
        // `unpack_in` refuses entries (and links through earlier symlinks) leaving `into`.
        entry.unpack_in(into).map_err(|e| {
            // tar's error names the file; its source says why.
            let why = std::error::Error::source(&e)
                .map(|s| format!(": {s}"))
                .unwrap_or_default();
            bad(format!("{}: {e}{why}", path.display()))
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_uid(0);
            h.set_gid(0);
            h.set_entry_type(tar::EntryType::Regular);
            h.set_cksum();
            let _ = b.append_data(&mut h, path, *data);
        }
        b.into_inner().unwrap_or_default()
    }

    #[test]
    fn files_unpack_and_whiteouts_become_overlay_whiteouts(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let blob = dir.path().join("layer.tar.gz");
        let raw = tar_of(&[("etc/motd", b"hello"), ("etc/.wh.passwd", b"")]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &raw)?;
        std::fs::write(&blob, gz.finish()?)?;
        let root = dir.path().join("root");
        unpack_layer(&blob, &root)?;
        assert_eq!(std::fs::read(root.join("etc/motd"))?, b"hello");
        if rustix::process::geteuid().is_root() {
            let st = rustix::fs::lstat(root.join("etc/passwd"))?;
            assert_eq!(
                FileType::from_raw_mode(st.st_mode),
                FileType::CharacterDevice
            );
            assert_eq!(st.st_rdev, 0);
        }
        Ok(())
    }

    #[test]
    fn entries_leaving_the_layer_are_refused() {
        assert!(inside(Path::new("/x"), Path::new("a/../../etc")).is_err());
        assert_eq!(
            inside(Path::new("/x"), Path::new("/a/./b")).ok(),
            Some(PathBuf::from("/x/a/b"))
        );
    }
}
