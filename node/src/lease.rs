//! The node's heartbeat Lease in `kube-node-lease` (the kubelet's node lease controller):
//! created owned by the Node, so it goes when the Node goes, and renewed every
//! `lease_renew_interval` with the last Lease read, so a renewal is one write.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, OwnerReference};
use k8s_openapi::jiff::Timestamp;
use kube::api::PostParams;
use kube::{Api, Client, Resource};
use tokio_util::sync::CancellationToken;

/// The namespace of node Leases.
pub const NAMESPACE: &str = "kube-node-lease";

/// How soon a failed renewal is tried again.
const RETRY: Duration = Duration::from_millis(500);

/// Renews the Lease of `node` until `stop`.
pub async fn run(
    client: Client,
    node: Node,
    interval: Duration,
    duration_seconds: i32,
    stop: CancellationToken,
) {
    let name = node.metadata.name.clone().unwrap_or_default();
    let api: Api<Lease> = Api::namespaced(client, NAMESPACE);
    let owner = OwnerReference {
        api_version: Node::api_version(&()).into(),
        kind: Node::kind(&()).into(),
        name: name.clone(),
        uid: node.metadata.uid.clone().unwrap_or_default(),
        ..OwnerReference::default()
    };
    let mut last: Option<Lease> = None;
    loop {
        let now = MicroTime(Timestamp::now());
        let spec = LeaseSpec {
            holder_identity: Some(name.clone()),
            lease_duration_seconds: Some(duration_seconds),
            renew_time: Some(now),
            ..LeaseSpec::default()
        };
        let result = match last.take() {
            Some(mut l) => {
                l.spec = Some(LeaseSpec {
                    acquire_time: l.spec.and_then(|s| s.acquire_time),
                    ..spec
                });
                api.replace(&name, &PostParams::default(), &l).await
            }
            None => match api.get_opt(&name).await {
                Ok(Some(mut l)) => {
                    l.spec = Some(spec);
                    api.replace(&name, &PostParams::default(), &l).await
                }
                Ok(None) => {
                    let l = Lease {
                        metadata: ObjectMeta {
                            name: Some(name.clone()),
                            namespace: Some(NAMESPACE.into()),
                            owner_references: Some(vec![owner.clone()]),
                            ..ObjectMeta::default()
                        },
                        spec: Some(spec),
                    };
                    api.create(&PostParams::default(), &l).await
                }
                Err(e) => Err(e),
            },
        };
        let wait = match result {
            Ok(l) => {
                last = Some(l);
                interval
            }
            Err(e) => {
                tracing::debug!(node = %name, error = %e, "lease renewal failed");
                RETRY.min(interval)
            }
        };
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}
