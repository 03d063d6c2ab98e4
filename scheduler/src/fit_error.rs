//! `FitError`: why no node fits a pod, and the message users read in the `FailedScheduling`
//! event and the PodScheduled condition, built as upstream's `FitError.Error()` builds it:
//! `0/5 nodes are available: 2 Insufficient cpu, 3 node(s) didn't match Pod's node
//! affinity/selector. preemption: …` — each reason counted over the nodes, sorted as strings.

use std::collections::{BTreeMap, BTreeSet};

use crate::framework::{Code, Status};

/// Nodes that PreFilter left out are reported with this.
const NARROWED_PLUGINS: &str = "node(s) didn't satisfy plugin(s) [NodeAffinity]";

#[derive(Debug, Clone)]
pub struct FitError {
    pub num_all_nodes: usize,
    /// A PreFilter refusal (then every node counts as refused by it).
    pub pre_filter: Option<Status>,
    /// Each refused node's status.
    pub node_statuses: BTreeMap<String, Status>,
    /// Whether PreFilter narrowed the nodes (those not looked at count as refused).
    pub narrowed: bool,
    /// What PostFilter (preemption) said.
    pub post_filter_msg: Option<String>,
    /// An error rather than a verdict (retried with back-off).
    pub error: Option<String>,
}

impl FitError {
    fn empty() -> FitError {
        FitError {
            num_all_nodes: 0,
            pre_filter: None,
            node_statuses: BTreeMap::new(),
            narrowed: false,
            post_filter_msg: None,
            error: None,
        }
    }

    /// No node is registered at all (upstream's `ErrNoNodesAvailable`, an error).
    pub fn no_nodes() -> FitError {
        let mut e = FitError::empty();
        e.error = Some("no nodes available to schedule pods".into());
        e
    }

    pub fn pre_filter(all: usize, status: Status) -> FitError {
        let mut e = FitError::empty();
        e.num_all_nodes = all;
        if status.code == Code::Error {
            e.error = Some(status.message());
        }
        e.pre_filter = Some(status);
        e
    }

    pub fn filter(all: usize, statuses: BTreeMap<String, Status>, narrowed: bool) -> FitError {
        let mut e = FitError::empty();
        e.num_all_nodes = all;
        if let Some(s) = statuses.values().find(|s| s.code == Code::Error) {
            e.error = Some(s.message());
        }
        e.node_statuses = statuses;
        e.narrowed = narrowed;
        e
    }

    pub fn error(status: Status) -> FitError {
        let mut e = FitError::empty();
        e.error = Some(status.message());
        e
    }

    /// The plugins that refused the pod somewhere (which cluster events may help it).
    pub fn unschedulable_plugins(&self) -> BTreeSet<&'static str> {
        let mut out: BTreeSet<&'static str> =
            self.node_statuses.values().map(|s| s.plugin).collect();
        out.extend(self.pre_filter.iter().map(|s| s.plugin));
        if self.narrowed {
            out.insert(crate::plugins::node_affinity::NAME);
        }
        out
    }

    /// Each reason with the number of nodes it was given for.
    pub fn reason_counts(&self) -> BTreeMap<String, usize> {
        let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
        for s in self.node_statuses.values() {
            for r in &s.reasons {
                *reasons.entry(r.clone()).or_insert(0) += 1;
            }
        }
        if self.narrowed {
            let absent = self.num_all_nodes.saturating_sub(self.node_statuses.len());
            if absent > 0 {
                *reasons.entry(NARROWED_PLUGINS.to_string()).or_insert(0) += absent;
            }
        }
        reasons
    }

    /// The message users read.
    pub fn message(&self) -> String {
        if let Some(e) = &self.error {
            return e.clone();
        }
        let mut msg = format!("0/{} nodes are available:", self.num_all_nodes);
        match &self.pre_filter {
            Some(s) => msg.push_str(&format!(" {}.", s.message())),
            None => {
                let mut counted: Vec<String> = self
                    .reason_counts()
                    .into_iter()
                    .map(|(r, n)| format!("{n} {r}"))
                    .collect();
                counted.sort();
                if !counted.is_empty() {
                    msg.push_str(&format!(" {}.", counted.join(", ")));
                }
            }
        }
        if let Some(p) = &self.post_filter_msg {
            msg.push_str(&format!(" {p}."));
        }
        msg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_error_message_counts_and_sorts_reasons_as_upstream() {
        let mut statuses = BTreeMap::new();
        for (n, r) in [("a", "Insufficient cpu"), ("b", "Insufficient cpu")] {
            statuses.insert(n.to_string(), Status::unschedulable("NodeResourcesFit", r));
        }
        for n in ["c", "d", "e"] {
            statuses.insert(
                n.to_string(),
                Status::unresolvable(
                    "NodeAffinity",
                    "node(s) didn't match Pod's node affinity/selector",
                ),
            );
        }
        let mut e = FitError::filter(5, statuses, false);
        e.post_filter_msg = Some(
            "preemption: 0/5 nodes are available: 2 No preemption victims found for incoming pod, 3 Preemption is not helpful for scheduling"
                .into(),
        );
        assert_eq!(
            e.message(),
            "0/5 nodes are available: 2 Insufficient cpu, 3 node(s) didn't match Pod's node affinity/selector. \
             preemption: 0/5 nodes are available: 2 No preemption victims found for incoming pod, 3 Preemption is not helpful for scheduling."
        );
        assert_eq!(
            FitError::no_nodes().message(),
            "no nodes available to schedule pods"
        );
    }
}
