//! The API client leader-only work (the controller manager, the scheduler) uses for one led
//! term: the REST router as an in-process tower service, acting as the component's user, over
//! the store fenced at the term, so every write it makes applies only in that term.

use std::sync::Arc;

use capstan_apiserver::k8s::{KubeApi, User};
use capstan_raft::RaftNode;

use crate::fenced_kv::{FencedKv, RefusedWrites};

/// A client for `term` as `user` (its requests carry `agent` as their User-Agent).
pub fn fenced_client(
    kube: &KubeApi,
    node: &RaftNode,
    term: u64,
    refused: &RefusedWrites,
    user: &str,
    agent: &'static str,
) -> kube::Client {
    let fenced: Arc<dyn capstan_store::Kv> =
        Arc::new(FencedKv::new(node.kv(), term, refused.clone()));
    let user = User {
        name: user.into(),
        groups: Vec::new(),
    };
    let router = kube.with_kv(fenced).router_as(user, agent);
    kube::Client::new(router, "default")
}
