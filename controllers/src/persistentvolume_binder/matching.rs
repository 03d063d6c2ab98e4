//! Which PersistentVolume a claim binds to, as the upstream binder's volume index chooses: among
//! the volumes whose access modes include the claim's (the sets with the fewest modes first),
//! one pre-bound to the claim wins outright; otherwise the smallest Available one of the
//! claim's class, at least as large as the request, of the claim's volume mode, matching its
//! selector and not being deleted. Claims of a WaitForFirstConsumer class only take a volume
//! pre-bound to them (the scheduler binds the others).

use std::collections::BTreeSet;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kube::core::{Selector, SelectorExt};
use kube::ResourceExt;

/// The beta annotation that named a class before `storageClassName` (still honoured).
pub const ANN_BETA_CLASS: &str = "volume.beta.kubernetes.io/storage-class";

/// A claim's class: the beta annotation, else `spec.storageClassName`, else `""`.
pub fn claim_class(claim: &PersistentVolumeClaim) -> String {
    if let Some(c) = claim.annotations().get(ANN_BETA_CLASS) {
        return c.clone();
    }
    claim
        .spec
        .as_ref()
        .and_then(|s| s.storage_class_name.clone())
        .unwrap_or_default()
}

/// A volume's class, read as a claim's.
pub fn volume_class(volume: &PersistentVolume) -> String {
    if let Some(c) = volume.annotations().get(ANN_BETA_CLASS) {
        return c.clone();
    }
    volume
        .spec
        .as_ref()
        .and_then(|s| s.storage_class_name.clone())
        .unwrap_or_default()
}

/// The claim's requested storage in bytes (0 when unset or unreadable).
pub fn requested_bytes(claim: &PersistentVolumeClaim) -> f64 {
    claim
        .spec
        .as_ref()
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .and_then(|q| parse_quantity(&q.0))
        .unwrap_or(0.0)
}

/// The volume's capacity in bytes (0 when unset or unreadable).
pub fn capacity_bytes(volume: &PersistentVolume) -> f64 {
    volume
        .spec
        .as_ref()
        .and_then(|s| s.capacity.as_ref())
        .and_then(|c| c.get("storage"))
        .and_then(|q| parse_quantity(&q.0))
        .unwrap_or(0.0)
}

/// A resource quantity (`1Gi`, `500M`, `1.5e3`, `100m`) as a number.
pub fn parse_quantity(s: &str) -> Option<f64> {
    let s = s.trim();
    let suffixes: [(&str, f64); 13] = [
        ("Ki", 1024f64),
        ("Mi", 1024f64.powi(2)),
        ("Gi", 1024f64.powi(3)),
        ("Ti", 1024f64.powi(4)),
        ("Pi", 1024f64.powi(5)),
        ("Ei", 1024f64.powi(6)),
        ("n", 1e-9),
        ("u", 1e-6),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
    ];
    for (suffix, factor) in suffixes {
        if let Some(num) = s.strip_suffix(suffix) {
            return plain_number(num).map(|n| n * factor);
        }
    }
    for (suffix, factor) in [("P", 1e15), ("E", 1e18)] {
        if let Some(num) = s.strip_suffix(suffix) {
            return plain_number(num).map(|n| n * factor);
        }
    }
    // Plain or with a decimal exponent (`1e3`, `1E3`).
    s.parse::<f64>().ok().filter(|n| n.is_finite())
}

fn plain_number(s: &str) -> Option<f64> {
    if s.is_empty() || s.contains(['e', 'E']) {
        return None;
    }
    s.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// Whether `volume` names `claim` in its claimRef (with the claim's uid, or none yet).
pub fn is_bound_to(volume: &PersistentVolume, claim: &PersistentVolumeClaim) -> bool {
    let Some(r) = volume.spec.as_ref().and_then(|s| s.claim_ref.as_ref()) else {
        return false;
    };
    r.name.as_deref() == Some(claim.name_any().as_str())
        && r.namespace == claim.namespace()
        && r.uid
            .as_deref()
            .is_none_or(|u| u.is_empty() || Some(u) == claim.uid().as_deref())
}

/// The volume with its `claimRef` naming `claim` (upstream's GetBindVolumeToClaim, shared by
/// the PV controller and the scheduler's VolumeBinding): a volume not already pre-bound to the
/// claim is marked `pv.kubernetes.io/bound-by-controller`. Also whether anything changed.
pub fn volume_bound_to_claim(
    volume: &PersistentVolume,
    claim: &PersistentVolumeClaim,
) -> (PersistentVolume, bool) {
    let by_controller = !is_bound_to(volume, claim);
    let mut v = volume.clone();
    let mut dirty = false;
    let spec = v.spec.get_or_insert_with(Default::default);
    let same = spec.claim_ref.as_ref().is_some_and(|r| {
        r.name.as_deref() == Some(claim.name_any().as_str())
            && r.namespace == claim.namespace()
            && r.uid == claim.uid()
    });
    if !same {
        spec.claim_ref = Some(k8s_openapi::api::core::v1::ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("PersistentVolumeClaim".into()),
            namespace: claim.namespace(),
            name: Some(claim.name_any()),
            uid: claim.uid(),
            resource_version: claim.resource_version(),
            ..Default::default()
        });
        dirty = true;
    }
    if by_controller && !v.annotations().contains_key(super::ANN_BOUND_BY_CONTROLLER) {
        v.annotations_mut()
            .insert(super::ANN_BOUND_BY_CONTROLLER.into(), "yes".into());
        dirty = true;
    }
    (v, dirty)
}

fn volume_mode_of(mode: Option<&String>) -> &str {
    mode.map_or("Filesystem", String::as_str)
}

/// Whether the claim's and the volume's volume modes differ (unset means Filesystem).
pub fn volume_mode_mismatch(claim: &PersistentVolumeClaim, volume: &PersistentVolume) -> bool {
    let c = claim.spec.as_ref().and_then(|s| s.volume_mode.as_ref());
    let v = volume.spec.as_ref().and_then(|s| s.volume_mode.as_ref());
    volume_mode_of(c) != volume_mode_of(v)
}

fn modes_of(list: Option<&Vec<String>>) -> BTreeSet<String> {
    list.map(|l| l.iter().cloned().collect())
        .unwrap_or_default()
}

/// Why a volume named by a claim cannot serve it (upstream's checkVolumeSatisfyClaim), if not.
pub fn unsatisfied_by(claim: &PersistentVolumeClaim, volume: &PersistentVolume) -> Option<String> {
    if capacity_bytes(volume) < requested_bytes(claim) {
        return Some("requested PV is too small".into());
    }
    if claim_class(claim) != volume_class(volume) {
        return Some("storageClassName does not match".into());
    }
    if volume_mode_mismatch(claim, volume) {
        return Some("incompatible volumeMode".into());
    }
    let wanted = modes_of(claim.spec.as_ref().and_then(|s| s.access_modes.as_ref()));
    let has = modes_of(volume.spec.as_ref().and_then(|s| s.access_modes.as_ref()));
    if !wanted.is_subset(&has) {
        return Some("incompatible accessMode".into());
    }
    None
}

/// The volume `claim` should bind to, or why its selector cannot be read.
pub fn best_match(
    claim: &PersistentVolumeClaim,
    volumes: &[Arc<PersistentVolume>],
    delay_binding: bool,
) -> Result<Option<Arc<PersistentVolume>>, String> {
    let selector = match claim.spec.as_ref().and_then(|s| s.selector.clone()) {
        None => None,
        Some(s) => Some(
            Selector::try_from(s)
                .map_err(|e| format!("error creating internal label selector for claim: {e}"))?,
        ),
    };
    let wanted = modes_of(claim.spec.as_ref().and_then(|s| s.access_modes.as_ref()));
    // The distinct access-mode sets that hold every mode asked for, the smallest first.
    let mut sets: Vec<BTreeSet<String>> = Vec::new();
    for v in volumes {
        let has = modes_of(v.spec.as_ref().and_then(|s| s.access_modes.as_ref()));
        if wanted.is_subset(&has) && !sets.contains(&has) {
            sets.push(has);
        }
    }
    sets.sort_by_key(BTreeSet::len);
    let (class, request) = (claim_class(claim), requested_bytes(claim));
    for set in sets {
        let mut smallest: Option<(&Arc<PersistentVolume>, f64)> = None;
        for v in volumes {
            let spec = v.spec.as_ref();
            if modes_of(spec.and_then(|s| s.access_modes.as_ref())) != set {
                continue;
            }
            let claimed = spec.and_then(|s| s.claim_ref.as_ref()).is_some();
            if claimed && !is_bound_to(v, claim) {
                continue;
            }
            let size = capacity_bytes(v);
            if size < request
                || volume_mode_mismatch(claim, v)
                || v.metadata.deletion_timestamp.is_some()
            {
                continue;
            }
            if is_bound_to(v, claim) {
                return Ok(Some(v.clone()));
            }
            if delay_binding {
                continue;
            }
            let available = v.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Available");
            if !available
                || selector.as_ref().is_some_and(|s| !s.matches(v.labels()))
                || volume_class(v) != class
            {
                continue;
            }
            if smallest.is_none_or(|(_, q)| size < q) {
                smallest = Some((v, size));
            }
        }
        if let Some((v, _)) = smallest {
            return Ok(Some(v.clone()));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::{json, Value};

    /// A JSON merge patch, enough for test fixtures.
    fn merge(into: &mut Value, from: &Value) {
        match (into, from) {
            (Value::Object(a), Value::Object(b)) => {
                for (k, v) in b {
                    merge(a.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
            (slot, v) => *slot = v.clone(),
        }
    }

    fn pv(
        name: &str,
        size: &str,
        modes: &[&str],
        extra: serde_json::Value,
    ) -> Arc<PersistentVolume> {
        let mut v = json!({
            "metadata": {"name": name, "labels": {"tier": "fast"}},
            "spec": {"capacity": {"storage": size}, "accessModes": modes,
                     "hostPath": {"path": "/x"}},
            "status": {"phase": "Available"},
        });
        merge(&mut v, &extra);
        Arc::new(serde_json::from_value(v).unwrap())
    }

    fn pvc(size: &str, modes: &[&str], extra: serde_json::Value) -> PersistentVolumeClaim {
        let mut v = json!({
            "metadata": {"name": "c", "namespace": "ns", "uid": "u1"},
            "spec": {"accessModes": modes, "resources": {"requests": {"storage": size}}},
        });
        merge(&mut v, &extra);
        serde_json::from_value(v).unwrap()
    }

    fn pick(c: &PersistentVolumeClaim, vs: &[Arc<PersistentVolume>]) -> Option<String> {
        best_match(c, vs, false).unwrap().map(|v| v.name_any())
    }

    #[test]
    fn quantities_read_as_kubernetes_writes_them() {
        assert_eq!(parse_quantity("1Gi"), Some(1073741824.0));
        assert_eq!(parse_quantity("500M"), Some(5e8));
        assert_eq!(parse_quantity("1e3"), Some(1000.0));
        assert_eq!(parse_quantity("100m"), Some(0.1));
        assert_eq!(parse_quantity("1.5Ki"), Some(1536.0));
        assert_eq!(parse_quantity("x"), None);
    }

    #[test]
    fn the_smallest_volume_that_fits_wins() {
        let vs = [
            pv("big", "10Gi", &["ReadWriteOnce"], json!({})),
            pv("small", "1Gi", &["ReadWriteOnce"], json!({})),
            pv("tiny", "100Mi", &["ReadWriteOnce"], json!({})),
        ];
        assert_eq!(
            pick(&pvc("500Mi", &["ReadWriteOnce"], json!({})), &vs).as_deref(),
            Some("small")
        );
    }

    #[test]
    fn fewer_access_modes_beat_a_smaller_volume() {
        let vs = [
            pv("many", "1Gi", &["ReadWriteOnce", "ReadOnlyMany"], json!({})),
            pv("one", "5Gi", &["ReadWriteOnce"], json!({})),
        ];
        assert_eq!(
            pick(&pvc("1Gi", &["ReadWriteOnce"], json!({})), &vs).as_deref(),
            Some("one")
        );
    }

    #[test]
    fn class_modes_selector_mode_and_phase_must_match() {
        let vs = [pv("v", "1Gi", &["ReadWriteOnce"], json!({}))];
        let c = |extra| pvc("1Gi", &["ReadWriteOnce"], extra);
        assert_eq!(
            pick(&c(json!({"spec": {"storageClassName": "gold"}})), &vs),
            None
        );
        assert_eq!(pick(&pvc("1Gi", &["ReadWriteMany"], json!({})), &vs), None);
        let sel = json!({"spec": {"selector": {"matchLabels": {"tier": "slow"}}}});
        assert_eq!(pick(&c(sel), &vs), None);
        assert_eq!(
            pick(&c(json!({"spec": {"volumeMode": "Block"}})), &vs),
            None
        );
        let released = [pv(
            "r",
            "1Gi",
            &["ReadWriteOnce"],
            json!({"status": {"phase": "Released"}}),
        )];
        assert_eq!(pick(&c(json!({})), &released), None);
        assert_eq!(pick(&c(json!({})), &vs).as_deref(), Some("v"));
    }

    #[test]
    fn a_volume_pre_bound_elsewhere_is_skipped_and_one_pre_bound_here_wins() {
        let other = json!({"spec": {"claimRef": {"namespace": "ns", "name": "other"}}});
        let mine = json!({"spec": {"claimRef": {"namespace": "ns", "name": "c"},
                          "storageClassName": "x"}, "status": {"phase": "Bound"}});
        let vs = [pv("o", "1Gi", &["ReadWriteOnce"], other)];
        assert_eq!(pick(&pvc("1Gi", &["ReadWriteOnce"], json!({})), &vs), None);
        let vs = [
            pv("free", "1Gi", &["ReadWriteOnce"], json!({})),
            pv("mine", "9Gi", &["ReadWriteOnce"], mine),
        ];
        let c = pvc("1Gi", &["ReadWriteOnce"], json!({}));
        assert_eq!(pick(&c, &vs).as_deref(), Some("mine"));
        // Delayed binding takes only the pre-bound volume.
        assert_eq!(
            best_match(&c, &vs[..1], true)
                .unwrap()
                .map(|v| v.name_any()),
            None
        );
    }
}
