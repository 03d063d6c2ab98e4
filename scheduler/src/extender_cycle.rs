//! A scheduling cycle with extenders (upstream's `findNodesThatPassExtenders` and the
//! extenders' part of `prioritizeNodes`): the plugins filter first, then each interested
//! extender filters what is left (its refusals join the plugins' in the message); the plugins
//! score, and each extender's scores (0–10 × weight) are added scaled to the plugins' 0–100.

use std::sync::Arc;

use crate::fit_error::FitError;
use crate::framework::{Code, Status};
use crate::pod_info::PodInfo;
use crate::profile::{select_host, Feasibility, Placement, Profile};
use crate::scheduler::Shared;
use crate::snapshot::Snapshot;

/// The plugin name extender refusals count under (any cluster event may help them).
pub const EXTENDER: &str = "";

/// One cycle: the plugins alone when no extender is interested in the pod.
pub async fn decide(
    shared: &Arc<Shared>,
    profile: &Profile,
    pod: &PodInfo,
    snapshot: &Snapshot,
) -> Result<Placement, Box<FitError>> {
    let interested: Vec<_> = shared
        .extenders
        .iter()
        .filter(|e| e.is_interested(pod))
        .cloned()
        .collect();
    if interested.is_empty() {
        let nominator = shared.nominator();
        return profile.schedule(pod, snapshot, &nominator);
    }
    let found = {
        let nominator = shared.nominator();
        profile.find_feasible(pod, snapshot, &nominator)?
    };
    let (mut feasible, mut statuses, evaluated, narrowed) = match found {
        Feasibility::Decided(p) => return Ok(p),
        Feasibility::Candidates {
            feasible,
            statuses,
            evaluated,
            narrowed,
        } => (feasible, statuses, evaluated, narrowed),
    };
    let all = snapshot.nodes.len();
    for ext in &interested {
        if feasible.is_empty() {
            break;
        }
        let filtered = match ext.filter(&pod.pod, &feasible).await {
            Ok(f) => f,
            Err(_) if ext.config.ignorable => continue,
            Err(e) => return Err(Box::new(FitError::error(Status::error(EXTENDER, e)))),
        };
        for (node, reason) in &filtered.failed_unresolvable {
            let s = statuses
                .entry(node.clone())
                .or_insert_with(|| Status::unresolvable(EXTENDER, reason.clone()));
            if s.reasons.last() != Some(reason) {
                s.reasons.push(reason.clone());
            }
            s.code = Code::UnschedulableAndUnresolvable;
        }
        for (node, reason) in &filtered.failed {
            if filtered.failed_unresolvable.contains_key(node) {
                continue;
            }
            statuses
                .entry(node.clone())
                .or_insert_with(|| Status::unschedulable(EXTENDER, reason.clone()));
        }
        feasible.retain(|n| filtered.passed.contains(&n.name));
    }
    if feasible.is_empty() {
        return Err(Box::new(FitError::filter(all, statuses, narrowed)));
    }
    if feasible.len() == 1 {
        return Ok(Placement {
            node: feasible[0].name.clone(),
            evaluated,
            feasible: 1,
        });
    }
    let mut totals = profile
        .score_nodes(pod, snapshot, &feasible)
        .map_err(|s| Box::new(FitError::error(s)))?;
    let scale = crate::framework::MAX_NODE_SCORE / crate::extender::MAX_EXTENDER_PRIORITY;
    for ext in &interested {
        match ext.prioritize(&pod.pod, &feasible).await {
            Ok(scores) => {
                for (t, n) in totals.iter_mut().zip(&feasible) {
                    *t += scores.get(&n.name).copied().unwrap_or(0) * scale;
                }
            }
            // Upstream ignores a failing prioritize call, ignorable or not.
            Err(e) => tracing::debug!(extender = ext.name(), error = %e, "prioritize failed"),
        }
    }
    Ok(Placement {
        node: select_host(&feasible, &totals),
        evaluated,
        feasible: feasible.len(),
    })
}
