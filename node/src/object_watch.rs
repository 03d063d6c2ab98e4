//! One watch of a resource type (the kubelet's pod and node informers): every object the
//! watch shows reaches `on_change`, and an object that a re-list (after a dropped watch or
//! 410 Gone) no longer holds reaches it as deleted. The agent keeps no cache of its own
//! beyond what its pod workers hold.

use std::collections::{HashMap, HashSet};
use std::fmt::Debug;

use futures_util::StreamExt;
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

/// A change to one watched object.
pub enum Change<K> {
    Applied(K),
    /// Deleted, or gone from a re-list: its uid and name (the object itself is not kept).
    Deleted {
        uid: String,
        name: String,
    },
}

/// Watches `api` with `config` until `stop`, calling `on_change` for each change.
pub async fn run<K, F>(api: Api<K>, config: watcher::Config, stop: CancellationToken, on_change: F)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + 'static,
    F: Fn(Change<K>),
{
    let stream = watcher::watcher(api, config).default_backoff();
    futures_util::pin_mut!(stream);
    // The name of each object known to the handler, by uid, and which uids the current
    // re-list showed.
    let mut known: HashMap<String, String> = HashMap::new();
    let mut relisted: Option<HashSet<String>> = None;
    loop {
        let event = tokio::select! {
            _ = stop.cancelled() => return,
            e = stream.next() => e,
        };
        let Some(event) = event else { return };
        let event = match event {
            Ok(e) => e,
            Err(e) => {
                tracing::debug!(error = %e, "watch failed; re-listing with back-off");
                continue;
            }
        };
        match event {
            Event::Init => relisted = Some(HashSet::new()),
            Event::InitApply(obj) => {
                let uid = obj.uid().unwrap_or_default();
                if let Some(r) = relisted.as_mut() {
                    r.insert(uid.clone());
                }
                known.insert(uid, obj.name_any());
                on_change(Change::Applied(obj));
            }
            Event::InitDone => {
                if let Some(seen) = relisted.take() {
                    let gone: Vec<String> = known
                        .keys()
                        .filter(|uid| !seen.contains(*uid))
                        .cloned()
                        .collect();
                    for uid in gone {
                        if let Some(name) = known.remove(&uid) {
                            on_change(Change::Deleted { uid, name });
                        }
                    }
                }
            }
            Event::Apply(obj) => {
                known.insert(obj.uid().unwrap_or_default(), obj.name_any());
                on_change(Change::Applied(obj));
            }
            Event::Delete(obj) => {
                let uid = obj.uid().unwrap_or_default();
                known.remove(&uid);
                on_change(Change::Deleted {
                    uid,
                    name: obj.name_any(),
                });
            }
        }
    }
}
