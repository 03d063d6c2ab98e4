//! The NoExecute taint manager (upstream's taint-eviction-controller, run inside the node
//! lifecycle controller): a pod bound to a node with a NoExecute taint it does not tolerate is
//! deleted at once; one that tolerates every such taint for a while (`tolerationSeconds`) is
//! deleted that long after the manager saw the taints (its own clock, as upstream), unless the
//! taints go first. Before deleting, the pod gets a `DisruptionTarget` condition; each
//! deletion (and each cancelled one) is a `TaintManagerEviction` event on the pod.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod, PodCondition, Taint, Toleration};
use kube::api::{DeleteParams, ObjectMeta};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::taints::{self, NO_EXECUTE};
use crate::events::Recorder;
use crate::informers::{Change, Informer, Informers};
use crate::workqueue::{key_of, run_workers, WorkQueue};
use crate::{status_patch, ControllerError};

/// Upstream's UpdateWorkerSize.
const WORKERS: usize = 8;
/// Upstream's tries at one deletion, 10 ms apart.
const DELETE_ATTEMPTS: usize = 5;

fn no_execute(node: &Node) -> Vec<Taint> {
    taints::node_taints(node)
        .iter()
        .filter(|t| t.effect == NO_EXECUTE)
        .cloned()
        .collect()
}

fn node_of(p: &Pod) -> String {
    p.spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .unwrap_or_default()
}

fn tolerations_of(p: &Pod) -> Vec<Toleration> {
    p.spec
        .as_ref()
        .and_then(|s| s.tolerations.clone())
        .unwrap_or_default()
}

/// A pod's deletion, scheduled or done.
enum Work {
    /// To fire at a time; `created` is when the manager first decided on it.
    Scheduled {
        id: u64,
        created: Instant,
        cancel: CancellationToken,
    },
    /// Fired and succeeded: not scheduled again until cancelled (upstream's nil worker).
    Fired,
}

#[derive(Default)]
struct State {
    /// NoExecute taints per tainted node.
    tainted: HashMap<String, Vec<Taint>>,
    /// Deletions by pod key.
    work: HashMap<String, Work>,
    next_id: u64,
    /// What the handlers saw last, to queue only changes that matter (upstream compares old
    /// and new objects): a node's NoExecute taints, a pod's node and tolerations.
    seen_nodes: HashMap<String, Vec<Taint>>,
    seen_pods: HashMap<String, (String, Vec<Toleration>)>,
}

struct Manager {
    client: Client,
    nodes: Arc<Informer<Node>>,
    pods: Arc<Informer<Pod>>,
    recorder: Recorder,
    state: Mutex<State>,
    ended: CancellationToken,
}

/// Queue keys: a node's name, or `pod:` and a pod's key.
const POD: &str = "pod:";

pub fn register(
    client: Client,
    informers: &Informers,
    ended: CancellationToken,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let nodes = informers.get::<Node>();
    let pods = informers.get::<Pod>();
    let queue: Arc<WorkQueue<String>> = WorkQueue::new(ended.clone());
    let manager = Arc::new(Manager {
        client: client.clone(),
        nodes: nodes.clone(),
        pods: pods.clone(),
        recorder: Recorder::new(client, "taint-eviction-controller"),
        state: Mutex::new(State::default()),
        ended,
    });
    let (m, q) = (manager.clone(), queue.clone());
    nodes.on_change(move |c| {
        let mut s = m.lock();
        match c {
            Change::Applied(n) => {
                let taints = no_execute(n);
                if s.seen_nodes.get(&n.name_any()) != Some(&taints) {
                    s.seen_nodes.insert(n.name_any(), taints);
                    q.add(n.name_any());
                }
            }
            Change::Deleted(n) => {
                s.seen_nodes.remove(&n.name_any());
                q.add(n.name_any());
            }
        }
    });
    let (m, q) = (manager.clone(), queue.clone());
    pods.on_change(move |c| {
        let mut s = m.lock();
        match c {
            Change::Applied(p) => {
                let key = key_of(&p.namespace().unwrap_or_default(), &p.name_any());
                let now = (node_of(p), tolerations_of(p));
                if s.seen_pods.get(&key) != Some(&now) {
                    s.seen_pods.insert(key.clone(), now);
                    q.add(format!("{POD}{key}"));
                }
            }
            Change::Deleted(p) => {
                let key = key_of(&p.namespace().unwrap_or_default(), &p.name_any());
                s.seen_pods.remove(&key);
                q.add(format!("{POD}{key}"));
            }
        }
    });
    async move {
        nodes.synced().await;
        pods.synced().await;
        run_workers(queue, WORKERS, "taint-eviction", move |key: String| {
            let m = manager.clone();
            async move {
                let notes = match key.strip_prefix(POD) {
                    Some(pod) => m.handle_pod(pod),
                    None => m.handle_node(&key),
                };
                m.emit(notes).await;
                Ok::<(), ControllerError>(())
            }
        })
        .await;
    }
}

/// An event to record once the state lock is released: (pod key, message).
type Note = (String, String);

impl Manager {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn handle_node(self: &Arc<Self>, name: &str) -> Vec<Note> {
        let Some(node) = self.nodes.store().get(&ObjectRef::new(name)) else {
            self.lock().tainted.remove(name);
            return Vec::new();
        };
        let taints = no_execute(&node);
        let mut s = self.lock();
        if taints.is_empty() {
            s.tainted.remove(name);
        } else {
            s.tainted.insert(name.to_string(), taints.clone());
        }
        let pods: Vec<Arc<Pod>> = self
            .pods
            .store()
            .state()
            .into_iter()
            .filter(|p| node_of(p) == name)
            .collect();
        let mut notes = Vec::new();
        let now = Instant::now();
        for p in pods {
            let key = key_of(&p.namespace().unwrap_or_default(), &p.name_any());
            if taints.is_empty() {
                self.cancel(&mut s, &key, &mut notes);
            } else {
                self.process(&mut s, &key, &tolerations_of(&p), &taints, now, &mut notes);
            }
        }
        notes
    }

    fn handle_pod(self: &Arc<Self>, key: &str) -> Vec<Note> {
        let mut notes = Vec::new();
        let Some((ns, name)) = key.split_once('/') else {
            return notes;
        };
        let pod = self.pods.store().get(&ObjectRef::new(name).within(ns));
        let mut s = self.lock();
        let Some(pod) = pod else {
            self.cancel(&mut s, key, &mut notes);
            return notes;
        };
        let node = node_of(&pod);
        if node.is_empty() {
            return notes;
        }
        let Some(taints) = s.tainted.get(&node).cloned() else {
            return notes;
        };
        self.process(
            &mut s,
            key,
            &tolerations_of(&pod),
            &taints,
            Instant::now(),
            &mut notes,
        );
        notes
    }

    /// Schedules, keeps or cancels the pod's deletion for the node's NoExecute `taints`.
    fn process(
        self: &Arc<Self>,
        s: &mut State,
        key: &str,
        tolerations: &[Toleration],
        taints: &[Taint],
        now: Instant,
        notes: &mut Vec<Note>,
    ) {
        let Some(used) = taints::matching_tolerations(taints, tolerations) else {
            self.cancel(s, key, notes);
            self.schedule(s, key, now, now);
            return;
        };
        let Some(stay) = taints::toleration_time(&used) else {
            self.cancel(s, key, notes);
            return;
        };
        let mut created = now;
        if let Some(Work::Scheduled { created: c, .. }) = s.work.get(key) {
            // An earlier decision that fires sooner stands.
            if *c + stay < now + stay {
                return;
            }
            created = *c;
            self.cancel(s, key, notes);
        }
        self.schedule(s, key, created, now + stay);
    }

    fn cancel(&self, s: &mut State, key: &str, notes: &mut Vec<Note>) {
        if let Some(Work::Scheduled { cancel, .. }) = s.work.remove(key) {
            cancel.cancel();
            notes.push((key.to_string(), format!("Cancelling deletion of Pod {key}")));
        }
    }

    /// Deletes the pod at `fire` unless a deletion is already scheduled or done.
    fn schedule(self: &Arc<Self>, s: &mut State, key: &str, created: Instant, fire: Instant) {
        if s.work.contains_key(key) {
            return;
        }
        s.next_id += 1;
        let id = s.next_id;
        let cancel = self.ended.child_token();
        s.work.insert(
            key.to_string(),
            Work::Scheduled {
                id,
                created,
                cancel: cancel.clone(),
            },
        );
        let (m, key) = (self.clone(), key.to_string());
        tokio::spawn(async move {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep_until(fire) => {}
            }
            m.emit(vec![(
                key.clone(),
                format!("Marking for deletion Pod {key}"),
            )])
            .await;
            let mut result = Ok(());
            for _ in 0..DELETE_ATTEMPTS {
                result = m.delete(&key).await;
                if result.is_ok() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let mut s = m.lock();
            // Only this deletion's entry changes (a newer one may have replaced it).
            if matches!(s.work.get(&key), Some(Work::Scheduled { id: i, .. }) if *i == id) {
                match result {
                    Ok(()) => {
                        s.work.insert(key, Work::Fired);
                    }
                    Err(e) => {
                        tracing::warn!(pod = %key, error = %e, "taint eviction failed");
                        s.work.remove(&key);
                    }
                }
            }
        });
    }

    /// Marks the pod a disruption target and deletes it.
    async fn delete(&self, key: &str) -> Result<(), ControllerError> {
        let Some((ns, name)) = key.split_once('/') else {
            return Ok(());
        };
        let api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let Some(pod) = api.get_opt(name).await? else {
            return Ok(());
        };
        let condition = PodCondition {
            type_: "DisruptionTarget".into(),
            status: "True".into(),
            reason: Some("DeletionByTaintManager".into()),
            message: Some("Taint manager: deleting due to NoExecute taint".into()),
            ..PodCondition::default()
        };
        let before = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.clone())
            .unwrap_or_default();
        let after = crate::podgc::with_condition(&pod, condition);
        if before != after {
            status_patch::merge(&api, name, json!({"status": {"conditions": after}})).await?;
        }
        match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn emit(&self, notes: Vec<Note>) {
        for (key, message) in notes {
            let Some((ns, name)) = key.split_once('/') else {
                continue;
            };
            // Upstream's reference names the pod only (no uid): it may be gone already.
            let pod = Pod {
                metadata: ObjectMeta {
                    name: Some(name.into()),
                    namespace: Some(ns.into()),
                    ..ObjectMeta::default()
                },
                ..Pod::default()
            };
            self.recorder
                .normal(&pod, "TaintManagerEviction", message)
                .await;
        }
    }
}
