//! What the server creates itself: the system namespaces, the `kubernetes` service in
//! `default` with its endpoints, and the finishing of namespace deletions (the contents go
//! first, then the namespace).

use std::time::Duration;

use serde_json::{json, Value};

use super::admission::SYSTEM_NAMESPACES;
use super::decode::FieldValidation;
use super::delete::{self, DeleteOptions};
use super::managed_fields::Tracking;
use super::objects::{key, prefix, prefix_end, Extra, Freshness};
use super::resources::{self, RESOURCES};
use super::status::{ApiError, ApiResult};
use super::write::create_object;

/// The bootstrap objects' field manager, as kube-apiserver records its own writes.
const SERVER: Tracking<'static> = Tracking::Update {
    manager: "kube-apiserver",
    subresource: None,
};
use super::{meta, KubeApi};

fn find(plural: &str) -> ApiResult<&'static resources::Resource> {
    resources::find("", "v1", plural)
        .ok_or_else(|| ApiError::internal(format!("{plural} not served")))
}

async fn ensure(api: &KubeApi, plural: &str, ns: Option<&str>, obj: Value) -> ApiResult<()> {
    let r = find(plural)?;
    match create_object(api, r, ns, obj, FieldValidation::Strict, false, &SERVER).await {
        Ok(_) => Ok(()),
        Err(e) if e.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}

pub async fn run(api: &KubeApi) -> ApiResult<()> {
    for ns in SYSTEM_NAMESPACES {
        ensure(api, "namespaces", None, json!({"metadata": {"name": ns}})).await?;
    }
    let first = api.ranges().first().to_string();
    let port = api.config().advertise.map(|a| a.port()).unwrap_or(6443);
    ensure(
        api,
        "services",
        Some("default"),
        json!({
            "metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"type": "ClusterIP", "clusterIP": first, "sessionAffinity": "None",
                     "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}]},
        }),
    )
    .await?;
    if let Some(addr) = api.config().advertise {
        add_endpoint(api, &addr.ip().to_string(), addr.port()).await?;
    }
    // Namespaces whose deletion a replica began but did not finish.
    let nsr = find("namespaces")?;
    let p = prefix(nsr, None);
    let page = api
        .store()
        .page(
            p.as_bytes(),
            &prefix_end(p.as_bytes()),
            0,
            Freshness::Latest,
        )
        .await?;
    for kv in &page.kvs {
        let obj = super::objects::decode(kv)?;
        if obj.pointer("/metadata/deletionTimestamp").is_some() {
            if let Some(name) = meta::str_at(&obj, "/metadata/name") {
                api.finalize_namespace(name.to_string());
            }
        }
    }
    Ok(())
}

/// Adds this replica's API address to the `kubernetes` endpoints.
async fn add_endpoint(api: &KubeApi, ip: &str, port: u16) -> ApiResult<()> {
    let r = find("endpoints")?;
    let k = key(r, Some("default"), "kubernetes");
    for _ in 0..16 {
        match api.store().get(&k, Freshness::Latest).await? {
            None => {
                let obj = json!({
                    "metadata": {"name": "kubernetes", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
                    "subsets": [{"addresses": [{"ip": ip}], "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}],
                });
                match create_object(
                    api,
                    r,
                    Some("default"),
                    obj,
                    FieldValidation::Strict,
                    false,
                    &SERVER,
                )
                .await
                {
                    Ok(_) => return Ok(()),
                    Err(e) if e.code == 409 => continue,
                    Err(e) => return Err(e),
                }
            }
            Some(cur) => {
                let addrs = cur
                    .object
                    .pointer("/subsets/0/addresses")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                if addrs.iter().any(|a| a["ip"] == ip) {
                    return Ok(());
                }
                let mut obj = cur.object.clone();
                let mut addrs = addrs;
                addrs.push(json!({"ip": ip}));
                obj["subsets"] = json!([{"addresses": addrs, "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}]);
                if api
                    .store()
                    .update(&k, cur.mod_revision, obj, &Extra::default())
                    .await?
                    .is_some()
                {
                    return Ok(());
                }
            }
        }
    }
    Ok(())
}

/// Deletes everything in a terminating namespace, then the namespace itself. Content deletion
/// stops as soon as the server's `kubernetes` finalizer is gone from `spec.finalizers` (an
/// operator's `finalize` of a stuck namespace): the namespace goes at once.
pub async fn finalize_namespace(api: &KubeApi, name: &str) {
    let opts = DeleteOptions::default();
    let Ok(nsr) = find("namespaces") else { return };
    let k = key(nsr, None, name);
    loop {
        match api.store().get(&k, Freshness::Latest).await {
            Ok(None) => return,
            Ok(Some(cur)) => {
                let held = cur
                    .object
                    .pointer("/spec/finalizers")
                    .and_then(Value::as_array)
                    .is_some_and(|f| f.iter().any(|x| x.as_str() == Some("kubernetes")));
                if !held {
                    break;
                }
            }
            Err(_) => {}
        }
        let mut left = 0usize;
        for r in RESOURCES
            .iter()
            .filter(|r| r.namespaced && r.verbs.contains(&"delete"))
        {
            if r.group == "events.k8s.io" {
                continue;
            }
            let p = prefix(r, Some(name));
            let page = match api
                .store()
                .page(
                    p.as_bytes(),
                    &prefix_end(p.as_bytes()),
                    0,
                    Freshness::Latest,
                )
                .await
            {
                Ok(p) => p,
                Err(_) => {
                    left += 1;
                    continue;
                }
            };
            for kv in &page.kvs {
                left += 1;
                let Ok(obj) = super::objects::decode(kv) else {
                    continue;
                };
                if obj.pointer("/metadata/deletionTimestamp").is_some() {
                    continue;
                }
                if let Some(n) = meta::str_at(&obj, "/metadata/name") {
                    let _ = delete::delete_named(api, r, Some(name), n, &opts).await;
                }
            }
        }
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for _ in 0..16 {
        let Ok(Some(cur)) = api.store().get(&k, Freshness::Latest).await else {
            return;
        };
        if cur.object.pointer("/metadata/deletionTimestamp").is_none() {
            return;
        }
        let mut obj = cur.object.clone();
        obj["spec"]["finalizers"] = json!([]);
        // The namespace's own finalizers (other than the server's) still hold it.
        let others = obj
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty());
        if others {
            let _ = api
                .store()
                .update(&k, cur.mod_revision, obj, &Extra::default())
                .await;
            return;
        }
        if let Ok(Some(_)) = api
            .store()
            .delete(&k, cur.mod_revision, &Extra::default())
            .await
        {
            return;
        }
    }
}
