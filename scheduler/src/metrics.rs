//! kube-scheduler's metrics under its names: `scheduler_schedule_attempts_total{result,profile}`,
//! `scheduler_scheduling_attempt_duration_seconds{result,profile}`,
//! `scheduler_pending_pods{queue}`, `scheduler_preemption_attempts_total`,
//! `scheduler_preemption_victims` and
//! `scheduler_framework_extension_point_duration_seconds{extension_point,status,profile}`.
//! One set per process, shared by every term's scheduler; the server registers it.

use std::sync::OnceLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::queue::Pending;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Attempt {
    result: String,
    profile: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Queue {
    queue: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Point {
    extension_point: String,
    status: String,
    profile: String,
}

/// Upstream's buckets: 1 ms doubling, 15 of them (attempts); 0.1 ms doubling, 12 (points).
fn attempt_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

fn point_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 12))
}

#[derive(Debug)]
pub struct SchedulerMetrics {
    attempts: Family<Attempt, Counter>,
    attempt_duration: Family<Attempt, Histogram, fn() -> Histogram>,
    pending: Family<Queue, Gauge>,
    preemption_attempts: Counter,
    preemption_victims: Histogram,
    points: Family<Point, Histogram, fn() -> Histogram>,
}

/// How an attempt ended, as upstream labels it.
#[derive(Clone, Copy, Debug)]
pub enum AttemptResult {
    Scheduled,
    Unschedulable,
    Error,
}

impl AttemptResult {
    fn label(self) -> &'static str {
        match self {
            AttemptResult::Scheduled => "scheduled",
            AttemptResult::Unschedulable => "unschedulable",
            AttemptResult::Error => "error",
        }
    }
}

impl SchedulerMetrics {
    pub fn global() -> &'static SchedulerMetrics {
        static METRICS: OnceLock<SchedulerMetrics> = OnceLock::new();
        METRICS.get_or_init(|| SchedulerMetrics {
            attempts: Family::default(),
            attempt_duration: Family::new_with_constructor(attempt_buckets),
            pending: Family::default(),
            preemption_attempts: Counter::default(),
            preemption_victims: Histogram::new(exponential_buckets(1.0, 2.0, 7)),
            points: Family::new_with_constructor(point_buckets),
        })
    }

    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "scheduler_schedule_attempts",
            "Number of attempts to schedule pods, by the result. 'unschedulable' means a pod could not be scheduled, while 'error' means an internal scheduler problem.",
            self.attempts.clone(),
        );
        registry.register(
            "scheduler_scheduling_attempt_duration_seconds",
            "Scheduling attempt latency in seconds (scheduling algorithm + binding)",
            self.attempt_duration.clone(),
        );
        registry.register(
            "scheduler_pending_pods",
            "Number of pending pods, by the queue type. 'active' means number of pods in activeQ; 'backoff' means number of pods in backoffQ; 'unschedulable' means number of pods in unschedulablePods that the scheduler attempted to schedule and failed; 'gated' is the number of unschedulable pods that the scheduler never attempted to schedule because they are gated.",
            self.pending.clone(),
        );
        registry.register(
            "scheduler_preemption_attempts",
            "Total preemption attempts in the cluster till now",
            self.preemption_attempts.clone(),
        );
        registry.register(
            "scheduler_preemption_victims",
            "Number of selected preemption victims",
            self.preemption_victims.clone(),
        );
        registry.register(
            "scheduler_framework_extension_point_duration_seconds",
            "Latency for running all plugins of a specific extension point.",
            self.points.clone(),
        );
    }

    pub fn attempt(&self, profile: &str, result: AttemptResult, took: Duration) {
        let l = Attempt {
            result: result.label().into(),
            profile: profile.into(),
        };
        self.attempts.get_or_create(&l).inc();
        self.attempt_duration
            .get_or_create(&l)
            .observe(took.as_secs_f64());
    }

    pub fn point(&self, profile: &str, point: &str, ok: bool, took: Duration) {
        let l = Point {
            extension_point: point.into(),
            status: if ok { "Success" } else { "Unschedulable" }.into(),
            profile: profile.into(),
        };
        self.points.get_or_create(&l).observe(took.as_secs_f64());
    }

    pub fn preemption(&self, victims: usize) {
        self.preemption_attempts.inc();
        self.preemption_victims.observe(victims as f64);
    }

    pub fn pending(&self, p: Pending) {
        for (q, n) in [
            ("active", p.active),
            ("backoff", p.backoff),
            ("unschedulable", p.unschedulable),
            ("gated", p.gated),
        ] {
            self.pending
                .get_or_create(&Queue { queue: q.into() })
                .set(n as i64);
        }
    }
}
