//! NodePorts: a pod's host ports must be free on the node (same port and protocol on the same
//! address, `0.0.0.0` counting as every address).

use crate::framework::{Plugin, PluginState, Points, PreFiltered, Status};
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;
use crate::snapshot::Snapshot;

pub const NAME: &str = "NodePorts";
pub const REASON: &str = "node(s) didn't have free ports for the requested pod ports";

pub struct NodePorts;

impl Plugin for NodePorts {
    fn name(&self) -> &'static str {
        NAME
    }

    fn points(&self) -> Points {
        Points::FILTER.with_pre_filter()
    }

    fn pre_filter(&self, pod: &PodInfo, _: &Snapshot) -> Result<PreFiltered, Status> {
        Ok(if pod.host_ports.is_empty() {
            PreFiltered::skip()
        } else {
            PreFiltered::default()
        })
    }

    fn filter(
        &self,
        _: Option<&dyn PluginState>,
        pod: &PodInfo,
        node: &NodeInfo,
    ) -> Result<(), Status> {
        let taken = pod
            .host_ports
            .iter()
            .any(|want| node.used_ports.iter().any(|used| used.conflicts(want)));
        if taken {
            Err(Status::unschedulable(NAME, REASON))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testing::{node, pod};
    use serde_json::json;

    fn with_port(ip: &str, port: i32) -> serde_json::Value {
        json!({"metadata": {"uid": format!("{ip}{port}")}, "spec": {"nodeName": "n", "containers": [
            {"name": "c", "ports": [{"containerPort": 80, "hostPort": port, "hostIP": ip}]}]}})
    }

    #[test]
    fn node_ports_refuse_a_host_port_in_use_on_any_or_the_same_address() {
        let mut n = node(json!({"metadata": {"name": "n"}}));
        n.add_pod(pod(with_port("", 8080)));
        n.add_pod(pod(with_port("10.0.0.1", 9090)));
        let err = NodePorts.filter(None, &pod(with_port("10.0.0.2", 8080)), &n);
        assert_eq!(err.err().map(|e| e.message()), Some(REASON.to_string()));
        assert!(NodePorts
            .filter(None, &pod(with_port("10.0.0.2", 9090)), &n)
            .is_ok());
        assert!(NodePorts
            .filter(None, &pod(with_port("", 9090)), &n)
            .is_err());
        assert!(NodePorts
            .filter(None, &pod(with_port("", 7070)), &n)
            .is_ok());
    }

    #[test]
    fn node_ports_filter_is_skipped_for_a_pod_without_host_ports() {
        let snapshot = Snapshot::default();
        let plain = pod(json!({"metadata": {"uid": "p"}, "spec": {"containers": [{"name": "c"}]}}));
        assert!(NodePorts.pre_filter(&plain, &snapshot).unwrap().skip);
        assert!(
            !NodePorts
                .pre_filter(&pod(with_port("", 8080)), &snapshot)
                .unwrap()
                .skip
        );
    }
}
