//! The official Kubernetes Python client against real replicas: `tests/python/client.py` (CRUD,
//! selectors, patch, scale, watch, errors) under Debian's python3-kubernetes, and
//! `tests/python/compat.py` (discovery paths, typed delete answers, ReplicationControllers,
//! binding) under both Debian's client and 37.x from PyPI (the venv scripts/install-deps.sh
//! makes), on one replica and through a follower of three.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};

use common::python::{newest_client_python, run_script, script, DEBIAN_PYTHON};
use common::Server;

/// Runs `script` with `python` against `kubeconfig`; it must print `done`.
fn run(python: &Path, script: &str, kubeconfig: &Path, done: &str, logs: &dyn Fn() -> String) {
    let kubeconfig = kubeconfig.to_string_lossy();
    run_script(python, script, &[kubeconfig.as_ref()], done, logs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_client_works_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::first(dir.path(), "py");
    // Ready for writes: the bootstrap namespaces exist.
    common::wait_api_ready(&s, std::time::Duration::from_secs(30)).await;
    run(
        Path::new(DEBIAN_PYTHON),
        &script("client.py"),
        &s.kubeconfig(),
        "python client ok",
        &|| s.log(),
    );
}

fn compat_on_both_clients(s: &Server, logs: &dyn Fn() -> String) {
    for python in [PathBuf::from(DEBIAN_PYTHON), newest_client_python()] {
        run(
            &python,
            &script("compat.py"),
            &s.kubeconfig(),
            "python compat ok",
            logs,
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_deletes_replication_controllers_and_binding_on_one_replica() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::first(dir.path(), "py");
    common::wait_api_ready(&s, std::time::Duration::from_secs(30)).await;
    compat_on_both_clients(&s, &|| s.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_deletes_replication_controllers_and_binding_through_a_follower_of_three() {
    let dir = tempfile::tempdir().unwrap();
    let servers = common::start_static(dir.path(), "py", 3).await;
    for s in &servers {
        common::wait_api_ready(s, std::time::Duration::from_secs(30)).await;
    }
    let refs: Vec<&Server> = servers.iter().collect();
    let leader = common::wait_cluster(&refs, 3, std::time::Duration::from_secs(30)).await;
    let follower = servers
        .iter()
        .find(|s| s.member_id != leader)
        .expect("three replicas have a follower");
    let logs = || {
        servers
            .iter()
            .map(Server::log)
            .collect::<Vec<_>>()
            .join("\n")
    };
    compat_on_both_clients(follower, &logs);
}
