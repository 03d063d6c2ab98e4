//! ControllerRevisions, as upstream's `pkg/controller/history` keeps them for the controllers
//! that record their template's history (statefulset, daemonset): the revision hash (32-bit
//! FNV-1 of the revision's data and the collision count, spelled in the "safe" alphabet), the
//! `<parent>-<hash>` name and `controller.kubernetes.io/hash` label, the revisions a parent owns
//! or may adopt, creating one (renamed with a bumped collision count when another revision with
//! different data holds the name), renumbering one, and trimming history to a limit.
//!
//! The parent is any namespaced `kube::Resource`; the data is JSON (`RawExtension`), hashed as
//! its compact serialization with sorted keys — the bytes a Go client's `json.Marshal` of a map
//! writes.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use kube::api::{DeleteParams, ObjectMeta, PostParams};
use kube::core::{Selector, SelectorExt};
use kube::{Api, Client, Resource, ResourceExt};

use crate::owners;
use crate::ControllerError;

/// The label holding a revision's hash.
pub const HASH_LABEL: &str = "controller.kubernetes.io/hash";

/// The characters upstream's SafeEncodeString spells hashes with (no vowels, no look-alikes).
pub(crate) const SAFE: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// Spells each byte of `s` as a character of the safe alphabet (upstream's SafeEncodeString:
/// the hashes become names no one reads as words).
pub fn safe_encode(s: &str) -> String {
    s.bytes()
        .map(|b| SAFE[usize::from(b) % SAFE.len()] as char)
        .collect()
}

/// 32-bit FNV-1 (Go's `fnv.New32`, which upstream's revision hash uses — not FNV-1a).
fn fnv1_32(parts: &[&[u8]]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for part in parts {
        for b in *part {
            h = h.wrapping_mul(0x0100_0193);
            h ^= u32::from(*b);
        }
    }
    h
}

/// The bytes a revision's data is hashed and compared as.
pub fn data_bytes(data: Option<&RawExtension>) -> Vec<u8> {
    data.map(|d| serde_json::to_vec(&d.0).unwrap_or_default())
        .unwrap_or_default()
}

/// The hash of revision data: FNV-1 over the data's bytes, then the collision count's decimal
/// digits if there is one, its decimal value safe-encoded (upstream's HashControllerRevision).
pub fn hash(data: Option<&RawExtension>, collision_count: Option<i32>) -> String {
    let bytes = data_bytes(data);
    let probe = collision_count.map(|c| c.to_string()).unwrap_or_default();
    safe_encode(&fnv1_32(&[&bytes, probe.as_bytes()]).to_string())
}

/// `<prefix>-<hash>`, the prefix cut to 223 bytes so the name fits 253.
pub fn name(prefix: &str, hash: &str) -> String {
    let mut end = prefix.len().min(223);
    while !prefix.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}-{hash}", &prefix[..end])
}

/// A new revision of `parent` (not yet created): the template's labels plus the hash label, a
/// controller reference to the parent, `data` and the revision number; named for the hash with
/// `collision_count`.
pub fn new_revision<P: Resource<DynamicType = ()>>(
    parent: &P,
    template_labels: &BTreeMap<String, String>,
    data: serde_json::Value,
    revision: i64,
    collision_count: Option<i32>,
) -> ControllerRevision {
    let data = RawExtension(data);
    let h = hash(Some(&data), collision_count);
    let mut labels = template_labels.clone();
    labels.insert(HASH_LABEL.into(), h.clone());
    ControllerRevision {
        metadata: ObjectMeta {
            name: Some(name(&parent.name_any(), &h)),
            namespace: parent.namespace(),
            labels: Some(labels),
            owner_references: Some(vec![owners::controller_ref(parent)]),
            ..ObjectMeta::default()
        },
        data: Some(data),
        revision,
    }
}

/// Whether two revisions hold the same data (upstream's EqualRevision: its hash-label check
/// reads the labels as decimal numbers, which safe-encoded hashes almost never are, so the data
/// decides; the labels may also differ by the collision count they were made with).
pub fn equal(a: &ControllerRevision, b: &ControllerRevision) -> bool {
    a.data.as_ref().map(|d| &d.0) == b.data.as_ref().map(|d| &d.0)
}

/// Sorts by revision number, then creation time, then name (upstream's byRevision).
pub fn sort(revisions: &mut [ControllerRevision]) {
    revisions.sort_by(|a, b| {
        let created = |r: &ControllerRevision| r.metadata.creation_timestamp.as_ref().map(|t| t.0);
        a.revision
            .cmp(&b.revision)
            .then_with(|| created(a).cmp(&created(b)))
            .then_with(|| a.name_any().cmp(&b.name_any()))
    });
}

/// The revisions in `parent`'s namespace its selector matches that it controls or no one
/// does (orphans it may adopt), as upstream's ListControllerRevisions.
pub fn owned_or_orphaned<P: Resource<DynamicType = ()>>(
    parent: &P,
    selector: &Selector,
    all: impl IntoIterator<Item = Arc<ControllerRevision>>,
) -> Vec<ControllerRevision> {
    let (ns, uid) = (parent.namespace(), parent.uid().unwrap_or_default());
    all.into_iter()
        .filter(|r| r.namespace() == ns && selector.matches(r.labels()))
        .filter(|r| controller_ref_of(r.as_ref()).is_none_or(|o| o.uid == uid))
        .map(|r| r.as_ref().clone())
        .collect()
}

/// The ownerReference marked controller, of whatever kind.
fn controller_ref_of(
    r: &ControllerRevision,
) -> Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference> {
    r.metadata
        .owner_references
        .as_deref()?
        .iter()
        .find(|o| o.controller == Some(true))
}

/// Whether `parent` controls `r` (rather than no one does).
pub fn controlled_by<P: Resource<DynamicType = ()>>(parent: &P, r: &ControllerRevision) -> bool {
    controller_ref_of(r).is_some_and(|o| Some(&o.uid) == parent.uid().as_ref())
}

/// Creates `revision` for `parent`. When its name is taken by a revision with different data,
/// `collision_count` goes up and it is tried again under the name that count gives (the caller
/// records the count in the parent's status); when taken by one with the same data, that one is
/// the answer.
pub async fn create<P: Resource<DynamicType = ()>>(
    client: &Client,
    parent: &P,
    revision: &ControllerRevision,
    collision_count: &mut i32,
) -> Result<ControllerRevision, ControllerError> {
    let ns = parent.namespace().unwrap_or_default();
    let api: Api<ControllerRevision> = Api::namespaced(client.clone(), &ns);
    let mut clone = revision.clone();
    clone.metadata.namespace = Some(ns);
    // Each collision changes the name; a bound keeps a broken server from looping for ever.
    for _ in 0..100 {
        let h = hash(revision.data.as_ref(), Some(*collision_count));
        clone.metadata.name = Some(name(&parent.name_any(), &h));
        match api.create(&PostParams::default(), &clone).await {
            Err(kube::Error::Api(s)) if s.code == 409 => {
                let exists = api.get(&clone.name_any()).await?;
                if exists.data.as_ref().map(|d| &d.0) == clone.data.as_ref().map(|d| &d.0) {
                    return Ok(exists);
                }
                *collision_count = collision_count.saturating_add(1);
            }
            other => return Ok(other?),
        }
    }
    Err(ControllerError::Conflict(format!(
        "no free name for a revision of {}",
        parent.name_any()
    )))
}

/// Gives `revision` the number `number` (when a template goes back to an old revision, that
/// revision becomes the newest).
pub async fn renumber(
    client: &Client,
    revision: &ControllerRevision,
    number: i64,
) -> Result<ControllerRevision, ControllerError> {
    if revision.revision == number {
        return Ok(revision.clone());
    }
    let api: Api<ControllerRevision> =
        Api::namespaced(client.clone(), &revision.namespace().unwrap_or_default());
    let patch = serde_json::json!({"revision": number});
    Ok(api
        .patch(
            &revision.name_any(),
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(patch),
        )
        .await?)
}

/// Deletes the oldest of `revisions` (sorted oldest first) beyond `limit`, never one named in
/// `live` (the current and update revisions, those pods still run).
pub async fn trim_history(
    client: &Client,
    revisions: &[ControllerRevision],
    live: &HashSet<String>,
    limit: usize,
) -> Result<(), ControllerError> {
    let historic: Vec<&ControllerRevision> = revisions
        .iter()
        .filter(|r| !live.contains(&r.name_any()))
        .collect();
    let excess = historic.len().saturating_sub(limit);
    for r in historic.into_iter().take(excess) {
        let api: Api<ControllerRevision> =
            Api::namespaced(client.clone(), &r.namespace().unwrap_or_default());
        match api.delete(&r.name_any(), &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use k8s_openapi::api::apps::v1::StatefulSet;
    use serde_json::json;

    fn set() -> StatefulSet {
        serde_json::from_value(json!({"metadata": {"name": "web", "namespace": "ns", "uid": "u1"}}))
            .unwrap()
    }

    #[test]
    fn fnv1_matches_the_reference_vectors() {
        // Go's fnv.New32: "" → offset basis, "a" → 0x050c5d7e.
        assert_eq!(fnv1_32(&[b""]), 0x811c_9dc5);
        assert_eq!(fnv1_32(&[b"a"]), 0x050c_5d7e);
        assert_eq!(fnv1_32(&[b"foo", b"bar"]), fnv1_32(&[b"foobar"]));
    }

    #[test]
    fn the_hash_depends_on_data_and_collisions_and_is_spelled_safely() {
        let a = RawExtension(json!({"spec": {"x": 1}}));
        let b = RawExtension(json!({"spec": {"x": 2}}));
        let h = hash(Some(&a), None);
        assert_eq!(h, hash(Some(&a), None));
        assert_ne!(h, hash(Some(&b), None));
        assert_ne!(h, hash(Some(&a), Some(1)));
        assert!(h.bytes().all(|c| SAFE.contains(&c)), "{h}");
        // The decimal digits of the 32-bit value, each spelled once.
        assert!(!h.is_empty() && h.len() <= 10);
    }

    #[test]
    fn names_are_the_parent_and_hash_with_the_prefix_cut_to_fit() {
        assert_eq!(name("web", "abc"), "web-abc");
        let long = "x".repeat(300);
        assert_eq!(name(&long, "h").len(), 223 + 2);
    }

    #[test]
    fn a_new_revision_is_labelled_named_and_owned_by_its_parent() {
        let labels = BTreeMap::from([("app".to_string(), "web".to_string())]);
        let r = new_revision(&set(), &labels, json!({"spec": {}}), 3, Some(0));
        let h = r.labels()[HASH_LABEL].clone();
        assert_eq!(r.name_any(), format!("web-{h}"));
        assert_eq!(r.labels()["app"], "web");
        assert_eq!(r.revision, 3);
        assert!(controlled_by(&set(), &r));
        assert_eq!(h, hash(r.data.as_ref(), Some(0)));
    }

    #[test]
    fn revisions_sort_by_number_then_name_and_compare_by_data() {
        let labels = BTreeMap::new();
        let a = new_revision(&set(), &labels, json!({"a": 1}), 2, None);
        let b = new_revision(&set(), &labels, json!({"b": 1}), 1, None);
        let mut v = vec![a.clone(), b.clone()];
        sort(&mut v);
        assert_eq!(v[0].revision, 1);
        assert!(equal(&a, &a.clone()));
        assert!(!equal(&a, &b));
    }

    #[test]
    fn a_parent_lists_its_own_and_orphaned_revisions_its_selector_matches() {
        let labels = BTreeMap::from([("app".to_string(), "web".to_string())]);
        let mine = new_revision(&set(), &labels, json!({"a": 1}), 1, None);
        let mut orphan = mine.clone();
        orphan.metadata.name = Some("orphan".into());
        orphan.metadata.owner_references = None;
        let mut other = mine.clone();
        other.metadata.name = Some("other".into());
        if let Some(o) = other.metadata.owner_references.as_mut() {
            o[0].uid = "u2".into();
        }
        let mut unlabelled = mine.clone();
        unlabelled.metadata.labels = None;
        let sel: Selector =
            Selector::from_iter([kube::core::Expression::Equal("app".into(), "web".into())]);
        let found = owned_or_orphaned(
            &set(),
            &sel,
            [mine, orphan, other, unlabelled].map(Arc::new),
        );
        let names: Vec<String> = found.iter().map(|r| r.name_any()).collect();
        assert_eq!(names.len(), 2);
        assert!(names.contains(&"orphan".to_string()));
    }
}
