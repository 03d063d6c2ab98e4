//! Each pod's containers as the pod workers publish them for the agent's HTTPS endpoint:
//! which log files hold their output (`containerLogs`), and the running instance with its
//! environment that `exec` and `attach` reach, and the sandbox `portForward` dials into.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

/// One container's logs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContainerEntry {
    /// The number of its current (or last) instance's log file; `None` before any started.
    pub attempt: Option<i32>,
    pub running: bool,
    /// Why it is not running, when it never started (`ContainerCreating`, `ErrImagePull` …).
    pub waiting: Option<String>,
    /// The running instance's id, environment and working directory.
    pub running_id: Option<String>,
    pub env: Vec<(String, String)>,
    pub working_dir: Option<std::path::PathBuf>,
}

/// One pod's logs.
#[derive(Clone, Debug, Default)]
pub struct PodEntry {
    pub dir: PathBuf,
    pub sandbox: Option<crate::runtime::Sandbox>,
    pub containers: HashMap<String, ContainerEntry>,
}

impl PodEntry {
    /// The log file of `container`'s current instance, or the one before it.
    pub fn file(&self, container: &str, previous: bool) -> Option<PathBuf> {
        let attempt = self.containers.get(container)?.attempt?;
        let n = if previous { attempt - 1 } else { attempt };
        (n >= 0).then(|| self.dir.join(container).join(format!("{n}.log")))
    }
}

/// The pods of one node, by namespace and name.
#[derive(Default)]
pub struct PodIndex {
    pods: Mutex<HashMap<(String, String), PodEntry>>,
}

impl PodIndex {
    pub fn set(&self, namespace: &str, name: &str, logs: PodEntry) {
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

    /// Every pod, by (namespace, name).
    pub fn all(&self) -> Vec<((String, String), PodEntry)> {
        self.pods
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    pub fn get(&self, namespace: &str, name: &str) -> Option<PodEntry> {
        self.pods
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(namespace.to_string(), name.to_string()))
            .cloned()
    }
}
