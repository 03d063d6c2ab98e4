//! Namespace lifecycle admission: nothing is created in a namespace that does not exist or is
//! being terminated, and the system namespaces cannot be deleted.

use serde::Deserialize;
use serde_json::json;

use super::objects::{key, Freshness};
use super::resources::{self, Resource};
use super::status::{ApiError, ApiResult};
use super::KubeApi;

/// Namespaces the server keeps.
pub const SYSTEM_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

fn namespaces() -> ApiResult<&'static Resource> {
    resources::find("", "v1", "namespaces")
        .ok_or_else(|| ApiError::internal("namespaces are not served"))
}

/// What admission reads of a namespace.
#[derive(Deserialize)]
struct NamespaceState {
    #[serde(default)]
    metadata: NamespaceMeta,
    #[serde(default)]
    status: NamespaceStatus,
}

#[derive(Deserialize, Default)]
struct NamespaceMeta {
    #[serde(rename = "deletionTimestamp")]
    deletion_timestamp: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize, Default)]
struct NamespaceStatus {
    phase: Option<String>,
}

/// Refuses a create in a missing or terminating namespace.
pub async fn check_create(
    api: &KubeApi,
    r: &Resource,
    ns: Option<&str>,
    name: &str,
) -> ApiResult<()> {
    let Some(ns) = ns.filter(|_| r.namespaced) else {
        return Ok(());
    };
    let nsr = namespaces()?;
    let k = key(nsr, None, ns);
    // A replica's own view is enough here, as kube-apiserver's informer-fed check; a namespace
    // created a moment ago through another replica is read linearizably before giving up.
    let mut found: Option<NamespaceState> = api.store().get_part(&k, Freshness::Any).await?;
    if found.is_none() {
        found = api.store().get_part(&k, Freshness::Latest).await?;
    }
    let Some(found) = found else {
        return Err(ApiError::not_found(nsr, ns));
    };
    if found.metadata.deletion_timestamp.is_some()
        || found.status.phase.as_deref() == Some("Terminating")
    {
        let mut e = ApiError::new(
            403,
            "Forbidden",
            format!("{} {name:?} is forbidden: unable to create new content in namespace {ns} because it is being terminated", r.qualified()),
        );
        e.details = Some(
            json!({"kind": r.plural, "causes": [{"reason": "NamespaceTerminating", "message": format!("namespace {ns} is being terminated"), "field": "metadata.namespace"}]}),
        );
        return Err(e);
    }
    Ok(())
}

/// Refuses to delete a system namespace.
pub fn check_delete(r: &Resource, name: &str) -> ApiResult<()> {
    if r.group.is_empty()
        && r.plural == "namespaces"
        && SYSTEM_NAMESPACES.contains(&name)
        && name != "kube-node-lease"
    {
        let mut e = ApiError::new(
            403,
            "Forbidden",
            format!("namespaces {name:?} is forbidden: this namespace may not be deleted"),
        );
        e.details = Some(json!({"name": name, "kind": "namespaces"}));
        return Err(e);
    }
    Ok(())
}
