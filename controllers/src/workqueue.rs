//! `WorkQueue`: client-go's rate-limited work queue. A key added while it waits is queued once;
//! a key added while a worker processes it is queued again only after `done`, so no two workers
//! ever hold one key; failed keys come back after client-go's default controller backoff (per
//! key 5 ms doubling to 1000 s, and all keys together at 10 per second with a burst of 100,
//! whichever is later); `forget` resets a key's failures. Once its workers run, the queue reports
//! client-go's `workqueue_*` metrics under the controller's name.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::workqueue_metrics::{QueueMetrics, WorkqueueMetrics};

/// Per-key exponential back-off: the first retry after this.
const BASE_DELAY: Duration = Duration::from_millis(5);
/// And never later than this.
const MAX_DELAY: Duration = Duration::from_secs(1000);
/// How long a sync still running at shutdown may take to finish before it is dropped.
const SYNC_GRACE: Duration = Duration::from_secs(2);
/// The overall token bucket: this many retries per second...
const BUCKET_QPS: f64 = 10.0;
/// ...after a burst of this many.
const BUCKET_BURST: f64 = 100.0;

struct State<K> {
    queue: VecDeque<K>,
    dirty: HashSet<K>,
    processing: HashSet<K>,
    failures: HashMap<K, u32>,
    /// The token bucket: tokens left and when it was last refilled.
    tokens: f64,
    refilled: Instant,
    /// When each waiting key was added, and when each key being processed was taken.
    added: HashMap<K, Instant>,
    taken: HashMap<K, Instant>,
    /// The queue's metrics once its workers run; adds counted before then.
    metrics: Option<QueueMetrics>,
    early_adds: u64,
}

impl<K> State<K> {
    fn report_depth(&self) {
        if let Some(m) = &self.metrics {
            m.depth.set(self.queue.len() as i64);
        }
    }
}

/// A queue of keys to reconcile, shared by a controller's event handlers and its workers.
pub struct WorkQueue<K> {
    state: Mutex<State<K>>,
    ready: Notify,
    shutdown: CancellationToken,
}

impl<K: Clone + Eq + Hash + Send + 'static> WorkQueue<K> {
    /// A queue that stops handing out keys once `shutdown` is cancelled.
    pub fn new(shutdown: CancellationToken) -> Arc<WorkQueue<K>> {
        Arc::new(WorkQueue {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                dirty: HashSet::new(),
                processing: HashSet::new(),
                failures: HashMap::new(),
                tokens: BUCKET_BURST,
                refilled: Instant::now(),
                added: HashMap::new(),
                taken: HashMap::new(),
                metrics: None,
                early_adds: 0,
            }),
            ready: Notify::new(),
            shutdown,
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State<K>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `key` unless it is already waiting.
    pub fn add(&self, key: K) {
        let mut s = self.state();
        if !s.dirty.insert(key.clone()) {
            return;
        }
        match &s.metrics {
            Some(m) => {
                m.adds.inc();
            }
            None => s.early_adds += 1,
        }
        s.added.entry(key.clone()).or_insert_with(Instant::now);
        if !s.processing.contains(&key) {
            s.queue.push_back(key);
            s.report_depth();
            drop(s);
            self.ready.notify_one();
        }
    }

    /// The next key to process (the caller must call [`WorkQueue::done`] with it), or `None`
    /// once the queue is shut down.
    pub async fn get(&self) -> Option<K> {
        loop {
            let notified = self.ready.notified();
            {
                let mut s = self.state();
                if self.shutdown.is_cancelled() {
                    return None;
                }
                if let Some(key) = s.queue.pop_front() {
                    s.dirty.remove(&key);
                    s.processing.insert(key.clone());
                    let now = Instant::now();
                    if let (Some(added), Some(m)) = (s.added.remove(&key), &s.metrics) {
                        m.queue_duration
                            .observe(now.duration_since(added).as_secs_f64());
                    }
                    s.taken.insert(key.clone(), now);
                    s.report_depth();
                    return Some(key);
                }
            }
            tokio::select! {
                _ = notified => {}
                _ = self.shutdown.cancelled() => return None,
            }
        }
    }

    /// `key` is processed; if it was added meanwhile, it is queued again now.
    pub fn done(&self, key: &K) {
        let mut s = self.state();
        s.processing.remove(key);
        if let (Some(taken), Some(m)) = (s.taken.remove(key), &s.metrics) {
            m.work_duration.observe(taken.elapsed().as_secs_f64());
        }
        if s.dirty.contains(key) {
            s.queue.push_back(key.clone());
            s.report_depth();
            drop(s);
            self.ready.notify_one();
        }
    }

    /// Reports this queue's metrics under `name` from now on.
    fn instrument(&self, name: &str) {
        let metrics = WorkqueueMetrics::global().queue(name);
        let mut s = self.state();
        metrics.adds.inc_by(std::mem::take(&mut s.early_adds));
        s.metrics = Some(metrics);
        s.report_depth();
    }

    /// Brings the in-progress gauges up to date (client-go does every 500 ms).
    fn report_unfinished(&self) {
        let s = self.state();
        if let Some(m) = &s.metrics {
            let running = s.taken.values().map(|t| t.elapsed().as_secs_f64());
            let (total, longest) = running.fold((0.0, 0.0), |(sum, max): (f64, f64), d| {
                (sum + d, max.max(d))
            });
            m.unfinished.set(total);
            m.longest.set(longest);
        }
    }

    /// The queue stopped: its gauges read zero.
    fn report_stopped(&self) {
        let s = self.state();
        if let Some(m) = &s.metrics {
            m.depth.set(0);
            m.unfinished.set(0.0);
            m.longest.set(0.0);
        }
    }

    /// Queues `key` again after its back-off (a failed reconcile).
    pub fn add_rate_limited(self: &Arc<Self>, key: K) {
        if let Some(m) = &self.state().metrics {
            m.retries.inc();
        }
        let delay = self.when(&key);
        self.add_after(key, delay);
    }

    /// Queues `key` after `delay`.
    pub fn add_after(self: &Arc<Self>, key: K, delay: Duration) {
        if delay.is_zero() {
            self.add(key);
            return;
        }
        let queue = self.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(delay) => queue.add(key),
                _ = queue.shutdown.cancelled() => {}
            }
        });
    }

    /// Clears `key`'s failures (it reconciled).
    pub fn forget(&self, key: &K) {
        self.state().failures.remove(key);
    }

    /// How many times `key` has failed since it was last forgotten.
    pub fn failures(&self, key: &K) -> u32 {
        self.state().failures.get(key).copied().unwrap_or(0)
    }

    /// The back-off for `key`'s next retry, counting this failure: the later of the per-key
    /// exponential delay and the overall bucket's.
    fn when(&self, key: &K) -> Duration {
        let mut s = self.state();
        let n = s.failures.entry(key.clone()).or_insert(0);
        let exp = BASE_DELAY
            .checked_mul(1u32.checked_shl(*n).unwrap_or(u32::MAX))
            .unwrap_or(MAX_DELAY)
            .min(MAX_DELAY);
        *n = n.saturating_add(1);
        let now = Instant::now();
        let elapsed = now.duration_since(s.refilled).as_secs_f64();
        s.tokens = (s.tokens + elapsed * BUCKET_QPS).min(BUCKET_BURST);
        s.refilled = now;
        s.tokens -= 1.0;
        let bucket = if s.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-s.tokens / BUCKET_QPS)
        };
        exp.max(bucket)
    }

    /// How many keys wait (not counting those being processed).
    pub fn len(&self) -> usize {
        self.state().queue.len()
    }

    /// Whether no key waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `namespace/name`: the key a namespaced object is queued under.
pub fn key_of(ns: &str, name: &str) -> String {
    format!("{ns}/{name}")
}

/// Runs `workers` workers over `queue` until it shuts down: each takes a key, reconciles it
/// with `sync`, forgets its failures on success or queues it again after its back-off, and
/// marks it done.
pub async fn run_workers<K, F, Fut, E>(
    queue: Arc<WorkQueue<K>>,
    workers: usize,
    controller: &'static str,
    sync: F,
) where
    K: Clone + Eq + Hash + Send + Sync + std::fmt::Display + 'static,
    F: Fn(K) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    queue.instrument(controller);
    let gauges = {
        let queue = queue.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            loop {
                tokio::select! {
                    _ = tick.tick() => queue.report_unfinished(),
                    _ = queue.shutdown.cancelled() => return,
                }
            }
        })
    };
    let mut tasks = Vec::new();
    for _ in 0..workers.max(1) {
        let (queue, sync) = (queue.clone(), sync.clone());
        tasks.push(tokio::spawn(async move {
            while let Some(key) = queue.get().await {
                // A sync still running when the queue shuts down gets a moment to finish (its
                // writes in flight are answered, refused by the ended term's fence), then is
                // dropped (a request that never answers), so that the term's end is never
                // held up by it.
                let running = sync(key.clone());
                tokio::pin!(running);
                let outcome = tokio::select! {
                    r = &mut running => r,
                    _ = queue.shutdown.cancelled() => {
                        match tokio::time::timeout(SYNC_GRACE, &mut running).await {
                            Ok(r) => r,
                            Err(_) => {
                                queue.done(&key);
                                return;
                            }
                        }
                    }
                };
                match outcome {
                    Ok(()) => queue.forget(&key),
                    Err(e) => {
                        tracing::debug!(controller, %key, error = %e, "sync failed; retrying");
                        queue.add_rate_limited(key.clone());
                    }
                }
                queue.done(&key);
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let _ = gauges.await;
    queue.report_stopped();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_key_waits_once_and_is_never_held_by_two_workers() {
        let q = WorkQueue::new(CancellationToken::new());
        q.add("a");
        q.add("a");
        q.add("b");
        assert_eq!(q.len(), 2);
        let first = q.get().await;
        assert_eq!(first, Some("a"));
        // Added while processed: not handed out until done.
        q.add("a");
        assert_eq!(q.get().await, Some("b"));
        assert!(q.is_empty());
        q.done(&"a");
        assert_eq!(q.get().await, Some("a"));
    }

    #[tokio::test]
    async fn failures_back_off_exponentially_until_forgotten() {
        let q: Arc<WorkQueue<&str>> = WorkQueue::new(CancellationToken::new());
        let delays: Vec<Duration> = (0..4).map(|_| q.when(&"k")).collect();
        assert_eq!(delays, [5, 10, 20, 40].map(Duration::from_millis).to_vec());
        assert_eq!(q.failures(&"k"), 4);
        q.forget(&"k");
        assert_eq!(q.when(&"k"), Duration::from_millis(5));
        // Far along, the per-key delay stops at its maximum.
        for _ in 0..40 {
            q.when(&"far");
        }
        assert_eq!(q.when(&"far"), MAX_DELAY);
    }

    #[tokio::test]
    async fn past_the_burst_the_bucket_spaces_retries() {
        let q: Arc<WorkQueue<u32>> = WorkQueue::new(CancellationToken::new());
        let mut last = Duration::ZERO;
        for k in 0..(BUCKET_BURST as u32 + 10) {
            last = q.when(&k);
        }
        // 10 keys beyond the burst at 10 per second: about a second out.
        assert!(last > Duration::from_millis(900), "{last:?}");
    }

    #[tokio::test]
    async fn a_running_queue_counts_adds_retries_and_depth_under_its_name() {
        let stop = CancellationToken::new();
        let q: Arc<WorkQueue<u32>> = WorkQueue::new(stop.clone());
        q.add(1);
        q.add(1);
        q.add(2);
        let metrics = WorkqueueMetrics::global().queue("metrics-test");
        let (adds, retries) = (metrics.adds.get(), metrics.retries.get());
        let fails = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let workers = tokio::spawn(run_workers(q.clone(), 1, "metrics-test", {
            let fails = fails.clone();
            move |k: u32| {
                let fails = fails.clone();
                async move {
                    // Key 2 fails once, then succeeds.
                    if k == 2 && fails.swap(false, std::sync::atomic::Ordering::SeqCst) {
                        Err("once")
                    } else {
                        Ok(())
                    }
                }
            }
        }));
        let settled = tokio::time::timeout(Duration::from_secs(10), async {
            while metrics.adds.get() - adds < 3 || !q.is_empty() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        assert!(settled.await.is_ok(), "the retry never came");
        tokio::time::sleep(Duration::from_millis(50)).await;
        // Two distinct keys queued before the workers ran, and one retry of key 2.
        assert_eq!(metrics.adds.get() - adds, 3);
        assert_eq!(metrics.retries.get() - retries, 1);
        assert_eq!(metrics.depth.get(), 0);
        stop.cancel();
        let _ = workers.await;
    }

    #[tokio::test]
    async fn shutdown_ends_a_sync_that_never_returns() {
        let stop = CancellationToken::new();
        let q: Arc<WorkQueue<u32>> = WorkQueue::new(stop.clone());
        q.add(1);
        let workers = tokio::spawn(run_workers(q.clone(), 1, "stuck-test", |_k: u32| async {
            std::future::pending::<Result<(), &str>>().await
        }));
        while !q.is_empty() {
            tokio::task::yield_now().await;
        }
        stop.cancel();
        let ended = tokio::time::timeout(Duration::from_secs(10), workers).await;
        assert!(ended.is_ok(), "the workers outlived the queue");
    }

    #[tokio::test]
    async fn shutdown_ends_waiting_workers() {
        let stop = CancellationToken::new();
        let q: Arc<WorkQueue<u32>> = WorkQueue::new(stop.clone());
        let worker = {
            let q = q.clone();
            tokio::spawn(async move { q.get().await })
        };
        stop.cancel();
        assert_eq!(worker.await.ok().flatten(), None);
    }
}
