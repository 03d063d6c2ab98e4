//! The official Kubernetes Python client (Debian's python3-kubernetes, installed by
//! scripts/install-deps.sh) against a real replica: `tests/python/client.py`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

use common::Server;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_client_works_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::first(dir.path(), "py");
    // Ready for writes: the bootstrap namespaces exist.
    common::wait_api_ready(&s, std::time::Duration::from_secs(30)).await;
    // Debian's interpreter, where apt installs python3-kubernetes.
    let out = Command::new("/usr/bin/python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/python/client.py"
        ))
        .arg(s.kubeconfig())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("python client ok"),
        "{stdout}{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        s.log()
    );
}
