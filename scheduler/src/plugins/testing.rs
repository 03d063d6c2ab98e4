//! Hand-built nodes and pods for the plugins' unit tests.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::framework::Plugin;
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;
use crate::snapshot::Snapshot;

/// A pod from JSON (defaults: name `p` in `default`, uid from the name, one container).
pub fn pod(v: Value) -> Arc<PodInfo> {
    let mut base = json!({"metadata": {"name": "p", "namespace": "default", "uid": "p"},
                          "spec": {"containers": [{"name": "c"}]}});
    merge(&mut base, v);
    PodInfo::new(serde_json::from_value(base).unwrap_or_default())
}

/// A node from JSON (allocatable defaults to 4 cpu, 16Gi, 110 pods).
pub fn node(v: Value) -> NodeInfo {
    let mut base =
        json!({"status": {"allocatable": {"cpu": "4", "memory": "16Gi", "pods": "110"}}});
    merge(&mut base, v);
    NodeInfo::new(serde_json::from_value(base).unwrap_or_default())
}

/// The volume plugins' caches holding these claims, volumes and classes (no nodes or pods).
pub fn volume_listers(
    claims: Vec<Value>,
    volumes: Vec<Value>,
    classes: Vec<Value>,
) -> crate::plugins::volume_binding::Listers {
    crate::plugins::volume_binding::Listers {
        claims: store(claims),
        volumes: store(volumes),
        classes: store(classes),
        nodes: store(Vec::new()),
        pods: store(Vec::new()),
    }
}

/// An informer's cache holding `items` (those that decode as `K`).
pub fn store<K>(items: Vec<Value>) -> kube::runtime::reflector::Store<K>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (reader, mut writer) = kube::runtime::reflector::store::<K>();
    for v in items {
        if let Ok(o) = serde_json::from_value::<K>(v) {
            writer.apply_watcher_event(&kube::runtime::watcher::Event::Apply(o));
        }
    }
    reader
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

/// A scoring plugin's raw and normalized scores for `p` on every node of `snap`.
pub fn raw_and_normalized(
    plugin: &dyn Plugin,
    p: &PodInfo,
    snap: &Snapshot,
) -> (Vec<i64>, Vec<i64>) {
    let state = plugin.pre_score(p, snap, &snap.nodes).ok().flatten();
    let raw: Vec<i64> = snap
        .nodes
        .iter()
        .map(|n| plugin.score(state.as_deref(), p, n))
        .collect();
    let mut normalized = raw.clone();
    plugin.normalize(state.as_deref(), &mut normalized);
    (raw, normalized)
}
