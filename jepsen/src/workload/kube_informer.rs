//! The kube-informer workload: writer lanes create, update and delete a few ConfigMaps through
//! random replicas' REST API while informer lanes ([`super::informer`]) list and watch them; the
//! checker compares what each informer was delivered with the store's own history.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{DeleteParams, PostParams};
use kube::{Api, ResourceExt};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::informer::Snap;
use super::kube::{classify, rv_of, status_code, KubeClients, KubeLane, NAMESPACE};
use super::Pace;
use crate::client::CallError;
use crate::history::Call;

/// How many ConfigMap names the writers share.
const NAMES: usize = 6;

/// A ConfigMap as the informer checker compares it: its value.
pub fn snap(cm: &ConfigMap) -> Snap {
    Snap {
        name: cm.name_any(),
        rv: rv_of(&cm.metadata),
        info: cm
            .data
            .as_ref()
            .and_then(|d| d.get("value"))
            .cloned()
            .unwrap_or_default(),
    }
}

/// Runs one writer lane until `pace` says stop.
pub async fn writer(
    mut lane: KubeLane,
    kube: Arc<KubeClients>,
    values: Arc<AtomicI64>,
    mut rng: ChaCha8Rng,
    pace: Pace,
) {
    // Whether this lane believes each name exists (a wrong guess is a refused request).
    let mut exists = HashMap::<String, bool>::new();
    while pace.go().await {
        let name = format!("jepsen-inf-{}", rng.gen_range(0..NAMES));
        let (i, node) = kube.pick(&mut rng);
        let there = exists.get(&name).copied().unwrap_or(false);
        let call = if there && rng.gen_bool(0.3) {
            Call::Delete { key: name.clone() }
        } else {
            Call::Write {
                key: name.clone(),
                value: values.fetch_add(1, Ordering::SeqCst),
            }
        };
        let client = kube.client(i);
        let c = call.clone();
        let r = lane
            .run(&node, call, async move { exec(client?, c, there).await })
            .await;
        match r {
            Ok((Call::Delete { .. }, _)) => {
                exists.insert(name, false);
            }
            Ok(_) => {
                exists.insert(name, true);
            }
            Err(e) if e.message.contains("404") || e.message.contains("NotFound") => {
                exists.insert(name, false);
            }
            Err(e) if e.message.contains("409") || e.message.contains("AlreadyExists") => {
                exists.insert(name, true);
            }
            Err(_) => {}
        }
    }
}

async fn exec(client: kube::Client, call: Call, there: bool) -> Result<(Call, i64), CallError> {
    let api: Api<ConfigMap> = Api::namespaced(client, NAMESPACE);
    match call {
        Call::Write { key, value } => {
            let cm = ConfigMap {
                metadata: ObjectMeta {
                    name: Some(key.clone()),
                    namespace: Some(NAMESPACE.to_string()),
                    ..Default::default()
                },
                data: Some(BTreeMap::from([("value".to_string(), value.to_string())])),
                ..Default::default()
            };
            let pp = PostParams::default();
            // An update without a resourceVersion is unconditional (last writer wins).
            let written = if there {
                api.replace(&key, &pp, &cm).await
            } else {
                api.create(&pp, &cm).await
            }
            .map_err(|e| with_code(&e))?;
            Ok((Call::Write { key, value }, rv_of(&written.metadata)))
        }
        Call::Delete { key } => {
            api.delete(&key, &DeleteParams::default())
                .await
                .map_err(|e| with_code(&e))?;
            Ok((Call::Delete { key }, 0))
        }
        other => Ok((other, 0)),
    }
}

/// The classified error, its text naming the HTTP status the lane's belief follows.
fn with_code(e: &kube::Error) -> CallError {
    let mut c = classify(e);
    if let Some(code) = status_code(e) {
        c.message = format!("{code}: {}", c.message);
    }
    c
}
