//! The scheduler as leader-only work: for each term this replica leads, `capstan-scheduler`
//! runs through an in-process client as user `system:kube-scheduler`, fenced at the term
//! (`term_client`), so a deposed leader can never bind a pod.

use std::sync::Arc;

use capstan_apiserver::k8s::KubeApi;
use capstan_raft::RaftNode;
use capstan_scheduler::SchedulerConfig;

use crate::fenced_kv::RefusedWrites;
use crate::leader_terms::{LeaderTerm, TermWork};
use crate::term_client::fenced_client;

/// The name the scheduler's requests carry.
const USER_AGENT: &str = "kube-scheduler/v1.33.0 (capstan)";

/// The scheduler, started with each led term and stopped when it ends.
pub fn per_term(
    kube: KubeApi,
    node: Arc<RaftNode>,
    config: SchedulerConfig,
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
            ("system:kube-scheduler", USER_AGENT),
            &serving,
        );
        Box::pin(capstan_scheduler::run(
            client,
            config.clone(),
            term.ended,
            Some(serving.clone()),
        ))
    })
}
