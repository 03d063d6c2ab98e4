//! DefaultTolerationSeconds admission: a new pod that does not already tolerate the node
//! controller's `node.kubernetes.io/not-ready:NoExecute` and `node.kubernetes.io/unreachable:
//! NoExecute` taints gets a toleration of each for 300 seconds, so its pods leave a lost node
//! five minutes after the node is tainted. A toleration counts when its key is the taint's or
//! empty, and its effect is `NoExecute` or empty (operator and value are not looked at).

use serde_json::{json, Value};

use super::resources::Resource;

/// kube-apiserver's `--default-not-ready-toleration-seconds` and
/// `--default-unreachable-toleration-seconds`.
const DEFAULT_TOLERATION_SECONDS: i64 = 300;

const NOT_READY: &str = "node.kubernetes.io/not-ready";
const UNREACHABLE: &str = "node.kubernetes.io/unreachable";

/// Whether `toleration` already covers the NoExecute taint `key`.
fn covers(toleration: &Value, key: &str) -> bool {
    let field = |f: &str| toleration.get(f).and_then(Value::as_str).unwrap_or("");
    let k = field("key");
    let effect = field("effect");
    (k == key || k.is_empty()) && (effect == "NoExecute" || effect.is_empty())
}

/// Adds the default tolerations to a pod being created.
pub fn admit(r: &Resource, obj: &mut Value) {
    if !(r.group.is_empty() && r.plural == "pods") {
        return;
    }
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let existing: Vec<Value> = spec
        .get("tolerations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut added = Vec::new();
    for key in [NOT_READY, UNREACHABLE] {
        if !existing.iter().any(|t| covers(t, key)) {
            added.push(json!({
                "key": key,
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": DEFAULT_TOLERATION_SECONDS,
            }));
        }
    }
    if added.is_empty() {
        return;
    }
    let mut all = existing;
    all.extend(added);
    spec.insert("tolerations".into(), Value::Array(all));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pods() -> &'static Resource {
        super::super::resources::find("", "v1", "pods").expect("pods are served")
    }

    fn tolerations_after(tols: Value) -> Vec<(String, Option<i64>)> {
        let mut pod = json!({"spec": {"containers": [], "tolerations": tols}});
        admit(pods(), &mut pod);
        pod["spec"]["tolerations"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|t| {
                        (
                            t["key"].as_str().unwrap_or("").to_string(),
                            t["tolerationSeconds"].as_i64(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn a_pod_without_tolerations_gets_both_for_300_seconds() {
        let mut pod = json!({"spec": {"containers": []}});
        admit(pods(), &mut pod);
        assert_eq!(
            pod["spec"]["tolerations"],
            json!([
                {"key": NOT_READY, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            ])
        );
    }

    #[test]
    fn a_pod_tolerating_one_taint_gets_only_the_other() {
        let got = tolerations_after(json!([
            {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 10}
        ]));
        assert_eq!(
            got,
            [
                (UNREACHABLE.to_string(), Some(10)),
                (NOT_READY.to_string(), Some(300))
            ]
        );
    }

    #[test]
    fn an_empty_key_or_effect_covers_both_taints() {
        // Exists with an empty key tolerates every taint.
        assert_eq!(
            tolerations_after(json!([{"operator": "Exists"}])),
            [(String::new(), None)]
        );
        // An empty effect with the taint's key covers the NoExecute taint.
        assert_eq!(
            tolerations_after(json!([{"key": NOT_READY, "operator": "Exists"}])).len(),
            2
        );
        // A NoSchedule toleration of the same key does not.
        assert_eq!(
            tolerations_after(
                json!([{"key": NOT_READY, "operator": "Exists", "effect": "NoSchedule"}])
            )
            .len(),
            3
        );
    }

    #[test]
    fn other_resources_are_left_alone() {
        let nodes = super::super::resources::find("", "v1", "nodes").expect("nodes are served");
        let mut node = json!({"spec": {}});
        admit(nodes, &mut node);
        assert_eq!(node, json!({"spec": {}}));
    }
}
