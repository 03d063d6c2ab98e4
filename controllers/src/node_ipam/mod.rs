//! The nodeipam controller (kube-controller-manager's range allocator, IPv4 only): every Node
//! without `spec.podCIDR` gets the next free `/--node-cidr-mask-size` range of
//! `--cluster-cidr` in `spec.podCIDR` and `spec.podCIDRs`. Ranges that nodes already hold are
//! marked used before anything is handed out, a deleted node's range is freed, and a node
//! that finds the cluster CIDR exhausted gets a `CIDRNotAvailable` event and is retried with
//! back-off.

pub mod cidr_set;

use std::sync::{Arc, Mutex, PoisonError};

use k8s_openapi::api::core::v1::Node;
use kube::api::{Patch, PatchParams};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::events::Recorder;
use crate::informers::{Change, Informer, Informers};
use crate::workqueue::{run_workers, WorkQueue};
use crate::{ControllerError, ManagerConfig};
use cidr_set::CidrSet;

/// Upstream's `cidrUpdateWorkers`.
const WORKERS: usize = 30;

fn pod_cidrs(node: &Node) -> Vec<String> {
    let spec = node.spec.as_ref();
    match spec
        .and_then(|s| s.pod_cidrs.clone())
        .filter(|c| !c.is_empty())
    {
        Some(cidrs) => cidrs,
        None => spec
            .and_then(|s| s.pod_cidr.clone())
            .filter(|c| !c.is_empty())
            .into_iter()
            .collect(),
    }
}

pub fn register(
    client: Client,
    informers: &Informers,
    config: &ManagerConfig,
    ended: CancellationToken,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let set = match CidrSet::new(&config.cluster_cidr, config.node_cidr_mask_size) {
        Ok(s) => Some(Arc::new(Mutex::new(s))),
        Err(e) => {
            tracing::error!(error = %e, cidr = %config.cluster_cidr, "nodeipam: not started");
            None
        }
    };
    let nodes = informers.get::<Node>();
    let queue: Arc<WorkQueue<String>> = WorkQueue::new(ended);
    if let Some(set) = set.clone() {
        let q = queue.clone();
        // Ranges are occupied as the informer delivers nodes, so every range nodes held at
        // the first list is marked before the workers (started once it is in) hand any out.
        nodes.on_change(move |c| {
            let mut set = set.lock().unwrap_or_else(PoisonError::into_inner);
            match c {
                Change::Applied(n) => {
                    let cidrs = pod_cidrs(n);
                    if cidrs.is_empty() {
                        q.add(n.name_any());
                    }
                    for cidr in cidrs.iter().take(1) {
                        if let Err(e) = set.occupy(cidr) {
                            tracing::warn!(node = %n.name_any(), error = %e, "nodeipam: range not occupied");
                        }
                    }
                }
                Change::Deleted(n) => {
                    for cidr in pod_cidrs(n).iter().take(1) {
                        if let Err(e) = set.release(cidr) {
                            tracing::warn!(node = %n.name_any(), error = %e, "nodeipam: range not released");
                        }
                    }
                }
            }
        });
    }
    let recorder = Recorder::new(client.clone(), "cidrAllocator");
    async move {
        let Some(set) = set else { return };
        nodes.synced().await;
        run_workers(queue, WORKERS, "nodeipam", move |name: String| {
            let (client, nodes, set, recorder) =
                (client.clone(), nodes.clone(), set.clone(), recorder.clone());
            async move { sync(&client, &nodes, &set, &recorder, &name).await }
        })
        .await;
    }
}

/// Gives node `name` a range if it still has none.
async fn sync(
    client: &Client,
    nodes: &Informer<Node>,
    set: &Mutex<CidrSet>,
    recorder: &Recorder,
    name: &str,
) -> Result<(), ControllerError> {
    let Some(cached) = nodes.store().get(&ObjectRef::new(name)) else {
        return Ok(());
    };
    if !pod_cidrs(&cached).is_empty() {
        return Ok(());
    }
    // The cache may not show a range given a moment ago: ask the API before taking another.
    let api: Api<Node> = Api::all(client.clone());
    let node = match api.get_opt(name).await? {
        Some(n) if pod_cidrs(&n).is_empty() => n,
        _ => return Ok(()),
    };
    let allocated = set
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .allocate_next();
    let Some(cidr) = allocated else {
        recorder
            .normal(
                &node,
                "CIDRNotAvailable",
                format!("Node {name} status is now: CIDRNotAvailable"),
            )
            .await;
        return Err(ControllerError::Conflict(format!(
            "no range of the cluster CIDR is left for node {name}"
        )));
    };
    let patch = json!({"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}});
    match api
        .patch(name, &PatchParams::default(), &Patch::Strategic(patch))
        .await
    {
        Ok(_) => {
            tracing::info!(node = name, cidr, "nodeipam: set node PodCIDR");
            Ok(())
        }
        Err(kube::Error::Api(s)) if s.code == 404 => {
            release(set, &cidr);
            Ok(())
        }
        Err(e) => {
            recorder
                .normal(
                    &node,
                    "CIDRAssignmentFailed",
                    format!("Node {name} status is now: CIDRAssignmentFailed"),
                )
                .await;
            release(set, &cidr);
            Err(e.into())
        }
    }
}

fn release(set: &Mutex<CidrSet>, cidr: &str) {
    let _ = set
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .release(cidr);
}
