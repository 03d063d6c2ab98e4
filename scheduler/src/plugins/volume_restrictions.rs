//! VolumeRestrictions: a disk that only one node may mount read-write (GCE PD, AWS EBS, iSCSI,
//! RBD) cannot be mounted by a second pod on the same node unless both mount it read-only
//! (EBS never), and a ReadWriteOncePod claim in use by any pod keeps every other pod that
//! names it out. Upstream's `volumerestrictions` plugin, with its messages.

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use capstan_controllers::informers::Informers;
use k8s_openapi::api::core::v1::Volume;
use kube::runtime::reflector::ObjectRef;

use crate::framework::{state_of, Plugin, PluginState, Points, PreFiltered, Status};
use crate::node_info::NodeInfo;
use crate::plugins::volume_binding::{attached, named_claims, slot_with, Listers};
use crate::pod_info::PodInfo;
use crate::snapshot::Snapshot;

pub const NAME: &str = "VolumeRestrictions";
/// Upstream's `ErrReasonDiskConflict`.
pub const DISK_CONFLICT: &str = "node(s) had no available disk";
/// Upstream's `ErrReasonReadWriteOncePodConflict`.
pub const READ_WRITE_ONCE_POD_CONFLICT: &str =
    "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode";

#[derive(Default)]
pub struct VolumeRestrictions {
    listers: OnceLock<Listers>,
}

/// PreFilter's state: the pod's ReadWriteOncePod claims (`namespace/name`) and how many pods
/// already use them.
#[derive(Clone)]
struct OncePodClaims {
    claims: Arc<BTreeSet<String>>,
    users: i64,
}

impl VolumeRestrictions {
    pub fn with_listers(listers: Listers) -> VolumeRestrictions {
        VolumeRestrictions {
            listers: slot_with(listers),
        }
    }

    /// The pod's claims whose access modes include ReadWriteOncePod.
    fn once_pod_claims(&self, pod: &PodInfo) -> Result<BTreeSet<String>, Status> {
        let mut out = BTreeSet::new();
        let names: Vec<&str> = named_claims(pod).collect();
        if names.is_empty() {
            return Ok(out);
        }
        let l = attached(&self.listers, NAME)?;
        for name in names {
            let Some(c) = l.claims.get(&ObjectRef::new(name).within(&pod.namespace)) else {
                return Err(Status::unresolvable(
                    NAME,
                    format!("persistentvolumeclaim {name:?} not found"),
                ));
            };
            let once = c
                .spec
                .as_ref()
                .and_then(|s| s.access_modes.as_ref())
                .is_some_and(|m| m.iter().any(|m| m == "ReadWriteOncePod"));
            if once {
                out.insert(format!("{}/{name}", pod.namespace));
            }
        }
        Ok(out)
    }
}

fn volumes(pod: &PodInfo) -> impl Iterator<Item = &Volume> {
    pod.spec()
        .and_then(|s| s.volumes.as_deref())
        .unwrap_or(&[])
        .iter()
}

/// How many of `pod`'s volumes name one of `claims`.
fn uses(pod: &PodInfo, claims: &BTreeSet<String>) -> i64 {
    named_claims(pod)
        .filter(|n| claims.contains(&format!("{}/{n}", pod.namespace)))
        .count() as i64
}

/// Whether the pod mounts a disk this plugin restricts.
fn has_restricted_disk(pod: &PodInfo) -> bool {
    volumes(pod).any(|v| {
        v.gce_persistent_disk.is_some()
            || v.aws_elastic_block_store.is_some()
            || v.rbd.is_some()
            || v.iscsi.is_some()
    })
}

/// Whether `v` and `existing` are the same disk mounted in a way two pods cannot share
/// (upstream's `isVolumeConflict`).
fn conflicts(v: &Volume, existing: &Volume) -> bool {
    if let (Some(a), Some(b)) = (&v.gce_persistent_disk, &existing.gce_persistent_disk) {
        if a.pd_name == b.pd_name && !(a.read_only == Some(true) && b.read_only == Some(true)) {
            return true;
        }
    }
    if let (Some(a), Some(b)) = (
        &v.aws_elastic_block_store,
        &existing.aws_elastic_block_store,
    ) {
        if a.volume_id == b.volume_id {
            return true;
        }
    }
    if let (Some(a), Some(b)) = (&v.iscsi, &existing.iscsi) {
        if a.iqn == b.iqn && !(a.read_only == Some(true) && b.read_only == Some(true)) {
            return true;
        }
    }
    if let (Some(a), Some(b)) = (&v.rbd, &existing.rbd) {
        let shared_monitor = a.monitors.iter().any(|m| b.monitors.contains(m));
        if shared_monitor
            && a.pool == b.pool
            && a.image == b.image
            && !(a.read_only == Some(true) && b.read_only == Some(true))
        {
            return true;
        }
    }
    false
}

impl Plugin for VolumeRestrictions {
    fn name(&self) -> &'static str {
        NAME
    }

    fn points(&self) -> Points {
        Points::FILTER.with_pre_filter()
    }

    fn attach(&self, informers: &Informers) {
        let _ = self.listers.set(Listers::from_informers(informers));
    }

    fn pre_filter(&self, pod: &PodInfo, snapshot: &Snapshot) -> Result<PreFiltered, Status> {
        let claims = self.once_pod_claims(pod)?;
        if claims.is_empty() {
            return Ok(if has_restricted_disk(pod) {
                PreFiltered::default()
            } else {
                PreFiltered::skip()
            });
        }
        let users = snapshot
            .nodes
            .iter()
            .flat_map(|n| n.pods.iter())
            .filter(|p| p.uid != pod.uid)
            .map(|p| uses(p, &claims))
            .sum();
        Ok(PreFiltered::with_state(OncePodClaims {
            claims: Arc::new(claims),
            users,
        }))
    }

    fn add_pod(
        &self,
        state: &mut dyn PluginState,
        pod: &PodInfo,
        added: &Arc<PodInfo>,
        _node: &NodeInfo,
    ) {
        if let Some(s) = state.as_any_mut().downcast_mut::<OncePodClaims>() {
            if added.uid != pod.uid {
                s.users += uses(added, &s.claims);
            }
        }
    }

    fn remove_pod(
        &self,
        state: &mut dyn PluginState,
        pod: &PodInfo,
        removed: &Arc<PodInfo>,
        _node: &NodeInfo,
    ) {
        if let Some(s) = state.as_any_mut().downcast_mut::<OncePodClaims>() {
            if removed.uid != pod.uid {
                s.users -= uses(removed, &s.claims);
            }
        }
    }

    fn filter(
        &self,
        state: Option<&dyn PluginState>,
        pod: &PodInfo,
        node: &NodeInfo,
    ) -> Result<(), Status> {
        if has_restricted_disk(pod) {
            let taken = volumes(pod).any(|v| {
                node.pods
                    .iter()
                    .any(|p| p.uid != pod.uid && volumes(p).any(|e| conflicts(v, e)))
            });
            if taken {
                return Err(Status::unschedulable(NAME, DISK_CONFLICT));
            }
        }
        if state_of::<OncePodClaims>(state).is_some_and(|s| s.users > 0) {
            return Err(Status::unschedulable(NAME, READ_WRITE_ONCE_POD_CONFLICT));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testing::{node, pod, volume_listers};
    use serde_json::{json, Value};

    fn plugin(claims: Vec<Value>) -> VolumeRestrictions {
        VolumeRestrictions::with_listers(volume_listers(claims, Vec::new(), Vec::new()))
    }

    fn with_volumes(uid: &str, volumes: Value) -> std::sync::Arc<PodInfo> {
        pod(
            json!({"metadata": {"name": uid, "uid": uid}, "spec": {"nodeName": "n", "volumes": volumes}}),
        )
    }

    fn run(p: &VolumeRestrictions, pod: &PodInfo, n: &NodeInfo) -> Result<(), String> {
        let snapshot = Snapshot::new(vec![Arc::new(n.clone())]);
        let pre = p.pre_filter(pod, &snapshot).map_err(|s| s.message())?;
        if pre.skip {
            return Ok(());
        }
        p.filter(pre.state.as_deref(), pod, n)
            .map_err(|s| s.message())
    }

    #[test]
    fn volume_restrictions_refuse_a_disk_mounted_read_write_on_the_node() {
        let p = plugin(Vec::new());
        let gce = |uid: &str, ro: bool| {
            with_volumes(
                uid,
                json!([{"name": "d", "gcePersistentDisk": {"pdName": "disk-1", "readOnly": ro}}]),
            )
        };
        let mut n = node(json!({"metadata": {"name": "n"}}));
        n.add_pod(gce("old", true));
        assert_eq!(run(&p, &gce("new", true), &n), Ok(()), "both read-only");
        assert_eq!(
            run(&p, &gce("new", false), &n),
            Err(DISK_CONFLICT.to_string())
        );
        let ebs = |uid: &str| {
            with_volumes(
                uid,
                json!([{"name": "d", "awsElasticBlockStore": {"volumeID": "vol-1", "readOnly": true}}]),
            )
        };
        n.add_pod(ebs("old-ebs"));
        assert_eq!(
            run(&p, &ebs("new-ebs"), &n),
            Err(DISK_CONFLICT.to_string()),
            "EBS never shares"
        );
        let rbd = |uid: &str, mons: Value, image: &str| {
            with_volumes(
                uid,
                json!([{"name": "d", "rbd": {"monitors": mons, "pool": "rbd", "image": image}}]),
            )
        };
        n.add_pod(rbd("old-rbd", json!(["m1", "m2"]), "img"));
        assert_eq!(
            run(&p, &rbd("a", json!(["m2"]), "img"), &n),
            Err(DISK_CONFLICT.to_string())
        );
        assert_eq!(
            run(&p, &rbd("b", json!(["m3"]), "img"), &n),
            Ok(()),
            "no shared monitor"
        );
        assert_eq!(run(&p, &rbd("c", json!(["m1"]), "other"), &n), Ok(()));
        // A pod with none of these disks is not looked at.
        let plain = pod(json!({"spec": {"containers": [{"name": "c"}]}}));
        assert!(p
            .pre_filter(&plain, &Snapshot::default())
            .is_ok_and(|p| p.skip));
    }

    #[test]
    fn volume_restrictions_keep_a_read_write_once_pod_claim_to_one_pod() {
        let p = plugin(vec![
            json!({"metadata": {"name": "once", "namespace": "default"},
                   "spec": {"accessModes": ["ReadWriteOncePod"]}}),
            json!({"metadata": {"name": "shared", "namespace": "default"},
                   "spec": {"accessModes": ["ReadWriteOnce"]}}),
        ]);
        let claim = |uid: &str, name: &str| {
            with_volumes(
                uid,
                json!([{"name": "v", "persistentVolumeClaim": {"claimName": name}}]),
            )
        };
        let mut n = node(json!({"metadata": {"name": "n"}}));
        assert_eq!(run(&p, &claim("first", "once"), &n), Ok(()));
        n.add_pod(claim("first", "once"));
        n.add_pod(claim("other", "shared"));
        assert_eq!(
            run(&p, &claim("second", "once"), &n),
            Err(READ_WRITE_ONCE_POD_CONFLICT.to_string())
        );
        assert_eq!(run(&p, &claim("second", "shared"), &n), Ok(()));
        // The holder removed (a preemption victim): the claim is free.
        let second = claim("second", "once");
        let snapshot = Snapshot::new(vec![Arc::new(n.clone())]);
        let mut pre = p.pre_filter(&second, &snapshot).unwrap();
        let state = pre.state.as_deref_mut().unwrap();
        p.remove_pod(state, &second, &claim("first", "once"), &n);
        assert!(p.filter(pre.state.as_deref(), &second, &n).is_ok());
    }
}
