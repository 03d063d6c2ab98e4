//! InterPodAffinity (kube-scheduler 1.33): where a pod may go, and where it would rather go,
//! given the pods already running.
//!
//! Filter, from topology-pair counts PreFilter takes once per cycle:
//! - every required pod-affinity term needs a node whose value of the term's topology key is
//!   shared by a node running a pod that matches *all* the terms; a node lacking a term's
//!   topology key never fits (UnschedulableAndUnresolvable). The first pod of a group that is
//!   affine to itself may go anywhere the keys exist, when no pod matches yet;
//! - a required anti-affinity term refuses nodes in a topology domain that runs a pod it
//!   matches, and an existing pod's required anti-affinity term matching the incoming pod
//!   refuses the nodes of its domain (both Unschedulable: evicting the pod could help).
//!
//! A term selects pods by its label selector (merged with `matchLabelKeys`/`mismatchLabelKeys`
//! against its own pod's labels, as kube-apiserver does at creation) in its namespaces: those
//! listed, those its `namespaceSelector` picks (read through the namespace-labels lookup), or
//! its own pod's when neither is given.
//!
//! Score: the incoming pod's preferred terms add (affinity) or take away (anti-affinity) their
//! weights for each matching pod in a domain, and so do existing pods' preferred terms that
//! match the incoming pod; existing pods' required affinity terms count
//! `hardPodAffinityWeight`. Scores are spread min-max over 0..=100.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use capstan_controllers::informers::Informers;
use k8s_openapi::api::core::v1::{Namespace, PodAffinityTerm, WeightedPodAffinityTerm};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::runtime::reflector::{ObjectRef, Store};

use crate::framework::{Plugin, PluginState, Points, PreFiltered, Status, MAX_NODE_SCORE};
use crate::node_info::NodeInfo;
use crate::plugins::label_selector;
use crate::plugins::pod_index::{Candidates, PodIndex};
use crate::pod_info::PodInfo;
use crate::snapshot::Snapshot;

pub const NAME: &str = "InterPodAffinity";
pub const AFFINITY_REASON: &str = "node(s) didn't match pod affinity rules";
pub const ANTI_AFFINITY_REASON: &str = "node(s) didn't match pod anti-affinity rules";
pub const EXISTING_ANTI_AFFINITY_REASON: &str =
    "node(s) didn't satisfy existing pods anti-affinity rules";
/// InterPodAffinityArgs' `hardPodAffinityWeight` default.
pub const DEFAULT_HARD_POD_AFFINITY_WEIGHT: i32 = 1;

/// A namespace's labels, `None` when there is no such namespace.
pub type NamespaceLabels = Arc<dyn Fn(&str) -> Option<BTreeMap<String, String>> + Send + Sync>;

pub struct InterPodAffinity {
    /// The score an existing pod's required affinity term matching the incoming pod adds.
    pub hard_pod_affinity_weight: i32,
    /// Existing pods' preferred terms count only for pods with preferred terms of their own.
    pub ignore_preferred_terms_of_existing_pods: bool,
    namespace_labels: NamespaceLabels,
    /// The Namespace informer's cache the default lookup reads, set by `attach`.
    namespaces: Arc<OnceLock<Store<Namespace>>>,
    /// The snapshot's pods by label and by anti-affinity term, kept across cycles.
    index: Mutex<PodIndex>,
}

impl Default for InterPodAffinity {
    fn default() -> Self {
        InterPodAffinity::new(DEFAULT_HARD_POD_AFFINITY_WEIGHT, false)
    }
}

impl InterPodAffinity {
    /// Namespace labels come from the scheduler's Namespace informer (see `attach`).
    pub fn new(hard_pod_affinity_weight: i32, ignore_preferred: bool) -> InterPodAffinity {
        let namespaces: Arc<OnceLock<Store<Namespace>>> = Arc::default();
        let store = namespaces.clone();
        let lookup: NamespaceLabels = Arc::new(move |name: &str| {
            let ns = store.get()?.get(&ObjectRef::new(name))?;
            Some(ns.metadata.labels.clone().unwrap_or_default())
        });
        InterPodAffinity {
            hard_pod_affinity_weight,
            ignore_preferred_terms_of_existing_pods: ignore_preferred,
            namespace_labels: lookup,
            namespaces,
            index: Mutex::default(),
        }
    }

    /// Namespace labels read through `lookup` instead.
    pub fn with_namespace_labels(mut self, lookup: NamespaceLabels) -> InterPodAffinity {
        self.namespace_labels = lookup;
        self
    }

    fn namespace_labels_of(&self, ns: &str) -> BTreeMap<String, String> {
        (self.namespace_labels)(ns).unwrap_or_default()
    }
}

/// One list of the pod's affinity terms, picked from its affinity (empty when absent).
fn terms<'a, T>(
    p: &'a PodInfo,
    pick: impl Fn(&'a k8s_openapi::api::core::v1::Affinity) -> Option<&'a Vec<T>>,
) -> &'a [T] {
    p.spec()
        .and_then(|s| s.affinity.as_ref())
        .and_then(pick)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

pub(crate) fn required_affinity(p: &PodInfo) -> &[PodAffinityTerm] {
    terms(p, |a| {
        a.pod_affinity
            .as_ref()?
            .required_during_scheduling_ignored_during_execution
            .as_ref()
    })
}

pub(crate) fn required_anti_affinity(p: &PodInfo) -> &[PodAffinityTerm] {
    terms(p, |a| {
        a.pod_anti_affinity
            .as_ref()?
            .required_during_scheduling_ignored_during_execution
            .as_ref()
    })
}

pub(crate) fn preferred_affinity(p: &PodInfo) -> &[WeightedPodAffinityTerm] {
    terms(p, |a| {
        a.pod_affinity
            .as_ref()?
            .preferred_during_scheduling_ignored_during_execution
            .as_ref()
    })
}

pub(crate) fn preferred_anti_affinity(p: &PodInfo) -> &[WeightedPodAffinityTerm] {
    terms(p, |a| {
        a.pod_anti_affinity
            .as_ref()?
            .preferred_during_scheduling_ignored_during_execution
            .as_ref()
    })
}

/// Why one of the pod's terms cannot be read (upstream's PodInfo parse error).
fn parse_error(p: &PodInfo) -> Option<String> {
    let check = |what: &str, t: &PodAffinityTerm| -> Option<String> {
        t.label_selector
            .iter()
            .chain(t.namespace_selector.iter())
            .find_map(|s| label_selector::validate(s).err())
            .map(|e| format!("{what}: {e}"))
    };
    required_affinity(p)
        .iter()
        .find_map(|t| check("requiredAffinityTerms", t))
        .or_else(|| {
            required_anti_affinity(p)
                .iter()
                .find_map(|t| check("requiredAntiAffinityTerms", t))
        })
        .or_else(|| {
            preferred_affinity(p)
                .iter()
                .find_map(|t| check("preferredAffinityTerms", &t.pod_affinity_term))
        })
        .or_else(|| {
            preferred_anti_affinity(p)
                .iter()
                .find_map(|t| check("preferredAntiAffinityTerms", &t.pod_affinity_term))
        })
}

/// Whether the term's label selector (with its `matchLabelKeys`/`mismatchLabelKeys` taken from
/// `owner_labels`) selects `labels`. A term without a selector selects nothing.
fn labels_selected(
    term: &PodAffinityTerm,
    owner_labels: &BTreeMap<String, String>,
    labels: &BTreeMap<String, String>,
) -> bool {
    let Some(sel) = &term.label_selector else {
        return false;
    };
    if !label_selector::matches(sel, labels) {
        return false;
    }
    let same = |k: &String| owner_labels.get(k).map(|v| labels.get(k) == Some(v));
    term.match_label_keys
        .iter()
        .flatten()
        .all(|k| same(k) != Some(false))
        && term
            .mismatch_label_keys
            .iter()
            .flatten()
            .all(|k| same(k) != Some(true))
}

/// Whether `term`, of a pod in `owner_ns`, covers `ns`: listed, or picked by its namespace
/// selector (`by_selector` reads the namespace's labels), or the owner's own namespace when
/// the term names neither.
fn namespace_selected(
    term: &PodAffinityTerm,
    owner_ns: &str,
    ns: &str,
    by_selector: impl FnOnce(&LabelSelector) -> bool,
) -> bool {
    let listed = term.namespaces.as_deref().unwrap_or_default();
    match &term.namespace_selector {
        None if listed.is_empty() => ns == owner_ns,
        sel => listed.iter().any(|n| n == ns) || sel.as_ref().is_some_and(by_selector),
    }
}

/// Whether an existing pod's `term` selects the incoming `target`, whose namespace has
/// `target_ns_labels` (empty when the namespace is unknown).
fn existing_term_selects(
    term: &PodAffinityTerm,
    owner: &PodInfo,
    target: &PodInfo,
    target_ns_labels: &BTreeMap<String, String>,
) -> bool {
    namespace_selected(term, &owner.namespace, &target.namespace, |s| {
        label_selector::matches(s, target_ns_labels)
    }) && labels_selected(term, &owner.labels, &target.labels)
}

/// Namespace labels looked up at most once per namespace in a cycle.
struct NamespaceMemo<'a> {
    lookup: &'a NamespaceLabels,
    seen: HashMap<String, Option<BTreeMap<String, String>>>,
}

impl<'a> NamespaceMemo<'a> {
    fn new(lookup: &'a NamespaceLabels) -> NamespaceMemo<'a> {
        NamespaceMemo {
            lookup,
            seen: HashMap::new(),
        }
    }

    /// Whether an incoming pod's namespace selector picks `ns`: an empty selector picks every
    /// namespace; another only namespaces that exist (upstream lists them once per cycle).
    fn picks(&mut self, sel: &LabelSelector, ns: &str) -> bool {
        if label_selector::is_empty(sel) {
            return true;
        }
        if !self.seen.contains_key(ns) {
            self.seen.insert(ns.to_string(), (self.lookup)(ns));
        }
        self.seen
            .get(ns)
            .and_then(Option::as_ref)
            .is_some_and(|labels| label_selector::matches(sel, labels))
    }
}

/// The incoming pod as Filter and preemption's what-ifs read it.
struct Incoming {
    namespace: String,
    labels: BTreeMap<String, String>,
    affinity: Vec<PodAffinityTerm>,
    anti_affinity: Vec<PodAffinityTerm>,
    /// Whether the pod matches all its own affinity terms (it may be the first of its group).
    matches_own_affinity: bool,
}

impl Incoming {
    /// Whether one of the incoming pod's terms selects the existing pod `p`.
    fn selects(&self, term: &PodAffinityTerm, p: &PodInfo, memo: &mut NamespaceMemo<'_>) -> bool {
        namespace_selected(term, &self.namespace, &p.namespace, |s| {
            memo.picks(s, &p.namespace)
        }) && labels_selected(term, &self.labels, &p.labels)
    }

    /// Upstream's `podMatchesAllAffinityTerms` (false without terms).
    fn all_affinity_select(&self, p: &PodInfo, memo: &mut NamespaceMemo<'_>) -> bool {
        !self.affinity.is_empty() && self.affinity.iter().all(|t| self.selects(t, p, memo))
    }
}

/// Pods counted per topology pair (key → value → count); pairs at zero are dropped, so an
/// empty map means no pod counts anywhere.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct TopologyCounts(HashMap<String, HashMap<String, i64>>);

impl TopologyCounts {
    /// Adds `delta` to the pair of `key` on a node with `labels` (nothing when it lacks `key`).
    fn add_on(&mut self, labels: &BTreeMap<String, String>, key: &str, delta: i64) {
        let Some(value) = labels.get(key) else {
            return;
        };
        let values = match self.0.get_mut(key) {
            Some(v) => v,
            None => self.0.entry(key.to_string()).or_default(),
        };
        let count = match values.get_mut(value) {
            Some(c) => c,
            None => values.entry(value.clone()).or_insert(0),
        };
        *count += delta;
        if *count == 0 {
            values.remove(value);
            if values.is_empty() {
                self.0.remove(key);
            }
        }
    }

    fn get(&self, key: &str, value: &str) -> i64 {
        self.0
            .get(key)
            .and_then(|v| v.get(value))
            .copied()
            .unwrap_or(0)
    }

    /// The count of the node's pair for `key`, if the node has the key.
    fn on(&self, labels: &BTreeMap<String, String>, key: &str) -> Option<i64> {
        labels.get(key).map(|v| self.get(key, v))
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// PreFilter's counts (upstream's `preFilterState`).
#[derive(Clone)]
struct FilterState {
    incoming: Arc<Incoming>,
    /// The incoming pod's namespace labels (existing pods' namespace selectors read them).
    namespace_labels: Arc<BTreeMap<String, String>>,
    /// Pods matching all the incoming pod's affinity terms, per pair of each term's key.
    affinity: TopologyCounts,
    /// Pods matching each of its anti-affinity terms, per pair of the term's key.
    anti_affinity: TopologyCounts,
    /// Existing pods whose required anti-affinity terms match the incoming pod.
    existing_anti_affinity: TopologyCounts,
}

impl FilterState {
    /// `p` runs on `node` (`delta` 1) or no longer does (-1): upstream's `updateWithPod`.
    fn update(
        &mut self,
        pod: &PodInfo,
        p: &PodInfo,
        node: &NodeInfo,
        delta: i64,
        memo: &mut NamespaceMemo<'_>,
    ) {
        let labels = node.labels();
        for t in required_anti_affinity(p) {
            if existing_term_selects(t, p, pod, &self.namespace_labels) {
                self.existing_anti_affinity
                    .add_on(labels, &t.topology_key, delta);
            }
        }
        let incoming = self.incoming.clone();
        if incoming.all_affinity_select(p, memo) {
            for t in &incoming.affinity {
                self.affinity.add_on(labels, &t.topology_key, delta);
            }
        }
        for t in &incoming.anti_affinity {
            if incoming.selects(t, p, memo) {
                self.anti_affinity.add_on(labels, &t.topology_key, delta);
            }
        }
    }

    /// Upstream's `satisfyPodAffinity`.
    fn affinity_fits(&self, labels: &BTreeMap<String, String>) -> bool {
        let mut pods_exist = true;
        for t in &self.incoming.affinity {
            match self.affinity.on(labels, &t.topology_key) {
                None => return false,
                Some(n) if n <= 0 => pods_exist = false,
                Some(_) => {}
            }
        }
        // The first pod of a group affine to itself: no pod matches anywhere yet.
        pods_exist || (self.affinity.is_empty() && self.incoming.matches_own_affinity)
    }

    /// Upstream's `satisfyPodAntiAffinity`.
    fn anti_affinity_fits(&self, labels: &BTreeMap<String, String>) -> bool {
        self.anti_affinity.is_empty()
            || !self
                .incoming
                .anti_affinity
                .iter()
                .any(|t| self.anti_affinity.on(labels, &t.topology_key).unwrap_or(0) > 0)
    }

    /// Upstream's `satisfyExistingPodsAntiAffinity`.
    fn existing_anti_affinity_fits(&self, labels: &BTreeMap<String, String>) -> bool {
        !self.existing_anti_affinity.0.iter().any(|(key, values)| {
            labels
                .get(key)
                .and_then(|v| values.get(v))
                .is_some_and(|n| *n > 0)
        })
    }
}

/// PreScore's sums: topology key → value → score.
#[derive(Clone, Default)]
struct ScoreState {
    scores: Vec<(String, HashMap<String, i64>)>,
}

#[derive(Default)]
struct ScoreSums {
    by_key: HashMap<String, HashMap<String, i64>>,
    any: bool,
}

impl ScoreSums {
    fn add_on(&mut self, labels: &BTreeMap<String, String>, key: &str, weight: i64) {
        let Some(value) = labels.get(key) else {
            return;
        };
        self.any = true;
        let values = match self.by_key.get_mut(key) {
            Some(v) => v,
            None => self.by_key.entry(key.to_string()).or_default(),
        };
        match values.get_mut(value) {
            Some(s) => *s += weight,
            None => {
                values.insert(value.clone(), weight);
            }
        }
    }
}

impl Plugin for InterPodAffinity {
    fn name(&self) -> &'static str {
        NAME
    }

    fn points(&self) -> Points {
        Points::FILTER.with_pre_filter().with_score()
    }

    fn attach(&self, informers: &Informers) {
        let _ = self
            .namespaces
            .set(informers.get::<Namespace>().store().clone());
    }

    fn pre_filter(&self, pod: &PodInfo, snapshot: &Snapshot) -> Result<PreFiltered, Status> {
        if pod.has_pod_affinity {
            if let Some(e) = parse_error(pod) {
                return Err(Status::unresolvable(NAME, format!("parsing pod: {e}")));
            }
        }
        let affinity = required_affinity(pod);
        let anti_affinity = required_anti_affinity(pod);
        let own_terms = !affinity.is_empty() || !anti_affinity.is_empty();
        if !own_terms && snapshot.pods_with_required_anti_affinity == 0 {
            return Ok(PreFiltered::skip());
        }
        let namespace_labels = self.namespace_labels_of(&pod.namespace);
        let mut index = self.index.lock().unwrap_or_else(PoisonError::into_inner);
        index.refresh(&snapshot.nodes);
        // Existing pods' required anti-affinity against the incoming pod, on the nodes whose
        // terms may select it.
        let mut existing_anti_affinity = TopologyCounts::default();
        for pos in index.anti_affinity_for(&pod.labels) {
            let Some(n) = snapshot.nodes.get(pos) else {
                continue;
            };
            let labels = n.labels();
            for p in n.pods.iter().filter(|p| p.has_required_anti_affinity) {
                for t in required_anti_affinity(p) {
                    if labels.contains_key(&t.topology_key)
                        && existing_term_selects(t, p, pod, &namespace_labels)
                    {
                        existing_anti_affinity.add_on(labels, &t.topology_key, 1);
                    }
                }
            }
        }
        if !own_terms && existing_anti_affinity.is_empty() {
            return Ok(PreFiltered::default());
        }
        let mut memo = NamespaceMemo::new(&self.namespace_labels);
        let mut incoming = Incoming {
            namespace: pod.namespace.clone(),
            labels: pod.labels.clone(),
            affinity: affinity.to_vec(),
            anti_affinity: anti_affinity.to_vec(),
            matches_own_affinity: false,
        };
        incoming.matches_own_affinity = incoming.all_affinity_select(pod, &mut memo);
        let mut state = FilterState {
            incoming: Arc::new(incoming),
            namespace_labels: Arc::new(namespace_labels),
            affinity: TopologyCounts::default(),
            anti_affinity: TopologyCounts::default(),
            existing_anti_affinity,
        };
        let incoming = state.incoming.clone();
        let len = snapshot.nodes.len();
        if !incoming.affinity.is_empty() {
            // A pod matching every term carries the labels each term's matchLabels names.
            let candidates = incoming
                .affinity
                .iter()
                .map(|t| index.for_term(t))
                .find(|c| matches!(c, Candidates::Some(_)))
                .unwrap_or(Candidates::All);
            for pos in candidates.positions(len) {
                let Some(n) = snapshot.nodes.get(pos) else {
                    continue;
                };
                let labels = n.labels();
                if !incoming
                    .affinity
                    .iter()
                    .any(|t| labels.contains_key(&t.topology_key))
                {
                    continue;
                }
                for p in &n.pods {
                    if incoming.all_affinity_select(p, &mut memo) {
                        for t in &incoming.affinity {
                            state.affinity.add_on(labels, &t.topology_key, 1);
                        }
                    }
                }
            }
        }
        for t in &incoming.anti_affinity {
            for pos in index.for_term(t).positions(len) {
                let Some(n) = snapshot.nodes.get(pos) else {
                    continue;
                };
                let labels = n.labels();
                if !labels.contains_key(&t.topology_key) {
                    continue;
                }
                for p in &n.pods {
                    if incoming.selects(t, p, &mut memo) {
                        state.anti_affinity.add_on(labels, &t.topology_key, 1);
                    }
                }
            }
        }
        Ok(PreFiltered::with_state(state))
    }

    fn add_pod(
        &self,
        state: &mut dyn PluginState,
        pod: &PodInfo,
        added: &Arc<PodInfo>,
        node: &NodeInfo,
    ) {
        if let Some(s) = state.as_any_mut().downcast_mut::<FilterState>() {
            let mut memo = NamespaceMemo::new(&self.namespace_labels);
            s.update(pod, added, node, 1, &mut memo);
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
            let mut memo = NamespaceMemo::new(&self.namespace_labels);
            s.update(pod, removed, node, -1, &mut memo);
        }
    }

    fn filter(
        &self,
        state: Option<&dyn PluginState>,
        _pod: &PodInfo,
        node: &NodeInfo,
    ) -> Result<(), Status> {
        // No state: PreFilter found nothing to check (upstream's Skip).
        let Some(s) = crate::framework::state_of::<FilterState>(state) else {
            return Ok(());
        };
        let labels = node.labels();
        if !s.affinity_fits(labels) {
            return Err(Status::unresolvable(NAME, AFFINITY_REASON));
        }
        if !s.anti_affinity_fits(labels) {
            return Err(Status::unschedulable(NAME, ANTI_AFFINITY_REASON));
        }
        if !s.existing_anti_affinity_fits(labels) {
            return Err(Status::unschedulable(NAME, EXISTING_ANTI_AFFINITY_REASON));
        }
        Ok(())
    }

    fn pre_score(
        &self,
        pod: &PodInfo,
        snapshot: &Snapshot,
        _feasible: &[Arc<NodeInfo>],
    ) -> Result<Option<Box<dyn PluginState>>, Status> {
        let preferred = preferred_affinity(pod);
        let preferred_anti = preferred_anti_affinity(pod);
        let own_preferences = !preferred.is_empty() || !preferred_anti.is_empty();
        if self.ignore_preferred_terms_of_existing_pods && !own_preferences {
            return Ok(None);
        }
        // Without preferences of its own only pods with affinity terms can score it.
        if !own_preferences && snapshot.pods_with_affinity == 0 {
            return Ok(None);
        }
        if let Some(e) = parse_error(pod) {
            return Err(Status::error(NAME, format!("parsing pod: {e}")));
        }
        let incoming = Incoming {
            namespace: pod.namespace.clone(),
            labels: pod.labels.clone(),
            affinity: Vec::new(),
            anti_affinity: Vec::new(),
            matches_own_affinity: false,
        };
        let mut namespace_labels: Option<BTreeMap<String, String>> = None;
        let mut memo = NamespaceMemo::new(&self.namespace_labels);
        let hard = i64::from(self.hard_pod_affinity_weight);
        let mut sums = ScoreSums::default();
        let mut index = self.index.lock().unwrap_or_else(PoisonError::into_inner);
        index.refresh(&snapshot.nodes);
        let len = snapshot.nodes.len();
        // The incoming pod's preferred terms over the pods they may select.
        for (terms, sign) in [(preferred, 1), (preferred_anti, -1)] {
            for w in terms {
                let t = &w.pod_affinity_term;
                for pos in index.for_term(t).positions(len) {
                    let Some(n) = snapshot.nodes.get(pos) else {
                        continue;
                    };
                    let labels = n.labels();
                    if !labels.contains_key(&t.topology_key) {
                        continue;
                    }
                    for p in &n.pods {
                        if incoming.selects(t, p, &mut memo) {
                            sums.add_on(labels, &t.topology_key, sign * i64::from(w.weight));
                        }
                    }
                }
            }
        }
        // Existing pods' required affinity (hardPodAffinityWeight) and preferred terms.
        for pos in index.scoring_nodes() {
            let Some(n) = snapshot.nodes.get(pos) else {
                continue;
            };
            let labels = n.labels();
            if labels.is_empty() {
                continue;
            }
            for p in n.pods.iter().filter(|p| p.has_pod_affinity) {
                let ns_labels = namespace_labels
                    .get_or_insert_with(|| self.namespace_labels_of(&pod.namespace));
                if hard > 0 {
                    for t in required_affinity(p) {
                        if labels.contains_key(&t.topology_key)
                            && existing_term_selects(t, p, pod, ns_labels)
                        {
                            sums.add_on(labels, &t.topology_key, hard);
                        }
                    }
                }
                for (terms, sign) in [(preferred_affinity(p), 1), (preferred_anti_affinity(p), -1)]
                {
                    for w in terms {
                        let t = &w.pod_affinity_term;
                        if labels.contains_key(&t.topology_key)
                            && existing_term_selects(t, p, pod, ns_labels)
                        {
                            sums.add_on(labels, &t.topology_key, sign * i64::from(w.weight));
                        }
                    }
                }
            }
        }
        if !sums.any {
            return Ok(None);
        }
        Ok(Some(Box::new(ScoreState {
            scores: sums.by_key.into_iter().collect(),
        })))
    }

    fn score(&self, state: Option<&dyn PluginState>, _pod: &PodInfo, node: &NodeInfo) -> i64 {
        let Some(s) = crate::framework::state_of::<ScoreState>(state) else {
            return 0;
        };
        let labels = node.labels();
        s.scores
            .iter()
            .filter_map(|(key, values)| labels.get(key).and_then(|v| values.get(v)))
            .sum()
    }

    fn normalize(&self, state: Option<&dyn PluginState>, scores: &mut [i64]) {
        if crate::framework::state_of::<ScoreState>(state).is_none_or(|s| s.scores.is_empty()) {
            return;
        }
        min_max_normalize(scores);
    }
}

/// Upstream's InterPodAffinity NormalizeScore: the lowest score becomes 0, the highest 100,
/// the others in proportion (truncated); all 0 when they are equal.
fn min_max_normalize(scores: &mut [i64]) {
    let (Some(min), Some(max)) = (scores.iter().min().copied(), scores.iter().max().copied())
    else {
        return;
    };
    let diff = max - min;
    for s in scores.iter_mut() {
        // Upstream computes in float64 and truncates toward zero: the cast does the same (the
        // result is within 0..=100).
        *s = if diff > 0 {
            (MAX_NODE_SCORE as f64 * ((*s - min) as f64 / diff as f64)) as i64
        } else {
            0
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testing::{node, pod};
    use serde_json::{json, Value};

    const ZONE: &str = "topology.kubernetes.io/zone";
    const HOST: &str = "kubernetes.io/hostname";

    fn zoned(name: &str, zone: &str) -> NodeInfo {
        node(json!({"metadata": {"name": name, "labels": {ZONE: zone, HOST: name}}}))
    }

    /// A pod bound to `node` with `labels` and an extra spec.
    fn running(name: &str, node: &str, labels: Value, spec: Value) -> Arc<PodInfo> {
        let mut s = json!({"nodeName": node});
        if let (Some(s), Value::Object(extra)) = (s.as_object_mut(), spec) {
            s.extend(extra);
        }
        pod(json!({"metadata": {"name": name, "uid": name, "labels": labels}, "spec": s}))
    }

    fn term(key: &str, app: &str) -> Value {
        json!({"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": key})
    }

    fn anti(terms: Value) -> Value {
        json!({"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": terms}}})
    }

    fn affine(terms: Value) -> Value {
        json!({"affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": terms}}})
    }

    fn snapshot(nodes: Vec<NodeInfo>) -> Snapshot {
        Snapshot::new(nodes.into_iter().map(Arc::new).collect())
    }

    /// Each node's Filter verdict: None when it fits, else the reason and whether it is
    /// unresolvable.
    fn verdicts(
        plugin: &InterPodAffinity,
        p: &PodInfo,
        snap: &Snapshot,
    ) -> Vec<Option<(String, bool)>> {
        let out = plugin.pre_filter(p, snap);
        let state = out.ok().and_then(|o| o.state);
        snap.nodes
            .iter()
            .map(|n| {
                plugin.filter(state.as_deref(), p, n).err().map(|e| {
                    (
                        e.message(),
                        e.code == crate::framework::Code::UnschedulableAndUnresolvable,
                    )
                })
            })
            .collect()
    }

    fn fits(v: &[Option<(String, bool)>]) -> Vec<bool> {
        v.iter().map(Option::is_none).collect()
    }

    #[test]
    fn inter_pod_affinity_required_anti_affinity_keeps_pods_apart_per_zone() {
        let mut a = zoned("a", "z1");
        a.add_pod(running("web-1", "a", json!({"app": "web"}), json!({})));
        let snap = snapshot(vec![a, zoned("b", "z1"), zoned("c", "z2")]);
        let p = pod(
            json!({"metadata": {"labels": {"app": "web"}}, "spec": anti(json!([term(ZONE, "web")]))}),
        );
        let v = verdicts(&InterPodAffinity::default(), &p, &snap);
        assert_eq!(fits(&v), [false, false, true], "z1 runs a web pod");
        assert_eq!(v[0], Some((ANTI_AFFINITY_REASON.to_string(), false)));
        // Per hostname only the node running it is refused.
        let per_host = pod(json!({"spec": anti(json!([term(HOST, "web")]))}));
        let v = verdicts(&InterPodAffinity::default(), &per_host, &snap);
        assert_eq!(fits(&v), [false, true, true]);
    }

    #[test]
    fn inter_pod_affinity_required_affinity_needs_a_matching_pod_in_the_domain() {
        let mut a = zoned("a", "z1");
        a.add_pod(running("db", "a", json!({"app": "db"}), json!({})));
        let bare = node(json!({"metadata": {"name": "d"}}));
        let snap = snapshot(vec![a, zoned("b", "z1"), zoned("c", "z2"), bare]);
        let p = pod(json!({"spec": affine(json!([term(ZONE, "db")]))}));
        let v = verdicts(&InterPodAffinity::default(), &p, &snap);
        assert_eq!(fits(&v), [true, true, false, false]);
        // Refused for affinity: removing pods cannot help.
        assert_eq!(v[2], Some((AFFINITY_REASON.to_string(), true)));
        assert_eq!(v[3], Some((AFFINITY_REASON.to_string(), true)));
    }

    #[test]
    fn inter_pod_affinity_first_pod_of_a_self_affine_group_may_go_where_the_keys_exist() {
        let bare = node(json!({"metadata": {"name": "d"}}));
        let snap = snapshot(vec![zoned("a", "z1"), zoned("b", "z2"), bare]);
        let first = pod(
            json!({"metadata": {"labels": {"app": "db"}}, "spec": affine(json!([term(ZONE, "db")]))}),
        );
        let v = verdicts(&InterPodAffinity::default(), &first, &snap);
        assert_eq!(
            fits(&v),
            [true, true, false],
            "a node without the key never fits"
        );
        // A pod not matching its own term has nowhere to go.
        let other = pod(
            json!({"metadata": {"labels": {"app": "web"}}, "spec": affine(json!([term(ZONE, "db")]))}),
        );
        let v = verdicts(&InterPodAffinity::default(), &other, &snap);
        assert_eq!(fits(&v), [false, false, false]);
    }

    #[test]
    fn inter_pod_affinity_existing_pods_anti_affinity_refuses_their_domain() {
        let mut a = zoned("a", "z1");
        a.add_pod(running(
            "loner",
            "a",
            json!({"app": "loner"}),
            anti(json!([term(ZONE, "web")])),
        ));
        let snap = snapshot(vec![a, zoned("b", "z1"), zoned("c", "z2")]);
        let web = pod(json!({"metadata": {"labels": {"app": "web"}}}));
        let v = verdicts(&InterPodAffinity::default(), &web, &snap);
        assert_eq!(fits(&v), [false, false, true]);
        assert_eq!(
            v[1],
            Some((EXISTING_ANTI_AFFINITY_REASON.to_string(), false))
        );
        // A pod it does not select is not concerned, and has nothing to check.
        let other = pod(json!({"metadata": {"labels": {"app": "api"}}}));
        let out = InterPodAffinity::default().pre_filter(&other, &snap).ok();
        assert!(out.is_some_and(|o| o.state.is_none()));
    }

    #[test]
    fn inter_pod_affinity_pods_without_terms_skip_when_no_pod_has_anti_affinity() {
        let mut a = zoned("a", "z1");
        a.add_pod(running("web", "a", json!({"app": "web"}), json!({})));
        let snap = snapshot(vec![a]);
        let plain = pod(json!({"metadata": {"labels": {"app": "web"}}}));
        let plugin = InterPodAffinity::default();
        let out = plugin.pre_filter(&plain, &snap).ok();
        assert!(out.is_some_and(|o| o.state.is_none()));
        assert!(plugin
            .pre_score(&plain, &snap, &snap.nodes)
            .ok()
            .flatten()
            .is_none());
    }

    #[test]
    fn inter_pod_affinity_namespaces_and_namespace_selector_choose_whose_pods_count() {
        let mut a = zoned("a", "z1");
        a.add_pod(pod(
            json!({"metadata": {"name": "x", "uid": "x", "namespace": "team-a",
            "labels": {"app": "web"}}, "spec": {"nodeName": "a"}}),
        ));
        let mut b = zoned("b", "z2");
        b.add_pod(pod(
            json!({"metadata": {"name": "y", "uid": "y", "namespace": "team-b",
            "labels": {"app": "web"}}, "spec": {"nodeName": "b"}}),
        ));
        let snap = snapshot(vec![a, b, zoned("c", "z3")]);
        // By default only the pod's own namespace counts.
        let own = pod(
            json!({"metadata": {"namespace": "team-a"}, "spec": anti(json!([term(ZONE, "web")]))}),
        );
        assert_eq!(
            fits(&verdicts(&InterPodAffinity::default(), &own, &snap)),
            [false, true, true]
        );
        // Listed namespaces.
        let mut listed = term(ZONE, "web");
        listed["namespaces"] = json!(["team-b"]);
        let p = pod(json!({"metadata": {"namespace": "team-a"}, "spec": anti(json!([listed]))}));
        assert_eq!(
            fits(&verdicts(&InterPodAffinity::default(), &p, &snap)),
            [true, false, true]
        );
        // A namespace selector reads the namespaces' labels.
        let lookup: NamespaceLabels = Arc::new(|ns: &str| match ns {
            "team-a" | "team-b" => Some(BTreeMap::from([("env".to_string(), ns.to_string())])),
            _ => None,
        });
        let plugin = InterPodAffinity::default().with_namespace_labels(lookup);
        let mut by_selector = term(ZONE, "web");
        by_selector["namespaceSelector"] = json!({"matchLabels": {"env": "team-b"}});
        let p =
            pod(json!({"metadata": {"namespace": "team-a"}, "spec": anti(json!([by_selector]))}));
        assert_eq!(fits(&verdicts(&plugin, &p, &snap)), [true, false, true]);
        // An empty selector picks every namespace.
        let mut all = term(ZONE, "web");
        all["namespaceSelector"] = json!({});
        let p = pod(json!({"metadata": {"namespace": "other"}, "spec": anti(json!([all]))}));
        assert_eq!(fits(&verdicts(&plugin, &p, &snap)), [false, false, true]);
    }

    #[test]
    fn inter_pod_affinity_match_label_keys_and_mismatch_label_keys_narrow_the_selector() {
        let mut a = zoned("a", "z1");
        a.add_pod(running(
            "v1",
            "a",
            json!({"app": "web", "rev": "1"}),
            json!({}),
        ));
        let mut b = zoned("b", "z2");
        b.add_pod(running(
            "v2",
            "b",
            json!({"app": "web", "rev": "2"}),
            json!({}),
        ));
        let snap = snapshot(vec![a, b, zoned("c", "z3")]);
        let mut same_rev = term(ZONE, "web");
        same_rev["matchLabelKeys"] = json!(["rev"]);
        let p = pod(
            json!({"metadata": {"labels": {"app": "web", "rev": "2"}}, "spec": anti(json!([same_rev]))}),
        );
        assert_eq!(
            fits(&verdicts(&InterPodAffinity::default(), &p, &snap)),
            [true, false, true],
            "only pods of the same revision repel it"
        );
        let mut other_rev = term(ZONE, "web");
        other_rev["mismatchLabelKeys"] = json!(["rev"]);
        let p = pod(
            json!({"metadata": {"labels": {"app": "web", "rev": "2"}}, "spec": anti(json!([other_rev]))}),
        );
        assert_eq!(
            fits(&verdicts(&InterPodAffinity::default(), &p, &snap)),
            [false, true, true]
        );
    }

    #[test]
    fn inter_pod_affinity_add_pod_and_remove_pod_update_the_counts_for_preemption() {
        let mut a = zoned("a", "z1");
        let victim = running("web", "a", json!({"app": "web"}), json!({}));
        a.add_pod(victim.clone());
        let snap = snapshot(vec![a.clone(), zoned("b", "z2")]);
        let p = pod(json!({"spec": anti(json!([term(ZONE, "web")]))}));
        let plugin = InterPodAffinity::default();
        let Some(mut state) = plugin.pre_filter(&p, &snap).ok().and_then(|o| o.state) else {
            panic!("state expected");
        };
        assert!(plugin.filter(Some(state.as_ref()), &p, &a).is_err());
        let mut without = a.clone();
        without.remove_pod(&victim.uid);
        plugin.remove_pod(state.as_mut(), &p, &victim, &without);
        assert!(plugin.filter(Some(state.as_ref()), &p, &without).is_ok());
        // A nominated pod with anti-affinity against the incoming one makes its zone refuse.
        let b = zoned("b", "z2");
        let nominated = running("n", "b", json!({}), anti(json!([term(ZONE, "")]))); // selects app=""
        plugin.add_pod(state.as_mut(), &p, &nominated, &b);
        assert!(
            plugin.filter(Some(state.as_ref()), &p, &b).is_ok(),
            "it does not select the pod"
        );
        let repelling = running(
            "r",
            "b",
            json!({}),
            anti(json!([{"labelSelector": {}, "topologyKey": ZONE}])),
        );
        plugin.add_pod(state.as_mut(), &p, &repelling, &b);
        let err = plugin.filter(Some(state.as_ref()), &p, &b).err();
        assert_eq!(
            err.map(|e| e.message()),
            Some(EXISTING_ANTI_AFFINITY_REASON.to_string())
        );
        plugin.remove_pod(state.as_mut(), &p, &repelling, &b);
        assert!(plugin.filter(Some(state.as_ref()), &p, &b).is_ok());
    }

    fn scores(plugin: &InterPodAffinity, p: &PodInfo, snap: &Snapshot) -> (Vec<i64>, Vec<i64>) {
        crate::plugins::testing::raw_and_normalized(plugin, p, snap)
    }

    #[test]
    fn inter_pod_affinity_scores_preferred_terms_min_max_normalized() {
        // z1: two web pods, z2: one web pod and one cache pod, z3: nothing.
        let mut a = zoned("a", "z1");
        a.add_pod(running("w1", "a", json!({"app": "web"}), json!({})));
        a.add_pod(running("w2", "a", json!({"app": "web"}), json!({})));
        let mut b = zoned("b", "z2");
        b.add_pod(running("w3", "b", json!({"app": "web"}), json!({})));
        b.add_pod(running("c1", "b", json!({"app": "cache"}), json!({})));
        let snap = snapshot(vec![a, b, zoned("c", "z3")]);
        let p = pod(json!({"spec": {"affinity": {
            "podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 10, "podAffinityTerm": term(ZONE, "cache")}]},
            "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 3, "podAffinityTerm": term(ZONE, "web")}]}}}}));
        let (raw, normalized) = scores(&InterPodAffinity::default(), &p, &snap);
        // z1: -3*2 = -6; z2: +10 -3 = 7; z3: 0. Min-max over [-6, 7]: (s+6)*100/13.
        assert_eq!(raw, [-6, 7, 0]);
        assert_eq!(normalized, [0, 100, 46]);
    }

    #[test]
    fn inter_pod_affinity_scores_existing_pods_terms_and_hard_affinity_weight() {
        // An existing pod requires affinity to app=web (hard weight), another prefers to be
        // away from it (weight 5).
        let mut a = zoned("a", "z1");
        a.add_pod(running(
            "needs-web",
            "a",
            json!({}),
            affine(json!([term(ZONE, "web")])),
        ));
        let mut b = zoned("b", "z2");
        b.add_pod(running(
            "avoids-web",
            "b",
            json!({}),
            json!({"affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 5, "podAffinityTerm": term(ZONE, "web")}]}}}),
        ));
        let snap = snapshot(vec![a, b, zoned("c", "z3")]);
        let web = pod(json!({"metadata": {"labels": {"app": "web"}}}));
        let (raw, normalized) = scores(&InterPodAffinity::new(4, false), &web, &snap);
        // z1: +4 (hardPodAffinityWeight), z2: -5, z3: 0 → (s+5)*100/9.
        assert_eq!(raw, [4, -5, 0]);
        assert_eq!(normalized, [100, 0, 55]);
        // Ignoring existing pods' preferences skips a pod without any.
        let ignoring = InterPodAffinity::new(4, true);
        assert!(ignoring
            .pre_score(&web, &snap, &snap.nodes)
            .ok()
            .flatten()
            .is_none());
        // A pod none of them selects has no score at all.
        let other = pod(json!({"metadata": {"labels": {"app": "api"}}}));
        assert!(InterPodAffinity::default()
            .pre_score(&other, &snap, &snap.nodes)
            .ok()
            .flatten()
            .is_none());
    }

    #[test]
    fn inter_pod_affinity_args_default_hard_weight_one_and_validate_its_range() {
        use crate::plugin_args::inter_pod_affinity as args;
        let d = args(None).ok();
        assert!(d.is_some_and(
            |p| p.hard_pod_affinity_weight == 1 && !p.ignore_preferred_terms_of_existing_pods
        ));
        let set = args(Some(&json!({"hardPodAffinityWeight": 0,
            "ignorePreferredTermsOfExistingPods": true})))
        .ok();
        assert!(set.is_some_and(
            |p| p.hard_pod_affinity_weight == 0 && p.ignore_preferred_terms_of_existing_pods
        ));
        let err = args(Some(&json!({"hardPodAffinityWeight": 101})))
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("hardPodAffinityWeight: Invalid value: 101: not in valid range [0, 100]")
        );
    }

    #[test]
    fn inter_pod_affinity_refuses_a_pod_with_an_invalid_selector() {
        let bad = pod(
            json!({"spec": anti(json!([{"labelSelector": {"matchExpressions": [
            {"key": "app", "operator": "In", "values": []}]}, "topologyKey": ZONE}]))}),
        );
        let err = InterPodAffinity::default()
            .pre_filter(&bad, &snapshot(vec![zoned("a", "z1")]))
            .err();
        assert!(err.is_some_and(|e| e.code
            == crate::framework::Code::UnschedulableAndUnresolvable
            && e.message()
                .starts_with("parsing pod: requiredAntiAffinityTerms")));
    }
}
