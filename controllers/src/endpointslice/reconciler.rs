//! The EndpointSlice reconciler (upstream's `k8s.io/endpointslice` Reconciler), as a pure
//! function from a Service, its pods, the nodes' zones and its current slices to the slices to
//! create, update and delete. Per address type the Service supports, pods become endpoints
//! (addresses of that family; ready/serving/terminating conditions; node, zone, pod reference,
//! hostname) grouped by the ports they resolve to; existing slices keep the endpoints still
//! wanted (updated in place when they changed), slices left empty go, new endpoints fill the
//! slices already being updated, then an unchanged slice with room for all of them, then new
//! slices of at most `max` endpoints. A Service with no endpoints keeps one empty placeholder
//! slice. Slices of address types the Service no longer has, or owned by another Service of
//! the name, go.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{ObjectReference, Pod, Service};
use k8s_openapi::api::discovery::v1::{
    Endpoint, EndpointConditions, EndpointHints, EndpointPort, EndpointSlice, ForZone,
};
use kube::api::ObjectMeta;
use kube::ResourceExt;

use super::tracker::SERVICE_NAME_LABEL;
use crate::owners::controller_ref;
use crate::pod_state::is_ready;
use crate::service_pods::{
    find_port, is_ip_set, is_ipv6, pod_ips, should_be_in_endpoints, should_set_hostname,
    HEADLESS_LABEL,
};

/// The label naming the controller that manages a slice.
pub const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
/// This controller's value of it.
pub const CONTROLLER_NAME: &str = "endpointslice-controller.k8s.io";
/// The node label the endpoints' zone comes from.
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

/// The nodes as the reconciler sees them: name → its zone, if labelled. A name missing is a
/// node that does not exist.
pub type NodeZones = HashMap<String, Option<String>>;

/// What one reconcile changes; `errors` are pods left out for now (retried).
#[derive(Debug, Default)]
pub struct Plan {
    pub create: Vec<EndpointSlice>,
    pub update: Vec<EndpointSlice>,
    pub delete: Vec<EndpointSlice>,
}

/// The plans of one reconcile: one per address type (each carried out on its own, as
/// upstream's), then the slices of address types no longer wanted, and the pods left out.
#[derive(Debug, Default)]
pub struct Outcome {
    pub plans: Vec<Plan>,
    pub errors: Vec<String>,
}

/// The address types the Service's endpoints come in: its IP families, or (families unset)
/// its cluster IP's, or for a headless Service both.
pub fn address_types(svc: &Service) -> BTreeSet<&'static str> {
    let spec = svc.spec.as_ref();
    let mut types: BTreeSet<&'static str> = spec
        .and_then(|s| s.ip_families.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|f| match f.as_str() {
            "IPv4" => Some("IPv4"),
            "IPv6" => Some("IPv6"),
            _ => None,
        })
        .collect();
    if !types.is_empty() {
        return types;
    }
    if is_ip_set(svc) {
        let v6 = spec
            .and_then(|s| s.cluster_ip.as_deref())
            .is_some_and(is_ipv6);
        types.insert(if v6 { "IPv6" } else { "IPv4" });
    } else {
        types.extend(["IPv4", "IPv6"]);
    }
    types
}

/// Whether the slice's ownerReferences name this Service (by uid).
pub fn owned_by(slice: &EndpointSlice, svc: &Service) -> bool {
    let uid = svc.uid();
    slice
        .owner_references()
        .iter()
        .any(|o| Some(&o.uid) == uid.as_ref() && o.kind == "Service" && o.api_version == "v1")
}

/// The labels a slice of `svc` carries: the Service's (but the reserved ones), the headless
/// label for a Service without a cluster IP, the Service's name and the managing controller.
fn slice_labels(svc: &Service) -> BTreeMap<String, String> {
    let reserved = [SERVICE_NAME_LABEL, MANAGED_BY_LABEL, HEADLESS_LABEL];
    let mut labels: BTreeMap<String, String> = svc
        .labels()
        .iter()
        .filter(|(k, _)| !reserved.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !is_ip_set(svc) {
        labels.insert(HEADLESS_LABEL.into(), String::new());
    }
    labels.insert(SERVICE_NAME_LABEL.into(), svc.name_any());
    labels.insert(MANAGED_BY_LABEL.into(), CONTROLLER_NAME.into());
    labels
}

/// A new, empty slice of `svc` (named by the API server from `<service>-`).
fn new_slice(svc: &Service, address_type: &str, ports: &[EndpointPort]) -> EndpointSlice {
    let name = svc.name_any();
    // A prefix a valid name can start with; a name that long gets no dash (as upstream's).
    let prefix = if name.len() < 253 {
        format!("{name}-")
    } else {
        name
    };
    EndpointSlice {
        metadata: ObjectMeta {
            generate_name: Some(prefix),
            namespace: svc.namespace(),
            labels: Some(slice_labels(svc)),
            owner_references: Some(vec![controller_ref(svc)]),
            ..ObjectMeta::default()
        },
        address_type: address_type.into(),
        endpoints: Vec::new(),
        ports: (!ports.is_empty()).then(|| ports.to_vec()),
    }
}

/// The ports a pod serves the Service on (none for a headless Service without ports; a port
/// whose `targetPort` the pod lacks is left out).
fn endpoint_ports(svc: &Service, pod: &Pod) -> Vec<EndpointPort> {
    let ports = svc
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_deref())
        .unwrap_or_default();
    ports
        .iter()
        .filter_map(|sp| {
            Some(EndpointPort {
                port: Some(find_port(pod, sp)?),
                name: Some(sp.name.clone().unwrap_or_default()),
                protocol: Some(crate::service_pods::protocol(sp.protocol.as_deref()).into()),
                app_protocol: sp.app_protocol.clone(),
            })
        })
        .collect()
}

type PortKey = Vec<(Option<String>, Option<i32>, Option<String>, Option<String>)>;

/// The ports as a set (order does not matter).
fn port_key(ports: &[EndpointPort]) -> PortKey {
    let mut key: PortKey = ports
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                p.port,
                p.protocol.clone(),
                p.app_protocol.clone(),
            )
        })
        .collect();
    key.sort();
    key
}

type EndpointKey = (Vec<String>, String, String, String);

/// What makes two endpoints the same one: addresses, hostname and pod (upstream's hash).
fn endpoint_key(e: &Endpoint) -> EndpointKey {
    let mut addresses = e.addresses.clone();
    addresses.sort();
    let r = e.target_ref.as_ref();
    (
        addresses,
        e.hostname.clone().unwrap_or_default(),
        r.and_then(|r| r.namespace.clone()).unwrap_or_default(),
        r.and_then(|r| r.name.clone()).unwrap_or_default(),
    )
}

/// Whether two endpoints of one key differ in anything else written.
fn same_beyond_key(a: &Endpoint, b: &Endpoint) -> bool {
    let reference = |e: &Endpoint| {
        e.target_ref.clone().map(|mut r| {
            r.resource_version = None;
            r
        })
    };
    a.conditions == b.conditions
        && a.zone == b.zone
        && a.node_name == b.node_name
        && a.hints == b.hints
        && reference(a) == reference(b)
}

/// The pod as an endpoint of `address_type` (upstream's podToEndpoint).
fn pod_to_endpoint(svc: &Service, pod: &Pod, zone: Option<String>, address_type: &str) -> Endpoint {
    let spec = svc.spec.as_ref();
    let publish = spec
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false);
    let serving = is_ready(pod);
    let terminating = pod.metadata.deletion_timestamp.is_some();
    // A terminating pod is never ready, unless not-ready addresses are published anyway.
    let ready = publish || (serving && !terminating);
    let v6 = address_type == "IPv6";
    let pod_spec = pod.spec.as_ref();
    let prefer_close = spec.and_then(|s| s.traffic_distribution.as_deref()) == Some("PreferClose");
    let zone = zone.filter(|z| !z.is_empty());
    Endpoint {
        addresses: pod_ips(pod)
            .into_iter()
            .filter(|ip| is_ipv6(ip) == v6)
            .collect(),
        conditions: Some(EndpointConditions {
            ready: Some(ready),
            serving: Some(serving),
            terminating: Some(terminating),
        }),
        hints: zone
            .as_ref()
            .filter(|_| prefer_close)
            .map(|z| EndpointHints {
                for_zones: Some(vec![ForZone { name: z.clone() }]),
                for_nodes: None,
            }),
        zone,
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
        deprecated_topology: None,
    }
}

/// Reconciles `svc`'s slices (`existing`: its managed ones not being deleted) with its `pods`.
pub fn reconcile(
    svc: &Service,
    pods: &[Arc<Pod>],
    nodes: &NodeZones,
    existing: &[Arc<EndpointSlice>],
    max: usize,
) -> Outcome {
    let max = max.max(1);
    let types = address_types(svc);
    let mut outcome = Outcome::default();
    let mut unsupported = Plan::default();
    let mut by_type: BTreeMap<&str, Vec<&EndpointSlice>> = BTreeMap::new();
    for s in existing {
        if types.contains(s.address_type.as_str()) {
            by_type.entry(s.address_type.as_str()).or_default().push(s);
        } else {
            unsupported.delete.push(s.as_ref().clone());
        }
    }
    for t in types {
        let slices = by_type.remove(t).unwrap_or_default();
        let plan = reconcile_address_type(svc, pods, nodes, &slices, max, t, &mut outcome.errors);
        outcome.plans.push(plan);
    }
    outcome.plans.push(unsupported);
    outcome
}

fn reconcile_address_type(
    svc: &Service,
    pods: &[Arc<Pod>],
    nodes: &NodeZones,
    existing: &[&EndpointSlice],
    max: usize,
    address_type: &str,
    errors: &mut Vec<String>,
) -> Plan {
    let mut plan = Plan::default();
    let mut existing_by_ports: BTreeMap<PortKey, Vec<&EndpointSlice>> = BTreeMap::new();
    for s in existing {
        if owned_by(s, svc) {
            existing_by_ports
                .entry(port_key(s.ports.as_deref().unwrap_or_default()))
                .or_default()
                .push(s);
        } else {
            plan.delete.push((*s).clone());
        }
    }
    let publish = svc
        .spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false);
    let (ns, name) = (svc.namespace().unwrap_or_default(), svc.name_any());
    // Per port set: its ports and the endpoints that serve them.
    let mut desired: BTreeMap<PortKey, (Vec<EndpointPort>, BTreeMap<EndpointKey, Endpoint>)> =
        BTreeMap::new();
    for pod in pods {
        if !should_be_in_endpoints(pod, true) {
            continue;
        }
        let ports = endpoint_ports(svc, pod);
        let entry = desired
            .entry(port_key(&ports))
            .or_insert_with(|| (ports, BTreeMap::new()));
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default();
        let zone = match nodes.get(&node) {
            Some(zone) => zone.clone(),
            // The pod's node is gone: left out (and retried) unless addresses are published
            // regardless of readiness.
            None if !publish => {
                errors.push(format!(
                    "skipping Pod {} for Service {ns}/{name}: Node {node} Not Found",
                    pod.name_any()
                ));
                continue;
            }
            None => None,
        };
        let endpoint = pod_to_endpoint(svc, pod, zone, address_type);
        if !endpoint.addresses.is_empty() {
            entry.1.insert(endpoint_key(&endpoint), endpoint);
        }
    }
    for (key, (ports, wanted)) in &mut desired {
        let slices = existing_by_ports.get(key).cloned().unwrap_or_default();
        let (create, update, delete) = reconcile_port_set(
            svc,
            &slices,
            std::mem::take(wanted),
            address_type,
            &ports[..],
            max,
        );
        plan.create.extend(create);
        plan.update.extend(update);
        plan.delete.extend(delete);
    }
    for (key, slices) in &existing_by_ports {
        if !desired.contains_key(key) {
            plan.delete.extend(slices.iter().map(|s| (*s).clone()));
        }
    }
    // A Service without endpoints keeps one empty slice (kept as it is if there is one).
    if existing.len() == plan.delete.len() && plan.create.is_empty() {
        let placeholder = new_slice(svc, address_type, &[]);
        let is_placeholder = |s: &EndpointSlice| {
            s.metadata.namespace == placeholder.metadata.namespace
                && s.labels() == placeholder.labels()
                && s.address_type == placeholder.address_type
                && s.endpoints.is_empty()
                && s.ports.as_ref().is_none_or(Vec::is_empty)
        };
        if plan.delete.len() == 1 && is_placeholder(&plan.delete[0]) {
            plan.delete.clear();
        } else {
            plan.create.push(placeholder);
        }
    }
    pair_creates_with_deletes(svc, &mut plan);
    plan
}

/// The slices of one port set (upstream's reconcileByPortMapping): returns what to create,
/// update and delete.
fn reconcile_port_set(
    svc: &Service,
    existing: &[&EndpointSlice],
    mut wanted: BTreeMap<EndpointKey, Endpoint>,
    address_type: &str,
    ports: &[EndpointPort],
    max: usize,
) -> (Vec<EndpointSlice>, Vec<EndpointSlice>, Vec<EndpointSlice>) {
    let labels = slice_labels(svc);
    let mut by_name: BTreeMap<String, EndpointSlice> = BTreeMap::new();
    let mut unchanged: BTreeSet<String> = BTreeSet::new();
    let mut to_update: BTreeSet<String> = BTreeSet::new();
    let mut to_delete: BTreeSet<String> = BTreeSet::new();
    // 1. Keep each slice's endpoints still wanted, at their wanted state.
    for s in existing {
        let name = s.name_any();
        let mut kept = Vec::new();
        let mut changed = false;
        for e in &s.endpoints {
            if let Some(w) = wanted.remove(&endpoint_key(e)) {
                changed |= !same_beyond_key(&w, e);
                kept.push(w);
            }
        }
        let labels_changed = s.labels() != &labels;
        let mut slice = (*s).clone();
        if changed || kept.len() != s.endpoints.len() {
            if kept.is_empty() {
                to_delete.insert(name.clone());
            } else {
                slice.endpoints = kept;
                slice.metadata.labels = Some(labels.clone());
                to_update.insert(name.clone());
            }
        } else if labels_changed {
            slice.metadata.labels = Some(labels.clone());
            to_update.insert(name.clone());
        } else {
            unchanged.insert(name.clone());
        }
        by_name.insert(name, slice);
    }
    // 2. New endpoints fill the slices being updated anyway, fullest first.
    if !wanted.is_empty() && !to_update.is_empty() {
        let mut names: Vec<&String> = to_update.iter().collect();
        names.sort_by_key(|n| std::cmp::Reverse(by_name.get(*n).map_or(0, |s| s.endpoints.len())));
        for n in names {
            let Some(slice) = by_name.get_mut(n) else {
                continue;
            };
            while slice.endpoints.len() < max {
                let Some((_, e)) = wanted.pop_first() else {
                    break;
                };
                slice.endpoints.push(e);
            }
        }
    }
    // 3. Then an unchanged slice with room for all that is left, or new slices.
    let mut create = Vec::new();
    while !wanted.is_empty() {
        let fill = if wanted.len() < max {
            unchanged
                .iter()
                .filter_map(|n| by_name.get(n))
                .filter(|s| s.endpoints.len() + wanted.len() <= max)
                .min_by_key(|s| max - (s.endpoints.len() + wanted.len()))
                .map(|s| s.name_any())
        } else {
            None
        };
        let mut slice = match fill.as_ref().and_then(|n| by_name.remove(n)) {
            Some(s) => s,
            None => new_slice(svc, address_type, ports),
        };
        while slice.endpoints.len() < max {
            let Some((_, e)) = wanted.pop_first() else {
                break;
            };
            slice.endpoints.push(e);
        }
        match fill {
            Some(n) => {
                unchanged.remove(&n);
                to_update.insert(n.clone());
                by_name.insert(n, slice);
            }
            None => create.push(slice),
        }
    }
    let pick = |names: &BTreeSet<String>| -> Vec<EndpointSlice> {
        names
            .iter()
            .filter_map(|n| by_name.get(n).cloned())
            .collect()
    };
    (create, pick(&to_update), pick(&to_delete))
}

/// Rather than create one slice and delete another, reuse the one to delete (of the same
/// address type and owned by this Service) under its name (upstream's finalize).
fn pair_creates_with_deletes(svc: &Service, plan: &mut Plan) {
    let mut i = 0;
    while i < plan.delete.len() {
        let Some(last) = plan.create.last() else {
            break;
        };
        let old = &plan.delete[i];
        if old.address_type == last.address_type && owned_by(old, svc) {
            let old = plan.delete.remove(i);
            if let Some(mut slice) = plan.create.pop() {
                slice.metadata.name = old.metadata.name;
                plan.update.push(slice);
            }
        } else {
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn svc(spec: serde_json::Value) -> Service {
        serde_json::from_value(
            json!({"metadata": {"name": "s", "namespace": "d", "uid": "svc-uid",
            "labels": {"app": "a"}}, "spec": spec}),
        )
        .unwrap()
    }

    fn pod(name: &str, ip: &str, ready: bool, terminating: bool) -> Arc<Pod> {
        let mut meta = json!({"name": name, "namespace": "d", "uid": format!("uid-{name}")});
        if terminating {
            meta["deletionTimestamp"] = json!("2025-01-01T00:00:00Z");
        }
        Arc::new(
            serde_json::from_value(json!({"metadata": meta,
                "spec": {"nodeName": "n1", "containers": [{"name": "c"}]},
                "status": {"phase": "Running", "podIPs": [{"ip": ip}], "conditions": [
                    {"type": "Ready", "status": if ready {"True"} else {"False"}}]}}))
            .unwrap(),
        )
    }

    fn nodes() -> NodeZones {
        HashMap::from([("n1".to_string(), Some("z1".to_string()))])
    }

    fn web() -> Service {
        svc(
            json!({"selector": {"app": "a"}, "clusterIP": "10.96.0.1", "ipFamilies": ["IPv4"],
            "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}),
        )
    }

    /// Carries out a plan as the API would: created slices get names and uids.
    fn apply(existing: &mut Vec<Arc<EndpointSlice>>, outcome: Outcome) {
        for plan in outcome.plans {
            let gone: BTreeSet<String> = plan.delete.iter().map(|s| s.name_any()).collect();
            existing.retain(|s| !gone.contains(&s.name_any()));
            for u in plan.update {
                existing.retain(|s| s.name_any() != u.name_any());
                existing.push(Arc::new(u));
            }
            for mut c in plan.create {
                let n = existing.len();
                c.metadata.name = Some(format!("s-{n}-{}", c.endpoints.len()));
                existing.push(Arc::new(c));
            }
        }
    }

    #[test]
    fn conditions_follow_readiness_and_termination() {
        let pods = [
            pod("ready", "10.0.0.1", true, false),
            pod("unready", "10.0.0.2", false, false),
            pod("going", "10.0.0.3", true, true),
        ];
        let out = reconcile(&web(), &pods, &nodes(), &[], 100);
        let slice = &out.plans[0].create[0];
        let cond = |n: &str| {
            let e = slice
                .endpoints
                .iter()
                .find(|e| e.target_ref.as_ref().unwrap().name.as_deref() == Some(n))
                .unwrap();
            let c = e.conditions.clone().unwrap();
            (c.ready.unwrap(), c.serving.unwrap(), c.terminating.unwrap())
        };
        assert_eq!(cond("ready"), (true, true, false));
        assert_eq!(cond("unready"), (false, false, false));
        assert_eq!(cond("going"), (false, true, true));
        assert_eq!(slice.endpoints[0].zone.as_deref(), Some("z1"));
        assert_eq!(slice.labels()[SERVICE_NAME_LABEL], "s");
        assert_eq!(slice.labels()[MANAGED_BY_LABEL], CONTROLLER_NAME);
        assert_eq!(slice.labels()["app"], "a");
        assert_eq!(slice.ports.as_ref().unwrap()[0].port, Some(8080));
        assert!(out.errors.is_empty());
    }

    #[test]
    fn endpoints_split_at_the_maximum_and_slices_are_kept_in_place() {
        let mut pods: Vec<Arc<Pod>> = (1..=5)
            .map(|i| pod(&format!("p{i}"), &format!("10.0.0.{i}"), true, false))
            .collect();
        let mut slices = Vec::new();
        let out = reconcile(&web(), &pods, &nodes(), &slices, 2);
        apply(&mut slices, out);
        let mut sizes: Vec<usize> = slices.iter().map(|s| s.endpoints.len()).collect();
        sizes.sort();
        assert_eq!(sizes, [1, 2, 2]);
        // Settled: nothing more to do.
        let again = reconcile(&web(), &pods, &nodes(), &slices, 2);
        assert!(again
            .plans
            .iter()
            .all(|p| p.create.is_empty() && p.update.is_empty() && p.delete.is_empty()));
        // One pod goes: only its slice changes.
        let names: BTreeSet<String> = slices.iter().map(|s| s.name_any()).collect();
        pods.remove(0);
        let out = reconcile(&web(), &pods, &nodes(), &slices, 2);
        let touched: usize = out
            .plans
            .iter()
            .map(|p| p.create.len() + p.update.len() + p.delete.len())
            .sum();
        assert_eq!(touched, 1);
        apply(&mut slices, out);
        assert!(slices.iter().all(|s| names.contains(&s.name_any())));
        assert_eq!(slices.iter().map(|s| s.endpoints.len()).sum::<usize>(), 4);
    }

    #[test]
    fn a_service_without_endpoints_keeps_one_placeholder() {
        let mut slices = Vec::new();
        let out = reconcile(&web(), &[], &nodes(), &slices, 100);
        apply(&mut slices, out);
        assert_eq!(slices.len(), 1);
        assert!(slices[0].endpoints.is_empty() && slices[0].ports.is_none());
        let again = reconcile(&web(), &[], &nodes(), &slices, 100);
        assert!(again
            .plans
            .iter()
            .all(|p| p.create.is_empty() && p.update.is_empty() && p.delete.is_empty()));
        // The first pod reuses the placeholder under its name.
        let out = reconcile(
            &web(),
            &[pod("p", "10.0.0.1", true, false)],
            &nodes(),
            &slices,
            100,
        );
        assert_eq!(out.plans[0].update.len(), 1);
        assert_eq!(out.plans[0].update[0].name_any(), slices[0].name_any());
    }

    #[test]
    fn a_pod_on_a_missing_node_is_left_out_and_reported() {
        let out = reconcile(
            &web(),
            &[pod("p", "10.0.0.1", true, false)],
            &HashMap::new(),
            &[],
            100,
        );
        assert_eq!(
            out.errors,
            ["skipping Pod p for Service d/s: Node n1 Not Found"]
        );
        assert!(out.plans[0].create[0].endpoints.is_empty());
    }

    #[test]
    fn a_headless_service_without_families_gets_both_address_types() {
        let s = svc(json!({"selector": {}, "clusterIP": "None"}));
        assert_eq!(
            address_types(&s).into_iter().collect::<Vec<_>>(),
            ["IPv4", "IPv6"]
        );
        assert_eq!(slice_labels(&s)[HEADLESS_LABEL], "");
    }
}
