//! The scheduling framework's extension points as plugins see them (upstream's
//! `framework.Plugin` interfaces folded into one trait whose methods default to "not
//! implemented"), the per-cycle state plugins keep between PreFilter and Filter, and the
//! statuses a plugin answers with.

use std::any::Any;
use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use capstan_controllers::informers::Informers;

use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;
use crate::snapshot::Snapshot;

/// The highest score a plugin gives a node (upstream's `MaxNodeScore`).
pub const MAX_NODE_SCORE: i64 = 100;

/// Why a plugin refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    /// The node might fit if pods were removed from it (preemption may help).
    Unschedulable,
    /// Removing pods would not help.
    UnschedulableAndUnresolvable,
    /// Something went wrong (retried with back-off, not recorded as unschedulable).
    Error,
}

/// A refusal: its code, the plugin and the reasons users read in the event message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub code: Code,
    pub plugin: &'static str,
    pub reasons: Vec<String>,
}

impl Status {
    pub fn unschedulable(plugin: &'static str, reason: impl Into<String>) -> Status {
        Status {
            code: Code::Unschedulable,
            plugin,
            reasons: vec![reason.into()],
        }
    }

    pub fn unresolvable(plugin: &'static str, reason: impl Into<String>) -> Status {
        Status {
            code: Code::UnschedulableAndUnresolvable,
            plugin,
            reasons: vec![reason.into()],
        }
    }

    pub fn error(plugin: &'static str, reason: impl Into<String>) -> Status {
        Status {
            code: Code::Error,
            plugin,
            reasons: vec![reason.into()],
        }
    }

    /// The reasons as one message.
    pub fn message(&self) -> String {
        self.reasons.join(", ")
    }
}

/// What a plugin computes in PreFilter for its Filter (or in PreScore for its Score); a copy
/// is made per node when preemption asks "what if these pods were gone".
pub trait PluginState: Any + Send + Sync {
    fn clone_state(&self) -> Box<dyn PluginState>;
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: Any + Send + Sync + Clone> PluginState for T {
    fn clone_state(&self) -> Box<dyn PluginState> {
        Box::new(self.clone())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// What PreFilter answers: state for Filter, and possibly the only nodes worth filtering.
#[derive(Default)]
pub struct PreFiltered {
    pub state: Option<Box<dyn PluginState>>,
    /// `Some`: only these nodes can fit (upstream's `PreFilterResult.NodeNames`).
    pub nodes: Option<BTreeSet<String>>,
    /// The pod asks nothing of this plugin: its Filter (and AddPod/RemovePod) are skipped for
    /// the cycle (upstream's `Skip` status).
    pub skip: bool,
}

impl PreFiltered {
    /// Nothing for this plugin's Filter to check.
    pub fn skip() -> PreFiltered {
        PreFiltered {
            skip: true,
            ..PreFiltered::default()
        }
    }

    pub fn with_state(state: impl PluginState) -> PreFiltered {
        PreFiltered {
            state: Some(Box::new(state)),
            nodes: None,
            skip: false,
        }
    }
}

/// What a PreBind hook leaves to the binding cycle: it runs before the pod's `pods/binding`
/// POST, and an error sends the pod back to the queue.
pub type PreBindFuture = Pin<Box<dyn Future<Output = Result<(), Status>> + Send>>;

/// Reads a plugin's own state back.
pub fn state_of<T: 'static>(state: Option<&dyn PluginState>) -> Option<&T> {
    state.and_then(|s| s.as_any().downcast_ref::<T>())
}

/// A scheduling plugin. Each method is one extension point; `points` says which it implements.
pub trait Plugin: Send + Sync {
    /// The name configuration files use.
    fn name(&self) -> &'static str;

    /// The extension points implemented.
    fn points(&self) -> Points;

    /// PreEnqueue: whether the pod may enter the active queue at all (scheduling gates).
    fn pre_enqueue(&self, _pod: &PodInfo) -> Result<(), Status> {
        Ok(())
    }

    fn pre_filter(&self, _pod: &PodInfo, _snapshot: &Snapshot) -> Result<PreFiltered, Status> {
        Ok(PreFiltered::default())
    }

    /// Preemption's "what if": `added` will run on `node` (a nominated pod), or `removed`
    /// will be gone from it (a victim); the plugin updates its PreFilter state to match.
    fn add_pod(
        &self,
        _state: &mut dyn PluginState,
        _pod: &PodInfo,
        _added: &Arc<PodInfo>,
        _node: &NodeInfo,
    ) {
    }

    fn remove_pod(
        &self,
        _state: &mut dyn PluginState,
        _pod: &PodInfo,
        _removed: &Arc<PodInfo>,
        _node: &NodeInfo,
    ) {
    }

    fn filter(
        &self,
        _state: Option<&dyn PluginState>,
        _pod: &PodInfo,
        _node: &NodeInfo,
    ) -> Result<(), Status> {
        Ok(())
    }

    /// PreScore over the nodes that passed the filters; `None` when this plugin has nothing to
    /// score for the pod (upstream's Skip: its score is left out).
    fn pre_score(
        &self,
        _pod: &PodInfo,
        _snapshot: &Snapshot,
        _feasible: &[Arc<NodeInfo>],
    ) -> Result<Option<Box<dyn PluginState>>, Status> {
        Ok(Some(Box::new(())))
    }

    fn score(&self, _state: Option<&dyn PluginState>, _pod: &PodInfo, _node: &NodeInfo) -> i64 {
        0
    }

    /// NormalizeScore: brings the raw scores into 0..=100.
    fn normalize(&self, _state: Option<&dyn PluginState>, _scores: &mut [i64]) {}

    /// Called once per run, before the informers start: a plugin that reads objects besides
    /// the snapshot's nodes and pods takes their caches here (VolumeBinding: claims, volumes,
    /// classes), as upstream plugins take listers from the framework handle.
    fn attach(&self, _informers: &Informers) {}

    /// Reserve: the cycle chose `node` for `pod`. Runs in the scheduling cycle, one pod at a
    /// time, so what the plugin sets aside here is seen by the next cycles.
    fn reserve(&self, _pod: &Arc<PodInfo>, _node: &NodeInfo) -> Result<(), Status> {
        Ok(())
    }

    /// Unreserve: what `reserve` set aside is dropped (a later step or the binding failed).
    fn unreserve(&self, _pod: &PodInfo, _node: &str) {}

    /// PreBind: what must be done before `pod` is bound to `node`, run in the binding cycle
    /// (the plugin takes what it needs into the future); `None` when nothing is to be done.
    fn pre_bind(
        &self,
        _client: &kube::Client,
        _pod: &Arc<PodInfo>,
        _node: &str,
    ) -> Option<PreBindFuture> {
        None
    }
}

/// Which extension points a plugin implements.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Points {
    pub pre_enqueue: bool,
    pub pre_filter: bool,
    pub filter: bool,
    pub pre_score: bool,
    pub score: bool,
    pub reserve: bool,
    pub pre_bind: bool,
}

impl Points {
    pub const FILTER: Points = Points {
        pre_enqueue: false,
        pre_filter: false,
        filter: true,
        pre_score: false,
        score: false,
        reserve: false,
        pre_bind: false,
    };

    pub const SCORE: Points = Points {
        pre_enqueue: false,
        pre_filter: false,
        filter: false,
        pre_score: true,
        score: true,
        reserve: false,
        pre_bind: false,
    };

    pub const fn with_pre_filter(mut self) -> Points {
        self.pre_filter = true;
        self
    }

    /// The points both name.
    pub const fn and(self, o: Points) -> Points {
        Points {
            pre_enqueue: self.pre_enqueue && o.pre_enqueue,
            pre_filter: self.pre_filter && o.pre_filter,
            filter: self.filter && o.filter,
            pre_score: self.pre_score && o.pre_score,
            score: self.score && o.score,
            reserve: self.reserve && o.reserve,
            pre_bind: self.pre_bind && o.pre_bind,
        }
    }

    /// Reserve and PreBind too (a plugin that binds something before the pod).
    pub const fn with_reserve_and_pre_bind(mut self) -> Points {
        self.reserve = true;
        self.pre_bind = true;
        self
    }

    pub const fn with_score(mut self) -> Points {
        self.pre_score = true;
        self.score = true;
        self
    }
}

/// Scores spread to 0..=100 in proportion to the highest (`reverse`: the lowest raw score
/// gets 100), upstream's `DefaultNormalizeScore`.
pub fn default_normalize(scores: &mut [i64], reverse: bool) {
    let max = scores.iter().copied().max().unwrap_or(0);
    if max == 0 {
        if reverse {
            scores.iter_mut().for_each(|s| *s = MAX_NODE_SCORE);
        }
        return;
    }
    for s in scores.iter_mut() {
        *s = MAX_NODE_SCORE * *s / max;
        if reverse {
            *s = MAX_NODE_SCORE - *s;
        }
    }
}
