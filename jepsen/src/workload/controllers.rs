//! The controllers workload: one Deployment kept scaling (3 to 8 replicas) and rolling (image
//! changes) through random replicas' REST API, so the deployment and replicaset controllers on
//! whichever replica leads keep reconciling through the faults. A fake kubelet lane plays the
//! kubelet as kwok does (pending pods become Running and Ready; terminating pods are removed),
//! and informers record every pod and Deployment event for the rollout checker.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use super::informer::Snap;
use super::kube::{classify, rv_of, KubeClients, KubeLane, NAMESPACE};
use super::Pace;
use crate::client::CallError;
use crate::history::Call;

/// The Deployment's name (and its pods' `app` label).
pub const DEPLOYMENT: &str = "jepsen-rollout";
pub const MIN_REPLICAS: i64 = 3;
pub const MAX_REPLICAS: i64 = 8;
pub const MAX_SURGE: i32 = 2;
pub const MAX_UNAVAILABLE: i32 = 1;
/// The history keys of the two kinds of spec change.
pub const REPLICAS_KEY: &str = "deployment/replicas";
pub const IMAGE_KEY: &str = "deployment/image";

pub fn image(generation: i64) -> String {
    format!("registry.invalid/jepsen:{generation}")
}

fn is_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn phase(p: &Pod) -> &str {
    p.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending")
}

fn pod_image(p: &Pod) -> String {
    p.spec
        .as_ref()
        .and_then(|s| s.containers.first())
        .and_then(|c| c.image.clone())
        .unwrap_or_default()
}

/// A pod as the rollout checker sees it: `phase|ready|terminating|image`.
pub fn pod_snap(p: &Pod) -> Snap {
    Snap {
        name: p.name_any(),
        rv: rv_of(&p.metadata),
        info: format!(
            "{}|{}|{}|{}",
            phase(p),
            is_ready(p),
            p.metadata.deletion_timestamp.is_some(),
            pod_image(p)
        ),
    }
}

/// A pod snap's parts: (phase, ready, terminating, image).
pub fn pod_parts(info: &str) -> (&str, bool, bool, &str) {
    let mut it = info.splitn(4, '|');
    let phase = it.next().unwrap_or("");
    let ready = it.next() == Some("true");
    let terminating = it.next() == Some("true");
    (phase, ready, terminating, it.next().unwrap_or(""))
}

/// A Deployment as the rollout checker sees it: `replicas|image|maxSurge|maxUnavailable`.
pub fn deployment_snap(d: &Deployment) -> Snap {
    let spec = d.spec.as_ref();
    let rolling = spec
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.rolling_update.as_ref());
    let int_or = |v: Option<&k8s_openapi::apimachinery::pkg::util::intstr::IntOrString>| match v {
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(i)) => i.to_string(),
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s)) => s.clone(),
        None => String::new(),
    };
    let image = spec
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|s| s.containers.first())
        .and_then(|c| c.image.clone())
        .unwrap_or_default();
    Snap {
        name: d.name_any(),
        rv: rv_of(&d.metadata),
        info: format!(
            "{}|{}|{}|{}",
            spec.and_then(|s| s.replicas).unwrap_or(1),
            image,
            int_or(rolling.and_then(|r| r.max_surge.as_ref())),
            int_or(rolling.and_then(|r| r.max_unavailable.as_ref())),
        ),
    }
}

fn deployment(replicas: i64, generation: i64) -> Result<Deployment, CallError> {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": DEPLOYMENT, "namespace": NAMESPACE},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": DEPLOYMENT}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {
                "maxSurge": MAX_SURGE, "maxUnavailable": MAX_UNAVAILABLE}},
            "template": {
                "metadata": {"labels": {"app": DEPLOYMENT}},
                "spec": {"containers": [{"name": "app", "image": image(generation)}]}
            }
        }
    }))
    .map_err(|e| CallError {
        outcome: crate::history::Outcome::Fail,
        message: e.to_string(),
    })
}

/// Creates the Deployment (recorded as the first spec change of each kind); retries until it
/// is there, since the workload means nothing without it.
pub async fn create(lane: &mut KubeLane, kube: &KubeClients, rng: &mut ChaCha8Rng) -> bool {
    for _ in 0..20 {
        let (i, node) = kube.pick(rng);
        let client = kube.client(i);
        let call = Call::Write {
            key: REPLICAS_KEY.into(),
            value: MIN_REPLICAS,
        };
        let c = call.clone();
        let r = lane
            .run(&node, call, async move {
                let api: Api<Deployment> = Api::namespaced(client?, NAMESPACE);
                let d = api
                    .create(&PostParams::default(), &deployment(MIN_REPLICAS, 1)?)
                    .await
                    .map_err(|e| classify(&e))?;
                Ok((c, rv_of(&d.metadata)))
            })
            .await;
        if r.is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    false
}

/// Scales and rolls the Deployment, one change every 0.5-1.5 s, until `pace` says stop.
pub async fn scaler(mut lane: KubeLane, kube: Arc<KubeClients>, mut rng: ChaCha8Rng, pace: Pace) {
    let mut generation = 1;
    while pace.go().await {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(500..1500))).await;
        if !pace.running() {
            break;
        }
        let (i, node) = kube.pick(&mut rng);
        let (call, patch) = if rng.gen_bool(0.5) {
            let n = rng.gen_range(MIN_REPLICAS..=MAX_REPLICAS);
            (
                Call::Write {
                    key: REPLICAS_KEY.into(),
                    value: n,
                },
                json!({"spec": {"replicas": n}}),
            )
        } else {
            generation += 1;
            (
                Call::Write {
                    key: IMAGE_KEY.into(),
                    value: generation,
                },
                json!({"spec": {"template": {"spec": {"containers": [
                    {"name": "app", "image": image(generation)}]}}}}),
            )
        };
        let client = kube.client(i);
        let c = call.clone();
        let _ = lane
            .run(&node, call, async move {
                let api: Api<Deployment> = Api::namespaced(client?, NAMESPACE);
                let d = api
                    .patch(
                        DEPLOYMENT,
                        &PatchParams::default(),
                        &Patch::Strategic(patch),
                    )
                    .await
                    .map_err(|e| classify(&e))?;
                Ok((c, rv_of(&d.metadata)))
            })
            .await;
    }
}

/// Plays the kubelet until `stop`: pending pods become Running and Ready, terminating pods are
/// deleted for good (grace period 0), through random replicas.
pub async fn kubelet(kube: Arc<KubeClients>, mut rng: ChaCha8Rng, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (i, _) = kube.pick(&mut rng);
        let Ok(client) = kube.client(i) else { continue };
        let api: Api<Pod> = Api::namespaced(client, NAMESPACE);
        let listed =
            tokio::time::timeout(super::kube::KUBE_TIMEOUT, api.list(&ListParams::default())).await;
        let Ok(Ok(pods)) = listed else { continue };
        for p in pods.items {
            let name = p.name_any();
            let step = async {
                if p.metadata.deletion_timestamp.is_some() {
                    let _ = api
                        .delete(&name, &DeleteParams::default().grace_period(0))
                        .await;
                } else if phase(&p) == "Pending" {
                    let now = k8s_openapi::jiff::Timestamp::now().to_string();
                    let status = json!({"status": {"phase": "Running", "conditions": [
                        {"type": "Ready", "status": "True", "lastTransitionTime": now}]}});
                    let _ = api
                        .patch_status(&name, &PatchParams::default(), &Patch::Merge(status))
                        .await;
                }
            };
            let _ = tokio::time::timeout(super::kube::KUBE_TIMEOUT, step).await;
        }
    }
}

/// Waits until the Deployment's pods are exactly its replicas, all of its current image and
/// Ready, and none terminating; returns how long that took, or `None` past `within`.
pub async fn wait_rollout(
    kube: &KubeClients,
    rng: &mut ChaCha8Rng,
    within: Duration,
) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < within {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let (i, _) = kube.pick(rng);
        let Ok(client) = kube.client(i) else { continue };
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), NAMESPACE);
        let pods: Api<Pod> = Api::namespaced(client, NAMESPACE);
        let both = async {
            let d = deployments.get(DEPLOYMENT).await.ok()?;
            let p = pods.list(&ListParams::default()).await.ok()?;
            Some((d, p))
        };
        let Ok(Some((d, p))) = tokio::time::timeout(super::kube::KUBE_TIMEOUT, both).await else {
            continue;
        };
        let snap = deployment_snap(&d);
        let mut parts = snap.info.split('|');
        let replicas: usize = parts.next().and_then(|r| r.parse().ok()).unwrap_or(0);
        let image = parts.next().unwrap_or("");
        let done = p.items.len() == replicas
            && p.items.iter().all(|p| {
                p.metadata.deletion_timestamp.is_none() && is_ready(p) && pod_image(p) == image
            });
        if done {
            return Some(started.elapsed());
        }
    }
    None
}
