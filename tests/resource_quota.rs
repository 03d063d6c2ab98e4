//! The resourcequota controller and quota admission through a real `capstan server`: a
//! quota's `status.used` counts the namespace's pods and their requests, a create that would
//! exceed a quota is refused with kube-apiserver's 403 and creates nothing, a pod that leaves
//! out what a quota limits is refused, and a deleted pod's usage is given back. One rule per
//! test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::Server;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, ResourceQuota};
use kube::api::{DeleteParams, PostParams};
use kube::Api;
use serde_json::{json, Value};

/// Generous: a guard against a controller that never acts, not a speed assertion.
const PATIENCE: Duration = Duration::from_secs(90);

async fn server() -> (tempfile::TempDir, Server, kube::Client) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::first(dir.path(), "q");
    common::wait_api_ready(&server, PATIENCE).await;
    let client = server.kube().await;
    (dir, server, client)
}

async fn quota(client: &kube::Client, name: &str, spec: Value) {
    let q: ResourceQuota =
        serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap();
    Api::<ResourceQuota>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &q)
        .await
        .unwrap();
}

fn used(q: &ResourceQuota) -> BTreeMap<String, String> {
    q.status
        .as_ref()
        .and_then(|s| s.used.as_ref())
        .map(|u| u.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect())
        .unwrap_or_default()
}

/// Waits until the quota's `status.used` is `want`.
async fn until_used(client: &kube::Client, name: &str, want: &[(&str, &str)]) -> ResourceQuota {
    let want: BTreeMap<String, String> = want
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let api: Api<ResourceQuota> = Api::namespaced(client.clone(), "default");
    let deadline = Instant::now() + PATIENCE;
    loop {
        let q = api.get(name).await.unwrap();
        if used(&q) == want {
            return q;
        }
        assert!(
            Instant::now() < deadline,
            "never used {want:?}; status {:?}",
            q.status
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn pod(name: &str, resources: Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "nginx", "resources": resources}]},
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn quota_status_counts_pods_and_their_requests() {
    let (_dir, _server, client) = server().await;
    quota(
        &client,
        "compute",
        json!({"hard": {"pods": "10", "requests.cpu": "2", "requests.memory": "1Gi", "limits.memory": "2Gi"}}),
    )
    .await;
    until_used(
        &client,
        "compute",
        &[
            ("pods", "0"),
            ("requests.cpu", "0"),
            ("requests.memory", "0"),
            ("limits.memory", "0"),
        ],
    )
    .await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    for (name, cpu) in [("a", "100m"), ("b", "400m")] {
        let res =
            json!({"requests": {"cpu": cpu, "memory": "64Mi"}, "limits": {"memory": "128Mi"}});
        pods.create(&PostParams::default(), &pod(name, res))
            .await
            .unwrap();
    }
    let q = until_used(
        &client,
        "compute",
        &[
            ("pods", "2"),
            ("requests.cpu", "500m"),
            ("requests.memory", "128Mi"),
            ("limits.memory", "256Mi"),
        ],
    )
    .await;
    assert_eq!(q.status.unwrap().hard.unwrap()["requests.memory"].0, "1Gi");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_create_over_quota_is_forbidden_and_creates_nothing() {
    let (_dir, _server, client) = server().await;
    quota(&client, "counts", json!({"hard": {"configmaps": "2"}})).await;
    until_used(&client, "counts", &[("configmaps", "0")]).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let cm = |name: &str| -> ConfigMap {
        serde_json::from_value(json!({"metadata": {"name": name}})).unwrap()
    };
    for name in ["one", "two"] {
        cms.create(&PostParams::default(), &cm(name)).await.unwrap();
    }
    match cms.create(&PostParams::default(), &cm("three")).await {
        Err(kube::Error::Api(e)) => {
            assert_eq!(e.code, 403);
            assert_eq!(e.reason, "Forbidden");
            assert_eq!(
                e.message,
                "configmaps \"three\" is forbidden: exceeded quota: counts, requested: configmaps=1, used: configmaps=2, limited: configmaps=2"
            );
        }
        other => panic!("created: {other:?}"),
    }
    assert!(cms.get_opt("three").await.unwrap().is_none());
    until_used(&client, "counts", &[("configmaps", "2")]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pod_over_its_cpu_quota_is_forbidden_with_the_amounts() {
    let (_dir, _server, client) = server().await;
    quota(&client, "cpu", json!({"hard": {"requests.cpu": "1"}})).await;
    until_used(&client, "cpu", &[("requests.cpu", "0")]).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(
        &PostParams::default(),
        &pod("a", json!({"requests": {"cpu": "600m"}})),
    )
    .await
    .unwrap();
    match pods
        .create(
            &PostParams::default(),
            &pod("b", json!({"requests": {"cpu": "500m"}})),
        )
        .await
    {
        Err(kube::Error::Api(e)) => {
            assert_eq!(e.code, 403);
            assert_eq!(
                e.message,
                "pods \"b\" is forbidden: exceeded quota: cpu, requested: requests.cpu=500m, used: requests.cpu=600m, limited: requests.cpu=1"
            );
        }
        other => panic!("created: {other:?}"),
    }
    assert!(pods.get_opt("b").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pod_that_leaves_out_a_limited_resource_is_forbidden() {
    let (_dir, _server, client) = server().await;
    quota(
        &client,
        "limits",
        json!({"hard": {"limits.cpu": "4", "limits.memory": "4Gi"}}),
    )
    .await;
    until_used(
        &client,
        "limits",
        &[("limits.cpu", "0"), ("limits.memory", "0")],
    )
    .await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    match pods
        .create(
            &PostParams::default(),
            &pod("a", json!({"limits": {"memory": "1Gi"}})),
        )
        .await
    {
        Err(kube::Error::Api(e)) => {
            assert_eq!(e.code, 403);
            assert_eq!(
                e.message,
                "pods \"a\" is forbidden: failed quota: limits: must specify limits.cpu"
            );
        }
        other => panic!("created: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_pod_gives_its_usage_back() {
    let (_dir, _server, client) = server().await;
    quota(&client, "pods", json!({"hard": {"pods": "1"}})).await;
    until_used(&client, "pods", &[("pods", "0")]).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(&PostParams::default(), &pod("a", json!({})))
        .await
        .unwrap();
    until_used(&client, "pods", &[("pods", "1")]).await;
    pods.delete("a", &DeleteParams::default()).await.unwrap();
    until_used(&client, "pods", &[("pods", "0")]).await;
    pods.create(&PostParams::default(), &pod("b", json!({})))
        .await
        .unwrap();
}
