//! VolumeZone: a pod whose bound volumes carry zone or region labels runs only on a node in
//! those zones (a label value may list several zones joined by `__`). A node with no zone or
//! region label at all fits; claims not yet bound by a WaitForFirstConsumer class are left to
//! VolumeBinding. Upstream's `volumezone` plugin, with its messages.

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use capstan_controllers::informers::Informers;
use capstan_controllers::persistentvolume_binder::matching::claim_class;
use kube::runtime::reflector::ObjectRef;

use crate::framework::{state_of, Plugin, PluginState, Points, PreFiltered, Status};
use crate::node_info::NodeInfo;
use crate::plugins::volume_binding::{attached, named_claims, slot_with, volume_name, Listers};
use crate::pod_info::PodInfo;
use crate::snapshot::Snapshot;

pub const NAME: &str = "VolumeZone";
/// Upstream's `ErrReasonConflict`.
pub const REASON: &str = "node(s) had no available volume zone";

/// The labels that place a volume, and a node (beta names first, as upstream lists them).
const TOPOLOGY_LABELS: [&str; 4] = [
    "failure-domain.beta.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/region",
    "topology.kubernetes.io/zone",
    "topology.kubernetes.io/region",
];

#[derive(Default)]
pub struct VolumeZone {
    listers: OnceLock<Listers>,
}

/// One label of one of the pod's volumes: the node must have one of `values` under `key`.
#[derive(Clone, Debug)]
struct Topology {
    key: &'static str,
    values: BTreeSet<String>,
}

/// PreFilter's state: every zone and region label of the pod's bound volumes.
#[derive(Clone)]
struct Topologies(Arc<Vec<Topology>>);

impl VolumeZone {
    pub fn with_listers(listers: Listers) -> VolumeZone {
        VolumeZone {
            listers: slot_with(listers),
        }
    }

    fn unresolvable(message: impl Into<String>) -> Status {
        Status::unresolvable(NAME, message)
    }

    /// The topologies of the pod's claims' volumes (upstream's `getPVbyPod`).
    fn topologies(&self, pod: &PodInfo) -> Result<Vec<Topology>, Status> {
        let l = attached(&self.listers, NAME)?;
        let mut out = Vec::new();
        for name in named_claims(pod) {
            if name.is_empty() {
                return Err(Self::unresolvable("PersistentVolumeClaim had no name"));
            }
            let Some(claim) = l.claims.get(&ObjectRef::new(name).within(&pod.namespace)) else {
                return Err(Self::unresolvable(format!(
                    "persistentvolumeclaim {name:?} not found"
                )));
            };
            let pv_name = volume_name(&claim);
            if pv_name.is_empty() {
                let class = claim_class(&claim);
                if class.is_empty() {
                    return Err(Self::unresolvable(
                        "PersistentVolumeClaim had no pv name and storageClass name",
                    ));
                }
                let Some(sc) = l.classes.get(&ObjectRef::new(&class)) else {
                    return Err(Self::unresolvable(format!(
                        "storageclass.storage.k8s.io {class:?} not found"
                    )));
                };
                match sc.volume_binding_mode.as_deref() {
                    None => {
                        return Err(Self::unresolvable(format!(
                            "VolumeBindingMode not set for StorageClass {class:?}"
                        )))
                    }
                    // Bound for the node it is scheduled to: nothing to check yet.
                    Some("WaitForFirstConsumer") => continue,
                    Some(_) => return Err(Self::unresolvable("PersistentVolume had no name")),
                }
            }
            let Some(pv) = l.volumes.get(&ObjectRef::new(pv_name)) else {
                return Err(Self::unresolvable(format!(
                    "persistentvolume {pv_name:?} not found"
                )));
            };
            let labels = pv.metadata.labels.as_ref();
            for key in TOPOLOGY_LABELS {
                if let Some(value) = labels.and_then(|l| l.get(key)) {
                    out.push(Topology {
                        key,
                        values: zones_of(value),
                    });
                }
            }
        }
        Ok(out)
    }
}

/// A label value's zones (`a__b` is zones a and b; blanks around each are ignored).
fn zones_of(value: &str) -> BTreeSet<String> {
    value
        .split("__")
        .map(str::trim)
        .filter(|z| !z.is_empty())
        .map(String::from)
        .collect()
}

/// The GA name of a beta topology label (a volume labelled the old way matches a node
/// labelled the new way).
fn ga_label(key: &str) -> &str {
    match key {
        "failure-domain.beta.kubernetes.io/zone" => "topology.kubernetes.io/zone",
        "failure-domain.beta.kubernetes.io/region" => "topology.kubernetes.io/region",
        other => other,
    }
}

impl Plugin for VolumeZone {
    fn name(&self) -> &'static str {
        NAME
    }

    fn points(&self) -> Points {
        Points::FILTER.with_pre_filter()
    }

    fn attach(&self, informers: &Informers) {
        let _ = self.listers.set(Listers::from_informers(informers));
    }

    fn pre_filter(&self, pod: &PodInfo, _: &Snapshot) -> Result<PreFiltered, Status> {
        if named_claims(pod).next().is_none() {
            return Ok(PreFiltered::skip());
        }
        let topologies = self.topologies(pod)?;
        if topologies.is_empty() {
            return Ok(PreFiltered::skip());
        }
        Ok(PreFiltered::with_state(Topologies(Arc::new(topologies))))
    }

    fn filter(
        &self,
        state: Option<&dyn PluginState>,
        _pod: &PodInfo,
        node: &NodeInfo,
    ) -> Result<(), Status> {
        let Some(Topologies(topologies)) = state_of::<Topologies>(state) else {
            return Ok(());
        };
        let labels = node.labels();
        if !TOPOLOGY_LABELS.iter().any(|k| labels.contains_key(*k)) {
            // A node in no zone: any volume may be attached.
            return Ok(());
        }
        for t in topologies.iter() {
            let value = labels.get(t.key).or_else(|| labels.get(ga_label(t.key)));
            if !value.is_some_and(|v| t.values.contains(v)) {
                return Err(Status::unresolvable(NAME, REASON));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testing::{node, pod, volume_listers};
    use serde_json::{json, Value};

    fn plugin(claims: Vec<Value>, volumes: Vec<Value>, classes: Vec<Value>) -> VolumeZone {
        VolumeZone::with_listers(volume_listers(claims, volumes, classes))
    }

    fn claim(name: &str, volume: &str, class: &str) -> Value {
        json!({"metadata": {"name": name, "namespace": "default"},
               "spec": {"volumeName": volume, "storageClassName": class}})
    }

    fn volume(name: &str, labels: Value) -> Value {
        json!({"metadata": {"name": name, "labels": labels}})
    }

    fn using(claims: &[&str]) -> std::sync::Arc<PodInfo> {
        let volumes: Vec<Value> = claims
            .iter()
            .map(|c| json!({"name": c, "persistentVolumeClaim": {"claimName": c}}))
            .collect();
        pod(json!({"spec": {"volumes": volumes}}))
    }

    fn zoned(labels: Value) -> NodeInfo {
        node(json!({"metadata": {"name": "n", "labels": labels}}))
    }

    fn filter(p: &VolumeZone, pod: &PodInfo, n: &NodeInfo) -> Result<(), String> {
        let pre = p
            .pre_filter(pod, &Snapshot::default())
            .map_err(|s| s.message())?;
        if pre.skip {
            return Ok(());
        }
        p.filter(pre.state.as_deref(), pod, n)
            .map_err(|s| s.message())
    }

    #[test]
    fn volume_zone_keeps_a_pod_to_its_volumes_zones() {
        let p = plugin(
            vec![claim("data", "pv-a", "")],
            vec![volume(
                "pv-a",
                json!({"topology.kubernetes.io/zone": "z1__z2", "topology.kubernetes.io/region": "r"}),
            )],
            vec![],
        );
        let pod = using(&["data"]);
        let at = |zone: &str, region: &str| {
            zoned(
                json!({"topology.kubernetes.io/zone": zone, "topology.kubernetes.io/region": region}),
            )
        };
        assert_eq!(filter(&p, &pod, &at("z2", "r")), Ok(()));
        assert_eq!(filter(&p, &pod, &at("z3", "r")), Err(REASON.to_string()));
        assert_eq!(
            filter(&p, &pod, &at("z1", "other")),
            Err(REASON.to_string())
        );
        // A node with no zone or region label at all fits anything.
        assert_eq!(filter(&p, &pod, &zoned(json!({"disk": "ssd"}))), Ok(()));
        // A node with a zone but no region label does not fit a volume that names both.
        assert_eq!(
            filter(
                &p,
                &pod,
                &zoned(json!({"topology.kubernetes.io/zone": "z1"}))
            ),
            Err(REASON.to_string())
        );
    }

    #[test]
    fn volume_zone_matches_a_beta_labelled_volume_to_a_ga_labelled_node() {
        let p = plugin(
            vec![claim("data", "pv-a", "")],
            vec![volume(
                "pv-a",
                json!({"failure-domain.beta.kubernetes.io/zone": "z1"}),
            )],
            vec![],
        );
        let pod = using(&["data"]);
        assert_eq!(
            filter(
                &p,
                &pod,
                &zoned(json!({"topology.kubernetes.io/zone": "z1"}))
            ),
            Ok(())
        );
        assert_eq!(
            filter(
                &p,
                &pod,
                &zoned(json!({"topology.kubernetes.io/zone": "z2"}))
            ),
            Err(REASON.to_string())
        );
    }

    #[test]
    fn volume_zone_skips_unlabelled_volumes_and_wait_for_first_consumer_claims_only() {
        let classes = vec![
            json!({"metadata": {"name": "late"}, "provisioner": "p", "volumeBindingMode": "WaitForFirstConsumer"}),
            json!({"metadata": {"name": "now"}, "provisioner": "p", "volumeBindingMode": "Immediate"}),
        ];
        let p = plugin(
            vec![
                claim("plain", "pv-plain", ""),
                claim("late", "", "late"),
                claim("now", "", "now"),
                claim("none", "", ""),
            ],
            vec![volume("pv-plain", json!({}))],
            classes,
        );
        let n = zoned(json!({"topology.kubernetes.io/zone": "z1"}));
        for skipped in ["plain", "late"] {
            let pre = p.pre_filter(&using(&[skipped]), &Snapshot::default());
            assert!(pre.is_ok_and(|p| p.skip), "{skipped}");
        }
        assert_eq!(
            filter(&p, &using(&["now"]), &n),
            Err("PersistentVolume had no name".to_string())
        );
        assert_eq!(
            filter(&p, &using(&["none"]), &n),
            Err("PersistentVolumeClaim had no pv name and storageClass name".to_string())
        );
        assert_eq!(
            filter(&p, &using(&["gone"]), &n),
            Err("persistentvolumeclaim \"gone\" not found".to_string())
        );
    }
}
