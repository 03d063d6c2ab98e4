//! The checkers. Each answers valid, invalid or unknown with an explanation and the smallest
//! failing excerpt; none can pass by running out of time or information (that is unknown).

pub mod agreement;
pub mod elle;
pub mod kube_watch;
pub mod lease;
pub mod logs;
pub mod rollout;
pub mod sweep;
pub mod watch;
pub mod wgl;

use std::path::Path;
use std::time::Duration;

use std::collections::BTreeMap;

use crate::history::{Op, ReplicaDump, Verdict, WatchLog};
use crate::workload::kube_run::{resources, KubeArtifacts};
use crate::workload::{controllers, kube_informer, Workload};

/// Runs every checker over one run's history and ground truth.
pub fn check_all(
    ops: &[Op],
    watches: &[WatchLog],
    dumps: &[ReplicaDump],
    nodes: &Path,
    budget: Duration,
) -> Vec<Verdict> {
    let max_rev = ops
        .iter()
        .filter(|o| o.outcome == crate::history::Outcome::Ok)
        .map(|o| o.rev)
        .max()
        .unwrap_or(0);
    let mut out = Vec::new();
    let (agreement, truth) = agreement::check_agreement(dumps);
    out.push(agreement);
    match &truth {
        Some(t) => {
            out.extend(sweep::check_against_truth(ops, t));
            out.extend(watch::check_watches(watches, t, max_rev));
            out.push(lease::check_leases(ops, watches, t));
        }
        None => out.push(Verdict::unknown(
            "ground-truth",
            0,
            "the replicas' dumps do not form one history, so nothing can be checked against it",
        )),
    }
    out.push(wgl::check_registers(ops, budget));
    out.push(elle::check_append(ops, budget));
    out.push(logs::check_logs(nodes));
    out
}

/// Runs the checkers of a Kubernetes REST run: replica agreement, the workload's own checkers
/// against the store's history of the namespace, and the logs.
pub fn check_kube(
    workload: Workload,
    ops: &[Op],
    art: &KubeArtifacts,
    dumps: &[ReplicaDump],
    nodes: &Path,
    budget: Duration,
) -> Vec<Verdict> {
    let mut out = vec![agreement::check_agreement(dumps).0];
    let truth: Option<BTreeMap<String, Vec<kube_watch::TruthEvent>>> =
        art.truth.as_ref().map(|t| {
            resources(workload)
                .into_iter()
                .map(|(resource, prefix)| {
                    let events = t.events(&prefix).unwrap_or_default();
                    let converted = match resource {
                        "pods" => kube_watch::truth_events(events, &prefix, controllers::pod_snap),
                        "deployments" => {
                            kube_watch::truth_events(events, &prefix, controllers::deployment_snap)
                        }
                        _ => kube_watch::truth_events(events, &prefix, kube_informer::snap),
                    };
                    (resource.to_string(), converted)
                })
                .collect()
        });
    let configmaps = truth
        .as_ref()
        .and_then(|t| t.get("configmaps"))
        .map(Vec::as_slice);
    match workload {
        Workload::KubeCas => {
            out.push(wgl::check_registers(ops, budget));
            out.push(kube_watch::check_acked_writes(ops, configmaps));
        }
        Workload::KubeInformer => {
            out.extend(kube_watch::check_informers(&art.informers, truth.as_ref()));
            out.push(kube_watch::check_acked_writes(ops, configmaps));
        }
        Workload::Controllers => {
            out.extend(kube_watch::check_informers(&art.informers, truth.as_ref()));
            let log = |r: &str| art.informers.iter().find(|l| l.resource == r);
            match (log("pods"), log("deployments")) {
                (Some(pods), Some(deployments)) => out.extend(rollout::check_rollout(
                    pods,
                    deployments,
                    ops,
                    art.rollout_s,
                    art.rollout_deadline_s,
                )),
                _ => out.push(Verdict::unknown(
                    "rollout",
                    0,
                    "the pod or Deployment informer left no log",
                )),
            }
        }
        Workload::Etcd => {}
    }
    if let Some(e) = &art.truth_error {
        out.push(Verdict::unknown("kube-truth", 0, e.clone()));
    }
    out.push(logs::check_logs(nodes));
    out
}
