//! The endpoint and endpointslice controllers through a real `capstan server`: ready and
//! not-ready addresses, publishNotReadyAddresses, named target ports, readiness changes,
//! deleted and terminating pods, headless hostnames, selector-less Services left alone,
//! slices split at --max-endpoints-per-slice, their owner and labels, and the Service's
//! deletion. The test plays the kubelet itself: it binds pods to a node it made and writes
//! their IPs and Ready condition through `pods/status`. One rule per test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::Server;
use k8s_openapi::api::core::v1::{Endpoints, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::{json, Value};

/// Generous: a guard against a controller that never acts, not a speed assertion.
const PATIENCE: Duration = Duration::from_secs(90);

/// One replica running only these controllers (and the garbage collector, which removes a
/// deleted Service's slices), with node `n1` in zone `z1`.
async fn fixture(extra: &[&str]) -> (tempfile::TempDir, Server, kube::Client) {
    let dir = tempfile::tempdir().unwrap();
    let mut flags: Vec<String> = vec![
        "--controllers".into(),
        "endpoint,endpointslice,garbagecollector".into(),
    ];
    flags.extend(extra.iter().map(|s| s.to_string()));
    let server = Server::start(dir.path(), "e", &flags);
    common::wait_api_ready(&server, PATIENCE).await;
    let client = server.kube().await;
    let node: Node = serde_json::from_value(json!({"metadata": {"name": "n1",
        "labels": {"topology.kubernetes.io/zone": "z1"}}}))
    .unwrap();
    Api::<Node>::all(client.clone())
        .create(&PostParams::default(), &node)
        .await
        .unwrap();
    (dir, server, client)
}

async fn service(client: &kube::Client, name: &str, spec: Value) -> Service {
    let svc: Service = serde_json::from_value(
        json!({"metadata": {"name": name, "labels": {"team": "t"}}, "spec": spec}),
    )
    .unwrap();
    Api::<Service>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &svc)
        .await
        .unwrap()
}

/// A pod labelled `app=<app>` on node n1 whose container has `ports`; `spec` adds fields.
async fn pod(client: &kube::Client, name: &str, app: &str, ports: Value, spec: Value) -> Pod {
    let mut body = json!({"metadata": {"name": name, "labels": {"app": app}},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "i", "ports": ports}]}});
    for (k, v) in spec.as_object().unwrap() {
        body["spec"][k] = v.clone();
    }
    let pod: Pod = serde_json::from_value(body).unwrap();
    Api::<Pod>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &pod)
        .await
        .unwrap()
}

/// What the kubelet would report: running with `ip`, Ready or not.
async fn set_status(client: &kube::Client, name: &str, ip: &str, ready: bool) {
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let status = json!({"status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
        "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"},
                        "lastTransitionTime": now}]}});
    Api::<Pod>::namespaced(client.clone(), "default")
        .patch_status(name, &PatchParams::default(), &Patch::Merge(status))
        .await
        .unwrap();
}

/// A running pod with `ip` serving `http` on `port`.
async fn web_pod(client: &kube::Client, name: &str, app: &str, ip: &str, port: i32, ready: bool) {
    pod(
        client,
        name,
        app,
        json!([{"name": "http", "containerPort": port}]),
        json!({}),
    )
    .await;
    set_status(client, name, ip, ready).await;
}

async fn endpoints_until(
    client: &kube::Client,
    name: &str,
    what: &str,
    pred: impl Fn(&Endpoints) -> bool,
) -> Endpoints {
    let api: Api<Endpoints> = Api::namespaced(client.clone(), "default");
    let deadline = Instant::now() + PATIENCE;
    loop {
        let got = api.get_opt(name).await.unwrap();
        if let Some(e) = got.as_ref().filter(|e| pred(e)) {
            return e.clone();
        }
        assert!(
            Instant::now() < deadline,
            "never: {what}; endpoints {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn slices_of(client: &kube::Client, svc: &str) -> Vec<EndpointSlice> {
    Api::<EndpointSlice>::namespaced(client.clone(), "default")
        .list(&ListParams::default().labels(&format!("kubernetes.io/service-name={svc}")))
        .await
        .unwrap()
        .items
}

async fn slices_until(
    client: &kube::Client,
    svc: &str,
    what: &str,
    pred: impl Fn(&[EndpointSlice]) -> bool,
) -> Vec<EndpointSlice> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let got = slices_of(client, svc).await;
        if pred(&got) {
            return got;
        }
        assert!(Instant::now() < deadline, "never: {what}; slices {got:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Per subset: its ready IPs, its not-ready IPs and its port numbers, sorted.
fn subsets(e: &Endpoints) -> Vec<(Vec<String>, Vec<String>, Vec<i32>)> {
    let ips = |l: &Option<Vec<k8s_openapi::api::core::v1::EndpointAddress>>| {
        let mut v: Vec<String> = l.iter().flatten().map(|a| a.ip.clone()).collect();
        v.sort();
        v
    };
    let mut out: Vec<_> = e
        .subsets
        .iter()
        .flatten()
        .map(|s| {
            let mut ports: Vec<i32> = s.ports.iter().flatten().map(|p| p.port).collect();
            ports.sort();
            (ips(&s.addresses), ips(&s.not_ready_addresses), ports)
        })
        .collect();
    out.sort();
    out
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Every endpoint of the slices: pod name → (addresses, ready, serving, terminating).
fn slice_endpoints(
    slices: &[EndpointSlice],
) -> std::collections::BTreeMap<String, (Vec<String>, bool, bool, bool)> {
    slices
        .iter()
        .flat_map(|s| s.endpoints.iter())
        .map(|e| {
            let c = e.conditions.clone().unwrap_or_default();
            (
                e.target_ref.as_ref().unwrap().name.clone().unwrap(),
                (
                    e.addresses.clone(),
                    c.ready.unwrap_or(false),
                    c.serving.unwrap_or(false),
                    c.terminating.unwrap_or(false),
                ),
            )
        })
        .collect()
}

fn web_service() -> Value {
    json!({"selector": {"app": "web"},
           "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_pods_are_addresses_and_unready_pods_not_ready_addresses() {
    let (_d, _s, client) = fixture(&[]).await;
    service(&client, "web", web_service()).await;
    // The first write (the Service alone, no pods yet) names the change that led to it. (A
    // later one may go without: a sync retried after a conflict finds no change it has not
    // seen, and drops the annotation, as upstream's tracker does.)
    let ep = endpoints_until(&client, "web", "made", |_| true).await;
    assert!(ep
        .annotations()
        .contains_key("endpoints.kubernetes.io/last-change-trigger-time"));
    web_pod(&client, "a", "web", "10.1.0.1", 8080, true).await;
    web_pod(&client, "b", "web", "10.1.0.2", 8080, false).await;
    let want = vec![(strings(&["10.1.0.1"]), strings(&["10.1.0.2"]), vec![8080])];
    let ep = endpoints_until(&client, "web", "a ready, b not", |e| subsets(e) == want).await;
    let sub = &ep.subsets.as_ref().unwrap()[0];
    let addr = &sub.addresses.as_ref().unwrap()[0];
    assert_eq!(addr.node_name.as_deref(), Some("n1"));
    let target = addr.target_ref.as_ref().unwrap();
    let a: Pod = Api::namespaced(client.clone(), "default")
        .get("a")
        .await
        .unwrap();
    assert_eq!(
        (
            target.kind.as_deref(),
            target.name.as_deref(),
            target.namespace.as_deref()
        ),
        (Some("Pod"), Some("a"), Some("default"))
    );
    assert_eq!(target.uid, a.uid());
    let port = &sub.ports.as_ref().unwrap()[0];
    assert_eq!(
        (port.name.as_deref(), port.protocol.as_deref()),
        (Some("http"), Some("TCP"))
    );
    // The Service's labels, and when the change that led to it happened.
    assert_eq!(ep.labels().get("team").map(String::as_str), Some("t"));
    assert!(!ep.labels().contains_key("service.kubernetes.io/headless"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_not_ready_addresses_lists_every_pod_as_ready() {
    let (_d, _s, client) = fixture(&[]).await;
    let mut spec = web_service();
    spec["publishNotReadyAddresses"] = json!(true);
    service(&client, "web", spec).await;
    web_pod(&client, "a", "web", "10.1.0.1", 8080, true).await;
    web_pod(&client, "b", "web", "10.1.0.2", 8080, false).await;
    let want = vec![(strings(&["10.1.0.1", "10.1.0.2"]), vec![], vec![8080])];
    endpoints_until(&client, "web", "both ready", |e| subsets(e) == want).await;
    slices_until(&client, "web", "both ready in the slice", |s| {
        let eps = slice_endpoints(s);
        eps.len() == 2 && eps.values().all(|(_, ready, _, _)| *ready)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_target_port_resolves_in_each_pod_and_different_numbers_split_subsets() {
    let (_d, _s, client) = fixture(&[]).await;
    service(
        &client,
        "web",
        json!({"selector": {"app": "web"},
               "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]}),
    )
    .await;
    web_pod(&client, "a", "web", "10.1.0.1", 8080, true).await;
    web_pod(&client, "b", "web", "10.1.0.2", 9090, true).await;
    // A pod without the named port serves nothing.
    pod(
        &client,
        "c",
        "web",
        json!([{"name": "other", "containerPort": 7070}]),
        json!({}),
    )
    .await;
    set_status(&client, "c", "10.1.0.3", true).await;
    let want = vec![
        (strings(&["10.1.0.1"]), vec![], vec![8080]),
        (strings(&["10.1.0.2"]), vec![], vec![9090]),
    ];
    endpoints_until(&client, "web", "a on 8080, b on 9090", |e| {
        subsets(e) == want
    })
    .await;
    // Slices group by port set too: one per number, and one without ports for c.
    slices_until(&client, "web", "a slice per port set", |s| {
        let mut ports: Vec<Vec<i32>> = s
            .iter()
            .filter(|s| !s.endpoints.is_empty())
            .map(|s| s.ports.iter().flatten().filter_map(|p| p.port).collect())
            .collect();
        ports.sort();
        ports == [vec![], vec![8080], vec![9090]]
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_losing_readiness_moves_to_not_ready() {
    let (_d, _s, client) = fixture(&[]).await;
    service(&client, "web", web_service()).await;
    web_pod(&client, "a", "web", "10.1.0.1", 8080, true).await;
    let ready = vec![(strings(&["10.1.0.1"]), vec![], vec![8080])];
    endpoints_until(&client, "web", "a ready", |e| subsets(e) == ready).await;
    set_status(&client, "a", "10.1.0.1", false).await;
    let unready = vec![(vec![], strings(&["10.1.0.1"]), vec![8080])];
    endpoints_until(&client, "web", "a not ready", |e| subsets(e) == unready).await;
    slices_until(&client, "web", "a neither ready nor serving", |s| {
        slice_endpoints(s).get("a").map(|e| (e.1, e.2, e.3)) == Some((false, false, false))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_pod_leaves_endpoints_and_slices() {
    let (_d, _s, client) = fixture(&[]).await;
    service(&client, "web", web_service()).await;
    web_pod(&client, "a", "web", "10.1.0.1", 8080, true).await;
    web_pod(&client, "b", "web", "10.1.0.2", 8080, true).await;
    let both = vec![(strings(&["10.1.0.1", "10.1.0.2"]), vec![], vec![8080])];
    endpoints_until(&client, "web", "both", |e| subsets(e) == both).await;
    Api::<Pod>::namespaced(client.clone(), "default")
        .delete("a", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    let one = vec![(strings(&["10.1.0.2"]), vec![], vec![8080])];
    endpoints_until(&client, "web", "only b", |e| subsets(e) == one).await;
    slices_until(&client, "web", "only b in the slices", |s| {
        slice_endpoints(s).keys().cloned().collect::<Vec<_>>() == ["b"]
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminating_pod_leaves_endpoints_but_stays_in_slices_serving_and_not_ready() {
    let (_d, _s, client) = fixture(&[]).await;
    service(&client, "web", web_service()).await;
    web_pod(&client, "a", "web", "10.1.0.1", 8080, true).await;
    web_pod(&client, "b", "web", "10.1.0.2", 8080, true).await;
    let both = vec![(strings(&["10.1.0.1", "10.1.0.2"]), vec![], vec![8080])];
    endpoints_until(&client, "web", "both", |e| subsets(e) == both).await;
    // Graceful: the pod stays, terminating (no kubelet finishes it).
    Api::<Pod>::namespaced(client.clone(), "default")
        .delete("a", &DeleteParams::default())
        .await
        .unwrap();
    let one = vec![(strings(&["10.1.0.2"]), vec![], vec![8080])];
    endpoints_until(&client, "web", "a gone from the endpoints", |e| {
        subsets(e) == one
    })
    .await;
    slices_until(&client, "web", "a terminating, serving, not ready", |s| {
        let eps = slice_endpoints(s);
        eps.get("a") == Some(&(strings(&["10.1.0.1"]), false, true, true))
            && eps.get("b") == Some(&(strings(&["10.1.0.2"]), true, true, false))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_headless_service_publishes_the_hostnames_of_pods_in_its_subdomain() {
    let (_d, _s, client) = fixture(&[]).await;
    service(
        &client,
        "db",
        json!({"selector": {"app": "db"}, "clusterIP": "None"}),
    )
    .await;
    pod(
        &client,
        "db-0",
        "db",
        json!([]),
        json!({"hostname": "db-0", "subdomain": "db"}),
    )
    .await;
    set_status(&client, "db-0", "10.1.0.1", true).await;
    pod(
        &client,
        "db-x",
        "db",
        json!([]),
        json!({"hostname": "x", "subdomain": "other"}),
    )
    .await;
    set_status(&client, "db-x", "10.1.0.2", true).await;
    let ep = endpoints_until(&client, "db", "both listed, without ports", |e| {
        subsets(e) == vec![(strings(&["10.1.0.1", "10.1.0.2"]), vec![], vec![])]
    })
    .await;
    let hostnames: Vec<(String, Option<String>)> = ep.subsets.as_ref().unwrap()[0]
        .addresses
        .iter()
        .flatten()
        .map(|a| (a.ip.clone(), a.hostname.clone()))
        .collect();
    assert_eq!(
        hostnames,
        [
            ("10.1.0.1".to_string(), Some("db-0".to_string())),
            ("10.1.0.2".to_string(), None)
        ]
    );
    assert_eq!(
        ep.labels()
            .get("service.kubernetes.io/headless")
            .map(String::as_str),
        Some("")
    );
    let slices = slices_until(&client, "db", "db-0's hostname in the slice", |s| {
        s.iter()
            .flat_map(|s| s.endpoints.iter())
            .any(|e| e.hostname.as_deref() == Some("db-0"))
    })
    .await;
    assert!(slices
        .iter()
        .all(|s| s.labels().contains_key("service.kubernetes.io/headless")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_without_selector_keeps_the_users_endpoints() {
    let (_d, _s, client) = fixture(&[]).await;
    service(&client, "ext", json!({"ports": [{"port": 80}]})).await;
    let mine: Endpoints = serde_json::from_value(json!({"metadata": {"name": "ext"},
        "subsets": [{"addresses": [{"ip": "192.0.2.7"}], "ports": [{"port": 80}]}]}))
    .unwrap();
    let api: Api<Endpoints> = Api::namespaced(client.clone(), "default");
    let made = api.create(&PostParams::default(), &mine).await.unwrap();
    // Once a later Service's endpoints exist, the controllers have seen the first one.
    service(&client, "web", web_service()).await;
    web_pod(&client, "a", "web", "10.1.0.1", 8080, true).await;
    let ready = vec![(strings(&["10.1.0.1"]), vec![], vec![8080])];
    endpoints_until(&client, "web", "a ready", |e| subsets(e) == ready).await;
    slices_until(&client, "web", "a's slice", |s| {
        slice_endpoints(s).contains_key("a")
    })
    .await;
    let now = api.get("ext").await.unwrap();
    assert_eq!(now.resource_version(), made.resource_version());
    assert!(slices_of(&client, "ext").await.is_empty());
    // Nor is the API server's own `kubernetes` Service's touched.
    let k = api.get("kubernetes").await.unwrap();
    assert!(!k
        .annotations()
        .contains_key("endpoints.kubernetes.io/last-change-trigger-time"));
    assert!(slices_of(&client, "kubernetes").await.iter().all(|s| s
        .labels()
        .get("endpointslice.kubernetes.io/managed-by")
        .map(String::as_str)
        != Some("endpointslice-controller.k8s.io")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slices_hold_at_most_max_endpoints_per_slice() {
    let (_d, _s, client) = fixture(&["--max-endpoints-per-slice", "2"]).await;
    service(&client, "web", web_service()).await;
    for i in 1..=5 {
        web_pod(
            &client,
            &format!("p{i}"),
            "web",
            &format!("10.1.0.{i}"),
            8080,
            true,
        )
        .await;
    }
    let slices = slices_until(&client, "web", "all five in slices", |s| {
        slice_endpoints(s).len() == 5
    })
    .await;
    assert!(slices.iter().all(|s| s.endpoints.len() <= 2), "{slices:?}");
    assert_eq!(slices.iter().filter(|s| !s.endpoints.is_empty()).count(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slices_are_controlled_by_and_labelled_for_their_service() {
    let (_d, _s, client) = fixture(&[]).await;
    let mut spec = web_service();
    spec["ports"][0]["appProtocol"] = json!("http");
    let svc = service(&client, "web", spec).await;
    web_pod(&client, "a", "web", "10.1.0.1", 8080, true).await;
    let slices = slices_until(&client, "web", "a's slice", |s| {
        slice_endpoints(s).contains_key("a")
    })
    .await;
    assert_eq!(slices.len(), 1);
    let s = &slices[0];
    assert!(s.name_any().starts_with("web-"));
    assert_eq!(s.metadata.generate_name.as_deref(), Some("web-"));
    assert_eq!(s.address_type, "IPv4");
    let owner = &s.owner_references()[0];
    assert_eq!(
        (
            owner.kind.as_str(),
            owner.name.as_str(),
            Some(owner.uid.clone())
        ),
        ("Service", "web", svc.uid())
    );
    assert_eq!(
        (owner.controller, owner.block_owner_deletion),
        (Some(true), Some(true))
    );
    let labels = s.labels();
    assert_eq!(labels["kubernetes.io/service-name"], "web");
    assert_eq!(
        labels["endpointslice.kubernetes.io/managed-by"],
        "endpointslice-controller.k8s.io"
    );
    assert_eq!(labels["team"], "t");
    let port = &s.ports.as_ref().unwrap()[0];
    assert_eq!(
        (
            port.name.as_deref(),
            port.port,
            port.protocol.as_deref(),
            port.app_protocol.as_deref()
        ),
        (Some("http"), Some(8080), Some("TCP"), Some("http"))
    );
    let e = &s.endpoints[0];
    assert_eq!(
        (e.node_name.as_deref(), e.zone.as_deref()),
        (Some("n1"), Some("z1"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_service_removes_its_endpoints_and_slices() {
    let (_d, _s, client) = fixture(&[]).await;
    service(&client, "web", web_service()).await;
    web_pod(&client, "a", "web", "10.1.0.1", 8080, true).await;
    let ready = vec![(strings(&["10.1.0.1"]), vec![], vec![8080])];
    endpoints_until(&client, "web", "a ready", |e| subsets(e) == ready).await;
    slices_until(&client, "web", "a's slice", |s| {
        slice_endpoints(s).contains_key("a")
    })
    .await;
    Api::<Service>::namespaced(client.clone(), "default")
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    let api: Api<Endpoints> = Api::namespaced(client.clone(), "default");
    let deadline = Instant::now() + PATIENCE;
    while api.get_opt("web").await.unwrap().is_some() {
        assert!(Instant::now() < deadline, "the endpoints stayed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    slices_until(&client, "web", "no slices", |s| s.is_empty()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_tables_show_the_addresses() {
    let (_d, _s, client) = fixture(&[]).await;
    service(&client, "web", web_service()).await;
    web_pod(&client, "a", "web", "10.1.0.1", 8080, true).await;
    let ready = vec![(strings(&["10.1.0.1"]), vec![], vec![8080])];
    endpoints_until(&client, "web", "a ready", |e| subsets(e) == ready).await;
    slices_until(&client, "web", "a's slice", |s| {
        slice_endpoints(s).contains_key("a")
    })
    .await;
    let table = |path: &str| {
        http::Request::get(path)
            .header("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
            .body(Vec::new())
            .unwrap()
    };
    let ep: Value = client
        .request(table("/api/v1/namespaces/default/endpoints/web"))
        .await
        .unwrap();
    assert_eq!(ep["rows"][0]["cells"][1], "10.1.0.1:8080", "{ep}");
    let slices: Value = client
        .request(table(
            "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices\
             ?labelSelector=kubernetes.io%2Fservice-name%3Dweb",
        ))
        .await
        .unwrap();
    let row = &slices["rows"][0]["cells"];
    assert_eq!(
        (&row[1], &row[2], &row[3]),
        (&json!("IPv4"), &json!("8080"), &json!("10.1.0.1")),
        "{slices}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_change_that_does_not_matter_rewrites_nothing() {
    let (_d, _s, client) = fixture(&[]).await;
    service(&client, "web", web_service()).await;
    web_pod(&client, "a", "web", "10.1.0.1", 8080, true).await;
    let ready = vec![(strings(&["10.1.0.1"]), vec![], vec![8080])];
    let ep = endpoints_until(&client, "web", "a ready", |e| subsets(e) == ready).await;
    let slices = slices_until(&client, "web", "a ready in the slice", |s| {
        slice_endpoints(s).get("a").is_some_and(|e| e.1)
    })
    .await;
    Api::<Pod>::namespaced(client.clone(), "default")
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"note": "x"}}})),
        )
        .await
        .unwrap();
    // Pod events arrive in order: once a later pod is in another Service's endpoints, the
    // annotation change has been seen.
    service(
        &client,
        "other",
        json!({"selector": {"app": "other"}, "ports": [{"port": 80, "targetPort": 8080}]}),
    )
    .await;
    web_pod(&client, "b", "other", "10.1.0.2", 8080, true).await;
    let b = vec![(strings(&["10.1.0.2"]), vec![], vec![8080])];
    endpoints_until(&client, "other", "b ready", |e| subsets(e) == b).await;
    slices_until(&client, "other", "b's slice", |s| {
        slice_endpoints(s).contains_key("b")
    })
    .await;
    let now: Endpoints = Api::namespaced(client.clone(), "default")
        .get("web")
        .await
        .unwrap();
    assert_eq!(now.resource_version(), ep.resource_version());
    let rvs = |s: &[EndpointSlice]| {
        let mut v: Vec<_> = s
            .iter()
            .map(|s| (s.name_any(), s.resource_version()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(rvs(&slices_of(&client, "web").await), rvs(&slices));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_on_a_missing_node_is_left_out_of_slices_with_a_warning() {
    let (_d, _s, client) = fixture(&[]).await;
    service(&client, "web", web_service()).await;
    web_pod(&client, "a", "web", "10.1.0.1", 8080, true).await;
    pod(
        &client,
        "g",
        "web",
        json!([{"name": "http", "containerPort": 8080}]),
        json!({"nodeName": "ghost"}),
    )
    .await;
    set_status(&client, "g", "10.1.0.9", true).await;
    let events: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client.clone(), "default");
    let want = "Error updating Endpoint Slices for Service default/web: \
                skipping Pod g for Service default/web: Node ghost Not Found";
    let deadline = Instant::now() + PATIENCE;
    loop {
        let found = events
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .any(|e| {
                e.reason.as_deref() == Some("FailedToUpdateEndpointSlices")
                    && e.type_.as_deref() == Some("Warning")
                    && e.message.as_deref() == Some(want)
                    && e.involved_object.kind.as_deref() == Some("Service")
            });
        if found {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no FailedToUpdateEndpointSlices event"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The others are listed all the same; the Endpoints (no node lookup) list both.
    slices_until(&client, "web", "a alone in the slices", |s| {
        slice_endpoints(s).keys().cloned().collect::<Vec<_>>() == ["a"]
    })
    .await;
    let both = vec![(strings(&["10.1.0.1", "10.1.0.9"]), vec![], vec![8080])];
    endpoints_until(&client, "web", "both in the endpoints", |e| {
        subsets(e) == both
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kubernetes_service_has_an_endpoint_slice_as_kube_apiserver_writes_it() {
    let (_d, server, client) = fixture(&[]).await;
    let port: i32 = server.api_url.rsplit(':').next().unwrap().parse().unwrap();
    let slices = slices_until(&client, "kubernetes", "the kubernetes slice", |s| {
        !s.is_empty()
    })
    .await;
    assert_eq!(slices.len(), 1);
    let s = &slices[0];
    assert_eq!(s.name_any(), "kubernetes");
    assert_eq!(s.address_type, "IPv4");
    let ports: Vec<(Option<&str>, Option<i32>, Option<&str>)> = s
        .ports
        .iter()
        .flatten()
        .map(|p| (p.name.as_deref(), p.port, p.protocol.as_deref()))
        .collect();
    assert_eq!(ports, vec![(Some("https"), Some(port), Some("TCP"))]);
    let endpoints: Vec<(Vec<String>, Option<bool>)> = s
        .endpoints
        .iter()
        .map(|e| {
            (
                e.addresses.clone(),
                e.conditions.as_ref().and_then(|c| c.ready),
            )
        })
        .collect();
    assert_eq!(endpoints, vec![(vec!["127.0.0.1".to_string()], Some(true))]);
    // Not managed by the EndpointSlice controller (the Service has no selector), and not
    // rewritten while nothing changes: two more reconciler rounds (5 s apart) leave it as is.
    assert!(!s
        .labels()
        .contains_key("endpointslice.kubernetes.io/managed-by"));
    tokio::time::sleep(Duration::from_secs(11)).await;
    let again = Api::<EndpointSlice>::namespaced(client.clone(), "default")
        .get("kubernetes")
        .await
        .unwrap();
    assert_eq!(again.resource_version(), s.resource_version());
}
