//! The ttl-after-finished controller (kube-controller-manager's `ttl-after-finished`): a Job
//! with `ttlSecondsAfterFinished` is deleted (foreground, its pods first) that many seconds
//! after it finished (its Complete or Failed condition's transition time).

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Preconditions, PropagationPolicy};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Client, ResourceExt};
use tokio_util::sync::CancellationToken;

use crate::informers::{Change, Informer, Informers};
use crate::workqueue::{key_of, WorkQueue};
use crate::ControllerError;

pub fn register(
    client: Client,
    informers: &Informers,
    workers: usize,
    ended: CancellationToken,
) -> impl std::future::Future<Output = ()> + Send {
    let jobs = informers.get::<Job>();
    let queue: Arc<WorkQueue<String>> = WorkQueue::new(ended);
    let q = queue.clone();
    jobs.on_change(move |c| {
        if let Change::Applied(j) = c {
            let ttl = j.spec.as_ref().and_then(|s| s.ttl_seconds_after_finished);
            if ttl.is_some() && crate::job::finished(j) && j.metadata.deletion_timestamp.is_none() {
                q.add(key_of(&j.namespace().unwrap_or_default(), &j.name_any()));
            }
        }
    });
    async move {
        jobs.synced().await;
        let q = queue.clone();
        crate::workqueue::run_workers(queue, workers, "ttl-after-finished", move |key| {
            let (client, jobs, q) = (client.clone(), jobs.clone(), q.clone());
            async move { sync(&client, &jobs, &q, &key).await }
        })
        .await;
    }
}

/// When the Job finished.
fn finished_at(job: &Job) -> Option<Timestamp> {
    job.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
        .and_then(|c| c.last_transition_time.as_ref())
        .map(|t| t.0)
}

async fn sync(
    client: &Client,
    jobs: &Informer<Job>,
    queue: &Arc<WorkQueue<String>>,
    key: &str,
) -> Result<(), ControllerError> {
    let Some((ns, name)) = key.split_once('/') else {
        return Ok(());
    };
    let Some(job) = jobs.store().get(&ObjectRef::new(name).within(ns)) else {
        return Ok(());
    };
    let Some(ttl) = job.spec.as_ref().and_then(|s| s.ttl_seconds_after_finished) else {
        return Ok(());
    };
    let Some(at) = finished_at(&job) else {
        return Ok(());
    };
    let expires = at + k8s_openapi::jiff::SignedDuration::from_secs(i64::from(ttl.max(0)));
    let now = Timestamp::now();
    if now < expires {
        let left = Duration::try_from(expires.duration_since(now)).unwrap_or_default();
        queue.add_after(key.to_string(), left + Duration::from_millis(10));
        return Ok(());
    }
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Foreground),
        preconditions: Some(Preconditions {
            uid: job.uid(),
            resource_version: job.resource_version(),
        }),
        ..DeleteParams::default()
    };
    match Api::<Job>::namespaced(client.clone(), ns)
        .delete(name, &params)
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(()),
        Err(e) => Err(e.into()),
    }
}
