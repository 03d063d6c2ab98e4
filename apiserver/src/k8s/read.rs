//! The reading verbs: get and list, with resourceVersion semantics ("" most recent and
//! linearizable, "0" any, N exact or not older than), label and field selectors,
//! limit/continue paging, and Table answers.

use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use serde_json::{json, Value};

use super::http::{json_response, negotiate, Answer, Query};
use super::objects::{decode, key, prefix, prefix_end, Freshness};
use super::resources::Resource;
use super::route::Call;
use super::selector::{FieldSelector, LabelSelector};
use super::status::{ApiError, ApiResult};
use super::{fields, tables, KubeApi};

/// How a read picks its revision, from `resourceVersion` and `resourceVersionMatch`.
pub fn freshness(q: &Query, local_revision: impl FnOnce() -> i64) -> ApiResult<Freshness> {
    let rv = q.get("resourceVersion");
    let matching = q.get("resourceVersionMatch");
    match (rv, matching) {
        (None, Some(_)) => Err(ApiError::bad_request(
            "resourceVersionMatch is forbidden unless resourceVersion is provided",
        )),
        (None, None) => Ok(Freshness::Latest),
        (Some("0"), Some("Exact")) => Err(ApiError::bad_request(
            "resourceVersionMatch \"Exact\" is forbidden for resourceVersion \"0\"",
        )),
        (Some("0"), _) => Ok(Freshness::Any),
        (Some(v), m) => {
            let n: i64 = v
                .parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {v:?}")))?;
            match m {
                Some("Exact") => Ok(Freshness::At(n)),
                None | Some("NotOlderThan") => {
                    if local_revision() >= n {
                        Ok(Freshness::Any)
                    } else {
                        Ok(Freshness::Latest)
                    }
                }
                Some(other) => Err(ApiError::bad_request(format!(
                    "resourceVersionMatch: Unsupported value: {other:?}: supported values: \"Exact\", \"NotOlderThan\", \"\""
                ))),
            }
        }
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

/// The objects of one list call.
pub struct Listed {
    pub items: Vec<Value>,
    pub revision: i64,
    pub next: Option<String>,
    pub remaining: Option<i64>,
}

/// Lists stored objects (in stored form) with the call's selectors, paging and freshness.
pub async fn list_objects(
    api: &KubeApi,
    r: &Resource,
    ns: Option<&str>,
    q: &Query,
) -> ApiResult<Listed> {
    let filter = Filter::from_query(r, q)?;
    let continuing = q.get("continue").is_some();
    let expired_list = |e: ApiError| if continuing { expired_continue(e) } else { e };
    let limit = q.i64("limit")?.filter(|l| *l > 0).unwrap_or(0);
    let p = prefix(r, ns);
    let end = prefix_end(p.as_bytes());
    let (mut fresh, mut from) = match q.get("continue") {
        Some(token) => {
            if q.get("resourceVersion").is_some() {
                return Err(ApiError::bad_request(
                    "specifying resource version is not allowed when using continue",
                ));
            }
            let (rv, from) = decode_continue(token, &p)?;
            (Freshness::At(rv), from)
        }
        None => {
            let local = api.local_revision().await;
            (freshness(q, || local)?, p.clone().into_bytes())
        }
    };
    if let (Some(name), None) = (filter.fields.exact_name(), q.get("continue")) {
        if ns.is_some() || !r.namespaced {
            let k = key(r, ns, name);
            let end_one = {
                let mut e = k.clone().into_bytes();
                e.push(0);
                e
            };
            from = k.into_bytes();
            let page = api
                .store()
                .page(&from, &end_one, 0, fresh)
                .await
                .map_err(expired_list)?;
            let items = page
                .kvs
                .iter()
                .map(decode)
                .collect::<ApiResult<Vec<_>>>()?
                .into_iter()
                .filter(|o| filter.matches(r, o))
                .collect();
            return Ok(Listed {
                items,
                revision: page.revision,
                next: None,
                remaining: None,
            });
        }
    }
    let mut items = Vec::new();
    let mut revision = 0;
    loop {
        let want = if limit > 0 {
            (limit - items.len() as i64).max(1)
        } else {
            0
        };
        let batch = if limit > 0 && !(filter.labels.is_empty() && filter.fields.is_empty()) {
            want.max(64)
        } else {
            want
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
        let mut last_key: Option<Vec<u8>> = None;
        for kv in &page.kvs {
            let obj = decode(kv)?;
            last_key = Some(kv.key.to_vec());
            if filter.matches(r, &obj) {
                items.push(obj);
                if limit > 0 && items.len() as i64 >= limit {
                    break;
                }
            }
        }
        let examined_all = last_key.as_deref() == page.kvs.last().map(|kv| kv.key.as_ref());
        let more = page.more || !examined_all;
        match last_key {
            Some(mut k) if more => {
                k.push(0);
                if limit > 0 && items.len() as i64 >= limit {
                    let remaining = if filter.labels.is_empty() && filter.fields.is_empty() {
                        let count = api
                            .store()
                            .count(&k, &end, Freshness::At(revision))
                            .await
                            .ok();
                        count.filter(|c| *c > 0)
                    } else {
                        None
                    };
                    return Ok(Listed {
                        items,
                        revision,
                        next: Some(encode_continue(revision, &k, &p)),
                        remaining,
                    });
                }
                from = k;
            }
            _ => {
                return Ok(Listed {
                    items,
                    revision,
                    next: None,
                    remaining: None,
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

/// GET of a collection (without `watch`).
pub async fn list(api: &KubeApi, call: Call) -> ApiResult<Response> {
    let r = call.r();
    let listed = list_objects(api, r, call.ns(), &call.query).await?;
    let mut meta = json!({"resourceVersion": listed.revision.to_string()});
    if let Some(c) = &listed.next {
        meta["continue"] = json!(c);
    }
    if let Some(n) = listed.remaining {
        meta["remainingItemCount"] = json!(n);
    }
    let items: Vec<Value> = listed
        .items
        .into_iter()
        .map(|o| api.present(r, o))
        .collect();
    let body = match negotiate(&call.headers) {
        Answer::Table => tables::table(r, &items, meta, &call.query, api.now()),
        Answer::Object => json!({
            "kind": format!("{}List", r.kind),
            "apiVersion": r.api_version(),
            "metadata": meta,
            "items": items,
        }),
    };
    Ok(json_response(StatusCode::OK, &body, &[]))
}
