//! `backoffLimitPerIndex` of an Indexed Job: each index has its own back-off limit. A pod
//! carries how many times its index failed before it (`job-index-failure-count`, and failures a
//! policy ignored in `job-index-ignored-failure-count`); a failed pod whose index had already
//! failed `backoffLimitPerIndex` times, or that a `FailIndex` rule matched, fails its index
//! for good (`status.failedIndexes`). The Job fails once more indexes failed than
//! `maxFailedIndexes` (`MaxFailedIndexesExceeded`), or once every index either succeeded or
//! failed with some failed (`FailedIndexes`).

use std::sync::Arc;

use k8s_openapi::api::batch::v1::PodFailurePolicy;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;

use super::failure_policy::{judge, Verdict};
use super::index_of;
use crate::pod_state::phase;

pub const FAILURE_COUNT: &str = "batch.kubernetes.io/job-index-failure-count";
pub const IGNORED_FAILURE_COUNT: &str = "batch.kubernetes.io/job-index-ignored-failure-count";

fn count(p: &Pod, annotation: &str) -> i32 {
    p.annotations()
        .get(annotation)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Whether the failed pod `p` (judged `verdict`) fails its index for good.
pub fn fails_index(verdict: &Verdict, p: &Pod, limit: i32) -> bool {
    *verdict == Verdict::FailIndex || count(p, FAILURE_COUNT) >= limit
}

/// The failure counts a new pod of `index` carries: those of the index's latest failed pod,
/// one more in the column its failure was judged to belong to.
pub fn counts_for(pods: &[Arc<Pod>], index: i32, policy: Option<&PodFailurePolicy>) -> (i32, i32) {
    let last = pods
        .iter()
        .filter(|p| index_of(p) == Some(index) && phase(p) == Some("Failed"))
        .max_by_key(|p| count(p, FAILURE_COUNT) + count(p, IGNORED_FAILURE_COUNT));
    match last {
        None => (0, 0),
        Some(p) => {
            let (failures, ignored) = (count(p, FAILURE_COUNT), count(p, IGNORED_FAILURE_COUNT));
            if judge(policy, p) == Verdict::Ignore {
                (failures, ignored + 1)
            } else {
                (failures + 1, ignored)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(index: i32, failures: i32, phase: &str) -> Arc<Pod> {
        Arc::new(
            serde_json::from_value(
                json!({"metadata": {"name": format!("p{index}-{failures}"), "annotations": {
                super::super::INDEX: index.to_string(), FAILURE_COUNT: failures.to_string()}},
                "status": {"phase": phase}}),
            )
            .unwrap_or_default(),
        )
    }

    #[test]
    fn an_index_fails_past_its_limit_and_its_next_pod_counts_one_more_failure() {
        let pods = vec![
            pod(0, 0, "Failed"),
            pod(0, 1, "Failed"),
            pod(1, 0, "Running"),
        ];
        assert_eq!(counts_for(&pods, 0, None), (2, 0));
        assert_eq!(counts_for(&pods, 1, None), (0, 0));
        assert!(!fails_index(&Verdict::Count, &pods[0], 1));
        assert!(fails_index(&Verdict::Count, &pods[1], 1));
        assert!(fails_index(&Verdict::FailIndex, &pods[0], 5));
    }
}
