//! Bad values printed as kube-apiserver 1.33 prints them in field errors: values that are not
//! strings, numbers or booleans go through Go's `%#v`, which names their Go type
//! (`map[string]string{"app":"web"}`, `[]string{"10.96.0.1"}`, `v1.LabelSelector{…}`). Only the
//! callers know the Go type, so they pick the printer.

use serde_json::Value;

use super::field_error::go_quote;

/// A `map[string]string` (labels, selectors' matchLabels): keys sorted, as fmt prints maps.
pub fn string_map(v: &Value) -> String {
    match v.as_object() {
        None => "map[string]string(nil)".into(),
        Some(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let entries: Vec<String> = keys
                .into_iter()
                .map(|k| {
                    let val = m.get(k).and_then(Value::as_str).unwrap_or_default();
                    format!("{}:{}", go_quote(k), go_quote(val))
                })
                .collect();
            format!("map[string]string{{{}}}", entries.join(", "))
        }
    }
}

/// A `[]string`.
pub fn string_slice(v: &Value) -> String {
    match v.as_array() {
        None => "[]string(nil)".into(),
        Some(a) => {
            let items: Vec<String> = a
                .iter()
                .map(|x| go_quote(x.as_str().unwrap_or_default()))
                .collect();
            format!("[]string{{{}}}", items.join(", "))
        }
    }
}

/// A `*metav1.LabelSelector` (printed through the pointer, as its struct).
pub fn label_selector(v: &Value) -> String {
    if v.is_null() {
        return "null".into();
    }
    let exprs = match v.get("matchExpressions").and_then(Value::as_array) {
        None => "[]v1.LabelSelectorRequirement(nil)".to_string(),
        Some(a) => {
            let items: Vec<String> = a
                .iter()
                .map(|e| {
                    format!(
                        "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{}}}",
                        go_quote(e.get("key").and_then(Value::as_str).unwrap_or_default()),
                        go_quote(
                            e.get("operator")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                        ),
                        string_slice(e.get("values").unwrap_or(&Value::Null)),
                    )
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", items.join(", "))
        }
    };
    format!(
        "v1.LabelSelector{{MatchLabels:{}, MatchExpressions:{exprs}}}",
        string_map(v.get("matchLabels").unwrap_or(&Value::Null))
    )
}

/// An RBAC `RoleRef` (the internal type's package is `rbac`).
pub fn role_ref(v: &Value) -> String {
    let f = |k: &str| go_quote(v.get(k).and_then(Value::as_str).unwrap_or_default());
    format!(
        "rbac.RoleRef{{APIGroup:{}, Kind:{}, Name:{}}}",
        f("apiGroup"),
        f("kind"),
        f("name")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn go_printing_of_the_common_kinds_of_bad_values() {
        assert_eq!(
            string_map(&json!({"tier": "x", "app": "web"})),
            r#"map[string]string{"app":"web", "tier":"x"}"#
        );
        assert_eq!(string_map(&Value::Null), "map[string]string(nil)");
        assert_eq!(
            string_slice(&json!(["10.96.0.9"])),
            r#"[]string{"10.96.0.9"}"#
        );
        assert_eq!(
            label_selector(&json!({"matchLabels": {"app": "x"}})),
            r#"v1.LabelSelector{MatchLabels:map[string]string{"app":"x"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}"#
        );
        assert_eq!(
            label_selector(
                &json!({"matchExpressions": [{"key": "a", "operator": "In", "values": ["b"]}]})
            ),
            r#"v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:"a", Operator:"In", Values:[]string{"b"}}}}"#
        );
        assert_eq!(
            role_ref(
                &json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"})
            ),
            r#"rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"ClusterRole", Name:"edit"}"#
        );
    }
}
