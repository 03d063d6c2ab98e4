//! The watch workload (etcd robustness's watchers, Jepsen etcd's `watch`): one watcher per
//! replica over the whole `/jepsen/` prefix from revision 1, with prev_kv and progress
//! notifications, asking for progress twice a second. When its stream breaks it reopens from
//! its last revision + 1; when the server cancels it for compaction it resumes at the compacted
//! revision. At the end it keeps going until it has reached the newest revision any client saw.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use capstan_proto::etcdserverpb::watch_request::RequestUnion;
use capstan_proto::etcdserverpb::{
    WatchCreateRequest, WatchProgressRequest, WatchRequest, WatchResponse,
};
use capstan_proto::mvccpb;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::client::{key, prefix_end, text, Etcd};
use crate::history::{EventKind, KvEvent, PrevKv, WatchLog, WatchMsg};
use crate::recorder::Recorder;

/// Everything the harness writes lives under this prefix.
pub const PREFIX: &str = "/jepsen/";

/// A watcher gives up on a silent stream after this long and reopens it.
const IDLE: Duration = Duration::from_secs(3);

/// How the run tells watchers to finish: once `target` is set (> 0), each watcher stops when it
/// has seen that revision, or at `deadline`.
pub struct WatchEnd {
    pub target: AtomicI64,
    pub deadline: std::sync::Mutex<Option<Instant>>,
}

impl WatchEnd {
    pub fn new() -> Arc<WatchEnd> {
        Arc::new(WatchEnd {
            target: AtomicI64::new(0),
            deadline: std::sync::Mutex::new(None),
        })
    }

    pub fn finish(&self, target: i64, within: Duration) {
        *self.deadline.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now() + within);
        self.target.store(target.max(1), Ordering::SeqCst);
    }

    fn done(&self, reached: i64) -> bool {
        let target = self.target.load(Ordering::SeqCst);
        if target == 0 {
            return false;
        }
        let late = self
            .deadline
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some_and(|d| Instant::now() >= d);
        reached >= target || late
    }
}

/// Converts an etcd event.
pub fn event(e: &mvccpb::Event) -> Option<KvEvent> {
    let kv = e.kv.as_ref()?;
    let kind = if e.r#type == mvccpb::event::EventType::Delete as i32 {
        EventKind::Delete
    } else {
        EventKind::Put
    };
    Some(KvEvent {
        kind,
        key: text(&kv.key),
        value: text(&kv.value),
        mod_rev: kv.mod_revision,
        create_rev: kv.create_revision,
        version: kv.version,
        lease: kv.lease,
        prev: e.prev_kv.as_ref().map(|p| PrevKv {
            value: text(&p.value),
            mod_rev: p.mod_revision,
            create_rev: p.create_revision,
            version: p.version,
        }),
    })
}

/// Runs one watcher lane against `client` (replica `node`) until `end` says it is done.
pub async fn watcher(
    lane: String,
    node: String,
    client: Etcd,
    rec: Arc<Recorder>,
    end: Arc<WatchEnd>,
) {
    let mut log = WatchLog {
        lane,
        prefix: PREFIX.to_string(),
        msgs: Vec::new(),
    };
    let mut next = 1i64;
    let mut reached = 0i64;
    while !end.done(reached) {
        log.msgs.push(WatchMsg::Open {
            time_ns: rec.now_ns(),
            node: node.clone(),
            start_rev: next,
            prefix: PREFIX.to_string(),
        });
        let (tx, rx) = mpsc::channel(4);
        let create = WatchRequest {
            request_union: Some(RequestUnion::CreateRequest(WatchCreateRequest {
                key: key(PREFIX),
                range_end: prefix_end(PREFIX),
                start_revision: next,
                progress_notify: true,
                prev_kv: true,
                ..Default::default()
            })),
        };
        if tx.send(create).await.is_err() {
            break;
        }
        let opened =
            tokio::time::timeout(IDLE, client.watch().watch(ReceiverStream::new(rx))).await;
        let mut stream = match opened {
            Ok(Ok(s)) => s.into_inner(),
            Ok(Err(e)) => {
                broken(&mut log, &rec, format!("open: {e}"));
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            Err(_) => {
                broken(&mut log, &rec, "open: timeout".into());
                continue;
            }
        };
        let mut progress = tokio::time::interval(Duration::from_millis(500));
        let mut heard = Instant::now();
        loop {
            if end.done(reached) {
                return finish(log, rec);
            }
            let msg = tokio::select! {
                m = stream.message() => m,
                _ = progress.tick() => {
                    if heard.elapsed() > IDLE {
                        broken(&mut log, &rec, "idle timeout".into());
                        break;
                    }
                    let req = WatchRequest {
                        request_union: Some(RequestUnion::ProgressRequest(WatchProgressRequest {})),
                    };
                    let _ = tx.try_send(req);
                    continue;
                }
            };
            let resp: WatchResponse = match msg {
                Ok(Some(r)) => r,
                Ok(None) => {
                    broken(&mut log, &rec, "stream ended".into());
                    break;
                }
                Err(e) => {
                    broken(&mut log, &rec, format!("{:?}: {}", e.code(), e.message()));
                    break;
                }
            };
            heard = Instant::now();
            let header_rev = resp.header.as_ref().map(|h| h.revision).unwrap_or(0);
            if resp.canceled {
                if resp.compact_revision > 0 {
                    log.msgs.push(WatchMsg::Compacted {
                        time_ns: rec.now_ns(),
                        compact_rev: resp.compact_revision,
                    });
                    next = next.max(resp.compact_revision);
                } else {
                    broken(&mut log, &rec, format!("cancelled: {}", resp.cancel_reason));
                }
                break;
            }
            if resp.created {
                continue;
            }
            if resp.events.is_empty() {
                if header_rev > 0 {
                    reached = reached.max(header_rev);
                    log.msgs.push(WatchMsg::Progress {
                        time_ns: rec.now_ns(),
                        header_rev,
                    });
                }
                continue;
            }
            let events: Vec<KvEvent> = resp.events.iter().filter_map(event).collect();
            if let Some(last) = events.last() {
                next = next.max(last.mod_rev + 1);
                reached = reached.max(last.mod_rev);
            }
            log.msgs.push(WatchMsg::Events {
                time_ns: rec.now_ns(),
                header_rev,
                events,
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    finish(log, rec)
}

fn broken(log: &mut WatchLog, rec: &Recorder, error: String) {
    log.msgs.push(WatchMsg::Broken {
        time_ns: rec.now_ns(),
        error,
    });
}

fn finish(log: WatchLog, rec: Arc<Recorder>) {
    rec.add_watch(log);
}
