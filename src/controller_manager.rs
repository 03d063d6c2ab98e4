//! The controller manager as leader-only work: for each term this replica leads, the
//! controllers of `capstan-controllers` run through an in-process client as user
//! `system:kube-controller-manager`, fenced at the term (`term_client`).

use std::sync::Arc;

use capstan_apiserver::k8s::KubeApi;
use capstan_controllers::ManagerConfig;
use capstan_raft::RaftNode;

use crate::fenced_kv::RefusedWrites;
use crate::leader_terms::{LeaderTerm, TermWork};
use crate::term_client::fenced_client;

/// The name the manager's requests carry (field managers are named after it).
const USER_AGENT: &str = "kube-controller-manager/v1.33.0 (capstan)";

/// The controller manager, started with each led term and stopped when it ends.
pub fn per_term(
    kube: KubeApi,
    node: Arc<RaftNode>,
    config: ManagerConfig,
    refused: RefusedWrites,
) -> TermWork {
    // Built on the serving runtime: the term's writes are handled there.
    let serving = tokio::runtime::Handle::current();
    Arc::new(move |term: LeaderTerm| {
        let client = fenced_client(
            &kube,
            &node,
            term.term,
            &refused,
            ("system:kube-controller-manager", USER_AGENT),
            &serving,
        );
        Box::pin(capstan_controllers::run(client, config.clone(), term.ended))
    })
}
