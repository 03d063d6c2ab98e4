//! `SliceTracker`: the generation of every EndpointSlice the controller last wrote, per
//! Service (upstream's EndpointSliceTracker). A slice the cache shows at that generation is the
//! controller's own write and needs no sync; one newer was changed by someone else; a cache
//! missing a slice written, showing an older one, or still showing one deleted is stale, and
//! the sync waits for it rather than act on an old picture.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::ResourceExt;

use crate::workqueue::key_of;

/// The label naming a slice's Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// Stands for a generation the controller deleted.
const DELETION_EXPECTED: i64 = -1;

/// The Service key a slice belongs to, by its `kubernetes.io/service-name` label.
pub fn service_key(slice: &EndpointSlice) -> Option<String> {
    let name = slice.labels().get(SERVICE_NAME_LABEL)?;
    Some(key_of(&slice.namespace().unwrap_or_default(), name))
}

/// Service key → slice uid → generation written (or [`DELETION_EXPECTED`]).
#[derive(Default)]
pub struct SliceTracker {
    by_service: Mutex<HashMap<String, HashMap<String, i64>>>,
}

impl SliceTracker {
    fn map(&self) -> MutexGuard<'_, HashMap<String, HashMap<String, i64>>> {
        self.by_service
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn tracked(&self, slice: &EndpointSlice) -> Option<i64> {
        let key = service_key(slice)?;
        self.map().get(&key)?.get(&slice.uid()?).copied()
    }

    /// Whether the controller wrote (or deleted) this slice.
    pub fn has(&self, slice: &EndpointSlice) -> bool {
        self.tracked(slice).is_some()
    }

    /// Whether a slice seen in the cache is someone else's change (the Service must sync).
    pub fn should_sync(&self, slice: &EndpointSlice) -> bool {
        match self.tracked(slice) {
            None | Some(DELETION_EXPECTED) => true,
            Some(g) => slice.metadata.generation.unwrap_or(0) > g,
        }
    }

    /// The controller wrote `slice` (as the API returned it).
    pub fn update(&self, slice: &EndpointSlice) {
        self.set(slice, slice.metadata.generation.unwrap_or(0));
    }

    /// The controller deleted `slice`.
    pub fn expect_deletion(&self, slice: &EndpointSlice) {
        self.set(slice, DELETION_EXPECTED);
    }

    fn set(&self, slice: &EndpointSlice, generation: i64) {
        let (Some(key), Some(uid)) = (service_key(slice), slice.uid()) else {
            return;
        };
        self.map().entry(key).or_default().insert(uid, generation);
    }

    /// A slice went; whether the controller expected that (an unexpected deletion needs a sync).
    pub fn handle_deletion(&self, slice: &EndpointSlice) -> bool {
        let (Some(key), Some(uid)) = (service_key(slice), slice.uid()) else {
            return true;
        };
        let mut map = self.map();
        let Some(gens) = map.get_mut(&key) else {
            return true;
        };
        !matches!(gens.remove(&uid), Some(g) if g != DELETION_EXPECTED)
    }

    /// Forgets a deleted Service's slices.
    pub fn delete_service(&self, key: &str) {
        self.map().remove(key);
    }

    /// Whether the cache's `slices` of the Service `key` are older than what was written.
    pub fn stale(&self, key: &str, slices: &[Arc<EndpointSlice>]) -> bool {
        let map = self.map();
        let Some(gens) = map.get(key) else {
            return false;
        };
        let mut provided = std::collections::HashSet::new();
        for s in slices {
            let uid = s.uid().unwrap_or_default();
            if let Some(&g) = gens.get(&uid) {
                if g == DELETION_EXPECTED || g > s.metadata.generation.unwrap_or(0) {
                    return true;
                }
            }
            provided.insert(uid);
        }
        gens.iter()
            .any(|(uid, g)| *g != DELETION_EXPECTED && !provided.contains(uid))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn slice(uid: &str, generation: i64) -> EndpointSlice {
        serde_json::from_value(
            json!({"metadata": {"name": uid, "namespace": "d", "uid": uid,
            "generation": generation, "labels": {SERVICE_NAME_LABEL: "s"}},
            "addressType": "IPv4", "endpoints": []}),
        )
        .unwrap()
    }

    #[test]
    fn own_writes_need_no_sync_and_a_lagging_cache_is_stale() {
        let t = SliceTracker::default();
        assert!(t.should_sync(&slice("a", 1)));
        t.update(&slice("a", 2));
        assert!(!t.should_sync(&slice("a", 2)));
        assert!(t.should_sync(&slice("a", 3)));
        assert!(t.stale("d/s", &[Arc::new(slice("a", 1))]));
        assert!(t.stale("d/s", &[]));
        assert!(!t.stale("d/s", &[Arc::new(slice("a", 2))]));
        t.expect_deletion(&slice("a", 2));
        assert!(t.stale("d/s", &[Arc::new(slice("a", 2))]));
        assert!(!t.stale("d/s", &[]));
        assert!(t.handle_deletion(&slice("a", 2)));
        t.update(&slice("b", 1));
        assert!(!t.handle_deletion(&slice("b", 1)));
    }
}
