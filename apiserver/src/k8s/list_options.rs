//! The combinations of list and watch options kube-apiserver refuses before reading anything
//! (apimachinery's `ValidateListOptions`): 422 Invalid for `ListOptions.meta.k8s.io`.

use super::http::Query;
use super::status::{ApiError, ApiResult};
use super::validation::FieldError;

const MATCH: &str = "resourceVersionMatch";

/// Refuses the option combinations kube-apiserver does, for a list or (`watch`) a watch.
pub fn validate(q: &Query, watch: bool) -> ApiResult<()> {
    let matched = q.get(MATCH).unwrap_or("");
    let send_initial = q.get("sendInitialEvents").is_some();
    let continuing = q.get("continue").is_some_and(|c| !c.is_empty());
    let mut errs = Vec::new();
    if watch {
        if send_initial && matched != "NotOlderThan" {
            errs.push(FieldError::forbidden(
                MATCH,
                "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            ));
        }
        if !matched.is_empty() {
            if !send_initial {
                errs.push(FieldError::forbidden(
                    MATCH,
                    "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
                ));
            }
            if matched != "NotOlderThan" {
                errs.push(FieldError::not_supported(MATCH, matched, &["NotOlderThan"]));
            }
            if continuing {
                errs.push(FieldError::forbidden(
                    MATCH,
                    "resourceVersionMatch is forbidden when continue is provided",
                ));
            }
        }
    } else {
        if !matched.is_empty() {
            if q.get("resourceVersion").is_none_or(str::is_empty) {
                errs.push(FieldError::forbidden(
                    MATCH,
                    "resourceVersionMatch is forbidden unless resourceVersion is provided",
                ));
            }
            if continuing {
                errs.push(FieldError::forbidden(
                    MATCH,
                    "resourceVersionMatch is forbidden when continue is provided",
                ));
            }
            if matched != "Exact" && matched != "NotOlderThan" {
                errs.push(FieldError::not_supported(
                    MATCH,
                    matched,
                    &["Exact", "NotOlderThan", ""],
                ));
            }
            if matched == "Exact" && q.get("resourceVersion") == Some("0") {
                errs.push(FieldError::forbidden(
                    MATCH,
                    "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
                ));
            }
        }
        if send_initial {
            errs.push(FieldError::forbidden(
                "sendInitialEvents",
                "sendInitialEvents is forbidden for list",
            ));
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid_options("ListOptions", &errs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> Query {
        let mut q = Query::default();
        for (k, v) in pairs {
            q.0.insert((*k).into(), (*v).into());
        }
        q
    }

    fn message(pairs: &[(&str, &str)], watch: bool) -> Option<String> {
        validate(&query(pairs), watch).err().map(|e| {
            assert_eq!(e.code, 422);
            e.message
        })
    }

    #[test]
    fn list_option_combinations_are_refused_as_kube_apiserver_does() {
        assert_eq!(message(&[("resourceVersion", "5")], false), None);
        assert_eq!(
            message(&[(MATCH, "NotOlderThan")], false).as_deref(),
            Some("ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided")
        );
        assert_eq!(
            message(&[("resourceVersion", "0"), (MATCH, "Exact")], false).as_deref(),
            Some("ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"")
        );
        assert_eq!(
            message(&[("resourceVersion", "3"), (MATCH, "Latest")], false).as_deref(),
            Some("ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Unsupported value: \"Latest\": supported values: \"Exact\", \"NotOlderThan\", \"\"")
        );
        assert_eq!(
            message(&[("limit", "2"), ("continue", "abc"), (MATCH, "NotOlderThan")], false).as_deref(),
            Some("ListOptions.meta.k8s.io \"\" is invalid: [resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided, resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden when continue is provided]")
        );
        assert_eq!(
            message(&[("sendInitialEvents", "true"), ("resourceVersion", "0"), (MATCH, "NotOlderThan")], false).as_deref(),
            Some("ListOptions.meta.k8s.io \"\" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list")
        );
    }

    #[test]
    fn watch_option_combinations_are_refused_as_kube_apiserver_does() {
        assert_eq!(
            message(
                &[("sendInitialEvents", "true"), (MATCH, "NotOlderThan")],
                true
            ),
            None
        );
        assert_eq!(
            message(&[("sendInitialEvents", "true")], true).as_deref(),
            Some("ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan")
        );
        assert_eq!(
            message(&[(MATCH, "NotOlderThan")], true).as_deref(),
            Some("ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided")
        );
    }
}
