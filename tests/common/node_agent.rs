//! A real `capstan node` process for tests, pointed at a test server's admin kubeconfig, in
//! its own data dir; stopped with SIGTERM (so its pods' processes stop too) when dropped.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::{Server, BIN};

pub struct NodeAgent {
    pub name: String,
    pub data_dir: PathBuf,
    pub log: PathBuf,
    child: Option<Child>,
}

impl NodeAgent {
    /// Starts `capstan node --name NAME` against `server` with `extra` flags; the process
    /// runtime unless `extra` names one (the sandbox runtime has tests of its own). Images
    /// are pulled only from registries `extra` names (`--registry`).
    pub fn start(server: &Server, root: &Path, name: &str, extra: &[&str]) -> NodeAgent {
        let runtime: &[&str] = if extra
            .iter()
            .any(|a| a.starts_with("--runtime") || *a == "--sim")
        {
            &[]
        } else {
            &["--runtime", "process"]
        };
        let data_dir = root.join(format!("node-{name}"));
        let log = root.join(format!("node-{name}.log"));
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let child = Command::new(BIN)
            .arg("node")
            .args(["--name", name])
            .arg("--kubeconfig")
            .arg(server.kubeconfig())
            .arg("--data-dir")
            .arg(&data_dir)
            .args(runtime)
            .args(extra)
            // Nothing is pulled from off the machine: registries a test does not name are
            // closed.
            .arg("--registry=*=none")
            .env(
                "RUST_LOG",
                std::env::var("CAPSTAN_TEST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::from(out))
            .spawn()
            .unwrap();
        NodeAgent {
            name: name.to_string(),
            data_dir,
            log,
            child: Some(child),
        }
    }

    /// SIGTERM, then waits for it to exit (SIGKILL after a minute).
    pub fn stop(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return child.wait().ok();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The CRI log file of attempt `n` of `container` of the pod `ns/name`.
    pub fn log_file(&self, ns: &str, name: &str, uid: &str, container: &str, n: u32) -> PathBuf {
        self.data_dir
            .join("pods")
            .join(format!("{ns}_{name}_{uid}"))
            .join(container)
            .join(format!("{n}.log"))
    }

    /// The agent's own log so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for NodeAgent {
    fn drop(&mut self) {
        self.stop();
    }
}
