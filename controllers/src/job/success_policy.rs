//! An Indexed Job's `successPolicy`: the Job succeeds once one of its rules holds, even with
//! indexes left. A rule with `succeededIndexes` holds when all of those indexes succeeded (or
//! `succeededCount` of them); one with only `succeededCount` when that many indexes succeeded.
//! The first rule that holds names the condition message (`Matched rules at index N`, reason
//! `SuccessPolicy`, as upstream); pods still running are then deleted.

use std::collections::BTreeSet;

use k8s_openapi::api::batch::v1::SuccessPolicy;

use super::parse_indexes;

/// The message of the first rule `succeeded` satisfies, for a Job of `completions` indexes.
pub fn matched(
    policy: Option<&SuccessPolicy>,
    completions: i32,
    succeeded: &BTreeSet<i32>,
) -> Option<String> {
    let policy = policy?;
    if succeeded.is_empty() {
        return None;
    }
    policy.rules.iter().enumerate().find_map(|(index, rule)| {
        let holds = match (&rule.succeeded_indexes, rule.succeeded_count) {
            (Some(wanted), count) => {
                let wanted: BTreeSet<i32> = parse_indexes(wanted)
                    .into_iter()
                    .filter(|i| (0..completions).contains(i))
                    .collect();
                let done = wanted.intersection(succeeded).count();
                !wanted.is_empty()
                    && match count {
                        Some(c) => done as i64 >= i64::from(c),
                        None => done == wanted.len(),
                    }
            }
            (None, Some(c)) => succeeded.len() as i64 >= i64::from(c),
            (None, None) => false,
        };
        holds.then(|| format!("Matched rules at index {index}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(rules: serde_json::Value) -> SuccessPolicy {
        serde_json::from_value(json!({ "rules": rules })).unwrap_or_default()
    }

    #[test]
    fn a_rule_holds_on_its_indexes_or_its_count() {
        let p = policy(json!([
            {"succeededIndexes": "0,2-3"},
            {"succeededIndexes": "4-9", "succeededCount": 2},
            {"succeededCount": 5},
        ]));
        let set = |v: &[i32]| v.iter().copied().collect::<BTreeSet<i32>>();
        assert_eq!(matched(Some(&p), 10, &set(&[0, 2])), None);
        assert_eq!(
            matched(Some(&p), 10, &set(&[0, 2, 3])).as_deref(),
            Some("Matched rules at index 0")
        );
        assert_eq!(
            matched(Some(&p), 10, &set(&[4, 9])).as_deref(),
            Some("Matched rules at index 1")
        );
        assert_eq!(
            matched(Some(&p), 10, &set(&[0, 1, 2, 5, 6])).as_deref(),
            Some("Matched rules at index 1")
        );
        assert_eq!(matched(Some(&p), 10, &set(&[0, 1, 2, 5])), None);
        assert_eq!(matched(None, 10, &set(&[0, 1, 2, 3])), None);
        // Indexes beyond completions are not wanted.
        let q = policy(json!([{"succeededIndexes": "0,20"}]));
        assert_eq!(
            matched(Some(&q), 10, &set(&[0])).as_deref(),
            Some("Matched rules at index 0")
        );
    }
}
