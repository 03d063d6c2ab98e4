//! Label selectors as the scheduler's plugins read them (apimachinery's
//! `LabelSelectorAsSelector` and `labels.Selector`): a nil selector selects nothing, an empty
//! one everything; `matchLabels` and `matchExpressions` must all hold.
//!
//! Two forms: [`matches`] reads a `LabelSelector` in place (no allocation: existing pods'
//! affinity terms are read this way on every cycle), and [`Selector`] is a compiled one that
//! can be merged with more requirements (topology spread's `matchLabelKeys` and default
//! selectors).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

/// Why a selector is not a valid one (upstream's messages for each case).
pub fn validate(sel: &LabelSelector) -> Result<(), String> {
    for r in sel.match_expressions.iter().flatten() {
        let values = r.values.as_deref().unwrap_or_default();
        match r.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => {
                return Err(format!(
                    "values: Invalid value: []string{{}}: for 'in', 'notin' operators, values set can't be empty (key {:?})",
                    r.key
                ))
            }
            "Exists" | "DoesNotExist" if !values.is_empty() => {
                return Err(format!(
                    "values: Invalid value: {values:?}: values set must be empty for exists and does not exist (key {:?})",
                    r.key
                ))
            }
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => return Err(format!("{other:?} is not a valid label selector operator")),
        }
    }
    Ok(())
}

/// One `matchExpressions` requirement against `labels`; `None` when it is invalid.
fn requirement(r: &LabelSelectorRequirement, labels: &BTreeMap<String, String>) -> Option<bool> {
    let values = r.values.as_deref().unwrap_or_default();
    let value = labels.get(&r.key);
    match r.operator.as_str() {
        "In" if !values.is_empty() => Some(value.is_some_and(|v| values.contains(v))),
        "NotIn" if !values.is_empty() => Some(value.is_none_or(|v| !values.contains(v))),
        "Exists" if values.is_empty() => Some(value.is_some()),
        "DoesNotExist" if values.is_empty() => Some(value.is_none()),
        _ => None,
    }
}

/// Whether `labels` satisfy `sel` (an invalid selector selects nothing).
pub fn matches(sel: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let by_labels = sel
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    by_labels
        && sel
            .match_expressions
            .iter()
            .flatten()
            .all(|r| requirement(r, labels) == Some(true))
}

/// Whether the selector has no requirement at all (it selects every set of labels).
pub fn is_empty(sel: &LabelSelector) -> bool {
    sel.match_labels.as_ref().is_none_or(BTreeMap::is_empty)
        && sel.match_expressions.as_ref().is_none_or(Vec::is_empty)
}

/// An operator of a compiled requirement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

/// A compiled requirement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    pub key: String,
    pub op: Op,
    pub values: Vec<String>,
}

impl Requirement {
    pub fn equals(key: &str, value: &str) -> Requirement {
        Requirement {
            key: key.to_string(),
            op: Op::In,
            values: vec![value.to_string()],
        }
    }

    fn holds(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.key);
        match self.op {
            Op::In => value.is_some_and(|v| self.values.contains(v)),
            Op::NotIn => value.is_none_or(|v| !self.values.contains(v)),
            Op::Exists => value.is_some(),
            Op::DoesNotExist => value.is_none(),
        }
    }
}

/// A compiled selector: nothing, or requirements that must all hold (none: everything).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    Nothing,
    All(Vec<Requirement>),
}

impl Selector {
    /// Upstream's `LabelSelectorAsSelector`: `None` selects nothing, an empty one everything.
    pub fn from_label_selector(sel: Option<&LabelSelector>) -> Result<Selector, String> {
        let Some(sel) = sel else {
            return Ok(Selector::Nothing);
        };
        validate(sel)?;
        let mut reqs: Vec<Requirement> = sel
            .match_labels
            .iter()
            .flatten()
            .map(|(k, v)| Requirement::equals(k, v))
            .collect();
        for r in sel.match_expressions.iter().flatten() {
            let op = match r.operator.as_str() {
                "In" => Op::In,
                "NotIn" => Op::NotIn,
                "Exists" => Op::Exists,
                _ => Op::DoesNotExist,
            };
            reqs.push(Requirement {
                key: r.key.clone(),
                op,
                values: r.values.clone().unwrap_or_default(),
            });
        }
        Ok(Selector::All(reqs))
    }

    /// Every label of `set` with its value (upstream's `labels.Set.AsSelector`).
    pub fn from_set(set: &BTreeMap<String, String>) -> Selector {
        Selector::All(set.iter().map(|(k, v)| Requirement::equals(k, v)).collect())
    }

    /// The selector with `more` requirements too (nothing stays nothing).
    pub fn add(&mut self, more: impl IntoIterator<Item = Requirement>) {
        if let Selector::All(reqs) = self {
            reqs.extend(more);
        }
    }

    /// The requirements, when the selector can have any (upstream's `Requirements()` ok).
    pub fn requirements(&self) -> Option<&[Requirement]> {
        match self {
            Selector::Nothing => None,
            Selector::All(r) => Some(r),
        }
    }

    /// Whether it selects everything (upstream's `Empty()`).
    pub fn is_empty(&self) -> bool {
        matches!(self, Selector::All(r) if r.is_empty())
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match self {
            Selector::Nothing => false,
            Selector::All(reqs) => reqs.iter().all(|r| r.holds(labels)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sel(v: serde_json::Value) -> LabelSelector {
        serde_json::from_value(v).unwrap_or_default()
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn label_selector_reads_match_labels_and_expressions() {
        let s = sel(json!({"matchLabels": {"app": "web"}, "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["a", "b"]},
            {"key": "canary", "operator": "DoesNotExist"}]}));
        assert!(matches(&s, &labels(&[("app", "web"), ("tier", "a")])));
        assert!(!matches(
            &s,
            &labels(&[("app", "web"), ("tier", "a"), ("canary", "1")])
        ));
        assert!(!matches(&s, &labels(&[("app", "web"), ("tier", "c")])));
        let compiled = Selector::from_label_selector(Some(&s)).unwrap_or(Selector::Nothing);
        assert!(compiled.matches(&labels(&[("app", "web"), ("tier", "b")])));
        assert!(!compiled.matches(&labels(&[("tier", "b")])));
    }

    #[test]
    fn label_selector_nil_selects_nothing_and_empty_everything() {
        assert_eq!(Selector::from_label_selector(None), Ok(Selector::Nothing));
        let everything = Selector::from_label_selector(Some(&sel(json!({}))));
        assert!(everything.as_ref().is_ok_and(|s| s.is_empty()));
        assert!(everything.is_ok_and(|s| s.matches(&labels(&[("x", "y")]))));
        assert!(!Selector::Nothing.matches(&BTreeMap::new()));
    }

    #[test]
    fn label_selector_refuses_in_without_values() {
        let bad = sel(json!({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}));
        assert!(validate(&bad).is_err());
        assert!(!matches(&bad, &labels(&[("a", "b")])));
        let op =
            sel(json!({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}));
        assert!(Selector::from_label_selector(Some(&op)).is_err());
    }
}
