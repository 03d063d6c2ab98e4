//! A recording informer: LIST with resourceVersion="" (a consistent read), then WATCH from the
//! list's resourceVersion with bookmarks, exactly as client-go's reflector does; on a broken or
//! silent stream it resumes from the last resourceVersion it saw on a random replica, and on
//! 410 Gone it lists again. Every list, watch opening, event and bookmark is logged with the
//! object reduced to a [`Snap`] (name, resourceVersion and the fields a checker compares).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kube::api::{ListParams, WatchEvent, WatchParams};
use kube::Api;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tokio_stream::StreamExt;

use super::kube::{classify, rv_of, status_code, KubeClients, NAMESPACE};
use crate::recorder::Recorder;

/// A stream silent this long is abandoned for another replica (a paused server never closes).
const SILENCE: Duration = Duration::from_secs(4);

/// One object as an informer saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snap {
    pub name: String,
    pub rv: i64,
    /// The fields the checkers compare, as short text (a ConfigMap's value, a pod's phase…).
    #[serde(default)]
    pub info: String,
}

/// One step of an informer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "kebab-case")]
pub enum InformerMsg {
    /// A LIST with resourceVersion="" answered by `node`.
    List {
        time_ns: u64,
        node: String,
        rv: i64,
        items: Vec<Snap>,
    },
    /// A WATCH opened on `node` from `from_rv`.
    Watch {
        time_ns: u64,
        node: String,
        from_rv: i64,
    },
    /// ADDED, MODIFIED or DELETED.
    Event {
        time_ns: u64,
        kind: String,
        obj: Snap,
    },
    Bookmark {
        time_ns: u64,
        rv: i64,
    },
    /// 410 Gone: the informer lists again.
    Gone {
        time_ns: u64,
        error: String,
    },
    /// The stream broke or fell silent, or a request failed: the informer resumes.
    Broken {
        time_ns: u64,
        error: String,
    },
}

/// Everything one informer did, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InformerLog {
    pub lane: String,
    /// The resource ("configmaps", "pods", "deployments").
    pub resource: String,
    pub msgs: Vec<InformerMsg>,
}

/// When informers may stop: once they reached the target resourceVersion, or at the deadline.
pub struct InformerEnd {
    target: AtomicI64,
    deadline: Mutex<Option<Instant>>,
}

impl InformerEnd {
    pub fn new() -> Arc<InformerEnd> {
        Arc::new(InformerEnd {
            target: AtomicI64::new(i64::MAX),
            deadline: Mutex::new(None),
        })
    }

    /// Informers stop once they reached `target` or after `within`.
    pub fn finish(&self, target: i64, within: Duration) {
        *self.deadline.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now() + within);
        self.target.store(target, Ordering::SeqCst);
    }

    fn done(&self, reached: i64) -> bool {
        let late = self
            .deadline
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some_and(|d| Instant::now() >= d);
        reached >= self.target.load(Ordering::SeqCst) || late
    }
}

/// Runs one informer of `K` in `NAMESPACE` until `end` says it is done; returns its log.
#[allow(clippy::too_many_arguments)]
pub async fn informer<K>(
    lane: String,
    resource: &str,
    kube: Arc<KubeClients>,
    rec: Arc<Recorder>,
    mut rng: ChaCha8Rng,
    snap: fn(&K) -> Snap,
    end: Arc<InformerEnd>,
) -> InformerLog
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + 'static,
{
    let mut log = InformerLog {
        lane,
        resource: resource.to_string(),
        msgs: Vec::new(),
    };
    // The resourceVersion to resume from; `None` lists first.
    let mut rv: Option<i64> = None;
    let mut reached = 0;
    let broken = |log: &mut InformerLog, error: String| {
        log.msgs.push(InformerMsg::Broken {
            time_ns: rec.now_ns(),
            error,
        });
    };
    while !end.done(reached) {
        let (i, node) = kube.pick(&mut rng);
        let client = match kube.client(i) {
            Ok(c) => c,
            Err(e) => {
                broken(&mut log, format!("{node}: {e}"));
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let api: Api<K> = Api::namespaced(client, NAMESPACE);
        let from = match rv {
            Some(from) => from,
            None => {
                let listed = tokio::time::timeout(
                    super::kube::KUBE_TIMEOUT,
                    api.list(&ListParams::default()),
                )
                .await;
                match listed {
                    Ok(Ok(list)) => {
                        let list_rv = list
                            .metadata
                            .resource_version
                            .as_deref()
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(0);
                        log.msgs.push(InformerMsg::List {
                            time_ns: rec.now_ns(),
                            node: node.clone(),
                            rv: list_rv,
                            items: list.items.iter().map(snap).collect(),
                        });
                        reached = reached.max(list_rv);
                        rv = Some(list_rv);
                        list_rv
                    }
                    Ok(Err(e)) => {
                        broken(&mut log, format!("{node}: list: {}", classify(&e)));
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                    Err(_) => {
                        broken(&mut log, format!("{node}: list: no answer"));
                        continue;
                    }
                }
            }
        };
        let mut params = WatchParams::default().timeout(60);
        params.bookmarks = true;
        log.msgs.push(InformerMsg::Watch {
            time_ns: rec.now_ns(),
            node: node.clone(),
            from_rv: from,
        });
        let opened = tokio::time::timeout(SILENCE, api.watch(&params, &from.to_string())).await;
        let stream = match opened {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                if status_code(&e) == Some(410) {
                    log.msgs.push(InformerMsg::Gone {
                        time_ns: rec.now_ns(),
                        error: e.to_string(),
                    });
                    rv = None;
                } else {
                    broken(&mut log, format!("{node}: watch: {}", classify(&e)));
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                continue;
            }
            Err(_) => {
                broken(&mut log, format!("{node}: watch: no answer"));
                continue;
            }
        };
        let mut stream = Box::pin(stream);
        loop {
            if end.done(reached) {
                break;
            }
            let next = tokio::time::timeout(SILENCE, stream.next()).await;
            let item = match next {
                Err(_) => {
                    broken(&mut log, format!("{node}: silent for {SILENCE:?}"));
                    break;
                }
                Ok(None) => {
                    broken(&mut log, format!("{node}: the server ended the watch"));
                    break;
                }
                Ok(Some(Err(e))) => {
                    broken(&mut log, format!("{node}: {e}"));
                    break;
                }
                Ok(Some(Ok(ev))) => ev,
            };
            let (kind, obj) = match item {
                WatchEvent::Added(o) => ("ADDED", o),
                WatchEvent::Modified(o) => ("MODIFIED", o),
                WatchEvent::Deleted(o) => ("DELETED", o),
                WatchEvent::Bookmark(b) => {
                    let brv = b.metadata.resource_version.parse().unwrap_or(0);
                    log.msgs.push(InformerMsg::Bookmark {
                        time_ns: rec.now_ns(),
                        rv: brv,
                    });
                    reached = reached.max(brv);
                    rv = Some(brv);
                    continue;
                }
                WatchEvent::Error(status) => {
                    if status.code == 410 {
                        log.msgs.push(InformerMsg::Gone {
                            time_ns: rec.now_ns(),
                            error: status.message.clone(),
                        });
                        rv = None;
                    } else {
                        broken(
                            &mut log,
                            format!("{node}: {} {}", status.code, status.message),
                        );
                    }
                    break;
                }
            };
            let s = snap(&obj);
            let orv = rv_of(obj.meta());
            log.msgs.push(InformerMsg::Event {
                time_ns: rec.now_ns(),
                kind: kind.to_string(),
                obj: s,
            });
            reached = reached.max(orv);
            rv = Some(orv);
        }
    }
    log
}
