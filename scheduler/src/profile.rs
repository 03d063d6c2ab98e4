//! A profile (upstream's `frameworkruntime.frameworkImpl`): the plugins enabled at each
//! extension point, and one scheduling cycle run through them — PreFilter, Filter over a share
//! of the nodes starting where the last cycle stopped, PreScore, Score, NormalizeScore, and
//! the choice of the best node (ties broken at random).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::fit_error::FitError;
use crate::framework::{Code, Plugin, PluginState, PreBindFuture, Status};
use crate::node_info::NodeInfo;
use crate::nominator::Nominator;
use crate::plugins::Enabled;
use crate::pod_info::PodInfo;
use crate::snapshot::Snapshot;

/// Below this many nodes every node is filtered (upstream's `minFeasibleNodesToFind`).
const MIN_FEASIBLE_NODES: usize = 100;
/// The smallest share the adaptive percentage goes down to.
const MIN_FEASIBLE_PERCENTAGE: usize = 5;
/// The adaptive percentage's start (upstream's `DefaultPercentageOfNodesToScore`).
const DEFAULT_PERCENTAGE: usize = 50;

pub struct Profile {
    pub scheduler_name: String,
    pub pre_enqueue: Vec<Arc<dyn Plugin>>,
    /// Filter plugins (some also PreFilter); PreFilter state is kept by position in this list.
    pub filter: Vec<Arc<dyn Plugin>>,
    /// For each of `filter`: whether its PreFilter and Filter are enabled.
    filter_points: Vec<(bool, bool)>,
    pub score: Vec<Enabled>,
    /// Reserve plugins, run once a node is chosen (unreserved in reverse order).
    pub reserve: Vec<Arc<dyn Plugin>>,
    /// PreBind plugins, run in the binding cycle before the pod is bound.
    pub pre_bind: Vec<Arc<dyn Plugin>>,
    /// `alwaysCheckAllPredicates` (legacy Policy): every filter runs, and every reason counts.
    pub check_all_filters: bool,
    /// `percentageOfNodesToScore` (0 or unset: adaptive).
    pub percentage_of_nodes_to_score: Option<u32>,
    /// Whether DefaultPreemption runs as PostFilter.
    pub preemption: bool,
    /// DefaultPreemptionArgs: `minCandidateNodesPercentage` and `minCandidateNodesAbsolute`.
    pub preemption_candidates: (usize, usize),
    next_start: AtomicUsize,
}

/// PreFilter's results for one pod: each filter plugin's state, and the nodes worth filtering.
pub struct CycleState {
    pub states: Vec<Option<Box<dyn PluginState>>>,
    /// By position in the filter list: the plugins whose PreFilter said skip.
    pub skip: Vec<bool>,
    pub nodes: Option<BTreeSet<String>>,
}

impl Clone for CycleState {
    fn clone(&self) -> Self {
        CycleState {
            states: self
                .states
                .iter()
                .map(|s| s.as_deref().map(PluginState::clone_state))
                .collect(),
            skip: self.skip.clone(),
            nodes: self.nodes.clone(),
        }
    }
}

/// What filtering found.
pub enum Feasibility {
    /// The nominated node fits: no other is looked at.
    Decided(Placement),
    /// The nodes that fit (at least one), and why the others do not.
    Candidates {
        feasible: Vec<Arc<NodeInfo>>,
        statuses: BTreeMap<String, Status>,
        evaluated: usize,
        narrowed: bool,
    },
}

/// Where a cycle placed the pod.
#[derive(Debug)]
pub struct Placement {
    pub node: String,
    pub evaluated: usize,
    pub feasible: usize,
}

impl Profile {
    pub fn new(scheduler_name: String, plugins: Vec<Enabled>) -> Profile {
        let has = |p: &Enabled, f: fn(&crate::framework::Points) -> bool| {
            f(&p.points.and(p.plugin.points()))
        };
        Profile {
            scheduler_name,
            pre_enqueue: plugins
                .iter()
                .filter(|p| has(p, |x| x.pre_enqueue))
                .map(|p| p.plugin.clone())
                .collect(),
            filter: plugins
                .iter()
                .filter(|p| has(p, |x| x.filter || x.pre_filter))
                .map(|p| p.plugin.clone())
                .collect(),
            filter_points: plugins
                .iter()
                .filter(|p| has(p, |x| x.filter || x.pre_filter))
                .map(|p| {
                    let pts = p.points.and(p.plugin.points());
                    (pts.pre_filter, pts.filter)
                })
                .collect(),
            check_all_filters: false,
            score: plugins
                .iter()
                .filter(|p| has(p, |x| x.score) && p.weight > 0)
                .cloned()
                .collect(),
            reserve: plugins
                .iter()
                .filter(|p| has(p, |x| x.reserve))
                .map(|p| p.plugin.clone())
                .collect(),
            pre_bind: plugins
                .iter()
                .filter(|p| has(p, |x| x.pre_bind))
                .map(|p| p.plugin.clone())
                .collect(),
            percentage_of_nodes_to_score: None,
            preemption: true,
            preemption_candidates: (10, 100),
            next_start: AtomicUsize::new(0),
        }
    }

    /// One extension point's duration for this profile
    /// (`scheduler_framework_extension_point_duration_seconds`).
    fn took(&self, point: &str, ok: bool, since: Instant) {
        crate::metrics::SchedulerMetrics::global().point(
            &self.scheduler_name,
            point,
            ok,
            since.elapsed(),
        );
    }

    /// Hands every plugin the run's informers (`Plugin::attach`) before they start.
    pub fn attach(&self, informers: &capstan_controllers::informers::Informers) {
        let all = self
            .pre_enqueue
            .iter()
            .chain(&self.filter)
            .chain(self.score.iter().map(|e| &e.plugin))
            .chain(&self.reserve)
            .chain(&self.pre_bind);
        for p in all {
            p.attach(informers);
        }
    }

    /// Reserve on the chosen node; a refusal unreserves every plugin (upstream's
    /// `RunReservePluginsReserve` failing, then `RunReservePluginsUnreserve`).
    pub fn reserve(&self, pod: &Arc<PodInfo>, node: &NodeInfo) -> Result<(), Status> {
        if self.reserve.is_empty() {
            return Ok(());
        }
        let began = Instant::now();
        for p in &self.reserve {
            if let Err(mut s) = p.reserve(pod, node) {
                self.took("Reserve", false, began);
                self.unreserve(pod, &node.name);
                s.reasons = vec![format!(
                    "running Reserve plugin {:?}: {}",
                    p.name(),
                    s.message()
                )];
                return Err(s);
            }
        }
        self.took("Reserve", true, began);
        Ok(())
    }

    /// Unreserve, in the reverse order of Reserve.
    pub fn unreserve(&self, pod: &PodInfo, node: &str) {
        for p in self.reserve.iter().rev() {
            p.unreserve(pod, node);
        }
    }

    /// The PreBind work of every plugin that has some for `pod` on `node`, in order.
    pub fn pre_bind(
        &self,
        client: &kube::Client,
        pod: &Arc<PodInfo>,
        node: &str,
    ) -> Vec<(&'static str, PreBindFuture)> {
        self.pre_bind
            .iter()
            .filter_map(|p| p.pre_bind(client, pod, node).map(|f| (p.name(), f)))
            .collect()
    }

    /// PreEnqueue: the first refusal, if any.
    pub fn pre_enqueue(&self, pod: &PodInfo) -> Result<(), Status> {
        self.pre_enqueue.iter().try_for_each(|p| p.pre_enqueue(pod))
    }

    /// How many feasible nodes a cycle looks for before it stops filtering.
    pub fn nodes_to_find(&self, all: usize) -> usize {
        if all < MIN_FEASIBLE_NODES {
            return all;
        }
        let pct = match self.percentage_of_nodes_to_score {
            Some(p) if p > 0 => p as usize,
            _ => DEFAULT_PERCENTAGE
                .saturating_sub(all / 125)
                .max(MIN_FEASIBLE_PERCENTAGE),
        };
        if pct >= 100 {
            return all;
        }
        (all * pct / 100).max(MIN_FEASIBLE_NODES)
    }

    pub fn pre_filter(&self, pod: &PodInfo, snapshot: &Snapshot) -> Result<CycleState, Status> {
        let mut state = CycleState {
            states: Vec::with_capacity(self.filter.len()),
            skip: Vec::with_capacity(self.filter.len()),
            nodes: None,
        };
        for (p, (pre, _)) in self.filter.iter().zip(&self.filter_points) {
            if !pre {
                state.states.push(None);
                state.skip.push(false);
                continue;
            }
            let out = p.pre_filter(pod, snapshot)?;
            state.states.push(out.state);
            state.skip.push(out.skip);
            if let Some(names) = out.nodes {
                state.nodes = Some(match state.nodes.take() {
                    None => names,
                    Some(prev) => prev.intersection(&names).cloned().collect(),
                });
            }
        }
        Ok(state)
    }

    /// The filters on one node, counting first the pods nominated there that are ahead of
    /// `pod` (as if they already ran), then without them (upstream's `addNominatedPods`).
    pub fn filter_with_nominated(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        node: &NodeInfo,
        nominator: &Nominator,
    ) -> Result<(), Status> {
        if !nominator.is_empty() {
            let ahead = nominator.ahead_of(pod, &node.name);
            if !ahead.is_empty() {
                let mut with = node.clone();
                let mut st = state.clone();
                for p in ahead {
                    with.add_pod(p.clone());
                    self.add_pod(&mut st, pod, &p, &with);
                }
                self.filter_node(&st, pod, &with)?;
            }
        }
        self.filter_node(state, pod, node)
    }

    /// Tells every PreFilter state that `added` now runs on `node`.
    pub fn add_pod(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        added: &Arc<PodInfo>,
        node: &NodeInfo,
    ) {
        for (p, s) in self.filter.iter().zip(state.states.iter_mut()) {
            if let Some(s) = s.as_deref_mut() {
                p.add_pod(s, pod, added, node);
            }
        }
    }

    /// Tells every PreFilter state that `removed` no longer runs on `node`.
    pub fn remove_pod(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        removed: &Arc<PodInfo>,
        node: &NodeInfo,
    ) {
        for (p, s) in self.filter.iter().zip(state.states.iter_mut()) {
            if let Some(s) = s.as_deref_mut() {
                p.remove_pod(s, pod, removed, node);
            }
        }
    }

    /// Every Filter plugin on one node, stopping at the first refusal.
    pub fn filter_node(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        node: &NodeInfo,
    ) -> Result<(), Status> {
        let mut failed: Option<Status> = None;
        for (i, (p, (_, on))) in self.filter.iter().zip(&self.filter_points).enumerate() {
            if !on || state.skip.get(i) == Some(&true) {
                continue;
            }
            let s = state.states.get(i).and_then(|s| s.as_deref());
            if let Err(e) = p.filter(s, pod, node) {
                if !self.check_all_filters || e.code == Code::Error {
                    return Err(e);
                }
                match failed.as_mut() {
                    None => failed = Some(e),
                    Some(f) => {
                        f.reasons.extend(e.reasons);
                        if e.code == Code::UnschedulableAndUnresolvable {
                            f.code = e.code;
                        }
                    }
                }
            }
        }
        failed.map_or(Ok(()), Err)
    }

    /// PreFilter and Filter: the nodes that fit (or the nominated node, decided at once), or
    /// why none does.
    pub fn find_feasible(
        &self,
        pod: &PodInfo,
        snapshot: &Snapshot,
        nominator: &Nominator,
    ) -> Result<Feasibility, Box<FitError>> {
        let all = snapshot.nodes.len();
        if all == 0 {
            return Err(Box::new(FitError::no_nodes()));
        }
        let began = Instant::now();
        let state = match self.pre_filter(pod, snapshot) {
            Ok(s) => s,
            Err(status) => {
                self.took("PreFilter", false, began);
                return Err(Box::new(FitError::pre_filter(all, status)));
            }
        };
        self.took("PreFilter", true, began);
        let began = Instant::now();
        // A pod that preempted for a node tries that node first.
        if let Some(nominated) = nominated_node(pod).and_then(|n| snapshot.get(n)) {
            if self
                .filter_with_nominated(&state, pod, nominated, nominator)
                .is_ok()
            {
                return Ok(Feasibility::Decided(Placement {
                    node: nominated.name.clone(),
                    evaluated: 1,
                    feasible: 1,
                }));
            }
        }
        let mut statuses: BTreeMap<String, Status> = BTreeMap::new();
        let mut feasible: Vec<Arc<NodeInfo>> = Vec::new();
        let evaluated = match &state.nodes {
            Some(names) => {
                // PreFilter narrowed the nodes: only those are looked at, the rest failed it.
                for n in names.iter().filter_map(|name| snapshot.get(name)) {
                    match self.filter_with_nominated(&state, pod, n, nominator) {
                        Ok(()) => feasible.push(n.clone()),
                        Err(s) => {
                            statuses.insert(n.name.clone(), s);
                        }
                    }
                }
                feasible.len() + statuses.len()
            }
            None => {
                let want = self.nodes_to_find(all);
                let start = self.next_start.load(Ordering::Relaxed) % all;
                let mut looked = 0;
                for i in 0..all {
                    if feasible.len() >= want {
                        break;
                    }
                    let n = &snapshot.nodes[(start + i) % all];
                    looked += 1;
                    match self.filter_with_nominated(&state, pod, n, nominator) {
                        Ok(()) => feasible.push(n.clone()),
                        Err(s) => {
                            statuses.insert(n.name.clone(), s);
                        }
                    }
                }
                self.next_start
                    .store((start + looked) % all, Ordering::Relaxed);
                looked
            }
        };
        self.took("Filter", !feasible.is_empty(), began);
        if feasible.is_empty() {
            return Err(Box::new(FitError::filter(
                all,
                statuses,
                state.nodes.is_some(),
            )));
        }
        Ok(Feasibility::Candidates {
            feasible,
            statuses,
            evaluated,
            narrowed: state.nodes.is_some(),
        })
    }

    /// One scheduling cycle for `pod`: the node to bind it to, or why none fits.
    pub fn schedule(
        &self,
        pod: &PodInfo,
        snapshot: &Snapshot,
        nominator: &Nominator,
    ) -> Result<Placement, Box<FitError>> {
        let (feasible, evaluated) = match self.find_feasible(pod, snapshot, nominator)? {
            Feasibility::Decided(p) => return Ok(p),
            Feasibility::Candidates {
                feasible,
                evaluated,
                ..
            } => (feasible, evaluated),
        };
        let feasible_count = feasible.len();
        if feasible.len() == 1 {
            return Ok(Placement {
                node: feasible[0].name.clone(),
                evaluated,
                feasible: 1,
            });
        }
        let totals = self
            .score_nodes(pod, snapshot, &feasible)
            .map_err(|s| Box::new(FitError::error(s)))?;
        Ok(Placement {
            node: select_host(&feasible, &totals),
            evaluated,
            feasible: feasible_count,
        })
    }

    /// PreScore, Score and NormalizeScore of every scoring plugin, weighted and summed per node.
    pub fn score_nodes(
        &self,
        pod: &PodInfo,
        snapshot: &Snapshot,
        feasible: &[Arc<NodeInfo>],
    ) -> Result<Vec<i64>, Status> {
        // PreScore for every plugin first; those that skip score nothing.
        let began = Instant::now();
        let mut scoring = Vec::with_capacity(self.score.len());
        for e in &self.score {
            match e.plugin.pre_score(pod, snapshot, feasible) {
                Ok(Some(state)) => scoring.push((e, state)),
                Ok(None) => {}
                Err(s) => {
                    self.took("PreScore", false, began);
                    return Err(s);
                }
            }
        }
        self.took("PreScore", true, began);
        let began = Instant::now();
        // Node by node, every plugin's score (the node's fields are read from memory once,
        // not once per plugin): scores[k * nodes + i] is plugin k's raw score for node i.
        let n = feasible.len();
        let mut scores = vec![0i64; scoring.len() * n];
        for (i, node) in feasible.iter().enumerate() {
            for (k, (e, state)) in scoring.iter().enumerate() {
                scores[k * n + i] = e.plugin.score(Some(state.as_ref()), pod, node);
            }
        }
        let mut totals = vec![0i64; n];
        for ((e, state), plugin_scores) in scoring.iter().zip(scores.chunks_mut(n.max(1))) {
            e.plugin.normalize(Some(state.as_ref()), plugin_scores);
            for (t, s) in totals.iter_mut().zip(plugin_scores.iter()) {
                *t += s * e.weight;
            }
        }
        self.took("Score", true, began);
        Ok(totals)
    }
}

/// The highest-scoring node; among equals each is equally likely (reservoir sampling).
pub fn select_host(nodes: &[Arc<NodeInfo>], totals: &[i64]) -> String {
    let mut best = 0;
    let mut ties = 1u64;
    for i in 1..nodes.len() {
        if totals[i] > totals[best] {
            best = i;
            ties = 1;
        } else if totals[i] == totals[best] {
            ties += 1;
            if fastrand::u64(0..ties) == 0 {
                best = i;
            }
        }
    }
    nodes[best].name.clone()
}

/// `status.nominatedNodeName`.
pub fn nominated_node(pod: &PodInfo) -> Option<&str> {
    pod.pod
        .status
        .as_ref()
        .and_then(|s| s.nominated_node_name.as_deref())
        .filter(|n| !n.is_empty())
}

/// Whether a refusal could be helped by removing pods.
pub fn is_resolvable(s: &Status) -> bool {
    s.code == Code::Unschedulable
}
