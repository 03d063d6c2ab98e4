//! `metrics.k8s.io/v1beta1`, the resource metrics API metrics-server serves upstream: NodeMetrics
//! and PodMetrics made on request from the node agents' Summary (`/stats/summary`, reached as
//! `node_agent` reaches them): CPU as the rate over the agent's last sample window, memory as
//! the working set. A node whose agent does not answer, or has no rate yet, has no metrics,
//! as metrics-server leaves out nodes it could not scrape. `kubectl top` and the HPA read it.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use axum::http::{header, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::objects::{prefix, prefix_end, Freshness};
use super::resources;
use super::route::Call;
use super::selector::LabelSelector;
use super::status::{ApiError, ApiResult};
use super::{node_agent, KubeApi};

/// How long one agent may take to answer before its node is left out.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(5);

/// The window the agents' rates are over (their sample period).
const WINDOW: &str = "10s";

/// A node's usage (`NodeMetrics`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "io.k8s.metrics.pkg.apis.metrics.v1beta1.NodeMetrics")]
#[serde(rename_all = "camelCase")]
pub struct NodeMetrics {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub metadata: ObjectMeta,
    pub timestamp: String,
    pub window: String,
    pub usage: BTreeMap<String, Quantity>,
}

/// One container's usage in a `PodMetrics`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "io.k8s.metrics.pkg.apis.metrics.v1beta1.ContainerMetrics")]
pub struct ContainerMetrics {
    pub name: String,
    pub usage: BTreeMap<String, Quantity>,
}

/// A pod's usage, by container (`PodMetrics`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "io.k8s.metrics.pkg.apis.metrics.v1beta1.PodMetrics")]
#[serde(rename_all = "camelCase")]
pub struct PodMetrics {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub metadata: ObjectMeta,
    pub timestamp: String,
    pub window: String,
    pub containers: Vec<ContainerMetrics>,
}

/// `cpu` and `memory` from a Summary's `cpu` and `memory` objects; `None` without a rate.
fn usage(stats: &Value) -> Option<BTreeMap<String, Quantity>> {
    let cores = stats.pointer("/cpu/usageNanoCores")?.as_u64()?;
    let bytes = stats.pointer("/memory/workingSetBytes")?.as_u64()?;
    Some(BTreeMap::from([
        ("cpu".to_string(), Quantity(format!("{cores}n"))),
        (
            "memory".to_string(),
            Quantity(format!("{}Ki", bytes / 1024)),
        ),
    ]))
}

/// A Summary's sample time, to the second (as `metav1.Time` is written).
fn sample_time(stats: &Value) -> String {
    let t = stats
        .pointer("/cpu/time")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match t.split_once('.') {
        Some((secs, _)) => format!("{secs}Z"),
        None => t.to_string(),
    }
}

/// Reads the Summary of the node `node` (its object).
async fn summary(api: &KubeApi, node: &Value, name: &str) -> Option<Value> {
    let (ip, port) = node_agent::endpoint(node, name).ok()?;
    let agent = node_agent::Agent { ip, port };
    let fetch = async {
        let stream = agent.connect(api).await.ok()?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .ok()?;
        tokio::spawn(conn);
        let req = Request::get("/stats/summary")
            .header(header::HOST, format!("{ip}:{port}"))
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .ok()?;
        let resp = sender.send_request(req).await.ok()?;
        if resp.status() != StatusCode::OK {
            return None;
        }
        let body = resp.into_body().collect().await.ok()?.to_bytes();
        serde_json::from_slice::<Value>(&body).ok()
    };
    tokio::time::timeout(SCRAPE_TIMEOUT, fetch)
        .await
        .ok()
        .flatten()
}

/// Every stored object of `plural` (core/v1) in `namespace` (all when `None`).
async fn stored(api: &KubeApi, plural: &str, namespace: Option<&str>) -> ApiResult<Vec<Value>> {
    let r = resources::find("", "v1", plural)
        .ok_or_else(|| ApiError::internal(format!("{plural} are not served")))?;
    let from = prefix(r, namespace);
    let end = prefix_end(from.as_bytes());
    let page = api
        .store()
        .page(from.as_bytes(), &end, 0, Freshness::Any)
        .await?;
    Ok(page
        .kvs
        .iter()
        .filter_map(|kv| serde_json::from_slice(&kv.value).ok())
        .collect())
}

fn name_of(obj: &Value) -> String {
    obj.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn meta_of(obj: &Value, namespaced: bool) -> ObjectMeta {
    let labels: Option<BTreeMap<String, String>> = obj
        .pointer("/metadata/labels")
        .and_then(|l| serde_json::from_value(l.clone()).ok());
    ObjectMeta {
        name: Some(name_of(obj)),
        namespace: namespaced.then(|| {
            obj.pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        }),
        labels,
        creation_timestamp: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::now(),
        )),
        ..ObjectMeta::default()
    }
}

/// The Summaries of `nodes`, read concurrently, by node name.
async fn summaries(api: &KubeApi, nodes: &[Value]) -> HashMap<String, Value> {
    let reads = nodes.iter().map(|n| async move {
        let name = name_of(n);
        summary(api, n, &name).await.map(|s| (name, s))
    });
    futures_util::future::join_all(reads)
        .await
        .into_iter()
        .flatten()
        .collect()
}

fn selector(call: &Call) -> ApiResult<LabelSelector> {
    LabelSelector::parse(call.query.get("labelSelector").unwrap_or_default())
        .map_err(ApiError::bad_request)
}

fn json_answer(v: &impl Serialize) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_vec(v).unwrap_or_default(),
    )
        .into_response()
}

fn not_found(kind: &str, name: &str) -> ApiError {
    ApiError::new(
        404,
        "NotFound",
        format!("{kind}.metrics.k8s.io {name:?} not found"),
    )
    .with_details(json!({"name": name, "group": "metrics.k8s.io", "kind": kind}))
}

async fn node_metrics(api: &KubeApi, call: &Call) -> ApiResult<Vec<NodeMetrics>> {
    let sel = selector(call)?;
    let only = call.target.name.as_deref();
    let nodes: Vec<Value> = stored(api, "nodes", None)
        .await?
        .into_iter()
        .filter(|n| only.is_none_or(|o| name_of(n) == o) && sel.matches_object(n))
        .collect();
    let by_node = summaries(api, &nodes).await;
    Ok(nodes
        .iter()
        .filter_map(|n| {
            let s = by_node.get(&name_of(n))?.get("node")?;
            Some(NodeMetrics {
                api_version: None,
                kind: None,
                metadata: meta_of(n, false),
                timestamp: sample_time(s),
                window: WINDOW.into(),
                usage: usage(s)?,
            })
        })
        .collect())
}

async fn pod_metrics(api: &KubeApi, call: &Call) -> ApiResult<Vec<PodMetrics>> {
    let sel = selector(call)?;
    let only = call.target.name.as_deref();
    let pods: Vec<Value> = stored(api, "pods", call.ns())
        .await?
        .into_iter()
        .filter(|p| only.is_none_or(|o| name_of(p) == o) && sel.matches_object(p))
        .collect();
    let wanted: Vec<&str> = pods
        .iter()
        .filter_map(|p| p.pointer("/spec/nodeName").and_then(Value::as_str))
        .collect();
    let nodes: Vec<Value> = stored(api, "nodes", None)
        .await?
        .into_iter()
        .filter(|n| wanted.contains(&name_of(n).as_str()))
        .collect();
    let by_node = summaries(api, &nodes).await;
    let mut by_pod: HashMap<(String, String), &Value> = HashMap::new();
    for s in by_node.values() {
        for p in s
            .get("pods")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let key = |f: &str| {
                p.pointer(&format!("/podRef/{f}"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            by_pod.insert((key("namespace"), key("name")), p);
        }
    }
    Ok(pods
        .iter()
        .filter_map(|p| {
            let meta = meta_of(p, true);
            let key = (meta.namespace.clone()?, meta.name.clone()?);
            let s = by_pod.get(&key)?;
            let containers = s
                .get("containers")?
                .as_array()?
                .iter()
                .map(|c| {
                    Some(ContainerMetrics {
                        name: c.get("name")?.as_str()?.to_string(),
                        usage: usage(c)?,
                    })
                })
                .collect::<Option<Vec<_>>>()?;
            Some(PodMetrics {
                api_version: None,
                kind: None,
                metadata: meta,
                timestamp: sample_time(s),
                window: WINDOW.into(),
                containers,
            })
        })
        .collect())
}

/// GET on `nodes` and `pods` of `metrics.k8s.io/v1beta1`, one or a list.
pub async fn serve(api: &KubeApi, call: Call, method: &Method) -> ApiResult<Response> {
    if method != Method::GET || call.query.flag("watch") || call.target.subresource.is_some() {
        return Err(ApiError::method_not_allowed(method.as_str()));
    }
    let api_version = "metrics.k8s.io/v1beta1";
    let named = call.target.name.clone();
    match call.r().plural {
        "nodes" => {
            let mut items = node_metrics(api, &call).await?;
            for i in &mut items {
                i.api_version = Some(api_version.into());
                i.kind = Some("NodeMetrics".into());
            }
            match named {
                Some(n) => items
                    .pop()
                    .map(|i| json_answer(&i))
                    .ok_or_else(|| not_found("nodemetrics", &n)),
                None => Ok(json_answer(&json!({
                    "kind": "NodeMetricsList",
                    "apiVersion": api_version,
                    "metadata": {},
                    "items": items,
                }))),
            }
        }
        _ => {
            let mut items = pod_metrics(api, &call).await?;
            for i in &mut items {
                i.api_version = Some(api_version.into());
                i.kind = Some("PodMetrics".into());
            }
            match named {
                Some(n) => items.pop().map(|i| json_answer(&i)).ok_or_else(|| {
                    not_found(
                        "podmetrics",
                        &format!("{}/{n}", call.ns().unwrap_or("default")),
                    )
                }),
                None => Ok(json_answer(&json!({
                    "kind": "PodMetricsList",
                    "apiVersion": api_version,
                    "metadata": {},
                    "items": items,
                }))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_is_the_rate_in_nanocores_and_the_working_set_in_kibibytes() {
        let stats = json!({"cpu": {"time": "2026-12-07T18:00:01.123456Z", "usageNanoCores": 2500000},
                           "memory": {"workingSetBytes": 10485760}});
        let u = usage(&stats).unwrap();
        assert_eq!(u["cpu"].0, "2500000n");
        assert_eq!(u["memory"].0, "10240Ki");
        assert_eq!(sample_time(&stats), "2026-12-07T18:00:01Z");
        let first_sample =
            json!({"cpu": {"usageCoreNanoSeconds": 5}, "memory": {"workingSetBytes": 1}});
        assert!(usage(&first_sample).is_none());
    }
}
