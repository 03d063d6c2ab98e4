//! Registering the Node (the kubelet's `registerWithAPIServer`): create it; if it exists
//! (the agent restarted), take it over, adding the labels this agent sets.

use k8s_openapi::api::core::v1::Node;
use kube::api::{Patch, PatchParams, PostParams};
use kube::Api;
use serde_json::json;

use crate::error::NodeError;

/// Creates `node`, or adopts the Node of that name; returns the Node as stored.
pub async fn register(api: &Api<Node>, node: &Node) -> Result<Node, NodeError> {
    let name = node.metadata.name.clone().unwrap_or_default();
    match api.create(&PostParams::default(), node).await {
        Ok(n) => Ok(n),
        Err(kube::Error::Api(s)) if s.code == 409 => {
            let patch = json!({"metadata": {"labels": node.metadata.labels}});
            Ok(api
                .patch(&name, &PatchParams::default(), &Patch::Merge(patch))
                .await?)
        }
        Err(e) => Err(e.into()),
    }
}
