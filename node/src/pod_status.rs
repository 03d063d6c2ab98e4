//! A pod's phase and the kubelet's conditions, from its containers (upstream's `getPhase`
//! and the status manager's condition generators): PodScheduled (true once on a node),
//! PodReadyToStartContainers, Initialized, ContainersReady and Ready.

use k8s_openapi::api::core::v1::{PodCondition, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use crate::container_record::{ContainerRecord, State};

/// `spec.restartPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestartPolicy {
    Always,
    OnFailure,
    Never,
}

impl RestartPolicy {
    pub fn parse(s: Option<&str>) -> RestartPolicy {
        match s {
            Some("Never") => RestartPolicy::Never,
            Some("OnFailure") => RestartPolicy::OnFailure,
            _ => RestartPolicy::Always,
        }
    }

    /// Whether a container that ended with `code` is started again.
    pub fn restarts(self, code: i32) -> bool {
        match self {
            RestartPolicy::Always => true,
            RestartPolicy::OnFailure => code != 0,
            RestartPolicy::Never => false,
        }
    }
}

/// The phase of a pod whose init containers are all done (`initialized`), from its regular
/// containers (upstream's `getPhase`).
pub fn phase(
    policy: RestartPolicy,
    initialized: bool,
    containers: &[ContainerRecord],
) -> &'static str {
    if !initialized {
        return "Pending";
    }
    let (mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0);
    for c in containers {
        match &c.state {
            State::Running { .. } => running += 1,
            State::Terminated(t) => {
                stopped += 1;
                if t.exit_code == 0 {
                    succeeded += 1;
                }
            }
            State::Waiting { .. } if c.last.is_some() => stopped += 1,
            State::Pending | State::Waiting { .. } => waiting += 1,
        }
    }
    if waiting > 0 {
        return "Pending";
    }
    if running > 0 {
        return "Running";
    }
    if stopped == containers.len() && stopped > 0 {
        return match policy {
            RestartPolicy::Always => "Running",
            RestartPolicy::OnFailure if stopped == succeeded => "Succeeded",
            RestartPolicy::OnFailure => "Running",
            RestartPolicy::Never if stopped == succeeded => "Succeeded",
            RestartPolicy::Never => "Failed",
        };
    }
    "Pending"
}

/// The kubelet's conditions. `prev` lends each its `lastTransitionTime` while its
/// status holds.
pub fn conditions(
    prev: Option<&PodStatus>,
    sandbox_ready: bool,
    init: &[ContainerRecord],
    init_done: bool,
    containers: &[ContainerRecord],
    phase: &str,
    now: Timestamp,
) -> Vec<PodCondition> {
    let make = |kind: &str, ok: bool, reason: Option<&str>, message: Option<String>| {
        let status = if ok { "True" } else { "False" };
        let transition = prev
            .and_then(|p| p.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == kind))
            .filter(|c| c.status == status)
            .and_then(|c| c.last_transition_time.clone())
            .unwrap_or(Time(now));
        PodCondition {
            type_: kind.to_string(),
            status: status.to_string(),
            reason: reason.map(str::to_string),
            message,
            last_transition_time: Some(transition),
            last_probe_time: None,
            observed_generation: None,
        }
    };
    let completed = phase == "Succeeded";
    let incomplete: Vec<&str> = init
        .iter()
        .filter(|c| c.terminated().map(|t| t.exit_code) != Some(0))
        .filter(|c| !(c.running_id().is_some() && c.started))
        .map(|c| c.name.as_str())
        .collect();
    let initialized = if init_done || completed {
        make(
            "Initialized",
            true,
            completed.then_some("PodCompleted"),
            None,
        )
    } else {
        make(
            "Initialized",
            false,
            Some("ContainersNotInitialized"),
            Some(format!(
                "containers with incomplete status: [{}]",
                incomplete.join(" ")
            )),
        )
    };
    let unready: Vec<&str> = containers
        .iter()
        .filter(|c| !(c.running_id().is_some() && c.ready))
        .map(|c| c.name.as_str())
        .collect();
    let ready = |kind: &str| {
        if completed {
            make(kind, false, Some("PodCompleted"), None)
        } else if unready.is_empty() {
            make(kind, true, None, None)
        } else {
            make(
                kind,
                false,
                Some("ContainersNotReady"),
                Some(format!(
                    "containers with unready status: [{}]",
                    unready.join(" ")
                )),
            )
        }
    };
    vec![
        // The kubelet asserts PodScheduled too (a pod created with its nodeName never met
        // the scheduler).
        make("PodScheduled", true, None, None),
        make("PodReadyToStartContainers", sandbox_ready, None, None),
        initialized,
        ready("ContainersReady"),
        ready("Ready"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ContainerStateTerminated;

    fn rec(state: State) -> ContainerRecord {
        let mut r = ContainerRecord::new("c", "i");
        r.state = state;
        r
    }

    fn ended(code: i32) -> State {
        State::Terminated(ContainerStateTerminated {
            exit_code: code,
            ..ContainerStateTerminated::default()
        })
    }

    #[test]
    fn phase_follows_upstream_get_phase() {
        let running = State::Running {
            id: "x".into(),
            started_at: Timestamp::now(),
        };
        use RestartPolicy::*;
        assert_eq!(phase(Always, false, &[rec(running.clone())]), "Pending");
        assert_eq!(phase(Always, true, &[rec(State::Pending)]), "Pending");
        assert_eq!(
            phase(Always, true, &[rec(running.clone()), rec(ended(1))]),
            "Running"
        );
        assert_eq!(
            phase(Never, true, &[rec(ended(0)), rec(ended(0))]),
            "Succeeded"
        );
        assert_eq!(
            phase(Never, true, &[rec(ended(0)), rec(ended(2))]),
            "Failed"
        );
        assert_eq!(phase(OnFailure, true, &[rec(ended(2))]), "Running");
        assert_eq!(phase(OnFailure, true, &[rec(ended(0))]), "Succeeded");
        assert_eq!(phase(Always, true, &[rec(ended(0))]), "Running");
        let mut crashing = rec(State::Waiting {
            reason: "CrashLoopBackOff".into(),
            message: String::new(),
        });
        crashing.last = Some(ContainerStateTerminated::default());
        assert_eq!(phase(Always, true, &[crashing]), "Running");
    }

    #[test]
    fn conditions_name_the_containers_holding_them_back() {
        let mut init = rec(State::Running {
            id: "x".into(),
            started_at: Timestamp::now(),
        });
        init.name = "setup".into();
        let cs = conditions(
            None,
            true,
            &[init],
            false,
            &[rec(State::Pending)],
            "Pending",
            Timestamp::now(),
        );
        let by = |t: &str| cs.iter().find(|c| c.type_ == t).cloned().unwrap();
        assert_eq!(by("PodReadyToStartContainers").status, "True");
        assert_eq!(
            by("Initialized").message.as_deref(),
            Some("containers with incomplete status: [setup]")
        );
        assert_eq!(
            by("Ready").message.as_deref(),
            Some("containers with unready status: [c]")
        );
        assert_eq!(
            by("ContainersReady").reason.as_deref(),
            Some("ContainersNotReady")
        );
    }
}
