//! The deployment controller through a real `capstan server`: Deployments become ReplicaSets
//! named by their template hash, roll out within maxSurge / maxUnavailable or by Recreate,
//! pause, keep a bounded revision history, scale proportionally mid-rollout and report a stalled
//! rollout. The test plays the kubelet (common::kubelet), marking pods ready. One rule per test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::kubelet::{FakeKubelet, PodWatch};
use common::Server;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::{json, Value};

/// Generous: a guard against a controller that never acts, not a speed assertion.
const PATIENCE: Duration = Duration::from_secs(60);

fn image(p: &Pod) -> String {
    p.spec.as_ref().unwrap().containers[0]
        .image
        .clone()
        .unwrap_or_default()
}

struct Fixture {
    _dir: tempfile::TempDir,
    _server: Server,
    client: kube::Client,
    deployments: Api<Deployment>,
    sets: Api<ReplicaSet>,
}

/// One replica, a kubelet running every pod but those of image `stuck`.
async fn fixture() -> (Fixture, FakeKubelet) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::first(dir.path(), "d");
    common::wait_api_ready(&server, PATIENCE).await;
    let client = server.kube().await;
    let kubelet = FakeKubelet::start(client.clone(), |p| image(p) != "stuck");
    let f = Fixture {
        deployments: Api::namespaced(client.clone(), "default"),
        sets: Api::namespaced(client.clone(), "default"),
        client,
        _server: server,
        _dir: dir,
    };
    (f, kubelet)
}

fn deployment(name: &str, replicas: i32, strategy: Value) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "strategy": strategy,
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "c", "image": "v1"}]}}}}))
    .unwrap()
}

fn rolling(surge: i32, unavailable: i32) -> Value {
    json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}})
}

impl Fixture {
    async fn create(&self, d: Deployment) -> Deployment {
        self.deployments
            .create(&PostParams::default(), &d)
            .await
            .unwrap()
    }

    async fn patch(&self, name: &str, patch: Value) {
        self.deployments
            .patch(name, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .unwrap();
    }

    async fn set_image(&self, name: &str, image: &str) {
        self.patch(
            name,
            json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}}),
        )
        .await;
    }

    /// Waits until the Deployment's status satisfies `pred`; returns it.
    async fn until(
        &self,
        name: &str,
        what: &str,
        pred: impl Fn(&Deployment) -> bool,
    ) -> Deployment {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let d = self.deployments.get(name).await.unwrap();
            if pred(&d) {
                return d;
            }
            assert!(
                Instant::now() < deadline,
                "never: {what}; last: {:?}",
                d.status
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for the rollout to finish, as `kubectl rollout status` judges it.
    async fn rolled_out(&self, name: &str) -> Deployment {
        self.until(name, "rolled out", |d| {
            let s = d.status.clone().unwrap_or_default();
            let want = d.spec.as_ref().unwrap().replicas.unwrap();
            s.observed_generation >= d.metadata.generation
                && s.updated_replicas.unwrap_or(0) == want
                && s.replicas.unwrap_or(0) == want
                && s.available_replicas.unwrap_or(0) == want
        })
        .await
    }

    /// The Deployment's ReplicaSets (by owner), oldest first.
    async fn sets_of(&self, d: &Deployment) -> Vec<ReplicaSet> {
        let uid = d.uid().unwrap();
        let mut sets: Vec<ReplicaSet> = self
            .sets
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|r| r.owner_references().iter().any(|o| o.uid == uid))
            .collect();
        sets.sort_by_key(revision);
        sets
    }
}

fn revision(rs: &ReplicaSet) -> i64 {
    rs.annotations()
        .get("deployment.kubernetes.io/revision")
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

fn replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().unwrap().replicas.unwrap()
}

fn condition(d: &Deployment, kind: &str) -> Option<(String, String)> {
    d.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == kind)
        .map(|c| (c.status.clone(), c.reason.clone().unwrap_or_default()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_makes_a_replica_set_named_by_its_template_hash_and_reports_available() {
    let (f, _kubelet) = fixture().await;
    f.create(deployment("web", 3, rolling(1, 0))).await;
    let d = f.rolled_out("web").await;
    let sets = f.sets_of(&d).await;
    assert_eq!(sets.len(), 1);
    let rs = &sets[0];
    let hash = rs.labels()["pod-template-hash"].clone();
    assert_eq!(rs.name_any(), format!("web-{hash}"));
    let sel = rs
        .spec
        .as_ref()
        .unwrap()
        .selector
        .match_labels
        .clone()
        .unwrap();
    assert_eq!(sel.get("pod-template-hash"), Some(&hash));
    assert_eq!(revision(rs), 1);
    assert_eq!(d.annotations()["deployment.kubernetes.io/revision"], "1");
    let pods: Api<Pod> = Api::namespaced(f.client.clone(), "default");
    let pods = pods
        .list(&ListParams::default().labels(&format!("pod-template-hash={hash}")))
        .await
        .unwrap();
    assert_eq!(pods.items.len(), 3);
    assert_eq!(
        condition(&d, "Available"),
        Some(("True".into(), "MinimumReplicasAvailable".into()))
    );
    assert_eq!(
        condition(&d, "Progressing"),
        Some(("True".into(), "NewReplicaSetAvailable".into()))
    );
    let s = d.status.unwrap();
    assert_eq!((s.ready_replicas, s.available_replicas), (Some(3), Some(3)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_update_stays_within_max_surge_and_max_unavailable() {
    let (f, _kubelet) = fixture().await;
    f.create(deployment("web", 4, rolling(1, 1))).await;
    f.rolled_out("web").await;
    let watch = PodWatch::start(f.client.clone(), "default", "app=web", |_| None);
    // Let the watch catch up with the 4 pods before checking.
    let deadline = Instant::now() + PATIENCE;
    while watch.seen.lock().unwrap().pods.len() != 4 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    watch.arm();
    f.set_image("web", "v2").await;
    let d = f
        .until("web", "v2 rolled out", |d| {
            d.annotations()
                .get("deployment.kubernetes.io/revision")
                .map(String::as_str)
                == Some("2")
        })
        .await;
    let d = f.rolled_out(&d.name_any()).await;
    // Wait for the watch to see the end state too.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let settled = {
            let seen = watch.seen.lock().unwrap();
            seen.pods.len() == 4 && seen.pods.values().all(|p| image(p) == "v2")
        };
        if settled {
            break;
        }
        assert!(Instant::now() < deadline, "the watch never saw 4 v2 pods");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (max_pods, min_ready) = {
        let seen = watch.seen.lock().unwrap();
        (seen.max_pods, seen.min_ready)
    };
    assert!(
        max_pods <= 5,
        "{max_pods} pods at once: more than 4 + maxSurge 1"
    );
    assert!(
        min_ready.unwrap() >= 3,
        "{min_ready:?} ready at once: fewer than 4 - maxUnavailable 1"
    );
    let sets = f.sets_of(&d).await;
    assert_eq!(sets.len(), 2);
    assert_eq!((replicas(&sets[0]), revision(&sets[0])), (0, 1));
    assert_eq!((replicas(&sets[1]), revision(&sets[1])), (4, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recreate_removes_every_old_pod_before_making_a_new_one() {
    let (f, _kubelet) = fixture().await;
    f.create(deployment("web", 3, json!({"type": "Recreate"})))
        .await;
    f.rolled_out("web").await;
    let watch = PodWatch::start(f.client.clone(), "default", "app=web", |pods| {
        let images: std::collections::BTreeSet<String> = pods
            .values()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .map(image)
            .collect();
        (images.len() > 1).then(|| format!("old and new pods at once: {images:?}"))
    });
    watch.arm();
    f.set_image("web", "v2").await;
    f.until("web", "revision 2", |d| {
        d.annotations()
            .get("deployment.kubernetes.io/revision")
            .map(String::as_str)
            == Some("2")
    })
    .await;
    f.rolled_out("web").await;
    let seen = watch.seen.lock().unwrap();
    assert!(seen.violations.is_empty(), "{:?}", seen.violations);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_deployment_scales_but_rolls_out_only_when_resumed() {
    let (f, _kubelet) = fixture().await;
    let d = f.create(deployment("web", 2, rolling(1, 0))).await;
    f.rolled_out("web").await;
    f.patch("web", json!({"spec": {"paused": true}})).await;
    f.until("web", "paused condition", |d| {
        condition(d, "Progressing").is_some_and(|(s, r)| s == "Unknown" && r == "DeploymentPaused")
    })
    .await;
    f.set_image("web", "v2").await;
    f.patch("web", json!({"spec": {"replicas": 4}})).await;
    // The scale reaches the one ReplicaSet; no new one is made while paused.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let sets = f.sets_of(&d).await;
        if sets.len() == 1 && replicas(&sets[0]) == 4 {
            break;
        }
        assert!(
            sets.len() == 1,
            "a paused deployment rolled out: {} sets",
            sets.len()
        );
        assert!(
            Instant::now() < deadline,
            "the paused deployment never scaled"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    f.patch("web", json!({"spec": {"paused": false}})).await;
    f.until("web", "revision 2", |d| {
        d.annotations()
            .get("deployment.kubernetes.io/revision")
            .map(String::as_str)
            == Some("2")
    })
    .await;
    let d = f.rolled_out("web").await;
    let sets = f.sets_of(&d).await;
    assert_eq!(sets.iter().map(replicas).collect::<Vec<_>>(), [0, 4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_replica_sets_beyond_the_revision_history_limit_are_deleted() {
    let (f, _kubelet) = fixture().await;
    let mut d = deployment("web", 1, rolling(1, 0));
    d.spec.as_mut().unwrap().revision_history_limit = Some(1);
    f.create(d).await;
    for (i, img) in ["v2", "v3", "v4"].iter().enumerate() {
        f.rolled_out("web").await;
        f.set_image("web", img).await;
        let rev = (i + 2).to_string();
        f.until("web", "next revision", |d| {
            d.annotations().get("deployment.kubernetes.io/revision") == Some(&rev)
        })
        .await;
    }
    let d = f.rolled_out("web").await;
    // The current one and one old: revisions 3 and 4.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let revs: Vec<i64> = f.sets_of(&d).await.iter().map(revision).collect();
        if revs == [3, 4] {
            break;
        }
        assert!(Instant::now() < deadline, "revisions kept: {revs:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_stalled_past_its_deadline_reports_progress_deadline_exceeded() {
    let (f, _kubelet) = fixture().await;
    let mut d = deployment("web", 2, rolling(1, 0));
    d.spec.as_mut().unwrap().progress_deadline_seconds = Some(1);
    f.create(d).await;
    f.rolled_out("web").await;
    f.set_image("web", "stuck").await;
    let d = f
        .until("web", "ProgressDeadlineExceeded", |d| {
            condition(d, "Progressing")
                .is_some_and(|(s, r)| s == "False" && r == "ProgressDeadlineExceeded")
        })
        .await;
    let msg = d
        .status
        .unwrap()
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "Progressing")
        .unwrap()
        .message
        .unwrap();
    assert!(msg.ends_with("has timed out progressing."), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaling_mid_rollout_spreads_the_change_over_both_replica_sets() {
    let (f, _kubelet) = fixture().await;
    let d = f.create(deployment("web", 10, rolling(3, 2))).await;
    f.rolled_out("web").await;
    // The new pods never become ready: the rollout stops at old 8, new 5 (10 + 3 surge).
    f.set_image("web", "stuck").await;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let sizes: Vec<i32> = f.sets_of(&d).await.iter().map(replicas).collect();
        if sizes == [8, 5] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the stalled rollout settled at {sizes:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // 10 → 20: 23 allowed, the 10 added split 8:5 of 13 → 14 and 9, as upstream rounds.
    f.patch("web", json!({"spec": {"replicas": 20}})).await;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let sizes: Vec<i32> = f.sets_of(&d).await.iter().map(replicas).collect();
        if sizes == [14, 9] {
            break;
        }
        assert!(Instant::now() < deadline, "scaled mid-rollout to {sizes:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sets a ReplicaSet's status as its controller would: `available` of `replicas` ready.
async fn set_status(sets: &Api<ReplicaSet>, rs: &str, replicas: i32, available: i32) {
    sets.patch_status(
        rs,
        &PatchParams::default(),
        &Patch::Merge(
            json!({"status": {"replicas": replicas, "readyReplicas": available,
            "availableReplicas": available, "observedGeneration": 1}}),
        ),
    )
    .await
    .unwrap();
}

/// Found by `capstan jepsen --workload controllers --nemesis pause-leader` (seed 20078): a new
/// leader's first sync saw an old ReplicaSet whose status still counted the pods of a
/// scale-down its ReplicaSet controller had not carried out, and scaled the set back up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_replica_set_whose_status_lags_its_scale_down_is_never_scaled_back_up() {
    // Only the deployment controller: the test plays the ReplicaSet controller's status, which
    // it leaves behind on purpose.
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        "lag",
        &["--controllers".into(), "deployment".into()],
    );
    common::wait_api_ready(&server, PATIENCE).await;
    let client = server.kube().await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    deployments
        .create(&PostParams::default(), &deployment("lag", 8, rolling(2, 1)))
        .await
        .unwrap();
    let spec_of = |rs: &ReplicaSet| rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);
    let until_sets = |what: &'static str, want: fn(&[ReplicaSet]) -> bool| {
        let sets = sets.clone();
        async move {
            let deadline = Instant::now() + PATIENCE;
            loop {
                let all = sets.list(&ListParams::default()).await.unwrap().items;
                if want(&all) {
                    return all;
                }
                assert!(Instant::now() < deadline, "never: {what}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    let first = until_sets("the first ReplicaSet", |s| s.len() == 1).await;
    let old = first[0].name_any();
    set_status(&sets, &old, 8, 8).await;
    // A new image: a new set within the surge, and the old one scaled down by one.
    deployments
        .patch(
            "lag",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "v2"}]}}}})),
        )
        .await
        .unwrap();
    let two = until_sets("old set scaled down to 7", |s| {
        s.len() == 2
            && s.iter()
                .any(|r| r.spec.as_ref().and_then(|s| s.replicas) == Some(7))
    })
    .await;
    let new = two.iter().find(|r| r.name_any() != old).unwrap().name_any();
    // The new set's pods are ready, but the old set's status still shows 8 available.
    let new_size = spec_of(two.iter().find(|r| r.name_any() == new).unwrap());
    set_status(&sets, &new, new_size, new_size).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    // Every size the old set was given, from the deployment controller's events.
    let events: Vec<String> =
        Api::<k8s_openapi::api::core::v1::Event>::namespaced(client.clone(), "default")
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter_map(|e| e.message)
            .filter(|m| m.contains(&format!("replica set {old} ")))
            .collect();
    assert!(
        !events
            .iter()
            .any(|m| m.starts_with("Scaled up") && !m.ends_with("from 0 to 8")),
        "the old set was scaled back up: {events:?}"
    );
    // Once its status catches up, the rollout goes on.
    set_status(&sets, &old, 7, 7).await;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let rs = sets.get(&old).await.unwrap();
        if spec_of(&rs) < 7 {
            break;
        }
        assert!(Instant::now() < deadline, "the rollout stopped");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
