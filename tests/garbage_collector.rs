//! The garbage collector and the API's deletion propagation through a real `capstan server`:
//! background, foreground and orphan deletion of owners, dangling owner references, and the
//! delete options as kube-apiserver reads them. One rule per test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::Server;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams, PropagationPolicy};
use kube::{Api, Resource, ResourceExt};
use serde_json::{json, Value};

/// Generous: a guard against a collector that never acts, not a speed assertion.
const PATIENCE: Duration = Duration::from_secs(60);

async fn server() -> (tempfile::TempDir, Server, kube::Client) {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::first(dir.path(), "gc");
    common::wait_api_ready(&s, PATIENCE).await;
    let client = s.kube().await;
    (dir, s, client)
}

async fn until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !check().await {
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn config_map(client: &kube::Client, name: &str) -> ConfigMap {
    let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    Api::<ConfigMap>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &cm)
        .await
        .unwrap()
}

/// A pod owned by `owners` (apiVersion, kind, name, uid, blockOwnerDeletion), with `finalizers`.
async fn dependent(client: &kube::Client, name: &str, owners: Value, finalizers: Value) -> Pod {
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": name, "ownerReferences": owners, "finalizers": finalizers},
        "spec": {"containers": [{"name": "c", "image": "i"}]}}))
    .unwrap();
    Api::<Pod>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &pod)
        .await
        .unwrap()
}

fn owner_ref(o: &impl Resource<DynamicType = ()>, block: bool) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "name": o.name_any(),
           "uid": o.uid().unwrap(), "blockOwnerDeletion": block})
}

fn delete_with(policy: PropagationPolicy) -> DeleteParams {
    DeleteParams {
        propagation_policy: Some(policy),
        ..DeleteParams::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_background_deletion_collects_the_whole_tree_after_the_owner() {
    let (_d, _s, client) = server().await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "i"}]}}}}))
    .unwrap();
    deployments
        .create(&PostParams::default(), &d)
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let by_app = ListParams::default().labels("app=web");
    until("2 pods", async || {
        pods.list(&by_app).await.unwrap().items.len() == 2
    })
    .await;
    deployments
        .delete("web", &delete_with(PropagationPolicy::Background))
        .await
        .unwrap();
    // The owner went at once; its ReplicaSet and then the pods follow.
    assert!(deployments.get_opt("web").await.unwrap().is_none());
    until("the tree collected", async || {
        sets.list(&by_app).await.unwrap().items.is_empty()
            && pods.list(&by_app).await.unwrap().items.is_empty()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreground_deletion_keeps_the_owner_until_its_blocking_dependents_are_gone() {
    let (_d, _s, client) = server().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let owner = config_map(&client, "owner").await;
    // A dependent held by a finalizer of the test's, so the owner must wait for it.
    dependent(
        &client,
        "held",
        json!([owner_ref(&owner, true)]),
        json!(["example.com/hold"]),
    )
    .await;
    let answer = cms
        .delete("owner", &delete_with(PropagationPolicy::Foreground))
        .await
        .unwrap();
    let marked = answer
        .left()
        .expect("the owner is kept while its dependents go");
    assert!(marked.metadata.deletion_timestamp.is_some());
    assert_eq!(marked.finalizers(), ["foregroundDeletion"]);
    until("the dependent marked for deletion", async || {
        pods.get("held")
            .await
            .unwrap()
            .metadata
            .deletion_timestamp
            .is_some()
    })
    .await;
    // Still waiting: the dependent blocks it.
    assert!(cms.get_opt("owner").await.unwrap().is_some());
    pods.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    until("the owner gone", async || {
        cms.get_opt("owner").await.unwrap().is_none()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orphaning_deletion_strips_the_reference_and_keeps_the_dependents() {
    let (_d, _s, client) = server().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let owner = config_map(&client, "owner").await;
    let other = config_map(&client, "other").await;
    dependent(
        &client,
        "kept",
        json!([owner_ref(&owner, true), owner_ref(&other, false)]),
        json!([]),
    )
    .await;
    cms.delete("owner", &delete_with(PropagationPolicy::Orphan))
        .await
        .unwrap();
    until("the owner gone", async || {
        cms.get_opt("owner").await.unwrap().is_none()
    })
    .await;
    let kept = pods.get("kept").await.unwrap();
    let uids: Vec<String> = kept
        .owner_references()
        .iter()
        .map(|o| o.uid.clone())
        .collect();
    assert_eq!(
        uids,
        [other.uid().unwrap()],
        "only the orphaning owner's reference goes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dependent_of_owners_that_do_not_exist_is_collected_and_a_live_owner_keeps_one() {
    let (_d, _s, client) = server().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let live = config_map(&client, "live").await;
    let ghost = json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "ghost",
                       "uid": "00000000-0000-0000-0000-00000000dead"});
    dependent(&client, "doomed", json!([ghost.clone()]), json!([])).await;
    dependent(
        &client,
        "saved",
        json!([ghost, owner_ref(&live, false)]),
        json!([]),
    )
    .await;
    until("the ghost's only dependent collected", async || {
        pods.get_opt("doomed").await.unwrap().is_none()
    })
    .await;
    until("the dangling reference removed", async || {
        pods.get("saved").await.unwrap().owner_references().len() == 1
    })
    .await;
    assert_eq!(
        pods.get("saved").await.unwrap().owner_references()[0].uid,
        live.uid().unwrap()
    );
    // A reference to a ConfigMap of the name but another uid is dangling too.
    let namesake = json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "live",
                          "uid": "00000000-0000-0000-0000-00000000beef"});
    dependent(&client, "misled", json!([namesake]), json!([])).await;
    until("the namesake's dependent collected", async || {
        pods.get_opt("misled").await.unwrap().is_none()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_deleted_without_a_policy_orphans_its_pods_as_kube_apiserver_defaults() {
    let (_d, _s, client) = server().await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let job: Job = serde_json::from_value(json!({
        "metadata": {"name": "j"},
        "spec": {"suspend": true, "template": {"spec": {"restartPolicy": "Never",
                 "containers": [{"name": "c", "image": "i"}]}}}}))
    .unwrap();
    let job = jobs.create(&PostParams::default(), &job).await.unwrap();
    let owner = json!([{"apiVersion": "batch/v1", "kind": "Job", "name": "j",
                        "uid": job.uid().unwrap(), "blockOwnerDeletion": true}]);
    // Owned but not controlled: the job controller leaves it alone (a suspended Job deletes the
    // pods it controls).
    dependent(&client, "worker", owner, json!([])).await;
    let answer = jobs.delete("j", &DeleteParams::default()).await.unwrap();
    let marked = answer.left().expect("kept until its pods are orphaned");
    assert_eq!(marked.finalizers(), ["orphan"]);
    until("the job gone", async || {
        jobs.get_opt("j").await.unwrap().is_none()
    })
    .await;
    assert!(pods
        .get("worker")
        .await
        .unwrap()
        .owner_references()
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphan_dependents_and_a_propagation_policy_together_are_refused() {
    let (_d, _s, client) = server().await;
    config_map(&client, "c").await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    // kube-rs has no orphanDependents; it goes in the query.
    let req = http::Request::delete(
        "/api/v1/namespaces/default/configmaps/c?orphanDependents=true",
    )
    .header("content-type", "application/json")
    .body(serde_json::to_vec(&json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Foreground"})).unwrap())
    .unwrap();
    let err = client.request::<Value>(req).await.unwrap_err();
    let kube::Error::Api(s) = err else {
        panic!("{err}")
    };
    assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"));
    assert!(
        s.message
            .contains("orphanDependents and deletionPropagation cannot be both set"),
        "{}",
        s.message
    );
    // Nothing changed.
    assert!(cms
        .get("c")
        .await
        .unwrap()
        .metadata
        .deletion_timestamp
        .is_none());
}
