//! The horizontalpodautoscaling controller through a real `capstan server` (sync period 1 s):
//! without pod metrics it says so as upstream does; CPU a node agent measures scales a
//! Deployment up; it holds a target within minReplicas and
//! maxReplicas through the target's `/scale`, leaves a target scaled to zero alone and reports
//! a target it cannot find. One rule per test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::future::Future;
use std::time::{Duration, Instant};

use common::Server;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::{
    HorizontalPodAutoscaler, HorizontalPodAutoscalerCondition,
};
use k8s_openapi::api::core::v1::Event;
use kube::api::{ListParams, PostParams};
use kube::Api;
use serde_json::{json, Value};

/// Generous: a guard against a controller that never acts, not a speed assertion.
const PATIENCE: Duration = Duration::from_secs(60);

struct Fixture {
    _dir: tempfile::TempDir,
    _server: Server,
    client: kube::Client,
    hpas: Api<HorizontalPodAutoscaler>,
    deployments: Api<Deployment>,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        "a",
        &[
            "--controllers".into(),
            "horizontalpodautoscaling".into(),
            "--horizontal-pod-autoscaler-sync-period".into(),
            "1s".into(),
        ],
    );
    common::wait_api_ready(&server, PATIENCE).await;
    let client = server.kube().await;
    Fixture {
        hpas: Api::namespaced(client.clone(), "default"),
        deployments: Api::namespaced(client.clone(), "default"),
        client,
        _server: server,
        _dir: dir,
    }
}

async fn until<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn deployment(f: &Fixture, name: &str, replicas: i32) {
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "c", "image": "v1"}]}}}}))
    .unwrap();
    f.deployments
        .create(&PostParams::default(), &d)
        .await
        .unwrap();
}

async fn hpa(f: &Fixture, name: &str, target: &str, min: i32, max: i32) -> HorizontalPodAutoscaler {
    let h: HorizontalPodAutoscaler = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
                 "minReplicas": min, "maxReplicas": max}}))
    .unwrap();
    f.hpas.create(&PostParams::default(), &h).await.unwrap()
}

fn condition(h: &HorizontalPodAutoscaler, type_: &str) -> Option<HorizontalPodAutoscalerCondition> {
    h.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
        .cloned()
}

/// Waits until the HPA reports condition `type_` with `reason`.
async fn reported(f: &Fixture, name: &str, type_: &str, reason: &str) -> HorizontalPodAutoscaler {
    until(&format!("{name} {type_} {reason}"), || async {
        let h = f.hpas.get(name).await.unwrap();
        let c = condition(&h, type_)?;
        (c.reason.as_deref() == Some(reason)).then_some(h)
    })
    .await
}

/// The first event about `object` with `reason`, as (type, message).
async fn event(f: &Fixture, object: &str, reason: &str) -> (String, String) {
    until(&format!("{reason} event about {object}"), || async {
        Api::<Event>::namespaced(f.client.clone(), "default")
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .find(|e| {
                e.involved_object.name.as_deref() == Some(object)
                    && e.reason.as_deref() == Some(reason)
            })
            .map(|e| (e.type_.unwrap_or_default(), e.message.unwrap_or_default()))
    })
    .await
}

fn cond_of(h: &HorizontalPodAutoscaler, type_: &str) -> (String, String, String) {
    let c = condition(h, type_).unwrap();
    (
        c.status,
        c.reason.unwrap_or_default(),
        c.message.unwrap_or_default(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_pod_metrics_an_hpa_reports_it_cannot_compute_replicas() {
    let f = fixture().await;
    deployment(&f, "web", 2).await;
    let made = hpa(&f, "web", "web", 1, 5).await;
    // No metrics given: the CPU at 80% of the requests.
    assert_eq!(
        serde_json::to_value(made.spec.unwrap().metrics).unwrap(),
        json!([{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 80}}}])
    );
    let h = reported(&f, "web", "ScalingActive", "FailedGetResourceMetric").await;
    // The pods run on no node agent: the resource metrics API has nothing for them.
    let missing = "unable to get metrics for resource cpu: no metrics returned from resource \
                   metrics API";
    assert_eq!(
        cond_of(&h, "ScalingActive"),
        (
            "False".into(),
            "FailedGetResourceMetric".into(),
            format!("the HPA was unable to compute the replica count: failed to get cpu utilization: {missing}")
        )
    );
    assert_eq!(
        cond_of(&h, "AbleToScale"),
        (
            "True".into(),
            "SucceededGetScale".into(),
            "the HPA controller was able to get the target's current scale".into()
        )
    );
    let st = h.status.unwrap();
    assert_eq!(st.current_replicas, Some(2));
    assert_eq!(
        serde_json::to_value(&st.current_metrics).unwrap(),
        json!([{"type": ""}])
    );
    let (kind, message) = event(&f, "web", "FailedGetResourceMetric").await;
    assert_eq!(kind, "Warning");
    assert_eq!(message, format!("failed to get cpu utilization: {missing}"));
    let (kind, message) = event(&f, "web", "FailedComputeMetricsReplicas").await;
    assert_eq!(kind, "Warning");
    assert_eq!(
        message,
        format!(
            "invalid metrics (1 invalid out of 1), first error is: failed to get cpu resource \
             metric value: failed to get cpu utilization: {missing}"
        )
    );
    // Nothing was scaled.
    let d = f.deployments.get("web").await.unwrap();
    assert_eq!(d.spec.unwrap().replicas, Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_below_min_replicas_is_scaled_up_to_it() {
    let f = fixture().await;
    deployment(&f, "web", 1).await;
    hpa(&f, "web", "web", 3, 5).await;
    until("the deployment scaled to 3", || async {
        let d = f.deployments.get("web").await.unwrap();
        (d.spec.unwrap().replicas == Some(3)).then_some(())
    })
    .await;
    let (kind, message) = event(&f, "web", "SuccessfulRescale").await;
    assert_eq!(kind, "Normal");
    assert_eq!(
        message,
        "New size: 3; reason: Current number of replicas below Spec.MinReplicas"
    );
    let h = until("the rescale reported", || async {
        let h = f.hpas.get("web").await.unwrap();
        h.status.as_ref()?.last_scale_time.as_ref()?;
        Some(h)
    })
    .await;
    let st = h.status.clone().unwrap();
    assert!(
        st.desired_replicas == 3 || st.current_replicas == Some(3),
        "{st:?}"
    );
    let (status, reason, _) = cond_of(&h, "AbleToScale");
    assert_eq!(status, "True");
    assert!(
        reason == "SucceededRescale" || reason == "SucceededGetScale",
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_above_max_replicas_is_scaled_down_to_it() {
    let f = fixture().await;
    deployment(&f, "web", 7).await;
    hpa(&f, "web", "web", 1, 4).await;
    until("the deployment scaled to 4", || async {
        let d = f.deployments.get("web").await.unwrap();
        (d.spec.unwrap().replicas == Some(4)).then_some(())
    })
    .await;
    let (_, message) = event(&f, "web", "SuccessfulRescale").await;
    assert_eq!(
        message,
        "New size: 4; reason: Current number of replicas above Spec.MaxReplicas"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_scaled_to_zero_is_left_alone() {
    let f = fixture().await;
    deployment(&f, "idle", 0).await;
    hpa(&f, "idle", "idle", 2, 5).await;
    let h = reported(&f, "idle", "ScalingActive", "ScalingDisabled").await;
    assert_eq!(
        cond_of(&h, "ScalingActive"),
        (
            "False".into(),
            "ScalingDisabled".into(),
            "scaling is disabled since the replica count of the target is zero".into()
        )
    );
    assert_eq!(h.status.unwrap().desired_replicas, 0);
    let d = f.deployments.get("idle").await.unwrap();
    assert_eq!(d.spec.unwrap().replicas, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_target_is_reported_as_failed_get_scale() {
    let f = fixture().await;
    hpa(&f, "ghost", "ghost", 1, 3).await;
    let h = reported(&f, "ghost", "AbleToScale", "FailedGetScale").await;
    assert_eq!(
        cond_of(&h, "AbleToScale"),
        (
            "False".into(),
            "FailedGetScale".into(),
            "the HPA controller was unable to get the target's current scale: deployments.apps \"ghost\" not found".into()
        )
    );
    let (kind, message) = event(&f, "ghost", "FailedGetScale").await;
    assert_eq!(
        (kind.as_str(), message.as_str()),
        ("Warning", "deployments.apps \"ghost\" not found")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hpas_are_listed_as_kubectl_get_hpa_asks() {
    let f = fixture().await;
    deployment(&f, "web", 2).await;
    hpa(&f, "web", "web", 1, 5).await;
    let req =
        http::Request::get("/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers")
            .header("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
            .body(Vec::new())
            .unwrap();
    let table: Value = f.client.request(req).await.unwrap();
    assert_eq!(table["kind"], "Table", "{table}");
    assert_eq!(table["rows"][0]["cells"][0], "web", "{table}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpu_measured_on_a_node_agent_scales_a_deployment_up() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        "a",
        &[
            "--controllers".into(),
            "horizontalpodautoscaling,deployment,replicaset".into(),
            "--horizontal-pod-autoscaler-sync-period".into(),
            "1s".into(),
        ],
    );
    common::wait_api_ready(&server, PATIENCE).await;
    let _agent = common::node_agent::NodeAgent::start(&server, dir.path(), "w", &[]);
    let client = server.kube().await;
    let f = Fixture {
        hpas: Api::namespaced(client.clone(), "default"),
        deployments: Api::namespaced(client.clone(), "default"),
        client,
        _server: server,
        _dir: tempfile::tempdir().unwrap(),
    };
    // Each pod asks for 1m of CPU and uses more (a shell counting to 1000 ten times a
    // second): far above a 50% target, so the HPA goes to its maximum.
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "busy"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "busy"}},
                 "template": {"metadata": {"labels": {"app": "busy"}},
                              "spec": {"containers": [{"name": "c", "image": "busybox",
                                  "command": ["sh", "-c",
                                      "while true; do i=0; while [ $i -lt 1000 ]; do i=$((i+1)); done; sleep 0.1; done"],
                                  "resources": {"requests": {"cpu": "1m"}}}]}}}}))
    .unwrap();
    f.deployments
        .create(&PostParams::default(), &d)
        .await
        .unwrap();
    let h: HorizontalPodAutoscaler = serde_json::from_value(json!({
        "metadata": {"name": "busy"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "busy"},
                 "minReplicas": 1, "maxReplicas": 3,
                 "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                     "target": {"type": "Utilization", "averageUtilization": 50}}}]}}))
    .unwrap();
    f.hpas.create(&PostParams::default(), &h).await.unwrap();
    let h = reported(&f, "busy", "ScalingActive", "ValidMetricFound").await;
    assert_eq!(
        cond_of(&h, "ScalingActive").2,
        "the HPA was able to successfully calculate a replica count from cpu resource \
         utilization (percentage of request)"
    );
    // (The SuccessfulRescale event is not looked for: the warnings of the seconds before the
    // first CPU rate, at a 1 s sync period, use up the recorder's spam-filter budget, as
    // client-go's would.)
    let h = reported(&f, "busy", "ScalingLimited", "TooManyReplicas").await;
    assert!(h.status.unwrap().last_scale_time.is_some());
    let d = until("the deployment at 3 replicas", || async {
        let d = f.deployments.get("busy").await.unwrap();
        (d.spec.as_ref()?.replicas == Some(3)).then_some(d)
    })
    .await;
    assert_eq!(d.spec.unwrap().replicas, Some(3));
    // The measured utilization is in the status, as kubectl get hpa shows it.
    let h = until("the current utilization in the status", || async {
        let h = f.hpas.get("busy").await.unwrap();
        let m = h
            .status
            .as_ref()?
            .current_metrics
            .as_ref()?
            .first()?
            .clone();
        m.resource?.current.average_utilization.filter(|u| *u > 50)
    })
    .await;
    assert!(h > 50);
}
