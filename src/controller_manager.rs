//! The controller manager as leader-only work: for each term this replica leads, the
//! controllers of `capstan-controllers` run through an in-process client — the REST router as a
//! tower service, as user `system:kube-controller-manager`, over the store fenced at the term —
//! so every write they make applies only in that term.

use std::sync::Arc;

use capstan_apiserver::k8s::{KubeApi, User};
use capstan_controllers::ManagerConfig;
use capstan_raft::RaftNode;

use crate::fenced_kv::{FencedKv, RefusedWrites};
use crate::leader_terms::{LeaderTerm, TermWork};

/// The name the manager's requests carry (field managers are named after it).
const USER_AGENT: &str = "kube-controller-manager/v1.33.0 (capstan)";

/// The controller manager, started with each led term and stopped when it ends.
pub fn per_term(
    kube: KubeApi,
    node: Arc<RaftNode>,
    config: ManagerConfig,
    refused: RefusedWrites,
) -> TermWork {
    Arc::new(move |term: LeaderTerm| {
        let fenced: Arc<dyn capstan_store::Kv> =
            Arc::new(FencedKv::new(node.kv(), term.term, refused.clone()));
        let user = User {
            name: "system:kube-controller-manager".into(),
            groups: Vec::new(),
        };
        let router = kube.with_kv(fenced).router_as(user, USER_AGENT);
        let client = kube::Client::new(router, "default");
        Box::pin(capstan_controllers::run(client, config.clone(), term.ended))
    })
}
