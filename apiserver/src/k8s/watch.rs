//! Watch (`?watch=true`): a chunked stream of newline-delimited JSON events served from this
//! replica's own store. Starting from resourceVersion unset or "0" sends the current objects as
//! ADDED first; `sendInitialEvents=true` does the same and ends them with a bookmark marked
//! `k8s.io/initial-events-end`; from N it sends what changed after N, or one ERROR event with a
//! 410 Expired status when N is compacted, so informers re-list. Selectors are applied to both
//! the new and the previous object: an object that stops matching is DELETED for this watcher.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use capstan_store::proto::event::EventType;
use capstan_store::proto::KeyValue;
use capstan_store::WatchBatch;
use rand::Rng;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::http::{negotiate, Answer, Query};
use super::objects::{decode_lean, prefix, prefix_end, set_resource_version};
use super::read::{list_objects, Collect, Filter};
use super::resources::Resource;
use super::route::Call;
use super::status::{ApiError, ApiResult};
use super::{meta, stored_json, tables, KubeApi};

/// How often a watch that allows bookmarks gets one (kube-apiserver: about once a minute; a
/// shorter period costs little and lets informers resume closer to now).
const BOOKMARK_EVERY: Duration = Duration::from_secs(10);

struct Encoder {
    r: &'static Resource,
    table: bool,
    /// Objects as PartialObjectMetadata.
    metadata_only: bool,
    first: bool,
    query: Query,
}

impl Encoder {
    fn event(&mut self, api: &KubeApi, kind: &str, obj: Value) -> Bytes {
        self.event_with(api, kind, obj, None)
    }

    /// An event whose object's `metadata.managedFields` are `managed`, raw (the object holds
    /// the placeholder [`stored_json::placeholder`] for them).
    fn event_with(
        &mut self,
        api: &KubeApi,
        kind: &str,
        obj: Value,
        managed: Option<Vec<u8>>,
    ) -> Bytes {
        let object = if self.table && kind != "BOOKMARK" && kind != "ERROR" {
            let rv = obj
                .pointer("/metadata/resourceVersion")
                .cloned()
                .unwrap_or(json!(""));
            let t = tables::table_with(
                self.r,
                std::slice::from_ref(&obj),
                json!({"resourceVersion": rv}),
                &self.query,
                api.now(),
                self.first,
            );
            self.first = false;
            t
        } else if self.metadata_only && kind != "ERROR" {
            super::http::partial(&obj)
        } else {
            obj
        };
        let mut line =
            serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
        if let Some(raw) = managed {
            line = stored_json::splice_managed_fields(&line, &[raw]);
        }
        line.push(b'\n');
        Bytes::from(line)
    }
}

fn bookmark(r: &Resource, rev: i64, initial_end: bool) -> Value {
    let mut meta = json!({"resourceVersion": rev.to_string()});
    if initial_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    json!({"kind": r.kind, "apiVersion": r.api_version(), "metadata": meta})
}

fn expired(rev: i64, compact: i64) -> Value {
    let e = ApiError::expired(format!("too old resource version: {rev} ({compact})"));
    e.status()
}

/// GET with `watch=true`.
pub async fn watch(api: &KubeApi, call: Call) -> ApiResult<Response> {
    let r = call.r();
    let q = call.query.clone();
    let filter = Filter::from_query(r, &q)?;
    let send_initial = match q.get("sendInitialEvents") {
        Some(_) if q.flag("sendInitialEvents") => true,
        Some("0" | "f" | "F" | "false" | "FALSE" | "False") | None => false,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "invalid sendInitialEvents: {other:?}"
            )))
        }
    };
    let bookmarks = q.flag("allowWatchBookmarks");
    super::list_options::validate(&q, true)?;
    let timeout = match q.i64("timeoutSeconds")? {
        Some(t) if t > 0 => Duration::from_secs(t as u64),
        _ => Duration::from_secs(rand::thread_rng().gen_range(1800..3600)),
    };
    let rv = q.get("resourceVersion").map(String::from);
    let initial_list = send_initial || matches!(rv.as_deref(), None | Some("0"));
    let mut initial = Vec::new();
    let start_after = if initial_list {
        let mut lq = Query::default();
        for k in ["labelSelector", "fieldSelector"] {
            if let Some(v) = q.get(k) {
                lq.0.insert(k.into(), v.into());
            }
        }
        match rv.as_deref() {
            None => {}
            Some("0") => {
                lq.0.insert("resourceVersion".into(), "0".into());
            }
            Some(v) => {
                lq.0.insert("resourceVersion".into(), v.into());
            }
        }
        let mut collected = Collect::default();
        let listed = list_objects(api, r, call.ns(), &lq, &mut collected).await?;
        initial = collected.0;
        listed.revision
    } else {
        let v = rv.as_deref().unwrap_or("0");
        meta::parse_resource_version(v)?
    };
    let p = prefix(r, call.ns());
    let end = prefix_end(p.as_bytes());
    let mut watcher = api
        .store()
        .watch(p.as_bytes(), &end, start_after + 1)
        .await?;
    let progress = watcher.progress_handle();

    let (tx, rx) = mpsc::channel::<Result<Bytes, Infallible>>(64);
    let mut enc = Encoder {
        r,
        table: negotiate(&call.headers) == Answer::Table,
        metadata_only: negotiate(&call.headers) == Answer::Metadata,
        first: true,
        query: q.clone(),
    };
    let api = api.clone();
    tokio::spawn(async move {
        for obj in initial {
            let obj = api.present(r, obj);
            if tx.send(Ok(enc.event(&api, "ADDED", obj))).await.is_err() {
                return;
            }
        }
        if send_initial {
            let b = bookmark(r, start_after, true);
            if tx.send(Ok(enc.event(&api, "BOOKMARK", b))).await.is_err() {
                return;
            }
        }
        let deadline = tokio::time::Instant::now() + timeout;
        let mut tick = tokio::time::interval(BOOKMARK_EVERY);
        tick.tick().await;
        loop {
            let batch = tokio::select! {
                b = watcher.recv_batch() => b,
                _ = tick.tick() => {
                    if bookmarks {
                        progress.request();
                    }
                    continue;
                }
                _ = tokio::time::sleep_until(deadline) => return,
                _ = tx.closed() => return,
            };
            let Some(batch) = batch else { return };
            match batch {
                WatchBatch::Events(events) => {
                    let out: Vec<Bytes> = events
                        .iter()
                        .filter_map(|(ev, prev)| {
                            let kv = ev.kv.as_ref()?;
                            let (kind, obj, managed) = translate(r, &filter, ev.r#type, kv, prev)?;
                            Some(enc.event_with(&api, kind, api.present(r, obj), managed))
                        })
                        .collect();
                    for line in out {
                        if tx.send(Ok(line)).await.is_err() {
                            return;
                        }
                    }
                }
                WatchBatch::Progress(rev) => {
                    if bookmarks {
                        let b = bookmark(r, rev, false);
                        if tx.send(Ok(enc.event(&api, "BOOKMARK", b))).await.is_err() {
                            return;
                        }
                    }
                }
                WatchBatch::Cancelled(resp) => {
                    if resp.compact_revision > 0 {
                        let e = expired(start_after, resp.compact_revision);
                        let _ = tx.send(Ok(enc.event(&api, "ERROR", e))).await;
                    }
                    return;
                }
            }
        }
    });
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    Ok(resp)
}

/// One store event as a watch event for this watcher's selectors, if it shows one, with the
/// object's raw managed fields.
fn translate(
    r: &Resource,
    filter: &Filter,
    typ: i32,
    kv: &KeyValue,
    prev: Option<&KeyValue>,
) -> Option<(&'static str, Value, Option<Vec<u8>>)> {
    // Selectors never look at the managed fields: they stay raw (placeholder 0).
    let prev_obj = prev.and_then(|p| decode_lean(p, 0).ok());
    let prev_match = prev_obj.as_ref().is_some_and(|(o, _)| filter.matches(r, o));
    if typ == EventType::Delete as i32 {
        let (mut obj, managed) = prev_obj?;
        if !prev_match {
            return None;
        }
        set_resource_version(&mut obj, kv.mod_revision);
        return Some(("DELETED", obj, managed));
    }
    let (obj, managed) = decode_lean(kv, 0).ok()?;
    let cur_match = filter.matches(r, &obj);
    match (prev_obj, cur_match, prev_match) {
        (None, true, _) => Some(("ADDED", obj, managed)),
        (Some(_), true, true) => Some(("MODIFIED", obj, managed)),
        (Some(_), true, false) => Some(("ADDED", obj, managed)),
        (Some((mut old, old_managed)), false, true) => {
            set_resource_version(&mut old, kv.mod_revision);
            Some(("DELETED", old, old_managed))
        }
        _ => None,
    }
}
