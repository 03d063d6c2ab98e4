//! An image built in the test from Debian's busybox-static (one layer: `/bin/busybox`, its
//! applets as links, a user `app` (1234) and a marker file `/etc/capstan-image`), written as a
//! docker-archive and as an OCI image layout, and a loopback `docker-registry` (Debian's) with
//! htpasswd logins to push it to.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What the image's config runs: proof it runs in the image (its marker, no host files), as
/// its user, in its working directory, with its environment.
pub const IMAGE_CMD: &str = "echo from-image $FROM_IMAGE; cat /etc/capstan-image; id -u; pwd; \
     test -e /etc/os-release || echo no-host-files; exec sleep 3600";

pub struct TestImage {
    pub dir: PathBuf,
    /// The layer, uncompressed (the docker-archive's) and gzip-compressed (the OCI layout's
    /// and the registry's), with their digests.
    pub layer_tar: PathBuf,
    pub layer_tar_digest: String,
    pub layer_gz: PathBuf,
    pub layer_gz_digest: String,
    pub config: PathBuf,
    pub config_digest: String,
    pub manifest: PathBuf,
    pub manifest_digest: String,
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn sha256(path: &Path) -> String {
    let out = run(Command::new("sha256sum").arg(path));
    format!("sha256:{}", out.split_whitespace().next().unwrap())
}

/// `dir` as a tar archive at `out`.
fn tar_of(dir: &Path, out: &Path) -> PathBuf {
    run(Command::new("tar")
        .arg("-C")
        .arg(dir)
        .arg("-cf")
        .arg(out)
        .arg("."));
    out.to_path_buf()
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().len()
}

impl TestImage {
    /// Builds the image under `dir`.
    pub fn build(dir: &Path) -> TestImage {
        let dir = dir.join("image-build");
        let root = dir.join("root");
        for d in ["bin", "etc"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::copy("/bin/busybox", root.join("bin/busybox")).expect("busybox-static installed");
        for applet in [
            "sh", "cat", "echo", "id", "pwd", "sleep", "test", "ls", "env", "true",
        ] {
            std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
        }
        std::fs::write(
            root.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\napp:x:1234:1234::/work:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(root.join("etc/group"), "root:x:0:\napp:x:1234:\n").unwrap();
        std::fs::write(root.join("etc/capstan-image"), "built in the test\n").unwrap();
        let layer_tar = dir.join("layer.tar");
        run(Command::new("tar")
            .args(["--numeric-owner", "--owner=0", "--group=0", "-C"])
            .arg(&root)
            .arg("-cf")
            .arg(&layer_tar)
            .arg("."));
        run(Command::new("gzip").args(["-kn"]).arg(&layer_tar));
        let layer_gz = dir.join("layer.tar.gz");
        let (layer_tar_digest, layer_gz_digest) = (sha256(&layer_tar), sha256(&layer_gz));
        let config = dir.join("config.json");
        std::fs::write(
            &config,
            serde_json::to_vec(&serde_json::json!({
                "architecture": "amd64",
                "os": "linux",
                "config": {
                    "Entrypoint": ["/bin/sh", "-c"],
                    "Cmd": [IMAGE_CMD],
                    "Env": ["PATH=/bin", "FROM_IMAGE=yes"],
                    "WorkingDir": "/work",
                    "User": "app"
                },
                "rootfs": {"type": "layers", "diff_ids": [layer_tar_digest]}
            }))
            .unwrap(),
        )
        .unwrap();
        let config_digest = sha256(&config);
        let manifest = dir.join("manifest.oci.json");
        std::fs::write(
            &manifest,
            serde_json::to_vec(&serde_json::json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": config_digest, "size": size(&config)},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                            "digest": layer_gz_digest, "size": size(&layer_gz)}]
            }))
            .unwrap(),
        )
        .unwrap();
        let manifest_digest = sha256(&manifest);
        TestImage {
            dir,
            layer_tar,
            layer_tar_digest,
            layer_gz,
            layer_gz_digest,
            config,
            config_digest,
            manifest,
            manifest_digest,
        }
    }

    /// A `docker save` archive of the image tagged `tag`.
    pub fn docker_archive(&self, tag: &str) -> PathBuf {
        let d = self.dir.join("docker-archive");
        std::fs::create_dir_all(d.join("layer0")).unwrap();
        let hex = self.config_digest.trim_start_matches("sha256:");
        std::fs::copy(&self.config, d.join(format!("{hex}.json"))).unwrap();
        std::fs::copy(&self.layer_tar, d.join("layer0/layer.tar")).unwrap();
        std::fs::write(
            d.join("manifest.json"),
            serde_json::to_vec(&serde_json::json!([{
                "Config": format!("{hex}.json"),
                "RepoTags": [tag],
                "Layers": ["layer0/layer.tar"]
            }]))
            .unwrap(),
        )
        .unwrap();
        tar_of(&d, &self.dir.join("docker-archive.tar"))
    }

    /// An OCI image layout archive of the image named `name` (containerd's annotation).
    pub fn oci_archive(&self, name: &str) -> PathBuf {
        let d = self.dir.join("oci-layout");
        let blobs = d.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).unwrap();
        for (file, digest) in [
            (&self.config, &self.config_digest),
            (&self.layer_gz, &self.layer_gz_digest),
            (&self.manifest, &self.manifest_digest),
        ] {
            std::fs::copy(file, blobs.join(digest.trim_start_matches("sha256:"))).unwrap();
        }
        std::fs::write(d.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        std::fs::write(
            d.join("index.json"),
            serde_json::to_vec(&serde_json::json!({
                "schemaVersion": 2,
                "manifests": [{
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": self.manifest_digest, "size": size(&self.manifest),
                    "annotations": {"io.containerd.image.name": name,
                                    "org.opencontainers.image.ref.name": "oci"}
                }]
            }))
            .unwrap(),
        )
        .unwrap();
        tar_of(&d, &self.dir.join("oci.tar"))
    }
}

/// Debian's `docker-registry` on a free loopback port, with one htpasswd login.
pub struct Registry {
    pub host: String,
    pub user: String,
    pub password: String,
    child: Child,
}

impl Registry {
    pub fn start(dir: &Path) -> Registry {
        let dir = dir.join("registry");
        std::fs::create_dir_all(dir.join("data")).unwrap();
        let (user, password) = ("alice".to_string(), "s3cret-pw".to_string());
        let hash = run(Command::new("python3").args([
            "-W",
            "ignore",
            "-c",
            "import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))",
            &password,
        ]));
        std::fs::write(dir.join("htpasswd"), format!("{user}:{}\n", hash.trim())).unwrap();
        let port = super::free_port();
        let host = format!("127.0.0.1:{port}");
        let config = dir.join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
                 http:\n  addr: {host}\nauth:\n  htpasswd:\n    realm: capstan-test\n    path: {}\n",
                dir.join("data").display(),
                dir.join("htpasswd").display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("docker-registry installed (scripts/install-deps.sh)");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(&host).is_err() {
            assert!(Instant::now() < deadline, "the registry did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Registry {
            host,
            user,
            password,
            child,
        }
    }

    fn curl(&self) -> Command {
        let mut c = Command::new("curl");
        c.args(["-sS", "--fail-with-body", "-u"])
            .arg(format!("{}:{}", self.user, self.password));
        c
    }

    fn push_blob(&self, repo: &str, file: &Path, digest: &str) {
        let headers = run(self
            .curl()
            .args(["-X", "POST", "-D", "-", "-o", "/dev/null"])
            .arg(format!("http://{}/v2/{repo}/blobs/uploads/", self.host)));
        let location = headers
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("location")
                    .then(|| v.trim().to_string())
            })
            .expect("an upload location");
        let url = if location.starts_with("http") {
            location
        } else {
            format!("http://{}{location}", self.host)
        };
        let sep = if url.contains('?') { '&' } else { '?' };
        self.put(
            file,
            "application/octet-stream",
            &format!("{url}{sep}digest={digest}"),
        );
    }

    /// PUTs the file's bytes to `url` with `content_type`.
    fn put(&self, file: &Path, content_type: &str, url: &str) {
        run(self
            .curl()
            .args(["-X", "PUT", "-H"])
            .arg(format!("content-type: {content_type}"))
            .arg("--data-binary")
            .arg(format!("@{}", file.display()))
            .arg(url));
    }

    /// Pushes `image` as `repo:tag`.
    pub fn push(&self, image: &TestImage, repo: &str, tag: &str) {
        self.push_blob(repo, &image.layer_gz, &image.layer_gz_digest);
        self.push_blob(repo, &image.config, &image.config_digest);
        self.put(
            &image.manifest,
            "application/vnd.oci.image.manifest.v1+json",
            &format!("http://{}/v2/{repo}/manifests/{tag}", self.host),
        );
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
