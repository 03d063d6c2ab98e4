//! PriorityClass (scheduling.k8s.io/v1) validation and the system classes it reserves. Values
//! above one billion and names starting `system-` belong to the system: a `system-` class must
//! be one of the two the server creates at start, with their value and not global default, and
//! any other class may go up to one billion. An update may not change a class's value or
//! preemption policy (its other rules are not checked again, as kube-apiserver does not).

use serde_json::Value;

use super::access::{at, boolean, int, s};
use super::field_error::{FieldError, FieldErrors};

/// The highest value a user's PriorityClass may have (kube-apiserver's
/// HighestUserDefinablePriority); higher values are the system's.
pub const HIGHEST_USER_DEFINABLE_PRIORITY: i64 = 1_000_000_000;

/// Where the system classes' values start.
const SYSTEM_CRITICAL_PRIORITY: i64 = 2 * HIGHEST_USER_DEFINABLE_PRIORITY;

/// The name prefix only the system classes may use.
pub const SYSTEM_PRIORITY_CLASS_PREFIX: &str = "system-";

/// A PriorityClass every cluster has.
pub struct SystemPriorityClass {
    pub name: &'static str,
    pub value: i64,
    pub description: &'static str,
}

/// The system classes, as kube-apiserver creates them at start (neither is the global default).
pub const SYSTEM_PRIORITY_CLASSES: [SystemPriorityClass; 2] = [
    SystemPriorityClass {
        name: "system-node-critical",
        value: SYSTEM_CRITICAL_PRIORITY + 1000,
        description: "Used for system critical pods that must not be moved from their current node.",
    },
    SystemPriorityClass {
        name: "system-cluster-critical",
        value: SYSTEM_CRITICAL_PRIORITY,
        description: "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
    },
];

/// Whether `name` is one of the system classes.
pub fn is_system_priority_class(name: &str) -> bool {
    SYSTEM_PRIORITY_CLASSES.iter().any(|c| c.name == name)
}

/// Why a `system-` class is not a system class as the server defines it, if it is not.
fn unknown_system_class(name: &str, value: i64, global_default: bool) -> Option<String> {
    let Some(known) = SYSTEM_PRIORITY_CLASSES.iter().find(|c| c.name == name) else {
        return Some(format!("{name} is not a known system priority class"));
    };
    if known.value != value {
        return Some(format!(
            "value of {name} PriorityClass must be {}",
            known.value
        ));
    }
    if global_default {
        return Some(format!(
            "globalDefault of {name} PriorityClass must be false"
        ));
    }
    None
}

/// A preemption policy set on a PriorityClass or a pod.
pub fn validate_preemption_policy(policy: &Value, path: &str) -> FieldErrors {
    match policy.as_str() {
        Some("PreemptLowerPriority" | "Never") => Vec::new(),
        Some("") => vec![FieldError::required(path, "")],
        _ => vec![FieldError::not_supported(
            path,
            policy.clone(),
            &["PreemptLowerPriority", "Never"],
        )],
    }
}

/// A new PriorityClass's own rules (its metadata is validated by the caller).
pub fn validate_priority_class(obj: &Value) -> FieldErrors {
    let mut errs = Vec::new();
    let name = s(at(obj, "metadata"), "name");
    let value = int(obj, "value").unwrap_or(0);
    if name.starts_with(SYSTEM_PRIORITY_CLASS_PREFIX) {
        if let Some(why) = unknown_system_class(name, value, boolean(obj, "globalDefault")) {
            errs.push(FieldError::forbidden(
                "metadata.name",
                format!("priority class names with '{SYSTEM_PRIORITY_CLASS_PREFIX}' prefix are reserved for system use only. error: {why}"),
            ));
        }
    } else if value > HIGHEST_USER_DEFINABLE_PRIORITY {
        errs.push(FieldError::forbidden(
            "value",
            format!(
                "maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE_PRIORITY}"
            ),
        ));
    }
    if let Some(policy) = obj.get("preemptionPolicy").filter(|p| !p.is_null()) {
        errs.extend(validate_preemption_policy(policy, "preemptionPolicy"));
    }
    errs
}

/// What an update of a PriorityClass may not change: its value and its preemption policy.
pub fn validate_priority_class_update(new: &Value, old: &Value) -> FieldErrors {
    let mut errs = Vec::new();
    if int(new, "value") != int(old, "value") {
        errs.push(FieldError::forbidden(
            "value",
            "may not be changed in an update.",
        ));
    }
    let policy = |v: &Value| v.get("preemptionPolicy").cloned().unwrap_or(Value::Null);
    if policy(new) != policy(old) {
        errs.push(FieldError::invalid(
            "preemptionPolicy",
            policy(new),
            "field is immutable",
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn messages(errs: &FieldErrors) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn the_system_classes_are_valid_as_the_server_creates_them() {
        for c in &SYSTEM_PRIORITY_CLASSES {
            let obj = json!({"metadata": {"name": c.name}, "value": c.value,
                             "preemptionPolicy": "PreemptLowerPriority"});
            assert!(validate_priority_class(&obj).is_empty(), "{}", c.name);
        }
        assert_eq!(SYSTEM_PRIORITY_CLASSES[0].value, 2_000_001_000);
        assert_eq!(SYSTEM_PRIORITY_CLASSES[1].value, 2_000_000_000);
    }

    #[test]
    fn a_system_prefix_must_name_a_system_class_with_its_value_and_not_default() {
        let check = |obj: Value| messages(&validate_priority_class(&obj));
        let reserved = "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: ";
        assert_eq!(
            check(json!({"metadata": {"name": "system-foo"}, "value": 10})),
            [format!(
                "{reserved}system-foo is not a known system priority class"
            )]
        );
        assert_eq!(
            check(json!({"metadata": {"name": "system-node-critical"}, "value": 10})),
            [format!(
                "{reserved}value of system-node-critical PriorityClass must be 2000001000"
            )]
        );
        assert_eq!(
            check(
                json!({"metadata": {"name": "system-cluster-critical"}, "value": 2_000_000_000, "globalDefault": true})
            ),
            [format!(
                "{reserved}globalDefault of system-cluster-critical PriorityClass must be false"
            )]
        );
    }

    #[test]
    fn a_user_class_goes_up_to_one_billion() {
        assert!(validate_priority_class(
            &json!({"metadata": {"name": "high"}, "value": 1_000_000_000})
        )
        .is_empty());
        assert_eq!(
            messages(&validate_priority_class(
                &json!({"metadata": {"name": "high"}, "value": 1_000_000_001})
            )),
            ["value: Forbidden: maximum allowed value of a user defined priority is 1000000000"]
        );
    }

    #[test]
    fn a_preemption_policy_is_one_of_two() {
        let check = |p: &str| {
            messages(&validate_priority_class(
                &json!({"metadata": {"name": "c"}, "value": 1, "preemptionPolicy": p}),
            ))
        };
        assert!(check("Never").is_empty());
        assert_eq!(check(""), ["preemptionPolicy: Required value"]);
        assert_eq!(
            check("Sometimes"),
            [
                r#"preemptionPolicy: Unsupported value: "Sometimes": supported values: "PreemptLowerPriority", "Never""#
            ]
        );
    }

    #[test]
    fn an_update_keeps_value_and_preemption_policy() {
        let old = json!({"metadata": {"name": "c"}, "value": 1, "preemptionPolicy": "Never"});
        let mut new = old.clone();
        new["description"] = json!("changed");
        new["globalDefault"] = json!(true);
        assert!(validate_priority_class_update(&new, &old).is_empty());
        new["value"] = json!(2);
        new["preemptionPolicy"] = json!("PreemptLowerPriority");
        assert_eq!(
            messages(&validate_priority_class_update(&new, &old)),
            [
                "value: Forbidden: may not be changed in an update.",
                r#"preemptionPolicy: Invalid value: "PreemptLowerPriority": field is immutable"#
            ]
        );
    }
}
