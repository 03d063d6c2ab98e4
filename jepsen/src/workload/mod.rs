//! The client workloads of a run: registers, list-append transactions, leases and watchers over
//! the etcd API, or one of the Kubernetes REST workloads (ConfigMaps as registers, informers,
//! a Deployment's rollouts). Every lane is one client doing one operation at a time with no
//! hidden retries.

pub mod append;
pub mod controllers;
pub mod informer;
pub mod kube;
pub mod kube_cas;
pub mod kube_informer;
pub mod kube_run;
pub mod lease;
pub mod register;
pub mod watch;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// When lanes run: a gap between operations (keeps the load at what two cores can check) and a
/// shared stop flag.
#[derive(Clone)]
pub struct Pace {
    stop: Arc<AtomicBool>,
    gap: Duration,
}

impl Pace {
    pub fn new(gap: Duration) -> Pace {
        Pace {
            stop: Arc::new(AtomicBool::new(false)),
            gap,
        }
    }

    /// Waits the gap; false once the run says stop.
    pub async fn go(&self) -> bool {
        if !self.running() {
            return false;
        }
        tokio::time::sleep(self.gap).await;
        self.running()
    }

    pub fn running(&self) -> bool {
        !self.stop.load(Ordering::SeqCst)
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// What a run's clients do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// Registers, list-append, leases and watchers over the etcd API.
    Etcd,
    /// ConfigMaps as registers through the REST API: GET and resourceVersion compare-and-swap.
    KubeCas,
    /// List-then-watch informers against ConfigMap writers.
    KubeInformer,
    /// A Deployment scaled and rolled while the controllers run through the faults.
    Controllers,
}

/// Every workload: name, value, help.
pub const WORKLOADS: &[(&str, Workload, &str)] = &[
    (
        "etcd",
        Workload::Etcd,
        "registers, list-append, leases and watchers over the etcd API",
    ),
    (
        "kube-cas",
        Workload::KubeCas,
        "ConfigMaps as registers via the Kubernetes REST API: GET, PUT with resourceVersion",
    ),
    (
        "kube-informer",
        Workload::KubeInformer,
        "list-then-watch informers on every replica against ConfigMap writers",
    ),
    (
        "controllers",
        Workload::Controllers,
        "a Deployment kept scaling and rolling, a fake kubelet, pod and Deployment informers",
    ),
];

impl Workload {
    pub fn name(self) -> &'static str {
        WORKLOADS
            .iter()
            .find(|(_, w, _)| *w == self)
            .map_or("etcd", |(n, _, _)| n)
    }

    pub fn parse(name: &str) -> Option<Workload> {
        WORKLOADS
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, w, _)| *w)
    }

    /// Whether it runs over the Kubernetes REST API.
    pub fn is_kube(self) -> bool {
        self != Workload::Etcd
    }
}
