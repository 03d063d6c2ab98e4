//! The storage.Interface role of k8s.io/apiserver over `Kv`: objects as JSON under
//! `/registry/<storage>/<namespace>/<name>` (or `/registry/<storage>/<name>`), the mod revision
//! as resourceVersion, create as put-if-absent, update and delete as compare-and-swap on the mod
//! revision. Every key layout of the Kubernetes facade lives here.

use std::sync::Arc;

use capstan_store::proto::{
    compare, request_op, response_op, Compare, DeleteRangeRequest, KeyValue, PutRequest,
    RangeRequest, RequestOp, TxnRequest, WatchRequest,
};
use capstan_store::{Kv, KvError, Watcher};
use serde_json::Value;

use super::resources::Resource;
use super::status::{ApiError, ApiResult};
use super::stored_json;

/// The root of the Kubernetes keyspace.
pub const REGISTRY: &str = "/registry/";

/// Where a resource's objects live.
pub fn prefix(r: &Resource, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) if r.namespaced => format!("{REGISTRY}{}/{ns}/", r.storage),
        _ => format!("{REGISTRY}{}/", r.storage),
    }
}

/// The key of one object.
pub fn key(r: &Resource, namespace: Option<&str>, name: &str) -> String {
    format!("{}{name}", prefix(r, namespace))
}

/// The end of the range of keys starting with `prefix` (etcd's prefix range end; `"\0"`, the
/// end of the keyspace, when no key is greater).
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    capstan_store::keys::prefix_end(prefix).unwrap_or_else(|| vec![0])
}

/// A stored object: its JSON with `metadata.resourceVersion` set to the mod revision.
#[derive(Debug, Clone)]
pub struct Stored {
    pub object: Value,
    pub mod_revision: i64,
}

impl Stored {
    fn from_kv(kv: &KeyValue) -> ApiResult<Stored> {
        let mut object: Value = parse_stored(kv)?;
        set_resource_version(&mut object, kv.mod_revision);
        Ok(Stored {
            object,
            mod_revision: kv.mod_revision,
        })
    }
}

/// Parses a stored value as `T` (the whole object, or the parts a smaller type names).
fn parse_stored<T: serde::de::DeserializeOwned>(kv: &KeyValue) -> ApiResult<T> {
    parse_stored_bytes(kv, &kv.value)
}

/// Parses `bytes`, the stored value at `kv` or a part of it.
fn parse_stored_bytes<T: serde::de::DeserializeOwned>(kv: &KeyValue, bytes: &[u8]) -> ApiResult<T> {
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::internal(format!(
            "stored object at {} is not JSON: {e}",
            String::from_utf8_lossy(&kv.key)
        ))
    })
}

/// Decodes a stored value, with its resourceVersion.
pub fn decode(kv: &KeyValue) -> ApiResult<Value> {
    Stored::from_kv(kv).map(|s| s.object)
}

/// [`decode`] for answers that only print the managed fields (Table rows, watch events): they
/// stay raw bytes, returned beside the object, which holds the placeholder numbered `index` in
/// their place (see [`super::stored_json`]).
pub fn decode_lean(kv: &KeyValue, index: usize) -> ApiResult<(Value, Option<Vec<u8>>)> {
    let Some((rest, raw)) = stored_json::take_managed_fields(&kv.value) else {
        return decode(kv).map(|o| (o, None));
    };
    let mut object: Value = parse_stored_bytes(kv, &rest)?;
    set_resource_version(&mut object, kv.mod_revision);
    if let Some(m) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        m.insert("managedFields".into(), stored_json::placeholder(index));
    }
    Ok((object, Some(raw.to_vec())))
}

/// Sets `metadata.resourceVersion`.
pub fn set_resource_version(object: &mut Value, rev: i64) {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("resourceVersion".into(), Value::String(rev.to_string()));
    }
}

/// The JSON written to the store: without the resourceVersion (it is the key's mod revision).
fn encode(object: &Value) -> ApiResult<Vec<u8>> {
    serde_json::to_vec(&WithoutResourceVersion(object))
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// Serializes an object as it is, except `metadata.resourceVersion` (no copy of the object).
struct WithoutResourceVersion<'a>(&'a Value);

impl serde::Serialize for WithoutResourceVersion<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let Value::Object(top) = self.0 else {
            return self.0.serialize(s);
        };
        let mut map = s.serialize_map(Some(top.len()))?;
        for (k, v) in top {
            match v {
                Value::Object(meta) if k == "metadata" => {
                    let fields = meta.iter().filter(|(mk, _)| *mk != "resourceVersion");
                    map.serialize_entry(k, &MapOf(fields))?;
                }
                _ => map.serialize_entry(k, v)?,
            }
        }
        map.end()
    }
}

/// A map serialized from an iterator of its entries.
struct MapOf<I>(I);

impl<'a, I> serde::Serialize for MapOf<I>
where
    I: Iterator<Item = (&'a String, &'a Value)> + Clone,
{
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.clone())
    }
}

/// How long a store call may take before the request is answered 503: a replica cut off from
/// its quorum cannot confirm a read or commit a write, and clients should retry elsewhere
/// rather than hang.
const STORE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(5);

async fn within<T>(f: impl std::future::Future<Output = Result<T, KvError>>) -> ApiResult<T> {
    match tokio::time::timeout(STORE_DEADLINE, f).await {
        Ok(r) => r.map_err(ApiError::from),
        Err(_) => Err(ApiError::unavailable(
            "etcdserver: request timed out: this replica cannot reach a quorum",
        )),
    }
}

/// How fresh a read must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Linearizable: the most recent state, confirmed by a quorum.
    Latest,
    /// Whatever this replica has.
    Any,
    /// Exactly at this revision.
    At(i64),
}

impl Freshness {
    /// The (revision, serializable) of a range read with this freshness.
    fn range_params(self) -> (i64, bool) {
        match self {
            Freshness::Latest => (0, false),
            Freshness::Any => (0, true),
            Freshness::At(r) => (r, true),
        }
    }
}

/// One page of a list.
pub struct Page {
    pub kvs: Vec<KeyValue>,
    pub revision: i64,
    pub more: bool,
}

/// Object storage over `Kv`.
#[derive(Clone)]
pub struct ObjectStore {
    kv: Arc<dyn Kv>,
}

impl ObjectStore {
    pub fn new(kv: Arc<dyn Kv>) -> ObjectStore {
        ObjectStore { kv }
    }

    /// Reads one object.
    pub async fn get(&self, key: &str, fresh: Freshness) -> ApiResult<Option<Stored>> {
        self.get_kv(key, fresh)
            .await?
            .as_ref()
            .map(Stored::from_kv)
            .transpose()
    }

    /// Reads the parts of an object that `T` names (cheaper than the whole JSON).
    pub async fn get_part<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
        fresh: Freshness,
    ) -> ApiResult<Option<T>> {
        self.get_kv(key, fresh)
            .await?
            .as_ref()
            .map(parse_stored)
            .transpose()
    }

    /// The stored key-value of one object.
    async fn get_kv(&self, key: &str, fresh: Freshness) -> ApiResult<Option<KeyValue>> {
        let (revision, serializable) = fresh.range_params();
        let resp = within(self.kv.range(RangeRequest {
            key: key.as_bytes().to_vec().into(),
            revision,
            serializable,
            ..Default::default()
        }))
        .await?;
        Ok(resp.kvs.into_iter().next())
    }

    /// Reads up to `limit` keys (0: all) in [from, end) at `fresh`.
    pub async fn page(
        &self,
        from: &[u8],
        end: &[u8],
        limit: i64,
        fresh: Freshness,
    ) -> ApiResult<Page> {
        let (revision, serializable) = fresh.range_params();
        let resp = within(self.kv.range(RangeRequest {
            key: from.to_vec().into(),
            range_end: end.to_vec().into(),
            limit,
            revision,
            serializable,
            skip_count: true,
            ..Default::default()
        }))
        .await?;
        Ok(Page {
            kvs: resp.kvs,
            revision: resp.revision,
            more: resp.more,
        })
    }

    /// Writes a new object; `Ok(None)` when the key already exists (or a key `extra` claims
    /// does).
    pub async fn create(
        &self,
        key: &str,
        object: Value,
        extra: &Extra,
    ) -> ApiResult<Option<Stored>> {
        self.put_if(absent(key), key, object, extra).await
    }

    /// Replaces an object if its mod revision is still `expected` (and the keys `extra` claims
    /// are free); `Ok(None)` when not.
    pub async fn update(
        &self,
        key: &str,
        expected: i64,
        object: Value,
        extra: &Extra,
    ) -> ApiResult<Option<Stored>> {
        self.put_if(mod_is(key, expected), key, object, extra).await
    }

    /// Writes `object` at `key`, with `extra`'s claims and releases, if `guard` holds and
    /// every claimed key is free: one transaction, so the object and what it holds change
    /// together or not at all.
    async fn put_if(
        &self,
        guard: Compare,
        key: &str,
        mut object: Value,
        extra: &Extra,
    ) -> ApiResult<Option<Stored>> {
        let mut compare = vec![guard];
        compare.extend(extra.claims.iter().map(|(k, _)| absent(k)));
        let mut put = put_op(key, encode(&object)?);
        if let Some(request_op::Request::Put(p)) = put.request.as_mut() {
            p.lease = extra.lease;
        }
        let resp = within(self.kv.txn(TxnRequest {
            compare,
            success: extra.ops(put),
            failure: vec![],
        }))
        .await?;
        if !resp.succeeded {
            return Ok(None);
        }
        set_resource_version(&mut object, resp.revision);
        Ok(Some(Stored {
            object,
            mod_revision: resp.revision,
        }))
    }

    /// Deletes an object if its mod revision is still `expected`, with `extra`'s releases;
    /// returns the deletion's revision, or `None` when it changed since.
    pub async fn delete(&self, key: &str, expected: i64, extra: &Extra) -> ApiResult<Option<i64>> {
        let del = RequestOp {
            request: Some(request_op::Request::DeleteRange(DeleteRangeRequest {
                key: key.as_bytes().to_vec().into(),
                ..Default::default()
            })),
        };
        let resp = within(self.kv.txn(TxnRequest {
            compare: vec![mod_is(key, expected)],
            success: extra.ops(del),
            failure: vec![],
        }))
        .await?;
        if !resp.succeeded {
            return Ok(None);
        }
        let deleted = resp.responses.first().and_then(|r| match &r.response {
            Some(response_op::Response::DeleteRange(d)) => Some(d.deleted),
            _ => None,
        });
        Ok((deleted.unwrap_or(0) > 0).then_some(resp.revision))
    }

    /// Whether a key exists now (linearizable).
    pub async fn exists(&self, key: &str) -> ApiResult<bool> {
        let resp = within(self.kv.range(RangeRequest {
            key: key.as_bytes().to_vec().into(),
            count_only: true,
            ..Default::default()
        }))
        .await?;
        Ok(resp.count > 0)
    }

    /// Watches keys in [from, end) from `start` (inclusive), with previous values.
    pub async fn watch(&self, from: &[u8], end: &[u8], start: i64) -> ApiResult<Watcher> {
        Ok(self
            .kv
            .watch(WatchRequest {
                key: from.to_vec().into(),
                range_end: end.to_vec().into(),
                start_revision: start,
                prev_kv: true,
                progress_notify: false,
                filters: vec![],
            })
            .await?)
    }

    /// The store's current and compacted revisions, from this replica.
    pub async fn revisions(&self) -> ApiResult<(i64, i64)> {
        let s = within(self.kv.status()).await?;
        Ok((s.revision, s.compact_revision))
    }

    /// Grants a lease of `ttl` seconds (events' time to live).
    pub async fn grant_lease(&self, ttl: i64) -> ApiResult<i64> {
        Ok(within(self.kv.lease_grant(ttl, 0)).await?.id)
    }
}

/// Keys written or removed in the same transaction as an object: allocations (a service's
/// cluster IP and node ports) claimed with it and released with it, and the lease it lives on.
#[derive(Debug, Clone, Default)]
pub struct Extra {
    /// Keys that must not exist yet, written with the object.
    pub claims: Vec<(String, Vec<u8>)>,
    /// Keys removed with the object.
    pub releases: Vec<String>,
    /// A lease the object is bound to (0: none).
    pub lease: i64,
}

impl Extra {
    fn ops(&self, main: RequestOp) -> Vec<RequestOp> {
        let mut ops = vec![main];
        for (k, v) in &self.claims {
            ops.push(put_op(k, v.clone()));
        }
        for k in &self.releases {
            ops.push(RequestOp {
                request: Some(request_op::Request::DeleteRange(DeleteRangeRequest {
                    key: k.as_bytes().to_vec().into(),
                    ..Default::default()
                })),
            });
        }
        ops
    }
}

fn absent(key: &str) -> Compare {
    Compare {
        result: compare::CompareResult::Equal as i32,
        target: compare::CompareTarget::Create as i32,
        key: key.as_bytes().to_vec().into(),
        target_union: Some(compare::TargetUnion::CreateRevision(0)),
        ..Default::default()
    }
}

fn put_op(key: &str, value: Vec<u8>) -> RequestOp {
    RequestOp {
        request: Some(request_op::Request::Put(PutRequest {
            key: key.as_bytes().to_vec().into(),
            value: value.into(),
            ..Default::default()
        })),
    }
}

fn mod_is(key: &str, rev: i64) -> Compare {
    Compare {
        result: compare::CompareResult::Equal as i32,
        target: compare::CompareTarget::Mod as i32,
        key: key.as_bytes().to_vec().into(),
        target_union: Some(compare::TargetUnion::ModRevision(rev)),
        ..Default::default()
    }
}
