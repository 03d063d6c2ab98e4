//! One pass over a StatefulSet's pods, as upstream's defaultStatefulSetControl: pick the
//! current and update revisions (making the update revision when the template is new, or
//! renumbering an old one it went back to), then, in ordinal order, replace failed pods, create
//! missing ones (claims first), and under OrderedReady stop at the first pod not yet Running,
//! Ready and available; fix the claims of condemned pods for the retention policy and delete the
//! condemned from the highest ordinal; roll the update out from the highest ordinal down to the
//! partition; write the status; trim the history.

use std::collections::HashSet;

use futures_util::future::join_all;
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::core::Selector;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};
use serde_json::json;

use super::identity::{self, pod_revision};
use super::status::{
    is_available, is_created, is_running_and_ready, is_terminating, is_unavailable,
    min_ready_seconds,
};
use super::{retention, revisions, status, StatefulSetController};
use crate::controller_revision;
use crate::ControllerError;

/// The most pods one batch of a Parallel set acts on at once (upstream's MaxBatchSize).
const MAX_BATCH: usize = 500;

/// What a kube error says, as upstream's events print an API error (its message).
fn message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => s.message.clone(),
        other => other.to_string(),
    }
}

fn is_code(e: &kube::Error, code: u16) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == code)
}

fn monotonic(set: &StatefulSet) -> bool {
    set.spec
        .as_ref()
        .and_then(|s| s.pod_management_policy.as_deref())
        != Some("Parallel")
}

impl StatefulSetController {
    /// Reconciles the set's pods (those `sync` claimed); the available replicas counted.
    pub(super) async fn update(
        &self,
        set: &StatefulSet,
        selector: &Selector,
        pods: Vec<Pod>,
    ) -> Result<i32, ControllerError> {
        let mut history =
            controller_revision::owned_or_orphaned(set, selector, self.revisions.store().state());
        controller_revision::sort(&mut history);
        let (current, update, collisions) = self.set_revisions(set, &history).await?;
        let result = self
            .update_pods(set, &current, &update, collisions, pods.clone())
            .await;
        let trimmed = self
            .trim_history(set, &pods, &history, &current, &update)
            .await;
        let status = result?;
        trimmed?;
        Ok(status.available_replicas.unwrap_or(0))
    }

    /// The current and update revisions and the collision count (upstream's
    /// getStatefulSetRevisions); `history` is sorted oldest first.
    async fn set_revisions(
        &self,
        set: &StatefulSet,
        history: &[ControllerRevision],
    ) -> Result<(ControllerRevision, ControllerRevision, i32), ControllerError> {
        let mut collisions = set
            .status
            .as_ref()
            .and_then(|s| s.collision_count)
            .unwrap_or(0);
        let labels = set
            .spec
            .as_ref()
            .and_then(|s| s.template.metadata.as_ref())
            .and_then(|m| m.labels.clone())
            .unwrap_or_default();
        let wanted = controller_revision::new_revision(
            set,
            &labels,
            revisions::data(set),
            revisions::next_number(history),
            Some(collisions),
        );
        let equal: Vec<&ControllerRevision> = history
            .iter()
            .filter(|r| controller_revision::equal(r, &wanted))
            .collect();
        let update = match (equal.last(), history.last()) {
            // The newest revision is the template: nothing changed.
            (Some(e), Some(newest)) if controller_revision::equal(newest, e) => newest.clone(),
            // An older revision is the template again: it becomes the newest.
            (Some(e), _) => controller_revision::renumber(&self.client, e, wanted.revision).await?,
            (None, _) => {
                controller_revision::create(&self.client, set, &wanted, &mut collisions).await?
            }
        };
        let current_name = set
            .status
            .as_ref()
            .and_then(|s| s.current_revision.clone())
            .unwrap_or_default();
        let current = history
            .iter()
            .find(|r| r.name_any() == current_name)
            .cloned()
            .unwrap_or_else(|| update.clone());
        Ok((current, update, collisions))
    }

    /// Creates, replaces, updates and deletes pods, then writes the status (upstream's
    /// updateStatefulSet and updateStatefulSetStatus).
    async fn update_pods(
        &self,
        set: &StatefulSet,
        current: &ControllerRevision,
        update: &ControllerRevision,
        collisions: i32,
        pods: Vec<Pod>,
    ) -> Result<StatefulSetStatus, ControllerError> {
        let current_set = revisions::apply(set, current);
        let update_set = revisions::apply(set, update);
        let (current_name, update_name) = (current.name_any(), update.name_any());
        let min_ready = min_ready_seconds(set);
        let now = Timestamp::now();
        let mut st = StatefulSetStatus {
            observed_generation: set.metadata.generation,
            current_revision: Some(current_name.clone()),
            update_revision: Some(update_name.clone()),
            collision_count: Some(collisions),
            ..StatefulSetStatus::default()
        };
        status::count(&mut st, &pods, min_ready, &current_name, &update_name, now);

        // The wanted ordinals' pods (made up where missing) and the condemned, highest first.
        let start = identity::start_ordinal(set);
        let count = identity::replicas(set);
        let mut replicas: Vec<Option<Pod>> = vec![None; count as usize];
        let mut condemned: Vec<Pod> = Vec::new();
        for pod in pods {
            match identity::ordinal(&pod) {
                Some(o) if identity::in_range(set, o) => replicas[(o - start) as usize] = Some(pod),
                Some(_) => condemned.push(pod),
                None => {}
            }
        }
        let replicas: Vec<Pod> = replicas
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                p.unwrap_or_else(|| {
                    new_versioned_pod(
                        &current_set,
                        &update_set,
                        &current_name,
                        &update_name,
                        start + i as i32,
                    )
                })
            })
            .collect();
        condemned.sort_by_key(|p| std::cmp::Reverse(identity::ordinal(p)));
        let first_unhealthy = replicas
            .iter()
            .chain(condemned.iter().rev())
            .find(|p| is_unavailable(p, min_ready, now))
            .map(|p| p.name_any());

        let result = self
            .manage(
                set,
                &update_set,
                &replicas,
                &condemned,
                first_unhealthy.as_deref(),
                &update_name,
                &mut st,
            )
            .await;
        if !matches!(result, Ok(Step::Counted)) {
            status::count(
                &mut st,
                replicas.iter().chain(condemned.iter()),
                min_ready,
                &current_name,
                &update_name,
                now,
            );
        }
        let written = self.write_status(set, &mut st).await;
        result?;
        written?;
        Ok(st)
    }

    /// The pod work of one pass; `Counted` once the status was recounted and adjusted by the
    /// rolling update.
    #[allow(clippy::too_many_arguments)]
    async fn manage(
        &self,
        set: &StatefulSet,
        update_set: &StatefulSet,
        replicas: &[Pod],
        condemned: &[Pod],
        first_unhealthy: Option<&str>,
        update_name: &str,
        st: &mut StatefulSetStatus,
    ) -> Result<Step, ControllerError> {
        if set.metadata.deletion_timestamp.is_some() {
            return Ok(Step::Stopped);
        }
        let mono = monotonic(set);
        if self
            .for_all(replicas, mono, |p| {
                self.process_replica(set, update_set, mono, p)
            })
            .await?
        {
            return Ok(Step::Stopped);
        }
        if self
            .for_all(condemned, mono, |p| {
                self.fix_condemned_claims(update_set, p)
            })
            .await?
        {
            return Ok(Step::Stopped);
        }
        if self
            .for_all(condemned, mono, |p| {
                self.process_condemned(set, first_unhealthy, mono, p)
            })
            .await?
        {
            return Ok(Step::Stopped);
        }
        let min_ready = min_ready_seconds(set);
        let now = Timestamp::now();
        let current_name = st.current_revision.clone().unwrap_or_default();
        status::count(
            st,
            replicas.iter().chain(condemned.iter()),
            min_ready,
            &current_name,
            update_name,
            now,
        );
        let strategy = set.spec.as_ref().and_then(|s| s.update_strategy.as_ref());
        if strategy.and_then(|u| u.type_.as_deref()) == Some("OnDelete") {
            return Ok(Step::Counted);
        }
        // Delete the highest-ordinal pod not at the update revision, down to the partition,
        // waiting for each replaced pod to be available again (maxUnavailable 1).
        let partition = strategy
            .and_then(|u| u.rolling_update.as_ref())
            .and_then(|r| r.partition)
            .unwrap_or(0)
            .max(0) as usize;
        for target in (partition..replicas.len()).rev() {
            let pod = &replicas[target];
            if pod_revision(pod) != update_name && !is_terminating(pod) {
                self.delete_pod(set, pod).await?;
                st.current_replicas = Some(st.current_replicas.unwrap_or(0) - 1);
                return Ok(Step::Counted);
            }
            if is_unavailable(pod, min_ready, now) {
                return Ok(Step::Counted);
            }
        }
        Ok(Step::Counted)
    }

    /// Runs `f` on each pod: in order, stopping at the first that says stop (OrderedReady), or
    /// in slow-start batches of 1, 2, 4, … (Parallel). Whether the pass stops here.
    async fn for_all<'a, F, Fut>(
        &self,
        pods: &'a [Pod],
        mono: bool,
        f: F,
    ) -> Result<bool, ControllerError>
    where
        F: Fn(&'a Pod) -> Fut,
        Fut: std::future::Future<Output = Result<bool, ControllerError>>,
    {
        if mono {
            for p in pods {
                if f(p).await? {
                    return Ok(true);
                }
            }
            return Ok(false);
        }
        let mut done = 0;
        let mut batch = 1usize.min(pods.len());
        while batch > 0 {
            let results = join_all(pods[done..done + batch].iter().map(&f)).await;
            if let Some(Err(e)) = results.into_iter().find(Result::is_err) {
                return Err(e);
            }
            done += batch;
            batch = (batch * 2).min(pods.len() - done).min(MAX_BATCH);
        }
        Ok(false)
    }

    /// One wanted ordinal (upstream's processReplica); whether the pass stops here.
    async fn process_replica(
        &self,
        set: &StatefulSet,
        update_set: &StatefulSet,
        mono: bool,
        pod: &Pod,
    ) -> Result<bool, ControllerError> {
        // A finished pod (failed, or stopped for good) is replaced under its name.
        if matches!(crate::pod_state::phase(pod), Some("Failed" | "Succeeded")) {
            if !is_terminating(pod) {
                self.delete_pod(set, pod).await?;
            }
            return Ok(true);
        }
        if !is_created(pod) {
            if self.claim_is_stale(set, pod) {
                // The earlier pod's claims are on their way out: try again once they are.
                self.queue.add_after(
                    crate::workqueue::key_of(&set.namespace().unwrap_or_default(), &set.name_any()),
                    std::time::Duration::from_secs(1),
                );
                return Ok(true);
            }
            self.create_pod(set, pod).await?;
            if mono {
                return Ok(true);
            }
        }
        if crate::pod_state::phase(pod) == Some("Pending") {
            self.create_claims(set, pod, true).await?;
        }
        let min_ready = min_ready_seconds(set);
        if mono
            && (is_terminating(pod)
                || !is_running_and_ready(pod)
                || !is_available(pod, min_ready, Timestamp::now()))
        {
            return Ok(true);
        }
        let retention_ok = self.claims_match_retention(update_set, pod);
        let mut fixed = pod.clone();
        let changed = identity::conform(update_set, &mut fixed);
        if !changed && retention_ok {
            return Ok(false);
        }
        self.update_pod(update_set, pod, fixed, retention_ok)
            .await?;
        Ok(false)
    }

    /// Fixes a condemned pod's claims' references for the retention policy.
    async fn fix_condemned_claims(
        &self,
        update_set: &StatefulSet,
        pod: &Pod,
    ) -> Result<bool, ControllerError> {
        if !self.claims_match_retention(update_set, pod) {
            self.update_claims_for_retention(update_set, pod).await?;
        }
        Ok(false)
    }

    /// One condemned pod (upstream's processCondemned); whether the pass stops here.
    async fn process_condemned(
        &self,
        set: &StatefulSet,
        first_unhealthy: Option<&str>,
        mono: bool,
        pod: &Pod,
    ) -> Result<bool, ControllerError> {
        if is_terminating(pod) {
            return Ok(mono);
        }
        let first = first_unhealthy == Some(pod.name_any().as_str());
        let min_ready = min_ready_seconds(set);
        if mono
            && !first
            && (!is_running_and_ready(pod) || !is_available(pod, min_ready, Timestamp::now()))
        {
            return Ok(true);
        }
        self.delete_pod(set, pod).await?;
        Ok(true)
    }

    fn claim(&self, ns: &str, name: &str) -> Option<std::sync::Arc<PersistentVolumeClaim>> {
        self.claims.store().get(&ObjectRef::new(name).within(ns))
    }

    /// Whether a claim of the pod about to be made still belongs to an earlier pod.
    fn claim_is_stale(&self, set: &StatefulSet, pod: &Pod) -> bool {
        let (ns, Some(o)) = (set.namespace().unwrap_or_default(), identity::ordinal(pod)) else {
            return false;
        };
        identity::claims_for(set, o).iter().any(|(_, c)| {
            self.claim(&ns, &c.name_any())
                .is_some_and(|found| retention::is_stale(&found, pod))
        })
    }

    /// Whether every existing claim of the pod has the references the policy asks.
    fn claims_match_retention(&self, set: &StatefulSet, pod: &Pod) -> bool {
        let (ns, Some(o)) = (set.namespace().unwrap_or_default(), identity::ordinal(pod)) else {
            return true;
        };
        identity::claims_for(set, o).iter().all(|(_, c)| {
            self.claim(&ns, &c.name_any())
                .is_none_or(|found| retention::up_to_date(&found, set, pod))
        })
    }

    /// Rewrites the ownerReferences of the pod's claims the policy disagrees with.
    async fn update_claims_for_retention(
        &self,
        set: &StatefulSet,
        pod: &Pod,
    ) -> Result<(), ControllerError> {
        let (ns, Some(o)) = (set.namespace().unwrap_or_default(), identity::ordinal(pod)) else {
            return Ok(());
        };
        let api: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), &ns);
        for (_, c) in identity::claims_for(set, o) {
            let Some(found) = self.claim(&ns, &c.name_any()) else {
                continue;
            };
            if retention::up_to_date(&found, set, pod) {
                continue;
            }
            let refs = retention::owner_refs(&found, set, pod);
            // The resourceVersion makes the write conditional on the claim seen.
            let patch = json!({"metadata": {"ownerReferences": refs,
                "resourceVersion": found.resource_version()}});
            match api
                .patch(
                    &found.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(patch),
                )
                .await
            {
                Ok(_) => {}
                Err(e) if is_code(&e, 404) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Creates the pod's missing claims (upstream's createPersistentVolumeClaims); with `quiet`,
    /// a failure is returned without the pod's own FailedCreate event (a pending pod's claims).
    async fn create_claims(
        &self,
        set: &StatefulSet,
        pod: &Pod,
        quiet: bool,
    ) -> Result<(), ControllerError> {
        let (ns, Some(o)) = (set.namespace().unwrap_or_default(), identity::ordinal(pod)) else {
            return Ok(());
        };
        let api: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), &ns);
        let mut errors = Vec::new();
        for (_, mut claim) in identity::claims_for(set, o) {
            let name = claim.name_any();
            match self.claim(&ns, &name) {
                Some(found) => {
                    if found.metadata.deletion_timestamp.is_some() {
                        errors.push(format!("pvc {name} is being deleted"));
                    }
                }
                None => {
                    let refs = retention::owner_refs(&claim, set, pod);
                    claim.metadata.owner_references = (!refs.is_empty()).then_some(refs);
                    match api.create(&PostParams::default(), &claim).await {
                        Ok(_) => {
                            self.events
                                .normal(
                                    set,
                                    "SuccessfulCreate",
                                    format!(
                                        "create Claim {name} Pod {} in StatefulSet {} success",
                                        pod.name_any(),
                                        set.name_any()
                                    ),
                                )
                                .await
                        }
                        // The cache had not seen it yet.
                        Err(e) if is_code(&e, 409) => {}
                        Err(e) => {
                            let msg = message(&e);
                            self.events
                                .warning(
                                    set,
                                    "FailedCreate",
                                    format!(
                                        "create Claim {name} for Pod {} in StatefulSet {} failed error: {msg}",
                                        pod.name_any(),
                                        set.name_any()
                                    ),
                                )
                                .await;
                            errors.push(format!("failed to create PVC {name}: {msg}"));
                        }
                    }
                }
            }
        }
        if errors.is_empty() {
            return Ok(());
        }
        let joined = errors.join(", ");
        if !quiet {
            self.pod_event(set, pod, "create", Some(&joined)).await;
        }
        Err(ControllerError::Conflict(joined))
    }

    /// Creates the pod, its claims first (upstream's CreateStatefulPod).
    async fn create_pod(&self, set: &StatefulSet, pod: &Pod) -> Result<(), ControllerError> {
        self.create_claims(set, pod, false).await?;
        let api: Api<Pod> =
            Api::namespaced(self.client.clone(), &set.namespace().unwrap_or_default());
        match api.create(&PostParams::default(), pod).await {
            Ok(_) => {
                self.pod_event(set, pod, "create", None).await;
                Ok(())
            }
            // Made already (the cache lags): retried once the cache shows it.
            Err(e) if is_code(&e, 409) => Err(e.into()),
            Err(e) => {
                self.pod_event(set, pod, "create", Some(&message(&e))).await;
                Err(e.into())
            }
        }
    }

    /// Writes a pod whose identity, storage or claims' references were off (upstream's
    /// UpdateStatefulPod).
    async fn update_pod(
        &self,
        set: &StatefulSet,
        pod: &Pod,
        fixed: Pod,
        retention_ok: bool,
    ) -> Result<(), ControllerError> {
        if !identity::storage_matches(set, pod) {
            if let Err(e) = self.create_claims(set, &fixed, true).await {
                self.pod_event(set, pod, "update", Some(&e.to_string()))
                    .await;
                return Err(e);
            }
        }
        if !retention_ok {
            if let Err(e) = self.update_claims_for_retention(set, pod).await {
                self.pod_event(set, pod, "update", Some(&e.to_string()))
                    .await;
                return Err(e);
            }
        }
        let api: Api<Pod> =
            Api::namespaced(self.client.clone(), &set.namespace().unwrap_or_default());
        match api
            .replace(&pod.name_any(), &PostParams::default(), &fixed)
            .await
        {
            Ok(_) => {
                self.pod_event(set, pod, "update", None).await;
                Ok(())
            }
            Err(e) => {
                self.pod_event(set, pod, "update", Some(&message(&e))).await;
                Err(e.into())
            }
        }
    }

    /// Deletes the pod (upstream's DeleteStatefulPod); one already gone is no error.
    async fn delete_pod(&self, set: &StatefulSet, pod: &Pod) -> Result<(), ControllerError> {
        let api: Api<Pod> =
            Api::namespaced(self.client.clone(), &set.namespace().unwrap_or_default());
        match api.delete(&pod.name_any(), &DeleteParams::default()).await {
            Ok(_) => {
                self.pod_event(set, pod, "delete", None).await;
                Ok(())
            }
            Err(e) if is_code(&e, 404) => Ok(()),
            Err(e) => {
                self.pod_event(set, pod, "delete", Some(&message(&e))).await;
                Err(e.into())
            }
        }
    }

    /// `Successful<Verb>` / `Failed<Verb>` about a pod of the set, in upstream's words.
    async fn pod_event(&self, set: &StatefulSet, pod: &Pod, verb: &str, error: Option<&str>) {
        let title = {
            let mut c = verb.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        };
        let (pod, name) = (pod.name_any(), set.name_any());
        match error {
            None => {
                self.events
                    .normal(
                        set,
                        &format!("Successful{title}"),
                        format!("{verb} Pod {pod} in StatefulSet {name} successful"),
                    )
                    .await
            }
            Some(err) => {
                self.events
                    .warning(
                        set,
                        &format!("Failed{title}"),
                        format!("{verb} Pod {pod} in StatefulSet {name} failed error: {err}"),
                    )
                    .await
            }
        }
    }

    /// Writes the status if it changed, completing a finished rolling update first.
    async fn write_status(
        &self,
        set: &StatefulSet,
        st: &mut StatefulSetStatus,
    ) -> Result<(), ControllerError> {
        status::complete_rolling_update(set, st);
        if !status::differs(set, st) {
            return Ok(());
        }
        let api: Api<StatefulSet> =
            Api::namespaced(self.client.clone(), &set.namespace().unwrap_or_default());
        crate::status_patch::merge(&api, &set.name_any(), status::patch(st)).await
    }

    /// Deletes the oldest revisions beyond `revisionHistoryLimit` that neither the status nor
    /// any pod uses (upstream's truncateHistory); a negative limit keeps all.
    async fn trim_history(
        &self,
        set: &StatefulSet,
        pods: &[Pod],
        history: &[ControllerRevision],
        current: &ControllerRevision,
        update: &ControllerRevision,
    ) -> Result<(), ControllerError> {
        let limit = set
            .spec
            .as_ref()
            .and_then(|s| s.revision_history_limit)
            .unwrap_or(10);
        let Ok(limit) = usize::try_from(limit) else {
            return Ok(());
        };
        let mut live: HashSet<String> = pods.iter().map(|p| pod_revision(p).to_string()).collect();
        live.insert(current.name_any());
        live.insert(update.name_any());
        controller_revision::trim_history(&self.client, history, &live, limit).await
    }
}

/// How a pass ended.
enum Step {
    /// Stopped early (waiting, or the set is being deleted): the status is recounted.
    Stopped,
    /// Went through: the status was recounted and adjusted for the update's deletion.
    Counted,
}

/// A new pod of `ordinal` at the current revision when the rollout has not reached it (below
/// the partition), at the update revision otherwise (upstream's newVersionedStatefulSetPod,
/// its operator precedence included).
fn new_versioned_pod(
    current_set: &StatefulSet,
    update_set: &StatefulSet,
    current: &str,
    update: &str,
    ordinal: i32,
) -> Pod {
    let strategy = current_set
        .spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref());
    let rolling = strategy
        .and_then(|u| u.type_.as_deref())
        .is_none_or(|t| t == "RollingUpdate");
    let start = identity::start_ordinal(current_set);
    let rolling_update = strategy.and_then(|u| u.rolling_update.as_ref());
    let current_replicas = current_set
        .status
        .as_ref()
        .and_then(|s| s.current_replicas)
        .unwrap_or(0);
    let at_current = (rolling && rolling_update.is_none() && ordinal < start + current_replicas)
        || rolling_update.is_some_and(|r| ordinal < start + r.partition.unwrap_or(0));
    if at_current {
        identity::new_pod(current_set, ordinal, current)
    } else {
        identity::new_pod(update_set, ordinal, update)
    }
}
