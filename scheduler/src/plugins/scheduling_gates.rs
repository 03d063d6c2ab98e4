//! SchedulingGates: a pod with `spec.schedulingGates` waits outside the active queue until
//! every gate is removed.

use crate::framework::{Plugin, Points, Status};
use crate::pod_info::PodInfo;

pub const NAME: &str = "SchedulingGates";

pub struct SchedulingGates;

impl Plugin for SchedulingGates {
    fn name(&self) -> &'static str {
        NAME
    }

    fn points(&self) -> Points {
        Points {
            pre_enqueue: true,
            ..Points::default()
        }
    }

    fn pre_enqueue(&self, pod: &PodInfo) -> Result<(), Status> {
        let gates: Vec<&str> = pod
            .spec()
            .and_then(|s| s.scheduling_gates.as_ref())
            .into_iter()
            .flatten()
            .map(|g| g.name.as_str())
            .collect();
        if gates.is_empty() {
            return Ok(());
        }
        Err(Status::unresolvable(
            NAME,
            format!("waiting for scheduling gates: [{}]", gates.join(" ")),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testing::pod;
    use serde_json::json;

    #[test]
    fn scheduling_gates_keep_a_gated_pod_out_of_the_queue() {
        let gated = pod(json!({"spec": {"schedulingGates": [{"name": "a"}, {"name": "b"}]}}));
        let err = SchedulingGates.pre_enqueue(&gated).err();
        assert_eq!(
            err.map(|e| e.message()),
            Some("waiting for scheduling gates: [a b]".to_string())
        );
        assert!(SchedulingGates.pre_enqueue(&pod(json!({}))).is_ok());
    }
}
