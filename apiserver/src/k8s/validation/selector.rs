//! `metav1.LabelSelector` handling for workload validation: the format
//! rules of `matchLabels` and `matchExpressions`, and whether a selector
//! matches a set of labels.

use serde_json::Value;

use super::access::{arr, child, index, obj, s, string_map};
use super::field_error::{FieldError, FieldErrors};
use super::names::{invalid_each, is_label_value, validate_labels, validate_qualified_name};

/// Validates a label selector (strictly: expression values must be valid label values).
pub fn validate_label_selector(sel: &Value, path: &str) -> FieldErrors {
    let mut errs = validate_labels(&string_map(sel, "matchLabels"), &child(path, "matchLabels"));
    for (i, req) in arr(sel, "matchExpressions").iter().enumerate() {
        let p = index(&child(path, "matchExpressions"), i);
        let op = s(req, "operator");
        let values = arr(req, "values");
        match op {
            "In" | "NotIn" => {
                if values.is_empty() {
                    errs.push(FieldError::required(
                        child(&p, "values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    ));
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    errs.push(FieldError::forbidden(
                        child(&p, "values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    ));
                }
            }
            _ => errs.push(FieldError::invalid(
                child(&p, "operator"),
                op,
                "not a valid selector operator",
            )),
        }
        errs.extend(validate_qualified_name(s(req, "key"), &child(&p, "key")));
        for (j, v) in values.iter().enumerate() {
            let v = v.as_str().unwrap_or("");
            errs.extend(invalid_each(
                &index(&child(&p, "values"), j),
                v,
                is_label_value(v),
            ));
        }
    }
    errs
}

/// Whether a selector has neither matchLabels nor matchExpressions.
pub fn is_empty(sel: &Value) -> bool {
    obj(sel, "matchLabels").is_none_or(|m| m.is_empty()) && arr(sel, "matchExpressions").is_empty()
}

/// Whether the selector converts to a usable selector (all operators known).
pub fn is_well_formed(sel: &Value) -> bool {
    arr(sel, "matchExpressions")
        .iter()
        .all(|r| match s(r, "operator") {
            "In" | "NotIn" => !arr(r, "values").is_empty(),
            "Exists" | "DoesNotExist" => arr(r, "values").is_empty(),
            _ => false,
        })
}

/// Whether the selector matches the given labels (an empty selector matches everything).
pub fn matches(sel: &Value, labels: &[(String, String)]) -> bool {
    let get = |k: &str| labels.iter().find(|(a, _)| a == k).map(|(_, b)| b.as_str());
    for (k, v) in string_map(sel, "matchLabels") {
        if get(&k) != Some(v.as_str()) {
            return false;
        }
    }
    for r in arr(sel, "matchExpressions") {
        let have = get(s(r, "key"));
        let values: Vec<&str> = arr(r, "values").iter().filter_map(Value::as_str).collect();
        let ok = match s(r, "operator") {
            "In" => have.is_some_and(|h| values.contains(&h)),
            "NotIn" => have.is_none_or(|h| !values.contains(&h)),
            "Exists" => have.is_some(),
            "DoesNotExist" => have.is_none(),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// Like [`matches`], but a null (missing) selector matches nothing.
pub fn matches_or_nothing(sel: &Value, labels: &[(String, String)]) -> bool {
    !sel.is_null() && matches(sel, labels)
}
