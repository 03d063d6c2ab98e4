//! The reading verbs: get and list, with resourceVersion semantics ("" most recent and
//! linearizable, "0" any, N exact or not older than), label and field selectors,
//! limit/continue paging, and Table answers.

use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use serde_json::{json, Value};

use super::http::{json_response, negotiate, partial, Answer, Query};
use capstan_store::proto::KeyValue;

use super::objects::{decode, decode_lean, key, prefix, prefix_end, Freshness};
use super::resources::Resource;
use super::route::Call;
use super::selector::{FieldSelector, LabelSelector};
use super::status::{ApiError, ApiResult};
use super::stored_json::{metadata_open, splice_managed_fields};
use super::{fields, meta, tables, KubeApi};

/// How a read picks its revision, from `resourceVersion` and `resourceVersionMatch` (their
/// combinations already checked by `list_options::validate`). Only "not older than N" and
/// "exactly N" need this replica's revision, so only they read it.
pub async fn freshness(api: &KubeApi, q: &Query) -> ApiResult<Freshness> {
    match (q.get("resourceVersion"), q.get("resourceVersionMatch")) {
        (None, _) => Ok(Freshness::Latest),
        (Some("0"), _) => Ok(Freshness::Any),
        (Some(v), m) => {
            let n: i64 = meta::parse_resource_version(v)?;
            reached(api, n).await?;
            match m {
                Some("Exact") => Ok(Freshness::At(n)),
                _ => Ok(Freshness::Any),
            }
        }
    }
}

/// How long a read waits for this replica to reach the revision it asks for, as kube-apiserver's
/// watch cache waits for a resourceVersion it has not seen yet.
const REVISION_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Waits until this replica has applied revision `n`: at once when it has, else after a
/// linearizable read brings it up to date with the cluster, else (a revision nobody has
/// written yet) up to `REVISION_WAIT`, then 504 Too large resource version.
async fn reached(api: &KubeApi, n: i64) -> ApiResult<()> {
    if api.local_revision().await >= n {
        return Ok(());
    }
    let deadline = tokio::time::Instant::now() + REVISION_WAIT;
    // A linearizable read returns after this replica applied everything committed before it.
    let _ = api.store().exists("/registry/").await?;
    loop {
        let current = api.local_revision().await;
        if current >= n {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ApiError::too_large_resource_version(n, current));
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// GET of one object (or its `/status`).
pub async fn get(api: &KubeApi, call: Call) -> ApiResult<Response> {
    let r = call.r();
    let name = call.name()?;
    let fresh = match call.query.get("resourceVersion") {
        None => Freshness::Latest,
        Some(_) => Freshness::Any,
    };
    let Some(found) = api.store().get(&key(r, call.ns(), name), fresh).await? else {
        return Err(ApiError::not_found(r, name));
    };
    let obj = api.present(r, found.object);
    let body = match negotiate(&call.headers) {
        Answer::Table => {
            let rv = obj
                .pointer("/metadata/resourceVersion")
                .cloned()
                .unwrap_or(json!(""));
            tables::table(
                r,
                std::slice::from_ref(&obj),
                json!({"resourceVersion": rv}),
                &call.query,
                api.now(),
            )
        }
        Answer::Object => obj,
        Answer::Metadata => partial(&obj),
    };
    Ok(json_response(StatusCode::OK, &body, &[]))
}

/// A continue token: the revision the list is pinned at and the key to resume from.
fn encode_continue(rev: i64, next_key: &[u8], prefix: &str) -> String {
    let rest =
        String::from_utf8_lossy(next_key.get(prefix.len()..).unwrap_or_default()).to_string();
    let token = json!({"v": "meta.k8s.io/v1", "rv": rev, "start": rest});
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token.to_string())
}

fn decode_continue(token: &str, prefix: &str) -> ApiResult<(i64, Vec<u8>)> {
    let bad = || ApiError::bad_request(format!("continue key is not valid: {token:?}"));
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(token))
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    if v.get("v").and_then(Value::as_str) != Some("meta.k8s.io/v1") {
        return Err(bad());
    }
    let rv = v
        .get("rv")
        .and_then(Value::as_i64)
        .filter(|r| *r > 0)
        .ok_or_else(bad)?;
    let start = v.get("start").and_then(Value::as_str).ok_or_else(bad)?;
    if start.contains("..") || start.starts_with('/') {
        return Err(bad());
    }
    Ok((rv, format!("{prefix}{start}").into_bytes()))
}

/// The filter a list or watch applies to stored objects.
#[derive(Clone)]
pub struct Filter {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl Filter {
    pub fn from_query(r: &Resource, q: &Query) -> ApiResult<Filter> {
        let labels = LabelSelector::parse(q.get("labelSelector").unwrap_or(""))
            .map_err(ApiError::bad_request)?;
        let fsel = FieldSelector::parse(q.get("fieldSelector").unwrap_or(""))
            .map_err(ApiError::bad_request)?;
        fields::check(r, &fsel).map_err(ApiError::bad_request)?;
        Ok(Filter {
            labels,
            fields: fsel,
        })
    }

    pub fn matches(&self, r: &Resource, obj: &Value) -> bool {
        self.labels.matches_object(obj) && fields::matches(r, &self.fields, obj)
    }
}

/// Where a list's matching objects go, one at a time, so a large list never holds every
/// object decoded at once.
pub trait ListSink {
    /// One matching stored object; `decoded` is its JSON when the filter had to decode it.
    fn push(&mut self, kv: &KeyValue, decoded: Option<Value>) -> ApiResult<()>;

    /// A page of `bytes` stored bytes is about to be pushed (to size a buffer once).
    fn reserve(&mut self, _bytes: usize) {}
}

/// Collects decoded objects (stored form).
#[derive(Default)]
pub struct Collect(pub Vec<Value>);

impl ListSink for Collect {
    fn push(&mut self, kv: &KeyValue, decoded: Option<Value>) -> ApiResult<()> {
        self.0.push(match decoded {
            Some(v) => v,
            None => decode(kv)?,
        });
        Ok(())
    }
}

/// Where a list ended.
pub struct Listed {
    pub revision: i64,
    pub next: Option<String>,
}

/// Keys read from the store per round trip of an unlimited list (0: all in one read). One
/// read is the fastest way through a large list: later chunks would be reads at a past
/// revision, which cost more per key than the stored bytes they save holding.
const LIST_CHUNK: i64 = 0;

/// Lists stored objects with the call's selectors, paging and freshness, into `sink`.
pub async fn list_objects(
    api: &KubeApi,
    r: &Resource,
    ns: Option<&str>,
    q: &Query,
    sink: &mut (dyn ListSink + Send),
) -> ApiResult<Listed> {
    let filter = Filter::from_query(r, q)?;
    let filtered = !(filter.labels.is_empty() && filter.fields.is_empty());
    let continuing = q.get("continue").is_some();
    let expired_list = |e: ApiError| if continuing { expired_continue(e) } else { e };
    let limit = q.i64("limit")?.filter(|l| *l > 0).unwrap_or(0);
    let p = prefix(r, ns);
    let mut end = prefix_end(p.as_bytes());
    super::list_options::validate(q, false)?;
    let (mut fresh, mut from) = match q.get("continue") {
        Some(token) => {
            if q.get("resourceVersion")
                .is_some_and(|v| !v.is_empty() && v != "0")
            {
                return Err(ApiError::bad_request(
                    "specifying resource version is not allowed when using continue",
                ));
            }
            let (rv, from) = decode_continue(token, &p)?;
            (Freshness::At(rv), from)
        }
        None => (freshness(api, q).await?, p.clone().into_bytes()),
    };
    if let (Some(name), false) = (filter.fields.exact_name(), continuing) {
        if ns.is_some() || !r.namespaced {
            // One key: read just it.
            let k = key(r, ns, name);
            end = k.clone().into_bytes();
            end.push(0);
            from = k.into_bytes();
        }
    }
    let mut count = 0usize;
    let mut revision = 0;
    loop {
        let batch = if limit > 0 {
            let want = (limit - count as i64).max(1);
            if filtered {
                want.max(64)
            } else {
                want
            }
        } else {
            LIST_CHUNK
        };
        let page = api
            .store()
            .page(&from, &end, batch, fresh)
            .await
            .map_err(expired_list)?;
        if revision == 0 {
            // A read at a given revision answers with the store's current revision in its
            // header; the list is at the revision it was read at.
            revision = match fresh {
                Freshness::At(r) => r,
                _ => page.revision,
            };
            fresh = Freshness::At(revision);
        }
        sink.reserve(page.kvs.iter().map(|kv| kv.value.len() + 24).sum());
        let mut last_key: Option<&[u8]> = None;
        for kv in &page.kvs {
            last_key = Some(kv.key.as_ref());
            let decoded = if filtered {
                let obj = decode(kv)?;
                if !filter.matches(r, &obj) {
                    continue;
                }
                Some(obj)
            } else {
                None
            };
            sink.push(kv, decoded)?;
            count += 1;
            if limit > 0 && count as i64 >= limit {
                break;
            }
        }
        let examined_all = last_key == page.kvs.last().map(|kv| kv.key.as_ref());
        let more = page.more || !examined_all;
        match last_key {
            Some(k) if more => {
                let mut next = k.to_vec();
                next.push(0);
                if limit > 0 && count as i64 >= limit {
                    return Ok(Listed {
                        revision,
                        next: Some(encode_continue(revision, &next, &p)),
                    });
                }
                from = next;
            }
            _ => {
                return Ok(Listed {
                    revision,
                    next: None,
                })
            }
        }
    }
}

fn expired_continue(e: ApiError) -> ApiError {
    if e.code == 410 {
        ApiError::expired("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.")
    } else {
        e
    }
}

/// Writes a JSON list's items straight into the response: stored objects with their
/// resourceVersion spliced in, decoded only when they must be converted.
struct JsonItems<'a> {
    api: &'a KubeApi,
    r: &'a Resource,
    out: Vec<u8>,
    /// Each item as PartialObjectMetadata.
    metadata_only: bool,
}

impl ListSink for JsonItems<'_> {
    fn reserve(&mut self, bytes: usize) {
        self.out.reserve(bytes);
    }

    fn push(&mut self, kv: &KeyValue, decoded: Option<Value>) -> ApiResult<()> {
        if self.out.last() != Some(&b'[') {
            self.out.push(b',');
        }
        let convert = self.r.group == "events.k8s.io" || self.metadata_only;
        if let (None, false) = (&decoded, convert) {
            if let Some(at) = metadata_open(&kv.value) {
                self.out.extend_from_slice(&kv.value[..at]);
                self.out.extend_from_slice(
                    format!("\"resourceVersion\":\"{}\"", kv.mod_revision).as_bytes(),
                );
                if kv.value.get(at) != Some(&b'}') {
                    self.out.push(b',');
                }
                self.out.extend_from_slice(&kv.value[at..]);
                return Ok(());
            }
        }
        let obj = match decoded {
            Some(v) => v,
            None => decode(kv)?,
        };
        let mut obj = self.api.present(self.r, obj);
        if self.metadata_only {
            obj = partial(&obj);
        }
        serde_json::to_writer(&mut self.out, &obj).map_err(|e| ApiError::internal(e.to_string()))
    }
}

/// Table rows, written into the answer one object at a time: a large list never holds its
/// rows as JSON values, only their bytes.
struct TableRows<'a> {
    api: &'a KubeApi,
    r: &'a Resource,
    q: &'a Query,
    now: jiff::Timestamp,
    /// The answer so far: the table's opening, then the rows written.
    out: Vec<u8>,
    rows: usize,
}

impl ListSink for TableRows<'_> {
    fn push(&mut self, kv: &KeyValue, decoded: Option<Value>) -> ApiResult<()> {
        // The row's managed fields stay raw: parsing them into maps only to print them again
        // would cost more than the rest of the row.
        let (obj, raw) = match decoded {
            Some(v) => (v, None),
            None => decode_lean(kv, 0)?,
        };
        let obj = self.api.present(self.r, obj);
        let row = tables::row(self.r, &obj, self.q, self.now);
        let bytes = serde_json::to_vec(&row).map_err(|e| ApiError::internal(e.to_string()))?;
        if self.rows > 0 {
            self.out.push(b',');
        }
        match raw {
            Some(raw) => self
                .out
                .extend_from_slice(&splice_managed_fields(&bytes, &[raw])),
            None => self.out.extend_from_slice(&bytes),
        }
        self.rows += 1;
        Ok(())
    }
}

/// GET of a collection (without `watch`).
pub async fn list(api: &KubeApi, call: Call) -> ApiResult<Response> {
    let r = call.r();
    let list_meta = |listed: &Listed| {
        let mut meta = json!({"resourceVersion": listed.revision.to_string()});
        if let Some(c) = &listed.next {
            meta["continue"] = json!(c);
        }
        meta
    };
    match negotiate(&call.headers) {
        Answer::Table => {
            // The list's metadata (its revision and continue token) is known only at the end,
            // so it follows the rows; JSON readers do not mind the order.
            let head = json!({
                "kind": "Table",
                "apiVersion": "meta.k8s.io/v1",
                "columnDefinitions": tables::columns(r),
            });
            let mut head =
                serde_json::to_vec(&head).map_err(|e| ApiError::internal(e.to_string()))?;
            // Reopen the object for the rows and the metadata.
            head.pop();
            head.extend_from_slice(b",\"rows\":[");
            let mut rows = TableRows {
                api,
                r,
                q: &call.query,
                now: api.now(),
                out: head,
                rows: 0,
            };
            let listed = list_objects(api, r, call.ns(), &call.query, &mut rows).await?;
            let mut out = rows.out;
            out.extend_from_slice(b"],\"metadata\":");
            serde_json::to_writer(&mut out, &list_meta(&listed))
                .map_err(|e| ApiError::internal(e.to_string()))?;
            out.push(b'}');
            let mut resp = Response::new(axum::body::Body::from(out));
            resp.headers_mut().insert(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json"),
            );
            Ok(resp)
        }
        answer @ (Answer::Object | Answer::Metadata) => {
            let metadata_only = answer == Answer::Metadata;
            let (kind, version) = if metadata_only {
                (
                    "PartialObjectMetadataList".to_string(),
                    "meta.k8s.io/v1".to_string(),
                )
            } else {
                (format!("{}List", r.kind), r.api_version())
            };
            let mut items = JsonItems {
                api,
                r,
                out: Vec::with_capacity(4096),
                metadata_only,
            };
            items.out.extend_from_slice(
                format!("{{\"kind\":\"{kind}\",\"apiVersion\":\"{version}\",\"items\":[")
                    .as_bytes(),
            );
            let listed = list_objects(api, r, call.ns(), &call.query, &mut items).await?;
            items.out.extend_from_slice(b"],\"metadata\":");
            serde_json::to_writer(&mut items.out, &list_meta(&listed))
                .map_err(|e| ApiError::internal(e.to_string()))?;
            items.out.push(b'}');
            let mut resp = Response::new(axum::body::Body::from(items.out));
            resp.headers_mut().insert(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json"),
            );
            Ok(resp)
        }
    }
}
