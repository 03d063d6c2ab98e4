//! The disruption controller and the `pods/eviction` subresource through a real
//! `capstan server`: a budget's status over a ReplicaSet's ready pods, and evictions that the
//! budget allows (the pod goes, the budget records it), refuses (429 with upstream's message
//! and cause), or cannot decide (two budgets: 500). The eviction tests set the budget's status
//! themselves with the disruption controller off, so what they see is the subresource's work
//! alone. One rule per test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::kubelet::FakeKubelet;
use common::Server;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{EvictParams, Patch, PatchParams, PostParams};
use kube::Api;
use serde_json::{json, Value};

/// Generous: a guard against a controller that never acts, not a speed assertion.
const PATIENCE: Duration = Duration::from_secs(90);

const VIOLATES: &str = "Cannot evict pod as it would violate the pod's disruption budget.";

async fn server(extra: &[&str]) -> (tempfile::TempDir, Server, kube::Client) {
    let dir = tempfile::tempdir().unwrap();
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    let server = Server::start(dir.path(), "d", &extra);
    common::wait_api_ready(&server, PATIENCE).await;
    // kube-rs retries 429s by default; these tests must see the eviction's answer itself.
    let kc = kube::config::Kubeconfig::read_from(server.kubeconfig()).unwrap();
    let mut cfg =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await
            .unwrap();
    cfg.default_retry = false;
    let client = kube::Client::try_from(cfg).unwrap();
    (dir, server, client)
}

async fn budget(client: &kube::Client, name: &str, spec: Value) -> PodDisruptionBudget {
    let pdb: PodDisruptionBudget =
        serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap();
    Api::<PodDisruptionBudget>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &pdb)
        .await
        .unwrap()
}

/// A running, ready pod labelled `app=web` (made by hand: no controller owns it).
async fn ready_pod(client: &kube::Client, name: &str) {
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    }))
    .unwrap();
    api.create(&PostParams::default(), &pod).await.unwrap();
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let status = json!({"status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True", "lastTransitionTime": now}]}});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(status))
        .await
        .unwrap();
}

/// Sets the budget's status as the disruption controller would have.
async fn budget_status(client: &kube::Client, name: &str, healthy: i32, desired: i32) {
    let api: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), "default");
    let pdb = api.get(name).await.unwrap();
    let status = json!({"status": {
        "currentHealthy": healthy,
        "desiredHealthy": desired,
        "expectedPods": healthy,
        "disruptionsAllowed": (healthy - desired).max(0),
        "observedGeneration": pdb.metadata.generation,
    }});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(status))
        .await
        .unwrap();
}

async fn until_budget(
    client: &kube::Client,
    name: &str,
    what: &str,
    pred: impl Fn(&PodDisruptionBudget) -> bool,
) -> PodDisruptionBudget {
    let api: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), "default");
    let deadline = Instant::now() + PATIENCE;
    loop {
        let p = api.get(name).await.unwrap();
        if pred(&p) {
            return p;
        }
        assert!(
            Instant::now() < deadline,
            "never: {what}; status {:?}",
            p.status
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// POSTs an Eviction of `pod` and returns the HTTP code and the body.
async fn evict_raw(client: &kube::Client, pod: &str) -> (u16, Value) {
    let body = json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": pod, "namespace": "default"}});
    let req = http::Request::post(format!("/api/v1/namespaces/default/pods/{pod}/eviction"))
        .header("content-type", "application/json")
        .body(kube::client::Body::from(serde_json::to_vec(&body).unwrap()))
        .unwrap();
    let resp = client.send(req).await.unwrap();
    let code = resp.status().as_u16();
    let bytes = resp.into_body().collect_bytes().await.unwrap();
    (code, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn budget_status_counts_a_replicasets_ready_pods_against_its_scale() {
    let (_dir, _server, client) = server(&[]).await;
    let _kubelet = FakeKubelet::start(client.clone(), |_| true);
    let rs: ReplicaSet = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "nginx"}]}}},
    }))
    .unwrap();
    Api::<ReplicaSet>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &rs)
        .await
        .unwrap();
    // maxUnavailable makes the expected count the ReplicaSet's scale.
    let pdb = budget(
        &client,
        "web",
        json!({"maxUnavailable": 1, "selector": {"matchLabels": {"app": "web"}}}),
    )
    .await;
    let done = until_budget(&client, "web", "3 healthy of 3 expected", |p| {
        p.status
            .as_ref()
            .is_some_and(|s| s.current_healthy == 3 && s.expected_pods == 3)
    })
    .await;
    let status = done.status.unwrap();
    assert_eq!(status.desired_healthy, 2);
    assert_eq!(status.disruptions_allowed, 1);
    assert_eq!(status.observed_generation, pdb.metadata.generation);
    let cond = status
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "DisruptionAllowed")
        .unwrap();
    assert_eq!(
        (cond.status.as_str(), cond.reason.as_str()),
        ("True", "SufficientPods")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_allowed_eviction_deletes_the_pod_and_spends_the_budget() {
    let (_dir, _server, client) = server(&["--controllers", "*,-disruption"]).await;
    for p in ["a", "b", "c"] {
        ready_pod(&client, p).await;
    }
    budget(
        &client,
        "web",
        json!({"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}),
    )
    .await;
    budget_status(&client, "web", 3, 2).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.evict("a", &EvictParams::default()).await.unwrap();
    assert!(pods.get_opt("a").await.unwrap().is_none(), "the pod stays");
    let pdb = Api::<PodDisruptionBudget>::namespaced(client.clone(), "default")
        .get("web")
        .await
        .unwrap();
    let status = pdb.status.unwrap();
    assert_eq!(status.disruptions_allowed, 0);
    assert!(status.disrupted_pods.unwrap().contains_key("a"));
    let cond = status
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "DisruptionAllowed")
        .unwrap();
    assert_eq!(
        (cond.status.as_str(), cond.reason.as_str()),
        ("False", "InsufficientPods")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_eviction_the_budget_does_not_allow_is_refused_with_429() {
    let (_dir, _server, client) = server(&["--controllers", "*,-disruption"]).await;
    for p in ["a", "b"] {
        ready_pod(&client, p).await;
    }
    budget(
        &client,
        "web",
        json!({"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}),
    )
    .await;
    budget_status(&client, "web", 2, 2).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    match pods.evict("a", &EvictParams::default()).await {
        Err(kube::Error::Api(e)) => {
            assert_eq!(e.code, 429);
            assert_eq!(e.reason, "TooManyRequests");
            assert_eq!(e.message, VIOLATES);
        }
        other => panic!("evicted: {other:?}"),
    }
    let (code, body) = evict_raw(&client, "a").await;
    assert_eq!(code, 429);
    assert_eq!(
        body["details"]["causes"],
        json!([{"reason": "DisruptionBudget",
                "message": "The disruption budget web needs 2 healthy pods and has 2 currently"}])
    );
    assert!(pods.get_opt("a").await.unwrap().is_some(), "the pod went");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pod_two_budgets_cover_cannot_be_evicted() {
    let (_dir, _server, client) = server(&["--controllers", "*,-disruption"]).await;
    ready_pod(&client, "a").await;
    for name in ["one", "two"] {
        budget(
            &client,
            name,
            json!({"maxUnavailable": 1, "selector": {"matchLabels": {"app": "web"}}}),
        )
        .await;
        budget_status(&client, name, 1, 0).await;
    }
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    match pods.evict("a", &EvictParams::default()).await {
        Err(kube::Error::Api(e)) => {
            assert_eq!(e.code, 500);
            assert_eq!(
                e.message,
                "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
            );
        }
        other => panic!("evicted: {other:?}"),
    }
    assert!(pods.get_opt("a").await.unwrap().is_some(), "the pod went");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_budget_not_yet_observed_refuses_evictions() {
    let (_dir, _server, client) = server(&["--controllers", "*,-disruption"]).await;
    ready_pod(&client, "a").await;
    budget(
        &client,
        "web",
        json!({"maxUnavailable": 1, "selector": {"matchLabels": {"app": "web"}}}),
    )
    .await;
    // No status yet: observedGeneration lags the budget's generation.
    let (code, body) = evict_raw(&client, "a").await;
    assert_eq!(code, 429, "{body}");
    assert_eq!(
        body["details"]["causes"][0]["message"],
        "The disruption budget web is still being processed by the server."
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pod_no_budget_covers_is_evicted_by_deleting_it() {
    let (_dir, _server, client) = server(&["--controllers", "*,-disruption"]).await;
    ready_pod(&client, "a").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let (code, body) = evict_raw(&client, "a").await;
    assert_eq!(
        (code, body["status"].as_str()),
        (201, Some("Success")),
        "{body}"
    );
    assert!(pods.get_opt("a").await.unwrap().is_none(), "the pod stays");
}
