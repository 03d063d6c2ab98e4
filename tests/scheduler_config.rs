//! The scheduler's configuration through a real `capstan server`: a KubeSchedulerConfiguration
//! whose extender (written here in Rust) filters, prioritizes and binds; the legacy Policy file
//! with an extender written in Python; and a wrong file refused at start, naming what is wrong.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Server;
use k8s_openapi::api::core::v1::{Binding, Node, ObjectReference, Pod};
use kube::api::{ObjectMeta, Patch, PatchParams, PostParams};
use kube::Api;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PATIENCE: Duration = Duration::from_secs(60);

async fn node(client: &kube::Client, name: &str) {
    let n: Node = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    let api: Api<Node> = Api::all(client.clone());
    api.create(&PostParams::default(), &n).await.unwrap();
    let status = json!({"status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
        "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"}}});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(status))
        .await
        .unwrap();
}

async fn pod(client: &kube::Client, name: &str, extra: Value) {
    let mut p = json!({"metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "registry.example/app:v1"}]}});
    if let (Some(spec), Some(e)) = (p["spec"].as_object_mut(), extra.as_object()) {
        spec.extend(e.clone());
    }
    let p: Pod = serde_json::from_value(p).unwrap();
    Api::<Pod>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &p)
        .await
        .unwrap();
}

async fn bound(client: &kube::Client, name: &str) -> String {
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let end = Instant::now() + PATIENCE;
    loop {
        if let Some(n) = api.get(name).await.unwrap().spec.and_then(|s| s.node_name) {
            return n;
        }
        assert!(Instant::now() < end, "{name} was never bound");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn condition_message(client: &kube::Client, name: &str) -> String {
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let end = Instant::now() + PATIENCE;
    loop {
        let p = api.get(name).await.unwrap();
        let m = p
            .status
            .and_then(|s| s.conditions)
            .unwrap_or_default()
            .into_iter()
            .find(|c| c.type_ == "PodScheduled" && c.status == "False")
            .and_then(|c| c.message);
        if let Some(m) = m {
            return m;
        }
        assert!(Instant::now() < end, "{name} never became unschedulable");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What the Rust extender saw, and the client it binds with once the server is up.
#[derive(Default)]
struct Seen {
    calls: Vec<String>,
    client: Option<kube::Client>,
}

/// Answers one extender call: filter refuses nodes named `*reject*`, prioritize gives 10 to
/// `*prefer*`, bind creates the pod's binding through the API.
async fn answer(seen: &Arc<Mutex<Seen>>, verb: &str, args: &Value) -> Value {
    let names: Vec<String> = args["Nodes"]["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|n| n["metadata"]["name"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default();
    seen.lock()
        .unwrap()
        .calls
        .push(format!("{verb} {}", names.join(",")));
    match verb {
        "filter" => {
            let keep: Vec<&Value> = args["Nodes"]["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|n| !n["metadata"]["name"].as_str().unwrap().contains("reject"))
                .collect();
            let failed: serde_json::Map<String, Value> = names
                .iter()
                .filter(|n| n.contains("reject"))
                .map(|n| (n.clone(), json!("rejected by the rust extender")))
                .collect();
            json!({"Nodes": {"items": keep}, "FailedNodes": failed, "Error": ""})
        }
        "prioritize" => json!(names
            .iter()
            .map(|n| json!({"Host": n, "Score": if n.contains("prefer") { 10 } else { 0 }}))
            .collect::<Vec<_>>()),
        "bind" => {
            let client = seen.lock().unwrap().client.clone().unwrap();
            let binding = Binding {
                metadata: ObjectMeta {
                    name: args["PodName"].as_str().map(String::from),
                    ..ObjectMeta::default()
                },
                target: ObjectReference {
                    kind: Some("Node".into()),
                    name: args["Node"].as_str().map(String::from),
                    ..ObjectReference::default()
                },
            };
            let api: Api<Pod> = Api::namespaced(client, args["PodNamespace"].as_str().unwrap());
            let r: Result<Value, _> = api
                .create_subresource(
                    "binding",
                    args["PodName"].as_str().unwrap(),
                    &PostParams::default(),
                    &binding,
                )
                .await;
            json!({"Error": r.err().map(|e| e.to_string()).unwrap_or_default()})
        }
        _ => json!({}),
    }
}

/// A minimal HTTP/1.1 JSON server on a free loopback port.
async fn rust_extender(seen: Arc<Mutex<Seen>>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 65536];
                let (head_end, length) = loop {
                    let n = sock.read(&mut chunk).await.unwrap();
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..i]).to_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .map(|v| v.trim().parse::<usize>().unwrap())
                            .unwrap_or(0);
                        break (i + 4, len);
                    }
                };
                while buf.len() < head_end + length {
                    let n = sock.read(&mut chunk).await.unwrap();
                    buf.extend_from_slice(&chunk[..n]);
                }
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                let verb = path
                    .trim_end_matches('/')
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_string();
                let args: Value =
                    serde_json::from_slice(&buf[head_end..head_end + length]).unwrap();
                let body = answer(&seen, &verb, &args).await.to_string();
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                sock.write_all(resp.as_bytes()).await.unwrap();
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extender_filters_prioritizes_and_binds_per_the_scheduler_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let port = rust_extender(seen.clone()).await;
    let config = dir.path().join("scheduler.yaml");
    std::fs::write(
        &config,
        format!(
            "apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- schedulerName: default-scheduler
extenders:
- urlPrefix: http://127.0.0.1:{port}/scheduler
  filterVerb: filter
  prioritizeVerb: prioritize
  bindVerb: bind
  weight: 5
  httpTimeout: 10s
"
        ),
    )
    .unwrap();
    let server = Server::start(
        dir.path(),
        "n",
        &["--scheduler-config".into(), config.display().to_string()],
    );
    common::wait_api_ready(&server, PATIENCE).await;
    let client = server.kube().await;
    seen.lock().unwrap().client = Some(client.clone());
    for n in ["node-reject", "node-prefer", "node-plain"] {
        node(&client, n).await;
    }
    // The extender's score (10 × weight 5, scaled to 500) outweighs the plugins' spreading.
    for i in 0..3 {
        pod(&client, &format!("p{i}"), json!({})).await;
        assert_eq!(bound(&client, &format!("p{i}")).await, "node-prefer");
    }
    // Only the extender stands between this pod and the node its selector picks.
    Api::<Node>::all(client.clone())
        .patch(
            "node-reject",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"labels": {"kubernetes.io/hostname": "node-reject"}}}),
            ),
        )
        .await
        .unwrap();
    pod(
        &client,
        "picky",
        json!({"nodeSelector": {"kubernetes.io/hostname": "node-reject"}}),
    )
    .await;
    let message = condition_message(&client, "picky").await;
    assert!(
        message.starts_with(
            "0/3 nodes are available: 1 rejected by the rust extender, 2 node(s) didn't match Pod's node affinity/selector. preemption: "
        ),
        "{message}"
    );
    let calls = seen.lock().unwrap().calls.clone();
    assert!(calls.iter().any(|c| c.starts_with("filter ")), "{calls:?}");
    assert!(
        calls.iter().any(|c| c.starts_with("prioritize ")),
        "{calls:?}"
    );
    // Every bind went through the extender, which made the binding itself.
    assert_eq!(
        calls.iter().filter(|c| c.starts_with("bind")).count(),
        3,
        "{calls:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_policy_file_is_loaded_and_its_python_extender_called() {
    let dir = tempfile::tempdir().unwrap();
    let portfile = dir.path().join("port");
    let logfile = dir.path().join("calls.log");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/extender.py");
    let mut python = Command::new("python3")
        .arg(&script)
        .arg(&portfile)
        .arg(&logfile)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let end = Instant::now() + PATIENCE;
    let port = loop {
        if let Ok(p) = std::fs::read_to_string(&portfile) {
            break p;
        }
        assert!(Instant::now() < end, "the python extender did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let policy = dir.path().join("policy.json");
    std::fs::write(
        &policy,
        json!({
            "kind": "Policy", "apiVersion": "v1",
            "predicates": [{"name": "PodFitsResources"}, {"name": "MatchNodeSelector"},
                           {"name": "PodToleratesNodeTaints"}, {"name": "PodFitsHostPorts"}],
            "priorities": [{"name": "LeastRequestedPriority", "weight": 1},
                           {"name": "BalancedResourceAllocation", "weight": 1}],
            "extenders": [{"urlPrefix": format!("http://127.0.0.1:{port}"), "filterVerb": "filter",
                           "prioritizeVerb": "prioritize", "weight": 5, "nodeCacheCapable": true,
                           "enableHttps": false}],
            "hardPodAffinitySymmetricWeight": 10,
        })
        .to_string(),
    )
    .unwrap();
    let server = Server::start(
        dir.path(),
        "n",
        &["--scheduler-config".into(), policy.display().to_string()],
    );
    common::wait_api_ready(&server, PATIENCE).await;
    let client = server.kube().await;
    for n in ["py-reject", "py-prefer", "py-plain"] {
        node(&client, n).await;
    }
    pod(&client, "legacy", json!({})).await;
    assert_eq!(bound(&client, "legacy").await, "py-prefer");
    let log = std::fs::read_to_string(&logfile).unwrap();
    assert!(log.contains("filter py-plain py-prefer py-reject"), "{log}");
    assert!(log.contains("prioritize py-plain py-prefer"), "{log}");
    python.kill().unwrap();
    let _ = python.wait();
}

/// `capstan server --scheduler-config FILE` with a wrong file: it exits before serving, and
/// its error names what is wrong.
fn refused(dir: &Path, file_text: &str) -> String {
    let file = dir.join("bad.yaml");
    std::fs::write(&file, file_text).unwrap();
    let out = Command::new(common::BIN)
        .arg("server")
        .args(["--name", "bad", "--data-dir"])
        .arg(dir.join("data"))
        .args([
            "--listen-client",
            "https://127.0.0.1:0",
            "--listen-peer",
            "127.0.0.1:0",
        ])
        .args(["--listen-api", "127.0.0.1:0", "--scheduler-config"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn a_wrong_scheduler_configuration_is_refused_at_start_with_the_offending_name() {
    let dir = tempfile::tempdir().unwrap();
    let e = refused(
        dir.path(),
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles:\n- plugins:\n    score:\n      enabled: [{name: NodeResourcesMagic}]\n",
    );
    assert!(
        e.contains("\"NodeResourcesMagic\" is not registered"),
        "{e}"
    );
    let e = refused(
        dir.path(),
        r#"{"kind": "Policy", "apiVersion": "v1", "priorities": [{"name": "ServiceSpreadingPriority", "weight": 1}]}"#,
    );
    assert!(
        e.contains("invalid priority name \"ServiceSpreadingPriority\""),
        "{e}"
    );
    let e = refused(
        dir.path(),
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nextenders:\n- urlPrefix: http://127.0.0.1:1\n  prioritizeVerb: p\n",
    );
    assert!(
        e.contains("must have a positive weight applied to it"),
        "{e}"
    );
}
