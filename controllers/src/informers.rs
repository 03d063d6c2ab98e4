//! Shared informers: one watch per resource type for every controller of the manager, feeding a
//! cache (kube-runtime's reflector store) and the event handlers the controllers register before
//! the informers start. A watch that fails (410 Gone, a dropped connection) re-lists with
//! kube-runtime's default back-off; objects the new list lacks reach the handlers as deleted.
//! Cached objects carry no `managedFields` (memory: see README's controller benchmarks).

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::StreamExt;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

/// A Kubernetes object type an informer can cache (every k8s-openapi type is one).
pub trait Object:
    Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static
{
}

impl<K> Object for K where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static
{
}

/// What happened to an object, as a handler sees it.
#[derive(Debug)]
pub enum Change<'a, K> {
    /// Added or modified (also each object of a (re-)list).
    Applied(&'a K),
    /// Deleted.
    Deleted(&'a K),
}

type Handler<K> = Box<dyn Fn(Change<'_, K>) + Send + Sync>;

// A change only borrows its object, so it copies whatever `K` is (derive would ask `K: Copy`).
impl<K> Clone for Change<'_, K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K> Copy for Change<'_, K> {}

/// One resource type's watch, cache and handlers.
pub struct Informer<K: Object> {
    store: Store<K>,
    /// True once the first list is in the cache. (The store's own readiness wakes only one
    /// of several waiters: it polls a oneshot channel, which keeps the last waker alone.)
    listed: tokio::sync::watch::Sender<bool>,
    /// Cancelled once the watch has stopped (the term ended), listed or not.
    stopped: CancellationToken,
    writer: Mutex<Option<reflector::store::Writer<K>>>,
    handlers: Mutex<Vec<Handler<K>>>,
}

impl<K: Object> Informer<K> {
    fn new() -> Informer<K> {
        let (store, writer) = reflector::store();
        Informer {
            store,
            listed: tokio::sync::watch::Sender::new(false),
            stopped: CancellationToken::new(),
            writer: Mutex::new(Some(writer)),
            handlers: Mutex::new(Vec::new()),
        }
    }

    /// The cache (complete once [`Informer::synced`] returns).
    pub fn store(&self) -> &Store<K> {
        &self.store
    }

    /// Waits until the first list is in the cache, or the watch has stopped (the term ended
    /// first: a controller waiting to start must not hold the term's end up; its work queue,
    /// shut down by then, hands out nothing).
    pub async fn synced(&self) {
        let mut listed = self.listed.subscribe();
        tokio::select! {
            _ = listed.wait_for(|l| *l) => {}
            _ = self.stopped.cancelled() => {}
        }
    }

    /// Calls `handler` for every change from now on (register before [`Informers::start`]).
    pub fn on_change(&self, handler: impl Fn(Change<'_, K>) + Send + Sync + 'static) {
        self.handlers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Box::new(handler));
    }

    fn notify(&self, change: Change<'_, K>) {
        let handlers = self.handlers.lock().unwrap_or_else(PoisonError::into_inner);
        for h in handlers.iter() {
            h(change);
        }
    }

    /// Runs the watch until `ended`; a second call does nothing.
    async fn run(self: Arc<Self>, client: Client, ended: CancellationToken) {
        let _stopped = self.stopped.clone().drop_guard();
        let Some(writer) = self
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        else {
            return;
        };
        let api: Api<K> = Api::all(client);
        // Field ownership is kept out of the cache: no controller reads it (their writes name
        // their own field manager), and it is about half of a typical object.
        let stream = reflector::reflector(
            writer,
            watcher::watcher(api, watcher::Config::default())
                .default_backoff()
                .modify(|o| o.meta_mut().managed_fields = None),
        );
        let mut stream = std::pin::pin!(stream);
        // The cache as it was when a (re-)list began: what the list no longer has was deleted
        // while the watch was down, and the handlers hear of it when the list is done.
        let mut before_list: Vec<Arc<K>> = Vec::new();
        loop {
            let next = tokio::select! {
                _ = ended.cancelled() => return,
                next = stream.next() => next,
            };
            match next {
                Some(Ok(Event::Apply(o) | Event::InitApply(o))) => self.notify(Change::Applied(&o)),
                Some(Ok(Event::Delete(o))) => self.notify(Change::Deleted(&o)),
                Some(Ok(Event::Init)) => before_list = self.store.state(),
                Some(Ok(Event::InitDone)) => {
                    self.listed.send_replace(true);
                    for old in std::mem::take(&mut before_list) {
                        let now = self.store.get(&ObjectRef::from_obj(old.as_ref()));
                        if now.is_none_or(|n| n.meta().uid != old.meta().uid) {
                            self.notify(Change::Deleted(&old));
                        }
                    }
                }
                Some(Err(e)) => {
                    tracing::debug!(kind = %K::kind(&()), error = %e, "watch failed; re-listing")
                }
                None => return,
            }
        }
    }
}

/// Starts one informer's watch, to run until the token is cancelled.
type StartWatch = Box<dyn FnOnce(CancellationToken) -> tokio::task::JoinHandle<()> + Send>;

/// The manager's informers, one per type, made on first use.
#[derive(Clone)]
pub struct Informers {
    client: Client,
    by_type: Arc<Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>>,
    /// Each type's run, started by [`Informers::start`].
    runs: Arc<Mutex<Vec<StartWatch>>>,
}

impl Informers {
    pub fn new(client: Client) -> Informers {
        Informers {
            client,
            by_type: Arc::default(),
            runs: Arc::default(),
        }
    }

    /// The informer of `K`, shared by every caller.
    pub fn get<K: Object>(&self) -> Arc<Informer<K>> {
        let mut map = self.by_type.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(found) = map.get(&TypeId::of::<K>()) {
            if let Ok(inf) = found.clone().downcast::<Informer<K>>() {
                return inf;
            }
        }
        let inf = Arc::new(Informer::<K>::new());
        map.insert(TypeId::of::<K>(), inf.clone());
        let (run, client) = (inf.clone(), self.client.clone());
        self.runs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Box::new(move |ended| tokio::spawn(run.run(client, ended))));
        inf
    }

    /// Starts every informer asked for so far; they stop when `ended` is cancelled.
    pub fn start(&self, ended: &CancellationToken) -> Vec<tokio::task::JoinHandle<()>> {
        let runs: Vec<_> = self
            .runs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
            .collect();
        runs.into_iter().map(|r| r(ended.clone())).collect()
    }
}
