//! DefaultStorageClass admission: a PersistentVolumeClaim created without a class (neither
//! `spec.storageClassName` nor the beta `volume.beta.kubernetes.io/storage-class` annotation)
//! gets the default StorageClass's name — the class annotated
//! `storageclass.kubernetes.io/is-default-class: "true"` (or the beta annotation), the newest
//! one when several are, by name when created at once — and none when there is no default.
//! An explicit `""` asks for no class and is kept.

use serde::Deserialize;
use serde_json::Value;

use super::objects::{prefix, prefix_end, Freshness};
use super::resources::{self, Resource};
use super::status::ApiResult;
use super::KubeApi;

const IS_DEFAULT: &str = "storageclass.kubernetes.io/is-default-class";
const IS_DEFAULT_BETA: &str = "storageclass.beta.kubernetes.io/is-default-class";
const BETA_CLASS: &str = "volume.beta.kubernetes.io/storage-class";

/// What admission reads of a StorageClass.
#[derive(Deserialize, Default)]
#[serde(default)]
struct ClassMeta {
    metadata: ClassMetadata,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ClassMetadata {
    name: String,
    creation_timestamp: String,
    annotations: std::collections::BTreeMap<String, String>,
}

impl ClassMeta {
    fn is_default(&self) -> bool {
        let a = &self.metadata.annotations;
        a.get(IS_DEFAULT).map(String::as_str) == Some("true")
            || a.get(IS_DEFAULT_BETA).map(String::as_str) == Some("true")
    }
}

/// Whether `pvc` already names a class (an empty name counts: it asks for none).
fn has_class(pvc: &Value) -> bool {
    let named = pvc
        .pointer("/spec/storageClassName")
        .is_some_and(|v| !v.is_null());
    named
        || pvc
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(BETA_CLASS))
            .is_some()
}

/// The default among `classes`: the newest (RFC 3339 timestamps order as text), then the
/// first by name.
fn pick_default(classes: Vec<ClassMeta>) -> Option<String> {
    classes
        .into_iter()
        .filter(ClassMeta::is_default)
        .min_by(|a, b| {
            b.metadata
                .creation_timestamp
                .cmp(&a.metadata.creation_timestamp)
                .then_with(|| a.metadata.name.cmp(&b.metadata.name))
        })
        .map(|c| c.metadata.name)
}

/// Sets the default class on a new claim without one (other resources pass untouched).
pub async fn admit(api: &KubeApi, r: &Resource, obj: &mut Value) -> ApiResult<()> {
    if !(r.group.is_empty() && r.plural == "persistentvolumeclaims") || has_class(obj) {
        return Ok(());
    }
    let Some(classes) = resources::find("storage.k8s.io", "v1", "storageclasses") else {
        return Ok(());
    };
    let from = prefix(classes, None);
    let end = prefix_end(from.as_bytes());
    let page = api
        .store()
        .page(from.as_bytes(), &end, 0, Freshness::Any)
        .await?;
    // A class that does not parse is no default (bad stored data never fails a create).
    let found: Vec<ClassMeta> = page
        .kvs
        .iter()
        .filter_map(|kv| serde_json::from_slice(&kv.value).ok())
        .collect();
    if let Some(name) = pick_default(found) {
        if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
            spec.insert("storageClassName".into(), Value::String(name));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn class(name: &str, created: &str, default: Option<&str>) -> ClassMeta {
        let mut annotations = std::collections::BTreeMap::new();
        if let Some(d) = default {
            annotations.insert(IS_DEFAULT.to_string(), d.to_string());
        }
        ClassMeta {
            metadata: ClassMetadata {
                name: name.into(),
                creation_timestamp: created.into(),
                annotations,
            },
        }
    }

    #[test]
    fn the_newest_default_class_wins_then_the_first_by_name() {
        let classes = vec![
            class("old", "2024-01-01T00:00:00Z", Some("true")),
            class("new-b", "2024-06-01T00:00:00Z", Some("true")),
            class("new-a", "2024-06-01T00:00:00Z", Some("true")),
            class("newest-not-default", "2025-01-01T00:00:00Z", Some("false")),
        ];
        assert_eq!(pick_default(classes).as_deref(), Some("new-a"));
        assert_eq!(pick_default(vec![class("x", "", None)]), None);
    }

    #[test]
    fn an_explicit_class_even_empty_is_kept() {
        assert!(has_class(&json!({"spec": {"storageClassName": ""}})));
        assert!(has_class(
            &json!({"metadata": {"annotations": {BETA_CLASS: "slow"}}, "spec": {}})
        ));
        assert!(!has_class(&json!({"spec": {"storageClassName": null}})));
        assert!(!has_class(&json!({"spec": {}})));
    }
}
