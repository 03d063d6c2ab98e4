//! The checkers. Each answers valid, invalid or unknown with an explanation and the smallest
//! failing excerpt; none can pass by running out of time or information (that is unknown).

pub mod agreement;
pub mod elle;
pub mod lease;
pub mod logs;
pub mod sweep;
pub mod watch;
pub mod wgl;

use std::path::Path;
use std::time::Duration;

use crate::history::{Op, ReplicaDump, Verdict, WatchLog};

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
