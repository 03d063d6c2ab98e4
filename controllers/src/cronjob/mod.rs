//! The cronjob controller (kube-controller-manager's `cronjob`, its v2): at each scheduled time
//! (cron schedule, `spec.timeZone` or a `TZ=` prefix) a Job named `<cronjob>-<minutes since the
//! epoch>` is made from the template, unless the time was missed by more than
//! startingDeadlineSeconds or the concurrencyPolicy forbids it (Forbid skips while one runs,
//! Replace deletes the running ones first); suspend stops new runs; `status.active`,
//! lastScheduleTime and lastSuccessfulTime follow the Jobs, finished Jobs beyond the history
//! limits (3 succeeded, 1 failed) are deleted; events as upstream (SuccessfulCreate,
//! SawCompletedJob, SuccessfulDelete, MissSchedule, TooManyMissedTimes, UnexpectedJob).

mod schedule;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, ObjectMeta, PostParams, PropagationPolicy};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;

pub use schedule::Schedule;

use crate::events::Recorder;
use crate::informers::{Change, Informer, Informers};
use crate::owners::{controller_of, controller_ref};
use crate::workqueue::{key_of, WorkQueue};
use crate::ControllerError;

const SCHEDULED_AT: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";
/// More missed times than this and upstream warns instead of listing them.
const MISSED_CAP: usize = 100;

struct CronJobController {
    client: Client,
    cronjobs: Arc<Informer<CronJob>>,
    jobs: Arc<Informer<Job>>,
    queue: Arc<WorkQueue<String>>,
    events: Recorder,
}

pub fn register(
    client: Client,
    informers: &Informers,
    workers: usize,
    ended: CancellationToken,
) -> impl std::future::Future<Output = ()> + Send {
    let cronjobs = informers.get::<CronJob>();
    let jobs = informers.get::<Job>();
    let queue: Arc<WorkQueue<String>> = WorkQueue::new(ended);
    let q = queue.clone();
    cronjobs.on_change(move |c| {
        let (Change::Applied(cj) | Change::Deleted(cj)) = c;
        q.add(key_of(&cj.namespace().unwrap_or_default(), &cj.name_any()));
    });
    let q = queue.clone();
    jobs.on_change(move |c| {
        let (Change::Applied(j) | Change::Deleted(j)) = c;
        if let Some(owner) = controller_of::<CronJob>(j) {
            q.add(key_of(&j.namespace().unwrap_or_default(), &owner.name));
        }
    });
    let ctl = Arc::new(CronJobController {
        events: Recorder::new(client.clone(), "cronjob-controller"),
        client,
        cronjobs,
        jobs,
        queue,
    });
    async move {
        ctl.cronjobs.synced().await;
        ctl.jobs.synced().await;
        let queue = ctl.queue.clone();
        crate::workqueue::run_workers(queue, workers, "cronjob", move |key| {
            let ctl = ctl.clone();
            async move { ctl.sync(&key).await }
        })
        .await;
    }
}

/// Complete or Failed, and whether it succeeded, with when.
fn outcome(job: &Job) -> Option<(bool, Option<Timestamp>)> {
    let conds = job.status.as_ref()?.conditions.as_ref()?;
    let done = conds
        .iter()
        .find(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")?;
    let at = done.last_transition_time.as_ref().map(|t| t.0);
    Some((done.type_ == "Complete", at))
}

fn reference(job: &Job) -> ObjectReference {
    ObjectReference {
        api_version: Some(Job::api_version(&()).into_owned()),
        kind: Some(Job::kind(&()).into_owned()),
        name: Some(job.name_any()),
        namespace: job.namespace(),
        uid: job.uid(),
        resource_version: job.resource_version(),
        ..ObjectReference::default()
    }
}

impl CronJobController {
    async fn sync(&self, key: &str) -> Result<(), ControllerError> {
        let Some((ns, name)) = key.split_once('/') else {
            return Ok(());
        };
        let Some(cj) = self.cronjobs.store().get(&ObjectRef::new(name).within(ns)) else {
            return Ok(());
        };
        if cj.metadata.deletion_timestamp.is_some() {
            return Ok(());
        }
        let cj = (*cj).clone();
        let uid = cj.uid().unwrap_or_default();
        let mut jobs: Vec<Arc<Job>> = self
            .jobs
            .store()
            .state()
            .into_iter()
            .filter(|j| j.namespace().as_deref() == Some(ns))
            .filter(|j| controller_of::<CronJob>(j.as_ref()).is_some_and(|o| o.uid == uid))
            .collect();
        jobs.sort_by_key(|j| j.metadata.creation_timestamp.as_ref().map(|t| t.0));
        let mut status = cj.status.clone().unwrap_or_default();
        let before = serde_json::to_value(&status).ok();
        let spec = cj.spec.clone().unwrap_or_default();

        // Active jobs: the running ones; finished ones leave, a success noted.
        let mut active = Vec::new();
        for j in &jobs {
            match outcome(j) {
                None => active.push(reference(j)),
                Some((ok, at)) => {
                    let was_active = status.active.iter().flatten().any(|r| r.uid == j.uid());
                    if was_active {
                        let state = if ok { "Complete" } else { "Failed" };
                        self.events
                            .normal(
                                &cj,
                                "SawCompletedJob",
                                format!("Saw completed job: {}, status: {state}", j.name_any()),
                            )
                            .await;
                    }
                    if ok {
                        let at = j
                            .status
                            .as_ref()
                            .and_then(|s| s.completion_time.as_ref())
                            .map(|t| t.0)
                            .or(at);
                        let newer = status
                            .last_successful_time
                            .as_ref()
                            .is_none_or(|t| at.is_some_and(|a| a > t.0));
                        if newer {
                            status.last_successful_time = at.map(Time);
                        }
                    }
                }
            }
        }
        status.active = (!active.is_empty()).then_some(active);
        self.trim_history(&cj, &jobs).await?;

        let schedule = match Schedule::parse(&spec.schedule, spec.time_zone.as_deref()) {
            Ok(s) => s,
            Err(e) => {
                self.events
                    .warning(
                        &cj,
                        "UnparseableSchedule",
                        format!("unparseable schedule: {:?} : {e}", spec.schedule),
                    )
                    .await;
                return self.write_status(&cj, &status, before).await;
            }
        };
        let now = Timestamp::now();
        let since = status
            .last_schedule_time
            .as_ref()
            .map(|t| t.0)
            .or_else(|| cj.metadata.creation_timestamp.as_ref().map(|t| t.0))
            .unwrap_or(now);
        let next = schedule.next_after(now);
        if let Some(n) = next {
            let wait = Duration::try_from(n.duration_since(now)).unwrap_or_default();
            self.queue
                .add_after(key.to_string(), wait + Duration::from_millis(100));
        }
        if spec.suspend == Some(true) {
            return self.write_status(&cj, &status, before).await;
        }
        let missed = schedule.times_between(since, now, MISSED_CAP);
        let Some(&scheduled) = missed.last() else {
            return self.write_status(&cj, &status, before).await;
        };
        if missed.len() > MISSED_CAP {
            self.events
                .warning(&cj, "TooManyMissedTimes", "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew".into())
                .await;
        }
        if let Some(deadline) = spec.starting_deadline_seconds {
            let late = now.duration_since(scheduled).as_secs();
            if late > deadline {
                self.events
                    .warning(
                        &cj,
                        "MissSchedule",
                        format!(
                            "Missed scheduled time to start a job: {}",
                            schedule.format_in_zone(scheduled)
                        ),
                    )
                    .await;
                return self.write_status(&cj, &status, before).await;
            }
        }
        let running = status.active.as_ref().is_some_and(|a| !a.is_empty());
        match spec.concurrency_policy.as_deref() {
            Some("Forbid") if running => {
                return self.write_status(&cj, &status, before).await;
            }
            Some("Replace") if running => {
                let api: Api<Job> = Api::namespaced(self.client.clone(), ns);
                for r in status.active.take().into_iter().flatten() {
                    let Some(n) = r.name else { continue };
                    let params = DeleteParams {
                        propagation_policy: Some(PropagationPolicy::Background),
                        ..DeleteParams::default()
                    };
                    match api.delete(&n, &params).await {
                        Ok(_) => {
                            self.events
                                .normal(&cj, "SuccessfulDelete", format!("Deleted job {n}"))
                                .await
                        }
                        Err(kube::Error::Api(s)) if s.code == 404 => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            _ => {}
        }
        // The Job of this scheduled time.
        let job = self.job_for(&cj, &schedule, scheduled);
        let api: Api<Job> = Api::namespaced(self.client.clone(), ns);
        let made = match api.create(&PostParams::default(), &job).await {
            Ok(j) => {
                self.events
                    .normal(
                        &cj,
                        "SuccessfulCreate",
                        format!("Created job {}", j.name_any()),
                    )
                    .await;
                j
            }
            // Made already (a cache that lags): the one of that name.
            Err(kube::Error::Api(s)) if s.code == 409 => api.get(&job.name_any()).await?,
            Err(e) => {
                self.events
                    .warning(&cj, "FailedCreate", format!("Error creating job: {e}"))
                    .await;
                return Err(e.into());
            }
        };
        let r = reference(&made);
        let active = status.active.get_or_insert_with(Vec::new);
        if !active.iter().any(|a| a.uid == r.uid) {
            active.push(r);
        }
        status.last_schedule_time = Some(Time(scheduled));
        self.write_status(&cj, &status, before).await
    }

    fn job_for(&self, cj: &CronJob, schedule: &Schedule, at: Timestamp) -> Job {
        let template = cj
            .spec
            .as_ref()
            .map(|s| s.job_template.clone())
            .unwrap_or_default();
        let meta = template.metadata.unwrap_or_default();
        let mut annotations = meta.annotations.unwrap_or_default();
        annotations.insert(SCHEDULED_AT.into(), schedule.format_in_zone(at));
        Job {
            metadata: ObjectMeta {
                name: Some(format!("{}-{}", cj.name_any(), at.as_second() / 60)),
                namespace: cj.namespace(),
                labels: meta.labels,
                annotations: Some(annotations),
                owner_references: Some(vec![controller_ref(cj)]),
                ..ObjectMeta::default()
            },
            spec: template.spec,
            status: None,
        }
    }

    /// Finished Jobs beyond successfulJobsHistoryLimit / failedJobsHistoryLimit go, oldest
    /// first.
    async fn trim_history(&self, cj: &CronJob, jobs: &[Arc<Job>]) -> Result<(), ControllerError> {
        let spec = cj.spec.clone().unwrap_or_default();
        let api: Api<Job> =
            Api::namespaced(self.client.clone(), &cj.namespace().unwrap_or_default());
        for (want_ok, limit) in [
            (true, spec.successful_jobs_history_limit.unwrap_or(3)),
            (false, spec.failed_jobs_history_limit.unwrap_or(1)),
        ] {
            let finished: Vec<&Arc<Job>> = jobs
                .iter()
                .filter(|j| j.metadata.deletion_timestamp.is_none())
                .filter(|j| outcome(j).is_some_and(|(ok, _)| ok == want_ok))
                .collect();
            let extra = finished.len().saturating_sub(limit.max(0) as usize);
            for j in finished.into_iter().take(extra) {
                let params = DeleteParams {
                    propagation_policy: Some(PropagationPolicy::Background),
                    ..DeleteParams::default()
                };
                match api.delete(&j.name_any(), &params).await {
                    Ok(_) => {
                        self.events
                            .normal(
                                cj,
                                "SuccessfulDelete",
                                format!("Deleted job {}", j.name_any()),
                            )
                            .await
                    }
                    Err(kube::Error::Api(s)) if s.code == 404 => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    }

    async fn write_status(
        &self,
        cj: &CronJob,
        status: &k8s_openapi::api::batch::v1::CronJobStatus,
        before: Option<serde_json::Value>,
    ) -> Result<(), ControllerError> {
        let now = serde_json::to_value(status).ok();
        if now == before {
            return Ok(());
        }
        // `active: null` removes the list when no Job runs.
        let mut body = now.unwrap_or_default();
        if body.get("active").is_none() {
            body["active"] = serde_json::Value::Null;
        }
        let api: Api<CronJob> =
            Api::namespaced(self.client.clone(), &cj.namespace().unwrap_or_default());
        crate::status_patch::merge(&api, &cj.name_any(), json!({"status": body})).await
    }
}
