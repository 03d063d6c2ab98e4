//! The Kubernetes REST facade through its axum router (`oneshot`), on the in-memory store:
//! status codes, reasons and bodies as kube-apiserver gives them, and that refused requests
//! change nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use capstan_apiserver::k8s::{KubeApi, KubeConfig, User};
use capstan_store::{Kv, MemKv};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

mod support;

use support::{pod, Answer, Api, PODS};

#[tokio::test]
async fn anonymous_requests_get_401_except_health_and_version() {
    let api = Api::new().await;
    let req = |p: &str| Request::builder().uri(p).body(Body::empty()).unwrap();
    let a = api.raw(req("/api/v1/namespaces"), false).await;
    assert_eq!(a.status, 401);
    assert_eq!(a.body["reason"], "Unauthorized");
    for p in ["/healthz", "/livez", "/readyz", "/version"] {
        assert_eq!(api.raw(req(p), false).await.status, 200, "{p}");
    }
    assert_eq!(api.raw(req("/version"), false).await.body["major"], "1");
}

#[tokio::test]
async fn not_ready_until_the_system_namespaces_exist() {
    let kv: Arc<dyn Kv> = Arc::new(MemKv::in_memory().unwrap());
    let kube = KubeApi::new(kv, KubeConfig::default());
    let router = kube.router();
    let get = |p: &str| {
        let req = Request::builder().uri(p).body(Body::empty()).unwrap();
        let router = router.clone();
        async move {
            let resp = router.oneshot(req).await.unwrap();
            let status = resp.status();
            let bytes = resp.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8_lossy(&bytes).into_owned())
        }
    };
    let (status, text) = get("/readyz?verbose").await;
    assert_eq!(status, 500);
    assert!(
        text.contains("[-]poststarthook/bootstrap-controller failed"),
        "{text}"
    );
    assert_eq!(get("/livez").await.0, 200);
    kube.bootstrap().await.unwrap();
    assert_eq!(get("/readyz").await, (StatusCode::OK, "ok".to_string()));
    assert_eq!(
        get("/readyz/poststarthook/bootstrap-controller").await.0,
        200
    );
}

#[tokio::test]
async fn discovery_answers_aggregated_v2_v2beta1_and_legacy() {
    let api = Api::new().await;
    for v in ["v2", "v2beta1"] {
        let req = Request::builder()
            .uri("/apis")
            .header("accept", format!("application/json;g=apidiscovery.k8s.io;v={v};as=APIGroupDiscoveryList,application/json"))
            .body(Body::empty())
            .unwrap();
        let a = api.raw(req, true).await;
        assert_eq!(
            a.headers["content-type"],
            format!("application/json;g=apidiscovery.k8s.io;v={v};as=APIGroupDiscoveryList")
        );
        let apps = a.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["metadata"]["name"] == "apps")
            .unwrap();
        let deploy = apps["versions"][0]["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["resource"] == "deployments")
            .unwrap();
        assert_eq!(deploy["shortNames"], json!(["deploy"]));
        assert_eq!(deploy["categories"], json!(["all"]));
        assert_eq!(deploy["scope"], "Namespaced");
        assert!(deploy["subresources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["subresource"] == "scale" && s["responseKind"]["kind"] == "Scale"));
        // Cached by its ETag: asking again with it is answered 304 with no body.
        let etag = a.headers["etag"].to_str().unwrap().to_string();
        assert!(etag.starts_with('"') && etag.len() > 100, "{etag}");
        let again = Request::builder()
            .uri("/apis")
            .header(
                "accept",
                format!("application/json;g=apidiscovery.k8s.io;v={v};as=APIGroupDiscoveryList"),
            )
            .header("if-none-match", &etag)
            .body(Body::empty())
            .unwrap();
        let a = api.raw(again, true).await;
        assert_eq!(a.status, 304);
        assert_eq!(a.headers["etag"], etag.as_str());
        assert_eq!(a.body, Value::String(String::new()));
    }
    let legacy = api.get("/api/v1").await;
    assert_eq!(legacy.body["kind"], "APIResourceList");
    let names: Vec<&str> = legacy.body["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    for n in [
        "pods",
        "pods/status",
        "pods/binding",
        "namespaces",
        "services",
        "configmaps",
        "nodes/status",
    ] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    let ns = legacy.body["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "namespaces")
        .unwrap();
    assert_eq!(ns["namespaced"], false);
    assert_eq!(ns["shortNames"], json!(["ns"]));
    assert_eq!(api.get("/apis").await.body["kind"], "APIGroupList");
    assert_eq!(api.get("/apis/nope/v1").await.status, 404);
}

#[tokio::test]
async fn bootstrap_makes_the_system_namespaces_and_the_kubernetes_service() {
    let api = Api::new().await;
    let ns = api.get("/api/v1/namespaces").await;
    let names: Vec<&str> = ns.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["default", "kube-node-lease", "kube-public", "kube-system"]
    );
    let svc = api
        .get("/api/v1/namespaces/default/services/kubernetes")
        .await;
    assert_eq!(svc.body["spec"]["clusterIP"], "10.96.0.1");
    assert_eq!(
        api.get("/api/v1/namespaces/default").await.body["status"]["phase"],
        "Active"
    );
}

#[tokio::test]
async fn create_get_list_and_the_metadata_the_server_sets() {
    let api = Api::new().await;
    let a = api.post(PODS, pod("web")).await;
    assert_eq!(a.status, 201, "{}", a.body);
    let m = &a.body["metadata"];
    assert_eq!(m["namespace"], "default");
    assert_eq!(m["uid"].as_str().unwrap().len(), 36);
    assert!(m["creationTimestamp"].as_str().unwrap().ends_with('Z'));
    let rv: i64 = m["resourceVersion"].as_str().unwrap().parse().unwrap();
    assert_eq!(rv, api.revision().await);
    // Defaults kubectl shows.
    assert_eq!(a.body["spec"]["restartPolicy"], "Always");
    assert_eq!(a.body["spec"]["dnsPolicy"], "ClusterFirst");
    assert_eq!(a.body["spec"]["terminationGracePeriodSeconds"], 30);
    assert_eq!(
        a.body["spec"]["containers"][0]["imagePullPolicy"],
        "IfNotPresent"
    );
    assert_eq!(
        a.body["spec"]["containers"][0]["terminationMessagePath"],
        "/dev/termination-log"
    );
    assert_eq!(a.body["status"]["phase"], "Pending");
    let got = api.get(&format!("{PODS}/web")).await;
    assert_eq!(got.body["metadata"]["uid"], m["uid"]);
    // The stored value is JSON under the Kubernetes key layout.
    let kv = api
        .kv
        .range(capstan_store::proto::RangeRequest {
            key: b"/registry/pods/default/web".to_vec().into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let stored: Value = serde_json::from_slice(&kv.kvs[0].value).unwrap();
    assert_eq!(stored["metadata"]["name"], "web");
    let list = api.get(PODS).await;
    assert_eq!(list.body["kind"], "PodList");
    assert_eq!(
        list.body["metadata"]["resourceVersion"],
        api.revision().await.to_string()
    );
    // generateName.
    let mut g = pod("");
    g["metadata"] = json!({"generateName": "web-"});
    let a = api.post(PODS, g).await;
    assert_eq!(a.status, 201);
    let n = a.body["metadata"]["name"].as_str().unwrap();
    assert!(n.starts_with("web-") && n.len() == 9, "{n}");
}

#[tokio::test]
async fn errors_are_statuses_with_kube_apiserver_reasons_and_change_nothing() {
    let api = Api::new().await;
    api.post(PODS, pod("web")).await;
    let before = api.revision().await;
    let nf = api.get(&format!("{PODS}/nope")).await;
    assert_eq!(nf.status, 404);
    assert_eq!(
        nf.body,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "pods \"nope\" not found", "reason": "NotFound", "details": {"name": "nope", "kind": "pods"}, "code": 404})
    );
    let ae = api.post(PODS, pod("web")).await;
    assert_eq!(
        (ae.status.as_u16(), ae.body["reason"].as_str().unwrap()),
        (409, "AlreadyExists")
    );
    assert_eq!(ae.body["message"], "pods \"web\" already exists");
    let bad_json = api
        .call("POST", PODS, "application/json", "{\"metadata\": ")
        .await;
    assert_eq!(
        (
            bad_json.status.as_u16(),
            bad_json.body["reason"].as_str().unwrap()
        ),
        (400, "BadRequest")
    );
    let bad_yaml = api
        .call("POST", PODS, "application/yaml", "metadata: [unclosed")
        .await;
    assert_eq!(bad_yaml.status, 400);
    let mut svc = pod("x");
    svc["kind"] = json!("Service");
    assert_eq!(api.post(PODS, svc).await.status, 400);
    let mut av = pod("x");
    av["apiVersion"] = json!("apps/v1");
    let a = api.post(PODS, av).await;
    assert_eq!(a.status, 400);
    assert_eq!(
        a.body["message"],
        "the API version in the data (apps/v1) does not match the expected API version (v1)"
    );
    let a = api.post(PODS, pod("Bad_Name")).await;
    assert_eq!(
        (a.status.as_u16(), a.body["reason"].as_str().unwrap()),
        (422, "Invalid")
    );
    assert_eq!(a.body["details"]["causes"][0]["field"], "metadata.name");
    let mut nocontainers = pod("empty");
    nocontainers["spec"]["containers"] = json!([]);
    let a = api.post(PODS, nocontainers).await;
    assert_eq!(a.status, 422);
    assert_eq!(
        a.body["details"]["causes"][0],
        json!({"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers"})
    );
    let mut unknown = pod("u");
    unknown["spec"]["bogus"] = json!(1);
    let a = api
        .post(&format!("{PODS}?fieldValidation=Strict"), unknown.clone())
        .await;
    assert_eq!(a.status, 400);
    assert_eq!(
        a.body["message"],
        "Pod in version \"v1\" cannot be handled as a Pod: strict decoding error: unknown field \"spec.bogus\""
    );
    let big = "x".repeat(3 * 1024 * 1024 + 1);
    let a = api.call("POST", PODS, "application/json", big).await;
    assert_eq!(
        (a.status.as_u16(), a.body["reason"].as_str().unwrap()),
        (413, "RequestEntityTooLarge")
    );
    let a = api.call("POST", PODS, "text/plain", "hi").await;
    assert_eq!(
        (a.status.as_u16(), a.body["reason"].as_str().unwrap()),
        (415, "UnsupportedMediaType")
    );
    let a = api.call("PUT", PODS, "application/json", "{}").await;
    assert_eq!(
        (a.status.as_u16(), a.body["reason"].as_str().unwrap()),
        (405, "MethodNotAllowed")
    );
    let a = api.post("/api/v1/namespaces/missing/pods", pod("x")).await;
    assert_eq!(a.status, 404);
    assert_eq!(a.body["message"], "namespaces \"missing\" not found");
    assert_eq!(
        api.revision().await,
        before,
        "a refused request changed the store"
    );
    // Warn (the default) keeps the object and says why in a Warning header.
    let a = api.post(PODS, unknown).await;
    assert_eq!(a.status, 201);
    assert_eq!(
        a.headers["warning"],
        "299 - \"unknown field \\\"spec.bogus\\\"\""
    );
    assert!(a.body["spec"].get("bogus").is_none());
}

#[tokio::test]
async fn updates_are_compare_and_swap_on_the_resource_version() {
    let api = Api::new().await;
    let created = api.post(PODS, pod("web")).await.body;
    let mut stale = created.clone();
    stale["metadata"]["labels"]["v"] = json!("1");
    let a = api.put(&format!("{PODS}/web"), stale.clone()).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = api.put(&format!("{PODS}/web"), stale).await;
    assert_eq!(a.status, 409);
    assert_eq!(a.body["reason"], "Conflict");
    assert_eq!(a.body["message"], "Operation cannot be fulfilled on pods \"web\": the object has been modified; please apply your changes to the latest version and try again");
    // An update without a resourceVersion is unconditional; status changes through the main
    // resource are ignored, through /status they are taken.
    let mut cur = api.get(&format!("{PODS}/web")).await.body;
    cur["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("resourceVersion");
    cur["status"]["phase"] = json!("Running");
    let a = api.put(&format!("{PODS}/web"), cur.clone()).await;
    assert_eq!(a.body["status"]["phase"], "Pending");
    let a = api.put(&format!("{PODS}/web/status"), cur).await;
    assert_eq!(a.body["status"]["phase"], "Running");
    // Same bytes: no new revision.
    let before = api.revision().await;
    let same = api.get(&format!("{PODS}/web")).await.body;
    api.put(&format!("{PODS}/web"), same).await;
    assert_eq!(api.revision().await, before);
}

fn deployment(name: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
      "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}, {"name": "side", "image": "busybox"}]}}}})
}

const DEPLOYS: &str = "/apis/apps/v1/namespaces/default/deployments";

#[tokio::test]
async fn deployments_get_defaults_generation_scale_and_the_three_patch_types() {
    let api = Api::new().await;
    let a = api.post(DEPLOYS, deployment("web")).await;
    assert_eq!(a.status, 201, "{}", a.body);
    let s = &a.body["spec"];
    assert_eq!(
        s["strategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
    );
    assert_eq!(s["revisionHistoryLimit"], 10);
    assert_eq!(s["progressDeadlineSeconds"], 600);
    assert_eq!(a.body["metadata"]["generation"], 1);
    let mut bad = deployment("bad");
    bad["spec"]["selector"] = json!({"matchLabels": {"app": "other"}});
    let a = api.post(DEPLOYS, bad).await;
    assert_eq!(a.status, 422);
    assert!(
        a.body["details"]["causes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["field"] == "spec.template.metadata.labels"),
        "{}",
        a.body
    );
    // Strategic merge: containers merge by name, as `kubectl apply` and `set image` send.
    let url = format!("{DEPLOYS}/web");
    let a = api.patch(&url, "application/strategic-merge-patch+json", json!({"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "nginx"}, {"name": "side"}], "containers": [{"name": "nginx", "image": "nginx:1.27"}]}}}})).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let cs = &a.body["spec"]["template"]["spec"]["containers"];
    assert_eq!(
        (cs[0]["image"].as_str(), cs[1]["image"].as_str()),
        (Some("nginx:1.27"), Some("busybox"))
    );
    assert_eq!(a.body["metadata"]["generation"], 2);
    // Merge patch replaces the list.
    let a = api
        .patch(
            &url,
            "application/merge-patch+json",
            json!({"metadata": {"labels": {"team": "a"}}}),
        )
        .await;
    assert_eq!(a.body["metadata"]["labels"]["team"], "a");
    assert_eq!(
        a.body["metadata"]["generation"], 2,
        "a metadata change bumped the generation"
    );
    // JSON patch.
    let a = api
        .patch(
            &url,
            "application/json-patch+json",
            json!([{"op": "replace", "path": "/spec/replicas", "value": 5}]),
        )
        .await;
    assert_eq!(a.body["spec"]["replicas"], 5);
    let a = api
        .patch(
            &url,
            "application/json-patch+json",
            json!([{"op": "test", "path": "/spec/replicas", "value": 1}]),
        )
        .await;
    assert_eq!(a.status, 422);
    // Scale.
    let sc = api.get(&format!("{url}/scale")).await;
    assert_eq!(sc.body["kind"], "Scale");
    assert_eq!(sc.body["spec"]["replicas"], 5);
    assert_eq!(sc.body["status"]["selector"], "app=web");
    let a = api
        .patch(
            &format!("{url}/scale"),
            "application/merge-patch+json",
            json!({"spec": {"replicas": 3}}),
        )
        .await;
    assert_eq!(a.body["spec"]["replicas"], 3);
    assert_eq!(api.get(&url).await.body["spec"]["replicas"], 3);
    // Server-side apply: create, then update; fieldManager is required.
    let a = api
        .patch(
            &format!("{DEPLOYS}/applied?fieldManager=me"),
            "application/apply-patch+yaml",
            deployment("applied"),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let a = api
        .patch(
            &format!("{DEPLOYS}/applied"),
            "application/apply-patch+yaml",
            deployment("applied"),
        )
        .await;
    assert_eq!(a.status, 422);
    // dryRun changes nothing.
    let before = api.revision().await;
    let a = api
        .post(&format!("{DEPLOYS}?dryRun=All"), deployment("dry"))
        .await;
    assert_eq!(a.status, 201);
    assert_eq!(api.get(&format!("{DEPLOYS}/dry")).await.status, 404);
    assert_eq!(api.revision().await, before);
}

/// The `(manager, operation, subresource)` of each managedFields entry.
fn managers(obj: &Value) -> Vec<(String, String, String)> {
    obj["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or("").to_string();
            (s("manager"), s("operation"), s("subresource"))
        })
        .collect()
}

#[tokio::test]
async fn writes_record_field_managers_and_server_side_apply_detects_conflicts() {
    let api = Api::new().await;
    // The manager comes from the User-Agent when fieldManager is absent.
    let req = Request::builder()
        .method("POST")
        .uri(DEPLOYS)
        .header("content-type", "application/json")
        .header("user-agent", "my-tool/0.1 (linux)")
        .body(Body::from(deployment("owned").to_string()))
        .unwrap();
    let a = api.raw(req, true).await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(
        managers(&a.body),
        vec![("my-tool".into(), "Update".into(), String::new())]
    );
    let fields = &a.body["metadata"]["managedFields"][0]["fieldsV1"];
    assert_eq!(fields["f:spec"]["f:replicas"], json!({}));
    assert!(fields.get("f:status").is_none(), "{fields}");
    let url = format!("{DEPLOYS}/owned");
    // An apply that changes a field the creator owns conflicts, and changes nothing.
    let mut config = deployment("owned");
    config["spec"]["replicas"] = json!(4);
    let before = api.revision().await;
    let a = api
        .patch(
            &format!("{url}?fieldManager=applier"),
            "application/apply-patch+yaml",
            config.clone(),
        )
        .await;
    assert_eq!(a.status, 409, "{}", a.body);
    assert_eq!(a.body["reason"], "Conflict");
    assert_eq!(
        a.body["message"],
        "Apply failed with 1 conflict: conflict with \"my-tool\" using apps/v1: .spec.replicas"
    );
    assert_eq!(
        a.body["details"]["causes"][0],
        json!({"reason": "FieldManagerConflict", "message": "conflict with \"my-tool\" using apps/v1", "field": ".spec.replicas"})
    );
    assert_eq!(api.revision().await, before);
    // The same values co-own without conflict; forced, the applier takes the field.
    let a = api
        .patch(
            &format!("{url}?fieldManager=applier"),
            "application/apply-patch+yaml",
            deployment("owned"),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = api
        .patch(
            &format!("{url}?fieldManager=applier&force=true"),
            "application/apply-patch+yaml",
            config,
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["spec"]["replicas"], 4);
    let entries = a.body["metadata"]["managedFields"].as_array().unwrap();
    assert_eq!(entries[0]["manager"], "applier");
    assert_eq!(entries[0]["operation"], "Apply");
    assert!(entries[1]["fieldsV1"]["f:spec"].get("f:replicas").is_none());
    // A status write is recorded under the status subresource, with only status fields.
    let mut st = a.body.clone();
    st["status"] = json!({"replicas": 4, "observedGeneration": 1});
    let a = api
        .put(&format!("{url}/status?fieldManager=controller"), st)
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let entry = a.body["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["manager"] == "controller")
        .cloned()
        .unwrap();
    assert_eq!(entry["subresource"], "status");
    assert_eq!(
        entry["fieldsV1"],
        json!({"f:status": {"f:observedGeneration": {}, "f:replicas": {}}})
    );
    // Bad options are refused and change nothing.
    let before = api.revision().await;
    let long = "m".repeat(129);
    let a = api
        .patch(
            &format!("{url}?fieldManager={long}"),
            "application/merge-patch+json",
            json!({"spec": {"replicas": 1}}),
        )
        .await;
    assert_eq!(a.status, 422, "{}", a.body);
    let a = api
        .patch(
            &format!("{url}?force=true"),
            "application/merge-patch+json",
            json!({"spec": {"replicas": 1}}),
        )
        .await;
    assert_eq!(a.status, 422, "{}", a.body);
    let mut with_fields = deployment("owned");
    with_fields["metadata"]["managedFields"] = json!([{"manager": "x", "operation": "Apply"}]);
    let a = api
        .patch(
            &format!("{url}?fieldManager=applier"),
            "application/apply-patch+yaml",
            with_fields,
        )
        .await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert_eq!(api.revision().await, before);
}

#[tokio::test]
async fn finalizers_hold_a_deleted_object_until_they_are_removed() {
    let api = Api::new().await;
    let mut p = pod("held");
    p["metadata"]["finalizers"] = json!(["example.com/hold"]);
    let uid = api.post(PODS, p).await.body["metadata"]["uid"].clone();
    let a = api
        .call(
            "DELETE",
            &format!("{PODS}/held"),
            "application/json",
            json!({"preconditions": {"uid": "wrong"}}).to_string(),
        )
        .await;
    assert_eq!(a.status, 409);
    let a = api
        .call(
            "DELETE",
            &format!("{PODS}/held"),
            "application/json",
            json!({"preconditions": {"uid": uid}, "propagationPolicy": "Background"}).to_string(),
        )
        .await;
    assert_eq!(a.status, 200);
    assert!(a.body["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(api.get(&format!("{PODS}/held")).await.status, 200);
    let a = api
        .patch(
            &format!("{PODS}/held"),
            "application/merge-patch+json",
            json!({"metadata": {"finalizers": null}}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(api.get(&format!("{PODS}/held")).await.status, 404);
    // A plain delete answers with the object for pods and a Status for others.
    api.post(PODS, pod("gone")).await;
    let a = api
        .call("DELETE", &format!("{PODS}/gone"), "application/json", "")
        .await;
    assert_eq!(a.body["kind"], "Pod");
    api.post(
        "/api/v1/namespaces/default/configmaps",
        json!({"metadata": {"name": "c"}, "data": {"a": "b"}}),
    )
    .await;
    let a = api
        .call(
            "DELETE",
            "/api/v1/namespaces/default/configmaps/c",
            "application/json",
            "",
        )
        .await;
    assert_eq!(
        (a.body["kind"].as_str(), a.body["status"].as_str()),
        (Some("Status"), Some("Success"))
    );
}

#[tokio::test]
async fn selectors_paging_and_expired_continue_tokens() {
    let api = Api::new().await;
    for i in 0..7 {
        let mut p = pod(&format!("p{i}"));
        p["metadata"]["labels"] =
            json!({"app": if i % 2 == 0 { "even" } else { "odd" }, "i": i.to_string()});
        api.post(PODS, p).await;
    }
    let names = |a: &Answer| -> Vec<String> {
        a.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names(&api.get(&format!("{PODS}?labelSelector=app%3Deven")).await),
        vec!["p0", "p2", "p4", "p6"]
    );
    assert_eq!(
        names(
            &api.get(&format!("{PODS}?labelSelector=app!%3Deven,i%20notin%20(1)"))
                .await
        ),
        vec!["p3", "p5"]
    );
    assert_eq!(
        names(
            &api.get(&format!("{PODS}?labelSelector=i%20in%20(2,3)"))
                .await
        ),
        vec!["p2", "p3"]
    );
    assert_eq!(
        names(
            &api.get(&format!("{PODS}?fieldSelector=metadata.name%3Dp3"))
                .await
        ),
        vec!["p3"]
    );
    assert_eq!(names(&api.get(&format!("{PODS}?fieldSelector=status.phase%3DPending,metadata.name!%3Dp0&labelSelector=app%3Deven")).await), vec!["p2", "p4", "p6"]);
    let a = api
        .get(&format!("{PODS}?fieldSelector=spec.bogus%3Dx"))
        .await;
    assert_eq!(a.status, 400);
    assert_eq!(a.body["message"], "field label not supported: spec.bogus");
    assert_eq!(
        api.get(&format!("{PODS}?labelSelector=a%20in%20b"))
            .await
            .status,
        400
    );
    // Pages of 3 at one revision.
    let mut all = Vec::new();
    let mut url = format!("{PODS}?limit=3");
    let mut rvs = Vec::new();
    loop {
        let a = api.get(&url).await;
        all.extend(names(&a));
        rvs.push(a.body["metadata"]["resourceVersion"].clone());
        match a.body["metadata"]["continue"].as_str() {
            Some(c) => url = format!("{PODS}?limit=3&continue={c}"),
            None => break,
        }
        api.post(PODS, pod(&format!("late{}", rvs.len()))).await;
    }
    assert_eq!(all, vec!["p0", "p1", "p2", "p3", "p4", "p5", "p6"]);
    assert!(
        rvs.windows(2).all(|w| w[0] == w[1]),
        "pages at different revisions: {rvs:?}"
    );
    let a = api.get(&format!("{PODS}?limit=2")).await;
    let token = a.body["metadata"]["continue"].as_str().unwrap().to_string();
    api.post(PODS, pod("after")).await;
    api.kv.compact(api.revision().await).await.unwrap();
    let a = api.get(&format!("{PODS}?limit=2&continue={token}")).await;
    assert_eq!(
        (a.status.as_u16(), a.body["reason"].as_str().unwrap()),
        (410, "Expired")
    );
}

#[tokio::test]
async fn tables_carry_kube_apiserver_columns_and_partial_metadata() {
    let api = Api::new().await;
    api.post(PODS, pod("web")).await;
    let req = Request::builder()
        .uri(PODS)
        .header("accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json")
        .body(Body::empty())
        .unwrap();
    let a = api.raw(req, true).await;
    assert_eq!(a.body["kind"], "Table");
    let cols: Vec<&str> = a.body["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(&cols[..5], &["Name", "Ready", "Status", "Restarts", "Age"]);
    assert_eq!(a.body["rows"][0]["cells"][0], "web");
    assert_eq!(a.body["rows"][0]["cells"][1], "0/1");
    assert_eq!(a.body["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    assert_eq!(
        a.body["rows"][0]["object"]["metadata"]["labels"]["app"],
        "web"
    );
    // The row's metadata carries the object's managed fields, as kube-apiserver's does.
    let stored = api.get(&format!("{PODS}/web")).await.body;
    assert!(stored["metadata"]["managedFields"][0]["fieldsV1"].is_object());
    assert_eq!(
        a.body["rows"][0]["object"]["metadata"]["managedFields"],
        stored["metadata"]["managedFields"]
    );
    assert_eq!(
        a.body["rows"][0]["object"]["metadata"]["resourceVersion"],
        stored["metadata"]["resourceVersion"]
    );
}

#[tokio::test]
async fn services_get_unique_cluster_ips_and_node_ports_released_on_delete() {
    let api = Api::new().await;
    let svcs = "/api/v1/namespaces/default/services";
    let mut ips = std::collections::HashSet::new();
    for i in 0..20 {
        let a = api.post(svcs, json!({"metadata": {"name": format!("s{i}")}, "spec": {"type": "NodePort", "selector": {"app": "x"}, "ports": [{"port": 80}]}})).await;
        assert_eq!(a.status, 201, "{}", a.body);
        assert_eq!(a.body["spec"]["sessionAffinity"], "None");
        assert_eq!(a.body["spec"]["ports"][0]["targetPort"], 80);
        assert!(ips.insert(a.body["spec"]["clusterIP"].as_str().unwrap().to_string()));
    }
    let s0 = api.get(&format!("{svcs}/s0")).await.body;
    let ip = s0["spec"]["clusterIP"].as_str().unwrap().to_string();
    let a = api.post(svcs, json!({"metadata": {"name": "dup"}, "spec": {"clusterIP": ip, "ports": [{"port": 80}]}})).await;
    assert_eq!(a.status, 422, "{}", a.body);
    api.call("DELETE", &format!("{svcs}/s0"), "application/json", "")
        .await;
    let a = api.post(svcs, json!({"metadata": {"name": "dup"}, "spec": {"clusterIP": ip, "ports": [{"port": 80}]}})).await;
    assert_eq!(
        a.status, 201,
        "the deleted service's address was not released: {}",
        a.body
    );
}

#[tokio::test]
async fn a_deleted_namespace_terminates_refuses_new_content_and_a_second_delete_conflicts() {
    let api = Api::new().await;
    api.post(
        "/api/v1/namespaces",
        json!({"metadata": {"name": "doomed"}}),
    )
    .await;
    let a = api
        .call(
            "DELETE",
            "/api/v1/namespaces/doomed",
            "application/json",
            "",
        )
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["status"]["phase"], "Terminating");
    assert_eq!(a.body["spec"]["finalizers"], json!(["kubernetes"]));
    let a = api
        .post(
            "/api/v1/namespaces/doomed/configmaps",
            json!({"metadata": {"name": "d"}}),
        )
        .await;
    assert!(a.status == 403 || a.status == 404, "{}", a.body);
    // Emptying it is the namespace controller's (not running here): a second delete is refused.
    let a = api
        .call(
            "DELETE",
            "/api/v1/namespaces/doomed",
            "application/json",
            "",
        )
        .await;
    assert_eq!(a.status, 409, "{}", a.body);
    assert_eq!(
        a.body["message"],
        "Operation cannot be fulfilled on namespaces \"doomed\": The system is ensuring all content is removed from this namespace.  Upon completion, this namespace will automatically be purged by the system."
    );
    let a = api
        .call(
            "DELETE",
            "/api/v1/namespaces/default",
            "application/json",
            "",
        )
        .await;
    assert_eq!(a.status, 403);
}

#[tokio::test]
async fn finalize_changes_only_spec_finalizers_and_an_emptied_terminating_namespace_goes() {
    let api = Api::new().await;
    api.post("/api/v1/namespaces", json!({"metadata": {"name": "stuck"}}))
        .await;
    let a = api
        .call("DELETE", "/api/v1/namespaces/stuck", "application/json", "")
        .await;
    assert_eq!(a.status, 200);
    let ns = api.get("/api/v1/namespaces/stuck").await;
    assert_eq!(ns.body["status"]["phase"], "Terminating");
    // finalize changes spec.finalizers and nothing else.
    let mut body = ns.body.clone();
    body["spec"]["finalizers"] = json!([]);
    body["metadata"]["labels"]["sneaky"] = json!("yes");
    let a = api.put("/api/v1/namespaces/stuck/finalize", body).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["spec"]["finalizers"], json!([]));
    assert!(a.body["metadata"]["labels"].get("sneaky").is_none());
    let finalize_entry = a.body["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["subresource"] == "finalize")
        .cloned()
        .unwrap();
    assert_eq!(
        finalize_entry["fieldsV1"],
        json!({"f:spec": {"f:finalizers": {}}})
    );
    // Its last finalizer gone, the terminating namespace went with that update (kube-apiserver's
    // ShouldDeleteNamespaceDuringUpdate).
    assert_eq!(api.get("/api/v1/namespaces/stuck").await.status, 404);
}

async fn watch_lines(api: &Api, uri: &str, n: usize) -> Vec<Value> {
    let req = Request::builder().uri(uri).body(Body::empty()).unwrap();
    let mut req = req;
    req.extensions_mut().insert(User {
        name: "admin".into(),
        groups: vec![],
    });
    let resp = api.router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    let mut buf = Vec::new();
    let mut out = Vec::new();
    while out.len() < n {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(60), body.frame())
            .await
            .expect("watch event")
            .unwrap()
            .unwrap();
        if let Ok(data) = frame.into_data() {
            buf.extend_from_slice(&data);
        }
        while let Some(i) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=i).collect();
            out.push(serde_json::from_slice(&line).unwrap());
        }
    }
    out
}

#[tokio::test]
async fn watches_start_where_asked_filter_and_say_410_when_compacted() {
    let api = Api::new().await;
    let a0 = api.post(PODS, pod("a")).await.body;
    let rv0 = a0["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    // From "0": the current objects as ADDED first.
    let ev = watch_lines(&api, &format!("{PODS}?watch=true&resourceVersion=0"), 1).await;
    assert_eq!(
        (
            ev[0]["type"].as_str(),
            ev[0]["object"]["metadata"]["name"].as_str()
        ),
        (Some("ADDED"), Some("a"))
    );
    // From a revision: what changed after it, in order; a label change that leaves the
    // selector is a DELETED for that watcher.
    let b0 = api.post(PODS, pod("b")).await.body;
    api.patch(
        &format!("{PODS}/a"),
        "application/merge-patch+json",
        json!({"metadata": {"labels": {"app": "other"}}}),
    )
    .await;
    api.call("DELETE", &format!("{PODS}/b"), "application/json", "")
        .await;
    let ev = watch_lines(
        &api,
        &format!("{PODS}?watch=1&resourceVersion={rv0}&labelSelector=app%3Dweb"),
        3,
    )
    .await;
    let seen: Vec<(String, String)> = ev
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().into(),
                e["object"]["metadata"]["name"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("ADDED".into(), "b".into()),
            ("DELETED".into(), "a".into()),
            ("DELETED".into(), "b".into())
        ]
    );
    // Events carry the objects' managed fields as stored (the DELETED one the old object's).
    assert!(b0["metadata"]["managedFields"][0]["fieldsV1"].is_object());
    assert_eq!(
        ev[0]["object"]["metadata"]["managedFields"],
        b0["metadata"]["managedFields"]
    );
    assert_eq!(
        ev[1]["object"]["metadata"]["managedFields"],
        a0["metadata"]["managedFields"]
    );
    // sendInitialEvents ends the initial ADDED events with a marked bookmark.
    let ev = watch_lines(&api, &format!("{PODS}?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true"), 2).await;
    assert_eq!(ev[0]["type"], "ADDED");
    assert_eq!(ev[1]["type"], "BOOKMARK");
    assert_eq!(
        ev[1]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
    // Compacted: one ERROR event carrying 410 Expired.
    api.kv.compact(api.revision().await).await.unwrap();
    let ev = watch_lines(&api, &format!("{PODS}?watch=1&resourceVersion={rv0}"), 1).await;
    assert_eq!(ev[0]["type"], "ERROR");
    assert_eq!(ev[0]["object"]["code"], 410);
    assert_eq!(ev[0]["object"]["reason"], "Expired");
}

#[tokio::test]
async fn protobuf_bodies_from_kubectl_1_32_create_objects() {
    let api = Api::new().await;
    // `kubectl create namespace foo` (1.32+): "k8s\0" + runtime.Unknown{typeMeta, raw Namespace}.
    let mut body = b"k8s\x00".to_vec();
    let type_meta = [&[0x0a, 0x02][..], b"v1", &[0x12, 0x09], b"Namespace"].concat();
    let meta = [&[0x0a, 0x03][..], b"foo"].concat();
    let ns = [&[0x0a, meta.len() as u8][..], &meta].concat();
    body.extend([0x0a, type_meta.len() as u8]);
    body.extend(&type_meta);
    body.extend([0x12, ns.len() as u8]);
    body.extend(&ns);
    let a = api
        .call(
            "POST",
            "/api/v1/namespaces",
            "application/vnd.kubernetes.protobuf",
            body,
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["metadata"]["name"], "foo");
    let a = api
        .call(
            "POST",
            "/api/v1/namespaces",
            "application/vnd.kubernetes.protobuf",
            b"k8s\x00\x0a".to_vec(),
        )
        .await;
    assert_eq!(a.status, 400);
}

#[tokio::test]
async fn events_k8s_io_events_are_core_events_in_another_shape() {
    let api = Api::new().await;
    let a = api.post("/apis/events.k8s.io/v1/namespaces/default/events", json!({"metadata": {"name": "e1"}, "eventTime": "2024-01-01T00:00:00.000000Z",
        "reportingController": "me", "reportingInstance": "me-1", "action": "Start", "reason": "Started", "type": "Normal",
        "regarding": {"kind": "Pod", "name": "web", "namespace": "default"}, "note": "started"})).await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["note"], "started");
    let core = api.get("/api/v1/namespaces/default/events/e1").await;
    assert_eq!(core.body["message"], "started");
    assert_eq!(core.body["involvedObject"]["name"], "web");
    let sel = api
        .get("/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dweb")
        .await;
    assert_eq!(sel.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn conversions_defaults_and_update_rules_of_the_less_common_types() {
    let api = Api::new().await;
    // A Secret's stringData is stored base64-encoded in data (winning over data) and never kept.
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
        "data": {"x": "eA==", "keep": "aw=="}, "stringData": {"x": "override", "a": "b"}});
    let a = api.post("/api/v1/namespaces/default/secrets", secret).await;
    assert_eq!(a.status, 201, "{}", a.body);
    let s = api.get("/api/v1/namespaces/default/secrets/s").await.body;
    assert_eq!(
        s["data"],
        json!({"x": "b3ZlcnJpZGU=", "keep": "aw==", "a": "Yg=="})
    );
    assert!(s.get("stringData").is_none());

    // A binding's roleRef cannot change.
    let rb = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "rb"}, "subjects": [{"kind": "User", "name": "u"}],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}});
    const RB: &str = "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings";
    assert_eq!(api.post(RB, rb).await.status, 201);
    let before = api.revision().await;
    let a = api
        .patch(
            &format!("{RB}/rb"),
            "application/merge-patch+json",
            json!({"roleRef": {"name": "edit"}}),
        )
        .await;
    assert_eq!(a.status, 422);
    assert_eq!(
        a.body["details"]["causes"][0],
        json!({"reason": "FieldValueInvalid", "field": "roleRef",
               "message": "Invalid value: rbac.RoleRef{APIGroup:\"rbac.authorization.k8s.io\", Kind:\"ClusterRole\", Name:\"edit\"}: cannot change roleRef"})
    );
    assert_eq!(api.revision().await, before);

    // A container LimitRange: default limit from max, default request from the default limit.
    let lr = json!({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "lr"},
        "spec": {"limits": [{"type": "Container", "max": {"memory": "1Gi"}, "default": {"cpu": "500m"}, "min": {"memory": "64Mi"}}]}});
    let a = api.post("/api/v1/namespaces/default/limitranges", lr).await;
    assert_eq!(a.status, 201, "{}", a.body);
    let item = &a.body["spec"]["limits"][0];
    assert_eq!(item["default"], json!({"cpu": "500m", "memory": "1Gi"}));
    assert_eq!(
        item["defaultRequest"],
        json!({"cpu": "500m", "memory": "1Gi"})
    );

    // A workload without a selector: required, and the template cannot match it.
    let mut d = deployment("nosel");
    d["spec"].as_object_mut().unwrap().remove("selector");
    let a = api
        .post("/apis/apps/v1/namespaces/default/deployments", d)
        .await;
    assert_eq!(a.status, 422);
    let fields: Vec<&str> = a.body["details"]["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["spec.selector", "spec.template.metadata.labels"]);
    assert_eq!(
        a.body["details"]["causes"][0]["reason"],
        "FieldValueRequired"
    );

    // A headless service without a selector asks for every family.
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "hl"},
        "spec": {"clusterIP": "None", "ports": [{"port": 80}]}});
    let a = api.post("/api/v1/namespaces/default/services", svc).await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["spec"]["ipFamilyPolicy"], "RequireDualStack");
    assert_eq!(a.body["spec"]["ipFamilies"], json!(["IPv4"]));

    // Status counters that the Go types always print start at zero.
    let rs = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "rs"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": pod("t").as_object().unwrap().clone()}});
    let a = api
        .post("/apis/apps/v1/namespaces/default/replicasets", rs)
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["status"], json!({"replicas": 0}));
    let pdb = json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "pdb"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}});
    let a = api
        .post(
            "/apis/policy/v1/namespaces/default/poddisruptionbudgets",
            pdb,
        )
        .await;
    assert_eq!(
        a.body["status"],
        json!({"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0})
    );

    // EndpointSlice ports get their protocol and name; a PV its phase transition time.
    let eps = json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "e"},
        "addressType": "IPv4", "endpoints": [], "ports": [{"port": 80}]});
    let a = api
        .post(
            "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices",
            eps,
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(
        a.body["ports"],
        json!([{"port": 80, "protocol": "TCP", "name": ""}])
    );
    let pv = json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv"},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/tmp"}}});
    let a = api.post("/api/v1/persistentvolumes", pv).await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["status"]["phase"], "Pending");
    assert_eq!(
        a.body["status"]["lastPhaseTransitionTime"],
        a.body["metadata"]["creationTimestamp"]
    );

    // A failed JSON patch test operation: kube-apiserver's generic 422.
    let a = api
        .patch(
            "/api/v1/namespaces/default/secrets/s",
            "application/json-patch+json",
            json!([{"op": "test", "path": "/type", "value": "nope"}]),
        )
        .await;
    assert_eq!(a.status, 422);
    assert_eq!(
        a.body["message"],
        "the server rejected our request due to an error in our request"
    );
    assert_eq!(a.body["details"], json!({}));

    // A second graceful delete may shorten the grace period, not lengthen it.
    let mut bound = pod("bound");
    bound["spec"]["nodeName"] = json!("n1");
    assert_eq!(api.post(PODS, bound).await.status, 201);
    let del = |g: i64| {
        api.call(
            "DELETE",
            "/api/v1/namespaces/default/pods/bound",
            "application/json",
            json!({"gracePeriodSeconds": g}).to_string(),
        )
    };
    let first = del(100).await.body;
    assert_eq!(first["metadata"]["deletionGracePeriodSeconds"], 100);
    assert_eq!(
        del(200).await.body["metadata"]["deletionTimestamp"],
        first["metadata"]["deletionTimestamp"]
    );
    let second = del(10).await.body;
    assert_eq!(second["metadata"]["deletionGracePeriodSeconds"], 10);
    let at = |v: &Value| {
        v["metadata"]["deletionTimestamp"]
            .as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .unwrap()
    };
    assert_eq!((at(&first) - at(&second)).get_seconds(), 90);
}

#[tokio::test]
async fn list_options_field_validation_and_revisions_ahead_of_the_store() {
    let api = Api::new().await;
    let before = api.revision().await;
    let a = api
        .get(&format!("{PODS}?resourceVersionMatch=NotOlderThan"))
        .await;
    assert_eq!(a.status, 422);
    assert_eq!(a.body["message"], "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided");
    assert_eq!(a.body["details"]["kind"], "ListOptions");
    let a = api
        .get(&format!(
            "{PODS}?sendInitialEvents=true&resourceVersion=0&resourceVersionMatch=NotOlderThan"
        ))
        .await;
    assert_eq!(a.status, 422);
    // A resourceVersion no replica has reached: 504 after the wait, with the current one.
    let ahead = before + 1000;
    let a = api
        .get(&format!(
            "{PODS}?resourceVersion={ahead}&resourceVersionMatch=NotOlderThan"
        ))
        .await;
    assert_eq!(a.status, 504);
    assert_eq!(
        a.body["message"],
        format!("Timeout: Too large resource version: {ahead}, current: {before}")
    );
    assert_eq!(
        a.body["details"]["causes"][0]["reason"],
        "ResourceVersionTooLarge"
    );
    assert_eq!(a.headers["retry-after"], "1");
    // One it has reached is served.
    let a = api
        .get(&format!(
            "{PODS}?resourceVersion={before}&resourceVersionMatch=NotOlderThan"
        ))
        .await;
    assert_eq!(a.status, 200);
    // An unknown fieldValidation value is refused before anything is written.
    let a = api
        .post(&format!("{PODS}?fieldValidation=Bad"), pod("fv"))
        .await;
    assert_eq!(a.status, 422);
    assert_eq!(a.body["message"], "CreateOptions.meta.k8s.io \"\" is invalid: fieldValidation: Unsupported value: \"Bad\": supported values: \"\", \"Ignore\", \"Strict\", \"Warn\"");
    assert_eq!(api.revision().await, before);
    // Integer label comparisons.
    let mut p = pod("gen");
    p["metadata"]["labels"]["gen"] = json!("7");
    assert_eq!(api.post(PODS, p).await.status, 201);
    let names = |a: Answer| -> Vec<String> {
        a.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names(api.get(&format!("{PODS}?labelSelector=gen%3E5")).await),
        ["gen"]
    );
    assert!(names(api.get(&format!("{PODS}?labelSelector=gen%3C5")).await).is_empty());
    // The deprecated /watch/ paths: the collection, and one object by name.
    let events = watch_lines(&api, "/api/v1/watch/namespaces/default/pods/gen", 1).await;
    assert_eq!(events[0]["type"], "ADDED");
    assert_eq!(events[0]["object"]["metadata"]["name"], "gen");
    let events = watch_lines(
        &api,
        "/api/v1/watch/namespaces/default/pods?labelSelector=gen",
        1,
    )
    .await;
    assert_eq!(events[0]["object"]["metadata"]["name"], "gen");
    let a = api
        .call(
            "DELETE",
            "/api/v1/watch/namespaces/default/pods/gen",
            "application/json",
            Body::empty(),
        )
        .await;
    assert_eq!(a.status, 405);
    assert_eq!(api.get(&format!("{PODS}/gen")).await.status, 200);
}

#[tokio::test]
async fn openapi_v2_is_the_whole_api_in_json_and_a_stub_in_protobuf() {
    let api = Api::new().await;
    let req = |accept: &str| {
        Request::builder()
            .uri("/openapi/v2")
            .header("accept", accept)
            .body(Body::empty())
            .unwrap()
    };
    let a = api
        .raw(
            req("application/com.github.proto-openapi.spec.v2@v1.0+protobuf"),
            true,
        )
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body, Value::String("\n\u{3}2.0".into()));
    let a = api.raw(req("application/json"), true).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.headers["content-type"], "application/json");
    let doc = a.body;
    assert_eq!(doc["swagger"], "2.0");
    let pod = &doc["definitions"]["io.k8s.api.core.v1.Pod"];
    assert_eq!(
        pod["x-kubernetes-group-version-kind"],
        json!([{"group": "", "kind": "Pod", "version": "v1"}])
    );
    assert!(pod["properties"]["spec"]
        .to_string()
        .contains("\"$ref\":\"#/definitions/io.k8s.api.core.v1.PodSpec\""));
    assert!(!doc.to_string().contains("#/components/schemas/"));
    assert_eq!(
        doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
            ["parameters"][0]["in"],
        "body"
    );
    assert!(doc["definitions"]["io.k8s.api.apps.v1.Deployment"].is_object());
}

#[tokio::test]
async fn server_side_apply_matches_ports_by_protocol_too_and_appends_new_items() {
    let api = Api::new().await;
    let api = &api;
    let apply = |manager: &'static str, doc: Value| async move {
        let uri = format!("/api/v1/namespaces/default/services/dns?fieldManager={manager}");
        api.patch(&uri, "application/apply-patch+yaml", doc).await
    };
    let svc = |name: &str, proto: &str| {
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "dns"},
               "spec": {"selector": {"app": "dns"}, "ports": [{"name": name, "port": 53, "protocol": proto}]}})
    };
    assert_eq!(apply("udp", svc("dns", "UDP")).await.status, 201);
    let a = apply("tcp", svc("dns-tcp", "TCP")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let ports: Vec<(i64, String)> = a.body["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["port"].as_i64().unwrap(),
                p["protocol"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(ports, [(53, "UDP".to_string()), (53, "TCP".to_string())]);

    // A container another manager adds comes after the live ones.
    assert_eq!(
        api.post(
            "/apis/apps/v1/namespaces/default/deployments",
            deployment("o1")
        )
        .await
        .status,
        201
    );
    let side = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "o1"},
        "spec": {"template": {"spec": {"containers": [{"name": "side", "image": "busybox"}]}}}});
    let a = api
        .patch(
            "/apis/apps/v1/namespaces/default/deployments/o1?fieldManager=m3",
            "application/apply-patch+yaml",
            side,
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let names: Vec<&str> = a.body["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.last(), Some(&"side"));
    assert_eq!(names.len(), 2);
}

#[tokio::test]
async fn emptied_maps_are_left_out_and_apply_names_its_version() {
    let api = Api::new().await;
    let cm = json!({"metadata": {"name": "c", "labels": {"a": "1"}, "annotations": {"n": "x"}}, "data": {"b": "2"}});
    assert_eq!(
        api.post("/api/v1/namespaces/default/configmaps", cm)
            .await
            .status,
        201
    );
    let a = api
        .patch(
            "/api/v1/namespaces/default/configmaps/c",
            "application/merge-patch+json",
            json!({"metadata": {"labels": {"a": null}, "annotations": {"n": null}}, "data": {"b": null}}),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body["metadata"].get("labels").is_none(), "{}", a.body);
    assert!(a.body["metadata"].get("annotations").is_none());
    assert!(a.body.get("data").is_none());
    // An apply configuration without its apiVersion is refused before anything changes.
    let before = api.revision().await;
    let a = api
        .patch(
            "/api/v1/namespaces/default/configmaps/c?fieldManager=m",
            "application/apply-patch+yaml",
            json!({"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"x": "y"}}),
        )
        .await;
    assert_eq!(a.status, 400);
    assert_eq!(
        a.body["message"],
        "Incorrect version specified in apply patch. Specified patch version: , expected: v1"
    );
    // A JSON patch operation kube-apiserver does not know fails as any failed operation does.
    let a = api
        .patch(
            "/api/v1/namespaces/default/configmaps/c",
            "application/json-patch+json",
            json!([{"op": "bogus", "path": "/data"}]),
        )
        .await;
    assert_eq!(
        (a.status.as_u16(), a.body["reason"].as_str()),
        (422, Some("Invalid"))
    );
    assert_eq!(api.revision().await, before);
}
