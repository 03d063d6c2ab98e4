//! The Watch service: one bidirectional stream carries many watches. Each watch is a store
//! `Watcher` read by its own task; the stream's responses are the merge of theirs, each watch's
//! in order. A watch from a compacted revision gets `created` and then `canceled` with the
//! compact revision, as in etcd. Watches created with `fragment` get responses larger than the
//! request limit split into fragments.

use std::collections::HashMap;
use std::pin::Pin;

use capstan_proto::etcdserverpb as e;
use capstan_proto::etcdserverpb::watch_server::Watch as WatchService;
use capstan_store::proto as s;
use capstan_store::{ProgressHandle, WatchBatch, Watcher, MAX_REQUEST_BYTES};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};

use super::convert::event;
use super::EtcdApi;

type WatchStream = Pin<Box<dyn Stream<Item = Result<e::WatchResponse, Status>> + Send>>;
type Out = mpsc::Sender<Result<e::WatchResponse, Status>>;

struct Active {
    task: JoinHandle<()>,
    progress: ProgressHandle,
}

#[tonic::async_trait]
impl WatchService for EtcdApi {
    type WatchStream = WatchStream;

    async fn watch(
        &self,
        req: Request<Streaming<e::WatchRequest>>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let mut input = req.into_inner();
        let (tx, rx) = mpsc::channel(256);
        let api = self.clone();
        tokio::spawn(async move {
            let mut active: HashMap<i64, Active> = HashMap::new();
            let mut next_id: i64 = 0;
            while let Ok(Some(msg)) = input.message().await {
                active.retain(|_, a| !a.task.is_finished());
                let resp = match msg.request_union {
                    Some(e::watch_request::RequestUnion::CreateRequest(c)) => {
                        match api.create(c, &mut active, &mut next_id, &tx).await {
                            Ok(Some(refused)) => Ok(refused),
                            Ok(None) => continue,
                            Err(s) => Err(s),
                        }
                    }
                    Some(e::watch_request::RequestUnion::CancelRequest(c)) => {
                        match active.remove(&c.watch_id) {
                            Some(a) => {
                                a.task.abort();
                                api.current_header().await.map(|header| e::WatchResponse {
                                    header,
                                    watch_id: c.watch_id,
                                    canceled: true,
                                    ..Default::default()
                                })
                            }
                            None => continue,
                        }
                    }
                    Some(e::watch_request::RequestUnion::ProgressRequest(_)) => {
                        if active.is_empty() {
                            // Nothing to wait for: the current revision is the progress.
                            api.current_header().await.map(|header| e::WatchResponse {
                                header,
                                watch_id: -1,
                                ..Default::default()
                            })
                        } else {
                            for a in active.values() {
                                a.progress.request();
                            }
                            continue;
                        }
                    }
                    None => continue,
                };
                if tx.send(resp).await.is_err() {
                    break;
                }
            }
            for a in active.into_values() {
                a.task.abort();
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

impl EtcdApi {
    async fn create(
        &self,
        c: e::WatchCreateRequest,
        active: &mut HashMap<i64, Active>,
        next_id: &mut i64,
        tx: &Out,
    ) -> Result<Option<e::WatchResponse>, Status> {
        // Ok(None): `created` was sent and the watch runs; Ok(Some(r)): the watch was refused.
        let header = self.current_header().await?;
        let id = if c.watch_id != 0 {
            c.watch_id
        } else {
            while active.contains_key(next_id) {
                *next_id += 1;
            }
            *next_id
        };
        let refused = |reason: String| e::WatchResponse {
            header,
            watch_id: -1,
            created: true,
            canceled: true,
            cancel_reason: reason,
            ..Default::default()
        };
        if active.contains_key(&id) {
            return Ok(Some(refused("etcdserver: duplicate watch ID".into())));
        }
        let req = s::WatchRequest {
            key: c.key,
            range_end: c.range_end,
            start_revision: c.start_revision,
            progress_notify: c.progress_notify,
            filters: c.filters,
            prev_kv: c.prev_kv,
        };
        let watcher = match self.kv.watch(req).await {
            Ok(w) => w,
            Err(err) => return Ok(Some(refused(err.to_string()))),
        };
        // `created` goes out before the watch's task can send anything.
        let created = e::WatchResponse {
            header,
            watch_id: id,
            created: true,
            ..Default::default()
        };
        if tx.send(Ok(created)).await.is_err() {
            return Err(Status::cancelled("watch stream closed"));
        }
        let progress = watcher.progress_handle();
        let task = tokio::spawn(self.clone().pump(id, watcher, tx.clone(), c.fragment));
        active.insert(id, Active { task, progress });
        *next_id = (*next_id).max(id + 1);
        Ok(None)
    }

    /// Forwards one watcher's deliveries to the stream until it ends.
    async fn pump(self, id: i64, mut w: Watcher, tx: Out, fragment: bool) {
        while let Some(batch) = w.recv_batch().await {
            let (resp, last) = match batch {
                WatchBatch::Events(ev) => (
                    e::WatchResponse {
                        header: self.header(ev.revision),
                        watch_id: id,
                        events: ev.iter().map(|(e, prev)| event(e, prev)).collect(),
                        ..Default::default()
                    },
                    false,
                ),
                WatchBatch::Progress(rev) => (
                    e::WatchResponse {
                        header: self.header(rev),
                        watch_id: id,
                        ..Default::default()
                    },
                    false,
                ),
                WatchBatch::Cancelled(r) => (
                    e::WatchResponse {
                        header: self.header(r.revision),
                        watch_id: id,
                        canceled: true,
                        compact_revision: r.compact_revision,
                        cancel_reason: format!("etcdserver: {}", r.cancel_reason),
                        ..Default::default()
                    },
                    true,
                ),
            };
            let parts = if fragment {
                fragments(resp, MAX_REQUEST_BYTES)
            } else {
                vec![resp]
            };
            for part in parts {
                if tx.send(Ok(part)).await.is_err() {
                    return;
                }
            }
            if last {
                return;
            }
        }
    }
}

/// Splits a response whose encoding exceeds `limit` into several, each within it (or holding a
/// single event), all but the last marked `fragment`, as etcd does for watches created with
/// `fragment: true`. Clients join fragments back into one revision's events.
fn fragments(resp: e::WatchResponse, limit: usize) -> Vec<e::WatchResponse> {
    use prost::Message;
    if resp.encoded_len() <= limit || resp.events.len() < 2 {
        return vec![resp];
    }
    let shell = e::WatchResponse {
        events: Vec::new(),
        ..resp.clone()
    };
    let base = shell.encoded_len();
    let mut out = Vec::new();
    let mut cur = shell.clone();
    let mut size = base;
    for ev in resp.events {
        // Each event costs its length plus the field tag and length prefix.
        let n = ev.encoded_len();
        let cost = n + 1 + prost::length_delimiter_len(n);
        if !cur.events.is_empty() && size + cost > limit {
            let full = std::mem::replace(&mut cur, shell.clone());
            out.push(full);
            size = base;
        }
        size += cost;
        cur.events.push(ev);
    }
    out.push(cur);
    let last = out.len() - 1;
    for (i, r) in out.iter_mut().enumerate() {
        r.fragment = i < last;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(n: usize) -> s_mvcc::Event {
        s_mvcc::Event {
            kv: Some(s_mvcc::KeyValue {
                key: vec![b'k'; 4].into(),
                value: vec![0u8; n].into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    use capstan_proto::mvccpb as s_mvcc;

    #[test]
    fn large_responses_split_into_fragments_within_the_limit() {
        let resp = e::WatchResponse {
            watch_id: 7,
            events: (0..5).map(|_| ev(400)).collect(),
            ..Default::default()
        };
        let parts = fragments(resp.clone(), 1000);
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|p| p.watch_id == 7));
        assert_eq!(parts.iter().map(|p| p.events.len()).sum::<usize>(), 5);
        assert_eq!(
            parts.iter().map(|p| p.fragment).collect::<Vec<_>>(),
            [true, true, false]
        );
        use prost::Message;
        assert!(parts.iter().all(|p| p.encoded_len() <= 1000));
        // Small responses, and single huge events, are left whole.
        assert_eq!(fragments(resp.clone(), 1 << 20).len(), 1);
        let one = e::WatchResponse {
            events: vec![ev(5000)],
            ..Default::default()
        };
        assert_eq!(fragments(one, 1000).len(), 1);
    }
}
