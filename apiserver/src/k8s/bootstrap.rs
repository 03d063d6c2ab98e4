//! What the server creates itself: the system namespaces, the system PriorityClasses
//! (`system-node-critical` and `system-cluster-critical`, which pods of the node agents and
//! cluster add-ons name) and the `kubernetes` service in `default` with its first endpoints
//! (the leader keeps them current: the binary's apiserver_endpoints). (Namespace deletions are
//! finished by the namespace controller, on the raft leader.)

use serde_json::{json, Value};

use super::admission::SYSTEM_NAMESPACES;
use super::decode::FieldValidation;
use super::managed_fields::Tracking;
use super::objects::{key, Freshness};
use super::resources;
use super::status::{ApiError, ApiResult};
use super::validation::scheduling::SYSTEM_PRIORITY_CLASSES;
use super::write::create_object;

/// The bootstrap objects' field manager, as kube-apiserver records its own writes.
const SERVER: Tracking<'static> = Tracking::Update {
    manager: "kube-apiserver",
    subresource: None,
};
use super::KubeApi;

fn find(group: &str, version: &str, plural: &str) -> ApiResult<&'static resources::Resource> {
    resources::find(group, version, plural)
        .ok_or_else(|| ApiError::internal(format!("{plural} not served")))
}

/// A core/v1 resource.
fn core(plural: &str) -> ApiResult<&'static resources::Resource> {
    find("", "v1", plural)
}

/// Creates `obj` unless an object of its name exists (whatever it holds now).
async fn ensure(
    api: &KubeApi,
    r: &'static resources::Resource,
    ns: Option<&str>,
    obj: Value,
) -> ApiResult<()> {
    match create_object(api, r, ns, obj, FieldValidation::Strict, false, &SERVER).await {
        Ok(_) => Ok(()),
        Err(e) if e.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}

pub async fn run(api: &KubeApi) -> ApiResult<()> {
    for ns in SYSTEM_NAMESPACES {
        ensure(
            api,
            core("namespaces")?,
            None,
            json!({"metadata": {"name": ns}}),
        )
        .await?;
    }
    let priority_classes = find("scheduling.k8s.io", "v1", "priorityclasses")?;
    for class in &SYSTEM_PRIORITY_CLASSES {
        ensure(
            api,
            priority_classes,
            None,
            json!({"metadata": {"name": class.name}, "value": class.value, "description": class.description}),
        )
        .await?;
    }
    let first = api.ranges().first().to_string();
    let port = api.config().advertise.map(|a| a.port()).unwrap_or(6443);
    ensure(
        api,
        core("services")?,
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
    Ok(())
}

/// Creates the `kubernetes` endpoints with this replica's API address when there are none (a new
/// cluster); afterwards the leader keeps them equal to the live voting replicas.
async fn add_endpoint(api: &KubeApi, ip: &str, port: u16) -> ApiResult<()> {
    let r = core("endpoints")?;
    let k = key(r, Some("default"), "kubernetes");
    if api.store().get(&k, Freshness::Latest).await?.is_some() {
        return Ok(());
    }
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
        Ok(_) => Ok(()),
        Err(e) if e.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}
