//! `capstan node` against a real server: registration, the Lease, pods run as host processes
//! (init containers, environment, logs, restart back-off, deletion with SIGTERM then SIGKILL,
//! admission, deadlines, the agent's shutdown) and simulated nodes running a Deployment;
//! kubectl logs, exec (-i, -it), cp, attach and port-forward on 1.27 (SPDY) and 1.33
//! (WebSocket), top (metrics.k8s.io), nodes/proxy, and the Python client's exec and
//! port-forward.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::node_agent::NodeAgent;
use common::python::{newest_client_python, run_script, script, DEBIAN_PYTHON};
use common::Server;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

const PATIENCE: Duration = Duration::from_secs(60);

async fn started(dir: &std::path::Path) -> (Server, Client) {
    let s = Server::first(dir, "cp");
    common::wait_api_ready(&s, PATIENCE).await;
    let client = s.kube().await;
    (s, client)
}

/// Polls `get` until `pred` holds of what it returns; fails after PATIENCE naming `what`.
async fn until<T: std::fmt::Debug, F, Fut>(what: &str, mut get: F, pred: impl Fn(&T) -> bool) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let deadline = Instant::now() + PATIENCE;
    loop {
        let v = get().await;
        if pred(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "never: {what}; last seen {v:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn pod_until(api: &Api<Pod>, name: &str, what: &str, pred: impl Fn(&Pod) -> bool) -> Pod {
    until(
        what,
        || async { api.get_opt(name).await.unwrap() },
        |p: &Option<Pod>| p.as_ref().is_some_and(&pred),
    )
    .await
    .unwrap()
}

async fn gone(api: &Api<Pod>, name: &str) {
    until(
        &format!("{name} deleted"),
        || async { api.get_opt(name).await.unwrap() },
        |p| p.is_none(),
    )
    .await;
}

fn phase(p: &Pod) -> &str {
    p.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

fn condition(p: &Pod, kind: &str) -> Option<String> {
    p.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == kind)
        .map(|c| c.status.clone())
}

/// The first container's status (empty until the agent has written one).
fn container(p: &Pod) -> k8s_openapi::api::core::v1::ContainerStatus {
    p.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| cs.first().cloned())
        .unwrap_or_default()
}

fn pod(name: &str, node: &str, spec: serde_json::Value) -> Pod {
    let mut spec = spec;
    spec["nodeName"] = json!(node);
    serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap()
}

/// The content lines of a CRI log file.
fn log_lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| l.splitn(4, ' ').nth(3).unwrap_or("").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_registers_ready_with_its_machine_and_renews_its_lease() {
    let dir = tempfile::tempdir().unwrap();
    let (s, client) = started(dir.path()).await;
    let _agent = NodeAgent::start(
        &s,
        dir.path(),
        "worker-1",
        &[
            "--lease-renew-interval",
            "1s",
            "--capacity",
            "cpu=3",
            "--node-labels",
            "tier=edge",
        ],
    );
    let nodes: Api<Node> = Api::all(client.clone());
    let node = until(
        "worker-1 Ready with a pod CIDR",
        || async { nodes.get_opt("worker-1").await.unwrap() },
        |n| {
            n.as_ref().is_some_and(|n| {
                let ready = n
                    .status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
                ready && n.spec.as_ref().and_then(|s| s.pod_cidr.as_ref()).is_some()
            })
        },
    )
    .await
    .unwrap();
    let labels = node.metadata.labels.clone().unwrap();
    assert_eq!(labels["kubernetes.io/hostname"], "worker-1");
    assert_eq!(labels["kubernetes.io/os"], "linux");
    assert_eq!(labels["tier"], "edge");
    let status = node.status.clone().unwrap();
    let cap = status.capacity.unwrap();
    assert_eq!(cap["cpu"].0, "3", "--capacity overrides the machine");
    assert_eq!(cap["pods"].0, "110");
    assert!(cap["memory"].0.ends_with("Ki"), "{:?}", cap["memory"]);
    let info = status.node_info.unwrap();
    assert_eq!(info.kubelet_version, "v1.33.0");
    assert_eq!(info.operating_system, "linux");
    assert!(info
        .container_runtime_version
        .starts_with("capstan-process://"));
    let kinds: Vec<String> = status
        .conditions
        .unwrap()
        .into_iter()
        .map(|c| format!("{}={}", c.type_, c.status))
        .collect();
    assert_eq!(
        kinds,
        [
            "MemoryPressure=False",
            "DiskPressure=False",
            "PIDPressure=False",
            "Ready=True"
        ]
    );
    assert_eq!(status.addresses.unwrap()[0].address, "127.0.0.1");

    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let first = until(
        "a lease",
        || async { leases.get_opt("worker-1").await.unwrap() },
        |l| l.is_some(),
    )
    .await
    .unwrap();
    let spec = first.spec.clone().unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("worker-1"));
    assert_eq!(spec.lease_duration_seconds, Some(40));
    let owner = &first.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str()),
        ("Node", node.metadata.uid.as_deref().unwrap())
    );
    let renewed = spec.renew_time.unwrap().0;
    until(
        "the lease renewed",
        || async { leases.get("worker-1").await.unwrap() },
        |l| {
            l.spec
                .as_ref()
                .and_then(|s| s.renew_time.as_ref())
                .is_some_and(|t| t.0 > renewed)
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_runs_its_init_containers_then_its_container_with_its_environment_and_logs() {
    let dir = tempfile::tempdir().unwrap();
    let (s, client) = started(dir.path()).await;
    let agent = NodeAgent::start(&s, dir.path(), "w", &[]);
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "cfg"}, "data": {"colour": "teal"}}))
            .unwrap(),
    )
    .await
    .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let p = pod(
        "envy",
        "w",
        json!({
        "terminationGracePeriodSeconds": 5,
        "initContainers": [
            {"name": "first", "image": "busybox", "command": ["sh", "-c", "echo first"]},
            {"name": "second", "image": "busybox", "command": ["sh", "-c", "echo second"]}],
        "containers": [{
            "name": "main", "image": "busybox",
            "command": ["sh", "-c"],
            "args": ["echo \"pod=$(POD) colour=$COLOUR ip=$MY_IP k8s=$KUBERNETES_SERVICE_HOST cwd-ok=$([ -d . ] && echo y)\"; echo oops >&2; exec sleep 300"],
            "env": [
                {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "MY_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                {"name": "COLOUR", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "colour"}}}]}]}),
    );
    pods.create(&PostParams::default(), &p).await.unwrap();
    let running = pod_until(&pods, "envy", "Running and Ready", |p| {
        phase(p) == "Running" && condition(p, "Ready").as_deref() == Some("True")
    })
    .await;
    let st = running.status.clone().unwrap();
    assert_eq!(st.pod_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(st.host_ip.as_deref(), Some("127.0.0.1"));
    assert!(st.start_time.is_some());
    for c in [
        "PodScheduled",
        "PodReadyToStartContainers",
        "Initialized",
        "ContainersReady",
        "Ready",
    ] {
        assert_eq!(
            condition(&running, c).as_deref(),
            Some("True"),
            "{c}: {st:#?}"
        );
    }
    let init = st.init_container_statuses.clone().unwrap();
    assert_eq!(init.len(), 2);
    for i in &init {
        let t = i.state.as_ref().unwrap().terminated.as_ref().unwrap();
        assert_eq!(
            (t.exit_code, t.reason.as_deref()),
            (0, Some("Completed")),
            "{i:#?}"
        );
    }
    let first_done = init[0]
        .state
        .as_ref()
        .unwrap()
        .terminated
        .as_ref()
        .unwrap()
        .finished_at
        .clone()
        .unwrap()
        .0;
    let second_start = init[1]
        .state
        .as_ref()
        .unwrap()
        .terminated
        .as_ref()
        .unwrap()
        .started_at
        .clone()
        .unwrap()
        .0;
    assert!(
        first_done <= second_start,
        "init containers run one after the other"
    );
    let main = container(&running);
    assert!(main.ready && main.started == Some(true) && main.restart_count == 0);
    assert!(main.state.unwrap().running.is_some());

    let uid = running.metadata.uid.clone().unwrap();
    let log = agent.log_file("default", "envy", &uid, "main", 0);
    let lines = until(
        "the container's output in its log",
        || async { std::fs::read_to_string(&log).unwrap_or_default() },
        |t| t.contains("oops"),
    )
    .await;
    assert!(
        lines.contains(" stdout F pod=envy colour=teal ip=127.0.0.1 k8s=10.96.0.1 cwd-ok=y"),
        "{lines}"
    );
    assert!(lines.contains(" stderr F oops"), "{lines}");
    assert_eq!(
        log_lines(&agent.log_file("default", "envy", &uid, "first", 0)),
        ["first"]
    );

    // Deleted: SIGTERM stops `sleep`, the agent reports it and deletes the object for good,
    // and the pod's files go with it.
    pods.delete("envy", &DeleteParams::default()).await.unwrap();
    gone(&pods, "envy").await;
    until(
        "the pod's directory removed",
        || async { log.parent().unwrap().parent().unwrap().exists() },
        |e| !e,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashing_containers_back_off_and_restart_policies_end_pods() {
    let dir = tempfile::tempdir().unwrap();
    let (s, client) = started(dir.path()).await;
    let _agent = NodeAgent::start(&s, dir.path(), "w", &[]);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let run = |name: &str, policy: &str, script: &str| {
        pod(
            name,
            "w",
            json!({"restartPolicy": policy, "containers": [
            {"name": "c", "image": "busybox", "command": ["sh", "-c", script]}]}),
        )
    };
    for p in [
        run("crash", "Always", "echo try; exit 3"),
        run("fails", "Never", "exit 1"),
        run("done", "OnFailure", "exit 0"),
        run("retry", "OnFailure", "exit 2"),
    ] {
        pods.create(&PostParams::default(), &p).await.unwrap();
    }
    // Exit, an immediate restart, exit: then CrashLoopBackOff of 10 s.
    let crashed = pod_until(
        &pods,
        "crash",
        "in CrashLoopBackOff after one restart",
        |p| {
            let c = container(p);
            c.restart_count == 1
                && c.state
                    .as_ref()
                    .and_then(|s| s.waiting.as_ref())
                    .and_then(|w| w.reason.as_deref())
                    == Some("CrashLoopBackOff")
        },
    )
    .await;
    let c = container(&crashed);
    let waiting = c.state.unwrap().waiting.unwrap();
    assert!(
        waiting
            .message
            .as_deref()
            .unwrap()
            .starts_with("back-off 10s restarting failed container=c pod=crash_default("),
        "{waiting:?}"
    );
    let last = c.last_state.unwrap().terminated.unwrap();
    assert_eq!((last.exit_code, last.reason.as_deref()), (3, Some("Error")));
    assert_eq!(phase(&crashed), "Running");
    assert_eq!(condition(&crashed, "Ready").as_deref(), Some("False"));
    // After the back-off it runs again.
    pod_until(&pods, "crash", "restarted after the back-off", |p| {
        container(p).restart_count >= 2
    })
    .await;

    let failed = pod_until(&pods, "fails", "Failed", |p| phase(p) == "Failed").await;
    let t = container(&failed).state.unwrap().terminated.unwrap();
    assert_eq!((t.exit_code, t.reason.as_deref()), (1, Some("Error")));
    assert_eq!(container(&failed).restart_count, 0);
    pod_until(&pods, "done", "Succeeded", |p| phase(p) == "Succeeded").await;
    let retried = pod_until(&pods, "retry", "restarted on failure", |p| {
        container(p).restart_count >= 1
    })
    .await;
    assert_eq!(phase(&retried), "Running");

    let events: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client.clone(), "default");
    until(
        "a BackOff event from the kubelet",
        || async { events.list(&ListParams::default()).await.unwrap().items },
        |es: &Vec<k8s_openapi::api::core::v1::Event>| {
            es.iter().any(|e| {
                e.reason.as_deref() == Some("BackOff")
                    && e.involved_object.name.as_deref() == Some("crash")
                    && e.source.as_ref().and_then(|s| s.component.as_deref()) == Some("kubelet")
            })
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_sends_sigterm_then_sigkill_once_the_grace_period_is_over() {
    let dir = tempfile::tempdir().unwrap();
    let (s, client) = started(dir.path()).await;
    let agent = NodeAgent::start(&s, dir.path(), "w", &[]);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let p = pod(
        "stubborn",
        "w",
        json!({"terminationGracePeriodSeconds": 2, "containers": [{
        "name": "c", "image": "busybox",
        "command": ["sh", "-c", "trap 'echo got TERM' TERM; echo pid $$$$; while true; do sleep 0.1; done"]}]}),
    );
    pods.create(&PostParams::default(), &p).await.unwrap();
    let running = pod_until(&pods, "stubborn", "Running", |p| phase(p) == "Running").await;
    let uid = running.metadata.uid.clone().unwrap();
    let log = agent.log_file("default", "stubborn", &uid, "c", 0);
    let pid: u32 = until(
        "its pid in the log",
        || async { log_lines(&log) },
        |l| !l.is_empty(),
    )
    .await[0]
        .strip_prefix("pid ")
        .unwrap()
        .parse()
        .unwrap();
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    let lines_before_delete = std::fs::read_to_string(&log).unwrap();
    pods.delete("stubborn", &DeleteParams::default())
        .await
        .unwrap();
    // The object stays (with its deletion timestamp) while the container has its grace period.
    let deleting = pods.get("stubborn").await.unwrap();
    assert_eq!(deleting.metadata.deletion_grace_period_seconds, Some(2));
    let got_term = until(
        "the TERM trap's output",
        || async { std::fs::read_to_string(&log).unwrap_or_default() },
        |t| t.contains("got TERM"),
    )
    .await;
    assert!(!lines_before_delete.contains("got TERM") && got_term.contains("got TERM"));
    gone(&pods, "stubborn").await;
    // It ignored SIGTERM, so only SIGKILL can have ended it.
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "pid {pid} still runs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admission_deadlines_and_missing_config_are_reported_as_the_kubelet_does() {
    let dir = tempfile::tempdir().unwrap();
    let (s, client) = started(dir.path()).await;
    let _agent = NodeAgent::start(&s, dir.path(), "w", &["--capacity", "cpu=1"]);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let big = pod(
        "big",
        "w",
        json!({"containers": [{"name": "c", "image": "busybox",
        "command": ["sleep", "30"], "resources": {"requests": {"cpu": "2"}}}]}),
    );
    let late = pod(
        "late",
        "w",
        json!({"activeDeadlineSeconds": 1, "terminationGracePeriodSeconds": 1,
        "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "30"]}]}),
    );
    let needs = pod(
        "needs",
        "w",
        json!({"containers": [{"name": "c", "image": "busybox",
        "command": ["sleep", "30"], "envFrom": [{"configMapRef": {"name": "later"}}]}]}),
    );
    let noimage = pod(
        "noimage",
        "w",
        json!({"containers": [{"name": "c", "image": "nginx"}]}),
    );
    for p in [&big, &late, &needs, &noimage] {
        pods.create(&PostParams::default(), p).await.unwrap();
    }
    // Two pods asking for one host port: the second is rejected as the kubelet rejects it.
    let ported = |name: &str| {
        pod(
            name,
            "w",
            json!({"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "30"],
                "ports": [{"containerPort": 80, "hostPort": 18080}]}]}),
        )
    };
    pods.create(&PostParams::default(), &ported("port-a"))
        .await
        .unwrap();
    pod_until(&pods, "port-a", "running", |p| phase(p) == "Running").await;
    pods.create(&PostParams::default(), &ported("port-b"))
        .await
        .unwrap();
    let clash = pod_until(&pods, "port-b", "rejected", |p| phase(p) == "Failed").await;
    let st = clash.status.unwrap();
    assert_eq!(
        (st.reason.as_deref(), st.message.as_deref()),
        (
            Some("NodePorts"),
            Some("Pod was rejected: Predicate NodePorts failed")
        )
    );
    let rejected = pod_until(&pods, "big", "rejected", |p| phase(p) == "Failed").await;
    let st = rejected.status.unwrap();
    assert_eq!(st.reason.as_deref(), Some("OutOfcpu"));
    assert_eq!(
        st.message.as_deref(),
        Some("Pod was rejected: Node didn't have enough resource: cpu, requested: 2000, used: 0, capacity: 1000")
    );
    let expired = pod_until(&pods, "late", "past its deadline", |p| phase(p) == "Failed").await;
    assert_eq!(
        expired.status.as_ref().unwrap().reason.as_deref(),
        Some("DeadlineExceeded")
    );
    let waiting = |p: &Pod| {
        container(p)
            .state
            .and_then(|s| s.waiting)
            .map(|w| (w.reason.unwrap_or_default(), w.message.unwrap_or_default()))
    };
    let blocked = pod_until(&pods, "needs", "CreateContainerConfigError", |p| {
        waiting(p).is_some_and(|(r, _)| r == "CreateContainerConfigError")
    })
    .await;
    assert_eq!(
        waiting(&blocked).unwrap().1,
        "configmap \"later\" not found"
    );
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "later"}, "data": {"A": "1"}}))
            .unwrap(),
    )
    .await
    .unwrap();
    pod_until(&pods, "needs", "Running once its ConfigMap exists", |p| {
        phase(p) == "Running"
    })
    .await;
    let pulled = pod_until(&pods, "noimage", "ImagePullBackOff", |p| {
        waiting(p).is_some_and(|(r, _)| r == "ImagePullBackOff")
    })
    .await;
    assert!(waiting(&pulled)
        .unwrap()
        .1
        .contains("\"nginx\" is not in this node's image store"));
    assert_eq!(phase(&pulled), "Pending");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_the_agent_fails_its_pods_unless_told_to_leave_them() {
    let dir = tempfile::tempdir().unwrap();
    let (s, client) = started(dir.path()).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    for (node, flags) in [("stops", vec![]), ("leaves", vec!["--leave-pods"])] {
        let mut agent = NodeAgent::start(&s, dir.path(), node, &flags);
        let name = format!("on-{node}");
        pods.create(
            &PostParams::default(),
            &pod(
                &name,
                node,
                json!({"terminationGracePeriodSeconds": 3,
            "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "300"]}]}),
            ),
        )
        .await
        .unwrap();
        pod_until(&pods, &name, "Running", |p| phase(p) == "Running").await;
        assert!(agent.stop().unwrap().success(), "{}", agent.output());
        let after = pods.get(&name).await.unwrap();
        if flags.is_empty() {
            assert_eq!(phase(&after), "Failed");
            let st = after.status.clone().unwrap();
            assert_eq!(st.reason.as_deref(), Some("Terminated"));
            assert_eq!(
                condition(&after, "DisruptionTarget").as_deref(),
                Some("True")
            );
        } else {
            assert_eq!(phase(&after), "Running", "left as it was");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_nodes_run_a_deployment_with_ips_from_their_pod_cidrs() {
    let dir = tempfile::tempdir().unwrap();
    let (s, client) = started(dir.path()).await;
    let _agent = NodeAgent::start(&s, dir.path(), "sim", &["--sim", "3"]);
    let nodes: Api<Node> = Api::all(client.clone());
    let listed = until(
        "3 simulated nodes with pod CIDRs",
        || async { nodes.list(&ListParams::default()).await.unwrap().items },
        |ns: &Vec<Node>| {
            ns.len() == 3
                && ns
                    .iter()
                    .all(|n| n.spec.as_ref().and_then(|s| s.pod_cidr.as_ref()).is_some())
        },
    )
    .await;
    let names: Vec<String> = listed
        .iter()
        .map(|n| n.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(names, ["sim-0", "sim-1", "sim-2"]);
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "default");
    deploys
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
            "metadata": {"name": "web"},
            "spec": {"replicas": 6, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}))
            .unwrap(),
        )
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let running = until(
        "6 pods Running",
        || async {
            pods.list(&ListParams::default().labels("app=web"))
                .await
                .unwrap()
                .items
        },
        |ps: &Vec<Pod>| ps.len() == 6 && ps.iter().all(|p| phase(p) == "Running"),
    )
    .await;
    let mut ips = std::collections::HashSet::new();
    for p in &running {
        let node = p.spec.as_ref().unwrap().node_name.clone().unwrap();
        let cidr = listed
            .iter()
            .find(|n| n.metadata.name.as_deref() == Some(node.as_str()))
            .unwrap()
            .spec
            .as_ref()
            .unwrap()
            .pod_cidr
            .clone()
            .unwrap();
        let ip = p.status.as_ref().unwrap().pod_ip.clone().unwrap();
        let prefix = cidr.trim_end_matches(".0/24");
        assert!(ip.starts_with(&format!("{prefix}.")), "{ip} not in {cidr}");
        assert!(ips.insert(ip.clone()), "{ip} handed out twice");
        assert_eq!(condition(p, "Ready").as_deref(), Some("True"));
    }
    deploys
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 0}})),
        )
        .await
        .unwrap();
    until(
        "every pod deleted by its node",
        || async {
            pods.list(&ListParams::default().labels("app=web"))
                .await
                .unwrap()
                .items
                .len()
        },
        |n| *n == 0,
    )
    .await;
}

/// Runs kubectl 1.`minor` against `s`; (success, stdout, stderr).
fn kubectl(minor: u32, s: &Server, args: &[&str]) -> (bool, String, String) {
    let bin = format!("/usr/lib/google-cloud-sdk/bin/kubectl.1.{minor}");
    let out = std::process::Command::new(&bin)
        .arg("--kubeconfig")
        .arg(s.kubeconfig())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{bin}: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_logs_reads_containers_through_the_api_server_1_27_and_1_33() {
    let dir = tempfile::tempdir().unwrap();
    let (s, client) = started(dir.path()).await;
    let _agent = NodeAgent::start(&s, dir.path(), "w", &[]);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    for minor in [27, 33] {
        let talk = format!("talk-{minor}");
        let again = format!("again-{minor}");
        let waits = format!("waits-{minor}");
        pods.create(
            &PostParams::default(),
            &pod(
                &talk,
                "w",
                json!({"restartPolicy": "Never",
            "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c",
                "for i in 1 2 3; do echo line $i; done; echo oops >&2; sleep 2; echo last"]}]}),
            ),
        )
        .await
        .unwrap();
        pods.create(&PostParams::default(), &pod(&again, "w", json!({"containers": [
            {"name": "c", "image": "busybox", "command": ["sh", "-c", "echo started at $(date +%s%N); sleep 1; exit 1"]}]})))
            .await
            .unwrap();
        pods.create(
            &PostParams::default(),
            &pod(
                &waits,
                "w",
                json!({"containers": [
            {"name": "c", "image": "nginx"}]}),
            ),
        )
        .await
        .unwrap();
        pod_until(&pods, &talk, "running", |p| {
            container(p).started == Some(true) || phase(p) == "Succeeded"
        })
        .await;
        // Follow ends when the container does, with everything it wrote.
        let (ok, out, err) = kubectl(minor, &s, &["logs", "-f", &talk]);
        assert!(ok, "1.{minor}: {err}");
        let full = out.clone();
        // stdout and stderr are separate pipes: their lines keep their own order only.
        let stdout: Vec<&str> = out.lines().filter(|l| *l != "oops").collect();
        assert_eq!(
            stdout,
            ["line 1", "line 2", "line 3", "last"],
            "1.{minor}: {out:?}"
        );
        assert_eq!(
            out.lines().filter(|l| *l == "oops").count(),
            1,
            "1.{minor}: {out:?}"
        );
        let (_, out, _) = kubectl(minor, &s, &["logs", &talk, "--tail=1"]);
        assert_eq!(out, "last\n", "1.{minor}");
        let (_, out, _) = kubectl(minor, &s, &["logs", &talk, "--tail=1", "--timestamps"]);
        assert!(
            out.starts_with("20") && out.ends_with("Z last\n"),
            "1.{minor}: {out:?}"
        );
        let (_, out, _) = kubectl(minor, &s, &["logs", &talk, "--limit-bytes=8"]);
        assert_eq!(out, full[..8], "1.{minor}");
        let (ok, _, err) = kubectl(minor, &s, &["logs", &talk, "-c", "wrong"]);
        assert!(
            !ok && err.contains("container wrong is not valid for pod"),
            "1.{minor}: {err}"
        );
        // The previous instance of a restarted container.
        pod_until(&pods, &again, "restarted", |p| {
            container(p).restart_count >= 1
        })
        .await;
        let (ok, previous, err) = kubectl(minor, &s, &["logs", "-p", &again]);
        assert!(
            ok && previous.starts_with("started at "),
            "1.{minor}: {previous:?} {err}"
        );
        let (_, current, _) = kubectl(minor, &s, &["logs", &again]);
        assert!(
            current.starts_with("started at ") && current != previous,
            "1.{minor}: {current:?}"
        );
        // A container that never started has no logs yet.
        pod_until(&pods, &waits, "waiting for its image", |p| {
            container(p).state.and_then(|s| s.waiting).is_some()
        })
        .await;
        let (ok, _, err) = kubectl(minor, &s, &["logs", &waits]);
        assert!(
            !ok && err.contains("is waiting to start"),
            "1.{minor}: {err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_gate_readiness_and_restart_an_unhealthy_container() {
    let dir = tempfile::tempdir().unwrap();
    let (s, client) = started(dir.path()).await;
    let _agent = NodeAgent::start(&s, dir.path(), "w", &[]);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let port = common::free_port();
    // Healthy for a while, then not: the liveness probe restarts it.
    pods.create(&PostParams::default(), &pod("live", "w", json!({"containers": [{
        "name": "c", "image": "busybox",
        "command": ["sh", "-c", "touch healthy; sleep 2; rm healthy; sleep 300"],
        "livenessProbe": {"exec": {"command": ["test", "-f", "healthy"]},
                          "periodSeconds": 1, "failureThreshold": 2, "terminationGracePeriodSeconds": 1}}]})))
        .await
        .unwrap();
    // Ready while it serves /ok, unready once /ok is gone; never restarted for it.
    pods.create(&PostParams::default(), &pod("ready", "w", json!({"containers": [{
        "name": "c", "image": "busybox",
        "ports": [{"name": "http", "containerPort": port}],
        "command": ["sh", "-c", format!("echo fine > ok; python3 -m http.server {port} --bind 127.0.0.1 & sleep 4; rm ok; wait")],
        "readinessProbe": {"httpGet": {"port": "http", "path": "/ok"}, "periodSeconds": 1, "failureThreshold": 1}}]})))
        .await
        .unwrap();
    // HTTPS with a self-signed certificate: the kubelet's prober does not verify it.
    let tls_port = common::free_port();
    let https = format!(
        "import http.server,ssl\n\
         s=http.server.HTTPServer(('127.0.0.1',{tls_port}),http.server.SimpleHTTPRequestHandler)\n\
         c=ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); c.load_cert_chain('c.pem','k.pem')\n\
         s.socket=c.wrap_socket(s.socket,server_side=True); s.serve_forever()\n"
    );
    pods.create(&PostParams::default(), &pod("secure", "w", json!({"containers": [{
        "name": "c", "image": "busybox",
        "command": ["sh", "-c", "openssl req -x509 -newkey rsa:2048 -nodes -keyout k.pem -out c.pem -days 1 -subj /CN=probe 2>/dev/null; exec /usr/bin/python3 -c \"$0\"", https],
        "readinessProbe": {"httpGet": {"port": tls_port, "scheme": "HTTPS"}, "periodSeconds": 1}}]})))
        .await
        .unwrap();
    // grpc.health.v1: SERVING while the file is there, then NOT_SERVING.
    let grpc_port = common::free_port();
    let health = format!(
        "import grpc,os,concurrent.futures as f\n\
         def check(req, ctx): return b'\\x08\\x01' if os.path.exists('serving') else b'\\x08\\x02'\n\
         h=grpc.method_handlers_generic_handler('grpc.health.v1.Health',{{'Check':grpc.unary_unary_rpc_method_handler(check)}})\n\
         s=grpc.server(f.ThreadPoolExecutor(2)); s.add_generic_rpc_handlers((h,)); s.add_insecure_port('127.0.0.1:{grpc_port}'); s.start(); s.wait_for_termination()\n"
    );
    pods.create(&PostParams::default(), &pod("health", "w", json!({"containers": [{
        "name": "c", "image": "busybox",
        "command": ["sh", "-c", "touch serving; /usr/bin/python3 -c \"$0\" & sleep 5; rm serving; wait", health],
        "readinessProbe": {"grpc": {"port": grpc_port}, "periodSeconds": 1, "failureThreshold": 1}}]})))
        .await
        .unwrap();
    // Not started (so not ready) until its startup probe passes.
    pods.create(&PostParams::default(), &pod("slow", "w", json!({"containers": [{
        "name": "c", "image": "busybox",
        "command": ["sh", "-c", "sleep 2; touch started; sleep 300"],
        "startupProbe": {"exec": {"command": ["test", "-f", "started"]}, "periodSeconds": 1, "failureThreshold": 30}}]})))
        .await
        .unwrap();

    let first = pod_until(&pods, "slow", "running", |p| {
        container(p).state.and_then(|s| s.running).is_some()
    })
    .await;
    let c = container(&first);
    if c.started == Some(false) {
        assert!(!c.ready, "not ready before its startup probe passed");
    }
    pod_until(&pods, "slow", "started and ready", |p| {
        let c = container(p);
        c.started == Some(true) && c.ready
    })
    .await;

    pod_until(&pods, "ready", "ready", |p| {
        condition(p, "Ready").as_deref() == Some("True")
    })
    .await;
    let unready = pod_until(&pods, "ready", "unready once /ok is gone", |p| {
        condition(p, "Ready").as_deref() == Some("False")
    })
    .await;
    let c = container(&unready);
    assert!(
        c.state.unwrap().running.is_some() && c.restart_count == 0,
        "readiness never restarts"
    );

    pod_until(&pods, "secure", "ready through HTTPS", |p| {
        condition(p, "Ready").as_deref() == Some("True")
    })
    .await;
    pod_until(&pods, "health", "ready through grpc health", |p| {
        condition(p, "Ready").as_deref() == Some("True")
    })
    .await;
    pod_until(&pods, "health", "unready once NOT_SERVING", |p| {
        condition(p, "Ready").as_deref() == Some("False")
    })
    .await;
    let restarted = pod_until(&pods, "live", "restarted by its liveness probe", |p| {
        container(p).restart_count >= 1
    })
    .await;
    let last = container(&restarted)
        .last_state
        .unwrap()
        .terminated
        .unwrap();
    assert_eq!(last.exit_code, 143, "SIGTERM ended it: {last:?}");
    let events: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client.clone(), "default");
    let es = until(
        "the probe's events",
        || async { events.list(&ListParams::default()).await.unwrap().items },
        |es: &Vec<k8s_openapi::api::core::v1::Event>| {
            let about_live = |r: &str| {
                es.iter().any(|e| {
                    e.involved_object.name.as_deref() == Some("live")
                        && e.reason.as_deref() == Some(r)
                })
            };
            about_live("Unhealthy") && about_live("Killing")
        },
    )
    .await;
    let killing = es
        .iter()
        .find(|e| {
            e.involved_object.name.as_deref() == Some("live")
                && e.reason.as_deref() == Some("Killing")
        })
        .unwrap();
    assert_eq!(
        killing.message.as_deref(),
        Some("Container c failed liveness probe, will be restarted")
    );
    let unhealthy = es
        .iter()
        .find(|e| {
            e.involved_object.name.as_deref() == Some("live")
                && e.reason.as_deref() == Some("Unhealthy")
        })
        .unwrap();
    assert!(
        unhealthy
            .message
            .as_deref()
            .unwrap()
            .starts_with("Liveness probe failed"),
        "{unhealthy:?}"
    );
    let not_serving = es.iter().any(|e| {
        e.involved_object.name.as_deref() == Some("health")
            && e.message.as_deref().is_some_and(|m| {
                m == "Readiness probe failed: service unhealthy (responded with \"NOT_SERVING\")"
            })
    });
    assert!(not_serving, "{es:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_start_and_pre_stop_hooks_run_around_the_container() {
    let dir = tempfile::tempdir().unwrap();
    let (s, client) = started(dir.path()).await;
    let _agent = NodeAgent::start(&s, dir.path(), "w", &[]);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let marker = dir.path().join("pre-stop-ran");
    pods.create(&PostParams::default(), &pod("hooked", "w", json!({
        "terminationGracePeriodSeconds": 10,
        "containers": [{
            "name": "c", "image": "busybox",
            "command": ["sh", "-c", "until [ -f started ]; do sleep 0.1; done; echo saw post-start; trap 'exit 0' TERM; while true; do sleep 0.1; done"],
            "lifecycle": {
                "postStart": {"exec": {"command": ["sh", "-c", "echo yes > started"]}},
                "preStop": {"exec": {"command": ["sh", "-c", format!("echo $HOSTNAME-ran > {}", marker.display())]}}}}]})))
        .await
        .unwrap();
    let running = pod_until(&pods, "hooked", "Running", |p| phase(p) == "Running").await;
    let uid = running.metadata.uid.clone().unwrap();
    let log = _agent.log_file("default", "hooked", &uid, "c", 0);
    until(
        "the container saw the postStart hook's file",
        || async { log_lines(&log) },
        |l| l.iter().any(|x| x == "saw post-start"),
    )
    .await;
    assert!(!marker.exists());
    pods.delete("hooked", &DeleteParams::default())
        .await
        .unwrap();
    gone(&pods, "hooked").await;
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap().trim(),
        "hooked-ran",
        "the preStop hook ran with the container's environment"
    );
    // A failing postStart hook kills the container, which its restart policy restarts.
    pods.create(
        &PostParams::default(),
        &pod(
            "badhook",
            "w",
            json!({"containers": [{
        "name": "c", "image": "busybox", "command": ["sleep", "300"],
        "lifecycle": {"postStart": {"exec": {"command": ["false"]}}}}]}),
        ),
    )
    .await
    .unwrap();
    pod_until(&pods, "badhook", "restarted after its failed hook", |p| {
        container(p).restart_count >= 1
    })
    .await;
    let events: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client.clone(), "default");
    until(
        "a FailedPostStartHook event",
        || async { events.list(&ListParams::default()).await.unwrap().items },
        |es: &Vec<k8s_openapi::api::core::v1::Event>| {
            es.iter().any(|e| {
                e.involved_object.name.as_deref() == Some("badhook")
                    && e.reason.as_deref() == Some("FailedPostStartHook")
            })
        },
    )
    .await;
}

/// kubectl 1.`minor` with `stdin` fed to it; (exit code, stdout, stderr).
fn kubectl_fed(minor: u32, s: &Server, args: &[&str], stdin: &str) -> (i32, String, String) {
    use std::io::Write;
    let bin = format!("/usr/lib/google-cloud-sdk/bin/kubectl.1.{minor}");
    let mut child = std::process::Command::new(&bin)
        .arg("--kubeconfig")
        .arg(s.kubeconfig())
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{bin}: {e}"));
    let mut input = child.stdin.take().unwrap();
    let text = stdin.to_string();
    // Fed slowly, line by line, as a person (or a pipe) would.
    let feeder = std::thread::spawn(move || {
        for line in text.split_inclusive('\n') {
            let _ = input.write_all(line.as_bytes());
            let _ = input.flush();
            std::thread::sleep(Duration::from_millis(300));
        }
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Starts `kubectl port-forward` to `target` on a local port it picks; returns the process
/// and the local port it prints.
fn port_forward(minor: u32, s: &Server, target: &str, port: u16) -> (std::process::Child, u16) {
    use std::io::BufRead;
    let bin = format!("/usr/lib/google-cloud-sdk/bin/kubectl.1.{minor}");
    let mut child = std::process::Command::new(&bin)
        .arg("--kubeconfig")
        .arg(s.kubeconfig())
        .args(["port-forward", "--address", "127.0.0.1", target])
        .arg(format!(":{port}"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    // "Forwarding from 127.0.0.1:PORT -> TARGET"
    let local = first
        .strip_prefix("Forwarding from 127.0.0.1:")
        .and_then(|r| r.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("1.{minor}: {first:?}"));
    std::thread::spawn(move || for _ in lines {});
    (child, local)
}

/// One HTTP/1.0 GET of `/` on 127.0.0.1:`port`; the whole answer.
fn http_get(port: u16) -> String {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.set_read_timeout(Some(PATIENCE)).unwrap();
    c.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let mut out = String::new();
    let _ = c.read_to_string(&mut out);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_exec_attach_cp_port_forward_and_top_reach_containers_1_27_and_1_33() {
    let dir = tempfile::tempdir().unwrap();
    let (s, client) = started(dir.path()).await;
    let _agent = NodeAgent::start(&s, dir.path(), "w", &[]);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    // A free port for the web pod to listen on (the process runtime shares the node's network).
    let web_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let site = dir.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("index.html"), "served through the tunnel\n").unwrap();
    for (name, spec) in [
        (
            "shell",
            json!({"containers": [{"name": "c", "image": "busybox",
            "env": [{"name": "GREETING", "value": "hi"}],
            "command": ["sleep", "3600"]}]}),
        ),
        (
            "web",
            json!({"containers": [{"name": "c", "image": "python",
            "workingDir": site.to_str().unwrap(),
            "command": ["python3", "-m", "http.server", web_port.to_string(), "--bind", "127.0.0.1"]}]}),
        ),
        (
            "ticker",
            json!({"containers": [{"name": "c", "image": "busybox",
            "command": ["sh", "-c", "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done"]}]}),
        ),
        (
            "reader",
            json!({"containers": [{"name": "c", "image": "busybox", "stdin": true, "stdinOnce": true,
            "command": ["sh", "-c", "while read l; do echo \"got $l\"; done; echo bye"]}]}),
        ),
    ] {
        pods.create(&PostParams::default(), &pod(name, "w", spec))
            .await
            .unwrap();
    }
    for name in ["shell", "web", "ticker", "reader"] {
        pod_until(&pods, name, "running", |p| container(p).ready).await;
    }
    for (round, minor) in [(1, 27), (2, 33)] {
        // exec: output, stderr and the exit code.
        let (code, out, err) = kubectl_fed(
            minor,
            &s,
            &[
                "exec",
                "shell",
                "--",
                "sh",
                "-c",
                "echo out $GREETING $HOSTNAME; echo err >&2; exit 3",
            ],
            "",
        );
        assert_eq!(
            (code, out.as_str()),
            (3, "out hi shell\n"),
            "1.{minor}: {err}"
        );
        assert!(
            err.contains("err\n") && err.contains("command terminated with exit code 3"),
            "1.{minor}: {err}"
        );
        // exec -i: stdin reaches the command and its end ends the command's input.
        let (code, out, err) = kubectl_fed(
            minor,
            &s,
            &["exec", "-i", "shell", "--", "sh", "-c", "cat; echo done"],
            "first\nsecond\n",
        );
        assert_eq!(
            (code, out.as_str()),
            (0, "first\nsecond\ndone\n"),
            "1.{minor}: {err}"
        );
        // exec -it, under a terminal of its own (util-linux's script), resized to it.
        let out = std::process::Command::new("script")
            .args(["-qec"])
            .arg(format!(
                "stty cols 120 rows 40; /usr/lib/google-cloud-sdk/bin/kubectl.1.{minor} --kubeconfig {} exec -it shell -- sh -c 'echo in-tty $(tty) $(stty size); exit 4'",
                s.kubeconfig().display()
            ))
            .arg("/dev/null")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
        assert!(text.contains("in-tty /dev/pts/"), "1.{minor}: {text:?}");
        assert!(text.contains(" 40 120"), "1.{minor}: {text:?}");
        assert!(
            text.contains("command terminated with exit code 4"),
            "1.{minor}: {text:?}"
        );
        // Errors: a container the pod does not have, a program the container does not have.
        let (code, _, err) = kubectl_fed(
            minor,
            &s,
            &["exec", "shell", "-c", "bogus", "--", "true"],
            "",
        );
        assert!(
            code != 0 && err.contains("container bogus is not valid for pod shell"),
            "1.{minor}: {err}"
        );
        let (code, _, err) = kubectl_fed(minor, &s, &["exec", "shell", "--", "nosuch"], "");
        assert!(
            code != 0 && err.contains("exec: \"nosuch\": executable file not found in $PATH"),
            "1.{minor}: {err}"
        );
        // cp both ways (tar through exec).
        let blob: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let src = dir.path().join(format!("blob-{minor}"));
        std::fs::write(&src, &blob).unwrap();
        let in_pod = dir.path().join(format!("in-pod-{minor}"));
        let back = dir.path().join(format!("back-{minor}"));
        let (code, _, err) = kubectl_fed(
            minor,
            &s,
            &[
                "cp",
                src.to_str().unwrap(),
                &format!("shell:{}", in_pod.display()),
            ],
            "",
        );
        assert_eq!(code, 0, "1.{minor}: {err}");
        let (code, _, err) = kubectl_fed(
            minor,
            &s,
            &[
                "cp",
                &format!("shell:{}", in_pod.display()),
                back.to_str().unwrap(),
            ],
            "",
        );
        assert_eq!(code, 0, "1.{minor}: {err}");
        assert!(
            std::fs::read(&back).unwrap() == blob,
            "1.{minor}: cp changed the bytes"
        );
        // port-forward: two connections through one forward (SPDY on 1.27, SPDY in WebSocket on 1.33).
        let (mut forward, local) = port_forward(minor, &s, "pod/web", web_port);
        for _ in 0..2 {
            let answer = http_get(local);
            assert!(
                answer.starts_with("HTTP/1.0 200")
                    && answer.ends_with("served through the tunnel\n"),
                "1.{minor}: {answer:?}"
            );
        }
        forward.kill().unwrap();
        let _ = forward.wait();
        // attach: the container's output from now on.
        let bin = format!("/usr/lib/google-cloud-sdk/bin/kubectl.1.{minor}");
        let mut attach = std::process::Command::new(&bin)
            .arg("--kubeconfig")
            .arg(s.kubeconfig())
            .args(["attach", "ticker"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut lines =
            std::io::BufRead::lines(std::io::BufReader::new(attach.stdout.take().unwrap()));
        let first: u32 = lines
            .next()
            .unwrap()
            .unwrap()
            .strip_prefix("tick ")
            .unwrap()
            .parse()
            .unwrap();
        let second: u32 = lines
            .next()
            .unwrap()
            .unwrap()
            .strip_prefix("tick ")
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(second, first + 1, "1.{minor}");
        attach.kill().unwrap();
        let _ = attach.wait();
        // attach -i to a stdinOnce container: its input, then its end.
        let (code, out, err) = kubectl_fed(minor, &s, &["attach", "-i", "reader"], "one\ntwo\n");
        assert_eq!(code, 0, "1.{minor}: {err}");
        assert!(
            out.contains("got one\ngot two\nbye\n"),
            "1.{minor}: {out:?} {err}"
        );
        // stdinOnce: the container ended when the client's input did, and was restarted.
        pod_until(&pods, "reader", "restarted with a new stdin", |p| {
            container(p).restart_count >= round && container(p).ready
        })
        .await;
    }
    // kubectl top: the agent's samples (a rate needs two, 10 s apart) through metrics.k8s.io.
    for minor in [27, 33] {
        let out = until(
            "kubectl top pod with a figure for the ticker",
            || async { kubectl(minor, &s, &["top", "pod", "--no-headers"]).1 },
            |out: &String| out.lines().any(|l| l.starts_with("ticker ")),
        )
        .await;
        let ticker: Vec<&str> = out
            .lines()
            .find(|l| l.starts_with("ticker "))
            .unwrap()
            .split_whitespace()
            .collect();
        assert!(
            ticker[1].ends_with('m') && ticker[2].ends_with("Mi"),
            "1.{minor}: {out}"
        );
        let (ok, out, err) = kubectl(minor, &s, &["top", "node", "--no-headers"]);
        assert!(ok && out.starts_with("w "), "1.{minor}: {out} {err}");
        let (ok, _, err) = kubectl(minor, &s, &["top", "pod", "nope"]);
        assert!(
            !ok && err.contains("podmetrics.metrics.k8s.io \"default/nope\" not found"),
            "1.{minor}: {err}"
        );
    }
    // nodes/proxy reaches the agent's endpoint.
    let (ok, out, err) = kubectl(33, &s, &["get", "--raw", "/api/v1/nodes/w/proxy/healthz"]);
    assert!(ok && out == "ok", "{out} {err}");
    // The official Python client (WebSocket v4.channel.k8s.io): exec with stdin and the exit
    // code, and port-forward; Debian's client and the newest from PyPI.
    let kubeconfig = s.kubeconfig();
    let port = web_port.to_string();
    for python in [
        std::path::PathBuf::from(DEBIAN_PYTHON),
        newest_client_python(),
    ] {
        run_script(
            &python,
            &script("streams.py"),
            &[kubeconfig.to_str().unwrap(), &port],
            "python streams ok",
            &|| s.log(),
        );
    }
}

/// Runs `kubectl exec POD -- argv` (1.33); its stdout, failing on an error.
fn exec_in(s: &Server, pod: &str, argv: &[&str]) -> String {
    let mut args = vec!["exec", pod, "--"];
    args.extend_from_slice(argv);
    let (ok, out, err) = kubectl(33, s, &args);
    assert!(ok, "exec {argv:?} in {pod}: {err}");
    out
}

/// What of the sandbox runtime of node `key` is still on the machine: links, the nftables
/// table, cgroups and helper processes.
fn sandbox_leftovers(key: &str) -> Vec<String> {
    let mut left = Vec::new();
    let links = std::process::Command::new("ip")
        .args(["-o", "link", "show"])
        .output()
        .unwrap();
    for line in String::from_utf8_lossy(&links.stdout).lines() {
        if line.contains(&format!("capstan{key}")) || line.contains(&format!("cpv{key}")) {
            left.push(line.to_string());
        }
    }
    let tables = std::process::Command::new("nft")
        .args(["list", "tables"])
        .output()
        .unwrap();
    for line in String::from_utf8_lossy(&tables.stdout).lines() {
        if line.contains(&format!("capstan_{key}")) {
            left.push(line.to_string());
        }
    }
    for root in [
        "/sys/fs/cgroup/memory",
        "/sys/fs/cgroup/cpu",
        "/sys/fs/cgroup/pids",
        "/sys/fs/cgroup",
    ] {
        let p = std::path::Path::new(root).join(format!("capstan.{key}"));
        if p.exists() {
            left.push(p.display().to_string());
        }
    }
    left
}

/// Held by each test that runs sandbox pods: the helper count checked after stopping is the
/// machine's.
static SANDBOX_TESTS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The helper processes (`capstan sandbox-init …`) running now.
fn sandbox_helpers() -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read(e.path().join("cmdline"))
                .is_ok_and(|c| c.split(|b| *b == 0).nth(1) == Some(&b"sandbox-init"[..]))
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandboxed_pods_get_their_own_network_namespaces_volumes_and_limits_and_leave_nothing_behind(
) {
    let _alone = SANDBOX_TESTS.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let (s, client) = started(dir.path()).await;
    let helpers_before = sandbox_helpers();
    let mut w1 = NodeAgent::start(&s, dir.path(), "sb-1", &["--runtime", "sandbox"]);
    let mut w2 = NodeAgent::start(&s, dir.path(), "sb-2", &["--runtime", "sandbox"]);
    let nodes: Api<Node> = Api::all(client.clone());
    let cidr_of = |n: &Node| n.spec.as_ref().and_then(|s| s.pod_cidr.clone());
    for n in ["sb-1", "sb-2"] {
        until(
            &format!("{n} with a pod CIDR"),
            || async { nodes.get_opt(n).await.unwrap() },
            |n: &Option<Node>| n.as_ref().and_then(cidr_of).is_some(),
        )
        .await;
    }
    let ns = "default";
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    cms.create(
        &PostParams::default(),
        &serde_json::from_value(
            json!({"metadata": {"name": "cfg"}, "data": {"greeting": "hello", "other": "x"}}),
        )
        .unwrap(),
    )
    .await
    .unwrap();
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client.clone(), ns);
    secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(
                json!({"metadata": {"name": "sec"}, "stringData": {"token": "s3cret"}}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let host_dir = dir.path().join("host-volume");
    std::fs::create_dir_all(&host_dir).unwrap();
    std::fs::set_permissions(
        &host_dir,
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    // A server on the second node, bound to every address of its pod.
    let server = "import socket,os\n\
        s=socket.socket(); s.bind(('0.0.0.0', 8080)); s.listen()\n\
        while True:\n    c,a=s.accept(); c.sendall(('from '+os.uname().nodename+'\\n').encode()); c.close()\n";
    pods.create(
        &PostParams::default(),
        &pod(
            "web",
            "sb-2",
            json!({"containers": [{"name": "c", "image": "python",
            "command": ["/usr/bin/python3", "-c", server],
            "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1}}]}),
        ),
    )
    .await
    .unwrap();
    pods.create(
        &PostParams::default(),
        &serde_json::from_value(json!({
            "metadata": {"name": "box", "labels": {"app": "box"}},
            "spec": {"nodeName": "sb-1",
                "securityContext": {"runAsUser": 1000, "runAsGroup": 3000},
                "containers": [{"name": "c", "image": "busybox",
                    "command": ["sh", "-c", "echo pid $$$$; echo scratch > /scratch/f; touch /scratch-ro/x 2>/dev/null || echo read-only; exec sleep 3600"],
                    "resources": {"limits": {"memory": "64Mi", "cpu": "500m"}},
                    "volumeMounts": [
                        {"name": "scratch", "mountPath": "/scratch"},
                        {"name": "scratch", "mountPath": "/scratch-ro", "readOnly": true},
                        {"name": "cfg", "mountPath": "/etc/cfg"},
                        {"name": "sec", "mountPath": "/etc/sec", "readOnly": true},
                        {"name": "info", "mountPath": "/etc/podinfo"},
                        {"name": "proj", "mountPath": "/etc/proj"},
                        {"name": "mem", "mountPath": "/mem"},
                        {"name": "host", "mountPath": "/host"}]}],
                "volumes": [
                    {"name": "scratch", "emptyDir": {}},
                    {"name": "mem", "emptyDir": {"medium": "Memory", "sizeLimit": "8Mi"}},
                    {"name": "cfg", "configMap": {"name": "cfg"}},
                    {"name": "sec", "secret": {"secretName": "sec", "defaultMode": 0o444}},
                    {"name": "info", "downwardAPI": {"items": [
                        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                        {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}]}},
                    {"name": "proj", "projected": {"sources": [
                        {"configMap": {"name": "cfg", "items": [{"key": "greeting", "path": "g/greeting"}]}},
                        {"secret": {"name": "sec"}}]}},
                    {"name": "host", "hostPath": {"path": host_dir.to_str().unwrap(), "type": "Directory"}}]}
        }))
        .unwrap(),
    )
    .await
    .unwrap();
    let web = pod_until(&pods, "web", "web ready", |p| container(p).ready).await;
    let boxed = pod_until(&pods, "box", "box running", |p| container(p).ready).await;
    let web_ip = web.status.as_ref().unwrap().pod_ip.clone().unwrap();
    let box_ip = boxed.status.as_ref().unwrap().pod_ip.clone().unwrap();
    // Each pod has an address of its node's pod CIDR, not the node's.
    for (ip, node) in [(&web_ip, "sb-2"), (&box_ip, "sb-1")] {
        let cidr = cidr_of(&nodes.get(node).await.unwrap()).unwrap();
        let prefix = cidr.trim_end_matches(".0/24");
        assert!(ip.starts_with(&format!("{prefix}.")), "{ip} not in {cidr}");
    }
    assert_eq!(
        boxed.status.as_ref().unwrap().host_ip.as_deref(),
        Some("127.0.0.1")
    );
    // Its own UTS, PID and network namespaces: the hostname is the pod's name, its shell was
    // PID 1, and its eth0 holds its IP.
    assert_eq!(
        exec_in(&s, "box", &["cat", "/proc/sys/kernel/hostname"]).trim(),
        "box"
    );
    let addrs = exec_in(&s, "box", &["cat", "/proc/net/fib_trie"]);
    assert!(addrs.contains(&box_ip), "{addrs}");
    assert!(exec_in(&s, "box", &["cat", "/etc/hosts"]).contains(&format!("{box_ip}\tbox")));
    assert_eq!(exec_in(&s, "box", &["id", "-u"]).trim(), "1000");
    assert_eq!(exec_in(&s, "box", &["id", "-g"]).trim(), "3000");
    let ps = exec_in(&s, "box", &["ls", "/proc"]);
    assert!(ps.lines().any(|l| l == "1"), "{ps}");
    // Another pod, on another node agent, reached by its IP.
    let fetched = exec_in(
        &s,
        "box",
        &["/usr/bin/python3", "-c", &format!(
            "import socket; c=socket.create_connection(('{web_ip}', 8080), timeout=10); print(c.recv(100).decode().strip())"
        )],
    );
    assert_eq!(fetched.trim(), "from web");
    // port-forward reaches the pod's own localhost, through its network namespace.
    let (mut forward, local) = port_forward(33, &s, "pod/web", 8080);
    assert_eq!(http_get(local), "from web\n");
    forward.kill().unwrap();
    let _ = forward.wait();
    // Volumes: content, modes, read-only, and the emptyDir and hostPath shared with the host.
    assert_eq!(exec_in(&s, "box", &["cat", "/etc/cfg/greeting"]), "hello");
    assert_eq!(exec_in(&s, "box", &["cat", "/etc/sec/token"]), "s3cret");
    assert_eq!(
        exec_in(&s, "box", &["stat", "-L", "-c", "%a", "/etc/sec/token"]).trim(),
        "444"
    );
    assert_eq!(
        exec_in(&s, "box", &["cat", "/etc/podinfo/labels"]),
        "app=\"box\""
    );
    assert_eq!(exec_in(&s, "box", &["cat", "/etc/podinfo/name"]), "box");
    assert_eq!(
        exec_in(&s, "box", &["cat", "/etc/proj/g/greeting"]),
        "hello"
    );
    assert_eq!(exec_in(&s, "box", &["cat", "/etc/proj/token"]), "s3cret");
    assert_eq!(exec_in(&s, "box", &["cat", "/scratch/f"]), "scratch\n");
    // A memory-backed emptyDir is a tmpfs of its sizeLimit.
    assert_eq!(
        exec_in(&s, "box", &["stat", "-f", "-c", "%T %b %S", "/mem"]).trim(),
        "tmpfs 2048 4096"
    );
    exec_in(&s, "box", &["sh", "-c", "echo from-pod > /host/f"]);
    assert_eq!(
        std::fs::read_to_string(host_dir.join("f")).unwrap(),
        "from-pod\n"
    );
    let uid = boxed.metadata.uid.clone().unwrap();
    let log = log_lines(&w1.log_file(ns, "box", &uid, "c", 0));
    assert_eq!(log, ["pid 1", "read-only"], "{log:?}");
    // The container's writes outside its volumes stay in its own root.
    exec_in(
        &s,
        "box",
        &["sh", "-c", "echo mine > /var/tmp/capstan-sandbox-probe"],
    );
    assert_eq!(
        exec_in(&s, "box", &["cat", "/var/tmp/capstan-sandbox-probe"]),
        "mine\n"
    );
    assert!(!std::path::Path::new("/var/tmp/capstan-sandbox-probe").exists());
    // A ConfigMap update reaches the file.
    cms.patch(
        "cfg",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"greeting": "updated"}})),
    )
    .await
    .unwrap();
    until(
        "the ConfigMap update in the pod's file",
        || async { exec_in(&s, "box", &["cat", "/etc/cfg/greeting"]) },
        |g: &String| g == "updated",
    )
    .await;
    // Its memory limit is its cgroup's: going past it is an OOM kill.
    pods.create(
        &PostParams::default(),
        &pod(
            "hog",
            "sb-1",
            json!({"restartPolicy": "Never", "containers": [{"name": "c", "image": "python",
            "command": ["/usr/bin/python3", "-c", "b = b'x' * (300 << 20); print(len(b))"],
            "resources": {"limits": {"memory": "32Mi"}}}]}),
        ),
    )
    .await
    .unwrap();
    // terminationMessagePath: the file the container wrote; FallbackToLogsOnError: its log.
    pods.create(
        &PostParams::default(),
        &pod("last-words", "sb-1", json!({"restartPolicy": "Never", "containers": [
            {"name": "file", "image": "busybox", "terminationMessagePath": "/tmp/done",
             "command": ["sh", "-c", "echo all done > /tmp/done; ls /dev > /dev/termination-log 2>&1; exit 0"]},
            {"name": "logs", "image": "busybox", "terminationMessagePolicy": "FallbackToLogsOnError",
             "command": ["sh", "-c", "echo something broke; exit 3"]}]})),
    )
    .await
    .unwrap();
    let words = pod_until(&pods, "last-words", "last-words ended", |p| {
        phase(p) == "Failed"
    })
    .await;
    let ended = |name: &str| {
        words
            .status
            .as_ref()
            .unwrap()
            .container_statuses
            .as_ref()
            .unwrap()
            .iter()
            .find(|c| c.name == name)
            .unwrap()
            .state
            .clone()
            .unwrap()
            .terminated
            .unwrap()
    };
    assert_eq!(ended("file").message.as_deref(), Some("all done\n"));
    assert_eq!(ended("logs").message.as_deref(), Some("something broke\n"));
    assert_eq!(ended("logs").exit_code, 3);
    // The container's /dev is its own: the host's has no such file.
    assert!(!std::path::Path::new("/dev/termination-log").exists());
    let hog = pod_until(&pods, "hog", "hog ended", |p| phase(p) == "Failed").await;
    let ended = container(&hog).state.unwrap().terminated.unwrap();
    assert_eq!(ended.reason.as_deref(), Some("OOMKilled"));
    assert_eq!(ended.exit_code, 137);
    // Stopping the agents removes every namespace, link, table, cgroup and helper they made.
    let keys: Vec<String> = ["sb-1", "sb-2"]
        .iter()
        .map(|n| capstan_node::runtime::sandbox::node_key(n))
        .collect();
    assert!(
        !sandbox_leftovers(&keys[0]).is_empty(),
        "the bridge should exist while sb-1 runs"
    );
    let memory_volume = mounts_under(dir.path());
    assert!(
        memory_volume
            .iter()
            .any(|m| m.contains("kubernetes.io~empty-dir/mem")),
        "{memory_volume:?}"
    );
    w1.stop();
    w2.stop();
    for key in &keys {
        assert_eq!(sandbox_leftovers(key), Vec::<String>::new());
    }
    assert_eq!(sandbox_helpers(), helpers_before);
    assert_eq!(mounts_under(dir.path()), Vec::<String>::new());
}

/// The host's mount points under `dir`.
fn mounts_under(dir: &std::path::Path) -> Vec<String> {
    let prefix = dir.display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|p| p.starts_with(&prefix))
        .map(str::to_string)
        .collect()
}

/// The node's `status.images` names.
fn node_image_names(n: &Node) -> Vec<String> {
    n.status
        .as_ref()
        .and_then(|s| s.images.clone())
        .unwrap_or_default()
        .into_iter()
        .flat_map(|i| i.names.unwrap_or_default())
        .collect()
}

fn waiting(p: &Pod) -> Option<(String, String)> {
    let w = container(p).state?.waiting?;
    Some((w.reason.unwrap_or_default(), w.message.unwrap_or_default()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_imported_or_pulled_with_pull_secrets_are_the_containers_roots() {
    use common::test_image::{Registry, TestImage};
    let _alone = SANDBOX_TESTS.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let (s, client) = started(dir.path()).await;
    let image = TestImage::build(dir.path());
    let registry = Registry::start(dir.path());
    registry.push(&image, "team/tools", "2");
    let agent_dir = dir.path().join("node-img-1");
    // Imported before the agent starts, with the command line an operator uses.
    for archive in [
        image.docker_archive("example.test/tools:1"),
        image.oci_archive("example.test/tools:oci"),
    ] {
        let out = std::process::Command::new(common::BIN)
            .args(["node", "image", "import"])
            .arg(&archive)
            .arg("--data-dir")
            .arg(&agent_dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let listed = std::process::Command::new(common::BIN)
        .args(["node", "image", "list", "--data-dir"])
        .arg(&agent_dir)
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(listed.contains("example.test/tools:1"), "{listed}");
    assert!(listed.contains("example.test/tools:oci"), "{listed}");
    let pulled_name = format!("{}/team/tools:2", registry.host);
    let endpoint = format!("{}=http://{}", registry.host, registry.host);
    let mut agent = NodeAgent::start(
        &s,
        dir.path(),
        "img-1",
        &["--runtime", "sandbox", "--registry", &endpoint],
    );
    let nodes: Api<Node> = Api::all(client.clone());
    until(
        "img-1 with a pod CIDR and its images listed",
        || async { nodes.get_opt("img-1").await.unwrap() },
        |n: &Option<Node>| {
            n.as_ref().is_some_and(|n| {
                n.spec.as_ref().and_then(|s| s.pod_cidr.clone()).is_some()
                    && node_image_names(n).contains(&"example.test/tools:1".to_string())
            })
        },
    )
    .await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let create = |name: &str, spec: serde_json::Value| {
        let p = pod(name, "img-1", spec);
        let pods = pods.clone();
        async move { pods.create(&PostParams::default(), &p).await.unwrap() }
    };
    // The imported image: its entrypoint and cmd, user, working directory and environment,
    // in its own root.
    create(
        "imported",
        json!({"containers": [{"name": "c", "image": "example.test/tools:1"}]}),
    )
    .await;
    // An image that is nowhere: without a command it waits; with one it runs on the host.
    create(
        "missing",
        json!({"containers": [{"name": "c", "image": "example.test/absent:1"}]}),
    )
    .await;
    create(
        "on-host",
        json!({"containers": [{"name": "c", "image": "example.test/absent:1",
            "command": ["/bin/sh", "-c", "test -e /etc/os-release && echo on-host; exec sleep 3600"]}]}),
    )
    .await;
    // The registry wants a login: without the pull secret the pull is refused.
    create(
        "no-secret",
        json!({"containers": [{"name": "c", "image": pulled_name}]}),
    )
    .await;
    let imported = pod_until(&pods, "imported", "the imported image running", |p| {
        container(p).state.and_then(|s| s.running).is_some()
    })
    .await;
    // Both archives hold the same image (one config): one stored image, whose imageID is
    // the repo digest the OCI layout gave it.
    assert_eq!(
        container(&imported).image_id,
        format!("example.test/tools@{}", image.manifest_digest)
    );
    let logs = until(
        "the imported image's output",
        || async {
            pods.logs("imported", &Default::default())
                .await
                .unwrap_or_default()
        },
        |l: &String| l.contains("no-host-files"),
    )
    .await;
    assert_eq!(
        logs.lines().collect::<Vec<_>>(),
        [
            "from-image yes",
            "built in the test",
            "1234",
            "/work",
            "no-host-files"
        ],
        "{logs}"
    );
    assert_eq!(
        exec_in(&s, "imported", &["cat", "/etc/capstan-image"]),
        "built in the test\n"
    );
    let missing = pod_until(&pods, "missing", "the missing image reported", |p| {
        waiting(p).is_some_and(|(r, _)| r == "ErrImagePull" || r == "ImagePullBackOff")
    })
    .await;
    let (_, message) = waiting(&missing).unwrap();
    assert!(
        message.contains("pulls from example.test are disabled"),
        "{message}"
    );
    pod_until(&pods, "on-host", "the fallback running", |p| {
        container(p).state.and_then(|s| s.running).is_some()
    })
    .await;
    until(
        "the fallback's output",
        || async {
            pods.logs("on-host", &Default::default())
                .await
                .unwrap_or_default()
        },
        |l: &String| l.contains("on-host"),
    )
    .await;
    let refused = pod_until(&pods, "no-secret", "the unauthorised pull reported", |p| {
        waiting(p).is_some_and(|(r, _)| r == "ErrImagePull" || r == "ImagePullBackOff")
    })
    .await;
    let (_, message) = waiting(&refused).unwrap();
    assert!(
        message.to_lowercase().contains("authoriz") || message.contains("401"),
        "{message}"
    );
    // With the login as a dockerconfigjson secret, the pull goes through.
    let auth = {
        let out = std::process::Command::new("base64")
            .args(["-w0"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        let mut out = out;
        out.stdin
            .take()
            .unwrap()
            .write_all(format!("{}:{}", registry.user, registry.password).as_bytes())
            .unwrap();
        String::from_utf8(out.wait_with_output().unwrap().stdout).unwrap()
    };
    let config = json!({"auths": {registry.host.clone(): {"auth": auth}}}).to_string();
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(client.clone(), "default");
    secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": {"name": "regcred"},
                "type": "kubernetes.io/dockerconfigjson",
                "stringData": {".dockerconfigjson": config}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    create(
        "pulled",
        json!({"imagePullSecrets": [{"name": "regcred"}],
               "containers": [{"name": "c", "image": pulled_name}]}),
    )
    .await;
    let pulled = pod_until(&pods, "pulled", "the pulled image running", |p| {
        container(p).state.and_then(|s| s.running).is_some()
    })
    .await;
    assert_eq!(
        container(&pulled).image_id,
        format!("{}/team/tools@{}", registry.host, image.manifest_digest)
    );
    until(
        "the pulled image's output",
        || async {
            pods.logs("pulled", &Default::default())
                .await
                .unwrap_or_default()
        },
        |l: &String| l.contains("from-image yes") && l.contains("no-host-files"),
    )
    .await;
    let events: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client.clone(), "default");
    let texts: Vec<String> = events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.involved_object.name.as_deref() == Some("pulled"))
        .filter_map(|e| e.message)
        .collect();
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with(&format!("Successfully pulled image {pulled_name:?}"))),
        "{texts:?}"
    );
    until(
        "the pulled image in the node's status",
        || async { nodes.get("img-1").await.unwrap() },
        |n: &Node| {
            node_image_names(n).contains(&format!(
                "{}/team/tools@{}",
                registry.host, image.manifest_digest
            ))
        },
    )
    .await;
    for name in ["imported", "missing", "on-host", "no-secret", "pulled"] {
        pods.delete(name, &DeleteParams::default()).await.unwrap();
    }
    for name in ["imported", "missing", "on-host", "no-secret", "pulled"] {
        gone(&pods, name).await;
    }
    agent.stop();
}
