//! The client side of a Kubernetes REST run: starts the chosen workload's lanes, informers and
//! fake kubelet, and after healing waits for the rollout (controllers), reads the store's
//! history of the namespace back, lets the informers catch up with it and collects what they
//! saw ([`KubeArtifacts`], the run directory's `kube.json`).

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use super::informer::{informer, InformerEnd, InformerLog};
use super::kube::{read_truth, storage_prefix, KubeClients, KubeLane, TruthLog};
use super::register::Registers;
use super::{controllers, kube_cas, kube_informer, Pace, Workload};
use crate::cluster::Cluster;
use crate::recorder::Recorder;
use crate::JepsenError;

/// How long the harness waits after healing for the Deployment's rollout to complete.
pub const ROLLOUT_DEADLINE: Duration = Duration::from_secs(60);
/// How long informers get to reach the store's last change after healing.
const CATCH_UP: Duration = Duration::from_secs(20);

/// What a Kubernetes REST run recorded besides the operations (`kube.json`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KubeArtifacts {
    pub informers: Vec<InformerLog>,
    /// The store's history of the storage prefixes used; `None` if unreadable.
    pub truth: Option<TruthLog>,
    #[serde(default)]
    pub truth_error: Option<String>,
    /// Seconds the rollout took to complete after healing (controllers); `None` if it did not
    /// within the deadline.
    #[serde(default)]
    pub rollout_s: Option<f64>,
    #[serde(default)]
    pub rollout_deadline_s: u64,
}

/// The storage prefixes (and resources) a workload uses.
pub fn resources(w: Workload) -> Vec<(&'static str, String)> {
    match w {
        Workload::Controllers => vec![
            ("pods", storage_prefix("pods")),
            ("deployments", storage_prefix("deployments")),
        ],
        _ => vec![("configmaps", storage_prefix("configmaps"))],
    }
}

/// A running Kubernetes workload.
pub struct KubeRun {
    workload: Workload,
    kube: Arc<KubeClients>,
    rng: ChaCha8Rng,
    /// The operation lanes (stopped by the run's pace).
    pub lanes: Vec<JoinHandle<()>>,
    informers: Vec<(&'static str, Arc<InformerEnd>, JoinHandle<InformerLog>)>,
    kubelet: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
}

impl KubeRun {
    /// Starts workload `w` against `cluster`.
    pub async fn start(
        w: Workload,
        cluster: &Cluster,
        rec: Arc<Recorder>,
        pace: Pace,
        seed: u64,
        regs: Arc<Registers>,
        values: Arc<AtomicI64>,
    ) -> Result<KubeRun, JepsenError> {
        let kube = KubeClients::new(cluster).await?;
        let lane_rng =
            |k: u64| ChaCha8Rng::seed_from_u64(seed.wrapping_mul(7_000_003).wrapping_add(k));
        let mut run = KubeRun {
            workload: w,
            kube: kube.clone(),
            rng: lane_rng(999),
            lanes: Vec::new(),
            informers: Vec::new(),
            kubelet: None,
        };
        let n = kube.len().max(1);
        match w {
            Workload::KubeCas => {
                for k in 0..n.max(3) {
                    let lane = KubeLane::new(&format!("kube-cas-{k}"), rec.clone());
                    run.lanes.push(tokio::spawn(kube_cas::lane(
                        lane,
                        kube.clone(),
                        regs.clone(),
                        lane_rng(k as u64),
                        pace.clone(),
                    )));
                }
            }
            Workload::KubeInformer => {
                for k in 0..2 {
                    let lane = KubeLane::new(&format!("kube-writer-{k}"), rec.clone());
                    run.lanes.push(tokio::spawn(kube_informer::writer(
                        lane,
                        kube.clone(),
                        values.clone(),
                        lane_rng(k),
                        pace.clone(),
                    )));
                }
                for k in 0..n {
                    run.spawn_informer::<ConfigMap>(
                        format!("informer-{k}"),
                        "configmaps",
                        kube_informer::snap,
                        &rec,
                        lane_rng(100 + k as u64),
                    );
                }
            }
            Workload::Controllers => {
                let mut lane = KubeLane::new("deployment", rec.clone());
                let mut rng = lane_rng(0);
                if !controllers::create(&mut lane, &kube, &mut rng).await {
                    return Err(JepsenError::Unhealthy(
                        "the Deployment could not be created".into(),
                    ));
                }
                run.lanes.push(tokio::spawn(controllers::scaler(
                    lane,
                    kube.clone(),
                    rng,
                    pace.clone(),
                )));
                let stop = Arc::new(AtomicBool::new(false));
                let task = tokio::spawn(controllers::kubelet(
                    kube.clone(),
                    lane_rng(1),
                    stop.clone(),
                ));
                run.kubelet = Some((stop, task));
                run.spawn_informer::<Pod>(
                    "informer-pods".into(),
                    "pods",
                    controllers::pod_snap,
                    &rec,
                    lane_rng(2),
                );
                run.spawn_informer::<Deployment>(
                    "informer-deployments".into(),
                    "deployments",
                    controllers::deployment_snap,
                    &rec,
                    lane_rng(3),
                );
            }
            Workload::Etcd => {}
        }
        Ok(run)
    }

    fn spawn_informer<K>(
        &mut self,
        lane: String,
        resource: &'static str,
        snap: fn(&K) -> super::informer::Snap,
        rec: &Arc<Recorder>,
        rng: ChaCha8Rng,
    ) where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug
            + Send
            + 'static,
    {
        let end = InformerEnd::new();
        let task = tokio::spawn(informer::<K>(
            lane,
            resource,
            self.kube.clone(),
            rec.clone(),
            rng,
            snap,
            end.clone(),
        ));
        self.informers.push((resource, end, task));
    }

    /// After healing (lanes stopped): the rollout, the store's history, the informers' logs.
    pub async fn finish(mut self, cluster: &Mutex<Cluster>) -> KubeArtifacts {
        let mut art = KubeArtifacts {
            rollout_deadline_s: ROLLOUT_DEADLINE.as_secs(),
            ..Default::default()
        };
        if self.workload == Workload::Controllers {
            art.rollout_s = controllers::wait_rollout(&self.kube, &mut self.rng, ROLLOUT_DEADLINE)
                .await
                .map(|d| d.as_secs_f64());
        }
        if let Some((stop, task)) = self.kubelet.take() {
            stop.store(true, Ordering::SeqCst);
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
        let prefixes: Vec<String> = resources(self.workload)
            .into_iter()
            .map(|(_, p)| p)
            .collect();
        for _ in 0..5 {
            let client = {
                let c = cluster.lock().await;
                c.members().first().and_then(|i| c.direct(*i).ok())
            };
            let Some(client) = client else {
                art.truth_error = Some("no replica to read the store from".into());
                break;
            };
            match read_truth(&client, &prefixes).await {
                Ok(t) => {
                    art.truth = Some(t);
                    art.truth_error = None;
                    break;
                }
                Err(e) => art.truth_error = Some(e),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        for (resource, end, _) in &self.informers {
            let target = art
                .truth
                .as_ref()
                .and_then(|t| {
                    let prefix = resources(self.workload)
                        .into_iter()
                        .find(|(r, _)| r == resource)
                        .map(|(_, p)| p)?;
                    t.events(&prefix).map(|e| e.last().map_or(0, |e| e.mod_rev))
                })
                .unwrap_or(i64::MAX);
            end.finish(target, CATCH_UP);
        }
        for (_, _, task) in self.informers {
            if let Ok(Ok(log)) =
                tokio::time::timeout(CATCH_UP + Duration::from_secs(10), task).await
            {
                art.informers.push(log);
            }
        }
        art.informers.sort_by(|a, b| a.lane.cmp(&b.lane));
        art
    }
}
