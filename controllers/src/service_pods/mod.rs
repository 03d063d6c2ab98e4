//! Which pods back a Service, as the endpoint and endpointslice controllers both read it
//! (upstream's `endpointslice/util`): the pods its selector picks, whether a pod belongs in the
//! endpoints at all, its addresses of one IP family, the port a service port resolves to in it,
//! the hostname it publishes, and which services a pod change concerns.

pub mod trigger_time;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

use k8s_openapi::api::core::v1::{Pod, Service, ServicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::runtime::reflector::Store;
use kube::ResourceExt;

use crate::informers::Change;
use crate::pod_state::{is_finished, is_ready};
use crate::workqueue::key_of;

/// The label saying a Service has no cluster IP (`service.kubernetes.io/headless`).
pub const HEADLESS_LABEL: &str = "service.kubernetes.io/headless";
/// The annotation with the time of the change that led to the last write.
pub const LAST_CHANGE_TRIGGER_TIME: &str = "endpoints.kubernetes.io/last-change-trigger-time";

/// The Service's selector, if the controllers manage its endpoints: a Service with none (its
/// endpoints are the user's) or of type ExternalName gets none from them.
pub fn managed_selector(svc: &Service) -> Option<&BTreeMap<String, String>> {
    let spec = svc.spec.as_ref()?;
    if spec.type_.as_deref() == Some("ExternalName") {
        return None;
    }
    spec.selector.as_ref()
}

/// Whether `selector` (a Service's: every pair must match; empty picks every pod) picks `pod`.
pub fn selects(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// The pods of `svc`'s namespace its selector picks (none for an unmanaged Service).
pub fn pods_of(svc: &Service, pods: &Store<Pod>) -> Vec<std::sync::Arc<Pod>> {
    let Some(selector) = managed_selector(svc) else {
        return Vec::new();
    };
    let ns = svc.namespace();
    let mut found: Vec<_> = pods
        .state()
        .into_iter()
        .filter(|p| p.namespace() == ns && selects(selector, p.labels()))
        .collect();
    // A stable order, so what the controllers write does not depend on the cache's.
    found.sort_by_key(|p| p.name_any());
    found
}

/// Whether a pod belongs in a Service's endpoints at all (upstream's ShouldPodBeInEndpoints):
/// not finished, with an IP, and not terminating unless terminating pods are asked for.
pub fn should_be_in_endpoints(pod: &Pod, include_terminating: bool) -> bool {
    if is_finished(pod) || pod_ips(pod).is_empty() {
        return false;
    }
    include_terminating || pod.metadata.deletion_timestamp.is_none()
}

/// The pod's IPs: `status.podIPs`, or `status.podIP` when only that is set.
pub fn pod_ips(pod: &Pod) -> Vec<String> {
    let Some(status) = pod.status.as_ref() else {
        return Vec::new();
    };
    let listed: Vec<String> = status
        .pod_ips
        .iter()
        .flatten()
        .map(|p| p.ip.clone())
        .filter(|ip| !ip.is_empty())
        .collect();
    if !listed.is_empty() {
        return listed;
    }
    status
        .pod_ip
        .iter()
        .filter(|ip| !ip.is_empty())
        .cloned()
        .collect()
}

pub fn is_ipv6(ip: &str) -> bool {
    matches!(ip.parse::<IpAddr>(), Ok(IpAddr::V6(_)))
}

/// Whether the Service has a cluster IP (not headless).
pub fn is_ip_set(svc: &Service) -> bool {
    svc.spec
        .as_ref()
        .and_then(|s| s.cluster_ip.as_deref())
        .is_some_and(|ip| !ip.is_empty() && ip != "None")
}

/// Whether the Service is headless (`clusterIP: None`).
pub fn is_headless(svc: &Service) -> bool {
    svc.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None")
}

/// Whether the pod publishes its hostname in this Service's endpoints: it has one and its
/// subdomain names the Service (upstream's ShouldSetHostname).
pub fn should_set_hostname(pod: &Pod, svc: &Service) -> bool {
    let Some(spec) = pod.spec.as_ref() else {
        return false;
    };
    spec.hostname.as_deref().is_some_and(|h| !h.is_empty())
        && spec.subdomain.as_deref() == Some(svc.name_any().as_str())
        && pod.namespace() == svc.namespace()
}

/// The protocol of a port, `TCP` when unset (as the API server defaults it).
pub fn protocol(p: Option<&str>) -> &str {
    p.unwrap_or("TCP")
}

/// The container port a service port's `targetPort` resolves to in `pod` (upstream's FindPort):
/// a number as it is; a name looked up among the containers' ports of the service port's
/// protocol, then the sidecars' (init containers that always restart).
pub fn find_port(pod: &Pod, port: &ServicePort) -> Option<i32> {
    let name = match port.target_port.as_ref() {
        None => return Some(port.port),
        Some(IntOrString::Int(n)) => return Some(*n),
        Some(IntOrString::String(name)) => name,
    };
    let spec = pod.spec.as_ref()?;
    let want = protocol(port.protocol.as_deref());
    let sidecars = spec
        .init_containers
        .iter()
        .flatten()
        .filter(|c| c.restart_policy.as_deref() == Some("Always"));
    spec.containers
        .iter()
        .chain(sidecars)
        .flat_map(|c| c.ports.iter().flatten())
        .find(|p| {
            p.name.as_deref() == Some(name.as_str()) && protocol(p.protocol.as_deref()) == want
        })
        .map(|p| p.container_port)
}

/// Whether a failed create was refused because the namespace is being deleted (such creates
/// keep failing; the controllers drop the key).
pub fn namespace_terminating(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.details.as_ref().is_some_and(
        |d| d.causes.iter().any(|c| c.reason == "NamespaceTerminating")))
}

/// What of a pod decides its place in endpoints; a change to anything else concerns no Service.
#[derive(Clone, Debug, PartialEq)]
struct PodView {
    labels: BTreeMap<String, String>,
    hostname: Option<String>,
    subdomain: Option<String>,
    node_name: Option<String>,
    terminating: bool,
    ready: bool,
    finished: bool,
    ips: Vec<String>,
}

impl PodView {
    fn of(pod: &Pod) -> PodView {
        let spec = pod.spec.as_ref();
        PodView {
            labels: pod.labels().clone(),
            hostname: spec.and_then(|s| s.hostname.clone()),
            subdomain: spec.and_then(|s| s.subdomain.clone()),
            node_name: spec.and_then(|s| s.node_name.clone()),
            terminating: pod.metadata.deletion_timestamp.is_some(),
            ready: is_ready(pod),
            finished: is_finished(pod),
            ips: pod_ips(pod),
        }
    }
}

/// The services a pod change concerns (upstream's GetServicesToUpdateOnPodChange): those whose
/// selector picks the pod now or picked it before, and none when nothing that matters changed.
/// It remembers each pod as last seen, since a change only carries the new object.
#[derive(Default)]
pub struct PodMemberships {
    seen: Mutex<HashMap<String, PodView>>,
}

impl PodMemberships {
    /// The keys of the services to sync after `change`.
    pub fn services_to_sync(
        &self,
        change: Change<'_, Pod>,
        services: &Store<Service>,
    ) -> BTreeSet<String> {
        let (pod, deleted) = match change {
            Change::Applied(p) => (p, false),
            Change::Deleted(p) => (p, true),
        };
        let ns = pod.namespace().unwrap_or_default();
        let key = key_of(&ns, &pod.name_any());
        let now = PodView::of(pod);
        let before = {
            let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
            if deleted {
                seen.remove(&key)
            } else {
                seen.insert(key, now.clone())
            }
        };
        if !deleted && before.as_ref() == Some(&now) {
            return BTreeSet::new();
        }
        let mut label_sets = vec![&now.labels];
        if let Some(b) = before.as_ref() {
            if b.labels != now.labels {
                label_sets.push(&b.labels);
            }
        }
        services
            .state()
            .iter()
            .filter(|s| s.namespace().as_deref() == Some(ns.as_str()))
            .filter(|s| {
                managed_selector(s).is_some_and(|sel| label_sets.iter().any(|l| selects(sel, l)))
            })
            .map(|s| key_of(&ns, &s.name_any()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_named_target_port_resolves_per_pod_and_protocol() {
        let p = pod(json!({"metadata": {"name": "p"}, "spec": {
            "containers": [{"name": "c", "ports": [
                {"name": "web", "containerPort": 8080},
                {"name": "dns", "containerPort": 53, "protocol": "UDP"}]}],
            "initContainers": [{"name": "side", "restartPolicy": "Always",
                "ports": [{"name": "metrics", "containerPort": 9090}]}]}}));
        let port = |v| serde_json::from_value::<ServicePort>(v).unwrap();
        assert_eq!(
            find_port(&p, &port(json!({"port": 80, "targetPort": "web"}))),
            Some(8080)
        );
        assert_eq!(
            find_port(&p, &port(json!({"port": 53, "targetPort": "dns"}))),
            None
        );
        assert_eq!(
            find_port(
                &p,
                &port(json!({"port": 53, "targetPort": "dns", "protocol": "UDP"}))
            ),
            Some(53)
        );
        assert_eq!(
            find_port(&p, &port(json!({"port": 1, "targetPort": "metrics"}))),
            Some(9090)
        );
        assert_eq!(
            find_port(&p, &port(json!({"port": 80, "targetPort": 81}))),
            Some(81)
        );
        assert_eq!(
            find_port(&p, &port(json!({"port": 80, "targetPort": "nope"}))),
            None
        );
    }

    #[test]
    fn finished_ipless_and_terminating_pods_stay_out() {
        let running = pod(json!({"metadata": {"name": "p"},
            "status": {"phase": "Running", "podIP": "10.0.0.1"}}));
        assert!(should_be_in_endpoints(&running, false));
        assert_eq!(pod_ips(&running), ["10.0.0.1"]);
        let done = pod(json!({"metadata": {"name": "p"},
            "status": {"phase": "Succeeded", "podIP": "10.0.0.1"}}));
        assert!(!should_be_in_endpoints(&done, true));
        let no_ip = pod(json!({"metadata": {"name": "p"}, "status": {"phase": "Running"}}));
        assert!(!should_be_in_endpoints(&no_ip, true));
        let going = pod(
            json!({"metadata": {"name": "p", "deletionTimestamp": "2025-01-01T00:00:00Z"},
            "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.2"}]}}),
        );
        assert!(!should_be_in_endpoints(&going, false));
        assert!(should_be_in_endpoints(&going, true));
    }

    #[test]
    fn an_empty_selector_picks_every_pod_and_none_picks_none() {
        let labels = BTreeMap::from([("app".to_string(), "a".to_string())]);
        assert!(selects(&BTreeMap::new(), &labels));
        let svc: Service =
            serde_json::from_value(json!({"metadata": {"name": "s"}, "spec": {}})).unwrap();
        assert!(managed_selector(&svc).is_none());
        let ext: Service = serde_json::from_value(json!({"metadata": {"name": "s"},
            "spec": {"type": "ExternalName", "selector": {"app": "a"}}}))
        .unwrap();
        assert!(managed_selector(&ext).is_none());
    }
}
