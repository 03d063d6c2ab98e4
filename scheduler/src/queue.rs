//! The scheduling queue (upstream's `PriorityQueue`): pods waiting to be scheduled, in three
//! places —
//! - **active**: ordered by priority, then by when they were queued (PrioritySort);
//! - **backoff**: pods that failed, waiting 1 s doubling per attempt up to 10 s;
//! - **unschedulable**: pods no node fits, until a cluster event that could help them (a node
//!   added or changed, a pod deleted, …) moves them back, or five minutes pass.
//!
//! Gated pods (scheduling gates) wait apart until an update removes the gates. A cluster event
//! that arrives while a pod is being scheduled sends that pod to backoff rather than the
//! unschedulable pool, so the event is not missed.

use std::cmp::{Ordering as CmpOrdering, Reverse};
use std::collections::{BTreeSet, BinaryHeap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::pod_info::PodInfo;

/// Upstream's `podInitialBackoffDurationSeconds` and `podMaxBackoffDurationSeconds`.
pub const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Upstream's `podMaxInUnschedulablePodsDuration`.
pub const MAX_UNSCHEDULABLE: Duration = Duration::from_secs(300);

/// What happened in the cluster, for deciding which unschedulable pods may now fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClusterEvent {
    NodeAdd,
    /// A node's labels changed.
    NodeLabel,
    /// Its taints or `unschedulable` changed.
    NodeTaint,
    /// Its allocatable changed.
    NodeAllocatable,
    /// A node was removed (a topology domain may be gone).
    NodeDelete,
    AssignedPodAdd,
    /// A bound pod's labels changed (an affinity term or a spread selector may now match it,
    /// or no longer).
    AssignedPodUpdate,
    AssignedPodDelete,
    /// Volumes or claims changed.
    Storage,
    /// The scheduler's own plugins cannot tell (extenders): everything moves.
    Any,
}

impl ClusterEvent {
    /// Whether a pod refused by `plugin` may fit after this event.
    fn helps(self, plugin: &str) -> bool {
        use ClusterEvent::*;
        match (self, plugin) {
            (NodeAdd | Any, _) => true,
            (_, "") => true,
            (
                NodeLabel,
                "NodeAffinity" | "PodTopologySpread" | "InterPodAffinity" | "VolumeBinding"
                | "VolumeZone",
            ) => true,
            (
                NodeTaint,
                "TaintToleration" | "NodeUnschedulable" | "PodTopologySpread" | "InterPodAffinity",
            ) => true,
            (NodeDelete, "PodTopologySpread") => true,
            (NodeAllocatable, "NodeResourcesFit") => true,
            (AssignedPodAdd | AssignedPodUpdate, "InterPodAffinity" | "PodTopologySpread") => true,
            (
                AssignedPodDelete,
                "NodeResourcesFit" | "NodePorts" | "InterPodAffinity" | "PodTopologySpread"
                | "VolumeRestrictions" | "DefaultPreemption",
            ) => true,
            (
                Storage,
                "VolumeBinding" | "VolumeRestrictions" | "VolumeZone" | "NodeVolumeLimits",
            ) => true,
            (_, p) => !crate::plugins::DEFAULT_PLUGINS.iter().any(|(n, _)| *n == p),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    Active,
    Backoff,
    Unschedulable,
    Gated,
    InFlight,
}

struct Entry {
    pod: Arc<PodInfo>,
    place: Place,
    /// When it (re-)entered the queue: the tie-breaker among equal priorities.
    queued: Instant,
    attempts: u32,
    last_attempt: Option<Instant>,
    /// Plugins that refused it last time.
    plugins: BTreeSet<&'static str>,
    /// Bumped each time it is placed, so stale heap items are skipped.
    generation: u64,
    /// The event counter when it was taken for scheduling.
    popped_at_event: u64,
}

impl Entry {
    fn backoff_until(&self, initial: Duration, max: Duration) -> Instant {
        let Some(last) = self.last_attempt else {
            return Instant::now();
        };
        let mut d = initial;
        for _ in 1..self.attempts {
            d = (d * 2).min(max);
        }
        last + d.min(max)
    }
}

#[derive(PartialEq, Eq)]
struct ActiveItem {
    priority: i32,
    queued: Instant,
    generation: u64,
    key: String,
}

impl Ord for ActiveItem {
    fn cmp(&self, o: &Self) -> CmpOrdering {
        self.priority
            .cmp(&o.priority)
            .then_with(|| o.queued.cmp(&self.queued))
            .then_with(|| o.generation.cmp(&self.generation))
    }
}

impl PartialOrd for ActiveItem {
    fn partial_cmp(&self, o: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(o))
    }
}

struct Inner {
    initial_backoff: Duration,
    max_backoff: Duration,
    /// The keys of the pods in the unschedulable pool.
    unschedulable: std::collections::HashSet<String>,
    entries: HashMap<String, Entry>,
    active: BinaryHeap<ActiveItem>,
    backoff: BinaryHeap<Reverse<(Instant, u64, String)>>,
    generation: u64,
    /// Cluster events seen (a pod in flight compares it with its pop).
    events: u64,
    closed: bool,
}

/// How many pods wait where (`scheduler_pending_pods{queue}`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pending {
    pub active: usize,
    pub backoff: usize,
    pub unschedulable: usize,
    pub gated: usize,
}

pub struct SchedulingQueue {
    inner: Mutex<Inner>,
    wake: Notify,
}

impl Default for SchedulingQueue {
    fn default() -> Self {
        SchedulingQueue::new(INITIAL_BACKOFF, MAX_BACKOFF)
    }
}

impl Inner {
    fn backoff_until(&self, e: &Entry) -> Instant {
        e.backoff_until(self.initial_backoff, self.max_backoff)
    }

    fn place(&mut self, key: &str, place: Place) {
        self.generation += 1;
        let generation = self.generation;
        let Some(until) = self.entries.get(key).map(|e| self.backoff_until(e)) else {
            return;
        };
        let Some(e) = self.entries.get_mut(key) else {
            return;
        };
        e.place = place;
        e.generation = generation;
        // Cluster events look only at the unschedulable pods, not the whole queue.
        if place == Place::Unschedulable {
            self.unschedulable.insert(key.to_string());
        } else {
            self.unschedulable.remove(key);
        }
        match place {
            Place::Active => self.active.push(ActiveItem {
                priority: e.pod.priority,
                queued: e.queued,
                generation,
                key: key.to_string(),
            }),
            Place::Backoff => self
                .backoff
                .push(Reverse((until, generation, key.to_string()))),
            _ => {}
        }
    }

    /// Active if its back-off is over, else backoff.
    fn requeue(&mut self, key: &str) {
        let backing_off = self
            .entries
            .get(key)
            .is_some_and(|e| self.backoff_until(e) > Instant::now());
        self.place(
            key,
            if backing_off {
                Place::Backoff
            } else {
                Place::Active
            },
        );
    }
}

impl SchedulingQueue {
    /// A queue backing pods off from `initial`, doubling up to `max`.
    pub fn new(initial: Duration, max: Duration) -> SchedulingQueue {
        SchedulingQueue {
            inner: Mutex::new(Inner {
                initial_backoff: initial,
                max_backoff: max,
                entries: HashMap::new(),
                unschedulable: std::collections::HashSet::new(),
                active: BinaryHeap::new(),
                backoff: BinaryHeap::new(),
                generation: 0,
                events: 0,
                closed: false,
            }),
            wake: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A pending pod was seen (added, or listed again). `gated`: PreEnqueue refused it.
    pub fn add(&self, pod: Arc<PodInfo>, gated: bool) {
        let mut q = self.lock();
        let key = pod.key.clone();
        match q.entries.get_mut(&key) {
            Some(e) => {
                // An update. A pod waiting for a change gets another try.
                e.pod = pod;
                let place = e.place;
                match (place, gated) {
                    (Place::InFlight, _) => {}
                    (_, true) => q.place(&key, Place::Gated),
                    (Place::Gated | Place::Unschedulable, false) => {
                        if let Some(e) = q.entries.get_mut(&key) {
                            e.queued = Instant::now();
                        }
                        q.requeue(&key)
                    }
                    _ => {}
                }
            }
            None => {
                q.entries.insert(
                    key.clone(),
                    Entry {
                        pod,
                        place: Place::Gated,
                        queued: Instant::now(),
                        attempts: 0,
                        last_attempt: None,
                        plugins: BTreeSet::new(),
                        generation: 0,
                        popped_at_event: 0,
                    },
                );
                q.place(&key, if gated { Place::Gated } else { Place::Active });
            }
        }
        drop(q);
        self.wake.notify_one();
    }

    /// The pod was deleted, bound, or is no longer this scheduler's.
    pub fn delete(&self, key: &str) {
        let mut q = self.lock();
        q.entries.remove(key);
        q.unschedulable.remove(key);
    }

    pub fn contains(&self, key: &str) -> bool {
        self.lock().entries.contains_key(key)
    }

    /// The next pod to schedule, waiting for one; `None` once closed.
    pub async fn pop(&self) -> Option<Arc<PodInfo>> {
        loop {
            let notified = self.wake.notified();
            {
                let mut q = self.lock();
                if q.closed {
                    return None;
                }
                while let Some(item) = q.active.pop() {
                    let events = q.events;
                    let Some(e) = q.entries.get_mut(&item.key) else {
                        continue;
                    };
                    if e.generation != item.generation || e.place != Place::Active {
                        continue;
                    }
                    e.place = Place::InFlight;
                    e.attempts += 1;
                    e.last_attempt = Some(Instant::now());
                    e.popped_at_event = events;
                    return Some(e.pod.clone());
                }
            }
            notified.await;
        }
    }

    /// The pod was scheduled (its binding is under way): it leaves the queue.
    pub fn done(&self, key: &str) {
        let mut q = self.lock();
        if q.entries
            .get(key)
            .is_some_and(|e| e.place == Place::InFlight)
        {
            q.entries.remove(key);
        }
    }

    /// No node fits: it waits for an event that may help (`plugins` refused it), or backs off
    /// if such an event came while it was being scheduled.
    pub fn unschedulable(&self, pod: Arc<PodInfo>, plugins: BTreeSet<&'static str>) {
        let mut q = self.lock();
        let events = q.events;
        let key = pod.key.clone();
        let Some(e) = q.entries.get_mut(&key) else {
            return;
        };
        if e.place != Place::InFlight {
            return;
        }
        e.plugins = plugins;
        let missed = e.popped_at_event != events;
        if missed {
            q.place(&key, Place::Backoff);
        } else {
            q.place(&key, Place::Unschedulable);
        }
    }

    /// An error (or a failed binding): it tries again after its back-off. A pod no longer in
    /// the queue (its binding failed after it left) is added back.
    pub fn retry(&self, pod: Arc<PodInfo>) {
        let mut q = self.lock();
        let key = pod.key.clone();
        if !q.entries.contains_key(&key) {
            q.entries.insert(
                key.clone(),
                Entry {
                    pod,
                    place: Place::InFlight,
                    queued: Instant::now(),
                    attempts: 1,
                    last_attempt: Some(Instant::now()),
                    plugins: BTreeSet::new(),
                    generation: 0,
                    popped_at_event: 0,
                },
            );
        }
        q.place(&key, Place::Backoff);
    }

    /// A cluster event: unschedulable pods it may help go back to active (or backoff).
    pub fn move_for(&self, event: ClusterEvent) {
        let mut q = self.lock();
        q.events += 1;
        let moving: Vec<String> = q
            .unschedulable
            .iter()
            .filter(|k| {
                q.entries.get(*k).is_some_and(|e| {
                    e.place == Place::Unschedulable
                        && (e.plugins.is_empty() || e.plugins.iter().any(|p| event.helps(p)))
                })
            })
            .cloned()
            .collect();
        let moved = !moving.is_empty();
        for k in moving {
            q.requeue(&k);
        }
        drop(q);
        if moved {
            self.wake.notify_one();
        }
    }

    /// Moves pods whose back-off is over to active, and pods unschedulable for too long back
    /// to be tried (upstream flushes every second and every 30 s).
    pub fn flush(&self) {
        let mut q = self.lock();
        let now = Instant::now();
        let mut moved = false;
        while let Some(Reverse((until, generation, key))) = q.backoff.peek().cloned() {
            if until > now {
                break;
            }
            q.backoff.pop();
            let current = q
                .entries
                .get(&key)
                .is_some_and(|e| e.generation == generation && e.place == Place::Backoff);
            if current {
                q.place(&key, Place::Active);
                moved = true;
            }
        }
        let stale: Vec<String> = q
            .unschedulable
            .iter()
            .filter(|k| {
                q.entries.get(*k).is_some_and(|e| {
                    e.last_attempt
                        .is_some_and(|t| now.duration_since(t) > MAX_UNSCHEDULABLE)
                })
            })
            .cloned()
            .collect();
        for k in stale {
            q.requeue(&k);
            moved = true;
        }
        drop(q);
        if moved {
            self.wake.notify_one();
        }
    }

    pub fn pending(&self) -> Pending {
        let q = self.lock();
        let mut p = Pending::default();
        for e in q.entries.values() {
            match e.place {
                Place::Active | Place::InFlight => p.active += 1,
                Place::Backoff => p.backoff += 1,
                Place::Unschedulable => p.unschedulable += 1,
                Place::Gated => p.gated += 1,
            }
        }
        p
    }

    /// Wakes a waiting `pop` with `None` from now on.
    pub fn close(&self) {
        self.lock().closed = true;
        self.wake.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testing::pod;
    use serde_json::json;

    fn named(name: &str, priority: i32) -> Arc<PodInfo> {
        pod(json!({"metadata": {"name": name, "uid": name}, "spec": {"priority": priority}}))
    }

    #[tokio::test]
    async fn queue_pops_by_priority_then_time() {
        let q = SchedulingQueue::default();
        q.add(named("low", 0), false);
        q.add(named("high", 100), false);
        q.add(named("low2", 0), false);
        let order = [q.pop().await, q.pop().await, q.pop().await]
            .map(|p| p.map(|p| p.name.clone()).unwrap_or_default());
        assert_eq!(order, ["high", "low", "low2"]);
    }

    #[tokio::test]
    async fn queue_moves_unschedulable_pods_only_for_events_that_may_help() {
        let q = SchedulingQueue::default();
        let p = named("p", 0);
        q.add(p.clone(), false);
        let _ = q.pop().await;
        q.unschedulable(p, BTreeSet::from(["TaintToleration"]));
        assert_eq!(q.pending().unschedulable, 1);
        q.move_for(ClusterEvent::AssignedPodDelete);
        assert_eq!(
            q.pending().unschedulable,
            1,
            "a deleted pod does not untaint a node"
        );
        q.move_for(ClusterEvent::NodeTaint);
        let p = q.pending();
        assert_eq!(p.unschedulable, 0);
        assert_eq!(p.active + p.backoff, 1);
    }

    #[tokio::test]
    async fn a_bound_pods_new_labels_move_pods_refused_by_inter_pod_affinity_only() {
        let q = SchedulingQueue::default();
        let (a, b) = (named("a", 0), named("b", 0));
        for (p, plugin) in [(&a, "InterPodAffinity"), (&b, "NodeResourcesFit")] {
            q.add(p.clone(), false);
            let _ = q.pop().await;
            q.unschedulable(p.clone(), BTreeSet::from([plugin]));
        }
        q.move_for(ClusterEvent::AssignedPodUpdate);
        let p = q.pending();
        assert_eq!(p.unschedulable, 1, "new labels free no cpu");
        assert_eq!(p.active + p.backoff, 1);
    }

    #[tokio::test]
    async fn an_event_during_the_attempt_sends_the_pod_to_backoff() {
        let q = SchedulingQueue::default();
        let p = named("p", 0);
        q.add(p.clone(), false);
        let _ = q.pop().await;
        q.move_for(ClusterEvent::NodeAdd);
        q.unschedulable(p, BTreeSet::from(["NodeResourcesFit"]));
        assert_eq!(q.pending().backoff, 1);
    }

    #[test]
    fn backoff_doubles_from_one_second_to_ten() {
        let now = Instant::now();
        let e = |attempts| Entry {
            pod: named("p", 0),
            place: Place::Backoff,
            queued: now,
            attempts,
            last_attempt: Some(now),
            plugins: BTreeSet::new(),
            generation: 0,
            popped_at_event: 0,
        };
        let secs = |a| {
            e(a).backoff_until(INITIAL_BACKOFF, MAX_BACKOFF)
                .duration_since(now)
                .as_secs()
        };
        assert_eq!(
            [secs(1), secs(2), secs(3), secs(4), secs(5), secs(9)],
            [1, 2, 4, 8, 10, 10]
        );
    }

    #[tokio::test]
    async fn gated_pods_wait_until_an_update_lifts_the_gates() {
        let q = SchedulingQueue::default();
        q.add(named("g", 0), true);
        assert_eq!(q.pending().gated, 1);
        q.add(named("g", 0), false);
        assert_eq!(q.pending().active, 1);
    }
}
