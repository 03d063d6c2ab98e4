//! A StatefulSet's revisions: what a ControllerRevision of it holds (upstream's getPatch: the
//! strategic merge patch `{"spec":{"template":{…,"$patch":"replace"}}}` that puts its pod
//! template back, which `kubectl rollout undo` applies as it is), the set as of a revision
//! (upstream's ApplyRevision), and which revisions are the current and the update one.

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use serde_json::{json, Value};

/// The revision data of `set`'s pod template.
pub fn data(set: &StatefulSet) -> Value {
    let template = set.spec.as_ref().map(|s| &s.template);
    let mut t = serde_json::to_value(template).unwrap_or(Value::Null);
    if !t.is_object() {
        t = json!({});
    }
    if let Some(m) = t.as_object_mut() {
        m.insert("$patch".into(), json!("replace"));
    }
    json!({"spec": {"template": t}})
}

/// `set` with the template `revision` records (the set itself when the data holds none).
pub fn apply(set: &StatefulSet, revision: &ControllerRevision) -> StatefulSet {
    let mut out = set.clone();
    let template = revision
        .data
        .as_ref()
        .and_then(|d| d.0.pointer("/spec/template"))
        .cloned()
        .map(|mut t| {
            if let Some(m) = t.as_object_mut() {
                m.remove("$patch");
            }
            t
        })
        .and_then(|t| serde_json::from_value::<PodTemplateSpec>(t).ok());
    if let (Some(t), Some(spec)) = (template, out.spec.as_mut()) {
        spec.template = t;
    }
    out
}

/// The number the next revision gets: one past the newest (1 for the first). `revisions` is
/// sorted oldest first.
pub fn next_number(revisions: &[ControllerRevision]) -> i64 {
    revisions.last().map_or(1, |r| r.revision.saturating_add(1))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use k8s_openapi::apimachinery::pkg::runtime::RawExtension;

    fn set(image: &str) -> StatefulSet {
        serde_json::from_value(json!({
            "metadata": {"name": "web"},
            "spec": {"selector": {}, "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": image}]}}},
        }))
        .unwrap()
    }

    #[test]
    fn the_data_is_a_replace_patch_of_the_template() {
        let d = data(&set("nginx:1"));
        assert_eq!(d["spec"]["template"]["$patch"], "replace");
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"][0]["image"],
            "nginx:1"
        );
        assert_eq!(d["spec"].as_object().unwrap().len(), 1);
    }

    #[test]
    fn applying_a_revision_restores_its_template() {
        let old = ControllerRevision {
            data: Some(RawExtension(data(&set("nginx:1")))),
            ..ControllerRevision::default()
        };
        let restored = apply(&set("nginx:2"), &old);
        assert_eq!(
            restored.spec.unwrap().template.spec.unwrap().containers[0]
                .image
                .as_deref(),
            Some("nginx:1")
        );
    }
}
