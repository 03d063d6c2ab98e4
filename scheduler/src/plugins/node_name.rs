//! NodeName: a pod that names its node (`spec.nodeName`) fits only there.

use crate::framework::{Plugin, PluginState, Points, Status};
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;

pub const NAME: &str = "NodeName";
pub const REASON: &str = "node(s) didn't match the requested node name";

pub struct NodeName;

impl Plugin for NodeName {
    fn name(&self) -> &'static str {
        NAME
    }

    fn points(&self) -> Points {
        Points::FILTER
    }

    fn filter(
        &self,
        _: Option<&dyn PluginState>,
        pod: &PodInfo,
        node: &NodeInfo,
    ) -> Result<(), Status> {
        match pod.node_name() {
            Some(n) if n != node.name => Err(Status::unresolvable(NAME, REASON)),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testing::{node, pod};
    use serde_json::json;

    #[test]
    fn node_name_fits_only_the_named_node() {
        let p = pod(json!({"spec": {"nodeName": "a"}}));
        assert!(NodeName
            .filter(None, &p, &node(json!({"metadata": {"name": "a"}})))
            .is_ok());
        let err = NodeName.filter(None, &p, &node(json!({"metadata": {"name": "b"}})));
        assert_eq!(err.err().map(|e| e.message()), Some(REASON.to_string()));
    }
}
