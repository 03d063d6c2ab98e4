//! Priority admission: a new pod's `spec.priority` comes from its PriorityClass — the one
//! `spec.priorityClassName` names (refused when there is none of that name), else the global
//! default class (whose name is filled in), else 0 — and so does its `spec.preemptionPolicy`
//! (`PreemptLowerPriority` without a default class); a pod that sets either to something else
//! is refused. An update that leaves them out keeps the stored ones (pod validation forbids
//! changing them). At most one PriorityClass may be the global default (when a race made two,
//! the lower value wins), and the system classes cannot be deleted one by one (a collection
//! delete goes straight to storage, as kube-apiserver's does).

use serde::Deserialize;
use serde_json::{json, Value};

use super::objects::{key, prefix, prefix_end, Freshness};
use super::resources::{self, Resource};
use super::status::{ApiError, ApiResult};
use super::validation::scheduling::is_system_priority_class;
use super::KubeApi;

/// A pod's preemption policy when no class gives one.
const PREEMPT_LOWER_PRIORITY: &str = "PreemptLowerPriority";

/// What admission reads of a PriorityClass.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ClassFields {
    metadata: ClassMetadata,
    value: i64,
    global_default: bool,
    preemption_policy: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ClassMetadata {
    name: String,
}

/// What a pod's class gives it.
struct Resolved {
    /// The class's name; empty when no class applies.
    class_name: String,
    value: i64,
    preemption_policy: Option<String>,
}

fn priority_classes() -> ApiResult<&'static Resource> {
    resources::find("scheduling.k8s.io", "v1", "priorityclasses")
        .ok_or_else(|| ApiError::internal("priorityclasses are not served"))
}

fn pods() -> ApiResult<&'static Resource> {
    resources::find("", "v1", "pods").ok_or_else(|| ApiError::internal("pods are not served"))
}

fn is_pods(r: &Resource) -> bool {
    r.group.is_empty() && r.plural == "pods"
}

fn is_priority_classes(r: &Resource) -> bool {
    r.group == "scheduling.k8s.io" && r.plural == "priorityclasses"
}

/// The global default class: the lowest-valued one marked so, then the first by name.
fn pick_default(classes: impl IntoIterator<Item = ClassFields>) -> Option<ClassFields> {
    classes
        .into_iter()
        .filter(|c| c.global_default)
        .min_by(|a, b| {
            a.value
                .cmp(&b.value)
                .then_with(|| a.metadata.name.cmp(&b.metadata.name))
        })
}

async fn default_class(api: &KubeApi, fresh: Freshness) -> ApiResult<Option<ClassFields>> {
    let from = prefix(priority_classes()?, None);
    let end = prefix_end(from.as_bytes());
    let page = api.store().page(from.as_bytes(), &end, 0, fresh).await?;
    // A class that does not parse is no default (bad stored data never fails a create).
    Ok(pick_default(
        page.kvs
            .iter()
            .filter_map(|kv| serde_json::from_slice(&kv.value).ok()),
    ))
}

/// The class a pod names, read from this replica and, when it has none of that name (one
/// created a moment ago through another replica), linearizably before giving up.
async fn named_class(api: &KubeApi, name: &str) -> ApiResult<Option<ClassFields>> {
    let k = key(priority_classes()?, None, name);
    let mut found = api.store().get_part(&k, Freshness::Any).await?;
    if found.is_none() {
        found = api.store().get_part(&k, Freshness::Latest).await?;
    }
    Ok(found)
}

async fn resolve(api: &KubeApi, pod_name: &str, class_name: &str) -> ApiResult<Resolved> {
    if class_name.is_empty() {
        return Ok(match default_class(api, Freshness::Any).await? {
            Some(c) => Resolved {
                class_name: c.metadata.name,
                value: c.value,
                preemption_policy: c.preemption_policy,
            },
            None => Resolved {
                class_name: String::new(),
                value: 0,
                preemption_policy: Some(PREEMPT_LOWER_PRIORITY.into()),
            },
        });
    }
    let Some(c) = named_class(api, class_name).await? else {
        return Err(ApiError::forbidden(
            pods()?,
            pod_name,
            &format!("no PriorityClass with name {class_name} was found"),
        ));
    };
    Ok(Resolved {
        class_name: class_name.to_string(),
        value: c.value,
        preemption_policy: c.preemption_policy,
    })
}

/// Sets a new pod's priority, class name and preemption policy from its class. `pod_name` is
/// the name the request gave (its generateName when it gave none), as refusals name the pod.
pub async fn admit_create(
    api: &KubeApi,
    r: &Resource,
    pod_name: &str,
    obj: &mut Value,
) -> ApiResult<()> {
    if !is_pods(r) {
        return Ok(());
    }
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
        return Ok(());
    };
    let class_name = spec
        .get("priorityClassName")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let resolved = resolve(api, pod_name, &class_name).await?;
    let given = spec.get("priority").and_then(Value::as_i64);
    if let Some(given) = given.filter(|p| *p != resolved.value) {
        return Err(ApiError::forbidden(
            r,
            pod_name,
            &format!(
                "the integer value of priority ({given}) must not be provided in pod spec; priority admission controller computed {} from the given PriorityClass name",
                resolved.value
            ),
        ));
    }
    if resolved.class_name.is_empty() {
        // An empty name is no name (Go's omitempty leaves it out).
        spec.remove("priorityClassName");
    } else {
        spec.insert("priorityClassName".into(), json!(resolved.class_name));
    }
    spec.insert("priority".into(), json!(resolved.value));
    if let Some(policy) = resolved.preemption_policy {
        let given = spec.get("preemptionPolicy").and_then(Value::as_str);
        if let Some(given) = given.filter(|p| *p != policy) {
            return Err(ApiError::forbidden(
                r,
                pod_name,
                &format!(
                    "the string value of PreemptionPolicy ({given}) must not be provided in pod spec; priority admission controller computed {policy} from the given PriorityClass name"
                ),
            ));
        }
        spec.insert("preemptionPolicy".into(), json!(policy));
    }
    Ok(())
}

/// A pod update that leaves out the priority or preemption policy keeps the stored ones
/// (subresources are not admitted: their writes keep the stored spec anyway).
pub fn admit_update(r: &Resource, sub: Option<&str>, new: &mut Value, old: &Value) {
    if !is_pods(r) || sub.is_some() {
        return;
    }
    let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    for field in ["priority", "preemptionPolicy"] {
        let missing = spec.get(field).is_none_or(Value::is_null);
        let stored = old.get("spec").and_then(|s| s.get(field));
        if let Some(stored) = stored.filter(|v| missing && !v.is_null()) {
            spec.insert(field.into(), stored.clone());
        }
    }
}

/// Refuses a PriorityClass marked global default while another one is (re-marking the default
/// itself is fine). Runs after validation, as kube-apiserver's validating admission does.
pub async fn validate_write(api: &KubeApi, r: &Resource, name: &str, obj: &Value) -> ApiResult<()> {
    if !is_priority_classes(r)
        || !obj
            .get("globalDefault")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    {
        return Ok(());
    }
    match default_class(api, Freshness::Latest).await? {
        Some(current) if current.metadata.name != name => Err(ApiError::forbidden(
            r,
            name,
            &format!(
                "PriorityClass {} is already marked as default. Only one default can exist",
                current.metadata.name
            ),
        )),
        _ => Ok(()),
    }
}

/// Refuses to delete a system class.
pub fn check_delete(r: &Resource, name: &str) -> ApiResult<()> {
    if is_priority_classes(r) && is_system_priority_class(name) {
        return Err(ApiError::forbidden(
            r,
            name,
            "this is a system priority class and cannot be deleted",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(name: &str, value: i64, global_default: bool) -> ClassFields {
        ClassFields {
            metadata: ClassMetadata { name: name.into() },
            value,
            global_default,
            preemption_policy: None,
        }
    }

    #[test]
    fn the_lowest_valued_default_wins_then_the_first_by_name() {
        let picked = pick_default([
            class("high", 100, true),
            class("low-b", 10, true),
            class("low-a", 10, true),
            class("lowest-not-default", 1, false),
        ]);
        assert_eq!(picked.map(|c| c.metadata.name).as_deref(), Some("low-a"));
        assert!(pick_default([class("x", 1, false)]).is_none());
    }

    #[test]
    fn an_update_without_priority_keeps_the_stored_one() {
        let pods = pods().expect("pods are served");
        let old = json!({"spec": {"priority": 7, "preemptionPolicy": "Never"}});
        let mut new = json!({"spec": {}});
        admit_update(pods, None, &mut new, &old);
        assert_eq!(new, old);
        // A changed priority is left for validation to refuse.
        let mut changed = json!({"spec": {"priority": 8}});
        admit_update(pods, None, &mut changed, &old);
        assert_eq!(changed["spec"]["priority"], 8);
        let mut status = json!({"spec": {}});
        admit_update(pods, Some("status"), &mut status, &old);
        assert_eq!(status, json!({"spec": {}}));
    }

    #[test]
    fn only_the_system_classes_are_kept_from_deletion() {
        let pcs = priority_classes().expect("priorityclasses are served");
        let e = check_delete(pcs, "system-node-critical").expect_err("refused");
        assert_eq!(e.code, 403);
        assert_eq!(
            e.message,
            "priorityclasses.scheduling.k8s.io \"system-node-critical\" is forbidden: this is a system priority class and cannot be deleted"
        );
        assert!(check_delete(pcs, "system-foo").is_ok());
        assert!(check_delete(pods().expect("pods"), "system-node-critical").is_ok());
    }
}
