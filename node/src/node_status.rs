//! NodeStatus as the kubelet reports it: computed every `status_update_interval`, written
//! when it changed or `status_report_interval` has passed since the last write.

use std::sync::Arc;
use std::time::Instant;

use k8s_openapi::api::core::v1::{Node, NodeStatus};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::Api;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::config::NodeConfig;
use crate::images::ImageManager;
use crate::machine::Machine;
use crate::node_object;

/// Reports the status of node `name` until `stop`, starting from what registration stored.
pub async fn run(
    api: Api<Node>,
    config: Arc<NodeConfig>,
    machine: Arc<Machine>,
    images: Option<Arc<ImageManager>>,
    name: String,
    port: u16,
    stop: CancellationToken,
) {
    let mut written: Option<(NodeStatus, Instant)> = None;
    loop {
        let prev = written.as_ref().map(|(s, _)| s);
        let mut status =
            node_object::status(&config, &machine, &name, port, prev, Timestamp::now());
        if let Some(images) = &images {
            let m = images.clone();
            status.images = tokio::task::spawn_blocking(move || m.node_images())
                .await
                .ok();
        }
        let due = match &written {
            None => true,
            Some((s, at)) => {
                node_object::changed(s, &status) || at.elapsed() >= config.status_report_interval
            }
        };
        if due {
            let patch = json!({"status": status});
            match api
                .patch_status(&name, &PatchParams::default(), &Patch::Strategic(patch))
                .await
            {
                Ok(_) => written = Some((status, Instant::now())),
                Err(e) => tracing::debug!(node = %name, error = %e, "node status write failed"),
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(config.status_update_interval) => {}
        }
    }
}
