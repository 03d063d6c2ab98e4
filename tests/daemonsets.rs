//! The daemonset controller through a real `capstan server` (running only that controller):
//! one pod per eligible node, pinned to it by a required `matchFields metadata.name` affinity
//! for the scheduler to honour; nodeSelector and taints decide eligibility; nodes added,
//! relabelled or deleted are followed; the default daemon tolerations; rolling updates within
//! maxUnavailable, OnDelete, and the status counts. The test creates Node objects itself and
//! plays the scheduler (binding pods through `pods/binding`) and the kubelet (pods Running and
//! Ready, terminating pods removed), as kwok does. One rule per test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use common::kubelet::{is_ready, FakeKubelet, PodWatch};
use common::Server;
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::{json, Value};

/// Generous: a guard against a controller that never acts, not a speed assertion.
const PATIENCE: Duration = Duration::from_secs(90);

/// The node a daemon pod's required `matchFields metadata.name In` term names.
fn affinity_node(p: &Pod) -> Option<String> {
    let v = serde_json::to_value(p.spec.as_ref()?.affinity.as_ref()?).ok()?;
    let term = &v["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        ["nodeSelectorTerms"][0];
    let req = &term["matchFields"][0];
    (req["key"] == "metadata.name" && req["operator"] == "In")
        .then(|| req["values"][0].as_str().map(String::from))
        .flatten()
}

fn bound_node(p: &Pod) -> Option<String> {
    p.spec.as_ref()?.node_name.clone().filter(|n| !n.is_empty())
}

fn image(p: &Pod) -> String {
    p.spec.as_ref().unwrap().containers[0]
        .image
        .clone()
        .unwrap_or_default()
}

/// Plays the scheduler and the kubelet's deletions while it lives: binds each pending pod
/// `binds` accepts to the node its affinity names, and removes pods whose graceful deletion
/// began (a kubelet stopping them at once).
struct Kwok(tokio::task::JoinHandle<()>);

impl Drop for Kwok {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Kwok {
    fn start(client: kube::Client, binds: impl Fn(&Pod) -> bool + Send + Sync + 'static) -> Kwok {
        Kwok(tokio::spawn(async move {
            let all: Api<Pod> = Api::all(client.clone());
            loop {
                if let Ok(pods) = all.list(&ListParams::default()).await {
                    for p in pods.items {
                        let ns: Api<Pod> =
                            Api::namespaced(client.clone(), &p.namespace().unwrap_or_default());
                        if p.metadata.deletion_timestamp.is_some() {
                            let _ = ns
                                .delete(&p.name_any(), &DeleteParams::default().grace_period(0))
                                .await;
                            continue;
                        }
                        let Some(node) = affinity_node(&p) else {
                            continue;
                        };
                        if bound_node(&p).is_some() || !binds(&p) {
                            continue;
                        }
                        let binding = json!({"apiVersion": "v1", "kind": "Binding",
                            "metadata": {"name": p.name_any()},
                            "target": {"apiVersion": "v1", "kind": "Node", "name": node}});
                        let _ = ns
                            .create_subresource::<_, Value>(
                                "binding",
                                &p.name_any(),
                                &PostParams::default(),
                                &binding,
                            )
                            .await;
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }))
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    _server: Server,
    client: kube::Client,
    sets: Api<DaemonSet>,
    pods: Api<Pod>,
    nodes: Api<Node>,
}

/// One replica running only the daemonset controller (and no scheduler: the tests see the
/// pods as the controller made them).
async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        "ds",
        &[
            "--controllers".into(),
            "daemonset".into(),
            "--disable-scheduler".into(),
        ],
    );
    common::wait_api_ready(&server, PATIENCE).await;
    let client = server.kube().await;
    Fixture {
        sets: Api::namespaced(client.clone(), "default"),
        pods: Api::namespaced(client.clone(), "default"),
        nodes: Api::all(client.clone()),
        client,
        _server: server,
        _dir: dir,
    }
}

/// A scheduler binding every pod and a kubelet running every bound one.
fn cluster(client: &kube::Client) -> (Kwok, FakeKubelet) {
    (
        Kwok::start(client.clone(), |_| true),
        FakeKubelet::start(client.clone(), |p| bound_node(p).is_some()),
    )
}

fn daemonset(name: &str, pod_spec: Value, strategy: Value) -> DaemonSet {
    let mut spec = json!({"containers": [{"name": "c", "image": "v1"}]});
    for (k, v) in pod_spec.as_object().unwrap() {
        spec[k] = v.clone();
    }
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": {"app": name}},
                 "updateStrategy": strategy,
                 "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}}))
    .unwrap()
}

impl Fixture {
    /// A Ready node with `labels` and `taints`, as kwok registers one.
    async fn node(&self, name: &str, labels: Value, taints: Value) {
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": labels},
            "spec": {"taints": taints}}))
        .unwrap();
        self.nodes
            .create(&PostParams::default(), &node)
            .await
            .unwrap();
        let now = k8s_openapi::jiff::Timestamp::now().to_string();
        let status = json!({"status": {
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                "lastHeartbeatTime": now, "lastTransitionTime": now}],
            "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
            "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}}});
        self.nodes
            .patch_status(name, &PatchParams::default(), &Patch::Merge(status))
            .await
            .unwrap();
    }

    async fn create(&self, ds: DaemonSet) -> DaemonSet {
        self.sets.create(&PostParams::default(), &ds).await.unwrap()
    }

    /// The DaemonSet's live (not terminating) pods.
    async fn live_pods(&self, name: &str) -> Vec<Pod> {
        self.pods
            .list(&ListParams::default().labels(&format!("app={name}")))
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .collect()
    }

    /// Waits until the live pods satisfy `pred`; returns them.
    async fn pods_until(&self, name: &str, what: &str, pred: impl Fn(&[Pod]) -> bool) -> Vec<Pod> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let pods = self.live_pods(name).await;
            if pred(&pods) {
                return pods;
            }
            assert!(
                Instant::now() < deadline,
                "never: {what}; pods: {:?}",
                pods.iter()
                    .map(|p| (p.name_any(), affinity_node(p), bound_node(p), image(p)))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the DaemonSet satisfies `pred`; returns it.
    async fn set_until(
        &self,
        name: &str,
        what: &str,
        pred: impl Fn(&DaemonSet) -> bool,
    ) -> DaemonSet {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let ds = self.sets.get(name).await.unwrap();
            if pred(&ds) {
                return ds;
            }
            assert!(
                Instant::now() < deadline,
                "never: {what}; last: {:?}",
                ds.status
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn set_image(&self, name: &str, image: &str) {
        let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}});
        self.sets
            .patch(name, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .unwrap();
    }
}

/// The nodes the pods are for, by their affinity (each once).
fn targets(pods: &[Pod]) -> BTreeSet<String> {
    pods.iter().filter_map(affinity_node).collect()
}

fn set_of(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// Whether the pods are exactly one for each of `nodes`.
fn one_each(pods: &[Pod], nodes: &[&str]) -> bool {
    pods.len() == nodes.len() && targets(pods) == set_of(nodes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_pod_per_node_placed_by_match_fields_affinity_not_node_name() {
    let f = fixture().await;
    for n in ["n1", "n2", "n3"] {
        f.node(n, json!({}), json!([])).await;
    }
    // No scheduler yet: the pods must name their node only through the affinity.
    f.create(daemonset("agent", json!({}), json!({}))).await;
    let pods = f
        .pods_until("agent", "a pod for each node", |p| {
            one_each(p, &["n1", "n2", "n3"])
        })
        .await;
    for p in &pods {
        assert_eq!(
            bound_node(p),
            None,
            "the controller set nodeName on {}",
            p.name_any()
        );
        let v = serde_json::to_value(p.spec.as_ref().unwrap().affinity.as_ref().unwrap()).unwrap();
        assert_eq!(
            v["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
                ["nodeSelectorTerms"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert!(p.name_any().starts_with("agent-"));
        assert!(p.labels().contains_key("controller-revision-hash"));
    }
    // Once the scheduler binds them, the count stays one per node.
    let (_kwok, _kubelet) = cluster(&f.client);
    let pods = f
        .pods_until("agent", "every pod bound to its node", |p| {
            one_each(p, &["n1", "n2", "n3"])
                && p.iter()
                    .all(|p| bound_node(p).is_some() && bound_node(p) == affinity_node(p))
        })
        .await;
    assert_eq!(pods.len(), 3);
    f.set_until("agent", "3 ready", |d| {
        d.status.as_ref().is_some_and(|s| s.number_ready == 3)
    })
    .await;
    assert_eq!(f.live_pods("agent").await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_selector_picks_the_nodes_and_follows_their_labels() {
    let f = fixture().await;
    let _c = cluster(&f.client);
    f.node("web1", json!({"role": "web"}), json!([])).await;
    f.node("db1", json!({"role": "db"}), json!([])).await;
    f.create(daemonset(
        "web",
        json!({"nodeSelector": {"role": "web"}}),
        json!({}),
    ))
    .await;
    f.pods_until("web", "a pod on web1 only", |p| one_each(p, &["web1"]))
        .await;
    f.set_until("web", "desired 1", |d| {
        d.status
            .as_ref()
            .is_some_and(|s| s.desired_number_scheduled == 1 && s.current_number_scheduled == 1)
    })
    .await;
    // Relabelled to match, db1 gets a pod; web1 relabelled away loses its own.
    f.nodes
        .patch(
            "db1",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"role": "web"}}})),
        )
        .await
        .unwrap();
    f.pods_until("web", "pods on both", |p| one_each(p, &["web1", "db1"]))
        .await;
    f.nodes
        .patch(
            "web1",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"role": "db"}}})),
        )
        .await
        .unwrap();
    f.pods_until("web", "a pod on db1 only", |p| one_each(p, &["db1"]))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tainted_node_gets_no_pod_unless_tolerated() {
    let f = fixture().await;
    let _c = cluster(&f.client);
    f.node("plain", json!({}), json!([])).await;
    f.node(
        "gpu",
        json!({}),
        json!([{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]),
    )
    .await;
    f.create(daemonset("plain", json!({}), json!({}))).await;
    f.create(daemonset(
        "tolerant",
        json!({"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]}),
        json!({}),
    ))
    .await;
    f.pods_until("tolerant", "pods on both nodes", |p| {
        one_each(p, &["plain", "gpu"])
    })
    .await;
    f.set_until("plain", "desired 1 and scheduled", |d| {
        d.status
            .as_ref()
            .is_some_and(|s| s.desired_number_scheduled == 1 && s.current_number_scheduled == 1)
    })
    .await;
    assert!(one_each(&f.live_pods("plain").await, &["plain"]));
    // A NoExecute taint evicts even the pod already there.
    f.nodes
        .patch(
            "plain",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"taints": [
            {"key": "dedicated", "value": "gpu", "effect": "NoExecute"}]}})),
        )
        .await
        .unwrap();
    f.pods_until("plain", "no pods left", |p| p.is_empty())
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_added_later_gets_a_pod() {
    let f = fixture().await;
    let _c = cluster(&f.client);
    f.node("first", json!({}), json!([])).await;
    f.create(daemonset("agent", json!({}), json!({}))).await;
    f.pods_until("agent", "a pod on first", |p| one_each(p, &["first"]))
        .await;
    f.node("second", json!({}), json!([])).await;
    f.pods_until("agent", "a pod on each", |p| {
        one_each(p, &["first", "second"])
    })
    .await;
    f.set_until("agent", "desired 2", |d| {
        d.status
            .as_ref()
            .is_some_and(|s| s.desired_number_scheduled == 2 && s.number_ready == 2)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_node_loses_its_unscheduled_pod() {
    let f = fixture().await;
    // The scheduler has not got to the pod for `doomed` when the node goes.
    let _kwok = Kwok::start(f.client.clone(), |p| {
        affinity_node(p).as_deref() != Some("doomed")
    });
    f.node("stays", json!({}), json!([])).await;
    f.node("doomed", json!({}), json!([])).await;
    f.create(daemonset("agent", json!({}), json!({}))).await;
    f.pods_until("agent", "a pod on each", |p| {
        one_each(p, &["stays", "doomed"])
    })
    .await;
    f.nodes
        .delete("doomed", &DeleteParams::default())
        .await
        .unwrap();
    f.pods_until("agent", "the pod for doomed deleted", |p| {
        one_each(p, &["stays"])
    })
    .await;
    f.set_until("agent", "desired 1", |d| {
        d.status
            .as_ref()
            .is_some_and(|s| s.desired_number_scheduled == 1 && s.current_number_scheduled == 1)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_pods_carry_the_default_tolerations() {
    let f = fixture().await;
    f.node("n", json!({}), json!([])).await;
    f.create(daemonset(
        "net",
        json!({"hostNetwork": true, "tolerations": [
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5},
            {"key": "mine", "operator": "Exists"}]}),
        json!({}),
    ))
    .await;
    let pods = f.pods_until("net", "a pod", |p| p.len() == 1).await;
    let tolerations: Vec<Value> = pods[0]
        .spec
        .as_ref()
        .unwrap()
        .tolerations
        .as_ref()
        .unwrap()
        .iter()
        .map(|t| serde_json::to_value(t).unwrap())
        .collect();
    let expect =
        |key: &str, effect: &str| json!({"key": key, "operator": "Exists", "effect": effect});
    let want = [
        expect("node.kubernetes.io/not-ready", "NoExecute"),
        json!({"key": "mine", "operator": "Exists"}),
        expect("node.kubernetes.io/unreachable", "NoExecute"),
        expect("node.kubernetes.io/disk-pressure", "NoSchedule"),
        expect("node.kubernetes.io/memory-pressure", "NoSchedule"),
        expect("node.kubernetes.io/pid-pressure", "NoSchedule"),
        expect("node.kubernetes.io/unschedulable", "NoSchedule"),
        expect("node.kubernetes.io/network-unavailable", "NoSchedule"),
    ];
    assert_eq!(tolerations, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_update_replaces_pods_node_by_node_within_max_unavailable() {
    let f = fixture().await;
    let _c = cluster(&f.client);
    let nodes = ["r1", "r2", "r3", "r4"];
    for n in nodes {
        f.node(n, json!({}), json!([])).await;
    }
    let strategy = json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}});
    f.create(daemonset("roll", json!({}), strategy)).await;
    f.set_until("roll", "4 ready", |d| {
        d.status
            .as_ref()
            .is_some_and(|s| s.number_ready == 4 && s.number_available == Some(4))
    })
    .await;
    // At no moment may more than one node lack a ready, live pod.
    let watch = PodWatch::start(
        f.client.clone(),
        "default",
        "app=roll",
        move |pods: &HashMap<String, Pod>| {
            let covered: BTreeSet<String> = pods
                .values()
                .filter(|p| p.metadata.deletion_timestamp.is_none() && is_ready(p))
                .filter_map(affinity_node)
                .collect();
            (covered.len() < nodes.len() - 1).then(|| format!("only {covered:?} covered"))
        },
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    watch.arm();
    f.set_image("roll", "v2").await;
    f.pods_until("roll", "v2 everywhere", |p| {
        one_each(p, &nodes) && p.iter().all(|p| image(p) == "v2" && is_ready(p))
    })
    .await;
    let ds = f
        .set_until("roll", "updated 4", |d| {
            d.status.as_ref().is_some_and(|s| {
                s.updated_number_scheduled == Some(4)
                    && s.number_available == Some(4)
                    && s.observed_generation == d.metadata.generation
            })
        })
        .await;
    {
        let seen = watch.seen.lock().unwrap();
        assert!(seen.violations.is_empty(), "{:?}", seen.violations);
        // The watch saw the rollout (at least three live pods at some moment once armed).
        assert!(seen.max_pods >= nodes.len() - 1, "{}", seen.max_pods);
    }
    // The history has both templates; the current revision is 2 and its hash is on the pods.
    let revs: Vec<ControllerRevision> =
        Api::<ControllerRevision>::namespaced(f.client.clone(), "default")
            .list(&ListParams::default().labels("app=roll"))
            .await
            .unwrap()
            .items;
    let by_number: BTreeMap<i64, &ControllerRevision> =
        revs.iter().map(|r| (r.revision, r)).collect();
    assert_eq!(by_number.keys().copied().collect::<Vec<_>>(), [1, 2]);
    let current = by_number[&2];
    assert_eq!(
        current.data.as_ref().unwrap().0["spec"]["template"]["$patch"],
        "replace"
    );
    assert_eq!(
        current.data.as_ref().unwrap().0["spec"]["template"]["spec"]["containers"][0]["image"],
        "v2"
    );
    let hash = current.labels()["controller-revision-hash"].clone();
    assert_eq!(current.name_any(), format!("roll-{hash}"));
    assert_eq!(current.owner_references()[0].uid, ds.uid().unwrap());
    assert!(f
        .live_pods("roll")
        .await
        .iter()
        .all(|p| p.labels()["controller-revision-hash"] == hash));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_delete_replaces_only_pods_deleted_by_hand() {
    let f = fixture().await;
    let _c = cluster(&f.client);
    for n in ["o1", "o2"] {
        f.node(n, json!({}), json!([])).await;
    }
    f.create(daemonset("od", json!({}), json!({"type": "OnDelete"})))
        .await;
    f.set_until("od", "2 ready", |d| {
        d.status.as_ref().is_some_and(|s| s.number_ready == 2)
    })
    .await;
    f.set_image("od", "v2").await;
    // The controller has seen the new template (its revision exists, the generation observed)...
    let ds = f
        .set_until("od", "generation 2 observed", |d| {
            d.status.as_ref().and_then(|s| s.observed_generation) == Some(2)
        })
        .await;
    assert_eq!(ds.status.as_ref().unwrap().updated_number_scheduled, None);
    // ...and left the pods alone.
    let pods = f.live_pods("od").await;
    assert!(pods.iter().all(|p| image(p) == "v1"), "{pods:?}");
    let victim = pods
        .iter()
        .find(|p| affinity_node(p).as_deref() == Some("o1"))
        .unwrap();
    f.pods
        .delete(&victim.name_any(), &DeleteParams::default())
        .await
        .unwrap();
    let pods = f
        .pods_until("od", "o1 replaced with v2", |p| {
            one_each(p, &["o1", "o2"])
                && p.iter()
                    .any(|p| affinity_node(p).as_deref() == Some("o1") && image(p) == "v2")
        })
        .await;
    let o2 = pods
        .iter()
        .find(|p| affinity_node(p).as_deref() == Some("o2"))
        .unwrap();
    assert_eq!(image(o2), "v1");
    f.set_until("od", "1 updated", |d| {
        d.status
            .as_ref()
            .is_some_and(|s| s.updated_number_scheduled == Some(1))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_counts_scheduled_ready_and_misscheduled_pods() {
    let f = fixture().await;
    // s3's pod is never bound (so never runs).
    let _kwok = Kwok::start(f.client.clone(), |p| {
        affinity_node(p).as_deref() != Some("s3")
    });
    let _kubelet = FakeKubelet::start(f.client.clone(), |p| bound_node(p).is_some());
    for n in ["s1", "s2", "s3"] {
        f.node(n, json!({}), json!([])).await;
    }
    f.create(daemonset("st", json!({}), json!({}))).await;
    let ds = f
        .set_until("st", "2 of 3 ready", |d| {
            d.status
                .as_ref()
                .is_some_and(|s| s.number_ready == 2 && s.current_number_scheduled == 3)
        })
        .await;
    let s = ds.status.unwrap();
    assert_eq!(
        (
            s.desired_number_scheduled,
            s.current_number_scheduled,
            s.number_misscheduled,
            s.number_ready
        ),
        (3, 3, 0, 2)
    );
    assert_eq!(
        (
            s.updated_number_scheduled,
            s.number_available,
            s.number_unavailable
        ),
        (Some(3), Some(2), Some(1))
    );
    assert_eq!(s.observed_generation, Some(1));
    // A NoSchedule taint keeps s1's pod but takes s1 out of the desired nodes.
    f.nodes
        .patch(
            "s1",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"taints": [
            {"key": "maintenance", "effect": "NoSchedule"}]}})),
        )
        .await
        .unwrap();
    let ds = f
        .set_until("st", "s1 misscheduled", |d| {
            d.status
                .as_ref()
                .is_some_and(|s| s.number_misscheduled == 1)
        })
        .await;
    let s = ds.status.unwrap();
    assert_eq!(
        (
            s.desired_number_scheduled,
            s.current_number_scheduled,
            s.number_ready,
            s.number_unavailable
        ),
        (2, 2, 1, Some(1))
    );
    assert_eq!(f.live_pods("st").await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_daemon_pod_is_deleted_and_replaced() {
    let f = fixture().await;
    let _kwok = Kwok::start(f.client.clone(), |_| true);
    // The kubelet fails the first pod it sees and runs the others.
    let first: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);
    let _kubelet = FakeKubelet::phases(f.client.clone(), move |p| {
        bound_node(p)?;
        let mut first = first.lock().unwrap();
        let name = first.get_or_insert_with(|| p.name_any());
        Some(if *name == p.name_any() {
            "Failed"
        } else {
            "Running"
        })
    });
    f.node("n", json!({}), json!([])).await;
    f.create(daemonset("flaky", json!({}), json!({}))).await;
    let events: Api<k8s_openapi::api::core::v1::Event> =
        Api::namespaced(f.client.clone(), "default");
    let deadline = Instant::now() + PATIENCE;
    let failed = loop {
        let list = events.list(&ListParams::default()).await.unwrap().items;
        if let Some(e) = list
            .iter()
            .find(|e| e.reason.as_deref() == Some("FailedDaemonPod"))
        {
            break e.clone();
        }
        assert!(Instant::now() < deadline, "no FailedDaemonPod event");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(failed.type_.as_deref(), Some("Warning"));
    let message = failed.message.unwrap();
    let failed_name = message
        .strip_prefix("Found failed daemon pod default/")
        .and_then(|m| m.strip_suffix(" on node n, will try to kill it"))
        .unwrap_or_else(|| panic!("{message}"))
        .to_string();
    let pods = f
        .pods_until("flaky", "a running replacement", |p| {
            p.len() == 1 && p[0].name_any() != failed_name && is_ready(&p[0])
        })
        .await;
    assert_eq!(affinity_node(&pods[0]).as_deref(), Some("n"));
    assert!(f.pods.get_opt(&failed_name).await.unwrap().is_none());
}

/// kubectl 1.33 (the newest installed) against the fixture's server.
fn kubectl(f: &Fixture, args: &[&str]) -> String {
    let bin = ["/usr/lib/google-cloud-sdk/bin/kubectl.1.33", "kubectl"]
        .into_iter()
        .find(|b| !b.starts_with('/') || std::path::Path::new(b).exists())
        .unwrap();
    let out = std::process::Command::new(bin)
        .arg("--kubeconfig")
        .arg(f._server.kubeconfig())
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "kubectl {args:?}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_rollout_history_and_undo_use_the_revisions() {
    let f = fixture().await;
    let _c = cluster(&f.client);
    for n in ["k1", "k2"] {
        f.node(n, json!({}), json!([])).await;
    }
    f.create(daemonset("undo", json!({}), json!({}))).await;
    f.pods_until("undo", "v1 ready", |p| {
        one_each(p, &["k1", "k2"]) && p.iter().all(is_ready)
    })
    .await;
    f.set_image("undo", "v2").await;
    f.pods_until("undo", "v2 everywhere", |p| {
        one_each(p, &["k1", "k2"]) && p.iter().all(|p| image(p) == "v2" && is_ready(p))
    })
    .await;
    let history = kubectl(
        &f,
        &["rollout", "history", "daemonset/undo", "-n", "default"],
    );
    let revisions: Vec<&str> = history
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.parse::<u32>().is_ok())
        .collect();
    assert_eq!(revisions, ["1", "2"], "{history}");
    let shown = kubectl(
        &f,
        &[
            "rollout",
            "history",
            "daemonset/undo",
            "-n",
            "default",
            "--revision=1",
        ],
    );
    assert!(shown.contains("Image:") && shown.contains("v1"), "{shown}");
    let undo = kubectl(&f, &["rollout", "undo", "daemonset/undo", "-n", "default"]);
    assert!(undo.contains("daemonset.apps/undo rolled back"), "{undo}");
    f.pods_until("undo", "v1 again everywhere", |p| {
        one_each(p, &["k1", "k2"]) && p.iter().all(|p| image(p) == "v1" && is_ready(p))
    })
    .await;
    // The first template's revision is the newest now.
    f.set_until("undo", "rolled back", |d| {
        d.status.as_ref().is_some_and(|s| {
            s.updated_number_scheduled == Some(2) && s.observed_generation == d.metadata.generation
        })
    })
    .await;
    let history = kubectl(
        &f,
        &["rollout", "history", "daemonset/undo", "-n", "default"],
    );
    let revisions: Vec<&str> = history
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.parse::<u32>().is_ok())
        .collect();
    assert_eq!(revisions, ["2", "3"], "{history}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_surging_rollout_starts_the_new_pod_before_the_old_one_goes() {
    let f = fixture().await;
    let _c = cluster(&f.client);
    let nodes = ["u1", "u2", "u3"];
    for n in nodes {
        f.node(n, json!({}), json!([])).await;
    }
    let strategy =
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}});
    f.create(daemonset("surge", json!({}), strategy)).await;
    f.set_until("surge", "3 available", |d| {
        d.status
            .as_ref()
            .is_some_and(|s| s.number_available == Some(3))
    })
    .await;
    // Every node keeps a ready pod throughout, and at most one node has two.
    let watch = PodWatch::start(
        f.client.clone(),
        "default",
        "app=surge",
        move |pods: &HashMap<String, Pod>| {
            let covered: BTreeSet<String> = pods
                .values()
                .filter(|p| p.metadata.deletion_timestamp.is_none() && is_ready(p))
                .filter_map(affinity_node)
                .collect();
            (covered.len() < nodes.len()).then(|| format!("only {covered:?} covered"))
        },
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    watch.arm();
    f.set_image("surge", "v2").await;
    f.pods_until("surge", "v2 everywhere", |p| {
        one_each(p, &nodes) && p.iter().all(|p| image(p) == "v2" && is_ready(p))
    })
    .await;
    let seen = watch.seen.lock().unwrap();
    assert!(seen.violations.is_empty(), "{:?}", seen.violations);
    assert_eq!(seen.max_pods, nodes.len() + 1);
}
