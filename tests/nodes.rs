//! The node controllers through a real `capstan server`: nodelifecycle (Unknown after the
//! grace period, the NoExecute taints and the taint manager's evictions), the
//! DefaultTolerationSeconds admission, nodeipam's pod CIDRs and podgc. The test plays the
//! kubelets as kwok does: it creates the Nodes and renews their Leases. One rule per test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Server;
use futures_util::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use kube::Api;
use serde_json::{json, Value};

/// Generous: a guard against a controller that never acts, not a speed assertion.
const PATIENCE: Duration = Duration::from_secs(90);

/// One replica with a 3 s grace period checked every second, and `extra` flags.
async fn fixture(extra: &[&str]) -> (tempfile::TempDir, Server, kube::Client) {
    let dir = tempfile::tempdir().unwrap();
    let mut flags: Vec<String> = [
        "--node-monitor-grace-period",
        "3s",
        "--node-monitor-period",
        "1s",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    flags.extend(extra.iter().map(|s| s.to_string()));
    let server = Server::start(dir.path(), "n", &flags);
    common::wait_api_ready(&server, PATIENCE).await;
    let client = server.kube().await;
    (dir, server, client)
}

fn now_micro() -> Value {
    serde_json::to_value(MicroTime(Timestamp::now())).unwrap()
}

fn now_time() -> Value {
    serde_json::to_value(Time(Timestamp::now())).unwrap()
}

/// Posts a Ready=`ready` status with a fresh heartbeat, as a kubelet does.
async fn post_status(client: &kube::Client, name: &str, ready: &str) {
    let now = now_time();
    let status = json!({"status": {"conditions": [
        {"type": "Ready", "status": ready, "reason": "KubeletReady", "message": "kubelet is posting ready status",
         "lastHeartbeatTime": now, "lastTransitionTime": now}]}});
    Api::<Node>::all(client.clone())
        .patch_status(name, &PatchParams::default(), &Patch::Merge(status))
        .await
        .unwrap();
}

/// The kubelets' Lease renewals, every 300 ms, for the nodes it is told are alive.
struct Kubelets {
    alive: Arc<Mutex<HashSet<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Kubelets {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Kubelets {
    fn start(client: kube::Client) -> Kubelets {
        let alive: Arc<Mutex<HashSet<String>>> = Arc::default();
        let a = alive.clone();
        let task = tokio::spawn(async move {
            let leases: Api<Lease> = Api::namespaced(client, "kube-node-lease");
            loop {
                let names: Vec<String> = a.lock().unwrap().iter().cloned().collect();
                for n in names {
                    let patch = json!({"spec": {"renewTime": now_micro()}});
                    let _ = leases
                        .patch(&n, &PatchParams::default(), &Patch::Merge(patch))
                        .await;
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        });
        Kubelets { alive, task }
    }

    /// Registers node `name` (Ready, with its Lease) and keeps its Lease renewed.
    async fn add(&self, client: &kube::Client, name: &str) {
        let now = now_time();
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"kubernetes.io/os": "linux"}},
            "status": {"conditions": [
                {"type": "Ready", "status": "True", "reason": "KubeletReady",
                 "message": "kubelet is posting ready status",
                 "lastHeartbeatTime": now, "lastTransitionTime": now}]},
        }))
        .unwrap();
        Api::<Node>::all(client.clone())
            .create(&PostParams::default(), &node)
            .await
            .unwrap();
        let lease: Lease = serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": now_micro()},
        }))
        .unwrap();
        Api::<Lease>::namespaced(client.clone(), "kube-node-lease")
            .create(&PostParams::default(), &lease)
            .await
            .unwrap();
        self.alive.lock().unwrap().insert(name.to_string());
    }

    fn stop(&self, name: &str) {
        self.alive.lock().unwrap().remove(name);
    }

    fn resume(&self, name: &str) {
        self.alive.lock().unwrap().insert(name.to_string());
    }
}

async fn node_until(
    client: &kube::Client,
    name: &str,
    what: &str,
    pred: impl Fn(&Node) -> bool,
) -> Node {
    let api: Api<Node> = Api::all(client.clone());
    let deadline = Instant::now() + PATIENCE;
    loop {
        let n = api.get(name).await.unwrap();
        if pred(&n) {
            return n;
        }
        assert!(
            Instant::now() < deadline,
            "never: {what}; node {:?} {:?}",
            n.spec,
            n.status.as_ref().map(|s| &s.conditions)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn pod_until(
    client: &kube::Client,
    name: &str,
    what: &str,
    pred: impl Fn(Option<&Pod>) -> bool,
) -> Option<Pod> {
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let deadline = Instant::now() + PATIENCE;
    loop {
        let p = api.get_opt(name).await.unwrap();
        if pred(p.as_ref()) {
            return p;
        }
        assert!(Instant::now() < deadline, "never: {what}; pod {p:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn has_taint(n: &Node, key: &str, effect: &str) -> bool {
    n.spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .is_some_and(|t| t.iter().any(|t| t.key == key && t.effect == effect))
}

fn ready_condition(n: &Node) -> Option<(String, String, String)> {
    n.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| {
            (
                c.status.clone(),
                c.reason.clone().unwrap_or_default(),
                c.message.clone().unwrap_or_default(),
            )
        })
}

/// A pod bound to `node`, with `tolerations`.
async fn bound_pod(client: &kube::Client, name: &str, node: &str, tolerations: Value) -> Pod {
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"nodeName": node, "tolerations": tolerations,
                 "containers": [{"name": "c", "image": "run"}]},
    }))
    .unwrap();
    Api::<Pod>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &pod)
        .await
        .unwrap()
}

async fn taint_node(client: &kube::Client, node: &str, key: &str) {
    let patch = json!({"spec": {"taints": [{"key": key, "effect": "NoExecute"}]}});
    Api::<Node>::all(client.clone())
        .patch(node, &PatchParams::default(), &Patch::Merge(patch))
        .await
        .unwrap();
}

async fn events_about(client: &kube::Client, name: &str) -> Vec<(String, String)> {
    common::events_of(client, name)
        .await
        .into_iter()
        .map(|e| (e.reason.unwrap_or_default(), e.message.unwrap_or_default()))
        .collect()
}

fn evicted(p: Option<&Pod>) -> bool {
    p.is_none_or(|p| p.metadata.deletion_timestamp.is_some())
}

fn condition_reason(p: &Pod, kind: &str) -> Option<String> {
    p.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == kind && c.status == "True")
        .map(|c| c.reason.clone().unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_lease_stops_being_renewed_goes_unknown_and_unreachable_until_ready_again() {
    let (_d, _s, client) = fixture(&[]).await;
    let kubelets = Kubelets::start(client.clone());
    // A second, healthy node: with every node down upstream taints none (master disruption).
    kubelets.add(&client, "healthy").await;
    kubelets.add(&client, "lost").await;
    bound_pod(&client, "on-lost", "lost", json!([])).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let ready = json!({"status": {"conditions": [{"type": "Ready", "status": "True",
        "lastTransitionTime": now_time()}]}});
    pods.patch_status("on-lost", &PatchParams::default(), &Patch::Merge(ready))
        .await
        .unwrap();

    kubelets.stop("lost");
    let n = node_until(
        &client,
        "lost",
        "Ready Unknown and tainted unreachable",
        |n| {
            ready_condition(n).is_some_and(|(s, _, _)| s == "Unknown")
                && has_taint(n, "node.kubernetes.io/unreachable", "NoExecute")
                && has_taint(n, "node.kubernetes.io/unreachable", "NoSchedule")
        },
    )
    .await;
    assert_eq!(
        ready_condition(&n).unwrap(),
        (
            "Unknown".into(),
            "NodeStatusUnknown".into(),
            "Kubelet stopped posting node status.".into()
        )
    );
    let unreachable = n
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .and_then(|t| {
            t.iter()
                .find(|t| t.key == "node.kubernetes.io/unreachable" && t.effect == "NoExecute")
        })
        .cloned()
        .unwrap();
    assert!(unreachable.time_added.is_some(), "{unreachable:?}");
    let healthy = Api::<Node>::all(client.clone())
        .get("healthy")
        .await
        .unwrap();
    assert_eq!(ready_condition(&healthy).unwrap().0, "True");
    assert!(!has_taint(
        &healthy,
        "node.kubernetes.io/unreachable",
        "NoExecute"
    ));
    // Its pod is marked not ready, and the node's change is an event.
    pod_until(&client, "on-lost", "pod marked not Ready", |p| {
        p.and_then(|p| p.status.as_ref()?.conditions.clone())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "False"))
    })
    .await;
    let events = events_about(&client, "lost").await;
    assert!(
        events.contains(&(
            "NodeNotReady".into(),
            "Node lost status is now: NodeNotReady".into()
        )),
        "{events:?}"
    );

    // The kubelet comes back: it renews its Lease and posts Ready.
    kubelets.resume("lost");
    post_status(&client, "lost", "True").await;
    node_until(&client, "lost", "unreachable taints removed", |n| {
        !has_taint(n, "node.kubernetes.io/unreachable", "NoExecute")
            && !has_taint(n, "node.kubernetes.io/unreachable", "NoSchedule")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_not_tolerating_a_no_execute_taint_is_evicted_at_once() {
    let (_d, _s, client) = fixture(&[]).await;
    let kubelets = Kubelets::start(client.clone());
    kubelets.add(&client, "n1").await;
    bound_pod(&client, "victim", "n1", json!([])).await;
    taint_node(&client, "n1", "example.com/drain").await;
    let p = pod_until(&client, "victim", "evicted", evicted).await;
    if let Some(p) = p {
        assert_eq!(
            condition_reason(&p, "DisruptionTarget").as_deref(),
            Some("DeletionByTaintManager")
        );
    }
    let events = events_about(&client, "victim").await;
    assert!(
        events.contains(&(
            "TaintManagerEviction".into(),
            "Marking for deletion Pod default/victim".into()
        )),
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_tolerating_a_taint_for_a_while_is_evicted_only_after_that_while() {
    let (_d, _s, client) = fixture(&[]).await;
    let kubelets = Kubelets::start(client.clone());
    kubelets.add(&client, "n1").await;
    let tolerations = json!([{"key": "example.com/drain", "operator": "Exists",
        "effect": "NoExecute", "tolerationSeconds": 8}]);
    bound_pod(&client, "patient", "n1", tolerations.clone()).await;
    // Its neighbour tolerates the taint forever and is never evicted.
    let forever =
        json!([{"key": "example.com/drain", "operator": "Exists", "effect": "NoExecute"}]);
    bound_pod(&client, "stays", "n1", forever).await;
    let tainted = Instant::now();
    taint_node(&client, "n1", "example.com/drain").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let p = pods.get("patient").await.unwrap();
    assert!(
        p.metadata.deletion_timestamp.is_none(),
        "evicted within its tolerationSeconds"
    );
    pod_until(&client, "patient", "evicted after 8 s", evicted).await;
    let waited = tainted.elapsed();
    assert!(
        waited >= Duration::from_secs(8),
        "evicted {waited:?} after the taint, before its 8 s toleration"
    );
    let stays = pods.get("stays").await.unwrap();
    assert!(stays.metadata.deletion_timestamp.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_get_the_default_not_ready_and_unreachable_tolerations_at_create() {
    let (_d, _s, client) = fixture(&[]).await;
    let p = bound_pod(&client, "plain", "", json!(null)).await;
    let tolerations = serde_json::to_value(p.spec.unwrap().tolerations).unwrap();
    assert_eq!(
        tolerations,
        json!([
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
        ])
    );
    // A toleration of every taint (Exists with no key) already covers both.
    let p = bound_pod(&client, "tolerant", "", json!([{"operator": "Exists"}])).await;
    let tolerations = serde_json::to_value(p.spec.unwrap().tolerations).unwrap();
    assert_eq!(tolerations, json!([{"operator": "Exists"}]));
}

fn pod_cidr(n: &Node) -> Option<(String, Vec<String>)> {
    let s = n.spec.as_ref()?;
    Some((s.pod_cidr.clone()?, s.pod_cidrs.clone()?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_get_distinct_pod_cidrs_and_a_freed_range_is_reused() {
    // Four /26 ranges in all.
    let (_d, _s, client) = fixture(&[
        "--cluster-cidr",
        "10.200.0.0/24",
        "--node-cidr-mask-size",
        "26",
    ])
    .await;
    let kubelets = Kubelets::start(client.clone());
    let mut given = Vec::new();
    for i in 0..4 {
        let name = format!("n{i}");
        kubelets.add(&client, &name).await;
        let n = node_until(&client, &name, "podCIDR set", |n| pod_cidr(n).is_some()).await;
        let (cidr, cidrs) = pod_cidr(&n).unwrap();
        assert_eq!(cidrs, std::slice::from_ref(&cidr));
        given.push(cidr);
    }
    let distinct: HashSet<&String> = given.iter().collect();
    assert_eq!(distinct.len(), 4, "{given:?}");
    let all: HashSet<String> = ["0", "64", "128", "192"]
        .iter()
        .map(|o| format!("10.200.0.{o}/26"))
        .collect();
    assert_eq!(given.iter().cloned().collect::<HashSet<_>>(), all);

    // The fifth finds the cluster CIDR exhausted...
    kubelets.add(&client, "n4").await;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let events = events_about(&client, "n4").await;
        if events.contains(&(
            "CIDRNotAvailable".into(),
            "Node n4 status is now: CIDRNotAvailable".into(),
        )) {
            break;
        }
        assert!(Instant::now() < deadline, "no CIDRNotAvailable: {events:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let n4 = Api::<Node>::all(client.clone()).get("n4").await.unwrap();
    assert_eq!(pod_cidr(&n4), None);
    // ...until a node goes and its range is free again.
    Api::<Node>::all(client.clone())
        .delete("n2", &DeleteParams::default())
        .await
        .unwrap();
    let n4 = node_until(&client, "n4", "the freed range", |n| pod_cidr(n).is_some()).await;
    assert_eq!(pod_cidr(&n4).unwrap().0, given[2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn podgc_deletes_the_oldest_finished_pods_above_the_threshold() {
    let (_d, _s, client) = fixture(&["--terminated-pod-gc-threshold", "2"]).await;
    let kubelets = Kubelets::start(client.clone());
    kubelets.add(&client, "n1").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    // Created a second apart, so their creation times order them; a running pod is not counted.
    bound_pod(&client, "running", "n1", json!(null)).await;
    for (name, phase) in [
        ("p0", "Succeeded"),
        ("p1", "Failed"),
        ("p2", "Succeeded"),
        ("p3", "Failed"),
    ] {
        bound_pod(&client, name, "n1", json!(null)).await;
        let status = json!({"status": {"phase": phase}});
        pods.patch_status(name, &PatchParams::default(), &Patch::Merge(status))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    for gone in ["p0", "p1"] {
        pod_until(&client, gone, "deleted", |p| p.is_none()).await;
    }
    // Two finished pods are the threshold: the newer ones stay, pass after pass.
    tokio::time::sleep(Duration::from_secs(6)).await;
    for kept in ["p2", "p3", "running"] {
        assert!(
            pods.get_opt(kept).await.unwrap().is_some(),
            "{kept} deleted"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn podgc_force_deletes_the_pods_of_a_node_that_is_gone() {
    let (_d, _s, client) = fixture(&[]).await;
    let kubelets = Kubelets::start(client.clone());
    kubelets.add(&client, "n1").await;
    kubelets.add(&client, "doomed").await;
    bound_pod(&client, "orphan", "doomed", json!(null)).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let running = json!({"status": {"phase": "Running"}});
    pods.patch_status("orphan", &PatchParams::default(), &Patch::Merge(running))
        .await
        .unwrap();
    // The pod's last state, as its deletion reports it.
    let cfg = watcher::Config::default().fields("metadata.name=orphan");
    let mut stream = Box::pin(watcher(pods.clone(), cfg));
    let last = tokio::spawn(async move {
        while let Some(ev) = stream.next().await {
            if let Ok(watcher::Event::Delete(p)) = ev {
                return p;
            }
        }
        panic!("watch ended");
    });
    kubelets.stop("doomed");
    Api::<Node>::all(client.clone())
        .delete("doomed", &DeleteParams::default())
        .await
        .unwrap();
    let p = tokio::time::timeout(PATIENCE, last).await.unwrap().unwrap();
    let status = p.status.unwrap();
    assert_eq!(status.phase.as_deref(), Some("Failed"));
    let target = status
        .conditions
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.type_ == "DisruptionTarget")
        .unwrap();
    assert_eq!(
        (
            target.status.as_str(),
            target.reason.as_deref(),
            target.message.as_deref()
        ),
        (
            "True",
            Some("DeletionByPodGC"),
            Some("PodGC: node no longer exists")
        )
    );
    assert!(pods.get_opt("orphan").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_reporting_not_ready_has_its_unreachable_taint_swapped_for_not_ready() {
    let (_d, _s, client) = fixture(&[]).await;
    let kubelets = Kubelets::start(client.clone());
    kubelets.add(&client, "healthy").await;
    kubelets.add(&client, "sick").await;
    kubelets.stop("sick");
    node_until(&client, "sick", "tainted unreachable", |n| {
        has_taint(n, "node.kubernetes.io/unreachable", "NoExecute")
    })
    .await;
    // The kubelet is back but reports the node not ready.
    kubelets.resume("sick");
    post_status(&client, "sick", "False").await;
    node_until(&client, "sick", "not-ready instead of unreachable", |n| {
        has_taint(n, "node.kubernetes.io/not-ready", "NoExecute")
            && has_taint(n, "node.kubernetes.io/not-ready", "NoSchedule")
            && !has_taint(n, "node.kubernetes.io/unreachable", "NoExecute")
            && !has_taint(n, "node.kubernetes.io/unreachable", "NoSchedule")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_every_node_down_no_node_is_tainted_no_execute() {
    let (_d, _s, client) = fixture(&[]).await;
    let kubelets = Kubelets::start(client.clone());
    kubelets.add(&client, "only").await;
    kubelets.stop("only");
    // Its conditions go Unknown and the scheduler is kept off it...
    node_until(&client, "only", "Unknown and unschedulable", |n| {
        ready_condition(n).is_some_and(|(s, _, _)| s == "Unknown")
            && has_taint(n, "node.kubernetes.io/unreachable", "NoSchedule")
    })
    .await;
    // ...but with no node Ready anywhere, nothing is evicted (master disruption mode), for
    // several monitor periods.
    let api: Api<Node> = Api::all(client.clone());
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let n = api.get("only").await.unwrap();
        assert!(
            !has_taint(&n, "node.kubernetes.io/unreachable", "NoExecute"),
            "{:?}",
            n.spec
        );
    }
}
