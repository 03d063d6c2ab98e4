//! client-go's work-queue metrics, per queue (labelled by the controller's name):
//! `workqueue_adds_total`, `workqueue_depth`, `workqueue_queue_duration_seconds` (time from add
//! to a worker taking the key), `workqueue_work_duration_seconds` (time a worker holds a key),
//! `workqueue_retries_total`, `workqueue_unfinished_work_seconds` and
//! `workqueue_longest_running_processor_seconds`. One set per process, shared by every term's
//! manager, which the server registers into its `/metrics` registry.

use std::sync::atomic::AtomicU64;
use std::sync::OnceLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// The queue a series belongs to.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    name: String,
}

/// client-go's buckets: 10 ns to 1,000 s, ×10 each.
fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1e-8, 10.0, 12))
}

type Seconds = Gauge<f64, AtomicU64>;

/// Every queue's series.
#[derive(Debug)]
pub struct WorkqueueMetrics {
    adds: Family<QueueLabels, Counter>,
    depth: Family<QueueLabels, Gauge>,
    queue_duration: Family<QueueLabels, Histogram, fn() -> Histogram>,
    work_duration: Family<QueueLabels, Histogram, fn() -> Histogram>,
    retries: Family<QueueLabels, Counter>,
    unfinished: Family<QueueLabels, Seconds>,
    longest: Family<QueueLabels, Seconds>,
}

impl WorkqueueMetrics {
    /// The process's set.
    pub fn global() -> &'static WorkqueueMetrics {
        static METRICS: OnceLock<WorkqueueMetrics> = OnceLock::new();
        METRICS.get_or_init(|| WorkqueueMetrics {
            adds: Family::default(),
            depth: Family::default(),
            queue_duration: Family::new_with_constructor(duration_histogram),
            work_duration: Family::new_with_constructor(duration_histogram),
            retries: Family::default(),
            unfinished: Family::default(),
            longest: Family::default(),
        })
    }

    /// Adds the series to `registry` under client-go's names and help texts.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "workqueue_adds",
            "Total number of adds handled by workqueue",
            self.adds.clone(),
        );
        registry.register(
            "workqueue_depth",
            "Current depth of workqueue",
            self.depth.clone(),
        );
        registry.register(
            "workqueue_queue_duration_seconds",
            "How long in seconds an item stays in workqueue before being requested.",
            self.queue_duration.clone(),
        );
        registry.register(
            "workqueue_work_duration_seconds",
            "How long in seconds processing an item from workqueue takes.",
            self.work_duration.clone(),
        );
        registry.register(
            "workqueue_retries",
            "Total number of retries handled by workqueue",
            self.retries.clone(),
        );
        registry.register(
            "workqueue_unfinished_work_seconds",
            "How many seconds of work has done that is in progress and hasn't been observed by work_duration. Large values indicate stuck threads. One can deduce the number of stuck threads by observing the rate at which this increases.",
            self.unfinished.clone(),
        );
        registry.register(
            "workqueue_longest_running_processor_seconds",
            "How many seconds has the longest running processor for workqueue been running.",
            self.longest.clone(),
        );
    }

    /// The series of the queue named `name`.
    pub fn queue(&self, name: &str) -> QueueMetrics {
        let labels = QueueLabels { name: name.into() };
        QueueMetrics {
            adds: self.adds.get_or_create(&labels).clone(),
            depth: self.depth.get_or_create(&labels).clone(),
            queue_duration: self.queue_duration.get_or_create(&labels).clone(),
            work_duration: self.work_duration.get_or_create(&labels).clone(),
            retries: self.retries.get_or_create(&labels).clone(),
            unfinished: self.unfinished.get_or_create(&labels).clone(),
            longest: self.longest.get_or_create(&labels).clone(),
        }
    }
}

/// One queue's series.
#[derive(Clone, Debug)]
pub struct QueueMetrics {
    pub adds: Counter,
    pub depth: Gauge,
    pub queue_duration: Histogram,
    pub work_duration: Histogram,
    pub retries: Counter,
    pub unfinished: Seconds,
    pub longest: Seconds,
}
