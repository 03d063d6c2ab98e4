//! VolumeBinding (kube-scheduler 1.33's `volumebinding` plugin): a pod's PersistentVolumeClaims
//! decide where it may run, and claims of a WaitForFirstConsumer class are bound for the node
//! chosen.
//! - PreFilter: every claim the pod names (`persistentVolumeClaim` volumes, and the
//!   `<pod>-<volume>` claims of ephemeral volumes) must exist, not be Lost or being deleted, and
//!   an ephemeral one must be the pod's own; an unbound claim whose class binds immediately
//!   (or a claim naming its volume) refuses the pod until the PV controller binds it. A pod
//!   without claims leaves the plugin at once.
//! - Filter: a bound claim's volume must exist and its node affinity match the node; each
//!   unbound WaitForFirstConsumer claim takes the smallest Available volume of its class that
//!   is large enough, has its access modes and volume mode and whose node affinity matches,
//!   or else its class must provision (a provisioner, not `kubernetes.io/no-provisioner`,
//!   and `allowedTopologies` matching the node); a claim already given a node
//!   (`volume.kubernetes.io/selected-node`) fits that node only.
//! - Reserve: the chosen volumes are assumed bound to their claims (the volume's `claimRef`)
//!   and the claims to provision assumed annotated with the node, so the next cycles do not
//!   hand the same volume to another claim (upstream's assume cache: an assumed object stands
//!   in for the informer's until the informer has a newer version of it).
//! - PreBind: the volumes' `claimRef` and the claims' `selected-node` are written (updates
//!   guarded by the resourceVersion they were decided on), then the plugin waits, checking
//!   every second for up to `bindTimeoutSeconds` (600), until the PV controller and the
//!   provisioner have bound every claim (`volumeName` and `pv.kubernetes.io/bind-completed`)
//!   to a volume whose node affinity matches the node; a reset claimRef or selected-node, the
//!   pod gone, or the timeout fails the binding and the pod goes back to the queue.
//!
//! CSI migration, CSIStorageCapacity and the (off by default) capacity score are out of scope:
//! capstan has no CSI drivers.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use capstan_controllers::informers::Informers;
use capstan_controllers::node_matching::term_matches;
use capstan_controllers::persistentvolume_binder::matching::{
    capacity_bytes, claim_class, is_bound_to, requested_bytes, volume_class, volume_mode_mismatch,
};
use capstan_controllers::persistentvolume_binder::{ANN_BIND_COMPLETED, ANN_SELECTED_NODE};
use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod, PodSpec};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, PostParams};
use kube::core::{Selector, SelectorExt};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::ResourceExt;
use serde::Deserialize;

use crate::config::ConfigError;
use crate::framework::{
    state_of, Code, Plugin, PluginState, Points, PreBindFuture, PreFiltered, Status,
};
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;
use crate::snapshot::Snapshot;

pub const NAME: &str = "VolumeBinding";
/// Upstream's `ErrReasonBindConflict`.
pub const BIND_CONFLICT: &str = "node(s) didn't find available persistent volumes to bind";
/// Upstream's `ErrReasonNodeConflict`.
pub const NODE_CONFLICT: &str = "node(s) had volume node affinity conflict";
/// Upstream's `ErrReasonPVNotExist`.
pub const PV_NOT_EXIST: &str =
    "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)";
pub const UNBOUND_IMMEDIATE: &str = "pod has unbound immediate PersistentVolumeClaims";
/// The provisioner a class names when it cannot provision.
pub const NO_PROVISIONER: &str = "kubernetes.io/no-provisioner";
/// `VolumeBindingArgs.bindTimeoutSeconds`' default.
pub const DEFAULT_BIND_TIMEOUT: Duration = Duration::from_secs(600);
/// How often PreBind looks whether the claims are bound.
const POLL: Duration = Duration::from_secs(1);

/// The caches the plugin reads (the run's shared informers).
#[derive(Clone)]
pub struct Listers {
    pub claims: Store<PersistentVolumeClaim>,
    pub volumes: Store<PersistentVolume>,
    pub classes: Store<StorageClass>,
    pub nodes: Store<Node>,
    pub pods: Store<Pod>,
}

/// The caches a volume plugin attached (`Plugin::attach`), or the error a cycle gets when it
/// runs before they were.
pub fn attached<'a>(
    slot: &'a OnceLock<Listers>,
    plugin: &'static str,
) -> Result<&'a Listers, Status> {
    slot.get()
        .ok_or_else(|| Status::error(plugin, format!("{plugin} has no informers")))
}

/// A slot already holding `listers` (tests; the scheduler attaches its informers instead).
pub fn slot_with(listers: Listers) -> OnceLock<Listers> {
    let slot = OnceLock::new();
    let _ = slot.set(listers);
    slot
}

/// The claims the pod's `persistentVolumeClaim` volumes name (not its ephemeral ones).
pub fn named_claims(pod: &PodInfo) -> impl Iterator<Item = &str> {
    pod.spec()
        .and_then(|s| s.volumes.as_deref())
        .unwrap_or(&[])
        .iter()
        .filter_map(|v| {
            v.persistent_volume_claim
                .as_ref()
                .map(|c| c.claim_name.as_str())
        })
}

impl Listers {
    pub fn from_informers(i: &Informers) -> Listers {
        Listers {
            claims: i.get::<PersistentVolumeClaim>().store().clone(),
            volumes: i.get::<PersistentVolume>().store().clone(),
            classes: i.get::<StorageClass>().store().clone(),
            nodes: i.get::<Node>().store().clone(),
            pods: i.get::<Pod>().store().clone(),
        }
    }
}

/// What a pod's volumes need on one node: volumes to bind to claims, claims to provision.
#[derive(Clone, Debug, Default)]
pub struct PodVolumes {
    /// (the volume as it will be written — bound to the claim —, the claim).
    pub static_bindings: Vec<(Arc<PersistentVolume>, Arc<PersistentVolumeClaim>)>,
    /// The claims as they will be written (annotated with the node).
    pub provisions: Vec<Arc<PersistentVolumeClaim>>,
}

/// Objects assumed in Reserve, each with the resourceVersion it was assumed on: it stands in
/// for the informer's object as long as the informer still has that version.
#[derive(Default)]
struct Assumed {
    volumes: HashMap<String, (Option<String>, Arc<PersistentVolume>)>,
    claims: HashMap<String, (Option<String>, Arc<PersistentVolumeClaim>)>,
    /// The reserved pods' volumes, by pod uid, for PreBind.
    pods: HashMap<String, Arc<PodVolumes>>,
}

struct Inner {
    listers: OnceLock<Listers>,
    bind_timeout: Duration,
    assumed: Mutex<Assumed>,
}

pub struct VolumeBinding {
    inner: Arc<Inner>,
}

impl Default for VolumeBinding {
    fn default() -> Self {
        VolumeBinding::new(DEFAULT_BIND_TIMEOUT)
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Args {
    #[serde(default)]
    bind_timeout_seconds: Option<i64>,
    #[serde(default)]
    shape: Option<serde_json::Value>,
    #[serde(default, rename = "apiVersion")]
    _api_version: Option<String>,
    #[serde(default, rename = "kind")]
    _kind: Option<String>,
}

impl VolumeBinding {
    pub fn new(bind_timeout: Duration) -> VolumeBinding {
        VolumeBinding {
            inner: Arc::new(Inner {
                listers: OnceLock::new(),
                bind_timeout,
                assumed: Mutex::new(Assumed::default()),
            }),
        }
    }

    /// With caches already at hand (tests; the scheduler attaches its informers instead).
    pub fn with_listers(bind_timeout: Duration, listers: Listers) -> VolumeBinding {
        VolumeBinding {
            inner: Arc::new(Inner {
                listers: slot_with(listers),
                bind_timeout,
                assumed: Mutex::new(Assumed::default()),
            }),
        }
    }

    /// From `pluginConfig` (`VolumeBindingArgs`), with upstream's default and validation
    /// (`shape` belongs to the StorageCapacityScoring gate, off in 1.33).
    pub fn from_args(args: Option<&serde_json::Value>) -> Result<VolumeBinding, ConfigError> {
        let a: Args = match args {
            None | Some(serde_json::Value::Null) => Args::default(),
            Some(v) => serde_json::from_value(v.clone())
                .map_err(|e| ConfigError::Invalid(format!("decoding {NAME} args: {e}")))?,
        };
        let secs = a
            .bind_timeout_seconds
            .unwrap_or(DEFAULT_BIND_TIMEOUT.as_secs() as i64);
        if secs < 0 {
            return Err(ConfigError::Invalid(format!(
                "bindTimeoutSeconds: Invalid value: {secs}: invalid BindTimeoutSeconds, should not be a negative value"
            )));
        }
        if let Some(shape) = a.shape.filter(|s| !s.is_null()) {
            return Err(ConfigError::Invalid(format!(
                "shape: Invalid value: {shape}: unexpected field `shape`, remove it or turn on the feature gate StorageCapacityScoring"
            )));
        }
        Ok(VolumeBinding::new(Duration::from_secs(secs.unsigned_abs())))
    }

    pub fn bind_timeout(&self) -> Duration {
        self.inner.bind_timeout
    }
}

impl Inner {
    fn assumed(&self) -> MutexGuard<'_, Assumed> {
        self.assumed.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Drops what Reserve assumed for the pod (upstream's `RevertAssumedPodVolumes`).
    fn forget(&self, uid: &str) {
        let mut a = self.assumed();
        let Some(v) = a.pods.remove(uid) else {
            return;
        };
        for (pv, _) in &v.static_bindings {
            a.volumes.remove(&pv.name_any());
        }
        for c in &v.provisions {
            a.claims.remove(&claim_key(c));
        }
    }
}

fn claim_key(c: &PersistentVolumeClaim) -> String {
    format!("{}/{}", c.namespace().unwrap_or_default(), c.name_any())
}

/// The claims a pod's volumes name: (claim name, whether it is an ephemeral volume's).
fn claim_names(pod: &PodInfo, spec: &PodSpec) -> Vec<(String, bool)> {
    spec.volumes
        .iter()
        .flatten()
        .filter_map(|v| {
            if let Some(c) = &v.persistent_volume_claim {
                Some((c.claim_name.clone(), false))
            } else if v.ephemeral.is_some() {
                Some((format!("{}-{}", pod.name, v.name), true))
            } else {
                None
            }
        })
        .collect()
}

/// Whether the pod names any claim (the cheap test every pod goes through).
fn has_claims(pod: &PodInfo) -> bool {
    pod.spec()
        .and_then(|s| s.volumes.as_deref())
        .is_some_and(|vs| {
            vs.iter()
                .any(|v| v.persistent_volume_claim.is_some() || v.ephemeral.is_some())
        })
}

/// `volumeName` set and the PV controller's `bind-completed` annotation.
fn fully_bound(c: &PersistentVolumeClaim) -> bool {
    c.spec
        .as_ref()
        .and_then(|s| s.volume_name.as_deref())
        .is_some_and(|v| !v.is_empty())
        && c.annotations().contains_key(ANN_BIND_COMPLETED)
}

pub(crate) fn volume_name(c: &PersistentVolumeClaim) -> &str {
    c.spec
        .as_ref()
        .and_then(|s| s.volume_name.as_deref())
        .unwrap_or_default()
}

/// Whether the volume's required node affinity matches the node's labels (upstream's
/// `CheckNodeAffinity`, which matches a node made of the labels alone).
pub fn volume_fits_node(
    pv: &PersistentVolume,
    labels: &std::collections::BTreeMap<String, String>,
) -> bool {
    let Some(required) = pv
        .spec
        .as_ref()
        .and_then(|s| s.node_affinity.as_ref())
        .and_then(|a| a.required.as_ref())
    else {
        return true;
    };
    required
        .node_selector_terms
        .iter()
        .any(|t| term_matches(t, labels, ""))
}

/// Whether the class's `allowedTopologies` admit the node (none: every node).
fn topology_allows(
    class: &StorageClass,
    labels: &std::collections::BTreeMap<String, String>,
) -> bool {
    let terms = class.allowed_topologies.as_deref().unwrap_or_default();
    if terms.is_empty() {
        return true;
    }
    terms.iter().any(|t| {
        let reqs = t.match_label_expressions.as_deref().unwrap_or_default();
        !reqs.is_empty()
            && reqs.iter().all(|r| {
                !r.values.is_empty() && labels.get(&r.key).is_some_and(|v| r.values.contains(v))
            })
    })
}

/// Whether the volume has every access mode the claim asks for.
fn has_access_modes(claim: &PersistentVolumeClaim, pv: &PersistentVolume) -> bool {
    let has = pv
        .spec
        .as_ref()
        .and_then(|s| s.access_modes.as_deref())
        .unwrap_or_default();
    claim
        .spec
        .as_ref()
        .and_then(|s| s.access_modes.as_deref())
        .unwrap_or_default()
        .iter()
        .all(|m| has.contains(m))
}

/// The volume bound to the claim (its claimRef, and `bound-by-controller` unless the user had
/// pre-bound it), and whether that changed anything (upstream's `GetBindVolumeToClaim`).
fn bind_volume_to_claim(
    pv: &PersistentVolume,
    claim: &PersistentVolumeClaim,
) -> (PersistentVolume, bool) {
    capstan_controllers::persistentvolume_binder::matching::volume_bound_to_claim(pv, claim)
}

/// A pod's claims as PreFilter sorts them, with what Filter reads for each node.
#[derive(Debug, Default)]
pub struct PodClaims {
    /// Each bound claim's volume (`None`: it does not exist).
    pub bound: Vec<(String, Option<Arc<PersistentVolume>>)>,
    /// Unbound claims of WaitForFirstConsumer classes, the smallest request first.
    pub delayed: Vec<Arc<PersistentVolumeClaim>>,
    /// The volumes of the delayed claims' classes (by class; assumed versions included).
    pub volumes: HashMap<String, Vec<Arc<PersistentVolume>>>,
    /// The delayed claims' classes (`None`: gone).
    pub classes: HashMap<String, Option<Arc<StorageClass>>>,
}

/// PreFilter's state: the pod's claims, shared by every node's Filter.
#[derive(Clone)]
struct ClaimsState(Arc<PodClaims>);

/// Why the pod does not fit the node, or the volumes it needs there.
enum Found {
    Fits(PodVolumes),
    Refused(Vec<String>),
}

impl Inner {
    fn listers(&self) -> Result<&Listers, Status> {
        attached(&self.listers, NAME)
    }

    /// The claim as the plugin sees it: an assumed version while the informer has not moved on.
    fn claim(&self, l: &Listers, ns: &str, name: &str) -> Option<Arc<PersistentVolumeClaim>> {
        let c = l.claims.get(&ObjectRef::new(name).within(ns))?;
        let a = self.assumed();
        match a.claims.get(&format!("{ns}/{name}")) {
            Some((rv, assumed)) if *rv == c.resource_version() => Some(assumed.clone()),
            _ => Some(c),
        }
    }

    fn volume(&self, l: &Listers, name: &str) -> Option<Arc<PersistentVolume>> {
        let v = l.volumes.get(&ObjectRef::new(name))?;
        let a = self.assumed();
        match a.volumes.get(name) {
            Some((rv, assumed)) if *rv == v.resource_version() => Some(assumed.clone()),
            _ => Some(v),
        }
    }

    /// Upstream's `podHasPVCs` and `GetPodVolumeClaims`: the pod's claims sorted into bound
    /// and delayed, or why the pod cannot be scheduled at all. `None`: no claims.
    fn pod_claims(&self, pod: &PodInfo) -> Result<Option<PodClaims>, Status> {
        let Some(spec) = pod.spec() else {
            return Ok(None);
        };
        let names = claim_names(pod, spec);
        if names.is_empty() {
            return Ok(None);
        }
        let l = self.listers()?;
        let mut claims = Vec::with_capacity(names.len());
        for (name, ephemeral) in names {
            let Some(c) = l.claims.get(&ObjectRef::new(&name).within(&pod.namespace)) else {
                let why = if ephemeral {
                    format!(
                        "waiting for ephemeral volume controller to create the persistentvolumeclaim {name:?}"
                    )
                } else {
                    format!("persistentvolumeclaim {name:?} not found")
                };
                return Err(Status::unresolvable(NAME, why));
            };
            let phase = c.status.as_ref().and_then(|s| s.phase.as_deref());
            if phase == Some("Lost") {
                return Err(Status::unresolvable(
                    NAME,
                    format!(
                        "persistentvolumeclaim {name:?} bound to non-existent persistentvolume {:?}",
                        volume_name(&c)
                    ),
                ));
            }
            if c.metadata.deletion_timestamp.is_some() {
                return Err(Status::unresolvable(
                    NAME,
                    format!("persistentvolumeclaim {name:?} is being deleted"),
                ));
            }
            if ephemeral && !owned_by(&c, pod) {
                return Err(Status::unresolvable(
                    NAME,
                    format!(
                        "PVC {}/{name} was not created for pod {}/{} (pod is not owner)",
                        pod.namespace, pod.namespace, pod.name
                    ),
                ));
            }
            claims.push(name);
        }
        let mut out = PodClaims::default();
        let mut immediate = false;
        for name in claims {
            let Some(c) = self.claim(l, &pod.namespace, &name) else {
                return Err(Status::error(
                    NAME,
                    format!(
                        "error getting PVC \"{0}/{name}\": could not find v1.PersistentVolumeClaim \"{0}/{name}\"",
                        pod.namespace
                    ),
                ));
            };
            if fully_bound(&c) {
                let pv = self.volume(l, volume_name(&c));
                out.bound.push((volume_name(&c).to_string(), pv));
                continue;
            }
            let class = claim_class(&c);
            let delayed = if class.is_empty() {
                false
            } else {
                match l.classes.get(&ObjectRef::new(&class)) {
                    None => false,
                    Some(sc) => match sc.volume_binding_mode.as_deref() {
                        None => {
                            return Err(Status::error(
                                NAME,
                                format!("VolumeBindingMode not set for StorageClass {class:?}"),
                            ))
                        }
                        Some(mode) => mode == "WaitForFirstConsumer",
                    },
                }
            };
            if delayed && volume_name(&c).is_empty() {
                out.classes
                    .entry(class.clone())
                    .or_insert_with(|| l.classes.get(&ObjectRef::new(&class)));
                out.delayed.push(c);
            } else {
                immediate = true;
            }
        }
        if immediate {
            return Err(Status::unresolvable(NAME, UNBOUND_IMMEDIATE));
        }
        if !out.delayed.is_empty() {
            out.delayed
                .sort_by(|a, b| requested_bytes(a).total_cmp(&requested_bytes(b)));
            let wanted: HashSet<&String> = out.classes.keys().collect();
            let mut by_class: HashMap<String, Vec<Arc<PersistentVolume>>> = HashMap::new();
            let a = self.assumed();
            for v in l.volumes.state() {
                let class = volume_class(&v);
                if !wanted.contains(&class) {
                    continue;
                }
                let v = match a.volumes.get(&v.name_any()) {
                    Some((rv, assumed)) if *rv == v.resource_version() => assumed.clone(),
                    _ => v,
                };
                by_class.entry(class).or_default().push(v);
            }
            for vs in by_class.values_mut() {
                vs.sort_by_key(|v| v.name_any());
            }
            out.volumes = by_class;
        }
        Ok(Some(out))
    }
}

/// Whether the pod controls the claim (an ephemeral volume's claim is the pod's own).
fn owned_by(c: &PersistentVolumeClaim, pod: &PodInfo) -> bool {
    c.namespace().as_deref() == Some(pod.namespace.as_str())
        && c.owner_references()
            .iter()
            .any(|o| o.controller == Some(true) && o.uid == pod.uid)
}

/// The smallest volume of `candidates` the claim may take on a node with `labels` (upstream's
/// `FindMatchingVolume` on the scheduler's path); a volume pre-bound to the claim wins, or
/// nothing when its node affinity does not match.
fn matching_volume<'a>(
    claim: &PersistentVolumeClaim,
    candidates: &'a [Arc<PersistentVolume>],
    labels: &std::collections::BTreeMap<String, String>,
    excluded: &HashSet<String>,
) -> Result<Option<&'a Arc<PersistentVolume>>, Status> {
    let selector = match claim.spec.as_ref().and_then(|s| s.selector.clone()) {
        None => None,
        Some(s) => Some(Selector::try_from(s).map_err(|e| {
            Status::error(
                NAME,
                format!(
                    "error creating internal label selector for claim: {}: {e}",
                    claim_key(claim)
                ),
            )
        })?),
    };
    let request = requested_bytes(claim);
    let class = claim_class(claim);
    let mut smallest: Option<(&Arc<PersistentVolume>, f64)> = None;
    for v in candidates {
        if excluded.contains(&v.name_any()) {
            continue;
        }
        let claimed = v.spec.as_ref().and_then(|s| s.claim_ref.as_ref()).is_some();
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
        let fits = volume_fits_node(v, labels);
        if is_bound_to(v, claim) {
            return Ok(fits.then_some(v));
        }
        let available = v.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Available");
        if !available
            || selector.as_ref().is_some_and(|s| !s.matches(v.labels()))
            || volume_class(v) != class
            || !fits
            || !has_access_modes(claim, v)
        {
            continue;
        }
        if smallest.is_none_or(|(_, q)| q > size) {
            smallest = Some((v, size));
        }
    }
    Ok(smallest.map(|(v, _)| v))
}

/// Upstream's `FindPodVolumes` for one node: the volumes the pod would bind there, or the
/// reasons it cannot run there.
fn find_pod_volumes(
    claims: &PodClaims,
    node: &str,
    labels: &std::collections::BTreeMap<String, String>,
) -> Result<Found, Status> {
    let (mut bound_ok, mut pvs_found, mut unbound_ok) = (true, true, true);
    for (_, pv) in &claims.bound {
        match pv {
            None => {
                pvs_found = false;
                break;
            }
            Some(pv) if !volume_fits_node(pv, labels) => {
                bound_ok = false;
                break;
            }
            Some(_) => {}
        }
    }
    let mut volumes = PodVolumes::default();
    'unbound: {
        if claims.delayed.is_empty() {
            break 'unbound;
        }
        let mut to_match = Vec::new();
        let mut to_provision = Vec::new();
        for c in &claims.delayed {
            match c.annotations().get(ANN_SELECTED_NODE) {
                Some(n) if n != node => {
                    unbound_ok = false;
                    break 'unbound;
                }
                Some(_) => to_provision.push(c.clone()),
                None => to_match.push(c.clone()),
            }
        }
        if !to_match.is_empty() {
            let mut chosen = HashSet::new();
            for c in to_match {
                let candidates = claims
                    .volumes
                    .get(&claim_class(&c))
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                match matching_volume(&c, candidates, labels, &chosen)? {
                    Some(pv) => {
                        chosen.insert(pv.name_any());
                        volumes.static_bindings.push((pv.clone(), c));
                    }
                    None => {
                        unbound_ok = false;
                        to_provision.push(c);
                    }
                }
            }
        }
        if !to_provision.is_empty() {
            unbound_ok = true;
            for c in to_provision {
                let class = claim_class(&c);
                if class.is_empty() {
                    return Err(Status::error(
                        NAME,
                        format!("no class for claim {:?}", claim_key(&c)),
                    ));
                }
                let Some(sc) = claims.classes.get(&class).cloned().flatten() else {
                    return Err(Status::error(
                        NAME,
                        format!("failed to find storage class {class:?}"),
                    ));
                };
                if sc.provisioner.is_empty()
                    || sc.provisioner == NO_PROVISIONER
                    || !topology_allows(&sc, labels)
                {
                    unbound_ok = false;
                    volumes.provisions.clear();
                    break 'unbound;
                }
                volumes.provisions.push(c);
            }
        }
    }
    let mut reasons = Vec::new();
    if !bound_ok {
        reasons.push(NODE_CONFLICT.to_string());
    }
    if !unbound_ok {
        reasons.push(BIND_CONFLICT.to_string());
    }
    if !pvs_found {
        reasons.push(PV_NOT_EXIST.to_string());
    }
    Ok(if reasons.is_empty() {
        Found::Fits(volumes)
    } else {
        Found::Refused(reasons)
    })
}

/// Parses a resourceVersion as upstream's versioner does (not a number: unknown).
fn version(rv: Option<&String>) -> Option<u64> {
    rv.and_then(|v| v.parse().ok())
}

/// Whether `written` is newer than what the informer holds (then the informer lags).
fn informer_lags(written: Option<&String>, informer: Option<&String>) -> bool {
    matches!((version(written), version(informer)), (Some(w), Some(i)) if w > i)
}

/// Upstream's `checkBindings`: whether every claim the pod's PreBind wrote for is bound, or
/// why the binding must be given up (and the pod scheduled again).
pub fn check_bindings(
    l: &Listers,
    pod: &PodInfo,
    node: &str,
    bindings: &[(Arc<PersistentVolume>, Arc<PersistentVolumeClaim>)],
    provisions: &[Arc<PersistentVolumeClaim>],
) -> Result<bool, String> {
    let Some(n) = l.nodes.get(&ObjectRef::new(node)) else {
        return Err(format!(
            "failed to get node {node:?}: node {node:?} not found"
        ));
    };
    let labels = n.labels();
    if l.pods
        .get(&ObjectRef::new(&pod.name).within(&pod.namespace))
        .is_none()
    {
        return Err(format!(
            "pod does not exist any more: pod {:?} not found",
            pod.name
        ));
    }
    let claim_of = |c: &PersistentVolumeClaim| {
        l.claims
            .get(&ObjectRef::new(&c.name_any()).within(&c.namespace().unwrap_or_default()))
    };
    for (written, claim) in bindings {
        let name = written.name_any();
        let Some(pv) = l.volumes.get(&ObjectRef::new(&name)) else {
            return Err(format!(
                "failed to check binding: could not find v1.PersistentVolume {name:?}"
            ));
        };
        let Some(pvc) = claim_of(claim) else {
            return Err(format!(
                "failed to check binding: could not find v1.PersistentVolumeClaim {:?}",
                claim_key(claim)
            ));
        };
        if informer_lags(
            written.metadata.resource_version.as_ref(),
            pv.metadata.resource_version.as_ref(),
        ) {
            return Ok(false);
        }
        if !volume_fits_node(&pv, labels) {
            return Err(format!(
                "pv {name:?} node affinity doesn't match node {node:?}: no matching NodeSelectorTerms"
            ));
        }
        let uid = pv
            .spec
            .as_ref()
            .and_then(|s| s.claim_ref.as_ref())
            .and_then(|r| r.uid.as_deref())
            .unwrap_or_default();
        if uid.is_empty() {
            return Err(format!("ClaimRef got reset for pv {name:?}"));
        }
        if !fully_bound(&pvc) {
            return Ok(false);
        }
    }
    for written in provisions {
        let Some(pvc) = claim_of(written) else {
            return Err(format!(
                "failed to check provisioning pvc: could not find v1.PersistentVolumeClaim {:?}",
                claim_key(written)
            ));
        };
        if informer_lags(
            written.metadata.resource_version.as_ref(),
            pvc.metadata.resource_version.as_ref(),
        ) {
            return Ok(false);
        }
        let name = pvc.name_any();
        let Some(annotations) = pvc.metadata.annotations.as_ref() else {
            return Err(format!("selectedNode annotation reset for PVC {name:?}"));
        };
        if annotations.get(ANN_SELECTED_NODE).map(String::as_str) != Some(node) {
            return Err(format!("provisioning failed for PVC {name:?}"));
        }
        let bound_to = volume_name(&pvc);
        if !bound_to.is_empty() {
            let Some(pv) = l.volumes.get(&ObjectRef::new(bound_to)) else {
                // The volume may not have reached the cache yet.
                return Ok(false);
            };
            if !volume_fits_node(&pv, labels) {
                return Err(format!(
                    "pv {bound_to:?} node affinity doesn't match node {node:?}: no matching NodeSelectorTerms"
                ));
            }
        }
        if !fully_bound(&pvc) {
            return Ok(false);
        }
    }
    Ok(true)
}

impl Inner {
    /// Upstream's `BindPodVolumes`: the API writes, then the wait for the PV controller.
    async fn bind_pod_volumes(
        &self,
        client: &kube::Client,
        pod: &PodInfo,
        node: &str,
        v: &PodVolumes,
    ) -> Result<(), String> {
        let mut bindings = Vec::with_capacity(v.static_bindings.len());
        let pvs: Api<PersistentVolume> = Api::all(client.clone());
        for (pv, claim) in &v.static_bindings {
            let written = pvs
                .replace(&pv.name_any(), &PostParams::default(), pv)
                .await
                .map_err(|e| crate::binder::api_message(&e))?;
            bindings.push((Arc::new(written), claim.clone()));
        }
        let mut provisions = Vec::with_capacity(v.provisions.len());
        for claim in &v.provisions {
            let api: Api<PersistentVolumeClaim> =
                Api::namespaced(client.clone(), &claim.namespace().unwrap_or_default());
            let written = api
                .replace(&claim.name_any(), &PostParams::default(), claim)
                .await
                .map_err(|e| crate::binder::api_message(&e))?;
            provisions.push(Arc::new(written));
        }
        let l = self.listers.get().ok_or("VolumeBinding has no informers")?;
        let deadline = Instant::now() + self.bind_timeout;
        loop {
            if Instant::now() + POLL > deadline {
                return Err("binding volumes: context deadline exceeded".into());
            }
            tokio::time::sleep(POLL).await;
            match check_bindings(l, pod, node, &bindings, &provisions) {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(e) => return Err(format!("binding volumes: {e}")),
            }
        }
    }
}

impl Plugin for VolumeBinding {
    fn name(&self) -> &'static str {
        NAME
    }

    fn points(&self) -> Points {
        Points::FILTER.with_pre_filter().with_reserve_and_pre_bind()
    }

    fn attach(&self, informers: &Informers) {
        let _ = self.inner.listers.set(Listers::from_informers(informers));
    }

    fn pre_filter(&self, pod: &PodInfo, _: &Snapshot) -> Result<PreFiltered, Status> {
        if !has_claims(pod) {
            return Ok(PreFiltered::skip());
        }
        match self.inner.pod_claims(pod)? {
            None => Ok(PreFiltered::default()),
            Some(c) => Ok(PreFiltered::with_state(ClaimsState(Arc::new(c)))),
        }
    }

    fn filter(
        &self,
        state: Option<&dyn PluginState>,
        _pod: &PodInfo,
        node: &NodeInfo,
    ) -> Result<(), Status> {
        let Some(ClaimsState(claims)) = state_of::<ClaimsState>(state) else {
            return Ok(());
        };
        match find_pod_volumes(claims, &node.name, node.labels())? {
            Found::Fits(_) => Ok(()),
            Found::Refused(reasons) => Err(Status {
                code: Code::UnschedulableAndUnresolvable,
                plugin: NAME,
                reasons,
            }),
        }
    }

    fn reserve(&self, pod: &Arc<PodInfo>, node: &NodeInfo) -> Result<(), Status> {
        if !has_claims(pod) || self.inner.listers.get().is_none() {
            return Ok(());
        }
        let Some(claims) = self.inner.pod_claims(pod)? else {
            return Ok(());
        };
        if claims.delayed.is_empty() {
            // Every claim is bound: nothing to do before binding the pod.
            return Ok(());
        }
        let volumes = match find_pod_volumes(&claims, &node.name, node.labels())? {
            Found::Fits(v) => v,
            Found::Refused(reasons) => return Err(Status::error(NAME, reasons.join(", "))),
        };
        let mut assumed = PodVolumes::default();
        let mut a = self.inner.assumed();
        for (pv, claim) in volumes.static_bindings {
            let (bound, dirty) = bind_volume_to_claim(&pv, &claim);
            let bound = Arc::new(bound);
            if dirty {
                a.volumes
                    .insert(pv.name_any(), (pv.resource_version(), bound.clone()));
            }
            assumed.static_bindings.push((bound, claim));
        }
        for claim in volumes.provisions {
            let mut c = (*claim).clone();
            c.annotations_mut()
                .insert(ANN_SELECTED_NODE.into(), node.name.clone());
            let c = Arc::new(c);
            a.claims
                .insert(claim_key(&c), (claim.resource_version(), c.clone()));
            assumed.provisions.push(c);
        }
        a.pods.insert(pod.uid.clone(), Arc::new(assumed));
        Ok(())
    }

    fn unreserve(&self, pod: &PodInfo, _node: &str) {
        self.inner.forget(&pod.uid);
    }

    fn pre_bind(
        &self,
        client: &kube::Client,
        pod: &Arc<PodInfo>,
        node: &str,
    ) -> Option<PreBindFuture> {
        if !has_claims(pod) {
            return None;
        }
        let volumes = self.inner.assumed().pods.get(&pod.uid).cloned()?;
        let (inner, client, pod, node) = (
            self.inner.clone(),
            client.clone(),
            pod.clone(),
            node.to_string(),
        );
        Some(Box::pin(async move {
            let result = inner.bind_pod_volumes(&client, &pod, &node, &volumes).await;
            // Bound: the informers hold the written objects by now. Failed: the assumptions
            // are dropped, and the pod is scheduled again on what the informers say.
            inner.forget(&pod.uid);
            result.map_err(|e| Status::error(NAME, e))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testing::{node, pod, store};
    use capstan_controllers::persistentvolume_binder::ANN_BOUND_BY_CONTROLLER;
    use serde_json::{json, Value};

    struct World {
        claims: Vec<Value>,
        volumes: Vec<Value>,
        classes: Vec<Value>,
        nodes: Vec<Value>,
        pods: Vec<Value>,
    }

    impl World {
        fn new() -> World {
            World {
                claims: Vec::new(),
                volumes: Vec::new(),
                classes: vec![
                    json!({"metadata": {"name": "local-path"}, "provisioner": "capstan.io/local-path",
                           "volumeBindingMode": "WaitForFirstConsumer"}),
                    json!({"metadata": {"name": "local"}, "provisioner": NO_PROVISIONER,
                           "volumeBindingMode": "WaitForFirstConsumer"}),
                    json!({"metadata": {"name": "fast"}, "provisioner": "example.com/fast",
                           "volumeBindingMode": "Immediate"}),
                ],
                nodes: Vec::new(),
                pods: Vec::new(),
            }
        }

        fn plugin(&self) -> VolumeBinding {
            VolumeBinding::with_listers(
                DEFAULT_BIND_TIMEOUT,
                Listers {
                    claims: store(self.claims.clone()),
                    volumes: store(self.volumes.clone()),
                    classes: store(self.classes.clone()),
                    nodes: store(self.nodes.clone()),
                    pods: store(self.pods.clone()),
                },
            )
        }
    }

    fn claim(name: &str, class: &str, size: &str, extra: Value) -> Value {
        let mut c = json!({"metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"),
                                        "resourceVersion": "5"},
                           "spec": {"storageClassName": class, "accessModes": ["ReadWriteOnce"],
                                    "resources": {"requests": {"storage": size}}}});
        merge(&mut c, extra);
        c
    }

    fn bound_claim(name: &str, volume: &str) -> Value {
        claim(
            name,
            "",
            "1Gi",
            json!({"metadata": {"annotations": {ANN_BIND_COMPLETED: "yes"}},
                   "spec": {"volumeName": volume}, "status": {"phase": "Bound"}}),
        )
    }

    fn on_host(host: &str) -> Value {
        json!({"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": [host]}]}]}})
    }

    fn volume(name: &str, class: &str, size: &str, extra: Value) -> Value {
        let mut v = json!({"metadata": {"name": name, "resourceVersion": "7"},
                           "spec": {"storageClassName": class, "capacity": {"storage": size},
                                    "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/x"}},
                           "status": {"phase": "Available"}});
        merge(&mut v, extra);
        v
    }

    fn merge(base: &mut Value, patch: Value) {
        match (base, patch) {
            (Value::Object(b), Value::Object(p)) => {
                for (k, v) in p {
                    merge(b.entry(k).or_insert(Value::Null), v);
                }
            }
            (b, p) => *b = p,
        }
    }

    fn host(name: &str) -> NodeInfo {
        node(json!({"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}}}))
    }

    fn using(claims: &[&str]) -> Arc<PodInfo> {
        let vols: Vec<Value> = claims
            .iter()
            .map(|c| json!({"name": c, "persistentVolumeClaim": {"claimName": c}}))
            .collect();
        pod(json!({"spec": {"volumes": vols}}))
    }

    /// PreFilter then Filter on one node: the refusal's message, or "" when it fits.
    fn verdict(p: &VolumeBinding, pod: &PodInfo, n: &NodeInfo) -> String {
        let pre = match p.pre_filter(pod, &Snapshot::default()) {
            Ok(pre) => pre,
            Err(s) => return s.message(),
        };
        match p.filter(pre.state.as_deref(), pod, n) {
            Ok(()) => String::new(),
            Err(s) => s.message(),
        }
    }

    #[tokio::test]
    async fn volume_binding_skips_pods_without_claims() {
        // No informers at all: a pod without claims never reaches them.
        let p = VolumeBinding::default();
        let plain = pod(json!({"spec": {"volumes": [{"name": "tmp", "emptyDir": {}}]}}));
        let pre = p.pre_filter(&plain, &Snapshot::default());
        assert!(pre
            .as_ref()
            .is_ok_and(|r| r.state.is_none() && r.nodes.is_none()));
        assert!(p.filter(None, &plain, &host("a")).is_ok());
        assert!(p.reserve(&plain, &host("a")).is_ok());
        assert!(p.pre_bind(&client_less(), &plain, "a").is_none());
    }

    /// A client that is never called (the tests that take one do no I/O; it needs a runtime).
    fn client_less() -> kube::Client {
        let url = "http://127.0.0.1:9".parse().unwrap();
        kube::Client::try_from(kube::Config::new(url)).unwrap()
    }

    #[test]
    fn volume_binding_pre_filter_refuses_a_missing_claim_with_upstreams_message() {
        let p = World::new().plugin();
        let err = p.pre_filter(&using(&["data"]), &Snapshot::default()).err();
        assert_eq!(
            err.as_ref().map(|e| (e.code, e.message())),
            Some((
                Code::UnschedulableAndUnresolvable,
                "persistentvolumeclaim \"data\" not found".to_string()
            ))
        );
    }

    #[test]
    fn volume_binding_pre_filter_refuses_claims_being_deleted_or_lost() {
        let mut w = World::new();
        w.claims.push(claim(
            "going",
            "local-path",
            "1Gi",
            json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z", "finalizers": ["x"]}}),
        ));
        w.claims.push(claim(
            "lost",
            "",
            "1Gi",
            json!({"spec": {"volumeName": "gone"}, "status": {"phase": "Lost"}}),
        ));
        let p = w.plugin();
        assert_eq!(
            verdict(&p, &using(&["going"]), &host("a")),
            "persistentvolumeclaim \"going\" is being deleted"
        );
        assert_eq!(
            verdict(&p, &using(&["lost"]), &host("a")),
            "persistentvolumeclaim \"lost\" bound to non-existent persistentvolume \"gone\""
        );
    }

    #[test]
    fn volume_binding_pre_filter_checks_ephemeral_volumes_claims() {
        let mut w = World::new();
        let eph = pod(json!({"metadata": {"name": "web", "uid": "web-uid"},
            "spec": {"volumes": [{"name": "scratch", "ephemeral": {"volumeClaimTemplate": {
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}}}]}}));
        assert_eq!(
            verdict(&w.plugin(), &eph, &host("a")),
            "waiting for ephemeral volume controller to create the persistentvolumeclaim \"web-scratch\""
        );
        w.claims
            .push(claim("web-scratch", "local-path", "1Gi", json!({})));
        assert_eq!(
            verdict(&w.plugin(), &eph, &host("a")),
            "PVC default/web-scratch was not created for pod default/web (pod is not owner)"
        );
        w.claims[0] = claim(
            "web-scratch",
            "local-path",
            "1Gi",
            json!({"metadata": {"ownerReferences": [{"apiVersion": "v1", "kind": "Pod",
                "name": "web", "uid": "web-uid", "controller": true}]}}),
        );
        assert_eq!(verdict(&w.plugin(), &eph, &host("a")), "");
    }

    #[test]
    fn volume_binding_pre_filter_refuses_unbound_immediate_claims() {
        let mut w = World::new();
        w.claims.push(claim("imm", "fast", "1Gi", json!({})));
        // A class that does not exist binds immediately too, and so does a pre-bound claim.
        w.claims.push(claim("nocls", "missing", "1Gi", json!({})));
        w.claims.push(claim(
            "prebound",
            "local-path",
            "1Gi",
            json!({"spec": {"volumeName": "v"}}),
        ));
        let p = w.plugin();
        for c in ["imm", "nocls", "prebound"] {
            let err = p.pre_filter(&using(&[c]), &Snapshot::default()).err();
            assert_eq!(
                err.map(|e| (e.code, e.message())),
                Some((
                    Code::UnschedulableAndUnresolvable,
                    UNBOUND_IMMEDIATE.to_string()
                )),
                "{c}"
            );
        }
    }

    #[test]
    fn volume_binding_filter_checks_a_bound_volumes_node_affinity() {
        let mut w = World::new();
        w.claims.push(bound_claim("data", "pv-b"));
        w.volumes.push(volume(
            "pv-b",
            "",
            "1Gi",
            json!({"spec": {"nodeAffinity": on_host("node-b")}}),
        ));
        let p = w.plugin();
        let pod = using(&["data"]);
        assert_eq!(verdict(&p, &pod, &host("node-b")), "");
        assert_eq!(verdict(&p, &pod, &host("node-a")), NODE_CONFLICT);
        // Node affinity on labels only: a node without the hostname label does not match.
        let unlabelled = node(json!({"metadata": {"name": "node-b"}}));
        assert_eq!(verdict(&p, &pod, &unlabelled), NODE_CONFLICT);
        let err = p
            .pre_filter(&pod, &Snapshot::default())
            .ok()
            .and_then(|pre| p.filter(pre.state.as_deref(), &pod, &host("node-a")).err());
        assert_eq!(
            err.map(|e| e.code),
            Some(Code::UnschedulableAndUnresolvable)
        );
    }

    #[test]
    fn volume_binding_filter_reports_a_bound_claims_missing_volume() {
        let mut w = World::new();
        w.claims.push(bound_claim("data", "nowhere"));
        assert_eq!(
            verdict(&w.plugin(), &using(&["data"]), &host("a")),
            PV_NOT_EXIST
        );
    }

    #[test]
    fn volume_binding_filter_matches_the_smallest_available_volume_that_fits_the_node() {
        let mut w = World::new();
        w.claims.push(claim("data", "local", "1Gi", json!({})));
        w.volumes.push(volume(
            "big-b",
            "local",
            "10Gi",
            json!({"spec": {"nodeAffinity": on_host("node-b")}}),
        ));
        w.volumes.push(volume(
            "small-b",
            "local",
            "2Gi",
            json!({"spec": {"nodeAffinity": on_host("node-b")}}),
        ));
        w.volumes.push(volume(
            "tiny-b",
            "local",
            "500Mi",
            json!({"spec": {"nodeAffinity": on_host("node-b")}}),
        ));
        w.volumes.push(volume(
            "rwx-c",
            "local",
            "1Gi",
            json!({"spec": {"nodeAffinity": on_host("node-c"), "accessModes": ["ReadWriteMany"]}}),
        ));
        w.volumes.push(volume(
            "other-class-d",
            "elsewhere",
            "1Gi",
            json!({"spec": {"nodeAffinity": on_host("node-d")}}),
        ));
        w.volumes.push(volume(
            "taken-e",
            "local",
            "1Gi",
            json!({"spec": {"nodeAffinity": on_host("node-e"),
                            "claimRef": {"namespace": "default", "name": "someone-else"}}}),
        ));
        let p = w.plugin();
        let pod = using(&["data"]);
        assert_eq!(verdict(&p, &pod, &host("node-b")), "");
        for refused in ["node-a", "node-c", "node-d", "node-e"] {
            assert_eq!(
                verdict(&p, &pod, &host(refused)),
                BIND_CONFLICT,
                "{refused}"
            );
        }
        let claims = p.inner.pod_claims(&pod).ok().flatten();
        let found = claims.map(|c| find_pod_volumes(&c, "node-b", host("node-b").labels()));
        let chosen = match found {
            Some(Ok(Found::Fits(v))) => v
                .static_bindings
                .iter()
                .map(|(pv, _)| pv.name_any())
                .collect(),
            _ => Vec::new(),
        };
        assert_eq!(chosen, ["small-b"]);
    }

    #[test]
    fn volume_binding_filter_provisions_where_the_class_can_and_its_topologies_allow() {
        let mut w = World::new();
        w.classes.push(
            json!({"metadata": {"name": "zonal"}, "provisioner": "example.com/zonal",
            "volumeBindingMode": "WaitForFirstConsumer",
            "allowedTopologies": [{"matchLabelExpressions": [
                {"key": "topology.kubernetes.io/zone", "values": ["z1"]}]}]}),
        );
        w.claims.push(claim("lp", "local-path", "1Gi", json!({})));
        w.claims.push(claim("z", "zonal", "1Gi", json!({})));
        w.claims.push(claim("static", "local", "1Gi", json!({})));
        let p = w.plugin();
        assert_eq!(verdict(&p, &using(&["lp"]), &host("any")), "");
        let z1 = node(
            json!({"metadata": {"name": "n1", "labels": {"topology.kubernetes.io/zone": "z1"}}}),
        );
        let z2 = node(
            json!({"metadata": {"name": "n2", "labels": {"topology.kubernetes.io/zone": "z2"}}}),
        );
        assert_eq!(verdict(&p, &using(&["z"]), &z1), "");
        assert_eq!(verdict(&p, &using(&["z"]), &z2), BIND_CONFLICT);
        // No volume and no provisioner (kubernetes.io/no-provisioner).
        assert_eq!(verdict(&p, &using(&["static"]), &z1), BIND_CONFLICT);
    }

    #[test]
    fn volume_binding_filter_keeps_a_claim_to_its_selected_node() {
        let mut w = World::new();
        w.claims.push(claim(
            "data",
            "local-path",
            "1Gi",
            json!({"metadata": {"annotations": {ANN_SELECTED_NODE: "node-b"}}}),
        ));
        let p = w.plugin();
        assert_eq!(verdict(&p, &using(&["data"]), &host("node-b")), "");
        assert_eq!(
            verdict(&p, &using(&["data"]), &host("node-a")),
            BIND_CONFLICT
        );
    }

    #[test]
    fn volume_binding_filter_gives_every_reason_in_upstreams_order() {
        let mut w = World::new();
        w.claims.push(bound_claim("old", "pv-b"));
        w.volumes.push(volume(
            "pv-b",
            "",
            "1Gi",
            json!({"spec": {"nodeAffinity": on_host("node-b")}}),
        ));
        w.claims.push(claim("new", "local", "1Gi", json!({})));
        assert_eq!(
            verdict(&w.plugin(), &using(&["old", "new"]), &host("node-a")),
            format!("{NODE_CONFLICT}, {BIND_CONFLICT}")
        );
    }

    #[test]
    fn volume_binding_reserve_assumes_the_volume_so_the_next_pod_takes_another() {
        let mut w = World::new();
        w.claims.push(claim("one", "local", "1Gi", json!({})));
        w.claims.push(claim("two", "local", "1Gi", json!({})));
        for v in ["pv-1", "pv-2"] {
            w.volumes.push(volume(
                v,
                "local",
                "1Gi",
                json!({"spec": {"nodeAffinity": on_host("node-b")}}),
            ));
        }
        let p = w.plugin();
        let first = pod(json!({"metadata": {"name": "first", "uid": "first"},
            "spec": {"volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "one"}}]}}));
        let second = pod(json!({"metadata": {"name": "second", "uid": "second"},
            "spec": {"volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "two"}}]}}));
        let b = host("node-b");
        assert!(p.reserve(&first, &b).is_ok());
        let reserved = p.inner.assumed().pods.get("first").cloned();
        let (pv, claim) = match reserved.as_ref().map(|r| r.static_bindings.as_slice()) {
            Some([(pv, claim)]) => (pv.clone(), claim.clone()),
            _ => panic!("one static binding expected: {reserved:?}"),
        };
        assert_eq!(pv.name_any(), "pv-1");
        let r = pv.spec.as_ref().and_then(|s| s.claim_ref.clone());
        assert_eq!(
            r.map(|r| (r.name, r.uid, r.kind)),
            Some((
                Some("one".to_string()),
                Some("uid-one".to_string()),
                Some("PersistentVolumeClaim".to_string())
            ))
        );
        assert_eq!(
            pv.annotations()
                .get(ANN_BOUND_BY_CONTROLLER)
                .map(String::as_str),
            Some("yes")
        );
        assert_eq!(claim.name_any(), "one");
        // The second pod's cycle sees pv-1 taken and binds pv-2.
        assert!(p.reserve(&second, &b).is_ok());
        let names: Vec<String> = p
            .inner
            .assumed()
            .pods
            .get("second")
            .map(|r| {
                r.static_bindings
                    .iter()
                    .map(|(v, _)| v.name_any())
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(names, ["pv-2"]);
        // Unreserve puts pv-1 back.
        p.unreserve(&first, "node-b");
        p.unreserve(&second, "node-b");
        let third = using(&["two"]);
        assert!(p.reserve(&third, &b).is_ok());
        let names: Vec<String> = p
            .inner
            .assumed()
            .pods
            .get("p")
            .map(|r| {
                r.static_bindings
                    .iter()
                    .map(|(v, _)| v.name_any())
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(names, ["pv-1"]);
    }

    #[tokio::test]
    async fn volume_binding_reserve_annotates_claims_to_provision_with_the_node() {
        let mut w = World::new();
        w.claims.push(claim("data", "local-path", "1Gi", json!({})));
        let p = w.plugin();
        let pod = using(&["data"]);
        assert!(p.reserve(&pod, &host("node-b")).is_ok());
        // The next cycle sees the claim given to node-b.
        assert_eq!(verdict(&p, &pod, &host("node-a")), BIND_CONFLICT);
        let provisions: Vec<Option<String>> = p
            .inner
            .assumed()
            .pods
            .get("p")
            .map(|r| {
                r.provisions
                    .iter()
                    .map(|c| c.annotations().get(ANN_SELECTED_NODE).cloned())
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(provisions, [Some("node-b".to_string())]);
        assert!(p.pre_bind(&client_less(), &pod, "node-b").is_some());
        p.unreserve(&pod, "node-b");
        assert_eq!(verdict(&p, &pod, &host("node-a")), "");
        // A pod whose claims are all bound has nothing to bind.
        let mut w = World::new();
        w.claims.push(bound_claim("data", "pv"));
        w.volumes.push(volume("pv", "", "1Gi", json!({})));
        let p = w.plugin();
        assert!(p.reserve(&pod, &host("node-b")).is_ok());
        assert!(p.pre_bind(&client_less(), &pod, "node-b").is_none());
    }

    #[test]
    fn volume_binding_pre_bind_waits_for_the_pv_controller_and_fails_on_resets() {
        let pending = claim(
            "data",
            "local-path",
            "1Gi",
            json!({"metadata": {"resourceVersion": "9", "annotations": {ANN_SELECTED_NODE: "node-b"}}}),
        );
        let written: Arc<PersistentVolumeClaim> =
            Arc::new(serde_json::from_value(pending.clone()).unwrap_or_default());
        let pod_obj = json!({"metadata": {"name": "p", "namespace": "default", "uid": "p"}});
        let node_b =
            json!({"metadata": {"name": "node-b", "labels": {"kubernetes.io/hostname": "node-b"}}});
        let check = |claims: Vec<Value>, volumes: Vec<Value>| {
            let mut w = World::new();
            w.claims = claims;
            w.volumes = volumes;
            w.nodes = vec![node_b.clone()];
            w.pods = vec![pod_obj.clone()];
            let l = w.plugin().inner.listers.get().cloned();
            l.map(|l| {
                check_bindings(
                    &l,
                    &using(&["data"]),
                    "node-b",
                    &[],
                    std::slice::from_ref(&written),
                )
            })
        };
        // Not bound yet, or the informer has not seen our write: wait.
        assert_eq!(check(vec![pending.clone()], vec![]), Some(Ok(false)));
        let stale = claim("data", "local-path", "1Gi", json!({}));
        assert_eq!(check(vec![stale], vec![]), Some(Ok(false)));
        // Bound to a volume on the node: done.
        let mut done = pending.clone();
        merge(
            &mut done,
            json!({"metadata": {"resourceVersion": "12", "annotations": {ANN_BIND_COMPLETED: "yes"}},
                   "spec": {"volumeName": "pvc-1"}}),
        );
        let pv = volume(
            "pvc-1",
            "local-path",
            "1Gi",
            json!({"spec": {"nodeAffinity": on_host("node-b")}}),
        );
        assert_eq!(check(vec![done.clone()], vec![pv.clone()]), Some(Ok(true)));
        // The volume is elsewhere.
        let elsewhere = volume(
            "pvc-1",
            "local-path",
            "1Gi",
            json!({"spec": {"nodeAffinity": on_host("node-a")}}),
        );
        assert_eq!(
            check(vec![done], vec![elsewhere]),
            Some(Err("pv \"pvc-1\" node affinity doesn't match node \"node-b\": no matching NodeSelectorTerms".into()))
        );
        // The provisioner gave up (the annotation was removed).
        let mut reset = claim(
            "data",
            "local-path",
            "1Gi",
            json!({"metadata": {"resourceVersion": "10", "annotations": {"x": "y"}}}),
        );
        assert_eq!(
            check(vec![reset.clone()], vec![]),
            Some(Err("provisioning failed for PVC \"data\"".into()))
        );
        merge(&mut reset, json!({"metadata": {"annotations": null}}));
        assert_eq!(
            check(vec![reset], vec![]),
            Some(Err("selectedNode annotation reset for PVC \"data\"".into()))
        );
        // The pod was deleted meanwhile.
        let mut w = World::new();
        w.claims = vec![pending];
        w.nodes = vec![node_b];
        let l = w.plugin().inner.listers.get().cloned();
        assert_eq!(
            l.map(|l| check_bindings(&l, &using(&["data"]), "node-b", &[], &[written])),
            Some(Err(
                "pod does not exist any more: pod \"p\" not found".into()
            ))
        );
    }

    #[test]
    fn volume_binding_args_default_to_600_seconds_and_are_validated() {
        let d = VolumeBinding::from_args(None).map(|p| p.bind_timeout());
        assert_eq!(d.ok(), Some(Duration::from_secs(600)));
        let set = VolumeBinding::from_args(Some(&json!({"bindTimeoutSeconds": 30})));
        assert_eq!(
            set.map(|p| p.bind_timeout()).ok(),
            Some(Duration::from_secs(30))
        );
        let neg = VolumeBinding::from_args(Some(&json!({"bindTimeoutSeconds": -1})));
        assert_eq!(
            neg.err().map(|e| e.to_string()),
            Some(
                "bindTimeoutSeconds: Invalid value: -1: invalid BindTimeoutSeconds, should not be a negative value"
                    .to_string()
            )
        );
        let shape =
            VolumeBinding::from_args(Some(&json!({"shape": [{"utilization": 0, "score": 0}]})));
        assert!(shape
            .err()
            .map(|e| e.to_string())
            .is_some_and(|e| e.contains("turn on the feature gate StorageCapacityScoring")));
    }
}
