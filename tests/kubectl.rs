//! The real kubectl, every minor from 1.27 to 1.33 found on the machine, against 1 and 3
//! replicas: `tests/kubectl/e2e.sh` runs each command users type and checks its output. A
//! minor that is not installed is skipped with a visible line, never silently.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{wait_api_ready, wait_cluster, Server};

const MINORS: std::ops::RangeInclusive<u32> = 27..=33;

fn kubectl(minor: u32) -> Option<PathBuf> {
    let p = PathBuf::from(format!("/usr/lib/google-cloud-sdk/bin/kubectl.1.{minor}"));
    p.exists().then_some(p)
}

fn run_e2e(kubectl: &Path, write: &Path, read: &Path, ns: &str) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kubectl/e2e.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg(kubectl)
        .arg(write)
        .arg(read)
        .arg(ns)
        .output()
        .unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{} against {ns}:\n{text}",
        kubectl.display()
    );
    let ok = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or("")
        .to_string();
    eprintln!("{} against {ns}: {ok}", kubectl.display());
}

fn every_minor(write: &Path, read: &Path, tag: &str) -> usize {
    let mut ran = 0;
    for minor in MINORS {
        match kubectl(minor) {
            Some(k) => {
                run_e2e(&k, write, read, &format!("e2e-{tag}-1-{minor}"));
                ran += 1;
            }
            None => eprintln!("SKIP kubectl 1.{minor}: /usr/lib/google-cloud-sdk/bin/kubectl.1.{minor} is not installed"),
        }
    }
    ran
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kubectl_minor_works_against_one_replica() {
    let root = tempfile::tempdir().unwrap();
    let s = Server::first(root.path(), "solo");
    wait_cluster(&[&s], 1, Duration::from_secs(60)).await;
    wait_api_ready(&s, Duration::from_secs(60)).await;
    let ran = tokio::task::spawn_blocking(move || {
        let kc = s.kubeconfig();
        let n = every_minor(&kc, &kc, "one");
        drop(s);
        n
    })
    .await
    .unwrap();
    assert!(
        ran > 0,
        "no kubectl found under /usr/lib/google-cloud-sdk/bin"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kubectl_minor_works_against_three_replicas_writing_through_one_reading_through_another(
) {
    let root = tempfile::tempdir().unwrap();
    let servers = common::start_static(root.path(), "k", 3).await;
    for s in &servers {
        wait_api_ready(s, Duration::from_secs(60)).await;
    }
    let ran = tokio::task::spawn_blocking(move || {
        let n = every_minor(&servers[0].kubeconfig(), &servers[2].kubeconfig(), "three");
        drop(servers);
        n
    })
    .await
    .unwrap();
    assert!(ran > 0);
}

/// Runs `tests/kubectl/<name>.sh KUBECTL KUBECONFIG NAMESPACE` for each (name, kubectl minor)
/// against one fresh replica, at once when `together`, else one after another; returns how
/// many ran (a minor not installed is skipped).
async fn kubectl_scripts(runs: &'static [(&'static str, u32)], together: bool) -> usize {
    let root = tempfile::tempdir().unwrap();
    let s = Server::first(root.path(), "solo");
    wait_cluster(&[&s], 1, Duration::from_secs(60)).await;
    wait_api_ready(&s, Duration::from_secs(60)).await;
    let kc = s.kubeconfig();
    let ran = run_scripts(kc, runs, together).await;
    drop(s);
    ran
}

/// The scripts against three replicas, through a follower's API (its writes are forwarded to
/// the leader, where the controllers and the scheduler run).
async fn kubectl_scripts_on_three(runs: &'static [(&'static str, u32)]) -> usize {
    let root = tempfile::tempdir().unwrap();
    let servers = common::start_static(root.path(), "k", 3).await;
    for s in &servers {
        wait_api_ready(s, Duration::from_secs(60)).await;
    }
    let refs: Vec<&Server> = servers.iter().collect();
    let leader = wait_cluster(&refs, 3, Duration::from_secs(60)).await;
    let follower = servers
        .iter()
        .find(|s| s.member_id != leader)
        .expect("a follower");
    let ran = run_scripts(follower.kubeconfig(), runs, false).await;
    drop(servers);
    ran
}

async fn run_scripts(
    kc: std::path::PathBuf,
    runs: &'static [(&'static str, u32)],
    together: bool,
) -> usize {
    let run = move |name: &str, minor: u32| -> usize {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/kubectl/{name}.sh"));
        let Some(k) = kubectl(minor) else {
            eprintln!("SKIP kubectl 1.{minor}: not installed");
            return 0;
        };
        let out = Command::new("bash")
            .arg(&script)
            .arg(&k)
            .arg(&kc)
            .arg(format!("{name}-1-{minor}"))
            .output()
            .unwrap();
        let text = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success(),
            "{name}.sh, kubectl 1.{minor}:\n{text}"
        );
        1
    };
    let ran = tokio::task::spawn_blocking(move || {
        if together {
            let run = &run;
            std::thread::scope(|scope| {
                let handles: Vec<_> = runs
                    .iter()
                    .map(|&(name, minor)| scope.spawn(move || run(name, minor)))
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).sum()
            })
        } else {
            runs.iter().map(|&(name, minor)| run(name, minor)).sum()
        }
    })
    .await
    .unwrap();
    ran
}

/// `tests/kubectl/workloads.sh` (rollouts, scaling, cascading deletion, a Job) and
/// `tests/kubectl/drain.sh` (a drain a disruption budget holds back) with the oldest and newest
/// kubectl against one replica.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollouts_jobs_and_cascading_deletes_work_through_kubectl_1_27_and_1_33() {
    let runs = &[
        ("workloads", 27),
        ("workloads", 33),
        ("drain", 27),
        ("drain", 33),
    ];
    let ran = kubectl_scripts(runs, false).await;
    assert!(
        ran > 0,
        "no kubectl found under /usr/lib/google-cloud-sdk/bin"
    );
}

/// `tests/kubectl/sets.sh` (a DaemonSet on every node, StatefulSet ordering, a CronJob firing on
/// its schedule) with the oldest and newest kubectl at once (each waits for the next minute).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemonsets_statefulsets_and_cronjobs_work_through_kubectl_1_27_and_1_33() {
    let ran = kubectl_scripts(&[("sets", 27), ("sets", 33)], true).await;
    assert!(
        ran > 0,
        "no kubectl found under /usr/lib/google-cloud-sdk/bin"
    );
}

/// `tests/kubectl/scheduling.sh` (a pod Pending with the scheduler's message until a node is
/// labelled, taints and cordons, PriorityClasses) with the oldest and newest kubectl.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduling_is_seen_through_kubectl_1_27_and_1_33() {
    let ran = kubectl_scripts(&[("scheduling", 27), ("scheduling", 33)], false).await;
    assert!(
        ran > 0,
        "no kubectl found under /usr/lib/google-cloud-sdk/bin"
    );
}

/// The same script with kubectl 1.33 against three replicas, through a follower.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduling_is_seen_through_kubectl_on_three_replicas() {
    let ran = kubectl_scripts_on_three(&[("scheduling", 33)]).await;
    assert!(
        ran > 0,
        "no kubectl found under /usr/lib/google-cloud-sdk/bin"
    );
}
