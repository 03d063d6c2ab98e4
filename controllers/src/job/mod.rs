//! The job controller (kube-controller-manager's `job`): runs a Job's pods to completion.
//! Pods carry the `batch.kubernetes.io/job-tracking` finalizer; a finished pod is first recorded
//! in `status.uncountedTerminatedPods`, then its finalizer removed, then counted in
//! succeeded/failed, so no pod is counted twice or lost (upstream's tracking with finalizers).
//! NonIndexed and Indexed completion modes (completion index annotation and label, hostname,
//! `JOB_COMPLETION_INDEX`, completedIndexes), parallelism and completions, backoffLimit with
//! exponential back-off (10 s doubling to 6 min), activeDeadlineSeconds, suspend and resume;
//! the conditions as 1.33 writes them (SuccessCriteriaMet then Complete, FailureTarget then
//! Failed, Suspended) and the events (SuccessfulCreate, SuccessfulDelete, Completed,
//! BackoffLimitExceeded, DeadlineExceeded, PodFailurePolicy, Suspended, Resumed);
//! `podFailurePolicy` ([`failure_policy`]), and an Indexed Job's `successPolicy`
//! ([`success_policy`]) and `backoffLimitPerIndex` ([`per_index`]).

mod failure_policy;
mod per_index;
mod success_policy;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus, UncountedTerminatedPods};
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::events::Recorder;
use crate::expectations::Expectations;
use crate::informers::{Change, Informer, Informers};
use crate::owners::{controller_of, controller_ref};
use crate::pod_state::{deletion_rank, is_finished, is_ready, phase};
use crate::workqueue::{key_of, WorkQueue};
use crate::ControllerError;

pub const TRACKING: &str = "batch.kubernetes.io/job-tracking";
pub const INDEX: &str = "batch.kubernetes.io/job-completion-index";
const BACKOFF_BASE: Duration = Duration::from_secs(10);
const BACKOFF_MAX: Duration = Duration::from_secs(360);
const BURST: usize = 500;

/// Failures since the last success, and when the last one was seen (upstream's backoffRecord).
#[derive(Clone, Copy)]
struct Backoff {
    failures: u32,
    last: Instant,
}

/// The event a Job's finishing write records once it lands.
enum Finished {
    Completed,
    /// A failure's reason and message (FailureTarget, then Failed).
    Warning(String, String),
}

struct JobController {
    client: Client,
    jobs: Arc<Informer<Job>>,
    pods: Arc<Informer<Pod>>,
    queue: Arc<WorkQueue<String>>,
    expectations: Arc<Expectations>,
    backoff: Mutex<HashMap<String, Backoff>>,
    events: Recorder,
}

pub fn register(
    client: Client,
    informers: &Informers,
    workers: usize,
    ended: CancellationToken,
) -> impl std::future::Future<Output = ()> + Send {
    let jobs = informers.get::<Job>();
    let pods = informers.get::<Pod>();
    let queue: Arc<WorkQueue<String>> = WorkQueue::new(ended);
    let expectations = Arc::new(Expectations::default());
    let (q, e) = (queue.clone(), expectations.clone());
    jobs.on_change(move |c| {
        let (Change::Applied(j) | Change::Deleted(j)) = c;
        let k = key_of(&j.namespace().unwrap_or_default(), &j.name_any());
        if matches!(c, Change::Deleted(_)) {
            e.forget(&k);
        }
        q.add(k);
    });
    let (q, e, js) = (queue.clone(), expectations.clone(), jobs.clone());
    let seen = Mutex::new(std::collections::HashSet::<String>::new());
    pods.on_change(move |c| {
        let (pod, deleted) = match c {
            Change::Applied(p) => (p, false),
            Change::Deleted(p) => (p, true),
        };
        let Some(owner) = controller_of::<Job>(pod) else {
            return;
        };
        let ns = pod.namespace().unwrap_or_default();
        let job = js.store().get(&ObjectRef::new(&owner.name).within(&ns));
        if job.and_then(|j| j.uid()).as_deref() != Some(owner.uid.as_str()) {
            return;
        }
        let k = key_of(&ns, &owner.name);
        let uid = pod.uid().unwrap_or_default();
        let mut seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
        if deleted {
            if seen.remove(&uid) {
                e.deleted(&k);
            }
        } else if seen.insert(uid) {
            e.created(&k);
        }
        drop(seen);
        q.add(k);
    });
    let ctl = Arc::new(JobController {
        events: Recorder::new(client.clone(), "job-controller"),
        client,
        jobs,
        pods,
        queue,
        expectations,
        backoff: Mutex::new(HashMap::new()),
    });
    async move {
        ctl.jobs.synced().await;
        ctl.pods.synced().await;
        let queue = ctl.queue.clone();
        crate::workqueue::run_workers(queue, workers, "job", move |key| {
            let ctl = ctl.clone();
            async move { ctl.sync(&key).await }
        })
        .await;
    }
}

/// Complete or Failed.
pub fn finished(job: &Job) -> bool {
    job.status.as_ref().is_some_and(|s| {
        true_condition(s, "Complete").is_some() || true_condition(s, "Failed").is_some()
    })
}

fn set_condition(
    status: &mut JobStatus,
    kind: &str,
    on: bool,
    reason: &str,
    message: &str,
) -> bool {
    let now = Time(Timestamp::now());
    let value = if on { "True" } else { "False" };
    let conds = status.conditions.get_or_insert_with(Vec::new);
    if let Some(c) = conds.iter_mut().find(|c| c.type_ == kind) {
        if c.status == value && c.reason.as_deref() == Some(reason) {
            return false;
        }
        if c.status != value {
            c.last_transition_time = Some(now.clone());
        }
        c.status = value.into();
        c.reason = Some(reason.into());
        c.message = Some(message.into());
        c.last_probe_time = Some(now);
        return true;
    }
    conds.push(JobCondition {
        type_: kind.into(),
        status: value.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_probe_time: Some(now.clone()),
        last_transition_time: Some(now),
    });
    true
}

fn index_of(p: &Pod) -> Option<i32> {
    p.annotations().get(INDEX)?.parse().ok()
}

/// "1,3-5": sorted indexes with runs folded (upstream's completedIndexes).
pub fn format_indexes(idx: &BTreeSet<i32>) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut it = idx.iter().peekable();
    while let Some(&start) = it.next() {
        let mut end = start;
        while it.peek() == Some(&&(end + 1)) {
            end += 1;
            it.next();
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
    }
    out.join(",")
}

pub fn parse_indexes(s: &str) -> BTreeSet<i32> {
    let mut out = BTreeSet::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                if let (Ok(a), Ok(b)) = (a.parse::<i32>(), b.parse::<i32>()) {
                    out.extend(a..=b);
                }
            }
            None => out.extend(part.parse::<i32>().ok()),
        }
    }
    out
}

fn has_tracking(p: &Pod) -> bool {
    p.finalizers().iter().any(|f| f == TRACKING)
}

/// Succeeded or failed, for counting: finished, or (a failure) going away before it finished.
/// With a pod failure policy a pod going away has failed only once its phase says so (its exit
/// codes and conditions are what the policy judges), unless the Job is finishing anyway.
fn outcome(p: &Pod, wait_for_phase: bool) -> Option<bool> {
    match phase(p) {
        Some("Succeeded") => Some(true),
        Some("Failed") => Some(false),
        _ if p.metadata.deletion_timestamp.is_some() && !wait_for_phase => Some(false),
        _ => None,
    }
}

/// The reason and message of a condition that is True.
fn true_condition(status: &JobStatus, kind: &str) -> Option<(String, String)> {
    status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == kind && c.status == "True")
        .map(|c| {
            (
                c.reason.clone().unwrap_or_default(),
                c.message.clone().unwrap_or_default(),
            )
        })
}

impl JobController {
    async fn sync(&self, key: &str) -> Result<(), ControllerError> {
        let Some((ns, name)) = key.split_once('/') else {
            return Ok(());
        };
        let Some(job) = self.jobs.store().get(&ObjectRef::new(name).within(ns)) else {
            // The Job's record and those of its indexes (`<key>#<index>`).
            let index_prefix = format!("{key}#");
            self.backoff
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .retain(|k, _| k != key && !k.starts_with(&index_prefix));
            return Ok(());
        };
        let job = (*job).clone();
        let uid = job.uid().unwrap_or_default();
        let pods: Vec<Arc<Pod>> = self
            .pods
            .store()
            .state()
            .into_iter()
            .filter(|p| p.namespace().as_deref() == Some(ns))
            .filter(|p| controller_of::<Job>(p.as_ref()).is_some_and(|o| o.uid == uid))
            .collect();
        let mut status = job.status.clone().unwrap_or_default();
        let before = serde_json::to_value(&status).ok();
        let spec = job.spec.clone().unwrap_or_default();
        let indexed = spec.completion_mode.as_deref() == Some("Indexed");

        // 1. Finished pods still holding the tracking finalizer: recorded as uncounted first.
        let finishing = true_condition(&status, "FailureTarget").is_some()
            || true_condition(&status, "SuccessCriteriaMet").is_some();
        let uncounted = status
            .uncounted_terminated_pods
            .get_or_insert_with(UncountedTerminatedPods::default);
        let mut recorded: BTreeSet<String> = uncounted
            .succeeded
            .iter()
            .flatten()
            .chain(uncounted.failed.iter().flatten())
            .cloned()
            .collect();
        let mut to_release = Vec::new();
        let (mut fresh_ok, mut fresh_failed) = (0u32, 0u32);
        let failure_policy = spec.pod_failure_policy.as_ref();
        let mut fail_job = None;
        let per_index_limit = spec.backoff_limit_per_index.filter(|_| indexed);
        let mut failed_indexes = parse_indexes(status.failed_indexes.as_deref().unwrap_or(""));
        let mut index_failures: Vec<i32> = Vec::new();
        for p in pods.iter().filter(|p| has_tracking(p)) {
            let wait_for_phase = failure_policy.is_some() && !finishing;
            let Some(ok) = outcome(p, wait_for_phase) else {
                continue;
            };
            let puid = p.uid().unwrap_or_default();
            if recorded.contains(&puid) {
                to_release.push(p.clone());
                continue;
            }
            if !ok {
                let verdict = failure_policy::judge(failure_policy, p);
                match &verdict {
                    failure_policy::Verdict::Ignore => {
                        // Not counted anywhere: only the finalizer goes.
                        to_release.push(p.clone());
                        continue;
                    }
                    failure_policy::Verdict::FailJob(message) => {
                        fail_job.get_or_insert(message.clone());
                    }
                    failure_policy::Verdict::Count | failure_policy::Verdict::FailIndex => {}
                }
                if let (Some(limit), Some(i)) = (per_index_limit, index_of(p)) {
                    index_failures.push(i);
                    if per_index::fails_index(&verdict, p, limit) {
                        failed_indexes.insert(i);
                    }
                }
            }
            if recorded.insert(puid.clone()) {
                let list = if ok {
                    &mut uncounted.succeeded
                } else {
                    &mut uncounted.failed
                };
                list.get_or_insert_with(Vec::new).push(puid);
                if ok {
                    fresh_ok += 1;
                } else {
                    fresh_failed += 1;
                }
            }
            to_release.push(p.clone());
        }
        // The back-off counts failures from the moment they are seen (upstream's
        // backoffRecord): a replacement waits even before the failure is counted.
        if fresh_ok > 0 || fresh_failed > 0 {
            let mut b = self.backoff.lock().unwrap_or_else(PoisonError::into_inner);
            let rec = b.entry(key.to_string()).or_insert(Backoff {
                failures: 0,
                last: Instant::now(),
            });
            if fresh_ok > 0 {
                rec.failures = 0;
            }
            if fresh_failed > 0 {
                rec.failures += fresh_failed;
                rec.last = Instant::now();
            }
        }
        if per_index_limit.is_some() {
            status.failed_indexes = Some(format_indexes(&failed_indexes));
            // Each index backs off on its own failures.
            let mut b = self.backoff.lock().unwrap_or_else(PoisonError::into_inner);
            for i in index_failures {
                let rec = b.entry(format!("{key}#{i}")).or_insert(Backoff {
                    failures: 0,
                    last: Instant::now(),
                });
                rec.failures += 1;
                rec.last = Instant::now();
            }
        }
        if let Some(message) = fail_job {
            if true_condition(&status, "FailureTarget").is_none()
                && set_condition(
                    &mut status,
                    "FailureTarget",
                    true,
                    "PodFailurePolicy",
                    &message,
                )
            {
                self.events
                    .warning(&job, "PodFailurePolicy", message.clone())
                    .await;
            }
        }
        if !to_release.is_empty() {
            self.write_status(&job, &status).await?;
            for p in &to_release {
                self.release(p).await?;
            }
        }
        // 2. Uncounted pods whose finalizer is gone (or that are gone) are counted.
        let holding: BTreeSet<String> = pods
            .iter()
            .filter(|p| has_tracking(p))
            .filter_map(|p| p.uid())
            .collect();
        let by_uid: HashMap<String, &Arc<Pod>> =
            pods.iter().filter_map(|p| Some((p.uid()?, p))).collect();
        let mut completed = parse_indexes(status.completed_indexes.as_deref().unwrap_or(""));
        let uncounted = status
            .uncounted_terminated_pods
            .get_or_insert_with(UncountedTerminatedPods::default);
        let (mut new_ok, mut new_failed) = (0, 0);
        if let Some(list) = uncounted.succeeded.as_mut() {
            list.retain(|u| {
                if holding.contains(u) {
                    return true;
                }
                new_ok += 1;
                if let Some(i) = by_uid.get(u).and_then(|p| index_of(p)) {
                    completed.insert(i);
                }
                false
            });
        }
        if let Some(list) = uncounted.failed.as_mut() {
            list.retain(|u| {
                if holding.contains(u) {
                    return true;
                }
                new_failed += 1;
                false
            });
        }
        status.succeeded = Some(status.succeeded.unwrap_or(0) + new_ok);
        status.failed = Some(status.failed.unwrap_or(0) + new_failed);
        if indexed {
            status.completed_indexes = Some(format_indexes(&completed));
        }
        let active: Vec<Arc<Pod>> = pods
            .iter()
            .filter(|p| !is_finished(p) && p.metadata.deletion_timestamp.is_none())
            .cloned()
            .collect();
        status.active = Some(active.len() as i32);
        status.ready = Some(active.iter().filter(|p| is_ready(p)).count() as i32);
        status.terminating = Some(
            pods.iter()
                .filter(|p| p.metadata.deletion_timestamp.is_some() && !is_finished(p))
                .count() as i32,
        );
        let now = Timestamp::now();

        // 3. Finished already: nothing more to run.
        if finished(&job) {
            return self.finish_write(&job, &status, before).await;
        }
        let suspended = spec.suspend == Some(true);
        let succeeded = status.succeeded.unwrap_or(0);
        let failed = status.failed.unwrap_or(0);
        let parallelism = spec.parallelism.unwrap_or(1).max(0);
        let completions = spec.completions;
        // Failure: the back-off limit or the deadline.
        let backoff_limit = spec.backoff_limit.unwrap_or(6);
        let past_deadline = match (spec.active_deadline_seconds, status.start_time.as_ref()) {
            (Some(secs), Some(start)) if !suspended => {
                now.duration_since(start.0).as_secs() >= secs
            }
            _ => false,
        };
        // A failure decided before (a FailJob rule, or an earlier sync) stands.
        let failure = if let Some(target) = true_condition(&status, "FailureTarget") {
            Some(target)
        } else if failed > backoff_limit {
            Some((
                "BackoffLimitExceeded".to_string(),
                "Job has reached the specified backoff limit".to_string(),
            ))
        } else if per_index_limit.is_some()
            && spec
                .max_failed_indexes
                .is_some_and(|max| failed_indexes.len() as i64 > i64::from(max))
        {
            Some((
                "MaxFailedIndexesExceeded".to_string(),
                "Job has exceeded the specified maximal number of failed indexes".to_string(),
            ))
        } else if per_index_limit.is_some()
            && !failed_indexes.is_empty()
            && completed.union(&failed_indexes).count() as i32 >= completions.unwrap_or(0)
        {
            Some((
                "FailedIndexes".to_string(),
                "Job has failed indexes".to_string(),
            ))
        } else if past_deadline {
            Some((
                "DeadlineExceeded".to_string(),
                "Job was active longer than specified deadline".to_string(),
            ))
        } else {
            None
        };
        if let Some((reason, message)) = failure {
            let (reason, message) = (reason.as_str(), message.as_str());
            let first = set_condition(&mut status, "FailureTarget", true, reason, message);
            self.delete_pods(&job, &active).await?;
            // Failed once no pod of it is still running or terminating.
            let running = pods.iter().any(|p| !is_finished(p));
            if !running
                && status.uncounted_terminated_pods.as_ref().is_none_or(|u| {
                    u.succeeded.as_ref().is_none_or(Vec::is_empty)
                        && u.failed.as_ref().is_none_or(Vec::is_empty)
                })
            {
                set_condition(&mut status, "Failed", true, reason, message);
                status.start_time.get_or_insert(Time(now));
            }
            if first {
                let event = Finished::Warning(reason.to_string(), message.to_string());
                return self.finish_write_then(&job, &status, event).await;
            }
            return self.finish_write(&job, &status, before).await;
        }
        // Success: all completions, or a rule of the success policy (decided once).
        let done = if indexed {
            completed.len() as i32 >= completions.unwrap_or(0)
        } else {
            match completions {
                Some(c) => succeeded >= c,
                None => succeeded > 0 && active.is_empty(),
            }
        };
        let success = if let Some(met) = true_condition(&status, "SuccessCriteriaMet") {
            Some(met)
        } else if let Some(message) = indexed
            .then(|| {
                success_policy::matched(
                    spec.success_policy.as_ref(),
                    completions.unwrap_or(0),
                    &completed,
                )
            })
            .flatten()
        {
            Some(("SuccessPolicy".to_string(), message))
        } else {
            done.then(|| {
                (
                    "CompletionsReached".to_string(),
                    "Reached expected number of succeeded pods".to_string(),
                )
            })
        };
        if let Some((reason, message)) = success {
            let (reason, message) = (reason.as_str(), message.as_str());
            set_condition(&mut status, "SuccessCriteriaMet", true, reason, message);
            self.delete_pods(&job, &active).await?;
            let running = pods.iter().any(|p| !is_finished(p));
            if !running && set_condition(&mut status, "Complete", true, reason, message) {
                status.completion_time = Some(Time(now));
                return self
                    .finish_write_then(&job, &status, Finished::Completed)
                    .await;
            }
            return self.finish_write(&job, &status, before).await;
        }
        // Suspend and resume.
        if suspended {
            if set_condition(
                &mut status,
                "Suspended",
                true,
                "JobSuspended",
                "Job suspended",
            ) {
                self.events
                    .normal(&job, "Suspended", "Job suspended".into())
                    .await;
            }
            self.delete_pods(&job, &active).await?;
            status.active = Some(0);
            return self.finish_write(&job, &status, before).await;
        }
        let was_suspended = status
            .conditions
            .iter()
            .flatten()
            .any(|c| c.type_ == "Suspended" && c.status == "True");
        if was_suspended {
            set_condition(&mut status, "Suspended", false, "JobResumed", "Job resumed");
            self.events
                .normal(&job, "Resumed", "Job resumed".into())
                .await;
            status.start_time = Some(Time(now));
        }
        status.start_time.get_or_insert(Time(now));
        if let Some(secs) = spec.active_deadline_seconds {
            self.queue
                .add_after(key.to_string(), Duration::from_secs(secs.max(0) as u64 + 1));
        }

        // 4. Active pods to the wanted number.
        let running_indexes: BTreeSet<i32> = active.iter().filter_map(|p| index_of(p)).collect();
        // Successes recorded but not yet counted count for what is left to run.
        let pending_ok = status
            .uncounted_terminated_pods
            .as_ref()
            .and_then(|u| u.succeeded.as_ref())
            .map_or(0, Vec::len) as i32;
        let succeeded = succeeded + pending_ok;
        completed.extend(
            pods.iter()
                .filter(|p| phase(p) == Some("Succeeded"))
                .filter_map(|p| index_of(p)),
        );
        let want = if indexed {
            let pending = (0..completions.unwrap_or(0))
                .filter(|i| !completed.contains(i) && !failed_indexes.contains(i))
                .count() as i32;
            parallelism.min(pending)
        } else {
            match completions {
                Some(c) => parallelism.min((c - succeeded).max(0)),
                None if succeeded > 0 => 0,
                None => parallelism,
            }
        };
        // podReplacementPolicy Failed (the default with a pod failure policy): a pod going
        // away is replaced only once it has failed.
        let have = active.len() as i32;
        let replace_only_failed = spec.pod_replacement_policy.as_deref() == Some("Failed");
        let going: Vec<&Arc<Pod>> = pods
            .iter()
            .filter(|p| replace_only_failed && p.metadata.deletion_timestamp.is_some())
            .filter(|p| !is_finished(p))
            .collect();
        let running_indexes: BTreeSet<i32> = running_indexes
            .into_iter()
            .chain(going.iter().filter_map(|p| index_of(p)))
            .collect();
        if self.expectations.satisfied(key) {
            if have > want {
                let mut ranked: Vec<&Arc<Pod>> = active.iter().collect();
                ranked.sort_by_key(|p| deletion_rank(p));
                let victims: Vec<Arc<Pod>> = ranked
                    .into_iter()
                    .take((have - want) as usize)
                    .cloned()
                    .collect();
                self.delete_pods(&job, &victims).await?;
                status.active = Some(want);
            } else if have + (going.len() as i32) < want {
                let have = have + going.len() as i32;
                let delay = if per_index_limit.is_some() {
                    Duration::ZERO
                } else {
                    self.backoff_left(key)
                };
                if delay.is_zero() {
                    let mut slots: Vec<PodSlot> = Vec::new();
                    let mut waiting: Option<Duration> = None;
                    if indexed {
                        let open = (0..completions.unwrap_or(0)).filter(|i| {
                            !completed.contains(i)
                                && !failed_indexes.contains(i)
                                && !running_indexes.contains(i)
                        });
                        for i in open {
                            if per_index_limit.is_some() {
                                let left = self.backoff_left(&format!("{key}#{i}"));
                                if !left.is_zero() {
                                    waiting = Some(waiting.map_or(left, |w| w.min(left)));
                                    continue;
                                }
                            }
                            let counts = per_index_limit
                                .map(|_| per_index::counts_for(&pods, i, failure_policy));
                            slots.push((Some(i), counts));
                        }
                        slots.truncate((want - have) as usize);
                    } else {
                        slots.extend(std::iter::repeat_n((None, None), (want - have) as usize));
                    }
                    slots.truncate(BURST);
                    if let Some(w) = waiting {
                        self.queue.add_after(key.to_string(), w);
                    }
                    self.create_pods(&job, key, &slots).await?;
                } else {
                    self.queue.add_after(key.to_string(), delay);
                }
            }
        }
        self.finish_write(&job, &status, before).await
    }

    /// How long the next pod must wait after recent failures (10 s doubling, at most 6 min).
    fn backoff_left(&self, key: &str) -> Duration {
        let b = self.backoff.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(rec) = b.get(key) else {
            return Duration::ZERO;
        };
        if rec.failures == 0 {
            return Duration::ZERO;
        }
        let delay = BACKOFF_BASE
            .saturating_mul(1u32 << (rec.failures - 1).min(16))
            .min(BACKOFF_MAX);
        delay.saturating_sub(rec.last.elapsed())
    }

    async fn finish_write(
        &self,
        job: &Job,
        status: &JobStatus,
        before: Option<serde_json::Value>,
    ) -> Result<(), ControllerError> {
        let stored = |v: serde_json::Value| without_zero_counts(v);
        if serde_json::to_value(status).ok().map(stored) == before.map(stored) {
            return Ok(());
        }
        self.write_status(job, status).await
    }

    /// Writes the status that finishes (or dooms) the Job, then records its event: only if the
    /// Job is still the version this sync read, so that a sync on a cache that has not yet
    /// seen the first such write gets a conflict and retries instead of recording the event
    /// twice, as upstream's status update does.
    async fn finish_write_then(
        &self,
        job: &Job,
        status: &JobStatus,
        event: Finished,
    ) -> Result<(), ControllerError> {
        self.patch_status(job, status, job.resource_version())
            .await?;
        match event {
            Finished::Completed => {
                self.events
                    .normal(job, "Completed", "Job completed".into())
                    .await
            }
            Finished::Warning(reason, message) => self.events.warning(job, &reason, message).await,
        }
        Ok(())
    }

    async fn write_status(&self, job: &Job, status: &JobStatus) -> Result<(), ControllerError> {
        self.patch_status(job, status, None).await
    }

    /// A merge patch of the Job's status; with `version`, only onto that resourceVersion (409
    /// otherwise).
    async fn patch_status(
        &self,
        job: &Job,
        status: &JobStatus,
        version: Option<String>,
    ) -> Result<(), ControllerError> {
        let api: Api<Job> =
            Api::namespaced(self.client.clone(), &job.namespace().unwrap_or_default());
        // A count left out is removed from the stored status by `null` in the merge patch.
        let mut body = without_zero_counts(serde_json::to_value(status).unwrap_or_default());
        for k in OMITTED_WHEN_ZERO {
            if body.get(k).is_none() {
                body[k] = serde_json::Value::Null;
            }
        }
        let mut patch = json!({"status": body});
        if let Some(v) = version {
            patch["metadata"] = json!({"resourceVersion": v});
        }
        crate::status_patch::merge(&api, &job.name_any(), patch).await
    }

    /// Removes the tracking finalizer from a pod already recorded.
    async fn release(&self, p: &Pod) -> Result<(), ControllerError> {
        let api: Api<Pod> =
            Api::namespaced(self.client.clone(), &p.namespace().unwrap_or_default());
        let patch = json!({"metadata": {"$deleteFromPrimitiveList/finalizers": [TRACKING], "uid": p.uid()}});
        match api
            .patch(
                &p.name_any(),
                &PatchParams::default(),
                &Patch::Strategic(patch),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes pods; their deletions show up as terminating pods, so nothing is expected.
    async fn delete_pods(&self, job: &Job, victims: &[Arc<Pod>]) -> Result<(), ControllerError> {
        if victims.is_empty() {
            return Ok(());
        }
        let api: Api<Pod> =
            Api::namespaced(self.client.clone(), &job.namespace().unwrap_or_default());
        for p in victims {
            match api.delete(&p.name_any(), &DeleteParams::default()).await {
                Ok(_) => {
                    self.events
                        .normal(
                            job,
                            "SuccessfulDelete",
                            format!("Deleted pod: {}", p.name_any()),
                        )
                        .await;
                }
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    async fn create_pods(
        &self,
        job: &Job,
        key: &str,
        indexes: &[PodSlot],
    ) -> Result<(), ControllerError> {
        if indexes.is_empty() {
            return Ok(());
        }
        let api: Api<Pod> =
            Api::namespaced(self.client.clone(), &job.namespace().unwrap_or_default());
        self.expectations.expect(key, indexes.len() as i64, 0);
        let mut failure = None;
        for (n, (index, counts)) in indexes.iter().enumerate() {
            match api
                .create(&PostParams::default(), &pod_for(job, *index, *counts))
                .await
            {
                Ok(p) => {
                    self.events
                        .normal(
                            job,
                            "SuccessfulCreate",
                            format!("Created pod: {}", p.name_any()),
                        )
                        .await;
                }
                Err(e) => {
                    for _ in n..indexes.len() {
                        self.expectations.created(key);
                    }
                    self.events
                        .warning(job, "FailedCreate", format!("Error creating: {e}"))
                        .await;
                    failure = Some(e);
                    break;
                }
            }
        }
        match failure {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }
}

/// A pod to create: its completion index (Indexed Jobs) and, with a back-off limit per index,
/// the failure counts it carries.
type PodSlot = (Option<i32>, Option<(i32, i32)>);

/// Counts upstream leaves out when zero (omitempty).
const OMITTED_WHEN_ZERO: [&str; 3] = ["active", "succeeded", "failed"];

/// A status as JSON with its zero counts left out, as kube-apiserver stores it.
fn without_zero_counts(mut v: serde_json::Value) -> serde_json::Value {
    if let Some(o) = v.as_object_mut() {
        o.retain(|k, val| !(OMITTED_WHEN_ZERO.contains(&k.as_str()) && val.as_i64() == Some(0)));
    }
    v
}

/// A pod of the Job: its template, the tracking finalizer, the controller reference, and for an
/// Indexed Job the completion index (annotation, label, hostname, `JOB_COMPLETION_INDEX`) and,
/// with a back-off limit per index, its failure counts so far.
fn pod_for(job: &Job, index: Option<i32>, counts: Option<(i32, i32)>) -> Pod {
    let template = job
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    let meta = template.metadata.unwrap_or_default();
    let mut labels = meta.labels.unwrap_or_default();
    let mut annotations = meta.annotations.unwrap_or_default();
    let mut spec = template.spec.unwrap_or_default();
    let mut finalizers = meta.finalizers.unwrap_or_default();
    finalizers.push(TRACKING.into());
    let name = job.name_any();
    if let Some((failures, ignored)) = counts {
        annotations.insert(per_index::FAILURE_COUNT.into(), failures.to_string());
        annotations.insert(per_index::IGNORED_FAILURE_COUNT.into(), ignored.to_string());
    }
    let generate_name = match index {
        Some(i) => {
            annotations.insert(INDEX.into(), i.to_string());
            labels.insert(INDEX.into(), i.to_string());
            if spec.hostname.is_none() {
                spec.hostname = Some(format!("{name}-{i}"));
            }
            let env = EnvVar {
                name: "JOB_COMPLETION_INDEX".into(),
                value: None,
                value_from: Some(EnvVarSource {
                    field_ref: Some(ObjectFieldSelector {
                        api_version: None,
                        field_path: format!("metadata.labels['{INDEX}']"),
                    }),
                    ..EnvVarSource::default()
                }),
            };
            for c in spec
                .containers
                .iter_mut()
                .chain(spec.init_containers.iter_mut().flatten())
            {
                c.env.get_or_insert_with(Vec::new).push(env.clone());
            }
            format!("{name}-{i}-")
        }
        None => format!("{name}-"),
    };
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(generate_name),
            namespace: job.namespace(),
            labels: Some(labels),
            annotations: Some(annotations),
            finalizers: Some(finalizers),
            owner_references: Some(vec![controller_ref(job)]),
            ..ObjectMeta::default()
        },
        spec: Some(spec),
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completed_indexes_fold_runs_as_upstream_writes_them() {
        let idx: BTreeSet<i32> = [0, 1, 2, 4, 6, 7].into_iter().collect();
        assert_eq!(format_indexes(&idx), "0-2,4,6-7");
        assert_eq!(parse_indexes("0-2,4,6-7"), idx);
        assert_eq!(format_indexes(&BTreeSet::new()), "");
    }
}
