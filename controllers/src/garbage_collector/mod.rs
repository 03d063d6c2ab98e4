//! The garbage collector (kube-controller-manager's `garbage-collector`): every resource the
//! API serves that can be listed, watched and deleted (events aside) is watched for metadata
//! only, building the ownership graph; an object whose owners are all gone is deleted
//! (background, or as its own finalizers ask), a foreground deletion waits for the dependents
//! that block it, and an orphaning deletion strips its ownerReference from its dependents
//! before its `orphan` finalizer goes. Owners are checked against the API before anything is
//! deleted, so a cache that lags never collects an object whose owner lives.

mod collect;
pub mod graph;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::StreamExt;
use kube::core::{ApiResource, DynamicObject, PartialObjectMeta};
use kube::discovery::{verbs, Scope};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client, ResourceExt};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::workqueue::WorkQueue;
use crate::ControllerError;
use graph::{Graph, Identity, Work};

/// Resources never collected (upstream's ignoredResources).
const IGNORED: &[(&str, &str)] = &[("", "events"), ("events.k8s.io", "events")];

/// What the collector knows of the API: each (group, kind) → its resource and scope.
pub(crate) struct Kinds(HashMap<(String, String), (ApiResource, bool)>);

impl Kinds {
    fn group_of(api_version: &str) -> &str {
        api_version.split_once('/').map_or("", |(g, _)| g)
    }

    /// The resource serving `kind` of `api_version`'s group, and whether it is namespaced.
    pub(crate) fn resolve(&self, api_version: &str, kind: &str) -> Option<&(ApiResource, bool)> {
        self.0
            .get(&(Self::group_of(api_version).to_string(), kind.to_string()))
    }

    /// A dynamic API for the object `id` names; `None` for a kind the API does not serve.
    pub(crate) fn api_for(&self, client: &Client, id: &Identity) -> Option<Api<DynamicObject>> {
        let (ar, namespaced) = self.resolve(&id.api_version, &id.kind)?;
        Some(match (&id.namespace, namespaced) {
            (Some(ns), true) => Api::namespaced_with(client.clone(), ns, ar),
            _ => Api::all_with(client.clone(), ar),
        })
    }
}

/// The collector's shared state.
pub(crate) struct Collector {
    pub client: Client,
    pub kinds: Kinds,
    pub graph: Mutex<Graph>,
    pub deletes: Arc<WorkQueue<String>>,
    pub orphans: Arc<WorkQueue<String>>,
}

impl Collector {
    pub(crate) fn graph(&self) -> std::sync::MutexGuard<'_, Graph> {
        self.graph.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn schedule(&self, work: Work) {
        for uid in work.delete {
            self.deletes.add(uid);
        }
        for uid in work.orphan {
            self.orphans.add(uid);
        }
    }

    /// A node whose object the API no longer has leaves the graph.
    pub(crate) fn forget(&self, uid: &str) {
        let work = self.graph().remove(uid);
        self.schedule(work);
    }

    fn observe(&self, ar: &ApiResource, obj: &PartialObjectMeta<DynamicObject>) {
        let Some(uid) = obj.uid() else {
            return;
        };
        let id = Identity {
            api_version: ar.api_version.clone(),
            kind: ar.kind.clone(),
            namespace: obj.namespace(),
            name: obj.name_any(),
            uid,
        };
        let owners = obj.owner_references().to_vec();
        let finalizers = obj.finalizers().to_vec();
        let deleting = obj.metadata.deletion_timestamp.is_some();
        let work = self
            .graph()
            .observe(id, owners, deleting, &finalizers, |o| {
                self.kinds
                    .resolve(&o.api_version, &o.kind)
                    .is_none_or(|(_, namespaced)| *namespaced)
            });
        self.schedule(work);
    }
}

/// Discovers the collectable resources.
async fn discover(client: &Client) -> Result<(Kinds, Vec<ApiResource>), ControllerError> {
    let mut kinds = HashMap::new();
    let mut watched = Vec::new();
    for (ar, caps) in crate::api_resources::discover(client).await? {
        let namespaced = caps.scope == Scope::Namespaced;
        kinds.insert(
            (ar.group.clone(), ar.kind.clone()),
            (ar.clone(), namespaced),
        );
        let collectable = [verbs::LIST, verbs::WATCH, verbs::DELETE]
            .iter()
            .all(|v| caps.supports_operation(v));
        if collectable && !IGNORED.contains(&(ar.group.as_str(), ar.plural.as_str())) {
            watched.push(ar);
        }
    }
    Ok((Kinds(kinds), watched))
}

/// Runs the collector until `ended`: `workers` keys of each queue at once (upstream's
/// `--concurrent-gc-syncs`).
pub async fn run(client: Client, workers: usize, ended: CancellationToken) {
    // Discovery is retried until it answers (the API is in this process, so it will).
    let (kinds, watched) = loop {
        match discover(&client).await {
            Ok(found) => break found,
            Err(e) => {
                tracing::debug!(error = %e, "garbage collector: discovery failed; retrying");
                tokio::select! {
                    _ = ended.cancelled() => return,
                    _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                }
            }
        }
    };
    let gc = Arc::new(Collector {
        client: client.clone(),
        kinds,
        graph: Mutex::new(Graph::default()),
        deletes: WorkQueue::new(ended.clone()),
        orphans: WorkQueue::new(ended.clone()),
    });
    // The workers start once every watch has listed (upstream waits for its monitors to sync).
    let unsynced = Arc::new(AtomicUsize::new(watched.len()));
    let synced = Arc::new(Notify::new());
    let mut tasks = Vec::new();
    for ar in watched {
        tasks.push(tokio::spawn(watch(
            gc.clone(),
            ar,
            unsynced.clone(),
            synced.clone(),
            ended.clone(),
        )));
    }
    while unsynced.load(Ordering::SeqCst) > 0 {
        tokio::select! {
            _ = ended.cancelled() => break,
            _ = synced.notified() => {}
            _ = tokio::time::sleep(std::time::Duration::from_millis(100)) => {}
        }
    }
    tracing::debug!(nodes = gc.graph().len(), "garbage collector: graph synced");
    let g = gc.clone();
    tasks.push(tokio::spawn(crate::workqueue::run_workers(
        gc.deletes.clone(),
        workers,
        "garbagecollector",
        move |uid| {
            let g = g.clone();
            async move { collect::attempt_to_delete(&g, &uid).await }
        },
    )));
    let g = gc.clone();
    tasks.push(tokio::spawn(crate::workqueue::run_workers(
        gc.orphans.clone(),
        workers,
        "garbagecollector-orphan",
        move |uid| {
            let g = g.clone();
            async move { collect::attempt_to_orphan(&g, &uid).await }
        },
    )));
    ended.cancelled().await;
    for t in tasks {
        let _ = t.await;
    }
}

/// One resource's metadata watch feeding the graph; a re-list's missing objects are removed.
async fn watch(
    gc: Arc<Collector>,
    ar: ApiResource,
    unsynced: Arc<AtomicUsize>,
    synced: Arc<Notify>,
    ended: CancellationToken,
) {
    // Metadata only (PartialObjectMetadata): the graph needs nothing else.
    let api: Api<PartialObjectMeta<DynamicObject>> = Api::all_with(gc.client.clone(), &ar);
    let stream = watcher::watcher(api, watcher::Config::default()).default_backoff();
    let mut stream = std::pin::pin!(stream);
    let mut known: HashSet<String> = HashSet::new();
    let mut listing: HashSet<String> = HashSet::new();
    let mut first = true;
    loop {
        let next = tokio::select! {
            _ = ended.cancelled() => return,
            next = stream.next() => next,
        };
        match next {
            Some(Ok(Event::Apply(o))) => {
                known.extend(o.uid());
                gc.observe(&ar, &o);
            }
            Some(Ok(Event::Delete(o))) => {
                if let Some(uid) = o.uid() {
                    known.remove(&uid);
                    gc.forget(&uid);
                }
            }
            Some(Ok(Event::Init)) => listing.clear(),
            Some(Ok(Event::InitApply(o))) => {
                listing.extend(o.uid());
                gc.observe(&ar, &o);
            }
            Some(Ok(Event::InitDone)) => {
                for gone in known.difference(&listing) {
                    gc.forget(gone);
                }
                known = std::mem::take(&mut listing);
                if first {
                    first = false;
                    unsynced.fetch_sub(1, Ordering::SeqCst);
                    synced.notify_one();
                }
            }
            Some(Err(e)) => {
                tracing::debug!(resource = %ar.plural, error = %e, "garbage collector: watch failed")
            }
            None => return,
        }
    }
}
