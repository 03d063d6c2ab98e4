//! The controller manager on the raft leader, through real `capstan server` processes: it starts
//! with a term the replica leads, writes through the in-process client over the term's fenced
//! store, and moves to the new leader when the old one dies. One rule per test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::Server;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{DeleteParams, PostParams};
use kube::Api;
use serde_json::json;

/// Generous: a guard against a controller that never acts, not a speed assertion.
const PATIENCE: Duration = Duration::from_secs(60);

/// Waits until `ns` has a `default` ServiceAccount other than `not`; returns its uid.
async fn default_account(client: &kube::Client, ns: &str, not: Option<&str>) -> String {
    let api: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Ok(Some(sa)) = api.get_opt("default").await {
            let uid = sa.metadata.uid.unwrap_or_default();
            if Some(uid.as_str()) != not {
                return uid;
            }
        }
        assert!(
            Instant::now() < deadline,
            "namespace {ns} got no default ServiceAccount"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn create_namespace(client: &kube::Client, name: &str) {
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_namespace_gets_a_default_service_account_and_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::first(dir.path(), "solo");
    common::wait_api_ready(&s, Duration::from_secs(30)).await;
    let client = s.kube().await;
    // The system namespaces made at bootstrap, and a new one.
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        default_account(&client, ns, None).await;
    }
    create_namespace(&client, "team").await;
    let first = default_account(&client, "team", None).await;
    // Deleted, it is made again (a new object).
    Api::<ServiceAccount>::namespaced(client.clone(), "team")
        .delete("default", &DeleteParams::default())
        .await
        .unwrap();
    let second = default_account(&client, "team", Some(&first)).await;
    assert_ne!(first, second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controllers_move_to_the_new_leader_when_the_old_one_dies() {
    let dir = tempfile::tempdir().unwrap();
    let mut servers = common::start_static(dir.path(), "c", 3).await;
    for s in &servers {
        common::wait_api_ready(s, Duration::from_secs(30)).await;
    }
    let refs: Vec<&Server> = servers.iter().collect();
    let leader = common::wait_cluster(&refs, 3, Duration::from_secs(30)).await;
    let client = servers[0].kube().await;
    create_namespace(&client, "before").await;
    default_account(&client, "before", None).await;
    // kill -9 the leader; a namespace made afterwards is served by the next leader's manager.
    let dead = servers.iter().position(|s| s.member_id == leader).unwrap();
    servers[dead].kill();
    let alive: Vec<&Server> = servers
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != dead)
        .map(|(_, s)| s)
        .collect();
    let new_leader = common::wait_cluster(&alive, 3, Duration::from_secs(30)).await;
    assert_ne!(new_leader, leader);
    let client = alive[0].kube().await;
    create_namespace(&client, "after").await;
    default_account(&client, "after", None).await;
    // The new leader's log says its manager started for its term.
    let new = alive.iter().find(|s| s.member_id == new_leader).unwrap();
    assert!(
        new.log().contains("leader-only work started"),
        "{}",
        new.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_controller_name_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(common::BIN)
        .args(["server", "--data-dir"])
        .arg(dir.path().join("d"))
        .args([
            "--listen-api",
            "127.0.0.1:0",
            "--listen-client",
            "https://127.0.0.1:0",
            "--listen-peer",
            "127.0.0.1:0",
            "--controllers",
            "*,-bogus",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("\"bogus\" is not in the list of known controllers"),
        "{err}"
    );
}
