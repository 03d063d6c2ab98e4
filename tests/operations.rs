//! What an operator watches, against real replicas: `/metrics` parsed by a Prometheus text
//! parser, and `/readyz` going unready when a replica loses its quorum and ready again after.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{api_get as get, start_static, Server};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use prometheus_parse::{Scrape, Value};

/// `GET path` on `s`'s API with its admin certificate (curl, so every byte of the body is kept).
fn scrape(s: &Server) -> Scrape {
    let (code, text) = get(s, "/metrics");
    assert_eq!(code, 200, "{text}");
    Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap()
}

fn gauge(s: &Scrape, name: &str) -> f64 {
    let sample = s
        .samples
        .iter()
        .find(|x| x.metric == name)
        .unwrap_or_else(|| panic!("no {name} in the scrape"));
    match sample.value {
        Value::Gauge(v) | Value::Counter(v) | Value::Untyped(v) => v,
        ref other => panic!("{name} is {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_on_one_replica() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        dir.path(),
        "one",
        &["--advertise-address".into(), "127.0.0.9".into()],
    );
    metrics_name_what_operators_chart(&s).await;
    // The one replica leads its term, and its leader-only work started once and runs.
    let m = scrape(&s);
    assert_eq!(gauge(&m, "capstan_leader_terms_gained_total"), 1.0);
    assert_eq!(gauge(&m, "capstan_leader_terms_lost_total"), 0.0);
    // The `kubernetes` service sends clients to the advertised address.
    let (code, body) = get(&s, "/api/v1/namespaces/default/endpoints/kubernetes");
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"ip\":\"127.0.0.9\""), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_on_a_follower_of_three() {
    let dir = tempfile::tempdir().unwrap();
    let servers = start_static(dir.path(), "m", 3).await;
    let leader = servers[0].client().await.status().await.unwrap().leader();
    let follower = servers.iter().find(|s| s.member_id != leader).unwrap();
    metrics_name_what_operators_chart(follower).await;
    // A follower runs no leader-only work (if it led an earlier term, that work has stopped).
    let m = scrape(follower);
    assert_eq!(
        gauge(&m, "capstan_leader_terms_gained_total"),
        gauge(&m, "capstan_leader_terms_lost_total")
    );
}

async fn metrics_name_what_operators_chart(server: &Server) {
    let client = server.kube().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    // The bootstrap namespaces exist once the replica takes writes.
    let deadline = Instant::now() + Duration::from_secs(60);
    while pods.list(&ListParams::default()).await.is_err() {
        assert!(Instant::now() < deadline, "the API never answered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let before = scrape(server);
    let lists_before = requests(&before, "LIST", "namespace", "200");
    for _ in 0..3 {
        pods.list(&ListParams::default()).await.unwrap();
    }
    let _ = pods.get("missing").await;
    let s = scrape(server);

    assert_eq!(gauge(&s, "etcd_server_has_leader"), 1.0);
    assert!(gauge(&s, "etcd_server_leader_changes_seen_total") >= 1.0);
    assert!(gauge(&s, "capstan_raft_term") >= 1.0);
    let applied = gauge(&s, "capstan_raft_applied_index");
    assert!(applied >= 1.0 && applied <= gauge(&s, "capstan_raft_last_log_index"));
    assert!(gauge(&s, "etcd_mvcc_db_total_size_in_bytes") > 0.0);
    assert!(gauge(&s, "etcd_debugging_mvcc_current_revision") > 1.0);
    gauge(&s, "etcd_debugging_mvcc_watcher_total");
    gauge(&s, "capstan_store_leases");

    // Requests by verb, resource and code; latencies as a histogram.
    assert_eq!(requests(&s, "LIST", "namespace", "200") - lists_before, 3.0);
    assert_eq!(requests(&s, "GET", "resource", "404"), 1.0);
    let hist = s
        .samples
        .iter()
        .find(|x| {
            x.metric == "apiserver_request_duration_seconds"
                && x.labels.get("verb") == Some("LIST")
                && x.labels.get("resource") == Some("pods")
                && x.labels.get("scope") == Some("namespace")
        })
        .expect("no request duration histogram");
    match &hist.value {
        Value::Histogram(buckets) => {
            let inf = buckets.iter().map(|b| b.count).fold(0.0, f64::max);
            assert!(inf >= lists_before + 3.0, "{buckets:?}");
        }
        other => panic!("apiserver_request_duration_seconds is {other:?}"),
    }
    let fsync = s
        .samples
        .iter()
        .find(|x| x.metric == "etcd_disk_wal_fsync_duration_seconds")
        .expect("no WAL fsync histogram");
    match &fsync.value {
        Value::Histogram(b) => assert!(b.iter().any(|b| b.count > 0.0)),
        other => panic!("etcd_disk_wal_fsync_duration_seconds is {other:?}"),
    }

    // Without credentials: refused, as kube-apiserver refuses anonymous scrapes.
    let out = std::process::Command::new("curl")
        .args(["-sk", "-o", "/dev/null", "-w", "%{http_code}"])
        .arg(format!("{}/metrics", server.api_url))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "401");
}

/// `apiserver_request_total` for pods with `verb`, `scope` and `code` (the test's own requests
/// are in a namespace or of one pod; the controller manager's informers list pods cluster-wide).
fn requests(s: &Scrape, verb: &str, scope: &str, code: &str) -> f64 {
    s.samples
        .iter()
        .filter(|x| {
            x.metric == "apiserver_request_total"
                && x.labels.get("verb") == Some(verb)
                && x.labels.get("resource") == Some("pods")
                && x.labels.get("scope") == Some(scope)
                && x.labels.get("code") == Some(code)
        })
        .map(|x| match x.value {
            // OpenMetrics names the family without `_total`: parsed as untyped.
            Value::Counter(v) | Value::Untyped(v) => v,
            _ => 0.0,
        })
        .sum()
}

fn readyz(s: &Server) -> (u16, String) {
    get(s, "/readyz?verbose")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_follows_the_quorum() {
    let dir = tempfile::tempdir().unwrap();
    let mut servers = start_static(dir.path(), "q", 3).await;
    // Ready once the replica hears its leader (a leader just elected waits for a quorum's first
    // answer) and has applied the log.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (code, text) = readyz(&servers[0]);
        if code == 200 {
            assert!(
                text.contains("[+]leader ok") && text.contains("[+]log-applied ok"),
                "{text}"
            );
            assert!(text.ends_with("readyz check passed\n"), "{text}");
            break;
        }
        assert!(Instant::now() < deadline, "never ready: {text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(get(&servers[0], "/livez"), (200, "ok".to_string()));

    servers[1].kill();
    servers[2].kill();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (code, text) = readyz(&servers[0]);
        if code == 500 {
            assert!(text.contains("[-]leader failed"), "{text}");
            assert!(text.ends_with("readyz check failed\n"), "{text}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still ready without a quorum: {text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Alive all the same: nothing to restart.
    assert_eq!(get(&servers[0], "/livez").0, 200);

    servers[1].restart();
    servers[2].restart();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (code, text) = readyz(&servers[0]);
        if code == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "not ready after healing: {text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
