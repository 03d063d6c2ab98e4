//! One node of this process: its shared context and its pod workers, one per pod uid, fed by
//! the process's pod watch.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::node_context::NodeContext;
use crate::object_watch::Change;
use crate::pod_worker::PodWorker;

/// A node and the workers of the pods bound to it.
pub struct Agent {
    pub ctx: Arc<NodeContext>,
    pub pod_cidr: watch::Sender<Option<String>>,
    workers: Mutex<HashMap<String, watch::Sender<Option<Pod>>>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Agent {
    pub fn new(ctx: Arc<NodeContext>, pod_cidr: watch::Sender<Option<String>>) -> Agent {
        Agent {
            ctx,
            pod_cidr,
            workers: Mutex::new(HashMap::new()),
            tasks: Mutex::new(Vec::new()),
        }
    }

    /// Hands a change of a pod bound to this node to its worker, starting one for a new pod.
    pub fn dispatch(&self, change: Change<Pod>) {
        let mut workers = self.workers.lock().unwrap_or_else(PoisonError::into_inner);
        match change {
            Change::Applied(pod) => {
                let uid = pod.uid().unwrap_or_default();
                if let Some(tx) = workers.get(&uid) {
                    // A worker that has finished (its pod ended before this agent ran it)
                    // takes no more updates; that is fine.
                    tx.send_replace(Some(pod));
                    return;
                }
                if self.ctx.stopping.is_cancelled() {
                    return;
                }
                let (tx, rx) = watch::channel(Some(pod));
                let worker = PodWorker::new(self.ctx.clone(), uid.clone(), rx);
                let task = tokio::spawn(worker.run());
                workers.insert(uid, tx);
                let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
                tasks.retain(|t| !t.is_finished());
                tasks.push(task);
            }
            Change::Deleted { uid, .. } => {
                if let Some(tx) = workers.remove(&uid) {
                    tx.send_replace(None);
                }
            }
        }
    }

    /// Waits for every pod worker to end (after `ctx.stopping` is cancelled).
    pub async fn drain(&self) {
        let tasks: Vec<JoinHandle<()>> = self
            .tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
            .collect();
        futures_util::future::join_all(tasks).await;
    }
}
