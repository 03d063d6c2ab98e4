//! Which log files hold each container's output, as the pod workers keep it: the agent's
//! HTTPS server reads it to answer `containerLogs` requests.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

/// One container's logs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContainerLogs {
    /// The number of its current (or last) instance's log file; `None` before any started.
    pub attempt: Option<i32>,
    pub running: bool,
    /// Why it is not running, when it never started (`ContainerCreating`, `ErrImagePull` …).
    pub waiting: Option<String>,
}

/// One pod's logs.
#[derive(Clone, Debug, Default)]
pub struct PodLogs {
    pub dir: PathBuf,
    pub containers: HashMap<String, ContainerLogs>,
}

impl PodLogs {
    /// The log file of `container`'s current instance, or the one before it.
    pub fn file(&self, container: &str, previous: bool) -> Option<PathBuf> {
        let attempt = self.containers.get(container)?.attempt?;
        let n = if previous { attempt - 1 } else { attempt };
        (n >= 0).then(|| self.dir.join(container).join(format!("{n}.log")))
    }
}

/// The pods of one node, by namespace and name.
#[derive(Default)]
pub struct LogIndex {
    pods: Mutex<HashMap<(String, String), PodLogs>>,
}

impl LogIndex {
    pub fn set(&self, namespace: &str, name: &str, logs: PodLogs) {
        self.pods
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((namespace.to_string(), name.to_string()), logs);
    }

    pub fn remove(&self, namespace: &str, name: &str) {
        self.pods
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(namespace.to_string(), name.to_string()));
    }

    pub fn get(&self, namespace: &str, name: &str) -> Option<PodLogs> {
        self.pods
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(namespace.to_string(), name.to_string()))
            .cloned()
    }
}
