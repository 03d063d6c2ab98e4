//! The `kubernetes` Service's endpoints, kept equal to the live voting replicas (kube-apiserver's
//! lease endpoint reconciler): every replica renews an identity Lease in `kube-system`
//! (`apiserver-<member id>`, labelled `apiserver.kubernetes.io/identity=kube-apiserver`, its
//! advertised API address in an annotation) every 5 s; the leader, for each term it leads,
//! writes the addresses of the voters whose Lease it has seen renewed within 15 s into
//! `default/kubernetes`, fenced by its term. A replica killed drops out within about 15 s, one
//! removed from the cluster at once. The `kubernetes` EndpointSlice follows the Endpoints, as
//! kube-apiserver's endpoints adapter derives it (readers such as kube-proxy use slices).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use capstan_apiserver::k8s::{KubeApi, User};
use capstan_raft::RaftNode;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Endpoints;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::fenced_kv::{FencedKv, RefusedWrites};
use crate::leader_terms::{LeaderTerm, TermWork};

const IDENTITY_LABEL: &str = "apiserver.kubernetes.io/identity";
const ADVERTISE: &str = "capstan.io/advertise-address";
const RENEW_EVERY: Duration = Duration::from_secs(5);
const LEASE_SECONDS: u64 = 15;
const USER_AGENT: &str = "kube-apiserver/v1.33.0 (capstan)";
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

fn lease_name(member_id: u64) -> String {
    format!("apiserver-{member_id:016x}")
}

fn apiserver_user() -> User {
    User {
        name: "system:apiserver".into(),
        groups: vec!["system:masters".into()],
    }
}

/// Renews this replica's identity Lease until `stop` (every replica, leader or not).
pub async fn renew_identity(
    kube: KubeApi,
    member_id: u64,
    name: String,
    advertise: SocketAddr,
    stop: CancellationToken,
) {
    let client = kube::Client::new(kube.router_as(apiserver_user(), USER_AGENT), "default");
    let leases: Api<Lease> = Api::namespaced(client, "kube-system");
    let lease = lease_name(member_id);
    loop {
        let now = k8s_openapi::jiff::Timestamp::now();
        let body = json!({
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": lease,
                "labels": {IDENTITY_LABEL: "kube-apiserver", "kubernetes.io/hostname": name},
                "annotations": {ADVERTISE: advertise.to_string()},
            },
            "spec": {
                "holderIdentity": format!("{name}_{member_id:016x}"),
                "leaseDurationSeconds": LEASE_SECONDS,
                "renewTime": now.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            },
        });
        let params = PatchParams::apply("kube-apiserver").force();
        if let Err(e) = leases.patch(&lease, &params, &Patch::Apply(&body)).await {
            tracing::debug!(error = %e, "identity lease not renewed");
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(RENEW_EVERY) => {}
        }
    }
}

/// When the leader last saw each Lease change, by its own clock.
#[derive(Default)]
struct Renewals(HashMap<String, (String, Instant)>);

impl Renewals {
    /// Records `lease` as seen now; whether it was renewed within the lease duration.
    fn live(&mut self, lease: &Lease, now: Instant) -> bool {
        let version = lease.resource_version().unwrap_or_default();
        let horizon = Duration::from_secs(LEASE_SECONDS);
        let entry = self.0.entry(lease.name_any());
        let (seen, at) = entry.or_insert_with(|| {
            // First sight in this term: trust the renewal time's age once.
            let age = lease
                .spec
                .as_ref()
                .and_then(|s| s.renew_time.as_ref())
                .map(|t| k8s_openapi::jiff::Timestamp::now().duration_since(t.0))
                .and_then(|d| Duration::try_from(d).ok())
                .unwrap_or(horizon);
            (version.clone(), now.checked_sub(age).unwrap_or(now))
        });
        if *seen != version {
            *seen = version;
            *at = now;
        }
        now.duration_since(*at) < horizon
    }
}

/// The Endpoints subsets for `addrs`: one per port, addresses sorted.
fn subsets(addrs: &BTreeSet<SocketAddr>) -> serde_json::Value {
    let mut by_port: BTreeMap<u16, Vec<String>> = BTreeMap::new();
    for a in addrs {
        by_port
            .entry(a.port())
            .or_default()
            .push(a.ip().to_string());
    }
    json!(by_port
        .into_iter()
        .map(|(port, ips)| json!({
            "addresses": ips.into_iter().map(|ip| json!({"ip": ip})).collect::<Vec<_>>(),
            "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
        }))
        .collect::<Vec<_>>())
}

/// The endpoint reconciler, run for each term this replica leads.
pub fn per_term(kube: KubeApi, node: Arc<RaftNode>, refused: RefusedWrites) -> TermWork {
    Arc::new(move |term: LeaderTerm| {
        let fenced: Arc<dyn capstan_store::Kv> =
            Arc::new(FencedKv::new(node.kv(), term.term, refused.clone()));
        let router = kube.with_kv(fenced).router_as(apiserver_user(), USER_AGENT);
        let client = kube::Client::new(router, "default");
        let node = node.clone();
        Box::pin(async move {
            let mut renewals = Renewals::default();
            loop {
                if let Err(e) = reconcile(&client, &node, &mut renewals).await {
                    tracing::debug!(error = %e, "kubernetes endpoints not reconciled");
                }
                tokio::select! {
                    _ = term.ended.cancelled() => return,
                    _ = tokio::time::sleep(RENEW_EVERY) => {}
                }
            }
        })
    })
}

async fn reconcile(
    client: &kube::Client,
    node: &RaftNode,
    renewals: &mut Renewals,
) -> Result<(), kube::Error> {
    let voters: BTreeSet<String> = node
        .raft()
        .metrics()
        .borrow()
        .membership_config
        .membership()
        .voter_ids()
        .map(lease_name)
        .collect();
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-system");
    let found = leases
        .list(&ListParams::default().labels(&format!("{IDENTITY_LABEL}=kube-apiserver")))
        .await?;
    let now = Instant::now();
    let live: BTreeSet<SocketAddr> = found
        .items
        .iter()
        .filter(|l| renewals.live(l, now) && voters.contains(&l.name_any()))
        .filter_map(|l| l.annotations().get(ADVERTISE)?.parse().ok())
        .collect();
    if live.is_empty() {
        // Not even this replica's own Lease yet: leave what is there.
        return Ok(());
    }
    let want = subsets(&live);
    let changed = ensure_endpoints(client, &want).await? | ensure_slice(client, &want).await?;
    if changed {
        tracing::info!(addresses = ?live, "kubernetes endpoints now the live voting replicas");
    }
    Ok(())
}

/// Makes `default/kubernetes` (Endpoints) hold `want`; whether it wrote.
async fn ensure_endpoints(
    client: &kube::Client,
    want: &serde_json::Value,
) -> Result<bool, kube::Error> {
    let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), "default");
    match endpoints.get_opt("kubernetes").await? {
        Some(cur) => {
            if serde_json::to_value(&cur.subsets).ok().as_ref() == Some(want) {
                return Ok(false);
            }
            let mut next = cur;
            next.subsets = serde_json::from_value(want.clone()).ok();
            endpoints
                .replace("kubernetes", &PostParams::default(), &next)
                .await?;
        }
        None => {
            let obj: Endpoints = serde_json::from_value(json!({
                "metadata": {"name": "kubernetes",
                             "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
                "subsets": want,
            }))
            .map_err(kube::Error::SerdeError)?;
            endpoints.create(&PostParams::default(), &obj).await?;
        }
    }
    Ok(true)
}

/// The `kubernetes` EndpointSlice as kube-apiserver's endpoints adapter derives it from the
/// Endpoints: the first subset only (its ports and ready addresses), IPv6 if every address is.
fn slice_of(subsets: &serde_json::Value) -> serde_json::Value {
    let first = subsets.get(0).cloned().unwrap_or_else(|| json!({}));
    let addrs: Vec<String> = first["addresses"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["ip"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let v6 = !addrs.is_empty()
        && addrs
            .iter()
            .all(|a| a.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_ipv6()));
    json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": "kubernetes", "labels": {SERVICE_NAME_LABEL: "kubernetes"}},
        "addressType": if v6 { "IPv6" } else { "IPv4" },
        "ports": first.get("ports").cloned().unwrap_or_else(|| json!([])),
        "endpoints": addrs
            .iter()
            .map(|ip| json!({"addresses": [ip], "conditions": {"ready": true}}))
            .collect::<Vec<_>>(),
    })
}

/// Makes `default/kubernetes` (EndpointSlice) match `subsets`; whether it wrote.
async fn ensure_slice(
    client: &kube::Client,
    subsets: &serde_json::Value,
) -> Result<bool, kube::Error> {
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "default");
    let want: EndpointSlice =
        serde_json::from_value(slice_of(subsets)).map_err(kube::Error::SerdeError)?;
    match slices.get_opt("kubernetes").await? {
        // The address type cannot change: the slice is made anew.
        Some(cur) if cur.address_type != want.address_type => {
            slices
                .delete("kubernetes", &kube::api::DeleteParams::default())
                .await?;
            slices.create(&PostParams::default(), &want).await?;
        }
        Some(cur) => {
            if cur.endpoints == want.endpoints
                && cur.ports == want.ports
                && cur.metadata.labels == want.metadata.labels
            {
                return Ok(false);
            }
            let mut next = want;
            let labels = next.metadata.labels.take();
            next.metadata = ObjectMeta {
                labels,
                ..cur.metadata
            };
            slices
                .replace("kubernetes", &PostParams::default(), &next)
                .await?;
        }
        None => {
            slices.create(&PostParams::default(), &want).await?;
        }
    }
    Ok(true)
}
