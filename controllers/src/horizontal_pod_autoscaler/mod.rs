//! The horizontalpodautoscaling controller (kube-controller-manager's
//! `horizontalpodautoscaling`, autoscaling/v2): every `--horizontal-pod-autoscaler-sync-period`
//! each HorizontalPodAutoscaler reads its target's `/scale` (any kind discovery maps its
//! `scaleTargetRef` to: Deployments, ReplicaSets, StatefulSets, ReplicationControllers), holds
//! the target within [minReplicas, maxReplicas] (the `SuccessfulRescale` event, "New size: N;
//! reason: Current number of replicas below Spec.MinReplicas"), leaves a target scaled to zero
//! alone (`ScalingActive` False `ScalingDisabled`), and otherwise computes a replica count per
//! metric through [`metrics`] — which, with no metrics API served, fails as upstream's does
//! (`ScalingActive` False `FailedGetResourceMetric`, the `FailedComputeMetricsReplicas`
//! event). It reports `AbleToScale`, `ScalingActive`, `ScalingLimited`, currentReplicas,
//! desiredReplicas, currentMetrics and lastScaleTime, writing the status only when it changed.

pub mod conditions;
pub mod metrics;
pub mod replica_calculator;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use k8s_openapi::api::autoscaling::v1::Scale;
use k8s_openapi::api::autoscaling::v2::{
    HorizontalPodAutoscaler, HorizontalPodAutoscalerStatus, MetricStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{ApiResource, DynamicObject, PostParams};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Client, ResourceExt};
use tokio_util::sync::CancellationToken;

use crate::events::Recorder;
use crate::informers::{Change, Informer, Informers};
use crate::workqueue::{key_of, run_workers, WorkQueue};
use crate::{ControllerError, ManagerConfig};

use metrics::MetricsClient;

/// `--concurrent-horizontal-pod-autoscaler-syncs`.
const WORKERS: usize = 5;
/// `--horizontal-pod-autoscaler-downscale-stabilization`.
const DOWNSCALE_STABILIZATION: Duration = Duration::from_secs(300);

const COMPONENT: &str = "horizontal-pod-autoscaler";

struct Autoscaler {
    client: Client,
    hpas: Arc<Informer<HorizontalPodAutoscaler>>,
    queue: Arc<WorkQueue<String>>,
    period: Duration,
    /// Keys waiting out their period: another request for one is dropped, as upstream's
    /// fixed-interval rate limiter drops it.
    scheduled: Mutex<HashSet<String>>,
    /// Each HPA's recent recommendations, for the scale-down stabilization window.
    recommendations: Mutex<HashMap<String, Vec<(Instant, i32)>>>,
    /// Scale target kinds already mapped to resources, by (apiVersion, kind).
    mappings: Mutex<HashMap<(String, String), ApiResource>>,
    metrics: MetricsClient,
    events: Recorder,
}

/// Registers the controller's handlers; the returned future runs its workers until `ended`.
pub fn register(
    client: Client,
    informers: &Informers,
    config: &ManagerConfig,
    ended: CancellationToken,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let hpas = informers.get::<HorizontalPodAutoscaler>();
    let queue: Arc<WorkQueue<String>> = WorkQueue::new(ended);
    let ctl = Arc::new(Autoscaler {
        events: Recorder::new(client.clone(), COMPONENT),
        metrics: MetricsClient::new(client.clone()),
        client,
        hpas: hpas.clone(),
        queue,
        period: config.hpa_sync_period,
        scheduled: Mutex::default(),
        recommendations: Mutex::default(),
        mappings: Mutex::default(),
    });
    let weak = Arc::downgrade(&ctl);
    hpas.on_change(move |c| {
        let Some(ctl) = weak.upgrade() else {
            return;
        };
        match c {
            Change::Applied(h) => {
                ctl.schedule(key_of(&h.namespace().unwrap_or_default(), &h.name_any()))
            }
            Change::Deleted(h) => {
                let k = key_of(&h.namespace().unwrap_or_default(), &h.name_any());
                ctl.lock_recommendations().remove(&k);
            }
        }
    });
    async move {
        ctl.hpas.synced().await;
        let queue = ctl.queue.clone();
        run_workers(
            queue,
            WORKERS,
            "horizontalpodautoscaling",
            move |key: String| {
                let ctl = ctl.clone();
                async move {
                    let live = ctl.reconcile_key(&key).await;
                    if live {
                        ctl.schedule(key);
                    }
                    Ok::<(), ControllerError>(())
                }
            },
        )
        .await;
    }
}

/// Go's ParseGroupVersion: `""`, `v1` or `group/version`.
fn parse_group_version(api_version: &str) -> Result<(&str, &str), String> {
    match api_version.split('/').collect::<Vec<_>>().as_slice() {
        [""] => Ok(("", "")),
        [v] => Ok(("", v)),
        [g, v] => Ok((g, v)),
        _ => Err(format!("unexpected GroupVersion string: {api_version}")),
    }
}

fn api_message(e: kube::Error) -> String {
    match e {
        kube::Error::Api(s) => s.message,
        e => e.to_string(),
    }
}

impl Autoscaler {
    fn lock_recommendations(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, Vec<(Instant, i32)>>> {
        self.recommendations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `key` one period from now unless it already waits.
    fn schedule(self: &Arc<Self>, key: String) {
        if !self
            .scheduled
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.clone())
        {
            return;
        }
        let me = Arc::downgrade(self);
        let period = self.period;
        tokio::spawn(async move {
            tokio::time::sleep(period).await;
            if let Some(me) = me.upgrade() {
                me.scheduled
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&key);
                me.queue.add(key);
            }
        });
    }

    /// Reconciles one HPA; whether it still exists.
    async fn reconcile_key(&self, key: &str) -> bool {
        let Some((ns, name)) = key.split_once('/') else {
            return false;
        };
        let Some(hpa) = self.hpas.store().get(&ObjectRef::new(name).within(ns)) else {
            self.lock_recommendations().remove(key);
            return false;
        };
        if let Err(e) = self.reconcile(key, &hpa).await {
            tracing::debug!(hpa = key, error = %e, "autoscaler reconcile failed");
        }
        true
    }

    /// The resource the target's kind maps to (upstream's RESTMapper), through discovery.
    async fn resource_for(&self, api_version: &str, kind: &str) -> Result<ApiResource, String> {
        let k = (api_version.to_string(), kind.to_string());
        if let Some(ar) = self
            .mappings
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&k)
        {
            return Ok(ar.clone());
        }
        let (group, _) = parse_group_version(api_version)?;
        let no_match = || format!("no matches for kind {kind:?} in group {group:?}");
        let found = kube::discovery::group(&self.client, group)
            .await
            .map_err(|_| no_match())?;
        let (ar, _) = found.recommended_kind(kind).ok_or_else(no_match)?;
        self.mappings
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(k, ar.clone());
        Ok(ar)
    }

    async fn reconcile(
        &self,
        key: &str,
        shared: &HorizontalPodAutoscaler,
    ) -> Result<(), ControllerError> {
        let hpa = shared.clone();
        let original = hpa.status.clone().unwrap_or_default();
        let mut status = original.clone();
        let ns = hpa.namespace().unwrap_or_default();
        let spec = hpa.spec.clone().unwrap_or_default();
        let target = &spec.scale_target_ref;
        let api_version = target.api_version.clone().unwrap_or_default();
        let scale = match self.resource_for(&api_version, &target.kind).await {
            Ok(ar) => Api::<DynamicObject>::namespaced_with(self.client.clone(), &ns, &ar)
                .get_scale(&target.name)
                .await
                .map(|s| (ar, s))
                .map_err(api_message),
            Err(e) => Err(e),
        };
        let (ar, mut scale) = match scale {
            Ok(found) => found,
            Err(e) => {
                self.events.warning(&hpa, "FailedGetScale", e.clone()).await;
                conditions::set(
                    status.conditions.get_or_insert_with(Vec::new),
                    "AbleToScale",
                    "False",
                    "FailedGetScale",
                    format!("the HPA controller was unable to get the target's current scale: {e}"),
                );
                return self.write_status(&hpa, &original, status).await;
            }
        };
        let mut conds = status.conditions.take().unwrap_or_default();
        let conds = &mut conds;
        conditions::set(
            conds,
            "AbleToScale",
            "True",
            "SucceededGetScale",
            "the HPA controller was able to get the target's current scale".into(),
        );
        let current = scale.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);
        self.lock_recommendations()
            .entry(key.to_string())
            .or_insert_with(|| vec![(Instant::now(), current)]);
        let min = spec.min_replicas.unwrap_or(1);
        let max = spec.max_replicas;
        let mut metric_statuses: Option<Vec<MetricStatus>> = None;
        let mut reason = String::new();
        let (desired, rescale) = if current == 0 && min != 0 {
            conditions::set(
                conds,
                "ScalingActive",
                "False",
                "ScalingDisabled",
                "scaling is disabled since the replica count of the target is zero".into(),
            );
            (0, false)
        } else if current > max {
            reason = "Current number of replicas above Spec.MaxReplicas".into();
            (max, true)
        } else if current < min {
            reason = "Current number of replicas below Spec.MinReplicas".into();
            (min, true)
        } else {
            let selector = scale
                .status
                .as_ref()
                .and_then(|s| s.selector.clone())
                .unwrap_or_default();
            let computed = self
                .replicas_for_metrics(&hpa, &ns, &selector, current, conds)
                .await;
            match computed {
                Err((statuses, error)) => {
                    status.conditions = Some(conds.clone());
                    status.current_replicas = Some(current);
                    status.current_metrics = statuses;
                    self.write_status(&hpa, &original, status).await?;
                    self.events
                        .warning(&hpa, "FailedComputeMetricsReplicas", error)
                        .await;
                    return Ok(());
                }
                Ok((proposal, metric, statuses)) => {
                    metric_statuses = statuses;
                    if proposal > current {
                        reason = format!("{metric} above target");
                    } else if proposal < current {
                        reason = "All metrics below target".into();
                    }
                    let desired = self.normalize(key, conds, current, proposal, min, max);
                    (desired, desired != current)
                }
            }
        };
        let mut desired = desired;
        if rescale {
            if let Some(s) = scale.spec.as_mut() {
                s.replicas = Some(desired);
            } else {
                scale.spec = Some(k8s_openapi::api::autoscaling::v1::ScaleSpec {
                    replicas: Some(desired),
                });
            }
            let api = Api::<DynamicObject>::namespaced_with(self.client.clone(), &ns, &ar);
            if let Err(e) = api
                .replace_scale(
                    &target.name,
                    &PostParams::default(),
                    &scale_for_update(scale),
                )
                .await
            {
                let e = api_message(e);
                self.events
                    .warning(
                        &hpa,
                        "FailedRescale",
                        format!("New size: {desired}; reason: {reason}; error: {e}"),
                    )
                    .await;
                conditions::set(
                    conds,
                    "AbleToScale",
                    "False",
                    "FailedUpdateScale",
                    format!("the HPA controller was unable to update the target scale: {e}"),
                );
                status.conditions = Some(conds.clone());
                status.current_replicas = Some(current);
                status.current_metrics = metric_statuses;
                return self.write_status(&hpa, &original, status).await;
            }
            conditions::set(
                conds,
                "AbleToScale",
                "True",
                "SucceededRescale",
                format!("the HPA controller was able to update the target scale to {desired}"),
            );
            self.events
                .normal(
                    &hpa,
                    "SuccessfulRescale",
                    format!("New size: {desired}; reason: {reason}"),
                )
                .await;
            status.last_scale_time = Some(Time(Timestamp::now()));
        } else {
            desired = current;
        }
        status.current_replicas = Some(current);
        status.desired_replicas = desired;
        status.current_metrics = metric_statuses;
        status.conditions = Some(conds.clone());
        self.write_status(&hpa, &original, status).await
    }

    /// One proposal per metric, the largest winning; all failing (or some failing while the
    /// rest would scale down) is an error, as upstream's computeReplicasForMetrics.
    async fn replicas_for_metrics(
        &self,
        hpa: &HorizontalPodAutoscaler,
        ns: &str,
        selector: &str,
        current: i32,
        conds: &mut Vec<k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerCondition>,
    ) -> Result<(i32, String, Option<Vec<MetricStatus>>), (Option<Vec<MetricStatus>>, String)> {
        if selector.is_empty() {
            self.events
                .warning(hpa, "SelectorRequired", "selector is required".into())
                .await;
            conditions::set(
                conds,
                "ScalingActive",
                "False",
                "InvalidSelector",
                "the HPA target's scale is missing a selector".into(),
            );
            return Err((None, "selector is required".into()));
        }
        let specs = hpa
            .spec
            .as_ref()
            .and_then(|s| s.metrics.clone())
            .unwrap_or_default();
        // A failed metric leaves an empty status in its place, as upstream's does.
        let mut statuses = vec![MetricStatus::default(); specs.len()];
        let (mut replicas, mut metric) = (0, String::new());
        let mut invalid = 0;
        let mut first: Option<metrics::MetricFailure> = None;
        for (i, spec) in specs.iter().enumerate() {
            match self.metrics.propose(ns, selector, spec, current).await {
                Ok(p) => {
                    if let Some(slot) = statuses.get_mut(i) {
                        *slot = p.status;
                    }
                    if replicas == 0 || p.replicas > replicas {
                        replicas = p.replicas;
                        metric = p.metric;
                    }
                }
                Err(f) => {
                    self.events.warning(hpa, f.reason, f.cause.clone()).await;
                    invalid += 1;
                    first.get_or_insert(f);
                }
            }
        }
        let statuses = (!statuses.is_empty()).then_some(statuses);
        let spec_replicas = current;
        if invalid >= specs.len() || (invalid > 0 && replicas < spec_replicas) {
            let Some(f) = first else {
                return Err((statuses, "no metrics to compute replicas from".into()));
            };
            conditions::set(
                conds,
                "ScalingActive",
                "False",
                f.reason,
                format!(
                    "the HPA was unable to compute the replica count: {}",
                    f.cause
                ),
            );
            let error = format!(
                "invalid metrics ({invalid} invalid out of {}), first error is: {}",
                specs.len(),
                f.error
            );
            return Err((statuses, error));
        }
        conditions::set(
            conds,
            "ScalingActive",
            "True",
            "ValidMetricFound",
            format!("the HPA was able to successfully calculate a replica count from {metric}"),
        );
        Ok((replicas, metric, statuses))
    }

    /// Upstream's normalizeDesiredReplicas: the highest recommendation of the stabilization
    /// window, then the min/max and scale-up rules.
    fn normalize(
        &self,
        key: &str,
        conds: &mut Vec<k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerCondition>,
        current: i32,
        proposal: i32,
        min: i32,
        max: i32,
    ) -> i32 {
        let now = Instant::now();
        let stabilized = {
            let mut recs = self.lock_recommendations();
            let list = recs.entry(key.to_string()).or_default();
            list.retain(|(at, _)| now.duration_since(*at) <= DOWNSCALE_STABILIZATION);
            let highest = list.iter().map(|(_, r)| *r).fold(proposal, i32::max);
            list.push((now, proposal));
            highest
        };
        if stabilized != proposal {
            conditions::set(
                conds,
                "AbleToScale",
                "True",
                "ScaleDownStabilized",
                "recent recommendations were higher than current one, applying the highest recent recommendation".into(),
            );
        } else {
            conditions::set(
                conds,
                "AbleToScale",
                "True",
                "ReadyForNewScale",
                "recommended size matches current size".into(),
            );
        }
        let (desired, reason, message) = conditions::limit_desired(current, stabilized, min, max);
        let limited = if desired == stabilized {
            "False"
        } else {
            "True"
        };
        conditions::set(conds, "ScalingLimited", limited, reason, message.into());
        desired
    }

    /// Writes `status` unless it is what the HPA already reports.
    async fn write_status(
        &self,
        hpa: &HorizontalPodAutoscaler,
        original: &HorizontalPodAutoscalerStatus,
        status: HorizontalPodAutoscalerStatus,
    ) -> Result<(), ControllerError> {
        if &status == original {
            return Ok(());
        }
        let mut updated = hpa.clone();
        updated.status = Some(status);
        let api: Api<HorizontalPodAutoscaler> =
            Api::namespaced(self.client.clone(), &hpa.namespace().unwrap_or_default());
        match api
            .replace_status(&hpa.name_any(), &PostParams::default(), &updated)
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// The Scale to PUT: only its spec changes (the status is the server's).
fn scale_for_update(scale: Scale) -> Scale {
    Scale {
        status: None,
        ..scale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_versions_parse_as_go_parses_them() {
        assert_eq!(parse_group_version("apps/v1"), Ok(("apps", "v1")));
        assert_eq!(parse_group_version("v1"), Ok(("", "v1")));
        assert_eq!(parse_group_version(""), Ok(("", "")));
        assert!(parse_group_version("a/b/c").is_err());
    }
}
