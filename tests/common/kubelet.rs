//! A stand-in for the kubelet in controller tests, as kwok plays one: pods the test lets run
//! are marked Running and Ready (the controllers must not care who runs them); the others stay
//! Pending. Also a watch of pods that keeps the extremes a rollout went through.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, Patch, PatchParams};
use kube::runtime::watcher;
use kube::{Api, ResourceExt};
use serde_json::json;

pub fn is_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Marks pods ready while it lives.
pub struct FakeKubelet(tokio::task::JoinHandle<()>);

impl Drop for FakeKubelet {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl FakeKubelet {
    /// Every pod `runs` accepts becomes Running and Ready soon after it is made.
    pub fn start(
        client: kube::Client,
        runs: impl Fn(&Pod) -> bool + Send + Sync + 'static,
    ) -> FakeKubelet {
        Self::phases(client, move |p| runs(p).then_some("Running"))
    }

    /// Every pending pod goes to the phase `phase` names for it (Running is also Ready;
    /// Succeeded and Failed are finished); `None` leaves it Pending.
    pub fn phases(
        client: kube::Client,
        phase: impl Fn(&Pod) -> Option<&'static str> + Send + Sync + 'static,
    ) -> FakeKubelet {
        Self::statuses(client, move |p| {
            let to = phase(p)?;
            let now = k8s_openapi::jiff::Timestamp::now().to_string();
            let ready = if to == "Running" { "True" } else { "False" };
            Some(json!({"phase": to, "conditions": [
                {"type": "Ready", "status": ready, "lastTransitionTime": now}]}))
        })
    }

    /// Every pending pod (not being deleted) gets the status `status` gives it (merged);
    /// `None` leaves it Pending.
    pub fn statuses(
        client: kube::Client,
        status: impl Fn(&Pod) -> Option<serde_json::Value> + Send + Sync + 'static,
    ) -> FakeKubelet {
        FakeKubelet(tokio::spawn(async move {
            let api: Api<Pod> = Api::all(client.clone());
            loop {
                if let Ok(pods) = api.list(&ListParams::default()).await {
                    for p in pods.items {
                        let pending = p
                            .status
                            .as_ref()
                            .and_then(|s| s.phase.as_deref())
                            .is_none_or(|ph| ph == "Pending");
                        if !pending || p.metadata.deletion_timestamp.is_some() {
                            continue;
                        }
                        let Some(to) = status(&p) else { continue };
                        let ns: Api<Pod> =
                            Api::namespaced(client.clone(), &p.namespace().unwrap_or_default());
                        let _ = ns
                            .patch_status(
                                &p.name_any(),
                                &PatchParams::default(),
                                &Patch::Merge(json!({ "status": to })),
                            )
                            .await;
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }))
    }
}

/// What a pod watch has seen: the pods now (name → pod) and the most that existed at once.
#[derive(Default)]
pub struct Seen {
    pub pods: HashMap<String, Pod>,
    pub max_pods: usize,
    /// The fewest ready pods at once since [`PodWatch::arm`].
    pub min_ready: Option<usize>,
    /// Every moment (event) at which `both` held, counted.
    pub violations: Vec<String>,
}

/// A watch of the pods a label selector picks, checking each state it passes through.
pub struct PodWatch {
    pub seen: Arc<Mutex<Seen>>,
    armed: Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for PodWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl PodWatch {
    /// Watches `labels` in `ns`; `bad` names a state that must never be seen (checked after
    /// every event once armed).
    pub fn start(
        client: kube::Client,
        ns: &str,
        labels: &str,
        bad: impl Fn(&HashMap<String, Pod>) -> Option<String> + Send + 'static,
    ) -> PodWatch {
        let api: Api<Pod> = Api::namespaced(client, ns);
        let seen = Arc::new(Mutex::new(Seen::default()));
        let armed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (s, a) = (seen.clone(), armed.clone());
        let cfg = watcher::Config::default().labels(labels);
        let task = tokio::spawn(async move {
            let mut stream = std::pin::pin!(watcher(api, cfg));
            while let Some(ev) = stream.next().await {
                let Ok(ev) = ev else { continue };
                let mut seen = s.lock().unwrap();
                match ev {
                    watcher::Event::Apply(p) | watcher::Event::InitApply(p) => {
                        seen.pods.insert(p.name_any(), p);
                    }
                    watcher::Event::Delete(p) => {
                        seen.pods.remove(&p.name_any());
                    }
                    _ => continue,
                }
                if !a.load(std::sync::atomic::Ordering::SeqCst) {
                    continue;
                }
                let live = seen
                    .pods
                    .values()
                    .filter(|p| p.metadata.deletion_timestamp.is_none());
                let (count, ready) =
                    live.fold((0, 0), |(c, r), p| (c + 1, r + usize::from(is_ready(p))));
                seen.max_pods = seen.max_pods.max(count);
                seen.min_ready = Some(seen.min_ready.map_or(ready, |m| m.min(ready)));
                if let Some(v) = bad(&seen.pods) {
                    seen.violations.push(v);
                }
            }
        });
        PodWatch { seen, armed, task }
    }

    /// From now on every state is checked and counted.
    pub fn arm(&self) {
        self.armed.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}
