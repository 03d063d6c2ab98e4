//! kube-rs against real replicas: typed `Api` calls, a `watcher` and a `reflector` that
//! recovers from 410 Gone by re-listing, on 1 and 3 replicas.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{wait_api_ready, wait_cluster, Server};
use futures_util::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::{reflector, watcher, WatchStreamExt};
use serde_json::json;

fn pod(name: &str) -> Pod {
    serde_json::from_value(
        json!({"metadata": {"name": name, "labels": {"app": "kube-rs"}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}}),
    )
    .unwrap()
}

/// CRUD through one client, read through another (the same replica, or another one).
async fn typed_api_calls(write: kube::Client, read: kube::Client) {
    let pods: Api<Pod> = Api::namespaced(write.clone(), "default");
    let rpods: Api<Pod> = Api::namespaced(read.clone(), "default");
    let created = pods
        .create(&PostParams::default(), &pod("kr1"))
        .await
        .unwrap();
    assert_eq!(
        created.spec.as_ref().unwrap().restart_policy.as_deref(),
        Some("Always")
    );
    let got = rpods.get("kr1").await.unwrap();
    assert_eq!(
        got.metadata.uid, created.metadata.uid,
        "a write was not visible on the other replica"
    );
    let listed = rpods
        .list(&ListParams::default().labels("app=kube-rs"))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    let patched = pods
        .patch(
            "kr1",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})),
        )
        .await
        .unwrap();
    assert_eq!(patched.metadata.labels.unwrap()["x"], "y");
    let applied = pods
        .patch("kr1", &PatchParams::apply("kube-rs-test"), &Patch::Apply(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "kr1", "annotations": {"by": "ssa"}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}})))
        .await
        .unwrap();
    assert_eq!(applied.metadata.annotations.unwrap()["by"], "ssa");
    let err = pods
        .create(&PostParams::default(), &pod("kr1"))
        .await
        .unwrap_err();
    match err {
        kube::Error::Api(s) => assert_eq!((s.code, s.reason.as_str()), (409, "AlreadyExists")),
        other => panic!("{other}"),
    }
    let deploys: Api<Deployment> = Api::namespaced(write.clone(), "default");
    let d: Deployment = serde_json::from_value(json!({"metadata": {"name": "krd"}, "spec": {"selector": {"matchLabels": {"a": "b"}},
        "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})).unwrap();
    deploys.create(&PostParams::default(), &d).await.unwrap();
    let scale = deploys.get_scale("krd").await.unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(1));
    pods.delete("kr1", &DeleteParams::default()).await.unwrap();
    assert!(rpods.get_opt("kr1").await.unwrap().is_none());
    deploys
        .delete("krd", &DeleteParams::default())
        .await
        .unwrap();
}

/// A watch from a compacted resourceVersion ends in 410; a reflector re-lists and carries on.
async fn reflector_recovers_from_410(write: kube::Client, read: kube::Client, etcd: &Server) {
    let cms: Api<ConfigMap> = Api::namespaced(write.clone(), "default");
    let rcms: Api<ConfigMap> = Api::namespaced(read.clone(), "default");
    let first = cms
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "r0"}})).unwrap(),
        )
        .await
        .unwrap();
    let old_rv = first.metadata.resource_version.unwrap();

    let (reader, writer) = reflector::store();
    let inits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = inits.clone();
    let stream = watcher(rcms.clone(), watcher::Config::default().timeout(1))
        .default_backoff()
        .map(move |e| {
            if let Err(err) = &e {
                eprintln!("watcher error: {err}");
            }
            if matches!(e, Ok(watcher::Event::Init)) {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            e
        })
        .reflect(writer)
        .applied_objects();
    let task = tokio::spawn(async move {
        let mut s = std::pin::pin!(stream);
        while s.next().await.is_some() {}
    });
    reader.wait_until_ready().await.unwrap();
    assert!(reader
        .state()
        .iter()
        .any(|c| c.metadata.name.as_deref() == Some("r0")));

    // Compact past the reflector's revision with changes it does not watch.
    let pods: Api<Pod> = Api::namespaced(write.clone(), "default");
    pods.create(&PostParams::default(), &pod("bump0"))
        .await
        .unwrap();
    pods.create(&PostParams::default(), &pod("bump"))
        .await
        .unwrap();
    let mut etcd_client = etcd.client().await;
    let rev = etcd_client
        .get("/registry/pods/default/bump", None)
        .await
        .unwrap()
        .header()
        .unwrap()
        .revision();
    etcd_client.compact(rev, None).await.unwrap();
    // A raw watch from before the compaction: one ERROR event with 410.
    let mut raw = rcms
        .watch(&WatchParams::default(), &old_rv)
        .await
        .unwrap()
        .boxed();
    match tokio::time::timeout(Duration::from_secs(60), raw.next())
        .await
        .unwrap()
    {
        Some(Ok(WatchEvent::Error(e))) => assert_eq!(e.code, 410),
        other => panic!("expected a 410 error event, got {other:?}"),
    }
    // The reflector's open watch ends within a second (timeoutSeconds=1); its next one starts
    // from the compacted revision, gets 410, and the reflector lists again.
    let server_log = || {
        etcd.log()
            .lines()
            .filter(|l| l.contains("configmaps"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while inits.load(std::sync::atomic::Ordering::SeqCst) < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the reflector did not re-list after 410; server: {}",
            server_log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // And it carries on watching from there.
    cms.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "r1"}})).unwrap(),
    )
    .await
    .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let names: Vec<String> = reader
            .state()
            .iter()
            .filter_map(|c| c.metadata.name.clone())
            .collect();
        if names.contains(&"r1".to_string()) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the reflector did not carry on after re-listing: {names:?}, {} inits; server: {}",
            inits.load(std::sync::atomic::Ordering::SeqCst),
            server_log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_on_one_replica() {
    let root = tempfile::tempdir().unwrap();
    let s = Server::first(root.path(), "one");
    wait_cluster(&[&s], 1, Duration::from_secs(60)).await;
    wait_api_ready(&s, Duration::from_secs(60)).await;
    let c = s.kube().await;
    typed_api_calls(c.clone(), c.clone()).await;
    reflector_recovers_from_410(c.clone(), c, &s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_on_three_replicas() {
    let root = tempfile::tempdir().unwrap();
    let servers = common::start_static(root.path(), "r", 3).await;
    for s in &servers {
        wait_api_ready(s, Duration::from_secs(60)).await;
    }
    let w = servers[0].kube().await;
    let r = servers[1].kube().await;
    typed_api_calls(w.clone(), r.clone()).await;
    reflector_recovers_from_410(w, r, &servers[2]).await;
}

/// A replica that cannot reach a quorum answers 503 ServiceUnavailable with Retry-After (for a
/// linearizable read and for a write), and serves again once the quorum is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_quorum_the_api_answers_503_with_retry_after() {
    let root = tempfile::tempdir().unwrap();
    let mut servers = common::start_static(root.path(), "r", 3).await;
    // client-go and kube-rs retry 503s that carry Retry-After by default; this client must
    // see the first answer.
    let kc = Kubeconfig::read_from(servers[0].kubeconfig()).unwrap();
    let mut cfg = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .unwrap();
    cfg.default_retry = false;
    let c = kube::Client::try_from(cfg).unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(c.clone(), "default");
    cms.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "before"}})).unwrap(),
    )
    .await
    .unwrap();
    servers[1].kill();
    servers[2].kill();
    let raw = |method: &str, body: Vec<u8>| {
        http::Request::builder()
            .method(method)
            .uri("/api/v1/namespaces/default/configmaps")
            .header("content-type", "application/json")
            .body(body)
            .unwrap()
    };
    for (method, body) in [
        ("GET", Vec::new()),
        ("POST", br#"{"metadata":{"name":"during"}}"#.to_vec()),
    ] {
        let resp = tokio::time::timeout(
            Duration::from_secs(60),
            c.send(raw(method, body).map(kube::client::Body::from)),
        )
        .await
        .expect("the request hung without a quorum")
        .unwrap();
        assert_eq!(resp.status(), 503, "{method}");
        assert_eq!(resp.headers()["retry-after"], "1", "{method}");
    }
    servers[1].restart();
    servers[2].restart();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while cms
        .get_opt("before")
        .await
        .map(|o| o.is_none())
        .unwrap_or(true)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the API did not recover"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
