//! The scheduler through a real `capstan server`: the test creates the Nodes (there is no node
//! agent here, as kube-scheduler's integration tests make them) and pods, and checks where
//! the pods are bound, the PodScheduled condition and the events users read, preemption, a
//! second scheduler's pods left alone, and fencing of a deposed leader's binds.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::Server;
use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::Api;
use serde_json::{json, Value};

/// Generous: a guard against a scheduler that never acts, not a speed assertion.
const PATIENCE: Duration = Duration::from_secs(60);

async fn fixture(extra: &[&str]) -> (tempfile::TempDir, Server, kube::Client) {
    let dir = tempfile::tempdir().unwrap();
    let flags: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    let server = Server::start(dir.path(), "n", &flags);
    common::wait_api_ready(&server, PATIENCE).await;
    let client = server.kube().await;
    (dir, server, client)
}

/// Three replicas, and a client of a follower's API: its writes are forwarded to the leader,
/// where the scheduler runs.
async fn fixture_three() -> (tempfile::TempDir, Vec<Server>, kube::Client) {
    let dir = tempfile::tempdir().unwrap();
    let servers = common::start_static(dir.path(), "r", 3).await;
    for s in &servers {
        common::wait_api_ready(s, PATIENCE).await;
    }
    let refs: Vec<&Server> = servers.iter().collect();
    let leader = common::wait_cluster(&refs, 3, PATIENCE).await;
    let follower = servers.iter().find(|s| s.member_id != leader).unwrap();
    let client = follower.kube().await;
    (dir, servers, client)
}

/// A Ready node with `cpu` cores, 8Gi and 110 pods, and `labels`/`taints`.
async fn node(client: &kube::Client, name: &str, cpu: &str, labels: Value, taints: Value) {
    let n: Node = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": labels},
        "spec": {"taints": taints},
    }))
    .unwrap();
    let api: Api<Node> = Api::all(client.clone());
    api.create(&PostParams::default(), &n).await.unwrap();
    let status = json!({"status": {
        "capacity": {"cpu": cpu, "memory": "8Gi", "pods": "110"},
        "allocatable": {"cpu": cpu, "memory": "8Gi", "pods": "110"},
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
            "lastHeartbeatTime": k8s_openapi::jiff::Timestamp::now().to_string(),
            "lastTransitionTime": k8s_openapi::jiff::Timestamp::now().to_string()}]}});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(status))
        .await
        .unwrap();
}

async fn pod(client: &kube::Client, spec: Value) -> Pod {
    let mut p = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "registry.example/app:v1"}]}});
    merge(&mut p, spec);
    let p: Pod = serde_json::from_value(p).unwrap();
    Api::<Pod>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &p)
        .await
        .unwrap()
}

fn merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                merge(b.entry(k).or_insert(Value::Null), v);
            }
        }
        (b, p) => *b = p,
    }
}

fn cpu_pod(name: &str, cpu: &str) -> Value {
    json!({"metadata": {"name": name}, "spec": {"containers": [
        {"name": "c", "image": "registry.example/app:v1", "resources": {"requests": {"cpu": cpu}}}]}})
}

/// Waits until `name` is bound and returns its node.
async fn bound(client: &kube::Client, name: &str) -> String {
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let end = Instant::now() + PATIENCE;
    loop {
        let p = api.get(name).await.unwrap();
        if let Some(n) = p.spec.and_then(|s| s.node_name) {
            return n;
        }
        assert!(Instant::now() < end, "{name} was never bound");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits for `name`'s PodScheduled=False condition and returns its reason and message.
async fn unschedulable(client: &kube::Client, name: &str, containing: &str) -> (String, String) {
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let end = Instant::now() + PATIENCE;
    loop {
        let p = api.get(name).await.unwrap();
        assert!(
            p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_none(),
            "{name} was bound"
        );
        let c = p
            .status
            .and_then(|s| s.conditions)
            .unwrap_or_default()
            .into_iter()
            .find(|c| c.type_ == "PodScheduled" && c.status == "False");
        if let Some(c) = c.filter(|c| c.message.as_deref().unwrap_or("").contains(containing)) {
            return (c.reason.unwrap_or_default(), c.message.unwrap_or_default());
        }
        assert!(Instant::now() < end, "{name} never said {containing:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn event_messages(client: &kube::Client, name: &str, reason: &str) -> Vec<String> {
    common::events_of(client, name)
        .await
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .map(|e| e.message.unwrap_or_default())
        .collect()
}

async fn wait_event(client: &kube::Client, name: &str, reason: &str) -> Vec<String> {
    let end = Instant::now() + PATIENCE;
    loop {
        let m = event_messages(client, name, reason).await;
        if !m.is_empty() {
            return m;
        }
        assert!(Instant::now() < end, "no {reason} event for {name}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsatisfiable_node_selector_waits_with_upstreams_message_until_a_node_is_labelled() {
    let (_d, _s, client) = fixture(&[]).await;
    for n in ["node-a", "node-b", "node-c"] {
        node(&client, n, "4", json!({}), json!([])).await;
    }
    pod(&client, json!({"spec": {"nodeSelector": {"disk": "ssd"}}})).await;
    let (reason, message) = unschedulable(&client, "p", "nodes are available").await;
    assert_eq!(reason, "Unschedulable");
    assert_eq!(
        message,
        "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. \
         preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.."
    );
    let failed = wait_event(&client, "p", "FailedScheduling").await;
    assert_eq!(failed[0], message);
    // Labelling a node is the event that lets it fit.
    let label = json!({"metadata": {"labels": {"disk": "ssd"}}});
    Api::<Node>::all(client.clone())
        .patch("node-b", &PatchParams::default(), &Patch::Merge(label))
        .await
        .unwrap();
    assert_eq!(bound(&client, "p").await, "node-b");
    let scheduled = wait_event(&client, "p", "Scheduled").await;
    assert_eq!(scheduled, ["Successfully assigned default/p to node-b"]);
    let p = Api::<Pod>::namespaced(client.clone(), "default")
        .get("p")
        .await
        .unwrap();
    let cond = p
        .status
        .and_then(|s| s.conditions)
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.type_ == "PodScheduled")
        .unwrap();
    assert_eq!(cond.status, "True", "the binding sets PodScheduled=True");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taints_keep_off_pods_that_do_not_tolerate_them() {
    let (_d, _s, client) = fixture(&[]).await;
    let gpu = json!([{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]);
    node(&client, "tainted", "4", json!({}), gpu.clone()).await;
    node(&client, "open", "4", json!({}), json!([])).await;
    for i in 0..4 {
        pod(&client, json!({"metadata": {"name": format!("plain-{i}")}})).await;
    }
    for i in 0..4 {
        assert_eq!(bound(&client, &format!("plain-{i}")).await, "open");
    }
    // A tolerating pod may go to either; with the open node taken it is scored lower... so
    // only the filter is asserted: cordon the open node and it must go to the tainted one.
    Api::<Node>::all(client.clone())
        .patch(
            "open",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"unschedulable": true}})),
        )
        .await
        .unwrap();
    pod(
        &client,
        json!({"metadata": {"name": "tolerant"}, "spec": {"tolerations": [
            {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]}}),
    )
    .await;
    assert_eq!(bound(&client, "tolerant").await, "tainted");
    pod(&client, json!({"metadata": {"name": "stuck"}})).await;
    let (_, message) = unschedulable(&client, "stuck", "nodes are available").await;
    assert_eq!(
        message,
        "0/2 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, \
         1 node(s) were unschedulable. preemption: 0/2 nodes are available: \
         2 Preemption is not helpful for scheduling.."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_fill_nodes_by_cpu_and_wait_when_none_has_room() {
    let (_d, _s, client) = fixture(&[]).await;
    node(&client, "small", "1", json!({}), json!([])).await;
    node(&client, "big", "2", json!({}), json!([])).await;
    // LeastAllocated: the first 1-cpu pod goes to the emptier (big) node, and the pods
    // fill both nodes exactly.
    for i in 0..3 {
        pod(&client, cpu_pod(&format!("w{i}"), "1")).await;
        bound(&client, &format!("w{i}")).await;
    }
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let mut per_node = std::collections::BTreeMap::new();
    for p in api.list(&ListParams::default()).await.unwrap() {
        *per_node
            .entry(p.spec.unwrap().node_name.unwrap())
            .or_insert(0) += 1;
    }
    assert_eq!(per_node.get("big"), Some(&2));
    assert_eq!(per_node.get("small"), Some(&1));
    pod(&client, cpu_pod("extra", "500m")).await;
    let (_, message) = unschedulable(&client, "extra", "nodes are available").await;
    assert_eq!(
        message,
        "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: \
         2 No preemption victims found for incoming pod.."
    );
    // Deleting a pod frees room: the waiting pod is moved back and bound.
    api.delete("w0", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    bound(&client, "extra").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_for_another_scheduler_are_left_alone() {
    let (_d, _s, client) = fixture(&[]).await;
    node(&client, "only", "4", json!({}), json!([])).await;
    pod(
        &client,
        json!({"metadata": {"name": "theirs"}, "spec": {"schedulerName": "my-scheduler"}}),
    )
    .await;
    pod(&client, json!({"metadata": {"name": "ours"}})).await;
    assert_eq!(bound(&client, "ours").await, "only");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let p = Api::<Pod>::namespaced(client.clone(), "default")
        .get("theirs")
        .await
        .unwrap();
    assert!(p.spec.unwrap().node_name.is_none());
    assert!(p
        .status
        .and_then(|s| s.conditions)
        .unwrap_or_default()
        .is_empty());
    assert!(common::events_of(&client, "theirs").await.is_empty());
}

/// Plays the kubelet's last step for pods being deleted: removes them at once.
fn finish_deletions(client: kube::Client) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let api: Api<Pod> = Api::namespaced(client, "default");
        loop {
            if let Ok(list) = api.list(&ListParams::default()).await {
                for p in list
                    .items
                    .iter()
                    .filter(|p| p.metadata.deletion_timestamp.is_some())
                {
                    let name = p.metadata.name.clone().unwrap();
                    let _ = api
                        .delete(&name, &DeleteParams::default().grace_period(0))
                        .await;
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_higher_priority_class_preempts_the_lowest_priority_pods() {
    let (_d, _s, client) = fixture(&[]).await;
    preemption_by_priority_class(client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_higher_priority_class_preempts_the_lowest_priority_pods_on_three_replicas() {
    let (_d, _s, client) = fixture_three().await;
    preemption_by_priority_class(client).await;
}

/// PriorityClasses `low`, `high` and `polite` (Never) on one 2-cpu node.
async fn preemption_by_priority_class(client: kube::Client) {
    let kubelet = finish_deletions(client.clone());
    let pcs: Api<k8s_openapi::api::scheduling::v1::PriorityClass> = Api::all(client.clone());
    for (name, value, policy) in [
        ("low", 10, "PreemptLowerPriority"),
        ("high", 1000, "PreemptLowerPriority"),
        ("polite", 1000, "Never"),
    ] {
        let pc = serde_json::from_value(
            json!({"metadata": {"name": name}, "value": value, "preemptionPolicy": policy}),
        )
        .unwrap();
        pcs.create(&PostParams::default(), &pc).await.unwrap();
    }
    node(&client, "one", "2", json!({}), json!([])).await;
    for (name, prio) in [("low-a", "low"), ("low-b", "low")] {
        let mut spec = cpu_pod(name, "1");
        spec["spec"]["priorityClassName"] = json!(prio);
        pod(&client, spec).await;
        assert_eq!(bound(&client, name).await, "one");
    }
    // A pod that never preempts waits, whatever its priority.
    let mut polite = cpu_pod("polite", "1");
    polite["spec"]["priorityClassName"] = json!("polite");
    pod(&client, polite).await;
    let (_, message) = unschedulable(&client, "polite", "nodes are available").await;
    assert_eq!(
        message,
        "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never."
    );
    let mut high = cpu_pod("urgent", "1");
    high["spec"]["priorityClassName"] = json!("high");
    pod(&client, high).await;
    assert_eq!(bound(&client, "urgent").await, "one");
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let left: Vec<String> = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .filter(|n| n.starts_with("low-"))
        .collect();
    assert_eq!(left.len(), 1, "exactly one victim: {left:?}");
    let victim = if left[0] == "low-a" { "low-b" } else { "low-a" };
    let preempted = wait_event(&client, victim, "Preempted").await;
    assert!(
        preempted[0].starts_with("Preempted by pod "),
        "{preempted:?}"
    );
    assert!(preempted[0].ends_with(" on node one"), "{preempted:?}");
    kubelet.abort();
}

/// A claim in `default` (class `class`; `None`: the field is left out).
async fn claim(client: &kube::Client, name: &str, class: Option<&str>) {
    let mut c = json!({"metadata": {"name": name, "namespace": "default"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}});
    if let Some(class) = class {
        c["spec"]["storageClassName"] = json!(class);
    }
    Api::<PersistentVolumeClaim>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &serde_json::from_value(c).unwrap())
        .await
        .unwrap();
}

/// A pod mounting the claim `claim_name`.
fn claim_pod(name: &str, claim_name: &str) -> Value {
    json!({"metadata": {"name": name}, "spec": {
        "containers": [{"name": "c", "image": "registry.example/app:v1",
                        "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
        "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim_name}}]}})
}

/// Waits until the claim is bound (`volumeName` and the PV controller's bind-completed).
async fn bound_claim(client: &kube::Client, name: &str) -> PersistentVolumeClaim {
    let api: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    let end = Instant::now() + PATIENCE;
    loop {
        let c = api.get(name).await.unwrap();
        let bound = c
            .spec
            .as_ref()
            .and_then(|s| s.volume_name.as_ref())
            .is_some()
            && c.metadata
                .annotations
                .as_ref()
                .is_some_and(|a| a.contains_key("pv.kubernetes.io/bind-completed"));
        if bound {
            return c;
        }
        assert!(Instant::now() < end, "claim {name} was never bound: {c:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Nodes as a kubelet registers them, with their hostname label (what local volumes' node
/// affinity names).
async fn hosts(client: &kube::Client, names: &[&str]) {
    for n in names {
        node(
            client,
            n,
            "4",
            json!({"kubernetes.io/hostname": n}),
            json!([]),
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_whose_claim_is_missing_waits_with_upstreams_message_until_it_is_created() {
    let (_d, _s, client) = fixture(&[]).await;
    hosts(&client, &["node-a", "node-b"]).await;
    pod(&client, claim_pod("p", "data")).await;
    let (reason, message) = unschedulable(&client, "p", "nodes are available").await;
    assert_eq!(reason, "Unschedulable");
    assert_eq!(
        message,
        "0/2 nodes are available: persistentvolumeclaim \"data\" not found. \
         preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.."
    );
    // The claim appearing is the event that lets the pod be scheduled.
    claim(&client, "data", Some("local-path")).await;
    bound(&client, "p").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_for_first_consumer_claim_is_provisioned_on_the_node_the_pod_is_bound_to() {
    let (_d, _s, client) = fixture(&[]).await;
    hosts(&client, &["node-a", "node-b"]).await;
    // The local-path provisioner makes its WaitForFirstConsumer class at start.
    let classes: Api<k8s_openapi::api::storage::v1::StorageClass> = Api::all(client.clone());
    let end = Instant::now() + PATIENCE;
    let class = loop {
        if let Some(c) = classes.get_opt("local-path").await.unwrap() {
            break c;
        }
        assert!(Instant::now() < end, "no local-path class");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        class.volume_binding_mode.as_deref(),
        Some("WaitForFirstConsumer")
    );
    claim(&client, "data", Some("local-path")).await;
    pod(&client, claim_pod("p", "data")).await;
    let on = bound(&client, "p").await;
    let c = bound_claim(&client, "data").await;
    let selected = c
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("volume.kubernetes.io/selected-node").cloned());
    assert_eq!(selected.as_deref(), Some(on.as_str()));
    let volume_name = c.spec.and_then(|s| s.volume_name).unwrap();
    let pv = Api::<PersistentVolume>::all(client.clone())
        .get(&volume_name)
        .await
        .unwrap();
    let term = pv
        .spec
        .and_then(|s| s.node_affinity)
        .and_then(|a| a.required)
        .map(|r| r.node_selector_terms)
        .unwrap_or_default();
    let values = term[0].match_expressions.as_ref().unwrap()[0]
        .values
        .clone()
        .unwrap();
    assert_eq!(values, [on.as_str()], "the volume is on the pod's node");
    let scheduled = wait_event(&client, "p", "Scheduled").await;
    assert_eq!(
        scheduled,
        [format!("Successfully assigned default/p to {on}")]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_goes_where_its_bound_volumes_node_affinity_points() {
    let (_d, _s, client) = fixture(&[]).await;
    hosts(&client, &["node-a", "node-b", "node-c"]).await;
    // A pre-created local volume on node-b, and a claim of a class with no StorageClass object
    // (bound at once by the PV controller).
    let pv = json!({"metadata": {"name": "pv-b"}, "spec": {
        "storageClassName": "manual", "capacity": {"storage": "1Gi"},
        "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/data/pv-b"},
        "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": ["node-b"]}]}]}}}});
    Api::<PersistentVolume>::all(client.clone())
        .create(&PostParams::default(), &serde_json::from_value(pv).unwrap())
        .await
        .unwrap();
    claim(&client, "pinned", Some("manual")).await;
    bound_claim(&client, "pinned").await;
    for i in 0..3 {
        let name = format!("p{i}");
        pod(&client, claim_pod(&name, "pinned")).await;
        assert_eq!(bound(&client, &name).await, "node-b");
    }
}

/// VolumeZone: a volume labelled with a zone (and no node affinity) keeps its pods in that zone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_goes_to_the_zone_its_volume_is_labelled_with() {
    let (_d, _s, client) = fixture(&[]).await;
    zoned_nodes(&client).await;
    let pv = json!({"metadata": {"name": "pv-z2", "labels": {"topology.kubernetes.io/zone": "z2"}},
        "spec": {"storageClassName": "manual", "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/data/pv-z2"}}});
    Api::<PersistentVolume>::all(client.clone())
        .create(&PostParams::default(), &serde_json::from_value(pv).unwrap())
        .await
        .unwrap();
    claim(&client, "zonal", Some("manual")).await;
    bound_claim(&client, "zonal").await;
    for i in 0..3 {
        let name = format!("z{i}");
        pod(&client, claim_pod(&name, "zonal")).await;
        assert_eq!(bound(&client, &name).await, "node-c");
    }
}

/// Three nodes, two in zone z1 and one in z2, each with its hostname label.
async fn zoned_nodes(client: &kube::Client) {
    for (n, zone) in [("node-a", "z1"), ("node-b", "z1"), ("node-c", "z2")] {
        let labels = json!({"kubernetes.io/hostname": n, "topology.kubernetes.io/zone": zone});
        node(client, n, "4", labels, json!([])).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_anti_affinity_puts_one_pod_per_node_and_the_fourth_waits_with_upstreams_message()
{
    let (_d, _s, client) = fixture(&[]).await;
    anti_affinity_one_per_node(client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_anti_affinity_puts_one_pod_per_node_on_three_replicas() {
    let (_d, _s, client) = fixture_three().await;
    anti_affinity_one_per_node(client).await;
}

/// Four pods apart by hostname over three nodes.
async fn anti_affinity_one_per_node(client: kube::Client) {
    let kubelet = finish_deletions(client.clone());
    zoned_nodes(&client).await;
    let apart = |name: &str| {
        json!({"metadata": {"name": name, "labels": {"app": "apart"}}, "spec": {"affinity": {
            "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
                "labelSelector": {"matchLabels": {"app": "apart"}},
                "topologyKey": "kubernetes.io/hostname"}]}}}})
    };
    let mut placed = Vec::new();
    for name in ["apart-1", "apart-2", "apart-3"] {
        pod(&client, apart(name)).await;
        placed.push(bound(&client, name).await);
    }
    placed.sort();
    assert_eq!(placed, ["node-a", "node-b", "node-c"]);
    // Equal priorities: preemption finds no victims.
    pod(&client, apart("apart-4")).await;
    let (reason, message) = unschedulable(&client, "apart-4", "nodes are available").await;
    assert_eq!(reason, "Unschedulable");
    assert_eq!(
        message,
        "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules. \
         preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.."
    );
    let failed = wait_event(&client, "apart-4", "FailedScheduling").await;
    assert_eq!(failed[0], message);
    // Deleting one of them is the event that lets it in, on the node it freed.
    let freed = bound(&client, "apart-2").await;
    Api::<Pod>::namespaced(client.clone(), "default")
        .delete("apart-2", &DeleteParams::default())
        .await
        .unwrap();
    assert_eq!(bound(&client, "apart-4").await, freed);
    kubelet.abort();
}

/// The scheduler's metrics on the replica's `/metrics`, under kube-scheduler's names: the
/// attempt counted by result, each extension point's duration, the pending pods by queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_reports_kube_schedulers_metrics() {
    let (_d, server, client) = fixture(&[]).await;
    for n in ["one", "two"] {
        node(&client, n, "4", json!({}), json!([])).await;
    }
    pod(&client, cpu_pod("counted", "1")).await;
    bound(&client, "counted").await;
    pod(&client, cpu_pod("too-big", "8")).await;
    unschedulable(&client, "too-big", "Insufficient cpu").await;
    let (code, text) = common::api_get(&server, "/metrics");
    assert_eq!(code, 200);
    let sample = |prefix: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {prefix} in /metrics"))
    };
    let profile = "profile=\"default-scheduler\"";
    assert_eq!(
        sample(&format!(
            "scheduler_schedule_attempts_total{{result=\"scheduled\",{profile}}}"
        )),
        1.0
    );
    assert!(
        sample(&format!(
            "scheduler_schedule_attempts_total{{result=\"unschedulable\",{profile}}}"
        )) >= 1.0
    );
    for (point, status) in [
        ("PreFilter", "Success"),
        ("Filter", "Success"),
        ("Filter", "Unschedulable"),
        ("PreScore", "Success"),
        ("Score", "Success"),
        ("Bind", "Success"),
    ] {
        let count = sample(&format!(
            "scheduler_framework_extension_point_duration_seconds_count{{extension_point=\"{point}\",status=\"{status}\",{profile}}}"
        ));
        assert!(count >= 1.0, "{point} {status}: {count}");
    }
    // The queue's sizes are published each second; the pod that fits nowhere ends up in the
    // unschedulable pool (after a back-off if an event came during its attempt).
    let end = Instant::now() + PATIENCE;
    loop {
        let (_, text) = common::api_get(&server, "/metrics");
        if text
            .lines()
            .any(|l| l == "scheduler_pending_pods{queue=\"unschedulable\"} 1")
        {
            break;
        }
        assert!(Instant::now() < end, "no unschedulable pod in the gauge");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A bound pod's new labels are a cluster event: a pod whose required affinity they now
/// satisfy is tried again at once (not after the five minutes unschedulable pods wait).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labelling_a_bound_pod_lets_a_pod_with_affinity_to_it_in() {
    let (_d, _s, client) = fixture(&[]).await;
    node(
        &client,
        "one",
        "4",
        json!({"kubernetes.io/hostname": "one"}),
        json!([]),
    )
    .await;
    pod(
        &client,
        json!({"metadata": {"name": "db", "labels": {"role": "x"}},
        "spec": {"nodeName": "one"}}),
    )
    .await;
    pod(
        &client,
        json!({"metadata": {"name": "web"}, "spec": {"affinity": {"podAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [{
            "labelSelector": {"matchLabels": {"app": "db"}},
            "topologyKey": "kubernetes.io/hostname"}]}}}}),
    )
    .await;
    let (_, message) = unschedulable(&client, "web", "nodes are available").await;
    assert!(
        message.starts_with("0/1 nodes are available: 1 node(s) didn't match pod affinity rules."),
        "{message}"
    );
    Api::<Pod>::namespaced(client.clone(), "default")
        .patch(
            "db",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"app": "db"}}})),
        )
        .await
        .unwrap();
    assert_eq!(bound(&client, "web").await, "one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topology_spread_with_max_skew_one_puts_four_pods_two_per_zone() {
    let (_d, _s, client) = fixture(&[]).await;
    spread_over_zones(client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topology_spread_with_max_skew_one_puts_four_pods_two_per_zone_on_three_replicas() {
    let (_d, _s, client) = fixture_three().await;
    spread_over_zones(client).await;
}

/// Four pods spread over two zones with maxSkew 1.
async fn spread_over_zones(client: kube::Client) {
    zoned_nodes(&client).await;
    for i in 0..4 {
        let name = format!("spread-{i}");
        pod(
            &client,
            json!({"metadata": {"name": name, "labels": {"app": "spread"}}, "spec": {
                "topologySpreadConstraints": [{"maxSkew": 1,
                    "topologyKey": "topology.kubernetes.io/zone",
                    "whenUnsatisfiable": "DoNotSchedule",
                    "labelSelector": {"matchLabels": {"app": "spread"}}}]}}),
        )
        .await;
    }
    let mut per_zone = std::collections::BTreeMap::new();
    for i in 0..4 {
        let n = bound(&client, &format!("spread-{i}")).await;
        let zone = if n == "node-c" { "z2" } else { "z1" };
        *per_zone.entry(zone).or_insert(0) += 1;
    }
    assert_eq!(
        per_zone,
        std::collections::BTreeMap::from([("z1", 2), ("z2", 2)])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_then_resumed_leaders_binds_are_refused_and_no_pod_is_bound_twice() {
    // Three nodes of 110 pods each.
    const N: usize = 300;
    let dir = tempfile::tempdir().unwrap();
    let mut servers = common::start_static(dir.path(), "s", 3).await;
    for s in &servers {
        common::wait_api_ready(s, PATIENCE).await;
    }
    let refs: Vec<&Server> = servers.iter().collect();
    let leader = common::wait_cluster(&refs, 3, PATIENCE).await;
    let old = servers.iter().position(|s| s.member_id == leader).unwrap();
    let via = (old + 1) % 3;
    let client = servers[via].kube().await;
    for n in ["a", "b", "c"] {
        node(&client, n, "1000", json!({}), json!([])).await;
    }
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    // Many pods at once, so the leader is binding when it is frozen.
    let creates: Vec<_> = (0..N)
        .map(|i| {
            let c = client.clone();
            tokio::spawn(
                async move { pod(&c, json!({"metadata": {"name": format!("f{i}")}})).await },
            )
        })
        .collect();
    for c in creates {
        c.await.unwrap();
    }
    let bound_count = |list: &[Pod]| {
        list.iter()
            .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some())
            .count()
    };
    let deadline = Instant::now() + PATIENCE;
    while bound_count(&pods.list(&ListParams::default()).await.unwrap().items) < 5 {
        assert!(
            Instant::now() < deadline,
            "the leader never started binding"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    servers[old].pause();
    let alive: Vec<&Server> = servers
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != old)
        .map(|(_, s)| s)
        .collect();
    let new_leader = common::wait_cluster(&alive, 3, PATIENCE).await;
    assert_ne!(new_leader, leader);
    // The new leader's scheduler binds the rest.
    let deadline = Instant::now() + PATIENCE;
    while bound_count(&pods.list(&ListParams::default()).await.unwrap().items) < N {
        assert!(
            Instant::now() < deadline,
            "the new leader never bound every pod"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let before: Vec<(String, String)> = pods
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|p| (p.metadata.name.unwrap(), p.spec.unwrap().node_name.unwrap()))
        .collect();
    // The old leader wakes in a newer term: its binds in flight are refused.
    servers[old].resume();
    let deadline = Instant::now() + PATIENCE;
    while !servers[old]
        .log()
        .contains("leader-only work of the term stopped")
    {
        assert!(
            Instant::now() < deadline,
            "the old leader's work never stopped"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after: Vec<(String, String)> = pods
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|p| (p.metadata.name.unwrap(), p.spec.unwrap().node_name.unwrap()))
        .collect();
    assert_eq!(before, after, "a pod moved after it was bound");
    // One Scheduled event per pod: no bind happened twice.
    let events: Vec<k8s_openapi::api::core::v1::Event> = Api::namespaced(client.clone(), "default")
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    let mut scheduled = std::collections::BTreeMap::new();
    for e in events
        .iter()
        .filter(|e| e.reason.as_deref() == Some("Scheduled"))
    {
        *scheduled
            .entry(e.involved_object.name.clone().unwrap_or_default())
            .or_insert(0) += e.count.unwrap_or(1);
    }
    assert!(
        scheduled.values().all(|c| *c == 1),
        "a pod was scheduled twice: {:?}",
        scheduled.iter().find(|(_, c)| **c != 1)
    );
    let refused = common::refused_writes(&servers[old]);
    eprintln!("writes the old leader's work had refused by fencing: {refused}");
    assert!(refused >= 1.0, "no refused write on the deposed leader");
    servers[old].kill();
}
