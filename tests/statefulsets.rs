//! The statefulset controller through a real `capstan server`: pods `<set>-<ordinal>` made one
//! at a time (OrderedReady) or all at once (Parallel), removed from the highest ordinal, claims
//! made from volumeClaimTemplates and mounted, the retention policy on scale-down, rolling
//! updates down to the partition, revisions and status, kubectl's rollout commands, and pods
//! replaced under their name. The test plays the kubelet (common::kubelet); claims stay Pending
//! (nothing binds them here). One rule per test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::kubelet::{is_ready, FakeKubelet, PodWatch};
use common::Server;
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::{Event, PersistentVolumeClaim, Pod};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
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

/// Which pods the kubelet lets run, by name; `*` lets every pod run.
type Gate = Arc<Mutex<HashSet<String>>>;

struct Fixture {
    _dir: tempfile::TempDir,
    server: Server,
    client: kube::Client,
    sets: Api<StatefulSet>,
    pods: Api<Pod>,
    claims: Api<PersistentVolumeClaim>,
    gate: Gate,
    _kubelet: FakeKubelet,
}

/// One replica; a kubelet running the pods the gate lets through (all, unless told otherwise).
async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::first(dir.path(), "s");
    common::wait_api_ready(&server, PATIENCE).await;
    let client = server.kube().await;
    let gate: Gate = Arc::new(Mutex::new(HashSet::from(["*".to_string()])));
    let g = gate.clone();
    let kubelet = FakeKubelet::start(client.clone(), move |p| {
        let g = g.lock().unwrap();
        g.contains("*") || g.contains(&p.name_any())
    });
    Fixture {
        sets: Api::namespaced(client.clone(), "default"),
        pods: Api::namespaced(client.clone(), "default"),
        claims: Api::namespaced(client.clone(), "default"),
        client,
        server,
        gate,
        _kubelet: kubelet,
        _dir: dir,
    }
}

fn set(replicas: i32, extra: Value) -> StatefulSet {
    let mut spec = json!({
        "replicas": replicas, "serviceName": "nginx",
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}},
                     "spec": {"containers": [{"name": "c", "image": "v1"}]}},
    });
    if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            s.insert(k.clone(), v.clone());
        }
    }
    serde_json::from_value(json!({"metadata": {"name": "web"}, "spec": spec})).unwrap()
}

fn www() -> Value {
    json!([{"metadata": {"name": "www"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}])
}

fn ordinal_of(name: &str) -> i32 {
    name.rsplit_once('-').unwrap().1.parse().unwrap()
}

impl Fixture {
    async fn create(&self, s: StatefulSet) -> StatefulSet {
        self.sets.create(&PostParams::default(), &s).await.unwrap()
    }

    async fn patch(&self, patch: Value) {
        self.sets
            .patch("web", &PatchParams::default(), &Patch::Merge(patch))
            .await
            .unwrap();
    }

    async fn set_image(&self, image: &str) {
        self.patch(
            json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}}),
        )
        .await;
    }

    fn hold(&self, names: &[&str]) {
        let mut g = self.gate.lock().unwrap();
        g.clear();
        g.extend(names.iter().map(|n| n.to_string()));
    }

    /// The live pods by name.
    async fn pods(&self) -> HashMap<String, Pod> {
        self.pods
            .list(&ListParams::default().labels("app=web"))
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .map(|p| (p.name_any(), p))
            .collect()
    }

    /// Waits until `pred` holds of the pods; returns them.
    async fn until_pods(
        &self,
        what: &str,
        pred: impl Fn(&HashMap<String, Pod>) -> bool,
    ) -> HashMap<String, Pod> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let pods = self.pods().await;
            if pred(&pods) {
                return pods;
            }
            assert!(
                Instant::now() < deadline,
                "never: {what}; pods: {:?}",
                pods.keys().collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the set satisfies `pred`; returns it.
    async fn until(&self, what: &str, pred: impl Fn(&StatefulSet) -> bool) -> StatefulSet {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let s = self.sets.get("web").await.unwrap();
            if pred(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "never: {what}; last: {:?}",
                s.status
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until every wanted pod is ready and updated, as `kubectl rollout status` judges.
    async fn rolled_out(&self) -> StatefulSet {
        self.until("rolled out", |s| {
            let st = s.status.clone().unwrap_or_default();
            let want = s.spec.as_ref().unwrap().replicas.unwrap();
            st.observed_generation >= s.metadata.generation
                && st.replicas == want
                && st.ready_replicas.unwrap_or(0) == want
                && st.updated_replicas.unwrap_or(0) == want
                && st.current_revision == st.update_revision
        })
        .await
    }

    async fn claim_names(&self) -> HashSet<String> {
        self.claims
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .iter()
            .filter(|c| c.metadata.deletion_timestamp.is_none())
            .map(|c| c.name_any())
            .collect()
    }

    async fn until_claims(&self, what: &str, pred: impl Fn(&HashSet<String>) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let names = self.claim_names().await;
            if pred(&names) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "never: {what}; claims: {names:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn revisions(&self) -> Vec<ControllerRevision> {
        let api: Api<ControllerRevision> = Api::namespaced(self.client.clone(), "default");
        let mut v = api
            .list(&ListParams::default().labels("app=web"))
            .await
            .unwrap()
            .items;
        v.sort_by_key(|r| r.revision);
        v
    }

    async fn event_messages(&self, reason: &str) -> Vec<String> {
        let api: Api<Event> = Api::namespaced(self.client.clone(), "default");
        api.list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|e| e.reason.as_deref() == Some(reason))
            .filter_map(|e| e.message)
            .collect()
    }

    fn kubectl(&self, args: &[&str]) -> (bool, String) {
        let bin = ["/usr/lib/google-cloud-sdk/bin/kubectl.1.33", "kubectl"]
            .into_iter()
            .find(|b| !b.contains('/') || std::path::Path::new(b).exists())
            .unwrap();
        let out = std::process::Command::new(bin)
            .arg("--kubeconfig")
            .arg(self.server.kubeconfig())
            .args(args)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }
}

/// A watch failing the test if a pod of ordinal n ever exists (not terminating) while a pod of
/// a lower ordinal is missing or not ready.
fn ordered_watch(f: &Fixture) -> PodWatch {
    PodWatch::start(f.client.clone(), "default", "app=web", |pods| {
        let live: Vec<&Pod> = pods
            .values()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .collect();
        let top = live.iter().map(|p| ordinal_of(&p.name_any())).max()?;
        (0..top)
            .find(|o| {
                !live
                    .iter()
                    .any(|p| ordinal_of(&p.name_any()) == *o && is_ready(p))
            })
            .map(|o| format!("web-{top} exists while web-{o} is not ready"))
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn ordered_ready_creates_each_pod_only_after_the_previous_is_ready() {
    let f = fixture().await;
    f.hold(&[]);
    let watch = ordered_watch(&f);
    watch.arm();
    f.create(set(3, json!({}))).await;
    // web-0 is made and, not being ready, holds back web-1.
    let pods = f
        .until_pods("web-0 made", |p| p.contains_key("web-0"))
        .await;
    assert_eq!(pods.len(), 1, "{:?}", pods.keys());
    f.hold(&["web-0"]);
    f.until_pods("web-1 made", |p| p.contains_key("web-1"))
        .await;
    f.hold(&["*"]);
    f.rolled_out().await;
    assert_eq!(
        f.pods().await.keys().cloned().collect::<HashSet<_>>(),
        HashSet::from(["web-0".into(), "web-1".into(), "web-2".into()])
    );
    let seen = watch.seen.lock().unwrap();
    assert!(seen.violations.is_empty(), "{:?}", seen.violations);
}

#[tokio::test(flavor = "multi_thread")]
async fn ordered_ready_waits_for_min_ready_seconds_before_the_next_pod() {
    let f = fixture().await;
    f.create(set(2, json!({"minReadySeconds": 2}))).await;
    f.until("2 available", |s| {
        s.status.as_ref().unwrap().available_replicas == Some(2)
    })
    .await;
    let pods = f.pods().await;
    let ready_at = pods["web-0"]
        .status
        .as_ref()
        .unwrap()
        .conditions
        .as_ref()
        .unwrap()
        .iter()
        .find(|c| c.type_ == "Ready")
        .unwrap()
        .last_transition_time
        .clone()
        .unwrap()
        .0;
    let made_at = pods["web-1"].metadata.creation_timestamp.clone().unwrap().0;
    assert!(
        made_at.duration_since(ready_at).as_secs() >= 2,
        "web-1 made at {made_at}, web-0 ready at {ready_at}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn parallel_creates_every_pod_without_waiting_for_readiness() {
    let f = fixture().await;
    f.hold(&[]);
    f.create(set(3, json!({"podManagementPolicy": "Parallel"})))
        .await;
    let pods = f.until_pods("3 pods made", |p| p.len() == 3).await;
    assert!(pods.values().all(|p| !is_ready(p)));
}

#[tokio::test(flavor = "multi_thread")]
async fn scale_down_deletes_from_the_highest_ordinal_one_at_a_time() {
    let f = fixture().await;
    f.create(set(3, json!({}))).await;
    f.rolled_out().await;
    // Never is a lower ordinal gone while a higher one is still there.
    let watch = PodWatch::start(f.client.clone(), "default", "app=web", |pods| {
        let live: HashSet<i32> = pods
            .values()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .map(|p| ordinal_of(&p.name_any()))
            .collect();
        let top = *live.iter().max()?;
        (0..top)
            .find(|o| !live.contains(o))
            .map(|o| format!("web-{o} gone while web-{top} is there"))
    });
    watch.arm();
    f.patch(json!({"spec": {"replicas": 1}})).await;
    f.until_pods("scaled to 1", |p| p.len() == 1 && p.contains_key("web-0"))
        .await;
    f.until("status says 1", |s| {
        s.status.as_ref().unwrap().replicas == 1
    })
    .await;
    let violations = watch.seen.lock().unwrap().violations.clone();
    assert!(violations.is_empty(), "{violations:?}");
    let deleted = f.event_messages("SuccessfulDelete").await;
    assert!(
        deleted.contains(&"delete Pod web-2 in StatefulSet web successful".to_string()),
        "{deleted:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn claim_templates_make_claims_per_ordinal_mounted_by_their_pods() {
    let f = fixture().await;
    f.create(set(2, json!({"volumeClaimTemplates": www()})))
        .await;
    let pods = f.rolled_out().await;
    assert_eq!(pods.status.unwrap().ready_replicas, Some(2));
    let claims = f.claim_names().await;
    assert_eq!(
        claims,
        HashSet::from(["www-web-0".into(), "www-web-1".into()])
    );
    let claim = f.claims.get("www-web-1").await.unwrap();
    assert_eq!(claim.labels().get("app").map(String::as_str), Some("web"));
    for (name, pod) in f.pods().await {
        let vols = pod.spec.unwrap().volumes.unwrap();
        let www = vols.iter().find(|v| v.name == "www").unwrap();
        assert_eq!(
            www.persistent_volume_claim.as_ref().unwrap().claim_name,
            format!("www-{name}")
        );
    }
    let made = f.event_messages("SuccessfulCreate").await;
    assert!(
        made.contains(&"create Claim www-web-0 Pod web-0 in StatefulSet web success".to_string()),
        "{made:?}"
    );
    assert!(made.contains(&"create Pod web-0 in StatefulSet web successful".to_string()));
}

#[tokio::test(flavor = "multi_thread")]
async fn when_scaled_delete_removes_the_claims_of_scaled_down_pods() {
    let f = fixture().await;
    f.create(set(
        2,
        json!({"volumeClaimTemplates": www(),
               "persistentVolumeClaimRetentionPolicy": {"whenScaled": "Delete", "whenDeleted": "Retain"}}),
    ))
    .await;
    f.rolled_out().await;
    f.patch(json!({"spec": {"replicas": 1}})).await;
    f.until_claims("www-web-1 deleted", |c| {
        c.contains("www-web-0") && !c.contains("www-web-1")
    })
    .await;
    // The kept claim has no owner that would take it away.
    let kept = f.claims.get("www-web-0").await.unwrap();
    assert!(kept.owner_references().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn when_scaled_retain_keeps_the_claims_of_scaled_down_pods() {
    let f = fixture().await;
    f.create(set(2, json!({"volumeClaimTemplates": www()})))
        .await;
    f.rolled_out().await;
    f.patch(json!({"spec": {"replicas": 1}})).await;
    f.until_pods("scaled to 1", |p| p.len() == 1).await;
    f.rolled_out().await;
    let kept = f.claims.get("www-web-1").await.unwrap();
    assert!(kept.metadata.deletion_timestamp.is_none());
    assert!(kept.owner_references().is_empty(), "{kept:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn when_deleted_delete_makes_the_set_own_its_claims() {
    let f = fixture().await;
    let s = f
        .create(set(
            1,
            json!({"volumeClaimTemplates": www(),
                   "persistentVolumeClaimRetentionPolicy": {"whenScaled": "Retain", "whenDeleted": "Delete"}}),
        ))
        .await;
    f.rolled_out().await;
    let claim = f.claims.get("www-web-0").await.unwrap();
    let owner = &claim.owner_references()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
        ("StatefulSet", s.uid().unwrap().as_str(), Some(true))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rolling_update_with_a_partition_updates_only_ordinals_at_or_above_it_highest_first() {
    let f = fixture().await;
    f.create(set(
        3,
        json!({"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}}),
    ))
    .await;
    let before = f.rolled_out().await.status.unwrap();
    // Never is a lower ordinal on v2 while a higher one (not being replaced) is not.
    let watch = PodWatch::start(f.client.clone(), "default", "app=web", |pods| {
        let on_v2: HashSet<i32> = pods
            .values()
            .filter(|p| image(p) == "v2")
            .map(|p| ordinal_of(&p.name_any()))
            .collect();
        let low = *on_v2.iter().min()?;
        (low + 1..3)
            .find(|o| {
                pods.get(&format!("web-{o}"))
                    .is_some_and(|p| image(p) != "v2" && p.metadata.deletion_timestamp.is_none())
            })
            .map(|o| format!("web-{low} on v2 before web-{o}"))
    });
    watch.arm();
    f.set_image("v2").await;
    let s = f
        .until("web-1 and web-2 updated", |s| {
            let st = s.status.clone().unwrap_or_default();
            st.updated_replicas == Some(2) && st.ready_replicas == Some(3)
        })
        .await;
    let st = s.status.unwrap();
    assert_eq!(st.current_revision, before.current_revision);
    assert_ne!(st.update_revision, st.current_revision);
    assert_eq!(st.current_replicas, Some(1));
    let pods = f.pods().await;
    assert_eq!(image(&pods["web-0"]), "v1");
    assert_eq!(image(&pods["web-1"]), "v2");
    assert_eq!(image(&pods["web-2"]), "v2");
    // Lowering the partition finishes the rollout.
    f.patch(json!({"spec": {"updateStrategy": {"rollingUpdate": {"partition": 0}}}}))
        .await;
    let done = f.rolled_out().await.status.unwrap();
    assert_eq!(done.current_revision, st.update_revision);
    assert!(f.pods().await.values().all(|p| image(p) == "v2"));
    let seen = watch.seen.lock().unwrap();
    assert!(seen.violations.is_empty(), "{:?}", seen.violations);
}

#[tokio::test(flavor = "multi_thread")]
async fn on_delete_leaves_pods_until_they_are_deleted() {
    let f = fixture().await;
    f.create(set(2, json!({"updateStrategy": {"type": "OnDelete"}})))
        .await;
    f.until("2 ready", |s| {
        s.status.as_ref().unwrap().ready_replicas == Some(2)
    })
    .await;
    f.set_image("v2").await;
    f.until("update revision made", |s| {
        let st = s.status.clone().unwrap_or_default();
        st.update_revision != st.current_revision && st.observed_generation == s.metadata.generation
    })
    .await;
    assert!(f.pods().await.values().all(|p| image(p) == "v1"));
    f.pods
        .delete("web-1", &DeleteParams::default())
        .await
        .unwrap();
    let pods = f
        .until_pods("web-1 back on v2", |p| {
            p.get("web-1").is_some_and(|p| image(p) == "v2")
        })
        .await;
    assert_eq!(image(&pods["web-0"]), "v1");
}

#[tokio::test(flavor = "multi_thread")]
async fn status_and_revisions_record_the_template_history() {
    let f = fixture().await;
    let s = f.create(set(2, json!({}))).await;
    let done = f.rolled_out().await;
    let st = done.status.unwrap();
    assert_eq!(st.observed_generation, done.metadata.generation);
    assert_eq!(
        (
            st.replicas,
            st.ready_replicas,
            st.available_replicas,
            st.current_replicas,
            st.updated_replicas,
            st.collision_count
        ),
        (2, Some(2), Some(2), Some(2), Some(2), Some(0))
    );
    let revs = f.revisions().await;
    assert_eq!(revs.len(), 1);
    let first = &revs[0];
    let hash = first.labels()["controller.kubernetes.io/hash"].clone();
    assert_eq!(first.name_any(), format!("web-{hash}"));
    assert_eq!(
        st.current_revision.as_deref(),
        Some(first.name_any().as_str())
    );
    assert_eq!(first.revision, 1);
    assert_eq!(first.owner_references()[0].uid, s.uid().unwrap());
    let data = &first.data.as_ref().unwrap().0;
    assert_eq!(data["spec"]["template"]["$patch"], "replace");
    assert_eq!(
        data["spec"]["template"]["spec"]["containers"][0]["image"],
        "v1"
    );
    for p in f.pods().await.values() {
        assert_eq!(p.labels()["controller-revision-hash"], first.name_any());
        assert_eq!(
            p.labels()["statefulset.kubernetes.io/pod-name"],
            p.name_any()
        );
        let spec = p.spec.as_ref().unwrap();
        assert_eq!(spec.hostname.as_deref(), Some(p.name_any().as_str()));
        assert_eq!(spec.subdomain.as_deref(), Some("nginx"));
    }
    // A new template is revision 2; going back to the first makes it revision 3, not a copy.
    f.set_image("v2").await;
    f.rolled_out().await;
    f.set_image("v1").await;
    let back = f.rolled_out().await.status.unwrap();
    assert_eq!(
        back.current_revision.as_deref(),
        Some(first.name_any().as_str())
    );
    let revs = f.revisions().await;
    assert_eq!(revs.len(), 2);
    assert_eq!(revs.last().unwrap().name_any(), first.name_any());
    assert_eq!(revs.last().unwrap().revision, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn history_is_trimmed_to_the_revision_history_limit() {
    let f = fixture().await;
    f.create(set(1, json!({"revisionHistoryLimit": 1}))).await;
    for image in ["v2", "v3", "v4"] {
        f.rolled_out().await;
        f.set_image(image).await;
    }
    let done = f.rolled_out().await.status.unwrap();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let revs = f.revisions().await;
        // The live revision and one more.
        if revs.len() == 2 {
            assert_eq!(revs[1].name_any(), done.update_revision.clone().unwrap());
            assert_eq!(revs[0].revision, 3);
            break;
        }
        assert!(Instant::now() < deadline, "{} revisions", revs.len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_pod_comes_back_under_its_name() {
    let f = fixture().await;
    f.create(set(2, json!({}))).await;
    f.rolled_out().await;
    let old = f.pods.get("web-1").await.unwrap();
    f.pods
        .delete("web-1", &DeleteParams::default())
        .await
        .unwrap();
    f.until_pods("web-1 back and ready", |p| {
        p.get("web-1")
            .is_some_and(|p| p.uid() != old.uid() && is_ready(p))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_pod_is_replaced_under_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::first(dir.path(), "s");
    common::wait_api_ready(&server, PATIENCE).await;
    let client = server.kube().await;
    // The first web-0 fails; every later pod runs.
    let failed: Arc<Mutex<Option<String>>> = Arc::default();
    let fl = failed.clone();
    let _kubelet = FakeKubelet::phases(client.clone(), move |p| {
        let mut f = fl.lock().unwrap();
        match f.as_ref() {
            None => {
                *f = p.uid();
                Some("Failed")
            }
            Some(uid) if Some(uid) == p.uid().as_ref() => Some("Failed"),
            Some(_) => Some("Running"),
        }
    });
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    sets.create(&PostParams::default(), &set(1, json!({})))
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(p) = pods.get_opt("web-0").await.unwrap() {
            let first = failed.lock().unwrap().clone();
            if first.is_some() && p.uid() != first && is_ready(&p) {
                break;
            }
        }
        assert!(Instant::now() < deadline, "web-0 never replaced");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_orphan_pod_the_selector_matches_is_adopted() {
    let f = fixture().await;
    let orphan: Pod = serde_json::from_value(json!({
        "metadata": {"name": "web-0", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "v1"}]}}))
    .unwrap();
    let made = f
        .pods
        .create(&PostParams::default(), &orphan)
        .await
        .unwrap();
    // OnDelete: the adopted pod, made from no revision, is not rolled over afterwards.
    let s = f
        .create(set(1, json!({"updateStrategy": {"type": "OnDelete"}})))
        .await;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let p = f.pods.get("web-0").await.unwrap();
        assert_eq!(p.uid(), made.uid(), "the orphan was replaced, not adopted");
        let owner = p
            .owner_references()
            .iter()
            .find(|o| o.controller == Some(true))
            .map(|o| o.uid.clone());
        // Adopted, then given its identity label.
        if owner.is_some()
            && p.labels()
                .contains_key("statefulset.kubernetes.io/pod-name")
        {
            assert_eq!(owner, s.uid());
            break;
        }
        assert!(Instant::now() < deadline, "never adopted: {:?}", p.metadata);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_rollout_status_history_and_undo_work_on_a_statefulset() {
    let f = fixture().await;
    f.create(set(2, json!({}))).await;
    f.rolled_out().await;
    let (ok, out) = f.kubectl(&["rollout", "status", "statefulset/web", "--timeout=60s"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("partitioned roll out complete") || out.contains("rolling update complete"),
        "{out}"
    );
    f.set_image("v2").await;
    f.rolled_out().await;
    let (ok, out) = f.kubectl(&["rollout", "history", "statefulset/web"]);
    assert!(ok, "{out}");
    assert!(out.contains('1') && out.contains('2'), "{out}");
    let (ok, out) = f.kubectl(&["rollout", "undo", "statefulset/web"]);
    assert!(ok, "{out}");
    f.until_pods("back on v1", |p| {
        p.len() == 2 && p.values().all(|p| image(p) == "v1" && is_ready(p))
    })
    .await;
    let (ok, out) = f.kubectl(&["rollout", "status", "statefulset/web", "--timeout=60s"]);
    assert!(ok, "{out}");
}
