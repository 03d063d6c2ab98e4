//! The endpointslice controller (kube-controller-manager's `endpointslice`): for every Service
//! with a selector, EndpointSlices (discovery.k8s.io/v1) listing the pods it picks, labelled
//! `kubernetes.io/service-name` and `endpointslice.kubernetes.io/managed-by:
//! endpointslice-controller.k8s.io`, controlled by the Service (so the garbage collector
//! removes them with it), named from `<service>-`, at most `--max-endpoints-per-slice`
//! endpoints each, with the last-change-trigger-time annotation. What goes in them is
//! [`reconciler`]'s; [`tracker`] keeps the controller from acting on a cache older than its
//! own writes and from syncing on them. A failed sync records `FailedToUpdateEndpointSlices`
//! on the Service and is retried. Selector-less and ExternalName Services' slices are the
//! user's. (Topology-aware hints by annotation are not made; `trafficDistribution:
//! PreferClose` hints are.)

pub mod reconciler;
pub mod tracker;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, PostParams};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Client, ResourceExt};
use tokio_util::sync::CancellationToken;

use crate::events::Recorder;
use crate::informers::{Change, Informer, Informers};
use crate::service_pods::trigger_time::{self, TriggerTimeTracker};
use crate::service_pods::{self, managed_selector, PodMemberships, LAST_CHANGE_TRIGGER_TIME};
use crate::workqueue::{key_of, WorkQueue};
use crate::{ControllerError, ManagerConfig};
use reconciler::{NodeZones, Plan, CONTROLLER_NAME, MANAGED_BY_LABEL, ZONE_LABEL};
use tracker::{service_key, SliceTracker, SERVICE_NAME_LABEL};

/// A slice changed by someone else is looked at after this (upstream's
/// endpointSliceChangeMinSyncDelay), so a burst of changes makes one sync.
const SLICE_CHANGE_DELAY: Duration = Duration::from_secs(1);

struct EndpointSliceController {
    client: Client,
    services: Arc<Informer<Service>>,
    pods: Arc<Informer<Pod>>,
    nodes: Arc<Informer<Node>>,
    slices: Arc<Informer<EndpointSlice>>,
    queue: Arc<WorkQueue<String>>,
    tracker: Arc<SliceTracker>,
    triggers: TriggerTimeTracker,
    max_per_slice: usize,
    events: Recorder,
}

fn managed_by_us(slice: &EndpointSlice) -> bool {
    slice.labels().get(MANAGED_BY_LABEL).map(String::as_str) == Some(CONTROLLER_NAME)
}

/// Registers the controller's handlers; its workers run once the informers have synced.
pub fn register(
    client: Client,
    informers: &Informers,
    config: &ManagerConfig,
    ended: CancellationToken,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let workers = config.endpointslice_workers;
    let services = informers.get::<Service>();
    let pods = informers.get::<Pod>();
    let nodes = informers.get::<Node>();
    let slices = informers.get::<EndpointSlice>();
    let queue: Arc<WorkQueue<String>> = WorkQueue::new(ended);
    let tracker = Arc::new(SliceTracker::default());
    let q = queue.clone();
    services.on_change(move |c| {
        let (Change::Applied(s) | Change::Deleted(s)) = c;
        q.add(key_of(&s.namespace().unwrap_or_default(), &s.name_any()));
    });
    let (q, s) = (queue.clone(), services.clone());
    let memberships = PodMemberships::default();
    pods.on_change(move |c| {
        for key in memberships.services_to_sync(c, s.store()) {
            q.add(key);
        }
    });
    // Someone else's change to a slice (or one no longer ours) makes its Service sync.
    let (q, t) = (queue.clone(), tracker.clone());
    slices.on_change(move |c| {
        let resync = match c {
            Change::Applied(s) if managed_by_us(s) => t.should_sync(s),
            Change::Applied(s) => t.has(s),
            Change::Deleted(s) => managed_by_us(s) && t.has(s) && !t.handle_deletion(s),
        };
        let (Change::Applied(s) | Change::Deleted(s)) = c;
        if let Some(key) = service_key(s).filter(|_| resync) {
            q.add_after(key, SLICE_CHANGE_DELAY);
        }
    });
    let ctl = Arc::new(EndpointSliceController {
        events: Recorder::new(client.clone(), "endpoint-slice-controller"),
        client,
        services,
        pods,
        nodes,
        slices,
        queue,
        tracker,
        triggers: TriggerTimeTracker::default(),
        max_per_slice: config.max_endpoints_per_slice,
    });
    async move {
        ctl.services.synced().await;
        ctl.pods.synced().await;
        ctl.nodes.synced().await;
        ctl.slices.synced().await;
        let queue = ctl.queue.clone();
        crate::workqueue::run_workers(queue, workers, "endpointslice", move |key| {
            let ctl = ctl.clone();
            async move { ctl.sync(&key).await }
        })
        .await;
    }
}

impl EndpointSliceController {
    async fn sync(&self, key: &str) -> Result<(), ControllerError> {
        let Some((ns, name)) = key.split_once('/') else {
            return Ok(());
        };
        let Some(svc) = self.services.store().get(&ObjectRef::new(name).within(ns)) else {
            // Its slices go with it (the garbage collector follows their ownerReferences).
            self.triggers.delete_service(ns, name);
            self.tracker.delete_service(key);
            return Ok(());
        };
        if managed_selector(&svc).is_none() {
            return Ok(());
        }
        let pods = service_pods::pods_of(&svc, self.pods.store());
        let mut slices: Vec<Arc<EndpointSlice>> = self
            .slices
            .store()
            .state()
            .into_iter()
            .filter(|s| {
                s.namespace().as_deref() == Some(ns)
                    && s.labels().get(SERVICE_NAME_LABEL).map(String::as_str) == Some(name)
                    && managed_by_us(s)
                    && s.metadata.deletion_timestamp.is_none()
            })
            .collect();
        slices.sort_by_key(|s| s.name_any());
        if self.tracker.stale(key, &slices) {
            return Err(ControllerError::Conflict(
                "EndpointSlice informer cache is out of date".into(),
            ));
        }
        let trigger = self.triggers.compute(&svc, &pods);
        let nodes: NodeZones = self
            .nodes
            .store()
            .state()
            .iter()
            .map(|n| (n.name_any(), n.labels().get(ZONE_LABEL).cloned()))
            .collect();
        let outcome = reconciler::reconcile(&svc, &pods, &nodes, &slices, self.max_per_slice);
        let mut errors = outcome.errors;
        for plan in outcome.plans {
            if let Err(e) = self.carry_out(&svc, plan, trigger).await {
                errors.push(e);
            }
        }
        if errors.is_empty() {
            return Ok(());
        }
        // As upstream's error aggregate reads: one message alone, several in brackets.
        errors.dedup();
        let message = match errors.as_slice() {
            [one] => one.clone(),
            many => format!("[{}]", many.join(", ")),
        };
        self.events
            .warning(
                svc.as_ref(),
                "FailedToUpdateEndpointSlices",
                format!("Error updating Endpoint Slices for Service {ns}/{name}: {message}"),
            )
            .await;
        Err(ControllerError::Conflict(message))
    }

    /// Writes one plan: creates (not for a Service being deleted, which would race the
    /// garbage collector), then updates, then deletes; stops at the first failure.
    async fn carry_out(
        &self,
        svc: &Service,
        plan: Plan,
        trigger: Option<Timestamp>,
    ) -> Result<(), String> {
        let (ns, name) = (svc.namespace().unwrap_or_default(), svc.name_any());
        let api: Api<EndpointSlice> = Api::namespaced(self.client.clone(), &ns);
        let pp = PostParams::default();
        if svc.metadata.deletion_timestamp.is_none() {
            for mut slice in plan.create {
                annotate(&mut slice, trigger);
                match api.create(&pp, &slice).await {
                    Ok(made) => self.tracker.update(&made),
                    // The namespace is going: creates keep failing; nothing more to do.
                    Err(e) if service_pods::namespace_terminating(&e) => return Ok(()),
                    Err(e) => {
                        return Err(format!(
                            "failed to create EndpointSlice for Service {ns}/{name}: {e}"
                        ))
                    }
                }
            }
        }
        for mut slice in plan.update {
            annotate(&mut slice, trigger);
            let slice_name = slice.name_any();
            match api.replace(&slice_name, &pp, &slice).await {
                Ok(done) => self.tracker.update(&done),
                Err(e) => {
                    return Err(format!(
                        "failed to update {slice_name} EndpointSlice for Service {ns}/{name}: {e}"
                    ))
                }
            }
        }
        for slice in plan.delete {
            let slice_name = slice.name_any();
            match api.delete(&slice_name, &DeleteParams::default()).await {
                Ok(_) => self.tracker.expect_deletion(&slice),
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => {
                    return Err(format!(
                        "failed to delete {slice_name} EndpointSlice for Service {ns}/{name}: {e}"
                    ))
                }
            }
        }
        Ok(())
    }
}

/// Sets (or, with no new trigger, clears) the last-change-trigger-time annotation.
fn annotate(slice: &mut EndpointSlice, trigger: Option<Timestamp>) {
    let annotations = slice.metadata.annotations.get_or_insert_with(BTreeMap::new);
    match trigger {
        Some(t) => annotations.insert(LAST_CHANGE_TRIGGER_TIME.into(), trigger_time::format(t)),
        None => annotations.remove(LAST_CHANGE_TRIGGER_TIME),
    };
}
