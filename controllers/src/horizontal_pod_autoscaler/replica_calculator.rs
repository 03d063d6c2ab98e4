//! Upstream's replica calculator for resource metrics: the pods the target selects, grouped
//! into ready, unready (CPU only: not Ready, or Ready too recently for the sample to count),
//! missing (no sample) and ignored (deleted or failed); the usage ratio against the target
//! (a share of the requests, or an average value); a tolerance of 10% around 1; and the
//! conservative re-run that counts missing pods as at the target's edge and unready pods as
//! idle before it proposes a scale-up or down.

use std::collections::HashMap;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

/// Upstream's `--horizontal-pod-autoscaler-tolerance`.
const TOLERANCE: f64 = 0.1;
/// `--horizontal-pod-autoscaler-cpu-initialization-period`.
const CPU_INITIALIZATION: Duration = Duration::from_secs(300);
/// `--horizontal-pod-autoscaler-initial-readiness-delay`.
const INITIAL_READINESS_DELAY: Duration = Duration::from_secs(30);

/// What the calculator needs of one pod the target selects.
#[derive(Clone, Debug)]
pub struct PodFacts {
    pub name: String,
    pub phase: String,
    pub deleting: bool,
    pub start_time: Option<Timestamp>,
    /// The Ready condition: its status and when it last changed.
    pub ready: Option<(bool, Timestamp)>,
    /// The pod's request of the resource (of the one container, for a container metric);
    /// `Err(container)` names a container without one.
    pub request: Result<f64, String>,
}

/// One pod's sample from the metrics API.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub value: f64,
    pub at: Timestamp,
    pub window: Duration,
}

/// What a target asks for.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    /// `averageUtilization`, a percentage of the requests.
    Utilization(i32),
    /// `averageValue`, per pod, in the resource's unit (cores, bytes).
    AverageValue(f64),
}

/// The proposal and what was measured (the status's `current`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Proposal {
    pub replicas: i32,
    pub utilization: Option<i32>,
    /// The average usage per pod with a sample.
    pub average: f64,
}

fn add(d: Timestamp, by: Duration) -> Timestamp {
    d.checked_add(by).unwrap_or(d)
}

/// The usage ratio and the figures behind it over the pods of `samples`.
fn ratio(
    samples: &HashMap<String, f64>,
    requests: &HashMap<String, f64>,
    target: Target,
) -> Result<(f64, Option<i32>, f64), String> {
    let total: f64 = samples.values().sum();
    let average = if samples.is_empty() {
        0.0
    } else {
        total / samples.len() as f64
    };
    match target {
        Target::Utilization(t) => {
            let requested: f64 = samples.keys().filter_map(|p| requests.get(p)).sum();
            if requested <= 0.0 {
                return Err("no metrics returned matched known pods".into());
            }
            let utilization = (total * 100.0 / requested).floor() as i32;
            Ok((
                f64::from(utilization) / f64::from(t.max(1)),
                Some(utilization),
                average,
            ))
        }
        Target::AverageValue(v) if v > 0.0 => Ok((average / v, None, average)),
        Target::AverageValue(_) => Err("the target's average value must be positive".into()),
    }
}

/// Upstream's GetResourceReplicas (a utilization target) and GetRawResourceReplicas (an average
/// value): the replicas for `current` replicas whose pods are `pods` with `samples` by pod name.
pub fn replicas(
    current: i32,
    target: Target,
    cpu: bool,
    pods: &[PodFacts],
    samples: &HashMap<String, Sample>,
    now: Timestamp,
) -> Result<Proposal, String> {
    if samples.is_empty() {
        return Err("no metrics returned from resource metrics API".into());
    }
    if pods.is_empty() {
        return Err("no pods returned by selector while calculating replica count".into());
    }
    let mut ready_count = 0usize;
    let mut unready: Vec<&str> = Vec::new();
    let mut missing: Vec<&str> = Vec::new();
    let mut usable: HashMap<String, f64> = HashMap::new();
    for p in pods {
        if p.deleting || p.phase == "Failed" {
            continue;
        }
        if p.phase == "Pending" {
            unready.push(&p.name);
            continue;
        }
        let Some(sample) = samples.get(&p.name) else {
            missing.push(&p.name);
            continue;
        };
        let not_ready = cpu
            && match (p.ready, p.start_time) {
                (Some((status, changed)), Some(started)) => {
                    if add(started, CPU_INITIALIZATION) > now {
                        !status || sample.at < add(changed, sample.window)
                    } else {
                        !status && add(started, INITIAL_READINESS_DELAY) > changed
                    }
                }
                _ => true,
            };
        if not_ready {
            unready.push(&p.name);
            continue;
        }
        ready_count += 1;
        usable.insert(p.name.clone(), sample.value);
    }
    if usable.is_empty() {
        return Err("did not receive metrics for targeted pods (pods might be unready)".into());
    }
    let mut requests = HashMap::new();
    if let Target::Utilization(_) = target {
        for p in pods {
            match &p.request {
                Ok(r) => {
                    requests.insert(p.name.clone(), *r);
                }
                Err(container) => {
                    return Err(format!(
                        "missing request for {} in container {container} of Pod {}",
                        if cpu { "cpu" } else { "memory" },
                        p.name
                    ))
                }
            }
        }
    }
    let (usage_ratio, utilization, average) = ratio(&usable, &requests, target)?;
    let proposal = |replicas| Proposal {
        replicas,
        utilization,
        average,
    };
    let scale_up_with_unready = !unready.is_empty() && usage_ratio > 1.0;
    if !scale_up_with_unready && missing.is_empty() {
        if (1.0 - usage_ratio).abs() <= TOLERANCE {
            return Ok(proposal(current));
        }
        return Ok(proposal((usage_ratio * ready_count as f64).ceil() as i32));
    }
    // Missing pods count as at the target's edge, unready ones as idle: only a proposal that
    // still points the same way is taken.
    let mut conservative = usable.clone();
    for m in &missing {
        let edge = match target {
            _ if usage_ratio > 1.0 => 0.0,
            Target::Utilization(_) => requests.get(*m).copied().unwrap_or(0.0),
            Target::AverageValue(v) => v,
        };
        conservative.insert(m.to_string(), edge);
    }
    if scale_up_with_unready {
        for u in &unready {
            conservative.insert(u.to_string(), 0.0);
        }
    }
    let (new_ratio, _, _) = ratio(&conservative, &requests, target)?;
    if (1.0 - new_ratio).abs() <= TOLERANCE
        || (usage_ratio < 1.0 && new_ratio > 1.0)
        || (usage_ratio > 1.0 && new_ratio < 1.0)
    {
        return Ok(proposal(current));
    }
    let replicas = (new_ratio * conservative.len() as f64).ceil() as i32;
    if (new_ratio < 1.0 && replicas > current) || (new_ratio > 1.0 && replicas < current) {
        return Ok(proposal(current));
    }
    Ok(proposal(replicas))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-12-07T12:00:00Z".parse().unwrap()
    }

    fn running(name: &str, request: f64) -> PodFacts {
        let long_ago = now().checked_sub(Duration::from_secs(3600)).unwrap();
        PodFacts {
            name: name.into(),
            phase: "Running".into(),
            deleting: false,
            start_time: Some(long_ago),
            ready: Some((true, long_ago)),
            request: Ok(request),
        }
    }

    fn samples(values: &[(&str, f64)]) -> HashMap<String, Sample> {
        values
            .iter()
            .map(|(n, v)| {
                (
                    n.to_string(),
                    Sample {
                        value: *v,
                        at: now(),
                        window: Duration::from_secs(10),
                    },
                )
            })
            .collect()
    }

    #[test]
    fn utilization_above_the_target_scales_up_by_the_ratio() {
        let pods = [running("a", 0.1), running("b", 0.1)];
        // 300m of 200m requested: 150% against a target of 50%: 3 × 2 = 6.
        let p = replicas(
            2,
            Target::Utilization(50),
            true,
            &pods,
            &samples(&[("a", 0.15), ("b", 0.15)]),
            now(),
        )
        .unwrap();
        assert_eq!(p.replicas, 6);
        assert_eq!(p.utilization, Some(150));
    }

    #[test]
    fn within_the_tolerance_nothing_changes() {
        let pods = [running("a", 1.0)];
        let p = replicas(
            1,
            Target::Utilization(50),
            true,
            &pods,
            &samples(&[("a", 0.52)]),
            now(),
        )
        .unwrap();
        assert_eq!(p.replicas, 1);
    }

    #[test]
    fn average_values_and_scale_down() {
        let pods = [running("a", 0.0), running("b", 0.0), running("c", 0.0)];
        // 100 MB on average against 300 MB: a third of three pods.
        let p = replicas(
            3,
            Target::AverageValue(300e6),
            false,
            &pods,
            &samples(&[("a", 100e6), ("b", 100e6), ("c", 100e6)]),
            now(),
        )
        .unwrap();
        assert_eq!(p.replicas, 1);
    }

    #[test]
    fn missing_and_unready_pods_make_the_proposal_conservative() {
        // b has no sample: scaling down counts it at 100% of its request, which cancels it.
        let pods = [running("a", 1.0), running("b", 1.0)];
        let p = replicas(
            2,
            Target::Utilization(50),
            true,
            &pods,
            &samples(&[("a", 0.1)]),
            now(),
        )
        .unwrap();
        assert_eq!(p.replicas, 2);
        // c just started and is not ready: a scale-up counts it idle.
        let mut c = running("c", 1.0);
        c.start_time = Some(now());
        c.ready = Some((false, now()));
        let pods = [running("a", 1.0), c];
        let p = replicas(
            2,
            Target::Utilization(50),
            true,
            &pods,
            &samples(&[("a", 1.5), ("c", 1.5)]),
            now(),
        )
        .unwrap();
        // a alone is at 150% (3 × 1); with c idle, 75%: 1.5 × 2 = 3.
        assert_eq!(p.replicas, 3);
    }

    #[test]
    fn failures_say_what_is_missing() {
        let mut a = running("a", 0.0);
        a.request = Err("main".into());
        let e = replicas(
            1,
            Target::Utilization(50),
            true,
            &[a],
            &samples(&[("a", 0.1)]),
            now(),
        )
        .unwrap_err();
        assert_eq!(e, "missing request for cpu in container main of Pod a");
        assert_eq!(
            replicas(
                1,
                Target::Utilization(50),
                true,
                &[],
                &HashMap::new(),
                now()
            )
            .unwrap_err(),
            "no metrics returned from resource metrics API"
        );
    }
}
