//! The scheduler's events, written as kube-scheduler's event broadcaster writes them: queued
//! (at most 1,000 waiting; beyond that new ones are dropped, as client-go's broadcaster drops
//! when its channel is full) and written one at a time by a single task through the
//! controllers' recorder (which aggregates repeats). Scheduling and binding never wait for an
//! event to be stored, so a burst of binds is not slowed by a burst of `Scheduled` events.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use capstan_controllers::events::Recorder;
use k8s_openapi::api::core::v1::Pod;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// client-go's `maxQueuedEvents`.
const MAX_QUEUED: usize = 1000;

struct Queued {
    pod: Pod,
    warning: bool,
    reason: &'static str,
    message: String,
}

#[derive(Clone)]
pub struct EventQueue {
    tx: mpsc::Sender<Queued>,
    dropped: Arc<AtomicU64>,
}

impl EventQueue {
    /// Starts the writer; it stops when `ended` is cancelled.
    pub fn start(recorder: Recorder, ended: CancellationToken) -> EventQueue {
        let (tx, mut rx) = mpsc::channel::<Queued>(MAX_QUEUED);
        tokio::spawn(async move {
            loop {
                let e = tokio::select! {
                    _ = ended.cancelled() => return,
                    e = rx.recv() => match e { Some(e) => e, None => return },
                };
                if e.warning {
                    recorder.warning(&e.pod, e.reason, e.message).await;
                } else {
                    recorder.normal(&e.pod, e.reason, e.message).await;
                }
            }
        });
        EventQueue {
            tx,
            dropped: Arc::default(),
        }
    }

    fn push(&self, pod: &Pod, warning: bool, reason: &'static str, message: String) {
        let queued = Queued {
            pod: pod.clone(),
            warning,
            reason,
            message,
        };
        if self.tx.try_send(queued).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(
                    dropped = n,
                    "scheduler events dropped: the event queue is full"
                );
            }
        }
    }

    /// A `Normal` event about `pod` (queued).
    pub async fn normal(&self, pod: &Pod, reason: &'static str, message: String) {
        self.push(pod, false, reason, message);
    }

    /// A `Warning` event about `pod` (queued).
    pub async fn warning(&self, pod: &Pod, reason: &'static str, message: String) {
        self.push(pod, true, reason, message);
    }
}
