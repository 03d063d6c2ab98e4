//! What the agent knows of one container of a pod: its state now, the last time it ended,
//! its restarts and back-off — the source of its `containerStatuses` entry.

use std::time::Instant;

use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
    ContainerStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use crate::backoff::Backoff;
use crate::probe::ProbeTrack;
use crate::runtime::Exit;

/// A container's state as the agent tracks it.
#[derive(Clone, Debug, PartialEq)]
pub enum State {
    /// Not started yet, nothing wrong (`ContainerCreating`, or `PodInitializing` while init
    /// containers run).
    Pending,
    /// Not running, for `reason` (CrashLoopBackOff, ErrImagePull, CreateContainerConfigError …).
    Waiting {
        reason: String,
        message: String,
    },
    Running {
        id: String,
        started_at: Timestamp,
    },
    Terminated(ContainerStateTerminated),
}

/// One container of a pod.
#[derive(Clone, Debug)]
pub struct ContainerRecord {
    pub name: String,
    pub image: String,
    /// The image it runs, as `status.imageID` reports it (a repo digest or the image's id);
    /// empty when it runs on the host's filesystem.
    pub image_id: String,
    pub state: State,
    /// The last time it ended (`lastState.terminated`).
    pub last: Option<ContainerStateTerminated>,
    pub restart_count: i32,
    pub backoff: Backoff,
    /// When it last ended or failed to start, for the back-off.
    pub exited_at: Option<Instant>,
    /// The image back-off (`ImagePullBackOff`) and when the image was last found missing.
    pub pull_backoff: Backoff,
    pub pull_failed_at: Option<Instant>,
    /// Readiness as the probes see it (true without a readiness probe once running).
    pub ready: bool,
    /// Whether the startup probe (if any) has passed.
    pub started: bool,
    /// Whether an instance of it was ever started (it has a log file).
    pub ever_started: bool,
    /// The probes of the running instance.
    pub probes: Vec<ProbeTrack>,
    /// The running instance's environment (exec probes run with it).
    pub env: Vec<(String, String)>,
    /// Where the running instance's termination message comes from.
    pub termination_message: Option<crate::termination_message::TerminationMessage>,
}

impl ContainerRecord {
    pub fn new(name: &str, image: &str) -> ContainerRecord {
        ContainerRecord {
            name: name.to_string(),
            image: image.to_string(),
            image_id: String::new(),
            state: State::Pending,
            last: None,
            restart_count: 0,
            backoff: Backoff::default(),
            exited_at: None,
            pull_backoff: Backoff::default(),
            pull_failed_at: None,
            ready: false,
            started: false,
            ever_started: false,
            probes: Vec::new(),
            env: Vec::new(),
            termination_message: None,
        }
    }

    pub fn running_id(&self) -> Option<&str> {
        match &self.state {
            State::Running { id, .. } => Some(id),
            _ => None,
        }
    }

    pub fn terminated(&self) -> Option<&ContainerStateTerminated> {
        match &self.state {
            State::Terminated(t) => Some(t),
            _ => None,
        }
    }

    /// Records that the container `exit` names has ended.
    pub fn exited(&mut self, exit: &Exit) -> bool {
        let State::Running { id, started_at } = &self.state else {
            return false;
        };
        if *id != exit.container_id {
            return false;
        }
        self.state = State::Terminated(ContainerStateTerminated {
            exit_code: exit.code,
            signal: exit.signal,
            reason: Some(exit.reason().to_string()),
            started_at: Some(Time(*started_at)),
            finished_at: Some(Time(exit.finished_at)),
            container_id: Some(id.clone()),
            message: self
                .termination_message
                .as_ref()
                .and_then(|t| t.read(exit.code)),
        });
        self.exited_at = Some(Instant::now());
        self.ready = false;
        self.started = false;
        self.probes.clear();
        true
    }

    /// Its entry of `containerStatuses`; `pending_reason` names the wait of a container not
    /// started yet.
    pub fn status(&self, pending_reason: &str) -> ContainerStatus {
        let waiting = |reason: &str, message: Option<String>| ContainerState {
            waiting: Some(ContainerStateWaiting {
                reason: Some(reason.to_string()),
                message,
            }),
            ..ContainerState::default()
        };
        let (state, container_id) = match &self.state {
            State::Pending => (waiting(pending_reason, None), None),
            State::Waiting { reason, message } => (
                waiting(reason, Some(message.clone()).filter(|m| !m.is_empty())),
                None,
            ),
            State::Running { id, started_at } => (
                ContainerState {
                    running: Some(ContainerStateRunning {
                        started_at: Some(Time(*started_at)),
                    }),
                    ..ContainerState::default()
                },
                Some(id.clone()),
            ),
            State::Terminated(t) => (
                ContainerState {
                    terminated: Some(t.clone()),
                    ..ContainerState::default()
                },
                t.container_id.clone(),
            ),
        };
        let running = matches!(self.state, State::Running { .. });
        ContainerStatus {
            name: self.name.clone(),
            image: self.image.clone(),
            image_id: self.image_id.clone(),
            container_id: container_id
                .or_else(|| self.last.as_ref().and_then(|l| l.container_id.clone())),
            ready: running && self.ready,
            started: Some(running && self.started),
            restart_count: self.restart_count,
            state: Some(state),
            last_state: Some(ContainerState {
                terminated: self.last.clone(),
                ..ContainerState::default()
            }),
            ..ContainerStatus::default()
        }
    }
}
