//! The endpoint controller (kube-controller-manager's `endpoint`): for every Service with a
//! selector, an Endpoints object of its name listing the pods the selector picks: ready pods'
//! addresses in `addresses`, the others' in `notReadyAddresses` (all ready with
//! `publishNotReadyAddresses`), each with its IP of the Service's first IP family, node, pod
//! reference and (when the pod's subdomain names the Service) hostname; ports resolved from
//! each service port's `targetPort` per pod, packed into subsets of the addresses sharing ports
//! (upstream's RepackSubsets). Finished pods, pods without an IP and terminating pods (unless
//! `publishNotReadyAddresses`) are left out; more than 1000 addresses are truncated. The
//! Endpoints carry the Service's labels (plus `service.kubernetes.io/headless` for a headless
//! one) and the last-change-trigger-time annotation. Selector-less and ExternalName Services'
//! Endpoints are the user's; a deleted Service's Endpoints are deleted, also those left over
//! when the controller starts.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, ObjectReference, Pod, Service,
};
use kube::api::{DeleteParams, ObjectMeta, PostParams};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Client, ResourceExt};
use tokio_util::sync::CancellationToken;

use crate::events::Recorder;
use crate::informers::{Change, Informer, Informers};
use crate::pod_state::is_ready;
use crate::service_pods::trigger_time::{self, TriggerTimeTracker};
use crate::service_pods::{
    self, find_port, is_headless, is_ip_set, is_ipv6, managed_selector, pod_ips,
    should_be_in_endpoints, should_set_hostname, PodMemberships, HEADLESS_LABEL,
    LAST_CHANGE_TRIGGER_TIME,
};
use crate::workqueue::{key_of, WorkQueue};
use crate::{ControllerError, ManagerConfig};

/// The most addresses one Endpoints object holds (upstream's maxCapacity).
const MAX_CAPACITY: usize = 1000;
/// The annotation marking truncated Endpoints.
const OVER_CAPACITY: &str = "endpoints.kubernetes.io/over-capacity";
/// Leader-election records live in Endpoints without a Service; the leftover sweep spares them.
const LEADER_ELECTION: &str = "control-plane.alpha.kubernetes.io/leader";

struct EndpointsController {
    client: Client,
    services: Arc<Informer<Service>>,
    pods: Arc<Informer<Pod>>,
    endpoints: Arc<Informer<Endpoints>>,
    queue: Arc<WorkQueue<String>>,
    triggers: TriggerTimeTracker,
    /// Per Service key, the resourceVersion its Endpoints had before the controller's last
    /// update: a cache still showing it is stale (upstream's staleEndpointsTracker).
    stale: Mutex<HashMap<String, String>>,
    events: Recorder,
}

/// Registers the controller's handlers; its workers run once the informers have synced.
pub fn register(
    client: Client,
    informers: &Informers,
    config: &ManagerConfig,
    ended: CancellationToken,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let workers = config.endpoint_workers;
    let services = informers.get::<Service>();
    let pods = informers.get::<Pod>();
    let endpoints = informers.get::<Endpoints>();
    let queue: Arc<WorkQueue<String>> = WorkQueue::new(ended);
    let q = queue.clone();
    services.on_change(move |c| {
        let (Change::Applied(s) | Change::Deleted(s)) = c;
        q.add(key_of(&s.namespace().unwrap_or_default(), &s.name_any()));
    });
    let (q, s) = (queue.clone(), services.clone());
    let memberships = PodMemberships::default();
    pods.on_change(move |c| {
        for key in memberships.services_to_sync(c, s.store()) {
            q.add(key);
        }
    });
    // Endpoints deleted from under a Service are made again.
    let q = queue.clone();
    endpoints.on_change(move |c| {
        if let Change::Deleted(e) = c {
            q.add(key_of(&e.namespace().unwrap_or_default(), &e.name_any()));
        }
    });
    let ctl = Arc::new(EndpointsController {
        events: Recorder::new(client.clone(), "endpoint-controller"),
        client,
        services,
        pods,
        endpoints,
        queue,
        triggers: TriggerTimeTracker::default(),
        stale: Mutex::default(),
    });
    async move {
        ctl.services.synced().await;
        ctl.pods.synced().await;
        ctl.endpoints.synced().await;
        ctl.queue_leftovers();
        let queue = ctl.queue.clone();
        crate::workqueue::run_workers(queue, workers, "endpoint", move |key| {
            let ctl = ctl.clone();
            async move { ctl.sync(&key).await }
        })
        .await;
    }
}

impl EndpointsController {
    /// Queues every Endpoints' key once at start: those whose Service went while no
    /// controller ran are deleted by their sync (upstream's checkLeftoverEndpoints).
    fn queue_leftovers(&self) {
        for e in self.endpoints.store().state() {
            if e.annotations().contains_key(LEADER_ELECTION) {
                continue;
            }
            self.queue
                .add(key_of(&e.namespace().unwrap_or_default(), &e.name_any()));
        }
    }

    async fn sync(&self, key: &str) -> Result<(), ControllerError> {
        let Some((ns, name)) = key.split_once('/') else {
            return Ok(());
        };
        let api: Api<Endpoints> = Api::namespaced(self.client.clone(), ns);
        let Some(svc) = self.services.store().get(&ObjectRef::new(name).within(ns)) else {
            match api.delete(name, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
            self.triggers.delete_service(ns, name);
            self.stale_map().remove(key);
            return Ok(());
        };
        if managed_selector(&svc).is_none() {
            return Ok(());
        }
        let pods = service_pods::pods_of(&svc, self.pods.store());
        // Computed on every sync, so the tracker follows the pods even when nothing is written.
        let trigger = self.triggers.compute(&svc, &pods);
        let subsets = repack(addresses_of(&svc, &pods));

        let current = self.endpoints.store().get(&ObjectRef::new(name).within(ns));
        if let Some(cur) = current.as_ref() {
            if self.stale_map().get(key) == cur.resource_version().as_ref() {
                return Err(ControllerError::Conflict(format!(
                    "endpoints informer cache is out of date, resource version {} already processed for endpoints {key}",
                    cur.resource_version().unwrap_or_default()
                )));
            }
        }
        let svc_labels = svc.labels().clone();
        if let Some(cur) = current.as_ref() {
            let mut compare = cur.labels().clone();
            compare.remove(HEADLESS_LABEL);
            let count: usize = subsets.iter().map(address_count).sum();
            let annotation_right =
                count <= MAX_CAPACITY && !cur.annotations().contains_key(OVER_CAPACITY);
            if normalized(cur.subsets.as_deref().unwrap_or_default()) == subsets
                && compare == svc_labels
                && annotation_right
            {
                return Ok(());
            }
        }
        let mut new = current.as_deref().cloned().unwrap_or_else(|| Endpoints {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                namespace: Some(ns.to_string()),
                ..ObjectMeta::default()
            },
            ..Endpoints::default()
        });
        let mut subsets = subsets;
        let truncated = truncate(&mut subsets);
        new.subsets = (!subsets.is_empty()).then_some(subsets);
        let annotations = new.metadata.annotations.get_or_insert_with(BTreeMap::new);
        match trigger {
            Some(t) => annotations.insert(LAST_CHANGE_TRIGGER_TIME.into(), trigger_time::format(t)),
            None => annotations.remove(LAST_CHANGE_TRIGGER_TIME),
        };
        if truncated {
            annotations.insert(OVER_CAPACITY.into(), "truncated".into());
        } else {
            annotations.remove(OVER_CAPACITY);
        }
        let mut labels = svc_labels;
        if is_ip_set(&svc) {
            labels.remove(HEADLESS_LABEL);
        } else {
            labels.insert(HEADLESS_LABEL.into(), String::new());
        }
        new.metadata.labels = Some(labels);

        let create = current.is_none();
        let written = if create {
            api.create(&PostParams::default(), &new).await
        } else {
            api.replace(name, &PostParams::default(), &new).await
        };
        match written {
            Ok(done) => {
                if let Some(cur) = current.as_ref() {
                    if done.resource_version() != cur.resource_version() {
                        if let Some(rv) = cur.resource_version() {
                            self.stale_map().insert(key.to_string(), rv);
                        }
                    }
                }
                Ok(())
            }
            Err(e) if create && service_pods::namespace_terminating(&e) => Ok(()),
            Err(e) => {
                let (reason, message) = if create {
                    (
                        "FailedToCreateEndpoint",
                        format!("Failed to create endpoint for service {ns}/{name}: {e}"),
                    )
                } else {
                    (
                        "FailedToUpdateEndpoint",
                        format!("Failed to update endpoint {ns}/{name}: {e}"),
                    )
                };
                self.events.warning(&new, reason, message).await;
                Err(e.into())
            }
        }
    }

    fn stale_map(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.stale.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One address offering one port (or, for a headless Service without ports, none), ready or
/// not: what each pod contributes before packing.
struct Offer {
    address: EndpointAddress,
    port: Option<EndpointPort>,
    ready: bool,
}

/// The pod's IP of the Service's first IP family (by its cluster IP, or for a headless Service
/// without families the pod's own IP, when the families are not set).
fn address_for(svc: &Service, pod: &Pod) -> Option<EndpointAddress> {
    let spec = svc.spec.as_ref()?;
    let ipv6 = match spec.ip_families.as_ref().and_then(|f| f.first()) {
        Some(family) => family == "IPv6",
        None if is_ip_set(svc) => spec.cluster_ip.as_deref().is_some_and(is_ipv6),
        None => pod_ips(pod).first().is_some_and(|ip| is_ipv6(ip)),
    };
    let ip = pod_ips(pod).into_iter().find(|ip| is_ipv6(ip) == ipv6)?;
    let pod_spec = pod.spec.as_ref();
    Some(EndpointAddress {
        ip,
        node_name: pod_spec
            .and_then(|s| s.node_name.clone())
            .filter(|n| !n.is_empty()),
        hostname: should_set_hostname(pod, svc)
            .then(|| pod_spec.and_then(|s| s.hostname.clone()))
            .flatten(),
        target_ref: Some(ObjectReference {
            kind: Some("Pod".into()),
            namespace: pod.namespace(),
            name: Some(pod.name_any()),
            uid: pod.uid(),
            ..ObjectReference::default()
        }),
    })
}

/// What every pod of the Service offers, one entry per address and port.
fn addresses_of(svc: &Service, pods: &[Arc<Pod>]) -> Vec<Offer> {
    let Some(spec) = svc.spec.as_ref() else {
        return Vec::new();
    };
    let publish = spec.publish_not_ready_addresses.unwrap_or(false);
    let mut offers = Vec::new();
    for pod in pods {
        if !should_be_in_endpoints(pod, publish) {
            continue;
        }
        let Some(address) = address_for(svc, pod) else {
            continue;
        };
        let ready = publish || is_ready(pod);
        let ports = spec.ports.as_deref().unwrap_or_default();
        if ports.is_empty() {
            // A headless Service may have no ports; its addresses are listed all the same.
            if is_headless(svc) {
                offers.push(Offer {
                    address,
                    port: None,
                    ready,
                });
            }
            continue;
        }
        for sp in ports {
            let Some(number) = find_port(pod, sp) else {
                continue;
            };
            offers.push(Offer {
                address: address.clone(),
                port: Some(EndpointPort {
                    name: sp.name.clone().filter(|n| !n.is_empty()),
                    port: number,
                    protocol: Some(service_pods::protocol(sp.protocol.as_deref()).into()),
                    app_protocol: sp.app_protocol.clone(),
                }),
                ready,
            });
        }
    }
    offers
}

type AddressKey = (String, String);

fn address_key(a: &EndpointAddress) -> AddressKey {
    let uid = a
        .target_ref
        .as_ref()
        .and_then(|r| r.uid.clone())
        .unwrap_or_default();
    (a.ip.clone(), uid)
}

type PortKey = (Option<String>, i32, Option<String>, Option<String>);

/// One port (none: the no-port sentinel) and the addresses offering it, ready or not.
type PortOffers = (Option<EndpointPort>, BTreeMap<AddressKey, bool>);

fn port_key(p: &EndpointPort) -> PortKey {
    (
        p.name.clone(),
        p.port,
        p.protocol.clone(),
        p.app_protocol.clone(),
    )
}

/// Packs the offers into subsets, one per distinct set of addresses (with their readiness):
/// each subset lists the ports all its addresses offer. An address not ready for one port is
/// not ready for it (upstream's RepackSubsets). Addresses are sorted by IP then pod uid.
fn repack(offers: Vec<Offer>) -> Vec<EndpointSubset> {
    let mut addresses: BTreeMap<AddressKey, EndpointAddress> = BTreeMap::new();
    // Per port (None: the no-port sentinel), each address and whether it is ready.
    let mut by_port: BTreeMap<Option<PortKey>, PortOffers> = BTreeMap::new();
    for o in offers {
        let k = address_key(&o.address);
        addresses.entry(k.clone()).or_insert(o.address);
        let entry = by_port
            .entry(o.port.as_ref().map(port_key))
            .or_insert_with(|| (o.port.clone(), BTreeMap::new()));
        let ready = entry.1.entry(k).or_insert(o.ready);
        *ready = *ready && o.ready;
    }
    // Group the ports by the exact address set offering them.
    let mut groups: BTreeMap<Vec<(AddressKey, bool)>, Vec<EndpointPort>> = BTreeMap::new();
    for (_, (port, set)) in by_port {
        let members: Vec<(AddressKey, bool)> = set.into_iter().collect();
        let ports = groups.entry(members).or_default();
        if let Some(p) = port {
            ports.push(p);
        }
    }
    let mut subsets: Vec<EndpointSubset> = groups
        .into_iter()
        .map(|(members, mut ports)| {
            let pick = |want: bool| -> Option<Vec<EndpointAddress>> {
                let list: Vec<EndpointAddress> = members
                    .iter()
                    .filter(|(_, r)| *r == want)
                    .filter_map(|(k, _)| addresses.get(k).cloned())
                    .collect();
                (!list.is_empty()).then_some(list)
            };
            ports.sort_by_key(port_key);
            EndpointSubset {
                addresses: pick(true),
                not_ready_addresses: pick(false),
                ports: (!ports.is_empty()).then_some(ports),
            }
        })
        .collect();
    subsets.sort_by_key(|s| s.ports.iter().flatten().map(port_key).collect::<Vec<_>>());
    subsets
}

fn address_count(s: &EndpointSubset) -> usize {
    s.addresses.as_ref().map_or(0, Vec::len) + s.not_ready_addresses.as_ref().map_or(0, Vec::len)
}

/// Subsets as read back, in the shape [`repack`] makes (empty lists absent, pod references
/// without a resourceVersion), so that equal content compares equal.
fn normalized(subsets: &[EndpointSubset]) -> Vec<EndpointSubset> {
    let addresses = |list: &Option<Vec<EndpointAddress>>| {
        list.as_ref().filter(|l| !l.is_empty()).map(|l| {
            l.iter()
                .map(|a| {
                    let mut a = a.clone();
                    if let Some(r) = a.target_ref.as_mut() {
                        r.resource_version = None;
                    }
                    a.node_name = a.node_name.filter(|n| !n.is_empty());
                    a.hostname = a.hostname.filter(|h| !h.is_empty());
                    a
                })
                .collect()
        })
    };
    subsets
        .iter()
        .map(|s| EndpointSubset {
            addresses: addresses(&s.addresses),
            not_ready_addresses: addresses(&s.not_ready_addresses),
            ports: s.ports.clone().filter(|p| !p.is_empty()),
        })
        .collect()
}

/// Cuts the subsets down to [`MAX_CAPACITY`] addresses, not-ready ones first, each subset
/// keeping its share (upstream's truncateEndpoints); whether anything was cut.
fn truncate(subsets: &mut [EndpointSubset]) -> bool {
    let ready: usize = subsets
        .iter()
        .map(|s| s.addresses.as_ref().map_or(0, Vec::len))
        .sum();
    let not_ready: usize = subsets
        .iter()
        .map(|s| s.not_ready_addresses.as_ref().map_or(0, Vec::len))
        .sum();
    if ready + not_ready <= MAX_CAPACITY {
        return false;
    }
    let cut_ready = ready > MAX_CAPACITY;
    let (room, total) = if cut_ready {
        (MAX_CAPACITY, ready)
    } else {
        (MAX_CAPACITY - ready, not_ready)
    };
    let mut left = room;
    for s in subsets.iter_mut() {
        let list = if cut_ready {
            &mut s.addresses
        } else {
            &mut s.not_ready_addresses
        };
        let n = list.as_ref().map_or(0, Vec::len);
        let share = (n * room).div_ceil(total.max(1)).min(left);
        if let Some(l) = list.as_mut() {
            l.truncate(share);
        }
        left -= list.as_ref().map_or(0, Vec::len);
        if list.as_ref().is_some_and(Vec::is_empty) {
            *list = None;
        }
        if cut_ready {
            s.not_ready_addresses = None;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;
    use std::collections::BTreeSet;

    fn pod(name: &str, ip: &str, ready: bool, port: i32) -> Arc<Pod> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": name, "namespace": "d", "uid": format!("uid-{name}")},
                "spec": {"nodeName": "n1", "containers": [{"name": "c",
                    "ports": [{"name": "http", "containerPort": port}]}]},
                "status": {"phase": "Running", "podIP": ip, "conditions": [
                    {"type": "Ready", "status": if ready {"True"} else {"False"}}]}}))
            .unwrap(),
        )
    }

    fn svc(spec: serde_json::Value) -> Service {
        serde_json::from_value(json!({"metadata": {"name": "s", "namespace": "d"}, "spec": spec}))
            .unwrap()
    }

    fn ports_of(subsets: &[EndpointSubset]) -> BTreeSet<i32> {
        subsets
            .iter()
            .flat_map(|s| s.ports.iter().flatten().map(|p| p.port))
            .collect()
    }

    fn ips(list: &Option<Vec<EndpointAddress>>) -> Vec<&str> {
        list.iter().flatten().map(|a| a.ip.as_str()).collect()
    }

    #[test]
    fn pods_with_different_port_numbers_land_in_different_subsets() {
        let s = svc(
            json!({"selector": {}, "clusterIP": "10.96.0.10", "ipFamilies": ["IPv4"],
            "ports": [{"port": 80, "targetPort": "http", "protocol": "TCP"}]}),
        );
        let pods = [
            pod("a", "10.0.0.2", true, 8080),
            pod("b", "10.0.0.1", false, 8080),
            pod("c", "10.0.0.3", true, 9090),
        ];
        let subsets = repack(addresses_of(&s, &pods));
        assert_eq!(subsets.len(), 2);
        assert_eq!(ips(&subsets[0].addresses), ["10.0.0.2"]);
        assert_eq!(ips(&subsets[0].not_ready_addresses), ["10.0.0.1"]);
        assert_eq!(subsets[0].ports.as_ref().unwrap()[0].port, 8080);
        assert_eq!(ips(&subsets[1].addresses), ["10.0.0.3"]);
        assert_eq!(normalized(&subsets), subsets);
    }

    #[test]
    fn an_address_not_ready_for_one_port_is_not_ready_and_shared_ports_share_a_subset() {
        let s = svc(json!({"selector": {}, "clusterIP": "10.96.0.10",
            "ports": [{"name": "a", "port": 80, "targetPort": 8080},
                      {"name": "b", "port": 81, "targetPort": 8081}]}));
        let pods = [
            pod("a", "10.0.0.1", true, 1),
            pod("b", "10.0.0.2", false, 1),
        ];
        let subsets = repack(addresses_of(&s, &pods));
        assert_eq!(subsets.len(), 1);
        assert_eq!(ports_of(&subsets), BTreeSet::from([8080, 8081]));
        assert_eq!(ips(&subsets[0].addresses), ["10.0.0.1"]);
        assert_eq!(ips(&subsets[0].not_ready_addresses), ["10.0.0.2"]);
    }

    #[test]
    fn a_headless_service_without_ports_still_lists_addresses() {
        let s = svc(json!({"selector": {}, "clusterIP": "None"}));
        let subsets = repack(addresses_of(&s, &[pod("a", "10.0.0.1", true, 1)]));
        assert_eq!(subsets.len(), 1);
        assert_eq!(ips(&subsets[0].addresses), ["10.0.0.1"]);
        assert!(subsets[0].ports.is_none());
    }

    #[test]
    fn over_capacity_not_ready_addresses_go_first() {
        let addr = |i: usize| EndpointAddress {
            ip: format!("10.0.{}.{}", i / 256, i % 256),
            ..EndpointAddress::default()
        };
        let mut subsets = vec![EndpointSubset {
            addresses: Some((0..900).map(addr).collect()),
            not_ready_addresses: Some((900..1100).map(addr).collect()),
            ports: None,
        }];
        assert!(truncate(&mut subsets));
        assert_eq!(subsets[0].addresses.as_ref().unwrap().len(), 900);
        assert_eq!(subsets[0].not_ready_addresses.as_ref().unwrap().len(), 100);
    }
}
