//! PodTopologySpread (kube-scheduler 1.33): pods spread over topology domains (zones, nodes,
//! …) as their `topologySpreadConstraints` ask.
//!
//! - Filter, for `DoNotSchedule` constraints: a node fits when, in its domain, the pods the
//!   constraint's selector matches (in the pod's namespace, terminating ones aside) plus the
//!   pod itself (when it matches) exceed the least-loaded domain by at most `maxSkew`. Only
//!   nodes carrying every constraint's topology key count, and of those only nodes the pod's
//!   node affinity picks (`nodeAffinityPolicy: Honor`, the default) and, with
//!   `nodeTaintsPolicy: Honor`, whose taints it tolerates. With fewer eligible domains than
//!   `minDomains` the least-loaded count is taken as 0. A node lacking a key never fits
//!   (UnschedulableAndUnresolvable); a skew too large is Unschedulable (evictions may help).
//! - `matchLabelKeys` adds `key in (pod's value)` to the selector for each key the pod has.
//! - Score, for `ScheduleAnyway` constraints: fewer matching pods in the node's domain score
//!   higher, each domain count weighted by the log of the number of domains, normalized so
//!   the emptiest node gets 100.
//! - A pod without constraints gets the profile's default constraints (`defaultingType:
//!   System`: hostname maxSkew 3 and zone maxSkew 5, both ScheduleAnyway), whose selector is
//!   made from the Services, ReplicationController, ReplicaSet or StatefulSet the pod belongs
//!   to (upstream's DefaultSelector); a pod belonging to none has no default constraints.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use capstan_controllers::informers::Informers;
use capstan_controllers::node_matching::{fits_affinity, tolerates};
use k8s_openapi::api::apps::v1::{ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{ReplicationController, Service, TopologySpreadConstraint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::runtime::reflector::{ObjectRef, Store};

use crate::framework::{
    state_of, Plugin, PluginState, Points, PreFiltered, Status, MAX_NODE_SCORE,
};
use crate::node_info::NodeInfo;
use crate::plugins::label_selector::{Requirement, Selector};
use crate::plugins::pod_index::PodIndex;
use crate::pod_info::PodInfo;
use crate::snapshot::Snapshot;

pub const NAME: &str = "PodTopologySpread";
pub const CONSTRAINTS_REASON: &str = "node(s) didn't match pod topology spread constraints";
pub const MISSING_LABEL_REASON: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";
pub const HOSTNAME_KEY: &str = "kubernetes.io/hostname";
pub const ZONE_KEY: &str = "topology.kubernetes.io/zone";
pub const DO_NOT_SCHEDULE: &str = "DoNotSchedule";
pub const SCHEDULE_ANYWAY: &str = "ScheduleAnyway";

/// What Score answers for a node missing a topology key (NormalizeScore gives it 0).
const IGNORED: i64 = -1;

/// The selector of the Services and controller a pod belongs to (upstream's DefaultSelector);
/// empty when it belongs to none.
pub type DefaultSelector = Arc<dyn Fn(&PodInfo) -> Selector + Send + Sync>;

/// The system's default constraints (`defaultingType: System`).
pub fn system_default_constraints() -> Vec<TopologySpreadConstraint> {
    [(HOSTNAME_KEY, 3), (ZONE_KEY, 5)]
        .into_iter()
        .map(|(key, skew)| TopologySpreadConstraint {
            topology_key: key.to_string(),
            when_unsatisfiable: SCHEDULE_ANYWAY.to_string(),
            max_skew: skew,
            ..TopologySpreadConstraint::default()
        })
        .collect()
}

/// The caches the default selector reads, set by `attach`.
struct Listers {
    services: Store<Service>,
    controllers: Store<ReplicationController>,
    replica_sets: Store<ReplicaSet>,
    stateful_sets: Store<StatefulSet>,
}

pub struct PodTopologySpread {
    /// For pods without constraints of their own.
    pub default_constraints: Vec<TopologySpreadConstraint>,
    /// Whether those are the system's (then nodes missing a key still get hostname scores).
    pub system_defaulted: bool,
    default_selector: DefaultSelector,
    listers: Arc<OnceLock<Listers>>,
    /// The snapshot's pods by label, kept across cycles.
    index: Mutex<PodIndex>,
}

impl Default for PodTopologySpread {
    fn default() -> Self {
        PodTopologySpread::new(system_default_constraints(), true)
    }
}

impl PodTopologySpread {
    /// Default selectors come from the scheduler's informers (see `attach`).
    pub fn new(default_constraints: Vec<TopologySpreadConstraint>, system_defaulted: bool) -> Self {
        let listers: Arc<OnceLock<Listers>> = Arc::default();
        let stores = listers.clone();
        let default_selector: DefaultSelector = Arc::new(move |pod: &PodInfo| {
            stores
                .get()
                .map_or(Selector::All(Vec::new()), |l| selector_of_owners(l, pod))
        });
        PodTopologySpread {
            default_constraints,
            system_defaulted,
            default_selector,
            listers,
            index: Mutex::default(),
        }
    }

    /// Default selectors read through `lookup` instead.
    pub fn with_default_selector(mut self, lookup: DefaultSelector) -> Self {
        self.default_selector = lookup;
        self
    }

    /// The pod's constraints with `action`, or the defaults when it has none.
    fn constraints_of(&self, pod: &PodInfo, action: &str) -> Result<Vec<Constraint>, String> {
        let own = own_constraints(pod);
        if !own.is_empty() {
            return compile(own, &pod.labels, action);
        }
        let mut out = compile(&self.default_constraints, &pod.labels, action)?;
        if out.is_empty() {
            return Ok(out);
        }
        let selector = (self.default_selector)(pod);
        if selector.is_empty() {
            return Ok(Vec::new());
        }
        for c in &mut out {
            c.selector = selector.clone();
        }
        Ok(out)
    }

    fn has_defaults_for(&self, action: &str) -> bool {
        self.default_constraints
            .iter()
            .any(|c| c.when_unsatisfiable == action)
    }
}

fn own_constraints(pod: &PodInfo) -> &[TopologySpreadConstraint] {
    pod.spec()
        .and_then(|s| s.topology_spread_constraints.as_deref())
        .unwrap_or_default()
}

/// Upstream's DefaultSelector: the selectors of the pod's namespace's Services that select it,
/// merged, and its controlling ReplicationController's, ReplicaSet's or StatefulSet's.
fn selector_of_owners(l: &Listers, pod: &PodInfo) -> Selector {
    let mut set: BTreeMap<String, String> = BTreeMap::new();
    let services = l.services.state_filter(|s| {
        s.metadata.namespace.as_deref() == Some(pod.namespace.as_str())
            && s.spec
                .as_ref()
                .and_then(|s| s.selector.as_ref())
                .is_some_and(|sel| sel.iter().all(|(k, v)| pod.labels.get(k) == Some(v)))
    });
    for s in services {
        if let Some(sel) = s.spec.as_ref().and_then(|s| s.selector.as_ref()) {
            set.extend(sel.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    let mut selector = Selector::from_set(&set);
    let owner = pod
        .pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true));
    let Some(owner) = owner else {
        return selector;
    };
    let add = |selector: &mut Selector, sel: Option<&LabelSelector>| {
        if let Ok(other) = Selector::from_label_selector(sel) {
            if let Some(reqs) = other.requirements() {
                selector.add(reqs.iter().cloned());
            }
        }
    };
    match (owner.api_version.as_str(), owner.kind.as_str()) {
        ("v1", "ReplicationController") => {
            if let Some(rc) = l
                .controllers
                .get(&ObjectRef::new(&owner.name).within(&pod.namespace))
            {
                if let Some(sel) = rc.spec.as_ref().and_then(|s| s.selector.as_ref()) {
                    set.extend(sel.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
                selector = Selector::from_set(&set);
            }
        }
        ("apps/v1", "ReplicaSet") => {
            if let Some(rs) = l
                .replica_sets
                .get(&ObjectRef::new(&owner.name).within(&pod.namespace))
            {
                add(&mut selector, rs.spec.as_ref().map(|s| &s.selector));
            }
        }
        ("apps/v1", "StatefulSet") => {
            if let Some(ss) = l
                .stateful_sets
                .get(&ObjectRef::new(&owner.name).within(&pod.namespace))
            {
                add(&mut selector, ss.spec.as_ref().map(|s| &s.selector));
            }
        }
        _ => {}
    }
    selector
}

/// A constraint with its selector compiled (upstream's `topologySpreadConstraint`).
#[derive(Clone, Debug)]
struct Constraint {
    max_skew: i64,
    topology_key: String,
    selector: Selector,
    min_domains: i64,
    honor_node_affinity: bool,
    honor_taints: bool,
}

/// The constraints with `action`, each selector merged with the pod's `matchLabelKeys` values.
fn compile(
    list: &[TopologySpreadConstraint],
    pod_labels: &BTreeMap<String, String>,
    action: &str,
) -> Result<Vec<Constraint>, String> {
    let mut out = Vec::new();
    for c in list.iter().filter(|c| c.when_unsatisfiable == action) {
        let mut selector = Selector::from_label_selector(c.label_selector.as_ref())?;
        let keyed: Vec<Requirement> = c
            .match_label_keys
            .iter()
            .flatten()
            .filter_map(|k| pod_labels.get(k).map(|v| Requirement::equals(k, v)))
            .collect();
        if !keyed.is_empty() {
            if let Some(reqs) = selector.requirements() {
                let mut merged = keyed;
                merged.extend(reqs.iter().cloned());
                selector = Selector::All(merged);
            }
        }
        out.push(Constraint {
            max_skew: i64::from(c.max_skew),
            topology_key: c.topology_key.clone(),
            selector,
            min_domains: i64::from(c.min_domains.unwrap_or(1)),
            honor_node_affinity: c.node_affinity_policy.as_deref() != Some("Ignore"),
            honor_taints: c.node_taints_policy.as_deref() == Some("Honor"),
        });
    }
    Ok(out)
}

/// Whether the node carries every constraint's topology key.
fn has_all_keys(labels: &BTreeMap<String, String>, constraints: &[Constraint]) -> bool {
    constraints
        .iter()
        .all(|c| labels.contains_key(&c.topology_key))
}

/// Upstream's `countPodsMatchSelector`: pods of `namespace` the selector matches, terminating
/// ones aside; an empty selector counts none.
fn count_matching(pods: &[Arc<PodInfo>], selector: &Selector, namespace: &str) -> i64 {
    if selector.is_empty() {
        return 0;
    }
    let n = pods
        .iter()
        .filter(|p| {
            p.pod.metadata.deletion_timestamp.is_none()
                && p.namespace == namespace
                && selector.matches(&p.labels)
        })
        .count();
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A node's inclusion in a constraint's domains (node affinity and taint policies), each
/// worked out once per node.
struct Inclusion<'a> {
    pod: &'a PodInfo,
    node: &'a NodeInfo,
    affinity: Option<bool>,
    taints: Option<bool>,
}

impl<'a> Inclusion<'a> {
    fn new(pod: &'a PodInfo, node: &'a NodeInfo) -> Inclusion<'a> {
        Inclusion {
            pod,
            node,
            affinity: None,
            taints: None,
        }
    }

    fn includes(&mut self, c: &Constraint) -> bool {
        let (pod, node) = (self.pod, self.node);
        if c.honor_node_affinity
            && !*self
                .affinity
                .get_or_insert_with(|| pod.spec().is_none_or(|s| fits_affinity(s, &node.node)))
        {
            return false;
        }
        if c.honor_taints
            && !*self.taints.get_or_insert_with(|| {
                let tolerations = pod
                    .spec()
                    .and_then(|s| s.tolerations.as_deref())
                    .unwrap_or_default();
                !node.taints().iter().any(|t| {
                    (t.effect == "NoSchedule" || t.effect == "NoExecute")
                        && !tolerations.iter().any(|tol| tolerates(tol, t))
                })
            })
        {
            return false;
        }
        true
    }
}

/// The two least-loaded domains of a constraint (upstream's `criticalPaths`: the first always
/// holds the minimum; the second is at least that, not necessarily the second smallest).
#[derive(Clone, Debug)]
struct CriticalPaths([(String, i64); 2]);

impl CriticalPaths {
    fn new() -> CriticalPaths {
        let none = (String::new(), i64::from(i32::MAX));
        CriticalPaths([none.clone(), none])
    }

    fn update(&mut self, value: &str, num: i64) {
        let p = &mut self.0;
        let at = if value == p[0].0 {
            Some(0)
        } else if value == p[1].0 {
            Some(1)
        } else {
            None
        };
        match at {
            Some(i) => {
                p[i].1 = num;
                if p[0].1 > p[1].1 {
                    p.swap(0, 1);
                }
            }
            None if num < p[0].1 => {
                p[1] = std::mem::replace(&mut p[0], (value.to_string(), num));
            }
            None if num < p[1].1 => p[1] = (value.to_string(), num),
            None => {}
        }
    }
}

/// PreFilter's counts (upstream's `preFilterState`).
#[derive(Clone)]
struct FilterState {
    constraints: Arc<Vec<Constraint>>,
    /// Whether each constraint's selector matches the incoming pod itself.
    self_match: Arc<Vec<bool>>,
    /// Per constraint: the eligible domains (value → nodes), shared with the index's cache.
    domains: Vec<Arc<HashMap<String, usize>>>,
    /// Per constraint: matching pods per domain (domains not listed have none).
    counts: Vec<HashMap<String, i64>>,
    /// Per constraint: at least the highest count (no domain lookup is needed while even
    /// that one is within the skew).
    highest: Vec<i64>,
    paths: Vec<CriticalPaths>,
}

impl FilterState {
    /// The least-loaded domain's count, or 0 with fewer domains than `minDomains`.
    fn min_match(&self, i: usize, c: &Constraint) -> i64 {
        let domains = self.domains.get(i).map_or(0, |d| d.len());
        if i64::try_from(domains).unwrap_or(i64::MAX) < c.min_domains {
            return 0;
        }
        self.paths.get(i).map_or(0, |p| p.0[0].1)
    }

    /// `p` runs on `node` (`delta` 1) or no longer does (-1): upstream's `updateWithPod`.
    fn update(&mut self, pod: &PodInfo, p: &PodInfo, node: &NodeInfo, delta: i64) {
        let labels = node.labels();
        if p.namespace != pod.namespace || !has_all_keys(labels, &self.constraints) {
            return;
        }
        let mut inclusion = Inclusion::new(pod, node);
        let constraints = self.constraints.clone();
        for (i, c) in constraints.iter().enumerate() {
            if !c.selector.matches(&p.labels) || !inclusion.includes(c) {
                continue;
            }
            let (Some(value), Some(counts), Some(paths)) = (
                labels.get(&c.topology_key),
                self.counts.get_mut(i),
                self.paths.get_mut(i),
            ) else {
                continue;
            };
            let n = counts.entry(value.clone()).or_insert(0);
            *n += delta;
            paths.update(value, *n);
            if let Some(h) = self.highest.get_mut(i) {
                *h = (*h).max(*n);
            }
        }
    }
}

/// PreScore's counts (upstream's `preScoreState`).
#[derive(Clone)]
struct ScoreState {
    constraints: Vec<Constraint>,
    /// Feasible nodes missing a key (scored 0).
    ignored: HashSet<String>,
    /// Per constraint other than hostname: matching pods per domain of a feasible node.
    counts: Vec<HashMap<String, i64>>,
    /// Per constraint: ln(number of domains + 2).
    weights: Vec<f64>,
}

/// Per constraint, the domains of the nodes that count for it: those carrying every
/// constraint's key and included by its node affinity and taint policies. Without inclusion
/// rules that depend on the pod, the index keeps them across cycles.
fn eligible_domains(
    index: &mut PodIndex,
    pod: &PodInfo,
    snapshot: &Snapshot,
    constraints: &[Constraint],
) -> Vec<Arc<HashMap<String, usize>>> {
    let spec = pod.spec();
    let picky_affinity = spec.is_some_and(|s| {
        s.node_selector.as_ref().is_some_and(|n| !n.is_empty())
            || s.affinity
                .as_ref()
                .and_then(|a| a.node_affinity.as_ref())
                .and_then(|a| {
                    a.required_during_scheduling_ignored_during_execution
                        .as_ref()
                })
                .is_some()
    });
    let depends_on_pod = constraints
        .iter()
        .any(|c| c.honor_taints || (c.honor_node_affinity && picky_affinity));
    if !depends_on_pod {
        let keys: Vec<String> = constraints.iter().map(|c| c.topology_key.clone()).collect();
        return index.domains(&snapshot.nodes, &keys).as_ref().clone();
    }
    let mut out: Vec<HashMap<String, usize>> = vec![HashMap::new(); constraints.len()];
    for n in &snapshot.nodes {
        let labels = n.labels();
        if !has_all_keys(labels, constraints) {
            continue;
        }
        let mut inclusion = Inclusion::new(pod, n);
        for (c, domains) in constraints.iter().zip(out.iter_mut()) {
            if let Some(value) = labels.get(&c.topology_key) {
                if inclusion.includes(c) {
                    *domains.entry(value.clone()).or_insert(0) += 1;
                }
            }
        }
    }
    out.into_iter().map(Arc::new).collect()
}

/// The critical paths of a constraint from its domains and their (sparse) counts: the
/// minimum first. Upstream fills them walking a map in random order; any walk gives a true
/// minimum first, and this one gives the two smallest.
fn initial_paths(domains: &HashMap<String, usize>, counts: &HashMap<String, i64>) -> CriticalPaths {
    let mut p = CriticalPaths::new();
    // Up to two domains without matching pods, then those with.
    for value in domains.keys().filter(|v| !counts.contains_key(*v)).take(2) {
        p.update(value, 0);
    }
    for (value, n) in counts {
        p.update(value, *n);
    }
    p
}

impl Plugin for PodTopologySpread {
    fn name(&self) -> &'static str {
        NAME
    }

    fn points(&self) -> Points {
        Points::FILTER.with_pre_filter().with_score()
    }

    fn attach(&self, informers: &Informers) {
        // Upstream takes these listers only when some pods get default constraints.
        if self.default_constraints.is_empty() || self.listers.get().is_some() {
            return;
        }
        let _ = self.listers.set(Listers {
            services: informers.get::<Service>().store().clone(),
            controllers: informers.get::<ReplicationController>().store().clone(),
            replica_sets: informers.get::<ReplicaSet>().store().clone(),
            stateful_sets: informers.get::<StatefulSet>().store().clone(),
        });
    }

    fn pre_filter(&self, pod: &PodInfo, snapshot: &Snapshot) -> Result<PreFiltered, Status> {
        if own_constraints(pod).is_empty() && !self.has_defaults_for(DO_NOT_SCHEDULE) {
            return Ok(PreFiltered::skip());
        }
        let constraints = self.constraints_of(pod, DO_NOT_SCHEDULE).map_err(|e| {
            Status::error(
                NAME,
                format!("get constraints from pod: obtaining pod's hard topology spread constraints: {e}"),
            )
        })?;
        if constraints.is_empty() {
            return Ok(PreFiltered::skip());
        }
        let mut index = self.index.lock().unwrap_or_else(PoisonError::into_inner);
        index.refresh(&snapshot.nodes);
        let domains = eligible_domains(&mut index, pod, snapshot, &constraints);
        let mut counts: Vec<HashMap<String, i64>> = vec![HashMap::new(); constraints.len()];
        for (c, domain_counts) in constraints.iter().zip(counts.iter_mut()) {
            if c.selector.is_empty() {
                continue;
            }
            for pos in index
                .for_selector(&c.selector)
                .positions(snapshot.nodes.len())
            {
                let Some(n) = snapshot.nodes.get(pos) else {
                    continue;
                };
                let labels = n.labels();
                let Some(value) = labels.get(&c.topology_key) else {
                    continue;
                };
                if !has_all_keys(labels, &constraints) || !Inclusion::new(pod, n).includes(c) {
                    continue;
                }
                let matching = count_matching(&n.pods, &c.selector, &pod.namespace);
                if matching > 0 {
                    *domain_counts.entry(value.clone()).or_insert(0) += matching;
                }
            }
        }
        drop(index);
        let paths = domains
            .iter()
            .zip(&counts)
            .map(|(d, c)| initial_paths(d, c))
            .collect();
        let self_match = constraints
            .iter()
            .map(|c| c.selector.matches(&pod.labels))
            .collect();
        let highest = counts
            .iter()
            .map(|c| c.values().copied().max().unwrap_or(0))
            .collect();
        Ok(PreFiltered::with_state(FilterState {
            constraints: Arc::new(constraints),
            self_match: Arc::new(self_match),
            domains,
            counts,
            highest,
            paths,
        }))
    }

    fn add_pod(
        &self,
        state: &mut dyn PluginState,
        pod: &PodInfo,
        added: &Arc<PodInfo>,
        node: &NodeInfo,
    ) {
        if let Some(s) = state.as_any_mut().downcast_mut::<FilterState>() {
            s.update(pod, added, node, 1);
        }
    }

    fn remove_pod(
        &self,
        state: &mut dyn PluginState,
        pod: &PodInfo,
        removed: &Arc<PodInfo>,
        node: &NodeInfo,
    ) {
        if let Some(s) = state.as_any_mut().downcast_mut::<FilterState>() {
            s.update(pod, removed, node, -1);
        }
    }

    fn filter(
        &self,
        state: Option<&dyn PluginState>,
        _pod: &PodInfo,
        node: &NodeInfo,
    ) -> Result<(), Status> {
        // No state: the pod has no DoNotSchedule constraint (upstream's Skip).
        let Some(s) = state_of::<FilterState>(state) else {
            return Ok(());
        };
        let labels = node.labels();
        for (i, c) in s.constraints.iter().enumerate() {
            let Some(value) = labels.get(&c.topology_key) else {
                return Err(Status::unresolvable(NAME, MISSING_LABEL_REASON));
            };
            let own = i64::from(s.self_match.get(i).copied().unwrap_or(false));
            let limit = c.max_skew + s.min_match(i, c) - own;
            if s.highest.get(i).is_some_and(|h| *h <= limit) {
                continue;
            }
            let matching = s
                .counts
                .get(i)
                .and_then(|d| d.get(value))
                .copied()
                .unwrap_or(0);
            if matching > limit {
                return Err(Status::unschedulable(NAME, CONSTRAINTS_REASON));
            }
        }
        Ok(())
    }

    fn pre_score(
        &self,
        pod: &PodInfo,
        snapshot: &Snapshot,
        feasible: &[Arc<NodeInfo>],
    ) -> Result<Option<Box<dyn PluginState>>, Status> {
        let own = !own_constraints(pod).is_empty();
        if snapshot.nodes.is_empty() || (!own && !self.has_defaults_for(SCHEDULE_ANYWAY)) {
            return Ok(None);
        }
        let constraints = self.constraints_of(pod, SCHEDULE_ANYWAY).map_err(|e| {
            Status::error(
                NAME,
                format!("calculating preScoreState: obtaining pod's soft topology spread constraints: {e}"),
            )
        })?;
        if constraints.is_empty() {
            return Ok(None);
        }
        // The system's defaults still score hostname spreading on nodes without a zone.
        let require_all = own || !self.system_defaulted;
        let mut ignored = HashSet::new();
        let mut counts: Vec<HashMap<String, i64>> = vec![HashMap::new(); constraints.len()];
        for n in feasible {
            let labels = n.labels();
            if require_all && !has_all_keys(labels, &constraints) {
                ignored.insert(n.name.clone());
                continue;
            }
            for (c, domains) in constraints.iter().zip(counts.iter_mut()) {
                if c.topology_key == HOSTNAME_KEY {
                    continue;
                }
                let value = labels.get(&c.topology_key).map_or("", String::as_str);
                if !domains.contains_key(value) {
                    domains.insert(value.to_string(), 0);
                }
            }
        }
        let weights = constraints
            .iter()
            .zip(&counts)
            .map(|(c, domains)| {
                let size = if c.topology_key == HOSTNAME_KEY {
                    feasible.len().saturating_sub(ignored.len())
                } else {
                    domains.len()
                };
                // Node and domain counts are far below 2^52: the conversion is exact.
                ((size + 2) as f64).ln()
            })
            .collect();
        let mut index = self.index.lock().unwrap_or_else(PoisonError::into_inner);
        index.refresh(&snapshot.nodes);
        for (c, domains) in constraints.iter().zip(counts.iter_mut()) {
            // Hostname counts come in Score; an empty selector counts nothing.
            if c.topology_key == HOSTNAME_KEY || c.selector.is_empty() || domains.is_empty() {
                continue;
            }
            for pos in index
                .for_selector(&c.selector)
                .positions(snapshot.nodes.len())
            {
                let Some(n) = snapshot.nodes.get(pos) else {
                    continue;
                };
                let labels = n.labels();
                if require_all && !has_all_keys(labels, &constraints) {
                    continue;
                }
                let value = labels.get(&c.topology_key).map_or("", String::as_str);
                // Only domains of feasible nodes are counted.
                let Some(count) = domains.get_mut(value) else {
                    continue;
                };
                if Inclusion::new(pod, n).includes(c) {
                    *count += count_matching(&n.pods, &c.selector, &pod.namespace);
                }
            }
        }
        drop(index);
        Ok(Some(Box::new(ScoreState {
            constraints,
            ignored,
            counts,
            weights,
        })))
    }

    fn score(&self, state: Option<&dyn PluginState>, pod: &PodInfo, node: &NodeInfo) -> i64 {
        let Some(s) = state_of::<ScoreState>(state) else {
            return 0;
        };
        if s.ignored.contains(&node.name) {
            return IGNORED;
        }
        let labels = node.labels();
        let mut score = 0.0;
        for (i, c) in s.constraints.iter().enumerate() {
            let Some(value) = labels.get(&c.topology_key) else {
                continue;
            };
            let count = if c.topology_key == HOSTNAME_KEY {
                count_matching(&node.pods, &c.selector, &pod.namespace)
            } else {
                s.counts
                    .get(i)
                    .and_then(|d| d.get(value))
                    .copied()
                    .unwrap_or(0)
            };
            let weight = s.weights.get(i).copied().unwrap_or(0.0);
            // Pod counts and skews are far below 2^52: exact as f64.
            score += count as f64 * weight + (c.max_skew - 1) as f64;
        }
        // Upstream rounds half away from zero to int64, as `round` and the cast do here.
        score.round() as i64
    }

    fn normalize(&self, state: Option<&dyn PluginState>, scores: &mut [i64]) {
        if state_of::<ScoreState>(state).is_none() {
            return;
        }
        normalize_spread(scores);
    }
}

/// Upstream's PodTopologySpread NormalizeScore: ignored nodes get 0; otherwise
/// `100 * (max + min - score) / max`, or 100 for all when the highest is 0.
fn normalize_spread(scores: &mut [i64]) {
    let valid = || scores.iter().copied().filter(|s| *s != IGNORED);
    let min = valid().min().unwrap_or(i64::MAX);
    let max = valid().max().unwrap_or(0).max(0);
    for s in scores.iter_mut() {
        *s = if *s == IGNORED {
            0
        } else if max == 0 {
            MAX_NODE_SCORE
        } else {
            MAX_NODE_SCORE * (max + min - *s) / max
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Code;
    use crate::plugins::testing::{node, pod};
    use serde_json::{json, Value};

    fn zoned(name: &str, zone: &str) -> NodeInfo {
        node(json!({"metadata": {"name": name, "labels": {ZONE_KEY: zone, HOSTNAME_KEY: name}}}))
    }

    fn app(name: &str, node: &str, app: &str) -> Arc<PodInfo> {
        pod(
            json!({"metadata": {"name": name, "uid": name, "labels": {"app": app}},
            "spec": {"nodeName": node}}),
        )
    }

    fn with_pods(mut n: NodeInfo, pods: &[Arc<PodInfo>]) -> NodeInfo {
        for p in pods {
            n.add_pod(p.clone());
        }
        n
    }

    fn spread(key: &str, skew: i32, when: &str, extra: Value) -> Value {
        let mut c = json!({"maxSkew": skew, "topologyKey": key, "whenUnsatisfiable": when,
            "labelSelector": {"matchLabels": {"app": "web"}}});
        if let (Some(c), Value::Object(extra)) = (c.as_object_mut(), extra) {
            c.extend(extra);
        }
        c
    }

    fn web(constraints: Value) -> Arc<PodInfo> {
        pod(json!({"metadata": {"labels": {"app": "web"}},
            "spec": {"topologySpreadConstraints": constraints}}))
    }

    fn snapshot(nodes: Vec<NodeInfo>) -> Snapshot {
        Snapshot::new(nodes.into_iter().map(Arc::new).collect())
    }

    /// Each node's Filter refusal (None: it fits), with whether it is unresolvable.
    fn verdicts(
        plugin: &PodTopologySpread,
        p: &PodInfo,
        snap: &Snapshot,
    ) -> Vec<Option<(String, bool)>> {
        let state = plugin.pre_filter(p, snap).ok().and_then(|o| o.state);
        snap.nodes
            .iter()
            .map(|n| {
                plugin
                    .filter(state.as_deref(), p, n)
                    .err()
                    .map(|e| (e.message(), e.code == Code::UnschedulableAndUnresolvable))
            })
            .collect()
    }

    fn fits(v: &[Option<(String, bool)>]) -> Vec<bool> {
        v.iter().map(Option::is_none).collect()
    }

    #[test]
    fn pod_topology_spread_max_skew_one_refuses_the_fuller_zone() {
        let snap = snapshot(vec![
            with_pods(zoned("a", "z1"), &[app("w1", "a", "web")]),
            zoned("b", "z1"),
            zoned("c", "z2"),
        ]);
        let p = web(json!([spread(ZONE_KEY, 1, DO_NOT_SCHEDULE, json!({}))]));
        let v = verdicts(&PodTopologySpread::default(), &p, &snap);
        // z1 has 1, z2 has 0: 1 + 1 - 0 = 2 > 1.
        assert_eq!(fits(&v), [false, false, true]);
        assert_eq!(v[0], Some((CONSTRAINTS_REASON.to_string(), false)));
        // Pods of other apps and other namespaces do not count.
        let snap = snapshot(vec![
            with_pods(
                zoned("a", "z1"),
                &[
                    app("x", "a", "api"),
                    pod(
                        json!({"metadata": {"name": "o", "uid": "o", "namespace": "other",
                        "labels": {"app": "web"}}, "spec": {"nodeName": "a"}}),
                    ),
                ],
            ),
            zoned("c", "z2"),
        ]);
        assert_eq!(
            fits(&verdicts(&PodTopologySpread::default(), &p, &snap)),
            [true, true]
        );
    }

    #[test]
    fn pod_topology_spread_nodes_missing_the_key_are_unresolvable_and_do_not_count() {
        let bare = with_pods(
            node(json!({"metadata": {"name": "d"}})),
            &[app("w0", "d", "web"), app("w00", "d", "web")],
        );
        let snap = snapshot(vec![zoned("a", "z1"), bare]);
        let p = web(json!([spread(ZONE_KEY, 1, DO_NOT_SCHEDULE, json!({}))]));
        let v = verdicts(&PodTopologySpread::default(), &p, &snap);
        assert_eq!(v[0], None, "the unlabelled node's pods are not counted");
        assert_eq!(v[1], Some((MISSING_LABEL_REASON.to_string(), true)));
    }

    #[test]
    fn pod_topology_spread_min_domains_counts_missing_domains_as_empty() {
        // Two zones with one pod each: fine with maxSkew 1, unless 3 domains are required,
        // when the global minimum is taken as 0.
        let snap = snapshot(vec![
            with_pods(zoned("a", "z1"), &[app("w1", "a", "web")]),
            with_pods(zoned("b", "z2"), &[app("w2", "b", "web")]),
        ]);
        let loose = web(json!([spread(ZONE_KEY, 1, DO_NOT_SCHEDULE, json!({}))]));
        assert_eq!(
            fits(&verdicts(&PodTopologySpread::default(), &loose, &snap)),
            [true, true]
        );
        let strict = web(json!([spread(
            ZONE_KEY,
            1,
            DO_NOT_SCHEDULE,
            json!({"minDomains": 3})
        )]));
        assert_eq!(
            fits(&verdicts(&PodTopologySpread::default(), &strict, &snap)),
            [false, false]
        );
        let two = web(json!([spread(
            ZONE_KEY,
            1,
            DO_NOT_SCHEDULE,
            json!({"minDomains": 2})
        )]));
        assert_eq!(
            fits(&verdicts(&PodTopologySpread::default(), &two, &snap)),
            [true, true]
        );
    }

    #[test]
    fn pod_topology_spread_node_affinity_policy_honor_leaves_unpicked_nodes_out() {
        // z2's only node is outside the pod's nodeSelector: with Honor (the default) z2 is no
        // domain, so z1's pod does not make z1 the fuller one.
        let a = with_pods(
            node(json!({"metadata": {"name": "a", "labels": {ZONE_KEY: "z1", "pool": "x"}}})),
            &[app("w1", "a", "web")],
        );
        let b = node(json!({"metadata": {"name": "b", "labels": {ZONE_KEY: "z2"}}}));
        let snap = snapshot(vec![a, b]);
        let honor = pod(json!({"metadata": {"labels": {"app": "web"}}, "spec": {
            "nodeSelector": {"pool": "x"},
            "topologySpreadConstraints": [spread(ZONE_KEY, 1, DO_NOT_SCHEDULE, json!({}))]}}));
        assert!(fits(&verdicts(&PodTopologySpread::default(), &honor, &snap))[0]);
        let ignore = pod(json!({"metadata": {"labels": {"app": "web"}}, "spec": {
            "nodeSelector": {"pool": "x"},
            "topologySpreadConstraints": [spread(ZONE_KEY, 1, DO_NOT_SCHEDULE,
                json!({"nodeAffinityPolicy": "Ignore"}))]}}));
        assert!(!fits(&verdicts(&PodTopologySpread::default(), &ignore, &snap))[0]);
    }

    #[test]
    fn pod_topology_spread_node_taints_policy_honor_leaves_untolerated_nodes_out() {
        let a = with_pods(zoned("a", "z1"), &[app("w1", "a", "web")]);
        let b = node(
            json!({"metadata": {"name": "b", "labels": {ZONE_KEY: "z2"}},
            "spec": {"taints": [{"key": "gpu", "effect": "NoSchedule"}]}}),
        );
        let snap = snapshot(vec![a, b]);
        // Ignore (the default): z2 counts as an empty domain, so z1 is too full.
        let ignore = web(json!([spread(ZONE_KEY, 1, DO_NOT_SCHEDULE, json!({}))]));
        assert!(!fits(&verdicts(&PodTopologySpread::default(), &ignore, &snap))[0]);
        let honor = web(json!([spread(
            ZONE_KEY,
            1,
            DO_NOT_SCHEDULE,
            json!({"nodeTaintsPolicy": "Honor"})
        )]));
        assert!(fits(&verdicts(&PodTopologySpread::default(), &honor, &snap))[0]);
    }

    #[test]
    fn pod_topology_spread_match_label_keys_counts_only_the_same_revision() {
        let rev = |name: &str, node: &str, r: &str| {
            pod(
                json!({"metadata": {"name": name, "uid": name, "labels": {"app": "web", "rev": r}},
                "spec": {"nodeName": node}}),
            )
        };
        let snap = snapshot(vec![
            with_pods(
                zoned("a", "z1"),
                &[rev("old1", "a", "1"), rev("old2", "a", "1")],
            ),
            zoned("b", "z2"),
        ]);
        let p = pod(
            json!({"metadata": {"labels": {"app": "web", "rev": "2"}}, "spec": {
            "topologySpreadConstraints": [spread(ZONE_KEY, 1, DO_NOT_SCHEDULE,
                json!({"matchLabelKeys": ["rev"]}))]}}),
        );
        assert_eq!(
            fits(&verdicts(&PodTopologySpread::default(), &p, &snap)),
            [true, true]
        );
        let without = web(json!([spread(ZONE_KEY, 1, DO_NOT_SCHEDULE, json!({}))]));
        assert_eq!(
            fits(&verdicts(&PodTopologySpread::default(), &without, &snap)),
            [false, true]
        );
    }

    #[test]
    fn pod_topology_spread_add_pod_and_remove_pod_update_the_counts_for_preemption() {
        let victim = app("w1", "a", "web");
        let a = with_pods(zoned("a", "z1"), std::slice::from_ref(&victim));
        let snap = snapshot(vec![a.clone(), zoned("c", "z2")]);
        let p = web(json!([spread(ZONE_KEY, 1, DO_NOT_SCHEDULE, json!({}))]));
        let plugin = PodTopologySpread::default();
        let Some(mut state) = plugin.pre_filter(&p, &snap).ok().and_then(|o| o.state) else {
            panic!("state expected");
        };
        assert!(plugin.filter(Some(state.as_ref()), &p, &a).is_err());
        let mut without = a.clone();
        without.remove_pod(&victim.uid);
        plugin.remove_pod(state.as_mut(), &p, &victim, &without);
        assert!(plugin.filter(Some(state.as_ref()), &p, &without).is_ok());
        // Two pods nominated to z2 make z2 the fuller zone.
        let c = zoned("c", "z2");
        for n in ["n1", "n2"] {
            plugin.add_pod(state.as_mut(), &p, &app(n, "c", "web"), &c);
        }
        assert!(plugin.filter(Some(state.as_ref()), &p, &c).is_err());
        assert!(plugin.filter(Some(state.as_ref()), &p, &without).is_ok());
    }

    #[test]
    fn pod_topology_spread_pods_without_constraints_or_owners_skip() {
        let snap = snapshot(vec![zoned("a", "z1")]);
        let plain = pod(json!({"metadata": {"labels": {"app": "web"}}}));
        let plugin = PodTopologySpread::default();
        assert!(plugin
            .pre_filter(&plain, &snap)
            .ok()
            .is_some_and(|o| o.state.is_none()));
        // No Service or controller selects it: no default constraints, nothing to score.
        assert!(plugin
            .pre_score(&plain, &snap, &snap.nodes)
            .ok()
            .flatten()
            .is_none());
    }

    fn scored(plugin: &PodTopologySpread, p: &PodInfo, snap: &Snapshot) -> (Vec<i64>, Vec<i64>) {
        crate::plugins::testing::raw_and_normalized(plugin, p, snap)
    }

    #[test]
    fn pod_topology_spread_scores_schedule_anyway_constraints_emptier_zones_higher() {
        // z1: 3 web pods over a, b; z2: 1 on c; d has no zone.
        let snap = snapshot(vec![
            with_pods(
                zoned("a", "z1"),
                &[app("w1", "a", "web"), app("w2", "a", "web")],
            ),
            with_pods(zoned("b", "z1"), &[app("w3", "b", "web")]),
            with_pods(zoned("c", "z2"), &[app("w4", "c", "web")]),
            node(json!({"metadata": {"name": "d"}})),
        ]);
        let p = web(json!([spread(ZONE_KEY, 1, SCHEDULE_ANYWAY, json!({}))]));
        let (raw, normalized) = scored(&PodTopologySpread::default(), &p, &snap);
        // Two zones among the scored nodes: weight ln(4). z1: round(3 ln4) = round(4.159) = 4;
        // z2: round(1.386) = 1; d lacks the key: ignored.
        assert_eq!(raw, [4, 4, 1, IGNORED]);
        // min 1, max 4: 100 * (4 + 1 - s) / 4.
        assert_eq!(normalized, [25, 25, 100, 0]);
    }

    #[test]
    fn pod_topology_spread_system_defaults_apply_to_pods_a_service_selects() {
        let snap = snapshot(vec![
            with_pods(
                zoned("a", "z1"),
                &[app("w1", "a", "web"), app("w2", "a", "web")],
            ),
            with_pods(zoned("b", "z2"), &[app("w3", "b", "web")]),
            zoned("c", "z2"),
        ]);
        let selector: DefaultSelector = Arc::new(|p: &PodInfo| {
            if p.labels.get("app").map(String::as_str) == Some("web") {
                Selector::from_set(&BTreeMap::from([("app".to_string(), "web".to_string())]))
            } else {
                Selector::All(Vec::new())
            }
        });
        let plugin = PodTopologySpread::default().with_default_selector(selector);
        let p = pod(json!({"metadata": {"labels": {"app": "web"}}}));
        let (raw, normalized) = scored(&plugin, &p, &snap);
        // hostname (maxSkew 3, 3 nodes: ln 5) + zone (maxSkew 5, 2 zones: ln 4):
        // a: 2 ln5 + 2 + 2 ln4 + 4 = 3.219 + 2 + 2.773 + 4 = 11.99 → 12
        // b: 1 ln5 + 2 + 1 ln4 + 4 = 1.609 + 2 + 1.386 + 4 = 8.996 → 9
        // c: 0 + 2 + 1 ln4 + 4 = 7.386 → 7
        assert_eq!(raw, [12, 9, 7]);
        // min 7, max 12: 100 * (19 - s) / 12.
        assert_eq!(normalized, [58, 83, 100]);
        // Filter has nothing to do for the system's (ScheduleAnyway) defaults.
        assert!(plugin
            .pre_filter(&p, &snap)
            .ok()
            .is_some_and(|o| o.state.is_none()));
        let other = pod(json!({"metadata": {"labels": {"app": "api"}}}));
        assert!(plugin
            .pre_score(&other, &snap, &snap.nodes)
            .ok()
            .flatten()
            .is_none());
    }

    #[test]
    fn pod_topology_spread_list_defaults_with_do_not_schedule_filter() {
        let snap = snapshot(vec![
            with_pods(zoned("a", "z1"), &[app("w1", "a", "web")]),
            zoned("b", "z2"),
        ]);
        let defaults: Vec<TopologySpreadConstraint> = serde_json::from_value(json!([
            {"maxSkew": 1, "topologyKey": ZONE_KEY, "whenUnsatisfiable": DO_NOT_SCHEDULE}]))
        .unwrap_or_default();
        let selector: DefaultSelector = Arc::new(|_: &PodInfo| {
            Selector::from_set(&BTreeMap::from([("app".to_string(), "web".to_string())]))
        });
        let plugin = PodTopologySpread::new(defaults, false).with_default_selector(selector);
        let p = pod(json!({"metadata": {"labels": {"app": "web"}}}));
        assert_eq!(fits(&verdicts(&plugin, &p, &snap)), [false, true]);
    }

    #[test]
    fn pod_topology_spread_default_selector_merges_services_and_the_owning_replica_set() {
        use kube::runtime::reflector::store;
        use kube::runtime::watcher::Event;
        fn cache<K>(objects: Vec<Value>) -> Store<K>
        where
            K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + 'static,
        {
            let (reader, mut writer) = store::<K>();
            for o in objects {
                if let Ok(o) = serde_json::from_value::<K>(o) {
                    writer.apply_watcher_event(&Event::Apply(o));
                }
            }
            reader
        }
        let listers = Listers {
            services: cache(vec![
                json!({"metadata": {"name": "web", "namespace": "default"}, "spec": {"selector": {"app": "web"}}}),
                json!({"metadata": {"name": "other", "namespace": "default"}, "spec": {"selector": {"app": "api"}}}),
                json!({"metadata": {"name": "elsewhere", "namespace": "prod"}, "spec": {"selector": {"app": "web"}}}),
            ]),
            controllers: cache(Vec::new()),
            replica_sets: cache(vec![
                json!({"metadata": {"name": "web-1", "namespace": "default"},
                "spec": {"selector": {"matchExpressions": [{"key": "tier", "operator": "Exists"}]}}}),
            ]),
            stateful_sets: cache(Vec::new()),
        };
        let owned = pod(
            json!({"metadata": {"labels": {"app": "web", "tier": "f"}, "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "uid": "u", "controller": true}]}}),
        );
        let sel = selector_of_owners(&listers, &owned);
        assert_eq!(
            sel,
            Selector::All(vec![
                Requirement::equals("app", "web"),
                Requirement {
                    key: "tier".into(),
                    op: crate::plugins::label_selector::Op::Exists,
                    values: Vec::new()
                }
            ])
        );
        let loose = pod(json!({"metadata": {"labels": {"app": "batch"}}}));
        assert!(selector_of_owners(&listers, &loose).is_empty());
    }

    #[test]
    fn pod_topology_spread_args_default_to_system_and_are_validated_as_upstream() {
        use crate::plugin_args::pod_topology_spread as args;
        let system = args(None).ok();
        assert!(system.is_some_and(|p| p.system_defaulted && p.default_constraints.len() == 2));
        let list = args(Some(
            &json!({"defaultingType": "List", "defaultConstraints": [
            {"maxSkew": 1, "topologyKey": ZONE_KEY, "whenUnsatisfiable": "DoNotSchedule"}]}),
        ))
        .ok();
        assert!(list.is_some_and(|p| !p.system_defaulted && p.default_constraints.len() == 1));
        let err = |v: Value| {
            args(Some(&v))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert_eq!(
            err(json!({"defaultConstraints": [
                {"maxSkew": 1, "topologyKey": ZONE_KEY, "whenUnsatisfiable": "DoNotSchedule"}]})),
            "defaultingType: Invalid value: \"System\": when .defaultConstraints are not empty"
        );
        assert_eq!(
            err(json!({"defaultingType": "Zone"})),
            "defaultingType: Unsupported value: \"Zone\": supported values: \"System\", \"List\""
        );
        assert_eq!(
            err(json!({"defaultingType": "List", "defaultConstraints": [
                {"maxSkew": 0, "topologyKey": ZONE_KEY, "whenUnsatisfiable": "DoNotSchedule"}]})),
            "defaultConstraints[0].maxSkew: Invalid value: 0: not in valid range (0, inf)"
        );
        assert_eq!(
            err(json!({"defaultingType": "List", "defaultConstraints": [
                {"maxSkew": 1, "topologyKey": ZONE_KEY, "whenUnsatisfiable": "DoNotSchedule",
                 "labelSelector": {}}]})),
            "defaultConstraints[0].labelSelector: Forbidden: constraint must not define a selector, as they deduced for each pod"
        );
        assert_eq!(
            err(json!({"defaultingType": "List", "defaultConstraints": [
                {"maxSkew": 1, "topologyKey": ZONE_KEY, "whenUnsatisfiable": "DoNotSchedule"},
                {"maxSkew": 2, "topologyKey": ZONE_KEY, "whenUnsatisfiable": "DoNotSchedule"}]})),
            "defaultConstraints[1]: Duplicate value: \"{topology.kubernetes.io/zone, DoNotSchedule}\""
        );
    }

    #[test]
    fn pod_topology_spread_critical_paths_keep_the_minimum_first() {
        let mut p = CriticalPaths::new();
        for (v, n) in [("a", 3), ("b", 1), ("c", 2)] {
            p.update(v, n);
        }
        assert_eq!(p.0[0], ("b".to_string(), 1));
        p.update("b", 4);
        assert_eq!(p.0[0].1, 2);
    }
}
