//! A Job's `podFailurePolicy`: what a failed pod means for its Job. Rules are tried in order and
//! the first that matches decides: `FailJob` fails the whole Job at once (reason
//! `PodFailurePolicy`, upstream's message naming the container and exit code or the pod
//! condition and the rule's index), `Ignore` neither counts the failure against the back-off
//! limit nor in `status.failed`, `Count` (and no match) counts it as usual, and `FailIndex`
//! fails the pod's index (Jobs with `backoffLimitPerIndex`). An exit-code rule looks at
//! terminated containers (then init containers) with a non-zero code, optionally of one
//! container name; a condition rule at the pod's conditions by type and status.

use k8s_openapi::api::batch::v1::{PodFailurePolicy, PodFailurePolicyOnExitCodesRequirement};
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use kube::ResourceExt;

/// What a matched (or unmatched) rule does with one failed pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Counted against the back-off limit (a `Count` rule, or no rule matched).
    Count,
    /// Not counted at all.
    Ignore,
    /// The pod's index fails now, whatever its back-off limit left.
    FailIndex,
    /// The Job fails now; the message is the Job's condition message.
    FailJob(String),
}

/// The verdict of `policy` (if any) on the failed pod `p`.
pub fn judge(policy: Option<&PodFailurePolicy>, p: &Pod) -> Verdict {
    let Some(policy) = policy else {
        return Verdict::Count;
    };
    let status = p.status.clone().unwrap_or_default();
    let pod = format!("{}/{}", p.namespace().unwrap_or_default(), p.name_any());
    for (index, rule) in policy.rules.iter().enumerate() {
        let matched = if let Some(req) = &rule.on_exit_codes {
            let containers = status.container_statuses.iter().flatten();
            let inits = status.init_container_statuses.iter().flatten();
            containers
                .chain(inits)
                .find_map(|c| exit_code_matching(c, req))
                .map(|(name, code)| {
                    format!(
                        "Container {name} for pod {pod} failed with exit code {code} matching {} rule at index {index}",
                        rule.action
                    )
                })
        } else if let Some(patterns) = &rule.on_pod_conditions {
            status.conditions.iter().flatten().find_map(|c| {
                patterns
                    .iter()
                    .any(|pat| pat.type_ == c.type_ && pat.status == c.status)
                    .then(|| {
                        format!(
                            "Pod {pod} has condition {} matching {} rule at index {index}",
                            c.type_, rule.action
                        )
                    })
            })
        } else {
            None
        };
        let Some(message) = matched else { continue };
        match rule.action.as_str() {
            "Ignore" => return Verdict::Ignore,
            "Count" => return Verdict::Count,
            "FailIndex" => return Verdict::FailIndex,
            "FailJob" => return Verdict::FailJob(message),
            // An action this version does not know: the next rule decides (as upstream).
            _ => {}
        }
    }
    Verdict::Count
}

/// The container's name and exit code if it terminated with a non-zero code the requirement
/// picks.
fn exit_code_matching(
    c: &ContainerStatus,
    req: &PodFailurePolicyOnExitCodesRequirement,
) -> Option<(String, i32)> {
    let code = c.state.as_ref()?.terminated.as_ref()?.exit_code;
    if code == 0 || req.container_name.as_ref().is_some_and(|n| *n != c.name) {
        return None;
    }
    let listed = req.values.contains(&code);
    let picked = match req.operator.as_str() {
        "In" => listed,
        "NotIn" => !listed,
        _ => false,
    };
    picked.then(|| (c.name.clone(), code))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(status: serde_json::Value) -> Pod {
        serde_json::from_value(
            json!({"metadata": {"name": "p", "namespace": "ns"}, "status": status}),
        )
        .unwrap_or_default()
    }

    fn policy(rules: serde_json::Value) -> PodFailurePolicy {
        serde_json::from_value(json!({ "rules": rules })).unwrap_or_default()
    }

    fn exited(name: &str, code: i32) -> serde_json::Value {
        json!({"name": name, "image": "i", "imageID": "", "ready": false, "restartCount": 0,
               "state": {"terminated": {"exitCode": code}}})
    }

    #[test]
    fn the_first_matching_rule_decides_and_exit_code_zero_never_matches() {
        let p = policy(json!([
            {"action": "Ignore", "onExitCodes": {"operator": "In", "values": [3]}},
            {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "NotIn", "values": [1, 3]}},
        ]));
        let failed =
            |code| pod(json!({"containerStatuses": [exited("side", 0), exited("main", code)]}));
        assert_eq!(judge(Some(&p), &failed(3)), Verdict::Ignore);
        assert_eq!(judge(Some(&p), &failed(1)), Verdict::Count);
        assert_eq!(
            judge(Some(&p), &failed(42)),
            Verdict::FailJob(
                "Container main for pod ns/p failed with exit code 42 matching FailJob rule at index 1"
                    .into()
            )
        );
        // NotIn would pick 0, but a container that exited 0 did not fail.
        let p0 = policy(
            json!([{"action": "FailJob", "onExitCodes": {"operator": "NotIn", "values": [1]}}]),
        );
        assert_eq!(judge(Some(&p0), &failed(1)), Verdict::Count);
        assert_eq!(judge(None, &failed(42)), Verdict::Count);
    }

    #[test]
    fn a_condition_rule_matches_type_and_status() {
        let p = policy(json!([
            {"action": "FailJob", "onPodConditions": [{"type": "DisruptionTarget", "status": "False"}]},
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
        ]));
        let evicted = pod(json!({"conditions": [{"type": "DisruptionTarget", "status": "True"}]}));
        assert_eq!(judge(Some(&p), &evicted), Verdict::Ignore);
        let odd = pod(json!({"conditions": [{"type": "DisruptionTarget", "status": "False"}]}));
        assert_eq!(
            judge(Some(&p), &odd),
            Verdict::FailJob(
                "Pod ns/p has condition DisruptionTarget matching FailJob rule at index 0".into()
            )
        );
    }
}
