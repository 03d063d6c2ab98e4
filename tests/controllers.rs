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

/// Waits until every reason in `reasons` has an event about `name` in `default` from
/// `component`: the recorder writes events after the change they report, so a test that
/// has seen the change may read before the event lands. Returns (reason, component) pairs.
async fn events_until(
    client: &kube::Client,
    name: &str,
    component: &str,
    reasons: &[&str],
) -> Vec<(String, String)> {
    use k8s_openapi::api::core::v1::Event;
    let api: Api<Event> = Api::namespaced(client.clone(), "default");
    let deadline = Instant::now() + PATIENCE;
    loop {
        let seen: Vec<(String, String)> = api
            .list(&kube::api::ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|e| e.involved_object.name.as_deref() == Some(name))
            .map(|e| {
                (
                    e.reason.unwrap_or_default(),
                    e.source.and_then(|s| s.component).unwrap_or_default(),
                )
            })
            .collect();
        if reasons
            .iter()
            .all(|r| seen.iter().any(|(sr, sc)| sr == r && sc == component))
        {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "never all of {reasons:?}: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `pred` holds for the pods labelled `app=<app>` in `default`; returns them.
async fn pods_until(
    client: &kube::Client,
    app: &str,
    what: &str,
    pred: impl Fn(&[k8s_openapi::api::core::v1::Pod]) -> bool,
) -> Vec<k8s_openapi::api::core::v1::Pod> {
    let api: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client.clone(), "default");
    let deadline = Instant::now() + PATIENCE;
    loop {
        let pods = api
            .list(&kube::api::ListParams::default().labels(&format!("app={app}")))
            .await
            .unwrap()
            .items;
        if pred(&pods) {
            return pods;
        }
        assert!(
            Instant::now() < deadline,
            "never: {what} (pods now: {})",
            pods.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replicaset_keeps_as_many_pods_as_its_replicas() {
    use k8s_openapi::api::apps::v1::ReplicaSet;
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::{Patch, PatchParams};

    let dir = tempfile::tempdir().unwrap();
    let s = Server::first(dir.path(), "rs");
    common::wait_api_ready(&s, Duration::from_secs(60)).await;
    let client = s.kube().await;
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let rs: ReplicaSet = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}))
    .unwrap();
    let rs = sets.create(&PostParams::default(), &rs).await.unwrap();
    let uid = rs.metadata.uid.clone().unwrap();
    let owned_by_rs = |p: &Pod| {
        p.metadata
            .owner_references
            .as_ref()
            .is_some_and(|o| o.iter().any(|r| r.uid == uid && r.controller == Some(true)))
    };
    let pods = pods_until(&client, "web", "3 pods", |p| p.len() == 3).await;
    assert!(pods.iter().all(owned_by_rs));
    assert!(pods
        .iter()
        .all(|p| p.metadata.name.as_deref().unwrap().starts_with("web-")));
    // Status follows.
    let deadline = Instant::now() + PATIENCE;
    while sets
        .get_status("web")
        .await
        .unwrap()
        .status
        .map(|s| s.replicas)
        != Some(3)
    {
        assert!(Instant::now() < deadline, "status.replicas never reached 3");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Scaled down to 1: two go.
    sets.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 1}})),
    )
    .await
    .unwrap();
    let left = pods_until(&client, "web", "1 pod", |p| p.len() == 1).await;
    // A deleted pod is replaced.
    let pods_api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let gone = left[0].metadata.name.clone().unwrap();
    pods_api
        .delete(&gone, &DeleteParams::default())
        .await
        .unwrap();
    pods_until(&client, "web", "a replacement", |p| {
        p.len() == 1 && p[0].metadata.name.as_deref() != Some(gone.as_str())
    })
    .await;

    // An orphan the selector matches is adopted, then the surplus pod deleted.
    let orphan: Pod = serde_json::from_value(json!({
        "metadata": {"name": "stray", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}}))
    .unwrap();
    pods_api
        .create(&PostParams::default(), &orphan)
        .await
        .unwrap();
    let settled = pods_until(&client, "web", "one owned pod after adoption", |p| {
        p.len() == 1 && p.iter().all(owned_by_rs)
    })
    .await;
    assert_eq!(settled.len(), 1);

    // The events kube-controller-manager writes.
    events_until(
        &client,
        "web",
        "replicaset-controller",
        &["SuccessfulCreate", "SuccessfulDelete"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replication_controller_keeps_as_many_pods_as_its_replicas() {
    use k8s_openapi::api::core::v1::ReplicationController;
    use kube::api::{Patch, PatchParams};

    let dir = tempfile::tempdir().unwrap();
    let s = Server::first(dir.path(), "rc");
    common::wait_api_ready(&s, Duration::from_secs(60)).await;
    let client = s.kube().await;
    let rcs: Api<ReplicationController> = Api::namespaced(client.clone(), "default");
    // No selector: it is the template's labels, as the API defaults it.
    let rc: ReplicationController = serde_json::from_value(json!({
        "metadata": {"name": "legacy"},
        "spec": {"replicas": 2,
                 "template": {"metadata": {"labels": {"app": "legacy"}},
                              "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}))
    .unwrap();
    let rc = rcs.create(&PostParams::default(), &rc).await.unwrap();
    let uid = rc.metadata.uid.clone().unwrap();
    let pods = pods_until(&client, "legacy", "2 pods", |p| p.len() == 2).await;
    for p in &pods {
        let owner = p.metadata.owner_references.as_ref().unwrap();
        assert_eq!(owner[0].kind, "ReplicationController");
        assert_eq!(owner[0].uid, uid);
        assert!(p.metadata.name.as_deref().unwrap().starts_with("legacy-"));
    }
    let deadline = Instant::now() + PATIENCE;
    while rcs
        .get_status("legacy")
        .await
        .unwrap()
        .status
        .map(|s| s.replicas)
        != Some(2)
    {
        assert!(Instant::now() < deadline, "status.replicas never reached 2");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    rcs.patch(
        "legacy",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 0}})),
    )
    .await
    .unwrap();
    pods_until(&client, "legacy", "no pods", |p| p.is_empty()).await;
    events_until(
        &client,
        "legacy",
        "replication-controller",
        &["SuccessfulCreate", "SuccessfulDelete"],
    )
    .await;
    // Its work queue reports client-go's metrics under the controller's name.
    let (code, text) = common::api_get(&s, "/metrics");
    assert_eq!(code, 200, "{text}");
    let adds: f64 = text
        .lines()
        .find(|l| l.starts_with("workqueue_adds_total{name=\"replicationcontroller\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no workqueue_adds_total for the queue: {text}"));
    assert!(adds >= 2.0, "{adds}");
    for series in [
        "workqueue_depth{name=\"replicationcontroller\"}",
        "workqueue_work_duration_seconds_count{name=\"replicationcontroller\"}",
        "workqueue_queue_duration_seconds_count{name=\"replicationcontroller\"}",
        "workqueue_retries_total{name=\"replicationcontroller\"}",
        "workqueue_longest_running_processor_seconds{name=\"replicationcontroller\"}",
    ] {
        let ours: Vec<&str> = text.lines().filter(|l| l.contains("workqueue")).collect();
        assert!(text.contains(series), "no {series} in {ours:#?}");
    }
}

/// Waits until `pred` holds for namespace `name` (`None`: it is gone); returns it.
async fn namespace_until(
    client: &kube::Client,
    name: &str,
    what: &str,
    pred: impl Fn(Option<&Namespace>) -> bool,
) -> Option<Namespace> {
    let api: Api<Namespace> = Api::all(client.clone());
    let deadline = Instant::now() + PATIENCE;
    loop {
        let ns = api.get_opt(name).await.unwrap();
        if pred(ns.as_ref()) {
            return ns;
        }
        assert!(
            Instant::now() < deadline,
            "never: {what}; now {:?}",
            ns.map(|n| n.status)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_namespace_is_emptied_then_removed_by_the_namespace_controller() {
    use k8s_openapi::api::core::v1::ConfigMap;
    let dir = tempfile::tempdir().unwrap();
    let s = Server::first(dir.path(), "ns");
    common::wait_api_ready(&s, PATIENCE).await;
    let client = s.kube().await;
    create_namespace(&client, "doomed").await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "doomed");
    for i in 0..3 {
        let cm: ConfigMap =
            serde_json::from_value(json!({"metadata": {"name": format!("c{i}")}})).unwrap();
        cms.create(&PostParams::default(), &cm).await.unwrap();
    }
    Api::<Namespace>::all(client.clone())
        .delete("doomed", &DeleteParams::default())
        .await
        .unwrap();
    namespace_until(&client, "doomed", "the namespace gone", |n| n.is_none()).await;
    // Made again under the name, it starts empty.
    create_namespace(&client, "doomed").await;
    assert!(cms
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_held_by_finalizers_says_so_and_goes_once_they_are_removed() {
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{Patch, PatchParams};
    let dir = tempfile::tempdir().unwrap();
    let s = Server::first(dir.path(), "ns");
    common::wait_api_ready(&s, PATIENCE).await;
    let client = s.kube().await;
    create_namespace(&client, "held").await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "held");
    let cm: ConfigMap = serde_json::from_value(
        json!({"metadata": {"name": "c", "finalizers": ["example.com/hold"]}}),
    )
    .unwrap();
    cms.create(&PostParams::default(), &cm).await.unwrap();
    Api::<Namespace>::all(client.clone())
        .delete("held", &DeleteParams::default())
        .await
        .unwrap();
    let cond = |n: Option<&Namespace>, kind: &str| {
        n.and_then(|n| n.status.as_ref())
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == kind).cloned())
    };
    let ns = namespace_until(&client, "held", "the finalizer reported", |n| {
        cond(n, "NamespaceFinalizersRemaining").is_some_and(|c| c.status == "True")
    })
    .await;
    let finalizers = cond(ns.as_ref(), "NamespaceFinalizersRemaining").unwrap();
    assert_eq!(finalizers.reason.as_deref(), Some("SomeFinalizersRemain"));
    assert_eq!(
        finalizers.message.as_deref(),
        Some("Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances")
    );
    let remaining = cond(ns.as_ref(), "NamespaceContentRemaining").unwrap();
    assert_eq!(
        (remaining.status.as_str(), remaining.message.as_deref()),
        (
            "True",
            Some("Some resources are remaining: configmaps has 1 resource instances")
        )
    );
    cms.patch(
        "c",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    namespace_until(&client, "held", "the namespace gone", |n| n.is_none()).await;
}

/// The ports the `kubernetes` endpoints list, sorted.
async fn kubernetes_endpoint_ports(client: &kube::Client) -> Vec<i32> {
    use k8s_openapi::api::core::v1::Endpoints;
    let ep = Api::<Endpoints>::namespaced(client.clone(), "default")
        .get("kubernetes")
        .await
        .unwrap();
    let mut ports: Vec<i32> = ep
        .subsets
        .unwrap_or_default()
        .iter()
        .flat_map(|s| {
            let n = s.addresses.as_ref().map_or(0, Vec::len);
            s.ports
                .iter()
                .flatten()
                .map(|p| p.port)
                .cycle()
                .take(n)
                .collect::<Vec<_>>()
        })
        .collect();
    ports.sort();
    ports
}

fn api_port(s: &Server) -> i32 {
    s.api_url.rsplit(':').next().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kubernetes_endpoints_are_the_live_voting_replicas() {
    let dir = tempfile::tempdir().unwrap();
    let mut servers = common::start_static(dir.path(), "e", 3).await;
    for s in &servers {
        common::wait_api_ready(s, Duration::from_secs(30)).await;
    }
    let refs: Vec<&Server> = servers.iter().collect();
    let leader = common::wait_cluster(&refs, 3, Duration::from_secs(30)).await;
    let mut all: Vec<i32> = servers.iter().map(api_port).collect();
    all.sort();
    let deadline = Instant::now() + PATIENCE;
    let client = servers[0].kube().await;
    while kubernetes_endpoint_ports(&client).await != all {
        assert!(
            Instant::now() < deadline,
            "endpoints never listed all three replicas"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // kill -9 a follower: its address goes once its lease is not renewed.
    let dead = servers.iter().position(|s| s.member_id != leader).unwrap();
    let gone = api_port(&servers[dead]);
    servers[dead].kill();
    let client = servers
        .iter()
        .find(|s| s.member_id == leader)
        .unwrap()
        .kube()
        .await;
    let left: Vec<i32> = all.iter().copied().filter(|p| *p != gone).collect();
    let deadline = Instant::now() + PATIENCE;
    while kubernetes_endpoint_ports(&client).await != left {
        assert!(
            Instant::now() < deadline,
            "the dead replica's address stayed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Back (on a new API port), it is listed again.
    servers[dead].restart();
    let mut all: Vec<i32> = servers.iter().map(api_port).collect();
    all.sort();
    let deadline = Instant::now() + PATIENCE;
    while kubernetes_endpoint_ports(&client).await != all {
        assert!(
            Instant::now() < deadline,
            "the restarted replica was never listed again"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_stopped_mid_scale_never_takes_a_replicaset_past_its_replicas() {
    use common::kubelet::PodWatch;
    use k8s_openapi::api::apps::v1::ReplicaSet;
    use kube::api::{Patch, PatchParams};
    const N: usize = 200;
    let dir = tempfile::tempdir().unwrap();
    let mut servers = common::start_static(dir.path(), "f", 3).await;
    for s in &servers {
        common::wait_api_ready(s, Duration::from_secs(30)).await;
    }
    let refs: Vec<&Server> = servers.iter().collect();
    let leader = common::wait_cluster(&refs, 3, Duration::from_secs(30)).await;
    let old = servers.iter().position(|s| s.member_id == leader).unwrap();
    let via = (old + 1) % 3;
    let client = servers[via].kube().await;
    // Every pod event, through a replica that stays up: never more than N live pods.
    let watch = PodWatch::start(client.clone(), "default", "app=fence", |pods| {
        let live = pods
            .values()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .count();
        (live > N).then(|| format!("{live} pods for {N} replicas"))
    });
    watch.arm();
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let rs: ReplicaSet = serde_json::from_value(json!({
        "metadata": {"name": "fence"},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "fence"}},
                 "template": {"metadata": {"labels": {"app": "fence"}},
                              "spec": {"containers": [{"name": "c", "image": "i"}]}}}}))
    .unwrap();
    sets.create(&PostParams::default(), &rs).await.unwrap();
    sets.patch(
        "fence",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": N}})),
    )
    .await
    .unwrap();
    // The leader's replicaset controller is creating pods (its slow-start batches have begun):
    // freeze it mid-way, with creates in flight.
    let deadline = Instant::now() + PATIENCE;
    while watch.seen.lock().unwrap().pods.len() < 8 {
        assert!(Instant::now() < deadline, "the scale never started");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    servers[old].pause();
    let alive: Vec<&Server> = servers
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != old)
        .map(|(_, s)| s)
        .collect();
    let new_leader = common::wait_cluster(&alive, 3, Duration::from_secs(30)).await;
    assert_ne!(new_leader, leader);
    // The new leader's manager finishes the scale.
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client.clone(), "default");
    let by_app = kube::api::ListParams::default().labels("app=fence");
    let deadline = Instant::now() + PATIENCE;
    while pods.list(&by_app).await.unwrap().items.len() != N {
        assert!(
            Instant::now() < deadline,
            "the new leader never finished the scale"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The old leader wakes in a newer term: whatever it still tries is refused.
    servers[old].resume();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let refs: Vec<&Server> = servers.iter().collect();
        if common::wait_cluster(&refs, 3, Duration::from_secs(30)).await == new_leader
            && servers[old]
                .log()
                .contains("leader-only work of the term stopped")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the old leader's work never stopped: {}",
            servers[old].log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Settled: still exactly N, and never more at any event.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(pods.list(&by_app).await.unwrap().items.len(), N);
    let seen = watch.seen.lock().unwrap();
    assert!(seen.violations.is_empty(), "{:?}", seen.violations.first());
    assert!(seen.max_pods <= N, "{} pods at once", seen.max_pods);
    drop(seen);
    // Its in-flight creates, stamped with its old term, were refused, and its metrics say so.
    let refused = common::refused_writes(&servers[old]);
    eprintln!("writes the old leader's work had refused by fencing: {refused}");
    assert!(
        refused >= 1.0,
        "no refused write counted on the deposed leader: {}",
        servers[old].log()
    );
    servers[old].kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_whose_leader_is_killed_mid_way_finishes_with_exactly_the_right_pods() {
    use common::kubelet::{FakeKubelet, PodWatch};
    use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::{ListParams, Patch, PatchParams};
    const N: usize = 20;
    const SURGE: usize = 2;
    let dir = tempfile::tempdir().unwrap();
    let mut servers = common::start_static(dir.path(), "k", 3).await;
    for s in &servers {
        common::wait_api_ready(s, Duration::from_secs(30)).await;
    }
    let refs: Vec<&Server> = servers.iter().collect();
    let leader = common::wait_cluster(&refs, 3, Duration::from_secs(30)).await;
    let old = servers.iter().position(|s| s.member_id == leader).unwrap();
    let client = servers[(old + 1) % 3].kube().await;
    let _kubelet = FakeKubelet::start(client.clone(), |_| true);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "roll"},
        "spec": {"replicas": N, "selector": {"matchLabels": {"app": "roll"}},
                 "strategy": {"type": "RollingUpdate",
                              "rollingUpdate": {"maxSurge": SURGE, "maxUnavailable": 0}},
                 "template": {"metadata": {"labels": {"app": "roll"}},
                              "spec": {"containers": [{"name": "c", "image": "v1"}]}}}}))
    .unwrap();
    deployments
        .create(&PostParams::default(), &d)
        .await
        .unwrap();
    let image = |p: &Pod| p.spec.as_ref().unwrap().containers[0].image.clone();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let by_app = ListParams::default().labels("app=roll");
    let live_of = |image_wanted: &'static str| {
        let pods = pods.clone();
        let by_app = by_app.clone();
        async move {
            pods.list(&by_app)
                .await
                .unwrap()
                .items
                .into_iter()
                .filter(|p| p.metadata.deletion_timestamp.is_none())
                .filter(|p| image(p).as_deref() == Some(image_wanted))
                .count()
        }
    };
    let deadline = Instant::now() + PATIENCE;
    while live_of("v1").await != N {
        assert!(Instant::now() < deadline, "v1 never had {N} pods");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // From here on, every pod event: never more than N + maxSurge pods, never fewer than N
    // ready (maxUnavailable 0).
    let watch = PodWatch::start(client.clone(), "default", "app=roll", |pods| {
        let live = pods
            .values()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .count();
        (live > N + SURGE).then(|| format!("{live} pods for {N} replicas + {SURGE} surge"))
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    watch.arm();
    deployments
        .patch(
            "roll",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "v2"}]}}}}),
            ),
        )
        .await
        .unwrap();
    // Mid-way: some pods of v2 exist, most of v1 still do. Then the leader dies at once.
    let deadline = Instant::now() + PATIENCE;
    while live_of("v2").await < 4 {
        assert!(Instant::now() < deadline, "the rollout never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    servers[old].kill();
    let alive: Vec<&Server> = servers
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != old)
        .map(|(_, s)| s)
        .collect();
    let new_leader = common::wait_cluster(&alive, 3, Duration::from_secs(30)).await;
    assert_ne!(new_leader, leader);
    let deadline = Instant::now() + PATIENCE;
    while live_of("v2").await != N || live_of("v1").await != 0 {
        assert!(
            Instant::now() < deadline,
            "the new leader never finished the rollout"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Settled, it stays exactly N pods of v2; the old ReplicaSet is scaled to zero.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let left = pods.list(&by_app).await.unwrap().items;
    assert_eq!(left.len(), N, "pods after the rollout");
    assert!(left.iter().all(|p| image(p).as_deref() == Some("v2")));
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    let replicas: Vec<(String, i32)> = sets
        .list(&by_app)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|rs| {
            let image = rs
                .spec
                .as_ref()
                .unwrap()
                .template
                .as_ref()
                .unwrap()
                .spec
                .as_ref()
                .unwrap()
                .containers[0]
                .image
                .clone()
                .unwrap_or_default();
            (image, rs.spec.unwrap().replicas.unwrap_or(0))
        })
        .collect();
    assert!(
        replicas
            .iter()
            .all(|(i, r)| (i == "v2") == (*r as usize == N) && (i == "v2" || *r == 0)),
        "{replicas:?}"
    );
    let seen = watch.seen.lock().unwrap();
    assert!(seen.violations.is_empty(), "{:?}", seen.violations.first());
    assert!(
        seen.min_ready.unwrap_or(N) >= N,
        "only {:?} pods ready at one point",
        seen.min_ready
    );
}
