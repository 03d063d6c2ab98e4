//! The job, ttl-after-finished and cronjob controllers through a real `capstan server`:
//! completions and parallelism, the back-off limit, Indexed jobs, suspend and resume, the active
//! deadline, the pod failure policy, the success policy, deletion after the TTL, and CronJobs' missed times, starting deadline and suspend. The test plays the kubelet (common::kubelet), finishing pods by
//! their image. One rule per test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::kubelet::{FakeKubelet, PodWatch};
use common::Server;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::{json, Value};

/// Generous: a guard against a controller that never acts, not a speed assertion.
const PATIENCE: Duration = Duration::from_secs(90);

fn image(p: &Pod) -> String {
    p.spec.as_ref().unwrap().containers[0]
        .image
        .clone()
        .unwrap_or_default()
}

/// One replica; pods of image `ok` succeed, `fail` fail, `run` keep running, `exit42` fail
/// with their container's exit code 42, `evicted-once` fail with a DisruptionTarget condition
/// the first time and succeed after, and `ok-index0` succeed at completion index 0 and keep
/// running at the others, `fail-index1` (`fail-index12`) fail at index 1 (and 2) and succeed at
/// the others.
async fn fixture() -> (tempfile::TempDir, Server, kube::Client, FakeKubelet) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::first(dir.path(), "j");
    common::wait_api_ready(&server, PATIENCE).await;
    let client = server.kube().await;
    let evicted = std::sync::atomic::AtomicBool::new(false);
    let kubelet = FakeKubelet::statuses(client.clone(), move |p| {
        let now = k8s_openapi::jiff::Timestamp::now().to_string();
        let exited = |code: i32| {
            json!([{"name": "c", "image": image(p), "imageID": "", "ready": false,
                    "restartCount": 0, "state": {"terminated": {"exitCode": code}}}])
        };
        let phase = |to: &str| {
            let ready = if to == "Running" { "True" } else { "False" };
            json!({"phase": to, "conditions": [
                {"type": "Ready", "status": ready, "lastTransitionTime": now}]})
        };
        let index = p
            .annotations()
            .get("batch.kubernetes.io/job-completion-index");
        Some(match image(p).as_str() {
            "ok" => phase("Succeeded"),
            "fail" => phase("Failed"),
            "run" => phase("Running"),
            "exit42" => json!({"phase": "Failed", "containerStatuses": exited(42)}),
            "evicted-once" if !evicted.swap(true, std::sync::atomic::Ordering::SeqCst) => {
                json!({"phase": "Failed", "containerStatuses": exited(137), "conditions": [
                    {"type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI",
                     "lastTransitionTime": now}]})
            }
            "evicted-once" => phase("Succeeded"),
            "ok-index0" if index.map(String::as_str) == Some("0") => phase("Succeeded"),
            "ok-index0" => phase("Running"),
            "fail-index1" if index.map(String::as_str) == Some("1") => phase("Failed"),
            "fail-index12" if matches!(index.map(String::as_str), Some("1" | "2")) => {
                phase("Failed")
            }
            "fail-index1" | "fail-index12" => phase("Succeeded"),
            _ => return None,
        })
    });
    (dir, server, client, kubelet)
}

async fn create(client: &kube::Client, name: &str, image: &str, spec: Value) -> Job {
    let mut body = json!({
        "metadata": {"name": name},
        "spec": {"template": {"spec": {"restartPolicy": "Never",
                 "containers": [{"name": "c", "image": image}]}}}});
    for (k, v) in spec.as_object().unwrap() {
        body["spec"][k] = v.clone();
    }
    let job: Job = serde_json::from_value(body).unwrap();
    Api::<Job>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &job)
        .await
        .unwrap()
}

async fn until(client: &kube::Client, name: &str, what: &str, pred: impl Fn(&Job) -> bool) -> Job {
    let api: Api<Job> = Api::namespaced(client.clone(), "default");
    let deadline = Instant::now() + PATIENCE;
    loop {
        let j = api.get(name).await.unwrap();
        if pred(&j) {
            return j;
        }
        assert!(
            Instant::now() < deadline,
            "never: {what}; status {:?}",
            j.status
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn condition(j: &Job, kind: &str) -> Option<(String, String)> {
    j.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == kind)
        .map(|c| (c.status.clone(), c.reason.clone().unwrap_or_default()))
}

fn is(j: &Job, kind: &str) -> bool {
    condition(j, kind).is_some_and(|(s, _)| s == "True")
}

/// How long after the first of two pods the second was created.
fn creation_gap(pods: &[Pod]) -> k8s_openapi::jiff::SignedDuration {
    let mut at: Vec<_> = pods
        .iter()
        .map(|p| p.metadata.creation_timestamp.as_ref().unwrap().0)
        .collect();
    at.sort();
    at[1].duration_since(at[0])
}

async fn pods_of(client: &kube::Client, job: &str) -> Vec<Pod> {
    Api::<Pod>::namespaced(client.clone(), "default")
        .list(&ListParams::default().labels(&format!("batch.kubernetes.io/job-name={job}")))
        .await
        .unwrap()
        .items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_runs_its_completions_at_most_parallelism_at_a_time_and_completes() {
    let (_d, _s, client, _k) = fixture().await;
    let watch = PodWatch::start(
        client.clone(),
        "default",
        "batch.kubernetes.io/job-name=work",
        |pods| {
            let running = pods
                .values()
                .filter(|p| {
                    let ph = p.status.as_ref().and_then(|s| s.phase.as_deref());
                    !matches!(ph, Some("Succeeded" | "Failed"))
                })
                .count();
            (running > 2).then(|| format!("{running} unfinished pods at once"))
        },
    );
    watch.arm();
    create(
        &client,
        "work",
        "ok",
        json!({"completions": 4, "parallelism": 2}),
    )
    .await;
    let j = until(&client, "work", "Complete", |j| is(j, "Complete")).await;
    let s = j.status.clone().unwrap();
    assert_eq!(s.succeeded, Some(4));
    assert!(s.completion_time.is_some() && s.start_time.is_some());
    assert_eq!(
        condition(&j, "SuccessCriteriaMet"),
        Some(("True".into(), "CompletionsReached".into()))
    );
    assert_eq!(
        condition(&j, "Complete"),
        Some(("True".into(), "CompletionsReached".into()))
    );
    let pods = pods_of(&client, "work").await;
    assert_eq!(pods.len(), 4, "one pod per completion, none extra");
    assert!(
        pods.iter().all(|p| p.finalizers().is_empty()),
        "tracking finalizers left"
    );
    assert!(
        watch.seen.lock().unwrap().violations.is_empty(),
        "{:?}",
        watch.seen.lock().unwrap().violations
    );
    let listed = common::events_of(&client, "work").await;
    let events: Vec<String> = listed.iter().filter_map(|e| e.reason.clone()).collect();
    // Recorded once: a sync on a cache that had not seen the finishing write yet must not
    // record it again (identical events are counted on one Event).
    let completed: Vec<i32> = listed
        .iter()
        .filter(|e| e.reason.as_deref() == Some("Completed"))
        .map(|e| e.count.unwrap_or(1))
        .collect();
    assert_eq!(completed, vec![1], "{events:?}");
    assert_eq!(
        events.iter().filter(|r| *r == "SuccessfulCreate").count(),
        4,
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_job_backs_off_and_fails_past_its_backoff_limit() {
    let (_d, _s, client, _k) = fixture().await;
    create(&client, "bad", "fail", json!({"backoffLimit": 1})).await;
    let j = until(&client, "bad", "Failed", |j| is(j, "Failed")).await;
    assert_eq!(
        condition(&j, "FailureTarget"),
        Some(("True".into(), "BackoffLimitExceeded".into()))
    );
    assert_eq!(
        condition(&j, "Failed"),
        Some(("True".into(), "BackoffLimitExceeded".into()))
    );
    assert_eq!(j.status.unwrap().failed, Some(2));
    // The limit of 1 retry: two pods in all, the second after the back-off.
    let pods = pods_of(&client, "bad").await;
    assert_eq!(pods.len(), 2);
    let gap = creation_gap(&pods);
    assert!(
        gap.as_secs() >= 9,
        "the retry came {gap:?} after the first pod, not after a 10 s back-off"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_indexed_job_runs_each_index_once_with_its_index() {
    let (_d, _s, client, _k) = fixture().await;
    create(
        &client,
        "idx",
        "ok",
        json!({"completionMode": "Indexed", "completions": 3, "parallelism": 3}),
    )
    .await;
    let j = until(&client, "idx", "Complete", |j| is(j, "Complete")).await;
    assert_eq!(j.status.unwrap().completed_indexes.as_deref(), Some("0-2"));
    let pods = pods_of(&client, "idx").await;
    let mut indexes: Vec<String> = pods
        .iter()
        .map(|p| p.annotations()["batch.kubernetes.io/job-completion-index"].clone())
        .collect();
    indexes.sort();
    assert_eq!(indexes, ["0", "1", "2"]);
    for p in &pods {
        let i = &p.annotations()["batch.kubernetes.io/job-completion-index"];
        let spec = p.spec.as_ref().unwrap();
        assert_eq!(spec.hostname.as_deref(), Some(format!("idx-{i}").as_str()));
        assert!(p.name_any().starts_with(&format!("idx-{i}-")));
        let env = spec.containers[0].env.as_ref().unwrap();
        assert!(env.iter().any(|e| e.name == "JOB_COMPLETION_INDEX"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_job_runs_nothing_until_it_is_resumed() {
    let (_d, _s, client, _k) = fixture().await;
    create(&client, "later", "ok", json!({"suspend": true})).await;
    let j = until(&client, "later", "Suspended", |j| is(j, "Suspended")).await;
    assert_eq!(
        condition(&j, "Suspended"),
        Some(("True".into(), "JobSuspended".into()))
    );
    assert!(pods_of(&client, "later").await.is_empty());
    Api::<Job>::namespaced(client.clone(), "default")
        .patch(
            "later",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"suspend": false}})),
        )
        .await
        .unwrap();
    let j = until(&client, "later", "Complete", |j| is(j, "Complete")).await;
    assert_eq!(
        condition(&j, "Suspended"),
        Some(("False".into(), "JobResumed".into()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_past_its_active_deadline_fails_and_its_pods_are_deleted() {
    let (_d, _s, client, _k) = fixture().await;
    create(&client, "slow", "run", json!({"activeDeadlineSeconds": 1})).await;
    let j = until(&client, "slow", "Failed", |j| is(j, "Failed")).await;
    assert_eq!(
        condition(&j, "Failed"),
        Some(("True".into(), "DeadlineExceeded".into()))
    );
    let deadline = Instant::now() + PATIENCE;
    while !pods_of(&client, "slow").await.is_empty() {
        assert!(
            Instant::now() < deadline,
            "the running pod was never deleted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_job_is_deleted_with_its_pods_after_its_ttl() {
    let (_d, _s, client, _k) = fixture().await;
    // A TTL long enough for the poll below to see the Job complete before it goes.
    create(
        &client,
        "brief",
        "ok",
        json!({"ttlSecondsAfterFinished": 5}),
    )
    .await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let deadline = Instant::now() + PATIENCE;
    let mut saw_complete = false;
    loop {
        match jobs.get_opt("brief").await.unwrap() {
            Some(j) => saw_complete |= is(&j, "Complete"),
            None if pods_of(&client, "brief").await.is_empty() => break,
            None => {}
        }
        assert!(
            Instant::now() < deadline,
            "the finished job (or its pods) stayed past its TTL"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(saw_complete, "the job went before it was seen complete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failjob_rule_of_the_pod_failure_policy_fails_the_job_at_its_first_match() {
    let (_d, _s, client, _k) = fixture().await;
    create(
        &client,
        "strict",
        "exit42",
        json!({"backoffLimit": 6, "podFailurePolicy": {"rules": [
            {"action": "Ignore", "onExitCodes": {"operator": "In", "values": [1]}},
            {"action": "FailJob", "onExitCodes": {"containerName": "c", "operator": "In", "values": [42]}}]}}),
    )
    .await;
    let j = until(&client, "strict", "Failed", |j| is(j, "Failed")).await;
    let pods = pods_of(&client, "strict").await;
    assert_eq!(
        pods.len(),
        1,
        "no retry after a FailJob match, backoffLimit or not"
    );
    let message = format!(
        "Container c for pod default/{} failed with exit code 42 matching FailJob rule at index 1",
        pods[0].name_any()
    );
    for kind in ["FailureTarget", "Failed"] {
        let c = j.status.as_ref().unwrap().conditions.as_ref().unwrap();
        let c = c.iter().find(|c| c.type_ == kind).unwrap();
        assert_eq!(c.reason.as_deref(), Some("PodFailurePolicy"), "{kind}");
        assert_eq!(c.message.as_deref(), Some(message.as_str()), "{kind}");
    }
    assert_eq!(j.status.as_ref().unwrap().failed, Some(1));
    let events: Vec<(String, String)> = common::events_of(&client, "strict")
        .await
        .into_iter()
        .map(|e| (e.reason.unwrap_or_default(), e.message.unwrap_or_default()))
        .collect();
    assert!(
        events.contains(&("PodFailurePolicy".into(), message.clone())),
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_an_ignore_rule_matches_is_not_counted_and_the_pod_is_replaced_at_once() {
    let (_d, _s, client, _k) = fixture().await;
    create(
        &client,
        "patient",
        "evicted-once",
        json!({"backoffLimit": 0, "podFailurePolicy": {"rules": [
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}]}}),
    )
    .await;
    let j = until(&client, "patient", "Complete", |j| is(j, "Complete")).await;
    let s = j.status.unwrap();
    // backoffLimit 0 would have failed the Job on a counted failure.
    assert_eq!((s.succeeded, s.failed), (Some(1), None));
    let pods = pods_of(&client, "patient").await;
    assert_eq!(pods.len(), 2, "the ignored failure and its replacement");
    let gap = creation_gap(&pods);
    assert!(
        gap.as_secs() < 9,
        "an ignored failure must not back off: the replacement came {gap:?} later"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_indexed_job_completes_when_its_success_policy_holds_and_its_other_pods_go() {
    let (_d, _s, client, _k) = fixture().await;
    create(
        &client,
        "leader",
        "ok-index0",
        json!({"completionMode": "Indexed", "completions": 3, "parallelism": 3,
               "successPolicy": {"rules": [{"succeededIndexes": "0"}]}}),
    )
    .await;
    let j = until(&client, "leader", "Complete", |j| is(j, "Complete")).await;
    for kind in ["SuccessCriteriaMet", "Complete"] {
        let c = j.status.as_ref().unwrap().conditions.as_ref().unwrap();
        let c = c.iter().find(|c| c.type_ == kind).unwrap();
        assert_eq!(c.reason.as_deref(), Some("SuccessPolicy"), "{kind}");
        assert_eq!(
            c.message.as_deref(),
            Some("Matched rules at index 0"),
            "{kind}"
        );
    }
    assert_eq!(
        j.status.as_ref().unwrap().completed_indexes.as_deref(),
        Some("0")
    );
    let deadline = Instant::now() + PATIENCE;
    loop {
        let left: Vec<String> = pods_of(&client, "leader")
            .await
            .into_iter()
            .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Succeeded"))
            .map(|p| p.name_any())
            .collect();
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "still running: {left:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_index_past_its_own_backoff_limit_fails_alone_and_the_job_fails_with_failed_indexes() {
    let (_d, _s, client, _k) = fixture().await;
    create(
        &client,
        "perindex",
        "fail-index1",
        json!({"completionMode": "Indexed", "completions": 3, "parallelism": 3,
               "backoffLimitPerIndex": 1}),
    )
    .await;
    let j = until(&client, "perindex", "Failed", |j| is(j, "Failed")).await;
    let s = j.status.clone().unwrap();
    assert_eq!(
        condition(&j, "Failed"),
        Some(("True".into(), "FailedIndexes".into()))
    );
    assert_eq!(s.failed_indexes.as_deref(), Some("1"));
    assert_eq!(s.completed_indexes.as_deref(), Some("0,2"));
    assert_eq!((s.succeeded, s.failed), (Some(2), Some(2)));
    // Index 1 ran twice (one retry), counting its failures on each pod; the others once.
    let pods = pods_of(&client, "perindex").await;
    let mut one: Vec<String> = pods
        .iter()
        .filter(|p| p.annotations()["batch.kubernetes.io/job-completion-index"] == "1")
        .map(|p| p.annotations()["batch.kubernetes.io/job-index-failure-count"].clone())
        .collect();
    one.sort();
    assert_eq!(one, ["0", "1"]);
    assert_eq!(pods.len(), 4);
    let one: Vec<Pod> = pods
        .into_iter()
        .filter(|p| p.annotations()["batch.kubernetes.io/job-completion-index"] == "1")
        .collect();
    let gap = creation_gap(&one);
    assert!(
        gap.as_secs() >= 9,
        "index 1 was retried {gap:?} later, not after its 10 s back-off"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_failed_indexes_than_max_failed_indexes_fail_the_job_at_once() {
    let (_d, _s, client, _k) = fixture().await;
    create(
        &client,
        "fewfail",
        "fail-index12",
        json!({"completionMode": "Indexed", "completions": 4, "parallelism": 4,
               "backoffLimitPerIndex": 0, "maxFailedIndexes": 1}),
    )
    .await;
    let j = until(&client, "fewfail", "Failed", |j| is(j, "Failed")).await;
    assert_eq!(
        condition(&j, "Failed"),
        Some(("True".into(), "MaxFailedIndexesExceeded".into()))
    );
    assert_eq!(j.status.unwrap().failed_indexes.as_deref(), Some("1-2"));
    // One pod per index, none retried (pods still running when the Job failed were deleted,
    // so the creations are counted, not the pods left).
    let creates = common::events_of(&client, "fewfail")
        .await
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some("SuccessfulCreate"))
        .count();
    assert_eq!(creates, 4, "no index retried");
}

/// A CronJob of `schedule` whose last run the test sets `ago` back, so its schedule has come
/// round at once (rather than waiting for the clock).
async fn cronjob(client: &kube::Client, name: &str, schedule: &str, extra: Value, ago: i64) {
    use k8s_openapi::api::batch::v1::CronJob;
    let mut body = json!({
        "metadata": {"name": name},
        "spec": {"schedule": schedule, "jobTemplate": {"spec": {"template": {"spec": {
            "restartPolicy": "Never", "containers": [{"name": "c", "image": "ok"}]}}}}}});
    for (k, v) in extra.as_object().unwrap() {
        body["spec"][k] = v.clone();
    }
    let api: Api<CronJob> = Api::namespaced(client.clone(), "default");
    let cj: CronJob = serde_json::from_value(body).unwrap();
    api.create(&PostParams::default(), &cj).await.unwrap();
    let last =
        k8s_openapi::jiff::Timestamp::now() - k8s_openapi::jiff::SignedDuration::from_secs(ago);
    api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"lastScheduleTime": last.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()}})),
    )
    .await
    .unwrap();
}

fn jobs_of(all: &[Job], cronjob: &str) -> Vec<Job> {
    all.iter()
        .filter(|j| {
            j.owner_references()
                .iter()
                .any(|o| o.kind == "CronJob" && o.name == cronjob)
        })
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cronjob_runs_its_missed_time_as_a_job_named_by_the_minute() {
    use k8s_openapi::api::batch::v1::CronJob;
    let (_d, _s, client, _k) = fixture().await;
    cronjob(&client, "tick", "* * * * *", json!({}), 180).await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let deadline = Instant::now() + PATIENCE;
    let job = loop {
        let mine = jobs_of(
            &jobs.list(&ListParams::default()).await.unwrap().items,
            "tick",
        );
        if let Some(j) = mine.into_iter().next() {
            break j;
        }
        assert!(Instant::now() < deadline, "no job made for the missed time");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // `<cronjob>-<minutes since the epoch>` of the scheduled time, stamped on the job.
    let minutes: i64 = job
        .name_any()
        .strip_prefix("tick-")
        .unwrap()
        .parse()
        .unwrap();
    let stamp = &job.annotations()["batch.kubernetes.io/cronjob-scheduled-timestamp"];
    let at: k8s_openapi::jiff::Timestamp = stamp.parse().unwrap();
    assert_eq!(at.as_second(), minutes * 60);
    // It runs to completion: the CronJob notes the success and clears its active list.
    let api: Api<CronJob> = Api::namespaced(client.clone(), "default");
    let deadline = Instant::now() + PATIENCE;
    loop {
        let s = api.get("tick").await.unwrap().status.unwrap_or_default();
        if s.last_successful_time.is_some() && s.active.as_ref().is_none_or(Vec::is_empty) {
            assert_eq!(s.last_schedule_time.unwrap().0.as_second(), minutes * 60);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the job's success never reached the cronjob: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_time_missed_past_the_starting_deadline_or_while_suspended_makes_no_job() {
    let (_d, _s, client, _k) = fixture().await;
    // Midnight daily, last run two days ago: today's midnight is hours past a 10 s deadline.
    cronjob(
        &client,
        "late",
        "0 0 * * *",
        json!({"startingDeadlineSeconds": 10}),
        2 * 86400,
    )
    .await;
    cronjob(&client, "held", "* * * * *", json!({"suspend": true}), 180).await;
    // The control: the same schedule unsuspended runs at once.
    cronjob(&client, "free", "* * * * *", json!({}), 180).await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let deadline = Instant::now() + PATIENCE;
    while jobs_of(
        &jobs.list(&ListParams::default()).await.unwrap().items,
        "free",
    )
    .is_empty()
    {
        assert!(Instant::now() < deadline, "the control cronjob never ran");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let events: Vec<(String, String)> = Api::<Event>::namespaced(client.clone(), "default")
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|e| Some((e.involved_object.name?, e.reason?)))
        .collect();
    let deadline = Instant::now() + PATIENCE;
    let mut saw_miss = events
        .iter()
        .any(|(n, r)| n == "late" && r == "MissSchedule");
    while !saw_miss {
        assert!(
            Instant::now() < deadline,
            "no MissSchedule event: {events:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        saw_miss = common::events_of(&client, "late")
            .await
            .iter()
            .any(|e| e.reason.as_deref() == Some("MissSchedule"));
    }
    let all = jobs.list(&ListParams::default()).await.unwrap().items;
    assert!(
        jobs_of(&all, "late").is_empty(),
        "a run past its starting deadline was made"
    );
    assert!(jobs_of(&all, "held").is_empty(), "a suspended cronjob ran");
}
