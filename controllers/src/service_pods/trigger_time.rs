//! `TriggerTimeTracker`: the `endpoints.kubernetes.io/last-change-trigger-time` a sync writes,
//! as upstream computes it: for a Service not seen before, its creation time; after that, the
//! earliest of the trigger times that changed since the last sync (a pod's Ready condition
//! transition, the Service's creation), or none.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use crate::workqueue::key_of;

#[derive(Default)]
struct ServiceState {
    pods: HashMap<String, Timestamp>,
    service: Option<Timestamp>,
}

/// Per Service, the trigger times of its last sync.
#[derive(Default)]
pub struct TriggerTimeTracker {
    states: Mutex<HashMap<String, ServiceState>>,
}

fn ready_transition(pod: &Pod) -> Option<Timestamp> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")?
        .last_transition_time
        .as_ref()
        .map(|t| t.0)
}

impl TriggerTimeTracker {
    /// The trigger time of this sync of `svc` over `pods` (and remembers them for the next).
    pub fn compute(&self, svc: &Service, pods: &[Arc<Pod>]) -> Option<Timestamp> {
        let key = key_of(&svc.namespace().unwrap_or_default(), &svc.name_any());
        let mut states = self.states.lock().unwrap_or_else(PoisonError::into_inner);
        let known = states.contains_key(&key);
        let state = states.entry(key).or_default();
        let mut earliest: Option<Timestamp> = None;
        let mut seen = HashMap::new();
        for pod in pods {
            let Some(t) = ready_transition(pod) else {
                continue;
            };
            let name = pod.name_any();
            if state.pods.get(&name).is_none_or(|last| t > *last) {
                earliest = Some(earliest.map_or(t, |e| e.min(t)));
            }
            seen.insert(name, t);
        }
        let created = svc.metadata.creation_timestamp.as_ref().map(|t| t.0);
        if let Some(c) = created {
            if state.service.is_none_or(|last| c > last) {
                earliest = Some(earliest.map_or(c, |e| e.min(c)));
            }
        }
        state.pods = seen;
        state.service = created;
        if known {
            earliest
        } else {
            created
        }
    }

    /// Forgets a deleted Service.
    pub fn delete_service(&self, ns: &str, name: &str) {
        self.states
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key_of(ns, name));
    }
}

/// The annotation's value: RFC 3339 in UTC with the fraction as long as needed.
pub fn format(t: Timestamp) -> String {
    t.to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn pod(name: &str, ready_at: &str) -> Arc<Pod> {
        Arc::new(
            serde_json::from_value(
                json!({"metadata": {"name": name}, "status": {"conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": ready_at}]}}),
            )
            .unwrap(),
        )
    }

    #[test]
    fn first_the_service_creation_then_the_earliest_change_then_nothing() {
        let svc: Service = serde_json::from_value(json!({"metadata": {"name": "s",
            "namespace": "d", "creationTimestamp": "2025-01-01T00:00:00Z"}}))
        .unwrap();
        let t = TriggerTimeTracker::default();
        let a = pod("a", "2025-01-01T00:01:00Z");
        assert_eq!(
            t.compute(&svc, std::slice::from_ref(&a))
                .map(format)
                .as_deref(),
            Some("2025-01-01T00:00:00Z")
        );
        let b = pod("b", "2025-01-01T00:02:00Z");
        let c = pod("c", "2025-01-01T00:03:00Z");
        assert_eq!(
            t.compute(&svc, &[a.clone(), b.clone(), c])
                .map(format)
                .as_deref(),
            Some("2025-01-01T00:02:00Z")
        );
        assert_eq!(t.compute(&svc, &[a, b]), None);
    }
}
