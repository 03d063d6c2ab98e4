//! What clients no one here wrote rely on (the Python client's discovery paths and typed delete
//! answers, ReplicationControllers, the scheduler's binding), through the facade's router on the
//! in-memory store, each answer as kube-apiserver 1.33 gives it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use axum::body::Body;
use axum::http::Request;
use serde_json::{json, Value};
use support::{pod, Api, PODS};

#[tokio::test]
async fn discovery_answers_with_and_without_a_trailing_slash_and_nothing_else_does() {
    let api = Api::new().await;
    let same = [
        ("/version", "/version/"),
        ("/api", "/api/"),
        ("/api/v1", "/api/v1/"),
        ("/apis", "/apis/"),
        ("/apis/apps", "/apis/apps/"),
        ("/apis/apps/v1", "/apis/apps/v1/"),
        ("/apis/batch/v1", "/apis/batch/v1/"),
        ("/api/v1/namespaces", "/api/v1/namespaces/"),
        ("/api/v1/namespaces/default", "/api/v1/namespaces/default/"),
    ];
    for (bare, slashed) in same {
        let (a, b) = (api.get(bare).await, api.get(slashed).await);
        assert_eq!(
            (a.status.as_u16(), b.status.as_u16()),
            (200, 200),
            "{bare} {slashed}: {}",
            b.body
        );
        assert_eq!(a.body["kind"], b.body["kind"], "{slashed}");
        if a.body["kind"] != "NamespaceList" {
            assert_eq!(a.body, b.body, "{slashed}");
        }
    }
    assert_eq!(api.get("/version/").await.body["major"], "1");
    assert_eq!(api.get("/api/").await.body["kind"], "APIVersions");
    assert_eq!(api.get("/api/v1/").await.body["kind"], "APIResourceList");
    assert_eq!(api.get("/apis/").await.body["kind"], "APIGroupList");
    assert_eq!(api.get("/apis/apps/").await.body["kind"], "APIGroup");
    // /version/ is as open as /version.
    let anonymous = Request::builder()
        .uri("/version/")
        .body(Body::empty())
        .unwrap();
    assert_eq!(api.raw(anonymous, false).await.status, 200);
    // kube-apiserver registers these paths exactly: with a slash they are not found.
    for p in [
        "/openapi/v2/",
        "/healthz/",
        "/livez/",
        "/readyz/",
        "/metrics/",
        "/apis/nonexistent.example.com/",
        "/api/v2/",
    ] {
        assert_eq!(api.get(p).await.status, 404, "{p}");
    }
}

#[tokio::test]
async fn a_finished_delete_answers_the_object_where_kube_apiserver_returns_it() {
    let api = Api::new().await;
    let objects = [
        (
            "/api/v1/namespaces/default/services",
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                   "spec": {"ports": [{"port": 80}], "selector": {"app": "web"}}}),
        ),
        (PODS, pod("web")),
        (
            "/api/v1/namespaces/default/serviceaccounts",
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "robot"}}),
        ),
        (
            "/api/v1/namespaces/default/persistentvolumeclaims",
            json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
                   "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}),
        ),
        (
            "/api/v1/namespaces/default/resourcequotas",
            json!({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q"},
                   "spec": {"hard": {"pods": "10"}}}),
        ),
    ];
    for (path, body) in objects {
        let made = api.post(path, body).await;
        assert_eq!(made.status, 201, "{path}: {}", made.body);
        let name = made.body["metadata"]["name"].as_str().unwrap().to_string();
        // A pod not yet bound to a node goes at once (no grace period to wait out).
        let gone = api
            .call(
                "DELETE",
                &format!("{path}/{name}"),
                "application/json",
                Body::empty(),
            )
            .await;
        assert_eq!(gone.status, 200, "{path}: {}", gone.body);
        assert_eq!(
            gone.body["kind"], made.body["kind"],
            "{path}: {}",
            gone.body
        );
        assert_eq!(gone.body["metadata"]["uid"], made.body["metadata"]["uid"]);
        assert_eq!(api.get(&format!("{path}/{name}")).await.status, 404);
    }
    // The rest answer a Success Status naming what went.
    let cm = api
        .post(
            "/api/v1/namespaces/default/configmaps",
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "conf"}}),
        )
        .await;
    let gone = api
        .call(
            "DELETE",
            "/api/v1/namespaces/default/configmaps/conf",
            "application/json",
            Body::empty(),
        )
        .await;
    assert_eq!(gone.status, 200);
    assert_eq!(
        gone.body,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
               "details": {"name": "conf", "kind": "configmaps", "uid": cm.body["metadata"]["uid"]}})
    );
}

fn rc(name: &str, replicas: i64) -> Value {
    json!({"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": name},
           "spec": {"replicas": replicas, "template": {"metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}}}})
}

const RCS: &str = "/api/v1/namespaces/default/replicationcontrollers";

#[tokio::test]
async fn replication_controllers_are_served_with_scale_and_status() {
    let api = Api::new().await;
    let v1 = api.get("/api/v1").await.body;
    let entry = |name: &str| {
        v1["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(entry("replicationcontrollers")["shortNames"], json!(["rc"]));
    assert_eq!(
        entry("replicationcontrollers")["categories"],
        json!(["all"])
    );
    assert_eq!(entry("replicationcontrollers/scale")["kind"], "Scale");
    assert_eq!(
        entry("replicationcontrollers/scale")["group"],
        "autoscaling"
    );
    assert_eq!(
        entry("replicationcontrollers/status")["kind"],
        "ReplicationController"
    );

    // Defaults: selector and labels from the template's labels, replicas 1, status zeroed.
    let mut bare = rc("web", 0);
    bare["spec"].as_object_mut().unwrap().remove("replicas");
    let made = api.post(RCS, bare).await;
    assert_eq!(made.status, 201, "{}", made.body);
    assert_eq!(made.body["spec"]["selector"], json!({"app": "web"}));
    assert_eq!(made.body["metadata"]["labels"], json!({"app": "web"}));
    assert_eq!(made.body["spec"]["replicas"], 1);
    assert_eq!(made.body["status"], json!({"replicas": 0}));
    assert_eq!(made.body["metadata"]["generation"], 1);
    assert_eq!(
        made.body["spec"]["template"]["spec"]["restartPolicy"],
        "Always"
    );

    let scale = api.get(&format!("{RCS}/web/scale")).await;
    assert_eq!(scale.status, 200, "{}", scale.body);
    assert_eq!(scale.body["apiVersion"], "autoscaling/v1");
    assert_eq!(scale.body["spec"]["replicas"], 1);
    assert_eq!(scale.body["status"]["selector"], "app=web");
    let scaled = api
        .patch(
            &format!("{RCS}/web/scale"),
            "application/merge-patch+json",
            json!({"spec": {"replicas": 3}}),
        )
        .await;
    assert_eq!(scaled.status, 200, "{}", scaled.body);
    let now = api.get(&format!("{RCS}/web")).await.body;
    assert_eq!(now["spec"]["replicas"], 3);
    assert_eq!(now["metadata"]["generation"], 2);

    // Status only through /status, and the status field selector.
    let mut st = now.clone();
    st["status"] = json!({"replicas": 3, "readyReplicas": 2});
    let put = api.put(&format!("{RCS}/web/status"), st).await;
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(put.body["status"]["readyReplicas"], 2);
    let listed = api
        .get(&format!("{RCS}?fieldSelector=status.replicas%3D3"))
        .await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    let none = api
        .get(&format!("{RCS}?fieldSelector=status.replicas%3D0"))
        .await;
    assert_eq!(none.body["items"].as_array().unwrap().len(), 0);

    // Validation with kube-apiserver's messages.
    let bad = api.post(RCS, rc("neg", -1)).await;
    assert_eq!(bad.status, 422);
    assert!(
        bad.body["message"]
            .as_str()
            .unwrap()
            .contains("spec.replicas: Invalid value: -1: must be greater than or equal to 0"),
        "{}",
        bad.body
    );
    let mut mismatch = rc("mis", 1);
    mismatch["spec"]["selector"] = json!({"app": "other"});
    let bad = api.post(RCS, mismatch).await;
    assert_eq!(bad.status, 422);
    assert!(
        bad.body["message"]
            .as_str()
            .unwrap()
            .contains("`selector` does not match template `labels`"),
        "{}",
        bad.body
    );

    // The Table kubectl prints.
    let t = api
        .raw(
            Request::builder()
                .uri(RCS)
                .header("accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
                .body(Body::empty())
                .unwrap(),
            true,
        )
        .await;
    let cols: Vec<&str> = t.body["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        cols,
        [
            "Name",
            "Desired",
            "Current",
            "Ready",
            "Age",
            "Containers",
            "Images",
            "Selector"
        ]
    );
    assert_eq!(t.body["rows"][0]["cells"][1], 3);
    assert_eq!(t.body["rows"][0]["cells"][3], 2);

    let gone = api
        .call(
            "DELETE",
            &format!("{RCS}/web"),
            "application/json",
            Body::empty(),
        )
        .await;
    assert_eq!(
        (gone.status.as_u16(), gone.body["kind"].clone()),
        (200, json!("Status"))
    );
}

#[tokio::test]
async fn binding_assigns_an_unbound_pod_once_by_either_path() {
    let api = Api::new().await;
    for name in ["a", "b", "gated", "c"] {
        let mut p = pod(name);
        if name == "gated" {
            p["spec"]["schedulingGates"] = json!([{"name": "wait"}]);
        }
        assert_eq!(api.post(PODS, p).await.status, 201);
    }
    let binding = |name: &str, node: &str| {
        json!({"apiVersion": "v1", "kind": "Binding",
               "metadata": {"name": name, "annotations": {"scheduled-by": "test"}},
               "target": {"apiVersion": "v1", "kind": "Node", "name": node}})
    };
    // The subresource.
    let r0 = api.revision().await;
    let ok = api
        .post(&format!("{PODS}/a/binding"), binding("a", "n1"))
        .await;
    assert_eq!(ok.status, 201, "{}", ok.body);
    assert_eq!(
        ok.body,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201})
    );
    assert_eq!(api.revision().await, r0 + 1, "one write");
    let a = api.get(&format!("{PODS}/a")).await.body;
    assert_eq!(a["spec"]["nodeName"], "n1");
    assert_eq!(a["metadata"]["annotations"]["scheduled-by"], "test");
    let conds = a["status"]["conditions"].as_array().unwrap();
    let scheduled: Vec<&Value> = conds
        .iter()
        .filter(|c| c["type"] == "PodScheduled")
        .collect();
    assert_eq!(scheduled.len(), 1);
    assert_eq!(scheduled[0]["status"], "True");
    assert!(scheduled[0]["lastTransitionTime"].is_string());

    // The legacy collection: the pod is named by the binding.
    let ok = api
        .post("/api/v1/namespaces/default/bindings", binding("b", "n2"))
        .await;
    assert_eq!(ok.status, 201, "{}", ok.body);
    assert_eq!(
        api.get(&format!("{PODS}/b")).await.body["spec"]["nodeName"],
        "n2"
    );

    // A second bind of either is refused with 409 and changes nothing.
    let r1 = api.revision().await;
    for (path, name) in [
        (format!("{PODS}/a/binding"), "a"),
        ("/api/v1/namespaces/default/bindings".to_string(), "b"),
    ] {
        let again = api.post(&path, binding(name, "n3")).await;
        assert_eq!(again.status, 409, "{}", again.body);
        assert_eq!(again.body["reason"], "Conflict");
        let node = if name == "a" { "n1" } else { "n2" };
        assert_eq!(
            again.body["message"],
            format!("Operation cannot be fulfilled on pods/binding \"{name}\": pod {name} is already assigned to node \"{node}\"")
        );
        assert_eq!(again.body["details"]["kind"], "pods/binding");
    }
    // Scheduling gates, a name that differs from the URL's, no target, a missing pod.
    let gated = api
        .post(&format!("{PODS}/gated/binding"), binding("gated", "n1"))
        .await;
    assert_eq!(gated.status, 409);
    assert_eq!(
        gated.body["message"],
        "Operation cannot be fulfilled on pods/binding \"gated\": pod gated has non-empty .spec.schedulingGates"
    );
    let wrong = api
        .post(&format!("{PODS}/c/binding"), binding("a", "n1"))
        .await;
    assert_eq!(wrong.status, 400);
    assert_eq!(
        wrong.body["message"],
        "name in URL does not match name in Binding object"
    );
    let mut no_target = binding("c", "");
    no_target["target"] = json!({});
    let refused = api.post(&format!("{PODS}/c/binding"), no_target).await;
    assert_eq!(refused.status, 500);
    assert_eq!(refused.body["message"], "target.name: Required value");
    let missing = api
        .post(&format!("{PODS}/nope/binding"), binding("nope", "n1"))
        .await;
    assert_eq!(missing.status, 404);
    // A uid precondition that does not hold.
    let mut stale = binding("c", "n1");
    stale["metadata"]["uid"] = json!("not-the-uid");
    let refused = api.post(&format!("{PODS}/c/binding"), stale).await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(refused.body["message"]
        .as_str()
        .unwrap()
        .contains("Precondition failed: UID in precondition: not-the-uid"));
    assert_eq!(api.revision().await, r1, "refused binds change nothing");
    assert!(api.get(&format!("{PODS}/c")).await.body["spec"]["nodeName"].is_null());
}
