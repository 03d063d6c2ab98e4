//! Node health as the node lifecycle controller tracks it: not by trusting the kubelet's clock
//! but by when *this* controller last saw a sign of life — a Ready condition with a new
//! `lastHeartbeatTime`, or the node's Lease with a later `renewTime` — its "probe timestamp".
//! A node whose probe timestamp is older than the grace period gets its Ready, MemoryPressure,
//! DiskPressure and PIDPressure conditions set to Unknown.

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// The conditions set to Unknown when the kubelet goes quiet (NetworkUnavailable is managed by
/// the network, not the kubelet, and is left alone).
const KUBELET_CONDITIONS: [&str; 4] = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

/// The Ready condition as last seen.
#[derive(Clone, Debug, PartialEq)]
pub struct ReadySeen {
    pub status: String,
    heartbeat: Option<Timestamp>,
    transition: Option<Timestamp>,
}

/// What the controller last saw of a node, and when (its local clock).
#[derive(Clone, Debug)]
pub struct Health {
    /// When a sign of life was last seen.
    pub probe: Timestamp,
    /// When the Ready condition was last seen to change.
    pub ready_transition: Timestamp,
    /// The Ready condition of the status last seen, if it had one.
    pub ready: Option<ReadySeen>,
    /// The Lease last seen (its renewTime), if one was.
    lease: Option<Option<Timestamp>>,
}

pub fn condition<'a>(node: &'a Node, kind: &str) -> Option<&'a NodeCondition> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == kind)
}

pub fn ready_seen(node: &Node) -> Option<ReadySeen> {
    condition(node, "Ready").map(|c| ReadySeen {
        status: c.status.clone(),
        heartbeat: c.last_heartbeat_time.as_ref().map(|t| t.0),
        transition: c.last_transition_time.as_ref().map(|t| t.0),
    })
}

fn created(node: &Node) -> Timestamp {
    node.metadata
        .creation_timestamp
        .as_ref()
        .map(|t| t.0)
        .unwrap_or_default()
}

fn fresh(node: &Node, now: Timestamp) -> Health {
    Health {
        probe: now,
        ready_transition: now,
        ready: ready_seen(node),
        lease: None,
    }
}

/// The node's Ready condition as this pass found it: a node that never posted one is taken as
/// Unknown since its creation.
pub fn observed_ready(node: &Node) -> NodeCondition {
    match condition(node, "Ready") {
        Some(c) => c.clone(),
        None => NodeCondition {
            type_: "Ready".into(),
            status: "Unknown".into(),
            last_heartbeat_time: node.metadata.creation_timestamp.clone(),
            last_transition_time: node.metadata.creation_timestamp.clone(),
            ..NodeCondition::default()
        },
    }
}

/// The node's health after seeing `node` and its `lease` at `now`, given what was `saved`
/// (upstream's tryUpdateNodeHealth, up to the grace period check).
pub fn observe(
    saved: Option<Health>,
    node: &Node,
    lease: Option<&Lease>,
    now: Timestamp,
) -> Health {
    let current = ready_seen(node);
    let mut health = saved;
    if current.is_none() {
        // Never posted: it counts as seen at its creation, so it gets the grace period from then.
        match health.as_mut() {
            Some(h) => h.ready = None,
            None => {
                health = Some(Health {
                    probe: created(node),
                    ready_transition: created(node),
                    ready: None,
                    lease: None,
                })
            }
        }
    }
    let saved_lease = health.as_ref().and_then(|h| h.lease);
    let mut health = match health {
        None => fresh(node, now),
        Some(h) => match (&h.ready, &current) {
            (None, Some(_)) | (Some(_), None) => fresh(node, now),
            (Some(saved), Some(cur)) if saved.heartbeat != cur.heartbeat => {
                let ready_transition = if saved.transition != cur.transition {
                    now
                } else {
                    h.ready_transition
                };
                Health {
                    probe: now,
                    ready_transition,
                    ready: current,
                    lease: h.lease,
                }
            }
            _ => h,
        },
    };
    // A renewed Lease is a sign of life whatever the status says.
    if let Some(lease) = lease {
        let renew = lease
            .spec
            .as_ref()
            .and_then(|s| s.renew_time.as_ref())
            .map(|t| t.0);
        let renewed = match saved_lease {
            None => true,
            Some(before) => matches!((before, renew), (Some(b), Some(r)) if b < r),
        };
        if renewed {
            health.lease = Some(renew);
            health.probe = now;
        }
    }
    health
}

/// Whether the node has shown no sign of life for longer than `grace`.
pub fn overdue(health: &Health, now: Timestamp, grace: std::time::Duration) -> bool {
    let grace = SignedDuration::try_from(grace).unwrap_or(SignedDuration::MAX);
    health
        .probe
        .checked_add(grace)
        .is_ok_and(|deadline| now > deadline)
}

/// The node's conditions with the kubelet's set to Unknown: `NodeStatusUnknown` for one it
/// posted, `NodeStatusNeverUpdated` for one it never did.
pub fn unknown_conditions(node: &Node, now: Timestamp) -> Vec<NodeCondition> {
    let mut conditions = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    for kind in KUBELET_CONDITIONS {
        match conditions.iter_mut().find(|c| c.type_ == kind) {
            None => conditions.push(NodeCondition {
                type_: kind.into(),
                status: "Unknown".into(),
                reason: Some("NodeStatusNeverUpdated".into()),
                message: Some("Kubelet never posted node status.".into()),
                last_heartbeat_time: node.metadata.creation_timestamp.clone(),
                last_transition_time: Some(Time(now)),
            }),
            Some(c) if c.status != "Unknown" => {
                c.status = "Unknown".into();
                c.reason = Some("NodeStatusUnknown".into());
                c.message = Some("Kubelet stopped posting node status.".into());
                c.last_transition_time = Some(Time(now));
            }
            Some(_) => {}
        }
    }
    conditions
}

/// The health to keep after the controller itself wrote the node Unknown.
pub fn after_marked_unknown(
    health: &Health,
    node: &Node,
    lease: Option<&Lease>,
    now: Timestamp,
) -> Health {
    Health {
        probe: health.probe,
        ready_transition: now,
        ready: ready_seen(node),
        lease: lease.map(|l| {
            l.spec
                .as_ref()
                .and_then(|s| s.renew_time.as_ref())
                .map(|t| t.0)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + s).unwrap()
    }

    fn node(heartbeat: Option<i64>) -> Node {
        let mut n = json!({"metadata": {"name": "n", "creationTimestamp": at(0).to_string()}});
        if let Some(h) = heartbeat {
            n["status"] = json!({"conditions": [{"type": "Ready", "status": "True",
                "lastHeartbeatTime": at(h).to_string(), "lastTransitionTime": at(0).to_string()}]});
        }
        serde_json::from_value(n).unwrap()
    }

    fn lease(renew: i64) -> Lease {
        serde_json::from_value(json!({"metadata": {"name": "n"},
            "spec": {"renewTime": at(renew).to_string()}}))
        .unwrap()
    }

    const GRACE: Duration = Duration::from_secs(40);

    #[test]
    fn the_probe_time_is_when_a_new_heartbeat_was_seen_not_the_heartbeat_itself() {
        // The kubelet's clock is far behind: what counts is when we saw it change.
        let h = observe(None, &node(Some(-1000)), None, at(100));
        assert_eq!(h.probe, at(100));
        let h = observe(Some(h), &node(Some(-1000)), None, at(130));
        assert_eq!(
            h.probe,
            at(100),
            "an unchanged heartbeat is no sign of life"
        );
        assert!(!overdue(&h, at(130), GRACE));
        assert!(overdue(&h, at(141), GRACE));
        let h = observe(Some(h), &node(Some(-990)), None, at(141));
        assert_eq!(h.probe, at(141));
    }

    #[test]
    fn a_renewed_lease_keeps_a_node_alive_without_status_updates() {
        let n = node(Some(0));
        let h = observe(None, &n, Some(&lease(5)), at(10));
        let h = observe(Some(h), &n, Some(&lease(5)), at(60));
        assert!(
            overdue(&h, at(60), GRACE),
            "the same renewTime is no sign of life"
        );
        let h = observe(Some(h), &n, Some(&lease(6)), at(61));
        assert_eq!(h.probe, at(61));
        assert!(!overdue(&h, at(61), GRACE));
    }

    #[test]
    fn a_node_that_never_posted_counts_from_its_creation() {
        let n = node(None);
        let h = observe(None, &n, None, at(30));
        assert_eq!(h.probe, at(0));
        assert!(overdue(&h, at(41), GRACE));
        let conds = unknown_conditions(&n, at(41));
        assert_eq!(conds.len(), 4);
        assert!(conds.iter().all(|c| c.status == "Unknown"
            && c.reason.as_deref() == Some("NodeStatusNeverUpdated")
            && c.message.as_deref() == Some("Kubelet never posted node status.")));
    }

    #[test]
    fn posted_conditions_become_unknown_with_the_reason_upstream_gives() {
        let conds = unknown_conditions(&node(Some(0)), at(50));
        let ready = conds.iter().find(|c| c.type_ == "Ready").unwrap();
        assert_eq!(ready.status, "Unknown");
        assert_eq!(ready.reason.as_deref(), Some("NodeStatusUnknown"));
        assert_eq!(
            ready.message.as_deref(),
            Some("Kubelet stopped posting node status.")
        );
        assert_eq!(ready.last_transition_time, Some(Time(at(50))));
        assert_eq!(ready.last_heartbeat_time, Some(Time(at(0))));
    }
}
